//! Crash safety: a change the store acknowledged (the call returned Ok) survives a
//! SIGKILL right after it, and a kill at any moment leaves a database that opens
//! with intact records and consistent indexes.
//!
//! The test re-executes its own binary as the writer (`child_writer`, which does
//! nothing unless `CHILD_DIR_ENV` is set). The child prints `ACK added ID` /
//! `ACK removed ID` only after the call returned (and `ACK removing ID` before a
//! removal, which may commit unacknowledged); the parent kills it at a
//! pseudo-random moment, reopens the database and checks every acknowledged change,
//! twenty rounds on the same directory.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dvbgate_store::{NewChannel, NewInput, Settings, Store};

const CHILD_DIR_ENV: &str = "DVBGATE_STORE_KILL_TEST_DIR";
const ROUNDS: usize = 20;

/// The writer process. Under a normal `cargo test` it returns at once.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).expect("the child opens the store");
    // A /16 pool so that twenty rounds of additions never exhaust it.
    let wide = Settings {
        pool: "239.255.0.0/16".parse().expect("cidr"),
        ..Settings::default()
    };
    if store.settings().expect("settings") != wide {
        store.set_settings(&wide).expect("set settings");
    }
    let input_id = match store.inputs().expect("inputs").first() {
        Some(input) => input.id,
        None => {
            let new = NewInput {
                name: "Sat".into(),
                url: "udp://@239.1.1.1:1234".into(),
                enabled: true,
                auto_channels: false,
            };
            store.add_input(new).expect("add input").id
        }
    };
    let mut out = std::io::stdout().lock();
    // libtest may have written "test child_writer ... " without a line break.
    writeln!(out).expect("stdout");
    // Bounded, in case the parent dies without killing us.
    let deadline = Instant::now() + Duration::from_secs(30);
    for step in 0u32.. {
        if Instant::now() > deadline {
            break;
        }
        let name = format!("Channel {step}");
        let channel = store
            .add_channel(NewChannel::new(input_id, 1 + (step % 1000) as u16, name))
            .expect("add channel");
        writeln!(out, "ACK added {}", channel.id).expect("stdout");
        out.flush().expect("stdout");
        if step % 3 == 2 {
            let oldest = store
                .channels()
                .expect("channels")
                .iter()
                .map(|c| c.id)
                .min();
            if let Some(oldest) = oldest {
                // Announced first: once the removal may have committed, the parent
                // must no longer expect the channel.
                writeln!(out, "ACK removing {oldest}").expect("stdout");
                out.flush().expect("stdout");
                store.remove_channel(oldest).expect("remove channel");
                writeln!(out, "ACK removed {oldest}").expect("stdout");
                out.flush().expect("stdout");
            }
        }
    }
}

/// xorshift64*: enough randomness to vary the kill moment, no dependency.
struct Random(u64);

impl Random {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Random((nanos ^ u64::from(std::process::id())) | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    if std::env::var_os(CHILD_DIR_ENV).is_some() {
        return; // we are the child
    }
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("config");
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut random = Random::new();
    let seed = random.0;
    let mut present = BTreeSet::new();
    let mut removed = BTreeSet::new();
    let mut acknowledged_total = 0;

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["child_writer", "--exact", "--test-threads=1"])
            .env(CHILD_DIR_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the writer");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut record = |line: &str| {
            let Some(ack) = line.strip_prefix("ACK ") else {
                return false;
            };
            let (what, id) = ack.split_once(' ').expect("ACK line has a verb and an id");
            let id: u32 = id.parse().expect("ACK id");
            match what {
                "added" => {
                    present.insert(id);
                }
                "removing" => {
                    present.remove(&id);
                }
                "removed" => {
                    removed.insert(id);
                }
                other => panic!("unknown ACK {other}"),
            }
            acknowledged_total += 1;
            true
        };

        // Kill after 0..24 acknowledgements plus up to 3 ms: sometimes during the
        // open (round 0: during creation), mostly in the middle of a change.
        let acks_before_kill = random.below(25);
        let mut seen = 0;
        while seen < acks_before_kill {
            match lines.next() {
                Some(line) => {
                    if record(&line.expect("read child stdout")) {
                        seen += 1;
                    }
                }
                None => panic!("round {round}: the writer exited early (seed {seed:#x})"),
            }
        }
        std::thread::sleep(Duration::from_micros(random.below(3000)));
        child.kill().expect("SIGKILL the writer");
        child.wait().expect("reap the writer");
        // Lines written before the kill were acknowledged too.
        for line in lines {
            record(&line.expect("read child stdout"));
        }

        let store = Store::open(&dir).unwrap_or_else(|error| {
            panic!("round {round}: reopening after SIGKILL failed (seed {seed:#x}): {error}")
        });
        store.verify().unwrap_or_else(|error| {
            panic!("round {round}: inconsistent after SIGKILL (seed {seed:#x}): {error}")
        });
        let ids: BTreeSet<u32> = store
            .channels()
            .expect("all records decode")
            .iter()
            .map(|c| c.id)
            .collect();
        for id in &present {
            assert!(
                ids.contains(id),
                "round {round}: acknowledged channel {id} was lost (seed {seed:#x})"
            );
            let channel = store.channel(*id).expect("decodes").expect("present");
            assert_eq!(
                store.channel_by_number(channel.number).expect("read"),
                Some(channel)
            );
        }
        for id in &removed {
            assert!(
                !ids.contains(id),
                "round {round}: removed channel {id} came back (seed {seed:#x})"
            );
        }
    }
    assert!(
        acknowledged_total > ROUNDS,
        "too few changes were made to test anything"
    );
}
