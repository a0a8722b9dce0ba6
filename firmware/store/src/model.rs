//! The configuration records (as the API and the daemon see them, and as they are
//! stored: JSON), the requests that create and change them, and their validation.
//!
//! Validation lives here, next to the types, so that every way into the store (API,
//! migration, tests) applies the same rules.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use dvbgate_ts::text::Charset;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::StoreError;
use crate::pool::Ipv4Cidr;

/// Highest channel number; four digits is what remote controls and EPG grids show.
pub const MAX_CHANNEL_NUMBER: u16 = 9999;
/// Longest input or channel name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest input URL, in bytes.
pub const MAX_URL_BYTES: usize = 1024;
/// Most elementary-stream filters one channel may carry; far above any real need,
/// it only keeps a record from growing without bound.
pub const MAX_ES_FILTERS: usize = 64;
/// Highest DSCP value (6 bits).
pub const MAX_DSCP: u8 = 63;
/// Most 188-byte TS packets in one datagram: 7 × 188 = 1316 bytes fits an Ethernet
/// MTU of 1500 with IP, UDP and RTP headers.
pub const MAX_PACKETS_PER_DATAGRAM: u8 = 7;
/// Highest MPEG-TS PID (13 bits).
pub const MAX_PID: u16 = 0x1FFF;
/// Longest XMLTV channel id a channel may take its guide from, in characters.
pub const MAX_XMLTV_ID_CHARS: usize = 128;
/// Most charset rules; one per network or service is already generous.
pub const MAX_CHARSET_RULES: usize = 256;
/// Most XMLTV sources; each is fetched and parsed on its own schedule.
pub const MAX_XMLTV_SOURCES: usize = 16;
/// Longest refresh period of an XMLTV source, in hours (a week).
pub const MAX_REFRESH_HOURS: u32 = 168;
/// Longest period between two snapshots of the guide to disk, in hours.
pub const MAX_SNAPSHOT_HOURS: u32 = 48;

/// Settings shared by all channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Interface for multicast outputs (name like "eth0" or an IPv4 address of the
    /// box); None (the default) = the kernel's choice by routing table.
    pub multicast_interface: Option<String>,
    /// Pool new channels get their group from, an IPv4 multicast network with prefix
    /// /16 to /30. Default 239.255.1.0/24 (organisation-local scope).
    pub pool: Ipv4Cidr,
    /// Destination port of channels that get a pool address. Default 5000.
    pub base_port: u16,
    /// Multicast TTL of outputs without an override. Default 1: a hotel LAN is one
    /// subnet, and a TTL of 1 keeps the streams from leaking through a router.
    pub ttl: u8,
    /// DSCP of outputs without an override, 0..=63. Default 0 (best effort).
    pub dscp: u8,
    /// Announce channels with SAP/SDP. Default true.
    pub sap: bool,
    /// TS packets per datagram, 1..=7. Default 7 (1316 bytes, fits an Ethernet MTU).
    pub packets_per_datagram: u8,
    /// Programme guide: text decoding fixes, imported XMLTV sources, snapshots.
    /// Settings stored before it existed read with its defaults.
    pub epg: EpgSettings,
}

/// Settings of the programme guide (EPG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpgSettings {
    /// Which character table to read a broadcaster's text with when it sends none (or,
    /// with `force`, a wrong one). The most specific rule wins: one naming the service
    /// before one for the whole network.
    pub charsets: Vec<CharsetRule>,
    /// XMLTV guides to import, for channels whose broadcast guide is missing or poor
    /// (a channel takes one by its `xmltv_id`).
    pub xmltv_sources: Vec<XmltvSource>,
    /// How often the guide is written to disk so that a restart does not start empty,
    /// 1..=48 hours. Default 6.
    pub snapshot_hours: u32,
}

impl Default for EpgSettings {
    fn default() -> Self {
        EpgSettings {
            charsets: Vec::new(),
            xmltv_sources: Vec::new(),
            snapshot_hours: 6,
        }
    }
}

/// A character-table fix for the text of one network or one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharsetRule {
    /// The network (original_network_id of the SDT/EIT) the rule is for.
    pub original_network_id: u16,
    /// One service of that network; None (the default) = all of them.
    #[serde(default)]
    pub service_id: Option<u16>,
    /// The table to read text without a selector byte with.
    pub charset: Charset,
    /// Also ignore a selector byte the broadcaster does send (it lies). Default false.
    #[serde(default)]
    pub force: bool,
}

/// An XMLTV guide to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmltvSource {
    /// `file:///path/guide.xml` or `http://host/guide.xml`. Not https: the box carries
    /// no TLS stack (a LAN proxy or a file fetched by cron covers HTTPS sources).
    pub url: String,
    /// Hours between two fetches, 1..=168. Default 12.
    #[serde(default = "default_refresh_hours")]
    pub refresh_hours: u32,
}

fn default_refresh_hours() -> u32 {
    12
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            multicast_interface: None,
            pool: Ipv4Cidr::new(Ipv4Addr::new(239, 255, 1, 0), 24)
                .expect("239.255.1.0/24 is a well-formed network"),
            base_port: 5000,
            ttl: 1,
            dscp: 0,
            sap: true,
            packets_per_datagram: MAX_PACKETS_PER_DATAGRAM,
            epg: EpgSettings::default(),
        }
    }
}

/// A source of transport streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Assigned by the store, never reused.
    pub id: u32,
    /// Shown in the UI; 1..=128 characters, no control characters.
    pub name: String,
    /// Where the stream comes from, e.g. `file:///data/mux.ts`, `udp://@239.1.1.1:1234`,
    /// `rtp://10.0.0.1@232.1.1.1:5000?iface=eth1`. The store only checks that it is
    /// non-empty and at most 1024 bytes; the inputs crate parses it.
    pub url: String,
    /// Whether the daemon receives this input.
    pub enabled: bool,
    /// Whether the daemon creates channels for services it discovers in the input.
    pub auto_channels: bool,
}

/// One service of an input, sent to one output address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Assigned by the store, never reused.
    pub id: u32,
    /// The input the service comes from.
    pub input_id: u32,
    /// MPEG program number of the service in the input's PAT (1..=65535).
    pub service_id: u16,
    /// Channel number shown to guests, 1..=9999, unique.
    pub number: u16,
    /// Channel name (SAP/SDP, UI); 1..=128 characters, no control characters.
    pub name: String,
    /// Whether the daemon sends this channel.
    pub enabled: bool,
    /// Where and how the channel is sent.
    pub output: OutputConfig,
    /// Remove CA descriptors from the PMT (for descrambled services that still
    /// announce their conditional access, which confuses some TVs).
    pub strip_ca: bool,
    /// Elementary streams to leave out.
    pub strip_es: Vec<EsFilter>,
    /// The category (XC API, M3U group) the channel is listed under; None = by service
    /// type ([`crate::CATEGORY_TV`] or [`crate::CATEGORY_RADIO`]). Must exist.
    #[serde(default)]
    pub category_id: Option<u32>,
    /// The channel id in an imported XMLTV source whose guide this channel takes
    /// instead of the broadcast one; 1..=128 characters, no control characters.
    #[serde(default)]
    pub xmltv_id: Option<String>,
    /// When the channel was created (unix seconds); 0 for channels created before the
    /// store recorded it.
    #[serde(default)]
    pub created_at: i64,
    /// Whether the channel is offered over HLS (`/hls/N/…`). Off, no segmenter runs
    /// for it and its HLS URLs answer 404; multicast and HTTP TS are not affected.
    /// Default true; records written before schema 5 read as true.
    #[serde(default = "default_true")]
    pub hls: bool,
}

impl ChannelConfig {
    /// How messages refer to the channel: `channel 3 "Arte" (id 7)`.
    pub fn describe(&self) -> String {
        format!("channel {} {:?} (id {})", self.number, self.name, self.id)
    }
}

/// Output of a channel: destination and per-output overrides of [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Destination, multicast group or unicast host; unique across channels.
    pub address: SocketAddr,
    /// UDP (plain TS) or RTP.
    pub protocol: Protocol,
    /// Whether the channel is sent to `address` all the time (the TVs' multicast). Off,
    /// the address stays reserved and the channel runs only while HLS or HTTP clients
    /// watch it (a tuner input is then tuned on demand). Default true; records written
    /// before this setting existed read as true.
    #[serde(default = "default_true")]
    pub multicast: bool,
    /// TTL override, 1..=255; None = `Settings::ttl`.
    #[serde(default)]
    pub ttl: Option<u8>,
    /// DSCP override, 0..=63; None = `Settings::dscp`.
    #[serde(default)]
    pub dscp: Option<u8>,
    /// Interface override (name or IPv4 address); None = `Settings::multicast_interface`.
    #[serde(default)]
    pub interface: Option<String>,
}

/// Encapsulation of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TS packets directly in UDP datagrams (the default).
    #[default]
    Udp,
    /// TS packets in RTP (RFC 2250) over UDP.
    Rtp,
}

/// Which elementary streams to leave out of a channel.
/// JSON: `{"pid": 256}`, `{"stream_type": 6}`, `{"language": "qad"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EsFilter {
    /// The stream on this PID (0..=0x1FFF).
    Pid(u16),
    /// All streams of this PMT stream_type.
    StreamType(u8),
    /// All streams whose ISO 639 language descriptor has this 3-letter code
    /// (e.g. "qad" for audio description).
    Language(String),
}

/// A request to create an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInput {
    /// See [`InputConfig::name`].
    pub name: String,
    /// See [`InputConfig::url`].
    pub url: String,
    /// Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Default false.
    #[serde(default)]
    pub auto_channels: bool,
}

/// A request to create a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// Must name an existing input.
    pub input_id: u32,
    /// See [`ChannelConfig::service_id`].
    pub service_id: u16,
    /// Default (None): the lowest free number ≥ 1.
    #[serde(default)]
    pub number: Option<u16>,
    /// See [`ChannelConfig::name`].
    pub name: String,
    /// Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Default (None): the lowest free address of `Settings::pool` at
    /// `Settings::base_port`.
    #[serde(default)]
    pub address: Option<SocketAddr>,
    /// Default UDP.
    #[serde(default)]
    pub protocol: Protocol,
    /// See [`OutputConfig::multicast`]. Default true.
    #[serde(default = "default_true")]
    pub multicast: bool,
    /// Default false.
    #[serde(default)]
    pub strip_ca: bool,
    /// Default empty.
    #[serde(default)]
    pub strip_es: Vec<EsFilter>,
    /// Default None (use the settings).
    #[serde(default)]
    pub ttl: Option<u8>,
    /// Default None (use the settings).
    #[serde(default)]
    pub dscp: Option<u8>,
    /// Default None (use the settings).
    #[serde(default)]
    pub interface: Option<String>,
    /// See [`ChannelConfig::category_id`]. Default None (by service type).
    #[serde(default)]
    pub category_id: Option<u32>,
    /// See [`ChannelConfig::xmltv_id`]. Default None.
    #[serde(default)]
    pub xmltv_id: Option<String>,
    /// See [`ChannelConfig::hls`]. Default true.
    #[serde(default = "default_true")]
    pub hls: bool,
}

/// Input 0, service 0, empty name: not a valid request by itself, but the base of
/// `NewChannel { input_id, service_id, name, ..Default::default() }`.
impl Default for NewChannel {
    fn default() -> Self {
        NewChannel::new(0, 0, String::new())
    }
}

impl NewChannel {
    /// A request with every optional field at its default.
    pub fn new(input_id: u32, service_id: u16, name: impl Into<String>) -> Self {
        NewChannel {
            input_id,
            service_id,
            number: None,
            name: name.into(),
            enabled: true,
            address: None,
            protocol: Protocol::Udp,
            multicast: true,
            strip_ca: false,
            strip_es: Vec::new(),
            ttl: None,
            dscp: None,
            interface: None,
            category_id: None,
            xmltv_id: None,
            hls: true,
        }
    }

    pub(crate) fn into_config(self, id: u32, number: u16, address: SocketAddr) -> ChannelConfig {
        ChannelConfig {
            id,
            input_id: self.input_id,
            service_id: self.service_id,
            number,
            name: self.name,
            enabled: self.enabled,
            output: OutputConfig {
                address: canonical_address(address),
                protocol: self.protocol,
                multicast: self.multicast,
                ttl: self.ttl,
                dscp: self.dscp,
                interface: self.interface,
            },
            strip_ca: self.strip_ca,
            strip_es: self.strip_es,
            category_id: self.category_id,
            xmltv_id: self.xmltv_id,
            created_at: unix_now(),
            hls: self.hls,
        }
    }
}

/// A change to an input; None leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub enabled: Option<bool>,
    pub auto_channels: Option<bool>,
}

impl InputPatch {
    pub(crate) fn apply(self, input: &mut InputConfig) {
        let InputPatch {
            name,
            url,
            enabled,
            auto_channels,
        } = self;
        set(&mut input.name, name);
        set(&mut input.url, url);
        set(&mut input.enabled, enabled);
        set(&mut input.auto_channels, auto_channels);
    }
}

/// A change to a channel; None leaves a field as it is. The nullable overrides take
/// `Some(None)` (JSON `null`) to clear them, so that a client can go back to the
/// settings' value; a missing field leaves them as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelPatch {
    pub input_id: Option<u32>,
    pub service_id: Option<u16>,
    pub number: Option<u16>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub address: Option<SocketAddr>,
    pub protocol: Option<Protocol>,
    pub multicast: Option<bool>,
    pub strip_ca: Option<bool>,
    pub strip_es: Option<Vec<EsFilter>>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Option<u8>>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub dscp: Option<Option<u8>>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub interface: Option<Option<String>>,
    /// `Some(None)` (JSON `null`) goes back to the category by service type.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub category_id: Option<Option<u32>>,
    /// `Some(None)` (JSON `null`) drops the XMLTV guide.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub xmltv_id: Option<Option<String>>,
    pub hls: Option<bool>,
}

impl ChannelPatch {
    pub(crate) fn apply(self, channel: &mut ChannelConfig) {
        let ChannelPatch {
            input_id,
            service_id,
            number,
            name,
            enabled,
            address,
            protocol,
            multicast,
            strip_ca,
            strip_es,
            ttl,
            dscp,
            interface,
            category_id,
            xmltv_id,
            hls,
        } = self;
        set(&mut channel.input_id, input_id);
        set(&mut channel.service_id, service_id);
        set(&mut channel.number, number);
        set(&mut channel.name, name);
        set(&mut channel.enabled, enabled);
        set(&mut channel.output.address, address.map(canonical_address));
        set(&mut channel.output.protocol, protocol);
        set(&mut channel.output.multicast, multicast);
        set(&mut channel.strip_ca, strip_ca);
        set(&mut channel.strip_es, strip_es);
        set(&mut channel.output.ttl, ttl);
        set(&mut channel.output.dscp, dscp);
        set(&mut channel.output.interface, interface);
        set(&mut channel.category_id, category_id);
        set(&mut channel.xmltv_id, xmltv_id);
        set(&mut channel.hls, hls);
    }
}

/// Now, in unix seconds; 0 if the clock is before 1970 (a box without RTC before NTP).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

pub(crate) fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

pub(crate) fn default_true() -> bool {
    true
}

/// A field that is present deserialises to `Some(value)`, `null` included; together
/// with `#[serde(default)]` (absent = None) this tells "clear" from "leave alone".
pub(crate) fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The form an address is stored and compared in: IPv4-mapped IPv6 addresses become
/// IPv4 and the IPv6 flow label is dropped, so one destination has one index key.
pub fn canonical_address(address: SocketAddr) -> SocketAddr {
    match address {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => {
                let mut v6 = v6;
                v6.set_flowinfo(0);
                SocketAddr::V6(v6)
            }
        },
        v4 => v4,
    }
}

/// Key of an address in the `addresses` index, e.g. `239.255.1.1:5000`, `[ff15::1]:5000`.
pub fn address_key(address: SocketAddr) -> String {
    canonical_address(address).to_string()
}

/// Checks that an output may send to `address`.
pub fn validate_output_address(address: SocketAddr) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "output address {address}: {why}"
        )))
    };
    if address.port() == 0 {
        return invalid("port 0 cannot be sent to");
    }
    match canonical_address(address).ip() {
        ip if ip.is_unspecified() => invalid("the unspecified address cannot be sent to"),
        IpAddr::V4(v4) if v4.is_broadcast() => {
            invalid("the broadcast address would flood every host of the LAN")
        }
        IpAddr::V4(v4) if v4.octets()[..3] == [224, 0, 0] => invalid(
            "224.0.0.0/24 is the local network control block (routing protocols, IGMP), \
             not for streams",
        ),
        // Any other address is fine: multicast in 224.0.0.0/4 or ff00::/8, everything
        // else as a unicast destination.
        _ => Ok(()),
    }
}

/// Checks an input or channel name.
pub fn validate_name(what: &str, name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "{what} name must not be empty"
        )));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "{what} name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"
        )));
    }
    // A line break would end the SDP line the name is announced in.
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} name {name:?} contains control characters"
        )));
    }
    Ok(())
}

/// Checks an interface given by name (as Linux allows it) or by IPv4 address.
pub fn validate_interface(what: &str, interface: &str) -> Result<(), StoreError> {
    if interface.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    // The kernel's dev_valid_name(): 1..=15 bytes (IFNAMSIZ 16 with the NUL), not
    // "." or "..", no '/', ':' or whitespace.
    let valid = !interface.is_empty()
        && interface.len() < 16
        && interface != "."
        && interface != ".."
        && !interface
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace());
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what} {interface:?} is neither an interface name (like eth0, at most 15 \
             characters) nor an IPv4 address"
        )))
    }
}

/// Checks the settings.
pub fn validate_settings(settings: &Settings) -> Result<(), StoreError> {
    let invalid = |message: String| Err(StoreError::Invalid(message));
    if let Some(interface) = &settings.multicast_interface {
        validate_interface("multicast interface", interface)?;
    }
    let pool = settings.pool;
    if !pool.network().is_multicast() {
        return invalid(format!(
            "address pool {pool} is not IPv4 multicast (224.0.0.0/4)"
        ));
    }
    if !(16..=30).contains(&pool.prefix()) {
        return invalid(format!(
            "address pool {pool}: the prefix must be /16 to /30 (a /16 already holds \
             over 64000 channels, a /30 is the smallest with a usable address)"
        ));
    }
    if settings.base_port == 0 {
        return invalid("base port 0 cannot be sent to".into());
    }
    if settings.ttl == 0 {
        return invalid("TTL 0 would keep every datagram on the box; use 1..=255".into());
    }
    if settings.dscp > MAX_DSCP {
        return invalid(format!(
            "DSCP {} is out of range 0..={MAX_DSCP}",
            settings.dscp
        ));
    }
    if !(1..=MAX_PACKETS_PER_DATAGRAM).contains(&settings.packets_per_datagram) {
        return invalid(format!(
            "{} packets per datagram: use 1..={MAX_PACKETS_PER_DATAGRAM} (7 × 188 bytes \
             is the most an Ethernet MTU of 1500 holds)",
            settings.packets_per_datagram
        ));
    }
    validate_epg_settings(&settings.epg)
}

/// Checks the EPG settings.
pub fn validate_epg_settings(epg: &EpgSettings) -> Result<(), StoreError> {
    let invalid = |message: String| Err(StoreError::Invalid(message));
    if epg.charsets.len() > MAX_CHARSET_RULES {
        return invalid(format!(
            "{} EPG charset rules; at most {MAX_CHARSET_RULES} are allowed",
            epg.charsets.len()
        ));
    }
    for (index, rule) in epg.charsets.iter().enumerate() {
        let target = match rule.service_id {
            Some(service_id) => format!(
                "network {:#06x}, service {service_id}",
                rule.original_network_id
            ),
            None => format!("network {:#06x}", rule.original_network_id),
        };
        if !rule.charset.is_valid() {
            return invalid(format!(
                "EPG charset rule for {target}: {:?} is not a character table (ISO 8859 \
                 has parts 1..=15 without 12)",
                rule.charset
            ));
        }
        let earlier = &epg.charsets[..index];
        if earlier.iter().any(|other| {
            other.original_network_id == rule.original_network_id
                && other.service_id == rule.service_id
        }) {
            return invalid(format!(
                "EPG charsets: there are two rules for {target}; keep one"
            ));
        }
    }
    if epg.xmltv_sources.len() > MAX_XMLTV_SOURCES {
        return invalid(format!(
            "{} XMLTV sources; at most {MAX_XMLTV_SOURCES} are allowed",
            epg.xmltv_sources.len()
        ));
    }
    for (index, source) in epg.xmltv_sources.iter().enumerate() {
        validate_xmltv_url(&source.url)?;
        if !(1..=MAX_REFRESH_HOURS).contains(&source.refresh_hours) {
            return invalid(format!(
                "XMLTV source {:?}: refresh_hours {} is out of range 1..={MAX_REFRESH_HOURS}",
                source.url, source.refresh_hours
            ));
        }
        if epg.xmltv_sources[..index]
            .iter()
            .any(|other| other.url == source.url)
        {
            return invalid(format!("XMLTV source {:?} is listed twice", source.url));
        }
    }
    if !(1..=MAX_SNAPSHOT_HOURS).contains(&epg.snapshot_hours) {
        return invalid(format!(
            "EPG snapshot_hours {} is out of range 1..={MAX_SNAPSHOT_HOURS}",
            epg.snapshot_hours
        ));
    }
    Ok(())
}

/// Checks the URL of an XMLTV source: `file:///absolute/path` or `http://host[:port]/…`.
pub fn validate_xmltv_url(url: &str) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "XMLTV source url {url:?}: {why}"
        )))
    };
    if url.len() > MAX_URL_BYTES {
        return invalid(&format!("longer than {MAX_URL_BYTES} bytes"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return invalid("contains spaces or control characters");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return invalid("use file:///path/guide.xml or http://host/guide.xml");
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" if rest.starts_with('/') && rest.len() > 1 => Ok(()),
        "file" => invalid("a file URL needs an absolute path: file:///path/guide.xml"),
        "http" => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if host.is_empty() || host.starts_with(':') {
                invalid("the URL has no host")
            } else {
                Ok(())
            }
        }
        "https" => invalid(
            "https is not supported (the box has no TLS client); fetch the guide to a file \
             or use an http:// proxy on the LAN",
        ),
        _ => invalid("use file:///path/guide.xml or http://host/guide.xml"),
    }
}

/// Checks an input record.
pub fn validate_input(input: &InputConfig) -> Result<(), StoreError> {
    validate_name("input", &input.name)?;
    if input.url.trim().is_empty() {
        return Err(StoreError::Invalid("input URL must not be empty".into()));
    }
    if input.url.len() > MAX_URL_BYTES {
        return Err(StoreError::Invalid(format!(
            "input URL is {} bytes long; at most {MAX_URL_BYTES} are allowed",
            input.url.len()
        )));
    }
    Ok(())
}

/// Checks a channel record on its own (uniqueness is the store's job).
pub fn validate_channel(channel: &ChannelConfig) -> Result<(), StoreError> {
    let invalid = |message: String| Err(StoreError::Invalid(message));
    validate_name("channel", &channel.name)?;
    if !(1..=MAX_CHANNEL_NUMBER).contains(&channel.number) {
        return invalid(format!(
            "channel number {} is out of range 1..={MAX_CHANNEL_NUMBER}",
            channel.number
        ));
    }
    if channel.service_id == 0 {
        return invalid("service id 0 is not a service (it marks the NIT in the PAT)".into());
    }
    let output = &channel.output;
    validate_output_address(output.address)?;
    if output.ttl == Some(0) {
        return invalid("TTL 0 would keep every datagram on the box; use 1..=255".into());
    }
    if let Some(dscp) = output.dscp.filter(|dscp| *dscp > MAX_DSCP) {
        return invalid(format!("DSCP {dscp} is out of range 0..={MAX_DSCP}"));
    }
    if let Some(interface) = &output.interface {
        validate_interface("output interface", interface)?;
    }
    if channel.strip_es.len() > MAX_ES_FILTERS {
        return invalid(format!(
            "{} stream filters; at most {MAX_ES_FILTERS} are allowed",
            channel.strip_es.len()
        ));
    }
    for filter in &channel.strip_es {
        match filter {
            EsFilter::Pid(pid) if *pid > MAX_PID => {
                return invalid(format!("PID {pid} is out of range 0..={MAX_PID}"));
            }
            EsFilter::Language(code)
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                return invalid(format!(
                    "language {code:?} is not a 3-letter ISO 639 code like \"eng\" or \"qad\""
                ));
            }
            _ => {}
        }
    }
    if let Some(xmltv_id) = &channel.xmltv_id {
        validate_xmltv_id(xmltv_id)?;
    }
    Ok(())
}

/// Checks the XMLTV channel id a channel takes its guide from.
pub fn validate_xmltv_id(xmltv_id: &str) -> Result<(), StoreError> {
    let invalid = |why: String| Err(StoreError::Invalid(format!("xmltv_id {xmltv_id:?}: {why}")));
    if xmltv_id.trim().is_empty() {
        return invalid("must not be empty (null removes it)".into());
    }
    let chars = xmltv_id.chars().count();
    if chars > MAX_XMLTV_ID_CHARS {
        return invalid(format!(
            "{chars} characters long; at most {MAX_XMLTV_ID_CHARS} are allowed"
        ));
    }
    if xmltv_id.chars().any(char::is_control) {
        return invalid("contains control characters".into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
