//! HLS and HTTP TS: `GET /hls/{number}/index.m3u8`, `live.m3u8`, `{sequence}.ts`, and
//! `GET /stream/{number}.ts`.
//!
//! A playlist request (or an HTTP TS request) starts the channel's stream if it is not
//! running and waits for its first segment (or first bytes). Segments never change once
//! made, so they are cacheable for good (an nginx in front can serve a crowd); playlists
//! change every segment, so caches keep them a second at most. Everything here is
//! read-only and open to the LAN, like the lineup, and to pages of other origins (web
//! players).

use crate::app::AppState;
use crate::error::ApiError;
use crate::routes::blocking;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dvbgate_control::StreamError;
use dvbgate_streaming::{ChannelStream, HttpClient};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const TS_TYPE: &str = "video/mp2t";
/// The longest a first request waits for a channel's first segment (a GOP and a segment,
/// usually), inside the server's request time limit.
const MAX_FIRST_WAIT: Duration = Duration::from_secs(12);

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        let status = match &e {
            StreamError::NotFound(_) | StreamError::Disabled(_) => StatusCode::NOT_FOUND,
            StreamError::Unavailable(_) | StreamError::Budget(_) => StatusCode::SERVICE_UNAVAILABLE,
            StreamError::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
            StreamError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        match e {
            StreamError::Store(e) => ApiError::from(e),
            e => ApiError::new(status, e.to_string()),
        }
    }
}

pub(crate) fn not_found() -> ApiError {
    ApiError::not_found("no such stream or segment")
}

/// A channel number as it appears in a path: digits only (no sign, no dots).
pub(crate) fn channel_number(text: &str) -> Result<u16, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_found());
    }
    text.parse().map_err(|_| not_found())
}

/// A 503 that says why, and when to ask again.
pub(crate) fn unavailable(why: String) -> Response {
    let mut response = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

/// The channel's stream, started if need be, once it has a segment.
pub(crate) async fn ready_stream(
    app: &AppState,
    number: u16,
) -> Result<Arc<ChannelStream>, Response> {
    let sup = app.supervisor.clone();
    let stream = blocking(move || Ok(sup.open_hls_stream(number)?))
        .await
        .map_err(IntoResponse::into_response)?;
    let wait = (stream.options().segment.target * 3).min(MAX_FIRST_WAIT);
    if stream.first_segment(wait).await {
        return Ok(stream);
    }
    Err(no_picture(app, number).await)
}

/// A 503 saying why channel `number` gives nothing (no signal, off air, no keyframe).
async fn no_picture(app: &AppState, number: u16) -> Response {
    let sup = app.supervisor.clone();
    let why = blocking(move || Ok(sup.why_no_stream(number)))
        .await
        .unwrap_or_else(|e| e.message);
    unavailable(why)
}

/// `GET /hls/{number}/{file}`.
pub(crate) async fn hls(
    State(app): State<Arc<AppState>>,
    Path((number, file)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    let Ok(number) = channel_number(&number) else {
        return not_found().into_response();
    };
    let request_headers = request.headers();
    // For the monitor's count of HLS viewers: who fetched what, lately.
    let viewer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let seen = |stream: &ChannelStream| {
        if let Some(ip) = viewer {
            app.monitor
                .hls_fetched(number, ip, stream.options().segment.target);
        }
    };
    match file.as_str() {
        "index.m3u8" | "live.m3u8" => {
            let stream = match ready_stream(&app, number).await {
                Ok(s) => s,
                Err(response) => return response,
            };
            stream.touch();
            seen(&stream);
            let text = if file == "index.m3u8" {
                stream
                    .master_playlist("live.m3u8")
                    .or_else(|| stream.media_playlist())
            } else {
                stream.media_playlist()
            };
            match text {
                Some(text) => playlist_response(text, request_headers),
                None => unavailable(format!("{} has no segment yet", stream.label())),
            }
        }
        _ => {
            let Some(sequence) = file
                .strip_suffix(".ts")
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return not_found().into_response();
            };
            let sup = app.supervisor.clone();
            let stream = match blocking(move || Ok(sup.stream(number))).await {
                Ok(Some(s)) => s,
                Ok(None) => return not_found().into_response(),
                Err(e) => return e.into_response(),
            };
            stream.touch();
            match stream.segment(sequence) {
                Some(data) => {
                    seen(&stream);
                    segment_response(data, stream.segment_etag(sequence), request_headers)
                }
                None => not_found().into_response(),
            }
        }
    }
}

fn common_headers(response: &mut Response, content_type: &'static str) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

fn etag_matches(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

pub(crate) fn playlist_response(text: String, request_headers: &HeaderMap) -> Response {
    // FNV-1a of the text: the playlist changes with every segment.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let etag = format!("\"{hash:016x}\"");
    let mut response = if etag_matches(request_headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        text.into_response()
    };
    common_headers(&mut response, PLAYLIST_TYPE);
    let h = response.headers_mut();
    // A second at most: a new segment comes every few seconds and players poll for it.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=1"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// A single byte range `bytes=a-b`, `bytes=a-` or `bytes=-n` of a body of `len` bytes:
/// `Some(Ok(range))` to serve, `Some(Err(()))` if it cannot be satisfied, `None` to
/// serve the whole body (no Range, or one we do not do, such as several ranges).
fn byte_range(request_headers: &HeaderMap, len: usize) -> Option<Result<(usize, usize), ()>> {
    let spec = request_headers
        .get(header::RANGE)?
        .to_str()
        .ok()?
        .strip_prefix("bytes=")?
        .trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<usize> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let range = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n = number(suffix)?;
            if n == 0 || len == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (start, "") => (number(start)?, len.wrapping_sub(1)),
        (start, end) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return None; // syntactically invalid: ignored (RFC 9110 §14.1.1)
            }
            (start, end.min(len.wrapping_sub(1)))
        }
    };
    if range.0 >= len {
        return Some(Err(()));
    }
    Some(Ok(range))
}

fn segment_response(data: Bytes, etag: String, request_headers: &HeaderMap) -> Response {
    let len = data.len();
    let mut response = if etag_matches(request_headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match byte_range(request_headers, len) {
            None => data.into_response(),
            Some(Ok((start, end))) => {
                let mut r = (StatusCode::PARTIAL_CONTENT, data.slice(start..=end)).into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
            Some(Err(())) => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
        }
    };
    common_headers(&mut response, TS_TYPE);
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400, immutable"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// `GET /stream/{number}.ts`: the channel's TS for as long as the client reads it.
pub(crate) async fn http_ts(
    State(app): State<Arc<AppState>>,
    Path(file): Path<String>,
) -> Response {
    let Some(Ok(number)) = file.strip_suffix(".ts").map(channel_number) else {
        return not_found().into_response();
    };
    serve_ts(&app, number, None).await
}

/// Channel `number`'s TS as an endless response body. `hold` lives as long as the body
/// (the XC API's connection count).
pub(crate) async fn serve_ts(
    app: &AppState,
    number: u16,
    hold: Option<Box<dyn Send + Sync>>,
) -> Response {
    let sup = app.supervisor.clone();
    let stream = match blocking(move || Ok(sup.open_stream(number)?)).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    stream.touch();
    let mut client = stream.join();
    let wait = (stream.options().segment.target * 3).min(MAX_FIRST_WAIT);
    let first = match tokio::time::timeout(wait, client.next()).await {
        Ok(Some(first)) => first,
        _ => {
            drop(client);
            return no_picture(app, number).await;
        }
    };
    let mut response = Body::new(TsBody {
        first: Some(first),
        client,
        _hold: hold,
    })
    .into_response();
    common_headers(&mut response, TS_TYPE);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Channel `number`'s live media playlist whose segments are absolute
/// (`{base}/hls/{number}/{sequence}.ts`), for playlists served from another path (the
/// XC API's `/live/U/P/ID.m3u8`).
pub(crate) async fn absolute_media_playlist(
    app: &AppState,
    number: u16,
    base: Option<&str>,
    request_headers: &HeaderMap,
) -> Response {
    let stream = match ready_stream(app, number).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    stream.touch();
    match stream.media_playlist() {
        Some(text) => playlist_response(
            absolute_segments(&text, base.unwrap_or(""), number),
            request_headers,
        ),
        None => unavailable(format!("{} has no segment yet", stream.label())),
    }
}

/// Rewrites a media playlist's URI lines (those not starting with `#`) to
/// `{base}/hls/{number}/{uri}`.
pub(crate) fn absolute_segments(playlist: &str, base: &str, number: u16) -> String {
    let mut out = String::with_capacity(playlist.len() + 64 * 8);
    for line in playlist.lines() {
        if !line.is_empty() && !line.starts_with('#') {
            out.push_str(base);
            out.push_str("/hls/");
            out.push_str(&number.to_string());
            out.push('/');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// An HTTP TS response body: the client's queue, until it is dropped or the stream ends.
struct TsBody {
    first: Option<Bytes>,
    client: HttpClient,
    /// Released when the body is dropped (the client left or was dropped).
    _hold: Option<Box<dyn Send + Sync>>,
}

impl http_body::Body for TsBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(first))));
        }
        self.client
            .poll_next(cx)
            .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// `http://HOST` from the request's Host header, when it is a plausible host[:port]
/// (nothing that could smuggle markup or a path into the URLs we hand out).
pub(crate) fn base_url(request_headers: &HeaderMap) -> Option<String> {
    let host = request_headers.get(header::HOST)?.to_str().ok()?;
    let plausible = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plausible.then(|| format!("http://{host}"))
}

/// Makes a channel's stream URLs absolute, as clients need them.
pub(crate) fn absolute_urls(view: &mut dvbgate_control::ChannelView, base: Option<&str>) {
    if let Some(base) = base {
        view.hls = format!("{base}{}", view.hls);
        view.http = format!("{base}{}", view.http);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, len: usize) -> Option<Result<(usize, usize), ()>> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&h, len)
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(range("bytes=0-187", 1000), Some(Ok((0, 187))));
        assert_eq!(range("bytes=900-", 1000), Some(Ok((900, 999))));
        assert_eq!(range("bytes=-188", 1000), Some(Ok((812, 999))));
        assert_eq!(range("bytes=-2000", 1000), Some(Ok((0, 999))));
        assert_eq!(range("bytes=990-5000", 1000), Some(Ok((990, 999))));
        assert_eq!(range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(range("bytes=-0", 1000), Some(Err(())));
        assert_eq!(range("bytes=5-2", 1000), None);
        assert_eq!(range("bytes=0-1,5-6", 1000), None);
        assert_eq!(range("items=0-1", 1000), None);
        assert_eq!(range("bytes=+1-2", 1000), None);
    }

    #[test]
    fn channel_numbers_are_digits_only() {
        assert_eq!(channel_number("12").unwrap(), 12);
        for bad in ["", "-1", "+1", "1.0", "..", "99999", "1 "] {
            assert!(channel_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_plausible_hosts_make_urls() {
        let base = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            base_url(&h)
        };
        assert_eq!(
            base("192.168.1.5:8080").as_deref(),
            Some("http://192.168.1.5:8080")
        );
        assert_eq!(base("[::1]:80").as_deref(), Some("http://[::1]:80"));
        assert_eq!(base("box.local").as_deref(), Some("http://box.local"));
        assert_eq!(base("evil/\"onload=x"), None);
        assert_eq!(base("a b"), None);
        assert_eq!(base(""), None);
    }

    #[test]
    fn media_playlists_get_absolute_segment_paths() {
        let text =
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\n17.ts\n#EXTINF:1.500,\n18.ts\n";
        let out = absolute_segments(text, "http://box:8080", 7);
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nhttp://box:8080/hls/7/17.ts\n#EXTINF:1.500,\nhttp://box:8080/hls/7/18.ts\n"
        );
        assert!(absolute_segments(text, "", 7).contains("\n/hls/7/18.ts\n"));
    }

    #[test]
    fn etags_match_lists_and_weak_forms() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(etag_matches(&h, "\"b\""));
        assert!(!etag_matches(&h, "\"c\""));
    }
}
