//! A multiplex received over UDP or RTP: unicast, multicast or source-specific multicast, on
//! a chosen interface. Datagrams are taken in batches with `recvmmsg`, so a 40 Mbit/s
//! multiplex costs a few dozen system calls a second, not thousands.

use crate::{InputError, InputOptions, InputSink, MuxInput, SourceStats};
use dvbgate_net::{Protocol, StreamUrl, rtp, socket};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use std::io::IoSliceMut;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Datagrams per `recvmmsg`.
const BATCH: usize = 64;
/// Bytes per receive slot: a 7-packet datagram with an RTP header is 1328; some senders
/// use up to ten 204-byte packets. Longer datagrams are cut and counted.
const SLOT: usize = 2048;
/// Batches taken per poll, so one flooded input cannot starve the pacing of outputs.
const MAX_BATCHES_PER_POLL: usize = 32;

/// See the module docs.
pub struct UdpInput {
    url: StreamUrl,
    socket: socket2::Socket,
    headers: MultiHeaders<SockaddrStorage>,
    slots: Box<[u8]>,
    rtp: RtpTracker,
    stats: SourceStats,
}

/// Finds the transport stream in a datagram and counts RTP losses.
struct RtpTracker {
    protocol: Protocol,
    last_sequence: Option<u16>,
    lost: u64,
}

impl RtpTracker {
    /// The transport stream part of a datagram: whole for plain UDP, after the header for
    /// RTP. `udp://` inputs accept RTP too (detected per datagram): senders are often
    /// misconfigured, and a TS packet never starts with RTP's version bits.
    fn payload(&mut self, datagram: &[u8]) -> Range<usize> {
        if self.protocol == Protocol::Udp && datagram.first() == Some(&0x47) {
            return 0..datagram.len();
        }
        match rtp::parse(datagram) {
            Some(h) if datagram.get(h.payload_offset) == Some(&0x47) => {
                if let Some(last) = self.last_sequence {
                    let gap = h.sequence.wrapping_sub(last).wrapping_sub(1);
                    // A large "gap" is a restarted sender, not loss.
                    if gap > 0 && gap < 1000 {
                        self.lost += u64::from(gap);
                    }
                }
                self.last_sequence = Some(h.sequence);
                h.payload_offset..h.payload_end
            }
            // Not RTP after all: let the packet reader judge it.
            _ => 0..datagram.len(),
        }
    }
}

impl UdpInput {
    pub fn open(address: &str, options: &InputOptions) -> Result<UdpInput, InputError> {
        let url = StreamUrl::parse(address).map_err(|e| InputError::Open(e.to_string()))?;
        let socket = socket::receiver(&url, options.receive_buffer)
            .map_err(|e| InputError::Open(e.to_string()))?;
        Ok(UdpInput {
            rtp: RtpTracker {
                protocol: url.protocol,
                last_sequence: None,
                lost: 0,
            },
            url,
            socket,
            headers: MultiHeaders::preallocate(BATCH, None),
            slots: vec![0; BATCH * SLOT].into_boxed_slice(),
            stats: SourceStats::default(),
        })
    }
}

impl MuxInput for UdpInput {
    fn poll(&mut self, _now: Instant, sink: &mut dyn InputSink) -> Result<usize, InputError> {
        let mut delivered = 0;
        for _ in 0..MAX_BATCHES_PER_POLL {
            let mut lengths = [0usize; BATCH];
            let mut received = 0;
            {
                let mut free = self.slots.chunks_mut(SLOT);
                let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                    std::array::from_fn(|_| [IoSliceMut::new(free.next().expect("BATCH slots"))]);
                match recvmmsg(
                    self.socket.as_raw_fd(),
                    &mut self.headers,
                    iovs.iter_mut(),
                    MsgFlags::MSG_DONTWAIT,
                    None,
                ) {
                    Ok(results) => {
                        for (i, r) in results.enumerate() {
                            lengths[i] = r.bytes;
                            if r.flags.contains(MsgFlags::MSG_TRUNC) {
                                self.stats.truncated_datagrams += 1;
                            }
                            received += 1;
                        }
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(e) => {
                        self.stats.read_errors += 1;
                        return Err(InputError::Read(format!(
                            "{}: receive failed: {e}",
                            self.url
                        )));
                    }
                }
            }
            for (i, &len) in lengths.iter().enumerate().take(received) {
                let datagram = &self.slots[i * SLOT..i * SLOT + len];
                let payload = self.rtp.payload(datagram);
                delivered += payload.len();
                sink.data(&datagram[payload]);
            }
            self.stats.datagrams += received as u64;
            if received < BATCH {
                break;
            }
        }
        self.stats.bytes += delivered as u64;
        Ok(delivered)
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            rtp_lost: self.rtp.lost,
            ..self.stats
        }
    }

    fn describe(&self) -> String {
        self.url.to_string()
    }
}
