//! A DVB tuner as an input: one frontend tuned to one multiplex, its demux filtering the
//! PIDs the pipeline needs, its dvr read in large chunks.
//!
//! The input looks after its own tuner: it reads the frontend's status and statistics
//! (every 200 ms until locked, then every second), and when the lock is lost or the data
//! stops it retunes with backoff ([`LockSupervisor`]); the pipeline only sees a
//! discontinuity. It fails (and the pipeline reopens it) only when the device itself is
//! gone or broken.

use crate::rate_limit::{ChangeLimit, RateLimit};
use crate::{InputError, InputSink, MuxInput, PidSelection, SourceStats, TunerReport};
use dvbgate_dvb::{Dvr, DvrRead, Frontend, FrontendDevice, PidFilters};
use dvbgate_tuning::Tuning;
use dvbgate_tuning::lock::{Action, LockPolicy, LockSupervisor, TunerState};
use dvbgate_tuning::sec::{SecPlan, TunerSetup};
use dvbgate_tuning::signal::SignalReport;
use dvbgate_tuning::signal::SignalTracker;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tracing::{Span, info, info_span, warn};

/// How a tuner input runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DvbOptions {
    /// More wanted PIDs than this and the whole multiplex is taken instead: one filter
    /// is cheaper than many, and many cards have 32 hardware filters or fewer.
    pub max_filters: usize,
    /// How much of the multiplex (at its highest possible rate) the kernel's dvr buffer
    /// holds: the pipeline thread may be late by this much without losing packets.
    pub buffer_hold: Duration,
    /// The pipeline reads this much per read call...
    pub read_chunk: usize,
    /// ...and at most this many times per poll (catching up after a stall).
    pub reads_per_poll: usize,
}

impl Default for DvbOptions {
    fn default() -> Self {
        DvbOptions {
            max_filters: 32,
            buffer_hold: Duration::from_millis(500),
            read_chunk: 188 * 1024,
            reads_per_poll: 16,
        }
    }
}

/// Everything needed to open a tuner input: which frontend, which multiplex, how the
/// frontend is cabled.
#[derive(Clone, Debug)]
pub struct DvbSource {
    pub device: FrontendDevice,
    pub tuning: Tuning,
    pub setup: TunerSetup,
    pub options: DvbOptions,
}

impl crate::OpenInput for DvbSource {
    fn open(&self) -> Result<Box<dyn MuxInput>, InputError> {
        Ok(Box::new(DvbInput::open(self, Instant::now())?))
    }
}

const STATS_LOCKED: Duration = Duration::from_secs(1);
const STATS_SEARCHING: Duration = Duration::from_millis(200);
/// Lock changes of a flapping signal: this many lines per window at most (then one that
/// sums up), and retunes one per window.
const LOCK_LOG_WINDOW: Duration = Duration::from_secs(60);
const LOCK_LOG_BURST: usize = 6;

pub struct DvbInput {
    frontend: Frontend,
    filters: PidFilters,
    dvr: Dvr,
    buf: Box<[u8]>,
    reads_per_poll: usize,
    max_filters: usize,
    tuning: Tuning,
    plan: Option<SecPlan>,
    lock: LockSupervisor,
    signal: SignalTracker,
    next_stats: Instant,
    report: TunerReport,
    stats: SourceStats,
    last_state: TunerState,
    /// `tuner{frontend=adapter0/frontend0}`: the span of this tuner's lines (inside the
    /// pipeline's `input{…}` span).
    span: Span,
    lock_log: ChangeLimit,
    retune_log: RateLimit,
    /// The signal while it was last locked: what "lock lost" reports.
    locked_signal: SignalReport,
}

impl DvbInput {
    /// Opens the frontend (exclusively), tunes it and opens its dvr. Does not wait for
    /// the lock: that is followed in [`poll`](MuxInput::poll).
    pub fn open(source: &DvbSource, now: Instant) -> Result<DvbInput, InputError> {
        let name = source.device.id.to_string();
        let open_error = |e: &dyn std::fmt::Display| InputError::Open(format!("{name}: {e}"));
        let tuning = source.tuning;
        let plan = if tuning.system.is_satellite() {
            Some(dvbgate_tuning::sec::plan(&tuning, &source.setup).map_err(|e| open_error(&e))?)
        } else {
            None
        };
        let mut frontend = Frontend::open(source.device.id).map_err(|e| open_error(&e))?;
        frontend
            .tune(&tuning, plan.as_ref())
            .map_err(|e| open_error(&e))?;
        let mut dvr = Dvr::open(&source.device.dvr).map_err(|e| open_error(&e))?;
        let buffer = dvbgate_dvb::buffer_bytes(
            dvbgate_tuning::rate::max_bitrate(&tuning),
            source.options.buffer_hold,
        );
        dvr.set_buffer_size(buffer).map_err(|e| open_error(&e))?;
        let span = info_span!("tuner", frontend = %name);
        info!(parent: &span, multiplex = %tuning.summary(), "tuning");
        let report = TunerReport {
            frontend: name,
            name: frontend.caps().name.clone(),
            tuning: tuning.to_string(),
            state: TunerState::Tuning,
            signal: Default::default(),
            lock: Default::default(),
            retune_in_ms: None,
            pid_filters: Some(0),
            dvr_overflows: 0,
            dvr_buffer_bytes: buffer,
        };
        Ok(DvbInput {
            frontend,
            filters: PidFilters::new(&source.device.demux),
            dvr,
            buf: vec![0; source.options.read_chunk.max(188)].into_boxed_slice(),
            reads_per_poll: source.options.reads_per_poll.max(1),
            max_filters: source.options.max_filters,
            tuning,
            plan,
            lock: LockSupervisor::new(LockPolicy::for_satellite(tuning.system.is_satellite()), now),
            signal: SignalTracker::new(),
            next_stats: now,
            report,
            stats: SourceStats::default(),
            last_state: TunerState::Tuning,
            span,
            lock_log: ChangeLimit::new(LOCK_LOG_WINDOW, LOCK_LOG_BURST),
            retune_log: RateLimit::new(LOCK_LOG_WINDOW),
            locked_signal: SignalReport::default(),
        })
    }

    fn failed(&self, e: dvbgate_dvb::DvbError) -> InputError {
        InputError::Read(format!("{}: {e}", self.report.frontend))
    }

    fn read_signal(&mut self, now: Instant) -> Result<(), InputError> {
        if now < self.next_stats {
            return Ok(());
        }
        let raw = self.frontend.stats().map_err(|e| self.failed(e))?;
        self.lock.status(now, raw.flags.lock);
        self.report.signal = self.signal.update(&raw);
        // While the frontend says it has the lock (the supervisor may still call a
        // lost lock "locked" during its grace period, when the figures are gone).
        if raw.flags.lock {
            self.locked_signal = self.report.signal;
        }
        self.next_stats = now
            + if self.lock.state() == TunerState::Locked {
                STATS_LOCKED
            } else {
                STATS_SEARCHING
            };
        Ok(())
    }

    fn retune(&mut self, now: Instant, sink: &mut dyn InputSink) -> Result<(), InputError> {
        let logged = self.retune_log.allow(now);
        if let Some(suppressed) = logged {
            let retunes = self.lock.counters().retunes + 1;
            warn!(parent: &self.span, multiplex = %self.tuning.summary(), retunes, suppressed, "retuning");
        }
        match self.frontend.tune(&self.tuning, self.plan.as_ref()) {
            Ok(()) => {}
            Err(e) if e.is_gone() => return Err(self.failed(e)),
            // Anything else is worth another try later; the supervisor keeps the pace.
            Err(e) if logged.is_some() => warn!(parent: &self.span, "retune failed: {e}"),
            Err(_) => {}
        }
        self.lock.tuned(now);
        self.signal.retuned();
        self.next_stats = now + STATS_SEARCHING;
        // What comes after the retune does not continue what came before.
        sink.discontinuity();
        Ok(())
    }

    /// Says when the lock comes or goes, with the signal figures; a lock that flaps is
    /// summarised (see [`ChangeLimit`]).
    fn log_state(&mut self, now: Instant) {
        let state = self.lock.state();
        let held = if state == self.last_state {
            self.lock_log.flush(now)
        } else {
            self.last_state = state;
            // Tuning is a step, not news: the lines that matter are its outcome.
            if state == TunerState::Tuning {
                return;
            }
            self.lock_log.changed(now)
        };
        let Some(held) = held else { return };
        let changes = (held > 0).then_some(held);
        let multiplex = self.tuning.summary();
        let figures = |s: &SignalReport| {
            let mut text = String::new();
            if let Some(v) = s.strength_dbm {
                text.push_str(&format!("signal {v:.1} dBm"));
            } else if let Some(v) = s.strength_percent {
                text.push_str(&format!("signal {v:.0} %"));
            }
            if let Some(v) = s.cnr_db {
                if !text.is_empty() {
                    text.push_str(", ");
                }
                text.push_str(&format!("C/N {v:.1} dB"));
            }
            if text.is_empty() {
                text.push_str("no signal figures from the driver");
            }
            text
        };
        let span = &self.span;
        let lock = self.lock.counters();
        match state {
            TunerState::Locked => {
                let s = figures(&self.report.signal);
                info!(parent: span, %multiplex, changes, "locked ({s})")
            }
            TunerState::NoLock => {
                warn!(parent: span, %multiplex, changes, timeouts = lock.lock_timeouts, "no lock")
            }
            TunerState::LockLost => {
                let s = figures(&self.locked_signal);
                warn!(parent: span, %multiplex, changes, losses = lock.lock_losses, "lock lost (last locked with {s})")
            }
            TunerState::NoData => {
                warn!(parent: span, %multiplex, changes, "locked but no data")
            }
            TunerState::Tuning => {}
        }
    }
}

impl MuxInput for DvbInput {
    fn poll(&mut self, now: Instant, sink: &mut dyn InputSink) -> Result<usize, InputError> {
        self.read_signal(now)?;
        if self.lock.poll(now) == Action::Retune {
            self.retune(now, sink)?;
        }
        self.log_state(now);

        let mut total = 0;
        for _ in 0..self.reads_per_poll {
            match self.dvr.read(&mut self.buf) {
                Ok(DvrRead::Data(n)) => {
                    sink.data(&self.buf[..n]);
                    total += n;
                    if n < self.buf.len() {
                        break; // drained
                    }
                }
                Ok(DvrRead::Empty) => break,
                // Packets were lost in the kernel; the stream goes on (continuity counters
                // downstream show the gap).
                Ok(DvrRead::Overflow) => {}
                Err(e) => {
                    self.stats.read_errors += 1;
                    return Err(self.failed(e));
                }
            }
        }
        if total > 0 {
            self.lock.data(now);
            self.stats.bytes += total as u64;
        }
        Ok(total)
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.tuning.summary(), self.report.frontend)
    }

    fn select_pids(&mut self, wanted: &PidSelection) {
        let selection = match wanted {
            PidSelection::Pids(pids) if pids.len() <= self.max_filters => {
                dvbgate_dvb::PidSelection::Pids(pids.iter().copied().collect::<BTreeSet<u16>>())
            }
            _ => dvbgate_dvb::PidSelection::WholeMux,
        };
        let whole = selection == dvbgate_dvb::PidSelection::WholeMux;
        match self.filters.set(&selection) {
            Ok(_) => {
                self.report.pid_filters = (!whole).then(|| self.filters.active());
            }
            Err(e) if !whole => {
                // Out of hardware filters, or a driver that refuses one: take everything
                // rather than lose a channel.
                warn!(parent: &self.span, "PID filters failed ({e}); taking the whole multiplex");
                if self
                    .filters
                    .set(&dvbgate_dvb::PidSelection::WholeMux)
                    .is_ok()
                {
                    self.report.pid_filters = None;
                }
            }
            Err(e) => {
                warn!(parent: &self.span, "cannot filter the whole multiplex: {e}")
            }
        }
    }

    fn tuner(&self) -> Option<TunerReport> {
        let now = Instant::now();
        Some(TunerReport {
            state: self.lock.state(),
            lock: self.lock.counters(),
            retune_in_ms: self.lock.retune_in(now).map(|d| d.as_millis() as u64),
            dvr_overflows: self.dvr.overflows(),
            ..self.report.clone()
        })
    }
}

/// Opens the first tuner of the box that can receive `tuning` and is not in use: for
/// tools (`dvbgate probe dvb-t://…`) that run without the daemon's tuner manager.
pub fn open_any(tuning: &Tuning, options: DvbOptions) -> Result<DvbInput, InputError> {
    let devices = dvbgate_dvb::discover().map_err(|e| InputError::Open(e.to_string()))?;
    if devices.is_empty() {
        return Err(InputError::Open(format!(
            "no DVB adapter found under {} to tune {}",
            dvbgate_dvb::DVB_ROOT,
            tuning.summary()
        )));
    }
    let mut reasons = Vec::new();
    for device in devices {
        let source = DvbSource {
            device,
            tuning: *tuning,
            setup: TunerSetup::default(),
            options,
        };
        match DvbInput::open(&source, Instant::now()) {
            Ok(input) => return Ok(input),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(InputError::Open(format!(
        "no tuner could tune {}: {}",
        tuning.summary(),
        reasons.join("; ")
    )))
}
