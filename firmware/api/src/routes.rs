//! Routes and handlers.

use crate::app::AppState;
use crate::error::ApiError;
use crate::streaming::{absolute_urls, base_url};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use dvbgate_control::scan::{ScanRequest, read_tuning_file, tuning_files};
use dvbgate_control::{
    ChannelView, InputView, ScanJobView, ScanOptions, StartScanError, TunerView,
};
use dvbgate_pipeline::InputState;
use dvbgate_store::{ChannelPatch, InputPatch, NewChannel, NewInput, Settings};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// What the lineup, XC and HDHomeRun routes share: the application, and what they
/// keep between requests.
pub(crate) struct Gateway {
    pub app: Arc<AppState>,
    pub lineup: crate::lineup::LineupCache,
    pub xc: crate::xc::XcState,
    pub device: crate::hdhomerun::Device,
}

/// The API's routes.
///
/// Two routers: the **open** one, for what TVs, apps, media servers and the login page
/// need on the LAN, and the **administrator's**, every route of which passes
/// [`crate::auth::require_admin`] (`route_layer`, so that unknown paths stay 404).
/// A route is the administrator's unless it is added to the open router on purpose
/// (the open set is the contract's list: the lineup, HLS/TS streams, XC, HDHomeRun,
/// `/healthz`, the login routes and the web page; `tests/auth.rs` checks both sets
/// route by route). Paths with open and administrator methods (GET
/// `/api/v1/channels` is open, POST is not) are registered in both; axum merges the
/// methods of a path, each with its own guard or none.
pub fn router(state: Arc<AppState>) -> Router {
    let gateway = Arc::new(Gateway {
        lineup: crate::lineup::LineupCache::new(),
        xc: crate::xc::XcState::new(state.supervisor.options().streams.segment.target),
        device: crate::hdhomerun::Device::new(state.supervisor.store().path()),
        app: Arc::clone(&state),
    });
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/channels", get(list_channels))
        .route("/api/v1/channels/{number}", get(get_channel))
        .route(
            "/api/v1/session",
            get(crate::auth::session_status).post(crate::auth::login),
        )
        .route("/api/v1/session/setup", post(crate::auth::setup))
        .route("/hls/{number}/{file}", get(crate::streaming::hls))
        .route("/stream/{file}", get(crate::streaming::http_ts))
        .merge(crate::web::routes())
        .with_state(Arc::clone(&state))
        .merge(
            Router::new()
                .route(
                    "/playlist/multicast.m3u",
                    get(crate::lineup::multicast_playlist),
                )
                .route("/playlist/multicast.csv", get(crate::admin::multicast_csv))
                .route("/epg.xml", get(crate::lineup::epg_xml))
                .route("/discover.json", get(crate::hdhomerun::discover))
                .route("/lineup.json", get(crate::hdhomerun::lineup))
                .route("/lineup_status.json", get(crate::hdhomerun::lineup_status))
                .route("/lineup.post", post(crate::hdhomerun::lineup_post))
                .route("/device.xml", get(crate::hdhomerun::device_xml))
                .merge(crate::xc::routes())
                .with_state(Arc::clone(&gateway)),
        );
    let admin = Router::new()
        .route("/api/v1/channels", post(create_channel))
        .route(
            "/api/v1/channels/{number}",
            patch(update_channel).delete(delete_channel),
        )
        .route("/api/v1/session", delete(crate::auth::logout))
        .route("/api/v1/admin/password", put(crate::auth::change_password))
        .route("/api/v1/inputs", get(list_inputs).post(create_input))
        .route(
            "/api/v1/inputs/{id}",
            get(get_input).patch(update_input).delete(delete_input),
        )
        .route("/api/v1/settings", get(get_settings).put(put_settings))
        .route("/api/v1/tuners", get(list_tuners))
        .route(
            "/api/v1/tuners/{adapter}/{frontend}",
            get(get_tuner).patch(update_tuner),
        )
        .route("/api/v1/scans", get(list_scans).post(start_scan))
        .route("/api/v1/scans/{id}", get(get_scan).delete(cancel_scan))
        .route("/api/v1/tuning-files", get(list_tuning_files))
        .route("/api/v1/backup", get(crate::backup::download))
        .route("/api/v1/system/interfaces", get(crate::system::interfaces))
        .route("/api/v1/system/reboot", post(crate::system::reboot))
        .merge(crate::monitor::admin_routes())
        .with_state(Arc::clone(&state))
        .merge(
            Router::new()
                .route(
                    "/api/v1/users",
                    get(crate::admin::list_users).post(crate::admin::create_user),
                )
                .route(
                    "/api/v1/users/{id}",
                    get(crate::admin::get_user)
                        .patch(crate::admin::update_user)
                        .delete(crate::admin::delete_user),
                )
                .route(
                    "/api/v1/categories",
                    get(crate::admin::list_categories).post(crate::admin::create_category),
                )
                .route(
                    "/api/v1/categories/{id}",
                    patch(crate::admin::rename_category).delete(crate::admin::delete_category),
                )
                .route("/api/v1/epg", get(crate::admin::epg_stats))
                .route(
                    "/api/v1/channels/{number}/epg",
                    get(crate::admin::channel_epg),
                )
                .route("/api/v1/channels/bulk", post(crate::admin::bulk_channels))
                .route(
                    "/api/v1/restore",
                    // A backup of a thousand channels and users is a few hundred KiB;
                    // the other routes keep the server's 64 KiB.
                    post(crate::backup::restore)
                        .layer(DefaultBodyLimit::max(crate::backup::MAX_BACKUP)),
                )
                .route(
                    "/api/v1/system/factory-reset",
                    post(crate::system::factory_reset),
                )
                .with_state(gateway),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::auth::require_admin,
        ));
    open.merge(admin)
        .fallback(|| async { ApiError::not_found("no such resource") })
}

/// `Json` whose rejections are JSON errors like every other.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(ApiError::new(rejection.status(), json_problem(&rejection))),
        }
    }
}

fn json_problem(r: &JsonRejection) -> String {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            "send JSON with Content-Type: application/json".into()
        }
        other => other.body_text(),
    }
}

/// Runs blocking work (the store flushes to flash; pipelines open inputs) off the runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    })?
}

async fn healthz(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let sup = app.supervisor.clone();
    let (inputs, channels) =
        blocking(move || Ok((sup.input_views()?, sup.channel_views()?))).await?;
    let running = inputs
        .iter()
        .filter(|i| {
            i.live
                .as_ref()
                .is_some_and(|l| l.state == InputState::Running)
        })
        .count();
    Ok(Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "inputs": inputs.len(),
        "inputs_running": running,
        "channels": channels.len(),
    })))
}

async fn list_channels(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let sup = app.supervisor.clone();
    let mut views = blocking(move || Ok(sup.channel_views()?)).await?;
    let base = base_url(&headers);
    for view in &mut views {
        absolute_urls(view, base.as_deref());
    }
    Ok(Json(views))
}

async fn find_channel(
    app: &AppState,
    number: u16,
    headers: &HeaderMap,
) -> Result<ChannelView, ApiError> {
    let sup = app.supervisor.clone();
    let mut view = blocking(move || Ok(sup.channel_views()?))
        .await?
        .into_iter()
        .find(|c| c.number == number)
        .ok_or_else(|| ApiError::not_found(format!("no channel number {number}")))?;
    absolute_urls(&mut view, base_url(headers).as_deref());
    Ok(view)
}

async fn get_channel(
    State(app): State<Arc<AppState>>,
    Path(number): Path<u16>,
    headers: HeaderMap,
) -> Result<Json<ChannelView>, ApiError> {
    Ok(Json(find_channel(&app, number, &headers).await?))
}

async fn create_channel(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(new): Body<NewChannel>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let sup = app.supervisor.clone();
    let created = blocking(move || {
        let c = sup.store().add_channel(new)?;
        sup.reconcile()?;
        Ok(c)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(find_channel(&app, created.number, &headers).await?),
    ))
}

async fn update_channel(
    State(app): State<Arc<AppState>>,
    Path(number): Path<u16>,
    headers: HeaderMap,
    Body(patch): Body<ChannelPatch>,
) -> Result<Json<ChannelView>, ApiError> {
    let sup = app.supervisor.clone();
    let updated = blocking(move || {
        let c = sup
            .store()
            .channel_by_number(number)?
            .ok_or_else(|| ApiError::not_found(format!("no channel number {number}")))?;
        let c = sup.store().update_channel(c.id, patch)?;
        sup.reconcile()?;
        Ok(c)
    })
    .await?;
    Ok(Json(find_channel(&app, updated.number, &headers).await?))
}

async fn delete_channel(
    State(app): State<Arc<AppState>>,
    Path(number): Path<u16>,
) -> Result<StatusCode, ApiError> {
    let sup = app.supervisor.clone();
    blocking(move || {
        let c = sup
            .store()
            .channel_by_number(number)?
            .ok_or_else(|| ApiError::not_found(format!("no channel number {number}")))?;
        sup.store().remove_channel(c.id)?;
        sup.reconcile()?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_tuners(State(app): State<Arc<AppState>>) -> Result<Json<Vec<TunerView>>, ApiError> {
    let sup = app.supervisor.clone();
    Ok(Json(blocking(move || Ok(sup.tuner_views())).await?))
}

async fn get_tuner(
    State(app): State<Arc<AppState>>,
    Path((adapter, frontend)): Path<(String, String)>,
) -> Result<Json<TunerView>, ApiError> {
    let key = format!("{adapter}/{frontend}");
    let sup = app.supervisor.clone();
    blocking(move || Ok(sup.tuner_views()))
        .await?
        .into_iter()
        .find(|t| t.info.key == key)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no tuner {key}")))
}

/// A tuner's settings (enabled, label, cabling) are kept even while it is unplugged, so
/// they are there when it comes back.
async fn update_tuner(
    State(app): State<Arc<AppState>>,
    Path((adapter, frontend)): Path<(String, String)>,
    Body(patch): Body<dvbgate_store::TunerPatch>,
) -> Result<Json<dvbgate_store::TunerSettings>, ApiError> {
    let key = format!("{adapter}/{frontend}");
    let sup = app.supervisor.clone();
    Ok(Json(
        blocking(move || {
            let saved = sup.store().update_tuner(&key, patch)?;
            sup.refresh_tuners()?;
            sup.reconcile()?;
            Ok(saved)
        })
        .await?,
    ))
}

/// A scan request: initial tunings by URL, or a dtv-scan-tables file by name, or both.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewScan {
    #[serde(default)]
    tunings: Vec<String>,
    /// A file under /usr/share/dvb, e.g. `dvb-t/uk-CrystalPalace`.
    #[serde(default)]
    file: Option<String>,
    #[serde(default = "yes")]
    follow_nit: bool,
    /// Merge the result into the configuration (default true).
    #[serde(default = "yes")]
    store: bool,
    /// Enable the channels made for new services (default false).
    #[serde(default)]
    enable_new: bool,
}

fn yes() -> bool {
    true
}

async fn start_scan(
    State(app): State<Arc<AppState>>,
    Body(new): Body<NewScan>,
) -> Result<
    (
        StatusCode,
        [(axum::http::HeaderName, String); 1],
        Json<ScanJobView>,
    ),
    ApiError,
> {
    let sup = app.supervisor.clone();
    let id = blocking(move || {
        let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
        if new.tunings.len() > 512 {
            return Err(unprocessable("at most 512 tunings per scan".into()));
        }
        let mut initial = Vec::new();
        for url in &new.tunings {
            initial.push(
                url.parse()
                    .map_err(|e: dvbgate_tuning::params::ParseError| unprocessable(e.to_string()))?,
            );
        }
        if let Some(name) = &new.file {
            let root = std::path::Path::new(dvbgate_control::scan::SCAN_TABLES);
            let file = read_tuning_file(root, name).map_err(|e| match e {
                dvbgate_control::scan::TuningFileError::NotFound { .. } => {
                    ApiError::not_found(e.to_string())
                }
                other => unprocessable(other.to_string()),
            })?;
            initial.extend(file.tunings);
        }
        let request = ScanRequest {
            follow_nit: new.follow_nit,
            ..ScanRequest::new(initial)
        };
        let options = ScanOptions {
            store: new.store,
            enable_new: new.enable_new,
        };
        sup.start_scan(request, options).map_err(|e| match e {
            StartScanError::Busy(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            StartScanError::Empty => unprocessable(
                "give initial tunings (\"tunings\": [\"dvb-t://474MHz?bandwidth=8MHz\"]) or a tuning file (\"file\": \"dvb-t/uk-CrystalPalace\")".into(),
            ),
            StartScanError::NoTuner | StartScanError::Thread(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        })
    })
    .await?;
    let view = app
        .supervisor
        .scan_view(id)
        .ok_or_else(|| ApiError::not_found(format!("no scan {id}")))?;
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, format!("/api/v1/scans/{id}"))],
        Json(view),
    ))
}

async fn list_scans(State(app): State<Arc<AppState>>) -> Json<Vec<ScanJobView>> {
    Json(app.supervisor.scan_views())
}

async fn get_scan(
    State(app): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<Json<ScanJobView>, ApiError> {
    app.supervisor
        .scan_view(id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no scan {id}")))
}

async fn cancel_scan(
    State(app): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    if app.supervisor.cancel_scan(id) {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found(format!("no scan {id}")))
    }
}

async fn list_tuning_files() -> Result<Json<Vec<String>>, ApiError> {
    blocking(|| {
        Ok(tuning_files(std::path::Path::new(
            dvbgate_control::scan::SCAN_TABLES,
        )))
    })
    .await
    .map(Json)
}

async fn list_inputs(State(app): State<Arc<AppState>>) -> Result<Json<Vec<InputView>>, ApiError> {
    let sup = app.supervisor.clone();
    Ok(Json(blocking(move || Ok(sup.input_views()?)).await?))
}

async fn find_input(app: &AppState, id: u32) -> Result<InputView, ApiError> {
    let sup = app.supervisor.clone();
    blocking(move || Ok(sup.input_views()?))
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no input {id}")))
}

async fn get_input(
    State(app): State<Arc<AppState>>,
    Path(id): Path<u32>,
) -> Result<Json<InputView>, ApiError> {
    Ok(Json(find_input(&app, id).await?))
}

async fn create_input(
    State(app): State<Arc<AppState>>,
    Body(new): Body<NewInput>,
) -> Result<(StatusCode, Json<InputView>), ApiError> {
    let sup = app.supervisor.clone();
    let created = blocking(move || {
        let i = sup.store().add_input(new)?;
        // A start failure is not the request's failure: the input is saved and retried,
        // and its view says why it does not run.
        sup.reconcile()?;
        Ok(i)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(find_input(&app, created.id).await?),
    ))
}

async fn update_input(
    State(app): State<Arc<AppState>>,
    Path(id): Path<u32>,
    Body(patch): Body<InputPatch>,
) -> Result<Json<InputView>, ApiError> {
    let sup = app.supervisor.clone();
    blocking(move || {
        sup.store().update_input(id, patch)?;
        sup.reconcile()?;
        Ok(())
    })
    .await?;
    Ok(Json(find_input(&app, id).await?))
}

async fn delete_input(
    State(app): State<Arc<AppState>>,
    Path(id): Path<u32>,
) -> Result<StatusCode, ApiError> {
    let sup = app.supervisor.clone();
    blocking(move || {
        sup.store().remove_input(id)?;
        sup.reconcile()?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_settings(State(app): State<Arc<AppState>>) -> Result<Json<Settings>, ApiError> {
    let sup = app.supervisor.clone();
    Ok(Json(blocking(move || Ok(sup.store().settings()?)).await?))
}

async fn put_settings(
    State(app): State<Arc<AppState>>,
    Body(settings): Body<Settings>,
) -> Result<Json<Settings>, ApiError> {
    let sup = app.supervisor.clone();
    Ok(Json(
        blocking(move || {
            sup.store().set_settings(&settings)?;
            sup.reconcile()?;
            Ok(sup.store().settings()?)
        })
        .await?,
    ))
}
