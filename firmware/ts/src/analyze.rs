//! A full look at a multiplex: what it carries and how healthy it is. Behind `dvbgate probe`
//! and the tests' checker.
//!
//! Health follows ETSI TR 101 290 where our data allows: sync (1.1), PAT and PMT repetition
//! (1.3, 1.5), continuity (1.4), transport errors (2.1), CRC (2.2), PCR repetition and
//! discontinuities (2.3). Intervals are measured in PCR time, interpolated by packet
//! position, which is what a decoder experiences whatever the capture's own timing.

use crate::monitor::{EitInterest, MuxMonitor, SectionErrors};
use crate::mux::EsInfo;
use crate::packet::{self, Pcr, RawPacket, pids};
use crate::reader::{PacketReader, ReaderStats};
use crate::stats::PidCounters;
use crate::tables::sdt::{ServiceKind, service_kind};
use crate::tables::table_id;
use std::collections::BTreeMap;

/// A PCR step over this (or backwards) without the discontinuity indicator is a jump.
const PCR_JUMP_NS: u64 = 100_000_000;

/// Collects everything; call [`Analyzer::push`] with bytes, then [`Analyzer::finish`].
pub struct Analyzer {
    reader: PacketReader,
    state: State,
}

struct State {
    monitor: MuxMonitor,
    position: u64,
    pcrs: BTreeMap<u16, PcrTrack>,
    /// Positions of packets starting a section, per PSI PID we measure.
    table_starts: BTreeMap<u16, Vec<u64>>,
}

impl State {
    fn on_packet(&mut self, p: &RawPacket) {
        let info = self.monitor.on_packet(p, &mut |_, _| {});
        if info.forward {
            if let Some(pcr) = info.pcr {
                self.pcrs.entry(info.pid).or_default().samples.push((
                    self.position,
                    pcr,
                    info.discontinuity,
                ));
            }
            let measured = matches!(info.pid, pids::PAT | pids::SDT | pids::EIT)
                || self.monitor.model.is_pmt_pid(info.pid);
            if measured && packet::payload_unit_start(p) {
                self.table_starts
                    .entry(info.pid)
                    .or_default()
                    .push(self.position);
            }
        }
        self.position += 1;
    }
}

#[derive(Default)]
struct PcrTrack {
    /// `(position, PCR, discontinuity_indicator)`.
    samples: Vec<(u64, Pcr, bool)>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    pub fn new() -> Self {
        Analyzer {
            reader: PacketReader::new(),
            state: State {
                monitor: MuxMonitor::new(EitInterest::All),
                position: 0,
                pcrs: BTreeMap::new(),
                table_starts: BTreeMap::new(),
            },
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let state = &mut self.state;
        self.reader.push(bytes, &mut |p| state.on_packet(p));
    }

    /// The report. `wall_seconds`, when known (a live capture), gives the bitrate of streams
    /// without PCR.
    pub fn finish(mut self, wall_seconds: Option<f64>) -> Analysis {
        let state = &mut self.state;
        self.reader.finish(&mut |p| state.on_packet(p));
        let reader_stats = self.reader.stats();
        let State {
            monitor,
            pcrs,
            table_starts,
            ..
        } = self.state;
        let reference = pcrs
            .iter()
            .max_by_key(|(_, t)| t.samples.len())
            .map(|(&pid, t)| (pid, build_timeline(&t.samples)));
        let time_of = |position: u64| reference.as_ref().and_then(|(_, tl)| tl.time_ns(position));

        let max_interval = |pid: u16| -> Option<f64> {
            let starts = table_starts.get(&pid)?;
            let times: Vec<i64> = starts.iter().filter_map(|&p| time_of(p)).collect();
            times
                .windows(2)
                .map(|w| (w[1] - w[0]) as f64 / 1e6)
                .reduce(f64::max)
        };

        let model = &monitor.model;
        let services = model
            .service_ids()
            .into_iter()
            .map(|id| {
                let pmt = model.pmt(id);
                let sdt = model.sdt(id);
                let es_scrambled = pmt.is_some_and(|p| {
                    p.streams
                        .iter()
                        .any(|s| monitor.pids.get(s.pid).scrambled > 0)
                });
                ServiceReport {
                    service_id: id,
                    name: sdt.map(|s| s.name.clone()).filter(|n| !n.is_empty()),
                    provider: sdt.map(|s| s.provider.clone()).filter(|n| !n.is_empty()),
                    service_type: sdt.map(|s| s.service_type),
                    kind: sdt.map(|s| service_kind(s.service_type)),
                    pmt_pid: model.programs().get(&id).copied(),
                    pcr_pid: pmt.map(|p| p.pcr_pid),
                    streams: pmt.map(|p| p.streams.clone()).unwrap_or_default(),
                    scrambled: es_scrambled
                        || pmt.is_some_and(|p| p.has_ca())
                        || sdt.is_some_and(|s| s.free_ca_mode),
                    pmt_max_interval_ms: model
                        .programs()
                        .get(&id)
                        .and_then(|&pid| max_interval(pid)),
                    ecm_pids: pmt
                        .map(|p| {
                            let mut v: Vec<u16> =
                                p.program_ca.iter().map(|&(_, pid)| pid).collect();
                            v.extend(p.streams.iter().flat_map(|s| s.ecm_pids.iter().copied()));
                            v.sort_unstable();
                            v.dedup();
                            v
                        })
                        .unwrap_or_default(),
                    in_pat: model.programs().contains_key(&id),
                }
            })
            .collect();

        let duration_ns = reference.as_ref().and_then(|(_, tl)| tl.span_ns());
        let total_packets = monitor.pids.totals().packets;
        let seconds = duration_ns
            .map(|ns| ns as f64 / 1e9)
            .or(wall_seconds)
            .filter(|s| *s > 0.0);
        let bitrate = seconds.map(|s| (total_packets as f64 * 188.0 * 8.0 / s) as u64);

        let pids_report = monitor
            .pids
            .seen()
            .map(|(pid, c)| {
                let pcr = pcrs.get(&pid).map(pcr_report);
                (
                    pid,
                    PidReport {
                        counters: *c,
                        bitrate_bps: seconds.map(|s| (c.packets as f64 * 188.0 * 8.0 / s) as u64),
                        pcr,
                    },
                )
            })
            .collect();

        let mut tables = BTreeMap::new();
        for (id, &count) in monitor.sections_seen().iter().enumerate() {
            if count > 0 {
                *tables
                    .entry(table_id::name(id as u8).to_string())
                    .or_insert(0) += count;
            }
        }

        Analysis {
            transport_stream_id: model.transport_stream_id(),
            original_network_id: model.original_network_id(),
            network: model.network().cloned(),
            utc: model.utc(),
            services,
            pids: pids_report,
            tables,
            packets: total_packets,
            bitrate_bps: bitrate,
            duration_ms: duration_ns.map(|ns| ns as f64 / 1e6),
            reader: reader_stats,
            cc_errors: monitor.pids.totals().cc_errors,
            transport_errors: monitor.pids.totals().transport_errors,
            section_errors: *monitor.section_errors(),
            pat_max_interval_ms: max_interval(pids::PAT),
            sdt_max_interval_ms: max_interval(pids::SDT),
            eit_max_interval_ms: max_interval(pids::EIT),
            pcr_reference: reference.map(|(pid, _)| pid),
        }
    }
}

/// Stream time by position, from one PID's PCRs; jumps are bridged like the player does.
struct Timeline {
    anchors: Vec<(u64, i64)>,
}

fn build_timeline(samples: &[(u64, Pcr, bool)]) -> Timeline {
    let mut tl = crate::timing::PcrTimeline::new(1_000_000);
    let anchors = samples
        .iter()
        .map(|&(pos, pcr, disc)| {
            let a = tl.observe(pos, pcr, disc, 0);
            (a.position, a.stream_ns)
        })
        .collect();
    Timeline { anchors }
}

impl Timeline {
    fn time_ns(&self, position: u64) -> Option<i64> {
        if self.anchors.len() < 2 {
            return None;
        }
        let i = self.anchors.partition_point(|&(p, _)| p <= position);
        // Extrapolate at the ends from the nearest pair.
        let (a, b) = match i {
            0 => (self.anchors[0], self.anchors[1]),
            i if i >= self.anchors.len() => (self.anchors[i - 2], self.anchors[i - 1]),
            i => (self.anchors[i - 1], self.anchors[i]),
        };
        let span = (b.0 - a.0).max(1) as i128;
        Some(a.1 + ((b.1 - a.1) as i128 * (position as i128 - a.0 as i128) / span) as i64)
    }

    fn span_ns(&self) -> Option<i64> {
        let (first, last) = (self.anchors.first()?, self.anchors.last()?);
        (last.1 > first.1).then(|| last.1 - first.1)
    }
}

fn pcr_report(track: &PcrTrack) -> PcrReport {
    let mut max_interval_ns = 0u64;
    let mut jumps = 0;
    for w in track.samples.windows(2) {
        let (_, a, _) = w[0];
        let (_, b, disc) = w[1];
        let step = b.ticks_since(a);
        let backwards = step > Pcr::MODULUS / 2;
        let step_ns = Pcr::ticks_to_ns(step);
        if disc {
            continue;
        }
        if backwards || step_ns > PCR_JUMP_NS {
            jumps += 1;
        } else {
            max_interval_ns = max_interval_ns.max(step_ns);
        }
    }
    PcrReport {
        count: track.samples.len() as u64,
        max_interval_ms: (track.samples.len() > 1).then_some(max_interval_ns as f64 / 1e6),
        jumps,
    }
}

/// Everything probe reports. Serialised as the `--json` output.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Analysis {
    pub transport_stream_id: Option<u16>,
    pub original_network_id: Option<u16>,
    pub network: Option<crate::mux::NetworkInfo>,
    /// The broadcaster's clock (TDT/TOT), Unix seconds.
    pub utc: Option<i64>,
    pub services: Vec<ServiceReport>,
    pub pids: BTreeMap<u16, PidReport>,
    /// Good sections seen, by table name.
    pub tables: BTreeMap<String, u64>,
    pub packets: u64,
    pub bitrate_bps: Option<u64>,
    pub duration_ms: Option<f64>,
    pub reader: ReaderStats,
    pub cc_errors: u64,
    pub transport_errors: u64,
    pub section_errors: SectionErrors,
    pub pat_max_interval_ms: Option<f64>,
    pub sdt_max_interval_ms: Option<f64>,
    pub eit_max_interval_ms: Option<f64>,
    /// The PID whose PCRs timed the intervals.
    pub pcr_reference: Option<u16>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceReport {
    pub service_id: u16,
    pub name: Option<String>,
    pub provider: Option<String>,
    pub service_type: Option<u8>,
    pub kind: Option<ServiceKind>,
    pub pmt_pid: Option<u16>,
    pub pcr_pid: Option<u16>,
    pub streams: Vec<EsInfo>,
    pub scrambled: bool,
    pub pmt_max_interval_ms: Option<f64>,
    /// ECM PIDs named by the program's and its streams' CA descriptors.
    pub ecm_pids: Vec<u16>,
    /// False for services only the SDT mentions.
    pub in_pat: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PidReport {
    #[serde(flatten)]
    pub counters: PidCounters,
    pub bitrate_bps: Option<u64>,
    pub pcr: Option<PcrReport>,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct PcrReport {
    pub count: u64,
    pub max_interval_ms: Option<f64>,
    /// Steps over 100 ms or backwards without the discontinuity indicator.
    pub jumps: u64,
}

/// Analyses a whole buffer at once.
pub fn analyze(bytes: &[u8]) -> Analysis {
    let mut a = Analyzer::new();
    a.push(bytes);
    a.finish(None)
}
