//! An outcome as a Slack incoming-webhook message: a `text` fallback (the notification line)
//! and one attachment with the status colour and Block Kit blocks (a `header` with the title
//! in words, the summary, the facts as section fields, items / errors / warnings as code
//! blocks, a context line), and the plain form sent once after a refusal (`text` only).
//!
//! Owns: Slack's limits, enforced before sending and counted in characters after escaping:
//! at most [`MAX_BLOCKS`] blocks, section text [`SECTION_LIMIT`], [`MAX_FIELDS`] fields of
//! [`FIELD_LIMIT`], header [`HEADER_LIMIT`] (plain_text), and the whole message within
//! [`MESSAGE_BUDGET`] (Slack refuses somewhat above 13,000 block characters); and mrkdwn
//! escaping: `&`, `<`, `>` as entities in every text object (so no `<!channel>`, `<@U…>` or
//! link can be made),
//! `verbatim: true` on every mrkdwn text (no automatic parsing of mentions, channels or
//! links), `@here`-style words broken, and lists in code blocks that no backtick in a line can
//! close. Pure: no I/O, no clock.

use serde_json::{json, Value};

use crate::sinks::content::{color_hex, Notice};
use crate::sinks::hook::{
    break_mentions, chars, code_line, code_lines, cut, lists, one_line, share,
};

/// Most blocks in a message.
pub const MAX_BLOCKS: usize = 50;
/// Longest section text.
pub const SECTION_LIMIT: usize = 3000;
/// Most fields in a section.
pub const MAX_FIELDS: usize = 10;
/// Longest field text.
pub const FIELD_LIMIT: usize = 2000;
/// Longest header text (plain_text).
pub const HEADER_LIMIT: usize = 150;
/// Most characters of text in the whole message (fallback, blocks), well under the ~13,200
/// at which Slack answers `msg_blocks_too_long` (slackapi/bolt-js#2509).
pub const MESSAGE_BUDGET: usize = 11_000;
/// Longest `text` (the notification line); Slack advises at most 4,000.
pub const TEXT_LIMIT: usize = 500;
/// Longest line of a list.
pub const LINE_LIMIT: usize = 300;
/// Longest fact value and summary.
const VALUE_LIMIT: usize = 500;
const SUMMARY_LIMIT: usize = 1000;
/// Longest plain form.
pub const PLAIN_LIMIT: usize = 3000;

/// What a legacy webhook may override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `#channel`.
    pub channel: Option<String>,
    /// Sender name.
    pub username: Option<String>,
    /// `:emoji:`.
    pub icon_emoji: Option<String>,
}

/// `s` escaped for mrkdwn: `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;` (Slack's documented
/// escaping) and mentions broken.
pub fn escape(s: &str) -> String {
    let s = break_mentions(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

/// `*heading*` and the lines in a code block, within `budget` characters.
fn list_block(heading: &str, lines: &[String], budget: usize) -> String {
    let head = format!("*{}*\n```\n", escape(heading));
    let tail = "\n```";
    let room = budget.saturating_sub(chars(&head) + chars(tail));
    let body = code_lines(lines, room, LINE_LIMIT, |l| escape(&code_line(l)));
    format!("{head}{}{tail}", body.join("\n"))
}

fn overrides(v: &mut Value, o: &Overrides) {
    if let Some(c) = &o.channel {
        v["channel"] = json!(c);
    }
    if let Some(u) = &o.username {
        v["username"] = json!(u);
    }
    if let Some(e) = &o.icon_emoji {
        v["icon_emoji"] = json!(e);
    }
}

/// The fallback / notification line: the headline, escaped, on one line.
pub fn fallback(n: &Notice) -> String {
    cut(&escape(&one_line(&n.headline)), TEXT_LIMIT)
}

/// The message for `n`.
pub fn message(n: &Notice, o: &Overrides) -> Value {
    let text = fallback(n);
    let mut used = chars(&text) * 2; // the text, and the same line as the attachment's fallback
    let mut blocks = Vec::new();
    // Slack decodes `&amp;`, `&lt;`, `&gt;` in every text object, plain_text too.
    let header = cut(&escape(&one_line(&n.title)), HEADER_LIMIT);
    used += chars(&header);
    blocks.push(
        json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}),
    );
    if let Some(s) = &n.summary {
        let s = cut(&escape(&one_line(s)), SUMMARY_LIMIT);
        used += chars(&s);
        blocks.push(json!({"type": "section", "text": mrkdwn(s)}));
    }
    let fields: Vec<Value> = n
        .facts
        .iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            let v = cut(&escape(&one_line(value)), VALUE_LIMIT);
            let t = cut(&format!("*{label}*\n{v}"), FIELD_LIMIT);
            used += chars(&t);
            mrkdwn(t)
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let context = cut(
        &escape(&one_line(&format!("nagbridge on {} · {}", n.agent, n.key))),
        VALUE_LIMIT,
    );
    used += chars(&context);
    let lists = lists(n);
    let mut remaining = MESSAGE_BUDGET.saturating_sub(used);
    let left = lists.len();
    for (i, (heading, lines)) in lists.iter().enumerate() {
        let budget = share(remaining, left - i, SECTION_LIMIT);
        let t = list_block(heading, lines, budget);
        remaining = remaining.saturating_sub(chars(&t));
        blocks.push(json!({"type": "section", "text": mrkdwn(t)}));
    }
    blocks.push(json!({"type": "context", "elements": [mrkdwn(context)]}));
    blocks.truncate(MAX_BLOCKS);
    let mut v = json!({
        "text": text,
        "attachments": [{
            "color": color_hex(n.status),
            "fallback": text,
            "blocks": blocks,
        }],
    });
    overrides(&mut v, o);
    v
}

/// The plain form: `text` only (mrkdwn, escaped): the title, the facts, then the lists in
/// code blocks, within [`PLAIN_LIMIT`].
pub fn plain(n: &Notice, o: &Overrides) -> Value {
    let mut t = format!("*{}*\n", escape(&one_line(&n.title)));
    for (label, value) in &n.facts {
        t.push_str(&format!(
            "{label}: {}\n",
            cut(&escape(&one_line(value)), VALUE_LIMIT)
        ));
    }
    let lists = lists(n);
    let left = lists.len();
    for (i, (heading, lines)) in lists.iter().enumerate() {
        let budget = share(PLAIN_LIMIT.saturating_sub(chars(&t)), left - i, PLAIN_LIMIT);
        t.push_str(&list_block(heading, lines, budget));
        t.push('\n');
    }
    let mut v = json!({"text": cut(t.trim_end(), PLAIN_LIMIT)});
    overrides(&mut v, o);
    v
}

/// Characters of text in a message: `text`, and in each attachment its fallback and every
/// text of its blocks (what Slack's undocumented block budget counts, and a bit more).
pub fn text_chars(v: &Value) -> usize {
    fn walk(v: &Value) -> usize {
        match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, x)| match x {
                    Value::String(s) if k == "text" || k == "fallback" => chars(s),
                    other => walk(other),
                })
                .sum(),
            Value::Array(a) => a.iter().map(walk).sum(),
            _ => 0,
        }
    }
    walk(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn notice(errors: Vec<String>) -> Notice {
        let mut o: Outcome = serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z",
            "bytes":1234567,"files":4200,
            "items":[{"name":"ok1","status":"success"},{"name":"bad","status":"failure","message":"I/O error"}],
            "summary":"disk full","source":"/var/log/x.log"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    fn hostile() -> String {
        let unit = "*b* _i_ ~s~ `c` ```fence``` <!channel> <!here> <@U123> <#C1|x> <https://evil.example|click> &amp; @everyone @here > quote\n";
        let mut s = String::new();
        while chars(&s) < 5000 {
            s.push_str(unit);
        }
        s.chars().take(5000).collect()
    }

    /// Every limit of the message, as the test double checks it.
    fn check(v: &Value) {
        let blocks = v["attachments"][0]["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS);
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(b["text"]["type"], "plain_text");
                    assert!(chars(b["text"]["text"].as_str().unwrap()) <= HEADER_LIMIT);
                }
                "section" => {
                    if let Some(t) = b["text"]["text"].as_str() {
                        assert!(chars(t) <= SECTION_LIMIT, "{}", chars(t));
                    }
                    if let Some(f) = b["fields"].as_array() {
                        assert!(f.len() <= MAX_FIELDS);
                        for x in f {
                            assert!(chars(x["text"].as_str().unwrap()) <= FIELD_LIMIT);
                        }
                    }
                }
                "context" => assert!(b["elements"].as_array().unwrap().len() <= 10),
                other => panic!("block {other}"),
            }
        }
        assert!(
            text_chars(v) <= MESSAGE_BUDGET + 2 * TEXT_LIMIT,
            "{}",
            text_chars(v)
        );
    }

    #[test]
    fn slack_message_says_it_in_words_with_colour_and_blocks() {
        let n = notice(vec!["open /srv/x: permission denied".into()]);
        let v = message(&n, &Overrides::default());
        check(&v);
        assert_eq!(v["text"], "[CRITICAL] nightly-db on db01: disk full");
        let a = &v["attachments"][0];
        assert_eq!(a["color"], "#E01E5A");
        let b = a["blocks"].as_array().unwrap();
        assert_eq!(b[0]["text"]["text"], "❌ nightly-db FAILED on db01");
        assert_eq!(b[1]["text"]["text"], "disk full");
        assert_eq!(b[2]["fields"][0]["text"], "*Status*\nFAILED (CRITICAL)");
        assert_eq!(
            b[2]["fields"][2]["text"],
            "*Finished*\n2026-11-24 02:03:10 UTC"
        );
        assert_eq!(
            b[3]["text"]["text"],
            "*Items (2, problems first)*\n```\nbad: failure, I/O error\nok1: success\n```"
        );
        assert_eq!(
            b[4]["text"]["text"],
            "*Errors (1)*\n```\nopen /srv/x: permission denied\n```"
        );
        assert_eq!(
            b[5]["elements"][0]["text"],
            "nagbridge on backup01 · db01/nightly-db"
        );
        assert!(v.get("channel").is_none());
        let v = message(
            &n,
            &Overrides {
                channel: Some("#ops".into()),
                username: Some("Backups".into()),
                icon_emoji: Some(":floppy_disk:".into()),
            },
        );
        assert_eq!(
            (&v["channel"], &v["username"], &v["icon_emoji"]),
            (&json!("#ops"), &json!("Backups"), &json!(":floppy_disk:"))
        );
    }

    #[test]
    fn slack_a_hostile_5000_character_line_is_valid_and_harmless() {
        let line = hostile();
        let mut errors = vec![line.clone(); 40];
        errors.push("second".into());
        let n = notice(errors);
        for v in [
            message(&n, &Overrides::default()),
            plain(&n, &Overrides::default()),
        ] {
            let all = v.to_string();
            // No markup Slack would act on survives: no raw < or >, no mention.
            for t in texts(&v) {
                assert!(!t.contains('<') && !t.contains('>'), "{t}");
                assert!(!t.contains("@everyone") && !t.contains("@here"), "{t}");
                // Code blocks open and close in pairs; no fence inside a line.
                assert_eq!(t.matches("```").count() % 2, 0, "{t}");
            }
            assert!(all.contains("&lt;\u{200B}!channel&gt;"), "{all}");
            assert!(all.contains("... (+"), "{all}");
        }
        check(&message(&n, &Overrides::default()));
        assert!(chars(plain(&n, &Overrides::default())["text"].as_str().unwrap()) <= PLAIN_LIMIT);
    }

    fn texts(v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        match x {
                            Value::String(s) if k == "text" || k == "fallback" => {
                                out.push(s.clone())
                            }
                            other => walk(other, out),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(v, &mut out);
        out
    }

    #[test]
    fn slack_many_long_lists_share_the_budget() {
        let errors: Vec<String> = (0..20_000)
            .map(|i| format!("error {i} {}", "x".repeat(400)))
            .collect();
        let mut n = notice(errors.clone());
        n.items = errors.clone();
        n.warnings = errors;
        let v = message(&n, &Overrides::default());
        check(&v);
        let b = v["attachments"][0]["blocks"].as_array().unwrap();
        // Items, errors and warnings each show some lines and say how many more.
        for block in &b[3..6] {
            let t = block["text"]["text"].as_str().unwrap();
            assert!(t.contains("error 0 xxx"), "{t}");
            assert!(t.contains("more)\n```"), "{t}");
        }
    }
}
