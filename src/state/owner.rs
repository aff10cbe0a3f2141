//! Ownership in the state directory: whatever a nagbridge process creates there gets the state
//! directory's owner and group. Only root can give a file away, so this matters exactly when
//! `wrap` (or a one-off command) runs as root beside an agent that runs as an unprivileged
//! user; for everyone else it is a no-op.
//!
//! Owns: reading the state directory's owner and applying it. Must not change modes.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The owner every created path should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    uid: u32,
    gid: u32,
}

impl Owner {
    /// User id.
    pub fn uid(self) -> u32 {
        self.uid
    }
}

/// The owner to apply, or nothing when the state directory could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ownership(Option<Owner>);

impl Ownership {
    /// The owner of `state_dir` (nothing is changed when it cannot be read).
    pub fn of(state_dir: &Path) -> Ownership {
        Ownership(std::fs::metadata(state_dir).ok().map(|m| Owner {
            uid: m.uid(),
            gid: m.gid(),
        }))
    }

    /// Changes nothing.
    pub fn none() -> Ownership {
        Ownership(None)
    }

    /// Give `path` (not following a symlink) the state directory's owner if it differs. A
    /// failure is ignored: as a non-root user this can only fail, and the file is then owned
    /// by the user who made it, which is the same as the state directory's owner in every
    /// setup where that user may write there at all.
    pub fn apply(&self, path: &Path) {
        let Some(owner) = self.0 else { return };
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.uid() != owner.uid || meta.gid() != owner.gid {
            let _ = std::os::unix::fs::lchown(path, Some(owner.uid), Some(owner.gid));
        }
    }

    /// Same for an open file (before it is renamed into place, so it never appears with the
    /// wrong owner).
    pub fn apply_file(&self, file: &std::fs::File) {
        let Some(owner) = self.0 else { return };
        let Ok(meta) = file.metadata() else { return };
        if meta.uid() != owner.uid || meta.gid() != owner.gid {
            let _ = std::os::unix::fs::fchown(file, Some(owner.uid), Some(owner.gid));
        }
    }

    /// The owner, if known.
    pub fn owner(&self) -> Option<Owner> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_files_get_the_state_dirs_owner_when_root() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"x").unwrap();
        let rule = Ownership::of(dir.path());
        // Same owner: nothing to do, and it must not fail.
        rule.apply(&f);
        let as_root = std::fs::metadata("/").map(|m| m.uid()).ok() == Some(0)
            && std::os::unix::fs::chown(&f, Some(0), Some(0)).is_ok()
            && std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).is_ok();
        if !as_root {
            return; // only root can give files away; covered by tests/agent_lock.rs in CI
        }
        let rule = Ownership::of(dir.path());
        rule.apply(&f);
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534));
    }
}
