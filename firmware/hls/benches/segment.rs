//! Segmenter cost per packet, on the demo multiplex's first H.264 service (dvbgate One,
//! 640x360 H.264 + AAC) remuxed to its SPTS as the pipeline would, played 4 times over.
//!
//! `cargo bench -p dvbgate-hls`. Criterion reports time per element, an element being
//! one 188-byte packet of the SPTS; the segments are taken into a window as the server
//! would.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dvbgate_hls::{Segmenter, SegmenterConfig, Window, WindowConfig};
use dvbgate_ts::{PACKET_SIZE, RawPacket};
use std::hint::black_box;

#[path = "../tests/common/mod.rs"]
mod common;

fn segment(c: &mut Criterion) {
    let mux = std::fs::read(common::demo_mux_path()).expect("the bundled demo multiplex");
    let spts = common::spts(&mux, 101, Vec::new(), 4);
    let packets: Vec<RawPacket> = spts
        .chunks_exact(PACKET_SIZE)
        .map(|p| p.try_into().expect("whole packets"))
        .collect();
    let mut group = c.benchmark_group("segment");
    group.throughput(Throughput::Elements(packets.len() as u64));
    group.bench_function("H.264 SPTS, 4 s segments", |b| {
        let mut sequence = 0;
        b.iter(|| {
            let mut seg = Segmenter::new(SegmenterConfig::default(), sequence).expect("config");
            let mut window = Window::new(WindowConfig::default()).expect("config");
            let mut wall = 1_795_240_800_000i64;
            for (i, p) in packets.iter().enumerate() {
                if i % 64 == 0 {
                    wall += 1;
                }
                if let Some(s) = seg.push(black_box(p), wall) {
                    let _ = window.push(s);
                }
            }
            if let Some(s) = seg.finish() {
                let _ = window.push(s);
            }
            sequence = seg.next_sequence();
            black_box(window.bytes())
        });
    });
    group.finish();
}

criterion_group!(benches, segment);
criterion_main!(benches);
