//! The merge decision on its own: configuration + scan + options → plan.

use std::net::SocketAddr;

use dvbgate_tuning::params::{Lnb, Polarisation, Switch};
use dvbgate_tuning::{DeliverySystem, Tuning};

use super::*;
use crate::model::{OutputConfig, Protocol};
use crate::scan::{MAX_SCAN_TEXT_CHARS, MAX_SERVICES_PER_MUX};

const NOW: u64 = 1_750_000_000;
const ONID: u16 = 0x2114;

fn terrestrial(system: DeliverySystem, hz: u64) -> Tuning {
    Tuning {
        system,
        frequency_hz: hz,
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

fn dvbt(mhz: u64) -> Tuning {
    terrestrial(DeliverySystem::DvbT, mhz * 1_000_000)
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

fn record(input_id: u32, mux: &ScannedMux) -> ScanRecord {
    mux.to_record(input_id, NOW - 86_400)
}

fn input(id: u32, name: &str, url: &str) -> InputConfig {
    InputConfig {
        id,
        name: name.into(),
        url: url.into(),
        enabled: true,
        auto_channels: false,
    }
}

/// An input as a previous merge left it: its URL, and the record of `scanned`.
fn scanned_input(id: u32, name: &str, scanned: &ScannedMux) -> ExistingInput {
    ExistingInput {
        config: input(id, name, &scanned.url),
        url_tuning: scanned.url.parse().ok(),
        record: Some(record(id, scanned)),
    }
}

fn channel(id: u32, input_id: u32, service_id: u16, number: u16, name: &str) -> ChannelConfig {
    ChannelConfig {
        id,
        input_id,
        service_id,
        number,
        name: name.into(),
        enabled: true,
        output: OutputConfig {
            address: format!("239.255.1.{id}:5000").parse().expect("address"),
            protocol: Protocol::Udp,
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

fn state(inputs: Vec<ExistingInput>, channels: Vec<ChannelConfig>) -> MergeState {
    MergeState {
        settings: Settings::default(),
        inputs,
        channels,
    }
}

fn plan_of(state: &MergeState, scan: &[ScannedMux]) -> Plan {
    plan(state, scan, &MergeOptions::default(), NOW).expect("plan")
}

/// (target, service id, number, name, address, enabled) of each new channel.
fn created(plan: &Plan) -> Vec<(Target, u16, u16, String, String, bool)> {
    plan.new_channels
        .iter()
        .map(|(target, c)| {
            (
                *target,
                c.service_id,
                c.number,
                c.name.clone(),
                c.output.address.to_string(),
                c.enabled,
            )
        })
        .collect()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("address")
}

#[test]
fn first_scan_creates_inputs_records_and_channels() {
    let scrambled = ScannedService {
        scrambled: true,
        ..tv(0x2803, "Sky Cinema", Some(20))
    };
    let scan = [
        mux(
            474,
            0x0301,
            vec![
                tv(0x2801, "Das Erste", Some(1)),
                service(0x2802, "Radio Eins", ServiceKind::Radio, None),
                scrambled,
                service(0x2804, "Updates", ServiceKind::Data, None),
            ],
        ),
        ScannedMux {
            network_name: String::new(),
            ..mux(522, 0x0302, vec![tv(0x2901, "ZDF", Some(2))])
        },
    ];
    let plan = plan_of(&state(Vec::new(), Vec::new()), &scan);

    let inputs: Vec<_> = plan
        .new_inputs
        .iter()
        .map(|i| (i.name.as_str(), i.url.as_str(), i.enabled, i.auto_channels))
        .collect();
    assert_eq!(
        inputs,
        vec![
            ("Berlin 474 MHz", url(474).as_str(), true, false),
            ("DVB-T 522 MHz", url(522).as_str(), true, false),
        ]
    );
    assert_eq!(plan.records.len(), 2);
    let (target, first) = &plan.records[0];
    assert_eq!(*target, Target::New(0));
    assert_eq!(first.tuning, dvbt(474));
    assert_eq!(
        (first.original_network_id, first.transport_stream_id),
        (Some(ONID), 0x0301)
    );
    assert_eq!(first.network_id, Some(0x3001));
    assert_eq!(first.scanned_at, NOW);
    assert_eq!(
        first.services, scan[0].services,
        "every service is recorded"
    );
    assert_eq!(plan.records[1].0, Target::New(1));

    // LCNs 1 and 2 taken as they are; the radio has none and gets the lowest number
    // left after them. Pool addresses in order; off by default.
    assert_eq!(
        created(&plan),
        vec![
            (
                Target::New(0),
                0x2801,
                1,
                "Das Erste".into(),
                "239.255.1.1:5000".into(),
                false
            ),
            (
                Target::New(0),
                0x2802,
                3,
                "Radio Eins".into(),
                "239.255.1.2:5000".into(),
                false
            ),
            (
                Target::New(1),
                0x2901,
                2,
                "ZDF".into(),
                "239.255.1.3:5000".into(),
                false
            ),
        ]
    );
    let skipped: Vec<_> = plan
        .skipped
        .iter()
        .map(|(target, s)| (*target, s.service_id, s.name.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (Target::New(0), 0x2803, "Sky Cinema", SkipReason::Scrambled),
            (Target::New(0), 0x2804, "Updates", SkipReason::Data),
        ]
    );
    assert!(plan.moves.is_empty());
    assert!(plan.missing.is_empty());
    assert!(plan.duplicates.is_empty());
    assert!(plan.changed_inputs.is_empty());
    assert!(plan.inputs_updated.is_empty());
    assert!(plan.inputs_not_found.is_empty());
}

#[test]
fn enable_new_switches_new_channels_on() {
    let scan = [mux(474, 1, vec![tv(10, "One", None), tv(11, "Two", None)])];
    let options = MergeOptions { enable_new: true };
    let plan = plan(&state(Vec::new(), Vec::new()), &scan, &options, NOW).expect("plan");
    assert_eq!(plan.new_channels.len(), 2);
    assert!(plan.new_channels.iter().all(|(_, c)| c.enabled));
    let off = plan_of(&state(Vec::new(), Vec::new()), &scan);
    assert!(off.new_channels.iter().all(|(_, c)| !c.enabled));
}

#[test]
fn rescan_keeps_the_technicians_edits() {
    let first = mux(
        474,
        0x0301,
        vec![tv(0x2801, "Das Erste", Some(1)), tv(0x2802, "rbb", Some(3))],
    );
    // The technician renamed the input, fine-tuned its URL, and renamed, renumbered,
    // re-addressed and disabled the channels.
    let mut existing = scanned_input(1, "Roof antenna, Berlin", &first);
    existing.config.url = "dvb-t://474.166MHz?bandwidth=8MHz&transmission_mode=8k".into();
    existing.config.enabled = false;
    existing.url_tuning = existing.config.url.parse().ok();
    assert!(existing.url_tuning.is_some(), "the edited URL parses");
    let mut one = channel(1, 1, 0x2801, 101, "ARD (Lobby)");
    one.output.address = addr("239.1.1.1:1234");
    one.enabled = false;
    let three = channel(2, 1, 0x2802, 7, "Regional");
    let before = state(vec![existing.clone()], vec![one, three]);

    // The broadcaster renamed a service and changed its LCN.
    let again = mux(
        474,
        0x0301,
        vec![
            tv(0x2801, "Das Erste HD", Some(5)),
            tv(0x2802, "rbb Berlin", Some(3)),
        ],
    );
    let plan = plan_of(&before, std::slice::from_ref(&again));
    assert!(plan.new_inputs.is_empty());
    assert!(plan.changed_inputs.is_empty(), "the input record is kept");
    assert!(plan.new_channels.is_empty(), "both services have channels");
    assert!(plan.moves.is_empty());
    assert!(plan.missing.is_empty());
    assert_eq!(
        plan.inputs_updated,
        vec![InputUpdate {
            id: 1,
            name: "Roof antenna, Berlin".into(),
            url: existing.config.url.clone(),
            previous_url: None,
            matched_by: MatchedBy::Ids,
        }]
    );
    // The record follows the broadcast.
    let (target, record) = &plan.records[0];
    assert_eq!(*target, Target::Existing(1));
    assert_eq!(record.services, again.services);
    assert_eq!(record.scanned_at, NOW);
}

#[test]
fn a_hand_made_dvb_input_is_matched_by_its_tuning() {
    let hand_made = ExistingInput {
        config: input(4, "Alexanderplatz", "dvb-t://474.166MHz?bandwidth=8MHz"),
        url_tuning: "dvb-t://474.166MHz?bandwidth=8MHz".parse().ok(),
        record: None,
    };
    let udp = ExistingInput {
        config: input(2, "IPTV", "udp://@239.1.1.1:1234"),
        url_tuning: None,
        record: None,
    };
    let before = state(vec![udp, hand_made], vec![channel(1, 4, 0x2801, 1, "ARD")]);
    let plan = plan_of(
        &before,
        &[mux(
            474,
            0x0301,
            vec![tv(0x2801, "Das Erste", Some(1)), tv(0x2802, "rbb", None)],
        )],
    );
    assert!(plan.new_inputs.is_empty());
    assert_eq!(plan.inputs_updated.len(), 1);
    assert_eq!(plan.inputs_updated[0].matched_by, MatchedBy::Tuning);
    assert_eq!(plan.inputs_updated[0].previous_url, None, "the URL stays");
    assert_eq!(plan.records[0].0, Target::Existing(4));
    let created = created(&plan);
    assert_eq!(created.len(), 1, "ARD has its channel: {created:?}");
    assert_eq!(
        (created[0].0, created[0].1, created[0].2),
        (Target::Existing(4), 0x2802, 2)
    );
    // The address skips the one channel 1 has (239.255.1.1).
    assert_eq!(created[0].4, "239.255.1.2:5000");
}

#[test]
fn a_replanned_multiplex_keeps_its_input_and_the_url_follows() {
    // Multiplex X moved from 474 to 482 MHz, and Y took over 474 MHz.
    let x_before = mux(474, 0x0301, vec![tv(0x2801, "Das Erste", Some(1))]);
    let y_before = mux(530, 0x0302, vec![tv(0x2901, "ZDF", Some(2))]);
    let named_by_merge = scanned_input(1, "Berlin 474 MHz", &x_before);
    let named_by_hand = scanned_input(2, "ZDF mux", &y_before);
    let before = state(
        vec![named_by_merge, named_by_hand],
        vec![
            channel(1, 1, 0x2801, 1, "Das Erste"),
            channel(2, 2, 0x2901, 2, "ZDF"),
        ],
    );
    let scan = [
        mux(474, 0x0302, y_before.services.clone()),
        mux(482, 0x0301, x_before.services.clone()),
    ];
    let plan = plan_of(&before, &scan);

    // Ids win over the frequency: Y (now on 474) is input 2, X (now on 482) input 1.
    assert_eq!(
        plan.records
            .iter()
            .map(|(target, r)| (*target, r.transport_stream_id))
            .collect::<Vec<_>>(),
        vec![(Target::Existing(2), 0x0302), (Target::Existing(1), 0x0301)]
    );
    assert!(plan.new_inputs.is_empty());
    let mut changed = plan.changed_inputs.clone();
    changed.sort_by_key(|input| input.id);
    assert_eq!(
        changed,
        vec![
            // The name the merge gave follows the frequency...
            input(1, "Berlin 482 MHz", &url(482)),
            // ...a name the technician gave stays.
            input(2, "ZDF mux", &url(474)),
        ]
    );
    let previous: Vec<_> = plan
        .inputs_updated
        .iter()
        .map(|u| (u.id, u.previous_url.clone(), u.matched_by))
        .collect();
    assert_eq!(
        previous,
        vec![
            (2, Some(url(530)), MatchedBy::Ids),
            (1, Some(url(474)), MatchedBy::Ids),
        ]
    );
    assert!(plan.new_channels.is_empty());
    assert!(plan.moves.is_empty());
    assert!(plan.missing.is_empty());
}

#[test]
fn a_new_delivery_system_changes_the_url_even_on_the_same_frequency() {
    let old = mux(474, 0x0301, vec![tv(0x2801, "Das Erste", Some(1))]);
    let before = state(vec![scanned_input(1, "Berlin", &old)], Vec::new());
    let t2 = ScannedMux {
        url: "dvb-t2://474MHz?bandwidth=8MHz".into(),
        tuning: terrestrial(DeliverySystem::DvbT2, 474_000_000),
        ..old.clone()
    };
    let plan = plan_of(&before, std::slice::from_ref(&t2));
    assert_eq!(plan.changed_inputs.len(), 1);
    assert_eq!(plan.changed_inputs[0].url, t2.url);
    assert_eq!(plan.inputs_updated[0].previous_url, Some(url(474)));
}

#[test]
fn lcn_conflicts_fall_back_to_the_lowest_free_number() {
    // Number 1 is taken by a channel of an unrelated input.
    let udp = ExistingInput {
        config: input(9, "IPTV", "udp://@239.1.1.1:1234"),
        url_tuning: None,
        record: None,
    };
    let before = state(vec![udp], vec![channel(1, 9, 7, 1, "Hotel info")]);
    let scan = [mux(
        474,
        1,
        vec![
            tv(10, "No LCN, listed first", None),
            tv(11, "LCN taken by a channel", Some(1)),
            tv(12, "LCN 5", Some(5)),
            tv(13, "LCN 5 again", Some(5)),
            tv(14, "LCN 2", Some(2)),
            tv(15, "LCN 0", Some(0)),
            tv(16, "LCN out of range", Some(10_000)),
        ],
    )];
    let plan = plan_of(&before, &scan);
    let numbers: Vec<_> = created(&plan).iter().map(|c| (c.1, c.2)).collect();
    // LCNs 5 and 2 are claimed first; then, in scan order, the lowest free numbers:
    // 3, 4, 6, 7, 8. The service without an LCN does not take number 2.
    assert_eq!(
        numbers,
        vec![
            (10, 3),
            (11, 4),
            (12, 5),
            (13, 6),
            (14, 2),
            (15, 7),
            (16, 8)
        ]
    );
}

#[test]
fn a_service_that_moved_takes_its_channel_along() {
    let a = mux(474, 0x0301, vec![tv(1, "One", None), tv(2, "Two", None)]);
    let b = mux(522, 0x0302, vec![tv(3, "Three", None)]);
    let mut two = channel(2, 1, 2, 42, "Two (lobby)");
    two.enabled = false;
    let before = state(
        vec![scanned_input(1, "A", &a), scanned_input(2, "B", &b)],
        vec![
            channel(1, 1, 1, 1, "One"),
            two.clone(),
            channel(3, 2, 3, 3, "Three"),
        ],
    );
    // Service 2 went from A to B.
    let scan = [
        mux(474, 0x0301, vec![tv(1, "One", None)]),
        mux(522, 0x0302, vec![tv(2, "Two", None), tv(3, "Three", None)]),
    ];
    let plan = plan_of(&before, &scan);
    assert_eq!(plan.moves, vec![(two, Target::Existing(2))]);
    assert!(plan.new_channels.is_empty());
    assert!(plan.missing.is_empty(), "{:?}", plan.missing);
}

#[test]
fn a_service_that_moved_to_a_new_multiplex_follows_it_there() {
    let a = mux(474, 0x0301, vec![tv(1, "One", None), tv(2, "Two", None)]);
    let before = state(
        vec![scanned_input(1, "A", &a)],
        vec![channel(1, 1, 1, 1, "One"), channel(2, 1, 2, 2, "Two")],
    );
    let scan = [
        mux(474, 0x0301, vec![tv(1, "One", None)]),
        mux(
            610,
            0x0303,
            vec![tv(2, "Two", None), tv(4, "Four", Some(4))],
        ),
    ];
    let plan = plan_of(&before, &scan);
    assert_eq!(plan.new_inputs.len(), 1);
    assert_eq!(plan.moves.len(), 1);
    assert_eq!((plan.moves[0].0.id, plan.moves[0].1), (2, Target::New(0)));
    let created = created(&plan);
    assert_eq!(created.len(), 1);
    assert_eq!((created[0].0, created[0].1), (Target::New(0), 4));
}

#[test]
fn no_move_while_the_old_multiplex_still_carries_the_service_or_networks_differ() {
    let a = mux(474, 0x0301, vec![tv(1, "One", None), tv(2, "Two", None)]);
    let before = state(
        vec![scanned_input(1, "A", &a)],
        vec![channel(1, 1, 1, 1, "One"), channel(2, 1, 2, 2, "Two")],
    );
    // Service 2 shows up on B too, but A still carries it: a second copy, not a move.
    let still_there = [
        a.clone(),
        mux(522, 0x0302, vec![tv(2, "Two (regional)", None)]),
    ];
    let plan = plan_of(&before, &still_there);
    assert!(plan.moves.is_empty());
    assert_eq!(
        created(&plan).len(),
        1,
        "B's copy gets a channel of its own"
    );

    // Service 2 left A, and a service 2 appears in another original network: not
    // the same service.
    let other_network = [
        mux(474, 0x0301, vec![tv(1, "One", None)]),
        ScannedMux {
            original_network_id: Some(ONID + 1),
            ..mux(522, 0x0302, vec![tv(2, "Elsewhere", None)])
        },
    ];
    let plan = plan_of(&before, &other_network);
    assert!(plan.moves.is_empty());
    assert_eq!(created(&plan).len(), 1);
    assert_eq!(plan.missing.len(), 1);
    assert_eq!(plan.missing[0].channel_ids, vec![2]);
}

#[test]
fn services_no_longer_found_are_missing_and_keep_their_channels() {
    let a = mux(
        474,
        0x0301,
        vec![
            tv(1, "One", None),
            tv(2, "Two", None),
            service(3, "Updates", ServiceKind::Data, None),
        ],
    );
    let before = state(
        vec![scanned_input(1, "A", &a)],
        vec![
            channel(1, 1, 1, 1, "One"),
            channel(2, 1, 2, 2, "Two (bar)"),
            channel(3, 1, 2, 3, "Two (no AD)"),
            // A channel the technician added for a service no scan ever listed.
            channel(4, 1, 9, 4, "Test card"),
        ],
    );
    let plan = plan_of(&before, &[mux(474, 0x0301, vec![tv(1, "One", None)])]);
    assert!(plan.new_channels.is_empty());
    assert!(plan.moves.is_empty());
    assert_eq!(
        plan.missing,
        vec![
            MissingService {
                input_id: 1,
                service_id: 2,
                name: "Two".into(),
                channel_ids: vec![2, 3],
            },
            MissingService {
                input_id: 1,
                service_id: 3,
                name: "Updates".into(),
                channel_ids: Vec::new(),
            },
            MissingService {
                input_id: 1,
                service_id: 9,
                name: "Test card".into(),
                channel_ids: vec![4],
            },
        ]
    );
}

#[test]
fn an_existing_channel_of_a_scrambled_service_is_neither_skipped_nor_touched() {
    let a = mux(474, 1, vec![tv(1, "Pay", None)]);
    let before = state(
        vec![scanned_input(1, "A", &a)],
        vec![channel(1, 1, 1, 1, "Pay (CAM)")],
    );
    let scrambled = ScannedService {
        scrambled: true,
        ..tv(1, "Pay", None)
    };
    let plan = plan_of(&before, &[mux(474, 1, vec![scrambled])]);
    assert!(plan.skipped.is_empty());
    assert!(plan.new_channels.is_empty());
    assert!(plan.missing.is_empty());
    assert!(plan.changed_inputs.is_empty());
}

#[test]
fn the_first_copy_of_a_duplicated_multiplex_wins() {
    let scan = [
        mux(474, 0x0301, vec![tv(1, "One", None)]),
        mux(690, 0x0301, vec![tv(1, "One", None)]),
        // Same frequency, other transport stream: a second PLP, not a duplicate.
        mux(474, 0x0309, vec![tv(9, "Nine", None)]),
    ];
    let plan = plan_of(&state(Vec::new(), Vec::new()), &scan);
    assert_eq!(
        plan.duplicates,
        vec![DuplicateMux {
            url: url(690),
            same_as: url(474),
        }]
    );
    assert_eq!(plan.new_inputs.len(), 2);
    assert_eq!(created(&plan).len(), 2);
}

#[test]
fn inputs_the_scan_did_not_find_are_reported() {
    let a = mux(474, 1, vec![tv(1, "One", None)]);
    let b = mux(522, 2, vec![tv(2, "Two", None)]);
    let udp = ExistingInput {
        config: input(3, "IPTV", "udp://@239.1.1.1:1234"),
        url_tuning: None,
        record: None,
    };
    let before = state(
        vec![scanned_input(1, "A", &a), scanned_input(2, "B", &b), udp],
        vec![channel(1, 2, 2, 2, "Two")],
    );
    let plan = plan_of(&before, &[a]);
    assert_eq!(
        plan.inputs_not_found,
        vec![InputSummary {
            id: 2,
            name: "B".into(),
            url: url(522),
        }]
    );
    assert!(
        plan.missing.is_empty(),
        "B was not scanned: nothing is missing"
    );
}

#[test]
fn refusals_name_the_multiplex_and_the_rule() {
    let empty = state(Vec::new(), Vec::new());
    let refused = |scan: &[ScannedMux]| match plan(&empty, scan, &MergeOptions::default(), NOW) {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let message = refused(&[mux(474, 7, vec![tv(0, "Zero", None)])]);
    assert!(message.contains("dvb-t://474MHz"), "{message}");
    assert!(message.contains("tsid 7"), "{message}");
    assert!(message.contains("service id 0"), "{message}");
    let message = refused(&[mux(474, 7, vec![tv(5, "A", None), tv(5, "B", None)])]);
    assert!(
        message.contains("service id 5 is listed twice"),
        "{message}"
    );
    let message = refused(&[ScannedMux {
        url: url(522),
        ..mux(474, 7, Vec::new())
    }]);
    assert!(
        message.contains("the scan tuned DVB-T at 474000000 Hz"),
        "{message}"
    );
    let message = refused(&[ScannedMux {
        url: "udp://@239.1.1.1:1234".into(),
        ..mux(474, 7, Vec::new())
    }]);
    assert!(message.contains("not a DVB tuning"), "{message}");
    let many: Vec<_> = (1..=MAX_SERVICES_PER_MUX as u16 + 1)
        .map(|sid| tv(sid, "x", None))
        .collect();
    let message = refused(&[mux(474, 7, many)]);
    assert!(message.contains("513 services"), "{message}");
}

#[test]
fn an_exhausted_pool_refuses_the_whole_merge() {
    let tiny = MergeState {
        settings: Settings {
            pool: "239.255.1.0/30".parse().expect("cidr"),
            ..Settings::default()
        },
        inputs: Vec::new(),
        channels: Vec::new(),
    };
    let services: Vec<_> = (1..=4).map(|sid| tv(sid, "x", None)).collect();
    match plan(
        &tiny,
        &[mux(474, 1, services)],
        &MergeOptions::default(),
        NOW,
    ) {
        Err(StoreError::Conflict(message)) => {
            assert!(
                message.contains("pool 239.255.1.0/30 is exhausted"),
                "{message}"
            )
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[test]
fn broadcast_names_are_made_storable() {
    let long = "N".repeat(300);
    let scan = [ScannedMux {
        network_name: "\u{86}Berlin\u{87} ".into(),
        ..mux(
            474,
            1,
            vec![
                tv(42, "  ", None),
                tv(43, "Das\u{8a}Erste", None),
                tv(44, &long, None),
            ],
        )
    }];
    let plan = plan_of(&state(Vec::new(), Vec::new()), &scan);
    assert_eq!(plan.new_inputs[0].name, "Berlin 474 MHz");
    let names: Vec<_> = created(&plan).into_iter().map(|c| c.3).collect();
    assert_eq!(
        names,
        vec!["Service 42".to_string(), "DasErste".into(), "N".repeat(128)]
    );
    let services = &plan.records[0].1.services;
    assert_eq!(services[1].name, "DasErste");
    assert_eq!(services[2].name, "N".repeat(MAX_SCAN_TEXT_CHARS));
    validate_scan_record(&plan.records[0].1).expect("storable");
}

#[test]
fn input_names() {
    assert_eq!(input_name("", &dvbt(474)), "DVB-T 474 MHz");
    assert_eq!(
        input_name("ZDFmobil", &terrestrial(DeliverySystem::DvbT2, 474_166_000)),
        "ZDFmobil 474.166 MHz"
    );
    let satellite = Tuning {
        system: DeliverySystem::DvbS2,
        frequency_hz: 11_362_000_000,
        params: Params::Satellite {
            polarisation: Polarisation::H,
            symbol_rate: 22_000_000,
            fec: None,
            modulation: None,
            rolloff: None,
            stream_id: None,
            lnb: Lnb::Universal,
            switch: Switch::default(),
        },
    };
    assert_eq!(input_name("", &satellite), "DVB-S2 11362 MHz H");
    let long = input_name(&"x".repeat(300), &dvbt(474));
    assert_eq!(long.chars().count(), MAX_NAME_CHARS);
    assert!(long.ends_with("x 474 MHz"), "{long}");
    assert_eq!(megahertz(474_500_000), "474.5");
    assert_eq!(megahertz(57_028_615), "57.029");
}
