//! The login's routes:
//!
//! - `GET /api/v1/session` (open): `{"setup_required", "authenticated", "csrf",
//!   "version"}`; the page asks it first, and takes its CSRF token from it.
//! - `POST /api/v1/session/setup` (open, only while there is no password)
//!   `{"setup_code", "password"}`: sets the password and logs in (200 + cookie); 403
//!   wrong code, 409 a password exists, 422 a password the store refuses (8–256
//!   characters).
//! - `POST /api/v1/session` (open) `{"password"}`: 200 + cookie; 401 wrong password,
//!   409 setup first, or the password changed (or the box was reset) while this login
//!   checked it, 429 braked.
//! - `DELETE /api/v1/session` (administrator): 204, the session ends and the cookie is
//!   cleared.
//! - `PUT /api/v1/admin/password` (administrator) `{"current", "new"}`: 204; every
//!   other session ends.

use super::{AdminCaller, COOKIE, Peer, Verdict, peer_ip, too_many};
use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::{Body, blocking};
use axum::Extension;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::{info, warn};

/// What the page learns of its login.
#[derive(Serialize)]
pub(crate) struct SessionInfo {
    setup_required: bool,
    authenticated: bool,
    csrf: Option<String>,
    version: &'static str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Setup {
    setup_code: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current: String,
    new: String,
}

/// Whether the administrator has a password (and if not, that there is a setup code).
async fn password_set(app: &AppState) -> Result<bool, ApiError> {
    let store = Arc::clone(app.admin.store());
    let set = blocking(move || Ok(store.admin_password_set()?)).await?;
    if !set {
        app.admin.ensure_setup_code();
    }
    Ok(set)
}

/// `GET /api/v1/session`.
pub(crate) async fn session_status(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json, ApiError> {
    let setup_required = !password_set(&app).await?;
    let session = app.admin.session_of(&headers);
    let token =
        super::bearer(&headers).is_some_and(|t| super::secrets::same(t, app.admin.api_token()));
    Ok(axum::Json(SessionInfo {
        setup_required,
        authenticated: session.is_some() || token,
        csrf: session.map(|(_, csrf)| csrf),
        version: env!("CARGO_PKG_VERSION"),
    }))
}

type Json = axum::Json<SessionInfo>;

/// A new session: the answer with its cookie. `epoch`: [`super::Admin::session_epoch`]
/// read before the password was checked; if every session has ended since (the
/// password changed or the box was reset meanwhile), no session: 409.
fn logged_in(app: &AppState, headers: &HeaderMap, epoch: u64) -> Response {
    let Some(session) = app.admin.new_session(epoch) else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "the password just changed; log in again",
        )
        .into_response();
    };
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        session.token,
        super::sessions::ABSOLUTE.as_secs(),
        if behind_https(headers) {
            "; Secure"
        } else {
            ""
        },
    );
    let mut response = axum::Json(SessionInfo {
        setup_required: false,
        authenticated: true,
        csrf: Some(session.csrf),
        version: env!("CARGO_PKG_VERSION"),
    })
    .into_response();
    set_cookie(&mut response, cookie);
    response
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    // A login must never be cached by a proxy.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Tells the browser to forget its session cookie (logout, factory reset).
pub(crate) fn clear_cookie(response: &mut Response) {
    set_cookie(
        response,
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
}

/// Whether the browser reached us over HTTPS through a reverse proxy: the cookie is then
/// `Secure`.
fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// `POST /api/v1/session`.
pub(crate) async fn login(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let ip = peer_ip(request.extensions());
    let headers = request.headers().clone();
    let Body(Login { password }) = match Body::<Login>::from_request(request, &()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    // Read before the check: a password change finishing during it must not leave
    // this login (perhaps with the old password) a session.
    let epoch = app.admin.session_epoch();
    match app.admin.verify(ip, &password).await {
        Ok(Verdict::Right) => {
            app.monitor.count_admin_login(true);
            info!(%ip, "administrator logged in");
            logged_in(&app, &headers, epoch)
        }
        Ok(Verdict::Wrong) => {
            app.monitor.count_admin_login(false);
            warn!(%ip, "administrator login failed: wrong password");
            ApiError::new(StatusCode::UNAUTHORIZED, "wrong password").into_response()
        }
        Ok(Verdict::Braked(wait)) => {
            warn!(%ip, "administrator login refused: too many failures");
            too_many(wait)
        }
        Ok(Verdict::NotSet) => {
            app.admin.ensure_setup_code();
            ApiError::new(
                StatusCode::CONFLICT,
                "the administrator has no password yet: set one with the setup code (POST /api/v1/session/setup)",
            )
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/session/setup`.
pub(crate) async fn setup(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let ip = peer_ip(request.extensions());
    let headers = request.headers().clone();
    let Body(Setup {
        setup_code,
        password,
    }) = match Body::<Setup>::from_request(request, &()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let _changing = app.admin.changing().lock().await;
    let epoch = app.admin.session_epoch();
    match password_set(&app).await {
        Ok(false) => {}
        Ok(true) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "the administrator password is already set: log in with it",
            )
            .into_response();
        }
        Err(e) => return e.into_response(),
    }
    match app.admin.check_setup_code(ip, &setup_code) {
        Ok(true) => {}
        Ok(false) => {
            app.monitor.count_admin_login(false);
            warn!(%ip, "first-boot setup failed: wrong setup code");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong setup code (the daemon printed it at start: setup code: XXXX-XXXX-XXXX)",
            )
            .into_response();
        }
        Err(wait) => return too_many(wait),
    }
    let store = Arc::clone(app.admin.store());
    if let Err(e) = blocking(move || Ok(store.set_admin_password(&password)?)).await {
        return e.into_response();
    }
    app.admin.setup_done();
    app.monitor.count_admin_login(true);
    info!(%ip, "administrator password set (first-boot setup)");
    logged_in(&app, &headers, epoch)
}

/// `DELETE /api/v1/session`.
pub(crate) async fn logout(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<AdminCaller>,
    Peer(ip): Peer,
) -> Response {
    if let AdminCaller::Session(key) = caller
        && app.admin.end_session(key)
    {
        info!(%ip, "administrator logged out");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_cookie(&mut response);
    response
}

/// `PUT /api/v1/admin/password`.
pub(crate) async fn change_password(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<AdminCaller>,
    request: Request,
) -> Response {
    let ip = peer_ip(request.extensions());
    let Body(PasswordChange { current, new }) =
        match Body::<PasswordChange>::from_request(request, &()).await {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        };
    let _changing = app.admin.changing().lock().await;
    match app.admin.verify(ip, &current).await {
        Ok(Verdict::Right) => {}
        Ok(Verdict::Wrong | Verdict::NotSet) => {
            warn!(%ip, "administrator password change refused: wrong current password");
            return ApiError::new(StatusCode::FORBIDDEN, "the current password is wrong")
                .into_response();
        }
        Ok(Verdict::Braked(wait)) => return too_many(wait),
        Err(e) => return e.into_response(),
    }
    let store = Arc::clone(app.admin.store());
    if let Err(e) = blocking(move || Ok(store.set_admin_password(&new)?)).await {
        return e.into_response();
    }
    let keep = match caller {
        AdminCaller::Session(key) => Some(key),
        AdminCaller::Token | AdminCaller::Basic => None,
    };
    let ended = app.admin.end_sessions(keep);
    info!(%ip, sessions_ended = ended, "administrator password changed");
    StatusCode::NO_CONTENT.into_response()
}
