//! Logging XC users in: the store's argon2id hashes, a cache of verified passwords, and
//! a brake on guessing.
//!
//! - **Users** are read from the store at most once a second (all of them, into a map
//!   by lower-cased name: names are unique regardless of case), and at once after a
//!   change through the admin API.
//! - **Passwords** are checked with argon2id (`dvbgate_store::verify_password`, tens of
//!   milliseconds by design) on a blocking thread. A success is remembered as a keyed
//!   digest, SHA-256(per-process random key ‖ password), together with the hash it was
//!   verified against; later requests compare digests in constant time
//!   (`subtle::ConstantTimeEq`), so thousands of requests a second cost no argon2. A
//!   changed password (another hash) makes the entry useless. The digest is never
//!   stored or shown anywhere, and its key dies with the process. At most two argon2
//!   checks run at once (each takes 12 MiB); others queue, and are refused unchecked if
//!   their address ran out of attempts while they waited.
//! - **Guessing**: each source address may fail [`MAX_FAILURES`] logins (unknown user,
//!   wrong or malformed password) within a sliding [`WINDOW`]. After that, its further
//!   attempts are refused without being checked until the oldest of those failures is
//!   a minute old (refused attempts do not count, so a TV retrying a wrong saved
//!   password every few seconds is let back in a minute later). A success clears the
//!   address's failures. At most [`MAX_ADDRESSES`] addresses are tracked; the one whose
//!   last failure is oldest makes room.
//! - Missing credentials are no attempt: they are answered as a failed login but do not
//!   count.
//! - **Counted**: every outcome of `XcState::login` (ok, unknown user, wrong password,
//!   malformed, missing credentials, throttled, inactive account) adds one to
//!   `dvbgate_xc_logins_total{outcome}` on `/metrics` (`crate::monitor::XcLogin`).

use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub(crate) const MAX_FAILURES: usize = 5;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
pub(crate) const MAX_ADDRESSES: usize = 4096;
/// Verified passwords remembered (more users than a hotel has rooms).
const MAX_VERIFIED: usize = 4096;

/// Remembered verifications, see the module docs.
pub(crate) struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashMap<String, Verified>>,
}

struct Verified {
    password_hash: String,
    digest: [u8; 32],
}

impl VerifiedCache {
    pub(crate) fn new() -> Self {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No randomness from the kernel (it always has some on Linux): a key from the
            // process's hash seeds and the clock is still unknown to a client.
            use std::hash::{BuildHasher, Hasher};
            for chunk in key.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u128(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos()),
                );
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        VerifiedCache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether `password` was verified against `password_hash` for `user` before.
    pub(crate) fn check(&self, user: &str, password_hash: &str, password: &str) -> bool {
        let digest = self.digest(password);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(user).is_some_and(|v| {
            v.password_hash == password_hash && bool::from(v.digest.ct_eq(&digest))
        })
    }

    pub(crate) fn remember(&self, user: &str, password_hash: &str, password: &str) {
        let digest = self.digest(password);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_VERIFIED && !entries.contains_key(user) {
            entries.clear();
        }
        entries.insert(
            user.to_owned(),
            Verified {
                password_hash: password_hash.to_owned(),
                digest,
            },
        );
    }

    pub(crate) fn forget(&self, user: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }
}

/// Failed logins per source address, see the module docs.
pub(crate) struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Throttle {
    pub(crate) fn new() -> Self {
        Throttle {
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// None if `ip` may try now; else how long until it may.
    pub(crate) fn refused(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = failures.get(&ip)?;
        if times.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *times.front()?;
        let age = now.saturating_duration_since(oldest);
        (age < WINDOW).then(|| WINDOW - age)
    }

    pub(crate) fn failed(&self, ip: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if !failures.contains_key(&ip) && failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, t| {
                t.back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < WINDOW)
            });
            if failures.len() >= MAX_ADDRESSES
                && let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, t)| t.back().copied())
                    .map(|(ip, _)| *ip)
            {
                failures.remove(&stalest);
            }
        }
        let times = failures.entry(ip).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    pub(crate) fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ip);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn five_failures_in_a_minute_refuse_until_the_oldest_is_a_minute_old() {
        let t = Throttle::new();
        let start = Instant::now();
        for i in 0..MAX_FAILURES as u64 {
            assert_eq!(t.refused(ip(1), start), None, "attempt {i} is checked");
            t.failed(ip(1), start + Duration::from_secs(i * 5));
        }
        let now = start + Duration::from_secs(30);
        assert_eq!(t.refused(ip(1), now), Some(Duration::from_secs(30)));
        assert_eq!(
            t.refused(ip(2), now),
            None,
            "other addresses are not affected"
        );
        // The window slides: 60 s after the first failure, four remain in it.
        assert_eq!(t.refused(ip(1), start + WINDOW), None);
        // One more failure then refuses again (five within the last minute: those at
        // 5, 10, 15, 20 and 60 s), until the one at 5 s is a minute old.
        t.failed(ip(1), start + WINDOW);
        assert_eq!(
            t.refused(ip(1), start + WINDOW),
            Some(Duration::from_secs(5))
        );
        assert_eq!(t.refused(ip(1), start + Duration::from_secs(65)), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_refuse() {
        let t = Throttle::new();
        let start = Instant::now();
        for i in 0..20u64 {
            let now = start + Duration::from_secs(i * 16);
            assert_eq!(t.refused(ip(1), now), None, "attempt {i}");
            t.failed(ip(1), now);
        }
    }

    #[test]
    fn success_clears_and_the_table_is_bounded() {
        let t = Throttle::new();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES {
            t.failed(ip(1), now);
        }
        t.succeeded(ip(1));
        assert_eq!(t.refused(ip(1), now), None);
        for n in 0..(MAX_ADDRESSES as u32 + 100) {
            t.failed(ip(n), now + Duration::from_millis(u64::from(n)));
        }
        assert_eq!(t.tracked(), MAX_ADDRESSES);
    }

    #[test]
    fn verified_passwords_are_remembered_per_hash() {
        let c = VerifiedCache::new();
        assert!(!c.check("room1", "$argon2id$A", "secret"));
        c.remember("room1", "$argon2id$A", "secret");
        assert!(c.check("room1", "$argon2id$A", "secret"));
        assert!(!c.check("room1", "$argon2id$A", "Secret"));
        assert!(!c.check("room1", "$argon2id$B", "secret"), "a new hash");
        assert!(!c.check("room2", "$argon2id$A", "secret"));
        c.forget("room1");
        assert!(!c.check("room1", "$argon2id$A", "secret"));
        let other = VerifiedCache::new();
        assert_ne!(
            c.digest("secret"),
            other.digest("secret"),
            "keys differ per process (and cache)"
        );
    }
}
