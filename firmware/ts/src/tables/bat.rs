//! Bouquet Association Table (ETSI EN 300 468 §5.2.2): a commercial grouping of services
//! (a platform's package, a region's line-up) across networks, with the bouquet's name and,
//! per transport stream, the services it includes and often their channel numbers.
//!
//! Sent on PID 0x11 beside the SDT, table id 0x4A, one sub-table per `bouquet_id`. Its
//! syntax is the NIT's with the bouquet id in place of the network id, so it is parsed with
//! the NIT's pieces and decoded into the same [`NetworkTable`].

use super::nit::{self, NitTransport};
use super::{TableError, malformed, table_id};
use crate::descriptor::{Descriptors, tag};
use crate::section::Section;

pub use super::nit::{NetworkTable, TableCollector, TransportDetails};

/// One BAT section, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Bat<'a> {
    pub bouquet_id: u16,
    pub bouquet_descriptors: &'a [u8],
    ts_loop: &'a [u8],
}

pub fn parse<'a>(section: &Section<'a>) -> Result<Bat<'a>, TableError> {
    if section.table_id() != table_id::BAT || !section.has_syntax() {
        return Err(malformed("BAT", "not a BAT section"));
    }
    let (bouquet_descriptors, ts_loop) = nit::parse_loops("BAT", section.payload())?;
    Ok(Bat {
        bouquet_id: section.table_id_extension(),
        bouquet_descriptors,
        ts_loop,
    })
}

impl<'a> Bat<'a> {
    /// The bouquet name descriptor's text, still DVB-coded.
    pub fn bouquet_name(&self) -> Option<&'a [u8]> {
        Descriptors::new(self.bouquet_descriptors)
            .find(tag::BOUQUET_NAME)
            .map(|d| d.payload)
    }

    pub fn transport_streams(&self) -> impl Iterator<Item = NitTransport<'a>> + 'a {
        nit::transport_loop(self.ts_loop)
    }
}

/// One BAT section.
pub fn build(
    bouquet_id: u16,
    version: u8,
    numbers: (u8, u8),
    bouquet_descriptors: &[u8],
    transports: &[NitTransport<'_>],
) -> Vec<u8> {
    nit::build_section(
        table_id::BAT,
        bouquet_id,
        version,
        numbers,
        bouquet_descriptors,
        transports,
    )
}

/// A bouquet name descriptor.
pub fn bouquet_name_descriptor(name: &str) -> Vec<u8> {
    let text = crate::text::encode(name);
    let mut d = vec![tag::BOUQUET_NAME, text.len() as u8];
    d.extend_from_slice(&text);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_channel_numbers() {
        let name = bouquet_name_descriptor("Bouquet Sud");
        // Bare 0x83 (no private data specifier): service 0x101 on 12, 0x102 hidden on 13.
        let lcn = [
            0x41, 6, 0x01, 0x01, 0x01, 0x01, 0x02, 0x02, //
            0x83, 8, 0x01, 0x01, 0xFC, 12, 0x01, 0x02, 0x7C, 13,
        ];
        let bytes = build(
            0x6001,
            3,
            (0, 0),
            &name,
            &[NitTransport {
                transport_stream_id: 7,
                original_network_id: 0x20FA,
                descriptors: &lcn,
            }],
        );
        let s = Section::new(&bytes).unwrap();
        let bat = parse(&s).unwrap();
        assert_eq!(bat.bouquet_id, 0x6001);
        assert_eq!(bat.bouquet_name(), Some(&b"Bouquet Sud"[..]));
        let ts: Vec<_> = bat.transport_streams().map(|t| t.details()).collect();
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].transport_stream_id, 7);
        assert_eq!(ts[0].service_type(0x102), Some(2));
        let hidden = ts[0].logical_channel(0x102).unwrap();
        assert_eq!((hidden.number, hidden.visible), (13, false));

        let mut c = TableCollector::default();
        assert!(c.add(&s, bat.bouquet_name().map(crate::text::decode), ts.clone()));
        let t = c.table().unwrap();
        assert_eq!((t.id, t.complete), (0x6001, true));
        assert_eq!(t.name.as_deref(), Some("Bouquet Sud"));

        // A NIT is not a BAT, and a BAT is not a NIT.
        let nit_bytes = nit::build(1, 0, &[], &[]);
        assert!(parse(&Section::new(&nit_bytes).unwrap()).is_err());
        assert!(nit::parse(&s).is_err());
    }
}
