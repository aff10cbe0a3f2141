//! `pgbackrest info`: the JSON form (`--output=json`: an array of stanzas with `status{code,
//! message,lock}`, `backup[]`, `repo[].status`) and the text form (`stanza: demo` / `status: ok`,
//! `status: error (no valid backups)`, `status: mixed` with one line per repo, then the backups).
//! One outcome per document, one [`Item`] per stanza. Must not do I/O.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::super::common::lines;
use super::super::{Format, Input, Parsed};
use super::TOOL;
use crate::outcome::{Item, Outcome, Status};

/// 2200-01-01T00:00:00Z: later times are not real.
const MAX_EPOCH: i64 = 7_258_118_400;

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

/// Epoch seconds within 1970..=2200 (anything else is not a real backup time).
fn epoch(s: Option<i64>) -> Option<DateTime<Utc>> {
    let s = s?;
    if !(0..=MAX_EPOCH).contains(&s) {
        return None;
    }
    Utc.timestamp_opt(s, 0).single()
}

pub(super) fn parse_json(input: &Input<'_>, json: &[u8]) -> Parsed {
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

// ---------------------------------------------------------------------------------------------
// `pgbackrest info` (text)

/// `stanza: <name>` followed (blank lines aside) by an indented `status: ...` line.
pub(super) fn looks_like_text(head: &[u8]) -> bool {
    let mut stanza = false;
    for (_, l) in lines(head).take(400) {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        if stanza {
            return l.starts_with(' ') && t.starts_with("status: ");
        }
        stanza = l
            .strip_prefix("stanza: ")
            .is_some_and(|name| !name.trim().is_empty());
    }
    false
}

/// One stanza of the text form.
#[derive(Default)]
struct TextStanza {
    name: String,
    status: String,
    repo_errors: Vec<String>,
    last: Option<(String, Option<DateTime<Utc>>)>,
}

/// `2025-06-20 13:28:40+00`, `2025-01-30 23:27:07+01`, `2018-03-12 09:55:51` (old versions: local
/// time, read as UTC), clamped to 1970..=2200.
fn text_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%#z")
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc()))
        .ok()?;
    (0..=MAX_EPOCH).contains(&t.timestamp()).then_some(t)
}

pub(super) fn parse_text(input: &Input<'_>) -> Parsed {
    let mut stanzas: Vec<TextStanza> = Vec::new();
    let mut in_status = false;
    for (_, l) in lines(input.bytes) {
        let t = l.trim();
        if let Some(name) = l.strip_prefix("stanza: ") {
            stanzas.push(TextStanza {
                name: name.trim().to_string(),
                ..TextStanza::default()
            });
            in_status = false;
            continue;
        }
        let Some(s) = stanzas.last_mut() else {
            continue;
        };
        if let Some(st) = t.strip_prefix("status: ").filter(|_| s.status.is_empty()) {
            s.status = st.trim().to_string();
            in_status = true;
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        if in_status && indent > 4 {
            // `repo2: error (no valid backups)` under a `mixed` status
            if let Some((repo, st)) = t.split_once(": ") {
                if !st.starts_with("ok") {
                    s.repo_errors.push(format!("{repo}: {st}"));
                }
            }
            continue;
        }
        in_status = false;
        if let Some((kind, label)) = t.split_once(" backup: ") {
            if matches!(kind, "full" | "diff" | "incr") {
                s.last = Some((format!("{kind} backup {}", label.trim()), None));
            }
        } else if let Some(times) = t.strip_prefix("timestamp start/stop: ") {
            if let (Some(last), Some((_, stop))) = (s.last.as_mut(), times.split_once(" / ")) {
                last.1 = text_time(stop);
            }
        }
    }
    let mut o = Outcome::new(input.options.job.clone(), Status::Success);
    o.tool = Some(TOOL.into());
    let mut oldest_last: Option<DateTime<Utc>> = None;
    for s in stanzas {
        let word = s.status.split_whitespace().next().unwrap_or("");
        let mut status = match word {
            "ok" => Status::Success,
            "mixed" => Status::Warning,
            "error" => Status::Failure,
            _ => Status::Unknown,
        };
        let mut message = match &s.last {
            Some((what, Some(at))) => format!("last {what} at {}", at.format("%Y-%m-%d %H:%M:%SZ")),
            Some((what, None)) => format!("last {what}"),
            None => String::new(),
        };
        if let Some(at) = s.last.as_ref().and_then(|l| l.1) {
            oldest_last = Some(oldest_last.map_or(at, |o| o.min(at)));
        }
        if status != Status::Success {
            let why = if s.repo_errors.is_empty() {
                format!("status {}", s.status)
            } else {
                format!("status {}: {}", s.status, s.repo_errors.join("; "))
            };
            message = join(&why, &message);
            if status == Status::Unknown && s.status.is_empty() {
                status = Status::Unknown;
            }
            let line = format!("{}: {message}", s.name);
            if status == Status::Failure {
                o.errors.push(line);
            } else {
                o.warnings.push(line);
            }
        }
        o.status = o.status.worst(status);
        o.items.push(Item {
            name: s.name,
            status,
            bytes: None,
            message: Some(message).filter(|m| !m.is_empty()),
        });
    }
    if o.items.is_empty() {
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
    o.finished = oldest_last;
    o.summary = Some(match o.items.as_slice() {
        [one] => format!(
            "stanza {}: {}",
            one.name,
            one.message.as_deref().unwrap_or("no backup listed")
        ),
        many => format!(
            "{} stanzas, {} ok",
            many.len(),
            many.iter().filter(|i| i.status == Status::Success).count()
        ),
    });
    Parsed::whole(input, vec![o], Format::Pgbackrest)
}
