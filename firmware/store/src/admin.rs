//! The administrator's password: the one credential of the web page and the admin API.
//!
//! There is no default password: a new (or factory-reset) store has none, and the API
//! asks for one to be set with a one-time setup code first. The password is kept as an
//! argon2id hash (the parameters of the XC users) under one key of the `meta` tree, on
//! purpose outside every record a backup carries: a backup file handed around the
//! hotel must not let its holder guess the administrator's password offline, and
//! restoring a backup must not lock out whoever restored it.
//!
//! Unlike XC passwords, which apps paste into URLs, the administrator's is typed into a
//! form, so any character goes except control characters (a stray line break from a
//! paste would make a password nobody can type again).

use crate::Store;
use crate::codec::ADMIN_PASSWORD_KEY;
use crate::error::StoreError;
use crate::users::{hash_secret, verify_password};

/// Shortest administrator password, in characters.
pub const MIN_ADMIN_PASSWORD_CHARS: usize = 8;
/// Longest administrator password, in characters (hashing cost grows with it; no pass
/// phrase needs more).
pub const MAX_ADMIN_PASSWORD_CHARS: usize = 256;

/// Checks an administrator password (the message never quotes it).
pub fn validate_admin_password(password: &str) -> Result<(), StoreError> {
    let chars = password.chars().count();
    if chars < MIN_ADMIN_PASSWORD_CHARS {
        return Err(StoreError::Invalid(format!(
            "the administrator password is {chars} characters long; it needs at least \
             {MIN_ADMIN_PASSWORD_CHARS}"
        )));
    }
    if chars > MAX_ADMIN_PASSWORD_CHARS {
        return Err(StoreError::Invalid(format!(
            "the administrator password is {chars} characters long; at most \
             {MAX_ADMIN_PASSWORD_CHARS} are allowed"
        )));
    }
    if password.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "the administrator password contains control characters (line breaks, tabs); \
             use printable characters only"
                .into(),
        ));
    }
    Ok(())
}

impl Store {
    /// Whether an administrator password is set (false on a new or factory-reset
    /// store: the API then asks for the setup code).
    pub fn admin_password_set(&self) -> Result<bool, StoreError> {
        Ok(self.admin_password_hash()?.is_some())
    }

    /// The stored argon2id hash (PHC string) of the administrator password, if one is
    /// set; for a cache of successful verifications that notices a change.
    pub fn admin_password_hash(&self) -> Result<Option<String>, StoreError> {
        self.read(|trees| {
            trees
                .meta
                .get(ADMIN_PASSWORD_KEY)?
                .map(|bytes| {
                    String::from_utf8(bytes.to_vec()).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "tree \"meta\", key {ADMIN_PASSWORD_KEY:?}: the password hash is \
                             not UTF-8"
                        ))
                    })
                })
                .transpose()
        })
    }

    /// Sets (or replaces) the administrator password after checking it: 8..=256
    /// characters, no control characters; else [`StoreError::Invalid`].
    pub fn set_admin_password(&self, password: &str) -> Result<(), StoreError> {
        validate_admin_password(password)?;
        // Hashing takes a while (12 MiB, 3 passes): outside the write lock.
        let hash = hash_secret(password)?;
        self.write(|trees| {
            trees.meta.transaction(|meta| {
                meta.insert(ADMIN_PASSWORD_KEY, hash.as_bytes())?;
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Forgets the administrator password and nothing else: the box is back in setup
    /// (the daemon prints a setup code at its next start) with its configuration kept.
    /// For an installer who lost the password and has the box in hand.
    pub fn clear_admin_password(&self) -> Result<(), StoreError> {
        self.write(|trees| {
            trees.meta.transaction(|meta| {
                meta.remove(ADMIN_PASSWORD_KEY)?;
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Whether `password` is the administrator's; false when none is set. Takes the
    /// time of one argon2id hash (tens to hundreds of milliseconds on the box), so the
    /// caller should limit how many run at once.
    pub fn verify_admin_password(&self, password: &str) -> Result<bool, StoreError> {
        Ok(self
            .admin_password_hash()?
            .is_some_and(|hash| verify_password(&hash, password)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(result: Result<(), StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn password_rules() {
        for good in [
            "8 chars!",
            "correct horse battery staple",
            "pässwörd€",
            &"x".repeat(256),
        ] {
            validate_admin_password(good).expect(good);
        }
        let short = invalid(validate_admin_password("7chars!"));
        assert!(
            short.contains("7 characters") && short.contains("at least 8"),
            "{short}"
        );
        // Characters, not bytes: 7 two-byte letters are still too short.
        assert!(invalid(validate_admin_password("ééééééé")).contains("7 characters"));
        let long = invalid(validate_admin_password(&"y".repeat(257)));
        assert!(
            long.contains("257") && long.contains("at most 256"),
            "{long}"
        );
        let control = invalid(validate_admin_password("secret-password\n"));
        assert!(control.contains("control characters"), "{control}");
        assert!(!control.contains("secret"), "{control}");
    }

    #[test]
    fn set_verify_replace() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let dir = temp.path().join("config");
        let store = Store::open(&dir).expect("open");
        assert!(!store.admin_password_set().expect("read"));
        assert_eq!(store.admin_password_hash().expect("read"), None);
        // Nothing set: nothing verifies, not even the empty string.
        assert!(!store.verify_admin_password("").expect("verify"));
        assert!(
            !store
                .verify_admin_password("anything at all")
                .expect("verify")
        );

        let message = invalid(store.set_admin_password("short"));
        assert!(message.contains("at least 8"), "{message}");
        assert!(
            !store.admin_password_set().expect("read"),
            "a refused one was stored"
        );

        store.set_admin_password("first password").expect("set");
        assert!(store.admin_password_set().expect("read"));
        let hash = store.admin_password_hash().expect("read").expect("set");
        assert!(
            hash.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("first"), "{hash}");
        assert!(
            store
                .verify_admin_password("first password")
                .expect("verify")
        );
        assert!(
            !store
                .verify_admin_password("First password")
                .expect("verify")
        );
        assert!(
            !store
                .verify_admin_password("first passwor")
                .expect("verify")
        );

        // Durable, and replaced by a new one.
        drop(store);
        let store = Store::open(&dir).expect("reopen");
        assert!(
            store
                .verify_admin_password("first password")
                .expect("verify")
        );
        store
            .set_admin_password("second password")
            .expect("replace");
        assert!(
            !store
                .verify_admin_password("first password")
                .expect("verify")
        );
        assert!(
            store
                .verify_admin_password("second password")
                .expect("verify")
        );
        assert_ne!(store.admin_password_hash().expect("read"), Some(hash));
        store
            .verify()
            .expect("the meta entry does not upset the consistency check");
    }

    #[test]
    fn clearing_the_password_keeps_the_configuration() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let dir = temp.path().join("config");
        let store = Store::open(&dir).expect("open");
        let mut settings = store.settings().expect("settings");
        settings.ttl = 7;
        store.set_settings(&settings).expect("settings");
        store.set_admin_password("lost password").expect("set");
        store.clear_admin_password().expect("clear");
        drop(store);
        let store = Store::open(&dir).expect("reopen");
        assert!(!store.admin_password_set().expect("read"));
        assert!(
            !store
                .verify_admin_password("lost password")
                .expect("verify")
        );
        assert_eq!(store.settings().expect("settings").ttl, 7);
        // Clearing twice is no error.
        store.clear_admin_password().expect("clear again");
    }
}
