//! What Icinga 2's `POST /v1/actions/process-check-result` gets for an outcome, and what
//! `PUT /v1/objects/services/<host>!<service>` creates for a missing one. Pure.
//!
//! * the target `?service=<host>!<service>` (the form that answers 404 for an unknown object;
//!   a `filter` matching nothing answers 500), `!` in a name folded to `_`;
//! * `exit_status` (services 0-3; a host check, when the service template fills to nothing,
//!   0 for success and warning and 1 otherwise: hosts accept only 0-1);
//! * `plugin_output` without ` | perfdata` (Icinga does not split it) and `performance_data`
//!   as an array;
//! * `execution_start` = `execution_end` = the job's end, so that Icinga keeps the newest
//!   result when results arrive out of order. Not the job's start: Icinga silently drops (yet
//!   answers 200) a result whose `execution_start` is older than the one it has, and the
//!   "no result" check its freshness runs during a long job would then win over the job's own
//!   result (the run's duration is in the perfdata). A result delivered more than
//!   [`LATE_AFTER`] after the job ended (an outage, a backlog) is stamped with the delivery
//!   time instead, its real end in the output: Icinga may have run such a check meanwhile;
//! * `ttl` (the job's every + grace, or the configured one) and `check_source` (the agent).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::outcome::{perfdata_values, plugin_output_text, Outcome, Status};
use crate::spool::Entry;

/// A result delivered later than this after its job ended is stamped with the delivery time.
pub const LATE_AFTER: Duration = Duration::from_secs(30);

/// Most bytes of `plugin_output` (Icinga has no limit of its own; long output is cut with a
/// `... (N more)` line).
pub const MAX_OUTPUT: usize = 16 * 1024;

/// One result to post.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Icinga host name.
    pub host: String,
    /// Icinga service name; `None`: a host check.
    pub service: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The ttl sent, if any.
    pub ttl: Option<Duration>,
}

impl Check {
    /// `host!service` or `host`: the object's full name.
    pub fn object(&self) -> String {
        match &self.service {
            Some(s) => format!("{}!{s}", self.host),
            None => self.host.clone(),
        }
    }

    /// The query of the process-check-result URL: `service=<host>!<service>` or `host=<host>`.
    pub fn query(&self) -> (&'static str, String) {
        match &self.service {
            Some(_) => ("service", self.object()),
            None => ("host", self.host.clone()),
        }
    }
}

/// An Icinga object name made of a filled template: `!` (the host/service separator) becomes
/// `_`.
pub fn object_name(name: &str) -> String {
    name.replace('!', "_")
}

/// Icinga's exit status for `status`: the Nagios code for a service; UP (0) for success and
/// warning, DOWN (1) otherwise for a host.
pub fn exit_status(status: Status, host_check: bool) -> i16 {
    if host_check {
        match status {
            Status::Success | Status::Warning => 0,
            Status::Failure | Status::Unknown => 1,
        }
    } else {
        status.nagios_code()
    }
}

fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// The request for `entry`: `host`/`service` as named (a blank service: a host check),
/// `ttl` as found for it, `source` the agent's host name, `now` the delivery time.
pub fn check(
    entry: &Entry,
    host: &str,
    service: &str,
    ttl: Option<Duration>,
    source: &str,
    now: DateTime<Utc>,
) -> Check {
    let o: &Outcome = &entry.outcome;
    let host_check = service.trim().is_empty();
    let end = entry.check_time();
    let mut stamp = end;
    let mut output = plugin_output_text(o, None, MAX_OUTPUT);
    let late = chrono::Duration::from_std(LATE_AFTER).unwrap_or(chrono::Duration::MAX);
    if now - end > late {
        // Icinga may have run its own freshness check since: a result older than that is
        // dropped although the API answers 200. Say when it really finished.
        stamp = now;
        let (first, rest) = output.split_once('\n').unwrap_or((&output, ""));
        let mut first = format!(
            "{first} (finished {}, reported late)",
            end.format("%Y-%m-%d %H:%M:%SZ")
        );
        if !rest.is_empty() {
            first.push('\n');
            first.push_str(rest);
        }
        output = first;
    }
    let mut body = json!({
        "exit_status": exit_status(o.status, host_check),
        "plugin_output": output,
        "performance_data": perfdata_values(o),
        "check_source": source,
        "execution_start": unix(stamp),
        "execution_end": unix(stamp),
    });
    if let Some(ttl) = ttl {
        body["ttl"] = json!(ttl.as_secs().max(1));
    }
    Check {
        host: object_name(host),
        service: (!host_check).then(|| object_name(service)),
        body,
        ttl,
    }
}

/// The attributes of a passive service created for results (`create_services`):
/// `check_command = "passive"`, HARD at the first result, and, when results carry a ttl,
/// active checks on so that Icinga runs the `passive` command (CRITICAL "no backup result")
/// when the ttl runs out.
pub fn service_attrs(ttl: Option<Duration>, agent: &str) -> Value {
    let interval = ttl.map(|t| t.as_secs().max(60)).unwrap_or(86_400);
    json!({
        "attrs": {
            "check_command": "passive",
            "enable_active_checks": ttl.is_some(),
            "enable_passive_checks": true,
            "check_interval": interval,
            "retry_interval": interval,
            "max_check_attempts": 1,
            "vars": {
                "dummy_state": 2,
                "dummy_text": stale_text(ttl),
            },
            "notes": format!("passive backup results from nagbridge on {agent}; created by nagbridge"),
        }
    })
}

/// What the `passive` command says when a service's results stop.
pub fn stale_text(ttl: Option<Duration>) -> String {
    match ttl {
        Some(t) => format!(
            "CRITICAL: no backup result within {} (the last result's ttl)",
            crate::config::duration::format_duration(t)
        ),
        None => "CRITICAL: no backup result".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::EntryId;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn entry() -> Entry {
        let mut o = Outcome::new("nightly-db", Status::Warning);
        o.started = Some(t("2026-11-24T02:00:00Z"));
        o.finished = Some(t("2026-11-24T02:03:10Z"));
        o.duration_s = Some(190.2);
        o.bytes = Some(1_234_567);
        o.files = Some(4200);
        o.summary = Some("1 file could not be read | pipe in text".into());
        o.errors = vec!["open /srv/x: permission denied".into()];
        Entry {
            id: EntryId::new(1, 2, 3),
            spooled_at: t("2026-11-24T02:03:11Z"),
            outcome: o,
        }
    }

    #[test]
    fn icinga2_body_has_perfdata_array_and_job_times() {
        let e = entry();
        let c = check(
            &e,
            "db01",
            "backup nightly-db",
            Some(Duration::from_secs(93_600)),
            "backup01",
            t("2026-11-24T02:03:12Z"),
        );
        assert_eq!(c.object(), "db01!backup nightly-db");
        assert_eq!(c.query(), ("service", "db01!backup nightly-db".to_string()));
        let b = &c.body;
        assert_eq!(b["exit_status"], 1);
        assert_eq!(
            b["plugin_output"],
            "WARNING: nightly-db 1 file could not be read | pipe in text\nerror: open /srv/x: permission denied"
        );
        assert_eq!(
            b["performance_data"],
            json!(["duration=190.2s", "size=1234567B", "files=4200", "errors=1"])
        );
        assert_eq!(b["check_source"], "backup01");
        // The job's end, both (its start would lose against a freshness check run meanwhile).
        assert_eq!(b["execution_start"], json!(1_795_485_790.0));
        assert_eq!(b["execution_end"], json!(1_795_485_790.0));
        assert_eq!(b["ttl"], 93_600);
    }

    #[test]
    fn icinga2_late_results_are_stamped_with_the_delivery_time() {
        let e = entry();
        let now = t("2026-11-24T02:03:41Z");
        let c = check(&e, "db01", "s", Some(Duration::from_secs(3600)), "a", now);
        assert_eq!(c.body["execution_end"], json!(unix(now)));
        assert_eq!(c.body["execution_start"], json!(unix(now)));
        let out = c.body["plugin_output"].as_str().unwrap();
        assert!(
            out.starts_with("WARNING: nightly-db 1 file could not be read | pipe in text (finished 2026-11-24 02:03:10Z, reported late)\nerror:"),
            "{out}"
        );
        // Within LATE_AFTER: the job's end.
        let c = check(&e, "db01", "s", None, "a", t("2026-11-24T02:03:40Z"));
        assert_eq!(c.body["execution_end"], json!(1_795_485_790.0));
        assert!(c.body.get("ttl").is_none());
    }

    #[test]
    fn icinga2_host_checks_only_use_up_and_down() {
        let mut e = entry();
        for (status, code) in [
            (Status::Success, 0),
            (Status::Warning, 0),
            (Status::Failure, 1),
            (Status::Unknown, 1),
        ] {
            e.outcome.status = status;
            let c = check(&e, "h!x", " ", None, "a", t("2026-11-24T02:03:12Z"));
            assert_eq!(c.service, None);
            assert_eq!(c.query(), ("host", "h_x".to_string()));
            assert_eq!(c.body["exit_status"], code, "{status}");
        }
    }

    #[test]
    fn icinga2_created_services_are_passive_with_freshness() {
        let a = service_attrs(Some(Duration::from_secs(7200)), "backup01");
        assert_eq!(a["attrs"]["check_command"], "passive");
        assert_eq!(a["attrs"]["enable_active_checks"], true);
        assert_eq!(a["attrs"]["max_check_attempts"], 1);
        assert_eq!(a["attrs"]["check_interval"], 7200);
        assert_eq!(a["attrs"]["vars"]["dummy_state"], 2);
        let a = service_attrs(None, "backup01");
        assert_eq!(a["attrs"]["enable_active_checks"], false);
    }
}
