//! The hot path allocates nothing per packet: after a warm-up (tables seen, queues built),
//! remuxing more of the same multiplex performs no heap allocation at all.

// A global allocator is the only way to observe allocations; this test file is the one
// place in the crate that needs `unsafe`.
#![allow(unsafe_code)]

use dvbgate_remux::synth::{self, SynthConfig};
use dvbgate_remux::{ChannelSpec, Demux};
use dvbgate_ts::timing::ClockConfig;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarding the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_remuxing_does_not_allocate() {
    let cfg = SynthConfig {
        services: 8,
        bitrate: 30_000_000,
        ..SynthConfig::default()
    };
    // Two seconds of multiplex: SDT/EIT/TDT repeat, every table is seen at least twice.
    let input = synth::generate(&cfg, 40_000, 0);
    let mut demux = Demux::new(ClockConfig::default());
    for i in 0..8 {
        demux.set_channel(
            u32::from(i),
            ChannelSpec::new(synth::service_id(i), format!("C{i}")),
        );
    }
    let mut t = 0;
    let mut feed = |demux: &mut Demux| {
        for chunk in input.chunks(64 * 7 * 188) {
            demux.push(chunk, t);
            t += 2_000_000;
            demux.seal_due(t, 20_000_000, 100_000_000);
            let (_, channels) = demux.outputs();
            for (_, ch) in channels.iter_mut() {
                let n = ch.ring().len();
                ch.ring_mut().pop_front(n);
            }
        }
    };
    feed(&mut demux); // warm-up
    COUNTING.store(true, Ordering::Relaxed);
    feed(&mut demux);
    COUNTING.store(false, Ordering::Relaxed);
    // The TDT changes every second and is parsed (no allocation); everything else repeats.
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations on the hot path"
    );
}
