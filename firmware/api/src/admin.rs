//! Administration of the XC users, the channel categories and the programme guide.
//! Like every change, and unlike the lineup, all of `/api/v1/users*` (reads included:
//! they show the accounts' settings) is served to the box itself (loopback) only until
//! there is an administrator login.
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

use crate::error::ApiError;
use crate::routes::{Body, Gateway, blocking};
use crate::xc::params::Params;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use dvbgate_control::EpgServiceStats;
use dvbgate_store::{Category, NewUser, UserPatch, UserView};
use std::sync::Arc;

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
