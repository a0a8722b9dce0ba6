//! One input multiplex split into channels: bytes in, one datagram queue per channel out.
//!
//! Per packet: count it (continuity, transport errors), reassemble tables on PSI/SI PIDs
//! (rare work, only when a table changes), feed PCRs to the pacing clock, emit any table
//! repetitions that are due, and copy the packet into the queue of every channel that
//! carries its PID. A PID-indexed routing table makes the last step a slice lookup.

use crate::service::{ChannelSpec, ServiceRemuxer};
use dvbgate_ts::monitor::{EitInterest, MuxMonitor};
use dvbgate_ts::mux::{Change, MuxModel};
use dvbgate_ts::packet::{RawPacket, pids};
use dvbgate_ts::reader::{PacketReader, ReaderStats};
use dvbgate_ts::timing::{ClockConfig, MuxClock};

/// A caller's handle for a channel (the configuration's channel id).
pub type ChannelKey = u32;

/// Channels (by index) and their slot for each PID.
struct Routes {
    /// Bumped at every rebuild, so a tuner's PID filters can follow.
    generation: u64,
    /// Per PID: start and length in `entries`.
    ranges: Box<[(u32, u16)]>,
    entries: Vec<(u16, u8)>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            generation: 0,
            ranges: vec![(0, 0); pids::COUNT].into_boxed_slice(),
            entries: Vec::new(),
        }
    }

    fn rebuild(&mut self, channels: &[(ChannelKey, ServiceRemuxer)]) {
        let mut all: Vec<(u16, u16, u8)> = Vec::new();
        for (index, (_, ch)) in channels.iter().enumerate() {
            for (slot, pid) in ch.passed_pids().enumerate() {
                all.push((pid, index as u16, slot as u8));
            }
        }
        all.sort_unstable();
        self.generation += 1;
        self.ranges.fill((0, 0));
        self.entries.clear();
        for (pid, index, slot) in all {
            let r = &mut self.ranges[usize::from(pid)];
            if r.1 == 0 {
                r.0 = self.entries.len() as u32;
            }
            r.1 += 1;
            self.entries.push((index, slot));
        }
    }

    #[inline]
    fn of(&self, pid: u16) -> &[(u16, u8)] {
        let (start, len) = self.ranges[usize::from(pid)];
        &self.entries[start as usize..start as usize + usize::from(len)]
    }
}

/// Everything but the byte-level reader, so the reader's callback can borrow it whole.
struct Core {
    monitor: MuxMonitor,
    clock: MuxClock,
    channels: Vec<(ChannelKey, ServiceRemuxer)>,
    routes: Routes,
    position: u64,
    arrival_ns: i64,
    /// Table repetitions run on their own clock, which only moves forward: stream time may
    /// step back a little when a new PCR corrects an extrapolation, and repeating a PAT
    /// late because of that would break the 100 ms promise.
    table_clock_ns: i64,
    last_stream_ns: i64,
    next_table_ns: i64,
}

impl Core {
    #[inline]
    fn on_packet(&mut self, p: &RawPacket) {
        let position = self.position;
        self.position += 1;
        let arrival = self.arrival_ns;
        let channels = &mut self.channels;
        let mut reroute = false;
        let info = self
            .monitor
            .on_packet(p, &mut |model: &MuxModel, change: Change| {
                for (_, ch) in channels.iter_mut().filter(|(_, ch)| ch.affected_by(change)) {
                    reroute |= ch.refresh(model);
                }
            });
        if reroute {
            self.routes.rebuild(&self.channels);
            self.next_table_ns = i64::MIN;
        }
        if !info.forward {
            return;
        }
        if let Some(pcr) = info.pcr {
            self.clock
                .on_pcr(info.pid, position, pcr, info.discontinuity, arrival);
        }
        let stream_ns = self.clock.stream_time(position, arrival);
        self.table_clock_ns += (stream_ns - self.last_stream_ns).max(0);
        self.last_stream_ns = stream_ns;
        let now = self.table_clock_ns;
        if now >= self.next_table_ns {
            let mut next = i64::MAX;
            for (_, ch) in &mut self.channels {
                ch.emit_due_tables(now, position, arrival);
                next = next.min(ch.next_table_ns());
            }
            self.next_table_ns = next;
        }
        for &(index, slot) in self.routes.of(info.pid) {
            self.channels[usize::from(index)].1.pass(
                usize::from(slot),
                p,
                info.pcr.is_some(),
                position,
                arrival,
            );
        }
    }
}

/// See the module docs.
pub struct Demux {
    reader: PacketReader,
    core: Core,
}

impl Demux {
    pub fn new(clock: ClockConfig) -> Self {
        Demux {
            reader: PacketReader::new(),
            core: Core {
                monitor: MuxMonitor::new(EitInterest::PresentFollowingActual),
                clock: MuxClock::new(clock),
                channels: Vec::new(),
                routes: Routes::new(),
                position: 0,
                arrival_ns: 0,
                table_clock_ns: 0,
                last_stream_ns: 0,
                next_table_ns: i64::MIN,
            },
        }
    }

    /// Feeds bytes that arrived at `arrival_ns` (monotonic).
    pub fn push(&mut self, bytes: &[u8], arrival_ns: i64) {
        let core = &mut self.core;
        core.arrival_ns = arrival_ns;
        self.reader.push(bytes, &mut |p| core.on_packet(p));
    }

    /// The input restarted from elsewhere (a file looped, a tuner retuned): a cut packet is
    /// dropped, continuity restarts, and every channel marks the discontinuity.
    pub fn discontinuity(&mut self) {
        let core = &mut self.core;
        self.reader.finish(&mut |p| core.on_packet(p));
        core.monitor.reset_continuity();
        for (_, ch) in &mut core.channels {
            ch.on_input_discontinuity();
        }
    }

    /// Adds (or replaces) a channel. It starts at once if its service is already known.
    pub fn set_channel(&mut self, key: ChannelKey, spec: ChannelSpec) {
        let core = &mut self.core;
        match core.channels.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ch)) => {
                if *ch.spec() != spec {
                    ch.set_spec(spec, &core.monitor.model);
                }
            }
            None => {
                let mut ch = ServiceRemuxer::new(spec);
                ch.refresh(&core.monitor.model);
                core.channels.push((key, ch));
            }
        }
        core.routes.rebuild(&core.channels);
        core.next_table_ns = i64::MIN;
    }

    pub fn remove_channel(&mut self, key: ChannelKey) {
        let core = &mut self.core;
        core.channels.retain(|(k, _)| *k != key);
        core.routes.rebuild(&core.channels);
    }

    pub fn channel(&self, key: ChannelKey) -> Option<&ServiceRemuxer> {
        self.core
            .channels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| c)
    }

    /// All channels with their keys, and the clock that says when their datagrams are due:
    /// what a sender needs, borrowed together.
    pub fn outputs(&mut self) -> (&MuxClock, &mut [(ChannelKey, ServiceRemuxer)]) {
        (&self.core.clock, &mut self.core.channels)
    }

    pub fn channels(&self) -> &[(ChannelKey, ServiceRemuxer)] {
        &self.core.channels
    }

    pub fn monitor(&self) -> &MuxMonitor {
        &self.core.monitor
    }

    /// See [`MuxMonitor::set_section_sink`]: the programme guide's feed.
    pub fn set_section_sink(&mut self, sink: Option<dvbgate_ts::monitor::SectionSink>) {
        self.core.monitor.set_section_sink(sink);
    }

    pub fn clock(&self) -> &MuxClock {
        &self.core.clock
    }

    pub fn reader_stats(&self) -> ReaderStats {
        self.reader.stats()
    }

    /// Changes whenever [`Demux::wanted_pids`] may have changed (tables or channels).
    pub fn pids_generation(&self) -> (u64, u64) {
        (self.core.monitor.generation(), self.core.routes.generation)
    }

    /// The PIDs this demux needs from its input, sorted: the tables it follows (PAT, CAT,
    /// NIT, SDT, EIT, TDT/TOT and every PMT, so the multiplex's whole service list stays
    /// known) and every PID a channel passes (its ES, PCR and ECM PIDs). A tuner delivers
    /// only these and the kernel drops the rest (87 % of a mux is often other services
    /// and stuffing).
    pub fn wanted_pids(&self, out: &mut Vec<u16>) {
        out.clear();
        let model = &self.core.monitor.model;
        out.extend_from_slice(&[
            pids::PAT,
            pids::CAT,
            model.network_pid(),
            pids::SDT,
            pids::EIT,
            pids::TDT,
        ]);
        out.extend(model.programs().values().copied());
        for (_, ch) in &self.core.channels {
            out.extend(ch.passed_pids());
        }
        out.retain(|&p| p < pids::NULL);
        out.sort_unstable();
        out.dedup();
    }

    /// Packets read so far.
    pub fn position(&self) -> u64 {
        self.core.position
    }

    /// Seals half-filled datagrams whose first packet is due: by the PCR schedule plus
    /// `allowance_ns`, or at the latest `max_wait_ns` after it arrived. A datagram fills as
    /// long as waiting costs nothing, and a quiet channel's packets still leave on time.
    pub fn seal_due(&mut self, now_ns: i64, allowance_ns: i64, max_wait_ns: i64) {
        let core = &mut self.core;
        for (_, ch) in &mut core.channels {
            let ring = ch.ring_mut();
            let Some((position, arrival)) = ring.partial_first() else {
                continue;
            };
            let due = core
                .clock
                .deadline(position, arrival, now_ns)
                .unwrap_or(i64::MAX);
            if due.saturating_add(allowance_ns) <= now_ns || now_ns - arrival >= max_wait_ns {
                ring.seal_partial();
            }
        }
    }
}
