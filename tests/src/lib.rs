//! Helpers for black-box tests of the `dvbgate` binary: start it, talk to its API, receive
//! its multicast on the loopback interface, and judge the result with ffprobe and our own
//! checker. Everything stays on this machine: groups are joined and sent on `lo` only.

#![allow(clippy::print_stderr)]

use serde_json::Value;
use socket2::{Domain, Socket, Type};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The daemon binary under test: `DVBGATE_BIN`, or the one Cargo built beside this test.
pub fn dvbgate() -> PathBuf {
    if let Some(p) = std::env::var_os("DVBGATE_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test> -> target/<profile>/dvbgate
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("dvbgate");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build -p dvbgate; scripts/test does)",
        bin.display()
    );
    bin
}

/// A running `dvbgate` process. Killed when dropped.
pub struct Daemon {
    child: Child,
    pub http: SocketAddr,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// `dvbgate demo` with `args` (plus an ephemeral `--listen` unless given).
    pub fn demo(args: &[&str]) -> Daemon {
        Self::start("demo", args)
    }

    /// `dvbgate run --data DIR` with `args`.
    pub fn run(data: &Path, args: &[&str]) -> Daemon {
        let mut all = vec!["--data", data.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Self::start("run", &all)
    }

    fn start(command: &str, args: &[&str]) -> Daemon {
        let mut cmd = Command::new(dvbgate());
        cmd.arg(command).args(args);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        Self::spawn(cmd)
    }

    /// Spawns a prepared command (e.g. inside a network namespace) and waits until its API
    /// is up.
    pub fn spawn(mut cmd: Command) -> Daemon {
        let mut child = cmd
            .env("DVBGATE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dvbgate starts");
        let stdout = collect_lines(child.stdout.take().expect("piped"));
        let stderr = collect_lines(child.stderr.take().expect("piped"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = stdout.lock().expect("lines").iter().find_map(|l| {
                l.split("listening on http://")
                    .nth(1)
                    .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            });
            if let Some(http) = found {
                return Daemon {
                    child,
                    http,
                    stdout,
                    stderr,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "dvbgate exited with {status} before serving:\n{}",
                    stderr.lock().expect("lines").join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "dvbgate did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// GET returning (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        request("GET", &self.url(path), None)
    }

    pub fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        request(method, &self.url(path), Some(body))
    }

    /// Waits until every channel reports `live`; returns them.
    pub fn wait_live(&self, at_least: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let (_, v) = self.get("/api/v1/channels");
            let channels = v.as_array().cloned().unwrap_or_default();
            if channels.len() >= at_least && channels.iter().all(|c| c["status"] == "live") {
                return channels;
            }
            assert!(
                Instant::now() < deadline,
                "channels not live in time: {v:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, and the exit status (waits up to 10 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "dvbgate did not stop within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_lines(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

/// A plain HTTP request; any status is returned, not turned into an error.
pub fn request(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    try_request(method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Like [`request`], but a failed connection is an `Err` (the server may have been killed).
pub fn try_request(method: &str, url: &str, body: Option<Value>) -> Result<(u16, Value), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        ("POST", Some(b)) => agent.post(url).send_json(b),
        ("PATCH", Some(b)) => agent.patch(url).send_json(b),
        ("PUT", Some(b)) => agent.put(url).send_json(b),
        (m, _) => panic!("unsupported request {m}"),
    };
    let mut response = response.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// A receiver joined to a multicast group on the loopback interface.
pub fn join(group: SocketAddr) -> UdpSocket {
    let SocketAddr::V4(v4) = group else {
        panic!("IPv4 groups only: {group}")
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, None).expect("socket");
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    s.bind(&SocketAddr::V4(v4).into()).expect("bind the group");
    s.join_multicast_v4(v4.ip(), &Ipv4Addr::LOCALHOST)
        .expect("join on lo");
    let _ = s.set_recv_buffer_size(8 << 20);
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    s.into()
}

/// Datagrams received, with their arrival times.
pub struct Capture {
    pub datagrams: Vec<(Instant, Vec<u8>)>,
}

impl Capture {
    pub fn bytes(&self) -> Vec<u8> {
        self.datagrams
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect()
    }
}

/// Receives several groups at once for `duration`.
pub fn capture(groups: &[SocketAddr], duration: Duration) -> Vec<Capture> {
    let sockets: Vec<UdpSocket> = groups.iter().map(|g| join(*g)).collect();
    let handles: Vec<_> = sockets
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || {
                let deadline = Instant::now() + duration;
                let mut datagrams = Vec::new();
                let mut buf = [0u8; 2048];
                while Instant::now() < deadline {
                    if let Ok(n) = s.recv(&mut buf) {
                        datagrams.push((Instant::now(), buf[..n].to_vec()));
                    }
                }
                Capture { datagrams }
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("capture thread"))
        .collect()
}

/// `udp://@239.255.1.1:5000` to the group's socket address.
pub fn group_of(multicast_url: &str) -> SocketAddr {
    let u = dvbgate_net::StreamUrl::parse(multicast_url).expect("a stream URL");
    u.address
}

/// ffprobe's view of a TS file: `-show_programs -show_streams` as JSON. Panics (does not
/// skip) when ffprobe is missing: the test command installs it.
pub fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_programs",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (scripts/test installs it)");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ffprobe output: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Writes bytes to a temporary `.ts` file (kept for inspection if the test fails).
pub fn temp_ts(bytes: &[u8]) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new()
        .suffix(".ts")
        .tempfile()
        .expect("temp file");
    std::fs::write(f.path(), bytes).expect("write capture");
    f
}

/// The shared broadcast captures, or `None` with a loud message (tests then skip).
pub fn shared_streams() -> Option<PathBuf> {
    let dir = std::env::var_os("DVBGATE_SHARED_STREAMS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/streams"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n*** SKIPPED: the broadcast captures are not here ({}); set DVBGATE_SHARED_STREAMS to run this test ***\n",
            dir.display()
        );
        None
    }
}

/// Runs a command and returns (success, stdout+stderr).
pub fn run_tool(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// True when we may create network namespaces (root with `ip` available).
pub fn can_use_netns() -> bool {
    nix::unistd::geteuid().is_root()
        && Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// A loopback-only network namespace that routes all multicast to `lo`; removed on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("dvbgate-{tag}-{}", std::process::id());
        let ok = |args: &[&str]| {
            let (ok, text) = run_tool(Command::new("ip").args(args));
            assert!(ok, "ip {args:?}: {text}");
        };
        ok(&["netns", "add", &name]);
        ok(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ok(&[
            "netns",
            "exec",
            &name,
            "ip",
            "route",
            "add",
            "224.0.0.0/4",
            "dev",
            "lo",
        ]);
        Netns { name }
    }

    /// A command to run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A free UDP port on loopback.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A multicast address parsed, for brevity in tests.
pub fn v4(s: &str) -> SocketAddrV4 {
    s.parse().expect("IPv4 socket address")
}

/// The bundled demo multiplex (3.3 Mbit/s CBR, 4 services).
pub fn demo_mux() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/dvbgate/assets/demo-mux.ts")
}

/// Sends a TS file over UDP from loopback, in 7-packet datagrams, looping, until dropped.
/// `burst` > 0 sends that much stream time at once, then waits: a bursty sender.
pub struct Feeder {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Feeder {
    pub fn start(file: &Path, to: SocketAddr, bitrate: u64, burst: Duration) -> Feeder {
        let data = std::fs::read(file).expect("read the file to feed");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, None).expect("socket");
            s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
                .expect("bind to loopback");
            // Bound to loopback, multicast leaves on lo even where IP_MULTICAST_IF is not
            // implemented (qemu user mode).
            let _ = s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST);
            s.set_multicast_ttl_v4(0).expect("TTL 0");
            let to = socket2::SockAddr::from(to);
            let per_datagram = Duration::from_secs_f64(1316.0 * 8.0 / bitrate as f64);
            let start = Instant::now();
            let mut sent = 0u64;
            'outer: loop {
                for chunk in data.chunks(1316) {
                    if flag.load(std::sync::atomic::Ordering::Relaxed) {
                        break 'outer;
                    }
                    let _ = s.send_to(chunk, &to);
                    sent += 1;
                    let due = start + per_datagram * sent as u32;
                    // A bursty sender lets a whole burst's worth pile up, then sends it.
                    let wake = if burst.is_zero() {
                        due
                    } else {
                        start + burst * ((due - start).as_nanos() / burst.as_nanos()) as u32
                    };
                    if let Some(wait) = wake.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            }
            sent
        });
        Feeder {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
