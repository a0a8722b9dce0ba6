//! The file player, driven with a synthetic clock: real-time pacing from PCRs, loops,
//! files without PCR, stalls, and files that are not transport streams.

use dvbgate_inputs::file::FilePlayer;
use dvbgate_inputs::{InputError, InputOptions, InputSink, MuxInput};
use dvbgate_remux::synth::{self, SynthConfig};
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Collect {
    bytes: usize,
    discontinuities: usize,
    /// Bytes received before each discontinuity.
    at_discontinuity: Vec<usize>,
}

impl InputSink for Collect {
    fn data(&mut self, bytes: &[u8]) {
        assert_eq!(bytes.len() % 188, 0, "the player hands over whole packets");
        self.bytes += bytes.len();
    }
    fn discontinuity(&mut self) {
        self.discontinuities += 1;
        self.at_discontinuity.push(self.bytes);
    }
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

/// Polls every `step` of virtual time for `total`, returning bytes delivered by each poll.
fn play(
    player: &mut FilePlayer,
    sink: &mut Collect,
    step: Duration,
    total: Duration,
) -> Vec<(Duration, usize)> {
    let t0 = Instant::now();
    let mut t = Duration::ZERO;
    let mut trace = Vec::new();
    while t <= total {
        player.poll(t0 + t, sink).unwrap();
        trace.push((t, sink.bytes));
        t += step;
    }
    trace
}

const RATE: u64 = 4_000_000;

#[test]
fn plays_at_the_rate_its_pcrs_give() {
    let mux = synth::generate(
        &SynthConfig {
            bitrate: RATE,
            ..SynthConfig::default()
        },
        6000,
        0,
    ); // ~2.26 s
    let file = write_temp(&mux);
    let mut player = FilePlayer::open(file.path(), &InputOptions::default()).unwrap();
    let mut sink = Collect::default();
    let trace = play(
        &mut player,
        &mut sink,
        Duration::from_millis(10),
        Duration::from_secs(2),
    );
    for (t, bytes) in trace.iter().skip(5) {
        let expected = RATE as f64 / 8.0 * t.as_secs_f64();
        let error = (*bytes as f64 - expected).abs();
        // Within one PCR interval (40 ms) of data.
        assert!(
            error <= RATE as f64 / 8.0 * 0.045,
            "at {t:?}: {bytes} bytes, expected {expected:.0}"
        );
    }
    assert_eq!(sink.discontinuities, 0);
}

#[test]
fn loops_with_a_discontinuity_each_time() {
    let mux = synth::generate(
        &SynthConfig {
            bitrate: RATE,
            ..SynthConfig::default()
        },
        1330,
        7_000_000,
    ); // 0.5 s
    let file = write_temp(&mux);
    let mut player = FilePlayer::open(file.path(), &InputOptions::default()).unwrap();
    let mut sink = Collect::default();
    play(
        &mut player,
        &mut sink,
        Duration::from_millis(5),
        Duration::from_millis(1_740),
    );
    assert_eq!(
        sink.discontinuities, 3,
        "three wraps in 1.74 s of a 0.5 s file"
    );
    for (k, at) in sink.at_discontinuity.iter().enumerate() {
        assert_eq!(
            *at,
            (k + 1) * mux.len(),
            "each loop is the whole file, then the discontinuity"
        );
    }
    // The player reads a little ahead of the clock, so it may already have started the next pass.
    assert!((3..=4).contains(&player.stats().loops));
    let expected = RATE as f64 / 8.0 * 1.74;
    assert!(
        (sink.bytes as f64 - expected).abs() < RATE as f64 / 8.0 * 0.06,
        "{} vs {expected}",
        sink.bytes
    );
}

#[test]
fn without_pcr_plays_at_the_fallback_rate() {
    let mut mux = synth::generate(&SynthConfig::default(), 3000, 0);
    // Strip the PCR flag from every adaptation field.
    for p in mux.chunks_mut(188) {
        if p[3] & 0x20 != 0 && p[4] > 0 {
            p[5] &= !0x10;
        }
    }
    let file = write_temp(&mux);
    let options = InputOptions {
        fallback_bitrate: 2_000_000,
        ..InputOptions::default()
    };
    let mut player = FilePlayer::open(file.path(), &options).unwrap();
    let mut sink = Collect::default();
    play(
        &mut player,
        &mut sink,
        Duration::from_millis(10),
        Duration::from_secs(1),
    );
    let expected = 2_000_000.0 / 8.0;
    assert!(
        (sink.bytes as f64 - expected).abs() < expected * 0.05,
        "{} bytes in 1 s",
        sink.bytes
    );
}

#[test]
fn a_stalled_caller_gets_no_burst() {
    let mux = synth::generate(
        &SynthConfig {
            bitrate: RATE,
            ..SynthConfig::default()
        },
        20_000,
        0,
    );
    let file = write_temp(&mux);
    let mut player = FilePlayer::open(file.path(), &InputOptions::default()).unwrap();
    let mut sink = Collect::default();
    let t0 = Instant::now();
    player.poll(t0, &mut sink).unwrap();
    player
        .poll(t0 + Duration::from_millis(100), &mut sink)
        .unwrap();
    let before = sink.bytes;
    // Five seconds without a poll, then one poll: at most about a second's worth arrives.
    player.poll(t0 + Duration::from_secs(5), &mut sink).unwrap();
    assert!(
        sink.bytes - before <= (RATE / 8) as usize * 13 / 10,
        "{} bytes at once",
        sink.bytes - before
    );
}

#[test]
fn refuses_what_is_not_a_transport_stream() {
    let garbage = write_temp(
        &(0..500_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>(),
    );
    let e = FilePlayer::open(garbage.path(), &InputOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, InputError::NoSync(_)), "{e}");
    assert!(
        e.to_string().contains("not an MPEG transport stream"),
        "{e}"
    );

    let empty = write_temp(&[]);
    let e = FilePlayer::open(empty.path(), &InputOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("empty"), "{e}");

    let e = FilePlayer::open("/nonexistent/dir/mux.ts".as_ref(), &InputOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, InputError::Open(_)));
    assert!(e.to_string().contains("/nonexistent/dir/mux.ts"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let e = FilePlayer::open(dir.path(), &InputOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("directory"), "{e}");
}

#[test]
fn open_by_address() {
    let mux = synth::generate(&SynthConfig::default(), 100, 0);
    let file = write_temp(&mux);
    let url = format!("file://{}", file.path().display());
    let input = dvbgate_inputs::open(&url, &InputOptions::default()).unwrap();
    assert_eq!(input.describe(), file.path().display().to_string());
    assert!(dvbgate_inputs::open("udp://@239.1.1.1", &InputOptions::default()).is_err());
}
