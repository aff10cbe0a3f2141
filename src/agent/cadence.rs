//! Job cadence: when a `[[job]]` with `every` has had no outcome within `every + grace`, the
//! agent itself reports CRITICAL "no result since ..." (Nagios freshness stays the backstop for
//! when the agent is dead).
//!
//! Owns: the last-seen time per job and when it last alerted, and the decision to alert. Pure
//! except for [`Cadence::load`]/[`Cadence::save`], which keep the state in one small JSON file
//! written atomically, so a restart neither forgets a silent job nor re-alerts at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, Status};

/// One rule the tracker checks: jobs matching `matches` are expected every `every`.
pub struct Expectation<'a> {
    /// The rule's name as written (exact job name or glob).
    pub name: &'a str,
    /// Does a job name fall under this rule?
    pub matches: &'a dyn Fn(&str) -> bool,
    /// True when `name` is an exact job name (then it is expected even if never seen).
    pub exact: bool,
    /// Expected cadence.
    pub every: Duration,
    /// Allowed lateness.
    pub grace: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct JobState {
    /// Time of the last outcome of this job (None: never seen since `since`).
    last: Option<DateTime<Utc>>,
    /// When the agent last reported this job as stale.
    alerted: Option<DateTime<Utc>>,
    /// The status of its last outcome (for `nagbridge status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    /// The summary of its last outcome when it was a problem, cut to 200 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
}

/// What is known of one job (for `nagbridge status` and the heartbeat).
#[derive(Debug, Clone, PartialEq)]
pub struct JobView<'a> {
    /// The job name.
    pub job: &'a str,
    /// When its last outcome was seen.
    pub last: Option<DateTime<Utc>>,
    /// Its status.
    pub status: Option<Status>,
    /// Its summary.
    pub summary: Option<&'a str>,
    /// When the agent last reported it stale.
    pub alerted: Option<DateTime<Utc>>,
}

/// The cadence state file of `state_dir`.
pub fn state_file(state_dir: &Path) -> PathBuf {
    state_dir.join("cadence.json")
}

/// The job names in `state_dir`'s cadence file, sorted: every job the agent has spooled an
/// outcome for, and every exact `[[job]]` name it has started expecting. Read-only (for
/// `nagios-config`); Err says why the file cannot be read (`NotFound`: the agent never saved one).
pub fn seen_jobs(state_dir: &Path) -> std::io::Result<Vec<String>> {
    let bytes = std::fs::read(state_file(state_dir))?;
    let c: Cadence = serde_json::from_slice(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(c.jobs.into_keys().collect())
}

/// Per-job last-seen times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cadence {
    /// When tracking started (the baseline for jobs never seen).
    since: DateTime<Utc>,
    jobs: BTreeMap<String, JobState>,
    #[serde(skip)]
    path: Option<PathBuf>,
}

impl Cadence {
    /// A new tracker starting at `now`.
    pub fn new(now: DateTime<Utc>) -> Cadence {
        Cadence {
            since: now,
            jobs: BTreeMap::new(),
            path: None,
        }
    }

    /// Load from `state_dir/cadence.json`; a missing or unreadable file starts afresh at
    /// `now` (with a warning for a corrupt one: the worst case is a late alert, never a lost
    /// outcome).
    pub fn load(state_dir: &Path, now: DateTime<Utc>) -> Cadence {
        let path = state_file(state_dir);
        let mut c = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Cadence>(&bytes).unwrap_or_else(|e| {
                eprintln!(
                    "warning: {}: unreadable ({e}); job cadence starts afresh",
                    path.display()
                );
                Cadence::new(now)
            }),
            Err(_) => Cadence::new(now),
        };
        c.path = Some(path);
        c
    }

    /// Save atomically (tmp, fsync, rename) if loaded from a file.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &json)
    }

    /// An outcome of `job` was seen (spooled) at `at`.
    pub fn observe(&mut self, job: &str, at: DateTime<Utc>) {
        let state = self.jobs.entry(job.to_string()).or_default();
        if state.last.is_none_or(|l| at > l) {
            state.last = Some(at);
        }
        state.alerted = None;
    }

    /// `o` was seen (spooled) at `at`: its job's time, status and summary.
    pub fn observe_outcome(&mut self, o: &Outcome, at: DateTime<Utc>) {
        self.observe(&o.job, at);
        let state = self.jobs.entry(o.job.clone()).or_default();
        state.status = Some(o.status);
        // The summary is kept for problems only (what `status` shows next to a job that needs a
        // look); thousands of successful jobs then cost no string each.
        state.summary = o
            .summary
            .as_deref()
            .filter(|_| o.status != Status::Success)
            .map(|s| nsca::packet::truncate_utf8(s, 200).to_string());
    }

    /// When tracking started (the baseline for a job never seen).
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// Every job known, by name.
    pub fn jobs(&self) -> impl Iterator<Item = JobView<'_>> {
        self.jobs.iter().map(|(job, s)| JobView {
            job,
            last: s.last,
            status: s.status,
            summary: s.summary.as_deref(),
            alerted: s.alerted,
        })
    }

    /// The CRITICAL outcomes due at `now`: for each job under an expectation whose last outcome
    /// (or, never seen, the tracking start) is older than `every + grace`, unless it was already
    /// reported within the last `every`. Marks them as reported.
    pub fn due(&mut self, now: DateTime<Utc>, rules: &[Expectation<'_>]) -> Vec<Outcome> {
        let mut out = Vec::new();
        for rule in rules {
            if rule.exact {
                self.jobs.entry(rule.name.to_string()).or_default();
            }
        }
        let since = self.since;
        for (job, state) in self.jobs.iter_mut() {
            let Some(rule) = rules.iter().find(|r| (r.matches)(job)) else {
                continue;
            };
            let limit = chrono::Duration::from_std(rule.every + rule.grace)
                .unwrap_or(chrono::Duration::MAX);
            let every = chrono::Duration::from_std(rule.every).unwrap_or(chrono::Duration::MAX);
            let base = state.last.unwrap_or(since);
            if now - base <= limit {
                continue;
            }
            if state.alerted.is_some_and(|a| now - a < every) {
                continue;
            }
            state.alerted = Some(now);
            let mut o = Outcome::new(job.clone(), Status::Failure);
            o.tool = Some("nagbridge".into());
            let expected = format!(
                "expected every {}, grace {}",
                crate::config::duration::format_duration(rule.every),
                crate::config::duration::format_duration(rule.grace)
            );
            o.summary = Some(match state.last {
                Some(l) => format!(
                    "no result since {} ({expected})",
                    l.format("%Y-%m-%d %H:%M:%SZ")
                ),
                None => format!(
                    "no result seen since nagbridge started watching at {} ({expected})",
                    since.format("%Y-%m-%d %H:%M:%SZ")
                ),
            });
            o.finished = Some(now);
            out.push(o);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn stale_jobs_alert_once_per_period() {
        let exact = |j: &str| j == "nightly";
        let glob = |j: &str| j.starts_with("restic-");
        let rules = [
            Expectation {
                name: "nightly",
                matches: &exact,
                exact: true,
                every: Duration::from_secs(100),
                grace: Duration::from_secs(10),
            },
            Expectation {
                name: "restic-*",
                matches: &glob,
                exact: false,
                every: Duration::from_secs(50),
                grace: Duration::from_secs(5),
            },
        ];
        let mut c = Cadence::new(t(0));
        c.observe("restic-home", t(0));
        assert!(c.due(t(55), &rules).is_empty());
        let due = c.due(t(56), &rules);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].job, "restic-home");
        assert_eq!(due[0].status, Status::Failure);
        assert!(
            due[0]
                .summary
                .as_deref()
                .unwrap()
                .starts_with("no result since 2027-01-15"),
            "{:?}",
            due[0].summary
        );
        // not again within `every`
        assert!(c.due(t(100), &rules).is_empty());
        // the never-seen exact job is due after every+grace from the start
        let due = c.due(t(111), &rules);
        assert_eq!(
            due.iter().map(|o| o.job.as_str()).collect::<Vec<_>>(),
            ["nightly", "restic-home"]
        );
        assert!(due[0]
            .summary
            .as_deref()
            .unwrap()
            .contains("no result seen since nagbridge started"));
        // a new result clears it
        c.observe("restic-home", t(112));
        assert!(c.due(t(150), &rules).iter().all(|o| o.job != "restic-home"));
        // unrelated jobs are never due
        c.observe("other", t(0));
        assert!(c.due(t(10_000), &rules).iter().all(|o| o.job != "other"));
    }

    #[test]
    fn state_survives_a_restart_and_corruption_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cadence::load(dir.path(), t(0));
        c.observe("nightly", t(5));
        c.save().unwrap();
        let back = Cadence::load(dir.path(), t(999));
        assert_eq!(back.jobs, c.jobs);
        assert_eq!(back.since, t(0));
        std::fs::write(dir.path().join("cadence.json"), b"{garbage").unwrap();
        let fresh = Cadence::load(dir.path(), t(999));
        assert_eq!(fresh.since, t(999));
    }

    #[test]
    fn seen_jobs_lists_the_saved_job_names() {
        let dir = tempfile::tempdir().unwrap();
        let err = seen_jobs(dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        let mut c = Cadence::load(dir.path(), t(0));
        c.observe("zeta", t(1));
        c.observe("alpha", t(2));
        c.save().unwrap();
        assert_eq!(seen_jobs(dir.path()).unwrap(), ["alpha", "zeta"]);
        std::fs::write(state_file(dir.path()), b"{garbage").unwrap();
        let err = seen_jobs(dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}
