//! `dvbgate tuners`: the DVB tuners this box has, what each receives, and whether it can
//! be used. The installer's first check after plugging in a tuner.

use clap::Args;
use dvbgate_control::tuners::{TunerInfo, TunerManager};
use std::collections::BTreeMap;

#[derive(Args)]
pub struct TunersArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Where DVB adapters appear.
    #[arg(long, default_value = dvbgate_dvb::DVB_ROOT, hide = true)]
    root: std::path::PathBuf,
}

pub fn run(args: TunersArgs) -> anyhow::Result<()> {
    let manager = TunerManager::new(&args.root);
    manager.refresh(&BTreeMap::new());
    let tuners = manager.list();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tuners)?);
        return Ok(());
    }
    if tuners.is_empty() {
        anyhow::bail!(
            "no DVB tuner found under {} (is the adapter plugged in and its driver loaded? see dmesg)",
            args.root.display()
        );
    }
    for t in &tuners {
        println!("{}", describe(t));
    }
    Ok(())
}

fn describe(t: &TunerInfo) -> String {
    if let Some(e) = &t.error {
        return format!("{}: cannot be used: {e}", t.key);
    }
    let systems: Vec<String> = t.systems.iter().map(|s| s.to_string()).collect();
    let range = match (t.frequency_min_hz, t.frequency_max_hz) {
        (Some(lo), Some(hi)) if hi > 0 => format!(
            ", {:.0}–{:.0} MHz{}",
            lo as f64 / 1e6,
            hi as f64 / 1e6,
            if t.systems.iter().all(|s| s.is_satellite()) {
                " (intermediate frequency)"
            } else {
                ""
            }
        ),
        _ => String::new(),
    };
    format!(
        "{}: {} — {}{}",
        t.key,
        t.name.as_deref().unwrap_or("?"),
        systems.join(", "),
        range
    )
}
