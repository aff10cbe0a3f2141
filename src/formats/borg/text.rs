//! borg's plain-text lines (no `--log-json`): the `--stats` block of `create` and `prune` in
//! its 1.x and 2.x shapes, `check` progress and verdicts, file-level warnings, the errors that
//! end a run (argument errors, connection, lock, passphrase, repository, tracebacks), and the
//! `--show-rc` line. One classification per line, numbers read without overflow. Must not do
//! I/O.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1};
use nom::character::complete::{digit1, space0, space1};
use nom::combinator::{map_res, opt, recognize, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// What one text line says.
#[derive(Debug, PartialEq)]
pub(super) enum Line<'a> {
    /// `terminating with warning status, rc 1`.
    Rc(i32),
    /// `Archive name: web01-2026-11-24T08:05:40` (first line of the `create --stats` block).
    ArchiveName(&'a str),
    /// Another line of the `create --stats` block (`Archive fingerprint:`, `Time (start):`).
    StatsStep,
    /// `Number of files: 127`.
    Files(u64),
    /// `Duration: 10 hours 52 minutes 10.60 seconds`.
    Duration(f64),
    /// `This archive:  4.16 MB  4.17 MB  26.78 kB` (1.x): original and deduplicated bytes.
    ThisArchive(Option<u64>, Option<u64>),
    /// `Original size: 31.14 MB` (2.x).
    OriginalSize(Option<u64>),
    /// `Deduplicated size: 502 B` (2.x).
    DedupSize(Option<u64>),
    /// `Keeping archive ...`, `Pruning archive ...`, `Would prune: ...`, `Deleted data: ...`.
    Prune,
    /// A `check` progress line (`Starting repository check`, `Analyzing archive ...`).
    CheckStep,
    /// A `check` verdict: `..., no problems found.` (true) or `..., problems found.` /
    /// `errors found` (false).
    CheckVerdict(bool),
    /// `N orphaned objects found!`, `Data integrity error: ...`: a problem the check reports.
    CheckProblem(&'a str),
    /// A file borg could not read completely: `<path>: file changed while we backed it up`,
    /// `<path>: open: [Errno 13] Permission denied: '<name>'`.
    FileWarning(&'a str),
    /// An error that ends the run.
    Fatal(&'a str),
    /// `usage: borg ...` and its continuation: the argument parser is about to complain.
    Usage,
    /// `Traceback (most recent call last):`.
    Traceback,
    /// `Remote: ...`: the server side's log, repeated by the client in its own words.
    Remote,
    /// A wrapper's `exit status: 1` line.
    WrapperRc(i32),
    Other,
}

/// Classify one trimmed line.
pub(super) fn classify(l: &str) -> Line<'_> {
    if l.starts_with("Remote: ") || l == "Remote:" {
        return Line::Remote;
    }
    if let Some(rc) = show_rc(l) {
        return Line::Rc(rc);
    }
    if let Ok((_, line)) = stats(l) {
        return line;
    }
    if let Some(rc) = super::super::common::wrapper_exit_code(l) {
        return Line::WrapperRc(rc);
    }
    if l.starts_with("usage: borg") {
        return Line::Usage;
    }
    if l.starts_with("Traceback (most recent call last)") {
        return Line::Traceback;
    }
    if is_argparse_error(l) || FATAL_STARTS.iter().any(|p| l.starts_with(p)) {
        return Line::Fatal(l);
    }
    if FATAL_CONTAINS.iter().any(|p| l.contains(p))
        || (l.starts_with("Repository ") && l.ends_with(" does not exist."))
        || (l.starts_with("Archive ")
            && (l.ends_with(" already exists")
                || l.ends_with(" does not exist")
                || l.ends_with(" not found.")))
        || (l.contains("passphrase supplied in") && l.contains("is incorrect"))
    {
        return Line::Fatal(l);
    }
    if let Some(v) = check_verdict(l) {
        return Line::CheckVerdict(v);
    }
    if l.ends_with("orphaned objects found!")
        || l.starts_with("Data integrity error")
        || CHECK_PROBLEMS.iter().any(|p| l.starts_with(p))
    {
        return Line::CheckProblem(l);
    }
    if CHECK_STEPS.iter().any(|p| l.starts_with(p)) {
        return Line::CheckStep;
    }
    if PRUNE_STARTS.iter().any(|p| l.starts_with(p)) {
        return Line::Prune;
    }
    if l.contains(": file changed while we backed it up") || is_os_error(l) {
        return Line::FileWarning(l);
    }
    Line::Other
}

const FATAL_STARTS: &[&str] = &[
    "Failed to create/acquire the lock",
    "Inconsistency detected. Please run",
    "Connection closed by remote host",
    "Local Exception",
    "borg: Error: ",
    "Error: ",
];

const FATAL_CONTAINS: &[&str] = &[
    "Is borg working on the server?",
    "is not a valid repository",
    "Local Exception",
    "borg.locking.LockTimeout",
    "borg.remote.ConnectionClosed",
    "borg: Error: ",
    ": Failed to create/acquire the lock ",
];

/// Problems `borg check` reports without the `Data integrity error: ` of later versions (1.0:
/// `Invalid segment entry size [segment 9608, offset 6659340]`).
const CHECK_PROBLEMS: &[&str] = &[
    "Invalid segment entry size [segment ",
    "Invalid segment magic [segment ",
    "Segment entry checksum mismatch [segment ",
    "Index object count mismatch",
];

const CHECK_STEPS: &[&str] = &[
    "Starting repository check",
    "Starting repository index check",
    "Starting archive consistency check",
    "Analyzing archive ",
    "Index object count match",
    "finished segment check at segment",
    "checking segment file ",
];

const PRUNE_STARTS: &[&str] = &[
    "Keeping archive",
    "Pruning archive",
    "Would prune:",
    "Keeping checkpoint archive",
    "Deleted data:",
];

/// `borg: error: unrecognized arguments: --json`, `borg create: error: argument ARCHIVE: ...`,
/// and borg 2's bare `error: argument NAME: ...`.
fn is_argparse_error(l: &str) -> bool {
    if l.starts_with("error: argument ") || l.starts_with("error: unrecognized arguments") {
        return true;
    }
    let Some(rest) = l.strip_prefix("borg") else {
        return false;
    };
    if let Some(r) = rest.strip_prefix(": error: ") {
        return !r.is_empty();
    }
    // `borg <command>: error: ...`
    rest.strip_prefix(' ').is_some_and(|r| {
        let cmd: String = r
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        !cmd.is_empty() && r[cmd.len()..].starts_with(": error: ")
    })
}

/// `<path>: <op>: [Errno N] ...` or `<path>: [Errno N] ...`, where the part before the errno
/// is a path, not a Python exception name (`FileNotFoundError: [Errno 2] ...` of a traceback).
fn is_os_error(l: &str) -> bool {
    let Some(i) = l.find(": [Errno ") else {
        return false;
    };
    let before = &l[..i];
    !before.is_empty() && !before.ends_with("Error") && !before.starts_with("  File ")
}

/// `Archive consistency check complete, no problems found.`, `Completed repository check, no
/// problems found.`, `Finished full repository check, errors found.` -> Some(no problems).
fn check_verdict(l: &str) -> Option<bool> {
    let is_end = l.starts_with("Archive consistency check complete")
        || l.starts_with("Completed repository check")
        || l.starts_with("Finished full repository check")
        || l.starts_with("Finished partial repository check")
        || l.starts_with("Repository check complete");
    if !is_end {
        return None;
    }
    Some(l.contains("no problems found") || l.contains("no errors found"))
}

/// `terminating with warning status, rc 1` -> 1; None when the number does not fit an i32.
pub(super) fn show_rc(msg: &str) -> Option<i32> {
    fn p(i: &str) -> IResult<&str, i32> {
        preceded(
            (
                tag("terminating with "),
                take_till1(|c| c == ' '),
                tag(" status, rc "),
            ),
            map_res(recognize((opt(tag("-")), digit1)), str::parse::<i32>),
        )
        .parse(i)
    }
    p(msg.trim()).ok().map(|(_, rc)| rc)
}

fn stats(l: &str) -> IResult<&str, Line<'_>> {
    alt((
        preceded(tag("Archive name: "), rest).map(|n: &str| Line::ArchiveName(n.trim())),
        preceded(
            (tag("Number of files:"), space1),
            map_res(digit1, str::parse::<u64>),
        )
        .map(Line::Files),
        preceded((tag("Duration:"), space1), rest).map_opt(|d| duration(d).map(Line::Duration)),
        preceded((tag("This archive:"), space1), rest).map(|s| {
            let sizes = sizes(s);
            Line::ThisArchive(
                sizes.first().copied().flatten(),
                sizes.get(2).copied().flatten(),
            )
        }),
        preceded((tag("Original size:"), space0), rest).map(|s| Line::OriginalSize(size_of(s))),
        preceded((tag("Deduplicated size:"), space0), rest).map(|s| Line::DedupSize(size_of(s))),
        alt((
            tag("Archive fingerprint: "),
            tag("Time (start):"),
            tag("Time (end):"),
            tag("Time (nominal):"),
            tag("Start time:"),
            tag("End time:"),
            tag("Utilization of max"),
        ))
        .map(|_| Line::StatsStep),
    ))
    .parse(l)
}

/// `10 hours 52 minutes 10.60 seconds`, `0.19 seconds`, `1 days 2 hours 3.00 seconds`: seconds,
/// None for anything else, negative, not finite or past about 31 years.
pub(super) fn duration(s: &str) -> Option<f64> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let mut total = 0.0f64;
    for pair in words.chunks(2) {
        let n: f64 = pair[0].parse().ok()?;
        let unit = match pair[1].trim_end_matches(',') {
            "second" | "seconds" => 1.0,
            "minute" | "minutes" => 60.0,
            "hour" | "hours" => 3600.0,
            "day" | "days" => 86400.0,
            _ => return None,
        };
        total += n * unit;
    }
    (total.is_finite() && (0.0..1e9).contains(&total)).then_some(total)
}

/// The sizes on a stats line, in order (`4.16 MB 4.17 MB 26.78 kB` -> three); a size that
/// cannot be read (negative, past u64) is None.
fn sizes(s: &str) -> Vec<Option<u64>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < words.len() && out.len() < 3 {
        if let Some(mult) = unit(words[i + 1]) {
            out.push(bytes(words[i], mult));
            i += 2;
        } else {
            break;
        }
    }
    out
}

fn size_of(s: &str) -> Option<u64> {
    sizes(s).first().copied().flatten()
}

/// The multiplier of a borg size unit (decimal by default, binary with `--iec`).
fn unit(u: &str) -> Option<f64> {
    Some(match u {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        "EB" => 1e18,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "PiB" => 1024f64.powi(5),
        "EiB" => 1024f64.powi(6),
        _ => return None,
    })
}

fn bytes(num: &str, mult: f64) -> Option<u64> {
    if !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&v)).then_some(v as u64)
}

/// Whether the input has a line only `borg` prints in text mode (for auto detection).
pub(super) fn is_borg_line(l: &str) -> bool {
    match classify(l) {
        Line::Rc(_)
        | Line::ArchiveName(_)
        | Line::CheckVerdict(_)
        | Line::Usage
        | Line::CheckProblem(_) => true,
        Line::Fatal(f) => {
            is_argparse_error(f) && f.starts_with("borg")
                || f.contains("Failed to create/acquire the lock")
                || f.contains("Is borg working on the server?")
                || f.starts_with("Inconsistency detected. Please run \"borg check")
                || f.contains("borg.")
                || (f.starts_with("Repository ") && f.ends_with(" does not exist."))
                || f.contains(" is not a valid repository. Check repo config.")
        }
        Line::Remote => {
            let inner = l.trim_start_matches("Remote:").trim();
            l.contains(": exception in RPC call")
                || l.starts_with("Remote: Borg ")
                || l.starts_with("Remote: borg.")
                || (!inner.starts_with("Remote:") && is_borg_line(inner))
        }
        Line::FileWarning(w) => {
            w.contains(": file changed while we backed it up")
                || OS_OPS.iter().any(|op| w.contains(op))
        }
        Line::CheckStep => {
            l.starts_with("Starting repository check")
                || l.starts_with("Starting archive consistency check")
        }
        Line::Prune => {
            l.starts_with("Keeping archive")
                || l.starts_with("Pruning archive")
                || l.starts_with("Would prune:")
                || l.starts_with("Deleted data:")
        }
        Line::StatsStep => l.starts_with("Archive fingerprint: "),
        _ => {
            l.contains("File \"borg/")
                || l.contains("/borg/archiver")
                || (l.starts_with("SSH command line: [") && l.contains("'borg', 'serve'"))
        }
    }
}

/// borg's `<path>: <op>: [Errno N]` operations (Python's own messages have no op).
const OS_OPS: &[&str] = &[
    ": open: [Errno ",
    ": read: [Errno ",
    ": stat: [Errno ",
    ": lstat: [Errno ",
    ": fstat: [Errno ",
    ": fstat2: [Errno ",
    ": attrs: [Errno ",
    ": xattrs: [Errno ",
    ": opendir: [Errno ",
    ": scandir: [Errno ",
    ": readlink: [Errno ",
    ": inode: [Errno ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_every_version() {
        assert_eq!(
            classify("Duration: 10 hours 52 minutes 10.60 seconds"),
            Line::Duration(39130.6)
        );
        assert_eq!(classify("Duration: 0.051 seconds"), Line::Duration(0.051));
        assert_eq!(
            classify(
                "This archive:                4.16 MB              4.17 MB             26.78 kB"
            ),
            Line::ThisArchive(Some(4_160_000), Some(26_780))
        );
        assert_eq!(
            classify(
                "This archive:        6.85 MB              6.85 MB             30.79 kB  <-- !"
            ),
            Line::ThisArchive(Some(6_850_000), Some(30_790))
        );
        assert_eq!(
            classify("Deduplicated size: 502 B"),
            Line::DedupSize(Some(502))
        );
        assert_eq!(
            classify("Deleted data:               -4.00 TB             -2.95 TB -399.54 MB"),
            Line::Prune
        );
        assert_eq!(classify("Archive name: docs"), Line::ArchiveName("docs"));
        assert_eq!(
            classify("Archive consistency check complete, problems found."),
            Line::CheckVerdict(false)
        );
        assert_eq!(
            classify("Completed repository check, no problems found."),
            Line::CheckVerdict(true)
        );
        assert_eq!(
            classify("Finished full repository check, errors found."),
            Line::CheckVerdict(false)
        );
    }

    #[test]
    fn errors_and_warnings() {
        for fatal in [
            "borg: error: unrecognized arguments: --json",
            "borg create: error: argument ARCHIVE: \"operation\": No archive specified",
            "error: argument NAME: Invalid archive name: \"my*\"",
            "Failed to create/acquire the lock /r/lock.exclusive (timeout).",
            "Connection closed by remote host. Is borg working on the server?",
            "Repository /tmp/nore does not exist.",
            "Archive 'testbooks2' not found.",
            "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect",
            "borg.remote.ConnectionClosedWithHint: Connection closed by remote host. Is borg working on the server?",
        ] {
            assert!(matches!(classify(fatal), Line::Fatal(_)), "{fatal}");
        }
        for warn in [
            "src/rootonly: open: [Errno 13] Permission denied: 'src/rootonly'",
            "/wal/0000000000000005-00000000000619e2.wal: file changed while we backed it up.wal",
            "/tmp/missing: [Errno 2] No such file or directory: 'missing'",
        ] {
            assert!(matches!(classify(warn), Line::FileWarning(_)), "{warn}");
        }
        assert_eq!(
            classify("FileNotFoundError: [Errno 2] No such file or directory: '/x'"),
            Line::Other
        );
        assert_eq!(
            classify("Remote: ssh_exchange_identification: Connection closed by remote host"),
            Line::Remote
        );
        assert_eq!(classify("exit status: 1"), Line::WrapperRc(1));
        assert_eq!(
            classify("terminating with success status, rc 0"),
            Line::Rc(0)
        );
    }

    #[test]
    fn hostile_numbers() {
        assert_eq!(
            classify("Number of files: 99999999999999999999"),
            Line::Other
        );
        assert_eq!(duration("1e309 seconds"), None);
        assert_eq!(duration("3000000000 hours"), None);
        assert_eq!(duration("-5 seconds"), None);
        assert_eq!(duration("nan seconds"), None);
        assert_eq!(
            classify("This archive: 99999999999999999999999 EB 1 B -1 B"),
            Line::ThisArchive(None, None)
        );
        assert_eq!(
            classify("Original size: 1e308 EB"),
            Line::OriginalSize(None)
        );
        assert_eq!(
            show_rc("terminating with error status, rc 99999999999"),
            None
        );
        assert_eq!(
            show_rc("terminating with error status, rc -9223372036854775808"),
            None
        );
    }
}
