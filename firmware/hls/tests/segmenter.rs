//! The segmenter on synthetic channels whose random access points, times and tables are
//! known: where it cuts, what each segment starts with, how long segments are, what
//! happens at discontinuities, forced cuts and table changes, and that the segments
//! played back to back are a clean stream.

mod common;

use common::synth::{self, Codec, First, Pic, Shape, Stream};
use dvbgate_hls::pes::{self, PTS_HZ};
use dvbgate_hls::{ConfigError, Segment, Segmenter, SegmenterConfig};
use dvbgate_ts::packet::{self, PACKET_SIZE, RawPacket, pids};
use dvbgate_ts::section::SectionAssembler;
use dvbgate_ts::tables::pmt;
use std::time::Duration;

fn config(target_s: u64) -> SegmenterConfig {
    SegmenterConfig {
        target: Duration::from_secs(target_s),
        ..SegmenterConfig::default()
    }
}

/// Runs a stream through a segmenter; returns the segments (the last from `finish`).
fn run(stream: &Stream, config: SegmenterConfig) -> (Vec<Segment>, Segmenter) {
    let mut seg = Segmenter::new(config, 1000).unwrap();
    let mut out = Vec::new();
    for (p, wall) in &stream.packets {
        out.extend(seg.push(p, *wall));
    }
    out.extend(seg.finish());
    (out, seg)
}

fn packets(data: &[u8]) -> impl Iterator<Item = &RawPacket> {
    data.chunks_exact(PACKET_SIZE)
        .map(|p| p.try_into().expect("whole packets"))
}

/// The PTS of the PES starting in `p`.
fn pes_pts(p: &RawPacket) -> Option<u64> {
    let payload = packet::payload(p)?;
    let mut h = pes::PesHeader::default();
    h.feed(payload);
    h.pts()
}

/// Checks the head of a segment: PAT, PMT, then the PES start of `pid`; returns its PTS.
fn head(s: &Segment, pid: u16) -> u64 {
    let mut it = packets(&s.data);
    let pat = it.next().expect("a PAT");
    let pmt = it.next().expect("a PMT");
    let first = it.next().expect("a media packet");
    assert_eq!(packet::pid(pat), pids::PAT, "segment {}", s.sequence);
    assert!(packet::payload_unit_start(pat));
    assert_eq!(packet::pid(pmt), synth::PMT_PID, "segment {}", s.sequence);
    assert!(packet::payload_unit_start(pmt));
    assert_eq!(packet::pid(first), pid, "segment {}", s.sequence);
    assert!(packet::payload_unit_start(first));
    pes_pts(first).expect("the first PES has a PTS")
}

fn concat(segments: &[Segment]) -> Vec<u8> {
    segments
        .iter()
        .flat_map(|s| s.data.iter().copied())
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn every(n: usize, first: usize) -> impl Fn(usize) -> Pic {
    move |i| {
        if i >= first && (i - first).is_multiple_of(n) {
            Pic::Key
        } else {
            Pic::Inter
        }
    }
}

fn shape(codec: Codec, frames: usize, pic: &dyn Fn(usize) -> Pic) -> Shape<'_> {
    Shape {
        codec,
        frames,
        pic,
        first_pts: 900_000,
        audio: true,
        frame_bytes: 1500,
    }
}

/// IDR every second (25 pictures), starting at picture 10.
fn idr_every_second(i: usize) -> Pic {
    every(25, 10)(i)
}

#[test]
fn h264_cuts_at_idrs_and_segments_start_with_pat_pmt_idr() {
    let s = synth::channel(&shape(Codec::H264, 25 * 21 + 10, &idr_every_second));
    let (segments, seg) = run(&s, config(4));
    // 21 s of IDRs from picture 10: five 4 s segments and a partial one of 1 s.
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![4.0, 4.0, 4.0, 4.0, 4.0, 1.0]);
    for (k, s) in segments.iter().enumerate() {
        assert_eq!(s.sequence, 1000 + k as u64);
        assert!(s.starts_with_random_access);
        assert!(!s.discontinuity);
        let pts = head(s, synth::VIDEO_PID);
        assert_eq!(pts, 900_000 + (10 + 100 * k as u64) * synth::FRAME_TICKS);
    }
    let stats = seg.stats();
    assert_eq!(stats.segments, 6);
    assert_eq!(stats.forced_cuts, 0);
    assert!(
        stats.dropped_before_rap > 0,
        "the pictures before the first IDR"
    );
    assert_eq!(stats.rap_interval, Some(Duration::from_secs(1)));
    assert_eq!(stats.longest_segment, Duration::from_secs(4));
    assert_eq!(seg.codecs().as_deref(), Some("avc1.4d401e,mp4a.40.2"));
}

#[test]
fn quick_start_cuts_the_first_segment_at_the_first_keyframe_a_second_in() {
    let s = synth::channel(&shape(Codec::H264, 25 * 21 + 10, &idr_every_second));
    let quick = SegmenterConfig {
        quick_start: true,
        ..config(4)
    };
    let (segments, _) = run(&s, quick);
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![1.0, 4.0, 4.0, 4.0, 4.0, 4.0]);
    // IDRs 0.48 s apart: the first segment ends at the third, 1.44 s in.
    let s = synth::channel(&shape(Codec::H264, 25 * 9 + 10, &every(12, 10)));
    let (segments, _) = run(
        &s,
        SegmenterConfig {
            quick_start: true,
            ..config(4)
        },
    );
    assert_eq!(secs(segments[0].duration), 1.44);
    assert!(segments[1].duration > Duration::from_secs(3));
    for s in &segments {
        head(s, synth::VIDEO_PID);
    }
}

#[test]
fn segments_back_to_back_have_no_continuity_errors() {
    let s = synth::channel(&shape(Codec::H264, 25 * 13 + 10, &idr_every_second));
    let (segments, _) = run(&s, config(2));
    assert!(segments.len() >= 6);
    let a = dvbgate_ts::analyze::analyze(&concat(&segments));
    assert_eq!(a.cc_errors, 0, "PAT/PMT counters continue across segments");
    assert_eq!(a.section_errors.crc, 0);
    assert_eq!(a.services.len(), 1);
    assert_eq!(a.services[0].service_id, synth::PROGRAM);
    // Each PAT/PMT we wrote is there: one per segment plus the stream's own.
    let pats = packets(&concat(&segments))
        .filter(|p| packet::pid(p) == pids::PAT)
        .count();
    let stream_pats = s
        .packets
        .iter()
        .filter(|(p, _)| packet::pid(p) == pids::PAT)
        .count();
    assert!(pats > segments.len() && pats <= stream_pats + segments.len());
}

#[test]
fn a_late_joiner_gets_the_same_bytes_as_the_segments() {
    let s = synth::channel(&shape(Codec::H264, 25 * 9 + 10, &idr_every_second));
    let mut seg = Segmenter::new(config(2), 0).unwrap();
    let mut segments = Vec::new();
    let mut joiner: Option<Vec<u8>> = None;
    for (i, (p, wall)) in s.packets.iter().enumerate() {
        if let Some(done) = seg.push(p, *wall) {
            segments.push(done);
        }
        match &mut joiner {
            Some(bytes) => bytes.extend_from_slice(seg.last_output()),
            // Joins in the middle of the second segment.
            None if segments.len() == 1 && i % 7 == 3 => {
                let start = seg.in_progress();
                assert_eq!(packet::pid(start[..188].try_into().unwrap()), pids::PAT);
                joiner = Some(start.to_vec());
            }
            None => {}
        }
    }
    let last = seg.finish().unwrap();
    joiner
        .as_mut()
        .unwrap()
        .extend_from_slice(seg.last_output());
    segments.push(last);
    let expected = concat(&segments[1..]);
    assert_eq!(joiner.unwrap(), expected);
}

#[test]
fn nothing_before_the_first_rap_and_in_progress_is_empty_until_then() {
    let s = synth::channel(&shape(Codec::H264, 60, &every(25, 30)));
    let mut seg = Segmenter::new(config(4), 0).unwrap();
    for (i, (p, wall)) in s.packets.iter().enumerate() {
        assert!(seg.push(p, *wall).is_none());
        let before_idr = s.packets[..=i]
            .iter()
            .filter(|(q, _)| packet::pid(q) == synth::VIDEO_PID && packet::payload_unit_start(q))
            .count()
            <= 30;
        if before_idr {
            assert!(seg.in_progress().is_empty(), "packet {i}");
            assert!(seg.last_output().is_empty(), "packet {i}");
        }
    }
    let head_bytes = seg.in_progress().to_vec();
    assert!(!head_bytes.is_empty());
    let pts = head(
        &Segment {
            sequence: 0,
            duration: Duration::ZERO,
            program_date_time_ms: 0,
            discontinuity: false,
            data: head_bytes.into(),
            starts_with_random_access: true,
        },
        synth::VIDEO_PID,
    );
    assert_eq!(pts, 900_000 + 30 * synth::FRAME_TICKS);
}

#[test]
fn start_codes_across_packet_boundaries_are_found() {
    // Padding SEI sizes move the IDR's start code to every position around the end of
    // the first TS packet's payload (184 - 4 PCR field - 14 PES header = 162 bytes).
    for pad in 130..=170 {
        let mut s = Stream::new(&[(0x1B, synth::VIDEO_PID)], synth::VIDEO_PID);
        for i in 0..(25 * 6) {
            s.wall_ms += 40;
            if i % 5 == 0 {
                s.psi();
            }
            let pic = if i % 25 == 0 { Pic::Key } else { Pic::Inter };
            let au = synth::h264_au(pic, 900, pad);
            let pts = 90_000 + i as u64 * synth::FRAME_TICKS;
            let first = First {
                pcr: Some(pts * 300),
                ..First::default()
            };
            s.pes(synth::VIDEO_PID, 0xE0, Some(pts), &au, first);
        }
        let (segments, seg) = run(&s, config(2));
        let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
        assert_eq!(durations, vec![2.0, 2.0, 2.0], "pad {pad}");
        // Only the first PAT and PMT, ahead of the first IDR.
        assert_eq!(seg.stats().dropped_before_rap, 2, "pad {pad}");
        assert_eq!(seg.codecs().as_deref(), Some("avc1.4d401e"), "pad {pad}");
    }
}

#[test]
fn h264_recovery_point_sei_is_a_cut_point() {
    // One IDR, then I pictures with recovery points every 2 s.
    let pic = |i: usize| match i {
        0 => Pic::Key,
        i if i % 50 == 0 => Pic::Alt,
        _ => Pic::Inter,
    };
    let s = synth::channel(&shape(Codec::H264, 50 * 4, &pic));
    let (segments, _) = run(&s, config(2));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![2.0; 4]);
    for (k, s) in segments.iter().enumerate() {
        assert_eq!(
            head(s, synth::VIDEO_PID),
            900_000 + 50 * k as u64 * synth::FRAME_TICKS
        );
    }
}

#[test]
fn hevc_cuts_at_irap_pictures() {
    // IDR first, CRA every 2 s, trailing pictures between.
    let pic = |i: usize| match i {
        0 => Pic::Key,
        i if i % 50 == 0 => Pic::Alt,
        _ => Pic::Inter,
    };
    let s = synth::channel(&shape(Codec::Hevc, 50 * 5, &pic));
    let (segments, seg) = run(&s, config(4));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![4.0, 4.0, 2.0]);
    for s in &segments {
        let pts = head(s, synth::VIDEO_PID);
        assert_eq!((pts - 900_000) % (50 * synth::FRAME_TICKS), 0);
    }
    assert_eq!(seg.codecs().as_deref(), Some("hvc1.1.6.L93.90,mp4a.40.2"));
}

#[test]
fn mpeg2_cuts_only_at_i_pictures_after_a_sequence_header() {
    // Sequence header + I every 2 s; lone I pictures every 12 pictures in between.
    let pic = |i: usize| match i {
        i if i % 50 == 0 => Pic::Key,
        i if i % 12 == 0 => Pic::Alt,
        _ => Pic::Inter,
    };
    let s = synth::channel(&shape(Codec::Mpeg2, 50 * 5, &pic));
    let (segments, seg) = run(&s, config(3));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    // GOP 2 s, target 3 s: waiting for the next RAP would overshoot, so every RAP cuts.
    assert_eq!(durations, vec![2.0; 5]);
    for s in &segments {
        let pts = head(s, synth::VIDEO_PID);
        assert_eq!((pts - 900_000) % (50 * synth::FRAME_TICKS), 0);
    }
    assert_eq!(
        seg.codecs(),
        None,
        "MPEG-2 video has no CODECS name players accept"
    );
}

#[test]
fn audio_only_cuts_every_target_at_a_pes_start() {
    // AAC, 1024 samples at 48 kHz per PES: 1920 ticks (21.3 ms).
    let mut s = Stream::new(&[(0x0F, synth::AUDIO_PID)], synth::AUDIO_PID);
    let frame = 1920u64;
    for i in 0..(48_000 * 9 / 1024) {
        s.wall_ms += 21;
        if i % 5 == 0 {
            s.psi();
        }
        let pts = 1_000 + i as u64 * frame;
        let first = First {
            pcr: Some(pts * 300),
            ..First::default()
        };
        s.pes(
            synth::AUDIO_PID,
            0xC0,
            Some(pts),
            &synth::adts_frame(384),
            first,
        );
    }
    let (segments, seg) = run(&s, config(2));
    assert!(segments.len() >= 4, "{segments:?}");
    for s in &segments[..segments.len() - 1] {
        let ticks = pes::duration_to_ticks(s.duration);
        assert!(ticks <= 2 * PTS_HZ, "{:?}", s.duration);
        assert!(ticks > 2 * PTS_HZ - frame, "{:?}", s.duration);
        assert_eq!(ticks % frame, 0);
        head(s, synth::AUDIO_PID);
    }
    assert_eq!(seg.codecs().as_deref(), Some("mp4a.40.2"));
}

#[test]
fn durations_across_the_33_bit_wrap() {
    let pic = every(25, 0);
    let mut sh = shape(Codec::H264, 25 * 12, &pic);
    sh.first_pts = synth::PTS_MODULUS - 5 * PTS_HZ;
    let s = synth::channel(&sh);
    let (segments, seg) = run(&s, config(4));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![4.0, 4.0, 4.0]);
    assert_eq!(seg.stats().discontinuities, 0);
    // Program date-times advance by exactly the durations, whatever the wall jitter.
    for w in segments.windows(2) {
        assert_eq!(w[1].program_date_time_ms - w[0].program_date_time_ms, 4000);
    }
    assert_eq!(segments[0].program_date_time_ms, s.packets[0].1);
}

/// A 6-second H.264 clip, played `loops` times the way the remuxer plays a looping file:
/// PTS back to the start, the first PCR after the loop flagged.
fn looping(loops: usize, flag: bool, jump: i64) -> Stream {
    let mut s = Stream::new(&[(0x1B, synth::VIDEO_PID)], synth::VIDEO_PID);
    for l in 0..loops {
        for i in 0..150usize {
            s.wall_ms += 40;
            if i % 3 == 0 {
                s.psi();
            }
            let pic = if i % 25 == 0 { Pic::Key } else { Pic::Inter };
            let base = 900_000 + l as i64 * jump;
            let pts = (base + i as i64 * synth::FRAME_TICKS as i64)
                .rem_euclid(synth::PTS_MODULUS as i64) as u64;
            let first = First {
                pcr: Some(pts * 300),
                discontinuity: flag && l > 0 && i == 0,
                ..First::default()
            };
            s.pes(
                synth::VIDEO_PID,
                0xE0,
                Some(pts),
                &synth::h264_au(pic, 700, 0),
                first,
            );
        }
    }
    s
}

#[test]
fn pcr_discontinuity_closes_the_segment_and_marks_the_next() {
    // The PTS goes back by 6 s: less than the jump threshold, so the PCR flag decides.
    let s = looping(2, true, 0);
    let (segments, seg) = run(&s, config(4));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![4.0, 2.0, 4.0, 2.0]);
    let flags: Vec<bool> = segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, vec![false, false, true, false]);
    assert_eq!(seg.stats().discontinuities, 1);
    for s in &segments {
        assert!(s.starts_with_random_access);
        head(s, synth::VIDEO_PID);
    }
    // The date-time is anchored again at the wall clock after the loop.
    assert_eq!(
        segments[2].program_date_time_ms,
        s.packets
            .iter()
            .find(|(p, _)| packet::discontinuity_indicator(p))
            .unwrap()
            .1
    );
}

#[test]
fn pts_jumps_without_a_flag_are_discontinuities_too() {
    for jump in [26 * PTS_HZ as i64, -100_000_000] {
        // Forward by 20 s after the 6 s clip, and far backwards.
        let s = looping(2, false, jump);
        let (segments, seg) = run(&s, config(4));
        let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
        assert_eq!(durations, vec![4.0, 2.0, 4.0, 2.0], "jump {jump}");
        assert!(segments[2].discontinuity);
        assert_eq!(seg.stats().discontinuities, 1);
    }
    // Backwards by less than 10 s without a flag: time went back in the segment.
    let s = looping(2, false, -(3 * PTS_HZ as i64));
    let (segments, seg) = run(&s, config(4));
    assert_eq!(seg.stats().discontinuities, 1);
    assert!(
        segments
            .iter()
            .all(|s| s.duration <= Duration::from_secs(4))
    );
    assert_eq!(segments.iter().filter(|s| s.discontinuity).count(), 1);
}

#[test]
fn forced_cut_when_no_rap_comes_for_three_targets() {
    let s = synth::channel(&shape(Codec::H264, 25 * 20, &every(10_000, 0)));
    let (segments, seg) = run(&s, config(2));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![6.0, 6.0, 6.0, 2.0]);
    let starts: Vec<bool> = segments
        .iter()
        .map(|s| s.starts_with_random_access)
        .collect();
    assert_eq!(starts, vec![true, false, false, false]);
    assert_eq!(seg.stats().forced_cuts, 3);
    for s in &segments {
        head(s, synth::VIDEO_PID);
    }
}

#[test]
fn a_gop_longer_than_the_target_cuts_at_every_rap() {
    let s = synth::channel(&shape(Codec::H264, 25 * 16, &every(125, 0)));
    let (segments, seg) = run(&s, config(4));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![5.0, 5.0, 5.0, 1.0]);
    assert_eq!(seg.stats().forced_cuts, 0);
    assert_eq!(seg.stats().rap_interval, Some(Duration::from_secs(5)));
}

#[test]
fn irregular_gops_keep_segments_within_the_target() {
    // RAPs at varying distances (0.4 s to 1.6 s), as with scene-cut detection.
    let pic = |i: usize| {
        let marks = [
            0, 10, 50, 60, 100, 140, 150, 190, 230, 240, 280, 300, 340, 380,
        ];
        if marks.contains(&(i % 400)) {
            Pic::Key
        } else {
            Pic::Inter
        }
    };
    let s = synth::channel(&shape(Codec::H264, 400 * 3, &pic));
    let (segments, _) = run(&s, config(4));
    assert!(segments.len() >= 9);
    for s in &segments {
        assert!(s.duration <= Duration::from_secs(4), "{:?}", s.duration);
    }
    // Not needlessly short either (the last one is what was left at the end).
    for s in &segments[..segments.len() - 1] {
        assert!(s.duration >= Duration::from_secs(2), "{:?}", s.duration);
    }
}

#[test]
fn oversize_segments_are_cut() {
    // 40 kB pictures, one IDR per 10 s, a 10 s target: 10 MB per GOP against 1 MiB.
    let pic = every(250, 0);
    let mut sh = shape(Codec::H264, 25 * 4, &pic);
    sh.frame_bytes = 40_000;
    sh.audio = false;
    let s = synth::channel(&sh);
    let cfg = SegmenterConfig {
        target: Duration::from_secs(10),
        max_segment_bytes: 1 << 20,
        ..SegmenterConfig::default()
    };
    let (segments, seg) = run(&s, cfg);
    assert!(seg.stats().oversize_cuts >= 3);
    for s in &segments {
        assert!(s.data.len() <= (1 << 20) + 50_000, "{}", s.data.len());
        head(s, synth::VIDEO_PID);
    }
    let total: usize = segments.iter().map(|s| s.data.len()).sum();
    assert!(total > 3_900_000);
}

#[test]
fn pmt_changes_are_followed() {
    let mut s = Stream::new(
        &[(0x1B, synth::VIDEO_PID), (0x0F, synth::AUDIO_PID)],
        synth::VIDEO_PID,
    );
    let new_audio = 0x102;
    let frame = |s: &mut Stream, i: usize, video: u16, audio: u16| {
        s.wall_ms += 40;
        if i.is_multiple_of(3) {
            s.psi();
        }
        let pic = if i.is_multiple_of(25) {
            Pic::Key
        } else {
            Pic::Inter
        };
        let pts = 90_000 + i as u64 * synth::FRAME_TICKS;
        let first = First {
            pcr: Some(pts * 300),
            ..First::default()
        };
        s.pes(video, 0xE0, Some(pts), &synth::h264_au(pic, 600, 0), first);
        s.pes(
            audio,
            0xC0,
            Some(pts),
            &synth::adts_frame(200),
            First::default(),
        );
    };
    for i in 0..80 {
        frame(&mut s, i, synth::VIDEO_PID, synth::AUDIO_PID);
    }
    // The audio moves to another PID and becomes AC-3 (private PES with a descriptor).
    s.set_streams(
        &[(0x1B, synth::VIDEO_PID), (0x06, new_audio)],
        synth::VIDEO_PID,
    );
    for i in 80..180 {
        frame(&mut s, i, synth::VIDEO_PID, new_audio);
    }
    // The video moves: another decoder setup, a discontinuity.
    let new_video = 0x200;
    s.set_streams(&[(0x1B, new_video), (0x06, new_audio)], new_video);
    for i in 180..300 {
        frame(&mut s, i, new_video, new_audio);
    }
    let (segments, seg) = run(&s, config(4));
    assert_eq!(seg.stats().pmt_changes, 2);
    assert_eq!(seg.stats().discontinuities, 1);
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    // Cut at 4 s; closed at the video change (7.2 s); the new video's first IDR at 8 s.
    assert_eq!(durations, vec![4.0, 3.2, 4.0]);
    let flags: Vec<bool> = segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, vec![false, false, true]);
    head(&segments[2], new_video);
    // The PMT written at the head of each segment is the one in force.
    let pmt_of = |s: &Segment| {
        let mut asm = SectionAssembler::new();
        let mut pids = Vec::new();
        let p: &RawPacket = s.data[PACKET_SIZE..2 * PACKET_SIZE].try_into().unwrap();
        asm.push(p, &|_| true, &mut |r| {
            let section = r.expect("a whole PMT section");
            let table = pmt::parse(&section).expect("a PMT");
            pids = table.streams().map(|e| e.pid).collect();
        });
        pids
    };
    assert_eq!(
        pmt_of(&segments[0]),
        vec![synth::VIDEO_PID, synth::AUDIO_PID]
    );
    assert_eq!(pmt_of(&segments[1]), vec![synth::VIDEO_PID, new_audio]);
    assert_eq!(pmt_of(&segments[2]), vec![new_video, new_audio]);
    assert_eq!(seg.codecs().as_deref(), Some("avc1.4d401e,ac-3"));
}

#[test]
fn unknown_video_uses_the_random_access_indicator() {
    // VC-1 (stream type 0xEA): RAPs as the encoder flags them in the adaptation field.
    let mut s = Stream::new(&[(0xEA, synth::VIDEO_PID)], synth::VIDEO_PID);
    for i in 0..(25 * 6) {
        s.wall_ms += 40;
        if i % 3 == 0 {
            s.psi();
        }
        let pts = 90_000 + i as u64 * synth::FRAME_TICKS;
        let first = First {
            pcr: Some(pts * 300),
            random_access: i % 25 == 5,
            ..First::default()
        };
        s.pes(synth::VIDEO_PID, 0xFD, Some(pts), &[0x5A; 500], first);
    }
    let (segments, seg) = run(&s, config(2));
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![2.0, 2.0, 1.8]);
    assert_eq!(seg.codecs(), None);
}

#[test]
fn configuration_is_checked() {
    for target in [0, 11, 60] {
        assert_eq!(
            Segmenter::new(config(target), 0).err(),
            Some(ConfigError::Target {
                target: Duration::from_secs(target)
            })
        );
    }
    let small = SegmenterConfig {
        max_segment_bytes: 1000,
        ..SegmenterConfig::default()
    };
    assert!(matches!(
        Segmenter::new(small, 0),
        Err(ConfigError::MaxSegmentBytes { bytes: 1000 })
    ));
    assert!(Segmenter::new(config(1), u64::MAX).is_ok());
    assert!(Segmenter::new(config(10), 0).is_ok());
}

#[test]
fn garbage_never_panics() {
    // Pseudo-random packets, and a real synthetic stream with bytes flipped.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut noise = Vec::new();
    for _ in 0..20_000 {
        noise.push(rnd() as u8);
    }
    for control in [0u8, 1, 0x42, 0xFE] {
        let mut input = noise.clone();
        input.push(control);
        dvbgate_hls::fuzzing::hls(&input);
    }
    let s = synth::channel(&shape(Codec::H264, 200, &idr_every_second));
    let mut bytes: Vec<u8> = s.raw().concat();
    for _ in 0..2000 {
        let at = (rnd() % bytes.len() as u64) as usize;
        bytes[at] = rnd() as u8;
    }
    bytes.push(0x10);
    dvbgate_hls::fuzzing::hls(&bytes);
}

#[test]
fn a_stream_without_recognisable_raps_starts_late_rather_than_never() {
    let s = synth::channel(&shape(Codec::H264, 25 * 10, &|_| Pic::Inter));
    let (segments, seg) = run(&s, config(1));
    // Waited 3 s from the first PES, then started and cut every 3 s.
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![3.0, 3.0, 1.0]);
    assert!(segments.iter().all(|s| !s.starts_with_random_access));
    assert_eq!(seg.stats().forced_cuts, 3);
    assert_eq!(
        head(&segments[0], synth::VIDEO_PID),
        900_000 + 75 * synth::FRAME_TICKS
    );
}

#[test]
fn wild_wall_clocks_do_no_harm() {
    let s = synth::channel(&shape(Codec::H264, 25 * 8, &idr_every_second));
    let mut seg = Segmenter::new(config(2), 0).unwrap();
    let walls = [i64::MIN, i64::MAX, 0, -1, i64::MAX / 2];
    let mut segments = Vec::new();
    for (i, (p, _)) in s.packets.iter().enumerate() {
        segments.extend(seg.push(p, walls[i % walls.len()]));
    }
    segments.extend(seg.finish());
    // Durations still come from the PTS.
    let durations: Vec<f64> = segments.iter().map(|s| secs(s.duration)).collect();
    assert_eq!(durations, vec![2.0, 2.0, 2.0, 1.6]);
}
