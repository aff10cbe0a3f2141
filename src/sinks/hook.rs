//! What the chat platforms reached through an incoming web hook share (Slack, Mattermost,
//! Discord): the hook's URL read from the config and checked, the sink's HTTP client and
//! secrets, one JSON POST, the "refused: once more in plain form" rule, and the text tools
//! their renderers share.
//!
//! Owns: [`Hook`] (the URL as a secret, the client, what to redact), [`read_url`] /
//! [`read_link`] (config keys), [`send_or_plain`], and the pure text helpers: [`one_line`],
//! [`break_mentions`] (no `@everyone`, `@here`, `@channel` or `@user` can ping), [`code_line`]
//! (a line that cannot close or open a code fence), [`cut`] and [`share`] (how the budget of a
//! message is split between its lists). Must not retry, sleep or log: the delivery loop does.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};

use super::http::{self, Reply, Secrets};
use super::SinkError;
use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::retry::FailureClass;
use crate::sinks::content::{fit_lines, Notice};
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url};

/// Zero-width space: put between characters that a platform would otherwise read as markup
/// or a mention; invisible when shown.
pub const ZWSP: char = '\u{200B}';

/// An incoming web hook: a URL that is a secret as a whole.
pub struct Hook {
    url: reqwest::Url,
    /// `https://hooks.slack.com/<redacted>`.
    pub shown: String,
    client: reqwest::Client,
    /// The URL and its pieces, for [`Secrets::scrub`].
    pub secrets: Secrets,
}

impl Hook {
    /// The hook at `url` (resolved now); `ca_file` adds a private CA. The error never holds
    /// the URL.
    pub fn build(
        url: &Secret,
        ca_file: Option<&Path>,
        timeout: Duration,
        adjust: impl FnOnce(&mut reqwest::Url),
    ) -> Result<Hook, String> {
        let text = url.resolve_string().map_err(|e| format!("url: {e}"))?;
        let mut url = validate_url(&text).map_err(|e| format!("url: {e}"))?;
        adjust(&mut url);
        Hook::with_url(&text, url, ca_file, timeout)
    }

    /// The hook at `url`, already checked by the platform's own rules from the configured
    /// `text` (both kept as secrets).
    pub fn with_url(
        text: &str,
        url: reqwest::Url,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Hook, String> {
        let mut secrets = Secrets::new();
        secrets.add_url(text);
        secrets.add_url(url.as_str());
        Ok(Hook {
            shown: http::redact_secret_url(text),
            client: http::client(timeout, ca_file)?,
            url,
            secrets,
        })
    }

    /// POST `body` as JSON; the answer (at most [`http::MAX_BODY`] of it) or a network
    /// failure (retryable, URL redacted).
    pub async fn post(&self, body: Vec<u8>) -> Result<Reply, SinkError> {
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        http::send(request, &self.secrets).await
    }
}

/// Send `full`; when the platform refuses it (a rejected payload), send `plain()` once (unless
/// it is the same payload); when that is refused too, the error names both refusals. `send`
/// gets the body and whether it is the plain form (platforms that key requests by id give the
/// plain form its own id). Every chat sink and the web hook deliver through this.
pub async fn send_or_plain<F, Fut>(
    full: Vec<u8>,
    plain: impl FnOnce() -> Vec<u8>,
    send: F,
) -> Result<(), SinkError>
where
    F: Fn(Vec<u8>, bool) -> Fut,
    Fut: Future<Output = Result<(), SinkError>>,
{
    let first = match send(full.clone(), false).await {
        Ok(()) => return Ok(()),
        Err(e) if e.class == FailureClass::Rejected => e,
        Err(e) => return Err(e),
    };
    let plain = plain();
    if plain == full {
        return Err(first);
    }
    match send(plain, true).await {
        Ok(()) => Ok(()),
        Err(e) if e.class == FailureClass::Rejected => Err(SinkError::rejected(format!(
            "{}; the plain form too: {}",
            first.message, e.message
        ))),
        Err(e) => Err(e),
    }
}

/// The lists of a notice, each with its heading: items (problems first), errors, warnings;
/// empty ones left out.
pub fn lists(n: &Notice) -> Vec<(String, &[String])> {
    let mut out = Vec::new();
    if !n.items.is_empty() {
        out.push((
            format!("Items ({}, problems first)", n.items.len()),
            &n.items[..],
        ));
    }
    if !n.errors.is_empty() {
        out.push((format!("Errors ({})", n.errors.len()), &n.errors[..]));
    }
    if !n.warnings.is_empty() {
        out.push((format!("Warnings ({})", n.warnings.len()), &n.warnings[..]));
    }
    out
}

/// `**heading**` and the lines in a fenced code block (CommonMark: Discord, Mattermost),
/// within `budget` characters, each line cut to `line_limit`.
pub fn markdown_list(heading: &str, lines: &[String], budget: usize, line_limit: usize) -> String {
    let head = format!("**{}**\n```\n", escape_markdown(heading));
    let tail = "\n```";
    let room = budget.saturating_sub(chars(&head) + chars(tail));
    let body = code_lines(lines, room, line_limit, code_line);
    format!("{head}{}{tail}", body.join("\n"))
}

/// Read the required secret `url` of a hook channel and check its shape (http or https with a
/// host; plain http to another machine is a warning). `check` adds the platform's own checks.
pub(crate) fn read_url(
    s: &mut Section<'_>,
    p: &mut Problems,
    check: impl Fn(&reqwest::Url) -> Result<(), String>,
) -> Option<Secret> {
    let url = s.required_secret(p, "url")?;
    if let Ok(text) = url.resolve_string() {
        match validate_url(&text).and_then(|u| check(&u).map(|()| u)) {
            Ok(u) if cleartext_to_remote(&u) => p.warn(
                s.key("url"),
                format!(
                    "{} is plain http to another machine: the hook's token and every outcome \
                     travel unencrypted; use https",
                    http::redact_secret_url(&text)
                ),
            ),
            Ok(_) => {}
            Err(e) => p.error(s.key("url"), format!("the URL from {}: {e}", url.origin())),
        }
    }
    Some(url)
}

/// Read `key`, an optional public `http(s)` URL (an icon or avatar picture).
pub(crate) fn read_link(
    s: &mut Section<'_>,
    p: &mut Problems,
    key: &'static str,
) -> Option<String> {
    s.read(p, key, |v| {
        let text = r::non_empty_string(v)?;
        let u = validate_url(&text)?;
        Ok(u.to_string())
    })
}

/// Read `key`, an optional non-empty string cut of its surrounding blanks.
pub(crate) fn read_text(
    s: &mut Section<'_>,
    p: &mut Problems,
    key: &'static str,
) -> Option<String> {
    s.read(p, key, |v| Ok(r::non_empty_string(v)?.trim().to_string()))
}

/// Characters (Unicode scalar values): what Slack, Mattermost (runes) and Discord count.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `s` on one line: control characters (newlines, tabs, ...) become spaces, runs of blanks
/// one, no blanks around.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = false;
    for c in s.chars() {
        if c.is_control() || c.is_whitespace() {
            blank = true;
            continue;
        }
        if blank && !out.is_empty() {
            out.push(' ');
        }
        blank = false;
        out.push(c);
    }
    out
}

/// `s` cut to at most `max` characters with `…` at the end when cut: never inside a
/// character, and never after half an escape (a trailing lone `\\` or an unfinished `&amp;`-style
/// entity is dropped with the rest), so a cut escaped text stays escaped.
pub fn cut(s: &str, max: usize) -> String {
    if chars(s) <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    let backslashes = out.chars().rev().take_while(|&c| c == '\\').count();
    if backslashes % 2 == 1 {
        out.pop();
    } else if let Some(at) = out.rfind('&') {
        let tail = &out[at + 1..];
        if tail.len() <= 8 && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#') {
            out.truncate(at);
        }
    }
    out.push('…');
    out
}

/// `s` with a zero-width space after every `@` that starts a word and is followed by a
/// letter, digit, `&` or `!` (Discord's `<@&role>` and `<@!user>`): `@everyone`, `@here`,
/// `@channel`, `@all`, `@someone` cannot ping anyone;
/// `user@example.com` stays as it is. Mattermost's server splits words at anything that is not
/// a letter, digit or `.-_:@`, so the space ends the mention there too.
pub fn break_mentions(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        out.push(c);
        if c == '@'
            && !prev.is_some_and(|p| p.is_alphanumeric() || matches!(p, '.' | '_' | '-' | '@'))
            && it
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || matches!(n, '&' | '!'))
        {
            out.push(ZWSP);
        }
        prev = Some(c);
    }
    out
}

/// `s` escaped for Markdown (Mattermost's CommonMark and Discord's): a backslash before
/// every character that could start markup anywhere (`` \ ` * _ ~ | < [ ] & ``), before one
/// that does at the start (`#`, `>`, `-`, `+`, `=`, and the `.` or `)` of `1.` / `1)`), and
/// mentions broken ([`break_mentions`]). `<` escaped also keeps Slack-style `<!channel>`,
/// `<@id>` and `<#id>` from being read (Mattermost translates `<!channel>` into a mention).
/// On one line: use it for values, not for blocks.
pub fn escape_markdown(s: &str) -> String {
    let s = break_mentions(&one_line(s));
    let mut out = String::with_capacity(s.len() + 8);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    // `1.` or `1)` starts a list only when a blank or the end follows.
    let digits = match s.as_bytes().get(digits + 1) {
        None | Some(b' ') => digits,
        Some(_) => 0,
    };
    let mut prev = None;
    for (i, c) in s.char_indices() {
        let at_start = i == 0 && matches!(c, '#' | '>' | '-' | '+' | '=');
        let list_number = digits > 0 && i == digits && matches!(c, '.' | ')');
        // `<!channel>` must not survive even with its `<` escaped.
        let announcement = c == '!' && prev == Some('<');
        prev = Some(c);
        if at_start
            || list_number
            || announcement
            || matches!(
                c,
                '\\' | '`' | '*' | '_' | '~' | '|' | '<' | '[' | ']' | '&'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A line for inside a code block: on one line, no run of two backticks or tildes (a
/// zero-width space between them, so no fence can close the block or open another), no
/// `<!`, `<@`, `<#` (Slack-style announcements, mentions and channels), and mentions broken (Mattermost's server finds mentions by words, also in code that it does
/// not recognise as such).
pub fn code_line(s: &str) -> String {
    let line = break_mentions(&one_line(s));
    let mut out = String::with_capacity(line.len() + 4);
    let mut prev = None;
    for c in line.chars() {
        // No fence (two backticks or tildes in a row), and no Slack-style `<!channel>`,
        // `<@id>` or `<#id>` (Mattermost translates `<!channel>` even inside code).
        if matches!(c, '`' | '~') && prev == Some(c)
            || matches!(c, '!' | '@' | '#') && prev == Some('<')
        {
            out.push(ZWSP);
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// A value shown as plain text (a title, a fallback, a footer): one line, mentions and
/// Slack-style `<!channel>` / `<@id>` / `<#id>` broken as in [`code_line`] (Mattermost
/// translates `<!channel>` wherever it is).
pub fn plain_line(s: &str) -> String {
    code_line(s)
}

/// A list of lines made safe by `safe` (e.g. [`code_line`], then the platform's escaping),
/// cut to `budget` characters in all (a newline between lines; each line at most `max_line`;
/// a `... (+N more)` marker when some do not fit, its room reserved). Lines are made safe
/// before they are cut, and [`cut`] never splits an escape, so the result is always safe;
/// only the lines that could possibly be shown are looked at (a log of 100,000 errors costs
/// no more than one of a thousand), but the marker counts every line.
pub fn code_lines(
    lines: &[String],
    budget: usize,
    max_line: usize,
    safe: impl Fn(&str) -> String,
) -> Vec<String> {
    // Every line costs at least one character (its newline): no more than this can fit.
    let room = budget + 2;
    let shown: Vec<String> = lines
        .iter()
        .take(room)
        .map(|l| {
            // A raw line far longer than what can be shown is cut first (cheaply).
            let raw = if l.len() > 8 * max_line + 8 {
                let mut end = 8 * max_line + 8;
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                &l[..end]
            } else {
                l.as_str()
            };
            cut(&safe(raw), max_line)
        })
        .collect();
    let mut out = fit_lines(&shown, budget, max_line, 1, chars);
    if lines.len() > shown.len() {
        let marked = out.last().is_some_and(|l| l.starts_with("... (+"));
        if marked {
            out.pop();
        }
        let kept = out.len();
        let marker = crate::sinks::content::more_marker(lines.len() - kept);
        // The marker for the whole list may be longer than the one that was reserved.
        while !out.is_empty()
            && out.iter().map(|l| chars(l) + 1).sum::<usize>() + chars(&marker) > budget
        {
            out.pop();
        }
        let kept = out.len();
        out.push(crate::sinks::content::more_marker(lines.len() - kept));
    }
    out
}

/// How many characters the next of `left` lists may use out of `remaining`, at most `cap`:
/// an equal share, so that a long list cannot crowd out the ones after it; what a list does
/// not use goes to the next.
pub fn share(remaining: usize, left: usize, cap: usize) -> usize {
    (remaining / left.max(1)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_mentions_are_broken_but_addresses_kept() {
        assert_eq!(break_mentions("@everyone"), "@\u{200B}everyone");
        assert_eq!(break_mentions("hi @here!"), "hi @\u{200B}here!");
        assert_eq!(break_mentions("(@channel)"), "(@\u{200B}channel)");
        assert_eq!(break_mentions("root@db01.example"), "root@db01.example");
        assert_eq!(break_mentions("@ alone, @@x"), "@ alone, @@x");
        assert_eq!(break_mentions(""), "");
        assert_eq!(
            break_mentions("<@&12> <@!3>"),
            "<@\u{200B}&12> <@\u{200B}!3>"
        );
    }

    #[test]
    fn hook_markdown_is_escaped() {
        assert_eq!(
            escape_markdown("*a* _b_ `c` ~d~ |e| <!channel> [x](y) &amp; \\"),
            "\\*a\\* \\_b\\_ \\`c\\` \\~d\\~ \\|e\\| \\<!channel> \\[x\\](y) \\&amp; \\\\"
                .replace("<!", "<\\!")
        );
        assert_eq!(escape_markdown("# h"), "\\# h");
        assert_eq!(escape_markdown("- x - y"), "\\- x - y");
        assert_eq!(escape_markdown("12. x 3. y"), "12\\. x 3. y");
        assert_eq!(escape_markdown("41.2 GiB"), "41.2 GiB");
        assert_eq!(escape_markdown("7)"), "7\\)");
        assert_eq!(escape_markdown("> q\nline"), "\\> q line");
        assert_eq!(escape_markdown("@here"), "@\u{200B}here");
        assert_eq!(
            escape_markdown("nightly-db 2026-11-24"),
            "nightly-db 2026-11-24"
        );
    }

    #[test]
    fn hook_code_lines_cannot_close_a_fence() {
        let l = code_line("a ```b``` ~~~ c\n@all");
        assert!(!l.contains("``") && !l.contains("~~"), "{l:?}");
        assert!(!l.contains('\n'));
        assert_eq!(l.replace(ZWSP, ""), "a ```b``` ~~~ c @all");
    }

    #[test]
    fn hook_one_line_and_cut() {
        assert_eq!(one_line("  a\r\n\tb  c \n"), "a b c");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("ééééé", 3), "éé…");
        assert_eq!(cut("a\\*bcdef", 3), "a…");
        assert_eq!(cut("a &amp; b", 5), "a …");
    }

    #[test]
    fn hook_code_lines_fit_and_count_every_line() {
        let lines: Vec<String> = (0..100_000).map(|i| format!("error {i}")).collect();
        let got = code_lines(&lines, 100, 50, code_line);
        let total: usize = got.iter().map(|l| chars(l) + 1).sum();
        assert!(total <= 101, "{got:?}");
        let last = got.last().unwrap();
        let kept = got.len() - 1;
        assert_eq!(*last, format!("... (+{} more)", 100_000 - kept));
        let few = code_lines(&lines[..3], 1000, 50, code_line);
        assert_eq!(few, ["error 0", "error 1", "error 2"]);
        // A huge line full of specials: cut, never inside an escape.
        let amp = |l: &str| code_line(l).replace('&', "&amp;");
        let got = code_lines(&["&".repeat(5000)], 100, 30, amp);
        assert!(got[0].ends_with("&amp;…"), "{got:?}");
        assert!(chars(&got[0]) <= 30);
        assert_eq!(cut("ab\\\\cd", 4), "ab…");
        assert_eq!(cut("ab\\\\cd", 5), "ab\\\\…");
    }
}
