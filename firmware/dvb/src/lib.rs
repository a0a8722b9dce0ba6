//! DVB devices through libdvbv5: the only crate of dvbgate with `unsafe` code for DVB.
//! Everything it exports is typed Rust.
//!
//! A DVB adapter (a tuner card or USB stick) shows up as `/dev/dvb/adapterN` with three
//! kinds of devices per tuner:
//!
//! - the **frontend** (`frontendM`) tunes: it is told a delivery system, frequency and
//!   modulation parameters, and for satellite first switches the LNB and dish
//!   (voltage, 22 kHz tone, DiSEqC); it reports lock and signal statistics.
//!   [`Frontend`], [`probe`];
//! - the **demux** (`demuxM`) picks PIDs out of the received transport stream, one
//!   filter per open: [`PidFilters`];
//! - the **dvr** (`dvrM`) delivers the picked packets, read in large chunks: [`Dvr`].
//!
//! [`discover`] lists the frontends, cheaply enough to be repeated to notice adapters
//! coming and going. What a tuning *is* (parameters, LNB arithmetic, DiSEqC bytes,
//! which statistics to believe) lives in `dvbgate-tuning`, without devices; this crate
//! only carries it out. libdvbv5's messages go to `tracing` under the target
//! `libdvbv5`.

#![allow(unsafe_code)]

mod demux;
mod device;
mod dvr;
mod error;
mod frontend;
mod log;
mod props;
mod system;

pub use demux::{FilterChange, MAX_PID, PidFilters, PidSelection, WHOLE_MUX_PID};
pub use device::{
    DVB_ROOT, FrontendDevice, FrontendId, ParseFrontendIdError, discover, discover_in, probe,
};
pub use dvr::{Dvr, DvrRead, buffer_bytes};
pub use error::{DvbError, PropertyError};
pub use frontend::Frontend;
pub use props::{Property, tuning_properties};
pub use system::{
    from_kernel as delivery_system_from_kernel, to_kernel as delivery_system_to_kernel,
};
