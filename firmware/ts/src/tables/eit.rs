//! Event Information Table (ETSI EN 300 468 §5.2.4): what is on now and next (present/
//! following) and the schedule. The backbone forwards present/following sections as they
//! are; the EPG parses events.

use super::time;
use super::{TableError, be16, len12, malformed};
use crate::descriptor::{Descriptors, tag};
use crate::section::Section;
use crate::write::SectionBuilder;

#[derive(Clone, Copy, Debug)]
pub struct Eit<'a> {
    pub table_id: u8,
    pub service_id: u16,
    pub transport_stream_id: u16,
    pub original_network_id: u16,
    pub segment_last_section_number: u8,
    pub last_table_id: u8,
    event_loop: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub event_id: u16,
    /// Unix seconds; `None` when the broadcaster left it undefined.
    pub start: Option<i64>,
    pub duration: Option<u32>,
    pub running_status: u8,
    pub free_ca_mode: bool,
    pub descriptors: &'a [u8],
}

/// Short event descriptor (0x4D): the title and a one-line summary, DVB-coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortEvent<'a> {
    pub language: [u8; 3],
    pub name: &'a [u8],
    pub text: &'a [u8],
}

pub fn is_eit(table_id: u8) -> bool {
    (0x4E..=0x6F).contains(&table_id)
}

pub fn parse<'a>(section: &Section<'a>) -> Result<Eit<'a>, TableError> {
    if !is_eit(section.table_id()) || !section.has_syntax() {
        return Err(malformed("EIT", "not an EIT section"));
    }
    let p = section.payload();
    if p.len() < 6 {
        return Err(malformed("EIT", "too short"));
    }
    Ok(Eit {
        table_id: section.table_id(),
        service_id: section.table_id_extension(),
        transport_stream_id: be16(p, 0).unwrap_or(0),
        original_network_id: be16(p, 2).unwrap_or(0),
        segment_last_section_number: p[4],
        last_table_id: p[5],
        event_loop: &p[6..],
    })
}

impl<'a> Eit<'a> {
    pub fn events(&self) -> impl Iterator<Item = Event<'a>> + 'a {
        let mut rest = self.event_loop;
        std::iter::from_fn(move || {
            let len = len12(rest, 10)?;
            let descriptors = rest.get(12..12 + len)?;
            let e = Event {
                event_id: be16(rest, 0)?,
                start: time::decode_utc(&rest[2..7]),
                duration: time::decode_duration(&rest[7..10]),
                running_status: rest[10] >> 5,
                free_ca_mode: rest[10] & 0x10 != 0,
                descriptors,
            };
            rest = &rest[12 + len..];
            Some(e)
        })
    }
}

impl<'a> Event<'a> {
    pub fn short_event(&self) -> Option<ShortEvent<'a>> {
        let d = Descriptors::new(self.descriptors).find(tag::SHORT_EVENT)?;
        let p = d.payload;
        let language = p.get(..3)?.try_into().ok()?;
        let name_len = usize::from(*p.get(3)?);
        let name = p.get(4..4 + name_len)?;
        let text_len = usize::from(*p.get(4 + name_len)?);
        let text = p.get(5 + name_len..5 + name_len + text_len)?;
        Some(ShortEvent {
            language,
            name,
            text,
        })
    }
}

/// An event to write.
#[derive(Clone, Debug)]
pub struct EventEntry<'a> {
    pub event_id: u16,
    pub start: i64,
    pub duration: u32,
    pub running_status: u8,
    pub descriptors: &'a [u8],
}

/// Identifies one EIT section to build.
#[derive(Clone, Copy, Debug)]
pub struct EitHeader {
    pub table_id: u8,
    pub service_id: u16,
    pub version: u8,
    pub section_number: u8,
    pub last_section_number: u8,
    pub transport_stream_id: u16,
    pub original_network_id: u16,
    pub segment_last_section_number: u8,
    pub last_table_id: u8,
}

pub fn build(h: &EitHeader, events: &[EventEntry<'_>]) -> Vec<u8> {
    let mut b = SectionBuilder::long(
        h.table_id,
        h.service_id,
        h.version,
        h.section_number,
        h.last_section_number,
    );
    b.push_u16(h.transport_stream_id);
    b.push_u16(h.original_network_id);
    b.push_u8(h.segment_last_section_number);
    b.push_u8(h.last_table_id);
    for e in events {
        b.push_u16(e.event_id);
        b.push_bytes(&time::encode_utc(e.start));
        b.push_bytes(&time::encode_duration(e.duration));
        let m = b.open_length((e.running_status & 7) << 5);
        b.push_bytes(e.descriptors);
        b.close_length(m);
    }
    b.finish()
}

/// A short event descriptor with DVB-coded strings; truncates to keep within 255 bytes.
pub fn short_event_descriptor(language: &[u8; 3], name: &str, text: &str) -> Vec<u8> {
    let mut name = crate::text::encode(name);
    let mut text = crate::text::encode(text);
    name.truncate(120);
    text.truncate(250 - 5 - name.len());
    let mut d = vec![tag::SHORT_EVENT, (5 + name.len() + text.len()) as u8];
    d.extend_from_slice(language);
    d.push(name.len() as u8);
    d.extend_from_slice(&name);
    d.push(text.len() as u8);
    d.extend_from_slice(&text);
    d
}

/// A content descriptor (0x54) with one genre (level 1 and 2 nibbles).
pub fn content_descriptor(nibbles: u8) -> Vec<u8> {
    vec![tag::CONTENT, 2, nibbles, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d = short_event_descriptor(b"eng", "News", "The news at one");
        let header = EitHeader {
            table_id: 0x4E,
            service_id: 0x1001,
            version: 4,
            section_number: 0,
            last_section_number: 1,
            transport_stream_id: 1,
            original_network_id: 0x20FA,
            segment_last_section_number: 1,
            last_table_id: 0x4E,
        };
        let bytes = build(
            &header,
            &[EventEntry {
                event_id: 77,
                start: 1_700_000_000,
                duration: 1800,
                running_status: 4,
                descriptors: &d,
            }],
        );
        let s = Section::new(&bytes).unwrap();
        let eit = parse(&s).unwrap();
        assert_eq!(eit.service_id, 0x1001);
        let events: Vec<_> = eit.events().collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].start, Some(1_700_000_000));
        assert_eq!(events[0].duration, Some(1800));
        assert_eq!(events[0].running_status, 4);
        let se = events[0].short_event().unwrap();
        assert_eq!(
            (&se.language, se.name, se.text),
            (b"eng", &b"News"[..], &b"The news at one"[..])
        );
    }
}
