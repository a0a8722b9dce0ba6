//! The `CODECS` attribute of a master playlist (RFC 8216 §4.3.4.2, names from RFC 6381):
//! players use it to decide, before downloading anything, whether they can play a stream.
//! A wrong name is worse than none (a player refuses what it could have played), so a
//! name is given only when it is derived from the stream itself, and the whole list is
//! left out when one format cannot be named, as ffmpeg's HLS muxer does.

use crate::scan::VideoParams;

/// The RFC 6381 name of a video stream from its parameters, if HLS players know one.
pub fn video(params: VideoParams) -> Option<String> {
    match params {
        // avc1.PPCCLL: profile_idc, constraint flags, level_idc, in hex.
        VideoParams::Avc {
            profile,
            constraints,
            level,
        } => Some(format!("avc1.{profile:02x}{constraints:02x}{level:02x}")),
        VideoParams::Hevc { ptl } => Some(hevc(&ptl)),
        // No HLS player declares MPEG-2 video support through CODECS (the MP4 name would
        // be mp4v.61 and Safari/hls.js reject it), while players that do decode MPEG-2 in
        // TS (VLC, set-top boxes, TVs) play a stream without CODECS. So: no name.
        VideoParams::Mpeg2 { .. } => None,
    }
}

/// `hvc1.[A-C]<profile>.<compatibility, bit-reversed hex>.<L|H><level>.<constraint bytes>`,
/// ISO/IEC 14496-15 Annex E.3, as Apple's HLS authoring specification writes it (hvc1,
/// trailing zero constraint bytes left out, hex in upper case): "hvc1.2.4.L123.B0".
fn hevc(ptl: &[u8; 12]) -> String {
    let space = ["", "A", "B", "C"][usize::from(ptl[0] >> 6)];
    let tier = if ptl[0] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = ptl[0] & 0x1F;
    let compatibility = u32::from_be_bytes([ptl[1], ptl[2], ptl[3], ptl[4]]).reverse_bits();
    let level = ptl[11];
    let mut s = format!("hvc1.{space}{profile}.{compatibility:X}.{tier}{level}");
    let constraints = &ptl[5..11];
    let used = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for b in &constraints[..used] {
        s.push_str(&format!(".{b:X}"));
    }
    s
}

/// What is known of an audio stream's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audio {
    /// AAC in ADTS, with its MPEG-4 audio object type when known (2 = LC, 5 = HE-AAC
    /// (SBR), 29 = HE-AAC v2 (PS)).
    Aac {
        object_type: Option<u8>,
    },
    /// MPEG-1/2 audio layers I-III.
    Mpeg,
    Ac3,
    Eac3,
    /// Anything HLS players cannot be told about (LATM, DTS, PCM, Opus in TS...).
    Other,
}

impl Audio {
    /// From the name `dvbgate_ts::tables::pmt::classify` gives the stream.
    pub fn from_codec_name(name: &str) -> Audio {
        match name {
            "aac" => Audio::Aac { object_type: None },
            "mp2" => Audio::Mpeg,
            "ac3" => Audio::Ac3,
            "eac3" => Audio::Eac3,
            _ => Audio::Other,
        }
    }

    pub fn name(self) -> Option<String> {
        match self {
            // An ADTS header can only say Main/LC/SSR/LTP; HE-AAC in ADTS is signalled
            // implicitly, so LC is what a stream without a descriptor saying otherwise
            // gets, and decoders still find SBR/PS in it.
            Audio::Aac { object_type } => Some(format!("mp4a.40.{}", object_type.unwrap_or(2))),
            // mp4a.40.34 is "MPEG-1/2 audio" in the MP4 registry's object types; it is the
            // name Apple documents for MP3 and the one hls.js and Safari accept for MPEG
            // audio in TS (mp4a.40.33, layer II, is recognised by nobody). Layer II
            // decodes in those players' MPEG audio path when they have one.
            Audio::Mpeg => Some("mp4a.40.34".to_owned()),
            Audio::Ac3 => Some("ac-3".to_owned()),
            Audio::Eac3 => Some("ec-3".to_owned()),
            Audio::Other => None,
        }
    }
}

/// What the first audio frame header in `es` (the start of an audio PES payload) says:
/// ADTS (AAC, with its object type: the 2-bit profile field plus one, ISO/IEC 14496-3
/// §1.A.2) or MPEG-1/2 audio. Both begin with a sync word of ones; ADTS's layer field is
/// always 0, MPEG audio's never. Broadcasters do label AAC as MPEG audio in the PMT.
pub fn sniff_audio(es: &[u8]) -> Option<Audio> {
    // The frame should start the PES payload; allow a little junk before it.
    let at = es
        .windows(2)
        .take(16)
        .position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0)?;
    let b1 = es[at + 1];
    let layer = (b1 >> 1) & 0x03;
    if b1 & 0xF0 == 0xF0 && layer == 0 {
        let b2 = *es.get(at + 2)?;
        Some(Audio::Aac {
            object_type: Some((b2 >> 6) + 1),
        })
    } else if layer != 0 {
        Some(Audio::Mpeg)
    } else {
        None
    }
}

/// The audio object type implied by an MPEG-4 `audioProfileLevelIndication` (ISO/IEC
/// 13818-1 Table 2-71), as DVB's AAC descriptor and the MPEG-4 audio descriptor carry it.
pub fn object_type_from_profile_level(indication: u8) -> Option<u8> {
    match indication {
        0x50..=0x53 => Some(2),  // AAC profile
        0x58..=0x5B => Some(5),  // High Efficiency AAC profile
        0x60..=0x63 => Some(29), // High Efficiency AAC v2 profile
        _ => None,
    }
}

/// The `CODECS` value: the video name (when there is video) and each audio name, without
/// repeats; `None` when any of them cannot be named.
pub fn codecs_attribute(video: Option<Option<String>>, audio: &[Audio]) -> Option<String> {
    let mut names: Vec<String> = Vec::new();
    if let Some(v) = video {
        names.push(v?);
    }
    for a in audio {
        let n = a.name()?;
        if !names.contains(&n) {
            names.push(n);
        }
    }
    (!names.is_empty()).then(|| names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_name() {
        let p = VideoParams::Avc {
            profile: 0x64,
            constraints: 0x00,
            level: 0x28,
        };
        assert_eq!(video(p).as_deref(), Some("avc1.640028"));
    }

    #[test]
    fn hevc_names_as_apple_writes_them() {
        // Main 10, level 4.1 (123), progressive source flag set.
        let main10 = [0x02, 0x20, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 123];
        assert_eq!(hevc(&main10), "hvc1.2.4.L123.B0");
        // Main, main tier, level 3.1 (93); compatibility flags 1 and 2.
        let main = [0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93];
        assert_eq!(hevc(&main), "hvc1.1.6.L93.90");
        // High tier, profile space 1, a constraint byte further in.
        let odd = [0x61, 0x40, 0, 0, 0, 0xB0, 0, 0x08, 0, 0, 0, 150];
        assert_eq!(hevc(&odd), "hvc1.A1.2.H150.B0.0.8");
    }

    #[test]
    fn audio_names() {
        // ADTS: sync, MPEG-4, no CRC; profile field 1 (LC), 48 kHz.
        let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x2E, 0x7F, 0xFC];
        let aac = |ot| {
            Some(Audio::Aac {
                object_type: Some(ot),
            })
        };
        assert_eq!(sniff_audio(&adts), aac(2));
        assert_eq!(sniff_audio(&[0x00, 0x01, 0xFF, 0xF9, 0x0C, 0x80]), aac(1));
        // MPEG-1 layer II, 48 kHz; MPEG-2 layer III.
        assert_eq!(sniff_audio(&[0xFF, 0xFD, 0x84, 0x04]), Some(Audio::Mpeg));
        assert_eq!(sniff_audio(&[0xFF, 0xF3, 0x64, 0x44]), Some(Audio::Mpeg));
        assert_eq!(sniff_audio(&[0x12; 40]), None);
        assert_eq!(sniff_audio(&[0xFF, 0xF1]), None);
        assert_eq!(object_type_from_profile_level(0x59), Some(5));
        assert_eq!(object_type_from_profile_level(0x61), Some(29));
        assert_eq!(object_type_from_profile_level(0x51), Some(2));
        assert_eq!(object_type_from_profile_level(0xFF), None);
        let aac = Audio::Aac {
            object_type: Some(5),
        };
        assert_eq!(
            codecs_attribute(
                Some(video(VideoParams::Avc {
                    profile: 0x4D,
                    constraints: 0x40,
                    level: 0x1E
                })),
                &[aac, aac, Audio::Eac3, Audio::Mpeg]
            )
            .as_deref(),
            Some("avc1.4d401e,mp4a.40.5,ec-3,mp4a.40.34")
        );
        assert_eq!(
            codecs_attribute(None, &[Audio::Ac3]).as_deref(),
            Some("ac-3")
        );
        assert_eq!(codecs_attribute(Some(None), &[Audio::Ac3]), None);
        assert_eq!(
            codecs_attribute(None, &[Audio::Ac3, Audio::Other]),
            None,
            "one unnamed format hides the list"
        );
        assert_eq!(codecs_attribute(None, &[]), None);
    }
}
