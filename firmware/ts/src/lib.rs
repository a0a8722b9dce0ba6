//! MPEG transport streams and DVB service information, with no I/O.
//!
//! Layers, bottom up:
//! - [`reader`]: bytes to 188-byte packets (sync, resync, 188/192/204 framings);
//! - [`packet`]: header fields, PCR, the few in-place rewrites a remuxer needs;
//! - [`section`]: PSI/SI sections reassembled across packets, CRC-checked;
//! - [`tables`], [`descriptor`], [`delivery`], [`text`]: PAT, CAT, PMT, NIT, BAT, SDT, EIT,
//!   TDT/TOT parsed and built, descriptor loops (delivery systems, channel numbers), DVB
//!   strings;
//! - [`write`]: building sections and packetizing them with continuity counters;
//! - [`stats`], [`mux`], [`monitor`]: per-PID counters and a model of the multiplex that
//!   follows table versions;
//! - [`timing`]: stream time from PCRs, for real-time playback and pacing;
//! - [`analyze`]: a full report on a multiplex (probe, tests).
//!
//! Nothing here allocates per packet: tables are parsed only when their CRC changes.
//! mpeg2ts-reader is used for packet and PAT parsing and for the CRC; what it lacks (DVB SI,
//! rewriting, counting errors instead of logging them) is here.

#![forbid(unsafe_code)]

pub mod analyze;
pub mod delivery;
pub mod descriptor;
pub mod monitor;
pub mod mux;
pub mod packet;
pub mod reader;
pub mod section;
pub mod stats;
pub mod tables;
pub mod text;
pub mod timing;
pub mod write;

pub use packet::{PACKET_SIZE, RawPacket};
