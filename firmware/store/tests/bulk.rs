//! `Store::update_channels`: several channel patches as one change, checked together.

mod common;

use std::path::PathBuf;

use common::raw_contents;
use dvbgate_store::{ChannelConfig, ChannelPatch, NewChannel, NewInput, Store, StoreError};

fn new_store() -> (tempfile::TempDir, PathBuf, Store) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    let store = Store::open(&dir).expect("open a new store");
    (temp, dir, store)
}

/// A store with one input and channels 1 "One", 2 "Two", 3 "Three" at the pool's
/// first three addresses.
fn three_channels() -> (tempfile::TempDir, PathBuf, Store, Vec<ChannelConfig>) {
    let (temp, dir, store) = new_store();
    let input = store
        .add_input(NewInput {
            name: "Sat".into(),
            url: "udp://@239.1.1.1:1234".into(),
            enabled: true,
            auto_channels: false,
        })
        .expect("input");
    let channels = ["One", "Two", "Three"]
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            store
                .add_channel(NewChannel::new(input.id, 100 + i as u16, name))
                .expect("channel")
        })
        .collect();
    (temp, dir, store, channels)
}

fn numbered(number: u16) -> ChannelPatch {
    ChannelPatch {
        number: Some(number),
        ..ChannelPatch::default()
    }
}

/// Runs a bulk change that must be refused; checks that the channels did not change
/// and the indexes still agree with them, and returns the error.
fn refused(store: &Store, patches: &[(u32, ChannelPatch)]) -> StoreError {
    let before = store.channels().expect("channels");
    let error = store.update_channels(patches).expect_err("refused");
    assert_eq!(store.channels().expect("channels"), before);
    store.verify().expect("consistent");
    error
}

#[test]
fn channels_swap_numbers_and_addresses_in_one_call() {
    let (_temp, dir, store, channels) = three_channels();
    let [one, two, three] = &channels[..] else {
        panic!("three channels")
    };
    let updated = store
        .update_channels(&[
            (
                one.id,
                ChannelPatch {
                    number: Some(2),
                    address: Some(two.output.address),
                    ..ChannelPatch::default()
                },
            ),
            (
                two.id,
                ChannelPatch {
                    number: Some(1),
                    address: Some(one.output.address),
                    enabled: Some(false),
                    ..ChannelPatch::default()
                },
            ),
        ])
        .expect("swap");
    assert_eq!(updated.len(), 2);
    assert_eq!((updated[0].id, updated[0].number), (one.id, 2));
    assert_eq!(updated[0].output.address, two.output.address);
    assert_eq!((updated[1].id, updated[1].number), (two.id, 1));
    assert!(!updated[1].enabled);
    let by_number: Vec<(u16, String)> = store
        .channels()
        .expect("channels")
        .into_iter()
        .map(|c| (c.number, c.name))
        .collect();
    assert_eq!(
        by_number,
        [
            (1, "Two".to_string()),
            (2, "One".to_string()),
            (3, "Three".to_string())
        ]
    );
    assert_eq!(
        store.channel_by_number(1).expect("read").map(|c| c.id),
        Some(two.id)
    );
    store.verify().expect("indexes follow the swap");
    // The freed number is not anybody's: a three-way rotation works too.
    store
        .update_channels(&[
            (one.id, numbered(3)),
            (two.id, numbered(2)),
            (three.id, numbered(1)),
        ])
        .expect("rotate");
    store.verify().expect("consistent");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    assert_eq!(
        store.channel_by_number(1).expect("read").map(|c| c.id),
        Some(three.id)
    );
    store.verify().expect("durable and consistent");
}

#[test]
fn one_bad_patch_refuses_them_all() {
    let (_temp, dir, store, channels) = three_channels();
    let [one, two, three] = &channels[..] else {
        panic!("three channels")
    };
    let raw_before = {
        let backup = store.backup().expect("backup");
        (backup.channels, backup.inputs)
    };

    // The second patch moves a number onto a channel nobody patched.
    let error = refused(&store, &[(one.id, numbered(50)), (two.id, numbered(3))]);
    match error {
        StoreError::Conflict(message) => assert_eq!(
            message,
            format!(
                "channel number 3 is already used by channel 3 \"Three\" (id {})",
                three.id
            )
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Two patched channels end on the same address.
    let error = refused(
        &store,
        &[
            (
                one.id,
                ChannelPatch {
                    address: Some("239.255.9.9:5000".parse().expect("address")),
                    ..ChannelPatch::default()
                },
            ),
            (
                three.id,
                ChannelPatch {
                    address: Some("239.255.9.9:5000".parse().expect("address")),
                    ..ChannelPatch::default()
                },
            ),
        ],
    );
    match error {
        StoreError::Conflict(message) => assert_eq!(
            message,
            format!(
                "address 239.255.9.9:5000 is already used by channel 1 \"One\" (id {})",
                one.id
            )
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A field rule, named with the channel.
    let error = refused(
        &store,
        &[
            (one.id, numbered(10)),
            (
                two.id,
                ChannelPatch {
                    ttl: Some(Some(0)),
                    ..ChannelPatch::default()
                },
            ),
        ],
    );
    match error {
        StoreError::Invalid(message) => {
            assert!(message.starts_with("channel 2 \"Two\""), "{message}");
            assert!(message.contains("TTL 0"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // A missing channel, input or category.
    assert!(matches!(
        refused(&store, &[(one.id, numbered(10)), (999, numbered(11))]),
        StoreError::NotFound(_)
    ));
    let moved = ChannelPatch {
        input_id: Some(77),
        ..ChannelPatch::default()
    };
    match refused(&store, &[(one.id, moved)]) {
        StoreError::NotFound(message) => assert!(message.contains("input with id 77"), "{message}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let categorised = ChannelPatch {
        category_id: Some(Some(55)),
        ..ChannelPatch::default()
    };
    match refused(&store, &[(two.id, categorised)]) {
        StoreError::Invalid(message) => {
            assert!(message.contains("category with id 55"), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let after = store.backup().expect("backup");
    assert_eq!((after.channels, after.inputs), raw_before);
    drop(store);
    // The refusals wrote nothing: not even an index entry.
    let raw = raw_contents(&dir);
    let numbers = raw
        .keys()
        .filter(|(tree, _)| tree.as_slice() == b"numbers")
        .count();
    assert_eq!(numbers, 3);
}

#[test]
fn patches_of_one_channel_apply_in_order_and_nothing_is_nothing() {
    let (_temp, _dir, store, channels) = three_channels();
    assert_eq!(store.update_channels(&[]).expect("nothing"), Vec::new());
    let one = &channels[0];
    let renamed = ChannelPatch {
        name: Some("First".into()),
        ..ChannelPatch::default()
    };
    let updated = store
        .update_channels(&[
            (one.id, numbered(40)),
            (one.id, renamed),
            (one.id, numbered(41)),
        ])
        .expect("update");
    assert_eq!(updated.len(), 1);
    assert_eq!((updated[0].number, updated[0].name.as_str()), (41, "First"));
    assert_eq!(store.channel_by_number(40).expect("read"), None);
    store.verify().expect("consistent");
}
