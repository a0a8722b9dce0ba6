//! Options of HLS and HTTP streaming, shared by `demo` and `run`.

use clap::Args;
use dvbgate_control::SupervisorOptions;
use std::time::Duration;

#[derive(Args, Clone, Debug)]
pub struct StreamingArgs {
    /// HLS segment target duration in seconds (segments are cut at keyframes at or under it).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=10))]
    segment_seconds: u64,
    /// An HLS/HTTP stream with no request and no client for this long stops and frees its
    /// tuner.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    stream_idle_seconds: u64,
    /// Memory all HLS windows together may hold, in MiB (a channel at 4 Mbit/s with 4 s
    /// segments needs about 20 MiB); a channel that would not fit is refused with a 503.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(4..=4096))]
    stream_budget_mb: u64,
}

impl StreamingArgs {
    pub fn apply(&self, options: &mut SupervisorOptions) {
        options.streams.segment.target = Duration::from_secs(self.segment_seconds);
        options.stream_idle = Duration::from_secs(self.stream_idle_seconds);
        options.stream_budget = (self.stream_budget_mb as usize) << 20;
    }
}
