//! The in-memory guide: events per service, merged from EIT sections by event id and
//! table version, bounded in time and size.
//!
//! # EIT for a newcomer
//!
//! A broadcaster describes its programmes in the Event Information Table (ETSI EN 300 468
//! §5.2.4), sent on PID 0x12 and repeated every few seconds, so a receiver tuned at any
//! moment soon has it. Each *section* of the table (at most 4 KB) belongs to one service
//! and lists a few events: id, start (UTC), duration, running status, and descriptors with
//! the title, texts, genre and rating (see [`crate::eit`]).
//!
//! - **Present/following** (table ids 0x4E actual, 0x4F other): two sections per service,
//!   number 0 the programme on now, number 1 the next one. They change at every programme
//!   boundary, which is how a receiver learns of overruns within seconds.
//! - **Schedule** (0x50–0x5F actual, 0x60–0x6F other): up to 8 days ahead, cut into
//!   3-hour segments of up to 8 sections each, over up to 16 table ids.
//! - **Actual** tables describe the services of the multiplex they are sent in; **other**
//!   tables describe services of other multiplexes of the same network (one tuner can then
//!   fill the guide for many). The service is named by (original network, transport
//!   stream, service id): a [`ServiceKey`].
//! - Each section carries a 5-bit **version**, bumped when its content changes, and a
//!   CRC-32. Same table, service, section number, version and CRC means a repetition:
//!   it is skipped after one map lookup, which matters because repetitions are nearly all
//!   of the traffic.
//!
//! # Merge rules
//!
//! A changed section replaces what it carried: events are replaced by event id; an event
//! that overlaps in time an event with another id replaces it (a reshuffled schedule gets
//! new ids); events the section's previous version carried and this one does not are
//! withdrawn, unless another section of the service still carries them (an event moving
//! from "following" to "present", or from present/following to a schedule section) or they
//! are already over (history, not a cancellation). Events are kept from `now − behind`
//! to `now + ahead`, at most `max_events_per_service` per service (the earliest), texts cut
//! to the limits; a section whose far events did not fit is read again when they may.

use crate::eit::TextRules;
use crate::event::{Event, ServiceKey};
use dvbgate_ts::section::Section;
use dvbgate_ts::tables::eit;
use dvbgate_ts::text::Charset;
use std::collections::{HashMap, HashSet};

/// How much the guide keeps.
#[derive(Clone, Debug)]
pub struct EpgLimits {
    /// Events starting later than now + this are not kept. Default 8 days.
    pub ahead_seconds: i64,
    /// Events that ended earlier than now − this are dropped. Default 24 h.
    pub behind_seconds: i64,
    /// Most events per service (the earliest kept). Default 1500 (≈ 7 days of 7-minute
    /// programmes).
    pub max_events_per_service: usize,
    /// Most services; beyond it, new services are ignored (and counted). Default 2000.
    pub max_services: usize,
    /// Text longer than this (title, short text, description) is cut at a character
    /// boundary. Default 4096 bytes for descriptions, 256 for titles.
    pub max_description_bytes: usize,
    pub max_title_bytes: usize,
}

impl Default for EpgLimits {
    fn default() -> Self {
        EpgLimits {
            ahead_seconds: 8 * 86_400,
            behind_seconds: 86_400,
            max_events_per_service: 1500,
            max_services: 2000,
            max_description_bytes: 4096,
            max_title_bytes: 256,
        }
    }
}

/// How one source's sections are read.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Table used for text without a selector byte (None = ISO 6937, the standard's
    /// default), and whether it also overrides selectors (a broadcaster that lies).
    pub charset: Option<(Charset, bool)>,
    /// Seconds added to every event time (a recording replayed later: the control plane
    /// shifts its guide to now). 0 for live sources.
    pub time_offset: i64,
}

/// What one section did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Events added or changed.
    pub changed: usize,
    /// Events removed (replaced, overlapped, withdrawn by a new table version).
    pub removed: usize,
    /// The section's service is not wanted (see [`Epg::set_wanted`]) or over the limit.
    pub ignored: bool,
}

/// Figures for monitoring and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpgStats {
    pub services: usize,
    pub events: usize,
    /// Approximate heap bytes held (strings and vectors included).
    pub bytes: usize,
    /// Services refused for `max_services`.
    pub services_refused: u64,
    /// Sections that were not EIT or were malformed.
    pub bad_sections: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EpgError {
    #[error("not an EIT section (table id {0:#04x})")]
    NotEit(u8),
    #[error("malformed EIT section: {0}")]
    Malformed(String),
    #[error("EPG snapshot unreadable: {0}")]
    Snapshot(String),
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Epg {
    limits: EpgLimits,
    services: HashMap<ServiceKey, ServiceGuide>,
    wanted: Option<HashSet<ServiceKey>>,
    generation: u64,
    services_refused: u64,
    bad_sections: u64,
}

/// One service's guide and what its EIT sections last carried.
#[derive(Debug, Default)]
struct ServiceGuide {
    /// Sorted by start; no two overlap (a zero-length event counts as one second long, so
    /// that ends are sorted too and [`Epg::between`] can binary-search both).
    events: Vec<Event>,
    /// Keyed by (table id, section number): each section is its own unit of change.
    sections: HashMap<(u8, u8), SectionRecord>,
}

#[derive(Debug)]
struct SectionRecord {
    version: u8,
    crc: u32,
    event_ids: Vec<u16>,
    /// Earliest start among this section's events that were not kept because they start
    /// too far ahead or the service was full; `i64::MAX` when all were kept. A repetition
    /// of the section is read again once they may fit, since a schedule section can stay
    /// unchanged for days while its far end comes into range.
    pending_from: i64,
}

/// What inserting one event did.
enum Insert {
    Unchanged,
    Changed {
        removed: usize,
    },
    /// Ended before the window: not kept, and nothing to retry.
    Expired,
    /// Starts after the window or the service is full: retry from this start.
    Deferred(i64),
}

/// A zero-length event still occupies its instant (see [`ServiceGuide::events`]).
fn effective_end(e: &Event) -> i64 {
    e.end().max(e.start.saturating_add(1))
}

impl ServiceGuide {
    fn insert(&mut self, mut e: Event, limits: &EpgLimits, now: i64) -> Insert {
        if e.end() < now.saturating_sub(limits.behind_seconds) {
            return Insert::Expired;
        }
        if e.start > now.saturating_add(limits.ahead_seconds) {
            return Insert::Deferred(e.start);
        }
        let same_id = self.events.iter().position(|x| x.event_id == e.event_id);
        if same_id.is_none()
            && self.events.len() >= limits.max_events_per_service
            && self.events.last().is_some_and(|last| e.start > last.start)
        {
            // The earliest events are the ones worth having: this one waits.
            return Insert::Deferred(e.start);
        }
        crate::eit::cut(&mut e.title, limits.max_title_bytes);
        crate::eit::cut(&mut e.short_text, limits.max_description_bytes);
        crate::eit::cut(&mut e.description, limits.max_description_bytes);
        // Imported text may come with spare capacity; a guide keeps thousands of these.
        e.title.shrink_to_fit();
        e.short_text.shrink_to_fit();
        e.description.shrink_to_fit();
        if let Some(pos) = same_id {
            if self.events[pos] == e {
                return Insert::Unchanged;
            }
            // Same event, new details (or moved): a change, not a removal.
            self.events.remove(pos);
        }
        // Whatever overlaps the new event in time has been superseded: broadcasters
        // reshuffle a schedule by sending new events with new ids over the old slots.
        let end = effective_end(&e);
        let lo = self.events.partition_point(|x| effective_end(x) <= e.start);
        let hi = self.events.partition_point(|x| x.start < end).max(lo);
        let mut removed = hi - lo;
        self.events.drain(lo..hi);
        self.events.insert(lo, e);
        if self.events.len() > limits.max_events_per_service {
            removed += self.events.len() - limits.max_events_per_service;
            self.events.truncate(limits.max_events_per_service);
        }
        Insert::Changed { removed }
    }

    /// Drops events outside the window; returns how many.
    fn expire(&mut self, limits: &EpgLimits, now: i64) -> usize {
        let before = self.events.len();
        let oldest_end = now.saturating_sub(limits.behind_seconds);
        let latest_start = now.saturating_add(limits.ahead_seconds);
        self.events
            .retain(|e| e.end() >= oldest_end && e.start <= latest_start);
        // Give back what a busy day grew, but not on every small change.
        if self.events.capacity() > 2 * self.events.len() + 16 {
            self.events.shrink_to_fit();
        }
        before - self.events.len()
    }

    fn heap_bytes(&self) -> usize {
        let events: usize = self.events.iter().map(event_heap_bytes).sum();
        let sections: usize = self
            .sections
            .values()
            .map(|r| heap_alloc(r.event_ids.capacity() * size_of::<u16>()))
            .sum();
        heap_alloc(self.events.capacity() * size_of::<Event>())
            + events
            + hash_table_bytes::<(u8, u8), SectionRecord>(self.sections.capacity())
            + sections
    }
}

/// Bytes of one heap allocation of `n` bytes: the allocator's header and rounding
/// (about 16 bytes with glibc and musl on 64-bit) on top; nothing when `n` is 0, since an
/// empty String or Vec allocates nothing.
fn heap_alloc(n: usize) -> usize {
    if n == 0 { 0 } else { n + 16 }
}

/// A hashbrown table: one slot and one control byte per bucket (capacity is 7/8 of the
/// buckets; close enough).
fn hash_table_bytes<K, V>(capacity: usize) -> usize {
    heap_alloc(capacity * (size_of::<(K, V)>() + 1))
}

fn event_heap_bytes(e: &Event) -> usize {
    heap_alloc(e.title.capacity())
        + heap_alloc(e.short_text.capacity())
        + heap_alloc(e.description.capacity())
        + heap_alloc(e.language.capacity())
        + heap_alloc(e.episode.capacity())
        + heap_alloc(e.genres.capacity())
        + heap_alloc(e.ratings.capacity() * size_of::<crate::event::Rating>())
        + e.ratings
            .iter()
            .map(|r| heap_alloc(r.country.capacity()))
            .sum::<usize>()
}

impl Epg {
    pub fn new(limits: EpgLimits) -> Self {
        Epg {
            limits,
            ..Epg::default()
        }
    }

    /// The limits this guide applies.
    pub fn limits(&self) -> &EpgLimits {
        &self.limits
    }

    /// Only these services are kept (None, the default: all, as `dvbgate epg` wants).
    /// Events of services no longer wanted are dropped.
    pub fn set_wanted(&mut self, services: Option<HashSet<ServiceKey>>) {
        if let Some(wanted) = &services {
            let before = self.event_count();
            self.services.retain(|k, _| wanted.contains(k));
            if self.event_count() != before {
                self.generation += 1;
            }
        }
        self.wanted = services;
    }

    fn event_count(&self) -> usize {
        self.services.values().map(|g| g.events.len()).sum()
    }

    fn is_wanted(&self, key: &ServiceKey) -> bool {
        self.wanted.as_ref().is_none_or(|w| w.contains(key))
    }

    /// Reads one EIT section (any table id 0x4E..=0x6F). `now` (Unix seconds) bounds what
    /// is kept. A repeated section (same table, section, version) changes nothing.
    ///
    /// Sections announced for later (`current_next_indicator` 0) are ignored: they are
    /// sent again as current when they apply.
    pub fn ingest(
        &mut self,
        section: &Section<'_>,
        options: &IngestOptions,
        now: i64,
    ) -> Result<IngestOutcome, EpgError> {
        let table_id = section.table_id();
        if !eit::is_eit(table_id) {
            self.bad_sections += 1;
            return Err(EpgError::NotEit(table_id));
        }
        let table = match eit::parse(section) {
            Ok(t) => t,
            Err(e) => {
                self.bad_sections += 1;
                return Err(EpgError::Malformed(e.to_string()));
            }
        };
        let ignored = IngestOutcome {
            ignored: true,
            ..IngestOutcome::default()
        };
        if !section.is_current() {
            return Ok(ignored);
        }
        let key = ServiceKey {
            original_network_id: table.original_network_id,
            transport_stream_id: table.transport_stream_id,
            service_id: table.service_id,
        };
        if !self.is_wanted(&key) {
            return Ok(ignored);
        }
        if !self.services.contains_key(&key) && self.services.len() >= self.limits.max_services {
            self.services_refused += 1;
            return Ok(ignored);
        }
        let limits = &self.limits;
        let guide = self.services.entry(key).or_default();
        let section_key = (table_id, section.section_number());
        let (version, crc) = (section.version(), section.crc());

        if let Some(rec) = guide.sections.get(&section_key)
            && rec.version == version
            && rec.crc == crc
        {
            // The common case by far: EIT repeats every few seconds.
            let has_room = guide.events.len() < limits.max_events_per_service
                || guide
                    .events
                    .last()
                    .is_some_and(|last| rec.pending_from < last.start);
            let retry = rec.pending_from <= now.saturating_add(limits.ahead_seconds) && has_room;
            if !retry {
                return Ok(IngestOutcome::default());
            }
        }

        let (charset, force) = options.charset.unwrap_or((Charset::Iso6937, false));
        let rules = TextRules {
            charset,
            force,
            max_title_bytes: limits.max_title_bytes,
            max_text_bytes: limits.max_description_bytes,
        };
        let mut ids: Vec<u16> = Vec::new();
        let mut events = Vec::new();
        for ev in table.events() {
            if !ids.contains(&ev.event_id) {
                ids.push(ev.event_id);
            }
            if let Some(e) = crate::eit::decode_event(&ev, &rules, options.time_offset) {
                events.push(e);
            }
        }

        let mut outcome = IngestOutcome::default();
        // A new version of a section withdraws what it no longer carries (a cancelled
        // programme), unless another section still carries it (an event moving from
        // "following" to "present", or from p/f to schedule). Events already over are
        // history, not cancellations: they stay until the window drops them.
        if let Some(old) = guide.sections.get(&section_key) {
            let gone: Vec<u16> = old
                .event_ids
                .iter()
                .copied()
                .filter(|id| !ids.contains(id))
                .filter(|id| {
                    !guide
                        .sections
                        .iter()
                        .any(|(k, r)| *k != section_key && r.event_ids.contains(id))
                })
                .collect();
            for id in gone {
                if let Some(pos) = guide
                    .events
                    .iter()
                    .position(|e| e.event_id == id && e.end() > now)
                {
                    guide.events.remove(pos);
                    outcome.removed += 1;
                }
            }
        }

        let mut pending_from = i64::MAX;
        for e in events {
            match guide.insert(e, limits, now) {
                Insert::Unchanged | Insert::Expired => {}
                Insert::Changed { removed } => {
                    outcome.changed += 1;
                    outcome.removed += removed;
                }
                Insert::Deferred(start) => pending_from = pending_from.min(start),
            }
        }
        ids.shrink_to_fit();
        guide.sections.insert(
            section_key,
            SectionRecord {
                version,
                crc,
                event_ids: ids,
                pending_from,
            },
        );
        if outcome.changed + outcome.removed > 0 {
            self.generation += 1;
        }
        Ok(outcome)
    }

    /// Replaces a service's events with these (an XMLTV import for a channel without EIT).
    /// The same limits apply as to EIT (window, caps, text lengths, wanted services);
    /// overlapping events keep the later one in the list given.
    pub fn replace_service(&mut self, key: ServiceKey, events: Vec<Event>, now: i64) {
        if !self.is_wanted(&key) {
            return;
        }
        if !self.services.contains_key(&key) && self.services.len() >= self.limits.max_services {
            self.services_refused += 1;
            return;
        }
        let mut guide = ServiceGuide::default();
        for e in events {
            guide.insert(e, &self.limits, now);
        }
        guide.events.shrink_to_fit();
        let old = self.services.insert(key, guide);
        let old_events = old.map(|g| g.events).unwrap_or_default();
        if old_events != self.events(&key) {
            self.generation += 1;
        }
    }

    /// The service's events, sorted by start, without overlaps.
    pub fn events(&self, key: &ServiceKey) -> &[Event] {
        self.services.get(key).map_or(&[], |g| &g.events)
    }

    /// Events of a service that end after `from` and start before `to`, in order.
    pub fn between(&self, key: &ServiceKey, from: i64, to: i64) -> &[Event] {
        let events = self.events(key);
        // Starts and (effective) ends are both sorted: two binary searches.
        // (A zero-length event at `from` counts as happening then.)
        let lo = events.partition_point(|e| effective_end(e) <= from);
        let hi = events.partition_point(|e| e.start < to).max(lo);
        &events[lo..hi]
    }

    /// Services with at least one event.
    pub fn services(&self) -> Vec<ServiceKey> {
        let mut keys: Vec<ServiceKey> = self
            .services
            .iter()
            .filter(|(_, g)| !g.events.is_empty())
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Drops what is now outside the limits.
    pub fn expire(&mut self, now: i64) {
        let limits = &self.limits;
        let removed: usize = self
            .services
            .values_mut()
            .map(|g| g.expire(limits, now))
            .sum();
        // A service that fell silent (a multiplex no longer received) goes entirely; its
        // section records only matter while its sections keep coming.
        // Its section records are lost with it, which costs one full read of its next
        // sections should it come back.
        self.services.retain(|_, g| !g.events.is_empty());
        if removed > 0 {
            self.generation += 1;
        }
    }

    /// Changes whenever an event is added, changed or removed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn stats(&self) -> EpgStats {
        EpgStats {
            services: self
                .services
                .values()
                .filter(|g| !g.events.is_empty())
                .count(),
            events: self.event_count(),
            bytes: size_of::<Epg>()
                + hash_table_bytes::<ServiceKey, ServiceGuide>(self.services.capacity())
                + self
                    .services
                    .values()
                    .map(ServiceGuide::heap_bytes)
                    .sum::<usize>()
                + self
                    .wanted
                    .as_ref()
                    .map_or(0, |w| hash_table_bytes::<ServiceKey, ()>(w.capacity())),
            services_refused: self.services_refused,
            bad_sections: self.bad_sections,
        }
    }

    /// A compact, versioned encoding of every service's events, for a file on flash.
    ///
    /// Section records are not saved: after a restore the first repetition of each section
    /// is read in full (finding its events unchanged), which costs a little CPU once.
    pub fn snapshot(&self) -> Vec<u8> {
        snapshot::write(self.services().into_iter().map(|k| (k, self.events(&k))))
    }

    /// Reads a snapshot back (into a guide with these limits; what is outside them is
    /// dropped). An unreadable or future-version snapshot is an error, never a panic.
    pub fn restore(bytes: &[u8], limits: EpgLimits, now: i64) -> Result<Epg, EpgError> {
        let services = snapshot::read(bytes)?;
        let mut epg = Epg::new(limits);
        for (key, events) in services {
            epg.replace_service(key, events, now);
        }
        Ok(epg)
    }
}

/// The snapshot format, version 1 (all integers little-endian):
///
/// ```text
/// magic "DVBG-EPG", u16 version = 1, u32 service count, then per service:
///   u16 original_network_id, u16 transport_stream_id, u16 service_id, u32 event count,
///   then per event:
///     u16 event_id, i64 start, u32 duration, u8 running_status,
///     str title, str short_text, str description, str language, str episode,
///     u8 genre count, genre bytes, u8 rating count, (str country, u8 min_age) per rating
/// u32 CRC-32 (IEEE) of everything before it
/// ```
/// where `str` is a u32 byte length and UTF-8 bytes. The CRC catches a flash page gone
/// bad, which would otherwise restore plausible garbage.
mod snapshot {
    use super::{EpgError, Event, ServiceKey};
    use crate::event::Rating;

    const MAGIC: &[u8; 8] = b"DVBG-EPG";
    const VERSION: u16 = 1;
    /// Smallest encoded event: fixed fields, five empty strings, two empty counts.
    const MIN_EVENT: usize = 2 + 8 + 4 + 1 + 5 * 4 + 1 + 1;

    pub fn write<'a>(services: impl Iterator<Item = (ServiceKey, &'a [Event])>) -> Vec<u8> {
        let services: Vec<_> = services.collect();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(services.len() as u32).to_le_bytes());
        for (key, events) in services {
            out.extend_from_slice(&key.original_network_id.to_le_bytes());
            out.extend_from_slice(&key.transport_stream_id.to_le_bytes());
            out.extend_from_slice(&key.service_id.to_le_bytes());
            out.extend_from_slice(&(events.len() as u32).to_le_bytes());
            for e in events {
                out.extend_from_slice(&e.event_id.to_le_bytes());
                out.extend_from_slice(&e.start.to_le_bytes());
                out.extend_from_slice(&e.duration.to_le_bytes());
                out.push(e.running_status);
                for s in [
                    &e.title,
                    &e.short_text,
                    &e.description,
                    &e.language,
                    &e.episode,
                ] {
                    put_str(&mut out, s);
                }
                let genres = &e.genres[..e.genres.len().min(255)];
                out.push(genres.len() as u8);
                out.extend_from_slice(genres);
                let ratings = &e.ratings[..e.ratings.len().min(255)];
                out.push(ratings.len() as u8);
                for r in ratings {
                    put_str(&mut out, &r.country);
                    out.push(r.min_age);
                }
            }
        }
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    fn bad(what: impl Into<String>) -> EpgError {
        EpgError::Snapshot(what.into())
    }

    struct Cursor<'a> {
        rest: &'a [u8],
    }

    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], EpgError> {
            if self.rest.len() < n {
                return Err(bad(format!("truncated in {what}")));
            }
            let (head, tail) = self.rest.split_at(n);
            self.rest = tail;
            Ok(head)
        }
        fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], EpgError> {
            let mut a = [0; N];
            a.copy_from_slice(self.take(N, what)?);
            Ok(a)
        }
        fn u8(&mut self, what: &str) -> Result<u8, EpgError> {
            Ok(self.array::<1>(what)?[0])
        }
        fn u16(&mut self, what: &str) -> Result<u16, EpgError> {
            Ok(u16::from_le_bytes(self.array(what)?))
        }
        fn u32(&mut self, what: &str) -> Result<u32, EpgError> {
            Ok(u32::from_le_bytes(self.array(what)?))
        }
        fn i64(&mut self, what: &str) -> Result<i64, EpgError> {
            Ok(i64::from_le_bytes(self.array(what)?))
        }
        fn string(&mut self, what: &str) -> Result<String, EpgError> {
            let len = self.u32(what)? as usize;
            let bytes = self.take(len, what)?;
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| bad(format!("{what} is not UTF-8")))
        }
    }

    pub fn read(bytes: &[u8]) -> Result<Vec<(ServiceKey, Vec<Event>)>, EpgError> {
        if bytes.len() < MAGIC.len() + 2 + 4 + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not an EPG snapshot (no DVBG-EPG header)"));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32(body) != stored {
            return Err(bad("checksum mismatch (file damaged or cut short)"));
        }
        let mut c = Cursor {
            rest: &body[MAGIC.len() + 2..],
        };
        let count = c.u32("service count")?;
        let mut services = Vec::new();
        for _ in 0..count {
            let key = ServiceKey {
                original_network_id: c.u16("service key")?,
                transport_stream_id: c.u16("service key")?,
                service_id: c.u16("service key")?,
            };
            let n = c.u32("event count")? as usize;
            // A count cannot promise more events than bytes remain for: no huge
            // allocation from a bad count.
            if n > c.rest.len() / MIN_EVENT {
                return Err(bad(format!("event count {n} exceeds the data")));
            }
            let mut events = Vec::with_capacity(n);
            for _ in 0..n {
                let event_id = c.u16("event")?;
                let start = c.i64("event")?;
                let duration = c.u32("event")?;
                let running_status = c.u8("event")?;
                let title = c.string("title")?;
                let short_text = c.string("short text")?;
                let description = c.string("description")?;
                let language = c.string("language")?;
                let episode = c.string("episode")?;
                let genre_count = usize::from(c.u8("genres")?);
                let genres = c.take(genre_count, "genres")?.to_vec();
                let rating_count = c.u8("ratings")?;
                let mut ratings = Vec::new();
                for _ in 0..rating_count {
                    let country = c.string("rating")?;
                    let min_age = c.u8("rating")?;
                    ratings.push(Rating { country, min_age });
                }
                events.push(Event {
                    event_id,
                    start,
                    duration,
                    title,
                    short_text,
                    description,
                    language,
                    genres,
                    ratings,
                    running_status,
                    episode,
                });
            }
            services.push((key, events));
        }
        if !c.rest.is_empty() {
            return Err(bad(format!(
                "{} bytes after the last service",
                c.rest.len()
            )));
        }
        Ok(services)
    }

    /// CRC-32 as in zlib and Ethernet (reflected, polynomial 0xEDB88320).
    pub fn crc32(bytes: &[u8]) -> u32 {
        const TABLE: [u32; 256] = {
            let mut t = [0u32; 256];
            let mut i = 0;
            while i < 256 {
                let mut c = i as u32;
                let mut k = 0;
                while k < 8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                    k += 1;
                }
                t[i] = c;
                i += 1;
            }
            t
        };
        let mut crc = !0u32;
        for &b in bytes {
            crc = TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
        }
        !crc
    }

    #[cfg(test)]
    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eit::tests::extended_descriptor;
    use dvbgate_ts::tables::eit::{EitHeader, EventEntry, build, short_event_descriptor};

    const NOW: i64 = 1_700_000_000;
    const KEY: ServiceKey = ServiceKey {
        original_network_id: 0x20FA,
        transport_stream_id: 1,
        service_id: 0x101,
    };

    fn header(table_id: u8, version: u8, section_number: u8) -> EitHeader {
        EitHeader {
            table_id,
            service_id: KEY.service_id,
            version,
            section_number,
            last_section_number: 1,
            transport_stream_id: KEY.transport_stream_id,
            original_network_id: KEY.original_network_id,
            segment_last_section_number: 1,
            last_table_id: table_id,
        }
    }

    /// (event id, start, duration, title)
    fn section(h: EitHeader, events: &[(u16, i64, u32, &str)]) -> Vec<u8> {
        let descriptors: Vec<Vec<u8>> = events
            .iter()
            .map(|(_, _, _, title)| short_event_descriptor(b"fre", title, ""))
            .collect();
        let entries: Vec<EventEntry<'_>> = events
            .iter()
            .zip(&descriptors)
            .map(|(&(event_id, start, duration, _), d)| EventEntry {
                event_id,
                start,
                duration,
                running_status: 0,
                descriptors: d,
            })
            .collect();
        build(&h, &entries)
    }

    fn ingest(epg: &mut Epg, bytes: &[u8], now: i64) -> IngestOutcome {
        epg.ingest(
            &Section::new(bytes).unwrap(),
            &IngestOptions::default(),
            now,
        )
        .unwrap()
    }

    fn titles(epg: &Epg) -> Vec<(u16, &str)> {
        epg.events(&KEY)
            .iter()
            .map(|e| (e.event_id, e.title.as_str()))
            .collect()
    }

    #[test]
    fn ingests_and_a_repeated_section_is_a_no_op() {
        let mut epg = Epg::new(EpgLimits::default());
        let s = section(
            header(0x50, 1, 0),
            &[(2, NOW + 3600, 1800, "Deux"), (1, NOW, 3600, "Un")],
        );
        let o = ingest(&mut epg, &s, NOW);
        assert_eq!(o.changed, 2);
        assert_eq!(titles(&epg), vec![(1, "Un"), (2, "Deux")]);
        assert_eq!(epg.events(&KEY)[0].language, "fre");
        let g = epg.generation();
        assert!(g > 0);
        assert_eq!(ingest(&mut epg, &s, NOW + 10), IngestOutcome::default());
        assert_eq!(epg.generation(), g);
        assert_eq!(epg.services(), vec![KEY]);
    }

    #[test]
    fn a_new_version_withdraws_what_it_no_longer_carries() {
        let mut epg = Epg::new(EpgLimits::default());
        // Section 0 carries A (already over), B and C; section 1 carries D.
        ingest(
            &mut epg,
            &section(
                header(0x50, 1, 0),
                &[
                    (1, NOW - 3600, 1800, "A"),
                    (2, NOW, 1800, "B"),
                    (3, NOW + 1800, 1800, "C"),
                ],
            ),
            NOW,
        );
        ingest(
            &mut epg,
            &section(header(0x50, 1, 1), &[(4, NOW + 3600, 1800, "D")]),
            NOW,
        );
        // D moves into section 0 as well (it is still carried by section 1 too), C is
        // cancelled, A is history.
        let o = ingest(
            &mut epg,
            &section(
                header(0x50, 2, 0),
                &[(2, NOW, 1800, "B"), (4, NOW + 3600, 1800, "D")],
            ),
            NOW + 60,
        );
        assert_eq!(
            o,
            IngestOutcome {
                changed: 0,
                removed: 1,
                ignored: false
            }
        );
        assert_eq!(titles(&epg), vec![(1, "A"), (2, "B"), (4, "D")]);
        // Section 1 drops D, but section 0 still carries it.
        ingest(&mut epg, &section(header(0x50, 2, 1), &[]), NOW + 60);
        assert_eq!(titles(&epg), vec![(1, "A"), (2, "B"), (4, "D")]);
    }

    #[test]
    fn events_replace_by_id_and_overlaps_replace_other_ids() {
        let mut epg = Epg::new(EpgLimits::default());
        ingest(
            &mut epg,
            &section(
                header(0x4E, 1, 0),
                &[(1, NOW, 1800, "Old"), (2, NOW + 1800, 1800, "Next")],
            ),
            NOW,
        );
        // A p/f update of event 1 (new title), then a schedule event 9 that overlaps
        // event 2's slot.
        ingest(
            &mut epg,
            &section(
                header(0x4E, 2, 0),
                &[(1, NOW, 1800, "New"), (2, NOW + 1800, 1800, "Next")],
            ),
            NOW,
        );
        assert_eq!(titles(&epg), vec![(1, "New"), (2, "Next")]);
        let o = ingest(
            &mut epg,
            &section(header(0x50, 1, 0), &[(9, NOW + 2400, 600, "Reshuffled")]),
            NOW,
        );
        assert_eq!(
            o,
            IngestOutcome {
                changed: 1,
                removed: 1,
                ignored: false
            }
        );
        assert_eq!(titles(&epg), vec![(1, "New"), (9, "Reshuffled")]);
    }

    #[test]
    fn time_offset_and_charset_options_apply() {
        let mut epg = Epg::new(EpgLimits::default());
        // 0xE9 is "é" in Latin-1 but a diacritic prefix in ISO 6937.
        let mut d = vec![tag_short(), 0];
        d.extend(b"fre");
        d.extend([4, b'C', b'a', b'f', 0xE9, 0]);
        d[1] = (d.len() - 2) as u8;
        let bytes = build(
            &header(0x4E, 1, 0),
            &[EventEntry {
                event_id: 5,
                start: NOW,
                duration: 60,
                running_status: 4,
                descriptors: &d,
            }],
        );
        let options = IngestOptions {
            charset: Some((Charset::Iso8859(1), false)),
            time_offset: 86_400,
        };
        epg.ingest(&Section::new(&bytes).unwrap(), &options, NOW + 86_400)
            .unwrap();
        let e = &epg.events(&KEY)[0];
        assert_eq!(
            (e.title.as_str(), e.start, e.running_status),
            ("Café", NOW + 86_400, 4)
        );
    }

    fn tag_short() -> u8 {
        dvbgate_ts::descriptor::tag::SHORT_EVENT
    }

    #[test]
    fn bounds_in_time_and_size() {
        let limits = EpgLimits {
            ahead_seconds: 86_400,
            behind_seconds: 3600,
            max_events_per_service: 3,
            max_services: 1,
            max_title_bytes: 4,
            ..EpgLimits::default()
        };
        let mut epg = Epg::new(limits);
        ingest(
            &mut epg,
            &section(
                header(0x50, 1, 0),
                &[
                    (1, NOW - 7200, 1800, "Gone"),   // ended before now - 1 h
                    (2, NOW - 3000, 1800, "Kept"),   // ended within the hour
                    (3, NOW, 60, "Titre trop long"), // cut to 4 bytes
                    (4, NOW + 3600, 60, "Four"),
                    (5, NOW + 7200, 60, "Five"),      // over the cap of 3
                    (6, NOW + 2 * 86_400, 60, "Far"), // beyond a day ahead
                ],
            ),
            NOW,
        );
        assert_eq!(titles(&epg), vec![(2, "Kept"), (3, "Titr"), (4, "Four")]);
        // A second service is refused and counted.
        let other = build(
            &EitHeader {
                service_id: 0x999,
                ..header(0x4E, 1, 0)
            },
            &[],
        );
        let o = ingest(&mut epg, &other, NOW);
        assert!(o.ignored);
        assert_eq!(epg.stats().services_refused, 1);
        assert_eq!(epg.stats().services, 1);

        // Time passes: "Kept" and "Titr" expire, which makes room; the unchanged section
        // is read again and fills it up to the cap, "Far" now in range but over it.
        let later = NOW + 86_400 + 100;
        epg.expire(later);
        assert_eq!(titles(&epg), vec![]);
        assert!(epg.services().is_empty());
        ingest(
            &mut epg,
            &section(
                header(0x50, 1, 0),
                &[
                    (4, NOW + 3600, 60, "Four"),
                    (6, NOW + 2 * 86_400, 60, "Far"),
                ],
            ),
            later,
        );
        assert_eq!(titles(&epg), vec![(6, "Far")]);
    }

    #[test]
    fn a_repeated_section_is_read_again_once_its_far_events_come_into_range() {
        let limits = EpgLimits {
            ahead_seconds: 3600,
            ..EpgLimits::default()
        };
        let mut epg = Epg::new(limits);
        let s = section(
            header(0x50, 1, 0),
            &[(1, NOW, 1800, "Now"), (2, NOW + 7200, 1800, "Later")],
        );
        ingest(&mut epg, &s, NOW);
        assert_eq!(titles(&epg), vec![(1, "Now")]);
        // Still out of range: no work.
        assert_eq!(ingest(&mut epg, &s, NOW + 60), IngestOutcome::default());
        let o = ingest(&mut epg, &s, NOW + 3600);
        assert_eq!(o.changed, 1);
        assert_eq!(titles(&epg), vec![(1, "Now"), (2, "Later")]);
    }

    #[test]
    fn wanted_services_only() {
        let mut epg = Epg::new(EpgLimits::default());
        let s = section(header(0x4E, 1, 0), &[(1, NOW, 60, "X")]);
        ingest(&mut epg, &s, NOW);
        let g = epg.generation();
        epg.set_wanted(Some(HashSet::new()));
        assert!(epg.services().is_empty());
        assert!(epg.generation() > g);
        assert!(ingest(&mut epg, &s, NOW).ignored);
        epg.set_wanted(Some(HashSet::from([KEY])));
        assert_eq!(ingest(&mut epg, &s, NOW).changed, 1);
        epg.set_wanted(None);
        assert_eq!(epg.services(), vec![KEY]);
    }

    #[test]
    fn between_finds_the_window() {
        let mut epg = Epg::new(EpgLimits::default());
        ingest(
            &mut epg,
            &section(
                header(0x50, 1, 0),
                &[
                    (1, NOW, 600, "A"),
                    (2, NOW + 600, 600, "B"),
                    (3, NOW + 1200, 0, "Z"), // zero length
                    (4, NOW + 1800, 600, "C"),
                ],
            ),
            NOW,
        );
        let ids = |from, to| -> Vec<u16> {
            epg.between(&KEY, from, to)
                .iter()
                .map(|e| e.event_id)
                .collect()
        };
        assert_eq!(ids(NOW + 600, NOW + 601), vec![2]);
        assert_eq!(ids(NOW + 599, NOW + 1201), vec![1, 2, 3]);
        assert_eq!(ids(NOW + 1200, NOW + 2400), vec![3, 4]);
        assert_eq!(ids(NOW + 5000, NOW + 6000), Vec::<u16>::new());
        assert_eq!(ids(NOW + 600, NOW), Vec::<u16>::new(), "reversed window");
        let absent = ServiceKey {
            service_id: 1,
            ..KEY
        };
        assert!(epg.between(&absent, 0, i64::MAX).is_empty());
    }

    #[test]
    fn not_eit_and_malformed_sections_are_errors_and_counted() {
        let mut epg = Epg::new(EpgLimits::default());
        let pat = dvbgate_ts::write::SectionBuilder::long(0x00, 1, 0, 0, 0).finish();
        assert!(matches!(
            epg.ingest(&Section::new(&pat).unwrap(), &IngestOptions::default(), NOW),
            Err(EpgError::NotEit(0))
        ));
        // An EIT with a body too short for its fixed fields.
        let short = dvbgate_ts::write::SectionBuilder::long(0x4E, 1, 0, 0, 0).finish();
        assert!(matches!(
            epg.ingest(
                &Section::new(&short).unwrap(),
                &IngestOptions::default(),
                NOW
            ),
            Err(EpgError::Malformed(_))
        ));
        assert_eq!(epg.stats().bad_sections, 2);
    }

    #[test]
    fn replace_service_sorts_and_bounds() {
        let mut epg = Epg::new(EpgLimits::default());
        let ev = |id, start, title: &str| Event {
            event_id: id,
            start,
            duration: 600,
            title: title.into(),
            short_text: String::new(),
            description: String::new(),
            language: String::new(),
            genres: vec![],
            ratings: vec![],
            running_status: 0,
            episode: String::new(),
        };
        epg.replace_service(
            KEY,
            vec![
                ev(2, NOW + 600, "B"),
                ev(1, NOW, "A"),
                ev(3, NOW - 10 * 86_400, "Old"),
            ],
            NOW,
        );
        assert_eq!(titles(&epg), vec![(1, "A"), (2, "B")]);
        let g = epg.generation();
        epg.replace_service(KEY, vec![ev(1, NOW, "A"), ev(2, NOW + 600, "B")], NOW);
        assert_eq!(epg.generation(), g, "same guide, same generation");
    }

    fn sample_guide(services: u16, days: i64, per_day: i64, description_bytes: usize) -> Epg {
        let mut epg = Epg::new(EpgLimits::default());
        let description: String = "Une description détaillée. "
            .chars()
            .cycle()
            .take(description_bytes)
            .collect();
        let slot = 86_400 / per_day;
        for s in 0..services {
            let key = ServiceKey {
                service_id: s,
                ..KEY
            };
            let events = (0..days * per_day)
                .map(|i| Event {
                    event_id: i as u16,
                    start: NOW + i * slot,
                    duration: slot as u32,
                    title: format!("Programme numéro {i}"),
                    short_text: "Épisode 3 : la suite".into(),
                    description: description.clone(),
                    language: "fre".into(),
                    genres: vec![0x10],
                    ratings: vec![],
                    running_status: 0,
                    episode: String::new(),
                })
                .collect();
            epg.replace_service(key, events, NOW);
        }
        epg
    }

    /// 100 services × 7 days × 30 events a day with 300-character descriptions: 21 000
    /// events. Each costs its struct (`size_of::<Event>()`, 184 bytes on 64-bit) plus five
    /// heap blocks holding ~367 bytes of text (title ~21, short text 21, description ~311
    /// since "é" takes two bytes, language 3, genre 1), each with ~16 bytes of allocator
    /// overhead: 184 + 367 + 80 ≈ 631 bytes, ≈ 13.3 MB in all, 58 % of it the text itself.
    /// The bound allows 700 bytes an event: a regression (a Vec doubling left unshrunk,
    /// spare String capacity) breaks it.
    #[test]
    #[allow(clippy::print_stderr)] // the figure, for the record
    fn a_week_for_a_hundred_services_stays_lean() {
        let epg = sample_guide(100, 7, 30, 300);
        let stats = epg.stats();
        assert_eq!((stats.services, stats.events), (100, 21_000));
        let text: usize = epg
            .services()
            .iter()
            .flat_map(|k| epg.events(k))
            .map(|e| e.title.len() + e.short_text.len() + e.description.len() + 3 + 1)
            .sum();
        let per_event = stats.bytes / stats.events;
        eprintln!(
            "100 services x 7 days: {} events, {} bytes ({} per event; text {} bytes)",
            stats.events, stats.bytes, per_event, text
        );
        assert!(
            stats.bytes > text + 21_000 * size_of::<Event>(),
            "counts everything"
        );
        assert!(per_event <= 700, "{per_event} bytes per event");
    }

    #[test]
    fn snapshot_round_trips() {
        let mut epg = sample_guide(3, 1, 10, 50);
        // One event with every field set.
        let mut d = short_event_descriptor(b"fre", "Été & <hiver>", "Résumé");
        d.extend(extended_descriptor(
            0,
            0,
            b"fre",
            &[(b"Avec", b"Moi")],
            b"Texte",
        ));
        d.extend(dvbgate_ts::tables::eit::content_descriptor(0x14));
        d.extend([dvbgate_ts::descriptor::tag::PARENTAL_RATING, 4]);
        d.extend(b"FRA\x07");
        let bytes = build(
            &header(0x4E, 1, 0),
            &[EventEntry {
                event_id: 77,
                start: NOW - 60,
                duration: 60,
                running_status: 4,
                descriptors: &d,
            }],
        );
        epg.ingest(
            &Section::new(&bytes).unwrap(),
            &IngestOptions::default(),
            NOW,
        )
        .unwrap();
        let snap = epg.snapshot();
        let back = Epg::restore(&snap, EpgLimits::default(), NOW).unwrap();
        assert_eq!(back.services(), epg.services());
        for k in epg.services() {
            assert_eq!(back.events(&k), epg.events(&k));
        }
        let full = &back.events(&KEY)[0];
        assert_eq!(full.description, "Avec: Moi\nTexte");
        assert_eq!(full.ratings[0].min_age, 10);
        // Restoring into tighter limits drops what is outside them.
        let tight = EpgLimits {
            max_events_per_service: 2,
            ..EpgLimits::default()
        };
        let back = Epg::restore(&snap, tight, NOW).unwrap();
        assert!(back.services().iter().all(|k| back.events(k).len() <= 2));
        assert_eq!(back.stats().events, 3 * 2 + 1);
    }

    #[test]
    fn restore_rejects_garbage_without_panicking() {
        let epg = sample_guide(2, 1, 4, 20);
        let snap = epg.snapshot();
        for len in 0..snap.len() {
            assert!(
                Epg::restore(&snap[..len], EpgLimits::default(), NOW).is_err(),
                "{len}"
            );
        }
        // Every single-bit flip is caught (by the checksum, or the header checks).
        for i in 0..snap.len() {
            let mut bad = snap.clone();
            bad[i] ^= 0x10;
            assert!(
                Epg::restore(&bad, EpgLimits::default(), NOW).is_err(),
                "byte {i}"
            );
        }
        let mut future = snap.clone();
        future[8] = 2;
        let err = Epg::restore(&future, EpgLimits::default(), NOW).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");

        // Garbage with a valid checksum: the parser itself must hold (lying counts,
        // lengths past the end, bad UTF-8).
        let mut state = 0x1234_5678_u32;
        for round in 0..2000 {
            let mut body = b"DVBG-EPG\x01\x00".to_vec();
            let n = (round % 97) as usize;
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                body.push((state >> (round % 24)) as u8);
            }
            let crc = snapshot::crc32(&body);
            body.extend_from_slice(&crc.to_le_bytes());
            let _ = Epg::restore(&body, EpgLimits::default(), NOW);
        }
        // A lying event count does not allocate for it.
        let mut lie =
            b"DVBG-EPG\x01\x00\x01\x00\x00\x00\x01\x00\x02\x00\x03\x00\xff\xff\xff\xff".to_vec();
        let crc = snapshot::crc32(&lie);
        lie.extend_from_slice(&crc.to_le_bytes());
        assert!(Epg::restore(&lie, EpgLimits::default(), NOW).is_err());
    }

    #[test]
    fn stats_follow_the_guide() {
        let mut epg = Epg::new(EpgLimits::default());
        let empty = epg.stats().bytes;
        ingest(
            &mut epg,
            &section(header(0x4E, 1, 0), &[(1, NOW, 60, "Un titre")]),
            NOW,
        );
        let one = epg.stats();
        assert_eq!((one.services, one.events), (1, 1));
        assert!(one.bytes > empty + size_of::<Event>());
        epg.expire(NOW + 2 * 86_400);
        assert_eq!(epg.stats().events, 0);
    }
}
