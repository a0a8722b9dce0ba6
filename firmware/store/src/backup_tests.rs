//! Backup, restore and factory reset.

use std::path::PathBuf;

use super::*;
use crate::{NewChannel, NewInput, NewUser, TunerPatch};

/// A store with a bit of everything: the v3 sample (settings away from the defaults,
/// inputs with gaps in their ids, channels with every override, a scanned DVB input
/// with its scan record, tuner settings), plus a category, a channel in it and a user.
fn populated() -> (tempfile::TempDir, PathBuf, Store) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    crate::v3::write_sample(&dir).expect("sample");
    let store = Store::open(&dir).expect("open");
    let news = store.add_category("News").expect("category");
    store
        .add_channel(NewChannel {
            category_id: Some(news.id),
            xmltv_id: Some("news24.de".into()),
            ..NewChannel::new(1, 104, "World News")
        })
        .expect("channel");
    store
        .add_user(NewUser {
            categories: vec![news.id, CATEGORY_TV],
            expires_at: Some(2_000_000_000),
            note: "room 12".into(),
            ..NewUser::new("Room12", "guest-pw")
        })
        .expect("user");
    store
        .set_admin_password("the admin password")
        .expect("password");
    (temp, dir, store)
}

/// The backup without its time, to compare two configurations.
fn records(store: &Store) -> Backup {
    Backup {
        created_at: 0,
        ..store.backup().expect("backup")
    }
}

fn refused(store: &Store, backup: &Backup) -> String {
    let before = records(store);
    let message = match store.restore(backup) {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    };
    assert_eq!(
        records(store),
        before,
        "a refused restore changed something"
    );
    assert!(
        store
            .verify_admin_password("the admin password")
            .expect("verify")
    );
    store.verify().expect("consistent");
    message
}

#[test]
fn backup_holds_every_record_but_the_admin_password() {
    let (_temp, _dir, store) = populated();
    let backup = store.backup().expect("backup");
    assert_eq!(backup.format, "dvbgate-backup");
    assert_eq!(backup.schema, SCHEMA_VERSION);
    assert!(backup.created_at > 1_700_000_000, "{}", backup.created_at);
    assert_eq!(backup.settings, store.settings().expect("settings"));
    assert_eq!(backup.inputs.len(), 3);
    assert_eq!(backup.channels.len(), 6);
    assert_eq!(backup.categories.len(), 3);
    assert_eq!(backup.users.len(), 1);
    assert_eq!(backup.tuners.len(), 1);
    assert_eq!(backup.scans.len(), 1);
    let json = serde_json::to_string(&backup).expect("json");
    assert!(json.contains("\"password_hash\":\"$argon2id$"), "{json}");
    let admin_hash = store.admin_password_hash().expect("read").expect("set");
    assert!(!json.contains(&admin_hash));
    assert!(!json.contains("admin"), "{json}");
    // Through JSON and back unchanged (what the API's download and upload do).
    let parsed: Backup = serde_json::from_str(&json).expect("parse");
    assert_eq!(parsed, backup);
}

#[test]
fn round_trip_through_a_factory_reset() {
    let (_temp, dir, store) = populated();
    let backup = store.backup().expect("backup");
    let before = records(&store);
    let user = &backup.users[0];

    store.factory_reset().expect("reset");
    assert!(!store.admin_password_set().expect("read"));
    assert_eq!(store.settings().expect("settings"), Settings::default());
    assert!(store.inputs().expect("inputs").is_empty());
    assert!(store.channels().expect("channels").is_empty());
    assert!(store.users().expect("users").is_empty());
    assert!(store.tuners().expect("tuners").is_empty());
    assert!(store.scans().expect("scans").is_empty());
    assert_eq!(
        store.categories().expect("categories"),
        seeded_categories().to_vec()
    );
    store.verify().expect("consistent after the reset");
    // Usable, and as new: ids start again at 1.
    let input = store
        .add_input(NewInput {
            name: "Fresh".into(),
            url: "udp://@239.9.9.9:1234".into(),
            enabled: true,
            auto_channels: false,
        })
        .expect("add input");
    assert_eq!(input.id, 1);
    assert_eq!(store.add_category("Sport").expect("category").id, 3);
    store
        .set_admin_password("a new password")
        .expect("password");

    let summary = store.restore(&backup).expect("restore");
    assert_eq!(
        summary,
        RestoreSummary {
            inputs: 3,
            channels: 6,
            users: 1,
            categories: 3,
            tuners: 1,
            scans: 1,
        }
    );
    assert_eq!(records(&store), before);
    store.verify().expect("consistent after the restore");
    // The password set after the reset stays; the user's hash came back as it was.
    assert!(
        store
            .verify_admin_password("a new password")
            .expect("verify")
    );
    let restored = store
        .user_by_name("Room12")
        .expect("read")
        .expect("restored");
    assert_eq!(restored.password_hash, user.password_hash);
    assert!(crate::verify_password(&restored.password_hash, "guest-pw"));

    // The counters are past every restored id, and the indexes work.
    let highest_channel = backup.channels.iter().map(|c| c.id).max().expect("some");
    let added = store
        .add_channel(NewChannel::new(1, 999, "After restore"))
        .expect("add");
    assert_eq!(added.id, highest_channel + 1);
    assert_eq!(store.add_category("Kids").expect("category").id, 4);
    let taken = NewChannel {
        number: Some(backup.channels[0].number),
        ..NewChannel::new(1, 998, "Clash")
    };
    assert!(matches!(
        store.add_channel(taken),
        Err(StoreError::Conflict(_))
    ));
    let clash = store.add_user(NewUser::new("room12", "pw"));
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");

    // Durable.
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    let mut expected = before;
    expected.channels.push(added);
    expected.channels.sort_by_key(|c| c.number);
    expected.categories.push(Category {
        id: 4,
        name: "Kids".into(),
    });
    assert_eq!(records(&store), expected);
    store.verify().expect("consistent");
}

#[test]
fn restore_keeps_counters_that_were_ahead() {
    let (_temp, _dir, store) = populated();
    let backup = store.backup().expect("backup");
    // Ids handed out after the backup are not handed out again.
    for number in [500, 501, 502] {
        store
            .add_channel(NewChannel {
                number: Some(number),
                ..NewChannel::new(1, number, format!("Later {number}"))
            })
            .expect("add");
    }
    let last = store
        .channels()
        .expect("channels")
        .iter()
        .map(|c| c.id)
        .max();
    store.restore(&backup).expect("restore");
    let added = store
        .add_channel(NewChannel::new(1, 600, "Next"))
        .expect("add");
    assert_eq!(Some(added.id), last.map(|id| id + 1));
    store.verify().expect("consistent");
}

#[test]
fn a_backup_with_only_the_essentials_restores_with_defaults() {
    let (_temp, _dir, store) = populated();
    let json = r#"{"format": "dvbgate-backup", "schema": 4, "created_at": 1750000000,
        "categories": [{"id": 1, "name": "TV"}, {"id": 2, "name": "Radio"}]}"#;
    let backup: Backup = serde_json::from_str(json).expect("parse");
    let summary = store.restore(&backup).expect("restore");
    assert_eq!(
        summary,
        RestoreSummary {
            categories: 2,
            ..RestoreSummary::default()
        }
    );
    assert_eq!(store.settings().expect("settings"), Settings::default());
    assert!(store.channels().expect("channels").is_empty());
    store.verify().expect("consistent");
}

#[test]
fn unknown_fields_are_refused_when_parsing() {
    let json = r#"{"format": "dvbgate-backup", "schema": 4, "created_at": 0,
        "admin_password": "x"}"#;
    let error = serde_json::from_str::<Backup>(json).expect_err("unknown field");
    assert!(error.to_string().contains("admin_password"), "{error}");
}

#[test]
fn every_broken_rule_is_refused_naming_the_record() {
    let (_temp, _dir, store) = populated();
    let good = store.backup().expect("backup");
    let by_number = |backup: &Backup, number: u16| {
        backup
            .channels
            .iter()
            .position(|c| c.number == number)
            .expect("channel")
    };
    type Break = Box<dyn Fn(&mut Backup)>;
    let cases: Vec<(&str, Break, &str)> = vec![
        (
            "format",
            Box::new(|b| b.format = "something-else".into()),
            "not a dvbgate backup: its format is \"something-else\"",
        ),
        (
            "old schema",
            Box::new(|b| b.schema = 3),
            "the backup has schema 3; this dvbgate restores schemas 4 to",
        ),
        (
            "newer schema",
            Box::new(|b| b.schema = SCHEMA_VERSION + 1),
            "written by a newer dvbgate",
        ),
        (
            "settings",
            Box::new(|b| b.settings.pool = "10.1.0.0/24".parse().expect("cidr")),
            "settings: address pool 10.1.0.0/24 is not IPv4 multicast",
        ),
        (
            "input id twice",
            Box::new(|b| b.inputs[1].id = b.inputs[0].id),
            "input 1 \"Hotel info loop\": id 1 is used twice",
        ),
        (
            "input id 0",
            Box::new(|b| b.inputs[0].id = 0),
            "input 0 \"IPTV feed\": id 0 is not an id",
        ),
        (
            "input name",
            Box::new(|b| b.inputs[0].name = " ".into()),
            "input 1 \" \": input name must not be empty",
        ),
        (
            "channel input",
            Box::new(move |b| {
                let i = by_number(b, 7);
                b.channels[i].input_id = 42;
            }),
            "channel 7 \"Sport HD\": its input 42 is not in the backup",
        ),
        (
            "channel number twice",
            Box::new(move |b| {
                let i = by_number(b, 7);
                b.channels[i].number = 2;
            }),
            "number 2 is already used by channel 2 \"rbb Berlin\"",
        ),
        (
            "channel address twice",
            Box::new(move |b| {
                let (i, j) = (by_number(b, 3), by_number(b, 2));
                b.channels[i].output.address = b.channels[j].output.address;
            }),
            "channel 3 \"radioeins\": multicast 239.255.3.2:5006 is already used by channel 2 \
             \"rbb Berlin\"",
        ),
        (
            "channel id twice",
            Box::new(|b| b.channels[1].id = b.channels[0].id),
            "id 1 is used twice",
        ),
        (
            "channel invalid",
            Box::new(move |b| {
                let i = by_number(b, 7);
                b.channels[i].output.ttl = Some(0);
            }),
            "channel 7 \"Sport HD\": TTL 0",
        ),
        (
            "channel category",
            Box::new(move |b| {
                let i = by_number(b, 100);
                b.channels[i].category_id = Some(77);
            }),
            "channel 100 \"Hotel Info\": its category 77 is not in the backup",
        ),
        (
            "category TV missing",
            Box::new(|b| b.categories.retain(|c| c.id != CATEGORY_TV)),
            "the backup has no category 1 (TV)",
        ),
        (
            "category name twice",
            Box::new(|b| b.categories[2].name = "radio".into()),
            "category 3 \"radio\": the name is already used by category 2",
        ),
        (
            "category id twice",
            Box::new(|b| {
                let mut twin = b.categories[2].clone();
                twin.name = "Weather".into();
                b.categories.push(twin);
            }),
            "category 3 \"Weather\": id 3 is used twice",
        ),
        (
            "category in use missing",
            Box::new(|b| b.categories.retain(|c| c.id != 3)),
            "\"World News\": its category 3 is not in the backup",
        ),
        (
            "username twice",
            Box::new(|b| {
                let mut twin = b.users[0].clone();
                twin.id = 9;
                twin.username = "ROOM12".into();
                b.users.push(twin);
            }),
            "user \"ROOM12\": the username differs from user \"Room12\" only by case",
        ),
        (
            "username invalid",
            Box::new(|b| b.users[0].username = "room 12".into()),
            "user \"room 12\": username \"room 12\" may only contain",
        ),
        (
            "password hash",
            Box::new(|b| b.users[0].password_hash = "plain text".into()),
            "user \"Room12\": password_hash is not an argon2id hash",
        ),
        (
            "password hash asking for more memory than a verification gets",
            Box::new(|b| {
                b.users[0].password_hash = b.users[0].password_hash.replace("m=12288,", "m=13312,");
            }),
            "user \"Room12\": password_hash is not an argon2id hash (PHC string \
             \"$argon2id$v=19$m=…\") of at most 12288 KiB and 16 passes",
        ),
        (
            "user with too many allowed categories",
            Box::new(|b| b.users[0].categories = vec![CATEGORY_TV; 1_001]),
            "user \"Room12\": 1001 allowed categories; at most 1000 are restored",
        ),
        (
            "too many inputs",
            Box::new(|b| b.inputs = vec![b.inputs[0].clone(); MAX_RESTORE_INPUTS + 1]),
            "the backup has 257 inputs; a restore takes at most 256",
        ),
        (
            "too many channels",
            Box::new(|b| b.channels = vec![b.channels[0].clone(); 10_000]),
            "the backup has 10000 channels; a restore takes at most 9999",
        ),
        (
            "too many users",
            Box::new(|b| b.users = vec![b.users[0].clone(); MAX_RESTORE_USERS + 1]),
            "the backup has 10001 users; a restore takes at most 10000",
        ),
        (
            "too many tuners",
            Box::new(|b| b.tuners = vec![b.tuners[0].clone(); MAX_RESTORE_TUNERS + 1]),
            "the backup has 257 tuners; a restore takes at most 256",
        ),
        (
            "too many scans",
            Box::new(|b| b.scans = vec![b.scans[0].clone(); MAX_RESTORE_SCANS + 1]),
            "the backup has 257 scans; a restore takes at most 256",
        ),
        (
            "user category",
            Box::new(|b| b.users[0].categories.push(55)),
            "user \"Room12\": its allowed category 55 is not in the backup",
        ),
        (
            "tuner key",
            Box::new(|b| b.tuners[0].key = "adapter01/frontend0".into()),
            "tuner key \"adapter01/frontend0\" is not of the form",
        ),
        (
            "tuner twice",
            Box::new(|b| b.tuners.push(b.tuners[0].clone())),
            "tuner adapter1/frontend0: its settings are listed twice",
        ),
        (
            "scan of a missing input",
            Box::new(|b| b.scans[0].input_id = 3_000),
            "scan record of input 3000: the input is not in the backup",
        ),
    ];
    for (name, break_it, expected) in cases {
        let mut backup = good.clone();
        break_it(&mut backup);
        let message = refused(&store, &backup);
        assert!(
            message.contains(expected),
            "{name}: {message:?} does not contain {expected:?}"
        );
    }
    // The good one still restores.
    store.restore(&good).expect("restore");
}

#[test]
fn factory_reset_then_tuner_and_scan_calls_work() {
    let (_temp, dir, store) = populated();
    store.factory_reset().expect("reset");
    store
        .update_tuner(
            "adapter0/frontend0",
            TunerPatch {
                enabled: Some(false),
                ..TunerPatch::default()
            },
        )
        .expect("tuner");
    store
        .merge_scan(&crate::v3::sample_scan(), &crate::MergeOptions::default())
        .expect("merge");
    store.verify().expect("consistent");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    assert!(!store.admin_password_set().expect("read"));
    assert_eq!(store.inputs().expect("inputs")[0].id, 1);
    store.verify().expect("consistent");
}

#[test]
fn a_schema_4_backup_restores_with_hls_on() {
    let (_temp, _dir, store) = populated();
    let sport = store.channel_by_number(7).expect("read").expect("sport");
    store
        .update_channel(
            sport.id,
            crate::ChannelPatch {
                hls: Some(false),
                ..crate::ChannelPatch::default()
            },
        )
        .expect("HLS off");
    // Schema 5 keeps the flag through a backup.
    let current = store.backup().expect("backup");
    assert_eq!(current.schema, 5);
    store.restore(&current).expect("restore");
    assert!(!store.channel(sport.id).expect("read").expect("kept").hls);

    // A schema-4 backup has no `hls` in its channels: they are all offered over HLS.
    let mut json = serde_json::to_value(&current).expect("json");
    json["schema"] = 4.into();
    for channel in json["channels"].as_array_mut().expect("channels") {
        assert!(
            channel
                .as_object_mut()
                .expect("channel")
                .remove("hls")
                .is_some()
        );
    }
    let old: Backup = serde_json::from_value(json).expect("a schema-4 backup parses");
    let summary = store.restore(&old).expect("restore");
    assert_eq!(summary.channels, current.channels.len());
    let channels = store.channels().expect("channels");
    assert!(channels.iter().all(|c| c.hls), "{channels:?}");
    store.verify().expect("consistent");
}

#[test]
#[allow(clippy::print_stdout)] // prints its timings for whoever runs it with --nocapture
fn a_hostile_number_of_categories_is_refused_at_once() {
    let (_temp, _dir, store) = populated();
    let mut backup = store.backup().expect("backup");
    let extra = |count: u32| {
        (10..10 + count).map(|id| Category {
            id,
            name: format!("Category {id}"),
        })
    };
    // 60 000 categories (all distinct): compared pairwise this took minutes.
    let mut hostile = backup.clone();
    hostile.categories.extend(extra(60_000));
    let started = std::time::Instant::now();
    let message = refused(&store, &hostile);
    assert!(
        message.contains("the backup has 60003 categories; a restore takes at most 1000"),
        "{message}"
    );
    let hostile_took = started.elapsed();

    // Up to the cap they restore, and a clash of names among them is found.
    backup
        .categories
        .extend(extra(MAX_RESTORE_CATEGORIES as u32 - 3));
    assert_eq!(backup.categories.len(), MAX_RESTORE_CATEGORIES);
    let mut clash = backup.clone();
    clash.categories.last_mut().expect("categories").name = "category 10".into();
    let message = refused(&store, &clash);
    assert!(
        message.contains("\"category 10\": the name is already used by category 10"),
        "{message}"
    );
    let started = std::time::Instant::now();
    let summary = store.restore(&backup).expect("restore");
    assert_eq!(summary.categories, MAX_RESTORE_CATEGORIES);
    // Figures for the report (no bound asserted: the machine may be busy).
    println!(
        "refused 60003 categories in {hostile_took:?}; restored {} in {:?}",
        summary.categories,
        started.elapsed()
    );
}
