//! UDP sockets, set up once, used by the pipeline threads without further configuration.

use crate::iface::{self, Interface};
use crate::url::StreamUrl;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// An error that says which stream and which step failed.
#[derive(Debug, thiserror::Error)]
#[error("{stream}: {step}: {source}")]
pub struct SocketError {
    pub stream: String,
    pub step: String,
    #[source]
    pub source: io::Error,
}

impl SocketError {
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

fn domain_of(addr: &SocketAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

/// A non-blocking socket receiving `url`: bound, joined (ASM or SSM, on the chosen
/// interface), with a receive buffer of about `receive_buffer` bytes.
pub fn receiver(url: &StreamUrl, receive_buffer: usize) -> Result<Socket, SocketError> {
    let fail = |step: &str, source: io::Error| SocketError {
        stream: url.to_string(),
        step: step.to_string(),
        source,
    };
    let interface = match &url.interface {
        Some(name) => Some(
            iface::resolve(name)
                .map_err(|e| fail("interface", io::Error::new(io::ErrorKind::NotFound, e)))?,
        ),
        None => None,
    };
    let socket = Socket::new(domain_of(&url.address), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| fail("socket", e))?;
    // Several receivers (a monitoring tool, a second gateway process) may share a group.
    socket
        .set_reuse_address(true)
        .map_err(|e| fail("SO_REUSEADDR", e))?;
    set_receive_buffer(&socket, receive_buffer);
    // Binding to the group itself keeps other groups on the same port out of this socket.
    socket
        .bind(&url.address.into())
        .map_err(|e| fail(&format!("bind {}", url.address), e))?;
    if url.is_multicast() {
        join(&socket, url, interface.as_ref())
            .map_err(|e| fail(&format!("join {}", url.address.ip()), e))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| fail("O_NONBLOCK", e))?;
    Ok(socket)
}

fn join(socket: &Socket, url: &StreamUrl, interface: Option<&Interface>) -> io::Result<()> {
    match (url.address.ip(), url.source) {
        (IpAddr::V4(group), None) => match interface {
            // By address where the interface has one: `ip_mreq`, the form every kernel and
            // emulator knows (qemu user mode garbles `ip_mreqn`); by index (`ip_mreqn`) only
            // for interfaces without an IPv4 address.
            Some(Interface { ipv4: Some(a), .. }) => socket.join_multicast_v4(&group, a),
            Some(i) => socket.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(i.index)),
            None => socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED),
        },
        (IpAddr::V4(group), Some(IpAddr::V4(source))) => {
            let on = interface
                .and_then(|i| i.ipv4)
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            socket.join_ssm_v4(&source, &group, &on)
        }
        (IpAddr::V6(group), None) => {
            socket.join_multicast_v6(&group, interface.map_or(0, |i| i.index))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "source-specific multicast is supported for IPv4 groups only",
        )),
    }
}

/// Asks for a large buffer: a burst from the network must wait in the kernel while the
/// pipeline thread sleeps between ticks. Root may exceed `net.core.rmem_max` (FORCE);
/// otherwise the kernel caps it.
fn set_receive_buffer(socket: &Socket, bytes: usize) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = socket.set_recv_buffer_size(bytes);
    }
}

/// How an output's datagrams leave the box.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SendOptions {
    pub ipv6: bool,
    /// Outgoing interface for multicast (name or address).
    pub interface: Option<String>,
    pub ttl: u8,
    /// Differentiated services code point (0..63), written as the upper 6 bits of TOS.
    pub dscp: u8,
}

/// A non-blocking socket sending with `options`; one is shared by every output with the
/// same options, so one `sendmmsg` can carry datagrams for many channels.
pub fn sender(options: &SendOptions) -> Result<Socket, SocketError> {
    let fail = |step: &str, source: io::Error| SocketError {
        stream: format!("output socket {options:?}"),
        step: step.to_string(),
        source,
    };
    let interface = match &options.interface {
        Some(name) => Some(
            iface::resolve(name)
                .map_err(|e| fail("interface", io::Error::new(io::ErrorKind::NotFound, e)))?,
        ),
        None => None,
    };
    let domain = if options.ipv6 {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket =
        Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| fail("socket", e))?;
    let tos = u32::from(options.dscp) << 2;
    let ttl = u32::from(options.ttl);
    if options.ipv6 {
        socket
            .set_multicast_hops_v6(ttl)
            .map_err(|e| fail("IPV6_MULTICAST_HOPS", e))?;
        socket
            .set_unicast_hops_v6(ttl.max(1))
            .map_err(|e| fail("IPV6_UNICAST_HOPS", e))?;
        socket
            .set_tclass_v6(tos)
            .map_err(|e| fail("IPV6_TCLASS", e))?;
        socket
            .set_multicast_loop_v6(true)
            .map_err(|e| fail("IPV6_MULTICAST_LOOP", e))?;
        if let Some(i) = &interface {
            socket
                .set_multicast_if_v6(i.index)
                .map_err(|e| fail("IPV6_MULTICAST_IF", e))?;
        }
    } else {
        socket
            .set_multicast_ttl_v4(ttl)
            .map_err(|e| fail("IP_MULTICAST_TTL", e))?;
        socket
            .set_ttl_v4(ttl.max(1))
            .map_err(|e| fail("IP_TTL", e))?;
        socket.set_tos_v4(tos).map_err(|e| fail("IP_TOS", e))?;
        // Receivers on the box itself (monitoring, tests, a local player) see the streams.
        socket
            .set_multicast_loop_v4(true)
            .map_err(|e| fail("IP_MULTICAST_LOOP", e))?;
        if let Some(i) = &interface {
            let addr = i.ipv4.ok_or_else(|| {
                fail(
                    "IP_MULTICAST_IF",
                    io::Error::new(
                        io::ErrorKind::AddrNotAvailable,
                        format!("{} has no IPv4 address", i.name),
                    ),
                )
            })?;
            if let Err(e) = socket.set_multicast_if_v4(&addr) {
                // Some environments (qemu user mode) do not implement IP_MULTICAST_IF.
                // Binding to the interface's address has the same effect: Linux sends
                // multicast out of the device that owns the source address.
                socket
                    .bind(&SocketAddr::new(IpAddr::V4(addr), 0).into())
                    .map_err(|_| fail("IP_MULTICAST_IF", e))?;
            }
        }
    }
    let _ = socket.set_send_buffer_size(4 << 20);
    socket
        .set_nonblocking(true)
        .map_err(|e| fail("O_NONBLOCK", e))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A group on the loopback interface, as the tests and the demo use it.
    #[test]
    fn multicast_on_loopback_round_trip_with_ssm() {
        let group = "239.255.77.1:45123";
        let rx = receiver(
            &StreamUrl::parse(&format!("udp://127.0.0.1@{group}?iface=lo")).unwrap(),
            1 << 20,
        )
        .unwrap();
        let other = receiver(
            &StreamUrl::parse(&format!("udp://10.9.9.9@{group}?iface=lo")).unwrap(),
            1 << 20,
        )
        .unwrap();
        let tx = sender(&SendOptions {
            ipv6: false,
            interface: Some("lo".into()),
            ttl: 1,
            dscp: 46,
        })
        .unwrap();
        let to: SocketAddr = group.parse().unwrap();
        tx.send_to(b"hello", &to.into()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = [std::mem::MaybeUninit::new(0u8); 64];
        let n = rx
            .recv(&mut buf)
            .expect("the SSM join for our source receives");
        assert_eq!(n, 5);
        assert_eq!(
            other.recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "another source is filtered out"
        );
    }

    /// What leaves the socket carries the TTL and DSCP asked for: read back by the receiver
    /// from the IP header through IP_RECVTTL and IP_RECVTOS.
    #[test]
    fn ttl_and_dscp_are_on_the_wire() {
        use nix::sys::socket::{
            ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt,
        };
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        let group = "239.255.77.3:45125";
        let rx = receiver(
            &StreamUrl::parse(&format!("udp://@{group}?iface=lo")).unwrap(),
            1 << 20,
        )
        .unwrap();
        setsockopt(&rx, sockopt::Ipv4RecvTtl, &true).unwrap();
        setsockopt(&rx, sockopt::IpRecvTos, &true).unwrap();
        let tx = sender(&SendOptions {
            ipv6: false,
            interface: Some("lo".into()),
            ttl: 7,
            dscp: 46,
        })
        .unwrap();
        let to: SocketAddr = group.parse().unwrap();
        tx.send_to(b"x", &to.into()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = [0u8; 16];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!(i32, u8);
        let msg =
            recvmsg::<SockaddrIn>(rx.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
                .unwrap();
        let (mut ttl, mut tos) = (None, None);
        for c in msg.cmsgs().unwrap() {
            match c {
                ControlMessageOwned::Ipv4Ttl(t) => ttl = Some(t),
                ControlMessageOwned::Ipv4Tos(t) => tos = Some(t),
                _ => {}
            }
        }
        assert_eq!(ttl, Some(7));
        assert_eq!(
            tos.map(|t| t >> 2),
            Some(46),
            "DSCP 46 (expedited forwarding)"
        );
    }

    #[test]
    fn errors_name_the_stream_and_the_step() {
        let url = StreamUrl::parse("udp://@239.255.77.2:45124?iface=nonexistent0").unwrap();
        let e = receiver(&url, 1 << 16).unwrap_err();
        assert!(e.to_string().contains("udp://@239.255.77.2:45124"), "{e}");
        assert!(e.to_string().contains("interface"), "{e}");
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        // The port is held by a socket that does not share it.
        let e = receiver(
            &StreamUrl::parse(&format!("udp://127.0.0.1:{port}")).unwrap(),
            1 << 16,
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(
            e.to_string().contains(&format!("bind 127.0.0.1:{port}")),
            "{e}"
        );
    }
}
