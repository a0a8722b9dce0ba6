//! Merging a scan into the configuration: which multiplexes are inputs already, which
//! services already have channels, what is new, what moved and what is gone.
//!
//! A hotel technician scans once, picks and numbers the channels, names them, gives
//! them addresses, and months later scans again because the broadcaster changed
//! something. The second scan must not undo the first one's work: **existing channels
//! are never renamed, renumbered, re-addressed, enabled or disabled**, and an input's
//! URL (which the technician may have tuned by hand) only changes when the broadcaster
//! really moved the multiplex. What the merge does:
//!
//! - **Multiplexes.** A scanned multiplex is the input whose scan record carries the
//!   same (original network id, transport stream id); failing that, the DVB input whose
//!   tuning reaches the same multiplex ([`Tuning::same_multiplex`]). Ids are tried first
//!   for every multiplex of the scan, then tunings, so that a re-plan (multiplex A moves
//!   from 474 to 482 MHz and B takes over 474 MHz) gives A's input to A, not to B.
//!   A match replaces the input's scan record. Its URL changes only when the match was
//!   by ids and the frequency moved, or when the delivery system changed (a DVB-T URL
//!   cannot tune a multiplex that went DVB-T2); an input still called by the name the
//!   merge gave it follows. No match: a new input named after the network and the
//!   frequency, enabled, without auto-channels.
//! - **Duplicates** in one scan (the same multiplex heard from two transmitters): the
//!   first wins, the others are reported. A scan that lists the better one first gets
//!   it.
//! - **Channels.** A free-to-air TV or radio service gets a channel unless one exists:
//!   on its input with its service id, or on another input whose scan record had the
//!   same original network id and service id while that input no longer carries it —
//!   then the service moved, and its channels move with it (only their input changes).
//!   Scrambled and data services get no channel; they are reported as skipped.
//! - **New channels** take the service's logical channel number when it is free and in
//!   range, otherwise the lowest free number, like a channel added by hand. Services
//!   with a number claim theirs first, so a service without one never takes a number a
//!   later service was assigned by its network. On a conflict (two networks, one
//!   number) the first in scan order keeps it; the other goes to the lowest free number
//!   rather than to some distant range, because the technician renumbers the channel
//!   list anyway and a gap-filling number is the least surprising place to find it.
//!   Addresses come from the pool as for a channel added by hand. New channels are off
//!   unless [`MergeOptions::enable_new`]: a box has a few tuners and a hotel network a
//!   budget, so the technician picks what goes out.
//! - **Services no longer found** keep their channels; they are reported as missing.
//!
//! The decision is [`plan`], a pure function of the configuration and the scan; the
//! store then applies the plan in one transaction, so a merge happens completely or
//! not at all.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use dvbgate_tuning::Tuning;
use dvbgate_tuning::params::{Params, Polarisation};
use serde::{Deserialize, Serialize};

use sled::Transactional;

use crate::codec::{NEXT_INPUT_ID_KEY, encode_json, id_key, take_next_id};
use crate::error::StoreError;
use crate::model::{
    ChannelConfig, InputConfig, MAX_CHANNEL_NUMBER, MAX_NAME_CHARS, NewChannel, Settings,
    validate_channel, validate_input,
};
use crate::pool::{lowest_free_address, lowest_free_number};
use crate::scan::{
    ScanRecord, ScannedMux, ScannedService, ServiceKind, broadcast_text, validate_scan_record,
    validate_scanned_mux,
};

/// How a merge treats what it creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MergeOptions {
    /// Whether new channels are sent at once. Default false: the technician picks which
    /// channels go out (a box cannot tune every multiplex at once).
    pub enable_new: bool,
}

/// What a merge did, for the API and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeReport {
    /// Inputs made for multiplexes no input had.
    pub inputs_created: Vec<InputSummary>,
    /// Inputs whose multiplex the scan found again (their scan record was replaced).
    pub inputs_updated: Vec<InputUpdate>,
    /// Channels made for services that had none.
    pub channels_created: Vec<ChannelSummary>,
    /// Channels that followed their service to another multiplex.
    pub channels_moved: Vec<ChannelMove>,
    /// Services of scanned inputs that the scan did not find any more; their channels
    /// are kept.
    pub missing: Vec<MissingService>,
    /// Services that got no channel because they are scrambled or not TV or radio.
    pub skipped: Vec<SkippedService>,
    /// Multiplexes the scan listed twice; the first was merged.
    pub duplicates: Vec<DuplicateMux>,
    /// DVB inputs the scan did not find (off air, or not among the frequencies
    /// scanned). Nothing about them changed.
    pub inputs_not_found: Vec<InputSummary>,
}

/// An input in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSummary {
    pub id: u32,
    pub name: String,
    pub url: String,
}

/// An input whose multiplex was found again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputUpdate {
    pub id: u32,
    pub name: String,
    /// The URL after the merge.
    pub url: String,
    /// The URL before, when the merge changed it (the multiplex moved).
    pub previous_url: Option<String>,
    /// How the multiplex was recognised.
    pub matched_by: MatchedBy,
}

/// How a scanned multiplex was recognised as an existing input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// Its original network id and transport stream id.
    Ids,
    /// Its frequency (and polarisation and dish).
    Tuning,
}

/// A channel in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub id: u32,
    pub input_id: u32,
    pub service_id: u16,
    pub number: u16,
    pub name: String,
    pub enabled: bool,
}

/// A channel that followed its service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMove {
    pub id: u32,
    pub service_id: u16,
    pub number: u16,
    pub name: String,
    pub from_input_id: u32,
    pub to_input_id: u32,
}

/// A service the scan no longer found on its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingService {
    pub input_id: u32,
    pub service_id: u16,
    /// Its name from the previous scan, else from its first channel; may be empty.
    pub name: String,
    /// Its channels, kept as they were.
    pub channel_ids: Vec<u32>,
}

/// A service that got no channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedService {
    pub input_id: u32,
    pub service_id: u16,
    pub name: String,
    pub reason: SkipReason,
}

/// Why a service got no channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A TV or radio service the box cannot descramble.
    Scrambled,
    /// A data service (nothing to watch or hear).
    Data,
    /// A service type the scan did not recognise.
    Other,
}

/// A multiplex the scan listed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateMux {
    /// URL of the copy that was left out.
    pub url: String,
    /// URL of the multiplex merged instead.
    pub same_as: String,
}

/// The configuration a merge starts from.
#[derive(Debug, Clone)]
pub(crate) struct MergeState {
    pub settings: Settings,
    pub inputs: Vec<ExistingInput>,
    pub channels: Vec<ChannelConfig>,
}

/// An input with what the merge knows of its multiplex.
#[derive(Debug, Clone)]
pub(crate) struct ExistingInput {
    pub config: InputConfig,
    /// The tuning of its URL, when the URL is a DVB tuning.
    pub url_tuning: Option<Tuning>,
    pub record: Option<ScanRecord>,
}

impl ExistingInput {
    /// The tuning the input is received with now: its URL's, else where the last scan
    /// found it.
    fn tuning(&self) -> Option<Tuning> {
        self.url_tuning
            .or_else(|| self.record.as_ref().map(|record| record.tuning))
    }
}

/// The input a planned change applies to: an existing one, or the plan's n-th new one
/// (whose id the transaction assigns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Existing(u32),
    New(usize),
}

/// What a merge will write.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// New inputs in creation order (`Target::New(n)` is the n-th); ids 0.
    pub new_inputs: Vec<InputConfig>,
    /// Existing inputs whose record changes (URL, name).
    pub changed_inputs: Vec<InputConfig>,
    /// The scan records to store; `input_id` is set from the target on apply.
    pub records: Vec<(Target, ScanRecord)>,
    /// Channels to move, as they are now, and where to.
    pub moves: Vec<(ChannelConfig, Target)>,
    /// Channels to create: id 0, input set from the target on apply.
    pub new_channels: Vec<(Target, ChannelConfig)>,
    /// The report's parts that do not depend on ids assigned on apply.
    pub inputs_updated: Vec<InputUpdate>,
    pub missing: Vec<MissingService>,
    /// Skipped services and their input (a new input's id is known on apply).
    pub skipped: Vec<(Target, SkippedService)>,
    pub duplicates: Vec<DuplicateMux>,
    pub inputs_not_found: Vec<InputSummary>,
}

/// Decides a merge. Pure: the same configuration, scan, options and time give the same
/// plan. Refuses (changing nothing) a scan that breaks a rule or needs more numbers or
/// addresses than are free.
pub(crate) fn plan(
    state: &MergeState,
    scan: &[ScannedMux],
    options: &MergeOptions,
    now: u64,
) -> Result<Plan, StoreError> {
    for mux in scan {
        validate_scanned_mux(mux)?;
    }
    let mut plan = Plan::default();

    // Duplicates: the first of several copies of a multiplex wins.
    let mut muxes: Vec<&ScannedMux> = Vec::with_capacity(scan.len());
    for mux in scan {
        match muxes.iter().find(|earlier| same_scanned_mux(earlier, mux)) {
            Some(earlier) => plan.duplicates.push(DuplicateMux {
                url: mux.url.clone(),
                same_as: earlier.url.clone(),
            }),
            None => muxes.push(mux),
        }
    }

    let targets = match_inputs(state, &muxes);
    let input_by_id: HashMap<u32, &ExistingInput> = state
        .inputs
        .iter()
        .map(|input| (input.config.id, input))
        .collect();

    // Inputs and scan records.
    for (mux, target) in muxes.iter().zip(&targets) {
        let target = match target {
            Some((id, matched_by)) => {
                let input = input_by_id[id];
                let (config, previous_url) = follow_mux(input, mux, *matched_by);
                validate_input(&config)?;
                if config != input.config {
                    plan.changed_inputs.push(config.clone());
                }
                plan.inputs_updated.push(InputUpdate {
                    id: *id,
                    name: config.name,
                    url: config.url,
                    previous_url,
                    matched_by: *matched_by,
                });
                Target::Existing(*id)
            }
            None => {
                let input = InputConfig {
                    id: 0,
                    name: input_name(&mux.network_name, &mux.tuning),
                    url: mux.url.clone(),
                    enabled: true,
                    auto_channels: false,
                };
                validate_input(&input)?;
                plan.new_inputs.push(input);
                Target::New(plan.new_inputs.len() - 1)
            }
        };
        let record = mux.to_record(0, now);
        validate_scan_record(&record)?;
        plan.records.push((target, record));
    }

    // Where every channel is, as moves happen.
    let mut location: Vec<Target> = state
        .channels
        .iter()
        .map(|channel| Target::Existing(channel.input_id))
        .collect();
    // The service ids each rescanned input carries now.
    let carried_now: HashMap<u32, HashSet<u16>> = muxes
        .iter()
        .zip(&targets)
        .filter_map(|(mux, target)| {
            let (id, _) = target.as_ref()?;
            Some((*id, mux.services.iter().map(|s| s.service_id).collect()))
        })
        .collect();
    let mut moved_away: HashSet<(u32, u16)> = HashSet::new();
    let mut wanted: Vec<(Target, &ScannedService)> = Vec::new();

    for ((mux, _), (target, _)) in muxes.iter().zip(&targets).zip(&plan.records) {
        let target = *target;
        for service in &mux.services {
            let sid = service.service_id;
            let exists = state
                .channels
                .iter()
                .zip(&location)
                .any(|(channel, at)| *at == target && channel.service_id == sid);
            if exists {
                continue;
            }
            let moving: Vec<usize> = match mux.original_network_id {
                Some(onid) => (0..state.channels.len())
                    .filter(|&index| {
                        let channel = &state.channels[index];
                        let Target::Existing(from) = location[index] else {
                            return false;
                        };
                        channel.service_id == sid
                            && Target::Existing(from) != target
                            && from == channel.input_id
                            && carried_before(&input_by_id, from, onid, sid)
                            && !carried_now.get(&from).is_some_and(|ids| ids.contains(&sid))
                    })
                    .collect(),
                None => Vec::new(),
            };
            if !moving.is_empty() {
                for index in moving {
                    let channel = &state.channels[index];
                    moved_away.insert((channel.input_id, sid));
                    location[index] = target;
                    plan.moves.push((channel.clone(), target));
                }
                continue;
            }
            let reason = match (service.kind, service.scrambled) {
                (ServiceKind::Tv | ServiceKind::Radio, false) => None,
                (ServiceKind::Tv | ServiceKind::Radio, true) => Some(SkipReason::Scrambled),
                (ServiceKind::Data, _) => Some(SkipReason::Data),
                (ServiceKind::Other, _) => Some(SkipReason::Other),
            };
            match reason {
                None => wanted.push((target, service)),
                Some(reason) => plan.skipped.push((target, skipped(service, reason))),
            }
        }
    }

    plan.new_channels = new_channels(state, &wanted, options)?;
    plan.missing = missing_services(state, &carried_now, &location, &moved_away);
    plan.inputs_not_found = state
        .inputs
        .iter()
        .filter(|input| {
            input.tuning().is_some()
                && !targets
                    .iter()
                    .flatten()
                    .any(|(id, _)| *id == input.config.id)
        })
        .map(|input| InputSummary {
            id: input.config.id,
            name: input.config.name.clone(),
            url: input.config.url.clone(),
        })
        .collect();
    Ok(plan)
}

/// A skipped service; its input id is set on apply.
fn skipped(service: &ScannedService, reason: SkipReason) -> SkippedService {
    SkippedService {
        input_id: 0,
        service_id: service.service_id,
        name: broadcast_text(&service.name),
        reason,
    }
}

/// Whether two multiplexes of one scan are the same one: the same ids, or the same
/// tuning where the ids do not say otherwise (two DVB-T2 PLPs share a frequency but
/// not their transport stream id).
fn same_scanned_mux(a: &ScannedMux, b: &ScannedMux) -> bool {
    match (a.ids(), b.ids()) {
        (Some(a_ids), Some(b_ids)) if a_ids == b_ids => true,
        (Some(_), Some(_)) if a.transport_stream_id != b.transport_stream_id => false,
        _ => a.tuning.same_multiplex(&b.tuning),
    }
}

/// For each multiplex, the existing input it is and how it was recognised: by ids
/// first (for all multiplexes), then by tuning among the inputs still free. The lowest
/// input id wins a tie.
fn match_inputs(state: &MergeState, muxes: &[&ScannedMux]) -> Vec<Option<(u32, MatchedBy)>> {
    let mut inputs: Vec<&ExistingInput> = state.inputs.iter().collect();
    inputs.sort_by_key(|input| input.config.id);
    let mut claimed: HashSet<u32> = HashSet::new();
    let mut targets: Vec<Option<(u32, MatchedBy)>> = vec![None; muxes.len()];
    for (mux, target) in muxes.iter().zip(targets.iter_mut()) {
        let Some(ids) = mux.ids() else { continue };
        let found = inputs.iter().find(|input| {
            !claimed.contains(&input.config.id)
                && input.record.as_ref().and_then(ScanRecord::ids) == Some(ids)
        });
        if let Some(input) = found {
            claimed.insert(input.config.id);
            *target = Some((input.config.id, MatchedBy::Ids));
        }
    }
    for (mux, target) in muxes.iter().zip(targets.iter_mut()) {
        if target.is_some() {
            continue;
        }
        let found = inputs.iter().find(|input| {
            !claimed.contains(&input.config.id)
                && input
                    .tuning()
                    .is_some_and(|tuning| tuning.same_multiplex(&mux.tuning))
        });
        if let Some(input) = found {
            claimed.insert(input.config.id);
            *target = Some((input.config.id, MatchedBy::Tuning));
        }
    }
    targets
}

/// The input after its multiplex was found again, and its previous URL if that changed.
fn follow_mux(
    input: &ExistingInput,
    mux: &ScannedMux,
    matched_by: MatchedBy,
) -> (InputConfig, Option<String>) {
    let mut config = input.config.clone();
    let Some(now) = input.tuning() else {
        return (config, None);
    };
    let moved = matched_by == MatchedBy::Ids && !now.same_multiplex(&mux.tuning);
    let system_changed = now.system != mux.tuning.system;
    if !(moved || system_changed) || config.url == mux.url {
        return (config, None);
    }
    // A name the merge gave follows the multiplex; a name the technician gave stays.
    if let Some(record) = &input.record
        && config.name == input_name(&record.network_name, &record.tuning)
    {
        config.name = input_name(&mux.network_name, &mux.tuning);
    }
    let previous = std::mem::replace(&mut config.url, mux.url.clone());
    (config, Some(previous))
}

/// Whether input `input_id`'s previous scan found service `sid` of original network
/// `onid` there.
fn carried_before(
    inputs: &HashMap<u32, &ExistingInput>,
    input_id: u32,
    onid: u16,
    sid: u16,
) -> bool {
    inputs
        .get(&input_id)
        .and_then(|input| input.record.as_ref())
        .is_some_and(|record| {
            record.original_network_id == Some(onid) && record.service(sid).is_some()
        })
}

/// Numbers, addresses and the rest of the channels to create.
fn new_channels(
    state: &MergeState,
    wanted: &[(Target, &ScannedService)],
    options: &MergeOptions,
) -> Result<Vec<(Target, ChannelConfig)>, StoreError> {
    let mut used_numbers: BTreeSet<u16> = state.channels.iter().map(|c| c.number).collect();
    let mut numbers: Vec<Option<u16>> = vec![None; wanted.len()];
    // Logical channel numbers first, in scan order, so that they are not taken by the
    // services that have none.
    for ((_, service), number) in wanted.iter().zip(numbers.iter_mut()) {
        if let Some(lcn) = service.lcn
            && (1..=MAX_CHANNEL_NUMBER).contains(&lcn)
            && used_numbers.insert(lcn)
        {
            *number = Some(lcn);
        }
    }
    for number in numbers.iter_mut().filter(|number| number.is_none()) {
        let free = lowest_free_number(&used_numbers)?;
        used_numbers.insert(free);
        *number = Some(free);
    }

    let mut used_ips: std::collections::HashSet<IpAddr> = state
        .channels
        .iter()
        .map(|channel| channel.output.address.ip())
        .collect();
    let mut channels = Vec::with_capacity(wanted.len());
    for ((target, service), number) in wanted.iter().zip(numbers) {
        let number = number.expect("every wanted channel was given a number above");
        let address =
            lowest_free_address(state.settings.pool, state.settings.base_port, &used_ips)?;
        used_ips.insert(address.ip());
        let request = NewChannel {
            number: Some(number),
            address: Some(address),
            enabled: options.enable_new,
            ..NewChannel::new(0, service.service_id, channel_name(service))
        };
        let draft = request.into_config(0, number, address);
        validate_channel(&draft)?;
        channels.push((*target, draft));
    }
    Ok(channels)
}

/// The name of a new channel: the service's, made storable, else "Service <id>".
fn channel_name(service: &ScannedService) -> String {
    let name = broadcast_text(&service.name);
    let cut: String = name.chars().take(MAX_NAME_CHARS).collect();
    let cut = cut.trim_end();
    if cut.is_empty() {
        format!("Service {}", service.service_id)
    } else {
        cut.to_string()
    }
}

/// Services the previous scan or a channel knew on a rescanned input that this scan
/// did not find there, and that did not move elsewhere.
fn missing_services(
    state: &MergeState,
    carried_now: &HashMap<u32, HashSet<u16>>,
    location: &[Target],
    moved_away: &HashSet<(u32, u16)>,
) -> Vec<MissingService> {
    let mut missing: BTreeMap<(u32, u16), MissingService> = BTreeMap::new();
    for input in &state.inputs {
        let id = input.config.id;
        let Some(now) = carried_now.get(&id) else {
            continue;
        };
        let gone = |sid: u16| !now.contains(&sid) && !moved_away.contains(&(id, sid));
        for service in input.record.iter().flat_map(|record| &record.services) {
            if gone(service.service_id) {
                missing.insert(
                    (id, service.service_id),
                    MissingService {
                        input_id: id,
                        service_id: service.service_id,
                        name: service.name.clone(),
                        channel_ids: Vec::new(),
                    },
                );
            }
        }
        for (channel, at) in state.channels.iter().zip(location) {
            if *at != Target::Existing(id) || !gone(channel.service_id) {
                continue;
            }
            let entry = missing
                .entry((id, channel.service_id))
                .or_insert_with(|| MissingService {
                    input_id: id,
                    service_id: channel.service_id,
                    name: channel.name.clone(),
                    channel_ids: Vec::new(),
                });
            entry.channel_ids.push(channel.id);
        }
    }
    missing.into_values().collect()
}

impl crate::Store {
    /// Merges a scan into the configuration, in one transaction: inputs for new
    /// multiplexes, scan records, channels for new free-to-air services, channels
    /// moved after their service (see the module documentation of `merge` for the
    /// rules). Refused as a whole, changing nothing, when a multiplex breaks a rule or
    /// the new channels need more numbers or pool addresses than are free.
    pub fn merge_scan(
        &self,
        scan: &[ScannedMux],
        options: &MergeOptions,
    ) -> Result<MergeReport, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        self.write(|trees| {
            let state = self.merge_state()?;
            let plan = plan(&state, scan, options, now)?;
            let all = (
                &trees.meta,
                &trees.inputs,
                &trees.channels,
                &trees.addresses,
                &trees.numbers,
                &trees.scans,
            );
            let (new_ids, created) =
                all.transaction(|(meta, inputs, channels, addresses, numbers, scans)| {
                    let mut new_ids = Vec::with_capacity(plan.new_inputs.len());
                    for draft in &plan.new_inputs {
                        let id = take_next_id(meta, NEXT_INPUT_ID_KEY, "input")?;
                        let input = InputConfig {
                            id,
                            ..draft.clone()
                        };
                        if inputs.insert(&id_key(id), encode_json(&input))?.is_some() {
                            return Err(crate::counter_behind(NEXT_INPUT_ID_KEY, id).abort());
                        }
                        new_ids.push(id);
                    }
                    let resolve = |target: Target| match target {
                        Target::Existing(id) => id,
                        Target::New(index) => new_ids[index],
                    };
                    for input in &plan.changed_inputs {
                        if inputs
                            .insert(&id_key(input.id), encode_json(input))?
                            .is_none()
                        {
                            return Err(crate::input_not_found(input.id).abort());
                        }
                    }
                    for (target, record) in &plan.records {
                        let input_id = resolve(*target);
                        let record = ScanRecord {
                            input_id,
                            ..record.clone()
                        };
                        scans.insert(&id_key(input_id), encode_json(&record))?;
                    }
                    for (channel, target) in &plan.moves {
                        let moved = ChannelConfig {
                            input_id: resolve(*target),
                            ..channel.clone()
                        };
                        if channels
                            .insert(&id_key(moved.id), encode_json(&moved))?
                            .is_none()
                        {
                            return Err(crate::channel_not_found(moved.id).abort());
                        }
                    }
                    let mut created = Vec::with_capacity(plan.new_channels.len());
                    for (target, draft) in &plan.new_channels {
                        let draft = ChannelConfig {
                            input_id: resolve(*target),
                            ..draft.clone()
                        };
                        created.push(crate::insert_channel(
                            meta, inputs, channels, addresses, numbers, &draft,
                        )?);
                    }
                    Ok((new_ids, created))
                })?;
            Ok(report(plan, &new_ids, created))
        })
    }

    /// The configuration as the merge planner sees it.
    fn merge_state(&self) -> Result<MergeState, StoreError> {
        let records: HashMap<u32, ScanRecord> = self
            .scans()?
            .into_iter()
            .map(|record| (record.input_id, record))
            .collect();
        let inputs = self
            .inputs()?
            .into_iter()
            .map(|config| ExistingInput {
                url_tuning: url_tuning(&config.url),
                record: records.get(&config.id).cloned(),
                config,
            })
            .collect();
        Ok(MergeState {
            settings: self.settings()?,
            inputs,
            channels: self.channels()?,
        })
    }
}

/// The tuning an input URL names, when it is a DVB tuning URL (other inputs, udp://,
/// file://..., are never matched with a scanned multiplex).
fn url_tuning(url: &str) -> Option<Tuning> {
    url.parse().ok()
}

/// The report of an applied plan.
fn report(plan: Plan, new_ids: &[u32], created: Vec<ChannelConfig>) -> MergeReport {
    let resolve = |target: Target| match target {
        Target::Existing(id) => id,
        Target::New(index) => new_ids[index],
    };
    MergeReport {
        inputs_created: plan
            .new_inputs
            .into_iter()
            .zip(new_ids)
            .map(|(input, id)| InputSummary {
                id: *id,
                name: input.name,
                url: input.url,
            })
            .collect(),
        inputs_updated: plan.inputs_updated,
        channels_created: created
            .into_iter()
            .map(|channel| ChannelSummary {
                id: channel.id,
                input_id: channel.input_id,
                service_id: channel.service_id,
                number: channel.number,
                name: channel.name,
                enabled: channel.enabled,
            })
            .collect(),
        channels_moved: plan
            .moves
            .into_iter()
            .map(|(channel, target)| ChannelMove {
                id: channel.id,
                service_id: channel.service_id,
                number: channel.number,
                name: channel.name,
                from_input_id: channel.input_id,
                to_input_id: resolve(target),
            })
            .collect(),
        missing: plan.missing,
        skipped: plan
            .skipped
            .into_iter()
            .map(|(target, skipped)| SkippedService {
                input_id: resolve(target),
                ..skipped
            })
            .collect(),
        duplicates: plan.duplicates,
        inputs_not_found: plan.inputs_not_found,
    }
}

/// The name of an input made for a multiplex: its network's name (else its delivery
/// system) and its frequency, e.g. "ZDFmobil 474 MHz", "DVB-S2 11362 MHz H".
pub(crate) fn input_name(network_name: &str, tuning: &Tuning) -> String {
    let mut place = format!(" {} MHz", megahertz(tuning.frequency_hz));
    if let Params::Satellite { polarisation, .. } = tuning.params {
        place.push_str(match polarisation {
            Polarisation::H => " H",
            Polarisation::V => " V",
            Polarisation::L => " L",
            Polarisation::R => " R",
        });
    }
    let network = broadcast_text(network_name);
    let label = if network.is_empty() {
        tuning.system.to_string()
    } else {
        network
    };
    let room = MAX_NAME_CHARS.saturating_sub(place.chars().count());
    let label: String = label.chars().take(room).collect();
    format!("{}{place}", label.trim_end())
}

/// Hz as MHz with at most three decimals and no trailing zeros: 474, 474.166.
fn megahertz(hz: u64) -> String {
    let khz = (hz + 500) / 1000;
    let (whole, fraction) = (khz / 1000, khz % 1000);
    if fraction == 0 {
        whole.to_string()
    } else {
        let decimals = format!("{fraction:03}");
        format!("{whole}.{}", decimals.trim_end_matches('0'))
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
