//! `dvbgate demo`: everything running on one machine, with nothing to set up. Each file
//! becomes a virtual tuner playing in a loop at real time; every service becomes a channel
//! multicast on the loopback interface (TTL 1: nothing leaves the machine).

use crate::{daemon, logging};
use anyhow::{Context, bail};
use clap::Args;
use dvbgate_control::{Supervisor, SupervisorOptions};
use dvbgate_inputs::InputOptions;
use dvbgate_inputs::file::FilePlayer;
use dvbgate_store::{NewChannel, NewInput, NewUser, Settings, Store};
use dvbgate_ts::analyze::Analyzer;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args)]
pub struct DemoArgs {
    /// A transport stream file to play as a virtual tuner; repeat for several. Without it,
    /// the bundled 4-service multiplex plays.
    #[arg(long = "input", value_name = "FILE.ts")]
    inputs: Vec<PathBuf>,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Keep the configuration in this directory (default: a temporary one, removed at exit).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Where channels get their multicast groups.
    #[arg(long, default_value = "239.255.1.0/24", value_name = "CIDR")]
    multicast_pool: String,
    /// Destination port of the channels.
    #[arg(long, default_value_t = 5000)]
    multicast_port: u16,
    /// Start as a new box does: no administrator password; the web page asks for the
    /// setup code printed here. Without it, the demo's password is `dvbgate-demo`.
    #[arg(long)]
    first_boot: bool,
    #[command(flatten)]
    streaming: super::streaming::StreamingArgs,
}

/// How much of each file is read at start-up to list its services.
const PROBE_BYTES: usize = 16 << 20;

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let logbook = logging::init();
    let files = if args.inputs.is_empty() {
        vec![bundled_multiplex()?]
    } else {
        args.inputs.clone()
    };
    // Refuse bad files and a taken port before anything starts.
    let mut probed = Vec::new();
    for file in &files {
        FilePlayer::open(file, &InputOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        probed.push((file.clone(), services_in(file)?));
    }
    let listener = daemon::bind(args.listen)?;

    let temporary;
    let data = match &args.data {
        // The store creates it, for its owner only.
        Some(d) => d.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("dvbgate-demo-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            temporary.path().to_path_buf()
        }
    };
    let store = Arc::new(
        Store::open(&data)
            .with_context(|| format!("cannot open the configuration in {}", data.display()))?,
    );
    let settings = Settings {
        multicast_interface: Some("lo".into()),
        pool: args
            .multicast_pool
            .parse()
            .map_err(|e| anyhow::anyhow!("--multicast-pool {}: {e}", args.multicast_pool))?,
        base_port: args.multicast_port,
        ttl: 1,
        ..store.settings()?
    };
    store.set_settings(&settings)?;
    configure(&store, &probed)?;
    demo_user(&store)?;
    if !args.first_boot && !store.admin_password_set()? {
        store.set_admin_password(DEMO_ADMIN_PASSWORD)?;
    }

    let mut options = SupervisorOptions::default();
    args.streaming.apply(&mut options);
    let supervisor = Supervisor::new(Arc::clone(&store), options);
    let failures = supervisor.reconcile()?;
    if let Some((_, why)) = failures.first() {
        supervisor.stop();
        bail!("{why}");
    }
    print_lineup(&store, listener.local_addr()?, args.first_boot)?;
    daemon::run(
        supervisor,
        listener,
        dvbgate_api::AppOptions {
            data_dir: Some(data.clone()),
            reboot: dvbgate_api::RebootAction::RestartPipelines,
            logbook: Some(logbook),
        },
    )
}

/// The bundled multiplex: next to the sources in a checkout, or installed beside the binary.
fn bundled_multiplex() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("DVBGATE_DEMO_MUX") {
        return Ok(PathBuf::from(p));
    }
    let mut candidates = vec![PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo-mux.ts"
    ))];
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("../share/dvbgate/demo-mux.ts"));
    }
    candidates.push(PathBuf::from("/usr/share/dvbgate/demo-mux.ts"));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the bundled demo multiplex was not found (looked in {candidates:?}); pass --input FILE.ts"))
}

/// Services with a PMT in the first part of a file: (service id, name). A short file is
/// read twice, as it will be played in a loop: a PMT that comes before the first PAT is
/// only recognised on the second pass.
fn services_in(file: &Path) -> anyhow::Result<Vec<(u16, String)>> {
    let mut head = Vec::new();
    std::fs::File::open(file)
        .with_context(|| format!("cannot open {}", file.display()))?
        .take(PROBE_BYTES as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut analyzer = Analyzer::new();
    analyzer.push(&head);
    if head.len() < PROBE_BYTES {
        analyzer.push(&head);
    }
    let analysis = analyzer.finish(None);
    Ok(analysis
        .services
        .iter()
        .filter(|s| s.in_pat && s.pcr_pid.is_some())
        .map(|s| {
            (
                s.service_id,
                s.name
                    .clone()
                    .unwrap_or_else(|| format!("Service {}", s.service_id)),
            )
        })
        .collect())
}

/// One input per file and one channel per service, unless a kept configuration has them.
fn configure(store: &Store, probed: &[(PathBuf, Vec<(u16, String)>)]) -> anyhow::Result<()> {
    for (file, services) in probed {
        let url = format!(
            "file://{}",
            std::fs::canonicalize(file)
                .unwrap_or_else(|_| file.clone())
                .display()
        );
        let input = match store.inputs()?.into_iter().find(|i| i.url == url) {
            Some(i) => i,
            None => store.add_input(NewInput {
                name: file
                    .file_name()
                    .map_or_else(|| url.clone(), |n| n.to_string_lossy().into_owned()),
                url,
                enabled: true,
                auto_channels: true,
            })?,
        };
        let existing = store.channels()?;
        for (service_id, name) in services {
            if existing
                .iter()
                .any(|c| c.input_id == input.id && c.service_id == *service_id)
            {
                continue;
            }
            store.add_channel(NewChannel::new(input.id, *service_id, name.clone()))?;
        }
    }
    Ok(())
}

/// The demo's IPTV app login. Only the demo creates it: a real box has no user until the
/// technician adds one.
pub const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo";
/// The demo's administrator password (the web page). A real box has none until its
/// installer sets one with the setup code.
const DEMO_ADMIN_PASSWORD: &str = "dvbgate-demo";

fn demo_user(store: &Store) -> anyhow::Result<()> {
    if store.user_by_name(DEMO_USER)?.is_none() {
        store.add_user(NewUser {
            max_connections: 4,
            note: "created by dvbgate demo".into(),
            ..NewUser::new(DEMO_USER, DEMO_PASSWORD)
        })?;
    }
    Ok(())
}

fn print_lineup(store: &Store, listen: SocketAddr, first_boot: bool) -> anyhow::Result<()> {
    let channels = store.channels()?;
    let inputs = store.inputs()?;
    println!(
        "dvbgate demo: {} channels from {} input(s)",
        channels.len(),
        inputs.len()
    );
    println!();
    println!(
        "  {:>4}  {:<28} multicast on the loopback interface",
        "#", "channel"
    );
    for c in &channels {
        let url = dvbgate_control::stream_url(c);
        println!("  {:>4}  {:<28} {url}", c.number, c.name);
    }
    if let Some(first) = channels.first() {
        let address = first.output.address;
        println!();
        println!("Watch a channel (the group is joined on the loopback interface):");
        println!("  ffplay 'udp://@{address}?localaddr=127.0.0.1'");
        println!("  vlc --miface=lo udp://@{address}");
    }
    if let Some(first) = channels.first() {
        println!();
        println!("Or over HTTP (started on the first request):");
        println!("  HLS:     http://{listen}/hls/{}/index.m3u8", first.number);
        println!("  HTTP TS: http://{listen}/stream/{}.ts", first.number);
    }
    println!();
    println!("IPTV apps (TiviMate, IPTV Smarters, Kodi…), Xtream Codes login:");
    println!("  server http://{listen}  username {DEMO_USER}  password {DEMO_PASSWORD}");
    println!(
        "  M3U: http://{listen}/get.php?username={DEMO_USER}&password={DEMO_PASSWORD}&type=m3u_plus&output=ts"
    );
    println!(
        "  XMLTV guide: http://{listen}/xmltv.php?username={DEMO_USER}&password={DEMO_PASSWORD}"
    );
    println!("Hotel TVs' channel map: http://{listen}/playlist/multicast.m3u");
    println!("Plex/Jellyfin/Emby: add a HDHomeRun tuner at http://{listen}");
    println!();
    println!("Channel list: http://{listen}/api/v1/channels");
    println!();
    if first_boot {
        println!("Web page: http://{listen}/  (first boot: give it the setup code below)");
    } else {
        println!("Web page: http://{listen}/  admin password: {DEMO_ADMIN_PASSWORD}");
    }
    println!("Press Ctrl-C to stop.");
    Ok(())
}
