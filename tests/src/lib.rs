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
    /// The administrator's API token (from the file the daemon names on stdout):
    /// `get` and `send` authenticate with it.
    pub token: Option<String>,
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
                let token = api_token(&stdout.lock().expect("lines"));
                return Daemon {
                    child,
                    http,
                    token,
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

    /// GET as the administrator, returning (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        request_as(self.token.as_deref(), "GET", &self.url(path), None)
    }

    /// A request as the administrator.
    pub fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        request_as(self.token.as_deref(), method, &self.url(path), Some(body))
    }

    /// The line the daemon printed that starts with `prefix` (e.g. `setup code: `), without
    /// the prefix.
    pub fn printed(&self, prefix: &str) -> Option<String> {
        self.stdout
            .lock()
            .expect("lines")
            .iter()
            .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_string()))
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

/// The API token whose file the daemon named on stdout (`API token file: PATH`).
fn api_token(stdout: &[String]) -> Option<String> {
    let path = stdout
        .iter()
        .find_map(|l| l.strip_prefix("API token file:"))?;
    let token = std::fs::read_to_string(path.trim())
        .unwrap_or_else(|e| panic!("the daemon's API token file {}: {e}", path.trim()));
    Some(token.trim().to_string())
}

/// A plain HTTP request, without credentials; any status is returned, not turned into
/// an error.
pub fn request(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    request_as(None, method, url, body)
}

/// A request with `Authorization: Bearer <token>` when a token is given.
pub fn request_as(
    token: Option<&str>,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    try_request_as(token, method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Like [`request`], but a failed connection is an `Err` (the server may have been killed).
pub fn try_request(method: &str, url: &str, body: Option<Value>) -> Result<(u16, Value), String> {
    try_request_as(None, method, url, body)
}

/// Like [`request_as`], but a failed connection is an `Err`.
pub fn try_request_as(
    token: Option<&str>,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let bearer = token.map(|t| format!("Bearer {t}"));
    let auth = bearer.as_deref().unwrap_or("");
    // ureq sends an empty header as given; only add it with a token.
    macro_rules! with_auth {
        ($builder:expr) => {{
            let b = $builder;
            if token.is_some() {
                b.header("Authorization", auth)
            } else {
                b
            }
        }};
    }
    let response = match (method, body) {
        ("GET", _) => with_auth!(agent.get(url)).call(),
        ("DELETE", _) => with_auth!(agent.delete(url)).call(),
        ("POST", Some(b)) => with_auth!(agent.post(url)).send_json(b),
        ("PATCH", Some(b)) => with_auth!(agent.patch(url)).send_json(b),
        ("PUT", Some(b)) => with_auth!(agent.put(url)).send_json(b),
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

/// Every capture (`*.ts`) of the shared streams folder, sorted; `None`, said loudly, when
/// the folder is absent.
pub fn shared_captures() -> Option<Vec<PathBuf>> {
    let dir = shared_streams()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "expected the captures listed in PROVENANCE.md in {}",
        dir.display()
    );
    Some(files)
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

// ---------------------------------------------------------------------------------------
// HTTP streaming (issue 4): raw HTTP/1.1, playlists, segment heads, ffprobe's keyframes,
// and the Node.js checkers of tests/browser.

/// An HTTP response read whole.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From connecting to the end of the body.
    pub elapsed: Duration,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Status, headers and the start of the body, for assertion messages.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        format!(
            "HTTP {} {:?} ({} bytes) {body:?}",
            self.status,
            self.headers,
            self.body.len()
        )
    }
}

/// `GET path` over a fresh connection, the path sent byte for byte as given (no
/// normalisation, unlike an HTTP library: path traversal tests need that). `headers` are
/// added; `Host` is the address unless given. Panics on I/O errors.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    try_http_get(addr, path, headers).unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"))
}

/// Like [`http_get`], with I/O errors returned.
pub fn try_http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    use std::io::{Read, Write};
    let start = Instant::now();
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // The first playlist request of a channel waits for its first segment (< 15 s).
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request_head(addr, path, headers).as_bytes())?;
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_response_head(&mut reader)?;
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut body = Vec::new();
    let bodiless = status == 204 || status == 304 || (100..200).contains(&status);
    if bodiless {
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        ChunkedReader::new(reader).read_to_end(&mut body)?;
    } else if let Some(len) = find("content-length") {
        let len: u64 = len.trim().parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("Content-Length {len:?}"),
            )
        })?;
        reader.take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} of {len} body bytes", body.len()),
            ));
        }
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
        elapsed: start.elapsed(),
    })
}

/// The request line and headers of a `GET` that asks the server to close afterwards.
pub fn request_head(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut head = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Reads a status line and headers; names are returned in lower case.
pub fn read_response_head(r: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a status line",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("connection closed within the headers".into()));
        }
        let l = line.trim_end();
        if l.is_empty() {
            return Ok((status, headers));
        }
        let (n, v) = l
            .split_once(':')
            .ok_or_else(|| bad(format!("header line {l:?}")))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
}

/// Decodes an HTTP/1.1 chunked body as it streams in (trailers are skipped). A connection
/// that ends without the last, empty chunk is an `UnexpectedEof` error: the server cut it.
pub struct ChunkedReader<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> ChunkedReader<R> {
    pub fn new(inner: R) -> Self {
        ChunkedReader {
            inner,
            left: 0,
            done: false,
        }
    }

    /// True once the last chunk was read: the server ended the body properly.
    pub fn finished(&self) -> bool {
        self.done
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.inner.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            ));
        }
        Ok(line)
    }
}

impl<R: BufRead> std::io::Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let line = self.line()?;
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("chunk size line {line:?}"),
                )
            })?;
            if self.left == 0 {
                while !self.line()?.trim().is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left -= n;
        if self.left == 0 {
            let crlf = self.line()?;
            if !crlf.trim().is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("chunk not followed by CRLF: {crlf:?}"),
                ));
            }
        }
        Ok(n)
    }
}

/// A media playlist, read by a deliberately small parser of our own (the strict check is
/// hls-parser's, in [`check_playlist`]); enough to follow a live window.
#[derive(Clone, Debug)]
pub struct MediaPlaylist {
    pub version: Option<u64>,
    pub target_duration: u64,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub endlist: bool,
    pub segments: Vec<PlaylistSegment>,
}

#[derive(Clone, Debug)]
pub struct PlaylistSegment {
    /// `EXT-X-MEDIA-SEQUENCE` plus the position in the playlist.
    pub sequence: u64,
    pub uri: String,
    pub duration: f64,
    pub discontinuity: bool,
    pub program_date_time: Option<String>,
}

/// Parses a media playlist; a master playlist or a malformed one is an error.
pub fn parse_media_playlist(text: &str) -> Result<MediaPlaylist, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err(format!("no #EXTM3U first: {text:?}"));
    }
    let number = |tag: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("{tag}:{v} is not an integer"))
    };
    let mut p = MediaPlaylist {
        version: None,
        target_duration: 0,
        media_sequence: 0,
        discontinuity_sequence: 0,
        endlist: false,
        segments: Vec::new(),
    };
    let mut target = None;
    let (mut duration, mut discontinuity, mut pdt) = (None, false, None);
    for l in lines {
        if let Some(v) = l.strip_prefix("#EXT-X-VERSION:") {
            p.version = Some(number("EXT-X-VERSION", v)?);
        } else if let Some(v) = l.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = Some(number("EXT-X-TARGETDURATION", v)?);
        } else if let Some(v) = l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            p.media_sequence = number("EXT-X-MEDIA-SEQUENCE", v)?;
        } else if let Some(v) = l.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            p.discontinuity_sequence = number("EXT-X-DISCONTINUITY-SEQUENCE", v)?;
        } else if l == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if l == "#EXT-X-ENDLIST" {
            p.endlist = true;
        } else if let Some(v) = l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pdt = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().unwrap_or("");
            duration = Some(
                d.parse::<f64>()
                    .map_err(|_| format!("EXTINF:{v} has no duration"))?,
            );
        } else if l.starts_with("#EXT-X-STREAM-INF") {
            return Err("a master playlist, not a media playlist".into());
        } else if !l.starts_with('#') {
            let duration = duration
                .take()
                .ok_or_else(|| format!("segment {l} without EXTINF"))?;
            p.segments.push(PlaylistSegment {
                sequence: p.media_sequence + p.segments.len() as u64,
                uri: l.to_string(),
                duration,
                discontinuity: std::mem::take(&mut discontinuity),
                program_date_time: pdt.take(),
            });
        }
    }
    p.target_duration = target.ok_or("no EXT-X-TARGETDURATION")?;
    Ok(p)
}

/// Resolves a playlist URI against the path of the playlist that names it; absolute
/// `http://host/path` URIs give their path.
pub fn resolve_uri(base_path: &str, uri: &str) -> String {
    if let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    {
        return rest
            .find('/')
            .map_or_else(|| "/".to_string(), |i| rest[i..].to_string());
    }
    if uri.starts_with('/') {
        return uri.to_string();
    }
    let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
    format!("{dir}{uri}")
}

/// A channel's HLS as a player finds it: `index.m3u8`, and behind it (when that is a
/// master playlist) the media playlist.
#[derive(Clone, Debug)]
pub struct Hls {
    /// The master playlist's text, when `index.m3u8` is one.
    pub master: Option<String>,
    /// The path of the media playlist (`index.m3u8` itself when there is no master).
    pub media_path: String,
    pub playlist: MediaPlaylist,
    /// How long `index.m3u8` took to answer.
    pub first_answer: Duration,
}

impl Hls {
    /// Path of a segment of the playlist.
    pub fn segment_path(&self, s: &PlaylistSegment) -> String {
        resolve_uri(&self.media_path, &s.uri)
    }
}

/// Fetches `/hls/{number}/index.m3u8` (and its media playlist). `Err` holds the response
/// when `index.m3u8` is not a 200; a 200 that is not a playlist panics.
pub fn fetch_hls(addr: SocketAddr, number: u64) -> Result<Hls, HttpResponse> {
    let index = format!("/hls/{number}/index.m3u8");
    let r = http_get(addr, &index, &[]);
    if r.status != 200 {
        return Err(r);
    }
    let text = r.text();
    if !text.contains("#EXT-X-STREAM-INF") {
        let playlist = parse_media_playlist(&text).unwrap_or_else(|e| panic!("{index}: {e}"));
        return Ok(Hls {
            master: None,
            media_path: index,
            playlist,
            first_answer: r.elapsed,
        });
    }
    let variant = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("#EXT-X-STREAM-INF"))
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("{index}: a variant without URI:\n{text}"));
    let media_path = resolve_uri(&index, variant);
    let m = http_get(addr, &media_path, &[]);
    assert_eq!(m.status, 200, "{media_path}: {}", m.describe());
    let playlist = parse_media_playlist(&m.text()).unwrap_or_else(|e| panic!("{media_path}: {e}"));
    Ok(Hls {
        master: Some(text),
        media_path,
        playlist,
        first_answer: r.elapsed,
    })
}

/// What the first packets of a segment (or of an HTTP TS stream) hold.
#[derive(Clone, Debug)]
pub struct SegmentHead {
    pub program_number: u16,
    pub pmt_pid: u16,
    /// The PMT's elementary streams: PID, kind and codec as ffprobe names them.
    pub streams: Vec<(u16, dvbgate_ts::tables::pmt::StreamKind, &'static str)>,
    /// The stream the segment must start with: the PMT's first video stream, else its
    /// first audio stream.
    pub primary: Option<u16>,
    /// Packets per PID in the whole of the bytes.
    pub packets: std::collections::BTreeMap<u16, u64>,
}

impl SegmentHead {
    /// PIDs of the PMT's streams of that kind, in PMT order.
    pub fn pids_of(&self, kind: dvbgate_ts::tables::pmt::StreamKind) -> Vec<u16> {
        self.streams
            .iter()
            .filter(|s| s.1 == kind)
            .map(|s| s.0)
            .collect()
    }

    pub fn carries(&self, pid: u16) -> bool {
        self.packets.get(&pid).is_some_and(|n| *n > 0)
    }
}

/// The section that starts in `packets[0]` (pointer field honoured), continued in the
/// following packets of the same PID when it is longer than one packet, cut to its length.
fn section_at(packets: &[&[u8; 188]]) -> Option<Vec<u8>> {
    use dvbgate_ts::packet;
    let first = packets.first()?;
    if !packet::payload_unit_start(first) {
        return None;
    }
    let pid = packet::pid(first);
    let payload = packet::payload(first)?;
    let mut s = payload.get(1 + usize::from(*payload.first()?)..)?.to_vec();
    let len = 3 + (usize::from(*s.get(1)? & 0x0F) << 8 | usize::from(*s.get(2)?));
    for p in packets[1..].iter().filter(|p| packet::pid(p) == pid) {
        if s.len() >= len || packet::payload_unit_start(p) {
            break;
        }
        s.extend_from_slice(packet::payload(p)?);
    }
    s.truncate(len);
    (s.len() == len).then_some(s)
}

/// Checks that `bytes` start as every HLS segment and every HTTP TS stream must: whole
/// packets, a PAT (one program) first, that program's PMT second, and then, before any
/// other elementary stream packet, the start of a PES packet of the primary stream (the
/// keyframe itself is judged by ffprobe: [`first_video_frame`]).
pub fn segment_head(bytes: &[u8]) -> Result<SegmentHead, String> {
    use dvbgate_ts::packet;
    use dvbgate_ts::section::Section;
    use dvbgate_ts::tables::{pat, pmt};
    if bytes.len() < 3 * 188 || !bytes.len().is_multiple_of(188) {
        return Err(format!("{} bytes: not whole TS packets", bytes.len()));
    }
    let packets: Vec<&[u8; 188]> = bytes
        .chunks_exact(188)
        .map(|c| c.try_into().expect("188 bytes"))
        .collect();
    if let Some(i) = packets.iter().position(|p| p[0] != 0x47) {
        return Err(format!("packet {i} has no sync byte"));
    }
    let mut counts = std::collections::BTreeMap::new();
    for p in &packets {
        *counts.entry(packet::pid(p)).or_insert(0u64) += 1;
    }
    let first = packets[0];
    if packet::pid(first) != 0 {
        return Err(format!(
            "the first packet is PID {:#x}, not the PAT",
            packet::pid(first)
        ));
    }
    let pat = section_at(&packets[..1])
        .as_deref()
        .and_then(|s| Section::new(s).ok())
        .and_then(|s| pat::parse(&s).ok())
        .ok_or("the first packet does not hold a whole PAT section")?;
    let [(program_number, pmt_pid)] = pat.programs[..] else {
        return Err(format!("the PAT lists {:?}, not one program", pat.programs));
    };
    let second = packets[1];
    if packet::pid(second) != pmt_pid {
        return Err(format!(
            "the second packet is PID {:#x}, not the PMT ({pmt_pid:#x})",
            packet::pid(second)
        ));
    }
    let section =
        section_at(&packets[1..]).ok_or("no whole section starts in the second packet")?;
    let section = Section::new(&section).map_err(|e| format!("PMT section: {e:?}"))?;
    let table = pmt::parse(&section).map_err(|e| format!("PMT: {e}"))?;
    if table.program_number != program_number {
        return Err(format!(
            "the PMT is program {}, the PAT's is {program_number}",
            table.program_number
        ));
    }
    let registration = table.registration();
    let streams: Vec<_> = table
        .streams()
        .map(|s| {
            let (kind, codec) = pmt::classify(s.stream_type, s.es_info, registration);
            (s.pid, kind, codec)
        })
        .collect();
    use dvbgate_ts::tables::pmt::StreamKind::{Audio, Video};
    let primary = streams
        .iter()
        .find(|s| s.1 == Video)
        .or_else(|| streams.iter().find(|s| s.1 == Audio))
        .map(|s| s.0);
    if let Some(primary) = primary {
        let first_es = packets[2..]
            .iter()
            .find(|p| streams.iter().any(|s| s.0 == packet::pid(p)));
        match first_es {
            None => return Err("no elementary stream packet at all".into()),
            Some(p) if packet::pid(p) != primary => {
                return Err(format!(
                    "the first elementary stream packet after PAT and PMT is PID {:#x}, not the \
                     primary stream {primary:#x}",
                    packet::pid(p)
                ));
            }
            Some(p) if !packet::payload_unit_start(p) => {
                return Err(format!(
                    "the first packet of the primary stream {primary:#x} does not start a PES \
                     packet"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(SegmentHead {
        program_number,
        pmt_pid,
        streams,
        primary,
        packets: counts,
    })
}

/// ffprobe's verdict on the first video packet and frame of a TS file.
#[derive(Clone, Debug)]
pub struct FirstVideo {
    pub codec: String,
    /// The demuxer/parser flags the first packet as a keyframe.
    pub packet_key: bool,
    /// The first frame the decoder put out: `(key_frame, pict_type)`; `None`: none decoded.
    pub frame: Option<(bool, String)>,
}

impl FirstVideo {
    /// The stream starts with a keyframe that decodes as one.
    pub fn starts_with_keyframe(&self) -> bool {
        self.packet_key
            && self
                .frame
                .as_ref()
                .is_some_and(|(key, pict)| *key && pict == "I")
    }
}

/// The first video packet and decoded frame of a TS file, per ffprobe; `None` when the
/// file has no video packet.
pub fn first_video_frame(path: &Path) -> Option<FirstVideo> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "quiet",
            "-select_streams",
            "v:0",
            "-show_streams",
            "-show_packets",
            "-show_frames",
            "-show_entries",
            "stream=codec_name:packet=flags:frame=key_frame,pict_type",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (scripts/test installs it)");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let items = v["packets_and_frames"].as_array()?;
    let packet = items.iter().find(|i| i["type"] == "packet")?;
    let frame = items.iter().find(|i| i["type"] == "frame").map(|f| {
        (
            f["key_frame"].as_u64() == Some(1),
            f["pict_type"].as_str().unwrap_or("?").to_string(),
        )
    });
    Some(FirstVideo {
        codec: v["streams"][0]["codec_name"]
            .as_str()
            .unwrap_or("?")
            .to_string(),
        packet_key: packet["flags"].as_str().is_some_and(|f| f.contains('K')),
        frame,
    })
}

/// tests/browser: the Node.js checkers (play-hls.mjs, check-playlist.mjs).
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Whether Node.js and tests/browser's npm `modules` are here (and, when `chromium`, a
/// browser). When not: with `DVBGATE_REQUIRE_BROWSER=1` (the test command) a panic, else a
/// loud skip message and `false`.
pub fn node_tools(what: &str, modules: &[&str], chromium: bool) -> bool {
    let mut missing = Vec::new();
    if !Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        missing.push("node".to_string());
    }
    for m in modules {
        if !browser_dir().join("node_modules").join(m).is_dir() {
            missing.push(format!("tests/browser/node_modules/{m}"));
        }
    }
    if chromium {
        let env = std::env::var_os("DVBGATE_CHROMIUM").map(PathBuf::from);
        let found = env
            .into_iter()
            .chain(["/usr/lib/chromium/chromium", "/usr/bin/chromium"].map(PathBuf::from))
            .any(|p| p.is_file());
        if !found {
            missing.push("chromium (DVBGATE_CHROMIUM)".to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{what}: missing {}; run scripts/test which installs it (ensure_browser in \
         scripts/lib/browser.sh)",
        missing.join(", ")
    );
    if std::env::var("DVBGATE_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("DVBGATE_REQUIRE_BROWSER=1 and {message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    false
}

/// Runs `node tests/browser/check-playlist.mjs URL` (hls-parser in strict mode): its exit
/// code and its JSON line (`Value::Null` when it printed none; stderr then in `error`).
pub fn check_playlist(url: &str) -> (i32, Value) {
    let out = Command::new("node")
        .arg(browser_dir().join("check-playlist.mjs"))
        .arg(url)
        .output()
        .expect("node runs (checked by node_tools first)");
    let code = out.status.code().unwrap_or(-1);
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if v.is_null() {
        v = serde_json::json!({ "error": String::from_utf8_lossy(&out.stderr) });
    }
    (code, v)
}
