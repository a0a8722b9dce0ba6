//! Watching a multiplex: per-PID counters, section reassembly on the PSI/SI PIDs, and the
//! multiplex model they feed. Shared by the remuxer (which acts on changes) and by probe
//! and the checker (which report on them).

use crate::mux::{Change, MuxModel};
use crate::packet::{self, Pcr, RawPacket, pids};
use crate::section::{Section, SectionAssembler, SectionError};
use crate::stats::PidTable;
use crate::tables::table_id;

/// Which EIT tables to reassemble. A remuxer needs only present/following actual; a probe
/// wants to see everything the broadcaster sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EitInterest {
    PresentFollowingActual,
    All,
}

/// What the monitor learned from one packet that its caller needs on the hot path.
#[derive(Clone, Copy, Debug)]
pub struct PacketInfo {
    pub pid: u16,
    /// Neither a null packet nor one marked with a transport error.
    pub forward: bool,
    pub pcr: Option<Pcr>,
    pub discontinuity: bool,
}

/// Section errors, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SectionErrors {
    /// CRC-32 failures per table id.
    #[serde(skip)]
    pub crc_by_table: [u64; 256],
    pub crc: u64,
    pub malformed: u64,
    pub interrupted: u64,
}

impl Default for SectionErrors {
    fn default() -> Self {
        SectionErrors {
            crc_by_table: [0; 256],
            crc: 0,
            malformed: 0,
            interrupted: 0,
        }
    }
}

const NO_ASSEMBLER: u8 = u8::MAX;

/// Receives every good section on the EIT and TDT/TOT PIDs, repeats included, on the
/// thread that reads the packets: the programme guide's feed. It must be quick (decide
/// whether the section is new and hand it over), as it runs on the hot path.
pub type SectionSink = Box<dyn FnMut(u16, &Section<'_>) + Send>;

/// See the module docs.
pub struct MuxMonitor {
    pub model: MuxModel,
    pub pids: PidTable,
    eit: EitInterest,
    sink: Option<SectionSink>,
    assemblers: Vec<(u16, SectionAssembler)>,
    assembler_of: Box<[u8]>,
    errors: SectionErrors,
    /// Good sections seen per table id (repeats included).
    sections: [u64; 256],
    /// Bumped on every model change, so observers can tell cheaply whether to look.
    generation: u64,
}

impl MuxMonitor {
    pub fn new(eit: EitInterest) -> Self {
        let mut m = MuxMonitor {
            model: MuxModel::new(),
            pids: PidTable::new(),
            eit,
            sink: None,
            assemblers: Vec::new(),
            assembler_of: vec![NO_ASSEMBLER; pids::COUNT].into_boxed_slice(),
            errors: SectionErrors::default(),
            sections: [0; 256],
            generation: 0,
        };
        m.refresh_si_pids();
        m
    }

    /// Sends the EIT (every table: present/following and schedule, actual and other) and
    /// TDT/TOT sections to `sink` from now on; `None` goes back to present/following
    /// actual only.
    pub fn set_section_sink(&mut self, sink: Option<SectionSink>) {
        self.eit = if sink.is_some() {
            EitInterest::All
        } else {
            EitInterest::PresentFollowingActual
        };
        self.sink = sink;
    }

    pub fn section_errors(&self) -> &SectionErrors {
        &self.errors
    }

    /// Good sections seen, per table id.
    pub fn sections_seen(&self) -> &[u64; 256] {
        &self.sections
    }

    /// Changes with every change of the model.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Accounts one packet, reassembles its sections if it is on a PSI/SI PID, updates the
    /// model, and tells `on_change` about every change.
    #[inline]
    pub fn on_packet(
        &mut self,
        p: &RawPacket,
        on_change: &mut impl FnMut(&MuxModel, Change),
    ) -> PacketInfo {
        let verdict = self.pids.account(p);
        let pid = verdict.pid;
        if verdict.transport_error {
            return PacketInfo {
                pid,
                forward: false,
                pcr: None,
                discontinuity: false,
            };
        }
        let slot = self.assembler_of[usize::from(pid)];
        if slot != NO_ASSEMBLER {
            self.on_si_packet(usize::from(slot), pid, p, on_change);
        }
        let af = packet::has_adaptation_field(p);
        PacketInfo {
            pid,
            forward: pid != pids::NULL,
            pcr: if af { packet::pcr(p) } else { None },
            discontinuity: af && packet::discontinuity_indicator(p),
        }
    }

    fn on_si_packet(
        &mut self,
        slot: usize,
        pid: u16,
        p: &RawPacket,
        on_change: &mut impl FnMut(&MuxModel, Change),
    ) {
        let eit = self.eit;
        let network_pid = self.model.network_pid();
        let wanted = move |t: u8| wanted(pid, network_pid, eit, t);
        let (model, errors, sections, generation) = (
            &mut self.model,
            &mut self.errors,
            &mut self.sections,
            &mut self.generation,
        );
        let mut sink = match pid {
            pids::EIT | pids::TDT => self.sink.as_mut(),
            _ => None,
        };
        let mut pat_changed = false;
        self.assemblers[slot]
            .1
            .push(p, &wanted, &mut |result| match result {
                Ok(section) => {
                    sections[usize::from(section.table_id())] += 1;
                    if let Some(sink) = sink.as_mut() {
                        sink(pid, &section);
                    }
                    if let Some(change) = model.on_section(pid, &section) {
                        pat_changed |= change == Change::Pat;
                        *generation += 1;
                        on_change(model, change);
                    }
                }
                Err(SectionError::Crc { table_id }) => {
                    errors.crc += 1;
                    errors.crc_by_table[usize::from(table_id)] += 1;
                }
                Err(SectionError::Malformed) => errors.malformed += 1,
                Err(SectionError::Interrupted) => errors.interrupted += 1,
            });
        if pat_changed {
            self.refresh_si_pids();
        }
    }

    /// Starts reassembly on the PIDs that now carry tables (PMTs move with the PAT).
    fn refresh_si_pids(&mut self) {
        let mut wanted: Vec<u16> = vec![
            pids::PAT,
            pids::CAT,
            pids::NIT,
            pids::SDT,
            pids::EIT,
            pids::TDT,
        ];
        wanted.push(self.model.network_pid());
        wanted.extend(self.model.programs().values().copied());
        wanted.sort_unstable();
        wanted.dedup();
        wanted.retain(|&p| p != pids::NULL);
        wanted.truncate(usize::from(NO_ASSEMBLER)); // more than 254 PMT PIDs: keep the first
        let mut old = std::mem::take(&mut self.assemblers);
        self.assembler_of.fill(NO_ASSEMBLER);
        for (i, &pid) in wanted.iter().enumerate() {
            // Keep a PID's partial section if it was already being reassembled.
            let assembler = match old.iter().position(|(p, _)| *p == pid) {
                Some(k) => old.swap_remove(k).1,
                None => SectionAssembler::new(),
            };
            self.assemblers.push((pid, assembler));
            self.assembler_of[usize::from(pid)] = i as u8;
        }
    }

    /// The input restarted (a file looped, a tuner retuned to the same multiplex): continuity
    /// starts afresh; tables and counts are kept.
    pub fn reset_continuity(&mut self) {
        self.pids.reset_continuity();
        for (_, a) in &mut self.assemblers {
            a.reset();
        }
    }
}

fn wanted(pid: u16, network_pid: u16, eit: EitInterest, table: u8) -> bool {
    match pid {
        pids::PAT => table == table_id::PAT,
        pids::CAT => table == table_id::CAT,
        pids::SDT => matches!(
            table,
            table_id::SDT_ACTUAL | table_id::SDT_OTHER | table_id::BAT
        ),
        pids::EIT => match eit {
            EitInterest::PresentFollowingActual => table == table_id::EIT_PF_ACTUAL,
            EitInterest::All => crate::tables::eit::is_eit(table),
        },
        pids::TDT => matches!(table, table_id::TDT | table_id::TOT),
        _ if pid == network_pid => matches!(table, table_id::NIT_ACTUAL | table_id::NIT_OTHER),
        _ => table == table_id::PMT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{pat, pmt};
    use crate::write::Packetizer;

    #[test]
    fn learns_services_and_counts_crc_errors() {
        let mut mon = MuxMonitor::new(EitInterest::All);
        let mut packets = Vec::new();
        Packetizer::new(0).packetize(&pat::build(1, 0, &[(7, 0x70)]), &mut |p| packets.push(*p));
        let pmt7 = pmt::build(
            7,
            0,
            0x71,
            &[],
            &[pmt::StreamEntry {
                stream_type: 0x1B,
                pid: 0x71,
                es_info: &[],
            }],
        );
        let mut pk = Packetizer::new(0x70);
        pk.packetize(&pmt7, &mut |p| packets.push(*p));
        let mut broken = pmt7.clone();
        broken[10] ^= 0xFF;
        pk.packetize(&broken, &mut |p| packets.push(*p));
        let mut changes = Vec::new();
        for p in &packets {
            mon.on_packet(p, &mut |_, c| changes.push(c));
        }
        assert_eq!(changes, vec![Change::Pat, Change::Pmt(7)]);
        assert_eq!(mon.section_errors().crc, 1);
        assert_eq!(mon.section_errors().crc_by_table[2], 1);
        assert_eq!(mon.sections_seen()[2], 1);
        assert_eq!(mon.model.pmt(7).unwrap().streams[0].codec, "h264");
    }
}
