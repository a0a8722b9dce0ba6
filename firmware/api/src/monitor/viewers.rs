//! Who watches a channel over HLS. HLS has no connection to count: a player fetches
//! the playlist every target duration and then the segments, so a viewer is a client
//! address that fetched one of the channel's playlists or segments recently (within
//! three target durations, at least 30 s, so a player that buffered ahead still counts).
//!
//! At most [`MAX_VIEWS`] (channel, address) pairs are remembered; when a new one comes
//! and none has expired, the stalest makes room. Each request costs a short lock and a
//! hash map insert.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) const MAX_VIEWS: usize = 4096;
pub(crate) const MIN_WINDOW: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct HlsViewers {
    seen: Mutex<HashMap<(u16, IpAddr), Instant>>,
}

/// How long a fetch counts, for HLS segments of `target` duration.
pub(crate) fn window(target: Duration) -> Duration {
    (target * 3).max(MIN_WINDOW)
}

impl HlsViewers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u16, IpAddr), Instant>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `client` fetched something of channel `number` at `now`.
    pub(crate) fn fetched(&self, number: u16, client: IpAddr, now: Instant, window: Duration) {
        let mut seen = self.lock();
        let key = (number, client);
        if !seen.contains_key(&key) && seen.len() >= MAX_VIEWS {
            seen.retain(|_, at| now.saturating_duration_since(*at) < window);
            if seen.len() >= MAX_VIEWS
                && let Some(stalest) = seen.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
            {
                seen.remove(&stalest);
            }
        }
        seen.insert(key, now);
    }

    /// Viewers per channel number at `now`; forgets those that left.
    pub(crate) fn counts(&self, now: Instant, window: Duration) -> HashMap<u16, usize> {
        let mut seen = self.lock();
        seen.retain(|_, at| now.saturating_duration_since(*at) < window);
        let mut counts = HashMap::new();
        for (number, _) in seen.keys() {
            *counts.entry(*number).or_insert(0) += 1;
        }
        counts
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
    fn distinct_addresses_within_the_window_count() {
        let v = HlsViewers::default();
        let t0 = Instant::now();
        let w = window(Duration::from_secs(2));
        assert_eq!(w, MIN_WINDOW);
        assert_eq!(window(Duration::from_secs(12)), Duration::from_secs(36));
        // One TV fetching playlist and segments of channel 2 every 2 s, another once.
        for i in 0..10 {
            v.fetched(2, ip(1), t0 + Duration::from_secs(2 * i), w);
        }
        v.fetched(2, ip(2), t0, w);
        v.fetched(5, ip(2), t0 + Duration::from_secs(1), w);
        let c = v.counts(t0 + Duration::from_secs(18), w);
        assert_eq!(c.get(&2), Some(&2));
        assert_eq!(c.get(&5), Some(&1));
        // 31 s after its last fetch, the second TV no longer counts.
        let c = v.counts(t0 + Duration::from_secs(32), w);
        assert_eq!(c.get(&2), Some(&1));
        assert_eq!(c.get(&5), None);
    }

    #[test]
    fn memory_is_bounded() {
        let v = HlsViewers::default();
        let t0 = Instant::now();
        let w = window(Duration::from_secs(6));
        for n in 0..(MAX_VIEWS as u32 + 500) {
            v.fetched(1, ip(n), t0 + Duration::from_millis(u64::from(n)), w);
        }
        assert_eq!(v.lock().len(), MAX_VIEWS);
        // The newest stayed.
        assert!(v.lock().contains_key(&(1, ip(MAX_VIEWS as u32 + 499))));
    }
}
