//! XC users and channel categories through the store's API: uniqueness, references
//! between channels, users and categories, hashing on create and patch, durability.

use std::path::PathBuf;

use dvbgate_store::{
    CATEGORY_RADIO, CATEGORY_TV, Category, ChannelPatch, NewChannel, NewInput, NewUser, Store,
    StoreError, UserPatch, verify_password,
};

fn new_store() -> (tempfile::TempDir, PathBuf, Store) {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    let store = Store::open(&dir).expect("open");
    (temp, dir, store)
}

fn message(result: Result<impl std::fmt::Debug, StoreError>, kind: &str) -> String {
    match (kind, result) {
        ("conflict", Err(StoreError::Conflict(message)))
        | ("invalid", Err(StoreError::Invalid(message)))
        | ("not found", Err(StoreError::NotFound(message))) => message,
        (_, other) => panic!("expected {kind}, got {other:?}"),
    }
}

fn add_input(store: &Store) -> u32 {
    store
        .add_input(NewInput {
            name: "Sat".into(),
            url: "udp://@239.1.1.1:1234".into(),
            enabled: true,
            auto_channels: false,
        })
        .expect("add input")
        .id
}

#[test]
fn users_are_created_hashed_and_found_by_exact_name() {
    let (_temp, dir, store) = new_store();
    let user = store
        .add_user(NewUser {
            max_connections: 3,
            note: "room 12".into(),
            ..NewUser::new("Room12", "s3cret.pw")
        })
        .expect("add");
    assert_eq!(user.id, 1);
    assert!(user.enabled);
    assert_eq!(user.max_connections, 3);
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(!user.password_hash.contains("s3cret"));
    assert!(verify_password(&user.password_hash, "s3cret.pw"));
    assert!(!verify_password(&user.password_hash, "S3cret.pw"));
    assert!(user.created_at > 1_700_000_000, "{}", user.created_at);

    assert_eq!(store.user(1).expect("read"), Some(user.clone()));
    assert_eq!(
        store.user_by_name("Room12").expect("read"),
        Some(user.clone())
    );
    // Logins match the exact spelling.
    assert_eq!(store.user_by_name("room12").expect("read"), None);
    assert_eq!(store.user_by_name("ROOM12").expect("read"), None);
    assert_eq!(store.user_by_name("nobody").expect("read"), None);

    let second = store
        .add_user(NewUser::new("room13", "pw"))
        .expect("add another");
    assert_eq!(second.id, 2);
    assert_eq!(
        store.users().expect("list"),
        vec![user.clone(), second.clone()]
    );
    store.verify().expect("consistent");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    assert_eq!(store.users().expect("list"), vec![user, second]);
}

#[test]
fn duplicate_usernames_are_refused_even_by_case() {
    let (_temp, _dir, store) = new_store();
    store.add_user(NewUser::new("Room12", "pw")).expect("first");
    let text = message(store.add_user(NewUser::new("Room12", "other")), "conflict");
    assert_eq!(text, "username \"Room12\" already exists");
    let text = message(store.add_user(NewUser::new("rOOm12", "other")), "conflict");
    assert_eq!(
        text,
        "username \"rOOm12\" differs from the existing user \"Room12\" only by case"
    );
    // The refused requests used no id.
    assert_eq!(
        store
            .add_user(NewUser::new("room13", "pw"))
            .expect("other name")
            .id,
        2
    );
    // Removing a user frees its name (in any case).
    store.remove_user(1).expect("remove");
    assert_eq!(store.user_by_name("Room12").expect("read"), None);
    let again = store
        .add_user(NewUser::new("room12", "pw"))
        .expect("name is free");
    assert_eq!(again.id, 3);
    message(store.remove_user(1), "not found");
    store.verify().expect("consistent");
}

#[test]
fn bad_user_requests_are_refused_naming_the_field() {
    let (_temp, _dir, store) = new_store();
    let cases = [
        (NewUser::new("room 12", "pw"), "username"),
        (NewUser::new("", "pw"), "username"),
        (NewUser::new("room12", "p/w"), "password"),
        (NewUser::new("room12", ""), "password"),
        (
            NewUser {
                max_connections: 0,
                ..NewUser::new("room12", "pw")
            },
            "max_connections",
        ),
        (
            NewUser {
                note: "a\tb".into(),
                ..NewUser::new("room12", "pw")
            },
            "note",
        ),
        (
            NewUser {
                categories: vec![CATEGORY_TV, 99],
                ..NewUser::new("room12", "pw")
            },
            "categories",
        ),
    ];
    for (request, field) in cases {
        let shown = format!("{request:?}");
        let text = message(store.add_user(request), "invalid");
        assert!(text.contains(field), "{shown}: {text}");
    }
    assert_eq!(store.users().expect("list"), Vec::new());
    store.verify().expect("nothing half-written");
}

#[test]
fn patches_rehash_passwords_and_keep_the_rest() {
    let (_temp, _dir, store) = new_store();
    let sport = store.add_category("Sport").expect("category");
    let user = store
        .add_user(NewUser::new("room12", "old-pw"))
        .expect("add");
    let patched = store
        .update_user(
            user.id,
            UserPatch {
                password: Some("new-pw".into()),
                ..UserPatch::default()
            },
        )
        .expect("new password");
    assert_ne!(patched.password_hash, user.password_hash);
    assert!(verify_password(&patched.password_hash, "new-pw"));
    assert!(!verify_password(&patched.password_hash, "old-pw"));
    assert_eq!(
        (patched.username.as_str(), patched.created_at),
        ("room12", user.created_at)
    );

    let patched = store
        .update_user(
            user.id,
            UserPatch {
                enabled: Some(false),
                expires_at: Some(Some(1_900_000_000)),
                max_connections: Some(5),
                categories: Some(vec![sport.id, CATEGORY_TV, sport.id]),
                note: Some("VIP".into()),
                ..UserPatch::default()
            },
        )
        .expect("patch");
    assert!(!patched.enabled);
    assert_eq!(patched.expires_at, Some(1_900_000_000));
    assert_eq!(patched.max_connections, 5);
    assert_eq!(patched.categories, vec![CATEGORY_TV, sport.id]);
    assert_eq!(patched.note, "VIP");
    assert!(verify_password(&patched.password_hash, "new-pw"));

    // null clears the expiry; refused patches change nothing.
    let cleared = store
        .update_user(
            user.id,
            UserPatch {
                expires_at: Some(None),
                ..UserPatch::default()
            },
        )
        .expect("clear expiry");
    assert_eq!(cleared.expires_at, None);
    for (patch, field) in [
        (
            UserPatch {
                max_connections: Some(101),
                ..UserPatch::default()
            },
            "max_connections",
        ),
        (
            UserPatch {
                categories: Some(vec![42]),
                ..UserPatch::default()
            },
            "categories",
        ),
        (
            UserPatch {
                password: Some("has space".into()),
                ..UserPatch::default()
            },
            "password",
        ),
    ] {
        let text = message(store.update_user(user.id, patch), "invalid");
        assert!(text.contains(field), "{text}");
    }
    assert_eq!(store.user(user.id).expect("read"), Some(cleared));
    message(store.update_user(99, UserPatch::default()), "not found");
}

#[test]
fn categories_are_seeded_unique_and_renamable() {
    let (_temp, dir, store) = new_store();
    let seeded = vec![
        Category {
            id: CATEGORY_TV,
            name: "TV".into(),
        },
        Category {
            id: CATEGORY_RADIO,
            name: "Radio".into(),
        },
    ];
    assert_eq!(store.categories().expect("list"), seeded);

    let news = store.add_category("News").expect("add");
    assert_eq!(news.id, 3);
    // The same name in any case is the same category.
    assert_eq!(store.add_category("news").expect("again"), news);
    assert_eq!(store.add_category("tv").expect("seeded").id, CATEGORY_TV);
    let sport = store.add_category("Sport").expect("add");
    assert_eq!(sport.id, 4);

    for bad in ["", "  ", "a\nb", &"x".repeat(65)] {
        let text = message(store.add_category(bad), "invalid");
        assert!(text.starts_with("category name"), "{text}");
    }

    let renamed = store
        .rename_category(news.id, "Nachrichten")
        .expect("rename");
    assert_eq!(renamed.name, "Nachrichten");
    store
        .rename_category(CATEGORY_TV, "Fernsehen")
        .expect("the seeded ones can be renamed");
    let text = message(store.rename_category(sport.id, "NACHRICHTEN"), "conflict");
    assert!(text.contains("category 3 \"Nachrichten\""), "{text}");
    store
        .rename_category(sport.id, "SPORT")
        .expect("a change of case of its own name");
    message(store.rename_category(99, "X"), "not found");
    store.verify().expect("consistent");
    drop(store);
    let store = Store::open(&dir).expect("reopen");
    let names: Vec<_> = store
        .categories()
        .expect("list")
        .into_iter()
        .map(|category| category.name)
        .collect();
    assert_eq!(names, ["Fernsehen", "Radio", "Nachrichten", "SPORT"]);
}

#[test]
fn categories_in_use_cannot_be_removed() {
    let (_temp, _dir, store) = new_store();
    let input = add_input(&store);
    let news = store.add_category("News").expect("add");
    let sport = store.add_category("Sport").expect("add");
    let kids = store.add_category("Kids").expect("add");

    // A channel or a user naming an unknown category is refused.
    let text = message(
        store.add_channel(NewChannel {
            category_id: Some(99),
            ..NewChannel::new(input, 1, "CNN")
        }),
        "invalid",
    );
    assert!(text.contains("category_id"), "{text}");
    assert!(text.contains("99"), "{text}");
    assert_eq!(store.channels().expect("list"), Vec::new());

    let channel = store
        .add_channel(NewChannel {
            category_id: Some(news.id),
            xmltv_id: Some("cnn.us".into()),
            ..NewChannel::new(input, 1, "CNN")
        })
        .expect("add");
    assert_eq!(channel.category_id, Some(news.id));
    assert_eq!(channel.xmltv_id.as_deref(), Some("cnn.us"));
    assert!(channel.created_at > 1_700_000_000);
    let text = message(
        store.update_channel(
            channel.id,
            ChannelPatch {
                category_id: Some(Some(98)),
                ..ChannelPatch::default()
            },
        ),
        "invalid",
    );
    assert!(text.contains("category_id"), "{text}");
    store
        .add_user(NewUser {
            categories: vec![sport.id],
            ..NewUser::new("room12", "pw")
        })
        .expect("user");

    let text = message(store.remove_category(news.id), "conflict");
    assert!(text.contains("channel 1 \"CNN\""), "{text}");
    let text = message(store.remove_category(sport.id), "conflict");
    assert!(text.contains("\"room12\""), "{text}");
    for seeded in [CATEGORY_TV, CATEGORY_RADIO] {
        message(store.remove_category(seeded), "conflict");
    }
    store.remove_category(kids.id).expect("unused");
    message(store.remove_category(kids.id), "not found");

    // Once nothing refers to them, they go.
    let moved = store
        .update_channel(
            channel.id,
            ChannelPatch {
                category_id: Some(None),
                xmltv_id: Some(None),
                ..ChannelPatch::default()
            },
        )
        .expect("back to by-type");
    assert_eq!((moved.category_id, moved.xmltv_id), (None, None));
    assert_eq!(moved.created_at, channel.created_at);
    store.remove_category(news.id).expect("now unused");
    store.remove_user(1).expect("remove user");
    store.remove_category(sport.id).expect("now unused");
    let ids: Vec<_> = store
        .categories()
        .expect("list")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [CATEGORY_TV, CATEGORY_RADIO]);
    // Ids are never reused.
    assert_eq!(store.add_category("News").expect("add").id, 6);
    store.verify().expect("consistent");
}

#[test]
fn bad_xmltv_ids_are_refused() {
    let (_temp, _dir, store) = new_store();
    let input = add_input(&store);
    for bad in ["", " ", "a\u{7}b", &"x".repeat(129)] {
        let text = message(
            store.add_channel(NewChannel {
                xmltv_id: Some(bad.into()),
                ..NewChannel::new(input, 1, "CNN")
            }),
            "invalid",
        );
        assert!(text.starts_with("xmltv_id"), "{text}");
    }
    store
        .add_channel(NewChannel {
            xmltv_id: Some("x".repeat(128)),
            ..NewChannel::new(input, 1, "CNN")
        })
        .expect("128 characters");
}
