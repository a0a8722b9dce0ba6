//! The programme guide service: from the pipelines' EIT sections to the guide the API
//! serves.
//!
//! ```text
//!  pipeline thread (per input)              "epg" thread                      API (tokio)
//!  MuxMonitor ─EIT/TDT sections─▶ sink ──bounded queue──▶ collector ──▶ Epg ◀── channel_events,
//!             (repeats included)  new or changed                  (RwLock)    write_xmltv
//!                                 sections only                      │
//!                                                                    └─▶ snapshot file (every few hours)
//! ```
//!
//! The sink runs on the hot path, so it only decides whether a section is new (a map of
//! table, service and section number to version and CRC) and hands new ones over; a full
//! queue drops the section and forgets it, so the broadcaster's next repetition brings it
//! again. The collector decodes (`dvbgate_epg::Epg::ingest`) with the charset rules of the
//! settings, and keeps only the services that are channels.
//!
//! A recording (a file input, such as the demo's) carries the guide of the day it was
//! made: its events are shifted by the difference between its TDT and now, rounded down to the
//! hour, so a replayed multiplex shows a current guide. Live inputs are never shifted.
//!
//! The guide lives in memory. It is written to flash at most every
//! `settings.epg.snapshot_hours` (and at an orderly stop), and read back at start, so a
//! restart does not lose a week of schedule, and the card does not wear.

use crate::Supervisor;
use dvbgate_epg::xmltv::XmltvChannel;
use dvbgate_epg::{Epg, EpgLimits, EpgStats, Event, IngestOptions, ServiceKey};
use dvbgate_store::{ChannelConfig, Settings, XmltvSource};
use dvbgate_ts::packet::pids;
use dvbgate_ts::section::Section;
use dvbgate_ts::tables::{eit, time};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tracing::{info, warn};

/// Sections waiting for the collector; beyond this, the sinks drop (and forget) them.
const QUEUE_SECTIONS: usize = 4096;
/// Sections of a recording held until its first TDT says how far to shift them.
const MAX_PENDING: usize = 8192;
/// A sink remembers at most this many sections (a satellite's EIT other can carry tens
/// of thousands); past it, it starts afresh.
const MAX_SEEN: usize = 65_536;
/// The snapshot file, in the configuration directory.
const SNAPSHOT_FILE: &str = "epg.snapshot";
const SNAPSHOT_MAGIC: &[u8; 8] = b"DVBGEPG1";
/// The guide prunes what went out of its window this often.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// One section from a pipeline.
struct Feed {
    input_id: u32,
    pid: u16,
    bytes: Box<[u8]>,
}

/// Where a channel's events come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Route {
    /// The broadcast guide, under this service.
    Broadcast(ServiceKey),
    /// An imported XMLTV guide, filed under the channel's id.
    Imported(ServiceKey),
}

/// What the collector knows of an input.
#[derive(Default)]
struct InputFeed {
    recording: bool,
    /// Seconds added to a recording's event times; None until its first TDT.
    shift: Option<i64>,
    pending: Vec<Box<[u8]>>,
    /// Broadcast time minus system time at the last TDT/TOT.
    clock_offset: Option<i64>,
}

struct Inner {
    broadcast: RwLock<Epg>,
    imported: RwLock<Epg>,
    routes: RwLock<HashMap<u32, Route>>,
    inputs: Mutex<HashMap<u32, InputFeed>>,
    settings: RwLock<dvbgate_store::EpgSettings>,
    /// Bumped when the set of wanted services changes: the sinks then forget what they
    /// have seen, so sections they skipped as repeats come through again.
    epoch: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    sections: AtomicU64,
    ingest_errors: AtomicU64,
    snapshot_path: Option<PathBuf>,
    last_snapshot: Mutex<(Instant, u64)>,
    imports: Mutex<HashMap<String, ImportState>>,
}

/// An XMLTV source's last import.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportState {
    #[serde(skip)]
    started: Option<Instant>,
    #[serde(skip)]
    running: bool,
    /// The channels mapped to XMLTV ids when it ran: a change imports again.
    #[serde(skip)]
    mapping: u64,
    /// Unix seconds of the last completed import.
    pub finished_at: Option<i64>,
    /// "ok: 12 channels, 2016 programmes" or why it failed.
    pub result: String,
}

/// See the module docs.
pub struct EpgService {
    inner: Arc<Inner>,
    feed: SyncSender<Feed>,
    collector: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Figures for the API and monitoring.
#[derive(Clone, Debug, Serialize)]
pub struct EpgServiceStats {
    /// The broadcast guide.
    pub broadcast: GuideStats,
    /// Guides imported from XMLTV.
    pub imported: GuideStats,
    /// Sections decoded since start.
    pub sections: u64,
    /// Sections dropped because the collector was behind.
    pub dropped_sections: u64,
    /// Sections that were not valid EIT.
    pub bad_sections: u64,
    /// Channels with a guide route.
    pub channels: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct GuideStats {
    pub services: usize,
    pub events: usize,
    pub bytes: usize,
}

impl From<EpgStats> for GuideStats {
    fn from(s: EpgStats) -> Self {
        GuideStats {
            services: s.services,
            events: s.events,
            bytes: s.bytes,
        }
    }
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The guide id of a channel: XC `epg_channel_id`, M3U `tvg-id` and XMLTV channel id.
pub fn epg_channel_id(channel_id: u32) -> String {
    format!("{channel_id}.dvbgate")
}

/// The key an imported guide is filed under: the channel's id split in two halves, with
/// network id 0 (reserved: no broadcast service has it).
fn imported_key(channel_id: u32) -> ServiceKey {
    ServiceKey {
        original_network_id: 0,
        transport_stream_id: (channel_id >> 16) as u16,
        service_id: channel_id as u16,
    }
}

/// A file input replays a recording; everything else is live.
fn is_recording(url: &str) -> bool {
    url.starts_with("file:") || !url.contains("://")
}

impl EpgService {
    /// Starts the collector; `data_dir` holds the snapshot (None: no snapshot, as in
    /// tests). A snapshot found there is loaded.
    pub fn start(data_dir: Option<&Path>, settings: &Settings) -> EpgService {
        let limits = EpgLimits::default();
        let snapshot_path = data_dir.map(|d| d.join(SNAPSHOT_FILE));
        let (broadcast, routes) = match snapshot_path.as_deref().map(load_snapshot) {
            Some(Ok(Some((epg, routes)))) => {
                let s = epg.stats();
                info!(
                    services = s.services,
                    events = s.events,
                    "programme guide restored from its snapshot"
                );
                (epg, routes)
            }
            Some(Ok(None)) | None => (Epg::new(limits.clone()), HashMap::new()),
            Some(Err(why)) => {
                warn!("programme guide snapshot ignored: {why}");
                (Epg::new(limits.clone()), HashMap::new())
            }
        };
        let (feed, rx) = std::sync::mpsc::sync_channel(QUEUE_SECTIONS);
        let inner = Arc::new(Inner {
            broadcast: RwLock::new(broadcast),
            imported: RwLock::new(Epg::new(limits)),
            routes: RwLock::new(routes),
            inputs: Mutex::new(HashMap::new()),
            settings: RwLock::new(settings.epg.clone()),
            epoch: Arc::new(AtomicU64::new(0)),
            dropped: Arc::new(AtomicU64::new(0)),
            sections: AtomicU64::new(0),
            ingest_errors: AtomicU64::new(0),
            snapshot_path,
            last_snapshot: Mutex::new((Instant::now(), 0)),
            imports: Mutex::new(HashMap::new()),
        });
        let worker = Arc::clone(&inner);
        let collector = std::thread::Builder::new()
            .name("epg".into())
            .spawn(move || collect(&worker, rx))
            .map_err(|e| warn!("cannot start the programme guide thread: {e}"))
            .ok();
        EpgService {
            inner,
            feed,
            collector: Mutex::new(collector),
        }
    }

    /// The factory of section sinks for one input's pipeline.
    pub(crate) fn sink_for(
        &self,
        input_id: u32,
        url: &str,
    ) -> Arc<dyn Fn() -> dvbgate_ts::monitor::SectionSink + Send + Sync> {
        {
            let mut inputs = lock(&self.inner.inputs);
            let feed = inputs.entry(input_id).or_default();
            feed.recording = is_recording(url);
        }
        let (tx, epoch, dropped) = (
            self.feed.clone(),
            Arc::clone(&self.inner.epoch),
            Arc::clone(&self.inner.dropped),
        );
        Arc::new(move || {
            let mut sink = SectionFilter::new(tx.clone(), Arc::clone(&epoch), Arc::clone(&dropped));
            Box::new(move |pid, section| sink.offer(input_id, pid, section))
        })
    }

    /// Follows the configuration: which service each channel's guide comes from (its
    /// input's network and transport stream ids, once known), the charset rules, and
    /// the channels' XMLTV mapping. Called by the housekeeping pass.
    pub(crate) fn refresh(
        &self,
        channels: &[ChannelConfig],
        inputs: &HashMap<u32, (u16, u16)>,
        settings: &Settings,
    ) {
        *write(&self.inner.settings) = settings.epg.clone();
        start_due_imports(&self.inner, channels, &settings.epg.xmltv_sources);
        let mut routes = write(&self.inner.routes);
        let before: HashSet<Route> = routes.values().copied().collect();
        routes.retain(|id, _| channels.iter().any(|c| c.id == *id));
        for c in channels {
            if c.xmltv_id.is_some() {
                routes.insert(c.id, Route::Imported(imported_key(c.id)));
            } else if let Some(&(onid, tsid)) = inputs.get(&c.input_id) {
                routes.insert(
                    c.id,
                    Route::Broadcast(ServiceKey {
                        original_network_id: onid,
                        transport_stream_id: tsid,
                        service_id: c.service_id,
                    }),
                );
            } else if matches!(routes.get(&c.id), Some(Route::Imported(_))) {
                routes.remove(&c.id);
            }
            // A channel whose input is not running keeps its last known service.
        }
        let after: HashSet<Route> = routes.values().copied().collect();
        if before != after {
            let wanted = |imported: bool| {
                routes
                    .values()
                    .filter_map(|r| match (r, imported) {
                        (Route::Broadcast(k), false) | (Route::Imported(k), true) => Some(*k),
                        _ => None,
                    })
                    .collect::<HashSet<_>>()
            };
            write(&self.inner.broadcast).set_wanted(Some(wanted(false)));
            write(&self.inner.imported).set_wanted(Some(wanted(true)));
            self.inner.epoch.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn route(&self, channel_id: u32) -> Option<Route> {
        read(&self.inner.routes).get(&channel_id).copied()
    }

    /// A channel's events that end after `from` and start before `to`, in order, at
    /// most `limit`.
    pub fn channel_events(&self, channel_id: u32, from: i64, to: i64, limit: usize) -> Vec<Event> {
        let (guide, key) = match self.route(channel_id) {
            Some(Route::Broadcast(k)) => (&self.inner.broadcast, k),
            Some(Route::Imported(k)) => (&self.inner.imported, k),
            None => return Vec::new(),
        };
        read(guide)
            .between(&key, from, to)
            .iter()
            .take(limit)
            .cloned()
            .collect()
    }

    /// The whole guide of these channels as an XMLTV document.
    pub fn write_xmltv(&self, lineup: &[crate::LineupEntry], out: &mut String) {
        let routes = read(&self.inner.routes);
        let broadcast = read(&self.inner.broadcast);
        let imported = read(&self.inner.imported);
        let channels: Vec<XmltvChannel<'_>> = lineup
            .iter()
            .map(|e| XmltvChannel {
                id: &e.epg_id,
                display_name: &e.name,
                number: Some(e.number),
                icon: None,
            })
            .collect();
        let by_epg_id: HashMap<&str, u32> = lineup
            .iter()
            .map(|e| (e.epg_id.as_str(), e.channel_id))
            .collect();
        dvbgate_epg::xmltv::write(out, "dvbgate", &channels, |epg_id| {
            let Some(route) = by_epg_id.get(epg_id).and_then(|id| routes.get(id)) else {
                return Vec::new();
            };
            match route {
                Route::Broadcast(k) => broadcast.events(k).iter().collect(),
                Route::Imported(k) => imported.events(k).iter().collect(),
            }
        });
    }

    /// Changes whenever either guide changes.
    pub fn generation(&self) -> u64 {
        read(&self.inner.broadcast)
            .generation()
            .wrapping_add(read(&self.inner.imported).generation().rotate_left(32))
            .wrapping_add(self.inner.epoch.load(Ordering::Relaxed))
    }

    pub fn stats(&self) -> EpgServiceStats {
        EpgServiceStats {
            broadcast: read(&self.inner.broadcast).stats().into(),
            imported: read(&self.inner.imported).stats().into(),
            sections: self.inner.sections.load(Ordering::Relaxed),
            dropped_sections: self.inner.dropped.load(Ordering::Relaxed),
            bad_sections: self.inner.ingest_errors.load(Ordering::Relaxed),
            channels: read(&self.inner.routes).len(),
        }
    }

    /// The XMLTV sources' last imports, by URL.
    pub fn imports(&self) -> HashMap<String, ImportState> {
        lock(&self.inner.imports).clone()
    }

    /// Writes the snapshot if the guide changed and the last one is old enough (or
    /// `force`, at an orderly stop). Returns whether it wrote.
    pub fn save_if_due(&self, force: bool) -> bool {
        let Some(path) = self.inner.snapshot_path.as_deref() else {
            return false;
        };
        let hours = u64::from(read(&self.inner.settings).snapshot_hours).max(1);
        let generation = read(&self.inner.broadcast).generation();
        let mut last = lock(&self.inner.last_snapshot);
        let due = last.0.elapsed() >= Duration::from_secs(hours * 3600);
        if generation == last.1 || !(force || due) {
            return false;
        }
        let bytes = {
            let routes = read(&self.inner.routes);
            let broadcast: HashMap<u32, ServiceKey> = routes
                .iter()
                .filter_map(|(id, r)| match r {
                    Route::Broadcast(k) => Some((*id, *k)),
                    Route::Imported(_) => None,
                })
                .collect();
            encode_snapshot(&broadcast, &read(&self.inner.broadcast).snapshot())
        };
        match write_atomically(path, &bytes) {
            Ok(()) => {
                *last = (Instant::now(), generation);
                info!(bytes = bytes.len(), path = %path.display(), "programme guide saved");
                true
            }
            Err(e) => {
                warn!(path = %path.display(), "cannot save the programme guide: {e}");
                // Try again at the next period rather than every second.
                last.0 = Instant::now();
                false
            }
        }
    }

    /// Stops the collector and saves the guide.
    pub fn stop(&self) {
        self.save_if_due(true);
        // The collector ends when every sender is gone; pipelines are stopped first.
        let _ = lock(&self.collector).take();
    }

    /// Broadcast time minus system time at the last TDT of an input, if any.
    pub fn clock_offset(&self, input_id: u32) -> Option<i64> {
        lock(&self.inner.inputs)
            .get(&input_id)
            .and_then(|f| f.clock_offset)
    }
}

/// Most bytes an XMLTV source may have (a week of 1000 channels is about 100 MB, far
/// beyond any real LAN box's need; 64 MiB bounds the memory an import takes).
const MAX_XMLTV_BYTES: u64 = 64 << 20;
/// Most programmes one import reads.
const MAX_XMLTV_PROGRAMMES: usize = 500_000;

/// Starts, each on its own thread, the imports whose time has come: never run, older than
/// their refresh period, or run for another mapping of channels to XMLTV ids.
fn start_due_imports(inner: &Arc<Inner>, channels: &[ChannelConfig], sources: &[XmltvSource]) {
    let mapped: Vec<ChannelConfig> = channels
        .iter()
        .filter(|c| c.xmltv_id.is_some())
        .cloned()
        .collect();
    let mapping = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for c in &mapped {
            (c.id, &c.xmltv_id).hash(&mut h);
        }
        h.finish()
    };
    let mut imports = lock(&inner.imports);
    imports.retain(|url, _| sources.iter().any(|s| &s.url == url));
    for source in sources {
        let state = imports.entry(source.url.clone()).or_default();
        let period = Duration::from_secs(u64::from(source.refresh_hours.max(1)) * 3600);
        let due = state.started.is_none_or(|t| t.elapsed() >= period) || state.mapping != mapping;
        if state.running || !due || mapped.is_empty() {
            continue;
        }
        state.running = true;
        state.started = Some(Instant::now());
        state.mapping = mapping;
        let (inner, url, channels) = (Arc::clone(inner), source.url.clone(), mapped.clone());
        let spawned = std::thread::Builder::new()
            .name("epg-import".into())
            .spawn(move || {
                let result = fetch(&url)
                    .and_then(|bytes| {
                        dvbgate_epg::xmltv::parse(&bytes, MAX_XMLTV_PROGRAMMES)
                            .map_err(|e| e.to_string())
                    })
                    .map(|doc| {
                        let programmes = doc.programmes.len();
                        let imported = import_into(&inner, &doc, &channels);
                        format!("ok: {imported} channel(s), {programmes} programme(s)")
                    });
                let result = match result {
                    Ok(ok) => {
                        info!(url = %url, "XMLTV guide imported, {ok}");
                        ok
                    }
                    Err(why) => {
                        warn!(url = %url, "XMLTV guide not imported: {why}");
                        why
                    }
                };
                let mut imports = lock(&inner.imports);
                if let Some(state) = imports.get_mut(&url) {
                    state.running = false;
                    state.finished_at = Some(now_unix());
                    state.result = result;
                }
            });
        if spawned.is_err() {
            state.running = false;
        }
    }
}

/// The bytes of an XMLTV source: `file:///path` or `http://host[:port]/path`.
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    if let Some(path) = url.strip_prefix("file://") {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
        let mut bytes = Vec::new();
        file.take(MAX_XMLTV_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {path}: {e}"))?;
        if bytes.len() as u64 > MAX_XMLTV_BYTES {
            return Err(format!(
                "{path} is larger than {} MiB",
                MAX_XMLTV_BYTES >> 20
            ));
        }
        return Ok(bytes);
    }
    if url.starts_with("http://") {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut response = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
        return response
            .body_mut()
            .with_config()
            .limit(MAX_XMLTV_BYTES)
            .read_to_vec()
            .map_err(|e| format!("{url}: {e}"));
    }
    Err(format!(
        "{url}: only file:// and http:// sources are supported"
    ))
}

/// Files an XMLTV document's programmes under the channels mapped to its channel ids
/// (their `xmltv_id`); returns how many channels got a guide.
fn import_into(
    inner: &Inner,
    doc: &dvbgate_epg::xmltv::XmltvDocument,
    channels: &[ChannelConfig],
) -> usize {
    let now = now_unix();
    let mut by_id: HashMap<&str, Vec<Event>> = HashMap::new();
    for (channel, event) in &doc.programmes {
        by_id
            .entry(channel.as_str())
            .or_default()
            .push(event.clone());
    }
    let mut imported = 0;
    for c in channels {
        let Some(events) = c.xmltv_id.as_deref().and_then(|id| by_id.remove(id)) else {
            continue;
        };
        write(&inner.imported).replace_service(imported_key(c.id), events, now);
        imported += 1;
    }
    imported
}

/// Table id, table id extension (the service), section number, transport stream id,
/// original network id: one section's place in the EIT.
type SectionId = (u8, u16, u8, u16, u16);

/// The hot-path half of the sink: passes on only sections it has not seen.
struct SectionFilter {
    tx: SyncSender<Feed>,
    epoch: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    seen_epoch: u64,
    /// (table id, table id extension, section number, transport stream id, network id)
    /// → (version, CRC).
    seen: HashMap<SectionId, (u8, u32)>,
    last_clock: Option<Instant>,
}

impl SectionFilter {
    fn new(tx: SyncSender<Feed>, epoch: Arc<AtomicU64>, dropped: Arc<AtomicU64>) -> Self {
        SectionFilter {
            tx,
            epoch,
            dropped,
            seen_epoch: u64::MAX,
            seen: HashMap::new(),
            last_clock: None,
        }
    }

    fn offer(&mut self, input_id: u32, pid: u16, section: &Section<'_>) {
        if pid == pids::TDT {
            // The clock: once every 10 s is plenty.
            if self
                .last_clock
                .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
            {
                return;
            }
            if self.send(input_id, pid, section) {
                self.last_clock = Some(Instant::now());
            }
            return;
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        if epoch != self.seen_epoch || self.seen.len() >= MAX_SEEN {
            self.seen.clear();
            self.seen_epoch = epoch;
        }
        let bytes = section.bytes();
        let payload = bytes.get(8..).unwrap_or_default();
        let key = (
            section.table_id(),
            section.table_id_extension(),
            section.section_number(),
            u16::from_be_bytes([
                payload.first().copied().unwrap_or(0),
                payload.get(1).copied().unwrap_or(0),
            ]),
            u16::from_be_bytes([
                payload.get(2).copied().unwrap_or(0),
                payload.get(3).copied().unwrap_or(0),
            ]),
        );
        let crc = bytes
            .len()
            .checked_sub(4)
            .map(|at| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]))
            .unwrap_or(0);
        if self.seen.get(&key) == Some(&(section.version(), crc)) {
            return;
        }
        if self.send(input_id, pid, section) {
            self.seen.insert(key, (section.version(), crc));
        }
    }

    fn send(&self, input_id: u32, pid: u16, section: &Section<'_>) -> bool {
        match self.tx.try_send(Feed {
            input_id,
            pid,
            bytes: section.bytes().into(),
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The collector thread.
fn collect(inner: &Inner, rx: Receiver<Feed>) {
    let mut last_expire = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(feed) => on_feed(inner, feed),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if last_expire.elapsed() >= EXPIRE_EVERY {
            last_expire = Instant::now();
            let now = now_unix();
            write(&inner.broadcast).expire(now);
            write(&inner.imported).expire(now);
        }
    }
}

fn on_feed(inner: &Inner, feed: Feed) {
    let Ok(section) = Section::new(&feed.bytes) else {
        inner.ingest_errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let now = now_unix();
    if feed.pid == pids::TDT {
        let Ok(broadcast_time) = time::parse_utc(&section) else {
            return;
        };
        let pending = {
            let mut inputs = lock(&inner.inputs);
            let input = inputs.entry(feed.input_id).or_default();
            input.clock_offset = Some(broadcast_time - now);
            if input.shift.is_some() {
                return;
            }
            let offset = now - broadcast_time;
            // Live inputs, and recordings made within the last couple of hours, are
            // not shifted; older recordings move by whole hours to at most now (rounded
            // down: rounded up, the recording's clock would run ahead of now and what
            // was on air when it was made would not be on now).
            let shift = if input.recording && offset.abs() > 2 * 3600 {
                offset.div_euclid(3600) * 3600
            } else {
                0
            };
            if shift != 0 {
                info!(
                    input = feed.input_id,
                    hours = shift / 3600,
                    "replayed recording: its programme guide is shifted to now"
                );
            }
            input.shift = Some(shift);
            std::mem::take(&mut input.pending)
        };
        for bytes in pending {
            if let Ok(section) = Section::new(&bytes) {
                ingest(inner, feed.input_id, &section, now);
            }
        }
        return;
    }
    {
        let mut inputs = lock(&inner.inputs);
        let input = inputs.entry(feed.input_id).or_default();
        if input.recording && input.shift.is_none() {
            if input.pending.len() < MAX_PENDING {
                input.pending.push(feed.bytes);
            }
            return;
        }
    }
    ingest(inner, feed.input_id, &section, now);
}

fn ingest(inner: &Inner, input_id: u32, section: &Section<'_>, now: i64) {
    inner.sections.fetch_add(1, Ordering::Relaxed);
    let Ok(table) = eit::parse(section) else {
        inner.ingest_errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let time_offset = lock(&inner.inputs)
        .get(&input_id)
        .and_then(|f| f.shift)
        .unwrap_or(0);
    let charset = read(&inner.settings)
        .charsets
        .iter()
        // A rule for the service beats a rule for its network.
        .filter(|r| {
            r.original_network_id == table.original_network_id
                && r.service_id.is_none_or(|s| s == table.service_id)
        })
        .max_by_key(|r| r.service_id.is_some())
        .map(|r| (r.charset, r.force));
    let options = IngestOptions {
        charset,
        time_offset,
    };
    if write(&inner.broadcast)
        .ingest(section, &options, now)
        .is_err()
    {
        inner.ingest_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn encode_snapshot(routes: &HashMap<u32, ServiceKey>, guide: &[u8]) -> Vec<u8> {
    let routes = serde_json::to_vec(routes).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + routes.len() + guide.len());
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&(routes.len() as u32).to_be_bytes());
    out.extend_from_slice(&routes);
    out.extend_from_slice(guide);
    out
}

type Restored = (Epg, HashMap<u32, Route>);

/// The snapshot at `path`: None when there is none.
fn load_snapshot(path: &Path) -> Result<Option<Restored>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let rest = bytes
        .strip_prefix(SNAPSHOT_MAGIC.as_slice())
        .ok_or_else(|| format!("{} is not a programme guide snapshot", path.display()))?;
    let (len, rest) = rest.split_first_chunk::<4>().ok_or("snapshot truncated")?;
    let len = u32::from_be_bytes(*len) as usize;
    let (routes, guide) = rest.split_at_checked(len).ok_or("snapshot truncated")?;
    let routes: HashMap<u32, ServiceKey> =
        serde_json::from_slice(routes).map_err(|e| format!("snapshot routes: {e}"))?;
    let epg = Epg::restore(guide, EpgLimits::default(), now_unix()).map_err(|e| e.to_string())?;
    let routes = routes
        .into_iter()
        .map(|(id, k)| (id, Route::Broadcast(k)))
        .collect();
    Ok(Some((epg, routes)))
}

/// Writes `bytes` to `path` so that a power cut leaves the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Supervisor {
    /// The programme guide.
    pub fn epg(&self) -> &EpgService {
        &self.epg
    }

    /// Brings the guide's routes up to date with the configuration and the running
    /// inputs, and saves a snapshot when one is due. Part of the housekeeping pass.
    pub fn refresh_epg(&self) -> Result<(), dvbgate_store::StoreError> {
        let channels = self.store().channels()?;
        let settings = self.store().settings()?;
        let mut inputs = HashMap::new();
        for c in &channels {
            if inputs.contains_key(&c.input_id) {
                continue;
            }
            if let Some(s) = self.state().snapshot(c.input_id)
                && let (Some(tsid), Some(onid)) =
                    (s.input.transport_stream_id, s.input.original_network_id)
            {
                inputs.insert(c.input_id, (onid, tsid));
            }
        }
        self.epg.refresh(&channels, &inputs, &settings);
        self.epg.save_if_due(false);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dvbgate_ts::tables::eit::{EitHeader, EventEntry, build, short_event_descriptor};

    const KEY: ServiceKey = ServiceKey {
        original_network_id: 0x20FA,
        transport_stream_id: 7,
        service_id: 0x101,
    };

    fn eit_section(version: u8, start: i64, title: &str) -> Vec<u8> {
        let d = short_event_descriptor(b"eng", title, "");
        build(
            &EitHeader {
                table_id: 0x50,
                service_id: KEY.service_id,
                version,
                section_number: 0,
                last_section_number: 0,
                transport_stream_id: KEY.transport_stream_id,
                original_network_id: KEY.original_network_id,
                segment_last_section_number: 0,
                last_table_id: 0x50,
            },
            &[EventEntry {
                event_id: 1,
                start,
                duration: 3600,
                running_status: 0,
                descriptors: &d,
            }],
        )
    }

    #[test]
    fn the_sink_passes_new_and_changed_sections_once_per_epoch() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let epoch = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let mut filter = SectionFilter::new(tx, Arc::clone(&epoch), Arc::clone(&dropped));
        let v1 = eit_section(1, 1_800_000_000, "News");
        let v2 = eit_section(2, 1_800_000_000, "Weather");
        let offer = |f: &mut SectionFilter, bytes: &[u8]| {
            f.offer(3, pids::EIT, &Section::new(bytes).unwrap())
        };
        offer(&mut filter, &v1);
        offer(&mut filter, &v1); // a repetition: not sent
        assert_eq!(rx.try_iter().count(), 1);
        offer(&mut filter, &v2); // a new version: sent
        assert_eq!(rx.try_recv().unwrap().bytes.as_ref(), v2.as_slice());
        // A full queue drops the section and forgets it: the next repetition retries.
        offer(&mut filter, &v1);
        offer(&mut filter, &v2);
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        rx.try_recv().unwrap();
        offer(&mut filter, &v2);
        assert_eq!(rx.try_recv().unwrap().bytes.as_ref(), v2.as_slice());
        // A new epoch (the wanted services changed): everything comes again.
        offer(&mut filter, &v2);
        assert!(rx.try_recv().is_err());
        epoch.fetch_add(1, Ordering::Relaxed);
        offer(&mut filter, &v2);
        assert!(rx.try_recv().is_ok());
    }

    #[test]
    fn a_recording_is_shifted_to_now_by_whole_hours_once_its_clock_is_known() {
        let service = EpgService::start(None, &Settings::default());
        let inner = &service.inner;
        inner.inputs.lock().unwrap().insert(
            5,
            InputFeed {
                recording: true,
                ..InputFeed::default()
            },
        );
        write(&inner.broadcast).set_wanted(Some([KEY].into_iter().collect()));
        let now = now_unix();
        // Recorded three days and 20 minutes ago; the event was on air at the time.
        let recorded = now - 3 * 86_400 - 20 * 60;
        let feed = |pid, bytes: Vec<u8>| Feed {
            input_id: 5,
            pid,
            bytes: bytes.into(),
        };
        on_feed(
            inner,
            feed(pids::EIT, eit_section(1, recorded - 600, "Replayed")),
        );
        assert!(
            read(&inner.broadcast).events(&KEY).is_empty(),
            "held until the clock is known"
        );
        on_feed(inner, feed(pids::TDT, time::build_tdt(recorded)));
        let events = read(&inner.broadcast).events(&KEY).to_vec();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].title, "Replayed");
        assert_eq!(
            events[0].start,
            recorded - 600 + 3 * 86_400,
            "shifted by 72 hours"
        );
        // A live input is never shifted, whatever its clock says.
        inner.inputs.lock().unwrap().insert(6, InputFeed::default());
        let live = Feed {
            input_id: 6,
            ..feed(pids::TDT, time::build_tdt(recorded))
        };
        on_feed(inner, live);
        assert_eq!(inner.inputs.lock().unwrap()[&6].shift, Some(0));
        assert_eq!(
            service
                .clock_offset(6)
                .map(|o| (o + now - recorded).abs() <= 2),
            Some(true)
        );
    }

    #[test]
    fn a_recording_never_runs_ahead_of_now() {
        let service = EpgService::start(None, &Settings::default());
        let inner = &service.inner;
        inner.inputs.lock().unwrap().insert(
            5,
            InputFeed {
                recording: true,
                ..InputFeed::default()
            },
        );
        // Made 9 h 50 min ago: shifted by 9 h, not 10, so its clock is 50 min behind now
        // and the programme it was showing is on now.
        let recorded = now_unix() - 9 * 3600 - 50 * 60;
        on_feed(
            inner,
            Feed {
                input_id: 5,
                pid: pids::TDT,
                bytes: time::build_tdt(recorded).into(),
            },
        );
        assert_eq!(inner.inputs.lock().unwrap()[&5].shift, Some(9 * 3600));
    }

    #[test]
    fn snapshots_round_trip_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SNAPSHOT_FILE);
        let mut guide = Epg::new(EpgLimits::default());
        let now = now_unix();
        guide
            .ingest(
                &Section::new(&eit_section(1, now + 600, "Later")).unwrap(),
                &IngestOptions::default(),
                now,
            )
            .unwrap();
        let routes: HashMap<u32, ServiceKey> = [(9, KEY)].into_iter().collect();
        write_atomically(&path, &encode_snapshot(&routes, &guide.snapshot())).unwrap();
        let (restored, restored_routes) = load_snapshot(&path).unwrap().unwrap();
        assert_eq!(restored.events(&KEY)[0].title, "Later");
        assert_eq!(restored_routes[&9], Route::Broadcast(KEY));
        std::fs::write(&path, b"DVBGEPG1\x00\x00\x00\x09{}").unwrap();
        assert!(load_snapshot(&path).is_err());
        std::fs::write(&path, b"something else").unwrap();
        assert!(load_snapshot(&path).is_err());
        assert!(load_snapshot(&dir.path().join("none")).unwrap().is_none());
    }
}
