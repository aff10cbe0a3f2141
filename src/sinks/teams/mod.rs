//! The `teams` channel: each outcome as an Adaptive Card posted to a Microsoft Teams Workflows
//! webhook (SPEC section 6).
//!
//! Owns: the request (POST, `Content-Type: application/json`, the card of [`render`]) and
//! what an answer means. 2xx (Workflows answers 202 Accepted: the flow runs afterwards, so
//! success means "accepted", not "posted") is delivered; the classes of [`super::http`]
//! otherwise (401/403/404 dead: a wrong signature or a deleted flow; 429 after exactly its
//! `Retry-After`); a flow that is turned off (`error.code` naming a disabled trigger or
//! workflow) is dead too; a refused card is sent once more as [`render::plain_card`] before it
//! is reported rejected. Pace: 4 requests a second at most (Teams throttles above). Must not
//! retry otherwise, sleep or touch the spool; never shows the URL (its `sig=` is the
//! credential).

pub mod config;
pub mod render;

use std::time::Duration;

use super::hook::Hook;

use super::content::Notice;
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::TeamsConfig;

/// Least time between two messages (Teams throttles more than four requests a second).
pub const PACE: Duration = Duration::from_millis(250);

/// A Teams Workflows destination, ready to send.
pub struct TeamsSink {
    name: String,
    hook: Hook,
    agent: String,
}

/// The failure class of a Workflows answer: [`http::classify`], except that a flow that is
/// turned off is dead whatever its status.
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    if !(200..300).contains(&reply.status) {
        let code = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
            .unwrap_or_default();
        if code.contains("NotEnabled") || code.contains("Disabled") {
            return Err(secrets.scrub_error(SinkError::dead(format!(
                "HTTP {} {code}: the workflow is turned off; turn it on in Teams (Workflows) or \
                 Power Automate",
                reply.status
            ))));
        }
    }
    reply.classify(secrets)
}

impl TeamsSink {
    /// The sink of channel `channel` with `config` (the URL resolved now), reporting as
    /// `agent`. The error never holds the URL.
    pub fn build(channel: &str, config: &TeamsConfig, agent: &str) -> Result<TeamsSink, String> {
        let text = config
            .url
            .resolve_string()
            .map_err(|e| format!("url: {e}"))?;
        let url = config::validate_url(&text).map_err(|e| format!("url: {e}"))?;
        let hook = Hook::with_url(&text, url, None, http::DEFAULT_TIMEOUT)?;
        Ok(TeamsSink {
            name: format!("teams {channel} ({})", hook.shown),
            hook,
            agent: agent.to_string(),
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let reply = self.hook.post(body).await?;
        classify(&reply, &self.hook.secrets)
    }
}

impl Sink for TeamsSink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, _entry: &Entry) -> String {
        format!("POST {}", self.hook.shown)
    }

    fn batch_size(&self) -> usize {
        1
    }

    fn pace(&self) -> Duration {
        PACE
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let Some(entry) = entries.first() else {
            return Ok(0);
        };
        let notice = Notice::from_outcome(&entry.outcome, &self.agent);
        crate::sinks::hook::send_or_plain(
            render::card(&notice),
            || render::plain_card(&notice),
            |b, _| self.post(b),
        )
        .await?;
        Ok(1)
    }
}
