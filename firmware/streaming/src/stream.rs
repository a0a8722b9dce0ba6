//! What the control plane and the HTTP server hold of a channel being streamed.

use crate::budget::{Budget, BudgetFull};
use crate::tap::StreamTap;
use bytes::Bytes;
use dvbgate_hls::{ConfigError, Segment, SegmenterConfig, SegmenterStats, Window, WindowConfig};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tracing::warn;

/// How channels are streamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamOptions {
    pub segment: SegmenterConfig,
    /// Segments listed in the live playlist (TV players stall on short windows).
    pub window_length: usize,
    /// Segments kept fetchable after they leave the playlist (RFC 8216 §6.2.2).
    pub window_grace: usize,
    /// Chunks an HTTP client's queue holds before the client is dropped.
    pub client_queue: usize,
    /// HTTP clients get the stream in chunks of about this size...
    pub chunk_bytes: usize,
    /// ...or whatever gathered in this long, whichever comes first.
    pub chunk_interval: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            // The first request waits for the first segment: make it about a GOP long.
            segment: SegmenterConfig {
                quick_start: true,
                ..SegmenterConfig::default()
            },
            window_length: 6,
            window_grace: 2,
            // 128 chunks: 4 s of an 8 Mbit/s channel, 6 s of a slower one.
            client_queue: 128,
            chunk_bytes: 32 * 1024,
            chunk_interval: Duration::from_millis(50),
        }
    }
}

impl StreamOptions {
    pub fn window(&self) -> WindowConfig {
        WindowConfig {
            length: self.window_length,
            grace: self.window_grace,
            target: self.segment.target,
        }
    }

    /// Bytes a window of a channel at `bitrate_bps` holds: listed and grace segments, one
    /// more while it is being replaced, and the segment being built.
    pub fn window_bytes(&self, bitrate_bps: u64) -> usize {
        let segments = (self.window_length + self.window_grace + 2) as u128;
        (u128::from(bitrate_bps) * self.segment.target.as_millis() * segments / 8_000) as usize
    }
}

/// Why a stream could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Budget(#[from] BudgetFull),
}

/// Live figures of a stream, for the API and the dashboard.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StreamStats {
    pub http_clients: usize,
    /// Clients dropped because they fell behind.
    pub http_clients_dropped: u64,
    /// Segments held (listed and in grace).
    pub segments: usize,
    pub window_bytes: usize,
    pub media_sequence: u64,
    pub codecs: Option<String>,
    /// Since the last request (0 while HTTP clients are connected).
    pub idle_seconds: f64,
    pub forced_cuts: u64,
    pub discontinuities: u64,
    pub rap_interval_ms: Option<u64>,
}

struct Inner {
    window: Window,
    codecs: Option<String>,
    segmenter: SegmenterStats,
    /// Where the next tap's segmenter starts numbering.
    next_sequence: u64,
    /// HTTP clients waiting for the tap to take them on (at its next pass).
    joiners: Vec<mpsc::Sender<Bytes>>,
    /// This stream's share of the budget's claims.
    claim: usize,
}

/// See the crate docs.
pub struct ChannelStream {
    /// For logs: `channel 3 "Arte"`.
    label: String,
    options: StreamOptions,
    budget: Arc<Budget>,
    inner: Mutex<Inner>,
    /// Segments published so far (for waiting on the first).
    published: watch::Sender<u64>,
    pub(crate) has_joiners: AtomicBool,
    pub(crate) http_clients: AtomicUsize,
    pub(crate) http_clients_dropped: AtomicU64,
    created: Instant,
    /// Milliseconds after `created` of the last request.
    last_touch_ms: AtomicU64,
    /// Tells segments of this stream from those of an earlier one with the same numbers
    /// (a wall clock set back between runs): part of their ETags.
    instance: u64,
}

impl ChannelStream {
    /// A stream numbering its segments from `first_sequence`, claiming room in `budget`
    /// for a channel at `bitrate_bps`.
    pub fn new(
        label: impl Into<String>,
        options: StreamOptions,
        budget: Arc<Budget>,
        first_sequence: u64,
        bitrate_bps: u64,
    ) -> Result<Arc<ChannelStream>, StartError> {
        options.segment.validate()?;
        let window = Window::new(options.window())?;
        let claim = options.window_bytes(bitrate_bps);
        budget.claim(claim)?;
        let instance = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Ok(Arc::new(ChannelStream {
            label: label.into(),
            budget,
            inner: Mutex::new(Inner {
                window,
                codecs: None,
                segmenter: SegmenterStats::default(),
                next_sequence: first_sequence,
                joiners: Vec::new(),
                claim,
            }),
            published: watch::Sender::new(0),
            has_joiners: AtomicBool::new(false),
            http_clients: AtomicUsize::new(0),
            http_clients_dropped: AtomicU64::new(0),
            created: Instant::now(),
            last_touch_ms: AtomicU64::new(0),
            instance,
            options,
        }))
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn options(&self) -> &StreamOptions {
        &self.options
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Plain data: a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The part that runs on the pipeline thread. Each new tap (after a pipeline restart)
    /// continues the numbering.
    pub fn tap(self: &Arc<Self>) -> Result<StreamTap, ConfigError> {
        let first = self.inner().next_sequence;
        StreamTap::new(Arc::clone(self), first)
    }

    /// Where a later stream of this channel continues numbering.
    pub fn next_sequence(&self) -> u64 {
        self.inner().next_sequence
    }

    /// A request for this stream came in: it is not idle.
    pub fn touch(&self) {
        self.last_touch_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long the stream has had no request and no HTTP client.
    pub fn idle_for(&self) -> Duration {
        if self.http_clients.load(Ordering::Relaxed) > 0 || self.has_joiners.load(Ordering::Relaxed)
        {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_touch_ms.load(Ordering::Relaxed));
        self.created.elapsed().saturating_sub(last)
    }

    /// Waits until the window holds a segment; false if `timeout` passed first.
    pub async fn first_segment(&self, timeout: Duration) -> bool {
        let mut published = self.published.subscribe();
        tokio::time::timeout(timeout, published.wait_for(|n| *n > 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The live media playlist; segments are `{sequence}.ts` beside it. None while empty.
    pub fn media_playlist(&self) -> Option<String> {
        let inner = self.inner();
        inner.window.listed().next()?;
        Some(inner.window.media_playlist(|seq| format!("{seq}.ts")))
    }

    /// A master playlist naming `media_uri`, when the codecs are known (players set up
    /// their decoders from CODECS before the first segment). None otherwise: serve the
    /// media playlist instead.
    pub fn master_playlist(&self, media_uri: &str) -> Option<String> {
        let inner = self.inner();
        let codecs = inner.codecs.as_deref()?;
        inner.window.master_playlist(media_uri, Some(codecs))
    }

    /// A segment's bytes, while the window keeps it.
    pub fn segment(&self, sequence: u64) -> Option<Bytes> {
        self.inner().window.get(sequence).map(|s| s.data.clone())
    }

    /// An entity tag for a segment: it never changes while the stream lives.
    pub fn segment_etag(&self, sequence: u64) -> String {
        format!("\"{:x}-{sequence}\"", self.instance)
    }

    /// A new HTTP TS client. It starts with the segment being built (PAT, PMT, a
    /// keyframe and what followed), then the live stream; if it falls behind by more than
    /// its queue, it is dropped (its stream ends).
    pub fn join(self: &Arc<Self>) -> HttpClient {
        let (tx, rx) = mpsc::channel(self.options.client_queue.max(2));
        self.inner().joiners.push(tx);
        self.has_joiners.store(true, Ordering::Release);
        HttpClient { rx }
    }

    pub(crate) fn take_joiners(&self) -> Vec<mpsc::Sender<Bytes>> {
        self.has_joiners.store(false, Ordering::Release);
        std::mem::take(&mut self.inner().joiners)
    }

    pub fn stats(&self) -> StreamStats {
        let inner = self.inner();
        StreamStats {
            http_clients: self.http_clients.load(Ordering::Relaxed),
            http_clients_dropped: self.http_clients_dropped.load(Ordering::Relaxed),
            segments: inner.window.len(),
            window_bytes: inner.window.bytes(),
            media_sequence: inner.window.media_sequence(),
            codecs: inner.codecs.clone(),
            idle_seconds: self.idle_for().as_secs_f64(),
            forced_cuts: inner.segmenter.forced_cuts,
            discontinuities: inner.segmenter.discontinuities,
            rap_interval_ms: inner.segmenter.rap_interval.map(|d| d.as_millis() as u64),
        }
    }

    /// From the tap: a finished segment.
    /// `first_of_tap`: a new tap's first segment, which does not continue what an earlier
    /// tap published.
    pub(crate) fn publish(
        &self,
        mut segment: Segment,
        first_of_tap: bool,
        codecs: Option<String>,
        stats: SegmenterStats,
    ) {
        if first_of_tap && *self.published.borrow() > 0 {
            segment.discontinuity = true;
        }
        let added = segment.data.len();
        let mut inner = self.inner();
        inner.codecs = codecs;
        inner.segmenter = stats;
        inner.next_sequence = segment.sequence + 1;
        let sequence = segment.sequence;
        // Before the first playlist: keyframes further apart than the target make longer
        // segments; announce them now (with room for an irregular GOP) rather than change
        // the target duration under the players later.
        if *self.published.borrow() == 0
            && let Some(gop) = stats
                .rap_interval
                .filter(|g| *g > self.options.segment.target)
        {
            inner.window.expect_segments_up_to(gop * 3 / 2);
        }
        let mut released = 0;
        match inner.window.push(segment) {
            Ok(evicted) => {
                self.budget.hold(added);
                released += evicted.iter().map(|s| s.data.len()).sum::<usize>();
            }
            Err(e) => {
                // Cannot happen with one tap at a time; a second would be a bug upstream.
                warn!(stream = %self.label, "segment {sequence} refused: {e}");
                return;
            }
        }
        self.budget.release(released);
        // Over the shared budget: this stream gives up its oldest segments first.
        while self.budget.over() && inner.window.len() > 1 {
            match inner.window.evict_oldest() {
                Some(s) => self.budget.release(s.data.len()),
                None => break,
            }
        }
        // The claim follows what the window really needs: its estimate until the window
        // is full (more if it grows past it), then what it holds with room for the segment
        // being replaced and the one being built.
        let held = inner.window.bytes();
        let kept = self.options.window_length + self.options.window_grace;
        let claim = if inner.window.len() >= kept {
            held * (kept + 2) / kept
        } else {
            held.max(inner.claim)
        };
        if claim != inner.claim {
            self.budget.reclaim(inner.claim, claim);
            inner.claim = claim;
        }
        drop(inner);
        self.published.send_modify(|n| *n += 1);
    }
}

impl Drop for ChannelStream {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        self.budget.release(inner.window.bytes());
        self.budget.reclaim(inner.claim, 0);
    }
}

impl std::fmt::Debug for ChannelStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelStream")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// One HTTP TS client's end of its queue.
#[derive(Debug)]
pub struct HttpClient {
    rx: mpsc::Receiver<Bytes>,
}

impl HttpClient {
    /// The next chunk; `None` when the client was dropped or the stream ended.
    pub async fn next(&mut self) -> Option<Bytes> {
        self.rx.recv().await
    }

    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.rx.poll_recv(cx)
    }
}
