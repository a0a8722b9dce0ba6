//! Signal statistics: what the driver says, and what of it we believe.
//!
//! Drivers report values even when they have no lock, and some report garbage then (the
//! kernel's own vidtv says −2 721 470 dBm). So a value is only shown when the frontend is
//! locked and the value lies in a physically possible range; otherwise it is `None`.

use serde::{Deserialize, Serialize};

/// The frontend's status bits (`FE_HAS_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFlags {
    pub signal: bool,
    pub carrier: bool,
    pub viterbi: bool,
    pub sync: bool,
    pub lock: bool,
}

impl LockFlags {
    /// From the kernel's `fe_status_t` bits.
    pub fn from_bits(bits: u32) -> LockFlags {
        LockFlags {
            signal: bits & 0x01 != 0,
            carrier: bits & 0x02 != 0,
            viterbi: bits & 0x04 != 0,
            sync: bits & 0x08 != 0,
            lock: bits & 0x10 != 0,
        }
    }
}

/// One measurement as the driver scales it (`FE_SCALE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scale", content = "value")]
pub enum Measure {
    /// Decibels (dBm for strength, dB for C/N).
    Decibel(f64),
    /// 0..=65535, meaning left to the driver.
    Relative(u16),
    /// An ever-growing counter.
    Counter(u64),
}

/// What one read of the frontend's statistics gave, untrusted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RawStats {
    pub flags: LockFlags,
    pub strength: Option<Measure>,
    pub cnr: Option<Measure>,
    /// Bit errors before the outer code, and bits counted.
    pub pre_error_bits: Option<u64>,
    pub pre_total_bits: Option<u64>,
    /// Bit errors after the inner code, and bits counted.
    pub post_error_bits: Option<u64>,
    pub post_total_bits: Option<u64>,
    /// Blocks the outer code could not correct, and blocks counted.
    pub error_blocks: Option<u64>,
    pub total_blocks: Option<u64>,
}

/// Statistics as shown to a technician: only values we believe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalReport {
    pub flags: LockFlags,
    /// Signal strength, dBm, when the driver measures in dB.
    pub strength_dbm: Option<f64>,
    /// Signal strength, 0–100 %, when the driver only gives a relative value.
    pub strength_percent: Option<f64>,
    /// Carrier-to-noise ratio, dB.
    pub cnr_db: Option<f64>,
    /// C/N as 0–100 %, when the driver only gives a relative value.
    pub cnr_percent: Option<f64>,
    /// Bit error ratio before the outer code over the last interval.
    pub pre_ber: Option<f64>,
    /// Bit error ratio after the inner code over the last interval.
    pub post_ber: Option<f64>,
    /// Blocks the outer code could not correct since the last tune.
    pub error_blocks: Option<u64>,
}

/// Plausible physical ranges. A driver value outside them is a driver bug or an unlocked
/// read, not a measurement.
const STRENGTH_DBM: std::ops::RangeInclusive<f64> = -120.0..=20.0;
const CNR_DB: std::ops::RangeInclusive<f64> = -10.0..=60.0;

/// Turns successive raw reads of one tuned frontend into reports: checks ranges, ignores
/// everything but the lock flags while unlocked, and turns the drivers' ever-growing
/// counters into ratios per interval.
#[derive(Clone, Debug, Default)]
pub struct SignalTracker {
    previous: Option<RawStats>,
    /// Uncorrected blocks counted at the last tune (the counter is not reset by every driver).
    blocks_at_tune: Option<u64>,
}

impl SignalTracker {
    pub fn new() -> Self {
        SignalTracker::default()
    }

    /// Forget counters: the frontend was (re)tuned.
    pub fn retuned(&mut self) {
        *self = SignalTracker::default();
    }

    pub fn update(&mut self, raw: &RawStats) -> SignalReport {
        let mut report = SignalReport {
            flags: raw.flags,
            ..SignalReport::default()
        };
        if !raw.flags.lock {
            // Unlocked: counters are meaningless and will restart; keep nothing.
            self.previous = None;
            return report;
        }
        match raw.strength {
            Some(Measure::Decibel(v)) if STRENGTH_DBM.contains(&v) => report.strength_dbm = Some(v),
            Some(Measure::Relative(v)) => report.strength_percent = Some(percent(v)),
            _ => {}
        }
        match raw.cnr {
            Some(Measure::Decibel(v)) if CNR_DB.contains(&v) => report.cnr_db = Some(v),
            Some(Measure::Relative(v)) => report.cnr_percent = Some(percent(v)),
            _ => {}
        }
        if let Some(prev) = &self.previous {
            report.pre_ber = ratio(
                (prev.pre_error_bits, raw.pre_error_bits),
                (prev.pre_total_bits, raw.pre_total_bits),
            );
            report.post_ber = ratio(
                (prev.post_error_bits, raw.post_error_bits),
                (prev.post_total_bits, raw.post_total_bits),
            );
        }
        if let Some(blocks) = raw.error_blocks {
            let base = *self.blocks_at_tune.get_or_insert(blocks);
            // A counter that went backwards was reset by the driver: count from there.
            if blocks < base {
                self.blocks_at_tune = Some(blocks);
            }
            report.error_blocks = Some(blocks.saturating_sub(self.blocks_at_tune.unwrap_or(0)));
        }
        self.previous = Some(*raw);
        report
    }
}

fn percent(v: u16) -> f64 {
    (f64::from(v) * 1000.0 / 65535.0).round() / 10.0
}

/// Errors over bits counted since the previous read, when both counters moved forward.
fn ratio(errors: (Option<u64>, Option<u64>), totals: (Option<u64>, Option<u64>)) -> Option<f64> {
    let (e0, e1) = (errors.0?, errors.1?);
    let (t0, t1) = (totals.0?, totals.1?);
    if e1 < e0 || t1 <= t0 {
        return None;
    }
    let (e, t) = (e1 - e0, t1 - t0);
    (e <= t).then(|| e as f64 / t as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked() -> LockFlags {
        LockFlags::from_bits(0x1F)
    }

    #[test]
    fn flags_follow_the_kernel_bits() {
        let f = LockFlags::from_bits(0x03);
        assert!(f.signal && f.carrier && !f.viterbi && !f.sync && !f.lock);
        assert!(LockFlags::from_bits(0x1F).lock);
    }

    #[test]
    fn nothing_but_flags_is_believed_while_unlocked() {
        // vidtv, unlocked: a full-range random value scaled to dBm.
        let raw = RawStats {
            flags: LockFlags::from_bits(0x01),
            strength: Some(Measure::Decibel(-2_721_470.03)),
            cnr: Some(Measure::Decibel(12.0)),
            error_blocks: Some(5),
            ..RawStats::default()
        };
        let r = SignalTracker::new().update(&raw);
        assert!(r.flags.signal && !r.flags.lock);
        assert_eq!(r.strength_dbm, None);
        assert_eq!(r.cnr_db, None);
        assert_eq!(r.error_blocks, None);
    }

    #[test]
    fn impossible_values_are_dropped_even_when_locked() {
        let mut t = SignalTracker::new();
        let r = t.update(&RawStats {
            flags: locked(),
            strength: Some(Measure::Decibel(-2_721_470.0)),
            cnr: Some(Measure::Decibel(300.0)),
            ..RawStats::default()
        });
        assert_eq!((r.strength_dbm, r.cnr_db), (None, None));
        let r = t.update(&RawStats {
            flags: locked(),
            strength: Some(Measure::Decibel(-34.3)),
            cnr: Some(Measure::Decibel(33.5)),
            ..RawStats::default()
        });
        assert_eq!((r.strength_dbm, r.cnr_db), (Some(-34.3), Some(33.5)));
    }

    #[test]
    fn relative_values_become_percentages() {
        let r = SignalTracker::new().update(&RawStats {
            flags: locked(),
            strength: Some(Measure::Relative(65535)),
            cnr: Some(Measure::Relative(32768)),
            ..RawStats::default()
        });
        assert_eq!(r.strength_percent, Some(100.0));
        assert_eq!(r.cnr_percent, Some(50.0));
        assert_eq!(r.strength_dbm, None);
    }

    #[test]
    fn ber_is_errors_over_bits_between_reads() {
        let mut t = SignalTracker::new();
        let read = |e: u64, b: u64| RawStats {
            flags: locked(),
            pre_error_bits: Some(e),
            pre_total_bits: Some(b),
            ..RawStats::default()
        };
        assert_eq!(t.update(&read(100, 1_000_000)).pre_ber, None, "first read");
        let r = t.update(&read(150, 2_000_000));
        assert_eq!(r.pre_ber, Some(50.0 / 1_000_000.0));
        // A counter reset (driver retuned by itself) gives no ratio rather than a wild one.
        assert_eq!(t.update(&read(3, 10)).pre_ber, None);
    }

    #[test]
    fn uncorrected_blocks_count_from_the_tune() {
        let mut t = SignalTracker::new();
        let read = |b: u64| RawStats {
            flags: locked(),
            error_blocks: Some(b),
            ..RawStats::default()
        };
        assert_eq!(t.update(&read(1000)).error_blocks, Some(0));
        assert_eq!(t.update(&read(1007)).error_blocks, Some(7));
        t.retuned();
        assert_eq!(t.update(&read(1010)).error_blocks, Some(0));
        assert_eq!(
            t.update(&read(2)).error_blocks,
            Some(0),
            "driver reset its counter"
        );
        assert_eq!(t.update(&read(5)).error_blocks, Some(3));
    }
}
