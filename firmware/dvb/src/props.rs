//! A tuning as the kernel's DVBv5 property list (`DTV_FREQUENCY = …`, `DTV_MODULATION =
//! …`), built without touching a device so that it can be tested.
//!
//! Every property the kernel keeps for the delivery system is set, each time: a value
//! left out would keep whatever the previous tuning (or libdvbv5's reset to 0, which
//! means QPSK, FEC none…) put there. A parameter the tuning leaves open (`None`) becomes
//! the kernel's AUTO. Frequencies go in Hz, except satellite ones, which the kernel wants
//! in kHz: there the frequency is the intermediate frequency of the SEC plan, not the
//! transponder's.

use dvbgate_tuning::DeliverySystem;
use dvbgate_tuning::params::{
    CodeRate, GuardInterval, Hierarchy, Modulation, Params, Rolloff, TransmissionMode, Tuning,
};
use dvbv5_sys as ffi;

use crate::error::PropertyError;

/// One DVBv5 property: a `DTV_*` command and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Property {
    pub cmd: u32,
    pub value: u32,
}

impl std::fmt::Display for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}", command_name(self.cmd), self.value)
    }
}

/// libdvbv5's name of a property command (`STREAM_ID`), for messages.
pub fn command_name(cmd: u32) -> String {
    let Ok(cmd_int) = i32::try_from(cmd) else {
        return format!("#{cmd}");
    };
    // SAFETY: dvb_cmd_name only indexes libdvbv5's static name tables (bounds-checked
    // there) and returns a static string or NULL.
    let name = unsafe { ffi::dvb_cmd_name(cmd_int) };
    if name.is_null() {
        return format!("#{cmd}");
    }
    // SAFETY: non-null pointers from dvb_cmd_name are NUL-terminated static strings.
    unsafe { std::ffi::CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

/// The properties that tune `tuning`, `tuned_hz` being the frequency the frontend itself
/// tunes (the tuning's own, or for satellite the SEC plan's intermediate frequency).
pub fn tuning_properties(tuning: &Tuning, tuned_hz: u64) -> Result<Vec<Property>, PropertyError> {
    use ffi::{
        DTV_BANDWIDTH_HZ, DTV_CODE_RATE_HP, DTV_CODE_RATE_LP, DTV_FREQUENCY, DTV_GUARD_INTERVAL,
        DTV_HIERARCHY, DTV_INNER_FEC, DTV_INVERSION, DTV_MODULATION, DTV_PILOT, DTV_ROLLOFF,
        DTV_STREAM_ID, DTV_SYMBOL_RATE, DTV_TRANSMISSION_MODE,
    };
    let system = tuning.system;
    let p = |cmd, value| Property { cmd, value };
    let inversion = p(DTV_INVERSION, ffi::fe_spectral_inversion::INVERSION_AUTO);
    let not_applicable = |parameter, why| PropertyError::NotApplicable {
        system,
        parameter,
        why,
    };
    let mismatch = |params| PropertyError::Mismatch { system, params };

    let props = match (system, tuning.params) {
        (
            DeliverySystem::DvbT | DeliverySystem::DvbT2,
            Params::Terrestrial {
                bandwidth_hz,
                modulation,
                code_rate_hp,
                code_rate_lp,
                transmission_mode,
                guard_interval,
                hierarchy,
                plp_id,
            },
        ) => {
            let mut props = vec![
                p(DTV_FREQUENCY, hz(tuned_hz)?),
                p(DTV_BANDWIDTH_HZ, bandwidth_hz),
                p(
                    DTV_MODULATION,
                    modulation.map_or(ffi::fe_modulation::QAM_AUTO, kernel_modulation),
                ),
                p(DTV_CODE_RATE_HP, code_rate(code_rate_hp)),
                p(DTV_CODE_RATE_LP, code_rate(code_rate_lp)),
                p(DTV_TRANSMISSION_MODE, transmission(transmission_mode)),
                p(DTV_GUARD_INTERVAL, guard(guard_interval)),
                p(DTV_HIERARCHY, hierarchy_value(hierarchy)),
                inversion,
            ];
            if system == DeliverySystem::DvbT2 {
                props.push(p(
                    DTV_STREAM_ID,
                    plp_id.map_or(ffi::NO_STREAM_ID_FILTER, u32::from),
                ));
            } else if plp_id.is_some() {
                return Err(not_applicable("PLP", "physical layer pipes are DVB-T2's"));
            }
            props
        }
        (
            DeliverySystem::DvbC,
            Params::Cable {
                symbol_rate,
                modulation,
                fec,
            },
        ) => vec![
            p(DTV_FREQUENCY, hz(tuned_hz)?),
            p(DTV_SYMBOL_RATE, symbol_rate),
            p(
                DTV_MODULATION,
                modulation.map_or(ffi::fe_modulation::QAM_AUTO, kernel_modulation),
            ),
            p(DTV_INNER_FEC, code_rate(fec)),
            inversion,
        ],
        // Annex B fixes symbol rate and FEC by its modulation; the kernel keeps only these.
        (DeliverySystem::DvbCAnnexB, Params::Cable { modulation, .. }) => vec![
            p(DTV_FREQUENCY, hz(tuned_hz)?),
            p(
                DTV_MODULATION,
                modulation.map_or(ffi::fe_modulation::QAM_AUTO, kernel_modulation),
            ),
        ],
        (
            DeliverySystem::DvbS | DeliverySystem::DvbS2,
            Params::Satellite {
                symbol_rate,
                fec,
                modulation,
                rolloff,
                stream_id,
                ..
            },
        ) => {
            let khz = tuned_hz / 1000;
            let mut props = vec![
                p(
                    DTV_FREQUENCY,
                    u32::try_from(khz)
                        .map_err(|_| PropertyError::FrequencyTooLarge { hz: tuned_hz })?,
                ),
                p(DTV_SYMBOL_RATE, symbol_rate),
                p(DTV_INNER_FEC, code_rate(fec)),
                inversion,
            ];
            if system == DeliverySystem::DvbS2 {
                props.extend([
                    p(
                        DTV_MODULATION,
                        modulation.map_or(ffi::fe_modulation::QAM_AUTO, kernel_modulation),
                    ),
                    p(DTV_PILOT, ffi::fe_pilot::PILOT_AUTO),
                    p(
                        DTV_ROLLOFF,
                        rolloff.map_or(ffi::fe_rolloff::ROLLOFF_AUTO, kernel_rolloff),
                    ),
                    p(
                        DTV_STREAM_ID,
                        stream_id.map_or(ffi::NO_STREAM_ID_FILTER, u32::from),
                    ),
                ]);
            } else {
                // DVB-S is QPSK with roll-off 0.35 and one stream; the kernel has no
                // property for them, so anything else cannot be what was meant.
                if modulation.is_some_and(|m| m != Modulation::Qpsk) {
                    return Err(not_applicable(
                        "modulation",
                        "DVB-S is always QPSK; use DVB-S2",
                    ));
                }
                if rolloff.is_some_and(|r| r != Rolloff::R35) {
                    return Err(not_applicable(
                        "roll-off",
                        "DVB-S is always 0.35; use DVB-S2",
                    ));
                }
                if stream_id.is_some() {
                    return Err(not_applicable("stream id", "multistream is DVB-S2's"));
                }
            }
            props
        }
        (DeliverySystem::Atsc, Params::Atsc { modulation }) => vec![
            p(DTV_FREQUENCY, hz(tuned_hz)?),
            // Broadcast ATSC is 8-VSB; drivers refuse an AUTO modulation for it.
            p(
                DTV_MODULATION,
                modulation.map_or(ffi::fe_modulation::VSB_8, kernel_modulation),
            ),
        ],
        (_, params) => return Err(mismatch(params_kind(&params))),
    };
    Ok(props)
}

fn params_kind(params: &Params) -> &'static str {
    match params {
        Params::Terrestrial { .. } => "terrestrial",
        Params::Cable { .. } => "cable",
        Params::Satellite { .. } => "satellite",
        Params::Atsc { .. } => "ATSC",
    }
}

fn hz(value: u64) -> Result<u32, PropertyError> {
    u32::try_from(value).map_err(|_| PropertyError::FrequencyTooLarge { hz: value })
}

fn kernel_modulation(modulation: Modulation) -> u32 {
    use ffi::fe_modulation::*;
    match modulation {
        Modulation::Qpsk => QPSK,
        Modulation::Psk8 => PSK_8,
        Modulation::Apsk16 => APSK_16,
        Modulation::Apsk32 => APSK_32,
        Modulation::Qam16 => QAM_16,
        Modulation::Qam32 => QAM_32,
        Modulation::Qam64 => QAM_64,
        Modulation::Qam128 => QAM_128,
        Modulation::Qam256 => QAM_256,
        Modulation::Vsb8 => VSB_8,
        Modulation::Vsb16 => VSB_16,
    }
}

fn code_rate(rate: Option<CodeRate>) -> u32 {
    use ffi::fe_code_rate::*;
    match rate {
        None => FEC_AUTO,
        Some(CodeRate::R1_2) => FEC_1_2,
        Some(CodeRate::R2_3) => FEC_2_3,
        Some(CodeRate::R3_4) => FEC_3_4,
        Some(CodeRate::R3_5) => FEC_3_5,
        Some(CodeRate::R4_5) => FEC_4_5,
        Some(CodeRate::R5_6) => FEC_5_6,
        Some(CodeRate::R6_7) => FEC_6_7,
        Some(CodeRate::R7_8) => FEC_7_8,
        Some(CodeRate::R8_9) => FEC_8_9,
        Some(CodeRate::R9_10) => FEC_9_10,
        Some(CodeRate::None) => FEC_NONE,
    }
}

fn transmission(mode: Option<TransmissionMode>) -> u32 {
    use ffi::fe_transmit_mode::*;
    match mode {
        None => TRANSMISSION_MODE_AUTO,
        Some(TransmissionMode::K1) => TRANSMISSION_MODE_1K,
        Some(TransmissionMode::K2) => TRANSMISSION_MODE_2K,
        Some(TransmissionMode::K4) => TRANSMISSION_MODE_4K,
        Some(TransmissionMode::K8) => TRANSMISSION_MODE_8K,
        Some(TransmissionMode::K16) => TRANSMISSION_MODE_16K,
        Some(TransmissionMode::K32) => TRANSMISSION_MODE_32K,
    }
}

fn guard(interval: Option<GuardInterval>) -> u32 {
    use ffi::fe_guard_interval::*;
    match interval {
        None => GUARD_INTERVAL_AUTO,
        Some(GuardInterval::G1_4) => GUARD_INTERVAL_1_4,
        Some(GuardInterval::G1_8) => GUARD_INTERVAL_1_8,
        Some(GuardInterval::G1_16) => GUARD_INTERVAL_1_16,
        Some(GuardInterval::G1_32) => GUARD_INTERVAL_1_32,
        Some(GuardInterval::G1_128) => GUARD_INTERVAL_1_128,
        Some(GuardInterval::G19_128) => GUARD_INTERVAL_19_128,
        Some(GuardInterval::G19_256) => GUARD_INTERVAL_19_256,
    }
}

fn hierarchy_value(hierarchy: Option<Hierarchy>) -> u32 {
    use ffi::fe_hierarchy::*;
    match hierarchy {
        None => HIERARCHY_AUTO,
        Some(Hierarchy::None) => HIERARCHY_NONE,
        Some(Hierarchy::H1) => HIERARCHY_1,
        Some(Hierarchy::H2) => HIERARCHY_2,
        Some(Hierarchy::H4) => HIERARCHY_4,
    }
}

fn kernel_rolloff(rolloff: Rolloff) -> u32 {
    use ffi::fe_rolloff::*;
    match rolloff {
        Rolloff::R35 => ROLLOFF_35,
        Rolloff::R25 => ROLLOFF_25,
        Rolloff::R20 => ROLLOFF_20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dvbgate_tuning::params::{Lnb, Polarisation, Switch};

    fn value(props: &[Property], cmd: u32) -> Option<u32> {
        props.iter().find(|p| p.cmd == cmd).map(|p| p.value)
    }

    fn dvbt(system: DeliverySystem, plp_id: Option<u8>) -> Tuning {
        Tuning {
            system,
            frequency_hz: 474_000_000,
            params: Params::Terrestrial {
                bandwidth_hz: 8_000_000,
                modulation: None,
                code_rate_hp: Some(CodeRate::R2_3),
                code_rate_lp: None,
                transmission_mode: Some(TransmissionMode::K32),
                guard_interval: Some(GuardInterval::G19_256),
                hierarchy: Some(Hierarchy::None),
                plp_id,
            },
        }
    }

    fn dvbc(system: DeliverySystem) -> Tuning {
        Tuning {
            system,
            frequency_hz: 474_000_000,
            params: Params::Cable {
                symbol_rate: 6_940_000,
                modulation: Some(Modulation::Qam256),
                fec: Some(CodeRate::None),
            },
        }
    }

    fn dvbs(
        system: DeliverySystem,
        modulation: Option<Modulation>,
        stream_id: Option<u8>,
    ) -> Tuning {
        Tuning {
            system,
            frequency_hz: 11_362_000_000,
            params: Params::Satellite {
                polarisation: Polarisation::H,
                symbol_rate: 27_500_000,
                fec: Some(CodeRate::R3_4),
                modulation,
                rolloff: None,
                stream_id,
                lnb: Lnb::Universal,
                switch: Switch::default(),
            },
        }
    }

    fn atsc() -> Tuning {
        Tuning {
            system: DeliverySystem::Atsc,
            frequency_hz: 57_028_615,
            params: Params::Atsc { modulation: None },
        }
    }

    #[test]
    fn dvb_t2_sets_plp_and_open_parameters_to_auto() {
        let props = tuning_properties(&dvbt(DeliverySystem::DvbT2, Some(3)), 474_000_000).unwrap();
        assert_eq!(value(&props, ffi::DTV_FREQUENCY), Some(474_000_000));
        assert_eq!(value(&props, ffi::DTV_BANDWIDTH_HZ), Some(8_000_000));
        assert_eq!(value(&props, ffi::DTV_STREAM_ID), Some(3));
        assert_eq!(
            value(&props, ffi::DTV_MODULATION),
            Some(ffi::fe_modulation::QAM_AUTO)
        );
        assert_eq!(
            value(&props, ffi::DTV_CODE_RATE_HP),
            Some(ffi::fe_code_rate::FEC_2_3)
        );
        assert_eq!(
            value(&props, ffi::DTV_CODE_RATE_LP),
            Some(ffi::fe_code_rate::FEC_AUTO)
        );
        assert_eq!(
            value(&props, ffi::DTV_TRANSMISSION_MODE),
            Some(ffi::fe_transmit_mode::TRANSMISSION_MODE_32K)
        );
        assert_eq!(
            value(&props, ffi::DTV_GUARD_INTERVAL),
            Some(ffi::fe_guard_interval::GUARD_INTERVAL_19_256)
        );
        assert_eq!(
            value(&props, ffi::DTV_HIERARCHY),
            Some(ffi::fe_hierarchy::HIERARCHY_NONE)
        );

        let first_plp = tuning_properties(&dvbt(DeliverySystem::DvbT2, None), 474_000_000).unwrap();
        assert_eq!(
            value(&first_plp, ffi::DTV_STREAM_ID),
            Some(ffi::NO_STREAM_ID_FILTER)
        );
    }

    #[test]
    fn dvb_t_has_no_plp() {
        let props = tuning_properties(&dvbt(DeliverySystem::DvbT, None), 474_000_000).unwrap();
        assert_eq!(value(&props, ffi::DTV_STREAM_ID), None);
        let error =
            tuning_properties(&dvbt(DeliverySystem::DvbT, Some(1)), 474_000_000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "DVB-T has no PLP setting (physical layer pipes are DVB-T2's)"
        );
    }

    #[test]
    fn satellite_tunes_the_intermediate_frequency_in_khz() {
        let tuning = dvbs(DeliverySystem::DvbS2, Some(Modulation::Psk8), Some(7));
        let props = tuning_properties(&tuning, 1_612_000_000).unwrap();
        assert_eq!(value(&props, ffi::DTV_FREQUENCY), Some(1_612_000));
        assert_eq!(value(&props, ffi::DTV_SYMBOL_RATE), Some(27_500_000));
        assert_eq!(
            value(&props, ffi::DTV_INNER_FEC),
            Some(ffi::fe_code_rate::FEC_3_4)
        );
        assert_eq!(
            value(&props, ffi::DTV_MODULATION),
            Some(ffi::fe_modulation::PSK_8)
        );
        assert_eq!(
            value(&props, ffi::DTV_ROLLOFF),
            Some(ffi::fe_rolloff::ROLLOFF_AUTO)
        );
        assert_eq!(value(&props, ffi::DTV_STREAM_ID), Some(7));
    }

    #[test]
    fn dvb_s_refuses_what_only_s2_has() {
        let plain = dvbs(DeliverySystem::DvbS, None, None);
        let props = tuning_properties(&plain, 1_612_000_000).unwrap();
        assert_eq!(value(&props, ffi::DTV_MODULATION), None);
        assert!(
            tuning_properties(
                &dvbs(DeliverySystem::DvbS, Some(Modulation::Qpsk), None),
                1_612_000_000
            )
            .is_ok()
        );
        let error = tuning_properties(
            &dvbs(DeliverySystem::DvbS, Some(Modulation::Psk8), None),
            1_612_000_000,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("DVB-S is always QPSK"),
            "{error}"
        );
        let error = tuning_properties(&dvbs(DeliverySystem::DvbS, None, Some(1)), 1_612_000_000)
            .unwrap_err();
        assert!(error.to_string().contains("stream id"), "{error}");
    }

    #[test]
    fn cable_annex_a_and_b() {
        let props = tuning_properties(&dvbc(DeliverySystem::DvbC), 474_000_000).unwrap();
        assert_eq!(value(&props, ffi::DTV_SYMBOL_RATE), Some(6_940_000));
        assert_eq!(
            value(&props, ffi::DTV_MODULATION),
            Some(ffi::fe_modulation::QAM_256)
        );
        assert_eq!(
            value(&props, ffi::DTV_INNER_FEC),
            Some(ffi::fe_code_rate::FEC_NONE)
        );
        let annex_b = tuning_properties(&dvbc(DeliverySystem::DvbCAnnexB), 474_000_000).unwrap();
        assert_eq!(value(&annex_b, ffi::DTV_SYMBOL_RATE), None);
        assert_eq!(
            value(&annex_b, ffi::DTV_MODULATION),
            Some(ffi::fe_modulation::QAM_256)
        );
    }

    #[test]
    fn atsc_defaults_to_8vsb() {
        let props = tuning_properties(&atsc(), 57_028_615).unwrap();
        assert_eq!(
            value(&props, ffi::DTV_MODULATION),
            Some(ffi::fe_modulation::VSB_8)
        );
        assert_eq!(value(&props, ffi::DTV_FREQUENCY), Some(57_028_615));
    }

    #[test]
    fn mismatched_parameters_and_huge_frequencies_are_refused() {
        let mut tuning = dvbc(DeliverySystem::DvbC);
        tuning.system = DeliverySystem::DvbT;
        let error = tuning_properties(&tuning, 474_000_000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "DVB-T is not tuned with cable parameters"
        );
        let error = tuning_properties(&dvbc(DeliverySystem::DvbC), 5_000_000_000).unwrap_err();
        assert_eq!(
            error,
            PropertyError::FrequencyTooLarge { hz: 5_000_000_000 }
        );
    }

    /// libdvbv5 keeps, per delivery system, the list of properties it sends; storing one
    /// outside it fails, and one of it left unset goes out as 0. So for each system the
    /// kernel properties we set must be exactly libdvbv5's list.
    #[test]
    fn properties_are_exactly_libdvbv5s_list() {
        let tunings = [
            dvbt(DeliverySystem::DvbT, None),
            dvbt(DeliverySystem::DvbT2, Some(0)),
            dvbc(DeliverySystem::DvbC),
            dvbc(DeliverySystem::DvbCAnnexB),
            dvbs(DeliverySystem::DvbS, None, None),
            dvbs(DeliverySystem::DvbS2, None, None),
            atsc(),
        ];
        for tuning in tunings {
            let mut ours: Vec<u32> = tuning_properties(&tuning, 1_000_000_000)
                .unwrap()
                .iter()
                .map(|p| p.cmd)
                .collect();
            ours.sort_unstable();
            let mut theirs = libdvbv5_list(crate::system::to_kernel(tuning.system));
            // Commands from DTV_USER_COMMAND_START (POLARIZATION…) are libdvbv5's own,
            // for its satellite logic, which dvbgate does not use.
            theirs.retain(|&cmd| cmd < 256);
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "{}", tuning.system);
        }
    }

    fn libdvbv5_list(system: u32) -> Vec<u32> {
        // SAFETY: dvb_v5_delivery_system is libdvbv5's static table indexed by the kernel
        // delivery system (SYS_DVBC_ANNEX_A … SYS_DVBC2, ~20 entries); every system we map
        // has an entry, a NULL-or-zero-terminated array of u32.
        unsafe {
            let table = (&raw const ffi::dvb_v5_delivery_system).cast::<*const u32>();
            let mut entry = *table.add(system as usize);
            assert!(!entry.is_null(), "libdvbv5 has no list for system {system}");
            let mut list = Vec::new();
            while *entry != 0 {
                list.push(*entry);
                entry = entry.add(1);
            }
            list
        }
    }

    #[test]
    fn property_display_uses_libdvbv5_names() {
        let shown = Property {
            cmd: ffi::DTV_STREAM_ID,
            value: 3,
        }
        .to_string();
        assert_eq!(shown, "STREAM_ID = 3");
        assert_eq!(command_name(99_999), "#99999");
    }
}
