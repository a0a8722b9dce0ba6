//! The sender on real sockets (loopback): multicast and unicast, UDP and RTP, datagram
//! layout, pacing from the PCR clock, and errors counted rather than fatal.

use dvbgate_net::socket::SendOptions;
use dvbgate_net::{Protocol, rtp};
use dvbgate_outputs::{OutputSpec, Sender};
use dvbgate_remux::synth::{self, SynthConfig};
use dvbgate_remux::{ChannelSpec, Demux};
use dvbgate_ts::analyze::analyze;
use dvbgate_ts::timing::ClockConfig;
use socket2::{Domain, Socket, Type};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

fn lo_options() -> SendOptions {
    SendOptions {
        ipv6: false,
        interface: Some("lo".into()),
        ttl: 1,
        dscp: 0,
    }
}

/// A receiver joined to `group` on the loopback interface.
fn join(group: SocketAddrV4) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SocketAddr::V4(group).into()).unwrap();
    s.join_multicast_v4(group.ip(), &Ipv4Addr::LOCALHOST)
        .unwrap();
    s.set_recv_buffer_size(8 << 20).unwrap();
    s.set_nonblocking(true).unwrap();
    s.into()
}

fn receive_all(s: &UdpSocket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = s.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn spec(address: SocketAddrV4, protocol: Protocol) -> OutputSpec {
    OutputSpec {
        address: SocketAddr::V4(address),
        protocol,
        send: lo_options(),
    }
}

/// Feeds the multiplex in 1 ms steps and sends what is due at each step.
fn run(demux: &mut Demux, sender: &mut Sender, input: &[u8], step_bytes: usize, t: &mut i64) {
    for chunk in input.chunks(step_bytes) {
        demux.push(chunk, *t);
        let (clock, channels) = demux.outputs();
        sender.send_due(clock, channels, *t, 1_000_000);
        *t += 1_000_000;
    }
}

#[test]
fn channels_arrive_as_clean_spts_over_udp_and_rtp() {
    let input = synth::generate(
        &SynthConfig {
            bitrate: 8_000_000,
            ..SynthConfig::default()
        },
        8_000,
        0,
    );
    let groups = [
        "239.255.91.1:46001".parse::<SocketAddrV4>().unwrap(),
        "239.255.91.2:46001".parse().unwrap(),
    ];
    let unicast_rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    unicast_rx.set_nonblocking(true).unwrap();
    socket2::SockRef::from(&unicast_rx)
        .set_recv_buffer_size(8 << 20)
        .unwrap();
    let unicast = match unicast_rx.local_addr().unwrap() {
        SocketAddr::V4(v4) => v4,
        _ => unreachable!(),
    };
    let receivers = [join(groups[0]), join(groups[1])];

    let mut demux = Demux::new(ClockConfig::default());
    let mut sender = Sender::new();
    for (k, addr, protocol) in [
        (0u32, groups[0], Protocol::Udp),
        (1, groups[1], Protocol::Rtp),
        (2, unicast, Protocol::Udp),
    ] {
        demux.set_channel(
            k,
            ChannelSpec::new(synth::service_id(k as u16), format!("C{k}")),
        );
        sender.set_output(k, spec(addr, protocol)).unwrap();
    }
    let mut t = 0;
    // 8 Mbit/s is 1000 bytes per millisecond.
    run(&mut demux, &mut sender, &input, 1000, &mut t);
    // Let the tail (waiting for the next PCR) go out.
    for _ in 0..300 {
        let (clock, channels) = demux.outputs();
        sender.send_due(clock, channels, t, 1_000_000);
        t += 1_000_000;
    }

    let udp = receive_all(&receivers[0]);
    let rtp_datagrams = receive_all(&receivers[1]);
    let uni = receive_all(&unicast_rx);
    assert!(udp.len() > 50 && rtp_datagrams.len() > 50 && uni.len() > 50);
    assert!(
        udp.iter().all(|d| d.len() == 7 * 188),
        "UDP datagrams carry 7 packets"
    );
    assert!(
        rtp_datagrams.iter().all(|d| d.len() == 12 + 7 * 188),
        "RTP adds its 12-byte header"
    );
    let mut sequences = Vec::new();
    let mut rtp_payload = Vec::new();
    for d in &rtp_datagrams {
        let h = rtp::parse(d).expect("an RTP header");
        assert_eq!(h.payload_type, 33);
        sequences.push(h.sequence);
        rtp_payload.extend_from_slice(&d[h.payload_offset..h.payload_end]);
    }
    assert!(
        sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "sequence numbers increase by one"
    );
    for (payload, service, name) in [
        (udp.concat(), synth::service_id(0), "C0"),
        (rtp_payload, synth::service_id(1), "C1"),
        (uni.concat(), synth::service_id(2), "C2"),
    ] {
        let a = analyze(&payload);
        assert_eq!(a.services.len(), 1);
        assert_eq!(a.services[0].service_id, service);
        assert_eq!(a.services[0].name.as_deref(), Some(name));
        assert_eq!(a.cc_errors, 0);
    }
    let c = sender.counters(0).unwrap();
    assert_eq!(c.datagrams as usize, udp.len());
    assert_eq!(c.send_errors, 0);
    assert_eq!(
        sender.stats().datagrams,
        (udp.len() + rtp_datagrams.len() + uni.len()) as u64
    );
}

#[test]
fn a_burst_is_released_on_the_pcr_schedule() {
    // 800 ms of a 4 Mbit/s multiplex arrive at once. (A burst longer than the clock's
    // `max_hold`, 1 s, is taken for an input that is not real time and follows arrival.)
    let input = synth::generate(
        &SynthConfig {
            bitrate: 4_000_000,
            services: 1,
            ..SynthConfig::default()
        },
        2_128,
        0,
    );
    let group: SocketAddrV4 = "239.255.91.3:46002".parse().unwrap();
    let rx = join(group);
    let mut demux = Demux::new(ClockConfig::default());
    let mut sender = Sender::new();
    demux.set_channel(
        0,
        ChannelSpec {
            ring_datagrams: 4096,
            ..ChannelSpec::new(1, "Burst")
        },
    );
    sender.set_output(0, spec(group, Protocol::Udp)).unwrap();
    demux.push(&input, 0);
    let mut sent_by_ms = Vec::new();
    let mut total = 0;
    for ms in 0..1200i64 {
        let (clock, channels) = demux.outputs();
        sender.send_due(clock, channels, ms * 1_000_000, 1_000_000);
        total += receive_all(&rx).len();
        sent_by_ms.push(total);
    }
    assert!(total > 100);
    // Spread over the 800 ms the PCRs span, not all in the first milliseconds.
    let after_100ms = sent_by_ms[100];
    let after_400ms = sent_by_ms[400];
    assert!(
        after_100ms < total * 2 / 10,
        "{after_100ms} of {total} datagrams in the first 100 ms"
    );
    assert!(
        (total * 4 / 10..total * 6 / 10).contains(&after_400ms),
        "{after_400ms} of {total} after 400 ms"
    );
    assert_eq!(sent_by_ms[900], total, "all out by the end of the span");
}

#[test]
fn unreachable_unicast_is_counted_not_fatal() {
    let input = synth::generate(
        &SynthConfig {
            bitrate: 4_000_000,
            ..SynthConfig::default()
        },
        3_000,
        0,
    );
    let mut demux = Demux::new(ClockConfig::default());
    let mut sender = Sender::new();
    // Port 9 on a loopback address no one listens on: the kernel may report
    // ECONNREFUSED later on connected sockets only; an unconnected send succeeds. A
    // broadcast address without SO_BROADCAST is refused at once (EACCES).
    let refused: SocketAddrV4 = "255.255.255.255:9".parse().unwrap();
    demux.set_channel(0, ChannelSpec::new(1, "Refused"));
    sender
        .set_output(
            0,
            OutputSpec {
                address: SocketAddr::V4(refused),
                protocol: Protocol::Udp,
                send: SendOptions {
                    interface: None,
                    ..lo_options()
                },
            },
        )
        .unwrap();
    let group: SocketAddrV4 = "239.255.91.4:46003".parse().unwrap();
    let rx = join(group);
    demux.set_channel(1, ChannelSpec::new(2, "Fine"));
    sender.set_output(1, spec(group, Protocol::Udp)).unwrap();
    let mut t = 0;
    run(&mut demux, &mut sender, &input, 500, &mut t);
    let refused_counters = sender.counters(0).unwrap();
    assert!(refused_counters.send_errors > 10, "{refused_counters:?}");
    assert!(sender.take_error(0).unwrap().contains("255.255.255.255:9"));
    assert!(
        !receive_all(&rx).is_empty(),
        "the other channel is unaffected"
    );
    assert_eq!(sender.counters(1).unwrap().send_errors, 0);
}

/// A backlog (the sender was held up, or the input ran ahead) leaves in few system calls:
/// each channel's run of datagrams is one GSO message, the channels share a `sendmmsg`.
#[test]
fn a_backlog_leaves_in_few_system_calls() {
    let input = synth::generate(
        &SynthConfig {
            bitrate: 20_000_000,
            ..SynthConfig::default()
        },
        6_000,
        0,
    );
    let groups =
        ["239.255.91.5:46004", "239.255.91.6:46004"].map(|g| g.parse::<SocketAddrV4>().unwrap());
    let receivers = groups.map(join);
    let mut demux = Demux::new(ClockConfig::default());
    let mut sender = Sender::new();
    for (k, g) in groups.iter().enumerate() {
        let k = k as u32;
        demux.set_channel(
            k,
            ChannelSpec {
                ring_datagrams: 2048,
                ..ChannelSpec::new(synth::service_id(k as u16), format!("C{k}"))
            },
        );
        sender
            .set_output(
                k,
                spec(*g, if k == 0 { Protocol::Udp } else { Protocol::Rtp }),
            )
            .unwrap();
    }
    demux.push(&input, 0);
    let (clock, channels) = demux.outputs();
    let queued: usize = channels.iter().map(|(_, c)| c.ring().len()).sum();
    // Everything is due a long time later.
    sender.send_due(clock, channels, 10_000_000_000, 1_000_000);
    let stats = sender.stats();
    assert_eq!(stats.datagrams as usize, queued);
    assert!(
        stats.messages * 20 <= stats.datagrams,
        "runs share a GSO message: {stats:?}"
    );
    assert!(
        stats.calls * 2 <= stats.messages,
        "messages share a sendmmsg: {stats:?}"
    );
    let received: Vec<Vec<Vec<u8>>> = receivers.iter().map(receive_all).collect();
    assert_eq!(
        received[0].len() + received[1].len(),
        queued,
        "every datagram arrived as its own datagram"
    );
    assert!(
        received[0]
            .iter()
            .all(|d| d.len() % 188 == 0 && d.len() <= 1316)
    );
    assert!(
        received[1]
            .iter()
            .all(|d| (d.len() - 12) % 188 == 0 && d.len() <= 1328 && d[0] == 0x80)
    );
    assert_eq!(analyze(&received[0].concat()).cc_errors, 0);
}
