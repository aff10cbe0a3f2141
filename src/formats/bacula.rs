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

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use nom::bytes::complete::{tag, take_till1, take_while1};
use nom::character::complete::{char, digit1, space0, space1};
use nom::combinator::{map_res, opt, rest};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};

use super::common::{head, lines};
use super::{Format, Input, Parsed};
use crate::outcome::{Outcome, Status};

/// Keys kept per report and messages kept per job: bounds for hostile input.
const MAX_KEYS: usize = 100;
const MAX_MESSAGES: usize = 50;
/// Jobs whose messages are remembered while waiting for their report.
const MAX_JOBS: usize = 1000;
/// Longest message kept (continuation lines are appended up to this).
const MAX_MESSAGE_LEN: usize = 1000;

/// Parse Bacula/Bareos job reports.
pub fn parse(input: &Input<'_>) -> Parsed {
    let mut outcomes = Vec::new();
    let mut consumed = 0;
    let mut messages: BTreeMap<u64, Messages> = BTreeMap::new();
    let mut last_job: Option<u64> = None;
    let mut report: Option<Report> = None;
    for (end, line) in lines(input.bytes) {
        let line = line.trim_end();
        let (jobid, text) = match prefix(line) {
            Ok((text, jobid)) => (jobid, Some(text)),
            Err(_) => (None, None),
        };
        if let Some(text) = text {
            // A new log message ends any report block.
            let text_body = strip_severity(text.trim_start()).1;
            if is_header(text_body) {
                report = Some(Report::new(jobid, text_body));
                continue;
            }
            report = None;
            if let Some(id) = jobid {
                last_job = Some(id);
                message(&mut messages, id, text);
            }
            continue;
        }
        if line.trim().is_empty() {
            report = None;
            continue;
        }
        if let Ok((_, (key, value))) = key_value(line) {
            if report.is_none() && key == "jobid" {
                report = Some(Report::new(None, ""));
            }
            if let Some(r) = report.as_mut() {
                if r.keys.len() < MAX_KEYS {
                    r.keys.insert(key.clone(), value.to_string());
                }
                if key == "termination" {
                    let r = report.take().unwrap_or_default();
                    let id = r.jobid();
                    let msgs = id.and_then(|id| messages.remove(&id)).unwrap_or_default();
                    outcomes.push(r.outcome(input, msgs));
                    consumed = end;
                }
                continue;
            }
        }
        // A continuation of the last message (`Fatal error: ... RunBefore\n, got 2905 ...`).
        if let Some(m) = last_job.and_then(|id| messages.get_mut(&id)) {
            m.continue_last(line.trim());
        }
    }
    if input.complete {
        if let Some(r) = report.filter(|r| !r.keys.is_empty()) {
            let mut o = r.outcome(input, Messages::default());
            o.status = Status::Unknown;
            o.errors
                .push("the job report ends before its Termination line".into());
            outcomes.push(o);
        }
        if outcomes.is_empty() {
            outcomes.push(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "no bacula/bareos job report (JobId ... Termination) found",
            ));
        }
        consumed = input.bytes.len();
    }
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Bacula),
    }
}

/// True for text with a job report header or the `JobId:` and `Termination:` keys, or Bacula
/// log lines.
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let mut jobid = false;
    let mut termination = false;
    for (_, line) in lines(head).take(2000) {
        let line = line.trim_end();
        if let Ok((text, Some(_))) = prefix(line) {
            if is_header(strip_severity(text.trim_start()).1) {
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

/// The log prefix `<date> <time> <daemon>[ JobId <n>]: `; returns the JobId and leaves the text.
fn prefix(i: &str) -> IResult<&str, Option<u64>> {
    let (i, _) = space0(i)?;
    let (i, _date) = take_while1(|c: char| !c.is_whitespace())(i)?;
    let (i, _) = space1(i)?;
    let (i, _time) = take_while1(|c: char| c.is_ascii_digit() || c == ':')(i)?;
    let (i, _) = space1(i)?;
    let (i, _daemon) = take_till1(|c: char| c.is_whitespace() || c == ':')(i)?;
    let (i, jobid) = opt(preceded(tag(" JobId "), map_res(digit1, str::parse::<u64>))).parse(i)?;
    let (i, _) = terminated(char(':'), opt(char(' '))).parse(i)?;
    Ok((i, jobid))
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

/// The severity of a message text and the text without it.
fn strip_severity(text: &str) -> (Option<&'static str>, &str) {
    for (p, sev) in [
        ("Fatal error: ", "error"),
        ("Error: ", "error"),
        ("Warning: ", "warning"),
    ] {
        if let Some(t) = text.strip_prefix(p) {
            return (Some(sev), t);
        }
    }
    (None, text)
}

/// `Bacula vm-dir 9.6.7 (10Dec20):`, `Bareos bareos-dir 23.0.1 (...):`, `BAREOS 17.2.4 (...):`.
fn is_header(text: &str) -> bool {
    let l = text.trim_end();
    let lower = l.get(..7).map(str::to_ascii_lowercase).unwrap_or_default();
    (lower == "bacula " || lower == "bareos ") && l.ends_with(':')
}

// ---------------------------------------------------------------------------------------------
// Messages of a job.

#[derive(Debug, Default)]
struct Messages {
    errors: Vec<String>,
    warnings: Vec<String>,
    /// Which list the last message went to (for continuation lines).
    last_is_error: Option<bool>,
}

impl Messages {
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

fn message(all: &mut BTreeMap<u64, Messages>, id: u64, text: &str) {
    let (sev, body) = strip_severity(text.trim_start());
    // FD per-file errors are indented and carry `ERR=`.
    let sev = sev.or_else(|| (text.starts_with(' ') && text.contains("ERR=")).then_some("error"));
    if !all.contains_key(&id) && all.len() >= MAX_JOBS {
        return;
    }
    let m = all.entry(id).or_default();
    m.last_is_error = None;
    let (list, is_error) = match sev {
        Some("error") => (&mut m.errors, true),
        Some(_) => (&mut m.warnings, false),
        None => return,
    };
    if list.len() < MAX_MESSAGES {
        let mut body = body.trim().to_string();
        truncate(&mut body, MAX_MESSAGE_LEN);
        list.push(body);
        m.last_is_error = Some(is_error);
    }
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
    keys: BTreeMap<String, String>,
}

impl Report {
    fn new(jobid: Option<u64>, header: &str) -> Report {
        Report {
            header_jobid: jobid,
            bareos: header.to_ascii_lowercase().starts_with("bareos"),
            keys: BTreeMap::new(),
        }
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
            .map(job_name)
            .or_else(|| self.jobid().map(|id| format!("jobid {id}")))
            .unwrap_or_else(|| input.options.job.clone());
        let termination = self.get("termination").unwrap_or_default().to_string();
        let mut o = Outcome::new(job, Status::Unknown);
        let bareos = self.bareos || self.keys.contains_key("bareos binary info");
        o.tool = Some(if bareos { "bareos" } else { "bacula" }.into());
        o.host = self.get("client").map(client_name);
        o.started = self.get("start time").and_then(date);
        o.finished = self.get("end time").and_then(date);
        o.duration_s = self.get("elapsed time").and_then(elapsed);
        o.bytes = self
            .get("sd bytes written")
            .or(self.get("fd bytes written"))
            .and_then(number);
        o.files = self
            .get("fd files written")
            .or(self.get("sd files written"))
            .and_then(number);
        let fd_errors = self
            .get("non-fatal fd errors")
            .and_then(number)
            .unwrap_or(0);
        let sd_errors = self.get("sd errors").and_then(number).unwrap_or(0);
        o.errors = msgs.errors;
        o.warnings = msgs.warnings;
        let (status, canceled) = termination_status(&termination);
        o.status = match status {
            Status::Success if fd_errors + sd_errors > 0 => Status::Warning,
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
        if o.status == Status::Unknown {
            o.errors
                .push(format!("unrecognised termination {termination:?}"));
        }
        if o.status == Status::Success && o.files == Some(0) {
            if let Some(s) = input.options.zero_files {
                o.status = s;
            }
        }
        let level = self
            .get("backup level")
            .map(|l| l.split(',').next().unwrap_or(l).trim().to_string());
        o.summary = Some(match level {
            Some(l) => format!("{termination} ({l})"),
            None => termination,
        });
        o
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
    } else {
        (Status::Unknown, false)
    }
}

/// `web01-files.2026-11-24_08.10.08_04` -> `web01-files`.
fn job_name(job: &str) -> String {
    let job = job.trim();
    let dated = |after: &[u8]| {
        after.len() >= 11
            && after[..4].iter().all(u8::is_ascii_digit)
            && after[4] == b'-'
            && after[7] == b'-'
            && after[10] == b'_'
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

/// `1,200,003 (1.200 MB)` -> 1200003 (separators `,` `.` `'` and spaces are ignored).
fn number(v: &str) -> Option<u64> {
    let n = v.split('(').next().unwrap_or(v);
    let digits: String = n
        .chars()
        .filter(|c| !matches!(c, ',' | '.' | '\'' | ' ' | '\u{a0}'))
        .collect();
    digits.parse().ok()
}

/// `1 hour 2 mins 3 secs`, `23 secs`, `1 day 2 hours` -> seconds.
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
/// `19-5月-2019 10:00:00`, and German/French/Spanish month abbreviations.
fn date(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Some(t.and_utc());
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
    Some(
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
        &["jan", "janv", "ene"],
        &["feb", "févr", "fév", "fevr"],
        &["mar", "mär", "mrz", "mars"],
        &["apr", "avr", "abr"],
        &["may", "mai"],
        &["jun", "juin"],
        &["jul", "juil"],
        &["aug", "août", "aoû", "ago"],
        &["sep", "sept"],
        &["oct", "okt"],
        &["nov"],
        &["dec", "dez", "déc", "dic"],
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
        assert_eq!(
            prefix("24-Nov 08:10 vm-dir JobId 1: Start Backup JobId 1").unwrap(),
            ("Start Backup JobId 1", Some(1))
        );
        assert_eq!(
            prefix(" 2024-07-31 16:33:09 bareos-dir JobId 16880: Bareos bareos-dir 23.0.1:")
                .unwrap(),
            ("Bareos bareos-dir 23.0.1:", Some(16880))
        );
        assert!(prefix("  JobId:                  1").is_err());
        assert!(prefix("  Termination:            Backup OK").is_err());
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
        assert_eq!(number("1,200,003 (1.200 MB)"), Some(1_200_003));
        assert_eq!(elapsed("1 hour 2 mins 3 secs"), Some(3723.0));
        assert_eq!(
            job_name("web01-files.2026-11-24_08.10.08_04"),
            "web01-files"
        );
        assert_eq!(job_name("BackupCatalog"), "BackupCatalog");
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
        ] {
            assert_eq!(termination_status(t), want, "{t}");
        }
    }
}
