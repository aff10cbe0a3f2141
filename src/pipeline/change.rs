//! The state `when = "change"` needs: the last status each channel saw per (host, job), kept
//! in `state_dir/channel-state.json` so that a restart neither repeats nor misses a change.
//!
//! Owns: that map and its file. Written atomically after every routing step that changed it,
//! before the caller advances a checkpoint: a crash in between can only repeat a message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::outcome::Status;

/// The file's name in the state directory.
pub const CHANGE_FILE: &str = "channel-state.json";

/// channel -> "host/job" -> last status routed (sent or not).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChangeState {
    last: BTreeMap<String, BTreeMap<String, Status>>,
    #[serde(skip)]
    path: Option<PathBuf>,
    #[serde(skip)]
    dirty: bool,
}

impl ChangeState {
    /// Load from `state_dir` (a missing or damaged file starts empty: the next outcome of each
    /// job counts as a first one, which a `change` channel sends).
    pub fn load(state_dir: &Path) -> ChangeState {
        let path = state_dir.join(CHANGE_FILE);
        let mut s = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<ChangeState>(&b).ok())
            .unwrap_or_default();
        s.path = Some(path);
        s
    }

    /// The last status `channel` saw for `key` (`host/job`), and record `status` as the new one.
    pub fn swap(&mut self, channel: &str, key: &str, status: Status) -> Option<Status> {
        let jobs = self.last.entry(channel.to_string()).or_default();
        let previous = jobs.insert(key.to_string(), status);
        if previous != Some(status) {
            self.dirty = true;
        }
        previous
    }

    /// Write the file if anything changed since the last save (atomically, durably).
    pub fn save(&mut self) -> std::io::Result<()> {
        let (Some(path), true) = (&self.path, self.dirty) else {
            return Ok(());
        };
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &json)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_state_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ChangeState::load(dir.path());
        assert_eq!(s.swap("mail", "h/j", Status::Failure), None);
        assert_eq!(
            s.swap("mail", "h/j", Status::Failure),
            Some(Status::Failure)
        );
        assert_eq!(s.swap("chat", "h/j", Status::Success), None, "per channel");
        s.save().unwrap();
        let mut back = ChangeState::load(dir.path());
        assert_eq!(
            back.swap("mail", "h/j", Status::Success),
            Some(Status::Failure)
        );
        std::fs::write(dir.path().join(CHANGE_FILE), b"{damaged").unwrap();
        let mut fresh = ChangeState::load(dir.path());
        assert_eq!(fresh.swap("mail", "h/j", Status::Success), None);
    }
}
