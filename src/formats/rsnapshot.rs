//! rsnapshot: its append-only log file (`logfile`, `loglevel 3` or more).
//!
//! Owns: the record grammar (`[YYYY-MM-DDTHH:MM:SS] text`, continuation lines without the
//! `[` prefix belong to the record before), runs keyed by their invocation
//! (`/usr/bin/rsnapshot -c /etc/rsnapshot.conf daily`), the terminal lines (`completed
//! successfully`, `completed, but with some warnings`, `completed, but with some errors`), and
//! the pitfalls of the research note: a failed `cmd_preexec`/`cmd_postexec` or a signal writes
//! no terminal line, a config error writes `ERROR:` lines without `started`. A run without a
//! terminal line ends when a new run of the same config starts or, when the input is
//! complete, at its end; while the log may still grow, an unfinished last run is left
//! unconsumed. Must not do I/O or read the clock.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use nom::bytes::complete::{tag, take, take_while1};
use nom::character::complete::char;
use nom::combinator::{map_res, rest};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use super::common::{head, keep, note_dropped, zero_files};
use super::{Format, Input, Parsed};
use crate::outcome::{human_bytes, Outcome, Status};

/// At most this many runs are open at once (runs of different configs may interleave).
const MAX_OPEN: usize = 16;
/// A record's text (with its continuation lines) is cut at about this many bytes.
const MAX_RECORD: usize = 16 * 1024;

/// One log record: timestamp and text (continuation lines joined with a space).
#[derive(Debug)]
struct Record {
    start: usize,
    end: usize,
    time: Option<NaiveDateTime>,
    text: String,
}

/// What a record says.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Started(&'a str),
    Done(&'a str, Status),
    Error(Option<&'a str>, &'a str),
    Warning(&'a str),
    Rsync(&'a str),
    Files(u64),
    Bytes(u64),
    Other,
}

#[derive(Debug)]
struct Run {
    inv: String,
    /// Offset of the run's first record (where an unfinished run is resumed).
    offset: usize,
    started: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
    had_start: bool,
    errors: Vec<String>,
    warnings: Vec<String>,
    dropped: usize,
    canceled: bool,
    files: Option<u64>,
    bytes: Option<u64>,
}

impl Run {
    fn new(inv: &str, offset: usize, time: Option<NaiveDateTime>, had_start: bool) -> Run {
        Run {
            inv: inv.to_string(),
            offset,
            started: time,
            last: time,
            had_start,
            errors: Vec::new(),
            warnings: Vec::new(),
            dropped: 0,
            canceled: false,
            files: None,
            bytes: None,
        }
    }
    fn apply(&mut self, line: &Line<'_>, time: Option<NaiveDateTime>) {
        if time.is_some() {
            self.last = time;
        }
        match line {
            Line::Error(_, m) => {
                if m.starts_with("rsnapshot was sent ") {
                    self.canceled = true;
                }
                keep(&mut self.errors, &mut self.dropped, *m);
            }
            Line::Warning(m) | Line::Rsync(m) => keep(&mut self.warnings, &mut self.dropped, *m),
            Line::Files(n) => self.files = Some(self.files.unwrap_or(0).saturating_add(*n)),
            Line::Bytes(n) => self.bytes = Some(self.bytes.unwrap_or(0).saturating_add(*n)),
            _ => {}
        }
    }
}

/// Parse an rsnapshot log (from the checkpoint on).
pub fn parse(input: &Input<'_>) -> Parsed {
    let records = records(input);
    let offset = tz_offset(records.iter().rev().find_map(|r| r.time), input);
    let mut open: Vec<Run> = Vec::new();
    let mut outcomes = Vec::new();
    let processed_end = records.last().map_or(0, |r| r.end);
    for r in &records {
        let line = classify(&r.text);
        match line {
            Line::Started(inv) => {
                close_orphans(&mut open, &mut outcomes, offset, input);
                // A new run of the same config means an open one died without a final line.
                let cfg = config_of(inv);
                let mut i = 0;
                while i < open.len() {
                    if config_of(&open[i].inv) == cfg {
                        let run = open.remove(i);
                        outcomes.push(finish(run, None, offset, input, "a new run started"));
                    } else {
                        i += 1;
                    }
                }
                if open.len() >= MAX_OPEN {
                    let run = open.remove(0);
                    outcomes.push(finish(run, None, offset, input, "too many open runs"));
                }
                open.push(Run::new(inv, r.start, r.time, true));
            }
            Line::Done(inv, status) => {
                close_orphans(&mut open, &mut outcomes, offset, input);
                let run = match open.iter().position(|x| x.inv == inv) {
                    Some(i) => open.remove(i),
                    None => Run::new(inv, r.start, r.time, false),
                };
                let mut run = run;
                run.apply(&line, r.time);
                outcomes.push(finish(run, Some(status), offset, input, ""));
            }
            Line::Error(Some(inv), _) => {
                // Runs without `started` (config errors) collect their ERROR lines too.
                if let Some(run) = open.iter_mut().rev().find(|x| x.inv == inv) {
                    run.apply(&line, r.time);
                } else {
                    close_orphans(&mut open, &mut outcomes, offset, input);
                    let mut run = Run::new(inv, r.start, r.time, false);
                    run.apply(&line, r.time);
                    open.push(run);
                }
            }
            _ => {
                // Anything else belongs to the latest run; it ends a config-error group.
                close_orphans(&mut open, &mut outcomes, offset, input);
                if let Some(run) = open.last_mut() {
                    run.apply(&line, r.time);
                }
            }
        }
    }
    let consumed = if input.complete {
        for run in open.drain(..) {
            outcomes.push(finish(run, None, offset, input, "the log ends"));
        }
        input.bytes.len()
    } else {
        open.iter().map(|r| r.offset).min().unwrap_or(processed_end)
    };
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Rsnapshot),
    }
}

/// True when the input looks like an rsnapshot log: a `[timestamp] ... rsnapshot ...:`
/// `started`/`completed`/`ERROR:` record.
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let text = String::from_utf8_lossy(head);
    text.lines().take(500).any(|l| match timestamp(l) {
        Ok((rest, _)) => {
            let rest = rest.strip_prefix("WARNING: ").unwrap_or(rest);
            rest.contains("rsnapshot")
                && (rest.ends_with(": started")
                    || rest.contains(": completed")
                    || rest.contains(": ERROR: "))
        }
        Err(_) => false,
    })
}

/// Config-error runs (ERROR lines without `started`) end at the first other record.
fn close_orphans(open: &mut Vec<Run>, outcomes: &mut Vec<Outcome>, offset: i64, input: &Input<'_>) {
    let mut i = 0;
    while i < open.len() {
        if open[i].had_start {
            i += 1;
        } else {
            let run = open.remove(i);
            outcomes.push(finish(run, None, offset, input, ""));
        }
    }
}

/// Split into records; without `complete`, a last line without its newline is left out.
fn records(input: &Input<'_>) -> Vec<Record> {
    let bytes = input.bytes;
    let end = if input.complete {
        bytes.len()
    } else {
        bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
    };
    let mut out: Vec<Record> = Vec::new();
    let mut pos = 0;
    while pos < end {
        let nl = bytes[pos..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |i| pos + i + 1);
        let raw = String::from_utf8_lossy(&bytes[pos..nl]);
        let line = raw.trim_end_matches(['\n', '\r']);
        match timestamp(line) {
            Ok((text, time)) => out.push(Record {
                start: pos,
                end: nl,
                time: Some(time),
                text: text.trim_end().to_string(),
            }),
            Err(_) => match out.last_mut() {
                // A continuation line (rsnapshot wraps long messages with `\`).
                Some(prev) => {
                    // In place and capped: a long run of continuation lines stays linear.
                    if prev.text.len() < MAX_RECORD {
                        let keep = prev.text.trim_end_matches('\\').trim_end().len();
                        prev.text.truncate(keep);
                        prev.text.push(' ');
                        prev.text.push_str(line.trim());
                    }
                    prev.end = nl;
                }
                None if line.trim().is_empty() => {}
                None => out.push(Record {
                    start: pos,
                    end: nl,
                    time: None,
                    text: line.trim().to_string(),
                }),
            },
        }
        pos = nl;
    }
    out
}

/// `[2026-11-24T08:08:06] ` (nom).
fn timestamp(l: &str) -> IResult<&str, NaiveDateTime> {
    delimited(
        char('['),
        map_res(take(19usize), |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        }),
        (char(']'), nom::combinator::opt(char(' '))),
    )
    .parse(l)
}

/// A comma-grouped number: `150,003` (nom).
fn number(i: &str) -> IResult<&str, u64> {
    map_res(
        take_while1(|c: char| c.is_ascii_digit() || c == ','),
        |s: &str| s.replace(',', "").parse::<u64>(),
    )
    .parse(i)
}

fn classify(text: &str) -> Line<'_> {
    fn stats(i: &str) -> IResult<&str, Line<'_>> {
        nom::branch::alt((
            preceded(tag("Number of files: "), number).map(Line::Files),
            preceded(tag("Total transferred file size: "), number).map(Line::Bytes),
            preceded(tag("WARNING: "), rest).map(Line::Warning),
            preceded(tag("ERROR: "), rest).map(|m| Line::Error(None, m)),
        ))
        .parse(i)
    }
    if let Some(inv) = text.strip_suffix(": started") {
        if !inv.contains(": ") {
            return Line::Started(inv);
        }
    }
    if let Some(inv) = text.strip_suffix(": completed successfully") {
        return Line::Done(inv, Status::Success);
    }
    if let Some(inv) = text
        .strip_prefix("WARNING: ")
        .and_then(|t| t.strip_suffix(": completed, but with some warnings"))
    {
        return Line::Done(inv, Status::Warning);
    }
    if let Some((inv, _)) = text
        .strip_suffix(": completed, but with some errors")
        .and_then(|t| t.split_once(": ERROR: "))
    {
        return Line::Done(inv, Status::Failure);
    }
    if let Ok((_, l)) = stats(text) {
        return l;
    }
    if let Some((inv, msg)) = text.split_once(": ERROR: ") {
        if !inv.contains(": ") {
            return Line::Error(Some(inv), msg);
        }
    }
    if text.starts_with("rsync: ") || text.starts_with("rsync error: ") {
        return Line::Rsync(text);
    }
    Line::Other
}

/// `/usr/bin/rsnapshot -c /etc/x.conf daily` -> `/usr/bin/rsnapshot -c /etc/x.conf`.
fn config_of(inv: &str) -> &str {
    inv.trim_end().rsplit_once(' ').map_or("", |(cfg, _)| cfg)
}

/// The job: the interval, qualified by the config file's stem unless it is the default one.
fn job_of(inv: &str) -> Option<String> {
    let mut words = inv.split_whitespace();
    let mut config = None;
    let mut last = None;
    while let Some(w) = words.next() {
        if w == "-c" {
            config = words.next();
        } else {
            last = Some(w);
        }
    }
    let interval = last.filter(|w| !w.contains('/') && !w.starts_with('-'))?;
    let stem = config.map(|c| {
        let name = c.rsplit('/').next().unwrap_or(c);
        name.strip_suffix(".conf").unwrap_or(name)
    });
    Some(match stem {
        Some(s) if !s.is_empty() && s != "rsnapshot" => format!("{s}-{interval}"),
        _ => interval.to_string(),
    })
}

/// rsnapshot writes local time without an offset. The file's modification time is the
/// time of its last record, so their difference (rounded to 15 minutes) is the offset.
fn tz_offset(last: Option<NaiveDateTime>, input: &Input<'_>) -> i64 {
    let (Some(last), Some(modified)) = (last, input.meta.modified) else {
        return 0;
    };
    let diff = (modified.naive_utc() - last).num_seconds();
    let rounded = ((diff as f64) / 900.0).round() as i64 * 900;
    // Local = UTC + offset, so UTC = local - offset; diff = UTC - local.
    if rounded.abs() <= 14 * 3600 && (diff - rounded).abs() < 300 {
        rounded
    } else {
        0
    }
}

fn utc(t: Option<NaiveDateTime>, offset: i64) -> Option<DateTime<Utc>> {
    t.map(|t| (t + Duration::seconds(offset)).and_utc())
}

fn finish(
    mut run: Run,
    status: Option<Status>,
    offset: i64,
    input: &Input<'_>,
    why_open: &str,
) -> Outcome {
    let job = job_of(&run.inv).unwrap_or_else(|| input.options.job.clone());
    let mut o = Outcome::new(job, Status::Success);
    o.tool = Some("rsnapshot".into());
    o.started = if run.had_start {
        utc(run.started, offset)
    } else {
        None
    };
    o.finished = utc(run.last, offset);
    if let (Some(s), Some(e)) = (o.started, o.finished) {
        if e >= s {
            o.duration_s = Some((e - s).num_seconds() as f64);
        }
    }
    o.files = run.files;
    o.bytes = run.bytes;
    let canceled_status = input.options.canceled.unwrap_or(Status::Failure);
    let mut parts = Vec::new();
    let mut status = match status {
        Some(s) => {
            parts.push(
                match s {
                    Status::Success => "completed successfully",
                    Status::Warning => "completed with warnings",
                    _ => "completed with errors",
                }
                .to_string(),
            );
            s
        }
        None if run.canceled => {
            parts.push("interrupted by a signal".into());
            canceled_status
        }
        None if !run.had_start => {
            parts.push("did not start".into());
            Status::Failure
        }
        None if !run.errors.is_empty() => {
            parts.push("failed without a final line".into());
            Status::Failure
        }
        None => {
            parts.push(format!(
                "no final line: {why_open} before the run finished (killed?)"
            ));
            run.errors
                .push(format!("the run has no final line: {why_open}"));
            Status::Failure
        }
    };
    if let Some(b) = o.bytes {
        parts.push(format!("{} transferred", human_bytes(b)));
    }
    if let Some(f) = o.files {
        parts.push(format!("{f} files"));
    }
    if let Some(e) = run.errors.first() {
        parts.push(e.clone());
    } else if status == Status::Warning {
        if let Some(w) = run.warnings.first() {
            parts.push(w.clone());
        }
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
    use crate::formats::test_support::{self, job, jobs};
    use crate::formats::{FileMeta, Options};

    fn parse_with(body: &str, complete: bool, meta: &FileMeta, options: &Options) -> Parsed {
        let body = body.as_bytes();
        test_support::parse_as(Format::Rsnapshot, meta, body, None, options, complete)
    }

    fn run(body: &str, complete: bool) -> Parsed {
        let meta = FileMeta::for_path("/var/log/rsnapshot.log");
        parse_with(body, complete, &meta, &job("rsnapshot"))
    }

    fn fixture(name: &str) -> String {
        test_support::fixture_text("rsnapshot", name)
    }

    const OK: &str = "[2026-11-24T09:28:09] /usr/bin/rsnapshot -c rsn.conf daily: started
[2026-11-24T09:28:09] echo 4509 > /tmp/p1exp/rsn.pid
[2026-11-24T09:28:09] /usr/bin/rsync -a --stats /tmp/p1exp/src/ /tmp/p1exp/snap/daily.0/localhost/
[2026-11-24T09:28:09] 
[2026-11-24T09:28:09] Number of files: 6 (reg: 2, dir: 4)
[2026-11-24T09:28:09] Number of regular files transferred: 2
[2026-11-24T09:28:09] Total file size: 100,002 bytes
[2026-11-24T09:28:09] Total transferred file size: 100,002 bytes
[2026-11-24T09:28:09] rm -f /tmp/p1exp/rsn.pid
[2026-11-24T09:28:11] /usr/bin/rsnapshot -c rsn.conf daily: completed successfully
";

    const WARN: &str = "[2026-11-24T09:30:00] /usr/bin/rsnapshot daily: started
[2026-11-24T09:30:00] WARNING: Removing stale lockfile /var/run/rsnapshot.pid
[2026-11-24T09:30:00] rm -f /var/run/rsnapshot.pid
[2026-11-24T09:30:05] WARNING: /usr/bin/rsnapshot daily: completed, but with some warnings
";

    #[test]
    fn success_and_warning_runs() {
        let body = format!("{OK}{WARN}");
        let p = run(&body, false);
        assert_eq!(p.consumed, body.len());
        let got = jobs(&p.outcomes);
        assert_eq!(
            got,
            [("rsn-daily", Status::Success), ("daily", Status::Warning)]
        );
        let o = &p.outcomes[0];
        assert_eq!(
            (o.files, o.bytes, o.duration_s),
            (Some(6), Some(100002), Some(2.0))
        );
        assert_eq!(
            o.started.map(|t| t.to_rfc3339()),
            Some("2026-11-24T09:28:09+00:00".into())
        );
        assert_eq!(
            p.outcomes[1].warnings,
            ["Removing stale lockfile /var/run/rsnapshot.pid"]
        );
    }

    #[test]
    fn unfinished_run_is_left_for_later() {
        let cut = OK.find("[2026-11-24T09:28:11]").unwrap();
        let body = format!("{WARN}{}", &OK[..cut]);
        let p = run(&body, false);
        assert_eq!(p.outcomes.len(), 1);
        assert_eq!(p.consumed, WARN.len());
        // A half-written last line is not read either.
        let p = run(&format!("{WARN}[2026-11-24T09:40:00] /usr/bin/rsn"), false);
        assert_eq!((p.outcomes.len(), p.consumed), (1, WARN.len()));
        // Complete: the unfinished run is a failure.
        let p = run(&body, true);
        assert_eq!(p.outcomes.len(), 2);
        assert_eq!(p.outcomes[1].status, Status::Failure);
        assert_eq!(p.consumed, body.len());
    }

    #[test]
    fn postexec_failure_then_next_run() {
        let body = fixture("postexec-then-next-run.log");
        let p = run(&body, false);
        let got = jobs(&p.outcomes);
        assert_eq!(
            got,
            [("daily", Status::Failure), ("daily", Status::Success)]
        );
        assert_eq!(
            p.outcomes[0].errors,
            ["cmd_postexec \"/bin/false\" returned 1"]
        );
        assert!(p.outcomes[0]
            .summary
            .as_deref()
            .unwrap()
            .starts_with("failed without a final line"));
        // A run killed without any ERROR line, followed by a new run.
        let killed = "[2026-11-24T01:00:00] /usr/bin/rsnapshot daily: started\n[2026-11-24T01:00:01] /usr/bin/rsync -a /src/ /snap/daily.0/\n";
        let body = format!("{killed}{WARN}");
        let p = run(&body, false);
        assert_eq!(p.outcomes[0].status, Status::Failure);
        assert!(
            p.outcomes[0].errors[0].contains("a new run started"),
            "{:?}",
            p.outcomes[0]
        );
    }

    #[test]
    fn errors_config_errors_and_continuations() {
        let body = fixture("errors.log");
        let p = run(&body, false);
        assert_eq!(p.outcomes.len(), 2);
        assert_eq!(p.consumed, body.find("[2026-11-24T09:28:27]").unwrap());
        let p = run(&body, true);
        let got = jobs(&p.outcomes);
        assert_eq!(
            got,
            [
                ("err-daily", Status::Failure),
                ("daily", Status::Failure),
                ("weekly", Status::Failure),
            ],
            "{:#?}",
            p.outcomes
        );
        // The config error's message was continued on the next line.
        assert_eq!(
            p.outcomes[0].errors,
            ["backup /srv/rsn/missing_src/ localhost/ - Source directory \"/srv/rsn/missing_src/\" doesn't exist"]
        );
        assert!(p.outcomes[1].errors[0].starts_with("/usr/bin/rsync returned 12"));
        assert_eq!(
            p.outcomes[2].summary.as_deref(),
            Some("interrupted by a signal, rsnapshot was sent TERM signal... cleaning up")
        );
        assert_eq!(p.consumed, body.len());
        let options = Options {
            canceled: Some(Status::Warning),
            ..job("j")
        };
        let p = parse_with(&body, true, &FileMeta::default(), &options);
        assert_eq!(p.outcomes[2].status, Status::Warning);
    }

    #[test]
    fn timezone_from_the_file_time() {
        let mut meta = FileMeta::for_path("/var/log/rsnapshot.log");
        // The last record says 09:28:11 local; the file was written at 08:28:12 UTC: UTC+1.
        meta.modified = Some("2026-11-24T08:28:12Z".parse().unwrap());
        let p = parse_with(OK, true, &meta, &Options::default());
        assert_eq!(
            p.outcomes[0].finished.map(|t| t.to_rfc3339()),
            Some("2026-11-24T08:28:11+00:00".into())
        );
    }

    #[test]
    fn many_continuation_lines_stay_linear() {
        let body = format!(
            "[2026-11-24T09:28:09] x: started\n{}",
            "continued line\n".repeat(200_000)
        );
        let t = std::time::Instant::now();
        let p = run(&body, true);
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(p.consumed, body.len());
    }

    #[test]
    fn detection_and_garbage() {
        let looks = |b: &str| test_support::looks(looks_like, b.as_bytes());
        assert!(looks(OK));
        assert!(looks(&fixture("errors.log")));
        assert!(!looks("[2026-11-24T09:28:09] hello\n"));
        assert!(!looks("{\"status\":\"ok\"}"));
        for body in [
            "[",
            "[2026-11-24T09:28:09]",
            "]x\n\\\n",
            ": started",
            ": started\n: started\n",
            "x: ERROR: y: completed, but with some errors\n",
            "WARNING: : completed, but with some warnings",
            "[9999-99-99T99:99:99] x\n",
            "[2026-11-24T09:28:09] Number of files: 99999999999999999999999\n",
        ] {
            let _ = run(body, true);
            let p = run(body, false);
            assert!(p.consumed <= body.len());
        }
    }
}
