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
//! - **Guessing**: each source may fail [`MAX_FAILURES`] logins (unknown user, wrong or
//!   malformed password) within a sliding [`WINDOW`]. After that, its further attempts
//!   are refused without being checked until the oldest of those failures is a minute
//!   old (refused attempts do not count, so a TV retrying a wrong saved password every
//!   few seconds is let back in a minute later). A success clears the source's
//!   failures. A source is an IPv4 address (IPv4-mapped IPv6 included) or an IPv6 /64:
//!   a single host usually has a whole /64 to pick addresses from. At most
//!   [`MAX_ADDRESSES`] sources are tracked; the one whose last failure is oldest makes
//!   room.
//! - **Box-wide budget**: an attacker with many addresses (a botnet, or one host with
//!   a /48) escapes any per-source count, so each [`Throttle`] also counts failures
//!   from everywhere: after [`BOX_FAILURES`] within a [`WINDOW`], every source is
//!   refused unchecked until the oldest of them is a minute old. The trade-off: such an
//!   attacker can lock the rightful users (the administrator, or the hotel's TVs for
//!   XC) out for a minute at a time, but guesses are capped at 30 a minute, about
//!   43,000 a day, against passwords of at least 8 characters. The XC users and the
//!   administrator have separate throttles, so XC guessing never locks out the
//!   administrator and the reverse.
//! - Missing credentials are no attempt: they are answered as a failed login but do not
//!   count.
//! - **Counted**: every outcome of `XcState::login` (ok, unknown user, wrong password,
//!   malformed, missing credentials, throttled, inactive account) adds one to
//!   `dvbgate_xc_logins_total{outcome}` on `/metrics` (`crate::monitor::XcLogin`).

use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub(crate) const MAX_FAILURES: usize = 5;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
pub(crate) const MAX_ADDRESSES: usize = 4096;
/// Failures from all sources together within [`WINDOW`] before every source is refused.
pub(crate) const BOX_FAILURES: usize = 30;
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
        let key = crate::auth::secrets::random::<32>();
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

/// Failed logins per source and for the whole box, see the module docs.
pub(crate) struct Throttle {
    inner: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    /// The last [`MAX_FAILURES`] failures of each source, oldest first.
    per_source: HashMap<IpAddr, VecDeque<Instant>>,
    /// The last [`BOX_FAILURES`] failures from anywhere, oldest first.
    all: VecDeque<Instant>,
}

/// How long until a source with these failures (the last `limit` of them, oldest
/// first) may try again; None if it may now.
fn wait_for(times: &VecDeque<Instant>, limit: usize, now: Instant) -> Option<Duration> {
    if times.len() < limit {
        return None;
    }
    let age = now.saturating_duration_since(*times.front()?);
    (age < WINDOW).then(|| WINDOW - age)
}

/// What a client address counts as: itself for IPv4 (an IPv4-mapped IPv6 address is
/// the IPv4 one), its /64 network for IPv6 (one host commonly holds a whole /64, so
/// counting addresses would count nothing).
pub(crate) fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
            u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
        )),
        v4 => v4,
    }
}

impl Throttle {
    pub(crate) fn new() -> Self {
        Throttle {
            inner: Mutex::new(Failures::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// None if `ip` may try now; else how long until it may (its source failed too
    /// often, or the whole box did).
    pub(crate) fn refused(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.lock();
        let own = failures
            .per_source
            .get(&source(ip))
            .and_then(|t| wait_for(t, MAX_FAILURES, now));
        let all = wait_for(&failures.all, BOX_FAILURES, now);
        own.max(all)
    }

    pub(crate) fn failed(&self, ip: IpAddr, now: Instant) {
        let ip = source(ip);
        let mut failures = self.lock();
        failures.all.push_back(now);
        while failures.all.len() > BOX_FAILURES {
            failures.all.pop_front();
        }
        let per_source = &mut failures.per_source;
        if !per_source.contains_key(&ip) && per_source.len() >= MAX_ADDRESSES {
            per_source.retain(|_, t| {
                t.back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < WINDOW)
            });
            if per_source.len() >= MAX_ADDRESSES
                && let Some(stalest) = per_source
                    .iter()
                    .min_by_key(|(_, t)| t.back().copied())
                    .map(|(ip, _)| *ip)
            {
                per_source.remove(&stalest);
            }
        }
        let times = per_source.entry(ip).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// Clears the source's failures (not the box's: an attacker with one valid XC
    /// account must not be able to reset the box-wide budget).
    pub(crate) fn succeeded(&self, ip: IpAddr) {
        self.lock().per_source.remove(&source(ip));
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().per_source.len()
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
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = Throttle::new();
        let now = Instant::now();
        // Five addresses of one /64: one source.
        for n in 1..=MAX_FAILURES as u16 {
            let a = Ipv6Addr::new(0x2001, 0xdb8, 0, 7, n, n, n, n);
            assert_eq!(t.refused(IpAddr::V6(a), now), None, "address {n}");
            t.failed(IpAddr::V6(a), now);
        }
        let same_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 0xffff, 1, 2, 3));
        assert!(t.refused(same_64, now).is_some());
        let next_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 8, 0, 0, 0, 1));
        assert_eq!(t.refused(next_64, now), None);

        // ::ffff:10.0.0.9 and 10.0.0.9 are one client.
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 9).to_ipv6_mapped());
        for _ in 0..MAX_FAILURES {
            t.failed(mapped, now);
        }
        assert!(t.refused(ip(9), now).is_some());
        t.succeeded(ip(9));
        assert_eq!(t.refused(mapped, now), None);
        assert_eq!(source(mapped), ip(9));
    }

    #[test]
    fn many_addresses_meet_the_box_wide_budget() {
        let t = Throttle::new();
        let start = Instant::now();
        // 100 guesses from 20 addresses, two a second, each address failing at most
        // four times: the per-address brake alone would refuse none.
        let mut checked = 0;
        let mut refused_at = None;
        for i in 0..100u32 {
            let now = start + Duration::from_millis(u64::from(i) * 500);
            let from = ip(i % 20);
            match t.refused(from, now) {
                None => {
                    checked += 1;
                    t.failed(from, now);
                }
                Some(wait) => {
                    refused_at.get_or_insert(i);
                    assert!(wait <= WINDOW, "{wait:?}");
                }
            }
        }
        assert_eq!(refused_at, Some(BOX_FAILURES as u32));
        // 50 s: the first 30 failures were within 15 s; the window then lets one more
        // in each time the oldest is a minute old, so none yet.
        assert_eq!(checked, BOX_FAILURES);
        // A fresh address is refused too, until the oldest failure is a minute old.
        let later = start + Duration::from_secs(50);
        assert_eq!(t.refused(ip(999), later), Some(Duration::from_secs(10)));
        // A success from one address does not reopen the box.
        t.succeeded(ip(3));
        assert!(t.refused(ip(3), later).is_some());
        assert_eq!(t.refused(ip(999), start + WINDOW), None);
        // Over a long stretch, at most BOX_FAILURES guesses a minute get checked.
        let mut checked = 0;
        for i in 0..(10 * 60 * 10u64) {
            let now = start + WINDOW + Duration::from_millis(i * 100);
            let from = ip(1000 + (i % 500) as u32);
            if t.refused(from, now).is_none() {
                checked += 1;
                t.failed(from, now);
            }
        }
        assert!(
            checked <= 10 * BOX_FAILURES,
            "{checked} checked in 10 minutes"
        );
        assert!(checked >= 9 * BOX_FAILURES, "{checked}: the budget is used");
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
