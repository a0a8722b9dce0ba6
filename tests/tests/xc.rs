//! The Xtream-Codes API, M3U, XMLTV and HDHomeRun faces of the running demo, judged by the
//! clients that use them: the npm @iptv/xtream-api (raw and "standardized"), pyxtream and
//! m3u-ipytv (tests/xc-clients) log in, list, read the guide and play; tv_validate_file and
//! xmllint judge the XMLTV; and the answers research/xc-api.md documents for wrong, expired
//! and disabled users, malformed queries, connection limits and brute force are checked
//! request by request, with the wire types of its §9 checklist.
//!
//! Failed logins are slowed per source address, so every check that fails a login on
//! purpose comes from a loopback address of its own (127.0.0.N): one check's failures do
//! not slow the next one down. The brute-force test has a daemon of its own.
//!
//! The tools are installed by scripts/test (ensure_xc_clients in scripts/lib/xc-clients.sh);
//! without them the tests skip loudly, or fail under DVBGATE_REQUIRE_XC_CLIENTS=1.

#![allow(clippy::print_stderr)]

use dvbgate_e2e::{ChunkedReader, Daemon, HttpResponse, http_get, read_response_head};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USER: &str = "demo";
const PASS: &str = "demo";

fn xc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("xc-clients")
}

fn venv_python() -> PathBuf {
    xc_dir().join(".venv/bin/python")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Whether the tools `what` needs are here. When not: a panic under
/// `DVBGATE_REQUIRE_XC_CLIENTS=1` (the test command), else a loud skip and `false`.
fn xc_tools(what: &str, needs: &[&str]) -> bool {
    let runs = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut missing = Vec::new();
    for need in needs {
        let ok = match *need {
            "node" => {
                runs("node", "--version")
                    && xc_dir()
                        .join("node_modules/@iptv/xtream-api/package.json")
                        .is_file()
            }
            "python" => Command::new(venv_python())
                .args(["-c", "import pyxtream, ipytv"])
                .output()
                .is_ok_and(|o| o.status.success()),
            "tv_validate_file" => Path::new("/usr/bin/tv_validate_file").is_file(),
            "xmllint" => runs("xmllint", "--version"),
            "gzip" => runs("gzip", "--version"),
            other => panic!("unknown tool {other}"),
        };
        if !ok {
            missing.push(*need);
        }
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{what}: missing {} (tests/xc-clients: node_modules, .venv); run scripts/test, which \
         installs them (ensure_xc_clients in scripts/lib/xc-clients.sh)",
        missing.join(", ")
    );
    if std::env::var("DVBGATE_REQUIRE_XC_CLIENTS").is_ok_and(|v| v == "1") {
        panic!("DVBGATE_REQUIRE_XC_CLIENTS=1 and {message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    false
}

// ---------------------------------------------------------------------------------------
// HTTP from a chosen loopback source address.

/// One request over a fresh connection from `from` (a 127.0.0.N address), read whole.
fn http_from(
    from: Ipv4Addr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let start = Instant::now();
    let mut s = connect_from(from, addr);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send the request");
    s.write_all(body).expect("send the body");
    let mut reader = BufReader::new(s);
    let (status, headers) = read_response_head(&mut reader)
        .unwrap_or_else(|e| panic!("{method} {path} from {from}: {e}"));
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut out = Vec::new();
    let res = if method == "HEAD" || status == 204 || status == 304 {
        Ok(0)
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        ChunkedReader::new(reader).read_to_end(&mut out)
    } else if let Some(len) = find("content-length") {
        let len: u64 = len.parse().expect("Content-Length");
        reader.take(len).read_to_end(&mut out)
    } else {
        reader.read_to_end(&mut out)
    };
    res.unwrap_or_else(|e| panic!("{method} {path} from {from}: body: {e}"));
    HttpResponse {
        status,
        headers,
        body: out,
        elapsed: start.elapsed(),
    }
}

fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    s.bind(&SocketAddr::new(IpAddr::V4(from), 0).into())
        .unwrap_or_else(|e| panic!("bind {from}: {e}"));
    s.connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr} from {from}: {e}"));
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// A loopback source address of its own for each check that fails logins on purpose.
fn src(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

fn get_from(from: Ipv4Addr, d: &Daemon, path: &str) -> HttpResponse {
    http_from(from, d.http, "GET", path, &[], b"")
}

/// GET from 127.0.0.1, as JSON (asserting a 200 and a JSON body).
fn api(d: &Daemon, query: &str) -> Value {
    let path = format!("/player_api.php?username={USER}&password={PASS}{query}");
    let r = http_get(d.http, &path, &[]);
    assert_eq!(r.status, 200, "{path}: {}", r.describe());
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "{path}: Content-Type {ct:?}"
    );
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", r.describe()))
}

// ---------------------------------------------------------------------------------------
// Field types (research/xc-api.md §2, §9).

fn digits(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

fn assert_str_digits(o: &Value, keys: &[&str], what: &str) {
    for k in keys {
        assert!(
            digits(&o[k]),
            "{what}: {k} must be a digit string, is {}",
            o[k]
        );
    }
}

fn assert_numbers(o: &Value, keys: &[&str], what: &str) {
    for k in keys {
        assert!(
            o[k].is_u64(),
            "{what}: {k} must be a JSON number, is {}",
            o[k]
        );
    }
}

fn check_login_object(v: &Value, user: &str) {
    let u = &v["user_info"];
    assert_eq!(u["auth"], json!(1), "login object: {v:#}");
    assert_eq!(u["username"], user);
    assert_eq!(u["status"], "Active");
    assert!(u["message"].is_string(), "message: {v:#}");
    assert_str_digits(
        u,
        &["exp_date", "created_at", "active_cons", "max_connections"],
        "user_info",
    );
    assert_eq!(u["is_trial"], "0");
    assert!(
        u["exp_date"].as_str().unwrap().parse::<i64>().unwrap() > now(),
        "exp_date in the future for an unlimited line: {u:#}"
    );
    let formats: Vec<&str> = u["allowed_output_formats"]
        .as_array()
        .unwrap_or_else(|| panic!("allowed_output_formats must be an array: {u:#}"))
        .iter()
        .map(|f| f.as_str().expect("formats are strings"))
        .collect();
    assert!(formats.contains(&"ts"), "{formats:?}");
    let s = &v["server_info"];
    assert_str_digits(s, &["port", "https_port", "rtmp_port"], "server_info");
    assert!(s["url"].is_string() && !s["url"].as_str().unwrap().contains('/'));
    assert_eq!(s["server_protocol"], "http");
    assert!(s["timezone"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(s["timestamp_now"].is_i64(), "timestamp_now is a number");
    assert!(
        (s["timestamp_now"].as_i64().unwrap() - now()).abs() < 60,
        "timestamp_now is now: {s:#}"
    );
    assert_eq!(
        s["time_now"].as_str().map(str::len),
        Some(19),
        "time_now YYYY-MM-DD HH:MM:SS"
    );
    assert_eq!(s["process"], json!(true));
}

fn check_category(c: &Value) {
    assert_str_digits(c, &["category_id"], "category");
    assert!(c["category_name"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(c["parent_id"], json!(0), "parent_id is the number 0: {c}");
}

fn check_live_entry(e: &Value) {
    let what = format!("live entry {}", e["name"]);
    assert_numbers(
        e,
        &["num", "stream_id", "tv_archive", "tv_archive_duration"],
        &what,
    );
    assert_str_digits(e, &["added", "category_id"], &what);
    assert_eq!(e["stream_type"], "live", "{what}");
    assert!(e["name"].as_str().is_some_and(|n| !n.is_empty()), "{what}");
    for k in [
        "stream_icon",
        "custom_sid",
        "direct_source",
        "thumbnail",
        "is_adult",
    ] {
        assert!(
            e[k].is_string(),
            "{what}: {k} must be a string, is {}",
            e[k]
        );
    }
    assert_eq!(e["is_adult"], "0");
    assert_eq!(e["direct_source"], "", "{what}: apps would play it");
    assert!(
        e["epg_channel_id"].is_string() || e["epg_channel_id"].is_null(),
        "{what}: epg_channel_id {}",
        e["epg_channel_id"]
    );
    let ids = e["category_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: category_ids must be an array"));
    assert!(
        !ids.is_empty() && ids.iter().all(Value::is_u64),
        "{what}: category_ids {ids:?}"
    );
    let primary: u64 = e["category_id"].as_str().unwrap().parse().unwrap();
    assert!(
        ids.contains(&json!(primary)),
        "{what}: {ids:?} lacks {primary}"
    );
}

/// Standard base64 (with padding) decoded, or `None`.
fn base64(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n <<= 6;
            if i < 4 - pad {
                n |= val(*c)?;
            } else if *c != b'=' {
                return None;
            }
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

/// A base64 field decoded to UTF-8, asserted clean.
fn b64_text(v: &Value, what: &str) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v}"));
    let bytes = base64(s).unwrap_or_else(|| panic!("{what}: not padded standard base64: {s:?}"));
    let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    assert!(!text.contains('\u{FFFD}'), "{what}: {text:?}");
    text
}

fn check_epg_entry(e: &Value, stream_id: u64, epg_id: &str) {
    for k in ["id", "epg_id", "lang", "start", "end", "channel_id"] {
        assert!(e[k].is_string(), "EPG {k} must be a string: {e}");
    }
    assert_str_digits(e, &["start_timestamp", "stop_timestamp"], "EPG");
    assert_eq!(e["channel_id"], epg_id, "EPG channel_id = epg_channel_id");
    assert!(
        e["stream_id"] == json!(stream_id.to_string()) || e["stream_id"] == json!(stream_id),
        "EPG stream_id {e}"
    );
    assert_eq!(e["start"].as_str().unwrap().len(), 19, "start {e}");
    let title = b64_text(&e["title"], "title");
    assert!(!title.is_empty(), "an empty title: {e}");
    b64_text(&e["description"], "description");
}

fn ts(e: &Value, k: &str) -> i64 {
    e[k].as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{k}: {e}"))
}

// ---------------------------------------------------------------------------------------
// The demo, with its guide.

struct Demo {
    d: Daemon,
    /// get_live_streams.
    streams: Vec<Value>,
    /// A channel with programmes now: (stream_id, epg_channel_id).
    guided: (u64, String),
}

fn demo(pool: &str) -> Demo {
    let d = Daemon::demo(&["--multicast-pool", pool]);
    d.wait_live(4, Duration::from_secs(10));
    // The guide fills as the multiplex's EIT schedule comes round.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let streams: Vec<Value> = api(&d, "&action=get_live_streams")
            .as_array()
            .cloned()
            .expect("get_live_streams is an array");
        let mut guided = None;
        for s in &streams {
            let Some(epg) = s["epg_channel_id"].as_str() else {
                continue;
            };
            let id = s["stream_id"].as_u64().expect("stream_id");
            let short = api(&d, &format!("&action=get_short_epg&stream_id={id}"));
            if short["epg_listings"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
            {
                guided = Some((id, epg.to_string()));
                break;
            }
        }
        if let Some(guided) = guided {
            assert_eq!(streams.len(), 4, "the demo's 4 services: {streams:#?}");
            return Demo { d, streams, guided };
        }
        assert!(
            Instant::now() < deadline,
            "no channel has a short EPG 30 s after start: {:#}\n{}",
            json!(streams),
            d.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs a client script; its last stdout line is its JSON summary.
fn run_client(what: &str, cmd: &mut Command) -> Value {
    let t0 = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(
        out.status.success() && summary["ok"] == json!(true),
        "{what} failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    eprintln!(
        "{what} passed in {:.1} s: {summary}",
        t0.elapsed().as_secs_f64()
    );
    summary
}

fn node(script: &str, d: &Daemon, user: &str, pass: &str, extra: &[&str]) -> Command {
    let mut c = Command::new("node");
    c.arg(xc_dir().join(script))
        .args(["--url", &d.url(""), "--user", user, "--pass", pass])
        .args(extra);
    c
}

fn python(script: &str, d: &Daemon, user: &str, pass: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(venv_python());
    c.arg(xc_dir().join(script))
        .args(["--url", &d.url(""), "--user", user, "--pass", pass])
        .args(extra)
        .env("PYTHONIOENCODING", "utf-8");
    c
}

// ---------------------------------------------------------------------------------------

/// The three real client libraries against the demo, then its XMLTV through the
/// validators, cross-checked with the lineup the clients saw. Wrong-password runs last:
/// they count as failed logins from 127.0.0.1.
#[test]
fn real_clients_and_xmltv() {
    if !xc_tools(
        "real XC clients",
        &["node", "python", "tv_validate_file", "xmllint", "gzip"],
    ) {
        return;
    }
    let demo = demo("239.255.105.0/24");
    let d = &demo.d;
    let (guided, guided_epg) = (demo.guided.0.to_string(), demo.guided.1.clone());

    let npm = run_client(
        "@iptv/xtream-api",
        &mut node(
            "xtream-api.mjs",
            d,
            USER,
            PASS,
            &["--epg-stream", &guided, "--min-channels", "4"],
        ),
    );
    assert_eq!(npm["channels"].as_array().map(Vec::len), Some(4));
    let pyx = run_client(
        "pyxtream",
        &mut python(
            "pyxtream_check.py",
            d,
            USER,
            PASS,
            &["--epg-stream", &guided, "--min-channels", "4"],
        ),
    );
    assert_eq!(pyx["channels"].as_array().map(Vec::len), Some(4));
    let m3u = run_client("m3u-ipytv", &mut python("m3u_check.py", d, USER, PASS, &[]));
    // Télé Quatre: UTF-8 all the way from the SDT to the client.
    let names = m3u["m3u_plus"]["names"].to_string();
    assert!(names.contains("Télé Quatre"), "{names}");

    // XMLTV: both URLs, plain and gzip, valid by the DTD and by tv_validate_file.
    let epg_ids: BTreeSet<String> = demo
        .streams
        .iter()
        .filter_map(|s| s["epg_channel_id"].as_str().map(String::from))
        .collect();
    assert_eq!(epg_ids.len(), 4, "every demo channel has an epg_channel_id");
    let m3u_ids = m3u_tvg_ids(d);
    assert_eq!(m3u_ids, epg_ids, "M3U tvg-id = epg_channel_id");
    for path in [
        format!("/xmltv.php?username={USER}&password={PASS}"),
        "/epg.xml".to_string(),
    ] {
        let plain = http_get(d.http, &path, &[]);
        assert_eq!(plain.status, 200, "{path}: {}", plain.describe());
        let ct = plain
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(
            (ct.starts_with("application/xml") || ct.starts_with("text/xml"))
                && ct.replace(' ', "").contains("charset=utf-8"),
            "{path}: Content-Type {ct:?}"
        );
        let xml = plain.text();
        let zipped = http_get(d.http, &path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(zipped.status, 200);
        assert_eq!(
            zipped.header("content-encoding"),
            Some("gzip"),
            "{path} with Accept-Encoding: gzip: {:?}",
            zipped.headers
        );
        assert!(zipped.body.len() < plain.body.len() / 2, "gzip compresses");
        let unzipped = gunzip(&zipped.body);
        assert!(
            unzipped.starts_with(b"<?xml"),
            "{path}: gzip body is not the XML"
        );
        validate_xmltv(&path, &xml);

        let (channels, programmes) = xmltv_ids(&xml);
        assert_eq!(
            channels, epg_ids,
            "{path}: XMLTV channel ids = epg_channel_id"
        );
        for id in &epg_ids {
            let n = programmes.iter().filter(|p| *p == id).count();
            if *id == guided_epg {
                assert!(n >= 2, "{path}: {n} programmes for {id}");
            }
        }
        assert!(
            programmes.len() >= 4,
            "{path}: {} programmes in all",
            programmes.len()
        );
    }

    // Wrong credentials, last: each library must report the refusal cleanly.
    run_client(
        "@iptv/xtream-api (wrong password)",
        &mut node("xtream-api.mjs", d, USER, "wrong", &["--expect-auth-fail"]),
    );
    run_client(
        "pyxtream (wrong password)",
        &mut python(
            "pyxtream_check.py",
            d,
            USER,
            "wrong",
            &["--expect-auth-fail"],
        ),
    );
}

fn m3u_tvg_ids(d: &Daemon) -> BTreeSet<String> {
    let r = http_get(
        d.http,
        &format!("/get.php?username={USER}&password={PASS}&type=m3u_plus&output=ts"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    attr_values(&r.text(), "tvg-id=\"").into_iter().collect()
}

/// Every value of an attribute written `name="…"` in a text.
fn attr_values(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// XMLTV `<channel id>`s, and the `channel` of each `<programme>`.
fn xmltv_ids(xml: &str) -> (BTreeSet<String>, Vec<String>) {
    let channels = xml
        .match_indices("<channel ")
        .filter_map(|(i, _)| attr_values(&xml[i..xml[i..].find('>')? + i], "id=\"").pop())
        .collect();
    let programmes = xml
        .match_indices("<programme ")
        .filter_map(|(i, _)| attr_values(&xml[i..xml[i..].find('>')? + i], "channel=\"").pop())
        .collect();
    (channels, programmes)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("gzip output");
    feeder.join().expect("feeder").expect("write to gzip");
    assert!(out.status.success(), "not gzip data");
    out.stdout
}

/// tv_validate_file (with the packaged DTD: it cannot download it here) and xmllint.
fn validate_xmltv(what: &str, xml: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("epg.xml");
    std::fs::write(&file, xml).expect("write the XMLTV");
    let dtd_dir = xmltv_dtd_dir();
    let out = Command::new("tv_validate_file")
        .arg(&file)
        .env("XMLTV_SUPPLEMENT", &dtd_dir)
        .output()
        .expect("tv_validate_file runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("Validated ok"),
        "{what}: tv_validate_file says:\n{text}\n(kept in {})",
        dir.keep().display()
    );
    let out = Command::new("xmllint")
        .args(["--noout", "--dtdvalid"])
        .arg(dtd_dir.join("xmltv.dtd"))
        .arg(&file)
        .output()
        .expect("xmllint runs");
    assert!(
        out.status.success(),
        "{what}: xmllint --dtdvalid:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where xmltv-util put xmltv.dtd (dpkg -L xmltv-util).
fn xmltv_dtd_dir() -> PathBuf {
    let out = Command::new("dpkg")
        .args(["-L", "xmltv-util"])
        .output()
        .expect("dpkg runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with("/xmltv.dtd"))
        .and_then(|l| Path::new(l).parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/usr/share/xmltv"))
}

// ---------------------------------------------------------------------------------------

/// The answers xc-api.md documents, one request at a time, with their wire types.
#[test]
fn documented_answers() {
    let demo = demo("239.255.106.0/24");
    let d = &demo.d;
    let (sid, epg_id) = demo.guided.clone();

    // Login object: no action, an unknown action, get_profile/get_server_info.
    for q in [
        "",
        "&action=get_profile",
        "&action=get_server_info",
        "&action=bogus",
    ] {
        check_login_object(&api(d, q), USER);
    }
    assert_eq!(api(d, "")["server_info"]["port"], d.http.port().to_string());
    assert_eq!(api(d, "")["server_info"]["url"], "127.0.0.1");

    // Categories and live streams.
    let cats = api(d, "&action=get_live_categories");
    let cats = cats.as_array().expect("categories array");
    assert!(!cats.is_empty());
    cats.iter().for_each(check_category);
    demo.streams.iter().for_each(check_live_entry);
    let nums: Vec<u64> = demo
        .streams
        .iter()
        .map(|s| s["num"].as_u64().unwrap())
        .collect();
    assert!(nums.windows(2).all(|w| w[0] < w[1]), "by number: {nums:?}");
    for c in cats {
        let id = c["category_id"].as_str().unwrap();
        let inside = api(d, &format!("&action=get_live_streams&category_id={id}"));
        for s in inside.as_array().expect("array") {
            assert_eq!(s["category_id"], id, "category {id} lists {s}");
        }
    }
    let unknown = api(d, "&action=get_live_streams&category_id=abc");
    assert_eq!(
        unknown.as_array().map(Vec::len),
        Some(4),
        "category_id=abc means all"
    );
    // Numeric aliases: 201 get_live_categories, 202 get_live_streams.
    assert_eq!(api(d, "&action=202").as_array().map(Vec::len), Some(4));

    // VOD and series: valid empty answers.
    for a in [
        "get_vod_categories",
        "get_vod_streams",
        "get_series_categories",
        "get_series",
    ] {
        assert_eq!(api(d, &format!("&action={a}")), json!([]), "{a}");
    }
    let vod = api(d, "&action=get_vod_info&vod_id=1");
    assert!(vod.is_object(), "get_vod_info: {vod}");

    // Short EPG: current and future only, `limit` honoured, default 4.
    let t = now();
    for (q, max) in [("", 4), ("&limit=1", 1), ("&limit=2", 2), ("&limit=10", 10)] {
        let v = api(d, &format!("&action=get_short_epg&stream_id={sid}{q}"));
        let l = v["epg_listings"].as_array().expect("epg_listings");
        assert!(!l.is_empty() && l.len() <= max, "{q}: {} entries", l.len());
        for e in l {
            check_epg_entry(e, sid, &epg_id);
            assert!(
                ts(e, "stop_timestamp") > t,
                "ended programme in short EPG: {e}"
            );
        }
        assert!(
            ts(&l[0], "start_timestamp") <= t + 1,
            "the first is on now: {}",
            l[0]
        );
        assert!(
            l.windows(2)
                .all(|w| ts(&w[0], "start_timestamp") < ts(&w[1], "start_timestamp"))
        );
    }
    // Data table: past included, exactly one on air, has_archive 0 (no archive).
    let table = api(d, &format!("&action=get_simple_data_table&stream_id={sid}"));
    let rows = table["epg_listings"].as_array().expect("epg_listings");
    for e in rows {
        check_epg_entry(e, sid, &epg_id);
        assert!(
            e["now_playing"] == json!(0) || e["now_playing"] == json!(1),
            "{e}"
        );
        assert_eq!(e["has_archive"], json!(0), "{e}");
    }
    let playing: Vec<&Value> = rows
        .iter()
        .filter(|e| e["now_playing"] == json!(1))
        .collect();
    assert_eq!(playing.len(), 1, "exactly one now_playing: {rows:#?}");
    assert!(ts(playing[0], "start_timestamp") <= t && t < ts(playing[0], "stop_timestamp") + 2);
    let short = api(d, &format!("&action=get_short_epg&stream_id={sid}&limit=1"));
    assert_eq!(
        short["epg_listings"][0]["start_timestamp"], playing[0]["start_timestamp"],
        "short EPG starts with what is on air"
    );
    // Unknown or missing stream id: an empty list, never an error.
    for q in [
        "&action=get_short_epg",
        "&action=get_short_epg&stream_id=999999",
        "&action=get_simple_data_table&stream_id=999999",
        "&action=get_short_epg&stream_id=abc",
    ] {
        assert_eq!(api(d, q), json!({"epg_listings": []}), "{q}");
    }

    // POST form bodies (IPTV Smarters).
    let form = |path: &str, body: &str| {
        http_from(
            src(1),
            d.http,
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    let r = form(
        "/player_api.php",
        &format!("username={USER}&password={PASS}&action=get_live_streams"),
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(
        r.json().as_array().map(Vec::len),
        Some(4),
        "POST player_api"
    );
    let r = form(
        "/player_api.php",
        &format!("username={USER}&password={PASS}"),
    );
    check_login_object(&r.json(), USER);
    let r = form(
        "/get.php",
        &format!("username={USER}&password={PASS}&type=m3u_plus"),
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.text().starts_with("#EXTM3U"),
        "POST get.php: {}",
        r.describe()
    );

    // Wrong password: 200 + auth 0 on player_api, 401 elsewhere.
    let auth0 = json!({"user_info": {"auth": 0}});
    let from = src(10);
    let r = get_from(
        from,
        d,
        &format!("/player_api.php?username={USER}&password=wrong"),
    );
    assert_eq!(
        (r.status, r.json()),
        (200, auth0.clone()),
        "{}",
        r.describe()
    );
    let r = get_from(
        from,
        d,
        &format!("/player_api.php?username={USER}&password=wrong&action=get_live_streams"),
    );
    assert_eq!(
        (r.status, r.json()),
        (200, auth0.clone()),
        "{}",
        r.describe()
    );
    for path in [
        format!("/get.php?username={USER}&password=wrong"),
        format!("/xmltv.php?username={USER}&password=wrong"),
        format!("/live/{USER}/wrong/{sid}.ts"),
        format!("/{USER}/wrong/{sid}"),
    ] {
        let r = get_from(src(11), d, &path);
        assert_eq!(r.status, 401, "{path}: {}", r.describe());
    }

    // Expired and disabled users, made through the admin API.
    let (code, expired) = d.send(
        "POST",
        "/api/v1/users",
        json!({"username": "gone", "password": "pw-gone", "expires_at": now() - 3600}),
    );
    assert!(
        code == 200 || code == 201,
        "POST /api/v1/users: {code} {expired}"
    );
    assert!(
        expired.get("password_hash").is_none(),
        "the hash is never shown: {expired}"
    );
    let (code, _) = d.send(
        "POST",
        "/api/v1/users",
        json!({"username": "off", "password": "pw-off", "enabled": false}),
    );
    assert!(code == 200 || code == 201);
    for (i, (user, pass, status)) in [
        ("gone", "pw-gone", "Expired"),
        ("off", "pw-off", "Disabled"),
    ]
    .into_iter()
    .enumerate()
    {
        let from = src(20 + i as u8);
        let r = get_from(
            from,
            d,
            &format!("/player_api.php?username={user}&password={pass}"),
        );
        assert_eq!(r.status, 200, "{user}: {}", r.describe());
        let v = r.json();
        assert_eq!(v["user_info"]["auth"], json!(0), "{user}: {v}");
        assert_eq!(v["user_info"]["status"], status, "{user}: {v}");
        for path in [
            format!("/get.php?username={user}&password={pass}"),
            format!("/xmltv.php?username={user}&password={pass}"),
            format!("/live/{user}/{pass}/{sid}.ts"),
        ] {
            let r = get_from(from, d, &path);
            assert!(
                r.status == 401 || r.status == 403,
                "{user} {path}: {}",
                r.describe()
            );
        }
    }

    // Malformed queries: never a 5xx, each the documented answer.
    let long = "u".repeat(10 * 1024);
    let cases: Vec<(String, &str)> = vec![
        ("/player_api.php?username=%ZZ&password=demo".into(), "auth0"),
        (format!("/player_api.php?username={USER}"), "auth0"),
        (format!("/player_api.php?password={PASS}"), "auth0"),
        ("/player_api.php".into(), "auth0"),
        (
            format!("/player_api.php?username={long}&password=x"),
            "auth0",
        ),
        (
            format!("/player_api.php?username={USER}&password={PASS}&password=x"),
            "any",
        ),
        (
            format!("/player_api.php?username={USER}&password={PASS}&username=x"),
            "any",
        ),
        (format!("/get.php?username={USER}"), "401"),
        (format!("/get.php?username=%ZZ&password={PASS}"), "401"),
        (format!("/live/{USER}/{PASS}/abc.ts"), "404"),
        (format!("/live/{USER}/{PASS}/999999.ts"), "404"),
        (
            format!("/timeshift/{USER}/{PASS}/60/2026-01-01:10-00/{sid}.ts"),
            "404",
        ),
    ];
    for (i, (path, want)) in cases.iter().enumerate() {
        let r = get_from(src(30 + i as u8), d, path);
        let shown = &path[..path.len().min(80)];
        assert!(r.status < 500, "{shown}: {}", r.describe());
        match *want {
            "auth0" => assert_eq!(
                (r.status, r.json()),
                (200, auth0.clone()),
                "{shown}: {}",
                r.describe()
            ),
            "401" => assert_eq!(r.status, 401, "{shown}: {}", r.describe()),
            "404" => assert_eq!(r.status, 404, "{shown}: {}", r.describe()),
            _ => assert!(
                r.status == 200 && r.json()["user_info"].is_object(),
                "{shown}: {}",
                r.describe()
            ),
        }
    }

    connection_limit(d, sid);
    hdhomerun(d);
    assert!(
        demo.d
            .stderr_text()
            .lines()
            .all(|l| !l.contains("panicked")),
        "{}",
        d.stderr_text()
    );
}

/// A user with max_connections 1: one live TS open, a second refused with 403 and a
/// reason, a new one accepted once the first has gone.
fn connection_limit(d: &Daemon, sid: u64) {
    let (code, v) = d.send(
        "POST",
        "/api/v1/users",
        json!({"username": "room1", "password": "pw1", "max_connections": 1}),
    );
    assert!(code == 200 || code == 201, "{code} {v}");
    let path = format!("/live/room1/pw1/{sid}.ts");
    let open = |from: Ipv4Addr| -> (u16, Option<BufReader<TcpStream>>) {
        let mut s = connect_from(from, d.http);
        write!(s, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", d.http).expect("send");
        let mut r = BufReader::new(s);
        let (status, _) = read_response_head(&mut r).expect("a response");
        (status, Some(r))
    };
    let (status, first) = open(src(50));
    assert_eq!(status, 200, "the first stream of room1");
    let mut first = first.unwrap();
    let mut buf = [0u8; 188 * 20];
    first.read_exact(&mut buf).expect("TS flows");

    let second = get_from(src(51), d, &path);
    assert_eq!(second.status, 403, "a second stream: {}", second.describe());
    assert!(!second.body.is_empty(), "403 with a reason");

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, s) = open(src(52));
        if status == 200 {
            let mut s = s.unwrap();
            s.read_exact(&mut buf).expect("TS flows again");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "room1 still refused 10 s after its stream closed ({status})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// HDHomeRun emulation: the JSON and XML parse, and the lineup's URLs deliver TS.
fn hdhomerun(d: &Daemon) {
    let discover = http_get(d.http, "/discover.json", &[]);
    assert_eq!(discover.status, 200, "{}", discover.describe());
    let v = discover.json();
    for k in ["FriendlyName", "DeviceID", "BaseURL", "LineupURL"] {
        assert!(
            v[k].as_str().is_some_and(|s| !s.is_empty()),
            "discover.json {k}: {v:#}"
        );
    }
    assert!(v["TunerCount"].is_u64(), "TunerCount: {v:#}");
    assert_eq!(v["BaseURL"], d.url(""), "BaseURL from the Host asked");
    assert_eq!(v["LineupURL"], d.url("/lineup.json"));

    let status = http_get(d.http, "/lineup_status.json", &[]).json();
    assert_eq!(status["ScanInProgress"], json!(0), "{status:#}");
    assert!(
        status["SourceList"].is_array() || status["Source"].is_string(),
        "{status:#}"
    );

    let device = http_get(d.http, "/device.xml", &[]);
    assert_eq!(device.status, 200);
    let xml = device.text();
    assert!(
        xml.contains("<root") && xml.contains("<URLBase>") && xml.contains("<UDN>uuid:"),
        "device.xml: {xml}"
    );
    if Command::new("xmllint").arg("--version").output().is_ok() {
        let f = dvbgate_e2e::temp_ts(xml.as_bytes());
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg(f.path())
            .output()
            .expect("xmllint");
        assert!(
            out.status.success(),
            "device.xml is not well-formed XML: {xml}"
        );
    }

    let lineup = http_get(d.http, "/lineup.json", &[]).json();
    let lineup = lineup
        .as_array()
        .unwrap_or_else(|| panic!("lineup.json: {lineup}"));
    assert_eq!(lineup.len(), 4, "{lineup:#?}");
    for e in lineup {
        assert!(
            e["GuideNumber"].is_string() && e["GuideName"].is_string(),
            "{e}"
        );
    }
    let url = lineup[0]["URL"].as_str().expect("URL");
    let path = url
        .strip_prefix(&d.url(""))
        .unwrap_or_else(|| panic!("lineup URL {url} is not on this box"));
    let mut s = connect_from(src(1), d.http);
    write!(s, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", d.http).expect("send");
    let mut r = BufReader::new(s);
    let (status, headers) = read_response_head(&mut r).expect("response");
    assert_eq!(status, 200, "{url}: {headers:?}");
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let mut buf = vec![0u8; 188 * 50];
    if chunked {
        ChunkedReader::new(r).read_exact(&mut buf).expect("TS");
    } else {
        r.read_exact(&mut buf).expect("TS");
    }
    assert!(buf.chunks(188).all(|p| p[0] == 0x47), "{url}: not TS");
}

/// Ten wrong passwords in a row from one address: after five, that address is refused
/// without its passwords being checked (the right one included) for a minute, while
/// another address logs in at once; player_api keeps its documented 200 + auth 0, the
/// other routes answer 429 with Retry-After.
#[test]
fn brute_force_is_refused_per_address() {
    let d = Daemon::demo(&["--multicast-pool", "239.255.107.0/24"]);
    d.wait_live(4, Duration::from_secs(10));
    let attacker = src(66);
    let auth0 = json!({"user_info": {"auth": 0}});
    let login = |from: Ipv4Addr, pass: &str| {
        get_from(
            from,
            &d,
            &format!("/player_api.php?username={USER}&password={pass}"),
        )
    };
    // A success first: it must not shelter the guesses that follow.
    assert_eq!(login(attacker, PASS).json()["user_info"]["auth"], json!(1));
    // Braked: still 200 + auth 0 (what apps understand), with a message saying why.
    let braked = |r: &HttpResponse, what: &str| {
        assert_eq!(r.status, 200, "{what}: {}", r.describe());
        let v = r.json();
        assert_eq!(v["user_info"]["auth"], json!(0), "{what}: {v}");
        assert!(
            v["user_info"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("too many failed logins")),
            "{what}: {v}"
        );
        assert!(v["user_info"].get("username").is_none(), "{what}: {v}");
    };
    for i in 0..10 {
        let r = login(attacker, &format!("guess{i}"));
        if i < 5 {
            assert_eq!(
                (r.status, r.json()),
                (200, auth0.clone()),
                "try {i}: {}",
                r.describe()
            );
        } else {
            braked(&r, &format!("try {i}"));
        }
        assert!(
            r.elapsed < Duration::from_secs(2),
            "try {i} took {:?}",
            r.elapsed
        );
    }
    // Refused without checking: the right password too.
    braked(
        &login(attacker, PASS),
        "the right password after 10 guesses",
    );
    for path in [
        format!("/get.php?username={USER}&password={PASS}"),
        format!("/xmltv.php?username={USER}&password={PASS}"),
        format!("/live/{USER}/{PASS}/1.ts"),
    ] {
        let r = get_from(attacker, &d, &path);
        assert_eq!(r.status, 429, "{path}: {}", r.describe());
        let wait: u64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{path}: 429 without Retry-After: {}", r.describe()));
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
    }
    // Another room's TV is not touched.
    let r = login(src(67), PASS);
    assert_eq!(r.json()["user_info"]["auth"], json!(1), "{}", r.describe());
    // The open lineup needs no login and is not braked either.
    assert_eq!(get_from(attacker, &d, "/epg.xml").status, 200);
}
