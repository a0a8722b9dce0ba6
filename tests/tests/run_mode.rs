//! `dvbgate run`: configured through its API, fed over the network.

use dvbgate_e2e::{Daemon, Feeder, capture, demo_mux, ffprobe, free_udp_port, group_of, temp_ts};
use dvbgate_ts::analyze::analyze;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn wait_channels(d: &Daemon, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, v) = d.get("/api/v1/channels");
        let list = v.as_array().cloned().unwrap_or_default();
        if list.len() >= n && list.iter().all(|c| c["status"] == "live") {
            return list;
        }
        assert!(Instant::now() < deadline, "channels: {v:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SSM input on loopback, channels created from what it carries, then changed live.
#[test]
fn multicast_input_becomes_channels_that_can_move_and_switch_to_rtp() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::run(data.path(), &[]);
    let (status, _) = daemon.send(
        "PUT",
        "/api/v1/settings",
        json!({"multicast_interface": "lo", "pool": "239.255.106.0/24", "base_port": 5100, "ttl": 1, "dscp": 0, "sap": false, "packets_per_datagram": 7}),
    );
    assert_eq!(status, 200);
    let port = free_udp_port();
    let group: SocketAddr = format!("239.255.107.1:{port}").parse().unwrap();
    let _feed = Feeder::start(&demo_mux(), group, 3_300_000, Duration::ZERO);
    let (status, input) = daemon.send(
        "POST",
        "/api/v1/inputs",
        json!({"name": "feed", "url": format!("udp://127.0.0.1@{group}?iface=lo"), "auto_channels": true}),
    );
    assert_eq!(status, 201, "{input}");
    let channels = wait_channels(&daemon, 4);
    assert_eq!(channels.len(), 4, "one channel per service, discovered");
    let names: Vec<&str> = channels
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["dvbgate One", "dvbgate Two", "dvbgate Three", "Télé Quatre"]
    );
    let (_, inputs) = daemon.get("/api/v1/inputs");
    let rate = inputs[0]["bitrate_bps"].as_u64().unwrap();
    assert!((2_800_000..3_800_000).contains(&rate), "{rate}");

    // Move channel 1 to another group and make channel 2 RTP, while running.
    let (status, moved) = daemon.send(
        "PATCH",
        "/api/v1/channels/1",
        json!({"address": "239.255.106.200:5200"}),
    );
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["multicast"], "udp://@239.255.106.200:5200");
    let (status, rtp) = daemon.send("PATCH", "/api/v1/channels/2", json!({"protocol": "rtp"}));
    assert_eq!(status, 200);
    assert!(rtp["multicast"].as_str().unwrap().starts_with("rtp://@"));
    std::thread::sleep(Duration::from_millis(500));
    let groups = [
        group_of("udp://@239.255.106.200:5200"),
        group_of(rtp["multicast"].as_str().unwrap()),
        group_of(channels[0]["multicast"].as_str().unwrap()),
    ];
    let caps = capture(&groups, Duration::from_secs(3));
    let moved_ts = caps[0].bytes();
    let a = analyze(&moved_ts);
    assert_eq!(
        a.services[0].service_id, 101,
        "channel 1 arrives on its new group"
    );
    assert_eq!(a.cc_errors, 0);
    // Full datagrams, or short ones sealed after the retention time; all with RTP headers.
    assert!(
        caps[1]
            .datagrams
            .iter()
            .all(|(_, d)| (d.len() - 12) % 188 == 0
                && d[0] == 0x80
                && d[1] & 0x7F == 33
                && d[12] == 0x47),
        "RTP, payload type 33"
    );
    let rtp_payload: Vec<u8> = caps[1]
        .datagrams
        .iter()
        .flat_map(|(_, d)| d[12..].iter().copied())
        .collect();
    let probe = ffprobe(temp_ts(&rtp_payload).path());
    assert_eq!(probe["programs"][0]["tags"]["service_name"], "dvbgate Two");
    assert!(
        caps[2].datagrams.is_empty(),
        "nothing is left on the old group"
    );

    // Disabling stops a channel; deleting it frees its address.
    let (status, _) = daemon.send("PATCH", "/api/v1/channels/3", json!({"enabled": false}));
    assert_eq!(status, 200);
    let (status, _) = daemon.send("DELETE", "/api/v1/channels/4", json!(null));
    assert_eq!(status, 204);
    let (_, list) = daemon.get("/api/v1/channels");
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[2]["status"], "disabled");
}

/// A sender that delivers 400 ms of stream at once: the output is spread by the PCRs.
#[test]
fn a_bursty_input_leaves_smoothly() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::run(data.path(), &[]);
    daemon.send("PUT", "/api/v1/settings", json!({"multicast_interface": "lo", "pool": "239.255.108.0/24", "base_port": 5300, "ttl": 1, "dscp": 0, "sap": false, "packets_per_datagram": 7}));
    let port = free_udp_port();
    let _feed = Feeder::start(
        &demo_mux(),
        format!("127.0.0.1:{port}").parse().unwrap(),
        3_300_000,
        Duration::from_millis(400),
    );
    daemon.send(
        "POST",
        "/api/v1/inputs",
        json!({"name": "bursts", "url": format!("udp://127.0.0.1:{port}"), "auto_channels": true}),
    );
    let channels = wait_channels(&daemon, 4);
    std::thread::sleep(Duration::from_secs(2)); // let the jitter delay settle
    let caps = capture(
        &[group_of(channels[0]["multicast"].as_str().unwrap())],
        Duration::from_secs(4),
    );
    let times: Vec<Instant> = caps[0].datagrams.iter().map(|(t, _)| *t).collect();
    assert!(times.len() > 150, "{}", times.len());
    // Datagrams per 50 ms window. Passed through as it came, a 400 ms burst would put 8×
    // the mean into one window and leave the next seven empty. A busy machine may delay a
    // tick or two (seen: 2.6× the mean in one window on a loaded 2-core CI box), so the
    // bound is 5×.
    let start = times[0];
    let mut per_window = vec![0usize; 81];
    for t in &times {
        per_window[((*t - start).as_millis() / 50).min(80) as usize] += 1;
    }
    let mean = times.len() as f64 / 80.0;
    let max = *per_window[..80].iter().max().unwrap() as f64;
    assert!(
        max < mean * 5.0,
        "bursty output: up to {max} datagrams in 50 ms, mean {mean:.1}"
    );
    let analysis = analyze(&caps[0].bytes());
    assert_eq!(analysis.cc_errors, 0);
}

/// A configuration written by the first schema version is upgraded in place by the daemon.
#[test]
fn a_configuration_from_an_older_version_is_upgraded() {
    let data = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware/store/tests/fixtures/v1-store.tar");
    let ok = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&fixture)
        .arg("-C")
        .arg(data.path())
        .status()
        .unwrap()
        .success();
    assert!(ok, "unpack {}", fixture.display());
    let daemon = Daemon::run(&data.path().join("v1-store"), &[]);
    let (_, channels) = daemon.get("/api/v1/channels");
    let channels = channels.as_array().unwrap();
    assert!(channels.len() >= 5, "{channels:#?}");
    let addresses: std::collections::BTreeSet<&str> = channels
        .iter()
        .map(|c| c["output"]["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses.len(),
        channels.len(),
        "duplicates from v1 were repaired"
    );
    assert!(channels.iter().any(|c| c["output"]["protocol"] == "rtp"));
    let (_, settings) = daemon.get("/api/v1/settings");
    assert_eq!(
        settings["packets_per_datagram"], 7,
        "new settings got their defaults"
    );
}
