//! The tuner manager: which frontends the box has, what each can receive, and who holds
//! which.
//!
//! `/dev/dvb` is re-read every few seconds ([`TunerManager::refresh`]), so a USB tuner
//! plugged in at run time is put to use and one pulled out releases its consumers (who
//! are moved to another tuner, or wait with a clear reason). A new frontend is probed
//! once, read-only. The allocation rules themselves are `dvbgate_tuning::allocate`.

use dvbgate_dvb::FrontendDevice;
use dvbgate_tuning::Tuning;
use dvbgate_tuning::allocate::{AllocError, Allocator, Priority};
use dvbgate_tuning::caps::FrontendCaps;
use dvbgate_tuning::sec::TunerSetup;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use tracing::{info, warn};

/// A tuner's name: `adapter0/frontend0`.
pub type TunerKey = String;

/// Who holds a tuner.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Consumer {
    /// The pipeline of an input (a multiplex) with always-on channels.
    Input(u32),
    /// A scan job.
    Scan(u64),
}

impl std::fmt::Display for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Consumer::Input(id) => write!(f, "input {id}"),
            Consumer::Scan(id) => write!(f, "scan {id}"),
        }
    }
}

/// What a consumer was given.
#[derive(Clone, Debug)]
pub struct Lease {
    pub key: TunerKey,
    pub device: FrontendDevice,
    pub caps: FrontendCaps,
    pub setup: TunerSetup,
    /// Consumers that lost the tuner to this one: the caller stops them.
    pub preempted: Vec<Consumer>,
}

/// How a technician configured a tuner (from the store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunerConfig {
    pub enabled: bool,
    pub setup: TunerSetup,
}

impl Default for TunerConfig {
    fn default() -> Self {
        TunerConfig {
            enabled: true,
            setup: TunerSetup::default(),
        }
    }
}

/// What one refresh found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    pub appeared: Vec<TunerKey>,
    pub vanished: Vec<TunerKey>,
    /// Consumers whose tuner vanished or was disabled.
    pub lost: Vec<Consumer>,
}

/// A tuner for the API.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TunerInfo {
    pub key: TunerKey,
    pub name: Option<String>,
    pub systems: Vec<dvbgate_tuning::DeliverySystem>,
    pub frequency_min_hz: Option<u64>,
    pub frequency_max_hz: Option<u64>,
    pub enabled: bool,
    pub setup: TunerSetup,
    /// The multiplex it is tuned to for its holders (URL form), if any.
    pub multiplex: Option<String>,
    pub holders: Vec<Consumer>,
    /// Why the frontend could not be probed.
    pub error: Option<String>,
}

struct Known {
    device: FrontendDevice,
    caps: FrontendCaps,
    config: TunerConfig,
}

#[derive(Default)]
struct State {
    allocator: Allocator<TunerKey, Consumer>,
    known: BTreeMap<TunerKey, Known>,
    /// Frontends that could not be probed, with the reason; probed again each refresh.
    broken: BTreeMap<TunerKey, (FrontendDevice, String)>,
}

pub struct TunerManager {
    root: PathBuf,
    state: Mutex<State>,
}

impl TunerManager {
    /// Tuners under `root` (`/dev/dvb`).
    pub fn new(root: impl Into<PathBuf>) -> TunerManager {
        TunerManager {
            root: root.into(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the device tree and applies the technician's settings (`configs`, by key;
    /// a tuner without one is enabled with default cabling).
    pub fn refresh(&self, configs: &BTreeMap<TunerKey, TunerConfig>) -> Refresh {
        let devices = match dvbgate_dvb::discover_in(&self.root) {
            Ok(d) => d,
            Err(e) => {
                warn!("cannot list DVB adapters: {e}");
                return Refresh::default();
            }
        };
        let mut state = self.state();
        let mut outcome = Refresh::default();
        let present: BTreeMap<TunerKey, FrontendDevice> =
            devices.into_iter().map(|d| (d.id.to_string(), d)).collect();

        let vanished: Vec<TunerKey> = state
            .known
            .keys()
            .filter(|k| !present.contains_key(*k))
            .cloned()
            .collect();
        for key in vanished {
            state.known.remove(&key);
            let lost = state.allocator.remove_tuner(&key);
            warn!(tuner = %key, consumers = lost.len(), "tuner gone");
            outcome.lost.extend(lost);
            outcome.vanished.push(key);
        }
        state.broken.retain(|k, _| present.contains_key(k));

        for (key, device) in present {
            let config = configs.get(&key).copied().unwrap_or_default();
            if let Some(known) = state.known.get_mut(&key) {
                if known.config != config {
                    known.config = config;
                    let caps = known.caps.clone();
                    state
                        .allocator
                        .add_tuner(key.clone(), caps, config.setup, true);
                    let lost = state.allocator.set_enabled(&key, config.enabled);
                    outcome.lost.extend(lost);
                }
                continue;
            }
            match dvbgate_dvb::probe(device.id) {
                Ok(caps) => {
                    info!(tuner = %key, name = %caps.name, systems = ?caps.systems, "tuner found");
                    state.broken.remove(&key);
                    state.allocator.add_tuner(
                        key.clone(),
                        caps.clone(),
                        config.setup,
                        config.enabled,
                    );
                    state.known.insert(
                        key.clone(),
                        Known {
                            device,
                            caps,
                            config,
                        },
                    );
                    outcome.appeared.push(key);
                }
                Err(e) => {
                    let why = e.to_string();
                    if state.broken.get(&key).map(|(_, w)| w) != Some(&why) {
                        warn!(tuner = %key, "cannot use this tuner: {why}");
                    }
                    state.broken.insert(key, (device, why));
                }
            }
        }
        outcome
    }

    /// A tuner on `tuning` for `consumer` (see `dvbgate_tuning::allocate` for the rules).
    pub fn acquire(
        &self,
        consumer: Consumer,
        tuning: &Tuning,
        priority: Priority,
    ) -> Result<Lease, AllocError> {
        let mut state = self.state();
        let grant = state.allocator.acquire(consumer, tuning, priority)?;
        let known = &state.known[&grant.tuner];
        Ok(Lease {
            key: grant.tuner.clone(),
            device: known.device.clone(),
            caps: known.caps.clone(),
            setup: known.config.setup,
            preempted: grant.preempted,
        })
    }

    pub fn release(&self, consumer: &Consumer) {
        self.state().allocator.release(consumer);
    }

    /// Every tuner the box has, known or broken, by key.
    pub fn list(&self) -> Vec<TunerInfo> {
        let state = self.state();
        let mut out: Vec<TunerInfo> = state
            .known
            .iter()
            .map(|(key, k)| {
                let holders = state
                    .allocator
                    .holders(key)
                    .into_iter()
                    .map(|(c, _)| c)
                    .collect();
                let multiplex = state.allocator.assignment(key).and_then(|(t, n)| {
                    if n > 0 {
                        t.map(|t| t.to_string())
                    } else {
                        None
                    }
                });
                TunerInfo {
                    key: key.clone(),
                    name: Some(k.caps.name.clone()),
                    systems: k.caps.systems.clone(),
                    frequency_min_hz: Some(k.caps.frequency_min_hz),
                    frequency_max_hz: Some(k.caps.frequency_max_hz),
                    enabled: k.config.enabled,
                    setup: k.config.setup,
                    multiplex,
                    holders,
                    error: None,
                }
            })
            .collect();
        out.extend(state.broken.iter().map(|(key, (_, why))| TunerInfo {
            key: key.clone(),
            name: None,
            systems: Vec::new(),
            frequency_min_hz: None,
            frequency_max_hz: None,
            enabled: false,
            setup: TunerSetup::default(),
            multiplex: None,
            holders: Vec::new(),
            error: Some(why.clone()),
        }));
        out.sort_by_key(|t| natural_key(&t.key));
        out
    }
}

/// `adapter10/frontend0` after `adapter2/frontend0`.
fn natural_key(key: &str) -> Vec<u64> {
    key.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_without_adapters_has_no_tuners_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let m = TunerManager::new(dir.path().join("dvb"));
        assert_eq!(m.refresh(&BTreeMap::new()), Refresh::default());
        assert!(m.list().is_empty());
        let tuning: Tuning = "dvb-t://474MHz?bandwidth=8MHz".parse().unwrap();
        let e = m
            .acquire(Consumer::Input(1), &tuning, Priority::AlwaysOn)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no tuner can receive DVB-T 474 MHz, 8 MHz: the box has no tuner"
        );
    }

    #[test]
    fn a_frontend_that_cannot_be_probed_is_listed_with_the_reason() {
        // A regular file where a device node should be: listed, probing fails.
        let dir = tempfile::tempdir().unwrap();
        let adapter = dir.path().join("adapter97");
        std::fs::create_dir_all(&adapter).unwrap();
        std::fs::write(adapter.join("frontend0"), b"").unwrap();
        let m = TunerManager::new(dir.path());
        let r = m.refresh(&BTreeMap::new());
        assert!(r.appeared.is_empty());
        let list = m.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].key, "adapter97/frontend0");
        assert!(list[0].error.is_some(), "{list:?}");
    }

    #[test]
    fn keys_sort_by_number() {
        let mut keys = [
            "adapter10/frontend0",
            "adapter2/frontend1",
            "adapter2/frontend0",
        ];
        keys.sort_by_key(|k| natural_key(k));
        assert_eq!(
            keys,
            [
                "adapter2/frontend0",
                "adapter2/frontend1",
                "adapter10/frontend0"
            ]
        );
    }
}
