//! Arbitrary bytes into the guide: as an EIT section (length and table id patched so most
//! inputs reach the event and descriptor parsers), as a snapshot, and as XMLTV. Nothing may
//! panic, and what the guide holds must survive its own snapshot and XMLTV round trips.
#![no_main]

use dvbgate_epg::xmltv::{self, XmltvChannel};
use dvbgate_epg::{Epg, EpgLimits, IngestOptions};
use dvbgate_ts::section::Section;
use dvbgate_ts::text::Charset;

const NOW: i64 = 1_700_000_000;

fn limits() -> EpgLimits {
    // A window wide enough that any EIT time (MJD 0..=65535) is kept.
    EpgLimits {
        ahead_seconds: i64::MAX / 4,
        behind_seconds: i64::MAX / 4,
        ..EpgLimits::default()
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = Epg::restore(data, EpgLimits::default(), NOW);
    let _ = xmltv::parse(data, 1000);

    if data.len() < 3 || data.len() > 4096 {
        return;
    }
    let mut bytes = data.to_vec();
    bytes[0] = 0x4E + bytes[0] % 0x22;
    let len = bytes.len() - 3;
    bytes[1] = 0x80 | (bytes[1] & 0x70) | (len >> 8) as u8;
    bytes[2] = len as u8;
    let Ok(section) = Section::new(&bytes) else {
        return;
    };
    let mut epg = Epg::new(limits());
    let _ = epg.ingest(&section, &IngestOptions::default(), NOW);
    // The same section again is a no-op; forced Latin-1 reads every string differently.
    let _ = epg.ingest(&section, &IngestOptions::default(), NOW);
    let latin1 = IngestOptions {
        charset: Some((Charset::Iso8859(1), true)),
        time_offset: -3600,
    };
    let mut other = Epg::new(limits());
    let _ = other.ingest(&section, &latin1, NOW);

    let back = Epg::restore(&epg.snapshot(), limits(), NOW).expect("own snapshot");
    for key in epg.services() {
        assert_eq!(back.events(&key), epg.events(&key));
        let _ = epg.between(&key, NOW, NOW + 86_400);
        let channel = [XmltvChannel {
            id: "x",
            display_name: "x",
            number: Some(1),
            icon: None,
        }];
        let mut out = String::new();
        xmltv::write(&mut out, "fuzz", &channel, |_| {
            epg.events(&key).iter().collect()
        });
        let doc = xmltv::parse(out.as_bytes(), 10_000).expect("own XMLTV");
        assert_eq!(doc.programmes.len(), epg.events(&key).len());
    }
    epg.expire(NOW);
    let _ = epg.stats();
});
