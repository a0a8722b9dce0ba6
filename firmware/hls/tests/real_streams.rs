//! Real streams through the remuxer and the segmenter, as the pipeline will run them: the
//! bundled demo multiplex (H.264+AAC and MPEG-2+MP2 services, also as radio with the video
//! left out, and looped), and every capture in `../shared/streams` (H.264, HEVC, MPEG-2).
//!
//! For each service: every segment starts with PAT, PMT and the PES start of its primary
//! stream; the segments played back to back add no continuity errors; durations stay
//! within the target unless the stream's own GOP is longer; CODECS is derived. Where
//! ffprobe is installed, each segment's first picture must be one ffprobe calls a
//! keyframe. `cargo test -p dvbgate-hls --test real_streams -- --nocapture` prints a table.

#![allow(clippy::print_stderr)] // the table of what was found, and loud skips

mod common;

use dvbgate_hls::pes::PesHeader;
use dvbgate_hls::{Segment, Segmenter, SegmenterConfig, SegmenterStats};
use dvbgate_remux::EsFilter;
use dvbgate_ts::packet::{self, PACKET_SIZE, RawPacket, pids};
use dvbgate_ts::tables::pmt::StreamKind;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What one service gave.
struct Outcome {
    name: String,
    segments: Vec<Segment>,
    stats: SegmenterStats,
    codecs: Option<String>,
    target: Duration,
    primary: Option<(u16, StreamKind)>,
    /// Keyframe PTSs of the primary stream according to ffprobe (`None`: not checked).
    keyframes: Option<BTreeSet<u64>>,
}

impl Outcome {
    fn row(&self) -> String {
        let n = self.segments.len();
        let secs: Vec<f64> = self
            .segments
            .iter()
            .map(|s| s.duration.as_secs_f64())
            .collect();
        let mean = if n > 0 {
            secs.iter().sum::<f64>() / n as f64
        } else {
            0.0
        };
        let max = secs.iter().copied().fold(0.0, f64::max);
        format!(
            "{:<52} {:>4} {:>6.2} {:>6.2} {:>6} {:>4} {:>4} {:>6}  {}",
            self.name,
            n,
            mean,
            max,
            self.stats
                .rap_interval
                .map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64())),
            self.stats.forced_cuts,
            self.stats.discontinuities,
            self.stats.dropped_before_rap,
            self.codecs.as_deref().unwrap_or("-"),
        )
    }
}

const HEADER: &str = "stream / service                                     segs  mean s  max s  gop s  forc disc  dropd  CODECS";

fn packets(data: &[u8]) -> impl Iterator<Item = &RawPacket> {
    data.chunks_exact(PACKET_SIZE)
        .map(|p| p.try_into().expect("whole packets"))
}

/// The first video stream of the SPTS's PMT, else its first audio stream.
fn primary_of(spts: &[u8]) -> Option<(u16, StreamKind)> {
    let a = dvbgate_ts::analyze::analyze(spts);
    let streams = &a.services.first()?.streams;
    streams
        .iter()
        .find(|s| s.kind == StreamKind::Video)
        .or_else(|| streams.iter().find(|s| s.kind == StreamKind::Audio))
        .map(|s| (s.pid, s.kind))
}

/// PTS of the keyframes of `pid` as ffprobe sees them; `None` without ffprobe.
fn ffprobe_keyframes(spts: &[u8], pid: u16, tag: &str) -> Option<BTreeSet<u64>> {
    let path = std::env::temp_dir().join(format!("dvbgate-hls-{}-{tag}.ts", std::process::id()));
    std::fs::write(&path, spts).expect("temp file");
    let out = Command::new("ffprobe")
        .args(["-v", "quiet", "-select_streams"])
        .arg(format!("i:{pid}"))
        .args(["-show_entries", "packet=pts,flags", "-of", "csv=p=0"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.ok().filter(|o| o.status.success())?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (pts, flags) = l.split_once(',')?;
                flags.starts_with('K').then(|| pts.parse().ok())?
            })
            .collect(),
    )
}

fn segment_service(name: String, spts: &[u8], target: Duration, with_ffprobe: bool) -> Outcome {
    let primary = primary_of(spts);
    let keyframes = match primary {
        Some((pid, StreamKind::Video)) if with_ffprobe => {
            ffprobe_keyframes(spts, pid, &name.replace(['/', ' '], "_"))
        }
        _ => None,
    };
    let mut seg = Segmenter::new(
        SegmenterConfig {
            target,
            ..SegmenterConfig::default()
        },
        0,
    )
    .expect("config");
    let mut segments = Vec::new();
    // The wall clock as the pipeline would give it: 1 ms per 20 packets.
    for (i, p) in packets(spts).enumerate() {
        segments.extend(seg.push(p, 1_795_240_800_000 + i as i64 / 20));
    }
    segments.extend(seg.finish());
    Outcome {
        name,
        segments,
        stats: seg.stats(),
        codecs: seg.codecs(),
        target,
        primary,
        keyframes,
    }
}

/// The checks that hold for every service that gave segments.
fn check(o: &Outcome, spts: &[u8]) {
    let Some((pid, _)) = o.primary else {
        assert!(o.segments.is_empty(), "{}: segments without a PMT", o.name);
        return;
    };
    let gop = o.stats.rap_interval.unwrap_or_default();
    let n = o.segments.len();
    for (k, s) in o.segments.iter().enumerate() {
        let mut it = packets(&s.data).peekable();
        let what = format!("{} segment {}", o.name, s.sequence);
        let pat = it.next().expect("a PAT");
        assert_eq!(packet::pid(pat), pids::PAT, "{what}");
        // The PAT may take one packet, the PMT more.
        let pmt = it.next().expect("a PMT");
        assert!(packet::payload_unit_start(pmt) && packet::payload(pmt).unwrap()[1] == 0x02);
        while it
            .peek()
            .is_some_and(|p| packet::pid(p) == packet::pid(pmt))
        {
            it.next();
        }
        let first = it.next().expect("media");
        assert_eq!(packet::pid(first), pid, "{what}: the primary stream's PES");
        assert!(packet::payload_unit_start(first), "{what}");
        let mut h = PesHeader::default();
        h.feed(packet::payload(first).unwrap());
        let pts = h.pts().or(h.dts());
        if let (Some(keys), true, Some(pts)) = (&o.keyframes, s.starts_with_random_access, pts) {
            assert!(
                keys.contains(&pts),
                "{what}: PTS {pts} is not a keyframe for ffprobe"
            );
        }
        // The last segment, and one closed by a discontinuity, may be anything shorter.
        let limit = o.target.max(gop) + Duration::from_millis(100);
        let closing = k + 1 == n || o.segments[k + 1].discontinuity;
        if !closing || s.duration > o.target {
            assert!(
                s.duration <= limit || !s.starts_with_random_access,
                "{what}: {:?} over target {:?} (GOP {:?})",
                s.duration,
                o.target,
                gop
            );
        }
    }
    // Played back to back, the segments add no continuity errors: on PAT and PMT none at
    // all, on other PIDs no more than the input had. Each run between discontinuities is
    // looked at alone (packets are dropped at a discontinuity, which the playlist marks).
    let input = dvbgate_ts::analyze::analyze(spts);
    let mut errors: HashMap<u16, u64> = HashMap::new();
    let mut pmt_pid = None;
    for run in o.segments.chunk_by(|_, b| !b.discontinuity) {
        let joined: Vec<u8> = run.iter().flat_map(|s| s.data.to_vec()).collect();
        let out = dvbgate_ts::analyze::analyze(&joined);
        pmt_pid = pmt_pid.or(out.services.first().and_then(|s| s.pmt_pid));
        for (pid, r) in &out.pids {
            *errors.entry(*pid).or_default() += r.counters.cc_errors;
        }
    }
    for (pid, n) in errors {
        let allowed = if pid == pids::PAT || pmt_pid == Some(pid) {
            0
        } else {
            input.pids.get(&pid).map_or(0, |i| i.counters.cc_errors)
        };
        assert!(
            n <= allowed,
            "{}: PID {pid:#x}: {n} continuity errors, the input had {allowed}",
            o.name
        );
    }
}

fn ffprobe_available() -> bool {
    let ok = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("\n*** SKIPPED the keyframe cross-check: ffprobe is not installed ***\n");
    }
    ok
}

#[test]
fn demo_multiplex_services_tv_radio_and_looped() {
    let mux = std::fs::read(common::demo_mux_path()).expect("the bundled demo multiplex");
    let ffprobe = ffprobe_available();
    let strip_video = || vec![EsFilter::StreamType(0x1B), EsFilter::StreamType(0x02)];
    let cases: Vec<(String, u16, Vec<EsFilter>, usize, u64)> = vec![
        ("demo 101 H.264+AAC".into(), 101, vec![], 1, 4),
        ("demo 102 H.264+AAC, 2 s".into(), 102, vec![], 1, 2),
        ("demo 103 MPEG-2+MP2".into(), 103, vec![], 1, 4),
        ("demo 104 MPEG-2+MP2, 2 s".into(), 104, vec![], 1, 2),
        ("demo 101 radio (AAC only)".into(), 101, strip_video(), 1, 4),
        ("demo 103 radio (MP2 only)".into(), 103, strip_video(), 1, 4),
        ("demo 101 looped 3 times".into(), 101, vec![], 3, 4),
    ];
    let mut rows = Vec::new();
    let mut outcomes = HashMap::new();
    for (name, sid, strip, loops, target) in cases {
        let spts = common::spts(&mux, sid, strip, loops);
        let o = segment_service(name.clone(), &spts, Duration::from_secs(target), ffprobe);
        check(&o, &spts);
        rows.push(o.row());
        outcomes.insert(name, o);
    }
    eprintln!("\n{HEADER}\n{}\n", rows.join("\n"));

    // IDR every second, 18 s: 4 s segments from the first IDR.
    let o = &outcomes["demo 101 H.264+AAC"];
    assert_eq!(o.codecs.as_deref(), Some("avc1.4d401e,mp4a.40.2"));
    assert!(o.segments.len() >= 4);
    assert!(o.segments.iter().all(|s| s.starts_with_random_access));
    assert_eq!(o.stats.rap_interval, Some(Duration::from_secs(1)));
    for s in &o.segments[..o.segments.len() - 1] {
        assert_eq!(s.duration, Duration::from_secs(4));
    }
    let o = &outcomes["demo 102 H.264+AAC, 2 s"];
    for s in &o.segments[..o.segments.len() - 1] {
        assert_eq!(s.duration, Duration::from_secs(2));
    }
    // MPEG-2, closed GOP of 25: the same rhythm, no CODECS (see codecs.rs).
    let o = &outcomes["demo 103 MPEG-2+MP2"];
    assert!(o.segments.len() >= 4);
    assert_eq!(o.stats.rap_interval, Some(Duration::from_secs(1)));
    assert_eq!(o.codecs, None);
    // Radio: cut every target duration at an audio PES start.
    for (name, codecs) in [
        ("demo 101 radio (AAC only)", "mp4a.40.2"),
        ("demo 103 radio (MP2 only)", "mp4a.40.34"),
    ] {
        let o = &outcomes[name];
        assert_eq!(o.codecs.as_deref(), Some(codecs), "{name}");
        assert!(o.segments.len() >= 4, "{name}");
        for s in &o.segments[..o.segments.len() - 1] {
            // Under the target by less than a PES (several audio frames each, here).
            let pes = o.stats.rap_interval.unwrap();
            assert!(s.duration <= Duration::from_secs(4), "{name}");
            assert!(
                s.duration + pes > Duration::from_secs(4),
                "{name}: {:?}",
                s.duration
            );
        }
    }
    // Looped: two discontinuities, each the start of a marked segment at an IDR.
    let o = &outcomes["demo 101 looped 3 times"];
    assert_eq!(o.stats.discontinuities, 2);
    assert_eq!(o.segments.iter().filter(|s| s.discontinuity).count(), 2);
    assert!(o.segments.iter().all(|s| s.starts_with_random_access));
    let sequences: Vec<u64> = o.segments.iter().map(|s| s.sequence).collect();
    assert_eq!(sequences, (0..o.segments.len() as u64).collect::<Vec<_>>());
}

#[test]
fn every_capture_in_shared_streams() {
    let Some(dir) = common::streams_dir() else {
        return;
    };
    let ffprobe = ffprobe_available();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    let mut by_name: HashMap<String, Outcome> = HashMap::new();
    for path in &files {
        let input = std::fs::read(path).expect("readable capture");
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for sid in common::services(&input) {
            let spts = common::spts(&input, sid, Vec::new(), 1);
            let name = format!("{} {sid}", file.trim_end_matches(".ts"));
            let o = segment_service(name.clone(), &spts, Duration::from_secs(1), ffprobe);
            check(&o, &spts);
            // Services whose primary stream carries packets in the capture (many are
            // tables only, or another service's extract).
            let carried = o.primary.is_some_and(|(pid, _)| {
                spts.chunks_exact(PACKET_SIZE).any(|p| {
                    let p: &RawPacket = p.try_into().unwrap();
                    packet::pid(p) == pid
                })
            });
            if carried {
                rows.push(o.row());
            }
            by_name.insert(name, o);
        }
    }
    eprintln!(
        "\n{HEADER}\n{}\n({} services in {} files; those whose primary stream has no packets in the capture not shown)\n",
        rows.join("\n"),
        by_name.len(),
        files.len()
    );
    // The captures with pictures each give segments starting at keyframes, with CODECS
    // where the format has a name.
    let expect = |name: &str, codecs: Option<&str>| {
        let o = by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from {}", dir.display()));
        assert!(!o.segments.is_empty(), "{name}: no segments");
        assert!(o.segments[0].starts_with_random_access, "{name}");
        if let Some(c) = codecs {
            assert_eq!(o.codecs.as_deref(), Some(c), "{name}");
        }
    };
    expect(
        "dvbt-fr-arte-h264-eac3-dvbsub 1031",
        Some("avc1.640028,ec-3"),
    );
    expect(
        "dvbt-fr-france5-h264-eac3-dvbsub-ccerr 1045",
        Some("avc1.640028,ec-3"),
    );
    // Its AAC is labelled MPEG audio (stream type 0x04) in the PMT; the ADTS headers say.
    expect("h264-aac-pmt-pcrpid-unset 1", Some("avc1.64001f,mp4a.40.2"));
    expect(
        "dvbs-fr-canalsat-2svc-h264-ac3-dvbsub 8810",
        Some("avc1.640028,ac-3"),
    );
    expect("hevc-aac-scte35 3012", Some("hvc1.1.2.L150.80,mp4a.40.2"));
    expect("hevc-aac-short 1", Some("hvc1.2.4.L153.B0,mp4a.40.2"));
    // MPEG-2: segments, and no CODECS on purpose.
    expect("hdmv-mpeg2-dtshd-mp2 1", None);
    // CANAL+ CINEMA is scrambled: nothing to cut, and the counters say why.
    let o = &by_name["dvbs-fr-canalsat-2svc-h264-ac3-dvbsub 8803"];
    assert!(o.segments.is_empty() && o.stats.scrambled_packets > 4000);
    assert_eq!(by_name["hdmv-mpeg2-dtshd-mp2 1"].codecs, None);
}

/// ffmpeg reads the playlist of a demo channel (looped once, so with a discontinuity)
/// and decodes every segment without a complaint.
/// What ffmpeg says decoding `input` (a file in `dir`), one line per distinct complaint.
fn ffmpeg_complaints(dir: &Path, input: &str) -> BTreeSet<String> {
    let out = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-nostdin", "-v", "error", "-i", input, "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {input}");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        // "[h264 @ 0x5612...]": the address differs from run to run.
        .map(|l| match (l.find(" @ 0x"), l.find(']')) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &l[..a], &l[b..]),
            _ => l.to_owned(),
        })
        .collect()
}

/// ffmpeg reads the playlist of demo channels and decodes every segment without a
/// complaint; looped (so with a discontinuity), with no complaint that the unsegmented
/// stream does not cause too (ffmpeg's own timestamp correction at the loop).
#[test]
fn ffmpeg_decodes_the_playlist_cleanly() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!(
            "\n*** SKIPPED ffmpeg_decodes_the_playlist_cleanly: ffmpeg is not installed ***\n"
        );
        return;
    }
    let mux = std::fs::read(common::demo_mux_path()).expect("the bundled demo multiplex");
    for (sid, target, loops) in [
        (101u16, 4u64, 1usize),
        (103, 2, 1),
        (101, 4, 2),
        (103, 2, 2),
    ] {
        let spts = common::spts(&mux, sid, Vec::new(), loops);
        let o = segment_service(format!("{sid}"), &spts, Duration::from_secs(target), false);
        let mut window = dvbgate_hls::Window::new(dvbgate_hls::WindowConfig {
            length: 100,
            grace: 0,
            target: Duration::from_secs(target),
        })
        .unwrap();
        let dir =
            std::env::temp_dir().join(format!("dvbgate-hls-{}-{sid}-{loops}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spts.ts"), &spts).unwrap();
        for s in o.segments {
            std::fs::write(dir.join(format!("{}.ts", s.sequence)), &s.data).unwrap();
            window.push(s).unwrap();
        }
        // A finished recording of the live playlist, so that ffmpeg stops at its end.
        let playlist = window.media_playlist(|n| format!("{n}.ts")) + "#EXT-X-ENDLIST\n";
        assert_eq!(
            playlist.matches("#EXT-X-DISCONTINUITY\n").count(),
            loops - 1
        );
        std::fs::write(dir.join("index.m3u8"), playlist).unwrap();
        let segmented = ffmpeg_complaints(&dir, "index.m3u8");
        let whole = ffmpeg_complaints(&dir, "spts.ts");
        let _ = std::fs::remove_dir_all(&dir);
        if loops == 1 {
            assert!(segmented.is_empty(), "service {sid}: {segmented:?}");
        }
        assert!(
            segmented.is_subset(&whole),
            "service {sid}, {loops} loops: {:?}",
            segmented.difference(&whole).collect::<Vec<_>>()
        );
    }
}
