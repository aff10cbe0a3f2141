//! The delivery loop of one (spool, sink) pair: the only place that retries.
//!
//! Owns: taking pending entries oldest first in batches, handing them to the sink, acking what
//! was delivered, quarantining what the sink says can never be delivered, waiting per the
//! [`RetryPolicy`] after a failure, waking up when new entries are spooled, rate-limited
//! failure logs, counters for the heartbeat and status, and stopping on shutdown. Must not
//! drop an entry: an entry leaves `new/` only by an ack after delivery or by quarantine.
//! Must not know any protocol (that is the sink's) or any file format (the spool's).
//!
//! What a failure leads to depends on its class (`crate::retry::FailureClass`): retryable ones
//! back off (exactly the server's delay when it gave one); a rejected payload quarantines that
//! one entry and the loop goes on; a dead destination stops the loop (every entry stays
//! spooled, the stats say why) until the config is reloaded; a configuration problem is
//! retried at the policy's cap and logged as an error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use crate::retry::{FailureClass, RetryPolicy, SinkError};
use crate::sinks::Sink;
use crate::spool::{Entry, EntryId, Lane, Spool, SpoolError};

/// Entries read from the spool per trip to the blocking pool (at least the batch size).
const LOAD_WINDOW: usize = 64;

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Most entries handed to the sink at once (one NSCA connection per batch).
    pub batch_size: usize,
    /// Backoff between failed attempts.
    pub retry: RetryPolicy,
    /// Re-list the spool this often even without a wake-up (entries written by another
    /// process do not wake this loop).
    pub poll_interval: Duration,
    /// After shutdown is requested, how long a batch already being delivered may take to
    /// finish; after that it is abandoned (its entries stay spooled and are sent again later).
    pub shutdown_grace: Duration,
    /// Repeat an unchanged failure in the log at most this often.
    pub log_interval: Duration,
    /// Least time between two batches (a platform's rate limit: Slack one message a second);
    /// zero for none.
    pub pace: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            batch_size: 64,
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(5),
            log_interval: Duration::from_secs(60),
            pace: Duration::ZERO,
        }
    }
}

/// Live counters of one loop (shared; read them at any time).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    delivered: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
    pending: AtomicU64,
    failing: AtomicBool,
    last_error: Mutex<Option<(DateTime<Utc>, String)>>,
    last_delivery: Mutex<Option<DateTime<Utc>>>,
    /// Spool time (µs since the epoch) of the oldest pending entry at the last listing.
    oldest_pending: AtomicU64,
    /// Entries that cannot be read (permissions, I/O errors): skipped, so they block nothing,
    /// and shown until they can be read or are gone. Entry name -> why.
    unreadable: Mutex<BTreeMap<String, String>>,
    /// Signalled whenever a counter changes (for the status file; no polling).
    changed: Notify,
    /// Why the destination is dead (the loop stopped), if it is.
    dead: Mutex<Option<String>>,
}

/// A copy of [`DeliveryStats`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Entries delivered and acked.
    pub delivered: u64,
    /// Failed attempts (sink or spool errors), each followed by a backoff.
    pub failures: u64,
    /// Entries the sink can never deliver, moved to quarantine.
    pub rejected: u64,
    /// Entries in the spool at the last listing, minus those acked since.
    pub pending: u64,
    /// True from a failure until the next success.
    pub failing: bool,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When the last failure happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// When an entry was last delivered.
    pub last_delivery: Option<DateTime<Utc>>,
    /// When the oldest pending entry was spooled.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Entries that cannot be read (skipped), with why: name -> error.
    pub unreadable: BTreeMap<String, String>,
    /// Why the destination is dead (delivery stopped until the config is reloaded).
    pub dead: Option<String>,
}

impl DeliveryStats {
    /// Current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        let last_error = self
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let oldest = self.oldest_pending.load(Ordering::Relaxed);
        StatsSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
            failing: self.failing.load(Ordering::Relaxed),
            last_error_at: last_error.as_ref().map(|(t, _)| *t),
            last_error: last_error.map(|(_, m)| m),
            last_delivery: *self.last_delivery.lock().unwrap_or_else(|e| e.into_inner()),
            oldest_pending: (oldest > 0)
                .then(|| DateTime::from_timestamp_micros(oldest as i64))
                .flatten(),
            unreadable: self
                .unreadable
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            dead: self.dead.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Wait until a counter changes (a change while nobody waited is kept for the next call).
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    fn touch(&self) {
        self.changed.notify_one();
    }
}

/// Logs a failure when the state changes (healthy to failing, or a different error), and an
/// unchanged one at most once per interval; logs the recovery.
struct FailureLog {
    sink: String,
    interval: Duration,
    failing_since: Option<Instant>,
    attempts: u64,
    last_message: String,
    last_logged: Option<Instant>,
}

impl FailureLog {
    fn failure(&mut self, e: &SinkError, delay: Duration) {
        self.attempts += 1;
        let now = Instant::now();
        let changed = self.failing_since.is_none() || e.message != self.last_message;
        let due = self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= self.interval);
        self.failing_since.get_or_insert(now);
        if changed || due {
            let (sink, attempts) = (&self.sink, self.attempts);
            let delay_ms = delay.as_millis() as u64;
            if e.is_retryable() {
                tracing::warn!(%sink, attempts, delay_ms, "delivery failed, will retry: {}", e.message);
            } else {
                tracing::error!(
                    %sink, attempts, delay_ms,
                    "delivery failed and will keep failing until the configuration is fixed \
                     (entries stay spooled): {}",
                    e.message
                );
            }
            self.last_logged = Some(now);
        }
        self.last_message.clone_from(&e.message);
    }

    fn success(&mut self) {
        if let Some(since) = self.failing_since.take() {
            tracing::info!(
                sink = %self.sink,
                attempts = self.attempts,
                after_s = since.elapsed().as_secs(),
                "delivery recovered"
            );
        }
        self.attempts = 0;
        self.last_logged = None;
        self.last_message.clear();
    }
}

/// The delivery loop for one spool and one sink.
pub struct Delivery<S> {
    spool: Spool,
    sink: Arc<S>,
    config: DeliveryConfig,
    stats: Arc<DeliveryStats>,
    /// When the last batch was handed to the sink (for pacing).
    last_sent: Mutex<Option<Instant>>,
}

enum Step {
    /// Nothing pending.
    Empty,
    /// The first n entries were delivered.
    Delivered(usize),
    /// Nothing known delivered.
    Failed(SinkError),
    /// Shutdown (the batch, if any, was abandoned).
    Stop,
}

/// Resolves once shutdown is requested (`true` sent) or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn is_stopped(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

fn spool_failure(e: SpoolError) -> SinkError {
    SinkError::retryable(format!("spool: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SpoolError> + Send + 'static,
) -> Result<T, SinkError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(spool_failure),
        Err(e) => Err(SinkError::retryable(format!("spool task failed: {e}"))),
    }
}

impl<S: Sink> Delivery<S> {
    /// A loop delivering `spool`'s entries to `sink`.
    pub fn new(spool: Spool, sink: S, config: DeliveryConfig) -> Delivery<S> {
        Delivery {
            spool,
            sink: Arc::new(sink),
            config: DeliveryConfig {
                batch_size: config.batch_size.max(1),
                ..config
            },
            stats: Arc::new(DeliveryStats::default()),
            last_sent: Mutex::new(None),
        }
    }

    /// The counters (keep a clone for status and heartbeat).
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }

    /// Deliver until `shutdown` becomes true (or its sender is dropped). Returns promptly when
    /// idle or backing off; a batch in flight gets `shutdown_grace` to finish. Whatever is not
    /// delivered stays in the spool.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut log = FailureLog {
            sink: self.sink.name(),
            interval: self.config.log_interval,
            failing_since: None,
            attempts: 0,
            last_message: String::new(),
            last_logged: None,
        };
        let mut attempt: u32 = 0;
        while !is_stopped(&shutdown) {
            let failure = match self.pass(&mut shutdown).await {
                Step::Stop => return,
                Step::Empty => {
                    // Nothing pending: sleep until an enqueue, the poll interval or shutdown.
                    tokio::select! {
                        _ = self.spool.wait_for_entries() => {}
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = stopped(&mut shutdown) => return,
                    }
                    continue;
                }
                // Only damaged or rejected entries: progress, but says nothing about the sink.
                Step::Delivered(0) => continue,
                Step::Delivered(_) => {
                    log.success();
                    attempt = 0;
                    self.stats.failing.store(false, Ordering::Relaxed);
                    self.stats.touch();
                    continue;
                }
                Step::Failed(e) => e,
            };
            if failure.class == FailureClass::Dead {
                // Stop: nothing is dropped, every entry waits for a reload with a fixed config.
                tracing::error!(
                    sink = %log.sink,
                    "the destination is dead, delivery stopped until the config is reloaded \
                     (SIGHUP); its entries stay spooled: {}",
                    failure.message
                );
                self.stats.failing.store(true, Ordering::Relaxed);
                *self.stats.dead.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(failure.message.clone());
                *self
                    .stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some((Utc::now(), failure.message));
                self.stats.touch();
                stopped(&mut shutdown).await;
                return;
            }
            let policy = &self.config.retry;
            let delay = if failure.is_retryable() {
                policy.delay(attempt, &failure)
            } else {
                policy.cap.max(failure.after.unwrap_or_default())
            };
            attempt = attempt.saturating_add(1);
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            self.stats.failing.store(true, Ordering::Relaxed);
            *self
                .stats
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some((Utc::now(), failure.message.clone()));
            self.stats.touch();
            log.failure(&failure, delay);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopped(&mut shutdown) => return,
            }
        }
    }

    /// One listing of the spool, delivered batch by batch until a batch fails or is delivered
    /// only in part, or a fresh (normal lane) entry arrives while bulk entries are being sent.
    /// `Empty` when nothing could be done: nothing pending, or only unreadable entries.
    async fn pass(&self, shutdown: &mut watch::Receiver<bool>) -> Step {
        let spool = self.spool.clone();
        let ids = match blocking(move || spool.pending()).await {
            Ok(ids) => ids,
            Err(e) => return Step::Failed(e),
        };
        self.note_listing(&ids);
        let mut total = 0;
        let mut handled = 0;
        // Entries are read a window at a time (one trip to the blocking pool for many
        // entries, also for sinks that take one per batch), then delivered batch by batch.
        let window = self.config.batch_size.max(LOAD_WINDOW);
        'pass: for chunk in ids.chunks(window) {
            if is_stopped(shutdown) {
                return Step::Stop;
            }
            let (loaded, unreadable) = match self.load(chunk.to_vec()).await {
                Ok(x) => x,
                Err(e) => return Step::Failed(e),
            };
            // Damaged or rejected entries left the spool: that is progress too.
            handled += chunk.len() - unreadable;
            for entries in loaded.chunks(self.config.batch_size) {
                if is_stopped(shutdown) {
                    return Step::Stop;
                }
                // Pacing: never two batches closer than `pace`, across passes too.
                if !self.config.pace.is_zero() {
                    let last = *self.last_sent.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(last) = last {
                        tokio::select! {
                            _ = tokio::time::sleep_until((last + self.config.pace).into()) => {}
                            _ = stopped(shutdown) => return Step::Stop,
                        }
                    }
                    *self.last_sent.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Instant::now());
                }
                let n = match self.deliver(entries, shutdown).await {
                    Step::Delivered(0) => {
                        return Step::Failed(SinkError::retryable(
                            "sink reported no entry delivered and no error",
                        ))
                    }
                    Step::Delivered(n) => n.min(entries.len()),
                    Step::Failed(e) if e.class == FailureClass::Rejected => {
                        // The first entry's payload was refused (its plain form too): it leaves
                        // for the quarantine with the reason; the rest are offered again at once.
                        let id = entries[0].id.clone();
                        let spool = self.spool.clone();
                        let why = format!("refused by {}: {}", self.sink.name(), e.message);
                        let _ = blocking(move || {
                            spool.reject(&id, &why);
                            Ok(())
                        })
                        .await;
                        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                        self.stats.touch();
                        return Step::Delivered(total);
                    }
                    other => return other,
                };
                let acked: Vec<EntryId> = entries[..n].iter().map(|e| e.id.clone()).collect();
                let spool = self.spool.clone();
                if let Err(e) =
                    blocking(move || acked.iter().try_for_each(|id| spool.ack(id))).await
                {
                    // Delivered but still spooled: back off rather than resend in a loop.
                    return Step::Failed(e);
                }
                let sink = self.sink.name();
                for e in &entries[..n] {
                    tracing::info!(
                        destination = %sink,
                        job = %e.outcome.job,
                        state = e.outcome.status.nagios_label(),
                        "delivered {} {} to {sink}: {}",
                        e.outcome.job,
                        e.outcome.status.nagios_label(),
                        self.sink.describe(e)
                    );
                }
                total += n;
                self.stats.delivered.fetch_add(n as u64, Ordering::Relaxed);
                *self
                    .stats
                    .last_delivery
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Utc::now());
                let _ =
                    self.stats
                        .pending
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                            Some(p.saturating_sub(n as u64))
                        });
                self.stats.touch();
                if n < entries.len() {
                    break 'pass; // list again: the rest go at once, and fail into the backoff if need be
                }
                if entries.last().is_some_and(|e| e.id.lane() == Lane::Bulk)
                    && self.spool.take_urgent()
                {
                    tracing::debug!(destination = %sink, "a fresh result arrived: listing again before more bulk entries");
                    break 'pass;
                }
            }
        }
        if handled == 0 {
            return Step::Empty;
        }
        Step::Delivered(total)
    }

    /// Record what a listing found: pending count, oldest entry, and forget unreadable entries
    /// that are gone.
    fn note_listing(&self, ids: &[EntryId]) {
        self.stats
            .pending
            .store(ids.len() as u64, Ordering::Relaxed);
        let oldest = ids.iter().map(EntryId::micros).min().unwrap_or(0);
        self.stats.oldest_pending.store(oldest, Ordering::Relaxed);
        let mut unreadable = self
            .stats
            .unreadable
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !unreadable.is_empty() {
            let listed: std::collections::HashSet<&str> = ids.iter().map(EntryId::as_str).collect();
            unreadable.retain(|name, _| listed.contains(name.as_str()));
        }
        drop(unreadable);
        self.stats.touch();
    }

    /// Load `ids`, quarantining the damaged (the spool does) and those the sink rejects, and
    /// skipping those that cannot be read (counted in the stats, retried at the next pass).
    /// Returns the loaded entries and how many were unreadable.
    async fn load(&self, ids: Vec<EntryId>) -> Result<(Vec<Entry>, usize), SinkError> {
        let spool = self.spool.clone();
        let sink = self.sink.clone();
        let stats = self.stats.clone();
        let dest = self.sink.name();
        blocking(move || {
            let mut entries = Vec::with_capacity(ids.len());
            let mut unreadable = 0;
            for id in &ids {
                let loaded = spool.load(id);
                let mut skipped = stats.unreadable.lock().unwrap_or_else(|e| e.into_inner());
                let entry = match loaded {
                    Ok(Some(entry)) => {
                        skipped.remove(id.as_str());
                        entry
                    }
                    Ok(None) => {
                        skipped.remove(id.as_str());
                        continue;
                    }
                    Err(e) => {
                        unreadable += 1;
                        if skipped.insert(id.to_string(), e.to_string()).is_none() {
                            tracing::warn!(
                                destination = %dest,
                                "{e}: skipped (the entries behind it go on); fix its owner or \
                                 permissions and it is delivered at the next pass"
                            );
                        }
                        continue;
                    }
                };
                drop(skipped);
                match sink.validate(&entry) {
                    Ok(()) => entries.push(entry),
                    Err(why) => {
                        spool.reject(id, &why.message);
                        stats.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok((entries, unreadable))
        })
        .await
    }

    async fn deliver(&self, entries: &[Entry], shutdown: &mut watch::Receiver<bool>) -> Step {
        let mut watcher = shutdown.clone();
        let grace = self.config.shutdown_grace;
        let deadline = async move {
            stopped(&mut watcher).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = self.sink.deliver_batch(entries) => match r {
                Ok(n) => Step::Delivered(n),
                Err(e) => Step::Failed(e),
            },
            _ = deadline => Step::Stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::outcome::{Outcome, Status};

    /// Fails `fails` times (the message changes once, half way), then delivers.
    struct Flaky {
        fails: AtomicUsize,
        total: usize,
        got: Mutex<Vec<String>>,
    }

    impl Sink for Flaky {
        fn name(&self) -> String {
            "flaky".into()
        }
        fn validate(&self, _: &Entry) -> Result<(), SinkError> {
            Ok(())
        }
        async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
            let n = self.fails.fetch_add(1, Ordering::Relaxed);
            if n < self.total {
                let which = if n < self.total / 2 {
                    "refused"
                } else {
                    "reset"
                };
                return Err(SinkError::retryable(format!("connection {which}")));
            }
            let mut got = self.got.lock().unwrap();
            got.extend(entries.iter().map(|e| e.outcome.job.clone()));
            Ok(entries.len())
        }
    }

    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn delivery_logs_failures_once_per_state_change() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink_buf = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Capture(sink_buf.clone()))
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), "d").unwrap();
        for i in 0..5 {
            spool
                .enqueue(&Outcome::new(format!("j{i}"), Status::Success))
                .unwrap();
        }
        let config = DeliveryConfig {
            batch_size: 2,
            retry: RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(4),
                max_after: Duration::from_secs(1),
            },
            ..DeliveryConfig::default()
        };
        let flaky = Flaky {
            fails: AtomicUsize::new(0),
            total: 40,
            got: Mutex::new(Vec::new()),
        };
        let delivery = Delivery::new(spool.clone(), flaky, config);
        let stats = delivery.stats();
        let sink = delivery.sink.clone();
        let (stop, stopped) = watch::channel(false);
        rt.block_on(async {
            let task = tokio::spawn(delivery.run(stopped));
            while stats.snapshot().delivered < 5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            stop.send(true).unwrap();
            task.await.unwrap();
        });
        let log = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        let warns: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
        assert_eq!(warns.len(), 2, "one per distinct failure:\n{log}");
        assert!(warns[0].contains("connection refused") && warns[1].contains("connection reset"));
        assert_eq!(log.matches("delivery recovered").count(), 1, "{log}");
        let snap = stats.snapshot();
        assert_eq!((snap.delivered, snap.failures, snap.pending), (5, 40, 0));
        assert!(!snap.failing);
        assert_eq!(*sink.got.lock().unwrap(), ["j0", "j1", "j2", "j3", "j4"]);
        assert!(spool.is_empty().unwrap());
    }
}
