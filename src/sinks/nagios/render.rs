//! What Nagios gets for an outcome on its own host: an external command line
//! (`[now] PROCESS_SERVICE_CHECK_RESULT;host;service;code;output`, at most `PIPE_BUF` bytes so
//! that one write is atomic in the FIFO) or a check result file (the format Nagios 4's
//! `process_check_result_file` reads). Output as for NSCA: the original check time in it,
//! `\` and newlines escaped, within 4095 bytes. Pure: the caller passes the time.

use chrono::{DateTime, Utc};
use nsca::packet::{HOST_FIELD, SERVICE_FIELD};

use crate::outcome::{plugin_output, sanitize_name, Status};
use crate::spool::Entry;

/// A write of at most this many bytes into a FIFO is atomic (Linux `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// Longest plugin output (unescaped), as NSCA carries.
pub const MAX_OUTPUT: usize = 4095;

/// One passive result for Nagios.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveResult {
    /// Host name.
    pub host: String,
    /// Service description; empty: a host check.
    pub service: String,
    /// Nagios code (hosts: 0 UP, 1 DOWN).
    pub code: i16,
    /// The escaped output (`\\`, `\n`).
    pub output: String,
}

/// `\` to `\\` and newline to `\n` (what Nagios unescapes).
pub fn escape(s: &str) -> String {
    nsca::client::escape_newlines(s).into_owned()
}

fn names(host: &str, service: &str) -> (String, String) {
    (
        sanitize_name(host, HOST_FIELD - 1),
        sanitize_name(service, SERVICE_FIELD - 1),
    )
}

/// The result for `entry` named `host`/`service`, its escaped output at most `max` bytes.
pub fn result(entry: &Entry, host: &str, service: &str, max: usize) -> PassiveResult {
    let o = &entry.outcome;
    let (host, service) = names(host, service);
    let code = if service.is_empty() {
        match o.status {
            Status::Success | Status::Warning => 0,
            _ => 1,
        }
    } else {
        o.status.nagios_code()
    };
    let checked = Some(entry.check_time());
    let mut limit = MAX_OUTPUT.min(max);
    let mut output = escape(&plugin_output(o, checked, limit));
    while output.len() > max && limit > 0 {
        limit = limit.saturating_sub(output.len() - max);
        output = escape(&plugin_output(o, checked, limit));
    }
    PassiveResult {
        host,
        service,
        code,
        output,
    }
}

/// The command line (with its newline) for `entry` at `now`, at most [`PIPE_BUF`] bytes.
pub fn command_line(entry: &Entry, host: &str, service: &str, now: DateTime<Utc>) -> String {
    let (h, s) = names(host, service);
    let head = if s.is_empty() {
        format!("[{}] PROCESS_HOST_CHECK_RESULT;{h};0;", now.timestamp())
    } else {
        format!(
            "[{}] PROCESS_SERVICE_CHECK_RESULT;{h};{s};0;",
            now.timestamp()
        )
    };
    let room = PIPE_BUF.saturating_sub(head.len() + 1);
    let r = result(entry, &h, &s, room);
    if r.service.is_empty() {
        format!(
            "[{}] PROCESS_HOST_CHECK_RESULT;{};{};{}\n",
            now.timestamp(),
            r.host,
            r.code,
            r.output
        )
    } else {
        format!(
            "[{}] PROCESS_SERVICE_CHECK_RESULT;{};{};{};{}\n",
            now.timestamp(),
            r.host,
            r.service,
            r.code,
            r.output
        )
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    format!("{}.{:06}", t.timestamp(), t.timestamp_subsec_micros())
}

/// A check result file for `results` at `now` (Nagios reads it once its `.ok` file exists).
pub fn result_file(results: &[PassiveResult], now: DateTime<Utc>) -> String {
    let mut out = format!(
        "### nagbridge passive check results ###\nfile_time={}\n\n",
        now.timestamp()
    );
    for r in results {
        if r.service.is_empty() {
            out.push_str("### Nagios Host Check Result ###\n");
        } else {
            out.push_str("### Nagios Service Check Result ###\n");
        }
        out.push_str(&format!("# Time: {}\n", now.format("%a %b %e %H:%M:%S %Y")));
        out.push_str(&format!("host_name={}\n", r.host));
        if !r.service.is_empty() {
            out.push_str(&format!("service_description={}\n", r.service));
        }
        out.push_str(&format!(
            "check_type=1\ncheck_options=0\nscheduled_check=0\nreschedule_check=0\n\
             latency=0.0\nstart_time={t}\nfinish_time={t}\nearly_timeout=0\nexited_ok=1\n\
             return_code={}\noutput={}\n\n",
            r.code,
            r.output,
            t = stamp(now)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::spool::EntryId;

    fn entry(o: Outcome) -> Entry {
        Entry {
            id: EntryId::new(1, 2, 3),
            spooled_at: DateTime::parse_from_rfc3339("2026-11-24T04:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            outcome: o,
        }
    }

    #[test]
    fn nagios_command_lines_fit_one_atomic_write() {
        let mut o = Outcome::new("nightly", Status::Failure);
        o.errors = (0..900).map(|i| format!("error {i} in C:\\x")).collect();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let line = command_line(&entry(o), "db;01", "backup nightly", now);
        assert!(line.len() <= PIPE_BUF, "{}", line.len());
        assert!(line.starts_with(
            "[1800000000] PROCESS_SERVICE_CHECK_RESULT;db_01;backup nightly;2;CRITICAL: nightly"
        ));
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.contains("C:\\\\x"));
        let o = Outcome::new("nightly", Status::Warning);
        let line = command_line(&entry(o), "db01", "", now);
        assert!(line.starts_with("[1800000000] PROCESS_HOST_CHECK_RESULT;db01;0;WARNING"));
    }

    #[test]
    fn nagios_result_files_hold_one_record_per_result() {
        let now = DateTime::from_timestamp(1_800_000_000, 250_000_000).unwrap();
        let mut o = Outcome::new("nightly", Status::Warning);
        o.items = vec![crate::outcome::Item {
            name: "a".into(),
            status: Status::Warning,
            bytes: None,
            message: None,
        }];
        let r = result(&entry(o), "db01", "backup nightly", MAX_OUTPUT);
        let text = result_file(&[r.clone(), r], now);
        assert!(
            text.starts_with("### nagbridge passive check results ###\nfile_time=1800000000\n\n")
        );
        assert_eq!(text.matches("host_name=db01\n").count(), 2);
        assert!(text.contains("start_time=1800000000.250000\n"));
        assert!(text.contains("return_code=1\noutput=WARNING: nightly"));
        assert!(text.contains("\\na: warning"), "{text}");
        assert!(text.ends_with("\n\n"));
    }
}
