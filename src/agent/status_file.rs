//! `state_dir/status.json`: what the running agent last saw (destinations, watches, skipped
//! files, jobs without a service), written whenever it changes (at most once a second) so that
//! `nagbridge status`, run by anyone who can read the state directory, shows it.
//!
//! Owns: the file's schema and its reading and writing. Advisory: written atomically but not
//! fsynced (it is rebuilt from live state after a crash), and never an input to delivery.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::health::Health;
use crate::state::Ownership;

/// The file's name in the state directory.
pub const STATUS_FILE: &str = "status.json";

/// The content of `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The agent's pid.
    pub pid: u32,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When this was written.
    pub updated: DateTime<Utc>,
    /// The agent's host_name.
    pub host_name: String,
    /// The config file it runs with.
    pub config: String,
    /// What it saw.
    pub health: Health,
}

impl StatusFile {
    /// Write it to `state_dir` (tmp + rename, owned like the state directory).
    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = state_dir.join(STATUS_FILE);
        let tmp: PathBuf = state_dir.join(format!(".{STATUS_FILE}.{}", std::process::id()));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        Ownership::of(state_dir).apply(&tmp);
        std::fs::rename(&tmp, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// Read it from `state_dir` (None when there is none, or it cannot be parsed).
    pub fn read(state_dir: &Path) -> Option<StatusFile> {
        let bytes = std::fs::read(state_dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = StatusFile {
            pid: 7,
            started: Utc::now(),
            updated: Utc::now(),
            host_name: "backup01".into(),
            config: "/etc/nagbridge/nagbridge.toml".into(),
            health: Health::default(),
        };
        s.health
            .skipped
            .insert("/x/link".into(), "symbolic link".into());
        s.write(dir.path()).unwrap();
        assert_eq!(StatusFile::read(dir.path()), Some(s));
        std::fs::write(dir.path().join(STATUS_FILE), b"{").unwrap();
        assert_eq!(StatusFile::read(dir.path()), None);
    }
}
