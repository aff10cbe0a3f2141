//! File identity and safe opening.
//!
//! Owns: the [`FileKey`] (device and inode), opening a watched file without following symlinks
//! and without blocking on FIFOs or devices, and the content fingerprints (xxh3 of a byte
//! range) that tell an appended file from a rewritten one or from a new file on a reused inode.
//! Must not: decide readiness, keep state or read more than the ranges it is asked for.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bytes at the start of a file that identify its content (with the inode).
pub const HEAD_LEN: u64 = 1024;
/// Bytes just before a checkpoint offset whose hash must still match (Fluent Bit's offset marker).
pub const MARKER_LEN: u64 = 1024;

/// A file's identity on this host: device and inode. A rename keeps it; rotation makes a new
/// one. Inode reuse is caught by the content fingerprints kept beside it in the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileKey {
    /// The key of a stat result.
    pub fn of(meta: &Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Why a directory entry is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotRegular {
    /// A symbolic link (never followed).
    Symlink,
    /// A directory (outside a recursive watch).
    Directory,
    /// A named pipe.
    Fifo,
    /// A unix socket.
    Socket,
    /// A block or character device.
    Device,
}

impl NotRegular {
    /// What the entry is, for the warning.
    pub fn describe(self) -> &'static str {
        match self {
            NotRegular::Symlink => "a symbolic link, not followed",
            NotRegular::Directory => "a directory in a non-recursive watch",
            NotRegular::Fifo => "a named pipe",
            NotRegular::Socket => "a socket",
            NotRegular::Device => "a device",
        }
    }

    /// None for a regular file, else what it is (from `lstat`, so symlinks are seen as such).
    pub fn of(meta: &Metadata) -> Option<NotRegular> {
        let t = meta.file_type();
        if t.is_file() {
            None
        } else if t.is_symlink() {
            Some(NotRegular::Symlink)
        } else if t.is_dir() {
            Some(NotRegular::Directory)
        } else if t.is_fifo() {
            Some(NotRegular::Fifo)
        } else if t.is_socket() {
            Some(NotRegular::Socket)
        } else {
            Some(NotRegular::Device)
        }
    }
}

/// Open `path` for reading with `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC` and accept it only if
/// `fstat` says it is a regular file. A FIFO never blocks and a symlink is never followed,
/// even when the entry changed type between the directory scan and the open.
pub fn open_regular(path: &Path) -> io::Result<Result<(File, Metadata), NotRegular>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Err(NotRegular::Symlink)),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    match NotRegular::of(&meta) {
        None => Ok(Ok((file, meta))),
        Some(kind) => Ok(Err(kind)),
    }
}

/// Read `len` bytes at `start` (positional, the file offset is untouched). Short when the file
/// is shorter than that.
pub fn read_range(file: &File, start: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], start + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The fingerprint of a byte string.
pub fn hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Hash of `[start, start + len)`, or None when the file no longer has all of those bytes.
pub fn hash_range(file: &File, start: u64, len: u64) -> io::Result<Option<u64>> {
    let bytes = read_range(file, start, len)?;
    Ok((bytes.len() as u64 == len).then(|| hash(&bytes)))
}

/// The range the offset marker covers: up to [`MARKER_LEN`] bytes ending at `offset`.
pub fn marker_range(offset: u64) -> (u64, u64) {
    let len = offset.min(MARKER_LEN);
    (offset - len, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn opens_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.log");
        std::fs::File::create(&file)
            .unwrap()
            .write_all(b"hello")
            .unwrap();
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let (f, meta) = open_regular(&file).unwrap().unwrap();
        assert_eq!(meta.len(), 5);
        assert_eq!(read_range(&f, 1, 10).unwrap(), b"ello");
        assert_eq!(hash_range(&f, 0, 5).unwrap(), Some(hash(b"hello")));
        assert_eq!(hash_range(&f, 0, 6).unwrap(), None);
        assert_eq!(
            open_regular(&link).unwrap().unwrap_err(),
            NotRegular::Symlink
        );
        assert_eq!(
            open_regular(dir.path()).unwrap().unwrap_err(),
            NotRegular::Directory
        );
    }

    #[test]
    fn marker_range_is_clamped_at_zero() {
        assert_eq!(marker_range(0), (0, 0));
        assert_eq!(marker_range(10), (0, 10));
        assert_eq!(marker_range(5000), (5000 - MARKER_LEN, MARKER_LEN));
    }
}
