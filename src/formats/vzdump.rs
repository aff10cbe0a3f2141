//! Proxmox VE `vzdump` (research note section 4): task logs (`/var/log/pve/tasks/*/UPID:...`),
//! the task index (`/var/log/pve/tasks/index`), per-guest logs (`/var/log/vzdump/qemu-100.log`,
//! lines prefixed `%F %T`), and notification mails (the old "Detailed backup logs" and the
//! PVE 8.1+ "Logs" section, lines prefixed `<vmid>: %F %T`).
//!
//! Owns: the vzdump line grammar (nom), one [`Item`] per guest, the job status from the last
//! `TASK ...` line (or, without one, from the guests and the job summary lines), and the
//! decoding of UPIDs. Local times without an offset are read as UTC. Must not do I/O.
//!
//! A task log is append-only while the task runs: with `complete == false` only a `TASK ...`
//! line ends a run, and whatever follows the last one is left unconsumed.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1, take_while1, take_while_m_n};
use nom::character::complete::{char, digit1, hex_digit1, space0, space1};
use nom::combinator::{map, map_res, opt, recognize, rest};
use nom::number::complete::recognize_float;
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

use super::common::{add_secs, head, lines, sane_epoch, sane_time};
use super::{Format, Input, Parsed};
use crate::outcome::{Item, Outcome, Status};

const TOOL: &str = "vzdump";
/// Messages kept per run (errors, warnings): a runaway log must not make a huge outcome.
const MAX_MESSAGES: usize = 50;

/// Parse a vzdump task log, task index, per-guest log or notification mail.
pub fn parse(input: &Input<'_>) -> Parsed {
    let first = lines(input.bytes)
        .map(|(_, l)| l)
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    if first.starts_with("UPID:") {
        return parse_index(input);
    }
    let file_upid = input
        .meta
        .path
        .rsplit('/')
        .next()
        .and_then(|name| upid(name).ok().map(|(_, u)| u));
    let mut outcomes = Vec::new();
    let mut consumed = 0;
    let mut run = Run::default();
    let mut line_start = 0;
    for (end, raw) in lines(input.bytes) {
        let start = std::mem::replace(&mut line_start, end);
        let Some(ev) = event(&raw) else { continue };
        // Console outputs pasted one after another have no `TASK` line: a new job start ends
        // the run before it, when that run backed up anything.
        if matches!(ev.kind, Ev::JobStart) && run.has_result() {
            outcomes.push(std::mem::take(&mut run).outcome(input, file_upid.as_ref()));
            consumed = start;
        }
        let done = matches!(ev.kind, Ev::Task(_));
        run.apply(ev);
        if done {
            outcomes.push(std::mem::take(&mut run).outcome(input, file_upid.as_ref()));
            consumed = end;
        }
    }
    if input.complete {
        if run.seen {
            outcomes.push(run.outcome(input, file_upid.as_ref()));
        }
        consumed = input.bytes.len();
        if outcomes.is_empty() {
            outcomes.push(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "no vzdump task result or guest backup lines found",
            ));
        }
    }
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Vzdump),
    }
}

/// True for vzdump task logs, mails, per-guest logs and task index lines.
pub fn looks_like(input: &Input<'_>) -> bool {
    let name = input.meta.path.rsplit('/').next().unwrap_or_default();
    if name.starts_with("UPID:") && name.contains(":vzdump:") {
        return true;
    }
    // A per-guest log or a paste cut before any start or end line still shows vzdump's own
    // progress lines; two of them are needed, one could be a quote in another tool's log.
    let mut progress = 0;
    lines(head(input.bytes)).take(400).any(|(_, l)| {
        if l.starts_with("UPID:") && l.contains(":vzdump:") {
            return true;
        }
        match event(&l).map(|e| e.kind) {
            Some(
                Ev::JobStart
                | Ev::GuestStart(..)
                | Ev::GuestFinished(..)
                | Ev::GuestFailed(..)
                | Ev::JobFailed(_)
                | Ev::Task(_),
            ) => true,
            Some(Ev::Progress) => {
                progress += 1;
                progress >= 2
            }
            _ => false,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The task index: `UPID:node:pid:pstart:starttime:type:id:user: <endtime hex> <status>`.

/// A decoded UPID.
#[derive(Debug, Clone, PartialEq)]
struct Upid {
    node: String,
    start: Option<DateTime<Utc>>,
    kind: String,
    id: String,
}

fn hex_u64(i: &str) -> IResult<&str, u64> {
    map_res(hex_digit1, |h| u64::from_str_radix(h, 16)).parse(i)
}

fn field(i: &str) -> IResult<&str, &str> {
    map(opt(take_till1(|c| c == ':')), Option::unwrap_or_default).parse(i)
}

fn upid(i: &str) -> IResult<&str, Upid> {
    let (i, _) = tag("UPID:").parse(i)?;
    let (i, node) = terminated(field, char(':')).parse(i)?;
    let (i, _pid) = terminated(hex_u64, char(':')).parse(i)?;
    let (i, _pstart) = terminated(hex_u64, char(':')).parse(i)?;
    let (i, start) = terminated(hex_u64, char(':')).parse(i)?;
    let (i, kind) = terminated(field, char(':')).parse(i)?;
    let (i, id) = terminated(field, char(':')).parse(i)?;
    let (i, _user) = terminated(field, char(':')).parse(i)?;
    Ok((
        i,
        Upid {
            node: node.to_string(),
            start: epoch(start),
            kind: kind.to_string(),
            id: id.to_string(),
        },
    ))
}

/// The end time and status of an index line.
type Ended<'a> = Option<(u64, &'a str)>;

/// An index line: the UPID, then the end time and the status (absent while running).
fn index_line(i: &str) -> IResult<&str, (Upid, Ended<'_>)> {
    let (i, u) = upid(i)?;
    let (i, end) = opt((preceded(space1, hex_u64), preceded(space1, rest))).parse(i)?;
    Ok((i, (u, end)))
}

fn epoch(secs: u64) -> Option<DateTime<Utc>> {
    sane_epoch(secs)
}

fn parse_index(input: &Input<'_>) -> Parsed {
    let mut outcomes = Vec::new();
    let mut consumed = 0;
    for (end, line) in lines(input.bytes) {
        let newline = input.bytes.get(end.wrapping_sub(1)) == Some(&b'\n');
        if !newline && !input.complete {
            break;
        }
        consumed = end;
        let Ok((_, (u, Some((endtime, status))))) = index_line(line.trim_end()) else {
            continue;
        };
        if u.kind != "vzdump" {
            continue;
        }
        let status = status.trim();
        let mut o = Outcome::new(derived_job(input, Some(&u)), Status::Success);
        o.tool = Some(TOOL.into());
        o.host = Some(u.node.clone()).filter(|n| !n.is_empty());
        o.started = u.start;
        o.finished = epoch(endtime);
        o.status = task_status(status, input, &mut o.errors, &mut o.warnings);
        o.summary = Some(format!("task {status}"));
        outcomes.push(o);
    }
    if input.complete {
        consumed = input.bytes.len();
    }
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Vzdump),
    }
}

/// The job name: the watch's, unless that is only the name of a PVE task file (a UPID or
/// `index`); then `vzdump-<vmid>` for a one-guest task, else `vzdump`.
fn derived_job(input: &Input<'_>, u: Option<&Upid>) -> String {
    let job = input.options.job.as_str();
    let stem = input.meta.file_stem.as_str();
    let task_file = job.is_empty()
        || (job == stem && (stem.starts_with("UPID:") || stem == "index" || stem == "active"));
    match u {
        Some(u) if task_file && !u.id.is_empty() => format!("vzdump-{}", u.id),
        Some(_) if task_file => "vzdump".into(),
        _ => job.to_string(),
    }
}

/// Status of a task status text (`OK`, `WARNINGS: 2`, an error text).
fn task_status(
    text: &str,
    input: &Input<'_>,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Status {
    if text == "OK" {
        Status::Success
    } else if let Some(n) = text.strip_prefix("WARNINGS:") {
        warnings.push(format!("{} warnings", n.trim()));
        Status::Warning
    } else {
        errors.push(text.to_string());
        if is_canceled(text) {
            input.options.canceled.unwrap_or(Status::Failure)
        } else {
            Status::Failure
        }
    }
}

fn is_canceled(msg: &str) -> bool {
    msg.contains("interrupted by signal") || msg.contains("received interrupt")
}

// ---------------------------------------------------------------------------------------------
// Log lines.

/// One recognised log line: its time (when the line has one) and what it says.
#[derive(Debug, PartialEq)]
struct Event {
    time: Option<DateTime<Utc>>,
    kind: Ev,
}

#[derive(Debug, PartialEq)]
enum Ev {
    /// `INFO: starting new backup job: vzdump ...`
    JobStart,
    /// `INFO: Starting Backup of VM 100 (qemu)`
    GuestStart(u32),
    /// `INFO: VM Name: web01` / `INFO: CT Name: web01`
    GuestName(String),
    /// `INFO: Backup started at 2026-11-24 02:00:01`
    StartedAt(DateTime<Utc>),
    /// `INFO: Finished Backup of VM 100 (00:01:23)`: vmid, seconds.
    GuestFinished(u32, Option<u64>),
    /// `ERROR: Backup of VM 101 failed - <err>`
    GuestFailed(u32, String),
    /// `INFO: archive file size: 2.31GB` and the like: bytes with a preference rank (lower wins).
    Size(u64, u8),
    /// `INFO: Backup job finished successfully`
    JobOk,
    /// `INFO: Backup job finished with errors`
    JobErrors,
    /// `ERROR: Backup job failed - <err>`
    JobFailed(String),
    /// `WARN: <msg>`
    Warn(String),
    /// `ERROR: <msg>` (other)
    Error(String),
    /// `TASK OK` / `TASK WARNINGS: N` / `TASK ERROR: <msg>`: the status text after `TASK `.
    Task(String),
    /// `vzdump backup status (<fqdn>): ...` (a notification mail's subject)
    MailHost(String),
    /// One of vzdump's own progress lines (`creating vzdump archive '...'`, `backup mode: ...`,
    /// `status: 54% (...), sparse ...`, ` 47% (580.0 MiB of 1.2 GiB) in 3s, ...`): a backup was
    /// running.
    Progress,
}

fn event(raw: &str) -> Option<Event> {
    let line = unwrap_line(raw);
    event_in(line).or_else(|| {
        // Behind a journald/syslog, docker compose or logger prefix (`Jan 05 01:00:02 pve
        // vzdump[1234]: INFO: ...`): the same line once that prefix is peeled.
        let peeled = super::common::unwrap_line(raw);
        (peeled.len() < line.len())
            .then(|| event_in(unwrap_line(peeled)))
            .flatten()
    })
}

fn event_in(line: &str) -> Option<Event> {
    if let Some(status) = line.strip_prefix("TASK ") {
        let status = status.strip_prefix("ERROR: ").unwrap_or(status);
        return Some(Event {
            time: None,
            kind: Ev::Task(status.trim().to_string()),
        });
    }
    if is_usage(line) {
        return Some(Event {
            time: None,
            kind: Ev::JobFailed("vzdump refused its command line (usage error)".into()),
        });
    }
    if let Ok((_, host)) = mail_subject(line) {
        return Some(Event {
            time: None,
            kind: Ev::MailHost(host.to_string()),
        });
    }
    let (_, (time, level, msg)) = prefixed(line).ok()?;
    let time = time.flatten();
    let kind = match level {
        "INFO" => info(msg)?,
        "WARN" => Ev::Warn(msg.trim().to_string()),
        _ => match guest_failed(msg) {
            Ok((_, (vmid, err))) => Ev::GuestFailed(vmid, err.trim().to_string()),
            Err(_) => match msg.strip_prefix("Backup job failed - ") {
                Some(err) => Ev::JobFailed(err.trim().to_string()),
                None => Ev::Error(msg.trim().to_string()),
            },
        },
    };
    Some(Event { time, kind })
}

/// vzdump's usage text, printed when it refuses its command line and backs up nothing:
/// vzdump 1.x `usage: /usr/sbin/vzdump OPTIONS [--all | VMID]` (after `Unknown option: mode`),
/// and the PVE CLI's `vzdump {<vmid>} [OPTIONS]` / `vzdump help` lines under its
/// `400 Parameter verification failed.` or `400 unable to parse option`.
fn is_usage(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix("usage: ") {
        let cmd = rest.split_whitespace().next().unwrap_or_default();
        return cmd == "vzdump" || cmd.ends_with("/vzdump");
    }
    line.starts_with("vzdump {<vmid>} [OPTIONS]") || line.starts_with("vzdump help [")
}

/// A line without what pastes wrap around vzdump's own text: surrounding whitespace (old PVE
/// mails indent every line by two spaces), mail quote markers (`> `), the backtick opening an
/// inline code span, and the file name that
/// `grep -H` or `tail` of several per-guest logs put first (`/var/log/vzdump/qemu-100.log:`).
fn unwrap_line(line: &str) -> &str {
    let mut l = line.trim();
    while let Some(rest) = l.strip_prefix('>') {
        l = rest.trim_start();
    }
    // A line pasted as markdown inline code: `` `ERROR: Backup of VM 100 failed - ...` ``.
    if let Some(rest) = l.strip_prefix('`').filter(|r| !r.starts_with('`')) {
        l = rest.trim_start();
    }
    if l.starts_with('/') {
        if let Some(i) = l.find(".log") {
            let rest = &l[i + 4..];
            if let Some(rest) = rest.strip_prefix(':').or_else(|| rest.strip_prefix(' ')) {
                l = rest.trim_start();
            }
        }
    }
    l
}

/// The time of a line (None when it has none, Some(None) when it is out of range).
type LineTime = Option<Option<DateTime<Utc>>>;

/// `[<vmid>: ][YYYY-MM-DD HH:MM:SS ](INFO|WARN|ERROR): <msg>`; a stray backtick after the
/// vmid (a paste's code fence) is tolerated.
fn prefixed(i: &str) -> IResult<&str, (LineTime, &str, &str)> {
    let (i, _vmid) = opt(terminated(digit1, (char(':'), opt(char('`')), char(' ')))).parse(i)?;
    let (i, time) = opt(terminated(local_time, space1)).parse(i)?;
    let (i, level) =
        terminated(alt((tag("INFO"), tag("WARN"), tag("ERROR"))), tag(":")).parse(i)?;
    let (i, _) = opt(char(' ')).parse(i)?;
    Ok(("", (time, level, i)))
}

/// `YYYY-MM-DD HH:MM:SS`, local time read as UTC; None when it is no valid time in 1970..=2200
/// (the line is still read).
fn local_time(i: &str) -> IResult<&str, Option<DateTime<Utc>>> {
    map(
        recognize((
            take_while_m_n(4, 4, |c: char| c.is_ascii_digit()),
            char('-'),
            take_while_m_n(2, 2, |c: char| c.is_ascii_digit()),
            char('-'),
            take_while_m_n(2, 2, |c: char| c.is_ascii_digit()),
            char(' '),
            take_while_m_n(8, 8, |c: char| c.is_ascii_digit() || c == ':'),
        )),
        |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .and_then(|t| sane_time(t.and_utc()))
        },
    )
    .parse(i)
}

fn vmid(i: &str) -> IResult<&str, u32> {
    map_res(digit1, str::parse).parse(i)
}

fn guest_failed(i: &str) -> IResult<&str, (u32, &str)> {
    (
        delimited(tag("Backup of VM "), vmid, tag(" failed - ")),
        rest,
    )
        .parse(i)
}

fn mail_subject(i: &str) -> IResult<&str, &str> {
    let (i, _) = opt(tag("Subject: ")).parse(i)?;
    delimited(
        tag("vzdump backup status ("),
        take_till1(|c| c == ')'),
        tag("):"),
    )
    .parse(i)
}

/// `HH:MM:SS` as seconds; None when a number does not fit (the line is still read).
fn hms(i: &str) -> IResult<&str, Option<u64>> {
    let num = || map(digit1, |d: &str| d.parse::<u64>().ok());
    map(
        (num(), char(':'), num(), char(':'), num()),
        |(h, _, m, _, s)| {
            h?.checked_mul(3600)?
                .checked_add(m?.checked_mul(60)?)?
                .checked_add(s?)
        },
    )
    .parse(i)
}

/// `2.31GB`, `32.00 GiB`, `584MiB`: vzdump computes every unit with 1024.
fn size(i: &str) -> IResult<&str, u64> {
    let (i, n) = map_res(recognize_float, str::parse::<f64>).parse(i)?;
    let (i, _) = space0(i)?;
    let (i, unit) = take_while1(|c: char| c.is_ascii_alphabetic())(i)?;
    let mult: u64 = match unit.chars().next().map(|c| c.to_ascii_uppercase()) {
        Some('B') => 1,
        Some('K') => 1 << 10,
        Some('M') => 1 << 20,
        Some('G') => 1 << 30,
        Some('T') => 1 << 40,
        Some('P') => 1 << 50,
        _ => {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Alpha,
            )))
        }
    };
    let bytes = n.max(0.0) * mult as f64;
    // `as` would saturate: a size beyond u64 (or `inf`, `NaN`) is garbage, not a size.
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Float,
        )));
    }
    Ok((i, bytes as u64))
}

fn info(msg: &str) -> Option<Ev> {
    let m = msg.trim();
    if m.starts_with("starting new backup job: vzdump") {
        return Some(Ev::JobStart);
    }
    if m == "Backup job finished successfully" {
        return Some(Ev::JobOk);
    }
    if m == "Backup job finished with errors" {
        return Some(Ev::JobErrors);
    }
    if let Ok((_, id)) = delimited(
        tag::<_, _, nom::error::Error<&str>>("Starting Backup of VM "),
        vmid,
        opt(preceded(space1, rest)),
    )
    .parse(m)
    {
        return Some(Ev::GuestStart(id));
    }
    if let Ok((_, (id, secs))) = (
        preceded(tag("Finished Backup of VM "), vmid),
        opt(preceded(space1, delimited(char('('), hms, char(')')))),
    )
        .parse(m)
    {
        return Some(Ev::GuestFinished(id, secs.flatten()));
    }
    if let Some(name) = m
        .strip_prefix("VM Name: ")
        .or_else(|| m.strip_prefix("CT Name: "))
    {
        return Some(Ev::GuestName(name.trim().to_string()));
    }
    if let Some(t) = m.strip_prefix("Backup started at ") {
        return Some(match local_time(t.trim()) {
            Ok((_, Some(t))) => Ev::StartedAt(t),
            _ => Ev::Progress,
        });
    }
    // Sizes, most telling first: on the target, new data (PBS), read (qemu), tar (lxc).
    let sized: [(&str, u8); 4] = [
        ("archive file size: ", 0),
        ("had to backup ", 1),
        ("transferred ", 2),
        ("Total bytes written: ", 3),
    ];
    for (key, rank) in sized {
        // PBS lines carry the archive name first: `root.pxar: had to backup 1.13 MiB of ...`.
        let Some(at) = m.find(key) else { continue };
        let after = &m[at + key.len()..];
        if let Ok((_, n)) = size(after) {
            return Some(Ev::Size(n, rank));
        }
        // A plain byte count (`Total bytes written: 611809280 (584MiB, 27MiB/s)`).
        if let Ok((_, n)) = terminated(
            map_res(digit1::<_, nom::error::Error<&str>>, str::parse),
            nom::combinator::not(nom::character::complete::satisfy(|c| {
                c.is_ascii_alphanumeric() || c == '.'
            })),
        )
        .parse(after)
        {
            return Some(Ev::Size(n, rank));
        }
        return Some(Ev::Progress);
    }
    is_progress(m).then_some(Ev::Progress)
}

/// vzdump's own progress lines (qemu-server, pve-container and pve-manager wording).
fn is_progress(m: &str) -> bool {
    const STARTS: [&str; 15] = [
        "creating vzdump archive '",
        "creating archive '",
        "creating Proxmox Backup Server archive '",
        "backup mode: ",
        "include disk '",
        "exclude disk '",
        "including mount point ",
        "excluding ",
        "status: ",
        "starting first sync ",
        "starting final sync ",
        "started backup task '",
        "Backup finished at ",
        "Failed at ",
        "create storage snapshot '",
    ];
    if STARTS.iter().any(|s| m.starts_with(s)) {
        return true;
    }
    // ` 47% (580.0 MiB of 1.2 GiB) in 3s, read: ...` (the leading spaces are trimmed).
    let digits = m.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && m[digits..].starts_with("% (")
}

// ---------------------------------------------------------------------------------------------
// One run.

#[derive(Debug, Default)]
struct Guest {
    vmid: u32,
    name: Option<String>,
    started: Option<DateTime<Utc>>,
    seconds: Option<u64>,
    /// Best size so far and its rank.
    bytes: Option<(u64, u8)>,
    /// None: started, no end line.
    status: Option<Status>,
    message: Option<String>,
}

#[derive(Debug, Default)]
struct Run {
    seen: bool,
    guests: Vec<Guest>,
    /// vmid -> position in `guests`.
    index: HashMap<u32, usize>,
    current: Option<usize>,
    first_time: Option<DateTime<Utc>>,
    last_time: Option<DateTime<Utc>>,
    job_ok: bool,
    job_errors: bool,
    job_failed: Option<String>,
    errors: Vec<String>,
    warnings: Vec<String>,
    task: Option<String>,
    mail_host: Option<String>,
}

fn push_bounded(v: &mut Vec<String>, s: String) {
    if v.len() < MAX_MESSAGES {
        v.push(s);
    }
}

impl Run {
    /// Did this run back up or fail any guest, or end its job?
    fn has_result(&self) -> bool {
        self.guests.iter().any(|g| g.status.is_some())
            || self.job_ok
            || self.job_errors
            || self.job_failed.is_some()
    }

    fn guest(&mut self, vmid: u32) -> &mut Guest {
        let next = self.guests.len();
        let idx = *self.index.entry(vmid).or_insert(next);
        if idx == next {
            self.guests.push(Guest {
                vmid,
                ..Guest::default()
            });
        }
        self.current = Some(idx);
        &mut self.guests[idx]
    }

    fn apply(&mut self, ev: Event) {
        self.seen = true;
        if let Some(t) = ev.time {
            self.first_time.get_or_insert(t);
            self.last_time = Some(t);
        }
        match ev.kind {
            Ev::JobStart => {}
            Ev::GuestStart(id) => {
                let time = ev.time;
                let g = self.guest(id);
                if g.started.is_none() {
                    g.started = time;
                }
            }
            Ev::GuestName(n) => {
                if let Some(i) = self.current {
                    self.guests[i].name = Some(n);
                }
            }
            Ev::StartedAt(t) => {
                self.first_time.get_or_insert(t);
                if let Some(i) = self.current {
                    self.guests[i].started = Some(t);
                }
            }
            Ev::GuestFinished(id, secs) => {
                let g = self.guest(id);
                g.status = Some(Status::Success);
                g.seconds = secs;
                self.current = None;
            }
            Ev::GuestFailed(id, err) => {
                let g = self.guest(id);
                g.status = Some(Status::Failure);
                g.message = Some(err.clone());
                push_bounded(&mut self.errors, format!("VM {id}: {err}"));
                self.current = None;
            }
            Ev::Size(n, rank) => {
                if let Some(i) = self.current {
                    let g = &mut self.guests[i];
                    if g.bytes.is_none_or(|(_, r)| rank <= r) {
                        g.bytes = Some((n, rank));
                    }
                }
            }
            Ev::JobOk => self.job_ok = true,
            Ev::JobErrors => self.job_errors = true,
            Ev::JobFailed(err) => {
                push_bounded(&mut self.errors, err.clone());
                self.job_failed = Some(err);
            }
            Ev::Warn(w) => push_bounded(&mut self.warnings, w),
            Ev::Error(e) => {
                // After the job finished successfully only the notification can fail: not a
                // backup failure (research note section 4).
                if self.job_ok {
                    push_bounded(&mut self.warnings, e);
                } else {
                    push_bounded(&mut self.errors, e);
                }
            }
            Ev::Task(t) => self.task = Some(t),
            Ev::MailHost(h) => self.mail_host = Some(h),
            Ev::Progress => {}
        }
    }

    fn outcome(self, input: &Input<'_>, file_upid: Option<&Upid>) -> Outcome {
        let mut o = Outcome::new(derived_job(input, file_upid), Status::Success);
        o.tool = Some(TOOL.into());
        o.host = file_upid
            .map(|u| u.node.clone())
            .filter(|n| !n.is_empty())
            .or(self.mail_host);
        o.started = file_upid.and_then(|u| u.start).or(self.first_time);
        let mut canceled = false;
        let mut items = Vec::new();
        let mut guest_worst = Status::Success;
        // Did the run end (a job result or the task status)? If not, the log stops while the
        // last guest was being backed up: that guest's result is not known from the text.
        let run_ended =
            self.task.is_some() || self.job_ok || self.job_errors || self.job_failed.is_some();
        let mut cut_short = None;
        let last = self.guests.len().saturating_sub(1);
        for (n, g) in self.guests.iter().enumerate() {
            let (status, message) = match g.status {
                Some(s) => {
                    let canceled_guest = g.message.as_deref().is_some_and(is_canceled);
                    canceled |= canceled_guest;
                    let s = if canceled_guest {
                        input.options.canceled.unwrap_or(s)
                    } else {
                        s
                    };
                    (s, g.message.clone())
                }
                None if run_ended || n < last || !self.errors.is_empty() => (
                    Status::Failure,
                    Some("backup started but did not finish".to_string()),
                ),
                None => {
                    cut_short = Some(g.vmid);
                    (
                        Status::Unknown,
                        Some("no end line: the log ends while this guest was backed up".into()),
                    )
                }
            };
            guest_worst = guest_worst.worst(status);
            items.push(Item {
                name: g.name.clone().unwrap_or_else(|| g.vmid.to_string()),
                status,
                bytes: g.bytes.map(|(b, _)| b),
                message,
            });
        }
        let ended = self
            .guests
            .iter()
            .filter_map(|g| add_secs(g.started?, g.seconds?));
        o.finished = ended.max().or(self.last_time).or(input.meta.modified);
        let sizes: Vec<u64> = items.iter().filter_map(|i| i.bytes).collect();
        if !sizes.is_empty() {
            o.bytes = Some(sizes.iter().fold(0u64, |a, b| a.saturating_add(*b)));
        }
        o.errors = self.errors;
        o.warnings = self.warnings;
        let status = match self.task.as_deref() {
            Some(t) => {
                let mut e = Vec::new();
                let s = task_status(t, input, &mut e, &mut Vec::new());
                canceled |= is_canceled(t);
                if s == Status::Failure && self.job_ok && guest_worst == Status::Success {
                    // `TASK ERROR: could not notify ...` after a successful job.
                    o.warnings.extend(e);
                    Status::Warning
                } else {
                    for m in e {
                        if !o.errors.contains(&m) && m != "job errors" {
                            o.errors.push(m);
                        }
                    }
                    if s == Status::Warning && o.warnings.is_empty() {
                        o.warnings.push(format!("task {t}"));
                    }
                    s.worst(guest_worst)
                }
            }
            None => {
                let mut s = guest_worst;
                if self.job_errors || self.job_failed.is_some() {
                    s = Status::Failure;
                }
                if !o.errors.is_empty() && !self.job_ok {
                    s = Status::Failure;
                }
                if !o.warnings.is_empty() {
                    s = s.worst(Status::Warning);
                }
                if items.is_empty() && !self.job_ok && s == Status::Success {
                    o.errors.push(
                        "no guest backup result and no job result: the log ends while a backup \
                         was running, or it holds no end line"
                            .into(),
                    );
                    s = Status::Unknown;
                }
                if let (Some(id), Status::Unknown) = (cut_short, s) {
                    o.errors.push(format!(
                        "no end line: the log ends while VM {id} was being backed up"
                    ));
                }
                s
            }
        };
        o.status = if canceled && status == Status::Failure {
            input.options.canceled.unwrap_or(Status::Failure)
        } else {
            status
        };
        if !o.errors.is_empty() || o.status != Status::Success {
            let ok = items
                .iter()
                .filter(|i| matches!(i.status, Status::Success | Status::Warning))
                .count();
            if !items.is_empty() {
                o.summary = Some(format!(
                    "{} of {} guests backed up{}",
                    ok,
                    items.len(),
                    o.errors
                        .first()
                        .map(|e| format!(", {e}"))
                        .unwrap_or_default()
                ));
            }
        } else if !items.is_empty() {
            o.summary = Some(format!("{} guests backed up", items.len()));
        }
        if o.summary.is_none() {
            o.summary = o.errors.first().cloned();
        }
        o.items = items;
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_grammar() {
        let e = |l: &str| event(l).map(|e| e.kind);
        assert_eq!(
            e("INFO: Starting Backup of VM 100 (qemu)"),
            Some(Ev::GuestStart(100))
        );
        assert_eq!(
            e("101: 2026-11-24 02:01:25 ERROR: Backup of VM 101 failed - no such volume"),
            Some(Ev::GuestFailed(101, "no such volume".into()))
        );
        assert_eq!(
            e("2026-11-24 02:01:24 INFO: Finished Backup of VM 100 (00:01:23)"),
            Some(Ev::GuestFinished(100, Some(83)))
        );
        assert_eq!(
            e("INFO: archive file size: 2.31GB"),
            Some(Ev::Size(2_480_343_613, 0))
        );
        assert_eq!(
            e("INFO: Total bytes written: 611809280 (584MiB, 27MiB/s)"),
            Some(Ev::Size(611_809_280, 3))
        );
        assert_eq!(e("TASK WARNINGS: 2"), Some(Ev::Task("WARNINGS: 2".into())));
        assert_eq!(
            e("INFO:  47% (580.0 MiB of 1.2 GiB) in 3s"),
            Some(Ev::Progress)
        );
        assert_eq!(
            e("100: 2019-08-24 01:39:13 INFO: status: 54% (146157010944/270582939648), sparse 22%"),
            Some(Ev::Progress)
        );
        assert_eq!(
            e("43113:` 2025-07-16 21:14:21 INFO: Starting Backup of VM 43113 (lxc)"),
            Some(Ev::GuestStart(43113))
        );
        assert_eq!(e("random text"), None);
    }

    use crate::formats::test_support::{job, looks, parse_as};
    use crate::formats::{FileMeta, Format};

    fn parse_all(body: &str) -> Vec<Outcome> {
        let meta = FileMeta::for_path("/var/log/vzdump/x.log");
        parse_as(
            Format::Vzdump,
            &meta,
            body.as_bytes(),
            None,
            &job("x"),
            true,
        )
        .outcomes
    }

    #[test]
    fn usage_text_is_a_job_that_never_ran() {
        for body in [
            "Backing up CT 101\nUnknown option: mode\nusage: /usr/sbin/vzdump OPTIONS [--all | VMID]\n",
            "400 Parameter verification failed.\nmode: value 'x' does not have a value in the enumeration\n\
             vzdump {<vmid>} [OPTIONS]\n",
            "400 unable to parse option\nvzdump help [<extra-args>] [OPTIONS]\n",
        ] {
            let o = parse_all(body);
            assert_eq!(o.len(), 1, "{body:?}");
            assert_eq!(o[0].status, Status::Failure, "{body:?}");
            assert!(looks(looks_like, body.as_bytes()), "{body:?}");
        }
        // Other tools' usage lines are not vzdump's.
        assert!(!looks(looks_like, b"usage: restic [command]\n"));
    }

    #[test]
    fn pasted_shapes() {
        // Two console outputs without TASK lines: two runs.
        let two = "INFO: starting new backup job: vzdump 100\nINFO: Starting Backup of VM 100 (qemu)\n\
                   INFO: Finished Backup of VM 100 (00:00:05)\nINFO: Backup job finished successfully\n\
                   INFO: starting new backup job: vzdump 101\nINFO: Starting Backup of VM 101 (qemu)\n\
                   ERROR: Backup of VM 101 failed - no space left\nINFO: Backup job finished with errors\n";
        let o = parse_all(two);
        assert_eq!(
            o.iter().map(|o| o.status).collect::<Vec<_>>(),
            [Status::Success, Status::Failure]
        );
        // Quoted in a mail reply, indented like old PVE mails, or prefixed by grep -H.
        for prefix in [
            "> ",
            ">> ",
            "  ",
            "/var/log/vzdump/qemu-100.log:",
            "/var/log/vzdump/qemu-100.log ",
        ] {
            let body = format!(
                "{prefix}2026-11-24 02:00:01 INFO: Starting Backup of VM 100 (qemu)\n\
                 {prefix}2026-11-24 02:00:24 INFO: Finished Backup of VM 100 (00:00:23)\n"
            );
            let o = &parse_all(&body)[0];
            assert_eq!(
                (o.status, o.items.len()),
                (Status::Success, 1),
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn inline_code_and_journal_prefixes() {
        // One error line pasted as markdown inline code.
        let o = &parse_all(
            "`ERROR: Backup of VM 2000 failed - command 'rsync' failed: exit code 23\n`\n",
        )[0];
        assert_eq!((o.status, o.items.len()), (Status::Failure, 1));
        // vzdump's lines in the journal (`journalctl -u pvescheduler`, syslog).
        let body = "Jan 05 01:00:02 pve vzdump[1234]: INFO: starting new backup job: vzdump 100\n\
                    Jan 05 01:00:02 pve vzdump[1234]: INFO: Starting Backup of VM 100 (qemu)\n\
                    Jan 05 01:00:30 pve vzdump[1234]: INFO: Finished Backup of VM 100 (00:00:28)\n\
                    Jan 05 01:00:30 pve vzdump[1234]: INFO: Backup job finished successfully\n";
        let o = &parse_all(body)[0];
        assert_eq!((o.status, o.items.len()), (Status::Success, 1));
        assert!(crate::formats::test_support::looks(
            looks_like,
            body.as_bytes()
        ));
        // A journal line of another program is no vzdump line.
        assert!(event("Jan 05 01:00:02 pve sshd[99]: Accepted publickey for root").is_none());
    }

    #[test]
    fn huge_guest_duration_does_not_panic() {
        // The crash: `started + Duration::seconds(h * 3600 + ...)` overflowed.
        let body = "INFO: Starting Backup of VM 100 (qemu)\n\
                    INFO: Backup started at 2026-11-24 02:00:01\n\
                    INFO: Finished Backup of VM 100 (3000000000:00:00)\n\
                    TASK OK\n";
        let o = &parse_all(body)[0];
        assert_eq!(o.status, Status::Success);
        assert_eq!(o.items[0].status, Status::Success);
        for d in [
            "99999999999999999999:00:00",
            "00:99999999999999999999:00",
            "00:00:18446744073709551616",
            "-9223372036854775808:00:00",
            "2562047788015215:30:07",
        ] {
            let body = body.replace("3000000000:00:00", d);
            let o = &parse_all(&body)[0];
            assert_eq!((o.status, o.items.len()), (Status::Success, 1), "{d}");
        }
        assert_eq!(hms("3000000000:00:00").unwrap().1, Some(10_800_000_000_000));
        assert_eq!(hms("99999999999999999999:00:00").unwrap().1, None);
        assert_eq!(hms("5124095576030432:00:00").unwrap().1, None);
    }

    #[test]
    fn hostile_sizes_and_times() {
        for v in [
            "1e308GB",
            "18446744073709551616",
            "99999999999999999999.9TB",
            "NaNGB",
            "infGB",
        ] {
            let body = format!(
                "INFO: Starting Backup of VM 100 (qemu)\nINFO: archive file size: {v}\n\
                 INFO: Total bytes written: {v}\nINFO: Finished Backup of VM 100 (00:00:01)\nTASK OK\n"
            );
            let o = &parse_all(&body)[0];
            assert_eq!(o.status, Status::Success, "{v}");
            assert!(o.bytes.is_none_or(|b| b < u64::MAX), "{v}: {:?}", o.bytes);
        }
        // Two guests whose sizes add up beyond u64 saturate, they do not wrap.
        let big = "INFO: Total bytes written: 18446744073709551615\n";
        let body = format!(
            "INFO: Starting Backup of VM 1 (lxc)\n{big}INFO: Finished Backup of VM 1 (00:00:01)\n\
             INFO: Starting Backup of VM 2 (lxc)\n{big}INFO: Finished Backup of VM 2 (00:00:01)\nTASK OK\n"
        );
        assert_eq!(parse_all(&body)[0].bytes, Some(u64::MAX));
        // Out-of-range times are dropped, the lines are still read.
        let body = "9999-12-31 23:59:59 INFO: Starting Backup of VM 7 (qemu)\n\
                    0000-01-01 00:00:00 INFO: Finished Backup of VM 7 (00:00:01)\n";
        let o = &parse_all(body)[0];
        assert_eq!(
            (o.status, o.started, o.finished),
            (Status::Success, None, None)
        );
        // A vmid beyond u32 is no guest (the line is skipped), never a wrapped one.
        let body = "INFO: Starting Backup of VM 4294967296 (qemu)\n\
                    INFO: Finished Backup of VM 99999999999999999999 (00:00:01)\nTASK OK\n";
        let o = &parse_all(body)[0];
        assert_eq!((o.status, o.items.len()), (Status::Success, 0));
        assert_eq!(epoch(u64::MAX), None);
        assert_eq!(epoch(0x7FFF_FFFF_FFFF_FFFF), None);
        let index =
            "UPID:pve1:FFFFFFFFFFFFFFFF:FFFFFFFFFFFFFFFF:FFFFFFFFFFFFFFFF:vzdump:100:root@pam: \
                     FFFFFFFFFFFFFFFF WARNINGS: 18446744073709551616\n\
                     UPID:pve1:1:1:1FFFFFFFFFFFFFFFF:vzdump:100:root@pam: 1 OK\n";
        let o = parse_all(index);
        assert_eq!(o.len(), 1);
        assert_eq!(
            (o[0].status, o[0].started, o[0].finished),
            (Status::Warning, None, None)
        );
    }

    #[test]
    fn upid_decodes() {
        let (_, (u, end)) =
            index_line("UPID:pve1:00001A2B:0012D687:6742A8F0:vzdump:100:root@pam: 6742A9C4 OK")
                .unwrap();
        assert_eq!(
            (u.node.as_str(), u.kind.as_str(), u.id.as_str()),
            ("pve1", "vzdump", "100")
        );
        assert_eq!(u.start.unwrap().timestamp(), 0x6742A8F0);
        assert_eq!(end, Some((0x6742A9C4, "OK")));
        let (_, (u, end)) =
            index_line("UPID:pve1:00001A2B:0012D687:6742A8F0:vzdump::root@pam:").unwrap();
        assert_eq!((u.id.as_str(), end), ("", None));
    }
}
