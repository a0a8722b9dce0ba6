//! The lineup: the channels as apps and TVs see them (XC API, M3U, XMLTV, HDHomeRun).

use crate::Supervisor;
use crate::epg::epg_channel_id;
use dvbgate_store::{CATEGORY_RADIO, CATEGORY_TV, StoreError};
use dvbgate_ts::tables::sdt::ServiceKind;
use std::collections::HashMap;

/// One enabled channel.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineupEntry {
    /// The store's channel id: stable, never reused; the XC `stream_id`.
    pub channel_id: u32,
    /// The number guests see (XC `num`, M3U `tvg-chno`, HDHomeRun `GuideNumber`).
    pub number: u16,
    pub name: String,
    /// XC `epg_channel_id` = M3U `tvg-id` = XMLTV channel id.
    pub epg_id: String,
    pub category_id: u32,
    pub category_name: String,
    /// A radio service (by its SDT service type, or its category).
    pub radio: bool,
    /// `udp://@239.255.1.1:5000` (or `rtp://@…`) while its multicast is on.
    pub multicast: Option<String>,
    /// When the channel was created, Unix seconds (0 if before that was recorded).
    pub added: i64,
}

impl Supervisor {
    /// Enabled channels in number order, with their categories: a channel without one
    /// is in "Radio" when its service is a radio service, else in "TV".
    pub fn lineup(&self) -> Result<Vec<LineupEntry>, StoreError> {
        let mut channels = self.store().channels()?;
        channels.retain(|c| c.enabled);
        channels.sort_by_key(|c| c.number);
        let categories: HashMap<u32, String> = self
            .store()
            .categories()?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let mut kinds: HashMap<(u32, u16), ServiceKind> = HashMap::new();
        {
            let state = self.state();
            let mut seen = std::collections::HashSet::new();
            for c in &channels {
                if !seen.insert(c.input_id) {
                    continue;
                }
                if let Some(s) = state.snapshot(c.input_id) {
                    for service in &s.input.services {
                        if let Some(kind) = service.kind {
                            kinds.insert((c.input_id, service.service_id), kind);
                        }
                    }
                }
            }
        }
        Ok(channels
            .into_iter()
            .map(|c| {
                let radio_service = kinds
                    .get(&(c.input_id, c.service_id))
                    .is_some_and(|k| matches!(k, ServiceKind::Radio));
                let category_id = c
                    .category_id
                    .filter(|id| categories.contains_key(id))
                    .unwrap_or(if radio_service {
                        CATEGORY_RADIO
                    } else {
                        CATEGORY_TV
                    });
                LineupEntry {
                    channel_id: c.id,
                    number: c.number,
                    epg_id: epg_channel_id(c.id),
                    category_name: categories
                        .get(&category_id)
                        .cloned()
                        .unwrap_or_else(|| "TV".into()),
                    radio: radio_service || category_id == CATEGORY_RADIO,
                    category_id,
                    multicast: c.output.multicast.then(|| crate::stream_url(&c)),
                    added: c.created_at,
                    name: c.name,
                }
            })
            .collect())
    }
}
