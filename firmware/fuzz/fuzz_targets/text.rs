//! Arbitrary bytes as DVB text, under every charset override.
#![no_main]

use dvbgate_ts::text::{self, Charset};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = text::decode(data);
    for charset in [Charset::Iso6937, Charset::Iso8859(9), Charset::Utf8, Charset::Ucs2] {
        let _ = text::decode_with(data, charset, true);
        let _ = text::decode_with(data, charset, false);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let encoded = text::encode(s);
        let _ = text::decode(&encoded);
    }
});
