//! Bad input gets a clear message naming the thing: at start-up, a non-zero exit; at run
//! time, a refusal or a logged error and a counter. Never a panic.

use dvbgate_e2e::{Daemon, dvbgate, free_udp_port, run_tool};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `dvbgate demo ARGS` expecting a start-up failure; returns stderr.
fn demo_fails(args: &[&str]) -> String {
    let mut cmd = Command::new(dvbgate());
    cmd.arg("demo").args(args);
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    let out = cmd.output().expect("dvbgate runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should fail: {args:?}");
    assert!(
        !stderr.contains("panicked"),
        "a panic is not an error message:\n{stderr}"
    );
    stderr
}

#[test]
fn unreadable_missing_and_non_ts_files_fail_at_start_with_their_name() {
    let e = demo_fails(&["--input", "/no/such/dir/mux.ts"]);
    assert!(
        e.contains("/no/such/dir/mux.ts") && e.contains("cannot open"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.ts");
    std::fs::write(
        &garbage,
        (0..400_000u32)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let e = demo_fails(&["--input", garbage.to_str().unwrap()]);
    assert!(
        e.contains("garbage.ts") && e.contains("not an MPEG transport stream"),
        "{e}"
    );

    let empty = dir.path().join("empty.ts");
    std::fs::write(&empty, []).unwrap();
    let e = demo_fails(&["--input", empty.to_str().unwrap()]);
    assert!(e.contains("empty"), "{e}");

    let e = demo_fails(&["--input", dir.path().to_str().unwrap()]);
    assert!(e.contains("directory"), "{e}");

    if !nix::unistd::geteuid().is_root() {
        let locked = dir.path().join("locked.ts");
        std::fs::write(&locked, [0x47u8; 188]).unwrap();
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .unwrap();
        let e = demo_fails(&["--input", locked.to_str().unwrap()]);
        assert!(e.contains("Permission denied"), "{e}");
    }
}

#[test]
fn a_taken_port_fails_at_start() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let e = demo_fails(&["--listen", &addr]);
    assert!(e.contains(&format!("cannot listen on {addr}")), "{e}");
    assert!(e.to_lowercase().contains("in use"), "{e}");
}

#[test]
fn an_invalid_multicast_pool_fails_at_start() {
    let e = demo_fails(&["--multicast-pool", "10.1.2.0/24"]);
    assert!(e.contains("10.1.2.0/24") && e.contains("multicast"), "{e}");
    let e = demo_fails(&["--multicast-pool", "239.255.1.7/24"]);
    assert!(
        e.contains("239.255.1.0/24"),
        "the message suggests the network: {e}"
    );
}

#[test]
fn invalid_and_duplicate_addresses_are_refused_with_a_reason() {
    let demo = Daemon::demo(&["--multicast-pool", "239.255.104.0/24"]);
    let (_, channels) = demo.get("/api/v1/channels");
    let first = &channels[0];
    let taken = first["output"]["address"].as_str().unwrap();

    let (status, body) = demo.send(
        "POST",
        "/api/v1/channels",
        json!({"input_id": 1, "service_id": 101, "name": "Copy", "address": taken}),
    );
    assert_eq!(status, 409, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains(taken) && message.contains(first["name"].as_str().unwrap()),
        "names the other channel: {message}"
    );

    for bad in [
        "224.0.0.5:5000",
        "0.0.0.0:5000",
        "239.255.104.9:0",
        "255.255.255.255:5000",
    ] {
        let (status, body) = demo.send(
            "POST",
            "/api/v1/channels",
            json!({"input_id": 1, "service_id": 101, "name": "Bad", "address": bad}),
        );
        assert!(status == 422 || status == 400, "{bad}: {status} {body}");
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{bad}: {body}"
        );
    }
    let (status, body) = demo.send("PATCH", "/api/v1/channels/2", json!({"address": taken}));
    assert_eq!(status, 409, "moving onto another channel's address: {body}");
    let (status, body) = demo.send(
        "POST",
        "/api/v1/channels",
        json!({"input_id": 1, "service_id": 101}),
    );
    assert_eq!(status, 422, "missing name: {body}");
    let (status, _) = demo.send(
        "POST",
        "/api/v1/channels",
        json!({"input_id": 99, "service_id": 5, "name": "Orphan"}),
    );
    assert_eq!(status, 404);
    let (status, _) = demo.get("/api/v1/channels/4242");
    assert_eq!(status, 404);
    let (status, _) = demo.get("/no/such/path");
    assert_eq!(status, 404);
    // Nothing changed, and the streams go on.
    let after = demo.wait_live(4, Duration::from_secs(10));
    assert_eq!(after.len(), 4);
}

#[test]
fn malformed_http_is_refused_and_the_server_goes_on() {
    use std::io::{Read, Write};
    let demo = Daemon::demo(&["--multicast-pool", "239.255.105.0/24"]);
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /api/v1/channels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{nope",
        b"POST /api/v1/channels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(demo.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw).unwrap();
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{:?} -> {text}", String::from_utf8_lossy(raw));
    }
    let (status, _) = demo.get("/healthz");
    assert_eq!(status, 200);
}

#[test]
fn an_input_that_never_syncs_is_reported_and_the_box_keeps_serving() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::run(data.path(), &[]);
    let port = free_udp_port();
    let (status, input) = daemon.send(
        "POST",
        "/api/v1/inputs",
        json!({"name": "noise", "url": format!("udp://127.0.0.1:{port}")}),
    );
    assert_eq!(status, 201, "{input}");
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let noise: Vec<u8> = (0..1316u32).map(|i| (i * 7 % 253) as u8).collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        tx.send_to(&noise, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let (_, inputs) = daemon.get("/api/v1/inputs");
    let live = &inputs[0]["live"];
    assert_eq!(live["state"], "no_sync", "{inputs:#}");
    assert!(live["skipped_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(
        daemon
            .stderr_text()
            .contains("not an MPEG transport stream"),
        "logged:\n{}",
        daemon.stderr_text()
    );
    let (status, _) = daemon.get("/healthz");
    assert_eq!(status, 200);

    // A UDP input on a taken port is saved and reported, not fatal.
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://127.0.0.1:{}", held.local_addr().unwrap().port());
    let (status, view) = daemon.send(
        "POST",
        "/api/v1/inputs",
        json!({"name": "busy", "url": url}),
    );
    assert_eq!(status, 201);
    assert!(
        view["error"]
            .as_str()
            .is_some_and(|e| e.contains(&url) && e.to_lowercase().contains("in use")),
        "{view}"
    );
}

#[test]
fn probe_reports_clearly_on_bad_targets() {
    let (ok, text) = run_tool(Command::new(dvbgate()).args(["probe", "/no/such.ts"]));
    assert!(!ok && text.contains("/no/such.ts"), "{text}");
    let (ok, text) = run_tool(Command::new(dvbgate()).args(["probe", "udp://@239.255.1.1"]));
    assert!(!ok && text.contains("ADDRESS:PORT"), "{text}");
    let port = free_udp_port();
    let (ok, text) = run_tool(Command::new(dvbgate()).args([
        "probe",
        &format!("udp://127.0.0.1:{port}"),
        "--duration",
        "0.5",
    ]));
    assert!(!ok && text.contains("nothing received"), "{text}");
}
