//! Checkpoints: how far each watched file has been handed out *and* committed by the caller.
//!
//! Owns: the per-file [`Checkpoint`] and the one state file that holds them all
//! (`<state_dir>/watch-checkpoints`), written atomically (tmp, fsync, rename, fsync of the
//! directory) and self-validating (a header with a CRC-32 and the length of the body). A state
//! file that fails validation is set aside as `watch-checkpoints.corrupt` and the watcher starts
//! over: files may be delivered again (at-least-once), never skipped.
//! Must not: advance anything on its own; it stores what the watcher's commit tells it.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::identity::FileKey;
use super::WatchError;

const FILE_NAME: &str = "watch-checkpoints";
const TMP_NAME: &str = ".watch-checkpoints.tmp";
const CORRUPT_NAME: &str = "watch-checkpoints.corrupt";
const MAGIC: &str = "nagbridge-watch-checkpoints";
const VERSION: u32 = 1;

/// What is known about one file (by [`FileKey`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// Where it was last seen (for people reading the state file and for pruning).
    pub path: String,
    /// Bytes before this offset are done: their outcomes are spooled (or they were oversize).
    pub offset: u64,
    /// Length of the head fingerprint (`min(size, HEAD_LEN)` when it was read).
    pub head_len: u64,
    /// xxh3 of the first `head_len` bytes.
    pub head_hash: u64,
    /// xxh3 of the up to `MARKER_LEN` bytes before `offset` (the offset marker).
    pub marker_hash: u64,
    /// Set when the bytes up to `offset` were over the size limit and were skipped with one
    /// oversize report: the size then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversize: Option<u64>,
}

impl Checkpoint {
    /// The key this checkpoint belongs to.
    pub fn key(&self) -> FileKey {
        FileKey {
            dev: self.dev,
            ino: self.ino,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Body {
    files: Vec<Checkpoint>,
}

/// All checkpoints, and the state file they live in.
#[derive(Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    entries: BTreeMap<FileKey, Checkpoint>,
    dirty: bool,
}

impl CheckpointStore {
    /// Load the state file from `dir` (created with mode 0700 if missing). A missing file is an
    /// empty store; a corrupt one is set aside and reported in the returned warning.
    pub fn open(dir: &Path) -> Result<(CheckpointStore, Option<String>), WatchError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| WatchError::StateDir(dir.to_path_buf(), e))?;
        // A leftover tmp file is an interrupted write: the stable file is older, so using it
        // can only re-deliver, never skip.
        let _ = fs::remove_file(dir.join(TMP_NAME));
        let path = dir.join(FILE_NAME);
        let mut store = CheckpointStore {
            dir: dir.to_path_buf(),
            entries: BTreeMap::new(),
            dirty: false,
        };
        let raw = match fs::read(&path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((store, None)),
            Err(e) => return Err(WatchError::State(path, e)),
        };
        match decode(&raw) {
            Ok(files) => {
                store.entries = files.into_iter().map(|c| (c.key(), c)).collect();
                Ok((store, None))
            }
            Err(reason) => {
                let _ = fs::rename(&path, dir.join(CORRUPT_NAME));
                let warning = format!(
                    "checkpoint file {} is corrupt ({reason}); set aside as {CORRUPT_NAME}, \
                     starting over: files may be delivered again",
                    path.display()
                );
                Ok((store, Some(warning)))
            }
        }
    }

    /// The checkpoint of a file.
    pub fn get(&self, key: &FileKey) -> Option<&Checkpoint> {
        self.entries.get(key)
    }

    /// Record a checkpoint (in memory; [`CheckpointStore::persist`] writes it).
    pub fn set(&mut self, cp: Checkpoint) {
        self.entries.insert(cp.key(), cp);
        self.dirty = true;
    }

    /// Remember the path a known file is now at (no write is forced for this alone).
    pub fn note_path(&mut self, key: &FileKey, path: &str) {
        if let Some(cp) = self.entries.get_mut(key) {
            if cp.path != path {
                cp.path = path.to_string();
            }
        }
    }

    /// Drop the entries for which `keep` is false (files that are gone).
    pub fn retain(&mut self, mut keep: impl FnMut(&Checkpoint) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|_, c| keep(c));
        if self.entries.len() != before {
            self.dirty = true;
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when there are changes not yet written.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Write the state file atomically if anything changed.
    pub fn persist(&mut self) -> Result<(), WatchError> {
        if !self.dirty {
            return Ok(());
        }
        let body = serde_json::to_vec(&Body {
            files: self.entries.values().cloned().collect(),
        })
        .expect("checkpoints serialize");
        let mut data = header(&body).into_bytes();
        data.extend_from_slice(&body);
        let tmp = self.dir.join(TMP_NAME);
        let dest = self.dir.join(FILE_NAME);
        let err = |e| WatchError::State(dest.clone(), e);
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(&data).map_err(err)?;
        f.sync_all().map_err(err)?;
        drop(f);
        fs::rename(&tmp, &dest).map_err(err)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        self.dirty = false;
        Ok(())
    }
}

fn header(body: &[u8]) -> String {
    format!(
        "{MAGIC} {VERSION} {:08x} {}\n",
        crc32fast::hash(body),
        body.len()
    )
}

/// Parse and validate a state file.
fn decode(raw: &[u8]) -> Result<Vec<Checkpoint>, String> {
    let nl = raw
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let head = std::str::from_utf8(&raw[..nl]).map_err(|_| "header is not text")?;
    let body = &raw[nl + 1..];
    let parts: Vec<&str> = head.split(' ').collect();
    if parts.len() != 4 || parts[0] != MAGIC {
        return Err("bad header".into());
    }
    if parts[1] != VERSION.to_string() {
        return Err(format!("unknown version {}", parts[1]));
    }
    let len: usize = parts[3].parse().map_err(|_| "bad length")?;
    if len != body.len() {
        return Err(format!("length {} does not match header {len}", body.len()));
    }
    let crc = u32::from_str_radix(parts[2], 16).map_err(|_| "bad checksum field")?;
    if crc != crc32fast::hash(body) {
        return Err("checksum mismatch".into());
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|e| format!("bad body: {e}"))?;
    Ok(parsed.files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(ino: u64, offset: u64) -> Checkpoint {
        Checkpoint {
            dev: 1,
            ino,
            path: format!("/x/{ino}"),
            offset,
            head_len: 3,
            head_hash: 7,
            marker_hash: 9,
            oversize: (ino == 2).then_some(1 << 30),
        }
    }

    #[test]
    fn round_trip_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, w) = CheckpointStore::open(dir.path()).unwrap();
        assert!(w.is_none() && s.is_empty());
        s.set(cp(1, 10));
        s.set(cp(2, 20));
        s.persist().unwrap();
        let (mut s, w) = CheckpointStore::open(dir.path()).unwrap();
        assert!(w.is_none());
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(&cp(2, 0).key()), Some(&cp(2, 20)));
        s.retain(|c| c.ino == 1);
        assert!(s.is_dirty());
        s.persist().unwrap();
        let (s, _) = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn every_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = CheckpointStore::open(dir.path()).unwrap();
        s.set(cp(1, 10));
        s.persist().unwrap();
        let good = fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(decode(&good).is_ok());
        // Flip each byte, and cut at each length: all must fail validation.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at {i} accepted");
        }
        for n in 0..good.len() {
            assert!(decode(&good[..n]).is_err(), "cut at {n} accepted");
        }
    }

    #[test]
    fn corrupt_file_is_set_aside_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"").unwrap();
        let (s, w) = CheckpointStore::open(dir.path()).unwrap();
        assert!(s.is_empty());
        assert!(w.unwrap().contains("is corrupt (no header line)"));
        assert!(dir.path().join(CORRUPT_NAME).exists());
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}
