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
//! Administration of XC users, categories and the guide: `admin`.
//!
//! Until administrator login exists, changes are accepted only from the box itself
//! (loopback), and so are the XC accounts (`/api/v1/users*`, reads included); the
//! read-only lineup stays open on the LAN because TVs and apps need it, and XC clients
//! may POST their logins.
//! Every request is bounded: 64 KiB of body, 10 s to send headers, 15 s in all.

#![forbid(unsafe_code)]

mod admin;
mod app;
pub mod auth;
mod cache;
mod error;
mod hdhomerun;
mod lineup;
pub mod monitor;
mod routes;
mod server;
mod streaming;
mod web;
mod xc;

pub use app::{AppOptions, AppState, RebootAction};
pub use monitor::{LogBook, start_background};
pub use routes::router;
pub use server::{ServerLimits, serve};
