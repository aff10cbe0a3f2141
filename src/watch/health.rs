//! Health of the watched directories: whether each one can be read and watched, and why not.
//!
//! Owns: [`PathState`] and its wording, [`probe`] (what `check-config` asks of a watch path,
//! as the user it runs as) and [`WatchHealth`] (what the running watcher reports per watch).
//! Must not: scan, watch or keep state; the watcher updates the health at each scan.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Whether a watch path can be used, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathState {
    /// A readable directory (and, for inotify watches, watched).
    Ok,
    /// The path (or one of its parents) does not exist.
    Missing,
    /// The path is a file or something else that is not a directory.
    NotADirectory,
    /// The directory cannot be listed or searched by this process.
    Unreadable {
        /// The effective user id of this process, when known.
        uid: Option<u32>,
        /// The OS error.
        error: String,
    },
    /// The path is the state directory or inside it: nothing there is ever read.
    InsideStateDir(PathBuf),
    /// Readable, but inotify cannot watch it (e.g. `max_user_watches` reached): new files are
    /// seen only at each rescan.
    NotWatched(String),
}

impl PathState {
    /// True for [`PathState::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, PathState::Ok)
    }

    /// The state of a directory that `read_dir` (or `stat`) failed on.
    pub fn from_error(e: &io::Error) -> PathState {
        match e.raw_os_error() {
            Some(libc::ENOENT) => PathState::Missing,
            Some(libc::ENOTDIR) => PathState::NotADirectory,
            _ => PathState::Unreadable {
                uid: effective_uid(),
                error: e.to_string(),
            },
        }
    }
}

impl fmt::Display for PathState {
    /// The reason, as it follows a path: `does not exist`, `not a directory`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathState::Ok => f.write_str("ok"),
            PathState::Missing => f.write_str("does not exist"),
            PathState::NotADirectory => f.write_str("not a directory"),
            PathState::Unreadable {
                uid: Some(uid),
                error,
            } => write!(f, "not readable by this user (uid {uid}): {error}"),
            PathState::Unreadable { uid: None, error } => {
                write!(f, "not readable by this user: {error}")
            }
            PathState::InsideStateDir(dir) => write!(
                f,
                "inside state_dir {}, whose files are never read",
                dir.display()
            ),
            PathState::NotWatched(e) => write!(
                f,
                "cannot be watched by inotify ({e}); new files are seen only at each rescan"
            ),
        }
    }
}

/// The health of one watch, as the running watcher last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchHealth {
    /// Index of the watch in the config.
    pub index: usize,
    /// The watch path as configured.
    pub path: PathBuf,
    /// Its state.
    pub state: PathState,
}

impl fmt::Display for WatchHealth {
    /// `<path>: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.state)
    }
}

/// Can this process use `path` as a watched directory: does it exist, is it a directory, can
/// it be listed (read) and its entries looked at (search)?
pub fn probe(path: &Path) -> PathState {
    match fs::metadata(path) {
        // A parent that is a file: the path does not exist.
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => PathState::Missing,
        Err(e) => PathState::from_error(&e),
        Ok(m) if !m.is_dir() => PathState::NotADirectory,
        // Listing needs read permission, looking at the entries needs search permission.
        Ok(_) => match fs::read_dir(path).and_then(|_| fs::metadata(path.join("."))) {
            Ok(_) => PathState::Ok,
            Err(e) => PathState::from_error(&e),
        },
    }
}

/// The effective user id of this process (from `/proc/self/status`).
pub fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn probe_tells_each_reason() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(probe(d.path()), PathState::Ok);
        assert_eq!(probe(&d.path().join("nope")), PathState::Missing);
        let file = d.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert_eq!(probe(&file), PathState::NotADirectory);
        assert_eq!(probe(&file.join("sub")), PathState::Missing);
        assert_eq!(PathState::Missing.to_string(), "does not exist");
        if effective_uid() == Some(0) {
            return; // root reads everything
        }
        let locked = d.path().join("locked");
        fs::create_dir(&locked).unwrap();
        for mode in [0o000, 0o300, 0o600] {
            fs::set_permissions(&locked, fs::Permissions::from_mode(mode)).unwrap();
            let s = probe(&locked);
            assert!(
                matches!(&s, PathState::Unreadable { uid: Some(_), error } if error.contains("Permission denied")),
                "mode {mode:o}: {s:?}"
            );
            assert!(s.to_string().starts_with("not readable by this user (uid "));
        }
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    }
}
