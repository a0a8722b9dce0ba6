//! Backup and restore of the whole configuration (administrator only).
//!
//! - `GET /api/v1/backup`: the store's [`Backup`] (settings, inputs, channels,
//!   categories, XC users with their password hashes, tuner settings, scan records;
//!   never the administrator password) as a download, `Content-Disposition: attachment;
//!   filename="dvbgate-backup-YYYYMMDD.json"` (the box's local date).
//! - `POST /api/v1/restore` with such a document (up to [`MAX_BACKUP`], on this route
//!   only): checked as a whole by the store before any record is replaced, then the
//!   pipelines follow the new configuration. 200 `{"restored": {"inputs": n,
//!   "channels": n, "users": n, "categories": n, "tuners": n, "scans": n}}`; anything
//!   that is not a valid backup, JSON or not, is 422 with what is wrong, and nothing
//!   changes. The administrator password and sessions stay.

use crate::auth::Peer;
use crate::error::ApiError;
use crate::routes::{Gateway, blocking};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use dvbgate_store::Backup;
use std::sync::Arc;
use tracing::{info, warn};

/// The largest backup `POST /api/v1/restore` takes.
pub(crate) const MAX_BACKUP: usize = 4 << 20;

/// `GET /api/v1/backup`.
pub(crate) async fn download(
    State(app): State<Arc<crate::app::AppState>>,
    Peer(ip): Peer,
) -> Result<Response, ApiError> {
    let sup = app.supervisor.clone();
    let backup = blocking(move || Ok(sup.store().backup()?)).await?;
    let body = serde_json::to_vec_pretty(&backup).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the backup: {e}"),
        )
    })?;
    let date = jiff::Zoned::now().strftime("%Y%m%d").to_string();
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"dvbgate-backup-{date}.json\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    info!(
        inputs = backup.inputs.len(),
        channels = backup.channels.len(),
        users = backup.users.len(),
        %ip,
        "backup downloaded"
    );
    Ok(response)
}

/// `POST /api/v1/restore`.
pub(crate) async fn restore(
    State(gw): State<Arc<Gateway>>,
    Peer(ip): Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.map_err(|e| {
        let message = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            format!("a backup is at most {} MiB", MAX_BACKUP >> 20)
        } else {
            e.body_text()
        };
        ApiError::new(e.status(), message)
    })?;
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    // Not through `Json`: its 400 for broken JSON would say less than "not a backup",
    // and a file picked in a browser may come without a JSON content type.
    let backup: Backup = serde_json::from_slice(&body).map_err(|e| {
        warn!(%ip, "restore refused: not a dvbgate backup ({e})");
        unprocessable(format!("not a dvbgate backup: {e}"))
    })?;
    let sup = gw.app.supervisor.clone();
    let summary = blocking(move || {
        let summary = sup.store().restore(&backup).map_err(|e| {
            warn!(%ip, "restore refused: {e}");
            ApiError::from(e)
        })?;
        // The configuration is in; pipelines that cannot start say so in their views.
        sup.refresh_tuners()?;
        sup.reconcile()?;
        Ok(summary)
    })
    .await?;
    gw.xc.users_changed(None);
    gw.lineup.invalidate();
    info!(
        inputs = summary.inputs,
        channels = summary.channels,
        users = summary.users,
        categories = summary.categories,
        tuners = summary.tuners,
        %ip,
        "configuration restored from a backup"
    );
    Ok(Json(serde_json::json!({ "restored": summary })))
}
