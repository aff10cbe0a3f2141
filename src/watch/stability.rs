//! Readiness: when a file that changed may be read.
//!
//! A file is ready when it was closed after writing (`IN_CLOSE_WRITE`, after a short grace so a
//! tmp file renamed right after its close is seen under its final name), renamed into place
//! (`IN_MOVED_TO`), or its size and mtime stayed the same for the quiet period (the fallback,
//! and the only rule in polling mode). How it became ready is its [`Readiness`]: only a rename
//! into place or the settle period means the writer is done ([`Readiness::Complete`]); a close
//! may be followed by more appends (a script that writes a line in pieces closes after each),
//! so the watcher then hands out whole lines only, and the rest once the file stayed unchanged
//! for the quiet period after that close ([`Readiness::ClosedQuiet`]).
//!
//! Owns: the per-path observations ([`Tracker`]) and the timing rules.
//! Must not: open or read files (it is given `lstat` results) or know about checkpoints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Delay after `IN_CLOSE_WRITE` before the file is looked at.
pub const CLOSE_GRACE: Duration = Duration::from_millis(50);

/// A strong "the writer is done" signal from inotify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Closed after writing.
    Closed,
    /// Renamed into place.
    Moved,
}

/// The size and modification time of a path, as seen by `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time.
    pub mtime: Option<SystemTime>,
}

#[derive(Debug, Clone)]
struct Observed {
    watch: usize,
    stat: Option<Stat>,
    changed: Instant,
    signal: Option<(Signal, Instant)>,
    /// Handed out as incomplete with bytes left over: look again when settled.
    settle_pending: bool,
    /// The writer closed the file after its last change (a partial last line was held back
    /// then): when it stays unchanged for the quiet period, that line is final.
    closed: bool,
}

/// How a file became ready: what of it may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Renamed into place, or unchanged for the settle period: the writer is done with it
    /// (`complete`); everything is read.
    Complete,
    /// Closed after writing: more may be appended, so whole lines only.
    Closed,
    /// Unchanged for the quiet period after a close: a partial last line is final now, but
    /// the file may still grow (not `complete`).
    ClosedQuiet,
    /// Unchanged for the quiet period, no close seen: whole lines only under inotify (the
    /// writer may keep the file open); everything when polling, where closes are not seen.
    Quiet,
}

/// A file found ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// Its path.
    pub path: PathBuf,
    /// Index of the watch it belongs to.
    pub watch: usize,
    /// The stat it was stable at (checked again before reading).
    pub stat: Stat,
    /// Why it is ready.
    pub readiness: Readiness,
    /// When it last changed (or was closed or renamed), as far as seen.
    pub changed: Instant,
}

impl Ready {
    /// Whether the writer is taken to be done with it.
    pub fn complete(&self) -> bool {
        self.readiness == Readiness::Complete
    }
}

/// Timing rules.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Unchanged for this long: ready (not yet complete).
    pub quiet: Duration,
    /// Unchanged for this long: complete.
    pub settle: Duration,
}

/// Observations of the paths that changed and are not handed out yet.
#[derive(Debug, Default)]
pub struct Tracker {
    files: HashMap<PathBuf, Observed>,
}

impl Tracker {
    /// Number of tracked paths.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// True when `path` is tracked.
    pub fn contains(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    /// Something happened to `path` (an event, or a scan saw a new or different stat).
    /// `stat` is None when unknown.
    pub fn changed(&mut self, path: &Path, watch: usize, stat: Option<Stat>, now: Instant) {
        let o = self.files.entry(path.to_path_buf()).or_insert(Observed {
            watch,
            stat,
            changed: now,
            signal: None,
            settle_pending: false,
            closed: false,
        });
        if o.stat != stat || stat.is_none() {
            o.changed = now;
            o.signal = None;
            o.settle_pending = false;
            o.closed = false;
        }
        o.stat = stat;
        o.watch = watch;
    }

    /// A scan saw `path` with `stat`: start tracking it, or note a change.
    pub fn seen(&mut self, path: &Path, watch: usize, stat: Stat, now: Instant) {
        match self.files.get(path) {
            Some(o) if o.stat == Some(stat) => {}
            _ => self.changed(path, watch, Some(stat), now),
        }
    }

    /// inotify says the writer closed the file or renamed it here.
    pub fn signal(&mut self, path: &Path, watch: usize, signal: Signal, now: Instant) {
        self.changed(path, watch, None, now);
        if let Some(o) = self.files.get_mut(path) {
            o.signal = Some((signal, now));
        }
    }

    /// Track `path` again after a hand-out that left bytes over while incomplete: it is looked
    /// at again when it changes or when the settle period has passed.
    pub fn settle_later(&mut self, path: &Path, watch: usize, stat: Stat, changed: Instant) {
        self.files.insert(
            path.to_path_buf(),
            Observed {
                watch,
                stat: Some(stat),
                changed,
                signal: None,
                settle_pending: true,
                closed: false,
            },
        );
    }

    /// Track `path` again after a close whose partial last line was held back: it is looked
    /// at again when it changes, or after the quiet period as [`Readiness::ClosedQuiet`].
    pub fn after_close(&mut self, path: &Path, watch: usize, stat: Stat, changed: Instant) {
        self.files.insert(
            path.to_path_buf(),
            Observed {
                watch,
                stat: Some(stat),
                changed,
                signal: None,
                settle_pending: false,
                closed: true,
            },
        );
    }

    /// Stop tracking `path`.
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
        crate::memory::shrink_idle(&mut self.files);
    }

    /// When the next path is due for a look.
    pub fn next_due(&self, t: Timing) -> Option<Instant> {
        self.files.values().map(|o| due(o, t)).min()
    }

    /// Look at every due path with `lstat` (the closure; None when the path is gone or not a
    /// regular file): return those that are ready and stop tracking them.
    pub fn take_ready(
        &mut self,
        now: Instant,
        t: Timing,
        mut lstat: impl FnMut(&Path) -> Option<Stat>,
    ) -> Vec<Ready> {
        let mut ready = Vec::new();
        let mut gone = Vec::new();
        for (path, o) in self.files.iter_mut() {
            if due(o, t) > now {
                continue;
            }
            let Some(stat) = lstat(path) else {
                gone.push(path.clone());
                continue;
            };
            let signalled = o.signal.is_some();
            match o.stat {
                // Tracked from an event (no stat then): the event's time is the change time,
                // as inotify reports every later write too.
                None => o.stat = Some(stat),
                // Changed since the last look: the quiet period restarts, unless a signal
                // made us look (the stat taken now is the final one).
                Some(prev) if prev != stat => {
                    o.stat = Some(stat);
                    if !signalled {
                        o.changed = now;
                        o.settle_pending = false;
                        o.closed = false;
                        continue;
                    }
                }
                Some(_) => {}
            }
            let quiet_for = now.saturating_duration_since(o.changed);
            if o.settle_pending && !signalled && quiet_for < t.settle {
                continue;
            }
            let mtime_age = stat
                .mtime
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            let moved = matches!(o.signal, Some((Signal::Moved, _)));
            let readiness = if moved || quiet_for >= t.settle || mtime_age >= t.settle {
                Readiness::Complete
            } else if signalled {
                Readiness::Closed
            } else if o.closed {
                Readiness::ClosedQuiet
            } else {
                Readiness::Quiet
            };
            ready.push(Ready {
                path: path.clone(),
                watch: o.watch,
                stat,
                readiness,
                changed: o.changed,
            });
            gone.push(path.clone());
        }
        for p in gone {
            self.files.remove(&p);
        }
        crate::memory::shrink_idle(&mut self.files);
        ready
    }
}

fn due(o: &Observed, t: Timing) -> Instant {
    match o.signal {
        Some((Signal::Moved, at)) => at,
        Some((Signal::Closed, at)) => at + CLOSE_GRACE,
        None if o.settle_pending => o.changed + t.settle,
        None => o.changed + t.quiet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timing = Timing {
        quiet: Duration::from_secs(5),
        settle: Duration::from_secs(60),
    };

    fn stat(size: u64) -> Stat {
        Stat {
            size,
            mtime: Some(SystemTime::now()),
        }
    }

    #[test]
    fn quiet_file_is_ready_after_the_quiet_period_only_if_unchanged() {
        let mut tr = Tracker::default();
        let t0 = Instant::now();
        let p = Path::new("/w/a");
        let s1 = stat(1);
        tr.seen(p, 0, s1, t0);
        assert_eq!(tr.next_due(T), Some(t0 + T.quiet));
        assert!(tr
            .take_ready(t0 + Duration::from_secs(1), T, |_| Some(s1))
            .is_empty());
        // Grew meanwhile: not ready, quiet period restarts.
        let s2 = stat(2);
        let t1 = t0 + Duration::from_secs(5);
        assert!(tr.take_ready(t1, T, |_| Some(s2)).is_empty());
        assert_eq!(tr.next_due(T), Some(t1 + T.quiet));
        let r = tr.take_ready(t1 + T.quiet, T, |_| Some(s2));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].readiness, Readiness::Quiet);
        assert!(tr.is_empty());
    }

    #[test]
    fn signals_make_ready_at_once_and_only_a_rename_is_complete() {
        let mut tr = Tracker::default();
        let t0 = Instant::now();
        tr.signal(Path::new("/w/a"), 0, Signal::Moved, t0);
        tr.signal(Path::new("/w/b"), 0, Signal::Closed, t0);
        let r = tr.take_ready(t0, T, |_| Some(stat(3)));
        assert_eq!(r.len(), 1);
        assert!(r[0].complete() && r[0].path == Path::new("/w/a"));
        let r = tr.take_ready(t0 + CLOSE_GRACE, T, |_| Some(stat(3)));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].readiness, Readiness::Closed);
        // A write after the close cancels the signal.
        tr.signal(Path::new("/w/c"), 0, Signal::Closed, t0);
        tr.changed(Path::new("/w/c"), 0, None, t0);
        assert!(tr
            .take_ready(t0 + CLOSE_GRACE, T, |_| Some(stat(3)))
            .is_empty());
    }

    #[test]
    fn gone_paths_are_dropped_and_settle_waits() {
        let mut tr = Tracker::default();
        let t0 = Instant::now();
        tr.seen(Path::new("/w/a"), 0, stat(1), t0);
        assert!(tr.take_ready(t0 + T.quiet, T, |_| None).is_empty());
        assert!(tr.is_empty());
        let s = stat(4);
        tr.settle_later(Path::new("/w/b"), 0, s, t0);
        assert!(tr.take_ready(t0 + T.quiet, T, |_| Some(s)).is_empty());
        let r = tr.take_ready(t0 + T.settle, T, |_| Some(s));
        assert!(r[0].complete());
    }

    #[test]
    fn after_a_close_the_quiet_period_makes_the_partial_line_final() {
        let mut tr = Tracker::default();
        let t0 = Instant::now();
        let p = Path::new("/w/a");
        let s = stat(5);
        tr.after_close(p, 0, s, t0);
        assert_eq!(tr.next_due(T), Some(t0 + T.quiet));
        let r = tr.take_ready(t0 + T.quiet, T, |_| Some(s));
        assert_eq!(r[0].readiness, Readiness::ClosedQuiet);
        // A write after the close: no longer closed, quiet only.
        tr.after_close(p, 0, s, t0);
        let s2 = stat(6);
        assert!(tr.take_ready(t0 + T.quiet, T, |_| Some(s2)).is_empty());
        let t1 = t0 + T.quiet;
        let r = tr.take_ready(t1 + T.quiet, T, |_| Some(s2));
        assert_eq!(r[0].readiness, Readiness::Quiet);
    }
}
