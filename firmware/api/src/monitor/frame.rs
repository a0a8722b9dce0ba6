//! One look at the box: every tuner, input and channel with its figures, in the shape
//! `/api/v1/live` sends. The history and `/metrics` read the same frame, so the three
//! always agree on what a figure means.

use dvbgate_control::{ChannelStatus, ChannelView, InputView, TunerView};
use dvbgate_pipeline::InputState;
use dvbgate_tuning::Tuning;
use dvbgate_tuning::lock::TunerState;
use serde::Serialize;

/// What `views` gathers from the supervisor, off the async workers.
pub(crate) struct Views {
    pub tuners: Vec<TunerView>,
    pub inputs: Vec<InputView>,
    pub channels: Vec<ChannelView>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Frame {
    /// Unix milliseconds.
    pub time: i64,
    pub uptime_s: u64,
    pub tuners: Vec<TunerFigures>,
    pub inputs: Vec<InputFigures>,
    pub channels: Vec<ChannelFigures>,
    pub rss_bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct TunerFigures {
    pub key: String,
    pub name: Option<String>,
    pub label: Option<String>,
    pub input_id: Option<u32>,
    /// The lock supervisor's word (`locked`, `tuning`, `no_lock`, `lock_lost`,
    /// `no_data`), or `idle` (nobody holds it), `disabled`, `error` (cannot be probed).
    pub state: &'static str,
    pub locked: bool,
    /// `DVB-T2` and the like, while tuned.
    pub system: Option<String>,
    pub frequency_hz: Option<u64>,
    pub signal_dbm: Option<f64>,
    pub signal_pct: Option<f64>,
    pub cnr_db: Option<f64>,
    /// After the inner code (Viterbi/LDPC): what tuning tools call "BER".
    pub ber: Option<f64>,
    /// Blocks the outer code could not correct since the last tune.
    pub ucb: Option<u64>,
    /// Of the input that reads the tuner.
    pub bitrate_bps: u64,
    pub cc_errors: u64,
    #[serde(skip)]
    pub pre_ber: Option<f64>,
    #[serde(skip)]
    pub retunes: Option<u64>,
    #[serde(skip)]
    pub lock_losses: Option<u64>,
    #[serde(skip)]
    pub dvr_overflows: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct InputFigures {
    pub id: u32,
    pub name: String,
    pub url: String,
    /// The pipeline's word (`starting`, `running`, `no_data`, `no_sync`, `error`), or
    /// `disabled`, or `stopped` (a tuner input nobody watches, or one that could not
    /// start: see `error`).
    pub state: &'static str,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub cc_errors: u64,
    pub tei_errors: u64,
    pub crc_errors: u64,
    pub error: Option<String>,
    #[serde(skip)]
    pub sync_losses: u64,
    #[serde(skip)]
    pub reopens: u64,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct ChannelFigures {
    pub number: u16,
    pub name: String,
    pub enabled: bool,
    pub status: ChannelStatus,
    pub bitrate_bps: u64,
    /// The URL players open while the channel is multicast; null while it is not.
    pub multicast: Option<String>,
    pub hls_viewers: usize,
    pub http_viewers: usize,
    pub output_error: Option<String>,
    #[serde(skip)]
    pub packets: u64,
    #[serde(skip)]
    pub datagrams: u64,
    #[serde(skip)]
    pub send_errors: u64,
    #[serde(skip)]
    pub dropped: u64,
}

fn tuner_state_word(s: TunerState) -> &'static str {
    match s {
        TunerState::Tuning => "tuning",
        TunerState::Locked => "locked",
        TunerState::NoLock => "no_lock",
        TunerState::LockLost => "lock_lost",
        TunerState::NoData => "no_data",
    }
}

fn input_state_word(s: InputState) -> &'static str {
    match s {
        InputState::Starting => "starting",
        InputState::Running => "running",
        InputState::NoData => "no_data",
        InputState::NoSync => "no_sync",
        InputState::Error => "error",
    }
}

/// The frame of `views`; `hls_viewers` counts a channel's HLS viewers by number.
pub(crate) fn frame(
    views: &Views,
    time_ms: i64,
    uptime_s: u64,
    rss_bytes: u64,
    hls_viewers: impl Fn(u16) -> usize,
) -> Frame {
    let inputs: Vec<InputFigures> = views.inputs.iter().map(input_figures).collect();
    let tuners = views
        .tuners
        .iter()
        .map(|t| tuner_figures(t, &inputs))
        .collect();
    let channels = views
        .channels
        .iter()
        .map(|c| ChannelFigures {
            number: c.number,
            name: c.name.clone(),
            enabled: c.enabled,
            status: c.status,
            bitrate_bps: c.bitrate_bps,
            multicast: c.output.multicast.then(|| c.multicast.clone()),
            hls_viewers: hls_viewers(c.number),
            http_viewers: c.streaming.as_ref().map_or(0, |s| s.http_clients),
            output_error: c.output_error.clone(),
            packets: c.packets,
            datagrams: c.datagrams,
            send_errors: c.send_errors,
            dropped: c.dropped,
        })
        .collect();
    Frame {
        time: time_ms,
        uptime_s,
        tuners,
        inputs,
        channels,
        rss_bytes,
    }
}

fn input_figures(i: &InputView) -> InputFigures {
    let state = match &i.live {
        Some(l) => input_state_word(l.state),
        None if !i.enabled => "disabled",
        None => "stopped",
    };
    InputFigures {
        id: i.id,
        name: i.name.clone(),
        url: i.url.clone(),
        state,
        bitrate_bps: i.bitrate_bps,
        packets: i.packets,
        cc_errors: i.cc_errors,
        tei_errors: i.tei_errors,
        crc_errors: i.crc_errors,
        error: i.error.clone(),
        sync_losses: i.live.as_ref().map_or(0, |l| l.sync_losses),
        reopens: i.live.as_ref().map_or(0, |l| l.reopens),
    }
}

fn tuner_figures(t: &TunerView, inputs: &[InputFigures]) -> TunerFigures {
    let report = t.live.as_ref();
    let state = match report {
        _ if t.info.error.is_some() => "error",
        Some(r) => tuner_state_word(r.state),
        None if !t.info.enabled => "disabled",
        None => "idle",
    };
    let tuning: Option<Tuning> = report
        .map(|r| r.tuning.as_str())
        .or(t.info.multiplex.as_deref())
        .and_then(|u| u.parse().ok());
    let input = t.input_id.and_then(|id| inputs.iter().find(|i| i.id == id));
    let signal = report.map(|r| &r.signal);
    TunerFigures {
        key: t.info.key.clone(),
        name: t.info.name.clone(),
        label: t.label.clone(),
        input_id: t.input_id,
        state,
        locked: report.is_some_and(|r| r.state == TunerState::Locked),
        system: tuning.map(|t| t.system.to_string()),
        frequency_hz: tuning.map(|t| t.frequency_hz),
        signal_dbm: signal.and_then(|s| s.strength_dbm),
        signal_pct: signal.and_then(|s| s.strength_percent),
        cnr_db: signal.and_then(|s| s.cnr_db),
        ber: signal.and_then(|s| s.post_ber),
        ucb: signal.and_then(|s| s.error_blocks),
        bitrate_bps: input.map_or(0, |i| i.bitrate_bps),
        cc_errors: input.map_or(0, |i| i.cc_errors),
        pre_ber: signal.and_then(|s| s.pre_ber),
        retunes: report.map(|r| r.lock.retunes),
        lock_losses: report.map(|r| r.lock.lock_losses),
        dvr_overflows: report.map(|r| r.dvr_overflows),
    }
}

/// The process's resident memory, from `/proc/self/status` (`VmRSS`, in KiB: unlike
/// `statm`, it needs no page size, which differs between boxes).
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_vm_rss(&s))
        .unwrap_or(0)
}

pub(crate) fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(kib * 1024),
        Some(_) => None,
    }
}

/// CPU time the process used, user and system, from `/proc/self/stat` (in the clock
/// ticks of the `/proc` interface, `USER_HZ`: 100 on the usual kernels, but a kernel
/// setting, so asked of the system once).
pub(crate) fn cpu_seconds() -> Option<f64> {
    static TICKS_PER_SECOND: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let ticks = (*TICKS_PER_SECOND.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
    }))?;
    parse_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").ok()?, ticks)
}

/// `ticks`: clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub(crate) fn parse_cpu_seconds(stat: &str, ticks: u64) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields count from
    // the last ')'. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / ticks as f64)
}

/// File descriptors the process has open.
pub(crate) fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A frame as the demo would give it, for tests of what reads frames.
    pub(crate) fn sample_frame(time_s: i64) -> Frame {
        Frame {
            time: time_s * 1000,
            uptime_s: 42,
            tuners: vec![TunerFigures {
                key: "adapter0/frontend0".into(),
                name: Some("Silicon Labs Si2168".into()),
                label: Some("roof \"UHF\"\nmast".into()),
                input_id: Some(1),
                state: "locked",
                locked: true,
                system: Some("DVB-T2".into()),
                frequency_hz: Some(474_000_000),
                signal_dbm: Some(-61.5),
                signal_pct: None,
                cnr_db: Some(28.25),
                ber: Some(1.5e-7),
                ucb: Some(3),
                bitrate_bps: 24_000_000,
                cc_errors: 2,
                pre_ber: None,
                retunes: Some(1),
                lock_losses: Some(1),
                dvr_overflows: Some(0),
            }],
            inputs: vec![InputFigures {
                id: 1,
                name: "Multiplex R1 \\ Paris".into(),
                url: "dvb-t2://474MHz".into(),
                state: "running",
                bitrate_bps: 24_000_000,
                packets: 1_000_000,
                cc_errors: 2,
                tei_errors: 0,
                crc_errors: 1,
                error: None,
                sync_losses: 0,
                reopens: 0,
            }],
            channels: vec![ChannelFigures {
                number: 2,
                name: "France 2".into(),
                enabled: true,
                status: ChannelStatus::Live,
                bitrate_bps: 4_500_000,
                multicast: Some("udp://@239.255.1.2:5000".into()),
                hls_viewers: 1,
                http_viewers: 2,
                output_error: None,
                packets: 500_000,
                datagrams: 70_000,
                send_errors: 0,
                dropped: 0,
            }],
            rss_bytes: 30 << 20,
        }
    }

    #[test]
    fn the_live_payload_has_the_contracts_fields_and_no_others() {
        let v = serde_json::to_value(sample_frame(1_700_000_000)).unwrap();
        let keys = |o: &serde_json::Value| {
            let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k.join(",")
        };
        assert_eq!(keys(&v), "channels,inputs,rss_bytes,time,tuners,uptime_s");
        assert_eq!(
            keys(&v["tuners"][0]),
            "ber,bitrate_bps,cc_errors,cnr_db,frequency_hz,input_id,key,label,locked,name,\
             signal_dbm,signal_pct,state,system,ucb"
        );
        assert_eq!(
            keys(&v["inputs"][0]),
            "bitrate_bps,cc_errors,crc_errors,error,id,name,packets,state,tei_errors,url"
        );
        assert_eq!(
            keys(&v["channels"][0]),
            "bitrate_bps,enabled,hls_viewers,http_viewers,multicast,name,number,output_error,status"
        );
        assert_eq!(v["time"], 1_700_000_000_000i64);
        assert_eq!(v["channels"][0]["status"], "live");
        assert_eq!(v["tuners"][0]["signal_pct"], serde_json::Value::Null);
        assert_eq!(v["tuners"][0]["system"], "DVB-T2");
    }

    #[test]
    fn cpu_time_counts_fields_after_the_command_name() {
        // A command name with a space and a parenthesis; utime 250, stime 75 ticks.
        let stat = "1234 (mux-a) b) S 1 1234 1234 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0";
        assert_eq!(parse_cpu_seconds(stat, 100), Some(3.25));
        assert_eq!(parse_cpu_seconds(stat, 250), Some(1.3));
        assert_eq!(parse_cpu_seconds("garbage", 100), None);
        assert!(cpu_seconds().is_some());
        assert!(open_fds().is_some_and(|n| n >= 3));
    }

    #[test]
    fn resident_memory_is_read_in_kib() {
        let status = "Name:\tdvbgate\nVmPeak:\t  99 kB\nVmRSS:\t   12345 kB\nThreads: 9\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert_eq!(parse_vm_rss("VmRSS: 12 MB\n"), None);
        assert!(
            resident_bytes() > 0,
            "this test process has resident memory"
        );
    }
}
