//! Schema migration against frozen databases (tests/fixtures/v1-store.tar to
//! v4-store.tar, each made once by the code of its time and never regenerated: they
//! stand for the databases on boxes in the field), and refusal of a database from a
//! newer dvbgate.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

mod common;

use common::{RawRecords, raw_contents};
use dvbgate_store::{
    CATEGORY_RADIO, CATEGORY_TV, Category, ChannelConfig, ChannelPatch, Charset, EpgSettings,
    EsFilter, InputConfig, NewChannel, OutputConfig, Protocol, SCHEMA_VERSION, Settings, Store,
    StoreError, verify_password,
};

/// Unpacks the frozen v1 fixture into a fresh temporary directory; returns the guard
/// and the database directory.
fn unpack_v1_fixture() -> (tempfile::TempDir, PathBuf) {
    unpack_fixture("v1-store")
}

/// Unpacks `tests/fixtures/NAME.tar` (holding the directory NAME) into a fresh
/// temporary directory; returns the guard and the database directory.
fn unpack_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.tar"));
    let temp = tempfile::tempdir().expect("temporary directory");
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&fixture)
        .arg("-C")
        .arg(temp.path())
        .status()
        .expect("run tar");
    assert!(
        status.success(),
        "tar -xf {} failed: {status}",
        fixture.display()
    );
    let dir = temp.path().join(name);
    (temp, dir)
}

/// Collects the messages of tracing events at WARN and above (tracing-subscriber is
/// not a dependency of this crate; the trait is small).
#[derive(Clone, Default)]
struct WarningCollector(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for WarningCollector {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
        if *event.metadata().level() <= tracing::Level::WARN {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().expect("collector lock").push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The tests of this file run one at a time: tracing caches, per log statement, whether
/// anyone listens; a sibling test hitting the migration's `warn!` with no subscriber while
/// another test has its collector installed could make that one miss its warnings.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn open_collecting_warnings(dir: &Path) -> (Result<Store, StoreError>, Vec<String>) {
    let collector = WarningCollector::default();
    let result = tracing::subscriber::with_default(collector.clone(), || {
        tracing::callsite::rebuild_interest_cache();
        Store::open(dir)
    });
    let warnings = collector.0.lock().expect("collector lock").clone();
    (result, warnings)
}

fn channel(
    id: u32,
    input_id: u32,
    service_id: u16,
    number: u16,
    name: &str,
    enabled: bool,
    (protocol, address): (Protocol, &str),
) -> ChannelConfig {
    ChannelConfig {
        id,
        input_id,
        service_id,
        number,
        name: name.into(),
        enabled,
        output: OutputConfig {
            address: address.parse().expect("address"),
            protocol,
            multicast: true,
            ttl: None,
            dscp: None,
            interface: None,
        },
        strip_ca: false,
        strip_es: Vec::new(),
        category_id: None,
        xmltv_id: None,
        created_at: 0,
        hls: true,
    }
}

fn version_key() -> (Vec<u8>, Vec<u8>) {
    (b"meta".to_vec(), b"schema_version".to_vec())
}

fn without_version(mut records: RawRecords) -> RawRecords {
    records.remove(&version_key());
    records
}

/// The raw records of a database migrated to v4 or later without what the v3 → v4 step
/// adds (the seeded categories and the counters of users and categories), after checking
/// that it added exactly those.
fn without_v4_additions(records: RawRecords) -> RawRecords {
    let mut records = without_version(records);
    let meta = |key: &str| (b"meta".to_vec(), key.as_bytes().to_vec());
    assert_eq!(
        records.remove(&meta("next_user_id")),
        Some(1u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        records.remove(&meta("next_category_id")),
        Some(3u32.to_be_bytes().to_vec())
    );
    let categories: Vec<(Vec<u8>, Vec<u8>)> = records
        .keys()
        .filter(|(tree, _)| tree.as_slice() == b"categories")
        .cloned()
        .collect();
    let seeded: Vec<String> = categories
        .iter()
        .map(|key| String::from_utf8_lossy(&records.remove(key).expect("listed")).into_owned())
        .collect();
    assert_eq!(
        seeded,
        [r#"{"id":1,"name":"TV"}"#, r#"{"id":2,"name":"Radio"}"#]
    );
    assert!(
        !records
            .keys()
            .any(|(tree, _)| tree.as_slice() == b"users" || tree.as_slice() == b"usernames"),
        "the migration wrote users"
    );
    records
}

/// Checks that every channel of a sample written by today's code records its creation
/// (a frozen sample's channels predate that and read as 0), then sets it to 0.
fn created_now(
    (settings, inputs, mut channels): (Settings, Vec<InputConfig>, Vec<ChannelConfig>),
) -> (Settings, Vec<InputConfig>, Vec<ChannelConfig>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    for channel in &mut channels {
        assert!(
            (now - 600..=now).contains(&channel.created_at),
            "{} was created at {}, now is {now}",
            channel.describe(),
            channel.created_at
        );
        channel.created_at = 0;
    }
    (settings, inputs, channels)
}

fn everything(store: &Store) -> (Settings, Vec<InputConfig>, Vec<ChannelConfig>) {
    (
        store.settings().expect("settings"),
        store.inputs().expect("inputs"),
        store.channels().expect("channels"),
    )
}

#[test]
fn frozen_v1_database_upgrades_to_v5() {
    let _serial = serial();
    let (_temp, dir) = unpack_v1_fixture();
    let (store, warnings) = open_collecting_warnings(&dir);
    let store = store.expect("the v1 database opens");
    assert_eq!(store.schema_version(), 5);
    assert_eq!(SCHEMA_VERSION, 5);
    // v2 → v3 adds the scan and tuner trees, empty.
    assert_eq!(store.scans().expect("scans"), Vec::new());
    assert_eq!(store.tuners().expect("tuners"), Vec::new());

    // Settings: v1 values kept, new fields at their defaults.
    assert_eq!(
        store.settings().expect("settings"),
        Settings {
            multicast_interface: Some("eth0".into()),
            pool: "239.255.1.0/24".parse().expect("cidr"),
            base_port: 5000,
            ttl: 4,
            dscp: 0,
            sap: true,
            packets_per_datagram: 7,
            epg: EpgSettings::default(),
        }
    );

    let input = |id, name: &str, url: &str, enabled| InputConfig {
        id,
        name: name.into(),
        url: url.into(),
        enabled,
        auto_channels: false,
    };
    assert_eq!(
        store.inputs().expect("inputs"),
        vec![
            input(1, "Astra 19.2E 11494H", "udp://@239.1.1.1:1234", true),
            input(2, "Hotel info loop", "file:///data/mux.ts", true),
            input(
                3,
                "Backup headend",
                "rtp://10.0.0.1@232.1.1.1:5000?iface=eth1",
                false
            ),
        ]
    );

    // Outputs parsed; channel 6 (same address as channel 2) moved to the lowest free
    // pool address, channel 7 (same number as channel 3) to the lowest free number.
    use Protocol::{Rtp, Udp};
    let expected = vec![
        channel(
            1,
            1,
            28106,
            1,
            "Das Erste HD",
            true,
            (Udp, "239.255.1.1:5000"),
        ),
        channel(2, 1, 28006, 2, "ZDF HD", true, (Udp, "239.255.1.2:5000")),
        channel(3, 1, 28724, 3, "arte HD", true, (Rtp, "239.255.1.3:5000")),
        channel(
            7,
            3,
            28724,
            4,
            "arte HD (backup)",
            false,
            (Udp, "[ff15::7]:5000"),
        ),
        channel(4, 2, 1, 10, "Hotel Info", true, (Udp, "239.255.1.10:5000")),
        channel(
            5,
            2,
            2,
            11,
            "Lobby camera",
            false,
            (Udp, "192.168.10.50:1234"),
        ),
        channel(
            6,
            3,
            28006,
            12,
            "ZDF HD (backup)",
            true,
            (Udp, "239.255.1.4:5000"),
        ),
    ];
    assert_eq!(store.channels().expect("channels"), expected);
    store.verify().expect("indexes and counters are consistent");

    // Each repair was logged naming both channels.
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    let address_warning = warnings
        .iter()
        .find(|w| w.contains("239.255.1.2:5000"))
        .expect("address warning");
    assert!(
        address_warning.contains("channel 12 \"ZDF HD (backup)\" (id 6)"),
        "{address_warning}"
    );
    assert!(
        address_warning.contains("channel 2 \"ZDF HD\" (id 2)"),
        "{address_warning}"
    );
    assert!(
        address_warning.contains("239.255.1.4:5000"),
        "{address_warning}"
    );
    let number_warning = warnings
        .iter()
        .find(|w| w.contains("number 4"))
        .expect("number warning");
    assert!(
        number_warning.contains("\"arte HD (backup)\" (id 7)"),
        "{number_warning}"
    );
    assert!(
        number_warning.contains("channel 3 \"arte HD\" (id 3)"),
        "{number_warning}"
    );

    // Opening again is a no-op: same content, no warnings.
    let before = everything(&store);
    drop(store);
    let (store, warnings) = open_collecting_warnings(&dir);
    let store = store.expect("reopens");
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(store.schema_version(), 5);
    assert_eq!(everything(&store), before);

    // The indexes work: taken addresses and numbers are refused, free ones handed out.
    let taken_address = NewChannel {
        address: Some("239.255.1.2:5000".parse().expect("address")),
        ..NewChannel::new(1, 28011, "ZDFinfo")
    };
    match store.add_channel(taken_address) {
        Err(StoreError::Conflict(message)) => assert_eq!(
            message,
            "address 239.255.1.2:5000 is already used by channel 2 \"ZDF HD\" (id 2)"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let taken_number = NewChannel {
        number: Some(4),
        ..NewChannel::new(1, 28011, "ZDFinfo")
    };
    match store.add_channel(taken_number) {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains("\"arte HD (backup)\" (id 7)"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.channel_by_number(4).expect("read").map(|c| c.id),
        Some(7)
    );
    let added = store
        .add_channel(NewChannel::new(1, 28011, "ZDFinfo"))
        .expect("add");
    assert_eq!((added.id, added.number), (8, 5));
    assert_eq!(added.output.address.to_string(), "239.255.1.5:5000");
    let input = store.add_input(dvbgate_store::NewInput {
        name: "Hotbird".into(),
        url: "udp://@239.1.1.2:1234".into(),
        enabled: true,
        auto_channels: true,
    });
    assert_eq!(input.expect("add input").id, 4);
    store.verify().expect("still consistent");
}

#[test]
fn freshly_written_sample_matches_the_frozen_fixture() {
    let _serial = serial();
    // Guards the test support itself: write_sample still writes what the fixture
    // holds, so unit tests that use it test the real thing.
    let (_frozen_temp, frozen_dir) = unpack_v1_fixture();
    let fresh_temp = tempfile::tempdir().expect("temporary directory");
    let fresh_dir = fresh_temp.path().join("v1-store");
    dvbgate_store::v1::write_sample(&fresh_dir).expect("write sample");
    let frozen = everything(&Store::open(&frozen_dir).expect("open frozen"));
    let fresh = everything(&Store::open(&fresh_dir).expect("open fresh"));
    assert_eq!(frozen, fresh);
}

#[test]
fn newer_schema_is_refused_and_left_untouched() {
    let _serial = serial();
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    {
        // What a hypothetical v6 might have written: different trees altogether.
        let db = common::open_raw(&dir);
        let meta = db.open_tree("meta").expect("meta");
        meta.insert("schema_version", &6u32.to_be_bytes())
            .expect("insert");
        db.open_tree("services")
            .expect("tree")
            .insert("k", "v6 data")
            .expect("insert");
        db.flush().expect("flush");
    }
    // sled itself rewrites files on any open (recovery snapshot, segment padding), so
    // "untouched" is checked on what sled stores, not on the bytes of its files.
    let before = raw_contents(&dir);
    let tree_names = |records: &RawRecords| {
        records
            .keys()
            .map(|(tree, _)| String::from_utf8_lossy(tree).into_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        tree_names(&before),
        BTreeSet::from(["meta".to_string(), "services".to_string()])
    );

    match Store::open(&dir) {
        Err(
            error @ StoreError::NewerSchema {
                found: 6,
                supported: 5,
                ..
            },
        ) => {
            let message = error.to_string();
            assert!(message.contains(&dir.display().to_string()), "{message}");
            assert!(message.contains("newer dvbgate (schema 6)"), "{message}");
            assert!(message.contains("understands up to 5"), "{message}");
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }

    let db = common::open_raw(&dir);
    let mut names: Vec<String> = db
        .tree_names()
        .iter()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["__sled__default", "meta", "services"],
        "the refused open created trees"
    );
    drop(db);
    assert_eq!(
        raw_contents(&dir),
        before,
        "the refused database was modified"
    );
}

#[test]
fn frozen_v2_database_upgrades_to_v5() {
    let _serial = serial();
    let (_temp, dir) = unpack_fixture("v2-store");
    let before = raw_contents(&dir);
    let (store, warnings) = open_collecting_warnings(&dir);
    let store = store.expect("the v2 database opens");
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(store.schema_version(), 5);

    assert_eq!(
        store.settings().expect("settings"),
        Settings {
            multicast_interface: Some("eth1".into()),
            pool: "239.255.2.0/24".parse().expect("cidr"),
            base_port: 5004,
            ttl: 2,
            dscp: 34,
            sap: false,
            packets_per_datagram: 7,
            epg: EpgSettings::default(),
        }
    );
    let input = |id, name: &str, url: &str, enabled, auto_channels| InputConfig {
        id,
        name: name.into(),
        url: url.into(),
        enabled,
        auto_channels,
    };
    assert_eq!(
        store.inputs().expect("inputs"),
        vec![
            input(1, "IPTV feed", "udp://@239.1.1.1:1234", true, true),
            input(3, "Hotel info loop", "file:///data/mux.ts", true, false),
            input(
                4,
                "Backup headend",
                "rtp://10.0.0.1@232.1.1.1:5000?iface=eth1",
                false,
                false
            ),
            input(
                5,
                "DVB-T Berlin 474",
                "dvb-t://474MHz?bandwidth=8MHz",
                true,
                false
            ),
        ]
    );
    use Protocol::{Rtp, Udp};
    let sport = ChannelConfig {
        output: OutputConfig {
            ttl: Some(5),
            dscp: Some(46),
            interface: Some("eth0".into()),
            ..channel(4, 1, 103, 7, "Sport HD", true, (Rtp, "239.255.2.3:5004")).output
        },
        strip_ca: true,
        strip_es: vec![
            EsFilter::Pid(0x1ff),
            EsFilter::StreamType(6),
            EsFilter::Language("qad".into()),
        ],
        ..channel(4, 1, 103, 7, "Sport HD", true, (Rtp, "239.255.2.3:5004"))
    };
    assert_eq!(
        store.channels().expect("channels"),
        vec![
            channel(2, 1, 101, 1, "News 24", true, (Udp, "239.255.2.1:5004")),
            channel(
                5,
                4,
                103,
                2,
                "Sport HD (backup)",
                false,
                (Udp, "[ff15::7]:5000")
            ),
            channel(7, 5, 513, 3, "Das Erste", true, (Udp, "239.255.2.2:5004")),
            channel(8, 5, 514, 5, "ZDF", false, (Udp, "239.255.2.4:5004")),
            sport,
            channel(
                6,
                3,
                1,
                100,
                "Hotel Info",
                true,
                (Udp, "192.168.10.50:1234")
            ),
        ]
    );
    assert_eq!(store.scans().expect("scans"), Vec::new());
    assert_eq!(store.tuners().expect("tuners"), Vec::new());
    store.verify().expect("indexes and counters are consistent");
    drop(store);

    // Record for record, only the schema version changed, besides what v3 → v4 adds.
    let after = raw_contents(&dir);
    assert_eq!(
        before.get(&version_key()),
        Some(&2u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        after.get(&version_key()),
        Some(&5u32.to_be_bytes().to_vec())
    );
    assert_eq!(without_v4_additions(after), without_version(before));
    let db = common::open_raw(&dir);
    for tree in ["scans", "tuners", "users", "usernames", "categories"] {
        assert!(
            db.tree_names()
                .iter()
                .any(|name| name.as_ref() == tree.as_bytes()),
            "tree {tree} was not created"
        );
    }
    drop(db);

    // The counters and the pool carried over: a merged scan's input and channel take
    // the next ids, the lowest free number and the lowest free pool address.
    let store = Store::open(&dir).expect("reopen");
    let report = store
        .merge_scan(
            &[dvbgate_store::ScannedMux {
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
                services: vec![dvbgate_store::ScannedService {
                    service_id: 0x2801,
                    name: "rbb".into(),
                    provider: "ARD".into(),
                    kind: dvbgate_store::ServiceKind::Tv,
                    scrambled: false,
                    lcn: None,
                }],
            }],
            &dvbgate_store::MergeOptions::default(),
        )
        .expect("merge");
    assert_eq!(report.inputs_created.len(), 1);
    assert_eq!(report.inputs_created[0].id, 6);
    let created = &report.channels_created;
    assert_eq!(created.len(), 1);
    assert_eq!((created[0].id, created[0].number), (9, 4));
    let channel = store.channel(9).expect("read").expect("created");
    assert_eq!(channel.output.address.to_string(), "239.255.2.5:5004");
    // A merge records when it created a channel, from the system clock.
    assert!(channel.created_at > 1_700_000_000, "{}", channel.created_at);
    store.verify().expect("still consistent");
}

#[test]
fn freshly_written_v2_sample_matches_the_frozen_fixture() {
    let _serial = serial();
    // v2::write_sample goes through the store's API; run by today's code it must
    // still produce what the schema-2 code froze, or one of the two drifted.
    let (_frozen_temp, frozen_dir) = unpack_fixture("v2-store");
    let fresh_temp = tempfile::tempdir().expect("temporary directory");
    let fresh_dir = fresh_temp.path().join("v2-store");
    dvbgate_store::v2::write_sample(&fresh_dir).expect("write sample");
    let frozen = everything(&Store::open(&frozen_dir).expect("open frozen"));
    let fresh = created_now(everything(&Store::open(&fresh_dir).expect("open fresh")));
    assert_eq!(frozen, fresh);
}

#[test]
fn v2_to_v5_starts_the_new_trees_from_nothing() {
    let _serial = serial();
    // A v2 database where something already wrote into the new trees (an
    // interrupted experiment): the step starts them from nothing.
    let (_temp, dir) = unpack_fixture("v2-store");
    {
        let db = common::open_raw(&dir);
        db.open_tree("scans")
            .expect("tree")
            .insert(5u32.to_be_bytes(), "not a record")
            .expect("insert");
        db.open_tree("tuners")
            .expect("tree")
            .insert("adapter9/frontend0", "junk")
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(&dir).expect("opens");
    assert_eq!(store.schema_version(), 5);
    assert_eq!(store.scans().expect("scans"), Vec::new());
    assert_eq!(store.tuners().expect("tuners"), Vec::new());
    store.verify().expect("consistent");
}

#[test]
fn frozen_v3_database_upgrades_to_v5() {
    let _serial = serial();
    let (_temp, dir) = unpack_fixture("v3-store");
    let before = raw_contents(&dir);
    let (store, warnings) = open_collecting_warnings(&dir);
    let store = store.expect("the v3 database opens");
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(store.schema_version(), 5);

    // Settings without `epg` read with the EPG defaults.
    assert_eq!(
        store.settings().expect("settings"),
        Settings {
            multicast_interface: Some("eth1".into()),
            pool: "239.255.3.0/24".parse().expect("cidr"),
            base_port: 5006,
            ttl: 3,
            dscp: 26,
            sap: false,
            packets_per_datagram: 5,
            epg: EpgSettings::default(),
        }
    );
    assert_eq!(store.settings().expect("settings").epg.snapshot_hours, 6);
    let inputs: Vec<_> = store
        .inputs()
        .expect("inputs")
        .into_iter()
        .map(|input| (input.id, input.name))
        .collect();
    assert_eq!(
        inputs,
        [
            (1, "IPTV feed".to_string()),
            (3, "Hotel info loop".to_string()),
            (4, "Berlin 522 MHz".to_string()),
        ]
    );
    // Channels without the v4 fields: no category, no XMLTV id, created at 0; the
    // rest as the v3 daemon stored it.
    let channels = store.channels().expect("channels");
    let summary: Vec<_> = channels
        .iter()
        .map(|c| {
            (
                c.id,
                c.number,
                c.name.as_str(),
                c.output.address.to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, 1, "News 24", "239.255.3.1:5006".to_string()),
            (5, 2, "rbb Berlin", "239.255.3.2:5006".to_string()),
            (6, 3, "radioeins", "239.255.3.4:5006".to_string()),
            (3, 7, "Sport HD", "239.255.3.3:5006".to_string()),
            (4, 100, "Hotel Info", "192.168.10.50:1234".to_string()),
        ]
    );
    for channel in &channels {
        assert_eq!(
            (&channel.category_id, &channel.xmltv_id, channel.created_at),
            (&None, &None, 0),
            "{}",
            channel.describe()
        );
    }
    let sport = &channels[3];
    assert_eq!(sport.output.protocol, Protocol::Rtp);
    assert!(!sport.output.multicast);
    assert_eq!((sport.output.ttl, sport.output.dscp), (Some(5), Some(46)));
    assert_eq!(
        sport.strip_es,
        [EsFilter::Pid(0x1ff), EsFilter::Language("qad".into())]
    );
    let scans = store.scans().expect("scans");
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].input_id, 4);
    let tuners = store.tuners().expect("tuners");
    assert_eq!(tuners.len(), 1);
    assert_eq!(
        (
            tuners[0].key.as_str(),
            tuners[0].enabled,
            tuners[0].label.as_deref()
        ),
        ("adapter1/frontend0", false, Some("roof dish, LNB 2"))
    );
    assert_eq!(
        store.categories().expect("categories"),
        [
            Category {
                id: CATEGORY_TV,
                name: "TV".into()
            },
            Category {
                id: CATEGORY_RADIO,
                name: "Radio".into()
            },
        ]
    );
    assert_eq!(store.users().expect("users"), Vec::new());
    store.verify().expect("indexes and counters are consistent");
    drop(store);

    // No record was rewritten: the new fields come from serde defaults.
    let after = raw_contents(&dir);
    assert_eq!(
        before.get(&version_key()),
        Some(&3u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        after.get(&version_key()),
        Some(&5u32.to_be_bytes().to_vec())
    );
    assert_eq!(without_v4_additions(after), without_version(before));

    // The new parts work on the migrated database, and the old counters carry on.
    let store = Store::open(&dir).expect("reopen");
    let news = store.add_category("News").expect("category");
    assert_eq!(news.id, 3);
    let added = store
        .add_channel(NewChannel {
            category_id: Some(news.id),
            ..NewChannel::new(1, 104, "World News")
        })
        .expect("add channel");
    assert_eq!((added.id, added.number), (7, 4));
    assert_eq!(added.output.address.to_string(), "239.255.3.5:5006");
    let user = store
        .add_user(dvbgate_store::NewUser {
            categories: vec![news.id],
            ..dvbgate_store::NewUser::new("room12", "pw")
        })
        .expect("add user");
    assert_eq!(user.id, 1);
    store.verify().expect("still consistent");
}

#[test]
fn freshly_written_v3_sample_matches_the_frozen_fixture() {
    let _serial = serial();
    let (_frozen_temp, frozen_dir) = unpack_fixture("v3-store");
    let fresh_temp = tempfile::tempdir().expect("temporary directory");
    let fresh_dir = fresh_temp.path().join("v3-store");
    dvbgate_store::v3::write_sample(&fresh_dir).expect("write sample");
    let frozen = Store::open(&frozen_dir).expect("open frozen");
    let fresh = Store::open(&fresh_dir).expect("open fresh");
    assert_eq!(everything(&frozen), created_now(everything(&fresh)));
    // Scan records carry the time of the scan.
    let scans = |store: &Store| {
        let mut scans = store.scans().expect("scans");
        for scan in &mut scans {
            scan.scanned_at = 0;
        }
        scans
    };
    assert_eq!(scans(&frozen), scans(&fresh));
    assert_eq!(
        frozen.tuners().expect("tuners"),
        fresh.tuners().expect("tuners")
    );
}

#[test]
fn v3_to_v5_starts_the_new_trees_from_nothing() {
    let _serial = serial();
    let (_temp, dir) = unpack_fixture("v3-store");
    {
        let db = common::open_raw(&dir);
        db.open_tree("users")
            .expect("tree")
            .insert(1u32.to_be_bytes(), "not a record")
            .expect("insert");
        db.open_tree("usernames")
            .expect("tree")
            .insert("ghost", &7u32.to_be_bytes())
            .expect("insert");
        db.open_tree("categories")
            .expect("tree")
            .insert(9u32.to_be_bytes(), "junk")
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(&dir).expect("opens");
    assert_eq!(store.schema_version(), 5);
    assert_eq!(store.users().expect("users"), Vec::new());
    let ids: Vec<_> = store
        .categories()
        .expect("categories")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [CATEGORY_TV, CATEGORY_RADIO]);
    store.verify().expect("consistent");
}

#[test]
fn frozen_v4_database_upgrades_to_v5() {
    let _serial = serial();
    let (_temp, dir) = unpack_fixture("v4-store");
    let before = raw_contents(&dir);
    let (store, warnings) = open_collecting_warnings(&dir);
    let store = store.expect("the v4 database opens");
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(store.schema_version(), 5);

    let settings = store.settings().expect("settings");
    assert_eq!(
        (
            settings.multicast_interface.as_deref(),
            settings.pool.to_string(),
            settings.base_port,
            settings.ttl,
            settings.dscp,
            settings.sap,
            settings.packets_per_datagram,
        ),
        (
            Some("eth1"),
            "239.255.4.0/24".to_string(),
            5008,
            2,
            10,
            false,
            6
        )
    );
    let epg = &settings.epg;
    assert_eq!(epg.snapshot_hours, 3);
    assert_eq!(epg.charsets.len(), 2);
    assert_eq!(
        (
            epg.charsets[1].service_id,
            epg.charsets[1].charset,
            epg.charsets[1].force
        ),
        (Some(0x2803), Charset::Utf8, true)
    );
    let sources: Vec<_> = epg
        .xmltv_sources
        .iter()
        .map(|s| (s.url.as_str(), s.refresh_hours))
        .collect();
    assert_eq!(
        sources,
        [
            ("file:///data/guide.xml", 6),
            ("http://192.168.10.2:8080/epg.xml", 24)
        ]
    );

    let inputs: Vec<_> = store
        .inputs()
        .expect("inputs")
        .into_iter()
        .map(|input| (input.id, input.name))
        .collect();
    assert_eq!(
        inputs,
        [
            (1, "IPTV feed".to_string()),
            (3, "Hotel info loop".to_string()),
            (4, "Berlin 522 MHz".to_string()),
        ]
    );
    assert_eq!(
        store.categories().expect("categories"),
        [
            Category {
                id: CATEGORY_TV,
                name: "Télévision".into()
            },
            Category {
                id: CATEGORY_RADIO,
                name: "Radio".into()
            },
            Category {
                id: 3,
                name: "News".into()
            },
            Category {
                id: 5,
                name: "Hotel".into()
            },
        ]
    );

    // Every channel kept its v4 fields and is offered over HLS (the v5 default).
    let channels = store.channels().expect("channels");
    let summary: Vec<_> = channels
        .iter()
        .map(|c| {
            (
                c.id,
                c.number,
                c.name.as_str(),
                c.output.address.to_string(),
                c.category_id,
                c.xmltv_id.as_deref(),
                c.enabled,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                1,
                "News 24",
                "239.255.4.1:5008".to_string(),
                Some(3),
                Some("news24.de"),
                true
            ),
            (
                5,
                2,
                "rbb Berlin",
                "239.255.4.2:5008".to_string(),
                None,
                None,
                true
            ),
            (
                6,
                3,
                "radioeins",
                "239.255.4.4:5008".to_string(),
                None,
                None,
                true
            ),
            (
                3,
                7,
                "Sport HD",
                "239.255.4.3:5008".to_string(),
                None,
                None,
                true
            ),
            (
                4,
                100,
                "Hotel Info",
                "192.168.10.50:1234".to_string(),
                Some(5),
                None,
                false
            ),
        ]
    );
    for channel in &channels {
        assert!(channel.hls, "{}", channel.describe());
        assert!(channel.created_at > 1_700_000_000, "{}", channel.describe());
    }
    let sport = &channels[3];
    assert_eq!(sport.output.protocol, Protocol::Rtp);
    assert!(!sport.output.multicast);
    assert_eq!(
        sport.strip_es,
        [EsFilter::StreamType(6), EsFilter::Language("qad".into())]
    );

    // Users and their hashes came across: the sample password still logs in.
    let users = store.users().expect("users");
    let summary: Vec<_> = users
        .iter()
        .map(|u| {
            (
                u.id,
                u.username.as_str(),
                u.enabled,
                u.expires_at,
                u.max_connections,
                u.categories.clone(),
                u.note.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "Room12", true, None, 3, vec![1, 3], "room 12"),
            (3, "lobby.tv", false, Some(1_900_000_000), 2, vec![], ""),
        ]
    );
    for user in &users {
        assert!(
            verify_password(&user.password_hash, dvbgate_store::v4::SAMPLE_PASSWORD),
            "{}",
            user.username
        );
    }
    assert_eq!(store.scans().expect("scans")[0].input_id, 4);
    let tuners = store.tuners().expect("tuners");
    assert_eq!(
        (tuners.len(), tuners[0].label.as_deref()),
        (1, Some("roof dish, LNB 1"))
    );
    assert!(!store.admin_password_set().expect("read"));
    store.verify().expect("indexes and counters are consistent");
    drop(store);

    // Only the version changed: no record was rewritten, nothing was added.
    let after = raw_contents(&dir);
    assert_eq!(
        before.get(&version_key()),
        Some(&4u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        after.get(&version_key()),
        Some(&5u32.to_be_bytes().to_vec())
    );
    assert_eq!(without_version(after), without_version(before));

    // The new field works on the migrated database, and the counters carry on.
    let store = Store::open(&dir).expect("reopen");
    let off = store
        .update_channel(
            sport.id,
            ChannelPatch {
                hls: Some(false),
                ..ChannelPatch::default()
            },
        )
        .expect("switch HLS off");
    assert!(!off.hls);
    let added = store
        .add_channel(NewChannel::new(1, 105, "Weather"))
        .expect("add channel");
    assert_eq!((added.id, added.number, added.hls), (7, 4, true));
    assert_eq!(added.output.address.to_string(), "239.255.4.5:5008");
    assert_eq!(store.add_category("Kids").expect("category").id, 6);
    assert_eq!(
        store
            .add_user(dvbgate_store::NewUser::new("room14", "pw"))
            .expect("user")
            .id,
        4
    );
    store.verify().expect("still consistent");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    assert!(!store.channel(sport.id).expect("read").expect("kept").hls);
}

#[test]
fn freshly_written_v4_sample_matches_the_frozen_fixture() {
    let _serial = serial();
    let (_frozen_temp, frozen_dir) = unpack_fixture("v4-store");
    let fresh_temp = tempfile::tempdir().expect("temporary directory");
    let fresh_dir = fresh_temp.path().join("v4-store");
    dvbgate_store::v4::write_sample(&fresh_dir).expect("write sample");
    let frozen = Store::open(&frozen_dir).expect("open frozen");
    let fresh = Store::open(&fresh_dir).expect("open fresh");
    // The frozen channels carry the time they were made; the fresh ones now.
    let (settings, inputs, mut channels) = everything(&frozen);
    for channel in &mut channels {
        assert!(channel.created_at > 1_700_000_000, "{}", channel.describe());
        channel.created_at = 0;
    }
    assert_eq!(
        (settings, inputs, channels),
        created_now(everything(&fresh))
    );
    assert_eq!(
        frozen.categories().expect("categories"),
        fresh.categories().expect("categories")
    );
    // Users: equal but for the salted hash and the creation time; both hashes check.
    let users = |store: &Store| {
        let mut users = store.users().expect("users");
        for user in &mut users {
            assert!(verify_password(
                &user.password_hash,
                dvbgate_store::v4::SAMPLE_PASSWORD
            ));
            user.password_hash.clear();
            user.created_at = 0;
        }
        users
    };
    assert_eq!(users(&frozen), users(&fresh));
    let scans = |store: &Store| {
        let mut scans = store.scans().expect("scans");
        for scan in &mut scans {
            scan.scanned_at = 0;
        }
        scans
    };
    assert_eq!(scans(&frozen), scans(&fresh));
    assert_eq!(
        frozen.tuners().expect("tuners"),
        fresh.tuners().expect("tuners")
    );
}
