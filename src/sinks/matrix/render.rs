//! An outcome as Matrix `m.room.message` content: `msgtype: m.text`, a plain `body` and the
//! same in `org.matrix.custom.html` (`formatted_body`), with `m.mentions: {}` so that nothing in
//! it notifies anyone.
//!
//! Owns: the words and layout (status in words, the colour only beside them), HTML escaping of
//! every outcome text (`& < > " '`), neutralising `@room` (a word joiner after the `@`, for
//! servers older than intentional mentions), and the size limit: Matrix refuses events over
//! 65,536 bytes, so the content (as JSON) is kept within [`MAX_CONTENT_BYTES`], each list cut
//! with `... (+N more)` (at most [`MAX_LINES`] lines each, [`MAX_LINE`] characters a line).
//! Pure: no I/O, no clock.

use serde::Serialize;
use serde_json::json;

use crate::outcome::Outcome;
use crate::sinks::content::{color_hex, cut_chars, emoji, fit_lines_capped, Notice};
use crate::sinks::email::render::escape_html;

/// Most bytes of the content as JSON (the event limit is 65,536 bytes for the whole event,
/// whose envelope the server adds: room, sender, hashes, signatures).
pub const MAX_CONTENT_BYTES: usize = 60_000;
/// Most characters of one line of a list.
pub const MAX_LINE: usize = 300;
/// Most lines shown of each list (errors, items, warnings).
pub const MAX_LINES: usize = 20;
/// Bytes (both forms, as JSON) of each list.
const LIST_BUDGET: usize = 16_000;

/// The `m.room.message` content.
#[derive(Debug, Clone, Serialize)]
pub struct Content {
    /// `m.text`.
    pub msgtype: &'static str,
    /// The plain text.
    pub body: String,
    /// `org.matrix.custom.html` (absent in the plain form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// The HTML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted_body: Option<String>,
    /// Intentional mentions (MSC3952): empty, so nobody is pinged.
    #[serde(rename = "m.mentions")]
    pub mentions: serde_json::Value,
}

/// `text` with `@room` made inert (a word joiner after the `@`).
pub fn defuse(text: &str) -> String {
    if !text.contains("@room") {
        return text.to_string();
    }
    text.replace("@room", "@\u{2060}room")
}

/// HTML-escaped and defused.
fn h(text: &str) -> String {
    escape_html(&defuse(text))
}

/// Size of a list line in both forms, as JSON.
fn line_cost(line: &str) -> usize {
    let json = |s: &str| {
        serde_json::to_string(s)
            .map(|j| j.len())
            .unwrap_or(s.len() * 6)
    };
    json(line) + json(&escape_html(line)) + 12
}

fn list(lines: &[String]) -> Vec<String> {
    let defused: Vec<String> = lines
        .iter()
        .map(|l| cut_chars(&defuse(l), MAX_LINE))
        .collect();
    fit_lines_capped(&defused, MAX_LINES, LIST_BUDGET, usize::MAX, 1, line_cost)
}

/// The content of the message for `n`.
pub fn content(n: &Notice) -> Content {
    let items = list(&n.items);
    let errors = list(&n.errors);
    let warnings = list(&n.warnings);
    // Plain text.
    let mut body = format!("{}\n", defuse(&n.title));
    if let Some(s) = &n.summary {
        body.push_str(&defuse(s));
        body.push('\n');
    }
    for (label, value) in &n.facts {
        body.push_str(&format!("{label}: {}\n", defuse(value)));
    }
    for (name, lines) in [
        ("Items", &items),
        ("Errors", &errors),
        ("Warnings", &warnings),
    ] {
        if !lines.is_empty() {
            body.push_str(&format!("{name}:\n"));
            for l in lines {
                body.push_str(&format!("- {l}\n"));
            }
        }
    }
    body.push_str(&format!("reported by {}", defuse(&n.agent)));
    // HTML.
    let mut html = format!(
        "<h4>{} {} <font color=\"{}\">{}</font> on {}</h4>",
        emoji(n.status),
        h(&n.job),
        color_hex(n.status),
        h(n.status_words),
        h(&n.host)
    );
    if let Some(s) = &n.summary {
        html.push_str(&format!("<p>{}</p>", h(s)));
    }
    html.push_str("<ul>");
    for (label, value) in &n.facts {
        html.push_str(&format!("<li><b>{label}:</b> {}</li>", h(value)));
    }
    html.push_str("</ul>");
    if !items.is_empty() {
        html.push_str("<p><b>Items</b></p><ul>");
        for l in &items {
            html.push_str(&format!("<li>{}</li>", escape_html(l)));
        }
        html.push_str("</ul>");
    }
    for (name, lines) in [("Errors", &errors), ("Warnings", &warnings)] {
        if !lines.is_empty() {
            let text: Vec<String> = lines.iter().map(|l| escape_html(l)).collect();
            html.push_str(&format!(
                "<p><b>{name}</b></p><pre><code>{}</code></pre>",
                text.join("\n")
            ));
        }
    }
    html.push_str(&format!("<p><sub>reported by {}</sub></p>", h(&n.agent)));
    Content {
        msgtype: "m.text",
        body,
        format: Some("org.matrix.custom.html"),
        formatted_body: Some(html),
        mentions: json!({}),
    }
}

/// The plain form, sent once after a refusal: the headline only, no HTML.
pub fn plain(n: &Notice) -> Content {
    Content {
        msgtype: "m.text",
        body: defuse(&n.headline),
        format: None,
        formatted_body: None,
        mentions: json!({}),
    }
}

/// The JSON of the message for `o` (or its plain form), always within
/// [`MAX_CONTENT_BYTES`].
pub fn render(o: &Outcome, agent: &str, plain_form: bool) -> Vec<u8> {
    let n = Notice::from_outcome(o, agent);
    let c = if plain_form { plain(&n) } else { content(&n) };
    let bytes = serde_json::to_vec(&c).unwrap_or_default();
    if bytes.len() > MAX_CONTENT_BYTES {
        // Huge names or summaries: the headline, cut.
        let mut c = plain(&n);
        c.body = c.body.chars().take(MAX_CONTENT_BYTES / 8).collect();
        return serde_json::to_vec(&c).unwrap_or_default();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn outcome() -> Outcome {
        serde_json::from_value(json!({
            "job": "nightly-db", "host": "db01", "status": "failure", "tool": "restic",
            "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
            "bytes": 1234567,
            "items": [{"name": "ok1", "status": "success"}, {"name": "bad", "status": "failure", "message": "I/O error"}],
            "summary": "disk full", "errors": ["open /srv/x: permission denied"]
        }))
        .unwrap()
    }

    #[test]
    fn matrix_message_says_everything_in_both_forms() {
        let v: Value = serde_json::from_slice(&render(&outcome(), "backup01", false)).unwrap();
        assert_eq!(v["msgtype"], "m.text");
        assert_eq!(v["format"], "org.matrix.custom.html");
        assert_eq!(v["m.mentions"], json!({}));
        let body = v["body"].as_str().unwrap();
        for want in [
            "❌ nightly-db FAILED on db01",
            "disk full",
            "Status: FAILED (CRITICAL)",
            "Finished: 2026-11-24 02:03:10 UTC",
            "Duration: 3m 10s",
            "Size: 1.2 MiB",
            "Items:\n- bad: failure, I/O error\n- ok1: success",
            "Errors:\n- open /srv/x: permission denied",
            "reported by backup01",
        ] {
            assert!(body.contains(want), "{want:?} not in {body}");
        }
        let html = v["formatted_body"].as_str().unwrap();
        assert!(html
            .starts_with("<h4>❌ nightly-db <font color=\"#E01E5A\">FAILED</font> on db01</h4>"));
        assert!(html.contains("<pre><code>open /srv/x: permission denied</code></pre>"));
        let p: Value = serde_json::from_slice(&render(&outcome(), "backup01", true)).unwrap();
        assert_eq!(p["body"], "[CRITICAL] nightly-db on db01: disk full");
        assert!(p.get("formatted_body").is_none());
    }

    #[test]
    fn matrix_hostile_error_line_is_escaped_and_inert() {
        let mut o = outcome();
        let hostile = format!(
            "@room @everyone </code></pre><script>x</script><a href=\"javascript:x\">y</a> & **b** {}",
            "<>&\"'*_`[]()#@room\\".repeat(300)
        );
        o.errors = vec![hostile; 3];
        o.job = "<b>job</b>".into();
        let bytes = render(&o, "a", false);
        assert!(bytes.len() <= MAX_CONTENT_BYTES);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let html = v["formatted_body"].as_str().unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("<a href"),
            "{html}"
        );
        assert!(!html.contains("<b>job</b>"));
        assert_eq!(html.matches("</code></pre>").count(), 1, "{html}");
        for text in [html, v["body"].as_str().unwrap()] {
            assert!(!text.contains("@room"), "{text}");
        }
    }

    #[test]
    fn matrix_lists_are_cut_within_the_event_limit() {
        let mut o = outcome();
        o.errors = (0..10_000).map(|i| format!("error {i}")).collect();
        o.warnings = (0..10_000)
            .map(|i| format!("warning {i} {}", "é".repeat(400)))
            .collect();
        o.items = (0..5000)
            .map(|i| crate::outcome::Item {
                name: format!("vm{i}"),
                status: crate::outcome::Status::Failure,
                bytes: None,
                message: Some("<&>".repeat(200)),
            })
            .collect();
        let bytes = render(&o, "a", false);
        assert!(bytes.len() <= MAX_CONTENT_BYTES, "{}", bytes.len());
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let body = v["body"].as_str().unwrap();
        assert!(body.contains("- error 19\n- ... (+9980 more)"), "{body}");
        let items = body.matches("- vm").count();
        assert!(
            body.contains(&format!("- ... (+{} more)", 5000 - items)),
            "{body}"
        );
        let shown = body.matches("- warning ").count();
        assert!(shown < 20, "{shown}");
        assert!(
            body.contains(&format!("- ... (+{} more)", 10_000 - shown)),
            "{body}"
        );
        // A huge summary falls back to the cut headline.
        let mut o = outcome();
        o.summary = Some("s".repeat(200_000));
        assert!(render(&o, "a", false).len() <= MAX_CONTENT_BYTES);
    }
}
