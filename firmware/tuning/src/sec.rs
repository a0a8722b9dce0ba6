//! Satellite equipment control (SEC): what a tuner does before it tunes a satellite
//! multiplex. A [`SecPlan`] is computed here, purely, from the multiplex and the tuner's
//! cabling; the device layer carries out its steps in order and then tunes the plan's
//! intermediate frequency.

use serde::{Deserialize, Serialize};

/// LNB supply voltage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Voltage {
    Off,
    V13,
    V18,
}

/// One step of equipment control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecStep {
    Voltage(Voltage),
    /// 22 kHz continuous tone on or off.
    Tone(bool),
    /// A DiSEqC master command, 3 to 6 bytes (framing, address, command, data…).
    Diseqc(Vec<u8>),
    /// Mini-DiSEqC tone burst: false = A (unmodulated), true = B (modulated).
    Burst(bool),
    /// Let the equipment settle, in milliseconds.
    Wait(u32),
}

/// What to do, then what to tune.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecPlan {
    pub steps: Vec<SecStep>,
    /// The frequency the tuner itself tunes, in Hz (the LNB's output, 950–2150 MHz).
    pub intermediate_frequency_hz: u64,
}

/// How a tuner is cabled to the dish: what is the same for every multiplex it tunes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TunerSetup {
    /// The tuner powers the LNB (13/18 V). False when something else does (a multiswitch
    /// with its own supply): voltage then only selects polarisation where it can.
    pub lnb_power: bool,
    /// The tuner shares a Unicable cable.
    pub unicable: Option<crate::unicable::UnicableSetup>,
}

impl Default for TunerSetup {
    fn default() -> Self {
        TunerSetup {
            lnb_power: true,
            unicable: None,
        }
    }
}
