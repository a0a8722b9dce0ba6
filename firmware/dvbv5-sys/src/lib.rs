//! Raw bindings to libdvbv5, the DVB library of v4l-utils (Debian: `libdvbv5-dev`).
//!
//! The bindings are generated at build time by bindgen from the headers of the library
//! that is linked, allow-listing only what dvbgate uses: opening a frontend, storing its
//! tuning properties and setting them, statistics, satellite equipment control (voltage,
//! tone, DiSEqC), demux PES filters, and the kernel's `DTV_*`, `SYS_*`, `FE_*` and
//! `DMX_*` values. Kernel enums are modules of constants (`fe_modulation::QAM_256`),
//! because a driver may report a value newer than these headers.
//!
//! libdvbv5 logs through a printf-style variadic callback, which stable Rust cannot
//! define. A small C shim is that callback ([`dvbgate_dvbv5_log`]): it formats the
//! message and hands the string to a plain function set with [`dvbgate_set_log_sink`].
//!
//! Everything here is `unsafe`; `dvbgate-dvb` is the safe layer above it.

#![allow(unsafe_code)]
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(clippy::all)]
#![allow(rust_2018_idioms)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// `DTV_STREAM_ID` value meaning "no stream selected": the first PLP or input stream.
/// `(~0U)` in `<linux/dvb/frontend.h>`; written here because bindgen's macro evaluator
/// reads it as the signed `-1`.
pub const NO_STREAM_ID_FILTER: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// The library is linked and answers: its own name for a property command.
    #[test]
    fn libdvbv5_names_a_property() {
        // SAFETY: dvb_cmd_name returns a pointer into libdvbv5's static name table, or
        // NULL for an unknown command; it takes no other input.
        let name = unsafe { dvb_cmd_name(DTV_STREAM_ID as i32) };
        assert!(!name.is_null());
        // SAFETY: non-null, NUL-terminated static string (checked above).
        let name = unsafe { CStr::from_ptr(name) };
        assert_eq!(name.to_str(), Ok("STREAM_ID"));
    }

    /// Values the kernel ABI fixes; if bindgen read other headers than expected (a
    /// wrong target, a mangled include path), these change.
    #[test]
    fn kernel_constants_are_the_abi() {
        assert_eq!(DTV_FREQUENCY, 3);
        assert_eq!(DTV_STAT_SIGNAL_STRENGTH, 62);
        assert_eq!(fe_delivery_system::SYS_DVBS2, 6);
        assert_eq!(fe_delivery_system::SYS_DVBT2, 16);
        assert_eq!(fe_status::FE_HAS_LOCK, 0x10);
        assert_eq!(dmx_output::DMX_OUT_TS_TAP, 2);
    }

    /// The shim formats libdvbv5's printf-style message, hands it to the sink with the
    /// level, and leaves errno alone.
    #[test]
    fn log_shim_formats_and_keeps_errno() {
        use std::sync::Mutex;
        static SEEN: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());
        unsafe extern "C" fn sink(level: i32, message: *const std::ffi::c_char) {
            // SAFETY: the shim passes a NUL-terminated buffer valid during the call.
            let text = unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned();
            SEEN.lock().unwrap().push((level, text));
        }
        // SAFETY: sink has the dvbgate_log_sink signature and lives forever.
        unsafe { dvbgate_set_log_sink(Some(sink)) };
        // SAFETY: the format matches its arguments (%s with a C string, %d with an int).
        unsafe {
            *libc_errno() = 16;
            dvbgate_dvbv5_log(
                LOG_ERR as i32,
                c"%s while opening %d".as_ptr(),
                c"busy".as_ptr(),
                7,
            );
            assert_eq!(*libc_errno(), 16, "the shim changed errno");
            dvbgate_set_log_sink(None);
            dvbgate_dvbv5_log(LOG_ERR as i32, c"dropped".as_ptr());
        }
        let seen = SEEN.lock().unwrap();
        assert_eq!(seen.as_slice(), &[(3, "busy while opening 7".to_string())]);
    }

    unsafe extern "C" {
        #[link_name = "__errno_location"]
        fn libc_errno() -> *mut i32;
    }
}
