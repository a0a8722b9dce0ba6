//! Program Map Table (ISO/IEC 13818-1 §2.4.4.8).
//!
//! Parsed into a borrowed view that keeps descriptor loops raw, so the remuxer can copy them
//! exactly or filter them (CA descriptors, chosen streams).

use super::{TableError, len12, malformed, pid13, table_id};
use crate::descriptor::{Descriptors, tag};
use crate::section::Section;
use crate::write::SectionBuilder;

#[derive(Clone, Copy, Debug)]
pub struct Pmt<'a> {
    pub program_number: u16,
    pub pcr_pid: u16,
    /// Program-level descriptor loop.
    pub program_info: &'a [u8],
    stream_loop: &'a [u8],
}

/// One elementary stream of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmtStream<'a> {
    pub stream_type: u8,
    pub pid: u16,
    /// ES-level descriptor loop.
    pub es_info: &'a [u8],
}

pub fn parse<'a>(section: &Section<'a>) -> Result<Pmt<'a>, TableError> {
    if section.table_id() != table_id::PMT || !section.has_syntax() {
        return Err(malformed("PMT", "not a PMT section"));
    }
    let p = section.payload();
    let pcr_pid = pid13(p, 0).ok_or(malformed("PMT", "too short"))?;
    let info_len = len12(p, 2).ok_or(malformed("PMT", "too short"))?;
    if 4 + info_len > p.len() {
        return Err(malformed("PMT", "program_info_length beyond the section"));
    }
    Ok(Pmt {
        program_number: section.table_id_extension(),
        pcr_pid,
        program_info: &p[4..4 + info_len],
        stream_loop: &p[4 + info_len..],
    })
}

impl<'a> Pmt<'a> {
    /// The streams; a truncated entry ends the list.
    pub fn streams(&self) -> impl Iterator<Item = PmtStream<'a>> + 'a {
        let mut rest = self.stream_loop;
        std::iter::from_fn(move || {
            if rest.len() < 5 {
                return None;
            }
            let es_len = len12(rest, 3)?;
            if rest.len() < 5 + es_len {
                return None;
            }
            let s = PmtStream {
                stream_type: rest[0],
                pid: pid13(rest, 1)?,
                es_info: &rest[5..5 + es_len],
            };
            rest = &rest[5 + es_len..];
            Some(s)
        })
    }

    /// True if the program or any stream declares conditional access.
    pub fn has_ca(&self) -> bool {
        crate::descriptor::ca_descriptors(self.program_info)
            .next()
            .is_some()
            || self.streams().any(|s| {
                crate::descriptor::ca_descriptors(s.es_info)
                    .next()
                    .is_some()
            })
    }

    /// A registration descriptor's format identifier at program level, e.g. `b"HDMV"`.
    pub fn registration(&self) -> Option<[u8; 4]> {
        let d = Descriptors::new(self.program_info).find(tag::REGISTRATION)?;
        d.payload.get(..4)?.try_into().ok()
    }
}

/// A stream to write into a PMT.
#[derive(Clone, Copy, Debug)]
pub struct StreamEntry<'a> {
    pub stream_type: u8,
    pub pid: u16,
    pub es_info: &'a [u8],
}

pub fn build(
    program_number: u16,
    version: u8,
    pcr_pid: u16,
    program_info: &[u8],
    streams: &[StreamEntry<'_>],
) -> Vec<u8> {
    let mut b = SectionBuilder::long(table_id::PMT, program_number, version, 0, 0);
    b.push_u16(0xE000 | pcr_pid);
    let m = b.open_length(0xF0);
    b.push_bytes(program_info);
    b.close_length(m);
    for s in streams {
        b.push_u8(s.stream_type);
        b.push_u16(0xE000 | s.pid);
        let m = b.open_length(0xF0);
        b.push_bytes(s.es_info);
        b.close_length(m);
    }
    b.finish()
}

/// What an elementary stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    Video,
    Audio,
    Subtitles,
    Teletext,
    Data,
}

/// Classifies a stream and names its codec the way ffprobe does, from the stream type and,
/// for private PES (0x06), the DVB descriptors. `registration` is the program-level format
/// identifier, which gives the 0x80..0x8F range its Blu-ray (HDMV) meaning.
pub fn classify(
    stream_type: u8,
    es_info: &[u8],
    registration: Option<[u8; 4]>,
) -> (StreamKind, &'static str) {
    use StreamKind::*;
    let hdmv = registration == Some(*b"HDMV");
    match stream_type {
        0x01 => (Video, "mpeg1video"),
        0x02 => (Video, "mpeg2video"),
        0x10 => (Video, "mpeg4"),
        0x1B => (Video, "h264"),
        0x24 => (Video, "hevc"),
        0x33 => (Video, "vvc"),
        0x42 => (Video, "cavs"),
        0xEA => (Video, "vc1"),
        // The PMT says "MPEG-1 audio" or "MPEG-2 audio", not the layer; broadcasters carry
        // layer II almost always, which is what ffprobe then reports.
        0x03 | 0x04 => (Audio, "mp2"),
        0x0F => (Audio, "aac"),
        0x11 => (Audio, "aac_latm"),
        0x80 if hdmv => (Audio, "pcm_bluray"),
        0x81 => (Audio, "ac3"),
        0x82 | 0x85 | 0x86 if hdmv => (Audio, "dts"),
        0x84 | 0x87 | 0xA1 => (Audio, "eac3"),
        0x83 if hdmv => (Audio, "truehd"),
        0x90 if hdmv => (Subtitles, "hdmv_pgs_subtitle"),
        0x86 => (Data, "scte_35"),
        0x06 => {
            let mut kind = (Data, "data");
            for d in Descriptors::new(es_info) {
                kind = match d.tag {
                    tag::AC3 => (Audio, "ac3"),
                    tag::ENHANCED_AC3 => (Audio, "eac3"),
                    0x7B => (Audio, "dts"),
                    tag::AAC => (Audio, "aac"),
                    tag::TELETEXT => (Teletext, "dvb_teletext"),
                    tag::SUBTITLING => (Subtitles, "dvb_subtitle"),
                    tag::EXTENSION if d.payload.first() == Some(&0x15) => (Audio, "ac4"),
                    // A format identifier names what DVB has no descriptor for (SMPTE 302M
                    // PCM, as vidtv sends, and Opus), or repeats what it has.
                    tag::REGISTRATION => match d.payload.get(..4) {
                        Some(b"BSSD") => (Audio, "s302m"),
                        Some(b"Opus") => (Audio, "opus"),
                        Some(b"AC-3") => (Audio, "ac3"),
                        Some(b"EAC3") => (Audio, "eac3"),
                        Some(b"DTS1" | b"DTS2" | b"DTS3") => (Audio, "dts"),
                        Some(b"HEVC") => (Video, "hevc"),
                        Some(b"VC-1") => (Video, "vc1"),
                        _ => continue,
                    },
                    _ => continue,
                };
                break;
            }
            kind
        }
        _ => (Data, "data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_pes_named_by_its_format_identifier() {
        let bssd = [0x05, 4, b'B', b'S', b'S', b'D'];
        assert_eq!(classify(0x06, &bssd, None), (StreamKind::Audio, "s302m"));
        let opus = [
            0x0A, 4, b'e', b'n', b'g', 0, 0x05, 4, b'O', b'p', b'u', b's',
        ];
        assert_eq!(classify(0x06, &opus, None), (StreamKind::Audio, "opus"));
        let unknown = [0x05, 4, b'K', b'L', b'V', b'A'];
        assert_eq!(classify(0x06, &unknown, None), (StreamKind::Data, "data"));
        let truncated = [0x05, 2, b'B', b'S'];
        assert_eq!(classify(0x06, &truncated, None), (StreamKind::Data, "data"));
    }

    #[test]
    fn round_trip_with_descriptors() {
        let lang = [0x0A, 4, b'e', b'n', b'g', 0];
        let ttx = [0x56, 5, b'f', b'r', b'a', 0x09, 0x00];
        let ca = [0x09, 4, 0x05, 0x00, 0xE5, 0x00];
        let bytes = build(
            1031,
            3,
            0x100,
            &ca,
            &[
                StreamEntry {
                    stream_type: 0x1B,
                    pid: 0x100,
                    es_info: &[],
                },
                StreamEntry {
                    stream_type: 0x04,
                    pid: 0x101,
                    es_info: &lang,
                },
                StreamEntry {
                    stream_type: 0x06,
                    pid: 0x102,
                    es_info: &ttx,
                },
            ],
        );
        let s = Section::new(&bytes).unwrap();
        let pmt = parse(&s).unwrap();
        assert_eq!(pmt.program_number, 1031);
        assert_eq!(pmt.pcr_pid, 0x100);
        assert!(pmt.has_ca());
        let streams: Vec<_> = pmt.streams().collect();
        assert_eq!(streams.len(), 3);
        assert_eq!(streams[1].es_info, &lang);
        assert_eq!(
            classify(streams[0].stream_type, streams[0].es_info, None),
            (StreamKind::Video, "h264")
        );
        assert_eq!(
            classify(streams[2].stream_type, streams[2].es_info, None),
            (StreamKind::Teletext, "dvb_teletext")
        );
        assert_eq!(
            crate::descriptor::languages(streams[2].es_info),
            vec!["fra"]
        );
    }

    #[test]
    fn bad_program_info_length_is_an_error() {
        let mut b = SectionBuilder::long(table_id::PMT, 1, 0, 0, 0);
        b.push_u16(0xE100);
        b.push_u16(0xF0FF); // 255 bytes of program info that are not there
        let bytes = b.finish();
        assert!(parse(&Section::new(&bytes).unwrap()).is_err());
    }
}
