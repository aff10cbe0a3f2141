//! The agent's main loop (`nagbridge run`): files the watcher hands out are parsed into
//! outcomes, each outcome is spooled for every destination, and only then is the file's
//! checkpoint advanced. Job cadence and the heartbeat add their own outcomes. Delivery runs in
//! its own task per destination and is the only place that talks to the network.
//!
//! Owns: the wiring and the order of durability steps. It must not deliver, parse or watch
//! itself.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{watch, Notify};

use super::cadence::{Cadence, Expectation};
use super::health::{DestinationHealth, Health, UNCONFIGURED_JOB_WINDOW};
use super::status_file::StatusFile;
use crate::config::{Config, Items};
use crate::delivery::DeliveryConfig;
use crate::formats::{self, FileMeta, Format, Input, Options};
use crate::outcome::Outcome;
use crate::pipeline::{self, Pipeline};
use crate::sinks::nsca::NscaSinkConfig;
use crate::spool::{EntryId, Lane, Spool};
use crate::state::{LockError, Role, StateLock};
use crate::watch::{FileKey, ReadyFile, WatchConfig, WatchHealth, WatchSpec, Watcher};

pub use super::health::{AGENT_TOOL, HEARTBEAT_SERVICE};

/// A file read that gives more outcomes than this is spooled in the bulk lane, a chunk at a
/// time, so that results arriving meanwhile are spooled and delivered first.
pub const BULK_THRESHOLD: usize = 64;
/// Outcomes of a bulk file spooled per step of the agent's loop.
const BULK_CHUNK: usize = 256;
/// `status.json` is written at most this often (and only after a change).
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// After the spools empty, memory is given back again this much later, when the blocking
/// threads of the burst have left.
const LATE_TRIM: Duration = Duration::from_secs(5);
/// A heartbeat whose problems changed is sent at once, but not more often than this.
const EARLY_HEARTBEAT_GAP: Duration = Duration::from_secs(10);
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

/// Host and service of an outcome under this config: the job's `[[job]]` overrides, else the
/// templates of the first passive-check destination ([`Config::templates`]); the heartbeat is
/// always service `nagbridge` on the agent's host.
pub fn naming(config: &Config) -> crate::sinks::nsca::Naming {
    let (host, service) = config.templates();
    naming_with(config, host, service)
}

/// [`naming`] with a destination's own `host` and `service` templates.
pub fn naming_with(
    config: &Config,
    host: &crate::config::Template,
    service: &crate::config::Template,
) -> crate::sinks::nsca::Naming {
    let config = config.clone();
    let (host, service) = (host.clone(), service.clone());
    Arc::new(move |o: &Outcome| {
        let host_name = &config.agent.host_name;
        if o.tool.as_deref() == Some(AGENT_TOOL) && o.job == HEARTBEAT_SERVICE {
            return (host_name.clone(), HEARTBEAT_SERVICE.to_string());
        }
        let s = config.job_settings_with(&o.job, &host, &service);
        (
            crate::outcome::fill_template(s.host.as_str(), o, host_name, 63),
            crate::outcome::fill_template(s.service.as_str(), o, host_name, 127),
        )
    })
}

/// The NSCA sink settings of a config's `[nsca]`.
pub fn nsca_sink_config(
    config: &Config,
    n: &crate::config::Nsca,
) -> anyhow::Result<NscaSinkConfig> {
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
    c.naming = Some(naming_with(config, &n.host, &n.service));
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
    w.settle_period = config.agent.settle_period.max(config.agent.quiet_period);
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
            .map(|(k, v)| (*k, *v))
            .collect::<BTreeMap<_, _>>(),
        zero_files: Some(watch.zero_files),
        canceled: Some(watch.canceled),
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
    let format: Format = watch.format;
    let mut parsed = formats::parse(format, &input);
    if file.history && watch.history == crate::config::History::Last {
        let dropped = super::history::keep_last_per_job(&mut parsed.outcomes);
        if dropped > 0 {
            tracing::info!(path = %path, dropped, kept = parsed.outcomes.len(), "old results found at the watch's first scan: reporting the last per job ([[watch]] history = \"last\")");
        }
    }
    (parsed.outcomes, parsed.consumed)
}

/// Take the state directory's lock for an agent (creating the directory, mode 0700): waits a
/// little while a `wrap` holds it (it is delivering its own result), fails at once when
/// another agent does.
pub fn lock_state_dir(config: &Config) -> Result<StateLock, LockError> {
    let state_dir = &config.agent.state_dir;
    if let Err(source) = std::fs::create_dir_all(state_dir) {
        return Err(LockError::Io {
            path: state_dir.clone(),
            source,
        });
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700));
    }
    StateLock::acquire_waiting(
        state_dir,
        Role::Agent,
        config.delivery_timeout() + Duration::from_secs(10),
        |h| h.role == Some(Role::Wrap),
    )
}

/// The many outcomes of one read, spooled a chunk at a time in the bulk lane.
struct Ingest {
    key: FileKey,
    path: PathBuf,
    outcomes: Vec<Outcome>,
    next: usize,
    consumed: usize,
}

/// The agent's view of what is wrong, kept between loop turns.
struct Watchful {
    /// Files the watcher skipped: path -> why.
    skipped: BTreeMap<PathBuf, String>,
    /// What the last heartbeat reported (to send a changed one early).
    last_problems: Vec<String>,
    last_heartbeat_at: Option<tokio::time::Instant>,
    /// The last heartbeat's entries, while any is undelivered (one at a time is enough).
    last_heartbeat: Option<Vec<Vec<EntryId>>>,
    /// What `status.json` last said (it is not rewritten unchanged).
    last_written: Option<Health>,
}

/// Run the agent until `signals` says stop or reload. The caller holds the state directory's
/// lock ([`lock_state_dir`]).
pub async fn run_once(
    config: &Config,
    signals: &mut watch::Receiver<Signal>,
) -> anyhow::Result<Ending> {
    let state_dir: PathBuf = config.agent.state_dir.clone();
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| anyhow::anyhow!("cannot create state_dir {}: {e}", state_dir.display()))?;
    // Only this process writes the destination spools, and every enqueue wakes the delivery
    // loop: its re-listing is a safety net, so it runs no more often than the watcher's rescan
    // (an idle agent then wakes up only for the rescan, the cadence check and the heartbeat).
    let poll = config
        .agent
        .rescan
        .max(DeliveryConfig::default().poll_interval);
    let pipeline = Pipeline::start(config, poll)?;
    let inbox = pipeline::open_inbox(&state_dir)?;
    let (_inbox_watch, mut inbox_events) = watch_inbox(&inbox);
    if let Some(n) = config.nsca.as_ref().filter(|n| {
        matches!(
            n.encryption,
            nsca::crypto::Method::None | nsca::crypto::Method::Xor
        )
    }) {
        tracing::warn!(
            method = n.encryption.name(),
            "NSCA encryption is {}: results travel unprotected; use encryption = \"aes256\" with a long password",
            n.encryption.name()
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
    // Any destination's counters changing schedules a status write (no polling).
    let changed = Arc::new(Notify::new());
    let forwarders: Vec<_> = pipeline
        .destinations()
        .iter()
        .map(|d| {
            let (stats, changed) = (d.stats_handle(), changed.clone());
            tokio::spawn(async move {
                loop {
                    stats.changed().await;
                    changed.notify_one();
                }
            })
        })
        .collect();
    let status_base = StatusFile {
        pid: std::process::id(),
        started: Utc::now(),
        updated: Utc::now(),
        host_name: config.agent.host_name.clone(),
        config: config.origin.clone(),
        health: Health::default(),
    };
    tracing::info!(
        watches = config.watches.len(),
        jobs = config.jobs.len(),
        destinations = %pipeline
            .destinations()
            .iter()
            .map(|d| d.describe())
            .collect::<Vec<_>>()
            .join(", "),
        state_dir = %state_dir.display(),
        "nagbridge agent started"
    );

    let mut watchful = Watchful {
        skipped: BTreeMap::new(),
        last_problems: Vec::new(),
        last_heartbeat_at: None,
        last_heartbeat: None,
        last_written: None,
    };
    let mut ingests: VecDeque<Ingest> = VecDeque::new();
    // Observations not yet in the cadence file: saved within CADENCE_SAVE_INTERVAL, not per file.
    let mut cadence_save_due: Option<tokio::time::Instant> = None;
    let mut status_due: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    let mut trim_due: Option<tokio::time::Instant> = None;
    take_inbox(&inbox, &pipeline, &mut cadence, &mut cadence_save_due);
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
            Some(()) = inbox_events.recv() => {
                while inbox_events.try_recv().is_ok() {}
                take_inbox(&inbox, &pipeline, &mut cadence, &mut cadence_save_due);
            }
            file = watcher.next() => {
                let file = file?;
                note_warnings(&watcher, &mut watchful);
                watchful.skipped.remove(&file.path);
                let (outcomes, consumed) = outcomes_of(config, &file);
                tracing::debug!(file = %file.path.display(), offset = file.offset, bytes = file.bytes.len(), complete = file.complete, outcomes = outcomes.len(), consumed, "read");
                if outcomes.len() > BULK_THRESHOLD {
                    tracing::info!(file = %file.path.display(), outcomes = outcomes.len(), "many results in one file: spooling them in the bulk lane, behind fresh results");
                    ingests.push_back(Ingest { key: file.key, path: file.path.clone(), outcomes, next: 0, consumed });
                    continue;
                }
                match pipeline.enqueue(outcomes.clone(), Lane::Normal).await {
                    Ok(_) => {
                        for o in &outcomes {
                            cadence.observe_outcome(o, Utc::now());
                            tracing::debug!(job = %o.job, status = %o.status, source = %file.path.display(), "outcome spooled");
                        }
                        watcher.commit(file.key, consumed).await?;
                        if !outcomes.is_empty() {
                            cadence_save_due.get_or_insert_with(|| tokio::time::Instant::now() + CADENCE_SAVE_INTERVAL);
                            status_due.get_or_insert_with(|| tokio::time::Instant::now() + STATUS_INTERVAL);
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
            _ = std::future::ready(()), if !ingests.is_empty() => {
                let ingest = ingests.front_mut().expect("guarded");
                let end = (ingest.next + BULK_CHUNK).min(ingest.outcomes.len());
                let chunk = ingest.outcomes[ingest.next..end].to_vec();
                match pipeline.enqueue(chunk, Lane::Bulk).await {
                    Ok(_) => {
                        let now = Utc::now();
                        for o in &ingest.outcomes[ingest.next..end] {
                            cadence.observe_outcome(o, now);
                        }
                        ingest.next = end;
                        cadence_save_due.get_or_insert_with(|| tokio::time::Instant::now() + CADENCE_SAVE_INTERVAL);
                        status_due.get_or_insert_with(|| tokio::time::Instant::now() + STATUS_INTERVAL);
                        if end == ingest.outcomes.len() {
                            let done = ingests.pop_front().expect("guarded");
                            tracing::info!(file = %done.path.display(), outcomes = done.outcomes.len(), "all results of the file spooled");
                            watcher.commit(done.key, done.consumed).await?;
                            crate::memory::release();
                        }
                    }
                    Err(e) => {
                        tracing::error!(path = %ingest.path.display(), "cannot spool outcomes, will retry: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            _ = tokio::time::sleep_until(cadence_save_due.unwrap_or_else(tokio::time::Instant::now)), if cadence_save_due.is_some() => {
                cadence_save_due = None;
                let _ = cadence.save();
            }
            _ = tokio::time::sleep_until(trim_due.unwrap_or_else(tokio::time::Instant::now)), if trim_due.is_some() => {
                trim_due = None;
                crate::memory::release();
            }
            _ = changed.notified() => {
                status_due.get_or_insert_with(|| tokio::time::Instant::now() + STATUS_INTERVAL);
            }
            _ = tokio::time::sleep_until(status_due.unwrap_or_else(tokio::time::Instant::now)), if status_due.is_some() => {
                status_due = None;
                note_warnings(&watcher, &mut watchful);
                let health = health_now(config, &pipeline, &cadence, &mut watchful, &watcher.unhealthy());
                if watchful.last_written.as_ref() != Some(&health) {
                    write_status(&status_base, &health, &state_dir);
                    watchful.last_written = Some(health.clone());
                }
                // A new problem (or one resolved) is reported at once, not at the next beat.
                let problems = health.problems();
                if heartbeat.is_some() && problems != watchful.last_problems
                    && watchful.last_heartbeat_at.is_none_or(|t| t.elapsed() >= EARLY_HEARTBEAT_GAP) {
                    send_heartbeat(&pipeline, &health, &mut watchful).await;
                } else if problems != watchful.last_problems {
                    // Try again once the gap has passed.
                    status_due = Some(tokio::time::Instant::now() + EARLY_HEARTBEAT_GAP);
                }
                if pipeline.pending() == 0 && ingests.is_empty() {
                    crate::memory::release();
                    // Once more when the blocking threads of the burst are gone.
                    trim_due = Some(tokio::time::Instant::now() + LATE_TRIM);
                }
            }
            _ = cadence_timer.tick() => {
                let due = stale_jobs(config, &mut cadence);
                if !due.is_empty() {
                    if let Err(e) = pipeline.enqueue(due, Lane::Normal).await {
                        tracing::error!("cannot spool stale-job outcomes: {e}");
                    }
                    let _ = cadence.save();
                }
                // A safety net for inbox events lost (e.g. the inbox was recreated).
                take_inbox(&inbox, &pipeline, &mut cadence, &mut cadence_save_due);
                // Watch health and skipped files change without a delivery: look again.
                status_due.get_or_insert_with(tokio::time::Instant::now);
            }
            _ = async { heartbeat.as_mut().expect("guarded").tick().await }, if heartbeat.is_some() => {
                note_warnings(&watcher, &mut watchful);
                let health = health_now(config, &pipeline, &cadence, &mut watchful, &watcher.unhealthy());
                write_status(&status_base, &health, &state_dir);
                send_heartbeat(&pipeline, &health, &mut watchful).await;
            }
        }
    };

    // Shut down: checkpoints to disk, delivery gets `shutdown_timeout` to drain.
    for ingest in &ingests {
        tracing::info!(
            file = %ingest.path.display(),
            spooled = ingest.next,
            left = ingest.outcomes.len() - ingest.next,
            "stopping in the middle of a big file: it is read again at the next start (results already spooled may be sent twice)"
        );
    }
    let _ = watcher.flush().await;
    let _ = cadence.save();
    for f in forwarders {
        f.abort();
    }
    let deadline = tokio::time::Instant::now() + config.agent.shutdown_timeout;
    let health = health_now(
        config,
        &pipeline,
        &cadence,
        &mut watchful,
        &watcher.unhealthy(),
    );
    write_status(&status_base, &health, &state_dir);
    pipeline.shutdown(deadline).await;
    tracing::info!("nagbridge agent stopped");
    Ok(ending)
}

/// Watch `inbox/new` with inotify: an event per change (None when inotify is not available:
/// the cadence tick then takes the inbox).
fn watch_inbox(
    inbox: &Spool,
) -> (
    Option<notify::RecommendedWatcher>,
    tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    use notify::Watcher as _;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Entries arrive by rename (or create). Opening and listing the directory, which the
        // drain itself does, must not wake it again (that would be a busy loop).
        let relevant = match res {
            Ok(ev) => matches!(
                ev.kind,
                notify::EventKind::Create(_)
                    | notify::EventKind::Modify(notify::event::ModifyKind::Name(_))
                    | notify::EventKind::Access(notify::event::AccessKind::Close(
                        notify::event::AccessMode::Write
                    ))
            ),
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })
    .and_then(|mut w| {
        w.watch(
            &inbox.dir().join("new"),
            notify::RecursiveMode::NonRecursive,
        )?;
        Ok(w)
    });
    match watcher {
        Ok(w) => (Some(w), rx),
        Err(e) => {
            tracing::warn!("cannot watch the wrap inbox ({e}); it is checked every cadence tick");
            (None, rx)
        }
    }
}

/// Move what `wrap` handed over into the destination spools; its jobs count for the cadence.
fn take_inbox(
    inbox: &Spool,
    pipeline: &Pipeline,
    cadence: &mut Cadence,
    cadence_save_due: &mut Option<tokio::time::Instant>,
) {
    match pipeline::drain_inbox(inbox, pipeline) {
        Ok(moved) => {
            let now = Utc::now();
            for o in &moved {
                cadence.observe_outcome(o, now);
            }
            if !moved.is_empty() {
                cadence_save_due
                    .get_or_insert_with(|| tokio::time::Instant::now() + CADENCE_SAVE_INTERVAL);
            }
        }
        Err(e) => tracing::error!("cannot take results handed over by wrap, will retry: {e}"),
    }
}

/// Log the watcher's warnings and remember the files it skipped.
fn note_warnings(watcher: &Watcher, watchful: &mut Watchful) {
    for w in watcher.take_warnings() {
        tracing::warn!(path = ?w.path, "{}", w.message);
        if let Some(p) = w.path {
            let file_level = w.message.starts_with("skipped")
                || w.message.starts_with("cannot open")
                || w.message.starts_with("cannot read:");
            if file_level {
                watchful.skipped.insert(p, w.message);
            }
        }
    }
}

/// What is wrong now.
fn health_now(
    config: &Config,
    pipeline: &Pipeline,
    cadence: &Cadence,
    watchful: &mut Watchful,
    unhealthy: &[WatchHealth],
) -> Health {
    // A skipped file that is gone is resolved.
    watchful
        .skipped
        .retain(|p, _| std::fs::symlink_metadata(p).is_ok());
    let now = Utc::now();
    // A job has a Nagios service when a [[job]] names it exactly, or the last
    // `nagbridge nagios-config` defined one for it.
    let generated = crate::nagios_objects::generated_jobs(&config.agent.state_dir);
    let mut unconfigured_count = 0u64;
    let mut unconfigured_jobs = BTreeMap::new();
    let generated: std::collections::HashSet<&str> = generated.iter().map(String::as_str).collect();
    for j in cadence.jobs() {
        let Some(last) = j.last.filter(|t| now - *t <= UNCONFIGURED_JOB_WINDOW) else {
            continue;
        };
        if j.job == HEARTBEAT_SERVICE
            || generated.contains(j.job)
            || config.jobs.iter().any(|r| r.name == j.job)
        {
            continue;
        }
        unconfigured_count += 1;
        if unconfigured_jobs.len() < super::health::MAX_LISTED {
            unconfigured_jobs.insert(j.job.to_string(), last);
        }
    }
    Health {
        destinations: pipeline
            .destinations()
            .iter()
            .map(|d| {
                DestinationHealth::of(
                    d.name(),
                    d.describe(),
                    &d.stats(),
                    d.spool().quarantine_dir(),
                )
            })
            .collect(),
        watches: unhealthy
            .iter()
            .map(|w| super::health::WatchProblem {
                path: w.path.clone(),
                reason: w.state.to_string(),
            })
            .collect(),
        skipped: watchful.skipped.clone(),
        unconfigured_jobs,
        unconfigured_count,
    }
}

fn write_status(base: &StatusFile, health: &Health, state_dir: &Path) {
    let s = StatusFile {
        updated: Utc::now(),
        health: health.clone(),
        ..base.clone()
    };
    if let Err(e) = s.write(state_dir) {
        tracing::debug!("cannot write status.json: {e}");
    }
}

/// Spool a heartbeat unless the last one is still undelivered.
async fn send_heartbeat(pipeline: &Pipeline, health: &Health, watchful: &mut Watchful) {
    let problems = health.problems();
    if problems != watchful.last_problems {
        for p in problems
            .iter()
            .filter(|p| !watchful.last_problems.contains(p))
        {
            tracing::warn!("heartbeat WARNING: {p}");
        }
        if problems.is_empty() {
            tracing::info!("heartbeat OK again: every problem is resolved");
        }
    }
    watchful.last_problems = problems;
    watchful.last_heartbeat_at = Some(tokio::time::Instant::now());
    if watchful
        .last_heartbeat
        .as_ref()
        .is_some_and(|ids| !pipeline.all_gone(ids))
    {
        return;
    }
    match pipeline
        .enqueue(vec![health.heartbeat(Utc::now())], Lane::Normal)
        .await
    {
        Ok(ids) => watchful.last_heartbeat = Some(ids),
        Err(e) => tracing::error!("cannot spool the heartbeat: {e}"),
    }
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
