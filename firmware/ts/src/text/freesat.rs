//! Freesat/Freeview Huffman decompression of DVB text (selector 0x1F, `encoding_type_id` 1
//! for titles, 2 for descriptions).
//!
//! UK broadcasters squeeze EPG strings with a context-dependent Huffman code: the code used
//! for a character depends on the character before it (the first one is coded in a START
//! context), so that frequent pairs such as "th" take two or three bits. A STOP symbol ends
//! the string. An ESCAPE symbol is followed by literal 8-bit bytes, as long as they are
//! 0x80 or above (so a whole UTF-8 sequence or run of accented letters goes through); the
//! first byte below 0x80 is literal too, and the code takes over again with it as the
//! previous character. The bits of the string are read most significant first, and the
//! last byte is padded after STOP.
//!
//! The tables (see `freesat_tables.rs`) hold a complete prefix code for each of the 128
//! contexts, so any bit sequence decodes to something: what can go wrong is that the bits
//! run out before STOP (a truncated or corrupt string), or that the output gets longer than
//! any real descriptor could produce. Both end decoding with [`Ending::Damaged`]. Each
//! decoded byte costs at least one input bit, so the work is linear in the input.

use super::freesat_tables::{DESCRIPTIONS, TITLES};

/// One code table as decoding tries, one per context (START = 0, else the previous
/// character). `nodes[i]` holds the children for bit 0 and bit 1: another node's index, or
/// [`LEAF`] plus a symbol.
pub(super) struct Table {
    pub(super) roots: [u16; 128],
    pub(super) nodes: &'static [[u16; 2]],
}

pub(super) const LEAF: u16 = 0x8000;
pub(super) const STOP: u8 = 0x00;
pub(super) const ESCAPE: u8 = 0x01;
const START: u8 = 0x00;

/// The most decompressed bytes one string may give. A descriptor carries at most 255 bytes
/// and each decoded byte takes at least one bit, so no real string comes near it (8 × 255
/// = 2040); the bound only stops crafted input from inflating memory or output.
pub(super) const MAX_DECOMPRESSED: usize = 2048;

/// The table for an `encoding_type_id`; `None` for values we do not know.
pub(super) fn table(encoding_type_id: u8) -> Option<&'static Table> {
    match encoding_type_id {
        1 => Some(&TITLES),
        2 => Some(&DESCRIPTIONS),
        _ => None,
    }
}

/// How decompression ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// At a STOP symbol (or a literal NUL, which is the same value).
    Stop,
    /// The bits ran out before STOP, or the output reached [`MAX_DECOMPRESSED`]: what was
    /// decoded so far is kept.
    Damaged,
}

/// Decompresses `body` (what follows 0x1F and the `encoding_type_id`) into `out`, returning
/// the number of bytes written and how decoding ended. The bytes are DVB text without a
/// selector; the tables only code ASCII, anything else arrives escaped.
pub(super) fn decompress(
    table: &Table,
    body: &[u8],
    out: &mut [u8; MAX_DECOMPRESSED],
) -> (usize, Ending) {
    let mut bits = Bits { body, position: 0 };
    let mut written = 0;
    let mut context = START;
    loop {
        let Some(symbol) = next_symbol(table, context, &mut bits) else {
            return (written, Ending::Damaged);
        };
        match symbol {
            STOP => return (written, Ending::Stop),
            ESCAPE => loop {
                let Some(byte) = bits.byte() else {
                    return (written, Ending::Damaged);
                };
                if byte == STOP {
                    return (written, Ending::Stop);
                }
                let Some(slot) = out.get_mut(written) else {
                    return (written, Ending::Damaged);
                };
                *slot = byte;
                written += 1;
                if byte < 0x80 {
                    context = byte;
                    break;
                }
            },
            character => {
                let Some(slot) = out.get_mut(written) else {
                    return (written, Ending::Damaged);
                };
                *slot = character;
                written += 1;
                context = character;
            }
        }
    }
}

/// Walks the context's trie one bit at a time down to a symbol; `None` when the bits run
/// out (or, which the generated tables rule out, an index leads nowhere).
fn next_symbol(table: &Table, context: u8, bits: &mut Bits<'_>) -> Option<u8> {
    let mut node = *table.roots.get(usize::from(context))?;
    loop {
        let children = table.nodes.get(usize::from(node))?;
        let child = children[usize::from(bits.bit()?)];
        if child & LEAF != 0 {
            // The low byte is the symbol; the generator only stores 0x00..=0x7F there.
            return Some(child.to_be_bytes()[1]);
        }
        node = child;
    }
}

/// A most-significant-bit-first reader.
struct Bits<'a> {
    body: &'a [u8],
    position: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u8> {
        let byte = self.body.get(self.position / 8)?;
        let bit = (byte >> (7 - self.position % 8)) & 1;
        self.position += 1;
        Some(bit)
    }

    fn byte(&mut self) -> Option<u8> {
        let mut value = 0;
        for _ in 0..8 {
            value = (value << 1) | self.bit()?;
        }
        Some(value)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Every code of every context, per table: `codes[context][symbol]` is the bit string.
    pub(in crate::text) struct Codes(Vec<Vec<Option<Vec<u8>>>>);

    impl Codes {
        pub(in crate::text) fn of(table: &Table) -> Self {
            let contexts = table
                .roots
                .iter()
                .map(|&root| {
                    let mut codes = vec![None; 128];
                    let mut pending = vec![(root, Vec::new())];
                    while let Some((node, prefix)) = pending.pop() {
                        for (bit, child) in table.nodes[usize::from(node)].into_iter().enumerate() {
                            let mut code = prefix.clone();
                            code.push(u8::try_from(bit).unwrap());
                            if child & LEAF != 0 {
                                let symbol = usize::from(child & 0x7F);
                                // Escape-only contexts code ESCAPE with both bits.
                                let twice = codes[symbol].is_some();
                                assert!(!twice || symbol == 1, "symbol {symbol} coded twice");
                                codes[symbol].get_or_insert(code);
                            } else {
                                pending.push((child, code));
                            }
                        }
                    }
                    codes
                })
                .collect();
            Self(contexts)
        }

        fn code(&self, context: u8, symbol: u8) -> Option<&[u8]> {
            self.0
                .get(usize::from(context))?
                .get(usize::from(symbol))?
                .as_deref()
        }
    }

    /// The compressor a broadcaster would run, from the same tables: bytes without a code in
    /// their context (and every byte of 0x80 or above) go out escaped. `pad` fills the last
    /// byte after STOP.
    pub(in crate::text) fn compress(codes: &Codes, text: &[u8], pad: u8) -> Vec<u8> {
        let mut bits = Vec::new();
        let mut context = START;
        let mut raw = false;
        for &byte in text {
            assert_ne!(byte, 0, "NUL cannot be carried");
            if !raw {
                match codes.code(context, byte) {
                    Some(code) if byte > ESCAPE && byte < 0x80 => {
                        bits.extend_from_slice(code);
                        context = byte;
                        continue;
                    }
                    _ => bits.extend_from_slice(codes.code(context, ESCAPE).unwrap()),
                }
            }
            bits.extend((0..8).rev().map(|shift| (byte >> shift) & 1));
            raw = byte >= 0x80;
            context = byte;
        }
        match codes.code(context, STOP) {
            Some(stop) if !raw => bits.extend_from_slice(stop),
            // Escape-only contexts have no STOP code, and only a byte below 0x80 leaves a
            // literal run; a literal NUL ends the text in both cases.
            _ => {
                if !raw {
                    bits.extend_from_slice(codes.code(context, ESCAPE).unwrap());
                }
                bits.extend([0; 8]);
            }
        }
        while !bits.len().is_multiple_of(8) {
            bits.push(pad);
        }
        bits.chunks(8)
            .map(|byte| byte.iter().fold(0, |value, bit| (value << 1) | bit))
            .collect()
    }

    fn expand(table: &Table, body: &[u8]) -> (Vec<u8>, Ending) {
        let mut buffer = [0; MAX_DECOMPRESSED];
        let (length, ending) = decompress(table, body, &mut buffer);
        (buffer[..length].to_vec(), ending)
    }

    /// The generated tries hold exactly the codes of the source files, so a stale or
    /// hand-edited `freesat_tables.rs` fails here.
    #[test]
    fn tables_match_their_source_files() {
        for (table, source) in [
            (&TITLES, include_str!("freesat.t1")),
            (&DESCRIPTIONS, include_str!("freesat.t2")),
        ] {
            let codes = Codes::of(table);
            let mut per_context = [0_usize; 128];
            for line in source.lines() {
                let fields: Vec<&str> = line.split(':').collect();
                let [previous, bits, next, ""] = fields[..] else {
                    panic!("malformed line {line:?}");
                };
                let value = |token: &str| match token {
                    "START" | "STOP" => 0,
                    "ESCAPE" => 1,
                    hex if hex.len() == 4 => u8::from_str_radix(&hex[2..], 16).unwrap(),
                    character => character.as_bytes()[0],
                };
                let context = if previous == "STOP" {
                    2
                } else {
                    value(previous)
                };
                let bits: Vec<u8> = bits.bytes().map(|b| b - b'0').collect();
                per_context[usize::from(context)] += 1;
                let symbol = value(next);
                // The filler contexts code ESCAPE twice; the trie keeps one leaf per bit.
                if symbol == ESCAPE && bits.len() == 1 {
                    continue;
                }
                assert_eq!(codes.code(context, symbol), Some(&bits[..]), "{line}");
            }
            for (context, count) in per_context.into_iter().enumerate() {
                assert!(count >= 2, "context {context:#04x} has {count} codes");
            }
        }
    }

    #[test]
    fn every_context_can_escape_and_stop_or_escape() {
        for table in [&TITLES, &DESCRIPTIONS] {
            let codes = Codes::of(table);
            for context in 0..128 {
                assert!(
                    codes.code(context, ESCAPE).is_some(),
                    "context {context:#04x}"
                );
            }
            // The start of a string and ordinary letters can end the string directly.
            assert!(codes.code(b'e', STOP).is_some());
        }
    }

    #[test]
    fn freeview_title_and_description() {
        // dvbt-uk-freeview-huffman-eit-corrupt.ts, short event of a QVC programme.
        let title = [
            0x63, 0xD8, 0x97, 0x88, 0x1A, 0xAF, 0x60, 0x14, 0x5B, 0x53, 0x80, 0x44, 0x7E, 0x30,
        ];
        let (text, ending) = expand(&TITLES, &title);
        assert_eq!(text, b"Lulu Guinness Accessories");
        assert_eq!(ending, Ending::Stop);
        // The same bits read with the other table are something else entirely.
        assert_ne!(expand(&DESCRIPTIONS, &title).0, text);
    }

    #[test]
    fn round_trips_through_both_tables() {
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for table in [&TITLES, &DESCRIPTIONS] {
            let codes = Codes::of(table);
            for round in 0..3000 {
                let length = usize::try_from(next() % 120).unwrap();
                let text: Vec<u8> = (0..length)
                    .map(|_| match next() % 16 {
                        // Mostly printable ASCII, which the tables code (or escape where a
                        // context has no code for the character)...
                        0..=12 => u8::try_from(0x20 + next() % 0x5F).unwrap(),
                        // ...then high bytes, which always go out escaped...
                        13 | 14 => u8::try_from(0x80 + next() % 0x80).unwrap(),
                        // ...and control codes, which have only escaping contexts.
                        _ => u8::try_from(1 + next() % 0x1F).unwrap(),
                    })
                    .collect();
                let pad = u8::from(round % 2 == 0);
                let compressed = compress(&codes, &text, pad);
                let (expanded, ending) = expand(table, &compressed);
                assert_eq!(expanded, text, "round {round}: {compressed:02X?}");
                assert_eq!(ending, Ending::Stop);
            }
        }
    }

    #[test]
    fn escapes_are_taken_for_characters_without_a_code() {
        let codes = Codes::of(&TITLES);
        // '{' is an escape-only context in table 1, and titles rarely start with '!'.
        assert!(codes.code(b'{', b'}').is_none());
        assert!(codes.code(START, b'!').is_none());
        let text = b"!{}} \xC3\xA9t\xC3\xA9 ~";
        let compressed = compress(&codes, text, 1);
        assert_eq!(expand(&TITLES, &compressed), (text.to_vec(), Ending::Stop));
    }

    #[test]
    fn truncated_input_keeps_the_decoded_prefix() {
        let codes = Codes::of(&DESCRIPTIONS);
        let text = b"Pointless: the quiz where contestants score as few points as possible.";
        let compressed = compress(&codes, text, 0);
        for cut in 0..compressed.len() {
            let (expanded, ending) = expand(&DESCRIPTIONS, &compressed[..cut]);
            assert!(text.starts_with(&expanded), "cut {cut}: {expanded:?}");
            // Padding is under 8 bits, so every cut takes at least part of the STOP code.
            assert_eq!(ending, Ending::Damaged, "cut {cut}");
        }
        // Cut in the middle of a run of literals.
        let escaped = compress(&codes, b"\xE9\xE9\xE9", 0);
        // START's ESCAPE code has 17 bits in table 2: 32 bits hold it and one literal.
        assert_eq!(codes.code(START, ESCAPE).map(<[u8]>::len), Some(17));
        let (expanded, ending) = expand(&DESCRIPTIONS, &escaped[..4]);
        assert_eq!((expanded, ending), (vec![0xE9], Ending::Damaged));
    }

    #[test]
    fn garbage_stops_cleanly_and_output_is_bounded() {
        for table in [&TITLES, &DESCRIPTIONS] {
            for body in [&[][..], &[0xFF; 300][..], &[0x00; 300][..], &[0xAA; 7][..]] {
                let (expanded, _) = expand(table, body);
                assert!(expanded.len() <= 8 * body.len());
            }
            // Long input cannot inflate past the cap: '*' after '*' costs one bit in table 1.
            let codes = Codes::of(table);
            let stars = compress(&codes, &[b'*'; 3000], 0);
            let (expanded, ending) = expand(table, &stars);
            assert_eq!(expanded.len(), MAX_DECOMPRESSED);
            assert!(expanded.iter().all(|&b| b == b'*'));
            assert_eq!(ending, Ending::Damaged);
        }
        // All ones: a run of symbols (ones descend to the longest codes) until the bits end.
        let (expanded, ending) = expand(&TITLES, &[0xFF; 16]);
        assert_eq!(ending, Ending::Damaged);
        assert!(!expanded.is_empty());
    }

    #[test]
    fn literal_nul_ends_the_string() {
        let codes = Codes::of(&TITLES);
        let mut bits: Vec<u8> = codes.code(START, b'A').unwrap().to_vec();
        bits.extend_from_slice(codes.code(b'A', ESCAPE).unwrap());
        bits.extend([0; 8]);
        bits.extend([1; 16]); // would be more symbols
        while !bits.len().is_multiple_of(8) {
            bits.push(0);
        }
        let body: Vec<u8> = bits
            .chunks(8)
            .map(|byte| byte.iter().fold(0, |value, bit| (value << 1) | bit))
            .collect();
        assert_eq!(expand(&TITLES, &body), (b"A".to_vec(), Ending::Stop));
    }
}
