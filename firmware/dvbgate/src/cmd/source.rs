//! Reading what a technician names on the command line: a transport stream file, or a
//! stream (`udp://…`, `rtp://…`) listened to for a while. Shared by `probe` and `epg`.

use anyhow::{Context, bail};
use dvbgate_inputs::udp::UdpInput;
use dvbgate_inputs::{InputOptions, InputSink, MuxInput};
use std::io::Read;
use std::time::{Duration, Instant};

/// Feeds every byte of `target` to `sink`: a file to its end, a stream for `seconds`.
/// Returns how long a stream was listened to (None for a file). A stream that sent
/// nothing is an error.
pub fn read_target(
    target: &str,
    seconds: f64,
    sink: &mut impl InputSink,
) -> anyhow::Result<Option<f64>> {
    if target.starts_with("udp://") || target.starts_with("rtp://") {
        let mut input =
            UdpInput::open(target, &InputOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let start = Instant::now();
        let until = start + Duration::from_secs_f64(seconds.max(0.1));
        while Instant::now() < until {
            input
                .poll(Instant::now(), sink)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            std::thread::sleep(Duration::from_millis(5));
        }
        if input.stats().bytes == 0 {
            bail!("{target}: nothing received in {seconds:.1} s");
        }
        return Ok(Some(start.elapsed().as_secs_f64()));
    }
    let path = target.strip_prefix("file://").unwrap_or(target);
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {path}"))?;
        if n == 0 {
            return Ok(None);
        }
        sink.data(&buf[..n]);
    }
}
