//! Satellite equipment control (SEC): what a tuner does before it tunes a satellite
//! multiplex. A [`SecPlan`] is computed here, purely, from the multiplex and the tuner's
//! cabling; the device layer carries out its steps in order and then tunes the plan's
//! intermediate frequency.
//!
//! For an ordinary LNB, maybe behind switches ([`plan`]):
//!
//! 1. continuous tone off (DiSEqC and the tone burst are sent on a silent line);
//! 2. the voltage for the polarisation (13 V vertical/right, 18 V horizontal/left), which
//!    also powers the LNB and switches; wait 15 ms;
//! 3. DiSEqC 1.1 uncommitted and 1.0 committed commands, 15 ms after each; twice when an
//!    uncommitted switch is involved (see [`crate::diseqc`] on cascades);
//! 4. the mini-DiSEqC tone burst, if a simple A/B switch is used; wait 15 ms;
//! 5. the continuous tone on for the high band, off for the low band.
//!
//! Without any switch, only the voltage and the tone are set.
//!
//! On a Unicable cable: tone off and 13 V (the idle state), then 18 V, 15 ms,
//! the ODU_Channel_change command, 50 ms, back to 13 V; the tuner tunes the frequency the
//! command put the transponder at, near its user band. No tone, no other DiSEqC: the
//! command carries band, polarisation and position.
//!
//! `TunerSetup::lnb_power` does not change the plan: switches and multiswitches select
//! the polarisation by the receiver's voltage even when they have their own supply, so
//! the voltage steps stay; the flag is for the device layer (whether to keep the voltage
//! on when the tuner is idle).

use serde::{Deserialize, Serialize};

use crate::diseqc::{self, DiseqcError, SETTLE_MS, Transmission};
use crate::lnb::LnbError;
use crate::params::{Params, Tuning};
use crate::unicable::{UnicableError, UnicableStandard};

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

/// Wait after raising the voltage before a Unicable command (EN 50494: 4–22 ms).
pub const UNICABLE_BEFORE_MS: u32 = 15;
/// Wait after a Unicable command before lowering the voltage (EN 50494: 2–60 ms after
/// the message's end). Generous: some drivers return before a 5-byte message (67.5 ms on
/// the wire) is fully sent.
pub const UNICABLE_AFTER_MS: u32 = 50;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecError {
    #[error(transparent)]
    Lnb(#[from] LnbError),
    #[error(transparent)]
    Diseqc(#[from] DiseqcError),
    #[error(transparent)]
    Unicable(#[from] UnicableError),
    #[error(
        "{what} cannot be used on a Unicable cable ({standard}): the user band command selects band, polarisation and position by itself"
    )]
    NotOnUnicable {
        what: &'static str,
        standard: UnicableStandard,
    },
}

impl Voltage {
    fn for_polarisation(high: bool) -> Voltage {
        if high { Voltage::V18 } else { Voltage::V13 }
    }
}

/// The steps before tuning `tuning` on a tuner cabled as `setup`, and the frequency the
/// tuner then tunes. A tuning that is not satellite needs no steps: its own frequency.
pub fn plan(tuning: &Tuning, setup: &TunerSetup) -> Result<SecPlan, SecError> {
    let Params::Satellite {
        polarisation,
        lnb,
        switch,
        ..
    } = tuning.params
    else {
        return Ok(SecPlan {
            steps: Vec::new(),
            intermediate_frequency_hz: tuning.frequency_hz,
        });
    };
    let selection = lnb.select(tuning.frequency_hz)?;
    let high_voltage = polarisation.high_voltage();

    if let Some(unicable) = setup.unicable {
        let standard = unicable.standard;
        if switch.uncommitted.is_some() {
            return Err(SecError::NotOnUnicable {
                what: "a DiSEqC 1.1 uncommitted switch",
                standard,
            });
        }
        if switch.tone_burst.is_some() {
            return Err(SecError::NotOnUnicable {
                what: "a tone burst switch",
                standard,
            });
        }
        let change = unicable.channel_change(
            switch.committed.unwrap_or(0),
            high_voltage,
            selection.tone,
            selection.intermediate_frequency_hz,
        )?;
        return Ok(SecPlan {
            steps: vec![
                SecStep::Tone(false),
                SecStep::Voltage(Voltage::V13),
                SecStep::Voltage(Voltage::V18),
                SecStep::Wait(UNICABLE_BEFORE_MS),
                SecStep::Diseqc(change.command),
                SecStep::Wait(UNICABLE_AFTER_MS),
                SecStep::Voltage(Voltage::V13),
            ],
            intermediate_frequency_hz: change.tuner_frequency_hz,
        });
    }

    let voltage = SecStep::Voltage(Voltage::for_polarisation(high_voltage));
    let mut steps = Vec::new();
    let switched =
        switch.committed.is_some() || switch.uncommitted.is_some() || switch.tone_burst.is_some();
    if !switched {
        steps.push(voltage);
    } else {
        steps.extend([SecStep::Tone(false), voltage, SecStep::Wait(SETTLE_MS)]);
        let rounds: &[Transmission] = if switch.uncommitted.is_some() {
            &[Transmission::First, Transmission::Repeat]
        } else {
            &[Transmission::First]
        };
        for &transmission in rounds {
            if let Some(port) = switch.uncommitted {
                let command = diseqc::uncommitted(port, transmission)?;
                steps.extend([SecStep::Diseqc(command.to_vec()), SecStep::Wait(SETTLE_MS)]);
            }
            if let Some(port) = switch.committed {
                let command = diseqc::committed(port, high_voltage, selection.tone, transmission)?;
                steps.extend([SecStep::Diseqc(command.to_vec()), SecStep::Wait(SETTLE_MS)]);
            }
        }
        if let Some(b) = switch.tone_burst {
            steps.extend([SecStep::Burst(b), SecStep::Wait(SETTLE_MS)]);
        }
    }
    steps.push(SecStep::Tone(selection.tone));
    Ok(SecPlan {
        steps,
        intermediate_frequency_hz: selection.intermediate_frequency_hz,
    })
}

#[cfg(test)]
mod tests {
    use super::SecStep::*;
    use super::*;
    use crate::unicable::UnicableSetup;

    const MHZ: u64 = 1_000_000;

    fn tuning(url: &str) -> Tuning {
        url.parse().unwrap()
    }

    fn plain() -> TunerSetup {
        TunerSetup::default()
    }

    #[test]
    fn astra_on_a_universal_lnb() {
        // 11 362 MHz H: 18 V, low band (tone off), IF 11 362 − 9 750 = 1 612 MHz.
        let p = plan(
            &tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000"),
            &plain(),
        )
        .unwrap();
        assert_eq!(p.intermediate_frequency_hz, 1612 * MHZ);
        assert_eq!(p.steps, vec![Voltage(super::Voltage::V18), Tone(false)]);
        // 12 552 MHz V: 13 V, high band (tone on), IF 12 552 − 10 600 = 1 952 MHz.
        let p = plan(
            &tuning("dvb-s2://12552MHz?polarisation=v&symbol_rate=22000000"),
            &plain(),
        )
        .unwrap();
        assert_eq!(p.intermediate_frequency_hz, 1952 * MHZ);
        assert_eq!(p.steps, vec![Voltage(super::Voltage::V13), Tone(true)]);
        // Circular left is selected like horizontal, right like vertical.
        let p = plan(
            &tuning("dvb-s://11727MHz?polarisation=l&symbol_rate=27500000"),
            &plain(),
        )
        .unwrap();
        assert_eq!(p.steps, vec![Voltage(super::Voltage::V18), Tone(true)]);
    }

    #[test]
    fn committed_port_two() {
        // Port 2 (0-based 1) = position B: E0 10 38 F4, plus horizontal (bit 1) = F6 for
        // 11 362 H low band; plus high band (bit 0) = F7 for 12 552 H.
        let p = plan(
            &tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=2"),
            &plain(),
        )
        .unwrap();
        assert_eq!(
            p.steps,
            vec![
                Tone(false),
                Voltage(super::Voltage::V18),
                Wait(15),
                Diseqc(vec![0xE0, 0x10, 0x38, 0xF6]),
                Wait(15),
                Tone(false),
            ]
        );
        let p = plan(
            &tuning("dvb-s2://12552MHz?polarisation=h&symbol_rate=22000000&diseqc=2"),
            &plain(),
        )
        .unwrap();
        assert_eq!(p.steps[3], Diseqc(vec![0xE0, 0x10, 0x38, 0xF7]));
        assert_eq!(p.steps.last(), Some(&Tone(true)));
        // Port 4, vertical, low band: options B + position B = FC.
        let p = plan(
            &tuning("dvb-s2://11362MHz?polarisation=v&symbol_rate=22000000&diseqc=4"),
            &plain(),
        )
        .unwrap();
        assert_eq!(p.steps[3], Diseqc(vec![0xE0, 0x10, 0x38, 0xFC]));
    }

    #[test]
    fn cascades_are_sent_twice_and_bursts_last() {
        // Uncommitted port 3 (0-based 2) with committed port 1, vertical, high band, and
        // a tone burst B behind them.
        let p = plan(
            &tuning(
                "dvb-s2://12552MHz?polarisation=v&symbol_rate=22000000&diseqc=1&uncommitted=3&burst=b",
            ),
            &plain(),
        )
        .unwrap();
        assert_eq!(
            p.steps,
            vec![
                Tone(false),
                Voltage(super::Voltage::V13),
                Wait(15),
                Diseqc(vec![0xE0, 0x10, 0x39, 0xF2]),
                Wait(15),
                Diseqc(vec![0xE0, 0x10, 0x38, 0xF1]),
                Wait(15),
                Diseqc(vec![0xE1, 0x10, 0x39, 0xF2]),
                Wait(15),
                Diseqc(vec![0xE1, 0x10, 0x38, 0xF1]),
                Wait(15),
                Burst(true),
                Wait(15),
                Tone(true),
            ]
        );
        // Burst A alone.
        let p = plan(
            &tuning("dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&burst=a"),
            &plain(),
        )
        .unwrap();
        assert_eq!(
            p.steps,
            vec![
                Tone(false),
                Voltage(super::Voltage::V18),
                Wait(15),
                Burst(false),
                Wait(15),
                Tone(false),
            ]
        );
    }

    #[test]
    fn unicable_plans() {
        // EN 50494, user band 0 at 1 210 MHz, 11 362 H (IF 1 612, low band):
        // T = round((1612 + 1210) / 4) − 350 = 356 → E0 10 5A 09 64; the tuner tunes
        // (356 + 350) × 4 − 1612 = 1 212 MHz.
        let setup = TunerSetup {
            lnb_power: true,
            unicable: Some(UnicableSetup {
                standard: UnicableStandard::En50494,
                user_band: 0,
                user_band_frequency_hz: 1210 * MHZ,
                pin: None,
            }),
        };
        let t = tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000");
        let p = plan(&t, &setup).unwrap();
        assert_eq!(
            p.steps,
            vec![
                Tone(false),
                Voltage(super::Voltage::V13),
                Voltage(super::Voltage::V18),
                Wait(15),
                Diseqc(vec![0xE0, 0x10, 0x5A, 0x09, 0x64]),
                Wait(50),
                Voltage(super::Voltage::V13),
            ]
        );
        assert_eq!(p.intermediate_frequency_hz, 1212 * MHZ);
        // EN 50607, user band 2 at 1 420 MHz, position 2 (diseqc=2), same transponder:
        // T = 1612 − 100 = 1512 = 0x5E8; d1 = 00010 | 101 = 0x15, d2 = E8,
        // d3 = 000001 | 1 | 0 = 0x06.
        let setup = TunerSetup {
            lnb_power: false,
            unicable: Some(UnicableSetup {
                standard: UnicableStandard::En50607,
                user_band: 2,
                user_band_frequency_hz: 1420 * MHZ,
                pin: None,
            }),
        };
        let t = tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=2");
        let p = plan(&t, &setup).unwrap();
        assert_eq!(p.steps[4], Diseqc(vec![0x70, 0x15, 0xE8, 0x06]));
        assert_eq!(p.intermediate_frequency_hz, 1420 * MHZ);
        // Unicable takes neither an uncommitted switch nor a tone burst.
        let t = tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&uncommitted=1");
        assert!(matches!(
            plan(&t, &setup),
            Err(SecError::NotOnUnicable { .. })
        ));
        let t = tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&burst=a");
        let e = plan(&t, &setup).unwrap_err();
        assert!(e.to_string().contains("tone burst"), "{e}");
        // Position 3 is beyond EN 50494's two.
        let setup = TunerSetup {
            lnb_power: true,
            unicable: Some(UnicableSetup {
                standard: UnicableStandard::En50494,
                user_band: 0,
                user_band_frequency_hz: 1210 * MHZ,
                pin: None,
            }),
        };
        let t = tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=3");
        assert!(matches!(plan(&t, &setup), Err(SecError::Unicable(_))));
    }

    #[test]
    fn errors_and_non_satellite() {
        // Diseqc 5 is a Unicable II position, not a port of a DiSEqC 1.0 switch.
        let t = tuning("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=5");
        let e = plan(&t, &plain()).unwrap_err();
        assert!(matches!(
            e,
            SecError::Diseqc(DiseqcError::CommittedPort { port: 4 })
        ));
        // A C-band transponder on the default universal LNB.
        let t = tuning("dvb-s://3840MHz?polarisation=r&symbol_rate=27500000");
        let e = plan(&t, &plain()).unwrap_err();
        assert!(e.to_string().contains("3840 MHz"), "{e}");
        // …and on a C-band LNB: IF 5 150 − 3 840 = 1 310 MHz, 13 V, no tone.
        let t = tuning("dvb-s://3840MHz?polarisation=r&symbol_rate=27500000&lnb=c-band");
        let p = plan(&t, &plain()).unwrap();
        assert_eq!(p.intermediate_frequency_hz, 1310 * MHZ);
        assert_eq!(p.steps, vec![Voltage(super::Voltage::V13), Tone(false)]);
        // Terrestrial: nothing to do, the frequency itself.
        let t = tuning("dvb-t://474MHz?bandwidth=8MHz");
        assert_eq!(
            plan(&t, &plain()).unwrap(),
            SecPlan {
                steps: vec![],
                intermediate_frequency_hz: 474 * MHZ
            }
        );
    }
}
