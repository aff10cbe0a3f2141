//! pgBackRest (research note section 7): its log files (`/var/log/pgbackrest/<stanza>-backup.log`),
//! its console output (what cron mails, `wrap` captures or a terminal shows: `ERROR: [037]: ...`
//! without a timestamp), and `pgbackrest info` (`--output=json` and the text form).
//!
//! Owns: dispatch between the three shapes and the `auto` detector. The log grammar and the runs
//! live in [`log`], `info` in [`info`]. Must not do I/O.

mod info;
mod log;

use super::common::{head, lines, trim};
use super::Input;
use super::Parsed;

const TOOL: &str = "pgbackrest";

/// Parse pgBackRest output: `info` (JSON or text), else log / console lines.
pub fn parse(input: &Input<'_>) -> Parsed {
    let t = trim(input.bytes);
    if starts_json(t) {
        return info::parse_json(input, t);
    }
    if info::looks_like_text(head(input.bytes)) {
        return info::parse_text(input);
    }
    log::parse(input)
}

/// True for pgBackRest log lines (`2026-11-24 08:12:03.676 P00   INFO: ...`, also behind a
/// journald or syslog prefix), console error lines (`ERROR: [037]: ...`, 1.x `ERROR [050]: : ...`)
/// or `info` output (JSON with `backup`, `status` and `cipher`/`db`; text `stanza:` + `status:`).
pub fn looks_like(input: &Input<'_>) -> bool {
    let head = head(input.bytes);
    let t = trim(head);
    if starts_json(t) {
        let has = |n: &[u8]| t.windows(n.len()).any(|w| w == n);
        return has(b"\"backup\"") && has(b"\"status\"") && (has(b"\"cipher\"") || has(b"\"db\""));
    }
    info::looks_like_text(head)
        || lines(head)
            .take(2000)
            .any(|(_, l)| log::is_pgbackrest_line(&l))
}

/// A JSON document's start: `{`, or `[` followed by what a JSON array holds (`{`, `"`, `]`, a
/// digit, a line end), not a shell prompt such as `[postgres@db ~]$ pgbackrest ...`.
fn starts_json(t: &[u8]) -> bool {
    match t.first() {
        Some(b'{') => true,
        Some(b'[') => t[1..]
            .iter()
            .find(|c| !matches!(c, b' ' | b'\t' | b'\r'))
            .is_none_or(|c| matches!(c, b'{' | b'"' | b']' | b'\n' | b'-' | b'0'..=b'9')),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests;
