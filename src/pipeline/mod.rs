//! The pipeline: the destinations a config names, and the one way outcomes reach them.
//!
//! Owns: the registry of destinations built from the config (the passive-check destinations
//! `[nsca]`, `[icinga2]`, `[nagios]` ([`passive`]), and every `[[channel]]`), opening each destination's spool and starting its delivery loop (its own
//! batch size and pacing), routing at enqueue time (passive-check destinations take every
//! outcome; a channel takes what its `when` rule and `jobs` filter match, with the `change`
//! state of [`change`]), spooling an outcome for every destination it is routed to before the
//! caller advances a checkpoint ([`Pipeline::enqueue`]), the hand-off inbox through which
//! `wrap` gives outcomes to a running agent, and the bounded drain at shutdown. `run`, `wrap`
//! and `test` use it; nothing else opens a destination spool or starts a delivery loop. Must
//! not parse, watch or know a protocol (that is `sinks`).

pub mod change;
pub mod passive;
pub mod probe;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::agent::health::{AGENT_TOOL, HEARTBEAT_SERVICE};
use crate::config::{Config, When};
use crate::delivery::{Delivery, DeliveryConfig, DeliveryStats, StatsSnapshot};
use crate::outcome::Outcome;
use crate::sinks::{ChannelSink, Sink};
use crate::spool::{EntryId, Lane, Spool, SpoolError};
use change::ChangeState;

/// Which outcomes a destination takes.
#[derive(Debug, Clone)]
pub enum Route {
    /// Every outcome (passive-check destinations: NSCA, Icinga 2, Nagios on this host).
    Everything,
    /// A channel: what its rule and job filter match; never the agent's heartbeat.
    Channel {
        /// The channel's name (its key in the change state).
        name: String,
        /// Its `when` rule.
        when: When,
        /// Its `jobs` globs (empty: every job).
        jobs: Vec<glob::Pattern>,
    },
}

impl Route {
    /// Does this destination take `o`, whose (host, job) had `previous` at this destination
    /// before (only asked for `when = "change"`)? Pure.
    pub fn takes(&self, o: &Outcome, previous: Option<crate::outcome::Status>) -> bool {
        match self {
            Route::Everything => true,
            Route::Channel { when, jobs, .. } => {
                let heartbeat = o.tool.as_deref() == Some(AGENT_TOOL) && o.job == HEARTBEAT_SERVICE;
                !heartbeat
                    && (jobs.is_empty() || jobs.iter().any(|g| g.matches(&o.job)))
                    && when.matches(o.status, previous)
            }
        }
    }
}

/// The spool `wrap` writes into while an agent holds the state directory's lock; the agent
/// takes each entry, spools it for every destination and removes it.
pub const INBOX: &str = "inbox";

/// One destination: its spool and its delivery loop.
pub struct Destination {
    name: String,
    route: Route,
    describe: String,
    spool: Spool,
    stats: Arc<DeliveryStats>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Destination {
    /// Its name (also its spool directory under `state_dir/spool/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is, for logs and status (`nsca 127.0.0.1:5667`; no secrets).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Its spool.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Its delivery counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Its live counters (to wait for changes from another task).
    pub fn stats_handle(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }
}

/// Every destination of a config, each with its running delivery loop.
pub struct Pipeline {
    destinations: Vec<Destination>,
    router: Router,
}

/// What routing needs, shareable with the blocking thread pool.
#[derive(Clone)]
struct Router {
    spools: Vec<(String, Spool, Route)>,
    change: Arc<Mutex<ChangeState>>,
    agent_host: String,
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A spool could not be opened.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// A destination's settings cannot be used.
    #[error("{destination}: {message}")]
    Destination {
        /// Which one.
        destination: String,
        /// Why.
        message: String,
    },
}

impl Pipeline {
    /// Open the spool of every destination of `config` and start its delivery loop (on the
    /// current tokio runtime). `poll_interval` is how often a loop lists its spool without a
    /// wake-up (entries written by other processes do not wake it).
    pub fn start(config: &Config, poll_interval: Duration) -> Result<Pipeline, PipelineError> {
        let state_dir = &config.agent.state_dir;
        let passive = passive::passive_sinks(config).map_err(|(destination, message)| {
            PipelineError::Destination {
                destination,
                message,
            }
        })?;
        let mut destinations = Vec::new();
        for (name, sink) in passive {
            destinations.push(start_one(
                state_dir,
                name,
                Route::Everything,
                sink,
                poll_interval,
            )?);
        }
        for channel in &config.channels {
            let sink = ChannelSink::build(channel, &config.agent.host_name).map_err(|message| {
                PipelineError::Destination {
                    destination: channel.name.clone(),
                    message,
                }
            })?;
            let route = Route::Channel {
                name: channel.name.clone(),
                when: channel.when,
                jobs: channel.jobs.clone(),
            };
            destinations.push(start_one(
                state_dir,
                &channel.name,
                route,
                sink,
                poll_interval,
            )?);
        }
        let router = Router {
            spools: destinations
                .iter()
                .map(|d| (d.name.clone(), d.spool.clone(), d.route.clone()))
                .collect(),
            change: Arc::new(Mutex::new(ChangeState::load(state_dir))),
            agent_host: config.agent.host_name.clone(),
        };
        Ok(Pipeline {
            destinations,
            router,
        })
    }

    /// The destinations, in config order.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// Spool each of `outcomes` for every destination it is routed to, in `lane` (blocking
    /// file I/O: one fsync per entry and one per destination directory), then save the change
    /// state. Advance a checkpoint only on `Ok`; on `Err` some may be spooled already, so
    /// offering them again can only make duplicates. Returns the entry ids per destination.
    pub fn enqueue_blocking(
        &self,
        outcomes: &[Outcome],
        lane: Lane,
    ) -> Result<Vec<Vec<EntryId>>, SpoolError> {
        self.router.enqueue(outcomes, lane)
    }

    /// [`Pipeline::enqueue_blocking`] on the blocking thread pool, so delivery goes on.
    pub async fn enqueue(
        &self,
        outcomes: Vec<Outcome>,
        lane: Lane,
    ) -> Result<Vec<Vec<EntryId>>, SpoolError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let router = self.router.clone();
        match tokio::task::spawn_blocking(move || router.enqueue(&outcomes, lane)).await {
            Ok(r) => r,
            Err(e) => Err(SpoolError::Io {
                path: Default::default(),
                source: std::io::Error::other(format!("spool task failed: {e}")),
            }),
        }
    }

    /// True when none of `ids` (as returned by an enqueue) is pending any more.
    pub fn all_gone(&self, ids: &[Vec<EntryId>]) -> bool {
        self.destinations.iter().zip(ids).all(|(d, ids)| {
            ids.iter()
                .all(|id| !matches!(d.spool.load(id), Ok(Some(_))))
        })
    }

    /// Entries pending over every destination.
    pub fn pending(&self) -> usize {
        self.destinations
            .iter()
            .map(|d| d.spool.len().unwrap_or(0))
            .sum()
    }

    /// True while some destination's delivery is failing.
    pub fn failing(&self) -> bool {
        self.destinations.iter().any(|d| d.stats().failing)
    }

    /// Give delivery until `deadline` to empty the spools (not waiting for a failing
    /// destination), then stop every loop; a batch in flight gets the time that is left (at
    /// least 1 s). What is not delivered stays spooled.
    pub async fn shutdown(self, deadline: tokio::time::Instant) {
        while tokio::time::Instant::now() < deadline
            && self
                .destinations
                .iter()
                .any(|d| !d.stats().failing && d.spool.len().unwrap_or(0) > 0)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for d in &self.destinations {
            let _ = d.stop.send(true);
        }
        let rest = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_secs(1));
        for mut d in self.destinations {
            if let Some(task) = d.task.take() {
                if tokio::time::timeout(rest, task).await.is_err() {
                    tracing::warn!(
                        destination = %d.name,
                        "delivery did not finish within shutdown_timeout; the rest stays spooled"
                    );
                }
            }
        }
    }
}

impl Router {
    /// Route and spool (see [`Pipeline::enqueue_blocking`]). The change state is worked on in
    /// a copy that replaces it only when every entry is spooled: a failed attempt, offered
    /// again, is routed the same way.
    fn enqueue(&self, outcomes: &[Outcome], lane: Lane) -> Result<Vec<Vec<EntryId>>, SpoolError> {
        let mut all = Vec::with_capacity(self.spools.len());
        if outcomes.is_empty() {
            return Ok(all);
        }
        let now = Utc::now();
        let mut change = self
            .change
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (name, spool, route) in &self.spools {
            let picked: Vec<Outcome> = outcomes
                .iter()
                .filter(|o| {
                    let previous = match route {
                        Route::Channel {
                            when: When::Change,
                            name,
                            ..
                        } => {
                            let host = o
                                .host
                                .as_deref()
                                .filter(|h| !h.trim().is_empty())
                                .unwrap_or(&self.agent_host);
                            change.swap(name, &format!("{host}/{}", o.job), o.status)
                        }
                        _ => None,
                    };
                    route.takes(o, previous)
                })
                .cloned()
                .collect();
            let ids = if picked.is_empty() {
                Vec::new()
            } else {
                spool.enqueue_many(&picked, now, lane)?
            };
            for (o, id) in picked.iter().zip(&ids) {
                tracing::debug!(destination = %name, job = %o.job, status = %o.status, entry = %id, "spooled");
            }
            all.push(ids);
        }
        let mut kept = self.change.lock().unwrap_or_else(|e| e.into_inner());
        *kept = change;
        kept.save().map_err(|source| SpoolError::Io {
            path: Default::default(),
            source,
        })?;
        Ok(all)
    }
}

fn start_one<S: Sink>(
    state_dir: &std::path::Path,
    name: &str,
    route: Route,
    sink: S,
    poll_interval: Duration,
) -> Result<Destination, SpoolError> {
    let spool = Spool::open(state_dir, name)?;
    let describe = sink.name();
    let config = DeliveryConfig {
        poll_interval,
        batch_size: sink.batch_size(),
        pace: sink.pace(),
        ..DeliveryConfig::default()
    };
    let delivery = Delivery::new(spool.clone(), sink, config);
    let stats = delivery.stats();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(delivery.run(stopped));
    Ok(Destination {
        name: name.to_string(),
        route,
        describe,
        spool,
        stats,
        stop,
        task: Some(task),
    })
}

/// The (name, description) of every destination `config` names, without starting anything
/// (for `status`).
pub fn destination_names(config: &Config) -> Vec<(String, String)> {
    let mut out = passive::passive_names(config);
    for c in &config.channels {
        out.push((c.name.clone(), format!("{} {}", c.kind.name(), c.name)));
    }
    out
}

/// The inbox of `state_dir` (created owned like it).
pub fn open_inbox(state_dir: &std::path::Path) -> Result<Spool, SpoolError> {
    Spool::open(state_dir, INBOX)
}

/// Move what `wrap` left in the inbox into every destination's spool (normal lane), oldest
/// first, removing each inbox entry only after it is spooled everywhere. Returns the outcomes
/// moved (for the caller's cadence). Blocking file I/O.
pub fn drain_inbox(inbox: &Spool, pipeline: &Pipeline) -> Result<Vec<Outcome>, SpoolError> {
    let mut moved = Vec::new();
    for id in inbox.pending()? {
        let Some(entry) = inbox.load(&id)? else {
            continue;
        };
        pipeline.enqueue_blocking(std::slice::from_ref(&entry.outcome), Lane::Normal)?;
        inbox.ack(&id)?;
        tracing::info!(job = %entry.outcome.job, status = %entry.outcome.status, "took a result handed over by wrap");
        moved.push(entry.outcome);
    }
    Ok(moved)
}

/// Hand `outcome` to whoever holds the state directory (blocking): it is durable in the inbox
/// when this returns `Ok`.
pub fn hand_over(inbox: &Spool, outcome: &Outcome) -> Result<EntryId, SpoolError> {
    inbox.enqueue(outcome)
}
