//! One memory budget for every channel's HLS window.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of segments held by all windows, against a limit. Each stream claims what it
/// expects to hold when it starts (refused if that does not fit) and then what it really
/// holds, so a busy box refuses a new channel instead of starving the ones playing.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    /// Bytes of segment data held by all windows.
    held: AtomicUsize,
    /// Sum of each stream's claim: max(its estimate, what it holds).
    claimed: AtomicUsize,
}

/// A new stream that does not fit.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error(
    "the HLS memory budget is full: {claimed_mib:.1} of {limit_mib:.1} MiB claimed by the channels streaming, {wanted_mib:.1} MiB more needed"
)]
pub struct BudgetFull {
    pub claimed_mib: f64,
    pub limit_mib: f64,
    pub wanted_mib: f64,
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit,
            held: AtomicUsize::new(0),
            claimed: AtomicUsize::new(0),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes of segments held now, all channels together.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn claimed(&self) -> usize {
        self.claimed.load(Ordering::Relaxed)
    }

    /// Claims `bytes` for a new stream, if they fit.
    pub(crate) fn claim(&self, bytes: usize) -> Result<(), BudgetFull> {
        self.claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |claimed| {
                (claimed + bytes <= self.limit).then_some(claimed + bytes)
            })
            .map(|_| ())
            .map_err(|claimed| BudgetFull {
                claimed_mib: mib(claimed),
                limit_mib: mib(self.limit),
                wanted_mib: mib(bytes),
            })
    }

    /// A stream's claim changed from `old` to `new` (it grew past its estimate, or ended).
    pub(crate) fn reclaim(&self, old: usize, new: usize) {
        if new >= old {
            self.claimed.fetch_add(new - old, Ordering::AcqRel);
        } else {
            self.claimed.fetch_sub(old - new, Ordering::AcqRel);
        }
    }

    pub(crate) fn hold(&self, bytes: usize) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    pub(crate) fn release(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Whether the windows together hold more than the limit.
    pub(crate) fn over(&self) -> bool {
        self.held() > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_refused_past_the_limit_and_given_back() {
        let b = Budget::new(100);
        b.claim(60).unwrap();
        let full = b.claim(50).unwrap_err();
        assert!(full.to_string().contains("budget is full"), "{full}");
        b.claim(40).unwrap();
        b.reclaim(60, 0);
        assert_eq!(b.claimed(), 40);
        b.claim(60).unwrap();
        b.reclaim(40, 45); // a stream grew past its estimate
        assert_eq!(b.claimed(), 105);
        assert!(b.claim(1).is_err());
    }

    #[test]
    fn held_bytes_are_counted() {
        let b = Budget::new(10);
        b.hold(8);
        assert!(!b.over());
        b.hold(4);
        assert!(b.over());
        b.release(4);
        assert_eq!(b.held(), 8);
    }
}
