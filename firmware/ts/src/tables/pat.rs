//! Program Association Table (ISO/IEC 13818-1 §2.4.4.3).

use super::{TableError, malformed, table_id};
use crate::section::Section;
use crate::write::SectionBuilder;
use mpeg2ts_reader::psi::pat::{PatSection, ProgramDescriptor};

/// One PAT section's entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatSectionInfo {
    pub transport_stream_id: u16,
    /// `(program_number, program_map_PID)`, program 0 (the NIT pointer) excluded.
    pub programs: Vec<(u16, u16)>,
    pub network_pid: Option<u16>,
}

pub fn parse(section: &Section<'_>) -> Result<PatSectionInfo, TableError> {
    if section.table_id() != table_id::PAT || !section.has_syntax() {
        return Err(malformed("PAT", "not a PAT section"));
    }
    let payload = section.payload();
    if !payload.len().is_multiple_of(4) {
        return Err(malformed(
            "PAT",
            "program loop is not a multiple of 4 bytes",
        ));
    }
    let mut info = PatSectionInfo {
        transport_stream_id: section.table_id_extension(),
        programs: Vec::with_capacity(payload.len() / 4),
        network_pid: None,
    };
    for entry in PatSection::new(payload).programs() {
        match entry {
            ProgramDescriptor::Network { pid } => info.network_pid = Some(pid.into()),
            ProgramDescriptor::Program {
                program_number,
                pid,
            } => info.programs.push((program_number, pid.into())),
        }
    }
    Ok(info)
}

/// A single-section PAT. 253 programs fit; a gateway's SPTS has one.
pub fn build(transport_stream_id: u16, version: u8, programs: &[(u16, u16)]) -> Vec<u8> {
    let mut b = SectionBuilder::long(table_id::PAT, transport_stream_id, version, 0, 0);
    for &(program, pid) in programs {
        b.push_u16(program);
        b.push_u16(0xE000 | pid);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = build(0x0401, 5, &[(0, 0x10), (1025, 0x100), (1026, 0x200)]);
        let s = Section::new(&bytes).unwrap();
        let info = parse(&s).unwrap();
        assert_eq!(info.transport_stream_id, 0x401);
        assert_eq!(info.network_pid, Some(0x10));
        assert_eq!(info.programs, vec![(1025, 0x100), (1026, 0x200)]);
        assert_eq!(s.version(), 5);
    }
}
