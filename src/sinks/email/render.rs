//! An outcome as an email: the subject, a text part and an HTML part that say the same thing
//! (status in words, job, host, finish time in UTC, duration, size, items with problems first,
//! errors, warnings), and the headers that make a retry recognisable and thread the runs of one
//! job (`Message-ID`, `In-Reply-To`, `References`).
//!
//! Owns: the message's words and layout, HTML escaping, header-injection safety (no CR/LF from
//! an outcome reaches a header), the size budget of each list, and the ids. Pure: no I/O, no
//! clock (the `Date` is the time the outcome was spooled).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::config::Template;
use crate::outcome::Outcome;
use crate::sinks::content::{color_hex, fit_lines, Notice};

/// Longest subject, in characters (RFC 5322 recommends lines under 78; clients show ~100).
pub const SUBJECT_LIMIT: usize = 200;
/// Budget of each list (items, errors, warnings), in bytes: mail carries the whole list, but a
/// runaway log must not make a message that servers refuse (most take 10 to 35 MB).
pub const LIST_BUDGET: usize = 256 * 1024;
/// Longest line of a list, in characters.
pub const LINE_LIMIT: usize = 2000;

/// What identifies a message: its own id and the id of its job's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// `<entry-id.channel@agent>`: the same for every attempt at one outcome.
    pub message_id: String,
    /// `<job.hash.channel@agent>`: the same for every run of one host/job.
    pub thread_id: String,
}

/// A domain part for the ids: the agent's name reduced to letters, digits, `-` and `.`.
fn id_domain(agent: &str) -> String {
    let cleaned: String = agent
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let parts: Vec<&str> = cleaned.split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "nagbridge.invalid".into()
    } else {
        parts.join(".")
    }
}

/// The ids of the message for spool entry `entry_id` of channel `channel` (letters, digits,
/// `-`, `_`), about the job `key` (`host/job`), sent by `agent`.
pub fn ids(entry_id: &str, channel: &str, key: &str, agent: &str) -> Ids {
    let domain = id_domain(agent);
    let left = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    Ids {
        message_id: format!("<{}.{}@{domain}>", left(entry_id), left(channel)),
        thread_id: format!("<job.{hash:016x}.{}@{domain}>", left(channel)),
    }
}

/// One line for a header: control characters (CR, LF, TAB, ...) become spaces, runs of spaces
/// one, cut to `limit` characters with `…`.
pub fn header_safe(s: &str, limit: usize) -> String {
    let mut out = String::with_capacity(s.len().min(limit * 4));
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        out.push(c);
    }
    let out = out.trim();
    if out.chars().count() <= limit {
        return out.to_string();
    }
    let mut cut: String = out.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The subject: `template` filled in, on one line.
pub fn subject(template: &Template, n: &Notice, o: &Outcome) -> String {
    let tool = o.tool.clone().unwrap_or_default();
    let vars: Vec<(&str, String)> = vec![
        ("state", n.state.to_string()),
        ("status", o.status.as_str().to_string()),
        ("job", n.job.clone()),
        ("host", n.host.clone()),
        ("agent", n.agent.clone()),
        ("tool", tool),
    ];
    // Each value is made safe before it is put in: a template cannot hold CR/LF (the config
    // refuses them), so neither can the result.
    let vars: Vec<(&str, String)> = vars
        .into_iter()
        .map(|(k, v)| (k, header_safe(&v, SUBJECT_LIMIT)))
        .collect();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    header_safe(&template.render(&refs), SUBJECT_LIMIT)
}

fn fit(lines: &[String]) -> Vec<String> {
    fit_lines(lines, LIST_BUDGET, LINE_LIMIT, 1, str::len)
}

/// The lists of a notice, cut to their budgets: (heading, lines).
fn lists(n: &Notice) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    if !n.items.is_empty() {
        out.push((
            format!("Items ({}, problems first)", n.items.len()),
            fit(&n.items),
        ));
    }
    if !n.errors.is_empty() {
        out.push((format!("Errors ({})", n.errors.len()), fit(&n.errors)));
    }
    if !n.warnings.is_empty() {
        out.push((format!("Warnings ({})", n.warnings.len()), fit(&n.warnings)));
    }
    out
}

fn footer(n: &Notice, channel: &str) -> String {
    format!(
        "Sent by nagbridge on {} (channel {channel}) about job {} on {}.",
        n.agent, n.job, n.host
    )
}

/// The text part.
pub fn text(n: &Notice, channel: &str) -> String {
    let mut t = String::new();
    t.push_str(&n.title);
    t.push_str("\n\n");
    if let Some(s) = &n.summary {
        t.push_str(s);
        t.push_str("\n\n");
    }
    let width = n.facts.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
    for (label, value) in &n.facts {
        t.push_str(&format!("{:<width$}  {value}\n", format!("{label}:")));
    }
    for (heading, lines) in lists(n) {
        t.push('\n');
        t.push_str(&heading);
        t.push_str(":\n");
        for l in lines {
            t.push_str("  ");
            t.push_str(&l);
            t.push('\n');
        }
    }
    t.push_str("\n-- \n");
    t.push_str(&footer(n, channel));
    t.push('\n');
    t
}

/// `s` escaped for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML part: simple markup with inline styles (what mail clients render), the status as
/// words next to its colour.
pub fn html(n: &Notice, channel: &str) -> String {
    let e = escape_html;
    let color = color_hex(n.status);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width\">");
    h.push_str(&format!("<title>{}</title></head>\n", e(&n.title)));
    h.push_str(
        "<body style=\"margin:0;padding:16px;font-family:-apple-system,'Segoe UI',Helvetica,\
         Arial,sans-serif;font-size:14px;line-height:1.4;color:#1d1d1f;background:#ffffff\">\n",
    );
    h.push_str(&format!(
        "<div style=\"border-left:6px solid {color};padding:6px 12px;margin:0 0 16px 0\">\
         <div style=\"font-size:18px;font-weight:bold\">{}</div>",
        e(&n.title)
    ));
    if let Some(s) = &n.summary {
        h.push_str(&format!("<div style=\"margin-top:4px\">{}</div>", e(s)));
    }
    h.push_str("</div>\n<table style=\"border-collapse:collapse;margin:0 0 16px 0\">\n");
    for (label, value) in &n.facts {
        h.push_str(&format!(
            "<tr><th style=\"text-align:left;vertical-align:top;padding:2px 16px 2px 0;\
             color:#555555;font-weight:normal\">{}</th><td style=\"padding:2px 0\">{}</td></tr>\n",
            e(label),
            e(value)
        ));
    }
    h.push_str("</table>\n");
    for (heading, lines) in lists(n) {
        h.push_str(&format!(
            "<h3 style=\"font-size:15px;margin:16px 0 6px 0\">{}</h3>\n\
             <pre style=\"white-space:pre-wrap;word-break:break-word;margin:0;padding:8px;\
             background:#f5f5f7;border-radius:4px;font-size:13px\">",
            e(&heading)
        ));
        let body: Vec<String> = lines.iter().map(|l| e(l)).collect();
        h.push_str(&body.join("\n"));
        h.push_str("</pre>\n");
    }
    h.push_str(&format!(
        "<p style=\"margin-top:24px;color:#777777;font-size:12px\">{}</p>\n</body></html>\n",
        e(&footer(n, channel))
    ));
    h
}

/// Everything a message needs besides the notice.
pub struct Envelope<'a> {
    /// The sender.
    pub from: &'a Mailbox,
    /// The recipients.
    pub to: &'a [Mailbox],
    /// Copies.
    pub cc: &'a [Mailbox],
    /// The subject template.
    pub subject: &'a Template,
    /// The channel's name.
    pub channel: &'a str,
}

/// The message for `notice` (of outcome `o`, spooled at `spooled`): multipart/alternative
/// text + HTML, or the text alone when `text_only` (the form tried once after a server
/// refused the message).
pub fn message(
    env: &Envelope<'_>,
    n: &Notice,
    o: &Outcome,
    ids: &Ids,
    spooled: DateTime<Utc>,
    text_only: bool,
) -> Result<Message, lettre::error::Error> {
    let header = |name: &'static str, value: &str| {
        HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            header_safe(value, 200),
        )
    };
    let mut b = Message::builder()
        .from(env.from.clone())
        .subject(subject(env.subject, n, o))
        .date(SystemTime::from(spooled))
        .message_id(Some(ids.message_id.clone()))
        .in_reply_to(ids.thread_id.clone())
        .references(ids.thread_id.clone())
        .user_agent(format!("nagbridge {}", env!("CARGO_PKG_VERSION")))
        // RFC 3834: a machine wrote it; auto-responders must not answer.
        .raw_header(header("Auto-Submitted", "auto-generated"))
        .raw_header(header("X-Nagbridge-State", n.state))
        .raw_header(header("X-Nagbridge-Job", &n.job))
        .raw_header(header("X-Nagbridge-Host", &n.host));
    for to in env.to {
        b = b.to(to.clone());
    }
    for cc in env.cc {
        b = b.cc(cc.clone());
    }
    let text = text(n, env.channel);
    if text_only {
        b.singlepart(SinglePart::plain(text))
    } else {
        b.multipart(MultiPart::alternative_plain_html(
            text,
            html(n, env.channel),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::email::config::{DEFAULT_SUBJECT, SUBJECT_VARIABLES};

    fn outcome() -> Outcome {
        serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z",
            "bytes":1234567,"files":4200,
            "items":[{"name":"vm-101","status":"success","bytes":1000},{"name":"vm-<102>","status":"failure","message":"I/O error"}],
            "summary":"disk full","errors":["open /srv/x: permission denied","<script>alert(1)</script> & more"]}"#,
        )
        .unwrap()
    }

    fn template(s: &str) -> Template {
        Template::parse(s, SUBJECT_VARIABLES).unwrap()
    }

    #[test]
    fn email_text_part_reads_top_down() {
        let n = Notice::from_outcome(&outcome(), "backup01");
        let t = text(&n, "admins");
        assert_eq!(
            t,
            "❌ nightly-db FAILED on db01\n\
             \n\
             disk full\n\
             \n\
             Status:    FAILED (CRITICAL)\n\
             Host:      db01\n\
             Finished:  2026-11-24 02:03:10 UTC\n\
             Duration:  3m 10s\n\
             Size:      1.2 MiB\n\
             Files:     4200\n\
             Tool:      restic\n\
             \n\
             Items (2, problems first):\n  vm-<102>: failure, I/O error\n  vm-101: success, 1000 B\n\
             \n\
             Errors (2):\n  open /srv/x: permission denied\n  <script>alert(1)</script> & more\n\
             \n\
             -- \n\
             Sent by nagbridge on backup01 (channel admins) about job nightly-db on db01.\n"
        );
    }

    #[test]
    fn email_html_part_escapes_everything() {
        let n = Notice::from_outcome(&outcome(), "backup01");
        let h = html(&n, "admins");
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(h.contains("vm-&lt;102&gt;: failure, I/O error"));
        assert!(h.contains("FAILED (CRITICAL)"), "status in words");
        assert!(h.contains("#E01E5A"));
        assert!(h.find("vm-&lt;102&gt;").unwrap() < h.find("vm-101").unwrap());
        assert_eq!(escape_html("a\"b'c"), "a&quot;b&#39;c");
    }

    #[test]
    fn email_subject_is_one_safe_line() {
        let mut o = outcome();
        let n = Notice::from_outcome(&o, "backup01");
        assert_eq!(
            subject(&template(DEFAULT_SUBJECT), &n, &o),
            "[CRITICAL] nightly-db on db01"
        );
        o.job = "evil\r\nBcc: victim@example.com\r\n\r\nbody".into();
        let n = Notice::from_outcome(&o, "backup01");
        let s = subject(&template("{job} {status} {tool} {agent}"), &n, &o);
        assert_eq!(
            s,
            "evil Bcc: victim@example.com body failure restic backup01"
        );
        o.job = "x".repeat(500);
        let n = Notice::from_outcome(&o, "a");
        let s = subject(&template("{job}"), &n, &o);
        assert_eq!(s.chars().count(), SUBJECT_LIMIT);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn email_ids_are_stable_per_entry_and_per_job() {
        let a = ids(
            "00001-0000000001-42",
            "admins",
            "db01/nightly",
            "backup01.example.com",
        );
        assert_eq!(
            a.message_id,
            "<00001-0000000001-42.admins@backup01.example.com>"
        );
        assert_eq!(
            a,
            ids(
                "00001-0000000001-42",
                "admins",
                "db01/nightly",
                "backup01.example.com"
            )
        );
        let b = ids(
            "00002-0000000001-42",
            "admins",
            "db01/nightly",
            "backup01.example.com",
        );
        assert_ne!(a.message_id, b.message_id);
        assert_eq!(a.thread_id, b.thread_id, "one thread per job");
        assert!(
            a.thread_id.starts_with("<job.")
                && a.thread_id.ends_with(".admins@backup01.example.com>")
        );
        let c = ids("x", "other", "db01/nightly", "backup01.example.com");
        assert_ne!(a.thread_id, c.thread_id, "channels thread apart");
        assert_eq!(id_domain("..weird host_name!.."), "weird-host-name-");
        assert_eq!(id_domain(""), "nagbridge.invalid");
    }

    #[test]
    fn email_message_is_multipart_alternative_with_stable_headers() {
        let o = outcome();
        let n = Notice::from_outcome(&o, "backup01");
        let from: Mailbox = "nagbridge <nagbridge@example.com>".parse().unwrap();
        let to: Vec<Mailbox> = vec!["ops@example.com".parse().unwrap()];
        let subject = template(DEFAULT_SUBJECT);
        let env = Envelope {
            from: &from,
            to: &to,
            cc: &[],
            subject: &subject,
            channel: "admins",
        };
        let id = ids("1-2-3", "admins", &n.key, "backup01");
        let spooled: DateTime<Utc> = "2026-11-24T02:03:11Z".parse().unwrap();
        let m = message(&env, &n, &o, &id, spooled, false).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(raw.contains("Content-Type: text/html; charset=utf-8"));
        assert!(raw.contains("Message-ID: <1-2-3.admins@backup01>"));
        assert!(raw.contains("Date: Tue, 24 Nov 2026 02:03:11 +0000"));
        assert!(raw.contains("Subject: [CRITICAL] nightly-db on db01"));
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains(&format!("In-Reply-To: {}", id.thread_id)));
        // The same outcome gives the same bytes (apart from the MIME boundary).
        let again = message(&env, &n, &o, &id, spooled, false).unwrap();
        assert_eq!(
            again.headers().get_raw("Message-ID"),
            m.headers().get_raw("Message-ID")
        );
        let plain = message(&env, &n, &o, &id, spooled, true).unwrap();
        let raw = String::from_utf8(plain.formatted()).unwrap();
        assert!(!raw.contains("multipart"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"));
        let e = m.envelope();
        assert_eq!(e.to().len(), 1);
    }

    #[test]
    fn email_lists_are_cut_to_their_budget() {
        let mut o = outcome();
        o.errors = (0..100_000)
            .map(|i| format!("error line {i:06} {}", "x".repeat(40)))
            .collect();
        let n = Notice::from_outcome(&o, "a");
        let t = text(&n, "c");
        assert!(t.len() < LIST_BUDGET + 64 * 1024, "{}", t.len());
        assert!(t.contains("Errors (100000):"));
        assert!(t.contains(" more)"));
    }
}
