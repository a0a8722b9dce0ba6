//! `dvbgate scan`: find the multiplexes and services the box receives, and merge them into
//! the configuration (the technician's edits survive a rescan).
//!
//! ```text
//! dvbgate scan dvb-t/uk-CrystalPalace            # a file of Debian's dtv-scan-tables
//! dvbgate scan ./my-tunings.conf                  # a dvbv5 or legacy tuning file
//! dvbgate scan 'dvb-t://474MHz?bandwidth=8MHz'    # by hand
//! ```
//!
//! One progress bar per frequency on a terminal; one line per multiplex otherwise. While
//! the daemon runs, it holds the tuners and the configuration: scan through its API
//! (`POST /api/v1/scans`) instead.

use anyhow::{Context, bail};
use clap::Args;
use dvbgate_control::scan::{MuxOutcome, MuxResult, SCAN_TABLES, ScanRequest, ScanStatus};
use dvbgate_control::{ScanOptions, Supervisor, SupervisorOptions};
use dvbgate_store::{MergeReport, Store};
use dvbgate_tuning::Tuning;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Args)]
pub struct ScanArgs {
    /// Initial tunings: tuning URLs (dvb-t://474MHz?bandwidth=8MHz), tuning files (dvbv5 or
    /// legacy format), or names of Debian's dtv-scan-tables files (dvb-t/uk-CrystalPalace).
    #[arg(required = true)]
    tunings: Vec<String>,
    /// Directory of the configuration store.
    #[arg(long, default_value = "/var/lib/dvbgate")]
    data: PathBuf,
    /// Only show what was found; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Send the channels made for new services at once (default: they wait for the
    /// technician to enable them).
    #[arg(long)]
    enable: bool,
    /// Scan only the given tunings, not the other multiplexes their NITs name.
    #[arg(long)]
    no_nit: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScanArgs) -> anyhow::Result<()> {
    let _ = crate::logging::init();
    let mut initial = Vec::new();
    for t in &args.tunings {
        initial.extend(initial_tunings(t)?);
    }
    if initial.is_empty() {
        bail!("no tunings to scan in {}", args.tunings.join(", "));
    }

    let store = if args.dry_run {
        // A scratch store: the scan runs the same way and nothing persists.
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path())?;
        (Arc::new(store), Some(dir))
    } else {
        let store = Store::open(&args.data).map_err(|e| {
            if e.to_string().contains("could not acquire lock") {
                anyhow::anyhow!(
                    "the configuration in {} is in use: is the daemon running? It holds the \
                     tuners too; scan through it (POST /api/v1/scans) or stop it first",
                    args.data.display()
                )
            } else {
                anyhow::anyhow!(
                    "cannot open the configuration in {}: {e}",
                    args.data.display()
                )
            }
        })?;
        (Arc::new(store), None)
    };
    let supervisor = Supervisor::new(Arc::clone(&store.0), SupervisorOptions::default());
    supervisor.refresh_tuners()?;
    if !supervisor.tuners().list().iter().any(|t| t.error.is_none()) {
        bail!(
            "no usable DVB tuner under {} (see dvbgate tuners)",
            dvbgate_dvb::DVB_ROOT
        );
    }

    // Ctrl-C ends the process: the kernel releases the tuner, and nothing was stored yet
    // (the merge is one transaction at the end).
    let cancel = AtomicBool::new(false);
    let request = ScanRequest {
        follow_nit: !args.no_nit,
        ..ScanRequest::new(initial)
    };
    let options = ScanOptions {
        store: !args.dry_run,
        enable_new: args.enable,
    };
    let mut view = Progress::new(!args.json);
    let (status, merged) =
        supervisor.scan_blocking(&request, options, &cancel, &mut |s| view.update(s));
    view.finish();
    let merged = merged.context("the scan's result could not be stored")?;

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "scan": status,
                "merge": merged,
            }))?
        );
    } else {
        print_summary(&status, merged.as_ref(), args.dry_run);
    }
    if status.found.is_empty() {
        bail!("{}", nothing_found(&status));
    }
    Ok(())
}

/// Why a scan found nothing, in one line: the one multiplex's reason, or a count of each.
fn nothing_found(status: &ScanStatus) -> String {
    let reason = |m: &MuxOutcome| match &m.result {
        MuxResult::Found => "found".to_string(),
        MuxResult::NoLock(flags) => format!("no lock ({flags})"),
        MuxResult::NoTables => "locked, but no tables came".to_string(),
        MuxResult::Error(e) => e.clone(),
    };
    match status.muxes.as_slice() {
        [] => "no multiplex found: nothing was scanned".to_string(),
        [one] => format!("no multiplex found: {}: {}", one.summary, reason(one)),
        all => {
            let count = |f: fn(&MuxResult) -> bool| all.iter().filter(|m| f(&m.result)).count();
            let no_lock = count(|r| matches!(r, MuxResult::NoLock(_)));
            let no_tables = count(|r| matches!(r, MuxResult::NoTables));
            let failed = count(|r| matches!(r, MuxResult::Error(_)));
            let mut text = format!(
                "no multiplex found among {}: {no_lock} without lock, {no_tables} locked \
                 without tables, {failed} failed",
                all.len()
            );
            if let Some(first) = all.iter().find(|m| matches!(m.result, MuxResult::Error(_))) {
                text.push_str(&format!(
                    " (first failure: {}: {})",
                    first.summary,
                    reason(first)
                ));
            }
            text
        }
    }
}

/// What one argument names: a URL, a file, or a dtv-scan-tables name.
fn initial_tunings(arg: &str) -> anyhow::Result<Vec<Tuning>> {
    if arg.contains("://") {
        return Ok(vec![arg.parse().map_err(|e| anyhow::anyhow!("{e}"))?]);
    }
    let path = Path::new(arg);
    let file = if path.exists() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {arg}"))?;
        dvbgate_tuning::file::parse(&bytes).with_context(|| arg.to_string())?
    } else {
        dvbgate_control::scan::read_tuning_file(Path::new(SCAN_TABLES), arg).map_err(|e| {
            anyhow::anyhow!(
                "{e} (and no file {arg} here; is the dtv-scan-tables package installed?)"
            )
        })?
    };
    for w in &file.warnings {
        eprintln!("dvbgate: {arg}: {w}");
    }
    Ok(file.tunings)
}

/// Bars on a terminal; one line per multiplex otherwise (logs, tests); nothing for JSON.
struct Progress {
    lines: bool,
    bars: Option<MultiProgress>,
    overall: ProgressBar,
    current: Option<(String, ProgressBar)>,
    reported: usize,
}

impl Progress {
    fn new(show: bool) -> Self {
        let terminal = show && std::io::stderr().is_terminal();
        let bars = terminal.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let overall = match &bars {
            Some(b) => b.add(ProgressBar::new(0)),
            None => ProgressBar::hidden(),
        };
        overall.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} multiplexes, {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        overall.set_prefix("scan");
        Progress {
            lines: show && !terminal,
            bars,
            overall,
            current: None,
            reported: 0,
        }
    }

    fn update(&mut self, s: &ScanStatus) {
        self.overall.set_length(s.progress.total_known as u64);
        self.overall.set_position(s.muxes.len() as u64);
        self.overall
            .set_message(format!("{} services", s.services()));
        // Finished multiplexes: their bar ends with the outcome.
        while self.reported < s.muxes.len() {
            let m = &s.muxes[self.reported];
            let line = outcome_line(m);
            match self.current.take() {
                Some((tuning, bar)) if tuning == m.tuning => bar.finish_with_message(line.clone()),
                Some((_, bar)) => bar.finish_and_clear(),
                None => {}
            }
            if self.lines {
                eprintln!("{line}");
            }
            self.reported += 1;
        }
        let (Some(c), Some(bars)) = (&s.current, &self.bars) else {
            return;
        };
        let phase = match c.phase {
            dvbgate_control::scan::Phase::Tuning => "tuning".to_string(),
            dvbgate_control::scan::Phase::Locking => "waiting for lock".to_string(),
            dvbgate_control::scan::Phase::ReadingTables => {
                format!("locked{}, reading tables", signal_text(c.signal.as_ref()))
            }
        };
        if self.current.as_ref().is_none_or(|(t, _)| *t != c.tuning) {
            let bar = bars.insert_before(&self.overall, ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<40} {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            bar.set_prefix(c.summary.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.current = Some((c.tuning.clone(), bar));
        }
        if let Some((_, bar)) = &self.current {
            bar.set_message(match &c.tuner {
                Some(t) => format!("{phase} on {t}"),
                None => phase,
            });
        }
    }

    fn finish(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish_and_clear();
        }
        self.overall.finish();
    }
}

fn signal_text(s: Option<&dvbgate_tuning::signal::SignalReport>) -> String {
    let Some(s) = s else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(v) = s.strength_dbm {
        parts.push(format!("{v:.1} dBm"));
    } else if let Some(v) = s.strength_percent {
        parts.push(format!("signal {v:.0} %"));
    }
    if let Some(v) = s.cnr_db {
        parts.push(format!("C/N {v:.1} dB"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn outcome_line(m: &dvbgate_control::scan::MuxOutcome) -> String {
    let what = match &m.result {
        MuxResult::Found => {
            let mut s = format!(
                "locked{}, {} service{}",
                signal_text(m.signal.as_ref()),
                m.services,
                if m.services == 1 { "" } else { "s" }
            );
            if m.discovered > 0 {
                s.push_str(&format!(", NIT names {} more", m.discovered));
            }
            s
        }
        MuxResult::NoLock(how) => format!("no lock ({how})"),
        MuxResult::NoTables => "locked, but no tables (no PAT)".into(),
        MuxResult::Error(e) => format!("error: {e}"),
    };
    let mark = if m.result == MuxResult::Found {
        "✓"
    } else {
        "✗"
    };
    match &m.tuner {
        Some(t) => format!("{mark} {:<40} {what} [{t}]", m.summary),
        None => format!("{mark} {:<40} {what}", m.summary),
    }
}

fn print_summary(status: &ScanStatus, merged: Option<&MergeReport>, dry_run: bool) {
    println!();
    for mux in &status.found {
        println!(
            "{} — TS {}{}{}",
            mux.tuning.summary(),
            mux.transport_stream_id,
            mux.original_network_id
                .map(|o| format!(", ON {o}"))
                .unwrap_or_default(),
            if mux.network_name.is_empty() {
                String::new()
            } else {
                format!(", network {:?}", mux.network_name)
            }
        );
        for s in &mux.services {
            println!(
                "  {:>5}  {:<28} {:<20} {:<6}{}{}",
                s.service_id,
                if s.name.is_empty() {
                    "(no name)"
                } else {
                    &s.name
                },
                s.provider,
                format!("{:?}", s.kind).to_lowercase(),
                if s.scrambled { " scrambled" } else { "" },
                s.lcn.map(|l| format!(" LCN {l}")).unwrap_or_default(),
            );
        }
    }
    println!(
        "\n{} multiplex{} scanned, {} found, {} services",
        status.muxes.len(),
        if status.muxes.len() == 1 { "" } else { "es" },
        status.found.len(),
        status.services()
    );
    match merged {
        Some(r) => println!(
            "configuration: {} input(s) created, {} updated; {} channel(s) created, {} moved; {} service(s) no longer found; {} skipped (scrambled or data)",
            r.inputs_created.len(),
            r.inputs_updated.len(),
            r.channels_created.len(),
            r.channels_moved.len(),
            r.missing.len(),
            r.skipped.len()
        ),
        None if dry_run => println!("dry run: the configuration was not changed"),
        None => {}
    }
}
