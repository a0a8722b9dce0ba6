//! A frontend (tuner) held for tuning: satellite equipment control, tuning, lock status
//! and statistics, through libdvbv5.
//!
//! Only one program may hold a frontend read-write; a second gets [`DvbError::Busy`].
//! Tuning returns as soon as the kernel has the parameters (the driver then searches in
//! the background); [`Frontend::status`] and [`Frontend::wait_lock`] tell whether it
//! found the signal. libdvbv5's own LNB and DiSEqC logic is not used: the SEC plan comes
//! from `dvbgate_tuning::sec`, computed without a device, and is carried out step by step
//! here. Dropping the frontend closes it, which switches the LNB supply off.

use std::ffi::c_int;
use std::io;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use dvbgate_tuning::caps::FrontendCaps;
use dvbgate_tuning::params::Tuning;
use dvbgate_tuning::sec::{SecPlan, SecStep, Voltage};
use dvbgate_tuning::signal::{LockFlags, Measure, RawStats};
use dvbv5_sys as ffi;

use crate::device::FrontendId;
use crate::error::{DvbError, PropertyError};
use crate::props::{Property, command_name, tuning_properties};
use crate::{log, system};

/// How often [`Frontend::wait_lock`] asks for the status.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// An open libdvbv5 frontend handle (`struct dvb_v5_fe_parms`), closed on drop.
pub(crate) struct FeHandle {
    parms: NonNull<ffi::dvb_v5_fe_parms>,
    path: PathBuf,
    read_write: bool,
}

// SAFETY: the handle owns its dvb_v5_fe_parms exclusively (no copies of the pointer
// escape), and libdvbv5's frontend calls keep no thread-local state, so it may move to
// another thread. It is not Sync: every call goes through &mut self or is read-only on
// plain fields.
unsafe impl Send for FeHandle {}

impl FeHandle {
    /// Opens `id` through libdvbv5, read-write (exclusive, for tuning) or read-only.
    pub(crate) fn open(id: FrontendId, read_write: bool) -> Result<FeHandle, DvbError> {
        let path = id.frontend_path();
        // libdvbv5 finds the node through udev and says only "not found"; look first so
        // the error names the path.
        if let Err(e) = std::fs::metadata(&path) {
            return Err(DvbError::open("open", path, e));
        }
        let (adapter, frontend) = match (c_int::try_from(id.adapter), c_int::try_from(id.frontend))
        {
            (Ok(a), Ok(f)) => (a, f),
            _ => return Err(DvbError::Missing { path }),
        };
        log::install();
        let access = if read_write {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        };
        set_errno(0);
        // SAFETY: plain integers and the shim's log function (valid for the whole
        // program); libdvbv5 returns an owned handle or NULL.
        let parms = unsafe {
            ffi::dvb_fe_open_flags(
                adapter,
                frontend,
                0,
                0,
                log::logfunc(),
                access | libc::O_CLOEXEC,
            )
        };
        let Some(parms) = NonNull::new(parms) else {
            // The shim keeps errno intact through libdvbv5's log call, so this is the
            // open's or ioctl's errno (EBUSY when another program holds the frontend).
            let source = io::Error::last_os_error();
            return Err(match source.raw_os_error() {
                Some(0) | None => DvbError::Library {
                    call: "dvb_fe_open_flags",
                    path,
                    source: io::Error::other("no reason given (see libdvbv5's log)"),
                },
                _ => DvbError::open("open", path, source),
            });
        };
        Ok(FeHandle {
            parms,
            path,
            read_write,
        })
    }

    fn parms(&self) -> &ffi::dvb_v5_fe_parms {
        // SAFETY: the pointer came from dvb_fe_open_flags, stays valid until drop, and
        // is only written through &mut self.
        unsafe { self.parms.as_ref() }
    }

    /// The frontend's abilities as the driver reports them, in Hz.
    pub(crate) fn caps(&self) -> FrontendCaps {
        let parms = self.parms();
        let info = &parms.info;
        let name: Vec<u8> = info
            .name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let count = usize::try_from(parms.num_systems)
            .unwrap_or(0)
            .min(parms.systems.len());
        // The kernel gives satellite ranges in kHz, decided by the *current* delivery
        // system (FE_GET_INFO reports type FE_QPSK then), not by the frontend's kind.
        let unit: u64 = if info.type_ == ffi::fe_type::FE_QPSK {
            1000
        } else {
            1
        };
        FrontendCaps {
            name: String::from_utf8_lossy(&name).into_owned(),
            systems: system::from_kernel_list(&parms.systems[..count]),
            frequency_min_hz: u64::from(info.frequency_min) * unit,
            frequency_max_hz: u64::from(info.frequency_max) * unit,
            symbol_rate_min: info.symbol_rate_min,
            symbol_rate_max: info.symbol_rate_max,
        }
    }
}

impl Drop for FeHandle {
    fn drop(&mut self) {
        if !self.read_write {
            // dvb_fe_close switches the LNB off when the current delivery system is a
            // satellite one. On a read-only handle that ioctl fails (EPERM, logged as an
            // error), and the supply belongs to whoever tunes the frontend: make the
            // close skip it.
            // SAFETY: current_sys is a plain field of the handle we own; libdvbv5 reads
            // it only in the close below.
            unsafe { (*self.parms.as_ptr()).current_sys = ffi::fe_delivery_system::SYS_UNDEFINED };
        }
        // SAFETY: the handle came from dvb_fe_open_flags and is closed exactly once.
        unsafe { ffi::dvb_fe_close(self.parms.as_ptr()) };
    }
}

fn set_errno(value: c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = value };
}

/// Turns libdvbv5's return value (0, or -errno; a few calls return +errno) into a result.
fn check(call: &'static str, path: &Path, rc: c_int) -> Result<(), DvbError> {
    if rc == 0 {
        return Ok(());
    }
    Err(DvbError::Library {
        call,
        path: path.to_path_buf(),
        source: io::Error::from_raw_os_error(rc.saturating_abs()),
    })
}

/// A frontend opened for tuning (exclusively).
pub struct Frontend {
    handle: FeHandle,
    id: FrontendId,
    caps: FrontendCaps,
    tuned: Option<Tuning>,
}

impl std::fmt::Debug for Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontend")
            .field("id", &self.id)
            .field("caps", &self.caps)
            .field("tuned", &self.tuned)
            .finish()
    }
}

impl Frontend {
    /// Opens `id` read-write. Another program holding it gives [`DvbError::Busy`]; a
    /// frontend that is not there, [`DvbError::Missing`].
    pub fn open(id: FrontendId) -> Result<Frontend, DvbError> {
        let handle = FeHandle::open(id, true)?;
        let caps = handle.caps();
        Ok(Frontend {
            handle,
            id,
            caps,
            tuned: None,
        })
    }

    pub fn id(&self) -> FrontendId {
        self.id
    }

    pub fn path(&self) -> &Path {
        &self.handle.path
    }

    /// What the frontend reported when it was opened.
    pub fn caps(&self) -> &FrontendCaps {
        &self.caps
    }

    /// The last tuning handed to the kernel (locked or not), None after [`sleep`](Self::sleep).
    pub fn tuning(&self) -> Option<&Tuning> {
        self.tuned.as_ref()
    }

    /// Tunes `tuning`: for satellite, first carries out `sec` (voltage, tone, DiSEqC,
    /// burst, waits) and then tunes its intermediate frequency; other systems tune the
    /// tuning's frequency and take no plan. The tuning is checked against the frontend's
    /// abilities first. Returns once the kernel has the parameters, without waiting for
    /// a lock.
    pub fn tune(&mut self, tuning: &Tuning, sec: Option<&SecPlan>) -> Result<(), DvbError> {
        let property_error = |source| DvbError::Property {
            path: self.handle.path.clone(),
            source,
        };
        let tuned_hz = match (tuning.system.is_satellite(), sec) {
            (true, Some(plan)) => plan.intermediate_frequency_hz,
            (true, None) => {
                return Err(property_error(PropertyError::MissingSecPlan {
                    system: tuning.system,
                }));
            }
            (false, None) => tuning.frequency_hz,
            (false, Some(_)) => {
                return Err(property_error(PropertyError::UnexpectedSecPlan {
                    system: tuning.system,
                }));
            }
        };
        self.caps.check(tuning, tuned_hz)?;
        let props = tuning_properties(tuning, tuned_hz).map_err(property_error)?;

        self.tuned = None;
        let path = self.handle.path.clone();
        let parms = self.handle.parms.as_ptr();
        // SAFETY: parms is our open handle; dvb_set_sys switches the kernel's delivery
        // system and resets libdvbv5's property list to that system's.
        check("dvb_set_sys", &path, unsafe {
            ffi::dvb_set_sys(parms, system::to_kernel(tuning.system))
        })?;
        if let Some(plan) = sec {
            self.run_sec(plan)?;
        }
        for Property { cmd, value } in props {
            // SAFETY: parms is our open handle; store_parm only writes its list.
            let rc = unsafe { ffi::dvb_fe_store_parm(parms, cmd, value) };
            if rc != 0 {
                return Err(DvbError::Library {
                    call: "dvb_fe_store_parm",
                    path,
                    source: io::Error::other(format!(
                        "libdvbv5 keeps no {} for {}",
                        command_name(cmd),
                        tuning.system
                    )),
                });
            }
        }
        // SAFETY: parms is our open handle with its property list filled above; lnb is
        // NULL (never set), so libdvbv5 sends the frequency as stored.
        check("dvb_fe_set_parms", &path, unsafe {
            ffi::dvb_fe_set_parms(parms)
        })?;
        self.tuned = Some(*tuning);
        Ok(())
    }

    fn run_sec(&mut self, plan: &SecPlan) -> Result<(), DvbError> {
        let path = self.handle.path.clone();
        let parms = self.handle.parms.as_ptr();
        for step in &plan.steps {
            // SAFETY (all calls): parms is our open read-write handle; the arguments are
            // plain values, and for DiSEqC a slice that lives across the call.
            match step {
                SecStep::Voltage(voltage) => {
                    let (on, v18) = match voltage {
                        Voltage::Off => (0, 0),
                        Voltage::V13 => (1, 0),
                        Voltage::V18 => (1, 1),
                    };
                    check("dvb_fe_sec_voltage", &path, unsafe {
                        ffi::dvb_fe_sec_voltage(parms, on, v18)
                    })?;
                }
                SecStep::Tone(on) => {
                    let tone = if *on {
                        ffi::fe_sec_tone_mode::SEC_TONE_ON
                    } else {
                        ffi::fe_sec_tone_mode::SEC_TONE_OFF
                    };
                    check("dvb_fe_sec_tone", &path, unsafe {
                        ffi::dvb_fe_sec_tone(parms, tone)
                    })?;
                }
                SecStep::Diseqc(message) => {
                    // The kernel's dvb_diseqc_master_cmd holds 3 to 6 bytes.
                    if !(3..=6).contains(&message.len()) {
                        return Err(DvbError::Library {
                            call: "dvb_fe_diseqc_cmd",
                            path,
                            source: io::Error::other(format!(
                                "a DiSEqC message has 3 to 6 bytes, not {} ({message:02x?})",
                                message.len()
                            )),
                        });
                    }
                    check("dvb_fe_diseqc_cmd", &path, unsafe {
                        ffi::dvb_fe_diseqc_cmd(parms, message.len() as u32, message.as_ptr())
                    })?;
                }
                SecStep::Burst(b) => {
                    check("dvb_fe_diseqc_burst", &path, unsafe {
                        ffi::dvb_fe_diseqc_burst(parms, c_int::from(*b))
                    })?;
                }
                SecStep::Wait(ms) => std::thread::sleep(Duration::from_millis(u64::from(*ms))),
            }
        }
        Ok(())
    }

    /// Reads the driver's status and statistics into libdvbv5's cache.
    fn refresh(&mut self) -> Result<(), DvbError> {
        set_errno(0);
        // SAFETY: parms is our open handle.
        let rc = unsafe { ffi::dvb_fe_get_stats(self.handle.parms.as_ptr()) };
        if rc == 0 {
            return Ok(());
        }
        // libdvbv5 answers -EINVAL whatever FE_READ_STATUS said; errno has the truth
        // (ENODEV when the adapter is gone).
        let errno = io::Error::last_os_error();
        let source = match errno.raw_os_error() {
            Some(0) | None => io::Error::from_raw_os_error(rc.saturating_abs()),
            _ => errno,
        };
        Err(DvbError::Io {
            operation: "FE_READ_STATUS",
            path: self.handle.path.clone(),
            source,
        })
    }

    fn cached_status(&mut self) -> LockFlags {
        let mut bits = 0u32;
        // SAFETY: parms is our open handle; bits outlives the call.
        let rc = unsafe {
            ffi::dvb_fe_retrieve_stats(self.handle.parms.as_ptr(), ffi::DTV_STATUS, &mut bits)
        };
        if rc == 0 {
            LockFlags::from_bits(bits)
        } else {
            LockFlags::default()
        }
    }

    /// The frontend's lock flags now.
    pub fn status(&mut self) -> Result<LockFlags, DvbError> {
        self.refresh()?;
        Ok(self.cached_status())
    }

    /// One reading of the DVBv5 statistics, as the driver reports them (measures in the
    /// driver's scale, counters as they stand). Nothing is checked or made up: a value
    /// the driver does not report is None, and a value reported while unlocked may be
    /// garbage (`dvbgate_tuning::signal` decides what to believe).
    pub fn stats(&mut self) -> Result<RawStats, DvbError> {
        self.refresh()?;
        let flags = self.cached_status();
        let stat = |cmd| self.stat(cmd);
        let counter = |cmd| match stat(cmd) {
            Some(Measure::Counter(n)) => Some(n),
            _ => None,
        };
        Ok(RawStats {
            flags,
            strength: stat(ffi::DTV_STAT_SIGNAL_STRENGTH),
            cnr: stat(ffi::DTV_STAT_CNR),
            pre_error_bits: counter(ffi::DTV_STAT_PRE_ERROR_BIT_COUNT),
            pre_total_bits: counter(ffi::DTV_STAT_PRE_TOTAL_BIT_COUNT),
            post_error_bits: counter(ffi::DTV_STAT_POST_ERROR_BIT_COUNT),
            post_total_bits: counter(ffi::DTV_STAT_POST_TOTAL_BIT_COUNT),
            error_blocks: counter(ffi::DTV_STAT_ERROR_BLOCK_COUNT),
            total_blocks: counter(ffi::DTV_STAT_TOTAL_BLOCK_COUNT),
        })
    }

    /// The global (layer 0) value of one statistic from libdvbv5's cache.
    fn stat(&self, cmd: u32) -> Option<Measure> {
        // SAFETY: parms is our open handle; the call returns a pointer into it (valid
        // until the next refresh, which needs &mut self) or NULL.
        let ptr = unsafe { ffi::dvb_fe_retrieve_stats_layer(self.handle.parms.as_ptr(), cmd, 0) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: non-null and pointing at a struct dtv_stats, which is packed: copy it
        // out unaligned before reading its fields.
        let stats = unsafe { ptr.read_unaligned() };
        // SAFETY: both union members are plain 64-bit integers; the scale says which.
        let (unsigned, signed) =
            unsafe { (stats.__bindgen_anon_1.uvalue, stats.__bindgen_anon_1.svalue) };
        measure(u32::from(stats.scale), unsigned, signed)
    }

    /// Waits until the frontend locks or `timeout` passes, asking every 50 ms; returns
    /// the last flags either way (`flags.lock` tells which).
    pub fn wait_lock(&mut self, timeout: Duration) -> Result<LockFlags, DvbError> {
        let start = Instant::now();
        loop {
            let flags = self.status()?;
            let elapsed = start.elapsed();
            if flags.lock || elapsed >= timeout {
                return Ok(flags);
            }
            std::thread::sleep(LOCK_POLL.min(timeout - elapsed));
        }
    }

    /// Puts an idle frontend to rest while it stays open: for satellite, the 22 kHz tone
    /// and the LNB supply go off (a box should not feed an LNB for a tuner nobody
    /// watches). Closing the frontend (dropping it) does the same.
    pub fn sleep(&mut self) -> Result<(), DvbError> {
        self.tuned = None;
        if !self.caps.systems.iter().any(|s| s.is_satellite()) {
            return Ok(());
        }
        let path = self.handle.path.clone();
        let parms = self.handle.parms.as_ptr();
        // SAFETY: parms is our open read-write handle.
        check("dvb_fe_sec_tone", &path, unsafe {
            ffi::dvb_fe_sec_tone(parms, ffi::fe_sec_tone_mode::SEC_TONE_OFF)
        })?;
        // SAFETY: as above.
        check("dvb_fe_sec_voltage", &path, unsafe {
            ffi::dvb_fe_sec_voltage(parms, 0, 0)
        })
    }
}

/// A `struct dtv_stats` entry as a [`Measure`]: decibels come in thousandths.
fn measure(scale: u32, unsigned: u64, signed: i64) -> Option<Measure> {
    use ffi::fecap_scale_params::*;
    match scale {
        FE_SCALE_DECIBEL => Some(Measure::Decibel(signed as f64 / 1000.0)),
        // 0..=65535 by definition; a driver exceeding it has no faithful reading.
        FE_SCALE_RELATIVE => u16::try_from(unsigned).ok().map(Measure::Relative),
        FE_SCALE_COUNTER => Some(Measure::Counter(unsigned)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffi::fecap_scale_params::*;

    #[test]
    fn scales_become_measures() {
        // vidtv's DVB-T strength: -34.3 dBm as thousandths of a dB, signed.
        let raw = -34_300i64;
        assert_eq!(
            measure(FE_SCALE_DECIBEL, raw as u64, raw),
            Some(Measure::Decibel(-34.3))
        );
        assert_eq!(
            measure(FE_SCALE_RELATIVE, 40_000, 40_000),
            Some(Measure::Relative(40_000))
        );
        assert_eq!(measure(FE_SCALE_RELATIVE, 70_000, 70_000), None);
        assert_eq!(
            measure(FE_SCALE_COUNTER, 1 << 40, 1 << 40),
            Some(Measure::Counter(1 << 40))
        );
        assert_eq!(measure(FE_SCALE_NOT_AVAILABLE, 5, 5), None);
    }

    #[test]
    fn library_errors_carry_errno() {
        let error = check(
            "dvb_fe_sec_voltage",
            Path::new("/dev/dvb/adapter0/frontend0"),
            -libc::EOPNOTSUPP,
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("libdvbv5 dvb_fe_sec_voltage failed on /dev/dvb/adapter0/frontend0: "),
            "{text}"
        );
        assert!(text.contains("not supported"), "{text}");
        assert!(check("x", Path::new("/"), 0).is_ok());
    }

    #[test]
    fn opening_a_missing_frontend_names_it() {
        let id = FrontendId {
            adapter: 98,
            frontend: 1,
        };
        let error = Frontend::open(id).unwrap_err();
        assert!(error.is_gone());
        assert_eq!(
            error.to_string(),
            "no DVB adapter at /dev/dvb/adapter98/frontend1"
        );
    }
}
