//! Scans started from the API: one at a time, on their own thread, their progress kept
//! for `GET /api/v1/scans/{id}` (the web page polls it), the last few kept after they end.

use crate::scan::{ScanContext, ScanRequest, ScanState, ScanStatus, scan, scanned_muxes};
use crate::supervisor::Supervisor;
use crate::tuners::Consumer;
use dvbgate_store::{MergeOptions, MergeReport};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tracing::{info, warn};

/// Finished scans kept for the API.
const KEEP: usize = 8;

/// How a scan's result is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Merge what was found into the configuration (false: report only).
    pub store: bool,
    /// New channels are enabled at once (see `MergeOptions`).
    pub enable_new: bool,
}

/// A scan as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ScanJobView {
    pub id: u64,
    /// Unix seconds.
    pub started: u64,
    pub finished: Option<u64>,
    #[serde(flatten)]
    pub status: ScanStatus,
    /// What the merge into the configuration did, once done.
    pub merge: Option<MergeReport>,
}

struct Job {
    id: u64,
    cancel: AtomicBool,
    view: Mutex<ScanJobView>,
}

#[derive(Default)]
pub(crate) struct ScanJobs {
    next_id: u64,
    jobs: VecDeque<Arc<Job>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartScanError {
    #[error("scan {0} is still running; cancel it or wait for it")]
    Busy(u64),
    #[error("a scan needs at least one tuning")]
    Empty,
    #[error("this box has no usable DVB tuner (see GET /api/v1/tuners)")]
    NoTuner,
    #[error("cannot start the scan thread: {0}")]
    Thread(String),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Supervisor {
    /// Runs a scan on the caller's thread (the CLI), merging into the store when asked.
    pub fn scan_blocking(
        &self,
        request: &ScanRequest,
        options: ScanOptions,
        cancel: &AtomicBool,
        observe: &mut dyn FnMut(&ScanStatus),
    ) -> (
        ScanStatus,
        Result<Option<MergeReport>, dvbgate_store::StoreError>,
    ) {
        self.scan_as(Consumer::Scan(0), request, options, cancel, observe)
    }

    fn scan_as(
        &self,
        consumer: Consumer,
        request: &ScanRequest,
        options: ScanOptions,
        cancel: &AtomicBool,
        observe: &mut dyn FnMut(&ScanStatus),
    ) -> (
        ScanStatus,
        Result<Option<MergeReport>, dvbgate_store::StoreError>,
    ) {
        if let Err(e) = self.refresh_tuners() {
            warn!("cannot read the tuner settings: {e}");
        }
        let running = |t: &dvbgate_tuning::Tuning| self.survey_running(t);
        let ctx = ScanContext {
            tuners: self.tuners(),
            consumer,
            running: &running,
            cancel,
        };
        let status = scan(&ctx, request, observe);
        if !options.store || status.state != ScanState::Finished || status.found.is_empty() {
            return (status, Ok(None));
        }
        let merged = self
            .store()
            .merge_scan(
                &scanned_muxes(&status.found),
                &MergeOptions {
                    enable_new: options.enable_new,
                },
            )
            .map(Some);
        if merged.is_ok()
            && let Err(e) = self.reconcile()
        {
            warn!("after the scan: {e}");
        }
        (status, merged)
    }

    /// Starts a scan on its own thread; returns its id.
    pub fn start_scan(
        self: &Arc<Self>,
        request: ScanRequest,
        options: ScanOptions,
    ) -> Result<u64, StartScanError> {
        if request.initial.is_empty() {
            return Err(StartScanError::Empty);
        }
        if let Err(e) = self.refresh_tuners() {
            warn!("cannot read the tuner settings: {e}");
        }
        if !self.tuners().list().iter().any(|t| t.error.is_none()) {
            return Err(StartScanError::NoTuner);
        }
        let job = {
            let mut jobs = lock(&self.scans);
            if let Some(running) = jobs
                .jobs
                .iter()
                .find(|j| lock(&j.view).status.state == ScanState::Running)
            {
                return Err(StartScanError::Busy(running.id));
            }
            jobs.next_id += 1;
            let id = jobs.next_id;
            let job = Arc::new(Job {
                id,
                cancel: AtomicBool::new(false),
                view: Mutex::new(ScanJobView {
                    id,
                    started: unix_now(),
                    finished: None,
                    status: ScanStatus::starting(),
                    merge: None,
                }),
            });
            jobs.jobs.push_back(Arc::clone(&job));
            while jobs.jobs.len() > KEEP {
                jobs.jobs.pop_front();
            }
            job
        };
        let id = job.id;
        let sup = Arc::clone(self);
        std::thread::Builder::new()
            .name(format!("scan-{id}"))
            .spawn(move || {
                info!(scan = id, muxes = request.initial.len(), "scan started");
                let (status, merged) = sup.scan_as(
                    Consumer::Scan(id),
                    &request,
                    options,
                    &job.cancel,
                    &mut |s| lock(&job.view).status = s.clone(),
                );
                let mut view = lock(&job.view);
                view.status = status;
                view.finished = Some(unix_now());
                match merged {
                    Ok(report) => view.merge = report,
                    Err(e) => {
                        view.status.state = ScanState::Failed;
                        view.status.error = Some(format!("the scan's result could not be stored: {e}"));
                    }
                }
                info!(scan = id, state = ?view.status.state, services = view.status.services(), "scan ended");
            })
            .map_err(|e| StartScanError::Thread(e.to_string()))?;
        Ok(id)
    }

    pub fn scan_views(&self) -> Vec<ScanJobView> {
        lock(&self.scans)
            .jobs
            .iter()
            .map(|j| lock(&j.view).clone())
            .collect()
    }

    pub fn scan_view(&self, id: u64) -> Option<ScanJobView> {
        lock(&self.scans)
            .jobs
            .iter()
            .find(|j| j.id == id)
            .map(|j| lock(&j.view).clone())
    }

    /// Asks a running scan to stop; false if there is no such scan.
    pub fn cancel_scan(&self, id: u64) -> bool {
        match lock(&self.scans).jobs.iter().find(|j| j.id == id) {
            Some(j) => {
                j.cancel.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
