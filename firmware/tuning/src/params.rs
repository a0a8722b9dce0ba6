//! What a multiplex is tuned with.
//!
//! Frequencies are in hertz everywhere in dvbgate, satellite ones included (the kernel
//! wants kHz for satellite: the device layer converts at the last moment). A parameter a
//! broadcaster leaves to the receiver is `None` (the driver's AUTO).
//!
//! A tuning has a URL form, which is how an input of the store names its multiplex:
//!
//! ```text
//! dvb-t://474MHz?bandwidth=8MHz
//! dvb-t2://474MHz?bandwidth=8MHz&plp=1
//! dvb-c://474MHz?symbol_rate=6900000&modulation=qam256
//! dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3&modulation=8psk&diseqc=2
//! atsc://57028615?modulation=8vsb
//! ```

use serde::{Deserialize, Serialize};

/// The broadcast standard of a multiplex, as the kernel names delivery systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliverySystem {
    DvbT,
    DvbT2,
    /// DVB-C Annex A (Europe).
    DvbC,
    /// ITU-T J.83 Annex B (North American cable, "clear QAM").
    DvbCAnnexB,
    DvbS,
    DvbS2,
    Atsc,
}

impl DeliverySystem {
    pub fn is_satellite(self) -> bool {
        matches!(self, DeliverySystem::DvbS | DeliverySystem::DvbS2)
    }

    /// Name as in dvbv5 files and the kernel (`DVBT2`, `DVBC/ANNEX_A`…).
    pub fn dvbv5_name(self) -> &'static str {
        match self {
            DeliverySystem::DvbT => "DVBT",
            DeliverySystem::DvbT2 => "DVBT2",
            DeliverySystem::DvbC => "DVBC/ANNEX_A",
            DeliverySystem::DvbCAnnexB => "DVBC/ANNEX_B",
            DeliverySystem::DvbS => "DVBS",
            DeliverySystem::DvbS2 => "DVBS2",
            DeliverySystem::Atsc => "ATSC",
        }
    }

    /// Name for people and URL schemes (`dvb-t2`).
    pub fn scheme(self) -> &'static str {
        match self {
            DeliverySystem::DvbT => "dvb-t",
            DeliverySystem::DvbT2 => "dvb-t2",
            DeliverySystem::DvbC => "dvb-c",
            DeliverySystem::DvbCAnnexB => "dvb-c-b",
            DeliverySystem::DvbS => "dvb-s",
            DeliverySystem::DvbS2 => "dvb-s2",
            DeliverySystem::Atsc => "atsc",
        }
    }
}

impl std::fmt::Display for DeliverySystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeliverySystem::DvbT => "DVB-T",
            DeliverySystem::DvbT2 => "DVB-T2",
            DeliverySystem::DvbC => "DVB-C",
            DeliverySystem::DvbCAnnexB => "DVB-C Annex B",
            DeliverySystem::DvbS => "DVB-S",
            DeliverySystem::DvbS2 => "DVB-S2",
            DeliverySystem::Atsc => "ATSC",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modulation {
    Qpsk,
    Psk8,
    Apsk16,
    Apsk32,
    Qam16,
    Qam32,
    Qam64,
    Qam128,
    Qam256,
    Vsb8,
    Vsb16,
}

/// Forward error correction rate (inner FEC, DVB-T code rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeRate {
    #[serde(rename = "1/2")]
    R1_2,
    #[serde(rename = "2/3")]
    R2_3,
    #[serde(rename = "3/4")]
    R3_4,
    #[serde(rename = "3/5")]
    R3_5,
    #[serde(rename = "4/5")]
    R4_5,
    #[serde(rename = "5/6")]
    R5_6,
    #[serde(rename = "6/7")]
    R6_7,
    #[serde(rename = "7/8")]
    R7_8,
    #[serde(rename = "8/9")]
    R8_9,
    #[serde(rename = "9/10")]
    R9_10,
    /// No inner FEC (some DVB-C tables say so explicitly).
    #[serde(rename = "none")]
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransmissionMode {
    #[serde(rename = "1k")]
    K1,
    #[serde(rename = "2k")]
    K2,
    #[serde(rename = "4k")]
    K4,
    #[serde(rename = "8k")]
    K8,
    #[serde(rename = "16k")]
    K16,
    #[serde(rename = "32k")]
    K32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GuardInterval {
    #[serde(rename = "1/4")]
    G1_4,
    #[serde(rename = "1/8")]
    G1_8,
    #[serde(rename = "1/16")]
    G1_16,
    #[serde(rename = "1/32")]
    G1_32,
    #[serde(rename = "1/128")]
    G1_128,
    #[serde(rename = "19/128")]
    G19_128,
    #[serde(rename = "19/256")]
    G19_256,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hierarchy {
    None,
    #[serde(rename = "1")]
    H1,
    #[serde(rename = "2")]
    H2,
    #[serde(rename = "4")]
    H4,
}

/// Polarisation of a satellite transponder; selects the LNB's 13 V / 18 V supply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarisation {
    /// Horizontal: 18 V.
    H,
    /// Vertical: 13 V.
    V,
    /// Circular left: 18 V.
    L,
    /// Circular right: 13 V.
    R,
}

impl Polarisation {
    /// Horizontal and circular-left transponders are selected with 18 V.
    pub fn high_voltage(self) -> bool {
        matches!(self, Polarisation::H | Polarisation::L)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rolloff {
    #[serde(rename = "0.35")]
    R35,
    #[serde(rename = "0.25")]
    R25,
    #[serde(rename = "0.20")]
    R20,
}

/// The dish side of a satellite multiplex: which LNB, behind which switch port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Lnb {
    /// Universal Ku-band LNB: 9750 MHz below 11700 MHz, 10600 MHz above with the 22 kHz
    /// tone on.
    Universal,
    /// One local oscillator, no band switching (C band: 5150 MHz; single Ku: 10750 MHz,
    /// 11300 MHz…).
    Single { lo_hz: u64 },
    /// Two oscillators switched by the 22 kHz tone at `switch_hz`.
    Dual {
        low_lo_hz: u64,
        high_lo_hz: u64,
        switch_hz: u64,
    },
}

/// Which dish a multiplex is received from, when the box has a switch in front of its
/// LNBs (DiSEqC 1.0/1.1) or a simple tone-burst switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Switch {
    /// DiSEqC 1.0 committed port, 0..=3 (position A/B × option A/B).
    pub committed: Option<u8>,
    /// DiSEqC 1.1 uncommitted port, 0..=15 (cascaded behind or in place of a committed
    /// switch).
    pub uncommitted: Option<u8>,
    /// Mini-DiSEqC tone burst: false = A, true = B.
    pub tone_burst: Option<bool>,
}

/// Parameters of each delivery system. `None` leaves a value to the driver (AUTO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "system")]
pub enum Params {
    /// DVB-T and DVB-T2 (see [`Tuning::system`]).
    Terrestrial {
        bandwidth_hz: u32,
        modulation: Option<Modulation>,
        code_rate_hp: Option<CodeRate>,
        code_rate_lp: Option<CodeRate>,
        transmission_mode: Option<TransmissionMode>,
        guard_interval: Option<GuardInterval>,
        hierarchy: Option<Hierarchy>,
        /// DVB-T2 physical layer pipe (0..=255); None = the first.
        plp_id: Option<u8>,
    },
    /// DVB-C (Annex A or B).
    Cable {
        symbol_rate: u32,
        modulation: Option<Modulation>,
        fec: Option<CodeRate>,
    },
    /// DVB-S and DVB-S2. The frequency of the tuning is the transponder's (the downlink,
    /// e.g. 11 362 MHz), not the intermediate frequency the tuner sees.
    Satellite {
        polarisation: Polarisation,
        symbol_rate: u32,
        fec: Option<CodeRate>,
        modulation: Option<Modulation>,
        rolloff: Option<Rolloff>,
        /// DVB-S2 multistream: input stream identifier (0..=255).
        stream_id: Option<u8>,
        lnb: Lnb,
        switch: Switch,
    },
    Atsc { modulation: Option<Modulation> },
}

/// One multiplex as a tuner is told to find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tuning {
    pub system: DeliverySystem,
    /// Hz; for satellite, the transponder's downlink frequency.
    pub frequency_hz: u64,
    pub params: Params,
}

impl Tuning {
    /// Whether two tunings reach the same multiplex: the same kind of delivery, close
    /// enough in frequency (tables and tuning files round differently; terrestrial
    /// transmitters use offsets of ±167 kHz), and for satellite the same polarisation and
    /// dish.
    pub fn same_multiplex(&self, other: &Tuning) -> bool {
        let family = |s: DeliverySystem| match s {
            DeliverySystem::DvbT | DeliverySystem::DvbT2 => 0,
            DeliverySystem::DvbC | DeliverySystem::DvbCAnnexB => 1,
            DeliverySystem::DvbS | DeliverySystem::DvbS2 => 2,
            DeliverySystem::Atsc => 3,
        };
        if family(self.system) != family(other.system) {
            return false;
        }
        let tolerance_hz = match (&self.params, &other.params) {
            (
                Params::Satellite {
                    polarisation: p1,
                    switch: s1,
                    ..
                },
                Params::Satellite {
                    polarisation: p2,
                    switch: s2,
                    ..
                },
            ) => {
                if p1 != p2 || s1 != s2 {
                    return false;
                }
                // Transponders of one polarisation are at least ~19 MHz apart.
                5_000_000
            }
            // Terrestrial and cable channels are at least 6 MHz apart.
            _ => 1_000_000,
        };
        self.frequency_hz.abs_diff(other.frequency_hz) <= tolerance_hz
    }
}
