//! The random strings of the login: session and CSRF tokens, the API token (32 random
//! bytes, base64url without padding: 43 characters that fit in a cookie, a header and
//! a file), and the first-boot setup code (12 characters a technician reads off a
//! console and types on a phone: no `0`/`O`, `1`/`I`/`L` to confuse).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The setup code's alphabet: 31 letters and digits, none that looks like another
/// (60 bits in 12 characters).
const SETUP_ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub(crate) const SETUP_LEN: usize = 12;

/// `N` random bytes from the kernel.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Linux always has randomness once booted; if it ever had not, a value from the
        // process's hash seeds, its id and the clock is still unknown to a client.
        tracing::error!("no randomness from the kernel ({e}); using a weaker source");
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            let n = chunk.len();
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..n]);
        }
    }
    bytes
}

/// A fresh token: 32 random bytes, base64url.
pub(crate) fn token() -> String {
    URL_SAFE_NO_PAD.encode(random::<32>())
}

/// SHA-256 of a token: what the server keeps of a session instead of the token itself.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new setup code, 12 characters of [`SETUP_ALPHABET`].
pub(crate) fn setup_code() -> String {
    // Bytes from 248 up are dropped so that each character is equally likely (248 is
    // 8 × 31).
    let limit = 256 - 256 % SETUP_ALPHABET.len();
    let mut code = String::with_capacity(SETUP_LEN);
    while code.len() < SETUP_LEN {
        for b in random::<32>() {
            if usize::from(b) < limit && code.len() < SETUP_LEN {
                code.push(char::from(
                    SETUP_ALPHABET[usize::from(b) % SETUP_ALPHABET.len()],
                ));
            }
        }
    }
    code
}

/// `ABCDEFGHJKMN` as shown: `ABCD-EFGH-JKMN`.
pub(crate) fn show_setup_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What the technician typed, as comparable to the code: dashes and white space
/// dropped, letters upper-cased.
pub(crate) fn typed_setup_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn setup_codes_avoid_look_alikes_and_are_typed_loosely() {
        let code = setup_code();
        assert_eq!(code.len(), SETUP_LEN);
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
        let shown = show_setup_code(&code);
        assert_eq!(shown.len(), 14);
        assert_eq!(shown.matches('-').count(), 2);
        assert_eq!(typed_setup_code(&shown.to_lowercase()), code);
        assert_eq!(typed_setup_code(" abcd efgh-jkmn "), "ABCDEFGHJKMN");
        let unique: std::collections::HashSet<u8> = SETUP_ALPHABET.iter().copied().collect();
        assert_eq!(unique.len(), SETUP_ALPHABET.len(), "no letter twice");
        // Many codes use every character of the alphabet.
        let seen: std::collections::HashSet<char> = (0..100)
            .flat_map(|_| setup_code().chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), SETUP_ALPHABET.len());
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
