//! Everything about DVB tuners that needs no tuner: pure logic, unit-tested and fuzzed.
//!
//! - [`params`]: what a multiplex is tuned with (delivery system, frequency, modulation…),
//!   and its URL form (`dvb-t://474MHz?bandwidth=8MHz`), which is how an input names it;
//! - [`file`]: initial-tuning files, dvbv5 format and the legacy one (Debian's
//!   dtv-scan-tables);
//! - [`lnb`], [`diseqc`], [`unicable`], [`sec`]: satellite equipment control: which local
//!   oscillator, which voltage and tone, which command bytes, which intermediate frequency;
//! - [`signal`]: statistics as the driver reports them, and which of them to believe;
//! - [`lock`]: when to retune a tuner that lost its lock or its data, with backoff;
//! - [`allocate`]: which tuner serves which multiplex, and who yields;
//! - [`scan`]: the scan's queue, what a multiplex's tables say about its services and
//!   about other multiplexes (NIT delivery descriptors, logical channel numbers).
//!
//! The device side (libdvbv5, ioctls, file descriptors) is `dvbgate-dvb`.

#![forbid(unsafe_code)]

pub mod allocate;
pub mod caps;
pub mod diseqc;
pub mod file;
pub mod lnb;
pub mod lock;
pub mod params;
pub mod rate;
pub mod scan;
pub mod sec;
pub mod signal;
pub mod unicable;

pub use params::{DeliverySystem, Tuning};
