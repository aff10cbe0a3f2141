//! pgBackRest log and console lines, and the runs they make.
//!
//! Owns: the line grammar (`2026-11-24 08:12:03.676 P00   INFO: ...`, 1.x threads `T01`, the
//! `ASSERT` level, stderr console lines without timestamp and process (`ERROR: [037]: ...`,
//! `WARN: ...`, 1.x `ERROR [050]: : ...`), a log line behind a journald/syslog/operator prefix,
//! indented `HINT:` and stack continuation lines), and the runs: one outcome per command run
//! (`<cmd> command begin` .. `<cmd> command end: ...`), where
//! * the `expire` that pgBackRest runs right after a `backup` belongs to that backup's outcome
//!   (its failure makes a completed backup a warning);
//! * consecutive `archive-push`/`archive-get` runs (one per WAL segment) are one outcome, the last
//!   finished run deciding (an earlier failure that recovered is a warning);
//! * lines before any `begin` (a paste, console output) make a run of their own;
//! * a run without `command end` is a failure when it logged an error or a later `begin` shows it
//!   died, success/failure by the exit code under `wrap`, and otherwise unknown (killed, still
//!   running or output cut: the summary says so).
//!
//! The job is the stanza for `backup` runs and `<stanza>-<command>` for the others (the stanza
//! from `--stanza=` of the begin line, or of a shell/operator command line in the paste). Local
//! times without an offset are read as UTC. Under `complete == false` a run that may still grow
//! (no end yet, or a completed backup whose `expire` may follow) is left unconsumed.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::super::common::lines;
use super::super::{Format, Input, Parsed};
use super::TOOL;
use crate::outcome::{Item, Outcome, Status};

const MAX_MESSAGES: usize = 50;
const MAX_MESSAGE_LEN: usize = 1000;
/// pgBackRest's error code for "terminated on signal".
const TERM_ERROR: u32 = 63;
/// 2200-01-01T00:00:00Z.
const MAX_EPOCH: i64 = 7_258_118_400;

// ---------------------------------------------------------------------------------------------
// Line grammar (hand-written: every piece is optional in some version).

/// One recognised line.
#[derive(Debug, PartialEq)]
pub(super) struct Line<'a> {
    pub time: Option<DateTime<Utc>>,
    pub level: &'a str,
    /// `[056]` when the message starts with a code.
    pub code: Option<u32>,
    pub msg: &'a str,
    /// With a process id (`P00`/`T01`): a log line, not a bare console line.
    pub full: bool,
}

const LEVELS: &[&str] = &[
    "ERROR", "WARN", "INFO", "DETAIL", "DEBUG", "TRACE", "ASSERT",
];

/// `YYYY-MM-DD HH:MM:SS[.mmm]` at the start of `s`: the time (clamped to 1970..=2200) and the rest.
fn timestamp(s: &str) -> Option<(Option<DateTime<Utc>>, &str)> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let shape = b[..19].iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        10 => *c == b' ',
        13 | 16 => *c == b':',
        _ => c.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let mut end = 19;
    if b.get(19) == Some(&b'.') {
        end = 20 + b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    let text = s.get(..end)?;
    let time = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
        .filter(|t| (0..=MAX_EPOCH).contains(&t.timestamp()));
    Some((time, &s[end..]))
}

/// `P00` / `T01` followed by spaces.
fn process(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if !matches!(b.first(), Some(b'P' | b'T')) {
        return None;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || b.get(1 + digits) != Some(&b' ') {
        return None;
    }
    Some(s[1 + digits..].trim_start())
}

/// `LEVEL: msg`, `LEVEL: [056]: msg`, 1.x `LEVEL [050]: : msg`.
fn level_and_message(s: &str) -> Option<(&str, Option<u32>, &str)> {
    let level = LEVELS.iter().find(|l| s.starts_with(**l))?;
    let rest = &s[level.len()..];
    let (rest, old_code) = if let Some(r) = rest.strip_prefix(':') {
        (r, None)
    } else if let Some(r) = rest.strip_prefix(" [") {
        let (code, r) = r.split_once("]:")?;
        (r.strip_prefix(" :").unwrap_or(r), Some(code.parse().ok()?))
    } else {
        return None;
    };
    let rest = rest.trim_start();
    if let Some(code) = old_code {
        return Some((level, Some(code), rest));
    }
    match coded(rest) {
        Some((code, msg)) => Some((level, Some(code), msg)),
        None => Some((level, None, rest)),
    }
}

/// `[056]: message` -> (56, message)
fn coded(s: &str) -> Option<(u32, &str)> {
    let r = s.strip_prefix('[')?;
    let (code, r) = r.split_once(']')?;
    if code.is_empty() || code.len() > 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let r = r.strip_prefix(':').unwrap_or(r).trim_start();
    Some((code.parse().ok()?, r))
}

/// A full log line (`[time ]Pnn LEVEL: msg`) at the start of `s`.
fn full_line(s: &str) -> Option<Line<'_>> {
    let (time, rest) = match timestamp(s) {
        Some((t, r)) => (t, r.trim_start()),
        None => (None, s),
    };
    let rest = process(rest)?;
    let (level, code, msg) = level_and_message(rest)?;
    Some(Line {
        time,
        level,
        code,
        msg,
        full: true,
    })
}

/// Parse one raw line: a full log line (also indented, or behind a prefix such as
/// `Jun 21 17:42:58 host patroni[17801]: `), or a console line of stderr (`ERROR: [037]: ...`,
/// `WARN: ...`, `ASSERT [025]: : ...`) at the start of the line.
pub(super) fn line(raw: &str) -> Option<Line<'_>> {
    let t = raw.trim_start();
    if let Some(l) = full_line(t) {
        return Some(l);
    }
    // Console (stderr): no time, no process. Only the levels pgBackRest writes there, an error
    // must carry its code.
    if let Some((level, code, msg)) = level_and_message(t) {
        let ok = match level {
            "ERROR" | "ASSERT" => code.is_some(),
            "WARN" => !msg.is_empty(),
            _ => false,
        };
        if ok {
            return Some(Line {
                time: None,
                level,
                code,
                msg,
                full: false,
            });
        }
    }
    // A prefix (journald, syslog, kubectl): a timestamped line further on.
    let b = t.as_bytes();
    let mut i = 1;
    while i + 19 <= b.len() {
        if b[i].is_ascii_digit() && b[i - 1] == b' ' && t.is_char_boundary(i) {
            if let Some(l) = full_line(&t[i..]) {
                if l.time.is_some() {
                    return Some(l);
                }
            }
        }
        i += 1;
    }
    None
}

/// What the detector accepts: a full log line with a process id, or a coded console error.
pub(super) fn is_pgbackrest_line(raw: &str) -> bool {
    line(raw).is_some_and(|l| l.full || l.code.is_some())
}

/// `backup command begin 2.45: --stanza=demo ...` -> (command, options)
fn begin(msg: &str) -> Option<(&str, &str)> {
    let at = msg.find(" command begin")?;
    let cmd = &msg[..at];
    if cmd.is_empty() || !cmd.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        return None;
    }
    let rest = &msg[at + " command begin".len()..];
    let opts = rest.split_once(':').map_or("", |(_, o)| o);
    Some((cmd, opts))
}

/// `backup command end: completed successfully (3969ms)` -> (command, text)
fn end(msg: &str) -> Option<(&str, &str)> {
    let (cmd, text) = msg.split_once(" command end: ")?;
    if cmd.is_empty() || !cmd.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        return None;
    }
    Some((cmd, text.trim()))
}

/// `(3969ms)` inside an end line.
fn millis_in(s: &str) -> Option<u64> {
    let open = s.rfind('(')?;
    s[open + 1..].strip_suffix("ms)")?.parse().ok()
}

/// `22.1MB` with pgBackRest's 1024-based units; saturating, None for nonsense.
fn size(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit_at = s.find(|c: char| c.is_ascii_alphabetic())?;
    let n: f64 = s[..unit_at].trim().parse().ok()?;
    let unit: String = s[unit_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let mult: f64 = match unit.to_ascii_uppercase().as_str() {
        "B" => 1.0,
        "KB" | "KIB" => 1024.0,
        "MB" | "MIB" => 1_048_576.0,
        "GB" | "GIB" => 1_073_741_824.0,
        "TB" | "TIB" => 1_099_511_627_776.0,
        "PB" | "PIB" => 1_125_899_906_842_624.0,
        _ => return None,
    };
    let v = n * mult;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    // `as` saturates at u64::MAX for floats.
    Some(v as u64)
}

/// `full backup size = 22.1MB, file total = 964` (older versions: `backup size = ...`).
fn backup_size(msg: &str) -> Option<(u64, Option<u64>)> {
    let at = msg.find("backup size = ")?;
    let rest = &msg[at + "backup size = ".len()..];
    let bytes = size(rest.split(',').next().unwrap_or(rest))?;
    let files = rest.find("file total = ").and_then(|f| {
        let n = &rest[f + "file total = ".len()..];
        let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    Some((bytes, files))
}

fn option<'a>(opts: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("--{name}=");
    opts.split_whitespace()
        .find_map(|o| o.strip_prefix(key.as_str()))
        .map(|v| v.trim_matches(|c| c == '"' || c == '\'' || c == ']'))
        .filter(|v| !v.is_empty())
}

const COMMANDS: &[&str] = &[
    "archive-push",
    "archive-get",
    "backup",
    "check",
    "expire",
    "restore",
    "stanza-create",
    "stanza-upgrade",
    "stanza-delete",
    "verify",
    "start",
    "stop",
    "info",
];

/// A shell or operator line that runs pgBackRest: its stanza and command.
fn command_hint(raw: &str) -> Option<(Option<String>, Option<String>)> {
    if !raw.contains("pgbackrest") && !raw.contains("pg_backrest") {
        return None;
    }
    let stanza = raw
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .find_map(|w| w.strip_prefix("--stanza="))
        .map(|s| s.trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|s| !s.is_empty());
    let command = raw
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == ';')
        .rfind(|w| COMMANDS.contains(w))
        .map(str::to_string);
    (stanza.is_some() || command.is_some()).then_some((stanza, command))
}

// ---------------------------------------------------------------------------------------------
// Runs.

#[derive(Debug, Default)]
struct Run {
    command: String,
    stanza: Option<String>,
    exec_id: Option<String>,
    kind: Option<String>,
    started: Option<DateTime<Utc>>,
    label: Option<String>,
    bytes: Option<u64>,
    files: Option<u64>,
    errors: Vec<String>,
    warnings: Vec<String>,
    last_is_error: Option<bool>,
    canceled: bool,
    /// `(text, time)` of the `command end` line.
    ended: Option<(String, Option<DateTime<Utc>>)>,
    /// A later `begin` came before this run's end.
    died: bool,
    /// Made of lines before any `begin` (a paste that starts mid-way, or debug lines that
    /// pgBackRest logs before its `begin` line).
    headless: bool,
    /// The `expire` pgBackRest ran after this backup.
    expire: Option<Box<Run>>,
    /// Byte offsets: where its first line starts, where its last line ends.
    start: usize,
    end: usize,
}

impl Run {
    fn message(&mut self, error: bool, text: String) {
        let list = if error {
            &mut self.errors
        } else {
            &mut self.warnings
        };
        if list.len() < MAX_MESSAGES {
            list.push(text);
            self.last_is_error = Some(error);
        } else {
            self.last_is_error = None;
        }
    }

    fn continue_last(&mut self, more: &str) {
        let list = match self.last_is_error {
            Some(true) => &mut self.errors,
            Some(false) => &mut self.warnings,
            None => return,
        };
        if let Some(m) = list.last_mut() {
            if m.len() + more.len() < MAX_MESSAGE_LEN {
                m.push(' ');
                m.push_str(more);
            }
        }
    }

    fn is_archive(&self) -> bool {
        matches!(self.command.as_str(), "archive-push" | "archive-get")
    }

    fn completed(&self) -> bool {
        self.ended
            .as_ref()
            .is_some_and(|(t, _)| t.starts_with("completed successfully"))
    }

    /// Status and the reason when it is not from the end line.
    fn status(&self, input: &Input<'_>) -> (Status, Option<String>) {
        let what = self.what();
        match &self.ended {
            Some(_) if self.completed() => {
                let s = if self.warnings.is_empty() {
                    Status::Success
                } else {
                    Status::Warning
                };
                (s, None)
            }
            Some((text, _)) => (Status::Failure, Some(text.clone())),
            None if !self.errors.is_empty() => (Status::Failure, None),
            None if self.died => (
                Status::Failure,
                Some(format!("{what} command did not end (killed?)")),
            ),
            None => match input.exit_code {
                Some(0) => (
                    if self.warnings.is_empty() {
                        Status::Success
                    } else {
                        Status::Warning
                    },
                    None,
                ),
                Some(code) => (
                    Status::Failure,
                    Some(format!("{what} exited with code {code}")),
                ),
                None => (
                    Status::Unknown,
                    Some(format!(
                        "{what}: no `command end` line and no error (still running, killed, or output cut?)"
                    )),
                ),
            },
        }
    }

    fn what(&self) -> String {
        match (&self.kind, self.command.as_str()) {
            (Some(k), "backup") => format!("{k} backup"),
            (_, "") => "pgbackrest".to_string(),
            (_, cmd) => cmd.to_string(),
        }
    }

    fn job(&self, input: &Input<'_>) -> String {
        match (&self.stanza, self.command.as_str()) {
            (Some(s), "backup") => s.clone(),
            (Some(s), "") => s.clone(),
            (Some(s), cmd) => format!("{s}-{cmd}"),
            (None, _) => input.options.job.clone(),
        }
    }

    fn outcome(self, input: &Input<'_>) -> Outcome {
        let (mut status, reason) = self.status(input);
        let what = self.what();
        let mut o = Outcome::new(self.job(input), status);
        o.tool = Some(TOOL.into());
        o.started = self.started;
        o.bytes = self.bytes;
        o.files = self.files;
        if let Some((text, time)) = &self.ended {
            o.finished = *time;
            o.duration_s = millis_in(text).map(|ms| ms as f64 / 1000.0);
        } else {
            o.finished = input.meta.modified;
        }
        let mut canceled = self.canceled;
        if let Some((text, _)) = self.ended.as_ref().filter(|_| !self.completed()) {
            canceled |= text
                .find('[')
                .and_then(|i| coded(&text[i..]))
                .is_some_and(|(c, _)| c == TERM_ERROR);
        }
        o.errors = self.errors;
        o.warnings = self.warnings;
        if let Some(r) = reason.as_ref().filter(|_| status == Status::Failure) {
            if o.errors.is_empty() {
                o.errors.push(r.clone());
            }
        }
        // The automatic expire after a backup.
        let mut expire_note = None;
        if let Some(exp) = self.expire {
            let (es, _) = exp.status(input);
            if let Some((_, t)) = &exp.ended {
                o.finished = t.or(o.finished);
            }
            match es {
                Status::Success => {}
                Status::Warning => {
                    for w in exp.warnings {
                        o.warnings.push(format!("expire: {w}"));
                    }
                }
                _ => {
                    let why = exp
                        .errors
                        .first()
                        .cloned()
                        .or_else(|| exp.ended.as_ref().map(|(t, _)| t.clone()))
                        .unwrap_or_else(|| "expire did not end".into());
                    o.warnings.push(format!("expire failed: {why}"));
                    expire_note = Some("expire failed".to_string());
                }
            }
            if status == Status::Success && !o.warnings.is_empty() {
                status = Status::Warning;
            }
        }
        if canceled && status == Status::Failure {
            status = input.options.canceled.unwrap_or(Status::Failure);
        }
        o.status = status;
        let mut summary = match (&self.label, status) {
            (Some(l), Status::Success | Status::Warning) => format!("{what} {l} completed"),
            (_, Status::Success | Status::Warning) => format!("{what} completed"),
            (_, Status::Unknown) => reason.clone().unwrap_or_else(|| what.clone()),
            _ => format!(
                "{what} failed{}",
                o.errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        };
        if let Some(n) = expire_note {
            summary.push_str(&format!("; {n}"));
        }
        o.summary = Some(summary);
        if let Some(s) = self.stanza.filter(|_| self.command == "backup") {
            o.items.push(Item {
                name: s,
                status: o.status,
                bytes: o.bytes,
                message: self.label.map(|l| format!("backup {l}")),
            });
        }
        o
    }
}

/// Consecutive archive-push/get runs of one command: one outcome.
fn archive_outcome(group: Vec<Run>, input: &Input<'_>) -> Outcome {
    let total = group.len();
    let command = group
        .iter()
        .map(|r| r.command.clone())
        .find(|c| !c.is_empty())
        .unwrap_or_default();
    let stanza = group.iter().find_map(|r| r.stanza.clone());
    let started = group.iter().find_map(|r| r.started);
    let statuses: Vec<(Status, Option<String>)> = group.iter().map(|r| r.status(input)).collect();
    let failed: Vec<usize> = (0..total)
        .filter(|&i| statuses[i].0 == Status::Failure)
        .collect();
    let last_finished = (0..total).rev().find(|&i| statuses[i].0 != Status::Unknown);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for r in &group {
        for e in &r.errors {
            if errors.len() < MAX_MESSAGES {
                errors.push(e.clone());
            }
        }
        for w in &r.warnings {
            if warnings.len() < MAX_MESSAGES {
                warnings.push(w.clone());
            }
        }
    }
    let mut status = match last_finished {
        Some(i) => match statuses[i].0 {
            Status::Failure => Status::Failure,
            s if !failed.is_empty() => s.worst(Status::Warning),
            s => s,
        },
        None => Status::Unknown,
    };
    let last = group.last();
    let finished = last.and_then(|r| r.ended.as_ref().and_then(|(_, t)| *t));
    let canceled = last.is_some_and(|r| r.canceled);
    if canceled && status == Status::Failure {
        status = input.options.canceled.unwrap_or(Status::Failure);
    }
    let job = match &stanza {
        Some(s) => format!("{s}-{command}"),
        None => input.options.job.clone(),
    };
    let mut o = Outcome::new(job, status);
    o.tool = Some(TOOL.into());
    o.started = started;
    o.finished = finished.or(input.meta.modified);
    if status == Status::Failure && errors.is_empty() {
        if let Some((_, Some(r))) = last_finished.map(|i| &statuses[i]) {
            errors.push(r.clone());
        }
    }
    if status == Status::Warning && !failed.is_empty() {
        warnings.push(format!(
            "{} of {total} {command} runs failed before the last one succeeded",
            failed.len()
        ));
    }
    o.summary = Some(match status {
        Status::Unknown => statuses
            .last()
            .and_then(|s| s.1.clone())
            .unwrap_or_else(|| format!("{command}: no end line")),
        Status::Failure => format!(
            "{command} failed ({} of {total} runs){}",
            failed.len().max(1),
            errors.first().map(|e| format!(": {e}")).unwrap_or_default()
        ),
        _ if failed.is_empty() => format!("{command}: {total} runs completed"),
        _ => format!(
            "{command}: last run completed, {} of {total} failed",
            failed.len()
        ),
    });
    o.errors = errors;
    o.warnings = warnings;
    o
}

/// The runs of the input (the open one last, if any), and a stanza/command hint from shell lines.
struct Scan {
    runs: Vec<Run>,
    open: Option<Run>,
    any_line: bool,
}

fn scan(bytes: &[u8]) -> Scan {
    let mut runs: Vec<Run> = Vec::new();
    let mut cur: Option<Run> = None;
    let mut attach_expire = false;
    let mut hint: (Option<String>, Option<String>) = (None, None);
    let mut any_line = false;
    let mut line_start = 0;
    for (end_at, raw) in lines(bytes) {
        let start_at = line_start;
        line_start = end_at;
        let Some(l) = line(&raw) else {
            let t = raw.trim();
            if let Some(r) = cur.as_mut() {
                if raw.starts_with([' ', '\t']) || t.starts_with("HINT:") {
                    r.continue_last(t);
                    r.end = end_at;
                    continue;
                }
            }
            if let Some((s, c)) = command_hint(&raw) {
                hint = (s.or(hint.0), c.or(hint.1));
            }
            continue;
        };
        any_line = true;
        let new_run = |start: usize, hint: &(Option<String>, Option<String>)| Run {
            command: hint.1.clone().unwrap_or_default(),
            stanza: hint.0.clone(),
            started: l.time,
            start,
            end: start,
            headless: true,
            ..Run::default()
        };
        if l.level == "INFO" {
            if let Some((cmd, opts)) = begin(l.msg) {
                if let Some(mut r) = cur.take() {
                    // Lines before a `begin` that say nothing (no error, warning or result) are
                    // no run of their own: the tail of an unknown run or this command's preamble.
                    let says_nothing = r.headless
                        && r.errors.is_empty()
                        && r.warnings.is_empty()
                        && r.label.is_none()
                        && r.bytes.is_none();
                    if !says_nothing {
                        r.died = true;
                        close(&mut runs, r, attach_expire);
                    }
                }
                let stanza = option(opts, "stanza").map(str::to_string);
                let exec_id = option(opts, "exec-id").map(str::to_string);
                attach_expire = cmd == "expire"
                    && runs.last().is_some_and(|b| {
                        b.command == "backup"
                            && b.completed()
                            && b.expire.is_none()
                            && (stanza.is_none() || b.stanza.is_none() || b.stanza == stanza)
                            && (exec_id.is_none() || b.exec_id.is_none() || b.exec_id == exec_id)
                    });
                cur = Some(Run {
                    command: cmd.to_string(),
                    stanza,
                    exec_id,
                    kind: option(opts, "type").map(str::to_string),
                    started: l.time,
                    start: start_at,
                    end: end_at,
                    ..Run::default()
                });
                continue;
            }
            if let Some((cmd, text)) = end(l.msg) {
                let mut r = cur.take().unwrap_or_else(|| new_run(start_at, &hint));
                if r.command.is_empty() || r.command != cmd {
                    r.command = cmd.to_string();
                }
                r.ended = Some((text.to_string(), l.time));
                r.end = end_at;
                close(&mut runs, r, attach_expire);
                attach_expire = false;
                continue;
            }
        }
        let r = cur.get_or_insert_with(|| {
            attach_expire = false;
            new_run(start_at, &hint)
        });
        r.end = end_at;
        match l.level {
            "ERROR" | "ASSERT" => {
                let text = match l.code {
                    Some(code) => {
                        r.canceled |= code == TERM_ERROR;
                        format!("[{code:03}]: {}", l.msg)
                    }
                    None => l.msg.to_string(),
                };
                r.message(true, text);
                if r.command.is_empty() {
                    if let Some(c) = COMMANDS
                        .iter()
                        .find(|c| l.msg.starts_with(&format!("{c} command ")))
                    {
                        r.command = c.to_string();
                    }
                }
            }
            "WARN" => r.message(false, l.msg.to_string()),
            _ => {
                r.last_is_error = None;
                if let Some(lbl) = l.msg.strip_prefix("new backup label = ") {
                    r.label = Some(lbl.trim().to_string());
                    if r.command.is_empty() {
                        r.command = "backup".into();
                    }
                } else if let Some((b, f)) = backup_size(l.msg) {
                    r.bytes = Some(b);
                    r.files = f.or(r.files);
                    if r.kind.is_none() {
                        r.kind = l
                            .msg
                            .split_whitespace()
                            .next()
                            .filter(|k| matches!(*k, "full" | "diff" | "incr"))
                            .map(str::to_string);
                    }
                }
            }
        }
    }
    if let Some(r) = cur.as_mut() {
        if attach_expire && r.command == "expire" {
            // An expire still running: it stays open (its backup waits with it).
            r.died = false;
        }
    }
    let open = cur.map(|mut r| {
        if attach_expire && r.command == "expire" {
            r.start = usize::MAX; // marker: belongs to the previous backup
        }
        r
    });
    Scan {
        runs,
        open,
        any_line,
    }
}

fn close(runs: &mut Vec<Run>, r: Run, attach_expire: bool) {
    if attach_expire && r.command == "expire" {
        if let Some(b) = runs.last_mut() {
            b.end = r.end;
            b.expire = Some(Box::new(r));
            return;
        }
    }
    runs.push(r);
}

pub(super) fn parse(input: &Input<'_>) -> Parsed {
    // A growing log: a last line without its newline may be half-written.
    let usable = if input.complete {
        input.bytes.len()
    } else {
        input
            .bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
    };
    let Scan {
        mut runs,
        open,
        any_line,
    } = scan(&input.bytes[..usable]);

    // Which runs can be reported now.
    let mut hold_from = runs.len();
    if !input.complete {
        if let Some(o) = &open {
            if o.start == usize::MAX {
                // the expire of the last backup is still running
                hold_from = runs.len().saturating_sub(1);
            }
        } else if runs
            .last()
            .is_some_and(|b| b.command == "backup" && b.completed() && b.expire.is_none())
        {
            // its expire may follow
            hold_from = runs.len() - 1;
        }
    }
    let held: Vec<Run> = runs.split_off(hold_from);
    let mut consumed = runs.last().map_or(0, |r| r.end);
    if input.complete {
        if let Some(mut o) = open {
            if o.start == usize::MAX {
                if let Some(b) = runs.last_mut() {
                    o.start = b.end;
                    b.expire = Some(Box::new(o));
                }
            } else {
                runs.push(o);
            }
        }
        consumed = input.bytes.len();
    } else if held.is_empty() && open.is_none() {
        consumed = usable;
    }

    let mut outcomes = Vec::new();
    let mut group: Vec<Run> = Vec::new();
    for r in runs {
        let same_group = group
            .last()
            .is_some_and(|g| r.is_archive() && g.command == r.command);
        if !same_group && !group.is_empty() {
            outcomes.push(archive_outcome(std::mem::take(&mut group), input));
        }
        if r.is_archive() {
            group.push(r);
        } else {
            outcomes.push(r.outcome(input));
        }
    }
    if !group.is_empty() {
        outcomes.push(archive_outcome(group, input));
    }

    if input.complete && outcomes.is_empty() {
        let o = match (any_line, input.exit_code) {
            (_, Some(0)) => {
                let mut o = Outcome::new(input.options.job.clone(), Status::Success);
                o.tool = Some(TOOL.into());
                o.finished = input.meta.modified;
                o.summary = Some("completed (exit code 0, no error output)".into());
                o
            }
            (_, Some(code)) => {
                let mut o = Outcome::new(input.options.job.clone(), Status::Failure);
                o.tool = Some(TOOL.into());
                o.finished = input.meta.modified;
                o.errors.push(format!("pgbackrest exited with code {code}"));
                o.summary = Some(format!(
                    "failed: exit code {code} (pgBackRest error [{code:03}])"
                ));
                o
            }
            (true, None) => Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "pgbackrest lines without a command run",
            ),
            (false, None) => Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "no pgbackrest log lines found",
            ),
        };
        outcomes.push(o);
    }
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Pgbackrest),
    }
}
