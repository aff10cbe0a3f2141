//! The one content model every channel renders: what a message about an outcome says, in words
//! and in a fixed order, before any platform's limits and escaping.
//!
//! Owns: [`Notice`] (title, status in words, job, host, finish time in UTC, duration, size,
//! items with problems first, errors and warnings), the status words, colours and emoji per
//! status, human units, and [`fit_lines`], the one way a list of lines is cut to a budget with
//! a `... (+N more)` marker. Pure: no I/O, no clock. Each channel's `render.rs` turns a
//! `Notice` into its platform's payload, applying its own limits and escaping.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::outcome::{Item, Outcome, Status};

/// A message about one outcome, platform-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The outcome's status.
    pub status: Status,
    /// The Nagios state label (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`).
    pub state: &'static str,
    /// The status in words (`succeeded`, `finished with warnings`, `FAILED`, `unknown`): never
    /// colour alone.
    pub status_words: &'static str,
    /// The job.
    pub job: String,
    /// The host it ran on (the outcome's, else the agent's).
    pub host: String,
    /// The agent that reports it.
    pub agent: String,
    /// `❌ nightly-db FAILED on backup01`.
    pub title: String,
    /// One line for notifications, subjects and fallbacks:
    /// `[CRITICAL] nightly-db on backup01: disk full`.
    pub headline: String,
    /// The outcome's summary.
    pub summary: Option<String>,
    /// Label and value, in a fixed order: Status, Host, Finished, Duration, Size, Files, Tool,
    /// Source. Only the known ones.
    pub facts: Vec<(&'static str, String)>,
    /// One line per item, problems first (failure, warning, unknown, success).
    pub items: Vec<String>,
    /// Error lines.
    pub errors: Vec<String>,
    /// Warning lines.
    pub warnings: Vec<String>,
    /// When the job finished.
    pub finished: Option<DateTime<Utc>>,
    /// `<host>/<job>`: the key that identifies this job's series (PagerDuty dedup, email
    /// threading).
    pub key: String,
}

/// Words, Nagios label, colour (`#rrggbb`) and emoji of a status.
pub fn words(status: Status) -> &'static str {
    match status {
        Status::Success => "succeeded",
        Status::Warning => "finished with warnings",
        Status::Failure => "FAILED",
        Status::Unknown => "unknown (the result could not be read)",
    }
}

/// The colour of a status as `#rrggbb` (the same hue on every platform).
pub fn color_hex(status: Status) -> &'static str {
    match status {
        Status::Success => "#2EB67D",
        Status::Warning => "#ECB22E",
        Status::Failure => "#E01E5A",
        Status::Unknown => "#8D8D8D",
    }
}

/// The colour of a status as an integer (`0xrrggbb`).
pub fn color_int(status: Status) -> u32 {
    u32::from_str_radix(&color_hex(status)[1..], 16).unwrap_or(0)
}

/// An emoji for a status (always next to the words, never alone).
pub fn emoji(status: Status) -> &'static str {
    match status {
        Status::Success => "✅",
        Status::Warning => "⚠️",
        Status::Failure => "❌",
        Status::Unknown => "❔",
    }
}

/// Bytes in IEC units: `512 B`, `41.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Seconds as `1h 02m 03s`, `12m 03s`, `4s` (fractions below 10 s kept to a tenth).
pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 10.0 {
        let s = format!("{secs:.1}");
        return format!("{}s", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let total = secs.round().min(u64::MAX as f64) as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// A time as the messages show it: `2026-11-24 02:03:10 UTC`.
pub fn human_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time in ISO 8601 (`2026-11-24T02:03:10Z`) for platforms that want it.
pub fn iso_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn item_rank(s: Status) -> u8 {
    match s {
        Status::Failure => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Success => 3,
    }
}

fn item_line(i: &Item) -> String {
    let mut line = format!("{}: {}", i.name, i.status.as_str());
    if let Some(b) = i.bytes {
        line.push_str(&format!(", {}", human_size(b)));
    }
    if let Some(m) = i.message.as_deref().filter(|m| !m.is_empty()) {
        line.push_str(&format!(", {m}"));
    }
    line
}

impl Notice {
    /// The notice for `o`, reported by the agent `agent_host` (the host when the outcome
    /// names none).
    pub fn from_outcome(o: &Outcome, agent_host: &str) -> Notice {
        let host = o
            .host
            .as_deref()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or(agent_host)
            .to_string();
        let status_words = words(o.status);
        let title = format!("{} {} {status_words} on {host}", emoji(o.status), o.job);
        let summary = o.summary.clone().filter(|s| !s.trim().is_empty());
        let headline = match &summary {
            Some(s) => format!("[{}] {} on {host}: {s}", o.status.nagios_label(), o.job),
            None => format!(
                "[{}] {} {status_words} on {host}",
                o.status.nagios_label(),
                o.job
            ),
        };
        let mut facts: Vec<(&'static str, String)> = vec![
            (
                "Status",
                format!("{} ({})", status_words, o.status.nagios_label()),
            ),
            ("Host", host.clone()),
        ];
        if let Some(t) = o.finished {
            facts.push(("Finished", human_time(t)));
        }
        if let Some(d) = o.duration() {
            facts.push(("Duration", human_duration(d)));
        }
        if let Some(b) = o.bytes {
            facts.push(("Size", human_size(b)));
        }
        if let Some(f) = o.files {
            facts.push(("Files", f.to_string()));
        }
        if let Some(t) = o.tool.as_deref().filter(|t| !t.is_empty()) {
            facts.push(("Tool", t.to_string()));
        }
        if let Some(s) = o.source.as_deref().filter(|s| !s.is_empty()) {
            facts.push(("Source", s.to_string()));
        }
        let mut items: Vec<&Item> = o.items.iter().collect();
        items.sort_by_key(|i| item_rank(i.status));
        Notice {
            status: o.status,
            state: o.status.nagios_label(),
            status_words,
            job: o.job.clone(),
            host: host.clone(),
            agent: agent_host.to_string(),
            title,
            headline,
            summary,
            facts,
            items: items.into_iter().map(item_line).collect(),
            errors: o.errors.clone(),
            warnings: o.warnings.clone(),
            finished: o.finished,
            key: format!("{host}/{}", o.job),
        }
    }
}

/// Keep as many of `lines` as fit in `budget` (measured by `size`, with `separator` between
/// lines), each line first cut to `max_line` (on a character boundary, with `…`); when some do
/// not fit, the last kept line is followed by `... (+N more)`, whose size is reserved first.
/// Returns the lines to show (marker included).
pub fn fit_lines(
    lines: &[String],
    budget: usize,
    max_line: usize,
    separator: usize,
    size: impl Fn(&str) -> usize,
) -> Vec<String> {
    let lines: Vec<String> = lines.iter().map(|l| shorten(l, max_line, &size)).collect();
    let total: usize =
        lines.iter().map(|l| size(l)).sum::<usize>() + separator * lines.len().saturating_sub(1);
    if total <= budget {
        return lines;
    }
    let mut out = Vec::new();
    let mut used = 0usize;
    for (i, l) in lines.iter().enumerate() {
        let sep = if out.is_empty() { 0 } else { separator };
        let after = lines.len() - i - 1;
        // Room for the marker of what would follow is kept at every step, so stopping
        // always leaves space for it.
        let reserve = if after > 0 {
            separator + size(&more_marker(after))
        } else {
            0
        };
        if used + sep + size(l) + reserve <= budget {
            used += sep + size(l);
            out.push(l.clone());
        } else {
            out.push(more_marker(lines.len() - i));
            return out;
        }
    }
    out
}

/// `text` cut to `max` (measured by `size`) on a character boundary, ending with `…` when it
/// was cut; unchanged when it fits.
pub fn shorten(text: &str, max: usize, size: impl Fn(&str) -> usize) -> String {
    if size(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        let mut next = out.clone();
        next.push(c);
        next.push('…');
        if size(&next) > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// `s` cut to at most `max` characters, ending with `…` when cut.
pub fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` as literal CommonMark inline text (one line): a backslash before every character that
/// can start emphasis, code, a link or image, raw HTML, an entity, strikethrough or a table
/// cell (`` \ ` * _ [ ] < > & ~ | ``), and before a first character that would start a block
/// (`#`, `-`, `+`, `=`, or the `.`/`)` of a leading `1. `: a heading or a list); newlines
/// and tabs become spaces, other control characters are dropped.
pub fn escape_commonmark(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    // `1. ` or `1) ` (or the whole text `1.`) starts an ordered list.
    let ordered = digits > 0
        && matches!(text.as_bytes().get(digits), Some(b'.' | b')'))
        && matches!(text.as_bytes().get(digits + 1), None | Some(b' ' | b'\t'));
    for (i, c) in text.chars().enumerate() {
        let block_start =
            (i == 0 && matches!(c, '#' | '-' | '+' | '=')) || (ordered && i == digits);
        if block_start || "\\`*_[]<>&~|".contains(c) {
            out.push('\\');
            out.push(c);
        } else if c == '\n' || c == '\t' {
            out.push(' ');
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// [`fit_lines`] showing at most `max_count` of `lines` (chat platforms show a few lines, not
/// a whole log): the marker then counts every line not shown.
pub fn fit_lines_capped(
    lines: &[String],
    max_count: usize,
    budget: usize,
    max_line: usize,
    separator: usize,
    size: impl Fn(&str) -> usize,
) -> Vec<String> {
    if lines.len() <= max_count {
        return fit_lines(lines, budget, max_line, separator, size);
    }
    let hidden = lines.len() - max_count;
    // Room for the largest marker this can end with.
    let reserve = separator + size(&more_marker(lines.len()));
    let mut out = fit_lines(
        &lines[..max_count],
        budget.saturating_sub(reserve),
        max_line,
        separator,
        &size,
    );
    let marker = |n: usize| more_marker(n);
    match out.last() {
        Some(last) if last.starts_with("... (+") && last.ends_with(" more)") => {
            let cut: usize = last["... (+".len()..last.len() - " more)".len()]
                .parse()
                .unwrap_or(0);
            let n = out.len();
            out[n - 1] = marker(cut + hidden);
        }
        _ => out.push(marker(hidden)),
    }
    out
}

/// `... (+N more)`.
pub fn more_marker(n: usize) -> String {
    format!("... (+{n} more)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"failure","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z",
            "bytes":1234567,"files":4200,
            "items":[{"name":"ok1","status":"success","bytes":1000},{"name":"bad","status":"failure","message":"I/O error"}],
            "summary":"disk full","errors":["open /srv/x: permission denied"],"source":"/var/log/x.log"}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_notice_says_everything_in_words_problems_first() {
        let n = Notice::from_outcome(&outcome(), "backup01");
        assert_eq!(n.title, "❌ nightly-db FAILED on db01");
        assert_eq!(n.headline, "[CRITICAL] nightly-db on db01: disk full");
        assert_eq!(n.items, ["bad: failure, I/O error", "ok1: success, 1000 B"]);
        let labels: Vec<&str> = n.facts.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            labels,
            ["Status", "Host", "Finished", "Duration", "Size", "Files", "Tool", "Source"]
        );
        assert_eq!(n.facts[2].1, "2026-11-24 02:03:10 UTC");
        assert_eq!(n.facts[3].1, "3m 10s");
        assert_eq!(n.facts[4].1, "1.2 MiB");
        assert_eq!(n.key, "db01/nightly-db");
        let mut o = outcome();
        o.host = Some(" ".into());
        o.summary = None;
        let n = Notice::from_outcome(&o, "backup01");
        assert_eq!(n.host, "backup01");
        assert_eq!(n.headline, "[CRITICAL] nightly-db FAILED on backup01");
    }

    #[test]
    fn units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(44_237_000_000), "41.2 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
        assert_eq!(human_duration(0.4), "0.4s");
        assert_eq!(human_duration(4.0), "4s");
        assert_eq!(human_duration(723.0), "12m 03s");
        assert_eq!(human_duration(3723.0), "1h 02m 03s");
        assert_eq!(human_duration(f64::NAN), "-");
        assert_eq!(
            human_duration(1e300),
            format!("{}h 00m 15s", u64::MAX / 3600)
        );
        assert_eq!(color_int(Status::Failure), 14_687_834);
    }

    #[test]
    fn lines_are_cut_to_the_budget_with_a_marker() {
        let lines: Vec<String> = (0..100).map(|i| format!("error {i:02}")).collect();
        let len = |s: &str| s.chars().count();
        let all = fit_lines(&lines[..3], 1000, 300, 1, len);
        assert_eq!(all, ["error 00", "error 01", "error 02"]);
        let some = fit_lines(&lines, 40, 300, 1, len);
        let text = some.join("\n");
        assert!(len(&text) <= 40, "{text}");
        assert_eq!(some, ["error 00", "error 01", "... (+98 more)"]);
        // A single huge line is cut with an ellipsis.
        let long = vec!["x".repeat(5000)];
        let cut = fit_lines(&long, 100, 50, 1, len);
        assert_eq!(len(&cut[0]), 50);
        assert!(cut[0].ends_with('…'));
        // Nothing fits: only the marker.
        assert_eq!(fit_lines(&lines, 5, 300, 1, len), ["... (+100 more)"]);
    }

    #[test]
    fn capped_lines_count_every_line_not_shown() {
        let lines: Vec<String> = (0..100).map(|i| format!("error {i:02}")).collect();
        let len = |s: &str| s.chars().count();
        assert_eq!(
            fit_lines_capped(&lines, 3, 1000, 300, 1, len),
            ["error 00", "error 01", "error 02", "... (+97 more)"]
        );
        let some = fit_lines_capped(&lines, 10, 40, 300, 1, len);
        assert!(len(&some.join("\n")) <= 40, "{some:?}");
        assert_eq!(
            some.last().unwrap(),
            &format!("... (+{} more)", 100 - (some.len() - 1))
        );
        assert_eq!(
            fit_lines_capped(&lines[..2], 3, 1000, 300, 1, len),
            ["error 00", "error 01"]
        );
    }
}
