//! The Gotify message: `title`, `message` in Markdown (shown formatted by the web UI and the
//! Android app through `extras.client::display.contentType = text/markdown`), `priority` by
//! status.
//!
//! Owns: [`message`] and [`plain`] (plain text, no Markdown extras, sent once after a
//! refusal), within [`MAX_BYTES`] (Gotify has no documented limit; this keeps a notification
//! readable), and the escaping: text from the outcome outside a code block is escaped with
//! [`escape_commonmark`] (no emphasis, link, image, raw HTML, entity, heading or list can
//! form), errors and warnings go into fenced code blocks whose fence is longer than any
//! backtick run inside. Pure: no I/O.

use serde_json::json;

use crate::outcome::Status;
use crate::sinks::content::{escape_commonmark, fit_lines, shorten, Notice};

/// Largest message text (bytes).
pub const MAX_BYTES: usize = 16_000;

/// Longest line of an item, error or warning (characters).
const MAX_LINE: usize = 300;

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The Gotify priority of a status (clients: 0 silent, 1-3 low, 4-7 normal, 8-10 high).
pub fn priority(status: Status) -> u8 {
    match status {
        Status::Success => 2,
        Status::Warning => 5,
        Status::Failure => 8,
        Status::Unknown => 5,
    }
}

/// `text` as literal Markdown: [`escape_commonmark`].
pub fn escape_markdown(text: &str) -> String {
    escape_commonmark(text)
}

/// `lines` in a fenced code block whose fence is longer than any backtick run in them.
pub fn code_block(lines: &[String]) -> String {
    let body: String = lines
        .iter()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}text\n{body}\n{fence}")
}

/// The title: the notice's title (emoji, job, status in words, host).
pub fn title(n: &Notice) -> String {
    shorten(&n.title, 200, chars)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

fn markdown_with(n: &Notice, caps: (usize, usize, usize)) -> String {
    let (item_cap, error_cap, warning_cap) = caps;
    let mut parts: Vec<String> = Vec::new();
    if let Some(s) = &n.summary {
        parts.push(escape_markdown(&shorten(s, 1000, chars)));
    }
    let facts: Vec<String> = n
        .facts
        .iter()
        .map(|(l, v)| {
            format!(
                "- **{l}:** {}",
                escape_markdown(&shorten(v, MAX_LINE, chars))
            )
        })
        .collect();
    parts.push(facts.join("\n"));
    let cut = |lines: &[String], cap: usize| -> Vec<String> {
        fit_lines(lines, cap, usize::MAX, 0, |_| 1)
            .iter()
            .map(|l| shorten(l, MAX_LINE, chars))
            .collect()
    };
    if !n.errors.is_empty() {
        parts.push(format!(
            "**Errors ({})**\n\n{}",
            n.errors.len(),
            code_block(&cut(&n.errors, error_cap))
        ));
    }
    if !n.items.is_empty() {
        let items: Vec<String> = cut(&n.items, item_cap)
            .iter()
            .map(|l| format!("- {}", escape_markdown(l)))
            .collect();
        parts.push(format!(
            "**Items ({})**\n\n{}",
            n.items.len(),
            items.join("\n")
        ));
    }
    if !n.warnings.is_empty() {
        parts.push(format!(
            "**Warnings ({})**\n\n{}",
            n.warnings.len(),
            code_block(&cut(&n.warnings, warning_cap))
        ));
    }
    parts.push(format!(
        "_reported by nagbridge on {}_",
        escape_markdown(&n.agent)
    ));
    parts.join("\n\n")
}

/// The Markdown text of `n` within [`MAX_BYTES`]: at most 20 items, 20 errors and 10 warnings
/// of at most 300 characters each, fewer when that is still too long (each list then ends with
/// `... (+N more)`).
pub fn markdown(n: &Notice) -> String {
    let mut caps = (20usize, 20usize, 10usize);
    loop {
        let m = markdown_with(n, caps);
        if m.len() <= MAX_BYTES || caps == (0, 0, 0) {
            return m;
        }
        caps = (caps.0 / 2, caps.1 / 2, caps.2 / 2);
    }
}

/// The JSON message of `n`: title, Markdown text, priority, and the display extra.
pub fn message(n: &Notice) -> Vec<u8> {
    let v = json!({
        "title": title(n),
        "message": markdown(n),
        "priority": priority(n.status),
        "extras": {"client::display": {"contentType": "text/markdown"}},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The plain form: title, the headline as plain text, priority; no extras.
pub fn plain(n: &Notice) -> Vec<u8> {
    let mut text = shorten(&n.headline, 1000, chars);
    if !n.errors.is_empty() {
        text.push_str(&format!(" ({} errors)", n.errors.len()));
    }
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let v = json!({"title": title(n), "message": text, "priority": priority(n.status)});
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
            "items":[{"name":"vm-101","status":"success"},{"name":"vm_102","status":"failure","message":"I/O error"}],
            "summary":"disk full"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    #[test]
    fn gotify_message_is_markdown_by_status() {
        let v: Value = serde_json::from_slice(&message(&notice(vec!["e1 `x`".into()]))).unwrap();
        assert_eq!(v["title"], "❌ nightly-db FAILED on db01");
        assert_eq!(v["priority"], 8);
        assert_eq!(
            v["extras"]["client::display"]["contentType"],
            "text/markdown"
        );
        assert_eq!(
            v["message"],
            "disk full\n\n- **Status:** FAILED (CRITICAL)\n- **Host:** db01\n\
             - **Finished:** 2026-11-24 02:03:10 UTC\n- **Duration:** 3m 10s\n\
             - **Size:** 1.2 MiB\n- **Tool:** restic\n\n**Errors (1)**\n\n```text\ne1 `x`\n```\n\n\
             **Items (2)**\n\n- vm\\_102: failure, I/O error\n- vm-101: success\n\n\
             _reported by nagbridge on backup01_"
        );
        assert_eq!(priority(Status::Success), 2);
        assert_eq!(priority(Status::Warning), 5);
    }

    #[test]
    fn gotify_hostile_lines_cannot_escape_their_block() {
        let hostile = format!(
            "@everyone ``` </code> <script>x</script> **b** [l](javascript:x) {}",
            "`*_<>&#|".repeat(700)
        );
        assert!(hostile.chars().count() >= 5000);
        let mut n = notice(vec![hostile.clone(); 300]);
        n.summary = Some(hostile.clone());
        let m = markdown(&n);
        assert!(m.len() <= MAX_BYTES, "{}", m.len());
        assert!(m.contains("... (+"));
        // The summary is escaped text: no raw HTML, no link.
        assert!(
            m.starts_with("@everyone \\`\\`\\` \\</code\\> \\<script\\>"),
            "{}",
            &m[..80]
        );
        // The errors' fence is longer than any backtick run inside it.
        let block = m.split("**Errors (300)**\n\n").nth(1).unwrap();
        let fence: String = block.chars().take_while(|c| *c == '`').collect();
        assert!(fence.len() > 3, "{fence}");
        let inner = &block[fence.len()..];
        let end = inner.find(&format!("\n{fence}")).unwrap();
        assert!(!inner[..end].contains(&fence));
    }
}
