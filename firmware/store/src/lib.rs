//! Configuration store of dvbgate: settings, inputs and channels in a sled database
//! on the box's flash.
//!
//! Every change is one sled transaction across the trees it touches and is flushed
//! before the call returns, so a power cut or SIGKILL right after a successful call
//! keeps it, and a failed call leaves nothing behind. Two index trees (`addresses`,
//! `numbers`) make output addresses and channel numbers unique inside the same
//! transactions. The layout carries a schema version; [`Store::open`] upgrades older
//! databases step by step (see the `migrate` module) and refuses newer ones.
//!
//! Layout (schema 5): `meta` (`schema_version`, `next_input_id`, `next_channel_id`,
//! `next_user_id`, `next_category_id`, u32 big-endian; `admin_password_hash`, the
//! administrator's argon2id PHC string, absent until one is set), `settings` (`settings` →
//! JSON), `inputs` and `channels` (u32 BE id → JSON), `addresses` (canonical address
//! string → u32 BE channel id), `numbers` (u16 BE channel number → u32 BE channel id),
//! `scans` (u32 BE input id → JSON [`ScanRecord`]: what the last scan found on a DVB
//! input), `tuners` (tuner key like `adapter0/frontend0` → JSON [`TunerSettings`]),
//! `users` (u32 BE id → JSON [`XcUser`], the Xtream-Codes accounts), `usernames`
//! (lowercased username → u32 BE user id) and `categories` (u32 BE id → JSON
//! [`Category`]).
//!
//! A scan is merged into the configuration by [`Store::merge_scan`]; the rules (what a
//! rescan keeps, creates, moves and reports) are in the `merge` module.
//!
//! The whole configuration goes out as a [`Backup`] ([`Store::backup`]) and comes back,
//! checked as a whole and replaced in one transaction, with [`Store::restore`];
//! [`Store::factory_reset`] empties the store. The administrator's password (the `admin`
//! module) is kept apart from the records, so backups never carry it.

mod admin;
mod backup;
mod categories;
mod codec;
mod error;
mod hash_memory;
mod merge;
mod migrate;
mod model;
mod pool;
mod scan;
mod tuner;
mod users;
#[doc(hidden)]
pub mod v1;
#[doc(hidden)]
pub mod v2;
#[doc(hidden)]
pub mod v3;
#[doc(hidden)]
pub mod v4;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

pub use crate::admin::{
    MAX_ADMIN_PASSWORD_CHARS, MIN_ADMIN_PASSWORD_CHARS, validate_admin_password,
};
pub use crate::backup::{
    BACKUP_FORMAT, Backup, MAX_RESTORE_CATEGORIES, MAX_RESTORE_CHANNELS, MAX_RESTORE_INPUTS,
    MAX_RESTORE_SCANS, MAX_RESTORE_TUNERS, MAX_RESTORE_USERS, MIN_BACKUP_SCHEMA, RestoreSummary,
};
pub use crate::categories::{
    CATEGORY_RADIO, CATEGORY_TV, Category, MAX_CATEGORY_NAME_CHARS, validate_category_name,
};
use crate::codec::{
    ADDRESSES, CATEGORIES, CHANNELS, INPUTS, META, NEXT_CATEGORY_ID_KEY, NEXT_CHANNEL_ID_KEY,
    NEXT_INPUT_ID_KEY, NEXT_USER_ID_KEY, NUMBERS, SCANS, SETTINGS, SETTINGS_KEY, TUNERS, USERNAMES,
    USERS, decode_json, decode_u16, decode_u32, encode_json, id_key, number_key, take_next_id,
};
pub use crate::error::StoreError;
pub use crate::merge::{
    ChannelMove, ChannelSummary, DuplicateMux, InputSummary, InputUpdate, MatchedBy, MergeOptions,
    MergeReport, MissingService, SkipReason, SkippedService,
};
pub use crate::migrate::SCHEMA_VERSION;
pub use crate::model::{
    ChannelConfig, ChannelPatch, CharsetRule, EpgSettings, EsFilter, InputConfig, InputPatch,
    MAX_CHANNEL_NUMBER, MAX_CHARSET_RULES, MAX_DSCP, MAX_NAME_CHARS, MAX_PACKETS_PER_DATAGRAM,
    MAX_REFRESH_HOURS, MAX_SNAPSHOT_HOURS, MAX_URL_BYTES, MAX_XMLTV_ID_CHARS, MAX_XMLTV_SOURCES,
    NewChannel, NewInput, OutputConfig, Protocol, Settings, XmltvSource, address_key,
    canonical_address, validate_epg_settings, validate_xmltv_id, validate_xmltv_url,
};
use crate::model::{validate_channel, validate_input, validate_settings};
pub use crate::pool::Ipv4Cidr;
use crate::pool::{lowest_free_address, lowest_free_number};
pub use crate::scan::{
    MAX_SCAN_TEXT_CHARS, MAX_SERVICES_PER_MUX, ScanRecord, ScannedMux, ScannedService, ServiceKind,
    broadcast_text, validate_scan_record, validate_scanned_mux,
};
pub use crate::tuner::{
    MAX_USER_BAND_HZ, MIN_USER_BAND_HZ, TunerPatch, TunerSettings, tuner_key, validate_tuner,
    validate_tuner_key, validate_unicable,
};
pub use crate::users::{
    ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, MAX_CONNECTIONS, MAX_CREDENTIAL_CHARS,
    MAX_NOTE_CHARS, NewUser, UserPatch, UserStatus, UserView, XcUser, hash_password,
    validate_password, validate_user, validate_username, verify_password,
};
/// The character tables of [`CharsetRule`]s (re-exported so that users of the store need
/// not depend on dvbgate-ts for it).
pub use dvbgate_ts::text::Charset;

/// The sled configuration of the store (also used by the test support that writes
/// databases by hand).
#[doc(hidden)]
pub fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        // The configuration is a few hundred records; sled's default cache (1 GiB) is
        // sized for servers, and the box's RAM belongs to the stream buffers.
        .cache_capacity(4 * 1024 * 1024)
        // Compact segments eagerly and keep the files small: the store lives on a
        // small SD/eMMC partition for years, and config changes are rare (a few a
        // day), so the extra rewriting this costs stays tiny while the default
        // throughput mode would leave half-empty 512 KiB segments behind.
        .mode(sled::Mode::LowSpace)
        // Every change is flushed explicitly before the call returns (durability
        // does not depend on this timer). The background flusher only picks up
        // sled's own housekeeping; once a second (sled's default is twice) means
        // fewer small page writes and so less flash wear.
        .flush_every_ms(Some(1000))
}

/// The open configuration database. Cheap to share behind an `Arc`: reads run
/// concurrently, changes are serialised.
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    schema_version: u32,
    trees: Trees,
    /// Serialises changes. sled transactions cannot scan, so a change that picks the
    /// lowest free number or address scans first and commits second; holding this
    /// lock across both keeps another change of this process from slipping in
    /// between (sled's file lock keeps other processes out).
    write_lock: Mutex<()>,
}

pub(crate) struct Trees {
    meta: sled::Tree,
    settings: sled::Tree,
    inputs: sled::Tree,
    channels: sled::Tree,
    addresses: sled::Tree,
    numbers: sled::Tree,
    scans: sled::Tree,
    tuners: sled::Tree,
    users: sled::Tree,
    usernames: sled::Tree,
    categories: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Trees, StoreError> {
        Ok(Trees {
            meta: db.open_tree(META)?,
            settings: db.open_tree(SETTINGS)?,
            inputs: db.open_tree(INPUTS)?,
            channels: db.open_tree(CHANNELS)?,
            addresses: db.open_tree(ADDRESSES)?,
            numbers: db.open_tree(NUMBERS)?,
            scans: db.open_tree(SCANS)?,
            tuners: db.open_tree(TUNERS)?,
            users: db.open_tree(USERS)?,
            usernames: db.open_tree(USERNAMES)?,
            categories: db.open_tree(CATEGORIES)?,
        })
    }
}

/// How long to wait for another holder of the database lock to let go: a previous
/// daemon that is still exiting, or sled's own threads finishing after a close.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Creates the database directory readable by its owner only (0700), or tightens an
/// existing one that lets the group or others in: it holds the argon2 hashes of every
/// password, which allow offline guessing. sled creates its files with the process's
/// umask; the directory keeps everyone else out of them. An existing directory that
/// cannot be tightened (owned by another user) is used as it is, with a warning: the
/// box must still start.
fn prepare_directory(dir: &Path) -> Result<(), sled::Error> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    match std::fs::metadata(dir) {
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o7777;
            if metadata.is_dir() && mode & 0o077 != 0 {
                let tightened = std::fs::Permissions::from_mode(0o700);
                match std::fs::set_permissions(dir, tightened) {
                    Ok(()) => tracing::info!(
                        dir = %dir.display(),
                        "the configuration directory was open to other users (mode {mode:o}); \
                         it is now 700, as it holds password hashes"
                    ),
                    Err(error) => tracing::warn!(
                        dir = %dir.display(),
                        "the configuration directory is open to other users (mode {mode:o}) and \
                         cannot be made 700 ({error}); it holds password hashes: fix its owner \
                         or mode"
                    ),
                }
            }
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?)
        }
        Err(error) => Err(error.into()),
    }
}

fn open_waiting_for_lock(dir: &Path) -> Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled_config(dir).open() {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("schema_version", &self.schema_version)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database in `dir`: creates a new one at the current schema, or
    /// migrates an older one step by step, or refuses one written by a newer
    /// dvbgate with [`StoreError::NewerSchema`] (without changing it). The directory
    /// is created (with its parents) or tightened to mode 0700: it holds password
    /// hashes.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_at(dir).map_err(|error| error.at(dir))
    }

    fn open_at(dir: &Path) -> Result<Store, StoreError> {
        prepare_directory(dir)?;
        let db = open_waiting_for_lock(dir)?;
        let schema_version = migrate::prepare(&db, dir)?;
        let trees = Trees::open(&db)?;
        Ok(Store {
            path: dir.to_path_buf(),
            db,
            schema_version,
            trees,
            write_lock: Mutex::new(()),
        })
    }

    /// Schema version of the open database (always [`SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// Directory of the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings.
    pub fn settings(&self) -> Result<Settings, StoreError> {
        self.read(|trees| {
            let bytes = trees.settings.get(SETTINGS_KEY)?.ok_or_else(|| {
                StoreError::Corrupt("tree \"settings\" has no \"settings\" record".into())
            })?;
            decode_json(SETTINGS, &SETTINGS_KEY, &bytes)
        })
    }

    /// Replaces the settings after validating them. Existing channels keep their
    /// addresses; a new pool or base port applies to channels added later.
    pub fn set_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        validate_settings(settings)?;
        let json = encode_json(settings);
        self.write(|trees| {
            trees.settings.transaction(|tx| {
                tx.insert(SETTINGS_KEY, json.as_slice())?;
                Ok(())
            })?;
            Ok(())
        })
    }

    /// All inputs, by id.
    pub fn inputs(&self) -> Result<Vec<InputConfig>, StoreError> {
        self.read(|trees| {
            trees
                .inputs
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    decode_json(INPUTS, &key_id(INPUTS, &key)?, &value)
                })
                .collect()
        })
    }

    /// One input.
    pub fn input(&self, id: u32) -> Result<Option<InputConfig>, StoreError> {
        self.read(|trees| {
            trees
                .inputs
                .get(id_key(id))?
                .map(|value| decode_json(INPUTS, &id, &value))
                .transpose()
        })
    }

    /// Creates an input with the next free id.
    pub fn add_input(&self, new: NewInput) -> Result<InputConfig, StoreError> {
        let NewInput {
            name,
            url,
            enabled,
            auto_channels,
        } = new;
        let draft = InputConfig {
            id: 0,
            name,
            url,
            enabled,
            auto_channels,
        };
        validate_input(&draft)?;
        self.write(|trees| {
            Ok((&trees.meta, &trees.inputs).transaction(|(meta, inputs)| {
                let id = take_next_id(meta, NEXT_INPUT_ID_KEY, "input")?;
                let input = InputConfig {
                    id,
                    ..draft.clone()
                };
                if inputs.insert(&id_key(id), encode_json(&input))?.is_some() {
                    return Err(counter_behind(NEXT_INPUT_ID_KEY, id).abort());
                }
                Ok(input)
            })?)
        })
    }

    /// Changes the fields the patch sets.
    pub fn update_input(&self, id: u32, patch: InputPatch) -> Result<InputConfig, StoreError> {
        self.write(|trees| {
            let mut input = self.input(id)?.ok_or_else(|| input_not_found(id))?;
            patch.apply(&mut input);
            validate_input(&input)?;
            Ok(trees.inputs.transaction(|inputs| {
                if inputs.get(id_key(id))?.is_none() {
                    return Err(input_not_found(id).abort());
                }
                inputs.insert(&id_key(id), encode_json(&input))?;
                Ok(input.clone())
            })?)
        })
    }

    /// Removes an input and, in the same transaction, its channels, their index
    /// entries and its scan record.
    pub fn remove_input(&self, id: u32) -> Result<(), StoreError> {
        self.write(|trees| {
            let doomed: Vec<u32> = self
                .channels()?
                .into_iter()
                .filter(|channel| channel.input_id == id)
                .map(|channel| channel.id)
                .collect();
            let all = (
                &trees.inputs,
                &trees.channels,
                &trees.addresses,
                &trees.numbers,
                &trees.scans,
            );
            all.transaction(|(inputs, channels, addresses, numbers, scans)| {
                if inputs.remove(&id_key(id))?.is_none() {
                    return Err(input_not_found(id).abort());
                }
                for channel_id in &doomed {
                    delete_channel(channels, addresses, numbers, *channel_id)?;
                }
                scans.remove(&id_key(id))?;
                Ok(())
            })?;
            Ok(())
        })
    }

    /// All channels, by number.
    pub fn channels(&self) -> Result<Vec<ChannelConfig>, StoreError> {
        self.read(|trees| {
            let mut channels = trees
                .channels
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    decode_json::<ChannelConfig>(CHANNELS, &key_id(CHANNELS, &key)?, &value)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            channels.sort_by_key(|channel| (channel.number, channel.id));
            Ok(channels)
        })
    }

    /// One channel.
    pub fn channel(&self, id: u32) -> Result<Option<ChannelConfig>, StoreError> {
        self.read(|trees| {
            trees
                .channels
                .get(id_key(id))?
                .map(|value| decode_json(CHANNELS, &id, &value))
                .transpose()
        })
    }

    /// The channel with this number.
    pub fn channel_by_number(&self, number: u16) -> Result<Option<ChannelConfig>, StoreError> {
        let Some(id) = self.read(|trees| {
            trees
                .numbers
                .get(number_key(number))?
                .map(|value| decode_u32(NUMBERS, &number, &value))
                .transpose()
        })?
        else {
            return Ok(None);
        };
        self.channel(id)
    }

    /// Creates a channel. Without a number it gets the lowest free one; without an
    /// address the lowest free address of the settings' pool at the base port.
    pub fn add_channel(&self, new: NewChannel) -> Result<ChannelConfig, StoreError> {
        self.write(|trees| {
            let number = match new.number {
                Some(number) => number,
                None => lowest_free_number(&self.used_numbers()?)?,
            };
            let address = match new.address {
                Some(address) => address,
                None => {
                    let settings = self.settings()?;
                    lowest_free_address(settings.pool, settings.base_port, &self.used_ips()?)?
                }
            };
            let draft = new.clone().into_config(0, number, address);
            validate_channel(&draft)?;
            self.check_channel_category(&draft)?;
            let all = (
                &trees.meta,
                &trees.inputs,
                &trees.channels,
                &trees.addresses,
                &trees.numbers,
            );
            Ok(
                all.transaction(|(meta, inputs, channels, addresses, numbers)| {
                    insert_channel(meta, inputs, channels, addresses, numbers, &draft)
                })?,
            )
        })
    }

    /// Changes the fields the patch sets; a new number or address is checked for
    /// uniqueness and its index entry moved in the same transaction.
    pub fn update_channel(
        &self,
        id: u32,
        patch: ChannelPatch,
    ) -> Result<ChannelConfig, StoreError> {
        self.write(|trees| {
            let old = self.channel(id)?.ok_or_else(|| channel_not_found(id))?;
            let mut channel = old.clone();
            patch.apply(&mut channel);
            validate_channel(&channel)?;
            self.check_channel_category(&channel)?;
            let all = (
                &trees.inputs,
                &trees.channels,
                &trees.addresses,
                &trees.numbers,
            );
            Ok(all.transaction(|(inputs, channels, addresses, numbers)| {
                if channels.get(id_key(id))?.is_none() {
                    return Err(channel_not_found(id).abort());
                }
                if channel.input_id != old.input_id
                    && inputs.get(id_key(channel.input_id))?.is_none()
                {
                    return Err(input_not_found(channel.input_id).abort());
                }
                if channel.number != old.number {
                    claim_number(numbers, channels, &channel)?;
                    release(numbers, &number_key(old.number), id)?;
                }
                let old_key = address_key(old.output.address);
                if address_key(channel.output.address) != old_key {
                    claim_address(addresses, channels, &channel)?;
                    release(addresses, old_key.as_bytes(), id)?;
                }
                channels.insert(&id_key(id), encode_json(&channel))?;
                Ok(channel.clone())
            })?)
        })
    }

    /// Applies several channel patches as one change: all of them or none. The rules
    /// (valid fields, existing input and category, unique numbers and addresses) are
    /// checked on the result of every patch together, so that channels may trade
    /// numbers or addresses (1 ↔ 2) in one call. Patches of the same id apply in order.
    /// Returns the changed channels, in the order of their first patch.
    pub fn update_channels(
        &self,
        patches: &[(u32, ChannelPatch)],
    ) -> Result<Vec<ChannelConfig>, StoreError> {
        self.write(|trees| {
            let old: BTreeMap<u32, ChannelConfig> = self
                .channels()?
                .into_iter()
                .map(|channel| (channel.id, channel))
                .collect();
            let mut new = old.clone();
            let mut changed: Vec<u32> = Vec::new();
            for (id, patch) in patches {
                let channel = new.get_mut(id).ok_or_else(|| channel_not_found(*id))?;
                patch.clone().apply(channel);
                if !changed.contains(id) {
                    changed.push(*id);
                }
            }
            let input_ids: HashSet<u32> = self.inputs()?.iter().map(|input| input.id).collect();
            for id in &changed {
                let channel = &new[id];
                let name = old[id].describe();
                validate_channel(channel).map_err(|error| match error {
                    StoreError::Invalid(message) => {
                        StoreError::Invalid(format!("{name}: {message}"))
                    }
                    other => other,
                })?;
                if !input_ids.contains(&channel.input_id) {
                    return Err(StoreError::NotFound(format!(
                        "{name}: there is no input with id {}",
                        channel.input_id
                    )));
                }
                self.check_channel_category(channel)?;
            }
            // Unchanged channels first: when a changed one collides with one that did
            // not move, the message names the one that holds the number or address.
            let order = new
                .keys()
                .filter(|id| !changed.contains(id))
                .chain(changed.iter());
            let mut numbers: HashMap<u16, &ChannelConfig> = HashMap::new();
            let mut addresses: HashMap<String, &ChannelConfig> = HashMap::new();
            for id in order {
                let channel = &new[id];
                if let Some(holder) = numbers.insert(channel.number, channel) {
                    return Err(StoreError::Conflict(format!(
                        "channel number {} is already used by {}",
                        channel.number,
                        holder.describe()
                    )));
                }
                let key = address_key(channel.output.address);
                if let Some(holder) = addresses.insert(key.clone(), channel) {
                    return Err(StoreError::Conflict(format!(
                        "address {key} is already used by {}",
                        holder.describe()
                    )));
                }
            }
            let all = (&trees.channels, &trees.addresses, &trees.numbers);
            all.transaction(|(channels, addresses, numbers)| {
                for id in &changed {
                    if channels.get(id_key(*id))?.is_none() {
                        return Err(channel_not_found(*id).abort());
                    }
                    let before = &old[id];
                    release(numbers, &number_key(before.number), *id)?;
                    release(
                        addresses,
                        address_key(before.output.address).as_bytes(),
                        *id,
                    )?;
                }
                for id in &changed {
                    let channel = &new[id];
                    claim_number(numbers, channels, channel)?;
                    claim_address(addresses, channels, channel)?;
                    channels.insert(&id_key(*id), encode_json(channel))?;
                }
                Ok(())
            })?;
            Ok(changed.iter().map(|id| new[id].clone()).collect())
        })
    }

    /// Removes a channel and its index entries.
    pub fn remove_channel(&self, id: u32) -> Result<(), StoreError> {
        self.write(|trees| {
            let all = (&trees.channels, &trees.addresses, &trees.numbers);
            all.transaction(|(channels, addresses, numbers)| {
                if !delete_channel(channels, addresses, numbers, id)? {
                    return Err(channel_not_found(id).abort());
                }
                Ok(())
            })?;
            Ok(())
        })
    }

    /// What the last scan found on each DVB input, by input id.
    pub fn scans(&self) -> Result<Vec<ScanRecord>, StoreError> {
        self.read(|trees| {
            trees
                .scans
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    decode_json(SCANS, &key_id(SCANS, &key)?, &value)
                })
                .collect()
        })
    }

    /// What the last scan found on input `input_id`, if it is a scanned DVB input.
    pub fn scan(&self, input_id: u32) -> Result<Option<ScanRecord>, StoreError> {
        self.read(|trees| {
            trees
                .scans
                .get(id_key(input_id))?
                .map(|value| decode_json(SCANS, &input_id, &value))
                .transpose()
        })
    }

    /// The stored tuner settings, by adapter and frontend number. A tuner without an
    /// entry has [`TunerSettings::new`]'s defaults.
    pub fn tuners(&self) -> Result<Vec<TunerSettings>, StoreError> {
        self.read(|trees| {
            let mut tuners = trees
                .tuners
                .iter()
                .map(|entry| {
                    let (key, value) = entry?;
                    decode_json::<TunerSettings>(TUNERS, &String::from_utf8_lossy(&key), &value)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Keys sort as bytes (adapter10 before adapter2); people count.
            tuners.sort_by_cached_key(|tuner| tuner::tuner_numbers(&tuner.key));
            Ok(tuners)
        })
    }

    /// The stored settings of tuner `key`, if any.
    pub fn tuner(&self, key: &str) -> Result<Option<TunerSettings>, StoreError> {
        self.read(|trees| {
            trees
                .tuners
                .get(key.as_bytes())?
                .map(|value| decode_json(TUNERS, &key, &value))
                .transpose()
        })
    }

    /// Stores a tuner's settings after validating them, replacing what was stored for
    /// its key.
    pub fn set_tuner(&self, tuner: &TunerSettings) -> Result<(), StoreError> {
        tuner::validate_tuner(tuner)?;
        let json = encode_json(tuner);
        self.write(|trees| {
            trees.tuners.transaction(|tuners| {
                tuners.insert(tuner.key.as_bytes(), json.as_slice())?;
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Changes the fields the patch sets, starting from the stored settings or, for a
    /// tuner without any, from the defaults.
    pub fn update_tuner(&self, key: &str, patch: TunerPatch) -> Result<TunerSettings, StoreError> {
        tuner::validate_tuner_key(key)?;
        self.write(|trees| {
            let mut tuner = self.tuner(key)?.unwrap_or_else(|| TunerSettings::new(key));
            patch.apply(&mut tuner);
            tuner::validate_tuner(&tuner)?;
            let json = encode_json(&tuner);
            trees.tuners.transaction(|tuners| {
                tuners.insert(key.as_bytes(), json.as_slice())?;
                Ok(())
            })?;
            Ok(tuner)
        })
    }

    /// Removes a tuner's stored settings: it goes back to the defaults.
    pub fn remove_tuner(&self, key: &str) -> Result<(), StoreError> {
        self.write(|trees| {
            trees.tuners.transaction(|tuners| {
                if tuners.remove(key.as_bytes())?.is_none() {
                    return Err(StoreError::NotFound(format!(
                        "there are no stored settings for tuner {key:?}"
                    ))
                    .abort());
                }
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Checks that the indexes and counters agree with the records: every channel
    /// decodes and owns its number and address entries, no index entry points
    /// elsewhere, every scan record belongs to an existing input, every tuner entry
    /// sits under its own key, every user owns its username entry, every category a
    /// channel or user names exists (TV and Radio always), and the id counters are
    /// past every id. For diagnostics
    /// and tests; the store keeps this true by itself.
    pub fn verify(&self) -> Result<(), StoreError> {
        self.read(|trees| {
            let corrupt = |message: String| Err(StoreError::Corrupt(message));
            let channels = self.channels()?;
            for channel in &channels {
                let by_number = trees.numbers.get(number_key(channel.number))?;
                let by_number = by_number
                    .map(|value| decode_u32(NUMBERS, &channel.number, &value))
                    .transpose()?;
                if by_number != Some(channel.id) {
                    return corrupt(format!(
                        "index \"numbers\" maps {} to {by_number:?}, not to {}",
                        channel.number,
                        channel.describe()
                    ));
                }
                let key = address_key(channel.output.address);
                let by_address = trees.addresses.get(key.as_bytes())?;
                let by_address = by_address
                    .map(|value| decode_u32(ADDRESSES, &key, &value))
                    .transpose()?;
                if by_address != Some(channel.id) {
                    return corrupt(format!(
                        "index \"addresses\" maps {key} to {by_address:?}, not to {}",
                        channel.describe()
                    ));
                }
            }
            if trees.numbers.len() != channels.len() || trees.addresses.len() != channels.len() {
                return corrupt(format!(
                    "{} channels but {} number and {} address index entries",
                    channels.len(),
                    trees.numbers.len(),
                    trees.addresses.len()
                ));
            }
            let inputs = self.inputs()?;
            for entry in trees.scans.iter() {
                let (key, value) = entry?;
                let id = key_id(SCANS, &key)?;
                let record: ScanRecord = decode_json(SCANS, &id, &value)?;
                if record.input_id != id {
                    return corrupt(format!(
                        "tree \"scans\": key {id} holds the record of input {}",
                        record.input_id
                    ));
                }
                if !inputs.iter().any(|input| input.id == id) {
                    return corrupt(format!(
                        "tree \"scans\" has a record of input {id}, which does not exist"
                    ));
                }
            }
            for entry in trees.tuners.iter() {
                let (key, value) = entry?;
                let key = String::from_utf8_lossy(&key);
                let tuner: TunerSettings = decode_json(TUNERS, &key, &value)?;
                if tuner.key != key {
                    return corrupt(format!(
                        "tree \"tuners\": key {key:?} holds the settings of tuner {:?}",
                        tuner.key
                    ));
                }
            }
            let categories = self.categories()?;
            for (key, category) in trees.categories.iter().zip(&categories) {
                let key = key_id(CATEGORIES, &key?.0)?;
                if category.id != key {
                    return corrupt(format!(
                        "tree \"categories\": key {key} holds category {}",
                        category.id
                    ));
                }
            }
            for id in [CATEGORY_TV, CATEGORY_RADIO] {
                if !categories.iter().any(|category| category.id == id) {
                    return corrupt(format!("the seeded category {id} is missing"));
                }
            }
            let category_exists = |id: u32| categories.iter().any(|category| category.id == id);
            for channel in &channels {
                if let Some(id) = channel.category_id.filter(|id| !category_exists(*id)) {
                    return corrupt(format!(
                        "{} is in category {id}, which does not exist",
                        channel.describe()
                    ));
                }
            }
            let users = self.users()?;
            for user in &users {
                let key = user.username.to_ascii_lowercase();
                let by_name = trees.usernames.get(key.as_bytes())?;
                let by_name = by_name
                    .map(|value| decode_u32(USERNAMES, &key, &value))
                    .transpose()?;
                if by_name != Some(user.id) {
                    return corrupt(format!(
                        "index \"usernames\" maps {key:?} to {by_name:?}, not to user {} ({:?})",
                        user.id, user.username
                    ));
                }
                if let Some(id) = user.categories.iter().find(|id| !category_exists(**id)) {
                    return corrupt(format!(
                        "user {:?} may see category {id}, which does not exist",
                        user.username
                    ));
                }
            }
            if trees.usernames.len() != users.len() {
                return corrupt(format!(
                    "{} users but {} username index entries",
                    users.len(),
                    trees.usernames.len()
                ));
            }
            for entry in trees.users.iter() {
                let (key, value) = entry?;
                let key = key_id(USERS, &key)?;
                let user: XcUser = decode_json(USERS, &key, &value)?;
                if user.id != key {
                    return corrupt(format!("tree \"users\": key {key} holds user {}", user.id));
                }
            }
            let highest_channel = channels.iter().map(|channel| channel.id).max().unwrap_or(0);
            let highest_input = inputs.iter().map(|input| input.id).max().unwrap_or(0);
            let highest_user = users.iter().map(|user| user.id).max().unwrap_or(0);
            let highest_category = categories.iter().map(|c| c.id).max().unwrap_or(0);
            for (key, highest) in [
                (NEXT_CHANNEL_ID_KEY, highest_channel),
                (NEXT_INPUT_ID_KEY, highest_input),
                (NEXT_USER_ID_KEY, highest_user),
                (NEXT_CATEGORY_ID_KEY, highest_category),
            ] {
                let next = trees.meta.get(key)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("tree \"meta\" has no {key:?} counter"))
                })?;
                let next = decode_u32(META, &key, &next)?;
                if next <= highest {
                    return corrupt(format!("{key} is {next}, but id {highest} exists"));
                }
            }
            Ok(())
        })
    }

    fn check_channel_category(&self, channel: &ChannelConfig) -> Result<(), StoreError> {
        match channel.category_id {
            Some(id) => self.check_categories_exist(
                &format_args!("channel {} {:?}: category_id", channel.number, channel.name),
                &[id],
            ),
            None => Ok(()),
        }
    }

    fn used_numbers(&self) -> Result<BTreeSet<u16>, StoreError> {
        self.trees
            .numbers
            .iter()
            .keys()
            .map(|key| decode_u16(NUMBERS, &key?))
            .collect()
    }

    fn used_ips(&self) -> Result<HashSet<IpAddr>, StoreError> {
        self.trees
            .addresses
            .iter()
            .keys()
            .map(|key| {
                let key = key?;
                let text = String::from_utf8_lossy(&key);
                let address: SocketAddr = text.parse().map_err(|_| {
                    StoreError::Corrupt(format!(
                        "index \"addresses\": key {text:?} is not an address"
                    ))
                })?;
                Ok(address.ip())
            })
            .collect()
    }

    fn read<T>(&self, read: impl FnOnce(&Trees) -> Result<T, StoreError>) -> Result<T, StoreError> {
        read(&self.trees).map_err(|error| error.at(&self.path))
    }

    /// Runs a change under the write lock and flushes it: when this returns Ok, the
    /// change is on the medium.
    fn write<T>(
        &self,
        change: impl FnOnce(&Trees) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // The lock guards no data of its own, so a panic in another writer leaves
        // nothing inconsistent behind: sled rolled its transaction back.
        let _serialised = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = change(&self.trees).and_then(|value| {
            self.db.flush()?;
            Ok(value)
        });
        result.map_err(|error| error.at(&self.path))
    }
}

fn key_id(tree: &str, key: &[u8]) -> Result<u32, StoreError> {
    decode_u32(tree, &format_args!("{key:02x?}"), key)
}

fn input_not_found(id: u32) -> StoreError {
    StoreError::NotFound(format!("there is no input with id {id}"))
}

fn channel_not_found(id: u32) -> StoreError {
    StoreError::NotFound(format!("there is no channel with id {id}"))
}

fn counter_behind(key: &str, id: u32) -> StoreError {
    StoreError::Corrupt(format!(
        "counter {key:?} is {id}, but a record with that id exists"
    ))
}

/// Creates a validated channel draft inside a transaction: checks its input, gives it
/// the next id, claims its number and address. The one way channels are created, by
/// hand or by a scan merge.
fn insert_channel(
    meta: &TransactionalTree,
    inputs: &TransactionalTree,
    channels: &TransactionalTree,
    addresses: &TransactionalTree,
    numbers: &TransactionalTree,
    draft: &ChannelConfig,
) -> ConflictableTransactionResult<ChannelConfig, StoreError> {
    if inputs.get(id_key(draft.input_id))?.is_none() {
        return Err(input_not_found(draft.input_id).abort());
    }
    let id = take_next_id(meta, NEXT_CHANNEL_ID_KEY, "channel")?;
    let channel = ChannelConfig {
        id,
        ..draft.clone()
    };
    claim_number(numbers, channels, &channel)?;
    claim_address(addresses, channels, &channel)?;
    if channels
        .insert(&id_key(id), encode_json(&channel))?
        .is_some()
    {
        return Err(counter_behind(NEXT_CHANNEL_ID_KEY, id).abort());
    }
    Ok(channel)
}

/// Names the channel `id` for a conflict message, from inside a transaction.
fn describe_in_tx(
    channels: &TransactionalTree,
    id: u32,
) -> ConflictableTransactionResult<String, StoreError> {
    Ok(match channels.get(id_key(id))? {
        Some(value) => decode_json::<ChannelConfig>(CHANNELS, &id, &value)
            .map_err(StoreError::abort)?
            .describe(),
        None => format!("channel id {id}"),
    })
}

/// Points the `numbers` entry of the channel's number at it, unless another channel
/// holds it.
fn claim_number(
    numbers: &TransactionalTree,
    channels: &TransactionalTree,
    channel: &ChannelConfig,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = number_key(channel.number);
    if let Some(owner) = owner_in_tx(numbers, NUMBERS, &channel.number, &key)?
        && owner != channel.id
    {
        let holder = describe_in_tx(channels, owner)?;
        return Err(StoreError::Conflict(format!(
            "channel number {} is already used by {holder}",
            channel.number
        ))
        .abort());
    }
    numbers.insert(&key, &id_key(channel.id))?;
    Ok(())
}

/// Points the `addresses` entry of the channel's address at it, unless another
/// channel holds it.
fn claim_address(
    addresses: &TransactionalTree,
    channels: &TransactionalTree,
    channel: &ChannelConfig,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = address_key(channel.output.address);
    if let Some(owner) = owner_in_tx(addresses, ADDRESSES, &key, key.as_bytes())?
        && owner != channel.id
    {
        let holder = describe_in_tx(channels, owner)?;
        return Err(
            StoreError::Conflict(format!("address {key} is already used by {holder}")).abort(),
        );
    }
    addresses.insert(key.as_bytes(), &id_key(channel.id))?;
    Ok(())
}

fn owner_in_tx(
    index: &TransactionalTree,
    index_name: &str,
    shown_key: &dyn std::fmt::Display,
    key: &[u8],
) -> ConflictableTransactionResult<Option<u32>, StoreError> {
    match index.get(key)? {
        Some(value) => Ok(Some(
            decode_u32(index_name, shown_key, &value).map_err(StoreError::abort)?,
        )),
        None => Ok(None),
    }
}

/// Removes an index entry if it belongs to channel `id` (an entry of another channel
/// is that channel's business).
fn release(
    index: &TransactionalTree,
    key: &[u8],
    id: u32,
) -> ConflictableTransactionResult<(), StoreError> {
    if let Some(value) = index.get(key)?
        && value.as_ref() == id_key(id)
    {
        index.remove(key)?;
    }
    Ok(())
}

/// Removes channel `id` and its index entries; false if there is no such channel.
fn delete_channel(
    channels: &TransactionalTree,
    addresses: &TransactionalTree,
    numbers: &TransactionalTree,
    id: u32,
) -> ConflictableTransactionResult<bool, StoreError> {
    let Some(value) = channels.remove(&id_key(id))? else {
        return Ok(false);
    };
    let channel: ChannelConfig = decode_json(CHANNELS, &id, &value).map_err(StoreError::abort)?;
    release(numbers, &number_key(channel.number), id)?;
    release(
        addresses,
        address_key(channel.output.address).as_bytes(),
        id,
    )?;
    Ok(true)
}
