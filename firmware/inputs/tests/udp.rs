//! UDP and RTP reception on loopback: batches, RTP headers stripped and losses counted,
//! multicast joined on the loopback interface.

use dvbgate_inputs::udp::UdpInput;
use dvbgate_inputs::{InputOptions, InputSink, MuxInput};
use dvbgate_net::rtp;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Collect(Vec<u8>);
impl InputSink for Collect {
    fn data(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn discontinuity(&mut self) {}
}

fn datagram(k: u16, with_rtp: bool) -> Vec<u8> {
    let mut d = Vec::new();
    if with_rtp {
        let mut h = [0u8; rtp::HEADER_LEN];
        rtp::write_header(&mut h, k, u32::from(k) * 3600, 42);
        d.extend_from_slice(&h);
    }
    for i in 0..7u8 {
        let mut p = [k as u8; 188];
        p[0] = 0x47;
        p[1] = i;
        d.extend_from_slice(&p);
    }
    d
}

fn drain(input: &mut UdpInput, sink: &mut Collect, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.0.len() < want && Instant::now() < deadline {
        input.poll(Instant::now(), sink).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn unicast_udp_in_batches() {
    let port = free_port();
    let mut input =
        UdpInput::open(&format!("udp://127.0.0.1:{port}"), &InputOptions::default()).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for k in 0..200 {
        tx.send_to(&datagram(k, false), ("127.0.0.1", port))
            .unwrap();
    }
    let mut sink = Collect::default();
    drain(&mut input, &mut sink, 200 * 1316);
    assert_eq!(sink.0.len(), 200 * 1316);
    assert_eq!(input.stats().datagrams, 200);
}

#[test]
fn rtp_headers_are_stripped_and_losses_counted() {
    let port = free_port();
    let mut input =
        UdpInput::open(&format!("rtp://127.0.0.1:{port}"), &InputOptions::default()).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for k in (0..100).filter(|k| k % 10 != 5) {
        tx.send_to(&datagram(k, true), ("127.0.0.1", port)).unwrap();
    }
    let mut sink = Collect::default();
    drain(&mut input, &mut sink, 90 * 1316);
    assert_eq!(sink.0.len(), 90 * 1316);
    assert!(sink.0.chunks(188).all(|p| p[0] == 0x47));
    assert_eq!(input.stats().rtp_lost, 10);
}

#[test]
fn udp_input_also_accepts_rtp_senders() {
    let port = free_port();
    let mut input =
        UdpInput::open(&format!("udp://127.0.0.1:{port}"), &InputOptions::default()).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for k in 0..10 {
        tx.send_to(&datagram(k, true), ("127.0.0.1", port)).unwrap();
    }
    let mut sink = Collect::default();
    drain(&mut input, &mut sink, 10 * 1316);
    assert_eq!(sink.0.len(), 10 * 1316);
}

#[test]
fn multicast_on_loopback() {
    let port = free_port();
    let group = "239.255.88.1";
    let mut input = UdpInput::open(
        &format!("udp://@{group}:{port}?iface=lo"),
        &InputOptions::default(),
    )
    .unwrap();
    // Our own output socket on lo, as a second dvbgate upstream would send.
    let tx = dvbgate_net::socket::sender(&dvbgate_net::socket::SendOptions {
        ipv6: false,
        interface: Some("lo".into()),
        ttl: 0,
        dscp: 0,
    })
    .unwrap();
    let to: std::net::SocketAddr = format!("{group}:{port}").parse().unwrap();
    for k in 0..20 {
        tx.send_to(&datagram(k, false), &to.into()).unwrap();
    }
    let mut sink = Collect::default();
    drain(&mut input, &mut sink, 20 * 1316);
    assert_eq!(sink.0.len(), 20 * 1316);
}

#[test]
fn port_in_use_is_a_clear_error() {
    let held = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let e = UdpInput::open(&format!("udp://127.0.0.1:{port}"), &InputOptions::default())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains(&format!("udp://127.0.0.1:{port}")),
        "{e}"
    );
    assert!(e.to_string().to_lowercase().contains("in use"), "{e}");
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
