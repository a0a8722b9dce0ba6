//! Unicable (single-cable distribution): several tuners share one coaxial cable; each has
//! its own *user band* (a fixed intermediate frequency) and asks the LNB or switch to put
//! the wanted transponder there with a DiSEqC command. EN 50494 ("Unicable I", 8 user
//! bands, 2 positions) and EN 50607 ("Unicable II"/JESS, 32 user bands, 64 positions).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnicableStandard {
    /// EN 50494, Unicable I.
    En50494,
    /// EN 50607, Unicable II / JESS.
    En50607,
}

/// How one tuner is set up on a Unicable cable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnicableSetup {
    pub standard: UnicableStandard,
    /// User band (slot), counted from 0: 0..=7 for EN 50494, 0..=31 for EN 50607.
    pub user_band: u8,
    /// The user band's centre frequency, Hz (as printed on the LNB or switch).
    pub user_band_frequency_hz: u64,
    /// PIN for protected user bands (EN 50494 §7, EN 50607 §7), if the installer set one.
    #[serde(default)]
    pub pin: Option<u8>,
}
