//! An HDHomeRun network tuner, as Plex, Jellyfin, Emby and Channels DVR add one by its
//! address (they read these JSON documents over HTTP; discovery by UDP broadcast is not
//! offered, so the box is added by typing its address). Open on the LAN, like the
//! lineup:
//!
//! - `GET /discover.json`: `{"FriendlyName":"dvbgate","Manufacturer":"Silicondust",
//!   "ModelNumber":"HDTC-2US","FirmwareName":"hdhomeruntc_atsc","FirmwareVersion":
//!   "20240101","DeviceID":"1A2B3C4D","DeviceAuth":"…","BaseURL":"http://H:P",
//!   "LineupURL":"http://H:P/lineup.json","TunerCount":N}`. The manufacturer and model
//!   are the ones the HDHomeRun emulators that Plex accepts send (xTeVe, Threadfin,
//!   tvhProxy); Jellyfin needs absolute `BaseURL`/`LineupURL`. `DeviceID` is 8 hex
//!   digits derived from `/etc/machine-id` (stable per box, different between boxes;
//!   media servers key their tuner settings by it). `TunerCount` is the number of DVB
//!   frontends, 4 when there are none (channels from files or the network).
//! - `GET /lineup.json` (`?show=…` ignored): `[{"GuideNumber":"1","GuideName":"BBC
//!   One","URL":"http://H:P/stream/1.ts"}]`, every enabled channel in number order
//!   (radio ones included, with `"Radio":1`).
//! - `GET /lineup_status.json`: `{"ScanInProgress":0,"ScanPossible":1,"Source":
//!   "Antenna","SourceList":["Antenna","Cable"]}`.
//! - `GET /device.xml`: a UPnP root device description (`text/xml`).
//! - `POST /lineup.post` (Plex asks for a scan): 200, empty; nothing is done (the lineup
//!   is the gateway's channel list).

use crate::lineup::text_response;
use crate::routes::{Gateway, blocking};
use crate::streaming::base_url;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Frontends assumed when the box has none.
const DEFAULT_TUNERS: usize = 4;

/// What identifies the box to media servers.
pub(crate) struct Device {
    pub id: String,
    pub auth: String,
}

impl Device {
    /// From the machine id (or, without one, the host name and the store's path).
    pub(crate) fn new(store_path: &std::path::Path) -> Self {
        let seed = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                format!("{}:{}", host.trim(), store_path.display())
            });
        Self::from_seed(&seed)
    }

    fn from_seed(seed: &str) -> Self {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(b"dvbgate hdhomerun\0")
            .chain_update(seed.as_bytes())
            .finalize()
            .into();
        let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02X}")).collect() };
        Device {
            id: hex(&digest[..4]),
            auth: hex(&digest[4..16]).to_ascii_lowercase(),
        }
    }
}

fn base(headers: &HeaderMap) -> String {
    base_url(headers).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Discover<'a> {
    friendly_name: &'a str,
    manufacturer: &'a str,
    model_number: &'a str,
    firmware_name: &'a str,
    firmware_version: &'a str,
    #[serde(rename = "DeviceID")]
    device_id: &'a str,
    device_auth: &'a str,
    #[serde(rename = "BaseURL")]
    base_url: &'a str,
    #[serde(rename = "LineupURL")]
    lineup_url: String,
    tuner_count: usize,
}

/// `GET /discover.json`.
pub(crate) async fn discover(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let sup = gw.app.supervisor.clone();
    let tuners = blocking(move || Ok(sup.tuner_views().len()))
        .await
        .unwrap_or(0);
    let base = base(&headers);
    Json(Discover {
        friendly_name: "dvbgate",
        manufacturer: "Silicondust",
        model_number: "HDTC-2US",
        firmware_name: "hdhomeruntc_atsc",
        firmware_version: "20240101",
        device_id: &gw.device.id,
        device_auth: &gw.device.auth,
        base_url: &base,
        lineup_url: format!("{base}/lineup.json"),
        tuner_count: if tuners == 0 { DEFAULT_TUNERS } else { tuners },
    })
    .into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LineupRow<'a> {
    guide_number: String,
    guide_name: &'a str,
    #[serde(rename = "URL")]
    url: String,
    #[serde(skip_serializing_if = "std::ops::Not::not", serialize_with = "one")]
    radio: bool,
}

fn one<S: serde::Serializer>(_: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(1)
}

/// `GET /lineup.json`.
pub(crate) async fn lineup(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let base = base(&headers);
    let rows: Vec<LineupRow<'_>> = lineup
        .entries
        .iter()
        .map(|e| LineupRow {
            guide_number: e.number.to_string(),
            guide_name: &e.name,
            url: format!("{base}/stream/{}.ts", e.number),
            radio: e.radio,
        })
        .collect();
    Json(rows).into_response()
}

/// `GET /lineup_status.json`.
pub(crate) async fn lineup_status() -> Response {
    Json(serde_json::json!({
        "ScanInProgress": 0,
        "ScanPossible": 1,
        "Source": "Antenna",
        "SourceList": ["Antenna", "Cable"],
    }))
    .into_response()
}

/// `POST /lineup.post`.
pub(crate) async fn lineup_post() -> StatusCode {
    StatusCode::OK
}

/// The UPnP description.
pub(crate) fn device_xml_text(device: &Device, base: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <URLBase>{base}</URLBase>
  <device>
    <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>
    <friendlyName>dvbgate</friendlyName>
    <manufacturer>Silicondust</manufacturer>
    <modelName>HDTC-2US</modelName>
    <modelNumber>HDTC-2US</modelNumber>
    <serialNumber>{id}</serialNumber>
    <UDN>uuid:{id}-0000-4000-8000-{id}0000</UDN>
  </device>
</root>
"#,
        id = device.id
    )
}

/// `GET /device.xml`.
pub(crate) async fn device_xml(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    text_response(
        StatusCode::OK,
        "text/xml; charset=utf-8",
        device_xml_text(&gw.device, &base(&headers)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_eight_hex_digits_stable_per_seed() {
        let a = Device::from_seed("0123456789abcdef");
        let b = Device::from_seed("0123456789abcdef");
        let c = Device::from_seed("fedcba9876543210");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.len(), 8);
        assert!(a.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a.auth.len(), 24);
    }

    #[test]
    fn device_xml_names_the_device_and_base() {
        let d = Device::from_seed("x");
        let xml = device_xml_text(&d, "http://box:8080");
        assert!(xml.contains("<URLBase>http://box:8080</URLBase>"));
        assert!(xml.contains(&format!("<serialNumber>{}</serialNumber>", d.id)));
        assert!(xml.starts_with("<?xml"));
    }

    #[test]
    fn lineup_rows() {
        let row = LineupRow {
            guide_number: "7".into(),
            guide_name: "Jazz",
            url: "http://b/stream/7.ts".into(),
            radio: true,
        };
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            serde_json::json!({"GuideNumber":"7","GuideName":"Jazz","URL":"http://b/stream/7.ts","Radio":1})
        );
        let tv = LineupRow {
            radio: false,
            ..row
        };
        assert!(serde_json::to_value(&tv).unwrap().get("Radio").is_none());
    }
}
