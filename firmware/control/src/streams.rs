//! Channels streamed on demand over HLS and HTTP.
//!
//! The first request for a channel creates its [`ChannelStream`] and reconciles: the
//! channel's input starts if it was not running (a tuner input leases a tuner at
//! on-demand priority), the channel is remuxed if it was not (a channel with multicast
//! off), and the pipeline gets a tap that feeds the stream. Requests that come while it
//! starts find the same stream. A stream nobody has asked for in
//! [`SupervisorOptions::stream_idle`](crate::SupervisorOptions::stream_idle) is let go by
//! [`Supervisor::reap_idle_streams`], and with it whatever only it needed.
//!
//! One stream serves both HLS and HTTP TS (a TS client joins the segmenter's output).
//! A channel whose `hls` flag is off is not offered over HLS: [`Supervisor::open_hls_stream`]
//! refuses it ([`StreamError::Disabled`] with [`Off::Hls`], a 404 for the API) and
//! [`Supervisor::stream`] does not hand out its segments, while HTTP TS
//! ([`Supervisor::open_stream`]) and multicast go on. A stream running when the flag is
//! switched off ends at the next reconcile unless an HTTP TS client is on it.

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
    /// The channel, or the way it was asked for, is switched off.
    #[error("{0}")]
    Disabled(Off),
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

/// What is switched off when a stream is refused as disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Off {
    /// The channel (`enabled` false): no way of watching it.
    Channel(u16),
    /// The channel's HLS (`hls` false): multicast and HTTP TS still work.
    Hls(u16),
}

impl std::fmt::Display for Off {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Off::Channel(number) => write!(f, "channel {number} is disabled"),
            Off::Hls(number) => write!(f, "HLS is off for channel {number}"),
        }
    }
}

impl Supervisor {
    /// The stream of channel `number` for HLS playlists: [`Self::open_stream`], refused
    /// with [`Off::Hls`] when the channel's `hls` flag is off.
    pub fn open_hls_stream(&self, number: u16) -> Result<Arc<ChannelStream>, StreamError> {
        let channel = self.channel_by_number(number)?;
        if !channel.hls {
            return Err(StreamError::Disabled(Off::Hls(number)));
        }
        self.open_stream(number)
    }

    /// The stream of channel `number`, started if needed (see the module docs); for
    /// HTTP TS, whatever the channel's `hls` flag. Blocking: it may open an input and
    /// tune.
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

    /// The stream of channel `number` if it runs, for HLS segment requests (they do not
    /// start one); None while the channel's `hls` flag is off, even if HTTP TS clients
    /// keep its stream running.
    pub fn stream(&self, number: u16) -> Option<Arc<ChannelStream>> {
        let channel = self.channel_by_number(number).ok()?;
        if !channel.hls {
            return None;
        }
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
            return Err(StreamError::Disabled(Off::Channel(number)));
        }
        Ok(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SupervisorOptions;
    use dvbgate_store::{ChannelPatch, NewChannel, NewInput, Store};

    /// A supervisor over a store with one input (disabled: nothing really runs) and
    /// channel 1, multicast off, offered over HLS or not.
    fn supervisor(hls: bool) -> (tempfile::TempDir, Arc<Supervisor>, ChannelConfig) {
        let temp = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&temp.path().join("config")).expect("store");
        let input = store
            .add_input(NewInput {
                name: "mux".into(),
                url: "file:///nonexistent.ts".into(),
                enabled: false,
                auto_channels: false,
            })
            .expect("input");
        let channel = store
            .add_channel(NewChannel {
                number: Some(1),
                multicast: false,
                hls,
                ..NewChannel::new(input.id, 100, "One")
            })
            .expect("channel");
        let sup = Supervisor::new(Arc::new(store), SupervisorOptions::default());
        (temp, sup, channel)
    }

    /// Puts a stream for the channel in place, as an HTTP TS request would have.
    fn running_stream(sup: &Supervisor, channel: &ChannelConfig) -> Arc<ChannelStream> {
        let stream = ChannelStream::new(
            channel.describe(),
            sup.options().streams.clone(),
            Arc::clone(&sup.budget),
            0,
            ASSUMED_BITRATE_BPS,
        )
        .expect("stream");
        stream.touch();
        sup.state().streams.insert(channel.id, Arc::clone(&stream));
        stream
    }

    fn set_hls(sup: &Supervisor, channel: &ChannelConfig, hls: bool) {
        sup.store()
            .update_channel(
                channel.id,
                ChannelPatch {
                    hls: Some(hls),
                    ..ChannelPatch::default()
                },
            )
            .expect("patch");
    }

    #[test]
    fn hls_off_refuses_playlists_and_segments() {
        let (_temp, sup, channel) = supervisor(false);
        match sup.open_hls_stream(1) {
            Err(error @ StreamError::Disabled(Off::Hls(1))) => {
                assert_eq!(error.to_string(), "HLS is off for channel 1");
            }
            other => panic!("expected HLS off, got {other:?}"),
        }
        assert!(
            sup.state().streams.is_empty(),
            "a refused request made a stream"
        );
        // A stream HTTP TS keeps running is not handed out for segments.
        let stream = running_stream(&sup, &channel);
        assert!(sup.stream(1).is_none());
        set_hls(&sup, &channel, true);
        assert!(Arc::ptr_eq(&sup.stream(1).expect("HLS on"), &stream));

        // The other refusals keep their messages.
        assert!(matches!(
            sup.open_hls_stream(2),
            Err(StreamError::NotFound(2))
        ));
        sup.store()
            .update_channel(
                channel.id,
                ChannelPatch {
                    enabled: Some(false),
                    ..ChannelPatch::default()
                },
            )
            .expect("disable");
        let error = sup.open_hls_stream(1).expect_err("disabled");
        assert!(matches!(error, StreamError::Disabled(Off::Channel(1))));
        assert_eq!(error.to_string(), "channel 1 is disabled");
        assert!(sup.stream(1).is_none());
    }

    #[test]
    fn switching_hls_off_ends_a_stream_nobody_watches_over_http() {
        let (_temp, sup, channel) = supervisor(true);
        let stream = running_stream(&sup, &channel);
        sup.reconcile().expect("reconcile");
        assert!(sup.stream(1).is_some(), "HLS on: the stream stays");

        set_hls(&sup, &channel, false);
        // Just requested: it might be an HTTP TS client about to join.
        sup.reconcile().expect("reconcile");
        assert!(sup.state().streams.contains_key(&channel.id));
        std::thread::sleep(HLS_OFF_GRACE_FOR_TESTS);
        sup.reconcile().expect("reconcile");
        assert!(
            !sup.state().streams.contains_key(&channel.id),
            "the stream of a channel without HLS and without viewers still runs"
        );

        // With an HTTP TS client on it, it stays however long it has been.
        sup.state().streams.insert(channel.id, Arc::clone(&stream));
        let client = stream.join();
        std::thread::sleep(HLS_OFF_GRACE_FOR_TESTS);
        sup.reconcile().expect("reconcile");
        assert!(sup.state().streams.contains_key(&channel.id));
        drop(client);
    }

    /// Longer than the supervisor's grace for HLS-off streams in tests.
    const HLS_OFF_GRACE_FOR_TESTS: std::time::Duration = std::time::Duration::from_millis(400);
}
