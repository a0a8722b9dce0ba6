//! Monitoring of the running demo: `/metrics` read by the Prometheus project's own Python
//! parser (`prometheus_client.parser.text_string_to_metric_families`, PyPI
//! `prometheus_client` in tests/xc-clients/.venv), the live event stream, and the log.
//!
//! The parser is installed by scripts/test (ensure_xc_clients in scripts/lib/xc-clients.sh);
//! without it the Prometheus check skips loudly, or fails under
//! `DVBGATE_REQUIRE_XC_CLIENTS=1`.

#![allow(clippy::print_stderr)]

use dvbgate_e2e::{ChunkedReader, Daemon, http_get, read_response_head};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("xc-clients/.venv/bin/python")
}

/// Whether the Prometheus parser is here: a panic without it under
/// `DVBGATE_REQUIRE_XC_CLIENTS=1` (the test command), else a loud skip and `false`.
fn parser_available() -> bool {
    let ok = Command::new(venv_python())
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    let message = "missing the PyPI prometheus_client parser (tests/xc-clients/.venv); run \
                   scripts/test, which installs it (ensure_xc_clients in scripts/lib/xc-clients.sh)";
    if std::env::var("DVBGATE_REQUIRE_XC_CLIENTS").is_ok_and(|v| v == "1") {
        panic!("DVBGATE_REQUIRE_XC_CLIENTS=1 and {message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    false
}

/// Parses exposition text with the real parser; prints the families as JSON (values
/// that JSON cannot hold, NaN and infinities, as strings).
const PARSE: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({
        "name": f.name, "type": f.type, "help": f.documentation,
        "samples": [
            {"name": s.name, "labels": s.labels,
             "value": s.value if math.isfinite(s.value) else str(s.value)}
            for s in f.samples
        ],
    })
print(json.dumps(out))
"#;

#[derive(Debug)]
struct Family {
    kind: String,
    help: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

fn parse(text: &str) -> BTreeMap<String, Family> {
    let mut child = Command::new(venv_python())
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("parser ends");
    assert!(
        out.status.success(),
        "prometheus_client could not parse /metrics: {}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&out.stdout).expect("parser's JSON");
    families
        .into_iter()
        .map(|f| {
            let samples = f["samples"]
                .as_array()
                .expect("samples")
                .iter()
                .map(|s| {
                    let labels = s["labels"]
                        .as_object()
                        .expect("labels")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect();
                    let value = s["value"].as_f64().unwrap_or(f64::NAN);
                    (
                        s["name"].as_str().unwrap_or_default().to_owned(),
                        labels,
                        value,
                    )
                })
                .collect();
            (
                f["name"].as_str().expect("name").to_owned(),
                Family {
                    kind: f["type"].as_str().unwrap_or_default().to_owned(),
                    help: f["help"].as_str().unwrap_or_default().to_owned(),
                    samples,
                },
            )
        })
        .collect()
}

fn bearer(d: &Daemon) -> String {
    format!(
        "Bearer {}",
        d.token
            .as_deref()
            .expect("the demo names its API token file")
    )
}

fn metrics_text(d: &Daemon) -> String {
    let auth = bearer(d);
    let r = http_get(d.http, "/metrics", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    String::from_utf8(r.body).expect("UTF-8 metrics")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// The value of `family`'s sample whose labels include `with`.
fn value(fams: &BTreeMap<String, Family>, family: &str, with: &[(&str, &str)]) -> Option<f64> {
    fams.get(family)?
        .samples
        .iter()
        .find(|(_, labels, _)| {
            with.iter()
                .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

/// Reads a GET's chunked body in the background for as long as the test lives: an HTTP
/// TS client, counted as a viewer while connected.
fn watch_ts(d: &Daemon, number: u64) -> TcpStream {
    let mut s = TcpStream::connect(d.http).expect("connect");
    write!(
        s,
        "GET /stream/{number}.ts HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        d.http
    )
    .expect("request");
    let reader = s.try_clone().expect("clone");
    std::thread::spawn(move || {
        let mut sink = [0u8; 65536];
        let mut r = reader;
        while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
    });
    s
}

#[test]
fn metrics_parse_with_prometheus_client_and_carry_the_demos_figures() {
    if !parser_available() {
        return;
    }
    let d = Daemon::demo(&[]);
    let channels = d.wait_live(2, Duration::from_secs(60));
    let numbers: Vec<u64> = channels
        .iter()
        .map(|c| c["number"].as_u64().expect("number"))
        .collect();
    let first = numbers[0];

    // Something for each counter: an XC login that works, one that does not, an HLS
    // viewer of the first channel, an HTTP TS viewer of the second.
    let ok = http_get(d.http, "/player_api.php?username=demo&password=demo", &[]);
    assert_eq!(ok.status, 200);
    let wrong = http_get(d.http, "/player_api.php?username=demo&password=nope", &[]);
    assert!(wrong.status < 500, "{}", wrong.status);
    let hls = http_get(d.http, &format!("/hls/{first}/index.m3u8"), &[]);
    assert_eq!(hls.status, 200, "{}", String::from_utf8_lossy(&hls.body));
    let _tv = watch_ts(&d, numbers[1]);

    // Bit rates are measured over a second: wait until every channel has one, and the
    // HTTP viewer is counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (text, fams) = loop {
        let text = metrics_text(&d);
        let fams = parse(&text);
        let all_flowing = numbers.iter().all(|n| {
            value(
                &fams,
                "dvbgate_channel_bitrate_bits_per_second",
                &[("channel", &n.to_string())],
            )
            .is_some_and(|v| v > 0.0)
        });
        let http_seen = value(
            &fams,
            "dvbgate_channel_http_viewers",
            &[("channel", &numbers[1].to_string())],
        ) == Some(1.0);
        if all_flowing && http_seen {
            break (text, fams);
        }
        assert!(
            Instant::now() < deadline,
            "channels without bit rate or viewer after 20 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    // Every family has a help text, and the parser agrees on its type. Counters: the
    // parser names the family without `_total`, its samples keep it.
    for (name, f) in &fams {
        assert!(!f.help.is_empty(), "{name} has no HELP");
        if f.kind == "counter" {
            assert!(
                text.contains(&format!("# TYPE {name}_total counter\n")),
                "{name}"
            );
            for (sample, _, v) in &f.samples {
                assert_eq!(sample, &format!("{name}_total"));
                assert!(*v >= 0.0, "{sample} = {v}");
            }
        }
    }
    let expect = [
        ("dvbgate_build_info", "gauge"),
        ("process_start_time_seconds", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_open_fds", "gauge"),
        ("dvbgate_tuner_info", "gauge"),
        ("dvbgate_tuner_locked", "gauge"),
        ("dvbgate_tuner_signal_strength_dbm", "gauge"),
        ("dvbgate_tuner_carrier_to_noise_db", "gauge"),
        ("dvbgate_tuner_bit_error_ratio", "gauge"),
        ("dvbgate_tuner_uncorrected_blocks", "counter"),
        ("dvbgate_input_up", "gauge"),
        ("dvbgate_input_bitrate_bits_per_second", "gauge"),
        ("dvbgate_input_packets", "counter"),
        ("dvbgate_input_cc_errors", "counter"),
        ("dvbgate_input_transport_errors", "counter"),
        ("dvbgate_input_crc_errors", "counter"),
        ("dvbgate_channel_up", "gauge"),
        ("dvbgate_channel_bitrate_bits_per_second", "gauge"),
        ("dvbgate_channel_packets", "counter"),
        ("dvbgate_output_datagrams", "counter"),
        ("dvbgate_output_send_errors", "counter"),
        ("dvbgate_output_dropped_datagrams", "counter"),
        ("dvbgate_channel_hls_viewers", "gauge"),
        ("dvbgate_channel_http_viewers", "gauge"),
        ("dvbgate_xc_logins", "counter"),
        ("dvbgate_admin_logins", "counter"),
        ("dvbgate_epg_events", "gauge"),
        ("dvbgate_epg_sections", "counter"),
    ];
    for (name, kind) in expect {
        let f = fams
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"));
        assert_eq!(f.kind, kind, "{name}");
    }

    let now = unix_now();
    let rss = value(&fams, "process_resident_memory_bytes", &[]).expect("RSS");
    assert!(rss > 1e6 && rss < 4e9, "RSS {rss}");
    let cpu = value(&fams, "process_cpu_seconds", &[]).expect("CPU time");
    assert!(cpu > 0.0 && cpu < 3600.0, "CPU {cpu} s");
    let start = value(&fams, "process_start_time_seconds", &[]).expect("start time");
    assert!(
        start <= now && start > now - 600.0,
        "start {start}, now {now}"
    );
    let version = &fams["dvbgate_build_info"].samples[0].1["version"];
    assert!(!version.is_empty());

    // Every channel and input appears with its labels; the demo's are all up.
    for c in &channels {
        let n = c["number"].to_string();
        let name = c["name"].as_str().expect("name");
        for family in [
            "dvbgate_channel_up",
            "dvbgate_channel_packets",
            "dvbgate_output_datagrams",
            "dvbgate_channel_hls_viewers",
        ] {
            let v = value(&fams, family, &[("channel", &n), ("name", name)])
                .unwrap_or_else(|| panic!("{family} of channel {n} {name:?}:\n{text}"));
            if family != "dvbgate_channel_hls_viewers" {
                assert!(v > 0.0, "{family}{{channel={n}}} = {v}");
            }
        }
    }
    let (_, inputs) = d.get("/api/v1/inputs");
    for i in inputs.as_array().expect("inputs") {
        let id = i["id"].to_string();
        let name = i["name"].as_str().expect("name");
        assert_eq!(
            value(&fams, "dvbgate_input_up", &[("input", &id), ("name", name)]),
            Some(1.0),
            "input {id}"
        );
        assert!(
            value(
                &fams,
                "dvbgate_input_bitrate_bits_per_second",
                &[("input", &id)]
            )
            .is_some_and(|v| v > 100_000.0),
            "input {id} bit rate"
        );
        assert!(value(&fams, "dvbgate_input_packets", &[("input", &id)]).is_some_and(|v| v > 0.0));
    }

    // The API's own counters saw what this test did.
    assert!(value(&fams, "dvbgate_xc_logins", &[("outcome", "ok")]).is_some_and(|v| v >= 1.0));
    assert!(
        value(&fams, "dvbgate_xc_logins", &[("outcome", "wrong_password")])
            .is_some_and(|v| v >= 1.0)
    );
    assert_eq!(
        value(
            &fams,
            "dvbgate_channel_hls_viewers",
            &[("channel", &first.to_string())]
        ),
        Some(1.0),
        "this test's HLS fetch"
    );
    assert!(value(&fams, "dvbgate_admin_logins", &[("outcome", "failed")]).is_some());
    // The demo's guide comes from its EIT.
    assert!(value(&fams, "dvbgate_epg_events", &[("guide", "broadcast")]).is_some());

    // Without credentials: a Basic challenge, so Prometheus' basic_auth can be set up.
    let r = http_get(d.http, "/metrics", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"dvbgate\"")
    );
}

/// Events of `/api/v1/live` until `count` arrived.
fn live_events(d: &Daemon, count: usize) -> Vec<Value> {
    let mut s = TcpStream::connect(d.http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET /api/v1/live HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nAccept: text/event-stream\r\n\r\n",
        d.http,
        bearer(d)
    )
    .expect("request");
    let mut r = BufReader::new(s);
    let (status, headers) = read_response_head(&mut r).expect("response head");
    assert_eq!(status, 200, "{headers:?}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream")),
        "{headers:?}"
    );
    let mut body = BufReader::new(ChunkedReader::new(r));
    let mut events = Vec::new();
    let mut kind = String::new();
    let mut line = String::new();
    while events.len() < count {
        line.clear();
        let n = body.read_line(&mut line).expect("an event within 10 s");
        assert!(n > 0, "the event stream ended");
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(k) = line.strip_prefix("event: ") {
            kind = k.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            assert_eq!(kind, "stats");
            events.push(serde_json::from_str(data).expect("JSON data"));
        }
    }
    events
}

#[test]
fn live_events_tick_with_bit_rates_and_the_log_has_lines() {
    let d = Daemon::demo(&[]);
    let channels = d.wait_live(2, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    let events = live_events(&d, 3);
    let times: Vec<i64> = events
        .iter()
        .map(|e| e["time"].as_i64().expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[1] > w[0]),
        "time advances: {times:?}"
    );
    let last = events.last().expect("events");
    assert_eq!(
        last["channels"].as_array().expect("channels").len(),
        channels.len()
    );
    for c in last["channels"].as_array().expect("channels") {
        assert_eq!(c["status"], "live", "{c}");
        assert!(c["bitrate_bps"].as_u64().is_some_and(|b| b > 0), "{c}");
        assert!(
            c["multicast"].as_str().is_some_and(|m| m.contains("://@")),
            "{c}"
        );
    }
    for i in last["inputs"].as_array().expect("inputs") {
        assert_eq!(i["state"], "running", "{i}");
        assert!(i["bitrate_bps"].as_u64().is_some_and(|b| b > 0), "{i}");
    }
    assert!(last["rss_bytes"].as_u64().is_some_and(|r| r > 0));
    assert!(last["tuners"].is_array());

    // The history has its first point.
    let (status, h) = d.get("/api/v1/history");
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["interval_s"], 10);
    let n = channels[0]["number"].to_string();
    let points = h["channels"][&n]["bitrate_bps"]
        .as_array()
        .unwrap_or_else(|| panic!("channel {n} in the history: {h}"));
    assert!(!points.is_empty());

    // The log: the pipelines' lines, in their input's span.
    let (status, logs) = d.get("/api/v1/logs?limit=1000");
    assert_eq!(status, 200, "{logs}");
    let lines = logs["lines"].as_array().expect("lines");
    assert!(!lines.is_empty(), "{logs}");
    for l in lines {
        assert!(
            l["seq"].as_u64().is_some() && l["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{l}"
        );
        assert!(
            ["INFO", "WARN", "ERROR"].contains(&l["level"].as_str().unwrap_or("")),
            "{l}"
        );
    }
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains("receiving a transport stream"))
            && l["spans"].as_str().is_some_and(|s| s.starts_with("input{"))),
        "no pipeline line in an input span: {logs:#}"
    );
    let next = logs["next"].as_u64().expect("next");
    let (_, later) = d.get(&format!("/api/v1/logs?after={next}"));
    assert!(
        later["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|l| l["seq"].as_u64() > Some(next))
    );
}
