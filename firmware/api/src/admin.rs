//! Administration of the XC users, the channel categories, the programme guide, and
//! changes to many channels at once; and the channel map as CSV. Everything here but
//! the CSV needs the administrator (see [`crate::auth`]).
//!
//! - `GET /api/v1/users`: `[UserView]` by id (never the password hash);
//!   `POST /api/v1/users` with a `NewUser` (`{"username","password",…}`): 201 and the
//!   view (409 when the name exists, 422 when invalid); `GET`, `PATCH` (a `UserPatch`),
//!   `DELETE` (204) `/api/v1/users/{id}`.
//! - `GET /api/v1/categories`: `[{"id","name"}]`; `POST` `{"name"}`: 201 and the new
//!   category, or 200 and the existing one of that name (regardless of case);
//!   `PATCH /api/v1/categories/{id}` `{"name"}` renames; `DELETE` (204; 409 while
//!   channels or users use it).
//! - `GET /api/v1/epg`: the guide's figures.
//! - `GET /api/v1/channels/{number}/epg[?from=&to=&limit=]`: the channel's programmes
//!   (unix seconds; default from now, to the end of the guide, limit 1000, at most
//!   10000) as `{"number","channel_id","epg_id","events":[Event]}`.
//! - `POST /api/v1/channels/bulk` `{"numbers": [N, …], "enabled"?: bool,
//!   "renumber_from"?: N, "category_id"?: id or null, "hls"?: bool}`: the same change
//!   to every listed channel (`renumber_from`: the listed channels get consecutive
//!   numbers from N, in the list's order; swapping numbers among them is fine). All or
//!   nothing: the store checks the result as a whole; 422 (or 409 for a number taken)
//!   with the reason, and nothing changed. 200 with the changed channels' views, in
//!   the list's order.
//! - `GET /playlist/multicast.csv` (open, like the M3U): every channel in number order,
//!   `number,name,service_id,enabled,protocol,address,port,url,category` (RFC 4180:
//!   CRLF, quotes where needed; `url` empty while the channel's multicast is off).
//!   Texts that a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
//!   `@`, or a tab or carriage return, which some spreadsheets skip before looking for
//!   one) get a leading `'` (OWASP's advice on CSV injection).

use crate::auth::Peer;
use crate::error::ApiError;
use crate::routes::{Body, Gateway, blocking};
use crate::streaming::{absolute_urls, base_url};
use crate::xc::params::Params;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dvbgate_control::{ChannelView, EpgServiceStats};
use dvbgate_store::{Category, ChannelPatch, NewUser, UserPatch, UserView};
use serde::{Deserialize, Deserializer};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tracing::info;

const EVENTS_DEFAULT: usize = 1000;
const EVENTS_MAX: usize = 10_000;

/// A change to users or categories: what was read from the store for the XC API is
/// read again.
fn changed(gw: &Gateway, username: Option<&str>) {
    gw.xc.users_changed(username);
    gw.lineup.invalidate();
}

pub(crate) async fn list_users(
    State(gw): State<Arc<Gateway>>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let sup = gw.app.supervisor.clone();
    let users = blocking(move || Ok(sup.store().users()?)).await?;
    Ok(Json(users.iter().map(|u| u.view()).collect()))
}

pub(crate) async fn create_user(
    State(gw): State<Arc<Gateway>>,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let sup = gw.app.supervisor.clone();
    let user = blocking(move || Ok(sup.store().add_user(new)?)).await?;
    changed(&gw, Some(&user.username));
    Ok((StatusCode::CREATED, Json(user.view())))
}

pub(crate) async fn get_user(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<u32>,
) -> Result<Json<UserView>, ApiError> {
    let sup = gw.app.supervisor.clone();
    blocking(move || Ok(sup.store().user(id)?))
        .await?
        .map(|u| Json(u.view()))
        .ok_or_else(|| ApiError::not_found(format!("there is no user with id {id}")))
}

pub(crate) async fn update_user(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<u32>,
    Body(patch): Body<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let sup = gw.app.supervisor.clone();
    let user = blocking(move || Ok(sup.store().update_user(id, patch)?)).await?;
    changed(&gw, Some(&user.username));
    Ok(Json(user.view()))
}

pub(crate) async fn delete_user(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<u32>,
) -> Result<StatusCode, ApiError> {
    let sup = gw.app.supervisor.clone();
    let name = blocking(move || {
        let name = sup.store().user(id)?.map(|u| u.username);
        sup.store().remove_user(id)?;
        Ok(name)
    })
    .await?;
    changed(&gw, name.as_deref());
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryName {
    name: String,
}

pub(crate) async fn list_categories(
    State(gw): State<Arc<Gateway>>,
) -> Result<Json<Vec<Category>>, ApiError> {
    let sup = gw.app.supervisor.clone();
    Ok(Json(blocking(move || Ok(sup.store().categories()?)).await?))
}

pub(crate) async fn create_category(
    State(gw): State<Arc<Gateway>>,
    Body(new): Body<CategoryName>,
) -> Result<(StatusCode, Json<Category>), ApiError> {
    let sup = gw.app.supervisor.clone();
    let (category, existed) = blocking(move || {
        let before = sup.store().categories()?.len();
        let c = sup.store().add_category(&new.name)?;
        Ok((c, sup.store().categories()?.len() == before))
    })
    .await?;
    changed(&gw, None);
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(category)))
}

pub(crate) async fn rename_category(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<u32>,
    Body(new): Body<CategoryName>,
) -> Result<Json<Category>, ApiError> {
    let sup = gw.app.supervisor.clone();
    let c = blocking(move || Ok(sup.store().rename_category(id, &new.name)?)).await?;
    changed(&gw, None);
    Ok(Json(c))
}

pub(crate) async fn delete_category(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<u32>,
) -> Result<StatusCode, ApiError> {
    let sup = gw.app.supervisor.clone();
    blocking(move || Ok(sup.store().remove_category(id)?)).await?;
    changed(&gw, None);
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn epg_stats(State(gw): State<Arc<Gateway>>) -> Json<EpgServiceStats> {
    Json(gw.app.supervisor.epg().stats())
}

#[derive(serde::Serialize)]
pub(crate) struct ChannelEpg {
    number: u16,
    channel_id: u32,
    epg_id: String,
    events: Vec<dvbgate_epg::Event>,
}

pub(crate) async fn channel_epg(
    State(gw): State<Arc<Gateway>>,
    Path(number): Path<u16>,
    RawQuery(query): RawQuery,
) -> Result<Json<ChannelEpg>, ApiError> {
    let params = Params::parse(query.as_deref().unwrap_or(""));
    let time = |key: &str, default: i64| -> Result<i64, ApiError> {
        match params.non_empty(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{key}={v:?} is not a time in unix seconds"),
                )
            }),
        }
    };
    let from = time("from", dvbgate_control::epg::now_unix())?;
    let to = time("to", i64::MAX)?;
    let limit = match params.non_empty("limit") {
        None => EVENTS_DEFAULT,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("limit={v:?} is not a count"),
                )
            })?
            .min(EVENTS_MAX),
    };
    let sup = gw.app.supervisor.clone();
    let channel = blocking(move || Ok(sup.store().channel_by_number(number)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no channel number {number}")))?;
    let events = gw
        .app
        .supervisor
        .epg()
        .channel_events(channel.id, from, to, limit);
    Ok(Json(ChannelEpg {
        number,
        channel_id: channel.id,
        epg_id: dvbgate_control::epg_channel_id(channel.id),
        events,
    }))
}

/// `POST /api/v1/channels/bulk`'s request (see the module docs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bulk {
    numbers: Vec<u16>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    renumber_from: Option<u16>,
    /// `Some(None)`: JSON `null`, back to the category by service type.
    #[serde(default, deserialize_with = "present")]
    category_id: Option<Option<u32>>,
    #[serde(default)]
    hls: Option<bool>,
}

/// A field that is there (even as `null`) is `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The patches a bulk change makes, by channel number; or why it makes none.
fn bulk_patches(bulk: &Bulk) -> Result<Vec<(u16, ChannelPatch)>, String> {
    if bulk.numbers.is_empty() {
        return Err("\"numbers\" lists no channel".into());
    }
    if bulk.enabled.is_none()
        && bulk.renumber_from.is_none()
        && bulk.category_id.is_none()
        && bulk.hls.is_none()
    {
        return Err(
            "nothing to change: give \"enabled\", \"renumber_from\", \"category_id\" or \"hls\""
                .into(),
        );
    }
    let mut seen = HashSet::new();
    let mut patches = Vec::with_capacity(bulk.numbers.len());
    for (i, &number) in bulk.numbers.iter().enumerate() {
        if !seen.insert(number) {
            return Err(format!("channel {number} is listed twice"));
        }
        let renumbered = match bulk.renumber_from {
            None => None,
            Some(from) => Some(
                u16::try_from(i)
                    .ok()
                    .and_then(|i| from.checked_add(i))
                    .ok_or_else(|| format!("renumbering from {from} runs past 65535"))?,
            ),
        };
        let patch = ChannelPatch {
            enabled: bulk.enabled,
            number: renumbered,
            category_id: bulk.category_id,
            hls: bulk.hls,
            ..ChannelPatch::default()
        };
        patches.push((number, patch));
    }
    Ok(patches)
}

/// `POST /api/v1/channels/bulk`.
pub(crate) async fn bulk_channels(
    State(gw): State<Arc<Gateway>>,
    Peer(ip): Peer,
    headers: HeaderMap,
    Body(bulk): Body<Bulk>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let patches =
        bulk_patches(&bulk).map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    let sup = gw.app.supervisor.clone();
    let ids = blocking(move || {
        let by_number: HashMap<u16, u32> = sup
            .store()
            .channels()?
            .iter()
            .map(|c| (c.number, c.id))
            .collect();
        let mut by_id = Vec::with_capacity(patches.len());
        for (number, patch) in patches {
            let id = by_number.get(&number).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("there is no channel number {number}"),
                )
            })?;
            by_id.push((*id, patch));
        }
        let ids: Vec<u32> = by_id.iter().map(|(id, _)| *id).collect();
        sup.store().update_channels(&by_id)?;
        sup.reconcile()?;
        Ok(ids)
    })
    .await?;
    changed(&gw, None);
    info!(channels = ids.len(), %ip, "channels changed in bulk");
    let sup = gw.app.supervisor.clone();
    let mut views = blocking(move || Ok(sup.channel_views()?)).await?;
    let base = base_url(&headers);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(i) = views.iter().position(|v| v.id == id) {
            let mut view = views.swap_remove(i);
            absolute_urls(&mut view, base.as_deref());
            out.push(view);
        }
    }
    Ok(Json(out))
}

/// `GET /playlist/multicast.csv`.
pub(crate) async fn multicast_csv(State(gw): State<Arc<Gateway>>) -> Response {
    let sup = gw.app.supervisor.clone();
    let read = blocking(move || {
        let configured: HashMap<u32, Option<u32>> = sup
            .store()
            .channels()?
            .into_iter()
            .map(|c| (c.id, c.category_id))
            .collect();
        Ok((sup.channel_views()?, sup.store().categories()?, configured))
    })
    .await;
    let (mut views, categories, configured) = match read {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // Enabled channels' categories as the lineup has them (by service type when they
    // have none); the others' by their own setting.
    let lineup = match gw.lineup.get(&gw.app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let names: HashMap<u32, &str> = categories.iter().map(|c| (c.id, c.name.as_str())).collect();
    views.sort_by_key(|v| v.number);
    let rows = views.iter().map(|v| {
        let category = match lineup.channel(v.id) {
            Some(entry) => entry.category_name.clone(),
            None => configured
                .get(&v.id)
                .copied()
                .flatten()
                .and_then(|id| names.get(&id))
                .map_or_else(String::new, |n| (*n).to_owned()),
        };
        CsvRow {
            number: v.number,
            name: &v.name,
            service_id: v.service_id,
            enabled: v.enabled,
            protocol: match v.output.protocol {
                dvbgate_store::Protocol::Udp => "udp",
                dvbgate_store::Protocol::Rtp => "rtp",
            },
            address: v.output.address,
            url: if v.output.multicast { &v.multicast } else { "" },
            category,
        }
    });
    let mut response = csv(rows).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"multicast.csv\""),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

struct CsvRow<'a> {
    number: u16,
    name: &'a str,
    service_id: u16,
    enabled: bool,
    protocol: &'static str,
    address: std::net::SocketAddr,
    url: &'a str,
    category: String,
}

fn csv<'a>(rows: impl Iterator<Item = CsvRow<'a>>) -> String {
    let mut out =
        String::from("number,name,service_id,enabled,protocol,address,port,url,category\r\n");
    for r in rows {
        let fields = [
            r.number.to_string(),
            csv_field(r.name),
            r.service_id.to_string(),
            r.enabled.to_string(),
            r.protocol.to_owned(),
            r.address.ip().to_string(),
            r.address.port().to_string(),
            csv_field(r.url),
            csv_field(&r.category),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A text as one CSV field (RFC 4180), defused for spreadsheets: see the module docs.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("BBC One"), "BBC One");
        assert_eq!(csv_field("News, at ten"), "\"News, at ten\"");
        assert_eq!(csv_field("Say \"Hi\""), "\"Say \"\"Hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-,x"), "\"'-,x\"");
        assert_eq!(csv_field("\t=1+2"), "'\t=1+2");
        assert_eq!(csv_field("\r=1+2"), "\"'\r=1+2\"");
        assert_eq!(csv_field("a\t=1"), "a\t=1", "only at the start");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn a_csv_row_per_channel() {
        let rows = [CsvRow {
            number: 7,
            name: "Arte, \"HD\"",
            service_id: 101,
            enabled: false,
            protocol: "rtp",
            address: "239.255.1.7:5004".parse().unwrap(),
            url: "",
            category: "TV".into(),
        }];
        assert_eq!(
            csv(rows.into_iter()),
            "number,name,service_id,enabled,protocol,address,port,url,category\r\n\
             7,\"Arte, \"\"HD\"\"\",101,false,rtp,239.255.1.7,5004,,TV\r\n"
        );
    }

    fn bulk(json: serde_json::Value) -> Bulk {
        serde_json::from_value(json).expect("a bulk request")
    }

    #[test]
    fn bulk_requests_become_patches() {
        let p = bulk_patches(&bulk(
            serde_json::json!({"numbers": [5, 3, 9], "renumber_from": 10, "category_id": null}),
        ))
        .unwrap();
        let numbers: Vec<(u16, Option<u16>)> = p.iter().map(|(n, p)| (*n, p.number)).collect();
        assert_eq!(numbers, [(5, Some(10)), (3, Some(11)), (9, Some(12))]);
        assert!(
            p.iter()
                .all(|(_, p)| p.category_id == Some(None) && p.enabled.is_none())
        );

        let p = bulk_patches(&bulk(serde_json::json!({"numbers": [1], "enabled": false}))).unwrap();
        assert_eq!(p[0].1.enabled, Some(false));
        assert_eq!(p[0].1.category_id, None, "absent leaves the category");

        for (json, why) in [
            (
                serde_json::json!({"numbers": [], "enabled": true}),
                "no channel",
            ),
            (serde_json::json!({"numbers": [1]}), "nothing to change"),
            (serde_json::json!({"numbers": [1, 1], "hls": true}), "twice"),
            (
                serde_json::json!({"numbers": [1, 2], "renumber_from": 65535}),
                "past 65535",
            ),
        ] {
            let e = bulk_patches(&bulk(json.clone())).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
        assert!(
            serde_json::from_value::<Bulk>(serde_json::json!({"numbers": [1], "colour": 1}))
                .is_err()
        );
    }
}
