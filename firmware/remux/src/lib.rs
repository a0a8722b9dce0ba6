//! Remultiplexing: one input multiplex (MPTS) in, one single-program transport stream
//! (SPTS) per channel out, already packed into datagram-sized slots. No I/O: the pipeline
//! crate feeds bytes in and hands the slots to sockets.
//!
//! - [`demux`]: per packet, route to channels; on table changes, update them;
//! - [`service`]: one channel's rewritten tables and passed streams;
//! - [`datagram`]: the fixed ring of datagram slots between remuxer and sender.

#![forbid(unsafe_code)]

pub mod datagram;
pub mod demux;
#[doc(hidden)]
pub mod fuzzing;
pub mod service;
#[doc(hidden)]
pub mod synth;

pub use datagram::DatagramRing;
pub use demux::{ChannelKey, Demux};
pub use service::{ChannelSpec, EsFilter, ServiceRemuxer, ServiceState};
