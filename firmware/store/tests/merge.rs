//! Scan merges through the store: first scan, rescans after a technician's edits, moved
//! services, re-planned multiplexes, missing services, and that a refused merge (in the
//! planning or inside the transaction) leaves nothing behind.

mod common;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use common::raw_contents;
use dvbgate_store::{
    ChannelConfig, ChannelPatch, InputPatch, MatchedBy, MergeOptions, MergeReport, NewChannel,
    NewInput, ScannedMux, ScannedService, ServiceKind, Settings, SkipReason, Store, StoreError,
};
use dvbgate_tuning::params::Params;
use dvbgate_tuning::{DeliverySystem, Tuning};

const ONID: u16 = 0x2114;

fn new_store() -> (tempfile::TempDir, PathBuf, Store) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    let store = Store::open(&dir).expect("open a new store");
    (temp, dir, store)
}

fn dvbt(mhz: u64) -> Tuning {
    Tuning {
        system: DeliverySystem::DvbT,
        frequency_hz: mhz * 1_000_000,
        params: Params::Terrestrial {
            bandwidth_hz: 8_000_000,
            modulation: None,
            code_rate_hp: None,
            code_rate_lp: None,
            transmission_mode: None,
            guard_interval: None,
            hierarchy: None,
            plp_id: None,
        },
    }
}

fn url(mhz: u64) -> String {
    format!("dvb-t://{mhz}MHz?bandwidth=8MHz")
}

fn service(service_id: u16, name: &str, kind: ServiceKind, lcn: Option<u16>) -> ScannedService {
    ScannedService {
        service_id,
        name: name.into(),
        provider: "ARD".into(),
        kind,
        scrambled: false,
        lcn,
    }
}

fn tv(service_id: u16, name: &str, lcn: Option<u16>) -> ScannedService {
    service(service_id, name, ServiceKind::Tv, lcn)
}

fn mux(mhz: u64, tsid: u16, services: Vec<ScannedService>) -> ScannedMux {
    ScannedMux {
        url: url(mhz),
        tuning: dvbt(mhz),
        network_id: Some(0x3001),
        network_name: "Berlin".into(),
        original_network_id: Some(ONID),
        transport_stream_id: tsid,
        services,
    }
}

fn merge(store: &Store, scan: &[ScannedMux]) -> MergeReport {
    let report = store
        .merge_scan(scan, &MergeOptions::default())
        .expect("merge");
    store.verify().expect("consistent after the merge");
    report
}

fn by_service(store: &Store, service_id: u16) -> ChannelConfig {
    let mut found: Vec<_> = store
        .channels()
        .expect("channels")
        .into_iter()
        .filter(|channel| channel.service_id == service_id)
        .collect();
    assert_eq!(found.len(), 1, "one channel of service {service_id}");
    found.remove(0)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn first_scan() -> Vec<ScannedMux> {
    let scrambled = ScannedService {
        scrambled: true,
        ..tv(0x2803, "Sky Cinema", Some(20))
    };
    vec![
        mux(
            474,
            0x0301,
            vec![
                tv(0x2801, "Das Erste", Some(1)),
                tv(0x2802, "rbb", None),
                scrambled,
                service(0x2804, "Updates", ServiceKind::Data, None),
            ],
        ),
        mux(
            522,
            0x0302,
            vec![
                tv(0x2901, "ZDF", Some(2)),
                service(0x2902, "Radio Eins", ServiceKind::Radio, Some(50)),
            ],
        ),
    ]
}

#[test]
fn first_scan_then_rescan_keeps_the_technicians_edits() {
    let (_temp, dir, store) = new_store();
    let started = unix_now();
    let report = merge(&store, &first_scan());

    let created: Vec<_> = report
        .inputs_created
        .iter()
        .map(|i| (i.id, i.name.as_str(), i.url.clone()))
        .collect();
    assert_eq!(
        created,
        vec![
            (1, "Berlin 474 MHz", url(474)),
            (2, "Berlin 522 MHz", url(522))
        ]
    );
    let channels: Vec<_> = report
        .channels_created
        .iter()
        .map(|c| {
            (
                c.input_id,
                c.service_id,
                c.number,
                c.name.as_str(),
                c.enabled,
            )
        })
        .collect();
    assert_eq!(
        channels,
        vec![
            (1, 0x2801, 1, "Das Erste", false),
            (1, 0x2802, 3, "rbb", false),
            (2, 0x2901, 2, "ZDF", false),
            (2, 0x2902, 50, "Radio Eins", false),
        ]
    );
    // Skipped services name the input made in the same merge.
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.input_id, s.service_id, s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (1, 0x2803, SkipReason::Scrambled),
            (1, 0x2804, SkipReason::Data)
        ]
    );
    let inputs = store.inputs().expect("inputs");
    assert!(inputs.iter().all(|i| i.enabled && !i.auto_channels));
    let records = store.scans().expect("scans");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].input_id, 1);
    assert_eq!(
        records[0].services.len(),
        4,
        "skipped services are recorded too"
    );
    assert!((started..=unix_now()).contains(&records[0].scanned_at));

    // The technician at work: renames and fine-tunes the input, renumbers, renames,
    // re-addresses and enables channels.
    store
        .update_input(
            1,
            InputPatch {
                name: Some("Roof antenna".into()),
                url: Some("dvb-t://474.166MHz?bandwidth=8MHz&transmission_mode=8k".into()),
                ..InputPatch::default()
            },
        )
        .expect("edit input");
    let ard = by_service(&store, 0x2801);
    store
        .update_channel(
            ard.id,
            ChannelPatch {
                number: Some(101),
                name: Some("ARD".into()),
                address: Some("239.1.1.1:1234".parse().expect("address")),
                enabled: Some(true),
                ..ChannelPatch::default()
            },
        )
        .expect("edit channel");
    let zdf = by_service(&store, 0x2901);
    store
        .update_channel(
            zdf.id,
            ChannelPatch {
                enabled: Some(true),
                ..ChannelPatch::default()
            },
        )
        .expect("enable");
    let inputs_before = store.inputs().expect("inputs");
    let channels_before = store.channels().expect("channels");
    drop(store);

    // Months later: new names and numbers from the broadcaster, and a new service
    // whose LCN 1 is free now that the technician moved ARD to 101.
    let store = Store::open(&dir).expect("reopen");
    let mut again = first_scan();
    again[0].services[0] = tv(0x2801, "Das Erste HD", Some(7));
    again[0].services[1].name = "rbb Berlin".into();
    again[0].services.push(tv(0x2805, "tagesschau24", Some(1)));
    again[1].services[0].lcn = Some(9);
    let report = merge(&store, &again);

    assert_eq!(store.inputs().expect("inputs"), inputs_before);
    let channels_after = store.channels().expect("channels");
    for channel in &channels_before {
        assert!(
            channels_after.contains(channel),
            "{} changed",
            channel.describe()
        );
    }
    assert_eq!(report.inputs_created, Vec::new());
    let updated: Vec<_> = report
        .inputs_updated
        .iter()
        .map(|u| (u.id, u.name.as_str(), u.previous_url.clone(), u.matched_by))
        .collect();
    assert_eq!(
        updated,
        vec![
            (1, "Roof antenna", None, MatchedBy::Ids),
            (2, "Berlin 522 MHz", None, MatchedBy::Ids),
        ]
    );
    let new: Vec<_> = report
        .channels_created
        .iter()
        .map(|c| (c.service_id, c.number))
        .collect();
    assert_eq!(new, vec![(0x2805, 1)]);
    assert_eq!(report.channels_moved, Vec::new());
    assert_eq!(report.missing, Vec::new());
    // The record follows the broadcast.
    let record = store.scan(1).expect("read").expect("record");
    assert_eq!(record.services, again[0].services);
}

#[test]
fn a_moved_service_takes_its_channel_along_untouched() {
    let (_temp, _dir, store) = new_store();
    merge(
        &store,
        &[
            mux(474, 0x0301, vec![tv(1, "One", None), tv(2, "Two", None)]),
            mux(522, 0x0302, vec![tv(3, "Three", None)]),
        ],
    );
    let two = by_service(&store, 2);
    let two = store
        .update_channel(
            two.id,
            ChannelPatch {
                number: Some(42),
                name: Some("Two (bar)".into()),
                enabled: Some(true),
                ..ChannelPatch::default()
            },
        )
        .expect("edit");
    assert_eq!(two.input_id, 1);

    let report = merge(
        &store,
        &[
            mux(474, 0x0301, vec![tv(1, "One", None)]),
            mux(522, 0x0302, vec![tv(2, "Two", None), tv(3, "Three", None)]),
        ],
    );
    assert_eq!(report.channels_moved.len(), 1);
    let moved = &report.channels_moved[0];
    assert_eq!(
        (
            moved.id,
            moved.from_input_id,
            moved.to_input_id,
            moved.number
        ),
        (two.id, 1, 2, 42)
    );
    assert_eq!(
        store.channel(two.id).expect("read"),
        Some(ChannelConfig { input_id: 2, ..two }),
        "only the input changed"
    );
    assert_eq!(report.channels_created, Vec::new());
    assert_eq!(report.missing, Vec::new());
}

#[test]
fn a_replanned_multiplex_keeps_its_input_and_channels() {
    let (_temp, _dir, store) = new_store();
    merge(&store, &[mux(474, 0x0301, vec![tv(1, "One", Some(1))])]);
    let channel = by_service(&store, 1);

    let report = merge(&store, &[mux(482, 0x0301, vec![tv(1, "One", Some(1))])]);
    assert_eq!(report.inputs_created, Vec::new());
    assert_eq!(report.inputs_updated.len(), 1);
    assert_eq!(report.inputs_updated[0].previous_url, Some(url(474)));
    let input = store.input(1).expect("read").expect("input");
    assert_eq!(input.url, url(482));
    assert_eq!(input.name, "Berlin 482 MHz", "the merge's own name follows");
    assert_eq!(
        store.scan(1).expect("read").expect("record").tuning,
        dvbt(482)
    );
    assert_eq!(store.channels().expect("channels"), vec![channel]);
}

#[test]
fn a_hand_typed_dvb_input_is_recognised_by_its_url() {
    let (_temp, _dir, store) = new_store();
    let input = store
        .add_input(NewInput {
            name: "Alexanderplatz".into(),
            url: "dvb-t://474.166MHz?bandwidth=8MHz".into(),
            enabled: true,
            auto_channels: false,
        })
        .expect("add input");
    store
        .add_channel(NewChannel::new(input.id, 1, "ARD"))
        .expect("add channel");
    let report = merge(
        &store,
        &[mux(
            474,
            0x0301,
            vec![tv(1, "Das Erste", None), tv(2, "rbb", None)],
        )],
    );
    assert_eq!(report.inputs_created, Vec::new());
    assert_eq!(report.inputs_updated[0].matched_by, MatchedBy::Tuning);
    assert_eq!(
        store.input(input.id).expect("read"),
        Some(input.clone()),
        "the technician's URL stays"
    );
    let services: Vec<_> = report
        .channels_created
        .iter()
        .map(|c| (c.input_id, c.service_id))
        .collect();
    assert_eq!(services, vec![(input.id, 2)]);
}

#[test]
fn missing_services_are_reported_and_keep_their_channels() {
    let (_temp, _dir, store) = new_store();
    merge(
        &store,
        &[mux(474, 1, vec![tv(1, "One", None), tv(2, "Two", None)])],
    );
    let before = store.channels().expect("channels");
    let report = merge(&store, &[mux(474, 1, vec![tv(1, "One", None)])]);
    assert_eq!(report.missing.len(), 1);
    let missing = &report.missing[0];
    assert_eq!((missing.input_id, missing.service_id), (1, 2));
    assert_eq!(missing.name, "Two");
    assert_eq!(missing.channel_ids, vec![by_service(&store, 2).id]);
    assert_eq!(store.channels().expect("channels"), before);
}

#[test]
fn enable_new_and_lcn_conflicts_through_the_store() {
    let (_temp, _dir, store) = new_store();
    let iptv = store
        .add_input(NewInput {
            name: "IPTV".into(),
            url: "udp://@239.1.1.1:1234".into(),
            enabled: true,
            auto_channels: false,
        })
        .expect("add input");
    let info = store
        .add_channel(NewChannel::new(iptv.id, 7, "Hotel info"))
        .expect("add channel");
    assert_eq!(info.number, 1);
    let report = store
        .merge_scan(
            &[mux(
                474,
                1,
                vec![tv(1, "One", Some(1)), tv(2, "Two", Some(3))],
            )],
            &MergeOptions { enable_new: true },
        )
        .expect("merge");
    let created: Vec<_> = report
        .channels_created
        .iter()
        .map(|c| (c.service_id, c.number, c.enabled))
        .collect();
    assert_eq!(created, vec![(1, 2, true), (2, 3, true)]);
    assert!(by_service(&store, 1).enabled);
    // Pool addresses after the one channel 1 has.
    assert_eq!(
        by_service(&store, 2).output.address.to_string(),
        "239.255.1.3:5000"
    );
    assert!(
        report.inputs_not_found.is_empty(),
        "a udp input is not a multiplex the scan could find"
    );
}

#[test]
fn a_refused_merge_leaves_nothing_behind() {
    let (_temp, dir, store) = new_store();
    merge(&store, &[mux(474, 1, vec![tv(1, "One", None)])]);
    store
        .set_settings(&Settings {
            pool: "239.255.1.0/30".parse().expect("cidr"),
            ..Settings::default()
        })
        .expect("settings");
    drop(store);
    let before = raw_contents(&dir);

    let store = Store::open(&dir).expect("reopen");
    // The pool (three addresses, one used) cannot hold three more channels.
    let crowded = [
        mux(474, 1, vec![tv(1, "One", None), tv(2, "Two", None)]),
        mux(522, 2, vec![tv(3, "Three", None), tv(4, "Four", None)]),
    ];
    match store.merge_scan(&crowded, &MergeOptions::default()) {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains("exhausted"), "{message}")
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    // A bad multiplex late in the scan refuses the good ones before it too.
    let bad_late = [
        mux(522, 2, vec![tv(3, "Three", None)]),
        mux(530, 3, vec![tv(0, "Zero", None)]),
    ];
    match store.merge_scan(&bad_late, &MergeOptions::default()) {
        Err(StoreError::Invalid(message)) => {
            assert!(message.contains("530MHz"), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    drop(store);
    assert_eq!(
        raw_contents(&dir),
        before,
        "a refused merge changed the database"
    );
}

#[test]
fn a_merge_failing_inside_its_transaction_leaves_nothing_behind() {
    let (_temp, dir, store) = new_store();
    merge(&store, &[mux(474, 1, vec![tv(1, "One", None)])]);
    drop(store);
    // Channel ids used up: the merge writes its new input and record, then fails on
    // the channel, inside the one transaction.
    {
        let db = dvbgate_store::sled_config(&dir).open().expect("raw open");
        db.open_tree("meta")
            .expect("meta")
            .insert("next_channel_id", &u32::MAX.to_be_bytes())
            .expect("insert");
        db.flush().expect("flush");
    }
    let before = raw_contents(&dir);

    let store = Store::open(&dir).expect("reopen");
    let scan = [
        mux(474, 1, vec![tv(1, "One renamed", None)]),
        mux(522, 2, vec![tv(2, "Two", None), tv(3, "Three", None)]),
    ];
    match store.merge_scan(&scan, &MergeOptions::default()) {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains("channel ids"), "{message}")
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    drop(store);
    assert_eq!(
        raw_contents(&dir),
        before,
        "a failed merge changed the database"
    );
}

#[test]
fn removing_an_input_removes_its_scan_record() {
    let (_temp, _dir, store) = new_store();
    merge(
        &store,
        &[
            mux(474, 1, vec![tv(1, "One", None)]),
            mux(522, 2, vec![tv(2, "Two", None)]),
        ],
    );
    store.remove_input(1).expect("remove");
    assert_eq!(store.scan(1).expect("read"), None);
    assert!(store.scan(2).expect("read").is_some());
    store.verify().expect("consistent");
    // Scanned again, the multiplex is a new input.
    let report = merge(&store, &[mux(474, 1, vec![tv(1, "One", None)])]);
    assert_eq!(report.inputs_created.len(), 1);
    assert_eq!(report.inputs_created[0].id, 3);
}

#[test]
fn report_and_options_as_json() {
    let (_temp, _dir, store) = new_store();
    let report = merge(&store, &first_scan());
    let json = serde_json::to_value(&report).expect("serialize");
    let mut keys: Vec<_> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "channels_created",
            "channels_moved",
            "duplicates",
            "inputs_created",
            "inputs_not_found",
            "inputs_updated",
            "missing",
            "skipped"
        ]
    );
    assert_eq!(json["skipped"][0]["reason"], "scrambled");
    assert_eq!(json["skipped"][1]["reason"], "data");
    assert_eq!(json["channels_created"][0]["name"], "Das Erste");
    let back: MergeReport = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, report);

    let options: MergeOptions = serde_json::from_str("{}").expect("defaults");
    assert!(!options.enable_new);
    assert!(serde_json::from_str::<MergeOptions>(r#"{"enabled_new":true}"#).is_err());
}
