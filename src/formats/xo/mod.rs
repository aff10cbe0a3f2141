//! Xen Orchestra backup logs (research note section 6): the consolidated logs of
//! `xo-cli backupNg.getLogs` (an array), `backupNg.getAllLogs` (an object keyed by run id, or with
//! `ndjson=true` one log per line), or `/rest/v0/backup-logs/<id>` (one log). One outcome per
//! finished log, one [`Item`] per VM (or per pool / XO config for metadata backups).
//!
//! Owns: the serde model of the log and its task tree (every field optional, unknown fields and
//! unknown status values tolerated), the status mapping of the note (success with warnings
//! anywhere in the tree -> warning, skipped -> warning, failure and interrupted -> failure,
//! pending -> no outcome yet), retried VM attempts (the last attempt for a VM wins), transfer
//! sizes (`transfer` tasks' `result.size`) and the deepest failing message. A log cut before its
//! end is read by [`cut`], the text shapes (report emails, legacy logs, the web UI's log copied as
//! text) by [`text`]. Must not do I/O.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

mod cut;
mod text;

use super::common::{head, trim};
use super::{Format, Input, Parsed};
use crate::outcome::{Item, Outcome, Status};

const TOOL: &str = "xo";
const MAX_MESSAGES: usize = 50;

/// A task status; values added by later XO versions are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum XoStatus {
    Success,
    Failure,
    Skipped,
    Interrupted,
    Pending,
    #[default]
    #[serde(other)]
    Other,
}

/// `warnings[]` / `infos[]` entries.
#[derive(Debug, Default, Deserialize)]
struct Note {
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

/// A log (the root) or a task of its tree: same shape.
#[derive(Debug, Default, Deserialize)]
struct Task {
    #[serde(default)]
    message: Option<Value>,
    #[serde(default, rename = "jobName")]
    job_name: Option<Value>,
    #[serde(default, rename = "jobId")]
    job_id: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    start: Option<Value>,
    #[serde(default)]
    end: Option<Value>,
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    warnings: Vec<Note>,
    #[serde(default)]
    tasks: Vec<Task>,
}

impl Task {
    fn status(&self) -> (XoStatus, String) {
        let raw = text(self.status.as_ref()).unwrap_or_default();
        let s = serde_json::from_value(Value::String(raw.clone())).unwrap_or_default();
        (s, raw)
    }

    fn data_str(&self, key: &str) -> Option<String> {
        text(self.data.as_ref()?.get(key))
    }

    /// A VM (or metadata target) task: one item.
    fn item_kind(&self) -> bool {
        matches!(
            self.data_str("type").as_deref(),
            Some("VM" | "pool" | "xo" | "xoConfig")
        )
    }

    fn item_name(&self) -> String {
        self.data_str("name_label")
            .or_else(|| self.data_str("id"))
            .or_else(|| self.data_str("type"))
            .unwrap_or_else(|| "VM".into())
    }

    fn result_message(&self) -> Option<String> {
        result_message(self.result.as_ref()?)
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The message of a serialized error; for an `AggregateError`, its errors' messages.
fn result_message(r: &Value) -> Option<String> {
    let own = text(r.get("message")).filter(|m| !m.is_empty());
    if let Some(Value::Array(errors)) = r.get("errors") {
        let inner: Vec<String> = errors.iter().filter_map(result_message).take(10).collect();
        if !inner.is_empty() {
            return Some(inner.join("; "));
        }
    }
    own.or_else(|| text(r.get("code")))
}

fn is_abort(r: Option<&Value>) -> bool {
    r.is_some_and(|r| {
        text(r.get("name")).as_deref() == Some("AbortError")
            || text(r.get("message")).is_some_and(|m| m == "aborted" || m == "operation aborted")
    })
}

fn millis(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let ms = match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    // 1970..=2200: anything else is not a real time.
    if !(0..=MAX_MILLIS).contains(&ms) {
        return None;
    }
    Utc.timestamp_millis_opt(ms).single()
}

/// 2200-01-01T00:00:00Z in milliseconds.
const MAX_MILLIS: i64 = 7_258_118_400_000;

/// Parse XO backup logs (one, an array, a map by run id, or JSON lines; a log cut before its
/// end), or one of XO's text shapes ([`text`]).
pub fn parse(input: &Input<'_>) -> Parsed {
    let bytes = trim(input.bytes);
    if !matches!(bytes.first(), Some(b'{' | b'[')) {
        return text::parse(input);
    }
    let parsed = serde_json::from_slice::<Value>(bytes);
    if parsed.is_err() && text::looks_like(head(bytes)) {
        // e.g. a report whose subject line starts with `[Xen Orchestra]`
        return text::parse(input);
    }
    match parsed {
        Ok(v) => {
            let mut outcomes = Vec::new();
            let mut pending: Option<String> = None;
            for log in logs(v) {
                if pending.is_none() && text(log.get("status")).as_deref() == Some("pending") {
                    pending = Some(
                        text(log.get("jobName"))
                            .or_else(|| text(log.get("jobId")))
                            .unwrap_or_else(|| input.options.job.clone()),
                    );
                }
                outcomes.extend(outcome(log, input));
            }
            if let (true, Some(job)) = (outcomes.is_empty(), pending) {
                // Only runs still pending: say so once (with finished runs, they wait).
                let mut o = Outcome::new(job, Status::Unknown);
                o.tool = Some(TOOL.into());
                o.summary = Some("still running (pending, no end yet): result not known".into());
                outcomes.push(o);
            }
            Parsed::whole(input, outcomes, Format::Xo)
        }
        Err(e) if e.is_eof() && !input.complete => Parsed {
            outcomes: Vec::new(),
            consumed: 0,
            format: Some(Format::Xo),
        },
        Err(e) if e.is_eof() => Parsed::whole(input, vec![cut::outcome(input, bytes)], Format::Xo),
        Err(e) if !bytes.contains(&b'\n') => Parsed::whole(
            input,
            vec![Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                format!("not an xo backup log: {e}"),
            )],
            Format::Xo,
        ),
        Err(_) => ndjson(input),
    }
}

/// `getAllLogs ndjson=true`: one log per line; an unfinished last line waits.
fn ndjson(input: &Input<'_>) -> Parsed {
    let text = input.bytes;
    let end = if input.complete {
        text.len()
    } else {
        text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
    };
    let mut outcomes = Vec::new();
    for (n, line) in text[..end].split(|&b| b == b'\n').enumerate() {
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => {
                for log in logs(v) {
                    outcomes.extend(outcome(log, input));
                }
            }
            Err(e) => outcomes.push(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                format!("line {}: not JSON: {e}", n + 1),
            )),
        }
    }
    Parsed {
        outcomes,
        consumed: end,
        format: Some(Format::Xo),
    }
}

/// The logs in a document: an array, a log, a map of logs, or an `[id, log]` pair.
fn logs(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0].is_string() && a[1].is_object() => {
            a.into_iter().skip(1).collect()
        }
        Value::Array(a) => a,
        Value::Object(o) if is_log(&o) => vec![Value::Object(o)],
        Value::Object(o) => o.into_iter().map(|(_, v)| v).collect(),
        other => vec![other],
    }
}

fn is_log(o: &serde_json::Map<String, Value>) -> bool {
    o.contains_key("status") || o.contains_key("tasks") || o.contains_key("jobId")
}

/// True for XO backup log JSON (or JSON lines, or a log cut before its end), or one of XO's text
/// shapes ([`text::looks_like`]).
pub fn looks_like(input: &Input<'_>) -> bool {
    let t = trim(head(input.bytes));
    let starts_json = matches!(t.first(), Some(b'{' | b'['));
    let has = |needle: &[u8]| t.windows(needle.len()).any(|w| w == needle);
    // A log, or one VM task of a log pasted alone (`"message": "backup VM"`, `"type": "VM"`).
    let vm_task = has(b"\"backup VM\"") || (has(b"\"type\": \"VM\"") && has(b"\"message\""));
    (starts_json
        && (has(b"\"jobId\"") || vm_task)
        && has(b"\"status\"")
        && (has(b"\"tasks\"") || has(b"\"start\"")))
        || text::looks_like(t)
}

// ---------------------------------------------------------------------------------------------
// One log.

/// What the walk of a subtree found.
#[derive(Default)]
struct Walk {
    bytes: Option<u64>,
    warnings: Vec<String>,
    /// The deepest failing (or skipped) task's message.
    failure: Option<(usize, String)>,
    failed: bool,
    aborted: bool,
}

impl Walk {
    fn add_bytes(&mut self, n: u64) {
        self.bytes = Some(self.bytes.unwrap_or(0).saturating_add(n));
    }
}

/// Walk a subtree (depth is bounded by serde_json's recursion limit).
fn walk(task: &Task, depth: usize, w: &mut Walk, ctx: &str) {
    for n in &task.warnings {
        if w.warnings.len() < MAX_MESSAGES {
            let msg = text(n.message.as_ref()).unwrap_or_else(|| "warning".into());
            let detail = n
                .data
                .as_ref()
                .and_then(|d| text(d.get("error")).or_else(|| text(d.get("message"))))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            w.warnings.push(format!("{ctx}{msg}{detail}"));
        }
    }
    let (status, _) = task.status();
    if text(task.message.as_ref()).as_deref() == Some("transfer") && status == XoStatus::Success {
        if let Some(n) = task.result.as_ref().and_then(|r| r.get("size")?.as_u64()) {
            w.add_bytes(n);
        }
    }
    if matches!(
        status,
        XoStatus::Failure | XoStatus::Skipped | XoStatus::Interrupted
    ) {
        w.failed |= status != XoStatus::Skipped;
        w.aborted |= is_abort(task.result.as_ref());
        if let Some(m) = task.result_message() {
            if w.failure.as_ref().is_none_or(|(d, _)| depth >= *d) {
                w.failure = Some((depth, m));
            }
        }
    }
    for t in &task.tasks {
        walk(t, depth + 1, w, ctx);
    }
}

/// The item tasks of a tree, the last attempt of each VM winning (retries), in the order they
/// first appear; and the other top-level tasks.
fn split_tasks(root: &Task) -> (Vec<&Task>, Vec<&Task>) {
    let mut items: Vec<&Task> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut other = Vec::new();
    for t in &root.tasks {
        if t.item_kind() {
            let key = t.data_str("id").unwrap_or_else(|| t.item_name());
            match index.get(&key) {
                Some(&i) => items[i] = t,
                None => {
                    index.insert(key, items.len());
                    items.push(t);
                }
            }
        } else {
            other.push(t);
        }
    }
    (items, other)
}

fn outcome(value: Value, input: &Input<'_>) -> Option<Outcome> {
    let log: Task = match serde_json::from_value(value) {
        Ok(l) => l,
        Err(e) => {
            return Some(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                format!("not an xo backup log: {e}"),
            ))
        }
    };
    let (status, raw_status) = log.status();
    if status == XoStatus::Pending {
        return None; // still running: the next dump has it finished (or staleness catches it)
    }
    let job = text(log.job_name.as_ref())
        .or_else(|| text(log.job_id.as_ref()))
        .unwrap_or_else(|| input.options.job.clone());
    let mut o = Outcome::new(job, Status::Success);
    o.tool = Some(TOOL.into());
    o.started = millis(log.start.as_ref());
    o.finished = millis(log.end.as_ref());
    if let (Some(s), Some(e)) = (o.started, o.finished) {
        o.duration_s = Some(((e - s).num_milliseconds().max(0)) as f64 / 1000.0);
    }

    let (item_tasks, other_tasks) = split_tasks(&log);
    let mut canceled = false;
    let mut failure_found = false;
    let mut bytes: Option<u64> = None;
    for t in &item_tasks {
        let name = t.item_name();
        let mut w = Walk::default();
        walk(t, 0, &mut w, &format!("{name}: "));
        let (s, raw) = t.status();
        let aborted = w.aborted;
        canceled |= aborted;
        let (status, message) = match s {
            XoStatus::Success if w.warnings.is_empty() => (Status::Success, None),
            XoStatus::Success => (
                Status::Warning,
                w.warnings.first().map(|m| {
                    let prefix = format!("{name}: ");
                    m.strip_prefix(&prefix).unwrap_or(m).to_string()
                }),
            ),
            XoStatus::Skipped => (Status::Warning, w.failure.map(|f| f.1)),
            XoStatus::Failure | XoStatus::Interrupted => {
                failure_found = true;
                let msg = w
                    .failure
                    .map(|f| f.1)
                    .or_else(|| (s == XoStatus::Interrupted).then(|| "interrupted".to_string()));
                let st = if aborted {
                    input.options.canceled.unwrap_or(Status::Failure)
                } else {
                    Status::Failure
                };
                (st, msg)
            }
            XoStatus::Pending => (Status::Unknown, Some("still pending".into())),
            XoStatus::Other => (Status::Unknown, Some(format!("unknown status {raw:?}"))),
        };
        if let Some(m) = message.as_ref().filter(|_| s != XoStatus::Success) {
            let line = format!("{name}: {m}");
            if s == XoStatus::Skipped {
                push(&mut o.warnings, line);
            } else {
                push(&mut o.errors, line);
            }
        }
        for warn in w.warnings {
            push(&mut o.warnings, warn);
        }
        if let Some(b) = w.bytes {
            bytes = Some(bytes.unwrap_or(0).saturating_add(b));
        }
        o.items.push(Item {
            name,
            status,
            bytes: w.bytes,
            message,
        });
    }
    // The root and the non-item tasks (e.g. a metadata or pool-level step).
    let mut w = Walk::default();
    for n in &log.warnings {
        push(
            &mut o.warnings,
            text(n.message.as_ref()).unwrap_or_else(|| "warning".into()),
        );
    }
    for t in &other_tasks {
        walk(t, 1, &mut w, "");
    }
    if let Some(b) = w.bytes {
        bytes = Some(bytes.unwrap_or(0).saturating_add(b));
    }
    for warn in w.warnings {
        push(&mut o.warnings, warn);
    }
    failure_found |= w.failed;
    canceled |= w.aborted || is_abort(log.result.as_ref());
    if let Some((_, m)) = w.failure {
        push(&mut o.errors, m);
    }
    if let Some(m) = log.result.as_ref().and_then(result_message) {
        failure_found |= status == XoStatus::Failure;
        if status == XoStatus::Skipped {
            o.warnings.insert(0, m);
        } else if !o.errors.iter().any(|e| e.ends_with(&m)) {
            o.errors.insert(0, m);
        }
    }
    o.bytes = bytes;

    let items_worst = o
        .items
        .iter()
        .fold(Status::Success, |a, i| a.worst(i.status));
    let mut st = match status {
        XoStatus::Success => Status::Success,
        XoStatus::Skipped => Status::Warning,
        XoStatus::Interrupted => Status::Failure,
        // A failure whose failing attempts were all retried successfully is what its items say.
        XoStatus::Failure if !failure_found && !o.items.is_empty() => items_worst,
        XoStatus::Failure => Status::Failure,
        XoStatus::Pending | XoStatus::Other => {
            o.errors.push(format!("unknown status {raw_status:?}"));
            Status::Unknown
        }
    };
    st = st.worst(items_worst);
    if st == Status::Success && !o.warnings.is_empty() {
        st = Status::Warning;
    }
    if status == XoStatus::Interrupted && o.errors.is_empty() {
        o.errors
            .push("interrupted: the run never finished (xo-server restarted?)".into());
    }
    if canceled && st == Status::Failure {
        st = input.options.canceled.unwrap_or(Status::Failure);
    }
    o.status = st;
    if let Some(mode) = log
        .data
        .as_ref()
        .and_then(|d| text(d.get("mode")))
        .filter(|_| !o.items.is_empty())
    {
        let ok = o
            .items
            .iter()
            .filter(|i| i.status == Status::Success)
            .count();
        o.summary = Some(format!(
            "{mode} backup, {ok} of {} VMs ok{}",
            o.items.len(),
            o.errors
                .first()
                .map(|e| format!(", {e}"))
                .unwrap_or_default()
        ));
    }
    Some(o)
}

fn push(v: &mut Vec<String>, s: String) {
    if v.len() < MAX_MESSAGES {
        v.push(s);
    }
}

#[cfg(test)]
mod tests;
