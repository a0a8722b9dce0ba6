//! Network interfaces by name or address: multicast joins want an index (or, for IPv4 SSM,
//! an address); technicians type names like `eth0`.

use nix::ifaddrs::getifaddrs;
use nix::net::if_::if_nametoindex;
use std::net::{IpAddr, Ipv4Addr};

/// An interface we resolved, with what the socket options need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub ipv4: Option<Ipv4Addr>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("network interface {given:?}: {reason}")]
pub struct InterfaceError {
    pub given: String,
    pub reason: String,
}

/// Resolves a name (`eth0`, `lo`) or an address assigned to a local interface.
pub fn resolve(given: &str) -> Result<Interface, InterfaceError> {
    let err = |reason: String| InterfaceError {
        given: given.to_string(),
        reason,
    };
    let addrs: Vec<_> = getifaddrs()
        .map_err(|e| err(format!("cannot list interfaces: {e}")))?
        .collect();
    let by_address: Option<IpAddr> = given.parse().ok();
    let name = match by_address {
        Some(ip) => addrs
            .iter()
            .find(|a| a.address.as_ref().and_then(sockaddr_ip) == Some(ip))
            .map(|a| a.interface_name.clone())
            .ok_or_else(|| err("no local interface has this address".into()))?,
        None => given.to_string(),
    };
    let index = if_nametoindex(name.as_str()).map_err(|_| err("no such interface".into()))?;
    let ipv4 = match by_address {
        Some(IpAddr::V4(v4)) => Some(v4),
        _ => addrs
            .iter()
            .filter(|a| a.interface_name == name)
            .find_map(|a| match a.address.as_ref().and_then(sockaddr_ip) {
                Some(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            }),
    };
    Ok(Interface { name, index, ipv4 })
}

fn sockaddr_ip(s: &nix::sys::socket::SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_name_and_address() {
        let lo = resolve("lo").unwrap();
        assert!(lo.index > 0);
        assert_eq!(lo.ipv4, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(resolve("127.0.0.1").unwrap().name, "lo");
        let e = resolve("no-such-if0").unwrap_err();
        assert!(e.to_string().contains("no such interface"));
        assert!(resolve("192.0.2.123").is_err());
    }
}
