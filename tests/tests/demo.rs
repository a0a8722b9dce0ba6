//! The demo, as a newcomer runs it: every service of the bundled multiplex arrives on its
//! multicast group as a clean single-program stream that ffprobe names correctly.

use dvbgate_e2e::{Daemon, capture, ffprobe, group_of, temp_ts};
use dvbgate_ts::analyze::analyze;
use std::time::Duration;

#[test]
fn demo_multicasts_every_service_as_a_clean_spts() {
    let demo = Daemon::demo(&["--multicast-pool", "239.255.101.0/24"]);
    let channels = demo.wait_live(4, Duration::from_secs(10));
    assert_eq!(channels.len(), 4, "the bundled multiplex has 4 services");
    let printed = demo.stdout.lock().unwrap().join("\n");
    for c in &channels {
        let url = c["multicast"].as_str().unwrap();
        assert!(url.starts_with("udp://@239.255.101."), "{url}");
        assert!(
            printed.contains(url),
            "the demo prints each channel's URL:\n{printed}"
        );
        assert!(printed.contains(c["name"].as_str().unwrap()));
    }

    let groups: Vec<_> = channels
        .iter()
        .map(|c| group_of(c["multicast"].as_str().unwrap()))
        .collect();
    let captures = capture(&groups, Duration::from_secs(4));
    let expected = [
        (101, "dvbgate One", ["h264", "aac"]),
        (102, "dvbgate Two", ["h264", "aac"]),
        (103, "dvbgate Three", ["mpeg2video", "mp2"]),
        (104, "Télé Quatre", ["mpeg2video", "mp2"]),
    ];
    for (c, cap) in channels.iter().zip(&captures) {
        let sid = c["service_id"].as_u64().unwrap();
        let (_, name, codecs) = expected
            .iter()
            .find(|e| e.0 == sid)
            .expect("a known service");
        // Seven packets per datagram, mostly; a shorter one when its first packet would
        // otherwise wait more than 20 ms past its schedule (low-rate, clumpy services).
        assert!(
            cap.datagrams
                .iter()
                .all(|(_, d)| !d.is_empty() && d.len() % 188 == 0 && d.len() <= 7 * 188)
        );
        let full = cap
            .datagrams
            .iter()
            .filter(|(_, d)| d.len() == 7 * 188)
            .count();
        assert!(
            full * 4 >= cap.datagrams.len() * 3,
            "{name}: {full} of {} datagrams full",
            cap.datagrams.len()
        );
        let bytes = cap.bytes();
        let file = temp_ts(&bytes);

        let probe = ffprobe(file.path());
        let programs = probe["programs"].as_array().unwrap();
        assert_eq!(programs.len(), 1, "exactly one program: {probe:#}");
        assert_eq!(programs[0]["program_id"].as_u64(), Some(sid));
        assert_eq!(programs[0]["tags"]["service_name"].as_str(), Some(*name));
        let got: Vec<&str> = programs[0]["streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["codec_name"].as_str())
            .collect();
        for codec in codecs {
            assert!(got.contains(codec), "{name}: ffprobe sees {got:?}");
        }

        let a = analyze(&bytes);
        assert_eq!(a.cc_errors, 0, "{name}: continuity errors");
        assert_eq!(a.transport_errors, 0);
        assert_eq!(a.section_errors.crc, 0);
        let pat = a.pat_max_interval_ms.expect("PAT measured");
        assert!(pat <= 100.0, "{name}: PAT every {pat} ms");
        let pmt = a.services[0].pmt_max_interval_ms.expect("PMT measured");
        assert!(pmt <= 100.0, "{name}: PMT every {pmt} ms");
        let sdt = a.sdt_max_interval_ms.expect("SDT measured");
        assert!(sdt <= 2000.0, "{name}: SDT every {sdt} ms");
        let pcr_pid = a.services[0].pcr_pid.unwrap();
        let pcr = a.pids[&pcr_pid].pcr.expect("PCR present");
        assert!(
            pcr.count > 50 && pcr.max_interval_ms.unwrap() <= 40.0,
            "{name}: {pcr:?}"
        );
        assert!(!a.pids.contains_key(&0x1FFF), "null packets dropped");
    }

    let (status, health) = demo.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    let (_, inputs) = demo.get("/api/v1/inputs");
    let input = &inputs[0];
    let rate = input["bitrate_bps"].as_u64().unwrap();
    assert!(
        (3_000_000..3_700_000).contains(&rate),
        "the 3.3 Mbit/s file plays at real time: {rate}"
    );
    assert_eq!(input["cc_errors"], 0);
    assert_eq!(input["crc_errors"], 0);

    let status = demo.terminate();
    assert!(
        status.success(),
        "Ctrl-C/SIGTERM shuts down cleanly: {status}"
    );
}
