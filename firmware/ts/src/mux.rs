//! What a multiplex carries, kept current as its tables change: programs (PAT), their
//! streams (PMT), service names (SDT), the network (NIT), CA systems (CAT), the present and
//! following events (EIT p/f actual), and the broadcaster's clock (TDT/TOT).
//!
//! Sections repeat many times a second; a repeat is recognised by its CRC and costs a map
//! lookup, so parsing and allocation happen only when a table really changes.

use crate::descriptor;
use crate::section::Section;
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
    network: Option<NetworkInfo>,
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
        let transports: Vec<_> = nit.transport_streams().collect();
        let ours = transports
            .iter()
            .find(|t| Some(t.transport_stream_id) == self.transport_stream_id)
            .or(transports.first());
        let info = NetworkInfo {
            network_id: nit.network_id,
            name: nit.network_name().map(text::decode),
            delivery_system: ours.and_then(|t| tables::nit::delivery_system(t.descriptors)),
            transport_streams: transports.len(),
        };
        (self.network.as_ref() != Some(&info)).then(|| {
            self.network = Some(info);
            Change::Nit
        })
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
}
