//! Test support: writes the sample schema-v2 database through the store's own API (as
//! the v2 daemon did). It produced the frozen fixture `tests/fixtures/v2-store.tar` once,
//! run by the schema-2 code (see `tests/fixtures/README.md`); the tests migrate that
//! fixture, and compare it with what this function writes through today's code to keep
//! the two in step.
//!
//! The sample has what later steps must carry across: settings away from every
//! default, inputs of each kind (udp with auto-channels, file, rtp disabled, and a DVB-T
//! multiplex typed in by hand before scans existed), channels with every output
//! override, RTP, IPv6 and unicast outputs, all three stream filters, and gaps in the
//! ids, numbers and pool addresses left by removals.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::{EsFilter, NewChannel, NewInput, Protocol, Settings, Store, StoreError};

/// Writes the sample v2 database into `dir` (which should not hold a database yet)
/// and closes it.
pub fn write_sample(dir: &Path) -> Result<(), StoreError> {
    let store = Store::open(dir)?;
    store.set_settings(&Settings {
        multicast_interface: Some("eth1".into()),
        pool: "239.255.2.0/24".parse()?,
        base_port: 5004,
        ttl: 2,
        dscp: 34,
        sap: false,
        packets_per_datagram: 7,
        // Fields added after schema 2 (the EPG settings of schema 4) at their defaults.
        ..Settings::default()
    })?;
    let input = |name: &str, url: &str, enabled, auto_channels| NewInput {
        name: name.into(),
        url: url.into(),
        enabled,
        auto_channels,
    };
    let iptv = store.add_input(input("IPTV feed", "udp://@239.1.1.1:1234", true, true))?;
    let removed = store.add_input(input("Old feed", "udp://@239.1.1.9:1234", true, false))?;
    let info = store.add_input(input("Hotel info loop", "file:///data/mux.ts", true, false))?;
    let backup = store.add_input(input(
        "Backup headend",
        "rtp://10.0.0.1@232.1.1.1:5000?iface=eth1",
        false,
        false,
    ))?;
    let dvbt = store.add_input(input(
        "DVB-T Berlin 474",
        "dvb-t://474MHz?bandwidth=8MHz",
        true,
        false,
    ))?;
    store.add_channel(NewChannel::new(removed.id, 7, "Gone with its input"))?;
    store.remove_input(removed.id)?;

    // Pool addresses and numbers in creation order: .1/1, .2/2, ...
    store.add_channel(NewChannel::new(iptv.id, 101, "News 24"))?;
    let doomed = store.add_channel(NewChannel::new(iptv.id, 102, "Removed channel"))?;
    store.add_channel(NewChannel {
        number: Some(7),
        protocol: Protocol::Rtp,
        strip_ca: true,
        strip_es: vec![
            EsFilter::Pid(0x1ff),
            EsFilter::StreamType(6),
            EsFilter::Language("qad".into()),
        ],
        ttl: Some(5),
        dscp: Some(46),
        interface: Some("eth0".into()),
        ..NewChannel::new(iptv.id, 103, "Sport HD")
    })?;
    store.remove_channel(doomed.id)?;
    store.add_channel(NewChannel {
        enabled: false,
        address: Some(SocketAddr::from((
            Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0, 7),
            5000,
        ))),
        ..NewChannel::new(backup.id, 103, "Sport HD (backup)")
    })?;
    store.add_channel(NewChannel {
        number: Some(100),
        address: Some(SocketAddr::from(([192, 168, 10, 50], 1234))),
        ..NewChannel::new(info.id, 1, "Hotel Info")
    })?;
    store.add_channel(NewChannel::new(dvbt.id, 513, "Das Erste"))?;
    store.add_channel(NewChannel {
        number: Some(5),
        enabled: false,
        ..NewChannel::new(dvbt.id, 514, "ZDF")
    })?;
    drop(store);
    Ok(())
}
