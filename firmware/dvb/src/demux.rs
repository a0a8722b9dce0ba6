//! Which packets of the tuned multiplex reach the dvr device.
//!
//! The kernel's demux filters by PID: each open of `demuxM` is one filter. A PES filter
//! with output `DMX_OUT_TS_TAP` passes the whole 188-byte packets of its PID on to
//! `dvrM`, where they are read in large chunks ([`crate::Dvr`]). The special PID 0x2000
//! passes every packet: the whole multiplex, which is cheaper than many filters when
//! most of it is wanted.
//!
//! [`PidFilters::set`] applies only the difference to what is already filtered, so a
//! PMT change that adds one PID opens one filter and leaves the others running.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use dvbv5_sys as ffi;

use crate::error::DvbError;

/// The pseudo-PID that asks the demux for every packet.
pub const WHOLE_MUX_PID: u16 = 0x2000;
/// The largest real PID.
pub const MAX_PID: u16 = 0x1fff;

/// What the dvr device should carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PidSelection {
    /// Every packet of the multiplex (one filter on PID 0x2000).
    WholeMux,
    /// These PIDs only (0x0000..=0x1fff), one filter each.
    Pids(BTreeSet<u16>),
}

impl PidSelection {
    /// The filter PIDs this selection needs.
    fn filter_pids(&self) -> Result<BTreeSet<u16>, DvbError> {
        match self {
            PidSelection::WholeMux => Ok(BTreeSet::from([WHOLE_MUX_PID])),
            PidSelection::Pids(pids) => {
                if let Some(&pid) = pids.iter().find(|&&pid| pid > MAX_PID) {
                    return Err(DvbError::InvalidPid { pid });
                }
                Ok(pids.clone())
            }
        }
    }
}

/// What a [`PidFilters::set`] call changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterChange {
    pub added: Vec<u16>,
    pub removed: Vec<u16>,
}

/// Filters to stop and filters to start to go from `current` to `wanted`.
fn plan(current: &BTreeSet<u16>, wanted: &BTreeSet<u16>) -> FilterChange {
    FilterChange {
        added: wanted.difference(current).copied().collect(),
        removed: current.difference(wanted).copied().collect(),
    }
}

/// The PID filters of one demux device, each an open file descriptor.
#[derive(Debug)]
pub struct PidFilters {
    path: PathBuf,
    filters: BTreeMap<u16, OwnedFd>,
}

impl PidFilters {
    /// Filters on `demux` (`/dev/dvb/adapterN/demuxM`); none are open until [`set`](Self::set).
    pub fn new(demux: impl Into<PathBuf>) -> PidFilters {
        PidFilters {
            path: demux.into(),
            filters: BTreeMap::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many filters are running.
    pub fn active(&self) -> usize {
        self.filters.len()
    }

    /// The PIDs filtered now (0x2000 for the whole multiplex).
    pub fn pids(&self) -> impl Iterator<Item = u16> + '_ {
        self.filters.keys().copied()
    }

    /// Makes the running filters match `wanted`, touching only those that change.
    /// Filters are stopped before new ones start, so a hardware demux with few filters
    /// is not asked for more than it will end up with. On an error the filters running
    /// are exactly those [`pids`](Self::pids) lists.
    pub fn set(&mut self, wanted: &PidSelection) -> Result<FilterChange, DvbError> {
        let wanted = wanted.filter_pids()?;
        let current: BTreeSet<u16> = self.filters.keys().copied().collect();
        let change = plan(&current, &wanted);
        for pid in &change.removed {
            if let Some(fd) = self.filters.remove(pid) {
                stop(fd);
            }
        }
        for &pid in &change.added {
            let fd = self.start(pid)?;
            self.filters.insert(pid, fd);
        }
        Ok(change)
    }

    /// Stops every filter.
    pub fn clear(&mut self) {
        for (_, fd) in std::mem::take(&mut self.filters) {
            stop(fd);
        }
    }

    fn start(&self, pid: u16) -> Result<OwnedFd, DvbError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(|e| DvbError::open("open", self.path.clone(), e))?;
        let fd = OwnedFd::from(file);
        // SAFETY: fd is an open demux descriptor we own; the call only issues
        // DMX_SET_PES_FILTER (buffer size 0: left as it is) on it.
        let rc = unsafe {
            ffi::dvb_set_pesfilter(
                fd.as_raw_fd(),
                i32::from(pid),
                ffi::dmx_ts_pes::DMX_PES_OTHER,
                ffi::dmx_output::DMX_OUT_TS_TAP,
                0,
            )
        };
        if rc != 0 {
            return Err(DvbError::Filter {
                pid,
                path: self.path.clone(),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(fd)
    }
}

impl Drop for PidFilters {
    fn drop(&mut self) {
        self.clear();
    }
}

fn stop(fd: OwnedFd) {
    // SAFETY: fd is an open demux descriptor we own; DMX_STOP has no other effect.
    // Closing (the drop of fd right after) would stop the filter too; stopping first
    // makes the packet flow end before the descriptor goes.
    unsafe { ffi::dvb_dmx_stop(fd.as_raw_fd()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pids: &[u16]) -> BTreeSet<u16> {
        pids.iter().copied().collect()
    }

    #[test]
    fn a_pmt_change_touches_only_the_changed_pids() {
        let change = plan(
            &set(&[0, 0x11, 0x101, 0x111]),
            &set(&[0, 0x11, 0x101, 0x112, 0x200]),
        );
        assert_eq!(change.added, vec![0x112, 0x200]);
        assert_eq!(change.removed, vec![0x111]);
        let same = plan(&set(&[0, 0x11]), &set(&[0x11, 0]));
        assert_eq!(same, FilterChange::default());
    }

    #[test]
    fn whole_mux_replaces_single_pids() {
        let whole = PidSelection::WholeMux.filter_pids().unwrap();
        let change = plan(&set(&[0, 0x11, 0x101]), &whole);
        assert_eq!(change.added, vec![WHOLE_MUX_PID]);
        assert_eq!(change.removed, vec![0, 0x11, 0x101]);
        let back = plan(&whole, &set(&[0x101]));
        assert_eq!(
            (back.added, back.removed),
            (vec![0x101], vec![WHOLE_MUX_PID])
        );
    }

    #[test]
    fn pids_beyond_0x1fff_are_refused_before_anything_opens() {
        let mut filters = PidFilters::new("/nonexistent/demux0");
        let error = filters
            .set(&PidSelection::Pids(set(&[0x100, 0x2000])))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "PID 0x2000 does not exist (PIDs are 0x0000..=0x1fff)"
        );
        assert_eq!(filters.active(), 0);
    }

    #[test]
    fn a_missing_demux_is_named() {
        let mut filters = PidFilters::new("/nonexistent/adapter0/demux0");
        let error = filters.set(&PidSelection::Pids(set(&[0]))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no DVB adapter at /nonexistent/adapter0/demux0"
        );
        assert_eq!(filters.active(), 0);
    }

    /// A file that is not a demux: the filter ioctl fails and the error names the PID
    /// and the device; no filter is left counted.
    #[test]
    fn a_failed_filter_names_its_pid() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut filters = PidFilters::new(file.path());
        let error = filters.set(&PidSelection::Pids(set(&[0x101]))).unwrap_err();
        let text = error.to_string();
        let expected = format!("PID filter for PID 0x0101 on {}: ", file.path().display());
        // The kernel says ENOTTY; qemu-user, which does not know the ioctl, ENOSYS.
        assert!(text.starts_with(&expected), "{text}");
        assert_eq!(filters.active(), 0);
    }
}
