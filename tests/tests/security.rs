//! The administrator's protection against the real daemon, over real sockets: every
//! administrator endpoint refuses strangers (401) and sessions without their CSRF token
//! (403); first boot goes through the setup code the daemon prints; the web page's
//! files cannot be escaped; bodies are bounded; a client trickling its headers is cut
//! off while others are served.

use dvbgate_e2e::{Daemon, read_response_head};
use serde_json::{Value, json};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The demo's administrator password (`dvbgate demo` without `--first-boot`).
const DEMO_PASSWORD: &str = "dvbgate-demo";

/// Every administrator endpoint, with a method it serves.
const ADMIN_ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/api/v1/channels"),
    ("PATCH", "/api/v1/channels/1"),
    ("DELETE", "/api/v1/channels/1"),
    ("POST", "/api/v1/channels/bulk"),
    ("GET", "/api/v1/channels/1/epg"),
    ("DELETE", "/api/v1/session"),
    ("PUT", "/api/v1/admin/password"),
    ("GET", "/api/v1/inputs"),
    ("POST", "/api/v1/inputs"),
    ("GET", "/api/v1/inputs/1"),
    ("PATCH", "/api/v1/inputs/1"),
    ("DELETE", "/api/v1/inputs/1"),
    ("GET", "/api/v1/settings"),
    ("PUT", "/api/v1/settings"),
    ("GET", "/api/v1/tuners"),
    ("GET", "/api/v1/tuners/adapter0/frontend0"),
    ("PATCH", "/api/v1/tuners/adapter0/frontend0"),
    ("GET", "/api/v1/scans"),
    ("POST", "/api/v1/scans"),
    ("GET", "/api/v1/scans/1"),
    ("DELETE", "/api/v1/scans/1"),
    ("GET", "/api/v1/tuning-files"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/1"),
    ("PATCH", "/api/v1/users/1"),
    ("DELETE", "/api/v1/users/1"),
    ("GET", "/api/v1/categories"),
    ("POST", "/api/v1/categories"),
    ("PATCH", "/api/v1/categories/1"),
    ("DELETE", "/api/v1/categories/1"),
    ("GET", "/api/v1/epg"),
    ("GET", "/api/v1/backup"),
    ("POST", "/api/v1/restore"),
    ("GET", "/api/v1/system/interfaces"),
    ("POST", "/api/v1/system/reboot"),
    ("POST", "/api/v1/system/factory-reset"),
    ("GET", "/api/v1/live"),
    ("GET", "/api/v1/history"),
    ("GET", "/api/v1/logs"),
    ("GET", "/metrics"),
];

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn describe(&self) -> String {
        format!(
            "HTTP {} {:?}",
            self.status,
            String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
        )
    }
}

/// One request over a fresh connection, the path sent byte for byte; the answer's
/// head, and its body when it has a length (an endless stream's is not read).
fn raw(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send the head");
    // The body goes from another thread while the answer is read: a refusal may come
    // before the whole body is sent (the rest then fails to go, and is no error here).
    let mut writer = stream.try_clone().expect("clone the socket");
    let body = body.to_vec();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&body);
    });
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_response_head(&mut reader).expect("a response");
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok());
    let mut body = Vec::new();
    if let Some(length) = length {
        (&mut reader)
            .take(length)
            .read_to_end(&mut body)
            .expect("the body");
    }
    // Ends a send the server stopped taking.
    let _ = reader.get_ref().shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    Reply {
        status,
        headers,
        body,
    }
}

/// Logs in with the demo's password: (cookie header value, CSRF token).
fn login(addr: SocketAddr) -> (String, String) {
    let r = raw(
        addr,
        "POST",
        "/api/v1/session",
        &[],
        json!({ "password": DEMO_PASSWORD }).to_string().as_bytes(),
    );
    session_of(&r)
}

fn session_of(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.describe());
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let csrf = r.json()["csrf"].as_str().expect("a CSRF token").to_string();
    (cookie, csrf)
}

#[test]
fn every_admin_endpoint_refuses_strangers_and_missing_csrf_tokens() {
    let d = Daemon::demo(&[]);
    let addr = d.http;
    let (cookie, csrf) = login(addr);
    for &(method, path) in ADMIN_ENDPOINTS {
        let r = raw(addr, method, path, &[], b"{}");
        assert_eq!(r.status, 401, "{method} {path}: {}", r.describe());
        assert_eq!(
            r.json(),
            json!({"error": "log in first"}),
            "{method} {path}"
        );
        let token = d.token.as_deref().expect("the daemon's API token");
        let wrong = format!("Bearer {}", token.replace(|c: char| c != 'A', "B"));
        let r = raw(addr, method, path, &[("Authorization", &wrong)], b"{}");
        assert_eq!(r.status, 401, "{method} {path} with a wrong token");
        if method != "GET" {
            let r = raw(addr, method, path, &[("Cookie", &cookie)], b"{}");
            assert_eq!(
                r.status,
                403,
                "{method} {path} without CSRF: {}",
                r.describe()
            );
            let r = raw(
                addr,
                method,
                path,
                &[("Cookie", &cookie), ("X-CSRF-Token", "not-it")],
                b"{}",
            );
            assert_eq!(r.status, 403, "{method} {path} with a wrong CSRF token");
        }
    }
    // The session itself works: a read, and a change with its CSRF token.
    let r = raw(addr, "GET", "/api/v1/settings", &[("Cookie", &cookie)], b"");
    assert_eq!(r.status, 200, "{}", r.describe());
    let r = raw(
        addr,
        "POST",
        "/api/v1/categories",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        json!({"name": "Sport"}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.describe());
    // And so does the API token (what `Daemon::get` sends).
    let (status, _) = d.get("/api/v1/inputs");
    assert_eq!(status, 200);
    // The lineup stays open.
    let r = raw(addr, "GET", "/api/v1/channels", &[], b"");
    assert_eq!(r.status, 200);
    let r = raw(addr, "GET", "/playlist/multicast.csv", &[], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn first_boot_asks_for_the_printed_setup_code() {
    let d = Daemon::demo(&["--first-boot"]);
    let addr = d.http;
    let code = d
        .printed("setup code: ")
        .expect("the daemon prints a setup code");
    assert_eq!(code.len(), 14, "{code}");
    let r = raw(addr, "GET", "/api/v1/session", &[], b"");
    assert_eq!(r.json()["setup_required"], true);
    let r = raw(
        addr,
        "POST",
        "/api/v1/session",
        &[],
        json!({ "password": DEMO_PASSWORD }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 409, "no password yet: {}", r.describe());
    let setup = |code: &str| {
        raw(
            addr,
            "POST",
            "/api/v1/session/setup",
            &[],
            json!({"setup_code": code, "password": "hotel admin 1"})
                .to_string()
                .as_bytes(),
        )
    };
    assert_eq!(setup("AAAA-AAAA-AAAA").status, 403);
    let (cookie, _) = session_of(&setup(&code.to_lowercase()));
    assert_eq!(setup(&code).status, 409, "the code is spent");
    let r = raw(addr, "GET", "/api/v1/inputs", &[("Cookie", &cookie)], b"");
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[test]
fn the_web_page_cannot_be_escaped_and_bodies_are_bounded() {
    let d = Daemon::demo(&[]);
    let addr = d.http;
    for path in [
        "/ui/..%2f..%2fetc%2fpasswd",
        "/ui/../../etc/passwd",
        "/ui/%2e%2e/%2e%2e/etc/passwd",
        "/ui/..%5c..%5cetc%5cpasswd",
        "/../../etc/passwd",
    ] {
        let r = raw(addr, "GET", path, &[], b"");
        assert_eq!(r.status, 404, "{path}: {}", r.describe());
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{path}"
        );
    }
    // 64 KiB of body at most, anywhere but the restore (4 MiB), with or without login.
    let big = vec![b' '; 100 << 10];
    let r = raw(addr, "POST", "/api/v1/session", &[], &big);
    assert_eq!(r.status, 413, "{}", r.describe());
    let token = format!("Bearer {}", d.token.as_deref().expect("API token"));
    let r = raw(
        addr,
        "PUT",
        "/api/v1/settings",
        &[("Authorization", &token)],
        &big,
    );
    assert_eq!(r.status, 413, "{}", r.describe());
    let huge = vec![b' '; 5 << 20];
    let r = raw(
        addr,
        "POST",
        "/api/v1/restore",
        &[("Authorization", &token)],
        &huge,
    );
    assert_eq!(r.status, 413, "{}", r.describe());
    // Within the restore's limit, a body that is no backup is refused for what it is.
    let r = raw(
        addr,
        "POST",
        "/api/v1/restore",
        &[("Authorization", &token)],
        &big,
    );
    assert_eq!(r.status, 422, "{}", r.describe());
}

#[test]
fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    let d = Daemon::demo(&[]);
    let addr = d.http;
    let mut slow = TcpStream::connect(addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: box\r\n")
        .unwrap();
    let start = Instant::now();
    let mut cut_off = None;
    let mut served = 0;
    // The server allows 10 s for the headers; the trickler sends a header line every
    // half second and never ends them.
    while start.elapsed() < Duration::from_secs(16) {
        let line = format!("X-Trickle-{}: {}\r\n", served, "a".repeat(8));
        let wrote = slow.write_all(line.as_bytes());
        let mut buf = [0u8; 512];
        let read = slow.read(&mut buf);
        let closed = match (&wrote, &read) {
            (Err(_), _) => true,
            (_, Ok(0)) => true,
            (_, Ok(_)) => true, // an answer (408) ends it too
            (_, Err(e)) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        if closed {
            cut_off = Some(start.elapsed());
            break;
        }
        // Meanwhile, another client is served at once.
        let t = Instant::now();
        let r = raw(addr, "GET", "/healthz", &[], b"");
        assert_eq!(r.status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "served in {:?}",
            t.elapsed()
        );
        served += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let cut_off = cut_off.expect("the trickling client was never cut off");
    assert!(
        cut_off >= Duration::from_secs(8),
        "cut off after {cut_off:?}: too early for a 10 s header timeout"
    );
    assert!(served >= 10, "others were served meanwhile ({served})");
}

#[test]
fn reboot_in_the_demo_restarts_the_pipelines() {
    let d = Daemon::demo(&[]);
    d.wait_live(1, Duration::from_secs(20));
    let packets = || -> u64 {
        let (_, inputs) = d.get("/api/v1/inputs");
        inputs[0]["packets"].as_u64().expect("packets")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while packets() < 20_000 {
        assert!(Instant::now() < deadline, "the input runs");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = packets();
    let (status, v) = d.send("POST", "/api/v1/system/reboot", json!({}));
    assert_eq!(status, 202, "{v}");
    assert_eq!(v, json!({"action": "restart-pipelines"}));
    // A new pipeline counts from zero.
    let deadline = Instant::now() + Duration::from_secs(5);
    while packets() >= before {
        assert!(
            Instant::now() < deadline,
            "the input's pipeline was not restarted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d.wait_live(1, Duration::from_secs(15));
    assert!(
        d.stderr_text()
            .contains("every pipeline was stopped and started again"),
        "{}",
        d.stderr_text()
    );
}
