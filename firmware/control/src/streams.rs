//! Channels streamed on demand over HLS and HTTP.
//!
//! The first request for a channel creates its [`ChannelStream`] and reconciles: the
//! channel's input starts if it was not running (a tuner input leases a tuner at
//! on-demand priority), the channel is remuxed if it was not (a channel with multicast
//! off), and the pipeline gets a tap that feeds the stream. Requests that come while it
//! starts find the same stream. A stream nobody has asked for in
//! [`SupervisorOptions::stream_idle`](crate::SupervisorOptions::stream_idle) is let go by
//! [`Supervisor::reap_idle_streams`], and with it whatever only it needed.

use crate::supervisor::Supervisor;
use dvbgate_pipeline::InputState;
use dvbgate_store::{ChannelConfig, StoreError};
use dvbgate_streaming::{BudgetFull, ChannelStream};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::info;

/// Bit rate assumed for a channel's memory claim when neither it nor its multiplex has
/// been measured.
const ASSUMED_BITRATE_BPS: u64 = 6_000_000;

/// Why a channel cannot be streamed (now).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("there is no channel {0}")]
    NotFound(u16),
    #[error("channel {0} is disabled")]
    Disabled(u16),
    /// Its input could not start (no tuner free, the device is gone...).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Budget(#[from] BudgetFull),
    #[error("cannot stream: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Supervisor {
    /// The stream of channel `number`, started if needed (see the module docs). Blocking:
    /// it may open an input and tune.
    pub fn open_stream(&self, number: u16) -> Result<Arc<ChannelStream>, StreamError> {
        let channel = self.channel_by_number(number)?;
        let stream = {
            let mut state = self.state();
            if let Some(stream) = state.streams.get(&channel.id) {
                stream.touch();
                return Ok(Arc::clone(stream));
            }
            // The channel's measured rate if it is sent; else its share of its multiplex's.
            let snapshot = state.snapshot(channel.input_id);
            let bitrate = snapshot
                .as_ref()
                .and_then(|s| s.channels.get(&channel.id).map(|c| c.bitrate_bps))
                .filter(|b| *b > 0)
                .or_else(|| {
                    let input = &snapshot.as_ref()?.input;
                    let share = input.bitrate_bps / input.services.len().max(1) as u64;
                    (share > 0).then_some(share)
                })
                .unwrap_or(ASSUMED_BITRATE_BPS);
            // Numbers go on from the last stream of this channel, or from the wall clock in
            // seconds (segments are longer than a second), so they never go back, not even
            // across a restart of the daemon.
            let now_s = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let first = state
                .next_sequences
                .get(&channel.id)
                .copied()
                .unwrap_or(0)
                .max(now_s);
            let stream = ChannelStream::new(
                channel.describe(),
                self.options().streams.clone(),
                Arc::clone(&self.budget),
                first,
                bitrate,
            )
            .map_err(|e| match e {
                dvbgate_streaming::StartError::Budget(b) => StreamError::Budget(b),
                other => StreamError::Config(other.to_string()),
            })?;
            stream.touch();
            state.streams.insert(channel.id, Arc::clone(&stream));
            stream
        };
        info!(stream = %stream.label(), "streaming on demand");
        self.reconcile()?;
        let mut state = self.state();
        if state.input_running(channel.input_id) {
            return Ok(stream);
        }
        // The input could not start: no stream then.
        let why = state
            .failed
            .get(&channel.input_id)
            .map(|(why, _)| why.clone())
            .unwrap_or_else(|| format!("the input of {} is not running", channel.describe()));
        state.streams.remove(&channel.id);
        drop(state);
        self.reconcile()?;
        Err(StreamError::Unavailable(why))
    }

    /// The stream of channel `number` if it runs (segment requests do not start one).
    pub fn stream(&self, number: u16) -> Option<Arc<ChannelStream>> {
        let channel = self.channel_by_number(number).ok()?;
        self.state().streams.get(&channel.id).cloned()
    }

    /// Why channel `number` has no picture: for a 503 when its first segment does not come.
    pub fn why_no_stream(&self, number: u16) -> String {
        let Ok(channel) = self.channel_by_number(number) else {
            return format!("there is no channel {number}");
        };
        let state = self.state();
        if let Some((why, _)) = state.failed.get(&channel.input_id) {
            return why.clone();
        }
        let Some(snapshot) = state.snapshot(channel.input_id) else {
            return format!("the input of {} is not running", channel.describe());
        };
        let input = &snapshot.input;
        match input.state {
            InputState::NoData => {
                return match &input.tuner {
                    Some(t) => {
                        use dvbgate_tuning::lock::TunerState;
                        let state = match t.state {
                            TunerState::Tuning => "tuning",
                            TunerState::Locked => "locked but without data",
                            TunerState::NoLock => "not locked",
                            TunerState::LockLost => "without its lock (lost)",
                            TunerState::NoData => "locked but without data",
                        };
                        format!("no signal: tuner {} on {} is {state}", t.frontend, t.tuning)
                    }
                    None => "no signal: the input receives no data".into(),
                };
            }
            InputState::NoSync => {
                return "the input receives data that is not a transport stream".into();
            }
            InputState::Error => {
                return format!(
                    "the input failed: {}",
                    input.error.as_deref().unwrap_or("unknown error")
                );
            }
            InputState::Starting | InputState::Running => {}
        }
        if !input
            .services
            .iter()
            .any(|s| s.service_id == channel.service_id)
        {
            return format!(
                "service {} of {} is not on air in its multiplex",
                channel.service_id,
                channel.describe()
            );
        }
        format!(
            "{} is on air but no keyframe came in time",
            channel.describe()
        )
    }

    /// Lets go of streams idle for longer than the configured time; returns how many.
    pub fn reap_idle_streams(&self) -> Result<usize, StoreError> {
        let idle_after = self.options().stream_idle;
        let reaped: Vec<Arc<ChannelStream>> = {
            let mut state = self.state();
            let idle: Vec<u32> = state
                .streams
                .iter()
                .filter(|(_, s)| s.idle_for() >= idle_after)
                .map(|(id, _)| *id)
                .collect();
            idle.iter()
                .filter_map(|id| {
                    let stream = state.streams.remove(id)?;
                    state.next_sequences.insert(*id, stream.next_sequence());
                    Some(stream)
                })
                .collect()
        };
        for stream in &reaped {
            info!(stream = %stream.label(), "no viewer for {idle_after:?}: stopping its stream");
        }
        if !reaped.is_empty() {
            self.reconcile()?;
        }
        Ok(reaped.len())
    }

    fn channel_by_number(&self, number: u16) -> Result<ChannelConfig, StreamError> {
        let channel = self
            .store()
            .channel_by_number(number)?
            .ok_or(StreamError::NotFound(number))?;
        if !channel.enabled {
            return Err(StreamError::Disabled(number));
        }
        Ok(channel)
    }
}
