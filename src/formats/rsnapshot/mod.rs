//! rsnapshot: its log file (`logfile`, `loglevel` 2 to 5), its syslog / journal messages
//! (`cmd_logger`), and its console output (`verbose` 2 to 5, `-v`, `-V`, `-D`, cron mail).
//!
//! Owns the runs: keyed by their invocation (`/usr/bin/rsnapshot -c /etc/rsnapshot.conf daily`)
//! in the log, by the process id in syslog, one anonymous run on the console; the final lines
//! (`completed successfully`, `completed, but with some warnings`, `completed, but with some
//! errors`) and the pitfalls of the research note: a failed `cmd_preexec`/`cmd_postexec`, a
//! lock held by a live process or a signal writes no final line, a config error writes `ERROR:`
//! lines without `started`. A run without a final line ends when a later run of the same config
//! gets past the lock (it died: failure), with its `ERROR:`/`WARNING:` lines (rsnapshot's exit
//! code 1 / 2), or, when the input is complete, at its end (`unknown`: still running or cut);
//! while the log may still grow, an unfinished run and every run after it are left unconsumed.
//! [`record`] owns the line grammar. Must not do I/O or read the clock.

mod record;

use chrono::{DateTime, TimeDelta, Utc};

use super::common::{head, keep, note_dropped, zero_files};
use super::{Format, Input, Parsed};
use crate::outcome::{human_bytes, Outcome, Status};
use record::{classify, config_of, job_of, records, Line, Record, Source};

/// At most this many runs are open at once (runs of different configs may interleave).
const MAX_OPEN: usize = 16;

/// How a run is recognised.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    /// By its invocation (log file, or a pasted log without timestamps).
    Inv(String),
    /// By its process id (syslog).
    Pid(u32),
    /// The console: the one run the output belongs to.
    Console,
}

#[derive(Debug)]
struct Run {
    key: Key,
    /// The invocation, once known (for the job name).
    inv: Option<String>,
    /// Offset of the run's first record (where an unfinished run is resumed).
    offset: usize,
    started: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    had_start: bool,
    errors: Vec<String>,
    warnings: Vec<String>,
    dropped: usize,
    canceled: bool,
    lock_held: bool,
    /// A later run of the same config got past the lock: this one died.
    superseded: bool,
    /// Runs of the same config this one may prove dead once it gets past the lock.
    pending_supersede: bool,
    /// The verdict of a `logger` echo (console), used when no final line follows.
    verdict: Option<Status>,
    /// rsync's own exit errors (codes other than 23 and 24), after rsnapshot's errors.
    rsync_errors: Vec<String>,
    rsync_partial: bool,
    files: Option<u64>,
    bytes: Option<u64>,
    /// The exit code a pasted console session shows (`# echo $?`, then the number).
    rc: Option<i32>,
    /// A console run that took its invocation from a later `<invocation>: ERROR:` line: it
    /// ends with its final line or the input, not at the next record.
    adopted: bool,
}

impl Run {
    fn new(key: Key, inv: Option<&str>, offset: usize, time: Option<DateTime<Utc>>) -> Run {
        Run {
            key,
            inv: inv.map(str::to_string),
            offset,
            started: time,
            last: time,
            had_start: false,
            errors: Vec::new(),
            warnings: Vec::new(),
            dropped: 0,
            canceled: false,
            lock_held: false,
            superseded: false,
            pending_supersede: false,
            verdict: None,
            rsync_errors: Vec::new(),
            rsync_partial: false,
            files: None,
            bytes: None,
            rc: None,
            adopted: false,
        }
    }

    fn apply(&mut self, line: &Line<'_>, time: Option<DateTime<Utc>>) {
        if time.is_some() {
            self.last = time;
        }
        match line {
            Line::Error(_, m) => {
                if m.starts_with("rsnapshot was sent ") {
                    self.canceled = true;
                }
                if is_lock_held(m) {
                    self.lock_held = true;
                }
                keep(&mut self.errors, &mut self.dropped, *m);
            }
            // rsync lost its connection: the transfer ended (rsync exits 12 or 255).
            Line::Rsync(m) if m.contains("connection unexpectedly closed") => {
                keep(&mut self.rsync_errors, &mut self.dropped, *m);
            }
            Line::Warning(m) | Line::Rsync(m) => keep(&mut self.warnings, &mut self.dropped, *m),
            Line::RsyncExit(code, m) => {
                if matches!(code, 23 | 24) {
                    self.rsync_partial = true;
                    keep(&mut self.warnings, &mut self.dropped, *m);
                } else {
                    keep(&mut self.rsync_errors, &mut self.dropped, *m);
                }
            }
            Line::Files(n) => self.files = Some(self.files.unwrap_or(0).saturating_add(*n)),
            Line::Bytes(n) => self.bytes = Some(self.bytes.unwrap_or(0).saturating_add(*n)),
            _ => {}
        }
    }
}

fn is_lock_held(m: &str) -> bool {
    m.starts_with("Lockfile ") && m.contains("exists and so does its process")
}

/// Records of a run that come before its lock check: they do not prove it got the lock.
fn before_lock(text: &str) -> bool {
    text.starts_with("Setting locale")
        || text.starts_with("require Lchown")
        || text.starts_with("Lchown module")
}

/// The parser's state over one input.
struct State<'i, 'a> {
    input: &'i Input<'a>,
    open: Vec<Run>,
    /// (offset of the run's first record, outcome), in closing order.
    done: Vec<(usize, Outcome)>,
    /// The console banner was seen: the next record is the invocation.
    banner: bool,
    /// A pasted shell session ran `echo $?`: the next record is the exit code.
    echo_rc: bool,
}

impl State<'_, '_> {
    fn close(&mut self, i: usize, status: Option<Status>, why_open: &str) {
        let run = self.open.remove(i);
        let offset = run.offset;
        let o = finish(run, status, self.input, why_open);
        self.done.push((offset, o));
    }

    /// Config-error runs (ERROR lines without `started`) end at the first other record.
    fn close_orphans(&mut self) {
        let mut i = 0;
        while i < self.open.len() {
            let r = &self.open[i];
            if !r.had_start && !r.adopted && matches!(r.key, Key::Inv(_)) {
                self.close(i, None, "");
            } else {
                i += 1;
            }
        }
    }

    /// A console run without an invocation yet (a wrapper's output where rsync's complaint
    /// comes before rsnapshot's own `<invocation>: ERROR:` lines) is the run of `inv`: it takes
    /// that key. Its index, None when there is no such run.
    fn adopt_console(&mut self, inv: &str) -> Option<usize> {
        let i = self
            .open
            .iter()
            .rposition(|x| x.key == Key::Console && x.inv.is_none() && !x.had_start)?;
        let run = &mut self.open[i];
        run.key = Key::Inv(inv.to_string());
        run.inv = Some(inv.to_string());
        run.adopted = true;
        Some(i)
    }

    /// The run `key` (opened without a start if it is not open yet).
    fn run(&mut self, key: Key, inv: Option<&str>, r: &Record) -> usize {
        if let Some(i) = self.open.iter().rposition(|x| x.key == key) {
            return i;
        }
        if self.open.len() >= MAX_OPEN {
            self.close(0, None, "too many runs were open at once");
        }
        self.open.push(Run::new(key, inv, r.start, r.time));
        self.open.len() - 1
    }

    fn record(&mut self, r: &Record) {
        let line = classify(&r.text);
        if let Source::Syslog(pid) = r.source {
            return self.syslog(pid, &line, r);
        }
        if r.source == Source::Plain && self.shell(r) {
            return;
        }
        // A lone console banner, then the invocation on its own line.
        if self.banner {
            if r.text == "options:" {
                return;
            }
            self.banner = false;
            if r.text.starts_with('/') || r.text.starts_with("rsnapshot") {
                if let Some(i) = self.open.iter().position(|x| x.key == Key::Console) {
                    self.open[i].inv = Some(r.text.clone());
                } else {
                    let i = self.run(Key::Console, Some(&r.text), r);
                    self.open[i].inv = Some(r.text.clone());
                }
                return;
            }
        }
        match line {
            Line::Started(inv) => {
                self.close_orphans();
                let cfg = config_of(inv);
                let mut pending = false;
                for run in self.open.iter_mut() {
                    if let Key::Inv(other) = &run.key {
                        if run.had_start && config_of(other) == cfg {
                            pending = true;
                        }
                    }
                }
                let i = self.run(Key::Inv(inv.to_string()), Some(inv), r);
                let run = &mut self.open[i];
                if run.had_start {
                    // The same invocation again (a paste joining two runs): a new run.
                    let run = Run::new(Key::Inv(inv.to_string()), Some(inv), r.start, r.time);
                    self.open.push(run);
                }
                let last = self.open.len() - 1;
                let run = if self.open[i].had_start {
                    &mut self.open[last]
                } else {
                    &mut self.open[i]
                };
                run.had_start = true;
                run.started = r.time;
                run.last = r.time;
                run.offset = r.start;
                run.pending_supersede = pending;
            }
            Line::Done(inv, status) => {
                // The final line of a run whose `ERROR:` lines came without `started` (a paste
                // or a wrapper's log that starts late) ends that run, not a new one.
                let key = Key::Inv(inv.to_string());
                let same = self.open.iter().rposition(|x| x.key == key);
                if same.is_none() {
                    self.close_orphans();
                }
                let i = match same.or_else(|| self.find_started(inv)) {
                    Some(i) => i,
                    None => match self.adopt_console(inv) {
                        Some(i) => i,
                        None => self.run(key, Some(inv), r),
                    },
                };
                let i = self.confirm(i);
                self.open[i].apply(&line, r.time);
                self.close(i, Some(status), "");
            }
            Line::Error(Some(inv), m) => {
                let key = Key::Inv(inv.to_string());
                // A config error prints all its lines at once: the same error lines a minute
                // later are the next run's (a `grep ERROR` of several days).
                if let Some(j) = self.open.iter().rposition(|x| x.key == key) {
                    let run = &self.open[j];
                    let later = match (run.last, r.time) {
                        (Some(a), Some(b)) => b.signed_duration_since(a).num_seconds() > 60,
                        _ => false,
                    };
                    if !run.had_start && later {
                        self.close(j, None, "");
                    }
                }
                let i = match self.open.iter().rposition(|x| x.key == key) {
                    Some(i) => i,
                    None => {
                        self.close_orphans();
                        match self.adopt_console(inv) {
                            Some(i) => i,
                            None => self.run(key, Some(inv), r),
                        }
                    }
                };
                let i = if is_lock_held(m) {
                    // The run holding the lock is alive: nothing is superseded.
                    self.open[i].pending_supersede = false;
                    i
                } else {
                    self.confirm(i)
                };
                self.open[i].apply(&line, r.time);
                if is_lock_held(m) && self.open[i].had_start {
                    self.close(i, None, "");
                }
            }
            Line::Logger(m) => {
                // In a log the real line follows; on the console it is the only final line.
                if r.source == Source::Plain {
                    if let Line::Done(inv, status) = classify(m) {
                        let i = self.current(r, Some(inv));
                        let run = &mut self.open[i];
                        run.verdict = Some(status);
                        if run.inv.is_none() {
                            run.inv = Some(inv.to_string());
                        }
                    }
                }
            }
            Line::Banner => {
                self.banner =
                    !r.text.contains("options:") || r.text.trim_end().ends_with("options:");
                let i = self.current(r, None);
                // The invocation on the banner's own line (a flattened paste).
                let inline = r
                    .text
                    .split_once("options:")
                    .map(|(_, inv)| inv.trim())
                    .filter(|inv| names_rsnapshot(inv));
                if let Some(inv) = inline {
                    self.open[i].inv.get_or_insert_with(|| inv.to_string());
                }
            }
            _ => {
                // A config error's run ends at the next message; rsnapshot's own command echo
                // (`touch ...`, `rm -f ...`) between its `ERROR:` lines and its final line
                // does not end it.
                if !matches!(line, Line::Other) {
                    self.close_orphans();
                }
                let console = matches!(
                    line,
                    Line::Error(None, _) | Line::Warning(_) | Line::RsyncExit(..) | Line::Rsync(_)
                );
                let i = if console {
                    Some(self.current(r, None))
                } else {
                    self.open.len().checked_sub(1)
                };
                if let Some(mut i) = i {
                    if !before_lock(&r.text) {
                        i = self.confirm(i);
                    }
                    self.open[i].apply(&line, r.time);
                }
            }
        }
    }

    /// A pasted shell session: the prompt line that runs rsnapshot opens the console run with
    /// its invocation; `echo $?` and the number after it are that run's exit code. True when
    /// the record was one of these.
    fn shell(&mut self, r: &Record) -> bool {
        let t = r.text.trim();
        if std::mem::take(&mut self.echo_rc) {
            if let Ok(code) = t.parse::<i32>() {
                let i = self.current(r, None);
                self.open[i].rc = Some(code);
                return true;
            }
        }
        if let Some(cmd) = prompt_command(t) {
            if cmd == "echo $?" {
                self.echo_rc = true;
                return true;
            }
            if names_rsnapshot(cmd) {
                self.close_orphans();
                let i = self.run(Key::Console, Some(cmd), r);
                self.open[i].inv.get_or_insert_with(|| cmd.to_string());
                return true;
            }
        }
        false
    }

    /// The open run of this invocation; else the latest started run of the same job (a paste
    /// that mangled the program's path).
    fn find_started(&self, inv: &str) -> Option<usize> {
        let key = Key::Inv(inv.to_string());
        self.open.iter().rposition(|x| x.key == key).or_else(|| {
            let job = job_of(inv)?;
            self.open.iter().rposition(|x| {
                x.had_start
                    && matches!(x.key, Key::Inv(_))
                    && x.inv.as_deref().and_then(job_of).as_deref() == Some(job.as_str())
            })
        })
    }

    /// The run a console or plain record belongs to: the latest open one, else a console run.
    fn current(&mut self, r: &Record, inv: Option<&str>) -> usize {
        match self.open.len().checked_sub(1) {
            Some(i) => i,
            None => self.run(Key::Console, inv, r),
        }
    }

    /// Run `i` got past its lock: the runs of the same config it was waiting to supersede died.
    /// Returns the run's index after the closing.
    #[must_use]
    fn confirm(&mut self, i: usize) -> usize {
        if !self.open[i].pending_supersede {
            return i;
        }
        self.open[i].pending_supersede = false;
        let Some(inv) = self.open[i].inv.clone() else {
            return i;
        };
        let cfg = config_of(&inv).to_string();
        let offset = self.open[i].offset;
        let mut i = i;
        let mut j = 0;
        while j < self.open.len() {
            let same = match &self.open[j].key {
                Key::Inv(other) => {
                    self.open[j].had_start
                        && self.open[j].offset < offset
                        && config_of(other) == cfg
                }
                _ => false,
            };
            if same {
                self.open[j].superseded = true;
                self.close(j, None, "a later run of the same config started");
                if j < i {
                    i -= 1;
                }
            } else {
                j += 1;
            }
        }
        i
    }

    /// A syslog record: runs are keyed by pid; a run with errors and no final line ended when
    /// another rsnapshot process logs (it bailed out: syslog only carries errors and ends).
    fn syslog(&mut self, pid: u32, line: &Line<'_>, r: &Record) {
        let mut i = 0;
        while i < self.open.len() {
            match self.open[i].key {
                Key::Pid(p) if p != pid => self.close(i, None, ""),
                _ => i += 1,
            }
        }
        let inv = match line {
            Line::Started(inv) | Line::Done(inv, _) | Line::Error(Some(inv), _) => Some(*inv),
            _ => None,
        };
        let i = self.run(Key::Pid(pid), inv, r);
        if self.open[i].inv.is_none() {
            self.open[i].inv = inv.map(str::to_string);
        }
        match line {
            Line::Started(_) => {
                let run = &mut self.open[i];
                run.had_start = true;
                run.started = r.time;
            }
            Line::Done(_, status) => {
                self.open[i].apply(line, r.time);
                self.close(i, Some(*status), "");
            }
            _ => self.open[i].apply(line, r.time),
        }
    }
}

/// Parse rsnapshot output (from the checkpoint on).
pub fn parse(input: &Input<'_>) -> Parsed {
    let records = records(input.bytes, input.complete);
    let processed_end = records.last().map_or(0, |r| r.end);
    let mut st = State {
        input,
        open: Vec::new(),
        done: Vec::new(),
        banner: false,
        echo_rc: false,
    };
    for r in &records {
        st.record(r);
    }
    let consumed = if input.complete {
        while !st.open.is_empty() {
            st.close(0, None, "the log ends");
        }
        input.bytes.len()
    } else {
        // Unfinished runs are read again with more bytes; so are the runs after them.
        let cut = st
            .open
            .iter()
            .map(|r| r.offset)
            .min()
            .unwrap_or(processed_end);
        st.done.retain(|(offset, _)| *offset < cut);
        cut
    };
    st.done.sort_by_key(|(offset, _)| *offset);
    let mut outcomes: Vec<Outcome> = st.done.into_iter().map(|(_, o)| o).collect();
    if outcomes.is_empty() && input.complete && (input.exit_code.is_some() || !records.is_empty()) {
        outcomes.push(no_run(input));
    }
    Parsed {
        outcomes,
        consumed,
        format: Some(Format::Rsnapshot),
    }
}

/// The one outcome of an output that shows no run: by the exit code under `wrap`, else unknown.
fn no_run(input: &Input<'_>) -> Outcome {
    let mut o = Outcome::new(input.options.job.clone(), Status::Unknown);
    o.tool = Some("rsnapshot".into());
    o.finished = input.meta.modified;
    let (status, summary) = match input.exit_code {
        Some(0) => (Status::Success, "rsnapshot exited with code 0".to_string()),
        Some(2) => (
            Status::Warning,
            "rsnapshot exited with code 2 (warnings)".into(),
        ),
        Some(c) => (Status::Failure, format!("rsnapshot exited with code {c}")),
        None => (
            Status::Unknown,
            "no rsnapshot run in the output and no exit code: cannot tell how it ended".into(),
        ),
    };
    o.status = status;
    o.summary = Some(summary);
    o
}

/// True when the input looks like rsnapshot's log, syslog or console output.
pub fn looks_like(input: &Input<'_>) -> bool {
    let text = String::from_utf8_lossy(head(input.bytes));
    let mut score = 0;
    // The console at `verbose` 3: the lockfile written with `echo PID > file`, removed at the end.
    let mut lockfiles: Vec<&str> = Vec::new();
    for r in records(text.as_bytes(), true).iter().take(2000) {
        let t = &r.text;
        if let Some((pid, file)) = t.strip_prefix("echo ").and_then(|x| x.split_once(" > ")) {
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && lockfiles.len() < 16 {
                lockfiles.push(file);
            }
        }
        if t.strip_prefix("rm -f ")
            .is_some_and(|f| lockfiles.contains(&f))
            || t.starts_with("Setting locale to POSIX \"C\"")
            || t.ends_with(" not present (yet), nothing to rotate")
            || t.ends_with(" not present (yet), nothing to delete")
        {
            return true;
        }
        if prompt_command(t).is_some_and(names_rsnapshot) {
            return true;
        }
        let line = classify(t);
        let strong = match &line {
            Line::Started(inv) | Line::Done(inv, _) | Line::Error(Some(inv), _) => {
                names_rsnapshot(inv)
            }
            Line::Logger(m) => m.contains("rsnapshot"),
            Line::Banner => true,
            Line::Other => t == "rsync succeeded",
            _ => false,
        };
        if strong || matches!(r.source, Source::Syslog(_)) {
            return true;
        }
        // Console output without an invocation: rsnapshot's own messages.
        let weak = match &line {
            Line::Warning(m) => {
                m.contains("only transferred partially during rsync operation")
                    || m.contains("vanished during rsync operation")
                    || m.starts_with("Removing stale lockfile")
            }
            Line::Error(None, m) => {
                m.contains(" failed (result ")
                    || m.starts_with("Error! cp_al(")
                    || m.contains(" returned ") && m.contains(" while processing ")
                    || is_lock_held(m)
            }
            _ => false,
        };
        if weak {
            score += 1;
            if score >= 1 {
                return true;
            }
        }
    }
    false
}

/// The command of a pasted shell prompt line: `[root@host dir]# rsnapshot daily`, `user@host:~$
/// sudo rsnapshot alpha`, `$ rsnapshot -v sync`, `# echo $?` (a leading `sudo` dropped).
fn prompt_command(t: &str) -> Option<&str> {
    let at = ["# ", "$ "]
        .iter()
        .filter_map(|p| t.find(p).map(|i| i + p.len()))
        .min()?;
    let head = &t[..at - 2];
    // The prompt before the marker: empty, or `[user@host dir]`, `user@host:~`, `root@box`.
    let prompt_ok = head.is_empty()
        || (head.starts_with('[') && head.ends_with(']'))
        || (head.contains('@') && !head.contains(' '));
    if !prompt_ok {
        return None;
    }
    let cmd = t[at..].trim();
    let cmd = cmd.strip_prefix("sudo ").map_or(cmd, str::trim_start);
    (!cmd.is_empty()).then_some(cmd)
}

/// The first word of an invocation is the rsnapshot program.
fn names_rsnapshot(inv: &str) -> bool {
    inv.split_whitespace()
        .next()
        .is_some_and(|w| w == "rsnapshot" || w.ends_with("/rsnapshot"))
}

/// rsnapshot writes local time without an offset. The file's modification time is the
/// time of its last record, so their difference (rounded to 15 minutes) is the offset.
fn tz_offset(last: Option<DateTime<Utc>>, input: &Input<'_>) -> i64 {
    let (Some(last), Some(modified)) = (last, input.meta.modified) else {
        return 0;
    };
    let diff = modified.signed_duration_since(last).num_seconds();
    let rounded = ((diff as f64) / 900.0).round() as i64 * 900;
    // Local = UTC + offset, so UTC = local - offset; diff = UTC - local.
    if rounded.abs() <= 14 * 3600 && (diff - rounded).abs() < 300 {
        rounded
    } else {
        0
    }
}

fn shift(t: Option<DateTime<Utc>>, offset: i64) -> Option<DateTime<Utc>> {
    t?.checked_add_signed(TimeDelta::try_seconds(offset)?)
}

fn finish(mut run: Run, status: Option<Status>, input: &Input<'_>, why_open: &str) -> Outcome {
    let job = run
        .inv
        .as_deref()
        .and_then(job_of)
        .unwrap_or_else(|| input.options.job.clone());
    let mut o = Outcome::new(job, Status::Success);
    o.tool = Some("rsnapshot".into());
    // Log times are local: the offset comes from the file's modification time.
    let offset = if matches!(run.key, Key::Pid(_)) {
        0
    } else {
        tz_offset(run.last, input)
    };
    o.started = if run.had_start {
        shift(run.started, offset)
    } else {
        None
    };
    o.finished = shift(run.last, offset);
    if let (Some(s), Some(e)) = (o.started, o.finished) {
        if e >= s {
            o.duration_s = Some(e.signed_duration_since(s).num_seconds() as f64);
        }
    }
    o.files = run.files;
    o.bytes = run.bytes;
    let rsync_errors = std::mem::take(&mut run.rsync_errors);
    let canceled_status = input.options.canceled.unwrap_or(Status::Failure);
    let console = run.key == Key::Console;
    let code = if console {
        input.exit_code.or(run.rc)
    } else {
        None
    };
    let mut parts = Vec::new();
    let mut status = match status.or(run.verdict) {
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
        None if run.lock_held => {
            parts.push("did not run: another rsnapshot run holds the lock".into());
            Status::Failure
        }
        None if !run.errors.is_empty() && !run.had_start && !console => {
            parts.push(
                "failed with no `started` line (a config error, or the start is before this log)"
                    .into(),
            );
            Status::Failure
        }
        None if !run.errors.is_empty() || !rsync_errors.is_empty() => {
            parts.push("failed without a final line".into());
            Status::Failure
        }
        None if run.superseded => {
            parts.push(format!(
                "no final line: {why_open} before the run finished (killed?)"
            ));
            run.errors
                .push(format!("the run has no final line: {why_open}"));
            Status::Failure
        }
        None if code.is_some() => {
            let c = code.unwrap_or(0);
            parts.push(format!("rsnapshot exited with code {c}"));
            match c {
                0 => Status::Success,
                2 => Status::Warning,
                _ => Status::Failure,
            }
        }
        // A log's run that ends without its final line may still be running: its warnings
        // do not end it (on the console every WARNING: line sets the exit code).
        None if (!run.warnings.is_empty() || run.rsync_partial)
            && !(run.had_start && matches!(run.key, Key::Inv(_))) =>
        {
            parts.push("completed with warnings (no final line)".into());
            Status::Warning
        }
        None => {
            parts.push(format!(
                "no final line and no exit code: {why_open} before the run finished \
                 (still running, or the output is cut)"
            ));
            Status::Unknown
        }
    };
    run.errors.extend(rsync_errors);
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
        // Complete: the unfinished run cannot be judged (still running, or the log is cut).
        let p = run(&body, true);
        assert_eq!(p.outcomes.len(), 2);
        assert_eq!(p.outcomes[1].status, Status::Unknown);
        assert!(p.outcomes[1]
            .summary
            .as_deref()
            .unwrap()
            .starts_with("no final line and no exit code"));
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
            p.outcomes[0].errors[0].contains("a later run of the same config started"),
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

    /// 200,000 continuation lines are read whole (their speed is measured by
    /// `examples/bench_parse`, not asserted here: a timed unit test fails on a busy machine).
    #[test]
    fn many_continuation_lines_are_read_whole() {
        let body = format!(
            "[2026-11-24T09:28:09] x: started\n{}",
            "continued line\n".repeat(200_000)
        );
        let p = run(&body, true);
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

    #[test]
    fn hostile_numbers() {
        let body = "[2026-11-24T09:28:09] /usr/bin/rsnapshot daily: started
[2026-11-24T09:28:09] Number of files: 18,446,744,073,709,551,615 (reg: 1)
[2026-11-24T09:28:09] Number of files: 18446744073709551615
[2026-11-24T09:28:09] Number of files: 99999999999999999999999
[2026-11-24T09:28:09] Total transferred file size: 18446744073709551615 bytes
[2026-11-24T09:28:09] Total transferred file size: 18446744073709551615 bytes
[2026-11-24T09:28:09] rsync error: x (code 99999999999999999999) at main.c(1)
[2026-11-24T09:28:09] rsync error: x (code -9223372036854775808) at main.c(1)
[9999-11-24T09:28:09] x
[2026-11-24T99:28:09] x
[2026-11-24T09:28:10] /usr/bin/rsnapshot daily: completed successfully
Jul 26 16:18:38 rsnapshot[4294967296]: /usr/bin/rsnapshot daily: completed successfully
Jul 26 16:18:38 rsnapshot[4294967295]: /usr/bin/rsnapshot daily: completed successfully
";
        for modified in [
            "+262000-01-01T00:00:00Z",
            "-262000-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            let mut meta = FileMeta::for_path("/var/log/rsnapshot.log");
            meta.modified = modified.parse().ok();
            let p = parse_with(body, true, &meta, &job("j"));
            assert_eq!(p.outcomes.len(), 2, "{:#?}", p.outcomes);
            assert_eq!(p.outcomes[0].files, Some(u64::MAX));
            assert_eq!(p.outcomes[0].bytes, Some(u64::MAX));
            assert_eq!(p.outcomes[0].status, Status::Success);
        }
        // Exit codes at the ends of i32 on a console output without a final line.
        for code in [i32::MIN, i32::MAX, 0, 2] {
            let meta = FileMeta::for_path("/var/log/x.log");
            let input = crate::formats::Input {
                bytes: b"echo 1 > /var/run/rsnapshot.pid\n",
                meta: &meta,
                exit_code: Some(code),
                options: &job("j"),
                complete: true,
            };
            let p = crate::formats::parse(Format::Rsnapshot, &input);
            assert_eq!(p.outcomes.len(), 1);
        }
    }

    #[test]
    fn syslog_runs_by_pid_and_console() {
        let body = "Nov 24 02:00:01 backup01 rsnapshot[100]: /usr/bin/rsnapshot daily: ERROR: Lockfile /var/run/rsnapshot.pid exists and so does its process, can not continue
Nov 24 03:00:01 backup01 rsnapshot[200]: WARNING: /usr/bin/rsnapshot daily: completed, but with some warnings
Nov 24 03:00:02 backup01 CRON[201]: (root) CMD (something else)
Nov 24 04:00:01 backup01 rsnapshot[300]: /usr/bin/rsnapshot weekly: completed successfully
";
        let p = run(body, true);
        assert_eq!(
            jobs(&p.outcomes),
            [
                ("daily", Status::Failure),
                ("daily", Status::Warning),
                ("weekly", Status::Success)
            ]
        );
        // Console at verbose 2: nothing but a warning; no exit code.
        let p = run("WARNING: Some files and/or directories in /home/ only transferred partially during rsync operation\n", true);
        assert_eq!(p.outcomes[0].status, Status::Warning);
        // Console at verbose 3 without errors and without an exit code: unknown.
        let p = run(
            "echo 1 > /var/run/rsnapshot.pid\nrm -f /var/run/rsnapshot.pid\n",
            true,
        );
        assert_eq!(p.outcomes[0].status, Status::Unknown);
    }

    #[test]
    fn pasted_shell_session_with_its_exit_code() {
        let body = "<pre>\n[root@box .snapshots]# rsnapshot daily\n[root@box .snapshots]# echo $?\n2\n</pre>\n";
        let p = run(body, true);
        assert_eq!(jobs(&p.outcomes), [("daily", Status::Warning)]);
        let meta = FileMeta::for_path("/x/paste.txt");
        assert!(test_support::looks(looks_like, body.as_bytes()));
        let p = parse_with(
            "user@host:~$ sudo rsnapshot -c /etc/r-home.conf alpha\n$ echo $?\n0\n",
            true,
            &meta,
            &job("x"),
        );
        assert_eq!(jobs(&p.outcomes), [("r-home-alpha", Status::Success)]);
    }

    #[test]
    fn flattened_console_banner() {
        let body = "Command \"/usr/bin/rsnapshot\" -c \"/tmp/r.cfg\" sync 2>&1 failed. Diagnostic information follows: ------ rsnapshot encountered an error! The program was invoked with these options: /usr/bin/rsnapshot -c /tmp/r.cfg sync ------ ERROR: /usr/bin/rsync returned 255 while processing u@h:/etc\n";
        let p = run(body, true);
        assert_eq!(jobs(&p.outcomes), [("r-sync", Status::Failure)]);
        assert!(p.outcomes[0].errors[0].contains("returned 255"));
        assert!(test_support::looks(looks_like, body.as_bytes()));
    }

    #[test]
    fn escaped_newlines_and_a_late_final_line() {
        // elkarbackup's error log: rsnapshot's output on one line, `\n` written out.
        let body = r"Command failed: [unknown error] rsync error: error in file IO (code 11) at receiver.c(393)\n/usr/bin/rsnapshot -c /tmp/r.cfg sync: ERROR: /usr/bin/rsync returned 11 while processing u@h:/x\ntouch /b/.sync/\nrm -f /tmp/r.pid\n/usr/bin/rsnapshot -c /tmp/r.cfg sync: ERROR: /usr/bin/rsnapshot -c /tmp/r.cfg sync: completed, but with some errors
";
        let p = run(body, true);
        assert_eq!(jobs(&p.outcomes), [("r-sync", Status::Failure)]);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        let body = r"Command failed: [unknown error] /usr/bin/rsync -a u@h:/x /b/.sync/.\nWARNING: Some files and/or directories in u@h:/x only transferred partially during rsync operation\ntouch /b/.sync/\nrm -f /tmp/r (...)
";
        let p = run(body, true);
        assert_eq!(p.outcomes.len(), 1);
        assert_eq!(p.outcomes[0].status, Status::Warning);
        assert!(test_support::looks(looks_like, body.as_bytes()));
        // A log that starts after `started`: its final line ends the same run.
        let body = "[2026-11-24T08:08:06] /usr/bin/rsnapshot daily: ERROR: /usr/bin/rsync returned 12 while processing h:/x\n[2026-11-24T08:08:06] touch /b/daily.0/\n[2026-11-24T08:08:07] /usr/bin/rsnapshot daily: ERROR: /usr/bin/rsnapshot daily: completed, but with some errors\n";
        let p = run(body, true);
        assert_eq!(jobs(&p.outcomes), [("daily", Status::Failure)]);
    }

    #[test]
    fn config_errors_of_two_days_are_two_runs() {
        let body = "[2017-11-28T04:05:01] /usr/bin/rsnapshot daily: ERROR: rsnapshot can not continue.\n[2017-11-28T04:05:01] /usr/bin/rsnapshot daily: ERROR: sure you don't have spaces\n[2017-11-29T04:05:01] /usr/bin/rsnapshot daily: ERROR: /etc/rsnapshot.conf on line 207:\n";
        let p = run(body, true);
        assert_eq!(
            jobs(&p.outcomes),
            [("daily", Status::Failure), ("daily", Status::Failure)]
        );
    }

    #[test]
    fn indented_log_and_an_unfinished_run_with_warnings() {
        let body = "    [21/Aug/2014:05:25:02] /usr/bin/rsnapshot sync: started\n    [21/Aug/2014:17:52:43] WARNING: /usr/bin/rsnapshot sync: completed, but with some warnings\n";
        assert_eq!(jobs(&run(body, true).outcomes), [("sync", Status::Warning)]);
        // A log cut after an rsync complaint: the run may still be going.
        let body = "[2018-10-05T14:14:02] /usr/bin/rsnapshot sync: started\n[2018-10-05T14:14:02] rsync: link_stat \"/etc2\" failed: No such file or directory (2)\n";
        assert_eq!(jobs(&run(body, true).outcomes), [("sync", Status::Unknown)]);
        // rsync lost its connection: the transfer failed.
        let body = "echo 7084 > /var/run/rsnapshot.pid\nssh: Could not resolve hostname root: Name or service not known\nrsync: connection unexpectedly closed (0 bytes received so far) [Receiver]\n";
        assert_eq!(run(body, true).outcomes[0].status, Status::Failure);
    }

    #[test]
    fn hostile_pasted_exit_codes() {
        for n in [
            "99999999999999999999",
            "-9223372036854775808",
            "1e308",
            "3000000000",
        ] {
            let body = format!("$ rsnapshot daily\n$ echo $?\n{n}\n");
            let p = run(&body, true);
            assert_eq!(p.outcomes.len(), 1, "{n}");
            assert_eq!(p.outcomes[0].status, Status::Unknown, "{n}");
        }
    }
}
