//! The watcher thread: turns inotify events, scans and timers into ready files, reads their new
//! bytes when the caller asks for one, and records commits.
//!
//! Owns: the event loop, the files handed out and not yet committed, the decision of where
//! reading starts (checkpoint, or 0 when the identity check fails) and ends (the last whole
//! line unless the partial one may be read), the history marks of a watch's first scan, and
//! the health of each watch.
//! Must not: parse, deliver, or advance a checkpoint other than on the caller's commit.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

use super::checkpoint::{Checkpoint, CheckpointStore};
use super::health::{PathState, WatchHealth};
use super::identity::{self, FileKey, NotRegular, HEAD_LEN};
use super::lines::LineEnds;
use super::scan::Root;
use super::stability::{Readiness, Ready, Signal, Stat, Timing, Tracker};
use super::{push_warning, Health, Msg, ReadyFile, Warnings, WatchConfig, WatchError};
use crate::formats::FileMeta;

/// Files handed out and not committed (each holds an open descriptor): past this, `next`
/// waits for a commit or release.
const MAX_IN_FLIGHT: usize = 256;

/// Commits not yet in the checkpoint file: at this many, it is written at once rather than at
/// the end of `checkpoint_interval`. Under a burst, a crash (SIGKILL, power) then re-reads at
/// most this many files (each a duplicate downstream), not a whole interval's worth; it is the
/// delivery batch size, the other bound on duplicates per crash.
const PERSIST_EVERY_COMMITS: usize = 64;

/// An unhealthy watch (missing, unreadable, ...) is scanned again this often (or at its scan
/// interval, when shorter), so a directory that appears is watched within seconds.
const UNHEALTHY_RETRY: Duration = Duration::from_secs(5);

/// A file handed out and not yet committed.
struct InFlight {
    file: File,
    path: PathBuf,
    watch: usize,
    start: u64,
    len: u64,
    size: u64,
    head_len: u64,
    head_hash: u64,
    oversize: bool,
    readiness: Readiness,
    /// When the file last changed before it was handed out.
    changed: Instant,
    /// A partial last line was held back (`start + len < size`).
    tail_held: bool,
    history: Option<u64>,
    stat: Stat,
}

pub(super) struct Worker {
    config: WatchConfig,
    roots: Vec<Root>,
    state_dir: PathBuf,
    notify: Option<RecommendedWatcher>,
    /// inotify watch registered, per watch (always true for polled ones).
    registered: Vec<bool>,
    /// Why the last inotify registration failed, per watch.
    register_error: Vec<Option<String>>,
    /// Per watch: its identity in the checkpoint store (for the history rule).
    watch_ids: Vec<String>,
    /// Per watch: the state its last scan found (None before the first).
    states: Vec<Option<PathState>>,
    health: Health,
    line_ends: LineEnds,
    next_scan: Vec<Instant>,
    tracker: Tracker,
    timing: Timing,
    queue: VecDeque<Ready>,
    store: CheckpointStore,
    in_flight: HashMap<FileKey, InFlight>,
    /// The caller waits for a file.
    want: bool,
    ready_tx: UnboundedSender<ReadyFile>,
    warned: HashSet<PathBuf>,
    warnings: Warnings,
    persist_due: Option<Instant>,
    /// Commits since the checkpoint file was last written (or tried).
    unpersisted: usize,
    rx: Receiver<Msg>,
}

fn stat_of(meta: &fs::Metadata) -> Stat {
    Stat {
        size: meta.len(),
        mtime: meta.modified().ok(),
    }
}

impl Worker {
    pub(super) fn new(
        config: WatchConfig,
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
        ready_tx: UnboundedSender<ReadyFile>,
        warnings: Warnings,
        health: Health,
    ) -> Result<Worker, WatchError> {
        if config.quiet_period.is_zero() || config.rescan_interval.is_zero() {
            return Err(WatchError::Setting(
                "quiet_period and rescan_interval must be more than zero".into(),
            ));
        }
        if config
            .watches
            .iter()
            .any(|w| w.poll == Some(Duration::ZERO))
        {
            return Err(WatchError::Setting("poll must be more than zero".into()));
        }
        let mut roots = Vec::new();
        for (index, w) in config.watches.iter().enumerate() {
            let glob = glob::Pattern::new(&w.glob).map_err(|e| WatchError::Glob {
                index,
                glob: w.glob.clone(),
                reason: e.msg.to_string(),
            })?;
            roots.push(Root {
                dir: fs::canonicalize(&w.path).unwrap_or_else(|_| w.path.clone()),
                glob,
                recursive: w.recursive,
                skip_temp: config.skip_temp_names,
            });
        }
        let (store, corrupt) = CheckpointStore::open(&config.state_dir)?;
        let state_dir =
            fs::canonicalize(&config.state_dir).unwrap_or_else(|_| config.state_dir.clone());
        let notify = if config.watches.iter().any(|w| w.poll.is_none()) {
            let handler = move |res| {
                let _ = tx.send(Msg::Fs(res));
            };
            Some(
                notify::recommended_watcher(handler)
                    .map_err(|e| WatchError::Notify(e.to_string()))?,
            )
        } else {
            None
        };
        let now = Instant::now();
        // As configured (not canonicalized: that depends on whether the path exists now).
        let watch_ids = config
            .watches
            .iter()
            .map(|w| format!("{}|{}|{}", w.path.display(), w.glob, w.recursive))
            .collect();
        let mut worker = Worker {
            registered: config.watches.iter().map(|w| w.poll.is_some()).collect(),
            register_error: vec![None; roots.len()],
            watch_ids,
            states: vec![None; roots.len()],
            health,
            line_ends: LineEnds::default(),
            next_scan: vec![now; roots.len()],
            timing: Timing {
                quiet: config.quiet_period,
                settle: config.settle_period.max(config.quiet_period),
            },
            config,
            roots,
            state_dir,
            notify,
            tracker: Tracker::default(),
            queue: VecDeque::new(),
            store,
            in_flight: HashMap::new(),
            want: false,
            ready_tx,
            warned: HashSet::new(),
            warnings,
            persist_due: None,
            unpersisted: 0,
            rx,
        };
        if let Some(w) = corrupt {
            worker.warn(None, w);
        }
        // The first scan runs before `start` returns: the health of every watch is known from
        // the start, and files written after it are not history.
        for i in 0..worker.roots.len() {
            worker.scan_now(i);
        }
        Ok(worker)
    }

    fn warn(&self, path: Option<&Path>, message: String) {
        push_warning(&self.warnings, path, message);
    }

    /// Warn about `path` once per run.
    fn warn_once(&mut self, path: &Path, message: String) {
        if self.warned.insert(path.to_path_buf()) {
            self.warn(Some(path), message);
        }
    }

    fn register(&mut self, i: usize) {
        if self.registered[i] {
            return;
        }
        let Some(n) = self.notify.as_mut() else {
            return;
        };
        let mode = if self.roots[i].recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        // A failure is reported through the health of the watch (after its scan tells a
        // missing directory from an inotify problem) and retried at each scan.
        match n.watch(&self.roots[i].dir, mode) {
            Ok(()) => {
                self.registered[i] = true;
                self.register_error[i] = None;
            }
            Err(e) => self.register_error[i] = Some(e.to_string()),
        }
    }

    /// The watched directory is the state directory or inside it.
    fn inside_state_dir(&self, i: usize) -> bool {
        self.roots[i].dir.starts_with(&self.state_dir)
    }

    /// Record what a scan of watch `i` found; log a change of health once.
    fn set_state(&mut self, i: usize, state: PathState) {
        if self.states[i].as_ref() == Some(&state) {
            return;
        }
        let path = self.config.watches[i].path.display().to_string();
        if !state.is_ok() {
            tracing::warn!(watch = i, path = %path, "watched directory {path}: {state}; checking again every {:?}", self.retry_interval(i));
        } else if self.states[i].is_some() {
            tracing::info!(watch = i, path = %path, "watched directory {path} is readable and watched again");
        }
        self.states[i] = Some(state);
        let all = self
            .states
            .iter()
            .enumerate()
            .filter_map(|(index, s)| {
                Some(WatchHealth {
                    index,
                    path: self.config.watches[index].path.clone(),
                    state: s.clone()?,
                })
            })
            .collect();
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = all;
    }

    fn retry_interval(&self, i: usize) -> Duration {
        self.scan_interval(i).min(UNHEALTHY_RETRY)
    }

    fn scan_interval(&self, i: usize) -> Duration {
        self.config.watches[i]
            .poll
            .unwrap_or(self.config.rescan_interval)
    }

    /// The watch a file path belongs to.
    fn watch_of(&self, path: &Path) -> Option<usize> {
        if path.starts_with(&self.state_dir) {
            return None;
        }
        self.roots.iter().position(|r| r.matches(path))
    }

    pub(super) fn run(mut self) {
        loop {
            let now = Instant::now();
            for i in 0..self.roots.len() {
                if self.next_scan[i] <= now {
                    self.scan_now(i);
                }
            }
            self.collect_ready(Instant::now());
            self.serve();
            if self.persist_due.is_some_and(|d| d <= Instant::now()) {
                self.persist();
            }
            let mut deadline = self.next_scan.iter().copied().min();
            for d in [self.tracker.next_due(self.timing), self.persist_due] {
                deadline = match (deadline, d) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            let wait = deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.persist();
                    return;
                }
                Ok(msg) => {
                    self.handle(msg);
                    // Take whatever else is queued before looking at timers again.
                    while let Ok(msg) = self.rx.try_recv() {
                        if matches!(msg, Msg::Stop) {
                            self.persist();
                            return;
                        }
                        self.handle(msg);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Fs(res) => self.on_event(res),
            Msg::Want => self.want = true,
            Msg::Commit(key, consumed, reply) => {
                let r = self.commit(key, consumed);
                let _ = reply.send(r);
            }
            Msg::Release(key, reply) => {
                let r = match self.in_flight.remove(&key) {
                    Some(f) => {
                        self.tracker.changed(&f.path, f.watch, None, Instant::now());
                        Ok(())
                    }
                    None => Err(WatchError::NotHandedOut(key)),
                };
                let _ = reply.send(r);
            }
            Msg::Flush(reply) => {
                let r = self.store.persist();
                if r.is_ok() {
                    self.unpersisted = 0;
                }
                let _ = reply.send(r);
                self.persist_due = None;
            }
            Msg::Stop => {}
        }
    }

    fn persist(&mut self) {
        // Counted from the last attempt: a failing disk is retried once a second (or per 64
        // commits), not at every commit.
        self.unpersisted = 0;
        match self.store.persist() {
            Ok(()) => self.persist_due = None,
            Err(e) => {
                self.warn(None, format!("{e}; retrying"));
                self.persist_due = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }

    fn on_event(&mut self, res: notify::Result<notify::Event>) {
        let now = Instant::now();
        let ev = match res {
            Ok(ev) => ev,
            Err(e) => {
                self.warn(None, format!("inotify error ({e}); rescanning"));
                self.rescan_notify_watches(now);
                return;
            }
        };
        if ev.need_rescan() {
            self.rescan_notify_watches(now);
        }
        match ev.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                for p in &ev.paths {
                    self.new_dir_check(p, now);
                    if let Some(i) = self.watch_of(p) {
                        self.tracker.signal(p, i, Signal::Moved, now);
                    }
                }
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::From))
            | EventKind::Modify(ModifyKind::Name(RenameMode::Both))
            | EventKind::Remove(_) => {
                // For `Both`, the destination was already handled by its `To` event.
                if let Some(p) = ev.paths.first() {
                    self.tracker.forget(p);
                    // A watched directory that went away must be watched anew when it is back;
                    // scan it now, so its health says so.
                    for i in 0..self.roots.len() {
                        if self.roots[i].dir == *p {
                            if self.config.watches[i].poll.is_none() {
                                self.registered[i] = false;
                            }
                            self.next_scan[i] = now;
                        }
                    }
                }
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for p in &ev.paths {
                    if let Some(i) = self.watch_of(p) {
                        self.tracker.signal(p, i, Signal::Closed, now);
                    }
                }
            }
            EventKind::Create(kind) => {
                for p in &ev.paths {
                    if kind == CreateKind::Folder {
                        self.new_dir_check(p, now);
                    } else if let Some(i) = self.watch_of(p) {
                        self.tracker.changed(p, i, None, now);
                    }
                }
            }
            // chmod, touch, link count: the content is the same, and a pending close or
            // rename signal stays valid (the size and mtime are compared when looked at).
            EventKind::Modify(ModifyKind::Metadata(_)) => {}
            EventKind::Modify(_) => {
                for p in &ev.paths {
                    if let Some(i) = self.watch_of(p) {
                        self.tracker.changed(p, i, None, now);
                    }
                }
            }
            _ => {}
        }
    }

    /// A directory appeared in a recursive watch: scan that watch soon (files may have been
    /// created in it before its inotify watch was added).
    fn new_dir_check(&mut self, p: &Path, now: Instant) {
        for (i, r) in self.roots.iter().enumerate() {
            if r.recursive && p.starts_with(&r.dir) && p.is_dir() {
                self.next_scan[i] = now;
            }
        }
    }

    /// Scan watch `i` and set when it is scanned next (sooner while it is unhealthy).
    fn scan_now(&mut self, i: usize) {
        self.scan(i, Instant::now());
        let healthy = self.states[i].as_ref().is_some_and(PathState::is_ok);
        let every = if healthy {
            self.scan_interval(i)
        } else {
            self.retry_interval(i)
        };
        self.next_scan[i] = Instant::now() + every;
    }

    fn rescan_notify_watches(&mut self, now: Instant) {
        for i in 0..self.roots.len() {
            if self.config.watches[i].poll.is_none() {
                self.next_scan[i] = now;
            }
        }
    }

    fn scan(&mut self, i: usize, now: Instant) {
        if self.inside_state_dir(i) {
            self.set_state(i, PathState::InsideStateDir(self.state_dir.clone()));
            return;
        }
        self.register(i);
        let scan = match self.roots[i].scan() {
            Ok(s) => s,
            Err(e) => {
                self.set_state(i, PathState::from_error(&e));
                return;
            }
        };
        let state = match &self.register_error[i] {
            Some(e) if !self.registered[i] => PathState::NotWatched(e.clone()),
            _ => PathState::Ok,
        };
        self.set_state(i, state);
        // The first scan of a watch ever: what is there now is history. After an upgrade from
        // a state file that did not record watches, every watch was scanned before.
        let first = !self.store.watch_known(&self.watch_ids[i]);
        let mark_history = first && !self.store.upgraded();
        if first {
            let id = self.watch_ids[i].clone();
            self.store.add_watch(&id);
            self.persist_due
                .get_or_insert(now + self.config.checkpoint_interval);
        }
        for (p, e) in scan.errors {
            self.warn_once(&p, format!("cannot read the directory: {e}"));
        }
        for (p, kind) in scan.skipped {
            self.warn_once(&p, format!("skipped: {}", kind.describe()));
        }
        let mut seen = HashSet::new();
        for (p, meta) in scan.files {
            if p.starts_with(&self.state_dir) {
                continue;
            }
            let key = FileKey::of(&meta);
            seen.insert(key);
            let stat = stat_of(&meta);
            if self.tracker.contains(&p) {
                self.tracker.seen(&p, i, stat, now);
            } else if self.in_flight.contains_key(&key) {
                continue;
            } else if let Some(cp) = self.store.get(&key) {
                if cp.offset == stat.size {
                    self.store.note_path(&key, &p.to_string_lossy());
                } else {
                    self.tracker.seen(&p, i, stat, now);
                }
            } else if stat.size > 0 {
                if mark_history {
                    self.mark_history(&p, key, stat.size);
                }
                self.tracker.seen(&p, i, stat, now);
            }
        }
        let root = &self.roots[i];
        let in_flight = &self.in_flight;
        self.store.retain(|cp| {
            !root.matches(Path::new(&cp.path))
                || seen.contains(&cp.key())
                || in_flight.contains_key(&cp.key())
        });
    }

    /// Record that the first `size` bytes of a file found at a watch's first scan are history
    /// (a checkpoint at offset 0 that carries the mark).
    fn mark_history(&mut self, path: &Path, key: FileKey, size: u64) {
        let Ok(Ok((file, meta))) = identity::open_regular(path) else {
            return;
        };
        if FileKey::of(&meta) != key {
            return;
        }
        let head_len = size.min(HEAD_LEN);
        let Ok(Some(head_hash)) = identity::hash_range(&file, 0, head_len) else {
            return;
        };
        self.store.set(Checkpoint {
            dev: key.dev,
            ino: key.ino,
            path: path.to_string_lossy().into_owned(),
            offset: 0,
            head_len,
            head_hash,
            marker_hash: identity::hash(&[]),
            oversize: None,
            history: Some(size),
        });
    }

    /// Move the tracked paths that are ready to the queue.
    fn collect_ready(&mut self, now: Instant) {
        let mut bad = Vec::new();
        let ready = self.tracker.take_ready(now, self.timing, |p| {
            let meta = fs::symlink_metadata(p).ok()?;
            match NotRegular::of(&meta) {
                None => Some(stat_of(&meta)),
                Some(NotRegular::Directory) => None,
                Some(kind) => {
                    bad.push((p.to_path_buf(), kind));
                    None
                }
            }
        });
        for (p, kind) in bad {
            self.warn_once(&p, format!("skipped: {}", kind.describe()));
        }
        self.queue.extend(ready);
    }

    /// Hand out a file if the caller is waiting and one is ready.
    fn serve(&mut self) {
        // In-flight files keep their descriptor: past the cap the request waits for a commit.
        while self.want && self.in_flight.len() < MAX_IN_FLIGHT {
            let Some(r) = self.queue.pop_front() else {
                return;
            };
            if let Some(rf) = self.read(r) {
                self.want = false;
                // The handle keeps it in the channel until a `next` takes it; this fails only
                // when the handle is gone, and then the loop stops anyway.
                let _ = self.ready_tx.send(rf);
            }
        }
    }

    /// Open a ready file and read its new bytes, or None when there is nothing to hand out.
    fn read(&mut self, r: Ready) -> Option<ReadyFile> {
        let now = Instant::now();
        tracing::debug!(path = %r.path.display(), readiness = ?r.readiness, size = r.stat.size, "ready");
        let (file, meta) = match identity::open_regular(&r.path) {
            Ok(Ok(x)) => x,
            Ok(Err(kind)) => {
                self.warn_once(&r.path, format!("skipped: {}", kind.describe()));
                return None;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.warn_once(&r.path, format!("cannot open: {e}"));
                return None;
            }
        };
        let stat = stat_of(&meta);
        let key = FileKey::of(&meta);
        if stat != r.stat || self.in_flight.contains_key(&key) {
            // Changed since it was found ready, or the same file is handed out under another
            // name: look again later.
            self.tracker.changed(&r.path, r.watch, Some(stat), now);
            return None;
        }
        match self.read_file(&r, file, &meta, key, stat) {
            Ok(rf) => rf,
            Err(e) => {
                self.warn_once(&r.path, format!("cannot read: {e}"));
                None
            }
        }
    }

    fn read_file(
        &mut self,
        r: &Ready,
        file: File,
        meta: &fs::Metadata,
        key: FileKey,
        stat: Stat,
    ) -> io::Result<Option<ReadyFile>> {
        let size = stat.size;
        let shown = r.path.to_string_lossy().into_owned();
        let cp = match self.store.get(&key) {
            Some(cp) if still_valid(cp, &file, size)? => Some(cp.clone()),
            _ => None,
        };
        let mut start = cp.as_ref().map_or(0, |c| c.offset);
        if size == start {
            // Nothing new (also: a zero-byte file, ignored until it has content).
            self.store.note_path(&key, &shown);
            return Ok(None);
        }
        let head_len = size.min(HEAD_LEN);
        let Some(head_hash) = identity::hash_range(&file, 0, head_len)? else {
            self.tracker.changed(&r.path, r.watch, None, Instant::now());
            return Ok(None);
        };
        let max = self.config.max_file_size;
        // The oversize part ended inside a line: the rest of that line is part of it.
        if cp.as_ref().is_some_and(|c| c.oversize.is_some()) && !ends_line(&file, start)? {
            match self
                .line_ends
                .first_line_end(&file, key, head_hash, start, size)?
            {
                Some(end) => start = end,
                None if size - start <= max => return Ok(None),
                None => {} // another max_file_size of the same line: reported again
            }
            if start == size {
                return Ok(None);
            }
        }
        let pending = size - start;
        let oversize = pending > max;
        // After a close (or a quiet spell under inotify) more may come: whole lines only.
        let whole_lines_only = match r.readiness {
            Readiness::Complete | Readiness::ClosedQuiet => false,
            Readiness::Closed => true,
            Readiness::Quiet => self.config.watches[r.watch].poll.is_none(),
        };
        let end = if oversize || !whole_lines_only {
            size
        } else {
            match self
                .line_ends
                .last_line_end(&file, key, head_hash, start, size)?
            {
                Some(end) => end,
                None => {
                    // Only a partial line: it waits for its newline or its rule.
                    self.hold_tail(&r.path, r.watch, r.readiness, stat, r.changed);
                    return Ok(None);
                }
            }
        };
        let bytes = if oversize {
            Vec::new()
        } else {
            let b = identity::read_range(&file, start, end - start)?;
            if (b.len() as u64) < end - start {
                // Shrank while we read: look again.
                self.tracker.changed(&r.path, r.watch, None, Instant::now());
                return Ok(None);
            }
            b
        };
        let history = cp.as_ref().and_then(|c| c.history);
        let mut file_meta = FileMeta::for_path(&shown);
        file_meta.modified = meta.modified().ok().map(DateTime::<Utc>::from);
        self.in_flight.insert(
            key,
            InFlight {
                file,
                path: r.path.clone(),
                watch: r.watch,
                start,
                len: bytes.len() as u64,
                size,
                head_len,
                head_hash,
                oversize,
                readiness: r.readiness,
                changed: r.changed,
                tail_held: !oversize && end < size,
                history,
                stat,
            },
        );
        Ok(Some(ReadyFile {
            key,
            path: r.path.clone(),
            watch: r.watch,
            meta: file_meta,
            bytes,
            offset: start,
            complete: r.complete(),
            ready: r.readiness,
            oversize: oversize.then_some(size),
            history: history.is_some_and(|h| start < h),
        }))
    }

    /// A partial last line was held back: look at the file again when the rule for it is due
    /// (the quiet period after a close, else the settle period), or when it changes.
    fn hold_tail(
        &mut self,
        path: &Path,
        watch: usize,
        readiness: Readiness,
        stat: Stat,
        changed: Instant,
    ) {
        if readiness == Readiness::Closed {
            self.tracker.after_close(path, watch, stat, changed);
        } else {
            self.tracker.settle_later(path, watch, stat, changed);
        }
    }

    fn commit(&mut self, key: FileKey, consumed: usize) -> Result<(), WatchError> {
        let f = self
            .in_flight
            .get(&key)
            .ok_or(WatchError::NotHandedOut(key))?;
        if !f.oversize && consumed as u64 > f.len {
            return Err(WatchError::Consumed {
                consumed,
                len: f.len as usize,
            });
        }
        let f = self.in_flight.remove(&key).expect("checked above");
        crate::memory::shrink_idle(&mut self.in_flight);
        let offset = if f.oversize {
            f.size
        } else {
            f.start + consumed as u64
        };
        let (ms, ml) = identity::marker_range(offset);
        // A file changed under us gets a marker that will not match: it is read again from 0.
        let marker_hash = identity::hash_range(&f.file, ms, ml)
            .ok()
            .flatten()
            .unwrap_or(0);
        self.store.set(Checkpoint {
            dev: key.dev,
            ino: key.ino,
            path: f.path.to_string_lossy().into_owned(),
            offset,
            head_len: f.head_len,
            head_hash: f.head_hash,
            marker_hash,
            oversize: f.oversize.then_some(f.size),
            history: f.history.filter(|h| offset < *h),
        });
        if offset != f.start {
            self.line_ends.forget(&key);
        }
        if f.tail_held {
            self.hold_tail(&f.path, f.watch, f.readiness, f.stat, f.changed);
        } else if !f.oversize && (consumed as u64) < f.len && f.readiness != Readiness::Complete {
            self.tracker
                .settle_later(&f.path, f.watch, f.stat, Instant::now());
        }
        if self.config.checkpoint_interval.is_zero() {
            let r = self.store.persist();
            if r.is_ok() {
                self.unpersisted = 0;
            }
            return r;
        }
        self.unpersisted += 1;
        if self.unpersisted >= PERSIST_EVERY_COMMITS {
            // A failure is retried by the run loop (persist_due), like a timed write.
            self.persist();
            return Ok(());
        }
        if self.persist_due.is_none() {
            self.persist_due = Some(Instant::now() + self.config.checkpoint_interval);
        }
        Ok(())
    }
}

/// True when the byte before `offset` is a newline (or `offset` is 0).
fn ends_line(file: &File, offset: u64) -> io::Result<bool> {
    if offset == 0 {
        return Ok(true);
    }
    Ok(identity::read_range(file, offset - 1, 1)? == b"\n")
}

/// True when the checkpoint still describes this file: not shorter than the offset, same head,
/// same bytes before the offset.
fn still_valid(cp: &Checkpoint, file: &File, size: u64) -> io::Result<bool> {
    if size < cp.offset || size < cp.head_len {
        return Ok(false);
    }
    if identity::hash_range(file, 0, cp.head_len)? != Some(cp.head_hash) {
        return Ok(false);
    }
    let (ms, ml) = identity::marker_range(cp.offset);
    Ok(identity::hash_range(file, ms, ml)? == Some(cp.marker_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::Flag;
    use std::sync::mpsc;

    #[test]
    fn overflow_rescans_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = WatchConfig::new(tmp.path().join("state"));
        config
            .watches
            .push(super::super::WatchSpec::new(tmp.path()));
        let (tx, rx) = mpsc::channel();
        let (ready_tx, _ready) = tokio::sync::mpsc::unbounded_channel();
        let mut w = Worker::new(
            config,
            tx,
            rx,
            ready_tx,
            Warnings::default(),
            Health::default(),
        )
        .unwrap();
        let later = Instant::now() + Duration::from_secs(60);
        w.next_scan[0] = later;
        w.on_event(Ok(notify::Event::new(EventKind::Other)));
        assert_eq!(w.next_scan[0], later);
        w.on_event(Ok(
            notify::Event::new(EventKind::Other).set_flag(Flag::Rescan)
        ));
        assert!(w.next_scan[0] <= Instant::now());
        w.next_scan[0] = later;
        w.on_event(Err(notify::Error::generic("queue overflow")));
        assert!(w.next_scan[0] <= Instant::now());
    }
}
