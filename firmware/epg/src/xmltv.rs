//! XMLTV (<http://wiki.xmltv.org/index.php/XMLTVFormat>, the DTD in Debian's xmltv-util):
//! the guide written for apps (`xmltv.php`, `/epg.xml`), and read from a file or URL for
//! channels whose broadcaster sends no EIT.
//!
//! An XMLTV document is `<tv>` holding every `<channel>` first, then every `<programme>`;
//! a programme names its channel by id and carries local text (title, sub-title, desc,
//! categories…) in the order the DTD fixes. Times are "YYYYMMDDhhmmss ±hhmm".

use crate::event::{Event, Rating, genre_by_name, genre_name};
use quick_xml::events::Event as XmlEvent;
use quick_xml::reader::Reader;
use std::borrow::Cow;

/// A `<channel>` to write.
#[derive(Clone, Debug)]
pub struct XmltvChannel<'a> {
    /// The id programmes refer to; the same string as the M3U `tvg-id` and XC
    /// `epg_channel_id`.
    pub id: &'a str,
    pub display_name: &'a str,
    /// Channel number, written as a second display-name (as tv_grab_* do).
    pub number: Option<u16>,
    pub icon: Option<&'a str>,
}

/// Writes a complete XMLTV document: `<tv generator-info-name=…>`, every channel, then
/// for each channel its programmes (start/stop as "YYYYMMDDhhmmss +0000"; title, sub-title
/// from the short text when a description also exists, desc, categories from the genres,
/// episode-num, rating). Text is escaped; control characters that XML 1.0 forbids are
/// dropped.
///
/// Only appends to `out` (reserve it for big guides): no allocation per programme.
pub fn write<'a>(
    out: &mut String,
    generator: &str,
    channels: &[XmltvChannel<'a>],
    programmes: impl Fn(&str) -> Vec<&'a Event>,
) {
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n");
    out.push_str("<tv generator-info-name=\"");
    escape_into(out, generator);
    out.push_str("\">\n");
    for c in channels {
        out.push_str("  <channel id=\"");
        escape_into(out, c.id);
        out.push_str("\">\n    <display-name>");
        escape_into(out, c.display_name);
        out.push_str("</display-name>\n");
        if let Some(n) = c.number {
            out.push_str("    <display-name>");
            push_u32(out, u32::from(n));
            out.push_str("</display-name>\n");
        }
        if let Some(icon) = c.icon {
            out.push_str("    <icon src=\"");
            escape_into(out, icon);
            out.push_str("\"/>\n");
        }
        out.push_str("  </channel>\n");
    }
    for c in channels {
        for e in programmes(c.id) {
            write_programme(out, c.id, e);
        }
    }
    out.push_str("</tv>\n");
}

fn write_programme(out: &mut String, channel: &str, e: &Event) {
    out.push_str("  <programme start=\"");
    push_time(out, e.start);
    out.push_str("\" stop=\"");
    push_time(out, e.end());
    out.push_str("\" channel=\"");
    escape_into(out, channel);
    out.push_str("\">\n");
    let lang = xmltv_lang(&e.language);
    // Element order is the DTD's: title, sub-title, desc, …, category, …, episode-num, …,
    // rating.
    text_element(out, "title", lang, &e.title);
    let (sub_title, desc) = if e.description.is_empty() {
        ("", e.short_text.as_str())
    } else {
        (e.short_text.as_str(), e.description.as_str())
    };
    if !sub_title.is_empty() {
        text_element(out, "sub-title", lang, sub_title);
    }
    if !desc.is_empty() {
        text_element(out, "desc", lang, desc);
    }
    for (i, &g) in e.genres.iter().enumerate() {
        let Some(name) = genre_name(g) else { continue };
        // Two nibble pairs may share a name (a specific and an unassigned one).
        if e.genres[..i].iter().any(|&p| genre_name(p) == Some(name)) {
            continue;
        }
        text_element(out, "category", "en", name);
    }
    if !e.episode.is_empty() {
        out.push_str("    <episode-num system=\"xmltv_ns\">");
        escape_into(out, &e.episode);
        out.push_str("</episode-num>\n");
    }
    for r in &e.ratings {
        out.push_str("    <rating system=\"");
        escape_into(out, &r.country);
        out.push_str("\"><value>");
        push_u32(out, u32::from(r.min_age));
        out.push_str("</value></rating>\n");
    }
    out.push_str("  </programme>\n");
}

fn text_element(out: &mut String, name: &str, lang: &str, text: &str) {
    out.push_str("    <");
    out.push_str(name);
    if !lang.is_empty() {
        out.push_str(" lang=\"");
        escape_into(out, lang);
        out.push('"');
    }
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// ISO 639-2 (B and T forms) to the ISO 639-1 code apps expect in `lang`, for the
/// languages European broadcasters send. The first entry of a language is its B form,
/// which is what [`iso639_2`] gives back.
const LANGUAGES: &[(&str, &str)] = &[
    ("fre", "fr"),
    ("fra", "fr"),
    ("ger", "de"),
    ("deu", "de"),
    ("eng", "en"),
    ("ita", "it"),
    ("spa", "es"),
    ("por", "pt"),
    ("dut", "nl"),
    ("nld", "nl"),
    ("pol", "pl"),
    ("tur", "tr"),
    ("ara", "ar"),
    ("gre", "el"),
    ("ell", "el"),
    ("rus", "ru"),
    ("swe", "sv"),
    ("dan", "da"),
    ("nor", "no"),
    ("fin", "fi"),
    ("cze", "cs"),
    ("ces", "cs"),
    ("hun", "hu"),
    ("rum", "ro"),
    ("ron", "ro"),
    ("slo", "sk"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("hrv", "hr"),
    ("srp", "sr"),
    ("bul", "bg"),
    ("ukr", "uk"),
    ("heb", "he"),
    ("chi", "zh"),
    ("zho", "zh"),
    ("jpn", "ja"),
    ("kor", "ko"),
    ("cat", "ca"),
    ("baq", "eu"),
    ("eus", "eu"),
    ("glg", "gl"),
    ("wel", "cy"),
    ("cym", "cy"),
    ("gle", "ga"),
    ("ice", "is"),
    ("isl", "is"),
    ("est", "et"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("alb", "sq"),
    ("sqi", "sq"),
    ("mac", "mk"),
    ("mkd", "mk"),
    ("per", "fa"),
    ("fas", "fa"),
    ("hin", "hi"),
];

/// The `lang` attribute for an event's language: the 2-letter code where one maps, else
/// the code as it is ("" for none).
pub fn xmltv_lang(iso639_2: &str) -> &str {
    LANGUAGES
        .iter()
        .find(|(three, _)| *three == iso639_2)
        .map_or(iso639_2, |(_, two)| two)
}

/// The reverse of [`xmltv_lang`]: a `lang` attribute to the ISO 639-2 code events carry.
/// Region subtags ("fr-CA") are dropped; unknown codes are kept, lower-cased.
pub fn iso639_2(lang: &str) -> String {
    let primary = lang.split(['-', '_']).next().unwrap_or("").trim();
    let primary = primary.to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(_, two)| *two == primary)
        .map_or(primary, |(three, _)| (*three).to_owned())
}

/// Appends `s` escaped for XML text and attribute values, dropping what XML 1.0 forbids:
/// C0 controls other than tab, LF and CR, and U+FFFE/U+FFFF (EN 300 468 text may carry
/// any of them). Runs without special characters are copied whole.
pub fn escape_into(out: &mut String, s: &str) {
    /// Bytes that need a look: markup characters, C0 controls (tab, LF and CR included,
    /// then let through) and 0xEF, the lead byte of U+FFFE/U+FFFF.
    const SPECIAL: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 0x20 {
            t[b] = true;
            b += 1;
        }
        t[b'&' as usize] = true;
        t[b'<' as usize] = true;
        t[b'>' as usize] = true;
        t[b'"' as usize] = true;
        t[b'\'' as usize] = true;
        t[0xEF] = true;
        t
    };
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        // The fast path: most text has nothing to escape.
        while i < bytes.len() && !SPECIAL[usize::from(bytes[i])] {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else { break };
        let (replacement, len): (&str, usize) = match b {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            0x00..=0x1F => ("", 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
            {
                ("", 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        // Every special sequence starts on a character boundary (ASCII or a lead byte).
        out.push_str(&s[run..i]);
        out.push_str(replacement);
        i += len;
        run = i;
    }
    out.push_str(&s[run..]);
}

fn push_u32(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in digits[..len].iter().rev() {
        out.push(char::from(d));
    }
}

fn push_digits(out: &mut String, n: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = n.unsigned_abs();
    let mut len = 0;
    while v > 0 && len < digits.len() {
        digits[len] = b'0' + (v % 10) as u8;
        v /= 10;
        len += 1;
    }
    for &d in digits[..len.max(width)].iter().rev() {
        out.push(char::from(d));
    }
}

/// "YYYYMMDDhhmmss +0000" for a Unix time.
fn push_time(out: &mut String, unix: i64) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if y < 0 {
        // Not a broadcast date; keep the field well-formed rather than emit a sign.
        out.push_str("00000101000000 +0000");
        return;
    }
    push_digits(out, y, 4);
    push_digits(out, m, 2);
    push_digits(out, d, 2);
    push_digits(out, secs / 3600, 2);
    push_digits(out, secs / 60 % 60, 2);
    push_digits(out, secs % 60, 2);
    out.push_str(" +0000");
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of the above).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads an XMLTV time: "YYYYMMDDhhmmss ±hhmm", or shorter forms the DTD allows
/// (without seconds, without minutes…) and without a zone (then UTC, which is what
/// grabbers that omit it mean in practice).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (stamp, zone) = match s.split_once(' ') {
        Some((a, b)) => (a, b.trim()),
        None => match s.find(['+', '-']) {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        },
    };
    if !stamp.bytes().all(|b| b.is_ascii_digit()) || ![8, 10, 12, 14].contains(&stamp.len()) {
        return None;
    }
    let field = |from: usize, to: usize| -> i64 {
        stamp
            .get(from..to)
            .and_then(|f| f.parse().ok())
            .unwrap_or(0)
    };
    let (y, mo, d) = (field(0, 4), field(4, 6), field(6, 8));
    let (h, mi, sec) = (field(8, 10), field(10, 12), field(12, 14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let offset = match zone {
        "" | "Z" | "UTC" | "GMT" => 0,
        z => {
            let (sign, digits) = match z.as_bytes().first() {
                Some(b'+') => (1, &z[1..]),
                Some(b'-') => (-1, &z[1..]),
                _ => return None,
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hh: i64 = digits[..2].parse().ok()?;
            let mm: i64 = digits[2..].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// What an XMLTV document holds.
#[derive(Clone, Debug, Default)]
pub struct XmltvDocument {
    /// (id, display names).
    pub channels: Vec<(String, Vec<String>)>,
    /// (channel id, programme).
    pub programmes: Vec<(String, Event)>,
}

#[derive(Debug, thiserror::Error)]
pub enum XmltvError {
    #[error("XMLTV is not well-formed at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("XMLTV programme {index}: {message}")]
    Programme { index: usize, message: String },
    #[error("XMLTV document too large: more than {0} programmes")]
    TooLarge(usize),
}

/// The event id of an imported programme: its start in minutes, wrapped to 16 bits.
/// Stable across re-imports of the same guide (so a client's reminder survives a refresh)
/// and unique per channel as long as no two programmes of a channel start in the same
/// minute within 65 536 minutes (45 days), far more than a guide holds.
pub fn event_id_for_start(start: i64) -> u16 {
    start.div_euclid(60) as u16
}

/// The element whose text is being collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    DisplayName,
    Title,
    SubTitle,
    Desc,
    Category,
    Episode,
    RatingValue,
}

/// A programme being read.
struct Programme {
    /// Its position among the document's programmes, for error messages.
    index: usize,
    channel: String,
    start: Option<i64>,
    stop: Option<i64>,
    /// A stop attribute was there but unreadable, which spoils the programme.
    stop_bad: bool,
    event: Event,
    rating_system: String,
}

/// Text of a document as UTF-8: XMLTV is UTF-8 in practice, but older grabbers declare
/// and write ISO-8859-1, which is transcoded here (each byte is its code point).
fn document_text(bytes: &[u8]) -> Result<Cow<'_, str>, XmltvError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(200)];
    let declared = head
        .windows(9)
        .position(|w| w.eq_ignore_ascii_case(b"encoding="))
        .and_then(|i| head.get(i + 10..))
        .map(|rest| {
            let end = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\'')
                .unwrap_or(rest.len());
            rest[..end].to_ascii_lowercase()
        });
    if let Some(enc) = declared
        && matches!(
            enc.as_slice(),
            b"iso-8859-1" | b"iso8859-1" | b"latin1" | b"latin-1" | b"iso-8859-15"
        )
    {
        return Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()));
    }
    std::str::from_utf8(bytes)
        .map(Cow::Borrowed)
        .map_err(|e| XmltvError::Syntax {
            position: e.valid_up_to() as u64,
            message: "not UTF-8 (and no ISO-8859-1 declaration)".into(),
        })
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(Cow::into_owned)
        })
}

/// Reads an XMLTV document. Programmes with an unreadable start or stop are skipped and
/// counted in the error only if none is readable; at most `max_programmes` are read.
///
/// What is kept of a programme: the first title (and its `lang`, as the event's language),
/// the first sub-title (as the short text) and desc, the categories that are exactly one
/// of [`genre_name`]'s names (free-text categories mean nothing to a DVB genre filter),
/// an `xmltv_ns` episode-num, and ratings whose value is a number (an age). A programme
/// without a stop ends where the channel's next one starts (0 length if it is the last).
/// The event id is [`event_id_for_start`]. Syntax error positions are byte offsets in the
/// UTF-8 text (the same as the input unless it was ISO-8859-1).
pub fn parse(bytes: &[u8], max_programmes: usize) -> Result<XmltvDocument, XmltvError> {
    let text = document_text(bytes)?;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().check_end_names = true;

    let mut doc = XmltvDocument::default();
    // Whether each programme had a stop, to fill the missing ones afterwards.
    let mut has_stop: Vec<bool> = Vec::new();
    let mut channel: Option<(String, Vec<String>)> = None;
    let mut programme: Option<Programme> = None;
    let mut seen_programmes = 0usize;
    let mut first_bad: Option<(usize, &'static str)> = None;
    let mut field = Field::None;
    let mut field_lang = String::new();
    let mut buf = String::new();
    let mut depth = 0usize;
    // Inside <rating>: its <value> is an age (a <star-rating> has a <value> too).
    let mut in_rating = false;

    let syntax = |reader: &Reader<&[u8]>, message: String| XmltvError::Syntax {
        position: reader.error_position(),
        message,
    };

    loop {
        let ev = reader
            .read_event()
            .map_err(|e| syntax(&reader, e.to_string()))?;
        match ev {
            XmlEvent::Start(ref e) | XmlEvent::Empty(ref e) => {
                let empty = matches!(ev, XmlEvent::Empty(_));
                if !empty {
                    depth += 1;
                }
                match e.name().as_ref() {
                    "channel" if programme.is_none() => {
                        let id = attribute(e, "id").unwrap_or_default();
                        if empty {
                            doc.channels.push((id, Vec::new()));
                        } else {
                            channel = Some((id, Vec::new()));
                        }
                    }
                    "programme" => {
                        seen_programmes += 1;
                        if doc.programmes.len() >= max_programmes {
                            return Err(XmltvError::TooLarge(max_programmes));
                        }
                        let start = attribute(e, "start").and_then(|s| parse_time(&s));
                        let stop = attribute(e, "stop").map(|s| parse_time(&s));
                        let p = Programme {
                            index: seen_programmes - 1,
                            channel: attribute(e, "channel").unwrap_or_default(),
                            start,
                            stop: stop.flatten(),
                            stop_bad: matches!(stop, Some(None)),
                            event: empty_event(),
                            rating_system: String::new(),
                        };
                        if empty {
                            finish_programme(p, &mut doc, &mut has_stop, &mut first_bad);
                        } else {
                            programme = Some(p);
                        }
                    }
                    name if !empty => {
                        let next = match (name, channel.is_some(), programme.is_some()) {
                            ("display-name", true, _) => Field::DisplayName,
                            ("title", _, true) => Field::Title,
                            ("sub-title", _, true) => Field::SubTitle,
                            ("desc", _, true) => Field::Desc,
                            ("category", _, true) => Field::Category,
                            ("episode-num", _, true)
                                if attribute(e, "system").as_deref() == Some("xmltv_ns") =>
                            {
                                Field::Episode
                            }
                            ("rating", _, true) => {
                                in_rating = true;
                                if let Some(p) = programme.as_mut() {
                                    p.rating_system = attribute(e, "system").unwrap_or_default();
                                }
                                Field::None
                            }
                            ("value", _, true) if in_rating => Field::RatingValue,
                            _ => Field::None,
                        };
                        if next != Field::None {
                            field = next;
                            field_lang = attribute(e, "lang").unwrap_or_default();
                            buf.clear();
                        }
                    }
                    _ => {}
                }
            }
            XmlEvent::Text(t) if field != Field::None => buf.push_str(&t.xml10_content()),
            XmlEvent::CData(t) if field != Field::None => buf.push_str(&t.xml10_content()),
            XmlEvent::GeneralRef(r) if field != Field::None => match r.resolve_char_ref() {
                Ok(Some(c)) => buf.push(c),
                Ok(None) => {
                    if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                        buf.push_str(s);
                    }
                    // Entities a DOCTYPE declares are not expanded: XMLTV does not use
                    // them, and expanding invites billion-laughs documents.
                }
                Err(e) => return Err(syntax(&reader, e.to_string())),
            },
            XmlEvent::End(e) => {
                depth = depth.saturating_sub(1);
                let name = e.name();
                let name = name.as_ref();
                if field != Field::None && field_element(field) == name {
                    let value = buf.trim().to_owned();
                    store_field(field, value, &field_lang, &mut channel, &mut programme);
                    field = Field::None;
                } else if name == "rating" {
                    in_rating = false;
                } else if name == "channel" && programme.is_none() {
                    if let Some(c) = channel.take() {
                        doc.channels.push(c);
                    }
                } else if name == "programme"
                    && let Some(p) = programme.take()
                {
                    finish_programme(p, &mut doc, &mut has_stop, &mut first_bad);
                }
            }
            XmlEvent::Eof => {
                if depth != 0 {
                    return Err(syntax(&reader, "document ends inside an element".into()));
                }
                break;
            }
            _ => {}
        }
    }

    if doc.programmes.is_empty()
        && let Some((index, message)) = first_bad
    {
        return Err(XmltvError::Programme {
            index,
            message: message.into(),
        });
    }
    fill_missing_stops(&mut doc.programmes, &has_stop);
    Ok(doc)
}

fn field_element(f: Field) -> &'static str {
    match f {
        Field::None => "",
        Field::DisplayName => "display-name",
        Field::Title => "title",
        Field::SubTitle => "sub-title",
        Field::Desc => "desc",
        Field::Category => "category",
        Field::Episode => "episode-num",
        Field::RatingValue => "value",
    }
}

fn store_field(
    field: Field,
    value: String,
    lang: &str,
    channel: &mut Option<(String, Vec<String>)>,
    programme: &mut Option<Programme>,
) {
    if let (Field::DisplayName, Some((_, names))) = (field, channel.as_mut()) {
        names.push(value);
        return;
    }
    let Some(p) = programme.as_mut() else { return };
    let e = &mut p.event;
    match field {
        Field::Title if e.title.is_empty() => {
            e.title = value;
            e.language = if lang.is_empty() {
                String::new()
            } else {
                iso639_2(lang)
            };
        }
        Field::SubTitle if e.short_text.is_empty() => e.short_text = value,
        Field::Desc if e.description.is_empty() => e.description = value,
        Field::Category => {
            if let Some(g) = genre_by_name(&value)
                && !e.genres.contains(&g)
            {
                e.genres.push(g);
            }
        }
        Field::Episode if e.episode.is_empty() => e.episode = value,
        Field::RatingValue => {
            // "12", "-12" (French CSA style) or "+12": an age. Anything else ("PG-13",
            // "TV-MA") is a label we cannot compare, so it is not kept.
            let age = value.trim_start_matches(['-', '+']).trim();
            let system = p.rating_system.trim();
            if let Ok(min_age) = age.parse::<u8>()
                && system.len() <= 8
                && system.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                e.ratings.push(Rating {
                    country: system.to_ascii_uppercase(),
                    min_age,
                });
            }
        }
        _ => {}
    }
}

fn finish_programme(
    p: Programme,
    doc: &mut XmltvDocument,
    has_stop: &mut Vec<bool>,
    first_bad: &mut Option<(usize, &'static str)>,
) {
    let index = p.index;
    let Some(start) = p.start else {
        first_bad.get_or_insert((index, "start missing or unreadable"));
        return;
    };
    if p.stop_bad {
        first_bad.get_or_insert((index, "stop unreadable"));
        return;
    }
    let duration = match p.stop {
        Some(stop) if stop < start => {
            first_bad.get_or_insert((index, "stop before start"));
            return;
        }
        Some(stop) => u32::try_from(stop - start).unwrap_or(u32::MAX),
        None => 0,
    };
    let mut event = p.event;
    event.start = start;
    event.duration = duration;
    event.event_id = event_id_for_start(start);
    doc.programmes.push((p.channel, event));
    has_stop.push(p.stop.is_some());
}

/// A programme without a stop lasts until the next programme of its channel.
fn fill_missing_stops(programmes: &mut [(String, Event)], has_stop: &[bool]) {
    if has_stop.iter().all(|&s| s) {
        return;
    }
    let mut order: Vec<usize> = (0..programmes.len()).collect();
    order.sort_by(|&a, &b| {
        (&programmes[a].0, programmes[a].1.start).cmp(&(&programmes[b].0, programmes[b].1.start))
    });
    for w in order.windows(2) {
        let (a, b) = (w[0], w[1]);
        if !has_stop[a] && programmes[a].0 == programmes[b].0 {
            let gap = programmes[b].1.start - programmes[a].1.start;
            programmes[a].1.duration = u32::try_from(gap).unwrap_or(0);
        }
    }
}

fn empty_event() -> Event {
    Event {
        event_id: 0,
        start: 0,
        duration: 0,
        title: String::new(),
        short_text: String::new(),
        description: String::new(),
        language: String::new(),
        genres: Vec::new(),
        ratings: Vec::new(),
        running_status: 0,
        episode: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000; // 2023-11-14 22:13:20 UTC

    fn event(id: u16, start: i64, title: &str) -> Event {
        Event {
            event_id: id,
            start,
            duration: 1800,
            title: title.into(),
            ..empty_event()
        }
    }

    fn full_event() -> Event {
        Event {
            event_id: event_id_for_start(NOW),
            start: NOW,
            duration: 5400,
            title: "L'été & <l'hiver> \"ensemble\"".into(),
            short_text: "Épisode 2 : ça commence".into(),
            description: "Avec: Moi\nUne histoire\u{1}\u{FFFF} à suivre.".into(),
            language: "fre".into(),
            genres: vec![0x14, 0x1F, 0x10, 0xF3, 0x00],
            ratings: vec![Rating {
                country: "FRA".into(),
                min_age: 12,
            }],
            running_status: 0,
            episode: "1.4.".into(),
        }
    }

    fn document(events: &[Event]) -> String {
        let channels = [
            XmltvChannel {
                id: "1.dvbgate",
                display_name: "France 2 & Co",
                number: Some(2),
                icon: Some("http://box/logo?a=1&b=2"),
            },
            XmltvChannel {
                id: "2.dvbgate",
                display_name: "Arte",
                number: None,
                icon: None,
            },
        ];
        let mut out = String::new();
        write(&mut out, "dvbgate", &channels, |id| {
            if id == "1.dvbgate" {
                events.iter().collect()
            } else {
                Vec::new()
            }
        });
        out
    }

    #[test]
    fn escapes_and_drops_forbidden_characters() {
        let mut out = String::new();
        escape_into(
            &mut out,
            "a&b<c>d\"e'f\u{0}g\u{1B}h\ti\nj\u{FFFE}k\u{FFFF}lé\u{FFFD}",
        );
        assert_eq!(out, "a&amp;b&lt;c&gt;d&quot;e&apos;fgh\ti\njklé\u{FFFD}");
    }

    #[test]
    fn times_format_and_parse() {
        let mut out = String::new();
        push_time(&mut out, NOW);
        assert_eq!(out, "20231114221320 +0000");
        out.clear();
        push_time(&mut out, 951_782_400); // 2000-02-29 00:00:00
        assert_eq!(out, "20000229000000 +0000");
        assert_eq!(parse_time("20231114221320 +0000"), Some(NOW));
        assert_eq!(parse_time("20231114231320 +0100"), Some(NOW));
        assert_eq!(parse_time("20231114204320 -0130"), Some(NOW));
        assert_eq!(parse_time("20231114231320+0100"), Some(NOW));
        assert_eq!(parse_time("20231114221320"), Some(NOW));
        assert_eq!(parse_time("202311142213"), Some(NOW - 20));
        assert_eq!(parse_time("20231114"), Some(NOW - 22 * 3600 - 13 * 60 - 20));
        for bad in [
            "",
            "2023",
            "20231314221320",
            "20231114221320 +1",
            "x0231114221320",
            "20231114221320 CET",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        for t in [0, NOW, 4_102_444_800, 951_868_799] {
            let mut s = String::new();
            push_time(&mut s, t);
            assert_eq!(parse_time(&s), Some(t), "{s}");
        }
    }

    #[test]
    fn languages_map_both_ways() {
        assert_eq!(xmltv_lang("fre"), "fr");
        assert_eq!(xmltv_lang("deu"), "de");
        assert_eq!(xmltv_lang("qaa"), "qaa");
        assert_eq!(xmltv_lang(""), "");
        assert_eq!(iso639_2("fr"), "fre");
        assert_eq!(iso639_2("de-AT"), "ger");
        assert_eq!(iso639_2("QAA"), "qaa");
    }

    #[test]
    fn writes_elements_in_dtd_order() {
        let doc = document(&[full_event()]);
        let p = &doc[doc.find("<programme").unwrap()..];
        let order: Vec<usize> = [
            "<title lang=\"fr\">L&apos;été &amp; &lt;l&apos;hiver&gt; &quot;ensemble&quot;</title>",
            "<sub-title lang=\"fr\">Épisode 2 : ça commence</sub-title>",
            "<desc lang=\"fr\">Avec: Moi\nUne histoire à suivre.</desc>",
            "<category lang=\"en\">Comedy</category>",
            "<category lang=\"en\">Movie/Drama</category>",
            "<episode-num system=\"xmltv_ns\">1.4.</episode-num>",
            "<rating system=\"FRA\"><value>12</value></rating>",
        ]
        .iter()
        .map(|needle| p.find(needle).unwrap_or_else(|| panic!("{needle} in {p}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{p}");
        // 0x1F and 0x10 share "Movie/Drama": written once; 0xF3 and 0x00 name nothing.
        assert_eq!(p.matches("<category").count(), 2);
        assert!(doc.contains(
            "<programme start=\"20231114221320 +0000\" stop=\"20231114234320 +0000\" channel=\"1.dvbgate\">"
        ));
        assert!(doc.contains(
            "<display-name>France 2 &amp; Co</display-name>\n    <display-name>2</display-name>"
        ));
        assert!(doc.contains("<icon src=\"http://box/logo?a=1&amp;b=2\"/>"));
        // A short text alone is the description.
        let mut e = event(1, NOW, "T");
        e.short_text = "Résumé".into();
        let doc = document(&[e]);
        assert!(
            doc.contains("<desc>Résumé</desc>") && !doc.contains("sub-title"),
            "{doc}"
        );
    }

    #[test]
    #[allow(clippy::print_stderr)] // a skipped check says so
    fn output_is_valid_against_the_xmltv_dtd() {
        let dtd = std::path::Path::new("/usr/share/xmltv/xmltv.dtd");
        let xmllint = std::process::Command::new("xmllint")
            .arg("--version")
            .output();
        if !dtd.exists() || xmllint.is_err() {
            eprintln!(
                "\n*** SKIPPED the XMLTV DTD validation: needs xmllint (libxml2-utils) and \
                 /usr/share/xmltv/xmltv.dtd (xmltv-util) ***\n"
            );
            return;
        }
        let mut other = event(2, NOW + 5400, "Suite");
        other.genres = vec![0x43];
        let doc = document(&[full_event(), other, event(3, NOW + 7200, "")]);
        let path = std::env::temp_dir().join(format!("dvbgate-epg-{}.xml", std::process::id()));
        std::fs::write(&path, &doc).unwrap();
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--dtdvalid"])
            .arg(dtd)
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "xmllint: {}\n{doc}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn round_trips_through_write_and_parse() {
        let mut second = event(0, NOW + 5400, "Deuxième");
        second.event_id = event_id_for_start(second.start);
        second.language = "eng".into();
        second.description = "Line one\nline two".into();
        let events = [full_event(), second.clone()];
        let doc = parse(document(&events).as_bytes(), 100).unwrap();
        assert_eq!(
            doc.channels,
            vec![
                (
                    "1.dvbgate".to_string(),
                    vec!["France 2 & Co".to_string(), "2".to_string()]
                ),
                ("2.dvbgate".to_string(), vec!["Arte".to_string()]),
            ]
        );
        assert_eq!(doc.programmes.len(), 2);
        let (ch, got) = &doc.programmes[0];
        assert_eq!(ch, "1.dvbgate");
        let mut want = full_event();
        // What XMLTV cannot carry: the forbidden characters, the duplicate and unnamed
        // genres.
        want.description = "Avec: Moi\nUne histoire à suivre.".into();
        want.genres = vec![0x14, 0x10];
        assert_eq!(got, &want);
        assert_eq!(doc.programmes[1].1, second);
    }

    #[test]
    fn parses_what_grabbers_write() {
        let xml: &[u8] = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\
            <!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n\
            <tv><channel id=\"c\"><display-name lang=\"fr\">Ch\xE2ine</display-name></channel>\
            <programme start=\"202311142213 +0000\" channel=\"c\">\
              <title lang=\"de\">Nachrichten &#x26; Wetter</title><title lang=\"en\">News</title>\
              <category lang=\"en\">News/Weather report</category><category>Unknown genre</category>\
              <episode-num system=\"onscreen\">S1E2</episode-num>\
              <rating system=\"CSA\"><value>-16</value></rating>\
              <rating system=\"MPAA\"><value>PG-13</value></rating>\
              <star-rating><value>3</value></star-rating>\
            </programme>\
            <programme start=\"20231114231320 +0000\" stop=\"bad\" channel=\"c\"><title>X</title></programme>\
            <programme start=\"20231114234320 +0000\" channel=\"c\"><title><![CDATA[A & B]]></title></programme>\
            </tv>";
        let doc = parse(xml, 10).unwrap();
        assert_eq!(doc.channels[0].1, vec!["Châine".to_string()]);
        assert_eq!(doc.programmes.len(), 2, "the unreadable stop is skipped");
        let e = &doc.programmes[0].1;
        assert_eq!(e.title, "Nachrichten & Wetter");
        assert_eq!(e.language, "ger");
        assert_eq!(e.start, NOW - 20);
        // No stop: until the next programme of the channel that was read (the one with
        // the unreadable stop is not).
        assert_eq!(e.duration, 5420);
        assert_eq!(e.genres, vec![0x21]);
        assert_eq!(e.episode, "", "only xmltv_ns numbering is kept");
        assert_eq!(
            e.ratings,
            vec![Rating {
                country: "CSA".into(),
                min_age: 16
            }]
        );
        assert_eq!(doc.programmes[1].1.title, "A & B");
        assert_eq!(doc.programmes[1].1.duration, 0, "last of its channel");
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let err = parse(b"<tv><channel id=\"a\"></tv>", 10).unwrap_err();
        assert!(matches!(err, XmltvError::Syntax { .. }), "{err}");
        let err = parse(b"<tv><programme start=\"1\"", 10).unwrap_err();
        assert!(matches!(err, XmltvError::Syntax { .. }), "{err}");
        let err = parse(b"<tv><channel id=\"a\">", 10).unwrap_err();
        assert!(matches!(err, XmltvError::Syntax { .. }), "{err}");
        let err = parse(b"<tv>caf\xE9</tv>", 10).unwrap_err();
        assert!(
            matches!(err, XmltvError::Syntax { position: 7, .. }),
            "{err}"
        );
        let err = parse(
            b"<tv><programme start=\"soon\" channel=\"a\"><title>x</title></programme></tv>",
            10,
        )
        .unwrap_err();
        assert!(
            matches!(err, XmltvError::Programme { index: 0, .. }),
            "{err}"
        );
        let many = document(&[event(1, NOW, "a"), event(2, NOW + 1800, "b")]);
        assert!(matches!(
            parse(many.as_bytes(), 1),
            Err(XmltvError::TooLarge(1))
        ));
        assert!(parse(many.as_bytes(), 2).is_ok());
    }

    #[test]
    fn parse_never_panics_on_mangled_documents() {
        let doc = document(&[full_event(), event(2, NOW + 5400, "Suite")]).into_bytes();
        let mut state = 0x9E37_79B9_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..3000 {
            let mut d = doc.clone();
            for _ in 0..(next() % 4 + 1) {
                if d.is_empty() {
                    break;
                }
                let i = next() as usize % d.len();
                match next() % 3 {
                    0 => d[i] = next() as u8,
                    1 => {
                        d.remove(i);
                    }
                    _ => d.truncate(i),
                }
            }
            let _ = parse(&d, 10);
        }
    }
}
