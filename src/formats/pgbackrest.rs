//! pgBackRest (research note section 7): its log (`/var/log/pgbackrest/<stanza>-backup.log`, or
//! the console output under `wrap`) and `pgbackrest info --output=json`.
//!
//! Owns: the log line grammar (`2026-11-24 08:12:03.676 P00   INFO: ...`, nom), one outcome per
//! command run (`<cmd> command begin` .. `<cmd> command end: ...`; `archive-push`/`archive-get`
//! runs are skipped, they run once per WAL segment), and the `info` JSON model (one outcome, one
//! [`Item`] per stanza). The job is the stanza for `backup` runs and `<stanza>-<command>` for the
//! others. Local times without an offset are read as UTC. Must not do I/O.
//!
//! The log is append-only: with `complete == false` a run without its `command end` line is left
//! unconsumed.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::{char, digit1, space0, space1};
use nom::combinator::{map_res, opt, recognize, rest};
use nom::number::complete::recognize_float;
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};
use serde::Deserialize;
use serde_json::Value;

use super::common::{head, lines, trim};
use super::{Format, Input, Parsed};
use crate::outcome::{Item, Outcome, Status};

const TOOL: &str = "pgbackrest";
const MAX_MESSAGES: usize = 50;
const MAX_MESSAGE_LEN: usize = 1000;
/// pgBackRest's error code for "terminated on signal".
const TERM_ERROR: u32 = 63;

/// Parse a pgBackRest log or `info --output=json`.
pub fn parse(input: &Input<'_>) -> Parsed {
    let t = trim(input.bytes);
    if matches!(t.first(), Some(b'[' | b'{')) {
        return parse_info(input, t);
    }
    parse_log(input)
}

/// True for pgBackRest log lines (`P00   INFO: ... command begin`) or `info` JSON.
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let t = trim(head);
    if matches!(t.first(), Some(b'[' | b'{')) {
        let has = |n: &[u8]| t.windows(n.len()).any(|w| w == n);
        return has(b"\"backup\"") && has(b"\"status\"") && (has(b"\"cipher\"") || has(b"\"db\""));
    }
    lines(head).take(400).any(|(_, l)| {
        line(&l).is_ok_and(|(_, (_, _, msg))| {
            msg.contains(" command begin ") || msg.contains(" command end: ")
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Log grammar.

/// `[YYYY-MM-DD HH:MM:SS.mmm ]P00   LEVEL: message`
fn line(i: &str) -> IResult<&str, (Option<DateTime<Utc>>, &str, &str)> {
    let (i, time) = opt(terminated(timestamp, space1)).parse(i)?;
    let (i, _process) = preceded(char('P'), digit1).parse(i)?;
    let (i, _) = space1(i)?;
    let (i, level) = terminated(
        alt((
            tag("ERROR"),
            tag("WARN"),
            tag("INFO"),
            tag("DETAIL"),
            tag("DEBUG"),
            tag("TRACE"),
        )),
        char(':'),
    )
    .parse(i)?;
    let (_, msg) = preceded(space0, rest).parse(i)?;
    Ok(("", (time, level, msg)))
}

fn timestamp(i: &str) -> IResult<&str, DateTime<Utc>> {
    map_res(
        recognize((
            take_while_m_n(10, 10, |c: char| c.is_ascii_digit() || c == '-'),
            char(' '),
            take_while_m_n(8, 8, |c: char| c.is_ascii_digit() || c == ':'),
            opt(preceded(char('.'), digit1)),
        )),
        |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc()),
    )
    .parse(i)
}

/// `backup command begin 2.45: --stanza=demo ...` -> (command, options)
fn begin(i: &str) -> IResult<&str, (&str, &str)> {
    (
        terminated(
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-'),
            tag(" command begin"),
        ),
        preceded(
            opt(preceded(char(' '), take_while1(|c: char| c != ':'))),
            preceded(opt(char(':')), rest),
        ),
    )
        .parse(i)
}

/// `backup command end: completed successfully (3969ms)` / `... aborted with exception [056]`
fn end(i: &str) -> IResult<&str, (&str, &str)> {
    (
        terminated(
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-'),
            tag(" command end: "),
        ),
        rest,
    )
        .parse(i)
}

/// `[056]: message`
fn coded(i: &str) -> IResult<&str, (u32, &str)> {
    (
        delimited(char('['), map_res(digit1, str::parse), char(']')),
        preceded((opt(char(':')), space0), rest),
    )
        .parse(i)
}

/// `(3969ms)` inside an end line.
fn millis_in(s: &str) -> Option<u64> {
    let open = s.rfind('(')?;
    let (_, ms) = terminated(
        map_res(digit1::<_, nom::error::Error<&str>>, str::parse),
        tag("ms)"),
    )
    .parse(&s[open + 1..])
    .ok()?;
    Some(ms)
}

/// `22.1MB` with pgBackRest's 1024-based units.
fn size(i: &str) -> IResult<&str, u64> {
    let (i, n) = map_res(recognize_float, str::parse::<f64>).parse(i)?;
    let (i, unit) = preceded(space0, take_while1(|c: char| c.is_ascii_alphabetic())).parse(i)?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "B" => 1,
        "KB" | "KIB" => 1 << 10,
        "MB" | "MIB" => 1 << 20,
        "GB" | "GIB" => 1 << 30,
        "TB" | "TIB" => 1 << 40,
        "PB" | "PIB" => 1 << 50,
        _ => {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Alpha,
            )))
        }
    };
    Ok((i, (n.max(0.0) * mult as f64) as u64))
}

/// `full backup size = 22.1MB, file total = 964` (older versions: `backup size = ...`).
fn backup_size(msg: &str) -> Option<(u64, Option<u64>)> {
    let at = msg.find("backup size = ")?;
    let (after, bytes) = size(&msg[at + "backup size = ".len()..]).ok()?;
    let files = after
        .find("file total = ")
        .and_then(|f| {
            map_res(digit1::<_, nom::error::Error<&str>>, str::parse)
                .parse(&after[f + "file total = ".len()..])
                .ok()
        })
        .map(|(_, n)| n);
    Some((bytes, files))
}

fn option<'a>(opts: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("--{name}=");
    opts.split_whitespace()
        .find_map(|o| o.strip_prefix(key.as_str()))
        .map(|v| v.trim_matches('"'))
}

// ---------------------------------------------------------------------------------------------
// Runs in a log.

#[derive(Debug, Default)]
struct Run {
    command: String,
    stanza: Option<String>,
    kind: Option<String>,
    started: Option<DateTime<Utc>>,
    label: Option<String>,
    bytes: Option<u64>,
    files: Option<u64>,
    errors: Vec<String>,
    warnings: Vec<String>,
    last_is_error: Option<bool>,
    canceled: bool,
}

impl Run {
    fn outcome(self, input: &Input<'_>, end: Option<(&str, Option<DateTime<Utc>>)>) -> Outcome {
        let job = match (&self.stanza, self.command.as_str()) {
            (Some(s), "backup") => s.clone(),
            (Some(s), cmd) => format!("{s}-{cmd}"),
            (None, _) => input.options.job.clone(),
        };
        let mut o = Outcome::new(job, Status::Success);
        o.tool = Some(TOOL.into());
        o.started = self.started;
        o.bytes = self.bytes;
        o.files = self.files;
        o.errors = self.errors;
        o.warnings = self.warnings;
        let mut canceled = self.canceled;
        match end {
            Some((text, time)) => {
                o.finished = time;
                o.duration_s = millis_in(text).map(|ms| ms as f64 / 1000.0);
                if text.starts_with("completed successfully") {
                    o.status = if o.warnings.is_empty() {
                        Status::Success
                    } else {
                        Status::Warning
                    };
                } else {
                    o.status = Status::Failure;
                    if let Some(code) = text.find('[').and_then(|i| coded(&text[i..]).ok()) {
                        canceled |= code.1 .0 == TERM_ERROR;
                    }
                    if o.errors.is_empty() {
                        o.errors.push(text.to_string());
                    }
                }
            }
            None => {
                o.status = Status::Failure;
                o.finished = input.meta.modified;
                o.errors
                    .push(format!("{} command did not end (killed?)", self.command));
            }
        }
        if canceled && o.status == Status::Failure {
            o.status = input.options.canceled.unwrap_or(Status::Failure);
        }
        let what = match (&self.kind, self.command.as_str()) {
            (Some(k), "backup") => format!("{k} backup"),
            (_, cmd) => cmd.to_string(),
        };
        o.summary = Some(match (&self.label, o.status) {
            (Some(l), Status::Success | Status::Warning) => format!("{what} {l} completed"),
            (_, Status::Success | Status::Warning) => format!("{what} completed"),
            _ => format!(
                "{what} failed{}",
                o.errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        });
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
}

fn skipped(command: &str) -> bool {
    matches!(command, "archive-push" | "archive-get")
}

fn parse_log(input: &Input<'_>) -> Parsed {
    let mut outcomes = Vec::new();
    let mut consumed = 0;
    let mut run: Option<Run> = None;
    let mut any = false;
    for (end_at, raw) in lines(input.bytes) {
        let Ok((_, (time, level, msg))) = line(&raw) else {
            // Continuation lines are indented.
            if raw.starts_with(' ') || raw.starts_with('\t') {
                if let Some(r) = run.as_mut() {
                    r.continue_last(raw.trim());
                }
            }
            continue;
        };
        any = true;
        if let Ok((_, (cmd, opts))) = begin(msg) {
            if let Some(r) = run.take() {
                // A new begin without the previous end: that run died.
                if !skipped(&r.command) {
                    outcomes.push(r.outcome(input, None));
                }
            }
            run = Some(Run {
                command: cmd.to_string(),
                stanza: option(opts, "stanza").map(str::to_string),
                kind: option(opts, "type").map(str::to_string),
                started: time,
                ..Run::default()
            });
            continue;
        }
        if let Ok((_, (cmd, text))) = end(msg) {
            let r = run.take().unwrap_or_else(|| Run {
                command: cmd.to_string(),
                ..Run::default()
            });
            if !skipped(&r.command) {
                outcomes.push(r.outcome(input, Some((text.trim(), time))));
            }
            consumed = end_at;
            continue;
        }
        let Some(r) = run.as_mut() else { continue };
        match level {
            "ERROR" => {
                let text = match coded(msg) {
                    Ok((_, (code, m))) => {
                        r.canceled |= code == TERM_ERROR;
                        format!("[{code:03}]: {m}")
                    }
                    Err(_) => msg.to_string(),
                };
                r.message(true, text);
            }
            "WARN" => r.message(false, msg.to_string()),
            _ => {
                r.last_is_error = None;
                if let Some(l) = msg.strip_prefix("new backup label = ") {
                    r.label = Some(l.trim().to_string());
                } else if let Some((b, f)) = backup_size(msg) {
                    r.bytes = Some(b);
                    r.files = f;
                }
            }
        }
    }
    if input.complete {
        if let Some(r) = run.filter(|r| !skipped(&r.command)) {
            outcomes.push(r.outcome(input, None));
        }
        if outcomes.is_empty() && !any {
            outcomes.push(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "no pgbackrest log lines found",
            ));
        }
        consumed = input.bytes.len();
    }
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Pgbackrest),
    }
}

// ---------------------------------------------------------------------------------------------
// `pgbackrest info --output=json`

#[derive(Debug, Default, Deserialize)]
struct Stanza {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<Code>,
    #[serde(default)]
    backup: Vec<Backup>,
    #[serde(default)]
    repo: Vec<Repo>,
}

#[derive(Debug, Default, Deserialize)]
struct Code {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    lock: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Repo {
    #[serde(default)]
    key: Option<u64>,
    #[serde(default)]
    status: Option<Code>,
}

#[derive(Debug, Default, Deserialize)]
struct Backup {
    #[serde(default)]
    label: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<Times>,
    #[serde(default)]
    info: Option<Sizes>,
    #[serde(default)]
    error: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct Times {
    #[serde(default)]
    start: Option<i64>,
    #[serde(default)]
    stop: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct Sizes {
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    delta: Option<u64>,
    #[serde(default)]
    repository: Option<RepoSizes>,
}

#[derive(Debug, Default, Deserialize)]
struct RepoSizes {
    #[serde(default)]
    delta: Option<u64>,
}

fn epoch(s: Option<i64>) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(s?, 0).single()
}

fn parse_info(input: &Input<'_>, json: &[u8]) -> Parsed {
    let stanzas: Vec<Stanza> = match serde_json::from_slice::<Value>(json) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap_or_default())
            .collect(),
        Ok(v @ Value::Object(_)) => vec![serde_json::from_value(v).unwrap_or_default()],
        Ok(_) => Vec::new(),
        Err(e) if e.is_eof() && !input.complete => {
            return Parsed {
                outcomes: Vec::new(),
                consumed: 0,
                format: Some(Format::Pgbackrest),
            }
        }
        Err(e) => {
            return Parsed::whole(
                input,
                vec![Outcome::unknown(
                    &input.options.job,
                    &input.meta.path,
                    format!("not pgbackrest info json: {e}"),
                )],
                Format::Pgbackrest,
            )
        }
    };
    if stanzas.is_empty() {
        return Parsed::whole(
            input,
            vec![Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "pgbackrest info lists no stanza",
            )],
            Format::Pgbackrest,
        );
    }
    let mut o = Outcome::new(input.options.job.clone(), Status::Success);
    o.tool = Some(TOOL.into());
    let mut oldest_last: Option<DateTime<Utc>> = None;
    let mut started: Option<DateTime<Utc>> = None;
    let mut bytes: Option<u64> = None;
    for (n, s) in stanzas.iter().enumerate() {
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("stanza {}", n + 1));
        let code = s.status.as_ref().and_then(|c| c.code).unwrap_or(99);
        let code_msg = s
            .status
            .as_ref()
            .and_then(|c| c.message.clone())
            .unwrap_or_else(|| "no status".into());
        let newest = s
            .backup
            .iter()
            .enumerate()
            .max_by_key(|(i, b)| (b.timestamp.as_ref().and_then(|t| t.stop), *i))
            .map(|(_, b)| b);
        let (mut status, mut message) = if code != 0 {
            (Status::Failure, format!("status {code}: {code_msg}"))
        } else {
            (Status::Success, String::new())
        };
        let mut item_bytes = None;
        if let Some(b) = newest {
            let stop = epoch(b.timestamp.as_ref().and_then(|t| t.stop));
            if let Some(stop) = stop {
                oldest_last = Some(oldest_last.map_or(stop, |o| o.min(stop)));
            }
            let start = epoch(b.timestamp.as_ref().and_then(|t| t.start));
            if let Some(st) = start {
                started = Some(started.map_or(st, |s| s.min(st)));
            }
            item_bytes = b.info.as_ref().and_then(|i| {
                i.repository
                    .as_ref()
                    .and_then(|r| r.delta)
                    .or(i.delta)
                    .or(i.size)
            });
            if let Some(n) = item_bytes {
                bytes = Some(bytes.unwrap_or(0).saturating_add(n));
            }
            let desc = format!(
                "last {} backup {}{}",
                b.kind.as_deref().unwrap_or("?"),
                b.label.as_deref().unwrap_or("?"),
                stop.map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%SZ")))
                    .unwrap_or_default()
            );
            if b.error == Some(true) {
                status = status.worst(Status::Warning);
                message = join(&message, &format!("{desc} has errors (page checksums)"));
            } else if code == 0 {
                message = desc;
            }
        }
        for r in &s.repo {
            if let Some(c) = r.status.as_ref().filter(|c| c.code.unwrap_or(0) != 0) {
                status = status.worst(Status::Warning);
                message = join(
                    &message,
                    &format!(
                        "repo{}: {}",
                        r.key.unwrap_or(0),
                        c.message.as_deref().unwrap_or("error")
                    ),
                );
            }
        }
        if s.status
            .as_ref()
            .and_then(|c| c.lock.as_ref())
            .is_some_and(|l| l.pointer("/backup/held").and_then(Value::as_bool) == Some(true))
        {
            message = join(&message, "backup running");
        }
        if status == Status::Failure {
            o.errors.push(format!("{name}: {message}"));
        } else if status == Status::Warning {
            o.warnings.push(format!("{name}: {message}"));
        }
        o.status = o.status.worst(status);
        o.items.push(Item {
            name,
            status,
            bytes: item_bytes,
            message: Some(message).filter(|m| !m.is_empty()),
        });
    }
    o.started = started;
    o.finished = oldest_last;
    o.bytes = bytes;
    Parsed::whole(input, vec![o], Format::Pgbackrest)
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let (_, (t, level, msg)) =
            line("2026-11-24 08:12:03.676 P00   INFO: backup command end: completed successfully (3969ms)").unwrap();
        assert_eq!(t.unwrap().to_rfc3339(), "2026-11-24T08:12:03.676+00:00");
        assert_eq!(level, "INFO");
        assert_eq!(
            end(msg).unwrap().1,
            ("backup", "completed successfully (3969ms)")
        );
        assert_eq!(millis_in("completed successfully (3969ms)"), Some(3969));
        let (_, (_, level, msg)) =
            line("P00  ERROR: [056]: unable to find primary cluster").unwrap();
        assert_eq!(
            (level, coded(msg).unwrap().1),
            ("ERROR", (56, "unable to find primary cluster"))
        );
        assert_eq!(
            begin("backup command begin 2.45: --stanza=demo --type=full")
                .unwrap()
                .1,
            ("backup", " --stanza=demo --type=full")
        );
        assert_eq!(
            backup_size("full backup size = 22.1MB, file total = 964"),
            Some((23_173_529, Some(964)))
        );
        assert!(line("-------------------PROCESS START-------------------").is_err());
    }
}
