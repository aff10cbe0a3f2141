//! BorgBackup: the `borg create --json` document (pretty-printed over many lines) and the
//! `--log-json` lines on stderr, in one file or apart, plus the plain-text `--stats` block and
//! `--show-rc` line of runs without `--log-json` (text lines in [`text`]), `borg check` and
//! `borg prune` output, and the errors that end a run before any of that (argument errors,
//! connection, lock, passphrase, repository). borg is quiet by default: a file of warning lines
//! only is a finished run with warnings; a run whose end the file does not show, with no exit
//! code, is `unknown`.
//!
//! Owns: borg's exit-code classes, legacy (0 ok, 1 warning, 2 error, 128+N signal) and modern
//! (borg 1.4 `BORG_EXIT_CODES=modern`, borg 2: 3-99 errors, 100-127 warnings), taken from
//! `Input::exit_code` under `wrap` or else from the `terminating with ... rc N` line; the
//! `borg check` override (any rc other than 0 is a failure). One file is one run, except that
//! each further `create --stats` block (a wrapper running `borg create` per source) starts one.
//! Must not do I/O or read the clock.

mod text;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    head, json_depth_delta, keep, note_dropped, runs_program, strip_bbcode, systemd_exec_status,
    unwrap_line, unwrap_line_more, zero_files,
};
use super::{Format, Input, Parsed};
use crate::outcome::{human_bytes, Outcome, Status};
use text::{show_rc, Line};

/// A `create --json` document longer than this many lines is not collected (borg's is ~50).
const MAX_DOC_LINES: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
struct CreateDoc {
    archive: Option<Archive>,
}

#[derive(Debug, Default, Deserialize)]
struct Archive {
    name: Option<String>,
    duration: Option<f64>,
    stats: Option<ArchiveStats>,
}

#[derive(Debug, Default, Deserialize)]
struct ArchiveStats {
    original_size: Option<u64>,
    deduplicated_size: Option<u64>,
    nfiles: Option<u64>,
}

#[derive(Debug, Default)]
struct Run {
    doc: Option<CreateDoc>,
    rc: Option<i32>,
    errors: Vec<String>,
    warnings: Vec<String>,
    /// Plain-text lines of unknown level (borg without `--log-json`).
    plain: Vec<String>,
    dropped: usize,
    canceled: bool,
    check: bool,
    first_time: Option<f64>,
    last_time: Option<f64>,
    /// From the text `--stats` block.
    text_archive: Option<String>,
    text_files: Option<u64>,
    text_duration: Option<f64>,
    text_original: Option<u64>,
    text_dedup: Option<u64>,
    log_lines: usize,
    /// Text lines that were recognised (stats, check, prune, errors, warnings).
    text_lines: usize,
    /// The rc came from a `--show-rc` or wrapper line of the file (not from `wrap`).
    text_rc: bool,
    /// A text error that ends the run (argument error, connection, lock, traceback ...).
    fatal: bool,
    /// The `create --stats` block was printed: the archive was committed.
    stats_block: bool,
    /// `borg check` verdict lines: all said "no problems" (Some(true)) or one did not.
    check_verdict: Option<bool>,
    prune: bool,
    prune_kept: u64,
    prune_pruned: u64,
    in_traceback: bool,
    /// borg 1.4/2's `Error:` header: the next line names the error that ended the run.
    error_header: bool,
}

/// Parse borg output. The input is one run, except that every further `create --stats` block
/// (a wrapper that runs `borg create` once per source) starts a run of its own; it is always
/// consumed whole.
pub fn parse(input: &Input<'_>) -> Parsed {
    let text = String::from_utf8_lossy(input.bytes);
    let text = strip_bbcode(&text);
    let mut run = Run::default();
    let mut done: Vec<Run> = Vec::new();
    let trimmed = text.trim();
    // A compact document on one line, or the pretty-printed one alone in the file.
    let whole_doc = if trimmed.starts_with('{') {
        serde_json::from_str::<Value>(trimmed)
            .ok()
            .filter(|v| v.get("archive").is_some() || v.get("repository").is_some())
    } else {
        None
    };
    if let Some(v) = whole_doc {
        run.doc = serde_json::from_value(v).ok();
    } else {
        let mut doc: Option<String> = None;
        let mut doc_lines = 0usize;
        let mut doc_depth = 0i64;
        for line in text.lines() {
            if let Some(d) = doc.as_mut() {
                let line = unwrap_line(line).trim_end();
                d.push_str(line);
                d.push('\n');
                doc_lines += 1;
                doc_depth = doc_depth.saturating_add(json_depth_delta(line));
                if doc_depth <= 0 || doc_lines > MAX_DOC_LINES {
                    let body = doc.take().unwrap_or_default();
                    if let Ok(v) = serde_json::from_str::<Value>(&body) {
                        run.doc = serde_json::from_value(v).ok();
                    }
                }
                continue;
            }
            let l = borg_text(line);
            if l == "{" {
                doc = Some(String::from("{\n"));
                doc_lines = 0;
                doc_depth = 1;
                continue;
            }
            if l.starts_with('{') {
                if let Ok(v) = serde_json::from_str::<Value>(l) {
                    if v.get("type").is_some() {
                        json_line(&mut run, &v);
                    } else {
                        wrapper_json(&mut run, &v);
                    }
                    continue;
                }
            }
            if let Some((command, code)) = systemd_exec_status(l) {
                if runs_program(command, "borg") {
                    text_line(&mut run, &format!("exit code {code}"));
                }
                continue;
            }
            if !l.is_empty() {
                let next_archive = matches!(text::classify(l), Line::ArchiveName(_));
                if next_archive && run.stats_block && run.doc.is_none() && !run.fatal {
                    done.push(std::mem::take(&mut run));
                }
                text_line(&mut run, l);
            }
        }
    }
    if !done.is_empty() {
        // Several `borg create` runs: the wrapper's exit code (under `wrap`) is the last one's.
        let earlier = Input {
            exit_code: None,
            ..*input
        };
        let mut outcomes: Vec<Outcome> = done.into_iter().map(|r| outcome(r, &earlier)).collect();
        outcomes.push(outcome(run, input));
        return Parsed::whole(input, outcomes, Format::Borg);
    }
    if run.doc.is_none()
        && run.log_lines == 0
        && run.text_lines == 0
        && run.plain.is_empty()
        && run.rc.is_none()
    {
        let mut o = Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            "no borg output: the --json document is empty and there is no exit code",
        );
        o.tool = Some("borg".into());
        if let Some(code) = input.exit_code {
            o.status = classify(code, false, input).0;
            o.errors.push(describe(code));
        }
        return Parsed::whole(input, vec![o], Format::Borg);
    }
    Parsed::whole(input, vec![outcome(run, input)], Format::Borg)
}

/// True when the input looks like borg output: `--log-json` lines, the `create --json`
/// document, or a text line only borg prints (stats block, `--show-rc`, check verdict, prune
/// list, `file changed while we backed it up`, its argument, lock and connection errors).
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let text = String::from_utf8_lossy(head);
    let text = strip_bbcode(&text);
    let mut doc_keys = 0;
    for l in text.lines().take(400) {
        let l = borg_text(l);
        if systemd_exec_status(l).is_some_and(|(c, _)| runs_program(c, "borg")) {
            return true;
        }
        if l.starts_with('{') && !l.starts_with("{\"type\"") {
            // A wrapper's JSON log line that carries borg's stderr.
            if let Ok(v) = serde_json::from_str::<Value>(l) {
                if wrapper_texts(&v)
                    .iter()
                    .any(|t| t.lines().any(text::is_borg_line))
                {
                    return true;
                }
            }
        }
        if (l.starts_with("{\"type\": \"") || l.starts_with("{\"type\":\""))
            && (l.contains("\"log_message\"")
                || l.contains("\"archive_progress\"")
                || l.contains("\"progress_message\"")
                || l.contains("\"file_status\""))
        {
            return true;
        }
        if l.starts_with("\"archive\": {")
            || l.starts_with("\"encryption\": {")
            || l.starts_with("\"cache\": {")
        {
            doc_keys += 1;
        }
        if l.starts_with("terminating with ") && l.contains(" status, rc ") {
            return true;
        }
        if text::is_borg_line(l) {
            return true;
        }
    }
    doc_keys >= 2
}

/// The text of a line as borg printed it: without a wrapper's prefix (journald, docker
/// compose, a logger's time stamp and level, a mail quote, indentation: [`unwrap_line`]), a
/// Python logger's `ERROR:app.name:` column, and borg 0.x's own `borg: ` in front of messages.
fn borg_text(line: &str) -> &str {
    let l = unwrap_line_more(line).trim_end();
    let l = python_logger_prefix(l).unwrap_or(l);
    match l.strip_prefix("borg: ") {
        // `borg: error: ...` is the argument parser's own line, kept whole.
        Some(r) if !r.trim().is_empty() && !r.starts_with("error: ") => r.trim_start(),
        _ => l,
    }
}

/// `ERROR:app.core.borg:rest` (Python's default logging format) -> `rest`.
fn python_logger_prefix(l: &str) -> Option<&str> {
    let (level, rest) = l.split_once(':')?;
    if !matches!(level, "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL") {
        return None;
    }
    let (name, rest) = rest.split_once(':')?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then_some(rest)
}

/// The texts a wrapper's JSON log line (not a borg `--log-json` line) quotes from borg:
/// `stderr`, `message`, `msg`, `error` strings.
fn wrapper_texts(v: &Value) -> Vec<&str> {
    ["stderr", "message", "msg", "error"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_str))
        .collect()
}

/// A wrapper's JSON log line: borg's quoted stderr is read as text lines, its `return_code`
/// (also `returncode`, `exit_code`, `rc`) as a wrapper's exit-code line.
fn wrapper_json(run: &mut Run, v: &Value) {
    for t in wrapper_texts(v) {
        for l in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text_line(run, l);
        }
    }
    let rc = ["return_code", "returncode", "exit_code", "rc"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_i64))
        .and_then(|c| i32::try_from(c).ok());
    if let Some(rc) = rc {
        text_line(run, &format!("exit code {rc}"));
    }
}

fn json_line(run: &mut Run, v: &Value) {
    let Some(kind) = v.get("type").and_then(Value::as_str) else {
        return;
    };
    run.log_lines += 1;
    if let Some(t) = v.get("time").and_then(Value::as_f64) {
        if t.is_finite() {
            run.first_time.get_or_insert(t);
            run.last_time = Some(t);
        }
    }
    match kind {
        "log_message" => {
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim();
            let level = v.get("levelname").and_then(Value::as_str).unwrap_or("");
            let name = v.get("name").and_then(Value::as_str).unwrap_or("");
            let msgid = v.get("msgid").and_then(Value::as_str);
            if name == "borg.output.stats" {
                // `--stats` with `--log-json`: the text block, one line a message.
                for l in msg.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    text_line(run, l);
                }
                return;
            }
            if name == "borg.output.show-rc" {
                if let Some(rc) = show_rc(msg) {
                    run.rc = Some(rc);
                }
                return;
            }
            message(run, msg, msgid);
            let text = match msgid {
                Some(id) if !id.is_empty() && !msg.contains(id) => format!("{msg} [{id}]"),
                _ => msg.to_string(),
            };
            match level {
                "ERROR" | "CRITICAL" => keep(&mut run.errors, &mut run.dropped, text),
                "WARNING" => keep(&mut run.warnings, &mut run.dropped, text),
                _ => {}
            }
        }
        "file_status" if v.get("status").and_then(Value::as_str) == Some("E") => {
            let path = v.get("path").and_then(Value::as_str).unwrap_or("?");
            keep(
                &mut run.warnings,
                &mut run.dropped,
                format!("{path}: read error"),
            );
        }
        // archive_progress, progress_message, progress_percent and later types: progress only.
        _ => {}
    }
}

/// Things any message (JSON or text) may tell: a check run, a signal.
fn message(run: &mut Run, msg: &str, msgid: Option<&str>) {
    if msgid.is_some_and(|m| m.starts_with("Signal."))
        || msg.starts_with("Received SIG")
        || msg.starts_with("Got Ctrl-C")
        || msg.starts_with("KeyboardInterrupt")
    {
        run.canceled = true;
    }
    if msg.starts_with("Starting repository check")
        || msg.starts_with("Starting archive consistency check")
        || msg.starts_with("Finished full repository check")
        || msg.starts_with("Finished partial repository check")
        || msg.starts_with("Archive consistency check complete")
    {
        run.check = true;
    }
}

fn text_line(run: &mut Run, l: &str) {
    let line = text::classify(l);
    if !matches!(line, Line::Other | Line::Remote) {
        run.text_lines += 1;
    }
    if run.error_header {
        run.error_header = false;
        run.fatal = true;
        keep(&mut run.errors, &mut run.dropped, l.to_string());
        return;
    }
    if l == "Error:" || l.starts_with("If reporting bugs, please include the following") {
        // borg 1.4/2: `Error:`, a blank line, `NotLocked: Failed to release the lock ...`.
        run.text_lines += 1;
        run.fatal = true;
        run.error_header = l == "Error:";
        return;
    }
    if run.in_traceback && !matches!(line, Line::Rc(_) | Line::WrapperRc(_)) {
        // The exception line ends the traceback: `borg.remote.ConnectionClosed: ...`.
        if !l.starts_with("File ") && !l.starts_with("[Previous line") && l.contains(": ") {
            run.in_traceback = false;
            run.fatal = true;
            keep(&mut run.errors, &mut run.dropped, l.to_string());
        }
        return;
    }
    match line {
        Line::Rc(rc) => {
            run.rc = Some(rc);
            run.text_rc = true;
        }
        Line::WrapperRc(rc) => {
            if !run.text_rc {
                run.rc = Some(rc);
            }
        }
        Line::ArchiveName(n) => {
            run.stats_block = true;
            run.text_archive = Some(n.to_string());
        }
        Line::StatsStep => {
            if l.starts_with("Archive fingerprint") {
                run.stats_block = true;
            }
        }
        Line::Files(n) => run.text_files = Some(n),
        Line::Duration(d) => run.text_duration = Some(d),
        Line::ThisArchive(orig, dedup) => {
            run.text_original = orig;
            run.text_dedup = dedup;
        }
        Line::OriginalSize(b) => run.text_original = b,
        Line::DedupSize(b) => run.text_dedup = b,
        Line::Prune => {
            run.prune = true;
            if l.starts_with("Keeping") {
                run.prune_kept = run.prune_kept.saturating_add(1);
            } else if l.starts_with("Pruning") || l.starts_with("Would prune") {
                run.prune_pruned = run.prune_pruned.saturating_add(1);
            }
        }
        Line::CheckStep => run.check = true,
        Line::CheckVerdict(ok) => {
            run.check = true;
            run.check_verdict = Some(run.check_verdict.unwrap_or(true) && ok);
        }
        Line::CheckProblem(p) => {
            run.check = true;
            keep(&mut run.errors, &mut run.dropped, p.to_string());
        }
        Line::FileWarning(w) => keep(&mut run.warnings, &mut run.dropped, w.to_string()),
        Line::Fatal(f) => {
            run.fatal = true;
            if !run.errors.iter().any(|e| e == f) {
                keep(&mut run.errors, &mut run.dropped, f.to_string());
            }
        }
        Line::Traceback => run.in_traceback = true,
        Line::Remote => {
            // The server side's exception ends the client's command too (borg 1.0: `Remote:
            // Borg 1.0.6: exception in RPC call:`, then the remote traceback).
            let r = l.trim_start_matches("Remote:").trim();
            // `borg check` of a remote repository: the server's check lines (`Remote: Invalid
            // segment entry size [...]`) are the check's own.
            if matches!(
                text::classify(r),
                Line::CheckStep | Line::CheckProblem(_) | Line::CheckVerdict(_)
            ) {
                text_line(run, r);
                return;
            }
            if r.starts_with("Traceback (most recent call last)")
                || r.contains("exception in RPC call")
            {
                run.fatal = true;
                run.text_lines += 1;
                let e = format!("remote: {r}");
                if !run.errors.contains(&e) {
                    keep(&mut run.errors, &mut run.dropped, e);
                }
            }
        }
        Line::Usage => {}
        Line::Other => {
            message(run, l, None);
            let noise = l.starts_with("---")
                || l.starts_with("All archives:")
                || l.starts_with("Chunk index:")
                || l.starts_with("Unique chunks")
                || l.contains("Original size")
                || l.starts_with('[')
                || l.starts_with("Repository: ")
                || l.starts_with("Creating archive at ");
            // A pasted shell prompt with the command is not a message of borg's.
            let prompt = l.contains("$ borg ")
                || l.starts_with("$ ")
                || l.starts_with("> borg ")
                || l.starts_with("borg ")
                || l.starts_with("# ");
            if !noise && !prompt && !run.fatal {
                keep(&mut run.plain, &mut run.dropped, l.to_string());
            }
        }
    }
}

/// Status of an exit code, and whether it means a cancel.
fn classify(rc: i32, check: bool, input: &Input<'_>) -> (Status, bool) {
    let canceled = input.options.canceled.unwrap_or(Status::Failure);
    match rc {
        0 => (Status::Success, false),
        _ if check => (Status::Failure, matches!(rc, 129 | 130 | 143)),
        1 | 100..=127 => (Status::Warning, false),
        129 | 130 | 143 => (canceled, true),
        _ => (Status::Failure, false),
    }
}

fn describe(rc: i32) -> String {
    match rc {
        0 => "borg succeeded (rc 0)".into(),
        1 => "borg finished with warnings (rc 1)".into(),
        2 => "borg failed (rc 2)".into(),
        13 => "the repository does not exist (rc 13)".into(),
        52 => "wrong passphrase (rc 52)".into(),
        73 => "the repository is locked (rc 73)".into(),
        3..=99 => format!("borg failed (rc {rc})"),
        105 => "some files could not be read: permission denied (rc 105)".into(),
        107 => "a source file was not found (rc 107)".into(),
        100..=127 => format!("borg finished with warnings (rc {rc})"),
        128.. => format!("borg was killed by signal {} (rc {rc})", rc - 128),
        _ => format!("borg exited with code {rc}"),
    }
}

/// Archive names usually end in a `{now}` timestamp: `web01-2026-11-24T08:05:40` -> `web01`.
/// The stable part is the job; a name without a timestamp is the job as it is.
fn job_from_archive(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let mut cut = b.len();
    for i in 0..b.len() {
        // YYYY-MM (or . _ as separator), 19xx or 20xx, not inside a longer number.
        let is_year = b.len() >= i + 7
            && (b[i..i + 2] == *b"19" || b[i..i + 2] == *b"20")
            && b[i + 2..i + 4].iter().all(u8::is_ascii_digit)
            && matches!(b[i + 4], b'-' | b'.' | b'_')
            && b[i + 5..i + 7].iter().all(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_digit());
        if is_year {
            cut = i;
            break;
        }
    }
    let stem = name[..cut].trim_end_matches(['-', '_', '.', ' ', ':']);
    (!stem.is_empty()).then(|| stem.to_string())
}

fn epoch(t: f64) -> Option<DateTime<Utc>> {
    if !t.is_finite() || !(0.0..1e12).contains(&t) {
        return None;
    }
    Utc.timestamp_millis_opt((t * 1000.0) as i64).single()
}

fn outcome(mut run: Run, input: &Input<'_>) -> Outcome {
    if run.in_traceback {
        // The paste ends inside a traceback: borg crashed, the exception line is cut off.
        run.fatal = true;
        keep(
            &mut run.errors,
            &mut run.dropped,
            "borg printed a traceback (the output ends before its exception line)",
        );
    }
    let rc = input.exit_code.or(run.rc);
    let archive = run.doc.as_ref().and_then(|d| d.archive.as_ref());
    let stats = archive.and_then(|a| a.stats.as_ref());
    let name = archive
        .and_then(|a| a.name.clone())
        .or(run.text_archive.clone());
    let job = name
        .as_deref()
        .and_then(job_from_archive)
        .unwrap_or_else(|| input.options.job.clone());
    let mut o = Outcome::new(job, Status::Success);
    o.tool = Some("borg".into());
    o.files = stats.and_then(|s| s.nfiles).or(run.text_files);
    o.bytes = stats.and_then(|s| s.deduplicated_size).or(run.text_dedup);
    o.duration_s = archive
        .and_then(|a| a.duration)
        .or(run.text_duration)
        .filter(|d| d.is_finite() && (0.0..1e9).contains(d));
    o.finished = run.last_time.and_then(epoch).or(input.meta.modified);
    if let (Some(end), Some(d)) = (o.finished, o.duration_s) {
        o.started = end.checked_sub_signed(Duration::milliseconds((d * 1000.0) as i64));
    }
    if o.started.is_none() && o.duration_s.is_none() {
        o.started = run
            .first_time
            .and_then(epoch)
            .filter(|s| Some(*s) != o.finished);
    }

    let check_failed = run.check_verdict == Some(false);
    let mut why = None;
    let (mut status, code_canceled) = match rc {
        Some(rc) if input.exit_code.is_some() => classify(rc, run.check, input),
        // The rc line of the file belongs to another command when the text shows a run-ending
        // error (the quickstart script's `borg create` failed on its arguments, its `borg
        // prune --show-rc` says rc 0).
        Some(rc) if (run.fatal || check_failed) && rc <= 1 => {
            (Status::Failure, classify(rc, run.check, input).1)
        }
        Some(rc) => classify(rc, run.check, input),
        None if run.fatal || !run.errors.is_empty() || check_failed => (Status::Failure, false),
        None if run.check && run.check_verdict.is_none() && run.doc.is_none() => {
            why = Some("no exit code and no final line: the check output ends before its verdict");
            (Status::Unknown, false)
        }
        None if !run.warnings.is_empty() => (Status::Warning, false),
        None if run.doc.is_some() || run.stats_block || run.prune || run.check => {
            (Status::Success, false)
        }
        // Log lines only, no document, no stats and no rc: not enough to call it a success.
        None => {
            why = Some("no exit code and no final line (no --stats block, --show-rc line or check verdict)");
            (Status::Unknown, false)
        }
    };
    let canceled = run.canceled || code_canceled;
    if canceled {
        status = input.options.canceled.unwrap_or(Status::Failure);
    }
    // Plain lines have no level: they are whatever the rc says.
    let plain = std::mem::take(&mut run.plain);
    match status {
        Status::Failure => run.errors.extend(plain),
        Status::Warning => run.warnings.extend(plain),
        _ => {}
    }

    let mut parts = Vec::new();
    if canceled {
        parts.push("interrupted".to_string());
    }
    if run.check {
        parts.push(if status == Status::Success {
            "check: no problems found".into()
        } else {
            "check: errors found".into()
        });
    }
    if let Some(n) = &name {
        parts.push(format!("archive {n}"));
    }
    if let Some(f) = o.files {
        parts.push(format!("{f} files"));
    }
    if let Some(b) = o.bytes {
        parts.push(format!("{} added", human_bytes(b)));
    }
    if let Some(b) = stats.and_then(|s| s.original_size).or(run.text_original) {
        parts.push(format!("{} processed", human_bytes(b)));
    }
    if !run.warnings.is_empty() {
        let n = run.warnings.len();
        parts.push(format!("{n} warning{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(rc) = rc.filter(|&rc| rc != 0) {
        parts.push(describe(rc));
    }
    if let Some(e) = run.errors.first() {
        parts.push(e.clone());
    }
    if run.doc.is_none()
        && !run.stats_block
        && !run.check
        && !run.prune
        && status == Status::Failure
    {
        parts.push("no archive was created".into());
    }
    if run.prune {
        parts.push(if run.prune_kept > 0 || run.prune_pruned > 0 {
            format!(
                "prune: {} archives pruned, {} kept",
                run.prune_pruned, run.prune_kept
            )
        } else {
            "prune".into()
        });
    }
    if let Some(why) = why {
        parts.push(why.into());
    }
    zero_files(
        input,
        o.files,
        &mut status,
        &mut parts,
        "zero files in the archive",
    );
    note_dropped(&mut run.warnings, run.dropped);
    if let Some(rc) = rc.filter(|&rc| rc != 0 && status == Status::Failure && !canceled) {
        run.errors.push(describe(rc));
    }
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
    use crate::formats::Options;

    fn run_with(body: &[u8], code: Option<i32>, options: &Options) -> Outcome {
        let path = "/var/log/nagbridge/borg-nightly.log";
        test_support::single(Format::Borg, path, body, code, options)
    }

    fn run(body: &[u8], code: Option<i32>) -> Outcome {
        run_with(body, code, &job("nightly"))
    }

    fn fixture(name: &str) -> Vec<u8> {
        test_support::fixture("borg", name)
    }

    const DOC: &str = r#"{
    "archive": {
        "command_line": ["/usr/bin/borg", "create", "--json", "b::web01-2026-11-24T09:27:54", "src"],
        "duration": 0.002917,
        "end": "2026-11-24T09:27:54.000000",
        "id": "4a5c",
        "limits": {"max_archive_size": 2.2e-05},
        "name": "web01-2026-11-24T09:27:54",
        "start": "2026-11-24T09:27:54.000000",
        "stats": {"compressed_size": 100474, "deduplicated_size": 100474, "nfiles": 2, "original_size": 100504}
    },
    "cache": {"path": "/root/.cache/borg/f0", "stats": {"total_chunks": 4}},
    "encryption": {"mode": "none"},
    "repository": {"id": "f0", "last_modified": "2026-11-24T09:27:54.000000", "location": "/tmp/b"}
}
"#;

    #[test]
    fn create_json_success() {
        let body = format!("{DOC}{{\"type\": \"log_message\", \"time\": 1795512474.69, \"message\": \"terminating with success status, rc 0\", \"levelname\": \"INFO\", \"name\": \"borg.output.show-rc\"}}\n");
        for code in [Some(0), None] {
            let o = run(body.as_bytes(), code);
            assert_eq!(o.status, Status::Success);
            assert_eq!(o.job, "web01");
            assert_eq!((o.files, o.bytes), (Some(2), Some(100474)));
            assert!(o.finished.is_some() && o.started.is_some());
            assert!(o
                .summary
                .unwrap()
                .contains("archive web01-2026-11-24T09:27:54"));
        }
        // The document alone: success from the content.
        assert_eq!(run(DOC.as_bytes(), None).status, Status::Success);
    }

    #[test]
    fn warnings_legacy_rc() {
        let body = format!(
            "{DOC}{}\n{}\n{}\n",
            r#"{"type": "log_message", "time": 1795512475.08, "message": "/proc/self/mem: read: [Errno 5] Input/output error", "levelname": "WARNING", "name": "borg.archiver"}"#,
            r#"{"type": "log_message", "time": 1795512475.08, "message": "/tmp/missing: [Errno 2] No such file or directory: 'missing'", "levelname": "WARNING", "name": "borg.archiver"}"#,
            r#"{"type": "log_message", "time": 1795512475.22, "message": "terminating with warning status, rc 1", "levelname": "WARNING", "name": "borg.output.show-rc"}"#
        );
        for code in [Some(1), None] {
            let o = run(body.as_bytes(), code);
            assert_eq!(o.status, Status::Warning);
            assert_eq!(o.warnings.len(), 2);
            assert!(o.errors.is_empty());
        }
        // borgmatic-style override: treat rc 1 as an error.
        let mut options = job("j");
        options.exit_codes.insert(1, Status::Failure);
        assert_eq!(
            run_with(body.as_bytes(), Some(1), &options).status,
            Status::Failure
        );
    }

    #[test]
    fn missing_repository() {
        let body = br#"{"type": "log_message", "time": 1795512475.49, "message": "Repository /tmp/nore does not exist.", "levelname": "ERROR", "name": "borg.archiver", "msgid": "Repository.DoesNotExist"}
{"type": "log_message", "time": 1795512475.49, "message": "terminating with error status, rc 2", "levelname": "ERROR", "name": "borg.output.show-rc"}
"#;
        let o = run(body, None);
        assert_eq!(o.status, Status::Failure);
        assert_eq!(
            o.errors[0],
            "Repository /tmp/nore does not exist. [Repository.DoesNotExist]"
        );
        assert_eq!(o.job, "nightly");
    }

    #[test]
    fn modern_exit_codes() {
        for (rc, want) in [
            (0, Status::Success),
            (1, Status::Warning),
            (2, Status::Failure),
            (13, Status::Failure),
            (99, Status::Failure),
            (100, Status::Warning),
            (105, Status::Warning),
            (127, Status::Warning),
            (128 + 9, Status::Failure),
            (143, Status::Failure),
            (-1, Status::Failure),
        ] {
            assert_eq!(run(DOC.as_bytes(), Some(rc)).status, want, "rc {rc}");
        }
        let o = run(&fixture("1.4-modern-permission.log"), None);
        assert_eq!(o.status, Status::Warning);
        assert!(
            o.warnings[0].contains("[BackupPermissionError]"),
            "{:?}",
            o.warnings
        );
        assert!(o.summary.unwrap().contains("rc 105"));
        let o = run(&fixture("1.4-modern-no-repo.log"), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors[0].contains("Repository.DoesNotExist"));
        let o = run(&fixture("1.4-modern-sigterm.log"), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.summary.unwrap().starts_with("interrupted"));
    }

    #[test]
    fn check_rc_1_is_a_failure() {
        let o = run(&fixture("1.2-check-corrupt.log"), Some(1));
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors.iter().any(|e| e.contains("errors found")));
        assert!(o.summary.unwrap().contains("check: errors found"));
    }

    #[test]
    fn text_stats_block() {
        let body = b"/srv/x: [Errno 13] Permission denied: 'x'\n------------------------------------------------------------------------------\nArchive name: warntext-2026-11-24T08:05:40\nArchive fingerprint: 0123\nTime (start): Tue, 2026-11-24 08:05:40\nTime (end):   Tue, 2026-11-24 08:05:40\nDuration: 0.00 seconds\nNumber of files: 4\nThis archive:              600.54 kB            600.70 kB                519 B\n------------------------------------------------------------------------------\nterminating with warning status, rc 1\n";
        let o = run(body, None);
        assert_eq!(o.status, Status::Warning);
        assert_eq!((o.job.as_str(), o.files), ("warntext", Some(4)));
        assert_eq!(o.warnings, ["/srv/x: [Errno 13] Permission denied: 'x'"]);
    }

    #[test]
    fn zero_files_and_empty() {
        let body = DOC.replace("\"nfiles\": 2", "\"nfiles\": 0");
        assert_eq!(run(body.as_bytes(), Some(1)).status, Status::Warning);
        let options = Options {
            zero_files: Some(Status::Failure),
            ..job("j")
        };
        assert_eq!(
            run_with(body.as_bytes(), Some(1), &options).status,
            Status::Failure
        );
        assert_eq!(run(b"", None).status, Status::Unknown);
        let o = run(b"", Some(2));
        assert_eq!(o.status, Status::Failure);
    }

    #[test]
    fn archive_names() {
        assert_eq!(
            job_from_archive("web01-2026-11-24T08:05:40").as_deref(),
            Some("web01")
        );
        assert_eq!(job_from_archive("db_2026.11.24").as_deref(), Some("db"));
        assert_eq!(job_from_archive("a1").as_deref(), Some("a1"));
        assert_eq!(job_from_archive("2026-11-24"), None);
        assert_eq!(
            job_from_archive("host1234-x").as_deref(),
            Some("host1234-x")
        );
    }

    #[test]
    fn text_mode_without_log_json() {
        // The 1.x stats block without --show-rc: the archive was committed.
        let stats = b"------------------------------------------------------------------------------\nArchive name: Tuesday\nArchive fingerprint: bd31\nTime (start): Tue, 2016-02-16 18:15:11\nDuration: 1 minutes 0.19 seconds\nNumber of files: 127\n------------------------------------------------------------------------------\n                       Original size      Compressed size    Deduplicated size\nThis archive:                4.16 MB              4.17 MB             26.78 kB\n";
        let o = run(stats, None);
        assert_eq!(o.status, Status::Success, "{o:?}");
        assert_eq!(
            (o.files, o.bytes, o.duration_s),
            (Some(127), Some(26_780), Some(60.19))
        );
        assert!(o.summary.unwrap().contains("4.2 MB processed"));
        // borg 2's block.
        let o = run(b"Repository: /r\nArchive name: docs\nNumber of files: 699\nOriginal size: 31.14 MB\nDeduplicated size: 502 B\n", None);
        assert_eq!((o.status, o.bytes), (Status::Success, Some(502)));
        // A warning line before the block; a wrapper's exit status after it.
        let warned = [&b"/srv/x: file changed while we backed it up\n"[..], stats].concat();
        assert_eq!(run(&warned, None).status, Status::Warning);
        let rc1 = [stats, &b"\nexit status: 1\n"[..]].concat();
        assert_eq!(run(&rc1, None).status, Status::Warning);
        // Quiet borg: warning lines only.
        let o = run(
            b"src/rootonly: open: [Errno 13] Permission denied: 'src/rootonly'\n",
            None,
        );
        assert_eq!((o.status, o.warnings.len()), (Status::Warning, 1));
        // Nothing that shows the end: unknown, with the reason.
        let o = run(
            b"Creating archive at \"ssh://u@h/./repo::x\"\nsome/file\n",
            None,
        );
        assert_eq!(o.status, Status::Unknown);
        assert!(o
            .summary
            .unwrap()
            .contains("no exit code and no final line"));
    }

    #[test]
    fn text_errors_end_the_run() {
        for body in [
            &b"borg: error: unrecognized arguments: --json\n"[..],
            b"usage: borg [-h] [-V] <command> ...\nborg: error: unrecognized arguments: --show-rc\n",
            b"Remote: ssh_exchange_identification: Connection closed by remote host\nConnection closed by remote host. Is borg working on the server?\n",
            b"Failed to create/acquire the lock /r/lock.exclusive (timeout).\n",
            b"Repository /tmp/nore does not exist.\n",
            b"Local Exception\nTraceback (most recent call last):\n  File \"borg/archiver.py\", line 1, in main\nFileNotFoundError: [Errno 2] No such file or directory: '/media/x'\n",
        ] {
            let o = run(body, None);
            assert_eq!(o.status, Status::Failure, "{}", String::from_utf8_lossy(body));
            assert!(o.summary.unwrap().contains("no archive was created"));
            assert!(test_support::looks(looks_like, body), "{}", String::from_utf8_lossy(body));
        }
        // The rc 0 of the script's next command does not hide the failed create.
        let o = run(b"borg create: error: argument ARCHIVE: \"x\": No archive specified\nterminating with success status, rc 0\n", None);
        assert_eq!(o.status, Status::Failure);
        // Under wrap the command's own exit code decides.
        assert_eq!(
            run(b"Repository /r does not exist.\n", Some(2)).status,
            Status::Failure
        );
    }

    #[test]
    fn text_check_and_prune() {
        let ok = b"Starting repository check\nCompleted repository check, no problems found.\nStarting archive consistency check...\nArchive consistency check complete, no problems found.\n";
        let o = run(ok, None);
        assert_eq!(
            (o.status, o.summary.as_deref()),
            (Status::Success, Some("check: no problems found"))
        );
        let bad =
            b"1 orphaned objects found!\nArchive consistency check complete, problems found.\n";
        assert_eq!(run(bad, None).status, Status::Failure);
        assert_eq!(
            run(bad, Some(0)).status,
            Status::Success,
            "wrap: rc 0 decides"
        );
        let o = run(
            b"Starting repository check\nchecking segment file /r/data/16/16859...\n",
            None,
        );
        assert_eq!(o.status, Status::Unknown);
        let prune = b"Keeping archive (rule: daily #1):        boot-714-2023-03-11T13:00:06         ...\nPruning archive (1/6):                   boot-629-2023-03-08T00:00:13         ...\n";
        assert_eq!(run(prune, None).status, Status::Success);
        assert_eq!(run(prune, Some(2)).status, Status::Failure);
    }

    #[test]
    fn text_hostile_numbers() {
        let body = b"Archive name: a\nNumber of files: 99999999999999999999\nDuration: 3000000000:00:00 seconds\nDuration: 1e308 days\nThis archive: 99999999999999999999999 EB 1 B 1e400 PB\nDeduplicated size: -9223372036854775808 B\nterminating with success status, rc 99999999999\nexit status: -9223372036854775808\n";
        let o = run(body, None);
        assert_eq!((o.files, o.bytes, o.duration_s), (None, None, None));
        assert_eq!(o.status, Status::Success);
        let _ = run(body, Some(i32::MIN));
        let _ = run(body, Some(i32::MAX));
    }

    #[test]
    fn detection_and_garbage() {
        let looks = |b: &[u8]| test_support::looks(looks_like, b);
        assert!(looks(DOC.as_bytes()));
        assert!(looks(&fixture("1.4-modern-no-repo.log")));
        assert!(!looks(b"{\"message_type\":\"summary\"}"));
        assert!(!looks(b"{\"status\":\"ok\"}"));
        assert!(looks(b"var/lib/x: file changed while we backed it up\n"));
        assert!(looks(
            b"Archive consistency check complete, problems found.\n"
        ));
        assert!(looks(
            b"Keeping archive: a   Mon, 2019-04-15 06:45:19 [81]\n"
        ));
        assert!(!looks(b"snapshot 40dc1520 saved\n"));
        assert!(!looks(
            b"FileNotFoundError: [Errno 2] No such file or directory: '/x'\n"
        ));
        assert!(!looks(b"Connection closed by remote host\n"));
        for body in [
            &b"{"[..],
            b"{\n",
            b"{\n\"archive\": 5\n}\n",
            b"{\"type\":\"log_message\",\"time\":1e300}",
            b"{\"type\":\"log_message\",\"time\":-5,\"message\":\"terminating with x status, rc 99999999999\",\"name\":\"borg.output.show-rc\"}",
            b"Duration: nan seconds\nDuration: 1e309 seconds\n",
            b"Archive name: 9999-",
        ] {
            let _ = run(body, None);
            let _ = run(body, Some(i32::MIN));
        }
    }

    #[test]
    fn wrapper_json_log_lines_quote_borg() {
        let body = r#"ERROR:app.core.borg:{"command": "borg list /b", "return_code": 2, "stderr": "Failed to create/acquire the lock /b/lock.exclusive (timeout).\n", "event": "Command failed"}
"#;
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors[0].starts_with("Failed to create/acquire the lock"));
        assert!(test_support::looks(looks_like, body.as_bytes()));
    }

    #[test]
    fn remote_check_problems_and_several_create_runs() {
        let body = "$ borg check -v host:repo --repository-only\nRemote: Starting repository check\nRemote: Invalid segment entry size [segment 96, offset 665]\n";
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors[0].starts_with("Invalid segment entry size"));
        assert!(test_support::looks(looks_like, body.as_bytes()));
        // A wrapper running `borg create --stats` once per source: one run each.
        let block = |name: &str, files: u32| {
            format!("Archive name: {name}\nNumber of files: {files}\nThis archive:   1.00 MB   1.00 MB   1.00 kB\n")
        };
        let body = format!(
            "-- WEB --\n{}Keeping archive: a\n{}{}",
            block("web-2023-02-26", 3),
            block("mail-2023-02-26", 4),
            "terminating with warning status, rc 1\n"
        );
        let meta = crate::formats::FileMeta::for_path("/var/log/borg.log");
        let many = |code| {
            test_support::parse_as(Format::Borg, &meta, body.as_bytes(), code, &job("x"), true)
        };
        let p = many(Some(0));
        let got: Vec<(String, Status, Option<u64>)> = p
            .outcomes
            .iter()
            .map(|o| (o.job.clone(), o.status, o.files))
            .collect();
        assert_eq!(
            got,
            [
                ("web".to_string(), Status::Success, Some(3)),
                ("mail".to_string(), Status::Success, Some(4)),
            ]
        );
        // Without `wrap`, the rc line of the file is the last run's.
        let p = many(None);
        let st: Vec<Status> = p.outcomes.iter().map(|o| o.status).collect();
        assert_eq!(st, [Status::Success, Status::Warning]);
        // A systemd unit that runs borg: its exit code.
        let body = "    Process: 7 ExecStart=/usr/bin/borg create --stats r::a /home (code=exited, status=2/INVALIDARGUMENT)\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Failure);
        assert!(test_support::looks(looks_like, body.as_bytes()));
    }

    #[test]
    fn errors_that_end_a_run_in_every_shape() {
        // borg 2: `Error:`, a blank line, the exception.
        let body = "x: stat: [Errno 2] No such file or directory: 'x'\nError:\n\nNotLocked: Failed to release the lock <Store> (was not locked).\n";
        let o = run(body.as_bytes(), None);
        assert_eq!(o.status, Status::Failure);
        assert!(o.errors.iter().any(|e| e.starts_with("NotLocked")));
        // borg 1.0: the server's exception in an RPC call.
        let body = "Remote: Borg 1.0.6: exception in RPC call:\nRemote: Traceback (most recent call last):\nRemote:   File \"/x/borg/locking.py\", line 136, in acquire\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Failure);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        // A paste cut inside a traceback: borg crashed.
        let body = "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/borg/archiver.py\", line 85, in wrapper\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Failure);
        // borg 0.x puts `borg: ` in front of its messages; a prompt glued to the error line.
        let body = "borg: /x: [Errno 13] Permission denied: '/x'\nEnter passphrase for key /k: borg: Error: Keyboard interrupt.\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Failure);
        // A Python logger's time stamp and level in front of borg's warning.
        let body = "2026-08-10 20:25:50,791 [WARNING] borg: C:\\x: open: [Errno 13] Permission denied: 'C:\\\\x'\n";
        assert_eq!(run(body.as_bytes(), None).status, Status::Warning);
    }

    #[test]
    fn hostile_wrapper_return_codes() {
        for n in [
            "99999999999999999999",
            "-9223372036854775808",
            "1e308",
            "3000000000",
        ] {
            let body = format!("ERROR:app.core.borg:{{\"return_code\": {n}, \"stderr\": \"Failed to create/acquire the lock /b/lock.exclusive (timeout).\\n\"}}\n");
            assert_eq!(run(body.as_bytes(), None).status, Status::Failure, "{n}");
        }
    }

    #[test]
    fn nested_document_as_borg_prints_it_and_quoted() {
        let doc = "{\n    \"archive\": {\n        \"command_line\": [\n            \"/usr/bin/borg\",\n            \"create\"\n        ],\n        \"duration\": 0.002792,\n        \"limits\": {\n            \"max_archive_size\": 2.2e-05\n        },\n        \"name\": \"web01-2026-12-02T13:47:04\",\n        \"stats\": {\n            \"deduplicated_size\": 492,\n            \"nfiles\": 2,\n            \"original_size\": 535\n        }\n    },\n    \"encryption\": {\n        \"mode\": \"none\"\n    }\n}\n{\"type\": \"log_message\", \"time\": 1795512474.69, \"message\": \"terminating with success status, rc 0\", \"levelname\": \"INFO\", \"name\": \"borg.output.show-rc\"}\n";
        let quoted: String = doc.lines().map(|l| format!("> {l}\n")).collect();
        for body in [doc.to_string(), quoted] {
            let o = run(body.as_bytes(), None);
            assert_eq!(o.status, Status::Success);
            assert_eq!(
                (o.job.as_str(), o.files, o.bytes),
                ("web01", Some(2), Some(492))
            );
        }
    }
}
