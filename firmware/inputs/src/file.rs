//! A transport stream file played as if it came from a tuner: at real time, paced by its own
//! PCRs, looping at the end with a discontinuity.
//!
//! Packets between two PCRs of the reference PID are spread evenly over the time between
//! them (ISO/IEC 13818-1 §2.4.2.2), which reproduces the multiplex's original timing. Files
//! without usable PCRs play at a fallback rate. Memory is bounded: the file is read in
//! blocks, a little ahead of the clock.

use crate::{InputError, InputOptions, InputSink, MuxInput, SourceStats};
use dvbgate_ts::packet::{self, PACKET_SIZE, RawPacket};
use dvbgate_ts::reader::PacketReader;
use dvbgate_ts::timing::PcrTimeline;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bytes read per system call.
const BLOCK: usize = 1024 * PACKET_SIZE;
/// Read ahead of the clock by this much, so a PCR that ends the current stretch is known.
const LOOKAHEAD_NS: i64 = 250_000_000;
/// Upper bound of buffered, undelivered bytes.
const MAX_BUFFERED: usize = 8 << 20;
/// A stretch without PCR longer than this is timed at the last known rate.
const MAX_UNTIMED: usize = 512 * 1024;
/// Fallen further behind than this (the thread was stalled), playback skips ahead instead
/// of bursting to catch up: a tuner would have dropped the data too.
const MAX_LAG_NS: i64 = 1_000_000_000;
/// How much of a new file must contain a transport stream before we accept it.
const SYNC_PROBE: usize = 1 << 20;

/// A span of buffered packets with known start and end times. Offsets count bytes since
/// playback began (u64: a box loops a file for years), not positions in the buffer.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: u64,
    end: u64,
    /// Where delivery has reached within the span.
    cursor: u64,
    start_ns: i64,
    end_ns: i64,
    /// The span follows a loop of the file.
    discontinuity: bool,
}

/// Timing and buffering, apart from the reader so the reader's callback can borrow it.
struct Playout {
    buf: Vec<u8>,
    /// Offset of `buf[0]`.
    buf_base: u64,
    segments: VecDeque<Segment>,
    /// Start of the packets after the last timed point.
    tail_start: u64,
    tail_ns: i64,
    timeline: PcrTimeline,
    reference_pid: Option<u16>,
    position: u64,
    /// The next segment starts after a loop.
    pending_discontinuity: bool,
    /// A PCR after a loop jumps; the timeline must bridge it.
    looped_since_anchor: bool,
    fallback_ns_per_packet: i64,
}

impl Playout {
    fn on_packet(&mut self, p: &RawPacket) {
        let position = self.position;
        self.position += 1;
        self.buf.extend_from_slice(p);
        if !packet::transport_error(p)
            && let Some(pcr) = packet::pcr(p)
        {
            let pid = packet::pid(p);
            let reference = *self.reference_pid.get_or_insert(pid);
            if pid == reference {
                let discontinuity = packet::discontinuity_indicator(p) || self.looped_since_anchor;
                self.looped_since_anchor = false;
                let guess = self.tail_ns + self.untimed_packets() as i64 * self.ns_per_packet();
                let anchor = self.timeline.observe(position, pcr, discontinuity, guess);
                self.close_segment(anchor.stream_ns);
                return;
            }
        }
        if self.end() - self.tail_start >= MAX_UNTIMED as u64 {
            self.close_untimed();
        }
    }

    /// Offset just past the buffered bytes.
    fn end(&self) -> u64 {
        self.buf_base + self.buf.len() as u64
    }

    fn bytes(&self, from: u64, to: u64) -> &[u8] {
        &self.buf[(from - self.buf_base) as usize..(to - self.buf_base) as usize]
    }

    fn untimed_packets(&self) -> u64 {
        (self.end() - self.tail_start) / PACKET_SIZE as u64
    }

    fn ns_per_packet(&self) -> i64 {
        if self.timeline.last_anchor().is_some() {
            (PACKET_SIZE as i64 * 8 * 1_000_000_000) / self.timeline.bitrate().max(1) as i64
        } else {
            self.fallback_ns_per_packet
        }
    }

    /// Times the untimed tail at the last known rate.
    fn close_untimed(&mut self) {
        let end_ns = self.tail_ns + self.untimed_packets() as i64 * self.ns_per_packet();
        self.close_segment(end_ns);
    }

    fn close_segment(&mut self, end_ns: i64) {
        let end = self.end();
        // Time never runs backwards within the file's playout.
        let end_ns = end_ns.max(self.tail_ns);
        if end > self.tail_start {
            self.segments.push_back(Segment {
                start: self.tail_start,
                end,
                cursor: self.tail_start,
                start_ns: self.tail_ns,
                end_ns,
                discontinuity: std::mem::take(&mut self.pending_discontinuity),
            });
        }
        self.tail_start = end;
        self.tail_ns = end_ns;
    }

    fn timed_until(&self) -> Option<i64> {
        self.segments.back().map(|s| s.end_ns)
    }

    /// Drops delivered bytes from the front of the buffer.
    fn compact(&mut self) {
        let done =
            (self.segments.front().map_or(self.tail_start, |s| s.cursor) - self.buf_base) as usize;
        if done < self.buf.len() / 2 || done == 0 {
            return;
        }
        self.buf.drain(..done);
        self.buf_base += done as u64;
    }
}

/// See the module docs.
pub struct FilePlayer {
    path: PathBuf,
    file: File,
    reader: PacketReader,
    block: Box<[u8]>,
    playout: Playout,
    /// Wall time of stream time `base_ns`.
    clock: Option<(Instant, i64)>,
    stats: SourceStats,
    packets_this_loop: u64,
}

impl FilePlayer {
    pub fn open(path: &Path, options: &InputOptions) -> Result<FilePlayer, InputError> {
        let name = path.display().to_string();
        let mut file =
            File::open(path).map_err(|e| InputError::Open(format!("{name}: cannot open: {e}")))?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(InputError::Open(format!(
                "{name}: is a directory, not a transport stream file"
            )));
        }
        check_sync(&mut file, &name)?;
        let bitrate = options.fallback_bitrate.max(1);
        Ok(FilePlayer {
            path: path.to_path_buf(),
            file,
            reader: PacketReader::new(),
            block: vec![0; BLOCK].into_boxed_slice(),
            playout: Playout {
                buf: Vec::with_capacity(2 * BLOCK),
                buf_base: 0,
                segments: VecDeque::new(),
                tail_start: 0,
                tail_ns: 0,
                timeline: PcrTimeline::new(bitrate),
                reference_pid: None,
                position: 0,
                pending_discontinuity: false,
                looped_since_anchor: false,
                fallback_ns_per_packet: (PACKET_SIZE as u64 * 8 * 1_000_000_000 / bitrate) as i64,
            },
            clock: None,
            stats: SourceStats::default(),
            packets_this_loop: 0,
        })
    }

    /// Reads one block; at the end of the file, starts over.
    fn read_block(&mut self) -> Result<(), InputError> {
        let n = match self.file.read(&mut self.block) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => {
                self.stats.read_errors += 1;
                return Err(InputError::Read(format!(
                    "{}: read failed: {e}",
                    self.path.display()
                )));
            }
        };
        let playout = &mut self.playout;
        let before = playout.position;
        if n > 0 {
            self.stats.bytes += n as u64;
            self.reader
                .push(&self.block[..n], &mut |p| playout.on_packet(p));
            self.packets_this_loop += playout.position - before;
            return Ok(());
        }
        // End of file: time what is left, and go round again.
        self.reader.finish(&mut |p| playout.on_packet(p));
        self.packets_this_loop += playout.position - before;
        if self.packets_this_loop == 0 {
            return Err(InputError::NoSync(format!(
                "{}: a whole pass over the file gave no transport stream packet",
                self.path.display()
            )));
        }
        playout.close_untimed();
        playout.pending_discontinuity = true;
        playout.looped_since_anchor = true;
        self.packets_this_loop = 0;
        self.stats.loops += 1;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| {
            InputError::Read(format!("{}: cannot rewind: {e}", self.path.display()))
        })?;
        Ok(())
    }
}

impl MuxInput for FilePlayer {
    fn poll(&mut self, now: Instant, sink: &mut dyn InputSink) -> Result<usize, InputError> {
        let now_ns = match self.clock {
            Some((base, base_ns)) => {
                base_ns + now.saturating_duration_since(base).as_nanos() as i64
            }
            None => 0,
        };
        while self
            .playout
            .timed_until()
            .is_none_or(|t| t < now_ns + LOOKAHEAD_NS)
            && self.playout.buf.len() < MAX_BUFFERED
        {
            self.read_block()?;
        }
        let (base, base_ns) = *self.clock.get_or_insert_with(|| {
            let start = self.playout.segments.front().map_or(0, |s| s.start_ns);
            (now, start)
        });
        let mut now_ns = base_ns + now.saturating_duration_since(base).as_nanos() as i64;
        if let Some(first) = self.playout.segments.front()
            && now_ns - first.end_ns > MAX_LAG_NS
        {
            // Skip ahead rather than burst: re-base so that `now` is this segment's start.
            self.clock = Some((now, first.start_ns));
            now_ns = first.start_ns;
        }
        let mut delivered = 0;
        while let Some(seg) = self.playout.segments.front_mut() {
            if seg.discontinuity {
                sink.discontinuity();
                seg.discontinuity = false;
            }
            let due_end = if now_ns >= seg.end_ns {
                seg.end
            } else if now_ns > seg.start_ns {
                let packets = (seg.end - seg.start) / PACKET_SIZE as u64;
                let due = (packets as i128 * (now_ns - seg.start_ns) as i128
                    / (seg.end_ns - seg.start_ns).max(1) as i128) as u64;
                seg.start + due * PACKET_SIZE as u64
            } else {
                seg.start
            };
            let (from, done) = (seg.cursor, seg.cursor >= seg.end || due_end >= seg.end);
            let to = due_end.max(from);
            seg.cursor = to;
            if to > from {
                sink.data(self.playout.bytes(from, to));
                delivered += (to - from) as usize;
            }
            if !done {
                break;
            }
            self.playout.segments.pop_front();
        }
        self.playout.compact();
        Ok(delivered)
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Refuses files that are not transport streams, with a message that says so, rather than
/// playing silence forever.
fn check_sync(file: &mut File, name: &str) -> Result<(), InputError> {
    let mut probe = vec![0; SYNC_PROBE];
    let mut filled = 0;
    while filled < probe.len() {
        match file.read(&mut probe[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(InputError::Open(format!("{name}: cannot read: {e}"))),
        }
    }
    if filled == 0 {
        return Err(InputError::NoSync(format!("{name}: the file is empty")));
    }
    let mut reader = PacketReader::new();
    let mut packets = 0u64;
    reader.push(&probe[..filled], &mut |_| packets += 1);
    reader.finish(&mut |_| packets += 1);
    if packets == 0 {
        return Err(InputError::NoSync(format!(
            "{name}: not an MPEG transport stream (no run of sync bytes in the first {filled} bytes)"
        )));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| InputError::Open(format!("{name}: cannot rewind: {e}")))?;
    Ok(())
}
