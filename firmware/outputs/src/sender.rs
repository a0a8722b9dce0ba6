//! Sending channels' datagrams when they are due.
//!
//! Every tick of its pipeline thread, [`Sender::send_due`] looks at each channel's queue,
//! takes the datagrams whose PCR deadline has come (or more, if a queue is filling up
//! because the input outruns its own clock), stamps RTP headers in place, and hands them to
//! the kernel in `sendmmsg` batches of up to 64 datagrams that span all channels sharing a
//! socket. Nothing is copied: the iovecs point into the queues.

use dvbgate_net::socket::{self, SendOptions, SocketError};
use dvbgate_net::{Protocol, rtp};
use dvbgate_remux::datagram::HEADER_ROOM;
use dvbgate_remux::{ChannelKey, ServiceRemuxer};
use dvbgate_ts::timing::MuxClock;
use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use socket2::Socket;
use std::collections::HashMap;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// Datagrams per `sendmmsg`.
const BATCH: usize = 64;

/// Where and how one channel is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub address: SocketAddr,
    pub protocol: Protocol,
    pub send: SendOptions,
}

/// Counters of one output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutputCounters {
    pub datagrams: u64,
    pub bytes: u64,
    /// Datagrams the kernel refused (unreachable unicast receiver, no route...).
    pub send_errors: u64,
    /// Datagrams lost because the queue overflowed.
    pub dropped: u64,
}

struct Output {
    spec: OutputSpec,
    socket: usize,
    destination: SockaddrStorage,
    sequence: u16,
    ssrc: u32,
    counters: OutputCounters,
    last_error: Option<String>,
}

/// One datagram queue's share of a tick.
#[derive(Clone, Copy, Debug, Default)]
struct Planned {
    channel: usize,
    socket: usize,
    skip: usize,
    due: usize,
    /// Sent, or refused by the kernel: either way gone from the queue.
    done: usize,
    failed: usize,
    bytes: u64,
}

/// See the module docs. Lives on its pipeline thread (the batch headers are not `Send`).
pub struct Sender {
    sockets: Vec<(SendOptions, Socket)>,
    outputs: HashMap<ChannelKey, Output>,
    headers: MultiHeaders<SockaddrStorage>,
    plan: Vec<Planned>,
    /// Seed for RTP synchronisation sources, distinct per output.
    next_ssrc: u32,
}

impl Default for Sender {
    fn default() -> Self {
        Self::new()
    }
}

impl Sender {
    pub fn new() -> Self {
        Sender {
            sockets: Vec::new(),
            outputs: HashMap::new(),
            headers: MultiHeaders::preallocate(BATCH, None),
            plan: Vec::new(),
            next_ssrc: std::process::id().wrapping_mul(0x9E37_79B9),
        }
    }

    /// Sets (or moves) a channel's output. Sockets are shared by outputs with equal options.
    pub fn set_output(&mut self, key: ChannelKey, spec: OutputSpec) -> Result<(), SocketError> {
        if self.outputs.get(&key).is_some_and(|o| o.spec == spec) {
            return Ok(());
        }
        let socket = match self.sockets.iter().position(|(o, _)| *o == spec.send) {
            Some(i) => i,
            None => {
                self.sockets
                    .push((spec.send.clone(), socket::sender(&spec.send)?));
                self.sockets.len() - 1
            }
        };
        self.next_ssrc = self
            .next_ssrc
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12_345);
        let (counters, sequence) = self
            .outputs
            .get(&key)
            .map_or((OutputCounters::default(), 0), |o| (o.counters, o.sequence));
        self.outputs.insert(
            key,
            Output {
                destination: SockaddrStorage::from(spec.address),
                spec,
                socket,
                sequence,
                ssrc: self.next_ssrc,
                counters,
                last_error: None,
            },
        );
        self.close_unused_sockets();
        Ok(())
    }

    pub fn remove_output(&mut self, key: ChannelKey) {
        self.outputs.remove(&key);
        self.close_unused_sockets();
    }

    fn close_unused_sockets(&mut self) {
        let mut i = 0;
        while i < self.sockets.len() {
            if self.outputs.values().any(|o| o.socket == i) {
                i += 1;
                continue;
            }
            self.sockets.swap_remove(i);
            let moved = self.sockets.len();
            for o in self.outputs.values_mut().filter(|o| o.socket == moved) {
                o.socket = i;
            }
        }
    }

    pub fn counters(&self, key: ChannelKey) -> Option<OutputCounters> {
        self.outputs.get(&key).map(|o| o.counters)
    }

    /// The last error the kernel gave for this output, taken (so each is reported once).
    pub fn take_error(&mut self, key: ChannelKey) -> Option<String> {
        self.outputs.get_mut(&key).and_then(|o| o.last_error.take())
    }

    /// Sends what is due at `now_ns` (plus `slack_ns`, the tick's granularity).
    pub fn send_due(
        &mut self,
        clock: &MuxClock,
        channels: &mut [(ChannelKey, ServiceRemuxer)],
        now_ns: i64,
        slack_ns: i64,
    ) {
        self.plan_and_stamp(clock, channels, now_ns, slack_ns);
        if self.plan.is_empty() {
            return;
        }
        for socket in 0..self.sockets.len() {
            self.send_socket(socket, channels);
        }
        for p in &self.plan {
            let (key, ch) = &mut channels[p.channel];
            ch.ring_mut().pop_front(p.done);
            if let Some(o) = self.outputs.get_mut(key) {
                o.counters.datagrams += (p.done - p.failed) as u64;
                o.counters.bytes += p.bytes;
                o.counters.send_errors += p.failed as u64;
            }
        }
    }

    /// Pass 1: how many datagrams each queue sends now; their RTP headers written.
    fn plan_and_stamp(
        &mut self,
        clock: &MuxClock,
        channels: &mut [(ChannelKey, ServiceRemuxer)],
        now_ns: i64,
        slack_ns: i64,
    ) {
        self.plan.clear();
        for (index, (key, ch)) in channels.iter_mut().enumerate() {
            let ring = ch.ring_mut();
            let Some(out) = self.outputs.get_mut(key) else {
                // No output (disabled channel): nothing waits for these datagrams.
                let n = ring.len();
                ring.pop_front(n);
                continue;
            };
            out.counters.dropped = ring.overflows();
            // A queue over half full means the input runs ahead of its PCRs: send anyway
            // rather than lose datagrams.
            let must = ring.len().saturating_sub(ring.capacity() / 2);
            let mut due = 0;
            for (info, _) in ring.front(ring.len()) {
                let on_time = clock
                    .deadline(info.last_position, info.first_arrival_ns, now_ns)
                    .is_some_and(|d| d <= now_ns + slack_ns);
                if !on_time && due >= must {
                    break;
                }
                due += 1;
            }
            if due == 0 {
                continue;
            }
            let skip = match out.spec.protocol {
                Protocol::Rtp => {
                    let timestamp = (now_ns.max(0) as u128 * 9 / 100_000) as u32;
                    for (_, slot) in ring.front_mut(due) {
                        let header: &mut [u8; rtp::HEADER_LEN] = (&mut slot[..rtp::HEADER_LEN])
                            .try_into()
                            .expect("slots start with header room");
                        rtp::write_header(header, out.sequence, timestamp, out.ssrc);
                        out.sequence = out.sequence.wrapping_add(1);
                    }
                    HEADER_ROOM - rtp::HEADER_LEN
                }
                Protocol::Udp => HEADER_ROOM,
            };
            self.plan.push(Planned {
                channel: index,
                socket: out.socket,
                skip,
                due,
                ..Planned::default()
            });
        }
    }

    /// Pass 2: the datagrams planned for one socket, in batches.
    fn send_socket(&mut self, socket: usize, channels: &[(ChannelKey, ServiceRemuxer)]) {
        let fd = self.sockets[socket].1.as_raw_fd();
        let mut iovs: [[IoSlice<'_>; 1]; BATCH] = [[IoSlice::new(&[])]; BATCH];
        let mut addrs: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
        let mut owner = [0usize; BATCH];
        let mut fill = 0;
        for p in 0..self.plan.len() {
            let planned = self.plan[p];
            if planned.socket != socket {
                continue;
            }
            let (key, ch) = &channels[planned.channel];
            let Some(destination) = self.outputs.get(key).map(|o| o.destination) else {
                continue;
            };
            for (_, slot) in ch.ring().front(planned.due) {
                iovs[fill] = [IoSlice::new(&slot[planned.skip..])];
                addrs[fill] = Some(destination);
                owner[fill] = p;
                fill += 1;
                if fill == BATCH {
                    if !flush(
                        fd,
                        &mut self.headers,
                        &iovs,
                        &addrs,
                        &owner,
                        fill,
                        &mut self.plan,
                        &mut self.outputs,
                        channels,
                    ) {
                        return; // the socket is full: the rest waits for the next tick
                    }
                    fill = 0;
                }
            }
        }
        if fill > 0 {
            flush(
                fd,
                &mut self.headers,
                &iovs,
                &addrs,
                &owner,
                fill,
                &mut self.plan,
                &mut self.outputs,
                channels,
            );
        }
    }
}

/// Sends `iovs[..fill]`; returns false if the socket would block.
#[allow(clippy::too_many_arguments)]
fn flush(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    iovs: &[[IoSlice<'_>; 1]; BATCH],
    addrs: &[Option<SockaddrStorage>; BATCH],
    owner: &[usize; BATCH],
    fill: usize,
    plan: &mut [Planned],
    outputs: &mut HashMap<ChannelKey, Output>,
    channels: &[(ChannelKey, ServiceRemuxer)],
) -> bool {
    let mut start = 0;
    while start < fill {
        let no_control: [ControlMessage<'_>; 0] = [];
        let result = sendmmsg(
            fd,
            headers,
            &iovs[start..fill],
            &addrs[start..fill],
            no_control,
            MsgFlags::MSG_DONTWAIT,
        )
        .map(|r| r.count());
        match result {
            Ok(0) => return false,
            Ok(sent) => {
                for k in start..start + sent {
                    let p = &mut plan[owner[k]];
                    p.done += 1;
                    p.bytes += iovs[k][0].len() as u64;
                }
                start += sent;
            }
            Err(Errno::EAGAIN | Errno::ENOBUFS) => return false,
            Err(Errno::EINTR) => {}
            Err(e) => {
                // The first datagram of the batch was refused: count it and move on, so one
                // unreachable receiver cannot hold up the others.
                let p = &mut plan[owner[start]];
                p.done += 1;
                p.failed += 1;
                let key = channels[p.channel].0;
                if let Some(o) = outputs.get_mut(&key) {
                    o.last_error = Some(format!("sending to {} failed: {e}", o.spec.address));
                }
                start += 1;
            }
        }
    }
    true
}
