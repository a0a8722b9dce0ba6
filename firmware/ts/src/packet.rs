//! 188-byte transport stream packets (ISO/IEC 13818-1 §2.4.3.2).
//!
//! Reading goes through [`mpeg2ts_reader::packet::Packet`]; this module adds the handful of
//! in-place rewrites a remuxer needs (continuity counter, discontinuity indicator) and the
//! well-known PIDs of DVB (ETSI EN 300 468 §5.1.3).

use mpeg2ts_reader::packet::Packet;

/// Size of a transport stream packet. 204-byte (Reed-Solomon) and 192-byte (M2TS) framings
/// are reduced to this by [`crate::reader::PacketReader`].
pub const PACKET_SIZE: usize = 188;
/// First byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;

/// One packet, owned or borrowed. Arrays (not slices) so that length checks vanish.
pub type RawPacket = [u8; PACKET_SIZE];

/// Well-known PIDs.
pub mod pids {
    /// Program Association Table.
    pub const PAT: u16 = 0x0000;
    /// Conditional Access Table.
    pub const CAT: u16 = 0x0001;
    /// Network Information Table (DVB).
    pub const NIT: u16 = 0x0010;
    /// Service Description Table and Bouquet Association Table (DVB).
    pub const SDT: u16 = 0x0011;
    /// Event Information Table (DVB).
    pub const EIT: u16 = 0x0012;
    /// Time and Date Table, Time Offset Table (DVB).
    pub const TDT: u16 = 0x0014;
    /// Null packets: padding, never forwarded.
    pub const NULL: u16 = 0x1FFF;
    /// Number of distinct PIDs (13 bits).
    pub const COUNT: usize = 0x2000;
}

/// A program clock reference in 27 MHz ticks (`base * 300 + extension`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pcr(pub u64);

impl Pcr {
    /// PCR values wrap at 2^33 * 300 ticks, about 26.5 hours.
    pub const MODULUS: u64 = (1 << 33) * 300;
    /// Ticks per second.
    pub const HZ: u64 = 27_000_000;

    /// Ticks from `earlier` to `self`, taking one wrap into account. The result is in
    /// `0..MODULUS`; a caller that needs "backwards" must compare against a limit.
    pub fn ticks_since(self, earlier: Pcr) -> u64 {
        (self.0 + Self::MODULUS - earlier.0) % Self::MODULUS
    }

    /// Converts a tick count to nanoseconds.
    pub fn ticks_to_ns(ticks: u64) -> u64 {
        // 1 tick = 1000/27 ns; u128 keeps 26 hours of ticks from overflowing.
        (u128::from(ticks) * 1000 / 27) as u64
    }

    /// The 90 kHz part, as used by PTS/DTS and RTP timestamps.
    pub fn base_90khz(self) -> u64 {
        self.0 / 300
    }
}

/// Header fields read on the hot path. All are `#[inline]` reads of fixed offsets.
#[inline]
pub fn pid(p: &RawPacket) -> u16 {
    u16::from(Packet::new(p).pid())
}

#[inline]
pub fn continuity_counter(p: &RawPacket) -> u8 {
    p[3] & 0x0F
}

#[inline]
pub fn has_payload(p: &RawPacket) -> bool {
    p[3] & 0x10 != 0
}

#[inline]
pub fn has_adaptation_field(p: &RawPacket) -> bool {
    p[3] & 0x20 != 0
}

#[inline]
pub fn transport_error(p: &RawPacket) -> bool {
    p[1] & 0x80 != 0
}

#[inline]
pub fn payload_unit_start(p: &RawPacket) -> bool {
    p[1] & 0x40 != 0
}

/// True when `transport_scrambling_control` is not `00`.
#[inline]
pub fn is_scrambled(p: &RawPacket) -> bool {
    p[3] & 0xC0 != 0
}

/// Length of the adaptation field (without its length byte), if one is present and sane.
#[inline]
fn adaptation_field_length(p: &RawPacket) -> Option<usize> {
    if !has_adaptation_field(p) {
        return None;
    }
    let len = usize::from(p[4]);
    // With a payload the field leaves at least one byte; without, it fills the packet.
    let max = if has_payload(p) { 182 } else { 183 };
    (len > 0 && len <= max).then_some(len)
}

/// The `discontinuity_indicator` of the adaptation field.
#[inline]
pub fn discontinuity_indicator(p: &RawPacket) -> bool {
    adaptation_field_length(p).is_some() && p[5] & 0x80 != 0
}

/// The PCR carried in this packet, if any.
#[inline]
pub fn pcr(p: &RawPacket) -> Option<Pcr> {
    // Checked here rather than through mpeg2ts-reader's AdaptationField because this runs for
    // every packet and mpeg2ts-reader logs (through `log`) on malformed fields.
    let len = adaptation_field_length(p)?;
    if len < 7 || p[5] & 0x10 == 0 {
        return None;
    }
    let b = &p[6..12];
    let base = (u64::from(b[0]) << 25)
        | (u64::from(b[1]) << 17)
        | (u64::from(b[2]) << 9)
        | (u64::from(b[3]) << 1)
        | (u64::from(b[4]) >> 7);
    let ext = (u64::from(b[4] & 1) << 8) | u64::from(b[5]);
    Some(Pcr(base * 300 + ext))
}

/// The payload bytes (after header and adaptation field), if the packet has any.
#[inline]
pub fn payload(p: &RawPacket) -> Option<&[u8]> {
    if !has_payload(p) {
        return None;
    }
    let start = if has_adaptation_field(p) {
        5 + usize::from(p[4])
    } else {
        4
    };
    (start < PACKET_SIZE).then(|| &p[start..])
}

/// Rewrites the continuity counter.
#[inline]
pub fn set_continuity_counter(p: &mut RawPacket, cc: u8) {
    p[3] = (p[3] & 0xF0) | (cc & 0x0F);
}

/// Sets the `discontinuity_indicator`. Returns false (and changes nothing) when the packet
/// has no adaptation field to carry it: inserting one would shift the payload.
pub fn set_discontinuity_indicator(p: &mut RawPacket) -> bool {
    if adaptation_field_length(p).is_some() {
        p[5] |= 0x80;
        true
    } else {
        false
    }
}

/// Gives the packet an adaptation field that carries `pcr` (7 bytes of field, payload
/// after it), and returns where the payload starts.
pub fn write_pcr_adaptation_field(p: &mut RawPacket, pcr: Pcr) -> usize {
    let (base, ext) = (pcr.0 / 300, pcr.0 % 300);
    p[3] |= 0x20;
    p[4] = 7;
    p[5] = 0x10;
    p[6] = (base >> 25) as u8;
    p[7] = (base >> 17) as u8;
    p[8] = (base >> 9) as u8;
    p[9] = (base >> 1) as u8;
    p[10] = ((base & 1) as u8) << 7 | 0x7E | (ext >> 8) as u8;
    p[11] = ext as u8;
    12
}

/// Writes a 4-byte header for a packet of `pid` with payload only.
pub fn write_header(p: &mut RawPacket, pid: u16, payload_unit_start: bool, cc: u8) {
    p[0] = SYNC_BYTE;
    p[1] = (if payload_unit_start { 0x40 } else { 0 }) | ((pid >> 8) as u8 & 0x1F);
    p[2] = pid as u8;
    p[3] = 0x10 | (cc & 0x0F);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_with_pcr(base: u64, ext: u16) -> RawPacket {
        let mut p = [0xFFu8; PACKET_SIZE];
        write_header(&mut p, 0x100, false, 0);
        write_pcr_adaptation_field(&mut p, Pcr(base * 300 + u64::from(ext)));
        p
    }

    #[test]
    fn reads_pcr_and_agrees_with_mpeg2ts_reader() {
        let p = packet_with_pcr(0x1_2345_6789, 299);
        let ours = pcr(&p).unwrap();
        let theirs = Packet::new(&p).adaptation_field().unwrap().pcr().unwrap();
        assert_eq!(ours.0, u64::from(theirs));
        assert_eq!(ours.0, 0x1_2345_6789 * 300 + 299);
        assert_eq!(pid(&p), 0x100);
    }

    #[test]
    fn pcr_wraps() {
        let late = Pcr(Pcr::MODULUS - 27_000);
        let early = Pcr(27_000);
        assert_eq!(early.ticks_since(late), 54_000);
        assert_eq!(Pcr::ticks_to_ns(27_000_000), 1_000_000_000);
    }

    #[test]
    fn discontinuity_needs_an_adaptation_field() {
        let mut p = packet_with_pcr(1, 0);
        assert!(!discontinuity_indicator(&p));
        assert!(set_discontinuity_indicator(&mut p));
        assert!(discontinuity_indicator(&p));
        let mut q = [0u8; PACKET_SIZE];
        write_header(&mut q, 0x44, true, 3);
        assert!(!set_discontinuity_indicator(&mut q));
        assert_eq!(continuity_counter(&q), 3);
        set_continuity_counter(&mut q, 0x1F);
        assert_eq!(continuity_counter(&q), 0x0F);
        assert_eq!(payload(&q).unwrap().len(), 184);
    }

    #[test]
    fn bogus_adaptation_length_is_not_read() {
        let mut p = packet_with_pcr(5, 5);
        p[4] = 200;
        assert_eq!(pcr(&p), None);
        assert_eq!(payload(&p), None);
    }
}
