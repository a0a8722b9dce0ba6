//! The administrator's login and the routes behind it, through the real router with a
//! real Supervisor on a temporary store (no pipeline runs: the channels' input is a file
//! that is never opened).

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderMap, Request, StatusCode, header};
use bytes::Bytes;
use dvbgate_api::{AppOptions, AppState, RebootAction, router};
use dvbgate_control::{Supervisor, SupervisorOptions};
use dvbgate_store::{NewUser, Store};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const LAN: [u8; 4] = [192, 168, 1, 50];
const PASSWORD: &str = "correct horse battery";
const CSRF_REFUSAL: &str = "missing or wrong CSRF token (send the X-CSRF-Token header)";

struct Box {
    router: Router,
    app: Arc<AppState>,
    store: Arc<Store>,
    dir: tempfile::TempDir,
}

/// A box with three channels and an XC user; `password`: the administrator's, or setup.
fn a_box(password: Option<&str>, reboot: RebootAction) -> Box {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
    let input = store
        .add_input(
            serde_json::from_value(
                json!({"name": "mux", "url": "file:///nonexistent.ts", "enabled": false}),
            )
            .unwrap(),
        )
        .expect("input");
    for (service, name) in [(101u16, "One \"HD\""), (102, "Two, Three"), (103, "Jazz")] {
        store
            .add_channel(
                serde_json::from_value(
                    json!({"input_id": input.id, "service_id": service, "name": name}),
                )
                .unwrap(),
            )
            .expect("channel");
    }
    store
        .add_user(NewUser::new("room101", "secret"))
        .expect("user");
    if let Some(p) = password {
        store.set_admin_password(p).expect("admin password");
    }
    let sup = Supervisor::new(store.clone(), SupervisorOptions::default());
    let app = AppState::new(
        sup,
        AppOptions {
            data_dir: Some(dir.path().to_path_buf()),
            reboot,
            ..AppOptions::default()
        },
    );
    // As `serve` does: 64 KiB of body unless a route says otherwise.
    let router = router(app.clone()).layer(DefaultBodyLimit::max(64 * 1024));
    Box {
        router,
        app,
        store,
        dir,
    }
}

fn with_password() -> Box {
    a_box(Some(PASSWORD), RebootAction::RestartPipelines)
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Whether this is the guard's refusal (and not a handler's own 401).
    fn is_login_first(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
            && serde_json::from_slice::<Value>(&self.body).ok()
                == Some(json!({"error": "log in first"}))
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Token(&'a str),
    /// Cookie token and, if any, the CSRF header.
    Session(&'a str, Option<&'a str>),
}

async fn call(
    b: &Box,
    from: [u8; 4],
    who: As<'_>,
    method: &str,
    uri: &str,
    extra: &[(&str, &str)],
    body: Option<Body>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "192.0.2.10:8080");
    match who {
        As::Nobody => {}
        As::Token(t) => request = request.header(header::AUTHORIZATION, format!("Bearer {t}")),
        As::Session(cookie, csrf) => {
            request = request.header(
                header::COOKIE,
                format!("theme=dark; dvbgate_session={cookie}"),
            );
            if let Some(c) = csrf {
                request = request.header("X-CSRF-Token", c);
            }
        }
    }
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let has_body = body.is_some();
    if has_body {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request.body(body.unwrap_or_else(Body::empty)).unwrap();
    let response = b
        .router
        .clone()
        .layer(axum::Extension(ConnectInfo(SocketAddr::from((
            from, 40000,
        )))))
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(b: &Box, who: As<'_>, uri: &str) -> Reply {
    call(b, LAN, who, "GET", uri, &[], None).await
}

async fn send(b: &Box, who: As<'_>, method: &str, uri: &str, body: Value) -> Reply {
    call(
        b,
        LAN,
        who,
        method,
        uri,
        &[],
        Some(Body::from(body.to_string())),
    )
    .await
}

fn token(b: &Box) -> String {
    b.app.admin.api_token().to_owned()
}

/// A login: the cookie's token and the CSRF token.
struct Login {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

fn login_of(r: &Reply) -> Login {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let set_cookie = r.header(header::SET_COOKIE).to_owned();
    let cookie = set_cookie
        .strip_prefix("dvbgate_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let v = r.json();
    assert_eq!(v["authenticated"], true);
    assert_eq!(v["setup_required"], false);
    Login {
        cookie,
        csrf: v["csrf"].as_str().expect("a CSRF token").to_owned(),
        set_cookie,
    }
}

async fn login_from(b: &Box, from: [u8; 4], password: &str) -> Reply {
    call(
        b,
        from,
        As::Nobody,
        "POST",
        "/api/v1/session",
        &[],
        Some(Body::from(json!({ "password": password }).to_string())),
    )
    .await
}

async fn login(b: &Box) -> Login {
    login_of(&login_from(b, LAN, PASSWORD).await)
}

#[tokio::test]
async fn the_api_token_is_written_privately_and_works_from_anywhere() {
    let b = with_password();
    let path = b.dir.path().join("api-token");
    assert_eq!(b.app.admin.api_token_file(), Some(path.as_path()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), token(&b));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(token(&b).len(), 43);

    let r = get(&b, As::Token(&token(&b)), "/api/v1/settings").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Changes need no CSRF token with it.
    let settings = r.json();
    let r = send(
        &b,
        As::Token(&token(&b)),
        "PUT",
        "/api/v1/settings",
        settings,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    for who in [As::Nobody, As::Token("not-the-token"), As::Token("")] {
        let r = get(&b, who, "/api/v1/settings").await;
        assert!(r.is_login_first(), "{r:?}");
        assert_eq!(
            r.header(header::WWW_AUTHENTICATE),
            "",
            "no browser dialog outside /metrics"
        );
    }
    // The box's own address grants nothing.
    let r = call(
        &b,
        [127, 0, 0, 1],
        As::Nobody,
        "GET",
        "/api/v1/settings",
        &[],
        None,
    )
    .await;
    assert!(r.is_login_first());
}

#[tokio::test]
async fn first_boot_setup_with_the_code() {
    let b = a_box(None, RebootAction::RestartPipelines);
    let code = b
        .app
        .admin
        .setup_code()
        .expect("a setup code without a password");
    assert_eq!(code.len(), 14);
    assert_eq!(code.matches('-').count(), 2);

    let v = get(&b, As::Nobody, "/api/v1/session").await.json();
    assert_eq!(
        v,
        json!({"setup_required": true, "authenticated": false, "csrf": null,
               "version": env!("CARGO_PKG_VERSION")})
    );
    let r = login_from(&b, LAN, PASSWORD).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    let setup = |code: String, password: &str| json!({"setup_code": code, "password": password});
    let r = send(
        &b,
        As::Nobody,
        "POST",
        "/api/v1/session/setup",
        setup("AAAA-AAAA-AAAA".into(), PASSWORD),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // The right code, typed loosely, but a password the store refuses: nothing is spent.
    let typed = code.replace('-', " ").to_lowercase();
    let r = send(
        &b,
        As::Nobody,
        "POST",
        "/api/v1/session/setup",
        setup(typed.clone(), "short"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(!b.store.admin_password_set().unwrap());
    assert_eq!(b.app.admin.setup_code().as_deref(), Some(code.as_str()));

    let r = send(
        &b,
        As::Nobody,
        "POST",
        "/api/v1/session/setup",
        setup(typed.clone(), PASSWORD),
    )
    .await;
    let session = login_of(&r);
    assert!(b.store.admin_password_set().unwrap());
    assert_eq!(b.app.admin.setup_code(), None, "the code is spent");
    let r = get(&b, As::Session(&session.cookie, None), "/api/v1/inputs").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let r = send(
        &b,
        As::Nobody,
        "POST",
        "/api/v1/session/setup",
        setup(typed, "another password"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(b.store.verify_admin_password(PASSWORD).unwrap());
    login(&b).await;
}

#[tokio::test]
async fn login_cookie_and_csrf() {
    let b = with_password();
    assert_eq!(b.app.admin.setup_code(), None);
    let r = login_from(&b, LAN, "wrong password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json(), json!({"error": "wrong password"}));
    assert_eq!(r.header(header::SET_COOKIE), "");

    let s = login(&b).await;
    assert_eq!(s.cookie.len(), 43);
    assert_eq!(
        s.set_cookie,
        format!(
            "dvbgate_session={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200",
            s.cookie
        )
    );
    // Behind a TLS proxy, the cookie is Secure.
    let r = call(
        &b,
        LAN,
        As::Nobody,
        "POST",
        "/api/v1/session",
        &[("X-Forwarded-Proto", "https")],
        Some(Body::from(json!({ "password": PASSWORD }).to_string())),
    )
    .await;
    let proxied = login_of(&r);
    assert!(
        proxied
            .set_cookie
            .ends_with("; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200; Secure"),
        "{}",
        proxied.set_cookie
    );
    assert_ne!(proxied.cookie, s.cookie);

    let v = get(&b, As::Session(&s.cookie, None), "/api/v1/session")
        .await
        .json();
    assert_eq!(v["authenticated"], true);
    assert_eq!(v["csrf"], s.csrf.as_str());
    assert_eq!(v["setup_required"], false);

    // Reads need the cookie only; changes also the session's CSRF token.
    let r = get(&b, As::Session(&s.cookie, None), "/api/v1/settings").await;
    assert_eq!(r.status, StatusCode::OK);
    let settings = r.json();
    for csrf in [None, Some("wrong"), Some(proxied.csrf.as_str())] {
        let r = send(
            &b,
            As::Session(&s.cookie, csrf),
            "PUT",
            "/api/v1/settings",
            settings.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "CSRF {csrf:?}");
        assert_eq!(r.json(), json!({ "error": CSRF_REFUSAL }));
    }
    let r = send(
        &b,
        As::Session(&s.cookie, Some(&s.csrf)),
        "PUT",
        "/api/v1/settings",
        settings,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A made-up cookie is no session.
    assert!(
        get(&b, As::Session("made-up", None), "/api/v1/settings")
            .await
            .is_login_first()
    );

    // Logout needs the CSRF token too, ends the session and clears the cookie.
    let r = call(
        &b,
        LAN,
        As::Session(&s.cookie, None),
        "DELETE",
        "/api/v1/session",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &b,
        LAN,
        As::Session(&s.cookie, Some(&s.csrf)),
        "DELETE",
        "/api/v1/session",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        r.header(header::SET_COOKIE),
        "dvbgate_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    );
    assert!(
        get(&b, As::Session(&s.cookie, None), "/api/v1/settings")
            .await
            .is_login_first()
    );
    let v = get(&b, As::Session(&s.cookie, None), "/api/v1/session")
        .await
        .json();
    assert_eq!(v["authenticated"], false);
    assert_eq!(v["csrf"], Value::Null);
    // The other session lives on.
    let r = get(&b, As::Session(&proxied.cookie, None), "/api/v1/settings").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn guessing_passwords_and_setup_codes_is_braked_per_address() {
    let b = with_password();
    let guesser = [10, 0, 0, 66];
    for i in 0..5 {
        let r = login_from(&b, guesser, &format!("guess {i}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // Now even the right password is not checked from there.
    let r = login_from(&b, guesser, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    let wait: u64 = r.header(header::RETRY_AFTER).parse().expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(r.json()["error"].as_str().unwrap().contains("try again"));
    login_of(&login_from(&b, LAN, PASSWORD).await);

    let b = a_box(None, RebootAction::RestartPipelines);
    let code = b.app.admin.setup_code().unwrap();
    for _ in 0..5 {
        let r = call(
            &b,
            guesser,
            As::Nobody,
            "POST",
            "/api/v1/session/setup",
            &[],
            Some(Body::from(
                json!({"setup_code": "BBBB-BBBB-BBBB", "password": PASSWORD}).to_string(),
            )),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = call(
        &b,
        guesser,
        As::Nobody,
        "POST",
        "/api/v1/session/setup",
        &[],
        Some(Body::from(
            json!({"setup_code": code, "password": PASSWORD}).to_string(),
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!b.store.admin_password_set().unwrap());
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let b = with_password();
    let a = login(&b).await;
    let other = login(&b).await;
    let change = |current: &str, new: &str| json!({"current": current, "new": new});
    let r = send(
        &b,
        As::Session(&a.cookie, Some(&a.csrf)),
        "PUT",
        "/api/v1/admin/password",
        change("not it", "a new password"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = send(
        &b,
        As::Session(&a.cookie, Some(&a.csrf)),
        "PUT",
        "/api/v1/admin/password",
        change(PASSWORD, "short"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        get(&b, As::Session(&other.cookie, None), "/api/v1/inputs")
            .await
            .status
            .is_success(),
        "refused changes end nothing"
    );
    let r = send(
        &b,
        As::Session(&a.cookie, Some(&a.csrf)),
        "PUT",
        "/api/v1/admin/password",
        change(PASSWORD, "a new password"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(
        get(&b, As::Session(&other.cookie, None), "/api/v1/inputs")
            .await
            .is_login_first()
    );
    assert_eq!(
        get(&b, As::Session(&a.cookie, None), "/api/v1/inputs")
            .await
            .status,
        StatusCode::OK,
        "the session that changed it stays"
    );
    assert_eq!(
        login_from(&b, LAN, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    login_of(&login_from(&b, LAN, "a new password").await);

    // With the API token, every session ends.
    let r = send(
        &b,
        As::Token(&token(&b)),
        "PUT",
        "/api/v1/admin/password",
        change("a new password", PASSWORD),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(
        get(&b, As::Session(&a.cookie, None), "/api/v1/inputs")
            .await
            .is_login_first()
    );
}

/// Every administrator route, with a method it serves (concrete paths).
const ADMIN_ROUTES: &[(&str, &str)] = &[
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

/// Every open route (concrete paths), with a method it serves.
const OPEN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/ui/app.js"),
    ("GET", "/healthz"),
    ("GET", "/api/v1/channels"),
    ("HEAD", "/api/v1/channels"),
    ("GET", "/api/v1/channels/1"),
    ("GET", "/api/v1/session"),
    ("POST", "/api/v1/session"),
    ("POST", "/api/v1/session/setup"),
    ("GET", "/playlist/multicast.m3u"),
    ("GET", "/playlist/multicast.csv"),
    ("GET", "/epg.xml"),
    ("GET", "/discover.json"),
    ("GET", "/lineup.json"),
    ("GET", "/lineup_status.json"),
    ("POST", "/lineup.post"),
    ("GET", "/device.xml"),
    ("GET", "/player_api.php"),
    ("POST", "/player_api.php"),
    ("GET", "/panel_api.php"),
    ("POST", "/panel_api.php"),
    ("GET", "/get.php"),
    ("POST", "/get.php"),
    ("GET", "/xmltv.php"),
    ("POST", "/xmltv.php"),
    ("GET", "/live/room101/wrong/1.ts"),
    ("GET", "/room101/wrong/1"),
    ("GET", "/hls/99/index.m3u8"),
    ("GET", "/stream/99.ts"),
];

#[tokio::test]
async fn every_admin_route_needs_the_admin_and_the_open_ones_stay_open() {
    let b = with_password();
    let s = login(&b).await;
    let t = token(&b);
    for &(method, path) in ADMIN_ROUTES {
        for who in [As::Nobody, As::Token("wrong"), As::Session("wrong", None)] {
            let r = call(&b, LAN, who, method, path, &[], Some(Body::from("{}"))).await;
            assert!(r.is_login_first(), "{method} {path}: {r:?}");
            let basic = r.header(header::WWW_AUTHENTICATE);
            if path == "/metrics" {
                assert_eq!(basic, "Basic realm=\"dvbgate\"");
            } else {
                assert_eq!(basic, "", "{method} {path}");
            }
        }
        if method != "GET" {
            let r = call(
                &b,
                LAN,
                As::Session(&s.cookie, None),
                method,
                path,
                &[],
                Some(Body::from("{}")),
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path} without CSRF"
            );
            assert_eq!(
                r.json(),
                json!({ "error": CSRF_REFUSAL }),
                "{method} {path}"
            );
        }
    }
    // Reads with the token or the session are served (the live stream never ends, so
    // it is left out here).
    for &(method, path) in ADMIN_ROUTES {
        if method != "GET" || path == "/api/v1/live" {
            continue;
        }
        for who in [As::Token(&t), As::Session(&s.cookie, None)] {
            let r = get(&b, who, path).await;
            assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_ne!(r.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    for &(method, path) in OPEN_ROUTES {
        let body = (method == "POST").then(|| Body::from("{}"));
        let r = call(&b, LAN, As::Nobody, method, path, &[], body).await;
        assert!(!r.is_login_first(), "{method} {path} is open: {r:?}");
        assert_ne!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {r:?}");
    }
    // Unknown paths are still 404, with or without the administrator.
    for path in [
        "/api/v1/nothing-here",
        "/api/v1/system/nothing",
        "/api/v1/users/1/more",
        "/nothing",
    ] {
        for who in [As::Nobody, As::Token(&t)] {
            let r = get(&b, who, path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        }
    }
    // A method a path does not serve is no way around the guard.
    let r = call(&b, LAN, As::Nobody, "PUT", "/api/v1/channels", &[], None).await;
    assert!(
        r.status.is_client_error() && r.status != StatusCode::OK,
        "{r:?}"
    );
}

#[tokio::test]
async fn metrics_take_http_basic_and_nowhere_else() {
    let b = with_password();
    let basic = |user: &str, password: &str| {
        let raw = format!("{user}:{password}");
        format!("Basic {}", base64(raw.as_bytes()))
    };
    let right = basic("admin", PASSWORD);
    let r = call(
        &b,
        LAN,
        As::Nobody,
        "GET",
        "/metrics",
        &[("Authorization", &right)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Remembered: a second scrape costs no argon2 (not observable here but must work).
    let r = call(
        &b,
        LAN,
        As::Nobody,
        "GET",
        "/metrics",
        &[("Authorization", &right)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &b,
        LAN,
        As::Nobody,
        "GET",
        "/api/v1/settings",
        &[("Authorization", &right)],
        None,
    )
    .await;
    assert!(r.is_login_first(), "Basic is for /metrics only");
    for wrong in [basic("admin", "nope"), basic("root", PASSWORD)] {
        let r = call(
            &b,
            LAN,
            As::Nobody,
            "GET",
            "/metrics",
            &[("Authorization", &wrong)],
            None,
        )
        .await;
        assert!(r.is_login_first());
        assert_eq!(
            r.header(header::WWW_AUTHENTICATE),
            "Basic realm=\"dvbgate\""
        );
    }
}

/// Standard base64 with padding (HTTP Basic).
fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn channel_numbers(b: &Box) -> Vec<u16> {
    let mut n: Vec<u16> = b
        .store
        .channels()
        .unwrap()
        .iter()
        .map(|c| c.number)
        .collect();
    n.sort_unstable();
    n
}

#[tokio::test]
async fn backup_and_restore_round_trip() {
    let b = with_password();
    let t = token(&b);
    let r = get(&b, As::Token(&t), "/api/v1/backup").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header(header::CONTENT_TYPE), "application/json");
    let disposition = r.header(header::CONTENT_DISPOSITION).to_owned();
    let date = disposition
        .strip_prefix("attachment; filename=\"dvbgate-backup-")
        .and_then(|d| d.strip_suffix(".json\""))
        .unwrap_or_else(|| panic!("{disposition}"));
    assert!(
        date.len() == 8 && date.bytes().all(|c| c.is_ascii_digit()),
        "{date}"
    );
    let text = r.text();
    assert!(!text.contains(PASSWORD));
    assert!(
        !text.to_lowercase().contains("admin"),
        "no administrator password"
    );
    let backup = r.json();
    assert_eq!(backup["format"], "dvbgate-backup");
    assert_eq!(backup["channels"].as_array().unwrap().len(), 3);
    assert!(
        backup["users"][0]["password_hash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$")
    );

    // Change things, then restore.
    let r = call(
        &b,
        LAN,
        As::Token(&t),
        "DELETE",
        "/api/v1/channels/2",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(channel_numbers(&b), [1, 3]);
    let r = send(&b, As::Token(&t), "POST", "/api/v1/restore", backup.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let restored = &r.json()["restored"];
    assert_eq!(restored["channels"], 3);
    assert_eq!(restored["inputs"], 1);
    assert_eq!(restored["users"], 1);
    assert_eq!(channel_numbers(&b), [1, 2, 3]);
    // The restored XC user logs in (users are read again at once).
    let v = get(
        &b,
        As::Nobody,
        "/player_api.php?username=room101&password=secret",
    )
    .await
    .json();
    assert_eq!(v["user_info"]["auth"], 1);
    // The administrator password is the one before the restore.
    assert!(b.store.verify_admin_password(PASSWORD).unwrap());
    login(&b).await;

    // What is no backup changes nothing, and says why.
    let before = b.store.backup().unwrap();
    let mut broken = backup.clone();
    broken["channels"][0]["input_id"] = json!(999);
    let mut not_ours = backup.clone();
    not_ours["format"] = json!("something-else");
    for (body, what) in [
        (
            Body::from("{\"format\": \"dvbgate-backup\", "),
            "broken JSON",
        ),
        (Body::from("[1, 2, 3]"), "not an object"),
        (Body::from(""), "empty"),
        (Body::from(broken.to_string()), "a dangling input"),
        (Body::from(not_ours.to_string()), "another format"),
    ] {
        let r = call(
            &b,
            LAN,
            As::Token(&t),
            "POST",
            "/api/v1/restore",
            &[],
            Some(body),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.text()
        );
        assert!(!r.json()["error"].as_str().unwrap().is_empty(), "{what}");
        let after = b.store.backup().unwrap();
        assert_eq!(
            (
                &after.inputs,
                &after.channels,
                &after.users,
                &after.settings
            ),
            (
                &before.inputs,
                &before.channels,
                &before.users,
                &before.settings
            ),
            "{what}"
        );
    }
}

#[tokio::test]
async fn only_the_restore_route_takes_large_bodies() {
    let b = with_password();
    let t = token(&b);
    let backup = get(&b, As::Token(&t), "/api/v1/backup").await.text();
    // A backup padded to 1 MiB (JSON allows trailing white space): more than the
    // server's 64 KiB, within the restore's 4 MiB.
    let padded = format!("{backup}{}", " ".repeat(1 << 20));
    let r = call(
        &b,
        LAN,
        As::Token(&t),
        "POST",
        "/api/v1/restore",
        &[],
        Some(Body::from(padded)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let huge = format!("{backup}{}", " ".repeat(4 << 20));
    let r = call(
        &b,
        LAN,
        As::Token(&t),
        "POST",
        "/api/v1/restore",
        &[],
        Some(Body::from(huge)),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("4 MiB"));
    // Other routes keep 64 KiB.
    let settings = get(&b, As::Token(&t), "/api/v1/settings").await.text();
    let padded = format!("{settings}{}", " ".repeat(100 << 10));
    let r = call(
        &b,
        LAN,
        As::Token(&t),
        "PUT",
        "/api/v1/settings",
        &[],
        Some(Body::from(padded)),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
}

#[tokio::test]
async fn factory_reset_needs_its_confirmation_and_returns_to_setup() {
    let b = with_password();
    let t = token(&b);
    let s = login(&b).await;
    for body in [
        json!({}),
        json!({"confirm": "yes"}),
        json!({"confirm": "FACTORY RESET "}),
    ] {
        let r = send(
            &b,
            As::Token(&t),
            "POST",
            "/api/v1/system/factory-reset",
            body.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("factory reset")
        );
    }
    let r = call(
        &b,
        LAN,
        As::Token(&t),
        "POST",
        "/api/v1/system/factory-reset",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(channel_numbers(&b), [1, 2, 3], "nothing changed");
    assert!(b.store.admin_password_set().unwrap());

    let r = send(
        &b,
        As::Session(&s.cookie, Some(&s.csrf)),
        "POST",
        "/api/v1/system/factory-reset",
        json!({"confirm": "factory reset"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(r.header(header::SET_COOKIE).contains("Max-Age=0"));
    assert!(channel_numbers(&b).is_empty());
    assert!(b.store.users().unwrap().is_empty());
    assert!(!b.store.admin_password_set().unwrap());
    let code = b.app.admin.setup_code().expect("a new setup code");
    let v = get(&b, As::Nobody, "/api/v1/session").await.json();
    assert_eq!(v["setup_required"], true);
    assert!(
        get(&b, As::Session(&s.cookie, None), "/api/v1/inputs")
            .await
            .is_login_first(),
        "sessions ended"
    );
    let r = get(&b, As::Token(&t), "/api/v1/channels").await;
    assert_eq!(r.json(), json!([]));
    assert_eq!(
        get(&b, As::Token(&t), "/api/v1/inputs").await.status,
        StatusCode::OK,
        "the API token stays"
    );
    let r = send(
        &b,
        As::Nobody,
        "POST",
        "/api/v1/session/setup",
        json!({"setup_code": code, "password": "the new one"}),
    )
    .await;
    login_of(&r);
}

#[tokio::test]
async fn reboot_answers_then_acts() {
    let b = with_password();
    let r = send(
        &b,
        As::Token(&token(&b)),
        "POST",
        "/api/v1/system/reboot",
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json(), json!({"action": "restart-pipelines"}));

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("rebooted");
    let b = a_box(
        Some(PASSWORD),
        RebootAction::Command(vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("touch '{}'", marker.display()),
        ]),
    );
    let r = call(
        &b,
        LAN,
        As::Token(&token(&b)),
        "POST",
        "/api/v1/system/reboot",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json(), json!({"action": "reboot"}));
    assert!(!marker.exists(), "the answer comes first");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "the command ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn channels_in_bulk_all_or_nothing() {
    let b = with_password();
    let t = token(&b);
    let r = send(
        &b,
        As::Token(&t),
        "POST",
        "/api/v1/channels/bulk",
        json!({"numbers": [3, 1], "enabled": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let views = r.json();
    let numbers: Vec<u64> = views
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 1], "in the list's order");
    assert!(
        views
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["enabled"] == false)
    );
    assert!(
        views[0]["hls"]
            .as_str()
            .unwrap()
            .starts_with("http://192.0.2.10:8080/")
    );

    // Swapping numbers is one change.
    let id_of = |n: u16| b.store.channel_by_number(n).unwrap().unwrap().id;
    let (one, two) = (id_of(1), id_of(2));
    let r = send(
        &b,
        As::Token(&t),
        "POST",
        "/api/v1/channels/bulk",
        json!({"numbers": [2, 1], "renumber_from": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((id_of(1), id_of(2)), (two, one));

    // A number that is taken by a channel outside the list: nothing changes.
    let before = b.store.channels().unwrap();
    let r = send(
        &b,
        As::Token(&t),
        "POST",
        "/api/v1/channels/bulk",
        json!({"numbers": [1, 2], "renumber_from": 2, "enabled": true}),
    )
    .await;
    assert!(
        r.status == StatusCode::CONFLICT || r.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{r:?}"
    );
    assert_eq!(b.store.channels().unwrap(), before);
    for body in [
        json!({"numbers": [1, 42], "enabled": true}),
        json!({"numbers": [1]}),
        json!({"numbers": [1], "category_id": 999}),
    ] {
        let r = send(
            &b,
            As::Token(&t),
            "POST",
            "/api/v1/channels/bulk",
            body.clone(),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        assert_eq!(b.store.channels().unwrap(), before, "{body}");
    }
    let r = send(
        &b,
        As::Token(&t),
        "POST",
        "/api/v1/channels/bulk",
        json!({"numbers": [1, 2, 3], "category_id": 2, "hls": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        b.store
            .channels()
            .unwrap()
            .iter()
            .all(|c| c.category_id == Some(2))
    );
}

#[tokio::test]
async fn the_multicast_csv_is_open_and_quoted() {
    let b = with_password();
    let r = get(&b, As::Nobody, "/playlist/multicast.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    assert!(
        r.header(header::CONTENT_DISPOSITION)
            .contains("multicast.csv")
    );
    let text = r.text();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "number,name,service_id,enabled,protocol,address,port,url,category"
    );
    assert_eq!(
        lines.len(),
        5,
        "three channels and a final line break: {text}"
    );
    assert_eq!(lines[4], "");
    let first = lines[1];
    assert!(
        first.starts_with("1,\"One \"\"HD\"\"\",101,true,udp,"),
        "{first}"
    );
    assert!(first.ends_with(",TV"), "{first}");
    let (address, rest) = first
        .split_once(",udp,")
        .map(|(_, r)| r.split_once(',').unwrap())
        .unwrap();
    let (port, rest) = rest.split_once(',').unwrap();
    assert_eq!(
        rest,
        format!("udp://@{address}:{port},TV"),
        "the URL a player opens"
    );
    assert!(
        lines[2].starts_with("2,\"Two, Three\",102,"),
        "{}",
        lines[2]
    );
}

#[tokio::test]
async fn network_interfaces_for_the_page() {
    let b = with_password();
    let r = get(&b, As::Token(&token(&b)), "/api/v1/system/interfaces").await;
    assert_eq!(r.status, StatusCode::OK);
    let all = r.json();
    let lo = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo");
    assert!(
        lo["addresses"]
            .as_array()
            .unwrap()
            .contains(&json!("127.0.0.1"))
    );
    assert!(lo["multicast"].is_boolean());
}

#[tokio::test]
async fn hls_off_refuses_playlists_and_leaves_http_ts_alone() {
    let b = with_password();
    let t = token(&b);
    let r = send(
        &b,
        As::Token(&t),
        "PATCH",
        "/api/v1/channels/1",
        json!({"hls": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["hls_enabled"], false);
    for uri in ["/hls/1/index.m3u8", "/hls/1/live.m3u8"] {
        let r = get(&b, As::Nobody, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text());
        assert!(
            r.text().contains("HLS is off for channel 1"),
            "{uri}: {}",
            r.text()
        );
    }
    // Channel 2 keeps HLS: whatever stops it here (its input is disabled), it is not the flag.
    let r = get(&b, As::Nobody, "/hls/2/index.m3u8").await;
    assert!(!r.text().contains("HLS is off"), "{}", r.text());
    // HTTP TS of the HLS-off channel is refused only for the input's reason.
    let r = get(&b, As::Nobody, "/stream/1.ts").await;
    assert!(!r.text().contains("HLS is off"), "{}", r.text());
}

/// Opens `/api/v1/live` and returns its body, still streaming.
async fn open_live(b: &Box, who: As<'_>) -> Body {
    let mut request = Request::get("/api/v1/live");
    match who {
        As::Token(t) => request = request.header(header::AUTHORIZATION, format!("Bearer {t}")),
        As::Session(cookie, _) => {
            request = request.header(header::COOKIE, format!("dvbgate_session={cookie}"));
        }
        As::Nobody => {}
    }
    let response = b
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    response.into_body()
}

/// Whether the stream ends within `limit` (reading whatever frames come before).
async fn ends_within(body: Body, limit: Duration) -> bool {
    tokio::time::timeout(limit, axum::body::to_bytes(body, 64 << 20))
        .await
        .is_ok()
}

#[tokio::test]
async fn a_live_stream_ends_with_its_session() {
    let b = with_password();
    dvbgate_api::start_background(&b.app);
    // Logout.
    let a = login(&b).await;
    let stream = open_live(&b, As::Session(&a.cookie, None)).await;
    let by_token = open_live(&b, As::Token(&token(&b))).await;
    let r = send(
        &b,
        As::Session(&a.cookie, Some(&a.csrf)),
        "DELETE",
        "/api/v1/session",
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(ends_within(stream, Duration::from_secs(2)).await);
    assert!(
        !ends_within(by_token, Duration::from_millis(1500)).await,
        "a stream opened with the API token lives on"
    );

    // A password change ends the other sessions' streams, not the changer's.
    let changer = login(&b).await;
    let other = login(&b).await;
    let mine = open_live(&b, As::Session(&changer.cookie, None)).await;
    let theirs = open_live(&b, As::Session(&other.cookie, None)).await;
    let r = send(
        &b,
        As::Session(&changer.cookie, Some(&changer.csrf)),
        "PUT",
        "/api/v1/admin/password",
        json!({"current": PASSWORD, "new": "a new password"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(ends_within(theirs, Duration::from_secs(2)).await);
    assert!(!ends_within(mine, Duration::from_millis(1500)).await);

    // A factory reset ends every session's stream.
    let again = login_of(&login_from(&b, LAN, "a new password").await);
    let stream = open_live(&b, As::Session(&again.cookie, None)).await;
    let r = send(
        &b,
        As::Token(&token(&b)),
        "POST",
        "/api/v1/system/factory-reset",
        json!({"confirm": "factory reset"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(ends_within(stream, Duration::from_secs(2)).await);
    b.app.monitor.shutdown();
}
