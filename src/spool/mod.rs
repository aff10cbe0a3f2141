//! The durable queue: one directory per destination, one file per pending outcome.
//!
//! Owns: `<state_dir>/spool/<dest>/{tmp,new,quarantine}/`, the commit protocol, the entry file
//! format ([`entry`]), ordering, quarantine of damaged files and the wake-up of the delivery
//! loop. Must not deliver, retry or interpret outcomes: that is `delivery` and `sinks`.
//!
//! # Commit protocol (Maildir / Postfix)
//!
//! [`Spool::enqueue`] writes the entry to `tmp/<id>` (mode 0600, created exclusively),
//! `write_all` + `fsync`, renames it into `new/<id>` and fsyncs `new/`. Only `new/` is ever read
//! for delivery, so a crash at any point leaves either nothing (a stale `tmp/` file, removed at
//! the next [`Spool::open`]) or a complete, durable entry.
//!
//! **Contract for callers:** advance a source checkpoint only after `enqueue` returned `Ok`.
//! On `Err` (disk full, read-only file system, missing directory, ...) nothing was committed
//! and the caller must keep its checkpoint where it was and offer the outcome again later. A
//! rare `Err` after the rename (the directory fsync failed) may leave the entry in `new/` too:
//! the retry then makes a duplicate, never a loss (delivery is at least once).
//!
//! # Damaged files
//!
//! Each entry carries a magic, a version, its length, a CRC-32 and an END record. A file in
//! `new/` that fails any check (empty, truncated, wrong CRC, no END, unknown version, a name
//! that is not an entry id) is moved to `quarantine/` with exactly one warning and is never
//! looked at again; the spool never panics or stops because of one.
//!
//! # Lanes
//!
//! Entries wait in one of two [`Lane`]s: `Normal` (a result as it comes) and `Bulk` (the many
//! results of one big file). [`Spool::pending`] lists every normal entry before any bulk one,
//! and an enqueue in the normal lane raises a flag ([`Spool::take_urgent`]) that tells the
//! delivery loop to list again, so a fresh failure never waits behind a huge backlog.
//!
//! # Processes and owners
//!
//! All methods do blocking file I/O (a few fsyncs at most): call them from
//! `tokio::task::spawn_blocking` in async code. Several processes may write one spool (the
//! `inbox` that `wrap` hands outcomes to the agent through): entry names carry the pid, and
//! [`Spool::open`] removes only `tmp/` files older than [`STALE_TMP`], which no live writer
//! leaves behind. Directories are 0700 and files 0600, owned like the state directory (see
//! `crate::state::owner`), so `wrap` run as root never leaves what the agent cannot read.

pub mod entry;

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

pub use entry::{Entry, EntryError, EntryId, Lane};

use crate::outcome::Outcome;
use crate::state::Ownership;

/// Beside each quarantined entry, a file with this suffix says when and why.
pub const WHY_SUFFIX: &str = ".why";

/// Longest destination name (it is a directory name).
pub const MAX_DEST_LEN: usize = 100;

/// A file in `tmp/` older than this was left by a process that died while writing it (an
/// entry takes milliseconds to write): [`Spool::open`] removes it.
pub const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(600);

/// Why the spool could not do something. Damaged entries are not errors (they are
/// quarantined); these are I/O failures the caller must act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The destination cannot be a directory name.
    #[error(
        "invalid destination name {0:?}: use 1 to {MAX_DEST_LEN} letters, digits, '.', '_' or '-'"
    )]
    InvalidDest(String),
    /// A spool directory could not be created or given mode 0700.
    #[error("cannot create spool directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Writing the entry to `tmp/` failed (disk full, read-only, quota, ...). Nothing was
    /// committed.
    #[error("cannot write spool entry {path}: {source}")]
    Write {
        /// The file in `tmp/`.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Moving the entry into `new/` or making that durable failed. The entry may or may not be
    /// in `new/`; treat it as not committed (a retry can only make a duplicate).
    #[error("cannot commit spool entry to {path}: {source}")]
    Commit {
        /// The target in `new/`.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Listing, reading, removing or quarantining entries failed.
    #[error("cannot access spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The outcome could not be serialised.
    #[error("cannot encode outcome for the spool: {0}")]
    Encode(#[from] serde_json::Error),
    /// The outcome is larger than an entry may be.
    #[error("outcome is {size} bytes as JSON, more than the spool limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl SpoolError {
    /// True when the file system is full or over quota (for a `spool_full` metric).
    pub fn is_full(&self) -> bool {
        self.io_error().is_some_and(|e| {
            e.kind() == io::ErrorKind::StorageFull
                || e.kind() == io::ErrorKind::QuotaExceeded
                || e.kind() == io::ErrorKind::FileTooLarge
        })
    }

    /// The underlying I/O error, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            SpoolError::CreateDir { source, .. }
            | SpoolError::Write { source, .. }
            | SpoolError::Commit { source, .. }
            | SpoolError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

struct Inner {
    dest: String,
    dir: PathBuf,
    tmp: PathBuf,
    new: PathBuf,
    quarantine: PathBuf,
    pid: u32,
    seq: AtomicU64,
    last_micros: AtomicU64,
    quarantined: AtomicU64,
    /// Damaged files that could be neither quarantined nor removed: skipped from now on, so a
    /// read-only spool does not make a warning per pass.
    stuck: Mutex<HashSet<String>>,
    notify: Notify,
    /// An entry was enqueued in the normal lane since the last [`Spool::take_urgent`].
    urgent: std::sync::atomic::AtomicBool,
    ownership: Ownership,
}

/// The durable queue of one destination. Cheap to clone (handles share one state).
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dest", &self.inner.dest)
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

fn valid_dest(dest: &str) -> bool {
    !dest.is_empty()
        && dest.len() <= MAX_DEST_LEN
        && dest != "."
        && dest != ".."
        && dest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn make_dir(path: &Path, ownership: &Ownership) -> Result<(), SpoolError> {
    let err = |source| SpoolError::CreateDir {
        path: path.to_path_buf(),
        source,
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(err)?;
    let meta = fs::metadata(path).map_err(err)?;
    if !meta.is_dir() {
        return Err(err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "exists and is not a directory",
        )));
    }
    ownership.apply(path);
    if meta.permissions().mode() & 0o777 != 0o700 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl Spool {
    /// Open (creating with mode 0700) `<state_dir>/spool/<dest>/` and its `tmp/`, `new/` and
    /// `quarantine/`, owned like `state_dir`, and remove files older than [`STALE_TMP`] from
    /// `tmp/` (they were never committed), with one warning each.
    pub fn open(state_dir: impl AsRef<Path>, dest: &str) -> Result<Spool, SpoolError> {
        if !valid_dest(dest) {
            return Err(SpoolError::InvalidDest(dest.to_string()));
        }
        let spool_root = state_dir.as_ref().join("spool");
        let dir = spool_root.join(dest);
        let inner = Inner {
            dest: dest.to_string(),
            tmp: dir.join("tmp"),
            new: dir.join("new"),
            quarantine: dir.join("quarantine"),
            dir,
            pid: std::process::id(),
            seq: AtomicU64::new(0),
            last_micros: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            stuck: Mutex::new(HashSet::new()),
            notify: Notify::new(),
            urgent: std::sync::atomic::AtomicBool::new(false),
            ownership: Ownership::of(state_dir.as_ref()),
        };
        for d in [
            &spool_root,
            &inner.dir,
            &inner.tmp,
            &inner.new,
            &inner.quarantine,
        ] {
            make_dir(d, &inner.ownership)?;
        }
        let spool = Spool {
            inner: Arc::new(inner),
        };
        spool.clean_tmp()?;
        Ok(spool)
    }

    fn clean_tmp(&self) -> Result<(), SpoolError> {
        let tmp = &self.inner.tmp;
        let io_err = |source| SpoolError::Io {
            path: tmp.clone(),
            source,
        };
        for dirent in fs::read_dir(tmp).map_err(io_err)? {
            let path = dirent.map_err(io_err)?.path();
            // A live writer (another process handing an outcome over) finishes in
            // milliseconds: only what is clearly abandoned goes.
            let age = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_none_or(|a| a < STALE_TMP) {
                continue;
            }
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed {
                Ok(()) => tracing::warn!(
                    spool = %self.inner.dest,
                    file = %path.display(),
                    "removed an uncommitted spool file left by an earlier crash"
                ),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(SpoolError::Io { path, source }),
            }
        }
        Ok(())
    }

    /// The destination name.
    pub fn dest(&self) -> &str {
        &self.inner.dest
    }

    /// `<state_dir>/spool/<dest>`.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Where damaged entries are moved.
    pub fn quarantine_dir(&self) -> &Path {
        &self.inner.quarantine
    }

    /// Damaged entries quarantined (or removed) by this handle's spool since it was opened.
    pub fn quarantined(&self) -> u64 {
        self.inner.quarantined.load(Ordering::Relaxed)
    }

    fn next_id(&self, at: DateTime<Utc>, lane: Lane) -> EntryId {
        let micros = at.timestamp_micros().max(0) as u64;
        // Never go backwards within this process, even when the clock does.
        let prev = self.inner.last_micros.fetch_max(micros, Ordering::Relaxed);
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        EntryId::in_lane(micros.max(prev), seq, self.inner.pid, lane)
    }

    /// Commit `outcome` durably (see the module docs for the protocol and the caller's
    /// contract: advance checkpoints only on `Ok`). Wakes the delivery loop.
    pub fn enqueue(&self, outcome: &Outcome) -> Result<EntryId, SpoolError> {
        self.enqueue_at(outcome, Utc::now())
    }

    /// As [`Spool::enqueue`], recording `spooled_at` as the spool time (imports and tests).
    pub fn enqueue_at(
        &self,
        outcome: &Outcome,
        spooled_at: DateTime<Utc>,
    ) -> Result<EntryId, SpoolError> {
        let mut ids = self.enqueue_many(std::slice::from_ref(outcome), spooled_at, Lane::Normal)?;
        Ok(ids.remove(0))
    }

    /// Commit several outcomes in `lane`: each file is written and fsynced, and one directory
    /// fsync makes all the renames durable; `Ok` only then. On `Err`, some of them may be
    /// committed already (a retry can only make duplicates, see the module docs).
    pub fn enqueue_many(
        &self,
        outcomes: &[Outcome],
        spooled_at: DateTime<Utc>,
        lane: Lane,
    ) -> Result<Vec<EntryId>, SpoolError> {
        let mut ids = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            ids.push(self.write_one(outcome, spooled_at, lane)?);
        }
        if let Some(last) = ids.last() {
            let new = self.inner.new.join(last.as_str());
            sync_dir(&self.inner.new).map_err(|source| SpoolError::Commit { path: new, source })?;
            if lane == Lane::Normal {
                self.inner.urgent.store(true, Ordering::Relaxed);
            }
            self.inner.notify.notify_one();
        }
        Ok(ids)
    }

    /// Write one entry to `tmp/`, fsync it, give it the state directory's owner and rename it
    /// into `new/` (the directory is not fsynced here).
    fn write_one(
        &self,
        outcome: &Outcome,
        spooled_at: DateTime<Utc>,
        lane: Lane,
    ) -> Result<EntryId, SpoolError> {
        let id = self.next_id(spooled_at, lane);
        let entry = Entry {
            id: id.clone(),
            spooled_at,
            outcome: outcome.clone(),
        };
        let bytes = entry::encode(&entry)?;
        if bytes.len() > entry::MAX_PAYLOAD {
            return Err(SpoolError::TooLarge {
                size: bytes.len(),
                limit: entry::MAX_PAYLOAD,
            });
        }
        let tmp = self.inner.tmp.join(id.as_str());
        let new = self.inner.new.join(id.as_str());
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()?;
                self.inner.ownership.apply_file(&f);
                Ok(())
            });
        if let Err(source) = written {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Write { path: tmp, source });
        }
        if let Err(source) = fs::rename(&tmp, &new) {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Commit { path: new, source });
        }
        Ok(id)
    }

    /// True (once) when an entry was enqueued in the normal lane since the last call: the
    /// delivery loop then lists again before it goes on with bulk entries.
    pub fn take_urgent(&self) -> bool {
        self.inner.urgent.swap(false, Ordering::Relaxed)
    }

    /// Ids of committed entries, oldest first. Files in `new/` whose names are not entry ids are
    /// quarantined (one warning each).
    pub fn pending(&self) -> Result<Vec<EntryId>, SpoolError> {
        let new = &self.inner.new;
        let io_err = |source| SpoolError::Io {
            path: new.clone(),
            source,
        };
        let mut ids = Vec::new();
        let mut strays = Vec::new();
        {
            let stuck = self.inner.stuck.lock().unwrap_or_else(|e| e.into_inner());
            for dirent in fs::read_dir(new).map_err(io_err)? {
                let dirent = dirent.map_err(io_err)?;
                let name = dirent.file_name();
                let name = name.to_string_lossy();
                if stuck.contains(name.as_ref()) {
                    continue;
                }
                match EntryId::parse(&name) {
                    Some(id) => ids.push(id),
                    None => strays.push(dirent.file_name()),
                }
            }
        }
        for name in strays {
            self.quarantine_file(
                &name.to_string_lossy(),
                &self.inner.new.join(&name),
                "not a spool entry name",
            );
        }
        ids.sort_by_key(EntryId::sort_key);
        Ok(ids)
    }

    /// Number of committed entries (one directory listing).
    pub fn len(&self) -> Result<usize, SpoolError> {
        self.pending().map(|p| p.len())
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> Result<bool, SpoolError> {
        self.len().map(|n| n == 0)
    }

    /// Read and validate one entry. `Ok(None)` when it is gone (acknowledged meanwhile) or was
    /// damaged (then it is quarantined, with one warning).
    pub fn load(&self, id: &EntryId) -> Result<Option<Entry>, SpoolError> {
        let path = self.inner.new.join(id.as_str());
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SpoolError::Io { path, source }),
        };
        match entry::decode(&bytes) {
            Ok(mut e) => {
                // The file name is authoritative (it is what ack removes).
                e.id = id.clone();
                Ok(Some(e))
            }
            Err(why) => {
                self.quarantine_file(id.as_str(), &path, &why.to_string());
                Ok(None)
            }
        }
    }

    /// Move an entry a sink can never deliver to `quarantine/` (one warning).
    pub fn reject(&self, id: &EntryId, reason: &str) {
        let path = self.inner.new.join(id.as_str());
        self.quarantine_file(id.as_str(), &path, reason);
    }

    fn quarantine_file(&self, name: &str, path: &Path, reason: &str) {
        let target = self.inner.quarantine.join(name);
        let moved = fs::rename(path, &target).and_then(|()| sync_dir(&self.inner.new));
        let dest = &self.inner.dest;
        match moved {
            Ok(()) => {
                // Why, beside it, for `nagbridge status` and the admin (best effort).
                let why = self.inner.quarantine.join(format!("{name}{WHY_SUFFIX}"));
                if fs::write(&why, format!("{} {reason}\n", Utc::now().to_rfc3339())).is_ok() {
                    self.inner.ownership.apply(&why);
                }
                tracing::warn!(
                    spool = %dest,
                    file = %path.display(),
                    quarantine = %target.display(),
                    "spool entry quarantined: {reason}"
                )
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                // Do not try again on every pass: skip it for the life of this process.
                self.inner
                    .stuck
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.to_string());
                tracing::warn!(
                    spool = %dest,
                    file = %path.display(),
                    "spool entry is damaged ({reason}) and could not be quarantined ({e}): \
                     skipped until restart"
                );
            }
        }
        self.inner.quarantined.fetch_add(1, Ordering::Relaxed);
    }

    /// Remove a delivered entry. Removing one that is already gone is not an error. The
    /// directory is not fsynced: a crash may bring the entry back, which means a duplicate
    /// delivery, never a loss.
    pub fn ack(&self, id: &EntryId) -> Result<(), SpoolError> {
        let path = self.inner.new.join(id.as_str());
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SpoolError::Io { path, source }),
        }
    }

    /// Wait until an entry is enqueued through any handle of this spool (a wake-up enqueued
    /// while nobody waited is kept for the next call). Entries written by other processes do
    /// not wake this: the delivery loop also polls.
    pub async fn wait_for_entries(&self) {
        self.inner.notify.notified().await
    }
}

#[cfg(test)]
mod tests;
