//! The in-memory guide: events per service, merged from EIT sections by event id and
//! table version, bounded in time and size.

use crate::event::{Event, ServiceKey};
use dvbgate_ts::section::Section;
use dvbgate_ts::text::Charset;

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
    // Filled in by the implementation.
}

impl Epg {
    pub fn new(limits: EpgLimits) -> Self {
        let _ = limits;
        todo!()
    }

    /// Only these services are kept (None, the default: all, as `dvbgate epg` wants).
    /// Events of services no longer wanted are dropped.
    pub fn set_wanted(&mut self, services: Option<std::collections::HashSet<ServiceKey>>) {
        let _ = services;
        todo!()
    }

    /// Reads one EIT section (any table id 0x4E..=0x6F). `now` (Unix seconds) bounds what
    /// is kept. A repeated section (same table, section, version) changes nothing.
    pub fn ingest(
        &mut self,
        section: &Section<'_>,
        options: &IngestOptions,
        now: i64,
    ) -> Result<IngestOutcome, EpgError> {
        let _ = (section, options, now);
        todo!()
    }

    /// Replaces a service's events with these (an XMLTV import for a channel without EIT).
    pub fn replace_service(&mut self, key: ServiceKey, events: Vec<Event>, now: i64) {
        let _ = (key, events, now);
        todo!()
    }

    /// The service's events, sorted by start, without overlaps.
    pub fn events(&self, key: &ServiceKey) -> &[Event] {
        let _ = key;
        todo!()
    }

    /// Events of a service that end after `from` and start before `to`, in order.
    pub fn between(&self, key: &ServiceKey, from: i64, to: i64) -> &[Event] {
        let _ = (key, from, to);
        todo!()
    }

    /// Services with at least one event.
    pub fn services(&self) -> Vec<ServiceKey> {
        todo!()
    }

    /// Drops what is now outside the limits.
    pub fn expire(&mut self, now: i64) {
        let _ = now;
        todo!()
    }

    /// Changes whenever an event is added, changed or removed.
    pub fn generation(&self) -> u64 {
        todo!()
    }

    pub fn stats(&self) -> EpgStats {
        todo!()
    }

    /// A compact, versioned encoding of every service's events, for a file on flash.
    pub fn snapshot(&self) -> Vec<u8> {
        todo!()
    }

    /// Reads a snapshot back (into a guide with these limits; what is outside them is
    /// dropped). An unreadable or future-version snapshot is an error, never a panic.
    pub fn restore(bytes: &[u8], limits: EpgLimits, now: i64) -> Result<Epg, EpgError> {
        let _ = (bytes, limits, now);
        todo!()
    }
}
