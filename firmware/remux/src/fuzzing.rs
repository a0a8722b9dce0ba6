//! What the fuzz targets (and the tests that replay their kind of input) run: arbitrary
//! bytes through every parser of broadcast data and the remuxer. Not a public interface.

use crate::{ChannelSpec, Demux, EsFilter};
use dvbgate_ts::timing::ClockConfig;

/// Feeds `data` to a demux with a few channels, in chunk sizes chosen by the data itself,
/// with discontinuities, channel changes and sender drains along the way; then the same
/// bytes through the analyzer. Anything but a panic or unbounded growth is fine.
pub fn remux(data: &[u8]) {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let mut demux = Demux::new(ClockConfig::default());
    // Services 1-4 cover the synthetic multiplex; the first two PAT-listed services of a
    // real capture are added when they appear.
    for sid in 1..=4u16 {
        let mut spec = ChannelSpec::new(sid, format!("fuzz {sid}"));
        spec.strip_ca = sid % 2 == 0;
        if sid == 3 {
            spec.strip_es = vec![EsFilter::StreamType(0x0F), EsFilter::Language("eng".into())];
        }
        spec.packets_per_datagram = 1 + usize::from(control % 7);
        spec.ring_datagrams = 8;
        demux.set_channel(u32::from(sid), spec);
    }
    let chunk = 1 + usize::from(control) * 7;
    let mut t = 0i64;
    for (i, piece) in data.chunks(chunk).enumerate() {
        demux.push(piece, t);
        t += 1_000_000;
        if i % 17 == 16 {
            demux.discontinuity();
        }
        if i % 5 == 0 {
            let (clock, channels) = demux.outputs();
            for (_, ch) in channels.iter_mut() {
                let ring = ch.ring_mut();
                let due = ring
                    .front(ring.len())
                    .filter(|(info, _)| {
                        clock
                            .deadline(info.last_position, info.first_arrival_ns, t)
                            .is_some()
                    })
                    .count();
                ring.pop_front(due);
            }
            demux.seal_due(t, 20_000_000, 100_000_000);
        }
        if i == 3 {
            let services: Vec<u16> = demux
                .monitor()
                .model
                .programs()
                .keys()
                .copied()
                .take(2)
                .collect();
            for sid in services {
                demux.set_channel(1000 + u32::from(sid), ChannelSpec::new(sid, "discovered"));
            }
        }
    }
    let _ = dvbgate_ts::analyze::analyze(data);
}
