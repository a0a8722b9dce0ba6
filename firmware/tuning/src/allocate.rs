//! Which tuner serves which multiplex.
//!
//! One tuned multiplex feeds every channel on it, so consumers of the same multiplex share
//! a tuner. A consumer asks for a multiplex with a [`Priority`]; it gets, in this order:
//!
//! 1. a tuner already on that multiplex (shared);
//! 2. a free tuner that can receive it, the least capable first, so that a tuner that can
//!    do more stays free for what only it can do;
//! 3. a tuner whose every holder has a lower priority: they are preempted (the caller
//!    stops them) and the tuner is retuned;
//! 4. otherwise a [`AllocError::NoTunerFree`] that says what every tuner is doing.
//!
//! Equal priorities never preempt each other: first come, first served. Tuners that are
//! disabled by the technician or unplugged are never given out.

use crate::caps::FrontendCaps;
use crate::params::Tuning;
use crate::sec::{TunerSetup, plan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How much a consumer needs its tuner. Higher wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// HLS or HTTP viewers: started by a request, stopped when idle.
    OnDemand,
    /// A technician's scan: may interrupt viewers, not the TVs' multicast.
    Scan,
    /// Multicast channels the hotel's TVs tune: always on.
    AlwaysOn,
}

/// A tuner as the allocator knows it. `K` names tuners, `C` consumers.
#[derive(Clone, Debug)]
struct Slot<C> {
    caps: FrontendCaps,
    setup: TunerSetup,
    enabled: bool,
    present: bool,
    tuned: Option<Tuning>,
    holders: Vec<(C, Priority)>,
}

impl<C> Slot<C> {
    fn usable(&self) -> bool {
        self.enabled && self.present
    }

    fn can_receive(&self, tuning: &Tuning) -> bool {
        let tuned_hz = match plan(tuning, &self.setup) {
            Ok(p) => p.intermediate_frequency_hz,
            Err(_) => return false,
        };
        self.caps.check(tuning, tuned_hz).is_ok()
    }

    fn top_priority(&self) -> Option<Priority> {
        self.holders.iter().map(|(_, p)| *p).max()
    }
}

/// What a consumer got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant<K, C> {
    pub tuner: K,
    /// Whether the tuner must be (re)tuned: false when it already carries the multiplex.
    pub tune: bool,
    /// Consumers that lost the tuner to this one; the caller stops them.
    pub preempted: Vec<C>,
}

/// What one tuner is busy with, for the "no tuner free" message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Busy {
    pub tuner: String,
    pub multiplex: Option<String>,
    pub holders: usize,
    pub priority: Option<Priority>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no tuner can receive {multiplex}{why}")]
    NoCapableTuner { multiplex: String, why: String },
    #[error("no tuner free for {multiplex}: {}", describe_busy(.busy))]
    NoTunerFree { multiplex: String, busy: Vec<Busy> },
}

fn describe_busy(busy: &[Busy]) -> String {
    busy.iter()
        .map(|b| match &b.multiplex {
            Some(m) => format!(
                "{} carries {} for {} consumer{} ({})",
                b.tuner,
                m,
                b.holders,
                if b.holders == 1 { "" } else { "s" },
                match b.priority {
                    Some(Priority::AlwaysOn) => "always on",
                    Some(Priority::Scan) => "scan",
                    Some(Priority::OnDemand) | None => "on demand",
                }
            ),
            None => format!("{} is free but cannot receive it", b.tuner),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The allocation state. Pure: the caller tunes, stops and starts things.
#[derive(Clone, Debug)]
pub struct Allocator<K, C> {
    slots: BTreeMap<K, Slot<C>>,
}

impl<K, C> Default for Allocator<K, C> {
    fn default() -> Self {
        Allocator {
            slots: BTreeMap::new(),
        }
    }
}

impl<K, C> Allocator<K, C>
where
    K: Ord + Clone + std::fmt::Display,
    C: PartialEq + Clone,
{
    pub fn new() -> Self {
        Self::default()
    }

    /// A tuner appeared (or its description changed). Existing holders stay.
    pub fn add_tuner(&mut self, key: K, caps: FrontendCaps, setup: TunerSetup, enabled: bool) {
        match self.slots.get_mut(&key) {
            Some(slot) => {
                slot.caps = caps;
                slot.setup = setup;
                slot.enabled = enabled;
                slot.present = true;
            }
            None => {
                self.slots.insert(
                    key,
                    Slot {
                        caps,
                        setup,
                        enabled,
                        present: true,
                        tuned: None,
                        holders: Vec::new(),
                    },
                );
            }
        }
    }

    /// A tuner was unplugged (or disabled): its holders lose it and are returned, so the
    /// caller can move them to another tuner.
    pub fn remove_tuner(&mut self, key: &K) -> Vec<C> {
        match self.slots.remove(key) {
            Some(slot) => slot.holders.into_iter().map(|(c, _)| c).collect(),
            None => Vec::new(),
        }
    }

    /// Takes a tuner out of service (or back). Taking it out returns its holders.
    pub fn set_enabled(&mut self, key: &K, enabled: bool) -> Vec<C> {
        let Some(slot) = self.slots.get_mut(key) else {
            return Vec::new();
        };
        slot.enabled = enabled;
        if enabled {
            return Vec::new();
        }
        slot.tuned = None;
        std::mem::take(&mut slot.holders)
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    pub fn tuners(&self) -> impl Iterator<Item = &K> {
        self.slots.keys()
    }

    /// The tuner a consumer holds.
    pub fn held_by(&self, consumer: &C) -> Option<&K> {
        self.slots
            .iter()
            .find(|(_, s)| s.holders.iter().any(|(c, _)| c == consumer))
            .map(|(k, _)| k)
    }

    /// Who holds a tuner, with their priorities, in the order they came.
    pub fn holders(&self, key: &K) -> Vec<(C, Priority)> {
        self.slots
            .get(key)
            .map(|s| s.holders.clone())
            .unwrap_or_default()
    }

    /// What a tuner is tuned to, and by how many consumers.
    pub fn assignment(&self, key: &K) -> Option<(Option<&Tuning>, usize)> {
        self.slots
            .get(key)
            .map(|s| (s.tuned.as_ref(), s.holders.len()))
    }

    /// Gives `consumer` a tuner on `tuning`. A consumer that already holds a tuner on
    /// another multiplex releases it first; one already on this multiplex keeps it.
    pub fn acquire(
        &mut self,
        consumer: C,
        tuning: &Tuning,
        priority: Priority,
    ) -> Result<Grant<K, C>, AllocError> {
        if let Some(key) = self.held_by(&consumer).cloned() {
            let slot = self.slots.get_mut(&key).expect("held_by names a slot");
            if slot
                .tuned
                .as_ref()
                .is_some_and(|t| t.same_multiplex(tuning))
            {
                // Asking again may change the priority (an on-demand input that now feeds
                // multicast channels too).
                for holder in slot.holders.iter_mut().filter(|(c, _)| *c == consumer) {
                    holder.1 = priority;
                }
                return Ok(Grant {
                    tuner: key,
                    tune: false,
                    preempted: Vec::new(),
                });
            }
            self.release(&consumer);
        }

        // 1. Already on this multiplex.
        let sharing = self.slots.iter().find(|(_, s)| {
            s.usable()
                && !s.holders.is_empty()
                && s.tuned.as_ref().is_some_and(|t| t.same_multiplex(tuning))
        });
        if let Some((key, _)) = sharing {
            let key = key.clone();
            let slot = self.slots.get_mut(&key).expect("found above");
            slot.holders.push((consumer, priority));
            return Ok(Grant {
                tuner: key,
                tune: false,
                preempted: Vec::new(),
            });
        }

        let capable: Vec<K> = self
            .slots
            .iter()
            .filter(|(_, s)| s.usable() && s.can_receive(tuning))
            .map(|(k, _)| k.clone())
            .collect();
        if capable.is_empty() {
            return Err(AllocError::NoCapableTuner {
                multiplex: tuning.summary(),
                why: self.why_none_capable(tuning),
            });
        }

        // 2. A free one, least capable first.
        let free = capable
            .iter()
            .filter(|k| self.slots[*k].holders.is_empty())
            .min_by_key(|k| (self.slots[*k].caps.systems.len(), (*k).clone()));
        // 3. One whose holders all yield, the least important first.
        let chosen = free.cloned().or_else(|| {
            capable
                .iter()
                .filter(|k| self.slots[*k].top_priority().is_some_and(|p| p < priority))
                .min_by_key(|k| {
                    let s = &self.slots[*k];
                    (s.top_priority(), s.holders.len(), (*k).clone())
                })
                .cloned()
        });
        let Some(key) = chosen else {
            return Err(AllocError::NoTunerFree {
                multiplex: tuning.summary(),
                busy: self.busy(),
            });
        };
        let slot = self.slots.get_mut(&key).expect("chosen from slots");
        let preempted = std::mem::take(&mut slot.holders)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        slot.holders.push((consumer, priority));
        slot.tuned = Some(*tuning);
        Ok(Grant {
            tuner: key,
            tune: true,
            preempted,
        })
    }

    /// The consumer no longer needs its tuner. A tuner without holders is free (it stays
    /// nominally on its multiplex, so a consumer that comes back soon needs no retune).
    pub fn release(&mut self, consumer: &C) {
        for slot in self.slots.values_mut() {
            slot.holders.retain(|(c, _)| c != consumer);
        }
    }

    fn busy(&self) -> Vec<Busy> {
        self.slots
            .iter()
            .filter(|(_, s)| s.usable())
            .map(|(k, s)| Busy {
                tuner: k.to_string(),
                multiplex: if s.holders.is_empty() {
                    None
                } else {
                    s.tuned.map(|t| t.summary())
                },
                holders: s.holders.len(),
                priority: s.top_priority(),
            })
            .collect()
    }

    fn why_none_capable(&self, tuning: &Tuning) -> String {
        if self.slots.is_empty() {
            return ": the box has no tuner".into();
        }
        let reasons: Vec<String> = self
            .slots
            .iter()
            .map(|(k, s)| {
                let why = if !s.present {
                    "unplugged".to_string()
                } else if !s.enabled {
                    "disabled".to_string()
                } else {
                    match plan(tuning, &s.setup) {
                        Err(e) => e.to_string(),
                        Ok(p) => match s.caps.check(tuning, p.intermediate_frequency_hz) {
                            Err(e) => e.to_string(),
                            Ok(()) => "?".to_string(),
                        },
                    }
                };
                format!("{k}: {why}")
            })
            .collect();
        format!(" ({})", reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{DeliverySystem, Params};

    fn caps(systems: &[DeliverySystem]) -> FrontendCaps {
        FrontendCaps {
            name: "test".into(),
            systems: systems.to_vec(),
            frequency_min_hz: 42_000_000,
            frequency_max_hz: 870_000_000,
            symbol_rate_min: 1_000_000,
            symbol_rate_max: 7_200_000,
        }
    }

    fn t(mhz: u64) -> Tuning {
        Tuning {
            system: DeliverySystem::DvbT,
            frequency_hz: mhz * 1_000_000,
            params: Params::Terrestrial {
                bandwidth_hz: 8_000_000,
                modulation: None,
                code_rate_hp: None,
                code_rate_lp: None,
                transmission_mode: None,
                guard_interval: None,
                hierarchy: None,
                plp_id: None,
            },
        }
    }

    fn c(mhz: u64) -> Tuning {
        Tuning {
            system: DeliverySystem::DvbC,
            frequency_hz: mhz * 1_000_000,
            params: Params::Cable {
                symbol_rate: 6_900_000,
                modulation: None,
                fec: None,
            },
        }
    }

    use DeliverySystem::{DvbC, DvbT, DvbT2};

    fn two_tuners() -> Allocator<&'static str, &'static str> {
        let mut a = Allocator::new();
        a.add_tuner("a0", caps(&[DvbT, DvbT2]), TunerSetup::default(), true);
        a.add_tuner("a1", caps(&[DvbT, DvbT2]), TunerSetup::default(), true);
        a
    }

    #[test]
    fn consumers_of_one_multiplex_share_a_tuner() {
        let mut a = two_tuners();
        let g1 = a.acquire("hls:1", &t(474), Priority::OnDemand).unwrap();
        assert!(g1.tune);
        // 474.166 MHz (an offset in another table) is the same multiplex.
        let mut offset = t(474);
        offset.frequency_hz += 166_000;
        let g2 = a.acquire("input:7", &offset, Priority::AlwaysOn).unwrap();
        assert_eq!(g2.tuner, g1.tuner);
        assert!(!g2.tune, "no retune for a second consumer");
        assert_eq!(a.assignment(&g1.tuner).unwrap().1, 2);
    }

    #[test]
    fn a_free_tuner_then_no_tuner_free() {
        let mut a = two_tuners();
        let g1 = a.acquire("input:1", &t(474), Priority::AlwaysOn).unwrap();
        let g2 = a.acquire("input:2", &t(522), Priority::AlwaysOn).unwrap();
        assert_ne!(g1.tuner, g2.tuner);
        let e = a.acquire("hls:3", &t(570), Priority::OnDemand).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("no tuner free for DVB-T 570"), "{msg}");
        assert!(msg.contains("a0 carries DVB-T 474"), "{msg}");
        assert!(msg.contains("always on"), "{msg}");
        // Equal priority does not preempt either.
        assert!(matches!(
            a.acquire("input:3", &t(570), Priority::AlwaysOn),
            Err(AllocError::NoTunerFree { .. })
        ));
    }

    #[test]
    fn higher_priority_preempts_the_least_important() {
        let mut a = two_tuners();
        a.acquire("scan", &t(474), Priority::Scan).unwrap();
        a.acquire("hls:1", &t(522), Priority::OnDemand).unwrap();
        a.acquire("hls:2", &t(522), Priority::OnDemand).unwrap();
        let g = a.acquire("input:1", &t(570), Priority::AlwaysOn).unwrap();
        // Both tuners can yield; the on-demand one goes first even with more holders.
        assert_eq!(g.preempted, vec!["hls:1", "hls:2"]);
        assert!(g.tune);
        assert_eq!(a.held_by(&"hls:1"), None);
        // A scan preempts viewers but not the TVs.
        let g = a.acquire("hls:9", &t(610), Priority::OnDemand);
        assert!(g.is_err());
        let e = a.acquire("scan2", &t(610), Priority::Scan).unwrap_err();
        assert!(matches!(e, AllocError::NoTunerFree { .. }), "{e}");
    }

    #[test]
    fn asking_again_raises_a_holders_priority() {
        let mut a = two_tuners();
        a.acquire("input:1", &t(522), Priority::OnDemand).unwrap();
        a.acquire("input:2", &t(570), Priority::OnDemand).unwrap();
        // input:1 now feeds the TVs too: a scan must not take its tuner.
        let again = a.acquire("input:1", &t(522), Priority::AlwaysOn).unwrap();
        assert!(!again.tune, "same multiplex: no retune");
        assert_eq!(
            a.holders(&again.tuner),
            vec![("input:1", Priority::AlwaysOn)]
        );
        let g = a.acquire("scan", &t(610), Priority::Scan).unwrap();
        assert_eq!(g.preempted, vec!["input:2"]);
    }

    #[test]
    fn the_least_capable_free_tuner_is_chosen() {
        let mut a = Allocator::new();
        a.add_tuner(
            "combo",
            caps(&[DvbT, DvbT2, DvbC]),
            TunerSetup::default(),
            true,
        );
        a.add_tuner("t-only", caps(&[DvbT]), TunerSetup::default(), true);
        let g = a.acquire("x", &t(474), Priority::AlwaysOn).unwrap();
        assert_eq!(g.tuner, "t-only", "keep the combo tuner for cable");
        let g = a.acquire("y", &c(346), Priority::AlwaysOn).unwrap();
        assert_eq!(g.tuner, "combo");
    }

    #[test]
    fn no_capable_tuner_says_why_per_tuner() {
        let mut a = two_tuners();
        a.set_enabled(&"a1", false);
        let e = a.acquire("x", &c(346), Priority::AlwaysOn).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("no tuner can receive DVB-C 346"), "{msg}");
        assert!(msg.contains("a0: test does not receive DVB-C"), "{msg}");
        assert!(msg.contains("a1: disabled"), "{msg}");
        let e = a.acquire("x", &t(900), Priority::AlwaysOn).unwrap_err();
        assert!(e.to_string().contains("outside its range"), "{e}");
        let empty: Allocator<&str, &str> = Allocator::new();
        let mut empty = empty;
        let e = empty.acquire("x", &t(474), Priority::AlwaysOn).unwrap_err();
        assert!(e.to_string().contains("the box has no tuner"), "{e}");
    }

    #[test]
    fn unplugging_or_disabling_returns_the_holders() {
        let mut a = two_tuners();
        let g = a.acquire("input:1", &t(474), Priority::AlwaysOn).unwrap();
        a.acquire("hls:1", &t(474), Priority::OnDemand).unwrap();
        let lost = a.remove_tuner(&g.tuner);
        assert_eq!(lost, vec!["input:1", "hls:1"]);
        // They move to the other tuner.
        let g2 = a.acquire("input:1", &t(474), Priority::AlwaysOn).unwrap();
        assert_ne!(g2.tuner, g.tuner);
        assert!(g2.tune);
        assert_eq!(a.set_enabled(&g2.tuner, false), vec!["input:1"]);
        assert!(a.acquire("input:1", &t(474), Priority::AlwaysOn).is_err());
    }

    #[test]
    fn a_consumer_moving_to_another_multiplex_frees_its_old_tuner() {
        let mut a = two_tuners();
        let g1 = a.acquire("hls:1", &t(474), Priority::OnDemand).unwrap();
        let again = a.acquire("hls:1", &t(474), Priority::OnDemand).unwrap();
        assert_eq!((again.tuner, again.tune), (g1.tuner, false));
        a.acquire("hls:1", &t(522), Priority::OnDemand).unwrap();
        assert_eq!(
            a.assignment(&"a0").unwrap().1 + a.assignment(&"a1").unwrap().1,
            1
        );
        a.release(&"hls:1");
        assert_eq!(
            a.assignment(&"a0").unwrap().1 + a.assignment(&"a1").unwrap().1,
            0
        );
        // Released tuners are reused first when the multiplex comes back? Any free one
        // works; what matters is that both are free again.
        a.acquire("p", &t(600), Priority::OnDemand).unwrap();
        a.acquire("q", &t(610), Priority::OnDemand).unwrap();
    }
}
