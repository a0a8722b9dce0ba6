//! Outputs: where channels go.
//!
//! - [`sender`]: each channel's queued datagrams leave when the multiplex's PCR clock says
//!   they are due, stamped with an RTP header if wanted, in `sendmmsg` batches that span all
//!   channels sharing a socket (one socket per distinct interface/TTL/DSCP);
//! - [`sap`]: SAP/SDP announcements (RFC 2974, RFC 4566), so players list the channels.

#![forbid(unsafe_code)]

pub mod sap;
pub mod sender;

pub use sender::{ChannelTap, OutputCounters, OutputSpec, Sender, SenderStats};
