//! The one error type of the store, with messages meant for an operator reading the
//! web UI or the journal of a box nobody has logged into for months.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use sled::transaction::{ConflictableTransactionError, TransactionError};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The change would break a uniqueness rule (channel number, output address) or
    /// a resource is used up (address pool, channel numbers). The message names the
    /// thing and, where there is one, the channel that already holds it.
    #[error("{0}")]
    Conflict(String),
    /// The input or channel the call refers to does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The value breaks a validation rule; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The database was written by a newer dvbgate. It is left untouched so that the
    /// newer version still finds it intact after a downgrade is rolled back.
    #[error(
        "the configuration at {} was written by a newer dvbgate (schema {found}); \
         this version understands up to {supported}",
        path.display()
    )]
    NewerSchema {
        /// Directory of the database.
        path: PathBuf,
        /// Schema version found in the database.
        found: u32,
        /// Newest schema version this build understands.
        supported: u32,
    },
    /// A record could not be decoded; the message names the tree and key.
    #[error("corrupt configuration: {0}")]
    Corrupt(String),
    /// The system's random number generator failed (a password salt could not be
    /// drawn); nothing was written.
    #[error("the system's random number generator failed: {0}")]
    Random(String),
    /// sled failed (I/O, corruption detected by sled, lock held by another process).
    #[error("{}", storage_message(path.as_deref(), source))]
    Storage {
        /// Directory of the database, when known at the point of failure (the store
        /// fills it in before an error leaves a public method).
        path: Option<PathBuf>,
        /// What sled reported.
        #[source]
        source: sled::Error,
    },
}

impl From<sled::Error> for StoreError {
    fn from(source: sled::Error) -> Self {
        StoreError::Storage { path: None, source }
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(error: TransactionError<StoreError>) -> Self {
        match error {
            TransactionError::Abort(refusal) => refusal,
            TransactionError::Storage(source) => StoreError::from(source),
        }
    }
}

impl StoreError {
    /// Attaches the database directory to a storage error that does not have one yet.
    pub(crate) fn at(self, dir: &Path) -> Self {
        match self {
            StoreError::Storage { path: None, source } => StoreError::Storage {
                path: Some(dir.to_path_buf()),
                source,
            },
            other => other,
        }
    }

    /// Wraps a refusal so that a transaction closure can return it and sled aborts
    /// the transaction without writing anything.
    pub(crate) fn abort(self) -> ConflictableTransactionError<StoreError> {
        ConflictableTransactionError::Abort(self)
    }
}

fn storage_message(path: Option<&Path>, source: &sled::Error) -> String {
    let mut message = String::from("storage error in the configuration database");
    if let Some(path) = path {
        // Writing to a String cannot fail.
        let _ = write!(message, " at {}", path.display());
    }
    let _ = write!(message, ": {source}");
    if let Some(hint) = storage_hint(source) {
        let _ = write!(message, " ({hint})");
    }
    message
}

/// A guess at the cause an operator can act on. Flash media in the field fail in a
/// few typical ways: full, remounted read-only after errors, or worn out.
fn storage_hint(source: &sled::Error) -> Option<&'static str> {
    match source {
        sled::Error::Io(error) => Some(match error.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                "the disk is full: free some space"
            }
            io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
                "the medium is read-only or not writable: the kernel remounts a failing \
                 SD card/eMMC read-only, check dmesg"
            }
            _ if error.to_string().contains("could not acquire lock") => {
                "another process (a second dvbgate?) has the database open"
            }
            _ => "check that the disk is not full or mounted read-only, and dmesg for I/O errors",
        }),
        sled::Error::Corruption { .. } => Some(
            "the database files are damaged: restore a backup, or move the directory away \
             to start with an empty configuration",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_message_names_the_path_and_hints_at_the_cause() {
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let error = StoreError::from(sled::Error::Io(full)).at(Path::new("/var/lib/dvbgate"));
        let text = error.to_string();
        assert!(text.contains("/var/lib/dvbgate"), "{text}");
        assert!(text.contains("disk is full"), "{text}");

        let read_only = io::Error::from(io::ErrorKind::ReadOnlyFilesystem);
        let text = StoreError::from(sled::Error::Io(read_only)).to_string();
        assert!(text.contains("read-only"), "{text}");
    }

    #[test]
    fn at_keeps_an_existing_path() {
        let error = StoreError::from(sled::Error::Unsupported("x".into()))
            .at(Path::new("/first"))
            .at(Path::new("/second"));
        assert!(error.to_string().contains("/first"));
    }

    #[test]
    fn errors_cross_threads() {
        // The API serves requests from async tasks on several threads.
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<StoreError>();
        send_sync::<crate::Store>();
    }

    #[test]
    fn newer_schema_message() {
        let error = StoreError::NewerSchema {
            path: "/data/config".into(),
            found: 3,
            supported: 2,
        };
        assert_eq!(
            error.to_string(),
            "the configuration at /data/config was written by a newer dvbgate (schema 3); \
             this version understands up to 2"
        );
    }
}
