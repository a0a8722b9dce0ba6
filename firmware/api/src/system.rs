//! The box itself (administrator only):
//!
//! - `GET /api/v1/system/interfaces`: `[{"name": "eth0", "addresses": ["192.168.1.2",
//!   "fe80::…"], "multicast": true}]`, the network interfaces in the kernel's order,
//!   for the page's interface pickers (multicast output, inputs).
//! - `POST /api/v1/system/reboot`: 202 `{"action": "reboot" | "restart-pipelines"}`;
//!   then, once the answer is on its way, the daemon's [`RebootAction`]: run the reboot
//!   command (the box), or stop every pipeline and start again what the configuration
//!   asks for (the demo, and boxes the daemon may not reboot).
//! - `POST /api/v1/system/factory-reset` `{"confirm": "factory reset"}`: 202; every
//!   record goes (inputs, channels, users, categories, settings, the administrator
//!   password), pipelines stop, every session ends, and a new setup code is printed
//!   (`setup code: XXXX-XXXX-XXXX`). Without the exact confirmation: 422, nothing
//!   changes. The API token stays valid (it is the process's, not the store's).

use crate::app::{AppState, RebootAction};
use crate::auth::Peer;
use crate::error::ApiError;
use crate::routes::{Gateway, blocking};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

/// What the factory reset wants typed, so that no stray request wipes a hotel's setup.
pub(crate) const RESET_CONFIRMATION: &str = "factory reset";
/// The reboot waits this long, so that its 202 reaches the page first.
const ANSWER_FIRST: Duration = Duration::from_millis(300);

#[derive(Serialize, Debug, PartialEq, Eq)]
pub(crate) struct Interface {
    name: String,
    addresses: Vec<String>,
    multicast: bool,
}

/// `GET /api/v1/system/interfaces`.
pub(crate) async fn interfaces() -> Result<Json<Vec<Interface>>, ApiError> {
    blocking(|| {
        list_interfaces().map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot list the network interfaces: {e}"),
            )
        })
    })
    .await
    .map(Json)
}

fn list_interfaces() -> nix::Result<Vec<Interface>> {
    use nix::net::if_::InterfaceFlags;
    let mut out: Vec<Interface> = Vec::new();
    for a in nix::ifaddrs::getifaddrs()? {
        let index = match out.iter().position(|i| i.name == a.interface_name) {
            Some(i) => i,
            None => {
                out.push(Interface {
                    name: a.interface_name.clone(),
                    addresses: Vec::new(),
                    multicast: false,
                });
                out.len() - 1
            }
        };
        let entry = &mut out[index];
        entry.multicast |= a.flags.contains(InterfaceFlags::IFF_MULTICAST);
        let ip = a.address.as_ref().and_then(|s| {
            s.as_sockaddr_in()
                .map(|v4| v4.ip().to_string())
                .or_else(|| s.as_sockaddr_in6().map(|v6| v6.ip().to_string()))
        });
        if let Some(ip) = ip
            && !entry.addresses.contains(&ip)
        {
            entry.addresses.push(ip);
        }
    }
    Ok(out)
}

/// `POST /api/v1/system/reboot`.
pub(crate) async fn reboot(
    State(app): State<Arc<AppState>>,
    Peer(ip): Peer,
) -> Result<Response, ApiError> {
    let action = app.options.reboot.clone();
    let word = match &action {
        RebootAction::Command(argv) if argv.is_empty() => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no reboot command is configured",
            ));
        }
        RebootAction::Command(_) => "reboot",
        RebootAction::RestartPipelines => "restart-pipelines",
    };
    warn!(action = word, %ip, "the administrator asked for a reboot");
    let sup = app.supervisor.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ANSWER_FIRST).await;
        let outcome = tokio::task::spawn_blocking(move || match action {
            RebootAction::Command(argv) => {
                info!(command = ?argv, "rebooting");
                match std::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .status()
                {
                    Ok(status) if status.success() => {}
                    Ok(status) => error!(command = ?argv, "the reboot command failed: {status}"),
                    Err(e) => error!(command = ?argv, "cannot run the reboot command: {e}"),
                }
            }
            RebootAction::RestartPipelines => match sup.restart_pipelines() {
                Ok(failures) => info!(
                    not_started = failures.len(),
                    "every pipeline was stopped and started again"
                ),
                Err(e) => error!("restarting the pipelines: {e}"),
            },
        })
        .await;
        if let Err(e) = outcome {
            error!("the reboot task failed: {e}");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "action": word })),
    )
        .into_response())
}

/// `POST /api/v1/system/factory-reset`.
pub(crate) async fn factory_reset(
    State(gw): State<Arc<Gateway>>,
    Peer(ip): Peer,
    body: Bytes,
) -> Result<Response, ApiError> {
    let confirmed = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v["confirm"] == RESET_CONFIRMATION);
    if !confirmed {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "a factory reset erases the whole configuration; to confirm, send {{\"confirm\": \"{RESET_CONFIRMATION}\"}}"
            ),
        ));
    }
    let app = Arc::clone(&gw.app);
    let _changing = app.admin.changing().lock().await;
    warn!(%ip, "factory reset: erasing the configuration");
    let sup = app.supervisor.clone();
    let reset = app.admin.begin_reset();
    blocking(move || {
        sup.store().factory_reset()?;
        sup.refresh_tuners()?;
        sup.reconcile()?;
        Ok(())
    })
    .await?;
    gw.xc.users_changed(None);
    gw.lineup.invalidate();
    reset.finish();
    let mut response = (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "setup_required": true })),
    )
        .into_response();
    // The caller's session ended with the others.
    crate::auth::clear_cookie(&mut response);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_with_its_address() {
        let all = list_interfaces().expect("getifaddrs");
        let lo = all.iter().find(|i| i.name == "lo").expect("lo exists");
        assert!(lo.addresses.iter().any(|a| a == "127.0.0.1"), "{lo:?}");
        let mut names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "one entry per interface");
    }
}
