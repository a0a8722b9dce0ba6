//! DiSEqC (Digital Satellite Equipment Control, Eutelsat): commands a tuner sends to the
//! switches between it and the LNBs, as bursts of the 22 kHz tone on the coaxial cable.
//!
//! A master command is `framing, address, command, data…`:
//!
//! - framing `E0`: from the master, no reply wanted, first transmission; `E1`: the same,
//!   repeated transmission;
//! - address `10`: any LNB, switcher or SMATV device;
//! - command `38` "Write N0" sets the four *committed* switch lines (DiSEqC 1.0), `39`
//!   "Write N1" the four *uncommitted* ones (DiSEqC 1.1).
//!
//! The data byte of both: bits set in the high nibble *clear* the corresponding line, bits
//! set in the low nibble *set* it; `F` in the high nibble clears all four first, so the low
//! nibble states the whole path. For the committed lines the low nibble is
//!
//! ```text
//!   bit 3      bit 2         bit 1                    bit 0
//!   option B   position B    horizontal/left (18 V)   high band (22 kHz tone)
//! ```
//!
//! A 4-port "DiSEqC 1.0" switch uses position and option as a 2-bit port number (port 1 =
//! `F0`/`F1`/`F2`/`F3`, port 2 = `F4`…, port 4 = `FC`…); polarisation and band are included
//! because switches and multiswitches may act on them. The uncommitted byte's low nibble
//! is simply the port, 0–15.
//!
//! Repeats: a switch further along a cascade only hears commands once the switch before it
//! has connected it, and it may have been unpowered a moment earlier. DiSEqC 1.1 therefore
//! asks the master to send the commands of a cascade again (with framing `E1`), so every
//! level gets its command after the level before it has switched. [`crate::sec`] sends each
//! round as uncommitted then committed, twice, whenever an uncommitted switch is used.
//!
//! Timing (Eutelsat's application information for receivers): the tone must be off while
//! commands are sent; wait about 15 ms after changing the voltage, and 15 ms between a
//! command and the next command, the tone burst, or the continuous tone.

/// Framing byte: command from the master, no reply required, first transmission.
pub const FRAMING_FIRST: u8 = 0xE0;
/// Framing byte: the same, repeated transmission.
pub const FRAMING_REPEAT: u8 = 0xE1;
/// Address byte: any LNB, switcher or SMATV device.
pub const ADDRESS_ANY_SWITCH: u8 = 0x10;
/// Write N0: the committed switch lines.
pub const WRITE_N0: u8 = 0x38;
/// Write N1: the uncommitted switch lines.
pub const WRITE_N1: u8 = 0x39;
/// Quiet time around commands, milliseconds.
pub const SETTLE_MS: u32 = 15;

/// First or repeated transmission of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmission {
    First,
    Repeat,
}

impl Transmission {
    fn framing(self) -> u8 {
        match self {
            Transmission::First => FRAMING_FIRST,
            Transmission::Repeat => FRAMING_REPEAT,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiseqcError {
    #[error(
        "DiSEqC 1.0 committed port {} does not exist (a committed switch has ports 1–4)",
        u16::from(*port) + 1
    )]
    CommittedPort { port: u8 },
    #[error(
        "DiSEqC 1.1 uncommitted port {} does not exist (an uncommitted switch has ports 1–16)",
        u16::from(*port) + 1
    )]
    UncommittedPort { port: u8 },
}

/// DiSEqC 1.0 "Write N0" for committed `port` (0–3, printed 1–4 on switches), with the
/// polarisation line (`high_voltage`: horizontal or circular left) and the band line.
pub fn committed(
    port: u8,
    high_voltage: bool,
    high_band: bool,
    transmission: Transmission,
) -> Result<[u8; 4], DiseqcError> {
    if port > 3 {
        return Err(DiseqcError::CommittedPort { port });
    }
    let lines = (port << 2) | (u8::from(high_voltage) << 1) | u8::from(high_band);
    Ok([
        transmission.framing(),
        ADDRESS_ANY_SWITCH,
        WRITE_N0,
        0xF0 | lines,
    ])
}

/// DiSEqC 1.1 "Write N1" for uncommitted `port` (0–15, printed 1–16 on switches).
pub fn uncommitted(port: u8, transmission: Transmission) -> Result<[u8; 4], DiseqcError> {
    if port > 15 {
        return Err(DiseqcError::UncommittedPort { port });
    }
    Ok([
        transmission.framing(),
        ADDRESS_ANY_SWITCH,
        WRITE_N1,
        0xF0 | port,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_bytes_follow_the_bit_layout() {
        // Port 1 (0-based 0), vertical, low band: nothing set.
        assert_eq!(
            committed(0, false, false, Transmission::First),
            Ok([0xE0, 0x10, 0x38, 0xF0])
        );
        // Port 2 (0-based 1) is position B: bit 2. Horizontal adds bit 1, high band bit 0.
        assert_eq!(
            committed(1, false, false, Transmission::First).unwrap()[3],
            0xF4
        );
        assert_eq!(
            committed(1, true, false, Transmission::First).unwrap()[3],
            0xF6
        );
        assert_eq!(
            committed(1, true, true, Transmission::First).unwrap()[3],
            0xF7
        );
        assert_eq!(
            committed(1, false, true, Transmission::First).unwrap()[3],
            0xF5
        );
        // Port 3 is option B with position A: bit 3; port 4 both: bits 3 and 2.
        assert_eq!(
            committed(2, false, false, Transmission::First).unwrap()[3],
            0xF8
        );
        assert_eq!(
            committed(3, true, true, Transmission::First).unwrap()[3],
            0xFF
        );
        // A repeat differs only in its framing byte.
        assert_eq!(
            committed(3, false, false, Transmission::Repeat),
            Ok([0xE1, 0x10, 0x38, 0xFC])
        );
    }

    #[test]
    fn uncommitted_bytes() {
        assert_eq!(
            uncommitted(0, Transmission::First),
            Ok([0xE0, 0x10, 0x39, 0xF0])
        );
        assert_eq!(
            uncommitted(5, Transmission::First),
            Ok([0xE0, 0x10, 0x39, 0xF5])
        );
        assert_eq!(
            uncommitted(15, Transmission::Repeat),
            Ok([0xE1, 0x10, 0x39, 0xFF])
        );
    }

    #[test]
    fn ports_out_of_range() {
        let e = committed(4, false, false, Transmission::First).unwrap_err();
        assert_eq!(e, DiseqcError::CommittedPort { port: 4 });
        assert!(e.to_string().contains("port 5 does not exist"), "{e}");
        let e = uncommitted(16, Transmission::First).unwrap_err();
        assert!(e.to_string().contains("port 17 does not exist"), "{e}");
        assert!(uncommitted(255, Transmission::First).is_err());
        assert!(committed(255, true, true, Transmission::First).is_err());
    }
}
