//! One service of a multiplex made into a single-program transport stream (SPTS).
//!
//! What goes out: a PAT with one program; the service's PMT (optionally without CA
//! descriptors or chosen streams, version bumped whenever its content changes); an SDT
//! actual with only this service, named as the technician named the channel; the service's
//! EIT present/following sections; the TDT/TOT as received; and the packets of its
//! elementary streams, its PCR PID (even when no stream uses it) and, unless CA is stripped,
//! its ECM PIDs. Tables we write carry their own continuity counters and are repeated at
//! broadcast intervals; passed packets keep theirs, re-based after an input discontinuity
//! so the output never shows a counter jump the input did not have.

use crate::datagram::DatagramRing;
use dvbgate_ts::descriptor::{self, tag};
use dvbgate_ts::mux::{Change, MuxModel, PmtEntry};
use dvbgate_ts::packet::{self, RawPacket, pids};
use dvbgate_ts::tables::{pat, pmt, sdt};
use dvbgate_ts::write::Packetizer;

/// PAT and PMT go out this often. Zapping waits for them and we promise at most 100 ms;
/// a receiver sees our repetition plus pacing jitter, and measuring a VBR output between
/// PCRs adds up to a PCR interval of uncertainty, so we aim well below. Two packets every
/// 60 ms cost about 60 kbit/s per channel.
pub const PSI_INTERVAL_NS: i64 = 60_000_000;
/// SDT and EIT present/following: EN 300 468 allows up to 2 s.
pub const SI_INTERVAL_NS: i64 = 1_000_000_000;

/// An elementary stream to leave out of the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EsFilter {
    Pid(u16),
    StreamType(u8),
    /// ISO 639 code, as in the stream's language descriptor.
    Language(String),
}

/// What a channel is: which service, how to present it, how to package it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    pub service_id: u16,
    /// The service name written into the output SDT.
    pub name: String,
    pub strip_ca: bool,
    pub strip_es: Vec<EsFilter>,
    pub packets_per_datagram: usize,
    /// Datagrams the output queue holds before dropping the oldest.
    pub ring_datagrams: usize,
}

impl ChannelSpec {
    pub fn new(service_id: u16, name: impl Into<String>) -> Self {
        ChannelSpec {
            service_id,
            name: name.into(),
            strip_ca: false,
            strip_es: Vec::new(),
            packets_per_datagram: 7,
            ring_datagrams: 256,
        }
    }
}

/// Is the service on air in this multiplex?
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Not (yet) in the PAT, or its PMT has not been seen.
    Waiting,
    Live,
}

/// Continuity state of one passed PID in the output.
#[derive(Clone, Copy, Debug)]
struct PassedPid {
    pid: u16,
    /// Added to the input counter (mod 16).
    offset: u8,
    last_cc: Option<u8>,
    /// The next packet starts a new input run: choose an offset that continues the output.
    rebase: bool,
}

/// A table we generate: its current section and the packetizer that numbers its packets.
struct OutputTable {
    section: Vec<u8>,
    version: u8,
    packetizer: Packetizer,
}

impl OutputTable {
    fn new(pid: u16) -> Self {
        OutputTable {
            section: Vec::new(),
            version: 0,
            packetizer: Packetizer::new(pid),
        }
    }

    /// Rebuilds the section; a different content gets the next version number.
    fn update(&mut self, build: impl Fn(u8) -> Vec<u8>) -> bool {
        let same_version = build(self.version);
        if same_version == self.section {
            return false;
        }
        self.section = if self.section.is_empty() {
            same_version
        } else {
            self.version = (self.version + 1) & 0x1F;
            build(self.version)
        };
        true
    }

    fn move_to(&mut self, pid: u16) {
        if self.packetizer.pid() != pid {
            self.packetizer = Packetizer::new(pid);
        }
    }

    fn emit(&mut self, ring: &mut DatagramRing, position: u64, arrival_ns: i64) -> u64 {
        let mut n = 0;
        if !self.section.is_empty() {
            self.packetizer.packetize(&self.section, &mut |p| {
                ring.push(p, position, arrival_ns);
                n += 1;
            });
        }
        n
    }
}

/// Counters of one channel's remuxer.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct RemuxCounters {
    /// Packets passed from the input.
    pub packets_passed: u64,
    /// Table packets we wrote.
    pub table_packets: u64,
    pub pmt_version: u8,
    /// Times the output PMT changed.
    pub pmt_changes: u64,
}

/// See the module docs.
pub struct ServiceRemuxer {
    spec: ChannelSpec,
    state: ServiceState,
    pat: OutputTable,
    pmt: OutputTable,
    sdt: OutputTable,
    /// EIT p/f sections are forwarded as they are, re-packetized with our counters.
    eit_sections: Vec<Vec<u8>>,
    eit_packetizer: Packetizer,
    passed: Vec<PassedPid>,
    pcr_pid: u16,
    /// The input PMT names no PCR PID (0x1FFF); the first stream seen carrying PCRs is
    /// written into the output PMT instead, so decoders can lock.
    repair_pcr: bool,
    /// The next PCR packet gets the discontinuity indicator (the input jumped).
    mark_discontinuity: bool,
    next_psi_ns: i64,
    next_si_ns: i64,
    ring: DatagramRing,
    counters: RemuxCounters,
}

impl ServiceRemuxer {
    pub fn new(spec: ChannelSpec) -> Self {
        let ring = DatagramRing::new(spec.ring_datagrams, spec.packets_per_datagram);
        ServiceRemuxer {
            spec,
            state: ServiceState::Waiting,
            pat: OutputTable::new(pids::PAT),
            pmt: OutputTable::new(pids::NULL),
            sdt: OutputTable::new(pids::SDT),
            eit_sections: Vec::new(),
            eit_packetizer: Packetizer::new(pids::EIT),
            passed: Vec::new(),
            pcr_pid: pids::NULL,
            repair_pcr: false,
            mark_discontinuity: false,
            next_psi_ns: i64::MIN,
            next_si_ns: i64::MIN,
            ring,
            counters: RemuxCounters::default(),
        }
    }

    pub fn spec(&self) -> &ChannelSpec {
        &self.spec
    }
    pub fn state(&self) -> ServiceState {
        self.state
    }
    pub fn counters(&self) -> RemuxCounters {
        self.counters
    }
    pub fn ring(&self) -> &DatagramRing {
        &self.ring
    }
    pub fn ring_mut(&mut self) -> &mut DatagramRing {
        &mut self.ring
    }
    /// The PCR PID written in the output PMT.
    pub fn pcr_pid(&self) -> u16 {
        self.pcr_pid
    }

    /// PIDs taken from the input, in slot order (the demux routes by slot).
    pub fn passed_pids(&self) -> impl Iterator<Item = u16> + '_ {
        self.passed.iter().map(|p| p.pid)
    }

    /// Changes what the channel is. Packaging changes (datagram size) start a fresh queue.
    pub fn set_spec(&mut self, spec: ChannelSpec, model: &MuxModel) -> bool {
        if spec.packets_per_datagram != self.spec.packets_per_datagram
            || spec.ring_datagrams != self.spec.ring_datagrams
        {
            self.ring = DatagramRing::new(spec.ring_datagrams, spec.packets_per_datagram);
        }
        self.spec = spec;
        self.refresh(model)
    }

    /// Whether a model change concerns this channel.
    pub fn affected_by(&self, change: Change) -> bool {
        match change {
            Change::Pat | Change::Sdt => true,
            Change::Pmt(program) | Change::EitPf(program) => program == self.spec.service_id,
            Change::Nit | Change::Cat | Change::Time => false,
        }
    }

    /// Rebuilds the output tables from the model. Returns true when the set of passed PIDs
    /// changed (the caller must re-route).
    pub fn refresh(&mut self, model: &MuxModel) -> bool {
        let sid = self.spec.service_id;
        let before: Vec<u16> = self.passed_pids().collect();
        let (Some(&pmt_pid), Some(entry)) = (model.programs().get(&sid), model.pmt(sid)) else {
            self.state = ServiceState::Waiting;
            self.passed.clear();
            return !before.is_empty();
        };
        self.state = ServiceState::Live;
        let tsid = model.transport_stream_id().unwrap_or(1);
        let mut urgent = self.pat.update(|v| pat::build(tsid, v, &[(sid, pmt_pid)]));

        self.pmt.move_to(pmt_pid);
        let (kept, declared_pcr) = self.rewrite_pmt(entry);
        if self.repair_pcr && declared_pcr == pids::NULL && kept.contains(&self.pcr_pid) {
            // Keep a repair already made.
        } else {
            self.pcr_pid = declared_pcr;
            self.repair_pcr = declared_pcr == pids::NULL;
        }
        if self.update_pmt(entry) {
            urgent = true;
        }

        let onid = model
            .original_network_id()
            .or(model.network().map(|n| n.network_id))
            .unwrap_or(0xFF01); // private temporary use (ETR 162)
        let descriptors = self.sdt_descriptors(model, entry);
        let input = model.sdt(sid);
        let entry_flags = (
            input.is_none_or(|s| s.eit_present_following),
            input.map_or(4, |s| s.running_status),
            input.is_some_and(|s| s.free_ca_mode) && !self.spec.strip_ca,
        );
        self.sdt.update(|v| {
            sdt::build(
                tsid,
                onid,
                v,
                &[sdt::SdtEntry {
                    service_id: sid,
                    eit_schedule: false,
                    eit_present_following: entry_flags.0,
                    running_status: entry_flags.1,
                    free_ca_mode: entry_flags.2,
                    descriptors: &descriptors,
                }],
            )
        });

        let eit_now: Vec<Vec<u8>> = model
            .eit_pf(sid)
            .map(|e| e.sections.iter().flatten().cloned().collect())
            .unwrap_or_default();
        if eit_now != self.eit_sections {
            self.eit_sections = eit_now;
            self.next_si_ns = i64::MIN;
        }

        let mut wanted = kept;
        if self.pcr_pid != pids::NULL && !wanted.contains(&self.pcr_pid) {
            wanted.push(self.pcr_pid);
        }
        if !self.spec.strip_ca {
            for &(_, ecm) in &entry.program_ca {
                wanted.push(ecm);
            }
            let ecms: Vec<u16> = entry
                .streams
                .iter()
                .filter(|es| wanted.contains(&es.pid))
                .flat_map(|es| es.ecm_pids.iter().copied())
                .collect();
            wanted.extend(ecms);
        }
        wanted.push(pids::TDT);
        wanted.retain(|&p| p != pids::NULL && p != pmt_pid && p != pids::PAT);
        let mut seen = Vec::with_capacity(wanted.len());
        wanted.retain(|p| {
            let new = !seen.contains(p);
            seen.push(*p);
            new
        });
        let old = std::mem::take(&mut self.passed);
        self.passed = wanted
            .iter()
            .map(|&pid| {
                old.iter()
                    .find(|p| p.pid == pid)
                    .copied()
                    .unwrap_or(PassedPid {
                        pid,
                        offset: 0,
                        last_cc: None,
                        rebase: false,
                    })
            })
            .collect();
        if urgent {
            self.next_psi_ns = i64::MIN;
        }
        before != wanted
    }

    /// The streams kept (by PID) and the PCR PID the input declares.
    fn rewrite_pmt(&self, entry: &PmtEntry) -> (Vec<u16>, u16) {
        let kept = entry
            .streams
            .iter()
            .filter(|es| !self.is_stripped(es.pid, es.stream_type, &es.languages))
            .map(|es| es.pid)
            .collect();
        (kept, entry.pcr_pid)
    }

    fn is_stripped(&self, pid: u16, stream_type: u8, languages: &[String]) -> bool {
        self.spec.strip_es.iter().any(|f| match f {
            EsFilter::Pid(p) => *p == pid,
            EsFilter::StreamType(t) => *t == stream_type,
            EsFilter::Language(l) => languages.iter().any(|x| x.eq_ignore_ascii_case(l)),
        })
    }

    /// Writes the output PMT from the input section; true if it changed.
    fn update_pmt(&mut self, entry: &PmtEntry) -> bool {
        let Ok(section) = dvbgate_ts::section::Section::new(&entry.section) else {
            return false;
        };
        let Ok(input) = pmt::parse(&section) else {
            return false;
        };
        let strip_ca = self.spec.strip_ca;
        let keep_descriptor = |d: &descriptor::Descriptor<'_>| !(strip_ca && d.tag == tag::CA);
        let mut program_info = Vec::new();
        descriptor::filter_loop(input.program_info, keep_descriptor, &mut program_info);
        let mut es_infos: Vec<(u8, u16, Vec<u8>)> = Vec::new();
        for es in input.streams() {
            let languages = descriptor::languages(es.es_info);
            if self.is_stripped(es.pid, es.stream_type, &languages) {
                continue;
            }
            let mut info = Vec::new();
            descriptor::filter_loop(es.es_info, keep_descriptor, &mut info);
            es_infos.push((es.stream_type, es.pid, info));
        }
        let streams: Vec<pmt::StreamEntry<'_>> = es_infos
            .iter()
            .map(|(t, pid, info)| pmt::StreamEntry {
                stream_type: *t,
                pid: *pid,
                es_info: info,
            })
            .collect();
        let (program, pcr_pid) = (input.program_number, self.pcr_pid);
        let changed = self
            .pmt
            .update(|v| pmt::build(program, v, pcr_pid, &program_info, &streams));
        if changed {
            self.counters.pmt_changes += 1;
            self.counters.pmt_version = self.pmt.version;
        }
        changed
    }

    /// The input's SDT descriptors with the service descriptor rewritten to the channel's
    /// name (the technician's name wins over the broadcaster's).
    fn sdt_descriptors(&self, model: &MuxModel, entry: &PmtEntry) -> Vec<u8> {
        let input = model.sdt(self.spec.service_id);
        let service_type = match input {
            Some(s) if s.service_type != 0 => s.service_type,
            _ => {
                let has_video = entry
                    .streams
                    .iter()
                    .any(|s| s.kind == pmt::StreamKind::Video);
                if has_video { 0x01 } else { 0x02 }
            }
        };
        let provider = input.map(|s| s.provider.as_str()).unwrap_or("");
        let mut out = sdt::service_descriptor(service_type, provider, &self.spec.name);
        if let Some(s) = input {
            descriptor::filter_loop(&s.descriptors, |d| d.tag != tag::SERVICE, &mut out);
        }
        out
    }

    /// The input restarted (a file looped): continuity counters re-base on the next packet of
    /// each PID, and the next PCR is flagged as a time-base discontinuity.
    pub fn on_input_discontinuity(&mut self) {
        for p in &mut self.passed {
            p.rebase = true;
        }
        self.mark_discontinuity = true;
    }

    /// Passes one input packet (routed to this channel's `slot`) into the output.
    #[inline]
    pub fn pass(
        &mut self,
        slot: usize,
        input: &RawPacket,
        has_pcr: bool,
        position: u64,
        arrival_ns: i64,
    ) {
        let Some(state) = self.passed.get_mut(slot) else {
            return;
        };
        let out = self.ring.push(input, position, arrival_ns);
        let with_payload = packet::has_payload(out);
        if state.rebase {
            match (state.last_cc, with_payload) {
                (Some(last), true) => {
                    let expected = (last + 1) & 0x0F;
                    state.offset = expected.wrapping_sub(packet::continuity_counter(out)) & 0x0F;
                    state.rebase = false;
                }
                // Adaptation-only packets repeat the last counter.
                (Some(last), false) => {
                    packet::set_continuity_counter(out, last.wrapping_sub(state.offset))
                }
                (None, _) => state.rebase = false,
            }
        }
        if state.offset != 0 {
            let cc = packet::continuity_counter(out);
            packet::set_continuity_counter(out, cc.wrapping_add(state.offset));
        }
        if with_payload {
            state.last_cc = Some(packet::continuity_counter(out));
        }
        if has_pcr {
            let pid = state.pid;
            if self.mark_discontinuity && pid == self.pcr_pid {
                packet::set_discontinuity_indicator(out);
                self.mark_discontinuity = false;
            }
            if self.repair_pcr && self.pcr_pid == pids::NULL {
                self.pcr_pid = pid;
                self.rewrite_pmt_pcr_pid();
            }
        }
        self.counters.packets_passed += 1;
    }

    /// Rewrites our own last PMT with the repaired PCR PID (the kept streams and filtered
    /// descriptors are already in it), with the next version.
    fn rewrite_pmt_pcr_pid(&mut self) {
        let section = self.pmt.section.clone();
        let Ok(parsed) = dvbgate_ts::section::Section::new(&section) else {
            return;
        };
        let Ok(p) = pmt::parse(&parsed) else {
            return;
        };
        let streams: Vec<pmt::StreamEntry<'_>> = p
            .streams()
            .map(|s| pmt::StreamEntry {
                stream_type: s.stream_type,
                pid: s.pid,
                es_info: s.es_info,
            })
            .collect();
        let (program, pcr, info) = (p.program_number, self.pcr_pid, p.program_info);
        if self
            .pmt
            .update(|v| pmt::build(program, v, pcr, info, &streams))
        {
            self.counters.pmt_changes += 1;
            self.counters.pmt_version = self.pmt.version;
            self.next_psi_ns = i64::MIN;
        }
    }

    /// When the next table repetition is due (stream time).
    pub fn next_table_ns(&self) -> i64 {
        match self.state {
            ServiceState::Live => self.next_psi_ns.min(self.next_si_ns),
            ServiceState::Waiting => i64::MAX,
        }
    }

    /// Emits the tables that are due at stream time `now_ns`.
    pub fn emit_due_tables(&mut self, now_ns: i64, position: u64, arrival_ns: i64) {
        if self.state != ServiceState::Live {
            return;
        }
        if now_ns >= self.next_psi_ns {
            let n = self.pat.emit(&mut self.ring, position, arrival_ns)
                + self.pmt.emit(&mut self.ring, position, arrival_ns);
            self.counters.table_packets += n;
            self.next_psi_ns = now_ns + PSI_INTERVAL_NS;
        }
        if now_ns >= self.next_si_ns {
            let mut n = self.sdt.emit(&mut self.ring, position, arrival_ns);
            // Present and following: at most two sections, referenced without allocating.
            let sections: [&[u8]; 2] = [
                self.eit_sections.first().map_or(&[][..], Vec::as_slice),
                self.eit_sections.get(1).map_or(&[][..], Vec::as_slice),
            ];
            let count = self.eit_sections.len().min(2);
            if count > 0 {
                let ring = &mut self.ring;
                self.eit_packetizer
                    .packetize_many(&sections[..count], &mut |p| {
                        ring.push(p, position, arrival_ns);
                        n += 1;
                    });
            }
            self.counters.table_packets += n;
            self.next_si_ns = now_ns + SI_INTERVAL_NS;
        }
    }
}
