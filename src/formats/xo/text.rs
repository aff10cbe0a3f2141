//! Xen Orchestra's text shapes, as users paste them:
//! * the backup-reports plugin's report (markdown or the rendered email): `## Global status:
//!   failure`, `- **Successes**: 0 / 1`, `### <vm>` sections with `- **Error**: ...`, and the
//!   subject `[Xen Orchestra] Failure − Backup report for <job>`;
//! * the 2016 report email (`VM : name`, `Status: Fail`) and the 2017 Slack report of legacy jobs
//!   (`vm.rollingBackup:` blocks ending with ` true` or an error line);
//! * the job log of a failed legacy call (`vm.rollingDeltaBackup`, params JSON, error JSON whose
//!   `stack` holds raw newlines), and the failed calls of XO's Settings > Logs view (one outcome
//!   per call, an error object cut before its message still a failure);
//! * xo-server's or an XO proxy's own log lines about backups (`xo:proxy:backups:Backup WARN VM
//!   backup failure {`), behind a journald or syslog prefix;
//! * the detailed log of the web UI copied as text (`Snapshot`, `transfer`, `Start: ...`,
//!   `Error: ...`).
//!
//! Owns: their detection and one outcome per report. Must not do I/O.

use super::super::common::lines;
use super::{Format, Input, Outcome, Parsed, Status, TOOL};
use crate::outcome::Item;

const MAX_MESSAGES: usize = 50;

/// The xo-server API namespaces whose calls a job log or XO's Settings > Logs view names
/// (`vm.rollingDeltaBackup`, `backupNg.importVmBackup`, `remote.test`, `sr.scan`).
const XO_API: &[&str] = &[
    "vm",
    "backupNg",
    "backup",
    "job",
    "metadataBackup",
    "mirrorBackup",
    "sr",
    "pool",
    "host",
    "remote",
    "vdi",
    "vbd",
    "vif",
    "pbd",
    "pif",
    "network",
    "schedule",
    "proxy",
    "task",
    "xo",
];

/// A line without markdown decoration: `## `, `- `, `**`, `*`, `_`, surrounding spaces.
fn clean(l: &str) -> String {
    let t = l
        .trim()
        .trim_start_matches(['#', '-', '>', ' ', '\t', '•', '*']);
    t.replace("**", "").replace('*', "").trim().to_string()
}

/// `key: value` of a cleaned line, the key compared case-insensitively.
fn field<'a>(l: &'a str, key: &str) -> Option<&'a str> {
    let (k, v) = l.split_once(':')?;
    k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
}

fn is_method(l: &str) -> bool {
    let mut parts = l.split('.');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    first.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
        && first.bytes().all(|c| c.is_ascii_alphanumeric())
        && !rest.is_empty()
        && rest
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()))
}

enum Shape {
    Report,
    Email2016,
    Slack,
    CallLog,
    WebLog,
    /// xo-server's (or an XO proxy's) own log lines about backups, as journald or syslog shows
    /// them: `2020-07-17T10:40:09.778Z xo:proxy:backups:Backup WARN VM backup failure {`.
    ServerLog,
    /// A row of XO's logs view copied as text: `<user> | <error>This is a XenServer/XCP-ng
    /// error`.
    LogsRow,
    /// The `result` object of a failed task pasted alone (`"result": { ... "stack": ... }`).
    ResultFragment,
}

/// The report plugin's step icons: success, failure, skipped, interrupted or warning.
const ICONS: [&str; 5] = ["\u{2714}", "\u{1F6A8}", "\u{23E9}", "\u{26A0}", "\u{274C}"];

/// A step line of the report (`transfer ✔`, `merge 🚨`, `snapshot ⏩`): the step and its icon.
fn step_icon(l: &str) -> Option<(&str, &str)> {
    let t = l.trim().trim_end_matches('\u{FE0F}');
    let icon = ICONS.iter().find(|i| t.ends_with(*i))?;
    let step = t[..t.len() - icon.len()].trim_end();
    (!step.is_empty()
        && step.len() <= 40
        && step
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-'))
    .then_some((step, *icon))
}

/// XO's message for a XAPI error in its logs view.
const XAPI_ERROR_NOTE: &str = "This is a XenServer/XCP-ng error";

/// The first line of each call log: a known xo-server method followed by its params' `{` (at the
/// start of a line), after whatever the user wrote before or between them (`LOGS for failed
/// backup at ...`, `/snip`). The first one must come within the first 20 non-empty lines.
fn call_log_starts(ls: &[String]) -> Vec<usize> {
    let nonempty: Vec<(usize, &str)> = ls
        .iter()
        .enumerate()
        .map(|(n, l)| (n, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let starts: Vec<usize> = nonempty
        .windows(2)
        .filter_map(|w| {
            let (n, first) = w[0];
            let known = first.split('.').next().is_some_and(|p| XO_API.contains(&p));
            let brace = ls[w[1].0].trim_end() == "{";
            (known && is_method(first) && brace).then_some(n)
        })
        .collect();
    let first_ok = starts
        .first()
        .is_some_and(|&f| nonempty.iter().take(20).any(|(n, _)| *n == f));
    if first_ok {
        starts
    } else {
        Vec::new()
    }
}

fn call_log_start(ls: &[String]) -> Option<usize> {
    call_log_starts(ls).first().copied()
}

fn shape(text: &[u8]) -> Option<Shape> {
    let ls: Vec<String> = lines(text).take(2000).map(|(_, l)| l).collect();
    let cleaned: Vec<String> = ls.iter().map(|l| clean(l)).collect();
    if cleaned.iter().any(|l| {
        field(l, "Global status").is_some_and(|v| {
            let w = v
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            matches!(
                w.as_str(),
                "success" | "failure" | "skipped" | "interrupted" | "pending"
            )
        })
    }) {
        return Some(Shape::Report);
    }
    let has = |key: &str| cleaned.iter().any(|l| field(l, key).is_some());
    if has("UUID")
        && has("Start time")
        && cleaned.iter().any(|l| {
            field(l, "Status").is_some_and(|v| v.starts_with("Fail") || v.starts_with("Success"))
        })
    {
        return Some(Shape::Email2016);
    }
    if call_log_start(&ls).is_some() {
        return Some(Shape::CallLog);
    }
    // Steps of a report without its header (`merge 🚨` then `Start time: ...`).
    if ls.iter().any(|l| step_icon(l).is_some()) && has("Start time") {
        return Some(Shape::Report);
    }
    if ls.iter().any(|l| {
        l.trim_end()
            .strip_suffix(':')
            .is_some_and(|m| is_method(m.trim()))
    }) && has("tag")
    {
        return Some(Shape::Slack);
    }
    if ls.iter().any(|l| server_log_line(l).is_some()) {
        return Some(Shape::ServerLog);
    }
    if ls.iter().any(|l| l.contains(XAPI_ERROR_NOTE)) {
        return Some(Shape::LogsRow);
    }
    let first = ls.iter().map(|l| l.trim()).find(|l| !l.is_empty());
    if first.is_some_and(|f| f.starts_with("\"result\":"))
        && ls.iter().any(|l| l.trim_start().starts_with("\"stack\":"))
        && ls
            .iter()
            .any(|l| l.contains("@xen-orchestra/") || l.contains("xo-server"))
    {
        return Some(Shape::ResultFragment);
    }
    let trimmed = |w: &str| ls.iter().any(|l| l.trim() == w);
    if (trimmed("transfer") || trimmed("Snapshot"))
        && ls.iter().any(|l| l.starts_with("Start: "))
        && ls.iter().any(|l| l.starts_with("End: "))
    {
        return Some(Shape::WebLog);
    }
    None
}

/// True for one of the text shapes.
pub(super) fn looks_like(head: &[u8]) -> bool {
    shape(head).is_some()
}

fn new_outcome(input: &Input<'_>, job: Option<String>, status: Status) -> Outcome {
    let mut o = Outcome::new(job.unwrap_or_else(|| input.options.job.clone()), status);
    o.tool = Some(TOOL.into());
    o.finished = input.meta.modified;
    o
}

fn push(v: &mut Vec<String>, s: String) {
    if v.len() < MAX_MESSAGES {
        v.push(s);
    }
}

/// `a / b` -> (a, b)
fn ratio(v: &str) -> Option<(u64, u64)> {
    let (a, b) = v.split_once('/')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The backup-reports plugin's report.
fn report(input: &Input<'_>) -> Outcome {
    let mut global = String::new();
    let mut job = None;
    let mut successes = None;
    let mut errors = Vec::new();
    let mut current_vm: Option<String> = None;
    let mut items: Vec<Item> = Vec::new();
    let (mut ok_steps, mut failed_steps) = (0u64, 0u64);
    for (_, raw) in lines(input.bytes) {
        if let Some(at) = raw.find("Backup report for ") {
            let name = raw[at + "Backup report for ".len()..]
                .trim()
                .trim_end_matches(|c: char| !c.is_ascii() || c.is_whitespace())
                .to_string();
            if !name.is_empty() {
                job = Some(name);
            }
        }
        let l = clean(&raw);
        if let Some(v) = field(&l, "Global status") {
            global = v
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
        } else if let Some(v) = field(&l, "Successes") {
            successes = ratio(v);
        } else if let Some(v) = field(&l, "Error") {
            let m = match &current_vm {
                Some(vm) => format!("{vm}: {v}"),
                None => v.to_string(),
            };
            push(&mut errors, m);
            if let Some(it) = items.last_mut() {
                it.status = Status::Failure;
                it.message = Some(v.to_string());
            }
        } else if let Some((step, icon)) = step_icon(&raw) {
            // A step of the report (`merge 🚨`): a failed one fails its VM.
            if icon == ICONS[1] || icon == ICONS[4] {
                failed_steps = failed_steps.saturating_add(1);
                current_vm.get_or_insert_with(|| step.to_string());
            } else {
                ok_steps = ok_steps.saturating_add(1);
            }
        } else if raw.trim_start().starts_with("### ") {
            let name = raw.trim_start()[4..].trim().to_string();
            current_vm = Some(name.clone());
            items.push(Item {
                name,
                status: Status::Success,
                bytes: None,
                message: None,
            });
        }
    }
    let all_ok = successes.is_some_and(|(a, b)| b > 0 && a == b);
    let status = match global.as_str() {
        "success" => Status::Success,
        "skipped" => Status::Warning,
        // XO marked the job interrupted although every VM was saved.
        "interrupted" if all_ok => Status::Warning,
        "interrupted" | "failure" => Status::Failure,
        // Steps of a report pasted without its header.
        "" if failed_steps > 0 || !errors.is_empty() => Status::Failure,
        "" if ok_steps > 0 => Status::Success,
        _ => Status::Unknown,
    };
    let mut o = new_outcome(input, job, status);
    o.items = items;
    o.errors = errors;
    let ok = successes.map_or(String::new(), |(a, b)| format!(", {a} of {b} VMs ok"));
    o.summary = Some(if global.is_empty() {
        format!("report steps: {ok_steps} ok, {failed_steps} failed (no global status in the text)")
    } else {
        format!("global status {global}{ok}")
    });
    if status == Status::Warning && global == "interrupted" {
        o.warnings
            .push("job marked interrupted although all VMs succeeded".into());
    }
    if status == Status::Failure && o.errors.is_empty() {
        o.errors.push(if global.is_empty() {
            "a step of the report failed".into()
        } else {
            format!("global status {global}")
        });
    }
    o
}

/// The 2016 report email: `VM : name` then `Status: Fail` per VM.
fn email_2016(input: &Input<'_>) -> Outcome {
    let mut items = Vec::new();
    let mut vm = String::from("VM");
    for (_, raw) in lines(input.bytes) {
        let l = clean(&raw);
        if let Some(v) = field(&l, "VM") {
            vm = v.trim_matches('*').to_string();
        } else if let Some(v) = field(&l, "Status") {
            let status = if v.starts_with("Success") {
                Status::Success
            } else {
                Status::Failure
            };
            items.push(Item {
                name: vm.clone(),
                status,
                bytes: None,
                message: None,
            });
        } else if let Some(v) = field(&l, "Error") {
            if let Some(it) = items.last_mut() {
                it.message = Some(v.to_string());
            }
        }
    }
    let status = items.iter().fold(Status::Success, |a, i| a.worst(i.status));
    let mut o = new_outcome(input, None, status);
    for it in items.iter().filter(|i| i.status == Status::Failure) {
        let m = it.message.as_deref().unwrap_or("status Fail");
        push(&mut o.errors, format!("{}: {m}", it.name));
    }
    let ok = items.iter().filter(|i| i.status == Status::Success).count();
    o.summary = Some(format!("{ok} of {} VMs ok", items.len()));
    o.items = items;
    o
}

/// The 2017 Slack report: `vm.rollingBackup:` blocks, each ending with ` true` or an error.
fn slack(input: &Input<'_>) -> Outcome {
    let mut items: Vec<Item> = Vec::new();
    for (_, raw) in lines(input.bytes) {
        let t = raw.trim();
        if raw
            .trim_end()
            .strip_suffix(':')
            .is_some_and(|m| is_method(m.trim()))
        {
            items.push(Item {
                name: t.trim_end_matches(':').to_string(),
                status: Status::Unknown,
                bytes: None,
                message: None,
            });
            continue;
        }
        let Some(it) = items.last_mut() else { continue };
        if let Some(v) = field(t, "VM").filter(|_| !raw.starts_with(' ')) {
            it.name = v.to_string();
        } else if raw.starts_with(' ') && !t.is_empty() && it.status == Status::Unknown {
            if t == "true" {
                it.status = Status::Success;
            } else {
                it.status = Status::Failure;
                it.message = Some(t.to_string());
            }
        }
    }
    let status = if items.is_empty() {
        Status::Unknown
    } else {
        items.iter().fold(Status::Success, |a, i| a.worst(i.status))
    };
    let mut o = new_outcome(input, None, status);
    for it in items.iter().filter(|i| i.status == Status::Failure) {
        let m = it.message.as_deref().unwrap_or("failed");
        push(&mut o.errors, format!("{}: {m}", it.name));
    }
    let ok = items.iter().filter(|i| i.status == Status::Success).count();
    o.summary = Some(format!("{ok} of {} VM backups ok", items.len()));
    o.items = items;
    o
}

/// Call logs (a legacy job's log, or calls of XO's Settings > Logs view, which lists failed
/// calls): one outcome per call.
fn call_logs(input: &Input<'_>) -> Vec<Outcome> {
    let ls: Vec<String> = lines(input.bytes).map(|(_, l)| l).collect();
    let starts = call_log_starts(&ls);
    if starts.is_empty() {
        return vec![call_log(input, &ls)];
    }
    let mut out = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(ls.len());
        out.push(call_log(input, &ls[start..end]));
    }
    out
}

/// One call log: the method, its params, then the error (or nothing).
fn call_log(input: &Input<'_>, ls: &[String]) -> Outcome {
    let mut method = String::new();
    let mut closed_params = false;
    let mut error = None;
    let mut error_indent: Option<usize> = None;
    for raw in ls {
        if method.is_empty() {
            if !raw.trim().is_empty() {
                method = raw.trim().to_string();
            }
            continue;
        }
        if !closed_params {
            closed_params = raw.trim_end() == "}";
            continue;
        }
        // The error's own `message` (or a XAPI error's `code`), one level into the error
        // object: not a field of a nested one (`"task": { "status": ... }`).
        let indent = raw.len() - raw.trim_start().len();
        if raw.trim() == "{" {
            error_indent.get_or_insert(indent);
            continue;
        }
        let t = raw.trim();
        if error_indent == Some(indent) && t.starts_with('}') {
            break; // the error object ended
        }
        if error_indent.is_some_and(|e| indent != e.saturating_add(2)) {
            continue;
        }
        let value = t
            .strip_prefix("\"message\":")
            .or_else(|| t.strip_prefix("\"code\":"));
        if let Some(m) = value {
            // The error's `message`; its `code` (a XAPI error has no message) until one comes.
            let m = m.trim().trim_end_matches(',').trim_matches('"');
            let is_message = t.starts_with("\"message\"");
            if error.is_none() || is_message {
                error = Some(m.to_string());
            }
            if is_message {
                break;
            }
        }
    }
    match error {
        Some(e) => {
            let mut o = new_outcome(input, None, Status::Failure);
            o.summary = Some(format!("{method} failed: {e}"));
            o.errors.push(e);
            o
        }
        // The error object began (the block after the params is the error) but the paste ends
        // before its message.
        None if error_indent.is_some() => {
            let mut o = new_outcome(input, None, Status::Failure);
            let e = "its error object is cut before its message".to_string();
            o.summary = Some(format!("{method} failed: {e}"));
            o.errors.push(e);
            o
        }
        None => {
            let mut o = new_outcome(input, None, Status::Unknown);
            o.summary = Some(format!("{method}: the log shows no result"));
            o
        }
    }
}

/// The web UI's detailed log copied as text.
fn web_log(input: &Input<'_>) -> Outcome {
    let mut errors = Vec::new();
    let mut ended = false;
    for (_, raw) in lines(input.bytes) {
        if let Some(e) = raw.strip_prefix("Error: ") {
            push(&mut errors, e.trim().to_string());
        }
        ended |= raw.starts_with("End: ");
    }
    let status = if !errors.is_empty() {
        Status::Failure
    } else if ended {
        Status::Success
    } else {
        Status::Unknown
    };
    let mut o = new_outcome(input, None, status);
    o.summary = Some(match errors.first() {
        Some(e) => format!("failed: {e}"),
        None if ended => "all steps ended without error".into(),
        None => "no step shows an end".into(),
    });
    o.errors = errors;
    o
}

/// An xo-server (or XO proxy) log line about backups, without what journald or syslog put
/// before it: its namespace (`xo:backups:worker`, `xo:proxy:backups:Backup`), level and message.
fn server_log_line(raw: &str) -> Option<(&str, &str, &str)> {
    let at = raw.find(" xo:")?;
    let mut parts = raw[at + 1..].splitn(3, ' ');
    let ns = parts.next()?;
    let level = parts.next()?;
    let msg = parts.next().unwrap_or("").trim();
    let known_level = matches!(level, "ERROR" | "WARN" | "INFO" | "DEBUG" | "FATAL");
    (known_level && ns.contains("backup")).then_some((ns, level, msg))
}

/// xo-server's log lines about backups: a VM or job backup failure (or an ERROR) fails the run;
/// otherwise the lines say nothing about its end.
fn server_log(input: &Input<'_>) -> Outcome {
    let mut errors = Vec::new();
    for (_, raw) in lines(input.bytes) {
        let Some((ns, level, msg)) = server_log_line(&raw) else {
            continue;
        };
        let m = msg.trim_end_matches('{').trim();
        let failure = m.to_ascii_lowercase().contains("backup failure");
        if failure || level == "ERROR" || level == "FATAL" {
            push(&mut errors, format!("{ns}: {m}"));
        }
    }
    // The error's own line (`  error: Error: connect ETIMEDOUT ...`) after the message.
    let detail = lines(input.bytes).find_map(|(_, raw)| {
        let t = raw.trim_start();
        let at = t.find("error: ")?;
        let before = &t[..at];
        (before.is_empty() || before.ends_with(": ") || before.ends_with(' '))
            .then(|| t[at + "error: ".len()..].trim().to_string())
            .filter(|d| !d.is_empty())
    });
    let status = if errors.is_empty() {
        Status::Unknown
    } else {
        Status::Failure
    };
    let mut o = new_outcome(input, None, status);
    o.summary = Some(match (errors.first(), &detail) {
        (Some(e), Some(d)) => format!("xo-server log: {e} ({d})"),
        (Some(e), None) => format!("xo-server log: {e}"),
        (None, _) => "xo-server log lines show no backup result".into(),
    });
    if let (Some(d), false) = (detail, errors.is_empty()) {
        push(&mut errors, d);
    }
    o.errors = errors;
    o
}

/// A row of XO's logs view: the error before `This is a XenServer/XCP-ng error`.
fn logs_row(input: &Input<'_>) -> Outcome {
    let mut errors = Vec::new();
    for (_, raw) in lines(input.bytes) {
        if let Some(at) = raw.find(XAPI_ERROR_NOTE) {
            let before = &raw[..at];
            let e = before.rsplit('|').next().unwrap_or(before).trim();
            if !e.is_empty() {
                push(&mut errors, e.to_string());
            }
        }
    }
    let mut o = new_outcome(input, None, Status::Failure);
    o.summary = Some(match errors.first() {
        Some(e) => format!("failed: {e}"),
        None => "failed with a XenServer/XCP-ng error".into(),
    });
    o.errors = errors;
    o
}

/// A failed task's `result` pasted alone: its `message` (or `code`).
fn result_fragment(input: &Input<'_>) -> Outcome {
    let mut message = None;
    for (_, raw) in lines(input.bytes) {
        let t = raw.trim();
        let value = t
            .strip_prefix("\"message\":")
            .or_else(|| t.strip_prefix("\"code\":"));
        if let Some(m) = value {
            let m = m.trim().trim_end_matches(',').trim_matches('"').to_string();
            let is_message = t.starts_with("\"message\"");
            if message.is_none() || is_message {
                message = Some(m);
            }
            if is_message {
                break;
            }
        }
    }
    let mut o = new_outcome(input, None, Status::Failure);
    let m = message.unwrap_or_else(|| "a task failed (error with a stack)".into());
    o.summary = Some(format!("task failed: {m}"));
    o.errors.push(m);
    o
}

/// Parse one of the text shapes; anything else is one unknown outcome.
pub(super) fn parse(input: &Input<'_>) -> Parsed {
    let o = match shape(super::super::common::head(input.bytes)) {
        Some(Shape::Report) => report(input),
        Some(Shape::Email2016) => email_2016(input),
        Some(Shape::Slack) => slack(input),
        Some(Shape::CallLog) => return Parsed::whole(input, call_logs(input), Format::Xo),
        Some(Shape::WebLog) => web_log(input),
        Some(Shape::ServerLog) => server_log(input),
        Some(Shape::LogsRow) => logs_row(input),
        Some(Shape::ResultFragment) => result_fragment(input),
        None => Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            "not an xo backup log (neither JSON nor a known report)",
        ),
    };
    Parsed::whole(input, vec![o], Format::Xo)
}
