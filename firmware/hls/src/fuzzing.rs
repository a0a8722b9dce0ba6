//! What the `hls` fuzz target runs: arbitrary bytes as packets through a segmenter and a
//! window, playlists rendered along the way. Not a public interface.

use crate::{Segment, Segmenter, SegmenterConfig, Window, WindowConfig};
use dvbgate_ts::packet::{self, PACKET_SIZE, SYNC_BYTE, pids};
use std::time::Duration;

/// The last byte chooses the target, the window and whether sync bytes are forced (so
/// that most inputs get past the sync check); the bytes before it are packets (so a
/// piece of a real capture is a good seed as it is). Besides not panicking, every
/// segment must be whole packets starting with a PAT, and numbered in sequence.
pub fn hls(data: &[u8]) {
    let Some((&control, data)) = data.split_last() else {
        return;
    };
    let target = Duration::from_secs(1 + u64::from(control % 10));
    let config = SegmenterConfig {
        target,
        max_segment_bytes: 1 << 20,
        quick_start: control & 1 == 1,
    };
    let first = u64::from(control) << 40;
    let Ok(mut segmenter) = Segmenter::new(config, first) else {
        return;
    };
    let Ok(mut window) = Window::new(WindowConfig {
        length: 1 + usize::from(control >> 4) % 8,
        grace: usize::from(control >> 6),
        target,
    }) else {
        return;
    };
    let mut expected = first;
    let mut check = |s: Segment, window: &mut Window| {
        assert_eq!(s.sequence, expected);
        expected += 1;
        assert!(!s.data.is_empty() && s.data.len().is_multiple_of(PACKET_SIZE));
        let head: &[u8; PACKET_SIZE] = s.data[..PACKET_SIZE].try_into().expect("a packet");
        assert_eq!(packet::pid(head), pids::PAT);
        window.push(s).expect("sequence numbers increase");
        while window.bytes() > 4 << 20 {
            window.evict_oldest();
        }
    };
    let mut p = [0xFFu8; PACKET_SIZE];
    let mut wall = 1_700_000_000_000i64;
    for (i, chunk) in data.chunks(PACKET_SIZE).enumerate() {
        p.fill(0xFF);
        p[..chunk.len()].copy_from_slice(chunk);
        if control & 1 == 0 {
            p[0] = SYNC_BYTE;
        }
        wall += i64::from(chunk[0] & 7);
        if let Some(s) = segmenter.push(&p, wall) {
            check(s, &mut window);
        }
        assert!(segmenter.in_progress().len().is_multiple_of(PACKET_SIZE));
        assert!(segmenter.last_output().len().is_multiple_of(PACKET_SIZE));
        if i % 256 == 255 {
            let _ = window.media_playlist(|n| format!("{n}.ts"));
            let _ = segmenter.codecs();
        }
    }
    while let Some(s) = segmenter.finish() {
        check(s, &mut window);
    }
    let _ = segmenter.stats();
    let _ = window.media_playlist(|n| format!("{n}.ts"));
    let _ = window.master_playlist("index.m3u8", segmenter.codecs().as_deref());
}
