//! The on-disk encoding shared by the store and the migrations: tree and key names,
//! big-endian integer keys (so that sled's byte order is numeric order) and JSON
//! values, with decoding errors that name the tree and key.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use crate::error::StoreError;

pub(crate) const META: &str = "meta";
pub(crate) const SETTINGS: &str = "settings";
pub(crate) const INPUTS: &str = "inputs";
pub(crate) const CHANNELS: &str = "channels";
pub(crate) const ADDRESSES: &str = "addresses";
pub(crate) const NUMBERS: &str = "numbers";
pub(crate) const SCANS: &str = "scans";
pub(crate) const TUNERS: &str = "tuners";
pub(crate) const USERS: &str = "users";
pub(crate) const USERNAMES: &str = "usernames";
pub(crate) const CATEGORIES: &str = "categories";

pub(crate) const SCHEMA_VERSION_KEY: &str = "schema_version";
pub(crate) const NEXT_INPUT_ID_KEY: &str = "next_input_id";
pub(crate) const NEXT_CHANNEL_ID_KEY: &str = "next_channel_id";
pub(crate) const NEXT_USER_ID_KEY: &str = "next_user_id";
pub(crate) const NEXT_CATEGORY_ID_KEY: &str = "next_category_id";
pub(crate) const SETTINGS_KEY: &str = "settings";
/// The administrator's password hash (PHC string, UTF-8) in `meta`.
pub(crate) const ADMIN_PASSWORD_KEY: &str = "admin_password_hash";

pub(crate) fn id_key(id: u32) -> [u8; 4] {
    id.to_be_bytes()
}

pub(crate) fn number_key(number: u16) -> [u8; 2] {
    number.to_be_bytes()
}

/// Decodes a big-endian u32 (an id key, an index value, a meta counter).
pub(crate) fn decode_u32(
    tree: &str,
    key: &dyn std::fmt::Display,
    bytes: &[u8],
) -> Result<u32, StoreError> {
    let array: [u8; 4] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "tree {tree:?}, key {key}: expected a 4-byte number, found {} bytes",
            bytes.len()
        ))
    })?;
    Ok(u32::from_be_bytes(array))
}

/// Decodes a big-endian u16 (a channel number key).
pub(crate) fn decode_u16(tree: &str, bytes: &[u8]) -> Result<u16, StoreError> {
    let array: [u8; 2] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "tree {tree:?}: key {bytes:02x?} should be a 2-byte channel number"
        ))
    })?;
    Ok(u16::from_be_bytes(array))
}

/// Decodes a JSON record; `key` says which one for the error message.
pub(crate) fn decode_json<T: DeserializeOwned>(
    tree: &str,
    key: &dyn std::fmt::Display,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| {
        StoreError::Corrupt(format!(
            "tree {tree:?}, key {key}: undecodable record: {error}"
        ))
    })
}

pub(crate) fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value)
        .expect("store records serialise infallibly: derived impls, no maps with non-string keys")
}

/// Reads a meta counter inside a transaction and stores it plus one; returns the
/// value read. Ids start at 1 and are never reused, so a client holding an old id
/// can never reach a different record.
pub(crate) fn take_next_id(
    meta: &TransactionalTree,
    key: &str,
    what: &str,
) -> ConflictableTransactionResult<u32, StoreError> {
    let Some(bytes) = meta.get(key)? else {
        return Err(StoreError::Corrupt(format!("tree \"meta\" has no {key:?} counter")).abort());
    };
    let id = decode_u32(META, &key, &bytes).map_err(StoreError::abort)?;
    let next = id.checked_add(1).ok_or_else(|| {
        StoreError::Conflict(format!("all {what} ids up to {} have been used", u32::MAX)).abort()
    })?;
    meta.insert(key, &next.to_be_bytes())?;
    Ok(id)
}
