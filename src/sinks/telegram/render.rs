//! The Telegram message: `sendMessage` text in `parse_mode: HTML` (a bold title, the summary,
//! one `Label: value` line per fact, errors and warnings in `<pre>` blocks, items problems
//! first), and its plain form (the same words without markup, sent once without `parse_mode`
//! when Telegram cannot parse the entities).
//!
//! Owns: [`html`] and [`plain`], each within [`MAX_UNITS`] UTF-16 code units of text *after
//! entity parsing* (what Telegram counts: the visible text, tags and entity escapes not
//! counted), and the escaping: `& < >` as `&amp; &lt; &gt;` (the only escapes HTML mode
//! needs), only the tags `b`, `i` and `pre`, and `@` outside `<pre>` followed by a word
//! joiner so that no `@username` in a job name or summary pings anyone. Pure: no I/O.

use crate::sinks::content::{fit_lines, shorten, Notice};

/// "Text of the message to be sent, 1-4096 characters after entities parsing", counted in
/// UTF-16 code units as Telegram counts entity offsets.
pub const MAX_UNITS: usize = 4096;

/// Longest line of an item, error or warning (characters).
const MAX_LINE: usize = 300;

/// UTF-16 code units of `s`.
pub fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `& < >` as entities; control characters but newline and tab dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `@` followed by a word joiner (U+2060): shown the same, never a mention.
pub fn no_mentions(text: &str) -> String {
    text.replace('@', "@\u{2060}")
}

/// A message being built: its HTML and its visible text (what Telegram counts).
#[derive(Default)]
struct Text {
    html: String,
    visible: String,
}

impl Text {
    /// Text from the outcome, outside `<pre>`: escaped, mentions broken.
    fn text(&mut self, t: &str) {
        let t = no_mentions(t);
        self.html.push_str(&escape(&t));
        self.visible.push_str(&t);
    }

    /// Text inside `tag` (`b`, `i`, `pre`).
    fn tagged(&mut self, tag: &str, t: &str) {
        let t = if tag == "pre" {
            t.to_string()
        } else {
            no_mentions(t)
        };
        self.html
            .push_str(&format!("<{tag}>{}</{tag}>", escape(&t)));
        self.visible.push_str(&t);
    }

    fn newline(&mut self) {
        self.html.push('\n');
        self.visible.push('\n');
    }
}

/// The parts every form shows, with at most `caps` lines of items, errors and warnings.
fn build(n: &Notice, caps: (usize, usize, usize), markup: bool) -> Text {
    let (item_cap, error_cap, warning_cap) = caps;
    let mut t = Text::default();
    let put = |t: &mut Text, tag: &str, s: &str| {
        if markup {
            t.tagged(tag, s)
        } else {
            t.text(s)
        }
    };
    put(&mut t, "b", &shorten(&n.title, 200, chars));
    if let Some(s) = &n.summary {
        t.newline();
        t.text(&shorten(s, 1000, chars));
    }
    t.newline();
    for (label, value) in &n.facts {
        t.newline();
        put(&mut t, "b", &format!("{label}:"));
        t.text(&format!(" {}", shorten(value, MAX_LINE, chars)));
    }
    let lists = [
        ("Errors", &n.errors, error_cap, true),
        ("Items", &n.items, item_cap, false),
        ("Warnings", &n.warnings, warning_cap, true),
    ];
    for (heading, lines, cap, pre) in lists {
        if lines.is_empty() {
            continue;
        }
        let shown: Vec<String> = fit_lines(lines, cap, usize::MAX, 0, |_| 1)
            .iter()
            .map(|l| shorten(l, MAX_LINE, chars))
            .collect();
        t.newline();
        t.newline();
        put(&mut t, "b", &format!("{heading} ({})", lines.len()));
        t.newline();
        if pre && markup {
            t.tagged("pre", &shown.join("\n"));
        } else {
            t.text(&shown.join("\n"));
        }
    }
    t.newline();
    t.newline();
    put(
        &mut t,
        "i",
        &format!("reported by nagbridge on {}", n.agent),
    );
    t
}

fn fitted(n: &Notice, markup: bool) -> Text {
    let mut caps = (20usize, 20usize, 10usize);
    loop {
        let t = build(n, caps, markup);
        if units(&t.visible) <= MAX_UNITS || caps == (0, 0, 0) {
            return t;
        }
        caps = (caps.0 / 2, caps.1 / 2, caps.2 / 2);
    }
}

/// The HTML text of `n` (for `parse_mode: HTML`) within [`MAX_UNITS`] after parsing: at most
/// 20 items, 20 errors and 10 warnings of at most 300 characters each, fewer when that is
/// still too long (each list then ends with `... (+N more)`).
pub fn html(n: &Notice) -> String {
    fitted(n, true).html
}

/// The same words as [`html`] without markup (sent without `parse_mode`).
pub fn plain(n: &Notice) -> String {
    fitted(n, false).visible
}

/// The visible text of [`html`] (what Telegram counts), for tests and measurements.
pub fn visible(n: &Notice) -> String {
    fitted(n, true).visible
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
    fn telegram_html_message() {
        let h = html(&notice(vec!["open /srv/x: permission denied".into()]));
        assert_eq!(
            h,
            "<b>❌ nightly-db FAILED on db01</b>\ndisk full\n\
             \n<b>Status:</b> FAILED (CRITICAL)\
             \n<b>Host:</b> db01\
             \n<b>Finished:</b> 2026-11-24 02:03:10 UTC\
             \n<b>Duration:</b> 3m 10s\
             \n<b>Size:</b> 1.2 MiB\
             \n<b>Tool:</b> restic\
             \n\n<b>Errors (1)</b>\n<pre>open /srv/x: permission denied</pre>\
             \n\n<b>Items (2)</b>\nvm-102: failure, I/O error\nvm-101: success\
             \n\n<i>reported by nagbridge on backup01</i>"
        );
        let p = plain(&notice(vec!["e".into()]));
        assert!(p.starts_with("❌ nightly-db FAILED on db01\ndisk full\n\nStatus: FAILED"));
        assert!(!p.contains('<'));
    }

    #[test]
    fn telegram_hostile_lines_are_escaped_and_within_4096_units() {
        let hostile = format!(
            "@everyone <b>x</b> &amp; <a href=\"tg://user?id=1\">u</a> *_`[]() {}",
            "<>&@😀".repeat(1000)
        );
        assert!(hostile.chars().count() >= 5000);
        let mut n = notice(vec![hostile.clone(); 100]);
        n.summary = Some(hostile.clone());
        n.title = hostile.clone();
        let h = html(&n);
        let v = visible(&n);
        assert!(units(&v) <= MAX_UNITS, "{}", units(&v));
        assert!(v.contains("... (+"), "a cut list is marked");
        // Only our tags: every '<' starts one of them.
        let mut rest = h.as_str();
        while let Some(at) = rest.find('<') {
            let tail = &rest[at..];
            assert!(
                ["<b>", "</b>", "<i>", "</i>", "<pre>", "</pre>"]
                    .iter()
                    .any(|t| tail.starts_with(t)),
                "{}",
                &tail[..tail.len().min(40)]
            );
            rest = &tail[1..];
        }
        // No mention outside <pre>: each @ there is followed by a word joiner.
        let outside: String = h
            .split("<pre>")
            .map(|p| p.split("</pre>").last().unwrap_or(""))
            .collect();
        assert!(
            !outside.contains("@e") && !outside.contains("@<") && outside.contains("@\u{2060}")
        );
        let p = plain(&n);
        assert!(units(&p) <= MAX_UNITS);
        assert!(!p.contains("@everyone"));
    }
}
