//! The real broadcast captures in ../shared/streams, all at once, each a virtual tuner of
//! one demo: damaged ones (continuity and CRC errors, transport errors, garbage), one with
//! a PAT change, one without PAT, one whose PMT names no PCR PID. The daemon keeps running,
//! and every service that really exists comes out as a valid stream.

use dvbgate_e2e::{Daemon, capture, ffprobe, group_of, shared_captures, temp_ts};
use dvbgate_ts::analyze::analyze;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[test]
fn every_capture_plays_and_every_real_service_comes_out_valid() {
    let Some(files) = shared_captures() else {
        return;
    };
    let inputs: Vec<BTreeMap<u16, dvbgate_ts::analyze::ServiceReport>> = files
        .iter()
        .map(|f| {
            // Twice, as the demo loops it: some PMTs come before the first PAT.
            let once = std::fs::read(f).unwrap();
            analyze(&[once.as_slice(), once.as_slice()].concat())
                .services
                .into_iter()
                .map(|s| (s.service_id, s))
                .collect()
        })
        .collect();

    let mut args = vec![
        "--multicast-pool".to_string(),
        "239.255.102.0/24".to_string(),
    ];
    for f in &files {
        args.push("--input".into());
        args.push(f.display().to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut demo = Daemon::demo(&argv);

    let (_, inputs_api) = demo.get("/api/v1/inputs");
    assert_eq!(
        inputs_api.as_array().unwrap().len(),
        files.len(),
        "each file is a virtual tuner"
    );
    // Let every input loop a few times (some captures are a tenth of a second long).
    std::thread::sleep(Duration::from_secs(2));
    let (_, channels) = demo.get("/api/v1/channels");
    let channels = channels.as_array().unwrap().clone();
    let expected: usize = inputs
        .iter()
        .map(|m| {
            m.values()
                .filter(|s| s.in_pat && s.pcr_pid.is_some())
                .count()
        })
        .sum();
    assert_eq!(
        channels.len(),
        expected,
        "one channel per service with a PMT, over all captures"
    );
    let groups: Vec<_> = channels
        .iter()
        .map(|c| group_of(c["multicast"].as_str().unwrap()))
        .collect();
    let captured = capture(&groups, Duration::from_secs(4));

    let mut checked = 0;
    for (c, cap) in channels.iter().zip(&captured) {
        let sid = c["service_id"].as_u64().unwrap() as u16;
        let input_index = (c["input_id"].as_u64().unwrap() - 1) as usize;
        let file = files[input_index]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let source = &inputs[input_index][&sid];
        let what = format!("{file} service {sid}");
        let bytes = cap.bytes();
        assert!(!bytes.is_empty(), "{what}: nothing received");
        let a = analyze(&bytes);
        assert_eq!(a.services.len(), 1, "{what}: one program");
        let s = &a.services[0];
        assert_eq!(s.service_id, sid, "{what}");
        assert_eq!(a.section_errors.crc, 0, "{what}: our tables are intact");
        for pid in [0u16, s.pmt_pid.unwrap(), 0x11] {
            assert_eq!(
                a.pids.get(&pid).map_or(0, |p| p.counters.cc_errors),
                0,
                "{what}: our table PID {pid:#x} is continuous"
            );
        }
        if s.pcr_pid == Some(0x1FFF) {
            let carries_pcr = a
                .pids
                .iter()
                .any(|(pid, p)| source.streams.iter().any(|e| e.pid == *pid) && p.pcr.is_some());
            assert!(
                !carries_pcr,
                "{what}: the PCR PID is left unset although a stream carries PCR"
            );
        }
        // PSI repetition as a receiver sees it: by arrival time.
        let pat_arrivals: Vec<Instant> = cap
            .datagrams
            .iter()
            .filter(|(_, d)| d.chunks(188).any(|p| p[1] & 0x5F == 0x40 && p[2] == 0))
            .map(|(t, _)| *t)
            .collect();
        let worst = pat_arrivals
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        assert!(pat_arrivals.len() > 10, "{what}: PAT repeated");
        if !leaves_the_pat(&files[input_index], sid) {
            assert!(
                worst <= Duration::from_millis(150),
                "{what}: PAT gaps up to {worst:?}"
            );
        }
        // Every elementary stream the source really carries is carried.
        let source_pids: Vec<u16> = source.streams.iter().map(|e| e.pid).collect();
        let carried = a.pids.keys().filter(|p| source_pids.contains(p)).count();
        let present_in_source = source_pids
            .iter()
            .filter(|p| analyze_pid_present(&files[input_index], **p))
            .count();
        assert_eq!(
            carried, present_in_source,
            "{what}: streams present in the input reach the output"
        );
        // Only its own PIDs: tables, its streams, PCR, ECMs, TDT.
        for pid in a.pids.keys() {
            let own = [0u16, 0x11, 0x12, 0x14].contains(pid)
                || Some(*pid) == s.pmt_pid
                || source_pids.contains(pid)
                || Some(*pid) == source.pcr_pid;
            assert!(
                own || source.ecm_pids.contains(pid),
                "{what}: foreign PID {pid:#x} in the output"
            );
        }
        if sid == 1 && file.starts_with("h264-aac-pmt-pcrpid-unset") {
            assert_eq!(s.pcr_pid, Some(0x65), "{what}: repaired PCR PID");
            let probe = ffprobe(temp_ts(&bytes).path());
            assert_eq!(
                probe["programs"][0]["pcr_pid"].as_u64(),
                Some(0x65),
                "{what}: ffprobe agrees"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, channels.len());

    // The damaged inputs were counted, not fatal.
    let (_, inputs_api) = demo.get("/api/v1/inputs");
    let by_name = |n: &str| {
        inputs_api
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"].as_str().unwrap().starts_with(n))
            .unwrap()
            .clone()
    };
    let damaged = by_name("dvbs-animalplanet");
    assert!(damaged["cc_errors"].as_u64().unwrap() > 100, "{damaged:#}");
    assert!(damaged["crc_errors"].as_u64().unwrap() > 0);
    assert!(damaged["tei_errors"].as_u64().unwrap() > 0);
    let no_pat = by_name("dvbt-uk-freeview");
    assert_eq!(
        no_pat["live"]["state"], "running",
        "a multiplex without PAT still plays"
    );
    assert!(demo.is_running());
    let (status, _) = demo.get("/healthz");
    assert_eq!(status, 200);
}

/// Whether the source's PAT drops the service for a while (the channel is then rightly
/// silent: its service does not exist).
fn leaves_the_pat(file: &std::path::Path, sid: u16) -> bool {
    use dvbgate_ts::monitor::{EitInterest, MuxMonitor};
    use dvbgate_ts::mux::Change;
    let mut monitor = MuxMonitor::new(EitInterest::PresentFollowingActual);
    let (mut seen, mut left) = (false, false);
    for p in std::fs::read(file).unwrap().chunks_exact(188) {
        monitor.on_packet(p.try_into().unwrap(), &mut |model, change| {
            if change == Change::Pat {
                let present = model.programs().contains_key(&sid);
                left |= seen && !present;
                seen |= present;
            }
        });
    }
    left
}

/// Whether a PID has packets in a file.
fn analyze_pid_present(file: &std::path::Path, pid: u16) -> bool {
    analyze(&std::fs::read(file).unwrap())
        .pids
        .get(&pid)
        .is_some_and(|p| p.counters.packets > 0)
}
