//! Request parameters of the XC `.php` endpoints, from the query string and an
//! `application/x-www-form-urlencoded` POST body, read tolerantly: whatever a client
//! sends gives an answer, never an extractor's 400.
//!
//! - Malformed percent-encoding is kept literally (`%zz` stays `%zz`), invalid UTF-8
//!   becomes U+FFFD (the WHATWG form rules).
//! - A key repeated wins with its last value, and a body value beats the query's (PHP's
//!   `$_REQUEST`, which the original panels read).
//! - Values are cut to [`MAX_VALUE_BYTES`], keys longer than [`MAX_KEY_BYTES`] and pairs
//!   beyond [`MAX_PAIRS`] are ignored: no credential, id or action is that long.

use std::collections::HashMap;

pub(crate) const MAX_VALUE_BYTES: usize = 256;
pub(crate) const MAX_KEY_BYTES: usize = 64;
pub(crate) const MAX_PAIRS: usize = 64;

#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    map: HashMap<String, String>,
}

impl Params {
    /// Adds the pairs of an urlencoded string (a query, or a form body).
    pub(crate) fn add_urlencoded(&mut self, input: &[u8]) {
        for (key, value) in form_urlencoded::parse(input).take(MAX_PAIRS) {
            if key.len() > MAX_KEY_BYTES {
                continue;
            }
            if self.map.len() >= MAX_PAIRS && !self.map.contains_key(key.as_ref()) {
                continue;
            }
            self.map
                .insert(key.into_owned(), truncate(&value).to_owned());
        }
    }

    pub(crate) fn parse(input: &str) -> Self {
        let mut p = Params::default();
        p.add_urlencoded(input.as_bytes());
        p
    }

    /// A parameter's value (trimmed of surrounding white space).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|v| v.trim())
    }

    /// A parameter given and not empty.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A non-negative integer parameter; None when absent or not one.
    pub(crate) fn number<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        let v = self.non_empty(key)?;
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    }
}

/// At most [`MAX_VALUE_BYTES`], cut on a character boundary.
fn truncate(value: &str) -> &str {
    if value.len() <= MAX_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// A username or password as the store allows them: 1..=64 of `[A-Za-z0-9._-]`.
pub(crate) fn plausible_credential(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= dvbgate_store::MAX_CREDENTIAL_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_encoded_pairs() {
        let p = Params::parse("username=room%20101&password=a+b&action=get_live_streams");
        assert_eq!(p.get("username"), Some("room 101"));
        assert_eq!(p.get("password"), Some("a b"));
        assert_eq!(p.get("action"), Some("get_live_streams"));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn malformed_encoding_is_kept_not_refused() {
        let p = Params::parse("username=%zz%&password=%E2%28%A1&=x&&novalue&a=1=2");
        assert_eq!(p.get("username"), Some("%zz%"));
        assert!(p.get("password").unwrap().contains('\u{fffd}'));
        assert!(p.has("novalue"));
        assert_eq!(p.get("novalue"), Some(""));
        assert_eq!(p.non_empty("novalue"), None);
        assert_eq!(p.get("a"), Some("1=2"));
    }

    #[test]
    fn the_last_of_a_repeated_key_wins_and_body_beats_query() {
        let mut p = Params::parse("username=a&username=b");
        assert_eq!(p.get("username"), Some("b"));
        p.add_urlencoded(b"username=c");
        assert_eq!(p.get("username"), Some("c"));
    }

    #[test]
    fn sizes_are_bounded() {
        let huge = "é".repeat(1000);
        let p = Params::parse(&format!("v={huge}&{}=1", "k".repeat(100)));
        let v = p.get("v").unwrap();
        assert!(v.len() <= MAX_VALUE_BYTES && v.len() >= MAX_VALUE_BYTES - 1);
        assert!(v.chars().all(|c| c == 'é'));
        assert_eq!(p.map.len(), 1, "the over-long key is ignored");
        let many: String = (0..500).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(Params::parse(&many).map.len(), MAX_PAIRS);
    }

    #[test]
    fn numbers_are_digits_only() {
        let p = Params::parse("a=12&b=-1&c=1.5&d=&e=99999999999999999999&f=%2012");
        assert_eq!(p.number::<u32>("a"), Some(12));
        assert_eq!(p.number::<u32>("b"), None);
        assert_eq!(p.number::<u32>("c"), None);
        assert_eq!(p.number::<u32>("d"), None);
        assert_eq!(p.number::<u32>("e"), None);
        assert_eq!(
            p.number::<u32>("f"),
            Some(12),
            "surrounding blanks are trimmed"
        );
    }

    #[test]
    fn credentials_are_the_stores_alphabet() {
        assert!(plausible_credential("room-101_a.B"));
        for bad in ["", "a b", "a\"b", "é", &"x".repeat(65)] {
            assert!(!plausible_credential(bad), "{bad:?}");
        }
    }
}
