//! Cutting one channel's SPTS into HLS media segments.
//!
//! An HLS segment is a piece of the transport stream that a player can start from on its
//! own. So every segment here begins with a PAT and a PMT (written by the segmenter, from
//! the last ones seen in the stream) and then the first TS packet of a PES packet holding
//! a random access point (see [`crate::scan`]). Everything else is passed in the order it
//! came.
//!
//! Where to cut: at a random access point (RAP) of the "primary" stream, the first video
//! stream of the PMT, or, for radio, its first audio stream, where every PES packet is a
//! RAP. A RAP ends the segment when waiting for the next one would make it longer than the
//! target duration (the distance between RAPs is measured as they come), so segments stay
//! at or under the target when the encoder's GOP allows. When no RAP comes for three
//! target durations, the segment is cut at a PES start anyway (a forced cut); likewise a
//! channel whose RAPs are never recognised starts, late, at a PES start rather than never.
//! Nothing before the first RAP (or that late start) goes into a segment.
//!
//! Whether a PES packet starts at a RAP is known only after looking into it (parameter
//! sets and SEI come before the picture's first slice), and the TS packets of the PES
//! that were already taken must move to the next segment if it is one. So from the first
//! TS packet of a video PES until the answer, the packets that arrive (of every PID, in
//! their order) are *held* at the end of the buffer; the answer comes within the first TS
//! packet almost always, and after 64 KiB at the latest.
//!
//! Time: durations are PTS differences of the primary stream (33-bit wrap handled). A
//! jump of the PTS by more than 10 s, or a PCR carrying the `discontinuity_indicator` (the
//! remuxer sets it when its input loops or retunes), is a discontinuity: the segment ends
//! there, the next one (again at a RAP) is marked so the playlist tells players to reset
//! their decoders. `EXT-X-PROGRAM-DATE-TIME` comes from the caller's wall clock at the
//! first segment (and again after each discontinuity), then advances by PTS durations, so
//! it does not jitter with the caller's scheduling.
//!
//! PAT and PMT packets carry continuity counters of the segmenter's own (the ones passed
//! and the ones written at segment starts alike), so segments played back to back have no
//! counter errors on those PIDs. The other PIDs keep the stream's counters.
//!
//! Memory is bounded: the held packets (64 KiB of video, 4 MiB of all PIDs), the segment
//! (cut at the next PES start over `max_segment_bytes`, packets dropped past 1.25 times
//! that). The buffers are reused from segment to segment; a segment's bytes are copied
//! once, into the [`Segment`] handed out.

use crate::codecs::{self, Audio};
use crate::pes::{self, HeaderFeed, PTS_HZ, PesHeader, pts_delta};
use crate::scan::{RapScanner, Verdict, VideoCodec, VideoParams};
use bytes::Bytes;
use dvbgate_ts::descriptor::{Descriptors, tag};
use dvbgate_ts::packet::{self, PACKET_SIZE, RawPacket, SYNC_BYTE, pids};
use dvbgate_ts::section::{Section, SectionAssembler};
use dvbgate_ts::tables::pmt::{StreamKind, classify};
use dvbgate_ts::tables::{pat, pmt, table_id};
use dvbgate_ts::write::Packetizer;
use std::collections::VecDeque;
use std::time::Duration;

/// The target duration may be set between these (RFC 8216 allows more; players' buffers
/// and zapping time do not).
pub const MIN_TARGET: Duration = Duration::from_secs(1);
pub const MAX_TARGET: Duration = Duration::from_secs(10);

/// A PTS step larger than this, either way, is a discontinuity (a file loop, a retune).
const PTS_JUMP_TICKS: i64 = 10 * PTS_HZ as i64;
/// A RAP this far before its segment's start is time going backwards, not reordering.
const BACKWARDS_TICKS: i64 = PTS_HZ as i64;
/// Video bytes of one PES looked at before deciding it is not a RAP.
const MAX_SCAN_BYTES: usize = 64 * 1024;
/// Held bytes (all PIDs) before deciding the PES in question is not a RAP.
const MAX_HELD_BYTES: usize = 4 * 1024 * 1024;
/// RAP spacings remembered for the GOP estimate.
const SPACINGS: usize = 8;
/// Audio streams followed for CODECS; a PMT with more is unusual and the rest are ignored.
const MAX_AUDIO: usize = 16;
/// Audio frame headers looked for in this many PES packets before settling for what the
/// PMT says.
const AUDIO_PROBES: u8 = 32;

/// How a [`Segmenter`] cuts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmenterConfig {
    /// Segments aim at this duration and stay at or under it when the stream's GOP allows.
    /// 1 s to 10 s; default 4 s.
    pub target: Duration,
    /// A segment growing past this is cut at the next PES start of its primary stream
    /// (counted in [`SegmenterStats::oversize_cuts`]). 1 MiB to 1 GiB; default 32 MiB,
    /// 64 s of a 4 Mbit/s channel.
    pub max_segment_bytes: usize,
    /// Cut the very first segment at the first random access point at least a second into
    /// it, rather than near the target: a player that asked for a channel not yet running
    /// gets a playable playlist after about one GOP instead of a whole target duration.
    /// Default false.
    pub quick_start: bool,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        SegmenterConfig {
            target: Duration::from_secs(4),
            max_segment_bytes: 32 << 20,
            quick_start: false,
        }
    }
}

impl SegmenterConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_TARGET..=MAX_TARGET).contains(&self.target) {
            return Err(ConfigError::Target {
                target: self.target,
            });
        }
        if !(1 << 20..=1 << 30).contains(&self.max_segment_bytes) {
            return Err(ConfigError::MaxSegmentBytes {
                bytes: self.max_segment_bytes,
            });
        }
        Ok(())
    }
}

/// A configuration the segmenter or the window cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("segment target duration {target:?} is outside 1 s..=10 s")]
    Target { target: Duration },
    #[error("max_segment_bytes {bytes} is outside 1 MiB..=1 GiB")]
    MaxSegmentBytes { bytes: usize },
    #[error("window length {len} is outside 1..=100 segments")]
    WindowLength { len: usize },
    #[error("window grace {grace} is outside 0..=100 segments")]
    WindowGrace { grace: usize },
}

/// One finished media segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Media sequence number: consecutive, never going back.
    pub sequence: u64,
    /// From the primary stream's PTS (the wall clock only where the stream has none).
    pub duration: Duration,
    /// Wall-clock time of the segment's first picture, Unix milliseconds.
    pub program_date_time_ms: i64,
    /// The stream was discontinuous before this segment (`EXT-X-DISCONTINUITY`).
    pub discontinuity: bool,
    /// Whole TS packets: PAT, PMT, then the stream from a PES start on.
    pub data: Bytes,
    /// False after a forced cut: the segment starts at a PES start that is not a RAP.
    pub starts_with_random_access: bool,
}

/// Counters and measurements of one segmenter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmenterStats {
    /// Segments finished.
    pub segments: u64,
    /// Cuts (or starts) at a PES that is not a RAP because none came for 3 target durations.
    pub forced_cuts: u64,
    /// Cuts because the segment grew past `max_segment_bytes`.
    pub oversize_cuts: u64,
    /// PCR discontinuity indicators, PTS jumps and changes of the primary stream.
    pub discontinuities: u64,
    /// Packets dropped while waiting for the first RAP (at start, after a discontinuity).
    pub dropped_before_rap: u64,
    /// Packets dropped because a segment grew past 1.25 × `max_segment_bytes`.
    pub dropped_oversize: u64,
    /// Video PES packets given up on (64 KiB without a decision) and taken as not RAPs.
    pub undecided_pes: u64,
    /// Packets without a sync byte.
    pub invalid_packets: u64,
    /// Scrambled packets of the primary stream: a channel that has only these cannot be
    /// segmented (nothing in it can be recognised as a RAP).
    pub scrambled_packets: u64,
    /// PAT/PMT sections with CRC or structure errors.
    pub psi_errors: u64,
    /// PMT contents that changed after the first.
    pub pmt_changes: u64,
    /// The latest estimate of the distance between RAPs (the GOP duration for video):
    /// the longest of the last 8 distances.
    pub rap_interval: Option<Duration>,
    /// The longest segment finished so far.
    pub longest_segment: Duration,
}

/// What the primary stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PrimaryKind {
    /// Video; `None` for codecs the scanner does not know (VC-1, MPEG-4 part 2...), whose
    /// RAPs are taken from the adaptation field's `random_access_indicator`.
    Video(Option<VideoCodec>),
    /// Audio-only service: every PES start is a RAP.
    Audio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Primary {
    pid: u16,
    stream_type: u8,
    kind: PrimaryKind,
}

#[derive(Clone, Copy, Debug)]
struct AudioTrack {
    pid: u16,
    codec: Audio,
    /// ADTS headers still to look for (0: known, or given up).
    probes_left: u8,
}

/// The segment being built.
#[derive(Clone, Copy, Debug)]
struct Current {
    start_pts: Option<u64>,
    start_wall_ms: i64,
    last_wall_ms: i64,
    /// Latest primary PTS seen, relative to `start_pts`.
    max_rel_ticks: i64,
    random_access: bool,
    discontinuity: bool,
    program_date_time_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    Rap,
    Forced,
    Oversize,
}

/// The shortest first segment with [`SegmenterConfig::quick_start`]: one second.
const QUICK_START_TICKS: i64 = 90_000;

/// See the module docs. One per channel.
pub struct Segmenter {
    target_ticks: i64,
    max_bytes: usize,
    quick_start: bool,
    next_sequence: u64,

    pat_asm: SectionAssembler,
    pmt_asm: SectionAssembler,
    /// The last PAT section that lists our program, and its CRC.
    pat_section: Vec<u8>,
    pat_crc: Option<u32>,
    /// (program_number, PMT PID) followed.
    program: Option<(u16, u16)>,
    pmt_section: Vec<u8>,
    pmt_crc: Option<u32>,
    /// The PID `pmt_section` came from (it is written there at segment starts).
    pmt_section_pid: u16,
    /// Our continuity counters for PAT and PMT PIDs: (pid, next counter).
    psi_cc: [(u16, u8); 4],
    pcr_pid: u16,
    primary: Option<Primary>,
    audio: Vec<AudioTrack>,
    video_params: Option<VideoParams>,

    /// The primary stream's current PES packet.
    pes: PesHeader,
    scanner: Option<RapScanner>,
    pes_rai: bool,
    pes_scanned: usize,
    /// Offset in `buf` where the undecided PES (and everything after it) begins.
    held: Option<usize>,
    held_wall_ms: i64,

    /// The segment being built, then the held packets. Empty before the first RAP except
    /// for held packets.
    buf: Vec<u8>,
    /// Bytes of `buf` given their final counters and handed to [`Segmenter::last_output`].
    committed: usize,
    /// What the last `push` added to the output stream.
    live: Vec<u8>,
    current: Option<Current>,
    ready: VecDeque<Segment>,

    last_pts: Option<u64>,
    last_dts: Option<u64>,
    /// Smallest positive step between primary DTSs (a frame), for the last segment's end.
    frame_ticks: i64,
    last_rap_pts: Option<u64>,
    spacings: [i64; SPACINGS],
    spacing_count: usize,
    /// PTS of the first PES seen while waiting for a RAP.
    waiting_since: Option<u64>,
    /// Wall clock (ms) of the first segment since the last discontinuity, and the PTS
    /// ticks of the segments finished since.
    anchor: Option<(i64, u64)>,
    pending_discontinuity: bool,
    started: bool,
    stats: SegmenterStats,
}

impl Segmenter {
    /// `first_sequence` is the media sequence number of the first segment; the caller
    /// chooses it so that a restarted channel continues upwards.
    pub fn new(config: SegmenterConfig, first_sequence: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Segmenter {
            target_ticks: pes::duration_to_ticks(config.target) as i64,
            max_bytes: config.max_segment_bytes,
            quick_start: config.quick_start,
            next_sequence: first_sequence,
            pat_asm: SectionAssembler::new(),
            pmt_asm: SectionAssembler::new(),
            pat_section: Vec::new(),
            pat_crc: None,
            program: None,
            pmt_section: Vec::new(),
            pmt_crc: None,
            pmt_section_pid: pids::NULL,
            psi_cc: [(pids::NULL, 0); 4],
            pcr_pid: pids::NULL,
            primary: None,
            audio: Vec::new(),
            video_params: None,
            pes: PesHeader::default(),
            scanner: None,
            pes_rai: false,
            pes_scanned: 0,
            held: None,
            held_wall_ms: 0,
            buf: Vec::new(),
            committed: 0,
            live: Vec::new(),
            current: None,
            ready: VecDeque::new(),
            last_pts: None,
            last_dts: None,
            frame_ticks: 0,
            last_rap_pts: None,
            spacings: [0; SPACINGS],
            spacing_count: 0,
            waiting_since: None,
            anchor: None,
            pending_discontinuity: false,
            started: false,
            stats: SegmenterStats::default(),
        })
    }

    /// The configured target duration.
    pub fn target(&self) -> Duration {
        pes::ticks_to_duration(self.target_ticks as u64)
    }

    /// The sequence number the next finished segment will get.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Feeds one packet of the SPTS, produced at `wall_ms` (Unix milliseconds, the
    /// caller's clock). Returns a segment when this packet finished one. (In the rare case
    /// of one packet finishing two, such as a forced cut followed at once by a PTS jump,
    /// the second comes with the next packet.)
    pub fn push(&mut self, packet: &RawPacket, wall_ms: i64) -> Option<Segment> {
        self.live.clear();
        self.step(packet, wall_ms);
        self.ready.pop_front()
    }

    /// Ends the stream (the channel stops): returns the segment being built, if it has
    /// begun (and any segment still queued: call until `None`). Pushing more afterwards
    /// starts afresh at the next RAP, marked as a discontinuity.
    pub fn finish(&mut self) -> Option<Segment> {
        self.live.clear();
        self.abandon_held();
        if let Some(cur) = self.current {
            let duration = self.duration_to_end(&cur);
            self.close(self.buf.len(), duration);
            self.buf.clear();
        }
        self.reset_timing();
        self.pending_discontinuity = self.started;
        self.ready.pop_front()
    }

    /// The committed bytes of the segment being built: PAT, PMT, a RAP and what followed,
    /// up to the packets still held for a decision. Empty before the first RAP. A new
    /// HTTP client gets this, then each [`Segmenter::last_output`], and sees the same
    /// bytes as the segments (continuity counters included).
    pub fn in_progress(&self) -> &[u8] {
        if self.current.is_some() {
            &self.buf[..self.committed]
        } else {
            &[]
        }
    }

    /// The bytes the last [`Segmenter::push`] (or [`Segmenter::finish`]) added to the
    /// output stream: usually the packet itself, nothing while it is held or dropped,
    /// PAT and PMT at a cut, several packets when a decision releases held ones.
    pub fn last_output(&self) -> &[u8] {
        &self.live
    }

    /// The RFC 6381 `CODECS` list of the channel, once the parameter sets and audio
    /// headers that name the formats have been seen; `None` while the video codec is
    /// unknown, or when a format has no name HLS players know (see [`crate::codecs`]).
    pub fn codecs(&self) -> Option<String> {
        let video = match self.primary {
            Some(Primary {
                kind: PrimaryKind::Video(_),
                ..
            }) => Some(self.video_params.and_then(codecs::video)),
            Some(Primary {
                kind: PrimaryKind::Audio,
                ..
            }) => None,
            None => return None,
        };
        let audio: Vec<Audio> = self.audio.iter().map(|t| t.codec).collect();
        codecs::codecs_attribute(video, &audio)
    }

    pub fn stats(&self) -> SegmenterStats {
        self.stats
    }

    // ---- packet handling ------------------------------------------------------------

    fn step(&mut self, p: &RawPacket, wall_ms: i64) {
        if p[0] != SYNC_BYTE {
            self.stats.invalid_packets += 1;
            return;
        }
        let pid = packet::pid(p);
        if pid == pids::NULL {
            return;
        }
        let damaged = packet::transport_error(p);
        if !damaged {
            if pid == pids::PAT {
                self.on_pat(p);
            } else if self.program.is_some_and(|(_, pmt_pid)| pmt_pid == pid) {
                self.on_pmt(p);
            }
            if pid == self.pcr_pid && packet::discontinuity_indicator(p) && packet::pcr(p).is_some()
            {
                self.abandon_held();
                self.discontinuity_before(self.buf.len());
            }
            if packet::payload_unit_start(p) {
                self.probe_audio(pid, p);
            }
        }
        if let Some(cur) = &mut self.current {
            cur.last_wall_ms = wall_ms;
        }
        let primary = !damaged && self.primary.is_some_and(|pr| pr.pid == pid);
        if primary && packet::is_scrambled(p) {
            self.stats.scrambled_packets += 1;
        }
        if primary && packet::payload_unit_start(p) {
            self.primary_pes_start(p, wall_ms);
        } else if self.append(p) && primary && self.held.is_some() {
            self.feed_primary(p, wall_ms);
        }
    }

    /// Appends a packet to the buffer (committing it unless held). False if dropped.
    fn append(&mut self, p: &RawPacket) -> bool {
        if self.current.is_none() && self.held.is_none() {
            self.stats.dropped_before_rap += 1;
            return false;
        }
        if self.buf.len() >= self.max_bytes + self.max_bytes / 4 {
            self.stats.dropped_oversize += 1;
            return false;
        }
        self.buf.extend_from_slice(p);
        match self.held {
            None => self.commit(),
            Some(at) if self.buf.len() - at > MAX_HELD_BYTES => {
                self.stats.undecided_pes += 1;
                let wall = self.held_wall_ms;
                self.resolve(false, wall);
            }
            Some(_) => {}
        }
        true
    }

    /// Gives the bytes after `committed` their final PSI counters and hands them out.
    fn commit(&mut self) {
        let (psi_cc, pmt_pid) = (&mut self.psi_cc, self.program.map(|(_, p)| p));
        for p in self.buf[self.committed..].chunks_exact_mut(PACKET_SIZE) {
            let p: &mut RawPacket = p.try_into().expect("chunks of PACKET_SIZE");
            let pid = packet::pid(p);
            if pid == pids::PAT || Some(pid) == pmt_pid || pid == self.pmt_section_pid {
                renumber(psi_cc, p);
            }
        }
        self.live.extend_from_slice(&self.buf[self.committed..]);
        self.committed = self.buf.len();
    }

    fn primary_pes_start(&mut self, p: &RawPacket, wall_ms: i64) {
        if self.held.is_some() {
            // The previous PES ended without a decision.
            let verdict = self
                .scanner
                .as_mut()
                .map_or(Verdict::NotRandomAccess, RapScanner::finish);
            self.resolve(verdict == Verdict::RandomAccess, wall_ms);
        }
        self.pes.reset();
        if let Some(s) = &mut self.scanner {
            s.reset();
        }
        self.pes_scanned = 0;
        self.pes_rai = random_access_indicator(p);
        self.held = Some(self.buf.len());
        self.held_wall_ms = wall_ms;
        if !self.append(p) {
            self.held = None;
            return;
        }
        if self.held.is_some() {
            self.feed_primary(p, wall_ms);
        }
    }

    /// Reads a packet of the held PES until its RAP status is known.
    fn feed_primary(&mut self, p: &RawPacket, wall_ms: i64) {
        let Some(mut data) = packet::payload(p) else {
            return;
        };
        let Some(primary) = self.primary else {
            return;
        };
        if packet::is_scrambled(p) {
            self.resolve(false, wall_ms);
            return;
        }
        if !self.pes.is_done() {
            match self.pes.feed(data) {
                HeaderFeed::NeedMore => return,
                HeaderFeed::Invalid => {
                    self.resolve(false, wall_ms);
                    return;
                }
                HeaderFeed::Done { es_offset } => {
                    data = &data[es_offset..];
                    match primary.kind {
                        PrimaryKind::Audio => {
                            self.resolve(true, wall_ms);
                            return;
                        }
                        PrimaryKind::Video(None) => {
                            self.resolve(self.pes_rai, wall_ms);
                            return;
                        }
                        PrimaryKind::Video(Some(_)) => {}
                    }
                }
            }
        }
        let Some(scanner) = self.scanner.as_mut() else {
            self.resolve(false, wall_ms);
            return;
        };
        let verdict = scanner.feed(data);
        self.pes_scanned += data.len();
        match verdict {
            Verdict::RandomAccess => self.resolve(true, wall_ms),
            Verdict::NotRandomAccess => self.resolve(false, wall_ms),
            Verdict::Undecided if self.pes_scanned >= MAX_SCAN_BYTES => {
                self.stats.undecided_pes += 1;
                self.resolve(false, wall_ms);
            }
            Verdict::Undecided => {}
        }
    }

    /// The held PES is (`rap`) or is not a random access point: cut, start, keep or drop.
    fn resolve(&mut self, rap: bool, wall_ms: i64) {
        let Some(mut held) = self.held.take() else {
            return;
        };
        if let Some(params) = self.scanner.as_ref().and_then(RapScanner::params) {
            self.video_params = Some(params);
        }
        let pts = self.pes.pts().or(self.pes.dts());
        if let Some(pts) = pts {
            let jumped = self
                .last_pts
                .is_some_and(|last| pts_delta(last, pts).abs() > PTS_JUMP_TICKS)
                || self
                    .current
                    .and_then(|c| c.start_pts)
                    .is_some_and(|start| pts_delta(start, pts) < -BACKWARDS_TICKS);
            if jumped {
                self.discontinuity_before(held);
                held = 0;
            }
            // Decoding times advance one frame per PES; presentation times jump around
            // when pictures are reordered.
            let decoding = self.pes.dts().unwrap_or(pts);
            if let Some(last) = self.last_dts {
                let step = pts_delta(last, decoding);
                if step > 0 && step <= PTS_HZ as i64 {
                    self.frame_ticks = if self.frame_ticks == 0 {
                        step
                    } else {
                        self.frame_ticks.min(step)
                    };
                }
            }
            self.last_pts = Some(pts);
            self.last_dts = Some(decoding);
        }
        match self.current {
            None => self.resolve_waiting(rap, pts),
            Some(cur) => self.resolve_running(cur, held, rap, pts, wall_ms),
        }
    }

    fn resolve_waiting(&mut self, rap: bool, pts: Option<u64>) {
        let forced = !rap
            && matches!((pts, self.waiting_since),
                (Some(p), Some(w)) if pts_delta(w, p) >= 3 * self.target_ticks);
        if self.waiting_since.is_none() {
            self.waiting_since = pts;
        }
        if rap || forced {
            if let (true, Some(p)) = (rap, pts) {
                self.note_rap(p);
            }
            if forced {
                self.stats.forced_cuts += 1;
            }
            self.start_segment(0, rap, pts);
        } else {
            self.stats.dropped_before_rap += (self.buf.len() / PACKET_SIZE) as u64;
            self.buf.clear();
            self.committed = 0;
        }
    }

    fn resolve_running(
        &mut self,
        cur: Current,
        held: usize,
        rap: bool,
        pts: Option<u64>,
        wall_ms: i64,
    ) {
        let by_pts = match (cur.start_pts, pts) {
            (Some(s), Some(p)) => Some(pts_delta(s, p)),
            _ => None,
        };
        let elapsed = by_pts.unwrap_or_else(|| wall_ticks(cur.start_wall_ms, wall_ms));
        if let (true, Some(p)) = (rap, pts) {
            self.note_rap(p);
        }
        let target = self.target_ticks;
        let estimate = self.rap_estimate().unwrap_or(0);
        let quick = self.quick_start && self.stats.segments == 0;
        let cut = if rap
            && ((quick && elapsed >= QUICK_START_TICKS)
                || elapsed >= target
                || (elapsed >= target / 2 && elapsed.saturating_add(estimate) > target))
        {
            Some(Cut::Rap)
        } else if elapsed >= 3 * target {
            Some(Cut::Forced)
        } else if held >= self.max_bytes {
            Some(Cut::Oversize)
        } else {
            None
        };
        match cut {
            Some(cut) => {
                match cut {
                    Cut::Forced => self.stats.forced_cuts += 1,
                    Cut::Oversize => self.stats.oversize_cuts += 1,
                    Cut::Rap => {}
                }
                let duration = if elapsed > 0 {
                    elapsed as u64
                } else {
                    self.duration_to_end(&cur)
                };
                self.close(held, duration);
                self.start_segment(held, rap, pts);
            }
            None => {
                if let (Some(c), Some(e)) = (&mut self.current, by_pts) {
                    c.max_rel_ticks = c.max_rel_ticks.max(e);
                }
                self.commit();
            }
        }
    }

    /// Starts a segment with PAT, PMT and `buf[from..]` (the RAP's PES and what came after).
    fn start_segment(&mut self, from: usize, rap: bool, pts: Option<u64>) {
        // A fresh buffer sized for a segment like the last, and the last one's freed: a
        // channel keeps one segment-sized buffer, not two (memory, on a box with many
        // channels), at the cost of one allocation per segment.
        let expected = self.buf.len() + self.buf.len() / 4 + 2 * PACKET_SIZE;
        let mut next = Vec::with_capacity(expected);
        write_section(&mut next, pids::PAT, &self.pat_section);
        write_section(&mut next, self.pmt_section_pid, &self.pmt_section);
        next.extend_from_slice(&self.buf[from..]);
        self.buf = next;
        self.committed = 0;
        self.commit();
        let wall = self.held_wall_ms;
        let (anchor_wall, anchor_ticks) = *self.anchor.get_or_insert((wall, 0));
        self.current = Some(Current {
            start_pts: pts,
            start_wall_ms: wall,
            last_wall_ms: wall,
            max_rel_ticks: 0,
            random_access: rap,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            program_date_time_ms: anchor_wall.saturating_add((anchor_ticks / 90) as i64),
        });
        self.waiting_since = None;
        self.started = true;
    }

    /// Finishes the current segment with `buf[..end]`, `duration_ticks` long.
    fn close(&mut self, end: usize, duration_ticks: u64) {
        let Some(cur) = self.current.take() else {
            return;
        };
        let duration = pes::ticks_to_duration(duration_ticks);
        let segment = Segment {
            sequence: self.next_sequence,
            duration,
            program_date_time_ms: cur.program_date_time_ms,
            discontinuity: cur.discontinuity,
            data: Bytes::copy_from_slice(&self.buf[..end]),
            starts_with_random_access: cur.random_access,
        };
        self.next_sequence = self.next_sequence.saturating_add(1);
        if let Some(anchor) = &mut self.anchor {
            anchor.1 = anchor.1.saturating_add(duration_ticks);
        }
        self.stats.segments += 1;
        self.stats.longest_segment = self.stats.longest_segment.max(duration);
        self.ready.push_back(segment);
    }

    /// How long the current segment is when it ends without a next RAP: to its latest
    /// PTS plus a frame, or by the wall clock when the stream has no PTS.
    fn duration_to_end(&self, cur: &Current) -> u64 {
        let by_pts = if cur.start_pts.is_some() {
            cur.max_rel_ticks.max(0) + self.frame_ticks
        } else {
            0
        };
        if by_pts > 0 {
            by_pts as u64
        } else {
            wall_ticks(cur.start_wall_ms, cur.last_wall_ms).max(0) as u64
        }
    }

    /// The held packets belong to a stream that is ending: keep them in the segment (or
    /// drop them if none is being built) without cutting.
    fn abandon_held(&mut self) {
        if self.held.take().is_some() {
            if self.current.is_some() {
                self.commit();
            } else {
                self.stats.dropped_before_rap += (self.buf.len() / PACKET_SIZE) as u64;
                self.buf.clear();
                self.committed = 0;
            }
        }
    }

    /// The stream is discontinuous before `buf[at..]`: the segment ends there, the rest
    /// waits for a RAP, and time is measured afresh.
    fn discontinuity_before(&mut self, at: usize) {
        self.stats.discontinuities += 1;
        if let Some(cur) = self.current {
            let duration = self.duration_to_end(&cur);
            self.close(at, duration);
            self.buf.drain(..at);
            self.committed = 0;
        }
        self.reset_timing();
        self.pending_discontinuity = self.started;
    }

    fn reset_timing(&mut self) {
        self.current = None;
        self.last_pts = None;
        self.last_dts = None;
        self.frame_ticks = 0;
        self.last_rap_pts = None;
        self.spacing_count = 0;
        self.waiting_since = None;
        self.anchor = None;
    }

    fn note_rap(&mut self, pts: u64) {
        if let Some(last) = self.last_rap_pts {
            let d = pts_delta(last, pts);
            if d > 0 {
                // One long gap (a stall) should not make every later segment short.
                self.spacings[self.spacing_count % SPACINGS] = d.min(3 * self.target_ticks);
                self.spacing_count += 1;
                self.stats.rap_interval = self
                    .rap_estimate()
                    .map(|t| pes::ticks_to_duration(t as u64));
            }
        }
        self.last_rap_pts = Some(pts);
    }

    /// The longest of the recent RAP spacings: waiting for the next RAP costs at most this.
    fn rap_estimate(&self) -> Option<i64> {
        let n = self.spacing_count.min(SPACINGS);
        self.spacings[..n].iter().copied().max()
    }

    // ---- tables -----------------------------------------------------------------------

    fn on_pat(&mut self, p: &RawPacket) {
        let mut found: Option<(Vec<u8>, u16, u16)> = None;
        let (known_crc, program) = (self.pat_crc, self.program);
        let errors = &mut self.stats.psi_errors;
        self.pat_asm
            .push(p, &|t| t == table_id::PAT, &mut |r| match r {
                Ok(s) if s.is_current() && Some(s.crc()) != known_crc => {
                    let Ok(info) = pat::parse(&s) else {
                        *errors += 1;
                        return;
                    };
                    let same = program
                        .and_then(|(n, _)| info.programs.iter().find(|(m, _)| *m == n).copied());
                    // A single-section PAT without our program means it is gone: follow the
                    // first one listed instead.
                    let chosen = same.or_else(|| {
                        (program.is_none() || s.last_section_number() == 0)
                            .then(|| info.programs.first().copied())
                            .flatten()
                    });
                    if let Some((number, pmt_pid)) = chosen {
                        found = Some((s.bytes().to_vec(), number, pmt_pid));
                    }
                }
                Ok(_) => {}
                Err(_) => *errors += 1,
            });
        let Some((bytes, number, pmt_pid)) = found else {
            return;
        };
        self.pat_crc = Section::new(&bytes).ok().map(|s| s.crc());
        self.pat_section = bytes;
        if self.program != Some((number, pmt_pid)) {
            if self.program.is_some_and(|(_, old)| old != pmt_pid) {
                self.pmt_asm.reset();
            }
            self.program = Some((number, pmt_pid));
            self.pmt_crc = None;
        }
    }

    fn on_pmt(&mut self, p: &RawPacket) {
        let Some((number, pmt_pid)) = self.program else {
            return;
        };
        let known_crc = self.pmt_crc;
        let mut found: Option<Vec<u8>> = None;
        let errors = &mut self.stats.psi_errors;
        self.pmt_asm
            .push(p, &|t| t == table_id::PMT, &mut |r| match r {
                Ok(s)
                    if s.is_current()
                        && s.table_id_extension() == number
                        && Some(s.crc()) != known_crc =>
                {
                    found = Some(s.bytes().to_vec());
                }
                Ok(_) => {}
                Err(_) => *errors += 1,
            });
        if let Some(bytes) = found {
            self.apply_pmt(bytes, pmt_pid);
        }
    }

    fn apply_pmt(&mut self, bytes: Vec<u8>, pmt_pid: u16) {
        let Ok(section) = Section::new(&bytes) else {
            return;
        };
        let Ok(table) = pmt::parse(&section) else {
            self.stats.psi_errors += 1;
            return;
        };
        let registration = table.registration();
        let mut video: Option<Primary> = None;
        let mut audio: Vec<AudioTrack> = Vec::new();
        for es in table.streams() {
            let (kind, name) = classify(es.stream_type, es.es_info, registration);
            match kind {
                StreamKind::Video if video.is_none() => {
                    let codec = match name {
                        "h264" => Some(VideoCodec::H264),
                        "hevc" => Some(VideoCodec::Hevc),
                        "mpeg2video" | "mpeg1video" => Some(VideoCodec::Mpeg2),
                        _ => None,
                    };
                    video = Some(Primary {
                        pid: es.pid,
                        stream_type: es.stream_type,
                        kind: PrimaryKind::Video(codec),
                    });
                }
                StreamKind::Audio if audio.len() < MAX_AUDIO => {
                    let codec = match Audio::from_codec_name(name) {
                        Audio::Aac { .. } => Audio::Aac {
                            object_type: aac_descriptor_object_type(es.es_info),
                        },
                        other => other,
                    };
                    // A stream already probed keeps what its headers said.
                    let kept = self
                        .audio
                        .iter()
                        .find(|t| t.pid == es.pid && same_format(t.codec, codec))
                        .copied();
                    audio.push(kept.unwrap_or(AudioTrack {
                        pid: es.pid,
                        codec,
                        probes_left: match codec {
                            Audio::Aac { object_type: None } | Audio::Mpeg => AUDIO_PROBES,
                            _ => 0,
                        },
                    }));
                }
                _ => {}
            }
        }
        let primary = video.or_else(|| {
            audio.first().map(|a| Primary {
                pid: a.pid,
                stream_type: 0,
                kind: PrimaryKind::Audio,
            })
        });
        if self.pmt_crc.is_some() || !self.pmt_section.is_empty() {
            self.stats.pmt_changes += 1;
        }
        if primary != self.primary {
            if self.primary.is_some() {
                // Another video stream (or codec) is another decoder setup.
                self.abandon_held();
                self.discontinuity_before(self.buf.len());
            } else {
                self.abandon_held();
            }
            self.scanner = match primary.map(|p| p.kind) {
                Some(PrimaryKind::Video(Some(codec))) => Some(RapScanner::new(codec)),
                _ => None,
            };
            self.video_params = None;
            self.primary = primary;
        }
        self.audio = audio;
        self.pcr_pid = table.pcr_pid;
        self.pmt_crc = Some(section.crc());
        self.pmt_section_pid = pmt_pid;
        self.pmt_section = bytes;
    }

    /// Reads the first frame header of an audio PES: the AAC object type from ADTS, or
    /// that a stream the PMT calls MPEG audio is in fact AAC.
    fn probe_audio(&mut self, pid: u16, p: &RawPacket) {
        let Some(track) = self
            .audio
            .iter_mut()
            .find(|t| t.pid == pid && t.probes_left > 0)
        else {
            return;
        };
        track.probes_left -= 1;
        let Some(payload) = packet::payload(p) else {
            return;
        };
        let mut header = PesHeader::default();
        if let HeaderFeed::Done { es_offset } = header.feed(payload)
            && let Some(found) = codecs::sniff_audio(&payload[es_offset..])
        {
            track.codec = found;
            track.probes_left = 0;
        }
    }
}

/// Renumbers a PAT or PMT packet with the segmenter's own counter for its PID.
fn renumber(counters: &mut [(u16, u8); 4], p: &mut RawPacket) {
    let pid = packet::pid(p);
    let slot = match counters.iter().position(|(q, _)| *q == pid) {
        Some(i) => i,
        None => {
            // Forget the PID used longest ago (a PMT PID that changed).
            counters.rotate_right(1);
            counters[0] = (pid, 0);
            0
        }
    };
    let next = &mut counters[slot].1;
    if packet::has_payload(p) {
        packet::set_continuity_counter(p, *next);
        *next = (*next + 1) & 0x0F;
    } else {
        // A packet without payload repeats the last counter.
        packet::set_continuity_counter(p, next.wrapping_sub(1) & 0x0F);
    }
}

/// Packetizes a section (counters are set at commit).
fn write_section(out: &mut Vec<u8>, pid: u16, section: &[u8]) {
    if section.is_empty() || pid == pids::NULL {
        return;
    }
    Packetizer::new(pid).packetize(section, &mut |p| out.extend_from_slice(p));
}

/// The `random_access_indicator` of the adaptation field.
fn random_access_indicator(p: &RawPacket) -> bool {
    packet::has_adaptation_field(p) && p[4] > 0 && p[5] & 0x40 != 0
}

/// Milliseconds of wall clock between two instants, in 90 kHz ticks.
fn wall_ticks(from_ms: i64, to_ms: i64) -> i64 {
    to_ms.saturating_sub(from_ms).saturating_mul(90)
}

/// The audio object type a DVB AAC descriptor or an MPEG-4 audio descriptor announces.
fn aac_descriptor_object_type(es_info: &[u8]) -> Option<u8> {
    const MPEG4_AUDIO: u8 = 0x1C;
    Descriptors::new(es_info)
        .filter(|d| d.tag == tag::AAC || d.tag == MPEG4_AUDIO)
        .find_map(|d| {
            d.payload
                .first()
                .and_then(|&pl| codecs::object_type_from_profile_level(pl))
        })
}

fn same_format(a: Audio, b: Audio) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}
