//! Segmenting allocates per segment (its bytes are copied out once), never per packet:
//! after a warm-up, a long run of the demo channel allocates a few times per segment only.

// A global allocator is the only way to observe allocations; this test file is the one
// place in the crate that needs `unsafe`.
#![allow(unsafe_code)]

mod common;

use dvbgate_hls::{Segmenter, SegmenterConfig, Window, WindowConfig};
use dvbgate_ts::{PACKET_SIZE, RawPacket};
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
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from this allocator (hence `System`) with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn segmenting_allocates_per_segment_not_per_packet() {
    let mux = std::fs::read(common::demo_mux_path()).expect("the bundled demo multiplex");
    let spts = common::spts(&mux, 101, Vec::new(), 3);
    let packets: Vec<RawPacket> = spts
        .chunks_exact(PACKET_SIZE)
        .map(|p| p.try_into().unwrap())
        .collect();
    let (warm, measured) = packets.split_at(packets.len() / 3);
    let mut seg = Segmenter::new(SegmenterConfig::default(), 0).unwrap();
    let mut window = Window::new(WindowConfig::default()).unwrap();
    let mut evicted = Vec::with_capacity(64);
    for (i, p) in warm.iter().enumerate() {
        if let Some(s) = seg.push(p, i as i64) {
            evicted.extend(window.push(s).unwrap());
        }
    }
    let before = seg.stats().segments;
    COUNTING.store(true, Ordering::Relaxed);
    for (i, p) in measured.iter().enumerate() {
        if let Some(s) = seg.push(p, i as i64) {
            evicted.extend(window.push(s).unwrap());
        }
    }
    COUNTING.store(false, Ordering::Relaxed);
    let segments = seg.stats().segments - before;
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(segments >= 5, "{segments} segments");
    // Per segment: its bytes, the buffer of the next one (and a regrowth or two when it
    // outgrows the last by a quarter), and the window's list of evicted segments.
    assert!(
        allocations <= 5 * segments,
        "{allocations} allocations for {segments} segments and {} packets",
        measured.len()
    );
}
