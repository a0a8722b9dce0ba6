//! The queue between a channel's remuxer and its sender: a ring of datagram slots.
//!
//! Each slot is laid out as it goes on the wire: room for an RTP header, then up to seven
//! packets. The remuxer writes packets straight into the slot being filled; the sender
//! points `sendmmsg` at whole slots. Nothing is copied between remuxing and the kernel, and
//! the memory is allocated once, when the channel starts.

use dvbgate_ts::{PACKET_SIZE, RawPacket};

/// Bytes reserved in front of each datagram for an RTP header (RFC 3550, no CSRC).
pub const HEADER_ROOM: usize = 12;

/// What the sender needs to know about a queued datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotInfo {
    pub packets: u8,
    /// Input position of the datagram's first packet.
    pub first_position: u64,
    /// Input position of the datagram's last packet: its PCR time is the send time.
    pub last_position: u64,
    /// When the datagram's first packet arrived (monotonic ns).
    pub first_arrival_ns: i64,
}

/// See the module docs.
pub struct DatagramRing {
    buf: Box<[u8]>,
    info: Box<[SlotInfo]>,
    slot_size: usize,
    packets_per_datagram: usize,
    capacity: usize,
    /// Oldest complete slot.
    head: usize,
    /// Complete slots, from `head`.
    complete: usize,
    /// Packets in the slot being filled (`head + complete`).
    filling: usize,
    overflows: u64,
}

impl DatagramRing {
    /// `capacity` slots of `packets_per_datagram` (1..=7) packets. One slot is always the
    /// one being filled, so at most `capacity - 1` datagrams wait.
    pub fn new(capacity: usize, packets_per_datagram: usize) -> Self {
        let ppd = packets_per_datagram.clamp(1, 7);
        let capacity = capacity.max(2);
        let slot_size = HEADER_ROOM + ppd * PACKET_SIZE;
        DatagramRing {
            buf: vec![0; capacity * slot_size].into_boxed_slice(),
            info: vec![SlotInfo::default(); capacity].into_boxed_slice(),
            slot_size,
            packets_per_datagram: ppd,
            capacity,
            head: 0,
            complete: 0,
            filling: 0,
            overflows: 0,
        }
    }

    pub fn packets_per_datagram(&self) -> usize {
        self.packets_per_datagram
    }

    /// Datagrams ready to send.
    pub fn len(&self) -> usize {
        self.complete
    }

    pub fn is_empty(&self) -> bool {
        self.complete == 0
    }

    /// How many datagrams may wait before the oldest is dropped.
    pub fn capacity(&self) -> usize {
        self.capacity - 1
    }

    /// Datagrams dropped because the sender fell behind.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    /// Packets waiting in the unfinished datagram.
    pub fn partial_packets(&self) -> usize {
        self.filling
    }

    /// Appends a packet and returns the stored copy, for in-place rewriting.
    pub fn push(&mut self, packet: &RawPacket, position: u64, arrival_ns: i64) -> &mut RawPacket {
        let slot = (self.head + self.complete) % self.capacity;
        let info = &mut self.info[slot];
        if self.filling == 0 {
            info.first_arrival_ns = arrival_ns;
            info.first_position = position;
        }
        info.last_position = position;
        let at = slot * self.slot_size + HEADER_ROOM + self.filling * PACKET_SIZE;
        self.filling += 1;
        info.packets = self.filling as u8;
        if self.filling == self.packets_per_datagram {
            self.seal();
        }
        let stored: &mut RawPacket = (&mut self.buf[at..at + PACKET_SIZE])
            .try_into()
            .expect("slot arithmetic yields whole packets");
        *stored = *packet;
        stored
    }

    /// Closes the unfinished datagram so it can be sent short (its packets have waited long
    /// enough). Does nothing if it is empty.
    pub fn seal_partial(&mut self) {
        if self.filling > 0 {
            self.seal();
        }
    }

    /// The unfinished datagram's first packet: (input position, arrival time).
    pub fn partial_first(&self) -> Option<(u64, i64)> {
        (self.filling > 0).then(|| {
            let info = &self.info[(self.head + self.complete) % self.capacity];
            (info.first_position, info.first_arrival_ns)
        })
    }

    fn seal(&mut self) {
        self.filling = 0;
        self.complete += 1;
        if self.complete == self.capacity {
            // The sender is not keeping up: lose the oldest datagram rather than grow.
            self.head = (self.head + 1) % self.capacity;
            self.complete -= 1;
            self.overflows += 1;
        }
    }

    /// The `k`-th oldest ready datagram's info.
    pub fn info(&self, k: usize) -> Option<&SlotInfo> {
        (k < self.complete).then(|| &self.info[(self.head + k) % self.capacity])
    }

    /// The `n` oldest ready datagrams, each as its whole slot (header room included, cut to
    /// its packets), in order, for the sender to stamp and send.
    pub fn front_mut(&mut self, n: usize) -> impl Iterator<Item = (&SlotInfo, &mut [u8])> {
        let n = n.min(self.complete);
        let slot_size = self.slot_size;
        let (before, from_head) = self.buf.split_at_mut(self.head * slot_size);
        let (info_before, info_from_head) = self.info.split_at(self.head);
        from_head
            .chunks_mut(slot_size)
            .zip(info_from_head)
            .chain(before.chunks_mut(slot_size).zip(info_before))
            .take(n)
            .map(|(slot, info)| {
                let used = HEADER_ROOM + usize::from(info.packets) * PACKET_SIZE;
                (info, &mut slot[..used])
            })
    }

    /// Same as [`Self::front_mut`], read-only.
    pub fn front(&self, n: usize) -> impl Iterator<Item = (&SlotInfo, &[u8])> {
        let n = n.min(self.complete);
        let slot_size = self.slot_size;
        let (before, from_head) = self.buf.split_at(self.head * slot_size);
        let (info_before, info_from_head) = self.info.split_at(self.head);
        from_head
            .chunks(slot_size)
            .zip(info_from_head)
            .chain(before.chunks(slot_size).zip(info_before))
            .take(n)
            .map(|(slot, info)| {
                let used = HEADER_ROOM + usize::from(info.packets) * PACKET_SIZE;
                (info, &slot[..used])
            })
    }

    /// Forgets the `n` oldest ready datagrams (they were sent).
    pub fn pop_front(&mut self, n: usize) {
        let n = n.min(self.complete);
        self.head = (self.head + n) % self.capacity;
        self.complete -= n;
    }

    /// Drops everything queued (the output moved or stopped).
    pub fn clear(&mut self) {
        self.head = 0;
        self.complete = 0;
        self.filling = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(tag: u8) -> RawPacket {
        let mut p = [tag; PACKET_SIZE];
        p[0] = 0x47;
        p
    }

    #[test]
    fn fills_seals_and_wraps_in_order() {
        let mut r = DatagramRing::new(4, 3);
        let mut tag = 0u8;
        let mut sent = Vec::new();
        for round in 0..10 {
            for _ in 0..6 {
                tag += 1;
                r.push(&pkt(tag), u64::from(tag), i64::from(round));
            }
            assert_eq!(r.len(), 2);
            for (info, bytes) in r.front_mut(2) {
                assert_eq!(bytes.len(), HEADER_ROOM + 3 * PACKET_SIZE);
                bytes[0] = 0xAA; // the sender writes its header here
                sent.push((
                    info.last_position,
                    bytes[HEADER_ROOM + 1],
                    bytes[HEADER_ROOM + 2 * PACKET_SIZE + 1],
                ));
            }
            r.pop_front(2);
        }
        assert_eq!(sent.len(), 20);
        for (k, (last, first_tag, last_tag)) in sent.iter().enumerate() {
            assert_eq!(*first_tag as usize, 3 * k + 1);
            assert_eq!(*last_tag as usize, 3 * k + 3);
            assert_eq!(*last as usize, 3 * k + 3);
        }
        assert_eq!(r.overflows(), 0);
    }

    #[test]
    fn overflow_drops_oldest_and_counts() {
        let mut r = DatagramRing::new(3, 1);
        for t in 1..=5 {
            r.push(&pkt(t), u64::from(t), 0);
        }
        assert_eq!(r.len(), 2);
        assert_eq!(r.overflows(), 3);
        let firsts: Vec<u8> = r.front(2).map(|(_, b)| b[HEADER_ROOM + 1]).collect();
        assert_eq!(firsts, vec![4, 5]);
    }

    #[test]
    fn partial_datagrams_can_be_sealed_short() {
        let mut r = DatagramRing::new(4, 7);
        r.push(&pkt(1), 10, 100);
        r.push(&pkt(2), 11, 200);
        assert_eq!(r.partial_first(), Some((10, 100)));
        assert!(r.is_empty());
        r.seal_partial();
        let (info, bytes) = r.front(1).next().unwrap();
        assert_eq!(
            (info.packets, info.last_position, bytes.len()),
            (2, 11, HEADER_ROOM + 2 * PACKET_SIZE)
        );
        assert_eq!(r.partial_first(), None);
    }

    #[test]
    fn pushed_packet_can_be_rewritten_in_place() {
        let mut r = DatagramRing::new(2, 1);
        r.push(&pkt(1), 0, 0)[3] = 0x1F;
        assert_eq!(r.front(1).next().unwrap().1[HEADER_ROOM + 3], 0x1F);
    }
}
