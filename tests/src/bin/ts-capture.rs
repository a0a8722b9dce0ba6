//! Test tool: joins one multicast group on loopback and records what arrives, to a file,
//! for the host to judge with the analyzer. Prints JSON: datagrams, bytes, and the
//! silences longer than 500 ms (a tuner that lost its lock), in ms from the start.
//!
//! `ts-capture SECONDS GROUP:PORT FILE`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: ts-capture SECONDS GROUP:PORT FILE");
        std::process::exit(2);
    }
    let seconds: f64 = args[1].parse().expect("seconds");
    let group: SocketAddr = args[2].parse().expect("GROUP:PORT");
    let SocketAddr::V4(v4) = group else {
        panic!("IPv4 only")
    };
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
    s.set_reuse_address(true).expect("reuse");
    s.bind(&group.into()).expect("bind");
    s.join_multicast_v4(v4.ip(), &Ipv4Addr::LOCALHOST)
        .expect("join");
    let _ = s.set_recv_buffer_size(8 << 20);
    let s: std::net::UdpSocket = s.into();
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[3]).expect("output file"));

    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    let mut last: Option<Instant> = None;
    let mut first_ms: Option<u128> = None;
    let mut gaps = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        let Ok(n) = s.recv(&mut buf) else { continue };
        let now = Instant::now();
        if let Some(l) = last
            && now.duration_since(l) > Duration::from_millis(500)
        {
            gaps.push(format!(
                "[{}, {}]",
                l.duration_since(start).as_millis(),
                now.duration_since(start).as_millis()
            ));
        }
        first_ms.get_or_insert(now.duration_since(start).as_millis());
        last = Some(now);
        datagrams += 1;
        bytes += n as u64;
        // RTP: skip the 12-byte header, keep the TS.
        let at = if buf[0] == 0x47 { 0 } else { 12.min(n) };
        out.write_all(&buf[at..n]).expect("write");
    }
    out.flush().expect("flush");
    let last_ms = last.map(|l| l.duration_since(start).as_millis());
    println!(
        "{{\"group\": \"{group}\", \"seconds\": {seconds}, \"datagrams\": {datagrams}, \"bytes\": {bytes}, \"first_ms\": {}, \"last_ms\": {}, \"gaps_ms\": [{}]}}",
        first_ms.map_or("null".into(), |v| v.to_string()),
        last_ms.map_or("null".into(), |v| v.to_string()),
        gaps.join(", ")
    );
}
