//! XC stream URLs and the per-user connection limit.
//!
//! A user's active connections are its live HTTP TS bodies (counted while the body
//! lives) plus its HLS sessions: (channel, client address) pairs whose playlist was
//! fetched within the last [`Connections::window`] (three target durations, at least
//! 15 s; players refetch the live playlist every target duration). A request that would
//! make one more than `max_connections` is refused with 403, except that a new HLS
//! session first ends the user's HLS sessions from the same address on other channels
//! (a device zapping watches one channel at a time).

use super::{Login, XcState};
use crate::lineup::text_response;
use crate::routes::Gateway;
use crate::streaming::{absolute_media_playlist, base_url, serve_ts};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TEXT: &str = "text/plain; charset=utf-8";

#[derive(Default)]
struct UserConnections {
    ts: usize,
    hls: HashMap<(u32, IpAddr), Instant>,
}

impl UserConnections {
    fn prune(&mut self, now: Instant, window: Duration) {
        self.hls
            .retain(|_, seen| now.saturating_duration_since(*seen) < window);
    }

    fn active(&self) -> usize {
        self.ts + self.hls.len()
    }
}

/// See the module docs.
pub(crate) struct Connections {
    users: Mutex<HashMap<u32, UserConnections>>,
    window: Duration,
}

/// A live TS connection, counted until dropped (with the response body).
pub(crate) struct TsConnection {
    connections: Arc<Connections>,
    user: u32,
}

impl Drop for TsConnection {
    fn drop(&mut self) {
        let mut users = self.connections.lock();
        if let Some(u) = users.get_mut(&self.user) {
            u.ts = u.ts.saturating_sub(1);
            if u.ts == 0 && u.hls.is_empty() {
                users.remove(&self.user);
            }
        }
    }
}

impl Connections {
    /// `target`: the HLS target duration.
    pub(crate) fn new(target: Duration) -> Self {
        Connections {
            users: Mutex::new(HashMap::new()),
            window: (target * 3).max(Duration::from_secs(15)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, UserConnections>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user's active connections now.
    pub(crate) fn active(&self, user: u32, now: Instant) -> usize {
        let mut users = self.lock();
        users.get_mut(&user).map_or(0, |u| {
            u.prune(now, self.window);
            u.active()
        })
    }

    /// Counts a new TS connection, or says how many the user has (when at `max`).
    pub(crate) fn admit_ts(
        self: &Arc<Self>,
        user: u32,
        ip: IpAddr,
        max: u16,
        now: Instant,
    ) -> Result<TsConnection, usize> {
        let mut users = self.lock();
        let u = users.entry(user).or_default();
        u.prune(now, self.window);
        if u.active() >= usize::from(max) {
            u.hls.retain(|(_, from), _| *from != ip);
            if u.active() >= usize::from(max) {
                return Err(u.active());
            }
        }
        u.ts += 1;
        Ok(TsConnection {
            connections: Arc::clone(self),
            user,
        })
    }

    /// Records (or refreshes) an HLS session, or says how many connections the user has.
    pub(crate) fn admit_hls(
        &self,
        user: u32,
        channel: u32,
        ip: IpAddr,
        max: u16,
        now: Instant,
    ) -> Result<(), usize> {
        let mut users = self.lock();
        let u = users.entry(user).or_default();
        u.prune(now, self.window);
        if let Some(seen) = u.hls.get_mut(&(channel, ip)) {
            *seen = now;
            return Ok(());
        }
        if u.active() >= usize::from(max) {
            u.hls.retain(|(_, from), _| *from != ip);
            if u.active() >= usize::from(max) {
                return Err(u.active());
            }
        }
        u.hls.insert((channel, ip), now);
        Ok(())
    }

    /// Forgets a session whose playlist could not be served.
    pub(crate) fn forget_hls(&self, user: u32, channel: u32, ip: IpAddr) {
        if let Some(u) = self.lock().get_mut(&user) {
            u.hls.remove(&(channel, ip));
        }
    }
}

/// What a stream path asks for.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum StreamFile {
    Ts(u32),
    Hls(u32),
}

/// `ID`, `ID.ts` or `ID.m3u8`, ID digits only.
pub(crate) fn stream_file(file: &str) -> Option<StreamFile> {
    let (id, hls) = if let Some(id) = file.strip_suffix(".m3u8") {
        (id, true)
    } else {
        (file.strip_suffix(".ts").unwrap_or(file), false)
    };
    if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: u32 = id.parse().ok()?;
    Some(if hls {
        StreamFile::Hls(id)
    } else {
        StreamFile::Ts(id)
    })
}

fn plain(status: StatusCode, text: String) -> Response {
    text_response(status, TEXT, text)
}

/// The answer to a failed login on a non-JSON route (`get.php`, `xmltv.php`, streams).
pub(crate) fn refusal(login: &Login) -> Response {
    match login {
        Login::Ok(_) => plain(StatusCode::OK, String::new()),
        Login::Failed => plain(
            StatusCode::UNAUTHORIZED,
            "wrong username or password\n".into(),
        ),
        Login::Inactive(user, status) => plain(
            StatusCode::FORBIDDEN,
            format!(
                "the account {} is {}\n",
                user.username,
                super::status_word(*status).to_lowercase()
            ),
        ),
        Login::Throttled(wait) => {
            let secs = wait.as_secs().max(1);
            let mut r = plain(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed logins (from this address, or from everywhere at once); try again in {secs} s\n"
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

/// `GET /live/{u}/{p}/{file}`.
pub(crate) async fn live(
    State(gw): State<Arc<Gateway>>,
    Path((username, password, file)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    stream(&gw, &username, &password, &file, request).await
}

/// `GET /{u}/{p}/{file}`: the short form (TS unless the file says `.m3u8`).
pub(crate) async fn short(
    State(gw): State<Arc<Gateway>>,
    Path((username, password, file)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    stream(&gw, &username, &password, &file, request).await
}

async fn stream(
    gw: &Gateway,
    username: &str,
    password: &str,
    file: &str,
    request: Request,
) -> Response {
    let Some(what) = stream_file(file) else {
        return crate::error::ApiError::not_found("no such resource").into_response();
    };
    let ip = super::peer_ip(&request);
    let xc: &XcState = &gw.xc;
    let user = match xc.login(&gw.app, ip, Some(username), Some(password)).await {
        Ok(Login::Ok(user)) => user,
        Ok(other) => return refusal(&other),
        Err(e) => return e.into_response(),
    };
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let channel_id = match what {
        StreamFile::Ts(id) | StreamFile::Hls(id) => id,
    };
    let Some(entry) = lineup
        .channel(channel_id)
        .filter(|e| user.allows_category(e.category_id))
    else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no stream {channel_id} for this account\n"),
        );
    };
    let number = entry.number;
    let too_many = |active: usize| {
        plain(
            StatusCode::FORBIDDEN,
            format!(
                "the account {} already has {active} of its {} connections\n",
                user.username, user.max_connections
            ),
        )
    };
    let now = Instant::now();
    match what {
        StreamFile::Ts(_) => {
            match xc
                .connections
                .admit_ts(user.id, ip, user.max_connections, now)
            {
                Ok(held) => serve_ts(&gw.app, number, Some(Box::new(held))).await,
                Err(active) => too_many(active),
            }
        }
        StreamFile::Hls(_) => {
            if let Err(active) =
                xc.connections
                    .admit_hls(user.id, channel_id, ip, user.max_connections, now)
            {
                return too_many(active);
            }
            let headers = request.headers();
            let base = base_url(headers);
            let response = absolute_media_playlist(&gw.app, number, base.as_deref(), headers).await;
            if !response.status().is_success() && response.status() != StatusCode::NOT_MODIFIED {
                xc.connections.forget_hls(user.id, channel_id, ip);
            }
            response
        }
    }
}

/// `/timeshift/…`, `/timeshifts/…`, `/streaming/timeshift.php`: there is no archive.
pub(crate) async fn timeshift() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "no catch-up: this gateway keeps no archive (tv_archive 0)\n".into(),
    )
}

/// `/movie/…`, `/series/…`: there is no video on demand.
pub(crate) async fn vod() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "no video on demand on this gateway\n".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[test]
    fn stream_files() {
        assert_eq!(stream_file("12"), Some(StreamFile::Ts(12)));
        assert_eq!(stream_file("12.ts"), Some(StreamFile::Ts(12)));
        assert_eq!(stream_file("12.m3u8"), Some(StreamFile::Hls(12)));
        for bad in [
            "",
            ".ts",
            "a.ts",
            "1.2",
            "-1",
            "12.mp4",
            "99999999999",
            "12.m3u8.ts",
        ] {
            assert_eq!(stream_file(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ts_connections_count_while_held() {
        let c = Arc::new(Connections::new(Duration::from_secs(2)));
        let now = Instant::now();
        let a = c.admit_ts(1, ip(1), 2, now).unwrap();
        let b = c.admit_ts(1, ip(2), 2, now).unwrap();
        assert_eq!(c.active(1, now), 2);
        assert_eq!(c.admit_ts(1, ip(3), 2, now).err(), Some(2));
        assert!(c.admit_ts(2, ip(3), 2, now).is_ok(), "users count apart");
        drop(a);
        assert_eq!(c.active(1, now), 1);
        let _c = c.admit_ts(1, ip(3), 2, now).unwrap();
        drop(b);
        assert_eq!(c.active(1, now), 1);
    }

    #[test]
    fn hls_sessions_count_for_the_window_and_refresh() {
        let c = Connections::new(Duration::from_secs(2));
        assert_eq!(c.window, Duration::from_secs(15), "at least 15 s");
        assert_eq!(
            Connections::new(Duration::from_secs(8)).window,
            Duration::from_secs(24)
        );
        let t0 = Instant::now();
        c.admit_hls(1, 10, ip(1), 2, t0).unwrap();
        c.admit_hls(1, 10, ip(1), 2, t0 + Duration::from_secs(10))
            .unwrap();
        assert_eq!(c.active(1, t0 + Duration::from_secs(10)), 1, "same session");
        c.admit_hls(1, 11, ip(2), 2, t0 + Duration::from_secs(12))
            .unwrap();
        assert_eq!(
            c.admit_hls(1, 12, ip(3), 2, t0 + Duration::from_secs(12)),
            Err(2)
        );
        // ip(1)'s session was refreshed at 10 s: it lives until 25 s; ip(2)'s until 27 s.
        assert_eq!(c.active(1, t0 + Duration::from_secs(24)), 2);
        assert_eq!(c.active(1, t0 + Duration::from_secs(25)), 1);
        c.admit_hls(1, 12, ip(3), 2, t0 + Duration::from_secs(25))
            .unwrap();
    }

    #[test]
    fn zapping_on_one_device_replaces_its_session() {
        let c = Arc::new(Connections::new(Duration::from_secs(2)));
        let now = Instant::now();
        c.admit_hls(1, 10, ip(1), 1, now).unwrap();
        c.admit_hls(1, 11, ip(1), 1, now).unwrap();
        assert_eq!(c.active(1, now), 1);
        assert_eq!(c.admit_hls(1, 12, ip(2), 1, now), Err(1));
        let _ts = c.admit_ts(1, ip(1), 1, now).unwrap();
        assert_eq!(
            c.active(1, now),
            1,
            "the TS stream replaced the HLS session"
        );
        c.forget_hls(1, 11, ip(1));
        assert_eq!(c.active(1, now), 1);
    }
}
