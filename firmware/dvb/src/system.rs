//! Delivery systems: the kernel's numbers (`SYS_DVBT2`…) and dvbgate's names.

use dvbgate_tuning::DeliverySystem;
use dvbv5_sys::fe_delivery_system as sys;

/// The kernel's number for a delivery system.
pub fn to_kernel(system: DeliverySystem) -> u32 {
    match system {
        DeliverySystem::DvbT => sys::SYS_DVBT,
        DeliverySystem::DvbT2 => sys::SYS_DVBT2,
        DeliverySystem::DvbC => sys::SYS_DVBC_ANNEX_A,
        DeliverySystem::DvbCAnnexB => sys::SYS_DVBC_ANNEX_B,
        DeliverySystem::DvbS => sys::SYS_DVBS,
        DeliverySystem::DvbS2 => sys::SYS_DVBS2,
        DeliverySystem::Atsc => sys::SYS_ATSC,
    }
}

/// The delivery system a kernel number stands for, if dvbgate receives it. Systems it
/// does not (ISDB, DTMB, DVB-H, DSS, turbo-FEC, ATSC-M/H, DVB-C Annex C) are `None`:
/// a frontend that offers them simply does not list them.
pub fn from_kernel(number: u32) -> Option<DeliverySystem> {
    Some(match number {
        sys::SYS_DVBT => DeliverySystem::DvbT,
        sys::SYS_DVBT2 => DeliverySystem::DvbT2,
        sys::SYS_DVBC_ANNEX_A => DeliverySystem::DvbC,
        sys::SYS_DVBC_ANNEX_B => DeliverySystem::DvbCAnnexB,
        sys::SYS_DVBS => DeliverySystem::DvbS,
        sys::SYS_DVBS2 => DeliverySystem::DvbS2,
        sys::SYS_ATSC => DeliverySystem::Atsc,
        _ => return None,
    })
}

/// The kernel's list (`DTV_ENUM_DELSYS`) as dvbgate's, in the driver's order, without
/// unsupported systems and duplicates.
pub fn from_kernel_list(numbers: &[u32]) -> Vec<DeliverySystem> {
    let mut systems = Vec::with_capacity(numbers.len());
    for system in numbers.iter().filter_map(|&n| from_kernel(n)) {
        if !systems.contains(&system) {
            systems.push(system);
        }
    }
    systems
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DeliverySystem; 7] = [
        DeliverySystem::DvbT,
        DeliverySystem::DvbT2,
        DeliverySystem::DvbC,
        DeliverySystem::DvbCAnnexB,
        DeliverySystem::DvbS,
        DeliverySystem::DvbS2,
        DeliverySystem::Atsc,
    ];

    #[test]
    fn every_system_goes_to_the_kernel_and_back() {
        for system in ALL {
            assert_eq!(from_kernel(to_kernel(system)), Some(system), "{system}");
        }
        let mut numbers: Vec<u32> = ALL.iter().map(|&s| to_kernel(s)).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            ALL.len(),
            "two systems share a kernel number"
        );
    }

    #[test]
    fn unsupported_systems_are_left_out() {
        let vidtv_like = [
            sys::SYS_DVBT,
            sys::SYS_ISDBT,
            sys::SYS_DVBT2,
            sys::SYS_DTMB,
            sys::SYS_DVBC_ANNEX_A,
            sys::SYS_DVBS,
            sys::SYS_DVBS2,
            sys::SYS_DVBT,
        ];
        assert_eq!(
            from_kernel_list(&vidtv_like),
            vec![
                DeliverySystem::DvbT,
                DeliverySystem::DvbT2,
                DeliverySystem::DvbC,
                DeliverySystem::DvbS,
                DeliverySystem::DvbS2
            ]
        );
        assert_eq!(from_kernel(sys::SYS_ISDBS), None);
        assert_eq!(from_kernel(sys::SYS_UNDEFINED), None);
        assert_eq!(from_kernel(9999), None);
    }
}
