//! Sending channels' datagrams when they are due.
//!
//! Every tick of its pipeline thread, [`Sender::send_due`] looks at each channel's queue,
//! takes the datagrams whose PCR deadline has come (or more, if a queue is filling up
//! because the input outruns its own clock), stamps RTP headers in place, and hands them to
//! the kernel in `sendmmsg` batches of up to 64 datagrams that span all channels sharing a
//! socket. Nothing is copied: the iovecs point into the queues.
//!
//! A channel may also have a [`ChannelTap`] (HLS segmenting, HTTP clients): it sees the
//! same paced datagrams once they have left, or, for a channel streamed only on demand
//! (no output), when they would have left.

use dvbgate_net::socket::{self, SendOptions, SocketError};
use dvbgate_net::{Protocol, rtp};
use dvbgate_remux::datagram::HEADER_ROOM;
use dvbgate_remux::{ChannelKey, ServiceRemuxer};
use dvbgate_ts::PACKET_SIZE;
use dvbgate_ts::timing::MuxClock;
use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use socket2::Socket;
use std::collections::HashMap;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// Something that takes a channel's transport stream as it leaves, at the pace of the
/// multiplex's clock. Runs on the pipeline thread: it must not block, and should not
/// allocate per packet.
pub trait ChannelTap: Send {
    /// The TS packets of one datagram (a multiple of 188 bytes).
    fn datagram(&mut self, packets: &[u8]);
    /// Called once per send pass, after any datagrams: a place to hand on what a pass
    /// gathered.
    fn end_of_pass(&mut self);
}

/// A planned entry with no socket: a tapped channel without an output.
const NO_SOCKET: usize = usize::MAX;

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

/// What the sender asked of the kernel: how well batching works.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SenderStats {
    /// `sendmmsg` calls.
    pub calls: u64,
    /// Messages in them; with GSO one message carries a run of datagrams.
    pub messages: u64,
    pub datagrams: u64,
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

/// A socket shared by the outputs with equal options.
struct OutputSocket {
    options: SendOptions,
    socket: Socket,
    /// Whether the kernel takes UDP GSO on this socket (until it says otherwise).
    gso: bool,
}

/// See the module docs. Lives on its pipeline thread (the batch headers are not `Send`).
pub struct Sender {
    sockets: Vec<OutputSocket>,
    outputs: HashMap<ChannelKey, Output>,
    headers: MultiHeaders<SockaddrStorage>,
    /// The same, with room for a UDP_SEGMENT control message in each.
    headers_gso: MultiHeaders<SockaddrStorage>,
    plan: Vec<Planned>,
    taps: HashMap<ChannelKey, Box<dyn ChannelTap>>,
    /// Seed for RTP synchronisation sources, distinct per output.
    next_ssrc: u32,
    stats: SenderStats,
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
            headers_gso: MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(u16))),
            plan: Vec::new(),
            taps: HashMap::new(),
            next_ssrc: std::process::id().wrapping_mul(0x9E37_79B9),
            stats: SenderStats::default(),
        }
    }

    /// Sets (or moves) a channel's output. Sockets are shared by outputs with equal options.
    pub fn set_output(&mut self, key: ChannelKey, spec: OutputSpec) -> Result<(), SocketError> {
        if self.outputs.get(&key).is_some_and(|o| o.spec == spec) {
            return Ok(());
        }
        let socket = match self.sockets.iter().position(|s| s.options == spec.send) {
            Some(i) => i,
            None => {
                self.sockets.push(OutputSocket {
                    options: spec.send.clone(),
                    socket: socket::sender(&spec.send)?,
                    gso: true,
                });
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

    /// Gives a channel's stream to `tap` as well (replacing any tap it had). A channel
    /// with a tap and no output is paced as if it were sent.
    pub fn set_tap(&mut self, key: ChannelKey, tap: Box<dyn ChannelTap>) {
        self.taps.insert(key, tap);
    }

    pub fn remove_tap(&mut self, key: ChannelKey) {
        self.taps.remove(&key);
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

    pub fn stats(&self) -> SenderStats {
        self.stats
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
        if !self.plan.is_empty() {
            for socket in 0..self.sockets.len() {
                self.send_socket(socket, channels);
            }
        }
        for p in &self.plan {
            let (key, ch) = &mut channels[p.channel];
            if let Some(tap) = self.taps.get_mut(key) {
                for (_, slot) in ch.ring().front(p.done) {
                    tap.datagram(&slot[HEADER_ROOM..]);
                }
            }
            ch.ring_mut().pop_front(p.done);
            if let Some(o) = self.outputs.get_mut(key) {
                o.counters.datagrams += (p.done - p.failed) as u64;
                o.counters.bytes += p.bytes;
                o.counters.send_errors += p.failed as u64;
            }
        }
        for tap in self.taps.values_mut() {
            tap.end_of_pass();
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
            let mut out = self.outputs.get_mut(key);
            if out.is_none() && !self.taps.contains_key(key) {
                // Neither sent nor tapped: nothing waits for these datagrams.
                let n = ring.len();
                ring.pop_front(n);
                continue;
            }
            if let Some(out) = &mut out {
                out.counters.dropped = ring.overflows();
            }
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
            let Some(out) = out else {
                // Tapped only: due datagrams count as gone once the tap has had them.
                self.plan.push(Planned {
                    channel: index,
                    socket: NO_SOCKET,
                    due,
                    done: due,
                    ..Planned::default()
                });
                continue;
            };
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

    /// Pass 2: the datagrams planned for one socket. Each `sendmmsg` message carries a run
    /// of one channel's datagrams, which the kernel cuts into datagrams itself (UDP GSO):
    /// one trip through the send path per run instead of per datagram. Sockets where the
    /// kernel refuses GSO fall back to one datagram per message.
    fn send_socket(&mut self, socket: usize, channels: &[(ChannelKey, ServiceRemuxer)]) {
        let gso = self.sockets[socket].gso;
        let mut batch = Batch::new(gso);
        for p in 0..self.plan.len() {
            let planned = self.plan[p];
            if planned.socket != socket {
                continue;
            }
            let (key, ch) = &channels[planned.channel];
            let Some(destination) = self.outputs.get(key).map(|o| o.destination) else {
                continue;
            };
            let segment =
                HEADER_ROOM - planned.skip + ch.ring().packets_per_datagram() * PACKET_SIZE;
            for (_, slot) in ch.ring().front(planned.due) {
                if !batch.add(p, destination, segment, &slot[planned.skip..]) {
                    if !self.flush(socket, &mut batch, channels) {
                        return; // the socket is full: the rest waits for the next tick
                    }
                    batch.clear();
                    let added = batch.add(p, destination, segment, &slot[planned.skip..]);
                    debug_assert!(added, "an empty batch takes any datagram");
                }
            }
        }
        if !batch.is_empty() {
            self.flush(socket, &mut batch, channels);
        }
    }

    /// Sends a batch; returns false if the socket would block.
    fn flush(
        &mut self,
        socket: usize,
        batch: &mut Batch<'_>,
        channels: &[(ChannelKey, ServiceRemuxer)],
    ) -> bool {
        let fd = self.sockets[socket].socket.as_raw_fd();
        let mut start = 0;
        while start < batch.messages {
            let slices: [&[IoSlice<'_>]; BATCH] = std::array::from_fn(|m| {
                let (from, to) = batch.ranges[m];
                &batch.iovs[from..to]
            });
            let result = if batch.gso {
                let segment = batch.segment as u16;
                let cmsg = [ControlMessage::UdpGsoSegments(&segment)];
                sendmmsg(
                    fd,
                    &mut self.headers_gso,
                    &slices[start..batch.messages],
                    &batch.addrs[start..batch.messages],
                    cmsg,
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|r| r.count())
            } else {
                let none: [ControlMessage<'_>; 0] = [];
                sendmmsg(
                    fd,
                    &mut self.headers,
                    &slices[start..batch.messages],
                    &batch.addrs[start..batch.messages],
                    none,
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|r| r.count())
            };
            match result {
                Ok(0) => return false,
                Ok(sent) => {
                    self.stats.calls += 1;
                    self.stats.messages += sent as u64;
                    for m in start..start + sent {
                        let p = &mut self.plan[batch.owner[m]];
                        p.done += batch.datagrams[m];
                        p.bytes += batch.bytes[m];
                        self.stats.datagrams += batch.datagrams[m] as u64;
                    }
                    start += sent;
                }
                Err(Errno::EAGAIN | Errno::ENOBUFS) => return false,
                Err(Errno::EINTR) => {}
                Err(Errno::EINVAL | Errno::EIO | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP)
                    if batch.gso =>
                {
                    // No GSO on this path (old kernel, device without checksum offload):
                    // from now on one datagram per message. What was not sent is sent next tick.
                    self.sockets[socket].gso = false;
                    return false;
                }
                Err(e) => {
                    // The first message was refused: count its datagrams and move on, so one
                    // unreachable receiver cannot hold up the others.
                    let p = &mut self.plan[batch.owner[start]];
                    p.done += batch.datagrams[start];
                    p.failed += batch.datagrams[start];
                    let key = channels[p.channel].0;
                    if let Some(o) = self.outputs.get_mut(&key) {
                        o.last_error = Some(format!("sending to {} failed: {e}", o.spec.address));
                    }
                    start += 1;
                }
            }
        }
        true
    }
}

/// Datagrams per GSO message: 48 of 1328 bytes stay under the 64 KiB an IP packet holds.
const MAX_SEGMENTS: usize = 48;
/// Room for the iovecs of one batch.
const MAX_IOVS: usize = 1024;

/// One `sendmmsg` call being put together: messages (runs of one channel's datagrams, all
/// of one segment size but possibly a shorter last one), as ranges of a shared iovec array.
struct Batch<'a> {
    gso: bool,
    iovs: [IoSlice<'a>; MAX_IOVS],
    used: usize,
    ranges: [(usize, usize); BATCH],
    addrs: [Option<SockaddrStorage>; BATCH],
    owner: [usize; BATCH],
    datagrams: [usize; BATCH],
    bytes: [u64; BATCH],
    messages: usize,
    /// Segment size shared by the batch (one control message serves all).
    segment: usize,
    /// The last message can take more datagrams (same owner, not ended by a short one).
    open: bool,
}

impl<'a> Batch<'a> {
    fn new(gso: bool) -> Self {
        Batch {
            gso,
            iovs: [IoSlice::new(&[]); MAX_IOVS],
            used: 0,
            ranges: [(0, 0); BATCH],
            addrs: [None; BATCH],
            owner: [0; BATCH],
            datagrams: [0; BATCH],
            bytes: [0; BATCH],
            messages: 0,
            segment: 0,
            open: false,
        }
    }

    fn clear(&mut self) {
        self.used = 0;
        self.messages = 0;
        self.open = false;
    }

    fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Adds a datagram of planned entry `owner`; false when the batch is full (flush it).
    fn add(
        &mut self,
        owner: usize,
        destination: SockaddrStorage,
        segment: usize,
        datagram: &'a [u8],
    ) -> bool {
        if self.used == MAX_IOVS {
            return false;
        }
        if self.messages > 0 && self.gso && segment != self.segment {
            return false; // one segment size per call
        }
        let m = self.messages.wrapping_sub(1);
        let extend =
            self.gso && self.open && self.owner[m] == owner && self.datagrams[m] < MAX_SEGMENTS;
        if !extend {
            if self.messages == BATCH {
                return false;
            }
            let m = self.messages;
            self.messages += 1;
            self.ranges[m] = (self.used, self.used);
            self.addrs[m] = Some(destination);
            self.owner[m] = owner;
            self.datagrams[m] = 0;
            self.bytes[m] = 0;
            self.segment = segment;
        }
        let m = self.messages - 1;
        self.iovs[self.used] = IoSlice::new(datagram);
        self.used += 1;
        self.ranges[m].1 = self.used;
        self.datagrams[m] += 1;
        self.bytes[m] += datagram.len() as u64;
        // A short datagram (sealed before it filled) can only end a run.
        self.open = datagram.len() == segment;
        true
    }
}
