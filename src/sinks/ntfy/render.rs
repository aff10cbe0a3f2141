//! The ntfy message, published as JSON (`POST` to the server's root with `topic` in the body):
//! `title` (the job, the status in words, the host), `message` (plain text: the summary, one
//! `Label: value` line per fact, errors, items problems first, warnings), `priority` and
//! `tags` by status (the tags' emoji short-codes show before the title).
//!
//! Owns: [`publish`] and [`plain`] (title and headline only, sent once after a refusal), the
//! message within [`MAX_BYTES`] of UTF-8 (longer messages become attachments on ntfy), and the
//! priorities and tags. Nothing is interpreted: `markdown` is never set, so the text shows as
//! written. Pure: no I/O.

use serde_json::json;

use crate::outcome::Status;
use crate::sinks::content::{emoji, fit_lines, shorten, Notice};

/// ntfy's "maximum message size (4,096 bytes)": a longer body is turned into an attachment.
pub const MAX_BYTES: usize = 4096;

/// Longest line of an item, error or warning (characters).
const MAX_LINE: usize = 300;

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The ntfy priority of a status (1 min .. 5 max/urgent).
pub fn priority(status: Status) -> u8 {
    match status {
        Status::Success => 2,
        Status::Warning => 4,
        Status::Failure => 5,
        Status::Unknown => 4,
    }
}

/// The tags of a status: an emoji short-code (shown before the title) and the status word.
pub fn tags(status: Status) -> [&'static str; 2] {
    match status {
        Status::Success => ["white_check_mark", "success"],
        Status::Warning => ["warning", "warning"],
        Status::Failure => ["rotating_light", "failure"],
        Status::Unknown => ["grey_question", "unknown"],
    }
}

/// Control characters but newline and tab dropped.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// The title: the notice's title without its emoji (the tag shows one).
pub fn title(n: &Notice) -> String {
    let t = n.title.trim_start_matches(emoji(n.status)).trim_start();
    clean(&shorten(t, 200, chars)).replace('\n', " ")
}

fn message_with(n: &Notice, caps: (usize, usize, usize)) -> String {
    let (item_cap, error_cap, warning_cap) = caps;
    let mut parts: Vec<String> = Vec::new();
    if let Some(s) = &n.summary {
        parts.push(shorten(s, 1000, chars));
    }
    let facts: Vec<String> = n
        .facts
        .iter()
        .map(|(l, v)| format!("{l}: {}", shorten(v, MAX_LINE, chars)))
        .collect();
    parts.push(facts.join("\n"));
    for (heading, lines, cap) in [
        ("Errors", &n.errors, error_cap),
        ("Items", &n.items, item_cap),
        ("Warnings", &n.warnings, warning_cap),
    ] {
        if lines.is_empty() {
            continue;
        }
        let shown: Vec<String> = fit_lines(lines, cap, usize::MAX, 0, |_| 1)
            .iter()
            .map(|l| shorten(l, MAX_LINE, chars))
            .collect();
        parts.push(format!(
            "{heading} ({}):\n{}",
            lines.len(),
            shown.join("\n")
        ));
    }
    parts.push(format!("reported by nagbridge on {}", n.agent));
    clean(&parts.join("\n\n"))
}

/// The message text of `n` within [`MAX_BYTES`]: at most 20 items, 20 errors and 10 warnings
/// of at most 300 characters each, fewer when that is still too long (each list then ends with
/// `... (+N more)`); cut at the limit as a last resort.
pub fn message(n: &Notice) -> String {
    let mut caps = (20usize, 20usize, 10usize);
    loop {
        let m = message_with(n, caps);
        if m.len() <= MAX_BYTES {
            return m;
        }
        if caps == (0, 0, 0) {
            return shorten(&m, MAX_BYTES, str::len);
        }
        caps = (caps.0 / 2, caps.1 / 2, caps.2 / 2);
    }
}

/// The JSON publish request of `n` to `topic`.
pub fn publish(topic: &str, n: &Notice) -> Vec<u8> {
    let v = json!({
        "topic": topic,
        "title": title(n),
        "message": message(n),
        "priority": priority(n.status),
        "tags": tags(n.status),
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The plain form: the headline as the message, with the title, priority and no tags.
pub fn plain(topic: &str, n: &Notice) -> Vec<u8> {
    let mut text = shorten(&n.headline, 1000, chars);
    if !n.errors.is_empty() {
        text.push_str(&format!(" ({} errors)", n.errors.len()));
    }
    let v = json!({
        "topic": topic,
        "title": title(n),
        "message": clean(&text),
        "priority": priority(n.status),
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use serde_json::Value;

    fn notice(errors: Vec<String>) -> Notice {
        let mut o: Outcome = serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z","bytes":1234567,
            "items":[{"name":"vm-101","status":"success"},{"name":"vm-102","status":"failure","message":"I/O error"}],
            "summary":"disk full"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    #[test]
    fn ntfy_publish_by_status() {
        let v: Value =
            serde_json::from_slice(&publish("backups", &notice(vec!["e1".into()]))).unwrap();
        assert_eq!(v["topic"], "backups");
        assert_eq!(v["title"], "nightly-db FAILED on db01");
        assert_eq!(v["priority"], 5);
        assert_eq!(v["tags"], json!(["rotating_light", "failure"]));
        assert!(v.get("markdown").is_none());
        assert_eq!(
            v["message"],
            "disk full\n\nStatus: FAILED (CRITICAL)\nHost: db01\nFinished: 2026-11-24 02:03:10 UTC\n\
             Duration: 3m 10s\nSize: 1.2 MiB\nTool: restic\n\nErrors (1):\ne1\n\n\
             Items (2):\nvm-102: failure, I/O error\nvm-101: success\n\nreported by nagbridge on backup01"
        );
        assert_eq!(
            (priority(Status::Success), tags(Status::Success)[0]),
            (2, "white_check_mark")
        );
        assert_eq!(
            (priority(Status::Warning), tags(Status::Warning)[0]),
            (4, "warning")
        );
    }

    #[test]
    fn ntfy_hostile_lines_fit_4096_bytes() {
        let hostile = format!(
            "@everyone **b** <b>x</b> [l](http://e) {}",
            "*<>&é😀".repeat(900)
        );
        assert!(hostile.chars().count() >= 5000);
        let mut n = notice(vec![hostile.clone(); 200]);
        n.summary = Some(hostile.clone());
        let m = message(&n);
        assert!(m.len() <= MAX_BYTES, "{}", m.len());
        assert!(m.contains("... (+"));
        let v: Value = serde_json::from_slice(&plain("t", &n)).unwrap();
        assert!(v["message"].as_str().unwrap().len() <= MAX_BYTES);
    }
}
