//! An outcome as a Mattermost incoming-webhook post: `text` (the headline, the notification
//! line) and one attachment (status colour, title in words, the facts as short fields, the
//! summary and the lists as Markdown), and the plain form sent once after a refusal (`text`
//! only).
//!
//! Owns: Mattermost's limit, enforced before sending: the whole post (text, attachment
//! fallback, title, text, fields, footer) within [`RUNE_LIMIT`] runes, so that the server never
//! splits it into several posts (it does above 16,383 runes of text); and Mattermost Markdown
//! (CommonMark, not Slack's mrkdwn): values backslash-escaped, `<!channel>`-style Slack
//! announcements and `@channel` / `@all` / `@here` / `@user` mentions broken (the server finds
//! mentions by words, so a backslash would not stop them), lists in code blocks that no line
//! can close. Pure: no I/O, no clock.

use serde_json::{json, Value};

use crate::sinks::content::{color_hex, Notice};
use crate::sinks::hook::{chars, cut, escape_markdown, lists, markdown_list, plain_line, share};

/// Most runes in a post: above this Mattermost splits the text into several posts.
pub const RUNE_LIMIT: usize = 16_383;
/// Kept free below [`RUNE_LIMIT`] (what the server may add, and rounding).
const MARGIN: usize = 200;
/// Longest line of a list.
pub const LINE_LIMIT: usize = 1000;
/// Longest fact value, title, headline and summary.
const VALUE_LIMIT: usize = 500;
const SUMMARY_LIMIT: usize = 2000;

/// What the server may let a webhook override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Channel name or `@user`.
    pub channel: Option<String>,
    /// Sender name.
    pub username: Option<String>,
    /// Sender picture.
    pub icon_url: Option<String>,
}

fn overrides(v: &mut Value, o: &Overrides) {
    if let Some(c) = &o.channel {
        v["channel"] = json!(c);
    }
    if let Some(u) = &o.username {
        v["username"] = json!(u);
    }
    if let Some(i) = &o.icon_url {
        v["icon_url"] = json!(i);
    }
}

/// The lists as Markdown, sharing `budget` runes.
fn lists_markdown(n: &Notice, budget: usize) -> String {
    let lists = lists(n);
    let mut out = String::new();
    let mut remaining = budget;
    for (i, (heading, lines)) in lists.iter().enumerate() {
        let sep = if out.is_empty() { 0 } else { 2 };
        let b = share(remaining.saturating_sub(sep), lists.len() - i, usize::MAX);
        let block = markdown_list(heading, lines, b, LINE_LIMIT);
        remaining = remaining.saturating_sub(sep + chars(&block));
        if sep > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&block);
    }
    out
}

/// The post for `n`.
pub fn message(n: &Notice, o: &Overrides) -> Value {
    let text = cut(&escape_markdown(&n.headline), VALUE_LIMIT);
    let fallback = cut(&plain_line(&n.headline), VALUE_LIMIT);
    let title = cut(&plain_line(&n.title), VALUE_LIMIT);
    let footer = cut(
        &plain_line(&format!("nagbridge on {} · {}", n.agent, n.key)),
        VALUE_LIMIT,
    );
    let mut used = chars(&text) + chars(&fallback) + chars(&title) + chars(&footer);
    let fields: Vec<Value> = n
        .facts
        .iter()
        .map(|(label, value)| {
            let v = cut(&escape_markdown(value), VALUE_LIMIT);
            used += chars(label) + chars(&v);
            json!({"title": label, "value": v, "short": true})
        })
        .collect();
    let mut body = String::new();
    if let Some(s) = &n.summary {
        body.push_str(&cut(&escape_markdown(s), SUMMARY_LIMIT));
        body.push_str("\n\n");
    }
    let budget = RUNE_LIMIT.saturating_sub(MARGIN + used + chars(&body));
    body.push_str(&lists_markdown(n, budget));
    let mut v = json!({
        "text": text,
        "attachments": [{
            "fallback": fallback,
            "color": color_hex(n.status),
            "title": title,
            "text": body.trim_end(),
            "fields": fields,
            "footer": footer,
        }],
    });
    overrides(&mut v, o);
    v
}

/// The plain form: `text` only (Markdown): the title, the facts, the lists, within
/// [`RUNE_LIMIT`].
pub fn plain(n: &Notice, o: &Overrides) -> Value {
    let mut t = format!("**{}**\n", escape_markdown(&n.title));
    for (label, value) in &n.facts {
        t.push_str(&format!(
            "{label}: {}\n",
            cut(&escape_markdown(value), VALUE_LIMIT)
        ));
    }
    t.push('\n');
    let budget = RUNE_LIMIT.saturating_sub(MARGIN + chars(&t));
    t.push_str(&lists_markdown(n, budget));
    let mut v = json!({"text": cut(t.trim_end(), RUNE_LIMIT - MARGIN)});
    overrides(&mut v, o);
    v
}

/// Runes of text in a post: `text`, and in each attachment its fallback, pretext, title,
/// text, footer and every field's title and value.
pub fn runes(v: &Value) -> usize {
    let s = |x: &Value| x.as_str().map(chars).unwrap_or(0);
    let mut total = s(&v["text"]);
    for a in v["attachments"].as_array().into_iter().flatten() {
        for k in ["fallback", "pretext", "title", "text", "footer"] {
            total += s(&a[k]);
        }
        for f in a["fields"].as_array().into_iter().flatten() {
            total += s(&f["title"]) + s(&f["value"]);
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
            r#"{"job":"nightly_db","host":"db01","status":"warning","tool":"restic",
            "finished":"2026-11-24T02:03:10Z","bytes":1234567,
            "items":[{"name":"ok1","status":"success"},{"name":"bad","status":"warning","message":"1 file skipped"}],
            "summary":"1 file could not be read"}"#,
        )
        .unwrap();
        o.errors = errors;
        Notice::from_outcome(&o, "backup01")
    }

    fn hostile() -> String {
        let unit = "**b** _i_ ~~s~~ `c` ```fence``` ~~~ <!channel> <!here> <@U1> [x](https://evil.example) # h > q | t | &amp; \\ @everyone @here @all ~town-square\n";
        let mut s = String::new();
        while chars(&s) < 5000 {
            s.push_str(unit);
        }
        s.chars().take(5000).collect()
    }

    #[test]
    fn mattermost_post_says_it_in_words_with_colour_and_fields() {
        let v = message(
            &notice(vec!["open /srv/x: denied".into()]),
            &Overrides::default(),
        );
        assert_eq!(
            v["text"],
            "\\[WARNING\\] nightly\\_db on db01: 1 file could not be read"
        );
        let a = &v["attachments"][0];
        assert_eq!(a["color"], "#ECB22E");
        assert_eq!(a["title"], "⚠️ nightly_db finished with warnings on db01");
        assert_eq!(
            a["fallback"],
            "[WARNING] nightly_db on db01: 1 file could not be read"
        );
        assert_eq!(
            a["fields"][0],
            json!({"title": "Status", "value": "finished with warnings (WARNING)", "short": true})
        );
        assert_eq!(
            a["text"],
            "1 file could not be read\n\n**Items (2, problems first)**\n```\nbad: warning, 1 file skipped\nok1: success\n```\n\n**Errors (1)**\n```\nopen /srv/x: denied\n```"
        );
        assert_eq!(a["footer"], "nagbridge on backup01 · db01/nightly_db");
    }

    #[test]
    fn mattermost_a_hostile_5000_character_line_is_valid_and_harmless() {
        let line = hostile();
        let n = notice(vec![line.clone(); 40]);
        for v in [
            message(&n, &Overrides::default()),
            plain(&n, &Overrides::default()),
        ] {
            assert!(runes(&v) <= RUNE_LIMIT, "{}", runes(&v));
            let all = v.to_string();
            for bad in [
                "<!channel>",
                "<!here>",
                "@everyone",
                "@here",
                "@all",
                "<@U1>",
            ] {
                assert!(!all.contains(bad), "{bad} in the post");
            }
            // Fences come in pairs: no line closes its block.
            let t = format!("{}{}", v["text"], v["attachments"][0]["text"]);
            assert_eq!(t.matches("```").count() % 2, 0);
            assert!(!t.contains("````"));
            assert!(all.contains("... (+"), "{all}");
        }
    }

    #[test]
    fn mattermost_is_cut_at_16383_runes_never_split() {
        let errors: Vec<String> = (0..50_000)
            .map(|i| format!("é {i} {}", "ü".repeat(900)))
            .collect();
        let mut n = notice(errors.clone());
        n.items = errors;
        let v = message(&n, &Overrides::default());
        let r = runes(&v);
        assert!(r <= RUNE_LIMIT && r > RUNE_LIMIT - 2000, "{r}");
        let p = plain(&n, &Overrides::default());
        assert!(runes(&p) <= RUNE_LIMIT);
        assert!(v["attachments"][0]["text"].as_str().unwrap().contains("(+"));
    }
}
