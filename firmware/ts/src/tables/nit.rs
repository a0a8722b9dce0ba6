//! Network Information Table (ETSI EN 300 468 §5.2.1): the network's id and name and the
//! multiplexes it carries, with their delivery parameters (which a scan follows).

use super::{TableError, be16, len12, malformed, table_id};
use crate::descriptor::{Descriptors, tag};
use crate::section::Section;
use crate::write::SectionBuilder;

#[derive(Clone, Copy, Debug)]
pub struct Nit<'a> {
    pub actual: bool,
    pub network_id: u16,
    pub network_descriptors: &'a [u8],
    ts_loop: &'a [u8],
}

/// One multiplex of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NitTransport<'a> {
    pub transport_stream_id: u16,
    pub original_network_id: u16,
    pub descriptors: &'a [u8],
}

pub fn parse<'a>(section: &Section<'a>) -> Result<Nit<'a>, TableError> {
    let actual = match section.table_id() {
        table_id::NIT_ACTUAL => true,
        table_id::NIT_OTHER => false,
        _ => return Err(malformed("NIT", "not a NIT section")),
    };
    let p = section.payload();
    let nd_len = len12(p, 0).ok_or(malformed("NIT", "too short"))?;
    let network_descriptors = p
        .get(2..2 + nd_len)
        .ok_or(malformed("NIT", "network descriptors beyond the section"))?;
    let ts_len = len12(p, 2 + nd_len).ok_or(malformed("NIT", "too short"))?;
    let start = 4 + nd_len;
    let ts_loop = p.get(start..(start + ts_len).min(p.len())).unwrap_or(&[]);
    Ok(Nit {
        actual,
        network_id: section.table_id_extension(),
        network_descriptors,
        ts_loop,
    })
}

impl<'a> Nit<'a> {
    /// The network name descriptor's text, still DVB-coded.
    pub fn network_name(&self) -> Option<&'a [u8]> {
        Descriptors::new(self.network_descriptors)
            .find(tag::NETWORK_NAME)
            .map(|d| d.payload)
    }

    pub fn transport_streams(&self) -> impl Iterator<Item = NitTransport<'a>> + 'a {
        let mut rest = self.ts_loop;
        std::iter::from_fn(move || {
            let len = len12(rest, 4)?;
            let descriptors = rest.get(6..6 + len)?;
            let t = NitTransport {
                transport_stream_id: be16(rest, 0)?,
                original_network_id: be16(rest, 2)?,
                descriptors,
            };
            rest = &rest[6 + len..];
            Some(t)
        })
    }
}

/// The delivery system a transport's descriptors describe, for diagnostics.
pub fn delivery_system(descriptors: &[u8]) -> Option<&'static str> {
    Descriptors::new(descriptors).find_map(|d| match d.tag {
        tag::SATELLITE_DELIVERY => Some(if d.payload.get(6).is_some_and(|b| b & 0x04 != 0) {
            "DVB-S2"
        } else {
            "DVB-S"
        }),
        tag::CABLE_DELIVERY => Some("DVB-C"),
        tag::TERRESTRIAL_DELIVERY => Some("DVB-T"),
        tag::EXTENSION => match d.payload.first() {
            Some(0x04) => Some("DVB-T2"),
            Some(0x0D) => Some("DVB-C2"),
            _ => None,
        },
        _ => None,
    })
}

/// A single-section NIT actual.
pub fn build(
    network_id: u16,
    version: u8,
    network_descriptors: &[u8],
    transports: &[NitTransport<'_>],
) -> Vec<u8> {
    let mut b = SectionBuilder::long(table_id::NIT_ACTUAL, network_id, version, 0, 0);
    let m = b.open_length(0xF0);
    b.push_bytes(network_descriptors);
    b.close_length(m);
    let loop_mark = b.open_length(0xF0);
    for t in transports {
        b.push_u16(t.transport_stream_id);
        b.push_u16(t.original_network_id);
        let m = b.open_length(0xF0);
        b.push_bytes(t.descriptors);
        b.close_length(m);
    }
    b.close_length(loop_mark);
    b.finish()
}

/// A network name descriptor.
pub fn network_name_descriptor(name: &str) -> Vec<u8> {
    let text = crate::text::encode(name);
    let mut d = vec![tag::NETWORK_NAME, text.len() as u8];
    d.extend_from_slice(&text);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let name = network_name_descriptor("dvbgate demo");
        let terrestrial = [
            tag::TERRESTRIAL_DELIVERY,
            11,
            0x03,
            0x2A,
            0x5C,
            0x40,
            0x1F,
            0x81,
            0x0A,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
        ];
        let bytes = build(
            0x3001,
            2,
            &name,
            &[NitTransport {
                transport_stream_id: 1,
                original_network_id: 0x20FA,
                descriptors: &terrestrial,
            }],
        );
        let s = Section::new(&bytes).unwrap();
        let nit = parse(&s).unwrap();
        assert_eq!(nit.network_id, 0x3001);
        assert_eq!(nit.network_name(), Some(&b"dvbgate demo"[..]));
        let ts: Vec<_> = nit.transport_streams().collect();
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].original_network_id, 0x20FA);
        assert_eq!(delivery_system(ts[0].descriptors), Some("DVB-T"));
    }
}
