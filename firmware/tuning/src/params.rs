//! What a multiplex is tuned with.
//!
//! Frequencies are in hertz everywhere in dvbgate, satellite ones included (the kernel
//! wants kHz for satellite: the device layer converts at the last moment). A parameter a
//! broadcaster leaves to the receiver is `None` (the driver's AUTO).
//!
//! # URL form
//!
//! A tuning has a URL form, which is how an input of the store names its multiplex and
//! how a technician types one:
//!
//! ```text
//! dvb-t://474MHz?bandwidth=8MHz
//! dvb-t2://474MHz?bandwidth=8MHz&plp=1
//! dvb-c://474MHz?symbol_rate=6900000&modulation=qam256
//! dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3&modulation=8psk&diseqc=2
//! atsc://57028615?modulation=8vsb
//! ```
//!
//! The scheme is the delivery system: `dvb-t`, `dvb-t2`, `dvb-c` (Annex A), `dvb-c-b`
//! (Annex B, North American cable), `dvb-s`, `dvb-s2`, `atsc`. The host part is the
//! frequency (for satellite the transponder's downlink frequency, not the intermediate
//! one): a plain integer is hertz, always; a unit suffix `Hz`, `kHz`, `MHz` or `GHz` (any
//! case) may follow a decimal number (`11.362GHz`, `474.166MHz`). A satellite or
//! terrestrial frequency that is obviously in the wrong unit is refused with the unit it
//! probably meant, rather than guessed.
//!
//! Query keys (unknown keys and keys that do not apply to the scheme are errors, so a typo
//! is never silently ignored; a key given twice is an error; `auto` is the same as leaving
//! a key out):
//!
//! | key | systems | values |
//! |---|---|---|
//! | `bandwidth` | dvb-t, dvb-t2 (required) | `5MHz`, `6MHz`, `7MHz`, `8MHz`; dvb-t2 also `1.712MHz` (or `1.7MHz`) and `10MHz`; hertz or with a unit |
//! | `modulation` | all | dvb-t: `qpsk`, `qam16`, `qam64`; dvb-t2: also `qam256`; dvb-c: `qam16` … `qam256`; dvb-c-b: `qam64`, `qam256`; dvb-s: `qpsk`; dvb-s2: `qpsk`, `8psk`, `16apsk`, `32apsk`; atsc: `8vsb`, `16vsb` |
//! | `fec` | cable, satellite | `1/2`, `2/3`, `3/4`, `3/5`, `4/5`, `5/6`, `6/7`, `7/8`, `8/9`, `9/10`, `none` |
//! | `code_rate_hp`, `code_rate_lp` | terrestrial | as `fec` |
//! | `transmission_mode` | terrestrial | `1k`, `2k`, `4k`, `8k`, `16k`, `32k` |
//! | `guard_interval` | terrestrial | `1/4`, `1/8`, `1/16`, `1/32`, `1/128`, `19/128`, `19/256` |
//! | `hierarchy` | terrestrial | `none`, `1`, `2`, `4` |
//! | `plp` | dvb-t2 | physical layer pipe, `0`…`255` |
//! | `symbol_rate` | cable, satellite (required; dvb-c-b: derived from the modulation) | bauds, or with `kBd`/`MBd`: `6900000`, `6.9MBd`, `27500kBd` |
//! | `polarisation` (also `pol`, `polarization`) | satellite (required) | `h`, `v`, `l`, `r` (or `horizontal`…) |
//! | `rolloff` | satellite | `0.35`, `0.25`, `0.20` |
//! | `stream_id` | dvb-s2 | multistream input stream identifier, `0`…`255` |
//! | `lnb` | satellite | `universal` (the default: 9750/10600 MHz, switching at 11700 MHz), `c-band` (5150 MHz), one local oscillator (`10750MHz`), or low, high and switch frequencies (`9750MHz,10600MHz,11700MHz`) |
//! | `diseqc` | satellite | DiSEqC 1.0 committed port counted from 1 as switches print it, `1`…`4`; on a Unicable cable the satellite position (`1`…`2` for EN 50494, `1`…`64` for EN 50607) |
//! | `uncommitted` | satellite | DiSEqC 1.1 uncommitted port, `1`…`16` |
//! | `burst` | satellite | mini-DiSEqC tone burst, `a` or `b` |
//!
//! Why bandwidth is required for DVB-T: a receiver told the wrong bandwidth does not
//! lock, and many drivers do not detect it; 7 MHz (VHF, Australia) and 8 MHz (UHF in
//! Europe) channels share the same frequencies in places, so no default is safe.
//!
//! [`Tuning`]'s `Display` writes the canonical form (frequency in MHz, keys in the order
//! of the table, defaults left out), which parses back to the same tuning.
//! [`Tuning::summary`] is the short form for logs and pages (`DVB-T 474 MHz, 8 MHz`).

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
    /// DiSEqC 1.0 committed port, 0..=3 (position A/B × option A/B). On a Unicable
    /// cable, the satellite position instead: 0..=1 (EN 50494) or 0..=63 (EN 50607).
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
    Atsc {
        modulation: Option<Modulation>,
    },
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
    /// dish. One frequency can carry several multiplexes (DVB-T2 PLPs, DVB-S2 input
    /// streams): those differ, since a tuner delivers one at a time.
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
            (Params::Terrestrial { plp_id: a, .. }, Params::Terrestrial { plp_id: b, .. })
                if a != b =>
            {
                return false;
            }
            (
                Params::Satellite {
                    polarisation: p1,
                    switch: s1,
                    stream_id: i1,
                    ..
                },
                Params::Satellite {
                    polarisation: p2,
                    switch: s2,
                    stream_id: i2,
                    ..
                },
            ) => {
                if p1 != p2 || s1 != s2 || i1 != i2 {
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

// ---------------------------------------------------------------------------------------
// Names of values, as the URL form writes them.

macro_rules! url_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in the order the URL documentation lists them.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The value's name in a tuning URL.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The value with this URL name (ASCII case ignored).
            pub fn from_name(name: &str) -> Option<$ty> {
                Self::ALL.iter().copied().find(|v| v.name().eq_ignore_ascii_case(name))
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

url_names!(Modulation {
    Qpsk => "qpsk",
    Psk8 => "8psk",
    Apsk16 => "16apsk",
    Apsk32 => "32apsk",
    Qam16 => "qam16",
    Qam32 => "qam32",
    Qam64 => "qam64",
    Qam128 => "qam128",
    Qam256 => "qam256",
    Vsb8 => "8vsb",
    Vsb16 => "16vsb",
});

url_names!(CodeRate {
    R1_2 => "1/2",
    R2_3 => "2/3",
    R3_4 => "3/4",
    R3_5 => "3/5",
    R4_5 => "4/5",
    R5_6 => "5/6",
    R6_7 => "6/7",
    R7_8 => "7/8",
    R8_9 => "8/9",
    R9_10 => "9/10",
    None => "none",
});

url_names!(TransmissionMode {
    K1 => "1k",
    K2 => "2k",
    K4 => "4k",
    K8 => "8k",
    K16 => "16k",
    K32 => "32k",
});

url_names!(GuardInterval {
    G1_4 => "1/4",
    G1_8 => "1/8",
    G1_16 => "1/16",
    G1_32 => "1/32",
    G1_128 => "1/128",
    G19_128 => "19/128",
    G19_256 => "19/256",
});

url_names!(Hierarchy {
    None => "none",
    H1 => "1",
    H2 => "2",
    H4 => "4",
});

url_names!(Polarisation {
    H => "h",
    V => "v",
    L => "l",
    R => "r",
});

url_names!(Rolloff {
    R35 => "0.35",
    R25 => "0.25",
    R20 => "0.20",
});

impl Polarisation {
    /// Also the spelled-out names (`horizontal`, `vertical`, `left`, `right`).
    fn parse_any(text: &str) -> Option<Polarisation> {
        Polarisation::from_name(text).or_else(|| {
            [
                ("horizontal", Polarisation::H),
                ("vertical", Polarisation::V),
                ("left", Polarisation::L),
                ("right", Polarisation::R),
            ]
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(text))
            .map(|(_, p)| p)
        })
    }
}

impl Rolloff {
    /// Also `0.2` and the percentages `35`, `25`, `20` (dvbv5 files write those).
    fn parse_any(text: &str) -> Option<Rolloff> {
        Rolloff::from_name(text).or(match text {
            "0.2" | "20" => Some(Rolloff::R20),
            "25" => Some(Rolloff::R25),
            "35" => Some(Rolloff::R35),
            _ => None,
        })
    }
}

fn names<T: Copy>(values: &[T], name: impl Fn(T) -> &'static str) -> String {
    values
        .iter()
        .map(|v| name(*v))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DeliverySystem {
    pub const ALL: [DeliverySystem; 7] = [
        DeliverySystem::DvbT,
        DeliverySystem::DvbT2,
        DeliverySystem::DvbC,
        DeliverySystem::DvbCAnnexB,
        DeliverySystem::DvbS,
        DeliverySystem::DvbS2,
        DeliverySystem::Atsc,
    ];

    /// The system of a URL scheme (ASCII case ignored).
    pub fn from_scheme(scheme: &str) -> Option<DeliverySystem> {
        DeliverySystem::ALL
            .into_iter()
            .find(|s| s.scheme().eq_ignore_ascii_case(scheme))
    }

    pub fn is_terrestrial(self) -> bool {
        matches!(self, DeliverySystem::DvbT | DeliverySystem::DvbT2)
    }

    pub fn is_cable(self) -> bool {
        matches!(self, DeliverySystem::DvbC | DeliverySystem::DvbCAnnexB)
    }

    /// The modulations the standard defines for this system (AUTO aside).
    pub fn modulations(self) -> &'static [Modulation] {
        use Modulation::*;
        match self {
            DeliverySystem::DvbT => &[Qpsk, Qam16, Qam64],
            DeliverySystem::DvbT2 => &[Qpsk, Qam16, Qam64, Qam256],
            DeliverySystem::DvbC => &[Qam16, Qam32, Qam64, Qam128, Qam256],
            DeliverySystem::DvbCAnnexB => &[Qam64, Qam256],
            DeliverySystem::DvbS => &[Qpsk],
            DeliverySystem::DvbS2 => &[Qpsk, Psk8, Apsk16, Apsk32],
            DeliverySystem::Atsc => &[Vsb8, Vsb16],
        }
    }

    /// The channel bandwidths the standard defines, Hz (terrestrial systems only).
    pub fn bandwidths_hz(self) -> &'static [u32] {
        match self {
            DeliverySystem::DvbT => &[5_000_000, 6_000_000, 7_000_000, 8_000_000],
            DeliverySystem::DvbT2 => &[
                1_712_000, 5_000_000, 6_000_000, 7_000_000, 8_000_000, 10_000_000,
            ],
            _ => &[],
        }
    }
}

/// ITU-T J.83 Annex B fixes the symbol rate by the modulation.
pub fn annex_b_symbol_rate(modulation: Modulation) -> Option<u32> {
    match modulation {
        Modulation::Qam64 => Some(5_056_941),
        Modulation::Qam256 => Some(5_360_537),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Plausible ranges. They catch wrong units and typos, not what a given frontend can do
// (that is `caps`).

/// Satellite downlinks: S band (2.5 GHz) to Ka band (~22 GHz), with margin.
pub const SATELLITE_FREQUENCY_HZ: std::ops::RangeInclusive<u64> = 2_000_000_000..=30_000_000_000;
/// Terrestrial, cable and ATSC channels: VHF band I (47 MHz) to extended cable (1.2 GHz).
pub const RF_FREQUENCY_HZ: std::ops::RangeInclusive<u64> = 40_000_000..=1_300_000_000;
/// DVB-C symbol rates in use run from under 1 to about 7 MBd.
pub const CABLE_SYMBOL_RATE: std::ops::RangeInclusive<u32> = 500_000..=10_000_000;
/// Satellite symbol rates: narrow SCPC feeds (~100 kBd) to wideband DVB-S2X carriers.
pub const SATELLITE_SYMBOL_RATE: std::ops::RangeInclusive<u32> = 100_000..=100_000_000;
/// LNB local oscillators: C band (5150 MHz) to Ka band (~21 GHz), with margin.
pub const LOCAL_OSCILLATOR_HZ: std::ops::RangeInclusive<u64> = 1_000_000_000..=30_000_000_000;

// ---------------------------------------------------------------------------------------
// Numbers with units.

const FREQUENCY_UNITS: &[(&str, u64)] = &[
    ("Hz", 1),
    ("kHz", 1_000),
    ("MHz", 1_000_000),
    ("GHz", 1_000_000_000),
];
const BAUD_UNITS: &[(&str, u64)] = &[("Bd", 1), ("kBd", 1_000), ("MBd", 1_000_000)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuantityError {
    NotANumber,
    UnknownUnit,
    /// A fraction of the base unit (`1.5Hz`).
    NotWhole,
    TooLarge,
}

/// A decimal number with an optional unit suffix (matched ignoring ASCII case, a space
/// allowed before it), in base units: `474MHz` → 474 000 000; a plain number is in base
/// units. Exact: no floating point, so `11.362GHz` is exactly 11 362 000 000.
pub(crate) fn parse_quantity(
    text: &str,
    units: &[(&str, u64)],
) -> Result<(u64, bool), QuantityError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim_start();
    if !number.contains(|c: char| c.is_ascii_digit()) {
        return Err(QuantityError::NotANumber);
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        units
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
            .map(|(_, m)| *m)
            .ok_or(QuantityError::UnknownUnit)?
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(QuantityError::NotANumber);
    }
    if whole.len() > 20 || fraction.len() > 18 {
        return Err(QuantityError::TooLarge);
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| QuantityError::NotANumber)?
    };
    let fraction_value: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| QuantityError::NotANumber)?
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction_units = fraction_value * u128::from(multiplier);
    if !fraction_units.is_multiple_of(scale) {
        return Err(QuantityError::NotWhole);
    }
    let total = whole * u128::from(multiplier) + fraction_units / scale;
    let total = u64::try_from(total).map_err(|_| QuantityError::TooLarge)?;
    Ok((total, !unit.is_empty()))
}

/// `value` in `unit` (a power of ten) with as many decimals as it needs: 474 000 000 in
/// MHz is "474", 57 028 615 is "57.028615".
pub(crate) fn decimal(value: u64, unit: u64) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = unit.ilog10() as usize;
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// "474 MHz", "11362 MHz", "57.028615 MHz".
pub fn format_mhz(hz: u64) -> String {
    format!("{} MHz", decimal(hz, 1_000_000))
}

/// "474MHz": the URL form.
fn url_mhz(hz: u64) -> String {
    format!("{}MHz", decimal(hz, 1_000_000))
}

/// For a value that is implausible in base units, the unit it was probably meant in.
fn probable_unit(
    value: u64,
    range: &std::ops::RangeInclusive<u64>,
    units: &[(&str, u64)],
) -> Option<String> {
    units
        .iter()
        .filter(|(_, m)| *m > 1)
        .find(|(_, m)| value.checked_mul(*m).is_some_and(|v| range.contains(&v)))
        .map(|(u, _)| format!("{value}{u}"))
}

// ---------------------------------------------------------------------------------------
// Errors.

/// Why a tuning URL was refused: where (`dvb-c://474MHz`) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{context}: {kind}")]
pub struct ParseError {
    /// The URL up to its query, shortened if long.
    pub context: String,
    pub kind: ParseErrorKind,
}

/// What is wrong with a tuning, in its URL form's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error(
        "not a tuning URL: expected SCHEME://FREQUENCY?KEY=VALUE&… (e.g. dvb-t://474MHz?bandwidth=8MHz)"
    )]
    Syntax,
    #[error("unknown scheme \"{scheme}\" (known: {known})")]
    Scheme { scheme: String, known: String },
    #[error("\"{text}\" is not a KEY=VALUE pair")]
    Pair { text: String },
    #[error("{key} \"{value}\" is not {expected}")]
    Value {
        key: String,
        value: String,
        expected: String,
    },
    /// A value of the right kind that cannot be right (wrong unit, impossible
    /// combination); the message says why and what to write.
    #[error("{message}")]
    Invalid { key: String, message: String },
    #[error("unknown key \"{key}\" (keys for {system}: {known})")]
    UnknownKey {
        key: String,
        system: DeliverySystem,
        known: String,
    },
    #[error("{key} does not apply to {system}")]
    NotApplicable { key: String, system: DeliverySystem },
    #[error("{key} is given twice")]
    Duplicate { key: String },
    #[error("{key} is required for {system} (e.g. {example})")]
    Missing {
        key: String,
        system: DeliverySystem,
        example: &'static str,
    },
}

impl ParseErrorKind {
    /// The query key (or `frequency`) the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ParseErrorKind::Value { key, .. }
            | ParseErrorKind::Invalid { key, .. }
            | ParseErrorKind::UnknownKey { key, .. }
            | ParseErrorKind::NotApplicable { key, .. }
            | ParseErrorKind::Duplicate { key }
            | ParseErrorKind::Missing { key, .. } => Some(key),
            _ => None,
        }
    }
}

fn bad_value(key: &str, value: &str, expected: impl Into<String>) -> ParseErrorKind {
    ParseErrorKind::Value {
        key: key.to_string(),
        value: shorten(value, 40),
        expected: expected.into(),
    }
}

fn invalid(key: &str, message: String) -> ParseErrorKind {
    ParseErrorKind::Invalid {
        key: key.to_string(),
        message,
    }
}

/// At most `max` characters, on a character boundary, marked when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Validation: what every tuning must satisfy, however it was made (URL, file, scan).

impl Tuning {
    /// Checks that the parameters belong to the delivery system and are physically
    /// plausible. The URL parser and the file parser both apply it; a tuning built by
    /// hand should be checked with it too.
    pub fn validate(&self) -> Result<(), ParseErrorKind> {
        let system = self.system;
        let family_matches = match self.params {
            Params::Terrestrial { .. } => system.is_terrestrial(),
            Params::Cable { .. } => system.is_cable(),
            Params::Satellite { .. } => system.is_satellite(),
            Params::Atsc { .. } => system == DeliverySystem::Atsc,
        };
        if !family_matches {
            return Err(invalid(
                "system",
                format!("{system} tuning with the parameters of another kind of delivery"),
            ));
        }
        check_frequency(system, self.frequency_hz, false)?;
        match self.params {
            Params::Terrestrial {
                bandwidth_hz,
                modulation,
                plp_id,
                ..
            } => {
                check_bandwidth(system, bandwidth_hz)?;
                check_modulation(system, modulation)?;
                if plp_id.is_some() && system != DeliverySystem::DvbT2 {
                    return Err(not_applicable("plp", system));
                }
            }
            Params::Cable {
                symbol_rate,
                modulation,
                ..
            } => {
                check_symbol_rate(system, symbol_rate, false)?;
                check_modulation(system, modulation)?;
            }
            Params::Satellite {
                symbol_rate,
                modulation,
                stream_id,
                lnb,
                switch,
                ..
            } => {
                check_symbol_rate(system, symbol_rate, false)?;
                check_modulation(system, modulation)?;
                if stream_id.is_some() && system != DeliverySystem::DvbS2 {
                    return Err(not_applicable("stream_id", system));
                }
                check_lnb(&lnb)?;
                if let Some(port) = switch.committed
                    && port > 63
                {
                    return Err(invalid(
                        "diseqc",
                        format!(
                            "diseqc {} is not a port or position (1–64)",
                            u16::from(port) + 1
                        ),
                    ));
                }
                if let Some(port) = switch.uncommitted
                    && port > 15
                {
                    return Err(invalid(
                        "uncommitted",
                        format!(
                            "uncommitted {} is not a DiSEqC 1.1 port (1–16)",
                            u16::from(port) + 1
                        ),
                    ));
                }
            }
            Params::Atsc { modulation } => check_modulation(system, modulation)?,
        }
        Ok(())
    }
}

fn not_applicable(key: &str, system: DeliverySystem) -> ParseErrorKind {
    ParseErrorKind::NotApplicable {
        key: key.to_string(),
        system,
    }
}

/// `unit_given`: the value was written with a unit. A plain number that is implausible
/// gets the unit it was probably meant in.
fn check_frequency(
    system: DeliverySystem,
    hz: u64,
    unit_given: bool,
) -> Result<(), ParseErrorKind> {
    let (range, what) = if system.is_satellite() {
        (
            SATELLITE_FREQUENCY_HZ,
            "a satellite downlink frequency (2–30 GHz)",
        )
    } else {
        (
            RF_FREQUENCY_HZ,
            "a terrestrial or cable channel frequency (40–1300 MHz)",
        )
    };
    if range.contains(&hz) {
        return Ok(());
    }
    let hint = if unit_given {
        String::new()
    } else {
        probable_unit(hz, &range, FREQUENCY_UNITS)
            .map(|u| format!("; write {u}"))
            .unwrap_or_default()
    };
    Err(invalid(
        "frequency",
        format!("frequency {hz} Hz is not {what}{hint}"),
    ))
}

fn check_bandwidth(system: DeliverySystem, hz: u32) -> Result<(), ParseErrorKind> {
    let allowed = system.bandwidths_hz();
    if allowed.contains(&hz) {
        return Ok(());
    }
    let list = allowed
        .iter()
        .map(|b| url_mhz(u64::from(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = probable_unit(
        u64::from(hz),
        &(1_700_000..=10_000_000),
        &FREQUENCY_UNITS[..3],
    )
    .map(|u| format!("; write {u}"))
    .unwrap_or_default();
    Err(invalid(
        "bandwidth",
        format!("bandwidth {hz} Hz is not a {system} channel bandwidth ({list}){hint}"),
    ))
}

fn check_modulation(
    system: DeliverySystem,
    modulation: Option<Modulation>,
) -> Result<(), ParseErrorKind> {
    match modulation {
        Some(m) if !system.modulations().contains(&m) => Err(invalid(
            "modulation",
            format!(
                "modulation {m} is not a {system} modulation ({system}: {})",
                names(system.modulations(), Modulation::name)
            ),
        )),
        _ => Ok(()),
    }
}

fn check_symbol_rate(
    system: DeliverySystem,
    rate: u32,
    unit_given: bool,
) -> Result<(), ParseErrorKind> {
    let range = if system.is_satellite() {
        SATELLITE_SYMBOL_RATE
    } else {
        CABLE_SYMBOL_RATE
    };
    if range.contains(&rate) {
        return Ok(());
    }
    let wide = u64::from(*range.start())..=u64::from(*range.end());
    let hint = if unit_given {
        String::new()
    } else {
        probable_unit(u64::from(rate), &wide, BAUD_UNITS)
            .map(|u| format!("; write {u}"))
            .unwrap_or_default()
    };
    Err(invalid(
        "symbol_rate",
        format!(
            "symbol rate {rate} Bd is not a {system} symbol rate ({}–{} kBd){hint}",
            range.start() / 1000,
            range.end() / 1000
        ),
    ))
}

fn check_lnb(lnb: &Lnb) -> Result<(), ParseErrorKind> {
    let bad = |message: String| Err(invalid("lnb", message));
    match *lnb {
        Lnb::Universal => Ok(()),
        Lnb::Single { lo_hz } => {
            if LOCAL_OSCILLATOR_HZ.contains(&lo_hz) {
                Ok(())
            } else {
                bad(format!(
                    "lnb local oscillator {lo_hz} Hz is not plausible (1–30 GHz){}",
                    probable_unit(lo_hz, &LOCAL_OSCILLATOR_HZ, FREQUENCY_UNITS)
                        .map(|u| format!("; write {u}"))
                        .unwrap_or_default()
                ))
            }
        }
        Lnb::Dual {
            low_lo_hz,
            high_lo_hz,
            switch_hz,
        } => {
            for hz in [low_lo_hz, high_lo_hz] {
                if !LOCAL_OSCILLATOR_HZ.contains(&hz) {
                    return bad(format!(
                        "lnb local oscillator {hz} Hz is not plausible (1–30 GHz)"
                    ));
                }
            }
            if low_lo_hz >= high_lo_hz {
                return bad(format!(
                    "lnb: the low-band oscillator ({}) must be below the high-band one ({})",
                    format_mhz(low_lo_hz),
                    format_mhz(high_lo_hz)
                ));
            }
            if !SATELLITE_FREQUENCY_HZ.contains(&switch_hz) {
                return bad(format!(
                    "lnb switch frequency {switch_hz} Hz is not a satellite frequency (2–30 GHz)"
                ));
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// URL parsing.

/// Canonical query keys, in the order `Display` writes them.
const TERRESTRIAL_KEYS: &[&str] = &[
    "bandwidth",
    "modulation",
    "code_rate_hp",
    "code_rate_lp",
    "transmission_mode",
    "guard_interval",
    "hierarchy",
    "plp",
];
const CABLE_KEYS: &[&str] = &["symbol_rate", "modulation", "fec"];
const SATELLITE_KEYS: &[&str] = &[
    "polarisation",
    "symbol_rate",
    "fec",
    "modulation",
    "rolloff",
    "stream_id",
    "lnb",
    "diseqc",
    "uncommitted",
    "burst",
];
const ATSC_KEYS: &[&str] = &["modulation"];

fn keys_for(system: DeliverySystem) -> Vec<&'static str> {
    let keys = if system.is_terrestrial() {
        TERRESTRIAL_KEYS
    } else if system.is_cable() {
        CABLE_KEYS
    } else if system.is_satellite() {
        SATELLITE_KEYS
    } else {
        ATSC_KEYS
    };
    keys.iter()
        .copied()
        .filter(|k| match *k {
            "plp" => system == DeliverySystem::DvbT2,
            "stream_id" => system == DeliverySystem::DvbS2,
            _ => true,
        })
        .collect()
}

fn canonical_key(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    match key.as_str() {
        "pol" | "polarization" => Some("polarisation"),
        _ => [TERRESTRIAL_KEYS, CABLE_KEYS, SATELLITE_KEYS]
            .into_iter()
            .flatten()
            .copied()
            .find(|k| *k == key),
    }
}

/// Decodes `%XX` escapes (a browser may send `fec=2%2F3`).
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The query of one URL, keys made canonical, each taken once.
struct Query {
    pairs: Vec<(&'static str, String)>,
}

impl Query {
    fn parse(text: &str, system: DeliverySystem) -> Result<Query, ParseErrorKind> {
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        let allowed = keys_for(system);
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(ParseErrorKind::Pair {
                    text: shorten(pair, 40),
                });
            };
            let key = percent_decode(key).ok_or_else(|| ParseErrorKind::Pair {
                text: shorten(pair, 40),
            })?;
            let value = percent_decode(value).ok_or_else(|| ParseErrorKind::Pair {
                text: shorten(pair, 40),
            })?;
            let Some(canonical) = canonical_key(&key) else {
                return Err(ParseErrorKind::UnknownKey {
                    key: shorten(&key, 40),
                    system,
                    known: allowed.join(", "),
                });
            };
            if !allowed.contains(&canonical) {
                return Err(not_applicable(canonical, system));
            }
            if pairs.iter().any(|(k, _)| *k == canonical) {
                return Err(ParseErrorKind::Duplicate {
                    key: canonical.to_string(),
                });
            }
            pairs.push((canonical, value.trim().to_string()));
        }
        Ok(Query { pairs })
    }

    /// The value of `key`; `auto` counts as absent.
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.eq_ignore_ascii_case("auto"))
    }

    fn named<T: Copy>(
        &self,
        key: &str,
        from_name: impl Fn(&str) -> Option<T>,
        all: &[T],
        name: impl Fn(T) -> &'static str,
        what: &str,
    ) -> Result<Option<T>, ParseErrorKind> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => from_name(text).map(Some).ok_or_else(|| {
                bad_value(key, text, format!("{what} ({}, auto)", names(all, name)))
            }),
        }
    }

    fn modulation(&self, system: DeliverySystem) -> Result<Option<Modulation>, ParseErrorKind> {
        let allowed = system.modulations();
        match self.get("modulation") {
            None => Ok(None),
            Some(text) => match Modulation::from_name(text) {
                Some(m) if allowed.contains(&m) => Ok(Some(m)),
                _ => Err(bad_value(
                    "modulation",
                    text,
                    format!(
                        "a {system} modulation ({}, auto)",
                        names(allowed, Modulation::name)
                    ),
                )),
            },
        }
    }

    fn code_rate(&self, key: &str) -> Result<Option<CodeRate>, ParseErrorKind> {
        self.named(
            key,
            CodeRate::from_name,
            CodeRate::ALL,
            CodeRate::name,
            "a code rate",
        )
    }

    fn small_number(&self, key: &str, max: u8, what: &str) -> Result<Option<u8>, ParseErrorKind> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .map(Some)
                .ok_or_else(|| bad_value(key, text, format!("{what} (0–{max})"))),
        }
    }

    /// A port counted from 1 as switches print it, stored from 0.
    fn port(&self, key: &str, max: u8, what: &str) -> Result<Option<u8>, ParseErrorKind> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .map(|n| Some(n - 1))
                .ok_or_else(|| bad_value(key, text, what.to_string())),
        }
    }

    fn symbol_rate(&self, system: DeliverySystem) -> Result<Option<u32>, ParseErrorKind> {
        let example = if system.is_satellite() {
            "27500000 or 27.5MBd"
        } else {
            "6900000 or 6.9MBd"
        };
        let Some(text) = self.get("symbol_rate") else {
            return Ok(None);
        };
        let expected = || format!("a number of bauds (e.g. {example})");
        let (rate, had_unit) = parse_quantity(text, BAUD_UNITS).map_err(|e| match e {
            QuantityError::NotWhole => bad_value("symbol_rate", text, "a whole number of bauds"),
            _ => bad_value("symbol_rate", text, expected()),
        })?;
        let rate = u32::try_from(rate).map_err(|_| bad_value("symbol_rate", text, expected()))?;
        check_symbol_rate(system, rate, had_unit)?;
        Ok(Some(rate))
    }

    fn bandwidth(&self, system: DeliverySystem) -> Result<Option<u32>, ParseErrorKind> {
        let Some(text) = self.get("bandwidth") else {
            return Ok(None);
        };
        let expected = || {
            format!(
                "a channel bandwidth ({})",
                system
                    .bandwidths_hz()
                    .iter()
                    .map(|b| url_mhz(u64::from(*b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let (hz, _) = parse_quantity(text, &FREQUENCY_UNITS[..3])
            .map_err(|_| bad_value("bandwidth", text, expected()))?;
        // People write 1.7 MHz for DVB-T2's 1.712 MHz channel.
        let hz = if hz == 1_700_000 { 1_712_000 } else { hz };
        let hz = u32::try_from(hz).map_err(|_| bad_value("bandwidth", text, expected()))?;
        check_bandwidth(system, hz)?;
        Ok(Some(hz))
    }

    fn lnb(&self) -> Result<Lnb, ParseErrorKind> {
        let Some(text) = self.get("lnb") else {
            return Ok(Lnb::Universal);
        };
        if text.eq_ignore_ascii_case("universal") {
            return Ok(Lnb::Universal);
        }
        if text.eq_ignore_ascii_case("c-band") {
            return Ok(Lnb::Single {
                lo_hz: crate::lnb::C_BAND_LO_HZ,
            });
        }
        let expected = "an LNB (universal, c-band, one local oscillator such as 10750MHz, or low,high,switch such as 9750MHz,10600MHz,11700MHz)";
        let values = text
            .split(',')
            .map(|v| parse_quantity(v, FREQUENCY_UNITS).map(|(hz, _)| hz))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad_value("lnb", text, expected))?;
        let lnb = match values[..] {
            [lo_hz] => Lnb::Single { lo_hz },
            [low_lo_hz, high_lo_hz, switch_hz] => Lnb::Dual {
                low_lo_hz,
                high_lo_hz,
                switch_hz,
            },
            _ => return Err(bad_value("lnb", text, expected)),
        };
        check_lnb(&lnb)?;
        Ok(lnb)
    }
}

fn parse_frequency(system: DeliverySystem, text: &str) -> Result<u64, ParseErrorKind> {
    let (hz, had_unit) = parse_quantity(text, FREQUENCY_UNITS).map_err(|e| match e {
        QuantityError::NotWhole => bad_value("frequency", text, "a whole number of hertz"),
        _ => bad_value(
            "frequency",
            text,
            "a frequency (hertz, or with a unit: 474MHz, 11362MHz, 11.362GHz)",
        ),
    })?;
    check_frequency(system, hz, had_unit)?;
    Ok(hz)
}

fn missing(key: &str, system: DeliverySystem, example: &'static str) -> ParseErrorKind {
    ParseErrorKind::Missing {
        key: key.to_string(),
        system,
        example,
    }
}

fn parse_params(system: DeliverySystem, q: &Query) -> Result<Params, ParseErrorKind> {
    Ok(match system {
        DeliverySystem::DvbT | DeliverySystem::DvbT2 => Params::Terrestrial {
            bandwidth_hz: q
                .bandwidth(system)?
                .ok_or_else(|| missing("bandwidth", system, "bandwidth=8MHz"))?,
            modulation: q.modulation(system)?,
            code_rate_hp: q.code_rate("code_rate_hp")?,
            code_rate_lp: q.code_rate("code_rate_lp")?,
            transmission_mode: q.named(
                "transmission_mode",
                TransmissionMode::from_name,
                TransmissionMode::ALL,
                TransmissionMode::name,
                "a transmission mode",
            )?,
            guard_interval: q.named(
                "guard_interval",
                GuardInterval::from_name,
                GuardInterval::ALL,
                GuardInterval::name,
                "a guard interval",
            )?,
            hierarchy: q.named(
                "hierarchy",
                Hierarchy::from_name,
                Hierarchy::ALL,
                Hierarchy::name,
                "a hierarchy",
            )?,
            plp_id: q.small_number("plp", 255, "a physical layer pipe")?,
        },
        DeliverySystem::DvbC | DeliverySystem::DvbCAnnexB => {
            let modulation = q.modulation(system)?;
            let symbol_rate = match q.symbol_rate(system)? {
                Some(rate) => rate,
                None if system == DeliverySystem::DvbCAnnexB => modulation
                    .and_then(annex_b_symbol_rate)
                    .ok_or_else(|| missing("modulation", system, "modulation=qam256"))?,
                None => return Err(missing("symbol_rate", system, "symbol_rate=6900000")),
            };
            Params::Cable {
                symbol_rate,
                modulation,
                fec: q.code_rate("fec")?,
            }
        }
        DeliverySystem::DvbS | DeliverySystem::DvbS2 => {
            let polarisation = match q.get("polarisation") {
                None => return Err(missing("polarisation", system, "polarisation=h")),
                Some(text) => Polarisation::parse_any(text).ok_or_else(|| {
                    bad_value("polarisation", text, "a polarisation (h, v, l, r)")
                })?,
            };
            Params::Satellite {
                polarisation,
                symbol_rate: q
                    .symbol_rate(system)?
                    .ok_or_else(|| missing("symbol_rate", system, "symbol_rate=27500000"))?,
                fec: q.code_rate("fec")?,
                modulation: q.modulation(system)?,
                rolloff: match q.get("rolloff") {
                    None => None,
                    Some(text) => Some(Rolloff::parse_any(text).ok_or_else(|| {
                        bad_value("rolloff", text, "a roll-off (0.35, 0.25, 0.20, auto)")
                    })?),
                },
                stream_id: q.small_number("stream_id", 255, "an input stream identifier")?,
                lnb: q.lnb()?,
                switch: Switch {
                    committed: q.port(
                        "diseqc",
                        64,
                        "a DiSEqC port (1–4; up to 64 as a Unicable II position)",
                    )?,
                    uncommitted: q.port("uncommitted", 16, "a DiSEqC 1.1 port (1–16)")?,
                    tone_burst: match q.get("burst") {
                        None => None,
                        Some(t) if t.eq_ignore_ascii_case("a") => Some(false),
                        Some(t) if t.eq_ignore_ascii_case("b") => Some(true),
                        Some(t) => return Err(bad_value("burst", t, "a tone burst (a, b)")),
                    },
                },
            }
        }
        DeliverySystem::Atsc => Params::Atsc {
            modulation: q.modulation(system)?,
        },
    })
}

impl std::str::FromStr for Tuning {
    type Err = ParseError;

    fn from_str(url: &str) -> Result<Tuning, ParseError> {
        let url = url.trim();
        let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
        let error = |kind| ParseError {
            context: shorten(before_query, 60),
            kind,
        };
        let Some((scheme, host)) = before_query.split_once("://") else {
            return Err(error(ParseErrorKind::Syntax));
        };
        let host = host.strip_suffix('/').unwrap_or(host);
        let system = DeliverySystem::from_scheme(scheme).ok_or_else(|| {
            error(ParseErrorKind::Scheme {
                scheme: shorten(scheme, 20),
                known: names(&DeliverySystem::ALL, DeliverySystem::scheme),
            })
        })?;
        if host.is_empty() {
            return Err(error(ParseErrorKind::Syntax));
        }
        let frequency_hz = parse_frequency(system, host).map_err(error)?;
        let query = Query::parse(query, system).map_err(error)?;
        let params = parse_params(system, &query).map_err(error)?;
        let tuning = Tuning {
            system,
            frequency_hz,
            params,
        };
        tuning.validate().map_err(error)?;
        Ok(tuning)
    }
}

// ---------------------------------------------------------------------------------------
// Canonical URL and summary.

/// Writes `?key=value&key=value…`.
struct QueryWriter<'a, 'b> {
    f: &'a mut std::fmt::Formatter<'b>,
    first: bool,
}

impl QueryWriter<'_, '_> {
    fn pair(&mut self, key: &str, value: impl std::fmt::Display) -> std::fmt::Result {
        let separator = if self.first { '?' } else { '&' };
        self.first = false;
        write!(self.f, "{separator}{key}={value}")
    }

    fn option(&mut self, key: &str, value: Option<impl std::fmt::Display>) -> std::fmt::Result {
        match value {
            Some(v) => self.pair(key, v),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for Tuning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}",
            self.system.scheme(),
            url_mhz(self.frequency_hz)
        )?;
        let mut q = QueryWriter { f, first: true };
        match self.params {
            Params::Terrestrial {
                bandwidth_hz,
                modulation,
                code_rate_hp,
                code_rate_lp,
                transmission_mode,
                guard_interval,
                hierarchy,
                plp_id,
            } => {
                q.pair("bandwidth", url_mhz(u64::from(bandwidth_hz)))?;
                q.option("modulation", modulation)?;
                q.option("code_rate_hp", code_rate_hp)?;
                q.option("code_rate_lp", code_rate_lp)?;
                q.option("transmission_mode", transmission_mode)?;
                q.option("guard_interval", guard_interval)?;
                q.option("hierarchy", hierarchy)?;
                q.option("plp", plp_id)?;
            }
            Params::Cable {
                symbol_rate,
                modulation,
                fec,
            } => {
                let implied = self.system == DeliverySystem::DvbCAnnexB
                    && modulation.and_then(annex_b_symbol_rate) == Some(symbol_rate);
                if !implied {
                    q.pair("symbol_rate", symbol_rate)?;
                }
                q.option("modulation", modulation)?;
                q.option("fec", fec)?;
            }
            Params::Satellite {
                polarisation,
                symbol_rate,
                fec,
                modulation,
                rolloff,
                stream_id,
                lnb,
                switch,
            } => {
                q.pair("polarisation", polarisation)?;
                q.pair("symbol_rate", symbol_rate)?;
                q.option("fec", fec)?;
                q.option("modulation", modulation)?;
                q.option("rolloff", rolloff)?;
                q.option("stream_id", stream_id)?;
                match lnb {
                    Lnb::Universal => {}
                    Lnb::Single { lo_hz } => q.pair("lnb", url_mhz(lo_hz))?,
                    Lnb::Dual {
                        low_lo_hz,
                        high_lo_hz,
                        switch_hz,
                    } => q.pair(
                        "lnb",
                        format!(
                            "{},{},{}",
                            url_mhz(low_lo_hz),
                            url_mhz(high_lo_hz),
                            url_mhz(switch_hz)
                        ),
                    )?,
                }
                q.option("diseqc", switch.committed.map(|p| u16::from(p) + 1))?;
                q.option("uncommitted", switch.uncommitted.map(|p| u16::from(p) + 1))?;
                q.option(
                    "burst",
                    switch.tone_burst.map(|b| if b { "b" } else { "a" }),
                )?;
            }
            Params::Atsc { modulation } => q.option("modulation", modulation)?,
        }
        Ok(())
    }
}

impl Tuning {
    /// A short description for logs and pages: `DVB-T 474 MHz, 8 MHz`,
    /// `DVB-S2 11362 MHz H, 22000 kBd, 8PSK 2/3, DiSEqC 2`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} {}", self.system, format_mhz(self.frequency_hz))];
        let upper = |m: Modulation| m.name().to_ascii_uppercase();
        let kbd = |rate: u32| format!("{} kBd", decimal(u64::from(rate), 1000));
        match self.params {
            Params::Terrestrial {
                bandwidth_hz,
                modulation,
                plp_id,
                ..
            } => {
                parts.push(format_mhz(u64::from(bandwidth_hz)));
                parts.extend(modulation.map(upper));
                parts.extend(plp_id.map(|p| format!("PLP {p}")));
            }
            Params::Cable {
                symbol_rate,
                modulation,
                ..
            } => {
                parts.push(kbd(symbol_rate));
                parts.extend(modulation.map(upper));
            }
            Params::Satellite {
                polarisation,
                symbol_rate,
                fec,
                modulation,
                stream_id,
                lnb,
                switch,
                ..
            } => {
                parts[0] = format!("{} {}", parts[0], polarisation.name().to_ascii_uppercase());
                parts.push(kbd(symbol_rate));
                let coding = [modulation.map(upper), fec.map(|f| f.name().to_string())]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                if !coding.is_empty() {
                    parts.push(coding);
                }
                parts.extend(stream_id.map(|s| format!("stream {s}")));
                if lnb != Lnb::Universal {
                    parts.push(format!("LNB {lnb}"));
                }
                parts.extend(
                    switch
                        .committed
                        .map(|p| format!("DiSEqC {}", u16::from(p) + 1)),
                );
                parts.extend(
                    switch
                        .uncommitted
                        .map(|p| format!("uncommitted {}", u16::from(p) + 1)),
                );
                parts.extend(
                    switch
                        .tone_burst
                        .map(|b| format!("burst {}", if b { 'B' } else { 'A' })),
                );
            }
            Params::Atsc { modulation } => parts.extend(modulation.map(upper)),
        }
        parts.join(", ")
    }
}

impl std::fmt::Display for Lnb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Lnb::Universal => f.write_str("universal (9750/10600 MHz, switch at 11700 MHz)"),
            Lnb::Single { lo_hz } => write!(f, "{}", format_mhz(lo_hz)),
            Lnb::Dual {
                low_lo_hz,
                high_lo_hz,
                switch_hz,
            } => write!(
                f,
                "{}/{} MHz, switch at {}",
                decimal(low_lo_hz, 1_000_000),
                decimal(high_lo_hz, 1_000_000),
                format_mhz(switch_hz)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Tuning {
        url.parse()
            .unwrap_or_else(|e| panic!("{url} should parse: {e}"))
    }

    fn error(url: &str) -> ParseError {
        match url.parse::<Tuning>() {
            Ok(t) => panic!("{url} should not parse, got {t:?}"),
            Err(e) => e,
        }
    }

    fn satellite(t: &Tuning) -> (Polarisation, u32, Lnb, Switch) {
        match t.params {
            Params::Satellite {
                polarisation,
                symbol_rate,
                lnb,
                switch,
                ..
            } => (polarisation, symbol_rate, lnb, switch),
            ref p => panic!("not satellite: {p:?}"),
        }
    }

    #[test]
    fn quantities_are_exact_decimals_with_units() {
        assert_eq!(
            parse_quantity("474MHz", FREQUENCY_UNITS),
            Ok((474_000_000, true))
        );
        assert_eq!(
            parse_quantity("11.362GHz", FREQUENCY_UNITS),
            Ok((11_362_000_000, true))
        );
        assert_eq!(
            parse_quantity("474.166mhz", FREQUENCY_UNITS),
            Ok((474_166_000, true))
        );
        assert_eq!(
            parse_quantity("57028615", FREQUENCY_UNITS),
            Ok((57_028_615, false))
        );
        assert_eq!(
            parse_quantity("474 MHz", FREQUENCY_UNITS),
            Ok((474_000_000, true))
        );
        assert_eq!(parse_quantity("6.9MBd", BAUD_UNITS), Ok((6_900_000, true)));
        assert_eq!(
            parse_quantity("27500kbd", BAUD_UNITS),
            Ok((27_500_000, true))
        );
        assert_eq!(
            parse_quantity("1.5Hz", FREQUENCY_UNITS),
            Err(QuantityError::NotWhole)
        );
        assert_eq!(
            parse_quantity("1.2.3MHz", FREQUENCY_UNITS),
            Err(QuantityError::NotANumber)
        );
        assert_eq!(
            parse_quantity("fast", BAUD_UNITS),
            Err(QuantityError::NotANumber)
        );
        assert_eq!(
            parse_quantity("", BAUD_UNITS),
            Err(QuantityError::NotANumber)
        );
        assert_eq!(
            parse_quantity(".", BAUD_UNITS),
            Err(QuantityError::NotANumber)
        );
        assert_eq!(
            parse_quantity("-5", BAUD_UNITS),
            Err(QuantityError::NotANumber)
        );
        assert_eq!(
            parse_quantity("5THz", FREQUENCY_UNITS),
            Err(QuantityError::UnknownUnit)
        );
        assert_eq!(
            parse_quantity("99999999999999999999GHz", FREQUENCY_UNITS),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(
            parse_quantity("123456789012345678901", FREQUENCY_UNITS),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(decimal(474_000_000, 1_000_000), "474");
        assert_eq!(decimal(57_028_615, 1_000_000), "57.028615");
        assert_eq!(decimal(1_712_000, 1_000_000), "1.712");
        assert_eq!(decimal(22_000_000, 1_000), "22000");
    }

    #[test]
    fn terrestrial_urls() {
        let t = parse("dvb-t://474MHz?bandwidth=8MHz");
        assert_eq!(t.system, DeliverySystem::DvbT);
        assert_eq!(t.frequency_hz, 474_000_000);
        assert_eq!(
            t.params,
            Params::Terrestrial {
                bandwidth_hz: 8_000_000,
                modulation: None,
                code_rate_hp: None,
                code_rate_lp: None,
                transmission_mode: None,
                guard_interval: None,
                hierarchy: None,
                plp_id: None,
            }
        );
        let t = parse(
            "DVB-T2://474000000?bandwidth=8000000&plp=1&modulation=QAM256&code_rate_hp=2/3\
             &code_rate_lp=none&transmission_mode=32k&guard_interval=19/256&hierarchy=none",
        );
        assert_eq!(t.system, DeliverySystem::DvbT2);
        assert_eq!(
            t.params,
            Params::Terrestrial {
                bandwidth_hz: 8_000_000,
                modulation: Some(Modulation::Qam256),
                code_rate_hp: Some(CodeRate::R2_3),
                code_rate_lp: Some(CodeRate::None),
                transmission_mode: Some(TransmissionMode::K32),
                guard_interval: Some(GuardInterval::G19_256),
                hierarchy: Some(Hierarchy::None),
                plp_id: Some(1),
            }
        );
        // 1.7 MHz is how people write DVB-T2's 1.712 MHz channel; auto means "left out".
        let t = parse("dvb-t2://226.5MHz?bandwidth=1.7MHz&modulation=auto");
        match t.params {
            Params::Terrestrial {
                bandwidth_hz,
                modulation,
                ..
            } => {
                assert_eq!(bandwidth_hz, 1_712_000);
                assert_eq!(modulation, None);
            }
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn cable_and_atsc_urls() {
        let t = parse("dvb-c://474MHz?symbol_rate=6.9MBd&modulation=qam256&fec=none");
        assert_eq!(
            t.params,
            Params::Cable {
                symbol_rate: 6_900_000,
                modulation: Some(Modulation::Qam256),
                fec: Some(CodeRate::None),
            }
        );
        // Annex B's symbol rate follows from its modulation (ITU-T J.83 B: 5.360537 MBd
        // for 256-QAM, 5.056941 MBd for 64-QAM).
        let t = parse("dvb-c-b://57MHz?modulation=qam256");
        assert_eq!(
            t.params,
            Params::Cable {
                symbol_rate: 5_360_537,
                modulation: Some(Modulation::Qam256),
                fec: None,
            }
        );
        let t = parse("dvb-c-b://57MHz?modulation=qam64");
        assert!(matches!(
            t.params,
            Params::Cable {
                symbol_rate: 5_056_941,
                ..
            }
        ));
        let t = parse("atsc://57028615?modulation=8vsb");
        assert_eq!(t.frequency_hz, 57_028_615);
        assert_eq!(
            t.params,
            Params::Atsc {
                modulation: Some(Modulation::Vsb8)
            }
        );
    }

    #[test]
    fn satellite_urls() {
        let t = parse(
            "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3&modulation=8psk&diseqc=2",
        );
        assert_eq!(t.frequency_hz, 11_362_000_000);
        let (pol, sr, lnb, switch) = satellite(&t);
        assert_eq!(
            (pol, sr, lnb),
            (Polarisation::H, 22_000_000, Lnb::Universal)
        );
        // Switches print their ports from 1; DiSEqC counts them from 0.
        assert_eq!(
            switch,
            Switch {
                committed: Some(1),
                uncommitted: None,
                tone_burst: None
            }
        );
        let t =
            parse("dvb-s://3.84GHz?pol=R&symbol_rate=27500kBd&lnb=c-band&uncommitted=16&burst=B");
        let (pol, sr, lnb, switch) = satellite(&t);
        assert_eq!(pol, Polarisation::R);
        assert_eq!(sr, 27_500_000);
        assert_eq!(
            lnb,
            Lnb::Single {
                lo_hz: 5_150_000_000
            }
        );
        assert_eq!(switch.uncommitted, Some(15));
        assert_eq!(switch.tone_burst, Some(true));
        let t = parse(
            "dvb-s2://12.5GHz?polarization=vertical&symbol_rate=30000000&lnb=9750MHz,10600MHz,11700MHz&stream_id=3&rolloff=0.2",
        );
        let (_, _, lnb, _) = satellite(&t);
        assert_eq!(
            lnb,
            Lnb::Dual {
                low_lo_hz: 9_750_000_000,
                high_lo_hz: 10_600_000_000,
                switch_hz: 11_700_000_000
            }
        );
        assert!(matches!(
            t.params,
            Params::Satellite {
                stream_id: Some(3),
                rolloff: Some(Rolloff::R20),
                ..
            }
        ));
        // Percent-encoded values, as a browser sends them.
        let t = parse("dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&fec=2%2F3");
        assert!(matches!(
            t.params,
            Params::Satellite {
                fec: Some(CodeRate::R2_3),
                ..
            }
        ));
    }

    #[test]
    fn canonical_form_round_trips() {
        for url in [
            "dvb-t://474MHz?bandwidth=8MHz",
            "dvb-t2://474.166MHz?bandwidth=1.712MHz&modulation=qam256&code_rate_hp=3/5&code_rate_lp=none&transmission_mode=32k&guard_interval=19/128&hierarchy=4&plp=255",
            "dvb-c://474MHz?symbol_rate=6900000&modulation=qam256&fec=none",
            "dvb-c-b://57MHz?modulation=qam256",
            "dvb-c-b://57MHz?symbol_rate=5000000",
            "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&fec=5/6",
            "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3&modulation=8psk&diseqc=2",
            "dvb-s2://3840MHz?polarisation=l&symbol_rate=128000&fec=9/10&modulation=32apsk&rolloff=0.20&stream_id=0&lnb=5150MHz&diseqc=64&uncommitted=16&burst=a",
            "dvb-s2://12515MHz?polarisation=r&symbol_rate=30000000&lnb=9750MHz,10600MHz,11700MHz",
            "atsc://57.028615MHz?modulation=8vsb",
            "atsc://57.028615MHz",
        ] {
            let t = parse(url);
            assert_eq!(t.to_string(), url, "canonical form of {url}");
            assert_eq!(parse(&t.to_string()), t);
        }
        // Non-canonical spellings come out canonical.
        assert_eq!(
            parse("DVB-S2://11.362GHz/?POL=H&symbol_rate=22MBd&lnb=universal").to_string(),
            "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000"
        );
        assert_eq!(
            parse("dvb-c-b://57000000?symbol_rate=5360537&modulation=qam256").to_string(),
            "dvb-c-b://57MHz?modulation=qam256"
        );
    }

    #[test]
    fn errors_name_the_key_the_value_and_what_is_allowed() {
        let e = error("dvb-c://474MHz?symbol_rate=fast");
        assert_eq!(
            e.to_string(),
            "dvb-c://474MHz: symbol_rate \"fast\" is not a number of bauds (e.g. 6900000 or 6.9MBd)"
        );
        assert_eq!(e.kind.key(), Some("symbol_rate"));
        let e = error("dvb-s2://11362?polarisation=h&symbol_rate=22000000");
        assert_eq!(e.kind.key(), Some("frequency"));
        let text = e.to_string();
        assert!(text.contains("11362 Hz is not a satellite"), "{text}");
        assert!(text.ends_with("write 11362MHz"), "{text}");
        let text = error("dvb-s2://11362000?polarisation=h&symbol_rate=22000000").to_string();
        assert!(text.ends_with("write 11362000kHz"), "{text}");
        let text = error("dvb-t://474?bandwidth=8MHz").to_string();
        assert!(text.ends_with("write 474MHz"), "{text}");
        let text = error("dvb-t://474MHz?bandwidth=8").to_string();
        assert!(
            text.contains("bandwidth 8 Hz") && text.ends_with("write 8MHz"),
            "{text}"
        );
        let text = error("dvb-s://11362MHz?polarisation=h&symbol_rate=22000").to_string();
        assert!(text.ends_with("write 22000kBd"), "{text}");
        let text = error("dvb-c://474MHz?symbol_rate=6900").to_string();
        assert!(text.ends_with("write 6900kBd"), "{text}");
        let text = error("dvb-t://474MHz?bandwidth=9MHz").to_string();
        assert!(text.contains("5MHz, 6MHz, 7MHz, 8MHz"), "{text}");
        // 10 MHz and 1.7 MHz channels are DVB-T2 only.
        assert_eq!(
            error("dvb-t://474MHz?bandwidth=10MHz").kind.key(),
            Some("bandwidth")
        );
        assert_eq!(
            error("dvb-t://474MHz?bandwidth=1.5Hz").kind.key(),
            Some("bandwidth")
        );
    }

    #[test]
    fn every_error_path() {
        let cases: &[(&str, &str)] = &[
            ("474MHz", "not a tuning URL"),
            ("dvb-t://", "not a tuning URL"),
            (
                "dvb-x://474MHz",
                "unknown scheme \"dvb-x\" (known: dvb-t, dvb-t2, dvb-c, dvb-c-b, dvb-s, dvb-s2, atsc)",
            ),
            (
                "dvb-t://474MHz?bandwidth",
                "\"bandwidth\" is not a KEY=VALUE pair",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&bandwith=8MHz",
                "unknown key \"bandwith\" (keys for DVB-T: bandwidth, modulation, code_rate_hp",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&plp=1",
                "plp does not apply to DVB-T",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&symbol_rate=1",
                "symbol_rate does not apply to DVB-T",
            ),
            (
                "dvb-s://11362MHz?pol=h&polarisation=v&symbol_rate=22000000",
                "polarisation is given twice",
            ),
            (
                "dvb-t://474MHz",
                "bandwidth is required for DVB-T (e.g. bandwidth=8MHz)",
            ),
            (
                "dvb-c://474MHz",
                "symbol_rate is required for DVB-C (e.g. symbol_rate=6900000)",
            ),
            (
                "dvb-c-b://57MHz",
                "modulation is required for DVB-C Annex B (e.g. modulation=qam256)",
            ),
            (
                "dvb-s://11362MHz?symbol_rate=22000000",
                "polarisation is required for DVB-S",
            ),
            (
                "dvb-s://11362MHz?polarisation=h",
                "symbol_rate is required for DVB-S",
            ),
            (
                "dvb-s://11362MHz?polarisation=x&symbol_rate=22000000",
                "polarisation \"x\" is not a polarisation (h, v, l, r)",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&modulation=8psk",
                "modulation \"8psk\" is not a DVB-T modulation (qpsk, qam16, qam64, auto)",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&modulation=8psk",
                "not a DVB-S modulation (qpsk, auto)",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&code_rate_hp=2/7",
                "code_rate_hp \"2/7\" is not a code rate (1/2, 2/3",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&transmission_mode=3k",
                "transmission_mode \"3k\" is not a transmission mode",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&guard_interval=1/3",
                "guard_interval \"1/3\" is not a guard interval",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&hierarchy=3",
                "hierarchy \"3\" is not a hierarchy",
            ),
            (
                "dvb-t2://474MHz?bandwidth=8MHz&plp=256",
                "plp \"256\" is not a physical layer pipe (0–255)",
            ),
            (
                "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&stream_id=-1",
                "stream_id \"-1\" is not an input stream identifier",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&rolloff=0.3",
                "rolloff \"0.3\" is not a roll-off",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=0",
                "diseqc \"0\" is not a DiSEqC port",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=65",
                "diseqc \"65\" is not a DiSEqC port",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&uncommitted=17",
                "uncommitted \"17\" is not a DiSEqC 1.1 port (1–16)",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&burst=c",
                "burst \"c\" is not a tone burst (a, b)",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&lnb=9750MHz,10600MHz",
                "lnb \"9750MHz,10600MHz\" is not an LNB",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&lnb=quad",
                "lnb \"quad\" is not an LNB",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&lnb=5150",
                "lnb local oscillator 5150 Hz is not plausible (1–30 GHz); write 5150MHz",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&lnb=10600MHz,9750MHz,11700MHz",
                "the low-band oscillator (10600 MHz) must be below the high-band one (9750 MHz)",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&lnb=9750MHz,10600MHz,11700",
                "lnb switch frequency 11700 Hz",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=200MBd",
                "symbol rate 200000000 Bd is not a DVB-S symbol rate (100–100000 kBd)",
            ),
            (
                "dvb-s://11362.0000005MHz?polarisation=h&symbol_rate=22000000",
                "frequency \"11362.0000005MHz\" is not a whole number of hertz",
            ),
            (
                "dvb-s://eleven?polarisation=h&symbol_rate=22000000",
                "frequency \"eleven\" is not a frequency",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=1.5",
                "symbol_rate \"1.5\" is not a whole number of bauds",
            ),
            (
                "dvb-s://11362MHz?polarisation=h&symbol_rate=99999999999MBd",
                "symbol_rate \"99999999999MBd\" is not a number of bauds",
            ),
            (
                "dvb-t://474MHz?bandwidth=8MHz&modulation=%zz",
                "\"modulation=%zz\" is not a KEY=VALUE pair",
            ),
            (
                "dvb-t://2GHz?bandwidth=8MHz",
                "frequency 2000000000 Hz is not a terrestrial or cable channel frequency",
            ),
        ];
        for (url, expected) in cases {
            let text = error(url).to_string();
            assert!(
                text.contains(expected),
                "{url}: {text:?} should contain {expected:?}"
            );
        }
        // Long garbage is shortened in messages, never echoed whole.
        let long = format!("dvb-t://474MHz?bandwidth={}", "9".repeat(10_000));
        assert!(error(&long).to_string().len() < 400);
        let long = format!("{}://474MHz", "x".repeat(10_000));
        assert!(error(&long).to_string().len() < 400);
    }

    #[test]
    fn validate_refuses_what_a_url_could_not_say() {
        let mut t = parse("dvb-t://474MHz?bandwidth=8MHz");
        t.system = DeliverySystem::DvbS;
        assert_eq!(t.validate().unwrap_err().key(), Some("system"));
        let mut t = parse("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&stream_id=1");
        t.system = DeliverySystem::DvbS;
        assert_eq!(
            t.validate(),
            Err(ParseErrorKind::NotApplicable {
                key: "stream_id".into(),
                system: DeliverySystem::DvbS
            })
        );
        let mut t = parse("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000");
        if let Params::Satellite { switch, .. } = &mut t.params {
            switch.uncommitted = Some(16);
        }
        assert_eq!(t.validate().unwrap_err().key(), Some("uncommitted"));
        if let Params::Satellite { switch, .. } = &mut t.params {
            switch.uncommitted = None;
            switch.committed = Some(64);
        }
        assert_eq!(t.validate().unwrap_err().key(), Some("diseqc"));
        if let Params::Satellite { switch, lnb, .. } = &mut t.params {
            switch.committed = None;
            *lnb = Lnb::Dual {
                low_lo_hz: 9_750_000_000,
                high_lo_hz: 10_600_000,
                switch_hz: 11_700_000_000,
            };
        }
        assert_eq!(t.validate().unwrap_err().key(), Some("lnb"));
    }

    #[test]
    fn summaries() {
        assert_eq!(
            parse("dvb-t://474MHz?bandwidth=8MHz").summary(),
            "DVB-T 474 MHz, 8 MHz"
        );
        assert_eq!(
            parse("dvb-t2://474MHz?bandwidth=8MHz&modulation=qam256&plp=1").summary(),
            "DVB-T2 474 MHz, 8 MHz, QAM256, PLP 1"
        );
        assert_eq!(
            parse("dvb-c://474MHz?symbol_rate=6.875MBd&modulation=qam64").summary(),
            "DVB-C 474 MHz, 6875 kBd, QAM64"
        );
        assert_eq!(
            parse("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3&modulation=8psk&diseqc=2")
                .summary(),
            "DVB-S2 11362 MHz H, 22000 kBd, 8PSK 2/3, DiSEqC 2"
        );
        assert_eq!(
            parse("dvb-s://3840MHz?polarisation=r&symbol_rate=2.9715MBd&lnb=c-band&uncommitted=3&burst=b")
                .summary(),
            "DVB-S 3840 MHz R, 2971.5 kBd, LNB 5150 MHz, uncommitted 3, burst B"
        );
        assert_eq!(
            parse("atsc://57028615?modulation=8vsb").summary(),
            "ATSC 57.028615 MHz, 8VSB"
        );
    }
}
