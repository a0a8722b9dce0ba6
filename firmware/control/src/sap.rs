//! Announcing channels with SAP, from the control plane's timer.
//!
//! Each enabled multicast channel is a session; its announcement repeats every
//! [`ANNOUNCE_EVERY`], spread evenly so a large lineup never sends a burst; a channel that
//! is removed, disabled or changed is withdrawn with a SAP deletion (and re-announced if it
//! changed), and all are withdrawn at shutdown. Sockets use the streams' own interface and
//! TTL, so announcements reach exactly where the streams go.

use dvbgate_net::socket::{self, SendOptions};
use dvbgate_outputs::sap::{self, Session};
use dvbgate_store::{ChannelConfig, Settings};
use socket2::Socket;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;
use tracing::warn;

/// Each session is announced this often.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);

struct Announced {
    session: Session,
    send: SendOptions,
    destination: SocketAddr,
    packet: Vec<u8>,
}

/// See the module docs.
#[derive(Default)]
pub struct Announcer {
    sessions: BTreeMap<u32, Announced>,
    sockets: HashMap<SendOptions, Socket>,
    /// Round-robin position.
    next: u32,
    pub sent: u64,
    pub errors: u64,
}

impl Announcer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Brings the announced sessions in line with the configuration.
    pub fn update(&mut self, channels: &[ChannelConfig], settings: &Settings) {
        let mut wanted: BTreeMap<u32, (Session, SendOptions)> = BTreeMap::new();
        if settings.sap {
            for c in channels
                .iter()
                .filter(|c| c.enabled && c.output.multicast && c.output.address.ip().is_multicast())
            {
                // Announcements go where the stream goes, without its traffic class.
                let send = SendOptions {
                    dscp: 0,
                    ..crate::output::send_options(c, settings)
                };
                let mut session = Session {
                    name: c.name.clone(),
                    info: Some(format!("channel {}", c.number)),
                    group: Some("dvbgate".into()),
                    address: c.output.address,
                    protocol: crate::output::protocol(c.output.protocol),
                    ttl: send.ttl,
                    version: 0,
                };
                session.version = version_of(&session);
                wanted.insert(c.id, (session, send));
            }
        }
        let gone: Vec<u32> = self
            .sessions
            .iter()
            .filter(|(id, a)| {
                wanted
                    .get(id)
                    .is_none_or(|(s, send)| *s != a.session || *send != a.send)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(a) = self.sessions.remove(&id) {
                self.withdraw(&a);
            }
        }
        for (id, (session, send)) in wanted {
            if self.sessions.contains_key(&id) {
                continue;
            }
            let Some(destination) = sap::sap_destination(session.address.ip()) else {
                continue;
            };
            let origin = self.origin(&send, destination);
            let packet = sap::packet(&session, origin, false);
            let a = Announced {
                session,
                send,
                destination,
                packet,
            };
            // New and changed sessions are announced at once, not at their turn.
            self.send(&a.send, a.destination, &a.packet);
            self.sessions.insert(id, a);
        }
    }

    /// Sends the announcements due in one second of the cycle: the lineup is covered every
    /// [`ANNOUNCE_EVERY`].
    pub fn announce_one_second(&mut self) {
        let n = self.sessions.len();
        if n == 0 {
            return;
        }
        let per_second = n.div_ceil(ANNOUNCE_EVERY.as_secs() as usize);
        for _ in 0..per_second {
            let id = self
                .sessions
                .range(self.next..)
                .next()
                .or_else(|| self.sessions.iter().next())
                .map(|(id, _)| *id);
            let Some(id) = id else { return };
            self.next = id.wrapping_add(1);
            if let Some(a) = self.sessions.get(&id) {
                let (send, destination, packet) = (a.send.clone(), a.destination, a.packet.clone());
                self.send(&send, destination, &packet);
            }
        }
    }

    /// Withdraws every session (shutdown).
    pub fn withdraw_all(&mut self) {
        for (_, a) in std::mem::take(&mut self.sessions) {
            self.withdraw(&a);
        }
    }

    fn withdraw(&mut self, a: &Announced) {
        let origin = self.origin(&a.send, a.destination);
        let packet = sap::packet(&a.session, origin, true);
        self.send(&a.send, a.destination, &packet);
    }

    fn send(&mut self, send: &SendOptions, destination: SocketAddr, packet: &[u8]) {
        if !self.sockets.contains_key(send) {
            match socket::sender(send) {
                Ok(s) => {
                    self.sockets.insert(send.clone(), s);
                }
                Err(e) => {
                    self.errors += 1;
                    warn!("SAP: {e}");
                    return;
                }
            }
        }
        let Some(s) = self.sockets.get(send) else {
            return;
        };
        match s.send_to(packet, &destination.into()) {
            Ok(_) => self.sent += 1,
            Err(e) => {
                self.errors += 1;
                if self.errors.is_power_of_two() {
                    warn!(
                        "SAP announcement to {destination} failed ({} so far): {e}",
                        self.errors
                    );
                }
            }
        }
    }

    /// The address announcements say they come from: the interface's, or the one the
    /// routing table would pick for the SAP group.
    fn origin(&self, send: &SendOptions, destination: SocketAddr) -> IpAddr {
        if let Some(ip) = send
            .interface
            .as_deref()
            .and_then(|i| dvbgate_net::iface::resolve(i).ok())
            .and_then(|i| i.ipv4)
        {
            return IpAddr::V4(ip);
        }
        let probe = if destination.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        UdpSocket::bind(probe)
            .and_then(|s| {
                s.connect(destination)?;
                s.local_addr()
            })
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// A version number that changes whenever the announced description does.
fn version_of(s: &Session) -> u32 {
    let text = sap::sdp(s, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    text.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}
