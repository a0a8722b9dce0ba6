//! Xtream-Codes users: the accounts IPTV apps (TiviMate, IPTV Smarters, Kodi's IPTV
//! Simple client) log in with to get the channel list, the guide and the streams.
//!
//! XC clients put the username and password into every URL unescaped
//! (`/live/USER/PASS/7.ts`), so both are restricted to characters that need no
//! escaping. Passwords are stored as argon2id hashes in the PHC string format
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`); [`verify_password`] checks one. The
//! parameters are sized for a small ARM box: the API caches successful
//! verifications, so only first logins and wrong passwords pay for a hash. Every hash
//! runs in one of two 12 MiB buffers the process keeps for argon2 (`hash_memory`),
//! so wrong logins cost time, never memory.
//!
//! Usernames are unique, and a second user differing from an existing one only by
//! case is refused too: apps and people mix up "Room12" and "room12". Logins match
//! the exact spelling. The `usernames` index tree (lowercased name → id) enforces
//! both inside the transaction that writes the user.

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use subtle::ConstantTimeEq as _;

use crate::codec::{
    NEXT_USER_ID_KEY, USERNAMES, USERS, decode_json, decode_u32, encode_json, id_key, take_next_id,
};
use crate::error::StoreError;
use crate::hash_memory;
use crate::model::{default_true, present, set, unix_now};
use crate::{Store, key_id};

/// Longest username or password, in characters.
pub const MAX_CREDENTIAL_CHARS: usize = 64;
/// Most simultaneous streams one user may be allowed.
pub const MAX_CONNECTIONS: u16 = 100;
/// Longest note on a user, in characters.
pub const MAX_NOTE_CHARS: usize = 256;

/// argon2id memory cost, in KiB (12 MiB). With [`ARGON2_T_COST`] one of the
/// parameter sets OWASP recommends (m=12 MiB, t=3, p=1); the memory is what a
/// wrong-password attempt costs the box, so it stays well below 19 MiB.
pub const ARGON2_M_COST_KIB: u32 = 12 * 1024;
/// argon2id passes over the memory.
pub const ARGON2_T_COST: u32 = 3;
/// argon2id lanes: one, as a verification runs on one of the box's few cores.
pub const ARGON2_P_COST: u32 = 1;
/// The most passes [`verify_password`] accepts from a stored hash.
pub(crate) const MAX_VERIFY_T_COST: u32 = 16;

/// An XC user as stored (JSON in the `users` tree). Its `Debug` leaves the password
/// hash out; [`XcUser::view`] is what the API shows.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XcUser {
    /// Assigned by the store, never reused.
    pub id: u32,
    /// 1..=64 characters of `[A-Za-z0-9._-]`; unique regardless of case.
    pub username: String,
    /// argon2id hash in PHC string format.
    pub password_hash: String,
    /// A disabled user cannot log in.
    pub enabled: bool,
    /// When the account expires (unix seconds); None = never.
    pub expires_at: Option<i64>,
    /// Most simultaneous streams, 1..=100.
    pub max_connections: u16,
    /// The categories the user sees; empty = all.
    pub categories: Vec<u32>,
    /// When the user was created (unix seconds).
    pub created_at: i64,
    /// Free text for the operator ("room 12, checked in until Friday"); at most 256
    /// characters, no control characters.
    pub note: String,
}

impl std::fmt::Debug for XcUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not the password, but it allows offline guessing: keep it out
        // of logs.
        f.debug_struct("XcUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("enabled", &self.enabled)
            .field("expires_at", &self.expires_at)
            .field("max_connections", &self.max_connections)
            .field("categories", &self.categories)
            .field("created_at", &self.created_at)
            .field("note", &self.note)
            .finish_non_exhaustive()
    }
}

/// Whether a user may log in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Enabled and not expired.
    Active,
    /// Switched off by the operator.
    Disabled,
    /// Past `expires_at`.
    Expired,
}

impl XcUser {
    /// Everything but the password hash: what the API and the UI show.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            username: self.username.clone(),
            enabled: self.enabled,
            expires_at: self.expires_at,
            max_connections: self.max_connections,
            categories: self.categories.clone(),
            created_at: self.created_at,
            note: self.note.clone(),
        }
    }

    /// Whether the user may log in at `now` (unix seconds). Disabled wins over
    /// expired: it is the operator's explicit word.
    pub fn status(&self, now: i64) -> UserStatus {
        if !self.enabled {
            UserStatus::Disabled
        } else if self.expires_at.is_some_and(|expires| expires <= now) {
            UserStatus::Expired
        } else {
            UserStatus::Active
        }
    }

    /// Whether the user sees channels of category `category_id` (an empty list
    /// allows all).
    pub fn allows_category(&self, category_id: u32) -> bool {
        self.categories.is_empty() || self.categories.contains(&category_id)
    }
}

/// A user as the API shows it: [`XcUser`] without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: u32,
    pub username: String,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    pub max_connections: u16,
    pub categories: Vec<u32>,
    pub created_at: i64,
    pub note: String,
}

/// A request to create a user. Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// See [`XcUser::username`].
    pub username: String,
    /// 1..=64 characters of `[A-Za-z0-9._-]`; stored only as a hash.
    pub password: String,
    /// Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Default None (never expires).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Default 2 (a TV and a phone).
    #[serde(default = "default_max_connections")]
    pub max_connections: u16,
    /// Default empty (all categories).
    #[serde(default)]
    pub categories: Vec<u32>,
    /// Default empty.
    #[serde(default)]
    pub note: String,
}

fn default_max_connections() -> u16 {
    2
}

impl NewUser {
    /// A request with every optional field at its default.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        NewUser {
            username: username.into(),
            password: password.into(),
            enabled: true,
            expires_at: None,
            max_connections: default_max_connections(),
            categories: Vec::new(),
            note: String::new(),
        }
    }
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("enabled", &self.enabled)
            .field("expires_at", &self.expires_at)
            .field("max_connections", &self.max_connections)
            .field("categories", &self.categories)
            .field("note", &self.note)
            .finish_non_exhaustive()
    }
}

/// A change to a user; None leaves a field as it is. `expires_at` takes `Some(None)`
/// (JSON `null`) to make the account never expire. A new password is hashed anew.
/// Its `Debug` leaves the password out.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserPatch {
    pub password: Option<String>,
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<i64>>,
    pub max_connections: Option<u16>,
    pub categories: Option<Vec<u32>>,
    pub note: Option<String>,
}

impl std::fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPatch")
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("enabled", &self.enabled)
            .field("expires_at", &self.expires_at)
            .field("max_connections", &self.max_connections)
            .field("categories", &self.categories)
            .field("note", &self.note)
            .finish()
    }
}

/// Checks a username (the message quotes it).
pub fn validate_username(username: &str) -> Result<(), StoreError> {
    check_credential("username", username, true)
}

/// Checks a password (the message never quotes it: it ends up in logs and responses).
pub fn validate_password(password: &str) -> Result<(), StoreError> {
    check_credential("password", password, false)
}

fn check_credential(field: &str, value: &str, quote: bool) -> Result<(), StoreError> {
    let shown = if quote {
        format!("{field} {value:?}")
    } else {
        field.to_string()
    };
    let chars = value.chars().count();
    if chars == 0 {
        return Err(StoreError::Invalid(format!("{field} must not be empty")));
    }
    if chars > MAX_CREDENTIAL_CHARS {
        return Err(StoreError::Invalid(format!(
            "{shown} is {chars} characters long; at most {MAX_CREDENTIAL_CHARS} are allowed"
        )));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        // XC apps paste credentials into URL paths unescaped.
        return Err(StoreError::Invalid(format!(
            "{shown} may only contain letters A-Z and a-z, digits, '.', '_' and '-' \
             (IPTV apps put it into URLs unescaped)"
        )));
    }
    Ok(())
}

/// Checks a user record on its own (unique names and existing categories are the
/// store's job).
pub fn validate_user(user: &XcUser) -> Result<(), StoreError> {
    let invalid = |message: String| Err(StoreError::Invalid(message));
    validate_username(&user.username)?;
    if !(1..=MAX_CONNECTIONS).contains(&user.max_connections) {
        return invalid(format!(
            "max_connections {} is out of range 1..={MAX_CONNECTIONS}",
            user.max_connections
        ));
    }
    if let Some(expires_at) = user.expires_at
        && expires_at < 0
    {
        return invalid(format!(
            "expires_at {expires_at} is before 1970; use unix seconds, or null for never"
        ));
    }
    let chars = user.note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return invalid(format!(
            "note is {chars} characters long; at most {MAX_NOTE_CHARS} are allowed"
        ));
    }
    if user.note.chars().any(char::is_control) {
        return invalid("note contains control characters (line breaks included)".into());
    }
    Ok(())
}

/// The parameters of every hash this store writes.
fn our_params() -> Params {
    Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .expect("the argon2 parameter constants are within argon2's limits")
}

/// Hashes a password with argon2id and a fresh random salt from the OS; returns the
/// PHC string. Validates the password first.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    validate_password(password)?;
    hash_secret(password)
}

/// Hashes an already validated secret (an XC password or the administrator's) with
/// argon2id and a fresh salt from the OS, in memory from the process's argon2 pool
/// (waits while the pool's buffers are all in use).
pub(crate) fn hash_secret(secret: &str) -> Result<String, StoreError> {
    let cannot = |error: &dyn std::fmt::Display| {
        StoreError::Invalid(format!("password cannot be hashed: {error}"))
    };
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|error| StoreError::Random(format!("no salt for the password hash: {error}")))?;
    let params = our_params();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let mut memory = hash_memory::lease();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(secret.as_bytes(), &salt, &mut output, memory.blocks())
        .map_err(|error| cannot(&error))?;
    drop(memory);
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|error| cannot(&error))?,
        salt: Some(Salt::new(&salt).map_err(|error| cannot(&error))?),
        hash: Some(Output::new(&output).map_err(|error| cannot(&error))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the argon2id PHC string `password_hash`, compared in
/// constant time. False for a hash that does not parse, is not argon2id, or asks for
/// more memory than one buffer of the argon2 pool (the 12 MiB of the hashes this store
/// writes) or more than 16 passes: a hash we did not write with absurd parameters
/// must not exhaust the box. Runs in pooled memory, so it may wait while the pool's
/// buffers are all in use; call it from a blocking thread.
pub fn verify_password(password_hash: &str, password: &str) -> bool {
    let Some((argon2, salt, expected)) = verifiable(password_hash) else {
        return false;
    };
    let mut computed = [0u8; Output::MAX_LENGTH];
    let Some(computed) = computed.get_mut(..expected.len()) else {
        return false;
    };
    let mut memory = hash_memory::lease();
    if argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, computed, memory.blocks())
        .is_err()
    {
        return false;
    }
    drop(memory);
    bool::from(computed.ct_eq(expected.as_bytes()))
}

/// The argon2id instance, salt and expected output of a PHC string this box can
/// verify within its limits; None otherwise.
pub(crate) fn verifiable(password_hash: &str) -> Option<(Argon2<'static>, Salt, Output)> {
    let hash = PasswordHash::new(password_hash).ok()?;
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return None;
    }
    let params = Params::try_from(&hash).ok()?;
    if params.block_count() > hash_memory::BUFFER_BLOCKS || params.t_cost() > MAX_VERIFY_T_COST {
        return None;
    }
    let version = match hash.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::default(),
    };
    Some((
        Argon2::new(Algorithm::Argon2id, version, params),
        hash.salt?,
        hash.hash?,
    ))
}

fn user_not_found(id: u32) -> StoreError {
    StoreError::NotFound(format!("there is no user with id {id}"))
}

/// Key of a username in the `usernames` index: lowercased, so that names differing
/// only by case collide.
fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

/// Points the index entry of the user's name at it, unless another user holds it.
fn claim_username(
    usernames: &TransactionalTree,
    users: &TransactionalTree,
    user: &XcUser,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = username_key(&user.username);
    if let Some(value) = usernames.get(key.as_bytes())? {
        let owner = decode_u32(USERNAMES, &key, &value).map_err(StoreError::abort)?;
        if owner != user.id {
            let holder = match users.get(id_key(owner))? {
                Some(value) => {
                    decode_json::<XcUser>(USERS, &owner, &value)
                        .map_err(StoreError::abort)?
                        .username
                }
                None => format!("user id {owner}"),
            };
            let how = if holder == user.username {
                "already exists".to_string()
            } else {
                format!("differs from the existing user {holder:?} only by case")
            };
            return Err(
                StoreError::Conflict(format!("username {:?} {how}", user.username)).abort(),
            );
        }
    }
    usernames.insert(key.as_bytes(), &id_key(user.id))?;
    Ok(())
}

/// Sorted, without repeats: the order of allowed categories carries no meaning.
fn normalise_categories(categories: &mut Vec<u32>) {
    categories.sort_unstable();
    categories.dedup();
}

impl Store {
    /// All users, by id.
    pub fn users(&self) -> Result<Vec<XcUser>, StoreError> {
        self.read(|trees| {
            trees
                .users
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    decode_json(USERS, &key_id(USERS, &key)?, &value)
                })
                .collect()
        })
    }

    /// One user.
    pub fn user(&self, id: u32) -> Result<Option<XcUser>, StoreError> {
        self.read(|trees| {
            trees
                .users
                .get(id_key(id))?
                .map(|value| decode_json(USERS, &id, &value))
                .transpose()
        })
    }

    /// The user with exactly this username (case matters: "room12" does not find
    /// "Room12").
    pub fn user_by_name(&self, username: &str) -> Result<Option<XcUser>, StoreError> {
        let key = username_key(username);
        let Some(id) = self.read(|trees| {
            trees
                .usernames
                .get(key.as_bytes())?
                .map(|value| decode_u32(USERNAMES, &key, &value))
                .transpose()
        })?
        else {
            return Ok(None);
        };
        Ok(self.user(id)?.filter(|user| user.username == username))
    }

    /// Creates a user with the next free id, hashing the password. A username that
    /// exists, or differs from an existing one only by case, is a conflict.
    pub fn add_user(&self, new: NewUser) -> Result<XcUser, StoreError> {
        let NewUser {
            username,
            password,
            enabled,
            expires_at,
            max_connections,
            mut categories,
            note,
        } = new;
        normalise_categories(&mut categories);
        let mut draft = XcUser {
            id: 0,
            username,
            password_hash: String::new(),
            enabled,
            expires_at,
            max_connections,
            categories,
            created_at: unix_now(),
            note,
        };
        validate_user(&draft)?;
        // Hashing takes a while: done before taking the write lock, so that other
        // changes do not wait for it.
        draft.password_hash = hash_password(&password)?;
        self.write(|trees| {
            self.check_categories_exist(
                &format_args!("user {:?}: categories", draft.username),
                &draft.categories,
            )?;
            let all = (&trees.meta, &trees.users, &trees.usernames);
            Ok(all.transaction(|(meta, users, usernames)| {
                let id = take_next_id(meta, NEXT_USER_ID_KEY, "user")?;
                let user = XcUser {
                    id,
                    ..draft.clone()
                };
                claim_username(usernames, users, &user)?;
                if users.insert(&id_key(id), encode_json(&user))?.is_some() {
                    return Err(crate::counter_behind(NEXT_USER_ID_KEY, id).abort());
                }
                Ok(user)
            })?)
        })
    }

    /// Changes the fields the patch sets; a new password is hashed with a new salt.
    pub fn update_user(&self, id: u32, patch: UserPatch) -> Result<XcUser, StoreError> {
        let UserPatch {
            password,
            enabled,
            expires_at,
            max_connections,
            categories,
            note,
        } = patch;
        let password_hash = password.as_deref().map(hash_password).transpose()?;
        self.write(|trees| {
            let mut user = self.user(id)?.ok_or_else(|| user_not_found(id))?;
            set(&mut user.password_hash, password_hash);
            set(&mut user.enabled, enabled);
            set(&mut user.expires_at, expires_at);
            set(&mut user.max_connections, max_connections);
            if let Some(mut categories) = categories {
                normalise_categories(&mut categories);
                user.categories = categories;
            }
            set(&mut user.note, note);
            validate_user(&user)?;
            self.check_categories_exist(
                &format_args!("user {:?}: categories", user.username),
                &user.categories,
            )?;
            let json = encode_json(&user);
            trees.users.transaction(|users| {
                if users.insert(&id_key(id), json.as_slice())?.is_none() {
                    return Err(user_not_found(id).abort());
                }
                Ok(())
            })?;
            Ok(user)
        })
    }

    /// Removes a user and its name from the index.
    pub fn remove_user(&self, id: u32) -> Result<(), StoreError> {
        self.write(|trees| {
            (&trees.users, &trees.usernames).transaction(|(users, usernames)| {
                let Some(value) = users.remove(&id_key(id))? else {
                    return Err(user_not_found(id).abort());
                };
                let user: XcUser = decode_json(USERS, &id, &value).map_err(StoreError::abort)?;
                let key = username_key(&user.username);
                if usernames.get(key.as_bytes())?.as_deref() == Some(&id_key(id)[..]) {
                    usernames.remove(key.as_bytes())?;
                }
                Ok(())
            })?;
            Ok(())
        })
    }
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
