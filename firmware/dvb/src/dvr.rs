//! Reading the filtered transport stream from `dvrM`.
//!
//! The kernel collects the packets of every `DMX_OUT_TS_TAP` filter in one ring buffer
//! per dvr device; a reader takes whatever is there. The device is opened non-blocking,
//! so a read returns at once with what has arrived ([`DvrRead::Data`]) or nothing
//! ([`DvrRead::Empty`]). When the reader falls behind, the ring overflows: the kernel
//! drops packets, answers the next read with `EOVERFLOW` ([`DvrRead::Overflow`]) and
//! carries on; that is counted, not an error. The ring's size is set from the
//! multiplex's rate: [`buffer_bytes`] gives a size for a rate and a time to hold.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::DvbError;

/// `DMX_SET_BUFFER_SIZE` = `_IO('o', 45)` from `<linux/dvb/dmx.h>`: a function-like
/// macro, which bindgen cannot evaluate. The encoding (no direction, no size) is the
/// same on every Linux architecture.
const DMX_SET_BUFFER_SIZE: u32 = (b'o' as u32) << 8 | 45;

/// Smallest ring [`buffer_bytes`] asks for, whatever the rate: 1024 packets. (The
/// kernel's default is ten times that, 1.9 MB.)
const MIN_BUFFER: usize = 188 * 1024;
/// A sane upper bound: the kernel vmallocs the ring.
const MAX_BUFFER: usize = 64 * 1024 * 1024;

/// Ring size that holds `hold` worth of a multiplex of `bits_per_second`, in whole
/// 188-byte packets, within 188 KiB..=64 MiB.
pub fn buffer_bytes(bits_per_second: u64, hold: Duration) -> usize {
    let bytes = (u128::from(bits_per_second) * hold.as_micros() / 8 / 1_000_000) as usize;
    bytes
        .div_ceil(188)
        .saturating_mul(188)
        .clamp(MIN_BUFFER, MAX_BUFFER)
}

/// What one read gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DvrRead {
    /// This many bytes were put at the start of the buffer.
    Data(usize),
    /// Nothing has arrived since the last read.
    Empty,
    /// The kernel's ring overflowed and packets were lost; the next read works again.
    Overflow,
}

/// An open dvr device.
#[derive(Debug)]
pub struct Dvr {
    file: File,
    path: PathBuf,
    overflows: u64,
}

impl Dvr {
    /// Opens `dvr` (`/dev/dvb/adapterN/dvrM`) for non-blocking reads. One reader at a time:
    /// a second gets [`DvbError::Busy`].
    pub fn open(dvr: impl Into<PathBuf>) -> Result<Dvr, DvbError> {
        let path = dvr.into();
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| DvbError::open("open", path.clone(), e))?;
        Ok(Dvr {
            file,
            path,
            overflows: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the kernel's ring buffer to `bytes` (see [`buffer_bytes`]).
    pub fn set_buffer_size(&mut self, bytes: usize) -> Result<(), DvbError> {
        let size = libc::c_ulong::try_from(bytes).unwrap_or(libc::c_ulong::MAX);
        // SAFETY: our open dvr descriptor; DMX_SET_BUFFER_SIZE takes its argument by
        // value and touches no user memory.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), DMX_SET_BUFFER_SIZE as _, size) };
        if rc < 0 {
            return Err(DvbError::Io {
                operation: "DMX_SET_BUFFER_SIZE",
                path: self.path.clone(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Reads what has arrived, up to `buf.len()` bytes. Only real failures are errors
    /// (ENODEV once the adapter is unplugged); "nothing yet" and "overflowed" are not.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<DvrRead, DvbError> {
        loop {
            return match self.file.read(buf) {
                Ok(0) => Ok(DvrRead::Empty),
                Ok(n) => Ok(DvrRead::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(DvrRead::Empty),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::EOVERFLOW) => {
                    self.overflows += 1;
                    Ok(DvrRead::Overflow)
                }
                Err(source) => Err(DvbError::Io {
                    operation: "read",
                    path: self.path.clone(),
                    source,
                }),
            };
        }
    }

    /// How many times the kernel's ring overflowed since the device was opened.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }
}

impl AsFd for Dvr {
    /// For `poll`ing the device (readable when packets are waiting).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_number_is_the_kernels() {
        // _IO('o', 45) with the generic encoding: dir 0, size 0, type 'o' (0x6f).
        assert_eq!(DMX_SET_BUFFER_SIZE, 0x6f2d);
    }

    #[test]
    fn buffer_holds_the_asked_time_in_whole_packets() {
        // vidtv: ~18.7 Mbit/s; one second is 2.34 MB.
        let bytes = buffer_bytes(18_700_000, Duration::from_secs(1));
        assert_eq!(bytes % 188, 0);
        assert!((2_337_500..2_337_500 + 188).contains(&bytes), "{bytes}");
        assert_eq!(buffer_bytes(1_000, Duration::from_millis(10)), MIN_BUFFER);
        assert_eq!(
            buffer_bytes(u64::MAX, Duration::from_secs(3600)),
            MAX_BUFFER
        );
    }

    #[test]
    fn a_missing_dvr_is_named() {
        let error = Dvr::open("/nonexistent/adapter0/dvr0").unwrap_err();
        assert_eq!(
            error.to_string(),
            "no DVB adapter at /nonexistent/adapter0/dvr0"
        );
    }

    /// A pipe behaves like the dvr device for the non-blocking part: empty, then data.
    #[test]
    fn reads_tell_empty_from_data() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let path = PathBuf::from(format!("/proc/self/fd/{}", reader.as_raw_fd()));
        let mut dvr = Dvr::open(&path).unwrap();
        drop(reader);
        let mut buf = [0u8; 4096];
        assert_eq!(dvr.read(&mut buf).unwrap(), DvrRead::Empty);
        std::io::Write::write_all(&mut writer, &[0x47; 376]).unwrap();
        assert_eq!(dvr.read(&mut buf).unwrap(), DvrRead::Data(376));
        assert_eq!(dvr.read(&mut buf).unwrap(), DvrRead::Empty);
        // Not a demux: the buffer ioctl fails and names the operation.
        let error = dvr.set_buffer_size(1 << 20).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("DMX_SET_BUFFER_SIZE on /proc/self/fd/"),
            "{error}"
        );
        assert_eq!(dvr.overflows(), 0);
    }
}
