//! Initial-tuning files: lists of multiplexes a scan starts from, as Debian's
//! `dtv-scan-tables` package installs them under `/usr/share/dvb` and as `dvbv5-scan`
//! reads and writes them. Two formats:
//!
//! **dvbv5** (libdvbv5's own; `/usr/share/dvb/{dvb-t,dvb-c,dvb-s,atsc,isdb-t}`): sections
//! of `KEY = VALUE` lines, one section per multiplex (or, in a channel file written by a
//! scan, per service):
//!
//! ```text
//! [CHANNEL]
//!     DELIVERY_SYSTEM = DVBS2
//!     FREQUENCY = 11362000
//!     POLARIZATION = HORIZONTAL
//!     SYMBOL_RATE = 22000000
//!     INNER_FEC = 2/3
//!     MODULATION = PSK/8
//! ```
//!
//! Keys and values are the kernel's names as libdvbv5 spells them (`QAM/64`, `PSK/8`,
//! `VSB/8`, `8K`, `1/32`, `DVBC/ANNEX_A`…); FREQUENCY is Hz, except for satellite where it
//! is kHz, as in the kernel API. `AUTO` leaves a value to the driver. Keys of channel
//! files (SERVICE_ID, VIDEO_PID, AUDIO_PID, PID_xx, VCHANNEL), INVERSION, PILOT and other
//! kernel properties that do not describe the multiplex are ignored; an unknown key is
//! ignored with a warning (libdvbv5 ignores unknown keys for forward compatibility; a
//! warning still shows a typo). SAT_NUMBER (0–3) is read as the committed DiSEqC port and
//! LNB as the LNB, when present.
//!
//! **legacy** (dvb-apps' `scan`; `/usr/share/dvb/dvb-legacy`): one line per multiplex,
//! fields separated by blanks, `#` starts a comment:
//!
//! ```text
//! T  freq bandwidth fec_hp fec_lp modulation mode guard hierarchy       (DVB-T)
//! T2 freq bandwidth fec_hp fec_lp modulation mode guard hierarchy [plp] (DVB-T2)
//! C  freq symbol_rate fec modulation                                    (DVB-C)
//! S  freq_kHz polarisation symbol_rate fec                              (DVB-S)
//! S2 freq_kHz polarisation symbol_rate fec rolloff modulation [stream]  (DVB-S2)
//! A  freq modulation                          (ATSC 8VSB/16VSB; QAM = cable Annex B)
//! ```
//!
//! What comes out: the tunings, with exact duplicates dropped (a channel file repeats its
//! multiplex for every service), and a warning for every entry skipped and why: a system
//! dvbgate does not receive (ISDB-T, DTMB…), a parameter it cannot express (physical
//! layer scrambling, FEC 2/5…), a value that cannot be right (a bandwidth of 0, a
//! satellite at 12 207 kHz). What cannot be read at all is an error naming the line and
//! the key: `line 12: MODULATION = QAM/999 is not a modulation (…)`.
//!
//! Files are read as bytes: comments and section names may be in any encoding (several
//! of Debian's files carry Latin-1 bytes); keys and values are ASCII. Size and entry count
//! are bounded, so a huge file is refused before it can exhaust memory.

use std::collections::{HashMap, HashSet};

use crate::params::{
    CodeRate, DeliverySystem, GuardInterval, Hierarchy, Lnb, Modulation, Params, Polarisation,
    RF_FREQUENCY_HZ, Rolloff, SATELLITE_FREQUENCY_HZ, Switch, TransmissionMode, Tuning,
    annex_b_symbol_rate, format_mhz,
};

/// The largest file read. Debian's largest initial-tuning file is 38 kB; a channel file
/// of a whole satellite position is a few hundred kB.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// The most entries (sections or lines) one file may have.
pub const MAX_ENTRIES: usize = 20_000;
/// The most keys one dvbv5 entry may have (a channel file's entry has about 20).
pub const MAX_KEYS_PER_ENTRY: usize = 256;
/// The most warnings kept; past it they are only counted.
pub const MAX_WARNINGS: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Dvbv5,
    Legacy,
}

/// An entry skipped, or something ignored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line of the entry (its `[section]` line in a dvbv5 file).
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TuningFile {
    pub format: Format,
    /// In file order, exact duplicates dropped.
    pub tunings: Vec<Tuning>,
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file has {size} bytes; a tuning file has at most {MAX_FILE_BYTES}")]
    TooLarge { size: usize },
    #[error("the file has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error(
        "no entries: neither [sections] of KEY = VALUE lines (dvbv5) nor lines such as \"T 474000000 8MHz …\" (legacy)"
    )]
    Empty,
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("line {line}: {key} = {value} is not {expected}")]
    Value {
        line: usize,
        key: String,
        value: String,
        expected: String,
    },
    #[error("line {line}: the {system} entry has no {key}")]
    Missing {
        line: usize,
        key: &'static str,
        system: String,
    },
}

/// Parses an initial-tuning file of either format.
pub fn parse(bytes: &[u8]) -> Result<TuningFile, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { size: bytes.len() });
    }
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, trim(line)))
        .filter(|(_, line)| !line.is_empty() && line[0] != b'#')
        .peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Err(FileError::Empty);
    };
    let mut out = Output::default();
    let format = if first[0] == b'[' {
        parse_dvbv5(lines, &mut out)?;
        Format::Dvbv5
    } else {
        parse_legacy(lines, &mut out)?;
        Format::Legacy
    };
    // Entry warnings come after the line-by-line reading: put them in file order.
    out.warnings.sort_by_key(|w| w.line);
    if out.dropped_warnings > 0 {
        out.warnings.push(Warning {
            line: out.last_line,
            message: format!("{} more warnings not shown", out.dropped_warnings),
        });
    }
    Ok(TuningFile {
        format,
        tunings: out.tunings,
        warnings: out.warnings,
    })
}

#[derive(Default)]
struct Output {
    tunings: Vec<Tuning>,
    seen: HashSet<Tuning>,
    warnings: Vec<Warning>,
    dropped_warnings: usize,
    entries: usize,
    last_line: usize,
}

impl Output {
    fn entry(&mut self) -> Result<(), FileError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(FileError::TooManyEntries);
        }
        Ok(())
    }

    fn warn(&mut self, line: usize, message: String) {
        self.last_line = self.last_line.max(line);
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning { line, message });
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// Keeps a tuning that passes [`Tuning::validate`], warns about one that does not.
    fn push(&mut self, line: usize, tuning: Tuning, frequency_text: &str) {
        match tuning.validate() {
            Ok(()) => {
                if self.seen.insert(tuning) {
                    self.tunings.push(tuning);
                }
            }
            Err(e) if e.key() == Some("frequency") => {
                let range = if tuning.system.is_satellite() {
                    SATELLITE_FREQUENCY_HZ
                } else {
                    RF_FREQUENCY_HZ
                };
                self.warn(
                    line,
                    format!(
                        "entry skipped: frequency {frequency_text} is not a {} frequency ({}–{})",
                        tuning.system,
                        format_mhz(*range.start()),
                        format_mhz(*range.end())
                    ),
                );
            }
            Err(e) => self.warn(line, format!("entry skipped: {e}")),
        }
    }
}

/// Without leading and trailing blanks and a trailing CR.
fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

fn text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    match s.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.into_owned(),
    }
}

/// Why an entry is skipped rather than read.
struct Skip(String);

/// A value: read, or the entry is skipped (a valid value dvbgate cannot use), or the file
/// is refused (not a value at all).
enum Read<T> {
    Value(T),
    Skip(String),
}

// ---------------------------------------------------------------------------------------
// Value names.

/// `None` inside `Some` is AUTO.
type Auto<T> = Option<T>;

fn dvbv5_modulation(v: &str) -> Option<Read<Auto<Modulation>>> {
    use Modulation::*;
    let m = match v.to_ascii_uppercase().as_str() {
        "QPSK" => Qpsk,
        "PSK/8" | "8PSK" | "PSK8" => Psk8,
        "APSK/16" | "16APSK" | "APSK16" => Apsk16,
        "APSK/32" | "32APSK" | "APSK32" => Apsk32,
        "QAM/16" | "QAM16" => Qam16,
        "QAM/32" | "QAM32" => Qam32,
        "QAM/64" | "QAM64" => Qam64,
        "QAM/128" | "QAM128" => Qam128,
        "QAM/256" | "QAM256" => Qam256,
        "VSB/8" | "8VSB" => Vsb8,
        "VSB/16" | "16VSB" => Vsb16,
        "QAM/AUTO" | "QAMAUTO" | "AUTO" => return Some(Read::Value(None)),
        "DQPSK" | "QAM/4_NR" => {
            return Some(Read::Skip(format!(
                "modulation {v} (ISDB/DTMB) is not supported"
            )));
        }
        _ => return None,
    };
    Some(Read::Value(Some(m)))
}

fn code_rate(v: &str) -> Option<Read<Auto<CodeRate>>> {
    if v.eq_ignore_ascii_case("AUTO") {
        return Some(Read::Value(None));
    }
    if v == "2/5" || v == "1/4" || v == "1/3" {
        return Some(Read::Skip(format!(
            "code rate {v} is not supported by dvbgate"
        )));
    }
    CodeRate::from_name(v).map(|c| Read::Value(Some(c)))
}

fn transmission_mode(v: &str) -> Option<Read<Auto<TransmissionMode>>> {
    if v.eq_ignore_ascii_case("AUTO") {
        return Some(Read::Value(None));
    }
    if v.eq_ignore_ascii_case("C1") || v.eq_ignore_ascii_case("C3780") {
        return Some(Read::Skip(format!(
            "transmission mode {v} (DTMB) is not supported"
        )));
    }
    TransmissionMode::from_name(v).map(|m| Read::Value(Some(m)))
}

fn guard_interval(v: &str) -> Option<Read<Auto<GuardInterval>>> {
    if v.eq_ignore_ascii_case("AUTO") {
        return Some(Read::Value(None));
    }
    if ["PN420", "PN595", "PN945"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(v))
    {
        return Some(Read::Skip(format!(
            "guard interval {v} (DTMB) is not supported"
        )));
    }
    GuardInterval::from_name(v).map(|g| Read::Value(Some(g)))
}

fn hierarchy(v: &str) -> Option<Read<Auto<Hierarchy>>> {
    if v.eq_ignore_ascii_case("AUTO") {
        return Some(Read::Value(None));
    }
    Hierarchy::from_name(v).map(|h| Read::Value(Some(h)))
}

fn rolloff(v: &str) -> Option<Read<Auto<Rolloff>>> {
    match v.to_ascii_uppercase().as_str() {
        "AUTO" => Some(Read::Value(None)),
        "35" | "0.35" => Some(Read::Value(Some(Rolloff::R35))),
        "25" | "0.25" => Some(Read::Value(Some(Rolloff::R25))),
        "20" | "0.20" | "0.2" => Some(Read::Value(Some(Rolloff::R20))),
        "15" | "10" | "5" => Some(Read::Skip(format!(
            "roll-off 0.{v:0>2} (DVB-S2X) is not supported"
        ))),
        _ => None,
    }
}

fn polarisation(v: &str) -> Option<Read<Polarisation>> {
    let p = match v.to_ascii_uppercase().as_str() {
        "HORIZONTAL" | "H" => Polarisation::H,
        "VERTICAL" | "V" => Polarisation::V,
        "LEFT" | "L" => Polarisation::L,
        "RIGHT" | "R" => Polarisation::R,
        "OFF" | "-" => {
            return Some(Read::Skip(
                "no polarisation (OFF): a satellite multiplex needs one".into(),
            ));
        }
        _ => return None,
    };
    Some(Read::Value(p))
}

/// libdvbv5's LNB names that are one oscillator or the universal pair; the
/// polarisation-switched (bandstacked) ones have no equivalent here.
fn lnb(v: &str) -> Option<Read<Lnb>> {
    let single = |mhz: u64| {
        Some(Read::Value(Lnb::Single {
            lo_hz: mhz * 1_000_000,
        }))
    };
    match v.to_ascii_uppercase().as_str() {
        "UNIVERSAL" => Some(Read::Value(Lnb::Universal)),
        "DBS" => single(11_250),
        "STANDARD" => single(10_000),
        "ENHANCED" => single(9_750),
        "C-BAND" => single(5_150),
        "L10700" => single(10_700),
        "L10750" => single(10_750),
        "L11300" => single(11_300),
        "C-MULT" | "DISHPRO" | "110BS" | "STACKED-BRAZIL" | "STACKED-BRAZIL2" | "QPH031" => {
            Some(Read::Skip(format!(
                "LNB {v} (oscillators switched by polarisation) is not supported"
            )))
        }
        _ => None,
    }
}

const MODULATIONS: &str =
    "a modulation (QPSK, PSK/8, APSK/16, APSK/32, QAM/16 … QAM/256, VSB/8, VSB/16, QAM/AUTO)";
const CODE_RATES: &str =
    "a code rate (1/2, 2/3, 3/4, 3/5, 4/5, 5/6, 6/7, 7/8, 8/9, 9/10, NONE, AUTO)";
const MODES: &str = "a transmission mode (1K, 2K, 4K, 8K, 16K, 32K, AUTO)";
const GUARDS: &str = "a guard interval (1/4, 1/8, 1/16, 1/32, 1/128, 19/128, 19/256, AUTO)";
const HIERARCHIES: &str = "a hierarchy (NONE, 1, 2, 4, AUTO)";
const ROLLOFFS: &str = "a roll-off (35, 25, 20, AUTO)";
const POLARISATIONS: &str = "a polarisation (HORIZONTAL, VERTICAL, LEFT, RIGHT)";
const LNBS: &str = "an LNB (UNIVERSAL, DBS, STANDARD, ENHANCED, C-BAND, L10700, L10750, L11300)";

// ---------------------------------------------------------------------------------------
// dvbv5.

/// One `[section]` with its keys (upper-cased) and values, and where each was.
struct Section<'a> {
    line: usize,
    /// Key → (value, line).
    keys: HashMap<String, (&'a [u8], usize)>,
}

impl Section<'_> {
    fn get(&self, key: &str) -> Option<(String, usize)> {
        self.keys
            .get(key)
            .map(|(v, line)| (String::from_utf8_lossy(v).into_owned(), *line))
    }
}

/// Keys that are read (per system below) or deliberately ignored.
const IGNORED_KEYS: &[&str] = &[
    "SERVICE_ID",
    "VIDEO_PID",
    "AUDIO_PID",
    "VCHANNEL",
    "CHANNEL",
    "INVERSION",
    "PILOT",
    "LNA",
    "INTERLEAVING",
    "DISEQC_WAIT",
    "FREQ_BPF",
    "API_VERSION",
    "VOLTAGE",
    "TONE",
    "DVBT2_PLP_ID_LEGACY",
];
const READ_KEYS: &[&str] = &[
    "DELIVERY_SYSTEM",
    "FREQUENCY",
    "BANDWIDTH_HZ",
    "MODULATION",
    "CODE_RATE_HP",
    "CODE_RATE_LP",
    "TRANSMISSION_MODE",
    "GUARD_INTERVAL",
    "HIERARCHY",
    "STREAM_ID",
    "SYMBOL_RATE",
    "INNER_FEC",
    "POLARIZATION",
    "ROLLOFF",
    "PLS_CODE",
    "PLS_MODE",
    "SCRAMBLING_SEQUENCE_INDEX",
    "LNB",
    "SAT_NUMBER",
];

fn known_key(key: &str) -> bool {
    READ_KEYS.contains(&key)
        || IGNORED_KEYS.contains(&key)
        || key.starts_with("PID_")
        || key.starts_with("ISDBT_")
        || key.starts_with("ISDBS_")
        || key.starts_with("ATSCMH_")
        || key.starts_with("STAT_")
}

fn parse_dvbv5<'a>(
    lines: impl Iterator<Item = (usize, &'a [u8])>,
    out: &mut Output,
) -> Result<(), FileError> {
    let mut sections: Vec<Section<'a>> = Vec::new();
    for (line, content) in lines {
        if content[0] == b'[' {
            if !content.contains(&b']') {
                return Err(FileError::Syntax {
                    line,
                    message: format!("section header without ]: {}", text(content)),
                });
            }
            out.entry()?;
            sections.push(Section {
                line,
                keys: HashMap::new(),
            });
            continue;
        }
        let Some(eq) = content.iter().position(|b| *b == b'=') else {
            return Err(FileError::Syntax {
                line,
                message: format!(
                    "expected KEY = VALUE (a dvbv5 file, as its first entry is a [section]), found \"{}\"",
                    text(content)
                ),
            });
        };
        let key = String::from_utf8_lossy(trim(&content[..eq])).to_ascii_uppercase();
        let value = trim(&content[eq + 1..]);
        let Some(section) = sections.last_mut() else {
            return Err(FileError::Syntax {
                line,
                message: "KEY = VALUE before the first [section]".into(),
            });
        };
        if key.is_empty() {
            return Err(FileError::Syntax {
                line,
                message: format!("no key before = in \"{}\"", text(content)),
            });
        }
        // libdvbv5 sends repeated properties in order, so the later one counts.
        if let Some(earlier) = section.keys.get_mut(&key) {
            if earlier.0 != value {
                out.warn(
                    line,
                    format!(
                        "{key} is given twice in one entry ({} on line {}, {} here); the later counts",
                        text(earlier.0),
                        earlier.1,
                        text(value)
                    ),
                );
            }
            *earlier = (value, line);
            continue;
        }
        if section.keys.len() >= MAX_KEYS_PER_ENTRY {
            return Err(FileError::Syntax {
                line,
                message: format!("more than {MAX_KEYS_PER_ENTRY} keys in one entry"),
            });
        }
        if !known_key(&key) {
            out.warn(
                line,
                format!("unknown key {} ignored", text(key.as_bytes())),
            );
        }
        section.keys.insert(key, (value, line));
    }
    for section in &sections {
        match dvbv5_entry(section)? {
            Ok((tuning, frequency_text)) => out.push(section.line, tuning, &frequency_text),
            Err(Skip(why)) => out.warn(section.line, format!("entry skipped: {why}")),
        }
    }
    Ok(())
}

/// Reads a value of `section` with `parse`; absent is `None`.
fn read<T>(
    section: &Section<'_>,
    key: &str,
    parse: impl Fn(&str) -> Option<Read<T>>,
    expected: &str,
) -> Result<Result<Option<T>, Skip>, FileError> {
    let Some((value, line)) = section.get(key) else {
        return Ok(Ok(None));
    };
    match parse(&value) {
        Some(Read::Value(v)) => Ok(Ok(Some(v))),
        Some(Read::Skip(why)) => Ok(Err(Skip(why))),
        None => Err(FileError::Value {
            line,
            key: key.to_string(),
            value: text(value.as_bytes()),
            expected: expected.to_string(),
        }),
    }
}

fn number(section: &Section<'_>, key: &str) -> Result<Option<i64>, FileError> {
    match section.get(key) {
        None => Ok(None),
        Some((value, line)) => value
            .parse::<i64>()
            .map(Some)
            .map_err(|_| FileError::Value {
                line,
                key: key.to_string(),
                value: text(value.as_bytes()),
                expected: "a whole number".into(),
            }),
    }
}

/// `?` for the inner skip of [`read`]'s result.
macro_rules! or_skip {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(skip) => return Ok(Err(skip)),
        }
    };
}

fn dvbv5_system(name: &str) -> Option<Result<DeliverySystem, Skip>> {
    Some(Ok(match name.to_ascii_uppercase().as_str() {
        "DVBT" | "DVB-T" => DeliverySystem::DvbT,
        "DVBT2" | "DVB-T2" => DeliverySystem::DvbT2,
        "DVBC/ANNEX_A" | "DVB-C" => DeliverySystem::DvbC,
        "DVBC/ANNEX_B" => DeliverySystem::DvbCAnnexB,
        "DVBS" | "DVB-S" => DeliverySystem::DvbS,
        "DVBS2" | "DVB-S2" => DeliverySystem::DvbS2,
        "ATSC" => DeliverySystem::Atsc,
        "ISDBT" | "ISDB-T" | "ISDBS" | "ISDB-S" | "ISDBC" | "ISDB-C" => {
            return Some(Err(Skip(format!(
                "{name}: dvbgate does not receive ISDB (Japan, South America)"
            ))));
        }
        "DTMB" | "DMBTH" | "DMB-TH" => {
            return Some(Err(Skip(format!(
                "{name}: dvbgate does not receive DTMB (China)"
            ))));
        }
        "DVBC/ANNEX_C" | "ATSCMH" | "ATSC-MH" | "DVBH" | "DVB-H" | "CMMB" | "DAB" | "DSS"
        | "TURBO" => {
            return Some(Err(Skip(format!(
                "{name}: dvbgate does not receive this delivery system"
            ))));
        }
        _ => return None,
    }))
}

type Entry = Result<(Tuning, String), Skip>;

fn dvbv5_entry(section: &Section<'_>) -> Result<Entry, FileError> {
    let Some((system_name, system_line)) = section.get("DELIVERY_SYSTEM") else {
        return Err(FileError::Missing {
            line: section.line,
            key: "DELIVERY_SYSTEM",
            system: "dvbv5".into(),
        });
    };
    let system = match dvbv5_system(&system_name) {
        Some(Ok(system)) => system,
        Some(Err(skip)) => return Ok(Err(skip)),
        None => {
            return Err(FileError::Value {
                line: system_line,
                key: "DELIVERY_SYSTEM".into(),
                value: text(system_name.as_bytes()),
                expected: "a delivery system (DVBT, DVBT2, DVBC/ANNEX_A, DVBC/ANNEX_B, DVBS, DVBS2, ATSC…)".into(),
            });
        }
    };
    let missing = |key: &'static str| FileError::Missing {
        line: section.line,
        key,
        system: system.dvbv5_name().into(),
    };
    let out_of_range = |key: &str, value: i64, expected: &str| {
        let line = section.get(key).map_or(section.line, |(_, line)| line);
        FileError::Value {
            line,
            key: key.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    };
    let frequency = number(section, "FREQUENCY")?.ok_or_else(|| missing("FREQUENCY"))?;
    let frequency = u64::try_from(frequency)
        .map_err(|_| out_of_range("FREQUENCY", frequency, "a frequency"))?;
    // Satellite frequencies are kHz in the kernel API and so in its files.
    let (frequency_hz, frequency_text) = if system.is_satellite() {
        (frequency.saturating_mul(1000), format!("{frequency} kHz"))
    } else {
        (frequency, format!("{frequency} Hz"))
    };
    let modulation = or_skip!(read(section, "MODULATION", dvbv5_modulation, MODULATIONS)?);
    let modulation = modulation.flatten();
    let params = match system {
        DeliverySystem::DvbT | DeliverySystem::DvbT2 => {
            let bandwidth = number(section, "BANDWIDTH_HZ")?;
            let bandwidth_hz = match bandwidth {
                None | Some(0) => {
                    return Ok(Err(Skip(
                        "no channel bandwidth (BANDWIDTH_HZ absent or 0, automatic): dvbgate needs it"
                            .into(),
                    )));
                }
                Some(b) => u32::try_from(b)
                    .map_err(|_| out_of_range("BANDWIDTH_HZ", b, "a bandwidth in Hz"))?,
            };
            // DVB-T2's PLP is the kernel's stream id.
            let plp =
                match number(section, "STREAM_ID")? {
                    None => None,
                    // libdvbv5 does not send a stream id for DVB-T.
                    Some(_) if system == DeliverySystem::DvbT => None,
                    Some(id) if id == i64::from(u32::MAX) || id == -1 => None,
                    Some(id) => Some(u8::try_from(id).map_err(|_| {
                        out_of_range("STREAM_ID", id, "a physical layer pipe (0–255)")
                    })?),
                };
            Params::Terrestrial {
                bandwidth_hz,
                modulation,
                code_rate_hp: or_skip!(read(section, "CODE_RATE_HP", code_rate, CODE_RATES)?)
                    .flatten(),
                code_rate_lp: or_skip!(read(section, "CODE_RATE_LP", code_rate, CODE_RATES)?)
                    .flatten(),
                transmission_mode: or_skip!(read(
                    section,
                    "TRANSMISSION_MODE",
                    transmission_mode,
                    MODES
                )?)
                .flatten(),
                guard_interval: or_skip!(read(section, "GUARD_INTERVAL", guard_interval, GUARDS)?)
                    .flatten(),
                hierarchy: or_skip!(read(section, "HIERARCHY", hierarchy, HIERARCHIES)?).flatten(),
                plp_id: plp,
            }
        }
        DeliverySystem::DvbC | DeliverySystem::DvbCAnnexB => {
            let symbol_rate = match number(section, "SYMBOL_RATE")? {
                Some(rate) => u32::try_from(rate)
                    .map_err(|_| out_of_range("SYMBOL_RATE", rate, "a symbol rate in bauds"))?,
                // Annex B fixes the rate by the modulation; its files do not give one.
                None if system == DeliverySystem::DvbCAnnexB => {
                    match modulation.and_then(annex_b_symbol_rate) {
                        Some(rate) => rate,
                        None => {
                            return Ok(Err(Skip(
                                "DVBC/ANNEX_B without QAM/64 or QAM/256: its symbol rate is unknown"
                                    .into(),
                            )));
                        }
                    }
                }
                None => return Err(missing("SYMBOL_RATE")),
            };
            Params::Cable {
                symbol_rate,
                modulation,
                fec: or_skip!(read(section, "INNER_FEC", code_rate, CODE_RATES)?).flatten(),
            }
        }
        DeliverySystem::DvbS | DeliverySystem::DvbS2 => {
            let polarisation =
                or_skip!(read(section, "POLARIZATION", polarisation, POLARISATIONS)?)
                    .ok_or_else(|| missing("POLARIZATION"))?;
            let rate = number(section, "SYMBOL_RATE")?.ok_or_else(|| missing("SYMBOL_RATE"))?;
            let symbol_rate = u32::try_from(rate)
                .map_err(|_| out_of_range("SYMBOL_RATE", rate, "a symbol rate in bauds"))?;
            let stream_id = match number(section, "STREAM_ID")? {
                None => None,
                // ~0 is the kernel's "no stream filter".
                Some(id) if id == i64::from(u32::MAX) || id == -1 => None,
                // libdvbv5 ignores the stream id of DVB-S, which has no multistream.
                Some(_) if system == DeliverySystem::DvbS => None,
                Some(id) if (0..=255).contains(&id) => u8::try_from(id).ok(),
                Some(id) if (0..=i64::from(u32::MAX)).contains(&id) => {
                    return Ok(Err(Skip(format!(
                        "STREAM_ID = {id} carries physical layer scrambling bits, which dvbgate does not support yet"
                    ))));
                }
                Some(id) => {
                    return Err(out_of_range(
                        "STREAM_ID",
                        id,
                        "an input stream identifier (0–255)",
                    ));
                }
            };
            let pls_mode = number(section, "PLS_MODE")?.unwrap_or(0);
            let pls_code = number(section, "PLS_CODE")?.unwrap_or(0);
            // Root code 1 and gold code 0 are the same default sequence; 0 means unset.
            let default_scrambling = match pls_mode {
                0 => pls_code == 0 || pls_code == 1,
                1 => pls_code == 0,
                other => return Err(out_of_range("PLS_MODE", other, "0 (root) or 1 (gold)")),
            };
            let sequence = number(section, "SCRAMBLING_SEQUENCE_INDEX")?.unwrap_or(0);
            if !default_scrambling || sequence != 0 {
                return Ok(Err(Skip(
                    "physical layer scrambling (PLS_CODE/SCRAMBLING_SEQUENCE_INDEX) is not supported by dvbgate yet"
                        .into(),
                )));
            }
            let committed = match number(section, "SAT_NUMBER")? {
                None | Some(-1) => None,
                Some(n) if (0..=3).contains(&n) => u8::try_from(n).ok(),
                Some(n) => {
                    return Err(out_of_range(
                        "SAT_NUMBER",
                        n,
                        "a DiSEqC port (0–3, or -1 for none)",
                    ));
                }
            };
            Params::Satellite {
                polarisation,
                symbol_rate,
                fec: or_skip!(read(section, "INNER_FEC", code_rate, CODE_RATES)?).flatten(),
                modulation,
                rolloff: or_skip!(read(section, "ROLLOFF", rolloff, ROLLOFFS)?).flatten(),
                stream_id,
                lnb: or_skip!(read(section, "LNB", lnb, LNBS)?).unwrap_or(Lnb::Universal),
                switch: Switch {
                    committed,
                    ..Switch::default()
                },
            }
        }
        DeliverySystem::Atsc => Params::Atsc { modulation },
    };
    if system == DeliverySystem::DvbS && modulation == Some(Modulation::Psk8) {
        return Ok(Err(Skip(
            "DVBS with PSK/8 is turbo-coded 8PSK (Dish Network), which dvbgate does not receive"
                .into(),
        )));
    }
    Ok(Ok((
        Tuning {
            system,
            frequency_hz,
            params,
        },
        frequency_text,
    )))
}

// ---------------------------------------------------------------------------------------
// Legacy one-line format.

/// The fields of one legacy line, with the line number for errors.
struct Fields<'a> {
    line: usize,
    fields: Vec<&'a str>,
}

impl Fields<'_> {
    fn get<T>(
        &self,
        index: usize,
        name: &str,
        parse: impl Fn(&str) -> Option<Read<T>>,
        expected: &str,
    ) -> Result<Result<T, Skip>, FileError> {
        let value = self.fields[index];
        match parse(value) {
            Some(Read::Value(v)) => Ok(Ok(v)),
            Some(Read::Skip(why)) => Ok(Err(Skip(why))),
            None => Err(FileError::Value {
                line: self.line,
                key: name.to_string(),
                value: text(value.as_bytes()),
                expected: expected.to_string(),
            }),
        }
    }

    fn number(&self, index: usize, name: &str) -> Result<u64, FileError> {
        let value = self.fields[index];
        value.parse().map_err(|_| FileError::Value {
            line: self.line,
            key: name.to_string(),
            value: text(value.as_bytes()),
            expected: "a whole number".into(),
        })
    }
}

fn legacy_bandwidth(v: &str) -> Option<Read<u32>> {
    if v.eq_ignore_ascii_case("AUTO") {
        return Some(Read::Skip(
            "no channel bandwidth (AUTO): dvbgate needs it".into(),
        ));
    }
    let mhz = v.strip_suffix("MHz").or_else(|| v.strip_suffix("mhz"))?;
    let hz = match mhz {
        "1.712" => 1_712_000,
        "5" => 5_000_000,
        "6" => 6_000_000,
        "7" => 7_000_000,
        "8" => 8_000_000,
        "10" => 10_000_000,
        _ => return None,
    };
    Some(Read::Value(hz))
}

fn parse_legacy<'a>(
    lines: impl Iterator<Item = (usize, &'a [u8])>,
    out: &mut Output,
) -> Result<(), FileError> {
    for (line, content) in lines {
        out.entry()?;
        // A comment may follow the fields.
        let content = match content.iter().position(|b| *b == b'#') {
            Some(hash) => &content[..hash],
            None => content,
        };
        let Ok(content) = std::str::from_utf8(content) else {
            return Err(FileError::Syntax {
                line,
                message: format!("not a legacy entry: \"{}\"", text(content)),
            });
        };
        // No legacy line has more than 10 fields; more are not collected.
        let fields = Fields {
            line,
            fields: content.split_ascii_whitespace().take(11).collect(),
        };
        match legacy_entry(&fields)? {
            Ok((tuning, frequency_text)) => out.push(line, tuning, &frequency_text),
            Err(Skip(why)) => out.warn(line, format!("entry skipped: {why}")),
        }
    }
    Ok(())
}

fn legacy_entry(f: &Fields<'_>) -> Result<Entry, FileError> {
    let Some(&kind) = f.fields.first() else {
        return Err(FileError::Syntax {
            line: f.line,
            message: "empty entry".into(),
        });
    };
    let (system, counts, layout): (DeliverySystem, &[usize], &str) = match kind {
        "T" => (
            DeliverySystem::DvbT,
            &[9],
            "T frequency bandwidth fec_hp fec_lp modulation mode guard hierarchy",
        ),
        "T2" => (
            DeliverySystem::DvbT2,
            &[9, 10],
            "T2 frequency bandwidth fec_hp fec_lp modulation mode guard hierarchy [plp]",
        ),
        "C" => (
            DeliverySystem::DvbC,
            &[5],
            "C frequency symbol_rate fec modulation",
        ),
        "S" => (
            DeliverySystem::DvbS,
            &[5],
            "S frequency_kHz polarisation symbol_rate fec",
        ),
        "S2" => (
            DeliverySystem::DvbS2,
            &[7, 8],
            "S2 frequency_kHz polarisation symbol_rate fec rolloff modulation [stream_id]",
        ),
        "A" => (DeliverySystem::Atsc, &[3], "A frequency modulation"),
        "I" => {
            return Ok(Err(Skip(
                "ISDB-T: dvbgate does not receive ISDB (Japan, South America)".into(),
            )));
        }
        other => {
            return Err(FileError::Syntax {
                line: f.line,
                message: format!(
                    "\"{}\" is not a legacy entry type (T, T2, C, S, S2, A; the file's first entry is a legacy line)",
                    text(other.as_bytes())
                ),
            });
        }
    };
    if !counts.contains(&f.fields.len()) {
        return Err(FileError::Syntax {
            line: f.line,
            message: format!(
                "a {kind} line has {} fields ({layout}), this one has {}",
                counts
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
                if f.fields.len() > 10 {
                    "more than 10".to_string()
                } else {
                    f.fields.len().to_string()
                }
            ),
        });
    }
    let frequency = f.number(1, "frequency")?;
    let (frequency_hz, frequency_text) = if system.is_satellite() {
        (frequency.saturating_mul(1000), format!("{frequency} kHz"))
    } else {
        (frequency, format!("{frequency} Hz"))
    };
    let rate = |index: usize| -> Result<u32, FileError> {
        let rate = f.number(index, "symbol rate")?;
        u32::try_from(rate).map_err(|_| FileError::Value {
            line: f.line,
            key: "symbol rate".into(),
            value: rate.to_string(),
            expected: "a symbol rate in bauds".into(),
        })
    };
    let (system, params) = match system {
        DeliverySystem::DvbT | DeliverySystem::DvbT2 => {
            let bandwidth_hz = or_skip!(f.get(
                2,
                "bandwidth",
                legacy_bandwidth,
                "a bandwidth (1.712MHz, 5MHz, 6MHz, 7MHz, 8MHz, 10MHz, AUTO)"
            )?);
            let plp_id = match f.fields.get(9) {
                None => None,
                Some(_) => {
                    let plp = f.number(9, "plp")?;
                    Some(u8::try_from(plp).map_err(|_| FileError::Value {
                        line: f.line,
                        key: "plp".into(),
                        value: plp.to_string(),
                        expected: "a physical layer pipe (0–255)".into(),
                    })?)
                }
            };
            (
                system,
                Params::Terrestrial {
                    bandwidth_hz,
                    code_rate_hp: or_skip!(f.get(3, "code rate HP", code_rate, CODE_RATES)?),
                    code_rate_lp: or_skip!(f.get(4, "code rate LP", code_rate, CODE_RATES)?),
                    modulation: or_skip!(f.get(5, "modulation", dvbv5_modulation, MODULATIONS)?),
                    transmission_mode: or_skip!(f.get(
                        6,
                        "transmission mode",
                        transmission_mode,
                        MODES
                    )?),
                    guard_interval: or_skip!(f.get(7, "guard interval", guard_interval, GUARDS)?),
                    hierarchy: or_skip!(f.get(8, "hierarchy", hierarchy, HIERARCHIES)?),
                    plp_id,
                },
            )
        }
        DeliverySystem::DvbC | DeliverySystem::DvbCAnnexB => (
            system,
            Params::Cable {
                symbol_rate: rate(2)?,
                fec: or_skip!(f.get(3, "fec", code_rate, CODE_RATES)?),
                modulation: or_skip!(f.get(4, "modulation", dvbv5_modulation, MODULATIONS)?),
            },
        ),
        DeliverySystem::DvbS | DeliverySystem::DvbS2 => {
            let s2 = system == DeliverySystem::DvbS2;
            let stream_id = match f.fields.get(7) {
                None => None,
                Some(_) => {
                    let id = f.number(7, "stream id")?;
                    Some(u8::try_from(id).map_err(|_| FileError::Value {
                        line: f.line,
                        key: "stream id".into(),
                        value: id.to_string(),
                        expected: "an input stream identifier (0–255)".into(),
                    })?)
                }
            };
            (
                system,
                Params::Satellite {
                    polarisation: or_skip!(f.get(
                        2,
                        "polarisation",
                        polarisation,
                        "a polarisation (H, V, L, R)"
                    )?),
                    symbol_rate: rate(3)?,
                    fec: or_skip!(f.get(4, "fec", code_rate, CODE_RATES)?),
                    rolloff: if s2 {
                        or_skip!(f.get(5, "rolloff", rolloff, ROLLOFFS)?)
                    } else {
                        None
                    },
                    modulation: if s2 {
                        or_skip!(f.get(6, "modulation", dvbv5_modulation, MODULATIONS)?)
                    } else {
                        None
                    },
                    stream_id,
                    lnb: Lnb::Universal,
                    switch: Switch::default(),
                },
            )
        }
        DeliverySystem::Atsc => {
            let modulation = or_skip!(f.get(2, "modulation", dvbv5_modulation, MODULATIONS)?);
            match modulation {
                // dvb-apps wrote North American cable (J.83 Annex B) as "A … QAM256"; its
                // dvbv5 conversion says DVBC/ANNEX_B.
                Some(m @ (Modulation::Qam64 | Modulation::Qam256)) => (
                    DeliverySystem::DvbCAnnexB,
                    Params::Cable {
                        symbol_rate: annex_b_symbol_rate(m).unwrap_or_default(),
                        modulation: Some(m),
                        fec: None,
                    },
                ),
                _ => (DeliverySystem::Atsc, Params::Atsc { modulation }),
            }
        }
    };
    Ok(Ok((
        Tuning {
            system,
            frequency_hz,
            params,
        },
        frequency_text,
    )))
}

#[cfg(test)]
mod tests;
