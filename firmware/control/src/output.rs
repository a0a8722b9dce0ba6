//! A channel's configured output, in the network layer's terms: the one place where the
//! settings' defaults and the channel's overrides are combined.

use dvbgate_net::Protocol;
use dvbgate_net::socket::SendOptions;
use dvbgate_store::{ChannelConfig, Settings};

pub fn protocol(p: dvbgate_store::Protocol) -> Protocol {
    match p {
        dvbgate_store::Protocol::Udp => Protocol::Udp,
        dvbgate_store::Protocol::Rtp => Protocol::Rtp,
    }
}

/// How a channel's datagrams leave: its overrides, else the settings.
pub fn send_options(c: &ChannelConfig, settings: &Settings) -> SendOptions {
    SendOptions {
        ipv6: c.output.address.is_ipv6(),
        interface: c
            .output
            .interface
            .clone()
            .or_else(|| settings.multicast_interface.clone()),
        ttl: c.output.ttl.unwrap_or(settings.ttl),
        dscp: c.output.dscp.unwrap_or(settings.dscp),
    }
}

/// The URL a player opens for a channel, e.g. `udp://@239.255.1.1:5000`.
pub fn stream_url(c: &ChannelConfig) -> String {
    dvbgate_net::url::display_output(protocol(c.output.protocol), c.output.address)
}
