//! Unit tests of the user records: credential rules, hashing, views, JSON shapes.

use super::*;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

fn invalid_message(result: Result<(), StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn user() -> XcUser {
    XcUser {
        id: 3,
        username: "room12".into(),
        password_hash: "$argon2id$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        enabled: true,
        expires_at: None,
        max_connections: 2,
        categories: vec![],
        created_at: 1_750_000_000,
        note: "checked in until Friday".into(),
    }
}

#[test]
fn credentials_take_url_safe_characters_only() {
    for good in ["a", "Room-12", "guest.42_x", &"x".repeat(64)] {
        validate_username(good).expect(good);
        validate_password(good).expect(good);
    }
    for bad in [
        "room 12",
        "zimmer/1",
        "pass?word",
        "100%",
        "a&b",
        "ü",
        "a\nb",
        "#1",
    ] {
        let message = invalid_message(validate_username(bad));
        assert!(message.starts_with("username"), "{message}");
        assert!(message.contains("may only contain"), "{message}");
        let message = invalid_message(validate_password(bad));
        assert!(message.starts_with("password"), "{message}");
    }
    assert!(invalid_message(validate_username("")).contains("must not be empty"));
    let message = invalid_message(validate_username(&"x".repeat(65)));
    assert!(message.contains("65 characters"), "{message}");
}

#[test]
fn password_messages_never_quote_the_password() {
    for secret in ["hunter 2", &"s3cret".repeat(20)] {
        let message = invalid_message(validate_password(secret));
        assert!(!message.contains("hunter"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
    // The username is quoted: the operator needs to see which one was refused.
    assert!(invalid_message(validate_username("bad name")).contains("\"bad name\""));
}

#[test]
fn user_rules() {
    validate_user(&user()).expect("valid");
    for (max_connections, ok) in [(0, false), (1, true), (100, true), (101, false)] {
        let result = validate_user(&XcUser {
            max_connections,
            ..user()
        });
        assert_eq!(result.is_ok(), ok, "{max_connections}: {result:?}");
        if !ok {
            assert!(invalid_message(result).contains("max_connections"));
        }
    }
    let long_note = XcUser {
        note: "n".repeat(257),
        ..user()
    };
    assert!(invalid_message(validate_user(&long_note)).contains("note"));
    validate_user(&XcUser {
        note: "ü".repeat(256),
        ..user()
    })
    .expect("256 characters (512 bytes) are fine");
    let line_break = XcUser {
        note: "room 12\nroom 13".into(),
        ..user()
    };
    assert!(invalid_message(validate_user(&line_break)).contains("control characters"));
    let before_1970 = XcUser {
        expires_at: Some(-1),
        ..user()
    };
    assert!(invalid_message(validate_user(&before_1970)).contains("expires_at"));
}

#[test]
fn hash_verifies_the_right_password_only() {
    let hash = hash_password("Secret-42").expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(
        hash.contains(&format!(
            "m={ARGON2_M_COST_KIB},t={ARGON2_T_COST},p={ARGON2_P_COST}"
        )),
        "{hash}"
    );
    assert!(verify_password(&hash, "Secret-42"));
    assert!(!verify_password(&hash, "secret-42"));
    assert!(!verify_password(&hash, "Secret-42 "));
    assert!(!verify_password(&hash, ""));
    // A fresh salt each time: the same password never gives the same hash.
    let again = hash_password("Secret-42").expect("hash");
    assert_ne!(hash, again);
    assert!(verify_password(&again, "Secret-42"));
}

#[test]
fn unusable_hashes_verify_nothing() {
    let cheap = |algorithm: &str, m: u32| {
        let params = Params::new(m, 1, 1, None).expect("params");
        let algorithm = match algorithm {
            "argon2i" => Algorithm::Argon2i,
            _ => Algorithm::Argon2id,
        };
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password_with_salt(b"pw", b"saltsaltsaltsalt")
            .expect("hash")
            .to_string()
    };
    // Cheap parameters still verify (hashes made with older parameters keep working).
    assert!(verify_password(&cheap("argon2id", 64), "pw"));
    assert!(!verify_password(&cheap("argon2id", 64), "wrong"));
    // Exactly the pool's buffer still verifies.
    assert!(verify_password(&cheap("argon2id", ARGON2_M_COST_KIB), "pw"));
    // Not argon2id, or more memory than the box should spend on one login.
    assert!(!verify_password(&cheap("argon2i", 64), "pw"));
    // The right password, but a hash asking for 1 MiB more than a pool buffer holds:
    // refused unverified.
    assert!(!verify_password(
        &cheap("argon2id", ARGON2_M_COST_KIB + 1024),
        "pw"
    ));
    for garbage in [
        "",
        "pw",
        "$argon2id$",
        "$argon2id$v=19$m=64,t=1,p=1$!!$!!",
        "$md5$x",
    ] {
        assert!(!verify_password(garbage, "pw"), "{garbage}");
    }
}

#[test]
fn pooled_hashes_match_argon2s_own() {
    // Hashes written before the pool (by argon2's allocating API) still verify, and
    // argon2's own verifier accepts the pooled ones: same algorithm, same PHC string.
    let params =
        Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None).expect("params");
    let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let old = reference
        .hash_password(b"Old-Secret")
        .expect("hash")
        .to_string();
    assert!(verify_password(&old, "Old-Secret"));
    assert!(!verify_password(&old, "old-Secret"));
    let pooled = hash_password("New-Secret").expect("hash");
    let parsed = PasswordHash::new(&pooled).expect("a PHC string");
    assert!(reference.verify_password(b"New-Secret", &parsed).is_ok());
    assert!(reference.verify_password(b"New-Secreu", &parsed).is_err());
    // The output is argon2's default 32 bytes, the salt 16: as before the pool.
    assert_eq!(parsed.hash.expect("output").len(), 32);
    assert_eq!(parsed.salt.expect("salt").len(), 16);
}

#[test]
fn concurrent_verifications_share_two_buffers() {
    let hash = hash_password("Right-Password").expect("hash");
    let waits_before = crate::hash_memory::waits();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let hash = &hash;
            scope.spawn(move || {
                for attempt in 0..7 {
                    let wrong = format!("wrong-{thread}-{attempt}");
                    assert!(!verify_password(hash, &wrong));
                    assert!(
                        crate::hash_memory::allocated_buffers() <= crate::hash_memory::POOL_BUFFERS
                    );
                }
            });
        }
    });
    // Other tests of this process hash too; the pool bounds them all together.
    let allocated = crate::hash_memory::allocated_buffers();
    assert!(
        (1..=crate::hash_memory::POOL_BUFFERS).contains(&allocated),
        "{allocated} argon2 buffers allocated"
    );
    // Eight threads on two buffers: some had to wait for one.
    assert!(crate::hash_memory::waits() > waits_before);
    assert!(verify_password(&hash, "Right-Password"));
}

#[test]
fn views_and_logs_leave_the_hash_out() {
    let user = user();
    let view = serde_json::to_value(user.view()).expect("serialize");
    assert_eq!(
        view,
        serde_json::json!({
            "id": 3, "username": "room12", "enabled": true, "expires_at": null,
            "max_connections": 2, "categories": [], "created_at": 1_750_000_000,
            "note": "checked in until Friday",
        })
    );
    let debug = format!("{user:?}");
    assert!(debug.contains("room12"), "{debug}");
    assert!(!debug.contains("argon2"), "{debug}");
    let new = format!("{:?}", NewUser::new("room12", "hunter2"));
    assert!(!new.contains("hunter2"), "{new}");
    let patch = format!(
        "{:?}",
        UserPatch {
            password: Some("hunter2".into()),
            ..UserPatch::default()
        }
    );
    assert!(!patch.contains("hunter2"), "{patch}");
    // The stored record keeps the hash (it is what the store reads back).
    let stored: XcUser =
        serde_json::from_value(serde_json::to_value(&user).expect("serialize")).expect("read");
    assert_eq!(stored, user);
}

#[test]
fn status_and_categories() {
    let now = 1_800_000_000;
    assert_eq!(user().status(now), UserStatus::Active);
    let expired = XcUser {
        expires_at: Some(now),
        ..user()
    };
    assert_eq!(expired.status(now), UserStatus::Expired);
    assert_eq!(expired.status(now - 1), UserStatus::Active);
    let disabled = XcUser {
        enabled: false,
        ..expired
    };
    assert_eq!(disabled.status(now), UserStatus::Disabled);

    assert!(user().allows_category(7));
    let limited = XcUser {
        categories: vec![1, 5],
        ..user()
    };
    assert!(limited.allows_category(5));
    assert!(!limited.allows_category(2));
}

#[test]
fn requests_take_defaults() {
    let new: NewUser =
        serde_json::from_str(r#"{"username": "room12", "password": "pw"}"#).expect("parse");
    assert_eq!(new, NewUser::new("room12", "pw"));
    assert!(new.enabled);
    assert_eq!(new.max_connections, 2);
    assert!(
        serde_json::from_str::<NewUser>(r#"{"username": "a", "password": "b", "x": 1}"#).is_err()
    );

    let patch: UserPatch = serde_json::from_str(r#"{"expires_at": null}"#).expect("parse");
    assert_eq!(patch.expires_at, Some(None));
    let patch: UserPatch = serde_json::from_str(r#"{"note": "x"}"#).expect("parse");
    assert_eq!(patch.expires_at, None);
    assert!(serde_json::from_str::<UserPatch>(r#"{"username": "x"}"#).is_err());
}
