//! Which paths belong to a watch, and the full directory scan.
//!
//! Owns: matching a path against a watch (directory, recursion, glob on the file name, the
//! hidden/temporary-name rule) and walking a watch's directory with `lstat` only: symlinks are
//! never followed, and nothing is opened here.
//! Must not: read file contents, decide readiness or touch checkpoints.

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use glob::Pattern;

use super::identity::NotRegular;

/// Directory depth limit of a recursive watch.
pub const MAX_DEPTH: usize = 32;

/// A watch, resolved: the canonical directory and the compiled glob.
#[derive(Debug, Clone)]
pub struct Root {
    /// The directory (canonicalized when it existed at start).
    pub dir: PathBuf,
    /// Pattern on the file name.
    pub glob: Pattern,
    /// Descend into subdirectories.
    pub recursive: bool,
    /// Skip hidden and temporary names.
    pub skip_temp: bool,
}

/// Hidden or temporary names, skipped by default: a leading `.` (rsync's `.name.XXXXXX`, most
/// tmp-then-rename writers), a trailing `~`, and `.tmp`, `.temp`, `.swp`, `.part`, `.partial`.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".temp", ".swp", ".part", ".partial"]
            .iter()
            .any(|s| name.len() > s.len() && name.ends_with(s))
}

impl Root {
    /// True when the file `path` belongs to this watch (by name and place; type is not
    /// checked here).
    pub fn matches(&self, path: &Path) -> bool {
        let Some(parent) = path.parent() else {
            return false;
        };
        let placed = if self.recursive {
            parent.starts_with(&self.dir)
                && parent
                    .strip_prefix(&self.dir)
                    .map(|r| r.components().count() < MAX_DEPTH)
                    .unwrap_or(false)
        } else {
            parent == self.dir
        };
        placed && self.name_matches(path)
    }

    fn name_matches(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            // Not UTF-8: the glob cannot be applied; take it only under the default glob.
            return self.glob.as_str() == "*";
        };
        if self.skip_temp && is_temp_name(name) {
            return false;
        }
        self.glob.matches(name)
    }

    /// Walk the watch: every matching entry with its `lstat`, and the entries that are not
    /// regular files (to warn about). Errors of subdirectories are returned beside the results;
    /// an error on the root itself is the `Err`.
    pub fn scan(&self) -> io::Result<Scan> {
        let mut out = Scan::default();
        let mut stack = vec![(self.dir.clone(), 0usize)];
        let mut first = true;
        while let Some((dir, depth)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if first => return Err(e),
                Err(e) => {
                    out.errors.push((dir, e));
                    continue;
                }
            };
            first = false;
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue; // gone meanwhile
                };
                let kind = NotRegular::of(&meta);
                if kind == Some(NotRegular::Directory) {
                    if self.recursive && depth + 1 < MAX_DEPTH {
                        stack.push((path, depth + 1));
                    } else if !self.recursive {
                        out.skipped.push((path, NotRegular::Directory));
                    }
                    continue;
                }
                if !self.matches(&path) {
                    continue;
                }
                match kind {
                    None => out.files.push((path, meta)),
                    Some(k) => out.skipped.push((path, k)),
                }
            }
        }
        Ok(out)
    }
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Regular files that match, with their `lstat`.
    pub files: Vec<(PathBuf, Metadata)>,
    /// Matching entries that are not regular files (and directories of a non-recursive watch).
    pub skipped: Vec<(PathBuf, NotRegular)>,
    /// Subdirectories that could not be read.
    pub errors: Vec<(PathBuf, io::Error)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &Path, glob: &str, recursive: bool) -> Root {
        Root {
            dir: dir.to_path_buf(),
            glob: Pattern::new(glob).unwrap(),
            recursive,
            skip_temp: true,
        }
    }

    #[test]
    fn temp_names() {
        for n in [".x.json", "x~", "a.tmp", "b.part", "c.swp", "d.partial"] {
            assert!(is_temp_name(n), "{n}");
        }
        for n in ["x.json", "tmp", "report.log", "a.tmpl"] {
            assert!(!is_temp_name(n), "{n}");
        }
    }

    #[test]
    fn matching() {
        let r = root(Path::new("/w"), "*.json", false);
        assert!(r.matches(Path::new("/w/a.json")));
        assert!(!r.matches(Path::new("/w/a.log")));
        assert!(!r.matches(Path::new("/w/.a.json")));
        assert!(!r.matches(Path::new("/w/sub/a.json")));
        assert!(!r.matches(Path::new("/other/a.json")));
        let r = root(Path::new("/w"), "*", true);
        assert!(r.matches(Path::new("/w/sub/deeper/a.json")));
        assert!(!r.matches(Path::new("/w")));
    }

    #[test]
    fn scan_lists_files_and_skips_others() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.log"), b"x").unwrap();
        fs::write(d.path().join(".hidden"), b"x").unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join("sub/b.log"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("pw.log")).unwrap();
        let flat = root(d.path(), "*", false).scan().unwrap();
        assert_eq!(flat.files.len(), 1);
        let mut kinds: Vec<_> = flat.skipped.iter().map(|s| s.1).collect();
        kinds.sort_by_key(|k| k.describe());
        assert_eq!(kinds, vec![NotRegular::Directory, NotRegular::Symlink]);
        let deep = root(d.path(), "*.log", true).scan().unwrap();
        assert_eq!(deep.files.len(), 2);
        assert!(root(&d.path().join("missing"), "*", false).scan().is_err());
    }
}
