//! Smoke test of dvbgate-dvb on a real kernel DVB API, made for the kernel's virtual
//! driver vidtv (DVB-T/T2/C at 474 MHz, DVB-S/S2 at 11362 MHz behind a universal LNB)
//! but useful on any adapter: it lists the frontends, tunes, waits for lock, prints
//! statistics, filters PIDs, reads the dvr device and counts packets per PID, and checks
//! the error paths (frequency out of range, frontend busy).
//!
//!     cargo run -p dvbgate-dvb --example dvb-smoke [adapterN/frontendM]
//!
//! Prints `SMOKE PASS` and exits 0 when everything behaved; otherwise lists what did not
//! and exits 1. `DVBGATE_LOG=debug` shows libdvbv5's messages too.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dvbgate_dvb::{
    DvbError, Dvr, DvrRead, Frontend, FrontendDevice, FrontendId, PidFilters, PidSelection,
    buffer_bytes, discover, probe,
};
use dvbgate_tuning::DeliverySystem;
use dvbgate_tuning::params::{CodeRate, Lnb, Modulation, Params, Polarisation, Switch, Tuning};
use dvbgate_tuning::sec::{self, TunerSetup};
use dvbgate_tuning::signal::RawStats;

const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
const READ_FOR: Duration = Duration::from_secs(2);

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DVBGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut failures = Vec::new();
    if let Err(e) = run(&mut failures) {
        failures.push(format!("stopped: {e}"));
    }
    if failures.is_empty() {
        println!("SMOKE PASS");
    } else {
        println!("SMOKE FAIL ({} problems):", failures.len());
        for f in &failures {
            println!("  - {f}");
        }
        std::process::exit(1);
    }
}

fn run(failures: &mut Vec<String>) -> Result<(), DvbError> {
    println!("== discovery");
    let devices = discover()?;
    for device in &devices {
        match probe(device.id) {
            Ok(caps) => println!(
                "{}: \"{}\" systems [{}] frequency {}..={} Hz, symbol rate {}..={} Bd\n    demux {} dvr {}",
                device.id,
                caps.name,
                caps.systems
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                caps.frequency_min_hz,
                caps.frequency_max_hz,
                caps.symbol_rate_min,
                caps.symbol_rate_max,
                device.demux.display(),
                device.dvr.display(),
            ),
            Err(e) => println!("{}: probe failed: {e}", device.id),
        }
    }
    let device: FrontendDevice = match std::env::args().nth(1) {
        Some(arg) => match arg.parse::<FrontendId>() {
            Ok(id) => id.device(),
            Err(e) => {
                failures.push(e.to_string());
                return Ok(());
            }
        },
        None => match devices.first() {
            Some(d) => d.clone(),
            None => {
                failures.push("no DVB frontend found under /dev/dvb".into());
                return Ok(());
            }
        },
    };

    println!("\n== open {}", device.id);
    let mut frontend = Frontend::open(device.id)?;
    println!("opened {}", frontend.path().display());

    println!("\n== second open of the same frontend (expect busy)");
    match Frontend::open(device.id) {
        Err(e @ DvbError::Busy { .. }) => println!("ok: {e}"),
        Err(e) => failures.push(format!("second open: expected Busy, got: {e}")),
        Ok(_) => failures.push("second open succeeded; expected Busy".into()),
    }
    match probe(device.id) {
        Ok(caps) => println!("read-only probe while held still works: \"{}\"", caps.name),
        Err(e) => failures.push(format!("probe while held: {e}")),
    }

    let dvbt = terrestrial(474_000_000);
    println!("\n== DVB-T 474 MHz, 8 MHz");
    if tune_and_lock(&mut frontend, &dvbt, failures)? {
        for _ in 0..3 {
            print_stats(&frontend.stats()?);
            std::thread::sleep(Duration::from_millis(500));
        }
        stream(&device, failures)?;
    }

    println!("\n== DVB-T2 474 MHz, 8 MHz, PLP 0");
    let mut dvbt2 = terrestrial(474_000_000);
    dvbt2.system = DeliverySystem::DvbT2;
    if let Params::Terrestrial { plp_id, .. } = &mut dvbt2.params {
        *plp_id = Some(0);
    }
    if tune_and_lock(&mut frontend, &dvbt2, failures)? {
        print_stats(&frontend.stats()?);
    }

    println!("\n== DVB-C 474 MHz, 6.94 MBd, QAM-256, FEC none");
    let dvbc = Tuning {
        system: DeliverySystem::DvbC,
        frequency_hz: 474_000_000,
        params: Params::Cable {
            symbol_rate: 6_940_000,
            modulation: Some(Modulation::Qam256),
            fec: Some(CodeRate::None),
        },
    };
    if tune_and_lock(&mut frontend, &dvbc, failures)? {
        print_stats(&frontend.stats()?);
    }

    println!("\n== DVB-S2 11362 MHz H, 27.5 MBd, 8PSK 3/4, universal LNB");
    let dvbs2 = Tuning {
        system: DeliverySystem::DvbS2,
        frequency_hz: 11_362_000_000,
        params: Params::Satellite {
            polarisation: Polarisation::H,
            symbol_rate: 27_500_000,
            fec: Some(CodeRate::R3_4),
            modulation: Some(Modulation::Psk8),
            rolloff: None,
            stream_id: None,
            lnb: Lnb::Universal,
            switch: Switch::default(),
        },
    };
    match sec::plan(&dvbs2, &TunerSetup::default()) {
        Ok(plan) => {
            println!(
                "SEC plan: {:?}, IF {} Hz",
                plan.steps, plan.intermediate_frequency_hz
            );
            if plan.intermediate_frequency_hz != 1_612_000_000 {
                failures.push(format!(
                    "universal LNB low band should give IF 1612 MHz, plan says {}",
                    plan.intermediate_frequency_hz
                ));
            }
            let started = Instant::now();
            frontend.tune(&dvbs2, Some(&plan))?;
            let flags = frontend.wait_lock(LOCK_TIMEOUT)?;
            println!("flags {flags:?} after {:?}", started.elapsed());
            if flags.lock {
                print_stats(&frontend.stats()?);
            } else {
                failures.push("DVB-S2 did not lock".into());
            }
        }
        Err(e) => failures.push(format!("SEC plan: {e}")),
    }

    println!("\n== DVB-T at 3 GHz (expect out of range)");
    match frontend.tune(&terrestrial(3_000_000_000), None) {
        Err(e @ DvbError::Caps(_)) => println!("ok: {e}"),
        Err(e) => failures.push(format!("3 GHz: expected a range error, got: {e}")),
        Ok(()) => failures.push("3 GHz was accepted".into()),
    }

    println!("\n== DVB-T at 522 MHz (nothing there: expect no lock)");
    frontend.tune(&terrestrial(522_000_000), None)?;
    let flags = frontend.wait_lock(Duration::from_secs(2))?;
    println!("flags {flags:?}");
    print_stats(&frontend.stats()?);
    if flags.lock {
        failures.push("522 MHz locked".into());
    }

    println!("\n== sleep and close");
    frontend.sleep()?;
    drop(frontend);
    match Frontend::open(device.id) {
        Ok(_) => println!("reopened after close: ok"),
        Err(e) => failures.push(format!("reopen after close: {e}")),
    }
    Ok(())
}

fn terrestrial(frequency_hz: u64) -> Tuning {
    Tuning {
        system: DeliverySystem::DvbT,
        frequency_hz,
        params: Params::Terrestrial {
            bandwidth_hz: 8_000_000,
            modulation: None,
            code_rate_hp: None,
            code_rate_lp: None,
            transmission_mode: None,
            guard_interval: None,
            hierarchy: None,
            plp_id: None,
        },
    }
}

fn tune_and_lock(
    frontend: &mut Frontend,
    tuning: &Tuning,
    failures: &mut Vec<String>,
) -> Result<bool, DvbError> {
    let started = Instant::now();
    frontend.tune(tuning, None)?;
    let returned = started.elapsed();
    let flags = frontend.wait_lock(LOCK_TIMEOUT)?;
    println!(
        "tune returned after {returned:?}; flags {flags:?} after {:?}",
        started.elapsed()
    );
    if !flags.lock {
        failures.push(format!(
            "{} {} Hz did not lock",
            tuning.system, tuning.frequency_hz
        ));
    }
    Ok(flags.lock)
}

fn print_stats(stats: &RawStats) {
    println!(
        "stats: lock={} strength={:?} cnr={:?} pre_ber={:?}/{:?} post_ber={:?}/{:?} blocks={:?}/{:?}",
        stats.flags.lock,
        stats.strength,
        stats.cnr,
        stats.pre_error_bits,
        stats.pre_total_bits,
        stats.post_error_bits,
        stats.post_total_bits,
        stats.error_blocks,
        stats.total_blocks
    );
}

/// PID filters for vidtv's service, then the whole multiplex; packets counted per PID.
fn stream(device: &FrontendDevice, failures: &mut Vec<String>) -> Result<(), DvbError> {
    let mut dvr = Dvr::open(&device.dvr)?;
    let size = buffer_bytes(20_000_000, Duration::from_secs(1));
    dvr.set_buffer_size(size)?;
    println!(
        "dvr {} open, kernel buffer {size} bytes",
        device.dvr.display()
    );
    let mut filters = PidFilters::new(&device.demux);

    let wanted: BTreeSet<u16> = [0, 0x11, 0x101, 0x111, 0x200].into();
    let change = filters.set(&PidSelection::Pids(wanted.clone()))?;
    println!(
        "filters: +{:04x?} -{:04x?}, {} active",
        change.added,
        change.removed,
        filters.active()
    );
    let counts = count_packets(&mut dvr)?;
    let unwanted: Vec<u16> = counts
        .pids
        .keys()
        .copied()
        .filter(|p| !wanted.contains(p))
        .collect();
    if counts.packets == 0 {
        failures.push("no packets with PID filters".into());
    }
    if !unwanted.is_empty() {
        failures.push(format!("PIDs not asked for arrived: {unwanted:04x?}"));
    }
    for pid in [0u16, 0x11, 0x101, 0x111] {
        if !counts.pids.contains_key(&pid) {
            failures.push(format!("no packets on PID {pid:#06x}"));
        }
    }

    // A PMT change: one PID more, one less; only those two filters change.
    let changed: BTreeSet<u16> = [0, 0x11, 0x12, 0x101, 0x111].into();
    let change = filters.set(&PidSelection::Pids(changed))?;
    println!(
        "PMT-like change: +{:04x?} -{:04x?}, {} active",
        change.added,
        change.removed,
        filters.active()
    );
    if change.added != [0x12] || change.removed != [0x200] {
        failures.push(format!("filter diff wrong: {change:?}"));
    }

    let change = filters.set(&PidSelection::WholeMux)?;
    println!(
        "whole mux: +{:04x?} -{:04x?}, {} active",
        change.added,
        change.removed,
        filters.active()
    );
    // Drop what the PID filters left in the ring, then count.
    let mut scratch = vec![0u8; 188 * 4096];
    while let DvrRead::Data(_) = dvr.read(&mut scratch)? {}
    let counts = count_packets(&mut dvr)?;
    if !counts.pids.contains_key(&0x1fff) || !counts.pids.contains_key(&0x12) {
        failures.push("whole mux: expected NULL packets and the EIT PID".into());
    }

    // Overflow: a small kernel buffer and a reader that sleeps. The kernel drops what
    // does not fit, says EOVERFLOW once, and the next read delivers again.
    // (vidtv delivers ~49 KB bursts: the ring must hold one, or every read overflows.)
    dvr.set_buffer_size(188 * 1024)?;
    std::thread::sleep(Duration::from_millis(300));
    let first = dvr.read(&mut scratch)?;
    let mut next = dvr.read(&mut scratch)?;
    for _ in 0..100 {
        if next != DvrRead::Empty {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        next = dvr.read(&mut scratch)?;
    }
    println!(
        "192 KB buffer, 300 ms asleep: read {first:?}, then {next:?}; overflows {}",
        dvr.overflows()
    );
    if first != DvrRead::Overflow || !matches!(next, DvrRead::Data(_)) {
        failures.push(format!(
            "overflow: expected Overflow then Data, got {first:?} then {next:?}"
        ));
    }
    filters.clear();
    println!("cleared: {} active", filters.active());
    Ok(())
}

struct Counts {
    packets: u64,
    pids: BTreeMap<u16, u64>,
}

fn count_packets(dvr: &mut Dvr) -> Result<Counts, DvbError> {
    let mut buf = vec![0u8; 188 * 4096];
    let mut fill = 0usize;
    let mut counts = Counts {
        packets: 0,
        pids: BTreeMap::new(),
    };
    let (mut reads, mut empties, mut bytes, mut largest, mut sync_errors) =
        (0u64, 0u64, 0u64, 0usize, 0u64);
    let start = Instant::now();
    while start.elapsed() < READ_FOR {
        match dvr.read(&mut buf[fill..])? {
            DvrRead::Data(n) => {
                reads += 1;
                bytes += n as u64;
                largest = largest.max(n);
                fill += n;
                let whole = fill / 188 * 188;
                for packet in buf[..whole].chunks_exact(188) {
                    if packet[0] != 0x47 {
                        sync_errors += 1;
                        continue;
                    }
                    let pid = u16::from(packet[1] & 0x1f) << 8 | u16::from(packet[2]);
                    *counts.pids.entry(pid).or_default() += 1;
                    counts.packets += 1;
                }
                buf.copy_within(whole..fill, 0);
                fill -= whole;
            }
            DvrRead::Empty => {
                empties += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            DvrRead::Overflow => println!("dvr overflow (total {})", dvr.overflows()),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "read {bytes} bytes in {reads} reads (largest {largest}, {empties} empty) over {secs:.2} s = {:.2} Mbit/s, sync errors {sync_errors}, overflows {}",
        bytes as f64 * 8.0 / secs / 1e6,
        dvr.overflows()
    );
    let per_pid: Vec<String> = counts
        .pids
        .iter()
        .map(|(pid, n)| format!("{pid:#06x}:{n}"))
        .collect();
    println!("packets per PID: {}", per_pid.join(" "));
    Ok(counts)
}
