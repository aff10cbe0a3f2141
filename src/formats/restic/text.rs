//! restic's plain-text lines: the console output of `backup`, `check`, `forget`, `prune` and
//! `copy` without `--json` (every version from 0.1 on), and the text restic mixes into its JSON
//! output. One classification per line (nom), with the numbers of the summary lines read in
//! checked arithmetic. Must not do I/O.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_till1, take_while1};
use nom::character::complete::{digit1, space0, space1};
use nom::combinator::{map, map_res, opt, rest};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};

/// What one text line says.
#[derive(Debug, PartialEq)]
pub(super) enum Line<'a> {
    /// `Fatal: ...`, or a message restic only prints when it gives up (lock, password, ...).
    Fatal(&'a str),
    /// `Warning: at least one source file could not be read` (0.10+), or its 0.10 wording
    /// `failed to read all source data during backup`: printed after the snapshot was saved.
    Unreadable(&'a str),
    /// Any other `Warning: ...`.
    Warning(&'a str),
    /// A file that could not be read: `error for <path>: ...` (<= 0.8), `error: ...` (0.9+),
    /// `scan: ...` (the scanner's copy of the same error).
    FileError(&'a str),
    /// `warning for <path>: file has changed` (0.4 - 0.8).
    FileWarning(&'a str),
    /// `<path> does not exist, skipping`.
    Skipped(&'a str),
    /// `signal interrupt received, cleaning up`, `Interrupt received, cleaning up` (<= 0.8).
    Interrupted,
    /// `snapshot 40dc1520 saved` (also `..., copied from source snapshot ...` of `copy`).
    SnapshotSaved(&'a str),
    /// `Files: 5307 new, 0 changed, 0 unmodified`.
    Files {
        new: u64,
        changed: u64,
        unmodified: u64,
    },
    /// `Added to the repo: 8.802 GiB`, `Added to the repository: 1.2 GiB (1.1 GiB stored)`,
    /// `Added: 1.116 KiB`.
    Added(Option<u64>),
    /// `processed 12 files, 128.390 GiB in 52:25` (the file count is missing before 0.9.5).
    Processed {
        files: Option<u64>,
        bytes: Option<u64>,
        secs: Option<f64>,
    },
    /// Any other line only `backup` prints (`start scan`, `using parent snapshot`, ...).
    BackupStep,
    /// A line only `check` prints.
    CheckStep,
    /// `no errors were found`.
    CheckOk,
    /// `repository contains errors` (0.1 - 0.8 print it without `Fatal:`).
    CheckBad,
    /// A line only `prune` prints (or `forget --prune` when it prunes).
    PruneStep,
    /// `done`: the last line of `prune`.
    PruneDone,
    /// `Applying Policy: ...`, `keep 5 snapshots:`, `remove 6 snapshots:` of `forget`.
    ForgetPolicy,
    /// A wrapper's `Exit code: N` line.
    ExitCode(i32),
    Other,
}

/// Messages restic prints only when it gives up, with or without `Fatal: ` in front.
const FATAL_STARTS: &[&str] = &[
    "unable to create lock in backend",
    "unable to open config file",
    "unable to open repository",
    "unable to save snapshot",
    "repository does not exist",
    "create repository at ",
    "config cannot be loaded",
];

/// Classify one line (already trimmed, ANSI escapes removed).
pub(super) fn classify(line: &str) -> Line<'_> {
    if let Ok((_, l)) = grammar(line) {
        return l;
    }
    if let Some(code) = super::super::common::wrapper_exit_code(line) {
        return Line::ExitCode(code);
    }
    if FATAL_STARTS.iter().any(|p| line.starts_with(p))
        || line.contains("wrong password or no key found")
    {
        return Line::Fatal(line);
    }
    if let Some(p) = line.strip_suffix(" does not exist, skipping") {
        return Line::Skipped(p);
    }
    let lower = line.to_ascii_lowercase();
    if lower == "repository contains errors" {
        return Line::CheckBad;
    }
    if lower == "no errors were found" {
        return Line::CheckOk;
    }
    if CHECK_STEPS.iter().any(|s| lower.starts_with(s)) {
        return Line::CheckStep;
    }
    if PRUNE_STEPS.iter().any(|s| lower.starts_with(s)) {
        return Line::PruneStep;
    }
    if BACKUP_STEPS.iter().any(|s| lower.starts_with(s)) {
        return Line::BackupStep;
    }
    Line::Other
}

const CHECK_STEPS: &[&str] = &[
    "check snapshots, trees and blobs",
    "load indexes",
    "check all packs",
    "read all data",
    "error for tree ",
    "pack id does not match",
];

const PRUNE_STEPS: &[&str] = &[
    "counting files in repo",
    "building new index for repo",
    "find data that is still in use for",
    "finding data that is still in use for",
    "collecting packs for deletion and repacking",
    "searching used packs",
    "repacking packs",
    "will delete ",
    "to repack:",
    "total prune:",
    "unused size after prune:",
];

const BACKUP_STEPS: &[&str] = &[
    "start scan",
    "start backup",
    "scan finished in",
    "scan [",
    "scanned ",
    "using parent snapshot",
    "no parent snapshot found",
    "dirs: ",
    "data blobs:",
    "tree blobs:",
];

fn grammar(i: &str) -> IResult<&str, Line<'_>> {
    alt((
        map(preceded(tag("Fatal: "), rest), Line::Fatal),
        map(
            preceded(
                tag("Warning: "),
                alt((
                    tag("at least one source file could not be read"),
                    tag("failed to read all source data"),
                )),
            ),
            Line::Unreadable,
        ),
        map(preceded(tag("Warning: "), rest), Line::Warning),
        map(preceded(tag("error for "), rest), Line::FileError),
        map(preceded(tag("error: "), rest), Line::FileError),
        map(preceded(tag("scan: "), rest), Line::FileError),
        map(preceded(tag("warning for "), rest), Line::FileWarning),
        map(tag("signal interrupt received"), |_| Line::Interrupted),
        map(tag("signal terminated received"), |_| Line::Interrupted),
        map(tag("Interrupt received, cleaning up"), |_| {
            Line::Interrupted
        }),
        snapshot_saved,
        files_line,
        added_line,
        processed_line,
        map(tag("Applying Policy: "), |_| Line::ForgetPolicy),
        map(
            (
                alt((tag("keep "), tag("remove "))),
                digit1,
                tag(" snapshots:"),
            ),
            |_| Line::ForgetPolicy,
        ),
        map(terminated(tag("done"), nom::combinator::eof), |_| {
            Line::PruneDone
        }),
    ))
    .parse(i)
}

/// `snapshot 40dc1520 saved`.
fn snapshot_saved(i: &str) -> IResult<&str, Line<'_>> {
    map(
        terminated(
            preceded(
                tag("snapshot "),
                take_while1(|c: char| c.is_ascii_hexdigit()),
            ),
            tag(" saved"),
        ),
        Line::SnapshotSaved,
    )
    .parse(i)
}

fn count(i: &str) -> IResult<&str, u64> {
    map_res(digit1, str::parse::<u64>).parse(i)
}

/// `Files:        5307 new,     0 changed,     0 unmodified`.
fn files_line(i: &str) -> IResult<&str, Line<'_>> {
    let (i, _) = (tag("Files:"), space1).parse(i)?;
    let (i, new) = terminated(count, (tag(" new,"), space0)).parse(i)?;
    let (i, changed) = terminated(count, (tag(" changed,"), space0)).parse(i)?;
    let (i, unmodified) = terminated(count, tag(" unmodified")).parse(i)?;
    Ok((
        i,
        Line::Files {
            new,
            changed,
            unmodified,
        },
    ))
}

/// `Added to the repo: 8.802 GiB`, `Added to the repository: 0 B   (0 B   stored)`,
/// `Added:      1.116 KiB`.
fn added_line(i: &str) -> IResult<&str, Line<'_>> {
    let (i, _) = (
        tag("Added"),
        opt(alt((tag(" to the repository"), tag(" to the repo")))),
        tag(":"),
        space0,
    )
        .parse(i)?;
    let (i, bytes) = size(i)?;
    Ok((i, Line::Added(bytes)))
}

/// `processed 12 files, 128.390 GiB in 52:25`, `processed 22 B in 0:02`.
fn processed_line(i: &str) -> IResult<&str, Line<'_>> {
    let (i, _) = tag("processed ").parse(i)?;
    let (i, files) = opt(terminated(count, tag(" files, "))).parse(i)?;
    let (i, bytes) = size(i)?;
    let (i, secs) = opt(preceded(tag(" in "), take_till1(|c: char| c == ' ')))
        .map(|d| d.and_then(clock))
        .parse(i)?;
    Ok((i, Line::Processed { files, bytes, secs }))
}

/// A size as restic prints it (`1.200 GiB`, `0 B`, `1.642 KiB`, `0B`): bytes, None when it
/// does not fit a u64.
fn size(i: &str) -> IResult<&str, Option<u64>> {
    let (i, num) = take_while1(|c: char| c.is_ascii_digit() || c == '.').parse(i)?;
    let (i, _) = space0.parse(i)?;
    let (i, unit) = alt((
        tag_no_case("B"),
        tag_no_case("KiB"),
        tag_no_case("MiB"),
        tag_no_case("GiB"),
        tag_no_case("TiB"),
        tag_no_case("PiB"),
        tag_no_case("EiB"),
    ))
    .parse(i)?;
    // `1377 blobs` is not a size.
    if i.starts_with(|c: char| c.is_alphanumeric()) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        )));
    }
    Ok((i, scaled(num, unit)))
}

/// `num` times the binary unit, None when it is not a finite number or does not fit a u64.
pub(super) fn scaled(num: &str, unit: &str) -> Option<u64> {
    let n: f64 = num.parse().ok()?;
    let exp = match unit.to_ascii_lowercase().as_str() {
        "b" => 0,
        "kib" => 1,
        "mib" => 2,
        "gib" => 3,
        "tib" => 4,
        "pib" => 5,
        "eib" => 6,
        _ => return None,
    };
    let v = n * 1024f64.powi(exp);
    // 2^64 is exactly representable; anything at or above it does not fit.
    (v.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&v)).then_some(v as u64)
}

/// `52:25`, `1:02:03`, `0:00` -> seconds; None for anything else or a value past u64.
pub(super) fn clock(s: &str) -> Option<f64> {
    let mut total: u64 = 0;
    let mut parts = 0;
    for p in s.split(':') {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = p.parse().ok()?;
        total = total.checked_mul(60)?.checked_add(n)?;
        parts += 1;
    }
    (2..=3).contains(&parts).then_some(total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_every_version() {
        assert_eq!(
            classify("snapshot 40dc1520 saved"),
            Line::SnapshotSaved("40dc1520")
        );
        assert_eq!(
            classify("snapshot 7a746a07 saved, copied from source snapshot 410b18a2"),
            Line::SnapshotSaved("7a746a07")
        );
        assert_eq!(classify("snapshot 0f181a3e of [/x] at 2021"), Line::Other);
        assert_eq!(
            classify("Files:           6 new,     0 changed,     6 unmodified"),
            Line::Files {
                new: 6,
                changed: 0,
                unmodified: 6
            }
        );
        assert_eq!(
            classify("Added to the repository: 1.200 GiB (1.103 GiB stored)"),
            Line::Added(Some(1_288_490_188))
        );
        assert_eq!(classify("Added to the repo: 0 B"), Line::Added(Some(0)));
        assert_eq!(classify("Added:      1.116 KiB"), Line::Added(Some(1142)));
        assert_eq!(
            classify("processed 12 files, 128.390 GiB in 52:25"),
            Line::Processed {
                files: Some(12),
                bytes: Some(137_857_712_783),
                secs: Some(3145.0)
            }
        );
        assert_eq!(
            classify("processed 22 B in 0:02"),
            Line::Processed {
                files: None,
                bytes: Some(22),
                secs: Some(2.0)
            }
        );
        assert!(matches!(
            classify("Warning: failed to read all source data during backuples 357.807 GiB"),
            Line::Unreadable(_)
        ));
        assert!(matches!(
            classify("unable to create lock in backend: repository is already locked"),
            Line::Fatal(_)
        ));
        assert!(matches!(
            classify("unable to open repo: wrong password or no key found"),
            Line::Fatal(_)
        ));
        assert_eq!(classify("repository contains errors"), Line::CheckBad);
        assert_eq!(
            classify("repository contains 22 packs (1377 blobs) with 90.610 MiB bytes"),
            Line::Other
        );
        assert_eq!(
            classify("Check snapshots, trees and blobs"),
            Line::CheckStep
        );
        assert_eq!(classify("done"), Line::PruneDone);
        assert_eq!(
            classify("processed 1377 blobs: 0 duplicate blobs, 0B duplicate"),
            Line::Other
        );
        assert_eq!(classify("done."), Line::Other);
        assert_eq!(classify("keep 5 snapshots:"), Line::ForgetPolicy);
        assert_eq!(classify("Exit code: 3"), Line::ExitCode(3));
        assert_eq!(
            classify("Interrupt received, cleaning up"),
            Line::Interrupted
        );
    }

    #[test]
    fn hostile_numbers_do_not_wrap() {
        assert_eq!(
            classify("Files: 99999999999999999999 new, 0 changed, 0 unmodified"),
            Line::Other
        );
        assert_eq!(
            classify("Added to the repo: 1e308 GiB"),
            Line::Other,
            "not a restic number"
        );
        assert_eq!(
            classify("Added to the repo: 99999999999999999999999 EiB"),
            Line::Added(None)
        );
        assert_eq!(clock("3000000000:00:00"), Some(10_800_000_000_000.0));
        assert_eq!(clock("99999999999999999999:00"), None);
        assert_eq!(clock("18446744073709551615:59:59"), None);
        assert_eq!(clock("-9223372036854775808:00"), None);
        assert_eq!(scaled("1e308", "EiB"), None);
        assert_eq!(scaled(".", "B"), None);
        assert!(matches!(
            classify("processed 18446744073709551616 files, 1 B in 0:01"),
            Line::Other | Line::Processed { files: None, .. }
        ));
    }
}
