//! Backup, restore and factory reset of the whole configuration.
//!
//! A [`Backup`] is every record a technician set up, as one JSON document: settings,
//! inputs, channels, categories, XC users (with their password hashes: the guests'
//! passwords cannot be recovered from anything else), tuner settings and scan records.
//! It never holds the administrator password (see the `admin` module).
//!
//! [`Store::restore`] checks a backup as a whole, with every rule the add and update
//! calls apply one record at a time (valid fields, unique ids, numbers, addresses and
//! usernames, references to inputs and categories that exist), before it changes
//! anything; then it replaces every record in one sled transaction. A refused backup
//! leaves the store exactly as it was, and a power cut during the restore leaves the
//! old configuration or the new one, never a mix. A backup with more records of a kind
//! than the `MAX_RESTORE_*` caps is refused before any record is checked, and every
//! check takes time linear in the number of records, so a hostile backup cannot hold
//! the store for long.
//!
//! Backups name the schema they were written with. A backup of an older schema whose
//! records only lack fields added since reads with those fields' defaults (as the
//! migrations read old records), so it restores on a newer dvbgate; anything older or
//! newer than [`MIN_BACKUP_SCHEMA`]..=[`SCHEMA_VERSION`] is refused with a message.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sled::Transactional as _;
use sled::transaction::TransactionalTree;

use crate::categories::{FIRST_FREE_CATEGORY_ID, name_key, seeded_categories};
use crate::codec::{
    ADMIN_PASSWORD_KEY, NEXT_CATEGORY_ID_KEY, NEXT_CHANNEL_ID_KEY, NEXT_INPUT_ID_KEY,
    NEXT_USER_ID_KEY, SCHEMA_VERSION_KEY, SETTINGS_KEY, decode_u32, encode_json, id_key,
    number_key,
};
use crate::error::StoreError;
use crate::migrate::SCHEMA_VERSION;
use crate::model::{
    ChannelConfig, InputConfig, MAX_CHANNEL_NUMBER, Settings, address_key, canonical_address,
    unix_now, validate_channel, validate_input, validate_settings,
};
use crate::scan::{ScanRecord, validate_scan_record};
use crate::tuner::{TunerSettings, validate_tuner};
use crate::users::{ARGON2_M_COST_KIB, MAX_VERIFY_T_COST, XcUser, validate_user, verifiable};
use crate::{CATEGORY_RADIO, CATEGORY_TV, Category, Store, Trees, validate_category_name};

/// The `format` of every backup.
pub const BACKUP_FORMAT: &str = "dvbgate-backup";
/// The oldest schema whose backups [`Store::restore`] reads (backups exist since 4).
pub const MIN_BACKUP_SCHEMA: u32 = 4;

// The most records of each kind a restore takes. The add calls have no count limits
// of their own (channels are bounded by their numbers, 1..=9999); these caps are far
// above any hotel's headend and keep a hostile or corrupt backup from holding the
// write lock and a core for minutes. A store grown past one through the API could not
// restore its own backup: raise the cap then.
/// Most inputs in a backup.
pub const MAX_RESTORE_INPUTS: usize = 256;
/// Most channels in a backup: one per channel number.
pub const MAX_RESTORE_CHANNELS: usize = MAX_CHANNEL_NUMBER as usize;
/// Most XC users in a backup.
pub const MAX_RESTORE_USERS: usize = 10_000;
/// Most categories in a backup (and most allowed categories of one user).
pub const MAX_RESTORE_CATEGORIES: usize = 1_000;
/// Most tuner settings in a backup.
pub const MAX_RESTORE_TUNERS: usize = 256;
/// Most scan records in a backup: at most one per input.
pub const MAX_RESTORE_SCANS: usize = MAX_RESTORE_INPUTS;

/// The whole configuration (without the administrator password), as
/// `GET /api/v1/backup` downloads it and `POST /api/v1/restore` takes it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Always [`BACKUP_FORMAT`]: tells a backup from any other JSON file.
    pub format: String,
    /// The schema the backup was written with.
    pub schema: u32,
    /// When it was written (unix seconds).
    pub created_at: i64,
    /// Missing: the defaults.
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub inputs: Vec<InputConfig>,
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// Must hold TV (1) and Radio (2), which every store has.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// With their argon2id password hashes, restored as they are.
    #[serde(default)]
    pub users: Vec<XcUser>,
    /// Stored tuner settings (tuners without an entry use the defaults).
    #[serde(default)]
    pub tuners: Vec<TunerSettings>,
    /// What the last scan found on each DVB input (rescans compare with it).
    #[serde(default)]
    pub scans: Vec<ScanRecord>,
}

/// How many records of each kind a restore wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreSummary {
    pub inputs: usize,
    pub channels: usize,
    pub users: usize,
    pub categories: usize,
    pub tuners: usize,
    pub scans: usize,
}

/// Every record of a configuration, checked and ready to be written.
struct Contents {
    settings: Settings,
    inputs: Vec<InputConfig>,
    channels: Vec<ChannelConfig>,
    categories: Vec<Category>,
    users: Vec<XcUser>,
    tuners: Vec<TunerSettings>,
    scans: Vec<ScanRecord>,
}

impl Contents {
    /// A new store's: default settings, TV and Radio, nothing else.
    fn empty() -> Contents {
        Contents {
            settings: Settings::default(),
            inputs: Vec::new(),
            channels: Vec::new(),
            categories: seeded_categories().into(),
            users: Vec::new(),
            tuners: Vec::new(),
            scans: Vec::new(),
        }
    }
}

fn invalid<T>(message: String) -> Result<T, StoreError> {
    Err(StoreError::Invalid(message))
}

/// Prefixes a validation message with the record it is about.
fn about<T>(what: impl std::fmt::Display, result: Result<T, StoreError>) -> Result<T, StoreError> {
    result.map_err(|error| match error {
        StoreError::Invalid(message) | StoreError::Conflict(message) => {
            StoreError::Invalid(format!("{what}: {message}"))
        }
        other => other,
    })
}

/// How restore messages name a channel: `channel 3 "France 2"`.
fn channel_name(channel: &ChannelConfig) -> String {
    format!("channel {} {:?}", channel.number, channel.name)
}

/// Checks a backup as a whole; returns its records, normalised as the store keeps
/// them (canonical addresses, sorted category lists).
fn check(backup: &Backup) -> Result<Contents, StoreError> {
    if backup.format != BACKUP_FORMAT {
        return invalid(format!(
            "this is not a dvbgate backup: its format is {:?}, not {BACKUP_FORMAT:?}",
            backup.format
        ));
    }
    if !(MIN_BACKUP_SCHEMA..=SCHEMA_VERSION).contains(&backup.schema) {
        let why = if backup.schema > SCHEMA_VERSION {
            "it was written by a newer dvbgate; update this one first"
        } else {
            "it is older than any backup this dvbgate reads"
        };
        return invalid(format!(
            "the backup has schema {}; this dvbgate restores schemas \
             {MIN_BACKUP_SCHEMA} to {SCHEMA_VERSION} ({why})",
            backup.schema
        ));
    }
    check_counts(backup)?;
    about("settings", validate_settings(&backup.settings))?;

    let mut input_ids = HashSet::new();
    for input in &backup.inputs {
        let what = format!("input {} {:?}", input.id, input.name);
        if input.id == 0 {
            return invalid(format!("{what}: id 0 is not an id (they start at 1)"));
        }
        if !input_ids.insert(input.id) {
            return invalid(format!("{what}: id {} is used twice", input.id));
        }
        about(&what, validate_input(input))?;
    }

    let mut categories: BTreeMap<u32, &Category> = BTreeMap::new();
    let mut category_names: HashMap<String, u32> = HashMap::new();
    for category in &backup.categories {
        let what = format!("category {} {:?}", category.id, category.name);
        if category.id == 0 {
            return invalid(format!("{what}: id 0 is not an id (they start at 1)"));
        }
        about(&what, validate_category_name(&category.name))?;
        if categories.insert(category.id, category).is_some() {
            return invalid(format!("{what}: id {} is used twice", category.id));
        }
        if let Some(other) = category_names.insert(name_key(&category.name), category.id) {
            return invalid(format!(
                "{what}: the name is already used by category {other}"
            ));
        }
    }
    for (id, name) in [(CATEGORY_TV, "TV"), (CATEGORY_RADIO, "Radio")] {
        if !categories.contains_key(&id) {
            return invalid(format!(
                "the backup has no category {id} ({name}); every configuration has it \
                 (channels without a category of their own are listed under it)"
            ));
        }
    }

    let mut channel_ids = HashSet::new();
    let mut numbers: HashMap<u16, &ChannelConfig> = HashMap::new();
    let mut addresses: HashMap<String, &ChannelConfig> = HashMap::new();
    let mut channels = Vec::with_capacity(backup.channels.len());
    for channel in &backup.channels {
        let what = channel_name(channel);
        if channel.id == 0 {
            return invalid(format!("{what}: id 0 is not an id (they start at 1)"));
        }
        if !channel_ids.insert(channel.id) {
            return invalid(format!("{what}: id {} is used twice", channel.id));
        }
        about(&what, validate_channel(channel))?;
        if !input_ids.contains(&channel.input_id) {
            return invalid(format!(
                "{what}: its input {} is not in the backup",
                channel.input_id
            ));
        }
        if let Some(id) = channel.category_id
            && !categories.contains_key(&id)
        {
            return invalid(format!("{what}: its category {id} is not in the backup"));
        }
        if let Some(holder) = numbers.insert(channel.number, channel) {
            return invalid(format!(
                "{what}: number {} is already used by {}",
                channel.number,
                channel_name(holder)
            ));
        }
        let key = address_key(channel.output.address);
        let kind = if channel.output.address.ip().is_multicast() {
            "multicast"
        } else {
            "address"
        };
        if let Some(holder) = addresses.insert(key.clone(), channel) {
            return invalid(format!(
                "{what}: {kind} {key} is already used by {}",
                channel_name(holder)
            ));
        }
        let mut channel = channel.clone();
        channel.output.address = canonical_address(channel.output.address);
        channels.push(channel);
    }

    let mut user_ids = HashSet::new();
    let mut usernames: HashMap<String, &XcUser> = HashMap::new();
    let mut users = Vec::with_capacity(backup.users.len());
    for user in &backup.users {
        let what = format!("user {:?}", user.username);
        if user.id == 0 {
            return invalid(format!("{what}: id 0 is not an id (they start at 1)"));
        }
        if !user_ids.insert(user.id) {
            return invalid(format!("{what}: id {} is used twice", user.id));
        }
        about(&what, validate_user(user))?;
        if let Some(other) = usernames.insert(user.username.to_ascii_lowercase(), user) {
            let how = if other.username == user.username {
                "is listed twice".to_string()
            } else {
                format!("differs from user {:?} only by case", other.username)
            };
            return invalid(format!("{what}: the username {how}"));
        }
        if verifiable(&user.password_hash).is_none() {
            return invalid(format!(
                "{what}: password_hash is not an argon2id hash (PHC string \
                 \"$argon2id$v=19$m=…\") of at most {ARGON2_M_COST_KIB} KiB and {MAX_VERIFY_T_COST} \
                 passes; the user could never log in"
            ));
        }
        if user.categories.len() > MAX_RESTORE_CATEGORIES {
            return invalid(format!(
                "{what}: {} allowed categories; at most {MAX_RESTORE_CATEGORIES} are \
                 restored",
                user.categories.len()
            ));
        }
        if let Some(id) = user
            .categories
            .iter()
            .find(|id| !categories.contains_key(id))
        {
            return invalid(format!(
                "{what}: its allowed category {id} is not in the backup"
            ));
        }
        let mut user = user.clone();
        user.categories.sort_unstable();
        user.categories.dedup();
        users.push(user);
    }

    let mut tuner_keys = HashSet::new();
    for tuner in &backup.tuners {
        validate_tuner(tuner)?;
        if !tuner_keys.insert(tuner.key.as_str()) {
            return invalid(format!(
                "tuner {}: its settings are listed twice",
                tuner.key
            ));
        }
    }

    let mut scanned = HashSet::new();
    for record in &backup.scans {
        validate_scan_record(record)?;
        if !input_ids.contains(&record.input_id) {
            return invalid(format!(
                "scan record of input {}: the input is not in the backup",
                record.input_id
            ));
        }
        if !scanned.insert(record.input_id) {
            return invalid(format!(
                "scan record of input {}: listed twice",
                record.input_id
            ));
        }
    }

    Ok(Contents {
        settings: backup.settings.clone(),
        inputs: backup.inputs.clone(),
        channels,
        categories: categories.into_values().cloned().collect(),
        users,
        tuners: backup.tuners.clone(),
        scans: backup.scans.clone(),
    })
}

/// Refuses a backup with more records of a kind than a restore takes, before any
/// record is looked at.
fn check_counts(backup: &Backup) -> Result<(), StoreError> {
    for (kind, count, most) in [
        ("inputs", backup.inputs.len(), MAX_RESTORE_INPUTS),
        ("channels", backup.channels.len(), MAX_RESTORE_CHANNELS),
        ("users", backup.users.len(), MAX_RESTORE_USERS),
        (
            "categories",
            backup.categories.len(),
            MAX_RESTORE_CATEGORIES,
        ),
        ("tuners", backup.tuners.len(), MAX_RESTORE_TUNERS),
        ("scans", backup.scans.len(), MAX_RESTORE_SCANS),
    ] {
        if count > most {
            return invalid(format!(
                "the backup has {count} {kind}; a restore takes at most {most}"
            ));
        }
    }
    Ok(())
}

/// What the `meta` tree keeps across a replacement of every record.
#[derive(Clone, Copy)]
enum Keep {
    /// The administrator password and the id counters (a restore: ids handed out
    /// before are not handed out again, unless the restored records hold them).
    PasswordAndCounters,
    /// Nothing: counters start again at 1 and no password is set (a factory reset).
    Nothing,
}

impl Store {
    /// The whole configuration, without the administrator password.
    pub fn backup(&self) -> Result<Backup, StoreError> {
        // Under the write lock, so that the records come from one moment: no change
        // lands between reading the inputs and reading the channels. (Not through
        // `write`: nothing is written, so there is nothing to flush.)
        let _serialised = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.read(|_| {
            Ok(Backup {
                format: BACKUP_FORMAT.to_string(),
                schema: SCHEMA_VERSION,
                created_at: unix_now(),
                settings: self.settings()?,
                inputs: self.inputs()?,
                channels: self.channels()?,
                categories: self.categories()?,
                users: self.users()?,
                tuners: self.tuners()?,
                scans: self.scans()?,
            })
        })
    }

    /// Replaces every record with the backup's, after checking all of it (see the
    /// module docs); the administrator password stays. A backup breaking any rule is
    /// refused with [`StoreError::Invalid`] naming the record, and nothing changes.
    pub fn restore(&self, backup: &Backup) -> Result<RestoreSummary, StoreError> {
        let contents = check(backup)?;
        let summary = RestoreSummary {
            inputs: contents.inputs.len(),
            channels: contents.channels.len(),
            users: contents.users.len(),
            categories: contents.categories.len(),
            tuners: contents.tuners.len(),
            scans: contents.scans.len(),
        };
        self.write(|trees| replace_all(trees, &contents, Keep::PasswordAndCounters))?;
        Ok(summary)
    }

    /// Deletes every record and the administrator password: the store is as a new
    /// one (default settings, TV and Radio, ids from 1) and stays open.
    pub fn factory_reset(&self) -> Result<(), StoreError> {
        self.write(|trees| replace_all(trees, &Contents::empty(), Keep::Nothing))
    }
}

/// Every key of a tree (read under the write lock, so the transaction that deletes
/// them sees the same set: sled transactions cannot iterate).
fn keys(tree: &sled::Tree) -> Result<Vec<sled::IVec>, StoreError> {
    Ok(tree.iter().keys().collect::<Result<_, _>>()?)
}

/// Replaces every record of the store by `contents` in one transaction.
fn replace_all(trees: &Trees, contents: &Contents, keep: Keep) -> Result<(), StoreError> {
    let counter = |key: &str| -> Result<u32, StoreError> {
        match (keep, trees.meta.get(key)?) {
            (Keep::PasswordAndCounters, Some(bytes)) => decode_u32("meta", &key, &bytes),
            _ => Ok(1),
        }
    };
    let past = |ids: &mut dyn Iterator<Item = u32>| ids.max().map_or(1, |id| id.saturating_add(1));
    let next_input =
        counter(NEXT_INPUT_ID_KEY)?.max(past(&mut contents.inputs.iter().map(|i| i.id)));
    let next_channel =
        counter(NEXT_CHANNEL_ID_KEY)?.max(past(&mut contents.channels.iter().map(|c| c.id)));
    let next_user = counter(NEXT_USER_ID_KEY)?.max(past(&mut contents.users.iter().map(|u| u.id)));
    let next_category = counter(NEXT_CATEGORY_ID_KEY)?
        .max(past(&mut contents.categories.iter().map(|c| c.id)))
        .max(FIRST_FREE_CATEGORY_ID);

    let old = [
        keys(&trees.inputs)?,
        keys(&trees.channels)?,
        keys(&trees.addresses)?,
        keys(&trees.numbers)?,
        keys(&trees.scans)?,
        keys(&trees.tuners)?,
        keys(&trees.users)?,
        keys(&trees.usernames)?,
        keys(&trees.categories)?,
    ];
    let settings_json = encode_json(&contents.settings);
    let all = (
        &trees.meta,
        &trees.settings,
        &trees.inputs,
        &trees.channels,
        &trees.addresses,
        &trees.numbers,
        &trees.scans,
        &trees.tuners,
        &trees.users,
        &trees.usernames,
        &trees.categories,
    );
    all.transaction(
        |(
            meta,
            settings,
            inputs,
            channels,
            addresses,
            numbers,
            scans,
            tuners,
            users,
            usernames,
            categories,
        )| {
            let cleared: [&TransactionalTree; 9] = [
                inputs, channels, addresses, numbers, scans, tuners, users, usernames, categories,
            ];
            for (tree, keys) in cleared.iter().zip(&old) {
                for key in keys {
                    tree.remove(key)?;
                }
            }
            settings.insert(SETTINGS_KEY, settings_json.as_slice())?;
            for input in &contents.inputs {
                inputs.insert(&id_key(input.id), encode_json(input))?;
            }
            for channel in &contents.channels {
                channels.insert(&id_key(channel.id), encode_json(channel))?;
                numbers.insert(&number_key(channel.number), &id_key(channel.id))?;
                addresses.insert(
                    address_key(channel.output.address).as_bytes(),
                    &id_key(channel.id),
                )?;
            }
            for category in &contents.categories {
                categories.insert(&id_key(category.id), encode_json(category))?;
            }
            for user in &contents.users {
                users.insert(&id_key(user.id), encode_json(user))?;
                usernames.insert(
                    user.username.to_ascii_lowercase().as_bytes(),
                    &id_key(user.id),
                )?;
            }
            for tuner in &contents.tuners {
                tuners.insert(tuner.key.as_bytes(), encode_json(tuner))?;
            }
            for record in &contents.scans {
                scans.insert(&id_key(record.input_id), encode_json(record))?;
            }
            meta.insert(NEXT_INPUT_ID_KEY, &next_input.to_be_bytes())?;
            meta.insert(NEXT_CHANNEL_ID_KEY, &next_channel.to_be_bytes())?;
            meta.insert(NEXT_USER_ID_KEY, &next_user.to_be_bytes())?;
            meta.insert(NEXT_CATEGORY_ID_KEY, &next_category.to_be_bytes())?;
            if let Keep::Nothing = keep {
                meta.remove(ADMIN_PASSWORD_KEY)?;
            }
            // The schema stays what it is: the records are of this build's schema.
            meta.insert(SCHEMA_VERSION_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            Ok(())
        },
    )?;
    Ok(())
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
