//! Arbitrary bytes as an initial-tuning file (dvbv5 or legacy) and as a tuning URL.
//! Beyond not panicking: every tuning either gives has a canonical URL that parses back
//! to the same tuning, and satellite equipment control can be planned for it.
#![no_main]

use dvbgate_tuning::Tuning;
use dvbgate_tuning::sec::{TunerSetup, plan};
use dvbgate_tuning::unicable::{UnicableSetup, UnicableStandard};

fn check(tuning: &Tuning) {
    let url = tuning.to_string();
    assert_eq!(url.parse::<Tuning>().as_ref(), Ok(tuning), "{url}");
    let _ = tuning.summary();
    let setups = [
        TunerSetup::default(),
        TunerSetup {
            lnb_power: true,
            unicable: Some(UnicableSetup {
                standard: UnicableStandard::En50494,
                user_band: 3,
                user_band_frequency_hz: 1_680_000_000,
                pin: None,
            }),
        },
        TunerSetup {
            lnb_power: false,
            unicable: Some(UnicableSetup {
                standard: UnicableStandard::En50607,
                user_band: 31,
                user_band_frequency_hz: 2_000_000_000,
                pin: Some(200),
            }),
        },
    ];
    for setup in &setups {
        if let Ok(p) = plan(tuning, setup) {
            assert!(p.steps.len() <= 16, "{url}: {:?}", p.steps);
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(file) = dvbgate_tuning::file::parse(data) {
        assert!(file.warnings.len() <= dvbgate_tuning::file::MAX_WARNINGS + 1);
        for tuning in &file.tunings {
            check(tuning);
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(tuning) = text.parse::<Tuning>()
    {
        check(&tuning);
    }
});
