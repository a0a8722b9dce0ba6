//! When to retune: a tuner that never locks, loses its lock, or stays locked without
//! delivering data is tuned again, with a growing pause between attempts, for ever. A box in
//! a basement cannot ask anyone to restart it when the antenna was blown over for a night.
//!
//! [`LockSupervisor`] is told what happened (a tune, each status read, data arriving) and
//! answers with what to do; the caller owns the clock and the device.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The tuner's condition, for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunerState {
    /// Tuned, waiting for the first lock.
    Tuning,
    /// Locked and delivering.
    Locked,
    /// Did not lock within the timeout; waiting before the next attempt.
    NoLock,
    /// Had the lock and lost it; waiting before the next attempt.
    LockLost,
    /// Locked, but no data came for too long; waiting before the next attempt.
    NoData,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockPolicy {
    /// How long a tune may take to lock.
    pub lock_timeout: Duration,
    /// A lock lost for less than this is a glitch (the driver may regain it by itself).
    pub lost_grace: Duration,
    /// Locked without data for this long: the demodulator is stuck or the stream is gone.
    pub no_data: Duration,
    /// Pause after the first failure; doubled after each further one...
    pub backoff_min: Duration,
    /// ...up to this. A lock that delivered data starts the pauses over: the tuning
    /// works, so a flapping signal is retuned promptly each time it drops, while an
    /// antenna that never locks is retried ever more slowly.
    pub backoff_max: Duration,
}

impl LockPolicy {
    /// Satellite tuners need longer: LNB power-up, DiSEqC switching, blind symbol-rate
    /// search on some demodulators.
    pub fn for_satellite(satellite: bool) -> LockPolicy {
        LockPolicy {
            lock_timeout: Duration::from_secs(if satellite { 8 } else { 5 }),
            ..LockPolicy::default()
        }
    }
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            lock_timeout: Duration::from_secs(5),
            lost_grace: Duration::from_secs(2),
            no_data: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// What the caller should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Tune the frontend again (and then call [`LockSupervisor::tuned`]).
    Retune,
}

/// Counters for the API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockCounters {
    /// Tunes after the first.
    pub retunes: u64,
    pub lock_losses: u64,
    /// Attempts that never locked.
    pub lock_timeouts: u64,
    /// Times locked without data for too long.
    pub data_stalls: u64,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Tuning {
        since: Instant,
    },
    Locked {
        since: Instant,
        lost_at: Option<Instant>,
    },
    Waiting {
        state: TunerState,
        until: Instant,
    },
}

#[derive(Clone, Debug)]
pub struct LockSupervisor {
    policy: LockPolicy,
    phase: Phase,
    backoff: Duration,
    last_data: Option<Instant>,
    tunes: u64,
    counters: LockCounters,
}

impl LockSupervisor {
    /// Starts supervising a tune made at `now`.
    pub fn new(policy: LockPolicy, now: Instant) -> LockSupervisor {
        LockSupervisor {
            policy,
            phase: Phase::Tuning { since: now },
            backoff: policy.backoff_min,
            last_data: None,
            tunes: 1,
            counters: LockCounters::default(),
        }
    }

    pub fn state(&self) -> TunerState {
        match self.phase {
            Phase::Tuning { .. } => TunerState::Tuning,
            Phase::Locked { .. } => TunerState::Locked,
            Phase::Waiting { state, .. } => state,
        }
    }

    pub fn counters(&self) -> LockCounters {
        self.counters
    }

    /// The caller tuned (again) at `now`.
    pub fn tuned(&mut self, now: Instant) {
        self.tunes += 1;
        self.counters.retunes = self.tunes - 1;
        self.phase = Phase::Tuning { since: now };
        self.last_data = None;
    }

    /// Bytes arrived at `now`.
    pub fn data(&mut self, now: Instant) {
        self.last_data = Some(now);
        if let Phase::Locked { lost_at: None, .. } = self.phase {
            self.backoff = self.policy.backoff_min;
        }
    }

    /// A status read at `now` said the frontend is (or is not) locked.
    pub fn status(&mut self, now: Instant, locked: bool) {
        self.phase = match (self.phase, locked) {
            (Phase::Tuning { .. }, true) => {
                // Data before the lock (a demodulator that reports late) counts from now.
                self.last_data = None;
                Phase::Locked {
                    since: now,
                    lost_at: None,
                }
            }
            (
                Phase::Locked {
                    since,
                    lost_at: None,
                },
                false,
            ) => Phase::Locked {
                since,
                lost_at: Some(now),
            },
            (
                Phase::Locked {
                    since,
                    lost_at: Some(_),
                },
                true,
            ) => Phase::Locked {
                since,
                lost_at: None,
            },
            (phase, _) => phase,
        };
    }

    /// What to do at `now`. Call it after each status read and every so often between.
    pub fn poll(&mut self, now: Instant) -> Action {
        match self.phase {
            Phase::Tuning { since } => {
                if now.duration_since(since) >= self.policy.lock_timeout {
                    self.counters.lock_timeouts += 1;
                    self.wait(TunerState::NoLock, now);
                }
                Action::Nothing
            }
            Phase::Locked {
                lost_at: Some(lost),
                ..
            } => {
                if now.duration_since(lost) >= self.policy.lost_grace {
                    self.counters.lock_losses += 1;
                    self.wait(TunerState::LockLost, now);
                }
                Action::Nothing
            }
            Phase::Locked {
                since,
                lost_at: None,
            } => {
                let quiet_since = self.last_data.map_or(since, |d| d.max(since));
                if now.duration_since(quiet_since) >= self.policy.no_data {
                    self.counters.data_stalls += 1;
                    self.wait(TunerState::NoData, now);
                }
                Action::Nothing
            }
            Phase::Waiting { until, .. } => {
                if now >= until {
                    Action::Retune
                } else {
                    Action::Nothing
                }
            }
        }
    }

    /// How long until the pending retune, if one is pending (for reports).
    pub fn retune_in(&self, now: Instant) -> Option<Duration> {
        match self.phase {
            Phase::Waiting { until, .. } => Some(until.saturating_duration_since(now)),
            _ => None,
        }
    }

    fn wait(&mut self, state: TunerState, now: Instant) {
        self.phase = Phase::Waiting {
            state,
            until: now + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(self.policy.backoff_max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Drives a supervisor second by second: `script(t)` gives (locked, data) at t.
    fn drive(
        s: &mut LockSupervisor,
        t0: Instant,
        from: u64,
        to: u64,
        script: impl Fn(u64) -> (bool, bool),
    ) -> Vec<u64> {
        let mut retunes = Vec::new();
        for t in from..to {
            let now = t0 + secs(t as f64);
            let (locked, data) = script(t);
            s.status(now, locked);
            if data {
                s.data(now);
            }
            if s.poll(now) == Action::Retune {
                s.tuned(now);
                retunes.push(t);
            }
        }
        retunes
    }

    #[test]
    fn a_good_tuner_is_left_alone() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::default(), t0);
        assert_eq!(s.state(), TunerState::Tuning);
        let retunes = drive(&mut s, t0, 1, 600, |_| (true, true));
        assert!(retunes.is_empty());
        assert_eq!(s.state(), TunerState::Locked);
        assert_eq!(s.counters(), LockCounters::default());
    }

    #[test]
    fn no_lock_retunes_with_growing_pauses_up_to_the_maximum() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::default(), t0);
        let retunes = drive(&mut s, t0, 1, 400, |_| (false, false));
        // Timeout 5 s, then pauses 1, 2, 4, 8, 16, 30, 30… each followed by a 5 s attempt.
        let gaps: Vec<u64> = retunes.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(retunes[0], 6, "5 s timeout + 1 s pause");
        assert_eq!(&gaps[..6], &[7, 9, 13, 21, 35, 35]);
        assert!(
            gaps.iter().all(|g| *g <= 35),
            "never more than 30 s + timeout"
        );
        assert_eq!(s.counters().lock_timeouts as usize, retunes.len() + 1);
        assert!(matches!(s.state(), TunerState::NoLock | TunerState::Tuning));
    }

    #[test]
    fn a_short_loss_of_lock_is_a_glitch_a_long_one_retunes() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::default(), t0);
        // 1 s without lock at t=20: tolerated.
        let r = drive(&mut s, t0, 1, 40, |t| (t != 20, t != 20));
        assert!(r.is_empty());
        // Lost from t=40 on: noticed, retuned after grace + pause.
        let r = drive(&mut s, t0, 40, 50, |_| (false, false));
        assert_eq!(s.counters().lock_losses, 1);
        assert_eq!(r, vec![43], "2 s grace + 1 s pause");
    }

    #[test]
    fn locked_without_data_retunes() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::default(), t0);
        let r = drive(&mut s, t0, 1, 30, |t| (true, t < 10));
        // Last data at 9: stall at 14, retune at 15 (1 s pause); locked again at 16 but
        // still silent: stall at 21, retune at 23 (2 s pause); stall again at 29.
        assert_eq!(r, vec![15, 23]);
        assert_eq!(s.counters().data_stalls, 3);
        assert_eq!(s.counters().retunes, 2);
        assert_eq!(s.state(), TunerState::NoData);
    }

    #[test]
    fn backoff_starts_over_after_a_lock_with_data() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::default(), t0);
        // Three failed attempts make the pause 8 s...
        drive(&mut s, t0, 1, 30, |_| (false, false));
        // ...then the signal comes back and data flows, if only briefly...
        let r = drive(&mut s, t0, 30, 60, |t| (t < 45, t < 45));
        assert!(!r.is_empty());
        let good = drive(&mut s, t0, 60, 63, |_| (true, true));
        assert!(good.is_empty());
        // ...so the next loss waits only the minimum: 2 s of grace, then 1 s.
        let r = drive(&mut s, t0, 63, 70, |_| (false, false));
        assert_eq!(r, vec![66]);
    }

    #[test]
    fn a_flapping_signal_is_retuned_promptly_each_time() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::default(), t0);
        // Locked with data for 3 s, then lost, again and again (vidtv's lock drops).
        let mut retunes = Vec::new();
        let mut from = 1;
        for _ in 0..5 {
            let r = drive(&mut s, t0, from, from + 3, |_| (true, true));
            assert!(r.is_empty());
            // Shorter than the lock timeout: only the retune after the loss happens here.
            let r = drive(&mut s, t0, from + 3, from + 7, |_| (false, false));
            assert_eq!(r.len(), 1, "{r:?}");
            retunes.push(r[0] - (from + 3));
            from = r[0] + 1;
        }
        assert_eq!(retunes, vec![3, 3, 3, 3, 3]);
    }

    #[test]
    fn waiting_reports_why_and_when() {
        let t0 = Instant::now();
        let mut s = LockSupervisor::new(LockPolicy::for_satellite(true), t0);
        assert_eq!(s.poll(t0 + secs(7.9)), Action::Nothing);
        assert_eq!(s.state(), TunerState::Tuning);
        assert_eq!(s.poll(t0 + secs(8.0)), Action::Nothing);
        assert_eq!(s.state(), TunerState::NoLock);
        assert_eq!(s.retune_in(t0 + secs(8.5)), Some(secs(0.5)));
        assert_eq!(s.poll(t0 + secs(9.0)), Action::Retune);
    }
}
