//! Log lines a technician can read: the first occurrence of a problem is logged at once,
//! repeats are counted and summarised, so a dead receiver or a noisy antenna cannot flood
//! the log (and the flash it may be written to).

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
        match self.last {
            Some(t) if now.duration_since(t) < self.window => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
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
            assert_eq!(r.allow(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(r.allow(t0 + Duration::from_secs(11)), Some(4));
    }
}
