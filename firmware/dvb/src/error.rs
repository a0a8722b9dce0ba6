//! What can go wrong with a DVB device, in words that name the device and the parameter.

use std::io;
use std::path::PathBuf;

use dvbgate_tuning::DeliverySystem;
use dvbgate_tuning::caps::CapsError;

/// A tuning the kernel cannot be told, whatever the frontend.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    #[error("{system} is not tuned with {params} parameters")]
    Mismatch {
        system: DeliverySystem,
        params: &'static str,
    },
    #[error("{system} has no {parameter} setting ({why})")]
    NotApplicable {
        system: DeliverySystem,
        parameter: &'static str,
        why: &'static str,
    },
    #[error("frequency {hz} Hz is too large for the kernel's 32-bit frequency property")]
    FrequencyTooLarge { hz: u64 },
    #[error("{system} needs a satellite equipment plan (LNB, switch) to be tuned")]
    MissingSecPlan { system: DeliverySystem },
    #[error("a satellite equipment plan was given for a {system} tuning")]
    UnexpectedSecPlan { system: DeliverySystem },
}

#[derive(Debug, thiserror::Error)]
pub enum DvbError {
    /// The device node is not there (never was, or the adapter was unplugged).
    #[error("no DVB adapter at {}", path.display())]
    Missing { path: PathBuf },
    /// Only one program may tune a frontend or read a dvr device at a time.
    #[error("{} is busy: another program uses it", path.display())]
    Busy { path: PathBuf },
    #[error(transparent)]
    Caps(#[from] CapsError),
    #[error("{}: {source}", path.display())]
    Property {
        path: PathBuf,
        #[source]
        source: PropertyError,
    },
    #[error("{operation} on {}: {source}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("PID filter for PID {pid:#06x} on {}: {source}", path.display())]
    Filter {
        pid: u16,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("PID {pid:#06x} does not exist (PIDs are 0x0000..=0x1fff)")]
    InvalidPid { pid: u16 },
    /// A libdvbv5 call failed; its own message went to the log (target `libdvbv5`).
    #[error("libdvbv5 {call} failed on {}: {source}", path.display())]
    Library {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl DvbError {
    /// Whether the device is gone (unplugged adapter, removed driver): the tuner manager
    /// stops retrying it until discovery finds it again.
    pub fn is_gone(&self) -> bool {
        let gone = |e: &io::Error| {
            matches!(
                e.raw_os_error(),
                Some(libc::ENODEV | libc::ENOENT | libc::ENXIO)
            )
        };
        match self {
            DvbError::Missing { .. } => true,
            DvbError::Io { source, .. }
            | DvbError::Filter { source, .. }
            | DvbError::Library { source, .. } => gone(source),
            _ => false,
        }
    }

    /// The error an `open` of `path` gave, with busy and missing devices told apart.
    pub(crate) fn open(operation: &'static str, path: PathBuf, source: io::Error) -> DvbError {
        match source.raw_os_error() {
            Some(libc::EBUSY) => DvbError::Busy { path },
            Some(libc::ENOENT | libc::ENODEV | libc::ENXIO) => DvbError::Missing { path },
            _ => DvbError::Io {
                operation,
                path,
                source,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_device() {
        let missing = DvbError::open(
            "open",
            PathBuf::from("/dev/dvb/adapter3/frontend0"),
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(
            missing.to_string(),
            "no DVB adapter at /dev/dvb/adapter3/frontend0"
        );
        assert!(missing.is_gone());

        let busy = DvbError::open(
            "open",
            PathBuf::from("/dev/dvb/adapter0/frontend1"),
            io::Error::from_raw_os_error(libc::EBUSY),
        );
        assert_eq!(
            busy.to_string(),
            "/dev/dvb/adapter0/frontend1 is busy: another program uses it"
        );
        assert!(!busy.is_gone());

        let denied = DvbError::open(
            "open",
            PathBuf::from("/dev/dvb/adapter0/dvr0"),
            io::Error::from_raw_os_error(libc::EACCES),
        );
        let text = denied.to_string();
        assert!(
            text.starts_with("open on /dev/dvb/adapter0/dvr0: "),
            "{text}"
        );
        assert!(text.contains("ermission denied"), "{text}");
    }

    #[test]
    fn unplugged_read_is_gone_and_named() {
        let error = DvbError::Io {
            operation: "read",
            path: PathBuf::from("/dev/dvb/adapter1/dvr0"),
            source: io::Error::from_raw_os_error(libc::ENODEV),
        };
        assert!(error.is_gone());
        assert!(
            error
                .to_string()
                .starts_with("read on /dev/dvb/adapter1/dvr0: ")
        );
    }

    #[test]
    fn filter_error_names_pid_in_hex() {
        let error = DvbError::Filter {
            pid: 0x101,
            path: PathBuf::from("/dev/dvb/adapter0/demux0"),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        };
        assert!(
            error
                .to_string()
                .starts_with("PID filter for PID 0x0101 on /dev/dvb/adapter0/demux0: "),
            "{error}"
        );
    }
}
