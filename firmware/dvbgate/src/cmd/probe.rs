//! `dvbgate probe FILE.ts|udp://…`: what a multiplex carries and how healthy it is. A
//! technician's first check on site (is the feed there, which services, any errors?), and
//! ours for looking at captures.

use clap::Args;
use dvbgate_inputs::InputSink;
use dvbgate_ts::analyze::{Analysis, Analyzer};
use dvbgate_ts::tables::table_id;

#[derive(Args)]
pub struct ProbeArgs {
    /// A transport stream file, or a stream: udp://@239.1.1.1:1234, rtp://…
    target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// How long to listen to a stream, in seconds.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
}

struct Feed<'a>(&'a mut Analyzer);

impl InputSink for Feed<'_> {
    fn data(&mut self, bytes: &[u8]) {
        self.0.push(bytes);
    }
    fn discontinuity(&mut self) {}
}

pub fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let mut analyzer = Analyzer::new();
    let listened =
        super::source::read_target(&args.target, args.duration, &mut Feed(&mut analyzer))?;
    let analysis = analyzer.finish(listened);
    if analysis.packets == 0 {
        anyhow::bail!(
            "{}: not an MPEG transport stream (no packet found)",
            args.target
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&analysis)?);
    } else {
        print!("{}", render(&analysis));
    }
    Ok(())
}

fn hex(v: Option<u16>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:#06x}"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0} ms"))
}

/// The text report.
pub fn render(a: &Analysis) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mbps = a.bitrate_bps.map_or_else(
        || "unknown bitrate".into(),
        |b| format!("{:.2} Mbit/s", b as f64 / 1e6),
    );
    let span = a
        .duration_ms
        .map_or_else(String::new, |d| format!(" over {:.1} s", d / 1000.0));
    let _ = writeln!(
        s,
        "transport stream {} (original network {}), {} packets, {mbps}{span}",
        a.transport_stream_id.map_or("-".into(), |v| v.to_string()),
        a.original_network_id.map_or("-".into(), |v| v.to_string()),
        a.packets
    );
    if let Some(n) = &a.network {
        let _ = writeln!(
            s,
            "network {} {:?}, {}, {} multiplexes",
            n.network_id,
            n.name.as_deref().unwrap_or(""),
            n.delivery_system.unwrap_or("delivery unknown"),
            n.transport_streams
        );
    }
    if let Some(t) = a.utc {
        let _ = writeln!(s, "broadcast clock (TDT/TOT): unix {t}");
    }
    let _ = writeln!(s, "\n{} service(s):", a.services.len());
    for svc in &a.services {
        let kind = svc
            .kind
            .map_or("?".into(), |k| format!("{k:?}").to_lowercase());
        let _ = writeln!(
            s,
            "  service {:>5} {:<24} provider {:<16} {:<5} {}PMT {} PCR {}{}",
            svc.service_id,
            format!("{:?}", svc.name.as_deref().unwrap_or("")),
            svc.provider.as_deref().unwrap_or("-"),
            kind,
            if svc.scrambled { "scrambled, " } else { "" },
            hex(svc.pmt_pid),
            hex(svc.pcr_pid),
            if svc.in_pat {
                ""
            } else {
                " (SDT only, not in the PAT)"
            },
        );
        for es in &svc.streams {
            let _ = writeln!(
                s,
                "      {}  {:<14} {:<10} type {:#04x} {}",
                hex(Some(es.pid)),
                es.codec,
                format!("{:?}", es.kind).to_lowercase(),
                es.stream_type,
                es.languages.join(",")
            );
        }
    }
    let _ = writeln!(s, "\nPIDs:");
    for (pid, p) in &a.pids {
        let rate = p
            .bitrate_bps
            .map_or_else(|| "".into(), |b| format!("{:>9.1} kbit/s", b as f64 / 1e3));
        let pcr = p.pcr.map_or_else(String::new, |c| {
            format!(
                "  PCR {} (max {}, {} jumps)",
                c.count,
                ms(c.max_interval_ms),
                c.jumps
            )
        });
        let _ = writeln!(
            s,
            "  {}  {:>9} packets {rate}  CC errors {}  TEI {}{}{}",
            hex(Some(*pid)),
            p.counters.packets,
            p.counters.cc_errors,
            p.counters.transport_errors,
            if p.counters.scrambled > 0 {
                "  scrambled"
            } else {
                ""
            },
            pcr
        );
    }
    let tables: Vec<String> = a.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    let _ = writeln!(s, "\ntables (sections): {}", tables.join(", "));
    let crc_tables: Vec<String> = (0..=255u8)
        .filter(|t| a.section_errors.crc_by_table[usize::from(*t)] > 0)
        .map(|t| {
            format!(
                "{} {}",
                table_id::name(t),
                a.section_errors.crc_by_table[usize::from(t)]
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "errors: continuity {}, transport {}, CRC {}{}, sync losses {}, bytes skipped {}, truncated {}",
        a.cc_errors,
        a.transport_errors,
        a.section_errors.crc,
        if crc_tables.is_empty() {
            String::new()
        } else {
            format!(" ({})", crc_tables.join(", "))
        },
        a.reader.sync_losses,
        a.reader.skipped_bytes,
        a.reader.truncated_bytes
    );
    let _ = writeln!(
        s,
        "repetition (PCR time): PAT ≤ {}, SDT ≤ {}, EIT ≤ {}",
        ms(a.pat_max_interval_ms),
        ms(a.sdt_max_interval_ms),
        ms(a.eit_max_interval_ms)
    );
    s
}
