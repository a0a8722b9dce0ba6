//! The LNB (low-noise block downconverter) at the dish: which local oscillator it uses for
//! a transponder, and what intermediate frequency (IF) the tuner then sees.
//!
//! A satellite transponder sits at 3.4–4.2 GHz (C band) or 10.7–12.75 GHz (Ku band): far
//! too high for a coaxial cable and a tuner. The LNB mixes it with its local oscillator
//! (LO) down to the L band, 950–2150 MHz, which every satellite tuner receives:
//!
//! - Ku band: the LO is below the signal, IF = f − LO (11 362 MHz − 9 750 MHz = 1 612 MHz).
//! - C band: the LO (5 150 MHz) is above it, IF = LO − f (5 150 − 3 840 = 1 310 MHz); the
//!   spectrum comes out mirrored, which demodulators detect by themselves (inversion AUTO).
//!
//! One LO cannot bring the whole Ku band into 1.2 GHz of L band, so a *universal* LNB has
//! two: 9 750 MHz for the low band (10.7–11.7 GHz) and 10 600 MHz for the high band
//! (11.7–12.75 GHz), chosen by a 22 kHz tone on the cable (off = low, on = high). The
//! polarisation is chosen by the supply voltage (13 V vertical/right, 18 V
//! horizontal/left); that is [`crate::sec`]'s business, as are switches.

use crate::params::{Lnb, format_mhz};

/// The L band a satellite tuner receives.
pub const IF_MIN_HZ: u64 = 950_000_000;
pub const IF_MAX_HZ: u64 = 2_150_000_000;

/// Universal LNB (Astra/Eutelsat standard): low and high band oscillators, and the band
/// edge.
pub const UNIVERSAL_LOW_LO_HZ: u64 = 9_750_000_000;
pub const UNIVERSAL_HIGH_LO_HZ: u64 = 10_600_000_000;
pub const UNIVERSAL_SWITCH_HZ: u64 = 11_700_000_000;

/// Standard C-band LNB oscillator.
pub const C_BAND_LO_HZ: u64 = 5_150_000_000;

/// Which of an LNB's bands a transponder is in. Single-oscillator LNBs have only `Low`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Band {
    Low,
    High,
}

/// How an LNB receives one transponder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    pub band: Band,
    pub local_oscillator_hz: u64,
    /// What the tuner tunes (or, on a Unicable cable, what the LNB's band would put out
    /// before the user-band converter).
    pub intermediate_frequency_hz: u64,
    /// The 22 kHz tone: on selects the high band of a universal or dual LNB.
    pub tone: bool,
    /// The oscillator is above the signal (C band): the spectrum is mirrored.
    pub inverted: bool,
}

/// A transponder the LNB cannot bring into the tuner's band.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the transponder at {} cannot be received through the LNB {lnb}: its intermediate frequency would be {} (a tuner receives 950–2150 MHz)",
    format_mhz(*frequency_hz),
    format_mhz(*intermediate_hz)
)]
pub struct LnbError {
    pub frequency_hz: u64,
    pub lnb: Lnb,
    pub intermediate_hz: u64,
}

impl Lnb {
    /// The band and oscillator for a transponder at `frequency_hz`, and the IF.
    ///
    /// A dual LNB uses its high band from the switch frequency up (at exactly 11 700 MHz
    /// both bands reach it; the high one leaves more margin, 1 100 MHz against 1 950).
    pub fn select(&self, frequency_hz: u64) -> Result<Selection, LnbError> {
        let (band, local_oscillator_hz) = match *self {
            Lnb::Universal => band_of(
                frequency_hz,
                UNIVERSAL_LOW_LO_HZ,
                UNIVERSAL_HIGH_LO_HZ,
                UNIVERSAL_SWITCH_HZ,
            ),
            Lnb::Single { lo_hz } => (Band::Low, lo_hz),
            Lnb::Dual {
                low_lo_hz,
                high_lo_hz,
                switch_hz,
            } => band_of(frequency_hz, low_lo_hz, high_lo_hz, switch_hz),
        };
        let intermediate_frequency_hz = frequency_hz.abs_diff(local_oscillator_hz);
        if !(IF_MIN_HZ..=IF_MAX_HZ).contains(&intermediate_frequency_hz) {
            return Err(LnbError {
                frequency_hz,
                lnb: *self,
                intermediate_hz: intermediate_frequency_hz,
            });
        }
        Ok(Selection {
            band,
            local_oscillator_hz,
            intermediate_frequency_hz,
            tone: band == Band::High,
            inverted: local_oscillator_hz > frequency_hz,
        })
    }
}

fn band_of(frequency_hz: u64, low_lo: u64, high_lo: u64, switch: u64) -> (Band, u64) {
    if frequency_hz >= switch {
        (Band::High, high_lo)
    } else {
        (Band::Low, low_lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MHZ: u64 = 1_000_000;

    #[test]
    fn universal_lnb_low_and_high_band() {
        // Astra 19.2E, 11 362 MHz: low band, 11 362 − 9 750 = 1 612 MHz, no tone.
        let s = Lnb::Universal.select(11_362 * MHZ).unwrap();
        assert_eq!(s.band, Band::Low);
        assert_eq!(s.local_oscillator_hz, 9_750 * MHZ);
        assert_eq!(s.intermediate_frequency_hz, 1_612 * MHZ);
        assert!(!s.tone && !s.inverted);
        // 12 552 MHz: high band, 12 552 − 10 600 = 1 952 MHz, tone on.
        let s = Lnb::Universal.select(12_552 * MHZ).unwrap();
        assert_eq!(s.band, Band::High);
        assert_eq!(s.intermediate_frequency_hz, 1_952 * MHZ);
        assert!(s.tone);
        // The band edge: 11 699.999 MHz is low, 11 700 MHz high.
        assert_eq!(
            Lnb::Universal.select(11_700 * MHZ - 1000).unwrap().band,
            Band::Low
        );
        let s = Lnb::Universal.select(11_700 * MHZ).unwrap();
        assert_eq!(
            (s.band, s.intermediate_frequency_hz),
            (Band::High, 1_100 * MHZ)
        );
        // The ends of the Ku band: 10 700 → 950 MHz, 12 750 → 2 150 MHz.
        assert_eq!(
            Lnb::Universal
                .select(10_700 * MHZ)
                .unwrap()
                .intermediate_frequency_hz,
            IF_MIN_HZ
        );
        assert_eq!(
            Lnb::Universal
                .select(12_750 * MHZ)
                .unwrap()
                .intermediate_frequency_hz,
            IF_MAX_HZ
        );
        // Frequencies keep their kHz: 11 719.5 MHz → 1 119.5 MHz.
        assert_eq!(
            Lnb::Universal
                .select(11_719_500_000)
                .unwrap()
                .intermediate_frequency_hz,
            1_119_500_000
        );
    }

    #[test]
    fn c_band_is_inverted() {
        let lnb = Lnb::Single {
            lo_hz: C_BAND_LO_HZ,
        };
        let s = lnb.select(3_840 * MHZ).unwrap();
        assert_eq!(s.intermediate_frequency_hz, 1_310 * MHZ);
        assert!(s.inverted && !s.tone);
        assert_eq!(s.band, Band::Low);
        assert_eq!(
            lnb.select(4_200 * MHZ).unwrap().intermediate_frequency_hz,
            950 * MHZ
        );
    }

    #[test]
    fn single_and_dual_ku() {
        let lnb = Lnb::Single {
            lo_hz: 10_750 * MHZ,
        };
        let s = lnb.select(12_245 * MHZ).unwrap();
        assert_eq!(s.intermediate_frequency_hz, 1_495 * MHZ);
        assert!(!s.tone && !s.inverted);
        // A dual LNB with unusual oscillators: 10 000 / 10 750, switching at 11 200 MHz.
        let lnb = Lnb::Dual {
            low_lo_hz: 10_000 * MHZ,
            high_lo_hz: 10_750 * MHZ,
            switch_hz: 11_200 * MHZ,
        };
        let s = lnb.select(11_100 * MHZ).unwrap();
        assert_eq!(
            (s.band, s.intermediate_frequency_hz, s.tone),
            (Band::Low, 1_100 * MHZ, false)
        );
        let s = lnb.select(11_800 * MHZ).unwrap();
        assert_eq!(
            (s.band, s.intermediate_frequency_hz, s.tone),
            (Band::High, 1_050 * MHZ, true)
        );
        // Just above its switch, the high oscillator would put it at 550 MHz.
        assert_eq!(
            lnb.select(11_300 * MHZ).unwrap_err().intermediate_hz,
            550 * MHZ
        );
    }

    #[test]
    fn out_of_band_transponders_are_refused_with_a_reason() {
        // 12 900 MHz is above the universal LNB's high band: IF 2 300 MHz.
        let e = Lnb::Universal.select(12_900 * MHZ).unwrap_err();
        assert_eq!(e.intermediate_hz, 2_300 * MHZ);
        let text = e.to_string();
        assert!(text.contains("12900 MHz"), "{text}");
        assert!(text.contains("universal"), "{text}");
        assert!(text.contains("2300 MHz"), "{text}");
        // A Ku transponder on a C-band LNB.
        let e = Lnb::Single {
            lo_hz: C_BAND_LO_HZ,
        }
        .select(11_362 * MHZ)
        .unwrap_err();
        assert_eq!(e.intermediate_hz, 6_212 * MHZ);
        assert!(e.to_string().contains("5150 MHz"));
        // A C-band transponder on a universal LNB: the oscillator is above it, IF 5 910.
        assert!(Lnb::Universal.select(3_840 * MHZ).is_err());
        // Just outside: 10 699 MHz → 949 MHz.
        assert!(Lnb::Universal.select(10_699 * MHZ).is_err());
    }
}
