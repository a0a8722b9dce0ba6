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
