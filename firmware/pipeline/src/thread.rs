//! The pipeline thread and its handle.

use crate::snapshot::{ChannelSnapshot, InputState, ServiceInfo, Snapshot, StreamInfo};
use dvbgate_inputs::rate_limit::{ChangeLimit, RateLimit};
use dvbgate_inputs::{InputError, InputOptions, InputSink, MuxInput, OpenInput, PidSelection};
use dvbgate_outputs::{ChannelTap, OutputSpec, Sender};
use dvbgate_remux::{ChannelKey, ChannelSpec, Demux};
use dvbgate_ts::monitor::SectionSink;
use dvbgate_ts::tables::sdt::service_kind;
use dvbgate_ts::timing::ClockConfig;
use dvbgate_tuning::Tuning;
use dvbgate_tuning::scan::{MuxFound, mux_found, tunings_from_nit};
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{Span, error, info, info_span, warn};

/// How a pipeline runs.
#[derive(Clone)]
pub struct PipelineConfig {
    /// For logs: the input's name.
    pub name: String,
    /// For logs: the input's id in the store, if it has one. The thread's lines are
    /// logged in a span `input{id=1 name="…"}`.
    pub id: Option<u32>,
    /// `udp://…`, `rtp://…`, `file://…` or a path; for a tuner, its multiplex's URL.
    pub address: String,
    /// How to open the input when it is not opened by address (a tuner: the frontend the
    /// tuner manager chose).
    pub opener: Option<Arc<dyn OpenInput>>,
    pub input: InputOptions,
    pub clock: ClockConfig,
    /// The thread wakes this often; datagrams due within a tick leave together.
    pub tick: Duration,
    /// A half-filled datagram leaves once its first packet is due plus this allowance (the
    /// PCR schedule knows when that is)...
    pub datagram_allowance: Duration,
    /// ...and in any case this long after its first packet arrived.
    pub max_datagram_wait: Duration,
    /// Makes the sink that receives the input's EIT and TDT/TOT sections (the programme
    /// guide's feed); None: the guide does not listen to this input.
    pub section_sink: Option<Arc<dyn Fn() -> SectionSink + Send + Sync>>,
}

impl std::fmt::Debug for PipelineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineConfig")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("opener", &self.opener.is_some())
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl PipelineConfig {
    /// Opens the input: by its own opener, else by address.
    fn open_input(&self) -> Result<Box<dyn MuxInput>, InputError> {
        match &self.opener {
            Some(opener) => opener.open(),
            None => dvbgate_inputs::open(&self.address, &self.input),
        }
    }

    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        PipelineConfig {
            name: name.into(),
            id: None,
            address: address.into(),
            opener: None,
            input: InputOptions::default(),
            clock: ClockConfig::default(),
            tick: Duration::from_millis(2),
            // Together at most about dvblast's retention (40 ms) past the schedule: a low-rate
            // channel's tables must not sit in a half-filled datagram past their 100 ms
            // repetition.
            datagram_allowance: Duration::from_millis(20),
            max_datagram_wait: Duration::from_millis(100),
            section_sink: None,
        }
    }
}

/// A channel as the pipeline needs it: what to remux, and where to send it (none: remux
/// only, e.g. a disabled output).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSetup {
    pub key: ChannelKey,
    pub spec: ChannelSpec,
    pub output: Option<OutputSpec>,
}

#[derive(Debug)]
pub enum StartError {
    /// The input could not be opened; the message names it and says why.
    Input(InputError),
    Thread(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Input(e) => e.fmt(f),
            StartError::Thread(e) => write!(f, "cannot start the pipeline thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

enum Command {
    SetChannel(Box<ChannelSetup>),
    RemoveChannel(ChannelKey),
    SetTap(ChannelKey, Box<dyn ChannelTap>),
    RemoveTap(ChannelKey),
    Survey(Box<Tuning>, SyncSender<Option<Survey>>),
    Stop,
}

/// What a running multiplex carries, as a scan reports it: its services, and the other
/// multiplexes its NIT names.
#[derive(Clone, Debug)]
pub struct Survey {
    pub found: MuxFound,
    pub nit_tunings: Vec<Tuning>,
}

/// See [`Pipeline::surveyor`].
#[derive(Clone)]
pub struct Surveyor {
    commands: mpsc::Sender<Command>,
}

impl Surveyor {
    pub fn survey(&self, tuning: Tuning, wait: Duration) -> Option<Survey> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.commands
            .send(Command::Survey(Box::new(tuning), tx))
            .ok()?;
        rx.recv_timeout(wait).ok().flatten()
    }
}

/// Handle to a running pipeline. Dropping it stops the thread.
pub struct Pipeline {
    name: String,
    commands: mpsc::Sender<Command>,
    snapshot: Arc<Mutex<Snapshot>>,
    thread: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Opens the input on a new thread and starts remuxing. Returns once the input is open,
    /// or with the reason it could not be opened.
    pub fn start(
        config: PipelineConfig,
        channels: Vec<ChannelSetup>,
    ) -> Result<Pipeline, StartError> {
        let (commands, rx) = mpsc::channel();
        let snapshot = Arc::new(Mutex::new(Snapshot::starting()));
        let (opened_tx, opened_rx) = mpsc::sync_channel(1);
        let shared = Arc::clone(&snapshot);
        let name = config.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!(
                "mux-{}",
                config.name.chars().take(10).collect::<String>()
            ))
            .spawn(move || run(config, channels, rx, shared, opened_tx))
            .map_err(|e| StartError::Thread(e.to_string()))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Pipeline {
                name,
                commands,
                snapshot,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(StartError::Input(e))
            }
            Err(_) => {
                let _ = thread.join();
                Err(StartError::Thread(
                    "the pipeline thread ended while opening its input".into(),
                ))
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a channel or changes it (spec or output), without disturbing the others.
    pub fn set_channel(&self, setup: ChannelSetup) {
        let _ = self.commands.send(Command::SetChannel(Box::new(setup)));
    }

    pub fn remove_channel(&self, key: ChannelKey) {
        let _ = self.commands.send(Command::RemoveChannel(key));
    }

    /// Gives a channel's paced stream to `tap` too (HLS, HTTP clients). The channel must
    /// be set (possibly without an output); the tap stays until removed, or until the
    /// channel is.
    pub fn set_tap(&self, key: ChannelKey, tap: Box<dyn ChannelTap>) {
        let _ = self.commands.send(Command::SetTap(key, tap));
    }

    pub fn remove_tap(&self, key: ChannelKey) {
        let _ = self.commands.send(Command::RemoveTap(key));
    }

    /// What the multiplex carries, from the tables the pipeline holds: how a scan covers a
    /// multiplex a tuner already receives, without a second tuner. `tuning` is how the
    /// multiplex was tuned. None when the tables are not in or the thread does not answer.
    pub fn survey(&self, tuning: Tuning, wait: Duration) -> Option<Survey> {
        self.surveyor().survey(tuning, wait)
    }

    /// A handle that asks for [`survey`](Self::survey)s without borrowing the pipeline, so a
    /// caller can wait for the answer without holding whatever owns the pipeline.
    pub fn surveyor(&self) -> Surveyor {
        Surveyor {
            commands: self.commands.clone(),
        }
    }

    /// The latest report (at most a quarter of a second old).
    pub fn snapshot(&self) -> Snapshot {
        match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Monotonic nanoseconds, the time base of all pacing.
fn monotonic_ns(at: Instant) -> i64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    at.saturating_duration_since(epoch).as_nanos() as i64
}

/// Bytes handed to the demux between sends: one `recvmmsg` batch. A large poll (a socket
/// that filled up while we slept) is remuxed and sent in slices, so no queue overflows.
const SEND_EVERY_BYTES: usize = 64 * 7 * 188;
const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// No bytes for this long: the input is reported as without data.
const NO_DATA_AFTER: Duration = Duration::from_secs(3);
const REOPEN_MIN: Duration = Duration::from_secs(1);
const REOPEN_MAX: Duration = Duration::from_secs(30);
const LOG_WINDOW: Duration = Duration::from_secs(10);
/// Changes of the input's state (data, no data): 4 lines per window at most, then one
/// that sums up.
const STATE_LOG_WINDOW: Duration = Duration::from_secs(60);
/// An output that failed is said to send again after this long without an error.
const OUTPUT_CLEAR_AFTER: Duration = Duration::from_secs(5);

/// The input's bytes go to the demux; every batch, due datagrams go out.
struct Feed<'a> {
    demux: &'a mut Demux,
    sender: &'a mut Sender,
    arrival_ns: i64,
    slack_ns: i64,
    since_send: usize,
}

impl InputSink for Feed<'_> {
    fn data(&mut self, bytes: &[u8]) {
        self.demux.push(bytes, self.arrival_ns);
        self.since_send += bytes.len();
        if self.since_send >= SEND_EVERY_BYTES {
            self.since_send = 0;
            let (clock, channels) = self.demux.outputs();
            self.sender
                .send_due(clock, channels, self.arrival_ns, self.slack_ns);
        }
    }

    fn discontinuity(&mut self) {
        self.demux.discontinuity();
    }
}

/// State of the thread besides the demux and the sender.
struct Worker {
    config: PipelineConfig,
    input: Option<Box<dyn MuxInput>>,
    reopen_at: Instant,
    backoff: Duration,
    reopens: u64,
    last_error: Option<String>,
    state: InputState,
    last_data: Instant,
    /// When the count of good packets last went up.
    last_packets_at: Instant,
    output_errors: HashMap<ChannelKey, String>,
    // For rates and change detection between snapshots.
    last_snapshot: Instant,
    last_bytes: u64,
    last_channel_bytes: HashMap<ChannelKey, u64>,
    last_generation: u64,
    last_cc_errors: u64,
    last_packets: u64,
    services: Vec<ServiceInfo>,
    cc_log: RateLimit,
    output_log: HashMap<ChannelKey, RateLimit>,
    /// Outputs the kernel refuses datagrams for, until they send again.
    output_trouble: HashMap<ChannelKey, OutputTrouble>,
    /// Each channel's span (`channel{id=3 name="Arte"}`) for its lines.
    channel_spans: HashMap<ChannelKey, Span>,
    state_log: ChangeLimit,
    fail_log: RateLimit,
    /// Whether the last failure was logged (then so is the recovery).
    failure_logged: bool,
    /// What the input was last told to deliver, and when that was worked out.
    pids_generation: Option<(u64, u64)>,
    wanted_pids: Vec<u16>,
}

/// An output the kernel refuses datagrams for.
struct OutputTrouble {
    since: Instant,
    last_error_at: Instant,
    /// Whether its start was logged (then so is its end).
    logged: bool,
}

fn run(
    config: PipelineConfig,
    channels: Vec<ChannelSetup>,
    commands: Receiver<Command>,
    shared: Arc<Mutex<Snapshot>>,
    opened: SyncSender<Result<(), InputError>>,
) {
    // Every line of this thread (the input's, its tuner's, its channels') is in it.
    let span = match config.id {
        Some(id) => info_span!("input", id, name = config.name.as_str()),
        None => info_span!("input", name = config.name.as_str()),
    };
    let _entered = span.enter();
    let input = match config.open_input() {
        Ok(input) => input,
        Err(e) => {
            let _ = opened.send(Err(e));
            return;
        }
    };
    info!(address = %input.describe(), "input open");
    let _ = opened.send(Ok(()));

    let mut demux = Demux::new(config.clock);
    if let Some(make_sink) = &config.section_sink {
        demux.set_section_sink(Some(make_sink()));
    }
    let mut sender = Sender::new();
    let now = Instant::now();
    let mut w = Worker {
        input: Some(input),
        reopen_at: now,
        backoff: REOPEN_MIN,
        reopens: 0,
        last_error: None,
        state: InputState::Starting,
        last_data: now,
        last_packets_at: now,
        output_errors: HashMap::new(),
        last_snapshot: now,
        last_bytes: 0,
        last_channel_bytes: HashMap::new(),
        last_generation: u64::MAX,
        last_cc_errors: 0,
        last_packets: 0,
        services: Vec::new(),
        cc_log: RateLimit::new(LOG_WINDOW),
        output_log: HashMap::new(),
        output_trouble: HashMap::new(),
        channel_spans: HashMap::new(),
        state_log: ChangeLimit::new(STATE_LOG_WINDOW, 4),
        fail_log: RateLimit::new(LOG_WINDOW),
        failure_logged: false,
        pids_generation: None,
        wanted_pids: Vec::new(),
        config,
    };
    for setup in channels {
        w.apply(
            Command::SetChannel(Box::new(setup)),
            &mut demux,
            &mut sender,
        );
    }

    let tick = w.config.tick;
    let slack_ns = tick.as_nanos() as i64;
    let max_wait_ns = w.config.max_datagram_wait.as_nanos() as i64;
    let allowance_ns = w.config.datagram_allowance.as_nanos() as i64;
    let mut next_tick = Instant::now();
    loop {
        // Commands, and the sleep until the next tick, in one wait.
        let wait = next_tick.saturating_duration_since(Instant::now());
        match commands.recv_timeout(wait) {
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(cmd) => {
                w.apply(cmd, &mut demux, &mut sender);
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        next_tick += tick;
        if next_tick < now {
            next_tick = now + tick; // we were late: do not try to catch up ticks
        }
        let now_ns = monotonic_ns(now);

        // Filters first: a new input starts with the tables' PIDs, before its first read.
        w.select_pids(&demux);
        w.poll_input(now, now_ns, slack_ns, &mut demux, &mut sender);
        let (clock, outputs) = demux.outputs();
        sender.send_due(clock, outputs, now_ns, slack_ns);
        demux.seal_due(now_ns, allowance_ns, max_wait_ns);

        if now.duration_since(w.last_snapshot) >= SNAPSHOT_EVERY {
            let snapshot = w.snapshot(now, &demux, &mut sender);
            match shared.lock() {
                Ok(mut s) => *s = snapshot,
                Err(poisoned) => *poisoned.into_inner() = snapshot,
            }
        }
    }
    info!("pipeline stopped");
}

impl Worker {
    /// The span of a channel's lines (the input's, for a channel it does not know).
    fn channel_span(&self, key: ChannelKey) -> Span {
        self.channel_spans
            .get(&key)
            .cloned()
            .unwrap_or_else(Span::current)
    }

    /// The kernel refused a datagram of channel `key`: the first time said at once, then
    /// at most once per [`LOG_WINDOW`] while it goes on.
    fn output_failed(&mut self, key: ChannelKey, e: String, now: Instant, send_errors: u64) {
        let span = self.channel_span(key);
        let log = self
            .output_log
            .entry(key)
            .or_insert_with(|| RateLimit::new(LOG_WINDOW));
        match self.output_trouble.get_mut(&key) {
            None => {
                let logged = match log.allow(now) {
                    Some(suppressed) => {
                        warn!(parent: &span, send_errors, suppressed, "output send errors started: {e}");
                        true
                    }
                    None => false,
                };
                self.output_trouble.insert(
                    key,
                    OutputTrouble {
                        since: now,
                        last_error_at: now,
                        logged,
                    },
                );
            }
            Some(t) => {
                t.last_error_at = now;
                if let Some(suppressed) = log.allow(now) {
                    warn!(parent: &span, send_errors, suppressed, "output still failing: {e}");
                    t.logged = true;
                }
            }
        }
        self.output_errors.insert(key, e);
    }

    /// An output in trouble that has had no error for a while sends again.
    fn output_maybe_cleared(&mut self, key: ChannelKey, now: Instant, send_errors: u64) {
        let cleared = self
            .output_trouble
            .get(&key)
            .is_some_and(|t| now.duration_since(t.last_error_at) >= OUTPUT_CLEAR_AFTER);
        if !cleared {
            return;
        }
        if let Some(t) = self.output_trouble.remove(&key)
            && t.logged
        {
            let span = self.channel_span(key);
            let failing_s = t.last_error_at.duration_since(t.since).as_secs();
            info!(parent: &span, send_errors, failing_s, "output sending again");
        }
    }

    fn apply(&mut self, cmd: Command, demux: &mut Demux, sender: &mut Sender) {
        match cmd {
            Command::SetChannel(setup) => {
                let ChannelSetup { key, spec, output } = *setup;
                // Made here, in the input's span, so the channel's lines are in both.
                self.channel_spans.insert(
                    key,
                    info_span!("channel", id = key, name = spec.name.as_str()),
                );
                demux.set_channel(key, spec);
                match output {
                    Some(o) => {
                        let address = o.address;
                        match sender.set_output(key, o) {
                            Ok(()) => {
                                self.output_errors.remove(&key);
                            }
                            Err(e) => {
                                let span = self.channel_span(key);
                                error!(parent: &span, %address, "cannot open output: {e}");
                                sender.remove_output(key);
                                self.output_errors.insert(key, e.to_string());
                            }
                        }
                    }
                    None => sender.remove_output(key),
                }
            }
            Command::RemoveChannel(key) => {
                demux.remove_channel(key);
                sender.remove_output(key);
                sender.remove_tap(key);
                self.output_errors.remove(&key);
                self.output_trouble.remove(&key);
                self.output_log.remove(&key);
                self.channel_spans.remove(&key);
            }
            Command::SetTap(key, tap) => sender.set_tap(key, tap),
            Command::RemoveTap(key) => sender.remove_tap(key),
            Command::Survey(tuning, reply) => {
                let model = &demux.monitor().model;
                let survey = mux_found(model, *tuning).map(|found| {
                    let own = found
                        .original_network_id
                        .map(|onid| (found.transport_stream_id, onid));
                    let nit_tunings = model
                        .nit()
                        .map(|nit| tunings_from_nit(nit, &tuning, own))
                        .unwrap_or_default();
                    Survey { found, nit_tunings }
                });
                let _ = reply.try_send(survey);
            }
            Command::Stop => {}
        }
    }

    fn poll_input(
        &mut self,
        now: Instant,
        now_ns: i64,
        slack_ns: i64,
        demux: &mut Demux,
        sender: &mut Sender,
    ) {
        let Some(input) = self.input.as_mut() else {
            if now >= self.reopen_at {
                self.reopen(now, demux);
            }
            return;
        };
        let mut feed = Feed {
            demux,
            sender,
            arrival_ns: now_ns,
            slack_ns,
            since_send: 0,
        };
        match input.poll(now, &mut feed) {
            Ok(0) => {}
            Ok(_) => {
                self.last_data = now;
                self.backoff = REOPEN_MIN;
            }
            Err(e) => {
                self.failure_logged = false;
                if let Some(suppressed) = self.fail_log.allow(now) {
                    warn!(
                        suppressed,
                        "input failed, reopening in {:?}: {e}", self.backoff
                    );
                    self.failure_logged = true;
                }
                self.last_error = Some(e.to_string());
                self.input = None;
                self.state = InputState::Error;
                self.reopen_at = now + self.backoff;
            }
        }
    }

    /// Tells the input which PIDs are needed, when that changed (a table or a channel).
    fn select_pids(&mut self, demux: &Demux) {
        let Some(input) = self.input.as_mut() else {
            return;
        };
        let generation = demux.pids_generation();
        if self.pids_generation == Some(generation) {
            return;
        }
        self.pids_generation = Some(generation);
        let previous = std::mem::take(&mut self.wanted_pids);
        demux.wanted_pids(&mut self.wanted_pids);
        if previous != self.wanted_pids {
            input.select_pids(&PidSelection::Pids(self.wanted_pids.clone()));
        }
    }

    fn reopen(&mut self, now: Instant, demux: &mut Demux) {
        self.reopens += 1;
        match self.config.open_input() {
            Ok(input) => {
                if self.failure_logged {
                    info!(reopens = self.reopens, "input reopened");
                }
                self.input = Some(input);
                // A new input has no filters yet.
                self.pids_generation = None;
                self.wanted_pids.clear();
                self.last_error = None;
                self.last_data = now;
                // Whatever comes next does not continue what came before.
                demux.discontinuity();
            }
            Err(e) => {
                self.backoff = (self.backoff * 2).min(REOPEN_MAX);
                // The backoff (up to 30 s) keeps these few.
                warn!("reopen failed, next try in {:?}: {e}", self.backoff);
                self.last_error = Some(e.to_string());
                self.reopen_at = now + self.backoff;
            }
        }
    }

    fn snapshot(&mut self, now: Instant, demux: &Demux, sender: &mut Sender) -> Snapshot {
        let elapsed = now
            .duration_since(self.last_snapshot)
            .as_secs_f64()
            .max(1e-3);
        self.last_snapshot = now;
        let monitor = demux.monitor();
        let totals = monitor.pids.totals();
        let reader = demux.reader_stats();
        let source = self.input.as_ref().map(|i| i.stats()).unwrap_or_default();
        let bytes = reader.packets * 188 + reader.skipped_bytes;

        if totals.packets > self.last_packets {
            self.last_packets_at = now;
        }
        let state = if self.input.is_none() {
            InputState::Error
        } else if now.duration_since(self.last_data) >= NO_DATA_AFTER {
            InputState::NoData
        } else if self.last_data.duration_since(self.last_packets_at) >= Duration::from_millis(500)
        {
            // Bytes keep coming, packets do not.
            InputState::NoSync
        } else if totals.packets > 0 {
            InputState::Running
        } else {
            InputState::Starting
        };
        // An input that comes and goes (a flaky link) says so a few times a minute,
        // and the log always ends with its true state.
        let held = if state != self.state {
            self.state = state;
            self.state_log.changed(now)
        } else {
            self.state_log.flush(now)
        };
        if let Some(held) = held {
            let changes = (held > 0).then_some(held);
            match state {
                InputState::Running => {
                    info!(changes, "receiving a transport stream")
                }
                InputState::NoData => {
                    warn!(changes, "no data for {NO_DATA_AFTER:?}")
                }
                InputState::NoSync => {
                    error!(
                        skipped_bytes = reader.skipped_bytes,
                        changes, "data arrives but it is not an MPEG transport stream"
                    )
                }
                InputState::Error | InputState::Starting => {}
            }
        }
        if totals.cc_errors > self.last_cc_errors {
            if let Some(suppressed) = self.cc_log.allow(now) {
                warn!(
                    new = totals.cc_errors - self.last_cc_errors,
                    total = totals.cc_errors,
                    suppressed,
                    "continuity errors (packets lost before us)"
                );
            }
            self.last_cc_errors = totals.cc_errors;
        }
        let bitrate_bps = ((bytes.saturating_sub(self.last_bytes)) as f64 * 8.0 / elapsed) as u64;
        self.last_bytes = bytes;
        self.last_packets = totals.packets;

        if monitor.generation() != self.last_generation {
            self.last_generation = monitor.generation();
            self.services = services(demux);
        }
        let model = &monitor.model;

        let mut channels = std::collections::BTreeMap::new();
        for (key, ch) in demux.channels() {
            let out = sender.counters(*key).unwrap_or_default();
            if let Some(e) = sender.take_error(*key) {
                self.output_failed(*key, e, now, out.send_errors);
            } else {
                self.output_maybe_cleared(*key, now, out.send_errors);
            }
            let previous = self
                .last_channel_bytes
                .insert(*key, out.bytes)
                .unwrap_or(out.bytes);
            let counters = ch.counters();
            channels.insert(
                *key,
                ChannelSnapshot {
                    state: ch.state(),
                    bitrate_bps: (out.bytes.saturating_sub(previous) as f64 * 8.0 / elapsed) as u64,
                    packets: counters.packets_passed + counters.table_packets,
                    datagrams: out.datagrams,
                    bytes: out.bytes,
                    send_errors: out.send_errors,
                    dropped: out.dropped,
                    pmt_version: counters.pmt_version,
                    output_error: self.output_errors.get(key).cloned(),
                },
            );
        }
        self.last_channel_bytes
            .retain(|k, _| channels.contains_key(k));

        Snapshot {
            input: crate::snapshot::InputSnapshot {
                state,
                error: self.last_error.clone(),
                bitrate_bps,
                packets: totals.packets,
                cc_errors: totals.cc_errors,
                transport_errors: totals.transport_errors,
                crc_errors: monitor.section_errors().crc,
                sync_losses: reader.sync_losses,
                skipped_bytes: reader.skipped_bytes,
                source,
                transport_stream_id: model.transport_stream_id(),
                original_network_id: model.original_network_id(),
                network_name: model.network().and_then(|n| n.name.clone()),
                services: self.services.clone(),
                jitter_delay_ms: demux.clock().delay_ns().map(|d| d as f64 / 1e6),
                reopens: self.reopens,
                tuner: self.input.as_ref().and_then(|i| i.tuner()),
            },
            channels,
        }
    }
}

/// The services the multiplex carries, for the API and for automatic channel creation.
fn services(demux: &Demux) -> Vec<ServiceInfo> {
    let monitor = demux.monitor();
    let model = &monitor.model;
    model
        .service_ids()
        .into_iter()
        .filter(|id| model.programs().contains_key(id))
        .map(|id| {
            let pmt = model.pmt(id);
            let sdt = model.sdt(id);
            ServiceInfo {
                service_id: id,
                name: sdt.map(|s| s.name.clone()).filter(|n| !n.is_empty()),
                provider: sdt.map(|s| s.provider.clone()).filter(|n| !n.is_empty()),
                kind: sdt.map(|s| service_kind(s.service_type)),
                scrambled: pmt.is_some_and(|p| p.has_ca()) || sdt.is_some_and(|s| s.free_ca_mode),
                pmt_pid: model.programs().get(&id).copied(),
                pcr_pid: pmt.map(|p| p.pcr_pid),
                streams: pmt
                    .map(|p| {
                        p.streams
                            .iter()
                            .map(|s| StreamInfo {
                                pid: s.pid,
                                stream_type: s.stream_type,
                                kind: s.kind,
                                codec: s.codec,
                                languages: s.languages.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}
