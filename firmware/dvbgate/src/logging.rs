//! Logs go to stderr (journald picks them up on the box); `DVBGATE_LOG` sets the filter,
//! e.g. `DVBGATE_LOG=debug` or `DVBGATE_LOG=dvbgate_pipeline=debug,info`.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("DVBGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
