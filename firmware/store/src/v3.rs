//! Test support: writes the sample schema-v3 database through the store's own API (as
//! the v3 daemon did). It produced the frozen fixture `tests/fixtures/v3-store.tar` once,
//! run by the schema-3 code (see `tests/fixtures/README.md`); the tests migrate that
//! fixture, and compare it with what this function writes through today's code to keep
//! the two in step.
//!
//! The sample has what the v3 → v4 step must carry across: settings away from every
//! default (without the EPG settings v4 adds), channels without category, XMLTV id or
//! creation time (some with every output override), a DVB input created by a scan merge
//! with its scan record, stored tuner settings, and gaps in the ids left by removals.

use std::path::Path;

use crate::{
    EsFilter, MergeOptions, NewChannel, NewInput, Protocol, ScannedMux, ScannedService,
    ServiceKind, Settings, Store, StoreError, TunerSettings,
};

/// The multiplex the sample's scan found: one DVB-T multiplex with a TV service, a
/// radio service and a scrambled one (skipped).
pub fn sample_scan() -> Vec<ScannedMux> {
    let service = |service_id, name: &str, kind, scrambled| ScannedService {
        service_id,
        name: name.into(),
        provider: "ARD".into(),
        kind,
        scrambled,
        lcn: None,
    };
    vec![ScannedMux {
        url: "dvb-t://522MHz?bandwidth=8MHz".into(),
        tuning: dvbgate_tuning::Tuning {
            system: dvbgate_tuning::DeliverySystem::DvbT,
            frequency_hz: 522_000_000,
            params: dvbgate_tuning::params::Params::Terrestrial {
                bandwidth_hz: 8_000_000,
                modulation: None,
                code_rate_hp: None,
                code_rate_lp: None,
                transmission_mode: None,
                guard_interval: None,
                hierarchy: None,
                plp_id: None,
            },
        },
        network_id: Some(0x3001),
        network_name: "Berlin".into(),
        original_network_id: Some(0x2114),
        transport_stream_id: 0x0301,
        services: vec![
            service(0x2801, "rbb Berlin", ServiceKind::Tv, false),
            service(0x2802, "radioeins", ServiceKind::Radio, false),
            service(0x2803, "Pay TV", ServiceKind::Tv, true),
        ],
    }]
}

/// Writes the sample v3 database into `dir` (which should not hold a database yet)
/// and closes it.
pub fn write_sample(dir: &Path) -> Result<(), StoreError> {
    let store = Store::open(dir)?;
    store.set_settings(&Settings {
        multicast_interface: Some("eth1".into()),
        pool: "239.255.3.0/24".parse()?,
        base_port: 5006,
        ttl: 3,
        dscp: 26,
        sap: false,
        packets_per_datagram: 5,
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
    store.remove_input(removed.id)?;

    store.add_channel(NewChannel::new(iptv.id, 101, "News 24"))?;
    let doomed = store.add_channel(NewChannel::new(iptv.id, 102, "Removed channel"))?;
    store.add_channel(NewChannel {
        number: Some(7),
        protocol: Protocol::Rtp,
        multicast: false,
        strip_ca: true,
        strip_es: vec![EsFilter::Pid(0x1ff), EsFilter::Language("qad".into())],
        ttl: Some(5),
        dscp: Some(46),
        interface: Some("eth0".into()),
        ..NewChannel::new(iptv.id, 103, "Sport HD")
    })?;
    store.remove_channel(doomed.id)?;
    store.add_channel(NewChannel {
        number: Some(100),
        address: Some(([192, 168, 10, 50], 1234).into()),
        ..NewChannel::new(info.id, 1, "Hotel Info")
    })?;
    // A DVB input and its channels as a scan makes them, with the scan record.
    store.merge_scan(&sample_scan(), &MergeOptions { enable_new: true })?;
    store.set_tuner(&TunerSettings {
        enabled: false,
        label: Some("roof dish, LNB 2".into()),
        ..TunerSettings::new("adapter1/frontend0")
    })?;
    drop(store);
    Ok(())
}
