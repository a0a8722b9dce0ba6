//! What a pipeline reports to the control plane: the input's health and what it carries,
//! and each channel's state and counters. Published by the pipeline thread a few times a
//! second; the API serialises it as it is.

use dvbgate_inputs::{SourceStats, TunerReport};
use dvbgate_remux::{ChannelKey, ServiceState};
use dvbgate_ts::tables::pmt::StreamKind;
use dvbgate_ts::tables::sdt::ServiceKind;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputState {
    /// Opening the input.
    Starting,
    /// Transport stream packets are flowing.
    Running,
    /// Opened, but nothing has arrived for a while.
    NoData,
    /// Bytes arrive but they are not a transport stream.
    NoSync,
    /// The input failed; it is retried with backoff.
    Error,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamInfo {
    pub pid: u16,
    pub stream_type: u8,
    pub kind: StreamKind,
    pub codec: &'static str,
    pub languages: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceInfo {
    pub service_id: u16,
    pub name: Option<String>,
    pub provider: Option<String>,
    pub kind: Option<ServiceKind>,
    pub scrambled: bool,
    pub pmt_pid: Option<u16>,
    pub pcr_pid: Option<u16>,
    pub streams: Vec<StreamInfo>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct InputSnapshot {
    pub state: InputState,
    pub error: Option<String>,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub cc_errors: u64,
    pub transport_errors: u64,
    pub crc_errors: u64,
    pub sync_losses: u64,
    pub skipped_bytes: u64,
    pub source: SourceStats,
    pub transport_stream_id: Option<u16>,
    pub original_network_id: Option<u16>,
    pub network_name: Option<String>,
    pub services: Vec<ServiceInfo>,
    /// Delay the pacing clock adds to absorb input jitter.
    pub jitter_delay_ms: Option<f64>,
    pub reopens: u64,
    /// For tuner inputs: the tuner's state and signal.
    pub tuner: Option<TunerReport>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ChannelSnapshot {
    pub state: ServiceState,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub datagrams: u64,
    pub bytes: u64,
    pub send_errors: u64,
    pub dropped: u64,
    pub pmt_version: u8,
    /// Set when the output could not be opened or the kernel refused datagrams.
    pub output_error: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Snapshot {
    pub input: InputSnapshot,
    pub channels: BTreeMap<ChannelKey, ChannelSnapshot>,
}

impl Snapshot {
    pub(crate) fn starting() -> Snapshot {
        Snapshot {
            input: InputSnapshot {
                state: InputState::Starting,
                error: None,
                bitrate_bps: 0,
                packets: 0,
                cc_errors: 0,
                transport_errors: 0,
                crc_errors: 0,
                sync_losses: 0,
                skipped_bytes: 0,
                source: SourceStats::default(),
                transport_stream_id: None,
                original_network_id: None,
                network_name: None,
                services: Vec::new(),
                jitter_delay_ms: None,
                reopens: 0,
                tuner: None,
            },
            channels: BTreeMap::new(),
        }
    }
}
