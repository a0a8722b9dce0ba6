//! What a frontend can tune, as its driver says (`FE_GET_INFO` and the delivery systems it
//! lists), and whether a tuning fits.

use crate::params::{DeliverySystem, Params, Tuning, format_mhz};
use serde::{Deserialize, Serialize};

/// A frontend's abilities. Frequencies in Hz; for satellite frontends the range is that
/// of the intermediate frequency (950–2150 MHz typically).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontendCaps {
    /// The driver's name for the frontend.
    pub name: String,
    pub systems: Vec<DeliverySystem>,
    pub frequency_min_hz: u64,
    pub frequency_max_hz: u64,
    pub symbol_rate_min: u32,
    pub symbol_rate_max: u32,
}

/// Why a tuning does not fit a frontend. The messages name the parameter and the limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapsError {
    #[error("{frontend} does not receive {system} (it receives {supported})")]
    System {
        frontend: String,
        system: DeliverySystem,
        supported: String,
    },
    #[error(
        "{frontend}: frequency {} is outside its range {}–{}{note}",
        format_mhz(*value),
        format_mhz(*min),
        format_mhz(*max)
    )]
    Frequency {
        frontend: String,
        value: u64,
        min: u64,
        max: u64,
        /// For satellite: which intermediate frequency it was.
        note: String,
    },
    #[error("{frontend}: symbol rate {value} is outside its range {min}..={max}")]
    SymbolRate {
        frontend: String,
        value: u32,
        min: u32,
        max: u32,
    },
}

impl FrontendCaps {
    pub fn supports(&self, system: DeliverySystem) -> bool {
        self.systems.contains(&system)
    }

    /// Whether `tuning` fits. `tuned_hz` is the frequency the frontend itself would tune:
    /// the tuning's own, or for satellite the intermediate frequency of its SEC plan.
    pub fn check(&self, tuning: &Tuning, tuned_hz: u64) -> Result<(), CapsError> {
        if !self.supports(tuning.system) {
            return Err(CapsError::System {
                frontend: self.name.clone(),
                system: tuning.system,
                supported: self
                    .systems
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // A driver that reports no range (0..0) is not second-guessed.
        if self.frequency_max_hz > 0
            && !(self.frequency_min_hz..=self.frequency_max_hz).contains(&tuned_hz)
        {
            return Err(CapsError::Frequency {
                frontend: self.name.clone(),
                value: tuned_hz,
                min: self.frequency_min_hz,
                max: self.frequency_max_hz,
                note: if tuned_hz != tuning.frequency_hz {
                    format!(
                        " (intermediate frequency for the transponder at {} Hz)",
                        tuning.frequency_hz
                    )
                } else {
                    String::new()
                },
            });
        }
        let symbol_rate = match tuning.params {
            Params::Cable { symbol_rate, .. } | Params::Satellite { symbol_rate, .. } => {
                Some(symbol_rate)
            }
            _ => None,
        };
        if let Some(value) = symbol_rate
            && self.symbol_rate_max > 0
            && !(self.symbol_rate_min..=self.symbol_rate_max).contains(&value)
        {
            return Err(CapsError::SymbolRate {
                frontend: self.name.clone(),
                value,
                min: self.symbol_rate_min,
                max: self.symbol_rate_max,
            });
        }
        Ok(())
    }
}
