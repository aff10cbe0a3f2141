//! The `Outcome` of one backup job run (SPEC section 5): its model and JSON, the Nagios state it
//! maps to, and the plugin output (first line, performance data, long output) that Nagios shows.
//!
//! Owns: statuses and their aliases, rendering within NSCA's 4095-byte output limit, and the
//! host/service templates with their sanitising. Pure: no I/O, no clock.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a job run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The backup completed without problems (Nagios OK).
    Success,
    /// The backup completed with problems worth a look (Nagios WARNING).
    Warning,
    /// The backup failed (Nagios CRITICAL).
    Failure,
    /// The result could not be understood (Nagios UNKNOWN).
    Unknown,
}

impl Status {
    /// The canonical name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Warning => "warning",
            Status::Failure => "failure",
            Status::Unknown => "unknown",
        }
    }

    /// Parse a status, accepting the aliases of the native format: `ok`, `partial` and
    /// `skipped` (= warning), `error`, `failed` and `interrupted` (= failure); case-insensitive.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "success" | "ok" | "succeeded" => Status::Success,
            "warning" | "partial" | "skipped" => Status::Warning,
            "failure" | "error" | "failed" | "interrupted" => Status::Failure,
            "unknown" => Status::Unknown,
            _ => return None,
        })
    }

    /// Nagios return code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn nagios_code(self) -> i16 {
        match self {
            Status::Success => 0,
            Status::Warning => 1,
            Status::Failure => 2,
            Status::Unknown => 3,
        }
    }

    /// Nagios state label.
    pub fn nagios_label(self) -> &'static str {
        match self {
            Status::Success => "OK",
            Status::Warning => "WARNING",
            Status::Failure => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The more severe of two statuses (failure > warning > unknown > success): what a job
    /// with items of both statuses is.
    pub fn worst(self, other: Status) -> Status {
        let rank = |s: Status| match s {
            Status::Success => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Failure => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        let s = String::deserialize(d)?;
        Status::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown status {s:?}: expected success, warning, failure, unknown \
                 (or ok, partial, skipped, error, failed, interrupted)"
            ))
        })
    }
}

/// One part of a job: a VM, a guest, a database, a volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Its name (e.g. the VM name).
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// Bytes written for it.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// What went wrong or what is worth saying.
    #[serde(default)]
    pub message: Option<String>,
}

/// One finished backup job run. Field order is the JSON order of SPEC section 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Job name (required).
    pub job: String,
    /// Host the job ran on or backed up; None means the agent's `host_name`.
    #[serde(default)]
    pub host: Option<String>,
    /// How it ended.
    pub status: Status,
    /// The tool (`restic`, `borg`, `native`, ...).
    #[serde(default)]
    pub tool: Option<String>,
    /// Start time.
    #[serde(default, with = "opt_time")]
    pub started: Option<DateTime<Utc>>,
    /// End time.
    #[serde(default, with = "opt_time")]
    pub finished: Option<DateTime<Utc>>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Bytes added or transferred.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Files processed.
    #[serde(default)]
    pub files: Option<u64>,
    /// Per-item results.
    #[serde(default)]
    pub items: Vec<Item>,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Error messages.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Warning messages.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The file (or command) it came from.
    #[serde(default)]
    pub source: Option<String>,
}

impl Outcome {
    /// A bare outcome of `job` with `status`; every other field empty.
    pub fn new(job: impl Into<String>, status: Status) -> Outcome {
        Outcome {
            job: job.into(),
            host: None,
            status,
            tool: None,
            started: None,
            finished: None,
            duration_s: None,
            bytes: None,
            files: None,
            items: Vec::new(),
            summary: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            source: None,
        }
    }

    /// An `unknown` outcome for an input that could not be understood: names the source and
    /// the reason, as SPEC section 5 requires.
    pub fn unknown(job: impl Into<String>, source: &str, reason: impl Into<String>) -> Outcome {
        let reason = reason.into();
        let mut o = Outcome::new(job, Status::Unknown);
        o.summary = Some(format!("cannot read {source}: {reason}"));
        o.errors.push(reason);
        o.source = Some(source.to_string());
        o
    }

    /// The JSON line `nagbridge parse` prints (every field present, null where unknown).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The duration, from `duration_s` or from `started`/`finished`.
    pub fn duration(&self) -> Option<f64> {
        self.duration_s
            .or_else(|| match (self.started, self.finished) {
                (Some(s), Some(f)) if f >= s => Some((f - s).num_milliseconds() as f64 / 1000.0),
                _ => None,
            })
    }
}

mod opt_time {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(s.trim())
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "time {s:?} is not RFC 3339 (like 2026-11-24T02:00:00Z): {e}"
                    ))
                }),
        }
    }
}

/// Longest plugin output NSCA carries (v3 packets; legacy servers cut at 511).
pub const MAX_OUTPUT: usize = 4095;

/// Human size: `1.2 GB` (decimal units, like most backup tools print).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Performance data in the plugin-guidelines syntax: `duration=190.2s size=1234567B files=4200
/// errors=1` (only the values that are known; errors always, warnings when there are some).
pub fn perfdata(o: &Outcome) -> String {
    perfdata_values(o).join(" ")
}

/// The values of [`perfdata`], one per label (`duration=190.2s`, `size=1234567B`, ...): what
/// Icinga 2's `performance_data` array takes.
pub fn perfdata_values(o: &Outcome) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(d) = o.duration() {
        parts.push(format!("duration={}s", trim_float(d)));
    }
    if let Some(b) = o.bytes {
        parts.push(format!("size={b}B"));
    }
    if let Some(f) = o.files {
        parts.push(format!("files={f}"));
    }
    parts.push(format!("errors={}", o.errors.len()));
    if !o.warnings.is_empty() {
        parts.push(format!("warnings={}", o.warnings.len()));
    }
    parts
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The summary to show: the outcome's own, or one built from what is known.
pub fn summary(o: &Outcome) -> String {
    if let Some(s) = o.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        return one_line(s);
    }
    let mut parts = vec![match o.status {
        Status::Success => "succeeded".to_string(),
        Status::Warning => "finished with warnings".to_string(),
        Status::Failure => "failed".to_string(),
        Status::Unknown => "result unknown".to_string(),
    }];
    if let Some(b) = o.bytes {
        parts.push(human_bytes(b));
    }
    if let Some(f) = o.files {
        parts.push(format!("{f} files"));
    }
    let bad = o
        .items
        .iter()
        .filter(|i| i.status != Status::Success)
        .count();
    if !o.items.is_empty() {
        parts.push(format!(
            "{} of {} items ok",
            o.items.len() - bad,
            o.items.len()
        ));
    }
    if let Some(e) = o.errors.first() {
        parts.push(one_line(e));
    }
    parts.join(", ")
}

/// Newlines and other control characters folded to spaces (for a first line or a name).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The full plugin output: `<STATE>: <job> <summary> | <perfdata>`, then long output (items,
/// errors, warnings, check time), within `max` bytes (cut at a line and UTF-8 boundary with a
/// `... (N more)` marker). `checked` is the original check time when the packet is sent later
/// than the outcome was made (NSCA stamps results with the server's receive time).
pub fn plugin_output(o: &Outcome, checked: Option<DateTime<Utc>>, max: usize) -> String {
    output_text(o, checked, max, true)
}

/// [`plugin_output`] without ` | <perfdata>` on the first line: for destinations that take
/// the performance data apart (Icinga 2's `performance_data`; a `|` in its `plugin_output`
/// stays text).
pub fn plugin_output_text(o: &Outcome, checked: Option<DateTime<Utc>>, max: usize) -> String {
    output_text(o, checked, max, false)
}

fn output_text(o: &Outcome, checked: Option<DateTime<Utc>>, max: usize, with_perf: bool) -> String {
    let mut first = format!(
        "{}: {} {}",
        o.status.nagios_label(),
        one_line(&o.job),
        summary(o)
    );
    if let Some(t) = checked {
        first.push_str(&format!(" (at {})", t.format("%Y-%m-%d %H:%M:%SZ")));
    }
    let first = if with_perf {
        let perf = perfdata(o);
        // Keep the perfdata whole: shorten the text in front of it if the line is too long.
        let room = max.saturating_sub(perf.len() + 3);
        format!("{} | {perf}", nsca::packet::truncate_utf8(&first, room))
    } else {
        first
    };
    let mut lines: Vec<String> = Vec::new();
    for i in &o.items {
        let mut l = format!("{}: {}", one_line(&i.name), i.status);
        if let Some(b) = i.bytes {
            l.push_str(&format!(", {}", human_bytes(b)));
        }
        if let Some(m) = &i.message {
            l.push_str(&format!(", {}", one_line(m)));
        }
        lines.push(l);
    }
    lines.extend(o.errors.iter().map(|e| format!("error: {}", one_line(e))));
    lines.extend(
        o.warnings
            .iter()
            .map(|w| format!("warning: {}", one_line(w))),
    );
    if let Some(s) = &o.source {
        lines.push(format!("source: {}", one_line(s)));
    }
    fit_lines(first, &lines, max)
}

/// `first` plus as many `lines` as fit in `max` bytes; when some do not, the last line says
/// `... (N more)`.
fn fit_lines(first: String, lines: &[String], max: usize) -> String {
    let mut out = nsca::packet::truncate_utf8(&first, max).to_string();
    for (i, l) in lines.iter().enumerate() {
        let rest = lines.len() - i;
        let marker = if rest > 1 {
            format!("\n... ({} more)", rest - 1)
        } else {
            String::new()
        };
        if out.len() + 1 + l.len() + marker.len() <= max {
            out.push('\n');
            out.push_str(l);
            continue;
        }
        // This line does not fit whole: cut it, then say how many were left out.
        let marker = format!("... ({} more)", rest - 1);
        let room = max.saturating_sub(out.len() + 2 + marker.len() + 1);
        if room > 20 {
            out.push('\n');
            out.push_str(nsca::packet::truncate_utf8(l, room));
            if rest > 1 {
                out.push('\n');
                out.push_str(&marker);
            }
        } else {
            let marker = format!("... ({rest} more)");
            if out.len() + 1 + marker.len() <= max {
                out.push('\n');
                out.push_str(&marker);
            }
        }
        break;
    }
    out
}

/// Fill a host/service template: `{host} {job} {tool} {source} {status}`; unknown variables
/// are left as they are (the config check rejects them). The result is safe as a Nagios name:
/// `;`, control characters (newline, NUL) become `_`, and it is cut at `max` bytes.
pub fn fill_template(template: &str, o: &Outcome, default_host: &str, max: usize) -> String {
    // An empty or blank host (`"host": ""` in a result) is no host: Nagios would drop it.
    let host = o
        .host
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or(default_host);
    let filled = template
        .replace("{host}", host)
        .replace("{job}", &o.job)
        .replace("{tool}", o.tool.as_deref().unwrap_or("native"))
        .replace("{source}", o.source.as_deref().unwrap_or(""))
        .replace("{status}", o.status.as_str());
    sanitize_name(&filled, max)
}

/// A Nagios host or service name made safe for the command file: `;` and control characters
/// (newline, NUL) become `_`, surrounding blanks go, and it is cut at `max` bytes on a UTF-8
/// boundary.
pub fn sanitize_name(name: &str, max: usize) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c == ';' || c.is_control() { '_' } else { c })
        .collect();
    nsca::packet::truncate_utf8(safe.trim(), max).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_example() -> Outcome {
        serde_json::from_str(
            r#"{"job":"nightly-db","host":"db01","status":"warning","tool":"restic",
            "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z","duration_s":190.2,
            "bytes":1234567,"files":4200,"items":[{"name":"db1","status":"success","bytes":1000,"message":null}],
            "summary":"1 file could not be read, 1.2 MB added","errors":["open /srv/x: permission denied"],
            "warnings":[],"source":"/var/log/restic/nightly-db.log"}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_blank_host_falls_back_to_the_agent_host() {
        let mut o = spec_example();
        for blank in ["", "  ", "\t "] {
            o.host = Some(blank.into());
            assert_eq!(
                fill_template("{host}", &o, "backup01", 63),
                "backup01",
                "{blank:?}"
            );
        }
        o.host = Some("db01".into());
        assert_eq!(fill_template("{host}", &o, "backup01", 63), "db01");
    }

    #[test]
    fn spec_json_round_trips() {
        let o = spec_example();
        let line = o.to_json_line();
        assert!(line.starts_with(r#"{"job":"nightly-db","host":"db01","status":"warning","tool":"restic","started":"2026-11-24T02:00:00Z""#), "{line}");
        let back: Outcome = serde_json::from_str(&line).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn aliases_and_states() {
        for (s, want) in [
            ("ok", Status::Success),
            ("partial", Status::Warning),
            ("skipped", Status::Warning),
            ("error", Status::Failure),
            ("FAILED", Status::Failure),
            ("interrupted", Status::Failure),
        ] {
            assert_eq!(Status::parse(s), Some(want), "{s}");
        }
        assert_eq!(Status::parse("meh"), None);
        assert_eq!(
            [
                Status::Success,
                Status::Warning,
                Status::Failure,
                Status::Unknown
            ]
            .map(Status::nagios_code),
            [0, 1, 2, 3]
        );
        assert_eq!(Status::Success.worst(Status::Failure), Status::Failure);
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Warning);
    }

    #[test]
    fn plugin_output_matches_spec_example() {
        let out = plugin_output(&spec_example(), None, MAX_OUTPUT);
        let first = out.lines().next().unwrap();
        assert_eq!(
            first,
            "WARNING: nightly-db 1 file could not be read, 1.2 MB added | duration=190.2s size=1234567B files=4200 errors=1"
        );
        assert_eq!(
            out.lines().skip(1).collect::<Vec<_>>(),
            [
                "db1: success, 1.0 kB",
                "error: open /srv/x: permission denied",
                "source: /var/log/restic/nightly-db.log"
            ]
        );
    }

    #[test]
    fn long_output_is_cut_with_a_marker() {
        let mut o = Outcome::new("big", Status::Failure);
        o.errors = (0..1000)
            .map(|i| format!("error number {i} with ünïcödé text"))
            .collect();
        let out = plugin_output(&o, None, MAX_OUTPUT);
        assert!(out.len() <= MAX_OUTPUT, "{}", out.len());
        let last = out.lines().last().unwrap();
        assert!(
            last.starts_with("... (") && last.ends_with(" more)"),
            "{last}"
        );
        let shown = out.lines().filter(|l| l.starts_with("error: ")).count();
        let more: usize = last[5..last.len() - 6].parse().unwrap();
        assert_eq!(shown + more, 1000); // no source line
                                        // tiny limits never panic and stay within the limit
        for max in [0, 1, 10, 50, 100, 511] {
            assert!(plugin_output(&o, None, max).len() <= max);
        }
    }

    #[test]
    fn check_time_is_kept_in_the_first_line() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T02:03:10Z")
            .unwrap()
            .with_timezone(&Utc);
        let out = plugin_output(&Outcome::new("j", Status::Success), Some(t), MAX_OUTPUT);
        assert!(
            out.starts_with("OK: j succeeded (at 2026-11-24 02:03:10Z) | "),
            "{out}"
        );
    }

    #[test]
    fn templates_are_sanitised() {
        let mut o = Outcome::new("evil;job\n[0] SHUTDOWN_PROGRAM", Status::Failure);
        o.tool = Some("restic".into());
        let s = fill_template("backup {job} ({tool})", &o, "h", 127);
        assert_eq!(s, "backup evil_job_[0] SHUTDOWN_PROGRAM (restic)");
        assert_eq!(fill_template("{host}", &o, "backup01", 63), "backup01");
        let long = Outcome::new("é".repeat(100), Status::Success);
        assert_eq!(fill_template("{job}", &long, "h", 63).len(), 62);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        assert_eq!(human_bytes(1_200_000_000), "1.2 GB");
    }
}
