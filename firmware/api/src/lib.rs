//! The HTTP control plane.
//!
//! `GET /healthz`, `GET /api/v1/channels[/{number}]`, `GET /api/v1/inputs[/{id}]`,
//! `GET /api/v1/settings`, and the changes: `POST`, `PATCH`, `DELETE` on channels and
//! inputs, `PUT` on settings. Errors are JSON: `{"error": "..."}` with a status that says
//! what kind (404 unknown, 409 conflict, 422 invalid, 503 storage trouble).
//!
//! For TVs, apps and media servers: HLS and HTTP TS (`streaming`), the Xtream-Codes API
//! with its per-user logins (`xc`: `player_api.php`, `get.php`, `xmltv.php`, `/live/…`),
//! the multicast M3U and `/epg.xml` (`lineup`), and an HDHomeRun tuner (`hdhomerun`).
//! Administration of XC users, categories, the guide and channels in bulk: `admin`;
//! backup and restore: `backup`; network interfaces, reboot, factory reset: `system`.
//!
//! Everything that shows or changes the configuration needs the administrator
//! ([`auth`]): a session cookie from `POST /api/v1/session` (with its CSRF token on
//! changes), or the local API token (`Authorization: Bearer`, from
//! `<data dir>/api-token`), whatever address the request comes from; anything else is
//! 401. Open on the LAN, because TVs, apps and media servers need them and have their
//! own logins where any: the lineup (channels, M3U, CSV, `/epg.xml`), HLS and HTTP TS,
//! the XC API, the HDHomeRun emulation, `/healthz`, the web page and the login routes.
//! A route is the administrator's unless the router puts it in the open set
//! (`routes::router`).
//! Every request is bounded: 64 KiB of body (4 MiB for a restore), 10 s to send
//! headers, 15 s in all.

#![forbid(unsafe_code)]

mod admin;
mod app;
pub mod auth;
mod backup;
mod cache;
mod error;
mod hdhomerun;
mod lineup;
pub mod monitor;
mod routes;
mod server;
mod streaming;
mod system;
mod web;
mod xc;

pub use app::{AppOptions, AppState, RebootAction};
pub use monitor::{LogBook, start_background};
pub use routes::router;
pub use server::{ServerLimits, serve};
