//! The hub's lock on its state dir: a running hub holds an exclusive lock on `omnibus.lock`, so a
//! second hub on the same state cannot start, and offline tools (`omnibus offsets reset`) can tell
//! that a hub is running and refuse to change its positions behind its back.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The lock file's name inside the state dir.
pub const LOCK_FILE: &str = "omnibus.lock";

/// Held while the hub runs; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct HubLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("a hub is already running on state dir {dir} (pid {pid}); stop it first")]
    Held { dir: String, pid: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl HubLock {
    /// Takes the lock on `dir`, writing this process's pid into the lock file.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.display().to_string(),
                    pid: holder(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// The pid written by the process holding the lock.
fn holder(file: &mut File) -> String {
    let mut pid = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut pid);
    if pid.trim().is_empty() {
        "unknown".into()
    } else {
        pid.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = HubLock::acquire(dir.path()).unwrap();
        let second = HubLock::acquire(dir.path()).unwrap_err();
        assert!(
            second.to_string().contains(&std::process::id().to_string()),
            "{second}"
        );
        drop(first);
        HubLock::acquire(dir.path()).unwrap();
    }
}
