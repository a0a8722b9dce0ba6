//! Arbitrary bytes through packet sync, section reassembly, every table parser, the
//! multiplex model, the remuxer and the analyzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dvbgate_remux::fuzzing::remux(data);
});
