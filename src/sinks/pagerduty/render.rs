//! PagerDuty Events API v2 events for an outcome: a `trigger` for a warning (severity
//! `warning`), a failure or an unknown result (severity `error`), a `resolve` for a success,
//! all with the dedup key `<host>/<job>` so that the next good run closes the alert.
//!
//! Owns: the event JSON and PagerDuty's documented limits, enforced before sending: `dedup_key`
//! at most 255 characters (a longer key keeps its start and ends with a hash of the whole key,
//! so it stays the same for the trigger and the resolve), `payload.summary` at most 1,024
//! characters, and the whole event within 512 KB (the error, warning and item lists in
//! `custom_details` are cut with `... (+N more)`, each line at most 4,096 characters). The plain
//! form (sent once after a refusal) has no `custom_details`. Nothing is interpreted by
//! PagerDuty (plain text in JSON), so nothing needs escaping beyond JSON's own. Pure: no I/O,
//! no clock.

use serde::Serialize;

use crate::outcome::{Outcome, Status};
use crate::sinks::content::{cut_chars, fit_lines, iso_time, Notice};

/// Most characters of `dedup_key`.
pub const MAX_DEDUP_KEY: usize = 255;
/// Most characters of `payload.summary`.
pub const MAX_SUMMARY: usize = 1024;
/// Most bytes of one event (PagerDuty: "payloads are limited to 512 KB"; read as the smaller
/// 512,000).
pub const MAX_EVENT_BYTES: usize = 512_000;
/// Most characters of one error, warning or item line in `custom_details`.
pub const MAX_LINE: usize = 4096;
/// Bytes (as JSON) of the error lines in `custom_details`.
const ERRORS_BUDGET: usize = 300_000;
/// Bytes (as JSON) of the item lines.
const ITEMS_BUDGET: usize = 100_000;
/// Bytes (as JSON) of the warning lines.
const WARNINGS_BUDGET: usize = 60_000;

/// What the event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Open (or add to) the alert of this job.
    Trigger,
    /// Close it.
    Resolve,
}

/// The action and severity of a status: success resolves, the rest trigger.
pub fn action(status: Status) -> (Action, &'static str) {
    match status {
        Status::Success => (Action::Resolve, "info"),
        Status::Warning => (Action::Trigger, "warning"),
        Status::Failure | Status::Unknown => (Action::Trigger, "error"),
    }
}

#[derive(Serialize)]
struct Event<'a> {
    routing_key: &'a str,
    event_action: Action,
    dedup_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'static str>,
}

#[derive(Serialize)]
struct Payload {
    summary: String,
    source: String,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_details: Option<Details>,
}

/// `custom_details`: the facts by name, then the lists.
#[derive(Serialize)]
struct Details {
    status: String,
    host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    reported_by: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// The dedup key of a notice: `<host>/<job>`, or, past 255 characters, its first 238
/// characters, `~` and 16 hex digits of the XXH3 hash of the whole key (stable across runs and
/// versions, so the resolve finds the trigger).
pub fn dedup_key(key: &str) -> String {
    if key.chars().count() <= MAX_DEDUP_KEY {
        return key.to_string();
    }
    let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    let head: String = key.chars().take(MAX_DEDUP_KEY - 17).collect();
    format!("{head}~{hash:016x}")
}

/// `payload.summary`: `nightly-db FAILED on db01: disk full` (the status in words), at most
/// 1,024 characters.
pub fn summary(n: &Notice) -> String {
    let mut s = format!("{} {} on {}", n.job, n.status_words, n.host);
    if let Some(sum) = &n.summary {
        s.push_str(": ");
        s.push_str(sum);
    }
    // One line: PagerDuty shows the summary as a title.
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut_chars(&one, MAX_SUMMARY)
}

/// JSON size of a line in a list.
fn json_len(s: &str) -> usize {
    serde_json::to_string(s)
        .map(|j| j.len())
        .unwrap_or(s.len() * 6 + 2)
}

fn fact(n: &Notice, label: &str) -> Option<String> {
    n.facts
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, v)| v.clone())
}

fn details(n: &Notice, o: &Outcome) -> Details {
    let fit = |lines: &[String], budget: usize| {
        let cut: Vec<String> = lines.iter().map(|l| cut_chars(l, MAX_LINE)).collect();
        fit_lines(&cut, budget, usize::MAX, 1, json_len)
    };
    Details {
        status: fact(n, "Status").unwrap_or_else(|| n.status_words.to_string()),
        host: n.host.clone(),
        finished: fact(n, "Finished"),
        duration: fact(n, "Duration"),
        size: fact(n, "Size"),
        files: fact(n, "Files"),
        tool: fact(n, "Tool"),
        log: o.source.clone().filter(|s| !s.is_empty()),
        summary: n.summary.clone(),
        reported_by: n.agent.clone(),
        items: fit(&n.items, ITEMS_BUDGET),
        errors: fit(&n.errors, ERRORS_BUDGET),
        warnings: fit(&n.warnings, WARNINGS_BUDGET),
    }
}

/// The event for `o` reported by `agent`, with `custom_details` (`plain = false`) or without.
/// Always within [`MAX_EVENT_BYTES`]: when the full event would not fit, the plain one is
/// returned.
pub fn event(routing_key: &str, o: &Outcome, agent: &str, plain: bool) -> Vec<u8> {
    let n = Notice::from_outcome(o, agent);
    let (event_action, severity) = action(o.status);
    let payload = (event_action == Action::Trigger).then(|| Payload {
        summary: summary(&n),
        source: cut_chars(&n.host, MAX_SUMMARY),
        severity,
        timestamp: n.finished.map(iso_time),
        component: Some(cut_chars(&n.job, MAX_SUMMARY)),
        group: (!plain).then(|| cut_chars(agent, MAX_SUMMARY)),
        class: (!plain).then(|| match o.tool.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("backup ({})", cut_chars(t, 100)),
            None => "backup".to_string(),
        }),
        custom_details: (!plain).then(|| details(&n, o)),
    });
    let e = Event {
        routing_key,
        event_action,
        dedup_key: dedup_key(&n.key),
        payload,
        client: Some("nagbridge"),
    };
    // Only strings and lists of strings: serializing cannot fail.
    let bytes = serde_json::to_vec(&e).unwrap_or_default();
    if bytes.len() > MAX_EVENT_BYTES && !plain {
        return event(routing_key, o, agent, true);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn outcome(status: &str) -> Outcome {
        serde_json::from_value(serde_json::json!({
            "job": "nightly-db", "host": "db01", "status": status, "tool": "restic",
            "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
            "bytes": 1234567, "files": 4200,
            "items": [{"name": "ok1", "status": "success"}, {"name": "bad", "status": "failure", "message": "I/O error"}],
            "summary": "disk full", "errors": ["open /srv/x: permission denied"]
        }))
        .unwrap()
    }

    fn json(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn pagerduty_failure_triggers_with_every_fact() {
        let v = json(&event("K", &outcome("failure"), "backup01", false));
        assert_eq!(v["routing_key"], "K");
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "db01/nightly-db");
        let p = &v["payload"];
        assert_eq!(p["summary"], "nightly-db FAILED on db01: disk full");
        assert_eq!(p["source"], "db01");
        assert_eq!(p["severity"], "error");
        assert_eq!(p["timestamp"], "2026-11-24T02:03:10Z");
        assert_eq!(p["component"], "nightly-db");
        assert_eq!(p["group"], "backup01");
        assert_eq!(p["class"], "backup (restic)");
        let d = &p["custom_details"];
        assert_eq!(d["status"], "FAILED (CRITICAL)");
        assert_eq!(d["finished"], "2026-11-24 02:03:10 UTC");
        assert_eq!(d["duration"], "3m 10s");
        assert_eq!(d["size"], "1.2 MiB");
        assert_eq!(d["items"][0], "bad: failure, I/O error");
        assert_eq!(d["errors"][0], "open /srv/x: permission denied");
        assert_eq!(v["client"], "nagbridge");
    }

    #[test]
    fn pagerduty_warning_triggers_warning_and_success_resolves() {
        let v = json(&event("K", &outcome("warning"), "a", false));
        assert_eq!(
            (
                v["event_action"].as_str(),
                v["payload"]["severity"].as_str()
            ),
            (Some("trigger"), Some("warning"))
        );
        assert!(v["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("finished with warnings"));
        let v = json(&event("K", &outcome("unknown"), "a", false));
        assert_eq!(v["payload"]["severity"], "error");
        let v = json(&event("K", &outcome("success"), "a", false));
        assert_eq!(v["event_action"], "resolve");
        assert_eq!(v["dedup_key"], "db01/nightly-db");
        assert!(v.get("payload").is_none(), "{v}");
    }

    #[test]
    fn pagerduty_plain_form_has_no_details() {
        let v = json(&event("K", &outcome("failure"), "a", true));
        let p = v["payload"].as_object().unwrap();
        assert!(p.get("custom_details").is_none());
        for k in ["summary", "source", "severity"] {
            assert!(p.contains_key(k), "{k}");
        }
    }

    #[test]
    fn pagerduty_limits_are_enforced_before_sending() {
        let mut o = outcome("failure");
        o.job = "j".repeat(300);
        o.summary = Some(format!("{}\nsecond line", "s".repeat(2000)));
        o.errors = (0..5000)
            .map(|i| format!("error {i} {}", "x".repeat(200)))
            .collect();
        o.errors.push("y".repeat(100_000));
        o.items = (0..20_000)
            .map(|i| crate::outcome::Item {
                name: format!("vm{i}"),
                status: Status::Failure,
                bytes: None,
                message: Some("z".repeat(50)),
            })
            .collect();
        let bytes = event("K", &o, "a", false);
        assert!(bytes.len() <= MAX_EVENT_BYTES, "{}", bytes.len());
        let v = json(&bytes);
        let key = v["dedup_key"].as_str().unwrap();
        assert_eq!(key.chars().count(), MAX_DEDUP_KEY);
        assert_eq!(key, dedup_key(&format!("db01/{}", o.job)), "stable");
        let p = &v["payload"];
        let s = p["summary"].as_str().unwrap();
        assert_eq!(s.chars().count(), MAX_SUMMARY);
        assert!(!s.contains('\n'));
        let errors = p["custom_details"]["errors"].as_array().unwrap();
        let last = errors.last().unwrap().as_str().unwrap();
        assert!(
            last.starts_with("... (+") && last.ends_with(" more)"),
            "{last}"
        );
        let items = p["custom_details"]["items"].as_array().unwrap();
        assert!(items
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("... (+"));
        // Two keys that differ only after 238 characters stay apart.
        let a = dedup_key(&format!("{}a", "k".repeat(300)));
        let b = dedup_key(&format!("{}b", "k".repeat(300)));
        assert_ne!(a, b);
        assert_eq!(dedup_key("h/j"), "h/j");
    }

    #[test]
    fn pagerduty_hostile_error_line_stays_one_json_string() {
        let mut o = outcome("failure");
        let hostile = format!(
            "@everyone <script>alert(1)</script> **bold** `code` \"}}, \"routing_key\": \"x\" {}",
            "&<>*_~|[]()#\\\"".repeat(350)
        );
        o.errors = vec![hostile.clone()];
        let v = json(&event("K", &o, "a", false));
        assert_eq!(v["routing_key"], "K");
        let line = v["payload"]["custom_details"]["errors"][0]
            .as_str()
            .unwrap();
        assert!(hostile.starts_with(line.trim_end_matches('…')));
        assert!(line.chars().count() <= MAX_LINE);
    }
}
