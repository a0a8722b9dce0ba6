//! Descriptor loops (ISO/IEC 13818-1 §2.6, ETSI EN 300 468 §6): `tag, length, payload`
//! repeated. Walked raw so that a remuxer can copy or drop descriptors byte-exactly.
//!
//! Also the small descriptors a scan reads from the NIT and BAT: the service list (0x41)
//! and logical channel numbers (0x83, 0x87). Logical channel numbers are *private*
//! descriptors: tags 0x80..=0xFE mean whatever the private data specifier (0x5F) in force
//! says (see [`with_private_data_specifier`] and [`LcnLayout`] for what we accept and why).
//! Delivery system descriptors are in [`crate::delivery`].

/// Descriptor tags we interpret.
pub mod tag {
    pub const REGISTRATION: u8 = 0x05;
    pub const CA: u8 = 0x09;
    pub const ISO_639_LANGUAGE: u8 = 0x0A;
    pub const NETWORK_NAME: u8 = 0x40;
    pub const SERVICE_LIST: u8 = 0x41;
    pub const SATELLITE_DELIVERY: u8 = 0x43;
    pub const CABLE_DELIVERY: u8 = 0x44;
    pub const BOUQUET_NAME: u8 = 0x47;
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
    pub const PRIVATE_DATA_SPECIFIER: u8 = 0x5F;
    pub const FREQUENCY_LIST: u8 = 0x62;
    pub const AC3: u8 = 0x6A;
    pub const ENHANCED_AC3: u8 = 0x7A;
    pub const AAC: u8 = 0x7C;
    pub const EXTENSION: u8 = 0x7F;
    /// Private: EACEM/EICTA logical_channel_number_descriptor, NorDig v1 (see [`super::LcnLayout`]).
    pub const LOGICAL_CHANNEL: u8 = 0x83;
    /// Private: NorDig logical_channel_descriptor version 2 (channel lists).
    pub const NORDIG_LOGICAL_CHANNEL_V2: u8 = 0x87;
}

/// Private data specifiers (ETSI TS 101 162) under which we read logical channel numbers.
pub mod pds {
    /// TPS (France); TPS networks sent EACEM descriptors under it.
    pub const TPS: u32 = 0x0000_0010;
    /// EACEM, now EICTA (IEC 62216): most European terrestrial networks.
    pub const EACEM: u32 = 0x0000_0028;
    /// NorDig (Nordic countries, Ireland).
    pub const NORDIG: u32 = 0x0000_0029;
    /// UK DTG / Ofcom: Freeview.
    pub const DTG_UK: u32 = 0x0000_233A;
    /// Free TV Australia.
    pub const FREE_TV_AUSTRALIA: u32 = 0x0000_3200;
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

/// Each descriptor of a loop with the private data specifier in force for it: that of the
/// last private_data_specifier_descriptor (0x5F) before it in the same loop (EN 300 468
/// §6.2.31), or `None`. A specifier does not reach into other loops.
pub fn with_private_data_specifier(
    loop_bytes: &[u8],
) -> impl Iterator<Item = (Option<u32>, Descriptor<'_>)> + '_ {
    let mut pds = None;
    Descriptors::new(loop_bytes).map(move |d| {
        if d.tag == tag::PRIVATE_DATA_SPECIFIER {
            pds = d
                .payload
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        }
        (pds, d)
    })
}

/// One entry of a service_list_descriptor (0x41).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ServiceListEntry {
    pub service_id: u16,
    /// As in the service descriptor (EN 300 468 Table 87).
    pub service_type: u8,
}

/// The entries of a service_list_descriptor's payload; a trailing partial entry is ignored.
pub fn service_list(payload: &[u8]) -> impl Iterator<Item = ServiceListEntry> + '_ {
    payload.chunks_exact(3).map(|c| ServiceListEntry {
        service_id: u16::from_be_bytes([c[0], c[1]]),
        service_type: c[2],
    })
}

/// A service's logical channel number: the number a viewer types to get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LogicalChannel {
    pub service_id: u16,
    pub number: u16,
    /// False: the broadcaster asks receivers not to list the service (it is still
    /// selectable by number on some).
    pub visible: bool,
}

/// How a logical channel descriptor 0x83 lays out the 16 bits after each service id.
///
/// Descriptor 0x83 is private, so strictly it means something only under a private data
/// specifier. In the field it is sent both ways: French DTT and most EACEM networks put
/// the EACEM specifier (0x28) before it, UK Freeview the DTG one (0x233A), and many
/// networks (cable operators especially) send it bare. Receivers read it bare as the EACEM
/// descriptor: libdvbv5 decodes 0x83 whatever the specifier, tvheadend accepts it without
/// a specifier or under a list of known ones. We do the same as tvheadend: without a
/// specifier, or under one known to use 0x83 for channel numbers, it is an LCN; under any
/// other specifier (a satellite platform's own 0x83) it is not.
///
/// NorDig's version 1 uses the same tag with a 14-bit number; under the NorDig specifier we
/// read it that way (as TSDuck does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LcnLayout {
    /// EACEM/EICTA (IEC 62216-1): visible_service_flag 1, reserved 5, LCN 10 bits.
    Eacem,
    /// NorDig v1: visible_service_flag 1, reserved 1, LCN 14 bits.
    NorDigV1,
}

impl LcnLayout {
    /// The layout of descriptor 0x83 under `pds`; `None` when `pds` gives 0x83 another
    /// meaning.
    pub fn for_specifier(pds: Option<u32>) -> Option<LcnLayout> {
        match pds {
            None
            | Some(pds::TPS | pds::EACEM | pds::DTG_UK | pds::FREE_TV_AUSTRALIA)
            // New Zealand (0x37) and Voo, Belgium ("VOO"): EACEM layout, as TSDuck's
            // descriptor dumps read them. 0xA5, 0x212C and 0x3201: accepted by tvheadend;
            // no other meaning of 0x83 is known under them.
            | Some(0x37 | 0x0056_4F4F | 0xA5 | 0x212C | 0x3201) => Some(LcnLayout::Eacem),
            Some(pds::NORDIG) => Some(LcnLayout::NorDigV1),
            Some(_) => None,
        }
    }
}

/// The entries of a logical channel descriptor 0x83's payload.
pub fn logical_channels_v1(
    payload: &[u8],
    layout: LcnLayout,
) -> impl Iterator<Item = LogicalChannel> + '_ {
    let mask = match layout {
        LcnLayout::Eacem => 0x03FF,
        LcnLayout::NorDigV1 => 0x3FFF,
    };
    payload.chunks_exact(4).map(move |c| LogicalChannel {
        service_id: u16::from_be_bytes([c[0], c[1]]),
        number: u16::from_be_bytes([c[2], c[3]]) & mask,
        visible: c[2] & 0x80 != 0,
    })
}

/// One channel list of a NorDig v2 logical channel descriptor (0x87): receivers offer the
/// lists by name and country and use the chosen one's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelList<'a> {
    pub id: u8,
    /// DVB-coded text.
    pub name: &'a [u8],
    /// ISO 3166 alpha-3 country code.
    pub country: [u8; 3],
    entries: &'a [u8],
}

impl ChannelList<'_> {
    /// The list's numbers (visible_service_flag 1, reserved 5, LCN 10 bits).
    pub fn channels(&self) -> impl Iterator<Item = LogicalChannel> + '_ {
        logical_channels_v1(self.entries, LcnLayout::Eacem)
    }
}

/// The channel lists of a NorDig v2 descriptor's payload; a truncated list ends them.
pub fn nordig_channel_lists(payload: &[u8]) -> impl Iterator<Item = ChannelList<'_>> + '_ {
    let mut rest = payload;
    std::iter::from_fn(move || {
        let id = *rest.first()?;
        let name_len = usize::from(*rest.get(1)?);
        let name = rest.get(2..2 + name_len)?;
        let at = 2 + name_len;
        let country: [u8; 3] = rest.get(at..at + 3)?.try_into().ok()?;
        let len = usize::from(*rest.get(at + 3)?);
        let entries = rest.get(at + 4..at + 4 + len)?;
        rest = &rest[at + 4 + len..];
        Some(ChannelList {
            id,
            name,
            country,
            entries,
        })
    })
}

/// The logical channel numbers a transport stream's descriptor loop (in a NIT or BAT)
/// assigns, one per service, sorted by service id.
///
/// NorDig v2 (0x87, without a specifier or under NorDig's) wins over 0x83 when both are
/// sent, as NorDig asks of v2 receivers; of its channel lists the first is used, since we
/// do not know the viewer's country. Descriptor 0x83 is read per [`LcnLayout`]. A service
/// numbered twice keeps its first number.
pub fn logical_channels(loop_bytes: &[u8]) -> Vec<LogicalChannel> {
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for (pds, d) in with_private_data_specifier(loop_bytes) {
        match d.tag {
            tag::LOGICAL_CHANNEL => {
                if let Some(layout) = LcnLayout::for_specifier(pds) {
                    v1.extend(logical_channels_v1(d.payload, layout));
                }
            }
            tag::NORDIG_LOGICAL_CHANNEL_V2 if v2.is_empty() => {
                if matches!(pds, None | Some(pds::NORDIG))
                    && let Some(list) = nordig_channel_lists(d.payload).next()
                {
                    v2.extend(list.channels());
                }
            }
            _ => {}
        }
    }
    let mut out = if v2.is_empty() { v1 } else { v2 };
    // Stable: the first number of a service stays first among equals.
    out.sort_by_key(|c| c.service_id);
    out.dedup_by_key(|c| c.service_id);
    out
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

    /// The transport loop of TS 1 of the French Multi4 capture, cut short: the EACEM
    /// specifier, then 0x83 (France 2 on 2, France 5 on 5 hidden) and the service list.
    fn french_dtt_loop() -> Vec<u8> {
        vec![
            0x5F, 4, 0, 0, 0, 0x28, //
            0x83, 8, 0x01, 0x01, 0xFC, 0x02, 0x01, 0x05, 0x7C, 0x05, //
            0x41, 6, 0x01, 0x01, 0x01, 0x01, 0x05, 0x19,
        ]
    }

    #[test]
    fn private_data_specifier_scopes_the_rest_of_the_loop() {
        let data = french_dtt_loop();
        let seen: Vec<_> = with_private_data_specifier(&data)
            .map(|(pds, d)| (pds, d.tag))
            .collect();
        assert_eq!(
            seen,
            vec![(Some(0x28), 0x5F), (Some(0x28), 0x83), (Some(0x28), 0x41)]
        );
        let services: Vec<_> = Descriptors::new(&data)
            .filter(|d| d.tag == tag::SERVICE_LIST)
            .flat_map(|d| service_list(d.payload))
            .collect();
        assert_eq!(
            services,
            vec![
                ServiceListEntry {
                    service_id: 0x101,
                    service_type: 1
                },
                ServiceListEntry {
                    service_id: 0x105,
                    service_type: 0x19
                }
            ]
        );
    }

    #[test]
    fn eacem_numbers_under_eacem_or_no_specifier_but_not_another() {
        let data = french_dtt_loop();
        let expected = vec![
            LogicalChannel {
                service_id: 0x101,
                number: 2,
                visible: true,
            },
            LogicalChannel {
                service_id: 0x105,
                number: 5,
                visible: false,
            },
        ];
        assert_eq!(logical_channels(&data), expected);
        // Bare (no specifier): read the same way.
        assert_eq!(logical_channels(&data[6..]), expected);
        // Under BSkyB's specifier (2), 0x83 is something else.
        let mut sky = data.clone();
        sky[5] = 0x02;
        assert!(logical_channels(&sky).is_empty());
        // A later specifier ends the previous one's scope.
        let mut reset = vec![0x5F, 4, 0, 0, 0, 0x28, 0x5F, 4, 0, 0, 0, 0x02];
        reset.extend_from_slice(&data[6..]);
        assert!(logical_channels(&reset).is_empty());
    }

    #[test]
    fn nordig_v1_numbers_have_fourteen_bits() {
        // 0x83 under NorDig: service 0x10 on 1025, visible (reserved bit set).
        let data = [0x5F, 4, 0, 0, 0, 0x29, 0x83, 4, 0x00, 0x10, 0xC4, 0x01];
        assert_eq!(
            logical_channels(&data),
            vec![LogicalChannel {
                service_id: 0x10,
                number: 1025,
                visible: true,
            }]
        );
        // Read as EACEM the same bits would give 1.
        assert_eq!(
            logical_channels_v1(&data[8..], LcnLayout::Eacem)
                .next()
                .unwrap()
                .number,
            1
        );
    }

    #[test]
    fn nordig_v2_first_list_wins_over_v1() {
        let mut data = vec![0x5F, 4, 0, 0, 0, 0x29];
        // v1: service 1 on 100.
        data.extend_from_slice(&[0x83, 4, 0x00, 0x01, 0xC0, 100]);
        // v2: list 1 "NO" (Norway): service 1 on 3, service 2 hidden on 4; list 2 "SE":
        // service 1 on 7.
        data.extend_from_slice(&[0x87, 28]);
        data.extend_from_slice(&[1, 2, b'N', b'O', b'n', b'o', b'r', 8]);
        data.extend_from_slice(&[0x00, 0x01, 0xFC, 0x03, 0x00, 0x02, 0x7C, 0x04]);
        data.extend_from_slice(&[2, 2, b'S', b'E', b's', b'w', b'e', 4]);
        data.extend_from_slice(&[0x00, 0x01, 0xFC, 0x07]);
        let d = Descriptors::new(&data)
            .find(tag::NORDIG_LOGICAL_CHANNEL_V2)
            .unwrap();
        let lists: Vec<_> = nordig_channel_lists(d.payload).collect();
        assert_eq!(lists.len(), 2);
        assert_eq!(
            (lists[0].id, lists[0].name, &lists[0].country),
            (1, &b"NO"[..], b"nor")
        );
        assert_eq!(lists[1].channels().next().unwrap().number, 7);
        assert_eq!(
            logical_channels(&data),
            vec![
                LogicalChannel {
                    service_id: 1,
                    number: 3,
                    visible: true
                },
                LogicalChannel {
                    service_id: 2,
                    number: 4,
                    visible: false
                }
            ]
        );
        // A truncated list ends the lists without a panic.
        for n in 0..d.payload.len() {
            assert!(nordig_channel_lists(&d.payload[..n]).count() <= 1);
        }
    }
}
