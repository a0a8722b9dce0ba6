//! The technician's web page over HTTP: `/` is the page, `/ui/{name}` its scripts, style
//! and icon, all from `dvbgate-web`'s table of embedded files (a name outside the table is
//! a 404, so there is no path to traverse).
//!
//! Every answer carries a strict Content-Security-Policy (only this origin's own files:
//! no inline script or style, no framing, forms and fetches to this box only) and the
//! other headers that keep a browser from guessing types, leaking the box's address in a
//! `Referer` or showing the page in someone else's frame. The files are revalidated on each
//! load (`Cache-Control: no-cache` + a strong `ETag`, answered with 304 when unchanged), so
//! a daemon upgrade is never hidden behind a stale script; a gzip copy goes to browsers
//! that accept it.

use crate::app::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use std::sync::Arc;

/// The page's Content-Security-Policy.
pub(crate) const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// The page and its assets; open (the page itself asks for the login).
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*name}", get(ui_asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn ui_asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let mut response = match dvbgate_web::asset(name) {
        Some(asset) => {
            let gzip = asset.gzip.as_deref().filter(|_| accepts_gzip(request));
            let (etag, body) = match gzip {
                Some(z) => (asset.gzip_etag.as_str(), z),
                None => (asset.etag.as_str(), asset.bytes),
            };
            let mut response = if none_match(request, etag) {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                let mut r = Bytes::from_static(body).into_response();
                set(&mut r, header::CONTENT_TYPE, asset.content_type);
                if gzip.is_some() {
                    set(&mut r, header::CONTENT_ENCODING, "gzip");
                }
                r
            };
            set(&mut response, header::ETAG, etag);
            set(&mut response, header::CACHE_CONTROL, "no-cache");
            set(&mut response, header::VARY, "Accept-Encoding");
            response
        }
        None => ApiError::not_found(format!("no page asset {name:?}")).into_response(),
    };
    security_headers(response.headers_mut());
    response
}

/// The headers every page answer carries.
pub(crate) fn security_headers(headers: &mut HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

fn set(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// `If-None-Match` lists `etag` (or is `*`): the client's copy is current.
fn none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        // A weak comparison, as RFC 9110 wants for If-None-Match.
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `Accept-Encoding` names gzip without refusing it (`q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        assert!(accepts_gzip(&headers(&[(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )])));
        assert!(accepts_gzip(&headers(&[(
            header::ACCEPT_ENCODING,
            "br;q=1, GZIP;q=0.5"
        )])));
        assert!(!accepts_gzip(&headers(&[(
            header::ACCEPT_ENCODING,
            "gzip;q=0"
        )])));
        assert!(!accepts_gzip(&headers(&[(
            header::ACCEPT_ENCODING,
            "identity"
        )])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_compares_tags_in_a_list() {
        let h = headers(&[(header::IF_NONE_MATCH, "\"a\", W/\"b\"")]);
        assert!(none_match(&h, "\"a\""));
        assert!(none_match(&h, "\"b\""));
        assert!(!none_match(&h, "\"c\""));
        assert!(none_match(
            &headers(&[(header::IF_NONE_MATCH, "*")]),
            "\"c\""
        ));
        assert!(!none_match(&HeaderMap::new(), "\"a\""));
    }

    #[test]
    fn a_current_copy_is_answered_304_and_an_unknown_name_404_with_headers() {
        let js = dvbgate_web::asset("app.js").expect("app.js");
        let r = serve("app.js", &headers(&[(header::IF_NONE_MATCH, &js.etag)]));
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], js.etag.as_str());
        let r = serve("app.js", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        let r = serve("app.js", &headers(&[(header::ACCEPT_ENCODING, "gzip")]));
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[header::ETAG], js.gzip_etag.as_str());
        let r = serve("../Cargo.toml", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}
