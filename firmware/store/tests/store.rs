//! The store's API on a fresh database: allocation, uniqueness, updates, cascades,
//! validation, persistence, and that a refused change leaves nothing behind.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::raw_contents;
use dvbgate_store::{
    ChannelConfig, ChannelPatch, Charset, CharsetRule, EpgSettings, EsFilter, InputConfig,
    InputPatch, NewChannel, NewInput, Protocol, SCHEMA_VERSION, Settings, Store, StoreError,
    XmltvSource,
};

fn new_store() -> (tempfile::TempDir, PathBuf, Store) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    let store = Store::open(&dir).expect("open a new store");
    (temp, dir, store)
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}

fn add_input(store: &Store, name: &str) -> InputConfig {
    store
        .add_input(NewInput {
            name: name.into(),
            url: "udp://@239.1.1.1:1234".into(),
            enabled: true,
            auto_channels: false,
        })
        .expect("add input")
}

fn add(store: &Store, input: u32, name: &str) -> ChannelConfig {
    store
        .add_channel(NewChannel::new(input, 100, name))
        .expect("add channel")
}

fn conflict(result: Result<ChannelConfig, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(message)) => message,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn invalid<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::NotFound(message)) => message,
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn a_new_store_is_empty_with_default_settings() {
    let (_temp, _dir, store) = new_store();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(store.settings().expect("settings"), Settings::default());
    assert!(store.inputs().expect("inputs").is_empty());
    assert!(store.channels().expect("channels").is_empty());
    assert_eq!(store.channel(1).expect("read"), None);
    assert_eq!(store.channel_by_number(1).expect("read"), None);
    assert_eq!(store.input(1).expect("read"), None);
    store.verify().expect("consistent");
}

#[test]
fn settings_round_trip_and_survive_reopening() {
    let (_temp, dir, store) = new_store();
    let settings = Settings {
        multicast_interface: Some("eth1".into()),
        pool: "239.192.0.0/16".parse().expect("cidr"),
        base_port: 1234,
        ttl: 8,
        dscp: 34,
        sap: false,
        packets_per_datagram: 5,
        epg: EpgSettings {
            charsets: vec![
                CharsetRule {
                    original_network_id: 0x20fa,
                    service_id: None,
                    charset: Charset::Iso8859(9),
                    force: false,
                },
                CharsetRule {
                    original_network_id: 0x20fa,
                    service_id: Some(8201),
                    charset: Charset::Utf8,
                    force: true,
                },
            ],
            xmltv_sources: vec![XmltvSource {
                url: "http://192.168.1.10:8080/guide.xml".into(),
                refresh_hours: 24,
            }],
            snapshot_hours: 2,
        },
    };
    store.set_settings(&settings).expect("set");
    assert_eq!(store.settings().expect("get"), settings);
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    assert_eq!(store.settings().expect("get"), settings);

    // A refused change leaves the settings as they were.
    let bad = Settings {
        packets_per_datagram: 8,
        ..settings.clone()
    };
    invalid(store.set_settings(&bad));
    let bad = Settings {
        pool: "10.0.0.0/16".parse().expect("cidr"),
        ..settings.clone()
    };
    invalid(store.set_settings(&bad));
    let mut bad = settings.clone();
    bad.epg.xmltv_sources[0].url = "https://example.com/guide.xml".into();
    invalid(store.set_settings(&bad));
    assert_eq!(store.settings().expect("get"), settings);
}

#[test]
fn pool_allocation_takes_the_lowest_free_address_and_skips_0_and_255() {
    let (_temp, _dir, store) = new_store();
    let input = add_input(&store, "Sat").id;
    let first = add(&store, input, "One");
    let second = add(&store, input, "Two");
    let third = add(&store, input, "Three");
    assert_eq!(first.output.address, addr("239.255.1.1:5000"));
    assert_eq!(second.output.address, addr("239.255.1.2:5000"));
    assert_eq!(third.output.address, addr("239.255.1.3:5000"));
    assert_eq!(first.output.protocol, Protocol::Udp);

    // A freed address is handed out again; a group used on another port is not.
    store.remove_channel(second.id).expect("remove");
    let explicit = NewChannel {
        address: Some(addr("239.255.1.2:6000")),
        ..NewChannel::new(input, 1, "Own port")
    };
    store.add_channel(explicit).expect("explicit address");
    assert_eq!(
        add(&store, input, "Four").output.address,
        addr("239.255.1.4:5000")
    );

    // .255 and .0 are skipped, at the pool's settings port.
    let mut settings = store.settings().expect("settings");
    settings.pool = "239.255.1.252/30".parse().expect("cidr");
    settings.base_port = 6100;
    store.set_settings(&settings).expect("set");
    let got: Vec<_> = (0..2)
        .map(|i| add(&store, input, &format!("High {i}")).output.address)
        .collect();
    assert_eq!(
        got,
        [addr("239.255.1.252:6100"), addr("239.255.1.253:6100")]
    );
    assert_eq!(
        add(&store, input, "Last").output.address,
        addr("239.255.1.254:6100")
    );
    let message = conflict(store.add_channel(NewChannel::new(input, 1, "Too many")));
    assert_eq!(
        message,
        "the address pool 239.255.1.252/30 is exhausted: all 3 usable addresses are in use; \
         widen the pool in the settings or give the channel an explicit address"
    );
    settings.pool = "239.255.2.0/30".parse().expect("cidr");
    store.set_settings(&settings).expect("set");
    assert_eq!(
        add(&store, input, "Low").output.address,
        addr("239.255.2.1:6100")
    );
    store.verify().expect("consistent");
}

#[test]
fn numbers_fill_the_lowest_gap() {
    let (_temp, _dir, store) = new_store();
    let input = add_input(&store, "Sat").id;
    let at = |number| NewChannel {
        number: Some(number),
        ..NewChannel::new(input, 1, format!("No {number}"))
    };
    store.add_channel(at(1)).expect("1");
    store.add_channel(at(3)).expect("3");
    assert_eq!(add(&store, input, "Gap").number, 2);
    assert_eq!(add(&store, input, "Next").number, 4);
    store.add_channel(at(9999)).expect("highest");
    invalid(store.add_channel(at(10000)));
    invalid(store.add_channel(at(0)));
    let numbers: Vec<u16> = store
        .channels()
        .expect("channels")
        .iter()
        .map(|c| c.number)
        .collect();
    assert_eq!(
        numbers,
        [1, 2, 3, 4, 9999],
        "channels() is sorted by number"
    );
}

#[test]
fn duplicates_are_refused_naming_the_other_channel() {
    let (_temp, _dir, store) = new_store();
    let input = add_input(&store, "Sat").id;
    let arte = store
        .add_channel(NewChannel {
            number: Some(3),
            ..NewChannel::new(input, 28724, "Arte")
        })
        .expect("add");
    let same_address = NewChannel {
        address: Some(arte.output.address),
        ..NewChannel::new(input, 1, "Copy")
    };
    assert_eq!(
        conflict(store.add_channel(same_address)),
        format!(
            "address 239.255.1.1:5000 is already used by channel 3 \"Arte\" (id {})",
            arte.id
        )
    );
    let same_number = NewChannel {
        number: Some(3),
        ..NewChannel::new(input, 1, "Copy")
    };
    assert_eq!(
        conflict(store.add_channel(same_number)),
        format!(
            "channel number 3 is already used by channel 3 \"Arte\" (id {})",
            arte.id
        )
    );
    // The same group on another port, or an IPv4-mapped spelling of another address,
    // is judged by the canonical address.
    let mapped = NewChannel {
        address: Some(addr("[::ffff:239.255.1.1]:5000")),
        ..NewChannel::new(input, 1, "Mapped")
    };
    assert!(conflict(store.add_channel(mapped)).contains("\"Arte\""));
    let v6 = NewChannel {
        address: Some(addr("[ff15::1]:5000")),
        ..NewChannel::new(input, 1, "Six")
    };
    assert_eq!(
        store
            .add_channel(v6)
            .expect("IPv6 output")
            .output
            .address
            .to_string(),
        "[ff15::1]:5000"
    );
    let v6_again = NewChannel {
        address: Some(addr("[ff15::1]:5000")),
        ..NewChannel::new(input, 1, "Six again")
    };
    assert!(
        conflict(store.add_channel(v6_again))
            .starts_with("address [ff15::1]:5000 is already used by")
    );
}

#[test]
fn a_refused_add_leaves_nothing_behind() {
    let (_temp, dir, store) = new_store();
    let input = add_input(&store, "Sat").id;
    let existing = add(&store, input, "Existing");
    drop(store);
    let before = raw_contents(&dir);

    let store = Store::open(&dir).expect("reopen");
    // Free number, taken address: the number index entry written first inside the
    // transaction must be rolled back, and no id consumed.
    let taken_address = NewChannel {
        number: Some(50),
        address: Some(existing.output.address),
        ..NewChannel::new(input, 1, "Clash")
    };
    conflict(store.add_channel(taken_address));
    conflict(store.add_channel(NewChannel {
        number: Some(existing.number),
        ..NewChannel::new(input, 1, "Clash")
    }));
    not_found(store.add_channel(NewChannel::new(input + 100, 1, "No input")));
    invalid(store.add_channel(NewChannel::new(input, 0, "Service 0")));
    invalid(store.add_channel(NewChannel {
        address: Some(addr("224.0.0.9:5000")),
        ..NewChannel::new(input, 1, "RIP")
    }));
    invalid(store.add_input(NewInput {
        name: String::new(),
        url: "x".into(),
        enabled: true,
        auto_channels: false,
    }));
    not_found(store.remove_input(input + 100));
    not_found(store.remove_channel(existing.id + 100));
    drop(store);
    assert_eq!(
        raw_contents(&dir),
        before,
        "a refused call changed the database"
    );

    let store = Store::open(&dir).expect("reopen");
    assert_eq!(
        add(&store, input, "Next").id,
        existing.id + 1,
        "ids continue without a gap"
    );
}

#[test]
fn update_moves_number_and_address_index_entries() {
    let (_temp, dir, store) = new_store();
    let input = add_input(&store, "Sat").id;
    let one = add(&store, input, "One");
    let two = add(&store, input, "Two");

    let patch = ChannelPatch {
        number: Some(7),
        address: Some(addr("239.255.9.9:5004")),
        name: Some("Seven".into()),
        protocol: Some(Protocol::Rtp),
        strip_ca: Some(true),
        strip_es: Some(vec![EsFilter::Language("qad".into())]),
        dscp: Some(Some(46)),
        ..ChannelPatch::default()
    };
    let moved = store.update_channel(one.id, patch).expect("update");
    assert_eq!(
        (moved.number, moved.output.address),
        (7, addr("239.255.9.9:5004"))
    );
    assert_eq!(moved.output.dscp, Some(46));
    assert_eq!(store.channel(one.id).expect("read"), Some(moved.clone()));
    assert_eq!(
        store.channel_by_number(7).expect("read").map(|c| c.id),
        Some(one.id)
    );
    assert_eq!(store.channel_by_number(1).expect("read"), None);
    store.verify().expect("consistent");

    // The old number and address are free again.
    let reuse = NewChannel {
        number: Some(1),
        address: Some(one.output.address),
        ..NewChannel::new(input, 1, "Reuse")
    };
    store
        .add_channel(reuse)
        .expect("old number and address are free");

    // Moving onto another channel's number or address is refused and changes nothing.
    let onto_two = ChannelPatch {
        number: Some(50),
        address: Some(two.output.address),
        ..ChannelPatch::default()
    };
    let message = conflict(store.update_channel(one.id, onto_two));
    assert!(message.contains("\"Two\""), "{message}");
    assert_eq!(store.channel(one.id).expect("read"), Some(moved.clone()));
    assert_eq!(store.channel_by_number(50).expect("read"), None);
    let message = conflict(store.update_channel(
        one.id,
        ChannelPatch {
            number: Some(two.number),
            ..ChannelPatch::default()
        },
    ));
    assert!(
        message.starts_with("channel number 2 is already used by channel 2 \"Two\""),
        "{message}"
    );

    // Keeping one's own number and address is no conflict; overrides can be cleared.
    let same = ChannelPatch {
        number: Some(7),
        address: Some(moved.output.address),
        dscp: Some(None),
        ..ChannelPatch::default()
    };
    assert_eq!(
        store
            .update_channel(one.id, same)
            .expect("no-op move")
            .output
            .dscp,
        None
    );

    invalid(store.update_channel(
        one.id,
        ChannelPatch {
            name: Some(String::new()),
            ..ChannelPatch::default()
        },
    ));
    not_found(store.update_channel(999, ChannelPatch::default()));
    not_found(store.update_channel(
        one.id,
        ChannelPatch {
            input_id: Some(999),
            ..ChannelPatch::default()
        },
    ));
    store.verify().expect("consistent");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    assert_eq!(
        store.channel_by_number(7).expect("read").map(|c| c.name),
        Some("Seven".into())
    );
    store.verify().expect("consistent after reopening");
}

#[test]
fn update_input_changes_only_the_patched_fields() {
    let (_temp, _dir, store) = new_store();
    let input = add_input(&store, "Sat");
    let updated = store
        .update_input(
            input.id,
            InputPatch {
                enabled: Some(false),
                auto_channels: Some(true),
                ..InputPatch::default()
            },
        )
        .expect("update");
    assert_eq!(
        updated,
        InputConfig {
            enabled: false,
            auto_channels: true,
            ..input.clone()
        }
    );
    assert_eq!(store.input(input.id).expect("read"), Some(updated.clone()));
    invalid(store.update_input(
        input.id,
        InputPatch {
            url: Some(String::new()),
            ..InputPatch::default()
        },
    ));
    invalid(store.update_input(
        input.id,
        InputPatch {
            name: Some("x".repeat(129)),
            ..InputPatch::default()
        },
    ));
    not_found(store.update_input(input.id + 1, InputPatch::default()));
    assert_eq!(store.input(input.id).expect("read"), Some(updated));
}

#[test]
fn remove_input_removes_its_channels_and_their_index_entries() {
    let (_temp, _dir, store) = new_store();
    let sat = add_input(&store, "Sat").id;
    let cable = add_input(&store, "Cable").id;
    let gone_one = add(&store, sat, "Sat one");
    let kept = add(&store, cable, "Cable one");
    let gone_two = add(&store, sat, "Sat two");

    store.remove_input(sat).expect("remove");
    assert_eq!(
        store
            .inputs()
            .expect("inputs")
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [cable]
    );
    assert_eq!(store.channels().expect("channels"), vec![kept]);
    store
        .verify()
        .expect("indexes hold only the remaining channel");
    for gone in [&gone_one, &gone_two] {
        assert_eq!(store.channel(gone.id).expect("read"), None);
        assert_eq!(store.channel_by_number(gone.number).expect("read"), None);
        let again = NewChannel {
            number: Some(gone.number),
            address: Some(gone.output.address),
            ..NewChannel::new(cable, 1, "Again")
        };
        store
            .add_channel(again)
            .expect("number and address are free again");
    }
    not_found(store.remove_input(sat));
    // Ids are never reused.
    assert!(add_input(&store, "New").id > cable);
}

#[test]
fn changes_are_serialised_across_threads() {
    let (_temp, _dir, store) = new_store();
    let store = Arc::new(store);
    let input = add_input(&store, "Sat").id;
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| add(&store, input, &format!("W{worker} {i}")).id)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<u32> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    let channels = store.channels().expect("channels");
    assert_eq!(
        channels.iter().map(|c| c.number).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<u16>>()
    );
    store.verify().expect("consistent");
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_with_a_hint() {
    let (_temp, dir, _store) = new_store();
    let error = Store::open(&dir).expect_err("the first store holds the lock");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Storage { .. }), "{error:?}");
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("another process"), "{message}");
}

#[test]
fn undecodable_records_are_reported_with_tree_and_key() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir: &Path = &temp.path().join("config");
    let input = {
        let store = Store::open(dir).expect("open");
        add_input(&store, "Sat").id
    };
    {
        let db = dvbgate_store::sled_config(dir).open().expect("raw open");
        db.open_tree("inputs")
            .expect("tree")
            .insert(input.to_be_bytes(), "{not json")
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(dir).expect("open");
    match store.input(input) {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("tree \"inputs\", key 1"), "{message}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(store.inputs(), Err(StoreError::Corrupt(_))));
}

#[test]
fn an_interrupted_creation_is_completed_but_foreign_data_is_not_initialised_over() {
    let temp = tempfile::tempdir().expect("temporary directory");
    // A power cut after the trees were created, before the first commit.
    let interrupted = temp.path().join("interrupted");
    {
        let db = dvbgate_store::sled_config(&interrupted)
            .open()
            .expect("raw open");
        db.open_tree("meta").expect("tree");
        db.open_tree("settings").expect("tree");
        db.flush().expect("flush");
    }
    let store = Store::open(&interrupted).expect("creation completes");
    assert_eq!(store.settings().expect("settings"), Settings::default());
    store.verify().expect("consistent");

    // Records without a schema version are not ours to initialise over.
    let foreign = temp.path().join("foreign");
    {
        let db = dvbgate_store::sled_config(&foreign)
            .open()
            .expect("raw open");
        db.open_tree("inputs")
            .expect("tree")
            .insert([0, 0, 0, 1], "{}")
            .expect("insert");
        db.flush().expect("flush");
    }
    match Store::open(&foreign) {
        Err(StoreError::Corrupt(message)) => {
            assert!(
                message.contains("\"inputs\" but no schema_version"),
                "{message}"
            )
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn the_directory_is_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |dir: &Path| {
        std::fs::metadata(dir)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    // Created 0700, parents included.
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("var").join("config");
    let store = Store::open(&dir).expect("open");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(dir.parent().expect("parent")), 0o700);
    drop(store);

    // An existing one open to the group or others is tightened, its records kept.
    for loose in [0o755, 0o750, 0o701, 0o777] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(loose)).expect("chmod");
        let store = Store::open(&dir).expect("reopen");
        assert_eq!(mode(&dir), 0o700, "from {loose:o}");
        assert_eq!(store.settings().expect("settings"), Settings::default());
        drop(store);
    }
}
