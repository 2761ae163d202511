//! The data directory and its exclusive lock.
//!
//! Owns: creating `<data-dir>` and holding an exclusive `flock` on `<data-dir>/LOCK` for the
//! daemon's lifetime, so two daemons never share one log.
//! Must never: block waiting for the lock (a second daemon is refused at once).

use rustix::fs::{flock, FlockOperation};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub const LOCK_FILE_NAME: &str = "LOCK";

/// Held for as long as the daemon runs; the kernel drops the lock when the file closes.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug)]
pub enum LockError {
    Io { path: PathBuf, source: io::Error },
    Held { path: PathBuf },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Io { path, source } => write!(f, "cannot lock {}: {source}", path.display()),
            LockError::Held { path } => write!(
                f,
                "another eventsrv daemon holds {} (one data directory, one daemon)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LockError {}

/// Create the data directory if needed and take its lock.
pub fn lock(data_dir: &Path) -> Result<DataDirLock, LockError> {
    let path = data_dir.join(LOCK_FILE_NAME);
    std::fs::create_dir_all(data_dir).map_err(|source| LockError::Io {
        path: path.clone(),
        source,
    })?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(DataDirLock { _file: file, path }),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(LockError::Held { path }),
        Err(errno) => Err(LockError::Io {
            path,
            source: errno.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock(dir.path()).expect("first lock");
        assert!(matches!(lock(dir.path()), Err(LockError::Held { .. })));
        drop(first);
        lock(dir.path()).expect("lock is free again");
    }
}
