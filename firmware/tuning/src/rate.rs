//! How fast a multiplex can be, from its tuning alone: what the dvr buffer of a tuner must
//! be sized for before a single packet has been counted. An upper bound: a buffer too
//! large costs some kernel memory, one too small loses packets.

use crate::params::{CodeRate, DeliverySystem, Modulation, Params, Tuning};

/// The highest useful bit rate (TS bits per second) the tuning allows.
pub fn max_bitrate(tuning: &Tuning) -> u64 {
    match (tuning.system, tuning.params) {
        // DVB-T at its most open: 8 MHz, 64-QAM, 7/8, guard 1/32 gives 31.67 Mbit/s;
        // narrower channels scale down.
        (DeliverySystem::DvbT, Params::Terrestrial { bandwidth_hz, .. }) => {
            31_668_449 * u64::from(bandwidth_hz.max(1_700_000)) / 8_000_000
        }
        // DVB-T2: 8 MHz, 256-QAM 5/6, 32K extended carriers: about 50.3 Mbit/s.
        (_, Params::Terrestrial { bandwidth_hz, .. }) => {
            50_340_000 * u64::from(bandwidth_hz.max(1_700_000)) / 8_000_000
        }
        // Cable: log2(M) bits per symbol, Reed-Solomon 188/204.
        (
            _,
            Params::Cable {
                symbol_rate,
                modulation,
                ..
            },
        ) => {
            u64::from(symbol_rate) * bits_per_symbol(modulation.unwrap_or(Modulation::Qam256)) * 188
                / 204
        }
        (
            system,
            Params::Satellite {
                symbol_rate,
                fec,
                modulation,
                ..
            },
        ) => {
            let sr = u64::from(symbol_rate);
            if system == DeliverySystem::DvbS {
                // QPSK, inner code, Reed-Solomon 188/204.
                let (n, d) = code_rate(fec.unwrap_or(CodeRate::R7_8));
                sr * 2 * n / d * 188 / 204
            } else {
                let bits = bits_per_symbol(modulation.unwrap_or(Modulation::Apsk32));
                let (n, d) = code_rate(fec.unwrap_or(CodeRate::R9_10));
                sr * bits * n / d
            }
        }
        // ATSC 8-VSB: 19.39 Mbit/s; 16-VSB twice that.
        (_, Params::Atsc { modulation }) => match modulation {
            Some(Modulation::Vsb16) => 38_785_000,
            Some(Modulation::Qam256) => 38_810_000,
            Some(Modulation::Qam64) => 26_970_000,
            _ => 19_392_658,
        },
    }
}

fn bits_per_symbol(m: Modulation) -> u64 {
    match m {
        Modulation::Qpsk => 2,
        Modulation::Psk8 | Modulation::Vsb8 => 3,
        Modulation::Apsk16 | Modulation::Qam16 | Modulation::Vsb16 => 4,
        Modulation::Apsk32 | Modulation::Qam32 => 5,
        Modulation::Qam64 => 6,
        Modulation::Qam128 => 7,
        Modulation::Qam256 => 8,
    }
}

fn code_rate(r: CodeRate) -> (u64, u64) {
    match r {
        CodeRate::R1_2 => (1, 2),
        CodeRate::R2_3 => (2, 3),
        CodeRate::R3_4 => (3, 4),
        CodeRate::R3_5 => (3, 5),
        CodeRate::R4_5 => (4, 5),
        CodeRate::R5_6 => (5, 6),
        CodeRate::R6_7 => (6, 7),
        CodeRate::R7_8 => (7, 8),
        CodeRate::R8_9 => (8, 9),
        CodeRate::R9_10 => (9, 10),
        CodeRate::None => (1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Tuning {
        url.parse().unwrap()
    }

    #[test]
    fn known_multiplex_rates() {
        // A German DVB-C 256-QAM multiplex at 6.9 MBd carries 50.87 Mbit/s.
        let c = max_bitrate(&parse(
            "dvb-c://474MHz?symbol_rate=6900000&modulation=qam256",
        ));
        assert_eq!(c, 6_900_000 * 8 * 188 / 204);
        assert!((50_000_000..51_000_000).contains(&c), "{c}");
        // Astra 19.2E 11362 H, DVB-S2 8PSK 2/3 at 22 MBd: 44 Mbit/s.
        let s2 = max_bitrate(&parse(
            "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&modulation=8psk&fec=2/3",
        ));
        assert_eq!(s2, 44_000_000);
        // DVB-S QPSK 3/4 at 27.5 MBd: 38.01 Mbit/s.
        let s = max_bitrate(&parse(
            "dvb-s://12188MHz?polarisation=h&symbol_rate=27500000&fec=3/4",
        ));
        assert_eq!(s, 27_500_000 * 2 * 3 / 4 * 188 / 204);
    }

    #[test]
    fn unknown_parameters_give_an_upper_bound() {
        let t = max_bitrate(&parse("dvb-t://474MHz?bandwidth=8MHz"));
        let t7 = max_bitrate(&parse("dvb-t://474MHz?bandwidth=7MHz"));
        assert!(t > 31_000_000 && t7 < t, "{t} {t7}");
        let t2 = max_bitrate(&parse("dvb-t2://474MHz?bandwidth=8MHz"));
        assert!(t2 > t);
        // AUTO cable modulation is sized as 256-QAM, the largest in use.
        let auto = max_bitrate(&parse("dvb-c://474MHz?symbol_rate=6900000"));
        let q64 = max_bitrate(&parse(
            "dvb-c://474MHz?symbol_rate=6900000&modulation=qam64",
        ));
        assert!(auto > q64);
        assert_eq!(max_bitrate(&parse("atsc://57028615")), 19_392_658);
    }
}
