//! The live window and its playlists, read back with a strict parser of the subset of RFC
//! 8216 they use: numbering that players can follow from one reload to the next (media
//! and discontinuity sequence), durations within the target, the target never going down.

mod common;

use bytes::Bytes;
use common::synth::{self, First, Pic, Stream};
use dvbgate_hls::{Segment, Segmenter, SegmenterConfig, Window, WindowConfig, WindowError};
use std::collections::BTreeMap;
use std::time::Duration;

/// A media playlist, parsed.
#[derive(Debug)]
struct Media {
    target: u64,
    media_sequence: u64,
    discontinuity_sequence: u64,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    sequence: u64,
    /// Discontinuity sequence number: DSEQ plus the tags up to and including this entry.
    dsn: u64,
    discontinuity: bool,
    date_ms: i64,
    duration_ms: u64,
    uri: String,
}

/// Parses strictly: every line known, tags in order, every EXTINF followed by a URI.
fn parse(text: &str) -> Media {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"));
    assert_eq!(lines.next(), Some("#EXT-X-VERSION:3"));
    let header = |line: Option<&str>, tag: &str| -> u64 {
        let line = line.unwrap_or_default();
        line.strip_prefix(tag)
            .and_then(|v| v.strip_prefix(':'))
            .unwrap_or_else(|| panic!("{tag} expected, got {line:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("{line:?} is not a decimal-integer"))
    };
    let target = header(lines.next(), "#EXT-X-TARGETDURATION");
    let media_sequence = header(lines.next(), "#EXT-X-MEDIA-SEQUENCE");
    let discontinuity_sequence = header(lines.next(), "#EXT-X-DISCONTINUITY-SEQUENCE");
    let mut entries = Vec::new();
    let (mut dsn, mut sequence) = (discontinuity_sequence, media_sequence);
    let mut line = lines.next();
    while let Some(l) = line {
        let discontinuity = l == "#EXT-X-DISCONTINUITY";
        if discontinuity {
            dsn += 1;
            line = lines.next();
        }
        let date = line
            .and_then(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
            .unwrap_or_else(|| panic!("date-time expected, got {line:?}"));
        let inf = lines
            .next()
            .and_then(|l| l.strip_prefix("#EXTINF:"))
            .and_then(|l| l.strip_suffix(','))
            .expect("EXTINF");
        let (whole, frac) = inf.split_once('.').expect("decimal duration");
        assert_eq!(frac.len(), 3, "three decimals: {inf}");
        let duration_ms = whole.parse::<u64>().unwrap() * 1000 + frac.parse::<u64>().unwrap();
        let uri = lines.next().expect("URI").to_owned();
        assert!(!uri.starts_with('#') && !uri.is_empty());
        entries.push(Entry {
            sequence,
            dsn,
            discontinuity,
            date_ms: parse_date(date),
            duration_ms,
            uri,
        });
        sequence += 1;
        line = lines.next();
    }
    assert!(!text.contains("#EXT-X-ENDLIST"), "live playlists never end");
    Media {
        target,
        media_sequence,
        discontinuity_sequence,
        entries,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` to Unix ms (days counted the slow, obvious way).
fn parse_date(s: &str) -> i64 {
    assert_eq!(s.len(), 24, "{s}");
    assert!(
        s.ends_with('Z') && &s[10..11] == "T" && &s[19..20] == ".",
        "{s}"
    );
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0, 4), n(5, 7), n(8, 10));
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = (1970..y)
        .map(|y| if leap(y) { 366 } else { 365 })
        .sum::<i64>();
    let month_days = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += month_days[..(mo - 1) as usize].iter().sum::<i64>() + d - 1;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + n(20, 23)
}

fn uri(n: u64) -> String {
    format!("seg-{n}.ts")
}

fn segment(sequence: u64, ms: u64, discontinuity: bool) -> Segment {
    Segment {
        sequence,
        duration: Duration::from_millis(ms),
        program_date_time_ms: 1_795_240_800_000 + sequence as i64 * 1000,
        discontinuity,
        data: Bytes::from(vec![0x47; 188 * 10]),
        starts_with_random_access: true,
    }
}

fn window(length: usize, grace: usize, target_s: u64) -> Window {
    Window::new(WindowConfig {
        length,
        grace,
        target: Duration::from_secs(target_s),
    })
    .unwrap()
}

/// Checks what a player checks between two reloads: a segment keeps its URI, its
/// discontinuity sequence number and its date; the target duration does not go down.
fn consistent(before: &Media, after: &Media) {
    assert!(after.media_sequence >= before.media_sequence);
    assert!(after.discontinuity_sequence >= before.discontinuity_sequence);
    assert!(after.target >= before.target, "target duration went down");
    for a in &after.entries {
        if let Some(b) = before.entries.iter().find(|b| b.sequence == a.sequence) {
            assert_eq!((&a.uri, a.dsn, a.date_ms), (&b.uri, b.dsn, b.date_ms));
        }
    }
}

#[test]
fn window_slides_and_numbers_stay_consistent() {
    let mut w = window(3, 2, 4);
    let mut previous: Option<Media> = None;
    let mut evicted = Vec::new();
    let discontinuous = [4u64, 5, 9];
    for n in 100..115u64 {
        evicted.extend(
            w.push(segment(n, 3960, discontinuous.contains(&(n - 100))))
                .unwrap(),
        );
        let m = parse(&w.media_playlist(uri));
        assert_eq!(m.entries.len(), 3.min((n - 99) as usize));
        assert_eq!(m.entries.last().unwrap().sequence, n);
        assert_eq!(m.entries.last().unwrap().uri, uri(n));
        // Discontinuity tags that left the window are counted in DSEQ.
        let gone = discontinuous
            .iter()
            .filter(|&&d| d + 100 < m.media_sequence)
            .count() as u64;
        assert_eq!(m.discontinuity_sequence, gone, "after {n}");
        for e in &m.entries {
            assert_eq!(e.discontinuity, discontinuous.contains(&(e.sequence - 100)));
            assert_eq!(e.date_ms, 1_795_240_800_000 + e.sequence as i64 * 1000);
            assert_eq!(e.duration_ms, 3960);
            assert!(e.duration_ms.div_ceil(1000) <= m.target);
        }
        if let Some(p) = &previous {
            consistent(p, &m);
        }
        previous = Some(m);
        // Listed and grace segments are fetchable; older ones are gone.
        assert!(w.get(n).is_some());
        if n >= 105 {
            assert!(w.get(n - 4).is_some(), "grace keeps {}", n - 4);
            assert!(w.get(n - 5).is_none());
        }
        assert_eq!(w.len(), 5.min((n - 99) as usize));
        assert_eq!(w.bytes(), w.len() * 1880);
    }
    let numbers: Vec<u64> = evicted.iter().map(|s| s.sequence).collect();
    assert_eq!(numbers, (100..110).collect::<Vec<_>>());
}

#[test]
fn target_duration_rises_with_a_long_segment_and_never_falls() {
    let mut w = window(3, 0, 4);
    let durations = [4000, 3960, 6200, 4000, 4000, 4000, 4000, 3000];
    let mut targets = Vec::new();
    for (i, &ms) in durations.iter().enumerate() {
        w.push(segment(i as u64, ms, false)).unwrap();
        targets.push(parse(&w.media_playlist(uri)).target);
    }
    // The 6.2 s segment left the window long ago; the target stays at 7.
    assert_eq!(targets, vec![4, 4, 7, 7, 7, 7, 7, 7]);
    // The configured target is the floor, rounded up.
    let mut w = Window::new(WindowConfig {
        target: Duration::from_millis(1500),
        ..WindowConfig::default()
    })
    .unwrap();
    w.push(segment(0, 1000, false)).unwrap();
    assert_eq!(parse(&w.media_playlist(uri)).target, 2);
}

#[test]
fn numbering_must_increase_and_a_gap_restarts_the_list() {
    let mut w = window(4, 1, 4);
    for n in 0..3 {
        w.push(segment(n, 4000, false)).unwrap();
    }
    assert_eq!(
        w.push(segment(2, 4000, false)),
        Err(WindowError::SequenceNotIncreasing { got: 2, last: 2 })
    );
    assert!(w.push(segment(1, 4000, false)).is_err());
    // A restarted segmenter further on: the old segments leave the list (one stays in
    // grace), the new one is a discontinuity.
    let evicted = w.push(segment(50, 4000, false)).unwrap();
    assert_eq!(evicted.len(), 2);
    let m = parse(&w.media_playlist(uri));
    assert_eq!(m.media_sequence, 50);
    assert_eq!(m.entries.len(), 1);
    assert!(m.entries[0].discontinuity);
    assert!(w.get(2).is_some() && w.get(1).is_none());
    w.push(segment(51, 4000, false)).unwrap();
    assert_eq!(parse(&w.media_playlist(uri)).entries.len(), 2);
}

#[test]
fn master_playlist_measures_bandwidth() {
    let mut w = window(6, 0, 4);
    assert_eq!(w.master_playlist("index.m3u8", None), None);
    let mut s = segment(0, 2000, false);
    s.data = Bytes::from(vec![0x47; 188 * 1000]); // 1.504 Mbit in 2 s
    w.push(s).unwrap();
    let mut s = segment(1, 4000, false);
    s.data = Bytes::from(vec![0x47; 188 * 1000]); // 1.504 Mbit in 4 s
    w.push(s).unwrap();
    let text = w
        .master_playlist("index.m3u8", Some("avc1.4d401e,mp4a.40.2"))
        .unwrap();
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=752000,\
         AVERAGE-BANDWIDTH=501334,CODECS=\"avc1.4d401e,mp4a.40.2\"\nindex.m3u8\n"
    );
    let bare = w.master_playlist("index.m3u8", None).unwrap();
    assert!(!bare.contains("CODECS"));
}

/// A clip of `seconds` with an IDR every second, played `loops` times as the remuxer plays
/// a looping file (PTS back to the start, PCR flagged).
fn looping_clip(seconds: usize, loops: usize) -> Stream {
    let mut s = Stream::new(&[(0x1B, synth::VIDEO_PID)], synth::VIDEO_PID);
    for l in 0..loops {
        for i in 0..seconds * 25 {
            s.wall_ms += 40;
            if i % 3 == 0 {
                s.psi();
            }
            let pic = if i % 25 == 0 { Pic::Key } else { Pic::Inter };
            let pts = 90_000 + i as u64 * synth::FRAME_TICKS;
            let first = First {
                pcr: Some(pts * 300),
                discontinuity: l > 0 && i == 0,
                ..First::default()
            };
            s.pes(
                synth::VIDEO_PID,
                0xE0,
                Some(pts),
                &synth::h264_au(pic, 500, 0),
                first,
            );
        }
    }
    s
}

#[test]
fn a_looping_input_through_segmenter_and_window() {
    // A 5 s clip looped 6 times, 2 s target: segments of 2, 2, 1 s per loop; each loop
    // starts a discontinuity.
    let s = looping_clip(5, 6);
    let mut seg = Segmenter::new(
        SegmenterConfig {
            target: Duration::from_secs(2),
            ..SegmenterConfig::default()
        },
        7_000,
    )
    .unwrap();
    let mut w = window(4, 1, 2);
    let mut reloads: BTreeMap<u64, Media> = BTreeMap::new();
    let mut push = |w: &mut Window, segment: Segment| {
        w.push(segment).unwrap();
        let m = parse(&w.media_playlist(uri));
        if let Some((_, last)) = reloads.last_key_value() {
            consistent(last, &m);
        }
        reloads.insert(m.entries.last().unwrap().sequence, m);
    };
    for (p, wall) in &s.packets {
        if let Some(segment) = seg.push(p, *wall) {
            push(&mut w, segment);
        }
    }
    push(&mut w, seg.finish().unwrap());
    assert_eq!(seg.stats().discontinuities, 5);
    assert_eq!(seg.stats().segments, 18);
    let last = reloads.last_key_value().unwrap().1;
    assert_eq!(last.media_sequence, 7_000 + 18 - 4);
    // Segment 7000 + 3k starts loop k. The window holds 7014 (the end of loop 4) to
    // 7017: the starts of loops 1 to 4 have left it.
    assert_eq!(last.discontinuity_sequence, 4);
    let durations: Vec<u64> = last.entries.iter().map(|e| e.duration_ms).collect();
    assert_eq!(durations, vec![1000, 2000, 2000, 1000]);
    let flags: Vec<bool> = last.entries.iter().map(|e| e.discontinuity).collect();
    assert_eq!(flags, vec![false, true, false, false]);
    // Each loop starts a decoder epoch: the DSN rises exactly at loop starts.
    for m in reloads.values() {
        for e in &m.entries {
            assert_eq!(e.dsn, (e.sequence - 7_000) / 3, "segment {}", e.sequence);
        }
    }
}

#[test]
fn a_target_announced_ahead_holds_for_long_gops() {
    let mut w = window(6, 2, 2);
    // Keyframes 2.88 s apart measured before the first playlist: announce 1.5 times that.
    w.expect_segments_up_to(Duration::from_millis(4320));
    w.push(segment(1, 2880, false)).unwrap();
    let first = parse(&w.media_playlist(uri));
    w.push(segment(2, 3840, false)).unwrap();
    let second = parse(&w.media_playlist(uri));
    assert_eq!(first.target, 5);
    assert_eq!(second.target, 5, "unchanged by a longer GOP");
}
