//! How much resident memory wrong password checks leave behind: 200 wrong verifications
//! from 8 threads through the store's pooled argon2 buffers, then 200 more through
//! argon2's own allocating API. A measurement, not a test (RSS depends on the allocator
//! and on what else the process did):
//!
//!     cargo run --release -p dvbgate-store --example argon2_memory

#![allow(clippy::print_stdout)] // printing the figures is its purpose

use argon2::password_hash::PasswordVerifier as _;
use argon2::{Argon2, PasswordHash};
use dvbgate_store::{hash_password, verify_password};

/// Resident set size of this process, in KiB (Linux only).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn wrong_logins(verify: &(dyn Fn(&str) -> bool + Sync)) {
    std::thread::scope(|scope| {
        for thread in 0..8 {
            scope.spawn(move || {
                for attempt in 0..25 {
                    assert!(!verify(&format!("wrong-{thread}-{attempt}")));
                }
            });
        }
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hash = hash_password("Right-Password")?;
    let before = rss_kib();
    wrong_logins(&|password| verify_password(&hash, password));
    let pooled = rss_kib();
    let parsed = PasswordHash::new(&hash).map_err(|e| e.to_string())?;
    wrong_logins(&|password| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    let allocating = rss_kib();
    println!(
        "VmRSS KiB: start {before:?}, after 200 pooled wrong verifications {pooled:?}, \
         after 200 more through argon2's own allocation {allocating:?}"
    );
    Ok(())
}
