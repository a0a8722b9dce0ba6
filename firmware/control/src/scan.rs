//! Scanning: from initial tunings (a dtv-scan-tables file, or tunings typed by hand) to
//! the multiplexes and services the box can receive, following each NIT to the network's
//! other multiplexes.
//!
//! For each multiplex: a tuner is leased from the [`TunerManager`] (priority `Scan`: it
//! may take a tuner from on-demand viewers, never from the TVs' multicast), tuned, and
//! given until the lock timeout to lock; then only the table PIDs are filtered (PAT, CAT,
//! NIT, SDT/BAT, and each PMT as the PAT names it) and read until the tables are in or
//! waited for (`dvbgate_tuning::scan::MuxWait`). A multiplex a running pipeline already
//! receives is answered from that pipeline's tables, without a second tuner.
//!
//! Progress goes to an observer after every step: the CLI draws bars from it, the API
//! keeps it for `GET /api/v1/scans/{id}`. A scan runs on the caller's thread.

use crate::tuners::{Consumer, TunerManager};
use dvbgate_dvb::{Dvr, DvrRead, Frontend, PidFilters, PidSelection};
use dvbgate_pipeline::Survey;
use dvbgate_ts::monitor::{EitInterest, MuxMonitor};
use dvbgate_ts::packet::pids;
use dvbgate_ts::reader::PacketReader;
use dvbgate_tuning::Tuning;
use dvbgate_tuning::allocate::Priority;
use dvbgate_tuning::lock::LockPolicy;
use dvbgate_tuning::scan::{
    MuxFound, MuxWait, ScanProgress, ScanQueue, ScanTimeouts, WaitVerdict, mux_found,
    tunings_from_nit,
};
use dvbgate_tuning::signal::{LockFlags, SignalReport, SignalTracker};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanRequest {
    pub initial: Vec<Tuning>,
    /// Scan the multiplexes the NITs name, too.
    pub follow_nit: bool,
    pub timeouts: ScanTimeouts,
}

impl ScanRequest {
    pub fn new(initial: Vec<Tuning>) -> Self {
        ScanRequest {
            initial,
            follow_nit: true,
            timeouts: ScanTimeouts::default(),
        }
    }
}

/// Where a scan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    Running,
    Finished,
    Cancelled,
    Failed,
}

/// What is being done to the current multiplex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for a tuner, or setting it up.
    Tuning,
    /// Tuned, waiting for the lock.
    Locking,
    /// Locked, reading the tables.
    ReadingTables,
}

#[derive(Clone, Debug, Serialize)]
pub struct CurrentMux {
    /// URL form.
    pub tuning: String,
    pub summary: String,
    pub phase: Phase,
    pub tuner: Option<String>,
    pub signal: Option<SignalReport>,
}

/// How one multiplex went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "detail")]
pub enum MuxResult {
    /// Tables read; services found.
    Found,
    /// The tuner did not lock; the flags say how far it got (signal, carrier…).
    NoLock(String),
    /// Locked, but no PAT came: nothing to scan.
    NoTables,
    /// No tuner, or the tuner failed; the message says why.
    Error(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct MuxOutcome {
    pub tuning: String,
    pub summary: String,
    pub tuner: Option<String>,
    #[serde(flatten)]
    pub result: MuxResult,
    pub signal: Option<SignalReport>,
    pub services: usize,
    /// Multiplexes its NIT named that were new to the scan.
    pub discovered: usize,
    pub elapsed_ms: u64,
}

/// A scan's state, as the CLI shows it and the API returns it.
#[derive(Clone, Debug, Serialize)]
pub struct ScanStatus {
    pub state: ScanState,
    pub progress: ScanProgress,
    pub current: Option<CurrentMux>,
    pub muxes: Vec<MuxOutcome>,
    /// What was found, multiplex by multiplex.
    pub found: Vec<MuxFound>,
    pub error: Option<String>,
}

impl ScanStatus {
    pub(crate) fn starting() -> Self {
        Self::new()
    }

    fn new() -> Self {
        ScanStatus {
            state: ScanState::Running,
            progress: ScanProgress::default(),
            current: None,
            muxes: Vec::new(),
            found: Vec::new(),
            error: None,
        }
    }

    /// Services found, all multiplexes together.
    pub fn services(&self) -> usize {
        self.found.iter().map(|m| m.services.len()).sum()
    }
}

/// What a scan needs from its surroundings.
pub struct ScanContext<'a> {
    pub tuners: &'a TunerManager,
    pub consumer: Consumer,
    /// Answers for a multiplex a running pipeline receives (None: nothing runs it).
    pub running: &'a dyn Fn(&Tuning) -> Option<Survey>,
    pub cancel: &'a AtomicBool,
}

/// Runs a scan to its end (or cancellation), calling `observe` after every step.
pub fn scan(
    ctx: &ScanContext<'_>,
    request: &ScanRequest,
    observe: &mut dyn FnMut(&ScanStatus),
) -> ScanStatus {
    let mut status = ScanStatus::new();
    let mut queue = ScanQueue::new(request.initial.iter().copied());
    status.progress = queue.progress();
    observe(&status);
    while let Some(tuning) = queue.next() {
        if ctx.cancel.load(Ordering::Relaxed) {
            status.state = ScanState::Cancelled;
            break;
        }
        status.progress = queue.progress();
        status.current = Some(CurrentMux {
            tuning: tuning.to_string(),
            summary: tuning.summary(),
            phase: Phase::Tuning,
            tuner: None,
            signal: None,
        });
        observe(&status);
        let started = Instant::now();
        let (outcome, survey) = scan_one(ctx, &tuning, &request.timeouts, &mut status, observe);
        let mut discovered = 0;
        if let Some(survey) = survey {
            if request.follow_nit {
                for found in &survey.nit_tunings {
                    if queue.push_discovered(&tuning, *found)
                        == dvbgate_tuning::scan::PushOutcome::Added
                    {
                        discovered += 1;
                    }
                }
            }
            status.found.push(survey.found);
        }
        let services = match outcome.0 {
            MuxResult::Found => status.found.last().map_or(0, |f| f.services.len()),
            _ => 0,
        };
        status.muxes.push(MuxOutcome {
            tuning: tuning.to_string(),
            summary: tuning.summary(),
            tuner: outcome.2,
            result: outcome.0,
            signal: outcome.1,
            services,
            discovered,
            elapsed_ms: started.elapsed().as_millis() as u64,
        });
        status.current = None;
        status.progress = queue.progress();
        observe(&status);
    }
    ctx.tuners.release(&ctx.consumer);
    if status.state == ScanState::Running {
        status.state = ScanState::Finished;
    }
    status.progress = queue.progress();
    observe(&status);
    status
}

type Outcome = (MuxResult, Option<SignalReport>, Option<String>);

fn scan_one(
    ctx: &ScanContext<'_>,
    tuning: &Tuning,
    timeouts: &ScanTimeouts,
    status: &mut ScanStatus,
    observe: &mut dyn FnMut(&ScanStatus),
) -> (Outcome, Option<Survey>) {
    if let Some(survey) = (ctx.running)(tuning) {
        return ((MuxResult::Found, None, None), Some(survey));
    }
    let lease = match ctx
        .tuners
        .acquire(ctx.consumer.clone(), tuning, Priority::Scan)
    {
        Ok(lease) => lease,
        Err(e) => return ((MuxResult::Error(e.to_string()), None, None), None),
    };
    let tuner = Some(lease.key.clone());
    let set_phase = |status: &mut ScanStatus, phase: Phase, signal: Option<SignalReport>| {
        if let Some(c) = status.current.as_mut() {
            c.phase = phase;
            c.tuner = tuner.clone();
            c.signal = signal;
        }
    };
    // The tuner has its own field in the outcome; DVB errors name their device node.
    let fail =
        |e: &dyn std::fmt::Display| ((MuxResult::Error(e.to_string()), None, tuner.clone()), None);

    let plan = if tuning.system.is_satellite() {
        match dvbgate_tuning::sec::plan(tuning, &lease.setup) {
            Ok(p) => Some(p),
            Err(e) => return fail(&e),
        }
    } else {
        None
    };
    let mut frontend = match Frontend::open(lease.device.id) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    if let Err(e) = frontend.tune(tuning, plan.as_ref()) {
        return fail(&e);
    }
    set_phase(status, Phase::Locking, None);
    observe(status);

    // Wait for the lock, cancellably.
    let policy = LockPolicy::for_satellite(tuning.system.is_satellite());
    let start = Instant::now();
    let mut flags = LockFlags::default();
    while start.elapsed() < policy.lock_timeout && !ctx.cancel.load(Ordering::Relaxed) {
        flags = match frontend.status() {
            Ok(f) => f,
            Err(e) => return fail(&e),
        };
        if flags.lock {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !flags.lock {
        return (
            (MuxResult::NoLock(describe_flags(flags)), None, tuner),
            None,
        );
    }
    let mut tracker = SignalTracker::new();
    let signal = frontend.stats().ok().map(|raw| tracker.update(&raw));
    set_phase(status, Phase::ReadingTables, signal);
    observe(status);

    let mut dvr = match Dvr::open(&lease.device.dvr) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let _ = dvr.set_buffer_size(dvbgate_dvb::buffer_bytes(
        dvbgate_tuning::rate::max_bitrate(tuning),
        Duration::from_secs(1),
    ));
    let mut filters = PidFilters::new(&lease.device.demux);
    let mut monitor = MuxMonitor::new(EitInterest::PresentFollowingActual);
    let mut reader = PacketReader::new();
    let mut wanted = table_pids(&monitor);
    if let Err(e) = filters.set(&PidSelection::Pids(wanted.clone())) {
        return fail(&e);
    }
    let mut buf = vec![0u8; 188 * 1024];
    let mut wait = MuxWait::new(*timeouts);
    let reading_since = Instant::now();
    let mut first_data: Option<Instant> = None;
    let done = loop {
        if ctx.cancel.load(Ordering::Relaxed) {
            break false;
        }
        let got = match dvr.read(&mut buf) {
            Ok(DvrRead::Data(n)) => n,
            Ok(DvrRead::Empty) | Ok(DvrRead::Overflow) => 0,
            Err(e) => return fail(&e),
        };
        if got > 0 {
            first_data.get_or_insert_with(Instant::now);
            reader.push(&buf[..got], &mut |p| {
                monitor.on_packet(p, &mut |_, _| {});
            });
            let now_wanted = table_pids(&monitor);
            if now_wanted != wanted {
                wanted = now_wanted;
                if let Err(e) = filters.set(&PidSelection::Pids(wanted.clone())) {
                    return fail(&e);
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
        match first_data {
            Some(t) => {
                if let WaitVerdict::Done(_) = wait.poll(&monitor.model, t.elapsed()) {
                    break true;
                }
            }
            // Locked but silent: give it the PSI wait, then give up.
            None if reading_since.elapsed() >= timeouts.psi => break true,
            None => {}
        }
    };
    let signal = frontend.stats().ok().map(|raw| tracker.update(&raw));
    drop(filters);
    drop(dvr);
    drop(frontend);
    if !done {
        return ((MuxResult::Error("cancelled".into()), signal, tuner), None);
    }
    let model = &monitor.model;
    match mux_found(model, *tuning) {
        Some(found) => {
            let own = found
                .original_network_id
                .map(|onid| (found.transport_stream_id, onid));
            let nit_tunings = model
                .nit()
                .map(|nit| tunings_from_nit(nit, tuning, own))
                .unwrap_or_default();
            (
                (MuxResult::Found, signal, tuner),
                Some(Survey { found, nit_tunings }),
            )
        }
        None => ((MuxResult::NoTables, signal, tuner), None),
    }
}

/// The table PIDs a scan reads: the fixed ones and every PMT the PAT names so far.
fn table_pids(monitor: &MuxMonitor) -> BTreeSet<u16> {
    let model = &monitor.model;
    let mut set: BTreeSet<u16> = [pids::PAT, pids::CAT, model.network_pid(), pids::SDT]
        .into_iter()
        .collect();
    set.extend(model.programs().values().copied());
    set.retain(|&p| p < pids::NULL);
    set
}

/// How far a tuner got without locking, for a technician: "no signal", "signal, no
/// carrier"…
fn describe_flags(f: LockFlags) -> String {
    if !f.signal && !f.carrier {
        "no signal".into()
    } else if !f.carrier {
        "signal but no carrier".into()
    } else if !f.viterbi {
        "carrier but no FEC lock".into()
    } else if !f.sync {
        "FEC lock but no sync".into()
    } else {
        "sync but no lock".into()
    }
}

/// A scan's multiplexes in the store's terms, for the merge.
pub fn scanned_muxes(found: &[MuxFound]) -> Vec<dvbgate_store::ScannedMux> {
    use dvbgate_store::{ScannedMux, ScannedService, ServiceKind as Kind};
    use dvbgate_ts::tables::sdt::ServiceKind;
    found
        .iter()
        .map(|m| ScannedMux {
            url: m.tuning.to_string(),
            tuning: m.tuning,
            network_id: m.network_id,
            network_name: m.network_name.clone(),
            original_network_id: m.original_network_id,
            transport_stream_id: m.transport_stream_id,
            services: m
                .services
                .iter()
                .map(|s| ScannedService {
                    service_id: s.service_id,
                    name: s.name.clone(),
                    provider: s.provider.clone(),
                    kind: match s.kind {
                        ServiceKind::Tv => Kind::Tv,
                        ServiceKind::Radio => Kind::Radio,
                        ServiceKind::Data => Kind::Data,
                        ServiceKind::Other => Kind::Other,
                    },
                    scrambled: s.scrambled,
                    lcn: s.lcn,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_flags_are_told_in_words() {
        assert_eq!(describe_flags(LockFlags::from_bits(0)), "no signal");
        assert_eq!(
            describe_flags(LockFlags::from_bits(0x01)),
            "signal but no carrier"
        );
        assert_eq!(
            describe_flags(LockFlags::from_bits(0x03)),
            "carrier but no FEC lock"
        );
        assert_eq!(
            describe_flags(LockFlags::from_bits(0x07)),
            "FEC lock but no sync"
        );
    }

    #[test]
    fn a_scan_without_tuners_reports_each_multiplex_and_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let tuners = TunerManager::new(dir.path());
        let cancel = AtomicBool::new(false);
        let ctx = ScanContext {
            tuners: &tuners,
            consumer: Consumer::Scan(1),
            running: &|_| None,
            cancel: &cancel,
        };
        let initial = vec![
            "dvb-t://474MHz?bandwidth=8MHz".parse().unwrap(),
            "dvb-t://482MHz?bandwidth=8MHz".parse().unwrap(),
        ];
        let mut seen = Vec::new();
        let status = scan(&ctx, &ScanRequest::new(initial), &mut |s| {
            seen.push(s.clone())
        });
        assert_eq!(status.state, ScanState::Finished);
        assert_eq!(status.muxes.len(), 2);
        for m in &status.muxes {
            match &m.result {
                MuxResult::Error(e) => assert!(e.contains("the box has no tuner"), "{e}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(status.progress.done, 2);
        assert!(seen.len() >= 5, "progress after every step: {}", seen.len());
        assert_eq!(seen[0].progress.total_known, 2);
    }

    #[test]
    fn a_multiplex_a_pipeline_receives_is_answered_by_it() {
        let dir = tempfile::tempdir().unwrap();
        let tuners = TunerManager::new(dir.path());
        let cancel = AtomicBool::new(false);
        let tuning: Tuning = "dvb-t://474MHz?bandwidth=8MHz".parse().unwrap();
        let next: Tuning = "dvb-t://482MHz?bandwidth=8MHz".parse().unwrap();
        let running = move |t: &Tuning| {
            t.same_multiplex(&tuning).then(|| Survey {
                found: MuxFound {
                    tuning: *t,
                    network_id: Some(1),
                    network_name: "Net".into(),
                    original_network_id: Some(1),
                    transport_stream_id: 7,
                    services: Vec::new(),
                },
                nit_tunings: vec![next],
            })
        };
        let ctx = ScanContext {
            tuners: &tuners,
            consumer: Consumer::Scan(2),
            running: &running,
            cancel: &cancel,
        };
        let status = scan(&ctx, &ScanRequest::new(vec![tuning]), &mut |_| {});
        assert_eq!(status.found.len(), 1);
        assert_eq!(status.muxes[0].result, MuxResult::Found);
        assert_eq!(status.muxes[0].discovered, 1, "its NIT named 482 MHz");
        assert_eq!(status.muxes.len(), 2, "and 482 MHz was tried too");
        let stored = scanned_muxes(&status.found);
        assert_eq!(stored[0].transport_stream_id, 7);
        assert_eq!(stored[0].url, tuning.to_string());

        let mut no_follow = ScanRequest::new(vec![tuning]);
        no_follow.follow_nit = false;
        let status = scan(&ctx, &no_follow, &mut |_| {});
        assert_eq!(status.muxes.len(), 1);
    }

    #[test]
    fn a_cancelled_scan_stops() {
        let dir = tempfile::tempdir().unwrap();
        let tuners = TunerManager::new(dir.path());
        let cancel = AtomicBool::new(true);
        let ctx = ScanContext {
            tuners: &tuners,
            consumer: Consumer::Scan(3),
            running: &|_| None,
            cancel: &cancel,
        };
        let initial = vec!["dvb-t://474MHz?bandwidth=8MHz".parse().unwrap()];
        let status = scan(&ctx, &ScanRequest::new(initial), &mut |_| {});
        assert_eq!(status.state, ScanState::Cancelled);
        assert!(status.muxes.is_empty());
    }
}

/// Where Debian's dtv-scan-tables package puts its initial-tuning files.
pub const SCAN_TABLES: &str = "/usr/share/dvb";

#[derive(Debug, thiserror::Error)]
pub enum TuningFileError {
    #[error(
        "{name:?} is not a tuning file name: use a name under {root} such as dvb-t/uk-CrystalPalace"
    )]
    BadName { name: String, root: String },
    #[error("no tuning file {name:?} under {root}")]
    NotFound { name: String, root: String },
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: dvbgate_tuning::file::FileError,
    },
}

/// The initial-tuning files under `root` by name (`dvb-t/uk-CrystalPalace`), sorted.
pub fn tuning_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(kinds) = std::fs::read_dir(root) else {
        return out;
    };
    for kind in kinds.flatten() {
        let Ok(files) = std::fs::read_dir(kind.path()) else {
            continue;
        };
        for f in files.flatten() {
            if f.file_type().is_ok_and(|t| t.is_file()) {
                out.push(format!(
                    "{}/{}",
                    kind.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ));
            }
        }
    }
    out.sort();
    out
}

/// Reads the tuning file `name` from `root`. The name is checked before it touches the
/// file system: two plain components (`dvb-t/uk-CrystalPalace`), nothing that climbs out.
pub fn read_tuning_file(
    root: &std::path::Path,
    name: &str,
) -> Result<dvbgate_tuning::file::TuningFile, TuningFileError> {
    let bad = || TuningFileError::BadName {
        name: name.into(),
        root: root.display().to_string(),
    };
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.len() <= 128
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+,()@".contains(&b))
    };
    if parts.len() != 2 || !parts.iter().all(plain) {
        return Err(bad());
    }
    let path = root.join(parts[0]).join(parts[1]);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TuningFileError::NotFound {
                name: name.into(),
                root: root.display().to_string(),
            });
        }
        Err(source) => {
            return Err(TuningFileError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    dvbgate_tuning::file::parse(&bytes).map_err(|source| TuningFileError::Parse {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn tuning_file_names_cannot_climb_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dvb-t")).unwrap();
        std::fs::write(
            dir.path().join("dvb-t/xx-Town"),
            "[CHANNEL]\n\tDELIVERY_SYSTEM = DVBT\n\tFREQUENCY = 474000000\n\tBANDWIDTH_HZ = 8000000\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        let f = read_tuning_file(dir.path(), "dvb-t/xx-Town").unwrap();
        assert_eq!(f.tunings.len(), 1);
        assert_eq!(tuning_files(dir.path()), vec!["dvb-t/xx-Town"]);
        for bad in [
            "../secret",
            "dvb-t/../../secret",
            "/etc/passwd",
            "dvb-t/..",
            "secret",
            "dvb-t/xx-Town/x",
            "dvb-t/.hidden",
            "dvb-t/a b",
        ] {
            let e = read_tuning_file(dir.path(), bad).unwrap_err();
            assert!(matches!(e, TuningFileError::BadName { .. }), "{bad}: {e}");
        }
        let e = read_tuning_file(dir.path(), "dvb-t/yy-Nowhere").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no tuning file \"dvb-t/yy-Nowhere\""),
            "{e}"
        );
        std::fs::write(
            dir.path().join("dvb-t/garbage"),
            "[CHANNEL]\n\tFREQUENCY = lots\n",
        )
        .unwrap();
        let e = read_tuning_file(dir.path(), "dvb-t/garbage").unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
    }
}
