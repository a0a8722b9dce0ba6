//! Session announcements: SAP (RFC 2974) carrying SDP (RFC 4566), so VLC's "Network
//! streams (SAP)" and set-top boxes that listen for SAP list every multicast channel.
//!
//! Announcements go to the SAP address of the session's scope (239.255.255.255 for the
//! organisation-local 239.255.0.0/16 that hotel networks use, 224.2.127.254 otherwise) on
//! port 9875, on the same interface and with the same TTL as the streams. RFC 2974 asks for
//! an interval of at least 300 s; players that list channels as they hear them make that
//! far too slow on a LAN, so the interval is configurable and defaults to a few seconds.

use dvbgate_net::Protocol;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const SAP_PORT: u16 = 9875;

/// One announced channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub name: String,
    /// Shown as the session information (`i=`): provider or description.
    pub info: Option<String>,
    /// Playlist group (VLC's `x-plgroup`).
    pub group: Option<String>,
    pub address: SocketAddr,
    pub protocol: Protocol,
    pub ttl: u8,
    /// Changes whenever anything announced changes (SDP `o=` version).
    pub version: u32,
}

/// Where announcements for a session address go.
pub fn sap_destination(session: IpAddr) -> Option<SocketAddr> {
    let ip = match session {
        IpAddr::V4(v4) if v4.octets()[0] == 239 && v4.octets()[1] == 255 => {
            IpAddr::V4(Ipv4Addr::new(239, 255, 255, 255))
        }
        IpAddr::V4(v4) if v4.is_multicast() => IpAddr::V4(Ipv4Addr::new(224, 2, 127, 254)),
        // IPv6: FF0X:0:0:0:0:0:2:7FFE in the session's own scope X.
        IpAddr::V6(v6) if v6.is_multicast() => {
            let scope = v6.segments()[0] & 0x000F;
            IpAddr::V6(Ipv6Addr::new(0xFF00 | scope, 0, 0, 0, 0, 0, 2, 0x7FFE))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, SAP_PORT))
}

/// The SDP description of a session.
pub fn sdp(session: &Session, origin: IpAddr) -> String {
    let family = if session.address.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    };
    let mut s = String::with_capacity(256);
    let id = session_id(session.address);
    // Writing to a String cannot fail.
    let _ = writeln!(s, "v=0\r");
    let _ = writeln!(s, "o=- {id} {} IN {family} {origin}\r", session.version);
    let _ = writeln!(s, "s={}\r", one_line(&session.name));
    if let Some(info) = &session.info {
        let _ = writeln!(s, "i={}\r", one_line(info));
    }
    match session.address.ip() {
        IpAddr::V4(ip) => {
            let _ = writeln!(s, "c=IN IP4 {ip}/{}\r", session.ttl);
        }
        IpAddr::V6(ip) => {
            let _ = writeln!(s, "c=IN IP6 {ip}\r");
        }
    }
    let _ = writeln!(s, "t=0 0\r");
    let _ = writeln!(s, "a=tool:dvbgate\r");
    let _ = writeln!(s, "a=type:broadcast\r");
    let _ = writeln!(s, "a=recvonly\r");
    if let Some(group) = &session.group {
        let _ = writeln!(s, "a=x-plgroup:{}\r", one_line(group));
    }
    match session.protocol {
        Protocol::Rtp => {
            let _ = writeln!(s, "m=video {} RTP/AVP 33\r", session.address.port());
            let _ = writeln!(s, "a=rtpmap:33 MP2T/90000\r");
        }
        Protocol::Udp => {
            let _ = writeln!(s, "m=video {} udp mpeg\r", session.address.port());
        }
    }
    s
}

/// A SAP packet announcing (or, with `delete`, withdrawing) a session.
pub fn packet(session: &Session, origin: IpAddr, delete: bool) -> Vec<u8> {
    let sdp = sdp(session, origin);
    let mut p = Vec::with_capacity(24 + 16 + sdp.len());
    // V=1, A=address type (0 IPv4, 1 IPv6), R=0, T=message type, E=0, C=0.
    let address_type = u8::from(origin.is_ipv6());
    p.push(0x20 | address_type << 4 | u8::from(delete) << 2);
    p.push(0); // no authentication data
    p.extend_from_slice(&message_hash(session).to_be_bytes());
    match origin {
        IpAddr::V4(v4) => p.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => p.extend_from_slice(&v6.octets()),
    }
    p.extend_from_slice(b"application/sdp\0");
    p.extend_from_slice(sdp.as_bytes());
    p
}

/// A number that identifies the session across announcements: its address and port.
fn session_id(address: SocketAddr) -> u64 {
    let ip = match address.ip() {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => (u128::from(v6) as u64) ^ ((u128::from(v6) >> 64) as u64),
    };
    ip << 16 | u64::from(address.port())
}

/// The message id hash changes with the announced content (RFC 2974 §5).
fn message_hash(session: &Session) -> u16 {
    let mut h: u32 = 2_166_136_261;
    let id = session_id(session.address);
    for b in id
        .to_be_bytes()
        .iter()
        .chain(session.version.to_be_bytes().iter())
    {
        h = (h ^ u32::from(*b)).wrapping_mul(16_777_619);
    }
    (h ^ (h >> 16)) as u16 | 1 // zero means "no hash"
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            name: "Télé Quatre".into(),
            info: Some("dvbgate".into()),
            group: Some("TV".into()),
            address: "239.255.1.4:5000".parse().unwrap(),
            protocol: Protocol::Udp,
            ttl: 1,
            version: 3,
        }
    }

    #[test]
    fn sdp_is_what_players_parse() {
        let text = sdp(&session(), "192.168.1.10".parse().unwrap());
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], "v=0");
        assert!(lines[1].starts_with("o=- ") && lines[1].ends_with(" 3 IN IP4 192.168.1.10"));
        assert_eq!(lines[2], "s=Télé Quatre");
        assert!(lines.contains(&"c=IN IP4 239.255.1.4/1"));
        assert!(lines.contains(&"m=video 5000 udp mpeg"));
        assert!(lines.contains(&"a=x-plgroup:TV"));
        let rtp = Session {
            protocol: Protocol::Rtp,
            ..session()
        };
        assert!(sdp(&rtp, "10.0.0.1".parse().unwrap()).contains("m=video 5000 RTP/AVP 33\r\n"));
    }

    #[test]
    fn sap_header_and_destinations() {
        let p = packet(&session(), "10.1.2.3".parse().unwrap(), false);
        assert_eq!(p[0], 0x20);
        assert_eq!(p[1], 0);
        assert_eq!(&p[4..8], &[10, 1, 2, 3]);
        assert!(p[8..].starts_with(b"application/sdp\0v=0\r\n"));
        let d = packet(&session(), "10.1.2.3".parse().unwrap(), true);
        assert_eq!(d[0], 0x24);
        assert_eq!(&p[2..4], &d[2..4], "same session, same hash");
        let newer = Session {
            version: 4,
            ..session()
        };
        assert_ne!(
            &packet(&newer, "10.1.2.3".parse().unwrap(), false)[2..4],
            &p[2..4]
        );
        assert_eq!(
            sap_destination("239.255.1.4".parse().unwrap()),
            Some("239.255.255.255:9875".parse().unwrap())
        );
        assert_eq!(
            sap_destination("233.1.1.1".parse().unwrap()),
            Some("224.2.127.254:9875".parse().unwrap())
        );
        assert_eq!(
            sap_destination("ff15::1".parse().unwrap()),
            Some("[ff05::2:7ffe]:9875".parse().unwrap())
        );
        assert_eq!(sap_destination("10.0.0.1".parse().unwrap()), None);
    }
}
