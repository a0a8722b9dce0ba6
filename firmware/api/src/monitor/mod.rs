//! Monitoring. (Skeleton: the monitoring helper fills it in this session.)

use crate::app::AppState;
use std::sync::Arc;

pub struct Monitor {}

impl Monitor {
    pub(crate) fn new() -> Monitor {
        Monitor {}
    }
}

/// The recent log lines the web page shows.
#[derive(Debug)]
pub struct LogBook {}

/// Starts what samples statistics in the background (call inside the runtime).
pub fn start_background(_app: &Arc<AppState>) {}
