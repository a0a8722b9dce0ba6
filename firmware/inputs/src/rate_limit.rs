//! Log lines a technician can read: the first occurrence of a problem is logged at once,
//! repeats are counted and summarised, so a dead receiver or a noisy antenna cannot flood
//! the log (and the flash it may be written to).
//!
//! Here (rather than in the pipeline) because tuner inputs limit their own lines, and
//! the pipeline depends on this crate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub struct RateLimit {
    window: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    pub fn new(window: Duration) -> Self {
        RateLimit {
            window,
            last: None,
            suppressed: 0,
        }
    }

    /// Returns `Some(suppressed_since_last)` when this occurrence should be logged.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.ready(now) {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }

    /// Whether an occurrence now would be logged (counts nothing).
    pub fn ready(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|t| now.saturating_duration_since(t) >= self.window)
    }
}

/// Changes of a state that may flap (a tuner's lock, an input's data): up to `burst`
/// changes per window are logged at once; further ones are held back, and once there is
/// room again the state then current is logged once, saying how many changes were not.
/// So the log always ends with the true state, and a lock that comes and goes every
/// second costs a few lines per window.
pub struct ChangeLimit {
    window: Duration,
    burst: usize,
    /// When the lines of the current window were logged (at most `burst`; allocated once).
    logged: VecDeque<Instant>,
    /// Changes not logged since the last line.
    held: u64,
}

impl ChangeLimit {
    pub fn new(window: Duration, burst: usize) -> Self {
        let burst = burst.max(1);
        ChangeLimit {
            window,
            burst,
            logged: VecDeque::with_capacity(burst),
            held: 0,
        }
    }

    fn room(&mut self, now: Instant) -> bool {
        while self
            .logged
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.logged.pop_front();
        }
        self.logged.len() < self.burst
    }

    /// The state changed: `Some(changes held back before this one)` to log it now.
    pub fn changed(&mut self, now: Instant) -> Option<u64> {
        if self.room(now) {
            self.logged.push_back(now);
            Some(std::mem::take(&mut self.held))
        } else {
            self.held += 1;
            None
        }
    }

    /// Call regularly: `Some(changes held back before the current state)` when the
    /// current state, never logged, should be logged now.
    pub fn flush(&mut self, now: Instant) -> Option<u64> {
        if self.held > 0 && self.room(now) {
            self.logged.push_back(now);
            // The latest change held back is the state being logged now.
            Some(std::mem::take(&mut self.held) - 1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_summary() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(Duration::from_secs(10));
        assert_eq!(r.allow(t0), Some(0));
        for s in 1..5 {
            assert!(!r.ready(t0 + Duration::from_secs(s)));
            assert_eq!(r.allow(t0 + Duration::from_secs(s)), None);
        }
        assert!(r.ready(t0 + Duration::from_secs(11)));
        assert_eq!(r.allow(t0 + Duration::from_secs(11)), Some(4));
    }

    #[test]
    fn a_flapping_state_is_logged_a_few_times_a_window_and_ends_true() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = ChangeLimit::new(s(60), 3);
        assert_eq!(c.changed(t0), Some(0), "locked: at once");
        assert_eq!(c.flush(t0 + s(1)), None, "nothing held");
        assert_eq!(c.changed(t0 + s(4)), Some(0), "lost: at once too");
        assert_eq!(c.changed(t0 + s(5)), Some(0), "regained");
        // Lost, regained, lost, regained: held back.
        for i in 6..=9 {
            assert_eq!(c.changed(t0 + s(i)), None);
        }
        assert_eq!(c.flush(t0 + s(30)), None, "no room yet");
        // When the first line leaves the window, the state then current is logged,
        // with the 3 changes before it that were never logged.
        assert_eq!(c.flush(t0 + s(60)), Some(3));
        assert_eq!(c.flush(t0 + s(61)), None, "once");
        // Later changes have room again.
        assert_eq!(c.changed(t0 + s(200)), Some(0));
        assert_eq!(c.logged.capacity(), 3, "no growth");
    }

    #[test]
    fn a_single_held_change_is_logged_when_there_is_room() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = ChangeLimit::new(s(10), 1);
        assert_eq!(c.changed(t0), Some(0));
        assert_eq!(c.changed(t0 + s(2)), None);
        assert_eq!(c.flush(t0 + s(9)), None);
        assert_eq!(c.flush(t0 + s(10)), Some(0));
    }
}
