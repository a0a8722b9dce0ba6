//! What the API returns: configuration joined with live state.

use dvbgate_pipeline::{ChannelSnapshot, InputSnapshot};
use dvbgate_store::{ChannelConfig, InputConfig, OutputConfig};

/// Where a channel stands, in a word a dashboard can colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Its service is on air and its output is sending.
    Live,
    /// Its input runs but the service is not (yet) in the multiplex.
    Waiting,
    /// Its input is not running (disabled, failed, no data).
    InputDown,
    Disabled,
    /// Multicast is off and nobody watches it over HLS/HTTP: it starts when asked for.
    OnDemand,
    /// The output could not be opened or the kernel refuses its datagrams.
    OutputError,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ChannelView {
    pub id: u32,
    pub number: u16,
    pub name: String,
    pub service_id: u16,
    pub input_id: u32,
    pub enabled: bool,
    /// The URL a player opens, e.g. `udp://@239.255.1.1:5000`.
    pub multicast: String,
    /// HLS playlist and HTTP TS URLs: paths here, made absolute by the API with the Host
    /// the request came in on.
    pub hls: String,
    pub http: String,
    /// Whether the channel is offered over HLS (its `hls` flag); off, `hls` answers 404.
    pub hls_enabled: bool,
    /// Its category (`/api/v1/categories`); none: TV or Radio by its service type.
    pub category_id: Option<u32>,
    /// The XMLTV channel id its guide is imported under, if any.
    pub xmltv_id: Option<String>,
    /// The HLS/HTTP stream while one runs.
    pub streaming: Option<dvbgate_streaming::StreamStats>,
    pub output: OutputConfig,
    pub strip_ca: bool,
    pub strip_es: Vec<dvbgate_store::EsFilter>,
    pub status: ChannelStatus,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub datagrams: u64,
    pub send_errors: u64,
    pub dropped: u64,
    pub output_error: Option<String>,
}

impl ChannelView {
    pub(crate) fn new(
        c: &ChannelConfig,
        live: Option<&ChannelSnapshot>,
        input_running: bool,
        streaming: Option<dvbgate_streaming::StreamStats>,
    ) -> ChannelView {
        let status = match (c.enabled, input_running, live) {
            (false, _, _) => ChannelStatus::Disabled,
            (true, _, _) if !c.output.multicast && streaming.is_none() => ChannelStatus::OnDemand,
            (true, false, _) => ChannelStatus::InputDown,
            (true, true, Some(s)) if s.output_error.is_some() && s.datagrams == 0 => {
                ChannelStatus::OutputError
            }
            (true, true, Some(s)) if s.state == dvbgate_remux::ServiceState::Live => {
                ChannelStatus::Live
            }
            _ => ChannelStatus::Waiting,
        };
        ChannelView {
            id: c.id,
            number: c.number,
            name: c.name.clone(),
            service_id: c.service_id,
            input_id: c.input_id,
            enabled: c.enabled,
            multicast: crate::output::stream_url(c),
            hls: format!("/hls/{}/index.m3u8", c.number),
            http: format!("/stream/{}.ts", c.number),
            hls_enabled: c.hls,
            category_id: c.category_id,
            xmltv_id: c.xmltv_id.clone(),
            streaming,
            output: c.output.clone(),
            strip_ca: c.strip_ca,
            strip_es: c.strip_es.clone(),
            status,
            bitrate_bps: live.map_or(0, |s| s.bitrate_bps),
            packets: live.map_or(0, |s| s.packets),
            datagrams: live.map_or(0, |s| s.datagrams),
            send_errors: live.map_or(0, |s| s.send_errors),
            dropped: live.map_or(0, |s| s.dropped),
            output_error: live.and_then(|s| s.output_error.clone()),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct InputView {
    pub id: u32,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub auto_channels: bool,
    /// Why the input does not run, when it does not.
    pub error: Option<String>,
    /// Live state; absent while the input is disabled or could not start.
    pub live: Option<InputSnapshot>,
    // Flattened for tools that want plain numbers.
    pub bitrate_bps: u64,
    pub packets: u64,
    pub cc_errors: u64,
    pub tei_errors: u64,
    pub crc_errors: u64,
}

impl InputView {
    pub(crate) fn new(
        c: &InputConfig,
        live: Option<InputSnapshot>,
        error: Option<String>,
    ) -> InputView {
        InputView {
            id: c.id,
            name: c.name.clone(),
            url: c.url.clone(),
            enabled: c.enabled,
            auto_channels: c.auto_channels,
            error: error.or_else(|| live.as_ref().and_then(|l| l.error.clone())),
            bitrate_bps: live.as_ref().map_or(0, |l| l.bitrate_bps),
            packets: live.as_ref().map_or(0, |l| l.packets),
            cc_errors: live.as_ref().map_or(0, |l| l.cc_errors),
            tei_errors: live.as_ref().map_or(0, |l| l.transport_errors),
            crc_errors: live.as_ref().map_or(0, |l| l.crc_errors),
            live,
        }
    }
}

/// A tuner for the API: the device, its holders, and its live report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TunerView {
    #[serde(flatten)]
    pub info: crate::tuners::TunerInfo,
    /// The technician's name for it ("roof dish, LNB 2").
    pub label: Option<String>,
    /// The input (multiplex) whose pipeline reads this tuner.
    pub input_id: Option<u32>,
    /// Lock state, signal, retunes, PID filters, dvr overflows.
    pub live: Option<dvbgate_inputs::TunerReport>,
}

impl TunerView {
    pub(crate) fn new(
        info: crate::tuners::TunerInfo,
        label: Option<String>,
        live: Option<(u32, dvbgate_inputs::TunerReport)>,
    ) -> TunerView {
        TunerView {
            info,
            label,
            input_id: live.as_ref().map(|(id, _)| *id),
            live: live.map(|(_, r)| r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_view_tells_whether_hls_is_offered() {
        let mut config = dvbgate_store::ChannelConfig {
            id: 7,
            input_id: 1,
            service_id: 100,
            number: 3,
            name: "Three".into(),
            enabled: true,
            output: OutputConfig {
                address: "239.255.1.3:5000".parse().expect("address"),
                protocol: dvbgate_store::Protocol::Udp,
                multicast: true,
                ttl: None,
                dscp: None,
                interface: None,
            },
            strip_ca: false,
            strip_es: Vec::new(),
            category_id: None,
            xmltv_id: None,
            created_at: 0,
            hls: true,
        };
        let json = |config: &ChannelConfig| {
            serde_json::to_value(ChannelView::new(config, None, true, None)).expect("json")
        };
        assert_eq!(json(&config)["hls_enabled"], true);
        config.hls = false;
        let view = json(&config);
        assert_eq!(view["hls_enabled"], false);
        // The URL stays listed (it answers 404 saying why).
        assert_eq!(view["hls"], "/hls/3/index.m3u8");
    }
}
