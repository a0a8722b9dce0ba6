//! SAP/SDP announcements: every multicast channel is announced on the streams' interface,
//! withdrawn at shutdown, and a real SAP client (ffmpeg's) finds and opens a channel.

#![allow(clippy::print_stderr)]

use dvbgate_e2e::{Daemon, Netns, can_use_netns, dvbgate, join};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Announcement {
    delete: bool,
    sdp: String,
}

fn parse(packet: &[u8]) -> Option<Announcement> {
    let (version, address_type, delete) =
        (packet[0] >> 5, packet[0] & 0x10 != 0, packet[0] & 0x04 != 0);
    if version != 1 {
        return None;
    }
    let auth_len = usize::from(packet[1]) * 4;
    let mut at = 4 + if address_type { 16 } else { 4 } + auth_len;
    let rest = &packet[at..];
    if rest.starts_with(b"application/sdp\0") {
        at += 16;
    }
    Some(Announcement {
        delete,
        sdp: String::from_utf8_lossy(&packet[at..]).into_owned(),
    })
}

fn field<'a>(sdp: &'a str, key: &str) -> Option<&'a str> {
    sdp.split("\r\n").find_map(|l| l.strip_prefix(key))
}

#[test]
fn every_channel_is_announced_and_withdrawn_at_shutdown() {
    let listener = join("239.255.255.255:9875".parse().unwrap());
    let demo = Daemon::demo(&["--multicast-pool", "239.255.110.0/24"]);
    let mut sessions: BTreeMap<String, String> = BTreeMap::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(12);
    while sessions.len() < 4 && Instant::now() < deadline {
        if let Ok(n) = listener.recv(&mut buf) {
            let Some(a) = parse(&buf[..n]) else { continue };
            let Some(c) = field(&a.sdp, "c=IN IP4 ") else {
                continue;
            };
            if !a.delete && c.starts_with("239.255.110.") {
                sessions.insert(c.to_string(), a.sdp);
            }
        }
    }
    assert_eq!(sessions.len(), 4, "one session per channel: {sessions:#?}");
    let names: Vec<&str> = sessions.values().filter_map(|s| field(s, "s=")).collect();
    for expected in ["dvbgate One", "dvbgate Two", "dvbgate Three", "Télé Quatre"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for (c, sdp) in &sessions {
        assert!(c.ends_with("/1"), "TTL of the streams in c=: {c}");
        assert_eq!(field(sdp, "m="), Some("video 5000 udp mpeg"), "{sdp}");
        assert!(sdp.starts_with("v=0\r\no=- "));
    }

    assert!(demo.terminate().success());
    let mut withdrawn = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while withdrawn.len() < 4 && Instant::now() < deadline {
        if let Ok(n) = listener.recv(&mut buf)
            && let Some(a) = parse(&buf[..n]).filter(|a| a.delete)
            && let Some(c) = field(&a.sdp, "c=IN IP4 ").filter(|c| c.starts_with("239.255.110."))
        {
            withdrawn.insert(c.to_string());
        }
    }
    assert_eq!(withdrawn.len(), 4, "every session withdrawn at shutdown");
}

/// VLC's SAP discovery ("Network streams (SAP)") lists every channel under its group.
/// VLC and the daemon run in a private network namespace whose only interface is loopback,
/// so VLC's joins on the default interface see our announcements and nothing else. VLC
/// refuses to run as root, so it runs as `nobody`.
#[test]
fn vlc_sap_discovery_lists_the_channels() {
    if !can_use_netns() {
        eprintln!("\n*** SKIPPED: needs root and iproute2 to create a network namespace ***\n");
        return;
    }
    assert!(
        std::process::Command::new("vlc")
            .arg("--version")
            .env("HOME", "/tmp")
            .output()
            .is_ok(),
        "VLC must be installed (scripts/test installs vlc-bin and vlc-plugin-base)"
    );
    let ns = Netns::new("vlc");
    let mut cmd = ns.command(dvbgate());
    cmd.args([
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--multicast-pool",
        "239.255.111.0/24",
    ]);
    let demo = Daemon::spawn(cmd);
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut vlc = ns
        .command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"])
        .arg(format!("HOME={}", home.path().display()))
        .args([
            "vlc",
            "-I",
            "oldrc",
            "--rc-fake-tty",
            "-S",
            "sap",
            "--no-playlist-autostart",
            "--aout",
            "dummy",
            "--vout",
            "dummy",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("vlc starts");
    let mut stdin = vlc.stdin.take().unwrap();
    let stdout = vlc.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            use std::io::Read;
            let mut stdout = stdout;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let names = ["dvbgate One", "dvbgate Two", "dvbgate Three", "Télé Quatre"];
    // Announcements repeat every 5 s; ask VLC for its playlist until all are listed.
    let listed = |text: &str| -> Option<Vec<String>> {
        let last = text
            .rsplit("[ Playlist ]")
            .next()?
            .split("[ End of playlist ]")
            .next()?;
        let lines: Vec<String> = last
            .lines()
            .map(|l| l.trim_start_matches(['|', ' ', '-']).trim().to_string())
            .collect();
        Some(lines)
    };
    let deadline = Instant::now() + Duration::from_secs(25);
    use std::io::Write;
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let _ = writeln!(stdin, "playlist");
        std::thread::sleep(Duration::from_millis(200));
        lines = listed(&seen.lock().unwrap()).unwrap_or_default();
        if names.iter().all(|n| lines.iter().any(|l| l == n)) {
            break;
        }
    }
    let _ = writeln!(stdin, "quit");
    drop(stdin);
    let _ = vlc.wait();
    let _ = reader.join();
    assert!(
        lines.iter().any(|l| l == "Network streams (SAP)"),
        "VLC's SAP discovery ran:\n{}",
        seen.lock().unwrap()
    );
    for name in names {
        assert!(
            lines.iter().any(|l| l == name),
            "{name} is listed by VLC: {lines:?}"
        );
    }
    assert!(
        lines.iter().any(|l| l == "dvbgate"),
        "under its playlist group: {lines:?}"
    );
    drop(demo);
}
