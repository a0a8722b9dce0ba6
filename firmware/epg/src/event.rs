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
///
/// Names follow ETSI EN 300 468 V1.16.1 §6.2.9, table 29 "Content_nibble level 1 and 2
/// assignments", capitalised as XMLTV categories usually are. A level-2 value of 0 is the
/// "(general)" entry of its level 1, which is the level-1 name itself. Level 1 0x0
/// ("undefined content"), 0xC–0xE (reserved) and 0xF (user defined) name nothing, nor do
/// the unassigned values of 0xB: they tell an app nothing it could filter on.
pub fn genre_name(nibbles: u8) -> Option<&'static str> {
    let level1 = nibbles >> 4;
    let level2 = usize::from(nibbles & 0x0F);
    let (general, specific): (&'static str, &[&'static str]) = match level1 {
        0x1 => (
            "Movie/Drama",
            &[
                "Detective/Thriller",
                "Adventure/Western/War",
                "Science fiction/Fantasy/Horror",
                "Comedy",
                "Soap/Melodrama/Folkloric",
                "Romance",
                "Serious/Classical/Religious/Historical movie/Drama",
                "Adult movie/Drama",
            ],
        ),
        0x2 => (
            "News/Current affairs",
            &[
                "News/Weather report",
                "News magazine",
                "Documentary",
                "Discussion/Interview/Debate",
            ],
        ),
        0x3 => (
            "Show/Game show",
            &["Game show/Quiz/Contest", "Variety show", "Talk show"],
        ),
        0x4 => (
            "Sports",
            &[
                "Special events (Olympic Games, World Cup, etc.)",
                "Sports magazines",
                "Football/Soccer",
                "Tennis/Squash",
                "Team sports (excluding football)",
                "Athletics",
                "Motor sport",
                "Water sport",
                "Winter sports",
                "Equestrian",
                "Martial sports",
            ],
        ),
        0x5 => (
            "Children's/Youth programmes",
            &[
                "Pre-school children's programmes",
                "Entertainment programmes for 6 to 14",
                "Entertainment programmes for 10 to 16",
                "Informational/Educational/School programmes",
                "Cartoons/Puppets",
            ],
        ),
        0x6 => (
            "Music/Ballet/Dance",
            &[
                "Rock/Pop",
                "Serious music/Classical music",
                "Folk/Traditional music",
                "Jazz",
                "Musical/Opera",
                "Ballet",
            ],
        ),
        0x7 => (
            "Arts/Culture (without music)",
            &[
                "Performing arts",
                "Fine arts",
                "Religion",
                "Popular culture/Traditional arts",
                "Literature",
                "Film/Cinema",
                "Experimental film/Video",
                "Broadcasting/Press",
                "New media",
                "Arts/Culture magazines",
                "Fashion",
            ],
        ),
        0x8 => (
            "Social/Political issues/Economics",
            &[
                "Magazines/Reports/Documentary",
                "Economics/Social advisory",
                "Remarkable people",
            ],
        ),
        0x9 => (
            "Education/Science/Factual topics",
            &[
                "Nature/Animals/Environment",
                "Technology/Natural sciences",
                "Medicine/Physiology/Psychology",
                "Foreign countries/Expeditions",
                "Social/Spiritual sciences",
                "Further education",
                "Languages",
            ],
        ),
        0xA => (
            "Leisure hobbies",
            &[
                "Tourism/Travel",
                "Handicraft",
                "Motoring",
                "Fitness and health",
                "Cooking",
                "Advertisement/Shopping",
                "Gardening",
            ],
        ),
        // Level 1 0xB ("special characteristics") is not a genre but a flag, with no
        // "(general)" entry (0xB0 is "original language"): an unassigned or user-defined
        // level 2 (CANAL+ tags every event 0xBF) says nothing.
        0xB => {
            return match level2 {
                0x0 => Some("Original language"),
                0x1 => Some("Black and white"),
                0x2 => Some("Unpublished"),
                0x3 => Some("Live broadcast"),
                0x4 => Some("Plano-stereoscopic"),
                0x5 => Some("Local or regional"),
                _ => None,
            };
        }
        _ => return None,
    };
    Some(match level2 {
        0 => general,
        n => specific.get(n - 1).copied().unwrap_or(general),
    })
}

/// The content nibbles whose [`genre_name`] is `name` (exactly), for reading categories back
/// from XMLTV; the general entry wins over a specific one of the same name.
pub fn genre_by_name(name: &str) -> Option<u8> {
    (0x10..=0xBF_u8).find(|&n| genre_name(n) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genre_names_follow_table_29() {
        assert_eq!(genre_name(0x10), Some("Movie/Drama"));
        assert_eq!(genre_name(0x14), Some("Comedy"));
        assert_eq!(genre_name(0x23), Some("Documentary"));
        assert_eq!(genre_name(0x43), Some("Football/Soccer"));
        assert_eq!(genre_name(0x4B), Some("Martial sports"));
        assert_eq!(genre_name(0x55), Some("Cartoons/Puppets"));
        assert_eq!(genre_name(0x7B), Some("Fashion"));
        assert_eq!(genre_name(0xA7), Some("Gardening"));
        assert_eq!(genre_name(0xB3), Some("Live broadcast"));
        // Unassigned level 2: the level-1 name.
        assert_eq!(genre_name(0x19), Some("Movie/Drama"));
        assert_eq!(genre_name(0x4C), Some("Sports"));
        assert_eq!(genre_name(0x2F), Some("News/Current affairs"));
        // Undefined, reserved and user-defined level 1; unassigned special characteristics.
        for n in (0x00..=0x0F).chain(0xB6..=0xBF).chain(0xC0..=0xFF) {
            assert_eq!(genre_name(n), None, "{n:#04x}");
        }
    }

    #[test]
    fn specific_genre_names_are_unique_so_xmltv_reads_them_back() {
        let mut seen = std::collections::HashMap::new();
        for n in 0x10..=0xBF_u8 {
            let Some(name) = genre_name(n) else { continue };
            // Only the entries a writer produces for a specific nibble must map back to it.
            let level2_assigned = n & 0x0F == 0 || genre_name(n) != genre_name(n | 0x0F);
            if level2_assigned {
                assert_eq!(seen.insert(name, n), None, "{name} twice");
                assert_eq!(genre_by_name(name), Some(n));
            }
        }
        assert_eq!(genre_by_name("movie/drama"), None, "exact match only");
    }
}
