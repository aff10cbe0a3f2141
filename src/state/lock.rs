//! One agent per state directory: an advisory lock on `state_dir/agent.lock` (flock, released
//! by the kernel when the holder exits, even after `kill -9`), with the holder's pid and role
//! written in the file so that the second process can name it.
//!
//! Owns: taking, waiting for and describing the lock. Must not decide what a process does when
//! it does not get it (the agent exits 2; `wrap` hands its outcome over).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Ownership;

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "agent.lock";

/// What the holder of the lock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `nagbridge run`.
    Agent,
    /// `nagbridge wrap` delivering its own outcome (no agent was running).
    Wrap,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Wrap => "wrap",
        }
    }
}

/// The holder of a lock, as written in the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id (None when the file did not say).
    pub pid: Option<u32>,
    /// Its role (None when the file did not say).
    pub role: Option<Role>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let role = match self.role {
            Some(Role::Agent) => "nagbridge run",
            Some(Role::Wrap) => "nagbridge wrap",
            None => "a nagbridge process",
        };
        match self.pid {
            Some(pid) => write!(f, "{role} (pid {pid})"),
            None => write!(f, "{role} (pid unknown)"),
        }
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    #[error("{holder} already uses state_dir {dir}; one agent per state_dir")]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// Who holds it.
        holder: Holder,
    },
    /// The lock file cannot be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct StateLock {
    file: File,
    path: PathBuf,
}

fn open(state_dir: &Path) -> Result<(File, PathBuf), LockError> {
    let path = state_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    Ownership::of(state_dir).apply(&path);
    Ok((file, path))
}

/// Who holds the lock of `state_dir`, read from the lock file (None when nobody does).
pub fn holder(state_dir: &Path) -> Option<Holder> {
    let path = state_dir.join(LOCK_FILE);
    let file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_holder(&file)),
        Err(TryLockError::Error(_)) => Some(read_holder(&file)),
    }
}

fn read_holder(mut file: &File) -> Holder {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(200).read_to_string(&mut text);
    let mut words = text.split_whitespace();
    let pid = words.next().and_then(|p| p.parse().ok());
    let role = match words.next() {
        Some("agent") => Some(Role::Agent),
        Some("wrap") => Some(Role::Wrap),
        _ => None,
    };
    Holder { pid, role }
}

impl StateLock {
    /// Take the lock of `state_dir` (which must exist) without waiting.
    pub fn try_acquire(state_dir: &Path, role: Role) -> Result<StateLock, LockError> {
        let (file, path) = open(state_dir)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: state_dir.to_path_buf(),
                    holder: read_holder(&file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(LockError::Io { path, source }),
        }
        let mut lock = StateLock { file, path };
        lock.write_holder(role)?;
        Ok(lock)
    }

    /// Take the lock, waiting up to `wait` while it is held by a process whose role
    /// `wait_for` accepts (e.g. an agent waits for a `wrap` that is delivering); any other
    /// holder fails at once.
    pub fn acquire_waiting(
        state_dir: &Path,
        role: Role,
        wait: Duration,
        wait_for: impl Fn(&Holder) -> bool,
    ) -> Result<StateLock, LockError> {
        let deadline = Instant::now() + wait;
        loop {
            match StateLock::try_acquire(state_dir, role) {
                Err(LockError::Held { holder, dir })
                    if Instant::now() < deadline && wait_for(&holder) =>
                {
                    let _ = (holder, dir);
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn write_holder(&mut self, role: Role) -> Result<(), LockError> {
        let line = format!("{} {}\n", std::process::id(), role.name());
        let r = self
            .file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)))
            .and_then(|_| self.file.write_all(line.as_bytes()));
        r.map_err(|source| LockError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Change the role written in the lock file (the lock stays held).
    pub fn set_role(&mut self, role: Role) -> Result<(), LockError> {
        self.write_holder(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let lock = StateLock::try_acquire(dir.path(), Role::Agent).unwrap();
        let me = std::process::id();
        // flock locks belong to the open file description: a second open in this process
        // conflicts like another process would.
        let err = StateLock::try_acquire(dir.path(), Role::Agent).unwrap_err();
        match &err {
            LockError::Held { holder, .. } => {
                assert_eq!(holder.pid, Some(me));
                assert_eq!(holder.role, Some(Role::Agent));
            }
            e => panic!("{e}"),
        }
        assert!(
            err.to_string()
                .contains(&format!("nagbridge run (pid {me})")),
            "{err}"
        );
        assert_eq!(holder(dir.path()).map(|h| h.role), Some(Some(Role::Agent)));
        drop(lock);
        assert_eq!(holder(dir.path()), None);
        let again = StateLock::try_acquire(dir.path(), Role::Wrap).unwrap();
        drop(again);
    }

    #[test]
    fn waits_only_for_the_accepted_role() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::try_acquire(dir.path(), Role::Wrap).unwrap();
        let path = dir.path().to_path_buf();
        let t = std::thread::spawn(move || {
            StateLock::acquire_waiting(&path, Role::Agent, Duration::from_secs(20), |h| {
                h.role == Some(Role::Wrap)
            })
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(lock);
        let got = t.join().unwrap().unwrap();
        // An agent holder is not waited for.
        let start = Instant::now();
        let err =
            StateLock::acquire_waiting(dir.path(), Role::Wrap, Duration::from_secs(20), |h| {
                h.role == Some(Role::Wrap)
            })
            .unwrap_err();
        assert!(matches!(err, LockError::Held { .. }));
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(got);
    }
}
