//! An outcome as a Discord webhook message: one embed (title in words, the summary and the
//! lists as Markdown in the description, the facts as inline fields, the status colour as an
//! integer, the finish time as an ISO 8601 timestamp, a footer), `allowed_mentions` empty, and
//! the plain form sent once after a refusal (`content` only).
//!
//! Owns: every embed limit, enforced before sending and counted as Discord does (characters,
//! leading and trailing blanks trimmed): title [`TITLE_LIMIT`], description
//! [`DESCRIPTION_LIMIT`], at most [`MAX_FIELDS`] fields, field name [`FIELD_NAME_LIMIT`] and
//! value [`FIELD_VALUE_LIMIT`], footer [`FOOTER_LIMIT`], and all of them together within
//! [`TOTAL_LIMIT`]; `content` within [`CONTENT_LIMIT`]. And Discord Markdown: values
//! backslash-escaped, mentions broken, lists in code blocks that no line can close; nothing
//! can ping anyway (`allowed_mentions: {"parse": []}`). Pure: no I/O, no clock.

use serde_json::{json, Value};

use crate::sinks::content::{color_int, iso_time, Notice};
use crate::sinks::hook::{chars, cut, escape_markdown, lists, markdown_list, plain_line, share};

/// Longest embed title.
pub const TITLE_LIMIT: usize = 256;
/// Longest embed description.
pub const DESCRIPTION_LIMIT: usize = 4096;
/// Most fields in an embed.
pub const MAX_FIELDS: usize = 25;
/// Longest field name.
pub const FIELD_NAME_LIMIT: usize = 256;
/// Longest field value.
pub const FIELD_VALUE_LIMIT: usize = 1024;
/// Longest footer text.
pub const FOOTER_LIMIT: usize = 2048;
/// Most characters of title, description, field names and values, footer and author name of
/// all embeds together.
pub const TOTAL_LIMIT: usize = 6000;
/// Longest `content`.
pub const CONTENT_LIMIT: usize = 2000;
/// Longest line of a list.
pub const LINE_LIMIT: usize = 300;
/// Longest fact value and summary.
const VALUE_LIMIT: usize = 300;
const SUMMARY_LIMIT: usize = 1000;

/// What a message may set about its sender.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Sender name.
    pub username: Option<String>,
    /// Sender picture.
    pub avatar_url: Option<String>,
}

/// Characters as Discord counts them: leading and trailing blanks trimmed.
pub fn counted(s: &str) -> usize {
    chars(s.trim())
}

/// The lists as Markdown, sharing `budget` characters.
fn lists_markdown(n: &Notice, budget: usize) -> String {
    let lists = lists(n);
    let mut out = String::new();
    let mut remaining = budget;
    for (i, (heading, lines)) in lists.iter().enumerate() {
        let sep = if out.is_empty() { 0 } else { 2 };
        let b = share(remaining.saturating_sub(sep), lists.len() - i, usize::MAX);
        // A block needs room for its heading and fences at least.
        if b < 40 {
            break;
        }
        let block = markdown_list(heading, lines, b, LINE_LIMIT);
        remaining = remaining.saturating_sub(sep + chars(&block));
        if sep > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&block);
    }
    out
}

fn sender(v: &mut Value, o: &Overrides) {
    if let Some(u) = &o.username {
        v["username"] = json!(u);
    }
    if let Some(a) = &o.avatar_url {
        v["avatar_url"] = json!(a);
    }
}

/// The message for `n`.
pub fn message(n: &Notice, o: &Overrides) -> Value {
    // Titles render Markdown too (no links): escaped like the description.
    let title = cut(&escape_markdown(&n.title), TITLE_LIMIT);
    let footer = cut(
        &plain_line(&format!("nagbridge on {} · {}", n.agent, n.key)),
        VALUE_LIMIT,
    );
    let mut used = counted(&title) + counted(&footer);
    let fields: Vec<Value> = n
        .facts
        .iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            let name = cut(label, FIELD_NAME_LIMIT);
            let mut v = cut(&escape_markdown(value), VALUE_LIMIT.min(FIELD_VALUE_LIMIT));
            if v.trim().is_empty() {
                v = "-".into();
            }
            used += counted(&name) + counted(&v);
            json!({"name": name, "value": v, "inline": true})
        })
        .collect();
    let mut description = String::new();
    if let Some(s) = &n.summary {
        description.push_str(&cut(&escape_markdown(s), SUMMARY_LIMIT));
        description.push_str("\n\n");
    }
    let room = DESCRIPTION_LIMIT
        .min(TOTAL_LIMIT.saturating_sub(used))
        .saturating_sub(chars(&description));
    description.push_str(&lists_markdown(n, room));
    let description = description.trim().to_string();
    let mut embed = json!({
        "title": title,
        "color": color_int(n.status),
        "fields": fields,
        "footer": {"text": footer},
    });
    if !description.is_empty() {
        embed["description"] = json!(description);
    }
    if let Some(t) = n.finished {
        embed["timestamp"] = json!(iso_time(t));
    }
    let mut v = json!({
        "allowed_mentions": {"parse": []},
        "embeds": [embed],
    });
    sender(&mut v, o);
    v
}

/// The plain form: `content` only (Markdown): the title, the facts, the lists, within
/// [`CONTENT_LIMIT`]; `allowed_mentions` empty.
pub fn plain(n: &Notice, o: &Overrides) -> Value {
    let mut t = format!("**{}**\n", escape_markdown(&n.title));
    for (label, value) in &n.facts {
        t.push_str(&format!("{label}: {}\n", cut(&escape_markdown(value), 200)));
    }
    t.push('\n');
    let budget = CONTENT_LIMIT.saturating_sub(chars(&t) + 10);
    t.push_str(&lists_markdown(n, budget));
    let mut v = json!({
        "content": cut(t.trim(), CONTENT_LIMIT),
        "allowed_mentions": {"parse": []},
    });
    sender(&mut v, o);
    v
}

/// Characters of all embeds as Discord counts them against [`TOTAL_LIMIT`].
pub fn embed_total(v: &Value) -> usize {
    let s = |x: &Value| x.as_str().map(counted).unwrap_or(0);
    let mut total = 0;
    for e in v["embeds"].as_array().into_iter().flatten() {
        total += s(&e["title"]) + s(&e["description"]) + s(&e["footer"]["text"]);
        total += s(&e["author"]["name"]);
        for f in e["fields"].as_array().into_iter().flatten() {
            total += s(&f["name"]) + s(&f["value"]);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn notice(errors: Vec<String>) -> Notice {
        let mut o: Outcome = serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z",
            "bytes":44237000000,"files":4200,
            "items":[{"name":"ok1","status":"success"},{"name":"bad","status":"failure","message":"I/O error"}],
            "summary":"disk full"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    fn hostile() -> String {
        let unit = "**b** __u__ ~~s~~ ||spoiler|| `c` ```fence``` <@123> <@&456> <#789> <t:1:R> [x](https://evil.example) # h > q - l 1. n \\ @everyone @here\n";
        let mut s = String::new();
        while chars(&s) < 5000 {
            s.push_str(unit);
        }
        s.chars().take(5000).collect()
    }

    /// Every limit, as the test double checks it.
    fn check(v: &Value) {
        assert_eq!(v["allowed_mentions"], json!({"parse": []}));
        let e = &v["embeds"][0];
        assert!(counted(e["title"].as_str().unwrap()) <= TITLE_LIMIT);
        assert!(counted(e["description"].as_str().unwrap_or("")) <= DESCRIPTION_LIMIT);
        assert!(e["fields"].as_array().unwrap().len() <= MAX_FIELDS);
        for f in e["fields"].as_array().unwrap() {
            assert!(counted(f["name"].as_str().unwrap()) <= FIELD_NAME_LIMIT);
            let value = f["value"].as_str().unwrap();
            assert!(counted(value) <= FIELD_VALUE_LIMIT && counted(value) > 0);
        }
        assert!(counted(e["footer"]["text"].as_str().unwrap()) <= FOOTER_LIMIT);
        assert!(embed_total(v) <= TOTAL_LIMIT, "{}", embed_total(v));
        assert!(e["color"].as_u64().unwrap() <= 0xFF_FFFF);
    }

    #[test]
    fn discord_embed_says_it_in_words_with_colour_and_timestamp() {
        let v = message(
            &notice(vec!["open /srv/x: denied".into()]),
            &Overrides::default(),
        );
        check(&v);
        let e = &v["embeds"][0];
        assert_eq!(e["title"], "❌ nightly-db FAILED on db01");
        assert_eq!(e["color"], 14_687_834);
        assert_eq!(e["timestamp"], "2026-11-24T02:03:10Z");
        assert_eq!(
            e["fields"][0],
            json!({"name": "Status", "value": "FAILED (CRITICAL)", "inline": true})
        );
        assert_eq!(
            e["fields"][4],
            json!({"name": "Size", "value": "41.2 GiB", "inline": true})
        );
        assert_eq!(
            e["description"],
            "disk full\n\n**Items (2, problems first)**\n```\nbad: failure, I/O error\nok1: success\n```\n\n**Errors (1)**\n```\nopen /srv/x: denied\n```"
        );
        assert_eq!(
            e["footer"]["text"],
            "nagbridge on backup01 · db01/nightly-db"
        );
        assert!(v.get("content").is_none() && v.get("username").is_none());
        let v = message(
            &notice(vec![]),
            &Overrides {
                username: Some("Backups".into()),
                avatar_url: Some("https://x.example/a.png".into()),
            },
        );
        assert_eq!(v["username"], "Backups");
        assert_eq!(v["avatar_url"], "https://x.example/a.png");
    }

    #[test]
    fn discord_a_hostile_5000_character_line_is_valid_and_harmless() {
        let line = hostile();
        let mut n = notice(vec![line.clone(); 30]);
        n.items = vec![line.clone(); 30];
        n.warnings = vec![line.clone(); 30];
        n.summary = Some(line.clone());
        n.title = format!("❌ {line}");
        let v = message(&n, &Overrides::default());
        check(&v);
        let p = plain(&n, &Overrides::default());
        assert!(counted(p["content"].as_str().unwrap()) <= CONTENT_LIMIT);
        assert_eq!(p["allowed_mentions"], json!({"parse": []}));
        for v in [v, p] {
            let all = v.to_string();
            for bad in ["@everyone", "@here", "<@123>", "<@&456>"] {
                assert!(!all.contains(bad), "{bad} in {all}");
            }
            let d = format!("{}{}", v["embeds"][0]["description"], v["content"]);
            assert_eq!(d.matches("```").count() % 2, 0);
            assert!(!d.contains("````"));
        }
        // Outside code blocks, no link, channel or time markup is left either.
        let e = &message(&n, &Overrides::default())["embeds"][0];
        let summary = e["description"]
            .as_str()
            .unwrap()
            .split("\n\n")
            .next()
            .unwrap();
        let raw: Vec<char> = summary.chars().collect();
        for (i, c) in raw.iter().enumerate() {
            if matches!(c, '<' | '[' | ']' | '|' | '*' | '_' | '~' | '`') {
                let backslashes = raw[..i].iter().rev().take_while(|&&b| b == '\\').count();
                assert_eq!(backslashes % 2, 1, "unescaped {c} at {i} in {summary}");
            }
        }
    }

    #[test]
    fn discord_the_6000_total_holds_with_every_list_long() {
        let errors: Vec<String> = (0..10_000)
            .map(|i| format!("error {i} {}", "y".repeat(500)))
            .collect();
        let mut n = notice(errors.clone());
        n.items = errors.clone();
        n.warnings = errors;
        let v = message(&n, &Overrides::default());
        check(&v);
        let d = v["embeds"][0]["description"].as_str().unwrap();
        assert!(d.contains("**Items (10000, problems first)**"));
        assert!(d.contains("**Warnings (10000)**"));
        assert!(d.contains("more)\n```"));
    }
}
