//! Inputs: where a multiplex comes from.
//!
//! Every input is polled by its pipeline thread: [`MuxInput::poll`] hands over what is
//! available *now* and returns at once; the thread sleeps between polls. A file gives what
//! is due at real time; a socket gives what has arrived. DVB tuners (and later V4L2
//! capture) implement the same trait, so the pipeline does not care where bytes come from.

#![forbid(unsafe_code)]

pub mod dvb;
pub mod file;
pub mod rate_limit;
pub mod udp;

use std::time::Instant;

/// Where an input's bytes go.
pub trait InputSink {
    /// Bytes of the multiplex, in order. Any chunking; packet boundaries need not align.
    fn data(&mut self, bytes: &[u8]);
    /// What follows does not continue what came before (a file looped, a tuner retuned).
    fn discontinuity(&mut self);
}

/// A source of one multiplex. Created on, and used only by, its pipeline thread (socket
/// batch headers are not `Send`, and nothing else needs to touch an input).
pub trait MuxInput {
    /// Delivers what is available at `now` to `sink`; returns the number of bytes.
    fn poll(&mut self, now: Instant, sink: &mut dyn InputSink) -> Result<usize, InputError>;
    /// Source-level counters (datagrams, loops, RTP losses...).
    fn stats(&self) -> SourceStats;
    /// How a technician would name this input: a path or a URL.
    fn describe(&self) -> String;
    /// The PIDs the pipeline needs. Inputs that can filter at the source (a tuner's
    /// demux) deliver only these; others ignore it.
    fn select_pids(&mut self, _wanted: &PidSelection) {}
    /// A tuner's state and signal, for inputs that are tuners.
    fn tuner(&self) -> Option<TunerReport> {
        None
    }
}

/// Opens an input, and opens it again after it failed. The default opens by address;
/// a tuner input brings its own, holding the frontend the tuner manager chose for it.
pub trait OpenInput: Send + Sync {
    fn open(&self) -> Result<Box<dyn MuxInput>, InputError>;
}

/// Which PIDs of a multiplex are needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PidSelection {
    /// Everything (scans, diagnostics, or a channel set that needs most of the multiplex).
    All,
    /// Only these, sorted and without duplicates.
    Pids(Vec<u16>),
}

/// A tuner input's report: what it is tuned to, how well it receives, what it did about
/// trouble.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TunerReport {
    /// `adapter0/frontend0`.
    pub frontend: String,
    /// The driver's name for the frontend.
    pub name: String,
    /// The multiplex, in URL form.
    pub tuning: String,
    pub state: dvbgate_tuning::lock::TunerState,
    pub signal: dvbgate_tuning::signal::SignalReport,
    pub lock: dvbgate_tuning::lock::LockCounters,
    /// When a retune is pending: in how many milliseconds.
    pub retune_in_ms: Option<u64>,
    /// PID filters set on the demux; None when the whole multiplex is delivered.
    pub pid_filters: Option<usize>,
    /// Times the kernel's dvr buffer overflowed (data lost before we could read it).
    pub dvr_overflows: u64,
    pub dvr_buffer_bytes: usize,
}

/// Counters kept by the source itself, below the TS layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    pub bytes: u64,
    pub datagrams: u64,
    /// Datagrams larger than our receive slots (their tail was lost).
    pub truncated_datagrams: u64,
    /// Datagrams missing according to RTP sequence numbers.
    pub rtp_lost: u64,
    /// Times a file was played to its end and restarted.
    pub loops: u64,
    pub read_errors: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening failed: the input cannot run as configured (bad path, bad URL, port taken).
    #[error("{0}")]
    Open(String),
    /// The data is not a transport stream.
    #[error("{0}")]
    NoSync(String),
    /// A read failed; the pipeline reopens the input after a pause.
    #[error("{0}")]
    Read(String),
}

/// Options that apply to inputs of every kind.
#[derive(Clone, Copy, Debug)]
pub struct InputOptions {
    /// Kernel receive buffer for sockets.
    pub receive_buffer: usize,
    /// Playback rate for files whose PCRs give none.
    pub fallback_bitrate: u64,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            receive_buffer: 8 << 20,
            fallback_bitrate: 5_000_000,
        }
    }
}

/// Whether an address names a multiplex to tune (`dvb-t://…`, `atsc://…`) rather than a
/// file or a socket.
pub fn is_tuner_address(address: &str) -> bool {
    address
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.starts_with("dvb-") || scheme == "atsc")
}

/// Opens an input from its configured address: `udp://…`, `rtp://…`, `file:///path`, a
/// plain path, or a multiplex to tune (`dvb-t://474MHz?bandwidth=8MHz`: on the first
/// tuner that can; the daemon's tuner manager chooses the tuner itself instead).
pub fn open(address: &str, options: &InputOptions) -> Result<Box<dyn MuxInput>, InputError> {
    if is_tuner_address(address) {
        let tuning: dvbgate_tuning::Tuning = address
            .parse()
            .map_err(|e: dvbgate_tuning::params::ParseError| InputError::Open(e.to_string()))?;
        return Ok(Box::new(dvb::open_any(
            &tuning,
            dvb::DvbOptions::default(),
        )?));
    }
    if address.starts_with("udp://") || address.starts_with("rtp://") {
        Ok(Box::new(udp::UdpInput::open(address, options)?))
    } else {
        let path = address.strip_prefix("file://").unwrap_or(address);
        Ok(Box::new(file::FilePlayer::open(
            std::path::Path::new(path),
            options,
        )?))
    }
}
