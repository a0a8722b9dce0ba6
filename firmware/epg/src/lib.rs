//! The programme guide (EPG).
//!
//! Broadcasters send their guide in the Event Information Table (EIT, ETSI EN 300 468
//! §5.2.4): present/following (what is on now and next, table ids 0x4E/0x4F) and the
//! schedule (up to 8 days ahead, 0x50–0x6F), for their own multiplex ("actual") and often
//! for others ("other"). This crate turns EIT sections into [`Event`]s, keeps them per
//! service in a bounded in-memory [`Epg`], and writes and reads XMLTV. It does no I/O: the
//! control plane feeds it sections, saves its snapshots and serves what it holds.
//!
//! Times are Unix seconds (UTC) throughout; formatting for a time zone is the caller's.

#![forbid(unsafe_code)]

pub mod eit;
pub mod event;
pub mod store;
pub mod xmltv;

pub use event::{Event, Rating, ServiceKey};
pub use store::{Epg, EpgError, EpgLimits, EpgStats, IngestOptions, IngestOutcome};
