//! `dvbgate epg FILE.ts|udp://…`: the programme guide a multiplex carries, decoded. A
//! technician's check of what the broadcaster sends (is there a schedule, for which
//! services, is the text readable?), and ours for checking charsets.
//!
//! Times are printed as broadcast (UTC), never shifted: this is what the multiplex says.

use anyhow::bail;
use clap::Args;
use dvbgate_epg::{Epg, EpgLimits, Event, IngestOptions, ServiceKey};
use dvbgate_inputs::InputSink;
use dvbgate_ts::monitor::{EitInterest, MuxMonitor};
use dvbgate_ts::packet::pids;
use dvbgate_ts::reader::PacketReader;
use dvbgate_ts::section::Section;
use dvbgate_ts::tables::time;
use dvbgate_ts::text::Charset;
use serde::Serialize;
use std::sync::mpsc;

#[derive(Args)]
pub struct EpgArgs {
    /// A transport stream file, or a stream: udp://@239.1.1.1:1234, rtp://…
    target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// How long to listen to a stream, in seconds (a full schedule cycle can take 30 s).
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Read text without a character-table selector with this table instead of ISO 6937:
    /// iso6937, iso8859-1 … iso8859-15, utf8, ucs2.
    #[arg(long, value_name = "TABLE", value_parser = parse_charset)]
    charset: Option<Charset>,
    /// Use --charset even where the broadcaster's text names another table.
    #[arg(long, requires = "charset")]
    force_charset: bool,
    /// Only this service id.
    #[arg(long)]
    service: Option<u16>,
}

fn parse_charset(s: &str) -> Result<Charset, String> {
    let lower = s.to_ascii_lowercase().replace(['_', ' '], "-");
    let charset = match lower.as_str() {
        "iso6937" | "iso-6937" | "default" => Charset::Iso6937,
        "utf8" | "utf-8" => Charset::Utf8,
        "ucs2" | "ucs-2" => Charset::Ucs2,
        other => {
            let part = other
                .strip_prefix("iso8859-")
                .or_else(|| other.strip_prefix("iso-8859-"))
                .or_else(|| other.strip_prefix("latin").map(|_| "1"))
                .and_then(|p| p.parse::<u8>().ok())
                .ok_or_else(|| format!("unknown character table {s:?}"))?;
            Charset::Iso8859(part)
        }
    };
    if !charset.is_valid() {
        return Err(format!("{s:?} is not an ISO 8859 part that exists"));
    }
    Ok(charset)
}

/// One event as printed.
#[derive(Serialize)]
struct EventOut<'a> {
    original_network_id: u16,
    transport_stream_id: u16,
    service_id: u16,
    service_name: Option<&'a str>,
    event_id: u16,
    /// Unix seconds, UTC.
    start: i64,
    /// "2026-11-21 20:45:00 UTC".
    start_utc: String,
    duration: u32,
    title: &'a str,
    short_text: &'a str,
    description: &'a str,
    language: &'a str,
    genres: Vec<&'static str>,
    running_status: u8,
}

#[derive(Serialize)]
struct Report<'a> {
    /// The broadcast clock (TDT/TOT), Unix seconds, when the multiplex sent one.
    broadcast_time: Option<i64>,
    sections: u64,
    services: usize,
    events: Vec<EventOut<'a>>,
}

struct Feed<'a> {
    reader: &'a mut PacketReader,
    monitor: &'a mut MuxMonitor,
}

impl InputSink for Feed<'_> {
    fn data(&mut self, bytes: &[u8]) {
        let monitor = &mut *self.monitor;
        self.reader.push(bytes, &mut |p| {
            monitor.on_packet(p, &mut |_, _| {});
        });
    }
    fn discontinuity(&mut self) {}
}

pub fn run(args: EpgArgs) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<(u16, Box<[u8]>)>();
    let mut monitor = MuxMonitor::new(EitInterest::All);
    monitor.set_section_sink(Some(Box::new(move |pid, section: &Section<'_>| {
        let _ = tx.send((pid, section.bytes().into()));
    })));
    let mut reader = PacketReader::new();
    let mut feed = Feed {
        reader: &mut reader,
        monitor: &mut monitor,
    };
    super::source::read_target(&args.target, args.duration, &mut feed)?;
    if monitor.pids.totals().packets == 0 {
        bail!(
            "{}: not an MPEG transport stream (no packet found)",
            args.target
        );
    }

    // Nothing is dropped for being old: this shows what the multiplex carries.
    let limits = EpgLimits {
        ahead_seconds: i64::MAX / 4,
        behind_seconds: i64::MAX / 4,
        ..EpgLimits::default()
    };
    let mut guide = Epg::new(limits);
    let options = IngestOptions {
        charset: args.charset.map(|c| (c, args.force_charset)),
        time_offset: 0,
    };
    let mut broadcast_time = None;
    let mut sections = 0u64;
    let mut eit_sections = Vec::new();
    for (pid, bytes) in rx.try_iter() {
        let Ok(section) = Section::new(&bytes) else {
            continue;
        };
        if pid == pids::TDT {
            if broadcast_time.is_none() {
                broadcast_time = time::parse_utc(&section).ok();
            }
        } else {
            eit_sections.push(bytes);
        }
    }
    // Events are kept relative to "now": the multiplex's own clock, else the latest event.
    let now = broadcast_time.unwrap_or(0);
    for bytes in &eit_sections {
        if let Ok(section) = Section::new(bytes) {
            sections += 1;
            let _ = guide.ingest(&section, &options, now);
        }
    }

    let names: std::collections::HashMap<u16, String> = monitor
        .model
        .service_ids()
        .into_iter()
        .filter_map(|id| Some((id, monitor.model.sdt(id)?.name.clone())))
        .collect();
    let mut keys: Vec<ServiceKey> = guide.services();
    keys.sort();
    keys.retain(|k| args.service.is_none_or(|s| s == k.service_id));
    let mut events = Vec::new();
    for key in &keys {
        for e in guide.events(key) {
            events.push(event_out(
                key,
                names.get(&key.service_id).map(String::as_str),
                e,
            ));
        }
    }
    let report = Report {
        broadcast_time,
        sections,
        services: keys.len(),
        events,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if report.events.is_empty() {
        eprintln!(
            "dvbgate: {}: no programme guide (EIT) events found",
            args.target
        );
    }
    Ok(())
}

fn event_out<'a>(key: &ServiceKey, service_name: Option<&'a str>, e: &'a Event) -> EventOut<'a> {
    EventOut {
        original_network_id: key.original_network_id,
        transport_stream_id: key.transport_stream_id,
        service_id: key.service_id,
        service_name,
        event_id: e.event_id,
        start: e.start,
        start_utc: utc(e.start),
        duration: e.duration,
        title: &e.title,
        short_text: &e.short_text,
        description: &e.description,
        language: &e.language,
        genres: e
            .genres
            .iter()
            .filter_map(|g| dvbgate_epg::event::genre_name(*g))
            .collect(),
        running_status: e.running_status,
    }
}

/// "2026-11-21 20:45:00 UTC" (civil date from Unix days, proleptic Gregorian).
fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn render(r: &Report<'_>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if let Some(t) = r.broadcast_time {
        let _ = writeln!(s, "broadcast clock (TDT/TOT): {}", utc(t));
    }
    let _ = writeln!(
        s,
        "{} EIT section(s), {} service(s), {} event(s)",
        r.sections,
        r.services,
        r.events.len()
    );
    let mut last = None;
    for e in &r.events {
        let key = (e.original_network_id, e.transport_stream_id, e.service_id);
        if last != Some(key) {
            last = Some(key);
            let _ = writeln!(
                s,
                "\nservice {} {} (network {:#06x}, transport stream {})",
                e.service_id,
                e.service_name.map(|n| format!("{n:?}")).unwrap_or_default(),
                e.original_network_id,
                e.transport_stream_id
            );
        }
        let _ = writeln!(
            s,
            "  {:>5}  {}  {:>3} min  {}{}{}",
            e.event_id,
            &e.start_utc[..16],
            e.duration / 60,
            e.title,
            if e.short_text.is_empty() {
                String::new()
            } else {
                format!(" — {}", e.short_text)
            },
            if e.genres.is_empty() {
                String::new()
            } else {
                format!("  [{}]", e.genres.join(", "))
            }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_236_340), "2026-11-21 04:45:40 UTC");
    }

    #[test]
    fn charset_names() {
        assert_eq!(parse_charset("ISO-8859-9"), Ok(Charset::Iso8859(9)));
        assert_eq!(parse_charset("iso6937"), Ok(Charset::Iso6937));
        assert_eq!(parse_charset("utf-8"), Ok(Charset::Utf8));
        assert!(parse_charset("iso8859-12").is_err());
        assert!(parse_charset("klingon").is_err());
    }
}
