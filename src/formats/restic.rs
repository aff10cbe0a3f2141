//! restic: the output of `restic backup`, `check`, `forget`, `prune` and `copy` as it lands in
//! a log file or a cron mail (stdout and stderr in one file), in JSON mode (`--json`, one
//! message a line, or pretty-printed by `jq`) and in text mode (every version from 0.1 on).
//!
//! Owns: reading restic's JSON messages (`message_type` `status`, `summary`, `error`,
//! `exit_error`, anything else ignored; `forget --json` group lists), the plain-text lines (in
//! [`text`]) with ANSI escapes stripped, deciding from them which steps a file shows (backup,
//! check, prune, forget) and whether each one reached its end, and the exit-code rules of the
//! research note (0 ok, 3 warning, 130 canceled, anything else failure). One file is one run
//! (a maintenance job's `prune` then `check` included); a run whose end the file does not show
//! and that has no exit code is `unknown`, never a guessed failure. Must not do I/O or read the
//! clock.

mod text;

use serde::Deserialize;
use serde_json::Value;

use super::common::{
    head, json_depth_delta, keep, note_dropped, runs_program, stderr_field, strip_bbcode,
    systemd_exec_status, unwrap_line, unwrap_line_more, zero_files,
};
use super::{Format, Input, Parsed};
use crate::outcome::{human_bytes, Outcome, Status};
use text::Line;

/// A pretty-printed JSON message longer than this many lines is not collected.
const MAX_DOC_LINES: usize = 10_000;

/// The `summary` message of `backup --json` (every field optional: versions differ).
#[derive(Debug, Default, Deserialize)]
struct Summary {
    files_new: Option<u64>,
    files_changed: Option<u64>,
    files_unmodified: Option<u64>,
    data_added: Option<u64>,
    total_files_processed: Option<u64>,
    total_bytes_processed: Option<u64>,
    total_duration: Option<f64>,
    backup_start: Option<String>,
    backup_end: Option<String>,
    snapshot_id: Option<String>,
    dry_run: Option<bool>,
    /// `check --json` (0.18+): a summary with this field is a check.
    num_errors: Option<u64>,
}

/// Everything gathered from one file.
#[derive(Debug, Default)]
struct Run {
    summary: Option<Summary>,
    errors: Vec<String>,
    warnings: Vec<String>,
    dropped: usize,
    fatal: bool,
    interrupted: bool,
    unreadable: bool,
    exit_code: Option<i32>,
    /// Lines that belong to a backup were seen.
    backup: bool,
    /// The backup reached its end: a summary, `snapshot ... saved`, or the final
    /// "could not be read" warning (printed after the snapshot was saved).
    backup_end: bool,
    snapshot: Option<String>,
    /// File-level read errors of the backup (not counting the scanner's copies).
    file_errors: u64,
    /// `check` lines were seen; its verdict (true: no errors).
    check: bool,
    check_verdict: Option<bool>,
    check_errors: Option<u64>,
    prune: bool,
    prune_done: bool,
    forget: bool,
    forget_removed: u64,
    forget_kept: u64,
    /// From the text summary lines.
    text_files: Option<u64>,
    text_new: Option<u64>,
    text_changed: Option<u64>,
    text_unmodified: Option<u64>,
    text_added: Option<u64>,
    text_processed: Option<u64>,
    text_secs: Option<f64>,
    last_files_done: Option<u64>,
}

impl Run {
    fn error(&mut self, msg: String) {
        keep(&mut self.errors, &mut self.dropped, msg);
    }
    fn warning(&mut self, msg: String) {
        keep(&mut self.warnings, &mut self.dropped, msg);
    }
    /// A file-level error, counted once even when the scanner printed it too.
    fn file_error(&mut self, msg: &str) {
        self.backup = true;
        if !self.errors.iter().any(|e| e == msg) {
            self.file_errors = self.file_errors.saturating_add(1);
            self.error(msg.to_string());
        }
    }
}

/// Parse restic output. The whole input is one run and is always consumed.
pub fn parse(input: &Input<'_>) -> Parsed {
    let clean = strip_ansi(input.bytes);
    let text = String::from_utf8_lossy(&clean);
    let text = strip_bbcode(&text);
    if text.trim().is_empty() {
        let mut o = match input.exit_code {
            // `--quiet` prints nothing on success.
            Some(0) => {
                let mut o = Outcome::new(input.options.job.clone(), Status::Success);
                o.summary = Some("restic printed nothing and exited with code 0".into());
                o
            }
            Some(code) => {
                let mut o = Outcome::new(
                    input.options.job.clone(),
                    status_for_code(code, input).unwrap_or(Status::Failure),
                );
                o.summary = Some(format!("restic printed nothing, {}", exit_reason(code)));
                o.errors.push(exit_reason(code));
                o
            }
            None => Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "the file is empty (restic printed nothing)",
            ),
        };
        o.tool = Some("restic".into());
        o.finished = input.meta.modified;
        return Parsed::whole(input, vec![o], Format::Restic);
    }
    let mut run = Run::default();
    let mut doc: Option<(String, usize, i64)> = None;
    for raw in text.lines() {
        if let Some((body, n, depth)) = doc.as_mut() {
            let raw = unwrap_line(raw).trim_end();
            body.push_str(raw);
            body.push('\n');
            *n += 1;
            *depth = depth.saturating_add(json_depth_delta(raw));
            if *depth <= 0 || *n > MAX_DOC_LINES {
                if let Some((body, _, _)) = doc.take() {
                    if let Ok(v) = serde_json::from_str::<Value>(&body) {
                        json_message(&mut run, v);
                    }
                }
            }
            continue;
        }
        let line = restic_text(raw);
        if line.is_empty() {
            continue;
        }
        if line == "{" {
            doc = Some((String::from("{\n"), 0, 1));
            continue;
        }
        if line.starts_with('{') || line.starts_with('[') {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                json_message(&mut run, v);
                continue;
            }
        }
        // A wrapper's message that quotes restic's JSON: `... failed: {"message_type":...}`.
        if let Some(i) = line.find("{\"message_type\":") {
            if let Ok(v) = serde_json::from_str::<Value>(&line[i..]) {
                json_message(&mut run, v);
                continue;
            }
        }
        // `systemctl status` of a unit that runs restic: its exit code.
        if let Some((command, code)) = systemd_exec_status(line) {
            if runs_program(command, "restic") {
                run.exit_code = Some(code);
            }
            continue;
        }
        // A wrapper's log line quoting restic's stderr (Velero: `stderr=Fatal: ...`).
        if let Some(quoted) = quoted_restic_stderr(line) {
            for l in quoted.lines().map(restic_text).filter(|l| !l.is_empty()) {
                text_line(&mut run, l);
            }
            continue;
        }
        text_line(&mut run, line);
    }
    Parsed::whole(input, vec![outcome(run, input)], Format::Restic)
}

/// True when the input looks like restic output: a JSON message (one a line or pretty-printed)
/// or a `forget --json` group list, or a line only restic prints in text mode (`snapshot ...
/// saved`, the `Files:` summary line, a check, prune or forget step, its fatal errors).
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let clean = strip_ansi(head);
    let text = String::from_utf8_lossy(&clean);
    let text = strip_bbcode(&text);
    text.lines().take(400).any(|raw| {
        let l = restic_text(raw);
        is_journal_line(raw)
            || systemd_exec_status(l).is_some_and(|(c, _)| runs_program(c, "restic"))
            || quoted_restic_stderr(l).is_some()
            || l.starts_with("Fatal: number of used blobs is larger than number of available")
            || l.contains("github.com/restic/restic/issues/new")
            || (l.contains("{\"message_type\":\"") && l.contains("\"}"))
            || (l.starts_with("{\"message_type\":") && l.contains('"'))
            || l.starts_with("\"message_type\": \"")
            || (l.starts_with("[{\"tags\":") && l.contains("\"keep\":"))
            || l.starts_with("Is there a repository at the following location?")
            || l.starts_with("Fatal: wrong password or no key found")
            || l.starts_with("Fatal: unable to open config file")
            || l.starts_with("Fatal: all target directories/files do not exist")
            || l.starts_with("Fatal: unable to save snapshot")
            || l.starts_with("Fatal: repository contains errors")
            || l.starts_with("Warning: at least one source file could not be read")
            || l.starts_with("Warning: failed to read all source data during backup")
            || l.contains("unable to create lock in backend")
            || l.starts_with("Applying Policy: ")
            || l.starts_with("signal interrupt received, cleaning up")
            || is_progress_line(l)
            || is_repository_opened(l)
            || DETECT_STARTS
                .iter()
                .any(|p| l.to_ascii_lowercase().starts_with(p))
            || matches!(
                text::classify(l),
                Line::SnapshotSaved(_) | Line::Files { .. }
            )
    })
}

/// The text of a line as restic printed it: without the wrapper's prefix (journald, docker
/// compose, a logger's time stamp and level, a mail quote, indentation; see
/// [`unwrap_line`]), backrest's `[restic] ` column, and surrounding white space and `\r`.
fn restic_text(raw: &str) -> &str {
    let l = unwrap_line_more(raw);
    let l = l.strip_prefix("[restic] ").unwrap_or(l);
    l.trim_matches(|c: char| c.is_whitespace() || c == '\r')
}

/// restic's stderr quoted in a wrapper's log line that names restic (`error running restic
/// backup, stderr=Fatal: ...`): the quoted text, when it holds a `Fatal:` or `error:` line.
fn quoted_restic_stderr(line: &str) -> Option<String> {
    if !line.contains("restic") {
        return None;
    }
    let quoted = stderr_field(line)?;
    quoted
        .lines()
        .any(|l| {
            let l = restic_text(l);
            l.starts_with("Fatal: ") || l.starts_with("error: ")
        })
        .then_some(quoted)
}

/// A journald or syslog line whose tag is restic's own (`host restic[1400]: ...`).
fn is_journal_line(raw: &str) -> bool {
    raw.split_once(" restic[").is_some_and(|(head, rest)| {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        head.len() >= 15 && digits > 0 && rest[digits..].starts_with("]: ")
    })
}

/// Line starts (lower case) that only restic prints: check and prune steps.
const DETECT_STARTS: &[&str] = &[
    "check snapshots, trees and blobs",
    "check all packs",
    "counting files in repo",
    "find data that is still in use for",
    "finding data that is still in use for",
    "collecting packs for deletion and repacking",
    "searching used packs",
];

/// The text progress line of `backup` (0.10+): `[0:03] 0 files 0 B, total 1 files 0 B, 0
/// errors`, also `[0:34] 2.96%  867 files 5.046 GiB, total 307867 files 170.438 GiB, 0 errors
/// ETA 18:35`.
fn is_progress_line(l: &str) -> bool {
    l.starts_with('[')
        && l.contains("] ")
        && l.contains(" files ")
        && l.contains(", total ")
        && l.contains(" errors")
}

/// `repository a14e5863 opened (version 2, compression level auto)`, `repository 16b9bc64
/// opened successfully, password is correct`.
fn is_repository_opened(l: &str) -> bool {
    let Some(rest) = l.strip_prefix("repository ") else {
        return false;
    };
    let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    id.len() >= 8 && rest[id.len()..].starts_with(" opened")
}

fn json_message(run: &mut Run, v: Value) {
    if let Value::Array(groups) = &v {
        // `forget --json`: [{tags, host, paths, keep[], remove[], reasons[]}]
        run.forget = true;
        for g in groups {
            let kept = g.get("keep").and_then(Value::as_array).map_or(0, Vec::len);
            let removed = g
                .get("remove")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            run.forget_kept = run.forget_kept.saturating_add(kept as u64);
            run.forget_removed = run.forget_removed.saturating_add(removed as u64);
        }
        return;
    }
    let kind = v.get("message_type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "summary" => {
            let s: Summary = serde_json::from_value(v).unwrap_or_default();
            if let Some(n) = s.num_errors {
                run.check = true;
                run.check_verdict = Some(n == 0);
                run.check_errors = Some(n);
            } else {
                run.backup = true;
                run.backup_end = true;
            }
            run.summary = Some(s);
        }
        "status" => {
            run.backup = true;
            run.last_files_done = v.get("files_done").and_then(Value::as_u64);
        }
        "verbose_status" | "excluded_item" => run.backup = true,
        "error" => {
            let msg = error_text(&v);
            if v.get("during").is_some() || v.get("item").is_some() {
                run.file_error(&msg);
            } else {
                run.error(msg);
            }
        }
        "exit_error" => {
            let code = v
                .get("code")
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok());
            run.exit_code = run.exit_code.or(code);
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("restic exited with an error")
                .trim();
            let first = msg.lines().next().unwrap_or(msg);
            match code {
                Some(3) => {
                    run.unreadable = true;
                    run.backup_end = true;
                    let m = first.strip_prefix("Warning: ").unwrap_or(first);
                    run.warning(m.to_string());
                }
                Some(130 | 143) => run.interrupted = true,
                _ => {
                    run.fatal = true;
                    let m = first.strip_prefix("Fatal: ").unwrap_or(first);
                    run.error(format!("fatal: {m}"));
                }
            }
        }
        // any message type added later: nothing to count.
        _ => {}
    }
}

/// The text of an `error` message: `error.message` (0.17.1+), else the Go struct of 0.14
/// (`Op`, `Path`, `Err`), else the item.
fn error_text(v: &Value) -> String {
    let item = v.get("item").and_then(Value::as_str).unwrap_or("");
    let during = v.get("during").and_then(Value::as_str);
    let err = v.get("error");
    let text = match err {
        Some(Value::String(s)) => s.clone(),
        Some(e) => {
            if let Some(m) = e.get("message").and_then(Value::as_str) {
                m.to_string()
            } else {
                let op = e.get("Op").and_then(Value::as_str);
                let path = e.get("Path").and_then(Value::as_str).unwrap_or(item);
                let errno = e.get("Err").and_then(Value::as_i64);
                match (op, errno) {
                    (Some(op), Some(n)) => format!("{op} {path}: {}", errno_text(n)),
                    (Some(op), None) => format!("{op} {path}: failed"),
                    _ => String::new(),
                }
            }
        }
        None => v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let text = if text.is_empty() {
        format!("{item}: error")
    } else if !item.is_empty() && !text.contains(item) {
        format!("{item}: {text}")
    } else {
        text
    };
    match during {
        Some(d) if !d.is_empty() => format!("{text} (during {d})"),
        _ => text,
    }
}

fn errno_text(n: i64) -> String {
    match n {
        1 => "operation not permitted".into(),
        2 => "no such file or directory".into(),
        5 => "input/output error".into(),
        13 => "permission denied".into(),
        16 => "device or resource busy".into(),
        20 => "not a directory".into(),
        21 => "is a directory".into(),
        24 => "too many open files".into(),
        36 => "file name too long".into(),
        40 => "too many levels of symbolic links".into(),
        _ => format!("errno {n}"),
    }
}

fn text_line(run: &mut Run, line: &str) {
    match text::classify(line) {
        Line::Fatal(m) => {
            run.fatal = true;
            if m.contains("repository contains errors") {
                run.check = true;
                run.check_verdict = Some(false);
            }
            let m = m.strip_prefix("Fatal: ").unwrap_or(m);
            run.error(format!("fatal: {m}"));
        }
        Line::Unreadable(m) => {
            run.unreadable = true;
            run.backup = true;
            run.backup_end = true;
            run.warning(m.to_string());
        }
        Line::Warning(m) => run.warning(m.to_string()),
        Line::FileError(m) => {
            if run.check && !run.backup {
                run.error(m.to_string());
            } else {
                let m = m.strip_prefix("error: ").unwrap_or(m);
                run.file_error(m);
            }
        }
        Line::FileWarning(m) => {
            run.backup = true;
            run.warning(m.to_string());
        }
        Line::Skipped(path) => {
            run.backup = true;
            run.warning(format!("{path} does not exist, skipped"));
        }
        Line::Interrupted => run.interrupted = true,
        Line::SnapshotSaved(id) => {
            run.backup = true;
            run.backup_end = true;
            run.snapshot = Some(id.to_string());
        }
        Line::Files {
            new,
            changed,
            unmodified,
        } => {
            run.backup = true;
            run.text_new = Some(new);
            run.text_changed = Some(changed);
            run.text_unmodified = Some(unmodified);
            run.text_files = Some(new.saturating_add(changed).saturating_add(unmodified));
        }
        Line::Added(b) => {
            run.backup = true;
            run.text_added = b;
        }
        Line::Processed { files, bytes, secs } => {
            run.backup = true;
            if files.is_some() {
                run.text_files = files;
            }
            run.text_processed = bytes;
            run.text_secs = secs;
        }
        Line::BackupStep => run.backup = true,
        Line::CheckStep => run.check = true,
        Line::CheckOk => {
            run.check = true;
            run.check_verdict = Some(true);
        }
        Line::CheckBad => {
            run.check = true;
            run.check_verdict = Some(false);
            run.error("repository contains errors".into());
        }
        Line::PruneStep => run.prune = true,
        Line::PruneDone => {
            if run.prune {
                run.prune_done = true;
            }
        }
        Line::ForgetPolicy => run.forget = true,
        Line::ExitCode(c) => run.exit_code = Some(c),
        Line::Other => {}
    }
}

/// The status an exit code means (None: 0, decide from the content).
fn status_for_code(code: i32, input: &Input<'_>) -> Option<Status> {
    match code {
        0 => None,
        3 => Some(Status::Warning),
        130 | 143 => Some(input.options.canceled.unwrap_or(Status::Failure)),
        _ => Some(Status::Failure),
    }
}

fn exit_reason(code: i32) -> String {
    match code {
        0 => "restic exited with code 0".into(),
        1 => "restic failed (exit code 1)".into(),
        2 => "restic crashed (exit code 2, go runtime error)".into(),
        3 => "some source files could not be read (exit code 3)".into(),
        10 => "the repository does not exist (exit code 10)".into(),
        11 => "the repository is locked (exit code 11)".into(),
        12 => "wrong password (exit code 12)".into(),
        130 | 143 => format!("restic was interrupted (exit code {code})"),
        other => format!("restic exited with code {other}"),
    }
}

/// The worse of two statuses for a run made of several steps: failure, then unknown (a step
/// whose end is not shown), then warning, then success.
fn worse(a: Status, b: Status) -> Status {
    let rank = |s: Status| match s {
        Status::Success => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Failure => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Status from the content alone (no exit code), and the reason when it is `unknown`.
fn content_status(run: &Run) -> (Status, Option<&'static str>) {
    if run.fatal {
        return (Status::Failure, None);
    }
    let mut status = None::<Status>;
    let mut why = None;
    let mut step = |s: Status, reason: Option<&'static str>| {
        if s == Status::Unknown && why.is_none() {
            why = reason;
        }
        status = Some(status.map_or(s, |cur| worse(cur, s)));
    };
    if run.backup {
        if run.backup_end {
            let partial = run.unreadable || run.file_errors > 0 || !run.warnings.is_empty();
            step(
                if partial {
                    Status::Warning
                } else {
                    Status::Success
                },
                None,
            );
        } else {
            step(
                Status::Unknown,
                Some("no exit code and no final line: the output ends before restic reported a saved snapshot"),
            );
        }
    }
    if run.check {
        match run.check_verdict {
            Some(true) => step(Status::Success, None),
            Some(false) => step(Status::Failure, None),
            None => step(
                Status::Unknown,
                Some("no exit code and no final line: the check output ends before its verdict"),
            ),
        }
    }
    if run.prune {
        if run.prune_done {
            step(Status::Success, None);
        } else {
            step(
                Status::Unknown,
                Some("no exit code and no final line: the prune output ends before \"done\""),
            );
        }
    }
    if run.forget {
        step(Status::Success, None);
    }
    match status {
        Some(s) => (s, why),
        None => (
            Status::Unknown,
            Some(
                "no exit code and no restic result line (no snapshot, check verdict or prune end)",
            ),
        ),
    }
}

fn outcome(mut run: Run, input: &Input<'_>) -> Outcome {
    let code = input.exit_code.or(run.exit_code);
    let mut o = Outcome::new(input.options.job.clone(), Status::Success);
    o.tool = Some("restic".into());
    o.finished = input.meta.modified;
    let canceled = run.interrupted || matches!(code, Some(130 | 143));
    let canceled_status = input.options.canceled.unwrap_or(Status::Failure);
    let (content, why) = content_status(&run);
    let check_failed = run.check && run.check_verdict == Some(false);

    let mut status = match code {
        _ if canceled => canceled_status,
        // A check or forget that exits 3 or worse failed; backup's 3 is a warning.
        Some(c) if c != 0 && (run.check || (run.forget || run.prune) && !run.backup) => {
            if c == 3 && !run.check {
                Status::Warning
            } else {
                Status::Failure
            }
        }
        Some(c) if c != 0 => status_for_code(c, input).unwrap_or(Status::Failure),
        // Exit 0: the run reached its end even when the file does not show it.
        Some(_) if run.fatal || check_failed => Status::Failure,
        Some(_) if content == Status::Unknown => Status::Success,
        _ => content,
    };
    if canceled {
        status = canceled_status;
    }

    let mut parts: Vec<String> = Vec::new();
    if run.backup || !(run.check || run.prune || run.forget) {
        backup_parts(&run, &mut o, &mut parts);
    }
    if run.check {
        let n = run.check_errors.unwrap_or(0);
        if n > 0 {
            run.error(format!("the check found {n} errors"));
        }
        parts.push(match run.check_verdict {
            Some(true) if !run.fatal => "check: no errors were found".into(),
            Some(_) => "check: the repository has errors".into(),
            None if run.fatal => "check: did not complete".into(),
            None => "check: no verdict".into(),
        });
    }
    if run.prune {
        parts.push(if run.prune_done {
            "prune: done".into()
        } else {
            "prune: not finished".into()
        });
    }
    if run.forget {
        if run.forget_kept > 0 || run.forget_removed > 0 {
            parts.push(format!(
                "forget: {} snapshots removed, {} kept",
                run.forget_removed, run.forget_kept
            ));
        } else {
            parts.push("forget: policy applied".into());
        }
    }
    if run.backup && run.file_errors > 0 {
        let n = run.file_errors;
        parts.insert(
            0,
            format!(
                "{n} file{} could not be read",
                if n == 1 { "" } else { "s" }
            ),
        );
    } else if run.backup && run.unreadable && !canceled {
        parts.insert(0, "some source files could not be read".into());
    }
    if canceled {
        parts.insert(0, "interrupted".into());
    }
    if let Some(c) = code.filter(|&c| c != 0 && !(c == 3 && run.file_errors > 0)) {
        let reason = exit_reason(c);
        if !run.backup || status != Status::Success {
            parts.push(reason.clone());
        }
        if c != 3 && !canceled && !run.errors.iter().any(|e| e.starts_with("fatal: ")) {
            run.error(reason);
        }
    }
    if let Some(fatal) = run.errors.iter().find(|e| e.starts_with("fatal: ")) {
        parts.push(fatal.clone());
    }
    if status == Status::Unknown && code.is_none() {
        if let Some(why) = why {
            parts.push(why.into());
        }
    }
    note_dropped(&mut run.warnings, run.dropped);
    if run.backup {
        zero_files(
            input,
            o.files,
            &mut status,
            &mut parts,
            "zero files processed",
        );
    }
    o.status = status;
    o.errors = run.errors;
    o.warnings = run.warnings;
    o.summary = Some(parts.join(", "));
    o
}

/// The backup's numbers (JSON summary, else the text summary lines) and their summary parts.
fn backup_parts(run: &Run, o: &mut Outcome, parts: &mut Vec<String>) {
    if let Some(s) = run.summary.as_ref().filter(|s| s.num_errors.is_none()) {
        o.duration_s = s.total_duration.filter(|d| sane_secs(*d));
        o.bytes = s.data_added;
        o.files = s.total_files_processed;
        o.started = s.backup_start.as_deref().and_then(rfc3339);
        if let Some(end) = s.backup_end.as_deref().and_then(rfc3339) {
            o.finished = Some(end);
        }
        let new = s.files_new.unwrap_or(0);
        let changed = s.files_changed.unwrap_or(0);
        parts.push(format!(
            "{} files ({new} new, {changed} changed, {} unmodified)",
            s.total_files_processed
                .unwrap_or(new.saturating_add(changed)),
            s.files_unmodified.unwrap_or(0)
        ));
        if let Some(b) = s.data_added {
            parts.push(format!("{} added", human_bytes(b)));
        }
        if let Some(b) = s.total_bytes_processed {
            parts.push(format!("{} processed", human_bytes(b)));
        }
        if let Some(id) = &s.snapshot_id {
            let short: String = id.chars().take(8).collect();
            parts.push(format!("snapshot {short}"));
        }
        if s.dry_run == Some(true) {
            parts.push("dry run".into());
        }
        return;
    }
    o.files = run.text_files.or(run.last_files_done);
    o.bytes = run.text_added;
    o.duration_s = run.text_secs.filter(|d| sane_secs(*d));
    if let Some(f) = run.text_files {
        match (run.text_new, run.text_changed, run.text_unmodified) {
            (Some(n), Some(c), Some(u)) => {
                parts.push(format!("{f} files ({n} new, {c} changed, {u} unmodified)"))
            }
            _ => parts.push(format!("{f} files")),
        }
    }
    if let Some(b) = run.text_added {
        parts.push(format!("{} added", human_bytes(b)));
    }
    if let Some(b) = run.text_processed {
        parts.push(format!("{} processed", human_bytes(b)));
    }
    match &run.snapshot {
        Some(id) => parts.push(format!("snapshot {id} saved")),
        None if run.backup && !run.backup_end => parts.push("no snapshot line".into()),
        None => {}
    }
}

/// A duration that can be shown and added to a time: finite, 0 s to about 31 years.
fn sane_secs(d: f64) -> bool {
    d.is_finite() && (0.0..1e9).contains(&d)
}

/// An RFC 3339 time from 1970 to 2200, else None.
fn rfc3339(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
        .filter(|t| (1970..=2200).contains(&t.year()))
}

/// Remove ANSI escape sequences (CSI `ESC [ ... final`, and two-byte `ESC x`) in one pass;
/// input without ESC is borrowed, not copied (a long `--json` log costs no second buffer).
fn strip_ansi(b: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !b.contains(&0x1b) {
        return std::borrow::Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b {
            if b.get(i + 1) == Some(&b'[') {
                let mut j = i + 2;
                while j < b.len() && !(0x40..=0x7e).contains(&b[j]) {
                    j += 1;
                }
                i = j + 1;
            } else {
                i += 2;
            }
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{self, job};
    use crate::formats::Options;

    fn run_with(body: &[u8], code: Option<i32>, options: &Options) -> Outcome {
        let path = "/var/log/nagbridge/restic-nightly.log";
        test_support::single(Format::Restic, path, body, code, options)
    }

    fn run(body: &[u8], code: Option<i32>) -> Outcome {
        run_with(body, code, &job("nightly"))
    }

    fn fixture(name: &str) -> Vec<u8> {
        test_support::fixture("restic", name)
    }

    const OK_014: &str = r#"{"message_type":"status","percent_done":0,"total_files":1,"total_bytes":100000}
{"message_type":"summary","files_new":2,"files_changed":0,"files_unmodified":0,"dirs_new":2,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":2,"tree_blobs":3,"data_added":101403,"total_files_processed":2,"total_bytes_processed":100002,"total_duration":0.236133646,"snapshot_id":"235da3f2"}
"#;

    #[test]
    fn success_014() {
        let o = run(OK_014.as_bytes(), Some(0));
        assert_eq!(o.status, Status::Success);
        assert_eq!((o.files, o.bytes), (Some(2), Some(101403)));
        assert_eq!(o.duration_s, Some(0.236133646));
        assert_eq!(o.job, "nightly");
        assert_eq!(o.tool.as_deref(), Some("restic"));
        assert!(
            o.summary.as_deref().unwrap().contains("snapshot 235da3f2"),
            "{:?}",
            o.summary
        );
        // Without an exit code (a watched file) the content decides alone.
        assert_eq!(run(OK_014.as_bytes(), None).status, Status::Success);
    }

    #[test]
    fn unreadable_file_014_is_a_warning() {
        let body = "{\"message_type\":\"error\",\"error\":{\"Op\":\"read\",\"Path\":\"/proc/self/mem\",\"Err\":5},\"during\":\"archival\",\"item\":\"/proc/self/mem\"}\n"
            .to_string()
            + OK_014.lines().nth(1).unwrap()
            + "\nWarning: at least one source file could not be read\n";
        for code in [Some(3), None] {
            let o = run(body.as_bytes(), code);
            assert_eq!(o.status, Status::Warning, "{code:?}");
            assert_eq!(
                o.errors,
                ["read /proc/self/mem: input/output error (during archival)"]
            );
            assert!(o
                .summary
                .as_deref()
                .unwrap()
                .starts_with("1 file could not be read"));
        }
    }

    #[test]
    fn fatal_text_and_ansi() {
        let body = b"Fatal: unable to open config file: stat nore/config: no such file or directory\nIs there a repository at the following location?\nnore\n";
        let o = run(body, Some(1));
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors[0].starts_with("fatal: unable to open config file"));
        let body = b"{\"message_type\":\"status\",\"percent_done\":0,\"total_files\":1}\n\x1b[2Ksignal interrupt received, cleaning up\n";
        let o = run(body, Some(130));
        assert_eq!(o.status, Status::Failure);
        assert!(o.summary.as_deref().unwrap().starts_with("interrupted"));
        let options = Options {
            canceled: Some(Status::Warning),
            ..job("j")
        };
        assert_eq!(run_with(body, None, &options).status, Status::Warning);
    }

    #[test]
    fn unknown_exit_code_is_a_failure_and_unknown_fields_are_ignored() {
        let body = b"{\"message_type\":\"brand_new\",\"x\":1}\n{\"message_type\":\"summary\",\"total_files_processed\":3,\"new_field\":[1,2],\"snapshot_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\n";
        assert_eq!(run(body, Some(0)).status, Status::Success);
        let o = run(body, Some(77));
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors.contains(&"restic exited with code 77".to_string()));
    }

    #[test]
    fn zero_files_option() {
        let body = b"{\"message_type\":\"summary\",\"total_files_processed\":0,\"data_added\":0}\n";
        assert_eq!(run(body, Some(0)).status, Status::Success);
        let options = Options {
            zero_files: Some(Status::Failure),
            ..job("j")
        };
        let o = run_with(body, Some(0), &options);
        assert_eq!(o.status, Status::Failure);
        assert!(o.summary.unwrap().contains("zero files"));
    }

    #[test]
    fn missing_summary_and_empty() {
        // No summary and no exit code: the run's end is not in the file (not a failure).
        let o = run(b"{\"message_type\":\"status\",\"files_done\":7}\n", None);
        assert_eq!((o.status, o.files), (Status::Unknown, Some(7)));
        assert!(o
            .summary
            .unwrap()
            .contains("no exit code and no final line"));
        let o = run(b"{\"message_type\":\"status\",\"files_done\":7}\n", Some(1));
        assert_eq!(o.status, Status::Failure);
        // `--quiet` with exit code 0 prints nothing.
        assert_eq!(run(b"", Some(0)).status, Status::Success);
        assert_eq!(run(b"", None).status, Status::Unknown);
        assert_eq!(run(b"\n", Some(1)).status, Status::Failure);
    }

    #[test]
    fn check_and_forget_014() {
        let check = b"using temporary cache in /tmp/x\ncreate exclusive lock for repository\nload indexes\ncheck all packs\ncheck snapshots, trees and blobs\n[0:00] 100.00%  3 / 3 snapshots\n\nno errors were found\n";
        let o = run(check, Some(0));
        assert_eq!(o.status, Status::Success);
        assert_eq!(o.summary.as_deref(), Some("check: no errors were found"));
        let bad = b"check snapshots, trees and blobs\nerror for tree 1a2b3c4d:\n  id 1a2b3c4d not found in repository\nFatal: repository contains errors\n";
        let o = run(bad, Some(1));
        assert_eq!(o.status, Status::Failure);
        let forget = br#"[{"tags":null,"host":"vm","paths":["/src"],"keep":[{"id":"a"}],"remove":[{"id":"b"},{"id":"c"}],"reasons":[]}]"#;
        let o = run(forget, Some(0));
        assert_eq!(o.status, Status::Success);
        assert_eq!(
            o.summary.as_deref(),
            Some("forget: 2 snapshots removed, 1 kept")
        );
        assert_eq!(run(forget, Some(3)).status, Status::Warning);
    }

    #[test]
    fn fixtures_018() {
        let o = run(&fixture("0.18-backup-success.jsonl"), Some(0));
        assert_eq!(o.status, Status::Success);
        assert_eq!(o.duration_s, Some(190.2));
        assert_eq!(
            o.started.map(|t| t.to_rfc3339()),
            Some("2026-11-24T02:00:00+00:00".into())
        );
        assert_eq!(o.files, Some(4200));
        let o = run(&fixture("0.18-backup-warning.jsonl"), Some(3));
        assert_eq!(o.status, Status::Warning);
        assert_eq!(
            o.errors,
            ["open /srv/x: permission denied (during archival)"]
        );
        let o = run(&fixture("0.18-no-repository.jsonl"), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors[0].contains("repository does not exist"), "{o:?}");
        assert!(o.summary.unwrap().contains("exit code 10"));
        let o = run(&fixture("0.18-check-errors.jsonl"), Some(1));
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors.iter().any(|e| e.contains("2 errors")));
        let o = run(&fixture("0.18-check-ok.jsonl"), Some(0));
        assert_eq!(o.status, Status::Success);
    }

    #[test]
    fn text_mode_of_every_version() {
        // 0.3: an unreadable file, the snapshot still saved: a warning (0.3 exits 0).
        let body = b"         scan [hello.html]\n         error for /home/foo/hello.html: Open: open /home/foo/hello.html: permission denied\n         snapshot d9e117ae saved\n";
        let o = run(body, None);
        assert_eq!(o.status, Status::Warning, "{o:?}");
        assert_eq!(o.errors.len(), 1);
        assert!(o
            .summary
            .as_deref()
            .unwrap()
            .starts_with("1 file could not be read"));
        // 0.9 - 0.18 console summary: numbers read from the text.
        let body = b"Files:          75 new,     0 changed,     0 unmodified\nDirs:            8 new,     0 changed,     0 unmodified\nAdded to the repo: 2.506 MiB\n\nprocessed 75 files, 2.466 MiB in 1:02\nsnapshot 53fafae6 saved\n";
        let o = run(body, None);
        assert_eq!(o.status, Status::Success);
        assert_eq!(
            (o.files, o.bytes, o.duration_s),
            (Some(75), Some(2_627_731), Some(62.0))
        );
        assert!(o.summary.unwrap().contains("snapshot 53fafae6 saved"));
        // The scanner's copy of an error is counted once.
        let body = b"scan: Open: open /x: permission denied\nerror: Open: open /x: permission denied\nsnapshot 1234abcd saved\nWarning: at least one source file could not be read\n";
        let o = run(body, None);
        assert_eq!((o.status, o.errors.len()), (Status::Warning, 1));
        // The summary block without its last lines: the end is not in the file.
        let o = run(
            b"Files: 0 new, 0 changed, 1 unmodified\nAdded to the repo: 0 B\n",
            None,
        );
        assert_eq!(o.status, Status::Unknown);
        assert!(o
            .summary
            .unwrap()
            .contains("no exit code and no final line"));
        // ... but exit code 0 says it finished.
        assert_eq!(
            run(b"Files: 0 new, 0 changed, 1 unmodified\n", Some(0)).status,
            Status::Success
        );
        // A lock error without the `Fatal: ` prefix, and a wrapper's exit code line.
        let o = run(
            b"unable to create lock in backend: repository is already locked by PID 78\n",
            None,
        );
        assert_eq!(o.status, Status::Failure);
        let o = run(b"snapshot f989dc9e saved\nExit code: 3\n", None);
        assert_eq!(o.status, Status::Warning);
    }

    #[test]
    fn check_prune_forget_text() {
        let o = run(b"Check snapshots, trees and blobs\nerror for tree 4dc35584:\n  tree 4dc35584: node \"x\" with invalid type \"socket\"\nrepository contains errors\n", None);
        assert_eq!(o.status, Status::Failure);
        assert_eq!(
            o.summary.as_deref(),
            Some("check: the repository has errors")
        );
        // A check whose verdict is not in the file.
        let o = run(
            b"load indexes\ncheck all packs\ncheck snapshots, trees and blobs\n",
            None,
        );
        assert_eq!(o.status, Status::Unknown);
        // Exit 3 of a check is a failure, of forget a warning.
        let check = b"check snapshots, trees and blobs\nno errors were found\n";
        assert_eq!(run(check, Some(3)).status, Status::Failure);
        let prune = b"counting files in repo\nfind data that is still in use for 1 snapshots\nwill delete 10 packs and rewrite 10 packs, this frees 64.232 MiB\ndone\n";
        let o = run(prune, None);
        assert_eq!(
            (o.status, o.summary.as_deref()),
            (Status::Success, Some("prune: done"))
        );
        let o = run(&prune[..prune.len() - 5], None);
        assert_eq!(o.status, Status::Unknown);
        let o = run(
            b"counting files in repo\n  Interrupt received, cleaning up\n",
            None,
        );
        assert_eq!(o.status, Status::Failure);
        assert!(o.summary.unwrap().starts_with("interrupted"));
        let o = run(
            b"Applying Policy: keep 5 daily snapshots\nkeep 5 snapshots:\n",
            None,
        );
        assert_eq!(o.status, Status::Success);
        assert_eq!(
            run(b"Applying Policy: keep 1\n", Some(3)).status,
            Status::Warning
        );
        // prune then check: one maintenance run.
        let both = [&prune[..], check].concat();
        assert_eq!(run(&both, None).status, Status::Success);
    }

    #[test]
    fn pretty_printed_json() {
        let body = b"{\n  \"message_type\": \"summary\",\n  \"files_new\": 0,\n  \"total_files_processed\": 49180,\n  \"data_added\": 1358,\n  \"snapshot_id\": \"56ae882c\"\n}\n";
        let o = run(body, None);
        assert_eq!((o.status, o.files), (Status::Success, Some(49180)));
        assert!(looks_like_body(body));
        // An unterminated document is not read (and does not panic).
        assert_eq!(run(&body[..body.len() - 2], None).status, Status::Unknown);
    }

    fn looks_like_body(b: &[u8]) -> bool {
        test_support::looks(looks_like, b)
    }

    #[test]
    fn hostile_numbers() {
        // Sums of counts saturate instead of overflowing (debug) or wrapping (release).
        let body = br#"{"message_type":"summary","files_new":18446744073709551615,"files_changed":5,"data_added":18446744073709551615}"#;
        let o = run(body, None);
        assert_eq!(o.status, Status::Success);
        assert!(o.summary.unwrap().starts_with("18446744073709551615 files"));
        let body = b"Files: 18446744073709551615 new, 18446744073709551615 changed, 1 unmodified\nsnapshot 12345678 saved\n";
        assert_eq!(run(body, None).files, Some(u64::MAX));
        // An exit code past i32 is not wrapped into another code.
        for code in ["99999999999", "-9223372036854775808", "4294967299"] {
            let body =
                format!("{{\"message_type\":\"exit_error\",\"code\":{code},\"message\":\"x\"}}\n");
            let o = run(body.as_bytes(), None);
            assert_eq!(o.status, Status::Failure, "{code}");
            assert!(!o.summary.unwrap().contains("exit code 3"), "{code}");
        }
        // Durations and times out of range are dropped.
        let body = br#"{"message_type":"summary","total_duration":1e308,"backup_start":"9999-12-31T23:59:59Z","backup_end":"0001-01-01T00:00:00Z","snapshot_id":"ab"}"#;
        let o = run(body, None);
        assert_eq!((o.duration_s, o.started), (None, None));
        let body = b"processed 3000000000:00:00 files, 1 B in 3000000000:00:00\nprocessed 1 B in 18446744073709551615:00:00\nAdded: 99999999999999999999 EiB\nsnapshot 1234abcd saved\n";
        let o = run(body, None);
        assert_eq!((o.duration_s, o.bytes), (None, None));
    }

    #[test]
    fn detection() {
        let looks = |b: &[u8]| test_support::looks(looks_like, b);
        assert!(looks(OK_014.as_bytes()));
        assert!(looks(b"\x1b[2K{\"message_type\":\"summary\"}\n"));
        assert!(!looks(b"{\"status\":\"ok\"}"));
        assert!(!looks(b"hello"));
        assert!(looks(b"open repository\nsnapshot 40dc1520 saved\n"));
        assert!(looks(
            b"Files:           6 new,     0 changed,     6 unmodified\n"
        ));
        assert!(looks(b"Check snapshots, trees and blobs\n"));
        assert!(looks(
            b"[0:03] 0 files 0 B, total 1 files 0 B, 0 errors\n/big\n"
        ));
        assert!(looks(
            b"loading indexes...\nfinding data that is still in use for 242 snapshots\n"
        ));
        assert!(looks(
            b"unable to create lock in backend: repository is already locked\n"
        ));
        assert!(!looks(
            b"Archive name: web01\nterminating with success status, rc 0\n"
        ));
        assert!(!looks(b"will delete 10 old backups\ndone\n"));
    }

    #[test]
    fn never_panics_on_garbage() {
        for body in [
            &b"\x1b"[..],
            b"\x1b[",
            b"{",
            b"[",
            b"[1,2,{}]",
            b"{\"message_type\":\"error\",\"error\":7}",
            b"{\"message_type\":\"exit_error\",\"code\":99999999999}",
            b"{\"message_type\":\"summary\",\"total_files_processed\":-1}",
            b"\xff\xfe does not exist, skipping",
        ] {
            let _ = run(body, None);
        }
    }

    #[test]
    fn wrapper_prefixes_are_peeled() {
        // journald under another tag (ionice), a compose column with a logger's level, a mail
        // quote, backrest's [restic] column: the same verdicts as the bare lines.
        let journal =
            "Mar 23 23:15:36 server01 ionice[5200]: error: lstat /x: no such file or directory
Mar 23 23:15:36 server01 ionice[5200]: snapshot 8ec6f57a saved
Mar 23 23:15:36 server01 ionice[5200]: Warning: failed to read all source data during backup
";
        assert_eq!(run(journal.as_bytes(), None).status, Status::Warning);
        assert!(test_support::looks(looks_like, journal.as_bytes()));
        let compose = "backup-1  | 2024-08-17T14:51:27+0000 ERROR unable to create lock in backend: repository is already locked by PID 38 on c by root (UID 0, GID 0)\n";
        assert_eq!(run(compose.as_bytes(), None).status, Status::Failure);
        let quoted = "> snapshot 40dc1520 saved\n>\n> processed 12 files, 1.0 GiB in 0:12\n";
        assert_eq!(run(quoted.as_bytes(), None).status, Status::Success);
        let backrest = "[restic] unable to create lock in backend: repository is already locked exclusively by PID 1 on mac by a (UID 501, GID 20)\n";
        assert_eq!(run(backrest.as_bytes(), None).status, Status::Failure);
        let own_tag = "Nov 06 22:53:44 storage restic[256551]: [43B blob data]\n";
        assert!(test_support::looks(looks_like, own_tag.as_bytes()));
    }

    #[test]
    fn json_quoted_by_a_wrapper_message() {
        let body = r#"22:01:39 error Restic backup encountered read errors: {"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}
"#;
        assert_eq!(run(body.as_bytes(), None).status, Status::Warning);
        let body = r#"Error loading snapshots: Restic snapshots retrieval failed: {"message_type":"exit_error","code":11,"message":"unable to create lock in backend: repository is already locked"}
"#;
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Failure);
        assert!(test_support::looks(looks_like, body.as_bytes()));
    }

    #[test]
    fn wrapper_quoted_stderr_and_systemd_status() {
        // A logrus line of a Kubernetes operator quoting restic's stderr.
        let body = r#"time="2020-01-07T03:46:01Z" level=error msg="Error backing up item" error="pod volume backup failed: error running restic backup, stderr=Fatal: unable to open config file: Stat: 403 Forbidden\n: exit status 1" name=x
"#;
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors[0].contains("unable to open config file"));
        assert!(looks_like_body(body.as_bytes()));
        // `systemctl status` of a unit that runs restic: its exit code (3: files unreadable).
        let body = "  Process: 12 ExecStartPre=/bin/true (code=exited, status=0/SUCCESS)\n  Process: 13 ExecStart=/usr/bin/restic backup /home (code=exited, status=3)\n";
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Warning);
        assert!(looks_like_body(body.as_bytes()));
        let body =
            "  Process: 13 ExecStart=/usr/bin/restic backup /home (code=killed, signal=TERM)\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Failure);
        // Another program's unit is not restic's.
        let body = "  Process: 13 ExecStart=/usr/bin/borg create x (code=exited, status=2)\n";
        assert!(!looks_like_body(body.as_bytes()));
        // Forum markup around restic's lines, a syslog month in Portuguese.
        let body = "[COLOR=#333333]Fev 21 04:13:39 host restic-service[27099]: snapshot 1a2b3c4d saved[/COLOR]\n";
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Success);
        assert!(looks_like_body(body.as_bytes()));
        let body = "Fatal: number of used blobs is larger than number of available blobs!\nPlease report this error (along with the output of the 'prune' run) at\nhttps://github.com/restic/restic/issues/new\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Failure);
        assert!(looks_like_body(body.as_bytes()));
    }
}
