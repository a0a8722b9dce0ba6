//! The administrator's login. (Skeleton: the auth helper fills it in this session.)

use crate::app::AppOptions;
use dvbgate_control::Supervisor;
use std::sync::Arc;

pub struct Admin {}

impl Admin {
    pub(crate) fn new(_supervisor: &Arc<Supervisor>, _options: &AppOptions) -> Admin {
        Admin {}
    }
}
