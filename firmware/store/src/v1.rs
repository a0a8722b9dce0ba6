//! Test support: writes a schema-v1 database the way dvbgate's first layout stored
//! it, with raw sled inserts of v1-shaped JSON. It produced the frozen fixture
//! `tests/fixtures/v1-store.tar.gz` once; the tests migrate that fixture, never a
//! freshly written sample alone, because the fixture stands for databases in the
//! field (written by the old code and the old sled, not by today's idea of them).
//!
//! The sample has what the v1→v2 step must handle: settings without the v2 fields,
//! inputs without `auto_channels` (one udp, one file, one rtp), channels whose
//! output is a URL (udp, rtp, IPv6, unicast), one channel repeating another's
//! address and one repeating another's number.

use std::path::Path;

use crate::error::StoreError;

/// Meta counters of the sample.
pub const NEXT_INPUT_ID: u32 = 4;
/// Meta counters of the sample.
pub const NEXT_CHANNEL_ID: u32 = 8;

/// The v1 settings JSON of the sample.
pub const SETTINGS: &str =
    r#"{"multicast_interface":"eth0","pool":"239.255.1.0/24","base_port":5000,"ttl":4}"#;

/// The v1 inputs of the sample: (id, JSON).
pub const INPUTS: [(u32, &str); 3] = [
    (
        1,
        r#"{"id":1,"name":"Astra 19.2E 11494H","url":"udp://@239.1.1.1:1234","enabled":true}"#,
    ),
    (
        2,
        r#"{"id":2,"name":"Hotel info loop","url":"file:///data/mux.ts","enabled":true}"#,
    ),
    (
        3,
        r#"{"id":3,"name":"Backup headend","url":"rtp://10.0.0.1@232.1.1.1:5000?iface=eth1","enabled":false}"#,
    ),
];

/// The v1 channels of the sample: (id, JSON). Channel 6 repeats channel 2's address,
/// channel 7 repeats channel 3's number.
pub const CHANNELS: [(u32, &str); 7] = [
    (
        1,
        r#"{"id":1,"input_id":1,"service_id":28106,"number":1,"name":"Das Erste HD","enabled":true,"output":"udp://239.255.1.1:5000"}"#,
    ),
    (
        2,
        r#"{"id":2,"input_id":1,"service_id":28006,"number":2,"name":"ZDF HD","enabled":true,"output":"udp://239.255.1.2:5000"}"#,
    ),
    (
        3,
        r#"{"id":3,"input_id":1,"service_id":28724,"number":3,"name":"arte HD","enabled":true,"output":"rtp://239.255.1.3:5000"}"#,
    ),
    (
        4,
        r#"{"id":4,"input_id":2,"service_id":1,"number":10,"name":"Hotel Info","enabled":true,"output":"udp://239.255.1.10:5000"}"#,
    ),
    (
        5,
        r#"{"id":5,"input_id":2,"service_id":2,"number":11,"name":"Lobby camera","enabled":false,"output":"udp://192.168.10.50:1234"}"#,
    ),
    (
        6,
        r#"{"id":6,"input_id":3,"service_id":28006,"number":12,"name":"ZDF HD (backup)","enabled":true,"output":"udp://239.255.1.2:5000"}"#,
    ),
    (
        7,
        r#"{"id":7,"input_id":3,"service_id":28724,"number":3,"name":"arte HD (backup)","enabled":false,"output":"udp://[ff15::7]:5000"}"#,
    ),
];

/// Writes the sample v1 database into `dir` (which should not hold a database yet),
/// flushes it and closes it.
pub fn write_sample(dir: &Path) -> Result<(), StoreError> {
    let db = crate::sled_config(dir).open()?;
    let meta = db.open_tree("meta")?;
    meta.insert("schema_version", &1u32.to_be_bytes())?;
    meta.insert("next_input_id", &NEXT_INPUT_ID.to_be_bytes())?;
    meta.insert("next_channel_id", &NEXT_CHANNEL_ID.to_be_bytes())?;
    db.open_tree("settings")?.insert("settings", SETTINGS)?;
    let inputs = db.open_tree("inputs")?;
    for (id, json) in INPUTS {
        inputs.insert(id.to_be_bytes(), json)?;
    }
    let channels = db.open_tree("channels")?;
    for (id, json) in CHANNELS {
        channels.insert(id.to_be_bytes(), json)?;
    }
    db.flush()?;
    Ok(())
}
