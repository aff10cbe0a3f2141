//! rsnapshot's line grammar: splitting the input into records and saying what each one means.
//!
//! Owns the three prefixes rsnapshot's messages come with (its log file's `[2026-11-24T08:08:06]`
//! and the older `[07/Dec/2018:04:30:13]`; syslog's `Jul 26 16:18:38 host rsnapshot[2928]:` and
//! RFC 3339 `2026-11-24T08:08:06+01:00 host rsnapshot[2928]:`; none on the console or in a
//! pasted log without timestamps), the continuation lines of messages rsnapshot wraps with a
//! trailing `\`, the Markdown backticks some pastes carry, and the classification of a record's
//! text (`started`, the three final lines, `ERROR:`, `WARNING:`, the `logger` echo, rsync's
//! errors and `--stats` lines, the console's error banner). Pure: no I/O, no clock.

use chrono::{DateTime, NaiveDateTime, Utc};
use nom::bytes::complete::{tag, take, take_while1};
use nom::character::complete::char;
use nom::combinator::{map_res, opt};
use nom::sequence::delimited;
use nom::{IResult, Parser};

use super::super::common::{escaped_lines, strip_bbcode, unwrap_line_more};
use crate::outcome::Status;

/// A record's text (with its continuation lines) is cut at about this many bytes.
const MAX_RECORD: usize = 16 * 1024;

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// rsnapshot's own log file: `[timestamp] text`.
    Log,
    /// syslog / journal: `... rsnapshot[pid]: text`.
    Syslog(u32),
    /// No prefix: console output, or a log pasted without its timestamps.
    Plain,
}

/// One record: where it is, when, and its text (continuation lines joined with a space).
#[derive(Debug)]
pub(super) struct Record {
    pub start: usize,
    pub end: usize,
    pub time: Option<DateTime<Utc>>,
    pub source: Source,
    pub text: String,
}

/// What a record says.
#[derive(Debug, PartialEq)]
pub(super) enum Line<'a> {
    /// `<invocation>: started`
    Started(&'a str),
    /// One of the final lines, with rsnapshot's verdict.
    Done(&'a str, Status),
    /// `<invocation>: ERROR: msg` (log, syslog) or `ERROR: msg` (console).
    Error(Option<&'a str>, &'a str),
    /// `WARNING: msg`
    Warning(&'a str),
    /// The echo of rsnapshot's call to `logger` (`verbose` 4+, `loglevel` 4+): its message.
    Logger(&'a str),
    /// `rsync error: ... (code N)` / `rsync warning: ... (code N)`.
    RsyncExit(u32, &'a str),
    /// Other `rsync: ...` messages (a file that could not be read, a vanished file).
    Rsync(&'a str),
    /// `Number of files: N`
    Files(u64),
    /// `Total transferred file size: N bytes`
    Bytes(u64),
    /// `rsnapshot encountered an error! The program was invoked with these options:`
    Banner,
    Other,
}

/// Split into records; without `complete`, a last line without its newline is left out.
pub(super) fn records(bytes: &[u8], complete: bool) -> Vec<Record> {
    let end = if complete {
        bytes.len()
    } else {
        bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
    };
    let mut out: Vec<Record> = Vec::new();
    // Forum markup and lines joined with literal `\n` are rare: look for them once.
    let whole = super::super::common::text(&bytes[..end]);
    let bbcode = whole.contains("[/");
    let escaped = whole.contains("\\n");
    drop(whole);
    // The previous line ended with `\`: this one continues its record.
    let mut continued = false;
    let mut pos = 0;
    while pos < end {
        let nl = bytes[pos..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |i| pos + i + 1);
        let raw = super::super::common::text(&bytes[pos..nl]);
        let raw = if bbcode { strip_bbcode(&raw) } else { raw };
        let line = unquote(raw.trim_end_matches(['\n', '\r']));
        let (prefix, text) = match prefix(line) {
            Some((time, source, text)) => (Some((time, source)), text),
            // An indented, quoted or compose-prefixed paste: the prefix under the wrapper's.
            None => {
                let inner = unquote(unwrap_line_more(line));
                match (inner.len() < line.len()).then(|| prefix(inner)).flatten() {
                    Some((time, source, text)) => (Some((time, source)), text),
                    None => (None, inner),
                }
            }
        };
        let text = text.trim();
        if prefix.is_none() && !continued {
            // A wrapper stored the output on one line with literal `\n` between its lines.
            if let Some(parts) = escaped.then(|| escaped_lines(text)).flatten() {
                for part in parts {
                    let part = unquote(part.trim_matches('`').trim());
                    let (time, source, text) = match self::prefix(part) {
                        Some((time, source, text)) => (time, source, text.trim()),
                        None => (None, Source::Plain, part),
                    };
                    if text.is_empty() {
                        continue;
                    }
                    let mut text = text.to_string();
                    text.truncate(floor_char_boundary(&text, MAX_RECORD));
                    out.push(Record {
                        start: pos,
                        end: nl,
                        time,
                        source,
                        text,
                    });
                }
                pos = nl;
                continue;
            }
            if let Some(parts) = unflatten(text) {
                // A console error a wrapper flattened onto one line: one record a message.
                for part in parts {
                    let mut text = part.to_string();
                    text.truncate(floor_char_boundary(&text, MAX_RECORD));
                    out.push(Record {
                        start: pos,
                        end: nl,
                        time: None,
                        source: Source::Plain,
                        text,
                    });
                }
                pos = nl;
                continue;
            }
        }
        let ends_continued = text.ends_with('\\');
        match (continued, out.last_mut()) {
            (true, Some(prev)) if prefix.is_none() => {
                // In place and capped: a long run of continuation lines stays linear.
                if prev.text.len() < MAX_RECORD {
                    let keep = prev.text.trim_end_matches('\\').trim_end().len();
                    prev.text.truncate(keep);
                    prev.text.push(' ');
                    prev.text.push_str(text);
                }
                prev.end = nl;
            }
            _ if text.is_empty() => {}
            _ => {
                let (time, source) = prefix.unwrap_or((None, Source::Plain));
                let mut text = text.to_string();
                text.truncate(floor_char_boundary(&text, MAX_RECORD));
                out.push(Record {
                    start: pos,
                    end: nl,
                    time,
                    source,
                    text,
                });
            }
        }
        continued = ends_continued && !out.is_empty();
        pos = nl;
    }
    for r in &mut out {
        let keep = r.text.trim_end_matches('\\').trim_end().len();
        r.text.truncate(keep);
    }
    out
}

/// rsnapshot's console error banner that a wrapper joined onto one line with the messages
/// around it (elkarbackup's `Command "/usr/bin/rsnapshot" ... failed. Diagnostic information
/// follows: ... rsnapshot encountered an error! The program was invoked with these options:
/// /usr/bin/rsnapshot -c x.cfg sync ---- ERROR: ...`): the messages, one a part, with the
/// banner's invocation as a part of its own. None when the line is not such a line.
fn unflatten(text: &str) -> Option<Vec<&str>> {
    const BANNER: &str =
        "rsnapshot encountered an error! The program was invoked with these options:";
    let at = text.find(BANNER)?;
    if at == 0 && text[BANNER.len()..].trim().is_empty() {
        return None;
    }
    let mut cuts: Vec<usize> = vec![0, at, at + BANNER.len()];
    for marker in [
        " ERROR: ",
        " WARNING: ",
        " rsync error: ",
        " rsync warning: ",
        " rsync: ",
        " ---",
    ] {
        cuts.extend(text.match_indices(marker).map(|(i, _)| i + 1));
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(text.len());
    let parts: Vec<&str> = cuts
        .windows(2)
        .map(|w| text[w[0]..w[1]].trim())
        .filter(|p| !p.is_empty() && !p.bytes().all(|b| b == b'-'))
        .collect();
    Some(parts)
}

/// The largest char boundary at or below `i`.
fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A line a user wrapped in Markdown backticks: `` `text` `` -> `text`.
fn unquote(l: &str) -> &str {
    match l.strip_prefix('`') {
        Some(rest) => rest.trim_end().strip_suffix('`').unwrap_or(rest),
        None => l.strip_suffix('`').unwrap_or(l),
    }
}

/// The record prefix: (time, source, rest).
pub(super) fn prefix(l: &str) -> Option<(Option<DateTime<Utc>>, Source, &str)> {
    if let Ok((rest, t)) = log_stamp(l) {
        return Some((sane(t), Source::Log, rest));
    }
    syslog(l)
}

/// Times outside 1970..=2200 are not believed.
fn sane(t: NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    (1970..=2200).contains(&t.year()).then(|| t.and_utc())
}

/// `[2026-11-24T08:08:06] ` or `[07/Dec/2018:04:30:13] ` (nom).
fn log_stamp(l: &str) -> IResult<&str, NaiveDateTime> {
    let iso = map_res(take(19usize), |s: &str| {
        super::super::common::iso_seconds(s.as_bytes()).ok_or(())
    });
    let old = map_res(take(20usize), |s: &str| {
        NaiveDateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S")
    });
    delimited(
        char('['),
        nom::branch::alt((iso, old)),
        (char(']'), opt(char(' '))),
    )
    .parse(l)
}

/// `Jul 26 16:18:38 [host ]rsnapshot[2928]: text`, or with an RFC 3339 time first.
fn syslog(l: &str) -> Option<(Option<DateTime<Utc>>, Source, &str)> {
    let tag_at = l.find("rsnapshot[")?;
    let head = &l[..tag_at];
    let (pid, rest) = pid_tag(&l[tag_at..]).ok().map(|(rest, pid)| (pid, rest))?;
    // The words before the tag: a time and optionally a host name, nothing else.
    let words: Vec<&str> = head.split_whitespace().collect();
    let time = match words.as_slice() {
        [t, ..] if t.len() >= 19 && t.as_bytes().get(4) == Some(&b'-') => {
            DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
                .and_then(|t| sane(t.naive_utc()))
        }
        [m, d, hms, ..] if is_month(m) && d.parse::<u8>().is_ok() && hms.len() == 8 => None,
        _ => return None,
    };
    let n = words.len();
    let first_is_iso = words
        .first()
        .is_some_and(|t| t.as_bytes().get(4) == Some(&b'-'));
    let time_words = if first_is_iso { 1 } else { 3 };
    if n > time_words + 1 {
        return None;
    }
    Some((time, Source::Syslog(pid), rest.trim_start()))
}

fn is_month(m: &str) -> bool {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .contains(&m)
}

/// `rsnapshot[2928]:` -> 2928 (nom).
fn pid_tag(i: &str) -> IResult<&str, u32> {
    delimited(
        tag("rsnapshot["),
        map_res(take_while1(|c: char| c.is_ascii_digit()), |s: &str| {
            s.parse::<u32>()
        }),
        tag("]:"),
    )
    .parse(i)
}

/// A comma-grouped number: `150,003` (nom).
fn number(i: &str) -> IResult<&str, u64> {
    map_res(
        take_while1(|c: char| c.is_ascii_digit() || c == ','),
        |s: &str| s.replace(',', "").parse::<u64>(),
    )
    .parse(i)
}

/// An invocation has no `: ` inside (it is `/usr/bin/rsnapshot -c /etc/x.conf daily`).
fn invocation(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty() && !s.contains(": ")).then_some(s)
}

/// What the text of a record says.
pub(super) fn classify(text: &str) -> Line<'_> {
    if let Some(m) = logger_message(text) {
        return Line::Logger(m);
    }
    if let Some(inv) = text.strip_suffix(": started").and_then(invocation) {
        return Line::Started(inv);
    }
    if let Some(inv) = text
        .strip_suffix(": completed successfully")
        .and_then(invocation)
    {
        return Line::Done(inv, Status::Success);
    }
    if let Some(inv) = text
        .strip_prefix("WARNING: ")
        .and_then(|t| t.strip_suffix(": completed, but with some warnings"))
        .and_then(invocation)
    {
        return Line::Done(inv, Status::Warning);
    }
    for end in [
        ": completed, but with some errors",
        ": completed, but with no definite status",
    ] {
        if let Some((inv, _)) = text
            .strip_suffix(end)
            .and_then(|t| t.split_once(": ERROR: "))
        {
            if let Some(inv) = invocation(inv) {
                return Line::Done(inv, Status::Failure);
            }
        }
    }
    if let Some(m) = text.strip_prefix("ERROR: ") {
        return Line::Error(None, m);
    }
    if let Some(m) = text.strip_prefix("WARNING: ") {
        return Line::Warning(m);
    }
    if let Some((inv, msg)) = text.split_once(": ERROR: ") {
        if let Some(inv) = invocation(inv) {
            return Line::Error(Some(inv), msg);
        }
    }
    if let Some(rest) = text
        .strip_prefix("rsync error: ")
        .or_else(|| text.strip_prefix("rsync warning: "))
    {
        return match rsync_code(rest) {
            Some(code) => Line::RsyncExit(code, text),
            None => Line::Rsync(text),
        };
    }
    if text.starts_with("rsync: ") || text.starts_with("file has vanished: ") {
        return Line::Rsync(text);
    }
    if text.starts_with("rsnapshot encountered an error!") {
        return Line::Banner;
    }
    if let Ok((_, n)) = (tag("Number of files: "), number)
        .map(|(_, n)| n)
        .parse(text)
    {
        return Line::Files(n);
    }
    if let Ok((_, n)) = (tag("Total transferred file size: "), number, tag(" bytes"))
        .map(|(_, n, _)| n)
        .parse(text)
    {
        return Line::Bytes(n);
    }
    Line::Other
}

/// `/usr/bin/logger -p user.info -t rsnapshot[21570] <message>` -> the message.
fn logger_message(text: &str) -> Option<&str> {
    let first = text.split_whitespace().next()?;
    if !(first == "logger" || first.ends_with("/logger")) {
        return None;
    }
    let i = text.find(" -t rsnapshot")?;
    let rest = &text[i + " -t rsnapshot".len()..];
    // `rsnapshot[pid] msg` (1.4) or `rsnapshot msg` with `-i` (1.3).
    let rest = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']').map(|(_, m)| m)?,
        None => rest,
    };
    Some(rest.trim())
}

/// `... (code 23) at main.c(1338) [sender=3.2.7]` -> 23.
fn rsync_code(s: &str) -> Option<u32> {
    let i = s.find("(code ")?;
    let digits: String = s[i + 6..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The run's job: the interval, qualified by the config file's stem unless it is the default
/// one (`/usr/bin/rsnapshot -c /etc/rsnapshot-home.conf daily` -> `rsnapshot-home-daily`).
pub(super) fn job_of(inv: &str) -> Option<String> {
    let mut words = inv.split_whitespace().skip(1);
    let mut config = None;
    let mut last = None;
    while let Some(w) = words.next() {
        let short_c = w.starts_with('-')
            && !w.starts_with("--")
            && w.ends_with('c')
            && w[1..].chars().all(|c| "vtxqVDc".contains(c));
        if short_c {
            config = words.next();
        } else if !w.starts_with('-') {
            last = Some(w);
        }
    }
    let interval = last.filter(|w| !w.contains('/') && !w.contains('='))?;
    let stem = config.map(|c| {
        let name = c.rsplit('/').next().unwrap_or(c);
        name.strip_suffix(".conf")
            .or_else(|| name.strip_suffix(".cfg"))
            .unwrap_or(name)
    });
    Some(match stem {
        Some(s) if !s.is_empty() && s != "rsnapshot" => format!("{s}-{interval}"),
        _ => interval.to_string(),
    })
}

/// The config part of an invocation: the invocation without its last word.
pub(super) fn config_of(inv: &str) -> &str {
    inv.trim_end().rsplit_once(' ').map_or("", |(cfg, _)| cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        fn p(l: &str) -> Option<(Option<String>, Source, &str)> {
            prefix(l).map(|(t, s, r)| (t.map(|t| t.to_rfc3339()), s, r))
        }
        assert_eq!(
            p("[2026-11-24T08:08:06] x"),
            Some((Some("2026-11-24T08:08:06+00:00".into()), Source::Log, "x"))
        );
        assert_eq!(
            p("[07/Dec/2018:04:30:13] x"),
            Some((Some("2018-12-07T04:30:13+00:00".into()), Source::Log, "x"))
        );
        assert_eq!(
            p("Jul 26 16:18:38 rsnapshot[2928]: x: completed successfully"),
            Some((None, Source::Syslog(2928), "x: completed successfully"))
        );
        assert_eq!(
            p("Jul 26 16:18:38 backup01 rsnapshot[2928]: x"),
            Some((None, Source::Syslog(2928), "x"))
        );
        assert_eq!(
            p("2026-11-24T08:08:06.123456+01:00 backup01 rsnapshot[7]: x"),
            Some((
                Some("2026-11-24T07:08:06.123456+00:00".into()),
                Source::Syslog(7),
                "x"
            ))
        );
        // Not a syslog line of rsnapshot: the tag inside a longer text.
        assert_eq!(p("/usr/bin/logger -t rsnapshot[1]: x"), None);
        assert_eq!(p("[9999-12-31T23:59:59] x").map(|x| x.0), Some(None));
        assert_eq!(
            p("Jul 26 16:18:38 rsnapshot[99999999999999999999]: x"),
            None
        );
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify("/usr/bin/rsnapshot daily: started"),
            Line::Started("/usr/bin/rsnapshot daily")
        );
        assert_eq!(
            classify("/usr/bin/rsnapshot daily: ERROR: /usr/bin/rsnapshot daily: completed, but with some errors"),
            Line::Done("/usr/bin/rsnapshot daily", Status::Failure)
        );
        assert_eq!(
            classify("/usr/bin/logger -p user.info -t rsnapshot[21570] /usr/bin/rsnapshot alpha: completed successfully"),
            Line::Logger("/usr/bin/rsnapshot alpha: completed successfully")
        );
        assert_eq!(
            classify("rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1338) [sender=3.2.7]").clone_code(),
            Some(23)
        );
        assert_eq!(
            classify("rsync error: (code 99999999999999999999)").clone_code(),
            None
        );
        assert_eq!(
            classify("Number of files: 1,234 (reg: 1, dir: 2)"),
            Line::Files(1234)
        );
        assert_eq!(
            classify("Number of files: 99999999999999999999999"),
            Line::Other
        );
        assert_eq!(
            classify("Total transferred file size: 150,003 bytes"),
            Line::Bytes(150003)
        );
    }

    impl Line<'_> {
        fn clone_code(&self) -> Option<u32> {
            match self {
                Line::RsyncExit(c, _) => Some(*c),
                _ => None,
            }
        }
    }

    #[test]
    fn jobs() {
        assert_eq!(job_of("/usr/bin/rsnapshot daily").as_deref(), Some("daily"));
        assert_eq!(
            job_of("/usr/bin/rsnapshot -vc rsnapshot-test.conf daily").as_deref(),
            Some("rsnapshot-test-daily")
        );
        assert_eq!(
            job_of("/usr/bin/rsnapshot -V -c test.conf sync").as_deref(),
            Some("test-sync")
        );
        assert_eq!(
            job_of("/usr/bin/rsnapshot -c /etc/rsnapshot.conf daily").as_deref(),
            Some("daily")
        );
        assert_eq!(job_of("/usr/bin/rsnapshot"), None);
    }

    #[test]
    fn continuation_and_quotes() {
        let r = records(b"ERROR: a \\\n         b\n`x: started`\n\n", true);
        let texts: Vec<_> = r.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["ERROR: a b", "x: started"]);
        // Multi-byte text cut at the record cap does not split a character.
        let long = "é".repeat(MAX_RECORD);
        let r = records(long.as_bytes(), true);
        assert!(r[0].text.len() <= MAX_RECORD);
    }
}
