//! A channel stream fed the way the pipeline feeds it (datagrams, then the end of a send
//! pass), read the way the HTTP server reads it.

// The segmenter's test helpers turn the bundled demo multiplex into a channel's SPTS.
#[path = "../../hls/tests/common/mod.rs"]
mod common;

use bytes::Bytes;
use dvbgate_outputs::ChannelTap;
use dvbgate_streaming::{Budget, ChannelStream, HttpClient, StreamOptions, StreamTap};
use dvbgate_ts::PACKET_SIZE;
use std::sync::Arc;
use std::time::Duration;

/// The demo's H.264/AAC service, played twice over.
fn demo_spts() -> Vec<u8> {
    let mux = std::fs::read(common::demo_mux_path()).expect("the bundled demo multiplex");
    common::spts(&mux, 101, Vec::new(), 2)
}

fn options() -> StreamOptions {
    StreamOptions {
        // Every pass hands what it gathered to the clients.
        chunk_interval: Duration::ZERO,
        ..StreamOptions::default()
    }
}

/// Feeds `spts` in datagrams of 7 packets, one send pass each.
fn feed(tap: &mut StreamTap, spts: &[u8]) {
    for datagram in spts.chunks(7 * PACKET_SIZE) {
        tap.datagram(datagram);
        tap.end_of_pass();
    }
}

/// Feeds `spts` like [`feed`], reading `client` after every pass (as a fast HTTP client
/// would).
fn feed_reading(tap: &mut StreamTap, spts: &[u8], client: &mut HttpClient) -> Vec<u8> {
    let mut read = Vec::new();
    for datagram in spts.chunks(7 * PACKET_SIZE) {
        tap.datagram(datagram);
        tap.end_of_pass();
        read.extend(drain(client));
    }
    read
}

/// Runs a future to completion (the waits on a stream use tokio's timer).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

/// Whether a client's stream has ended (dropped, or its tap gone), once its queue is read.
fn ended(client: &mut HttpClient) -> bool {
    let waker = std::task::Waker::noop();
    matches!(
        client.poll_next(&mut std::task::Context::from_waker(waker)),
        std::task::Poll::Ready(None)
    )
}

fn pid(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[1], packet[2]]) & 0x1fff
}

fn drain(client: &mut HttpClient) -> Vec<u8> {
    let mut out = Vec::new();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    while let std::task::Poll::Ready(Some(chunk)) = client.poll_next(&mut cx) {
        out.extend_from_slice(&chunk);
    }
    out
}

#[test]
fn segments_fill_the_window_and_playlists() {
    let budget = Arc::new(Budget::new(256 << 20));
    let stream = ChannelStream::new("demo 1", options(), budget.clone(), 1000, 4_000_000).unwrap();
    let mut tap = stream.tap().unwrap();
    assert!(!block_on(stream.first_segment(Duration::from_millis(10))));
    assert!(stream.media_playlist().is_none());
    feed(&mut tap, &demo_spts());
    assert!(block_on(stream.first_segment(Duration::from_millis(10))));

    let playlist = stream.media_playlist().unwrap();
    assert!(playlist.contains("#EXT-X-TARGETDURATION:4"), "{playlist}");
    let first_uri = playlist
        .lines()
        .find(|l| l.ends_with(".ts"))
        .expect("a segment listed");
    let sequence: u64 = first_uri.trim_end_matches(".ts").parse().unwrap();
    assert!(sequence >= 1000, "numbering starts where asked: {sequence}");
    let segment = stream.segment(sequence).unwrap();
    assert_eq!(
        pid(&segment[..PACKET_SIZE]),
        0,
        "segments start with the PAT"
    );
    assert!(stream.segment(sequence + 1000).is_none());
    assert_ne!(
        stream.segment_etag(sequence),
        stream.segment_etag(sequence + 1)
    );

    let master = stream.master_playlist("live.m3u8").unwrap();
    assert!(master.contains("CODECS=\"avc1."), "{master}");
    assert!(master.contains("live.m3u8"), "{master}");

    let stats = stream.stats();
    assert_eq!(stats.segments, 8, "6 listed + 2 in grace: {stats:?}");
    assert!(stats.window_bytes > 0 && budget.held() == stats.window_bytes);
    // Once full, the window claims what it needs (10/8 of what it holds), not the
    // 4 Mbit/s estimate it started with (20 MB).
    assert_eq!(budget.claimed(), stats.window_bytes * 10 / 8);
    drop(tap);
    drop(stream);
    assert_eq!(budget.held(), 0, "a stream gone gives its memory back");
    assert_eq!(budget.claimed(), 0);
}

#[test]
fn a_client_joining_mid_stream_gets_the_segments_bytes_from_a_keyframe_on() {
    let stream = ChannelStream::new(
        "demo 1",
        options(),
        Arc::new(Budget::new(256 << 20)),
        0,
        4_000_000,
    )
    .unwrap();
    let mut tap = stream.tap().unwrap();
    let spts = demo_spts();
    let (before, after) = spts.split_at(spts.len() / 3 / 1316 * 1316);
    feed(&mut tap, before);
    let joined_in = stream.stats().media_sequence + stream.stats().segments as u64;
    let mut client = stream.join();
    assert_eq!(
        stream.idle_for(),
        Duration::ZERO,
        "a joining client is activity"
    );
    let mut received = feed_reading(&mut tap, after, &mut client);
    assert_eq!(stream.stats().http_clients, 1);
    drop(tap); // the last, partial segment is published and the client's stream ends
    received.extend(drain(&mut client));
    assert!(ended(&mut client), "the stream ended with its tap");

    assert_eq!(
        pid(&received[..PACKET_SIZE]),
        0,
        "a client starts with the PAT"
    );
    // The bytes it got are exactly the segments from the one being built when it came.
    let mut segments = Vec::new();
    let mut sequence = joined_in;
    while let Some(s) = stream.segment(sequence) {
        segments.extend_from_slice(&s);
        sequence += 1;
    }
    assert!(
        sequence > joined_in + 2,
        "the window still holds what the client got"
    );
    assert_eq!(received.len(), segments.len());
    assert!(
        received == segments,
        "the client's stream equals the segments"
    );
}

#[test]
fn a_client_that_does_not_read_is_dropped_and_the_others_go_on() {
    let stream = ChannelStream::new(
        "demo 1",
        StreamOptions {
            client_queue: 4,
            ..options()
        },
        Arc::new(Budget::new(256 << 20)),
        0,
        4_000_000,
    )
    .unwrap();
    let mut tap = stream.tap().unwrap();
    let mut stalled = stream.join();
    let mut reader = stream.join();
    let read = feed_reading(&mut tap, &demo_spts(), &mut reader);
    let stats = stream.stats();
    assert_eq!(stats.http_clients_dropped, 1, "{stats:?}");
    assert_eq!(stats.http_clients, 1);
    let left: Vec<Bytes> = std::iter::from_fn(|| {
        let waker = std::task::Waker::noop();
        match stalled.poll_next(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(c) => c,
            std::task::Poll::Pending => None,
        }
    })
    .collect();
    assert!(left.len() <= 4, "its queue was bounded: {}", left.len());
    assert!(ended(&mut stalled), "its stream ended when it was dropped");
    assert!(
        read.len() > 1_000_000,
        "the reader got {} bytes",
        read.len()
    );
}

#[test]
fn a_stream_that_does_not_fit_the_budget_is_refused() {
    let budget = Arc::new(Budget::new(30_000_000));
    let options = StreamOptions::default();
    // 4 Mbit/s, 4 s segments, 6 + 2 + 2 of them: 20 MB.
    assert_eq!(options.window_bytes(4_000_000), 20_000_000);
    let a = ChannelStream::new("a", options.clone(), budget.clone(), 0, 4_000_000).unwrap();
    let refused = ChannelStream::new("b", options.clone(), budget.clone(), 0, 4_000_000)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("budget is full"), "{refused}");
    drop(a);
    ChannelStream::new("b", options, budget, 0, 4_000_000).expect("room again");
}

#[test]
fn windows_over_the_budget_give_up_their_oldest_segments() {
    // Room for about three of the demo channel's 4 s segments (~325 kB each).
    let budget = Arc::new(Budget::new(1 << 20));
    let stream = ChannelStream::new("demo 1", options(), budget.clone(), 0, 100_000).unwrap();
    let mut tap = stream.tap().unwrap();
    feed(&mut tap, &demo_spts());
    let stats = stream.stats();
    assert!(stats.segments >= 1 && stats.segments < 8, "{stats:?}");
    assert!(
        budget.held() <= 1 << 20,
        "held {} of {}",
        budget.held(),
        3 << 20
    );
}

#[test]
fn a_new_tap_continues_the_numbering_after_a_discontinuity() {
    let stream = ChannelStream::new(
        "demo 1",
        options(),
        Arc::new(Budget::new(256 << 20)),
        50,
        4_000_000,
    )
    .unwrap();
    let spts = demo_spts();
    let half = &spts[..spts.len() / 2 / 1316 * 1316];
    let mut tap = stream.tap().unwrap();
    feed(&mut tap, half);
    drop(tap); // the pipeline restarted
    let before = stream.stats().media_sequence + stream.stats().segments as u64;
    let mut tap = stream.tap().unwrap();
    feed(&mut tap, half);
    let playlist = stream.media_playlist().unwrap();
    // The tags between the segment before and the first of the new tap.
    let at = playlist
        .find(&format!("\n{before}.ts"))
        .unwrap_or_else(|| panic!("segment {before} listed: {playlist}"));
    let tags = &playlist[playlist[..at].rfind(".ts").unwrap_or(0)..at];
    assert!(tags.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    assert!(
        stream.segment(before).is_some(),
        "numbering went on from {before}"
    );
}
