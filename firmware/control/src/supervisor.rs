//! Configuration to running pipelines, and back to views.

use crate::tuners::{Consumer, TunerConfig, TunerKey, TunerManager};
use crate::views::{ChannelView, InputView, TunerView};
use dvbgate_inputs::InputOptions;
use dvbgate_inputs::dvb::{DvbOptions, DvbSource};
use dvbgate_outputs::OutputSpec;
use dvbgate_pipeline::{ChannelSetup, InputState, Pipeline, PipelineConfig};
use dvbgate_remux::{ChannelKey, ChannelSpec, EsFilter};
use dvbgate_store::{ChannelConfig, NewChannel, Settings, Store, StoreError};
use dvbgate_streaming::{Budget, ChannelStream, StreamOptions};
use dvbgate_ts::tables::sdt::ServiceKind;
use dvbgate_ts::timing::ClockConfig;
use dvbgate_tuning::Tuning;
use dvbgate_tuning::allocate::Priority;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a stream of a channel whose HLS is off outlives its last request without an
/// HTTP TS client on it. HLS requests no longer reach it (they are refused), so what is
/// left is HTTP TS: a client keeps it alive while connected, and this grace covers the
/// moment between opening a stream and the client joining it.
/// (Short in unit tests, which wait it out.)
const HLS_OFF_GRACE: Duration = if cfg!(test) {
    Duration::from_millis(300)
} else {
    Duration::from_secs(5)
};

/// How pipelines are run.
#[derive(Clone, Debug)]
pub struct SupervisorOptions {
    pub tick: Duration,
    pub clock: ClockConfig,
    pub input: InputOptions,
    /// Datagrams each channel's queue holds.
    pub ring_datagrams: usize,
    /// An input that failed to start is tried again after this long.
    pub retry_after: Duration,
    /// Where DVB adapters appear (`/dev/dvb`).
    pub dvb_root: std::path::PathBuf,
    pub dvb: DvbOptions,
    /// HLS and HTTP streaming of channels.
    pub streams: StreamOptions,
    /// Bytes all HLS windows together may hold.
    pub stream_budget: usize,
    /// A stream with no request and no HTTP client for this long stops (and frees its
    /// tuner, if nothing else needs it).
    pub stream_idle: Duration,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        SupervisorOptions {
            tick: Duration::from_millis(2),
            clock: ClockConfig::default(),
            input: InputOptions::default(),
            ring_datagrams: 256,
            retry_after: Duration::from_secs(5),
            dvb_root: dvbgate_dvb::DVB_ROOT.into(),
            dvb: DvbOptions::default(),
            streams: StreamOptions::default(),
            stream_budget: 128 << 20,
            stream_idle: Duration::from_secs(30),
        }
    }
}

struct Running {
    url: String,
    pipeline: Pipeline,
    /// For tuner inputs: the tuner it holds.
    tuner: Option<TunerKey>,
    /// What this pipeline was last told, per channel: only differences are sent.
    applied: HashMap<ChannelKey, ChannelSetup>,
    /// Channels whose stream this pipeline feeds (a tap set).
    tapped: HashSet<ChannelKey>,
    /// The tuner lease's priority.
    priority: Priority,
}

#[derive(Default)]
pub(crate) struct State {
    running: HashMap<u32, Running>,
    /// Inputs that could not start: why, and when to try again.
    pub(crate) failed: HashMap<u32, (String, Instant)>,
    /// Channels streamed over HLS/HTTP, by channel id.
    pub(crate) streams: HashMap<u32, Arc<ChannelStream>>,
    /// Where each channel's next stream continues its media sequence numbers.
    pub(crate) next_sequences: HashMap<u32, u64>,
}

impl State {
    pub(crate) fn input_running(&self, id: u32) -> bool {
        self.running.contains_key(&id)
    }

    /// The live report of a running input.
    pub(crate) fn snapshot(&self, id: u32) -> Option<dvbgate_pipeline::Snapshot> {
        self.running.get(&id).map(|r| r.pipeline.snapshot())
    }
}

/// See the crate docs.
pub struct Supervisor {
    store: Arc<Store>,
    options: SupervisorOptions,
    state: Mutex<State>,
    tuners: TunerManager,
    pub(crate) scans: Mutex<crate::scan_jobs::ScanJobs>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) epg: crate::epg::EpgService,
}

impl Supervisor {
    pub fn new(store: Arc<Store>, options: SupervisorOptions) -> Arc<Supervisor> {
        let settings = store.settings().unwrap_or_default();
        let epg = crate::epg::EpgService::start(Some(store.path()), &settings);
        Arc::new(Supervisor {
            epg,
            store,
            tuners: TunerManager::new(options.dvb_root.clone()),
            budget: Arc::new(Budget::new(options.stream_budget)),
            options,
            state: Mutex::new(State::default()),
            scans: Mutex::default(),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn tuners(&self) -> &TunerManager {
        &self.tuners
    }

    /// Re-reads the box's DVB adapters (hot-plug) and the technician's tuner settings.
    /// Inputs whose tuner went away are stopped; the next [`reconcile`](Self::reconcile)
    /// finds them another tuner or reports why there is none.
    pub fn refresh_tuners(&self) -> Result<(), StoreError> {
        let configs: BTreeMap<TunerKey, TunerConfig> = self
            .store
            .tuners()?
            .into_iter()
            .map(|t| {
                (
                    t.key,
                    TunerConfig {
                        enabled: t.enabled,
                        setup: t.setup,
                    },
                )
            })
            .collect();
        let refresh = self.tuners.refresh(&configs);
        if refresh.lost.is_empty() {
            return Ok(());
        }
        let mut state = self.state();
        for consumer in &refresh.lost {
            if let Consumer::Input(id) = consumer
                && let Some(r) = state.running.remove(id)
            {
                warn!(input = %r.pipeline.name(), "its tuner is gone; stopping it");
                r.pipeline.stop();
            }
        }
        Ok(())
    }

    pub fn options(&self) -> &SupervisorOptions {
        &self.options
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the running pipelines match the configuration. Returns the inputs that could
    /// not be started, with the reason (they are retried on later calls).
    pub fn reconcile(&self) -> Result<Vec<(u32, String)>, StoreError> {
        let settings = self.store.settings()?;
        let inputs = self.store.inputs()?;
        let channels = self.store.channels()?;
        let mut state = self.state();
        let now = Instant::now();

        // Streams of channels deleted or disabled end, and those of channels whose HLS
        // was switched off unless HTTP TS uses them (see HLS_OFF_GRACE).
        state.streams.retain(|id, stream| {
            channels
                .iter()
                .any(|c| c.id == *id && c.enabled && (c.hls || stream.idle_for() < HLS_OFF_GRACE))
        });
        let streamed: HashSet<u32> = state.streams.keys().copied().collect();
        // A channel runs while it is multicast, or while someone watches it over HTTP.
        let channel_runs =
            |c: &ChannelConfig| c.enabled && (c.output.multicast || streamed.contains(&c.id));
        // Tuner leases: always on for multicast channels, on demand for viewers only.
        let priority_of = |i: &dvbgate_store::InputConfig| {
            if channels
                .iter()
                .any(|c| c.input_id == i.id && c.enabled && c.output.multicast)
            {
                Priority::AlwaysOn
            } else {
                Priority::OnDemand
            }
        };
        // A tuner input runs only while one of its channels runs: it holds a tuner.
        let should_run = |i: &dvbgate_store::InputConfig| {
            i.enabled
                && (!dvbgate_inputs::is_tuner_address(&i.url)
                    || channels
                        .iter()
                        .any(|c| c.input_id == i.id && channel_runs(c)))
        };

        // Stop what should no longer run (removed, disabled, or moved to another address).
        let stale: Vec<u32> = state
            .running
            .iter()
            .filter(|(id, r)| {
                !inputs
                    .iter()
                    .any(|i| i.id == **id && should_run(i) && i.url == r.url)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.stop_input(&mut state, id);
        }
        state
            .failed
            .retain(|id, _| inputs.iter().any(|i| i.id == *id && should_run(i)));

        let mut failures = Vec::new();
        for input in inputs.iter().filter(|i| should_run(i)) {
            let priority = priority_of(input);
            if !state.running.contains_key(&input.id) {
                if let Some((why, retry_at)) = state.failed.get(&input.id)
                    && now < *retry_at
                {
                    failures.push((input.id, why.clone()));
                    continue;
                }
                let mut config = PipelineConfig {
                    input: self.options.input,
                    clock: self.options.clock,
                    tick: self.options.tick,
                    section_sink: Some(self.epg.sink_for(input.id, &input.url)),
                    id: Some(input.id),
                    ..PipelineConfig::new(input.name.clone(), input.url.clone())
                };
                let tuner = if dvbgate_inputs::is_tuner_address(&input.url) {
                    match self.lease_tuner(&mut state, input.id, &input.url, priority) {
                        Ok((key, source)) => {
                            config.opener = Some(Arc::new(source));
                            Some(key)
                        }
                        Err(why) => {
                            let why = format!("input {:?}: {why}", input.name);
                            failures.push(self.note_failure(&mut state, input.id, why, now));
                            continue;
                        }
                    }
                } else {
                    None
                };
                match Pipeline::start(config, Vec::new()) {
                    Ok(pipeline) => {
                        state.failed.remove(&input.id);
                        state.running.insert(
                            input.id,
                            Running {
                                url: input.url.clone(),
                                pipeline,
                                tuner,
                                applied: HashMap::new(),
                                tapped: HashSet::new(),
                                priority,
                            },
                        );
                    }
                    Err(e) => {
                        if tuner.is_some() {
                            self.tuners.release(&Consumer::Input(input.id));
                        }
                        let why = format!("input {:?}: {e}", input.name);
                        failures.push(self.note_failure(&mut state, input.id, why, now));
                        continue;
                    }
                }
            }
            if state
                .running
                .get(&input.id)
                .is_some_and(|r| r.tuner.is_some() && r.priority != priority)
                && self
                    .lease_tuner(&mut state, input.id, &input.url, priority)
                    .is_ok()
                && let Some(r) = state.running.get_mut(&input.id)
            {
                r.priority = priority;
            }
            let State {
                running, streams, ..
            } = &mut *state;
            let Some(running) = running.get_mut(&input.id) else {
                continue;
            };
            let wanted: HashMap<ChannelKey, ChannelSetup> = channels
                .iter()
                .filter(|c| c.input_id == input.id && channel_runs(c))
                .map(|c| (c.id, setup_of(c, &settings, &self.options)))
                .collect();
            running.applied.retain(|key, _| {
                let keep = wanted.contains_key(key);
                if !keep {
                    // Its tap, if any, goes with it.
                    running.pipeline.remove_channel(*key);
                    running.tapped.remove(key);
                }
                keep
            });
            for (key, setup) in wanted {
                if running.applied.get(&key) != Some(&setup) {
                    running.pipeline.set_channel(setup.clone());
                    running.applied.insert(key, setup);
                }
            }
            // Streams: a tap for each newly streamed channel, none for those that ended.
            running.tapped.retain(|key| {
                let keep = streams.contains_key(key);
                if !keep {
                    running.pipeline.remove_tap(*key);
                }
                keep
            });
            for (key, stream) in streams.iter() {
                if !running.applied.contains_key(key) || running.tapped.contains(key) {
                    continue;
                }
                match stream.tap() {
                    Ok(tap) => {
                        running.pipeline.set_tap(*key, Box::new(tap));
                        running.tapped.insert(*key);
                    }
                    Err(e) => warn!(stream = %stream.label(), "cannot segment: {e}"),
                }
            }
        }
        Ok(failures)
    }

    /// Remembers why an input could not start and when to try again; says it once (a
    /// tuner that stays busy would otherwise repeat the same line every retry).
    fn note_failure(&self, state: &mut State, id: u32, why: String, now: Instant) -> (u32, String) {
        if state.failed.get(&id).map(|(w, _)| w) != Some(&why) {
            warn!("{why}; retrying in {:?}", self.options.retry_after);
        }
        state
            .failed
            .insert(id, (why.clone(), now + self.options.retry_after));
        (id, why)
    }

    /// A tuner for a tuner input; inputs preempted by it are stopped.
    fn lease_tuner(
        &self,
        state: &mut State,
        id: u32,
        url: &str,
        priority: Priority,
    ) -> Result<(TunerKey, DvbSource), String> {
        let tuning: Tuning = url.parse().map_err(|e| format!("{e}"))?;
        let lease = self
            .tuners
            .acquire(Consumer::Input(id), &tuning, priority)
            .map_err(|e| e.to_string())?;
        for other in &lease.preempted {
            if let Consumer::Input(other) = other {
                self.stop_input(state, *other);
            }
            info!("{other} yields {} to input {id}", lease.key);
        }
        Ok((
            lease.key,
            DvbSource {
                device: lease.device,
                tuning,
                setup: lease.setup,
                options: self.options.dvb,
            },
        ))
    }

    /// What a running tuner pipeline on `tuning`'s multiplex carries (see
    /// [`Pipeline::survey`]).
    pub(crate) fn survey_running(&self, tuning: &Tuning) -> Option<dvbgate_pipeline::Survey> {
        let (url, surveyor) = self.state().running.values().find_map(|r| {
            let running: Tuning = r.url.parse().ok()?;
            running
                .same_multiplex(tuning)
                .then(|| (running, r.pipeline.surveyor()))
        })?;
        surveyor.survey(url, Duration::from_secs(2))
    }

    fn stop_input(&self, state: &mut State, id: u32) {
        if let Some(r) = state.running.remove(&id) {
            info!(input = %r.pipeline.name(), "stopping input");
            r.pipeline.stop();
            if r.tuner.is_some() {
                self.tuners.release(&Consumer::Input(id));
            }
        }
    }

    /// Every tuner of the box: what it can do, who holds it, and (from the pipeline that
    /// reads it) its lock, signal and error counters.
    pub fn tuner_views(&self) -> Vec<TunerView> {
        let reports: HashMap<TunerKey, (u32, dvbgate_inputs::TunerReport)> = {
            let state = self.state();
            state
                .running
                .iter()
                .filter_map(|(id, r)| {
                    let report = r.pipeline.snapshot().input.tuner?;
                    Some((r.tuner.clone()?, (*id, report)))
                })
                .collect()
        };
        // Labels are a nicety: a store that cannot be read now still lets the tuners show.
        let labels: HashMap<TunerKey, String> = self
            .store
            .tuners()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key, t.label?)))
            .collect();
        self.tuners
            .list()
            .into_iter()
            .map(|info| {
                let live = reports.get(&info.key).cloned();
                let label = labels.get(&info.key).cloned();
                TunerView::new(info, label, live)
            })
            .collect()
    }

    /// Every channel, configuration and live state together, by number.
    pub fn channel_views(&self) -> Result<Vec<ChannelView>, StoreError> {
        let channels = self.store.channels()?;
        let state = self.state();
        let snapshots: HashMap<u32, dvbgate_pipeline::Snapshot> = state
            .running
            .iter()
            .map(|(id, r)| (*id, r.pipeline.snapshot()))
            .collect();
        Ok(channels
            .iter()
            .map(|c| {
                let snapshot = snapshots.get(&c.input_id);
                let input_running = snapshot.is_some_and(|s| s.input.state == InputState::Running);
                ChannelView::new(
                    c,
                    snapshot.and_then(|s| s.channels.get(&c.id)),
                    input_running,
                    state.streams.get(&c.id).map(|s| s.stats()),
                )
            })
            .collect())
    }

    pub fn input_views(&self) -> Result<Vec<InputView>, StoreError> {
        let inputs = self.store.inputs()?;
        let state = self.state();
        Ok(inputs
            .iter()
            .map(|i| {
                let live = state
                    .running
                    .get(&i.id)
                    .map(|r| r.pipeline.snapshot().input);
                let error = state.failed.get(&i.id).map(|(why, _)| why.clone());
                InputView::new(i, live, error)
            })
            .collect())
    }

    /// For inputs with `auto_channels`, creates a channel for each TV or radio service seen
    /// that has none yet. Returns what was created.
    pub fn create_discovered_channels(&self) -> Result<Vec<ChannelConfig>, StoreError> {
        let inputs = self.store.inputs()?;
        let existing = self.store.channels()?;
        let discovered: Vec<(u32, Vec<dvbgate_pipeline::ServiceInfo>)> = {
            let state = self.state();
            inputs
                .iter()
                .filter(|i| i.auto_channels)
                .filter_map(|i| {
                    state
                        .running
                        .get(&i.id)
                        .map(|r| (i.id, r.pipeline.snapshot().input.services))
                })
                .collect()
        };
        let mut created = Vec::new();
        for (input_id, services) in discovered {
            for s in services {
                let wanted = s.pcr_pid.is_some()
                    && !s.scrambled
                    && !matches!(s.kind, Some(ServiceKind::Data) | Some(ServiceKind::Other));
                let known = existing.iter().chain(&created).any(|c: &ChannelConfig| {
                    c.input_id == input_id && c.service_id == s.service_id
                });
                if !wanted || known {
                    continue;
                }
                let name = s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("Service {}", s.service_id));
                let channel =
                    self.store
                        .add_channel(NewChannel::new(input_id, s.service_id, name))?;
                info!("{} created for a discovered service", channel.describe());
                created.push(channel);
            }
        }
        if !created.is_empty() {
            self.reconcile()?;
        }
        Ok(created)
    }

    /// Stops every input's pipeline and starts again what the configuration asks for
    /// (the web page's "reboot" where the daemon may not reboot the machine). Streams
    /// and the guide carry on. Returns what [`reconcile`](Self::reconcile) returns.
    pub fn restart_pipelines(&self) -> Result<Vec<(u32, String)>, StoreError> {
        {
            let mut state = self.state();
            let ids: Vec<u32> = state.running.keys().copied().collect();
            for id in ids {
                self.stop_input(&mut state, id);
            }
            // Inputs waiting to retry are tried at once.
            state.failed.clear();
        }
        self.reconcile()
    }

    /// Stops every pipeline.
    pub fn stop(&self) {
        let mut state = self.state();
        let ids: Vec<u32> = state.running.keys().copied().collect();
        for id in ids {
            self.stop_input(&mut state, id);
        }
        drop(state);
        self.epg.stop();
    }
}

/// What a pipeline needs to know of a channel.
pub(crate) fn setup_of(
    c: &ChannelConfig,
    settings: &Settings,
    options: &SupervisorOptions,
) -> ChannelSetup {
    let strip_es = c
        .strip_es
        .iter()
        .map(|f| match f {
            dvbgate_store::EsFilter::Pid(p) => EsFilter::Pid(*p),
            dvbgate_store::EsFilter::StreamType(t) => EsFilter::StreamType(*t),
            dvbgate_store::EsFilter::Language(l) => EsFilter::Language(l.clone()),
        })
        .collect();
    ChannelSetup {
        key: c.id,
        spec: ChannelSpec {
            service_id: c.service_id,
            name: c.name.clone(),
            strip_ca: c.strip_ca,
            strip_es,
            packets_per_datagram: usize::from(settings.packets_per_datagram),
            ring_datagrams: options.ring_datagrams,
        },
        output: c.output.multicast.then(|| OutputSpec {
            address: c.output.address,
            protocol: crate::output::protocol(c.output.protocol),
            send: crate::output::send_options(c, settings),
        }),
    }
}
