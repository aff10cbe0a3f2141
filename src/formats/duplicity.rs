//! duplicity: the output of a backup run (`duplicity ... > file 2>&1`, or its `--log-file`),
//! read through its statistics block (`--------------[ Backup Statistics ]--------------`).
//!
//! Owns: the `Key value (human)` grammar of the block (`StartTime`, `EndTime`, `ElapsedTime`,
//! `SourceFiles`, `TotalDestinationSizeChange`, `Errors`, ...), the warning lines before it
//! (`Error accessing possibly locked file`, `Error ... getting delta`), fatal text
//! (`Giving up after N attempts`, tracebacks), and the rule of the research note: duplicity
//! exits 0 even with `Errors N`, so `Errors > 0` is a warning; a non-zero exit is a failure.
//! Each statistics block ends one run; a block with the StartTime of the run before is the same
//! run written twice (console and `--log-file` lines appended to one file). The block's title is
//! translated (`Statistiche del backup`), its keys are not. Without a block: a Python traceback,
//! `Fatal Error`, `GPGError`, `Giving up after N attempts` or a non-zero exit code is a failure;
//! a `collection-status` or `verify` that completed is a success; anything else (retries, a
//! restore in progress, a cut paste) is `unknown`, saying what is missing. Must not do I/O or
//! read the clock.

use chrono::{DateTime, TimeZone, Utc};
use nom::bytes::complete::take_while1;
use nom::character::complete::space1;
use nom::combinator::recognize;
use nom::number::complete::recognize_float;
use nom::{IResult, Parser};

use super::common::{
    has, keep, note_dropped, runs_program, strip_bbcode, systemd_exec_status, unwrap_line_more,
    zero_files,
};
use super::{Format, Input, Parsed};
use crate::outcome::{human_bytes, Outcome, Status};

const BLOCK_START: &str = "--------------[ Backup Statistics ]--------------";

#[derive(Debug, Default)]
struct Run {
    stats: bool,
    /// StartTime as written: the same run's block written twice has the same one.
    start_raw: Option<String>,
    start: Option<f64>,
    end: Option<f64>,
    elapsed: Option<f64>,
    source_files: Option<u64>,
    new_files: Option<u64>,
    changed_files: Option<u64>,
    deleted_files: Option<u64>,
    size_change: Option<u64>,
    source_size: Option<u64>,
    stat_errors: Option<u64>,
    warnings: Vec<String>,
    errors: Vec<String>,
    dropped: usize,
    fatal: bool,
    canceled: bool,
    /// A `collection-status` listing or a `verify` summary: the action that ran.
    action: Option<&'static str>,
    /// `verify`: differences found.
    differences: Option<u64>,
    /// `Attempt N failed` retries seen (a run that later gave up, or is still retrying).
    retries: usize,
    /// The exit code a `systemctl status` line of the file gives (`ExecStart=... duplicity
    /// ... (code=exited, status=N)`).
    code: Option<i32>,
}

impl Run {
    fn is_empty(&self) -> bool {
        !self.stats
            && self.warnings.is_empty()
            && self.errors.is_empty()
            && !self.canceled
            && !self.fatal
            && self.action.is_none()
            && self.retries == 0
    }

    /// The same run written a second time (its `--log-file` copy): keep one.
    fn same_run(&self, other: &Run) -> bool {
        self.stats && other.stats && self.start_raw.is_some() && self.start_raw == other.start_raw
    }

    fn merge(&mut self, other: Run) {
        self.fatal |= other.fatal;
        self.canceled |= other.canceled;
        for w in other.warnings {
            if !self.warnings.contains(&w) {
                keep(&mut self.warnings, &mut self.dropped, w);
            }
        }
        for e in other.errors {
            if !self.errors.contains(&e) {
                keep(&mut self.errors, &mut self.dropped, e);
            }
        }
    }
}

/// Parse duplicity output: one outcome per statistics block; text after the last block that
/// reports a fatal error is one more (failed) run.
pub fn parse(input: &Input<'_>) -> Parsed {
    let text = super::common::text(input.bytes);
    let text = strip_bbcode(&text);
    let mut runs: Vec<Run> = Vec::new();
    let mut cur = Run::default();
    let mut in_block = false;
    let mut exec_code: Option<i32> = None;
    // systemd's status lines are rare: look for them only when the text has one.
    let systemd = super::common::has(&text, "ExecStart=");
    for raw in text.lines() {
        let line = duplicity_text(raw);
        if let Some((command, code)) = systemd.then(|| systemd_exec_status(line)).flatten() {
            if runs_program(command, "duplicity") || runs_program(command, "duply") {
                exec_code = Some(code);
            }
            continue;
        }
        if let Ok((_, level)) = log_header(line) {
            // `--log-file` record header: `WARNING 10 'path'`; the text follows on `. ` lines.
            if level == "ERROR" {
                cur.fatal = true;
            }
            continue;
        }
        let line = line.strip_prefix(". ").unwrap_or(line).trim();
        if is_block_start(line) {
            in_block = true;
            cur.stats = true;
            continue;
        }
        if in_block {
            if line.starts_with("----------") {
                in_block = false;
                let run = std::mem::take(&mut cur);
                match runs.last_mut() {
                    Some(prev) if prev.same_run(&run) => prev.merge(run),
                    _ => runs.push(run),
                }
                continue;
            }
            if let Ok((_, (key, raw_value, value))) = stat_line(line) {
                if key == "StartTime" {
                    cur.start_raw = Some(raw_value.to_string());
                }
                stat(&mut cur, key, value);
            }
            continue;
        }
        message(&mut cur, line);
    }
    // An unterminated block, or messages of a run that printed no statistics.
    if !cur.is_empty() || runs.is_empty() {
        match runs.last_mut() {
            Some(prev) if prev.same_run(&cur) => prev.merge(cur),
            _ => runs.push(cur),
        }
    }
    let outcomes = runs
        .into_iter()
        .map(|mut r| {
            if r.code.is_none() {
                r.code = exec_code;
            }
            outcome(r, input)
        })
        .collect::<Vec<_>>();
    Parsed::whole(input, outcomes, Format::Duplicity)
}

/// True when the input has duplicity's statistics block (in any language), its typical
/// messages, or a traceback / error of duplicity itself.
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = &input.bytes[..input.bytes.len().min(256 * 1024)];
    let text = String::from_utf8_lossy(head);
    let text = strip_bbcode(&text);
    text.lines().take(2000).any(|raw| {
        let l = duplicity_text(raw);
        let deja_dup = raw.contains("DUPLICITY: ") && log_header(l).is_ok();
        let l = l.strip_prefix(". ").unwrap_or(l).trim();
        deja_dup
            || systemd_exec_status(l)
                .is_some_and(|(c, _)| runs_program(c, "duplicity") || runs_program(c, "duply"))
            || is_block_start(l)
            || l.starts_with("Last full backup date: ")
            || l.starts_with("Last full backup is too old")
            || l.starts_with("No signatures found, switching to full backup")
            || l.starts_with("Local and Remote metadata are synchronized")
            || l.starts_with("Synchronizing remote metadata to local cache")
            || l.starts_with("Added incremental Backupset (start_time:")
            || l.starts_with("Using installed duplicity version")
            || l.starts_with("Import of duplicity.backends.")
            || (l.starts_with("Using temporary directory ") && l.contains("duplicity-"))
            || (l.starts_with("Attempt of ") && l.contains(" Nr. "))
            || is_attempt_failed(l)
            || l.starts_with("duplicity: error: ")
            || l.starts_with("usage: duplicity ")
            || l.starts_with("Traceback (innermost last):")
            || (l.starts_with("--- Start running command ") && l.contains(" at "))
            || (l.starts_with("Giving up after ") && l.contains(" attempts. "))
            || l.starts_with("GPGError: GPG Failed")
            || (l.starts_with("Fatal Error: ")
                && (l.contains("Backup source host has changed")
                    || l.contains("Old signatures not found")
                    || l.contains("Backup source directory has changed")))
            || l.starts_with("Another duplicity instance is already running")
            || (l.starts_with("File \"") && l.contains("duplicity"))
            || (l.contains("Error: Command '['") && l.contains("duplicity"))
            || l.starts_with("Verify complete: ")
            || l.starts_with("Found primary backup chain")
    })
}

/// A line as duplicity wrote it: without a wrapper's prefix ([`unwrap_line_more`]), Déjà Dup's
/// `DUPLICITY: ` in front of the `--log-fd` records it logs, and the Markdown backticks of a
/// paste.
fn duplicity_text(raw: &str) -> &str {
    let l = unwrap_line_more(raw.trim_end());
    let l = match l.strip_prefix("DUPLICITY:") {
        Some(r) if r.is_empty() || r.starts_with(' ') => r.trim_start(),
        _ => l,
    };
    // `--log-file` prefixes message lines with ". "; some pastes wrap lines in backticks.
    if l.starts_with('`') || l.ends_with('`') {
        l.trim_matches('`')
    } else {
        l
    }
}

/// `Attempt 1 failed. BackendException: ...`: duplicity's retry of a backend operation.
fn is_attempt_failed(l: &str) -> bool {
    l.strip_prefix("Attempt ").is_some_and(|r| {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        n > 0 && r[n..].starts_with(" failed. ")
    })
}

/// `--------------[ Backup Statistics ]--------------`, in any language.
fn is_block_start(l: &str) -> bool {
    if l == BLOCK_START {
        return true;
    }
    let Some(inner) = l
        .strip_prefix("-----")
        .map(|r| r.trim_start_matches('-'))
        .and_then(|r| r.strip_prefix('['))
    else {
        return false;
    };
    let Some(title) = inner
        .trim_end_matches('-')
        .strip_suffix(']')
        .filter(|_| inner.ends_with("-----"))
    else {
        return false;
    };
    let title = title.trim();
    // Other wrappers' banners (duplicity-backup.sh's `[ Duplicity Cleanup ]`) are not it.
    title == "Backup Statistics"
        || (!title.is_empty()
            && !title.contains("Duplicity")
            && !title.contains("Disk Use")
            && (title.contains("statist") || title.contains("Statist")))
}

/// `--log-file` record header: `NOTICE 1`, `WARNING 10 'path'` -> the level (nom).
fn log_header(l: &str) -> IResult<&str, &str> {
    // Every level starts with one of these letters: most lines are ruled out by one byte.
    if !matches!(l.as_bytes().first(), Some(b'N' | b'W' | b'E' | b'I' | b'D')) {
        return Err(nom::Err::Error(nom::error::Error::new(
            l,
            nom::error::ErrorKind::Tag,
        )));
    }
    nom::sequence::terminated(
        nom::branch::alt((
            nom::bytes::complete::tag("NOTICE"),
            nom::bytes::complete::tag("WARNING"),
            nom::bytes::complete::tag("ERROR"),
            nom::bytes::complete::tag("INFO"),
            nom::bytes::complete::tag("DEBUG"),
        )),
        (space1, nom::character::complete::digit1),
    )
    .parse(l)
}

/// `Key 123.45 (human text)` -> (`Key`, `123.45`, 123.45) (nom).
fn stat_line(l: &str) -> IResult<&str, (&str, &str, f64)> {
    (
        take_while1(|c: char| c.is_ascii_alphanumeric()),
        space1,
        recognize(recognize_float),
    )
        .map(|(k, _, v): (&str, &str, &str)| (k, v, v.parse::<f64>().unwrap_or(f64::NAN)))
        .parse(l)
}

fn as_u64(v: f64) -> Option<u64> {
    (v.is_finite() && (0.0..1.8e19).contains(&v)).then_some(v as u64)
}

fn stat(run: &mut Run, key: &str, v: f64) {
    match key {
        "StartTime" => run.start = Some(v),
        "EndTime" => run.end = Some(v),
        "ElapsedTime" => run.elapsed = Some(v),
        "SourceFiles" => run.source_files = as_u64(v),
        "SourceFileSize" => run.source_size = as_u64(v),
        "NewFiles" => run.new_files = as_u64(v),
        "ChangedFiles" => run.changed_files = as_u64(v),
        "DeletedFiles" => run.deleted_files = as_u64(v),
        "TotalDestinationSizeChange" => run.size_change = as_u64(v),
        "Errors" => run.stat_errors = as_u64(v),
        _ => {}
    }
}

fn message(run: &mut Run, l: &str) {
    if l.is_empty() {
        return;
    }
    if l.starts_with("Error accessing possibly locked file")
        || (l.starts_with("Error ") && has(l, " getting delta for "))
        || l.starts_with("Error listing directory")
        || l.starts_with("Warning: ")
    {
        keep(&mut run.warnings, &mut run.dropped, l);
    } else if (l.starts_with("Attempt ") && l.contains(" failed"))
        || (l.starts_with("Attempt of ") && l.contains(" Nr. "))
    {
        run.retries = run.retries.saturating_add(1);
        keep(&mut run.warnings, &mut run.dropped, l);
    } else if l.starts_with("Giving up after ")
        || l.starts_with("Traceback (")
        || l.starts_with("BackendException")
        || l.starts_with("GPGError")
        || l.starts_with("Fatal Error")
        || l.starts_with("Error: ")
        || l.starts_with("duplicity: error: ")
        || l.starts_with("Another duplicity instance is already running")
        || l.starts_with("ModuleNotFoundError: ")
        || l.starts_with("ImportError: ")
        || (has(l, "Error: Command '[") && has(l, "duplicity"))
    {
        run.fatal = true;
        // Déjà Dup's log repeats the exception after the traceback: keep it once.
        if !l.starts_with("Traceback") && !run.errors.iter().any(|e| e == l) {
            keep(&mut run.errors, &mut run.dropped, l);
        }
    } else if l.starts_with("KeyboardInterrupt") {
        run.canceled = true;
    } else if run.fatal && run.errors.is_empty() && has(l, "Error") {
        // The exception line at the end of a traceback.
        keep(&mut run.errors, &mut run.dropped, l);
    } else if l.starts_with("Collection Status")
        || l.starts_with("Found primary backup chain")
        || l.starts_with("Type of backup set:")
        || l.starts_with("Total number of backup:")
        || l.starts_with("No orphaned or incomplete backup sets found")
    {
        run.action = Some("collection-status");
    } else if let Some(rest) = l.strip_prefix("Verify complete: ") {
        run.action = Some("verify");
        // `Verify complete: 4 files compared, 0 differences found.`
        run.differences = rest
            .split(", ")
            .nth(1)
            .and_then(|d| d.split_whitespace().next())
            .and_then(|n| n.parse().ok());
    }
}

fn epoch(t: Option<f64>) -> Option<DateTime<Utc>> {
    let t = t?;
    // 1970 ..= 2200
    if !t.is_finite() || !(0.0..7_258_118_400.0).contains(&t) {
        return None;
    }
    Utc.timestamp_millis_opt((t * 1000.0) as i64).single()
}

fn outcome(mut run: Run, input: &Input<'_>) -> Outcome {
    let mut o = Outcome::new(input.options.job.clone(), Status::Success);
    o.tool = Some("duplicity".into());
    o.started = epoch(run.start);
    o.finished = epoch(run.end).or(input.meta.modified);
    o.duration_s = run
        .elapsed
        .filter(|d| d.is_finite() && (0.0..1e10).contains(d));
    o.files = run.source_files;
    o.bytes = run.size_change;
    let any_code = input.exit_code.or(run.code);
    let code = any_code.filter(|&c| c != 0);
    let canceled = run.canceled || matches!(code, Some(130 | 143));
    let errors = run.stat_errors.unwrap_or(0);
    let mut parts = Vec::new();
    let mut status = if canceled {
        parts.push("interrupted".to_string());
        input.options.canceled.unwrap_or(Status::Failure)
    } else if let Some(c) = code {
        let m = format!("duplicity exited with code {c}");
        parts.push(m.clone());
        run.errors.push(m);
        Status::Failure
    } else if run.fatal {
        Status::Failure
    } else if !run.stats {
        if let Some(action) = run.action {
            parts.push(format!("{action} completed"));
            match run.differences {
                Some(d) if d > 0 => {
                    parts.push(format!("{d} differences found"));
                    Status::Warning
                }
                _ => Status::Success,
            }
        } else if any_code == Some(0) {
            parts.push("duplicity exited with code 0 (no statistics block)".into());
            Status::Success
        } else if run.errors.is_empty() && run.warnings.is_empty() && !run.canceled {
            let mut u = Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "no duplicity statistics block and no exit code (was this a backup run? cut?)",
            );
            u.tool = Some("duplicity".into());
            return u;
        } else {
            parts.push(if run.retries > 0 {
                format!(
                    "no statistics block and no final line after {} failed attempt{} (still retrying, or the output is cut)",
                    run.retries,
                    if run.retries == 1 { "" } else { "s" }
                )
            } else {
                "no statistics block and no exit code: cannot tell how it ended".into()
            });
            Status::Unknown
        }
    } else if errors > 0 {
        Status::Warning
    } else {
        Status::Success
    };
    if !run.stats && !canceled && status == Status::Failure && code.is_none() {
        parts.push("the backup did not finish".into());
    }
    if errors > 0 {
        parts.push(format!(
            "{errors} file{} could not be backed up",
            if errors == 1 { "" } else { "s" }
        ));
    }
    if run.stats {
        parts.push(format!(
            "{} files ({} new, {} changed, {} deleted)",
            run.source_files.unwrap_or(0),
            run.new_files.unwrap_or(0),
            run.changed_files.unwrap_or(0),
            run.deleted_files.unwrap_or(0)
        ));
        if let Some(b) = run.size_change {
            parts.push(format!("{} stored", human_bytes(b)));
        }
        if let Some(b) = run.source_size {
            parts.push(format!("{} source", human_bytes(b)));
        }
    }
    if let Some(e) = run.errors.first().filter(|_| code.is_none()) {
        parts.push(e.clone());
    }
    zero_files(input, o.files, &mut status, &mut parts, "zero files");
    note_dropped(&mut run.warnings, run.dropped);
    o.status = status;
    o.errors = run.errors;
    o.warnings = run.warnings;
    o.summary = Some(parts.join(", "));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{self, job};
    use crate::formats::{FileMeta, Options};

    const PATH: &str = "/var/log/nagbridge/duplicity-home.log";

    fn parse_with(body: &str, code: Option<i32>, options: &Options) -> Parsed {
        let meta = FileMeta::for_path(PATH);
        let p = test_support::parse_as(
            Format::Duplicity,
            &meta,
            body.as_bytes(),
            code,
            options,
            true,
        );
        assert_eq!(p.consumed, body.len());
        p
    }

    fn run(body: &str, code: Option<i32>) -> Outcome {
        test_support::single(Format::Duplicity, PATH, body.as_bytes(), code, &job("home"))
    }

    fn fixture(name: &str) -> String {
        test_support::fixture_text("duplicity", name)
    }

    const OK: &str = "Local and Remote metadata are synchronized, no sync needed.
Last full backup date: none
No signatures found, switching to full backup.
--------------[ Backup Statistics ]--------------
StartTime 1795512511.93 (Tue Nov 24 09:28:31 2026)
EndTime 1795512513.94 (Tue Nov 24 09:28:33 2026)
ElapsedTime 2.01 (2.01 seconds)
SourceFiles 4
SourceFileSize 108194 (106 KB)
NewFiles 4
NewFileSize 108194 (106 KB)
DeletedFiles 0
ChangedFiles 0
ChangedFileSize 0 (0 bytes)
ChangedDeltaSize 0 (0 bytes)
DeltaEntries 4
RawDeltaSize 100002 (97.7 KB)
TotalDestinationSizeChange 100548 (98.2 KB)
Errors 0
-------------------------------------------------

";

    #[test]
    fn success() {
        let o = run(OK, Some(0));
        assert_eq!(o.status, Status::Success);
        assert_eq!(
            (o.files, o.bytes, o.duration_s),
            (Some(4), Some(100548), Some(2.01))
        );
        assert_eq!(
            o.started.map(|t| t.to_rfc3339()),
            Some("2026-11-24T09:28:31.930+00:00".into())
        );
        assert_eq!(run(OK, None).status, Status::Success);
        assert_eq!(
            o.summary.as_deref(),
            Some("4 files (4 new, 0 changed, 0 deleted), 100.5 kB stored, 108.2 kB source")
        );
    }

    #[test]
    fn errors_with_exit_0_are_a_warning() {
        let body = OK.replace("Errors 0", "Errors 1").replace(
            "--------------[",
            "Error accessing possibly locked file dsrc/locked\n--------------[",
        );
        let o = run(&body, Some(0));
        assert_eq!(o.status, Status::Warning);
        assert_eq!(
            o.warnings,
            ["Error accessing possibly locked file dsrc/locked"]
        );
        assert!(o
            .summary
            .unwrap()
            .starts_with("1 file could not be backed up"));
    }

    #[test]
    fn fatal_and_interrupted() {
        let body = "Attempt of list Nr. 1 failed. NotADirectoryError: Not a directory\nGiving up after 1 attempts. NotADirectoryError: Not a directory\n";
        for code in [Some(50), None] {
            let o = run(body, code);
            assert_eq!(o.status, Status::Failure, "{code:?}");
        }
        let o = run(body, None);
        assert_eq!(
            o.errors,
            ["Giving up after 1 attempts. NotADirectoryError: Not a directory"]
        );
        let o = run(
            "Last full backup date: none\nNo signatures found, switching to full backup.\n",
            Some(143),
        );
        assert_eq!(o.status, Status::Failure);
        assert!(o.summary.unwrap().starts_with("interrupted"));
        let options = Options {
            canceled: Some(Status::Warning),
            ..job("j")
        };
        let p = parse_with(
            "Traceback (most recent call last)\nKeyboardInterrupt\n",
            None,
            &options,
        );
        assert_eq!(p.outcomes[0].status, Status::Warning);
        // SIGINT makes duplicity 0.8 exit 4 without a word: a failure.
        assert_eq!(
            run(OK.split("--------------[").next().unwrap(), Some(4)).status,
            Status::Failure
        );
    }

    #[test]
    fn log_file_format_and_several_runs() {
        let p = parse_with(&fixture("0.8-log-file.log"), None, &Options::default());
        let got: Vec<_> = p.outcomes.iter().map(|o| (o.status, o.files)).collect();
        assert_eq!(
            got,
            [(Status::Warning, Some(3)), (Status::Success, Some(3))]
        );
        assert_eq!(
            p.outcomes[0].warnings,
            ["Error accessing possibly locked file src/sub/unreadable"]
        );
    }

    #[test]
    fn empty_or_foreign_input_is_unknown() {
        assert_eq!(run("", None).status, Status::Unknown);
        assert_eq!(run("hello\n", None).status, Status::Unknown);
        let options = Options {
            zero_files: Some(Status::Failure),
            ..job("j")
        };
        let body = OK.replace("SourceFiles 4", "SourceFiles 0");
        assert_eq!(
            parse_with(&body, Some(0), &options).outcomes[0].status,
            Status::Failure
        );
    }

    #[test]
    fn detection_and_garbage() {
        let looks = |b: &str| test_support::looks(looks_like, b.as_bytes());
        assert!(looks(OK));
        assert!(looks(&fixture("0.8-log-file.log")));
        assert!(!looks("{\"status\":\"ok\"}"));
        for body in [
            BLOCK_START,
            "--------------[ Backup Statistics ]--------------\nStartTime 1e400\nElapsedTime -5\nSourceFiles nan\nErrors 99999999999999999999999\n",
            "--------------[ Backup Statistics ]--------------\n-----\n-----\n",
            "Traceback (most recent call last)\n",
        ] {
            let _ = parse_with(body, None, &Options::default());
            let _ = parse_with(body, Some(i32::MIN), &Options::default());
        }
    }

    #[test]
    fn hostile_numbers() {
        for v in [
            "1e308",
            "-9223372036854775808",
            "99999999999999999999",
            "3000000000",
            "-1",
            "nan",
            "1e-400",
        ] {
            let body = OK
                .replace("1795512511.93", v)
                .replace("1795512513.94", v)
                .replace("ElapsedTime 2.01", &format!("ElapsedTime {v}"))
                .replace("SourceFiles 4", &format!("SourceFiles {v}"))
                .replace(
                    "TotalDestinationSizeChange 100548",
                    &format!("TotalDestinationSizeChange {v}"),
                )
                .replace("Errors 0", &format!("Errors {v}"));
            let o = run(&body, None);
            assert!(
                matches!(o.status, Status::Success | Status::Warning),
                "{v}: {o:?}"
            );
            if let Some(t) = o.started {
                assert!((1970..=2200).contains(&chrono::Datelike::year(&t)), "{v}");
            }
        }
        // The same StartTime twice is one run, a different one another run.
        let twice = format!("{OK}{OK}");
        assert_eq!(
            parse_with(&twice, None, &Options::default()).outcomes.len(),
            1
        );
        let other = OK.replace("1795512511.93", "1795599999.00");
        let two = format!("{OK}{other}");
        assert_eq!(
            parse_with(&two, None, &Options::default()).outcomes.len(),
            2
        );
    }

    #[test]
    fn shapes_without_statistics() {
        // Retries without an end: unknown, saying so.
        let o = run(
            "Attempt 1 failed. SSLError: The read operation timed out\n",
            None,
        );
        assert_eq!(o.status, Status::Unknown);
        assert!(o.summary.unwrap().contains("1 failed attempt"));
        // A translated block title.
        let it = OK.replace("[ Backup Statistics ]", "[ Statistiche del backup ]");
        assert_eq!(run(&it, None).status, Status::Success);
        // collection-status and verify.
        let cs = "Local and Remote metadata are synchronized, no sync needed.\nLast full backup date: Thu May  7 17:25:01 2015\nCollection Status\n-----------------\nNo orphaned or incomplete backup sets found.\n";
        assert_eq!(run(cs, None).status, Status::Success);
        let v = "Verify complete: 4 files compared, 1 difference found.\n";
        assert_eq!(run(v, None).status, Status::Warning);
        let v = "Verify complete: 4 files compared, 0 differences found.\n";
        assert_eq!(run(v, Some(0)).status, Status::Success);
        // A lock held by another duplicity: failure.
        let lock = "Another duplicity instance is already running with this archive directory\n";
        assert_eq!(run(lock, None).status, Status::Failure);
        assert!(test_support::looks(looks_like, lock.as_bytes()));
        // Other wrappers' banners are not a statistics block.
        assert!(!is_block_start(
            "----------------[ Duplicity Cleanup ]----------------"
        ));
        assert!(is_block_start(
            "--------------[ Statistiche del backup ]--------------"
        ));
    }

    #[test]
    fn argparse_error_and_retries_are_detected() {
        let body = "`duplicity: error: argument --gpg-options: expected one argument\nSomething is wrong with the backup: `\n";
        assert_eq!(run(body, None).status, Status::Failure);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        let body = "--- Start running command BKP at 19:45:03.879 ---\nAttempt 1 failed. BackendException: Error running 'lftp': returned 1\n";
        assert_eq!(run(body, None).status, Status::Unknown);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        let body = "    bash-5.1# backup\n    Traceback (innermost last):\n      File \"/usr/bin/duplicity\", line 87, in <module>\n";
        assert_eq!(run(body, None).status, Status::Failure);
    }

    #[test]
    fn deja_dup_log_fd_and_forum_markup() {
        let body = "DUPLICITY: INFO 1\nDUPLICITY: . Using archive dir: /home/u/.cache/deja-dup/b16a\n\nDUPLICITY: ERROR 23 BackendException\nDUPLICITY: . BackendException: Could not initialize backend: No module named x\n";
        let o = run(body, None);
        assert_eq!(o.status, Status::Failure);
        assert_eq!(o.errors.len(), 1);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        let body = "[COLOR=#333333][FONT=monospace]DUPLICITY: ERROR 31 GPGError\nDUPLICITY: . GPGError: GPG Failed, see log below:[/FONT][/COLOR]\n";
        assert_eq!(run(body, None).status, Status::Failure);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        // `systemctl status` of a unit that runs duply: its exit code.
        let body =
            "   Process: 9 ExecStart=/usr/bin/duply web backup (code=exited, status=1/FAILURE)\n";
        assert_eq!(run(body, None).status, Status::Failure);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        let body = "   Process: 9 ExecStart=/usr/bin/duplicity /src file:///b (code=exited, status=0/SUCCESS)\n";
        assert_eq!(run(body, None).status, Status::Success);
    }
}
