//! The `slack` channel: each outcome as one message to a Slack incoming webhook (a `text`
//! fallback and an attachment with the status colour and blocks, [`render`]), at most one a
//! second.
//!
//! Owns: the request and what Slack's answer means. Slack answers in plain text (`ok`, or an
//! error word): 429 waits exactly `Retry-After`; 5xx (`rollup_error`) is retried; the dead
//! destinations stop the channel: 403 `action_prohibited` / `invalid_token`, 404
//! `no_service` / `channel_not_found` / `no_team`, 410 `channel_is_archived`, and also 400
//! `invalid_token` (a revoked webhook); any other 400 (`invalid_payload`, `invalid_blocks`,
//! `no_text`, ...) is a refused payload, sent once more as plain `text` before it is
//! reported rejected. Must not retry otherwise, sleep or touch the spool, and never shows the
//! URL (its path is the webhook's credential).

pub mod config;
pub mod render;

use std::time::Duration;

use super::content::Notice;
use super::hook::{self, Hook};
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::SlackConfig;
use render::Overrides;

/// Least time between two messages: Slack allows one a second per webhook (short bursts
/// aside), and warns that ignoring 429s may get the app disabled.
pub const PACE: Duration = Duration::from_secs(1);

/// A Slack webhook, ready to send.
pub struct SlackSink {
    name: String,
    hook: Hook,
    overrides: Overrides,
    agent: String,
}

/// What a Slack error word means, for the operator.
fn hint(word: &str) -> Option<&'static str> {
    Some(match word {
        "no_service" => "the webhook was disabled or removed; create a new one and set url",
        "invalid_token" => "the webhook's token was revoked; create a new one and set url",
        "no_team" => "the workspace of this webhook is gone",
        "channel_not_found" => "the channel does not exist or the app is not in it",
        "channel_is_archived" => "the channel is archived",
        "action_prohibited" => "a workspace admin restricted posting to this channel",
        "user_not_found" => "the user of channel = \"@…\" does not exist",
        "posting_to_general_channel_denied" => "only admins may post to this channel",
        "invalid_payload"
        | "invalid_blocks"
        | "invalid_blocks_format"
        | "no_text"
        | "missing_text_or_fallback_or_attachments"
        | "too_many_attachments"
        | "msg_blocks_too_long" => "Slack refused the message's layout",
        _ => return None,
    })
}

/// The failure class of Slack's answer: [`http::classify`], except that 400 `invalid_token`
/// is a dead webhook; messages say what Slack's error word means.
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    let result = reply.classify(secrets);
    let Err(mut e) = result else {
        return Ok(());
    };
    let body = String::from_utf8_lossy(&reply.body);
    let word = body.trim();
    if reply.status == 400 && word == "invalid_token" {
        e = SinkError::dead(format!(
            "HTTP 400 Bad Request: invalid_token: {}",
            hint(word).unwrap_or_default()
        ));
    } else if let Some(h) = hint(word) {
        e.message = format!("{}: {h}", e.message);
    }
    Err(secrets.scrub_error(e))
}

impl SlackSink {
    /// The sink of channel `channel` with `config` (the URL resolved now), reporting as
    /// `agent`. The error never holds the URL.
    pub fn build(channel: &str, config: &SlackConfig, agent: &str) -> Result<SlackSink, String> {
        let hook = Hook::build(&config.url, None, http::DEFAULT_TIMEOUT, |_| {})?;
        Ok(SlackSink {
            name: format!("slack {channel} ({})", hook.shown),
            hook,
            overrides: Overrides {
                channel: config.channel.clone(),
                username: config.username.clone(),
                icon_emoji: config.icon_emoji.clone(),
            },
            agent: agent.to_string(),
        })
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let reply = self.hook.post(body).await?;
        classify(&reply, &self.hook.secrets)
    }
}

impl Sink for SlackSink {
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
        let n = Notice::from_outcome(&entry.outcome, &self.agent);
        let full = render::message(&n, &self.overrides)
            .to_string()
            .into_bytes();
        hook::send_or_plain(
            full,
            || render::plain(&n, &self.overrides).to_string().into_bytes(),
            |b, _| self.send(b),
        )
        .await?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::FailureClass;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn reply(status: u16, body: &str, retry: Option<&str>) -> Result<(), SinkError> {
        let mut headers = HeaderMap::new();
        if let Some(r) = retry {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(r).unwrap());
        }
        let r = Reply {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        };
        classify(&r, &Secrets::new())
    }

    #[test]
    fn slack_answers_are_classified() {
        assert_eq!(reply(200, "ok", None), Ok(()));
        for (status, word) in [
            (404, "no_service"),
            (404, "channel_not_found"),
            (404, "no_team"),
            (410, "channel_is_archived"),
            (403, "action_prohibited"),
            (403, "invalid_token"),
            (400, "invalid_token"),
        ] {
            let e = reply(status, word, None).unwrap_err();
            assert_eq!(e.class, FailureClass::Dead, "{status} {word}");
            assert!(e.message.contains(word), "{}", e.message);
        }
        let e = reply(404, "no_service", None).unwrap_err();
        assert_eq!(
            e.message,
            "HTTP 404 Not Found: no_service: the hook does not exist (deleted, or a wrong URL): \
             the webhook was disabled or removed; create a new one and set url"
        );
        for word in ["invalid_payload", "invalid_blocks", "no_text", "whatever"] {
            let e = reply(400, word, None).unwrap_err();
            assert_eq!(e.class, FailureClass::Rejected, "{word}");
        }
        let e = reply(429, "rate_limited", Some("2")).unwrap_err();
        assert_eq!(
            (e.class, e.after),
            (FailureClass::Retryable, Some(Duration::from_secs(2)))
        );
        let e = reply(500, "rollup_error", None).unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable);
    }
}
