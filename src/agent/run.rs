//! The agent's main loop (`nagbridge run`): files the watcher hands out are parsed into
//! outcomes, each outcome is spooled for every destination, and only then is the file's
//! checkpoint advanced. Job cadence and the heartbeat add their own outcomes. Delivery runs in
//! its own task per destination and is the only place that talks to the network.
//!
//! Owns: the wiring and the order of durability steps. It must not deliver, parse or watch
//! itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::cadence::{Cadence, Expectation};
use crate::config::{Config, Items};
use crate::delivery::{Delivery, DeliveryConfig, DeliveryStats};
use crate::formats::{self, FileMeta, Format, Input, Options};
use crate::outcome::{Outcome, Status};
use crate::sinks::nsca::{NscaSink, NscaSinkConfig};
use crate::spool::Spool;
use crate::watch::{ReadyFile, WatchConfig, WatchHealth, WatchSpec, Watcher};

/// Service description of the agent's own heartbeat check.
pub const HEARTBEAT_SERVICE: &str = "nagbridge";
/// The tool name of outcomes the agent makes itself (heartbeat, stale jobs).
pub const AGENT_TOOL: &str = "nagbridge";
/// Longest delay between an observed outcome and the cadence state file write (one write, two
/// fsyncs and the whole job table per interval instead of per file). A crash within it loses
/// only the last observations' times: a job may then be reported stale once too early, never
/// missed.
const CADENCE_SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// SIGTERM/SIGINT: stop.
    Stop,
    /// SIGHUP: load the config again and go on.
    Reload,
}

/// What the caller signals to a running agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Keep going.
    None,
    /// Stop (drain within `shutdown_timeout`, leave the rest spooled).
    Stop,
    /// Reload the config.
    Reload,
}

/// A destination: its spool and delivery task.
struct Destination {
    spool: Spool,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    stats: Arc<DeliveryStats>,
}

/// Host and service of an outcome under this config: the job's `[[job]]` overrides, else
/// `[nsca]`'s templates; the heartbeat is always service `nagbridge` on the agent's host.
pub fn naming(config: &Config) -> crate::sinks::nsca::Naming {
    let config = config.clone();
    Arc::new(move |o: &Outcome| {
        let host_name = &config.agent.host_name;
        if o.tool.as_deref() == Some(AGENT_TOOL) && o.job == HEARTBEAT_SERVICE {
            return (host_name.clone(), HEARTBEAT_SERVICE.to_string());
        }
        let s = config.job_settings(&o.job);
        (
            crate::outcome::fill_template(s.host.as_str(), o, host_name, 63),
            crate::outcome::fill_template(s.service.as_str(), o, host_name, 127),
        )
    })
}

/// The NSCA sink settings of a config.
pub fn nsca_sink_config(config: &Config) -> anyhow::Result<NscaSinkConfig> {
    let n = &config.nsca;
    let password = match &n.password {
        Some(s) => s.resolve()?,
        None => Vec::new(),
    };
    let mut c = NscaSinkConfig::new(
        n.server.to_string(),
        n.encryption,
        password,
        config.agent.host_name.clone(),
    );
    c.packet = n.packet;
    c.timeout = n.timeout;
    c.escape_newlines = !n.server_escapes;
    c.naming = Some(naming(config));
    Ok(c)
}

fn watch_config(config: &Config) -> WatchConfig {
    let mut w = WatchConfig::new(config.agent.state_dir.clone());
    w.watches = config
        .watches
        .iter()
        .map(|x| WatchSpec {
            path: x.path.clone(),
            glob: x.glob.as_str().to_string(),
            recursive: x.recursive,
            poll: x.poll,
        })
        .collect();
    w.quiet_period = config.agent.quiet_period;
    w.rescan_interval = config.agent.rescan;
    w.max_file_size = config.agent.max_file_size;
    w
}

/// The outcomes of one ready file under its watch's settings.
pub fn outcomes_of(config: &Config, file: &ReadyFile) -> (Vec<Outcome>, usize) {
    let Some(watch) = config.watches.get(file.watch) else {
        return (Vec::new(), file.bytes.len());
    };
    let path = file.path.display().to_string();
    let name = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = file
        .path
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let job = watch.job.render(&[
        ("file_stem", &file.meta.file_stem),
        ("file_name", &name),
        ("dir", &dir),
        ("host", &config.agent.host_name),
    ]);
    if let Some(size) = file.oversize {
        let o = Outcome::unknown(
            &job,
            &path,
            format!(
                "the file is {size} bytes, over max_file_size ({} bytes); it was not read \
                 (raise [agent] max_file_size or have the tool write less)",
                config.agent.max_file_size
            ),
        );
        return (vec![o], 0);
    }
    if super::history::blank_append(file.offset, &file.bytes) {
        return (Vec::new(), file.bytes.len());
    }
    let options = Options {
        job,
        split_items: watch.items == Items::Split,
        exit_codes: watch
            .exit_codes
            .iter()
            .map(|(k, v)| (*k, status_of(*v)))
            .collect::<BTreeMap<_, _>>(),
        zero_files: Some(status_of(watch.zero_files)),
        canceled: Some(status_of(watch.canceled)),
    };
    let meta = FileMeta {
        path: path.clone(),
        ..file.meta.clone()
    };
    let input = Input {
        bytes: &file.bytes,
        meta: &meta,
        exit_code: None,
        options: &options,
        complete: file.complete,
    };
    let format: Format = watch.format.name().parse().unwrap_or(Format::Auto);
    let mut parsed = formats::parse(format, &input);
    if file.history && watch.history == crate::config::History::Last {
        let dropped = super::history::keep_last_per_job(&mut parsed.outcomes);
        if dropped > 0 {
            tracing::info!(path = %path, dropped, kept = parsed.outcomes.len(), "old results found at the watch's first scan: reporting the last per job ([[watch]] history = \"last\")");
        }
    }
    (parsed.outcomes, parsed.consumed)
}

fn status_of(s: crate::config::Status) -> Status {
    Status::parse(s.name()).unwrap_or(Status::Unknown)
}

/// Run the agent until `signals` says stop or reload.
pub async fn run_once(
    config: &Config,
    signals: &mut watch::Receiver<Signal>,
) -> anyhow::Result<Ending> {
    let state_dir: PathBuf = config.agent.state_dir.clone();
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| anyhow::anyhow!("cannot create state_dir {}: {e}", state_dir.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o700));
    }
    let spool = Spool::open(&state_dir, "nsca")?;
    let sink = NscaSink::new(nsca_sink_config(config)?)?;
    // Only this process writes this spool, and every enqueue wakes the delivery loop: its
    // re-listing is a safety net, so it runs no more often than the watcher's rescan (an idle
    // agent then wakes up only for the rescan, the cadence check and the heartbeat).
    let delivery_config = DeliveryConfig {
        poll_interval: config
            .agent
            .rescan
            .max(DeliveryConfig::default().poll_interval),
        ..DeliveryConfig::default()
    };
    let delivery = Delivery::new(spool.clone(), sink, delivery_config);
    let stats = delivery.stats();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(delivery.run(stopped));
    let dest = Destination {
        spool,
        stop,
        task,
        stats,
    };
    if matches!(
        config.nsca.encryption,
        nsca::crypto::Method::None | nsca::crypto::Method::Xor
    ) {
        tracing::warn!(
            method = config.nsca.encryption.name(),
            "NSCA encryption is {}: results travel unprotected; use encryption = \"aes256\" with a long password",
            config.nsca.encryption.name()
        );
    }

    let mut watcher = Watcher::start(watch_config(config))?;
    let mut cadence = Cadence::load(&state_dir, Utc::now());
    let tick = cadence_tick(config);
    let mut cadence_timer = tokio::time::interval(tick);
    cadence_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heartbeat = config.agent.heartbeat.map(|d| {
        let mut t = tokio::time::interval(d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    tracing::info!(
        watches = config.watches.len(),
        jobs = config.jobs.len(),
        server = %config.nsca.server,
        "nagbridge agent started"
    );

    let mut last_heartbeat: Option<crate::spool::EntryId> = None;
    // Observations not yet in the cadence file: saved within CADENCE_SAVE_INTERVAL, not per file.
    let mut cadence_save_due: Option<tokio::time::Instant> = None;
    let ending = loop {
        tokio::select! {
            biased;
            changed = signals.changed() => {
                let s = if changed.is_ok() { *signals.borrow_and_update() } else { Signal::Stop };
                match s {
                    Signal::Stop => break Ending::Stop,
                    Signal::Reload => break Ending::Reload,
                    Signal::None => {}
                }
            }
            file = watcher.next() => {
                let file = file?;
                for w in watcher.take_warnings() {
                    tracing::warn!(path = ?w.path, "{}", w.message);
                }
                let (outcomes, consumed) = outcomes_of(config, &file);
                match spool_all(&dest.spool, &outcomes) {
                    Ok(()) => {
                        for o in &outcomes {
                            cadence.observe(&o.job, Utc::now());
                            tracing::info!(job = %o.job, status = %o.status, source = %file.path.display(), "outcome spooled");
                        }
                        watcher.commit(file.key, consumed).await?;
                        if !outcomes.is_empty() && cadence_save_due.is_none() {
                            cadence_save_due = Some(tokio::time::Instant::now() + CADENCE_SAVE_INTERVAL);
                        }
                    }
                    Err(e) => {
                        // Nothing is lost: the checkpoint stays, the file comes again later.
                        tracing::error!(path = %file.path.display(), "cannot spool outcomes, will retry: {e}");
                        watcher.release(file.key).await?;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            _ = tokio::time::sleep_until(cadence_save_due.unwrap_or_else(tokio::time::Instant::now)), if cadence_save_due.is_some() => {
                cadence_save_due = None;
                let _ = cadence.save();
            }
            _ = cadence_timer.tick() => {
                let due = stale_jobs(config, &mut cadence);
                if !due.is_empty() {
                    if let Err(e) = spool_all(&dest.spool, &due) {
                        tracing::error!("cannot spool stale-job outcomes: {e}");
                    }
                    let _ = cadence.save();
                }
            }
            _ = async { heartbeat.as_mut().expect("guarded").tick().await }, if heartbeat.is_some() => {
                // While the previous heartbeat is still undelivered, one is enough.
                let still_pending = last_heartbeat
                    .as_ref()
                    .is_some_and(|id| matches!(dest.spool.load(id), Ok(Some(_))));
                if !still_pending {
                    match dest.spool.enqueue(&heartbeat_outcome(&dest, &watcher.unhealthy())) {
                        Ok(id) => last_heartbeat = Some(id),
                        Err(e) => tracing::error!("cannot spool the heartbeat: {e}"),
                    }
                }
            }
        }
    };

    // Shut down: checkpoints to disk, delivery gets `shutdown_timeout` to drain.
    let _ = watcher.flush().await;
    let _ = cadence.save();
    // Drain what is pending while delivery works, within shutdown_timeout; a failing server
    // is not waited for (its entries stay spooled for the next start).
    let deadline = tokio::time::Instant::now() + config.agent.shutdown_timeout;
    while tokio::time::Instant::now() < deadline
        && !dest.stats.snapshot().failing
        && dest.spool.len().unwrap_or(0) > 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = dest.stop.send(true);
    let rest = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(Duration::from_secs(1));
    match tokio::time::timeout(rest, dest.task).await {
        Ok(_) => {}
        Err(_) => tracing::warn!(
            "delivery did not finish within shutdown_timeout; the rest stays spooled"
        ),
    }
    let left = dest.spool.len().unwrap_or(0);
    tracing::info!(pending = left, "nagbridge agent stopped");
    Ok(ending)
}

fn spool_all(spool: &Spool, outcomes: &[Outcome]) -> Result<(), crate::spool::SpoolError> {
    for o in outcomes {
        spool.enqueue(o)?;
    }
    Ok(())
}

/// How often the cadence is checked: a tenth of the shortest `every`, between 1 s and 60 s.
fn cadence_tick(config: &Config) -> Duration {
    config
        .jobs
        .iter()
        .filter_map(|r| r.every)
        .min()
        .map(|d| d / 10)
        .unwrap_or(Duration::from_secs(60))
        .clamp(Duration::from_secs(1), Duration::from_secs(60))
}

fn stale_jobs(config: &Config, cadence: &mut Cadence) -> Vec<Outcome> {
    type Matcher = Box<dyn Fn(&str) -> bool>;
    let matchers: Vec<Matcher> = config
        .jobs
        .iter()
        .map(|r| {
            let r = r.clone();
            Box::new(move |j: &str| r.matches(j)) as Matcher
        })
        .collect();
    let rules: Vec<Expectation<'_>> = config
        .jobs
        .iter()
        .zip(&matchers)
        .filter_map(|(r, m)| {
            Some(Expectation {
                name: &r.name,
                matches: m.as_ref(),
                exact: !r.name.contains(['*', '?', '[']),
                every: r.every?,
                grace: r.grace,
            })
        })
        .collect();
    cadence.due(Utc::now(), &rules)
}

/// The agent's own check: WARNING while delivery fails or a watch is unhealthy (each named
/// with its reason, also in the long output).
fn heartbeat_outcome(dest: &Destination, unhealthy: &[WatchHealth]) -> Outcome {
    let s = dest.stats.snapshot();
    let pending = dest.spool.len().unwrap_or(0);
    let mut o = Outcome::new(
        HEARTBEAT_SERVICE,
        if s.failing || !unhealthy.is_empty() {
            Status::Warning
        } else {
            Status::Success
        },
    );
    o.tool = Some(AGENT_TOOL.into());
    o.summary = Some(format!(
        "agent running, {pending} pending, {} delivered, {} failed attempts{}",
        s.delivered,
        s.failures,
        if s.failing {
            ", NSCA delivery failing"
        } else {
            ""
        }
    ));
    if let Some(first) = unhealthy.first() {
        let more = match unhealthy.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        let summary = o.summary.get_or_insert_with(String::new);
        summary.push_str(&format!(", watch {first}{more}"));
        o.warnings = unhealthy.iter().map(|h| format!("watch {h}")).collect();
    }
    o.finished = Some(Utc::now());
    o
}
