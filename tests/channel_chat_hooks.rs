//! The chat channels reached through an incoming web hook (issue 10, part a): Slack,
//! Mattermost, Discord. SaaS (and Mattermost needs PostgreSQL and binaries we cannot fetch),
//! so each is tested against a strict local double (tests/common/http_double.rs) whose
//! validator re-checks the platform's documented schema and limits independently of our
//! renderer (research/channels.md sections 1-3), and which replays the documented errors.
//!
//! In-process (the sink built from a config, one `deliver_batch` per outcome): every payload
//! valid; a 5,000-character error line full of Markdown/HTML/mrkdwn specials and `@everyone`
//! valid and harmless everywhere; each documented error classified (dead, rejected after one
//! plain retry, retryable with exactly the platform's delay); Discord's bucket headers obeyed;
//! no token in any message. Agent level (a child `nagbridge run`): exactly once through a
//! Discord 429 and through a Slack outage (paced one a second), a dead Discord webhook asked
//! once and never again, and (`#[ignore]`, a measurement) outcome-to-double latency.
mod agent_support;
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agent_support::*;
use common::http_double::{HttpDouble, Reply, Request};
use nagbridge::config::Config;
use nagbridge::outcome::Outcome;
use nagbridge::retry::FailureClass;
use nagbridge::sinks::{ChannelSink, Sink, SinkError};
use nagbridge::spool::{Entry, EntryId};
use serde_json::{json, Value};

/// The secret part of every hook URL: it must never show in a message.
const TOKEN: &str = "T0KEN-c4at-5ecr3t";

fn chars(s: &str) -> usize {
    s.chars().count()
}

// ---- the doubles' checks: what each platform documents, written without our renderer ----

/// Every string under the keys `keys` anywhere in `v`.
fn strings_at(v: &Value, keys: &[&str], out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s) if keys.contains(&k.as_str()) => out.push(s.clone()),
                    other => strings_at(other, keys, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| strings_at(x, keys, out)),
        _ => {}
    }
}

/// A word that pings: `@everyone`, `@here`, `@channel`, `@all` or `@<name>` as a platform
/// that finds mentions by words sees them (Mattermost's server splits at anything but
/// letters, digits and `.-_:@`).
fn pinging_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '@')))
        .filter(|w| w.len() > 1 && w.starts_with('@') && w[1..].starts_with(char::is_alphanumeric))
        .map(str::to_string)
        .collect()
}

fn json_body(r: &Request) -> Result<Value, String> {
    if r.method != "POST" {
        return Err(format!("method {}", r.method));
    }
    if r.header("content-type") != Some("application/json") {
        return Err(format!("content-type {:?}", r.header("content-type")));
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))?;
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    Ok(v)
}

/// Slack (api.slack.com block kit reference, 2016 webhook error changelog, bolt-js#2509).
fn slack_check(r: &Request) -> Result<(), String> {
    let v = json_body(r).map_err(|e| format!("invalid_payload: {e}"))?;
    if ["text", "blocks", "attachments"]
        .iter()
        .all(|k| v.get(*k).is_none())
    {
        return Err("no_text".into());
    }
    if v["text"].as_str().is_some_and(|t| chars(t) > 40_000) {
        return Err("invalid_payload: text over 40,000".into());
    }
    let attachments = v["attachments"].as_array().cloned().unwrap_or_default();
    if attachments.len() > 100 {
        return Err("too_many_attachments".into());
    }
    let mut all_blocks = v["blocks"].as_array().cloned().unwrap_or_default();
    for a in &attachments {
        if let Some(c) = a.get("color") {
            let c = c.as_str().unwrap_or("");
            let hex =
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !(hex || ["good", "warning", "danger"].contains(&c)) {
                return Err(format!("invalid_attachments: color {c:?}"));
            }
        }
        all_blocks.extend(a["blocks"].as_array().cloned().unwrap_or_default());
    }
    if all_blocks.len() > 50 {
        return Err(format!("invalid_blocks: {} blocks", all_blocks.len()));
    }
    let mut block_chars = 0;
    for b in &all_blocks {
        let text_of = |t: &Value| t["text"].as_str().map(chars).unwrap_or(0);
        match b["type"].as_str().unwrap_or("") {
            "header" => {
                if b["text"]["type"] != "plain_text" || text_of(&b["text"]) > 150 {
                    return Err("invalid_blocks: header".into());
                }
                block_chars += text_of(&b["text"]);
            }
            "section" => {
                if text_of(&b["text"]) > 3000 {
                    return Err(format!("invalid_blocks: section {}", text_of(&b["text"])));
                }
                block_chars += text_of(&b["text"]);
                if let Some(f) = b.get("fields") {
                    let f = f.as_array().ok_or("invalid_blocks: fields")?;
                    if f.len() > 10 || f.iter().any(|x| text_of(x) > 2000) {
                        return Err("invalid_blocks: fields".into());
                    }
                    block_chars += f.iter().map(text_of).sum::<usize>();
                }
                if b.get("text").is_none() && b.get("fields").is_none() {
                    return Err("invalid_blocks: empty section".into());
                }
            }
            "context" => {
                let e = b["elements"].as_array().ok_or("invalid_blocks: context")?;
                if e.is_empty() || e.len() > 10 {
                    return Err("invalid_blocks: context elements".into());
                }
                block_chars += e.iter().map(text_of).sum::<usize>();
            }
            other => return Err(format!("invalid_blocks: block type {other:?}")),
        }
    }
    if block_chars > 12_000 {
        return Err(format!("msg_blocks_too_long: {block_chars}"));
    }
    // mrkdwn: & < > escaped, so nothing can become a link, a mention or <!channel>.
    let mut texts = Vec::new();
    strings_at(&v, &["text", "fallback"], &mut texts);
    for t in &texts {
        if t.contains('<') || t.contains('>') {
            return Err(format!("unescaped < or > in {t:?}"));
        }
        for (i, _) in t.match_indices('&') {
            let rest = &t[i..];
            if !["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|e| rest.starts_with(e))
            {
                return Err(format!("unescaped & in {t:?}"));
            }
        }
        let w = pinging_words(t);
        if !w.is_empty() {
            return Err(format!("mentions {w:?}"));
        }
    }
    Ok(())
}

/// Mattermost (incoming_webhook.go, webhook.go; developer docs).
fn mattermost_check(r: &Request) -> Result<(), String> {
    let v = json_body(r).map_err(|e| format!("web.incoming_webhook.parse.app_error: {e}"))?;
    let text = v["text"].as_str().unwrap_or("");
    let attachments = v["attachments"].as_array().cloned().unwrap_or_default();
    if text.is_empty() && attachments.is_empty() {
        return Err("web.incoming_webhook.text.app_error".into());
    }
    if let Some(t) = v.get("type").and_then(|t| t.as_str()) {
        if !t.is_empty() && !t.starts_with("custom_") {
            return Err(format!("type {t:?}"));
        }
    }
    if let Some(p) = v.get("props").and_then(|p| p.as_object()) {
        for k in p.keys() {
            if k != "card"
                && [
                    "from_webhook",
                    "override_username",
                    "override_icon_url",
                    "override_icon_emoji",
                    "webhook_display_name",
                    "attachments",
                ]
                .contains(&k.as_str())
            {
                return Err(format!("reserved props key {k}"));
            }
        }
    }
    let mut total = chars(text);
    for a in &attachments {
        if a["fallback"].as_str().is_none_or(str::is_empty) {
            return Err("attachment without fallback".into());
        }
        let c = a["color"].as_str().unwrap_or("#000000");
        if !(c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("color {c:?}"));
        }
        for k in ["fallback", "pretext", "title", "text", "footer"] {
            total += a[k].as_str().map(chars).unwrap_or(0);
        }
        for f in a["fields"].as_array().cloned().unwrap_or_default() {
            if !f["short"].is_boolean() || !f["title"].is_string() || !f["value"].is_string() {
                return Err(format!("field {f}"));
            }
            total += chars(f["title"].as_str().unwrap()) + chars(f["value"].as_str().unwrap());
        }
    }
    // Above 16,383 runes of text the server splits the post: we must never rely on that.
    if chars(text) > 16_383 || total > 16_383 {
        return Err(format!("{total} runes: the server would split this post"));
    }
    // Slack-style announcements are translated by the server, then mentions found by words.
    let mut texts = Vec::new();
    strings_at(
        &v,
        &["text", "fallback", "pretext", "title", "value", "footer"],
        &mut texts,
    );
    for t in &texts {
        let translated = t
            .replace("<!channel>", "@channel")
            .replace("<!here>", "@here")
            .replace("<!all>", "@all");
        let w = pinging_words(&translated);
        if !w.is_empty() {
            return Err(format!("mentions {w:?}"));
        }
        // Slack's *bold* is not bold here: we send Markdown's **bold**.
        if t.starts_with('*') && !t.starts_with("**") {
            return Err(format!("mrkdwn bold in {t:?}"));
        }
    }
    Ok(())
}

/// Discord (webhook.mdx, message.mdx: limits measured after trimming; allowed_mentions).
fn discord_check(r: &Request) -> Result<(), String> {
    if !r.path.contains("wait=true") {
        return Err(format!("no ?wait=true in {}", r.path));
    }
    let v = json_body(r)?;
    let embeds = v["embeds"].as_array().cloned().unwrap_or_default();
    let content = v["content"].as_str().unwrap_or("");
    if content.trim().is_empty() && embeds.is_empty() {
        return Err("50006 Cannot send an empty message".into());
    }
    if chars(content) > 2000 {
        return Err("content over 2000".into());
    }
    if embeds.len() > 10 {
        return Err("over 10 embeds".into());
    }
    if v["allowed_mentions"] != json!({"parse": []}) {
        return Err(format!("allowed_mentions {}", v["allowed_mentions"]));
    }
    if let Some(u) = v["username"].as_str() {
        let l = u.to_lowercase();
        if l.contains("clyde") || l.contains("discord") || chars(u) > 80 {
            return Err(format!("username {u:?}"));
        }
    }
    let n = |x: &Value| x.as_str().map(|s| chars(s.trim())).unwrap_or(0);
    let mut total = 0;
    for e in &embeds {
        let checks = [
            (n(&e["title"]), 256, "title"),
            (n(&e["description"]), 4096, "description"),
            (n(&e["footer"]["text"]), 2048, "footer.text"),
            (n(&e["author"]["name"]), 256, "author.name"),
        ];
        for (len, max, what) in checks {
            if len > max {
                return Err(format!("BASE_TYPE_MAX_LENGTH {what} {len} > {max}"));
            }
            total += len;
        }
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return Err("over 25 fields".into());
        }
        for f in &fields {
            let (name, value) = (n(&f["name"]), n(&f["value"]));
            if name == 0 || name > 256 || value == 0 || value > 1024 {
                return Err(format!("field {f}"));
            }
            total += name + value;
        }
        if let Some(c) = e.get("color") {
            if c.as_u64().is_none_or(|c| c > 0xFF_FFFF) {
                return Err(format!("color {c}"));
            }
        }
        if let Some(t) = e.get("timestamp") {
            chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or(""))
                .map_err(|_| format!("timestamp {t}"))?;
        }
    }
    if total > 6000 {
        return Err(format!("embeds total {total} > 6000"));
    }
    // Nothing can ping (allowed_mentions), and nothing should even look like a mention.
    let mut texts = Vec::new();
    strings_at(
        &v,
        &["content", "title", "description", "name", "value", "text"],
        &mut texts,
    );
    for t in &texts {
        if t.contains("@everyone") || t.contains("@here") {
            return Err(format!("@everyone/@here in {t:?}"));
        }
    }
    Ok(())
}

// ---- in-process: the sink of a config, one outcome at a time ----

fn sink(kind: &str, url: &str, extra: &str) -> ChannelSink {
    let text = format!(
        "[agent]\nhost_name = \"backup01\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\n\
         password = \"p\"\n[[channel]]\nname = \"chat\"\ntype = \"{kind}\"\nurl = \"{url}\"\n{extra}\n"
    );
    let c = Config::from_str(&text, "t").unwrap_or_else(|e| panic!("{e}"));
    ChannelSink::build(&c.channels[0], "backup01").unwrap()
}

fn entry(o: &Outcome, seq: u64) -> Entry {
    Entry {
        id: EntryId::new(1_790_000_000_000_000 + seq, seq, 1),
        spooled_at: chrono::Utc::now(),
        outcome: o.clone(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn deliver(s: &ChannelSink, o: &Outcome) -> Result<usize, SinkError> {
    runtime().block_on(s.deliver_batch(&[entry(o, 1)]))
}

fn outcome(v: Value) -> Outcome {
    serde_json::from_value(v).unwrap()
}

fn normal() -> Outcome {
    outcome(json!({
        "job": "nightly-db", "host": "db01", "status": "failure", "tool": "restic",
        "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
        "bytes": 44_237_000_000u64, "files": 4200,
        "items": [{"name": "vm-ok", "status": "success", "bytes": 1000},
                  {"name": "vm-bad", "status": "failure", "message": "snapshot failed"}],
        "summary": "1 of 2 guests backed up",
        "errors": ["vm-bad: snapshot failed: timeout after 600s"]
    }))
}

/// 5,000 characters of everything a chat platform might interpret, with `@everyone`.
fn hostile_line() -> String {
    let unit = "*b* **B** _i_ __u__ ~s~ ~~S~~ ||spoil|| `c` ```fence``` ~~~ <b>html</b> &amp; &lt; \
                <!channel> <!here> <!everyone> <@U123> <@&456> <#C789|x> <t:1:R> \
                [x](https://evil.example/p) <https://evil.example|click> # head > quote - list 1. n \
                \\ $x$ :smile: @everyone @here @channel @all ~town-square\n";
    let mut s = String::new();
    while chars(&s) < 5000 {
        s.push_str(unit);
    }
    s.chars().take(5000).collect()
}

fn hostile() -> Outcome {
    let line = hostile_line();
    let mut errors = vec![line.clone(); 30];
    errors.push("the last error".into());
    outcome(json!({
        "job": "db_*main* @here <!channel>", "host": "db01", "status": "failure",
        "finished": "2026-11-24T02:03:10Z",
        "items": (0..60).map(|i| json!({"name": format!("vm{i} @everyone"), "status": "failure", "message": line.clone()})).collect::<Vec<_>>(),
        "summary": line.clone(),
        "errors": errors,
        "warnings": [line.clone()]
    }))
}

#[track_caller]
fn assert_no_token(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "the token shows in {what}: {text}");
}

/// Every platform: a normal outcome and the hostile one are valid; the hostile one is
/// delivered whole (no plain retry needed) and harmless.
#[test]
fn every_platform_takes_a_normal_and_a_hostile_message() {
    type Check = fn(&Request) -> Result<(), String>;
    let platforms: [(&str, &str, Check); 3] = [
        ("slack", "/services/T0/B0/", slack_check),
        ("mattermost", "/hooks/", mattermost_check),
        ("discord", "/api/webhooks/123/", discord_check),
    ];
    for (kind, path, check) in platforms {
        let double = HttpDouble::start();
        double.validate(check);
        if kind == "discord" {
            double.set_default(Reply::json(200, json!({"id": "1", "type": 0})));
        }
        let s = sink(kind, &double.url(&format!("{path}{TOKEN}")), "");
        assert_eq!(
            deliver(&s, &normal()),
            Ok(1),
            "{kind}: {:?}",
            double.violations()
        );
        assert_eq!(
            deliver(&s, &hostile()),
            Ok(1),
            "{kind}: {:?}",
            double.violations()
        );
        let got = double.requests();
        assert_eq!(
            got.len(),
            2,
            "{kind}: a plain retry was needed: {:?}",
            double.violations()
        );
        assert!(
            double.violations().is_empty(),
            "{kind}: {:?}",
            double.violations()
        );
        let hostile = got[1].text();
        assert!(
            hostile.contains("the last error") || hostile.contains("more)"),
            "{kind}"
        );
        assert_no_token("the sink's name", &s.name());
        eprintln!(
            "{kind}: normal {} bytes, hostile {} bytes",
            got[0].body.len(),
            got[1].body.len()
        );
    }
}

/// What each platform's normal message says, in its own dialect.
#[test]
fn each_message_says_the_status_in_words() {
    let slack = HttpDouble::start();
    let s = sink(
        "slack",
        &slack.url(&format!("/services/T/B/{TOKEN}")),
        "channel = \"#ops\"\nusername = \"Backups\"\nicon_emoji = \":floppy_disk:\"",
    );
    deliver(&s, &normal()).unwrap();
    let v = slack.requests()[0].json();
    assert_eq!(
        v["text"],
        "[CRITICAL] nightly-db on db01: 1 of 2 guests backed up"
    );
    assert_eq!(v["channel"], "#ops");
    assert_eq!(v["icon_emoji"], ":floppy_disk:");
    let a = &v["attachments"][0];
    assert_eq!(a["color"], "#E01E5A");
    assert_eq!(
        a["blocks"][0]["text"]["text"],
        "❌ nightly-db FAILED on db01"
    );
    assert!(a["blocks"][3]["text"]["text"]
        .as_str()
        .unwrap()
        .starts_with("*Items (2, problems first)*\n```\nvm-bad: failure, snapshot failed\n"));

    let mm = HttpDouble::start();
    let s = sink(
        "mattermost",
        &mm.url(&format!("/hooks/{TOKEN}")),
        "channel = \"backups\"",
    );
    deliver(&s, &normal()).unwrap();
    let v = mm.requests()[0].json();
    assert_eq!(v["channel"], "backups");
    assert_eq!(v["attachments"][0]["title"], "❌ nightly-db FAILED on db01");
    assert_eq!(
        v["attachments"][0]["fields"][0]["value"],
        "FAILED (CRITICAL)"
    );

    let dc = HttpDouble::start();
    dc.set_default(Reply::json(200, json!({"id": "1"})));
    let s = sink(
        "discord",
        &dc.url(&format!("/api/webhooks/1/{TOKEN}?thread_id=9&wait=false")),
        "username = \"Backups\"",
    );
    deliver(&s, &normal()).unwrap();
    let r = &dc.requests()[0];
    assert_eq!(
        r.path,
        format!("/api/webhooks/1/{TOKEN}?thread_id=9&wait=true")
    );
    let v = r.json();
    assert_eq!(v["username"], "Backups");
    assert_eq!(v["embeds"][0]["title"], "❌ nightly-db FAILED on db01");
    assert_eq!(v["embeds"][0]["color"], 14_687_834);
    assert_eq!(v["embeds"][0]["timestamp"], "2026-11-24T02:03:10Z");
}

/// (reply, expected class, a word the message must hold) for each documented answer.
fn replay(kind: &str, path: &str, cases: Vec<(Reply, FailureClass, &str)>) {
    for (reply, class, word) in cases {
        let double = HttpDouble::start();
        let status = reply.status;
        double.set_default(reply);
        let s = sink(kind, &double.url(&format!("{path}{TOKEN}")), "");
        let e = deliver(&s, &normal()).unwrap_err();
        assert_eq!(e.class, class, "{kind} {status}: {e}");
        assert!(e.message.contains(word), "{kind} {status}: {}", e.message);
        assert_no_token("an error", &e.message);
        // A refused payload was sent once more in plain form; nothing else is ever repeated.
        let want = if class == FailureClass::Rejected {
            2
        } else {
            1
        };
        assert_eq!(double.count(), want, "{kind} {status}: {e}");
    }
}

#[test]
fn slack_errors_are_classified_as_documented() {
    use FailureClass::*;
    let text = |s: u16, b: &str| {
        Reply::status(s)
            .header("content-type", "text/plain")
            .body(b.to_string())
    };
    replay(
        "slack",
        "/services/T/B/",
        vec![
            (
                text(404, "no_service"),
                Dead,
                "the webhook was disabled or removed",
            ),
            (text(404, "channel_not_found"), Dead, "channel_not_found"),
            (text(404, "no_team"), Dead, "no_team"),
            (
                text(410, "channel_is_archived"),
                Dead,
                "the channel is archived",
            ),
            (text(403, "action_prohibited"), Dead, "action_prohibited"),
            (text(403, "invalid_token"), Dead, "invalid_token"),
            (text(400, "invalid_token"), Dead, "revoked"),
            (text(400, "invalid_blocks"), Rejected, "the plain form too"),
            (text(500, "rollup_error"), Retryable, "rollup_error"),
        ],
    );
    // 429: exactly Retry-After.
    let double = HttpDouble::start();
    double.set_default(Reply::too_many("2"));
    let s = sink("slack", &double.url(&format!("/x/{TOKEN}")), "");
    let e = deliver(&s, &normal()).unwrap_err();
    assert_eq!(
        (e.class, e.after),
        (Retryable, Some(Duration::from_secs(2)))
    );
    // Refused in full, taken plain: delivered, the plain form is text only.
    let double = HttpDouble::start();
    double.script([Reply::status(400).body("invalid_blocks")]);
    let s = sink("slack", &double.url(&format!("/x/{TOKEN}")), "");
    assert_eq!(deliver(&s, &hostile()), Ok(1));
    let got = double.requests();
    let plain = got[1].json();
    assert!(plain.get("attachments").is_none() && plain.get("blocks").is_none());
    assert!(slack_check(&got[1]).is_ok(), "{:?}", slack_check(&got[1]));
    assert!(chars(plain["text"].as_str().unwrap()) <= 3000);
}

#[test]
fn mattermost_errors_are_classified_as_documented() {
    use FailureClass::*;
    let app = |status: u16, id: &str| {
        Reply::json(
            status,
            json!({"id": id, "message": "Unable to do that.", "detailed_error": "",
            "request_id": "abc", "status_code": status}),
        )
    };
    replay(
        "mattermost",
        "/hooks/",
        vec![
            (
                app(400, "web.incoming_webhook.invalid.app_error"),
                Dead,
                "the webhook does not exist",
            ),
            (
                app(404, "web.incoming_webhook.channel.app_error"),
                Dead,
                "the channel does not exist",
            ),
            (
                app(403, "web.incoming_webhook.channel_locked.app_error"),
                Dead,
                "locked",
            ),
            (
                app(403, "web.incoming_webhook.permissions.app_error"),
                Dead,
                "private channel",
            ),
            (
                app(501, "web.incoming_webhook.disabled.app_error"),
                Dead,
                "disabled",
            ),
            (
                app(400, "web.incoming_webhook.parse.app_error"),
                Rejected,
                "the plain form too",
            ),
            (
                app(500, "app.post.save.app_error"),
                Retryable,
                "app.post.save.app_error",
            ),
        ],
    );
    let double = HttpDouble::start();
    double.set_default(
        app(429, "api.context.rate_limit")
            .header("x-ratelimit-limit", "10")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "4"),
    );
    let s = sink("mattermost", &double.url(&format!("/hooks/{TOKEN}")), "");
    let e = deliver(&s, &normal()).unwrap_err();
    assert_eq!(
        (e.class, e.after),
        (Retryable, Some(Duration::from_secs(4))),
        "{e}"
    );
    // Refused in full, taken plain: one post, text only, still within 16,383 runes.
    let double = HttpDouble::start();
    double.script([app(400, "web.incoming_webhook.parse.app_error")]);
    let s = sink("mattermost", &double.url(&format!("/hooks/{TOKEN}")), "");
    assert_eq!(deliver(&s, &hostile()), Ok(1));
    let got = double.requests();
    assert!(got[1].json().get("attachments").is_none());
    assert!(
        mattermost_check(&got[1]).is_ok(),
        "{:?}",
        mattermost_check(&got[1])
    );
}

#[test]
fn discord_errors_are_classified_as_documented() {
    use FailureClass::*;
    let err = |status: u16, body: Value| Reply::json(status, body);
    replay(
        "discord",
        "/api/webhooks/1/",
        vec![
            (
                err(404, json!({"message": "Unknown Webhook", "code": 10015})),
                Dead,
                "code 10015",
            ),
            (
                err(
                    401,
                    json!({"message": "Invalid Webhook Token", "code": 50027}),
                ),
                Dead,
                "code 50027",
            ),
            (
                err(
                    400,
                    json!({"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0":
            {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}}),
                ),
                Rejected,
                "embeds.0.description: Must be 4096 or fewer in length.",
            ),
            (err(502, json!(null)), Retryable, "HTTP 502"),
            (
                err(500, json!({"message": "API overloaded", "code": 130000})),
                Retryable,
                "130000",
            ),
        ],
    );
    // 429: exactly the body's float seconds, not the header's whole ones.
    let double = HttpDouble::start();
    double.set_default(
        err(429, json!({"message": "You are being rate limited.", "retry_after": 0.347, "global": false}))
            .header("retry-after", "1")
            .header("x-ratelimit-scope", "user"),
    );
    let s = sink(
        "discord",
        &double.url(&format!("/api/webhooks/1/{TOKEN}")),
        "",
    );
    let e = deliver(&s, &normal()).unwrap_err();
    assert_eq!(
        (e.class, e.after),
        (Retryable, Some(Duration::from_secs_f64(0.347))),
        "{e}"
    );
    // A refused embed: once more as plain content, which the double takes.
    let double = HttpDouble::start();
    double.script([err(
        400,
        json!({"code": 50035, "message": "Invalid Form Body", "errors": {}}),
    )]);
    double.set_default(Reply::json(200, json!({"id": "1"})));
    let s = sink(
        "discord",
        &double.url(&format!("/api/webhooks/1/{TOKEN}")),
        "",
    );
    assert_eq!(deliver(&s, &hostile()), Ok(1));
    let got = double.requests();
    let plain = got[1].json();
    assert!(plain.get("embeds").is_none());
    assert!(chars(plain["content"].as_str().unwrap()) <= 2000);
    assert!(
        discord_check(&got[1]).is_ok(),
        "{:?}",
        discord_check(&got[1])
    );
}

/// `X-RateLimit-Remaining: 0` with `Reset-After: 0.6`: the next message waits 0.6 s before it
/// is sent (no 429 provoked); with room left, it goes at once.
#[test]
fn discord_waits_for_an_empty_bucket_before_sending() {
    let double = HttpDouble::start();
    double.script([Reply::json(200, json!({"id": "1"}))
        .header("x-ratelimit-limit", "5")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset-after", "0.6")]);
    double.set_default(Reply::json(200, json!({"id": "2"})).header("x-ratelimit-remaining", "4"));
    let s = sink(
        "discord",
        &double.url(&format!("/api/webhooks/1/{TOKEN}")),
        "",
    );
    let rt = runtime();
    for i in 0..3 {
        assert_eq!(rt.block_on(s.deliver_batch(&[entry(&normal(), i)])), Ok(1));
    }
    let got = double.requests();
    let (gap1, gap2) = (got[1].at - got[0].at, got[2].at - got[1].at);
    eprintln!("after Remaining: 0 / Reset-After: 0.6 -> {gap1:?}; with room -> {gap2:?}");
    assert!(gap1 >= Duration::from_millis(590), "{gap1:?}");
    assert!(gap2 < Duration::from_millis(300), "{gap2:?}");
}

// ---- the real agent ----

fn agent_config(s: &Setup, nsca: u16, heartbeat: &str, channels: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "{heartbeat}"
quiet_period = "1s"

[nsca]
server = "127.0.0.1:{nsca}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "3s"

[[watch]]
path = "WATCHED"
format = "native"
{channels}
"#
    ));
}

fn channel(name: &str, kind: &str, url: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"{kind}\"\nwhen = \"always\"\nurl = \"{url}\"\n"
    )
}

fn spooled(s: &Setup, name: &str) -> usize {
    std::fs::read_dir(s.state.join("spool").join(name).join("new"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn ids_of(got: &[Request]) -> HashMap<usize, usize> {
    let mut per = HashMap::new();
    for r in got {
        if let Some(id) = id_of(&r.text()) {
            *per.entry(id).or_default() += 1;
        }
    }
    per
}

/// Discord answers the first message 429 with `retry_after: 1.5`: the agent waits exactly
/// that (not the header's 2), then every outcome arrives exactly once.
#[test]
fn discord_429_delivers_every_outcome_exactly_once() {
    const N: usize = 5;
    let s = Setup::new();
    let peer = Peer::start(0);
    let dc = HttpDouble::start();
    dc.validate(discord_check);
    dc.script([Reply::json(
        429,
        json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false}),
    )
    .header("retry-after", "2")]);
    dc.set_default(Reply::json(200, json!({"id": "1"})));
    agent_config(
        &s,
        peer.port(),
        "off",
        &channel(
            "dc",
            "discord",
            &dc.url(&format!("/api/webhooks/1/{TOKEN}")),
        ),
    );
    let agent = s.start_agent();
    let lines: String = (0..N)
        .map(|i| result_json("nightly", "failure", i))
        .collect();
    s.drop_file("r.json", &lines);
    let got = dc.wait_until(Duration::from_secs(30), |r| ids_of(r).len() == N);
    std::thread::sleep(Duration::from_millis(800));
    let got_all = dc.requests();
    let per = ids_of(&got_all);
    assert_eq!(per.len(), N, "{}", agent.log_text());
    // The 429'd one was sent twice (once refused); every outcome was accepted exactly once.
    assert_eq!(got_all.len(), N + 1, "{}", agent.log_text());
    let refused = id_of(&got[0].text()).unwrap();
    for (id, n) in &per {
        assert_eq!(*n, if *id == refused { 2 } else { 1 }, "id {id}");
    }
    let gap = got[1].at - got[0].at;
    eprintln!("discord 429 retry_after 1.5 (Retry-After: 2) -> next attempt after {gap:?}");
    assert!(
        gap >= Duration::from_millis(1500) && gap < Duration::from_millis(1950),
        "{gap:?}"
    );
    assert!(dc.violations().is_empty(), "{:?}", dc.violations());
    assert_eq!(spooled(&s, "dc"), 0);
    let log = agent.log_text();
    assert!(log.contains("Discord asks to retry after 1.500s"), "{log}");
    assert_no_token("the log", &log);
}

/// Slack is down (connection refused) while 8 outcomes arrive; NSCA gets them meanwhile;
/// once Slack is back on the same port, each arrives exactly once, one a second.
#[test]
fn slack_outage_then_every_outcome_exactly_once_paced() {
    const N: usize = 8;
    let s = Setup::new();
    let peer = Peer::start(0);
    let mut slack = HttpDouble::start();
    slack.validate(slack_check);
    slack.stop();
    agent_config(
        &s,
        peer.port(),
        "off",
        &channel("sl", "slack", &slack.url(&format!("/services/T/B/{TOKEN}"))),
    );
    let agent = s.start_agent();
    let lines: String = (0..N)
        .map(|i| result_json("nightly", "failure", i))
        .collect();
    s.drop_file("r.json", &lines);
    let got = peer.wait_ids(N, Duration::from_secs(20));
    assert_eq!(distinct_ids(&got, N), N);
    assert!(wait_for(Duration::from_secs(10), || spooled(&s, "sl") == N));
    std::thread::sleep(Duration::from_secs(2));
    slack.restart();
    let t0 = Instant::now();
    let got = slack.wait_until(Duration::from_secs(60), |r| ids_of(r).len() == N);
    let took = t0.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    let all = slack.requests();
    assert_eq!(
        all.len(),
        N,
        "duplicates or missing: {:?}\n{}",
        ids_of(&all),
        agent.log_text()
    );
    assert!(ids_of(&all).values().all(|n| *n == 1));
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    eprintln!("slack back: {N} delivered in {took:?}, gaps {gaps:?}");
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(990)),
        "{gaps:?}"
    );
    assert!(slack.violations().is_empty(), "{:?}", slack.violations());
    assert_eq!(spooled(&s, "sl"), 0);
    assert_no_token("the log", &agent.log_text());
}

/// A deleted Discord webhook (404, code 10015): asked once, never again (Discord bans
/// addresses that keep sending invalid requests); the heartbeat says the channel is dead, the
/// outcomes stay spooled, NSCA goes on.
#[test]
fn discord_404_is_asked_once_and_never_again() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let dc = HttpDouble::start();
    dc.set_default(Reply::json(
        404,
        json!({"message": "Unknown Webhook", "code": 10015}),
    ));
    agent_config(
        &s,
        peer.port(),
        "1s",
        &channel(
            "dc",
            "discord",
            &dc.url(&format!("/api/webhooks/1/{TOKEN}")),
        ),
    );
    let agent = s.start_agent();
    for i in 1..=3 {
        s.drop_file(&format!("r{i}.json"), &result_json("nightly", "failure", i));
    }
    let got = peer.wait_until(Duration::from_secs(20), |g| {
        (1..=3).all(|i| g.iter().any(|c| id_of(&c.output) == Some(i)))
            && g.iter()
                .rev()
                .find(|c| c.service == "nagbridge")
                .is_some_and(|h| h.output.contains("is dead"))
    });
    let hb = got
        .iter()
        .rev()
        .find(|c| c.service == "nagbridge")
        .unwrap_or_else(|| panic!("no heartbeat\n{}", agent.log_text()));
    assert!(hb.output.contains("code 10015"), "{}", hb.output);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(dc.count(), 1, "a 404 was asked again");
    assert_eq!(spooled(&s, "dc"), 3);
    let hbs: String = got.iter().map(|c| c.output.clone()).collect();
    assert_no_token("the heartbeat", &hbs);
    assert_no_token("the log", &agent.log_text());
}

/// `nagbridge test`: each chat channel gets the sample (whatever `when` says); a dead
/// Mattermost hook is named with Mattermost's reason; no token is printed.
#[test]
fn nagbridge_test_reaches_each_chat_channel_and_names_a_dead_one() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let (sl, mm, dc) = (
        HttpDouble::start(),
        HttpDouble::start(),
        HttpDouble::start(),
    );
    sl.validate(slack_check);
    dc.validate(discord_check);
    dc.set_default(Reply::json(200, json!({"id": "1"})));
    mm.set_default(Reply::json(
        400,
        json!({"id": "web.incoming_webhook.invalid.app_error",
        "message": "Invalid webhook.", "status_code": 400}),
    ));
    let channels = [
        channel("sl", "slack", &sl.url(&format!("/services/T/B/{TOKEN}"))),
        channel("mm", "mattermost", &mm.url(&format!("/hooks/{TOKEN}"))),
        channel(
            "dc",
            "discord",
            &dc.url(&format!("/api/webhooks/1/{TOKEN}")),
        ),
    ]
    .concat()
    .replace("when = \"always\"", "when = \"never\"");
    agent_config(&s, peer.port(), "off", &channels);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args([
            "test",
            "-c",
            s.config.to_str().unwrap(),
            "--status",
            "failure",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let port = |d: &HttpDouble| d.port();
    assert_eq!(
        lines[1],
        format!(
            "OK   sl (slack) sent: POST http://127.0.0.1:{}/<redacted>",
            port(&sl)
        )
    );
    assert!(
        lines[2].starts_with("FAILED mm (mattermost): HTTP 400 Bad Request: web.incoming_webhook.invalid.app_error (Invalid webhook.): the webhook does not exist"),
        "{text}"
    );
    assert_eq!(
        lines[3],
        format!(
            "OK   dc (discord) sent: POST http://127.0.0.1:{}/<redacted>",
            port(&dc)
        )
    );
    assert_no_token("nagbridge test", &text);
    assert_eq!(mm.count(), 1, "a dead hook is asked once");
    let v = sl.requests()[0].json();
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] nagbridge-test"),
        "{v}"
    );
    assert!(sl.violations().is_empty() && dc.violations().is_empty());
}

// ---- measurement ----

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Outcome-to-double latency per platform: one agent with a Slack, a Mattermost and a Discord
/// channel, each at its own double; N result files renamed into the watched directory 1.1 s
/// apart (above Slack's pace, so no outcome waits behind another); from each rename to the
/// arrival of its message. Prints p50/p99/max per platform.
#[test]
#[ignore = "measurement: cargo test --test channel_chat_hooks -- --ignored --nocapture"]
fn measure_outcome_to_chat_latency() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let s = Setup::new();
    let peer = Peer::start(0);
    let (sl, mm, dc) = (
        HttpDouble::start(),
        HttpDouble::start(),
        HttpDouble::start(),
    );
    sl.validate(slack_check);
    mm.validate(mattermost_check);
    dc.validate(discord_check);
    dc.set_default(Reply::json(200, json!({"id": "1"})));
    let channels = [
        channel("sl", "slack", &sl.url(&format!("/services/T/B/{TOKEN}"))),
        channel("mm", "mattermost", &mm.url(&format!("/hooks/{TOKEN}"))),
        channel(
            "dc",
            "discord",
            &dc.url(&format!("/api/webhooks/1/{TOKEN}")),
        ),
    ]
    .concat();
    agent_config(&s, peer.port(), "off", &channels);
    let agent = s.start_agent();
    std::thread::sleep(Duration::from_millis(500));
    let mut renamed = Vec::with_capacity(n);
    for i in 0..n {
        s.drop_file(
            &format!("l{i:05}.json"),
            &result_json("latency", "failure", i),
        );
        renamed.push(Instant::now());
        std::thread::sleep(Duration::from_millis(1100));
    }
    for (name, d) in [("slack", &sl), ("mattermost", &mm), ("discord", &dc)] {
        let got = d.wait_count(n, Duration::from_secs(60));
        assert_eq!(got.len(), n, "{name}\n{}", agent.log_text());
        assert!(d.violations().is_empty(), "{name}: {:?}", d.violations());
        let mut lat: Vec<Duration> = got
            .iter()
            .map(|r| r.at - renamed[id_of(&r.text()).unwrap()])
            .collect();
        lat.sort_unstable();
        println!(
            "BENCH chat={name} n={n} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat[n - 1].as_secs_f64() * 1e3
        );
    }
    println!(
        "BENCH rss_mb={:.1} hwm_mb={:.1} (NSCA + slack + mattermost + discord, after {n} outcomes)",
        agent.proc_status_kb("VmRSS") as f64 / 1048576.0,
        agent.proc_status_kb("VmHWM") as f64 / 1048576.0
    );
}
