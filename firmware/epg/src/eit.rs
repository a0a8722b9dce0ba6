//! One EIT event's descriptors turned into an [`Event`].
//!
//! An EIT event is a fixed header (event id, start, duration, running status) followed by a
//! descriptor loop. What a guide shows comes from four descriptors (EN 300 468 §6.2):
//! - short event (0x4D): language, title and a one-line text. A broadcaster may send one per
//!   language; we keep the first, which is the broadcaster's main language.
//! - extended event (0x4E): the long description, cut into numbered descriptors of at most
//!   255 bytes each (`descriptor_number` / `last_descriptor_number`), per language, with
//!   optional "items" (name/value pairs such as "Director" / "…").
//! - content (0x54): genre as two nibbles (table 29).
//! - parental rating (0x55): per country, a minimum age.

use crate::event::{Event, Rating};
use dvbgate_ts::descriptor::{Descriptors, tag};
use dvbgate_ts::tables::eit;
use dvbgate_ts::text::{self, Charset};

/// Most genres kept per event: the descriptor allows 127 pairs, a guide shows one or two.
const MAX_GENRES: usize = 8;
/// Most ratings kept per event (one per country; a multi-country satellite feed sends a few).
const MAX_RATINGS: usize = 8;

/// How text is decoded and how long it may be.
#[derive(Clone, Copy, Debug)]
pub struct TextRules {
    /// Table for text without a selector byte, and whether it overrides selectors.
    pub charset: Charset,
    pub force: bool,
    pub max_title_bytes: usize,
    pub max_text_bytes: usize,
}

/// The guide's view of one EIT event, or None when its start or duration is undefined (a
/// "to be announced" slot that cannot be placed on a timeline). `time_offset` is added to
/// the start.
pub fn decode_event(ev: &eit::Event<'_>, rules: &TextRules, time_offset: i64) -> Option<Event> {
    let start = ev.start?.checked_add(time_offset)?;
    let duration = ev.duration?;
    let decode = |bytes: &[u8], max: usize| {
        let mut s = text::decode_with(bytes, rules.charset, rules.force);
        trim(&mut s);
        cut(&mut s, max);
        s
    };

    let short = ev.short_event();
    let (title, short_text) = match &short {
        Some(se) => (
            decode(se.name, rules.max_title_bytes),
            decode(se.text, rules.max_text_bytes),
        ),
        None => (String::new(), String::new()),
    };
    // The language the extended text must match; without a short event, the first
    // extended event descriptor's language.
    let language: Option<[u8; 3]> = short.map(|s| s.language).or_else(|| {
        Descriptors::new(ev.descriptors)
            .filter(|d| d.tag == tag::EXTENDED_EVENT)
            .find_map(|d| extended(d.payload).map(|x| x.language))
    });
    let description = match language {
        Some(lang) => {
            let mut d = extended_text(ev.descriptors, &lang, rules);
            trim(&mut d);
            cut(&mut d, rules.max_text_bytes);
            d
        }
        None => String::new(),
    };

    let mut genres = Vec::new();
    let mut ratings = Vec::new();
    for d in Descriptors::new(ev.descriptors) {
        match d.tag {
            tag::CONTENT => {
                for pair in d.payload.chunks_exact(2) {
                    if genres.len() < MAX_GENRES && !genres.contains(&pair[0]) {
                        genres.push(pair[0]);
                    }
                }
            }
            tag::PARENTAL_RATING => {
                for r in d.payload.chunks_exact(4) {
                    // 0x01..=0x0F: minimum age = rating + 3 (table 27); 0 is "undefined"
                    // and 0x10.. are the broadcaster's own, meaningless to an app.
                    let rating = r[3];
                    if !(0x01..=0x0F).contains(&rating) || ratings.len() >= MAX_RATINGS {
                        continue;
                    }
                    let country: String = r[..3]
                        .iter()
                        .filter(|b| b.is_ascii_alphanumeric())
                        .map(|b| char::from(b.to_ascii_uppercase()))
                        .collect();
                    ratings.push(Rating {
                        country,
                        min_age: rating + 3,
                    });
                }
            }
            _ => {}
        }
    }

    let mut title = title;
    let mut short_text = short_text;
    let mut description = description;
    title.shrink_to_fit();
    short_text.shrink_to_fit();
    description.shrink_to_fit();
    genres.shrink_to_fit();
    ratings.shrink_to_fit();
    Some(Event {
        event_id: ev.event_id,
        start,
        duration,
        title,
        short_text,
        description,
        language: language.map(language_code).unwrap_or_default(),
        genres,
        ratings,
        running_status: ev.running_status,
        episode: String::new(),
    })
}

/// An ISO 639-2 code as sent, lower-cased; anything that is not three letters gives "".
fn language_code(code: [u8; 3]) -> String {
    if code.iter().all(u8::is_ascii_alphabetic) {
        code.iter()
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect()
    } else {
        String::new()
    }
}

/// Removes leading and trailing white space in place: broadcasters pad titles and start
/// texts with a CR/LF control code.
fn trim(s: &mut String) {
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    s.drain(..start);
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub(crate) fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// An extended event descriptor's fields, borrowed.
struct Extended<'a> {
    number: u8,
    language: [u8; 3],
    items: &'a [u8],
    text: &'a [u8],
}

fn extended(p: &[u8]) -> Option<Extended<'_>> {
    let number = *p.first()? >> 4;
    let language = p.get(1..4)?.try_into().ok()?;
    let items_len = usize::from(*p.get(4)?);
    let items = p.get(5..5 + items_len)?;
    let text_len = usize::from(*p.get(5 + items_len)?);
    let text = p.get(6 + items_len..6 + items_len + text_len)?;
    Some(Extended {
        number,
        language,
        items,
        text,
    })
}

/// The selector bytes (EN 300 468 table A.3) a DVB string starts with, possibly none.
fn selector_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(0x10) => 3.min(bytes.len()),
        Some(0x1F) => 2.min(bytes.len()),
        Some(&b) if b < 0x20 => 1,
        _ => 0,
    }
}

/// The long description in `lang`: the items as "name: value" lines, then the text.
///
/// The text is one string cut into pieces, so the pieces are joined *before* decoding: a
/// multi-byte character (UTF-8, UCS-2, or an ISO 6937 diacritic and its letter) may straddle
/// two descriptors. Encoders repeat the selector in each piece, or send it only in the
/// first; a repeated identical selector is dropped, a different one starts a new string.
fn extended_text(descriptors: &[u8], lang: &[u8; 3], rules: &TextRules) -> String {
    let mut parts: Vec<Extended<'_>> = Descriptors::new(descriptors)
        .filter(|d| d.tag == tag::EXTENDED_EVENT)
        .filter_map(|d| extended(d.payload))
        .filter(|x| x.language.eq_ignore_ascii_case(lang))
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    // Stable: descriptors with the same number (a broadcaster's mistake) keep their order.
    parts.sort_by_key(|x| x.number);

    let decode = |b: &[u8]| text::decode_with(b, rules.charset, rules.force);
    let mut out = String::new();

    // Items: an empty name continues the previous item's value (encoders split long
    // values that way).
    let mut item_lines: Vec<(String, String)> = Vec::new();
    for x in &parts {
        let mut rest = x.items;
        while let Some((&dlen, r)) = rest.split_first() {
            let Some(name) = r.get(..usize::from(dlen)) else {
                break;
            };
            let r = &r[usize::from(dlen)..];
            let Some((&vlen, r)) = r.split_first() else {
                break;
            };
            let Some(value) = r.get(..usize::from(vlen)) else {
                break;
            };
            rest = &r[usize::from(vlen)..];
            let (name, value) = (decode(name), decode(value));
            match item_lines.last_mut() {
                Some(last) if name.is_empty() => last.1.push_str(&value),
                _ => item_lines.push((name, value)),
            }
        }
    }
    for (name, value) in &item_lines {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    }

    let mut raw: Vec<u8> = Vec::new();
    let mut selector: &[u8] = &[];
    for x in &parts {
        let sel = &x.text[..selector_len(x.text)];
        if raw.is_empty() {
            selector = sel;
            raw.extend_from_slice(x.text);
        } else if sel.is_empty() || sel == selector {
            raw.extend_from_slice(&x.text[sel.len()..]);
        } else {
            out.push_str(&decode(&raw));
            raw.clear();
            selector = sel;
            raw.extend_from_slice(x.text);
        }
    }
    if !raw.is_empty() {
        out.push_str(&decode(&raw));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An extended event descriptor (0x4E) with these items and text (already DVB-coded).
    pub(crate) fn extended_descriptor(
        number: u8,
        last: u8,
        lang: &[u8; 3],
        items: &[(&[u8], &[u8])],
        text: &[u8],
    ) -> Vec<u8> {
        let mut item_bytes = Vec::new();
        for (n, v) in items {
            item_bytes.push(n.len() as u8);
            item_bytes.extend_from_slice(n);
            item_bytes.push(v.len() as u8);
            item_bytes.extend_from_slice(v);
        }
        let mut p = vec![number << 4 | last];
        p.extend_from_slice(lang);
        p.push(item_bytes.len() as u8);
        p.extend_from_slice(&item_bytes);
        p.push(text.len() as u8);
        p.extend_from_slice(text);
        let mut d = vec![tag::EXTENDED_EVENT, p.len() as u8];
        d.extend_from_slice(&p);
        d
    }

    pub(crate) fn rules() -> TextRules {
        TextRules {
            charset: Charset::Iso6937,
            force: false,
            max_title_bytes: 256,
            max_text_bytes: 4096,
        }
    }

    fn event(descriptors: &[u8]) -> eit::Event<'_> {
        eit::Event {
            event_id: 9,
            start: Some(1_700_000_000),
            duration: Some(3600),
            running_status: 4,
            free_ca_mode: false,
            descriptors,
        }
    }

    #[test]
    fn joins_extended_descriptors_in_number_order_across_a_split_character() {
        // "Café crème" in UTF-8 (selector 0x15), split inside the two bytes of "é" and sent
        // out of order; the second piece repeats the selector.
        let utf8 = "Café crème".as_bytes();
        let split = 4; // between 0xC3 and 0xA9
        let mut first = vec![0x15];
        first.extend_from_slice(&utf8[..split]);
        let mut second = vec![0x15];
        second.extend_from_slice(&utf8[split..]);
        let mut d = eit::short_event_descriptor(b"fre", "Titre", "");
        d.extend(extended_descriptor(1, 1, b"fre", &[], &second));
        d.extend(extended_descriptor(0, 1, b"fre", &[], &first));
        // Another language's text is not mixed in.
        d.extend(extended_descriptor(0, 0, b"eng", &[], b"Coffee"));
        let e = decode_event(&event(&d), &rules(), 0).unwrap();
        assert_eq!(e.title, "Titre");
        assert_eq!(e.description, "Café crème");
        assert_eq!(e.language, "fre");
    }

    #[test]
    fn items_come_first_and_an_empty_name_continues_a_value() {
        let mut d = eit::short_event_descriptor(b"eng", "Film", "");
        d.extend(extended_descriptor(
            0,
            1,
            b"eng",
            &[(b"Director", b"A. Smith"), (b"Cast", b"B. Jones, ")],
            b"A story",
        ));
        d.extend(extended_descriptor(
            1,
            1,
            b"eng",
            &[(b"", b"C. Brown")],
            b" of two cities.",
        ));
        let e = decode_event(&event(&d), &rules(), 0).unwrap();
        assert_eq!(
            e.description,
            "Director: A. Smith\nCast: B. Jones, C. Brown\nA story of two cities."
        );
    }

    #[test]
    fn content_and_parental_rating() {
        let mut d = eit::short_event_descriptor(b"fre", "Match", "");
        d.extend(eit::content_descriptor(0x43));
        // Two countries; one with a broadcaster-defined value (0x11) that is skipped, and
        // one "undefined" (0).
        d.extend([tag::PARENTAL_RATING, 12]);
        d.extend(b"FRA\x09gbr\x11esp\x00");
        let e = decode_event(&event(&d), &rules(), 0).unwrap();
        assert_eq!(e.genres, vec![0x43]);
        assert_eq!(
            e.ratings,
            vec![Rating {
                country: "FRA".into(),
                min_age: 12
            }]
        );
    }

    #[test]
    fn undefined_times_are_skipped_and_offset_applies() {
        let d = eit::short_event_descriptor(b"eng", "X", "");
        let mut ev = event(&d);
        assert_eq!(
            decode_event(&ev, &rules(), 100).unwrap().start,
            1_700_000_100
        );
        ev.start = None;
        assert!(decode_event(&ev, &rules(), 0).is_none());
        ev.start = Some(1);
        ev.duration = None;
        assert!(decode_event(&ev, &rules(), 0).is_none());
    }

    #[test]
    fn texts_are_cut_at_character_boundaries() {
        let d = eit::short_event_descriptor(b"fre", "ééééé", "");
        let mut r = rules();
        r.max_title_bytes = 5; // "éé" is 4 bytes, a third would straddle the limit
        let e = decode_event(&event(&d), &r, 0).unwrap();
        assert_eq!(e.title, "éé");
    }

    #[test]
    fn malformed_descriptors_do_not_panic() {
        for bytes in [
            &[tag::EXTENDED_EVENT, 3, 0x01, b'f', b'r'][..],
            &[tag::EXTENDED_EVENT, 6, 0x00, b'f', b'r', b'e', 9, 1][..],
            &[tag::SHORT_EVENT, 5, b'f', b'r', b'e', 200, 0][..],
            &[tag::CONTENT, 3, 0x10, 0, 0x20][..],
            &[tag::PARENTAL_RATING, 3, b'F', b'R', b'A'][..],
        ] {
            let e = decode_event(&event(bytes), &rules(), 0).unwrap();
            assert!(e.description.is_empty());
        }
    }
}
