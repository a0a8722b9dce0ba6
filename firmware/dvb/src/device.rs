//! Finding DVB devices, and asking a frontend what it can tune.
//!
//! The kernel makes one directory per adapter (a tuner card or stick),
//! `/dev/dvb/adapterN`, holding one `frontendM` per tuner, the `demuxM` that filters the
//! transport stream it receives, and the `dvrM` from which the filtered packets are
//! read. Discovery only lists those names (cheap: the daemon repeats it every few
//! seconds to notice adapters plugged in or out); [`probe`] then asks a frontend for its
//! name, delivery systems and ranges, opening it read-only, which works even while
//! another program tunes it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use dvbgate_tuning::caps::FrontendCaps;

use crate::error::DvbError;
use crate::frontend::FeHandle;

/// Where the kernel puts DVB device nodes. libdvbv5 opens frontends there, so
/// [`probe`] and [`Frontend::open`](crate::Frontend::open) always use it; other roots are
/// for discovery tests.
pub const DVB_ROOT: &str = "/dev/dvb";

/// One frontend (tuner) of one adapter: `adapter0/frontend1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrontendId {
    pub adapter: u32,
    pub frontend: u32,
}

impl fmt::Display for FrontendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "adapter{}/frontend{}", self.adapter, self.frontend)
    }
}

/// A frontend named otherwise than `adapterN/frontendM`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" does not name a frontend: expected adapterN/frontendM, e.g. adapter0/frontend0")]
pub struct ParseFrontendIdError(String);

impl std::str::FromStr for FrontendId {
    type Err = ParseFrontendIdError;

    /// `adapter1/frontend0`, as [`Display`](fmt::Display) writes it; a leading
    /// `/dev/dvb/` is accepted too.
    fn from_str(text: &str) -> Result<FrontendId, ParseFrontendIdError> {
        let bad = || ParseFrontendIdError(text.to_string());
        let rest = text.strip_prefix("/dev/dvb/").unwrap_or(text);
        let (adapter, frontend) = rest.split_once('/').ok_or_else(bad)?;
        Ok(FrontendId {
            adapter: numbered(adapter.as_ref(), "adapter").ok_or_else(bad)?,
            frontend: numbered(frontend.as_ref(), "frontend").ok_or_else(bad)?,
        })
    }
}

impl FrontendId {
    /// `/dev/dvb/adapterN/frontendM`.
    pub fn frontend_path(&self) -> PathBuf {
        Path::new(DVB_ROOT)
            .join(format!("adapter{}", self.adapter))
            .join(format!("frontend{}", self.frontend))
    }

    /// The frontend's device nodes under `/dev/dvb`, as [`discover`] would find them.
    pub fn device(&self) -> FrontendDevice {
        FrontendDevice::in_root(Path::new(DVB_ROOT), *self)
    }
}

/// A frontend and the demux and dvr devices that carry what it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontendDevice {
    pub id: FrontendId,
    pub frontend: PathBuf,
    pub demux: PathBuf,
    pub dvr: PathBuf,
}

impl FrontendDevice {
    /// The nodes of `id` under `root`. A multi-tuner adapter normally has a demux and a
    /// dvr per frontend, with the same number; adapters with a single demux and dvr for
    /// all their frontends exist too, so a missing `demuxM`/`dvrM` falls back to 0.
    pub fn in_root(root: &Path, id: FrontendId) -> FrontendDevice {
        let dir = root.join(format!("adapter{}", id.adapter));
        let numbered = |kind: &str| {
            let own = dir.join(format!("{kind}{}", id.frontend));
            if own.exists() {
                own
            } else {
                dir.join(format!("{kind}0"))
            }
        };
        FrontendDevice {
            id,
            frontend: dir.join(format!("frontend{}", id.frontend)),
            demux: numbered("demux"),
            dvr: numbered("dvr"),
        }
    }
}

/// The frontends under `/dev/dvb`, sorted by adapter and frontend number. No `/dev/dvb`
/// at all means no adapters, not an error.
pub fn discover() -> Result<Vec<FrontendDevice>, DvbError> {
    discover_in(Path::new(DVB_ROOT))
}

/// The frontends under `root` (laid out like `/dev/dvb`).
pub fn discover_in(root: &Path) -> Result<Vec<FrontendDevice>, DvbError> {
    let io_error = |path: &Path, source: io::Error| DvbError::Io {
        operation: "list",
        path: path.to_path_buf(),
        source,
    };
    let adapters = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(root, e)),
    };
    let mut found = Vec::new();
    for adapter in adapters {
        let adapter = adapter.map_err(|e| io_error(root, e))?;
        let Some(adapter_number) = numbered(&adapter.file_name(), "adapter") else {
            continue;
        };
        let dir = adapter.path();
        let nodes = match std::fs::read_dir(&dir) {
            Ok(nodes) => nodes,
            // Unplugged between the two listings.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&dir, e)),
        };
        for node in nodes {
            let node = node.map_err(|e| io_error(&dir, e))?;
            if let Some(frontend) = numbered(&node.file_name(), "frontend") {
                let id = FrontendId {
                    adapter: adapter_number,
                    frontend,
                };
                found.push(FrontendDevice::in_root(root, id));
            }
        }
    }
    found.sort_by_key(|device| device.id);
    Ok(found)
}

/// `adapter12` → 12 for prefix `adapter`; anything else (`adapter`, `adapterX`,
/// `adapter01`, `frontend0.bak`) → None.
fn numbered(name: &std::ffi::OsStr, prefix: &str) -> Option<u32> {
    let digits = name.to_str()?.strip_prefix(prefix)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

/// What the frontend can tune: its name, delivery systems (`DTV_ENUM_DELSYS`), and
/// frequency and symbol-rate ranges in Hz and baud. Opens the frontend read-only, so it
/// works while another program (or another [`Frontend`](crate::Frontend)) tunes it.
pub fn probe(id: FrontendId) -> Result<FrontendCaps, DvbError> {
    let handle = FeHandle::open(id, false)?;
    Ok(handle.caps())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"").unwrap();
    }

    #[test]
    fn finds_frontends_with_their_demux_and_dvr() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [
            "adapter0/frontend0",
            "adapter0/demux0",
            "adapter0/dvr0",
            "adapter0/net0",
            // two tuners, one demux/dvr pair each
            "adapter10/frontend0",
            "adapter10/frontend1",
            "adapter10/demux0",
            "adapter10/demux1",
            "adapter10/dvr0",
            "adapter10/dvr1",
            // two tuners sharing demux0/dvr0
            "adapter2/frontend0",
            "adapter2/frontend1",
            "adapter2/demux0",
            "adapter2/dvr0",
            // not frontends
            "adapter3/ca0",
            "adapter03/frontend0",
            "adapterX/frontend0",
            "adapter4/frontend",
            "adapter4/frontend1.old",
            "notes.txt",
        ] {
            touch(root, rel);
        }
        let found = discover_in(root).unwrap();
        let ids: Vec<String> = found.iter().map(|d| d.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "adapter0/frontend0",
                "adapter2/frontend0",
                "adapter2/frontend1",
                "adapter10/frontend0",
                "adapter10/frontend1"
            ]
        );
        let second_of_10 = &found[4];
        assert_eq!(second_of_10.frontend, root.join("adapter10/frontend1"));
        assert_eq!(second_of_10.demux, root.join("adapter10/demux1"));
        assert_eq!(second_of_10.dvr, root.join("adapter10/dvr1"));
        let shared = &found[2];
        assert_eq!(shared.demux, root.join("adapter2/demux0"));
        assert_eq!(shared.dvr, root.join("adapter2/dvr0"));
    }

    #[test]
    fn no_dvb_directory_means_no_adapters() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(discover_in(&dir.path().join("dvb")).unwrap(), Vec::new());
    }

    #[test]
    fn unplugging_is_seen_on_the_next_discovery() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "adapter0/frontend0");
        touch(dir.path(), "adapter1/frontend0");
        assert_eq!(discover_in(dir.path()).unwrap().len(), 2);
        fs::remove_dir_all(dir.path().join("adapter0")).unwrap();
        let found = discover_in(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].id,
            FrontendId {
                adapter: 1,
                frontend: 0
            }
        );
    }

    #[test]
    fn paths_of_an_id() {
        let id = FrontendId {
            adapter: 3,
            frontend: 0,
        };
        assert_eq!(id.frontend_path(), Path::new("/dev/dvb/adapter3/frontend0"));
        assert_eq!(id.to_string(), "adapter3/frontend0");
    }

    #[test]
    fn ids_parse_as_they_display() {
        let id: FrontendId = "adapter12/frontend3".parse().unwrap();
        assert_eq!(
            id,
            FrontendId {
                adapter: 12,
                frontend: 3
            }
        );
        assert_eq!(id.to_string().parse::<FrontendId>(), Ok(id));
        assert_eq!(
            "/dev/dvb/adapter0/frontend1"
                .parse::<FrontendId>()
                .map(|i| i.frontend),
            Ok(1)
        );
        for bad in [
            "adapter0",
            "adapter0/demux0",
            "adapterX/frontend0",
            "adapter0/frontend-1",
            "",
        ] {
            let error = bad.parse::<FrontendId>().unwrap_err();
            assert!(
                error.to_string().contains("expected adapterN/frontendM"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn probing_a_missing_adapter_names_it() {
        let id = FrontendId {
            adapter: 97,
            frontend: 0,
        };
        let error = probe(id).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no DVB adapter at /dev/dvb/adapter97/frontend0"
        );
    }
}
