//! Writing sections and packetizing them. The table-specific builders live beside their
//! parsers in [`crate::tables`]; this is the shared framing.

use crate::packet::{self, PACKET_SIZE, RawPacket};
use mpeg2ts_reader::mpegts_crc;

/// Builds one section: header, body, section_length and CRC.
pub struct SectionBuilder {
    buf: Vec<u8>,
    with_crc: bool,
}

/// A 12-bit length field to fill in once the loop it measures is written.
#[must_use]
pub struct LengthMark(usize);

impl SectionBuilder {
    /// A section with the long header (`section_syntax_indicator` = 1) and a CRC.
    pub fn long(
        table_id: u8,
        table_id_extension: u16,
        version: u8,
        section_number: u8,
        last_section_number: u8,
    ) -> Self {
        let mut buf = Vec::with_capacity(1024);
        // MPEG tables (below 0x40) have private_indicator 0; DVB SI sets that bit
        // ("reserved_future_use").
        let flags = if table_id < 0x40 { 0xB0 } else { 0xF0 };
        buf.extend_from_slice(&[table_id, flags, 0]);
        buf.extend_from_slice(&table_id_extension.to_be_bytes());
        buf.push(0xC0 | (version & 0x1F) << 1 | 1); // current_next_indicator = 1
        buf.push(section_number);
        buf.push(last_section_number);
        SectionBuilder {
            buf,
            with_crc: true,
        }
    }

    /// A short-header section (TDT); `with_crc` for the TOT, which has a CRC anyway.
    pub fn short(table_id: u8, with_crc: bool) -> Self {
        SectionBuilder {
            buf: vec![table_id, 0x70, 0],
            with_crc,
        }
    }

    pub fn push_u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn push_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn push_bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// Bytes written so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Writes a placeholder 12-bit length with `top_bits` in its upper nibble (usually the
    /// reserved bits, 0xF0).
    pub fn open_length(&mut self, top_bits: u8) -> LengthMark {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[top_bits & 0xF0, 0]);
        LengthMark(at)
    }

    /// Fills a length opened with [`Self::open_length`] with the bytes written since.
    pub fn close_length(&mut self, mark: LengthMark) {
        let len = self.buf.len() - mark.0 - 2;
        debug_assert!(len < 0x1000);
        self.buf[mark.0] = (self.buf[mark.0] & 0xF0) | ((len >> 8) as u8 & 0x0F);
        self.buf[mark.0 + 1] = len as u8;
    }

    /// Completes the section (length and CRC) and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let crc_len = if self.with_crc { 4 } else { 0 };
        let section_length = self.buf.len() - 3 + crc_len;
        self.buf[1] = (self.buf[1] & 0xF0) | ((section_length >> 8) as u8 & 0x0F);
        self.buf[2] = section_length as u8;
        if self.with_crc {
            let crc = mpegts_crc::sum32(&self.buf);
            self.buf.extend_from_slice(&crc.to_be_bytes());
        }
        self.buf
    }
}

/// Splits sections into packets of one PID, keeping its continuity counter.
#[derive(Clone, Debug)]
pub struct Packetizer {
    pid: u16,
    cc: u8,
}

impl Packetizer {
    pub fn new(pid: u16) -> Self {
        Packetizer { pid, cc: 0 }
    }

    pub fn pid(&self) -> u16 {
        self.pid
    }

    /// The counter the next packet will carry.
    pub fn next_cc(&self) -> u8 {
        self.cc
    }

    /// Packetizes one section; the last packet is padded with 0xFF.
    pub fn packetize(&mut self, section: &[u8], out: &mut impl FnMut(&RawPacket)) {
        self.packetize_many(&[section], out);
    }

    /// Packetizes sections back to back, several per packet where they fit, which is how
    /// broadcasters pack small EIT sections.
    pub fn packetize_many(&mut self, sections: &[&[u8]], out: &mut impl FnMut(&RawPacket)) {
        let mut pending = PendingPacket::default();
        for section in sections {
            let mut rest: &[u8] = section;
            // A section may only start in a packet with payload_unit_start set, whose pointer
            // field says where; the pointer byte costs one byte of room.
            let room_to_start = if pending.first_start.is_some() {
                PAYLOAD - 1 - pending.len
            } else {
                PAYLOAD.saturating_sub(1 + pending.len)
            };
            if room_to_start == 0 {
                self.flush(&mut pending, out);
            }
            if pending.first_start.is_none() {
                pending.first_start = Some(pending.len);
            }
            while !rest.is_empty() {
                let room = pending.room();
                let n = room.min(rest.len());
                pending.bytes[pending.len..pending.len + n].copy_from_slice(&rest[..n]);
                pending.len += n;
                rest = &rest[n..];
                if pending.room() == 0 {
                    self.flush(&mut pending, out);
                }
            }
        }
        if pending.len > 0 || pending.first_start.is_some() {
            self.flush(&mut pending, out);
        }
    }

    fn flush(&mut self, pending: &mut PendingPacket, out: &mut impl FnMut(&RawPacket)) {
        let mut p = [0xFFu8; PACKET_SIZE];
        packet::write_header(&mut p, self.pid, pending.first_start.is_some(), self.cc);
        let mut at = 4;
        if let Some(pointer) = pending.first_start {
            p[at] = pointer as u8;
            at += 1;
        }
        p[at..at + pending.len].copy_from_slice(&pending.bytes[..pending.len]);
        self.cc = (self.cc + 1) & 0x0F;
        out(&p);
        *pending = PendingPacket::default();
    }
}

const PAYLOAD: usize = PACKET_SIZE - 4;

struct PendingPacket {
    bytes: [u8; PAYLOAD],
    len: usize,
    /// Offset (within `bytes`) of the first section starting in this packet.
    first_start: Option<usize>,
}

impl Default for PendingPacket {
    fn default() -> Self {
        PendingPacket {
            bytes: [0; PAYLOAD],
            len: 0,
            first_start: None,
        }
    }
}

impl PendingPacket {
    fn room(&self) -> usize {
        PAYLOAD - usize::from(self.first_start.is_some()) - self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::{Section, SectionAssembler};

    #[test]
    fn builder_sets_length_and_crc() {
        let mut b = SectionBuilder::long(0x02, 0x1234, 7, 0, 0);
        let m = b.open_length(0xF0);
        b.push_bytes(&[1, 2, 3]);
        b.close_length(m);
        let bytes = b.finish();
        let s = Section::new(&bytes).unwrap();
        assert_eq!(s.table_id(), 2);
        assert_eq!(s.table_id_extension(), 0x1234);
        assert_eq!(s.version(), 7);
        assert!(s.is_current());
        assert_eq!(s.payload(), &[0xF0, 3, 1, 2, 3]);
        assert_eq!(mpegts_crc::sum32(&bytes), 0);
    }

    #[test]
    fn sections_of_every_size_round_trip_and_counters_continue() {
        // Sizes chosen around the 183/184-byte packet boundaries.
        let sizes = [12, 180, 181, 182, 183, 184, 185, 366, 367, 368, 1000, 4096];
        let sections: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| {
                let mut b = SectionBuilder::long(0x4E, n as u16, 0, 0, 0);
                while b.len() < n - 4 {
                    b.push_u8(0x5A);
                }
                b.finish()
            })
            .collect();
        let refs: Vec<&[u8]> = sections.iter().map(|s| s.as_slice()).collect();
        for many in [false, true] {
            let mut pk = Packetizer::new(0x12);
            let mut packets = Vec::new();
            if many {
                pk.packetize_many(&refs, &mut |p| packets.push(*p));
            } else {
                for s in &refs {
                    pk.packetize(s, &mut |p| packets.push(*p));
                }
            }
            for (i, p) in packets.iter().enumerate() {
                assert_eq!(packet::continuity_counter(p), (i % 16) as u8);
            }
            let mut asm = SectionAssembler::new();
            let mut got = Vec::new();
            for p in &packets {
                asm.push(p, &|_| true, &mut |r| got.push(r.unwrap().bytes().to_vec()));
            }
            assert_eq!(got, sections, "packetize_many={many}");
        }
    }
}
