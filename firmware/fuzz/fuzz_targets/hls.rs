//! Arbitrary bytes as transport stream packets through the HLS segmenter and its live
//! window, playlists rendered.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dvbgate_hls::fuzzing::hls(data);
});
