//! Descriptor loops (ISO/IEC 13818-1 §2.6, ETSI EN 300 468 §6): `tag, length, payload`
//! repeated. Walked raw so that a remuxer can copy or drop descriptors byte-exactly.

/// Descriptor tags we interpret.
pub mod tag {
    pub const REGISTRATION: u8 = 0x05;
    pub const CA: u8 = 0x09;
    pub const ISO_639_LANGUAGE: u8 = 0x0A;
    pub const NETWORK_NAME: u8 = 0x40;
    pub const SERVICE_LIST: u8 = 0x41;
    pub const SATELLITE_DELIVERY: u8 = 0x43;
    pub const CABLE_DELIVERY: u8 = 0x44;
    pub const SERVICE: u8 = 0x48;
    pub const SHORT_EVENT: u8 = 0x4D;
    pub const EXTENDED_EVENT: u8 = 0x4E;
    pub const COMPONENT: u8 = 0x50;
    pub const STREAM_IDENTIFIER: u8 = 0x52;
    pub const CONTENT: u8 = 0x54;
    pub const PARENTAL_RATING: u8 = 0x55;
    pub const TELETEXT: u8 = 0x56;
    pub const LOCAL_TIME_OFFSET: u8 = 0x58;
    pub const SUBTITLING: u8 = 0x59;
    pub const TERRESTRIAL_DELIVERY: u8 = 0x5A;
    pub const AC3: u8 = 0x6A;
    pub const ENHANCED_AC3: u8 = 0x7A;
    pub const AAC: u8 = 0x7C;
    pub const EXTENSION: u8 = 0x7F;
}

/// One descriptor, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor<'a> {
    pub tag: u8,
    pub payload: &'a [u8],
}

impl<'a> Descriptor<'a> {
    /// The descriptor as it appears on the wire (tag and length included).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.push(self.tag);
        out.push(self.payload.len() as u8);
        out.extend_from_slice(self.payload);
    }
}

/// Iterates a descriptor loop. A truncated last descriptor ends the iteration; broadcast data
/// is often slightly wrong and the good descriptors before it are still worth having.
#[derive(Clone)]
pub struct Descriptors<'a> {
    buf: &'a [u8],
}

impl<'a> Descriptors<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Descriptors { buf }
    }

    /// The first descriptor with this tag.
    pub fn find(&self, tag: u8) -> Option<Descriptor<'a>> {
        Iterator::find(&mut self.clone(), |d: &Descriptor<'a>| d.tag == tag)
    }
}

impl<'a> Iterator for Descriptors<'a> {
    type Item = Descriptor<'a>;
    fn next(&mut self) -> Option<Descriptor<'a>> {
        if self.buf.len() < 2 {
            return None;
        }
        let len = usize::from(self.buf[1]);
        if self.buf.len() < 2 + len {
            self.buf = &[];
            return None;
        }
        let d = Descriptor {
            tag: self.buf[0],
            payload: &self.buf[2..2 + len],
        };
        self.buf = &self.buf[2 + len..];
        Some(d)
    }
}

/// ISO 639 language codes from descriptor 0x0A (each entry: 3 letters, audio type).
pub fn languages(loop_bytes: &[u8]) -> Vec<String> {
    use mpeg2ts_reader::descriptor::iso_639_language::Iso639LanguageDescriptor;
    let mut out = Vec::new();
    for d in Descriptors::new(loop_bytes).filter(|d| d.tag == tag::ISO_639_LANGUAGE) {
        if let Ok(desc) = Iso639LanguageDescriptor::new(d.tag, d.payload) {
            for lang in desc.languages().flatten() {
                out.push(lang.code().into_owned());
            }
        }
    }
    // Subtitling and teletext descriptors carry languages in their own layouts.
    for d in Descriptors::new(loop_bytes) {
        let (stride, ok) = match d.tag {
            tag::SUBTITLING => (8, true),
            tag::TELETEXT => (5, true),
            _ => (0, false),
        };
        if ok {
            for entry in d.payload.chunks_exact(stride) {
                let code = String::from_utf8_lossy(&entry[..3]).into_owned();
                if !out.contains(&code) {
                    out.push(code);
                }
            }
        }
    }
    out
}

/// `(CA_system_id, CA_PID)` of each CA descriptor in a loop.
pub fn ca_descriptors(loop_bytes: &[u8]) -> impl Iterator<Item = (u16, u16)> + '_ {
    Descriptors::new(loop_bytes)
        .filter(|d| d.tag == tag::CA && d.payload.len() >= 4)
        .map(|d| {
            let system = u16::from_be_bytes([d.payload[0], d.payload[1]]);
            let pid = u16::from_be_bytes([d.payload[2] & 0x1F, d.payload[3]]);
            (system, pid)
        })
}

/// Copies a descriptor loop, leaving out descriptors for which `keep` is false.
pub fn filter_loop(loop_bytes: &[u8], keep: impl Fn(&Descriptor<'_>) -> bool, out: &mut Vec<u8>) {
    for d in Descriptors::new(loop_bytes).filter(|d| keep(d)) {
        d.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_and_stops_at_truncation() {
        let data = [
            0x0A, 4, b'f', b'r', b'a', 0, 0x09, 4, 0x01, 0x00, 0xE1, 0x00, 0x48, 9, 1,
        ];
        let all: Vec<_> = Descriptors::new(&data).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(languages(&data), vec!["fra".to_string()]);
        assert_eq!(
            ca_descriptors(&data).collect::<Vec<_>>(),
            vec![(0x0100, 0x0100)]
        );
        let mut out = Vec::new();
        filter_loop(&data, |d| d.tag != tag::CA, &mut out);
        assert_eq!(out, &data[..6]);
    }
}
