//! What a multiplex carries, kept current as its tables change: programs (PAT), their
//! streams (PMT), service names (SDT), the network (NIT actual, all its sections), the
//! bouquets (BAT), CA systems (CAT), the present and following events (EIT p/f actual), and
//! the broadcaster's clock (TDT/TOT).
//!
//! Sections repeat many times a second; a repeat is recognised by its CRC and costs a map
//! lookup, so parsing and allocation happen only when a table really changes.

use crate::descriptor;
use crate::section::Section;
use crate::tables::nit::{NetworkTable, TableCollector};
use crate::tables::{self, pmt::StreamKind, table_id};
use crate::text;
use std::collections::{BTreeMap, HashMap};

/// A change the caller may need to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Programs or their PMT PIDs changed.
    Pat,
    /// This program's PMT changed.
    Pmt(u16),
    /// Service names, types or flags changed.
    Sdt,
    /// The network (NIT actual) or a bouquet (BAT) changed.
    Nit,
    Cat,
    /// This service's present/following events changed.
    EitPf(u16),
    Time,
}

/// One elementary stream as the PMT describes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EsInfo {
    pub pid: u16,
    pub stream_type: u8,
    pub kind: StreamKind,
    pub codec: &'static str,
    pub languages: Vec<String>,
    /// ECM PIDs of CA descriptors on this stream.
    pub ecm_pids: Vec<u16>,
}

/// A program's PMT, parsed, plus the section itself for rewriting.
#[derive(Clone, Debug)]
pub struct PmtEntry {
    pub pid: u16,
    pub version: u8,
    pub pcr_pid: u16,
    pub streams: Vec<EsInfo>,
    /// `(CA_system_id, ECM PID)` at program level.
    pub program_ca: Vec<(u16, u16)>,
    pub section: Vec<u8>,
}

impl PmtEntry {
    /// True if any CA descriptor is present.
    pub fn has_ca(&self) -> bool {
        !self.program_ca.is_empty() || self.streams.iter().any(|s| !s.ecm_pids.is_empty())
    }
}

/// A service's SDT entry, decoded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SdtInfo {
    pub service_type: u8,
    pub provider: String,
    pub name: String,
    pub running_status: u8,
    pub free_ca_mode: bool,
    pub eit_schedule: bool,
    pub eit_present_following: bool,
    /// The whole descriptor loop, for rewriting.
    #[serde(skip)]
    pub descriptors: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetworkInfo {
    pub network_id: u16,
    pub name: Option<String>,
    pub delivery_system: Option<&'static str>,
    pub transport_streams: usize,
}

/// Present (section 0) and following (section 1) events of one service, as raw sections.
#[derive(Clone, Debug, Default)]
pub struct EitPf {
    pub sections: [Option<Vec<u8>>; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SectionKey {
    pid: u16,
    table_id: u8,
    extension: u16,
    number: u8,
}

/// Sections of one PAT version, until all have arrived.
#[derive(Default)]
struct PatCollector {
    version: Option<u8>,
    last_section: u8,
    sections: BTreeMap<u8, Vec<(u16, u16)>>,
    network_pid: Option<u16>,
}

/// At most this many bouquets (BAT sub-tables) are kept; satellite platforms send dozens,
/// and each may list hundreds of services.
pub const MAX_BOUQUETS: usize = 16;

/// Which sections of one version of a table have arrived.
#[derive(Default)]
struct SectionSet {
    version: Option<u8>,
    last: u8,
    seen: [u64; 4],
}

impl SectionSet {
    fn mark(&mut self, s: &Section<'_>) {
        if self.version != Some(s.version()) || self.last != s.last_section_number() {
            *self = SectionSet {
                version: Some(s.version()),
                last: s.last_section_number(),
                seen: [0; 4],
            };
        }
        let n = s.section_number();
        self.seen[usize::from(n / 64)] |= 1 << (n % 64);
    }

    fn complete(&self) -> bool {
        self.version.is_some()
            && (0..=self.last).all(|n| self.seen[usize::from(n / 64)] & (1 << (n % 64)) != 0)
    }
}

/// See the module docs.
#[derive(Default)]
pub struct MuxModel {
    transport_stream_id: Option<u16>,
    pat_version: Option<u8>,
    programs: BTreeMap<u16, u16>,
    network_pid: Option<u16>,
    pat_pending: PatCollector,
    pmts: BTreeMap<u16, PmtEntry>,
    original_network_id: Option<u16>,
    sdt: BTreeMap<u16, SdtInfo>,
    sdt_sections: SectionSet,
    network: Option<NetworkInfo>,
    nit: TableCollector,
    bouquets: BTreeMap<u16, TableCollector>,
    cat: Vec<(u16, u16)>,
    eit_pf: BTreeMap<u16, EitPf>,
    utc: Option<i64>,
    last_crc: HashMap<SectionKey, u32>,
}

impl MuxModel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Updates the model from one CRC-checked section received on `pid`.
    pub fn on_section(&mut self, pid: u16, s: &Section<'_>) -> Option<Change> {
        if !s.is_current() {
            return None; // announced for later; it will come again as current
        }
        let key = SectionKey {
            pid,
            table_id: s.table_id(),
            extension: s.table_id_extension(),
            number: s.section_number(),
        };
        if s.has_crc() {
            if self.last_crc.get(&key) == Some(&s.crc()) {
                return None;
            }
            // Bound the cache: a hostile stream could otherwise make up keys forever.
            if self.last_crc.len() > 4096 {
                self.last_crc.clear();
            }
            self.last_crc.insert(key, s.crc());
        }

        match s.table_id() {
            table_id::PAT if pid == crate::packet::pids::PAT => self.on_pat(s),
            table_id::PMT => self.on_pmt(pid, s),
            table_id::CAT => self.on_cat(s),
            table_id::SDT_ACTUAL => self.on_sdt(s),
            table_id::NIT_ACTUAL => self.on_nit(s),
            table_id::BAT => self.on_bat(s),
            table_id::EIT_PF_ACTUAL => self.on_eit_pf(s),
            table_id::TDT | table_id::TOT => self.on_time(s),
            _ => None,
        }
    }

    fn on_pat(&mut self, s: &Section<'_>) -> Option<Change> {
        let info = tables::pat::parse(s).ok()?;
        let pending = &mut self.pat_pending;
        if pending.version != Some(s.version()) {
            *pending = PatCollector {
                version: Some(s.version()),
                last_section: s.last_section_number(),
                ..Default::default()
            };
        }
        pending.sections.insert(s.section_number(), info.programs);
        if info.network_pid.is_some() {
            pending.network_pid = info.network_pid;
        }
        let complete = (0..=pending.last_section).all(|n| pending.sections.contains_key(&n));
        if !complete {
            return None;
        }
        let programs: BTreeMap<u16, u16> = pending.sections.values().flatten().copied().collect();
        let changed = self.transport_stream_id != Some(info.transport_stream_id)
            || self.programs != programs
            || self.pat_version != pending.version;
        self.transport_stream_id = Some(info.transport_stream_id);
        self.pat_version = pending.version;
        self.network_pid = pending.network_pid;
        // A PMT whose program left, or moved to another PID, is stale.
        self.pmts
            .retain(|program, pmt| programs.get(program) == Some(&pmt.pid));
        let pmt_pids: Vec<u16> = programs.values().copied().collect();
        self.last_crc
            .retain(|k, _| k.table_id != table_id::PMT || pmt_pids.contains(&k.pid));
        self.programs = programs;
        // The NIT may have come first: which of its entries is ours is known only now.
        self.refresh_network_info();
        changed.then_some(Change::Pat)
    }

    fn on_pmt(&mut self, pid: u16, s: &Section<'_>) -> Option<Change> {
        let program = s.table_id_extension();
        if self.programs.get(&program) != Some(&pid) {
            return None;
        }
        let pmt = tables::pmt::parse(s).ok()?;
        let registration = pmt.registration();
        let streams = pmt
            .streams()
            .map(|es| {
                let (kind, codec) = tables::pmt::classify(es.stream_type, es.es_info, registration);
                EsInfo {
                    pid: es.pid,
                    stream_type: es.stream_type,
                    kind,
                    codec,
                    languages: descriptor::languages(es.es_info),
                    ecm_pids: descriptor::ca_descriptors(es.es_info)
                        .map(|(_, p)| p)
                        .collect(),
                }
            })
            .collect();
        self.pmts.insert(
            program,
            PmtEntry {
                pid,
                version: s.version(),
                pcr_pid: pmt.pcr_pid,
                streams,
                program_ca: descriptor::ca_descriptors(pmt.program_info).collect(),
                section: s.bytes().to_vec(),
            },
        );
        Some(Change::Pmt(program))
    }

    fn on_cat(&mut self, s: &Section<'_>) -> Option<Change> {
        let cat = tables::cat::parse(s).ok()?;
        (cat != self.cat).then(|| {
            self.cat = cat;
            Change::Cat
        })
    }

    fn on_sdt(&mut self, s: &Section<'_>) -> Option<Change> {
        let sdt = tables::sdt::parse(s).ok()?;
        if self
            .transport_stream_id
            .is_some_and(|t| t != sdt.transport_stream_id)
        {
            return None; // an SDT actual that contradicts the PAT: trust the PAT
        }
        self.original_network_id = Some(sdt.original_network_id);
        self.sdt_sections.mark(s);
        let mut changed = false;
        for entry in sdt.services() {
            let (service_type, provider, name) = match entry.service_descriptor() {
                Some(d) => (
                    d.service_type,
                    text::decode(d.provider),
                    text::decode(d.name),
                ),
                None => (0, String::new(), String::new()),
            };
            let info = SdtInfo {
                service_type,
                provider,
                name,
                running_status: entry.running_status,
                free_ca_mode: entry.free_ca_mode,
                eit_schedule: entry.eit_schedule,
                eit_present_following: entry.eit_present_following,
                descriptors: entry.descriptors.to_vec(),
            };
            if self.sdt.get(&entry.service_id) != Some(&info) {
                self.sdt.insert(entry.service_id, info);
                changed = true;
            }
        }
        changed.then_some(Change::Sdt)
    }

    fn on_nit(&mut self, s: &Section<'_>) -> Option<Change> {
        let nit = tables::nit::parse(s).ok()?;
        let changed = self.nit.add(
            s,
            nit.network_name().map(text::decode),
            nit.transport_streams().map(|t| t.details()).collect(),
        );
        let summary_changed = self.refresh_network_info();
        (changed || summary_changed).then_some(Change::Nit)
    }

    /// Recomputes the NIT summary; true if it changed.
    fn refresh_network_info(&mut self) -> bool {
        let Some(table) = self.nit.table() else {
            return false;
        };
        let ours = table
            .transports
            .iter()
            .find(|t| Some(t.transport_stream_id) == self.transport_stream_id)
            .or(table.transports.first());
        let info = NetworkInfo {
            network_id: table.id,
            name: table.name.clone(),
            delivery_system: ours.and_then(|t| t.delivery_system),
            transport_streams: table.transports.len(),
        };
        let changed = self.network.as_ref() != Some(&info);
        self.network = Some(info);
        changed
    }

    fn on_bat(&mut self, s: &Section<'_>) -> Option<Change> {
        let bat = tables::bat::parse(s).ok()?;
        if !self.bouquets.contains_key(&bat.bouquet_id) && self.bouquets.len() >= MAX_BOUQUETS {
            return None;
        }
        let changed = self.bouquets.entry(bat.bouquet_id).or_default().add(
            s,
            bat.bouquet_name().map(text::decode),
            bat.transport_streams().map(|t| t.details()).collect(),
        );
        changed.then_some(Change::Nit)
    }

    fn on_eit_pf(&mut self, s: &Section<'_>) -> Option<Change> {
        let number = usize::from(s.section_number());
        if number > 1 {
            return None;
        }
        let service = s.table_id_extension();
        let entry = self.eit_pf.entry(service).or_default();
        entry.sections[number] = Some(s.bytes().to_vec());
        Some(Change::EitPf(service))
    }

    fn on_time(&mut self, s: &Section<'_>) -> Option<Change> {
        let t = tables::time::parse_utc(s).ok()?;
        (self.utc != Some(t)).then(|| {
            self.utc = Some(t);
            Change::Time
        })
    }

    pub fn transport_stream_id(&self) -> Option<u16> {
        self.transport_stream_id
    }
    pub fn original_network_id(&self) -> Option<u16> {
        self.original_network_id
    }
    pub fn pat_version(&self) -> Option<u8> {
        self.pat_version
    }
    /// Program number to PMT PID, from the last complete PAT.
    pub fn programs(&self) -> &BTreeMap<u16, u16> {
        &self.programs
    }
    /// The PID the PAT names for the NIT (default 0x10).
    pub fn network_pid(&self) -> u16 {
        self.network_pid.unwrap_or(crate::packet::pids::NIT)
    }
    pub fn pmt(&self, program: u16) -> Option<&PmtEntry> {
        self.pmts.get(&program)
    }
    pub fn sdt(&self, service: u16) -> Option<&SdtInfo> {
        self.sdt.get(&service)
    }
    pub fn network(&self) -> Option<&NetworkInfo> {
        self.network.as_ref()
    }
    /// The NIT actual, decoded, as far as its sections have arrived.
    pub fn nit(&self) -> Option<&NetworkTable> {
        self.nit.table()
    }
    /// The bouquets (BAT sub-tables) seen, by bouquet id; at most [`MAX_BOUQUETS`].
    pub fn bouquets(&self) -> impl Iterator<Item = &NetworkTable> + '_ {
        self.bouquets.values().filter_map(TableCollector::table)
    }
    /// Every section of the current SDT actual version has arrived.
    pub fn sdt_complete(&self) -> bool {
        self.sdt_sections.complete()
    }
    /// `(CA_system_id, EMM PID)` from the CAT.
    pub fn cat(&self) -> &[(u16, u16)] {
        &self.cat
    }
    pub fn eit_pf(&self, service: u16) -> Option<&EitPf> {
        self.eit_pf.get(&service)
    }
    /// The broadcaster's UTC clock from the last TDT/TOT, Unix seconds.
    pub fn utc(&self) -> Option<i64> {
        self.utc
    }
    /// True if `pid` carries a PMT of some program.
    pub fn is_pmt_pid(&self, pid: u16) -> bool {
        self.programs.values().any(|&p| p == pid)
    }
    /// Every service that the PAT or the SDT mentions, by service id.
    pub fn service_ids(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = self
            .programs
            .keys()
            .chain(self.sdt.keys())
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Forgets everything (the input switched to another multiplex).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{pat, pmt, sdt};

    fn sec(bytes: &[u8]) -> Section<'_> {
        Section::new(bytes).unwrap()
    }

    #[test]
    fn follows_pat_pmt_and_sdt_versions() {
        let mut m = MuxModel::new();
        let pat_v0 = pat::build(9, 0, &[(1, 0x100), (2, 0x200)]);
        assert_eq!(m.on_section(0, &sec(&pat_v0)), Some(Change::Pat));
        assert_eq!(
            m.on_section(0, &sec(&pat_v0)),
            None,
            "a repeat changes nothing"
        );
        assert!(m.is_pmt_pid(0x200));

        let lang = [0x0A, 4, b'd', b'e', b'u', 0];
        let pmt1 = pmt::build(
            1,
            0,
            0x101,
            &[],
            &[
                pmt::StreamEntry {
                    stream_type: 0x02,
                    pid: 0x101,
                    es_info: &[],
                },
                pmt::StreamEntry {
                    stream_type: 0x04,
                    pid: 0x102,
                    es_info: &lang,
                },
            ],
        );
        assert_eq!(m.on_section(0x100, &sec(&pmt1)), Some(Change::Pmt(1)));
        // The same PMT on the wrong PID is ignored.
        assert_eq!(m.on_section(0x200, &sec(&pmt1)), None);
        let p = m.pmt(1).unwrap();
        assert_eq!(p.pcr_pid, 0x101);
        assert_eq!(p.streams[1].codec, "mp2");
        assert_eq!(p.streams[1].languages, vec!["deu"]);

        let d = sdt::service_descriptor(0x01, "Prov", "Srv_1");
        let sdt_bytes = sdt::build(
            9,
            0x1234,
            0,
            &[sdt::SdtEntry {
                service_id: 1,
                eit_schedule: false,
                eit_present_following: true,
                running_status: 4,
                free_ca_mode: false,
                descriptors: &d,
            }],
        );
        assert_eq!(m.on_section(0x11, &sec(&sdt_bytes)), Some(Change::Sdt));
        assert_eq!(m.sdt(1).unwrap().name, "Srv_1");
        assert_eq!(m.original_network_id(), Some(0x1234));

        // PAT version 1 moves program 1's PMT: the old PMT is dropped until the new one comes.
        let pat_v1 = pat::build(9, 1, &[(1, 0x300), (2, 0x200)]);
        assert_eq!(m.on_section(0, &sec(&pat_v1)), Some(Change::Pat));
        assert!(m.pmt(1).is_none());
        assert_eq!(m.on_section(0x300, &sec(&pmt1)), Some(Change::Pmt(1)));
        assert_eq!(m.service_ids(), vec![1, 2]);
    }

    #[test]
    fn multi_section_pat_applies_when_complete() {
        let mut m = MuxModel::new();
        let mut s0 = crate::write::SectionBuilder::long(0, 5, 0, 0, 1);
        s0.push_u16(1);
        s0.push_u16(0xE100);
        let s0 = s0.finish();
        let mut s1 = crate::write::SectionBuilder::long(0, 5, 0, 1, 1);
        s1.push_u16(2);
        s1.push_u16(0xE200);
        let s1 = s1.finish();
        assert_eq!(m.on_section(0, &sec(&s0)), None);
        assert_eq!(m.on_section(0, &sec(&s1)), Some(Change::Pat));
        assert_eq!(m.programs().len(), 2);
    }

    #[test]
    fn keeps_the_whole_nit_the_bouquets_and_sdt_completeness() {
        use crate::tables::{bat, nit};
        let mut m = MuxModel::new();
        let terrestrial = |mhz: u32| {
            let f = (mhz * 100_000).to_be_bytes();
            vec![
                0x5A, 11, f[0], f[1], f[2], f[3], 0x1F, 0x81, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF,
            ]
        };
        let (t1, t2) = (terrestrial(474), terrestrial(482));
        let ts = |tsid, descriptors| nit::NitTransport {
            transport_stream_id: tsid,
            original_network_id: 0x20FA,
            descriptors,
        };
        let name = nit::network_name_descriptor("Réseau");
        let s0 = nit::build_section(0x40, 0x3001, 0, (0, 1), &name, &[ts(1, &t1[..])]);
        let s1 = nit::build_section(0x40, 0x3001, 0, (1, 1), &[], &[ts(2, &t2[..])]);
        assert_eq!(m.on_section(0x10, &sec(&s0)), Some(Change::Nit));
        assert!(!m.nit().unwrap().complete);
        assert_eq!(m.on_section(0x10, &sec(&s1)), Some(Change::Nit));
        assert_eq!(m.on_section(0x10, &sec(&s1)), None, "a repeat");
        let table = m.nit().unwrap();
        assert!(table.complete);
        assert_eq!(table.name.as_deref(), Some("Réseau"));
        assert_eq!(table.transports.len(), 2);
        let info = m.network().unwrap();
        assert_eq!((info.network_id, info.transport_streams), (0x3001, 2));

        // The PAT comes after the NIT: the summary then describes our own entry.
        m.on_section(0, &sec(&pat::build(2, 0, &[(1, 0x100)])));
        assert_eq!(m.network().unwrap().delivery_system, Some("DVB-T"));

        // BATs: kept per bouquet, at most MAX_BOUQUETS of them.
        for id in 0..MAX_BOUQUETS as u16 + 3 {
            let b = bat::build(id, 0, (0, 0), &bat::bouquet_name_descriptor("B"), &[]);
            let change = m.on_section(0x11, &sec(&b));
            assert_eq!(
                change,
                (usize::from(id) < MAX_BOUQUETS).then_some(Change::Nit),
                "bouquet {id}"
            );
        }
        assert_eq!(m.bouquets().count(), MAX_BOUQUETS);
        assert_eq!(m.bouquets().next().unwrap().name.as_deref(), Some("B"));

        // SDT actual in two sections: complete only with both.
        let d = sdt::service_descriptor(1, "P", "S");
        let entry = sdt::SdtEntry {
            service_id: 1,
            eit_schedule: false,
            eit_present_following: false,
            running_status: 4,
            free_ca_mode: false,
            descriptors: &d,
        };
        let one = sdt::build(2, 0x20FA, 0, &[entry]);
        let mut s0 = one.clone();
        s0[7] = 1; // last_section_number
        let fix_crc = |b: &mut Vec<u8>| {
            let n = b.len();
            let crc = mpeg2ts_reader::mpegts_crc::sum32(&b[..n - 4]);
            b[n - 4..].copy_from_slice(&crc.to_be_bytes());
        };
        fix_crc(&mut s0);
        let mut s1 = s0.clone();
        s1[6] = 1; // section_number
        fix_crc(&mut s1);
        assert!(!m.sdt_complete());
        m.on_section(0x11, &sec(&s0));
        assert!(!m.sdt_complete());
        m.on_section(0x11, &sec(&s1));
        assert!(m.sdt_complete());
        // Version 1 in one section: complete again at once.
        m.on_section(0x11, &sec(&sdt::build(2, 0x20FA, 1, &[entry])));
        assert!(m.sdt_complete());
    }
}
