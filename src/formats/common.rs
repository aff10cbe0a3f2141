//! Small pieces of parser logic that several formats share word for word.
//!
//! Owns: the cap on the messages kept per run with the warning that counts the ones left out
//! (borg, duplicity, restic, rsnapshot; the parsers that keep 50 and count nothing have their
//! own), and the `zero_files` option of the parsers that apply it over success or warning with a
//! note in the summary (bacula's differs and stays there). Each parser still decides which
//! messages it keeps and what its summary says. Also the byte-level reading of the line-based
//! logs (bacula, pgbackrest, vzdump: [`lines`]), of the JSON documents (pgbackrest, xo:
//! [`trim`]), and the 64 KiB [`head`] the detectors look at. Must not do I/O.

use super::Input;
use crate::outcome::Status;

/// At most this many messages of one kind are kept per run by [`keep`].
pub(super) const MAX_KEPT: usize = 200;

/// Append `m` to `list` unless it holds [`MAX_KEPT`] messages already; then count it in
/// `dropped` (see [`note_dropped`]).
pub(super) fn keep(list: &mut Vec<String>, dropped: &mut usize, m: impl Into<String>) {
    if list.len() < MAX_KEPT {
        list.push(m.into());
    } else {
        *dropped += 1;
    }
}

/// The last warning of a run whose cap left `dropped` messages out: `N more messages not shown`.
pub(super) fn note_dropped(warnings: &mut Vec<String>, dropped: usize) {
    if dropped > 0 {
        warnings.push(format!("{dropped} more messages not shown"));
    }
}

/// `zero_files`: a successful (or warning) run that processed zero files gets the configured
/// status, and `note` joins the summary parts.
pub(super) fn zero_files(
    input: &Input<'_>,
    files: Option<u64>,
    status: &mut Status,
    parts: &mut Vec<String>,
    note: &str,
) {
    if let (Some(level), Some(0)) = (input.options.zero_files, files) {
        if matches!(*status, Status::Success | Status::Warning) {
            *status = level;
            parts.push(note.into());
        }
    }
}

/// The first 64 KiB of the input: all a detector reads.
pub(super) fn head(b: &[u8]) -> &[u8] {
    &b[..b.len().min(64 * 1024)]
}

/// Lines with the byte offset just past each one (its newline included). `\r` is dropped; a
/// last line without a newline ends at the input's end.
pub(super) fn lines(b: &[u8]) -> impl Iterator<Item = (usize, String)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= b.len() {
            return None;
        }
        let rest = &b[pos..];
        let (line, next) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => (&rest[..i], pos + i + 1),
            None => (rest, b.len()),
        };
        pos = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((next, String::from_utf8_lossy(line).into_owned()))
    })
}

/// A document without a leading UTF-8 BOM, then without surrounding ASCII whitespace.
pub(super) fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// The exit code a wrapper script logged on a line of its own: `exit status: 1`,
/// `Exit code: 0`, `exit code 2`, `return code = 3` (case-insensitive, the whole line). None for
/// anything else, and for a number that does not fit an i32 (never wrapped).
pub(super) fn wrapper_exit_code(line: &str) -> Option<i32> {
    let l = line.trim();
    let lower = l.to_ascii_lowercase();
    let rest = ["exit status", "exit code", "return code"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))?;
    let num = rest.trim_start_matches([' ', ':', '=']).trim_end();
    if num.is_empty() || rest.len() == num.len() {
        return None;
    }
    num.parse::<i32>().ok()
}

/// Earliest and latest times a parser accepts from its input: anything outside is a hostile or
/// garbled number, not a backup time.
const SANE_YEARS: std::ops::RangeInclusive<i32> = 1970..=2200;

/// `t` when its year is in 1970..=2200, else None.
pub(super) fn sane_time(t: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    SANE_YEARS.contains(&t.year()).then_some(t)
}

/// Seconds since the epoch as a sane time (see [`sane_time`]); None on overflow.
pub(super) fn sane_epoch(secs: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    let secs = i64::try_from(secs).ok()?;
    chrono::DateTime::from_timestamp(secs, 0).and_then(sane_time)
}

/// `t` plus `secs` seconds, checked (no panic, no wrap-around) and sane (see [`sane_time`]).
pub(super) fn add_secs(
    t: chrono::DateTime<chrono::Utc>,
    secs: u64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = chrono::TimeDelta::try_seconds(i64::try_from(secs).ok()?)?;
    t.checked_add_signed(d).and_then(sane_time)
}
