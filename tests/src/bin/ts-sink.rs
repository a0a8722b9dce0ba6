//! Bench tool: joins multicast groups on the loopback interface and counts what arrives:
//! datagrams, TS packets, continuity errors (lost packets). Prints JSON per group.
//!
//! `ts-sink SECONDS GROUP:PORT...`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ts-sink SECONDS GROUP:PORT...");
        std::process::exit(2);
    }
    let seconds: f64 = args[1].parse().expect("seconds");
    let groups: Vec<SocketAddr> = args[2..]
        .iter()
        .map(|g| g.parse().expect("GROUP:PORT"))
        .collect();
    let handles: Vec<_> = groups
        .into_iter()
        .map(|g| {
            std::thread::spawn(move || {
                let SocketAddr::V4(v4) = g else { panic!("IPv4 only") };
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
                s.set_reuse_address(true).expect("reuse");
                s.bind(&g.into()).expect("bind");
                s.join_multicast_v4(v4.ip(), &Ipv4Addr::LOCALHOST).expect("join");
                let _ = s.set_recv_buffer_size(16 << 20);
                let s: std::net::UdpSocket = s.into();
                s.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
                let end = Instant::now() + Duration::from_secs_f64(seconds);
                let mut last_cc = vec![None::<u8>; 8192];
                let (mut datagrams, mut packets, mut cc_errors) = (0u64, 0u64, 0u64);
                let mut buf = [0u8; 2048];
                while Instant::now() < end {
                    let Ok(n) = s.recv(&mut buf) else { continue };
                    datagrams += 1;
                    let start = if buf[0] == 0x47 { 0 } else { 12 };
                    for p in buf[start..n].chunks_exact(188) {
                        packets += 1;
                        let pid = usize::from(u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]));
                        if pid == 0x1FFF || p[3] & 0x10 == 0 {
                            continue;
                        }
                        let cc = p[3] & 0x0F;
                        if let Some(l) = last_cc[pid]
                            && cc != (l + 1) & 0x0F && cc != l {
                                cc_errors += 1;
                            }
                        last_cc[pid] = Some(cc);
                    }
                }
                format!("{{\"group\": \"{g}\", \"datagrams\": {datagrams}, \"packets\": {packets}, \"cc_errors\": {cc_errors}}}")
            })
        })
        .collect();
    let results: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("sink thread"))
        .collect();
    println!("[{}]", results.join(", "));
}
