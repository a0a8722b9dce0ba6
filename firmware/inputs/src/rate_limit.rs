//! Log lines a technician can read: the first occurrence of a problem is logged at once,
//! repeats are counted and summarised, so a dead receiver or a noisy antenna cannot flood
//! the log (and the flash it may be written to).
//!
//! Here (rather than in the pipeline) because tuner inputs limit their own lines, and
//! the pipeline depends on this crate.

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

/// Changes of a state that may flap (a tuner's lock, an input's data): the first change
/// is logged at once; changes within the window after a logged one are held back, and
/// once the window has passed the state then current is logged once, saying how many
/// changes were not. So the log always ends with the true state, and a lock that comes
/// and goes every second costs a line per window.
pub struct ChangeLimit {
    limit: RateLimit,
    held: bool,
}

impl ChangeLimit {
    pub fn new(window: Duration) -> Self {
        ChangeLimit {
            limit: RateLimit::new(window),
            held: false,
        }
    }

    /// The state changed: `Some(changes held back before this one)` to log it now.
    pub fn changed(&mut self, now: Instant) -> Option<u64> {
        let allowed = self.limit.allow(now);
        self.held = allowed.is_none();
        allowed
    }

    /// Call regularly: `Some(changes held back)` when the current state, never logged,
    /// should be logged now.
    pub fn flush(&mut self, now: Instant) -> Option<u64> {
        if self.held && self.limit.ready(now) {
            self.held = false;
            // The latest change was held back too: it is the one being logged now.
            self.limit.allow(now).map(|n| n.saturating_sub(1))
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
    fn a_flapping_state_is_logged_once_a_window_and_ends_true() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = ChangeLimit::new(s(60));
        assert_eq!(c.changed(t0), Some(0), "the first change at once");
        assert_eq!(c.flush(t0 + s(1)), None, "nothing held");
        // Lost, regained, lost, regained: held back.
        for i in 1..=4 {
            assert_eq!(c.changed(t0 + s(i)), None);
        }
        assert_eq!(c.flush(t0 + s(30)), None, "window not over");
        // After the window, the state then current is logged, with the 3 changes
        // before it that were never logged.
        assert_eq!(c.flush(t0 + s(61)), Some(3));
        assert_eq!(c.flush(t0 + s(62)), None, "once");
        // A change long after is logged at once again.
        assert_eq!(c.changed(t0 + s(200)), Some(0));
    }

    #[test]
    fn a_single_held_change_is_logged_when_the_window_ends() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = ChangeLimit::new(s(10));
        assert_eq!(c.changed(t0), Some(0));
        assert_eq!(c.changed(t0 + s(2)), None);
        assert_eq!(c.flush(t0 + s(10)), Some(0));
    }
}
