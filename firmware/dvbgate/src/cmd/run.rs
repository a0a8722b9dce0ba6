//! `dvbgate run`: the production daemon. Configuration comes from the store; inputs that
//! cannot start are reported and retried, never fatal.

use crate::{daemon, logging};
use anyhow::Context;
use clap::Args;
use dvbgate_control::{Supervisor, SupervisorOptions};
use dvbgate_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::warn;

#[derive(Args)]
pub struct RunArgs {
    /// Directory of the configuration store.
    #[arg(long, default_value = "/var/lib/dvbgate")]
    data: PathBuf,
    /// Address of the HTTP API.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// How often pipeline threads wake, in milliseconds: datagrams due within one tick
    /// leave together. Longer ticks cost less CPU and pace more coarsely.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=20))]
    tick_ms: u64,
    /// What "reboot" on the web page runs.
    #[arg(long, default_value = "/sbin/reboot", value_name = "COMMAND")]
    reboot_command: String,
    #[command(flatten)]
    streaming: super::streaming::StreamingArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let logbook = logging::init();
    let listener = daemon::bind(args.listen)?;
    // The store creates the directory, for its owner only (it holds password hashes).
    let store =
        Arc::new(Store::open(&args.data).with_context(|| {
            format!("cannot open the configuration in {}", args.data.display())
        })?);
    let mut options = SupervisorOptions {
        tick: std::time::Duration::from_millis(args.tick_ms),
        ..SupervisorOptions::default()
    };
    args.streaming.apply(&mut options);
    let supervisor = Supervisor::new(store, options);
    // Tuners first, so tuner inputs start at once instead of at the next retry.
    supervisor.refresh_tuners()?;
    for (_, why) in supervisor.reconcile()? {
        warn!("{why}");
    }
    daemon::run(
        supervisor,
        listener,
        dvbgate_api::AppOptions {
            data_dir: Some(args.data.clone()),
            reboot: dvbgate_api::RebootAction::Command(
                args.reboot_command
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            ),
            logbook: Some(logbook),
        },
    )
}
