//! One programme, as the guide keeps it.

use serde::{Deserialize, Serialize};

/// A DVB service, as EIT names it: original network, transport stream, service id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceKey {
    pub original_network_id: u16,
    pub transport_stream_id: u16,
    pub service_id: u16,
}

/// Parental rating from the parental rating descriptor (0x55).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// ISO 3166 alpha-3 country code as sent (e.g. "FRA", "GBR"), upper case.
    pub country: String,
    /// Minimum age in years (rating + 3 per EN 300 468 table 27).
    pub min_age: u8,
}

/// One programme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The broadcaster's event id (unique per service); for imported XMLTV, a stable id
    /// derived from the start time.
    pub event_id: u16,
    /// Unix seconds, UTC.
    pub start: i64,
    /// Seconds.
    pub duration: u32,
    /// Title (short event descriptor's event name), decoded to UTF-8.
    pub title: String,
    /// Short event descriptor's text (a one-line summary or the episode title); may be empty.
    pub short_text: String,
    /// Extended event descriptors' text, joined in order (items as "name: value" lines);
    /// may be empty.
    pub description: String,
    /// ISO 639-2 language of the title, lower case (e.g. "fre"), or empty.
    pub language: String,
    /// Content descriptor nibbles, level 1 in the high nibble (EN 300 468 table 29).
    pub genres: Vec<u8>,
    /// Parental ratings, one per country sent.
    pub ratings: Vec<Rating>,
    /// Running status (0 undefined, 1 not running, 2 starts in a few seconds, 3 pausing,
    /// 4 running).
    pub running_status: u8,
    /// Episode numbering where the broadcast gives it (XMLTV "xmltv_ns" form, e.g. "2.4."),
    /// else empty.
    pub episode: String,
}

impl Event {
    /// End time, Unix seconds.
    pub fn end(&self) -> i64 {
        self.start + i64::from(self.duration)
    }
}

/// English name of a content nibble pair (EN 300 468 table 29), e.g. 0x10 → "Movie/Drama";
/// the level-1 name when the level-2 value is unassigned; None for reserved/user-defined.
pub fn genre_name(nibbles: u8) -> Option<&'static str> {
    let _ = nibbles;
    todo!("table 29")
}
