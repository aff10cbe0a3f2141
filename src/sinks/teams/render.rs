//! The Teams message: an Adaptive Card 1.4 in the Bot Framework `message` envelope that a
//! Workflows webhook ("Post to a channel when a webhook request is received") posts as is.
//!
//! Owns: [`card`] (title in the status colour, the summary, one row per fact, items problems
//! first, errors, warnings, a footer) and [`plain_card`] (the headline alone, sent once after
//! a refusal), within [`MAX_BYTES`] of serialized JSON. Text from the outcome only ever goes
//! into `TextRun`s of `RichTextBlock`s, which Adaptive Cards never read as Markdown, with
//! `{{` broken so that no `{{DATE(...)}}` function runs; `TextBlock` and `Fact` (which read
//! Markdown) carry only our own words. Pure: no I/O, no clock.

use serde_json::{json, Value};

use crate::outcome::Status;
use crate::sinks::content::{escape_commonmark, fit_lines, shorten, Notice};

/// The largest request body: Microsoft documents "The message size limit is 28 KB"; counted
/// here as 28,000 bytes of JSON, below both readings of "KB".
pub const MAX_BYTES: usize = 28_000;

/// The Adaptive Card schema version sent (Teams renders up to 1.5; Workflows examples use 1.4).
pub const VERSION: &str = "1.4";

/// Longest line of an item, error or warning (characters).
const MAX_LINE: usize = 300;

/// `Good`, `Warning`, `Attention` or `Default`: the TextRun colour of a status.
pub fn color(status: Status) -> &'static str {
    match status {
        Status::Success => "Good",
        Status::Warning => "Warning",
        Status::Failure => "Attention",
        Status::Unknown => "Default",
    }
}

/// `text` safe for a `TextRun`: `{{` (the start of a date/time function) broken by a zero-width
/// space, and control characters other than newline dropped.
pub fn run_text(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    clean.replace("{{", "{\u{200B}{")
}

/// `text` safe for a Markdown `TextBlock`: [`escape_commonmark`] of [`run_text`].
pub fn escape_markdown(text: &str) -> String {
    escape_commonmark(&run_text(text))
}

fn run(text: &str) -> Value {
    json!({"type": "TextRun", "text": run_text(text)})
}

/// A `RichTextBlock` of one run with `style` (extra TextRun properties).
fn rich(text: &str, style: Value, spacing: Option<&str>) -> Value {
    let mut r = run(text);
    if let (Some(r), Some(style)) = (r.as_object_mut(), style.as_object()) {
        for (k, v) in style {
            r.insert(k.clone(), v.clone());
        }
    }
    let mut block = json!({"type": "RichTextBlock", "inlines": [r]});
    if let Some(s) = spacing {
        block["spacing"] = json!(s);
    }
    block
}

/// One fact as a row: the label (bold, ours) and the value (the outcome's).
fn fact_row(label: &str, value: &str) -> Value {
    json!({
        "type": "ColumnSet",
        "spacing": "None",
        "columns": [
            {"type": "Column", "width": "90px",
             "items": [rich(label, json!({"weight": "Bolder"}), None)]},
            {"type": "Column", "width": "stretch",
             "items": [rich(&shorten(value, MAX_LINE, |s| s.chars().count()), json!({}), None)]}
        ]
    })
}

/// A titled list (items, errors, warnings): a heading, then one block per line, monospace for
/// errors and warnings.
fn section(
    heading: &str,
    lines: &[String],
    cap: usize,
    heading_color: &str,
    mono: bool,
) -> Vec<Value> {
    if lines.is_empty() {
        return Vec::new();
    }
    let shown = fit_lines(lines, cap, usize::MAX, 0, |_| 1);
    let mut out = vec![rich(
        &format!("{heading} ({})", lines.len()),
        json!({"weight": "Bolder", "color": heading_color}),
        Some("Medium"),
    )];
    for l in shown {
        let l = shorten(&l, MAX_LINE, |s| s.chars().count());
        let style = if mono {
            json!({"fontType": "Monospace"})
        } else {
            json!({})
        };
        out.push(rich(&l, style, Some("None")));
    }
    out
}

fn envelope(body: Vec<Value>) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": VERSION,
                "msteams": {"width": "Full"},
                "body": body
            }
        }]
    })
}

fn card_with(n: &Notice, caps: (usize, usize, usize)) -> Vec<u8> {
    let (item_cap, error_cap, warning_cap) = caps;
    let mut body = vec![rich(
        &shorten(&n.title, 200, |s| s.chars().count()),
        json!({"weight": "Bolder", "size": "Medium", "color": color(n.status)}),
        None,
    )];
    if let Some(s) = &n.summary {
        body.push(rich(
            &shorten(s, 1000, |s| s.chars().count()),
            json!({}),
            Some("Small"),
        ));
    }
    for (label, value) in &n.facts {
        body.push(fact_row(label, value));
    }
    let problem = match n.status {
        Status::Success => "Default",
        _ => "Attention",
    };
    body.extend(section("Errors", &n.errors, error_cap, "Attention", true));
    body.extend(section("Items", &n.items, item_cap, problem, false));
    body.extend(section(
        "Warnings",
        &n.warnings,
        warning_cap,
        "Warning",
        true,
    ));
    body.push(rich(
        &format!("reported by nagbridge on {}", n.agent),
        json!({"size": "Small", "isSubtle": true}),
        Some("Medium"),
    ));
    serde_json::to_vec(&envelope(body)).unwrap_or_default()
}

/// The card of `n` within [`MAX_BYTES`]: at most 20 items, 20 errors and 10 warnings of at
/// most 300 characters each; when that is still too big, fewer (each list ends with
/// `... (+N more)`).
pub fn card(n: &Notice) -> Vec<u8> {
    let mut caps = (20usize, 20usize, 10usize);
    loop {
        let body = card_with(n, caps);
        if body.len() <= MAX_BYTES || caps == (0, 0, 0) {
            return body;
        }
        caps = (caps.0 / 2, caps.1 / 2, caps.2 / 2);
    }
}

/// The plain form, sent once after the card was refused: a card with one Markdown-free
/// `TextBlock` (the headline, escaped) and the counts.
pub fn plain_card(n: &Notice) -> Vec<u8> {
    let mut text = shorten(&n.headline, 1000, |s| s.chars().count());
    if !n.errors.is_empty() {
        text.push_str(&format!(" ({} errors)", n.errors.len()));
    }
    let body = vec![json!({"type": "TextBlock", "text": escape_markdown(&text), "wrap": true})];
    serde_json::to_vec(&envelope(body)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn notice(errors: Vec<String>) -> Notice {
        let mut o: Outcome = serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z","bytes":1234567,
            "items":[{"name":"vm-101","status":"success"},{"name":"vm-102","status":"failure","message":"I/O error"}],
            "summary":"disk full","source":"/var/log/my_backup_job.log"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    fn texts(v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                if let (Some(t), Some(Value::String(s))) = (m.get("type"), m.get("text")) {
                    out.push((t.as_str().unwrap_or("").to_string(), s.clone()));
                }
                m.values().for_each(|x| texts(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
            _ => {}
        }
    }

    #[test]
    fn teams_card_says_everything_in_words_in_runs() {
        let body = card(&notice(vec!["open /srv/x: permission denied".into()]));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["version"], "1.4");
        let mut t = Vec::new();
        texts(&v, &mut t);
        let all: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(all[0], "❌ nightly-db FAILED on db01");
        assert_eq!(a["content"]["body"][0]["inlines"][0]["color"], "Attention");
        for want in [
            "disk full",
            "Status",
            "FAILED (CRITICAL)",
            "Host",
            "2026-11-24 02:03:10 UTC",
            "3m 10s",
            "1.2 MiB",
            "/var/log/my_backup_job.log",
            "Errors (1)",
            "open /srv/x: permission denied",
            "Items (2)",
            "vm-102: failure, I/O error",
            "reported by nagbridge on backup01",
        ] {
            assert!(all.contains(&want), "{want} not in {all:?}");
        }
        // Problems first.
        let bad = all.iter().position(|s| s.starts_with("vm-102")).unwrap();
        let good = all.iter().position(|s| s.starts_with("vm-101")).unwrap();
        assert!(bad < good);
        // Only TextRuns carry text: nothing is read as Markdown.
        assert!(t.iter().all(|(k, _)| k == "TextRun"), "{t:?}");
    }

    #[test]
    fn teams_hostile_lines_stay_text_and_the_card_fits() {
        let hostile = format!(
            "@everyone **bold** _x_ [link](http://evil.example) <at>all</at> {{{{DATE(2017-02-14T06:08:00Z, SHORT)}}}} {}",
            "*_`#|<>&\\".repeat(600)
        );
        assert!(hostile.chars().count() >= 5000);
        let errors: Vec<String> = (0..500).map(|_| hostile.clone()).collect();
        let body = card(&notice(errors));
        assert!(body.len() <= MAX_BYTES, "{}", body.len());
        let v: Value = serde_json::from_slice(&body).unwrap();
        let mut t = Vec::new();
        texts(&v, &mut t);
        assert!(t.iter().all(|(k, _)| k == "TextRun"));
        let all: Vec<&String> = t.iter().map(|(_, s)| s).collect();
        assert!(all
            .iter()
            .any(|s| s.starts_with("... (+") && s.ends_with(" more)")));
        assert!(
            all.iter().all(|s| !s.contains("{{")),
            "date functions broken"
        );
        assert!(all.iter().all(|s| s.chars().count() <= 300 + 20));
        // A huge job name, summary and host are cut too.
        let mut o: Outcome = serde_json::from_str(r#"{"job":"j","status":"failure"}"#).unwrap();
        o.job = "j".repeat(50_000);
        o.host = Some("h".repeat(50_000));
        o.summary = Some("s".repeat(50_000));
        o.errors = vec!["e".repeat(50_000); 1000];
        o.items = (0..5000)
            .map(|i| crate::outcome::Item {
                name: format!("vm{i}{}", "n".repeat(500)),
                status: Status::Failure,
                bytes: None,
                message: Some("m".repeat(1000)),
            })
            .collect();
        let body = card(&Notice::from_outcome(&o, "a"));
        assert!(body.len() <= MAX_BYTES, "{}", body.len());
    }

    #[test]
    fn teams_plain_card_escapes_markdown() {
        let mut n = notice(vec!["x".into()]);
        n.headline = "[CRITICAL] **db** _x_ [a](b) on h".into();
        let v: Value = serde_json::from_slice(&plain_card(&n)).unwrap();
        let text = v["attachments"][0]["content"]["body"][0]["text"]
            .as_str()
            .unwrap();
        assert_eq!(
            text,
            "\\[CRITICAL\\] \\*\\*db\\*\\* \\_x\\_ \\[a\\](b) on h (1 errors)"
        );
        assert_eq!(escape_markdown("{{DATE(x)}}"), "{\u{200B}{DATE(x)}}");
        assert_eq!(escape_markdown("1. a"), "1\\. a");
        assert_eq!(escape_markdown("- a <b> & c"), "\\- a \\<b\\> \\& c");
    }
}
