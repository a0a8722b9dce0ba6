//! Network plumbing shared by inputs and outputs.
//!
//! - [`url`]: `udp://` and `rtp://` stream addresses in the form VLC and dvblast users know;
//! - [`iface`]: interface names to indexes and addresses;
//! - [`socket`]: UDP sockets set up for receiving (joins, SSM, buffers) and sending (TTL,
//!   DSCP, outgoing interface);
//! - [`rtp`]: the RFC 3550 fixed header, read and written.

#![forbid(unsafe_code)]

pub mod iface;
pub mod rtp;
pub mod socket;
pub mod url;

pub use url::{Protocol, StreamUrl};
