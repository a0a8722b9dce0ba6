//! The Xtream-Codes ("XC") API: what IPTV apps (TiviMate, IPTV Smarters, Kodi, VLC,
//! Hypnotix…) log in to with a server address, a username and a password. Written to
//! `/work/shared/research/xc-api.md` (its §9 checklist and §7 choices); every answer is
//! listed here.
//!
//! # Common rules
//!
//! - Credentials (`username`, `password`) come from the query or an
//!   `application/x-www-form-urlencoded` POST body (the body wins; the last of a repeated
//!   key wins). Parameters are read tolerantly ([`params`]): malformed encoding,
//!   repeated keys and huge values never make an error. GET and POST are accepted on
//!   `player_api.php`, `panel_api.php`, `get.php` and `xmltv.php`; `OPTIONS` answers a
//!   CORS preflight (204).
//! - Logins ([`auth`]): users from the store (names regardless of case), argon2id once
//!   per password and then a keyed digest in memory; five failed logins from one
//!   address within a minute make further attempts from it refused unchecked until the
//!   oldest of those failures is a minute old.
//! - A user sees the channels of its categories (an empty list: all): in lists, EPG,
//!   playlists, the guide and stream URLs alike. Ids: `stream_id` is the channel's store
//!   id (stable), `num` its number, `epg_channel_id` = M3U `tvg-id` = XMLTV channel id =
//!   `"{id}.dvbgate"`.
//! - URLs in answers are built from the request's `Host` (the address the client
//!   reached), `server_info.url` is that host without the port.
//! - JSON answers: `Content-Type: application/json`, `Cache-Control: no-store`, CORS:
//!   the request's `Origin` echoed with `Access-Control-Allow-Credentials: true`, or
//!   `*` without one.
//!
//! # `player_api.php`
//!
//! Always HTTP 200 with JSON (clients treat anything else as fatal), except 503 when the
//! store cannot be read.
//!
//! - Wrong or unknown credentials, or none: `{"user_info":{"auth":0}}`.
//! - Refused as guessing: `{"user_info":{"auth":0,"message":"too many failed logins
//!   (from this address, or from everywhere at once); try again in N s"}}`.
//! - Right password but the account is disabled or expired:
//!   `{"user_info":{"auth":0,"status":"Disabled"|"Expired","message":"the account U is
//!   disabled|expired"}}`. Chosen over XCVM's error page (clients cannot show it) and
//!   over a full login object with `status: Expired` (apps that do not read `status`
//!   would go on and fail at every stream): `auth: 0` stops every client, `status` and
//!   `message` tell the ones that show them why. Streams, playlists and the guide of
//!   such an account answer 403.
//! - No `action`, or one not listed below (`get_profile`, `get_server_info`,
//!   `get_account_info`…): the login object (xc-api.md §2.2): `user_info` {`username`
//!   (as stored), `password` (as sent), `message`, `auth` 1, `status` "Active",
//!   `exp_date` (digit string; now + 10 years when the account never expires),
//!   `is_trial` "0", `active_cons` (string: the user's connections now, see
//!   [`streams`]), `created_at` (digit string), `max_connections` (string),
//!   `allowed_output_formats` ["m3u8","ts"]}, `server_info` {`url`, `port`,
//!   `https_port`, `rtmp_port` (strings, the request's port), `server_protocol` "http",
//!   `timezone` (the box's IANA zone, "UTC" when it has none), `timestamp_now` (number),
//!   `time_now` ("YYYY-MM-DD HH:MM:SS" in that zone), `process` true}.
//! - `get_live_categories` (201): `[{"category_id":"1","category_name":"TV","parent_id":0}]`,
//!   the categories holding channels the user sees, in the order of their first channel.
//! - `get_live_streams` (202) `[&category_id=N]`: one row per channel in number order:
//!   `num`, `name`, `stream_type` "live", `stream_id`, `stream_icon` "",
//!   `epg_channel_id`, `added` (digit string, "0" if unknown), `is_adult` "0",
//!   `category_id` (string), `category_ids` [number], `custom_sid` "", `tv_archive` 0,
//!   `tv_archive_duration` 0, `direct_source` "", `thumbnail` "". A `category_id` that
//!   is no category (or empty, or not a number) means all; a category without the
//!   user's channels gives `[]`. Rendered once per (lineup version, user's categories,
//!   filter) and kept; gzip-encoded (`Content-Encoding: gzip`) when the client's
//!   `Accept-Encoding` allows it (a thousand channels are 280 KB of JSON, 20 KB gzipped).
//! - `get_short_epg` (205) `&stream_id=N[&limit=K]`: `{"epg_listings":[…]}`, the
//!   programmes running now or later, in order, at most K (default 4; 0 or junk: 4).
//!   Rows: `id` (event id), `epg_id` (the stream id), `title` and `description`
//!   (standard base64 with padding of the UTF-8 text; the description is the summary
//!   and the long text), `lang` (ISO 639-2 or ""), `start`, `end` and `stop`
//!   ("YYYY-MM-DD HH:MM:SS" in `server_info.timezone`), `start_timestamp`,
//!   `stop_timestamp` (digit strings), `channel_id` (the `epg_channel_id`), `stream_id`
//!   (string). An unknown or hidden stream id, or none: `{"epg_listings":[]}`.
//! - `get_simple_data_table` (207) `&stream_id=N`: the same rows for every stored
//!   programme, past ones included, plus `now_playing` (0/1) and `has_archive` 0.
//! - Both EPG actions with `stream_id=1,2,3` (or `&multi`): `epg_listings` is an object
//!   keyed by stream id (at most 64 ids).
//! - `get_vod_categories` (200), `get_series_categories` (206), `get_vod_streams` (203),
//!   `get_series` (208): `[]`. `get_vod_info` (209): `{"info":[],"movie_data":[]}`.
//!   `get_series_info` (204): `{"seasons":[],"info":{"name":null},"episodes":{}}`.
//!
//! # `panel_api.php`
//!
//! The same logins and failures as `player_api.php`. Any request: the login object plus
//! `categories` {`live`: as `get_live_categories`, `movie` [], `series` []} and
//! `available_channels` {"<stream_id>": a `get_live_streams` row}. With
//! `action=get_epg&stream_id=N`: `[{id, epg_id, title, lang, start, end, description,
//! channel_id}]` with unix-second numbers as `start`/`end` (base64 texts).
//!
//! # `get.php`
//!
//! `?username=U&password=P[&type=m3u|m3u_plus][&output=ts|m3u8|hls]`. 200
//! `audio/x-mpegurl`, `Content-Disposition: attachment; filename="playlist_U_plus.m3u"`
//! (`playlist_U.m3u` for `type=m3u`), UTF-8 without BOM. `#EXTM3U
//! url-tvg="http://H:P/xmltv.php?username=U&password=P" x-tvg-url="…"`, then per channel
//! in number order `#EXTINF:-1 tvg-id="…" tvg-name="…" tvg-logo="" tvg-chno="N"
//! group-title="Category"[ radio="true"],Name` (`type=m3u`: `#EXTINF:-1,Name`) and the
//! URL: `http://H:P/U/P/ID` for TS (the default, and any `output` but m3u8/hls),
//! `http://H:P/live/U/P/ID.m3u8` for HLS. Quotes in attribute values become `'`, line
//! breaks spaces. Failed logins: 401 (`text/plain`), guessing: 429 with `Retry-After`,
//! disabled/expired: 403.
//!
//! # `xmltv.php`
//!
//! The XMLTV guide of the user's channels, `application/xml; charset=utf-8`; with
//! `Accept-Encoding: gzip`, gzip-encoded (`Content-Encoding: gzip`, `Vary:
//! Accept-Encoding`); with `&gzip=1`, the gzip file itself as
//! `application/octet-stream` (XCVM's download). Failures as `get.php`. Cached (see
//! [`crate::lineup`]).
//!
//! # Streams
//!
//! `/live/U/P/ID.ts`, `/live/U/P/ID` (TS), `/live/U/P/ID.m3u8`, `/U/P/ID`, `/U/P/ID.ts`
//! (TS), `/U/P/ID.m3u8`; ID is the stream id, digits only (anything else: the API's
//! JSON 404). TS: 200 `video/mp2t`, the channel's live stream for as long as the client
//! reads (the `/stream/N.ts` pipeline). m3u8: 200 `application/vnd.apple.mpegurl`, the
//! live media playlist with absolute segment URLs `http://H:P/hls/N/SEQ.ts`. Failed
//! login 401, guessing 429 + `Retry-After`, disabled/expired 403, a channel the user
//! does not see (or none) 404, one connection more than `max_connections` 403 (all
//! `text/plain` with the reason); a channel that cannot play now 503 with the reason and
//! `Retry-After`, as `/stream/N.ts`.
//! `/timeshift/…`, `/timeshifts/…` and `/streaming/timeshift.php`: 404 `text/plain`
//! (there is no archive: `tv_archive` is 0). `/movie/…`, `/series/…`: 404 `text/plain`.

pub(crate) mod auth;
pub(crate) mod params;
pub(crate) mod player_api;
pub(crate) mod playlist;
pub(crate) mod streams;

use crate::app::AppState;
use crate::cache::Cached;
use crate::error::ApiError;
use crate::lineup::{Lineup, Rendered};
use crate::routes::{Gateway, blocking};
use auth::{Throttle, VerifiedCache};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, header};
use bytes::Bytes;
use dvbgate_store::{UserStatus, XcUser};
use params::{Params, plausible_credential};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use streams::Connections;

/// How long the users read from the store are used (changes through the API apply at
/// once).
const USERS_TTL: Duration = Duration::from_secs(1);
/// Rendered `get_live_streams` answers kept.
const LIVE_CACHED: usize = 256;
/// Password checks (argon2id, 12 MiB each) run at the same time, at most: a burst of
/// logins queues instead of taking the box's memory.
const CONCURRENT_VERIFICATIONS: usize = 2;

/// The outcome of a login.
pub(crate) enum Login {
    Ok(Arc<XcUser>),
    /// Unknown user, wrong password, or no credentials.
    Failed,
    /// The right password, but the account may not be used.
    Inactive(Arc<XcUser>, UserStatus),
    /// Too many failures from this address (or the whole box): not checked; try again
    /// after this long.
    Throttled(Duration),
}

pub(crate) fn status_word(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "Active",
        UserStatus::Disabled => "Disabled",
        UserStatus::Expired => "Expired",
    }
}

type Users = HashMap<String, Arc<XcUser>>;
type LiveKey = (u64, Vec<u32>, Option<u32>);

/// What the XC routes keep between requests.
pub(crate) struct XcState {
    users: Cached<Users>,
    verified: VerifiedCache,
    throttle: Throttle,
    verifying: tokio::sync::Semaphore,
    pub(crate) connections: Arc<Connections>,
    live: Mutex<HashMap<LiveKey, Arc<Rendered>>>,
    pub(crate) tz: jiff::tz::TimeZone,
    pub(crate) tz_name: String,
}

/// The box's time zone and its IANA name; UTC when it has no named zone.
fn system_zone() -> (jiff::tz::TimeZone, String) {
    let tz = jiff::tz::TimeZone::system();
    match tz.iana_name().map(str::to_owned) {
        Some(name) => (tz, name),
        None => (jiff::tz::TimeZone::UTC, "UTC".into()),
    }
}

impl XcState {
    /// `hls_target`: the HLS target duration (for counting HLS sessions).
    pub(crate) fn new(hls_target: Duration) -> Self {
        let (tz, tz_name) = system_zone();
        XcState {
            users: Cached::new(USERS_TTL),
            verified: VerifiedCache::new(),
            throttle: Throttle::new(),
            verifying: tokio::sync::Semaphore::new(CONCURRENT_VERIFICATIONS),
            connections: Arc::new(Connections::new(hls_target)),
            live: Mutex::new(HashMap::new()),
            tz,
            tz_name,
        }
    }

    /// Forgets the users read from the store (after a change through the API).
    pub(crate) fn users_changed(&self, username: Option<&str>) {
        self.users.invalidate();
        if let Some(name) = username {
            self.verified.forget(&name.to_ascii_lowercase());
        }
    }

    async fn users(&self, app: &AppState) -> Result<Arc<Users>, ApiError> {
        let sup = app.supervisor.clone();
        self.users
            .get(move |_| {
                Ok(sup
                    .store()
                    .users()?
                    .into_iter()
                    .map(|u| (u.username.to_ascii_lowercase(), Arc::new(u)))
                    .collect())
            })
            .await
    }

    /// Checks credentials (see [`auth`]).
    pub(crate) async fn login(
        &self,
        app: &AppState,
        ip: IpAddr,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Login, ApiError> {
        use crate::monitor::XcLogin;
        let count = |outcome| app.monitor.count_xc_login(outcome);
        let now = Instant::now();
        if let Some(wait) = self.throttle.refused(ip, now) {
            count(XcLogin::Throttled);
            return Ok(Login::Throttled(wait));
        }
        let (Some(username), Some(password)) = (
            username.filter(|u| !u.is_empty()),
            password.filter(|p| !p.is_empty()),
        ) else {
            count(XcLogin::MissingCredentials);
            return Ok(Login::Failed);
        };
        if !plausible_credential(username) || !plausible_credential(password) {
            self.throttle.failed(ip, now);
            count(XcLogin::Malformed);
            return Ok(Login::Failed);
        }
        let key = username.to_ascii_lowercase();
        let Some(user) = self.users(app).await?.get(&key).cloned() else {
            self.throttle.failed(ip, now);
            count(XcLogin::UnknownUser);
            return Ok(Login::Failed);
        };
        let verified = if self.verified.check(&key, &user.password_hash, password) {
            true
        } else {
            let _permit = self.verifying.acquire().await.map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "logins are closed (shutting down)",
                )
            })?;
            // Failures of this address's other requests may have come in meanwhile.
            if let Some(wait) = self.throttle.refused(ip, Instant::now()) {
                count(XcLogin::Throttled);
                return Ok(Login::Throttled(wait));
            }
            let (hash, typed) = (user.password_hash.clone(), password.to_owned());
            let ok = blocking(move || Ok(dvbgate_store::verify_password(&hash, &typed))).await?;
            if ok {
                self.verified.remember(&key, &user.password_hash, password);
            }
            ok
        };
        if !verified {
            self.throttle.failed(ip, now);
            count(XcLogin::WrongPassword);
            return Ok(Login::Failed);
        }
        self.throttle.succeeded(ip);
        match user.status(dvbgate_control::epg::now_unix()) {
            UserStatus::Active => {
                count(XcLogin::Ok);
                Ok(Login::Ok(user))
            }
            other => {
                count(XcLogin::Inactive);
                Ok(Login::Inactive(user, other))
            }
        }
    }

    pub(crate) fn account<'a>(
        &'a self,
        user: &'a XcUser,
        password: &'a str,
        origin: &'a player_api::Origin,
    ) -> player_api::Account<'a> {
        player_api::Account {
            user,
            password,
            active_cons: self.connections.active(user.id, Instant::now()),
            now: dvbgate_control::epg::now_unix(),
            origin,
            tz: &self.tz,
            tz_name: &self.tz_name,
        }
    }

    /// The login object's JSON.
    pub(crate) fn login_object(&self, user: &XcUser, req: &XcRequest) -> Vec<u8> {
        let origin = player_api::Origin::from_headers(&req.headers);
        let password = req.params.get("password").unwrap_or("");
        let object = player_api::login_object(&self.account(user, password, &origin));
        let mut out = Vec::with_capacity(640);
        let _ = serde_json::to_writer(&mut out, &object);
        out
    }

    /// `get_live_streams`' answer, rendered once per lineup version, user categories and
    /// filter (and gzipped once, when a client accepts it).
    pub(crate) fn live_streams(
        &self,
        lineup: &Lineup,
        user: &XcUser,
        filter: Option<u32>,
    ) -> Arc<Rendered> {
        let key: LiveKey = (lineup.version, user.categories.clone(), filter);
        if let Some(r) = self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Arc::clone(r);
        }
        let rendered = Arc::new(Rendered::new(Bytes::from(player_api::render_live_streams(
            lineup, user, filter,
        ))));
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.len() >= LIVE_CACHED || live.keys().any(|(v, _, _)| *v != lineup.version) {
            live.retain(|(v, _, _), _| *v == lineup.version);
            if live.len() >= LIVE_CACHED {
                live.clear();
            }
        }
        live.insert(key, Arc::clone(&rendered));
        rendered
    }
}

/// An XC request, read without extractors that could refuse it.
pub(crate) struct XcRequest {
    pub params: Params,
    pub headers: HeaderMap,
    pub ip: IpAddr,
}

/// The request's source address (unspecified when the server did not say, as in
/// tests without a socket).
pub(crate) fn peer_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| {
            a.ip().to_canonical()
        })
}

impl XcRequest {
    pub(crate) async fn read(request: Request) -> XcRequest {
        let ip = peer_ip(&request);
        let (parts, body) = request.into_parts();
        let mut params = Params::default();
        if let Some(query) = parts.uri.query() {
            params.add_urlencoded(query.as_bytes());
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // Forms, and bodies that do not say what they are; never JSON or multipart.
        let form = content_type.is_empty()
            || content_type.starts_with("application/x-www-form-urlencoded")
            || content_type.starts_with("text/plain");
        if parts.method == Method::POST
            && form
            && let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await
        {
            params.add_urlencoded(&bytes);
        }
        XcRequest {
            params,
            headers: parts.headers,
            ip,
        }
    }
}

/// The XC routes.
pub(crate) fn routes() -> axum::Router<Arc<Gateway>> {
    use axum::routing::{any, get};
    let preflight = player_api::preflight;
    axum::Router::new()
        .route(
            "/player_api.php",
            get(player_api::player_api)
                .post(player_api::player_api)
                .options(preflight),
        )
        .route(
            "/panel_api.php",
            get(player_api::panel_api)
                .post(player_api::panel_api)
                .options(preflight),
        )
        .route(
            "/get.php",
            get(playlist::get_php)
                .post(playlist::get_php)
                .options(preflight),
        )
        .route(
            "/xmltv.php",
            get(playlist::xmltv_php)
                .post(playlist::xmltv_php)
                .options(preflight),
        )
        .route("/live/{username}/{password}/{file}", get(streams::live))
        .route("/{username}/{password}/{file}", get(streams::short))
        .route("/timeshift/{*rest}", any(streams::timeshift))
        .route("/timeshifts/{*rest}", any(streams::timeshift))
        .route("/streaming/timeshift.php", any(streams::timeshift))
        .route("/movie/{*rest}", any(streams::vod))
        .route("/series/{*rest}", any(streams::vod))
}
