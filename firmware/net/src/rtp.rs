//! The RTP fixed header (RFC 3550 §5.1) as used for MPEG-2 transport streams (RFC 2250):
//! payload type 33, a 90 kHz timestamp, one sequence number per datagram.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! ```

/// Length of the header we write (no CSRCs, no extension).
pub const HEADER_LEN: usize = 12;
/// RFC 3551's static payload type for MPEG-2 transport streams.
pub const PAYLOAD_TYPE_MP2T: u8 = 33;

/// Writes a header for a transport stream datagram.
pub fn write_header(buf: &mut [u8; HEADER_LEN], sequence: u16, timestamp_90khz: u32, ssrc: u32) {
    buf[0] = 0x80;
    buf[1] = PAYLOAD_TYPE_MP2T;
    buf[2..4].copy_from_slice(&sequence.to_be_bytes());
    buf[4..8].copy_from_slice(&timestamp_90khz.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// A received header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    /// Where the payload starts.
    pub payload_offset: usize,
    /// Where it ends (padding removed).
    pub payload_end: usize,
}

/// Parses an RTP header, if `datagram` starts with one (version 2, lengths consistent).
pub fn parse(datagram: &[u8]) -> Option<Header> {
    if datagram.len() < HEADER_LEN || datagram[0] >> 6 != 2 {
        return None;
    }
    let csrc = usize::from(datagram[0] & 0x0F);
    let mut offset = HEADER_LEN + 4 * csrc;
    if datagram[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*datagram.get(offset + 2)?, *datagram.get(offset + 3)?]);
        offset += 4 + 4 * usize::from(words);
    }
    let mut end = datagram.len();
    if datagram[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*datagram.last()?))?;
    }
    (offset <= end).then(|| Header {
        payload_type: datagram[1] & 0x7F,
        sequence: u16::from_be_bytes([datagram[2], datagram[3]]),
        timestamp: u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]),
        payload_offset: offset,
        payload_end: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_extensions() {
        let mut h = [0u8; HEADER_LEN];
        write_header(&mut h, 65535, 0xDEAD_BEEF, 7);
        let mut d = h.to_vec();
        d.extend_from_slice(&[0x47; 188]);
        let p = parse(&d).unwrap();
        assert_eq!(
            (
                p.payload_type,
                p.sequence,
                p.timestamp,
                p.payload_offset,
                p.payload_end
            ),
            (33, 65535, 0xDEAD_BEEF, 12, 200)
        );
        // One CSRC, an extension of one word, two bytes of padding.
        let mut e = vec![
            0x80 | 0x20 | 0x10 | 1,
            33,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            9,
            1,
            2,
            3,
            4,
            0xBE,
            0xDE,
            0,
            1,
            9,
            9,
            9,
            9,
        ];
        e.extend_from_slice(&[0x47; 188]);
        e.extend_from_slice(&[0, 2]);
        let p = parse(&e).unwrap();
        assert_eq!(
            (p.payload_offset, p.payload_end - p.payload_offset),
            (24, 188)
        );
        assert_eq!(parse(&[0x47; 188]), None);
        assert_eq!(
            parse(&[0x80, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF]),
            Some(Header {
                payload_type: 33,
                sequence: 0,
                timestamp: 0,
                payload_offset: 12,
                payload_end: 12
            })
        );
        assert_eq!(
            parse(&[0xA0, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20]),
            None,
            "padding longer than the datagram"
        );
    }
}
