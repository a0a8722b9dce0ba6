//! HLS from the real broadcast captures in ../shared/streams, all played at once by one
//! demo: every TV and radio channel's playlist is fetched and its first segment judged.
//!
//! What a channel must give depends on what its capture really holds (ffprobe on the
//! source file is the judge): a service whose video carries a keyframe must answer 200
//! with segments that start with PAT, PMT and that keyframe (the first packet flagged key
//! by ffprobe, the first frame an I-frame that decodes) and carry its audio; a radio
//! service with audio must answer with audio. A service whose capture holds no usable
//! picture (no keyframe, no video packets at all, scrambled) may answer 200 or 503 with a
//! JSON reason, never anything else, and a 200 must still start with PAT and PMT.

#![allow(clippy::print_stderr)]

use dvbgate_e2e::{
    Daemon, Hls, check_playlist, fetch_hls, ffprobe, first_video_frame, http_get, node_tools,
    segment_head, shared_captures, temp_ts,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Channels fetched at once (each holds a window in memory until it idles out).
const WORKERS: usize = 6;

/// Per PID of a capture, what ffprobe finds: `(codec_type, packets, keyframe packets)`.
type Truth = BTreeMap<u16, (String, u64, u64)>;

fn truth(file: &Path) -> Truth {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "quiet",
            "-show_entries",
            "stream=index,id,codec_type:packet=stream_index,flags",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .expect("ffprobe must be installed (scripts/test installs it)");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let mut by_index = BTreeMap::new();
    for s in v["streams"].as_array().into_iter().flatten() {
        let pid = s["id"]
            .as_str()
            .and_then(|id| u16::from_str_radix(id.trim_start_matches("0x"), 16).ok());
        if let (Some(i), Some(pid)) = (s["index"].as_u64(), pid) {
            by_index.insert(i, pid);
        }
    }
    let mut t = Truth::new();
    for s in v["streams"].as_array().into_iter().flatten() {
        if let Some(pid) = s["index"].as_u64().and_then(|i| by_index.get(&i)) {
            t.insert(
                *pid,
                (s["codec_type"].as_str().unwrap_or("").to_string(), 0, 0),
            );
        }
    }
    for p in v["packets"].as_array().into_iter().flatten() {
        let Some(pid) = p["stream_index"].as_u64().and_then(|i| by_index.get(&i)) else {
            continue;
        };
        if let Some(e) = t.get_mut(pid) {
            e.1 += 1;
            if p["flags"].as_str().is_some_and(|f| f.contains('K')) {
                e.2 += 1;
            }
        }
    }
    t
}

/// What a channel must give.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    /// 200; segments start with this video PID's keyframe; these audio PIDs are carried.
    Picture {
        video: u16,
        codec: String,
        audio: Vec<u16>,
    },
    /// 200; the segment starts with this audio PID's PES and carries audio.
    Sound { audio: u16, codec: String },
    /// 200 (PAT and PMT first) or 503 with a reason: the capture has no usable picture.
    Either(String),
}

#[derive(Clone, Debug)]
struct Case {
    number: u64,
    what: String,
    expect: Expect,
}

/// The outcome of one channel: `Ok(note)` or `Err(failure)`.
type Outcome = Result<String, String>;

fn judge(addr: std::net::SocketAddr, case: &Case, strict: bool) -> Outcome {
    let what = &case.what;
    let started = Instant::now();
    let hls: Hls = match fetch_hls(addr, case.number) {
        Ok(h) => h,
        Err(r) => {
            let reason = r.json()["error"].as_str().unwrap_or("").to_string();
            return match (&case.expect, r.status) {
                (Expect::Either(why), 503) if !reason.trim().is_empty() => Ok(format!(
                    "503 after {:?} ({why}): {reason}",
                    started.elapsed()
                )),
                _ => Err(format!(
                    "{what}: expected {:?}, got {} after {:?}",
                    case.expect,
                    r.describe(),
                    started.elapsed()
                )),
            };
        }
    };
    if hls.first_answer > Duration::from_secs(15) {
        return Err(format!(
            "{what}: the first playlist took {:?}",
            hls.first_answer
        ));
    }
    if strict {
        let url = format!("http://{addr}/hls/{}/index.m3u8", case.number);
        let (code, v) = check_playlist(&url);
        if code != 0 {
            return Err(format!("{what}: hls-parser (strict) rejects {url}: {v}"));
        }
    }
    let segments = &hls.playlist.segments;
    let Some(first) = segments.first() else {
        return Err(format!("{what}: an empty playlist: {:?}", hls.playlist));
    };
    let get = |s: &dvbgate_e2e::PlaylistSegment| {
        let path = hls.segment_path(s);
        let r = http_get(addr, &path, &[]);
        if r.status == 200 {
            Ok(r.body)
        } else {
            Err(format!("{what}: {path}: {}", r.describe()))
        }
    };
    let bytes = get(first)?;
    let head = segment_head(&bytes).map_err(|e| format!("{what}: first segment: {e}"))?;
    let file = temp_ts(&bytes);
    match &case.expect {
        Expect::Either(why) => Ok(format!(
            "200 ({why}), {} segments, first {} s, PAT+PMT first",
            segments.len(),
            first.duration
        )),
        Expect::Picture {
            video,
            codec,
            audio,
        } => {
            if head.primary != Some(*video) {
                return Err(format!(
                    "{what}: segments start with PID {:?}, not the video {video:#x}",
                    head.primary
                ));
            }
            // The first segment's first frame must be a keyframe that decodes as an I-frame,
            // unless that segment is a sliver (under half a second) whose keyframe is cut
            // off by the end of the capture as the input loops: then the next one must be.
            let mut notes = Vec::new();
            let (mut sequence, mut duration) = (first.sequence, first.duration);
            let mut v = first_video_frame(file.path())
                .ok_or_else(|| format!("{what}: ffprobe finds no video in the first segment"))?;
            loop {
                if !v.packet_key {
                    return Err(format!(
                        "{what}: segment {sequence} does not start with a keyframe: {v:?}"
                    ));
                }
                if v.codec != *codec {
                    return Err(format!("{what}: video is {}, not {codec}", v.codec));
                }
                if v.starts_with_keyframe() {
                    break;
                }
                if duration >= 0.5 || notes.len() >= 3 {
                    return Err(format!(
                        "{what}: segment {sequence} ({duration} s) starts with a keyframe \
                         packet but no I-frame decodes first: {v:?}"
                    ));
                }
                notes.push(format!(
                    "segment {sequence} ({duration} s) decodes no frame: {:?}",
                    v.frame
                ));
                sequence += 1;
                let (d, bytes) = segment_by_sequence(addr, case.number, sequence)
                    .map_err(|e| format!("{what}: {e}"))?;
                duration = d;
                let h =
                    segment_head(&bytes).map_err(|e| format!("{what}: segment {sequence}: {e}"))?;
                if h.primary != Some(*video) {
                    return Err(format!(
                        "{what}: segment {sequence} starts with PID {:?}, not the video \
                         {video:#x}",
                        h.primary
                    ));
                }
                v = first_video_frame(temp_ts(&bytes).path()).ok_or_else(|| {
                    format!("{what}: ffprobe finds no video in segment {sequence}")
                })?;
            }
            // Short segments (captures that loop many times a second) may lack an audio
            // packet each; the window as a whole must carry every audio stream.
            let mut carried: BTreeSet<u16> = head
                .packets
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(p, _)| *p)
                .collect();
            if audio.iter().any(|a| !carried.contains(a)) {
                for s in &segments[1..] {
                    if let Ok(h) = segment_head(&get(s)?) {
                        carried.extend(h.packets.keys());
                    }
                }
            }
            let missing: Vec<_> = audio.iter().filter(|a| !carried.contains(a)).collect();
            if !missing.is_empty() {
                return Err(format!(
                    "{what}: audio PIDs {missing:x?} are in the capture but not in the segments"
                ));
            }
            Ok(format!(
                "200, {} segments, first {} s, starts with a {} keyframe ({:?}){}",
                segments.len(),
                first.duration,
                v.codec,
                v.frame,
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", notes.join("; "))
                }
            ))
        }
        Expect::Sound { audio, codec } => {
            if head.primary != Some(*audio) {
                return Err(format!(
                    "{what}: segments start with PID {:?}, not the audio {audio:#x}",
                    head.primary
                ));
            }
            let probe = ffprobe(file.path());
            let found = probe["streams"].as_array().into_iter().flatten().any(|s| {
                s["codec_type"] == "audio"
                    && s["id"].as_str() == Some(format!("{audio:#x}").as_str())
            });
            if !found || !head.carries(*audio) {
                return Err(format!(
                    "{what}: no {codec} audio on {audio:#x} in the first segment: {probe}"
                ));
            }
            Ok(format!("200, radio, {} segments", segments.len()))
        }
    }
}

/// Segment `sequence` of a channel and its EXTINF, waiting (up to 8 s) for it to be listed.
fn segment_by_sequence(
    addr: std::net::SocketAddr,
    number: u64,
    sequence: u64,
) -> Result<(f64, Vec<u8>), String> {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let hls = fetch_hls(addr, number).map_err(|r| format!("reload: {}", r.describe()))?;
        if let Some(s) = hls
            .playlist
            .segments
            .iter()
            .find(|s| s.sequence == sequence)
        {
            let path = hls.segment_path(s);
            let r = http_get(addr, &path, &[]);
            if r.status != 200 {
                return Err(format!("{path}: {}", r.describe()));
            }
            return Ok((s.duration, r.body));
        }
        if hls.playlist.media_sequence > sequence || Instant::now() > deadline {
            return Err(format!(
                "segment {sequence} is not listed: {:?}",
                hls.playlist
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn every_capture_channel_gives_segments_that_start_with_a_keyframe() {
    let Some(files) = shared_captures() else {
        return;
    };
    let mut args: Vec<String> = [
        "--multicast-pool",
        "239.255.120.0/24",
        "--segment-seconds",
        "2",
        "--stream-idle-seconds",
        "3",
        "--stream-budget-mb",
        "384",
    ]
    .map(String::from)
    .to_vec();
    for f in &files {
        args.push("--input".into());
        args.push(f.display().to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut demo = Daemon::demo(&argv);
    // While the inputs loop a few times (PMTs, SDTs), ffprobe reads the sources.
    let truths: Vec<Truth> = files.iter().map(|f| truth(f)).collect();
    std::thread::sleep(Duration::from_secs(2));
    let strict = node_tools("hls-parser playlist checks", &["hls-parser"], false);

    let (_, inputs) = demo.get("/api/v1/inputs");
    let (_, channels) = demo.get("/api/v1/channels");
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for c in channels.as_array().expect("channels") {
        let number = c["number"].as_u64().unwrap();
        let input_index = (c["input_id"].as_u64().unwrap() - 1) as usize;
        let file = files[input_index].file_name().unwrap().to_string_lossy();
        let sid = c["service_id"].as_u64().unwrap();
        let what = format!("channel {number} ({file} service {sid})");
        let service = inputs[input_index]["live"]["services"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["service_id"].as_u64() == Some(sid));
        let Some(service) = service else {
            skipped.push(format!("{what}: not in the PAT now"));
            continue;
        };
        let streams: Vec<(u16, String, String)> = service["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s["pid"].as_u64().unwrap_or(0) as u16,
                    s["kind"].as_str().unwrap_or("").to_string(),
                    s["codec"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let truth = &truths[input_index];
        let packets = |pid: u16| truth.get(&pid).map_or(0, |t| t.1);
        let keys = |pid: u16| truth.get(&pid).map_or(0, |t| t.2);
        let video = streams.iter().find(|s| s.1 == "video");
        let audio: Vec<u16> = streams
            .iter()
            .filter(|s| s.1 == "audio" && packets(s.0) >= 4)
            .map(|s| s.0)
            .collect();
        let scrambled = service["scrambled"] == true;
        let expect = match video {
            None if !streams.iter().any(|s| s.1 == "audio") => {
                skipped.push(format!("{what}: neither TV nor radio: {streams:?}"));
                continue;
            }
            _ if scrambled => Expect::Either("scrambled".into()),
            Some(v) if keys(v.0) > 0 => Expect::Picture {
                video: v.0,
                codec: v.2.clone(),
                audio,
            },
            Some(v) if packets(v.0) > 0 => {
                Expect::Either(format!("no keyframe in the capture's video {:#x}", v.0))
            }
            Some(v) => Expect::Either(format!("no packet on the capture's video {:#x}", v.0)),
            None => match streams.iter().find(|s| s.1 == "audio") {
                Some(a) if packets(a.0) > 0 => Expect::Sound {
                    audio: a.0,
                    codec: a.2.clone(),
                },
                _ => Expect::Either("no audio packet in the capture".into()),
            },
        };
        cases.push(Case {
            number,
            what,
            expect,
        });
    }
    let must_play = cases
        .iter()
        .filter(|c| !matches!(c.expect, Expect::Either(_)))
        .count();
    assert!(
        must_play >= 6,
        "the captures hold H.264, HEVC and MPEG-2 services with keyframes: {cases:#?}"
    );

    // A few workers take channels one by one, so one slow refusal does not hold a batch.
    let queue = Arc::new(Mutex::new(cases.clone()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (queue, results, addr) = (Arc::clone(&queue), Arc::clone(&results), demo.http);
            std::thread::spawn(move || {
                loop {
                    let Some(case) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let c = case.clone();
                    // A panic in a helper (an unanswered request) is that channel's failure.
                    let outcome = std::thread::spawn(move || judge(addr, &c, strict))
                        .join()
                        .unwrap_or_else(|p| {
                            let msg = p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            Err(format!("{}: {msg}", case.what))
                        });
                    results.lock().unwrap().push((case, outcome));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let results = std::mem::take(&mut *results.lock().unwrap());
    eprintln!(
        "{} channels judged in {:?}, {} skipped:",
        results.len(),
        started.elapsed(),
        skipped.len()
    );
    for s in &skipped {
        eprintln!("  skipped {s}");
    }
    let mut failures = Vec::new();
    let mut sorted = results;
    sorted.sort_by_key(|(c, _)| c.number);
    for (case, outcome) in &sorted {
        match outcome {
            Ok(note) => eprintln!("  ok   {}: {note}", case.what),
            Err(e) => {
                eprintln!("  FAIL {e}");
                failures.push(e.clone());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} channels failed:\n{}",
        failures.len(),
        sorted.len(),
        failures.join("\n")
    );
    assert!(demo.is_running(), "{}", demo.stderr_text());
    let (status, _) = demo.get("/healthz");
    assert_eq!(status, 200);
}
