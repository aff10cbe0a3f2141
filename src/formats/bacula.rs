//! Bacula and Bareos job reports (research note section 5): the `Key: Value` block a Director
//! writes at the end of every job, in a mail, in the `Messages { append = ... }` log, or several
//! of them in one file. One outcome per report.
//!
//! Owns: the log-line prefix grammar (`24-Nov 08:10 vm-dir JobId 1: ...`, Bareos
//! `2024-07-31 16:33:09 bareos-dir JobId 16880: ...`), the report block as a key -> value map
//! (never positional), the `Termination` mapping of the note, report dates (English, ISO, and
//! the localised month names of older Bareos such as `19-5月-2019`), and the `Error:`/`Warning:`
//! messages of a job that precede its report. Local times without an offset are read as UTC.
//! Must not do I/O.
//!
//! A log grows while jobs run: with `complete == false` the input is consumed up to the end of
//! the last report's `Termination:` line, so the messages of a job still running are read again
//! with its report later.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use nom::bytes::complete::take_while1;
use nom::character::complete::{char, space0};
use nom::combinator::rest;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::common::{head, lines, sane_time};
use super::{Format, Input, Parsed};
use crate::outcome::{Outcome, Status};

/// Keys kept per report and messages kept per job: bounds for hostile input.
const MAX_KEYS: usize = 100;
const MAX_MESSAGES: usize = 50;
/// Jobs whose messages are remembered while waiting for their report.
const MAX_JOBS: usize = 1000;
/// Longest message kept (continuation lines are appended up to this).
const MAX_MESSAGE_LEN: usize = 1000;
/// A block of keys without a `Termination` line is a report only with this many keys.
const MIN_REPORT_KEYS: usize = 4;

/// Parse Bacula/Bareos job reports.
pub fn parse(input: &Input<'_>) -> Parsed {
    let mut st = State::default();
    let mut line_start = 0;
    for (end, line) in lines(input.bytes) {
        let start = std::mem::replace(&mut line_start, end);
        let line = unquote(line.trim_end());
        if let Some(p) = prefix(line) {
            let (sev, body) = strip_severity(p.text.trim_start());
            // A new log message (or a new report) ends any report block.
            st.end_report(input, start);
            if is_header(body) {
                st.report = Some(Report::new(p.jobid, body, sev));
                continue;
            }
            st.last_job = p.jobid.filter(|&id| id != 0);
            if let Some(id) = st.last_job {
                st.message(id, p.text);
            } else if p.jobid == Some(0) && sev == Some("fatal") {
                // `JobId 0`: the Director itself (its catalog, a daemon's authentication).
                if st.director_fatal.len() < MAX_MESSAGES {
                    let mut body = body.trim().to_string();
                    truncate(&mut body, MAX_MESSAGE_LEN);
                    st.director_fatal.push(body);
                }
            }
            continue;
        }
        if line.trim().is_empty() {
            st.end_report(input, end);
            continue;
        }
        if let Ok((_, (key, value))) = key_value(line) {
            if st.report.is_none() && key == "jobid" {
                st.report = Some(Report::new(None, "", None));
            }
            if let Some(r) = st.report.as_mut() {
                if r.keys.len() < MAX_KEYS {
                    r.keys.insert(key.clone(), value.to_string());
                }
                if key == "termination" {
                    if let Some(r) = st.report.take() {
                        st.report_done(input, r);
                    }
                    st.consumed = end;
                }
                continue;
            }
        }
        // A continuation of the last message (`Fatal error: ... RunBefore\n, got 2905 ...`).
        if let Some(m) = st.last_job.and_then(|id| st.messages.get_mut(&id)) {
            m.continue_last(line.trim());
        }
    }
    if input.complete {
        if let Some(r) = st.report.take() {
            st.report_done(input, r);
        }
        st.unreported_jobs(input);
        if st.outcomes.is_empty() && !st.director_fatal.is_empty() {
            // No job ran and the Director logged fatal errors of its own: nothing was backed
            // up.
            let mut o = Outcome::new(input.options.job.clone(), Status::Failure);
            o.tool = Some("bacula".into());
            o.summary = Some(format!(
                "the Director hit a fatal error: {}",
                st.director_fatal[0]
            ));
            o.errors = std::mem::take(&mut st.director_fatal);
            st.outcomes.push(o);
        }
        if st.outcomes.is_empty() {
            st.outcomes.push(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "no bacula/bareos job report (JobId ... Termination) found",
            ));
        }
        st.consumed = input.bytes.len();
    }
    Parsed {
        outcomes: st.outcomes,
        consumed: st.consumed,
        format: Some(Format::Bacula),
    }
}

/// What the parse has seen so far.
#[derive(Default)]
struct State {
    outcomes: Vec<Outcome>,
    consumed: usize,
    /// Messages of the jobs seen, by JobId.
    messages: BTreeMap<u64, Messages>,
    /// JobIds whose report was read, with their outcome's index (their later messages, such as
    /// pruning, are no new job).
    reported: HashMap<u64, usize>,
    last_job: Option<u64>,
    report: Option<Report>,
    /// Order of first appearance of a job.
    seen: u64,
    /// `JobId 0: Fatal error: ...`: errors of the Director, not of a job.
    director_fatal: Vec<String>,
}

impl State {
    /// Remember a message of job `id`.
    fn message(&mut self, id: u64, text: &str) {
        // Messages after a job's report (pruning) belong to no waiting job. An error among them
        // (or before the report in a newest-first listing such as the webui's joblog) still
        // tells that a job whose report says OK did not go entirely well.
        if let Some(&i) = self.reported.get(&id) {
            let (sev, body) = strip_severity(text.trim_start());
            if let (Some("error" | "fatal"), Some(o)) = (sev, self.outcomes.get_mut(i)) {
                if o.status == Status::Success {
                    o.status = Status::Warning;
                }
                if o.errors.len() < MAX_MESSAGES {
                    let mut body = body.trim().to_string();
                    truncate(&mut body, MAX_MESSAGE_LEN);
                    o.errors.push(body);
                }
            }
            return;
        }
        if !self.messages.contains_key(&id) && self.messages.len() >= MAX_JOBS {
            // Forget the job waiting longest rather than every new one.
            let oldest = self
                .messages
                .iter()
                .min_by_key(|(_, m)| m.seen)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.messages.remove(&k);
            }
        }
        let seen = self.seen;
        let m = self.messages.entry(id).or_insert_with(|| Messages {
            seen,
            ..Messages::default()
        });
        self.seen = self.seen.saturating_add(1);
        m.add(text);
    }

    /// A report block ends at `end` (a blank line or the next message): a report that never
    /// reached its `Termination` line is still an outcome when it is one (enough keys).
    fn end_report(&mut self, input: &Input<'_>, end: usize) {
        let Some(r) = self.report.take() else { return };
        if r.is_report() {
            self.report_done(input, r);
            self.consumed = end;
        }
    }

    /// The outcome of report `r`, with the messages of its job.
    fn report_done(&mut self, input: &Input<'_>, r: Report) {
        if !r.is_report() && !r.keys.contains_key("termination") {
            return;
        }
        let id = r.jobid();
        let mut msgs = id.and_then(|id| self.messages.remove(&id));
        // Some pastes number the report differently from the job's messages; the full job
        // name (with its timestamp) still ties them.
        if let Some(full) = r.get("job").filter(|_| msgs.is_none()) {
            let same = self
                .messages
                .iter()
                .find(|(_, m)| m.started.as_deref() == Some(full))
                .map(|(k, _)| *k);
            if let Some(k) = same {
                msgs = self.messages.remove(&k);
                self.remember_reported(k, self.outcomes.len());
            }
        }
        if let Some(id) = id {
            self.remember_reported(id, self.outcomes.len());
        }
        self.outcomes
            .push(r.outcome(input, msgs.unwrap_or_default()));
    }

    fn remember_reported(&mut self, id: u64, outcome: usize) {
        if self.reported.len() >= MAX_JOBS {
            self.reported.clear();
        }
        self.reported.insert(id, outcome);
    }

    /// Jobs that started (or hit a fatal error) and have no report in a finished file: a
    /// fatal error means the job failed; otherwise its result is not in the text.
    fn unreported_jobs(&mut self, input: &Input<'_>) {
        let mut left: Vec<(u64, Messages)> = std::mem::take(&mut self.messages)
            .into_iter()
            .filter(|(id, m)| !self.reported.contains_key(id) && (m.started.is_some() || m.fatal))
            .collect();
        left.sort_by_key(|(_, m)| m.seen);
        for (id, m) in left {
            let job = m
                .started
                .as_deref()
                .map(job_name)
                .unwrap_or_else(|| format!("jobid {id}"));
            let mut o = Outcome::new(job, Status::Unknown);
            o.tool = Some("bacula".into());
            o.errors = m.errors;
            o.warnings = m.warnings;
            if m.fatal {
                o.status = Status::Failure;
                o.summary = Some(format!(
                    "JobId {id} hit a fatal error; its report is not in the log"
                ));
            } else {
                o.summary = Some(format!(
                    "JobId {id} started; its report is not in the log (still running, or the \
                     log was cut)"
                ));
                o.errors
                    .push("no job report: the log ends before the job's Termination line".into());
            }
            if o.job.trim().is_empty() {
                o.job = input.options.job.clone();
            }
            self.outcomes.push(o);
        }
    }
}

/// True for text with a job report header or the `JobId:` and `Termination:` keys, two log
/// lines of the Bacula daemons (`<date> <name>-dir JobId 12: ...`), or a Director's `status`
/// banner (`bacula-dir Version: ...`).
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let mut jobid = false;
    let mut termination = false;
    let mut daemon_lines = 0;
    let (mut bare_lines, mut bare_fatal) = (0, false);
    for (_, line) in lines(head).take(2000) {
        let line = unquote(line.trim_end());
        if let Some(p) = prefix(line) {
            if p.jobid.is_some() && is_header(strip_severity(p.text.trim_start()).1) {
                return true;
            }
            // A daemon's name (`-dir`, `-sd`, `-fd`, or a redacted one) with a JobId and one of
            // the messages' severities.
            let (sev, _) = strip_severity(p.text.trim_start());
            let severity = sev.is_some();
            if p.daemon.is_empty() {
                // `<jobid>: <severity>: ...` alone: a fatal error among two such lines.
                bare_lines += 1;
                bare_fatal |= sev == Some("fatal");
                if bare_lines >= 2 && bare_fatal {
                    return true;
                }
            } else if p.jobid.is_some()
                && (severity || ["-dir", "-sd", "-fd"].iter().any(|s| p.daemon.ends_with(s)))
            {
                daemon_lines += 1;
                if daemon_lines >= 2 {
                    return true;
                }
            }
        }
        // `status dir`: `bacula-dir Version: 5.2.13 (19 February 2013) x86_64-...`.
        if let Some((name, rest)) = line.split_once(' ') {
            if name.ends_with("-dir") && rest.starts_with("Version: ") {
                return true;
            }
        }
        if let Ok((_, (k, _))) = key_value(line) {
            jobid |= k == "jobid";
            termination |= k == "termination";
        }
        if jobid && termination {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Grammar.

/// A log line's prefix: `[<n>\t|<n> | ][<date> [<time>] ]<daemon>[ JobId <n>]: <text>`.
#[derive(Debug, PartialEq)]
struct Prefix<'a> {
    jobid: Option<u64>,
    daemon: &'a str,
    text: &'a str,
}

/// A line without the `> ` markers of a quoted mail (a report replied to on a mailing list).
fn unquote(line: &str) -> &str {
    let mut l = line;
    while let Some(rest) = l.strip_prefix('>') {
        l = rest.strip_prefix(' ').unwrap_or(rest);
    }
    l
}

/// `s` without leading whitespace and `|` column separators.
fn skip_separators(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_whitespace() || c == '|')
}

/// The prefix of a log message line: Bacula's `24-Nov 08:10 vm-dir JobId 1: `, Bareos'
/// ` 2024-07-31 16:33:09 bareos-dir JobId 16880: `, ISO times (`2023-09-23T09:50:04+0000`),
/// localised dates (`19-5月`, `16-ноя`, `20/07/2018`), the webui's numbered and tab or `|`
/// separated joblog, and a bare `bareos-dir JobId 2: `. A line needs a date or a JobId, so
/// that report keys (`JobId:  1`, `Build OS: ...`) are never taken for messages.
fn prefix(line: &str) -> Option<Prefix<'_>> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let token = |s: &str| {
        s.find(|c: char| c.is_whitespace() || c == '|')
            .unwrap_or(s.len())
    };
    let mut rest = line.trim_start();
    // A job's messages listed under its JobId alone: `22309: Fatal error: ...`.
    if let Some(p) = jobid_only(rest) {
        return Some(p);
    }
    // The webui's line number: `18<TAB>` or `28 | `.
    let n = digits(rest);
    if n > 0 {
        let after = &rest[n..];
        if after.starts_with('\t') || after.trim_start_matches(' ').starts_with('|') {
            rest = skip_separators(after);
        }
    }
    let mut dated = false;
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        rest = skip_separators(&rest[token(rest)..]);
        dated = true;
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            let t = token(rest);
            if rest[..t]
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
            {
                rest = skip_separators(&rest[t..]);
            }
        }
    }
    let d = rest.find(|c: char| c.is_whitespace() || c == ':')?;
    if d == 0 {
        return None;
    }
    let daemon = &rest[..d];
    rest = &rest[d..];
    let mut jobid = None;
    let mut has_jobid = false;
    if let Some(after) = rest.trim_start().strip_prefix("JobId ") {
        let n = digits(after);
        if n == 0 {
            return None;
        }
        // A JobId beyond u64 is garbage: the line is still a message, of no job.
        jobid = after[..n].parse().ok();
        has_jobid = true;
        rest = &after[n..];
    }
    let text = rest.strip_prefix(':')?;
    if !dated && !has_jobid {
        return None;
    }
    Some(Prefix {
        jobid,
        daemon,
        text: text.strip_prefix(' ').unwrap_or(text),
    })
}

/// `22309: Fatal error: ...`: a message under its JobId, without date or daemon (a job's
/// messages as some consoles and pastes list them); only with one of the severities.
fn jobid_only(line: &str) -> Option<Prefix<'_>> {
    let n = line.bytes().take_while(u8::is_ascii_digit).count();
    let text = line.get(n..)?.strip_prefix(": ")?;
    if n == 0 || strip_severity(text).0.is_none() {
        return None;
    }
    Some(Prefix {
        jobid: line[..n].parse().ok(),
        daemon: "",
        text,
    })
}

/// `  Key:   Value` (the key starts with a letter; keys are compared lowercased with single
/// spaces, so `FD  Secure Erase Cmd` is `fd secure erase cmd`).
fn key_value(i: &str) -> IResult<&str, (String, &str)> {
    let (i, _) = space0(i)?;
    let (i, key) = take_while1(|c: char| {
        c.is_alphabetic() || c == ' ' || c == '/' || c == '(' || c == ')' || c == '-'
    })(i)?;
    let (i, _) = char(':')(i)?;
    let (i, value) = preceded(space0, rest).parse(i)?;
    let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
    if key.is_empty() || !key.starts_with(|c: char| c.is_alphabetic()) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, (key.to_lowercase(), value.trim())))
}

/// The severity of a message text and the text without it (a Bacula 15 message code such as
/// `[SW0201] ` is kept in the text).
fn strip_severity(text: &str) -> (Option<&'static str>, &str) {
    for (p, sev) in [
        ("Fatal error: ", "fatal"),
        ("Fatal error:", "fatal"),
        ("Error: ", "error"),
        ("Warning: ", "warning"),
    ] {
        if let Some(t) = text.strip_prefix(p) {
            return (Some(sev), t);
        }
    }
    (None, text)
}

/// `Bacula vm-dir 9.6.7 (10Dec20):`, `Bareos bareos-dir 23.0.1 (...):`, `BAREOS 17.2.4 (...):`,
/// `Bacula Enterprise ol9-dir 18.0.1 (28Feb24):`, and Bacula 5's
/// `Bacula airback-dir 5.0.2 (28Apr10): 20-Jul-2018 03:26:20`.
fn is_header(text: &str) -> bool {
    let l = text.trim_end();
    let lower = l.get(..7).map(str::to_ascii_lowercase).unwrap_or_default();
    (lower == "bacula " || lower == "bareos ") && l.contains("):")
}

// ---------------------------------------------------------------------------------------------
// Messages of a job.

#[derive(Debug, Default)]
struct Messages {
    errors: Vec<String>,
    warnings: Vec<String>,
    /// Which list the last message went to (for continuation lines).
    last_is_error: Option<bool>,
    /// The full job name of a `Start Backup JobId 1, Job=<name>` line.
    started: Option<String>,
    /// A `Fatal error:` was logged: the job fails.
    fatal: bool,
    /// Order of first appearance.
    seen: u64,
}

impl Messages {
    fn add(&mut self, text: &str) {
        let (sev, body) = strip_severity(text.trim_start());
        if sev.is_none() {
            if let Some(name) = started_job(body) {
                self.started = Some(name.to_string());
            }
        }
        // FD per-file errors are indented and carry `ERR=`.
        let sev =
            sev.or_else(|| (text.starts_with(' ') && text.contains("ERR=")).then_some("error"));
        // A failed RunBeforeJob script reported as an error (not a warning) aborts the job.
        self.fatal |= sev == Some("fatal") || (sev == Some("error") && is_before_job_failure(body));
        self.last_is_error = None;
        let (list, is_error) = match sev {
            Some("error" | "fatal") => (&mut self.errors, true),
            Some(_) => (&mut self.warnings, false),
            None => return,
        };
        if list.len() < MAX_MESSAGES {
            let mut body = body.trim().to_string();
            truncate(&mut body, MAX_MESSAGE_LEN);
            list.push(body);
            self.last_is_error = Some(is_error);
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

/// `Runscript: BeforeJob returned non-zero status=208. ERR=...` (also `ClientRunBeforeJob`,
/// `ClientBeforeJob`): the job's before-script failed.
fn is_before_job_failure(body: &str) -> bool {
    body.strip_prefix("Runscript: ").is_some_and(|r| {
        let what = r.split_whitespace().next().unwrap_or_default();
        what.contains("Before") && r.contains("returned non-zero status")
    })
}

/// The job of a start message: `Start Backup JobId 1, Job=web01.2026-11-24_08.10.08_04`,
/// `Start Restore Job RestoreFiles.2023-09-23T09.57.32_06`, `Start Verify JobId=...`.
fn started_job(body: &str) -> Option<&str> {
    let rest = body.strip_prefix("Start ")?;
    let name = match rest.find("Job=") {
        Some(i) => &rest[i + 4..],
        None => rest.split_once(" Job ")?.1,
    };
    let end = name
        .find(|c: char| c.is_whitespace() || c == ',')
        .unwrap_or(name.len());
    Some(&name[..end]).filter(|n| !n.is_empty())
}

/// Cut `s` to at most `max` bytes at a character boundary.
fn truncate(s: &mut String, max: usize) {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    s.truncate(i);
}

// ---------------------------------------------------------------------------------------------
// One report.

#[derive(Debug, Default)]
struct Report {
    header_jobid: Option<u64>,
    bareos: bool,
    /// `Error:` or `Warning:` before the header: the Director's own verdict on the job.
    severity: Option<&'static str>,
    keys: BTreeMap<String, String>,
}

impl Report {
    fn new(jobid: Option<u64>, header: &str, severity: Option<&'static str>) -> Report {
        Report {
            header_jobid: jobid,
            bareos: header.to_ascii_lowercase().starts_with("bareos"),
            severity,
            keys: BTreeMap::new(),
        }
    }

    /// Enough of a report to be one even without its `Termination` line.
    fn is_report(&self) -> bool {
        self.keys.len() >= MIN_REPORT_KEYS
            && (self.keys.contains_key("jobid") || self.header_jobid.is_some())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn jobid(&self) -> Option<u64> {
        self.get("jobid")
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .or(self.header_jobid)
    }

    fn outcome(self, input: &Input<'_>, msgs: Messages) -> Outcome {
        let job = self
            .get("job")
            .or(self.get("current job"))
            .map(job_name)
            .or_else(|| self.jobid().map(|id| format!("jobid {id}")))
            .unwrap_or_else(|| input.options.job.clone());
        let termination = self.get("termination").map(str::to_string);
        let mut o = Outcome::new(job, Status::Unknown);
        let bareos = self.bareos || self.keys.contains_key("bareos binary info");
        o.tool = Some(if bareos { "bareos" } else { "bacula" }.into());
        o.host = self
            .get("client")
            .or(self.get("restore client"))
            .map(client_name);
        o.started = self.get("start time").and_then(date);
        o.finished = self.get("end time").and_then(date);
        o.duration_s = self.get("elapsed time").and_then(elapsed);
        o.bytes = self
            .get("sd bytes written")
            .or(self.get("fd bytes written"))
            .or(self.get("bytes restored"))
            .and_then(number);
        o.files = self
            .get("fd files written")
            .or(self.get("sd files written"))
            .or(self.get("files restored"))
            .and_then(number);
        let fd_errors = self
            .get("non-fatal fd errors")
            .or(self.get("fd errors"))
            .and_then(number)
            .unwrap_or(0);
        let sd_errors = self.get("sd errors").and_then(number).unwrap_or(0);
        o.errors = msgs.errors;
        o.warnings = msgs.warnings;
        let (status, canceled) = match termination.as_deref() {
            Some(t) => termination_status(t),
            None => self.status_without_termination(msgs.fatal),
        };
        o.status = match status {
            Status::Success if fd_errors.saturating_add(sd_errors) > 0 => Status::Warning,
            s => s,
        };
        if canceled {
            o.status = input.options.canceled.unwrap_or(Status::Failure);
        }
        if o.errors.is_empty() && fd_errors > 0 {
            o.errors.push(format!("{fd_errors} non-fatal FD errors"));
        }
        if sd_errors > 0 {
            o.errors.push(format!("{sd_errors} SD errors"));
        }
        match &termination {
            Some(t) if o.status == Status::Unknown => {
                o.errors.push(format!("unrecognised termination {t:?}"));
            }
            None => o
                .errors
                .push("the job report ends before its Termination line".into()),
            _ => {}
        }
        if o.status == Status::Success && o.files == Some(0) {
            if let Some(s) = input.options.zero_files {
                o.status = s;
            }
        }
        let level = self
            .get("backup level")
            .map(|l| l.split(',').next().unwrap_or(l).trim().to_string());
        let what = termination.unwrap_or_else(|| match o.status {
            Status::Failure => "job failed (report without Termination line)".into(),
            Status::Unknown => "report without Termination line".into(),
            s => format!("{} (report without Termination line)", s.as_str()),
        });
        o.summary = Some(match level {
            Some(l) => format!("{what} ({l})"),
            None => what,
        });
        o
    }

    /// The status of a report cut before its `Termination` line: the catalog's job status
    /// (`llist` output), the Director's `Error:` before the header, a fatal error of the job,
    /// else unknown.
    fn status_without_termination(&self, fatal: bool) -> (Status, bool) {
        if let Some(code) = self.get("jobstatus") {
            return job_status_code(code);
        }
        if self.severity.is_some_and(|s| s == "error" || s == "fatal") || fatal {
            return (Status::Failure, false);
        }
        (Status::Unknown, false)
    }
}

/// A catalog JobStatus letter (`list jobs`, `llist`): T ok, W warnings, E/e/f errors, A
/// canceled, I incomplete, D verify differences; the others are jobs still running or waiting.
fn job_status_code(code: &str) -> (Status, bool) {
    match code.trim() {
        "T" => (Status::Success, false),
        "W" | "D" => (Status::Warning, false),
        "E" | "e" | "f" | "I" => (Status::Failure, false),
        "A" => (Status::Failure, true),
        _ => (Status::Unknown, false),
    }
}

/// `Termination` text -> status, and whether the job was canceled. Error texts are framed by
/// `***` in every language; the rest is matched on the English (and a few translated) words.
fn termination_status(t: &str) -> (Status, bool) {
    let l = t.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if has(&["cancel", "abgebrochen", "annul"]) {
        (Status::Failure, true)
    } else if has(&[
        "***",
        "error",
        "fehler",
        "erreur",
        "failed",
        "incomplete",
        "inappropriate term code",
        "termination code",
    ]) {
        (Status::Failure, false)
    } else if has(&["differences"]) {
        (Status::Warning, false)
    } else if has(&["ok"]) {
        if has(&["warn", "avertissement", "advertencia"]) {
            (Status::Warning, false)
        } else {
            (Status::Success, false)
        }
    } else if has(&["-- no files to"]) {
        // `Copying -- no files to copy`, `Migration -- no files to migrate`: the control job
        // found nothing to do.
        (Status::Success, false)
    } else {
        (Status::Unknown, false)
    }
}

/// The job name without the timestamp Bacula appends: `web01-files.2026-11-24_08.10.08_04`,
/// Bareos 23's `backup-bareos-fd.2023-09-23T09.50.04_03`, and the 2002 style
/// `RufusVerify.2002-06-25.21:41:05` all give the name before the dot.
fn job_name(job: &str) -> String {
    let job = job.trim();
    let dated = |after: &[u8]| {
        after.len() >= 11
            && after[..4].iter().all(u8::is_ascii_digit)
            && after[4] == b'-'
            && after[5..7].iter().all(u8::is_ascii_digit)
            && after[7] == b'-'
            && after[8..10].iter().all(u8::is_ascii_digit)
            && matches!(after[10], b'_' | b'T' | b'.')
    };
    match job
        .char_indices()
        .find(|&(i, c)| c == '.' && i > 0 && dated(&job.as_bytes()[i + 1..]))
    {
        Some((i, _)) => job[..i].to_string(),
        None => job.to_string(),
    }
}

/// `"web01-fd" 9.6.7 (10Dec20) x86_64-...` -> `web01` (a trailing `-fd` is Bacula's naming
/// convention for the client of host `web01`).
fn client_name(v: &str) -> String {
    let name = match v.strip_prefix('"').and_then(|r| r.split_once('"')) {
        Some((n, _)) => n,
        None => v.split_whitespace().next().unwrap_or(v),
    };
    name.strip_suffix("-fd").unwrap_or(name).to_string()
}

/// `1,200,003 (1.200 MB)` -> 1200003 (separators `,` `.` `'` and spaces are ignored); None
/// when the digits do not fit in a u64.
fn number(v: &str) -> Option<u64> {
    let n = v.split('(').next().unwrap_or(v);
    let digits: String = n
        .chars()
        .filter(|c| !matches!(c, ',' | '.' | '\'' | ' ' | '\u{a0}'))
        .collect();
    digits.parse().ok()
}

/// `1 hour 2 mins 3 secs`, `23 secs`, `1 day 2 hours` -> seconds (saturating).
fn elapsed(v: &str) -> Option<f64> {
    let words: Vec<&str> = v.split_whitespace().collect();
    let mut total = 0u64;
    let mut any = false;
    for pair in words.chunks(2) {
        let [n, unit] = pair else { break };
        let n: u64 = n.parse().ok()?;
        let mult = match unit.trim_end_matches('s') {
            "day" => 86_400,
            "hour" => 3600,
            "min" => 60,
            "sec" => 1,
            _ => return None,
        };
        total = total.saturating_add(n.saturating_mul(mult));
        any = true;
    }
    any.then_some(total as f64)
}

/// Report dates: `24-Nov-2026 02:00:00`, `2026-11-24 02:00:00`, `2023-09-23T09:50:04+0000`,
/// `19-5月-2019 10:00:00`, `16-ноя-2024 22:12:35` and German/French/Spanish month
/// abbreviations; None outside 1970..=2200.
fn date(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%z") {
        return sane_time(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return sane_time(t.and_utc());
        }
    }
    let (d, time) = v.split_once(' ')?;
    let mut parts = d.splitn(3, '-');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    let day: u32 = day.parse().ok()?;
    let year: i32 = year.parse().ok()?;
    let month = month_number(month)?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(time.trim(), "%H:%M"))
        .ok()?;
    sane_time(
        NaiveDate::from_ymd_opt(year, month, day)?
            .and_time(time)
            .and_utc(),
    )
}

fn month_number(m: &str) -> Option<u32> {
    let m = m.trim_end_matches(['.', '月']).to_lowercase();
    if let Ok(n) = m.parse::<u32>() {
        return (1..=12).contains(&n).then_some(n);
    }
    const NAMES: [&[&str]; 12] = [
        &["jan", "janv", "ene", "янв"],
        &["feb", "févr", "fév", "fevr", "фев"],
        &["mar", "mär", "mrz", "mars", "мар"],
        &["apr", "avr", "abr", "апр"],
        &["may", "mai", "май", "мая"],
        &["jun", "juin", "июн"],
        &["jul", "juil", "июл"],
        &["aug", "août", "aoû", "ago", "авг"],
        &["sep", "sept", "сен"],
        &["oct", "okt", "окт"],
        &["nov", "ноя"],
        &["dec", "dez", "déc", "dic", "дек"],
    ];
    NAMES
        .iter()
        .position(|names| names.contains(&m.as_str()))
        .map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let p = |l| prefix(l).map(|p| (p.jobid, p.daemon, p.text));
        assert_eq!(
            p("24-Nov 08:10 vm-dir JobId 1: Start Backup JobId 1"),
            Some((Some(1), "vm-dir", "Start Backup JobId 1"))
        );
        assert_eq!(
            p(" 2024-07-31 16:33:09 bareos-dir JobId 16880: Bareos bareos-dir 23.0.1:"),
            Some((Some(16880), "bareos-dir", "Bareos bareos-dir 23.0.1:"))
        );
        for (line, id, daemon) in [
            (
                "2023-09-23T09:50:06+0000 bareos-fd  JobId 1: Extended attribute",
                1,
                "bareos-fd",
            ),
            (
                "19-5月 16:20 bareos-dir JobId 25: Bareos bareos-dir 18.2.5 (30Jan19):",
                25,
                "bareos-dir",
            ),
            (
                "16-ноя 22:12 bacula-dir JobId 26: Begin pruning",
                26,
                "bacula-dir",
            ),
            (
                "20/07/2018 03:26 airback-dir JobId 12887: Error: Bacula",
                12887,
                "airback-dir",
            ),
            (
                "18\t2025-01-20 13:21:09\tbareos-dir JobId 63589: Error: x",
                63589,
                "bareos-dir",
            ),
            (
                "28 | 2024-07-02 06:20:08 | XXXXXXX JobId 202: Fatal error: x",
                202,
                "XXXXXXX",
            ),
            (
                "bareos-dir JobId 2: Error: Bareos bareos-dir 21.0.0 (21Dec21):",
                2,
                "bareos-dir",
            ),
        ] {
            let got = prefix(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((got.jobid, got.daemon), (Some(id), daemon), "{line}");
        }
        assert_eq!(
            p("07-Jun 11:42 bareos-dir: ERROR in lib/bnet_server_tcp.cc:100"),
            Some((None, "bareos-dir", "ERROR in lib/bnet_server_tcp.cc:100"))
        );
        for line in [
            "  JobId:                  1",
            "JobId: 2",
            "  Termination:            Backup OK",
            "  Scheduled time:         19-5月-2019 16:19:40",
            "Build OS: Ubuntu 20.04.3 LTS",
            "HeadMan: 25-Jun-2002 21:41",
            "    1. Discard the old tape.",
            "2024-01-01 12:00:00.123 P00   INFO: backup command begin",
            "Job queued. JobId=26",
        ] {
            assert_eq!(prefix(line), None, "{line}");
        }
        // A JobId beyond u64 keeps the line a message, of no job.
        assert_eq!(
            p("24-Nov 08:10 vm-dir JobId 99999999999999999999999: x"),
            Some((None, "vm-dir", "x"))
        );
    }

    #[test]
    fn dates_and_numbers() {
        let want = "2026-11-24T02:00:00Z".parse::<DateTime<Utc>>().ok();
        for d in [
            "24-Nov-2026 02:00:00",
            "2026-11-24 02:00:00",
            "2026-11-24T02:00:00+0000",
            "24-11月-2026 02:00:00",
            "24-nov.-2026 02:00:00",
        ] {
            assert_eq!(date(d), want, "{d}");
        }
        assert_eq!(
            date("24-Dez-2026 02:00:00")
                .unwrap()
                .format("%m")
                .to_string(),
            "12"
        );
        assert_eq!(
            date("16-ноя-2024 22:12:35"),
            "2024-11-16T22:12:35Z".parse::<DateTime<Utc>>().ok()
        );
        assert_eq!(number("1,200,003 (1.200 MB)"), Some(1_200_003));
        assert_eq!(elapsed("1 hour 2 mins 3 secs"), Some(3723.0));
        assert_eq!(
            job_name("web01-files.2026-11-24_08.10.08_04"),
            "web01-files"
        );
        assert_eq!(job_name("BackupCatalog"), "BackupCatalog");
        assert_eq!(
            job_name("backup-bareos-fd.2023-09-23T09.50.04_03"),
            "backup-bareos-fd"
        );
        assert_eq!(job_name("RufusVerify.2002-06-25.21:41:05"), "RufusVerify");
        assert_eq!(job_name("a.b.c"), "a.b.c");
        assert_eq!(client_name("\"web01-fd\" 9.6.7 (10Dec20) x86_64"), "web01");
    }

    #[test]
    fn terminations() {
        for (t, want) in [
            ("Backup OK", (Status::Success, false)),
            ("Backup OK -- with warnings", (Status::Warning, false)),
            ("*** Backup Error ***", (Status::Failure, false)),
            ("Backup Canceled", (Status::Failure, true)),
            ("Backup failed -- incomplete", (Status::Failure, false)),
            ("Inappropriate term code: X", (Status::Failure, false)),
            ("Verify Differences", (Status::Warning, false)),
            ("Restore OK", (Status::Success, false)),
            ("something new", (Status::Unknown, false)),
            ("Copying -- no files to copy", (Status::Success, false)),
            ("*** Restore Error ***", (Status::Failure, false)),
            ("Restore OK -- with warnings", (Status::Warning, false)),
        ] {
            assert_eq!(termination_status(t), want, "{t}");
        }
    }

    use crate::formats::test_support::{job, parse_as};
    use crate::formats::{FileMeta, Format};

    fn parse_all(body: &str) -> Vec<Outcome> {
        let meta = FileMeta::for_path("/var/log/bacula/x.log");
        parse_as(
            Format::Bacula,
            &meta,
            body.as_bytes(),
            None,
            &job("x"),
            true,
        )
        .outcomes
    }

    const REPORT: &str = "24-Nov 08:10 vm-dir JobId 1: Bacula vm-dir 9.6.7 (10Dec20):\n\
        \x20 JobId:                  1\n\
        \x20 Job:                    web01.2026-11-24_08.10.08_04\n\
        \x20 Start time:             24-Nov-2026 08:10:10\n\
        \x20 End time:               24-Nov-2026 08:10:11\n\
        \x20 Elapsed time:           1 hour 2 mins 3 secs\n\
        \x20 FD Files Written:       4\n\
        \x20 SD Bytes Written:       1,200,581 (1.200 MB)\n\
        \x20 Non-fatal FD errors:    0\n\
        \x20 SD Errors:              0\n\
        \x20 Termination:            Backup OK\n";

    #[test]
    fn hostile_numbers_do_not_panic_or_wrap() {
        assert_eq!(parse_all(REPORT)[0].status, Status::Success);
        let huge = "18446744073709551615";
        // Error counts that add up beyond u64 (the old `fd + sd > 0` overflowed).
        let body = REPORT
            .replace(
                "Non-fatal FD errors:    0",
                &format!("Non-fatal FD errors:    {huge}"),
            )
            .replace(
                "SD Errors:              0",
                &format!("SD Errors:              {huge}"),
            );
        assert_eq!(parse_all(&body)[0].status, Status::Warning);
        for v in [
            "99999999999999999999999",
            "-9223372036854775808",
            "1e308",
            "3000000000",
            "18446744073709551616",
        ] {
            for key in ["JobId:                  1", "FD Files Written:       4"] {
                let k = key.split(':').next().unwrap();
                let body = REPORT.replace(key, &format!("{k}: {v}"));
                assert_eq!(parse_all(&body).len(), 1, "{key} {v}");
            }
            let body = REPORT.replace("1 hour 2 mins 3 secs", &format!("{v} days {v} hours"));
            let o = &parse_all(&body)[0];
            assert!(o.duration_s.is_none_or(|d| d.is_finite()), "{v}");
            let body = REPORT.replace("24-Nov-2026", &format!("24-Nov-{v}"));
            assert_eq!(parse_all(&body)[0].started, None, "{v}");
            let body = REPORT.replace("JobId 1:", &format!("JobId {v}:"));
            assert_eq!(parse_all(&body)[0].status, Status::Success, "{v}");
        }
        assert_eq!(elapsed("18446744073709551615 days"), Some(u64::MAX as f64));
        assert_eq!(date("24-Nov-99999 08:10:10"), None);
        assert_eq!(date("1969-12-31 23:59:59"), None);
        assert_eq!(date("2201-01-01T00:00:00+0000"), None);
    }

    #[test]
    fn director_fatal_errors_and_failed_before_scripts() {
        // No job ran: the Director's own fatal errors (JobId 0) fail the file's run.
        let dir =
            "05-Dec 12:51 bareos-dir JobId 0: Fatal error: Could not open Catalog \"MyCatalog\"\n";
        let o = parse_all(dir);
        assert_eq!((o.len(), o[0].status), (1, Status::Failure));
        // With a job in the file, the job's outcome says it; no extra outcome.
        let with_job = format!("{dir}{REPORT}");
        assert_eq!(parse_all(&with_job).len(), 1);
        // A failed RunBeforeJob script reported as an error aborts the job; as a warning not.
        let before =
            "2018-07-27 05:58:33 | bareos-dir JobId 7: Error: Runscript: BeforeJob returned \
                      non-zero status=208. ERR=No such file or directory\n";
        assert_eq!(parse_all(before)[0].status, Status::Failure);
        let after = before.replace("BeforeJob", "AfterJob");
        assert!(parse_all(&after)[0].status != Status::Failure);
        // Two webui rows of a redacted daemon with a JobId and a severity: bacula.
        let rows =
            "28 | 2024-07-02 06:20:08 | XXXXXXX JobId 202: Fatal error: filed/backup.cc:1405 \
                    Network send error to SD. ERR=Broken pipe\n27 | 2024-07-02 06:20:08 | XXXXXXX \
                    JobId 202: Error: lib/bsock_tcp.cc:419 Wrote 262144 bytes\n";
        assert!(crate::formats::test_support::looks(
            looks_like,
            rows.as_bytes()
        ));
        assert!(!crate::formats::test_support::looks(
            looks_like,
            b"JobId 1: Error: one line only\n"
        ));
    }

    #[test]
    fn jobid_only_lines_and_errors_around_an_ok_report() {
        // A job's messages under its JobId alone: a fatal error fails the job.
        let body = "22309: Fatal error: CreateSGenerate VSS snapshots failed. ERR=x\n\
                    22309: Warning: VSS Writer \"MSSearch Service Writer\" has invalid state.\n";
        let o = parse_all(body);
        assert_eq!(
            (o[0].job.as_str(), o[0].status),
            ("jobid 22309", Status::Failure)
        );
        let looks = |b: &str| crate::formats::test_support::looks(looks_like, b.as_bytes());
        assert!(looks(body));
        // Two such lines without a fatal error are not enough to tell Bacula.
        assert!(!looks("1: Error: a\n2: Warning: b\n"));
        assert_eq!(prefix("1: MyCatalog"), None);
        // Newest first (the webui's joblog): an error of the job after its OK report.
        let body = "83\t2025-08-27 10:39:40\tbareos JobId 3112: Bareos bareos 24.0.4 (11Jun25):\n\
                    Current JobId: 3112\nCurrent Job: Migrate-Diff.2025-08-27_10.39.38_15\n\
                    Start time: 27-Aug-2025 10:39:40\nEnd time: 27-Aug-2025 10:39:40\n\
                    Termination: Migration OK\n\n\
                    82\t2025-08-27 10:39:40\tbareos JobId 3112: Error: Could not start migration job.\n";
        let o = parse_all(body);
        assert_eq!(o.len(), 1);
        assert_eq!(
            (o[0].job.as_str(), o[0].status),
            ("Migrate-Diff", Status::Warning)
        );
        assert_eq!(o[0].errors, ["Could not start migration job."]);
        // Pruning messages after an OK report change nothing.
        let body = format!(
            "{REPORT}24-Nov 09:12 vm-dir JobId 1: Begin pruning Jobs older than 6 months .\n"
        );
        assert_eq!(parse_all(&body)[0].status, Status::Success);
    }

    #[test]
    fn quoted_mail_report() {
        let quoted: String = REPORT.lines().map(|l| format!("> {l}\n")).collect();
        let o = &parse_all(&quoted)[0];
        assert_eq!((o.job.as_str(), o.status), ("web01", Status::Success));
        let twice: String = REPORT.lines().map(|l| format!(">> {l}\n")).collect();
        assert_eq!(parse_all(&twice)[0].status, Status::Success);
    }

    #[test]
    fn reports_without_termination_and_unreported_jobs() {
        // The Director's `Error:` before the header: failure even when the paste stops early.
        let cut = "20/07/2018 03:26 airback-dir JobId 12887: Error: Bacula airback-dir 5.0.2 \
                   (28Apr10): 20-Jul-2018 03:26:20\nJobId: 12887\nJob: 01P.2018-07-20_01.00.00_56\n\
                   Backup Level: Full\nClient: \"NAS-fd\" 5.2.12\n";
        let o = &parse_all(cut)[0];
        assert_eq!((o.job.as_str(), o.status), ("01P", Status::Failure));
        // `llist jobs` style keys: the catalog status letter.
        let llist = "jobid: 5\njob: a.2019-05-19_00.22.22_04\nname: a\njobstatus: W\n\n\
                     jobid: 6\njob: b.2019-05-19_00.22.22_05\nname: b\njobstatus: R\n";
        let o = parse_all(llist);
        assert_eq!(
            o.iter()
                .map(|o| (o.job.as_str(), o.status))
                .collect::<Vec<_>>(),
            [("a", Status::Warning), ("b", Status::Unknown)]
        );
        // A job that started, then a fatal error and no report: failure; one that just started:
        // unknown; messages of JobId 0 are no job.
        let log = "19-5月 16:24 bareos-dir JobId 26: Start Backup JobId 26, Job=c2.2019-05-19_16.24.25_06\n\
                   19-5月 16:54 client2-fd JobId 26: Fatal error: Failed to connect to Storage daemon\n\
                   19-5月 17:10 bareos-dir JobId 27: Start Backup JobId 27, Job=c3.2019-05-19_17.10.47_04\n\
                   19-5月 15:52 bareos-dir JobId 0: Fatal error: Authorization key rejected\n";
        let o = parse_all(log);
        assert_eq!(
            o.iter()
                .map(|o| (o.job.as_str(), o.status))
                .collect::<Vec<_>>(),
            [("c2", Status::Failure), ("c3", Status::Unknown)]
        );
        // A log still growing keeps them for later.
        let meta = FileMeta::for_path("/var/log/bacula/x.log");
        let p = parse_as(
            Format::Bacula,
            &meta,
            log.as_bytes(),
            None,
            &job("x"),
            false,
        );
        assert_eq!((p.outcomes.len(), p.consumed), (0, 0));
    }
}
