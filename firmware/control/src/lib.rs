//! The control plane: what the configuration says, made to run.
//!
//! The [`Supervisor`] owns one pipeline per enabled input and keeps each pipeline's channels
//! in line with the store: after every change it compares what should run with what runs
//! and sends only the difference, so editing one channel never disturbs another. It also
//! creates channels for services discovered on inputs that ask for it, and answers the API
//! with views that join configuration and live state. [`sap`] announces the channels.

#![forbid(unsafe_code)]

pub mod epg;
mod lineup;
mod output;
pub mod sap;
pub mod scan;
mod scan_jobs;
mod streams;
mod supervisor;
pub mod tuners;
mod views;

pub use epg::{EpgService, EpgServiceStats, epg_channel_id};
pub use lineup::LineupEntry;
pub use output::{protocol, send_options, stream_url};
pub use scan_jobs::{ScanJobView, ScanOptions, StartScanError};
pub use streams::{Off, StreamError};
pub use supervisor::{Supervisor, SupervisorOptions};
pub use views::{ChannelStatus, ChannelView, InputView, TunerView};
