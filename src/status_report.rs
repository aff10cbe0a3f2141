//! What `nagbridge status` shows: per destination what is pending, failing and last
//! delivered; per job its last outcome; per watch whether it can be read; whether an agent runs;
//! and every problem that keeps an outcome from a destination (SPEC section 8).
//!
//! Owns: gathering this from the state directory (spool listings, quarantine, the inbox,
//! `cadence.json`, the running agent's `status.json`, the lock) and the config, and rendering
//! it as text or JSON. Read-only: it never takes the lock, writes or delivers.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::agent::cadence::Cadence;
use crate::agent::health::{quarantine, DestinationHealth, Health, WatchProblem};
use crate::agent::status_file::StatusFile;
use crate::config::Config;
use crate::outcome::Status;
use crate::spool::EntryId;
use crate::state::lock::{self, Holder, Role};

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The running agent, if any.
    pub agent: Option<AgentView>,
    /// Per destination.
    pub destinations: Vec<DestinationHealth>,
    /// Results `wrap` handed over that the agent has not taken yet.
    pub inbox: u64,
    /// Per watch.
    pub watches: Vec<WatchView>,
    /// Per job.
    pub jobs: Vec<JobReport>,
    /// Every problem, one line each (empty: all is well).
    pub problems: Vec<String>,
}

/// The agent that holds the state directory.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    /// Its pid.
    pub pid: Option<u32>,
    /// `agent` or `wrap`.
    pub role: String,
    /// When it started (from its status file).
    pub started: Option<DateTime<Utc>>,
    /// When its status file was last written.
    pub updated: Option<DateTime<Utc>>,
}

/// One watch.
#[derive(Debug, Clone, Serialize)]
pub struct WatchView {
    /// The configured path.
    pub path: PathBuf,
    /// `ok`, or why it cannot be watched (as this user sees it, and as the agent reported).
    pub state: String,
}

/// One job.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// Its name.
    pub job: String,
    /// The status of its last outcome.
    pub status: Option<Status>,
    /// When its last outcome was seen.
    pub last: Option<DateTime<Utc>>,
    /// Its summary.
    pub summary: Option<String>,
    /// The cadence expected by its `[[job]]`, if any: `every + grace` in seconds.
    pub expected_within_s: Option<u64>,
    /// True when the cadence says it is late.
    pub late: bool,
}

/// Why a watch path cannot be watched by this user now (None: it can).
pub fn watch_problem(path: &Path, state_dir: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("does not exist".into()),
        Err(e) => return Some(format!("cannot be read: {e}")),
    };
    if !meta.is_dir() {
        return Some("is not a directory".into());
    }
    if let Err(e) = std::fs::read_dir(path) {
        return Some(format!("cannot be listed: {e}"));
    }
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if canon(path).starts_with(canon(state_dir)) {
        return Some("is inside state_dir (the agent's own files are never read)".into());
    }
    None
}

/// Gather the report for `config` at `now`.
pub fn gather(config: &Config, now: DateTime<Utc>) -> Report {
    let state_dir = config.agent.state_dir.clone();
    let holder: Option<Holder> = lock::holder(&state_dir);
    let status = StatusFile::read(&state_dir);
    let agent_running = holder.as_ref().is_some_and(|h| h.role == Some(Role::Agent));
    // The status file is the running agent's only when its pid holds the lock now.
    let live = status
        .as_ref()
        .filter(|s| agent_running && holder.as_ref().and_then(|h| h.pid) == Some(s.pid));
    let agent = holder.as_ref().map(|h| AgentView {
        pid: h.pid,
        role: match h.role {
            Some(Role::Agent) => "agent".into(),
            Some(Role::Wrap) => "wrap".into(),
            None => "unknown".into(),
        },
        started: live.map(|s| s.started),
        updated: live.map(|s| s.updated),
    });
    let mut problems = Vec::new();

    // Destinations: counted from the spool itself; counters from the live agent.
    let mut destinations = Vec::new();
    for (name, describe) in crate::pipeline::destination_names(config) {
        let name = name.as_str();
        let dir = state_dir.join("spool").join(name);
        let listed = list_entries(&dir.join("new"));
        let mut d = live
            .and_then(|s| {
                s.health
                    .destinations
                    .iter()
                    .find(|d| d.name == name)
                    .cloned()
            })
            .unwrap_or_else(|| DestinationHealth {
                name: name.into(),
                describe: describe.clone(),
                pending: 0,
                oldest_pending: None,
                delivered: 0,
                last_delivery: None,
                failing: false,
                last_error: None,
                last_error_at: None,
                quarantined: 0,
                last_quarantine: None,
                unreadable: Default::default(),
                dead: None,
            });
        d.pending = listed.len() as u64;
        d.oldest_pending = listed
            .iter()
            .map(EntryId::micros)
            .min()
            .and_then(|m| DateTime::from_timestamp_micros(m as i64));
        (d.quarantined, d.last_quarantine) = quarantine(&dir.join("quarantine"));
        destinations.push(d);
    }
    let inbox = list_entries(&state_dir.join("spool/inbox/new")).len() as u64;

    // Watches: as this user sees them, and as the agent reported them.
    let agent_watch_problems: Vec<WatchProblem> =
        live.map(|s| s.health.watches.clone()).unwrap_or_default();
    let watches: Vec<WatchView> = config
        .watches
        .iter()
        .map(|w| {
            let mine = watch_problem(&w.path, &state_dir);
            let agents = agent_watch_problems
                .iter()
                .find(|p| p.path == w.path)
                .map(|p| p.reason.clone());
            let state = match (mine, agents) {
                (None, None) => "ok".to_string(),
                (Some(m), None) => m,
                (None, Some(a)) => format!("{a} (as the agent sees it)"),
                (Some(m), Some(a)) if m == a => m,
                (Some(m), Some(a)) => format!("{m}; the agent: {a}"),
            };
            WatchView {
                path: w.path.clone(),
                state,
            }
        })
        .collect();

    // Jobs: from the cadence state.
    let cadence = Cadence::load(&state_dir, now);
    let mut jobs: Vec<JobReport> = cadence
        .jobs()
        .map(|j| {
            let s = config.job_settings(j.job);
            let within = s.every.map(|e| e + s.grace);
            // As the agent's own check: from the last result, or from when it started
            // watching for a job never seen.
            let late = within.is_some_and(|w| {
                now - j.last.unwrap_or(cadence.since())
                    > chrono::Duration::from_std(w).unwrap_or(chrono::Duration::MAX)
            });
            JobReport {
                job: j.job.to_string(),
                status: j.status,
                last: j.last,
                summary: j.summary.map(str::to_string),
                expected_within_s: within.map(|w| w.as_secs()),
                late,
            }
        })
        .collect();
    jobs.sort_by(|a, b| a.job.cmp(&b.job));

    // Problems: the live agent's, plus what this look at the state directory shows.
    if let Some(s) = live {
        let mut h: Health = s.health.clone();
        // Counts from the spool itself are fresher than the file's.
        h.destinations.clone_from(&destinations);
        h.watches.clear();
        problems.extend(h.problems());
    } else {
        let h = Health {
            destinations: destinations.clone(),
            ..Health::default()
        };
        problems.extend(h.problems());
    }
    for w in &watches {
        if w.state != "ok" {
            problems.push(format!("watch {}: {}", w.path.display(), w.state));
        }
    }
    let pending: u64 = destinations.iter().map(|d| d.pending).sum::<u64>() + inbox;
    if !agent_running && pending > 0 {
        problems.push(format!(
            "no agent is running and {pending} result(s) wait in {} (start nagbridge run)",
            state_dir.display()
        ));
    }
    for j in jobs.iter().filter(|j| j.late) {
        problems.push(format!(
            "job {} is late: last result {}",
            j.job,
            j.last
                .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
                .unwrap_or_else(|| "never seen".into())
        ));
    }
    Report {
        state_dir,
        agent,
        destinations,
        inbox,
        watches,
        jobs,
        problems,
    }
}

/// Entry ids in a spool's `new/` (empty when it cannot be listed).
fn list_entries(dir: &Path) -> Vec<EntryId> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| EntryId::parse(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default()
}

fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let ago = (now - t).to_std().unwrap_or_default();
            let ago = std::time::Duration::from_secs(ago.as_secs());
            format!(
                "{} ({} ago)",
                t.format("%Y-%m-%d %H:%M:%SZ"),
                crate::config::duration::format_duration(ago)
            )
        }
    }
}

impl Report {
    /// True when something is failing (the command then exits 1).
    pub fn failing(&self) -> bool {
        !self.problems.is_empty()
    }

    /// The report as text, for a terminal.
    pub fn render(&self, now: DateTime<Utc>) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = match &self.agent {
            Some(a) if a.role == "agent" => writeln!(
                out,
                "agent: running, pid {}{}, state_dir {}",
                a.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                a.started
                    .map(|s| format!(", since {}", s.format("%Y-%m-%d %H:%M:%SZ")))
                    .unwrap_or_default(),
                self.state_dir.display()
            ),
            Some(a) => writeln!(
                out,
                "agent: not running ({} pid {} is delivering its own result), state_dir {}",
                a.role,
                a.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                self.state_dir.display()
            ),
            None => writeln!(
                out,
                "agent: not running, state_dir {}",
                self.state_dir.display()
            ),
        };
        let _ = writeln!(out, "destinations:");
        for d in &self.destinations {
            let _ = writeln!(
                out,
                "  {} ({}): {}, {} pending{}, {} delivered since start, last delivery {}",
                d.name,
                d.describe,
                if d.dead.is_some() {
                    "DEAD"
                } else if d.failing {
                    "FAILING"
                } else {
                    "ok"
                },
                d.pending,
                d.oldest_pending
                    .map(|t| format!(" (oldest {})", when(Some(t), now)))
                    .unwrap_or_default(),
                d.delivered,
                when(d.last_delivery, now)
            );
            if let Some(e) = &d.last_error {
                let _ = writeln!(out, "    last error {}: {e}", when(d.last_error_at, now));
            }
            if d.quarantined > 0 {
                let _ = writeln!(
                    out,
                    "    {} quarantined in {}{}",
                    d.quarantined,
                    self.state_dir
                        .join("spool")
                        .join(&d.name)
                        .join("quarantine")
                        .display(),
                    d.last_quarantine
                        .as_deref()
                        .map(|r| format!(" (last: {r})"))
                        .unwrap_or_default()
                );
            }
            for (name, why) in &d.unreadable {
                let _ = writeln!(out, "    cannot read {name}: {why}");
            }
        }
        let _ = writeln!(out, "wrap inbox: {} waiting", self.inbox);
        let _ = writeln!(out, "watches:");
        if self.watches.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for w in &self.watches {
            let _ = writeln!(out, "  {}: {}", w.path.display(), w.state);
        }
        let _ = writeln!(out, "jobs:");
        if self.jobs.is_empty() {
            let _ = writeln!(out, "  (none seen yet)");
        }
        for j in &self.jobs {
            let _ = writeln!(
                out,
                "  {}: {}{}, last {}{}",
                j.job,
                j.status.map(|s| s.nagios_label()).unwrap_or("-"),
                if j.late { " LATE" } else { "" },
                when(j.last, now),
                j.summary
                    .as_deref()
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            );
        }
        if self.problems.is_empty() {
            let _ = writeln!(out, "problems: none");
        } else {
            let _ = writeln!(out, "problems:");
            for p in &self.problems {
                let _ = writeln!(out, "  - {p}");
            }
        }
        out
    }
}
