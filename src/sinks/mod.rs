//! Sinks: one module (or folder) per kind of destination, all behind the [`Sink`] trait.
//!
//! Owns: turning spooled entries into what a destination understands and handing them over,
//! and classifying every failure as retryable (with an optional server-given delay) or
//! permanent ([`SinkError`]). Must not retry, sleep, touch the spool or log failures: the
//! delivery loop (`crate::delivery`) is the one place that does those.

pub mod nsca;

use std::future::Future;

pub use crate::retry::SinkError;
use crate::spool::Entry;

/// A destination that entries can be delivered to.
pub trait Sink: Send + Sync + 'static {
    /// A short name for logs (`nsca 127.0.0.1:5667`).
    fn name(&self) -> String;

    /// Check one entry without I/O. An `Err` (always permanent) means this entry can never be
    /// delivered here, whatever happens: the delivery loop quarantines it.
    fn validate(&self, entry: &Entry) -> Result<(), SinkError>;

    /// Where `entry` goes at this destination, for the log line of each delivery
    /// (`host "web01" service "backup nightly"`). No I/O; secrets never appear in it.
    fn describe(&self, entry: &Entry) -> String {
        format!("job {:?}", entry.outcome.job)
    }

    /// Deliver `entries` (already validated, oldest first).
    ///
    /// `Ok(n)` means the first `n` entries were delivered and the rest (if any) were not and
    /// must be offered again; `n` is at least 1 for a non-empty batch. `Err` means none of them
    /// is known to be delivered.
    fn deliver_batch(
        &self,
        entries: &[Entry],
    ) -> impl Future<Output = Result<usize, SinkError>> + Send;
}
