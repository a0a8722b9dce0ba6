//! Finding random access points in a video elementary stream.
//!
//! A segment must start where a decoder can start: a picture that does not refer to
//! anything before it. Which pictures those are is written in the bitstream itself, behind
//! start codes (`00 00 01`):
//!
//! - H.264 (ISO/IEC 14496-10): a NAL unit of type 5 (IDR slice), or a recovery point SEI
//!   message (SEI payload type 6) ahead of the picture's slices, which open-GOP and
//!   intra-refresh encoders send instead of IDRs;
//! - HEVC (ISO/IEC 23008-2): a slice NAL unit of an IRAP type (16..=23: BLA, IDR, CRA);
//! - MPEG-2 video (ISO/IEC 13818-2): a sequence header (`00 00 01 B3`), then a picture
//!   header (`00 00 01 00`) whose `picture_coding_type` is 1 (I).
//!
//! The scanner reads one PES packet (one access unit in broadcast practice) byte by byte
//! as its TS packets arrive, so start codes split across packets are found, and stops at
//! the first slice, where the answer is known: usually within the first TS packet. It
//! keeps a few bytes of a handful of units on the way (SEI, sequence parameter sets) in a
//! fixed buffer, with emulation prevention bytes removed; nothing is allocated.

/// The video coding formats whose random access points the scanner recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    Hevc,
    /// MPEG-2 video, and MPEG-1 video, which has the same start codes.
    Mpeg2,
}

/// What the scanner knows about the current PES packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Undecided,
    RandomAccess,
    NotRandomAccess,
}

/// The codec parameters a `CODECS` attribute is made of, as found in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoParams {
    /// `profile_idc`, the constraint flags byte and `level_idc` of an H.264 SPS.
    Avc {
        profile: u8,
        constraints: u8,
        level: u8,
    },
    /// The general part of an HEVC SPS's `profile_tier_level`: the byte with profile
    /// space, tier and profile, 4 bytes of compatibility flags, 6 of constraint flags,
    /// and the level.
    Hevc { ptl: [u8; 12] },
    /// MPEG-2 `profile_and_level_indication` from the sequence extension.
    Mpeg2 { profile_and_level: u8 },
}

/// What the bytes being captured are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Capture {
    None,
    /// An H.264 SEI NAL unit's RBSP.
    Sei,
    /// The first bytes of a sequence parameter set (H.264 or HEVC).
    Sps,
    /// An MPEG-2 picture header's first two bytes.
    Picture,
    /// An MPEG-2 extension's first two bytes.
    Extension,
}

/// An SEI of more than this is only partly read: recovery points come first or early
/// (after buffering period and picture timing), captions and user data later.
const CAPTURE: usize = 256;

/// See the module docs. One per video PID; [`RapScanner::reset`] at each PES start.
#[derive(Clone, Debug)]
pub struct RapScanner {
    codec: VideoCodec,
    /// Consecutive zero bytes just seen (saturating).
    zeros: u8,
    /// The previous bytes were a start code: this byte is the NAL header or start code value.
    at_unit_start: bool,
    capture: Capture,
    want: usize,
    buf: [u8; CAPTURE],
    len: usize,
    /// Zero bytes at the end of `buf`, for removing emulation prevention bytes.
    cap_zeros: u8,
    /// MPEG-2: a sequence header came earlier in this PES packet.
    sequence_header: bool,
    verdict: Verdict,
    params: Option<VideoParams>,
}

impl RapScanner {
    pub fn new(codec: VideoCodec) -> Self {
        RapScanner {
            codec,
            zeros: 0,
            at_unit_start: false,
            capture: Capture::None,
            want: 0,
            buf: [0; CAPTURE],
            len: 0,
            cap_zeros: 0,
            sequence_header: false,
            verdict: Verdict::Undecided,
            params: None,
        }
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// Starts a new PES packet. The codec parameters found so far are kept.
    pub fn reset(&mut self) {
        self.zeros = 0;
        self.at_unit_start = false;
        self.capture = Capture::None;
        self.len = 0;
        self.sequence_header = false;
        self.verdict = Verdict::Undecided;
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The latest codec parameters seen (kept across PES packets).
    pub fn params(&self) -> Option<VideoParams> {
        self.params
    }

    /// Scans the next elementary stream bytes of the PES packet. Once decided, further
    /// bytes are not looked at.
    pub fn feed(&mut self, data: &[u8]) -> Verdict {
        if self.verdict != Verdict::Undecided {
            return self.verdict;
        }
        for &b in data {
            if self.at_unit_start {
                self.at_unit_start = false;
                self.unit_start(b);
                if self.verdict != Verdict::Undecided {
                    return self.verdict;
                }
                continue;
            }
            if self.capture != Capture::None {
                self.capture_byte(b);
                if self.verdict != Verdict::Undecided {
                    return self.verdict;
                }
            }
            if b == 0 {
                self.zeros = self.zeros.saturating_add(1);
            } else {
                if b == 1 && self.zeros >= 2 {
                    self.end_capture(true);
                    if self.verdict != Verdict::Undecided {
                        return self.verdict;
                    }
                    self.at_unit_start = true;
                }
                self.zeros = 0;
            }
        }
        self.verdict
    }

    /// The PES packet ended: a unit being captured ends with it.
    pub fn finish(&mut self) -> Verdict {
        if self.verdict == Verdict::Undecided {
            self.end_capture(false);
        }
        self.verdict
    }

    fn start_capture(&mut self, what: Capture, want: usize) {
        self.capture = what;
        self.want = want.min(CAPTURE);
        self.len = 0;
        self.cap_zeros = 0;
    }

    fn capture_byte(&mut self, b: u8) {
        // In H.264 and HEVC, `00 00 03` carries an emulation prevention byte that is not
        // part of the unit's data (MPEG-2 has no such escape).
        if self.codec != VideoCodec::Mpeg2 && self.cap_zeros >= 2 && b == 3 {
            self.cap_zeros = 0;
            return;
        }
        self.cap_zeros = if b == 0 { self.cap_zeros + 1 } else { 0 };
        self.buf[self.len] = b;
        self.len += 1;
        if self.len >= self.want {
            self.process_capture();
        }
    }

    /// A start code (or the end of the PES) ends the unit being captured.
    fn end_capture(&mut self, at_start_code: bool) {
        if self.capture == Capture::None {
            return;
        }
        if at_start_code {
            // The start code's `00 00 01` went into the buffer before it was recognised.
            self.len = self.len.saturating_sub(1);
            while self.len > 0 && self.buf[self.len - 1] == 0 {
                self.len -= 1;
            }
        }
        self.process_capture();
    }

    fn process_capture(&mut self) {
        let what = std::mem::replace(&mut self.capture, Capture::None);
        let data = &self.buf[..self.len];
        match (what, self.codec) {
            (Capture::Sei, _) if sei_has_recovery_point(data) => {
                self.verdict = Verdict::RandomAccess;
            }
            (Capture::Sps, VideoCodec::H264) => {
                if let [profile, constraints, level, ..] = *data {
                    self.params = Some(VideoParams::Avc {
                        profile,
                        constraints,
                        level,
                    });
                }
            }
            (Capture::Sps, VideoCodec::Hevc) => {
                // data[0] is the NAL header's second byte, data[1] holds the VPS id, the
                // sub-layer count and the nesting flag; the general profile_tier_level
                // follows.
                if let Some(ptl) = data.get(2..14) {
                    self.params = Some(VideoParams::Hevc {
                        ptl: ptl.try_into().unwrap_or([0; 12]),
                    });
                }
            }
            (Capture::Picture, _) => {
                if let [_, b, ..] = *data {
                    let picture_coding_type = (b >> 3) & 0x07;
                    self.verdict = if picture_coding_type == 1 && self.sequence_header {
                        Verdict::RandomAccess
                    } else {
                        Verdict::NotRandomAccess
                    };
                }
            }
            (Capture::Extension, _) => {
                // Sequence extension (id 1): escape bit, profile (3 bits), level (4 bits).
                if let [a, b, ..] = *data
                    && a >> 4 == 1
                {
                    self.params = Some(VideoParams::Mpeg2 {
                        profile_and_level: (a & 0x0F) << 4 | b >> 4,
                    });
                }
            }
            _ => {}
        }
        self.len = 0;
    }

    /// The byte after a start code: the NAL unit header (H.264, HEVC's first byte) or the
    /// start code value (MPEG-2).
    fn unit_start(&mut self, b: u8) {
        match self.codec {
            VideoCodec::H264 => {
                if b & 0x80 != 0 {
                    return; // forbidden_zero_bit: not a NAL header
                }
                match b & 0x1F {
                    5 => self.verdict = Verdict::RandomAccess,
                    // A slice of a picture that is not an IDR, and no recovery point before it.
                    1..=4 => self.verdict = Verdict::NotRandomAccess,
                    6 => self.start_capture(Capture::Sei, CAPTURE),
                    7 => self.start_capture(Capture::Sps, 3),
                    _ => {}
                }
            }
            VideoCodec::Hevc => {
                if b & 0x80 != 0 {
                    return;
                }
                match (b >> 1) & 0x3F {
                    16..=23 => self.verdict = Verdict::RandomAccess,
                    0..=15 => self.verdict = Verdict::NotRandomAccess,
                    33 => self.start_capture(Capture::Sps, 14),
                    _ => {}
                }
            }
            VideoCodec::Mpeg2 => match b {
                0xB3 => self.sequence_header = true,
                0x00 => self.start_capture(Capture::Picture, 2),
                0xB5 => self.start_capture(Capture::Extension, 2),
                _ => {}
            },
        }
    }
}

/// Whether an H.264 SEI RBSP (the NAL header excluded) holds a recovery point message.
/// Messages are walked by their sizes; a truncated one ends the walk.
fn sei_has_recovery_point(rbsp: &[u8]) -> bool {
    let mut at = 0;
    // Stops at the RBSP trailing bits (0x80) or the end.
    while at < rbsp.len() && rbsp[at] != 0x80 {
        let Some((payload_type, next)) = sei_number(rbsp, at) else {
            return false;
        };
        if payload_type == 6 {
            return true;
        }
        let Some((size, next)) = sei_number(rbsp, next) else {
            return false;
        };
        at = next + size;
    }
    false
}

/// An SEI payload type or size: 0xFF bytes each add 255, the first other byte ends it.
fn sei_number(rbsp: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    loop {
        let b = *rbsp.get(at)?;
        at += 1;
        value += usize::from(b);
        if b != 0xFF {
            return Some((value, at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts emulation prevention bytes, as an encoder does.
    fn escape(rbsp: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut zeros = 0;
        for &b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        out
    }

    fn scan_in_pieces(
        codec: VideoCodec,
        es: &[u8],
        piece: usize,
    ) -> (Verdict, Option<VideoParams>) {
        let mut s = RapScanner::new(codec);
        for chunk in es.chunks(piece.max(1)) {
            if s.feed(chunk) != Verdict::Undecided {
                break;
            }
        }
        (s.finish(), s.params())
    }

    fn every_split(codec: VideoCodec, es: &[u8]) -> (Verdict, Option<VideoParams>) {
        let whole = scan_in_pieces(codec, es, es.len());
        for piece in 1..12 {
            assert_eq!(scan_in_pieces(codec, es, piece), whole, "pieces of {piece}");
        }
        whole
    }

    const AUD: &[u8] = &[0, 0, 0, 1, 0x09, 0xF0];
    const SPS: &[u8] = &[0, 0, 0, 1, 0x67, 0x4D, 0x40, 0x1E, 0xAB, 0xCD];
    const PPS: &[u8] = &[0, 0, 1, 0x68, 0xEE, 0x3C, 0x80];

    fn h264(units: &[&[u8]]) -> Vec<u8> {
        units.concat()
    }

    #[test]
    fn h264_idr_after_parameter_sets() {
        let es = h264(&[AUD, SPS, PPS, &[0, 0, 1, 0x65, 0x88, 0x84]]);
        let (v, p) = every_split(VideoCodec::H264, &es);
        assert_eq!(v, Verdict::RandomAccess);
        assert_eq!(
            p,
            Some(VideoParams::Avc {
                profile: 0x4D,
                constraints: 0x40,
                level: 0x1E
            })
        );
        let es = h264(&[AUD, &[0, 0, 1, 0x41, 0x9A, 0x00]]);
        assert_eq!(
            every_split(VideoCodec::H264, &es).0,
            Verdict::NotRandomAccess
        );
    }

    #[test]
    fn h264_recovery_point_behind_other_sei_messages() {
        // SEI: user data unregistered (type 5, 20 bytes, with an emulation prevention
        // byte inside), then a recovery point (type 6).
        let mut sei = vec![0, 0, 1, 0x06, 0x05, 20];
        sei.extend_from_slice(&[0, 0, 3, 1]);
        sei.extend(std::iter::repeat_n(0x11, 17));
        sei.extend_from_slice(&[0x06, 1, 0x84, 0x80]);
        let es = h264(&[AUD, &sei, &[0, 0, 1, 0x01, 0x9A]]);
        assert_eq!(every_split(VideoCodec::H264, &es).0, Verdict::RandomAccess);
        // The same without the recovery point: the non-IDR slice decides.
        let mut sei = vec![0, 0, 1, 0x06, 0x05, 4, 1, 2, 3, 4, 0x80];
        sei.extend_from_slice(&[0, 0, 1, 0x01, 0x9A]);
        assert_eq!(
            every_split(VideoCodec::H264, &h264(&[AUD, &sei])).0,
            Verdict::NotRandomAccess
        );
    }

    #[test]
    fn hevc_irap_and_sps() {
        // AUD (35), VPS (32), SPS (33) with a Main profile_tier_level, CRA (21).
        let mut es = vec![0, 0, 0, 1, 0x46, 0x01, 0x50];
        es.extend_from_slice(&[0, 0, 1, 0x40, 0x01, 0x0C]);
        es.extend_from_slice(&[0, 0, 1, 0x42]);
        es.extend(escape(&[
            0x01, 0x01, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 0x5D, 0xA0,
        ]));
        let mut irap = es.clone();
        irap.extend_from_slice(&[0, 0, 1, 21 << 1, 0x01, 0xAF]);
        let (v, p) = every_split(VideoCodec::Hevc, &irap);
        assert_eq!(v, Verdict::RandomAccess);
        // The zero runs came through emulation prevention bytes and were restored.
        assert_eq!(
            p,
            Some(VideoParams::Hevc {
                ptl: [0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 0x5D]
            })
        );
        let mut trail = es;
        trail.extend_from_slice(&[0, 0, 1, 1 << 1, 0x01, 0xAF]);
        assert_eq!(
            every_split(VideoCodec::Hevc, &trail).0,
            Verdict::NotRandomAccess
        );
    }

    #[test]
    fn mpeg2_i_picture_needs_a_sequence_header() {
        let seq = [0, 0, 1, 0xB3, 0x28, 0x01, 0x68, 0x13];
        let ext = [0, 0, 1, 0xB5, 0x14, 0x8A, 0x00, 0x01];
        let gop = [0, 0, 1, 0xB8, 0x00, 0x08, 0x00, 0x00];
        let i_picture = [0, 0, 1, 0x00, 0x00, 0x0F, 0xFF, 0xF8];
        let p_picture = [0, 0, 1, 0x00, 0x00, 0x50, 0xFF, 0xF8];
        let (v, p) = every_split(
            VideoCodec::Mpeg2,
            &[&seq[..], &ext, &gop, &i_picture].concat(),
        );
        assert_eq!(v, Verdict::RandomAccess);
        assert_eq!(
            p,
            Some(VideoParams::Mpeg2 {
                profile_and_level: 0x48
            })
        );
        assert_eq!(
            every_split(VideoCodec::Mpeg2, &i_picture).0,
            Verdict::NotRandomAccess,
            "an I picture without a sequence header is not where a decoder can start"
        );
        assert_eq!(
            every_split(VideoCodec::Mpeg2, &[&seq[..], &p_picture].concat()).0,
            Verdict::NotRandomAccess
        );
    }

    #[test]
    fn garbage_never_decides_wrongly_or_panics() {
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Many zeros and ones, to make start codes common.
                [0, 0, 1, (x >> 8) as u8][(x & 3) as usize]
            })
            .collect();
        for codec in [VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Mpeg2] {
            let _ = every_split(codec, &noise);
        }
    }
}
