//! `dvbgate epg CAPTURE --json` on real broadcast captures: the guide a multiplex carries,
//! decoded. French titles must come out as French (ISO 8859-9 with a selector byte on TNT;
//! ISO 8859-15 without one on CANAL+ satellite, which needs the charset override), never as
//! U+FFFD or UTF-8-read-as-Latin-1 mojibake; the UK capture's Freeview Huffman-coded title
//! must decode. Known programmes (TSDuck's reference dump of the same capture) are checked by
//! service, start time and title.

#![allow(clippy::print_stderr)]

use dvbgate_e2e::{dvbgate, shared_streams};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// `dvbgate epg FILE --json [extra]`, asserted successful; its JSON report.
fn epg_json(file: &Path, extra: &[&str]) -> Value {
    let out = Command::new(dvbgate())
        .arg("epg")
        .arg(file)
        .arg("--json")
        .args(extra)
        .output()
        .expect("dvbgate runs");
    assert!(
        out.status.success(),
        "dvbgate epg {}: {}\n{}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "dvbgate epg --json printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn events(report: &Value) -> &Vec<Value> {
    report["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no `events` array: {report:#}"))
}

/// Text that a reader would call clean: no U+FFFD, no control characters, and none of the
/// two-character sequences UTF-8 leaves when it is read as Latin-1 ("Ã©" for "é").
fn assert_clean(text: &str, what: &str) {
    assert!(!text.contains('\u{FFFD}'), "{what}: U+FFFD in {text:?}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: control characters in {text:?}"
    );
    let chars: Vec<char> = text.chars().collect();
    assert!(
        !chars
            .windows(2)
            .any(|w| matches!(w[0], 'Ã' | 'Â') && ('\u{80}'..='\u{BF}').contains(&w[1])),
        "{what}: mojibake in {text:?}"
    );
}

fn assert_all_clean(evs: &[Value], file: &str) {
    for e in evs {
        for k in ["title", "short_text", "description"] {
            let t = e[k]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: {k} is not a string: {e}"));
            assert_clean(t, &format!("{file} event {} {k}", e["event_id"]));
        }
        assert!(e["start"].is_i64() && e["duration"].is_u64(), "{file}: {e}");
        assert!(
            e["service_id"].is_u64() && e["event_id"].is_u64(),
            "{file}: {e}"
        );
    }
}

fn find(evs: &[Value], service: u64, start: i64) -> Option<&Value> {
    evs.iter()
        .find(|e| e["service_id"].as_u64() == Some(service) && e["start"].as_i64() == Some(start))
}

fn capture(name: &str) -> Option<std::path::PathBuf> {
    let p = shared_streams()?.join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("\n*** SKIPPED: {} is absent ***\n", p.display());
        None
    }
}

/// French DTT multiplex R4 (M6, W9, Arte, France 5, 6ter): a day of EIT schedule, titles
/// in ISO 8859-9 with its selector byte.
#[test]
fn french_tnt_schedule() {
    let Some(file) = capture("dvbt-fr-multi4-si-eit-schedule.ts") else {
        return;
    };
    let report = epg_json(&file, &[]);
    let evs = events(&report);
    assert_all_clean(evs, "multi4");
    // 294 schedule events of the five services of the multiplex (TSDuck counts them).
    let actual: Vec<&Value> = evs
        .iter()
        .filter(|e| [1025, 1026, 1031, 1045, 1046].contains(&e["service_id"].as_u64().unwrap_or(0)))
        .collect();
    assert!(
        actual.len() >= 290,
        "{} events of the actual multiplex",
        actual.len()
    );
    for sid in [1025, 1026, 1031, 1045, 1046] {
        let n = actual.iter().filter(|e| e["service_id"] == sid).count();
        assert!(n >= 20, "service {sid}: only {n} events");
    }
    // France 5, 2019-01-22 01:25 UTC, 50 min; Arte, 00:50 UTC, 57 min.
    let f5 = find(evs, 1045, 1_548_120_300).expect("France 5's 01:25 programme");
    assert_eq!(
        f5["title"], "La guerre des trônes, la véritable histoire de l'Europe",
        "{f5}"
    );
    assert_eq!(f5["duration"], 50 * 60);
    let arte = find(evs, 1031, 1_548_118_200).expect("Arte's 00:50 programme");
    assert_eq!(
        arte["title"], "Hong Kong, génération rétrocession",
        "{arte}"
    );
    let accented = evs
        .iter()
        .filter(|e| {
            e["title"]
                .as_str()
                .is_some_and(|t| t.contains(['é', 'è', 'à', 'ô', 'ç']))
        })
        .count();
    assert!(accented >= 20, "only {accented} titles with French accents");
    assert!(
        report["broadcast_time"].is_i64(),
        "TDT/TOT read: {}",
        report["broadcast_time"]
    );
}

/// CANAL+ satellite: present/following of eleven services and 170 others. The texts have
/// no character-table selector, so EN 300 468 says ISO 6937, but CANAL+ sends ISO 8859-15:
/// read by the book, "réalisé" comes out as "rØalisØ" (0xE9 is Ø in ISO 6937). That is
/// what the per-network charset rule (settings.epg.charsets, `--charset`) is for: with it,
/// the French is right.
#[test]
fn canalsat_latin_text_without_selector() {
    let Some(file) = capture("dvbs-fr-canalsat-eit-pf-other.ts") else {
        return;
    };
    let by_the_book = epg_json(&file, &[]);
    let evs = events(&by_the_book);
    assert_all_clean(evs, "canalsat (ISO 6937)");
    assert!(evs.len() >= 300, "{} events", evs.len());
    let services: std::collections::BTreeSet<u64> = evs
        .iter()
        .filter_map(|e| e["service_id"].as_u64())
        .collect();
    assert!(services.len() >= 11, "services {services:?}");

    let report = epg_json(&file, &["--charset", "iso8859-15"]);
    let evs = events(&report);
    assert_all_clean(evs, "canalsat (ISO 8859-15)");
    assert_eq!(evs.len(), events(&by_the_book).len());
    let e = find(evs, 10079, 1_503_489_000).expect("service 10079 at 1503489000");
    assert_eq!(e["title"], "PECHE XXL");
    assert!(
        e["short_text"]
            .as_str()
            .unwrap()
            .starts_with("Documentaire canadien réalisé par Cyril Chauquet"),
        "{e}"
    );
    let e = find(evs, 8006, 1_503_489_300).expect("service 8006 at 1503489300");
    assert!(
        e["short_text"]
            .as_str()
            .unwrap()
            .starts_with("Le mystère des «Désenchantées» Documentaire français"),
        "{e}"
    );
    let text = |e: &Value| format!("{} {} {}", e["title"], e["short_text"], e["description"]);
    let accented = evs
        .iter()
        .filter(|e| text(e).contains(['é', 'è', 'à', 'ç', 'ê']))
        .count();
    assert!(
        accented >= 100,
        "only {accented} events with French accents"
    );
    let wrong: Vec<String> = evs
        .iter()
        .map(text)
        .filter(|t| t.contains(['Ø', 'Ł', 'Ŀ']))
        .collect();
    assert!(wrong.is_empty(), "ISO 6937 readings left: {wrong:?}");
}

/// UK Freeview fragment, deliberately corrupted elsewhere: its EIT text is Huffman-coded
/// (selector 0x1F, Freeview's table 1). The command must not fail, and the text decodes.
#[test]
fn uk_freeview_huffman_text_decodes() {
    let Some(file) = capture("dvbt-uk-freeview-huffman-eit-corrupt.ts") else {
        return;
    };
    let report = epg_json(&file, &[]);
    let evs = events(&report);
    assert_all_clean(evs, "freeview");
    let pointless = find(evs, 4171, 1_604_337_300).expect("service 4171 at 2020-11-02 17:15 UTC");
    assert_eq!(pointless["title"], "Pointless", "{pointless}");
    assert!(
        pointless["short_text"]
            .as_str()
            .unwrap()
            .starts_with("19/55. The quiz in which contestants"),
        "{pointless}"
    );
    for e in evs {
        let t = e["title"].as_str().unwrap_or("");
        assert!(
            t.chars().filter(|c| c.is_alphabetic()).count() * 2 >= t.chars().count(),
            "a Huffman title that did not decode to words: {t:?}"
        );
    }
    eprintln!(
        "freeview: {} event(s): {:?}",
        evs.len(),
        evs.iter().map(|e| &e["title"]).collect::<Vec<_>>()
    );
}
