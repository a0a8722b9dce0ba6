//! PSI/SI sections (ISO/IEC 13818-1 §2.4.4, ETSI EN 300 468 §5.1): reassembly across
//! packets and the CRC-32 check.
//!
//! mpeg2ts-reader has section reassembly too, but it is tied to its demultiplexer and only
//! logs CRC failures; a gateway must count them per table and keep going, so reassembly is
//! done here and mpeg2ts-reader's CRC routine is reused.

use crate::packet::{self, RawPacket};
use mpeg2ts_reader::mpegts_crc;

/// Private sections (EIT schedule, for one) may be up to 4096 bytes.
pub const MAX_SECTION_SIZE: usize = 4096;

/// A complete section, borrowed from the packet or from the assembler's buffer.
#[derive(Clone, Copy)]
pub struct Section<'a> {
    bytes: &'a [u8],
}

impl<'a> Section<'a> {
    /// Wraps a complete section. Checks only that the declared length matches.
    pub fn new(bytes: &'a [u8]) -> Result<Self, SectionError> {
        if bytes.len() < 3 {
            return Err(SectionError::Malformed);
        }
        let declared = 3 + (usize::from(bytes[1] & 0x0F) << 8 | usize::from(bytes[2]));
        if declared != bytes.len() {
            return Err(SectionError::Malformed);
        }
        let s = Section { bytes };
        if s.has_syntax() && bytes.len() < 12 {
            return Err(SectionError::Malformed);
        }
        Ok(s)
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub fn table_id(&self) -> u8 {
        self.bytes[0]
    }
    /// `section_syntax_indicator`: a long header (ids, version, numbers) and a CRC follow.
    pub fn has_syntax(&self) -> bool {
        self.bytes[1] & 0x80 != 0
    }
    /// Whether a CRC-32 ends this section. The TOT has one despite its short header.
    pub fn has_crc(&self) -> bool {
        self.has_syntax() || self.table_id() == crate::tables::table_id::TOT
    }
    /// `table_id_extension`: transport stream id (PAT, SDT), program number (PMT),
    /// network id (NIT), service id (EIT). Zero for short-form sections.
    pub fn table_id_extension(&self) -> u16 {
        if self.has_syntax() {
            u16::from_be_bytes([self.bytes[3], self.bytes[4]])
        } else {
            0
        }
    }
    pub fn version(&self) -> u8 {
        if self.has_syntax() {
            (self.bytes[5] >> 1) & 0x1F
        } else {
            0
        }
    }
    /// `current_next_indicator`: false for a table announced for later.
    pub fn is_current(&self) -> bool {
        !self.has_syntax() || self.bytes[5] & 1 != 0
    }
    pub fn section_number(&self) -> u8 {
        if self.has_syntax() { self.bytes[6] } else { 0 }
    }
    pub fn last_section_number(&self) -> u8 {
        if self.has_syntax() { self.bytes[7] } else { 0 }
    }
    /// The table body: after the header, before the CRC.
    pub fn payload(&self) -> &'a [u8] {
        let end = if self.has_crc() {
            self.bytes.len().saturating_sub(4)
        } else {
            self.bytes.len()
        };
        let start = if self.has_syntax() { 8 } else { 3 };
        &self.bytes[start.min(end)..end]
    }
    /// The CRC field as transmitted (0 for sections without one). Equal CRCs mean the
    /// section is a repetition, which lets callers skip re-parsing.
    pub fn crc(&self) -> u32 {
        if self.has_crc() && self.bytes.len() >= 4 {
            let n = self.bytes.len();
            u32::from_be_bytes([
                self.bytes[n - 4],
                self.bytes[n - 3],
                self.bytes[n - 2],
                self.bytes[n - 1],
            ])
        } else {
            0
        }
    }
    fn crc_ok(&self) -> bool {
        // The MPEG-2 CRC of a section including its CRC field is zero.
        !self.has_crc() || mpegts_crc::sum32(self.bytes) == 0
    }
}

impl std::fmt::Debug for Section<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Section")
            .field("table_id", &format_args!("{:#04x}", self.table_id()))
            .field("extension", &self.table_id_extension())
            .field("version", &self.version())
            .field("number", &self.section_number())
            .field("len", &self.bytes.len())
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    #[error("CRC-32 mismatch in table {table_id:#04x}")]
    Crc { table_id: u8 },
    #[error("malformed section")]
    Malformed,
    /// Packets went missing (continuity counter jump) while a section was being collected.
    #[error("section cut by a continuity error")]
    Interrupted,
}

/// Reassembles the sections of one PID.
pub struct SectionAssembler {
    buf: Box<[u8; MAX_SECTION_SIZE]>,
    len: usize,
    /// Total size of the section being collected; 0 while its 3-byte header is incomplete.
    expected: usize,
    collecting: bool,
    last_cc: Option<u8>,
}

impl Default for SectionAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl SectionAssembler {
    pub fn new() -> Self {
        SectionAssembler {
            buf: Box::new([0; MAX_SECTION_SIZE]),
            len: 0,
            expected: 0,
            collecting: false,
            last_cc: None,
        }
    }

    /// Forgets any partial section and the continuity state (after an input discontinuity).
    pub fn reset(&mut self) {
        self.collecting = false;
        self.last_cc = None;
    }

    /// Feeds one packet of this PID. `wanted(table_id)` lets the caller skip tables it does not
    /// need without copying or checking them. Each complete section (or error) goes to `out`.
    pub fn push(
        &mut self,
        p: &RawPacket,
        wanted: &impl Fn(u8) -> bool,
        out: &mut impl FnMut(Result<Section<'_>, SectionError>),
    ) {
        if !packet::has_payload(p) || packet::transport_error(p) {
            return;
        }
        let cc = packet::continuity_counter(p);
        if let Some(last) = self.last_cc {
            if cc == last && !packet::discontinuity_indicator(p) {
                return; // a permitted duplicate
            }
            if cc != (last + 1) & 0x0F && self.collecting {
                self.collecting = false;
                out(Err(SectionError::Interrupted));
            }
        }
        self.last_cc = Some(cc);
        let Some(payload) = packet::payload(p) else {
            return;
        };

        if packet::payload_unit_start(p) {
            let pointer = usize::from(payload[0]);
            let body = &payload[1..];
            if pointer > body.len() {
                self.collecting = false;
                out(Err(SectionError::Malformed));
                return;
            }
            if self.collecting {
                self.append(&body[..pointer], out);
                if self.collecting {
                    // The previous section should have ended where this one starts.
                    self.collecting = false;
                    out(Err(SectionError::Malformed));
                }
            }
            self.start_sections(&body[pointer..], wanted, out);
        } else if self.collecting {
            self.append(payload, out);
        }
    }

    fn append(&mut self, data: &[u8], out: &mut impl FnMut(Result<Section<'_>, SectionError>)) {
        let mut data = data;
        if self.expected == 0 {
            let need = 3 - self.len;
            let n = need.min(data.len());
            self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
            if self.len < 3 {
                return;
            }
            self.expected = declared_size(&self.buf[..3]);
            if self.expected > MAX_SECTION_SIZE {
                self.collecting = false;
                out(Err(SectionError::Malformed));
                return;
            }
        }
        let n = (self.expected - self.len).min(data.len());
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == self.expected {
            self.collecting = false;
            deliver(&self.buf[..self.len], out);
        }
    }

    fn start_sections(
        &mut self,
        mut data: &[u8],
        wanted: &impl Fn(u8) -> bool,
        out: &mut impl FnMut(Result<Section<'_>, SectionError>),
    ) {
        // Sections follow one another until the packet ends or stuffing (0xFF) begins.
        while !data.is_empty() && data[0] != 0xFF {
            if !wanted(data[0]) {
                // Sections only start in packets with payload_unit_start set, so skipping
                // the rest of this packet skips nothing we want.
                return;
            }
            if data.len() < 3 {
                self.buf[..data.len()].copy_from_slice(data);
                self.len = data.len();
                self.expected = 0;
                self.collecting = true;
                return;
            }
            let size = declared_size(data);
            if size > MAX_SECTION_SIZE {
                out(Err(SectionError::Malformed));
                return;
            }
            if data.len() >= size {
                deliver(&data[..size], out);
                data = &data[size..];
            } else {
                self.buf[..data.len()].copy_from_slice(data);
                self.len = data.len();
                self.expected = size;
                self.collecting = true;
                return;
            }
        }
    }
}

fn declared_size(header: &[u8]) -> usize {
    3 + (usize::from(header[1] & 0x0F) << 8 | usize::from(header[2]))
}

fn deliver(bytes: &[u8], out: &mut impl FnMut(Result<Section<'_>, SectionError>)) {
    match Section::new(bytes) {
        Ok(s) if s.crc_ok() => out(Ok(s)),
        Ok(s) => out(Err(SectionError::Crc {
            table_id: s.table_id(),
        })),
        Err(e) => out(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{Packetizer, SectionBuilder};

    fn section(table_id: u8, ext: u16, body_len: usize) -> Vec<u8> {
        let mut b = SectionBuilder::long(table_id, ext, 3, 0, 0);
        for i in 0..body_len {
            b.push_u8(i as u8);
        }
        b.finish()
    }

    fn collect(packets: &[RawPacket]) -> (Vec<Vec<u8>>, Vec<SectionError>) {
        let mut a = SectionAssembler::new();
        let mut ok = Vec::new();
        let mut err = Vec::new();
        for p in packets {
            a.push(p, &|_| true, &mut |r| match r {
                Ok(s) => ok.push(s.bytes().to_vec()),
                Err(e) => err.push(e),
            });
        }
        (ok, err)
    }

    #[test]
    fn reassembles_across_packets_and_several_per_packet() {
        let big = section(0x42, 1, 900);
        let small1 = section(0x4E, 2, 10);
        let small2 = section(0x4E, 3, 20);
        let mut pk = Packetizer::new(0x11);
        let mut packets = Vec::new();
        pk.packetize_many(&[&big, &small1, &small2], &mut |p| packets.push(*p));
        let (ok, err) = collect(&packets);
        assert!(err.is_empty(), "{err:?}");
        assert_eq!(ok, vec![big, small1, small2]);
        let s = Section::new(&ok[0]).unwrap();
        assert_eq!(
            (s.table_id(), s.table_id_extension(), s.version()),
            (0x42, 1, 3)
        );
        assert_eq!(s.payload().len(), 900);
    }

    #[test]
    fn crc_errors_are_reported() {
        let mut bad = section(0x42, 1, 50);
        bad[20] ^= 0x01;
        let mut packets = Vec::new();
        Packetizer::new(0x11).packetize(&bad, &mut |p| packets.push(*p));
        let (ok, err) = collect(&packets);
        assert!(ok.is_empty());
        assert_eq!(err, vec![SectionError::Crc { table_id: 0x42 }]);
    }

    #[test]
    fn lost_packet_drops_the_section_and_the_next_one_survives() {
        let a = section(0x42, 1, 500);
        let b = section(0x42, 2, 30);
        let mut packets = Vec::new();
        let mut pk = Packetizer::new(0x11);
        pk.packetize(&a, &mut |p| packets.push(*p));
        pk.packetize(&b, &mut |p| packets.push(*p));
        packets.remove(1);
        let (ok, err) = collect(&packets);
        assert_eq!(ok, vec![b]);
        assert_eq!(err, vec![SectionError::Interrupted]);
    }

    #[test]
    fn duplicates_are_ignored_and_unwanted_tables_skipped() {
        let a = section(0x4E, 1, 10);
        let b = section(0x50, 1, 10);
        let mut packets = Vec::new();
        let mut pk = Packetizer::new(0x12);
        pk.packetize(&a, &mut |p| packets.push(*p));
        packets.push(packets[0]); // duplicate packet, same CC
        pk.packetize(&b, &mut |p| packets.push(*p));
        let mut asm = SectionAssembler::new();
        let mut seen = Vec::new();
        for p in &packets {
            asm.push(p, &|t| t == 0x4E, &mut |r| seen.push(r.unwrap().table_id()));
        }
        assert_eq!(seen, vec![0x4E]);
    }

    #[test]
    fn garbage_pointer_field_is_malformed_not_a_panic() {
        let mut p = [0xFFu8; 188];
        crate::packet::write_header(&mut p, 0x11, true, 0);
        p[4] = 200;
        let (ok, err) = collect(&[p]);
        assert!(ok.is_empty());
        assert_eq!(err, vec![SectionError::Malformed]);
    }
}
