//! Bench tool: sends a TS file over UDP at a given rate, 7 packets per datagram, in
//! `sendmmsg` batches, looping, for a given time; prints what it sent as JSON.
//!
//! `ts-feed FILE ADDR:PORT BITS_PER_SECOND SECONDS`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, sendmmsg};
use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const BATCH: usize = 32;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: ts-feed FILE ADDR:PORT BITS_PER_SECOND SECONDS");
        std::process::exit(2);
    }
    let mut data = std::fs::read(&args[1]).expect("read the TS file");
    let to: SocketAddr = args[2].parse().expect("ADDR:PORT");
    let rate: f64 = args[3].parse().expect("rate in bit/s");
    let seconds: f64 = args[4].parse().expect("seconds");
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket2::SockRef::from(&socket)
        .set_send_buffer_size(8 << 20)
        .ok();
    data.truncate(data.len() / 1316 * 1316);
    let loop_step = continuity_step(&data);
    let dest = SockaddrIn::from(to);
    let addrs = [Some(dest); BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let per_datagram = 1316.0 * 8.0 / rate;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let (mut sent, mut next) = (0u64, 0usize);
    let datagrams = data.len() / 1316;
    while Instant::now() < end {
        if next + BATCH > datagrams {
            // Wrap: continue every PID's continuity counter, as a live source would.
            advance_counters(&mut data, &loop_step);
            next = 0;
        }
        let iovs: Vec<[IoSlice<'_>; 1]> = (0..BATCH)
            .map(|k| {
                [IoSlice::new(
                    &data[(next + k) * 1316..(next + k + 1) * 1316],
                )]
            })
            .collect();
        let no_control: [ControlMessage<'_>; 0] = [];
        match sendmmsg(
            socket.as_raw_fd(),
            &mut headers,
            &iovs,
            addrs,
            no_control,
            MsgFlags::empty(),
        ) {
            Ok(r) => {
                let n = r.count();
                sent += n as u64;
                next += n;
            }
            Err(e) => eprintln!("send: {e}"),
        }
        let due = start + Duration::from_secs_f64(sent as f64 * per_datagram);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{{\"datagrams\": {sent}, \"bytes\": {}, \"seconds\": {elapsed:.3}, \"bitrate\": {:.0}}}",
        sent * 1316,
        sent as f64 * 1316.0 * 8.0 / elapsed
    );
}

/// Per PID, how far its continuity counter must move at each wrap so that the first packet
/// of the next pass follows the last of this one.
fn continuity_step(data: &[u8]) -> Vec<u8> {
    let mut first = vec![None::<u8>; 8192];
    let mut last = vec![0u8; 8192];
    for p in data.chunks_exact(188) {
        let pid = usize::from(u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]));
        if p[3] & 0x10 != 0 {
            first[pid].get_or_insert(p[3] & 0x0F);
            last[pid] = p[3] & 0x0F;
        }
    }
    (0..8192)
        .map(|pid| first[pid].map_or(0, |f| (last[pid] + 1).wrapping_sub(f) & 0x0F))
        .collect()
}

fn advance_counters(data: &mut [u8], step: &[u8]) {
    for p in data.chunks_exact_mut(188) {
        let pid = usize::from(u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]));
        p[3] = (p[3] & 0xF0) | ((p[3] + step[pid]) & 0x0F);
    }
}
