//! A whole pipeline on real threads and sockets: a file played at real time into channels
//! sent to multicast groups on loopback; live changes; inputs that fail or carry garbage.

use dvbgate_net::Protocol;
use dvbgate_net::socket::SendOptions;
use dvbgate_outputs::OutputSpec;
use dvbgate_pipeline::{ChannelSetup, InputState, Pipeline, PipelineConfig, StartError};
use dvbgate_remux::ChannelSpec;
use dvbgate_remux::synth::{self, SynthConfig};
use dvbgate_ts::analyze::analyze;
use socket2::{Domain, Socket, Type};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

fn join(group: SocketAddrV4) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SocketAddr::V4(group).into()).unwrap();
    s.join_multicast_v4(group.ip(), &Ipv4Addr::LOCALHOST)
        .unwrap();
    s.set_recv_buffer_size(8 << 20).unwrap();
    s.into()
}

fn capture(sock: &UdpSocket, for_how_long: Duration) -> Vec<u8> {
    let deadline = Instant::now() + for_how_long;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
    }
    out
}

fn output(group: SocketAddrV4) -> OutputSpec {
    OutputSpec {
        address: SocketAddr::V4(group),
        protocol: Protocol::Udp,
        send: SendOptions {
            ipv6: false,
            interface: Some("lo".into()),
            ttl: 1,
            dscp: 0,
        },
    }
}

fn synth_file(seconds: f64) -> tempfile::NamedTempFile {
    let cfg = SynthConfig {
        bitrate: 4_000_000,
        ..SynthConfig::default()
    };
    let packets = (seconds * 4_000_000.0 / 8.0 / 188.0) as u64;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&synth::generate(&cfg, packets, 0)).unwrap();
    f
}

#[test]
fn a_file_becomes_paced_multicast_spts_and_channels_change_live() {
    let file = synth_file(1.0);
    let g1: SocketAddrV4 = "239.255.92.1:47001".parse().unwrap();
    let g2: SocketAddrV4 = "239.255.92.2:47001".parse().unwrap();
    let (r1, r2) = (join(g1), join(g2));
    let pipeline = Pipeline::start(
        PipelineConfig::new("synth", file.path().to_str().unwrap()),
        vec![ChannelSetup {
            key: 1,
            spec: ChannelSpec::new(1, "One"),
            output: Some(output(g1)),
        }],
    )
    .unwrap();
    let first = capture(&r1, Duration::from_millis(1500));
    // A second channel, and the first one moved to another group, while running.
    pipeline.set_channel(ChannelSetup {
        key: 2,
        spec: ChannelSpec::new(2, "Two"),
        output: Some(output(g1)),
    });
    pipeline.set_channel(ChannelSetup {
        key: 1,
        spec: ChannelSpec::new(1, "One"),
        output: Some(output(g2)),
    });
    std::thread::sleep(Duration::from_millis(100));
    let _ = capture(&r1, Duration::from_millis(50));
    let moved = capture(&r2, Duration::from_millis(1500));
    let second = capture(&r1, Duration::from_millis(100));

    let a = analyze(&first);
    assert_eq!(a.services.len(), 1);
    assert_eq!(a.services[0].name.as_deref(), Some("One"));
    assert_eq!(
        a.cc_errors, 0,
        "the file looped but counters stay continuous"
    );
    // Real time: 1.5 s of a 4 Mbit/s multiplex carries about 1.5 s of service 1.
    let expected = 0.15 * 4_000_000.0 * 1.5 / 8.0; // service 1 is ~15 % of the mux
    assert!(
        (first.len() as f64) > expected * 0.5 && (first.len() as f64) < expected * 2.0,
        "{} bytes",
        first.len()
    );
    let m = analyze(&moved);
    assert_eq!(
        m.services[0].service_id, 1,
        "channel 1 now arrives on the second group"
    );
    assert_eq!(
        analyze(&second).services[0].service_id,
        2,
        "channel 2 took the first group"
    );

    let s = pipeline.snapshot();
    assert_eq!(s.input.state, InputState::Running);
    assert!(
        s.input.bitrate_bps > 3_000_000 && s.input.bitrate_bps < 5_000_000,
        "{}",
        s.input.bitrate_bps
    );
    assert_eq!(s.input.services.len(), 4);
    assert!(s.input.source.loops >= 2);
    assert_eq!(s.channels.len(), 2);
    assert!(s.channels[&1].datagrams > 100);
    pipeline.stop();
}

#[test]
fn an_input_that_cannot_open_fails_at_start_with_its_name() {
    let e = Pipeline::start(PipelineConfig::new("missing", "/no/such/file.ts"), vec![])
        .err()
        .unwrap();
    assert!(matches!(e, StartError::Input(_)));
    assert!(e.to_string().contains("/no/such/file.ts"), "{e}");
    let held = UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://127.0.0.1:{}", held.local_addr().unwrap().port());
    let e = Pipeline::start(PipelineConfig::new("busy", &url), vec![])
        .err()
        .unwrap();
    assert!(e.to_string().contains(&url), "{e}");
}

#[test]
fn garbage_on_a_udp_input_is_reported_not_fatal() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pipeline = Pipeline::start(
        PipelineConfig::new("noise", format!("udp://127.0.0.1:{port}")),
        vec![],
    )
    .unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let noise: Vec<u8> = (0..1316u32).map(|i| (i * 13 % 251) as u8).collect();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        tx.send_to(&noise, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let s = pipeline.snapshot();
    assert_eq!(s.input.state, InputState::NoSync);
    assert!(s.input.skipped_bytes > 100_000);
    assert_eq!(s.input.packets, 0);
    // Then a real stream on the same input is picked up.
    let mux = synth::generate(
        &SynthConfig {
            bitrate: 2_000_000,
            ..SynthConfig::default()
        },
        3000,
        0,
    );
    for d in mux.chunks(1316) {
        tx.send_to(d, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_micros(500));
    }
    std::thread::sleep(Duration::from_millis(300));
    let s = pipeline.snapshot();
    assert_eq!(s.input.state, InputState::Running);
    assert_eq!(s.input.services.len(), 4);
}

#[test]
fn silence_is_reported_as_no_data() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pipeline = Pipeline::start(
        PipelineConfig::new("quiet", format!("udp://127.0.0.1:{port}")),
        vec![],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(pipeline.snapshot().input.state, InputState::NoData);
}

/// A source like a tuner: its own opener, bytes from memory, and a record of the PID
/// selections the pipeline asked for.
struct FilteringSource {
    bytes: Vec<u8>,
    offset: usize,
    selections: std::sync::Arc<std::sync::Mutex<Vec<dvbgate_inputs::PidSelection>>>,
}

impl dvbgate_inputs::MuxInput for FilteringSource {
    fn poll(
        &mut self,
        _now: Instant,
        sink: &mut dyn dvbgate_inputs::InputSink,
    ) -> Result<usize, dvbgate_inputs::InputError> {
        // About 4 Mbit/s at a 2 ms tick.
        let n = (5 * 188).min(self.bytes.len() - self.offset);
        sink.data(&self.bytes[self.offset..self.offset + n]);
        self.offset = (self.offset + n) % self.bytes.len();
        Ok(n)
    }
    fn stats(&self) -> dvbgate_inputs::SourceStats {
        dvbgate_inputs::SourceStats::default()
    }
    fn describe(&self) -> String {
        "filtering test source".into()
    }
    fn select_pids(&mut self, wanted: &dvbgate_inputs::PidSelection) {
        self.selections.lock().unwrap().push(wanted.clone());
    }
}

struct FilteringOpener {
    bytes: Vec<u8>,
    selections: std::sync::Arc<std::sync::Mutex<Vec<dvbgate_inputs::PidSelection>>>,
    opens: std::sync::atomic::AtomicUsize,
}

impl dvbgate_inputs::OpenInput for FilteringOpener {
    fn open(&self) -> Result<Box<dyn dvbgate_inputs::MuxInput>, dvbgate_inputs::InputError> {
        self.opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(FilteringSource {
            bytes: self.bytes.clone(),
            offset: 0,
            selections: std::sync::Arc::clone(&self.selections),
        }))
    }
}

#[test]
fn an_input_with_its_own_opener_is_told_which_pids_are_needed() {
    use dvbgate_inputs::PidSelection;
    let cfg = SynthConfig {
        bitrate: 4_000_000,
        ..SynthConfig::default()
    };
    let selections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let opener = std::sync::Arc::new(FilteringOpener {
        bytes: synth::generate(&cfg, 20_000, 0),
        selections: std::sync::Arc::clone(&selections),
        opens: Default::default(),
    });
    let config = PipelineConfig {
        opener: Some(opener.clone()),
        ..PipelineConfig::new("filtered", "dvb-t://474MHz?bandwidth=8MHz")
    };
    let channel = ChannelSetup {
        key: 2,
        spec: ChannelSpec::new(synth::service_id(2), "Two"),
        output: None,
    };
    let pipeline = Pipeline::start(config, vec![channel]).unwrap();
    assert_eq!(opener.opens.load(std::sync::atomic::Ordering::SeqCst), 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    let wanted = loop {
        let last = selections.lock().unwrap().last().cloned();
        if let Some(PidSelection::Pids(p)) = &last
            && p.contains(&synth::video_pid(2))
        {
            break p.clone();
        }
        assert!(
            Instant::now() < deadline,
            "selections: {:?}",
            selections.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let first = selections.lock().unwrap()[0].clone();
    assert_eq!(
        first,
        PidSelection::Pids(vec![0x00, 0x01, 0x10, 0x11, 0x12, 0x14]),
        "before any table, only the fixed tables' PIDs"
    );
    assert!(wanted.contains(&synth::audio_pid(2)));
    assert!(
        !wanted.contains(&synth::video_pid(1)),
        "other services' ES are not wanted"
    );
    let calls = selections.lock().unwrap().len();
    assert!(calls <= 4, "only changes are passed on: {calls} calls");
    pipeline.stop();
}

#[test]
fn a_running_multiplex_answers_a_scan_from_its_tables() {
    let cfg = SynthConfig {
        bitrate: 4_000_000,
        ..SynthConfig::default()
    };
    let opener = std::sync::Arc::new(FilteringOpener {
        bytes: synth::generate(&cfg, 20_000, 0),
        selections: Default::default(),
        opens: Default::default(),
    });
    let url = "dvb-t://474MHz?bandwidth=8MHz";
    let config = PipelineConfig {
        opener: Some(opener),
        ..PipelineConfig::new("surveyed", url)
    };
    let pipeline = Pipeline::start(config, Vec::new()).unwrap();
    let tuning: dvbgate_tuning::Tuning = url.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let survey = loop {
        match pipeline.survey(tuning, Duration::from_secs(1)) {
            Some(s) if s.found.services.len() == usize::from(cfg.services) => break s,
            _ => {}
        }
        assert!(Instant::now() < deadline, "no survey with every service");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(survey.found.tuning, tuning);
    let ids: Vec<u16> = survey.found.services.iter().map(|s| s.service_id).collect();
    for i in 0..cfg.services {
        assert!(ids.contains(&synth::service_id(i)), "{ids:?}");
    }
    assert!(
        survey.nit_tunings.is_empty(),
        "the synthetic mux has no NIT"
    );
    pipeline.stop();
}
