//! The on-disk form of one spool entry: a self-validating record in the spirit of Postfix queue
//! files (a typed, length-prefixed body and an explicit END record), so that a torn or damaged
//! write is detected instead of trusted.
//!
//! Owns: [`Entry`], [`EntryId`] (the file name, which encodes time, sequence and process id so
//! that the queue order is stable) and the byte layout. Pure: no I/O, no clock; this is what the
//! `spool_entry` fuzz target drives. Must not know about directories, fsync or delivery.
//!
//! Layout (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `NBSP` |
//! | 2 | format version (1) |
//! | 2 | reserved, 0 |
//! | 4 | payload length `n` |
//! | 4 | CRC-32 (IEEE) of the payload |
//! | n | payload: JSON `{"id", "spooled_at", "outcome"}` |
//! | 4 | END marker `END\n` |

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::outcome::Outcome;

/// First bytes of every entry file.
pub const MAGIC: [u8; 4] = *b"NBSP";
/// The only format version this build reads and writes.
pub const VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;
/// The record that closes every entry file.
pub const END: [u8; 4] = *b"END\n";
/// Largest payload accepted (an outcome is a few kB; this bounds what a damaged length field
/// can make us trust).
pub const MAX_PAYLOAD: usize = 16 << 20;

/// Which queue of a spool an entry waits in. Delivery takes every `Normal` entry before any
/// `Bulk` one, so one huge file cannot make a fresh result wait behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Lane {
    /// Results as they come: a result file, `wrap`, stale-job alerts, the heartbeat.
    #[default]
    Normal,
    /// The many results of one big file (a history, a huge JSON-lines file).
    Bulk,
}

/// The name of one spool entry: `<µs since the epoch, 17 digits>-<sequence, 10 digits>-<pid>`,
/// with `-b` appended for the bulk lane. Names sort in enqueue order within one process and by
/// time across processes, normal lane first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    /// The id for an entry made at `micros` (since the epoch) with sequence `seq` by `pid`.
    pub fn new(micros: u64, seq: u64, pid: u32) -> EntryId {
        EntryId::in_lane(micros, seq, pid, Lane::Normal)
    }

    /// As [`EntryId::new`], in `lane`.
    pub fn in_lane(micros: u64, seq: u64, pid: u32, lane: Lane) -> EntryId {
        let suffix = match lane {
            Lane::Normal => "",
            Lane::Bulk => "-b",
        };
        EntryId(format!(
            "{micros:017}-{:010}-{pid}{suffix}",
            seq % 10_000_000_000
        ))
    }

    /// Accept `s` only if it has the shape [`EntryId::in_lane`] produces (so it is always a
    /// plain file name, never a path).
    pub fn parse(s: &str) -> Option<EntryId> {
        EntryId::key_of(s).map(|_| EntryId(s.to_string()))
    }

    fn key_of(s: &str) -> Option<(Lane, u64, u64, u32)> {
        let (s, lane) = match s.strip_suffix("-b") {
            Some(rest) => (rest, Lane::Bulk),
            None => (s, Lane::Normal),
        };
        let mut parts = s.split('-');
        let (t, q, p) = (parts.next()?, parts.next()?, parts.next()?);
        let digits = |x: &str, len: Option<usize>| {
            !x.is_empty()
                && x.bytes().all(|b| b.is_ascii_digit())
                && len.is_none_or(|l| x.len() == l)
        };
        if parts.next().is_some()
            || !digits(t, Some(17))
            || !digits(q, Some(10))
            || !digits(p, None)
        {
            return None;
        }
        Some((lane, t.parse().ok()?, q.parse().ok()?, p.parse().ok()?))
    }

    /// Sort key: lane, then time, then sequence, then pid.
    pub fn sort_key(&self) -> (Lane, u64, u64, u32) {
        EntryId::key_of(&self.0).unwrap_or_default()
    }

    /// The lane it waits in.
    pub fn lane(&self) -> Lane {
        self.sort_key().0
    }

    /// Microseconds since the epoch encoded in the name.
    pub fn micros(&self) -> u64 {
        self.sort_key().1
    }

    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EntryId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EntryId, D::Error> {
        let s = String::deserialize(d)?;
        EntryId::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid spool entry id {s:?}")))
    }
}

/// One pending outcome for one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its name in the spool.
    pub id: EntryId,
    /// When it was committed to the spool.
    pub spooled_at: DateTime<Utc>,
    /// What to deliver.
    pub outcome: Outcome,
}

impl Entry {
    /// The time the check result describes: the job's end, else when it was spooled.
    pub fn check_time(&self) -> DateTime<Utc> {
        self.outcome.finished.unwrap_or(self.spooled_at)
    }
}

/// Why bytes are not a valid entry. Every variant means "quarantine this file"; none is fatal
/// to the spool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// A zero-length file (a crash between create and write).
    #[error("entry is empty")]
    Empty,
    /// The file does not start with the magic bytes.
    #[error("entry does not start with the spool magic (not a nagbridge spool entry)")]
    Magic,
    /// Written by a newer (or unknown) nagbridge.
    #[error("entry has unknown format version {0} (this build reads version {VERSION})")]
    Version(u16),
    /// Shorter than its header or its declared payload (a torn write).
    #[error("entry is truncated: {got} bytes, expected at least {need}")]
    Truncated {
        /// Bytes present.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The declared payload length is absurd.
    #[error("entry declares a payload of {0} bytes, more than the limit of {MAX_PAYLOAD}")]
    TooLong(u64),
    /// The END record is missing or wrong.
    #[error("entry has no END marker")]
    NoEnd,
    /// Bytes after the END record.
    #[error("entry has {0} bytes after its END marker")]
    Trailing(usize),
    /// The payload does not match its CRC.
    #[error("entry CRC-32 mismatch: stored {stored:08x}, computed {computed:08x}")]
    Crc {
        /// From the header.
        stored: u32,
        /// Over the payload.
        computed: u32,
    },
    /// The payload is not a valid entry.
    #[error("entry payload is not valid: {0}")]
    Json(String),
}

/// Serialise `entry` into the file layout.
pub fn encode(entry: &Entry) -> Result<Vec<u8>, serde_json::Error> {
    let payload = serde_json::to_vec(entry)?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + END.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&END);
    Ok(out)
}

/// Read an entry from its file bytes, checking magic, version, length, CRC and END.
pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
    if bytes.is_empty() {
        return Err(EntryError::Empty);
    }
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(EntryError::Magic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(EntryError::Truncated {
            got: bytes.len(),
            need: HEADER_LEN,
        });
    }
    let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let version = be16(4);
    if version != VERSION {
        return Err(EntryError::Version(version));
    }
    let len = be32(8) as usize;
    if len > MAX_PAYLOAD {
        return Err(EntryError::TooLong(len as u64));
    }
    let stored = be32(12);
    let body_end = HEADER_LEN + len;
    if bytes.len() < body_end {
        return Err(EntryError::Truncated {
            got: bytes.len(),
            need: body_end + END.len(),
        });
    }
    let payload = &bytes[HEADER_LEN..body_end];
    let rest = &bytes[body_end..];
    if rest.len() < END.len() || rest[..END.len()] != END {
        return Err(EntryError::NoEnd);
    }
    if rest.len() > END.len() {
        return Err(EntryError::Trailing(rest.len() - END.len()));
    }
    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(EntryError::Crc { stored, computed });
    }
    serde_json::from_slice(payload).map_err(|e| EntryError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;

    fn sample() -> Entry {
        let mut o = Outcome::new("nightly", Status::Warning);
        o.summary = Some("1 file skipped".into());
        Entry {
            id: EntryId::new(1_764_000_000_000_000, 7, 4242),
            spooled_at: DateTime::parse_from_rfc3339("2026-11-24T02:03:10.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            outcome: o,
        }
    }

    #[test]
    fn spool_entry_round_trips() {
        let e = sample();
        let bytes = encode(&e).unwrap();
        assert_eq!(&bytes[..4], b"NBSP");
        assert!(bytes.ends_with(b"END\n"));
        assert_eq!(decode(&bytes).unwrap(), e);
    }

    #[test]
    fn spool_entry_damage_is_detected() {
        let good = encode(&sample()).unwrap();
        let n = good.len();
        assert_eq!(decode(&[]), Err(EntryError::Empty));
        assert_eq!(decode(b"{\"job\":1}"), Err(EntryError::Magic));
        assert!(matches!(
            decode(&good[..10]),
            Err(EntryError::Truncated { .. })
        ));
        assert!(matches!(
            decode(&good[..n / 2]),
            Err(EntryError::Truncated { .. })
        ));
        assert_eq!(decode(&good[..n - 4]), Err(EntryError::NoEnd));
        assert_eq!(decode(&good[..n - 1]), Err(EntryError::NoEnd));
        let mut trailing = good.clone();
        trailing.push(b'x');
        assert_eq!(decode(&trailing), Err(EntryError::Trailing(1)));
        let mut flipped = good.clone();
        flipped[HEADER_LEN + 3] ^= 0x20;
        assert!(matches!(decode(&flipped), Err(EntryError::Crc { .. })));
        let mut v2 = good.clone();
        v2[5] = 2;
        assert_eq!(decode(&v2), Err(EntryError::Version(2)));
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode(&huge), Err(EntryError::TooLong(_))));
    }

    #[test]
    fn spool_entry_ids_sort_and_refuse_paths() {
        let a = EntryId::new(5, 9, 1);
        let b = EntryId::new(5, 10, 1);
        let c = EntryId::new(6, 0, 1);
        assert!(a.as_str() < b.as_str() && b.as_str() < c.as_str());
        assert!(a.sort_key() < b.sort_key() && b.sort_key() < c.sort_key());
        assert_eq!(EntryId::parse(a.as_str()), Some(a));
        for bad in [
            "",
            "../x",
            "00000000000000005-0000000009-1/../../x",
            "5-9-1",
            "00000000000000005-0000000009-",
            "00000000000000005-0000000009-1-2",
            "00000000000000005-000000000a-1",
        ] {
            assert_eq!(EntryId::parse(bad), None, "{bad}");
        }
    }
}
