//! The running daemon: the control plane on a small tokio runtime (HTTP API, a once-a-second
//! housekeeping pass, SAP), the pipelines on their own threads, and an orderly shutdown on
//! SIGINT/SIGTERM (a second signal exits at once).

use anyhow::Context;
use dvbgate_api::{AppOptions, AppState, ServerLimits, router};
use dvbgate_control::Supervisor;
use dvbgate_control::sap::Announcer;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

pub fn run(
    supervisor: Arc<Supervisor>,
    listener: std::net::TcpListener,
    options: AppOptions,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("control")
        .enable_all()
        .build()
        .context("cannot start the control-plane runtime")?;
    runtime.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let local = listener.local_addr()?;
        let app = AppState::new(Arc::clone(&supervisor), options);
        dvbgate_api::start_background(&app);
        // Tools on the box (and the tests) read what they need from these lines.
        if let Some(file) = app.admin.api_token_file() {
            println!("API token file: {}", file.display());
        }
        if let Some(code) = app.admin.setup_code() {
            println!("setup code: {code}");
            info!("first boot: no administrator password yet; the web page asks for the setup code {code}");
        }
        info!("HTTP API on http://{local}");
        println!("dvbgate: HTTP API listening on http://{local}");
        let (stop_tx, stop_rx) = watch::channel(false);
        let housekeeping = tokio::spawn(housekeeping(Arc::clone(&supervisor), stop_rx));
        // One pair of listeners for the daemon's life: a listener created after the first
        // signal could be woken by that same signal and take it for a second one.
        let mut signals = Signals::new();
        let monitor_app = Arc::clone(&app);
        let shutdown = async move {
            signals.next().await;
            info!("shutting down");
            let _ = stop_tx.send(true);
            // Open dashboards (server-sent events) would otherwise hold the graceful stop.
            monitor_app.monitor.shutdown();
            tokio::spawn(async move {
                signals.next().await;
                warn!("second signal: exiting at once");
                std::process::exit(130);
            });
        };
        dvbgate_api::serve(listener, router(app), ServerLimits::default(), shutdown)
            .await
            .context("HTTP server failed")?;
        let _ = housekeeping.await;
        tokio::task::spawn_blocking(move || supervisor.stop()).await?;
        info!("stopped");
        Ok(())
    })
}

/// Once a second: notice tuners plugged in or out, restart inputs that failed, create
/// channels for newly discovered services, stop streams nobody watches, and announce
/// channels with SAP. All of it touches the store or sockets, so it
/// runs off the async workers.
async fn housekeeping(supervisor: Arc<Supervisor>, mut stop: watch::Receiver<bool>) {
    let announcer = Arc::new(Mutex::new(Announcer::new()));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let (sup, sap) = (Arc::clone(&supervisor), Arc::clone(&announcer));
        let result =
            tokio::task::spawn_blocking(move || -> Result<(), dvbgate_store::StoreError> {
                sup.refresh_tuners()?;
                sup.reconcile()?;
                sup.create_discovered_channels()?;
                sup.reap_idle_streams()?;
                sup.refresh_epg()?;
                let channels = sup.store().channels()?;
                let settings = sup.store().settings()?;
                let mut sap = sap.lock().unwrap_or_else(|p| p.into_inner());
                sap.update(&channels, &settings);
                sap.announce_one_second();
                Ok(())
            })
            .await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("housekeeping task failed: {e}")),
        };
        if error.is_some() && error != last_error {
            warn!("{}", error.as_deref().unwrap_or_default());
        }
        last_error = error;
    }
    let _ = tokio::task::spawn_blocking(move || {
        announcer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .withdraw_all()
    })
    .await;
}

/// SIGINT and SIGTERM, each received once.
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn next(&mut self) {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = recv(&mut self.interrupt) => {}
            _ = recv(&mut self.terminate) => {}
        }
    }
}

/// Binds the HTTP listener before anything else starts, so a taken port is a clear error
/// at start-up.
pub fn bind(listen: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))
}
