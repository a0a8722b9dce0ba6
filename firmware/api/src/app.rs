//! What every handler shares: the supervisor, the administrator's login state, the
//! monitor (live statistics, their last hour, the log), and how the box reboots.

use dvbgate_control::Supervisor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub struct AppState {
    pub supervisor: Arc<Supervisor>,
    pub started: Instant,
    /// The administrator: password, sessions and their CSRF tokens, the first-boot setup
    /// code, the local API token.
    pub admin: crate::auth::Admin,
    /// Live statistics, their last hour, the API's own counters, the log.
    pub monitor: crate::monitor::Monitor,
    pub options: AppOptions,
}

/// How the daemon wants the API to behave.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// The configuration directory: the local API token is written there (`api-token`,
    /// mode 0600) so tools on the box can authenticate. None: not written.
    pub data_dir: Option<PathBuf>,
    /// The log lines the web page shows; the daemon's tracing layer fills it.
    pub logbook: Option<Arc<crate::monitor::LogBook>>,
    pub reboot: RebootAction,
}

/// What "reboot" from the web page does.
#[derive(Clone, Debug, Default)]
pub enum RebootAction {
    /// Run this command (the box: `/sbin/reboot`).
    Command(Vec<String>),
    /// Stop and restart every pipeline, without touching the machine (the demo).
    #[default]
    RestartPipelines,
}

impl AppState {
    pub fn new(supervisor: Arc<Supervisor>, options: AppOptions) -> Arc<AppState> {
        let admin = crate::auth::Admin::new(&supervisor, &options);
        Arc::new(AppState {
            monitor: crate::monitor::Monitor::new(),
            admin,
            supervisor,
            started: Instant::now(),
            options,
        })
    }
}
