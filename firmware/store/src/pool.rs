//! Address pool (`Ipv4Cidr`) and the "lowest free" allocation of output addresses and
//! channel numbers for new channels.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::StoreError;
use crate::model::{MAX_CHANNEL_NUMBER, validate_output_address};

/// An IPv4 network in CIDR notation, `a.b.c.d/n`, with the host bits zero.
/// Serialised as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The network `network/prefix`; refuses a prefix above 32 or host bits set
    /// (`239.255.1.7/24` is almost always a typo for `239.255.1.0/24`).
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Self, StoreError> {
        if prefix > 32 {
            return Err(StoreError::Invalid(format!(
                "prefix length /{prefix} is larger than 32"
            )));
        }
        let masked = Ipv4Addr::from(u32::from(network) & mask(prefix));
        if masked != network {
            return Err(StoreError::Invalid(format!(
                "{network}/{prefix} has host bits set; did you mean {masked}/{prefix}?"
            )));
        }
        Ok(Ipv4Cidr { network, prefix })
    }

    /// First address of the network (all host bits zero).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// Prefix length, 0..=32.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `address` lies in this network.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix) == u32::from(self.network)
    }

    /// Every address of the network, network and broadcast address included.
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + use<> {
        let first = u32::from(self.network);
        let last = first | !mask(self.prefix);
        (first..=last).map(Ipv4Addr::from)
    }

    /// The addresses new channels may get: the network's addresses minus those whose
    /// last octet is 0 or 255 (receivers and switches handle them badly even in
    /// multicast ranges) and minus addresses an output may never use (224.0.0.0/24).
    pub fn usable_addresses(&self) -> impl Iterator<Item = Ipv4Addr> + use<> {
        self.addresses().filter(|address| {
            let last_octet = address.octets()[3];
            last_octet != 0
                && last_octet != 255
                && validate_output_address(SocketAddr::new(IpAddr::V4(*address), 1)).is_ok()
        })
    }
}

fn mask(prefix: u8) -> u32 {
    // checked_shl: a shift by 32 (prefix 0) overflows.
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        let invalid = || {
            StoreError::Invalid(format!(
                "{text:?} is not an IPv4 network in CIDR notation like 239.255.1.0/24"
            ))
        };
        let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let address: Ipv4Addr = address.parse().map_err(|_| invalid())?;
        // u8::from_str accepts a leading '+'; a prefix is plain digits.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        Ipv4Cidr::new(address, prefix)
    }
}

impl Serialize for Ipv4Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The lowest usable pool address whose IP no channel uses yet, at `port`.
///
/// A group counts as used whatever port its channel sends to: receivers join groups,
/// not ports, so two channels in one group would both reach every set-top box that
/// tunes either of them.
pub fn lowest_free_address(
    pool: Ipv4Cidr,
    port: u16,
    used: &HashSet<IpAddr>,
) -> Result<SocketAddr, StoreError> {
    pool.usable_addresses()
        .find(|address| !used.contains(&IpAddr::V4(*address)))
        .map(|address| SocketAddr::new(IpAddr::V4(address), port))
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "the address pool {pool} is exhausted: all {} usable addresses are in use; \
                 widen the pool in the settings or give the channel an explicit address",
                pool.usable_addresses().count()
            ))
        })
}

/// The lowest channel number ≥ 1 that is not in `used`.
pub fn lowest_free_number(used: &BTreeSet<u16>) -> Result<u16, StoreError> {
    (1..=MAX_CHANNEL_NUMBER)
        .find(|number| !used.contains(number))
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "all channel numbers 1..={MAX_CHANNEL_NUMBER} are in use"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Ipv4Cidr {
        text.parse().expect("valid CIDR in test")
    }

    #[test]
    fn parses_and_displays() {
        let pool = cidr("239.255.1.0/24");
        assert_eq!(pool.network(), Ipv4Addr::new(239, 255, 1, 0));
        assert_eq!(pool.prefix(), 24);
        assert_eq!(pool.to_string(), "239.255.1.0/24");
        let everything = cidr("0.0.0.0/0");
        assert!(everything.contains(Ipv4Addr::BROADCAST));
        assert_eq!(cidr("10.1.2.3/32").addresses().count(), 1);
    }

    #[test]
    fn refuses_malformed_text() {
        for text in [
            "239.255.1.0",
            "239.255.1.0/",
            "239.255.1.0/33",
            "239.255.1/24",
            "x/24",
            "239.255.1.0/+24",
            "239.255.1.0/24 ",
        ] {
            assert!(
                matches!(text.parse::<Ipv4Cidr>(), Err(StoreError::Invalid(_))),
                "{text}"
            );
        }
        let error = "239.255.1.7/24"
            .parse::<Ipv4Cidr>()
            .expect_err("host bits set");
        assert!(
            error.to_string().contains("did you mean 239.255.1.0/24"),
            "{error}"
        );
    }

    #[test]
    fn serde_as_string() {
        let pool = cidr("239.255.0.0/16");
        let json = serde_json::to_string(&pool).expect("serialize");
        assert_eq!(json, "\"239.255.0.0/16\"");
        assert_eq!(
            serde_json::from_str::<Ipv4Cidr>(&json).expect("deserialize"),
            pool
        );
        assert!(serde_json::from_str::<Ipv4Cidr>("\"239.255.0.1/16\"").is_err());
    }

    #[test]
    fn contains() {
        let pool = cidr("239.255.1.0/24");
        assert!(pool.contains(Ipv4Addr::new(239, 255, 1, 200)));
        assert!(!pool.contains(Ipv4Addr::new(239, 255, 2, 1)));
    }

    #[test]
    fn usable_addresses_skip_octets_0_and_255_and_the_control_block() {
        let pool = cidr("239.255.0.0/23");
        let usable: Vec<_> = pool.usable_addresses().collect();
        assert_eq!(usable.len(), 2 * 254);
        assert_eq!(usable[0], Ipv4Addr::new(239, 255, 0, 1));
        assert_eq!(usable[253], Ipv4Addr::new(239, 255, 0, 254));
        assert_eq!(usable[254], Ipv4Addr::new(239, 255, 1, 1));

        // 224.0.0.0/24 is link-local control traffic, never an output.
        let low = cidr("224.0.0.0/23");
        assert_eq!(
            low.usable_addresses().next(),
            Some(Ipv4Addr::new(224, 0, 1, 1))
        );
    }

    #[test]
    fn lowest_free_address_takes_the_first_gap_and_reports_exhaustion() {
        let pool = cidr("239.255.1.0/30"); // .0 .1 .2 .3 → usable .1 .2 .3
        let mut used = HashSet::new();
        let first = lowest_free_address(pool, 5000, &used).expect("free");
        assert_eq!(first, "239.255.1.1:5000".parse().expect("addr"));
        used.insert(first.ip());
        used.insert("239.255.1.3".parse().expect("ip"));
        let second = lowest_free_address(pool, 5000, &used).expect("free");
        assert_eq!(second, "239.255.1.2:5000".parse().expect("addr"));
        used.insert(second.ip());
        let error = lowest_free_address(pool, 5000, &used).expect_err("exhausted");
        assert!(matches!(error, StoreError::Conflict(_)));
        assert!(
            error
                .to_string()
                .contains("pool 239.255.1.0/30 is exhausted"),
            "{error}"
        );
        assert!(error.to_string().contains("all 3 usable"), "{error}");
    }

    #[test]
    fn lowest_free_number_fills_gaps() {
        let mut used = BTreeSet::from([1, 2, 4]);
        assert_eq!(lowest_free_number(&used).expect("free"), 3);
        used.insert(3);
        assert_eq!(lowest_free_number(&used).expect("free"), 5);
        let all: BTreeSet<u16> = (1..=MAX_CHANNEL_NUMBER).collect();
        assert!(matches!(
            lowest_free_number(&all),
            Err(StoreError::Conflict(_))
        ));
    }
}
