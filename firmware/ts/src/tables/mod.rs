//! The PSI/SI tables a gateway reads and writes. Each module parses a table from a checked
//! [`crate::section::Section`] and, where we emit that table, builds it.

pub mod bat;
pub mod cat;
pub mod eit;
pub mod nit;
pub mod pat;
pub mod pmt;
pub mod sdt;
pub mod time;

/// Table ids (ISO/IEC 13818-1 Table 2-31, ETSI EN 300 468 Table 2).
pub mod table_id {
    pub const PAT: u8 = 0x00;
    pub const CAT: u8 = 0x01;
    pub const PMT: u8 = 0x02;
    pub const NIT_ACTUAL: u8 = 0x40;
    pub const NIT_OTHER: u8 = 0x41;
    pub const SDT_ACTUAL: u8 = 0x42;
    pub const SDT_OTHER: u8 = 0x46;
    pub const BAT: u8 = 0x4A;
    pub const EIT_PF_ACTUAL: u8 = 0x4E;
    pub const EIT_PF_OTHER: u8 = 0x4F;
    /// EIT schedule actual: 0x50..=0x5F; other: 0x60..=0x6F.
    pub const EIT_SCHEDULE_ACTUAL_FIRST: u8 = 0x50;
    pub const EIT_SCHEDULE_ACTUAL_LAST: u8 = 0x5F;
    pub const EIT_SCHEDULE_OTHER_FIRST: u8 = 0x60;
    pub const EIT_SCHEDULE_OTHER_LAST: u8 = 0x6F;
    pub const TDT: u8 = 0x70;
    pub const TOT: u8 = 0x73;

    /// A short human name, for diagnostics.
    pub fn name(id: u8) -> &'static str {
        match id {
            PAT => "PAT",
            CAT => "CAT",
            PMT => "PMT",
            NIT_ACTUAL => "NIT",
            NIT_OTHER => "NIT-other",
            SDT_ACTUAL => "SDT",
            SDT_OTHER => "SDT-other",
            BAT => "BAT",
            EIT_PF_ACTUAL => "EIT-pf",
            EIT_PF_OTHER => "EIT-pf-other",
            0x50..=0x5F => "EIT-schedule",
            0x60..=0x6F => "EIT-schedule-other",
            TDT => "TDT",
            TOT => "TOT",
            _ => "other",
        }
    }
}

/// Reads a big-endian u16 at `at`, if present.
pub(crate) fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
}

/// Reads a 12-bit length (low nibble of `at`, byte `at + 1`).
pub(crate) fn len12(buf: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(*buf.get(at)? & 0x0F) << 8 | usize::from(*buf.get(at + 1)?))
}

/// Reads a 13-bit PID.
pub(crate) fn pid13(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from(*buf.get(at)? & 0x1F) << 8 | u16::from(*buf.get(at + 1)?))
}

/// Errors from table parsers: the section passed its CRC but its contents do not add up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{table}: {what}")]
pub struct TableError {
    pub table: &'static str,
    pub what: &'static str,
}

pub(crate) fn malformed(table: &'static str, what: &'static str) -> TableError {
    TableError { table, what }
}
