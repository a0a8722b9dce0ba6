//! Time in DVB SI (ETSI EN 300 468 Annex C): MJD dates and BCD times; the TDT and TOT
//! (§5.2.5, §5.2.6) that carry the broadcaster's UTC clock.

use super::{TableError, len12, malformed, table_id};
use crate::section::Section;
use crate::write::SectionBuilder;

/// MJD of 1970-01-01.
const MJD_UNIX_EPOCH: i64 = 40_587;

fn bcd(b: u8) -> Option<u32> {
    let (hi, lo) = (b >> 4, b & 0x0F);
    (hi < 10 && lo < 10).then_some(u32::from(hi) * 10 + u32::from(lo))
}

fn to_bcd(v: u32) -> u8 {
    (((v / 10 % 10) << 4) | (v % 10)) as u8
}

/// Decodes the 40-bit `UTC_time` field (16-bit MJD, then hh mm ss in BCD) to Unix seconds.
/// All ones means "undefined" (EIT events of unknown start).
pub fn decode_utc(field: &[u8]) -> Option<i64> {
    let f: &[u8; 5] = field.get(..5)?.try_into().ok()?;
    if f == &[0xFF; 5] {
        return None;
    }
    let mjd = i64::from(u16::from_be_bytes([f[0], f[1]]));
    let (h, m, s) = (bcd(f[2])?, bcd(f[3])?, bcd(f[4])?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((mjd - MJD_UNIX_EPOCH) * 86_400 + i64::from(h * 3600 + m * 60 + s))
}

/// Encodes Unix seconds as `UTC_time`. Dates outside MJD's 16-bit range (1858..2038) clamp.
pub fn encode_utc(unix: i64) -> [u8; 5] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400) as u32;
    let mjd = (days + MJD_UNIX_EPOCH).clamp(0, 0xFFFF) as u16;
    let m = mjd.to_be_bytes();
    [
        m[0],
        m[1],
        to_bcd(secs / 3600),
        to_bcd(secs / 60 % 60),
        to_bcd(secs % 60),
    ]
}

/// Decodes a 24-bit BCD duration (hh mm ss) to seconds.
pub fn decode_duration(field: &[u8]) -> Option<u32> {
    let f = field.get(..3)?;
    Some(bcd(f[0])? * 3600 + bcd(f[1])? * 60 + bcd(f[2])?)
}

pub fn encode_duration(seconds: u32) -> [u8; 3] {
    [
        to_bcd(seconds / 3600),
        to_bcd(seconds / 60 % 60),
        to_bcd(seconds % 60),
    ]
}

/// The UTC time from a TDT or TOT section.
pub fn parse_utc(section: &Section<'_>) -> Result<i64, TableError> {
    match section.table_id() {
        table_id::TDT | table_id::TOT => {}
        _ => return Err(malformed("TDT", "not a TDT/TOT section")),
    }
    decode_utc(section.payload()).ok_or(malformed("TDT", "invalid UTC_time"))
}

/// The descriptor loop of a TOT (local time offsets).
pub fn tot_descriptors<'a>(section: &Section<'a>) -> Result<&'a [u8], TableError> {
    let p = section.payload();
    let len = len12(p, 5).ok_or(malformed("TOT", "too short"))?;
    p.get(7..7 + len)
        .ok_or(malformed("TOT", "descriptor loop beyond the section"))
}

pub fn build_tdt(unix: i64) -> Vec<u8> {
    let mut b = SectionBuilder::short(table_id::TDT, false);
    b.push_bytes(&encode_utc(unix));
    b.finish()
}

pub fn build_tot(unix: i64, descriptors: &[u8]) -> Vec<u8> {
    let mut b = SectionBuilder::short(table_id::TOT, true);
    b.push_bytes(&encode_utc(unix));
    let m = b.open_length(0xF0);
    b.push_bytes(descriptors);
    b.close_length(m);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_c_example() {
        // EN 300 468 Annex C: 93/10/13 12:45:00 is coded 0xC079124500.
        let unix = decode_utc(&[0xC0, 0x79, 0x12, 0x45, 0x00]).unwrap();
        assert_eq!(unix, 750_516_300); // 1993-10-13T12:45:00Z
        assert_eq!(encode_utc(unix), [0xC0, 0x79, 0x12, 0x45, 0x00]);
        assert_eq!(decode_utc(&[0xFF; 5]), None);
        assert_eq!(decode_utc(&[0xC0, 0x79, 0x1A, 0, 0]), None);
        assert_eq!(decode_duration(&[0x01, 0x45, 0x30]), Some(6330));
        assert_eq!(encode_duration(6330), [0x01, 0x45, 0x30]);
    }

    #[test]
    fn tdt_and_tot_round_trip() {
        let t = 1_700_000_000;
        let tdt = build_tdt(t);
        assert_eq!(parse_utc(&Section::new(&tdt).unwrap()), Ok(t));
        let lto = [
            0x58, 13, b'F', b'R', b'A', 0x02, 0x01, 0x00, 0xDD, 0xE2, 0x01, 0x00, 0x00, 0x01, 0x00,
        ];
        let tot = build_tot(t, &lto);
        let s = Section::new(&tot).unwrap();
        assert!(s.has_crc());
        assert_eq!(parse_utc(&s), Ok(t));
        assert_eq!(tot_descriptors(&s), Ok(&lto[..]));
    }
}
