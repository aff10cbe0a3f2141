//! restic: `restic backup --json` output (stdout and stderr captured in one file), and the
//! outputs of `restic check` and `restic forget --json`.
//!
//! Owns: reading restic's JSON lines (`message_type` `status`, `summary`, `error`,
//! `exit_error`, anything else ignored), the plain-text lines restic 0.14 mixes in (`Fatal:`,
//! `Warning:`, `signal interrupt received`) with ANSI escapes stripped, and the exit-code rules
//! of the research note (0 ok, 3 warning, 130 canceled, anything else failure). One file is one
//! run. Must not do I/O or read the clock.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_until};
use nom::combinator::{map, rest};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};
use serde::Deserialize;
use serde_json::Value;

use super::common::{head, keep, note_dropped, zero_files};
use super::{Format, Input, Parsed};
use crate::outcome::{human_bytes, Outcome, Status};

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

/// Which restic command produced the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Backup,
    Check,
    Forget,
}

/// A plain-text line restic prints besides its JSON.
#[derive(Debug, PartialEq, Eq)]
enum Text<'a> {
    Fatal(&'a str),
    Warning(&'a str),
    Interrupted,
    Skipped(&'a str),
    CheckOk,
    CheckStep,
    Other,
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
    command: Option<Command>,
    forget_removed: u64,
    forget_kept: u64,
    last_files_done: Option<u64>,
    last_bytes_done: Option<u64>,
    json_lines: usize,
}

impl Run {
    fn error(&mut self, msg: String) {
        keep(&mut self.errors, &mut self.dropped, msg);
    }
    fn warning(&mut self, msg: String) {
        keep(&mut self.warnings, &mut self.dropped, msg);
    }
}

/// Parse restic output. The whole input is one run and is always consumed.
pub fn parse(input: &Input<'_>) -> Parsed {
    let clean = strip_ansi(input.bytes);
    let text = String::from_utf8_lossy(&clean);
    if text.trim().is_empty() {
        let mut o = Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            "the file is empty (restic printed nothing)",
        );
        o.tool = Some("restic".into());
        if let Some(code) = input.exit_code {
            o.status = status_for_code(code, input).unwrap_or(Status::Failure);
        }
        return Parsed::whole(input, vec![o], Format::Restic);
    }
    let mut run = Run::default();
    for line in text.lines() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\r');
        if line.is_empty() {
            continue;
        }
        if line.starts_with('{') || line.starts_with('[') {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                run.json_lines += 1;
                json_line(&mut run, v);
                continue;
            }
        }
        text_line(&mut run, line);
    }
    Parsed::whole(input, vec![outcome(run, input)], Format::Restic)
}

/// True when the input looks like restic output: a JSON line with `message_type`, a
/// `forget --json` group list, or `restic check` text.
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let clean = strip_ansi(head);
    let text = String::from_utf8_lossy(&clean);
    text.lines().take(200).any(|l| {
        let l = l.trim_start();
        (l.starts_with("{\"message_type\":") && l.contains('"'))
            || (l.starts_with("[{\"tags\":") && l.contains("\"keep\":"))
            || l.starts_with("check snapshots, trees and blobs")
            || l.starts_with("Is there a repository at the following location?")
            || l.starts_with("Fatal: wrong password or no key found")
            || l.starts_with("Fatal: unable to open config file")
            || l.starts_with("Fatal: all target directories/files do not exist")
    })
}

fn json_line(run: &mut Run, v: Value) {
    if let Value::Array(groups) = &v {
        // `forget --json`: [{tags, host, paths, keep[], remove[], reasons[]}]
        run.command = Some(Command::Forget);
        for g in groups {
            run.forget_kept += g
                .get("keep")
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64);
            run.forget_removed += g
                .get("remove")
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64);
        }
        return;
    }
    let kind = v.get("message_type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "summary" => {
            let s: Summary = serde_json::from_value(v).unwrap_or_default();
            if s.num_errors.is_some() {
                run.command = Some(Command::Check);
            } else if run.command.is_none() {
                run.command = Some(Command::Backup);
            }
            run.summary = Some(s);
        }
        "status" => {
            run.last_files_done = v.get("files_done").and_then(Value::as_u64);
            run.last_bytes_done = v.get("bytes_done").and_then(Value::as_u64);
        }
        "error" => {
            let msg = error_text(&v);
            run.error(msg);
        }
        "exit_error" => {
            let code = v.get("code").and_then(Value::as_i64).map(|c| c as i32);
            run.exit_code = run.exit_code.or(code);
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("restic exited with an error")
                .trim();
            match code {
                Some(3) => {
                    run.unreadable = true;
                    let m = msg.strip_prefix("Warning: ").unwrap_or(msg);
                    run.warning(m.to_string());
                }
                Some(130 | 143) => run.interrupted = true,
                _ => {
                    run.fatal = true;
                    let m = msg.strip_prefix("Fatal: ").unwrap_or(msg);
                    run.error(format!("fatal: {m}"));
                }
            }
        }
        // verbose_status, excluded_item and any message type added later: nothing to count.
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
    match classify_text(line) {
        Text::Fatal(m) => {
            run.fatal = true;
            run.error(format!("fatal: {m}"));
        }
        Text::Warning(m) => {
            if m.contains("could not be read") {
                run.unreadable = true;
            }
            run.warning(m.to_string());
        }
        Text::Interrupted => run.interrupted = true,
        Text::Skipped(path) => run.warning(format!("{path} does not exist, skipped")),
        Text::CheckOk => run.command = Some(Command::Check),
        Text::CheckStep => {
            if run.command.is_none() {
                run.command = Some(Command::Check);
            }
        }
        Text::Other => {}
    }
}

/// nom grammar for restic's plain-text lines.
fn classify_text(line: &str) -> Text<'_> {
    fn parser(i: &str) -> IResult<&str, Text<'_>> {
        alt((
            map(preceded(tag("Fatal: "), rest), Text::Fatal),
            map(preceded(tag("Warning: "), rest), Text::Warning),
            map(tag("signal interrupt received"), |_| Text::Interrupted),
            map(tag("signal terminated received"), |_| Text::Interrupted),
            map(tag("no errors were found"), |_| Text::CheckOk),
            map(tag("check snapshots, trees and blobs"), |_| Text::CheckStep),
            map(
                terminated(take_until(" does not exist, skipping"), rest),
                Text::Skipped,
            ),
        ))
        .parse(i)
    }
    match parser(line) {
        Ok((_, t)) => t,
        Err(_) if line.contains("repository contains errors") => Text::Fatal(line),
        Err(_) => Text::Other,
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

fn outcome(mut run: Run, input: &Input<'_>) -> Outcome {
    let code = input.exit_code.or(run.exit_code);
    let command = run.command.unwrap_or(Command::Backup);
    let mut o = Outcome::new(input.options.job.clone(), Status::Success);
    o.tool = Some("restic".into());
    o.finished = input.meta.modified;
    let canceled = run.interrupted || matches!(code, Some(130 | 143));
    let canceled_status = input.options.canceled.unwrap_or(Status::Failure);

    let mut status = match command {
        Command::Check => {
            let num = run.summary.as_ref().and_then(|s| s.num_errors).unwrap_or(0);
            if num > 0 {
                run.error(format!("the check found {num} errors"));
            }
            if run.fatal || num > 0 || code.is_some_and(|c| c != 0) {
                Status::Failure
            } else {
                Status::Success
            }
        }
        Command::Forget => match code {
            Some(3) => Status::Warning,
            Some(c) if c != 0 => Status::Failure,
            _ if run.fatal => Status::Failure,
            _ => Status::Success,
        },
        Command::Backup => match code.and_then(|c| status_for_code(c, input)) {
            Some(s) => s,
            None if canceled => canceled_status,
            None if run.fatal => Status::Failure,
            None if run.summary.is_none() => Status::Failure,
            None if code.is_none() && (run.unreadable || !run.errors.is_empty()) => Status::Warning,
            None if !run.warnings.is_empty() || !run.errors.is_empty() => Status::Warning,
            None => Status::Success,
        },
    };
    if canceled {
        status = canceled_status;
    }

    let mut parts: Vec<String> = Vec::new();
    match command {
        Command::Backup => {
            if let Some(s) = &run.summary {
                o.duration_s = s.total_duration;
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
                    s.total_files_processed.unwrap_or(new + changed),
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
            } else {
                o.files = run.last_files_done;
                parts.push("no snapshot was saved (no summary line)".into());
            }
        }
        Command::Check => parts.push(if status == Status::Success {
            "check: no errors were found".into()
        } else {
            "check: the repository has errors".into()
        }),
        Command::Forget => parts.push(format!(
            "forget: {} snapshots removed, {} kept",
            run.forget_removed, run.forget_kept
        )),
    }
    let bad_reads = run
        .errors
        .iter()
        .filter(|e| !e.starts_with("fatal: "))
        .count();
    if command == Command::Backup && bad_reads > 0 {
        parts.insert(
            0,
            format!(
                "{bad_reads} file{} could not be read",
                if bad_reads == 1 { "" } else { "s" }
            ),
        );
    }
    if canceled {
        parts.insert(0, "interrupted".into());
    }
    if let Some(c) = code.filter(|&c| c != 0 && !(c == 3 && bad_reads > 0)) {
        let reason = exit_reason(c);
        if command != Command::Backup || status != Status::Success {
            parts.push(reason.clone());
        }
        if c != 3 && !canceled {
            run.error(reason);
        }
    }
    if let Some(fatal) = run.errors.iter().find(|e| e.starts_with("fatal: ")) {
        parts.push(fatal.clone());
    }
    note_dropped(&mut run.warnings, run.dropped);
    if command == Command::Backup {
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

fn rfc3339(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
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
        let o = run(b"{\"message_type\":\"status\",\"files_done\":7}\n", None);
        assert_eq!((o.status, o.files), (Status::Failure, Some(7)));
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
    fn detection() {
        let looks = |b: &[u8]| test_support::looks(looks_like, b);
        assert!(looks(OK_014.as_bytes()));
        assert!(looks(b"\x1b[2K{\"message_type\":\"summary\"}\n"));
        assert!(!looks(b"{\"status\":\"ok\"}"));
        assert!(!looks(b"hello"));
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
}
