//! Delivery system descriptors (ETSI EN 300 468 §6.2.13, §6.2.17, §6.4.6.3) and the
//! frequency list descriptor (§6.2.17): how a network says where its multiplexes are.
//!
//! A NIT lists every transport stream of its network, each with one delivery descriptor
//! that holds what a tuner needs to find it: the frequency, and for satellite the
//! polarisation and symbol rate, for cable the QAM order, for terrestrial the bandwidth and
//! OFDM parameters. A scan follows these to multiplexes it was not told about.
//!
//! Two oddities of the coding: satellite and cable frequencies and symbol rates are binary
//! coded decimal (8 or 7 digits, each nibble one digit: `0x01191900` is 011.91900 GHz), while
//! terrestrial frequencies are plain binary in units of 10 Hz. And values the standard
//! leaves "not defined" or "reserved" are decoded as `None`: a receiver then lets its
//! demodulator find them (AUTO).
//!
//! Malformed descriptors (too short, a nibble that is not a decimal digit, a loop that runs
//! past the end) give a [`DescriptorError`]; nothing here panics on broadcast data.

use crate::descriptor::{Descriptor, Descriptors, tag};
use serde::Serialize;

/// The descriptor_tag_extension of the T2 delivery system descriptor (EN 300 468 Table 109).
pub const T2_DELIVERY_EXTENSION: u8 = 0x04;

/// A delivery or frequency list descriptor did not decode. The message names the
/// descriptor and what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{descriptor} descriptor: {what}")]
pub struct DescriptorError {
    pub descriptor: &'static str,
    pub what: &'static str,
}

fn err(descriptor: &'static str, what: &'static str) -> DescriptorError {
    DescriptorError { descriptor, what }
}

/// One decoded delivery descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Delivery {
    Satellite(SatelliteDelivery),
    Cable(CableDelivery),
    Terrestrial(TerrestrialDelivery),
    T2(T2Delivery),
}

impl Delivery {
    /// Decodes `d` if it is a delivery descriptor we know: `None` for any other descriptor.
    pub fn from_descriptor(d: &Descriptor<'_>) -> Option<Result<Delivery, DescriptorError>> {
        Some(match d.tag {
            tag::SATELLITE_DELIVERY => satellite(d.payload).map(Delivery::Satellite),
            tag::CABLE_DELIVERY => cable(d.payload).map(Delivery::Cable),
            tag::TERRESTRIAL_DELIVERY => terrestrial(d.payload).map(Delivery::Terrestrial),
            tag::EXTENSION if d.payload.first() == Some(&T2_DELIVERY_EXTENSION) => {
                t2(d.payload).map(Delivery::T2)
            }
            _ => return None,
        })
    }

    /// The delivery system's usual name, for diagnostics.
    pub fn system_name(&self) -> &'static str {
        match self {
            Delivery::Satellite(s) if s.dvb_s2 => "DVB-S2",
            Delivery::Satellite(_) => "DVB-S",
            Delivery::Cable(_) => "DVB-C",
            Delivery::Terrestrial(_) => "DVB-T",
            Delivery::T2(_) => "DVB-T2",
        }
    }
}

/// The delivery descriptors of a descriptor loop, decoded, in order.
pub fn deliveries(
    loop_bytes: &[u8],
) -> impl Iterator<Item = Result<Delivery, DescriptorError>> + '_ {
    Descriptors::new(loop_bytes).filter_map(|d| Delivery::from_descriptor(&d))
}

/// Inner FEC (EN 300 468 Table 35) and DVB-T/T2 code rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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
    #[serde(rename = "7/8")]
    R7_8,
    #[serde(rename = "8/9")]
    R8_9,
    #[serde(rename = "9/10")]
    R9_10,
    /// "No convolutional coding" (code 1111).
    #[serde(rename = "none")]
    NoConvolutionalCoding,
}

/// The 4-bit FEC_inner field of satellite and cable descriptors.
fn fec_inner(code: u8) -> Option<CodeRate> {
    Some(match code & 0x0F {
        0x1 => CodeRate::R1_2,
        0x2 => CodeRate::R2_3,
        0x3 => CodeRate::R3_4,
        0x4 => CodeRate::R5_6,
        0x5 => CodeRate::R7_8,
        0x6 => CodeRate::R8_9,
        0x7 => CodeRate::R3_5,
        0x8 => CodeRate::R4_5,
        0x9 => CodeRate::R9_10,
        0xF => CodeRate::NoConvolutionalCoding,
        _ => return None, // 0 "not defined", 0xA..=0xE reserved
    })
}

/// Reads `digits` BCD digits starting at the high nibble of `bytes[0]`.
fn bcd(bytes: &[u8], digits: usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..digits {
        let byte = *bytes.get(i / 2)?;
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0F };
        if nibble > 9 {
            return None;
        }
        value = value * 10 + u64::from(nibble);
    }
    Some(value)
}

// --- satellite ----------------------------------------------------------------------------

/// Polarisation of a satellite transponder (EN 300 468 Table 38).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarisation {
    LinearHorizontal,
    LinearVertical,
    CircularLeft,
    CircularRight,
}

/// DVB-S2 roll-off factor (EN 300 468 Table 39).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RollOff {
    #[serde(rename = "0.35")]
    R35,
    #[serde(rename = "0.25")]
    R25,
    #[serde(rename = "0.20")]
    R20,
}

/// Satellite modulation (EN 300 468 Table 40).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SatelliteModulation {
    /// "Auto": the receiver finds out.
    Auto,
    Qpsk,
    #[serde(rename = "8psk")]
    Psk8,
    /// 16-QAM; the standard marks it "n/a for DVB-S2".
    #[serde(rename = "16qam")]
    Qam16,
}

/// An orbital position in tenths of a degree, east or west.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OrbitalPosition {
    /// Tenths of a degree: 192 is 19.2°.
    pub tenths: u16,
    pub east: bool,
}

impl OrbitalPosition {
    /// Signed tenths of a degree, east positive (19.2°E is 192, 30.0°W is -300).
    pub fn signed_tenths(self) -> i32 {
        let t = i32::from(self.tenths);
        if self.east { t } else { -t }
    }
}

impl std::fmt::Display for OrbitalPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}°{}",
            self.tenths / 10,
            self.tenths % 10,
            if self.east { 'E' } else { 'W' }
        )
    }
}

/// satellite_delivery_system_descriptor (0x43).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SatelliteDelivery {
    /// The transponder's downlink frequency (coded in 10 kHz steps).
    pub frequency_hz: u64,
    pub orbital_position: OrbitalPosition,
    pub polarisation: Polarisation,
    /// `modulation_system` = 1. DVB-S has no roll-off field (the bits are "00": 0.35).
    pub dvb_s2: bool,
    /// None: the reserved code 11.
    pub roll_off: Option<RollOff>,
    pub modulation: SatelliteModulation,
    /// Symbols per second (coded in 100 symbol/s steps).
    pub symbol_rate: u32,
    /// None: "not defined" or reserved.
    pub fec_inner: Option<CodeRate>,
}

/// Decodes a satellite delivery descriptor's payload (11 bytes).
pub fn satellite(p: &[u8]) -> Result<SatelliteDelivery, DescriptorError> {
    const NAME: &str = "satellite_delivery_system";
    if p.len() < 11 {
        return Err(err(NAME, "shorter than 11 bytes"));
    }
    let frequency = bcd(&p[0..4], 8).ok_or(err(NAME, "frequency is not BCD"))?;
    let orbital = bcd(&p[4..6], 4).ok_or(err(NAME, "orbital_position is not BCD"))?;
    let flags = p[6];
    let symbol_rate = bcd(&p[7..11], 7).ok_or(err(NAME, "symbol_rate is not BCD"))?;
    Ok(SatelliteDelivery {
        frequency_hz: frequency * 10_000,
        orbital_position: OrbitalPosition {
            tenths: orbital as u16,
            east: flags & 0x80 != 0,
        },
        polarisation: match (flags >> 5) & 0x03 {
            0 => Polarisation::LinearHorizontal,
            1 => Polarisation::LinearVertical,
            2 => Polarisation::CircularLeft,
            _ => Polarisation::CircularRight,
        },
        dvb_s2: flags & 0x04 != 0,
        roll_off: match (flags >> 3) & 0x03 {
            0 => Some(RollOff::R35),
            1 => Some(RollOff::R25),
            2 => Some(RollOff::R20),
            _ => None,
        },
        modulation: match flags & 0x03 {
            0 => SatelliteModulation::Auto,
            1 => SatelliteModulation::Qpsk,
            2 => SatelliteModulation::Psk8,
            _ => SatelliteModulation::Qam16,
        },
        // 7 digits in 100 symbol/s units: at most 999 999 900, which fits a u32.
        symbol_rate: (symbol_rate * 100) as u32,
        fec_inner: fec_inner(p[10]),
    })
}

// --- cable --------------------------------------------------------------------------------

/// Outer FEC of a cable multiplex (EN 300 468 Table 34).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OuterFec {
    None,
    /// Reed-Solomon (204,188).
    Rs204_188,
}

/// Cable modulation (EN 300 468 Table 36).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CableModulation {
    Qam16,
    Qam32,
    Qam64,
    Qam128,
    Qam256,
}

/// cable_delivery_system_descriptor (0x44).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CableDelivery {
    /// Coded in 100 Hz steps.
    pub frequency_hz: u64,
    /// None: "not defined" or reserved.
    pub fec_outer: Option<OuterFec>,
    /// None: "not defined" or reserved.
    pub modulation: Option<CableModulation>,
    /// Symbols per second (coded in 100 symbol/s steps).
    pub symbol_rate: u32,
    pub fec_inner: Option<CodeRate>,
}

/// Decodes a cable delivery descriptor's payload (11 bytes).
pub fn cable(p: &[u8]) -> Result<CableDelivery, DescriptorError> {
    const NAME: &str = "cable_delivery_system";
    if p.len() < 11 {
        return Err(err(NAME, "shorter than 11 bytes"));
    }
    let frequency = bcd(&p[0..4], 8).ok_or(err(NAME, "frequency is not BCD"))?;
    let symbol_rate = bcd(&p[7..11], 7).ok_or(err(NAME, "symbol_rate is not BCD"))?;
    Ok(CableDelivery {
        frequency_hz: frequency * 100,
        fec_outer: match p[5] & 0x0F {
            1 => Some(OuterFec::None),
            2 => Some(OuterFec::Rs204_188),
            _ => None,
        },
        modulation: match p[6] {
            1 => Some(CableModulation::Qam16),
            2 => Some(CableModulation::Qam32),
            3 => Some(CableModulation::Qam64),
            4 => Some(CableModulation::Qam128),
            5 => Some(CableModulation::Qam256),
            _ => None,
        },
        symbol_rate: (symbol_rate * 100) as u32,
        fec_inner: fec_inner(p[10]),
    })
}

// --- terrestrial --------------------------------------------------------------------------

/// DVB-T constellation (EN 300 468 Table 46).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Constellation {
    Qpsk,
    Qam16,
    Qam64,
}

/// Hierarchical transmission (EN 300 468 Table 47).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Hierarchy {
    /// The α of the hierarchical constellation (1, 2 or 4); None: non-hierarchical.
    pub alpha: Option<u8>,
    /// In-depth (rather than native) interleaver, DVB-H.
    pub in_depth_interleaver: bool,
}

/// OFDM guard interval (EN 300 468 Tables 49 and 115).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum GuardInterval {
    #[serde(rename = "1/32")]
    G1_32,
    #[serde(rename = "1/16")]
    G1_16,
    #[serde(rename = "1/8")]
    G1_8,
    #[serde(rename = "1/4")]
    G1_4,
    #[serde(rename = "1/128")]
    G1_128,
    #[serde(rename = "19/128")]
    G19_128,
    #[serde(rename = "19/256")]
    G19_256,
}

/// OFDM FFT size (EN 300 468 Tables 50 and 116).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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

/// terrestrial_delivery_system_descriptor (0x5A), DVB-T and DVB-H.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TerrestrialDelivery {
    /// Coded in 10 Hz steps. None when coded 0 or all ones: networks of single-frequency
    /// cells whose frequency differs by region (French DTT) send 0xFFFFFFFF.
    pub centre_frequency_hz: Option<u64>,
    /// 8, 7, 6 or 5 MHz; None: reserved.
    pub bandwidth_hz: Option<u32>,
    /// `priority`: the high-priority stream (always set when non-hierarchical).
    pub high_priority: bool,
    /// DVB-H time slicing is used in at least one elementary stream.
    pub time_slicing: bool,
    /// DVB-H MPE-FEC is used in at least one elementary stream.
    pub mpe_fec: bool,
    /// None: reserved.
    pub constellation: Option<Constellation>,
    pub hierarchy: Hierarchy,
    /// None: reserved.
    pub code_rate_hp: Option<CodeRate>,
    /// None: reserved (and meaningless without hierarchy).
    pub code_rate_lp: Option<CodeRate>,
    pub guard_interval: GuardInterval,
    /// None: reserved.
    pub transmission_mode: Option<TransmissionMode>,
    /// The multiplex is also on other frequencies (a frequency list may say which).
    pub other_frequency: bool,
}

/// DVB-T code rates (EN 300 468 Table 48): fewer than the satellite table, other codes.
fn terrestrial_code_rate(code: u8) -> Option<CodeRate> {
    Some(match code & 0x07 {
        0 => CodeRate::R1_2,
        1 => CodeRate::R2_3,
        2 => CodeRate::R3_4,
        3 => CodeRate::R5_6,
        4 => CodeRate::R7_8,
        _ => return None,
    })
}

/// Decodes a terrestrial delivery descriptor's payload (11 bytes).
pub fn terrestrial(p: &[u8]) -> Result<TerrestrialDelivery, DescriptorError> {
    const NAME: &str = "terrestrial_delivery_system";
    if p.len() < 7 {
        // The last four bytes are reserved; a descriptor that stops before them still
        // says everything.
        return Err(err(NAME, "shorter than 7 bytes"));
    }
    let frequency = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    let (b4, b5, b6) = (p[4], p[5], p[6]);
    let hierarchy = (b5 >> 3) & 0x07;
    Ok(TerrestrialDelivery {
        centre_frequency_hz: (frequency != 0 && frequency != u32::MAX)
            .then_some(u64::from(frequency) * 10),
        bandwidth_hz: match b4 >> 5 {
            0 => Some(8_000_000),
            1 => Some(7_000_000),
            2 => Some(6_000_000),
            3 => Some(5_000_000),
            _ => None,
        },
        high_priority: b4 & 0x10 != 0,
        // Both indicators are "0: used, 1: not used".
        time_slicing: b4 & 0x08 == 0,
        mpe_fec: b4 & 0x04 == 0,
        constellation: match b5 >> 6 {
            0 => Some(Constellation::Qpsk),
            1 => Some(Constellation::Qam16),
            2 => Some(Constellation::Qam64),
            _ => None,
        },
        hierarchy: Hierarchy {
            alpha: match hierarchy & 0x03 {
                0 => None,
                1 => Some(1),
                2 => Some(2),
                _ => Some(4),
            },
            in_depth_interleaver: hierarchy & 0x04 != 0,
        },
        code_rate_hp: terrestrial_code_rate(b5),
        code_rate_lp: terrestrial_code_rate(b6 >> 5),
        guard_interval: match (b6 >> 3) & 0x03 {
            0 => GuardInterval::G1_32,
            1 => GuardInterval::G1_16,
            2 => GuardInterval::G1_8,
            _ => GuardInterval::G1_4,
        },
        transmission_mode: match (b6 >> 1) & 0x03 {
            0 => Some(TransmissionMode::K2),
            1 => Some(TransmissionMode::K8),
            2 => Some(TransmissionMode::K4),
            _ => None,
        },
        other_frequency: b6 & 0x01 != 0,
    })
}

// --- DVB-T2 -------------------------------------------------------------------------------

/// Single or multiple transmit antennas (EN 300 468 Table 113).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SisoMiso {
    Siso,
    Miso,
}

/// One cell of a DVB-T2 network: its frequencies, and those of its transposers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct T2Cell {
    pub cell_id: u16,
    /// One frequency, or several with time-frequency slicing (TFS). Coded in 10 Hz steps.
    pub centre_frequencies_hz: Vec<u64>,
    /// `(cell_id_extension, transposer_frequency_hz)`.
    pub subcells: Vec<(u8, u64)>,
}

/// The optional part of a T2 delivery descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct T2Details {
    /// None: reserved.
    pub siso_miso: Option<SisoMiso>,
    /// 8, 7, 6, 5, 10 or 1.712 MHz; None: reserved.
    pub bandwidth_hz: Option<u32>,
    /// None: reserved.
    pub guard_interval: Option<GuardInterval>,
    /// None: reserved.
    pub transmission_mode: Option<TransmissionMode>,
    pub other_frequency: bool,
    /// Time-frequency slicing: each cell lists several frequencies.
    pub tfs: bool,
    pub cells: Vec<T2Cell>,
}

/// T2_delivery_system_descriptor (extension 0x04 of descriptor 0x7F).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct T2Delivery {
    /// The physical layer pipe that carries this transport stream.
    pub plp_id: u8,
    pub t2_system_id: u16,
    /// Absent from the short form (the descriptor then stops after `T2_system_id`).
    pub details: Option<T2Details>,
}

impl T2Delivery {
    /// The first centre frequency of the first cell, if the descriptor gives one.
    pub fn first_frequency_hz(&self) -> Option<u64> {
        self.details
            .as_ref()?
            .cells
            .iter()
            .flat_map(|c| c.centre_frequencies_hz.iter())
            .copied()
            .find(|&f| f != 0)
    }
}

/// Decodes a T2 delivery descriptor's payload, the extension tag (0x04) included.
pub fn t2(p: &[u8]) -> Result<T2Delivery, DescriptorError> {
    const NAME: &str = "T2_delivery_system";
    if p.first() != Some(&T2_DELIVERY_EXTENSION) {
        return Err(err(NAME, "extension tag is not 0x04"));
    }
    if p.len() < 4 {
        return Err(err(NAME, "shorter than 4 bytes"));
    }
    let mut d = T2Delivery {
        plp_id: p[1],
        t2_system_id: u16::from_be_bytes([p[2], p[3]]),
        details: None,
    };
    if p.len() == 4 {
        return Ok(d);
    }
    let (b4, b5) = match (p.get(4), p.get(5)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return Err(err(NAME, "truncated in its flags")),
    };
    let tfs = b5 & 0x01 != 0;
    let mut details = T2Details {
        siso_miso: match b4 >> 6 {
            0 => Some(SisoMiso::Siso),
            1 => Some(SisoMiso::Miso),
            _ => None,
        },
        bandwidth_hz: match (b4 >> 2) & 0x0F {
            0 => Some(8_000_000),
            1 => Some(7_000_000),
            2 => Some(6_000_000),
            3 => Some(5_000_000),
            4 => Some(10_000_000),
            5 => Some(1_712_000),
            _ => None,
        },
        guard_interval: match b5 >> 5 {
            0 => Some(GuardInterval::G1_32),
            1 => Some(GuardInterval::G1_16),
            2 => Some(GuardInterval::G1_8),
            3 => Some(GuardInterval::G1_4),
            4 => Some(GuardInterval::G1_128),
            5 => Some(GuardInterval::G19_128),
            6 => Some(GuardInterval::G19_256),
            _ => None,
        },
        transmission_mode: match (b5 >> 2) & 0x07 {
            0 => Some(TransmissionMode::K2),
            1 => Some(TransmissionMode::K8),
            2 => Some(TransmissionMode::K4),
            3 => Some(TransmissionMode::K1),
            4 => Some(TransmissionMode::K16),
            5 => Some(TransmissionMode::K32),
            _ => None,
        },
        other_frequency: b5 & 0x02 != 0,
        tfs,
        cells: Vec::new(),
    };
    let truncated = || err(NAME, "cell loop runs past the descriptor");
    let be32 = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?)) * 10)
    };
    let mut rest = &p[6..];
    while !rest.is_empty() {
        let cell_id = u16::from_be_bytes([rest[0], *rest.get(1).ok_or_else(truncated)?]);
        let mut at = 2;
        let mut cell = T2Cell {
            cell_id,
            centre_frequencies_hz: Vec::new(),
            subcells: Vec::new(),
        };
        if tfs {
            let len = usize::from(*rest.get(at).ok_or_else(truncated)?);
            at += 1;
            let freqs = rest.get(at..at + len).ok_or_else(truncated)?;
            cell.centre_frequencies_hz = freqs
                .chunks_exact(4)
                .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])) * 10)
                .collect();
            at += len;
        } else {
            cell.centre_frequencies_hz
                .push(be32(rest, at).ok_or_else(truncated)?);
            at += 4;
        }
        let len = usize::from(*rest.get(at).ok_or_else(truncated)?);
        at += 1;
        let subcells = rest.get(at..at + len).ok_or_else(truncated)?;
        cell.subcells = subcells
            .chunks_exact(5)
            .map(|c| {
                (
                    c[0],
                    u64::from(u32::from_be_bytes([c[1], c[2], c[3], c[4]])) * 10,
                )
            })
            .collect();
        at += len;
        details.cells.push(cell);
        rest = &rest[at..];
    }
    d.details = Some(details);
    Ok(d)
}

// --- frequency list -----------------------------------------------------------------------

/// How a frequency list is coded (EN 300 468 Table 57).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyCoding {
    NotDefined,
    Satellite,
    Cable,
    Terrestrial,
}

/// frequency_list_descriptor (0x62): other frequencies of the same multiplex (other
/// transmitters of a terrestrial network, typically).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrequencyList {
    pub coding: FrequencyCoding,
    /// Decoded per the coding; empty when the coding is "not defined" (the values then
    /// have no unit).
    pub frequencies_hz: Vec<u64>,
}

/// Decodes a frequency list descriptor's payload.
pub fn frequency_list(p: &[u8]) -> Result<FrequencyList, DescriptorError> {
    const NAME: &str = "frequency_list";
    let first = *p.first().ok_or(err(NAME, "empty"))?;
    if !(p.len() - 1).is_multiple_of(4) {
        return Err(err(NAME, "frequency loop is not a multiple of 4 bytes"));
    }
    let coding = match first & 0x03 {
        0 => FrequencyCoding::NotDefined,
        1 => FrequencyCoding::Satellite,
        2 => FrequencyCoding::Cable,
        _ => FrequencyCoding::Terrestrial,
    };
    let mut frequencies_hz = Vec::with_capacity((p.len() - 1) / 4);
    for c in p[1..].chunks_exact(4) {
        let f = match coding {
            FrequencyCoding::NotDefined => continue,
            FrequencyCoding::Satellite => {
                bcd(c, 8).ok_or(err(NAME, "frequency is not BCD"))? * 10_000
            }
            FrequencyCoding::Cable => bcd(c, 8).ok_or(err(NAME, "frequency is not BCD"))? * 100,
            FrequencyCoding::Terrestrial => {
                u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])) * 10
            }
        };
        frequencies_hz.push(f);
    }
    Ok(FrequencyList {
        coding,
        frequencies_hz,
    })
}

#[cfg(test)]
// Binary literals are grouped by the descriptor's bit fields, not by nibbles.
#[allow(clippy::unusual_byte_groupings)]
mod tests {
    use super::*;

    #[test]
    fn satellite_from_the_mediaset_capture() {
        // 11 919 MHz, 13.0°E, vertical, DVB-S QPSK, 29.9 Msym/s, FEC 5/6 (Hot Bird).
        let p = [
            0x01, 0x19, 0x19, 0x00, 0x01, 0x30, 0xA1, 0x02, 0x99, 0x00, 0x04,
        ];
        let s = satellite(&p).unwrap();
        assert_eq!(s.frequency_hz, 11_919_000_000);
        assert_eq!(s.orbital_position.to_string(), "13.0°E");
        assert_eq!(s.orbital_position.signed_tenths(), 130);
        assert_eq!(s.polarisation, Polarisation::LinearVertical);
        assert!(!s.dvb_s2);
        assert_eq!(s.modulation, SatelliteModulation::Qpsk);
        assert_eq!(s.symbol_rate, 29_900_000);
        assert_eq!(s.fec_inner, Some(CodeRate::R5_6));
    }

    #[test]
    fn satellite_s2_west_and_every_field() {
        // 12 345.67 MHz, 30.0°W, circular right, S2 roll-off 0.20 8PSK, 27.5 Msym/s, 9/10.
        let flags = 0b0_11_10_1_10;
        let p = [
            0x01, 0x23, 0x45, 0x67, 0x03, 0x00, flags, 0x02, 0x75, 0x00, 0x09,
        ];
        let s = satellite(&p).unwrap();
        assert_eq!(s.frequency_hz, 12_345_670_000);
        assert_eq!(s.orbital_position.signed_tenths(), -300);
        assert_eq!(s.polarisation, Polarisation::CircularRight);
        assert!(s.dvb_s2);
        assert_eq!(s.roll_off, Some(RollOff::R20));
        assert_eq!(s.modulation, SatelliteModulation::Psk8);
        assert_eq!(s.symbol_rate, 27_500_000);
        assert_eq!(s.fec_inner, Some(CodeRate::R9_10));
        let d = Descriptor {
            tag: tag::SATELLITE_DELIVERY,
            payload: &p,
        };
        assert_eq!(
            Delivery::from_descriptor(&d)
                .unwrap()
                .unwrap()
                .system_name(),
            "DVB-S2"
        );
    }

    #[test]
    fn bad_bcd_and_short_payloads_are_errors() {
        let mut p = [
            0x01, 0x19, 0x19, 0x00, 0x01, 0x30, 0xA1, 0x02, 0x99, 0x00, 0x04,
        ];
        p[1] = 0x1A;
        assert_eq!(
            satellite(&p).unwrap_err().to_string(),
            "satellite_delivery_system descriptor: frequency is not BCD"
        );
        for n in 0..11 {
            assert!(satellite(&p[..n]).is_err());
            assert!(cable(&p[..n]).is_err());
        }
        for n in 0..7 {
            assert!(terrestrial(&p[..n]).is_err());
        }
        assert!(frequency_list(&[]).is_err());
        assert!(frequency_list(&[0x03, 1, 2, 3]).is_err());
    }

    #[test]
    fn cable_every_field() {
        // 474 MHz, RS(204,188), 256-QAM, 6.9 Msym/s, no inner FEC given.
        let p = [
            0x04, 0x74, 0x00, 0x00, 0xFF, 0xF2, 0x05, 0x00, 0x69, 0x00, 0x00,
        ];
        let c = cable(&p).unwrap();
        assert_eq!(c.frequency_hz, 474_000_000);
        assert_eq!(c.fec_outer, Some(OuterFec::Rs204_188));
        assert_eq!(c.modulation, Some(CableModulation::Qam256));
        assert_eq!(c.symbol_rate, 6_900_000);
        assert_eq!(c.fec_inner, None);
        // 113.25 MHz (100 Hz digits), 64-QAM, 6.875 Msym/s, "no convolutional coding".
        let p = [
            0x01, 0x13, 0x25, 0x00, 0xFF, 0xF1, 0x03, 0x00, 0x68, 0x75, 0x0F,
        ];
        let c = cable(&p).unwrap();
        assert_eq!(c.frequency_hz, 113_250_000);
        assert_eq!(c.fec_outer, Some(OuterFec::None));
        assert_eq!(c.modulation, Some(CableModulation::Qam64));
        assert_eq!(c.symbol_rate, 6_875_000);
        assert_eq!(c.fec_inner, Some(CodeRate::NoConvolutionalCoding));
    }

    #[test]
    fn terrestrial_every_field() {
        // 474 MHz = 47 400 000 × 10 Hz; 7 MHz, HP, no time slicing, MPE-FEC used;
        // 16-QAM, α=2 in-depth, HP 2/3; LP 3/4, GI 1/4, 4k, other frequencies.
        let f = 47_400_000u32.to_be_bytes();
        let p = [
            f[0],
            f[1],
            f[2],
            f[3],
            0b001_1_1_0_11,
            0b01_110_001,
            0b010_11_10_1,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
        ];
        let t = terrestrial(&p).unwrap();
        assert_eq!(t.centre_frequency_hz, Some(474_000_000));
        assert_eq!(t.bandwidth_hz, Some(7_000_000));
        assert!(t.high_priority && !t.time_slicing && t.mpe_fec);
        assert_eq!(t.constellation, Some(Constellation::Qam16));
        assert_eq!(
            t.hierarchy,
            Hierarchy {
                alpha: Some(2),
                in_depth_interleaver: true
            }
        );
        assert_eq!(t.code_rate_hp, Some(CodeRate::R2_3));
        assert_eq!(t.code_rate_lp, Some(CodeRate::R3_4));
        assert_eq!(t.guard_interval, GuardInterval::G1_4);
        assert_eq!(t.transmission_mode, Some(TransmissionMode::K4));
        assert!(t.other_frequency);
    }

    #[test]
    fn terrestrial_from_french_dtt_has_no_frequency() {
        // As in the Multi4 capture: frequency all ones, 8 MHz, 64-QAM, GI 1/8, 8k.
        let p = [
            0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0x85, 0x52, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        let t = terrestrial(&p).unwrap();
        assert_eq!(t.centre_frequency_hz, None);
        assert_eq!(t.bandwidth_hz, Some(8_000_000));
        assert_eq!(t.constellation, Some(Constellation::Qam64));
        assert_eq!(t.hierarchy.alpha, None);
        assert_eq!(t.code_rate_hp, None, "code 5 is reserved");
        assert_eq!(t.guard_interval, GuardInterval::G1_8);
        assert_eq!(t.transmission_mode, Some(TransmissionMode::K8));
        assert!(!t.time_slicing && !t.mpe_fec);
    }

    #[test]
    fn t2_short_and_long_forms() {
        let short = [0x04, 3, 0x12, 0x34];
        let t = t2(&short).unwrap();
        assert_eq!(
            (t.plp_id, t.t2_system_id, t.details.clone()),
            (3, 0x1234, None)
        );
        assert_eq!(t.first_frequency_hz(), None);

        // MISO, 8 MHz, GI 19/256, 32k, no TFS; two cells, the second with a transposer.
        let f1 = 54_600_000u32.to_be_bytes();
        let f2 = 55_400_000u32.to_be_bytes();
        let tr = 56_200_000u32.to_be_bytes();
        let mut long = vec![0x04, 0, 0x00, 0x01, 0b01_0000_00, 0b110_101_0_0];
        long.extend_from_slice(&[0x00, 0x01]);
        long.extend_from_slice(&f1);
        long.push(0);
        long.extend_from_slice(&[0x00, 0x02]);
        long.extend_from_slice(&f2);
        long.push(5);
        long.push(7);
        long.extend_from_slice(&tr);
        let t = t2(&long).unwrap();
        let d = t.details.as_ref().unwrap();
        assert_eq!(d.siso_miso, Some(SisoMiso::Miso));
        assert_eq!(d.bandwidth_hz, Some(8_000_000));
        assert_eq!(d.guard_interval, Some(GuardInterval::G19_256));
        assert_eq!(d.transmission_mode, Some(TransmissionMode::K32));
        assert!(!d.tfs && !d.other_frequency);
        assert_eq!(d.cells.len(), 2);
        assert_eq!(d.cells[1].centre_frequencies_hz, vec![554_000_000]);
        assert_eq!(d.cells[1].subcells, vec![(7, 562_000_000)]);
        assert_eq!(t.first_frequency_hz(), Some(546_000_000));
        // Cutting the descriptor short is an error, never a panic, except where the cut
        // falls between cells (6: flags and no cell; 13: the first cell).
        for n in 5..long.len() {
            let cut = t2(&long[..n]);
            match n {
                6 | 13 => assert_eq!(cut.unwrap().details.unwrap().cells.len(), (n - 6) / 7),
                _ => assert!(cut.is_err(), "length {n}"),
            }
        }

        // TFS: a cell with a frequency loop.
        let mut tfs = vec![0x04, 1, 0, 2, 0b00_0001_00, 0b000_001_1_1, 0, 9, 8];
        tfs.extend_from_slice(&f1);
        tfs.extend_from_slice(&f2);
        tfs.push(0);
        let t = t2(&tfs).unwrap();
        let d = t.details.unwrap();
        assert!(d.tfs && d.other_frequency);
        assert_eq!(d.bandwidth_hz, Some(7_000_000));
        assert_eq!(d.cells[0].cell_id, 9);
        assert_eq!(
            d.cells[0].centre_frequencies_hz,
            vec![546_000_000, 554_000_000]
        );
    }

    #[test]
    fn frequency_lists() {
        let f = 47_400_000u32.to_be_bytes();
        let l = frequency_list(&[0xFF, f[0], f[1], f[2], f[3]]).unwrap();
        assert_eq!(l.coding, FrequencyCoding::Terrestrial);
        assert_eq!(l.frequencies_hz, vec![474_000_000]);
        let l = frequency_list(&[0xFD, 0x01, 0x17, 0x66, 0x00, 0x01, 0x07, 0x29, 0x00]).unwrap();
        assert_eq!(l.coding, FrequencyCoding::Satellite);
        assert_eq!(l.frequencies_hz, vec![11_766_000_000, 10_729_000_000]);
        let l = frequency_list(&[0xFE, 0x03, 0x12, 0x00, 0x00]).unwrap();
        assert_eq!(l.frequencies_hz, vec![312_000_000]);
        assert!(frequency_list(&[0xFE, 0x0A, 0, 0, 0]).is_err());
    }

    #[test]
    fn deliveries_skips_other_descriptors() {
        let loop_bytes = [
            0x5F, 4, 0, 0, 0, 0x28, // private data specifier
            0x7F, 4, 0x04, 1, 0, 1, // T2, short form
            0x7F, 2, 0x0D, 0, // C2: not decoded here
        ];
        let all: Vec<_> = deliveries(&loop_bytes).collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].as_ref().unwrap().system_name(), "DVB-T2");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic generator: every decoder over many short random payloads,
        // and over every prefix of them.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut byte = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        let mut decoded = 0;
        for round in 0..2000 {
            let len = usize::from(byte()) % 40;
            let mut p: Vec<u8> = (0..len).map(|_| byte()).collect();
            if round % 2 == 0 && !p.is_empty() {
                p[0] = T2_DELIVERY_EXTENSION;
            }
            for n in 0..=p.len() {
                let q = &p[..n];
                decoded += usize::from(satellite(q).is_ok())
                    + usize::from(cable(q).is_ok())
                    + usize::from(terrestrial(q).is_ok())
                    + usize::from(t2(q).is_ok())
                    + usize::from(frequency_list(q).is_ok());
                let _ = crate::descriptor::logical_channels(q).len();
                let _ = crate::descriptor::nordig_channel_lists(q).count();
                let _ = deliveries(q).count();
            }
        }
        assert!(
            decoded > 1000,
            "the generator should also hit valid payloads"
        );
    }
}
