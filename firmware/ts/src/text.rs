//! DVB text: decoding and encoding of the strings carried in SI tables (service and network
//! names, event titles and descriptions), per ETSI EN 300 468 Annex A "Coding of text
//! characters".
//!
//! A DVB string may start with a character-table selector (table A.3). A first byte of
//! 0x20..=0xFF is already text in the default table, "character code table 00" (figure A.1:
//! ISO/IEC 6937 plus the euro sign at 0xA4). 0x01..=0x0B pick ISO/IEC 8859-5..=15, and
//! 0x10 0x00 0xNN picks ISO/IEC 8859-NN (table A.4). 0x11 is the ISO/IEC 10646 BMP in two
//! big-endian bytes; 0x12, 0x13 and 0x14 are KS X 1001, GB-2312 and Big5; 0x15 is UTF-8.
//! 0x1F is followed by an `encoding_type_id` (allocated in ETSI TS 101 162): 1 and 2 are the
//! Freesat/Freeview Huffman compression of titles and descriptions, which UK broadcasters
//! use on satellite and terrestrial alike (see the `freesat` module). Control codes are those
//! of tables A.1 (single-byte) and A.2 (two-byte).
//!
//! Broadcasters get this wrong often enough (the French satellite EPG among our test streams
//! sends Latin-1 without a selector) that [`decode_with`] lets an operator choose the table
//! used when the selector is missing, or override a lying one.
//!
//! What is deliberately not done:
//! - KS X 1001, GB-2312 and Big5 text keeps its ASCII characters, but every double-byte
//!   character becomes U+FFFD: each CJK mapping table has thousands of entries.
//! - Compressed text with an `encoding_type_id` other than 1 or 2 decodes to
//!   [`COMPRESSED_TEXT`]: no other compression is in use that we know of.
//! - Emphasis (0x86/0x87) is dropped rather than marked up: our outputs are plain text.
//!
//! Decompressed text is DVB text without a selector. Its Huffman tables only code ASCII;
//! anything else is sent as escaped bytes, and what those are is not settled: tvheadend's
//! decoder writes them as they come into its (UTF-8) output. We read the bytes as UTF-8 when
//! they are valid UTF-8 with at least one non-ASCII byte, and otherwise with the default
//! table (character code table 00, or the operator's choice), since a Latin string is
//! almost never valid UTF-8 by chance. Forcing a charset applies it to the decompressed
//! bytes; UCS-2, a two-byte table, never fits them and is read as the default table 00.
//!
//! Decoding never fails and never panics; undefined code positions and malformed sequences
//! become U+FFFD, and so does the end of a compressed string whose bits run out before its
//! STOP code (the decoded part is kept). Work is linear in the input length; a compressed
//! string gives at most 2048 bytes of text before decoding stops, whatever its length. The
//! only allocation is the returned `String` (decompression uses a buffer on the stack).

use serde::{Deserialize, Serialize};

mod freesat;
#[rustfmt::skip]
mod freesat_tables;

/// Character tables a broadcaster may use; also what a technician picks when a broadcaster
/// sends text without (or with a wrong) selector byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Charset {
    /// Character code table 00 (figure A.1): ISO/IEC 6937 with the euro sign at 0xA4. What
    /// text without a selector is in, unless the operator says otherwise.
    Iso6937,
    /// ISO/IEC 8859, part 1..=15 except 12 (which does not exist).
    Iso8859(u8),
    /// UTF-8 (selector 0x15).
    Utf8,
    /// ISO/IEC 10646 Basic Multilingual Plane, big endian (selector 0x11). UTF-16 surrogate
    /// pairs are accepted too, as some encoders send them.
    Ucs2,
    /// KS X 1001-2004, Korean (selector 0x12); double-byte characters become U+FFFD.
    Ksx1001,
    /// GB-2312-1980, simplified Chinese (selector 0x13); double-byte characters become U+FFFD.
    Gb2312,
    /// Big5, traditional Chinese (selector 0x14); double-byte characters become U+FFFD.
    Big5,
}

impl Charset {
    /// False for an ISO 8859 part that does not exist; such a table decodes ASCII only.
    /// Meant for validating configuration.
    pub fn is_valid(self) -> bool {
        match self {
            Self::Iso8859(part) => iso8859_high_half(part).is_some(),
            _ => true,
        }
    }
}

/// What [`decode`] returns for compressed text (selector 0x1F) whose `encoding_type_id` is
/// neither 1 nor 2 (the Freesat/Freeview tables), so that we cannot expand it.
pub const COMPRESSED_TEXT: &str = "[compressed text]";

/// Decodes a DVB string (with its optional leading character-table selector) to UTF-8.
pub fn decode(bytes: &[u8]) -> String {
    decode_with(bytes, Charset::Iso6937, false)
}

/// Same, but text without a selector byte is read with `default` instead of ISO 6937, and
/// when `force` is true the selector byte is ignored (skipped) and `default` is used: the
/// "broadcaster lies" override.
///
/// A reserved selector, or an ISO 8859 part that does not exist, is skipped and `default`
/// used. Compressed text (0x1F) is decompressed even when forced, as its body is not text in
/// any table; `default` and `force` then apply to the decompressed bytes (see the module
/// documentation).
pub fn decode_with(bytes: &[u8], default: Charset, force: bool) -> String {
    let (selector, body) = split_selector(bytes);
    let charset = match selector {
        Selector::Truncated => return String::new(),
        Selector::Compressed(encoding_type_id) => {
            return decode_compressed(encoding_type_id, body, default, force);
        }
        Selector::Table(announced) if !force => announced,
        Selector::Absent | Selector::Table(_) | Selector::Reserved => default,
    };
    decode_body(body, charset)
}

/// True when the string is compressed (selector 0x1F followed by an `encoding_type_id`), so
/// that callers can count such strings; [`decode`] expands them.
pub fn is_compressed(bytes: &[u8]) -> bool {
    matches!(split_selector(bytes).0, Selector::Compressed(_))
}

/// Encodes text for our own SI tables (SDT names, EIT titles we generate): plain bytes when
/// the text is ASCII letters/digits/punctuation that ISO 6937 maps identically, otherwise the
/// 0x15 UTF-8 selector followed by UTF-8.
///
/// Every printable ASCII character (0x20..=0x7E) is the same in figure A.1. A line break
/// becomes the DVB CR/LF code (0x8A, or U+E08A in UTF-8) so that receivers break the line;
/// other control characters are not carried, as receivers would drop them anyway. Length
/// limits of the descriptor the text goes into are the caller's business.
pub fn encode(text: &str) -> Vec<u8> {
    if text.chars().all(|c| c == '\n' || is_plain_ascii(c)) {
        return text
            .bytes()
            .map(|b| if b == b'\n' { CR_LF } else { b })
            .collect();
    }
    let mut out = Vec::with_capacity(text.len() + 1);
    out.push(UTF8_SELECTOR);
    let mut buffer = [0; 4];
    for c in text.chars() {
        let c = match c {
            '\n' => UCS_CR_LF,
            c if is_unicode_control(c) => continue,
            c => c,
        };
        out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
    }
    out
}

const UTF8_SELECTOR: u8 = 0x15;
/// Table A.1: the one single-byte control code with a visible effect.
const CR_LF: u8 = 0x8A;
/// Table A.2: the same function in the private use area of ISO/IEC 10646.
const UCS_CR_LF: char = '\u{E08A}';
const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

fn is_plain_ascii(c: char) -> bool {
    matches!(c, ' '..='~')
}

/// What the leading bytes of a string announce (tables A.3 and A.4).
enum Selector {
    /// No selector: the first byte is already text.
    Absent,
    Table(Charset),
    /// A selector value DVB reserves, or a 0x10 form naming no ISO 8859 part.
    Reserved,
    /// 0x1F and its `encoding_type_id`.
    Compressed(u8),
    /// A selector cut short by the end of the string; nothing follows it.
    Truncated,
}

fn split_selector(bytes: &[u8]) -> (Selector, &[u8]) {
    let Some((&first, rest)) = bytes.split_first() else {
        return (Selector::Absent, bytes);
    };
    let selector = match first {
        0x20.. => return (Selector::Absent, bytes),
        // 0x08 would be ISO 8859-12, which was never published.
        0x01..=0x07 | 0x09..=0x0B => Selector::Table(Charset::Iso8859(first + 4)),
        0x10 => return split_iso8859_selector(rest),
        0x11 => Selector::Table(Charset::Ucs2),
        0x12 => Selector::Table(Charset::Ksx1001),
        0x13 => Selector::Table(Charset::Gb2312),
        0x14 => Selector::Table(Charset::Big5),
        0x15 => Selector::Table(Charset::Utf8),
        0x1F => {
            return match rest.split_first() {
                Some((&encoding_type_id, body)) => (Selector::Compressed(encoding_type_id), body),
                None => (Selector::Truncated, rest),
            };
        }
        _ => Selector::Reserved,
    };
    (selector, rest)
}

/// The 0x10 form: a 16-bit table number follows, 0x0001..=0x000F naming ISO 8859 parts.
fn split_iso8859_selector(after_0x10: &[u8]) -> (Selector, &[u8]) {
    match after_0x10 {
        [0x00, part, body @ ..] if iso8859_high_half(*part).is_some() => {
            (Selector::Table(Charset::Iso8859(*part)), body)
        }
        [_, _, body @ ..] => (Selector::Reserved, body),
        _ => (Selector::Truncated, &[]),
    }
}

/// Selector 0x1F: Huffman-decompresses the body, then reads the result as text.
fn decode_compressed(encoding_type_id: u8, body: &[u8], default: Charset, force: bool) -> String {
    let Some(table) = freesat::table(encoding_type_id) else {
        return COMPRESSED_TEXT.to_owned();
    };
    let mut buffer = [0; freesat::MAX_DECOMPRESSED];
    let (length, ending) = freesat::decompress(table, body, &mut buffer);
    let text = buffer.get(..length).unwrap_or_default();
    let charset = match default {
        _ if !force && !text.is_ascii() && std::str::from_utf8(text).is_ok() => Charset::Utf8,
        Charset::Ucs2 => Charset::Iso6937,
        default => default,
    };
    let mut decoded = decode_body(text, charset);
    if ending == freesat::Ending::Damaged {
        decoded.push(REPLACEMENT);
    }
    decoded
}

fn decode_body(body: &[u8], charset: Charset) -> String {
    let mut out = String::with_capacity(body.len());
    match charset {
        Charset::Iso6937 => decode_iso6937(body, &mut out),
        Charset::Iso8859(part) => {
            let high = iso8859_high_half(part).unwrap_or(HighHalf::Undefined);
            decode_single_byte(body, high, &mut out);
        }
        Charset::Utf8 => decode_utf8(body, &mut out),
        Charset::Ucs2 => decode_ucs2(body, &mut out),
        Charset::Ksx1001 | Charset::Gb2312 | Charset::Big5 => {
            decode_double_byte_as_replacement(body, &mut out);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Single-byte tables

/// The upper half (0xA0..=0xFF) of a single-byte table, one code point per byte, eight bytes
/// a line; 0 marks a position the table leaves undefined.
type HighHalfTable = [u16; 96];

#[derive(Clone, Copy)]
enum HighHalf {
    /// ISO 8859-1, whose code points equal its bytes.
    Latin1,
    Table(&'static HighHalfTable),
    /// An unknown table: only the ASCII half can be trusted.
    Undefined,
}

impl HighHalf {
    fn char_at(self, byte: u8) -> char {
        let code = match self {
            Self::Latin1 => u16::from(byte),
            Self::Table(table) => byte
                .checked_sub(0xA0)
                .and_then(|index| table.get(usize::from(index)))
                .copied()
                .unwrap_or(0),
            Self::Undefined => 0,
        };
        match code {
            0 => REPLACEMENT,
            code => char::from_u32(u32::from(code)).unwrap_or(REPLACEMENT),
        }
    }
}

fn iso8859_high_half(part: u8) -> Option<HighHalf> {
    let table = match part {
        1 => return Some(HighHalf::Latin1),
        2 => &ISO_8859_2,
        3 => &ISO_8859_3,
        4 => &ISO_8859_4,
        5 => &ISO_8859_5,
        6 => &ISO_8859_6,
        7 => &ISO_8859_7,
        8 => &ISO_8859_8,
        9 => &ISO_8859_9,
        10 => &ISO_8859_10,
        11 => &ISO_8859_11,
        13 => &ISO_8859_13,
        14 => &ISO_8859_14,
        15 => &ISO_8859_15,
        _ => return None,
    };
    Some(HighHalf::Table(table))
}

fn decode_single_byte(body: &[u8], high: HighHalf, out: &mut String) {
    for &byte in body {
        push_single_byte(byte, high, out);
    }
}

/// Every DVB single-byte table has ASCII in 0x20..=0x7E and the C1 control codes of
/// table A.1 in 0x80..=0x9F.
fn push_single_byte(byte: u8, high: HighHalf, out: &mut String) {
    match byte {
        0x20..=0x7E => out.push(char::from(byte)),
        0xA0..=0xFF => out.push(high.char_at(byte)),
        CR_LF => out.push('\n'),
        // Emphasis on/off (0x86/0x87), reserved and user-defined codes, and C0 controls
        // (which table A.1 does not define inside text) have nothing to show.
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Character code table 00 (figure A.1): ISO/IEC 6937 with the euro sign

/// Figure A.1, 0xA0..=0xFF. The 0xC0..=0xCF row holds the non-spacing diacritics, handled by
/// [`Diacritic`]; its zeros are only reached for the undefined 0xC0 and 0xCC.
#[rustfmt::skip]
const ISO_6937: HighHalfTable = [
    0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x20AC, 0x00A5, 0x0000, 0x00A7,
    0x00A4, 0x2018, 0x201C, 0x00AB, 0x2190, 0x2191, 0x2192, 0x2193,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00D7, 0x00B5, 0x00B6, 0x00B7,
    0x00F7, 0x2019, 0x201D, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x2015, 0x00B9, 0x00AE, 0x00A9, 0x2122, 0x266A, 0x00AC, 0x00A6,
    0x0000, 0x0000, 0x0000, 0x0000, 0x215B, 0x215C, 0x215D, 0x215E,
    0x2126, 0x00C6, 0x0110, 0x00AA, 0x0126, 0x0000, 0x0132, 0x013F,
    0x0141, 0x00D8, 0x0152, 0x00BA, 0x00DE, 0x0166, 0x014A, 0x0149,
    0x0138, 0x00E6, 0x0111, 0x00F0, 0x0127, 0x0131, 0x0133, 0x0140,
    0x0142, 0x00F8, 0x0153, 0x00DF, 0x00FE, 0x0167, 0x014B, 0x00AD,
];

/// A non-spacing diacritical mark of ISO 6937 (0xC1..=0xCF). It comes *before* the letter it
/// sits on, where Unicode puts combining marks after.
struct Diacritic {
    /// The Unicode combining mark, for letters without a precomposed form.
    combining: char,
    /// The mark on its own: ISO 6937 spells it as the diacritic followed by a space.
    spacing: char,
    /// ASCII letters that have a precomposed form with this mark...
    bases: &'static str,
    /// ...and those forms, in the same order.
    precomposed: &'static str,
}

impl Diacritic {
    fn of(byte: u8) -> Option<&'static Self> {
        let index = match byte {
            0xC1..=0xC8 => byte - 0xC1,
            // 0xC9 is blank in figure A.1, but the older ISO 6937-2 and ITU-T T.61 put the
            // umlaut (drawn like the diaeresis) there, and old encoders still send it.
            0xC9 => 7,
            0xCA..=0xCB => byte - 0xC2,
            0xCD..=0xCF => byte - 0xC3,
            _ => return None,
        };
        DIACRITICS.get(usize::from(index))
    }

    fn push_on(&self, base: u8, out: &mut String) {
        let precomposed = self
            .bases
            .bytes()
            .position(|b| b == base)
            .and_then(|index| self.precomposed.chars().nth(index));
        match precomposed {
            Some(c) => out.push(c),
            None => {
                out.push(char::from(base));
                out.push(self.combining);
            }
        }
    }
}

/// 0xC1..=0xC8, 0xCA, 0xCB, 0xCD..=0xCF in order (0xC9 and 0xCC are blank in figure A.1).
const DIACRITICS: [Diacritic; 13] = [
    Diacritic {
        combining: '\u{300}',
        spacing: '`',
        bases: "AEINOUWYaeinouwy",
        precomposed: "ÀÈÌǸÒÙẀỲàèìǹòùẁỳ",
    },
    Diacritic {
        combining: '\u{301}',
        spacing: '´',
        bases: "ACEGIKLMNOPRSUWYZacegiklmnoprsuwyz",
        precomposed: "ÁĆÉǴÍḰĹḾŃÓṔŔŚÚẂÝŹáćéǵíḱĺḿńóṕŕśúẃýź",
    },
    Diacritic {
        combining: '\u{302}',
        spacing: '^',
        bases: "ACEGHIJOSUWYZaceghijosuwyz",
        precomposed: "ÂĈÊĜĤÎĴÔŜÛŴŶẐâĉêĝĥîĵôŝûŵŷẑ",
    },
    Diacritic {
        combining: '\u{303}',
        spacing: '~',
        bases: "AEINOUVYaeinouvy",
        precomposed: "ÃẼĨÑÕŨṼỸãẽĩñõũṽỹ",
    },
    Diacritic {
        combining: '\u{304}',
        spacing: '¯',
        bases: "AEGIOUYaegiouy",
        precomposed: "ĀĒḠĪŌŪȲāēḡīōūȳ",
    },
    Diacritic {
        combining: '\u{306}',
        spacing: '˘',
        bases: "AEGIOUaegiou",
        precomposed: "ĂĔĞĬŎŬăĕğĭŏŭ",
    },
    Diacritic {
        combining: '\u{307}',
        spacing: '˙',
        bases: "ABCDEFGHIMNOPRSTWXYZabcdefghmnoprstwxyz",
        precomposed: "ȦḂĊḊĖḞĠḢİṀṄȮṖṘṠṪẆẊẎŻȧḃċḋėḟġḣṁṅȯṗṙṡṫẇẋẏż",
    },
    Diacritic {
        combining: '\u{308}',
        spacing: '¨',
        bases: "AEHIOUWXYaehiotuwxy",
        precomposed: "ÄËḦÏÖÜẄẌŸäëḧïöẗüẅẍÿ",
    },
    Diacritic {
        combining: '\u{30A}',
        spacing: '˚',
        bases: "AUauwy",
        precomposed: "ÅŮåůẘẙ",
    },
    Diacritic {
        combining: '\u{327}',
        spacing: '¸',
        bases: "CDEGHKLNRSTcdeghklnrst",
        precomposed: "ÇḐȨĢḨĶĻŅŖŞŢçḑȩģḩķļņŗşţ",
    },
    Diacritic {
        combining: '\u{30B}',
        spacing: '˝',
        bases: "OUou",
        precomposed: "ŐŰőű",
    },
    Diacritic {
        combining: '\u{328}',
        spacing: '˛',
        bases: "AEIOUaeiou",
        precomposed: "ĄĘĮǪŲąęįǫų",
    },
    Diacritic {
        combining: '\u{30C}',
        spacing: 'ˇ',
        bases: "ACDEGHIKLNORSTUZacdeghijklnorstuz",
        precomposed: "ǍČĎĚǦȞǏǨĽŇǑŘŠŤǓŽǎčďěǧȟǐǰǩľňǒřšťǔž",
    },
];

fn decode_iso6937(body: &[u8], out: &mut String) {
    let high = HighHalf::Table(&ISO_6937);
    let mut bytes = body.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        let Some(diacritic) = Diacritic::of(byte) else {
            push_single_byte(byte, high, out);
            continue;
        };
        match bytes.peek().copied() {
            Some(base) if base.is_ascii_alphabetic() => {
                bytes.next();
                diacritic.push_on(base, out);
            }
            Some(b' ') => {
                bytes.next();
                out.push(diacritic.spacing);
            }
            // Nothing to sit on (end of string, digit, another diacritic...): show the mark
            // and let the next byte stand on its own.
            _ => out.push(diacritic.spacing),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Multi-byte tables

/// Table A.2 control codes, and the C0/C1 controls that table A.1 leaves without meaning.
/// C1 code points are read like table A.1's bytes: encoders converting Latin text to
/// Unicode byte by byte carry CR/LF over as U+008A.
fn push_unicode(c: char, out: &mut String) {
    match c {
        UCS_CR_LF | '\u{8A}' => out.push('\n'),
        c if is_unicode_control(c) => {}
        c => out.push(c),
    }
}

fn is_unicode_control(c: char) -> bool {
    // U+E080..=U+E09F is the range table A.2 sets aside for control codes.
    c.is_control() || ('\u{E080}'..='\u{E09F}').contains(&c)
}

fn decode_utf8(body: &[u8], out: &mut String) {
    for chunk in body.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_unicode(c, out);
        }
        if !chunk.invalid().is_empty() {
            out.push(REPLACEMENT);
        }
    }
}

fn decode_ucs2(body: &[u8], out: &mut String) {
    let pairs = body.chunks_exact(2);
    // A lone trailing NUL is padding; any other odd byte is a character cut in half.
    let cut_short = !matches!(pairs.remainder(), [] | [0]);
    let units = pairs.map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    for c in char::decode_utf16(units) {
        push_unicode(c.unwrap_or(REPLACEMENT), out);
    }
    if cut_short {
        out.push(REPLACEMENT);
    }
}

/// KS X 1001, GB-2312 and Big5 as broadcast are ASCII-compatible, with each non-ASCII
/// character taking two bytes, the first of them 0x81 or above. Keeping the ASCII shows
/// channel numbers and Latin names; each double-byte character becomes one U+FFFD.
fn decode_double_byte_as_replacement(body: &[u8], out: &mut String) {
    let mut bytes = body.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte.is_ascii() {
            push_single_byte(byte, HighHalf::Undefined, out);
        } else {
            bytes.next();
            out.push(REPLACEMENT);
        }
    }
}

// ---------------------------------------------------------------------------------------
// ISO/IEC 8859 upper halves (0xA0..=0xFF); part 1 is the identity and has no table.

/// ISO/IEC 8859-2, Latin-2: Central European.
#[rustfmt::skip]
const ISO_8859_2: HighHalfTable = [
    0x00A0, 0x0104, 0x02D8, 0x0141, 0x00A4, 0x013D, 0x015A, 0x00A7,
    0x00A8, 0x0160, 0x015E, 0x0164, 0x0179, 0x00AD, 0x017D, 0x017B,
    0x00B0, 0x0105, 0x02DB, 0x0142, 0x00B4, 0x013E, 0x015B, 0x02C7,
    0x00B8, 0x0161, 0x015F, 0x0165, 0x017A, 0x02DD, 0x017E, 0x017C,
    0x0154, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0139, 0x0106, 0x00C7,
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x011A, 0x00CD, 0x00CE, 0x010E,
    0x0110, 0x0143, 0x0147, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x00D7,
    0x0158, 0x016E, 0x00DA, 0x0170, 0x00DC, 0x00DD, 0x0162, 0x00DF,
    0x0155, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x013A, 0x0107, 0x00E7,
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x011B, 0x00ED, 0x00EE, 0x010F,
    0x0111, 0x0144, 0x0148, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x00F7,
    0x0159, 0x016F, 0x00FA, 0x0171, 0x00FC, 0x00FD, 0x0163, 0x02D9,
];

/// ISO/IEC 8859-3, Latin-3: South European, Maltese, Esperanto.
#[rustfmt::skip]
const ISO_8859_3: HighHalfTable = [
    0x00A0, 0x0126, 0x02D8, 0x00A3, 0x00A4, 0x0000, 0x0124, 0x00A7,
    0x00A8, 0x0130, 0x015E, 0x011E, 0x0134, 0x00AD, 0x0000, 0x017B,
    0x00B0, 0x0127, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x0125, 0x00B7,
    0x00B8, 0x0131, 0x015F, 0x011F, 0x0135, 0x00BD, 0x0000, 0x017C,
    0x00C0, 0x00C1, 0x00C2, 0x0000, 0x00C4, 0x010A, 0x0108, 0x00C7,
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x0000, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x0120, 0x00D6, 0x00D7,
    0x011C, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x016C, 0x015C, 0x00DF,
    0x00E0, 0x00E1, 0x00E2, 0x0000, 0x00E4, 0x010B, 0x0109, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x0000, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x0121, 0x00F6, 0x00F7,
    0x011D, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x016D, 0x015D, 0x02D9,
];

/// ISO/IEC 8859-4, Latin-4: North European.
#[rustfmt::skip]
const ISO_8859_4: HighHalfTable = [
    0x00A0, 0x0104, 0x0138, 0x0156, 0x00A4, 0x0128, 0x013B, 0x00A7,
    0x00A8, 0x0160, 0x0112, 0x0122, 0x0166, 0x00AD, 0x017D, 0x00AF,
    0x00B0, 0x0105, 0x02DB, 0x0157, 0x00B4, 0x0129, 0x013C, 0x02C7,
    0x00B8, 0x0161, 0x0113, 0x0123, 0x0167, 0x014A, 0x017E, 0x014B,
    0x0100, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x012E,
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x0116, 0x00CD, 0x00CE, 0x012A,
    0x0110, 0x0145, 0x014C, 0x0136, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    0x00D8, 0x0172, 0x00DA, 0x00DB, 0x00DC, 0x0168, 0x016A, 0x00DF,
    0x0101, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x012F,
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x0117, 0x00ED, 0x00EE, 0x012B,
    0x0111, 0x0146, 0x014D, 0x0137, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    0x00F8, 0x0173, 0x00FA, 0x00FB, 0x00FC, 0x0169, 0x016B, 0x02D9,
];

/// ISO/IEC 8859-5, Latin/Cyrillic.
#[rustfmt::skip]
const ISO_8859_5: HighHalfTable = [
    0x00A0, 0x0401, 0x0402, 0x0403, 0x0404, 0x0405, 0x0406, 0x0407,
    0x0408, 0x0409, 0x040A, 0x040B, 0x040C, 0x00AD, 0x040E, 0x040F,
    0x0410, 0x0411, 0x0412, 0x0413, 0x0414, 0x0415, 0x0416, 0x0417,
    0x0418, 0x0419, 0x041A, 0x041B, 0x041C, 0x041D, 0x041E, 0x041F,
    0x0420, 0x0421, 0x0422, 0x0423, 0x0424, 0x0425, 0x0426, 0x0427,
    0x0428, 0x0429, 0x042A, 0x042B, 0x042C, 0x042D, 0x042E, 0x042F,
    0x0430, 0x0431, 0x0432, 0x0433, 0x0434, 0x0435, 0x0436, 0x0437,
    0x0438, 0x0439, 0x043A, 0x043B, 0x043C, 0x043D, 0x043E, 0x043F,
    0x0440, 0x0441, 0x0442, 0x0443, 0x0444, 0x0445, 0x0446, 0x0447,
    0x0448, 0x0449, 0x044A, 0x044B, 0x044C, 0x044D, 0x044E, 0x044F,
    0x2116, 0x0451, 0x0452, 0x0453, 0x0454, 0x0455, 0x0456, 0x0457,
    0x0458, 0x0459, 0x045A, 0x045B, 0x045C, 0x00A7, 0x045E, 0x045F,
];

/// ISO/IEC 8859-6, Latin/Arabic.
#[rustfmt::skip]
const ISO_8859_6: HighHalfTable = [
    0x00A0, 0x0000, 0x0000, 0x0000, 0x00A4, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x060C, 0x00AD, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x061B, 0x0000, 0x0000, 0x0000, 0x061F,
    0x0000, 0x0621, 0x0622, 0x0623, 0x0624, 0x0625, 0x0626, 0x0627,
    0x0628, 0x0629, 0x062A, 0x062B, 0x062C, 0x062D, 0x062E, 0x062F,
    0x0630, 0x0631, 0x0632, 0x0633, 0x0634, 0x0635, 0x0636, 0x0637,
    0x0638, 0x0639, 0x063A, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0640, 0x0641, 0x0642, 0x0643, 0x0644, 0x0645, 0x0646, 0x0647,
    0x0648, 0x0649, 0x064A, 0x064B, 0x064C, 0x064D, 0x064E, 0x064F,
    0x0650, 0x0651, 0x0652, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
];

/// ISO/IEC 8859-7, Latin/Greek (2003 edition, with the euro and drachma signs).
#[rustfmt::skip]
const ISO_8859_7: HighHalfTable = [
    0x00A0, 0x2018, 0x2019, 0x00A3, 0x20AC, 0x20AF, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x037A, 0x00AB, 0x00AC, 0x00AD, 0x0000, 0x2015,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x0384, 0x0385, 0x0386, 0x00B7,
    0x0388, 0x0389, 0x038A, 0x00BB, 0x038C, 0x00BD, 0x038E, 0x038F,
    0x0390, 0x0391, 0x0392, 0x0393, 0x0394, 0x0395, 0x0396, 0x0397,
    0x0398, 0x0399, 0x039A, 0x039B, 0x039C, 0x039D, 0x039E, 0x039F,
    0x03A0, 0x03A1, 0x0000, 0x03A3, 0x03A4, 0x03A5, 0x03A6, 0x03A7,
    0x03A8, 0x03A9, 0x03AA, 0x03AB, 0x03AC, 0x03AD, 0x03AE, 0x03AF,
    0x03B0, 0x03B1, 0x03B2, 0x03B3, 0x03B4, 0x03B5, 0x03B6, 0x03B7,
    0x03B8, 0x03B9, 0x03BA, 0x03BB, 0x03BC, 0x03BD, 0x03BE, 0x03BF,
    0x03C0, 0x03C1, 0x03C2, 0x03C3, 0x03C4, 0x03C5, 0x03C6, 0x03C7,
    0x03C8, 0x03C9, 0x03CA, 0x03CB, 0x03CC, 0x03CD, 0x03CE, 0x0000,
];

/// ISO/IEC 8859-8, Latin/Hebrew.
#[rustfmt::skip]
const ISO_8859_8: HighHalfTable = [
    0x00A0, 0x0000, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x00D7, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    0x00B8, 0x00B9, 0x00F7, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x2017,
    0x05D0, 0x05D1, 0x05D2, 0x05D3, 0x05D4, 0x05D5, 0x05D6, 0x05D7,
    0x05D8, 0x05D9, 0x05DA, 0x05DB, 0x05DC, 0x05DD, 0x05DE, 0x05DF,
    0x05E0, 0x05E1, 0x05E2, 0x05E3, 0x05E4, 0x05E5, 0x05E6, 0x05E7,
    0x05E8, 0x05E9, 0x05EA, 0x0000, 0x0000, 0x200E, 0x200F, 0x0000,
];

/// ISO/IEC 8859-9, Latin-5: Turkish; Latin-1 with Ğ İ Ş ğ ı ş in place of Ð Ý Þ ð ý þ.
#[rustfmt::skip]
const ISO_8859_9: HighHalfTable = [
    0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF,
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x011E, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x0130, 0x015E, 0x00DF,
    0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x011F, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x0131, 0x015F, 0x00FF,
];

/// ISO/IEC 8859-10, Latin-6: Nordic.
#[rustfmt::skip]
const ISO_8859_10: HighHalfTable = [
    0x00A0, 0x0104, 0x0112, 0x0122, 0x012A, 0x0128, 0x0136, 0x00A7,
    0x013B, 0x0110, 0x0160, 0x0166, 0x017D, 0x00AD, 0x016A, 0x014A,
    0x00B0, 0x0105, 0x0113, 0x0123, 0x012B, 0x0129, 0x0137, 0x00B7,
    0x013C, 0x0111, 0x0161, 0x0167, 0x017E, 0x2015, 0x016B, 0x014B,
    0x0100, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x012E,
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x0116, 0x00CD, 0x00CE, 0x00CF,
    0x00D0, 0x0145, 0x014C, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x0168,
    0x00D8, 0x0172, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00DE, 0x00DF,
    0x0101, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x012F,
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x0117, 0x00ED, 0x00EE, 0x00EF,
    0x00F0, 0x0146, 0x014D, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x0169,
    0x00F8, 0x0173, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x00FE, 0x0138,
];

/// ISO/IEC 8859-11, Latin/Thai.
#[rustfmt::skip]
const ISO_8859_11: HighHalfTable = [
    0x00A0, 0x0E01, 0x0E02, 0x0E03, 0x0E04, 0x0E05, 0x0E06, 0x0E07,
    0x0E08, 0x0E09, 0x0E0A, 0x0E0B, 0x0E0C, 0x0E0D, 0x0E0E, 0x0E0F,
    0x0E10, 0x0E11, 0x0E12, 0x0E13, 0x0E14, 0x0E15, 0x0E16, 0x0E17,
    0x0E18, 0x0E19, 0x0E1A, 0x0E1B, 0x0E1C, 0x0E1D, 0x0E1E, 0x0E1F,
    0x0E20, 0x0E21, 0x0E22, 0x0E23, 0x0E24, 0x0E25, 0x0E26, 0x0E27,
    0x0E28, 0x0E29, 0x0E2A, 0x0E2B, 0x0E2C, 0x0E2D, 0x0E2E, 0x0E2F,
    0x0E30, 0x0E31, 0x0E32, 0x0E33, 0x0E34, 0x0E35, 0x0E36, 0x0E37,
    0x0E38, 0x0E39, 0x0E3A, 0x0000, 0x0000, 0x0000, 0x0000, 0x0E3F,
    0x0E40, 0x0E41, 0x0E42, 0x0E43, 0x0E44, 0x0E45, 0x0E46, 0x0E47,
    0x0E48, 0x0E49, 0x0E4A, 0x0E4B, 0x0E4C, 0x0E4D, 0x0E4E, 0x0E4F,
    0x0E50, 0x0E51, 0x0E52, 0x0E53, 0x0E54, 0x0E55, 0x0E56, 0x0E57,
    0x0E58, 0x0E59, 0x0E5A, 0x0E5B, 0x0000, 0x0000, 0x0000, 0x0000,
];

/// ISO/IEC 8859-13, Latin-7: Baltic Rim.
#[rustfmt::skip]
const ISO_8859_13: HighHalfTable = [
    0x00A0, 0x201D, 0x00A2, 0x00A3, 0x00A4, 0x201E, 0x00A6, 0x00A7,
    0x00D8, 0x00A9, 0x0156, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00C6,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x201C, 0x00B5, 0x00B6, 0x00B7,
    0x00F8, 0x00B9, 0x0157, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00E6,
    0x0104, 0x012E, 0x0100, 0x0106, 0x00C4, 0x00C5, 0x0118, 0x0112,
    0x010C, 0x00C9, 0x0179, 0x0116, 0x0122, 0x0136, 0x012A, 0x013B,
    0x0160, 0x0143, 0x0145, 0x00D3, 0x014C, 0x00D5, 0x00D6, 0x00D7,
    0x0172, 0x0141, 0x015A, 0x016A, 0x00DC, 0x017B, 0x017D, 0x00DF,
    0x0105, 0x012F, 0x0101, 0x0107, 0x00E4, 0x00E5, 0x0119, 0x0113,
    0x010D, 0x00E9, 0x017A, 0x0117, 0x0123, 0x0137, 0x012B, 0x013C,
    0x0161, 0x0144, 0x0146, 0x00F3, 0x014D, 0x00F5, 0x00F6, 0x00F7,
    0x0173, 0x0142, 0x015B, 0x016B, 0x00FC, 0x017C, 0x017E, 0x2019,
];

/// ISO/IEC 8859-14, Latin-8: Celtic.
#[rustfmt::skip]
const ISO_8859_14: HighHalfTable = [
    0x00A0, 0x1E02, 0x1E03, 0x00A3, 0x010A, 0x010B, 0x1E0A, 0x00A7,
    0x1E80, 0x00A9, 0x1E82, 0x1E0B, 0x1EF2, 0x00AD, 0x00AE, 0x0178,
    0x1E1E, 0x1E1F, 0x0120, 0x0121, 0x1E40, 0x1E41, 0x00B6, 0x1E56,
    0x1E81, 0x1E57, 0x1E83, 0x1E60, 0x1EF3, 0x1E84, 0x1E85, 0x1E61,
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x0174, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x1E6A,
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x0176, 0x00DF,
    0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x0175, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x1E6B,
    0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x0177, 0x00FF,
];

/// ISO/IEC 8859-15, Latin-9: Latin-1 with € Š š Ž ž Œ œ Ÿ.
#[rustfmt::skip]
const ISO_8859_15: HighHalfTable = [
    0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x20AC, 0x00A5, 0x0160, 0x00A7,
    0x0161, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x017D, 0x00B5, 0x00B6, 0x00B7,
    0x017E, 0x00B9, 0x00BA, 0x00BB, 0x0152, 0x0153, 0x0178, 0x00BF,
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x00D0, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00DE, 0x00DF,
    0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x00F0, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x00FE, 0x00FF,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Joins a selector and text bytes, so tests read like the strings on the wire.
    fn with_selector(selector: &[u8], text: &[u8]) -> Vec<u8> {
        [selector, text].concat()
    }

    // --- Character code table 00 (no selector) ------------------------------------------

    #[test]
    fn empty_and_plain_ascii() {
        assert_eq!(decode(b""), "");
        assert_eq!(decode(b"Canal+ Cinema 1"), "Canal+ Cinema 1");
        assert_eq!(
            decode(b" !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"),
            " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"
        );
    }

    #[test]
    fn iso6937_diacritics_compose_with_the_following_letter() {
        assert_eq!(decode(&[b'T', 0xC2, b'e', b'l', 0xC2, b'e']), "Télé");
        assert_eq!(decode(b"Canal+ S\xC2eries"), "Canal+ Séries");
        assert_eq!(decode(&[0xCB, b'C', b'a']), "Ça");
        assert_eq!(decode(&[b'N', b'a', 0xC8, b'i', b'v', b'e']), "Naïve");
        assert_eq!(decode(&[0xC1, b'a', b' ', b'l', 0xC3, b'a']), "à lâ");
        assert_eq!(
            decode(&[b'E', b's', b'p', b'a', 0xC4, b'n', b'a']),
            "España"
        );
        assert_eq!(decode(&[b'K', 0xCA, b'a', b'r', b'e']), "Kåre");
        assert_eq!(decode(&[b'P', b'e', 0xCD, b'o', b'f', b'i']), "Peőfi");
        assert_eq!(decode(&[0xCF, b'C', b'e', b's', b'k', 0xC2, b'a']), "Česká");
        assert_eq!(decode(&[b'G', 0xCE, b'e', b's', b'i']), "Gęsi");
        assert_eq!(
            decode(&[0xC7, b'I', b's', b't', b'a', b'n', b'b', b'u', b'l']),
            "İstanbul"
        );
        assert_eq!(decode(&[b'D', b'o', 0xC6, b'g', b'a', b'n']), "Doğan");
        assert_eq!(decode(&[b'R', 0xC5, b'i', b'g', b'a']), "Rīga");
    }

    #[test]
    fn iso6937_letter_without_precomposed_form_gets_a_combining_mark() {
        assert_eq!(decode(&[0xCA, b'e']), "e\u{30A}");
        assert_eq!(decode(&[0xCD, b'a']), "a\u{30B}");
    }

    #[test]
    fn iso6937_diacritic_with_nothing_to_sit_on() {
        // Trailing: the spacing form, no panic.
        assert_eq!(decode(&[b'C', b'a', b'f', 0xC2]), "Caf´");
        assert_eq!(decode(&[0xCF]), "ˇ");
        // Diacritic + space is how ISO 6937 spells the spacing mark.
        assert_eq!(decode(&[b'l', 0xC8, b' ', b'x']), "l¨x");
        // Before a digit, a control code, an upper-half character or another diacritic, the
        // mark stands alone and the next byte is read normally.
        assert_eq!(decode(&[0xC2, b'1']), "´1");
        assert_eq!(decode(&[0xC2, 0x8A, b'a']), "´\na");
        assert_eq!(decode(&[0xC3, 0xE9]), "^Ø");
        assert_eq!(decode(&[0xC2, 0xC3, b'e']), "´ê");
        // 0xC9: the old umlaut position, read as diaeresis.
        assert_eq!(decode(&[b'M', 0xC9, b'u', b'n', b'c', b'h']), "Münch");
    }

    #[test]
    fn iso6937_upper_half_follows_figure_a1() {
        assert_eq!(decode(&[b'5', 0xA4]), "5€");
        assert_eq!(decode(&[0xA8, 0xA3, 0xA5]), "¤£¥");
        assert_eq!(
            decode(&[0xA9, b'x', 0xB9, 0xAA, b'y', 0xBA]),
            "\u{2018}x\u{2019}\u{201C}y\u{201D}"
        );
        assert_eq!(decode(&[0xAB, b'a', 0xBB]), "«a»");
        assert_eq!(decode(&[0xB4, 0xB8, 0xD0, 0xD4, 0xD5]), "×÷―™♪");
        assert_eq!(
            decode(&[0xE1, 0xE9, 0xEA, 0xF1, 0xF9, 0xFA, 0xFB]),
            "ÆØŒæøœß"
        );
        assert_eq!(decode(&[0xE8, 0xF8, 0xF5, 0xE2, 0xF2]), "ŁłıĐđ");
        assert_eq!(decode(&[0xBC, 0xBD, 0xBE, 0xDC]), "¼½¾⅛");
        // Blank positions of the figure.
        for byte in [0xA6, 0xC0, 0xCC, 0xD8, 0xDB, 0xE5] {
            assert_eq!(decode(&[byte]), "\u{FFFD}", "byte {byte:#04x}");
        }
    }

    // --- Control codes ------------------------------------------------------------------

    #[test]
    fn single_byte_control_codes() {
        assert_eq!(decode(b"\x86Le film\x87\x8Asuite"), "Le film\nsuite");
        assert_eq!(decode(b"a\x80b\x9Fc\x7Fd"), "abcd");
        // C0 bytes after the first are not selectors: dropped.
        assert_eq!(decode(b"a\x05b\x15c\x1F"), "abc");
        // Trailing NUL padding goes, inner and trailing spaces stay.
        assert_eq!(decode(b"Arte  HD \0\0\0"), "Arte  HD ");
        let latin9 = with_selector(&[0x0B], b"\x86Prix\x87 20\xA4\x8A");
        assert_eq!(decode(&latin9), "Prix 20€\n");
    }

    // --- ISO 8859 -----------------------------------------------------------------------

    #[test]
    fn one_byte_iso8859_selectors() {
        let cases: [(u8, &[u8], &str); 10] = [
            (0x01, &[0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2], "Привет"),
            (0x02, &[0xC7, 0xE4, 0xD9, 0xD1, 0xC8, 0xEA, 0xC9], "العربية"),
            (0x03, &[0xC5, 0xEB, 0xEB, 0xDC, 0xE4, 0xE1], "Ελλάδα"),
            (0x04, &[0xF9, 0xEC, 0xE5, 0xED], "שלום"),
            (
                0x05,
                &[0xC7, 0xE1, 0xF0, 0xFD, 0xFE, 0xD0, 0xDD, 0xDE],
                "ÇáğışĞİŞ",
            ),
            (0x06, &[0xA1, 0xB1, 0xBD, 0xBF], "Ąą―ŋ"),
            (0x07, &[0xA1, 0xD2, 0xC3], "การ"),
            (0x09, &[0xD0, 0xF0, 0xDE, 0xFE], "ŠšŽž"),
            (0x0A, &[0xA1, 0xD0, 0xF7, 0xFF], "ḂŴṫÿ"),
            (
                0x0B,
                &[0xA4, 0xA6, 0xA8, 0xB4, 0xB8, 0xBC, 0xBD, 0xBE],
                "€ŠšŽžŒœŸ",
            ),
        ];
        for (selector, text, expected) in cases {
            assert_eq!(
                decode(&with_selector(&[selector], text)),
                expected,
                "selector {selector:#04x}"
            );
        }
    }

    #[test]
    fn iso8859_9_title_bytes() {
        assert_eq!(decode(&[0x05, b'T', b'e', b's', b't', 0xFD]), "Testı");
    }

    #[test]
    fn three_byte_iso8859_selector() {
        assert_eq!(decode(&[0x10, 0x00, 0x02, 0xE8]), "č");
        assert_eq!(decode(&[0x10, 0x00, 0x02, b'Z', 0xE1, 0xB9, b'v']), "Zášv");
        assert_eq!(
            decode(&[0x10, 0x00, 0x01, b'S', 0xE9, b'r', b'i', b'e']),
            "Série"
        );
        assert_eq!(decode(&[0x10, 0x00, 0x0F, 0xA4]), "€");
        assert_eq!(decode(&[0x10, 0x00, 0x09, 0xDD]), "İ");
        assert_eq!(decode(&[0x10, 0x00, 0x0E, 0xD0]), "Ŵ");
    }

    #[test]
    fn three_byte_selector_naming_no_table_falls_back_to_the_default() {
        // Part 12 was never published; 0x10 0x01 0x05 is outside table A.4.
        assert_eq!(decode(&[0x10, 0x00, 0x0C, 0xC2, b'e']), "é");
        assert_eq!(decode(&[0x10, 0x01, 0x05, b'a']), "a");
        assert_eq!(decode(&[0x10, 0x00, 0x00, b'a']), "a");
    }

    #[test]
    fn truncated_selectors_give_empty_text() {
        assert_eq!(decode(&[0x10]), "");
        assert_eq!(decode(&[0x10, 0x00]), "");
        assert_eq!(decode(&[0x10, 0x00, 0x05]), "");
        assert_eq!(decode(&[0x1F]), "");
        for selector in [0x01, 0x05, 0x0B, 0x11, 0x12, 0x15] {
            assert_eq!(decode(&[selector]), "", "selector {selector:#04x}");
        }
    }

    #[test]
    fn reserved_selectors_are_skipped() {
        for selector in [0x00, 0x08, 0x0C, 0x0F, 0x16, 0x1E] {
            let bytes = with_selector(&[selector], &[b'T', 0xC2, b'e', b'l', 0xC2, b'e']);
            assert_eq!(decode(&bytes), "Télé", "selector {selector:#04x}");
        }
    }

    // --- Two-byte and UTF-8 -------------------------------------------------------------

    #[test]
    fn ucs2_with_control_codes() {
        let bytes = [
            0x11, 0xE0, 0x86, 0x00, 0x41, 0x00, 0xE9, 0xE0, 0x87, 0xE0, 0x8A, 0x04, 0x2F, 0x20,
            0xAC,
        ];
        assert_eq!(decode(&bytes), "Aé\nЯ€");
        // Other table A.2 codes and C0 controls are dropped.
        assert_eq!(
            decode(&[0x11, 0xE0, 0x80, 0x00, 0x0D, 0x00, 0x62, 0x00, 0x00]),
            "b"
        );
    }

    #[test]
    fn ucs2_malformed_input() {
        // Odd length: the half character becomes U+FFFD, a NUL pad byte is ignored.
        assert_eq!(decode(&[0x11, 0x00, 0x41, 0x00, 0x42, 0x04]), "AB\u{FFFD}");
        assert_eq!(decode(&[0x11, 0x00, 0x41, 0x00]), "A");
        // A lone surrogate is replaced; a proper pair is accepted.
        assert_eq!(decode(&[0x11, 0xD8, 0x00, 0x00, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[0x11, 0xD8, 0x3D, 0xDE, 0x00]), "😀");
    }

    #[test]
    fn utf8_with_control_codes() {
        let mut bytes = vec![0x15];
        bytes.extend_from_slice("\u{E086}Télé\u{E087} Zürich\u{E08A}Ça".as_bytes());
        assert_eq!(decode(&bytes), "Télé Zürich\nÇa");
        let c1_from_latin = with_selector(&[0x15], "a\u{86}b\u{8A}c\u{E090}\u{7}d".as_bytes());
        assert_eq!(decode(&c1_from_latin), "ab\ncd");
    }

    #[test]
    fn invalid_utf8_becomes_replacement() {
        assert_eq!(decode(&[0x15, b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(decode(&[0x15, b'a', 0xC3]), "a\u{FFFD}");
        assert_eq!(decode(&[0x15, 0xE2, 0x82, b'x']), "\u{FFFD}x");
    }

    #[test]
    fn cjk_tables_keep_ascii_and_replace_double_byte_characters() {
        assert_eq!(
            decode(&[0x12, b'K', b'B', b'S', b' ', 0xB0, 0xA1, 0xB3, 0xAA]),
            "KBS \u{FFFD}\u{FFFD}"
        );
        assert_eq!(
            decode(&[0x13, b'C', b'C', b'T', b'V', b'-', b'1', 0xD6, 0xD0]),
            "CCTV-1\u{FFFD}"
        );
        // Big5 trail bytes may be ASCII values; they must not leak as letters.
        assert_eq!(decode(&[0x14, 0xA4, 0x40, b'!']), "\u{FFFD}!");
        assert_eq!(decode(&[0x14, b'a', 0xA4]), "a\u{FFFD}");
    }

    // --- Compressed text ----------------------------------------------------------------

    /// A Freeview EIT title (encoding_type_id 1) from dvbt-uk-freeview-huffman-eit-corrupt.ts.
    const FREEVIEW_TITLE: [u8; 16] = [
        0x1F, 0x01, 0x63, 0xD8, 0x97, 0x88, 0x1A, 0xAF, 0x60, 0x14, 0x5B, 0x53, 0x80, 0x44, 0x7E,
        0x30,
    ];

    /// Its short event text (encoding_type_id 2), from the same descriptor.
    const FREEVIEW_DESCRIPTION: [u8; 88] = [
        0x1F, 0x02, 0xB5, 0x14, 0x02, 0x12, 0x4D, 0x5F, 0xAB, 0x2E, 0xA0, 0xFD, 0x87, 0x69, 0x2D,
        0xF1, 0x8F, 0xA9, 0xEE, 0x87, 0xDE, 0x83, 0xB3, 0x96, 0x00, 0xBD, 0xBE, 0xF3, 0xEB, 0x9C,
        0x7B, 0x53, 0x6C, 0x81, 0x30, 0xBC, 0x67, 0x7A, 0x80, 0xFA, 0xB3, 0x72, 0xA2, 0xB7, 0x87,
        0x5D, 0x7F, 0xCE, 0x65, 0x8B, 0x64, 0xF7, 0x01, 0x8E, 0x96, 0x83, 0x4D, 0xBB, 0xA7, 0xC6,
        0xF7, 0xF9, 0x02, 0x61, 0x79, 0x6D, 0x9A, 0xD7, 0xBE, 0x08, 0x1D, 0xAA, 0xF3, 0x91, 0x1F,
        0x76, 0x0A, 0x49, 0xC2, 0x5C, 0x38, 0x85, 0x0A, 0xC2, 0xDF, 0xB6, 0x6E, 0x90,
    ];

    const FREEVIEW_TITLE_TEXT: &str = "Lulu Guinness Accessories";
    const FREEVIEW_DESCRIPTION_TEXT: &str = "Lulu Guinness is one of the leading ladies of \
        British fashion. Her collection is very distinctive, feminine and witty - her iconic, \
        collectable handmade bags are instantly recognisable.";

    #[test]
    fn compressed_text_is_detected() {
        assert!(is_compressed(&FREEVIEW_TITLE));
        assert!(is_compressed(&FREEVIEW_DESCRIPTION));
        assert!(is_compressed(&[0x1F, 0x07]));
        assert!(!is_compressed(&[0x1F]));
        assert!(!is_compressed(b"Pointless"));
        assert!(!is_compressed(b""));
    }

    #[test]
    fn freeview_title_and_description_decompress() {
        assert_eq!(decode(&FREEVIEW_TITLE), FREEVIEW_TITLE_TEXT);
        assert_eq!(decode(&FREEVIEW_DESCRIPTION), FREEVIEW_DESCRIPTION_TEXT);
        // Forcing a single-byte table changes nothing for ASCII text.
        assert_eq!(
            decode_with(&FREEVIEW_TITLE, Charset::Iso8859(1), true),
            FREEVIEW_TITLE_TEXT
        );
        assert_eq!(
            decode_with(&FREEVIEW_TITLE, Charset::Ucs2, true),
            FREEVIEW_TITLE_TEXT
        );
    }

    #[test]
    // The skip must be loud, and the decoded strings are printed for a human to look at.
    #[allow(clippy::print_stderr)]
    fn compressed_text_from_the_capture() {
        use crate::reader::PacketReader;
        use crate::section::SectionAssembler;
        use crate::tables::eit;

        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/streams/dvbt-uk-freeview-huffman-eit-corrupt.ts");
        let Ok(capture) = std::fs::read(&path) else {
            eprintln!(
                "SKIPPED compressed_text_from_the_capture: {} is not there",
                path.display()
            );
            return;
        };
        let mut reader = PacketReader::new();
        let mut assembler = SectionAssembler::new();
        let mut events = Vec::new();
        let mut on_packet = |packet: &crate::RawPacket| {
            if crate::packet::pid(packet) != 0x12 {
                return;
            }
            assembler.push(packet, &eit::is_eit, &mut |section| {
                let Ok(table) = section
                    .map_err(drop)
                    .and_then(|s| eit::parse(&s).map_err(drop))
                else {
                    return;
                };
                for event in table.events() {
                    if let Some(short) = event.short_event() {
                        let compressed = is_compressed(short.name);
                        events.push((compressed, decode(short.name), decode(short.text)));
                    }
                }
            });
        };
        reader.push(&capture, &mut on_packet);
        reader.finish(&mut on_packet);
        for (compressed, title, text) in &events {
            eprintln!("compressed {compressed}: {title:?} / {text:?}");
        }
        let compressed: Vec<_> = events.iter().filter(|event| event.0).collect();
        assert_eq!(compressed.len(), 1, "{events:?}");
        assert_eq!(compressed[0].1, FREEVIEW_TITLE_TEXT);
        assert_eq!(compressed[0].2, FREEVIEW_DESCRIPTION_TEXT);
    }

    #[test]
    fn damaged_compressed_text_keeps_its_decoded_prefix() {
        // Nothing after the encoding_type_id: not even a STOP code.
        assert_eq!(decode(&[0x1F, 0x01]), "\u{FFFD}");
        assert_eq!(decode(&[0x1F, 0x02]), "\u{FFFD}");
        let cut = decode(&FREEVIEW_TITLE[..10]);
        assert!(cut.starts_with("Lulu Gui"), "{cut}");
        assert!(cut.ends_with('\u{FFFD}'), "{cut}");
        assert!(FREEVIEW_TITLE_TEXT.starts_with(cut.trim_end_matches('\u{FFFD}')));
        // Each whole title must never be mistaken for a damaged one.
        assert!(!decode(&FREEVIEW_DESCRIPTION).contains('\u{FFFD}'));
    }

    #[test]
    fn unknown_compression_stays_a_placeholder() {
        for encoding_type_id in [0x00, 0x03, 0x10, 0xFF] {
            let bytes = [0x1F, encoding_type_id, 0x63, 0xD8, 0x97];
            assert_eq!(decode(&bytes), COMPRESSED_TEXT, "{encoding_type_id:#04x}");
            assert_eq!(
                decode_with(&bytes, Charset::Iso8859(1), true),
                COMPRESSED_TEXT
            );
        }
    }

    #[test]
    fn escaped_bytes_in_compressed_text() {
        use freesat::tests::{Codes, compress};
        let titles = Codes::of(freesat::table(1).unwrap());
        let compressed = |body: &[u8]| {
            let mut bytes = vec![0x1F, 0x01];
            bytes.extend(compress(&titles, body, 0));
            bytes
        };
        // Valid UTF-8 with non-ASCII is read as UTF-8...
        let utf8 = compressed("Café Zürich €".as_bytes());
        assert_eq!(decode(&utf8), "Café Zürich €");
        // ...unless the operator forces a table.
        assert_eq!(
            decode_with(&utf8, Charset::Iso8859(1), true),
            // (0x82, from the euro sign, is a C1 control code: dropped.)
            "CafÃ© ZÃ¼rich â¬"
        );
        // Anything else is DVB text in the default table: ISO 6937 diacritics...
        let iso6937 = compressed(b"Caf\xC2e");
        assert_eq!(decode(&iso6937), "Café");
        // ...or the operator's table for broadcasters that send Latin-1.
        let latin1 = compressed(b"Caf\xE9 Z\xFCrich");
        assert_eq!(
            decode_with(&latin1, Charset::Iso8859(1), false),
            "Café Zürich"
        );
        assert_eq!(decode(&latin1), "CafØ Zþrich");
        // UCS-2 cannot be the table of byte-oriented text: table 00 is used instead.
        assert_eq!(decode_with(&latin1, Charset::Ucs2, false), "CafØ Zþrich");
        // DVB control codes inside still work: CR/LF (0x8A) breaks the line.
        assert_eq!(decode(&compressed(b"One\x8ATwo")), "One\nTwo");
    }

    // --- Operator overrides -------------------------------------------------------------

    #[test]
    fn default_charset_applies_only_without_selector() {
        let latin1 = b"S\xE9rie";
        assert_eq!(decode(latin1), "SØrie");
        assert_eq!(decode_with(latin1, Charset::Iso8859(1), false), "Série");
        assert_eq!(
            decode_with(&with_selector(&[0x05], latin1), Charset::Utf8, false),
            "Série"
        );
        assert_eq!(
            decode_with("Zürich".as_bytes(), Charset::Utf8, false),
            "Zürich"
        );
        // Without a selector the first byte is 0x20 or above, so only text like this can be
        // two-byte text that omits it.
        assert_eq!(
            decode_with(&[0x4E, 0x2D, 0x65, 0x87], Charset::Ucs2, false),
            "中文"
        );
    }

    #[test]
    fn force_skips_the_selector_and_uses_the_default() {
        // Says 8859-5 (Cyrillic), is really Latin-1.
        let lying = with_selector(&[0x01], b"S\xE9rie");
        assert_eq!(decode(&lying), "Sщrie");
        assert_eq!(decode_with(&lying, Charset::Iso8859(1), true), "Série");
        // The three-byte form is skipped whole.
        let lying3 = [0x10, 0x00, 0x02, b'S', 0xE9, b'r', b'i', b'e'];
        assert_eq!(decode_with(&lying3, Charset::Iso8859(15), true), "Série");
        // Says UTF-8, is ISO 6937.
        let utf8 = [0x15, b'T', 0xC2, b'e', b'l', 0xC2, b'e'];
        assert_eq!(decode_with(&utf8, Charset::Iso6937, true), "Télé");
        // Forcing text without a selector is the same as the plain default.
        assert_eq!(decode_with(b"S\xE9rie", Charset::Iso8859(1), true), "Série");
    }

    #[test]
    fn nonexistent_iso8859_part_as_default_decodes_ascii_only() {
        assert!(!Charset::Iso8859(12).is_valid());
        assert!(!Charset::Iso8859(0).is_valid());
        assert!(!Charset::Iso8859(16).is_valid());
        assert!(Charset::Iso8859(9).is_valid());
        assert!(Charset::Big5.is_valid());
        assert_eq!(
            decode_with(b"ab\xE9\x8A", Charset::Iso8859(12), false),
            "ab\u{FFFD}\n"
        );
    }

    // --- Real broadcast strings ---------------------------------------------------------

    #[test]
    fn french_dtt_titles_in_iso8859_9() {
        // EIT titles from dvbt-fr-multi4-si-eit-schedule.ts (TNT multiplex R4).
        let titles: [(&[u8], &str); 3] = [
            (
                &[
                    0x05, 0xC7, 0x61, 0x20, 0x63, 0x6F, 0x6D, 0x6D, 0x65, 0x6E, 0x63, 0x65, 0x20,
                    0x61, 0x75, 0x6A, 0x6F, 0x75, 0x72, 0x64, 0x27, 0x68, 0x75, 0x69,
                ],
                "Ça commence aujourd'hui",
            ),
            (
                &[
                    0x05, 0x53, 0x63, 0xE8, 0x6E, 0x65, 0x73, 0x20, 0x64, 0x65, 0x20, 0x6D, 0xE9,
                    0x6E, 0x61, 0x67, 0x65, 0x73,
                ],
                "Scènes de ménages",
            ),
            (
                &[
                    0x05, 0x55, 0x6E, 0x20, 0x64, 0xEE, 0x6E, 0x65, 0x72, 0x20, 0x70, 0x72, 0x65,
                    0x73, 0x71, 0x75, 0x65, 0x20, 0x70, 0x61, 0x72, 0x66, 0x61, 0x69, 0x74,
                ],
                "Un dîner presque parfait",
            ),
        ];
        for (bytes, expected) in titles {
            assert_eq!(decode(bytes), expected);
        }
    }

    #[test]
    fn french_satellite_text_without_selector() {
        // From dvbs-fr-canalsat-eit-pf-other.ts. The guillemets sit at 0xAB/0xBB in both
        // ISO 6937 and Latin-1, so this title reads the same either way...
        let title = [
            0x4C, 0x45, 0x20, 0x4D, 0x59, 0x53, 0x54, 0x45, 0x52, 0x45, 0x20, 0x44, 0x45, 0x53,
            0x20, 0xAB, 0x44, 0x45, 0x53, 0x45, 0x4E, 0x43, 0x48, 0x41, 0x4E, 0x54, 0x45, 0x45,
            0x53, 0xBB,
        ];
        assert_eq!(decode(&title), "LE MYSTERE DES «DESENCHANTEES»");
        // ...but the accented letters show the service really sends Latin-1 without a
        // selector: the operator's default fixes it.
        let description = [
            0x45, 0x4E, 0x20, 0x44, 0x49, 0x52, 0x45, 0x43, 0x54, 0x2E, 0x20, 0x20, 0x31, 0x65,
            0x72, 0x20, 0x6A, 0x6F, 0x75, 0x72, 0x2E, 0x20, 0x41, 0x20, 0x54, 0x61, 0xEF, 0x77,
            0x61, 0x6E, 0x2E,
        ];
        assert_eq!(decode(&description), "EN DIRECT.  1er jour. A Taŉwan.");
        assert_eq!(
            decode_with(&description, Charset::Iso8859(1), false),
            "EN DIRECT.  1er jour. A Taïwan."
        );
    }

    // --- Encoding -----------------------------------------------------------------------

    #[test]
    fn encode_ascii_as_plain_bytes() {
        assert_eq!(encode(""), b"");
        assert_eq!(encode("France 5"), b"France 5");
        assert_eq!(encode("Line 1\nLine 2"), b"Line 1\x8ALine 2");
        for text in ["France 5", "M6 (HD) - #1: 50% @home ~{[|]}^_`$\\", "a\nb"] {
            assert_eq!(decode(&encode(text)), text);
        }
    }

    #[test]
    fn encode_other_text_as_utf8() {
        let encoded = encode("Télé Zürich");
        assert_eq!(encoded[0], 0x15);
        assert_eq!(&encoded[1..], "Télé Zürich".as_bytes());
        assert_eq!(decode(&encoded), "Télé Zürich");
        for text in ["Ελλάδα\nΠρίσμα", "€ 5", "日本語", "😀", "tab\tgone"] {
            assert_eq!(decode(&encode(text)), text.replace('\t', ""));
        }
        assert_eq!(encode("é\n"), [0x15, 0xC3, 0xA9, 0xEE, 0x82, 0x8A]);
        // A control character alone does not make text "non-ASCII" enough to keep it.
        assert_eq!(decode(&encode("a\u{1}b")), "ab");
    }

    // --- Tables -------------------------------------------------------------------------

    #[test]
    fn diacritic_tables_are_aligned() {
        for diacritic in &DIACRITICS {
            assert!(diacritic.bases.bytes().all(|b| b.is_ascii_alphabetic()));
            assert_eq!(
                diacritic.bases.len(),
                diacritic.precomposed.chars().count(),
                "{}",
                diacritic.bases
            );
        }
    }

    #[test]
    fn every_upper_half_byte_of_every_table_decodes_to_one_char() {
        let parts = (1..=15).filter(|&part| part != 12);
        let tables = parts.map(Charset::Iso8859).chain([Charset::Iso6937]);
        for charset in tables {
            for byte in 0xA0..=0xFF_u8 {
                if charset == Charset::Iso6937 && Diacritic::of(byte).is_some() {
                    continue;
                }
                let text = decode_with(&[byte], charset, false);
                assert_eq!(text.chars().count(), 1, "{charset:?} byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn iso8859_tables_keep_the_shared_positions() {
        // No-break space sits at 0xA0 in every part.
        for part in [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15] {
            assert_eq!(
                decode_with(&[0xA0], Charset::Iso8859(part), false),
                "\u{A0}",
                "part {part}"
            );
        }
        assert_eq!(decode_with(&[0xDF], Charset::Iso8859(9), false), "ß");
        assert_eq!(decode_with(&[0xFF], Charset::Iso8859(9), false), "ÿ");
        assert_eq!(decode_with(&[0xA4], Charset::Iso8859(1), false), "¤");
        assert_eq!(decode_with(&[0xA4], Charset::Iso8859(7), false), "€");
    }

    // --- Robustness ---------------------------------------------------------------------

    /// A xorshift generator: enough randomness to shake the decoder, no dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn byte(&mut self) -> u8 {
            self.next().to_le_bytes()[0]
        }
    }

    #[test]
    fn garbage_never_panics_and_output_stays_linear() {
        let defaults = [
            Charset::Iso6937,
            Charset::Iso8859(1),
            Charset::Iso8859(9),
            Charset::Iso8859(12),
            Charset::Utf8,
            Charset::Ucs2,
            Charset::Big5,
        ];
        let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut bytes = Vec::with_capacity(300);
        for round in 0..20_000 {
            bytes.clear();
            let length = usize::from(random.byte()) + 1;
            bytes.extend((0..length).map(|_| random.byte()));
            // Bias the first byte towards the selector range so every table is exercised.
            if round % 2 == 0 {
                bytes[0] %= 0x20;
            }
            let decoded = decode(&bytes);
            // Each input byte yields at most two chars (a letter plus a combining mark).
            // Compressed text can give up to 8 bytes a byte (one-bit codes), each of them at
            // most two chars, and never more than the decompression bound.
            let bound = if is_compressed(&bytes) {
                (16 * bytes.len()).min(2 * freesat::MAX_DECOMPRESSED) + COMPRESSED_TEXT.len()
            } else {
                2 * bytes.len()
            };
            assert!(decoded.chars().count() <= bound, "{bytes:02X?}");
            let default = defaults[round % defaults.len()];
            let _ = decode_with(&bytes, default, round % 3 == 0);
            let _ = is_compressed(&bytes);
        }
    }

    #[test]
    fn encode_round_trips_random_text() {
        let alphabet: Vec<char> = "aZ09 .,'!?-éèçñŒœ€Ğışß«»ΩЯ日😀\n".chars().collect();
        let mut random = XorShift(42);
        for _ in 0..2_000 {
            let length = usize::from(random.byte() % 40);
            let text: String = (0..length)
                .map(|_| alphabet[usize::from(random.byte()) % alphabet.len()])
                .collect();
            assert_eq!(decode(&encode(&text)), text);
        }
    }
}
