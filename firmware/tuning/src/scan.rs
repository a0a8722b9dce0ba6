//! Scanning: finding every multiplex and service an input can receive, purely.
//!
//! A scan starts from a few known tunings (an initial-tuning file, or what the installer
//! typed) and tunes each in turn. On each multiplex it reads the tables: the PAT and PMTs
//! (which programs, which streams), the SDT (names, providers, service types), the NIT
//! (the network, and *every* multiplex of the network with its delivery parameters) and
//! any BAT (bouquets, often with channel numbers). The NIT's other multiplexes join the
//! queue, so one good starting frequency is usually enough to find a whole network.
//!
//! This module holds the parts that need no tuner and no clock:
//! - [`tuning_from_delivery`] and [`tunings_from_nit`]: NIT delivery descriptors to
//!   [`Tuning`]s;
//! - [`ScanQueue`]: the multiplexes to visit, deduplicated, bounded, with progress;
//! - [`mux_found`]: what one multiplex carries ([`MuxFound`], [`ServiceFound`]), built
//!   from the tables in a [`MuxModel`];
//! - [`scan_verdict`] and [`MuxWait`]: when the tables of one multiplex are in, or have
//!   been waited for long enough. The caller owns the clock and passes elapsed times.
//!
//! How long to wait follows the repetition rates broadcasters must keep (ETSI TR 101 211,
//! which EN 300 468 refers to; TR 101 290 checks them: PAT and PMT errors 1.3 and 1.5 past
//! 0.5 s, NIT 3.1 past 10 s, SDT 3.5 past 2 s). Once the PAT and every PMT it names are in,
//! one more SDT period (2 s) and NIT period (10 s) are enough to have seen every section of
//! those tables if they are sent at all; as their repetition started before the PAT was
//! complete, periods counted from then carry some margin.

use crate::params::{
    CodeRate, DeliverySystem, GuardInterval, Hierarchy, Modulation, Params, Polarisation, Rolloff,
    TransmissionMode, Tuning,
};
use dvbgate_ts::delivery::{self, Delivery};
use dvbgate_ts::mux::MuxModel;
use dvbgate_ts::tables::nit::{NetworkTable, TransportDetails};
use dvbgate_ts::tables::pmt::StreamKind;
use dvbgate_ts::tables::sdt::{ServiceKind, service_kind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

// --- delivery descriptors to tunings ------------------------------------------------------

/// The tuning a NIT delivery descriptor describes, for a tuner now on `scanning` (the
/// multiplex whose NIT it is).
///
/// Every field of the descriptor is carried over; those it leaves "not defined" or
/// "reserved" become `None` (AUTO). What a descriptor cannot say comes from `scanning`:
/// for satellite, the LNB and switch port (a network's other transponders come down the
/// same dish), for terrestrial a bandwidth the descriptor leaves reserved, for cable
/// whether it is Annex A or B.
///
/// `None` when the descriptor is of another medium than `scanning` (the tuner could not
/// receive it), when it gives no usable frequency (French DTT sends 0xFFFFFFFF: each
/// region's transmitters use their own), or when the result fails [`Tuning::validate`].
///
/// Two broadcaster habits are corrected: an 8PSK transponder flagged DVB-S is DVB-S2 (DVB-S
/// has only QPSK; seen on 13°E), and modulation code 11 ("16-QAM, n/a for DVB-S2") becomes
/// AUTO, which also lets a demodulator find 16APSK transponders signalled that way.
pub fn tuning_from_delivery(delivery: &Delivery, scanning: &Tuning) -> Option<Tuning> {
    let tuning = match delivery {
        Delivery::Terrestrial(t) => {
            if !scanning.system.is_terrestrial() {
                return None;
            }
            terrestrial(t, t.centre_frequency_hz?, scanning)
        }
        Delivery::T2(t) => {
            if !scanning.system.is_terrestrial() {
                return None;
            }
            t2(t, t.first_frequency_hz()?, scanning)
        }
        Delivery::Cable(c) => cable(c, scanning)?,
        Delivery::Satellite(s) => satellite(s, scanning)?,
    };
    tuning.validate().ok().map(|()| tuning)
}

/// The tuning of one NIT entry: its delivery descriptor per [`tuning_from_delivery`], and
/// for a terrestrial or T2 descriptor without a frequency, the first other frequency its
/// entry gives (a terrestrial descriptor's beside a short T2 one, or a frequency list).
pub fn tuning_from_transport(transport: &TransportDetails, scanning: &Tuning) -> Option<Tuning> {
    let delivery = transport.delivery()?;
    if let Some(t) = tuning_from_delivery(delivery, scanning) {
        return Some(t);
    }
    if !scanning.system.is_terrestrial() {
        return None;
    }
    let fallback = transport
        .deliveries
        .iter()
        .find_map(|d| match d {
            Delivery::Terrestrial(t) => t.centre_frequency_hz,
            _ => None,
        })
        .or_else(|| transport.other_frequencies_hz.first().copied())?;
    let tuning = match delivery {
        Delivery::Terrestrial(t) => terrestrial(t, fallback, scanning),
        Delivery::T2(t) => t2(t, fallback, scanning),
        _ => return None,
    };
    tuning.validate().ok().map(|()| tuning)
}

/// The tunings of every multiplex a NIT lists, for a tuner now on `scanning`, in NIT
/// order. `own` is `(transport_stream_id, original_network_id)` of the multiplex being
/// scanned, when known.
///
/// A satellite NIT may list transponders of other orbital positions (a platform spread
/// over two satellites); they are not on this dish, so when the NIT says where our own
/// transponder is, entries at another position are left out.
pub fn tunings_from_nit(
    nit: &NetworkTable,
    scanning: &Tuning,
    own: Option<(u16, u16)>,
) -> Vec<Tuning> {
    let position = |t: &TransportDetails| match t.delivery() {
        Some(Delivery::Satellite(s)) if s.orbital_position.tenths != 0 => {
            Some(s.orbital_position.signed_tenths())
        }
        _ => None,
    };
    let own_position = own
        .and_then(|(tsid, onid)| nit.transport(tsid, Some(onid)))
        .and_then(position);
    nit.transports
        .iter()
        .filter(|t| match (own_position, position(t)) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        })
        .filter_map(|t| tuning_from_transport(t, scanning))
        .collect()
}

fn code_rate(c: delivery::CodeRate) -> CodeRate {
    match c {
        delivery::CodeRate::R1_2 => CodeRate::R1_2,
        delivery::CodeRate::R2_3 => CodeRate::R2_3,
        delivery::CodeRate::R3_4 => CodeRate::R3_4,
        delivery::CodeRate::R3_5 => CodeRate::R3_5,
        delivery::CodeRate::R4_5 => CodeRate::R4_5,
        delivery::CodeRate::R5_6 => CodeRate::R5_6,
        delivery::CodeRate::R7_8 => CodeRate::R7_8,
        delivery::CodeRate::R8_9 => CodeRate::R8_9,
        delivery::CodeRate::R9_10 => CodeRate::R9_10,
        delivery::CodeRate::NoConvolutionalCoding => CodeRate::None,
    }
}

fn guard_interval(g: delivery::GuardInterval) -> GuardInterval {
    match g {
        delivery::GuardInterval::G1_32 => GuardInterval::G1_32,
        delivery::GuardInterval::G1_16 => GuardInterval::G1_16,
        delivery::GuardInterval::G1_8 => GuardInterval::G1_8,
        delivery::GuardInterval::G1_4 => GuardInterval::G1_4,
        delivery::GuardInterval::G1_128 => GuardInterval::G1_128,
        delivery::GuardInterval::G19_128 => GuardInterval::G19_128,
        delivery::GuardInterval::G19_256 => GuardInterval::G19_256,
    }
}

fn transmission_mode(m: delivery::TransmissionMode) -> TransmissionMode {
    match m {
        delivery::TransmissionMode::K1 => TransmissionMode::K1,
        delivery::TransmissionMode::K2 => TransmissionMode::K2,
        delivery::TransmissionMode::K4 => TransmissionMode::K4,
        delivery::TransmissionMode::K8 => TransmissionMode::K8,
        delivery::TransmissionMode::K16 => TransmissionMode::K16,
        delivery::TransmissionMode::K32 => TransmissionMode::K32,
    }
}

/// A bandwidth the descriptor does not give: the scanning multiplex's (one network uses
/// one channel raster), else 8 MHz (UHF, most of the world).
fn fallback_bandwidth(scanning: &Tuning) -> u32 {
    match scanning.params {
        Params::Terrestrial { bandwidth_hz, .. } => bandwidth_hz,
        _ => 8_000_000,
    }
}

fn terrestrial(t: &delivery::TerrestrialDelivery, frequency_hz: u64, scanning: &Tuning) -> Tuning {
    let hierarchical = t.hierarchy.alpha.is_some();
    Tuning {
        system: DeliverySystem::DvbT,
        frequency_hz,
        params: Params::Terrestrial {
            bandwidth_hz: t
                .bandwidth_hz
                .unwrap_or_else(|| fallback_bandwidth(scanning)),
            modulation: t.constellation.map(|c| match c {
                delivery::Constellation::Qpsk => Modulation::Qpsk,
                delivery::Constellation::Qam16 => Modulation::Qam16,
                delivery::Constellation::Qam64 => Modulation::Qam64,
            }),
            code_rate_hp: t.code_rate_hp.map(code_rate),
            // The low-priority stream exists only in hierarchical modes; otherwise the
            // field is meaningless and the driver wants AUTO.
            code_rate_lp: t.code_rate_lp.filter(|_| hierarchical).map(code_rate),
            transmission_mode: t.transmission_mode.map(transmission_mode),
            guard_interval: Some(guard_interval(t.guard_interval)),
            hierarchy: Some(match t.hierarchy.alpha {
                None => Hierarchy::None,
                Some(1) => Hierarchy::H1,
                Some(2) => Hierarchy::H2,
                Some(_) => Hierarchy::H4,
            }),
            plp_id: None,
        },
    }
}

fn t2(t: &delivery::T2Delivery, frequency_hz: u64, scanning: &Tuning) -> Tuning {
    let details = t.details.as_ref();
    Tuning {
        system: DeliverySystem::DvbT2,
        frequency_hz,
        params: Params::Terrestrial {
            bandwidth_hz: details
                .and_then(|d| d.bandwidth_hz)
                .unwrap_or_else(|| fallback_bandwidth(scanning)),
            // DVB-T2 signals its modulation and code rates per PLP in L1, not in the NIT.
            modulation: None,
            code_rate_hp: None,
            code_rate_lp: None,
            transmission_mode: details
                .and_then(|d| d.transmission_mode)
                .map(transmission_mode),
            guard_interval: details.and_then(|d| d.guard_interval).map(guard_interval),
            hierarchy: None,
            plp_id: Some(t.plp_id),
        },
    }
}

fn cable(c: &delivery::CableDelivery, scanning: &Tuning) -> Option<Tuning> {
    if !scanning.system.is_cable() {
        return None;
    }
    Some(Tuning {
        system: scanning.system,
        frequency_hz: c.frequency_hz,
        params: Params::Cable {
            symbol_rate: c.symbol_rate,
            modulation: c.modulation.map(|m| match m {
                delivery::CableModulation::Qam16 => Modulation::Qam16,
                delivery::CableModulation::Qam32 => Modulation::Qam32,
                delivery::CableModulation::Qam64 => Modulation::Qam64,
                delivery::CableModulation::Qam128 => Modulation::Qam128,
                delivery::CableModulation::Qam256 => Modulation::Qam256,
            }),
            fec: c.fec_inner.map(code_rate),
        },
    })
}

fn satellite(s: &delivery::SatelliteDelivery, scanning: &Tuning) -> Option<Tuning> {
    let Params::Satellite { lnb, switch, .. } = scanning.params else {
        return None;
    };
    let s2 = s.dvb_s2 || s.modulation == delivery::SatelliteModulation::Psk8;
    Some(Tuning {
        system: if s2 {
            DeliverySystem::DvbS2
        } else {
            DeliverySystem::DvbS
        },
        frequency_hz: s.frequency_hz,
        params: Params::Satellite {
            polarisation: match s.polarisation {
                delivery::Polarisation::LinearHorizontal => Polarisation::H,
                delivery::Polarisation::LinearVertical => Polarisation::V,
                delivery::Polarisation::CircularLeft => Polarisation::L,
                delivery::Polarisation::CircularRight => Polarisation::R,
            },
            symbol_rate: s.symbol_rate,
            fec: s.fec_inner.map(code_rate),
            modulation: match s.modulation {
                delivery::SatelliteModulation::Qpsk => Some(Modulation::Qpsk),
                delivery::SatelliteModulation::Psk8 => Some(Modulation::Psk8),
                delivery::SatelliteModulation::Auto | delivery::SatelliteModulation::Qam16 => None,
            },
            // DVB-S is always 0.35; its descriptor's roll-off bits are "00" or noise.
            rolloff: if s2 {
                s.roll_off.map(|r| match r {
                    delivery::RollOff::R35 => Rolloff::R35,
                    delivery::RollOff::R25 => Rolloff::R25,
                    delivery::RollOff::R20 => Rolloff::R20,
                })
            } else {
                Some(Rolloff::R35)
            },
            // The satellite descriptor cannot name a multistream; the S2 descriptor (0x79)
            // can, and is not read yet.
            stream_id: None,
            lnb,
            switch,
        },
    })
}

// --- the queue ----------------------------------------------------------------------------

/// How many multiplexes a scan queue holds by default: more than any satellite position
/// carries (about 200 transponders at 19.2°E), so only a broken or hostile NIT reaches it.
pub const DEFAULT_QUEUE_CAPACITY: usize = 512;

/// One multiplex of a scan queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMux {
    pub tuning: Tuning,
    /// The multiplex whose NIT named it; `None` for the initial tunings.
    pub discovered_from: Option<Tuning>,
}

/// What [`ScanQueue::push_discovered`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    Added,
    /// The same multiplex ([`Tuning::same_multiplex`]) is already queued or scanned.
    Known,
    /// Another medium than the multiplex it was found on: this tuner cannot receive it.
    OtherMedium,
    /// The queue is at its capacity; the tuning was dropped (and counted).
    Full,
}

/// A scan's progress, for a progress bar: `done` of `total_known`, which grows as NITs
/// name more multiplexes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanProgress {
    /// Multiplexes handed out by [`ScanQueue::next`] (scanned, or being scanned).
    pub done: usize,
    pub total_known: usize,
    /// Discovered multiplexes dropped because the queue was full.
    pub dropped: usize,
}

/// The multiplexes a scan visits, in order: the initial tunings, then those NITs name as
/// they are found. Each multiplex is in it once, whichever tuning reached it first.
#[derive(Clone, Debug)]
pub struct ScanQueue {
    entries: Vec<QueuedMux>,
    next: usize,
    capacity: usize,
    dropped: usize,
}

impl ScanQueue {
    /// A queue of [`DEFAULT_QUEUE_CAPACITY`] seeded with `initial` (duplicates dropped).
    pub fn new(initial: impl IntoIterator<Item = Tuning>) -> Self {
        Self::with_capacity(DEFAULT_QUEUE_CAPACITY, initial)
    }

    pub fn with_capacity(capacity: usize, initial: impl IntoIterator<Item = Tuning>) -> Self {
        let mut q = ScanQueue {
            entries: Vec::new(),
            next: 0,
            capacity,
            dropped: 0,
        };
        for tuning in initial {
            q.push(tuning, None);
        }
        q
    }

    fn push(&mut self, tuning: Tuning, discovered_from: Option<Tuning>) -> PushOutcome {
        if self
            .entries
            .iter()
            .any(|e| e.tuning.same_multiplex(&tuning))
        {
            return PushOutcome::Known;
        }
        if self.entries.len() >= self.capacity {
            self.dropped += 1;
            return PushOutcome::Full;
        }
        self.entries.push(QueuedMux {
            tuning,
            discovered_from,
        });
        PushOutcome::Added
    }

    /// Queues a multiplex the tables of `from` named (see [`tunings_from_nit`]).
    pub fn push_discovered(&mut self, from: &Tuning, found: Tuning) -> PushOutcome {
        let medium = |s: DeliverySystem| (s.is_terrestrial(), s.is_cable(), s.is_satellite());
        if medium(from.system) != medium(found.system) {
            return PushOutcome::OtherMedium;
        }
        self.push(found, Some(*from))
    }

    /// The next multiplex to scan.
    #[allow(clippy::should_implement_trait)] // a queue that grows while it is walked
    pub fn next(&mut self) -> Option<Tuning> {
        let t = self.entries.get(self.next)?.tuning;
        self.next += 1;
        Some(t)
    }

    /// Multiplexes handed out by [`Self::next`].
    pub fn done(&self) -> usize {
        self.next
    }

    /// Multiplexes queued, scanned or not.
    pub fn total_known(&self) -> usize {
        self.entries.len()
    }

    pub fn progress(&self) -> ScanProgress {
        ScanProgress {
            done: self.done(),
            total_known: self.total_known(),
            dropped: self.dropped,
        }
    }

    /// Every multiplex, in scan order.
    pub fn entries(&self) -> &[QueuedMux] {
        &self.entries
    }
}

// --- what a multiplex carries -------------------------------------------------------------

/// One multiplex as a scan found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuxFound {
    /// The tuning the scan locked on.
    pub tuning: Tuning,
    /// From the NIT actual, if one came.
    pub network_id: Option<u16>,
    /// From the NIT actual; empty if none or unnamed.
    pub network_name: String,
    /// From the SDT actual, else from our entry in the NIT.
    pub original_network_id: Option<u16>,
    /// From the PAT.
    pub transport_stream_id: u16,
    /// The programs of the PAT, by service id.
    pub services: Vec<ServiceFound>,
}

/// One service of a multiplex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFound {
    /// The program number of the PAT.
    pub service_id: u16,
    /// From the SDT; empty if none.
    pub name: String,
    /// From the SDT; empty if none.
    pub provider: String,
    /// The service type (EN 300 468 Table 87) from the SDT, else from the NIT's service
    /// list.
    pub service_type: Option<u8>,
    /// From the service type (HD, H.264 and HEVC types included); without one, or with a
    /// user-defined one (0x80 and up), from the PMT's streams: video is TV, audio alone is
    /// radio.
    pub kind: ServiceKind,
    /// The SDT's free_CA_mode, or CA descriptors in the PMT.
    pub scrambled: bool,
    /// The visible logical channel number from our entry of the NIT actual, else from a
    /// bouquet (the lowest bouquet id that numbers it). 0 and hidden numbers are not
    /// numbers a viewer can use, and are left out.
    pub lcn: Option<u16>,
    pub pmt_pid: Option<u16>,
    /// None when the PMT names none (0x1FFF) or has not come.
    pub pcr_pid: Option<u16>,
    pub has_video: bool,
    pub has_audio: bool,
}

/// What one multiplex carries, from the tables in `model`; `None` before a complete PAT.
pub fn mux_found(model: &MuxModel, tuning: Tuning) -> Option<MuxFound> {
    let tsid = model.transport_stream_id()?;
    let nit = model.nit();
    let onid = model.original_network_id().or_else(|| {
        // Without an SDT, our NIT entry can say, if only one entry has our tsid.
        let mut ours = nit?
            .transports
            .iter()
            .filter(|t| t.transport_stream_id == tsid);
        let first = ours.next()?;
        ours.next().is_none().then_some(first.original_network_id)
    });
    let own_entry = nit.and_then(|n| n.transport(tsid, onid));
    let usable = |c: dvbgate_ts::descriptor::LogicalChannel| {
        (c.visible && c.number != 0).then_some(c.number)
    };
    let services = model
        .programs()
        .iter()
        .map(|(&service_id, &pmt_pid)| {
            let sdt = model.sdt(service_id);
            let pmt = model.pmt(service_id);
            let service_type = sdt
                .map(|s| s.service_type)
                .filter(|&t| t != 0)
                .or_else(|| own_entry.and_then(|t| t.service_type(service_id)));
            let has = |kind| pmt.is_some_and(|p| p.streams.iter().any(|s| s.kind == kind));
            let (has_video, has_audio) = (has(StreamKind::Video), has(StreamKind::Audio));
            let kind = match service_type.map(service_kind) {
                Some(ServiceKind::Other) if service_type >= Some(0x80) => None,
                known => known,
            }
            .unwrap_or(match pmt {
                Some(_) if has_video => ServiceKind::Tv,
                Some(_) if has_audio => ServiceKind::Radio,
                Some(_) => ServiceKind::Data,
                None => ServiceKind::Other,
            });
            let lcn = own_entry
                .and_then(|t| t.logical_channel(service_id))
                .and_then(usable)
                .or_else(|| {
                    model.bouquets().find_map(|b| {
                        b.transport(tsid, onid)?
                            .logical_channel(service_id)
                            .and_then(usable)
                    })
                });
            ServiceFound {
                service_id,
                name: sdt.map(|s| s.name.clone()).unwrap_or_default(),
                provider: sdt.map(|s| s.provider.clone()).unwrap_or_default(),
                service_type,
                kind,
                scrambled: sdt.is_some_and(|s| s.free_ca_mode) || pmt.is_some_and(|p| p.has_ca()),
                lcn,
                pmt_pid: Some(pmt_pid),
                pcr_pid: pmt.map(|p| p.pcr_pid).filter(|&p| p != 0x1FFF),
                has_video,
                has_audio,
            }
        })
        .collect();
    Some(MuxFound {
        tuning,
        network_id: nit.map(|n| n.id),
        network_name: nit.and_then(|n| n.name.clone()).unwrap_or_default(),
        original_network_id: onid,
        transport_stream_id: tsid,
        services,
    })
}

// --- when the tables are in ---------------------------------------------------------------

/// Which of the tables a scan waits for have arrived on one multiplex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablesSeen {
    /// A complete PAT (every section).
    pub pat: bool,
    /// Programs the PAT names.
    pub programs: usize,
    /// Of those, programs whose PMT has come.
    pub pmts: usize,
    /// Every section of the SDT actual.
    pub sdt: bool,
    /// Every section of the NIT actual.
    pub nit: bool,
}

impl TablesSeen {
    pub fn of(model: &MuxModel) -> Self {
        let programs = model.programs();
        TablesSeen {
            pat: model.pat_version().is_some(),
            programs: programs.len(),
            pmts: programs.keys().filter(|&&p| model.pmt(p).is_some()).count(),
            sdt: model.sdt_complete(),
            nit: model.nit().is_some_and(|n| n.complete),
        }
    }

    /// The PAT and every PMT it names.
    pub fn psi_complete(&self) -> bool {
        self.pat && self.pmts == self.programs
    }

    pub fn all(&self) -> bool {
        self.psi_complete() && self.sdt && self.nit
    }
}

/// How long a scan waits for each table of a multiplex (see the module docs for why).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanTimeouts {
    /// For the PAT and every PMT, from the first packet. TR 101 290 wants each every
    /// 0.5 s; this tolerates sparse ones and a slow start.
    pub psi: Duration,
    /// For the SDT actual, once the PAT and PMTs are in (or their wait is over).
    pub sdt: Duration,
    /// For the NIT actual, likewise.
    pub nit: Duration,
}

impl Default for ScanTimeouts {
    fn default() -> Self {
        ScanTimeouts {
            psi: Duration::from_secs(5),
            sdt: Duration::from_secs(2),
            nit: Duration::from_secs(10),
        }
    }
}

/// Whether to keep waiting for a multiplex's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitVerdict {
    Wait,
    /// Stop: everything is in, or has been waited for. The tables seen say what is
    /// missing (a multiplex without a PAT has nothing to scan).
    Done(TablesSeen),
}

/// Whether the tables of a multiplex are in, or waited for long enough, with times the
/// caller measures: `since_data` since the multiplex's first packet reached the model,
/// `since_psi` since the PAT and every PMT were first all in (`None` while they are not).
///
/// BATs are not waited for: they are optional, and nothing says how many bouquets there
/// are. They repeat like the NIT (every 10 s), so a bouquet is usually in by the time the
/// NIT is, and [`mux_found`] uses the channel numbers of those that are.
pub fn scan_verdict(
    seen: TablesSeen,
    since_data: Duration,
    since_psi: Option<Duration>,
    timeouts: &ScanTimeouts,
) -> WaitVerdict {
    if seen.all() {
        return WaitVerdict::Done(seen);
    }
    // The SDT and NIT waits count from when the PSI was in, or from the end of its wait.
    let after_psi = match since_psi {
        Some(t) if seen.psi_complete() => t,
        _ => match since_data.checked_sub(timeouts.psi) {
            Some(t) => t,
            None => return WaitVerdict::Wait,
        },
    };
    if !seen.pat {
        return WaitVerdict::Done(seen);
    }
    let sdt_over = seen.sdt || after_psi >= timeouts.sdt;
    let nit_over = seen.nit || after_psi >= timeouts.nit;
    if sdt_over && nit_over {
        WaitVerdict::Done(seen)
    } else {
        WaitVerdict::Wait
    }
}

/// [`scan_verdict`] with the moment the PSI was complete remembered: poll it with the
/// model and the time since the first packet, as often as convenient.
#[derive(Clone, Copy, Debug, Default)]
pub struct MuxWait {
    pub timeouts: ScanTimeouts,
    psi_at: Option<Duration>,
}

impl MuxWait {
    pub fn new(timeouts: ScanTimeouts) -> Self {
        MuxWait {
            timeouts,
            psi_at: None,
        }
    }

    pub fn poll(&mut self, model: &MuxModel, since_data: Duration) -> WaitVerdict {
        let seen = TablesSeen::of(model);
        if seen.psi_complete() {
            self.psi_at.get_or_insert(since_data);
        } else {
            self.psi_at = None; // a new PAT named a program whose PMT is not in yet
        }
        let since_psi = self.psi_at.map(|at| since_data.saturating_sub(at));
        scan_verdict(seen, since_data, since_psi, &self.timeouts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{Lnb, Switch};
    use dvbgate_ts::delivery::{
        CableDelivery, CableModulation, Constellation, OrbitalPosition, SatelliteDelivery,
        SatelliteModulation, T2Delivery, T2Details, TerrestrialDelivery,
    };
    use dvbgate_ts::section::Section;
    use dvbgate_ts::tables::{bat, nit, pat, pmt, sdt};

    fn url(u: &str) -> Tuning {
        u.parse().unwrap_or_else(|e| panic!("{u}: {e}"))
    }

    fn dish() -> Tuning {
        url(
            "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&lnb=9750MHz,10600MHz,11700MHz&diseqc=3&burst=b",
        )
    }

    fn satellite_delivery(frequency_hz: u64, tenths: u16) -> SatelliteDelivery {
        SatelliteDelivery {
            frequency_hz,
            orbital_position: OrbitalPosition { tenths, east: true },
            polarisation: delivery::Polarisation::LinearVertical,
            dvb_s2: false,
            roll_off: Some(delivery::RollOff::R35),
            modulation: SatelliteModulation::Qpsk,
            symbol_rate: 27_500_000,
            fec_inner: Some(delivery::CodeRate::R3_4),
        }
    }

    fn french_terrestrial() -> TerrestrialDelivery {
        TerrestrialDelivery {
            centre_frequency_hz: Some(586_166_000),
            bandwidth_hz: Some(8_000_000),
            high_priority: true,
            time_slicing: false,
            mpe_fec: false,
            constellation: Some(Constellation::Qam64),
            hierarchy: delivery::Hierarchy {
                alpha: None,
                in_depth_interleaver: false,
            },
            code_rate_hp: Some(delivery::CodeRate::R3_4),
            code_rate_lp: Some(delivery::CodeRate::R1_2),
            guard_interval: delivery::GuardInterval::G1_32,
            transmission_mode: Some(delivery::TransmissionMode::K8),
            other_frequency: false,
        }
    }

    #[test]
    fn terrestrial_descriptor_maps_every_field() {
        let scanning = url("dvb-t://474MHz?bandwidth=7MHz");
        let t =
            tuning_from_delivery(&Delivery::Terrestrial(french_terrestrial()), &scanning).unwrap();
        assert_eq!(
            t,
            Tuning {
                system: DeliverySystem::DvbT,
                frequency_hz: 586_166_000,
                params: Params::Terrestrial {
                    bandwidth_hz: 8_000_000,
                    modulation: Some(Modulation::Qam64),
                    code_rate_hp: Some(CodeRate::R3_4),
                    code_rate_lp: None, // not hierarchical: the LP rate is meaningless
                    transmission_mode: Some(TransmissionMode::K8),
                    guard_interval: Some(GuardInterval::G1_32),
                    hierarchy: Some(Hierarchy::None),
                    plp_id: None,
                },
            }
        );
        // Reserved values become AUTO; a reserved bandwidth is the scanning multiplex's.
        let mut d = french_terrestrial();
        d.bandwidth_hz = None;
        d.constellation = None;
        d.code_rate_hp = None;
        d.transmission_mode = None;
        d.hierarchy.alpha = Some(4);
        let t = tuning_from_delivery(&Delivery::Terrestrial(d), &scanning).unwrap();
        let Params::Terrestrial {
            bandwidth_hz,
            modulation,
            code_rate_hp,
            code_rate_lp,
            transmission_mode,
            hierarchy,
            ..
        } = t.params
        else {
            panic!("{t:?}")
        };
        assert_eq!(bandwidth_hz, 7_000_000);
        assert_eq!(
            (modulation, code_rate_hp, transmission_mode),
            (None, None, None)
        );
        assert_eq!(code_rate_lp, Some(CodeRate::R1_2), "hierarchical: LP kept");
        assert_eq!(hierarchy, Some(Hierarchy::H4));
        // No frequency (French DTT), or a descriptor of another medium: nothing to tune.
        let mut d = french_terrestrial();
        d.centre_frequency_hz = None;
        assert_eq!(
            tuning_from_delivery(&Delivery::Terrestrial(d), &scanning),
            None
        );
        assert_eq!(
            tuning_from_delivery(&Delivery::Terrestrial(french_terrestrial()), &dish()),
            None
        );
        // A frequency no terrestrial channel has fails validation.
        let mut d = french_terrestrial();
        d.centre_frequency_hz = Some(5_000_000);
        assert_eq!(
            tuning_from_delivery(&Delivery::Terrestrial(d), &scanning),
            None
        );
    }

    #[test]
    fn t2_descriptor_and_its_frequency_fallbacks() {
        let scanning = url("dvb-t2://474MHz?bandwidth=8MHz&plp=0");
        let long = T2Delivery {
            plp_id: 2,
            t2_system_id: 0x3001,
            details: Some(T2Details {
                siso_miso: Some(delivery::SisoMiso::Siso),
                bandwidth_hz: Some(1_712_000),
                guard_interval: Some(delivery::GuardInterval::G19_256),
                transmission_mode: Some(delivery::TransmissionMode::K32),
                other_frequency: false,
                tfs: false,
                cells: vec![delivery::T2Cell {
                    cell_id: 1,
                    centre_frequencies_hz: vec![218_640_000],
                    subcells: vec![],
                }],
            }),
        };
        let t = tuning_from_delivery(&Delivery::T2(long), &scanning).unwrap();
        assert_eq!(t.to_string(), url(&t.to_string()).to_string());
        assert_eq!(
            t,
            Tuning {
                system: DeliverySystem::DvbT2,
                frequency_hz: 218_640_000,
                params: Params::Terrestrial {
                    bandwidth_hz: 1_712_000,
                    modulation: None,
                    code_rate_hp: None,
                    code_rate_lp: None,
                    transmission_mode: Some(TransmissionMode::K32),
                    guard_interval: Some(GuardInterval::G19_256),
                    hierarchy: None,
                    plp_id: Some(2),
                },
            }
        );
        // The short form has no frequency: the entry's terrestrial descriptor, else its
        // frequency list, gives one.
        let short = Delivery::T2(T2Delivery {
            plp_id: 1,
            t2_system_id: 0x3001,
            details: None,
        });
        assert_eq!(tuning_from_delivery(&short, &scanning), None);
        let mut entry = TransportDetails {
            transport_stream_id: 1,
            original_network_id: 0x233A,
            delivery_system: Some("DVB-T2"),
            deliveries: vec![Delivery::Terrestrial(french_terrestrial()), short.clone()],
            other_frequencies_hz: vec![530_000_000],
            services: vec![],
            logical_channels: vec![],
        };
        let t = tuning_from_transport(&entry, &scanning).unwrap();
        assert_eq!(t.system, DeliverySystem::DvbT2, "the T2 descriptor wins");
        assert_eq!(t.frequency_hz, 586_166_000);
        entry.deliveries = vec![short];
        let t = tuning_from_transport(&entry, &scanning).unwrap();
        assert_eq!(t.frequency_hz, 530_000_000);
        assert!(matches!(
            t.params,
            Params::Terrestrial {
                bandwidth_hz: 8_000_000,
                plp_id: Some(1),
                ..
            }
        ));
    }

    #[test]
    fn cable_descriptor_keeps_the_annex_of_the_scanning_multiplex() {
        let c = Delivery::Cable(CableDelivery {
            frequency_hz: 346_000_000,
            fec_outer: Some(delivery::OuterFec::Rs204_188),
            modulation: Some(CableModulation::Qam256),
            symbol_rate: 6_900_000,
            fec_inner: Some(delivery::CodeRate::NoConvolutionalCoding),
        });
        let scanning = url("dvb-c://474MHz?symbol_rate=6875000&modulation=qam64");
        assert_eq!(
            tuning_from_delivery(&c, &scanning).unwrap(),
            url("dvb-c://346MHz?symbol_rate=6900000&modulation=qam256&fec=none")
        );
        assert_eq!(tuning_from_delivery(&c, &dish()), None);
        let zero_rate = Delivery::Cable(CableDelivery {
            frequency_hz: 346_000_000,
            fec_outer: None,
            modulation: None,
            symbol_rate: 0,
            fec_inner: None,
        });
        assert_eq!(tuning_from_delivery(&zero_rate, &scanning), None);
    }

    #[test]
    fn satellite_descriptor_takes_the_dish_of_the_scanning_multiplex() {
        let scanning = dish();
        let t = tuning_from_delivery(
            &Delivery::Satellite(satellite_delivery(11_919_000_000, 130)),
            &scanning,
        )
        .unwrap();
        let Params::Satellite { lnb, switch, .. } = scanning.params else {
            unreachable!()
        };
        assert_eq!(
            t,
            Tuning {
                system: DeliverySystem::DvbS,
                frequency_hz: 11_919_000_000,
                params: Params::Satellite {
                    polarisation: Polarisation::V,
                    symbol_rate: 27_500_000,
                    fec: Some(CodeRate::R3_4),
                    modulation: Some(Modulation::Qpsk),
                    rolloff: Some(Rolloff::R35),
                    stream_id: None,
                    lnb,
                    switch,
                },
            }
        );
        assert_eq!(
            lnb,
            Lnb::Dual {
                low_lo_hz: 9_750_000_000,
                high_lo_hz: 10_600_000_000,
                switch_hz: 11_700_000_000
            }
        );
        assert_eq!(
            switch,
            Switch {
                committed: Some(2),
                uncommitted: None,
                tone_burst: Some(true)
            }
        );

        // 8PSK flagged DVB-S is DVB-S2; S2 roll-off is kept; "16-QAM" is AUTO.
        let mut d = satellite_delivery(12_012_000_000, 130);
        d.modulation = SatelliteModulation::Psk8;
        d.roll_off = Some(delivery::RollOff::R20);
        d.polarisation = delivery::Polarisation::CircularLeft;
        let t = tuning_from_delivery(&Delivery::Satellite(d), &scanning).unwrap();
        assert_eq!(t.system, DeliverySystem::DvbS2);
        assert!(matches!(
            t.params,
            Params::Satellite {
                polarisation: Polarisation::L,
                modulation: Some(Modulation::Psk8),
                rolloff: Some(Rolloff::R20),
                ..
            }
        ));
        let mut d = satellite_delivery(12_012_000_000, 130);
        d.dvb_s2 = true;
        d.modulation = SatelliteModulation::Qam16;
        d.roll_off = None;
        let t = tuning_from_delivery(&Delivery::Satellite(d), &scanning).unwrap();
        assert!(matches!(
            t.params,
            Params::Satellite {
                modulation: None,
                rolloff: None,
                ..
            }
        ));
        // Not from a terrestrial scan (no dish), and not at an impossible frequency.
        let d = Delivery::Satellite(satellite_delivery(11_919_000_000, 130));
        assert_eq!(
            tuning_from_delivery(&d, &url("dvb-t://474MHz?bandwidth=8MHz")),
            None
        );
        let d = Delivery::Satellite(satellite_delivery(0, 130));
        assert_eq!(tuning_from_delivery(&d, &scanning), None);
    }

    fn sat_entry(tsid: u16, frequency_hz: u64, tenths: u16) -> TransportDetails {
        TransportDetails {
            transport_stream_id: tsid,
            original_network_id: 1,
            delivery_system: Some("DVB-S"),
            deliveries: vec![Delivery::Satellite(satellite_delivery(
                frequency_hz,
                tenths,
            ))],
            other_frequencies_hz: vec![],
            services: vec![],
            logical_channels: vec![],
        }
    }

    #[test]
    fn nit_tunings_stay_on_our_orbital_position() {
        let nit = NetworkTable {
            id: 1,
            version: 0,
            name: Some("ASTRA".into()),
            transports: vec![
                sat_entry(1, 11_362_000_000, 192),
                sat_entry(2, 11_494_000_000, 192),
                sat_entry(3, 11_538_000_000, 235), // 23.5°E: another dish
                sat_entry(4, 12_000_000_000, 0),   // position unknown: kept
            ],
            complete: true,
            truncated: false,
        };
        let freqs = |own| {
            tunings_from_nit(&nit, &dish(), own)
                .iter()
                .map(|t| t.frequency_hz / 1_000_000)
                .collect::<Vec<_>>()
        };
        assert_eq!(freqs(Some((1, 1))), vec![11_362, 11_494, 12_000]);
        // Where we are is unknown (our entry is in a section not yet seen): all kept.
        assert_eq!(freqs(Some((9, 1))), vec![11_362, 11_494, 11_538, 12_000]);
        assert_eq!(freqs(None).len(), 4);
    }

    #[test]
    fn queue_dedupes_keeps_order_and_is_bounded() {
        let t = |mhz: u64| url(&format!("dvb-t://{mhz}MHz?bandwidth=8MHz"));
        let mut q = ScanQueue::with_capacity(4, [t(474), t(482), t(474)]);
        assert_eq!(
            q.progress(),
            ScanProgress {
                done: 0,
                total_known: 2,
                dropped: 0
            }
        );
        let first = q.next().unwrap();
        assert_eq!(first, t(474));
        // The NIT of 474 MHz names itself (at a transmitter offset), 482 and 490 MHz.
        assert_eq!(
            q.push_discovered(&first, url("dvb-t2://474.166MHz?bandwidth=8MHz")),
            PushOutcome::Known
        );
        assert_eq!(q.push_discovered(&first, t(482)), PushOutcome::Known);
        assert_eq!(q.push_discovered(&first, t(490)), PushOutcome::Added);
        assert_eq!(
            q.push_discovered(&first, url("dvb-c://346MHz?symbol_rate=6900000")),
            PushOutcome::OtherMedium
        );
        assert_eq!(q.push_discovered(&first, t(498)), PushOutcome::Added);
        assert_eq!(q.push_discovered(&first, t(506)), PushOutcome::Full);
        assert_eq!(
            q.progress(),
            ScanProgress {
                done: 1,
                total_known: 4,
                dropped: 1
            }
        );
        let rest: Vec<u64> = std::iter::from_fn(|| q.next())
            .map(|t| t.frequency_hz / 1_000_000)
            .collect();
        assert_eq!(rest, vec![482, 490, 498]);
        assert_eq!(q.done(), q.total_known());
        assert_eq!(q.entries()[2].discovered_from, Some(t(474)));
        assert_eq!(q.entries()[1].discovered_from, None);
        // Satellite: the same frequency on the other polarisation is another multiplex.
        let mut q = ScanQueue::new([dish()]);
        let mut other = dish();
        if let Params::Satellite { polarisation, .. } = &mut other.params {
            *polarisation = Polarisation::V;
        }
        assert_eq!(q.push_discovered(&dish(), other), PushOutcome::Added);
        assert_eq!(q.push_discovered(&dish(), dish()), PushOutcome::Known);
    }

    fn feed(model: &mut MuxModel, pid: u16, bytes: &[u8]) {
        model.on_section(pid, &Section::new(bytes).unwrap());
    }

    /// A two-section NIT whose second section describes this multiplex (tsid 7): channel
    /// numbers for services 1 and 2 (2 hidden), service list types.
    fn model_with_tables() -> MuxModel {
        let mut m = MuxModel::new();
        feed(
            &mut m,
            0,
            &pat::build(7, 0, &[(1, 0x100), (2, 0x200), (3, 0x300), (4, 0x400)]),
        );
        let video = pmt::StreamEntry {
            stream_type: 0x1B,
            pid: 0x101,
            es_info: &[],
        };
        let audio = pmt::StreamEntry {
            stream_type: 0x03,
            pid: 0x102,
            es_info: &[],
        };
        let ca = [0x09, 4, 0x05, 0x00, 0xE5, 0x00];
        feed(
            &mut m,
            0x100,
            &pmt::build(1, 0, 0x101, &[], &[video, audio]),
        );
        feed(&mut m, 0x200, &pmt::build(2, 0, 0x1FFF, &ca, &[audio]));
        feed(&mut m, 0x300, &pmt::build(3, 0, 0x301, &[], &[video]));
        let d1 = sdt::service_descriptor(0x1F, "Prov", "Une HEVC");
        let entry = |service_id, descriptors, free_ca_mode| sdt::SdtEntry {
            service_id,
            eit_schedule: false,
            eit_present_following: true,
            running_status: 4,
            free_ca_mode,
            descriptors,
        };
        // Service 3 has an SDT entry without a service descriptor.
        feed(
            &mut m,
            0x11,
            &sdt::build(7, 0x20FA, 0, &[entry(1, &d1, false), entry(3, &[], true)]),
        );

        let lcns = [
            0x41, 9, 0x00, 0x01, 0x01, 0x00, 0x02, 0x02, 0x00, 0x04, 0x0C, //
            0x83, 8, 0x00, 0x01, 0xFC, 0x01, 0x00, 0x02, 0x7C, 0x02,
        ];
        let other = nit::NitTransport {
            transport_stream_id: 8,
            original_network_id: 0x20FA,
            descriptors: &[],
        };
        let ours = nit::NitTransport {
            transport_stream_id: 7,
            original_network_id: 0x20FA,
            descriptors: &lcns,
        };
        let name = nit::network_name_descriptor("Réseau");
        feed(
            &mut m,
            0x10,
            &nit::build_section(0x40, 0x3001, 0, (0, 1), &name, &[other]),
        );
        feed(
            &mut m,
            0x10,
            &nit::build_section(0x40, 0x3001, 0, (1, 1), &[], &[ours]),
        );

        // Two bouquets number service 3; the lower bouquet id is used.
        for (bouquet, number) in [(0x20, 33u8), (0x10, 31)] {
            let numbers = [0x83, 4, 0x00, 0x03, 0xFC, number];
            let t = nit::NitTransport {
                transport_stream_id: 7,
                original_network_id: 0x20FA,
                descriptors: &numbers,
            };
            feed(&mut m, 0x11, &bat::build(bouquet, 0, (0, 0), &[], &[t]));
        }
        m
    }

    #[test]
    fn mux_found_combines_pat_pmt_sdt_nit_and_bat() {
        let m = model_with_tables();
        let tuning = url("dvb-t://474MHz?bandwidth=8MHz");
        let found = mux_found(&m, tuning).unwrap();
        assert_eq!(found.tuning, tuning);
        assert_eq!(
            (found.network_id, found.network_name.as_str()),
            (Some(0x3001), "Réseau")
        );
        assert_eq!(
            (found.original_network_id, found.transport_stream_id),
            (Some(0x20FA), 7)
        );
        let s: Vec<_> = found.services.iter().collect();
        assert_eq!(s.len(), 4);

        // 1: named, HEVC TV type, visible LCN from the NIT, clear.
        assert_eq!(
            (s[0].name.as_str(), s[0].provider.as_str()),
            ("Une HEVC", "Prov")
        );
        assert_eq!(
            (s[0].service_type, s[0].kind),
            (Some(0x1F), ServiceKind::Tv)
        );
        assert_eq!(s[0].lcn, Some(1));
        assert!(!s[0].scrambled && s[0].has_video && s[0].has_audio);
        assert_eq!((s[0].pmt_pid, s[0].pcr_pid), (Some(0x100), Some(0x101)));

        // 2: no SDT entry: type from the NIT's service list (radio); hidden number left
        // out; CA descriptor in the PMT; PMT without PCR PID.
        assert_eq!(s[1].name, "");
        assert_eq!(
            (s[1].service_type, s[1].kind),
            (Some(0x02), ServiceKind::Radio)
        );
        assert_eq!(s[1].lcn, None);
        assert!(s[1].scrambled && !s[1].has_video && s[1].has_audio);
        assert_eq!(s[1].pcr_pid, None);

        // 3: SDT entry without a type, not in the NIT's list: TV from its PMT; scrambled
        // by free_CA_mode; numbered by the bouquet with the lower id.
        assert_eq!((s[2].service_type, s[2].kind), (None, ServiceKind::Tv));
        assert!(s[2].scrambled);
        assert_eq!(s[2].lcn, Some(31));

        // 4: no PMT, no SDT; the service list says 0x0C (data).
        assert_eq!(
            (s[3].service_type, s[3].kind),
            (Some(0x0C), ServiceKind::Data)
        );
        assert_eq!(
            (s[3].has_video, s[3].has_audio, s[3].pcr_pid),
            (false, false, None)
        );

        // The result round-trips through JSON (a scan hands it over that way).
        let json = serde_json::to_string(&found).unwrap();
        assert_eq!(serde_json::from_str::<MuxFound>(&json).unwrap(), found);

        assert_eq!(
            mux_found(&MuxModel::new(), tuning),
            None,
            "no PAT, nothing found"
        );
    }

    #[test]
    fn vidtv_like_nit_with_a_service_list_only() {
        // As the kernel's vidtv driver sends it: network "LinuxTV.org", TS 0x4081 with a
        // service list (0x0880, digital radio), and no delivery descriptor.
        let mut m = MuxModel::new();
        feed(
            &mut m,
            0,
            &pat::build(0x4081, 0, &[(0, 0x10), (0x0880, 0x101)]),
        );
        let list = [0x41, 3, 0x08, 0x80, 0x02];
        let t = nit::NitTransport {
            transport_stream_id: 0x4081,
            original_network_id: 0xFF44,
            descriptors: &list,
        };
        feed(
            &mut m,
            0x10,
            &nit::build(
                0xFF44,
                0,
                &nit::network_name_descriptor("LinuxTV.org"),
                &[t],
            ),
        );
        let scanning = url("dvb-t://474MHz?bandwidth=8MHz");
        assert!(tunings_from_nit(m.nit().unwrap(), &scanning, Some((0x4081, 0xFF44))).is_empty());
        let found = mux_found(&m, scanning).unwrap();
        assert_eq!(found.network_name, "LinuxTV.org");
        assert_eq!(
            found.original_network_id,
            Some(0xFF44),
            "from our NIT entry"
        );
        assert_eq!(found.services[0].kind, ServiceKind::Radio);
        assert_eq!(found.services[0].lcn, None);
    }

    #[test]
    fn verdict_waits_for_each_table_no_longer_than_its_period() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let t = ScanTimeouts::default();
        let all = TablesSeen {
            pat: true,
            programs: 2,
            pmts: 2,
            sdt: true,
            nit: true,
        };
        assert_eq!(
            scan_verdict(all, ms(300), Some(ms(0)), &t),
            WaitVerdict::Done(all)
        );
        // PSI in, SDT and NIT not: 2 s for the SDT, 10 s for the NIT, from the PSI.
        let psi = TablesSeen {
            sdt: false,
            nit: false,
            ..all
        };
        assert_eq!(scan_verdict(psi, s(3), Some(s(1)), &t), WaitVerdict::Wait);
        let sdt = TablesSeen { sdt: true, ..psi };
        assert_eq!(
            scan_verdict(sdt, s(10), Some(ms(9_900)), &t),
            WaitVerdict::Wait
        );
        assert_eq!(
            scan_verdict(sdt, s(11), Some(s(10)), &t),
            WaitVerdict::Done(sdt)
        );
        let nit = TablesSeen { nit: true, ..psi };
        assert_eq!(
            scan_verdict(nit, s(2), Some(ms(1_999)), &t),
            WaitVerdict::Wait
        );
        assert_eq!(
            scan_verdict(nit, s(3), Some(s(2)), &t),
            WaitVerdict::Done(nit)
        );
        // A PMT that never comes: after 5 s the SDT and NIT waits start anyway.
        let pmt_missing = TablesSeen { pmts: 1, ..all };
        assert_eq!(scan_verdict(pmt_missing, s(4), None, &t), WaitVerdict::Wait);
        assert_eq!(
            scan_verdict(pmt_missing, s(5), None, &t),
            WaitVerdict::Done(pmt_missing)
        );
        let only_pat = TablesSeen {
            pmts: 1,
            sdt: false,
            nit: false,
            ..all
        };
        assert_eq!(scan_verdict(only_pat, s(6), None, &t), WaitVerdict::Wait);
        assert_eq!(
            scan_verdict(only_pat, s(15), None, &t),
            WaitVerdict::Done(only_pat)
        );
        // No PAT at all: done once its wait is over (nothing to scan here).
        let nothing = TablesSeen::default();
        assert_eq!(scan_verdict(nothing, s(4), None, &t), WaitVerdict::Wait);
        assert_eq!(
            scan_verdict(nothing, s(5), None, &t),
            WaitVerdict::Done(nothing)
        );
    }

    #[test]
    fn mux_wait_remembers_when_the_psi_was_in() {
        let s = Duration::from_secs;
        let mut m = MuxModel::new();
        let mut wait = MuxWait::default();
        assert_eq!(wait.poll(&m, s(1)), WaitVerdict::Wait);
        feed(&mut m, 0, &pat::build(7, 0, &[(1, 0x100)]));
        assert_eq!(wait.poll(&m, s(1)), WaitVerdict::Wait);
        feed(&mut m, 0x100, &pmt::build(1, 0, 0x101, &[], &[]));
        assert_eq!(wait.poll(&m, s(2)), WaitVerdict::Wait);
        feed(&mut m, 0x11, &sdt::build(7, 1, 0, &[]));
        assert_eq!(
            wait.poll(&m, s(11)),
            WaitVerdict::Wait,
            "the NIT has until 12 s"
        );
        let WaitVerdict::Done(seen) = wait.poll(&m, s(12)) else {
            panic!("still waiting at 12 s")
        };
        assert!(seen.psi_complete() && seen.sdt && !seen.nit);
        // Everything in: done at once.
        feed(&mut m, 0x10, &nit::build(1, 0, &[], &[]));
        let mut wait = MuxWait::default();
        assert!(matches!(wait.poll(&m, s(1)), WaitVerdict::Done(s) if s.all()));
        // Program 4 of the richer model has no PMT: its wait is the PSI's.
        let m = model_with_tables();
        let mut wait = MuxWait::default();
        assert_eq!(wait.poll(&m, s(4)), WaitVerdict::Wait);
        assert!(
            matches!(wait.poll(&m, s(5)), WaitVerdict::Done(s) if s.sdt && s.nit && s.pmts == 3)
        );
    }

    /// The broadcast captures beside the repository (`shared/streams`, see its
    /// PROVENANCE.md), or `DVBGATE_SHARED_STREAMS`; `None`, said loudly, when absent.
    #[allow(clippy::print_stderr)]
    fn shared_streams() -> Option<std::path::PathBuf> {
        let dir = std::env::var_os("DVBGATE_SHARED_STREAMS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/streams")
            });
        if dir.is_dir() {
            Some(dir)
        } else {
            eprintln!(
                "\n*** SKIPPED: the broadcast captures are not here ({}); set DVBGATE_SHARED_STREAMS to run this test ***\n",
                dir.display()
            );
            None
        }
    }

    /// The model after the capture, played twice (some tables come before the first PAT).
    fn model_of(path: &std::path::Path) -> MuxModel {
        use dvbgate_ts::monitor::{EitInterest, MuxMonitor};
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut monitor = MuxMonitor::new(EitInterest::PresentFollowingActual);
        let mut reader = dvbgate_ts::reader::PacketReader::new();
        for _ in 0..2 {
            reader.push(&bytes, &mut |p| {
                monitor.on_packet(p, &mut |_, _| {});
            });
        }
        monitor.model
    }

    #[test]
    fn broadcast_captures_nit_bat_and_channel_numbers() {
        let Some(dir) = shared_streams() else { return };

        // French DTT, multiplex R4: an EACEM NIT (specifier 0x28) numbering the services
        // of all 7 multiplexes; terrestrial descriptors without a frequency.
        let m = model_of(&dir.join("dvbt-fr-multi4-si-eit-schedule.ts"));
        let nit = m.nit().expect("Multi4 has a NIT");
        assert_eq!(
            (nit.id, nit.name.as_deref(), nit.complete),
            (0x20FA, Some("F"), true)
        );
        assert_eq!(nit.transports.len(), 7);
        assert!(nit.transports.iter().all(|t| t.delivery_system == Some("DVB-T")
            && matches!(t.delivery(), Some(Delivery::Terrestrial(d)) if d.centre_frequency_hz.is_none())));
        let scanning = url("dvb-t://586.166MHz?bandwidth=8MHz");
        assert!(tunings_from_nit(nit, &scanning, Some((4, 0x20FA))).is_empty());
        let found = mux_found(&m, scanning).unwrap();
        assert_eq!(
            (found.transport_stream_id, found.network_name.as_str()),
            (4, "F")
        );
        let lcns: Vec<(u16, Option<u16>)> = found
            .services
            .iter()
            .map(|s| (s.service_id, s.lcn))
            .collect();
        // M6 6, W9 9, Arte 7, France 5 5, 6ter 22.
        assert_eq!(
            lcns,
            vec![
                (0x401, Some(6)),
                (0x402, Some(9)),
                (0x407, Some(7)),
                (0x415, Some(5)),
                (0x416, Some(22))
            ]
        );
        assert!(
            found
                .services
                .iter()
                .all(|s| s.kind == ServiceKind::Tv && !s.name.is_empty())
        );

        // Mediaset on 13°E: one transponder, its own, DVB-S QPSK.
        let m = model_of(&dir.join("dvbs-it-mediaset-si-20svc.ts"));
        let nit = m.nit().expect("Mediaset has a NIT");
        assert_eq!((nit.id, nit.name.as_deref()), (0x110, Some("Mediaset")));
        let scanning = url("dvb-s://11919MHz?polarisation=v&symbol_rate=27500000");
        assert_eq!(
            tunings_from_nit(nit, &scanning, Some((0x1770, 0x110))),
            vec![url(
                "dvb-s://11919MHz?polarisation=v&symbol_rate=29900000&fec=5/6&modulation=qpsk&rolloff=0.35"
            )]
        );
        let found = mux_found(&m, scanning).unwrap();
        assert_eq!(found.services.len(), 20);
        assert!(
            found.services.iter().all(|s| s.lcn.is_none()),
            "no LCN on this network"
        );
        assert_eq!(
            found
                .services
                .iter()
                .filter(|s| s.kind == ServiceKind::Radio)
                .count(),
            5
        );

        // CANAL+ on ASTRA 19.2°E: the first of three NIT sections (45 transponders), and
        // one BAT section whose channel numbers are in a private descriptor (0x8E under
        // specifier 0x36) that is not an LCN descriptor.
        let m = model_of(&dir.join("dvbs-fr-canalsat-mpts-11svc.ts"));
        let nit = m.nit().expect("the CANAL+ capture has a NIT");
        assert_eq!(
            (nit.id, nit.name.as_deref(), nit.complete),
            (1, Some("ASTRA 1"), false)
        );
        assert_eq!(nit.transports.len(), 45);
        let scanning = url("dvb-s2://11856MHz?polarisation=v&symbol_rate=27500000");
        let tunings = tunings_from_nit(nit, &scanning, Some((0x438, 1)));
        assert_eq!(tunings.len(), 45);
        assert!(
            tunings
                .iter()
                .all(|t| (10_700_000_000..=12_750_000_000).contains(&t.frequency_hz))
        );
        assert_eq!(
            tunings
                .iter()
                .filter(|t| t.system == DeliverySystem::DvbS2)
                .count(),
            23
        );
        let mut q = ScanQueue::new([scanning]);
        for t in tunings {
            q.push_discovered(&scanning, t);
        }
        assert_eq!(q.total_known(), 46);
        let bouquets: Vec<_> = m.bouquets().collect();
        assert_eq!(bouquets.len(), 1);
        assert_eq!((bouquets[0].id, bouquets[0].complete), (0xC01D, false));
        assert!(
            bouquets[0]
                .transports
                .iter()
                .all(|t| t.logical_channels.is_empty())
        );

        // A lab-made stream: a NIT with a service list only.
        let m = model_of(&dir.join("mpeg2-2svc-pat-change.ts"));
        let nit = m.nit().expect("this stream has a NIT");
        assert_eq!((nit.id, nit.name.as_deref()), (2, Some("2")));
        assert!(nit.transports[0].deliveries.is_empty());
        assert!(!nit.transports[0].services.is_empty());
    }
}
