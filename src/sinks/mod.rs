//! Sinks: one folder per kind of destination (`sinks/<kind>/`: `mod.rs` the [`Sink`] and its
//! failure classes, `config.rs` the typed keys with a pure `validate()`, `render.rs` the
//! payload, limits and escaping), all behind the [`Sink`] trait; [`content`] is the one
//! message model every channel renders.
//!
//! Owns: turning spooled entries into what a destination understands and handing them over,
//! and classifying every failure ([`SinkError`], [`FailureClass`]). Must not retry, sleep,
//! touch the spool or log failures: the delivery loop (`crate::delivery`) is the one place that
//! does those.

pub mod content;
pub mod email;
pub mod http;
pub mod icinga2;
pub mod nagios;
pub mod nsca;
pub mod webhook;

use std::future::Future;
use std::time::Duration;

use crate::config::problem::Problems;
use crate::config::reader::Section;
use crate::config::ChannelType;
pub use crate::retry::{FailureClass, SinkError};
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

    /// Most entries per [`Sink::deliver_batch`] (channels send one message per outcome).
    fn batch_size(&self) -> usize {
        64
    }

    /// Least time between two batches: the platform's rate limit (Slack one message a second).
    fn pace(&self) -> Duration {
        Duration::ZERO
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

/// The typed settings of a `[[channel]]`: one variant per channel type built in. Each type's
/// `config.rs` reads its keys; their `Debug` never shows a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChannelOptions {
    /// `type = "email"`.
    Email(Box<email::config::EmailConfig>),
    /// `type = "webhook"`.
    Webhook(webhook::config::WebhookConfig),
}

/// The channel types built into this version.
pub const BUILT_IN_CHANNELS: &[ChannelType] = &[ChannelType::Email, ChannelType::Webhook];

/// Read the keys of a `[[channel]]` of type `kind` from `s` (unknown keys are left for the
/// caller's `finish`, which reports them with a suggestion).
pub(crate) fn read_channel_options(
    kind: ChannelType,
    s: &mut Section<'_>,
    p: &mut Problems,
) -> Option<ChannelOptions> {
    match kind {
        ChannelType::Email => email::config::read(s, p).map(|c| ChannelOptions::Email(Box::new(c))),
        ChannelType::Webhook => webhook::config::read(s, p).map(ChannelOptions::Webhook),
        other => {
            let built: Vec<&str> = BUILT_IN_CHANNELS.iter().map(|k| k.name()).collect();
            p.error(
                s.key("type"),
                format!(
                    "channel type {:?} is not built into this version of nagbridge (built in: \
                     {}); nothing would be sent",
                    other.name(),
                    if built.is_empty() {
                        "none".to_string()
                    } else {
                        built.join(", ")
                    }
                ),
            );
            None
        }
    }
}

/// The sink of one channel.
#[non_exhaustive]
pub enum ChannelSink {
    /// An email channel.
    Email(Box<email::EmailSink>),
    /// A web hook.
    Webhook(Box<webhook::WebhookSink>),
}

impl ChannelSink {
    /// Build the sink of `channel` (`agent` is the agent's host_name, for the messages).
    pub fn build(channel: &crate::config::Channel, agent: &str) -> Result<ChannelSink, String> {
        match &channel.options {
            ChannelOptions::Email(c) => email::EmailSink::new((**c).clone(), &channel.name, agent)
                .map(|s| ChannelSink::Email(Box::new(s))),
            ChannelOptions::Webhook(c) => webhook::WebhookSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Webhook(Box::new(s))),
        }
    }
}

impl Sink for ChannelSink {
    fn name(&self) -> String {
        match self {
            ChannelSink::Email(s) => s.name(),
            ChannelSink::Webhook(s) => s.name(),
        }
    }

    fn validate(&self, entry: &Entry) -> Result<(), SinkError> {
        match self {
            ChannelSink::Email(s) => s.validate(entry),
            ChannelSink::Webhook(s) => s.validate(entry),
        }
    }

    fn describe(&self, entry: &Entry) -> String {
        match self {
            ChannelSink::Email(s) => s.describe(entry),
            ChannelSink::Webhook(s) => s.describe(entry),
        }
    }

    fn batch_size(&self) -> usize {
        match self {
            ChannelSink::Email(s) => s.batch_size(),
            ChannelSink::Webhook(s) => s.batch_size(),
        }
    }

    fn pace(&self) -> Duration {
        match self {
            ChannelSink::Email(s) => s.pace(),
            ChannelSink::Webhook(s) => s.pace(),
        }
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        match self {
            ChannelSink::Email(s) => s.deliver_batch(entries).await,
            ChannelSink::Webhook(s) => s.deliver_batch(entries).await,
        }
    }
}

/// What each kind of channel built in would receive for `o` reported by `agent`, with its
/// default settings: (what it is, the payload as text). Pure: nothing is sent (`demo`).
pub fn previews(o: &crate::outcome::Outcome, agent: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let notice = content::Notice::from_outcome(o, agent);
    if let Ok(template) = crate::config::Template::parse(
        email::config::DEFAULT_SUBJECT,
        email::config::SUBJECT_VARIABLES,
    ) {
        let subject = email::render::subject(&template, &notice, o);
        out.push((
            "email: the subject and the text part (an HTML part goes with it)",
            format!(
                "Subject: {subject}\n\n{}",
                email::render::text(&notice, "ops-mail")
            ),
        ));
    }
    let body = webhook::render::default_body(o, agent);
    let pretty = serde_json::from_slice::<serde_json::Value>(&body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
    out.push((
        "webhook: the JSON body POSTed (default, no template)",
        pretty,
    ));
    out
}
