use super::*;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

const MHZ: u64 = 1_000_000;

fn parse_ok(text: &str) -> TuningFile {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("should parse: {e}\n{text}"))
}

fn parse_err(text: &str) -> FileError {
    match parse(text.as_bytes()) {
        Ok(f) => panic!("should not parse, got {f:?}\n{text}"),
        Err(e) => e,
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[derive(Default, Debug)]
struct Totals {
    files: usize,
    tunings: usize,
    warnings: usize,
    empty_files: usize,
}

/// Every file Debian's dtv-scan-tables installs parses without error, the counts per
/// directory are plausible, and each legacy file gives the same tunings as its dvbv5
/// twin.
#[test]
#[allow(clippy::print_stdout)]
fn every_file_of_dtv_scan_tables() {
    let root = Path::new("/usr/share/dvb");
    if !root.is_dir() {
        println!(
            "\n*** SKIPPED every_file_of_dtv_scan_tables: /usr/share/dvb is absent (apt-get install dtv-scan-tables) ***\n"
        );
        return;
    }
    let mut paths = Vec::new();
    files_under(root, &mut paths);
    paths.sort();
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut parsed: BTreeMap<PathBuf, Vec<Tuning>> = BTreeMap::new();
    let mut skipped: HashSet<PathBuf> = HashSet::new();
    for path in &paths {
        let relative = path.strip_prefix(root).unwrap();
        let dir = relative
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let bytes = std::fs::read(path).unwrap();
        let t = totals.entry(dir).or_default();
        t.files += 1;
        match parse(&bytes) {
            Ok(file) => {
                for tuning in &file.tunings {
                    // Every tuning a file gives has a URL that gives it back.
                    let url = tuning.to_string();
                    assert_eq!(
                        url.parse::<Tuning>().as_ref(),
                        Ok(tuning),
                        "{}: {url}",
                        path.display()
                    );
                }
                t.tunings += file.tunings.len();
                t.warnings += file.warnings.len();
                if file
                    .warnings
                    .iter()
                    .any(|w| w.message.starts_with("entry skipped"))
                {
                    skipped.insert(relative.to_path_buf());
                }
                if file.tunings.is_empty() {
                    t.empty_files += 1;
                }
                parsed.insert(relative.to_path_buf(), file.tunings);
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    println!(
        "\n/usr/share/dvb: {:<16} {:>6} {:>8} {:>9} {:>12}",
        "directory", "files", "tunings", "warnings", "no tunings"
    );
    for (dir, t) in &totals {
        println!(
            "/usr/share/dvb: {dir:<16} {:>6} {:>8} {:>9} {:>12}",
            t.files, t.tunings, t.warnings, t.empty_files
        );
    }
    assert!(
        failures.is_empty(),
        "{} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Plausible counts: most files give tunings, except ISDB-T's, which give none.
    for (dir, t) in &totals {
        if dir == "isdb-t" {
            assert_eq!(t.tunings, 0, "isdb-t");
            assert!(
                t.warnings >= t.files,
                "every ISDB-T file says why it gives nothing"
            );
        } else {
            assert!(
                t.empty_files * 50 <= t.files,
                "{dir}: {} of {} files give no tuning",
                t.empty_files,
                t.files
            );
            assert!(
                t.tunings >= t.files,
                "{dir}: {} tunings from {} files",
                t.tunings,
                t.files
            );
        }
    }

    // The legacy files are conversions of the same tables, so they give the same
    // tunings, except where the dvbv5 file says more (physical layer scrambling, turbo
    // 8PSK): entries dvbgate skips with a warning. The conversions disagree on writing
    // defaults, which are compared as such: DVB-S's only modulation (QPSK), the first PLP
    // and the first input stream.
    let normal = |t: &Tuning| {
        let mut t = *t;
        match &mut t.params {
            Params::Satellite {
                modulation,
                stream_id,
                ..
            } => {
                if t.system == DeliverySystem::DvbS && *modulation == Some(Modulation::Qpsk) {
                    *modulation = None;
                }
                if *stream_id == Some(0) {
                    *stream_id = None;
                }
            }
            Params::Terrestrial {
                plp_id: plp_id @ Some(0),
                ..
            } => *plp_id = None,
            _ => {}
        }
        t
    };
    let mut same = 0;
    let mut fewer = 0;
    let mut different = Vec::new();
    for (relative, legacy) in &parsed {
        let Ok(rest) = relative.strip_prefix("dvb-legacy") else {
            continue;
        };
        let Some(dvbv5) = parsed.get(rest) else {
            continue;
        };
        let legacy: Vec<Tuning> = legacy.iter().map(normal).collect();
        let dvbv5: Vec<Tuning> = dvbv5.iter().map(normal).collect();
        if legacy == dvbv5 {
            same += 1;
            continue;
        }
        // Every dvbv5 tuning, in order, among the legacy ones; the rest skipped with a
        // warning.
        let mut rest_of_legacy = legacy.iter();
        let subsequence = dvbv5.iter().all(|t| rest_of_legacy.any(|l| l == t));
        if subsequence && skipped.contains(&rest.to_path_buf()) {
            fewer += 1;
        } else {
            let first = legacy
                .iter()
                .zip(dvbv5.iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("{a} vs {b}"))
                .unwrap_or_default();
            different.push(format!(
                "{}: legacy {} tunings, dvbv5 {}: {first}",
                rest.display(),
                legacy.len(),
                dvbv5.len()
            ));
        }
    }
    println!(
        "/usr/share/dvb: legacy and dvbv5 twins: {same} agree, {fewer} agree but for dvbv5 entries skipped, {} differ",
        different.len()
    );
    assert!(
        same > 1000,
        "only {same} legacy files agree with their dvbv5 twins"
    );
    assert!(
        different.is_empty(),
        "{} twins differ:\n{}",
        different.len(),
        different.join("\n")
    );
}

fn one(text: &str) -> Tuning {
    let f = parse_ok(text);
    assert_eq!(f.tunings.len(), 1, "{f:?}");
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    f.tunings[0]
}

fn url(text: &str) -> Tuning {
    text.parse().unwrap()
}

#[test]
fn dvbv5_terrestrial() {
    let t = one(
        "# comment\n[C23 BBC A]\n\tDELIVERY_SYSTEM = DVBT\n\tFREQUENCY = 490000000\n\tBANDWIDTH_HZ = 8000000\n\tCODE_RATE_HP = 2/3\n\tCODE_RATE_LP = NONE\n\tMODULATION = QAM/64\n\tTRANSMISSION_MODE = 8K\n\tGUARD_INTERVAL = 1/32\n\tHIERARCHY = NONE\n\tINVERSION = AUTO\n",
    );
    assert_eq!(t.system, DeliverySystem::DvbT);
    assert_eq!(t.frequency_hz, 490 * MHZ);
    assert_eq!(
        t.params,
        Params::Terrestrial {
            bandwidth_hz: 8_000_000,
            modulation: Some(Modulation::Qam64),
            code_rate_hp: Some(CodeRate::R2_3),
            code_rate_lp: Some(CodeRate::None),
            transmission_mode: Some(TransmissionMode::K8),
            guard_interval: Some(GuardInterval::G1_32),
            hierarchy: Some(Hierarchy::None),
            plp_id: None,
        }
    );
    // DVB-T2: STREAM_ID is the PLP; AUTO values are left to the driver.
    let t = one(
        "[CHANNEL]\nDELIVERY_SYSTEM = DVBT2\nFREQUENCY = 746000000\nBANDWIDTH_HZ = 8000000\nMODULATION = QAM/AUTO\nTRANSMISSION_MODE = AUTO\nGUARD_INTERVAL = 19/256\nSTREAM_ID = 1\n",
    );
    assert_eq!(
        t,
        url("dvb-t2://746MHz?bandwidth=8MHz&guard_interval=19/256&plp=1")
    );
}

#[test]
fn dvbv5_cable_satellite_atsc() {
    let t = one(
        "[CHANNEL]\n DELIVERY_SYSTEM = DVBC/ANNEX_A\n FREQUENCY = 474000000\n SYMBOL_RATE = 6900000\n INNER_FEC = NONE\n MODULATION = QAM/256\n",
    );
    assert_eq!(
        t,
        url("dvb-c://474MHz?symbol_rate=6900000&modulation=qam256&fec=none")
    );
    // Annex B files give no symbol rate: J.83 B's for 256-QAM.
    let t = one(
        "[CHANNEL]\nDELIVERY_SYSTEM = DVBC/ANNEX_B\nFREQUENCY = 57000000\nMODULATION = QAM/256\n",
    );
    assert!(matches!(
        t.params,
        Params::Cable {
            symbol_rate: 5_360_537,
            ..
        }
    ));
    // Satellite frequencies are kHz; ~0 as stream id is "no filter".
    let t = one(
        "[CHANNEL]\nDELIVERY_SYSTEM = DVBS2\nFREQUENCY = 11362000\nPOLARIZATION = HORIZONTAL\nSYMBOL_RATE = 22000000\nINNER_FEC = 2/3\nMODULATION = PSK/8\nROLLOFF = 25\nSTREAM_ID = 4294967295\nPILOT = AUTO\n",
    );
    assert_eq!(
        t,
        url(
            "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3&modulation=8psk&rolloff=0.25"
        )
    );
    // LNB and SAT_NUMBER, as a dvbv5-scan channel file writes them.
    let t = one(
        "[CHANNEL]\nSAT_NUMBER = 1\nLNB = C-BAND\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 3840000\nPOLARIZATION = RIGHT\nSYMBOL_RATE = 27500000\nINNER_FEC = 3/4\n",
    );
    assert_eq!(
        t,
        url("dvb-s://3840MHz?polarisation=r&symbol_rate=27500000&fec=3/4&lnb=c-band&diseqc=2")
    );
    let t = one(
        "[CHANNEL]\nDELIVERY_SYSTEM = ATSC\nFREQUENCY = 57028615\nMODULATION = VSB/8\nINVERSION = AUTO\n",
    );
    assert_eq!(t, url("atsc://57028615?modulation=8vsb"));
}

#[test]
fn dvbv5_channel_file_bytes_and_line_endings() {
    // A channel file written by a scan: service keys ignored, one tuning per multiplex,
    // CRLF line endings, Latin-1 in a comment and a section name.
    let mut text = b"# provided by Fco. Garc\xeda\r\n[RNE Arag\xf3n]\r\n".to_vec();
    text.extend_from_slice(
        b"\tSERVICE_ID = 101\r\n\tVIDEO_PID = 256\r\n\tAUDIO_PID = 257 258\r\n\tPID_06 = 259\r\n\tVCHANNEL = 1.1\r\n\tFREQUENCY = 474000000\r\n\tBANDWIDTH_HZ = 8000000\r\n\tDELIVERY_SYSTEM = DVBT\r\n\r\n",
    );
    text.extend_from_slice(
        b"[Other service]\r\n\tSERVICE_ID = 102\r\n\tFREQUENCY = 474000000\r\n\tBANDWIDTH_HZ = 8000000\r\n\tDELIVERY_SYSTEM = DVBT\r\n",
    );
    let f = parse(&text).unwrap();
    assert_eq!(f.format, Format::Dvbv5);
    assert_eq!(f.tunings, vec![url("dvb-t://474MHz?bandwidth=8MHz")]);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn dvbv5_skips_with_reasons() {
    let f = parse_ok(
        "[A]\nDELIVERY_SYSTEM = ISDBT\nFREQUENCY = 473142857\nBANDWIDTH_HZ = 6000000\nISDBT_LAYER_ENABLED = 7\n\n\
         [B]\nDELIVERY_SYSTEM = DTMB\nFREQUENCY = 474000000\n\n\
         [C]\nDELIVERY_SYSTEM = DVBT\nFREQUENCY = 641500000\nBANDWIDTH_HZ = 0\n\n\
         [D]\nDELIVERY_SYSTEM = DVBS2\nFREQUENCY = 11012000\nPOLARIZATION = VERTICAL\nSYMBOL_RATE = 30000000\nSTREAM_ID = 2\nPLS_CODE = 16416\nPLS_MODE = 0\n\n\
         [E]\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 11715000\nPOLARIZATION = RIGHT\nSYMBOL_RATE = 21500000\nMODULATION = PSK/8\n\n\
         [F]\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 12207\nPOLARIZATION = HORIZONTAL\nSYMBOL_RATE = 27500000\n\n\
         [G]\nDELIVERY_SYSTEM = DVBT\nFREQUENCY = 474000000\nBANDWIDTH_HZ = 8000000\nMODULATON = QAM/64\n\n\
         [H]\nDELIVERY_SYSTEM = DVBS2\nFREQUENCY = 11362000\nPOLARIZATION = HORIZONTAL\nSYMBOL_RATE = 22000000\nINNER_FEC = 2/5\n\n\
         [I]\nDELIVERY_SYSTEM = DVBT\nFREQUENCY = 482000000\nBANDWIDTH_HZ = 7000000\nBANDWIDTH_HZ = 8000000\n\n\
         [J]\nDELIVERY_SYSTEM = DVBS2\nFREQUENCY = 11362000\nPOLARIZATION = OFF\nSYMBOL_RATE = 22000000\n\n\
         [K]\nDELIVERY_SYSTEM = DVBS2\nFREQUENCY = 11362000\nPOLARIZATION = H\nSYMBOL_RATE = 22000000\nSTREAM_ID = 16777217\n\n\
         [L]\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 11362000\nPOLARIZATION = H\nSYMBOL_RATE = 22000000\nLNB = DISHPRO\n",
    );
    let messages: Vec<String> = f.warnings.iter().map(|w| w.to_string()).collect();
    let expect = [
        "line 1: entry skipped: ISDBT: dvbgate does not receive ISDB",
        "line 7: entry skipped: DTMB: dvbgate does not receive DTMB",
        "line 11: entry skipped: no channel bandwidth",
        "line 16: entry skipped: physical layer scrambling",
        "line 25: entry skipped: DVBS with PSK/8 is turbo-coded 8PSK",
        "line 32: entry skipped: frequency 12207 kHz is not a DVB-S frequency",
        "line 42: unknown key MODULATON ignored",
        "line 44: entry skipped: code rate 2/5 is not supported",
        "line 55: BANDWIDTH_HZ is given twice in one entry (7000000 on line 54, 8000000 here); the later counts",
        "line 57: entry skipped: no polarisation (OFF)",
        "line 63: entry skipped: STREAM_ID = 16777217 carries physical layer scrambling bits",
        "line 70: entry skipped: LNB DISHPRO (oscillators switched by polarisation) is not supported",
    ];
    for e in expect {
        assert!(
            messages.iter().any(|m| m.starts_with(e)),
            "no warning {e:?} in {messages:#?}"
        );
    }
    assert_eq!(messages.len(), expect.len(), "{messages:#?}");
    // G (the typo is only a warning) and I (with the later bandwidth) remain.
    assert_eq!(
        f.tunings,
        vec![
            url("dvb-t://474MHz?bandwidth=8MHz"),
            url("dvb-t://482MHz?bandwidth=8MHz"),
        ]
    );
}

#[test]
fn legacy_lines() {
    let f = parse_ok(
        "# T freq bw fec_hi fec_lo mod transmission-mode guard-interval hierarchy\n\
         T 474000000 8MHz 2/3 NONE QAM64 8k 1/32 NONE\n\
         T2 474000000 8MHz AUTO AUTO QAM256 32k 19/256 AUTO 1\n\
         T2 538000000 8MHz AUTO AUTO AUTO 32k 1/16 AUTO\n\
         C 346000000 6900000 NONE QAM256   # a comment after the fields\n\
         S 11362000 H 22000000 2/3\n\
         S2 10730000 V 27500000 3/4 35 8PSK 1\n\
         S2 12552000 L 22000000 AUTO AUTO AUTO\n\
         A 57028615 8VSB\n\
         A 73753600 QAM256\n",
    );
    assert_eq!(f.format, Format::Legacy);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    let expected = [
        "dvb-t://474MHz?bandwidth=8MHz&modulation=qam64&code_rate_hp=2/3&code_rate_lp=none&transmission_mode=8k&guard_interval=1/32&hierarchy=none",
        "dvb-t2://474MHz?bandwidth=8MHz&modulation=qam256&transmission_mode=32k&guard_interval=19/256&plp=1",
        "dvb-t2://538MHz?bandwidth=8MHz&transmission_mode=32k&guard_interval=1/16",
        "dvb-c://346MHz?symbol_rate=6900000&modulation=qam256&fec=none",
        "dvb-s://11362MHz?polarisation=h&symbol_rate=22000000&fec=2/3",
        "dvb-s2://10730MHz?polarisation=v&symbol_rate=27500000&fec=3/4&modulation=8psk&rolloff=0.35&stream_id=1",
        "dvb-s2://12552MHz?polarisation=l&symbol_rate=22000000",
        "atsc://57.028615MHz?modulation=8vsb",
        "dvb-c-b://73.7536MHz?modulation=qam256",
    ];
    let got: Vec<String> = f.tunings.iter().map(|t| t.to_string()).collect();
    assert_eq!(got, expected);
    // Skipped with reasons: no bandwidth, ISDB-T, a typo'd frequency.
    let f = parse_ok(
        "T 641500000 AUTO NONE AUTO QAM256 2k 1/32 NONE\nI 473142857\nS 12207 H 27500000 3/4\nT 474000000 8MHz AUTO AUTO AUTO AUTO AUTO AUTO\n",
    );
    assert_eq!(f.tunings.len(), 1);
    let messages: Vec<String> = f.warnings.iter().map(|w| w.to_string()).collect();
    assert!(messages[0].starts_with("line 1: entry skipped: no channel bandwidth (AUTO)"));
    assert!(messages[1].starts_with("line 2: entry skipped: ISDB-T"));
    assert!(messages[2].starts_with("line 3: entry skipped: frequency 12207 kHz"));
}

#[test]
fn every_error_path() {
    let dvbt = "[CHANNEL]\nDELIVERY_SYSTEM = DVBT\nFREQUENCY = 474000000\nBANDWIDTH_HZ = 8000000\n";
    let dvbs = "[CHANNEL]\nDELIVERY_SYSTEM = DVBS2\nFREQUENCY = 11362000\nPOLARIZATION = HORIZONTAL\nSYMBOL_RATE = 22000000\n";
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "no entries"),
        ("# only a comment\n\n   \n".into(), "no entries"),
        ("[CHANNEL\nDELIVERY_SYSTEM = DVBT\n".into(), "line 1: section header without ]"),
        (format!("{dvbt}T 474000000 8MHz\n"), "line 5: expected KEY = VALUE (a dvbv5 file"),
        (format!("{dvbt} = 5\n"), "line 5: no key before ="),
        (format!("{dvbt}MODULATION = QAM/999\n"), "line 5: MODULATION = QAM/999 is not a modulation (QPSK, PSK/8"),
        ("[X]\nDELIVERY_SYSTEM = DVB-X\nFREQUENCY = 1\n".into(), "line 2: DELIVERY_SYSTEM = DVB-X is not a delivery system"),
        ("[X]\nFREQUENCY = 474000000\n".into(), "line 1: the dvbv5 entry has no DELIVERY_SYSTEM"),
        ("[X]\nDELIVERY_SYSTEM = DVBT\nBANDWIDTH_HZ = 8000000\n".into(), "line 1: the DVBT entry has no FREQUENCY"),
        ("[X]\nDELIVERY_SYSTEM = DVBT\nFREQUENCY = 474 MHz\n".into(), "line 3: FREQUENCY = 474 MHz is not a whole number"),
        ("[X]\nDELIVERY_SYSTEM = DVBT\nFREQUENCY = -474000000\n".into(), "line 3: FREQUENCY = -474000000 is not a frequency"),
        (format!("{dvbt}BANDWIDTH_HZ = 99999999999\n"), "line 5: BANDWIDTH_HZ = 99999999999 is not a bandwidth in Hz"),
        (format!("{dvbt}CODE_RATE_HP = 2/7\n"), "line 5: CODE_RATE_HP = 2/7 is not a code rate"),
        (format!("{dvbt}TRANSMISSION_MODE = 3K\n"), "line 5: TRANSMISSION_MODE = 3K is not a transmission mode"),
        (format!("{dvbt}GUARD_INTERVAL = 1/3\n"), "line 5: GUARD_INTERVAL = 1/3 is not a guard interval"),
        (format!("{dvbt}HIERARCHY = 3\n"), "line 5: HIERARCHY = 3 is not a hierarchy"),
        ("[X]\nDELIVERY_SYSTEM = DVBT2\nFREQUENCY = 474000000\nBANDWIDTH_HZ = 8000000\nSTREAM_ID = 300\n".into(), "line 5: STREAM_ID = 300 is not a physical layer pipe"),
        ("[X]\nDELIVERY_SYSTEM = DVBC/ANNEX_A\nFREQUENCY = 474000000\n".into(), "line 1: the DVBC/ANNEX_A entry has no SYMBOL_RATE"),
        ("[X]\nDELIVERY_SYSTEM = DVBC/ANNEX_A\nFREQUENCY = 474000000\nSYMBOL_RATE = 9999999999\n".into(), "line 4: SYMBOL_RATE = 9999999999 is not a symbol rate"),
        ("[X]\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 11362000\nSYMBOL_RATE = 22000000\n".into(), "line 1: the DVBS entry has no POLARIZATION"),
        ("[X]\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 11362000\nPOLARIZATION = H\n".into(), "line 1: the DVBS entry has no SYMBOL_RATE"),
        ("[X]\nDELIVERY_SYSTEM = DVBS\nFREQUENCY = 11362000\nPOLARIZATION = H\nSYMBOL_RATE = -1\n".into(), "line 5: SYMBOL_RATE = -1 is not a symbol rate"),
        (format!("{dvbs}POLARIZATION = UP\n"), "line 6: POLARIZATION = UP is not a polarisation"),
        (format!("{dvbs}ROLLOFF = 30\n"), "line 6: ROLLOFF = 30 is not a roll-off"),
        (format!("{dvbs}LNB = QUAD\n"), "line 6: LNB = QUAD is not an LNB"),
        (format!("{dvbs}STREAM_ID = -5\n"), "line 6: STREAM_ID = -5 is not an input stream identifier"),
        (format!("{dvbs}PLS_MODE = 2\n"), "line 6: PLS_MODE = 2 is not 0 (root) or 1 (gold)"),
        (format!("{dvbs}SAT_NUMBER = 7\n"), "line 6: SAT_NUMBER = 7 is not a DiSEqC port"),
        (format!("{dvbs}INNER_FEC = fast\n"), "line 6: INNER_FEC = fast is not a code rate"),
        // Legacy.
        ("X 474000000\n".into(), "line 1: \"X\" is not a legacy entry type"),
        ("T 474000000 8MHz\n".into(), "line 1: a T line has 9 fields (T frequency bandwidth"),
        ("S2 11362000 H 22000000\n".into(), "line 1: a S2 line has 7 or 8 fields"),
        ("A 57028615\n".into(), "line 1: a A line has 3 fields"),
        ("T abc 8MHz 2/3 NONE QAM64 8k 1/32 NONE\n".into(), "line 1: frequency = abc is not a whole number"),
        ("T 474000000 9MHz 2/3 NONE QAM64 8k 1/32 NONE\n".into(), "line 1: bandwidth = 9MHz is not a bandwidth"),
        ("T 474000000 8MHz 2/3 NONE QAM999 8k 1/32 NONE\n".into(), "line 1: modulation = QAM999 is not a modulation"),
        ("T 474000000 8MHz 2/3 NONE QAM64 3k 1/32 NONE\n".into(), "line 1: transmission mode = 3k is not a transmission mode"),
        ("T2 474000000 8MHz 2/3 NONE QAM64 8k 1/32 NONE 300\n".into(), "line 1: plp = 300 is not a physical layer pipe"),
        ("C 474000000 99999999999 NONE QAM64\n".into(), "line 1: symbol rate = 99999999999 is not a symbol rate"),
        ("S 11362000 X 22000000 2/3\n".into(), "line 1: polarisation = X is not a polarisation"),
        ("S2 11362000 H 22000000 2/3 AUTO 8PSK 300\n".into(), "line 1: stream id = 300 is not an input stream identifier"),
        ("S2 11362000 H 22000000 2/3 33 8PSK\n".into(), "line 1: rolloff = 33 is not a roll-off"),
    ];
    for (text, expected) in &cases {
        let e = parse_err(text).to_string();
        assert!(
            e.starts_with(expected),
            "{text:?}: {e:?} should start with {expected:?}"
        );
    }
    // Non-UTF-8 in a legacy line's fields.
    let e = parse(b"T 474000000 8MHz \xff\n").unwrap_err();
    assert!(
        e.to_string().starts_with("line 1: not a legacy entry"),
        "{e}"
    );
    // Long garbage is shortened in messages.
    let e = parse_err(&format!("{dvbt}MODULATION = {}\n", "Q".repeat(100_000))).to_string();
    assert!(e.len() < 400, "{}", e.len());
}

#[test]
fn bounds() {
    let huge = vec![b'#'; MAX_FILE_BYTES + 1];
    assert_eq!(
        parse(&huge),
        Err(FileError::TooLarge {
            size: MAX_FILE_BYTES + 1
        })
    );
    let many = "A 57028615 8VSB\n".repeat(MAX_ENTRIES + 1);
    assert_eq!(parse(many.as_bytes()), Err(FileError::TooManyEntries));
    let many = "[X]\n".repeat(MAX_ENTRIES + 1);
    assert_eq!(parse(many.as_bytes()), Err(FileError::TooManyEntries));
    // At the limit it is read; the duplicates collapse into one tuning.
    let many = "A 57028615 8VSB\n".repeat(MAX_ENTRIES);
    assert_eq!(parse_ok(&many).tunings.len(), 1);
    // Entries with too many keys, lines with too many fields.
    let keys: String = (0..=MAX_KEYS_PER_ENTRY)
        .map(|i| format!("K{i} = 1\n"))
        .collect();
    let e = parse_err(&format!("[X]\n{keys}"));
    assert!(
        e.to_string().ends_with("more than 256 keys in one entry"),
        "{e}"
    );
    let e = parse_err(&format!("A 57028615 8VSB{}\n", " x".repeat(100_000)));
    assert!(e.to_string().ends_with("this one has more than 10"), "{e}");
    // Warnings are capped, the rest counted.
    let isdb = "[X]\nDELIVERY_SYSTEM = ISDBT\nFREQUENCY = 473142857\n".repeat(MAX_WARNINGS + 500);
    let f = parse_ok(&isdb);
    assert_eq!(f.warnings.len(), MAX_WARNINGS + 1);
    assert_eq!(
        f.warnings.last().unwrap().message,
        "500 more warnings not shown"
    );
}
