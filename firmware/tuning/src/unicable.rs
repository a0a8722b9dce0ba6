//! Unicable (single-cable distribution): several tuners share one coaxial cable; each has
//! its own *user band* (a fixed intermediate frequency) and asks the LNB or switch to put
//! the wanted transponder there with a DiSEqC command. EN 50494 ("Unicable I", 8 user
//! bands, 2 positions) and EN 50607 ("Unicable II"/JESS, 32 user bands, 64 positions).
//!
//! The command, ODU_Channel_change, names the user band, the *bank* (which LNB output:
//! position, polarisation, band) and a tuning word T for the transponder's intermediate
//! frequency f_IF, i.e. where a plain universal LNB would have put it:
//!
//! - EN 50494: `E0 10 5A d1 d2` (with a PIN: `E0 10 5C d1 d2 pin`), where
//!   `d1 = user band (3 bits) | position (1) | horizontal (1) | high band (1) | T bits 9–8`,
//!   `d2 = T bits 7–0`, and T = round((f_IF + f_UB) / 4 MHz) − 350 (10 bits). The
//!   converter's oscillator then runs at (T + 350) × 4 MHz and puts the transponder at
//!   (T + 350) × 4 MHz − f_IF: the user band's frequency to within ±2 MHz of rounding, so
//!   the tuner tunes that exact frequency rather than the nominal one.
//! - EN 50607: `70 d1 d2 d3` (with a PIN: `71 d1 d2 d3 pin`; no framing or address byte),
//!   where `d1 = user band (5 bits) | T bits 10–8`, `d2 = T bits 7–0`,
//!   `d3 = position (6 bits) | horizontal (1) | high band (1)`, and T = f_IF in MHz − 100
//!   (11 bits, 1 MHz steps). The transponder arrives at the user band frequency (within
//!   ±0.5 MHz), which the tuner tunes.
//!
//! The cable idles at 13 V with no tone; a command is sent at 18 V (EN 50494: raise the
//! voltage 4–22 ms before, lower it 2–60 ms after). Several tuners on one cable may talk
//! at once: detecting a collision and retrying after a random delay is the device layer's
//! business, which alone knows the other tuners.

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

impl UnicableStandard {
    /// How many user bands the standard addresses.
    pub fn user_bands(self) -> u8 {
        match self {
            UnicableStandard::En50494 => 8,
            UnicableStandard::En50607 => 32,
        }
    }

    /// How many satellite positions the standard addresses.
    pub fn positions(self) -> u8 {
        match self {
            UnicableStandard::En50494 => 2,
            UnicableStandard::En50607 => 64,
        }
    }

    /// The largest tuning word T.
    pub fn max_tuning_word(self) -> u16 {
        match self {
            UnicableStandard::En50494 => 1023,
            UnicableStandard::En50607 => 2047,
        }
    }
}

impl std::fmt::Display for UnicableStandard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnicableStandard::En50494 => "EN 50494 (Unicable I)",
            UnicableStandard::En50607 => "EN 50607 (Unicable II)",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnicableError {
    #[error(
        "{standard}: user band {user_band} does not exist (user bands are counted from 0: 0–{})",
        standard.user_bands() - 1
    )]
    UserBand {
        standard: UnicableStandard,
        user_band: u8,
    },
    #[error(
        "{standard}: user band frequency {} is outside the 950–2150 MHz a tuner receives",
        crate::params::format_mhz(*hz)
    )]
    UserBandFrequency { standard: UnicableStandard, hz: u64 },
    #[error(
        "{standard}: satellite position {} does not exist (1–{})",
        u16::from(*position) + 1,
        standard.positions()
    )]
    Position {
        standard: UnicableStandard,
        position: u8,
    },
    #[error(
        "{standard}: intermediate frequency {} on the user band at {} gives tuning word {word}, outside 0–{}",
        crate::params::format_mhz(*intermediate_hz),
        crate::params::format_mhz(*user_band_hz),
        standard.max_tuning_word()
    )]
    TuningWord {
        standard: UnicableStandard,
        intermediate_hz: u64,
        user_band_hz: u64,
        word: i64,
    },
}

/// An ODU_Channel_change command and what the tuner tunes after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelChange {
    /// The DiSEqC message: 5 bytes (EN 50494; 6 with a PIN) or 4 (EN 50607; 5 with a PIN).
    pub command: Vec<u8>,
    /// The tuning word T in the command.
    pub tuning_word: u16,
    /// The frequency the tuner tunes, Hz.
    pub tuner_frequency_hz: u64,
}

/// EN 50494 command bytes (after framing `E0` and address `10`).
const EN50494_CHANGE: u8 = 0x5A;
const EN50494_CHANGE_PIN: u8 = 0x5C;
/// EN 50607 commands replace the framing byte.
const EN50607_CHANGE: u8 = 0x70;
const EN50607_CHANGE_PIN: u8 = 0x71;

impl UnicableSetup {
    /// Checks the user band's number and frequency.
    pub fn check(&self) -> Result<(), UnicableError> {
        let standard = self.standard;
        if self.user_band >= standard.user_bands() {
            return Err(UnicableError::UserBand {
                standard,
                user_band: self.user_band,
            });
        }
        if !(crate::lnb::IF_MIN_HZ..=crate::lnb::IF_MAX_HZ).contains(&self.user_band_frequency_hz) {
            return Err(UnicableError::UserBandFrequency {
                standard,
                hz: self.user_band_frequency_hz,
            });
        }
        Ok(())
    }

    /// The command that puts the transponder of intermediate frequency `intermediate_hz`
    /// (as a universal LNB's `band` and polarisation would give it) from satellite
    /// `position` (0-based) onto this tuner's user band.
    pub fn channel_change(
        &self,
        position: u8,
        horizontal: bool,
        high_band: bool,
        intermediate_hz: u64,
    ) -> Result<ChannelChange, UnicableError> {
        self.check()?;
        let standard = self.standard;
        if position >= standard.positions() {
            return Err(UnicableError::Position { standard, position });
        }
        let ub = self.user_band;
        let ub_hz = self.user_band_frequency_hz;
        let word_error = |word: i64| UnicableError::TuningWord {
            standard,
            intermediate_hz,
            user_band_hz: ub_hz,
            word,
        };
        // In kHz, rounding half up: T = round((f_IF + f_UB) / 4 MHz) − 350, or
        // T = round(f_IF / 1 MHz) − 100.
        let if_khz = i64::try_from(intermediate_hz / 1000).map_err(|_| word_error(i64::MAX))?;
        let ub_khz = i64::try_from(ub_hz / 1000).map_err(|_| word_error(i64::MAX))?;
        let word = match standard {
            UnicableStandard::En50494 => (if_khz + ub_khz + 2_000) / 4_000 - 350,
            UnicableStandard::En50607 => (if_khz + 500) / 1_000 - 100,
        };
        let t = u16::try_from(word)
            .ok()
            .filter(|t| *t <= standard.max_tuning_word())
            .ok_or_else(|| word_error(word))?;
        let [t_high, t_low] = t.to_be_bytes();
        let (command, tuner_frequency_hz) = match standard {
            UnicableStandard::En50494 => {
                let bank = (u8::from(position == 1) << 2)
                    | (u8::from(horizontal) << 1)
                    | u8::from(high_band);
                let d1 = (ub << 5) | (bank << 2) | t_high;
                let mut command = vec![
                    crate::diseqc::FRAMING_FIRST,
                    crate::diseqc::ADDRESS_ANY_SWITCH,
                    if self.pin.is_some() {
                        EN50494_CHANGE_PIN
                    } else {
                        EN50494_CHANGE
                    },
                    d1,
                    t_low,
                ];
                command.extend(self.pin);
                let oscillator_hz = (u64::from(t) + 350) * 4_000_000;
                // The oscillator is above the IF, so this cannot underflow: T was
                // rounded from (IF + UB) / 4 with UB ≥ 950 MHz.
                (command, oscillator_hz.saturating_sub(intermediate_hz))
            }
            UnicableStandard::En50607 => {
                let d1 = (ub << 3) | t_high;
                let d3 = (position << 2) | (u8::from(horizontal) << 1) | u8::from(high_band);
                let mut command = vec![
                    if self.pin.is_some() {
                        EN50607_CHANGE_PIN
                    } else {
                        EN50607_CHANGE
                    },
                    d1,
                    t_low,
                    d3,
                ];
                command.extend(self.pin);
                (command, ub_hz)
            }
        };
        Ok(ChannelChange {
            command,
            tuning_word: t,
            tuner_frequency_hz,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MHZ: u64 = 1_000_000;

    fn setup(
        standard: UnicableStandard,
        user_band: u8,
        mhz: u64,
        pin: Option<u8>,
    ) -> UnicableSetup {
        UnicableSetup {
            standard,
            user_band,
            user_band_frequency_hz: mhz * MHZ,
            pin,
        }
    }

    #[test]
    fn en50494_astra_11362_h() {
        // 11 362 MHz H on a universal LNB: low band, IF 1 612 MHz. User band 0 at
        // 1 210 MHz. T = round((1612 + 1210) / 4) − 350 = round(705.5) − 350 = 356 =
        // 0x164. Bank: position A (0), horizontal (1), low band (0) = 0b010.
        // d1 = 000 | 010 | 01 = 0x09, d2 = 0x64.
        let c = setup(UnicableStandard::En50494, 0, 1210, None)
            .channel_change(0, true, false, 1612 * MHZ)
            .unwrap();
        assert_eq!(c.tuning_word, 356);
        assert_eq!(c.command, vec![0xE0, 0x10, 0x5A, 0x09, 0x64]);
        // The converter runs at (356 + 350) × 4 = 2 824 MHz: 2 824 − 1 612 = 1 212 MHz.
        assert_eq!(c.tuner_frequency_hz, 1212 * MHZ);
    }

    #[test]
    fn en50494_user_band_bank_and_pin() {
        // User band 1 at 1 420 MHz, 12 552 MHz V: high band, IF 1 952 MHz, position B.
        // T = round((1952 + 1420) / 4) − 350 = 843 − 350 = 493 = 0x1ED.
        // Bank: position B (1), vertical (0), high (1) = 0b101.
        // d1 = 001 | 101 | 01 = 0x35, d2 = 0xED; with PIN 0x42 the command is 5C.
        let c = setup(UnicableStandard::En50494, 1, 1420, Some(0x42))
            .channel_change(1, false, true, 1952 * MHZ)
            .unwrap();
        assert_eq!(c.tuning_word, 493);
        assert_eq!(c.command, vec![0xE0, 0x10, 0x5C, 0x35, 0xED, 0x42]);
        // (493 + 350) × 4 = 3 372 MHz, − 1 952 = 1 420 MHz: no rounding here.
        assert_eq!(c.tuner_frequency_hz, 1420 * MHZ);
        // User band 7, the last: its bits are the top three of d1.
        let c = setup(UnicableStandard::En50494, 7, 1210, None)
            .channel_change(0, false, false, 1100 * MHZ)
            .unwrap();
        // T = round(2310 / 4) − 350 = round(577.5) − 350 = 228 = 0x0E4.
        assert_eq!(c.command, vec![0xE0, 0x10, 0x5A, 0xE0, 0xE4]);
        assert_eq!(c.tuner_frequency_hz, (578 * 4 - 1100) * MHZ);
    }

    #[test]
    fn en50607_commands() {
        // Same transponder (IF 1 612 MHz, H, low band), user band 0 at 1 210 MHz:
        // T = 1612 − 100 = 1512 = 0x5E8. d1 = 00000 | 101 = 0x05, d2 = 0xE8,
        // d3 = position 0 | H | low = 0b10 = 0x02.
        let c = setup(UnicableStandard::En50607, 0, 1210, None)
            .channel_change(0, true, false, 1612 * MHZ)
            .unwrap();
        assert_eq!(c.tuning_word, 1512);
        assert_eq!(c.command, vec![0x70, 0x05, 0xE8, 0x02]);
        assert_eq!(c.tuner_frequency_hz, 1210 * MHZ);
        // User band 31, position 64 (0-based 63), V high band, IF 1 952.4 MHz (rounds
        // to 1 952): T = 1852 = 0x73C; d1 = 11111 | 111 = 0xFF, d2 = 0x3C,
        // d3 = 111111 | 0 | 1 = 0xFD; PIN 7.
        let c = setup(UnicableStandard::En50607, 31, 2000, Some(7))
            .channel_change(63, false, true, 1_952_400_000)
            .unwrap();
        assert_eq!(c.tuning_word, 1852);
        assert_eq!(c.command, vec![0x71, 0xFF, 0x3C, 0xFD, 0x07]);
        // 1 952.5 MHz rounds up.
        let c = setup(UnicableStandard::En50607, 0, 1210, None)
            .channel_change(0, false, false, 1_952_500_000)
            .unwrap();
        assert_eq!(c.tuning_word, 1853);
    }

    #[test]
    fn ranges_are_checked() {
        let e = setup(UnicableStandard::En50494, 8, 1210, None)
            .channel_change(0, true, false, 1612 * MHZ)
            .unwrap_err();
        assert_eq!(
            e,
            UnicableError::UserBand {
                standard: UnicableStandard::En50494,
                user_band: 8
            }
        );
        assert!(e.to_string().contains("0–7"), "{e}");
        assert!(
            setup(UnicableStandard::En50607, 31, 1210, None)
                .check()
                .is_ok()
        );
        assert!(
            setup(UnicableStandard::En50607, 32, 1210, None)
                .check()
                .is_err()
        );
        let e = setup(UnicableStandard::En50494, 0, 2200, None)
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("2200 MHz"), "{e}");
        let e = setup(UnicableStandard::En50494, 0, 1210, None)
            .channel_change(2, true, false, 1612 * MHZ)
            .unwrap_err();
        assert!(
            e.to_string().contains("position 3 does not exist (1–2)"),
            "{e}"
        );
        assert!(
            setup(UnicableStandard::En50607, 0, 1210, None)
                .channel_change(64, true, false, 1612 * MHZ)
                .is_err()
        );
        // A tuning word below 0: EN 50494 with an IF far below the L band,
        // round((100 + 950) / 4) − 350 = round(262.5) − 350 = −87.
        let e = setup(UnicableStandard::En50494, 0, 950, None)
            .channel_change(0, true, false, 100 * MHZ)
            .unwrap_err();
        assert!(
            matches!(e, UnicableError::TuningWord { word: -87, .. }),
            "{e:?}"
        );
        // Above 1023: IF 2 150 + UB 2 150 → round(1075) − 350 = 725, fine; the 10-bit
        // limit needs an IF no LNB produces, 5 000 MHz.
        let e = setup(UnicableStandard::En50494, 0, 2150, None)
            .channel_change(0, true, false, 5000 * MHZ)
            .unwrap_err();
        assert!(e.to_string().contains("outside 0–1023"), "{e}");
        // EN 50607: IF 2 200 MHz → 2 100, fine for 11 bits; 2 148 + 100 … the limit is
        // 2 147 MHz.
        assert!(
            setup(UnicableStandard::En50607, 0, 1210, None)
                .channel_change(0, true, false, 2147 * MHZ)
                .is_ok()
        );
        assert!(
            setup(UnicableStandard::En50607, 0, 1210, None)
                .channel_change(0, true, false, 2148 * MHZ)
                .is_err()
        );
    }
}
