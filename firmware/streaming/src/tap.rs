//! The pipeline thread's end of a stream.

use crate::stream::ChannelStream;
use bytes::{Bytes, BytesMut};
use dvbgate_hls::{ConfigError, Segmenter};
use dvbgate_outputs::ChannelTap;
use dvbgate_ts::{PACKET_SIZE, RawPacket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Segments a channel's paced stream into its [`ChannelStream`]'s window and hands the
/// same bytes to its HTTP clients. Per packet it only segments (and copies into the
/// clients' chunk when there are clients); allocations happen per segment and per chunk.
pub struct StreamTap {
    stream: Arc<ChannelStream>,
    segmenter: Segmenter,
    clients: Vec<mpsc::Sender<Bytes>>,
    /// Output bytes gathered for the clients since the last chunk left.
    pending: BytesMut,
    last_chunk: Instant,
    /// Wall time of this send pass (read once per pass, not per packet).
    wall_ms: Option<i64>,
    published: u64,
}

impl StreamTap {
    pub(crate) fn new(
        stream: Arc<ChannelStream>,
        first_sequence: u64,
    ) -> Result<Self, ConfigError> {
        let segmenter = Segmenter::new(stream.options().segment.clone(), first_sequence)?;
        let chunk = stream.options().chunk_bytes;
        Ok(StreamTap {
            stream,
            segmenter,
            clients: Vec::new(),
            pending: BytesMut::with_capacity(chunk + 7 * PACKET_SIZE),
            last_chunk: Instant::now(),
            wall_ms: None,
            published: 0,
        })
    }

    /// Feeds one packet (public for tests and benchmarks; the pipeline calls
    /// [`ChannelTap::datagram`]).
    pub fn packet(&mut self, packet: &RawPacket, wall_ms: i64) {
        let segment = self.segmenter.push(packet, wall_ms);
        if !self.clients.is_empty() {
            self.pending.extend_from_slice(self.segmenter.last_output());
        }
        if let Some(segment) = segment {
            self.publish(segment);
        }
    }

    fn publish(&mut self, segment: dvbgate_hls::Segment) {
        self.stream.publish(
            segment,
            self.published == 0,
            self.segmenter.codecs(),
            self.segmenter.stats(),
        );
        self.published += 1;
    }

    /// Sends what gathered to every client; a client whose queue is full is dropped.
    fn send_chunk(&mut self) {
        self.last_chunk = Instant::now();
        if self.pending.is_empty() {
            return;
        }
        let chunk = self.pending.split().freeze();
        self.pending
            .reserve(self.stream.options().chunk_bytes + 7 * PACKET_SIZE);
        let stream = &self.stream;
        self.clients
            .retain(|client| match client.try_send(chunk.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    stream.touch();
                    stream.http_clients_dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(stream = %stream.label(), "an HTTP client fell behind: dropped");
                    false
                }
                Err(TrySendError::Closed(_)) => {
                    // A viewer leaving is activity: the idle time counts from now, so a
                    // player that reconnects soon finds its channel (and tuner) still there.
                    stream.touch();
                    false
                }
            });
        self.stream
            .http_clients
            .store(self.clients.len(), Ordering::Relaxed);
    }

    /// Takes on clients that asked to join: each gets the segment being built so far
    /// (PAT, PMT, a keyframe and what followed), then the live stream from here on.
    fn take_joiners(&mut self) {
        // What gathered before they came belongs to the clients already there.
        self.send_chunk();
        let joiners = self.stream.take_joiners();
        let head = self.segmenter.in_progress();
        let head = (!head.is_empty()).then(|| Bytes::copy_from_slice(head));
        for joiner in joiners {
            if let Some(head) = &head
                && joiner.try_send(head.clone()).is_err()
            {
                continue; // gone already
            }
            self.clients.push(joiner);
        }
        self.stream
            .http_clients
            .store(self.clients.len(), Ordering::Relaxed);
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ChannelTap for StreamTap {
    fn datagram(&mut self, packets: &[u8]) {
        let wall_ms = *self.wall_ms.get_or_insert_with(unix_ms);
        for packet in packets.chunks_exact(PACKET_SIZE) {
            let packet: &RawPacket = packet.try_into().expect("chunks_exact gives whole packets");
            self.packet(packet, wall_ms);
        }
    }

    fn end_of_pass(&mut self) {
        self.wall_ms = None;
        if self.stream.has_joiners.load(Ordering::Acquire) {
            self.take_joiners();
        }
        if !self.pending.is_empty()
            && (self.pending.len() >= self.stream.options().chunk_bytes
                || self.last_chunk.elapsed() >= self.stream.options().chunk_interval)
        {
            self.send_chunk();
        }
    }
}

impl Drop for StreamTap {
    /// The pipeline stopped or let go of the channel: the segment being built is kept
    /// (the window goes on from it when a new tap starts), the clients' streams end.
    fn drop(&mut self) {
        while let Some(segment) = self.segmenter.finish() {
            self.publish(segment);
        }
        self.send_chunk();
        self.clients.clear();
        self.stream.http_clients.store(0, Ordering::Relaxed);
    }
}
