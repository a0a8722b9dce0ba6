//! Time from PCRs: when each packet of a multiplex "happened", and when to send it.
//!
//! A multiplex is a constant-rate (or at least clock-locked) byte stream: between two PCRs of
//! one PID, packets are evenly spread in time (ISO/IEC 13818-1 §2.4.2.2). So a packet's
//! *position* (its index in the input) plus the PCRs around it give its time. We use that
//! twice: to play a file at real time, and to send each output datagram when its packets
//! were due, however bursty the input was ("a burst in is not a burst out").
//!
//! All times are nanoseconds (`i64`). "Stream time" is a jump-free timeline built from PCRs;
//! "wall time" is the caller's monotonic clock.

use crate::packet::Pcr;

/// A PCR step larger than this (or backwards) is a discontinuity, not a gap to wait out.
/// TR 101 290 allows at most 100 ms between PCRs; damaged captures go further.
const MAX_PCR_STEP_NS: u64 = 1_000_000_000;

/// A point where a position's stream time is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub position: u64,
    pub stream_ns: i64,
}

/// Builds a jump-free stream timeline from the PCRs of one PID. Across a discontinuity
/// (the discontinuity indicator, a backwards step, a step over a second) time carries on at
/// the last measured rate, so a looping file or a splice never stalls or bursts.
#[derive(Clone, Debug)]
pub struct PcrTimeline {
    last: Option<(Anchor, Pcr)>,
    /// Nanoseconds per packet, scaled by 2^16 for sub-nanosecond resolution.
    ns_per_packet_q16: u64,
    /// A rate was measured from two consecutive PCRs (otherwise it is the fallback).
    measured: bool,
}

impl PcrTimeline {
    /// `fallback_bitrate` sets the pace until two PCRs have been seen.
    pub fn new(fallback_bitrate: u64) -> Self {
        PcrTimeline {
            last: None,
            ns_per_packet_q16: ns_per_packet_q16(fallback_bitrate.max(1)),
            measured: false,
        }
    }

    /// The most recent anchor.
    pub fn last_anchor(&self) -> Option<Anchor> {
        self.last.map(|(a, _)| a)
    }

    /// Records a PCR seen at `position`. The very first one is placed at `start_ns`.
    pub fn observe(
        &mut self,
        position: u64,
        pcr: Pcr,
        discontinuity: bool,
        start_ns: i64,
    ) -> Anchor {
        let anchor = match self.last {
            None => Anchor {
                position,
                stream_ns: start_ns,
            },
            Some((last, last_pcr)) => {
                let packets = position.saturating_sub(last.position);
                let step_ticks = pcr.ticks_since(last_pcr);
                let step_ns = Pcr::ticks_to_ns(step_ticks);
                let continuous =
                    !discontinuity && packets > 0 && step_ticks > 0 && step_ns <= MAX_PCR_STEP_NS;
                if continuous {
                    self.ns_per_packet_q16 =
                        ((u128::from(step_ns) << 16) / u128::from(packets)) as u64;
                    self.measured = true;
                    Anchor {
                        position,
                        stream_ns: last.stream_ns + step_ns as i64,
                    }
                } else {
                    Anchor {
                        position,
                        stream_ns: self.project(last, position),
                    }
                }
            }
        };
        self.last = Some((anchor, pcr));
        anchor
    }

    /// Stream time of a position after the last anchor, at the last measured rate.
    pub fn extrapolate(&self, position: u64) -> Option<i64> {
        self.last.map(|(a, _)| self.project(a, position))
    }

    fn project(&self, from: Anchor, position: u64) -> i64 {
        let packets = position as i128 - from.position as i128;
        from.stream_ns + ((packets * self.ns_per_packet_q16 as i128) >> 16) as i64
    }

    /// Whether the rate comes from two consecutive PCRs rather than the fallback.
    pub fn has_measured_rate(&self) -> bool {
        self.measured
    }

    /// The measured (or fallback) rate in bits per second.
    pub fn bitrate(&self) -> u64 {
        (((188u128 * 8 * 1_000_000_000) << 16) / u128::from(self.ns_per_packet_q16.max(1))) as u64
    }

    /// Forgets PCR history but keeps the rate, for when the reference PID changes.
    pub fn rebase(&mut self) {
        self.last = None;
    }
}

fn ns_per_packet_q16(bitrate: u64) -> u64 {
    (((188u128 * 8 * 1_000_000_000) << 16) / u128::from(bitrate)) as u64
}

/// Tuning for [`MuxClock`].
#[derive(Clone, Copy, Debug)]
pub struct ClockConfig {
    /// Added to every deadline: room for processing and scheduling slack.
    pub min_latency_ns: i64,
    /// A datagram is never held longer than this after it arrived. Beyond it the input is not
    /// real time (a file pushed as fast as possible, a sender running fast) and the output
    /// follows arrival instead.
    pub max_hold_ns: i64,
    /// How long to wait for the PCR that ends a stretch before extrapolating.
    pub pcr_wait_ns: i64,
    /// Rate assumed before PCRs give one.
    pub fallback_bitrate: u64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            min_latency_ns: 5_000_000,
            max_hold_ns: 1_000_000_000,
            pcr_wait_ns: 150_000_000,
            fallback_bitrate: 10_000_000,
        }
    }
}

const ANCHORS: usize = 64;
/// Jitter is measured over two buckets of this much stream time.
const JITTER_BUCKET_NS: i64 = 4_000_000_000;
/// The added delay shrinks by at most 1/128 of elapsed stream time (about 0.8 %), so a delay
/// that is no longer needed drains without a burst.
const JITTER_DECAY_SHIFT: u32 = 7;

/// The pacing clock of one multiplex: which PID's PCRs set the time, the recent anchors
/// for interpolation, and the delay that absorbs input jitter.
///
/// The delay is the largest lateness seen lately: how long after its PCR-schedule time a
/// packet could first be placed (it arrived, and so did the PCR after it). Sending every
/// packet at `stream time + delay` means none is scheduled before it could be, so the
/// spacing the PCRs give is kept exactly, and a burst that brought 100 ms of data at once
/// leaves over 100 ms.
#[derive(Clone, Debug)]
pub struct MuxClock {
    config: ClockConfig,
    timeline: PcrTimeline,
    reference_pid: Option<u16>,
    reference_seen_ns: i64,
    anchors: [Anchor; ANCHORS],
    anchor_count: usize,
    newest: usize,
    /// Arrival of the newest anchor: until a second PCR gives a rate, time past the first
    /// one is measured by arrival rather than guessed from the fallback rate.
    newest_arrival_ns: i64,
    delay: Option<i64>,
    bucket_start: i64,
    bucket_max: i64,
    previous_bucket_max: i64,
    last_sample_stream_ns: i64,
}

impl MuxClock {
    pub fn new(config: ClockConfig) -> Self {
        MuxClock {
            config,
            timeline: PcrTimeline::new(config.fallback_bitrate),
            reference_pid: None,
            reference_seen_ns: 0,
            anchors: [Anchor {
                position: 0,
                stream_ns: 0,
            }; ANCHORS],
            anchor_count: 0,
            newest: 0,
            newest_arrival_ns: 0,
            delay: None,
            bucket_start: 0,
            bucket_max: i64::MIN,
            previous_bucket_max: i64::MIN,
            last_sample_stream_ns: 0,
        }
    }

    pub fn config(&self) -> &ClockConfig {
        &self.config
    }

    /// The PID whose PCRs drive the clock.
    pub fn reference_pid(&self) -> Option<u16> {
        self.reference_pid
    }

    /// The jitter delay currently applied, for diagnostics.
    pub fn delay_ns(&self) -> Option<i64> {
        self.delay
    }

    /// The multiplex rate measured from PCRs (or the fallback).
    pub fn bitrate(&self) -> u64 {
        self.timeline.bitrate()
    }

    /// Feeds a PCR seen at `position`, in a chunk that arrived at `arrival_ns`.
    pub fn on_pcr(
        &mut self,
        pid: u16,
        position: u64,
        pcr: Pcr,
        discontinuity: bool,
        arrival_ns: i64,
    ) {
        let mut discontinuity = discontinuity;
        match self.reference_pid {
            Some(r) if r == pid => {}
            // Another program's PCR: ignore it while the reference is alive.
            Some(_) if arrival_ns - self.reference_seen_ns < 1_000_000_000 => return,
            _ => {
                // First PCR, or the reference PID went quiet: follow this one. Its clock
                // need not match the old one, hence a discontinuity.
                discontinuity |= self.reference_pid.is_some();
                self.reference_pid = Some(pid);
            }
        }
        self.reference_seen_ns = arrival_ns;
        let start = self.timeline.extrapolate(position).unwrap_or(arrival_ns);
        let previous = (self.anchor_count > 0).then(|| self.newest_anchor());
        let anchor = self.timeline.observe(position, pcr, discontinuity, start);
        self.newest = (self.newest + 1) % ANCHORS;
        self.anchors[self.newest] = anchor;
        self.anchor_count = (self.anchor_count + 1).min(ANCHORS);
        self.newest_arrival_ns = arrival_ns;
        // Packets since the previous anchor could not be placed until this PCR arrived;
        // the earliest of them was due at the previous anchor's time. That wait is part of
        // the delay, or every stretch between PCRs would leave as one late burst.
        let placeable_since = previous.map_or(anchor.stream_ns, |p| p.stream_ns);
        self.track_delay(arrival_ns - placeable_since, anchor.stream_ns);
    }

    fn track_delay(&mut self, sample: i64, stream_ns: i64) {
        if stream_ns - self.bucket_start > JITTER_BUCKET_NS {
            self.previous_bucket_max = self.bucket_max;
            self.bucket_max = sample;
            self.bucket_start = stream_ns;
        } else {
            self.bucket_max = self.bucket_max.max(sample);
        }
        let target = self.bucket_max.max(self.previous_bucket_max);
        let elapsed = (stream_ns - self.last_sample_stream_ns).max(0);
        self.last_sample_stream_ns = stream_ns;
        let delay = match self.delay {
            None => target,
            Some(d) if target >= d => target,
            Some(d) => (d - (elapsed >> JITTER_DECAY_SHIFT)).max(target),
        };
        if delay - sample > self.config.max_hold_ns {
            // Input runs ahead of its own PCRs: not real time. Follow arrival.
            self.delay = Some(sample);
            self.bucket_max = sample;
            self.previous_bucket_max = sample;
            self.bucket_start = stream_ns;
        } else {
            self.delay = Some(delay);
        }
    }

    /// Stream time of a position: interpolated between anchors, extrapolated past the last
    /// one, or the arrival time when there are no PCRs at all. For scheduling PSI.
    pub fn stream_time(&self, position: u64, arrival_ns: i64) -> i64 {
        if let Some(t) = self.interpolate(position) {
            return t;
        }
        if self.anchor_count == 0 {
            return arrival_ns;
        }
        if !self.timeline.has_measured_rate() {
            return self.newest_anchor().stream_ns + (arrival_ns - self.newest_arrival_ns).max(0);
        }
        self.timeline.extrapolate(position).unwrap_or(arrival_ns)
    }

    /// When the packet at `position` (which arrived at `arrival_ns`) should be sent, in wall
    /// time; `None` while waiting for the PCR that will place it.
    pub fn deadline(&self, position: u64, arrival_ns: i64, now_ns: i64) -> Option<i64> {
        let fallback = arrival_ns + self.config.min_latency_ns;
        let Some(delay) = self.delay else {
            return Some(fallback);
        };
        if !self.timeline.has_measured_rate() {
            // One PCR per loop of a short file, or only discontinuities: no rate to
            // interpolate with, so the input's own pace is the best guide.
            return Some(fallback);
        }
        let stream_ns = match self.interpolate(position) {
            Some(t) => t,
            None if position > self.newest_anchor().position => {
                if now_ns - arrival_ns < self.config.pcr_wait_ns {
                    return None;
                }
                self.timeline.extrapolate(position)?
            }
            // Older than every anchor we keep: long overdue.
            None => return Some(fallback),
        };
        let due = stream_ns + delay + self.config.min_latency_ns;
        Some(due.min(arrival_ns + self.config.max_hold_ns))
    }

    fn newest_anchor(&self) -> Anchor {
        self.anchors[self.newest]
    }

    fn interpolate(&self, position: u64) -> Option<i64> {
        if self.anchor_count == 0 {
            return None;
        }
        let mut later = self.anchors[self.newest];
        if position > later.position {
            return None;
        }
        if position == later.position {
            return Some(later.stream_ns);
        }
        for k in 1..self.anchor_count {
            let earlier = self.anchors[(self.newest + ANCHORS - k) % ANCHORS];
            if earlier.position <= position {
                let span = (later.position - earlier.position) as i128;
                let into = (position - earlier.position) as i128;
                let dt = (later.stream_ns - earlier.stream_ns) as i128;
                return Some(earlier.stream_ns + (dt * into / span.max(1)) as i64);
            }
            later = earlier;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;
    /// 27 MHz ticks per millisecond.
    const TICKS_PER_MS: u64 = 27_000;

    #[test]
    fn timeline_follows_pcr_and_bridges_discontinuities() {
        let mut t = PcrTimeline::new(1_000_000);
        let a = t.observe(0, Pcr(1_000_000), false, 5_000);
        assert_eq!(a.stream_ns, 5_000);
        // 100 packets in 40 ms.
        let b = t.observe(100, Pcr(1_000_000 + 40 * TICKS_PER_MS), false, 0);
        assert_eq!(b.stream_ns, 5_000 + 40 * MS);
        // Jump backwards (a file looped): time continues at 0.4 ms per packet.
        let c = t.observe(150, Pcr(7), false, 0);
        assert_eq!(c.stream_ns, b.stream_ns + 20 * MS);
        // And the indicator forces the same even for a plausible step.
        let d = t.observe(200, Pcr(7 + 10 * TICKS_PER_MS), true, 0);
        assert_eq!(d.stream_ns, c.stream_ns + 20 * MS);
        assert_eq!(t.bitrate(), 188 * 8 * 100 * 25); // 100 packets per 40 ms
    }

    #[test]
    fn timeline_survives_pcr_wrap() {
        let mut t = PcrTimeline::new(1_000_000);
        let near_end = Pcr(Pcr::MODULUS - 10 * TICKS_PER_MS);
        t.observe(0, near_end, false, 0);
        let after = t.observe(50, Pcr(10 * TICKS_PER_MS), false, 0);
        assert_eq!(after.stream_ns, 20 * MS);
    }

    /// A stream whose packets have PCR-derived times 1 ms apart (one PCR per 10 packets),
    /// delivered in bursts: every 100 ms of it arrives at once.
    #[test]
    fn a_burst_in_is_not_a_burst_out() {
        let mut clock = MuxClock::new(ClockConfig::default());
        let mut deadlines = Vec::new();
        let mut pending = Vec::new();
        for burst in 0..20i64 {
            let arrival = 1_000 * MS + (burst + 1) * 100 * MS; // after the whole burst "happened"
            for i in 0..100u64 {
                let position = burst as u64 * 100 + i;
                if position.is_multiple_of(10) {
                    clock.on_pcr(
                        0x100,
                        position,
                        Pcr(position * TICKS_PER_MS),
                        false,
                        arrival,
                    );
                }
                pending.push((position, arrival));
            }
            // Every packet that can be placed is placed.
            pending.retain(|&(position, arrival)| {
                match clock.deadline(position, arrival, arrival) {
                    Some(d) => {
                        // Never scheduled before it arrived.
                        assert!(d >= arrival, "position {position} due before arrival");
                        deadlines.push((position, d));
                        false
                    }
                    None => true,
                }
            });
        }
        // After the first burst has set the delay, packets leave 1 ms apart, as their PCRs say.
        let steady: Vec<_> = deadlines.iter().filter(|(p, _)| *p >= 100).collect();
        assert!(steady.len() > 1500);
        for w in steady.windows(2) {
            let gap = w[1].1 - w[0].1;
            assert!(
                (MS - 50_000..=MS + 50_000).contains(&gap),
                "gap {gap} at {:?}",
                w[0]
            );
        }
    }

    /// Real-time input, one packet per millisecond, a PCR every 40: a packet can only be
    /// placed when the PCR after it arrives, and it must then still be in the future, or the
    /// output would leave in one burst per PCR interval.
    #[test]
    fn real_time_input_is_never_scheduled_in_the_past() {
        let mut clock = MuxClock::new(ClockConfig::default());
        let mut waiting: Vec<(u64, i64)> = Vec::new();
        let mut late = 0;
        for p in 0..4000u64 {
            let now = p as i64 * MS;
            if p % 40 == 0 {
                clock.on_pcr(0x100, p, Pcr(p * TICKS_PER_MS), false, now);
            }
            waiting.push((p, now));
            waiting.retain(
                |&(position, arrival)| match clock.deadline(position, arrival, now) {
                    Some(d) => {
                        if position > 200 && d < now {
                            late += 1;
                        }
                        false
                    }
                    None => true,
                },
            );
        }
        assert_eq!(late, 0, "packets scheduled in the past");
        let delay = clock.delay_ns().unwrap();
        assert!(
            (39 * MS..=41 * MS).contains(&delay),
            "the delay is one PCR interval: {delay}"
        );
    }

    #[test]
    fn input_faster_than_its_pcrs_is_followed_not_buffered() {
        // 10 s of PCR time delivered in 1 s: nothing may be held for long.
        let mut clock = MuxClock::new(ClockConfig::default());
        for k in 0..1000u64 {
            let arrival = k as i64 * MS;
            clock.on_pcr(0x100, k * 10, Pcr(k * 10 * TICKS_PER_MS), false, arrival);
            let d = clock.deadline(k * 10, arrival, arrival).unwrap();
            assert!(
                d - arrival <= clock.config().max_hold_ns,
                "held {} ms at {k}",
                (d - arrival) / MS
            );
        }
    }

    #[test]
    fn without_pcr_packets_leave_on_arrival() {
        let clock = MuxClock::new(ClockConfig::default());
        assert_eq!(clock.deadline(5, 100 * MS, 100 * MS), Some(105 * MS));
        assert_eq!(clock.stream_time(5, 100 * MS), 100 * MS);
    }

    #[test]
    fn tail_after_last_pcr_waits_then_extrapolates() {
        let mut clock = MuxClock::new(ClockConfig::default());
        clock.on_pcr(0x100, 0, Pcr(0), false, 0);
        clock.on_pcr(0x100, 10, Pcr(10 * TICKS_PER_MS), false, 10 * MS);
        assert_eq!(clock.deadline(15, 10 * MS, 10 * MS), None);
        let late = clock.deadline(15, 10 * MS, 10 * MS + 200 * MS).unwrap();
        let on_time = clock.deadline(10, 10 * MS, 10 * MS).unwrap();
        assert_eq!(late - on_time, 5 * MS);
    }

    #[test]
    fn a_second_program_clock_does_not_disturb_the_reference() {
        let mut clock = MuxClock::new(ClockConfig::default());
        for k in 0..10u64 {
            clock.on_pcr(
                0x100,
                k * 10,
                Pcr(k * 10 * TICKS_PER_MS),
                false,
                (k * 10) as i64 * MS,
            );
            clock.on_pcr(
                0x200,
                k * 10 + 5,
                Pcr(999_999_999 + k),
                false,
                (k * 10) as i64 * MS,
            );
        }
        assert_eq!(clock.reference_pid(), Some(0x100));
        assert_eq!(clock.stream_time(45, 0) - clock.stream_time(40, 0), 5 * MS);
    }
}
