//! Network Information Table (ETSI EN 300 468 §5.2.1): the network's id and name and the
//! multiplexes it carries, with their delivery parameters (which a scan follows), the
//! services of each (service list) and, in many networks, their channel numbers.
//!
//! A NIT may span many sections (a satellite network lists hundreds of transponders), each
//! carrying some of the transport streams. [`TableCollector`] gathers the sections of one
//! version into a [`NetworkTable`], an owned, decoded form with bounded size. The Bouquet
//! Association Table has the same syntax and uses the same pieces ([`super::bat`]).

use super::{TableError, be16, len12, malformed, table_id};
use crate::delivery::{self, Delivery};
use crate::descriptor::{self, Descriptors, LogicalChannel, ServiceListEntry, tag};
use crate::section::Section;
use crate::write::SectionBuilder;
use std::collections::BTreeMap;

/// At most this many transport streams are kept of one NIT or BAT.
pub const MAX_TRANSPORTS: usize = 512;
/// At most this many service list and channel number entries are kept of one NIT or BAT,
/// all transport streams together: a NIT section is at most 1 KiB and a table 256
/// sections, so a hostile or broken table could otherwise make us keep a quarter of a
/// megabyte of small entries per table.
pub const MAX_ENTRIES: usize = 4096;

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
    let (network_descriptors, ts_loop) = parse_loops("NIT", section.payload())?;
    Ok(Nit {
        actual,
        network_id: section.table_id_extension(),
        network_descriptors,
        ts_loop,
    })
}

/// The first descriptor loop and the transport stream loop of a NIT or BAT body. A
/// transport stream loop that claims more than the section holds is cut to what is there.
pub(crate) fn parse_loops<'a>(
    table: &'static str,
    p: &'a [u8],
) -> Result<(&'a [u8], &'a [u8]), TableError> {
    let first_len = len12(p, 0).ok_or(malformed(table, "too short"))?;
    let first = p
        .get(2..2 + first_len)
        .ok_or(malformed(table, "first descriptor loop beyond the section"))?;
    let ts_len = len12(p, 2 + first_len).ok_or(malformed(table, "too short"))?;
    let start = 4 + first_len;
    let ts_loop = p.get(start..(start + ts_len).min(p.len())).unwrap_or(&[]);
    Ok((first, ts_loop))
}

/// The transport streams of a transport stream loop; a truncated entry ends them.
pub(crate) fn transport_loop(ts_loop: &[u8]) -> impl Iterator<Item = NitTransport<'_>> + '_ {
    let mut rest = ts_loop;
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

impl<'a> Nit<'a> {
    /// The network name descriptor's text, still DVB-coded.
    pub fn network_name(&self) -> Option<&'a [u8]> {
        Descriptors::new(self.network_descriptors)
            .find(tag::NETWORK_NAME)
            .map(|d| d.payload)
    }

    pub fn transport_streams(&self) -> impl Iterator<Item = NitTransport<'a>> + 'a {
        transport_loop(self.ts_loop)
    }
}

impl NitTransport<'_> {
    /// Everything a scan wants from this entry, decoded. Descriptors that do not decode are
    /// left out.
    pub fn details(&self) -> TransportDetails {
        let mut d = TransportDetails {
            transport_stream_id: self.transport_stream_id,
            original_network_id: self.original_network_id,
            delivery_system: delivery_system(self.descriptors),
            deliveries: delivery::deliveries(self.descriptors)
                .filter_map(Result::ok)
                .collect(),
            other_frequencies_hz: Vec::new(),
            services: Vec::new(),
            logical_channels: descriptor::logical_channels(self.descriptors),
        };
        for desc in Descriptors::new(self.descriptors) {
            match desc.tag {
                tag::SERVICE_LIST => d.services.extend(descriptor::service_list(desc.payload)),
                tag::FREQUENCY_LIST => {
                    if let Ok(list) = delivery::frequency_list(desc.payload) {
                        d.other_frequencies_hz.extend(list.frequencies_hz);
                    }
                }
                _ => {}
            }
        }
        d
    }
}

/// What a NIT or BAT says about one transport stream, decoded and owned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TransportDetails {
    pub transport_stream_id: u16,
    pub original_network_id: u16,
    /// The delivery system its descriptor names, even one not decoded here (DVB-C2).
    pub delivery_system: Option<&'static str>,
    /// The delivery descriptors that decoded: normally one.
    pub deliveries: Vec<Delivery>,
    /// From frequency list descriptors: other frequencies of the same multiplex.
    pub other_frequencies_hz: Vec<u64>,
    /// From service list descriptors: the services and their types.
    pub services: Vec<ServiceListEntry>,
    /// Channel numbers, per [`descriptor::logical_channels`].
    pub logical_channels: Vec<LogicalChannel>,
}

impl TransportDetails {
    /// The delivery descriptor to tune by: a T2 one before a terrestrial one (a DVB-T2
    /// multiplex may carry both, the T2 one being the more precise), else the first.
    pub fn delivery(&self) -> Option<&Delivery> {
        self.deliveries
            .iter()
            .find(|d| matches!(d, Delivery::T2(_)))
            .or(self.deliveries.first())
    }

    /// This service's channel number, if the entry gives one.
    pub fn logical_channel(&self, service_id: u16) -> Option<LogicalChannel> {
        self.logical_channels
            .iter()
            .find(|c| c.service_id == service_id)
            .copied()
    }

    /// This service's type in the service list, if the entry lists it.
    pub fn service_type(&self, service_id: u16) -> Option<u8> {
        self.services
            .iter()
            .find(|s| s.service_id == service_id)
            .map(|s| s.service_type)
    }

    fn entries(&self) -> usize {
        self.services.len() + self.logical_channels.len()
    }
}

/// A whole NIT or BAT as far as its sections have arrived, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetworkTable {
    /// `network_id` of a NIT, `bouquet_id` of a BAT.
    pub id: u16,
    pub version: u8,
    /// The network name (0x40) or bouquet name (0x47), from the first section with one.
    pub name: Option<String>,
    /// In section order.
    pub transports: Vec<TransportDetails>,
    /// Every section of this version has arrived.
    pub complete: bool,
    /// Entries were left out to stay within [`MAX_TRANSPORTS`] and [`MAX_ENTRIES`].
    pub truncated: bool,
}

impl NetworkTable {
    /// The entry of this transport stream. `original_network_id` is checked when given
    /// (two networks' streams may share a transport_stream_id).
    pub fn transport(
        &self,
        transport_stream_id: u16,
        original_network_id: Option<u16>,
    ) -> Option<&TransportDetails> {
        self.transports.iter().find(|t| {
            t.transport_stream_id == transport_stream_id
                && original_network_id.is_none_or(|o| o == t.original_network_id)
        })
    }
}

/// One section's share of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SectionContent {
    name: Option<String>,
    transports: Vec<TransportDetails>,
}

/// Gathers the sections of one NIT or BAT (one network or bouquet id) into a
/// [`NetworkTable`]. A new version starts over. Feed it only sections that changed (the
/// multiplex model skips repeats by CRC): each call rebuilds the table.
#[derive(Clone, Debug, Default)]
pub struct TableCollector {
    version: Option<u8>,
    last_section: u8,
    sections: BTreeMap<u8, SectionContent>,
    table: Option<NetworkTable>,
}

impl TableCollector {
    /// Adds one section, given as its decoded name and transports. True when the table
    /// as [`Self::table`] shows it changed.
    pub fn add(
        &mut self,
        section: &Section<'_>,
        name: Option<String>,
        transports: Vec<TransportDetails>,
    ) -> bool {
        let id = section.table_id_extension();
        let same_table = self.version == Some(section.version())
            && self.table.as_ref().is_some_and(|t| t.id == id)
            && self.last_section == section.last_section_number();
        if !same_table {
            self.version = Some(section.version());
            self.last_section = section.last_section_number();
            self.sections.clear();
        }
        self.sections.insert(
            section.section_number(),
            SectionContent { name, transports },
        );
        let table = self.assemble(id, section.version());
        let changed = self.table.as_ref() != Some(&table);
        self.table = Some(table);
        changed
    }

    fn assemble(&self, id: u16, version: u8) -> NetworkTable {
        let mut t = NetworkTable {
            id,
            version,
            complete: (0..=self.last_section).all(|n| self.sections.contains_key(&n)),
            ..Default::default()
        };
        let mut entries = 0;
        for content in self.sections.values() {
            if t.name.is_none() {
                t.name.clone_from(&content.name);
            }
            for transport in &content.transports {
                if t.transports.len() >= MAX_TRANSPORTS
                    || entries + transport.entries() > MAX_ENTRIES
                {
                    t.truncated = true;
                    continue;
                }
                entries += transport.entries();
                t.transports.push(transport.clone());
            }
        }
        t
    }

    /// The table as far as it has arrived.
    pub fn table(&self) -> Option<&NetworkTable> {
        self.table.as_ref()
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
    build_section(
        table_id::NIT_ACTUAL,
        network_id,
        version,
        (0, 0),
        network_descriptors,
        transports,
    )
}

/// One section of a NIT actual or other, or of a BAT (same syntax): `id` is the network
/// or bouquet id, `numbers` is `(section_number, last_section_number)`.
pub fn build_section(
    table_id: u8,
    id: u16,
    version: u8,
    numbers: (u8, u8),
    first_descriptors: &[u8],
    transports: &[NitTransport<'_>],
) -> Vec<u8> {
    let mut b = SectionBuilder::long(table_id, id, version, numbers.0, numbers.1);
    let m = b.open_length(0xF0);
    b.push_bytes(first_descriptors);
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

    /// A satellite delivery descriptor at `mhz` (whole MHz), 19.2°E, horizontal, DVB-S2
    /// 8PSK, 22 Msym/s, FEC 3/4.
    fn satellite(mhz: u32) -> Vec<u8> {
        let digits = format!("{:06}00", mhz);
        let bcd: Vec<u8> = digits
            .as_bytes()
            .chunks(2)
            .map(|p| (p[0] - b'0') << 4 | (p[1] - b'0'))
            .collect();
        let mut d = vec![tag::SATELLITE_DELIVERY, 11];
        d.extend_from_slice(&bcd);
        d.extend_from_slice(&[0x01, 0x92, 0x86, 0x02, 0x20, 0x00, 0x03]);
        d
    }

    #[test]
    fn details_decode_delivery_services_and_channel_numbers() {
        let mut descriptors = satellite(11_362);
        descriptors.extend_from_slice(&[0x41, 6, 0x00, 0x0A, 0x19, 0x00, 0x0B, 0x02]);
        descriptors.extend_from_slice(&[0x83, 4, 0x00, 0x0A, 0xFC, 0x07]);
        descriptors.extend_from_slice(&[tag::FREQUENCY_LIST, 5, 0xFD, 0x01, 0x17, 0x66, 0x00]);
        let t = NitTransport {
            transport_stream_id: 3,
            original_network_id: 1,
            descriptors: &descriptors,
        }
        .details();
        assert_eq!(t.delivery_system, Some("DVB-S2"));
        let Some(Delivery::Satellite(s)) = t.delivery() else {
            panic!("no satellite delivery in {t:?}")
        };
        assert_eq!(s.frequency_hz, 11_362_000_000);
        assert_eq!(s.orbital_position.signed_tenths(), 192);
        assert_eq!(t.service_type(0x0B), Some(0x02));
        assert_eq!(t.service_type(0x0C), None);
        assert_eq!(t.logical_channel(0x0A).map(|c| c.number), Some(7));
        assert_eq!(t.other_frequencies_hz, vec![11_766_000_000]);
    }

    fn transports(first_tsid: u16, n: u16, descriptors: &[u8]) -> Vec<NitTransport<'_>> {
        (first_tsid..first_tsid + n)
            .map(|tsid| NitTransport {
                transport_stream_id: tsid,
                original_network_id: 1,
                descriptors,
            })
            .collect()
    }

    fn add(c: &mut TableCollector, bytes: &[u8]) -> bool {
        let s = Section::new(bytes).unwrap();
        let nit = parse(&s).unwrap();
        c.add(
            &s,
            nit.network_name().map(crate::text::decode),
            nit.transport_streams().map(|t| t.details()).collect(),
        )
    }

    #[test]
    fn collector_gathers_sections_and_restarts_on_a_new_version() {
        let d = satellite(10_714);
        let name = network_name_descriptor("ASTRA 1");
        let s0 = build_section(0x40, 1, 4, (0, 2), &name, &transports(1, 3, &d));
        let s1 = build_section(0x40, 1, 4, (1, 2), &[], &transports(4, 2, &d));
        let s2 = build_section(0x40, 1, 4, (2, 2), &[], &transports(6, 1, &d));
        let mut c = TableCollector::default();
        assert!(add(&mut c, &s1));
        let t = c.table().unwrap();
        assert!(!t.complete);
        assert_eq!(t.name, None, "the name is in section 0");
        assert!(add(&mut c, &s0));
        assert!(add(&mut c, &s2));
        let t = c.table().unwrap();
        assert!(t.complete && !t.truncated);
        assert_eq!((t.id, t.version), (1, 4));
        assert_eq!(t.name.as_deref(), Some("ASTRA 1"));
        let tsids: Vec<u16> = t.transports.iter().map(|t| t.transport_stream_id).collect();
        assert_eq!(tsids, vec![1, 2, 3, 4, 5, 6], "in section order");
        assert!(t.transport(5, Some(1)).is_some());
        assert!(t.transport(5, Some(2)).is_none());
        // The same section again changes nothing.
        assert!(!add(&mut c, &s2));
        // Version 5: what version 4 said is gone until its sections come.
        let v5 = build_section(0x40, 1, 5, (0, 1), &name, &transports(9, 1, &d));
        assert!(add(&mut c, &v5));
        let t = c.table().unwrap();
        assert!(!t.complete);
        assert_eq!(t.transports.len(), 1);
        assert_eq!(t.transports[0].transport_stream_id, 9);
    }

    #[test]
    fn collector_bounds_what_it_keeps() {
        // Each entry lists 80 services: 4096 entries are reached after 51 transports.
        let mut d = vec![0x41, 240];
        for sid in 0..80u16 {
            d.extend_from_slice(&sid.to_be_bytes());
            d.push(1);
        }
        let mut c = TableCollector::default();
        for n in 0..=255u8 {
            let first = u16::from(n) * 4;
            let s = build_section(0x40, 1, 0, (n, 255), &[], &transports(first, 4, &d));
            add(&mut c, &s);
        }
        let t = c.table().unwrap();
        assert!(t.complete && t.truncated);
        assert_eq!(t.transports.len(), MAX_ENTRIES / 80);
        // A transport-count bound too, with entries that carry nothing.
        let mut c = TableCollector::default();
        for n in 0..=200u8 {
            let first = u16::from(n) * 4;
            let s = build_section(0x40, 1, 0, (n, 200), &[], &transports(first, 4, &[]));
            add(&mut c, &s);
        }
        let t = c.table().unwrap();
        assert!(t.truncated);
        assert_eq!(t.transports.len(), MAX_TRANSPORTS);
    }
}
