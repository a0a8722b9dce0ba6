//! A channel stream's cost per packet on the pipeline thread: segmenting into the window,
//! and the HTTP TS fan-out, with 0, 1 and 20 clients reading. The demo multiplex's first
//! H.264 service, remuxed to its SPTS as the pipeline would, fed in datagrams of 7 packets
//! with one send pass each (as the sender does).
//!
//! `cargo bench -p dvbgate-streaming`. An element is one 188-byte packet.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dvbgate_outputs::ChannelTap;
use dvbgate_streaming::{Budget, ChannelStream, HttpClient, StreamOptions};
use dvbgate_ts::PACKET_SIZE;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

#[path = "../../hls/tests/common/mod.rs"]
mod common;

fn drain(client: &mut HttpClient) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let mut n = 0;
    while let Poll::Ready(Some(chunk)) = client.poll_next(&mut cx) {
        n += chunk.len();
    }
    n
}

fn tap(c: &mut Criterion) {
    let mux = std::fs::read(common::demo_mux_path()).expect("the bundled demo multiplex");
    let spts = common::spts(&mux, 101, Vec::new(), 4);
    let packets = (spts.len() / PACKET_SIZE) as u64;
    let mut group = c.benchmark_group("tap");
    group.throughput(Throughput::Elements(packets));
    for clients in [0usize, 1, 20] {
        group.bench_function(format!("H.264 SPTS, {clients} HTTP clients"), |b| {
            let budget = Arc::new(Budget::new(1 << 30));
            b.iter(|| {
                let stream =
                    ChannelStream::new("bench", StreamOptions::default(), budget.clone(), 0, 0)
                        .expect("options");
                let mut tap = stream.tap().expect("options");
                let mut readers: Vec<HttpClient> = (0..clients).map(|_| stream.join()).collect();
                let mut received = 0;
                for datagram in spts.chunks(7 * PACKET_SIZE) {
                    tap.datagram(black_box(datagram));
                    tap.end_of_pass();
                    for r in &mut readers {
                        received += drain(r);
                    }
                }
                black_box((received, stream.stats().window_bytes))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, tap);
criterion_main!(benches);
