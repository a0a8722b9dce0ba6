//! `GET /metrics`: the Prometheus text exposition format, version 0.0.4.
//!
//! Written by hand: the format is a few lines of rules (a `# HELP` and a `# TYPE` line
//! before each family's samples, label values escaped, samples of a family together),
//! every figure here is read from a [`Frame`] at scrape time rather than kept in a
//! registry, and the Prometheus org's Rust client (`prometheus-client`) writes the
//! OpenMetrics format, not 0.0.4.
//!
//! Names follow the Prometheus conventions: a `dvbgate_` prefix, base units in the
//! name (`_bytes`, `_seconds`), `_total` on counters, `_ratio` for 0–1 values. Bit rates
//! are gauges in bits per second (`..._bitrate_bits_per_second`, the box's own 1-second
//! measurement, as the web page shows it) beside counters of packets, whose `rate()` a
//! dashboard may prefer. Signal strength keeps the unit receivers use (`_dbm`), and C/N
//! its decibels (`_db`). Counters of a pipeline start again from zero when its input
//! restarts; Prometheus' `rate()` and `increase()` handle such resets.
//!
//! | family | labels |
//! |---|---|
//! | `dvbgate_build_info`, `process_start_time_seconds`, `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds` | `version` (build info) |
//! | `dvbgate_tuner_info` | `tuner`, `name`, `label` |
//! | `dvbgate_tuner_locked`, `_signal_strength_dbm`, `_signal_strength_ratio`, `_carrier_to_noise_db`, `_uncorrected_blocks_total`, `_retunes_total`, `_lock_losses_total`, `_dvr_overflows_total` | `tuner` |
//! | `dvbgate_tuner_bit_error_ratio` | `tuner`, `stage` (`pre`, `post`) |
//! | `dvbgate_input_up`, `_bitrate_bits_per_second`, `_packets_total`, `_cc_errors_total`, `_transport_errors_total`, `_crc_errors_total`, `_sync_losses_total`, `_reopens_total` | `input` (id), `name` |
//! | `dvbgate_channel_up`, `_bitrate_bits_per_second`, `_packets_total`, `_hls_viewers`, `_http_viewers`; `dvbgate_output_datagrams_total`, `_send_errors_total`, `_dropped_datagrams_total` | `channel` (number), `name` |
//! | `dvbgate_xc_logins_total` | `outcome`: `ok`, `unknown_user`, `wrong_password`, `malformed`, `missing_credentials`, `throttled`, `inactive` |
//! | `dvbgate_admin_logins_total` | `outcome`: `ok`, `failed` |
//! | `dvbgate_epg_events`, `dvbgate_epg_services` | `guide`: `broadcast`, `imported` |
//! | `dvbgate_epg_sections_total`, `_dropped_sections_total`, `_bad_sections_total` | |

use super::frame::Frame;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

/// A metric value: integers are written exactly (a u64 counter past 2^53 would lose
/// digits as a float).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(v as u64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

/// Builds an exposition text.
#[derive(Default)]
pub(crate) struct Exposition {
    out: String,
    /// Families written so far: a name must not appear twice.
    #[cfg(debug_assertions)]
    names: std::collections::HashSet<String>,
}

/// `\` and newline escaped, as HELP text wants.
fn escape_help(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `\`, `"` and newline escaped, as label values want.
pub(crate) fn escape_label(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl Exposition {
    /// Starts a family: its HELP and TYPE lines. A counter's name must end in `_total`.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        debug_assert!(valid_name(name), "metric name {name}");
        debug_assert_eq!(
            kind == Kind::Counter,
            name.ends_with("_total"),
            "{name}: counters, and only they, end in _total"
        );
        #[cfg(debug_assertions)]
        debug_assert!(self.names.insert(name.to_owned()), "{name} written twice");
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(help, &mut self.out);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push_str(match kind {
            Kind::Counter => " counter\n",
            Kind::Gauge => " gauge\n",
        });
        self
    }

    /// One sample of the family just started.
    pub(crate) fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                debug_assert!(valid_name(k), "label name {k}");
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label(v, &mut self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value.into() {
            Value::Int(v) => {
                let _ = write!(self.out, "{v}");
            }
            Value::Float(v) if v.is_nan() => self.out.push_str("NaN"),
            Value::Float(v) if v.is_infinite() => {
                self.out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" })
            }
            Value::Float(v) => {
                let _ = write!(self.out, "{v}");
            }
        }
        self.out.push('\n');
        self
    }

    /// A family with one sample per item that has a value.
    pub(crate) fn each<T, V: Into<Value>>(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        items: &[T],
        labels: impl Fn(&T) -> Vec<(&'static str, String)>,
        value: impl Fn(&T) -> Option<V>,
    ) -> &mut Self {
        self.family(name, kind, help);
        for item in items {
            if let Some(v) = value(item) {
                let owned = labels(item);
                let borrowed: Vec<(&str, &str)> =
                    owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
                self.sample(name, &borrowed, v);
            }
        }
        self
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Figures kept by the API itself and the guide, for [`render`].
pub(crate) struct Counters {
    /// (outcome, count) of XC logins.
    pub xc_logins: Vec<(&'static str, u64)>,
    /// (outcome, count) of administrator logins.
    pub admin_logins: Vec<(&'static str, u64)>,
    pub epg: Option<dvbgate_control::EpgServiceStats>,
    /// Unix seconds.
    pub start_time: f64,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub version: &'static str,
}

/// The whole `/metrics` text for `frame` and `counters`.
pub(crate) fn render(frame: &Frame, counters: &Counters) -> String {
    use Kind::{Counter, Gauge};
    let mut e = Exposition::default();
    e.family(
        "dvbgate_build_info",
        Gauge,
        "The running dvbgate's version (always 1).",
    )
    .sample("dvbgate_build_info", &[("version", counters.version)], 1u64);
    e.family(
        "process_start_time_seconds",
        Gauge,
        "When the daemon started, in unix seconds.",
    )
    .sample("process_start_time_seconds", &[], counters.start_time);
    e.family(
        "process_resident_memory_bytes",
        Gauge,
        "Resident memory of the daemon, in bytes.",
    )
    .sample("process_resident_memory_bytes", &[], frame.rss_bytes);
    if let Some(cpu) = counters.cpu_seconds {
        e.family(
            "process_cpu_seconds_total",
            Counter,
            "CPU time the daemon used, user and system, in seconds.",
        )
        .sample("process_cpu_seconds_total", &[], cpu);
    }
    if let Some(fds) = counters.open_fds {
        e.family(
            "process_open_fds",
            Gauge,
            "File descriptors the daemon has open.",
        )
        .sample("process_open_fds", &[], fds);
    }

    // Tuners.
    let tuner = |t: &super::frame::TunerFigures| vec![("tuner", t.key.clone())];
    let tuners = &frame.tuners;
    e.family(
        "dvbgate_tuner_info",
        Gauge,
        "Each tuner of the box, with its driver's name and the technician's label (always 1).",
    );
    for t in tuners {
        e.sample(
            "dvbgate_tuner_info",
            &[
                ("tuner", &t.key),
                ("name", t.name.as_deref().unwrap_or("")),
                ("label", t.label.as_deref().unwrap_or("")),
            ],
            1u64,
        );
    }
    e.each(
        "dvbgate_tuner_locked",
        Gauge,
        "1 while the tuner is locked to its multiplex.",
        tuners,
        tuner,
        |t| Some(t.locked),
    );
    e.each(
        "dvbgate_tuner_signal_strength_dbm",
        Gauge,
        "Signal strength at the tuner, in dBm (drivers that measure in dB).",
        tuners,
        tuner,
        |t| t.signal_dbm,
    );
    e.each(
        "dvbgate_tuner_signal_strength_ratio",
        Gauge,
        "Relative signal strength, 0 to 1 (drivers that give no dBm).",
        tuners,
        tuner,
        |t| t.signal_pct.map(|p| p / 100.0),
    );
    e.each(
        "dvbgate_tuner_carrier_to_noise_db",
        Gauge,
        "Carrier-to-noise ratio (C/N), in dB.",
        tuners,
        tuner,
        |t| t.cnr_db,
    );
    e.family(
        "dvbgate_tuner_bit_error_ratio",
        Gauge,
        "Bit error ratio over the last interval: stage=\"pre\" before the inner code \
         (Viterbi/LDPC), stage=\"post\" after it.",
    );
    for t in tuners {
        for (stage, v) in [("pre", t.pre_ber), ("post", t.ber)] {
            if let Some(v) = v {
                e.sample(
                    "dvbgate_tuner_bit_error_ratio",
                    &[("tuner", &t.key), ("stage", stage)],
                    v,
                );
            }
        }
    }
    e.each(
        "dvbgate_tuner_uncorrected_blocks_total",
        Counter,
        "Blocks the outer code could not correct since the tuner was last tuned (UCB).",
        tuners,
        tuner,
        |t| t.ucb,
    );
    e.each(
        "dvbgate_tuner_retunes_total",
        Counter,
        "Times the tuner was tuned again after its first tune.",
        tuners,
        tuner,
        |t| t.retunes,
    );
    e.each(
        "dvbgate_tuner_lock_losses_total",
        Counter,
        "Times the tuner lost its lock.",
        tuners,
        tuner,
        |t| t.lock_losses,
    );
    e.each(
        "dvbgate_tuner_dvr_overflows_total",
        Counter,
        "Times the kernel's DVR buffer overflowed (packets lost before dvbgate read them).",
        tuners,
        tuner,
        |t| t.dvr_overflows,
    );

    // Inputs.
    let input = |i: &super::frame::InputFigures| {
        vec![("input", i.id.to_string()), ("name", i.name.clone())]
    };
    let inputs = &frame.inputs;
    e.each(
        "dvbgate_input_up",
        Gauge,
        "1 while the input delivers a transport stream.",
        inputs,
        input,
        |i| Some(i.state == "running"),
    );
    e.each(
        "dvbgate_input_bitrate_bits_per_second",
        Gauge,
        "The input's bit rate over the last second, in bits per second.",
        inputs,
        input,
        |i| Some(i.bitrate_bps),
    );
    e.each(
        "dvbgate_input_packets_total",
        Counter,
        "Transport stream packets received (188 bytes each).",
        inputs,
        input,
        |i| Some(i.packets),
    );
    e.each(
        "dvbgate_input_cc_errors_total",
        Counter,
        "Continuity counter errors: packets lost before dvbgate.",
        inputs,
        input,
        |i| Some(i.cc_errors),
    );
    e.each(
        "dvbgate_input_transport_errors_total",
        Counter,
        "Packets with the transport error indicator (TEI) set: the demodulator could not correct them.",
        inputs,
        input,
        |i| Some(i.tei_errors),
    );
    e.each(
        "dvbgate_input_crc_errors_total",
        Counter,
        "PSI/SI sections with a wrong CRC.",
        inputs,
        input,
        |i| Some(i.crc_errors),
    );
    e.each(
        "dvbgate_input_sync_losses_total",
        Counter,
        "Times the packet sync was lost.",
        inputs,
        input,
        |i| Some(i.sync_losses),
    );
    e.each(
        "dvbgate_input_reopens_total",
        Counter,
        "Times the input was opened again after it failed.",
        inputs,
        input,
        |i| Some(i.reopens),
    );

    // Channels and their outputs.
    let channel = |c: &super::frame::ChannelFigures| {
        vec![("channel", c.number.to_string()), ("name", c.name.clone())]
    };
    let channels = &frame.channels;
    e.each(
        "dvbgate_channel_up",
        Gauge,
        "1 while the channel is live (on air and sent).",
        channels,
        channel,
        |c| Some(c.status == dvbgate_control::ChannelStatus::Live),
    );
    e.each(
        "dvbgate_channel_bitrate_bits_per_second",
        Gauge,
        "The channel's bit rate after remuxing, over the last second, in bits per second.",
        channels,
        channel,
        |c| Some(c.bitrate_bps),
    );
    e.each(
        "dvbgate_channel_packets_total",
        Counter,
        "Transport stream packets of the channel's remuxed stream.",
        channels,
        channel,
        |c| Some(c.packets),
    );
    e.each(
        "dvbgate_output_datagrams_total",
        Counter,
        "Datagrams sent to the channel's multicast output.",
        channels,
        channel,
        |c| Some(c.datagrams),
    );
    e.each(
        "dvbgate_output_send_errors_total",
        Counter,
        "Datagrams the kernel refused to send.",
        channels,
        channel,
        |c| Some(c.send_errors),
    );
    e.each(
        "dvbgate_output_dropped_datagrams_total",
        Counter,
        "Datagrams dropped because the output's queue was full.",
        channels,
        channel,
        |c| Some(c.dropped),
    );
    e.each(
        "dvbgate_channel_hls_viewers",
        Gauge,
        "Client addresses that fetched the channel's HLS playlist or segments recently.",
        channels,
        channel,
        |c| Some(c.hls_viewers),
    );
    e.each(
        "dvbgate_channel_http_viewers",
        Gauge,
        "HTTP TS clients connected to the channel.",
        channels,
        channel,
        |c| Some(c.http_viewers),
    );

    // The API's own.
    e.family(
        "dvbgate_xc_logins_total",
        Counter,
        "Xtream-Codes logins checked, by outcome (ok, or why not).",
    );
    for (outcome, n) in &counters.xc_logins {
        e.sample("dvbgate_xc_logins_total", &[("outcome", outcome)], *n);
    }
    e.family(
        "dvbgate_admin_logins_total",
        Counter,
        "Administrator logins, by outcome.",
    );
    for (outcome, n) in &counters.admin_logins {
        e.sample("dvbgate_admin_logins_total", &[("outcome", outcome)], *n);
    }

    // The programme guide.
    if let Some(epg) = &counters.epg {
        let guides = [("broadcast", &epg.broadcast), ("imported", &epg.imported)];
        e.family(
            "dvbgate_epg_events",
            Gauge,
            "Programme guide events held, by guide (broadcast EIT or imported XMLTV).",
        );
        for (guide, g) in guides {
            e.sample("dvbgate_epg_events", &[("guide", guide)], g.events);
        }
        e.family(
            "dvbgate_epg_services",
            Gauge,
            "Services with guide events, by guide.",
        );
        for (guide, g) in guides {
            e.sample("dvbgate_epg_services", &[("guide", guide)], g.services);
        }
        e.family(
            "dvbgate_epg_sections_total",
            Counter,
            "EIT sections decoded.",
        )
        .sample("dvbgate_epg_sections_total", &[], epg.sections);
        e.family(
            "dvbgate_epg_dropped_sections_total",
            Counter,
            "EIT sections dropped because the guide's collector was behind.",
        )
        .sample(
            "dvbgate_epg_dropped_sections_total",
            &[],
            epg.dropped_sections,
        );
        e.family(
            "dvbgate_epg_bad_sections_total",
            Counter,
            "Sections that were not valid EIT.",
        )
        .sample("dvbgate_epg_bad_sections_total", &[], epg.bad_sections);
    }
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::frame::tests::sample_frame;

    fn counters() -> Counters {
        Counters {
            xc_logins: vec![("ok", 7), ("wrong_password", 2)],
            admin_logins: vec![("ok", 1), ("failed", 0)],
            epg: None,
            start_time: 1_700_000_000.5,
            cpu_seconds: Some(3.25),
            open_fds: Some(17),
            version: "0.1.0",
        }
    }

    /// Each family: its HELP and TYPE lines, then its samples, and no family twice.
    fn families(text: &str) -> Vec<(String, String, Vec<String>)> {
        let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(help) = lines.next() {
            let name = help
                .strip_prefix("# HELP ")
                .and_then(|h| h.split(' ').next())
                .unwrap_or_else(|| panic!("expected HELP, got {help:?}"));
            let ty = lines.next().unwrap();
            let kind = ty
                .strip_prefix(&format!("# TYPE {name} "))
                .unwrap_or_else(|| panic!("TYPE of {name}: {ty:?}"));
            let mut samples = Vec::new();
            while let Some(l) = lines.peek().filter(|l| !l.starts_with('#')) {
                assert!(
                    l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")),
                    "sample {l:?} in family {name}"
                );
                samples.push(lines.next().unwrap().to_owned());
            }
            assert!(!out.iter().any(|f| f.0 == name), "{name} twice");
            out.push((name.to_owned(), kind.to_owned(), samples));
        }
        out
    }

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let text = render(&sample_frame(1_700_000_000), &counters());
        assert!(text.ends_with('\n'));
        let fams = families(&text);
        assert!(fams.len() > 25, "{}", fams.len());
        for (name, kind, _) in &fams {
            match kind.as_str() {
                "counter" => assert!(name.ends_with("_total"), "{name}"),
                "gauge" => assert!(!name.ends_with("_total"), "{name}"),
                other => panic!("{name}: type {other}"),
            }
            assert!(name.starts_with("dvbgate_") || name.starts_with("process_"));
        }
        let find = |n: &str| {
            fams.iter()
                .find(|f| f.0 == n)
                .unwrap_or_else(|| panic!("{n} missing"))
                .2
                .clone()
        };
        assert_eq!(
            find("dvbgate_channel_bitrate_bits_per_second"),
            ["dvbgate_channel_bitrate_bits_per_second{channel=\"2\",name=\"France 2\"} 4500000"]
        );
        assert_eq!(
            find("dvbgate_tuner_signal_strength_dbm"),
            ["dvbgate_tuner_signal_strength_dbm{tuner=\"adapter0/frontend0\"} -61.5"]
        );
        // A tuner without a relative strength has no sample rather than a made-up one.
        assert!(find("dvbgate_tuner_signal_strength_ratio").is_empty());
        assert_eq!(
            find("dvbgate_tuner_bit_error_ratio"),
            [
                "dvbgate_tuner_bit_error_ratio{tuner=\"adapter0/frontend0\",stage=\"post\"} 0.00000015"
            ]
        );
        assert_eq!(
            find("dvbgate_xc_logins_total"),
            [
                "dvbgate_xc_logins_total{outcome=\"ok\"} 7",
                "dvbgate_xc_logins_total{outcome=\"wrong_password\"} 2"
            ]
        );
        assert_eq!(
            find("process_start_time_seconds"),
            ["process_start_time_seconds 1700000000.5"]
        );
        assert_eq!(
            find("process_cpu_seconds_total"),
            ["process_cpu_seconds_total 3.25"]
        );
        assert_eq!(find("process_open_fds"), ["process_open_fds 17"]);
        assert_eq!(
            find("process_resident_memory_bytes"),
            [format!("process_resident_memory_bytes {}", 30u64 << 20)]
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let text = render(&sample_frame(1_700_000_000), &counters());
        // The label is `roof "UHF"` newline `mast`, the input's name has a backslash.
        assert!(
            text.contains(r#"label="roof \"UHF\"\nmast""#),
            "{}",
            text.lines().find(|l| l.contains("label=")).unwrap()
        );
        assert!(text.contains(r#"name="Multiplex R1 \\ Paris""#));
        let mut e = Exposition::default();
        e.family("x_total", Kind::Counter, "a \\ b\nc \"quoted\"")
            .sample("x_total", &[("l", "\\\"\n")], 1.0f64)
            .sample("x_total", &[], f64::NAN)
            .sample("x_total", &[], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP x_total a \\\\ b\\nc \"quoted\"\n# TYPE x_total counter\n\
             x_total{l=\"\\\\\\\"\\n\"} 1\nx_total NaN\nx_total +Inf\n"
        );
    }

    #[test]
    fn the_guide_figures_appear_when_known() {
        let mut c = counters();
        assert!(!render(&sample_frame(0), &c).contains("dvbgate_epg_events"));
        c.epg = Some(dvbgate_control::EpgServiceStats {
            broadcast: dvbgate_control::epg::GuideStats {
                services: 3,
                events: 120,
                bytes: 9000,
            },
            imported: dvbgate_control::epg::GuideStats {
                services: 0,
                events: 0,
                bytes: 0,
            },
            sections: 50,
            dropped_sections: 1,
            bad_sections: 0,
            channels: 3,
        });
        let text = render(&sample_frame(0), &c);
        assert!(text.contains("dvbgate_epg_events{guide=\"broadcast\"} 120\n"));
        assert!(text.contains("dvbgate_epg_sections_total 50\n"));
    }

    #[test]
    #[should_panic(expected = "end in _total")]
    #[cfg(debug_assertions)]
    fn a_counter_without_total_is_a_bug() {
        Exposition::default().family("dvbgate_things", Kind::Counter, "x");
    }
}
