//! Test support: writes the sample schema-v4 database through the store's own API (as
//! the v4 daemon did). It produced the frozen fixture `tests/fixtures/v4-store.tar` once,
//! run by the schema-4 code (see `tests/fixtures/README.md`); the tests migrate that
//! fixture, and compare it with what this function writes through today's code to keep
//! the two in step.
//!
//! The sample has what the v4 → v5 step must carry across: everything v3 had (settings
//! away from the defaults, a scanned DVB input with its scan record, tuner settings,
//! gaps in the ids), and what v4 added: EPG settings (charset rules, XMLTV sources, a
//! snapshot period), categories (a renamed TV, a gap left by a removal), channels with
//! a category, an XMLTV id and a creation time, and XC users (with their password
//! hashes, categories, an expiry, a disabled one, a gap left by a removal). Channels
//! have no `hls` flag yet: v5 reads them as streamed over HLS.

use std::path::Path;

use crate::{
    Charset, CharsetRule, EpgSettings, EsFilter, MergeOptions, NewChannel, NewInput, NewUser,
    Protocol, Settings, Store, StoreError, TunerSettings, XmltvSource,
};

/// The password of every sample user (the tests check the stored hashes with it).
pub const SAMPLE_PASSWORD: &str = "pw-4.sample";

/// Writes the sample v4 database into `dir` (which should not hold a database yet)
/// and closes it.
pub fn write_sample(dir: &Path) -> Result<(), StoreError> {
    let store = Store::open(dir)?;
    // Every field is set today; the struct update gives the fields later schemas add
    // their defaults, so that the sample keeps compiling (as in v2.rs and v3.rs).
    #[allow(clippy::needless_update)]
    let settings = Settings {
        multicast_interface: Some("eth1".into()),
        pool: "239.255.4.0/24".parse()?,
        base_port: 5008,
        ttl: 2,
        dscp: 10,
        sap: false,
        packets_per_datagram: 6,
        epg: EpgSettings {
            charsets: vec![
                CharsetRule {
                    original_network_id: 0x2114,
                    service_id: None,
                    charset: Charset::Iso8859(9),
                    force: false,
                },
                CharsetRule {
                    original_network_id: 0x0001,
                    service_id: Some(0x2803),
                    charset: Charset::Utf8,
                    force: true,
                },
            ],
            xmltv_sources: vec![
                XmltvSource {
                    url: "file:///data/guide.xml".into(),
                    refresh_hours: 6,
                },
                XmltvSource {
                    url: "http://192.168.10.2:8080/epg.xml".into(),
                    refresh_hours: 24,
                },
            ],
            snapshot_hours: 3,
        },
        ..Settings::default()
    };
    store.set_settings(&settings)?;
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

    store.rename_category(crate::CATEGORY_TV, "Télévision")?;
    let news = store.add_category("News")?;
    let doomed = store.add_category("Sport")?;
    let hotel = store.add_category("Hotel")?;
    store.remove_category(doomed.id)?;

    store.add_channel(NewChannel {
        category_id: Some(news.id),
        xmltv_id: Some("news24.de".into()),
        ..NewChannel::new(iptv.id, 101, "News 24")
    })?;
    let gone = store.add_channel(NewChannel::new(iptv.id, 102, "Removed channel"))?;
    store.add_channel(NewChannel {
        number: Some(7),
        protocol: Protocol::Rtp,
        multicast: false,
        strip_ca: true,
        strip_es: vec![EsFilter::StreamType(6), EsFilter::Language("qad".into())],
        ttl: Some(5),
        dscp: Some(46),
        interface: Some("eth0".into()),
        ..NewChannel::new(iptv.id, 103, "Sport HD")
    })?;
    store.remove_channel(gone.id)?;
    store.add_channel(NewChannel {
        number: Some(100),
        enabled: false,
        address: Some(([192, 168, 10, 50], 1234).into()),
        category_id: Some(hotel.id),
        ..NewChannel::new(info.id, 1, "Hotel Info")
    })?;
    // A DVB input and its channels as a scan makes them, with the scan record.
    store.merge_scan(
        &crate::v3::sample_scan(),
        &MergeOptions { enable_new: true },
    )?;
    store.set_tuner(&TunerSettings {
        label: Some("roof dish, LNB 1".into()),
        ..TunerSettings::new("adapter0/frontend0")
    })?;

    store.add_user(NewUser {
        max_connections: 3,
        categories: vec![news.id, crate::CATEGORY_TV],
        note: "room 12".into(),
        ..NewUser::new("Room12", SAMPLE_PASSWORD)
    })?;
    let left = store.add_user(NewUser::new("checked-out", SAMPLE_PASSWORD))?;
    store.add_user(NewUser {
        enabled: false,
        expires_at: Some(1_900_000_000),
        ..NewUser::new("lobby.tv", SAMPLE_PASSWORD)
    })?;
    store.remove_user(left.id)?;
    drop(store);
    Ok(())
}
