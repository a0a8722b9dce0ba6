//! The hot path: one dedicated thread per input multiplex.
//!
//! ```text
//!  input.poll() ──bytes──▶ Demux ──datagram slots──▶ Sender ──sendmmsg──▶ network
//!        ▲                  │ (remux per channel)      ▲ (PCR deadlines)
//!        └──── tick (2 ms) ─┴──────────────────────────┘
//! ```
//!
//! The thread wakes every tick, takes what the input has (a file: what is due; a socket:
//! what arrived), remuxes it, and sends what the PCR clock says is due. Nothing on this
//! path allocates per packet or takes a lock; the control plane (tokio) talks to the thread
//! through a command queue and reads a [`Snapshot`] the thread publishes four times a
//! second. An input that fails is reopened with backoff; the thread never exits on bad
//! data.

#![forbid(unsafe_code)]

mod snapshot;
mod thread;

pub use snapshot::{ChannelSnapshot, InputSnapshot, InputState, ServiceInfo, Snapshot, StreamInfo};
pub use thread::{ChannelSetup, Pipeline, PipelineConfig, StartError, Survey, Surveyor};
