//! Shared by the integration tests and the benchmark: real multiplexes made into the SPTS
//! a channel's segmenter receives, exactly as the pipeline's remuxer makes them.

#![allow(dead_code)]

pub mod synth;

use dvbgate_remux::datagram::HEADER_ROOM;
use dvbgate_remux::{ChannelSpec, Demux, EsFilter};
use dvbgate_ts::PACKET_SIZE;
use dvbgate_ts::timing::ClockConfig;
use std::path::PathBuf;

pub fn demo_mux_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dvbgate/assets/demo-mux.ts")
}

/// The broadcast captures beside the checkout (`shared/streams`, see its PROVENANCE.md),
/// or `DVBGATE_SHARED_STREAMS`; `None`, said loudly, when absent.
#[allow(clippy::print_stderr)]
pub fn streams_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DVBGATE_SHARED_STREAMS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/streams")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n*** SKIPPED: the broadcast captures are not here ({}); set DVBGATE_SHARED_STREAMS to run this test ***\n",
            dir.display()
        );
        None
    }
}

/// Remuxes `input` (played `loops` times, with the discontinuity the file player signals
/// at each loop) into service `service_id`'s SPTS, leaving out `strip`.
pub fn spts(input: &[u8], service_id: u16, strip: Vec<EsFilter>, loops: usize) -> Vec<u8> {
    let mut demux = Demux::new(ClockConfig::default());
    let mut spec = ChannelSpec::new(service_id, "test");
    spec.strip_es = strip;
    demux.set_channel(1, spec);
    let mut out = Vec::with_capacity(input.len() * loops / 2);
    let mut t = 0i64;
    for n in 0..loops {
        if n > 0 {
            demux.discontinuity();
        }
        for chunk in input.chunks(7 * PACKET_SIZE) {
            demux.push(chunk, t);
            t += 500_000;
            drain(&mut demux, &mut out);
        }
    }
    let (_, channels) = demux.outputs();
    for (_, ch) in channels.iter_mut() {
        ch.ring_mut().seal_partial();
    }
    drain(&mut demux, &mut out);
    out
}

fn drain(demux: &mut Demux, out: &mut Vec<u8>) {
    let (_, channels) = demux.outputs();
    for (_, ch) in channels.iter_mut() {
        let n = ch.ring().len();
        for (_, bytes) in ch.ring().front(n) {
            out.extend_from_slice(&bytes[HEADER_ROOM..]);
        }
        ch.ring_mut().pop_front(n);
    }
}

/// The service ids of a multiplex's PAT.
pub fn services(input: &[u8]) -> Vec<u16> {
    dvbgate_ts::analyze::analyze(input)
        .services
        .iter()
        .filter(|s| s.in_pat)
        .map(|s| s.service_id)
        .collect()
}
