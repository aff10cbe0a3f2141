//! The source side of the agent: find result files that are ready, hand their new bytes to the
//! caller, and remember how far each file is done.
//!
//! Owns: discovery (inotify through `notify`, with a periodic full rescan that also runs at once
//! after an overflow, or pure polling for NFS/CIFS), readiness ([`stability`]), file identity
//! ([`identity`]), checkpoints ([`checkpoint`]) and the health of each watch ([`health`]).
//! Must not: parse or deliver anything. A file's checkpoint advances only when the caller
//! [`Watcher::commit`]s it, i.e. after the outcomes made from those bytes are durably spooled;
//! a crash before that re-delivers (at-least-once), it never skips.
//!
//! # Use
//!
//! ```no_run
//! # async fn f() -> Result<(), nagbridge::watch::WatchError> {
//! use nagbridge::watch::{WatchConfig, WatchSpec, Watcher};
//! let mut config = WatchConfig::new("/var/lib/nagbridge");
//! config.watches.push(WatchSpec::new("/var/log/backup-results"));
//! let mut watcher = Watcher::start(config)?;
//! loop {
//!     let file = watcher.next().await?;
//!     // parse file.bytes (or make one `unknown` outcome when file.oversize is set),
//!     // spool the outcomes durably, then:
//!     let consumed = file.bytes.len();
//!     watcher.commit(file.key, consumed).await?;
//! }
//! # }
//! ```
//!
//! # Rules
//!
//! * **Ready**: closed after writing (`IN_CLOSE_WRITE`), renamed into place (`IN_MOVED_TO`), or
//!   size and mtime unchanged for `quiet_period` ([`Readiness`]). `complete` (the writer is
//!   done) is true only for a rename into place and for a file unchanged for `settle_period`
//!   (or whose mtime is that old); otherwise, if the parser leaves bytes unconsumed, they come
//!   again with `complete = true` once settled (or with more bytes when the file grows).
//! * **Whole lines**: a close may be followed by more appends, so after a close only the bytes
//!   up to the last newline are handed out; a partial last line waits for its newline, or for
//!   the file to stay unchanged for `quiet_period` after the close, and is then handed out
//!   once (`printf '{..}' > f` without a newline is thus read `quiet_period` after its close;
//!   renamed into place, at once). A file that is merely quiet (no close seen) keeps its
//!   partial last line until it settles, except in polling mode, where closes are not seen and
//!   the quiet period is the only signal. A file with nothing but a partial line is not handed
//!   out. Finding the last newline costs the bytes appended since the last look, not the file.
//! * **History**: files already there the first time a watch is scanned (a new install, a
//!   `[[watch]]` added to the config; not after an upgrade from a state file without watches)
//!   are marked, and their bytes up to the size seen then come with `history = true`.
//! * **Skipped**: hidden and temporary names (leading `.`, trailing `~`, `.tmp`, `.temp`,
//!   `.swp`, `.part`, `.partial`) unless `skip_temp_names` is off; symlinks (never followed),
//!   FIFOs, sockets, devices, and directories of a non-recursive watch, each with one warning;
//!   anything under `state_dir`. Zero-byte files are ignored until they have content.
//! * **Identity**: `(dev, inode)` plus a fingerprint (xxh3 of the first 1 KiB, with its length)
//!   and an offset marker (xxh3 of the 1 KiB before the checkpoint offset). A rename keeps the
//!   identity; rotation (rename + new file) is two files; a file shorter than its offset, or
//!   whose head or marker hash changed (copytruncate, rewrite in place, a new file on a reused
//!   inode), starts again from 0. A rewrite in place with byte-identical content is not seen as
//!   new: write a new file or rename into place.
//! * **Size**: at most `max_file_size` new bytes are read at once. More than that gives one
//!   [`ReadyFile`] with `oversize = Some(size)` and no bytes; committing it records the whole file
//!   as done (also across restarts) until its identity changes; appended bytes after that are
//!   read as usual, except that when the oversize part ended inside a line, the rest of that
//!   line is skipped. A file growing without a newline is thus one oversize report (one per
//!   `max_file_size` bytes of line), not one per append. A huge file costs a stat and two 1 KiB
//!   reads.
//! * **In flight**: a handed-out file is not offered again until it is committed or released;
//!   at most 256 files are in flight at once (each keeps its descriptor, so a commit hashes the
//!   same file that was read), after that `next` waits.
//! * **Checkpoints** are kept in memory at once and appended to the journal
//!   `<state_dir>/watch-checkpoints` within `checkpoint_interval` (zero: before `commit`
//!   returns), at least every 64 commits, and at shutdown. Entries of files that a full scan no
//!   longer finds are pruned.
//! * **Health** ([`Watcher::health`]): each scan of a watch records whether its directory is
//!   there, a directory, readable, outside `state_dir` and watched by inotify. An unhealthy
//!   watch is scanned again every 5 s (or `rescan_interval`, when shorter) and its inotify
//!   registration retried, so a directory that appears is watched without a restart. The
//!   watcher logs one WARN when a watch becomes unhealthy and one INFO when it recovers.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::formats::FileMeta;

pub mod checkpoint;
pub mod health;
pub mod identity;
mod lines;
pub mod scan;
pub mod stability;
mod worker;

pub use health::{PathState, WatchHealth};
pub use identity::FileKey;
pub use stability::Readiness;

/// One watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// The directory.
    pub path: PathBuf,
    /// Glob on file names (default `*`).
    pub glob: String,
    /// Descend into subdirectories (default false).
    pub recursive: bool,
    /// Poll every this long instead of using inotify (for NFS/CIFS, where inotify is silent).
    pub poll: Option<Duration>,
}

impl WatchSpec {
    /// A non-recursive inotify watch of `path` with glob `*`.
    pub fn new(path: impl Into<PathBuf>) -> WatchSpec {
        WatchSpec {
            path: path.into(),
            glob: "*".into(),
            recursive: false,
            poll: None,
        }
    }
}

/// The watcher's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// The watched directories.
    pub watches: Vec<WatchSpec>,
    /// A file whose size and mtime did not change for this long is ready (default 5 s).
    pub quiet_period: Duration,
    /// A file unchanged for this long is complete (default 60 s).
    pub settle_period: Duration,
    /// Full rescan of inotify watches (default 60 s).
    pub rescan_interval: Duration,
    /// Most new bytes handed out at once (default 16 MiB).
    pub max_file_size: u64,
    /// Where the checkpoint file lives.
    pub state_dir: PathBuf,
    /// Skip hidden and temporary names (default true).
    pub skip_temp_names: bool,
    /// Longest delay between a commit and the checkpoint file write (default 1 s; zero writes
    /// before each commit returns).
    pub checkpoint_interval: Duration,
}

impl WatchConfig {
    /// Defaults, no watches.
    pub fn new(state_dir: impl Into<PathBuf>) -> WatchConfig {
        WatchConfig {
            watches: Vec::new(),
            quiet_period: Duration::from_secs(5),
            settle_period: Duration::from_secs(60),
            rescan_interval: Duration::from_secs(60),
            max_file_size: 16 << 20,
            state_dir: state_dir.into(),
            skip_temp_names: true,
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

/// New bytes of a file that is ready.
#[derive(Debug, Clone)]
pub struct ReadyFile {
    /// Identity, for [`Watcher::commit`].
    pub key: FileKey,
    /// Where the file is.
    pub path: PathBuf,
    /// Index of the watch in [`WatchConfig::watches`].
    pub watch: usize,
    /// Metadata for the parser.
    pub meta: FileMeta,
    /// The bytes from `offset` on (empty when oversize).
    pub bytes: Vec<u8>,
    /// Where `bytes` start in the file (the checkpoint, or 0 for a new or rewritten file).
    pub offset: u64,
    /// True when the writer is taken to be done with the file (see the module rules).
    pub complete: bool,
    /// How the file became ready.
    pub ready: Readiness,
    /// The file's size when the new bytes exceed `max_file_size`: make one `unknown` outcome.
    pub oversize: Option<u64>,
    /// The bytes were in the file before its watch was first scanned: old results.
    pub history: bool,
}

/// Something worth a log line; the watcher goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file or directory concerned.
    pub path: Option<PathBuf>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Warnings kept until drained (the oldest are dropped past this).
const MAX_WARNINGS: usize = 1024;

/// Errors of the watcher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// A watch's glob does not compile.
    #[error("watch {index}: invalid glob {glob:?}: {reason}")]
    Glob {
        /// Index of the watch.
        index: usize,
        /// The glob.
        glob: String,
        /// Why.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid watch setting: {0}")]
    Setting(String),
    /// The state directory cannot be created.
    #[error("state directory {0}: {1}")]
    StateDir(PathBuf, #[source] io::Error),
    /// The checkpoint file cannot be read or written.
    #[error("checkpoint file {0}: {1}")]
    State(PathBuf, #[source] io::Error),
    /// inotify could not be set up.
    #[error("inotify: {0}")]
    Notify(String),
    /// `commit` or `release` of a file that is not handed out.
    #[error("file {0:?} is not handed out")]
    NotHandedOut(FileKey),
    /// `commit` with more bytes than were handed out.
    #[error("consumed {consumed} is more than the {len} bytes handed out")]
    Consumed {
        /// What the caller said.
        consumed: usize,
        /// What was handed out.
        len: usize,
    },
    /// The watcher's thread is gone.
    #[error("the watcher has stopped")]
    Stopped,
}

enum Msg {
    Fs(notify::Result<notify::Event>),
    /// The caller waits for one file: send it on the ready channel.
    Want,
    Commit(FileKey, usize, oneshot::Sender<Result<(), WatchError>>),
    Release(FileKey, oneshot::Sender<Result<(), WatchError>>),
    Flush(oneshot::Sender<Result<(), WatchError>>),
    Stop,
}

type Warnings = Arc<Mutex<VecDeque<Warning>>>;
type Health = Arc<Mutex<Vec<WatchHealth>>>;

/// The running watcher: a thread that does the file system work, and this handle.
#[derive(Debug)]
pub struct Watcher {
    tx: mpsc::Sender<Msg>,
    ready: tokio::sync::mpsc::UnboundedReceiver<ReadyFile>,
    /// A `Want` was sent and its file not received yet (a cancelled `next` leaves it so; the
    /// file then waits in `ready` for the next call).
    wanting: bool,
    warnings: Warnings,
    health: Health,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Validate `config`, load the checkpoints, set up inotify, scan every watch once and start
    /// the watcher thread. A watched directory that does not exist yet (or cannot be read) is
    /// reported by [`Watcher::health`] and retried every few seconds.
    pub fn start(config: WatchConfig) -> Result<Watcher, WatchError> {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready) = tokio::sync::mpsc::unbounded_channel();
        let warnings: Warnings = Arc::default();
        let health: Health = Arc::default();
        let worker = worker::Worker::new(
            config,
            tx.clone(),
            rx,
            ready_tx,
            warnings.clone(),
            health.clone(),
        )?;
        let thread = std::thread::Builder::new()
            .name("nagbridge-watch".into())
            .spawn(move || worker.run())
            .map_err(|e| WatchError::Notify(format!("cannot start the watcher thread: {e}")))?;
        Ok(Watcher {
            tx,
            ready,
            wanting: false,
            warnings,
            health,
            thread: Some(thread),
        })
    }

    /// The next ready file. Cancel-safe: a file that was ready when the future was dropped is
    /// given to the next call.
    pub async fn next(&mut self) -> Result<ReadyFile, WatchError> {
        if !self.wanting {
            self.tx.send(Msg::Want).map_err(|_| WatchError::Stopped)?;
            self.wanting = true;
        }
        let file = self.ready.recv().await.ok_or(WatchError::Stopped)?;
        self.wanting = false;
        Ok(file)
    }

    /// The outcomes of the first `consumed` bytes of the file handed out as `key` are durably
    /// spooled: advance its checkpoint. For an oversize file, `consumed` is ignored and the
    /// whole file is recorded as done. Bytes not consumed come again (with more, or complete).
    pub async fn commit(&mut self, key: FileKey, consumed: usize) -> Result<(), WatchError> {
        self.call(|tx| Msg::Commit(key, consumed, tx)).await
    }

    /// Give a handed-out file back without advancing (e.g. the spool failed): it is offered
    /// again after the quiet period.
    pub async fn release(&mut self, key: FileKey) -> Result<(), WatchError> {
        self.call(|tx| Msg::Release(key, tx)).await
    }

    /// Write the checkpoint file now if anything changed.
    pub async fn flush(&mut self) -> Result<(), WatchError> {
        self.call(Msg::Flush).await
    }

    /// The health of every watch as of its last scan (the first one ran in
    /// [`Watcher::start`]). Cheap: a copy of a short list.
    pub fn health(&self) -> Vec<WatchHealth> {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The watches whose last scan found a problem.
    pub fn unhealthy(&self) -> Vec<WatchHealth> {
        let mut h = self.health();
        h.retain(|w| !w.state.is_ok());
        h
    }

    /// Drain the warnings collected so far.
    pub fn take_warnings(&self) -> Vec<Warning> {
        let mut w = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        w.drain(..).collect()
    }

    async fn call(
        &mut self,
        msg: impl FnOnce(oneshot::Sender<Result<(), WatchError>>) -> Msg,
    ) -> Result<(), WatchError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(msg(tx)).map_err(|_| WatchError::Stopped)?;
        rx.await.map_err(|_| WatchError::Stopped)?
    }
}

impl Drop for Watcher {
    /// Stops the thread after it wrote the checkpoints (files handed out but not committed are
    /// not advanced).
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn push_warning(warnings: &Warnings, path: Option<&Path>, message: String) {
    let mut w = warnings.lock().unwrap_or_else(|p| p.into_inner());
    if w.len() >= MAX_WARNINGS {
        w.pop_front();
    }
    w.push_back(Warning {
        path: path.map(Path::to_path_buf),
        message,
    });
}
