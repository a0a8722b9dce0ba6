//! HLS segmenting of one channel's single-program transport stream, with no I/O: packets
//! and wall-clock times come in as arguments, segments and playlist text go out.
//!
//! ```text
//!  SPTS packets ──▶ Segmenter ──Segment──▶ Window ──▶ media playlist (index.m3u8)
//!  (+ wall ms)        │                       │         master playlist (BANDWIDTH, CODECS)
//!                     │ in_progress(),        └──▶ get(sequence): segment bytes
//!                     │ last_output(): the same bytes, live (HTTP TS fan-out)
//!                     └ codecs(), stats()
//! ```
//!
//! - [`Segmenter`] (one per channel) follows the PAT and PMT, cuts at random access points
//!   of the video (or, for radio, every target duration at an audio PES start), writes a
//!   PAT and PMT at the head of every segment, measures durations from PTS and marks
//!   discontinuities. [`Segmenter::push`] returns each [`Segment`] as it is finished;
//!   [`Segmenter::finish`] returns the last, partial one.
//! - [`Window`] (one per channel, owned by the caller) keeps the newest segments and
//!   renders the live playlists (`EXT-X-MEDIA-SEQUENCE`, `EXT-X-DISCONTINUITY-SEQUENCE`,
//!   `EXT-X-PROGRAM-DATE-TIME`, a target duration that never decreases). It reports what it
//!   lets go of, and can give up its oldest segment on demand, for a global memory budget.
//! - [`scan`] finds random access points in H.264, HEVC and MPEG-2 video; [`codecs`] names
//!   formats for `CODECS`; [`pes`] reads PES headers and 90 kHz time.
//!
//! Media sequence numbers come from the caller (`first_sequence`), so a channel that
//! restarts can continue upwards (e.g. from the wall clock divided by the target).
//!
//! Nothing here allocates per packet: a channel's one working buffer is allocated per
//! segment, sized from the last (so an idle channel does not keep two), and a segment's
//! bytes are copied once into the [`bytes::Bytes`] handed out (cheap to clone into the
//! window and into HTTP responses).

#![forbid(unsafe_code)]

pub mod codecs;
#[doc(hidden)]
pub mod fuzzing;
pub mod pes;
pub mod scan;
pub mod segmenter;
pub mod window;

pub use segmenter::{ConfigError, Segment, Segmenter, SegmenterConfig, SegmenterStats};
pub use window::{Window, WindowConfig, WindowError};
