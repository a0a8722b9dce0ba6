//! Schema versions and the step migrations between them.
//!
//! Boxes in the field are upgraded across several releases at once, so every layout
//! change is a step `vN_to_vN+1` that runs in order from the version found on disk.
//! A step is one sled transaction that also bumps `schema_version`, followed by a
//! flush: a power cut during an upgrade leaves either the old or the new layout,
//! and the next boot simply runs the step again.
//!
//! A database written by a newer dvbgate is refused untouched: a downgrade must not
//! damage the configuration the newer version will find again after an upgrade.
//!
//! History:
//! - v1: `meta`, `settings` (no dscp/sap/packets_per_datagram), `inputs` (no
//!   auto_channels), `channels` (output as a URL string like `udp://239.255.1.1:5000`,
//!   no strip fields, no per-output overrides), no index trees: uniqueness was checked
//!   by scanning and could be broken by concurrent requests.
//! - v2: indexes `addresses` and `numbers`, structured outputs, new fields.
//! - v3: `scans` (what a scan found on each DVB input) and `tuners` (per-tuner
//!   settings), both empty after the upgrade; nothing else changed.
//! - v4: `users` and `usernames` (Xtream-Codes accounts and their name index), empty
//!   after the upgrade, and `categories`, seeded with TV (1) and Radio (2); counters
//!   `next_user_id` and `next_category_id`. Channels gained `category_id`, `xmltv_id`
//!   and `created_at`, the settings `epg`: all read from older records as their serde
//!   defaults, so the step rewrites no record.
//! - v5: channels gained `hls` (offered over HLS or not), read from older records as
//!   true; the administrator password may sit in `meta` (absent until set). The step
//!   only bumps the version: no record is rewritten.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::Deserialize;
use sled::Transactional;
use tracing::{info, warn};

use crate::categories::{FIRST_FREE_CATEGORY_ID, seeded_categories};
use crate::codec::{
    ADDRESSES, CATEGORIES, CHANNELS, INPUTS, META, NEXT_CATEGORY_ID_KEY, NEXT_CHANNEL_ID_KEY,
    NEXT_INPUT_ID_KEY, NEXT_USER_ID_KEY, NUMBERS, SCANS, SCHEMA_VERSION_KEY, SETTINGS,
    SETTINGS_KEY, TUNERS, USERNAMES, USERS, decode_json, decode_u32, encode_json, id_key,
    number_key,
};
use crate::error::StoreError;
use crate::model::{
    ChannelConfig, InputConfig, OutputConfig, Protocol, Settings, address_key, validate_channel,
    validate_output_address, validate_settings,
};
use crate::pool::{Ipv4Cidr, lowest_free_address, lowest_free_number};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = 5;

type Step = fn(&sled::Db) -> Result<(), StoreError>;

/// `STEPS[i]` migrates schema `i + 1` to `i + 2`.
const STEPS: [Step; (SCHEMA_VERSION - 1) as usize] = [v1_to_v2, v2_to_v3, v3_to_v4, v4_to_v5];

/// Brings the freshly opened database to [`SCHEMA_VERSION`]: initialises an empty
/// one, migrates an older one, refuses a newer one. Returns the version.
pub(crate) fn prepare(db: &sled::Db, dir: &Path) -> Result<u32, StoreError> {
    // Look before creating anything (open_tree creates a missing tree): a newer
    // database must not be changed at all.
    let names = db.tree_names();
    let exists = |tree: &str| names.iter().any(|name| name.as_ref() == tree.as_bytes());
    let stored_version = if exists(META) {
        db.open_tree(META)?
            .get(SCHEMA_VERSION_KEY)?
            .map(|bytes| decode_u32(META, &SCHEMA_VERSION_KEY, &bytes))
            .transpose()?
    } else {
        None
    };
    if stored_version.is_none() {
        // No version: a new database, or one whose creation a power cut interrupted
        // after some trees were created but before the first commit. Either way all
        // our trees are empty; anything else is not ours to initialise over.
        for tree in [
            META, SETTINGS, INPUTS, CHANNELS, ADDRESSES, NUMBERS, SCANS, TUNERS, USERS, USERNAMES,
            CATEGORIES,
        ] {
            if exists(tree) && !db.open_tree(tree)?.is_empty() {
                return Err(StoreError::Corrupt(format!(
                    "the database has records in tree {tree:?} but no schema_version \
                     in tree \"meta\""
                )));
            }
        }
    }

    let Some(mut version) = stored_version else {
        initialize(db)?;
        info!(path = %dir.display(), schema = SCHEMA_VERSION, "created a new configuration database");
        return Ok(SCHEMA_VERSION);
    };
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: dir.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        return Err(StoreError::Corrupt(
            "schema_version is 0; versions start at 1".into(),
        ));
    }
    while version < SCHEMA_VERSION {
        info!(path = %dir.display(), from = version, to = version + 1, "migrating the configuration database");
        STEPS[(version - 1) as usize](db)?;
        let meta = db.open_tree(META)?;
        let now = meta
            .get(SCHEMA_VERSION_KEY)?
            .map(|bytes| decode_u32(META, &SCHEMA_VERSION_KEY, &bytes))
            .transpose()?;
        if now != Some(version + 1) {
            return Err(StoreError::Corrupt(format!(
                "the migration from schema {version} left schema_version at {now:?}"
            )));
        }
        version += 1;
    }
    Ok(version)
}

/// Writes an empty database at the current schema: version, counters, default
/// settings, the seeded categories.
fn initialize(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree(META)?;
    let settings = db.open_tree(SETTINGS)?;
    let categories = db.open_tree(CATEGORIES)?;
    let defaults = encode_json(&Settings::default());
    (&meta, &settings, &categories)
        .transaction(|(meta, settings, categories)| {
            settings.insert(SETTINGS_KEY, defaults.as_slice())?;
            for category in seeded_categories() {
                categories.insert(&id_key(category.id), encode_json(&category))?;
            }
            meta.insert(NEXT_INPUT_ID_KEY, &1u32.to_be_bytes())?;
            meta.insert(NEXT_CHANNEL_ID_KEY, &1u32.to_be_bytes())?;
            meta.insert(NEXT_USER_ID_KEY, &1u32.to_be_bytes())?;
            meta.insert(NEXT_CATEGORY_ID_KEY, &FIRST_FREE_CATEGORY_ID.to_be_bytes())?;
            meta.insert(SCHEMA_VERSION_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            Ok(())
        })
        .map_err(StoreError::from)?;
    db.flush()?;
    Ok(())
}

/// Settings as v1 stored them. Lenient on purpose: whatever v1 wrote has to come
/// across, with a missing field taking today's default.
#[derive(Deserialize)]
#[serde(default)]
struct V1Settings {
    multicast_interface: Option<String>,
    pool: String,
    base_port: u16,
    ttl: u8,
}

impl Default for V1Settings {
    fn default() -> Self {
        let defaults = Settings::default();
        V1Settings {
            multicast_interface: defaults.multicast_interface,
            pool: defaults.pool.to_string(),
            base_port: defaults.base_port,
            ttl: defaults.ttl,
        }
    }
}

#[derive(Deserialize)]
struct V1Input {
    id: u32,
    name: String,
    url: String,
    enabled: bool,
}

#[derive(Deserialize)]
struct V1Channel {
    id: u32,
    input_id: u32,
    service_id: u16,
    number: u16,
    name: String,
    enabled: bool,
    output: String,
}

/// v1 → v2: structured outputs, new fields with their defaults, index trees, and a
/// repair of duplicate numbers and addresses that v1 could not prevent.
pub(crate) fn v1_to_v2(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree(META)?;
    let settings_tree = db.open_tree(SETTINGS)?;
    let inputs_tree = db.open_tree(INPUTS)?;
    let channels_tree = db.open_tree(CHANNELS)?;
    let addresses_tree = db.open_tree(ADDRESSES)?;
    let numbers_tree = db.open_tree(NUMBERS)?;

    let settings = convert_settings(match settings_tree.get(SETTINGS_KEY)? {
        Some(bytes) => decode_json(SETTINGS, &SETTINGS_KEY, &bytes)?,
        None => {
            warn!("v1 configuration has no settings record; using the defaults");
            V1Settings::default()
        }
    });
    let mut inputs = Vec::new();
    for entry in inputs_tree.iter() {
        let (key, value) = entry?;
        let old: V1Input = decode_json(INPUTS, &format_args!("{key:02x?}"), &value)?;
        inputs.push(InputConfig {
            id: old.id,
            name: old.name,
            url: old.url,
            enabled: old.enabled,
            auto_channels: false,
        });
    }
    let mut old_channels = Vec::new();
    for entry in channels_tree.iter() {
        let (key, value) = entry?;
        old_channels.push(decode_json::<V1Channel>(
            CHANNELS,
            &format_args!("{key:02x?}"),
            &value,
        )?);
    }
    let input_ids: HashSet<u32> = inputs.iter().map(|input| input.id).collect();
    let channels = convert_channels(&settings, old_channels, &input_ids)?;

    // Index trees of a v1 database are empty; clear them anyway so that the step
    // builds them from nothing whatever a half-finished experiment left there.
    let stale_addresses: Vec<_> = addresses_tree.iter().keys().collect::<Result<_, _>>()?;
    let stale_numbers: Vec<_> = numbers_tree.iter().keys().collect::<Result<_, _>>()?;
    let next_input_id = next_counter(
        &meta,
        NEXT_INPUT_ID_KEY,
        inputs.iter().map(|input| input.id),
    )?;
    let next_channel_id = next_counter(
        &meta,
        NEXT_CHANNEL_ID_KEY,
        channels.iter().map(|channel| channel.id),
    )?;

    let settings_json = encode_json(&settings);
    let all = (
        &meta,
        &settings_tree,
        &inputs_tree,
        &channels_tree,
        &addresses_tree,
        &numbers_tree,
    );
    all.transaction(
        |(meta, settings_tx, inputs_tx, channels_tx, addresses, numbers)| {
            let version = meta.get(SCHEMA_VERSION_KEY)?;
            if version.as_deref() != Some(&1u32.to_be_bytes()[..]) {
                return Err(StoreError::Corrupt(format!(
                    "the v1→v2 migration found schema_version {version:02x?} instead of 1"
                ))
                .abort());
            }
            for key in stale_addresses.iter() {
                addresses.remove(key)?;
            }
            for key in stale_numbers.iter() {
                numbers.remove(key)?;
            }
            settings_tx.insert(SETTINGS_KEY, settings_json.as_slice())?;
            for input in &inputs {
                inputs_tx.insert(&id_key(input.id), encode_json(input))?;
            }
            for channel in &channels {
                channels_tx.insert(&id_key(channel.id), encode_json(channel))?;
                addresses.insert(
                    address_key(channel.output.address).as_bytes(),
                    &id_key(channel.id),
                )?;
                numbers.insert(&number_key(channel.number), &id_key(channel.id))?;
            }
            meta.insert(NEXT_INPUT_ID_KEY, &next_input_id.to_be_bytes())?;
            meta.insert(NEXT_CHANNEL_ID_KEY, &next_channel_id.to_be_bytes())?;
            meta.insert(SCHEMA_VERSION_KEY, &2u32.to_be_bytes())?;
            Ok(())
        },
    )
    .map_err(StoreError::from)?;
    db.flush()?;
    info!(
        inputs = inputs.len(),
        channels = channels.len(),
        "configuration migrated to schema 2"
    );
    Ok(())
}

/// v2 → v3: the trees `scans` and `tuners`, empty. A v2 database has neither; clear
/// them anyway (as v1 → v2 does its indexes), so that the step starts from nothing
/// whatever an interrupted experiment left there.
pub(crate) fn v2_to_v3(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree(META)?;
    let scans_tree = db.open_tree(SCANS)?;
    let tuners_tree = db.open_tree(TUNERS)?;
    let stale_scans: Vec<_> = scans_tree.iter().keys().collect::<Result<_, _>>()?;
    let stale_tuners: Vec<_> = tuners_tree.iter().keys().collect::<Result<_, _>>()?;
    (&meta, &scans_tree, &tuners_tree)
        .transaction(|(meta, scans, tuners)| {
            let version = meta.get(SCHEMA_VERSION_KEY)?;
            if version.as_deref() != Some(&2u32.to_be_bytes()[..]) {
                return Err(StoreError::Corrupt(format!(
                    "the v2→v3 migration found schema_version {version:02x?} instead of 2"
                ))
                .abort());
            }
            for key in &stale_scans {
                scans.remove(key)?;
            }
            for key in &stale_tuners {
                tuners.remove(key)?;
            }
            meta.insert(SCHEMA_VERSION_KEY, &3u32.to_be_bytes())?;
            Ok(())
        })
        .map_err(StoreError::from)?;
    db.flush()?;
    info!("configuration migrated to schema 3");
    Ok(())
}

/// v3 → v4: the trees `users`, `usernames` (empty) and `categories` (TV and Radio),
/// and their counters. Like v2 → v3, whatever an interrupted experiment left in the
/// new trees is cleared first. Channels and settings stay as they are: their new
/// fields read as defaults (no category, no XMLTV id, created_at 0, default EPG
/// settings).
pub(crate) fn v3_to_v4(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree(META)?;
    let users_tree = db.open_tree(USERS)?;
    let usernames_tree = db.open_tree(USERNAMES)?;
    let categories_tree = db.open_tree(CATEGORIES)?;
    let stale = |tree: &sled::Tree| tree.iter().keys().collect::<Result<Vec<_>, _>>();
    let stale_users = stale(&users_tree)?;
    let stale_usernames = stale(&usernames_tree)?;
    let stale_categories = stale(&categories_tree)?;
    (&meta, &users_tree, &usernames_tree, &categories_tree)
        .transaction(|(meta, users, usernames, categories)| {
            let version = meta.get(SCHEMA_VERSION_KEY)?;
            if version.as_deref() != Some(&3u32.to_be_bytes()[..]) {
                return Err(StoreError::Corrupt(format!(
                    "the v3→v4 migration found schema_version {version:02x?} instead of 3"
                ))
                .abort());
            }
            for key in &stale_users {
                users.remove(key)?;
            }
            for key in &stale_usernames {
                usernames.remove(key)?;
            }
            for key in &stale_categories {
                categories.remove(key)?;
            }
            for category in seeded_categories() {
                categories.insert(&id_key(category.id), encode_json(&category))?;
            }
            meta.insert(NEXT_USER_ID_KEY, &1u32.to_be_bytes())?;
            meta.insert(NEXT_CATEGORY_ID_KEY, &FIRST_FREE_CATEGORY_ID.to_be_bytes())?;
            meta.insert(SCHEMA_VERSION_KEY, &4u32.to_be_bytes())?;
            Ok(())
        })
        .map_err(StoreError::from)?;
    db.flush()?;
    info!("configuration migrated to schema 4");
    Ok(())
}

/// v4 → v5: nothing to rewrite (channels read `hls` as true, and the administrator
/// password is absent until set); only the version changes, in a transaction that
/// checks it is still 4.
pub(crate) fn v4_to_v5(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree(META)?;
    meta.transaction(|meta| {
        let version = meta.get(SCHEMA_VERSION_KEY)?;
        if version.as_deref() != Some(&4u32.to_be_bytes()[..]) {
            return Err(StoreError::Corrupt(format!(
                "the v4→v5 migration found schema_version {version:02x?} instead of 4"
            ))
            .abort());
        }
        meta.insert(SCHEMA_VERSION_KEY, &5u32.to_be_bytes())?;
        Ok(())
    })
    .map_err(StoreError::from)?;
    db.flush()?;
    info!("configuration migrated to schema 5");
    Ok(())
}

fn convert_settings(old: V1Settings) -> Settings {
    let defaults = Settings::default();
    let pool = old.pool.parse::<Ipv4Cidr>().unwrap_or_else(|error| {
        warn!(%error, default = %defaults.pool, "v1 address pool is unusable; using the default");
        defaults.pool
    });
    let settings = Settings {
        multicast_interface: old.multicast_interface,
        pool,
        base_port: old.base_port,
        ttl: old.ttl,
        ..defaults
    };
    if let Err(error) = validate_settings(&settings) {
        // Kept as it is: v1 ran with it, and the operator sees the error on the next
        // settings change.
        warn!(%error, "v1 settings break a v2 rule");
    }
    settings
}

/// The counter to store: the old one, or past the highest id if v1 got it wrong.
fn next_counter(
    meta: &sled::Tree,
    key: &str,
    ids: impl Iterator<Item = u32>,
) -> Result<u32, StoreError> {
    let stored = match meta.get(key)? {
        Some(bytes) => decode_u32(META, &key, &bytes)?,
        None => 1,
    };
    let past_highest = ids.max().map_or(1, |id| id.saturating_add(1));
    Ok(stored.max(past_highest))
}

/// Parses a v1 output URL, `udp://ADDR:PORT` or `rtp://ADDR:PORT` (IPv6 in brackets).
fn parse_v1_output(url: &str) -> Option<(Protocol, SocketAddr)> {
    let (scheme, rest) = url.split_once("://")?;
    let protocol = match scheme.to_ascii_lowercase().as_str() {
        "udp" => Protocol::Udp,
        "rtp" => Protocol::Rtp,
        _ => return None,
    };
    let address = rest.strip_suffix('/').unwrap_or(rest).parse().ok()?;
    Some((protocol, address))
}

/// Converts v1 channels (in id order, i.e. creation order) and gives a later channel
/// that repeats an earlier one's number or address (or has one v2 refuses) a free
/// one. Earlier channels keep theirs: they are the ones guests know.
fn convert_channels(
    settings: &Settings,
    old_channels: Vec<V1Channel>,
    input_ids: &HashSet<u32>,
) -> Result<Vec<ChannelConfig>, StoreError> {
    let mut channels = Vec::with_capacity(old_channels.len());
    for old in old_channels {
        let Some((protocol, address)) = parse_v1_output(&old.output) else {
            return Err(StoreError::Corrupt(format!(
                "tree \"channels\": channel {} {:?} (id {}) has output {:?}, which is not \
                 a udp:// or rtp:// address with a port",
                old.number, old.name, old.id, old.output
            )));
        };
        channels.push(ChannelConfig {
            id: old.id,
            input_id: old.input_id,
            service_id: old.service_id,
            number: old.number,
            name: old.name,
            enabled: old.enabled,
            output: OutputConfig {
                address,
                protocol,
                multicast: true,
                ttl: None,
                dscp: None,
                interface: None,
            },
            strip_ca: false,
            strip_es: Vec::new(),
            category_id: None,
            xmltv_id: None,
            created_at: 0,
            hls: true,
        });
    }

    // First pass: every channel whose number and address are valid and not yet
    // taken keeps them. Only then are replacements picked, so that a replacement
    // never takes what a later channel already had.
    let mut number_owner: BTreeMap<u16, usize> = BTreeMap::new();
    let mut address_owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut needs_number = Vec::new();
    let mut needs_address = Vec::new();
    for (index, channel) in channels.iter().enumerate() {
        let number_valid = (1..=crate::model::MAX_CHANNEL_NUMBER).contains(&channel.number);
        match number_owner.get(&channel.number) {
            None if number_valid => {
                number_owner.insert(channel.number, index);
            }
            holder => needs_number.push((index, holder.copied())),
        }
        let key = address_key(channel.output.address);
        let address_valid = validate_output_address(channel.output.address).is_ok();
        match address_owner.get(&key) {
            None if address_valid => {
                address_owner.insert(key, index);
            }
            holder => needs_address.push((index, holder.copied())),
        }
    }

    for (index, holder) in needs_number {
        let used: BTreeSet<u16> = number_owner.keys().copied().collect();
        let number = lowest_free_number(&used)?;
        let old = channels[index].describe();
        let reason = match holder {
            Some(holder) => format!("is also used by {}", channels[holder].describe()),
            None => "is out of range".to_string(),
        };
        warn!("v1 configuration: the number of {old} {reason}; it now has number {number}");
        channels[index].number = number;
        number_owner.insert(number, index);
    }
    for (index, holder) in needs_address {
        let used: HashSet<IpAddr> = address_owner
            .values()
            .map(|owner| channels[*owner].output.address.ip())
            .collect();
        let address = lowest_free_address(settings.pool, settings.base_port, &used)?;
        let channel = &channels[index];
        let reason = match holder {
            Some(holder) => format!("is also used by {}", channels[holder].describe()),
            None => "cannot be used".to_string(),
        };
        warn!(
            "v1 configuration: the address {} of {} {reason}; it now sends to {address}",
            channel.output.address,
            channel.describe()
        );
        channels[index].output.address = address;
        address_owner.insert(address_key(address), index);
    }

    for channel in &channels {
        if !input_ids.contains(&channel.input_id) {
            warn!(
                "v1 configuration: {} refers to input {}, which does not exist",
                channel.describe(),
                channel.input_id
            );
        }
        if let Err(error) = validate_channel(channel) {
            warn!(
                "v1 configuration: {} breaks a v2 rule: {error}",
                channel.describe()
            );
        }
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_outputs() {
        let parse = |url: &str| parse_v1_output(url).map(|(p, a)| (p, a.to_string()));
        assert_eq!(
            parse("udp://239.255.1.1:5000"),
            Some((Protocol::Udp, "239.255.1.1:5000".into()))
        );
        assert_eq!(
            parse("RTP://239.255.1.2:5000/"),
            Some((Protocol::Rtp, "239.255.1.2:5000".into()))
        );
        assert_eq!(
            parse("udp://[ff15::1]:5000"),
            Some((Protocol::Udp, "[ff15::1]:5000".into()))
        );
        for garbage in [
            "",
            "239.255.1.1:5000",
            "http://239.255.1.1:5000",
            "udp://239.255.1.1",
            "udp://@239.255.1.1:5000",
            "udp://host:5000",
        ] {
            assert_eq!(parse(garbage), None, "{garbage}");
        }
    }

    fn v1_channel(id: u32, number: u16, output: &str) -> V1Channel {
        V1Channel {
            id,
            input_id: 1,
            service_id: 100 + id as u16,
            number,
            name: format!("Channel {id}"),
            enabled: true,
            output: output.into(),
        }
    }

    #[test]
    fn repairs_never_take_what_a_later_channel_has() {
        let old = vec![
            v1_channel(1, 1, "udp://239.255.1.1:5000"),
            v1_channel(2, 1, "udp://239.255.1.1:5000"), // both duplicated
            v1_channel(3, 2, "udp://239.255.1.2:5000"),
            v1_channel(4, 0, "udp://224.0.0.1:5000"), // both invalid in v2
        ];
        let channels =
            convert_channels(&Settings::default(), old, &HashSet::from([1])).expect("converts");
        let summary: Vec<_> = channels
            .iter()
            .map(|c| (c.id, c.number, c.output.address.to_string()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, 1, "239.255.1.1:5000".into()),
                (2, 3, "239.255.1.3:5000".into()),
                (3, 2, "239.255.1.2:5000".into()),
                (4, 4, "239.255.1.4:5000".into()),
            ]
        );
    }

    #[test]
    fn garbage_output_names_the_channel() {
        let old = vec![v1_channel(5, 7, "udp:/239.255.1.1")];
        let error =
            convert_channels(&Settings::default(), old, &HashSet::new()).expect_err("garbage");
        assert!(matches!(error, StoreError::Corrupt(_)));
        let text = error.to_string();
        assert!(text.contains("channel 7 \"Channel 5\" (id 5)"), "{text}");
        assert!(text.contains("udp:/239.255.1.1"), "{text}");
    }
}
