//! Stream addresses: `udp://[source@]address:port[?options]` and `rtp://…`.
//!
//! The `@` follows VLC: `udp://@239.1.1.1:5000` receives a group from any source,
//! `udp://10.0.0.1@232.1.1.1:5000` from one source only (SSM), `udp://@:5000` receives
//! unicast on every address. For outputs the address is the destination and `@` is
//! optional. Options: `iface=NAME` (or `ifaddr=IP`) picks the interface, `ttl=N`, `dscp=N`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Transport stream packets straight in UDP datagrams.
    Udp,
    /// With an RTP header (RFC 3550; payload type 33, RFC 2250).
    Rtp,
}

impl Protocol {
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Rtp => "rtp",
        }
    }
}

/// A parsed stream address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamUrl {
    pub protocol: Protocol,
    /// Source filter for source-specific multicast.
    pub source: Option<IpAddr>,
    /// The group, unicast address, or (receiving) local address; unspecified = any.
    pub address: SocketAddr,
    pub interface: Option<String>,
    pub ttl: Option<u8>,
    pub dscp: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream address {url:?}: {reason}")]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl StreamUrl {
    pub fn parse(url: &str) -> Result<StreamUrl, UrlError> {
        let err = |reason: &str| UrlError {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("expected udp://… or rtp://…"))?;
        let protocol = match scheme.to_ascii_lowercase().as_str() {
            "udp" => Protocol::Udp,
            "rtp" => Protocol::Rtp,
            _ => return Err(err("the scheme must be udp or rtp")),
        };
        let (hostpart, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (source, addr) = match hostpart.split_once('@') {
            Some(("", addr)) => (None, addr),
            Some((src, addr)) => {
                let src = src.trim_start_matches('[').trim_end_matches(']');
                let ip: IpAddr = src
                    .parse()
                    .map_err(|_| err("the source before @ is not an IP address"))?;
                (Some(ip), addr)
            }
            None => (None, hostpart),
        };
        let address = parse_socket_addr(addr)
            .ok_or_else(|| err("expected ADDRESS:PORT (IPv6 in brackets)"))?;
        if address.port() == 0 {
            return Err(err("the port must not be 0"));
        }
        if let Some(src) = source {
            if !address.ip().is_multicast() {
                return Err(err(
                    "a source (SSM) only makes sense with a multicast group",
                ));
            }
            if src.is_ipv4() != address.is_ipv4() {
                return Err(err("source and group must both be IPv4 or both IPv6"));
            }
        }
        let mut parsed = StreamUrl {
            protocol,
            source,
            address,
            interface: None,
            ttl: None,
            dscp: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| err("options are key=value"))?;
            match key {
                "iface" | "ifaddr" | "localaddr" => parsed.interface = Some(value.to_string()),
                "ttl" => parsed.ttl = Some(value.parse().map_err(|_| err("ttl must be 0..255"))?),
                "dscp" => {
                    let d: u8 = value.parse().map_err(|_| err("dscp must be 0..63"))?;
                    if d > 63 {
                        return Err(err("dscp must be 0..63"));
                    }
                    parsed.dscp = Some(d);
                }
                _ => return Err(err(&format!("unknown option {key:?}"))),
            }
        }
        Ok(parsed)
    }

    pub fn is_multicast(&self) -> bool {
        self.address.ip().is_multicast()
    }
}

/// `host:port`, `:port` (any address), `[v6]:port`.
fn parse_socket_addr(s: &str) -> Option<SocketAddr> {
    if let Some(port) = s.strip_prefix(':') {
        return Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port.parse().ok()?,
        ));
    }
    s.parse().ok()
}

/// The form we print and what VLC and ffplay accept: `udp://@239.255.1.1:5000`.
impl fmt::Display for StreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.protocol.scheme())?;
        match (self.source, self.is_multicast()) {
            (Some(src), _) if src.is_ipv6() => write!(f, "[{src}]@")?,
            (Some(src), _) => write!(f, "{src}@")?,
            (None, true) => f.write_str("@")?,
            (None, false) => {}
        }
        write!(f, "{}", self.address)?;
        let mut sep = '?';
        if let Some(i) = &self.interface {
            write!(f, "{sep}iface={i}")?;
            sep = '&';
        }
        if let Some(t) = self.ttl {
            write!(f, "{sep}ttl={t}")?;
            sep = '&';
        }
        if let Some(d) = self.dscp {
            write!(f, "{sep}dscp={d}")?;
        }
        Ok(())
    }
}

/// Formats an output address the way players want it.
pub fn display_output(protocol: Protocol, address: SocketAddr) -> String {
    StreamUrl {
        protocol,
        source: None,
        address,
        interface: None,
        ttl: None,
        dscp: None,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlc_forms() {
        let u = StreamUrl::parse("udp://@239.1.1.1:1234").unwrap();
        assert_eq!(
            (u.protocol, u.source, u.address.to_string()),
            (Protocol::Udp, None, "239.1.1.1:1234".into())
        );
        assert_eq!(u.to_string(), "udp://@239.1.1.1:1234");
        let ssm =
            StreamUrl::parse("rtp://10.0.0.1@232.1.2.3:5000?iface=eth1&ttl=4&dscp=34").unwrap();
        assert_eq!(ssm.source, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(
            (ssm.interface.as_deref(), ssm.ttl, ssm.dscp),
            (Some("eth1"), Some(4), Some(34))
        );
        assert_eq!(
            ssm.to_string(),
            "rtp://10.0.0.1@232.1.2.3:5000?iface=eth1&ttl=4&dscp=34"
        );
        let any = StreamUrl::parse("udp://@:5000").unwrap();
        assert!(any.address.ip().is_unspecified());
        let v6 = StreamUrl::parse("udp://@[ff15::1]:5000").unwrap();
        assert!(v6.is_multicast());
        assert_eq!(v6.to_string(), "udp://@[ff15::1]:5000");
        assert_eq!(
            StreamUrl::parse("udp://127.0.0.1:7000")
                .unwrap()
                .to_string(),
            "udp://127.0.0.1:7000"
        );
    }

    #[test]
    fn clear_errors() {
        for (bad, why) in [
            ("http://x:1", "scheme"),
            ("udp://239.1.1.1", "ADDRESS:PORT"),
            ("udp://@239.1.1.1:0", "port"),
            ("udp://1.2.3.4@10.0.0.1:5000", "multicast"),
            ("udp://@239.1.1.1:5000?dscp=99", "dscp"),
            ("udp://@239.1.1.1:5000?bogus=1", "unknown option"),
            ("udp://nonsense@239.1.1.1:5000", "source"),
        ] {
            let e = StreamUrl::parse(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
