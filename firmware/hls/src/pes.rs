//! PES headers (ISO/IEC 13818-1 §2.4.3.6), read only as far as segmenting needs: the
//! presentation time stamp, and where the elementary stream's own bytes begin.
//!
//! A PES packet starts in the TS packet with `payload_unit_start_indicator` set, but its
//! header may continue into the next packet when a large adaptation field leaves little
//! room, so [`PesHeader`] collects the header across calls in a fixed buffer.

use std::time::Duration;

/// PTS and DTS count a 90 kHz clock in 33 bits (about 26.5 hours before they wrap).
pub const PTS_HZ: u64 = 90_000;
pub const PTS_MODULUS: u64 = 1 << 33;

/// `b - a` in 90 kHz ticks, the short way round the 33-bit circle: a wrap between `a` and
/// `b` is not a jump of 26 hours.
pub fn pts_delta(a: u64, b: u64) -> i64 {
    let d = b.wrapping_sub(a) & (PTS_MODULUS - 1);
    if d >= PTS_MODULUS / 2 {
        d as i64 - PTS_MODULUS as i64
    } else {
        d as i64
    }
}

/// 90 kHz ticks as a [`Duration`].
pub fn ticks_to_duration(ticks: u64) -> Duration {
    // u128: no tick count can overflow it, and 1 tick = 100000/9 ns exactly.
    Duration::from_nanos((u128::from(ticks) * 100_000 / 9).min(u128::from(u64::MAX)) as u64)
}

/// A [`Duration`] in 90 kHz ticks (rounded down).
pub fn duration_to_ticks(d: Duration) -> u64 {
    (d.as_nanos() * 9 / 100_000).min(u128::from(u64::MAX)) as u64
}

/// Reads a 33-bit time stamp from its 5-byte field (marker bits are not checked: encoders
/// get them wrong more often than the value).
fn timestamp(b: &[u8]) -> Option<u64> {
    let b: &[u8; 5] = b.get(..5)?.try_into().ok()?;
    Some(
        (u64::from(b[0] >> 1 & 0x07) << 30)
            | (u64::from(b[1]) << 22)
            | (u64::from(b[2] >> 1) << 15)
            | (u64::from(b[3]) << 7)
            | u64::from(b[4] >> 1),
    )
}

/// Stream ids whose PES packets have no optional header (§2.4.3.7): program stream map,
/// padding, private stream 2, ECM, EMM, DSM-CC, H.222.1 type E, directory.
fn has_optional_header(stream_id: u8) -> bool {
    !matches!(
        stream_id,
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF
    )
}

/// Progress of [`PesHeader::feed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFeed {
    /// The header continues in the next packet.
    NeedMore,
    /// The header ended; the elementary stream starts at this offset of the fed bytes.
    Done { es_offset: usize },
    /// Not a PES header (no start code prefix).
    Invalid,
}

/// Collects one PES header; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct PesHeader {
    /// The first bytes: start code, stream id, length, flags, header length, PTS, DTS.
    buf: [u8; 19],
    /// Header bytes seen so far (may exceed `buf.len()` for long headers).
    seen: usize,
    /// Total header size, once known.
    total: Option<usize>,
    done: bool,
    invalid: bool,
}

impl PesHeader {
    /// Starts a new header.
    pub fn reset(&mut self) {
        *self = PesHeader::default();
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds the next payload bytes of the PES packet.
    pub fn feed(&mut self, data: &[u8]) -> HeaderFeed {
        if self.invalid {
            return HeaderFeed::Invalid;
        }
        if self.done {
            return HeaderFeed::Done { es_offset: 0 };
        }
        for (i, &b) in data.iter().enumerate() {
            if let Some(slot) = self.buf.get_mut(self.seen) {
                *slot = b;
            }
            self.seen += 1;
            if self.seen == 6 {
                if self.buf[..3] != [0, 0, 1] {
                    self.invalid = true;
                    return HeaderFeed::Invalid;
                }
                if !has_optional_header(self.buf[3]) {
                    self.total = Some(6);
                }
            }
            if self.seen == 9 && self.total.is_none() {
                self.total = Some(9 + usize::from(self.buf[8]));
            }
            if self.total.is_some_and(|t| self.seen >= t) {
                self.done = true;
                return HeaderFeed::Done { es_offset: i + 1 };
            }
        }
        HeaderFeed::NeedMore
    }

    fn flags(&self) -> u8 {
        match self.total {
            Some(t) if t >= 9 => self.buf[7] >> 6,
            _ => 0,
        }
    }

    /// The presentation time stamp, once the header is complete.
    pub fn pts(&self) -> Option<u64> {
        if !self.done || self.flags() & 0b10 == 0 || self.total? < 14 {
            return None;
        }
        timestamp(&self.buf[9..14])
    }

    /// The decoding time stamp (present only when it differs from the PTS).
    pub fn dts(&self) -> Option<u64> {
        if !self.done || self.flags() != 0b11 || self.total? < 19 {
            return None;
        }
        timestamp(&self.buf[14..19])
    }
}

#[cfg(test)]
pub(crate) fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    [
        prefix << 4 | ((ts >> 29) as u8 & 0x0E) | 1,
        (ts >> 22) as u8,
        ((ts >> 14) as u8 & 0xFE) | 1,
        (ts >> 7) as u8,
        ((ts << 1) as u8) | 1,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pts: Option<u64>, dts: Option<u64>, stuffing: usize) -> Vec<u8> {
        let mut h = vec![0, 0, 1, 0xE0, 0, 0, 0x80];
        let flags = match (pts, dts) {
            (Some(_), Some(_)) => 0xC0,
            (Some(_), None) => 0x80,
            _ => 0,
        };
        h.push(flags);
        let mut opt = Vec::new();
        if let Some(p) = pts {
            opt.extend_from_slice(&encode_timestamp(if dts.is_some() { 3 } else { 2 }, p));
        }
        if let Some(d) = dts {
            opt.extend_from_slice(&encode_timestamp(1, d));
        }
        opt.extend(std::iter::repeat_n(0xFF, stuffing));
        h.push(opt.len() as u8);
        h.extend(opt);
        h
    }

    #[test]
    fn reads_pts_and_dts_split_anywhere() {
        let pts = PTS_MODULUS - 12_345;
        let dts = 0x1_2345_6789 & (PTS_MODULUS - 1);
        let mut bytes = header(Some(pts), Some(dts), 3);
        let header_len = bytes.len();
        bytes.extend_from_slice(&[0, 0, 0, 1, 0x09]);
        for split in 0..bytes.len() {
            let mut h = PesHeader::default();
            let (a, b) = bytes.split_at(split);
            let es = match h.feed(a) {
                HeaderFeed::Done { es_offset } => es_offset,
                HeaderFeed::NeedMore => match h.feed(b) {
                    HeaderFeed::Done { es_offset } => split + es_offset,
                    other => panic!("split {split}: {other:?}"),
                },
                HeaderFeed::Invalid => panic!("invalid"),
            };
            assert_eq!(es, header_len, "split {split}");
            assert_eq!(h.pts(), Some(pts));
            assert_eq!(h.dts(), Some(dts));
        }
    }

    #[test]
    fn no_pts_and_garbage() {
        let mut h = PesHeader::default();
        assert_eq!(
            h.feed(&header(None, None, 0)),
            HeaderFeed::Done { es_offset: 9 }
        );
        assert_eq!(h.pts(), None);
        let mut h = PesHeader::default();
        assert_eq!(h.feed(&[0, 0, 2, 0xE0, 0, 0, 0x80]), HeaderFeed::Invalid);
        let mut h = PesHeader::default();
        // Padding stream: six bytes of header, no PTS.
        assert_eq!(
            h.feed(&[0, 0, 1, 0xBE, 0, 4, 0xFF]),
            HeaderFeed::Done { es_offset: 6 }
        );
        assert_eq!(h.pts(), None);
    }

    #[test]
    fn deltas_wrap() {
        assert_eq!(pts_delta(PTS_MODULUS - 100, 50), 150);
        assert_eq!(pts_delta(50, PTS_MODULUS - 100), -150);
        assert_eq!(pts_delta(1000, 400), -600);
        assert_eq!(ticks_to_duration(90_000), Duration::from_secs(1));
        assert_eq!(ticks_to_duration(3_600), Duration::from_millis(40));
        assert_eq!(duration_to_ticks(Duration::from_millis(40)), 3_600);
    }
}
