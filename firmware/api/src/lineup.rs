//! The lineup as TVs and media servers read it, open on the LAN like `/api/v1/channels`:
//!
//! - `GET /playlist/multicast.m3u`: the hotel TVs' channel map. `200`,
//!   `Content-Type: audio/x-mpegurl; charset=utf-8`, without BOM:
//!   ```text
//!   #EXTM3U url-tvg="http://H:P/epg.xml" x-tvg-url="http://H:P/epg.xml"
//!   #EXTINF:-1 tvg-id="12.dvbgate" tvg-chno="1" tvg-name="BBC One" group-title="TV",BBC One
//!   udp://@239.255.1.1:5000
//!   ```
//!   Only channels whose multicast is on, in number order (`rtp://@…` for RTP outputs);
//!   radio channels carry `radio="true"` (Kodi's attribute). Quotes in names become `'`,
//!   line breaks spaces.
//! - `GET /epg.xml`: XMLTV of every enabled channel, `application/xml; charset=utf-8`;
//!   gzip-encoded (`Content-Encoding: gzip`) when `Accept-Encoding` allows gzip.
//!
//! The lineup itself (enabled channels and the store's categories) is read from the
//! store at most once a second ([`LineupCache`]); its `version` changes only when its
//! content does, so that rendered answers can be cached by it. The XMLTV document is
//! cached by (guide generation, lineup version, categories, base URL) and rendered at
//! most once per change (or every 30 s), gzip once per document: a guide of a
//! thousand channels is megabytes, and TVs fetch it often.

use crate::app::AppState;
use crate::cache::Cached;
use crate::error::ApiError;
use crate::routes::{Gateway, blocking};
use crate::streaming::base_url;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dvbgate_control::LineupEntry;
use dvbgate_store::Category;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub(crate) const M3U_TYPE: &str = "audio/x-mpegurl; charset=utf-8";
pub(crate) const XML_TYPE: &str = "application/xml; charset=utf-8";
/// How long the lineup read from the store is used.
const LINEUP_TTL: Duration = Duration::from_secs(1);
/// A rendered XMLTV document is used at most this long (or until the guide changes).
const XMLTV_TTL: Duration = Duration::from_secs(30);
const XMLTV_CACHED: usize = 16;

/// The enabled channels and the store's categories, as of one read.
pub(crate) struct Lineup {
    /// Changes when (and only when) the content changes.
    pub version: u64,
    pub entries: Vec<LineupEntry>,
    pub categories: Vec<Category>,
    by_channel_id: HashMap<u32, usize>,
}

impl Lineup {
    pub(crate) fn new(version: u64, entries: Vec<LineupEntry>, categories: Vec<Category>) -> Self {
        let by_channel_id = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.channel_id, i))
            .collect();
        Lineup {
            version,
            entries,
            categories,
            by_channel_id,
        }
    }

    pub(crate) fn channel(&self, channel_id: u32) -> Option<&LineupEntry> {
        self.by_channel_id
            .get(&channel_id)
            .and_then(|&i| self.entries.get(i))
    }

    pub(crate) fn category_exists(&self, id: u32) -> bool {
        self.categories.iter().any(|c| c.id == id)
    }
}

/// A rendered answer (an XMLTV document, a stream list), plain and (once asked for)
/// gzipped.
pub(crate) struct Rendered {
    pub plain: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Rendered {
    pub(crate) fn new(plain: Bytes) -> Self {
        Rendered {
            plain,
            gzip: OnceLock::new(),
        }
    }

    /// The gzipped document, compressed on first use (on a blocking thread).
    pub(crate) async fn gzip(self: &Arc<Self>) -> Result<Bytes, ApiError> {
        if let Some(g) = self.gzip.get() {
            return Ok(g.clone());
        }
        let doc = Arc::clone(self);
        blocking(move || Ok(doc.gzip.get_or_init(|| gzip(&doc.plain)).clone())).await
    }
}

pub(crate) fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 6 + 64),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    Bytes::from(encoder.finish().unwrap_or_default())
}

type XmltvKey = (u64, u64, Vec<u32>, String);

/// See the module docs.
pub(crate) struct LineupCache {
    lineup: Cached<Lineup>,
    xmltv: Mutex<HashMap<XmltvKey, (Instant, Arc<Rendered>)>>,
    rendering: tokio::sync::Mutex<()>,
}

impl LineupCache {
    pub(crate) fn new() -> Self {
        LineupCache {
            lineup: Cached::new(LINEUP_TTL),
            xmltv: Mutex::new(HashMap::new()),
            rendering: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) async fn get(&self, app: &AppState) -> Result<Arc<Lineup>, ApiError> {
        let sup = app.supervisor.clone();
        self.lineup
            .get(move |previous| {
                let entries = sup.lineup()?;
                let categories = sup.store().categories()?;
                let version = match previous {
                    Some(p) if p.entries == entries && p.categories == categories => {
                        return Ok(Lineup::new(p.version, entries, categories));
                    }
                    Some(p) => p.version + 1,
                    None => 1,
                };
                Ok(Lineup::new(version, entries, categories))
            })
            .await
    }

    /// Forgets the lineup (after a change made through this API).
    pub(crate) fn invalidate(&self) {
        self.lineup.invalidate();
    }

    /// The XMLTV document of the lineup's channels in `categories` (empty: all).
    pub(crate) async fn xmltv(
        &self,
        app: &AppState,
        lineup: &Arc<Lineup>,
        categories: &[u32],
        base: &str,
    ) -> Result<Arc<Rendered>, ApiError> {
        let generation = app.supervisor.epg().generation();
        let key: XmltvKey = (
            generation,
            lineup.version,
            categories.to_vec(),
            base.to_owned(),
        );
        let lookup = |map: &HashMap<XmltvKey, (Instant, Arc<Rendered>)>| {
            map.get(&key)
                .filter(|(at, _)| at.elapsed() < XMLTV_TTL)
                .map(|(_, d)| Arc::clone(d))
        };
        if let Some(doc) = lookup(&self.xmltv.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(doc);
        }
        let _rendering = self.rendering.lock().await;
        if let Some(doc) = lookup(&self.xmltv.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(doc);
        }
        let sup = app.supervisor.clone();
        let channels: Vec<LineupEntry> = lineup
            .entries
            .iter()
            .filter(|e| categories.is_empty() || categories.contains(&e.category_id))
            .cloned()
            .collect();
        let doc = blocking(move || {
            let mut out = String::with_capacity(64 * 1024);
            sup.epg().write_xmltv(&channels, &mut out);
            Ok(Arc::new(Rendered::new(Bytes::from(out))))
        })
        .await?;
        let mut map = self.xmltv.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(g, v, _, _), (at, _)| {
            *g == generation && *v == lineup.version && at.elapsed() < XMLTV_TTL
        });
        if map.len() >= XMLTV_CACHED
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(key, (Instant::now(), Arc::clone(&doc)));
        Ok(doc)
    }
}

/// An M3U attribute value: M3U has no escapes, so quotes become `'` and control
/// characters (line breaks) spaces.
pub(crate) fn m3u_attr(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A channel name after the `#EXTINF` comma: one line.
pub(crate) fn m3u_title(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, with a non-zero q).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            !refused && matches!(coding.as_str(), "gzip" | "x-gzip" | "*")
        })
}

/// An XMLTV answer: gzip-encoded when the client accepts it.
pub(crate) async fn xml_response(doc: &Arc<Rendered>, request_headers: &HeaderMap) -> Response {
    let (body, encoded) = if accepts_gzip(request_headers) {
        match doc.gzip().await {
            Ok(g) => (g, true),
            Err(_) => (doc.plain.clone(), false),
        }
    } else {
        (doc.plain.clone(), false)
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(XML_TYPE));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    if encoded {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// A text answer with a content type (and CORS open, like the rest of the lineup).
pub(crate) fn text_response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response {
    let mut response = (status, body.into()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The multicast playlist's text.
pub(crate) fn multicast_m3u(entries: &[LineupEntry], base: &str) -> String {
    let epg = format!("{base}/epg.xml");
    let mut out = format!("#EXTM3U url-tvg=\"{epg}\" x-tvg-url=\"{epg}\"\n");
    for e in entries {
        let Some(url) = &e.multicast else { continue };
        out.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"{}\" tvg-chno=\"{}\" tvg-name=\"{}\" group-title=\"{}\"{},{}\n{}\n",
            m3u_attr(&e.epg_id),
            e.number,
            m3u_attr(&e.name),
            m3u_attr(&e.category_name),
            if e.radio { " radio=\"true\"" } else { "" },
            m3u_title(&e.name),
            m3u_title(url),
        ));
    }
    out
}

/// `GET /playlist/multicast.m3u`.
pub(crate) async fn multicast_playlist(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
) -> Response {
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let base = base_url(&headers).unwrap_or_default();
    let mut response = text_response(
        StatusCode::OK,
        M3U_TYPE,
        multicast_m3u(&lineup.entries, &base),
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"multicast.m3u\""),
    );
    response
}

/// `GET /epg.xml`.
pub(crate) async fn epg_xml(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let base = base_url(&headers).unwrap_or_default();
    match gw.lineup.xmltv(&gw.app, &lineup, &[], &base).await {
        Ok(doc) => xml_response(&doc, &headers).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(channel_id: u32, number: u16, name: &str, category: u32) -> LineupEntry {
        LineupEntry {
            channel_id,
            number,
            name: name.into(),
            epg_id: format!("{channel_id}.dvbgate"),
            category_id: category,
            category_name: if category == 2 { "Radio" } else { "TV" }.into(),
            radio: category == 2,
            multicast: Some(format!("udp://@239.255.1.{number}:5000")),
            added: 1_700_000_000,
        }
    }

    #[test]
    fn m3u_text_cannot_break_out_of_attributes_or_lines() {
        assert_eq!(m3u_attr("Say \"Hi\"\r\nnow"), "Say 'Hi'  now");
        assert_eq!(m3u_title("News,\nat ten"), "News, at ten");
        assert_eq!(m3u_attr("Éire — ARD"), "Éire — ARD");
    }

    #[test]
    fn the_multicast_playlist_lists_multicast_channels_only() {
        let mut quiet = entry(3, 3, "Off \"air\"", 1);
        quiet.multicast = None;
        let text = multicast_m3u(
            &[entry(1, 1, "One", 1), quiet, entry(2, 2, "Jazz", 2)],
            "http://box:8080",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "#EXTM3U url-tvg=\"http://box:8080/epg.xml\" x-tvg-url=\"http://box:8080/epg.xml\""
        );
        assert_eq!(
            lines[1],
            "#EXTINF:-1 tvg-id=\"1.dvbgate\" tvg-chno=\"1\" tvg-name=\"One\" group-title=\"TV\",One"
        );
        assert_eq!(lines[2], "udp://@239.255.1.1:5000");
        assert!(lines[3].contains("radio=\"true\""), "{}", lines[3]);
        assert_eq!(lines.len(), 5, "the channel without multicast is left out");
        assert!(!text.starts_with('\u{feff}'));
    }

    #[test]
    fn gzip_is_accepted_by_name_wildcard_and_not_at_q0() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(h("gzip, deflate, br"));
        assert!(h("br;q=1.0, GZIP;q=0.5"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("deflate, br"));
        assert!(!h("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let text = "<tv>".repeat(1000);
        let packed = gzip(text.as_bytes());
        assert!(packed.len() < text.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
    }
}
