//! The administrator: who may change the box, and how the API knows.
//!
//! There is one administrator account, with no default password. Until the store holds
//! its password the box is in **setup**: [`Admin`] keeps a one-time *setup code* (12
//! characters, shown `XXXX-XXXX-XXXX`, printed by the daemon at start), and whoever
//! types it on the web page chooses the password (`POST /api/v1/session/setup`). A new
//! code is made at every start and after a factory reset; a wrong code counts as a
//! failed login.
//!
//! An administrator request carries one of:
//!
//! - a **session cookie** (`dvbgate_session`, `HttpOnly; SameSite=Strict`) from
//!   `POST /api/v1/session`, plus, on every request other than GET/HEAD/OPTIONS, the
//!   session's CSRF token in `X-CSRF-Token` (see [`sessions`]); or
//! - the **local API token**, `Authorization: Bearer <token>`: random at every start,
//!   written to `<data dir>/api-token` (mode 0600) so that scripts and tools on the box
//!   (and tests) can act without a password. No CSRF token is needed: a browser never
//!   sends it on its own; or
//! - on `/metrics` only, **HTTP Basic** `admin:<password>` (Prometheus scrapers).
//!
//! Anything else is answered 401 `{"error": "log in first"}` (a missing or wrong CSRF
//! token: 403). Which routes need the administrator is decided in [`crate::routes`]:
//! all but a short list of open ones (see there).
//!
//! Passwords are argon2id hashes in the store; a check costs tens of milliseconds and
//! 12 MiB, so it runs on a blocking thread, at most two at once. A password verified
//! once for HTTP Basic is remembered as a keyed digest (as for XC users, see
//! [`crate::xc::auth::VerifiedCache`]) so that a scraper polling every few seconds
//! costs no argon2. Failed logins, setup codes and Basic passwords are braked like XC
//! logins, with a throttle of their own ([`crate::xc::auth::Throttle`]): five failures
//! from one client (an IPv4 address or an IPv6 /64) within a minute, or 30 from all
//! clients together, and further attempts are refused with 429 and `Retry-After`,
//! unchecked. The box-wide budget lets an attacker with many addresses lock the
//! administrator out a minute at a time, but caps guesses at about 43,000 a day.
//!
//! For handlers outside this module: the guard puts an [`AdminCaller`] in the request's
//! extensions; code that serves a route of its own can call [`Admin::authorize`]
//! (session or token) or [`Admin::authorize_or_basic`] (also HTTP Basic).

mod endpoints;
pub(crate) mod secrets;
pub(crate) mod sessions;

pub(crate) use endpoints::{change_password, clear_cookie, login, logout, session_status, setup};

use crate::app::{AppOptions, AppState};
use crate::error::ApiError;
use crate::xc::auth::{Throttle, VerifiedCache};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dvbgate_control::Supervisor;
use dvbgate_store::Store;
use sessions::{NewSession, SessionKey, Sessions};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub(crate) const COOKIE: &str = "dvbgate_session";
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// Password checks (argon2id, 12 MiB each) running at once, at most.
const CONCURRENT_VERIFICATIONS: usize = 2;
/// Longer passwords are not even hashed (the store refuses to set them).
const MAX_PASSWORD_CHARS: usize = 256;
/// The name HTTP Basic must give.
const BASIC_USER: &str = "admin";

/// Who is calling an administrator route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminCaller {
    /// `Authorization: Bearer <local API token>`.
    Token,
    /// A browser session (its CSRF token was checked where the method needs one).
    Session(SessionKey),
    /// HTTP Basic with the administrator's password (`/metrics` only).
    Basic,
}

/// What a password check concluded.
pub(crate) enum Verdict {
    Right,
    Wrong,
    /// Too many failures from this address (or the whole box): not checked; try again
    /// after this long.
    Braked(Duration),
    /// There is no administrator password yet (setup).
    NotSet,
}

/// See the module docs.
pub struct Admin {
    store: Arc<Store>,
    api_token: String,
    api_token_file: Option<PathBuf>,
    /// The current setup code while there is no password, and whether a factory reset
    /// is under way (it makes the code: see [`Admin::begin_reset`]).
    setup: Mutex<SetupState>,
    /// Serialises what sets the password (setup, change, reset).
    changing: tokio::sync::Mutex<()>,
    sessions: Mutex<Sessions>,
    /// Bumped whenever a session ends by logout, password change or reset, so that open
    /// live streams notice at once.
    sessions_ended: tokio::sync::watch::Sender<u64>,
    brake: Throttle,
    verified: VerifiedCache,
    verifying: tokio::sync::Semaphore,
}

impl Admin {
    /// Makes the API token (and writes it to `<data_dir>/api-token` when there is a data
    /// directory), and a setup code when the store has no administrator password.
    pub(crate) fn new(supervisor: &Arc<Supervisor>, options: &AppOptions) -> Admin {
        let store = Arc::clone(supervisor.store());
        let api_token = secrets::token();
        let api_token_file = options.data_dir.as_ref().and_then(|dir| {
            let path = dir.join("api-token");
            match write_private(&path, &api_token) {
                Ok(()) => Some(path),
                Err(e) => {
                    warn!(
                        "cannot write the API token to {}: {e}; tools on the box cannot use it",
                        path.display()
                    );
                    None
                }
            }
        });
        // A store that cannot be read has no password we could check either: setup.
        let setup = (!store.admin_password_set().unwrap_or(false)).then(secrets::setup_code);
        Admin {
            store,
            api_token,
            api_token_file,
            setup: Mutex::new(SetupState {
                code: setup,
                resetting: false,
            }),
            changing: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(Sessions::default()),
            sessions_ended: tokio::sync::watch::channel(0).0,
            brake: Throttle::new(),
            verified: VerifiedCache::new(),
            verifying: tokio::sync::Semaphore::new(CONCURRENT_VERIFICATIONS),
        }
    }

    /// The setup code as shown (`XXXX-XXXX-XXXX`) while the administrator has no
    /// password; None once it has one.
    pub fn setup_code(&self) -> Option<String> {
        lock(&self.setup)
            .code
            .as_deref()
            .map(secrets::show_setup_code)
    }

    /// The local API token (`Authorization: Bearer <token>`).
    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// Where the API token was written, if it was.
    pub fn api_token_file(&self) -> Option<&Path> {
        self.api_token_file.as_deref()
    }

    /// Whether the request is the administrator's: a live session (with the CSRF token
    /// unless the method is GET, HEAD or OPTIONS) or the API token. `Err` is the answer
    /// to send as it is: 401 `{"error": "log in first"}`, or 403 for a missing or wrong
    /// CSRF token.
    pub async fn authorize(&self, parts: &Parts) -> Result<AdminCaller, Response> {
        self.check(parts, false).await
    }

    /// [`authorize`](Self::authorize), or HTTP Basic `admin:<password>` (for
    /// `/metrics`): failures are 401 with `WWW-Authenticate: Basic realm="dvbgate"`,
    /// 429 with `Retry-After` once the address has failed five times in a minute.
    pub async fn authorize_or_basic(&self, parts: &Parts) -> Result<AdminCaller, Response> {
        self.check(parts, true).await
    }

    async fn check(&self, parts: &Parts, basic: bool) -> Result<AdminCaller, Response> {
        let headers = &parts.headers;
        if let Some(token) = bearer(headers)
            && secrets::same(token, &self.api_token)
        {
            return Ok(AdminCaller::Token);
        }
        if let Some((key, csrf)) = self.session_of(headers) {
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            let sent = headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if safe || (!sent.is_empty() && secrets::same(sent, &csrf)) {
                return Ok(AdminCaller::Session(key));
            }
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (send the X-CSRF-Token header)",
            )
            .into_response());
        }
        if basic && let Some((user, password)) = basic_credentials(headers) {
            let ip = peer_ip(&parts.extensions);
            let verdict = if user == BASIC_USER {
                self.verify(ip, &password).await
            } else {
                // An unknown name is a failed guess like a wrong password.
                match self.brake.refused(ip, Instant::now()) {
                    Some(wait) => Ok(Verdict::Braked(wait)),
                    None => {
                        self.brake.failed(ip, Instant::now());
                        Ok(Verdict::Wrong)
                    }
                }
            };
            match verdict {
                Ok(Verdict::Right) => return Ok(AdminCaller::Basic),
                Ok(Verdict::Braked(wait)) => return Err(too_many(wait)),
                Ok(Verdict::Wrong | Verdict::NotSet) => {
                    warn!(%ip, "metrics: wrong HTTP Basic credentials");
                }
                Err(e) => return Err(e.into_response()),
            }
        }
        let mut refusal = ApiError::new(StatusCode::UNAUTHORIZED, "log in first").into_response();
        if basic {
            refusal.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"dvbgate\""),
            );
        }
        Err(refusal)
    }

    /// The live session a request's cookie names, with its CSRF token.
    pub(crate) fn session_of(&self, headers: &HeaderMap) -> Option<(SessionKey, String)> {
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        cookie_values(headers, COOKIE).find_map(|token| sessions.find(token, now))
    }

    /// Read before checking a login's password; see [`Admin::new_session`].
    pub(crate) fn session_epoch(&self) -> u64 {
        lock(&self.sessions).epoch()
    }

    /// A new session for a login that read `epoch` before its password check; None if
    /// every session was ended since (the password changed or the box was reset
    /// meanwhile: the password it checked may be the old one).
    pub(crate) fn new_session(&self, epoch: u64) -> Option<NewSession> {
        lock(&self.sessions).create_unless_ended(epoch, Instant::now())
    }

    pub(crate) fn end_session(&self, key: SessionKey) -> bool {
        let ended = lock(&self.sessions).end(key);
        self.sessions_ended.send_modify(|n| *n += 1);
        ended
    }

    /// Ends every session but `keep`; returns how many ended.
    pub(crate) fn end_sessions(&self, keep: Option<SessionKey>) -> usize {
        let ended = lock(&self.sessions).end_all_but(keep);
        self.sessions_ended.send_modify(|n| *n += 1);
        ended
    }

    /// Whether the session is still alive (not counted as a use): a long-lived response
    /// such as the live event stream asks this to end with its session.
    pub fn session_alive(&self, key: SessionKey) -> bool {
        lock(&self.sessions).alive(key, Instant::now())
    }

    /// Changes whenever sessions are ended (logout, password change, reset); a session
    /// may also end by timeout, which this does not announce.
    pub fn sessions_ended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.sessions_ended.subscribe()
    }

    /// Checks the administrator's password for a client at `ip`, with the brake (see the
    /// module docs).
    pub(crate) async fn verify(&self, ip: IpAddr, password: &str) -> Result<Verdict, ApiError> {
        if let Some(wait) = self.brake.refused(ip, Instant::now()) {
            return Ok(Verdict::Braked(wait));
        }
        let store = Arc::clone(&self.store);
        let Some(hash) = crate::routes::blocking(move || Ok(store.admin_password_hash()?)).await?
        else {
            return Ok(Verdict::NotSet);
        };
        if password.is_empty() || password.chars().count() > MAX_PASSWORD_CHARS {
            self.brake.failed(ip, Instant::now());
            return Ok(Verdict::Wrong);
        }
        let right = if self.verified.check(BASIC_USER, &hash, password) {
            true
        } else {
            let _permit = self.verifying.acquire().await.map_err(|_| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "logins are closed (shutting down)",
                )
            })?;
            // This address's other attempts may have failed while this one queued.
            if let Some(wait) = self.brake.refused(ip, Instant::now()) {
                return Ok(Verdict::Braked(wait));
            }
            let (h, typed) = (hash.clone(), password.to_owned());
            let right =
                crate::routes::blocking(move || Ok(dvbgate_store::verify_password(&h, &typed)))
                    .await?;
            if right {
                self.verified.remember(BASIC_USER, &hash, password);
            }
            right
        };
        if right {
            self.brake.succeeded(ip);
            Ok(Verdict::Right)
        } else {
            self.brake.failed(ip, Instant::now());
            Ok(Verdict::Wrong)
        }
    }

    /// Whether `typed` is the setup code (a wrong one counts against `ip`'s brake).
    /// `Err`: the brake refused to check.
    pub(crate) fn check_setup_code(&self, ip: IpAddr, typed: &str) -> Result<bool, Duration> {
        if let Some(wait) = self.brake.refused(ip, Instant::now()) {
            return Err(wait);
        }
        let typed = secrets::typed_setup_code(typed);
        let right = lock(&self.setup)
            .code
            .as_deref()
            .is_some_and(|code| secrets::same(&typed, code));
        if right {
            self.brake.succeeded(ip);
        } else {
            self.brake.failed(ip, Instant::now());
        }
        Ok(right)
    }

    /// The password was set: the setup code is spent.
    pub(crate) fn setup_done(&self) {
        lock(&self.setup).code.take();
    }

    /// The store says there is no password: make sure there is a setup code (the store
    /// may have been reset by other means than this API); says it when new. Not while a
    /// factory reset is under way: the reset makes the one code, and prints it once.
    pub(crate) fn ensure_setup_code(&self) {
        let mut setup = lock(&self.setup);
        if setup.code.is_none() && !setup.resetting {
            let code = secrets::setup_code();
            announce_setup_code(&secrets::show_setup_code(&code));
            setup.code = Some(code);
        }
    }

    /// Call before wiping the store for a factory reset: until the returned guard's
    /// [`Reset::finish`] (or its drop, if the wipe failed), no setup code is made by
    /// [`ensure_setup_code`](Self::ensure_setup_code), so a page asking between the
    /// wipe and the end of the reset cannot print a code the reset then replaces.
    pub(crate) fn begin_reset(&self) -> Reset<'_> {
        lock(&self.setup).resetting = true;
        Reset { admin: self }
    }

    pub(crate) fn changing(&self) -> &tokio::sync::Mutex<()> {
        &self.changing
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// The setup code and the reset in progress, under one lock.
struct SetupState {
    /// As typed, without dashes.
    code: Option<String>,
    resetting: bool,
}

/// A factory reset under way, see [`Admin::begin_reset`].
pub(crate) struct Reset<'a> {
    admin: &'a Admin,
}

impl Reset<'_> {
    /// The store was wiped: every session ends, and the one new setup code is made and
    /// printed.
    pub(crate) fn finish(self) {
        let ended = self.admin.end_sessions(None);
        let code = secrets::setup_code();
        let mut setup = lock(&self.admin.setup);
        announce_setup_code(&secrets::show_setup_code(&code));
        setup.code = Some(code);
        setup.resetting = false;
        drop(setup);
        info!(
            sessions_ended = ended,
            "administrator reset: setup required"
        );
    }
}

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        // After finish this changes nothing; after a failed wipe it lets
        // ensure_setup_code work again (the store may or may not hold a password).
        lock(&self.admin.setup).resetting = false;
    }
}

/// The daemon prints the setup code at start; after a factory reset this does, in the
/// same form (`setup code: XXXX-XXXX-XXXX`), for the technician at the console.
#[allow(clippy::print_stdout)]
fn announce_setup_code(shown: &str) {
    println!("setup code: {shown}");
    info!("setup code: {shown}");
}

/// Writes the token so that only the owner may ever read it: into a new file (created
/// exclusively, mode 0600, so no other process can have it open or have planted it),
/// then renamed over `path`. A rename replaces a symbolic link at `path` instead of
/// following it, and a reader sees the old token or the new one, never half of one.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().map_or_else(
        || std::ffi::OsString::from("api-token"),
        std::ffi::OsStr::to_os_string,
    );
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(&name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    // A leftover of a crashed start with the same process id.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        // create_new is O_CREAT|O_EXCL: it fails on a symbolic link too.
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(content.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data: carry on after a panic elsewhere.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// 429 with `Retry-After` in whole seconds (rounded up).
pub(crate) fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed logins (from this address, or from everywhere at once); try again in {seconds} s"),
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    r
}

/// The client's address (unspecified when the server did not say, as in tests without
/// a socket).
pub(crate) fn peer_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| {
            a.ip().to_canonical()
        })
}

/// The client's address as a handler argument (see [`peer_ip`]); never refuses.
pub(crate) struct Peer(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer_ip(&parts.extensions)))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Standard base64 (with or without padding), as HTTP Basic sends it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    // No credentials are that long: not worth decoding.
    if text.len() > 4096 {
        return None;
    }
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(text)
        .ok()
}

/// The values of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (n, v) = pair.split_once('=')?;
            (n.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// The guard of every administrator route (see [`crate::routes`]): the caller must be
/// the administrator ([`Admin::authorize`]; on `/metrics`, also
/// [`Admin::authorize_or_basic`]). The [`AdminCaller`] is left in the request's
/// extensions.
pub(crate) async fn require_admin(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = if parts.uri.path() == "/metrics" {
        app.admin.authorize_or_basic(&parts).await
    } else {
        app.admin.authorize(&parts).await
    };
    match caller {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refusal) => refusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded() {
        let mut h = HeaderMap::new();
        // "admin:pa:ss wörd" (a colon in the password stays in it).
        let encoded = "YWRtaW46cGE6c3Mgd8O2cmQ=";
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(("admin".into(), "pa:ss wörd".into()))
        );
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
        assert!(base64_decode("Zm9v!").is_none());
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(basic_credentials(&h), None);
        assert_eq!(bearer(&h), Some("abc"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; dvbgate_session=xyz; b=2"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("dvbgate_session=\"q\""),
        );
        let found: Vec<&str> = cookie_values(&h, COOKIE).collect();
        assert_eq!(found, ["xyz", "q"]);
        assert_eq!(cookie_values(&h, "dvbgate").count(), 0);
    }

    /// An administrator on a store without a password (setup), in a temporary
    /// directory.
    fn admin_in_setup() -> (Admin, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
        let sup = Supervisor::new(store, dvbgate_control::SupervisorOptions::default());
        let options = AppOptions {
            data_dir: Some(dir.path().to_path_buf()),
            ..AppOptions::default()
        };
        (Admin::new(&sup, &options), dir)
    }

    #[test]
    fn a_factory_reset_makes_exactly_one_setup_code() {
        let (admin, _dir) = admin_in_setup();
        let before = admin.setup_code().expect("setup at start");
        admin.setup_done();
        let reset = admin.begin_reset();
        // A page asking between the wipe and the end of the reset: no code is made.
        admin.ensure_setup_code();
        assert_eq!(admin.setup_code(), None);
        reset.finish();
        let after = admin.setup_code().expect("the reset's code");
        assert_ne!(after, before);
        admin.ensure_setup_code();
        assert_eq!(admin.setup_code().as_deref(), Some(after.as_str()));

        // A reset whose wipe failed lets the code be made again afterwards.
        admin.setup_done();
        drop(admin.begin_reset());
        admin.ensure_setup_code();
        assert!(admin.setup_code().is_some());
    }

    #[test]
    fn a_login_racing_a_password_change_gets_no_session() {
        let (admin, _dir) = admin_in_setup();
        let ended = admin.sessions_ended();
        let epoch = admin.session_epoch();
        // The login's password check runs while the password changes.
        let changer = admin.new_session(epoch).expect("no change yet");
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}={}", changer.token)).unwrap(),
        );
        let (key, _) = admin.session_of(&h).expect("the changer's session");
        assert_eq!(admin.end_sessions(Some(key)), 0);
        assert!(ended.has_changed().unwrap(), "open streams are told");
        assert!(admin.new_session(epoch).is_none());
        assert!(admin.session_alive(key));
        assert!(admin.new_session(admin.session_epoch()).is_some());
        admin.end_session(key);
        assert!(!admin.session_alive(key));
    }

    #[test]
    fn the_token_file_is_replaced_privately() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("api-token");
        std::fs::write(&path, "old token, readable by all").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A symbolic link planted at the name is replaced, not followed.
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_private(&path, "newer").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "newer");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left: {left:?}");
    }

    #[test]
    fn retry_after_rounds_up() {
        let r = too_many(Duration::from_millis(29_100));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "30");
        let r = too_many(Duration::ZERO);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
