//! Tuner settings through the store: upsert, patch, removal, order, persistence, and
//! that a refused change leaves nothing behind.

mod common;

use std::path::PathBuf;

use common::raw_contents;
use dvbgate_store::{Store, StoreError, TunerPatch, TunerSettings};
use dvbgate_tuning::sec::TunerSetup;
use dvbgate_tuning::unicable::{UnicableSetup, UnicableStandard};

fn new_store() -> (tempfile::TempDir, PathBuf, Store) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    let store = Store::open(&dir).expect("open a new store");
    (temp, dir, store)
}

fn unicable(user_band: u8) -> TunerSetup {
    TunerSetup {
        lnb_power: false,
        unicable: Some(UnicableSetup {
            standard: UnicableStandard::En50494,
            user_band,
            user_band_frequency_hz: 1_210_000_000,
            pin: None,
        }),
    }
}

fn invalid<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn set_read_patch_remove_and_reopen() {
    let (_temp, dir, store) = new_store();
    assert_eq!(store.tuners().expect("tuners"), Vec::new());
    assert_eq!(store.tuner("adapter0/frontend0").expect("read"), None);

    let roof = TunerSettings {
        label: Some("Roof dish".into()),
        setup: unicable(2),
        ..TunerSettings::new("adapter0/frontend0")
    };
    store.set_tuner(&roof).expect("set");
    assert_eq!(
        store.tuner("adapter0/frontend0").expect("read"),
        Some(roof.clone())
    );

    // A patch of a tuner without settings starts from the defaults.
    let out = store
        .update_tuner(
            "adapter10/frontend0",
            TunerPatch {
                enabled: Some(false),
                ..TunerPatch::default()
            },
        )
        .expect("patch");
    assert_eq!(
        out,
        TunerSettings {
            enabled: false,
            ..TunerSettings::new("adapter10/frontend0")
        }
    );
    store
        .set_tuner(&TunerSettings::new("adapter2/frontend1"))
        .expect("set");

    // A patch of a stored tuner changes only what it sets.
    let patched = store
        .update_tuner(
            "adapter0/frontend0",
            TunerPatch {
                label: Some(None),
                ..TunerPatch::default()
            },
        )
        .expect("patch");
    assert_eq!(
        patched,
        TunerSettings {
            label: None,
            ..roof.clone()
        }
    );

    drop(store);
    let store = Store::open(&dir).expect("reopen");
    let keys: Vec<_> = store
        .tuners()
        .expect("tuners")
        .into_iter()
        .map(|tuner| tuner.key)
        .collect();
    assert_eq!(
        keys,
        [
            "adapter0/frontend0",
            "adapter2/frontend1",
            "adapter10/frontend0"
        ],
        "numbered order, not byte order"
    );
    store.verify().expect("consistent");

    store.remove_tuner("adapter2/frontend1").expect("remove");
    assert_eq!(store.tuner("adapter2/frontend1").expect("read"), None);
    match store.remove_tuner("adapter2/frontend1") {
        Err(StoreError::NotFound(message)) => {
            assert!(message.contains("\"adapter2/frontend1\""), "{message}")
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn refused_tuner_changes_leave_nothing_behind() {
    let (_temp, dir, store) = new_store();
    store
        .set_tuner(&TunerSettings {
            setup: unicable(7),
            ..TunerSettings::new("adapter0/frontend0")
        })
        .expect("set");
    drop(store);
    let before = raw_contents(&dir);

    let store = Store::open(&dir).expect("reopen");
    let message = invalid(store.set_tuner(&TunerSettings {
        setup: unicable(8),
        ..TunerSettings::new("adapter1/frontend0")
    }));
    assert!(
        message.contains("tuner adapter1/frontend0: Unicable user band 8 is out of range 0..=7"),
        "{message}"
    );
    invalid(store.set_tuner(&TunerSettings::new("adapter1")));
    invalid(store.update_tuner("dvb0", TunerPatch::default()));
    // A patch that would make the stored settings invalid is refused whole: the
    // label in it is not applied either.
    let bad = unicable(40);
    invalid(store.update_tuner(
        "adapter0/frontend0",
        TunerPatch {
            label: Some(Some("Roof".into())),
            setup: Some(bad),
            ..TunerPatch::default()
        },
    ));
    drop(store);
    assert_eq!(
        raw_contents(&dir),
        before,
        "a refused call changed the database"
    );
}
