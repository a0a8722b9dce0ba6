//! The daemon is killed with SIGKILL again and again while a client changes its
//! configuration. Every change the API acknowledged survives, nothing acknowledged as
//! deleted comes back, and the store always opens.

#![allow(clippy::print_stderr)]

use dvbgate_e2e::{Daemon, free_udp_port, try_request_as};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Acknowledged {
    /// Channel number to name, for creations the API confirmed.
    present: BTreeMap<u64, String>,
    /// Channels (number, name) whose deletion the API confirmed.
    deleted: Vec<(u64, String)>,
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    {
        let d = Daemon::run(data.path(), &[]);
        d.send("PUT", "/api/v1/settings", json!({"multicast_interface": "lo", "pool": "239.255.109.0/24", "base_port": 5400, "ttl": 1, "dscp": 0, "sap": false, "packets_per_datagram": 7}));
        let (status, _) = d.send(
            "POST",
            "/api/v1/inputs",
            json!({"name": "quiet", "url": format!("udp://127.0.0.1:{}", free_udp_port())}),
        );
        assert_eq!(status, 201);
        d.kill();
    }
    let ack = Arc::new(Mutex::new(Acknowledged::default()));
    let mut seed: u32 = 0x9E37_79B9;
    let mut service = 1u32;
    for round in 0..15 {
        let daemon = Daemon::run(data.path(), &[]);
        check(&daemon, &ack.lock().unwrap(), round);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, ack, base) = (Arc::clone(&stop), Arc::clone(&ack), daemon.url(""));
            let token = daemon.token.clone();
            let first_service = service;
            std::thread::spawn(move || {
                let mut n = first_service;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("Channel {n}");
                    let attempt = try_request_as(
                        token.as_deref(),
                        "POST",
                        &format!("{base}/api/v1/channels"),
                        Some(json!({"input_id": 1, "service_id": n, "name": name})),
                    );
                    let Ok((201, created)) = attempt else { break };
                    let number = created["number"].as_u64().unwrap();
                    ack.lock().unwrap().present.insert(number, name);
                    // Every fourth change is a deletion of an older channel. While the DELETE
                    // is in flight its outcome is unknown (a kill may land after the commit
                    // and before the answer), so the channel is in neither list until then.
                    if n.is_multiple_of(4) {
                        let victim = ack.lock().unwrap().present.pop_first();
                        if let Some((v, name)) = victim {
                            match try_request_as(
                                token.as_deref(),
                                "DELETE",
                                &format!("{base}/api/v1/channels/{v}"),
                                None,
                            ) {
                                Ok((204, _)) => ack.lock().unwrap().deleted.push((v, name)),
                                _ => break,
                            }
                        }
                    }
                    n += 1;
                }
                n
            })
        };
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        std::thread::sleep(Duration::from_millis(150 + u64::from(seed % 500)));
        daemon.kill();
        stop.store(true, Ordering::Relaxed);
        service = writer.join().unwrap_or(service) + 1;
    }
    let daemon = Daemon::run(data.path(), &[]);
    let a = ack.lock().unwrap();
    check(&daemon, &a, 99);
    eprintln!(
        "{} acknowledged creations kept, {} deletions, over 15 kills",
        a.present.len(),
        a.deleted.len()
    );
    assert!(
        a.present.len() > 30,
        "enough writes happened to mean something: {}",
        a.present.len()
    );
    assert!(!a.deleted.is_empty());
}

fn check(daemon: &Daemon, ack: &Acknowledged, round: u32) {
    let (status, channels) = daemon.get("/api/v1/channels");
    assert_eq!(status, 200, "round {round}: the store opened");
    let by_number: BTreeMap<u64, String> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["number"].as_u64().unwrap(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (number, name) in &ack.present {
        assert_eq!(
            by_number.get(number),
            Some(name),
            "round {round}: acknowledged channel {number} lost"
        );
    }
    for (number, name) in &ack.deleted {
        // Numbers are reused by later creations; the deleted channel itself is gone.
        assert_ne!(
            by_number.get(number),
            Some(name),
            "round {round}: deleted channel {number} came back"
        );
    }
}
