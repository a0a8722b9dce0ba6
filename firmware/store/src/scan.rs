//! What a scan found on a multiplex, as the store keeps it (one [`ScanRecord`] per DVB
//! input), and what a scan hands to the merge ([`ScannedMux`]).
//!
//! A multiplex is identified two ways: by where it is tuned (its [`Tuning`], which a
//! broadcaster can change when it re-plans frequencies) and by the ids its tables carry,
//! the original network id and the transport stream id (which travel with the
//! multiplex). A service is identified by its service id (the program number of the
//! PAT) within its multiplex, and in practice within its original network: TR 101 211
//! asks broadcasters to keep service ids unique there, which is how a service that moved
//! to another multiplex is recognised.
//!
//! Names and providers come from the broadcast (SDT, NIT). They are data, never a reason
//! to refuse a scan: control characters are dropped and overlong text is cut when a
//! record is built ([`broadcast_text`]); the validation only guards the stored bounds.

use std::collections::HashSet;

use dvbgate_tuning::Tuning;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::model::MAX_URL_BYTES;

/// Most services kept per multiplex: far above the few dozen a real multiplex carries
/// (a one-section PAT lists at most 253), it only keeps a record from growing without
/// bound.
pub const MAX_SERVICES_PER_MUX: usize = 512;
/// Longest service, provider or network name kept, in characters: a DVB name
/// descriptor holds at most 255 bytes.
pub const MAX_SCAN_TEXT_CHARS: usize = 255;

/// What a service carries, from its SDT service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// Television (SD, HD, UHD, any codec).
    Tv,
    /// Sound radio.
    Radio,
    /// Data broadcast, teletext-only, software updates: nothing to watch.
    Data,
    /// A type the scan did not recognise, or no SDT entry.
    Other,
}

/// One service of a scanned multiplex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannedService {
    /// Program number in the PAT, 1..=65535.
    pub service_id: u16,
    /// Name from the SDT; may be empty (a channel made for it is called
    /// `Service <id>`).
    #[serde(default)]
    pub name: String,
    /// Provider from the SDT; may be empty.
    #[serde(default)]
    pub provider: String,
    pub kind: ServiceKind,
    /// The service is scrambled (SDT free_CA_mode, or CA descriptors in its PMT).
    #[serde(default)]
    pub scrambled: bool,
    /// Logical channel number from the NIT or BAT, if the network assigns one.
    #[serde(default)]
    pub lcn: Option<u16>,
}

/// What the last scan found on one DVB input, stored under the input's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRecord {
    /// The input this multiplex feeds.
    pub input_id: u32,
    /// Where the scan found it. The input's URL is what the daemon tunes; this is kept
    /// to recognise the multiplex again (and to notice a re-plan). Stored in its
    /// canonical URL form, the tuning crate's stable, documented text (input URLs
    /// depend on it too), rather than in its Rust layout.
    #[serde(with = "tuning_url")]
    pub tuning: Tuning,
    /// Network id of the NIT that described it, if there was one.
    pub network_id: Option<u16>,
    /// Network name from the NIT; may be empty.
    pub network_name: String,
    /// Original network id (SDT); None where the multiplex has no SDT (ATSC).
    pub original_network_id: Option<u16>,
    /// Transport stream id (PAT).
    pub transport_stream_id: u16,
    /// When the scan found it, seconds since the Unix epoch.
    pub scanned_at: u64,
    /// Its services, in the order the scan listed them.
    pub services: Vec<ScannedService>,
}

impl ScanRecord {
    /// The service with this id, if the scan found it.
    pub fn service(&self, service_id: u16) -> Option<&ScannedService> {
        self.services
            .iter()
            .find(|service| service.service_id == service_id)
    }

    /// (original network id, transport stream id), when both are known.
    pub fn ids(&self) -> Option<(u16, u16)> {
        self.original_network_id
            .map(|onid| (onid, self.transport_stream_id))
    }
}

/// A multiplex as a scan reports it to [`crate::Store::merge_scan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannedMux {
    /// The tuning's URL form (`dvb-t://474MHz?bandwidth=8MHz`): the URL of the input
    /// made for it. It must parse to the same delivery system and multiplex as
    /// `tuning`.
    pub url: String,
    /// The tuning the scan locked on.
    pub tuning: Tuning,
    /// See [`ScanRecord::network_id`].
    #[serde(default)]
    pub network_id: Option<u16>,
    /// See [`ScanRecord::network_name`]; as broadcast (the merge cleans it).
    #[serde(default)]
    pub network_name: String,
    /// See [`ScanRecord::original_network_id`].
    #[serde(default)]
    pub original_network_id: Option<u16>,
    /// See [`ScanRecord::transport_stream_id`].
    pub transport_stream_id: u16,
    /// Every service the scan found, scrambled and data services included (they are
    /// recorded, and reported as skipped).
    pub services: Vec<ScannedService>,
}

impl ScannedMux {
    /// (original network id, transport stream id), when both are known.
    pub fn ids(&self) -> Option<(u16, u16)> {
        self.original_network_id
            .map(|onid| (onid, self.transport_stream_id))
    }

    /// How messages refer to it: its URL and ids.
    pub fn describe(&self) -> String {
        match self.original_network_id {
            Some(onid) => format!(
                "multiplex {} (onid {onid}, tsid {})",
                self.url, self.transport_stream_id
            ),
            None => format!("multiplex {} (tsid {})", self.url, self.transport_stream_id),
        }
    }

    /// The record to store for it, with broadcast text made storable.
    pub(crate) fn to_record(&self, input_id: u32, scanned_at: u64) -> ScanRecord {
        ScanRecord {
            input_id,
            tuning: self.tuning,
            network_id: self.network_id,
            network_name: broadcast_text(&self.network_name),
            original_network_id: self.original_network_id,
            transport_stream_id: self.transport_stream_id,
            scanned_at,
            services: self
                .services
                .iter()
                .map(|service| ScannedService {
                    name: broadcast_text(&service.name),
                    provider: broadcast_text(&service.provider),
                    ..service.clone()
                })
                .collect(),
        }
    }
}

/// A tuning as its canonical URL, `dvb-t://474MHz?bandwidth=8MHz`.
mod tuning_url {
    use dvbgate_tuning::Tuning;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        tuning: &Tuning,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(tuning)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Tuning, D::Error> {
        let url = String::deserialize(deserializer)?;
        url.parse().map_err(serde::de::Error::custom)
    }
}

/// Text from the broadcast made storable: control characters (DVB emphasis and line
/// break codes that survived decoding) dropped, surrounding blanks trimmed, cut to
/// [`MAX_SCAN_TEXT_CHARS`].
pub fn broadcast_text(text: &str) -> String {
    let kept: String = text.chars().filter(|c| !c.is_control()).collect();
    let cut: String = kept.trim().chars().take(MAX_SCAN_TEXT_CHARS).collect();
    cut.trim_end().to_string()
}

/// Checks a scanned multiplex before it is merged: the parts that come from dvbgate's
/// own scan (a URL that names the tuning, service ids) and the bounds. Broadcast text is not checked here; the
/// merge makes it storable.
pub fn validate_scanned_mux(mux: &ScannedMux) -> Result<(), StoreError> {
    let invalid = |why: String| Err(StoreError::Invalid(format!("{}: {why}", mux.describe())));
    if mux.url.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "scanned multiplex (tsid {}) has an empty URL",
            mux.transport_stream_id
        )));
    }
    if mux.url.len() > MAX_URL_BYTES {
        return invalid(format!(
            "the URL is {} bytes long; at most {MAX_URL_BYTES} are allowed",
            mux.url.len()
        ));
    }
    match mux.url.parse::<Tuning>() {
        Ok(tuning) if tuning.system == mux.tuning.system && tuning.same_multiplex(&mux.tuning) => {}
        Ok(tuning) => {
            return invalid(format!(
                "the URL names {} at {} Hz, but the scan tuned {} at {} Hz",
                tuning.system, tuning.frequency_hz, mux.tuning.system, mux.tuning.frequency_hz
            ));
        }
        Err(error) => return invalid(format!("the URL is not a DVB tuning: {error}")),
    }
    validate_services(&mux.services).or_else(invalid)
}

/// Checks a stored scan record.
pub fn validate_scan_record(record: &ScanRecord) -> Result<(), StoreError> {
    let invalid = |why: String| {
        Err(StoreError::Invalid(format!(
            "scan record of input {}: {why}",
            record.input_id
        )))
    };
    text_within_bounds("network name", &record.network_name).or_else(invalid)?;
    for service in &record.services {
        text_within_bounds("service name", &service.name).or_else(invalid)?;
        text_within_bounds("provider", &service.provider).or_else(invalid)?;
    }
    validate_services(&record.services).or_else(invalid)
}

fn validate_services(services: &[ScannedService]) -> Result<(), String> {
    if services.len() > MAX_SERVICES_PER_MUX {
        return Err(format!(
            "{} services; at most {MAX_SERVICES_PER_MUX} are kept per multiplex",
            services.len()
        ));
    }
    let mut seen = HashSet::with_capacity(services.len());
    for service in services {
        if service.service_id == 0 {
            return Err("service id 0 is not a service (it marks the NIT in the PAT)".to_string());
        }
        if !seen.insert(service.service_id) {
            return Err(format!("service id {} is listed twice", service.service_id));
        }
    }
    Ok(())
}

fn text_within_bounds(what: &str, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_SCAN_TEXT_CHARS {
        return Err(format!(
            "{what} is {chars} characters long; at most {MAX_SCAN_TEXT_CHARS} are kept"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("{what} {text:?} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use dvbgate_tuning::DeliverySystem;
    use dvbgate_tuning::params::Params;

    use super::*;

    fn mux(services: Vec<ScannedService>) -> ScannedMux {
        ScannedMux {
            url: "dvb-c://346MHz?symbol_rate=6900000&modulation=qam256".into(),
            tuning: Tuning {
                system: DeliverySystem::DvbC,
                frequency_hz: 346_000_000,
                params: Params::Cable {
                    symbol_rate: 6_900_000,
                    modulation: Some(dvbgate_tuning::params::Modulation::Qam256),
                    fec: None,
                },
            },
            network_id: None,
            network_name: String::new(),
            original_network_id: None,
            transport_stream_id: 1051,
            services,
        }
    }

    fn service(service_id: u16) -> ScannedService {
        ScannedService {
            service_id,
            name: "Das Erste HD".into(),
            provider: "ARD".into(),
            kind: ServiceKind::Tv,
            scrambled: false,
            lcn: None,
        }
    }

    fn invalid(result: Result<(), StoreError>) -> String {
        match result {
            Err(StoreError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_scanned_multiplex_is_checked() {
        validate_scanned_mux(&mux(vec![service(1), service(2)])).expect("valid");
        let message = invalid(validate_scanned_mux(&mux(vec![service(0)])));
        assert!(
            message.starts_with("multiplex dvb-c://346MHz?"),
            "names the multiplex: {message}"
        );
        assert!(message.contains("(tsid 1051)"), "{message}");
        let message = invalid(validate_scanned_mux(&mux(vec![service(3), service(3)])));
        assert!(
            message.contains("service id 3 is listed twice"),
            "{message}"
        );
        let empty_url = ScannedMux {
            url: " ".into(),
            ..mux(Vec::new())
        };
        assert!(invalid(validate_scanned_mux(&empty_url)).contains("empty URL"));
        let long_url = ScannedMux {
            url: format!("dvb-c://346MHz?{}", "x".repeat(MAX_URL_BYTES)),
            ..mux(Vec::new())
        };
        assert!(invalid(validate_scanned_mux(&long_url)).contains("at most 1024"));
        let elsewhere = ScannedMux {
            url: "dvb-c://354MHz?symbol_rate=6900000".into(),
            ..mux(Vec::new())
        };
        assert!(invalid(validate_scanned_mux(&elsewhere)).contains("354000000 Hz"));
        let full: Vec<_> = (1..=MAX_SERVICES_PER_MUX as u16).map(service).collect();
        validate_scanned_mux(&mux(full)).expect("the cap itself is allowed");
    }

    #[test]
    fn a_stored_record_is_bounded() {
        let record = mux(vec![service(1)]).to_record(4, 1);
        validate_scan_record(&record).expect("valid");
        let long = ScanRecord {
            network_name: "n".repeat(MAX_SCAN_TEXT_CHARS + 1),
            ..record.clone()
        };
        let message = invalid(validate_scan_record(&long));
        assert!(
            message.starts_with("scan record of input 4: network name"),
            "{message}"
        );
        let mut control = record.clone();
        control.services[0].provider = "A\u{1b}RD".into();
        assert!(invalid(validate_scan_record(&control)).contains("provider"));
    }

    #[test]
    fn broadcast_text_drops_control_characters_and_cuts() {
        assert_eq!(broadcast_text("\u{86}ZDF\u{87} HD \u{8a}"), "ZDF HD");
        assert_eq!(broadcast_text("  padded  "), "padded");
        let long = format!("{} tail", "é".repeat(MAX_SCAN_TEXT_CHARS - 1));
        let cut = broadcast_text(&long);
        assert_eq!(
            cut.chars().count(),
            MAX_SCAN_TEXT_CHARS - 1,
            "cut, then trimmed"
        );
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_record_stores_its_tuning_as_the_canonical_url() {
        let record = mux(vec![service(1)]).to_record(4, 1_750_000_000);
        let json = serde_json::to_value(&record).expect("serialize");
        assert_eq!(
            json["tuning"],
            "dvb-c://346MHz?symbol_rate=6900000&modulation=qam256"
        );
        let back: ScanRecord = serde_json::from_value(json.clone()).expect("deserialize");
        assert_eq!(back, record);
        let mut garbage = json;
        garbage["tuning"] = "dvb-x://1".into();
        let error = serde_json::from_value::<ScanRecord>(garbage).expect_err("refused");
        assert!(error.to_string().contains("dvb-x"), "{error}");
    }

    #[test]
    fn json_shape_of_a_service() {
        let json = serde_json::to_value(ScannedService {
            lcn: Some(1),
            ..service(0x6d66)
        })
        .expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({
                "service_id": 28006,
                "name": "Das Erste HD",
                "provider": "ARD",
                "kind": "tv",
                "scrambled": false,
                "lcn": 1
            })
        );
        let minimal: ScannedService =
            serde_json::from_str(r#"{"service_id":5,"kind":"radio"}"#).expect("minimal");
        assert_eq!(minimal.kind, ServiceKind::Radio);
        assert_eq!(minimal.lcn, None);
    }
}
