//! Strict doubles and helpers for the tests of the Teams, Google Chat, Telegram, ntfy and
//! Gotify channels (issue 10). Each `*_validator` checks a request against the platform's
//! documented schema and limits (research/channels.md sections 4 and 5) and answers 400 with
//! the reason when it does not hold (tests/common/http_double.rs); the `*_error` functions are
//! the platforms' documented error answers. Also: a sink built from a config snippet (the same
//! code path as the agent), entries, the hostile outcome, and the agent's config.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use nagbridge::config::Config;
use nagbridge::outcome::Outcome;
use nagbridge::sinks::ChannelSink;
use nagbridge::spool::{Entry, EntryId};
use serde_json::{json, Value};

use crate::agent_support::{Setup, PASSWORD};
use crate::common::http_double::{Reply, Request};

/// The sink of a one-channel config: `name = "chat"` plus `keys` (type included).
pub fn sink(keys: &str) -> ChannelSink {
    let text = format!(
        "[agent]\nhost_name = \"backup01\"\n[nsca]\nserver = \"n\"\n\
         [[channel]]\nname = \"chat\"\n{keys}\n"
    );
    let c = Config::from_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    ChannelSink::build(&c.channels[0], "backup01").unwrap_or_else(|e| panic!("{e}"))
}

/// A spool entry for `o`.
pub fn entry(n: u64, outcome: Outcome) -> Entry {
    Entry {
        id: EntryId::new(1_795_000_000_000_000 + n, n, 4242),
        spooled_at: Utc.with_ymd_and_hms(2026, 11, 24, 2, 3, 11).unwrap(),
        outcome,
    }
}

/// A failure with every part a message shows.
pub fn failure() -> Outcome {
    serde_json::from_str(
        r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
        "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z","bytes":1234567,"files":4200,
        "items":[{"name":"vm-101","status":"success","bytes":1000},{"name":"vm-102","status":"failure","message":"I/O error"}],
        "summary":"disk full","errors":["open /srv/x: permission denied"],"warnings":["slow disk"]}"#,
    )
    .unwrap()
}

/// One line of 5,000 characters full of Markdown, HTML and mention syntax.
pub fn hostile_line() -> String {
    let head = "@everyone @here <!channel> <users/all> <at>all</at> **bold** __u__ *i* _i_ ~~s~~ \
                `code` ```fence``` [link](https://evil.example/x) ![img](https://evil.example/i.png) \
                <b>b</b> <script>alert(1)</script> &amp; &lt; &#64; {{DATE(2026-01-01T00:00:00Z)}} \
                # heading\n- list\n1. item\n> quote | table | ";
    let mut s = head.to_string();
    let filler = "*_`~#[]()<>&|\\!@-+.=\"'";
    while s.chars().count() < 5000 {
        s.push_str(filler);
    }
    s.chars().take(5000).collect()
}

/// A failure whose job name, summary, item and errors are hostile: the 5,000-character line
/// as an error (twice), with `@everyone` in the job name and summary.
pub fn hostile() -> Outcome {
    let mut o = failure();
    o.job = "@everyone <b>db</b> *job* [x](http://e)".into();
    o.summary = Some("@here **disk** <i>full</i> `x` & <users/all>".into());
    o.errors = vec![hostile_line(), hostile_line(), "short & <plain>".into()];
    o.items[1].message = Some("@everyone <script>x</script> **m**".into());
    o
}

/// `Err` unless `r` is a JSON POST (`content-type: application/json`, maybe with a charset).
pub fn json_post(r: &Request) -> Result<Value, String> {
    if r.method != "POST" {
        return Err(format!("method {}", r.method));
    }
    if !r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return Err(format!("content-type {:?}", r.header("content-type")));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))
}

// ---- HTML subsets (Telegram, Google Chat cards) ----

/// Check `html` against an HTML subset: only `allowed` tags (attributes only as
/// `attrs(tag)` allows), balanced where `closing` says, entities only `&lt; &gt; &amp; &quot;`
/// and numeric. Returns the text after parsing (what the user sees).
pub fn parse_html(
    html: &str,
    allowed: &[&str],
    void: &[&str],
    attrs: &dyn Fn(&str, &str) -> bool,
) -> Result<String, String> {
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let end = rest
                .find('>')
                .ok_or_else(|| "can't parse entities: unclosed start tag".to_string())?;
            let inner = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = inner.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => {
                        return Err(format!(
                            "can't parse entities: unmatched end tag {name:?} (open {other:?})"
                        ))
                    }
                }
                continue;
            }
            let (name, attr) = match inner.split_once(char::is_whitespace) {
                Some((n, a)) => (n.to_ascii_lowercase(), a.trim().to_string()),
                None => (inner.trim().to_ascii_lowercase(), String::new()),
            };
            if !allowed.contains(&name.as_str()) && !void.contains(&name.as_str()) {
                return Err(format!(
                    "can't parse entities: unsupported start tag {name:?}"
                ));
            }
            if !attr.is_empty() && !attrs(&name, &attr) {
                return Err(format!("attribute {attr:?} not allowed on {name}"));
            }
            if void.contains(&name.as_str()) {
                if name == "br" {
                    out.push('\n');
                }
            } else {
                stack.push(name);
            }
        } else if c == '&' {
            let end = rest
                .find(';')
                .filter(|e| *e <= 10)
                .ok_or_else(|| "can't parse entities: bare &".to_string())?;
            let ent = &rest[1..end];
            let ch = match ent {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                e if e.starts_with('#') => e[1..]
                    .parse::<u32>()
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad entity &{e};"))?,
                e => return Err(format!("can't parse entities: unknown entity &{e};")),
            };
            out.push(ch);
            rest = &rest[end + 1..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("can't parse entities: unclosed {open}"));
    }
    Ok(out)
}

// ---- Microsoft Teams (Workflows) ----

/// "The message size limit is 28 KB" (counted as 28,000 bytes).
pub const TEAMS_MAX: usize = 28_000;

fn teams_element(e: &Value, path: &str) -> Result<(), String> {
    let t = e["type"].as_str().unwrap_or_default();
    match t {
        "TextBlock" => {
            e["text"]
                .as_str()
                .ok_or(format!("{path}: TextBlock without text"))?;
        }
        "RichTextBlock" => {
            let inlines = e["inlines"]
                .as_array()
                .ok_or(format!("{path}: RichTextBlock without inlines"))?;
            for (i, run) in inlines.iter().enumerate() {
                if run["type"] != "TextRun" || !run["text"].is_string() {
                    return Err(format!("{path}.inlines[{i}]: not a TextRun with text"));
                }
                if let Some(c) = run.get("color") {
                    let ok = [
                        "Default",
                        "Dark",
                        "Light",
                        "Accent",
                        "Good",
                        "Warning",
                        "Attention",
                    ];
                    if !c.as_str().is_some_and(|c| ok.contains(&c)) {
                        return Err(format!("{path}.inlines[{i}]: colour {c}"));
                    }
                }
            }
        }
        "ColumnSet" => {
            for (i, c) in e["columns"]
                .as_array()
                .ok_or(format!("{path}: ColumnSet without columns"))?
                .iter()
                .enumerate()
            {
                if c["type"] != "Column" {
                    return Err(format!("{path}.columns[{i}]: not a Column"));
                }
                for (j, item) in c["items"].as_array().into_iter().flatten().enumerate() {
                    teams_element(item, &format!("{path}.columns[{i}].items[{j}]"))?;
                }
            }
        }
        "Container" => {
            for (j, item) in e["items"].as_array().into_iter().flatten().enumerate() {
                teams_element(item, &format!("{path}.items[{j}]"))?;
            }
        }
        "FactSet" => {
            for f in e["facts"]
                .as_array()
                .ok_or(format!("{path}: FactSet without facts"))?
            {
                if !f["title"].is_string() || !f["value"].is_string() {
                    return Err(format!("{path}: fact without title/value"));
                }
            }
        }
        other => return Err(format!("{path}: unknown element type {other:?}")),
    }
    Ok(())
}

/// The Workflows "Post to a channel when a webhook request is received" input: the message
/// envelope with exactly one Adaptive Card 1.0-1.5 of known elements, at most 28 KB.
pub fn teams_validator() -> impl Fn(&Request) -> Result<(), String> {
    |r: &Request| {
        if r.body.len() > TEAMS_MAX {
            return Err(format!("message of {} bytes > 28 KB", r.body.len()));
        }
        let v = json_post(r)?;
        if v["type"] != "message" {
            return Err("type is not \"message\"".into());
        }
        let a = v["attachments"]
            .as_array()
            .filter(|a| a.len() == 1)
            .ok_or("attachments must hold one card")?;
        if a[0]["contentType"] != "application/vnd.microsoft.card.adaptive" {
            return Err(format!("contentType {}", a[0]["contentType"]));
        }
        let c = &a[0]["content"];
        if c["type"] != "AdaptiveCard" {
            return Err("content.type is not AdaptiveCard".into());
        }
        let version = c["version"].as_str().unwrap_or_default();
        if !["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"].contains(&version) {
            return Err(format!("version {version:?}"));
        }
        let body = c["body"].as_array().ok_or("content.body is not a list")?;
        if body.is_empty() {
            return Err("empty card".into());
        }
        for (i, e) in body.iter().enumerate() {
            teams_element(e, &format!("body[{i}]"))?;
        }
        Ok(())
    }
}

/// A Power Automate error answer.
pub fn teams_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"code": code, "message": message}}))
}

// ---- Google Chat ----

/// "The maximum message size, including the message contents, is 32,000 bytes."
pub const GOOGLECHAT_MAX: usize = 32_000;

/// Card text: Google's HTML subset (b, i, u, s, strike, font color, a href, br).
pub fn google_card_html(text: &str) -> Result<String, String> {
    parse_html(
        text,
        &["b", "i", "u", "s", "strike", "font", "a"],
        &["br"],
        &|tag, attr| {
            (tag == "font" && attr.starts_with("color=\"#") && attr.ends_with('"'))
                || (tag == "a" && attr.starts_with("href=\"https://"))
        },
    )
}

/// An incoming webhook's create request: `key`, `token` (and our `requestId`) in the query,
/// `text` and/or `cardsV2` (each with `cardId` and a card whose widgets are known and whose
/// HTML is Google's subset), at most 32,000 bytes.
pub fn googlechat_validator(
    key: &'static str,
    token: &'static str,
) -> impl Fn(&Request) -> Result<(), String> {
    move |r: &Request| {
        if r.body.len() > GOOGLECHAT_MAX {
            return Err(format!("message of {} bytes > 32,000", r.body.len()));
        }
        let q = r.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
        for want in [format!("key={key}"), format!("token={token}")] {
            if !q.split('&').any(|p| p == want) {
                return Err(format!("query lacks {want}"));
            }
        }
        if !q
            .split('&')
            .any(|p| p.starts_with("requestId=") && p.len() > 10)
        {
            return Err("no requestId".into());
        }
        let v = json_post(r)?;
        let text = v.get("text");
        let cards = v.get("cardsV2");
        if text.is_none() && cards.is_none() {
            return Err("neither text nor cardsV2".into());
        }
        if let Some(t) = text {
            t.as_str().ok_or("text is not a string")?;
        }
        for (i, c) in cards
            .map(|c| c.as_array().cloned().ok_or("cardsV2 is not a list"))
            .transpose()?
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if !c["cardId"].is_string() {
                return Err(format!("cardsV2[{i}] without cardId"));
            }
            let card = &c["card"];
            if let Some(h) = card.get("header") {
                h["title"].as_str().ok_or("header without title")?;
            }
            for (j, s) in card["sections"]
                .as_array()
                .ok_or("card without sections")?
                .iter()
                .enumerate()
            {
                if let Some(h) = s.get("header") {
                    google_card_html(h.as_str().ok_or("section header not a string")?)
                        .map_err(|e| format!("sections[{j}].header: {e}"))?;
                }
                for (k, w) in s["widgets"]
                    .as_array()
                    .ok_or("section without widgets")?
                    .iter()
                    .enumerate()
                {
                    let obj = w.as_object().ok_or("widget is not an object")?;
                    if obj.len() != 1 {
                        return Err(format!("widget {j}/{k} has {} kinds", obj.len()));
                    }
                    let at = format!("sections[{j}].widgets[{k}]");
                    if let Some(p) = w.get("textParagraph") {
                        google_card_html(p["text"].as_str().ok_or("textParagraph without text")?)
                            .map_err(|e| format!("{at}: {e}"))?;
                    } else if let Some(d) = w.get("decoratedText") {
                        google_card_html(d["text"].as_str().ok_or("decoratedText without text")?)
                            .map_err(|e| format!("{at}: {e}"))?;
                    } else {
                        return Err(format!("{at}: unknown widget {:?}", obj.keys().next()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A Google API error answer.
pub fn google_error(code: u16, status: &str, message: &str, details: Value) -> Reply {
    Reply::json(
        code,
        json!({"error": {"code": code, "message": message, "status": status, "details": details}}),
    )
}

/// What a webhook answers on success.
pub fn google_ok() -> Reply {
    Reply::json(
        200,
        json!({"name": "spaces/AAAA/messages/x.y", "thread": {"name": "spaces/AAAA/threads/y"}}),
    )
}

// ---- Telegram ----

/// `parse_mode: HTML` text: Telegram's tags and entities; the text after parsing.
pub fn telegram_html(text: &str) -> Result<String, String> {
    parse_html(
        text,
        &[
            "b",
            "strong",
            "i",
            "em",
            "u",
            "ins",
            "s",
            "strike",
            "del",
            "a",
            "code",
            "pre",
            "blockquote",
            "tg-spoiler",
            "span",
        ],
        &[],
        &|tag, attr| {
            (tag == "a" && attr.starts_with("href=\""))
                || (tag == "span" && attr == "class=\"tg-spoiler\"")
        },
    )
}

/// `sendMessage` for `token` to `chat_id`: path, JSON, `text` 1-4096 UTF-16 units after entity
/// parsing, `parse_mode` HTML (parsed strictly) or absent.
pub fn telegram_validator(
    token: &'static str,
    chat_id: Value,
) -> impl Fn(&Request) -> Result<(), String> {
    move |r: &Request| {
        if r.path != format!("/bot{token}/sendMessage") {
            return Err(format!("path {}", r.path));
        }
        let v = json_post(r)?;
        if v["chat_id"] != chat_id {
            return Err(format!("chat_id {}", v["chat_id"]));
        }
        let text = v["text"].as_str().ok_or("text is not a string")?;
        let visible = match v.get("parse_mode") {
            None => text.to_string(),
            Some(m) if m == "HTML" => telegram_html(text)?,
            Some(m) => return Err(format!("parse_mode {m}")),
        };
        let units = visible.encode_utf16().count();
        if units == 0 || units > 4096 {
            return Err(format!("Bad Request: message is too long ({units} units)"));
        }
        Ok(())
    }
}

/// A Bot API error answer.
pub fn telegram_error(code: u16, description: &str, parameters: Option<Value>) -> Reply {
    let mut v = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        v["parameters"] = p;
    }
    Reply::json(code, v)
}

/// What sendMessage answers on success.
pub fn telegram_ok() -> Reply {
    Reply::json(
        200,
        json!({"ok": true, "result": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}),
    )
}

// ---- ntfy ----

/// JSON publishing to the server's root: known keys only, `topic`, `message` of at most 4,096
/// UTF-8 bytes, `priority` 1-5, `tags` a list of strings, and the expected `Authorization`.
pub fn ntfy_validator(
    topic: &'static str,
    auth: Option<String>,
) -> impl Fn(&Request) -> Result<(), String> {
    move |r: &Request| {
        if r.path != "/" {
            return Err(format!("path {} (JSON is published to the root)", r.path));
        }
        if r.header("authorization").map(str::to_string) != auth {
            return Err(format!("authorization {:?}", r.header("authorization")));
        }
        let v = json_post(r)?;
        let known = [
            "topic", "message", "title", "tags", "priority", "markdown", "click", "actions",
            "attach", "filename", "icon", "delay", "email", "call",
        ];
        for k in v.as_object().ok_or("not an object")?.keys() {
            if !known.contains(&k.as_str()) {
                return Err(format!("unknown key {k}"));
            }
        }
        if v["topic"] != topic {
            return Err(format!("topic {}", v["topic"]));
        }
        let m = v["message"].as_str().ok_or("message is not a string")?;
        if m.len() > 4096 {
            return Err(format!("message of {} bytes > 4,096", m.len()));
        }
        if let Some(p) = v.get("priority") {
            if !p.as_u64().is_some_and(|p| (1..=5).contains(&p)) {
                return Err(format!("priority {p}"));
            }
        }
        if let Some(t) = v.get("tags") {
            if !t.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Err("tags is not a list of strings".into());
            }
        }
        Ok(())
    }
}

/// An ntfy error answer.
pub fn ntfy_error(status: u16, code: u32, error: &str) -> Reply {
    Reply::json(
        status,
        json!({"code": code, "http": status, "error": error, "link": "https://ntfy.sh/docs/publish/"}),
    )
}

/// What ntfy answers on success.
pub fn ntfy_ok() -> Reply {
    Reply::json(
        200,
        json!({"id": "abc", "time": 1, "event": "message", "topic": "t", "message": "m"}),
    )
}

// ---- Gotify ----

/// `POST /message` with the application token in `X-Gotify-Key`: JSON with a non-empty
/// `message`, a string `title`, an integer `priority`, and `extras` in `namespace::name` form.
pub fn gotify_validator(token: &'static str) -> impl Fn(&Request) -> Result<(), String> {
    move |r: &Request| {
        if r.path != "/message" {
            return Err(format!("path {}", r.path));
        }
        if r.header("x-gotify-key") != Some(token) {
            return Err("no valid X-Gotify-Key".into());
        }
        let v = json_post(r)?;
        if v["message"].as_str().is_none_or(str::is_empty) {
            return Err("Field 'message' is required".into());
        }
        if let Some(t) = v.get("title") {
            t.as_str().ok_or("title is not a string")?;
        }
        if let Some(p) = v.get("priority") {
            p.as_i64().ok_or("priority is not an integer")?;
        }
        if let Some(e) = v.get("extras") {
            for (k, x) in e.as_object().ok_or("extras is not an object")? {
                if k.split("::").count() != 2 || !x.is_object() {
                    return Err(format!("extras key {k} is not namespace::name"));
                }
            }
            if let Some(d) = e.get("client::display") {
                if !["text/plain", "text/markdown"]
                    .contains(&d["contentType"].as_str().unwrap_or(""))
                {
                    return Err("client::display.contentType".into());
                }
            }
        }
        Ok(())
    }
}

/// A Gotify error answer.
pub fn gotify_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": error, "errorCode": status, "errorDescription": description}),
    )
}

// ---- the agent ----

/// The agent's config: NSCA at `nsca`, heartbeat `heartbeat`, one `[[channel]]` named "chat"
/// with `channel` (type and keys; `when = "always"` unless it says).
pub fn agent_config(s: &Setup, nsca: u16, heartbeat: &str, channel: &str) {
    let when = if channel.contains("when =") {
        ""
    } else {
        "when = \"always\""
    };
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

[[channel]]
name = "chat"
{when}
{channel}
"#
    ));
}

/// Entries in `spool/chat/<dir>` (`.why` files not counted).
pub fn chat_spool(s: &Setup, dir: &str) -> usize {
    std::fs::read_dir(s.state.join("spool/chat").join(dir))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".why"))
                .count()
        })
        .unwrap_or(0)
}

/// The p-th percentile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---- agent-level checks shared by the platforms ----

use crate::agent_support::{distinct_ids, id_of, result_json, wait_for, Peer};
use crate::common::http_double::HttpDouble;
use std::collections::HashMap;
use std::time::Instant;

/// The outcome id (`id=NNNNN` of the summary) a request carries.
pub fn id_in(r: &Request) -> Option<usize> {
    id_of(&r.text())
}

/// How many requests carried each id.
pub fn per_id(got: &[Request]) -> HashMap<usize, usize> {
    let mut m: HashMap<usize, usize> = HashMap::new();
    for r in got {
        if let Some(id) = id_in(r) {
            *m.entry(id).or_default() += 1;
        }
    }
    m
}

/// The real agent with one channel (`channel` from `block(double)`): the double answers the
/// first request with `refusal` (a 429 in the platform's own form), then accepts. `n` outcomes
/// are dropped; each must reach the double exactly once more than it was refused, the
/// refused one after at least `min_gap`; nothing stays spooled. Returns the gap.
pub fn exactly_once_through_a_429(
    double: &HttpDouble,
    block: &str,
    refusal: Reply,
    n: usize,
    min_gap: Duration,
) -> Duration {
    let s = Setup::new();
    let peer = Peer::start(0);
    double.script([refusal]);
    agent_config(&s, peer.port(), "off", block);
    let agent = s.start_agent();
    let lines: String = (0..n).map(|i| result_json("rated", "failure", i)).collect();
    s.drop_file("r.json", &lines);
    let got = double.wait_until(Duration::from_secs(60 + 6 * n as u64), |r| {
        per_id(r).len() == n && r.len() > n
    });
    assert_eq!(per_id(&got).len(), n, "{}", agent.log_text());
    assert!(double.violations().is_empty(), "{:?}", double.violations());
    // The refused request and its retry carry the same outcome.
    let first = id_in(&got[0]).unwrap();
    let again = got[1..]
        .iter()
        .position(|r| id_in(r) == Some(first))
        .map(|i| i + 1)
        .expect("the refused outcome is sent again");
    let gap = got[again].at - got[0].at;
    assert!(gap >= min_gap, "retried after {gap:?} < {min_gap:?}");
    assert!(wait_for(Duration::from_secs(10), || chat_spool(&s, "new") == 0));
    std::thread::sleep(Duration::from_millis(500));
    let got = double.requests();
    assert_eq!(
        got.len(),
        n + 1,
        "one refusal, then each once:\n{}",
        agent.log_text()
    );
    let counts = per_id(&got);
    for i in 0..n {
        let want = if i == first { 2 } else { 1 };
        assert_eq!(counts.get(&i), Some(&want), "outcome {i}");
    }
    assert_eq!(chat_spool(&s, "quarantine"), 0);
    assert_eq!(distinct_ids(&peer.received(), n), n, "NSCA got each");
    gap
}

/// The real agent with one channel whose double is down while `n` outcomes arrive: NSCA gets
/// them all meanwhile; once the double is up (same port), each reaches it exactly once.
/// Returns (time for NSCA, time for the channel after the restart).
pub fn exactly_once_through_an_outage(
    double: &mut HttpDouble,
    block: &str,
    n: usize,
) -> (Duration, Duration) {
    let s = Setup::new();
    let peer = Peer::start(0);
    double.stop();
    agent_config(&s, peer.port(), "off", block);
    let agent = s.start_agent();
    let t0 = Instant::now();
    let lines: String = (0..n)
        .map(|i| result_json("outage", "failure", i))
        .collect();
    s.drop_file("o.json", &lines);
    let got = peer.wait_ids(n, Duration::from_secs(60));
    let nsca = t0.elapsed();
    assert_eq!(distinct_ids(&got, n), n, "{}", agent.log_text());
    assert!(wait_for(Duration::from_secs(20), || chat_spool(&s, "new") == n));
    // Let the loop fail a few times against the closed port.
    std::thread::sleep(Duration::from_secs(2));
    double.restart();
    let t1 = Instant::now();
    let got = double.wait_until(Duration::from_secs(90 + 6 * n as u64), |r| {
        per_id(r).len() == n
    });
    let recovery = t1.elapsed();
    assert_eq!(per_id(&got).len(), n, "{}", agent.log_text());
    assert!(wait_for(Duration::from_secs(10), || chat_spool(&s, "new") == 0));
    std::thread::sleep(Duration::from_millis(500));
    let got = double.requests();
    assert!(double.violations().is_empty(), "{:?}", double.violations());
    assert_eq!(got.len(), n, "duplicates:\n{}", agent.log_text());
    assert!(per_id(&got).values().all(|c| *c == 1));
    assert_eq!(peer.count(), n);
    (nsca, recovery)
}

/// Outcome-to-double latency through the real agent: `n` result files renamed into the
/// watched directory `spacing` apart (more than the channel's pace, so that pacing does not
/// queue them); from each rename to the arrival of its request. Prints and returns p50, p99
/// and max.
pub fn measure_latency(
    what: &str,
    double: &HttpDouble,
    block: &str,
    n: usize,
    spacing: Duration,
) -> (Duration, Duration, Duration) {
    let s = Setup::new();
    let peer = Peer::start(0);
    agent_config(&s, peer.port(), "off", block);
    let _agent = s.start_agent();
    std::thread::sleep(Duration::from_millis(500));
    let mut renamed = Vec::with_capacity(n);
    for i in 0..n {
        let tmp = s.watched.join(format!(".l{i:05}.tmp"));
        std::fs::write(&tmp, result_json("latency", "failure", i)).unwrap();
        std::fs::rename(&tmp, s.watched.join(format!("l{i:05}.json"))).unwrap();
        renamed.push(Instant::now());
        std::thread::sleep(spacing);
    }
    let got = double.wait_count(n, Duration::from_secs(60));
    assert_eq!(got.len(), n);
    assert!(double.violations().is_empty(), "{:?}", double.violations());
    let mut lat: Vec<Duration> = got
        .iter()
        .map(|r| r.at - renamed[id_in(r).unwrap()])
        .collect();
    lat.sort_unstable();
    let (p50, p99, max) = (percentile(&lat, 0.5), percentile(&lat, 0.99), lat[n - 1]);
    println!(
        "BENCH {what} latency n={n} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    (p50, p99, max)
}
