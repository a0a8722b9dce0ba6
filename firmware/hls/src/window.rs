//! The live window: the last few segments of a channel and the playlists that list them.
//!
//! A live HLS media playlist (RFC 8216) lists the newest `length` segments. Players load
//! it again every target duration, see new segments at the end, and follow the numbering:
//! `EXT-X-MEDIA-SEQUENCE` is the sequence number of the first segment listed, and
//! `EXT-X-DISCONTINUITY-SEQUENCE` counts the `EXT-X-DISCONTINUITY` tags that have left the
//! list, so a player that reloads can tell which decoder epoch each segment belongs to.
//!
//! A segment that leaves the list stays fetchable for `grace` more segments: a player that
//! read the previous playlist may still ask for it (RFC 8216 §6.2.2 asks servers to keep
//! it available for its duration plus the playlist's).
//!
//! `EXT-X-TARGETDURATION` must not change during a live stream (players compute their
//! reload timers and buffers from it), so it is the configured target, raised when a longer
//! segment appears, and never lowered.

use crate::segmenter::{ConfigError, MAX_TARGET, MIN_TARGET, Segment};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

/// Shape of a [`Window`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowConfig {
    /// Segments listed in the media playlist: 1..=100, default 6 (TV players stall on
    /// short windows; 6 × 4 s gives them 24 s to work with).
    pub length: usize,
    /// Segments kept fetchable after they leave the playlist: 0..=100, default 2.
    pub grace: usize,
    /// The segmenter's target duration (the floor of `EXT-X-TARGETDURATION`).
    pub target: Duration,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            length: 6,
            grace: 2,
            target: Duration::from_secs(4),
        }
    }
}

/// A segment the window cannot take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("segment {got} does not follow segment {last}: media sequence numbers must increase")]
    SequenceNotIncreasing { got: u64, last: u64 },
}

/// See the module docs. The caller owns one per channel.
pub struct Window {
    config: WindowConfig,
    /// Oldest first; sequence numbers increase.
    segments: VecDeque<Segment>,
    /// Index of the first segment listed in the playlist; those before are in grace.
    first_listed: usize,
    /// `EXT-X-DISCONTINUITY-SEQUENCE`.
    discontinuity_sequence: u64,
    bytes: usize,
    /// The longest segment ever pushed, in whole milliseconds.
    longest_ms: u64,
    /// The newest segment's number, kept when everything has been evicted.
    last_sequence: Option<u64>,
}

impl Window {
    pub fn new(config: WindowConfig) -> Result<Self, ConfigError> {
        if !(1..=100).contains(&config.length) {
            return Err(ConfigError::WindowLength { len: config.length });
        }
        if config.grace > 100 {
            return Err(ConfigError::WindowGrace {
                grace: config.grace,
            });
        }
        if !(MIN_TARGET..=MAX_TARGET).contains(&config.target) {
            return Err(ConfigError::Target {
                target: config.target,
            });
        }
        Ok(Window {
            segments: VecDeque::with_capacity(config.length + config.grace + 1),
            config,
            first_listed: 0,
            discontinuity_sequence: 0,
            bytes: 0,
            longest_ms: 0,
            last_sequence: None,
        })
    }

    /// Adds the newest segment; returns the segments no longer kept (oldest first), for
    /// the caller's memory accounting. A gap in the numbering (the segmenter restarted
    /// further on) starts the playlist afresh at this segment, as a discontinuity.
    pub fn push(&mut self, mut segment: Segment) -> Result<Vec<Segment>, WindowError> {
        if let Some(last) = self.last_sequence {
            if segment.sequence <= last {
                return Err(WindowError::SequenceNotIncreasing {
                    got: segment.sequence,
                    last,
                });
            }
            if segment.sequence != last + 1 {
                while self.first_listed < self.segments.len() {
                    self.unlist_first();
                }
                segment.discontinuity = true;
            }
        }
        self.last_sequence = Some(segment.sequence);
        self.longest_ms = self.longest_ms.max(rounded_ms(segment.duration));
        self.bytes += segment.data.len();
        self.segments.push_back(segment);
        while self.segments.len() - self.first_listed > self.config.length {
            self.unlist_first();
        }
        let mut evicted = Vec::new();
        while self.first_listed > self.config.grace {
            evicted.extend(self.pop_front());
        }
        Ok(evicted)
    }

    /// Drops the oldest segment kept (in grace, or else the first listed), for a memory
    /// budget shared between channels.
    pub fn evict_oldest(&mut self) -> Option<Segment> {
        if self.first_listed == 0 && !self.segments.is_empty() {
            self.unlist_first();
        }
        self.pop_front()
    }

    /// A segment still fetchable, listed or in grace.
    pub fn get(&self, sequence: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.sequence == sequence)
    }

    /// Bytes of segment data held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Segments held (listed and in grace).
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The segments the media playlist lists, oldest first.
    pub fn listed(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().skip(self.first_listed)
    }

    /// `EXT-X-MEDIA-SEQUENCE`: the first listed segment's number (or the next expected).
    pub fn media_sequence(&self) -> u64 {
        match (self.segments.get(self.first_listed), self.last_sequence) {
            (Some(first), _) => first.sequence,
            (None, Some(last)) => last.saturating_add(1),
            (None, None) => 0,
        }
    }

    pub fn discontinuity_sequence(&self) -> u64 {
        self.discontinuity_sequence
    }

    /// `EXT-X-TARGETDURATION` in seconds: the configured target or the longest segment
    /// seen, rounded up, whichever is larger.
    pub fn target_duration(&self) -> u64 {
        let target = rounded_ms(self.config.target).div_ceil(1000);
        target.max(self.longest_ms.div_ceil(1000))
    }

    /// Announces segments up to `longest` before they come (a channel whose keyframes
    /// are further apart than the target), so that the target duration, which players
    /// expect never to change (RFC 8216 §6.2.1), is right from the first playlist.
    pub fn expect_segments_up_to(&mut self, longest: Duration) {
        self.longest_ms = self.longest_ms.max(rounded_ms(longest));
    }

    /// The live media playlist; `segment_uri` names a segment by its sequence number.
    pub fn media_playlist(&self, segment_uri: impl Fn(u64) -> String) -> String {
        let mut m = String::with_capacity(128 + 160 * self.config.length);
        // Version 3: decimal EXTINF durations.
        let _ = write!(
            m,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:{}\n",
            self.target_duration(),
            self.media_sequence(),
            self.discontinuity_sequence
        );
        for s in self.listed() {
            if s.discontinuity {
                m.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let ms = rounded_ms(s.duration);
            let _ = write!(
                m,
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{}.{:03},\n{}\n",
                iso8601_ms(s.program_date_time_ms),
                ms / 1000,
                ms % 1000,
                segment_uri(s.sequence)
            );
        }
        m
    }

    /// A master playlist with the one variant `media_uri`: `BANDWIDTH` is the highest
    /// segment bit rate held (RFC 8216's definition: the peak), `AVERAGE-BANDWIDTH` the
    /// mean, `CODECS` as given (see [`crate::Segmenter::codecs`]). `None` until a segment
    /// with a duration is held.
    pub fn master_playlist(&self, media_uri: &str, codecs: Option<&str>) -> Option<String> {
        let mut peak = 0u64;
        let (mut bits, mut nanos) = (0u128, 0u128);
        for s in &self.segments {
            let ns = s.duration.as_nanos();
            if ns == 0 {
                continue;
            }
            let b = s.data.len() as u128 * 8;
            peak = peak.max((b * 1_000_000_000).div_ceil(ns).min(u128::from(u64::MAX)) as u64);
            bits += b;
            nanos += ns;
        }
        if nanos == 0 {
            return None;
        }
        let average = (bits * 1_000_000_000)
            .div_ceil(nanos)
            .min(u128::from(u64::MAX)) as u64;
        let mut m = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average}"
        );
        if let Some(c) = codecs {
            let _ = write!(m, ",CODECS=\"{c}\"");
        }
        let _ = write!(m, "\n{media_uri}\n");
        Some(m)
    }

    fn unlist_first(&mut self) {
        if let Some(s) = self.segments.get(self.first_listed) {
            if s.discontinuity {
                self.discontinuity_sequence += 1;
            }
            self.first_listed += 1;
        }
    }

    fn pop_front(&mut self) -> Option<Segment> {
        let s = self.segments.pop_front()?;
        self.first_listed = self.first_listed.saturating_sub(1);
        self.bytes -= s.data.len();
        Some(s)
    }
}

/// A duration in whole milliseconds, rounded to nearest (what EXTINF shows).
fn rounded_ms(d: Duration) -> u64 {
    ((d.as_nanos() + 500_000) / 1_000_000).min(u128::from(u64::MAX)) as u64
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (ISO 8601 in UTC, as
/// EXT-X-PROGRAM-DATE-TIME wants), years kept within 1970..=9999.
pub fn iso8601_ms(unix_ms: i64) -> String {
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let ms = unix_ms.clamp(0, MAX_MS);
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); the usual
/// era-of-400-years arithmetic.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year, from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn seg(sequence: u64, ms: u64, discontinuity: bool) -> Segment {
        Segment {
            sequence,
            duration: Duration::from_millis(ms),
            program_date_time_ms: 1_795_240_800_000 + sequence as i64 * 4000,
            discontinuity,
            data: Bytes::from(vec![0x47; 188 * (1 + sequence as usize % 3)]),
            starts_with_random_access: true,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_795_240_800_123), "2026-11-21T06:00:00.123Z");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_ms(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(iso8601_ms(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
        // Every day boundary for 30 years round-trips through the calendar.
        let mut last = (1969, 12, 31);
        for day in 0..(30 * 366) {
            let (y, m, d) = civil_from_days(day);
            let next_day = (last.0, last.1, last.2 + 1) == (y, m, d);
            let next_month = (last.0, last.1 + 1, 1) == (y, m, d);
            let next_year = (last.0 + 1, 1, 1) == (y, m, d);
            assert!(
                next_day || next_month || next_year,
                "{last:?} then {y}-{m}-{d}"
            );
            last = (y, m, d);
        }
    }

    #[test]
    fn config_is_checked() {
        for (length, grace, target) in [(0, 2, 4), (101, 2, 4), (6, 101, 4), (6, 2, 0), (6, 2, 11)]
        {
            assert!(
                Window::new(WindowConfig {
                    length,
                    grace,
                    target: Duration::from_secs(target)
                })
                .is_err()
            );
        }
    }

    #[test]
    fn evict_oldest_moves_the_media_sequence() {
        let mut w = Window::new(WindowConfig {
            length: 3,
            grace: 0,
            target: Duration::from_secs(4),
        })
        .unwrap();
        for n in 0..3 {
            w.push(seg(n, 4000, n == 0)).unwrap();
        }
        assert_eq!((w.media_sequence(), w.discontinuity_sequence()), (0, 0));
        let first = w.evict_oldest().unwrap();
        assert_eq!(first.sequence, 0);
        assert_eq!((w.media_sequence(), w.discontinuity_sequence()), (1, 1));
        assert_eq!(w.bytes(), w.listed().map(|s| s.data.len()).sum::<usize>());
        w.evict_oldest();
        w.evict_oldest();
        assert!(w.evict_oldest().is_none());
        assert_eq!((w.media_sequence(), w.bytes()), (3, 0));
    }
}
