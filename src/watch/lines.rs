//! Line ends in a watched file: where the last whole line of the new bytes ends, and where the
//! rest of an over-long line ends.
//!
//! Owns: the chunked newline search and a small cache of byte ranges known to hold no newline,
//! so that a file that grows without a newline costs the bytes appended since the last look,
//! not the whole pending part at every close.
//! Must not: decide what is handed out, or interpret anything but `\n`.

use std::collections::HashMap;
use std::fs::File;
use std::io;

use super::identity::{self, FileKey};

/// Bytes read at once while searching backwards, at first (a file that ends with a newline,
/// the usual case, costs one small read) ...
const FIRST_CHUNK: u64 = 4 * 1024;
/// ... and at most (the chunk doubles up to this).
const CHUNK: u64 = 64 * 1024;
/// Files remembered; past this the cache starts over (it only saves work).
const MAX_CACHED: usize = 4096;

/// `[start, until)` of a file with this head hash holds no newline.
#[derive(Debug, Clone, Copy)]
struct NoNewline {
    start: u64,
    head_hash: u64,
    until: u64,
}

/// Newline searches with memory of the ranges already searched in vain.
#[derive(Debug, Default)]
pub struct LineEnds {
    known: HashMap<FileKey, NoNewline>,
}

impl LineEnds {
    /// Offset just past the last `\n` in `[start, size)`, or None.
    pub fn last_line_end(
        &mut self,
        file: &File,
        key: FileKey,
        head_hash: u64,
        start: u64,
        size: u64,
    ) -> io::Result<Option<u64>> {
        let from = self.searched(key, head_hash, start, size);
        let found = search_back(file, from, size)?;
        if found.is_none() {
            self.remember(key, head_hash, start, size);
        }
        Ok(found.map(|i| i + 1))
    }

    /// Offset just past the first `\n` in `[start, size)`, or None.
    pub fn first_line_end(
        &mut self,
        file: &File,
        key: FileKey,
        head_hash: u64,
        start: u64,
        size: u64,
    ) -> io::Result<Option<u64>> {
        let from = self.searched(key, head_hash, start, size);
        let found = search_forward(file, from, size)?;
        if found.is_none() {
            self.remember(key, head_hash, start, size);
        }
        Ok(found.map(|i| i + 1))
    }

    /// Forget a file (its checkpoint moved, or it is gone).
    pub fn forget(&mut self, key: &FileKey) {
        self.known.remove(key);
        crate::memory::shrink_idle(&mut self.known);
    }

    /// Where the search may begin: past the part known to hold no newline.
    fn searched(&self, key: FileKey, head_hash: u64, start: u64, size: u64) -> u64 {
        match self.known.get(&key) {
            Some(n) if n.start == start && n.head_hash == head_hash && n.until <= size => n.until,
            _ => start,
        }
    }

    fn remember(&mut self, key: FileKey, head_hash: u64, start: u64, until: u64) {
        if self.known.len() >= MAX_CACHED && !self.known.contains_key(&key) {
            self.known.clear();
        }
        self.known.insert(
            key,
            NoNewline {
                start,
                head_hash,
                until,
            },
        );
    }
}

/// Offset of the last `\n` in `[lo, hi)`.
fn search_back(file: &File, lo: u64, hi: u64) -> io::Result<Option<u64>> {
    let mut end = hi;
    let mut chunk_len = FIRST_CHUNK;
    while end > lo {
        let n = (end - lo).min(chunk_len);
        chunk_len = (chunk_len * 2).min(CHUNK);
        let chunk = identity::read_range(file, end - n, n)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(end - n + i as u64));
        }
        if (chunk.len() as u64) < n {
            return Ok(None); // shrank meanwhile: the caller looks again later
        }
        end -= n;
    }
    Ok(None)
}

/// Offset of the first `\n` in `[lo, hi)`.
fn search_forward(file: &File, lo: u64, hi: u64) -> io::Result<Option<u64>> {
    let mut at = lo;
    while at < hi {
        let n = (hi - at).min(CHUNK);
        let chunk = identity::read_range(file, at, n)?;
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            return Ok(Some(at + i as u64));
        }
        if (chunk.len() as u64) < n {
            return Ok(None);
        }
        at += n;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn finds_line_ends_and_remembers_the_ranges_without_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let mut body = vec![b'x'; 200_000];
        body[10] = b'\n';
        body[150_000] = b'\n';
        std::fs::write(&p, &body).unwrap();
        let f = File::open(&p).unwrap();
        let key = FileKey { dev: 1, ino: 1 };
        let mut l = LineEnds::default();
        let size = body.len() as u64;
        assert_eq!(l.last_line_end(&f, key, 7, 0, size).unwrap(), Some(150_001));
        assert_eq!(l.first_line_end(&f, key, 7, 0, size).unwrap(), Some(11));
        assert_eq!(
            l.first_line_end(&f, key, 7, 11, size).unwrap(),
            Some(150_001)
        );
        assert_eq!(l.last_line_end(&f, key, 7, 150_001, size).unwrap(), None);
        // Remembered: [150_001, size) has no newline; an append with one is found past it.
        assert_eq!(l.searched(key, 7, 150_001, size), size);
        assert_eq!(l.searched(key, 8, 150_001, size), 150_001, "other head");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"yy\nzz")
            .unwrap();
        let f = File::open(&p).unwrap();
        let size2 = size + 5;
        assert_eq!(
            l.last_line_end(&f, key, 7, 150_001, size2).unwrap(),
            Some(size + 3)
        );
        assert_eq!(
            l.first_line_end(&f, key, 7, 150_001, size2).unwrap(),
            Some(size + 3)
        );
        l.forget(&key);
        assert_eq!(l.searched(key, 7, 150_001, size2), 150_001);
    }
}
