//! An outcome as the plain-text body of an XMPP message (XMPP clients show plain text; XHTML-IM
//! is deprecated).
//!
//! Owns: the words and layout (status in words, job, host, finish time, duration, size, items
//! with problems first, errors), the characters XML 1.0 cannot carry (control characters other
//! than tab and newline, U+FFFE/U+FFFF: each becomes U+FFFD, or the stanza would break the
//! stream), and the size: at most [`MAX_BODY_BYTES`] (far below Prosody's 256 KiB stanza
//! limit; a chat message is read by people), each list at most [`MAX_LINES`] lines of
//! [`MAX_LINE`] characters, cut with `... (+N more)`. The message carries XEP-0393's
//! `<unstyled/>` hint (added by the session), so clients show `*`, `_`, `` ` `` and `>` as
//! written. XML escaping is the serializer's. Pure: no I/O, no clock.

use crate::outcome::Outcome;
use crate::sinks::content::{cut_chars, fit_lines_capped, Notice};

/// Most bytes of a message body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most characters of one line of a list.
pub const MAX_LINE: usize = 300;
/// Most lines shown of each list.
pub const MAX_LINES: usize = 20;
/// Bytes of each list.
const LIST_BUDGET: usize = 4096;

/// `text` with every character XML 1.0 cannot carry replaced by U+FFFD.
pub fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' => c,
            '\r' => '\n',
            c if (c as u32) < 0x20 => '\u{FFFD}',
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// One line (a newline in an error line would look like a new entry).
fn one_line(text: &str) -> String {
    xml_safe(text).replace('\n', " ")
}

/// The body of the message for `o` reported by `agent` (or its plain form: the headline).
pub fn body(o: &Outcome, agent: &str, plain: bool) -> String {
    let n = Notice::from_outcome(o, agent);
    if plain {
        return cut_bytes(&one_line(&n.headline), MAX_BODY_BYTES);
    }
    let list = |lines: &[String]| {
        let lines: Vec<String> = lines
            .iter()
            .map(|l| cut_chars(&one_line(l), MAX_LINE))
            .collect();
        fit_lines_capped(&lines, MAX_LINES, LIST_BUDGET, usize::MAX, 5, str::len)
    };
    let mut b = format!("{}\n", one_line(&n.title));
    if let Some(s) = &n.summary {
        b.push_str(&one_line(s));
        b.push('\n');
    }
    for (label, value) in &n.facts {
        b.push_str(&format!("{label}: {}\n", one_line(value)));
    }
    for (name, lines) in [
        ("Items", list(&n.items)),
        ("Errors", list(&n.errors)),
        ("Warnings", list(&n.warnings)),
    ] {
        if !lines.is_empty() {
            b.push_str(&format!("{name}:\n"));
            for l in lines {
                b.push_str(&format!("• {l}\n"));
            }
        }
    }
    b.push_str(&format!("reported by {}", one_line(&n.agent)));
    cut_bytes(&b, MAX_BODY_BYTES)
}

/// `s` cut to at most `max` bytes on a character boundary, ending with `…` when cut.
fn cut_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        serde_json::from_value(serde_json::json!({
            "job": "nightly-db", "host": "db01", "status": "failure", "tool": "restic",
            "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
            "bytes": 1234567,
            "items": [{"name": "ok1", "status": "success"}, {"name": "bad", "status": "failure", "message": "I/O error"}],
            "summary": "disk full", "errors": ["open /srv/x: permission denied"]
        }))
        .unwrap()
    }

    #[test]
    fn xmpp_body_says_everything() {
        let b = body(&outcome(), "backup01", false);
        assert_eq!(
            b,
            "❌ nightly-db FAILED on db01\ndisk full\nStatus: FAILED (CRITICAL)\nHost: db01\n\
             Finished: 2026-11-24 02:03:10 UTC\nDuration: 3m 10s\nSize: 1.2 MiB\nTool: restic\n\
             Items:\n• bad: failure, I/O error\n• ok1: success\n\
             Errors:\n• open /srv/x: permission denied\nreported by backup01"
        );
        assert_eq!(
            body(&outcome(), "backup01", true),
            "[CRITICAL] nightly-db on db01: disk full"
        );
    }

    #[test]
    fn xmpp_body_is_xml_safe_and_within_limits() {
        let mut o = outcome();
        o.errors = vec![format!(
            "@everyone \u{7}\u{0}\u{1b}[31m</body><x/> & *b* `c` \r\nsecond {}",
            "<&>*_~`\"'".repeat(600)
        )];
        o.errors.extend((0..1000).map(|i| format!("error {i}")));
        let b = body(&o, "a", false);
        assert!(b.len() <= MAX_BODY_BYTES);
        assert!(!b.chars().any(|c| (c as u32) < 0x20 && c != '\n'), "{b:?}");
        assert!(b.contains("\u{FFFD}\u{FFFD}\u{FFFD}[31m</body><x/> & *b* `c`   second"));
        assert!(b.contains("• error 18\n• ... (+981 more)"), "{b}");
        let long = b.lines().find(|l| l.contains("@everyone")).unwrap();
        assert!(
            long.chars().count() <= MAX_LINE + 2,
            "{}",
            long.chars().count()
        );
        let mut o = outcome();
        o.summary = Some("é".repeat(20_000));
        let b = body(&o, "a", false);
        assert!(b.len() <= MAX_BODY_BYTES && b.ends_with('…'));
    }
}
