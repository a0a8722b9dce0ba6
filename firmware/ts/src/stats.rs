//! Per-PID counters: packets, continuity errors (TR 101 290 1.4), transport errors (2.1),
//! scrambling, PCRs. One fixed table of 8192 entries per input: no allocation per packet.

use crate::packet::{self, RawPacket, pids};

/// Counters of one PID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PidCounters {
    pub packets: u64,
    pub cc_errors: u64,
    pub transport_errors: u64,
    pub scrambled: u64,
    pub pcrs: u64,
    pub discontinuity_indicators: u64,
    #[serde(skip)]
    last_cc: Option<u8>,
    #[serde(skip)]
    duplicate_seen: bool,
}

/// What accounting one packet found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketVerdict {
    pub pid: u16,
    pub cc_error: bool,
    /// `transport_error_indicator` set: the packet's contents (its PID included) are not to
    /// be trusted, and it should not be forwarded.
    pub transport_error: bool,
}

/// Counters for every PID.
pub struct PidTable {
    pids: Box<[PidCounters]>,
    totals: PidCounters,
}

impl Default for PidTable {
    fn default() -> Self {
        Self::new()
    }
}

impl PidTable {
    pub fn new() -> Self {
        PidTable {
            pids: vec![PidCounters::default(); pids::COUNT].into_boxed_slice(),
            totals: PidCounters::default(),
        }
    }

    /// Counts one packet and checks its continuity counter.
    #[inline]
    pub fn account(&mut self, p: &RawPacket) -> PacketVerdict {
        let pid = packet::pid(p);
        let c = &mut self.pids[usize::from(pid)];
        c.packets += 1;
        self.totals.packets += 1;
        let transport_error = packet::transport_error(p);
        if transport_error {
            // Still checked for continuity: the packet arrived, damaged, and most often on
            // its own PID. Its contents are another matter, so it is not forwarded.
            c.transport_errors += 1;
            self.totals.transport_errors += 1;
        }
        if packet::is_scrambled(p) {
            c.scrambled += 1;
        }
        let discontinuity = packet::discontinuity_indicator(p);
        if discontinuity {
            c.discontinuity_indicators += 1;
        }
        if packet::has_adaptation_field(p) && packet::pcr(p).is_some() {
            c.pcrs += 1;
        }
        let mut cc_error = false;
        if pid != pids::NULL {
            let cc = packet::continuity_counter(p);
            if let (Some(last), false) = (c.last_cc, discontinuity) {
                if packet::has_payload(p) {
                    if cc == last {
                        // One duplicate is allowed; a second is an error.
                        cc_error = c.duplicate_seen;
                        c.duplicate_seen = true;
                    } else {
                        cc_error = cc != (last + 1) & 0x0F;
                        c.duplicate_seen = false;
                    }
                } else {
                    // Without payload the counter must not move.
                    cc_error = cc != last;
                }
            }
            if cc_error {
                c.cc_errors += 1;
                self.totals.cc_errors += 1;
            }
            c.last_cc = Some(cc);
        }
        PacketVerdict {
            pid,
            cc_error,
            transport_error,
        }
    }

    /// Forgets continuity state (after the input restarted or looped) but keeps counts.
    pub fn reset_continuity(&mut self) {
        for c in self.pids.iter_mut() {
            c.last_cc = None;
            c.duplicate_seen = false;
        }
    }

    pub fn get(&self, pid: u16) -> &PidCounters {
        &self.pids[usize::from(pid & 0x1FFF)]
    }

    /// Totals over all PIDs (packets, CC errors, transport errors).
    pub fn totals(&self) -> &PidCounters {
        &self.totals
    }

    /// PIDs that were seen at least once, with their counters.
    pub fn seen(&self) -> impl Iterator<Item = (u16, &PidCounters)> {
        self.pids
            .iter()
            .enumerate()
            .filter(|(_, c)| c.packets > 0)
            .map(|(pid, c)| (pid as u16, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(pid: u16, cc: u8, payload: bool) -> RawPacket {
        let mut p = [0xFF; 188];
        packet::write_header(&mut p, pid, false, cc);
        if !payload {
            p[3] = 0x20 | cc;
            p[4] = 183;
            p[5] = 0;
        }
        p
    }

    #[test]
    fn continuity_rules() {
        let mut t = PidTable::new();
        let ccs = [0u8, 1, 2, 2, 3, 5, 6, 6, 6, 7, 15, 0];
        let errors: Vec<bool> = ccs
            .iter()
            .map(|&cc| t.account(&pkt(0x100, cc, true)).cc_error)
            .collect();
        assert_eq!(
            errors,
            [
                false, false, false, false, false, true, false, false, true, false, true, false
            ]
        );
        assert_eq!(t.get(0x100).cc_errors, 3);
        // Adaptation-only packets keep the counter.
        assert!(!t.account(&pkt(0x100, 0, false)).cc_error);
        assert!(t.account(&pkt(0x100, 3, false)).cc_error);
        // Null packets are never checked.
        for cc in [4, 9, 1] {
            assert!(!t.account(&pkt(pids::NULL, cc, true)).cc_error);
        }
        assert_eq!(t.totals().packets, 17);
    }

    #[test]
    fn transport_errors_are_counted_and_flagged() {
        let mut t = PidTable::new();
        let mut p = pkt(0x200, 0, true);
        p[1] |= 0x80;
        let v = t.account(&p);
        assert!(v.transport_error);
        assert_eq!(t.get(0x200).transport_errors, 1);
        assert_eq!(t.seen().count(), 1);
    }
}
