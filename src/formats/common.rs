//! Small pieces of parser logic that several formats share word for word.
//!
//! Owns: the cap on the messages kept per run with the warning that counts the ones left out
//! (borg, duplicity, restic, rsnapshot; the parsers that keep 50 and count nothing have their
//! own), and the `zero_files` option of the parsers that apply it over success or warning with a
//! note in the summary (bacula's differs and stays there). Each parser still decides which
//! messages it keeps and what its summary says. Also the byte-level reading of the line-based
//! logs (bacula, pgbackrest, vzdump: [`lines`]), of the JSON documents (pgbackrest, xo:
//! [`trim`]), and the 64 KiB [`head`] the detectors look at. Must not do I/O.

use super::Input;
use crate::outcome::Status;

/// At most this many messages of one kind are kept per run by [`keep`].
pub(super) const MAX_KEPT: usize = 200;

/// Append `m` to `list` unless it holds [`MAX_KEPT`] messages already; then count it in
/// `dropped` (see [`note_dropped`]).
pub(super) fn keep(list: &mut Vec<String>, dropped: &mut usize, m: impl Into<String>) {
    if list.len() < MAX_KEPT {
        list.push(m.into());
    } else {
        *dropped += 1;
    }
}

/// The last warning of a run whose cap left `dropped` messages out: `N more messages not shown`.
pub(super) fn note_dropped(warnings: &mut Vec<String>, dropped: usize) {
    if dropped > 0 {
        warnings.push(format!("{dropped} more messages not shown"));
    }
}

/// `zero_files`: a successful (or warning) run that processed zero files gets the configured
/// status, and `note` joins the summary parts.
pub(super) fn zero_files(
    input: &Input<'_>,
    files: Option<u64>,
    status: &mut Status,
    parts: &mut Vec<String>,
    note: &str,
) {
    if let (Some(level), Some(0)) = (input.options.zero_files, files) {
        if matches!(*status, Status::Success | Status::Warning) {
            *status = level;
            parts.push(note.into());
        }
    }
}

/// The first 64 KiB of the input: all a detector reads.
pub(super) fn head(b: &[u8]) -> &[u8] {
    &b[..b.len().min(64 * 1024)]
}

/// Lines with the byte offset just past each one (its newline included). `\r` is dropped; a
/// last line without a newline ends at the input's end.
pub(super) fn lines(b: &[u8]) -> impl Iterator<Item = (usize, String)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= b.len() {
            return None;
        }
        let rest = &b[pos..];
        let (line, next) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => (&rest[..i], pos + i + 1),
            None => (rest, b.len()),
        };
        pos = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((next, String::from_utf8_lossy(line).into_owned()))
    })
}

/// A document without a leading UTF-8 BOM, then without surrounding ASCII whitespace.
pub(super) fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// The exit code a wrapper script logged on a line of its own: `exit status: 1`,
/// `Exit code: 0`, `exit code 2`, `return code = 3` (case-insensitive, the whole line). None for
/// anything else, and for a number that does not fit an i32 (never wrapped).
pub(super) fn wrapper_exit_code(line: &str) -> Option<i32> {
    let l = line.trim();
    let lower = l.to_ascii_lowercase();
    let rest = ["exit status", "exit code", "return code"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))?;
    let num = rest.trim_start_matches([' ', ':', '=']).trim_end();
    if num.is_empty() || rest.len() == num.len() {
        return None;
    }
    num.parse::<i32>().ok()
}

/// Earliest and latest times a parser accepts from its input: anything outside is a hostile or
/// garbled number, not a backup time.
const SANE_YEARS: std::ops::RangeInclusive<i32> = 1970..=2200;

/// `t` when its year is in 1970..=2200, else None.
pub(super) fn sane_time(t: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    SANE_YEARS.contains(&t.year()).then_some(t)
}

/// Seconds since the epoch as a sane time (see [`sane_time`]); None on overflow.
pub(super) fn sane_epoch(secs: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    let secs = i64::try_from(secs).ok()?;
    chrono::DateTime::from_timestamp(secs, 0).and_then(sane_time)
}

/// `t` plus `secs` seconds, checked (no panic, no wrap-around) and sane (see [`sane_time`]).
pub(super) fn add_secs(
    t: chrono::DateTime<chrono::Utc>,
    secs: u64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = chrono::TimeDelta::try_seconds(i64::try_from(secs).ok()?)?;
    t.checked_add_signed(d).and_then(sane_time)
}

/// A pasted line without what a wrapper put in front of the tool's own text, peeled one layer
/// after another (at most four): leading white space (indented pastes), a mail quote (`> `), a
/// docker compose service column (`backup-1  | `), a journald/syslog prefix (`Mar 23 23:00:12
/// host tag[123]: `, also with an ISO time), and a logger's time stamp with an optional level
/// (`2024-08-17T14:51:27+0000 ERROR `, `2026-08-10 20:25:50,791 [WARNING] `, `22:01:34 info `).
/// A prefix is only peeled when text follows it; anything else is returned as it is (trimmed at
/// the start).
pub(super) fn unwrap_line(line: &str) -> &str {
    let mut l = line.trim_start();
    if !may_have_prefix(l) {
        return l;
    }
    for _ in 0..4 {
        let next = quote_prefix(l)
            .or_else(|| compose_prefix(l))
            .or_else(|| journal_prefix(l))
            .or_else(|| stamp_prefix(l));
        match next {
            Some(rest) if !rest.trim().is_empty() => l = rest.trim_start(),
            _ => break,
        }
    }
    l
}

/// Whether `l` (trimmed at the start) can start with any prefix [`unwrap_line`] or
/// [`unwrap_line_more`] peels: a quote or bar, a digit (a time), three letters and a space (a
/// month), or a `]` (a `tag[pid]: ` syslog tag) or `|` (a compose column) somewhere. Byte
/// tests only: most lines of a tool's own output fail them, and are then returned at once.
fn may_have_prefix(l: &str) -> bool {
    let b = l.as_bytes();
    match b.first() {
        None => false,
        Some(b'>' | b'|') => true,
        Some(c) if c.is_ascii_digit() => true,
        // One pass for both bytes: on short lines that beats a memchr per byte.
        Some(_) => b.get(3) == Some(&b' ') || b.iter().any(|&c| c == b'|' || c == b']'),
    }
}

/// `> text`, `>> text`, `>>> text` (mail or Markdown quotes, nested).
fn quote_prefix(l: &str) -> Option<&str> {
    let r = l.trim_start_matches('>');
    if r.len() == l.len() {
        return None;
    }
    r.strip_prefix(' ')
}

/// `name-1  | text`: a docker compose log column (a name, spaces, a bar).
fn compose_prefix(l: &str) -> Option<&str> {
    // Most lines have no bar at all: one byte scan rules them out.
    if !l.as_bytes().contains(&b'|') {
        return None;
    }
    let name_len = l
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(l.len());
    if name_len == 0 {
        return None;
    }
    let name = &l[..name_len];
    let rest = &l[name_len..];
    let spaced = rest.trim_start_matches(' ');
    let spaces = rest.len() - spaced.len();
    // Compose pads the column (two spaces or more) or names a replica (`web_1`, `backup-1`).
    let replica = name
        .rsplit_once(['-', '_'])
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if spaces == 0 || (spaces < 2 && !replica) {
        return None;
    }
    let after = spaced.strip_prefix('|')?;
    if after.is_empty() {
        return Some(after);
    }
    after.strip_prefix(' ')
}

/// `Mar 23 23:00:12 host tag[123]: text` or `2021-03-23T23:00:12+0100 host tag[123]: text`
/// (journalctl's short and short-iso output, syslog files): the tag must carry a pid.
fn journal_prefix(l: &str) -> Option<&str> {
    let rest = month_day_time(l).or_else(|| iso_time(l))?;
    let rest = rest.strip_prefix(' ')?;
    let (host, rest) = rest.split_once(' ')?;
    if host.is_empty() {
        return None;
    }
    let (tag, text) = rest.split_once("]: ")?;
    let (name, pid) = tag.split_once('[')?;
    let ok_name = !name.is_empty() && !name.contains(' ');
    let ok_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    (ok_name && ok_pid).then_some(text)
}

/// `Mar 23 23:00:12` / `Mar  3 23:00:12`: the rest after the time.
fn month_day_time(l: &str) -> Option<&str> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // A month is three letters and a space: most lines fail the byte test before any compare.
    if l.as_bytes().get(3) != Some(&b' ') {
        return None;
    }
    let month = l.get(..3)?;
    if !MONTHS.contains(&month) {
        return None;
    }
    let rest = l[3..].trim_start_matches(' ');
    if rest.len() + 1 > l.len() - 3 {
        return None;
    }
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    clock(rest[day_len..].strip_prefix(' ')?)
}

/// `HH:MM:SS` (with optional fraction): the rest after it.
fn clock(l: &str) -> Option<&str> {
    let b = l.as_bytes();
    let ok = b.len() >= 8
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2] == b':'
        && b[3..5].iter().all(u8::is_ascii_digit)
        && b[5] == b':'
        && b[6..8].iter().all(u8::is_ascii_digit);
    if !ok {
        return None;
    }
    let rest = &l[8..];
    let frac = rest
        .strip_prefix(['.', ','])
        .map_or(0, |r| 1 + r.bytes().take_while(u8::is_ascii_digit).count());
    Some(&rest[frac..])
}

/// `2024-08-17T14:51:27+0000`, `2026-08-10 20:25:50,791`, `2021-03-23T23:00:12.5Z`: the rest
/// after the date, the time and an optional zone.
fn iso_time(l: &str) -> Option<&str> {
    let b = l.as_bytes();
    let date = b.len() >= 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && matches!(b[10], b'T' | b' ');
    if !date {
        return None;
    }
    let rest = clock(&l[11..])?;
    let zone_len = if let Some(r) = rest.strip_prefix('Z') {
        rest.len() - r.len()
    } else if rest.starts_with(['+', '-']) {
        1 + rest[1..]
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b':')
            .count()
    } else {
        0
    };
    Some(&rest[zone_len..])
}

/// A logger's time stamp (ISO or bare clock) with an optional level word (`ERROR`, `info`,
/// `[WARNING]`): the rest after them. A time alone must be followed by a level, so a line that
/// merely starts with a clock time is left alone.
fn stamp_prefix(l: &str) -> Option<&str> {
    // A date or a clock: it starts with a digit.
    if !l.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    const LEVELS: [&str; 9] = [
        "ERROR",
        "WARNING",
        "WARN",
        "INFO",
        "DEBUG",
        "NOTICE",
        "CRITICAL",
        "FATAL",
        "INTERNALERROR",
    ];
    let (rest, needs_level) = match iso_time(l) {
        Some(r) => (r, false),
        None => (clock(l)?, true),
    };
    let rest = rest.strip_prefix(' ')?.trim_start_matches(' ');
    let word_len = rest.find(' ').unwrap_or(rest.len());
    let word = rest[..word_len]
        .trim_start_matches('[')
        .trim_end_matches([']', ':']);
    if LEVELS.iter().any(|lv| word.eq_ignore_ascii_case(lv)) {
        return Some(rest[word_len..].trim_start_matches(' '));
    }
    (!needs_level).then_some(rest)
}

/// How much a line of a pretty-printed JSON document changes its nesting depth: `{` and `[`
/// open, `}` and `]` close; brackets inside strings (with their escapes) do not count.
pub(super) fn json_depth_delta(line: &str) -> i64 {
    let mut delta = 0i64;
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => delta = delta.saturating_add(1),
            '}' | ']' => delta = delta.saturating_sub(1),
            _ => {}
        }
    }
    delta
}

#[cfg(test)]
mod unwrap_tests {
    use super::unwrap_line;

    #[test]
    fn peels_wrapper_prefixes() {
        let cases = [
            ("> snapshot 1 saved", "snapshot 1 saved"),
            (
                ">>> repository d19aa123 opened",
                "repository d19aa123 opened",
            ),
            ("> > Files: 1 new", "Files: 1 new"),
            ("    password is correct", "password is correct"),
            (
                "backup-1  | snapshot c2ce0d28 saved",
                "snapshot c2ce0d28 saved",
            ),
            (
                "borgmatic    | /mnt/x is not a valid repository.",
                "/mnt/x is not a valid repository.",
            ),
            (
                "Mar 23 23:15:36 server01 ionice[5200]: snapshot 8ec6f57a saved",
                "snapshot 8ec6f57a saved",
            ),
            ("Aug  7 20:54:42 host restic[1400]: error: x", "error: x"),
            (
                "2021-03-23T23:00:12+0100 host restic[12]: Files: 1 new",
                "Files: 1 new",
            ),
            (
                "backup-1  | 2024-08-17T14:51:27+0000 ERROR unable to create lock in backend",
                "unable to create lock in backend",
            ),
            (
                "2026-08-10 20:25:50,791 [WARNING] borg: x: open: [Errno 13]",
                "borg: x: open: [Errno 13]",
            ),
            (
                "22:01:34 info {\"message_type\":\"status\"}",
                "{\"message_type\":\"status\"}",
            ),
            ("2020-04-29 10:00:00 some text", "some text"),
        ];
        for (input, want) in cases {
            assert_eq!(unwrap_line(input), want, "{input}");
        }
    }

    #[test]
    fn json_depth_counts_brackets_outside_strings() {
        use super::json_depth_delta as d;
        assert_eq!(d("{"), 1);
        assert_eq!(d("    \"limits\": {"), 1);
        assert_eq!(d("        },"), -1);
        assert_eq!(d("\"command_line\": ["), 1);
        assert_eq!(d("\"name\": \"a{b}[c\\\"}\","), 0);
        assert_eq!(d("}"), -1);
    }

    #[test]
    fn leaves_tool_lines_alone() {
        for l in [
            "[2024-04-26T05:18:40] touch /srv/backup/rsnapshot/.sync/",
            "[0:03] 100.00%  262 / 262 index files loaded",
            "Time (start): Sun, 2017-09-17 13:49:16",
            "12:00:01 not a level",
            "ID        Time                 Host        Tags",
            "Mar 23 not a time",
            "a | b",
            "x |",
            "StartTime 1413397878.77 (Wed Oct 15 18:31:18 2014)",
        ] {
            let want = l.trim_start();
            assert_eq!(unwrap_line(l), want, "{l}");
        }
    }
}

/// [`unwrap_line`], and the wrapper prefixes it does not know, peeled one layer after another
/// (at most four rounds): a journald/syslog prefix whose month is not English (`Fev 21
/// 04:13:39 host restic-service[27099]: `, `Mär  3 ...`, `févr. 3 ...`), and a bare `| `
/// column (a wrapper that prints a program's stderr one line a `| `).
pub(super) fn unwrap_line_more(line: &str) -> &str {
    let trimmed = line.trim_start();
    if !may_have_prefix(trimmed) {
        return trimmed;
    }
    let mut l = unwrap_line(trimmed);
    for _ in 0..4 {
        let next = bar_prefix(l).or_else(|| {
            // A syslog tag ends in `]: `: only such lines are worth the closer look.
            has(l, "]: ").then(|| local_journal_prefix(l)).flatten()
        });
        match next {
            Some(rest) if !rest.trim().is_empty() => l = unwrap_line(rest),
            _ => break,
        }
    }
    l
}

/// `| text`, `|   File "x"`: a wrapper's column in front of a quoted program output.
fn bar_prefix(l: &str) -> Option<&str> {
    let r = l.strip_prefix('|')?;
    r.strip_prefix(' ').or_else(|| r.is_empty().then_some(r))
}

/// `Fev 21 04:13:39 host tag[123]: text`: a syslog prefix with a month in another language
/// (two to five letters, an optional dot); the tag must carry a pid, as in [`unwrap_line`].
fn local_journal_prefix(l: &str) -> Option<&str> {
    let month_len = l
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(l.len(), |(i, _)| i);
    let month_chars = l[..month_len].chars().count();
    if !(2..=5).contains(&month_chars) {
        return None;
    }
    let rest = l[month_len..].strip_prefix('.').unwrap_or(&l[month_len..]);
    let rest = rest.strip_prefix(' ')?.trim_start_matches(' ');
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let rest = clock(rest[day_len..].strip_prefix(' ')?)?;
    let rest = rest.strip_prefix(' ')?;
    let (host, rest) = rest.split_once(' ')?;
    if host.is_empty() {
        return None;
    }
    let (tag, text) = rest.split_once("]: ")?;
    let (name, pid) = tag.split_once('[')?;
    let ok_name = !name.is_empty() && !name.contains(' ');
    let ok_pid = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    (ok_name && ok_pid).then_some(text)
}

/// Forum markup (BBCode) a paste kept around or inside its lines: `[COLOR=#333333]`,
/// `[FONT=monospace]`, `[/FONT]`, `[SIZE=2]`, `[B]`, `[CODE]`, `[QUOTE]` ... removed, case
/// insensitive, when the text closes a tag somewhere (`[/...]`). Only these tag names are
/// touched: `[2018-10-05T14:14:02]` or `[restic]` stay. The input is borrowed when nothing
/// changes.
pub(super) fn strip_bbcode(text: &str) -> std::borrow::Cow<'_, str> {
    const TAGS: [&str; 12] = [
        "COLOR", "FONT", "SIZE", "B", "I", "U", "S", "CODE", "QUOTE", "INDENT", "LEFT", "HTML",
    ];
    fn tag_len(s: &str) -> Option<usize> {
        let inner = s.strip_prefix('[')?;
        let inner = inner.strip_prefix('/').unwrap_or(inner);
        let close = inner.find(']')?;
        let body = &inner[..close];
        let name = body.split('=').next().unwrap_or(body);
        let known = TAGS.iter().any(|t| name.eq_ignore_ascii_case(t));
        // A value is short and has no line break (`[COLOR=#333333]`, `[FONT=monospace]`).
        let ok = known && body.len() <= 40 && !body.contains('\n');
        ok.then(|| s.len() - inner.len() + close + 1)
    }
    if !text.contains("[/") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        match tag_len(at) {
            Some(n) => {
                changed = true;
                rest = &at[n..];
            }
            None => {
                out.push('[');
                rest = &at[1..];
            }
        }
    }
    out.push_str(rest);
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A line a wrapper stored with literal `\n` (backslash, n) between a program's lines
/// (elkarbackup's `Command failed: ...\n/usr/bin/rsnapshot ...: ERROR: ...\ntouch ...`): the
/// parts. None for a line with fewer than two such separators, a JSON text (its strings carry
/// their own escapes) or a Windows path (`C:\new`).
pub(super) fn escaped_lines(line: &str) -> Option<Vec<&str>> {
    if line.matches("\\n").count() < 2 || line.contains("{\"") || line.contains("\":") {
        return None;
    }
    let b = line.as_bytes();
    let drive = b
        .windows(3)
        .any(|w| w[0].is_ascii_alphabetic() && w[1] == b':' && w[2] == b'\\');
    if drive {
        return None;
    }
    Some(
        line.split("\\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect(),
    )
}

/// The program output a wrapper's log line quotes in a `stderr` field: `stderr=...`,
/// `stderr: ...`, `Stderr="..."` (up to the field's closing quote when it has one), with the
/// escapes of a quoted string undone (`\"`, `\\`, `\t`) and its `\n` turned into line breaks.
/// None when the line has no such field or it is empty.
pub(super) fn stderr_field(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let at = lower.find("stderr")?;
    let after = line[at + "stderr".len()..].trim_start_matches(' ');
    let after = after
        .strip_prefix('=')
        .or_else(|| after.strip_prefix(':'))?
        .trim_start_matches(' ');
    let body = after.strip_prefix('"').unwrap_or(after);
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => {}
                Some(other) => out.push(other),
                None => break,
            },
            // The field ends at its unescaped closing quote (quoted or inside another field).
            '"' => break,
            _ => out.push(c),
        }
    }
    (!out.trim().is_empty()).then_some(out)
}

/// `systemctl status`'s process line of a unit's main command: `Process: 2443366
/// ExecStart=/nix/store/...-restic-0.18.1/bin/restic backup ... (code=exited, status=10)` ->
/// (the command, its exit code). A kill by a signal is the shell's code (`signal=TERM` ->
/// 143, `INT` -> 130, `KILL` -> 137). Only `ExecStart=` (not `ExecStartPre=` or
/// `ExecStopPost=`).
pub(super) fn systemd_exec_status(line: &str) -> Option<(&str, i32)> {
    if !has(line, "ExecStart=") {
        return None;
    }
    let at = line.find("ExecStart=")?;
    let rest = &line[at + "ExecStart=".len()..];
    let paren = rest.rfind(" (code=")?;
    let command = rest[..paren].trim();
    let status = &rest[paren + " (code=".len()..];
    let code = if let Some(s) = status.strip_prefix("exited, status=") {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        s[..digits].parse::<i32>().ok()?
    } else if let Some(s) = status.strip_prefix("killed, signal=") {
        match s.split([')', '/']).next()? {
            "TERM" => 143,
            "INT" => 130,
            "KILL" => 137,
            "HUP" => 129,
            _ => return None,
        }
    } else {
        return None;
    };
    (!command.is_empty()).then_some((command, code))
}

/// Whether a command line runs `program` (one of its words, by its file name:
/// `/nix/store/x-restic-0.18.1/bin/restic backup` runs `restic`).
pub(super) fn runs_program(command: &str, program: &str) -> bool {
    command
        .split_whitespace()
        .any(|w| w.rsplit('/').next() == Some(program))
}

#[cfg(test)]
mod more_unwrap_tests {
    use super::*;

    #[test]
    fn peels_local_months_and_bar_columns() {
        let cases = [
            (
                "Fev 21 04:13:39 octopus restic-service[27099]: Applying Policy: x",
                "Applying Policy: x",
            ),
            ("Mär  3 01:02:03 h borg[1]: rc 0", "rc 0"),
            ("févr. 3 01:02:03 h rsnapshot[9]: done", "done"),
            (
                "| Failed to create/acquire the lock /x",
                "Failed to create/acquire the lock /x",
            ),
            ("|   File \"/usr/lib/borg.py\"", "File \"/usr/lib/borg.py\""),
            (
                "> | Traceback (most recent call last):",
                "Traceback (most recent call last):",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(unwrap_line_more(input), want, "{input}");
        }
        for l in [
            "a | b",
            "Time (start): Sun, 2017-09-17 13:49:16",
            "Hello 21 04:13:39 is not a syslog line",
            "[2024-04-26T05:18:40] touch /srv/",
        ] {
            assert_eq!(unwrap_line_more(l), l, "{l}");
        }
    }

    #[test]
    fn bbcode_is_stripped_and_other_brackets_stay() {
        assert_eq!(
            strip_bbcode("[COLOR=#333333][FONT=monospace]DUPLICITY: ERROR 31 GPGError"),
            "[COLOR=#333333][FONT=monospace]DUPLICITY: ERROR 31 GPGError"
        );
        assert_eq!(
            strip_bbcode("[COLOR=#333333][FONT=monospace]x[/FONT][/COLOR]\n[b]y[/b] [restic] z"),
            "x\ny [restic] z"
        );
        assert_eq!(
            strip_bbcode("[2018-10-05T14:14:02] [/x]"),
            "[2018-10-05T14:14:02] [/x]"
        );
        let long = format!("[COLOR={}][/COLOR]", "a".repeat(100));
        assert_eq!(strip_bbcode(&long), format!("[COLOR={}]", "a".repeat(100)));
    }

    #[test]
    fn escaped_lines_split_only_plain_text() {
        assert_eq!(
            escaped_lines("a\\nb: ERROR: x\\n touch y"),
            Some(vec!["a", "b: ERROR: x", "touch y"])
        );
        assert_eq!(escaped_lines("one \\n only"), None);
        assert_eq!(escaped_lines("C:\\new\\n\\nx"), None);
        assert_eq!(escaped_lines("{\"stderr\": \"a\\nb\\nc\"}"), None);
    }

    #[test]
    fn stderr_fields() {
        let velero = "level=error msg=\"x\" error=\"pod volume backup failed: error running restic backup, stderr     =Fatal: invalid id \\\"90f30016\\\": no matching ID found\\n: unable to find summary\" error.file=\"/x\"";
        assert_eq!(
            stderr_field(velero).as_deref(),
            Some("Fatal: invalid id \"90f30016\": no matching ID found\n: unable to find summary")
        );
        assert_eq!(
            stderr_field("Stderr:  | Failed to lock").as_deref(),
            Some("| Failed to lock")
        );
        assert_eq!(stderr_field("stderr=\"\""), None);
        assert_eq!(stderr_field("no field here"), None);
        assert_eq!(stderr_field("stderr"), None);
        assert_eq!(stderr_field("stderr=\\"), None);
    }

    #[test]
    fn systemd_process_lines() {
        let l = "    Process: 2443366 ExecStart=/nix/store/9x-restic-0.18.1/bin/restic backup --files-from=/run/x (code=exited, status=10)";
        let (cmd, code) = systemd_exec_status(l).unwrap();
        assert_eq!(code, 10);
        assert!(runs_program(cmd, "restic"));
        assert!(!runs_program(cmd, "borg"));
        assert_eq!(
            systemd_exec_status("Process: 1 ExecStartPre=/bin/x (code=exited, status=0/SUCCESS)"),
            None
        );
        assert_eq!(
            systemd_exec_status(
                "Process: 1 ExecStart=/usr/bin/borg create (code=killed, signal=TERM)"
            )
            .map(|(_, c)| c),
            Some(143)
        );
        assert_eq!(
            systemd_exec_status(
                "Process: 1 ExecStart=/bin/restic (code=exited, status=99999999999999999999)"
            ),
            None
        );
        assert_eq!(
            systemd_exec_status("ExecStart= (code=exited, status=1)"),
            None
        );
    }
}

/// `b` as text: borrowed when it is valid UTF-8 (the common case, checked at full speed),
/// else with U+FFFD for the invalid bytes.
pub(super) fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// `hay.contains(needle)`, with byte scans for the needle's first and last bytes first: most
/// lines do not hold both, and those scans are much cheaper than setting up a substring search
/// per line.
pub(super) fn has(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    match (n.first(), n.last()) {
        (Some(a), Some(z)) => h.contains(z) && h.contains(a) && hay.contains(needle),
        _ => true,
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (or a space for the `T`) at the start of `s`, read digit by digit
/// (chrono's format-string parser costs a lot per line); None for anything else, including a
/// date that does not exist.
pub(super) fn iso_seconds(s: &[u8]) -> Option<chrono::NaiveDateTime> {
    let b = s.get(..19)?;
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
}

#[cfg(test)]
mod speed_helper_tests {
    use super::*;

    #[test]
    fn iso_seconds_reads_exactly_what_chrono_reads() {
        for s in [
            "2026-11-24T09:28:09",
            "2026-11-24 09:28:09",
            "1970-01-01T00:00:00",
            "2026-02-29T00:00:00",
            "2024-02-29T23:59:59",
            "2026-13-01T00:00:00",
            "2026-11-24T24:00:00",
            "9999-99-99T99:99:99",
            "2026-11-24X09:28:09",
            "2026-1a-24T09:28:09",
            "2026-11-24T09:28",
        ] {
            let chrono =
                chrono::NaiveDateTime::parse_from_str(&s.replace(' ', "T"), "%Y-%m-%dT%H:%M:%S")
                    .ok();
            assert_eq!(iso_seconds(s.as_bytes()), chrono, "{s}");
        }
    }

    #[test]
    fn text_and_has() {
        assert!(matches!(text(b"abc"), std::borrow::Cow::Borrowed("abc")));
        assert_eq!(text(b"a\xffb"), "a\u{fffd}b");
        assert!(has("x Error: y", "Error: "));
        assert!(!has("x error y", "Error"));
        assert!(has("abc", ""));
    }
}
