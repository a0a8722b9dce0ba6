//! The HTTP control plane.
//!
//! `GET /healthz`, `GET /api/v1/channels[/{number}]`, `GET /api/v1/inputs[/{id}]`,
//! `GET /api/v1/settings`, and the changes: `POST`, `PATCH`, `DELETE` on channels and
//! inputs, `PUT` on settings. Errors are JSON: `{"error": "..."}` with a status that says
//! what kind (404 unknown, 409 conflict, 422 invalid, 503 storage trouble).
//!
//! Until administrator login exists, changes are accepted only from the box itself
//! (loopback); the read-only lineup stays open on the LAN because TVs and apps need it.
//! Every request is bounded: 64 KiB of body, 10 s to send headers, 15 s in all.

#![forbid(unsafe_code)]

mod admin;
mod cache;
mod error;
mod hdhomerun;
mod lineup;
mod routes;
mod server;
mod streaming;
mod xc;

pub use routes::{AppState, router};
pub use server::{ServerLimits, serve};
