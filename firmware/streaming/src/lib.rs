//! On-demand streaming of one channel to HTTP clients: an HLS window and HTTP TS fan-out.
//!
//! ```text
//!  pipeline thread                         │  HTTP server (tokio)
//!                                          │
//!  Sender ──paced datagrams──▶ StreamTap   │
//!                               │ Segmenter│
//!                               ├─Segment─▶ ChannelStream.window ◀── playlist / segment GETs
//!                               │          │        (Mutex, touched once per segment)
//!                               └─chunks──▶ per-client bounded queues ──▶ /stream/N.ts bodies
//!                                 (≤ 32 KiB or 50 ms)   full queue ⇒ that client is dropped
//! ```
//!
//! A [`ChannelStream`] is what the control plane keeps per channel being streamed; a
//! [`StreamTap`] is the part that lives on the pipeline thread (a
//! [`dvbgate_outputs::ChannelTap`]). A stream outlives its taps: when the pipeline restarts
//! (the input moved, a tuner came back), a new tap continues the same window and the same
//! media sequence, marked as a discontinuity.
//!
//! Memory is bounded twice: every channel's window counts against one [`Budget`] (a stream
//! over it gives up its oldest segments; a new stream that would not fit is refused), and
//! every HTTP client's queue holds a bounded number of chunks, shared between clients
//! (one allocation per chunk, whatever the number of clients).

#![forbid(unsafe_code)]

mod budget;
mod stream;
mod tap;

pub use budget::{Budget, BudgetFull};
pub use stream::{ChannelStream, HttpClient, StartError, StreamOptions, StreamStats};
pub use tap::StreamTap;
