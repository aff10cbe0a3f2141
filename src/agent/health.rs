//! What keeps outcomes from reaching a destination, gathered in one place: the agent's
//! heartbeat turns WARNING with these reasons, `status.json` lists them, and each one was
//! logged as a WARN when it appeared.
//!
//! Owns: the list of problems (failing destinations, quarantined and unreadable spool entries,
//! skipped files, unhealthy watches, jobs Nagios has no service for) and the heartbeat outcome
//! made from it. Pure apart from counting quarantine files; must not deliver or log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::delivery::StatsSnapshot;
use crate::outcome::{Outcome, Status};

/// The service of the agent's own heartbeat check.
pub const HEARTBEAT_SERVICE: &str = "nagbridge";
/// The tool name of outcomes the agent makes itself (heartbeat, stale jobs).
pub const AGENT_TOOL: &str = "nagbridge";
/// A job without a Nagios service is shown this long after its last outcome.
pub const UNCONFIGURED_JOB_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// One destination as the heartbeat and `status` see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationHealth {
    /// Its name (the spool directory).
    pub name: String,
    /// What it is (`nsca 127.0.0.1:5667`).
    pub describe: String,
    /// Entries waiting.
    pub pending: u64,
    /// When the oldest waiting entry was spooled.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Delivered since the agent started.
    pub delivered: u64,
    /// When an entry was last delivered.
    pub last_delivery: Option<DateTime<Utc>>,
    /// True from a failed attempt until the next delivery.
    pub failing: bool,
    /// The last failure, and when.
    pub last_error: Option<String>,
    /// When the last failure happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Files in its `quarantine/` directory (damaged or refused entries, kept for the admin).
    pub quarantined: u64,
    /// When and why the newest one was quarantined.
    #[serde(default)]
    pub last_quarantine: Option<String>,
    /// Entries that cannot be read (skipped; the others go on): name -> why.
    pub unreadable: BTreeMap<String, String>,
    /// Why the destination is dead (its delivery stopped until the config is reloaded).
    #[serde(default)]
    pub dead: Option<String>,
}

impl DestinationHealth {
    /// From a destination's counters and its quarantine directory.
    pub fn of(name: &str, describe: &str, stats: &StatsSnapshot, quarantine_dir: &Path) -> Self {
        let (quarantined, last_quarantine) = quarantine(quarantine_dir);
        DestinationHealth {
            name: name.to_string(),
            describe: describe.to_string(),
            pending: stats.pending,
            oldest_pending: stats.oldest_pending,
            delivered: stats.delivered,
            last_delivery: stats.last_delivery,
            failing: stats.failing,
            last_error: stats.last_error.clone(),
            last_error_at: stats.last_error_at,
            quarantined,
            last_quarantine,
            unreadable: stats.unreadable.clone(),
            dead: stats.dead.clone(),
        }
    }
}

/// Quarantined entries in `dir` (their `.why` files not counted; 0 when it cannot be read),
/// and the newest reason.
pub fn quarantine(dir: &Path) -> (u64, Option<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, None);
    };
    let mut count = 0;
    let mut newest: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name();
        if name.to_string_lossy().ends_with(crate::spool::WHY_SUFFIX) {
            let t = e.metadata().and_then(|m| m.modified()).ok();
            if let Some(t) = t {
                if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                    newest = Some((t, e.path()));
                }
            }
        } else {
            count += 1;
        }
    }
    let reason = newest
        .and_then(|(_, p)| std::fs::read_to_string(p).ok())
        .map(|r| r.trim().to_string());
    (count, reason)
}

/// A watched path that cannot be watched now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchProblem {
    /// The configured path.
    pub path: PathBuf,
    /// Why (missing, not a directory, not readable, ...).
    pub reason: String,
}

/// Everything the heartbeat reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Per destination.
    pub destinations: Vec<DestinationHealth>,
    /// Watches that cannot be watched now.
    pub watches: Vec<WatchProblem>,
    /// Files the watcher skipped (symlinks, FIFOs, unreadable files): path -> why.
    pub skipped: BTreeMap<PathBuf, String>,
    /// Jobs with a recent outcome but no Nagios service (no `[[job]]` of that exact name, and
    /// not in what `nagios-config` last generated): Nagios drops their results. Job -> last
    /// outcome time.
    pub unconfigured_jobs: BTreeMap<String, DateTime<Utc>>,
    /// How many such jobs there are (`unconfigured_jobs` keeps the first
    /// [`MAX_LISTED`] by name).
    #[serde(default)]
    pub unconfigured_count: u64,
}

/// Most jobs (or files) named one by one in the health; the rest are counted.
pub const MAX_LISTED: usize = 50;

impl Health {
    /// The problems, one line each, worst first (empty when all is well).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.destinations {
            if let Some(why) = &d.dead {
                out.push(format!(
                    "{} is dead, delivery stopped ({} pending, kept): {why}; fix it and reload \
                     (SIGHUP)",
                    d.describe, d.pending
                ));
            } else if d.failing {
                out.push(format!(
                    "{} delivery failing ({} pending): {}",
                    d.describe,
                    d.pending,
                    d.last_error.as_deref().unwrap_or("no detail")
                ));
            }
        }
        for w in &self.watches {
            out.push(format!("watch {}: {}", w.path.display(), w.reason));
        }
        for d in &self.destinations {
            if d.quarantined > 0 {
                out.push(format!(
                    "{} {} quarantined in spool/{}/quarantine (never delivered; see nagbridge status){}",
                    d.quarantined,
                    plural(d.quarantined, "outcome", "outcomes"),
                    d.name,
                    d.last_quarantine
                        .as_deref()
                        .map(|r| format!(", last: {r}"))
                        .unwrap_or_default()
                ));
            }
            if let Some((name, why)) = d.unreadable.iter().next() {
                out.push(format!(
                    "{} spool {} for {} cannot be read (skipped, the others go on): {name}: {why}",
                    d.unreadable.len(),
                    plural(d.unreadable.len() as u64, "entry", "entries"),
                    d.name
                ));
            }
        }
        if !self.unconfigured_jobs.is_empty() {
            let mut names: Vec<&str> = self.unconfigured_jobs.keys().map(String::as_str).collect();
            let total = (self.unconfigured_count as usize).max(names.len());
            let more = format!("(+{} more)", total - names.len());
            if total > names.len() {
                names.push(&more);
            }
            out.push(format!(
                "{} {} without a Nagios service (Nagios drops their results; run nagbridge \
                 nagios-config again and reload Nagios, or add [[job]] name = \"...\"): {}",
                total,
                plural(total as u64, "job", "jobs"),
                names.join(", ")
            ));
        }
        if let Some((path, why)) = self.skipped.iter().next() {
            out.push(format!(
                "{} {} skipped: {}: {why}",
                self.skipped.len(),
                plural(self.skipped.len() as u64, "file", "files"),
                path.display()
            ));
        }
        out
    }

    /// The heartbeat outcome: OK with the counters, or WARNING with every problem (the first
    /// in the summary, all of them as long output lines).
    pub fn heartbeat(&self, now: DateTime<Utc>) -> Outcome {
        let problems = self.problems();
        let pending: u64 = self.destinations.iter().map(|d| d.pending).sum();
        let delivered: u64 = self.destinations.iter().map(|d| d.delivered).sum();
        let mut o = Outcome::new(
            HEARTBEAT_SERVICE,
            if problems.is_empty() {
                Status::Success
            } else {
                Status::Warning
            },
        );
        o.tool = Some(AGENT_TOOL.into());
        let counters = format!("{pending} pending, {delivered} delivered");
        o.summary = Some(match problems.first() {
            None => format!("agent running, {counters}"),
            Some(first) if problems.len() == 1 => format!("{first}; {counters}"),
            Some(first) => format!(
                "{first} (+{} more problems below); {counters}",
                problems.len() - 1
            ),
        });
        o.warnings = problems;
        o.finished = Some(now);
        o
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest() -> DestinationHealth {
        DestinationHealth {
            name: "nsca".into(),
            describe: "nsca 127.0.0.1:5667".into(),
            pending: 3,
            oldest_pending: None,
            delivered: 10,
            last_delivery: None,
            failing: false,
            last_error: None,
            last_error_at: None,
            quarantined: 0,
            last_quarantine: None,
            unreadable: BTreeMap::new(),
            dead: None,
        }
    }

    #[test]
    fn healthy_is_ok_with_counters() {
        let h = Health {
            destinations: vec![dest()],
            ..Health::default()
        };
        let o = h.heartbeat(Utc::now());
        assert_eq!(o.status, Status::Success);
        assert_eq!(
            o.summary.as_deref(),
            Some("agent running, 3 pending, 10 delivered")
        );
        assert_eq!(o.job, HEARTBEAT_SERVICE);
    }

    #[test]
    fn every_problem_turns_it_warning_and_is_named() {
        let mut d = dest();
        d.quarantined = 2;
        d.unreadable
            .insert("0001-b".into(), "permission denied".into());
        d.failing = true;
        d.last_error = Some("nsca: connection refused".into());
        let mut h = Health {
            destinations: vec![d],
            ..Health::default()
        };
        h.watches.push(WatchProblem {
            path: "/var/log/gone".into(),
            reason: "does not exist".into(),
        });
        h.skipped.insert(
            "/var/log/x/link".into(),
            "symbolic link (not followed)".into(),
        );
        h.unconfigured_jobs.insert("README".into(), Utc::now());
        let o = h.heartbeat(Utc::now());
        assert_eq!(o.status, Status::Warning);
        let s = o.summary.unwrap();
        assert!(s.starts_with("nsca 127.0.0.1:5667 delivery failing (3 pending): nsca: connection refused (+5 more problems below)"), "{s}");
        let all = o.warnings.join("\n");
        for needle in [
            "watch /var/log/gone: does not exist",
            "2 outcomes quarantined in spool/nsca/quarantine",
            "1 spool entry for nsca cannot be read (skipped, the others go on): 0001-b: permission denied",
            "1 job without a Nagios service",
            ": README",
            "1 file skipped: /var/log/x/link: symbolic link",
        ] {
            assert!(all.contains(needle), "{needle}:\n{all}");
        }
    }
}
