//! The Google Chat message: `text` (the headline: the notification and what plain clients show)
//! and one `cardsV2` card (header, the facts as decorated text, errors, items problems first,
//! warnings) for an incoming webhook.
//!
//! Owns: [`message`] and [`plain`] (the headline alone, sent once after a refusal), within
//! [`MAX_BYTES`] of serialized JSON, and the escaping: card text is Google's HTML subset, so
//! `& < >` become entities; `text` uses Chat's own markup, where `<users/all>` mentions
//! everyone and `<url|label>` is a link, so every `<` from the outcome is followed by a
//! zero-width space (no mention, no link can form). Card header titles are plain text. Pure:
//! no I/O, no clock.

use serde_json::{json, Value};

use crate::outcome::Status;
use crate::sinks::content::{color_hex, fit_lines, shorten, Notice};

/// The largest message: "The maximum message size, including the message contents, is
/// 32,000 bytes" (spaces.messages.create); counted on the serialized JSON.
pub const MAX_BYTES: usize = 32_000;

/// Longest line of an item, error or warning (characters).
const MAX_LINE: usize = 300;

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `text` for Chat's text markup: `<` followed by a zero-width space, so that no
/// `<users/all>` mention or `<url|label>` link forms; control characters but newline dropped.
pub fn escape_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect::<String>()
        .replace('<', "<\u{200B}")
}

/// `text` for card HTML: `& < >` as entities, newlines as `<br>`, other control characters
/// dropped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Plain text for places that show text as is (card header title and subtitle).
fn plain_text(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

fn section(heading: &str, lines: &[String], cap: usize, colour: Option<&str>) -> Option<Value> {
    if lines.is_empty() {
        return None;
    }
    let shown = fit_lines(lines, cap, usize::MAX, 0, |_| 1);
    let text: Vec<String> = shown
        .iter()
        .map(|l| escape_html(&shorten(l, MAX_LINE, chars)))
        .collect();
    let header = match colour {
        Some(c) => format!("<font color=\"{c}\">{heading} ({})</font>", lines.len()),
        None => format!("{heading} ({})", lines.len()),
    };
    Some(json!({
        "header": header,
        "widgets": [{"textParagraph": {"text": text.join("<br>")}}]
    }))
}

fn message_with(n: &Notice, caps: (usize, usize, usize)) -> Vec<u8> {
    let (item_cap, error_cap, warning_cap) = caps;
    let colour = color_hex(n.status);
    let mut facts: Vec<Value> = Vec::new();
    for (label, value) in &n.facts {
        let value = escape_html(&shorten(value, MAX_LINE, chars));
        let text = if *label == "Status" {
            format!("<font color=\"{colour}\"><b>{value}</b></font>")
        } else {
            value
        };
        facts.push(json!({"decoratedText": {"topLabel": label, "text": text, "wrapText": true}}));
    }
    let mut sections = Vec::new();
    if let Some(s) = &n.summary {
        sections.push(json!({"widgets": [{"textParagraph": {
            "text": escape_html(&shorten(s, 1000, chars))
        }}]}));
    }
    sections.push(json!({"widgets": facts}));
    let problem = (n.status != Status::Success).then_some(color_hex(Status::Failure));
    sections.extend(section(
        "Errors",
        &n.errors,
        error_cap,
        Some(color_hex(Status::Failure)),
    ));
    sections.extend(section("Items", &n.items, item_cap, problem));
    sections.extend(section(
        "Warnings",
        &n.warnings,
        warning_cap,
        Some(color_hex(Status::Warning)),
    ));
    let message = json!({
        "text": escape_text(&shorten(&n.headline, 1000, chars)),
        "cardsV2": [{
            "cardId": "nagbridge-outcome",
            "card": {
                "header": {
                    "title": plain_text(&shorten(&n.title, 200, chars)),
                    "subtitle": plain_text(&shorten(&format!("reported by nagbridge on {}", n.agent), 200, chars)),
                },
                "sections": sections
            }
        }]
    });
    serde_json::to_vec(&message).unwrap_or_default()
}

/// The message of `n` within [`MAX_BYTES`]: at most 20 items, 20 errors and 10 warnings of at
/// most 300 characters each; fewer when that is still too big (each list then ends with
/// `... (+N more)`).
pub fn message(n: &Notice) -> Vec<u8> {
    let mut caps = (20usize, 20usize, 10usize);
    loop {
        let body = message_with(n, caps);
        if body.len() <= MAX_BYTES || caps == (0, 0, 0) {
            return body;
        }
        caps = (caps.0 / 2, caps.1 / 2, caps.2 / 2);
    }
}

/// The plain form: `text` alone (the headline and the error count).
pub fn plain(n: &Notice) -> Vec<u8> {
    let mut text = shorten(&n.headline, 1000, chars);
    if !n.errors.is_empty() {
        text.push_str(&format!(" ({} errors)", n.errors.len()));
    }
    serde_json::to_vec(&json!({"text": escape_text(&text)})).unwrap_or_default()
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
            "summary":"disk full"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    #[test]
    fn googlechat_message_has_text_and_a_card() {
        let v: Value = serde_json::from_slice(&message(&notice(vec!["a < b & c".into()]))).unwrap();
        assert_eq!(v["text"], "[CRITICAL] nightly-db on db01: disk full");
        let card = &v["cardsV2"][0]["card"];
        assert_eq!(v["cardsV2"][0]["cardId"], "nagbridge-outcome");
        assert_eq!(card["header"]["title"], "❌ nightly-db FAILED on db01");
        let s = card["sections"].to_string();
        for want in [
            "disk full",
            "\"topLabel\":\"Status\"",
            "<font color=\\\"#E01E5A\\\"><b>FAILED (CRITICAL)</b></font>",
            "2026-11-24 02:03:10 UTC",
            "Errors (1)",
            "a &lt; b &amp; c",
            "Items (2)",
            "vm-102: failure, I/O error<br>vm-101: success",
        ] {
            assert!(s.contains(want), "{want} not in {s}");
        }
    }

    #[test]
    fn googlechat_hostile_text_is_inert_and_fits() {
        let hostile = format!(
            "<users/all> @everyone <https://evil.example|click> *b* _i_ ~s~ `c` <b>x</b> {}",
            "<>&*_~`".repeat(720)
        );
        assert!(hostile.chars().count() >= 5000);
        let mut n = notice(vec![hostile.clone(); 300]);
        n.headline = hostile.clone();
        n.summary = Some(hostile.clone());
        let body = message(&n);
        assert!(body.len() <= MAX_BYTES, "{}", body.len());
        let v: Value = serde_json::from_slice(&body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(!text.contains("<users/all>") && !text.contains("<https://"));
        assert!(text.starts_with("<\u{200B}users/all>"));
        let s = v["cardsV2"].to_string();
        assert!(
            !s.contains("<users") && !s.contains("<b>x"),
            "{}",
            &s[..300]
        );
        assert!(s.contains("... (+"), "a cut list is marked");
        let p: Value = serde_json::from_slice(&plain(&n)).unwrap();
        assert!(p.get("cardsV2").is_none());
        assert!(!p["text"].as_str().unwrap().contains("<users/all>"));
    }
}
