//! libdvbv5's messages, routed into `tracing` (target `libdvbv5`).
//!
//! libdvbv5 reports through a printf-style callback; the C shim of `dvbv5-sys` formats
//! each message and calls [`sink`] with the finished string and libdvbv5's syslog level.
//! Every libdvbv5 handle of this crate is opened with that shim as its callback and with
//! verbosity 0, so only warnings and errors (and the rare notice) arrive.

use std::ffi::{CStr, c_char, c_int};
use std::sync::Once;

use dvbv5_sys as ffi;

static INSTALL: Once = Once::new();

/// Points the shim at [`sink`]; called before any libdvbv5 handle is opened.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `sink` matches dvbgate_log_sink and is a plain function, alive for the
        // whole program; the shim stores the pointer atomically.
        unsafe { ffi::dvbgate_set_log_sink(Some(sink)) }
    });
}

/// The `logfunc` to hand to libdvbv5 calls that take one.
pub(crate) fn logfunc() -> ffi::dvb_logfunc {
    Some(ffi::dvbgate_dvbv5_log)
}

/// How libdvbv5's syslog level reads in `tracing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

pub(crate) fn level(syslog_level: c_int, message: &str) -> Level {
    // libdvbv5 says this at error level on every satellite tune when parms->lnb is NULL,
    // and then tunes the frequency it was given, unchanged. dvbgate leaves lnb NULL on
    // purpose (it computes LNB, tone and DiSEqC itself), so it is not an error here.
    if message == "Need a LNBf to work" {
        return Level::Debug;
    }
    // "Device or resource busy while opening /dev/dvb/…": the failed open is returned
    // to the caller as a DvbError naming the device, and a busy tuner is an ordinary
    // answer when looking for a free one; the log keeps it for debugging.
    if message.contains(" while opening /dev/") {
        return Level::Debug;
    }
    match syslog_level {
        l if l <= ffi::LOG_ERR as c_int => Level::Error,
        l if l == ffi::LOG_WARNING as c_int => Level::Warn,
        l if l == ffi::LOG_NOTICE as c_int || l == ffi::LOG_INFO as c_int => Level::Info,
        _ => Level::Debug,
    }
}

unsafe extern "C" fn sink(syslog_level: c_int, message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: the shim passes a NUL-terminated buffer that lives during this call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    let text = text.trim_end();
    match level(syslog_level, text) {
        Level::Error => tracing::error!(target: "libdvbv5", "{text}"),
        Level::Warn => tracing::warn!(target: "libdvbv5", "{text}"),
        Level::Info => tracing::info!(target: "libdvbv5", "{text}"),
        Level::Debug => tracing::debug!(target: "libdvbv5", "{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_levels_map_to_tracing_levels() {
        assert_eq!(level(ffi::LOG_CRIT as c_int, "x"), Level::Error);
        assert_eq!(
            level(ffi::LOG_ERR as c_int, "FE_SET_VOLTAGE: busy"),
            Level::Error
        );
        assert_eq!(level(ffi::LOG_WARNING as c_int, "x"), Level::Warn);
        assert_eq!(level(ffi::LOG_NOTICE as c_int, "x"), Level::Info);
        assert_eq!(level(ffi::LOG_INFO as c_int, "x"), Level::Info);
        assert_eq!(level(ffi::LOG_DEBUG as c_int, "x"), Level::Debug);
        assert_eq!(
            level(ffi::LOG_ERR as c_int, "Need a LNBf to work"),
            Level::Debug
        );
    }

    /// A message formatted by the C shim arrives here whole (through the real shim).
    #[test]
    fn shim_reaches_the_sink() {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt;

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        );
        install();
        tracing::subscriber::with_default(subscriber, || {
            // SAFETY: the format's conversions match the arguments (%s: C string, %u).
            unsafe {
                ffi::dvbgate_dvbv5_log(
                    ffi::LOG_WARNING as c_int,
                    c"%s: %u filters".as_ptr(),
                    c"demux".as_ptr(),
                    3u32,
                )
            };
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("WARN libdvbv5: demux: 3 filters"), "{text}");
    }
}
