//! Service Description Table (ETSI EN 300 468 §5.2.3): service names, providers and types.

use super::{TableError, be16, len12, malformed, table_id};
use crate::descriptor::{Descriptors, tag};
use crate::section::Section;
use crate::write::SectionBuilder;

#[derive(Clone, Copy, Debug)]
pub struct Sdt<'a> {
    pub actual: bool,
    pub transport_stream_id: u16,
    pub original_network_id: u16,
    service_loop: &'a [u8],
}

/// One entry of the service loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdtService<'a> {
    pub service_id: u16,
    pub eit_schedule: bool,
    pub eit_present_following: bool,
    /// 0 undefined, 1 not running, 2 starts in a few seconds, 3 pausing, 4 running.
    pub running_status: u8,
    /// Some component is scrambled (`free_CA_mode`).
    pub free_ca_mode: bool,
    pub descriptors: &'a [u8],
}

/// The service descriptor (0x48) of an entry. Strings are still DVB-coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceDescriptor<'a> {
    pub service_type: u8,
    pub provider: &'a [u8],
    pub name: &'a [u8],
}

pub fn parse<'a>(section: &Section<'a>) -> Result<Sdt<'a>, TableError> {
    let actual = match section.table_id() {
        table_id::SDT_ACTUAL => true,
        table_id::SDT_OTHER => false,
        _ => return Err(malformed("SDT", "not an SDT section")),
    };
    let p = section.payload();
    Ok(Sdt {
        actual,
        transport_stream_id: section.table_id_extension(),
        original_network_id: be16(p, 0).ok_or(malformed("SDT", "too short"))?,
        service_loop: p.get(3..).unwrap_or(&[]),
    })
}

impl<'a> Sdt<'a> {
    /// The services; a truncated entry ends the list.
    pub fn services(&self) -> impl Iterator<Item = SdtService<'a>> + 'a {
        let mut rest = self.service_loop;
        std::iter::from_fn(move || {
            let len = len12(rest, 3)?;
            let descriptors = rest.get(5..5 + len)?;
            let s = SdtService {
                service_id: be16(rest, 0)?,
                eit_schedule: rest[2] & 0x02 != 0,
                eit_present_following: rest[2] & 0x01 != 0,
                running_status: rest[3] >> 5,
                free_ca_mode: rest[3] & 0x10 != 0,
                descriptors,
            };
            rest = &rest[5 + len..];
            Some(s)
        })
    }
}

impl<'a> SdtService<'a> {
    pub fn service_descriptor(&self) -> Option<ServiceDescriptor<'a>> {
        let d = Descriptors::new(self.descriptors).find(tag::SERVICE)?;
        let p = d.payload;
        let provider_len = usize::from(*p.get(1)?);
        let provider = p.get(2..2 + provider_len)?;
        let name_len = usize::from(*p.get(2 + provider_len)?);
        let name = p.get(3 + provider_len..3 + provider_len + name_len)?;
        Some(ServiceDescriptor {
            service_type: p[0],
            provider,
            name,
        })
    }
}

/// Broad kinds of service types (EN 300 468 Table 87).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Tv,
    Radio,
    Data,
    Other,
}

pub fn service_kind(service_type: u8) -> ServiceKind {
    match service_type {
        0x01 | 0x11 | 0x16 | 0x17 | 0x18 | 0x19 | 0x1A | 0x1B | 0x1C | 0x1D | 0x1E | 0x1F
        | 0x20 => ServiceKind::Tv,
        0x02 | 0x07 | 0x0A => ServiceKind::Radio,
        0x0C | 0x10 => ServiceKind::Data,
        _ => ServiceKind::Other,
    }
}

/// An entry to write.
#[derive(Clone, Copy, Debug)]
pub struct SdtEntry<'a> {
    pub service_id: u16,
    pub eit_schedule: bool,
    pub eit_present_following: bool,
    pub running_status: u8,
    pub free_ca_mode: bool,
    pub descriptors: &'a [u8],
}

impl<'a> From<SdtService<'a>> for SdtEntry<'a> {
    fn from(s: SdtService<'a>) -> Self {
        SdtEntry {
            service_id: s.service_id,
            eit_schedule: s.eit_schedule,
            eit_present_following: s.eit_present_following,
            running_status: s.running_status,
            free_ca_mode: s.free_ca_mode,
            descriptors: s.descriptors,
        }
    }
}

/// A single-section SDT actual.
pub fn build(
    transport_stream_id: u16,
    original_network_id: u16,
    version: u8,
    services: &[SdtEntry<'_>],
) -> Vec<u8> {
    let mut b = SectionBuilder::long(table_id::SDT_ACTUAL, transport_stream_id, version, 0, 0);
    b.push_u16(original_network_id);
    b.push_u8(0xFF);
    for s in services {
        b.push_u16(s.service_id);
        b.push_u8(0xFC | u8::from(s.eit_schedule) << 1 | u8::from(s.eit_present_following));
        let top = (s.running_status & 7) << 5 | u8::from(s.free_ca_mode) << 4;
        let m = b.open_length(top);
        b.push_bytes(s.descriptors);
        b.close_length(m);
    }
    b.finish()
}

/// A service descriptor with DVB-coded strings.
pub fn service_descriptor(service_type: u8, provider: &str, name: &str) -> Vec<u8> {
    let provider = crate::text::encode(provider);
    let name = crate::text::encode(name);
    let mut d = vec![
        tag::SERVICE,
        (3 + provider.len() + name.len()) as u8,
        service_type,
    ];
    d.push(provider.len() as u8);
    d.extend_from_slice(&provider);
    d.push(name.len() as u8);
    d.extend_from_slice(&name);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d1 = service_descriptor(0x19, "dvbgate", "Demo HD");
        let d2 = service_descriptor(0x02, "dvbgate", "Radio");
        let bytes = build(
            7,
            0x20FA,
            1,
            &[
                SdtEntry {
                    service_id: 1,
                    eit_schedule: true,
                    eit_present_following: true,
                    running_status: 4,
                    free_ca_mode: false,
                    descriptors: &d1,
                },
                SdtEntry {
                    service_id: 2,
                    eit_schedule: false,
                    eit_present_following: true,
                    running_status: 4,
                    free_ca_mode: true,
                    descriptors: &d2,
                },
            ],
        );
        let s = Section::new(&bytes).unwrap();
        let sdt = parse(&s).unwrap();
        assert!(sdt.actual);
        assert_eq!(
            (sdt.transport_stream_id, sdt.original_network_id),
            (7, 0x20FA)
        );
        let services: Vec<_> = sdt.services().collect();
        assert_eq!(services.len(), 2);
        assert!(services[0].eit_schedule && services[0].eit_present_following);
        assert!(services[1].free_ca_mode && !services[1].eit_schedule);
        assert_eq!(services[1].running_status, 4);
        let sd = services[0].service_descriptor().unwrap();
        assert_eq!(
            (sd.service_type, sd.provider, sd.name),
            (0x19, &b"dvbgate"[..], &b"Demo HD"[..])
        );
        assert_eq!(service_kind(sd.service_type), ServiceKind::Tv);
    }
}
