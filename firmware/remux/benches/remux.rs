//! Remuxer cost per input packet, on a synthetic 8-service multiplex at 30 Mbit/s.
//!
//! `cargo bench -p dvbgate-remux`. Criterion reports time per element, an element being one
//! 188-byte input packet. Inputs arrive in chunks the size of a `recvmmsg` batch, and the
//! datagram queues are drained after each chunk as the sender would.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dvbgate_remux::synth::{self, SynthConfig};
use dvbgate_remux::{ChannelSpec, Demux};
use dvbgate_ts::timing::ClockConfig;
use std::hint::black_box;

const PACKETS: u64 = 50_000;
const CHUNK: usize = 64 * 7 * 188;

fn run(demux: &mut Demux, mux: &[u8], t: &mut i64) {
    for chunk in mux.chunks(CHUNK) {
        demux.push(black_box(chunk), *t);
        *t += 2_000_000;
        let (_, channels) = demux.outputs();
        for (_, ch) in channels.iter_mut() {
            let n = ch.ring().len();
            ch.ring_mut().pop_front(n);
        }
    }
}

fn remux(c: &mut Criterion) {
    let cfg = SynthConfig {
        services: 8,
        bitrate: 30_000_000,
        ..SynthConfig::default()
    };
    let mux = synth::generate(&cfg, PACKETS, 0);
    let mut group = c.benchmark_group("remux");
    group.throughput(Throughput::Elements(PACKETS));
    for channels in [0u16, 1, 8] {
        group.bench_with_input(
            BenchmarkId::new("8-service MPTS, channels", channels),
            &channels,
            |b, &n| {
                let mut demux = Demux::new(ClockConfig::default());
                for i in 0..n {
                    demux.set_channel(
                        u32::from(i),
                        ChannelSpec::new(synth::service_id(i), format!("Channel {i}")),
                    );
                }
                let mut t = 0;
                b.iter(|| run(&mut demux, &mux, &mut t));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, remux);
criterion_main!(benches);
