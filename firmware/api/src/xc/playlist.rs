//! `get.php` (the M3U playlist) and `xmltv.php` (the guide) of one XC user.

use super::streams::refusal;
use super::{Login, XcRequest};
use crate::lineup::{M3U_TYPE, m3u_attr, m3u_title, text_response, xml_response};
use crate::routes::Gateway;
use crate::streaming::base_url;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dvbgate_control::LineupEntry;
use dvbgate_store::XcUser;
use std::sync::Arc;

/// Which links a playlist carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Ts,
    Hls,
}

impl Output {
    /// `m3u8` and `hls` mean HLS; anything else (missing, `ts`, `mpegts`, `rtmp`) TS.
    pub(crate) fn parse(value: Option<&str>) -> Output {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("m3u8" | "hls") => Output::Hls,
            _ => Output::Ts,
        }
    }
}

/// The M3U text. `plus`: rich attributes (`m3u_plus`); else `#EXTINF:-1,Name` only.
pub(crate) fn playlist(
    channels: &[&LineupEntry],
    base: &str,
    username: &str,
    password: &str,
    plus: bool,
    output: Output,
) -> String {
    let epg = format!("{base}/xmltv.php?username={username}&password={password}");
    let mut out = String::with_capacity(64 + channels.len() * 200);
    out.push_str(&format!("#EXTM3U url-tvg=\"{epg}\" x-tvg-url=\"{epg}\"\n"));
    for e in channels {
        if plus {
            out.push_str(&format!(
                "#EXTINF:-1 tvg-id=\"{}\" tvg-name=\"{}\" tvg-logo=\"\" tvg-chno=\"{}\" group-title=\"{}\"{},{}\n",
                m3u_attr(&e.epg_id),
                m3u_attr(&e.name),
                e.number,
                m3u_attr(&e.category_name),
                if e.radio { " radio=\"true\"" } else { "" },
                m3u_title(&e.name),
            ));
        } else {
            out.push_str(&format!("#EXTINF:-1,{}\n", m3u_title(&e.name)));
        }
        match output {
            Output::Ts => out.push_str(&format!("{base}/{username}/{password}/{}\n", e.channel_id)),
            Output::Hls => out.push_str(&format!(
                "{base}/live/{username}/{password}/{}.m3u8\n",
                e.channel_id
            )),
        }
    }
    out
}

async fn login(gw: &Gateway, req: &XcRequest) -> Result<Arc<XcUser>, Response> {
    match gw
        .xc
        .login(
            &gw.app,
            req.ip,
            req.params.get("username"),
            req.params.get("password"),
        )
        .await
    {
        Ok(Login::Ok(user)) => Ok(user),
        Ok(other) => Err(refusal(&other)),
        Err(e) => Err(e.into_response()),
    }
}

/// `GET|POST /get.php`.
pub(crate) async fn get_php(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    let req = XcRequest::read(request).await;
    let user = match login(&gw, &req).await {
        Ok(u) => u,
        Err(response) => return response,
    };
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let plus = !req
        .params
        .get("type")
        .is_some_and(|t| t.eq_ignore_ascii_case("m3u"));
    let output = Output::parse(req.params.get("output"));
    let base = base_url(&req.headers).unwrap_or_default();
    let channels: Vec<&LineupEntry> = super::player_api::visible(&lineup, &user).collect();
    let text = playlist(
        &channels,
        &base,
        &user.username,
        req.params.get("password").unwrap_or(""),
        plus,
        output,
    );
    let mut response = text_response(StatusCode::OK, M3U_TYPE, text);
    let disposition = format!(
        "attachment; filename=\"playlist_{}{}.m3u\"",
        user.username,
        if plus { "_plus" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET|POST /xmltv.php`.
pub(crate) async fn xmltv_php(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    let req = XcRequest::read(request).await;
    let user = match login(&gw, &req).await {
        Ok(u) => u,
        Err(response) => return response,
    };
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let base = base_url(&req.headers).unwrap_or_default();
    let doc = match gw
        .lineup
        .xmltv(&gw.app, &lineup, &user.categories, &base)
        .await
    {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    if req.params.get("gzip") == Some("1") {
        // XCVM's download form: the .gz file itself.
        let body = match doc.gzip().await {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        };
        let mut response = text_response(StatusCode::OK, "application/octet-stream", body);
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"xmltv.xml.gz\""),
        );
        return response;
    }
    xml_response(&doc, &req.headers).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineup::tests::entry;

    #[test]
    fn outputs() {
        assert_eq!(Output::parse(None), Output::Ts);
        assert_eq!(Output::parse(Some("ts")), Output::Ts);
        assert_eq!(Output::parse(Some("mpegts")), Output::Ts);
        assert_eq!(Output::parse(Some("rtmp")), Output::Ts);
        assert_eq!(Output::parse(Some("m3u8")), Output::Hls);
        assert_eq!(Output::parse(Some("HLS")), Output::Hls);
    }

    #[test]
    fn m3u_plus_with_ts_short_urls_and_the_guide_header() {
        let a = entry(102, 1, "ZDF \"HD\"", 1);
        let b = entry(7, 2, "Jazz\nFM", 2);
        let text = playlist(&[&a, &b], "http://h:8", "u", "p", true, Output::Ts);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "#EXTM3U url-tvg=\"http://h:8/xmltv.php?username=u&password=p\" x-tvg-url=\"http://h:8/xmltv.php?username=u&password=p\""
        );
        assert_eq!(
            lines[1],
            "#EXTINF:-1 tvg-id=\"102.dvbgate\" tvg-name=\"ZDF 'HD'\" tvg-logo=\"\" tvg-chno=\"1\" group-title=\"TV\",ZDF \"HD\""
        );
        assert_eq!(lines[2], "http://h:8/u/p/102");
        assert!(
            lines[3].ends_with(" radio=\"true\",Jazz FM"),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "http://h:8/u/p/7");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn plain_m3u_with_hls_urls() {
        let a = entry(102, 1, "ZDF", 1);
        let text = playlist(&[&a], "http://h:8", "u", "p", false, Output::Hls);
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            ["#EXTINF:-1,ZDF", "http://h:8/live/u/p/102.m3u8"]
        );
    }
}
