//! Monitoring: what the technician's dashboard and a Prometheus server see.
//!
//! - **Live** (`GET /api/v1/live`, server-sent events): once a second, one `stats` event
//!   with every tuner's lock and signal, every input's and channel's bit rate and errors,
//!   viewers, and the daemon's memory. The background task computes the frame once and
//!   shares it with every subscriber through a `watch` channel, and only while someone
//!   subscribes.
//! - **History** (`GET /api/v1/history`): every 10 s the same task adds a point to each
//!   tuner's signal and C/N and each input's and channel's bit rate series: the last hour,
//!   in rings of fixed size ([`history`]).
//! - **Metrics** (`GET /metrics`): the same figures and the API's own counters (logins,
//!   viewers) in the Prometheus text format ([`prometheus`]).
//! - **Logs** (`GET /api/v1/logs`): the recent log lines ([`LogBook`]), which the daemon's
//!   tracing layer fills.
//!
//! Figures come from the supervisor's views, gathered on a blocking thread like every
//! handler's; rendering works on those copies and takes no lock the pipelines use.

mod frame;
mod history;
pub mod logbook;
mod prometheus;
mod ring;
mod viewers;

pub use logbook::{Level, LogBook};

use crate::app::AppState;
use crate::auth::AdminCaller;
use crate::auth::sessions::SessionKey;
use crate::error::ApiError;
use crate::routes::blocking;
use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use frame::{Frame, Views};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tracing::debug;

/// Why an XC login succeeded or not, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XcLogin {
    Ok,
    UnknownUser,
    WrongPassword,
    /// Credentials no client would send (too long, control characters).
    Malformed,
    /// No user name or password at all (not counted against the address).
    MissingCredentials,
    /// Refused unchecked: the address failed too often.
    Throttled,
    /// The right password for a disabled or expired account.
    Inactive,
}

const XC_OUTCOMES: [(XcLogin, &str); 7] = [
    (XcLogin::Ok, "ok"),
    (XcLogin::UnknownUser, "unknown_user"),
    (XcLogin::WrongPassword, "wrong_password"),
    (XcLogin::Malformed, "malformed"),
    (XcLogin::MissingCredentials, "missing_credentials"),
    (XcLogin::Throttled, "throttled"),
    (XcLogin::Inactive, "inactive"),
];

/// A history with more points than this (some 30 channels' hour) is rendered on a
/// blocking thread: a few milliseconds or more of work.
const LARGE_HISTORY_POINTS: usize = 10_000;

/// How often the live frame is sent.
const LIVE_EVERY: Duration = Duration::from_secs(1);

/// Live figures, their last hour, and the API's own counters. See the module docs.
pub struct Monitor {
    /// Unix seconds when the API (moments after the process) started.
    start_time: f64,
    xc_logins: [AtomicU64; XC_OUTCOMES.len()],
    /// ok, failed.
    admin_logins: [AtomicU64; 2],
    hls: viewers::HlsViewers,
    history: Mutex<history::History>,
    /// The latest live frame as JSON, while someone subscribes.
    live: watch::Sender<Option<Arc<str>>>,
    stop: watch::Sender<bool>,
    background: AtomicBool,
}

impl Monitor {
    pub(crate) fn new() -> Monitor {
        Monitor {
            start_time: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            xc_logins: Default::default(),
            admin_logins: Default::default(),
            hls: viewers::HlsViewers::default(),
            history: Mutex::new(history::History::default()),
            live: watch::channel(None).0,
            stop: watch::channel(false).0,
            background: AtomicBool::new(false),
        }
    }

    /// Counts an administrator login (the password or setup code checked).
    pub fn count_admin_login(&self, ok: bool) {
        self.admin_logins[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_xc_login(&self, outcome: XcLogin) {
        if let Some(i) = XC_OUTCOMES.iter().position(|(o, _)| *o == outcome) {
            self.xc_logins[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `client` fetched an HLS playlist or segment of channel `number`.
    pub(crate) fn hls_fetched(&self, number: u16, client: IpAddr, segment_target: Duration) {
        self.hls.fetched(
            number,
            client,
            Instant::now(),
            viewers::window(segment_target),
        );
    }

    /// Ends the live event streams and the background task (the daemon is shutting
    /// down: open event streams would otherwise hold the server's graceful stop).
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn counters(&self, process: Process) -> prometheus::Counters {
        let read = |a: &AtomicU64| a.load(Ordering::Relaxed);
        prometheus::Counters {
            xc_logins: XC_OUTCOMES
                .iter()
                .zip(&self.xc_logins)
                .map(|((_, name), n)| (*name, read(n)))
                .collect(),
            admin_logins: vec![
                ("ok", read(&self.admin_logins[0])),
                ("failed", read(&self.admin_logins[1])),
            ],
            epg: process.epg,
            start_time: self.start_time,
            cpu_seconds: process.cpu_seconds,
            open_fds: process.open_fds,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, history::History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What `/metrics` reads besides the frame (files and the guide: on a blocking thread).
#[derive(Default)]
struct Process {
    epg: Option<dvbgate_control::EpgServiceStats>,
    cpu_seconds: Option<f64>,
    open_fds: Option<u64>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Every tuner, input and channel now, with viewers and memory.
async fn gather(app: &Arc<AppState>) -> Result<Frame, ApiError> {
    let sup = app.supervisor.clone();
    let (views, rss) = blocking(move || {
        let views = Views {
            tuners: sup.tuner_views(),
            inputs: sup.input_views()?,
            channels: sup.channel_views()?,
        };
        Ok((views, frame::resident_bytes()))
    })
    .await?;
    let target = app.supervisor.options().streams.segment.target;
    let hls = app
        .monitor
        .hls
        .counts(Instant::now(), viewers::window(target));
    Ok(frame::frame(
        &views,
        unix_ms(),
        app.started.elapsed().as_secs(),
        rss,
        |n| hls.get(&n).copied().unwrap_or(0),
    ))
}

/// Starts the task that samples the history every 10 s and, while anyone subscribes to
/// `/api/v1/live`, computes the live frame every second (call inside the runtime, once;
/// later calls do nothing). It ends with [`Monitor::shutdown`] or when the application
/// is dropped.
pub fn start_background(app: &Arc<AppState>) {
    if app.monitor.background.swap(true, Ordering::SeqCst) {
        return;
    }
    let weak = Arc::downgrade(app);
    let stop = app.monitor.stop.subscribe();
    tokio::spawn(background(weak, stop));
}

async fn background(app: Weak<AppState>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(LIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sample_every = Duration::from_secs(history::INTERVAL_S as u64);
    let mut last_sample: Option<Instant> = None;
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let Some(app) = app.upgrade() else { break };
        let monitor = &app.monitor;
        let sample_due = last_sample.is_none_or(|t| t.elapsed() >= sample_every);
        let live_wanted = monitor.live.receiver_count() > 0;
        if !live_wanted && monitor.live.borrow().is_some() {
            // Nobody watches: the next subscriber waits for a fresh frame, not this one.
            monitor.live.send_replace(None);
        }
        if !sample_due && !live_wanted {
            continue;
        }
        let frame = match gather(&app).await {
            Ok(f) => f,
            Err(e) => {
                // Said once (a store that cannot be read fails every second).
                if last_error.as_deref() != Some(e.message.as_str()) {
                    debug!("monitoring cannot read the figures: {}", e.message);
                    last_error = Some(e.message);
                }
                continue;
            }
        };
        last_error = None;
        if sample_due {
            last_sample = Some(Instant::now());
            monitor.history().record(frame.time / 1000, &frame);
        }
        if live_wanted {
            match serde_json::to_string(&frame) {
                Ok(json) => {
                    monitor.live.send_replace(Some(json.into()));
                }
                Err(e) => debug!("live frame: {e}"),
            }
        }
    }
}

/// The monitoring routes; all of them need the administrator (`/metrics` also takes
/// HTTP Basic, which the guard in `routes` handles).
pub(crate) fn admin_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/live", get(live))
        .route("/api/v1/history", get(history_json))
        .route("/api/v1/logs", get(logs))
        .route("/metrics", get(metrics))
}

/// `GET /api/v1/live`: a `stats` event each second; comments keep the connection alive
/// if figures cannot be read for a while; the stream ends when the daemon stops, and,
/// when it was opened with a session cookie, when that session ends (logout, password
/// change, factory reset, timeout): a stream must not go on showing the box to a
/// browser that was logged out. One opened with the API token ends only at shutdown.
async fn live(
    State(app): State<Arc<AppState>>,
    caller: Option<Extension<AdminCaller>>,
) -> Response {
    let rx = app.monitor.live.subscribe();
    let stop = app.monitor.stop.subscribe();
    if app.monitor.stopping() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let session = match caller {
        Some(Extension(AdminCaller::Session(key))) => Some(key),
        _ => None,
    };
    let stream = LiveStream {
        app: Arc::downgrade(&app),
        session,
        ended: app.admin.sessions_ended(),
        rx,
        stop,
    };
    // The state: the stream, and whether the frame already there may be sent (at once
    // to a new subscriber; after that, only new frames).
    let events = futures_util::stream::unfold((stream, true), |(mut s, first)| async move {
        let event = s.next(first).await?;
        Some((Ok::<_, std::convert::Infallible>(event), (s, false)))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Proxies (nginx) must pass events on as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One subscriber of `/api/v1/live`, see [`live`].
struct LiveStream {
    /// Weak, so that a forgotten stream does not keep the application alive.
    app: Weak<AppState>,
    /// The session the stream was opened with (None: the API token).
    session: Option<SessionKey>,
    ended: watch::Receiver<u64>,
    rx: watch::Receiver<Option<Arc<str>>>,
    stop: watch::Receiver<bool>,
}

impl LiveStream {
    /// Whether the stream may go on: not shutting down, and its session (if any) alive
    /// (a lookup among at most 16 sessions).
    fn open(&self) -> bool {
        !*self.stop.borrow()
            && self
                .app
                .upgrade()
                .is_some_and(|app| self.session.is_none_or(|key| app.admin.session_alive(key)))
    }

    /// The next event; None when the stream ends.
    async fn next(&mut self, take_current: bool) -> Option<Event> {
        let mut take_current = take_current;
        loop {
            if !self.open() {
                return None;
            }
            if !take_current {
                tokio::select! {
                    changed = self.rx.changed() => if changed.is_err() { return None },
                    _ = self.stop.wait_for(|s| *s) => return None,
                    // Sessions ended: look again whether this one is among them.
                    ended = self.ended.changed() => {
                        if ended.is_err() {
                            return None;
                        }
                        continue;
                    }
                }
            }
            take_current = false;
            let current = self.rx.borrow_and_update().clone();
            if let Some(json) = current {
                return Some(Event::default().event("stats").data(&*json));
            }
        }
    }
}

/// `GET /api/v1/history`. The points are copied under the history's lock (which the
/// sampler needs every 10 s) and rendered after; a large lineup's answer (some MiB) is
/// rendered on a blocking thread, not on one of the few async workers.
async fn history_json(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let now = unix_ms() / 1000;
    let snapshot = app.monitor.history().snapshot(now);
    let large = snapshot.points() > LARGE_HISTORY_POINTS;
    let render = move || {
        serde_json::to_vec(&snapshot.to_json()).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot render the history: {e}"),
            )
        })
    };
    let body = if large {
        blocking(render).await?
    } else {
        render()?
    };
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `GET /api/v1/logs?after=<seq>&level=info|warn|error&limit=<n≤1000>`.
async fn logs(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let mut after = None;
    let mut level = Level::Info;
    let mut limit = None;
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let bad = |what: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{what} (got {k}={v:?})"),
            )
            .into_response()
        };
        match &*k {
            "after" => match v.parse::<u64>() {
                Ok(n) => after = Some(n),
                Err(_) => return bad("after must be a line number"),
            },
            "level" => match Level::parse(&v) {
                Some(l) => level = l,
                None => return bad("level must be debug, info, warn or error"),
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=logbook::MAX_LIMIT).contains(&n) => limit = Some(n),
                _ => return bad("limit must be a number of lines from 1 to 1000"),
            },
            _ => {}
        }
    }
    let page = match &app.options.logbook {
        Some(book) => book.page(after, level, limit.unwrap_or(logbook::DEFAULT_LIMIT)),
        None => logbook::Page {
            lines: Vec::new(),
            next: after.unwrap_or(0),
            dropped: 0,
        },
    };
    Json(page).into_response()
}

/// `GET /metrics`: Prometheus text format 0.0.4.
async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let frame = match gather(&app).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let sup = app.supervisor.clone();
    let process = blocking(move || {
        Ok(Process {
            epg: Some(sup.epg().stats()),
            cpu_seconds: frame::cpu_seconds(),
            open_fds: frame::open_fds(),
        })
    })
    .await
    .unwrap_or_default();
    let text = prometheus::render(&frame, &app.monitor.counters(process));
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod routes_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_counters_count_by_outcome() {
        let m = Monitor::new();
        m.count_admin_login(true);
        m.count_admin_login(false);
        m.count_admin_login(false);
        m.count_xc_login(XcLogin::Ok);
        m.count_xc_login(XcLogin::WrongPassword);
        m.count_xc_login(XcLogin::WrongPassword);
        let c = m.counters(Process::default());
        assert_eq!(c.admin_logins, [("ok", 1), ("failed", 2)]);
        let get = |name| c.xc_logins.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(get("ok"), 1);
        assert_eq!(get("wrong_password"), 2);
        assert_eq!(get("throttled"), 0);
        assert_eq!(c.xc_logins.len(), 7, "every outcome is listed, zero or not");
    }
}
