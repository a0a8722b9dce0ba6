//! `player_api.php` and `panel_api.php`: the JSON of the XC API (see the module docs of
//! [`crate::xc`] for every answer).

use super::{Login, XcRequest, status_word};
use crate::lineup::Lineup;
use crate::routes::Gateway;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dvbgate_control::LineupEntry;
use dvbgate_epg::Event;
use dvbgate_store::XcUser;
use serde::Serialize;
use std::sync::Arc;

/// `exp_date` of an account that never expires: now plus ten years (PYX needs digits).
const NO_EXPIRY_SECS: i64 = 10 * 365 * 24 * 3600;
pub(crate) const SHORT_EPG_DEFAULT: usize = 4;
/// The most programmes one EPG answer lists per channel.
const MAX_EPG_ROWS: usize = 10_000;
/// The most channels one `stream_id=1,2,3` EPG request names.
const MAX_MULTI: usize = 64;
/// Stream lists at least this long are sent gzipped to clients that accept it.
const GZIP_FROM: usize = 4096;
pub(crate) const OUTPUT_FORMATS: [&str; 2] = ["m3u8", "ts"];

/// Where the client reached us: `server_info.url` (host, no port) and the port.
pub(crate) struct Origin {
    pub host: String,
    pub port: String,
}

impl Origin {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Origin {
        let base = crate::streaming::base_url(headers).unwrap_or_default();
        let authority = base.strip_prefix("http://").unwrap_or("");
        let (host, port) = split_host_port(authority);
        Origin {
            host: host.to_owned(),
            port: port.unwrap_or("80").to_owned(),
        }
    }
}

/// `host[:port]` (the host may be a bracketed IPv6 address).
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let host = &authority[..=end];
                let port = authority[end + 1..]
                    .strip_prefix(':')
                    .filter(|p| !p.is_empty());
                (host, port)
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() => (host, Some(port)),
        Some((host, _)) => (host, None),
        None => (authority, None),
    }
}

/// Standard base64 with padding (RFC 4648 §4), as XC clients decode the guide's texts.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `YYYY-MM-DD HH:MM:SS` of unix time `t` in `tz`.
pub(crate) fn wall_clock(tz: &jiff::tz::TimeZone, t: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(t) else {
        return "1970-01-01 00:00:00".into();
    };
    let d = tz.to_datetime(ts);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

#[derive(Serialize)]
struct UserInfo<'a> {
    username: &'a str,
    password: &'a str,
    message: &'a str,
    auth: u8,
    status: &'a str,
    exp_date: String,
    is_trial: &'a str,
    active_cons: String,
    created_at: String,
    max_connections: String,
    allowed_output_formats: [&'a str; 2],
}

#[derive(Serialize)]
struct ServerInfo<'a> {
    url: &'a str,
    port: &'a str,
    https_port: &'a str,
    server_protocol: &'a str,
    rtmp_port: &'a str,
    timezone: &'a str,
    timestamp_now: i64,
    time_now: String,
    process: bool,
}

#[derive(Serialize)]
pub(crate) struct LoginObject<'a> {
    user_info: UserInfo<'a>,
    server_info: ServerInfo<'a>,
}

/// What the login object is made of.
pub(crate) struct Account<'a> {
    pub user: &'a XcUser,
    /// As the client sent it (it was verified).
    pub password: &'a str,
    pub active_cons: usize,
    pub now: i64,
    pub origin: &'a Origin,
    pub tz: &'a jiff::tz::TimeZone,
    pub tz_name: &'a str,
}

pub(crate) fn login_object<'a>(a: &Account<'a>) -> LoginObject<'a> {
    LoginObject {
        user_info: UserInfo {
            username: &a.user.username,
            password: a.password,
            message: "Welcome to dvbgate",
            auth: 1,
            status: "Active",
            exp_date: a
                .user
                .expires_at
                .unwrap_or(a.now + NO_EXPIRY_SECS)
                .max(0)
                .to_string(),
            is_trial: "0",
            active_cons: a.active_cons.to_string(),
            created_at: a.user.created_at.max(0).to_string(),
            max_connections: a.user.max_connections.to_string(),
            allowed_output_formats: OUTPUT_FORMATS,
        },
        server_info: ServerInfo {
            url: &a.origin.host,
            port: &a.origin.port,
            https_port: &a.origin.port,
            server_protocol: "http",
            rtmp_port: &a.origin.port,
            timezone: a.tz_name,
            timestamp_now: a.now,
            time_now: wall_clock(a.tz, a.now),
            process: true,
        },
    }
}

#[derive(Serialize)]
pub(crate) struct CategoryRow<'a> {
    category_id: String,
    category_name: &'a str,
    parent_id: u32,
}

/// The categories that hold channels the user sees, in the order of their first channel.
pub(crate) fn live_categories<'a>(lineup: &'a Lineup, user: &'a XcUser) -> Vec<CategoryRow<'a>> {
    let mut seen = Vec::new();
    let mut rows = Vec::new();
    for e in visible(lineup, user) {
        if !seen.contains(&e.category_id) {
            seen.push(e.category_id);
            rows.push(CategoryRow {
                category_id: e.category_id.to_string(),
                category_name: &e.category_name,
                parent_id: 0,
            });
        }
    }
    rows
}

pub(crate) fn visible<'a>(
    lineup: &'a Lineup,
    user: &'a XcUser,
) -> impl Iterator<Item = &'a LineupEntry> + 'a {
    lineup
        .entries
        .iter()
        .filter(|e| user.allows_category(e.category_id))
}

#[derive(Serialize)]
pub(crate) struct LiveRow<'a> {
    num: u16,
    name: &'a str,
    stream_type: &'static str,
    stream_id: u32,
    stream_icon: &'static str,
    epg_channel_id: &'a str,
    added: String,
    is_adult: &'static str,
    category_id: String,
    category_ids: [u32; 1],
    custom_sid: &'static str,
    tv_archive: u8,
    tv_archive_duration: u8,
    direct_source: &'static str,
    thumbnail: &'static str,
}

pub(crate) fn live_row(e: &LineupEntry) -> LiveRow<'_> {
    LiveRow {
        num: e.number,
        name: &e.name,
        stream_type: "live",
        stream_id: e.channel_id,
        stream_icon: "",
        epg_channel_id: &e.epg_id,
        added: e.added.max(0).to_string(),
        is_adult: "0",
        category_id: e.category_id.to_string(),
        category_ids: [e.category_id],
        custom_sid: "",
        tv_archive: 0,
        tv_archive_duration: 0,
        direct_source: "",
        thumbnail: "",
    }
}

/// `get_live_streams`' body: the user's channels, of one category if `filter`.
pub(crate) fn render_live_streams(lineup: &Lineup, user: &XcUser, filter: Option<u32>) -> Vec<u8> {
    let rows: Vec<LiveRow<'_>> = visible(lineup, user)
        .filter(|e| filter.is_none_or(|f| e.category_id == f))
        .map(live_row)
        .collect();
    let mut out = Vec::with_capacity(rows.len() * 400 + 2);
    // Serializing plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &rows);
    out
}

#[derive(Serialize)]
pub(crate) struct EpgRow<'a> {
    id: String,
    epg_id: String,
    title: String,
    lang: &'a str,
    start: String,
    end: String,
    description: String,
    channel_id: &'a str,
    start_timestamp: String,
    stop_timestamp: String,
    stream_id: String,
    stop: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    now_playing: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_archive: Option<u8>,
}

/// The text XC clients show under a title: the summary and the long text.
fn description(e: &Event) -> String {
    match (e.short_text.trim(), e.description.trim()) {
        ("", d) => d.to_owned(),
        (s, "") => s.to_owned(),
        (s, d) if d.starts_with(s) => d.to_owned(),
        (s, d) => format!("{s}\n{d}"),
    }
}

/// One listing row; `table` adds `now_playing` and `has_archive`.
pub(crate) fn epg_row<'a>(
    entry: &'a LineupEntry,
    e: &'a Event,
    tz: &jiff::tz::TimeZone,
    now: i64,
    table: bool,
) -> EpgRow<'a> {
    let end = wall_clock(tz, e.end());
    EpgRow {
        id: e.event_id.to_string(),
        epg_id: entry.channel_id.to_string(),
        title: base64(e.title.as_bytes()),
        lang: &e.language,
        start: wall_clock(tz, e.start),
        stop: end.clone(),
        end,
        description: base64(description(e).as_bytes()),
        channel_id: &entry.epg_id,
        start_timestamp: e.start.to_string(),
        stop_timestamp: e.end().to_string(),
        stream_id: entry.channel_id.to_string(),
        now_playing: table.then_some(u8::from(e.start <= now && now < e.end())),
        has_archive: table.then_some(0),
    }
}

/// A JSON answer, with CORS as XCVM sends it (the Origin echoed, with credentials).
pub(crate) fn json(body: impl Into<Bytes>, request_headers: &HeaderMap) -> Response {
    let mut response = (StatusCode::OK, body.into()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors(h, request_headers);
    response
}

pub(crate) fn cors(h: &mut HeaderMap, request_headers: &HeaderMap) {
    match request_headers.get(header::ORIGIN) {
        Some(origin) => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        None => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let _ = serde_json::to_writer(&mut out, value);
    out
}

/// The answer to a login that did not succeed: HTTP 200 with `auth: 0`.
pub(crate) fn failed_login(login: &Login) -> Vec<u8> {
    #[derive(Serialize)]
    struct Failed<'a> {
        auth: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    }
    let user_info = match login {
        Login::Inactive(user, status) => Failed {
            auth: 0,
            status: Some(status_word(*status)),
            message: Some(format!(
                "the account {} is {}",
                user.username,
                status_word(*status).to_lowercase()
            )),
        },
        Login::Throttled(wait) => Failed {
            auth: 0,
            status: None,
            message: Some(format!(
                "too many failed logins (from this address, or from everywhere at once); try again in {} s",
                wait.as_secs().max(1)
            )),
        },
        Login::Failed | Login::Ok(_) => Failed {
            auth: 0,
            status: None,
            message: None,
        },
    };
    to_json(&serde_json::json!({ "user_info": user_info }))
}

/// The action, with XCVM's numeric aliases resolved.
pub(crate) fn action_name(action: &str) -> &str {
    match action {
        "200" => "get_vod_categories",
        "201" => "get_live_categories",
        "202" => "get_live_streams",
        "203" => "get_vod_streams",
        "204" => "get_series_info",
        "205" => "get_short_epg",
        "206" => "get_series_categories",
        "207" => "get_simple_data_table",
        "208" => "get_series",
        "209" => "get_vod_info",
        other => other,
    }
}

/// The stream ids an EPG action names: `stream_id=N`, or `stream_id=1,2,3`/`&multi`
/// (then the listings are an object keyed by id).
pub(crate) fn epg_stream_ids(req: &XcRequest) -> (Vec<u32>, bool) {
    let raw = req.params.get("stream_id").unwrap_or("");
    let multi = raw.contains(',') || req.params.has("multi");
    let ids = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|s| s.parse().ok())
        .take(MAX_MULTI)
        .collect();
    (ids, multi)
}

/// A channel and its programmes.
type ChannelEvents<'a> = (&'a LineupEntry, Vec<Event>);

/// `short`: current and future programmes, at most `limit`; else everything stored.
fn epg_listings(
    gw: &Gateway,
    lineup: &Lineup,
    user: &XcUser,
    req: &XcRequest,
    short: bool,
) -> Vec<u8> {
    let limit = if short {
        req.params
            .number::<usize>("limit")
            .filter(|&l| l > 0)
            .unwrap_or(SHORT_EPG_DEFAULT)
            .min(MAX_EPG_ROWS)
    } else {
        MAX_EPG_ROWS
    };
    let now = dvbgate_control::epg::now_unix();
    let (ids, multi) = epg_stream_ids(req);
    let epg = gw.app.supervisor.epg();
    let events_of = |id: u32| -> Option<ChannelEvents<'_>> {
        let entry = lineup
            .channel(id)
            .filter(|e| user.allows_category(e.category_id))?;
        let from = if short { now } else { 0 };
        Some((entry, epg.channel_events(id, from, i64::MAX, limit)))
    };
    let tz = &gw.xc.tz;
    if multi {
        let fetched: Vec<(u32, Option<ChannelEvents<'_>>)> =
            ids.iter().map(|&id| (id, events_of(id))).collect();
        struct ById<'a>(Vec<(String, Vec<EpgRow<'a>>)>);
        impl Serialize for ById<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        #[derive(Serialize)]
        struct MultiListings<'a> {
            epg_listings: ById<'a>,
        }
        let by_id = fetched
            .iter()
            .map(|(id, found)| {
                let rows = found.as_ref().map_or_else(Vec::new, |(entry, events)| {
                    events
                        .iter()
                        .map(|e| epg_row(entry, e, tz, now, !short))
                        .collect()
                });
                (id.to_string(), rows)
            })
            .collect();
        return to_json(&MultiListings {
            epg_listings: ById(by_id),
        });
    }
    #[derive(Serialize)]
    struct Listings<'a> {
        epg_listings: Vec<EpgRow<'a>>,
    }
    let found = ids.first().and_then(|&id| events_of(id));
    let rows = match &found {
        Some((entry, events)) => events
            .iter()
            .map(|e| epg_row(entry, e, tz, now, !short))
            .collect(),
        None => Vec::new(),
    };
    to_json(&Listings { epg_listings: rows })
}

/// `POST|GET /player_api.php`.
pub(crate) async fn player_api(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    let req = XcRequest::read(request).await;
    let (user, lineup) = match authenticate(&gw, &req).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let action = action_name(req.params.get("action").unwrap_or(""));
    let body: Bytes = match action {
        "get_live_categories" => to_json(&live_categories(&lineup, &user)).into(),
        "get_live_streams" => {
            let filter = req
                .params
                .number::<u32>("category_id")
                .filter(|&id| lineup.category_exists(id));
            let rendered = gw.xc.live_streams(&lineup, &user, filter);
            if crate::lineup::accepts_gzip(&req.headers)
                && rendered.plain.len() >= GZIP_FROM
                && let Ok(packed) = rendered.gzip().await
            {
                let mut response = json(packed, &req.headers);
                let h = response.headers_mut();
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
                return response;
            }
            rendered.plain.clone()
        }
        "get_vod_categories" | "get_series_categories" | "get_vod_streams" | "get_series" => {
            Bytes::from_static(b"[]")
        }
        "get_vod_info" => Bytes::from_static(br#"{"info":[],"movie_data":[]}"#),
        "get_series_info" => {
            Bytes::from_static(br#"{"seasons":[],"info":{"name":null},"episodes":{}}"#)
        }
        "get_short_epg" => epg_listings(&gw, &lineup, &user, &req, true).into(),
        "get_simple_data_table" => epg_listings(&gw, &lineup, &user, &req, false).into(),
        _ => gw.xc.login_object(&user, &req).into(),
    };
    json(body, &req.headers)
}

/// Logs the request's credentials in; the answer to send when that fails.
async fn authenticate(
    gw: &Gateway,
    req: &XcRequest,
) -> Result<(Arc<XcUser>, Arc<Lineup>), Response> {
    let login = gw
        .xc
        .login(
            &gw.app,
            req.ip,
            req.params.get("username"),
            req.params.get("password"),
        )
        .await
        .map_err(IntoResponse::into_response)?;
    let user = match login {
        Login::Ok(user) => user,
        other => return Err(json(failed_login(&other), &req.headers)),
    };
    let lineup = gw
        .lineup
        .get(&gw.app)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((user, lineup))
}

/// `POST|GET /panel_api.php`: the login object with `categories` and
/// `available_channels`; `action=get_epg&stream_id=N`: the channel's programmes with
/// unix `start`/`end`.
pub(crate) async fn panel_api(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    let req = XcRequest::read(request).await;
    let (user, lineup) = match authenticate(&gw, &req).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if req.params.get("action") == Some("get_epg") {
        #[derive(Serialize)]
        struct Programme<'a> {
            id: String,
            epg_id: String,
            title: String,
            lang: &'a str,
            start: i64,
            end: i64,
            description: String,
            channel_id: &'a str,
        }
        let (ids, _) = epg_stream_ids(&req);
        let entry = ids.first().and_then(|&id| {
            lineup
                .channel(id)
                .filter(|e| user.allows_category(e.category_id))
        });
        let events = entry.map_or_else(Vec::new, |e| {
            gw.app
                .supervisor
                .epg()
                .channel_events(e.channel_id, 0, i64::MAX, MAX_EPG_ROWS)
        });
        let rows: Vec<Programme<'_>> = match entry {
            Some(entry) => events
                .iter()
                .map(|e| Programme {
                    id: e.event_id.to_string(),
                    epg_id: entry.channel_id.to_string(),
                    title: base64(e.title.as_bytes()),
                    lang: &e.language,
                    start: e.start,
                    end: e.end(),
                    description: base64(description(e).as_bytes()),
                    channel_id: &entry.epg_id,
                })
                .collect(),
            None => Vec::new(),
        };
        return json(to_json(&rows), &req.headers);
    }
    #[derive(Serialize)]
    struct Categories<'a> {
        live: Vec<CategoryRow<'a>>,
        movie: [(); 0],
        series: [(); 0],
    }
    struct Channels<'a>(Vec<&'a LineupEntry>);
    impl Serialize for Channels<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(
                self.0
                    .iter()
                    .map(|e| (e.channel_id.to_string(), live_row(e))),
            )
        }
    }
    #[derive(Serialize)]
    struct Panel<'a> {
        #[serde(flatten)]
        login: LoginObject<'a>,
        categories: Categories<'a>,
        available_channels: Channels<'a>,
    }
    let origin = Origin::from_headers(&req.headers);
    let password = req.params.get("password").unwrap_or("");
    let account = gw.xc.account(&user, password, &origin);
    let panel = Panel {
        login: login_object(&account),
        categories: Categories {
            live: live_categories(&lineup, &user),
            movie: [],
            series: [],
        },
        available_channels: Channels(visible(&lineup, &user).collect()),
    };
    json(to_json(&panel), &req.headers)
}

/// `OPTIONS` on the `.php` endpoints: a CORS preflight (web players that send
/// `Content-Type: application/json` on their GETs make browsers ask first).
pub(crate) async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    cors(h, &headers);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    let asked = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("Content-Type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineup::tests::entry;
    use serde_json::Value;

    #[test]
    fn base64_is_standard_with_padding() {
        // Not the URL-safe alphabet, and padded: what XC clients decode.
        assert_eq!(base64("Tagesschau ü".as_bytes()), "VGFnZXNzY2hhdSDDvA==");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            split_host_port("192.0.2.1:8080"),
            ("192.0.2.1", Some("8080"))
        );
        assert_eq!(split_host_port("box.local"), ("box.local", None));
        assert_eq!(split_host_port("[::1]:81"), ("[::1]", Some("81")));
        assert_eq!(split_host_port("[fe80::1]"), ("[fe80::1]", None));
        assert_eq!(split_host_port("box:"), ("box", None));
    }

    #[test]
    fn wall_clock_is_in_the_zone() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // 2026-11-21 04:45:40 UTC.
        assert_eq!(wall_clock(&berlin, 1_795_236_340), "2026-11-21 05:45:40");
        assert_eq!(
            wall_clock(&jiff::tz::TimeZone::UTC, 1_795_236_340),
            "2026-11-21 04:45:40"
        );
        // Summer time.
        assert_eq!(wall_clock(&berlin, 1_780_000_000), "2026-05-28 22:26:40");
    }

    fn user() -> XcUser {
        XcUser {
            id: 3,
            username: "room101".into(),
            password_hash: "$argon2id$x".into(),
            enabled: true,
            expires_at: None,
            max_connections: 4,
            categories: vec![],
            created_at: 1_792_644_339,
            note: String::new(),
        }
    }

    #[test]
    fn the_login_object_has_every_field_with_its_wire_type() {
        let u = user();
        let origin = Origin {
            host: "192.0.2.10".into(),
            port: "8080".into(),
        };
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let now = 1_795_236_340;
        let v: Value = serde_json::to_value(login_object(&Account {
            user: &u,
            password: "secret",
            active_cons: 1,
            now,
            origin: &origin,
            tz: &tz,
            tz_name: "Europe/Berlin",
        }))
        .unwrap();
        let ui = &v["user_info"];
        for s in [
            "username",
            "password",
            "message",
            "status",
            "exp_date",
            "is_trial",
            "active_cons",
            "created_at",
            "max_connections",
        ] {
            assert!(ui[s].is_string(), "user_info.{s} is a string: {}", ui[s]);
        }
        assert_eq!(ui["auth"], 1);
        assert_eq!(ui["status"], "Active");
        assert_eq!(ui["active_cons"], "1");
        assert_eq!(ui["max_connections"], "4");
        assert_eq!(ui["created_at"], "1792644339");
        assert_eq!(ui["is_trial"], "0");
        let exp: i64 = ui["exp_date"].as_str().unwrap().parse().unwrap();
        assert!(
            exp > now + 9 * 365 * 86400,
            "far future when it never expires"
        );
        assert_eq!(
            ui["allowed_output_formats"],
            serde_json::json!(["m3u8", "ts"])
        );
        let si = &v["server_info"];
        assert_eq!(si["url"], "192.0.2.10");
        for s in ["port", "https_port", "rtmp_port"] {
            assert_eq!(si[s], "8080", "{s}");
        }
        assert_eq!(si["server_protocol"], "http");
        assert_eq!(si["timezone"], "Europe/Berlin");
        assert_eq!(si["timestamp_now"], now);
        assert_eq!(si["time_now"], "2026-11-21 05:45:40");
        assert_eq!(si["process"], true);

        let mut expiring = user();
        expiring.expires_at = Some(1_800_000_000);
        let v = serde_json::to_value(login_object(&Account {
            user: &expiring,
            password: "secret",
            active_cons: 0,
            now,
            origin: &origin,
            tz: &tz,
            tz_name: "Europe/Berlin",
        }))
        .unwrap();
        assert_eq!(v["user_info"]["exp_date"], "1800000000");
    }

    #[test]
    fn live_rows_have_the_types_clients_need() {
        let e = entry(102, 7, "ZDF HD", 1);
        let v = serde_json::to_value(live_row(&e)).unwrap();
        assert_eq!(v["num"], 7);
        assert_eq!(v["stream_id"], 102);
        assert_eq!(v["stream_type"], "live");
        assert_eq!(v["name"], "ZDF HD");
        assert_eq!(v["epg_channel_id"], "102.dvbgate");
        assert_eq!(v["added"], "1700000000");
        assert_eq!(v["category_id"], "1");
        assert_eq!(v["category_ids"], serde_json::json!([1]));
        assert_eq!(v["is_adult"], "0");
        assert_eq!(v["tv_archive"], 0);
        assert_eq!(v["tv_archive_duration"], 0);
        for s in ["stream_icon", "custom_sid", "direct_source", "thumbnail"] {
            assert_eq!(v[s], "", "{s}");
        }
        let mut old = entry(1, 1, "Old", 1);
        old.added = 0;
        assert_eq!(serde_json::to_value(live_row(&old)).unwrap()["added"], "0");
    }

    #[test]
    fn categories_follow_the_users_rights_and_the_lineup_order() {
        let lineup = Lineup::new(
            1,
            vec![
                entry(1, 1, "One", 5),
                entry(2, 2, "Jazz", 2),
                entry(3, 3, "Two", 5),
            ],
            vec![],
        );
        let mut u = user();
        let v = serde_json::to_value(live_categories(&lineup, &u)).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"category_id": "5", "category_name": "TV", "parent_id": 0},
                {"category_id": "2", "category_name": "Radio", "parent_id": 0},
            ])
        );
        u.categories = vec![2];
        let v = serde_json::to_value(live_categories(&lineup, &u)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        let streams: Value =
            serde_json::from_slice(&render_live_streams(&lineup, &u, None)).unwrap();
        assert_eq!(streams.as_array().unwrap().len(), 1);
        assert_eq!(streams[0]["stream_id"], 2);
        u.categories = vec![];
        let streams: Value =
            serde_json::from_slice(&render_live_streams(&lineup, &u, Some(5))).unwrap();
        let ids: Vec<i64> = streams
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stream_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [1, 3]);
    }

    fn event(id: u16, start: i64, minutes: u32) -> Event {
        Event {
            event_id: id,
            start,
            duration: minutes * 60,
            title: format!("Programme {id} — ü"),
            short_text: "Summary".into(),
            description: "Long text".into(),
            language: "deu".into(),
            genres: vec![],
            ratings: vec![],
            running_status: 0,
            episode: String::new(),
        }
    }

    #[test]
    fn epg_rows_are_base64_wall_clock_and_strings() {
        let e = entry(102, 7, "ZDF", 1);
        let ev = event(9, 1_795_233_600, 60);
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let v = serde_json::to_value(epg_row(&e, &ev, &tz, 1_795_233_600 + 10, false)).unwrap();
        assert_eq!(v["id"], "9");
        assert_eq!(v["epg_id"], "102");
        assert_eq!(v["channel_id"], "102.dvbgate");
        assert_eq!(v["stream_id"], "102");
        assert_eq!(v["lang"], "deu");
        assert_eq!(v["start"], "2026-11-21 05:00:00");
        assert_eq!(v["end"], "2026-11-21 06:00:00");
        assert_eq!(v["stop"], v["end"]);
        assert_eq!(v["start_timestamp"], "1795233600");
        assert_eq!(v["stop_timestamp"], "1795237200");
        assert_eq!(v["title"], base64("Programme 9 — ü".as_bytes()));
        assert_eq!(v["description"], base64(b"Summary\nLong text"));
        assert!(v.get("now_playing").is_none() && v.get("has_archive").is_none());
        let t = serde_json::to_value(epg_row(&e, &ev, &tz, 1_795_233_600 + 10, true)).unwrap();
        assert_eq!(t["now_playing"], 1);
        assert_eq!(t["has_archive"], 0);
        let later = serde_json::to_value(epg_row(&e, &ev, &tz, 1_795_237_200, true)).unwrap();
        assert_eq!(later["now_playing"], 0, "the end is exclusive");
    }

    #[test]
    fn descriptions_join_summary_and_text() {
        let mut e = event(1, 0, 1);
        assert_eq!(description(&e), "Summary\nLong text");
        e.description = "Summary and more".into();
        assert_eq!(description(&e), "Summary and more");
        e.description.clear();
        assert_eq!(description(&e), "Summary");
        e.short_text.clear();
        assert_eq!(description(&e), "");
    }

    #[test]
    fn failed_logins_are_auth_zero() {
        let v: Value = serde_json::from_slice(&failed_login(&Login::Failed)).unwrap();
        assert_eq!(v, serde_json::json!({"user_info": {"auth": 0}}));
        let mut u = user();
        u.enabled = false;
        let v: Value = serde_json::from_slice(&failed_login(&Login::Inactive(
            Arc::new(u),
            dvbgate_store::UserStatus::Disabled,
        )))
        .unwrap();
        assert_eq!(v["user_info"]["auth"], 0);
        assert_eq!(v["user_info"]["status"], "Disabled");
        assert!(v["user_info"]["message"].is_string());
        let v: Value = serde_json::from_slice(&failed_login(&Login::Throttled(
            std::time::Duration::from_secs(30),
        )))
        .unwrap();
        assert_eq!(v["user_info"]["auth"], 0);
    }

    #[test]
    fn numeric_actions() {
        assert_eq!(action_name("202"), "get_live_streams");
        assert_eq!(action_name("205"), "get_short_epg");
        assert_eq!(action_name("get_profile"), "get_profile");
    }
}
