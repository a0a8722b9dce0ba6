//! What a technician sets per tuner: whether the daemon may use it, a label, and how it
//! is cabled to the dish ([`TunerSetup`]: LNB power, Unicable user band).
//!
//! Tuners are hardware the daemon discovers, not records a client creates: a tuner
//! without stored settings is used with [`TunerSettings::new`]'s defaults, and storing
//! settings for a key is an upsert. The key is the tuner's device path below
//! `/dev/dvb`, `adapterN/frontendM`, as the kernel numbers it.

use dvbgate_tuning::sec::TunerSetup;
use dvbgate_tuning::unicable::{UnicableSetup, UnicableStandard};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::StoreError;
use crate::model::MAX_NAME_CHARS;

/// Lowest Unicable user band frequency: the bottom of the satellite IF band.
pub const MIN_USER_BAND_HZ: u64 = 950_000_000;
/// Highest Unicable user band frequency: the top of the satellite IF band.
pub const MAX_USER_BAND_HZ: u64 = 2_150_000_000;

/// Settings of one tuner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunerSettings {
    /// `adapterN/frontendM`.
    pub key: String,
    /// Whether the daemon may use the tuner. False takes it out of service (faulty,
    /// cable unplugged, kept for something else) without unplugging it.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Shown in the UI next to the key ("roof dish, LNB 2"); 1..=128 characters.
    #[serde(default)]
    pub label: Option<String>,
    /// Cabling to the dish; ignored by terrestrial and cable tuners.
    #[serde(default)]
    pub setup: TunerSetup,
}

impl TunerSettings {
    /// The settings a tuner has until someone changes them: enabled, no label, LNB
    /// powered, no Unicable.
    pub fn new(key: impl Into<String>) -> Self {
        TunerSettings {
            key: key.into(),
            enabled: true,
            label: None,
            setup: TunerSetup::default(),
        }
    }
}

/// A change to a tuner's settings; None leaves a field as it is. `label` takes
/// `Some(None)` (JSON `null`) to clear it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TunerPatch {
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub label: Option<Option<String>>,
    pub setup: Option<TunerSetup>,
}

impl TunerPatch {
    pub(crate) fn apply(self, tuner: &mut TunerSettings) {
        let TunerPatch {
            enabled,
            label,
            setup,
        } = self;
        if let Some(enabled) = enabled {
            tuner.enabled = enabled;
        }
        if let Some(label) = label {
            tuner.label = label;
        }
        if let Some(setup) = setup {
            tuner.setup = setup;
        }
    }
}

fn default_true() -> bool {
    true
}

fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The key of frontend `frontend` of adapter `adapter`: `adapter0/frontend0`.
pub fn tuner_key(adapter: u32, frontend: u32) -> String {
    format!("adapter{adapter}/frontend{frontend}")
}

/// (adapter, frontend) of a valid key; None for any other string.
pub(crate) fn tuner_numbers(key: &str) -> Option<(u32, u32)> {
    let (adapter, frontend) = key.strip_prefix("adapter")?.split_once("/frontend")?;
    Some((adapter.parse().ok()?, frontend.parse().ok()?))
}

/// Checks a tuner key: exactly `adapterN/frontendM` with decimal numbers without
/// leading zeros, so that one tuner has one key and a typo is refused rather than
/// stored for a tuner that never appears.
pub fn validate_tuner_key(key: &str) -> Result<(), StoreError> {
    let number = |digits: &str| {
        !digits.is_empty()
            && digits.len() <= 9
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
    };
    let valid = key
        .strip_prefix("adapter")
        .and_then(|rest| rest.split_once("/frontend"))
        .is_some_and(|(adapter, frontend)| number(adapter) && number(frontend));
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "tuner key {key:?} is not of the form adapterN/frontendM (like adapter0/frontend0)"
        )))
    }
}

/// Checks a tuner's settings.
pub fn validate_tuner(tuner: &TunerSettings) -> Result<(), StoreError> {
    validate_tuner_key(&tuner.key)?;
    if let Some(label) = &tuner.label {
        validate_label(&tuner.key, label)?;
    }
    if let Some(unicable) = &tuner.setup.unicable {
        validate_unicable(&tuner.key, unicable)?;
    }
    Ok(())
}

fn validate_label(key: &str, label: &str) -> Result<(), StoreError> {
    let invalid = |why: String| Err(StoreError::Invalid(format!("tuner {key}: {why}")));
    if label.trim().is_empty() {
        return invalid("the label must not be empty (leave it out for none)".into());
    }
    let chars = label.chars().count();
    if chars > MAX_NAME_CHARS {
        return invalid(format!(
            "the label is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"
        ));
    }
    if label.chars().any(char::is_control) {
        return invalid(format!("the label {label:?} contains control characters"));
    }
    Ok(())
}

/// Checks a Unicable setup: the user band exists in its standard, and its frequency
/// lies in the satellite IF band the tuner can receive.
pub fn validate_unicable(key: &str, unicable: &UnicableSetup) -> Result<(), StoreError> {
    let (name, highest) = match unicable.standard {
        UnicableStandard::En50494 => ("EN 50494 (Unicable I)", 7),
        UnicableStandard::En50607 => ("EN 50607 (Unicable II/JESS)", 31),
    };
    if unicable.user_band > highest {
        return Err(StoreError::Invalid(format!(
            "tuner {key}: Unicable user band {} is out of range 0..={highest} for {name}",
            unicable.user_band
        )));
    }
    let hz = unicable.user_band_frequency_hz;
    if !(MIN_USER_BAND_HZ..=MAX_USER_BAND_HZ).contains(&hz) {
        return Err(StoreError::Invalid(format!(
            "tuner {key}: Unicable user band frequency {hz} Hz is outside the satellite IF \
             band 950..=2150 MHz (give it in Hz: 1210 MHz is 1210000000)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(result: Result<(), StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn unicable(standard: UnicableStandard, user_band: u8, mhz: u64) -> TunerSettings {
        TunerSettings {
            setup: TunerSetup {
                lnb_power: true,
                unicable: Some(UnicableSetup {
                    standard,
                    user_band,
                    user_band_frequency_hz: mhz * 1_000_000,
                    pin: None,
                }),
            },
            ..TunerSettings::new("adapter1/frontend0")
        }
    }

    #[test]
    fn keys_are_adapter_n_slash_frontend_m() {
        assert_eq!(tuner_key(0, 0), "adapter0/frontend0");
        for key in [
            "adapter0/frontend0",
            "adapter12/frontend3",
            &tuner_key(999, 7),
        ] {
            validate_tuner_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        for key in [
            "",
            "adapter/frontend0",
            "adapter0/frontend",
            "adapter00/frontend0",
            "adapter0/frontend01",
            "adapter0/frontend0/",
            "adapter0-frontend0",
            " adapter0/frontend0",
            "adapter-1/frontend0",
            "adapter+1/frontend0",
            "adapter1234567890/frontend0",
            "/dev/dvb/adapter0/frontend0",
            "adapter0/fronted0",
        ] {
            let message = invalid(validate_tuner_key(key));
            assert!(message.contains(&format!("{key:?}")), "{message}");
            assert!(message.contains("adapterN/frontendM"), "{message}");
        }
    }

    #[test]
    fn unicable_user_bands_per_standard() {
        use UnicableStandard::{En50494, En50607};
        for (standard, highest) in [(En50494, 7), (En50607, 31)] {
            for band in [0, highest] {
                validate_tuner(&unicable(standard, band, 1210)).expect("in range");
            }
            let message = invalid(validate_tuner(&unicable(standard, highest + 1, 1210)));
            assert!(
                message.starts_with("tuner adapter1/frontend0: Unicable user band"),
                "{message}"
            );
            assert!(message.contains(&format!("0..={highest}")), "{message}");
        }
        assert!(
            invalid(validate_tuner(&unicable(En50494, 8, 1210))).contains("EN 50494"),
            "the message names the standard"
        );
    }

    #[test]
    fn unicable_user_band_frequency_in_the_if_band() {
        use UnicableStandard::En50607;
        validate_tuner(&unicable(En50607, 0, 950)).expect("lowest");
        validate_tuner(&unicable(En50607, 0, 2150)).expect("highest");
        let mut low = unicable(En50607, 0, 950);
        if let Some(setup) = low.setup.unicable.as_mut() {
            setup.user_band_frequency_hz -= 1;
        }
        let message = invalid(validate_tuner(&low));
        assert!(message.contains("949999999 Hz"), "{message}");
        assert!(message.contains("950..=2150 MHz"), "{message}");
        let mut high = unicable(En50607, 0, 2150);
        if let Some(setup) = high.setup.unicable.as_mut() {
            setup.user_band_frequency_hz += 1;
        }
        invalid(validate_tuner(&high));
        // Megahertz where hertz are expected: the hint says how to write it.
        let mut in_mhz = unicable(En50607, 0, 0);
        if let Some(setup) = in_mhz.setup.unicable.as_mut() {
            setup.user_band_frequency_hz = 1210;
        }
        assert!(invalid(validate_tuner(&in_mhz)).contains("1210000000"));
    }

    #[test]
    fn labels() {
        let labelled = |label: &str| TunerSettings {
            label: Some(label.into()),
            ..TunerSettings::new("adapter0/frontend1")
        };
        validate_tuner(&labelled("Roof dish, LNB 2")).expect("valid");
        validate_tuner(&labelled(&"x".repeat(MAX_NAME_CHARS))).expect("longest");
        for (label, why) in [
            ("", "must not be empty"),
            ("  ", "must not be empty"),
            ("a\nb", "control characters"),
        ] {
            let message = invalid(validate_tuner(&labelled(label)));
            assert!(
                message.starts_with("tuner adapter0/frontend1: "),
                "{message}"
            );
            assert!(message.contains(why), "{message}");
        }
        let too_long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(invalid(validate_tuner(&labelled(&too_long))).contains("129 characters"));
        // A bad key is reported before anything else.
        let message = invalid(validate_tuner(&TunerSettings::new("frontend0")));
        assert!(message.contains("\"frontend0\""), "{message}");
    }

    #[test]
    fn json_shapes() {
        let minimal: TunerSettings =
            serde_json::from_str(r#"{"key":"adapter0/frontend0"}"#).expect("minimal");
        assert_eq!(minimal, TunerSettings::new("adapter0/frontend0"));
        assert!(minimal.setup.lnb_power);
        assert!(
            serde_json::from_str::<TunerSettings>(r#"{"key":"adapter0/frontend0","enable":false}"#)
                .is_err(),
            "a typo is refused"
        );
        // The stored form. TunerSetup's serde shape belongs to the tuning crate; this
        // pins it, because a change there would make stored settings undecodable
        // without a store migration.
        let full = unicable(UnicableStandard::En50494, 3, 1420);
        assert_eq!(
            serde_json::to_value(&full).expect("serialize"),
            serde_json::json!({
                "key": "adapter1/frontend0",
                "enabled": true,
                "label": null,
                "setup": {
                    "lnb_power": true,
                    "unicable": {
                        "standard": "en50494",
                        "user_band": 3,
                        "user_band_frequency_hz": 1_420_000_000u64,
                        "pin": null
                    }
                }
            })
        );
        let json = serde_json::to_string(&full).expect("serialize");
        assert_eq!(
            serde_json::from_str::<TunerSettings>(&json).expect("round trip"),
            full
        );

        let mut tuner = TunerSettings {
            label: Some("Roof".into()),
            ..TunerSettings::new("adapter0/frontend0")
        };
        let patch: TunerPatch = serde_json::from_str(r#"{"enabled":false}"#).expect("patch");
        patch.apply(&mut tuner);
        assert!(!tuner.enabled);
        assert_eq!(tuner.label.as_deref(), Some("Roof"), "absent leaves it");
        let clear: TunerPatch = serde_json::from_str(r#"{"label":null}"#).expect("patch");
        clear.apply(&mut tuner);
        assert_eq!(tuner.label, None, "null clears it");
    }
}
