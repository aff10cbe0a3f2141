//! The `mattermost` channel: each outcome as one post to a Mattermost incoming webhook
//! (`text` + an attachment in Mattermost Markdown, [`render`]), never split into several.
//!
//! Owns: the request and what Mattermost's answer means. Its errors are AppError JSON
//! (`{"id": "...", "message": "...", "status_code": N}`): 400
//! `web.incoming_webhook.invalid.app_error` (the hook was deleted: Mattermost says 400, not
//! 404), 404 (the channel is gone), 403 (a locked hook or a private channel), 501 (incoming
//! webhooks disabled on the server) and 400 `web.incoming_webhook.user.app_error` (no such
//! `@user`) stop the channel; any other 400 is a refused payload, sent once more as plain
//! `text`; 429 waits exactly `Retry-After` (else `X-RateLimit-Reset`); 5xx is retried. Must
//! not retry otherwise, sleep or touch the spool, and never shows the URL.

pub mod config;
pub mod render;

use std::time::Duration;

use super::content::Notice;
use super::hook::{self, Hook};
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::retry::FailureClass;
use crate::spool::Entry;
use config::MattermostConfig;
use render::Overrides;

/// A Mattermost webhook, ready to send.
pub struct MattermostSink {
    name: String,
    hook: Hook,
    overrides: Overrides,
    agent: String,
}

/// What an AppError id means for the operator, and whether it kills the channel.
fn meaning(id: &str) -> Option<(bool, &'static str)> {
    Some(match id {
        "web.incoming_webhook.invalid.app_error" => (
            true,
            "the webhook does not exist (deleted, or a wrong URL); create one under \
             Integrations > Incoming Webhooks and set url",
        ),
        "web.incoming_webhook.disabled.app_error" => (
            true,
            "incoming webhooks are disabled on this server (System Console > Integrations > \
             Integration Management)",
        ),
        "web.incoming_webhook.channel.app_error" | "app.channel.get.existing.app_error" => {
            (true, "the channel does not exist (check channel)")
        }
        "web.incoming_webhook.channel_locked.app_error" => (
            true,
            "the webhook is locked to its own channel; remove channel or unlock the hook",
        ),
        "web.incoming_webhook.permissions.app_error" => (
            true,
            "the webhook's owner may not post in that private channel",
        ),
        "web.incoming_webhook.user.app_error" => {
            (true, "the user of channel = \"@…\" does not exist")
        }
        _ => return None,
    })
}

/// The failure class of Mattermost's answer (see the module doc); the message quotes the
/// AppError id and message.
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    let generic = reply.classify(secrets);
    let Err(mut e) = generic else {
        return Ok(());
    };
    let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let id = error["id"].as_str().unwrap_or_default();
    let reason = reqwest::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let said = match error["message"].as_str() {
        Some(m) if !id.is_empty() => format!("{id} ({})", hook::cut(&hook::one_line(m), 200)),
        _ => String::new(),
    };
    let dead = match meaning(id) {
        Some((dead, hint)) => {
            e.message = format!("HTTP {} {reason}: {said}: {hint}", reply.status);
            dead
        }
        None => {
            if !said.is_empty() {
                e.message = format!("HTTP {} {reason}: {said}", reply.status);
                if e.class == FailureClass::Rejected {
                    e.message.push_str(": the payload was refused");
                }
            }
            matches!(reply.status, 401 | 403 | 404 | 410 | 501)
        }
    };
    if dead {
        e = SinkError::dead(e.message);
    } else if reply.status == 429 && e.after.is_none() {
        // Mattermost's limiter (throttled) says when the bucket refills.
        let reset = reply
            .headers
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(secs) = reset {
            e = SinkError::retryable(format!(
                "{} (the server's rate limit resets in {secs}s)",
                e.message
            ))
            .with_after(Duration::from_secs(secs));
        }
    }
    Err(secrets.scrub_error(e))
}

impl MattermostSink {
    /// The sink of channel `channel` with `config` (the URL resolved now), reporting as
    /// `agent`. The error never holds the URL.
    pub fn build(
        channel: &str,
        config: &MattermostConfig,
        agent: &str,
    ) -> Result<MattermostSink, String> {
        let hook = Hook::build(
            &config.url,
            config.ca_file.as_deref(),
            http::DEFAULT_TIMEOUT,
            |_| {},
        )?;
        Ok(MattermostSink {
            name: format!("mattermost {channel} ({})", hook.shown),
            hook,
            overrides: Overrides {
                channel: config.channel.clone(),
                username: config.username.clone(),
                icon_url: config.icon_url.clone(),
            },
            agent: agent.to_string(),
        })
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let reply = self.hook.post(body).await?;
        classify(&reply, &self.hook.secrets)
    }
}

impl Sink for MattermostSink {
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
    use reqwest::header::{HeaderMap, HeaderValue};

    fn app_error(status: u16, id: &str, headers: &[(&str, &str)]) -> Result<(), SinkError> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let body = serde_json::json!({"id": id, "message": "Something went wrong.",
            "detailed_error": "", "request_id": "r1", "status_code": status});
        classify(
            &Reply {
                status,
                headers: h,
                body: body.to_string().into_bytes(),
            },
            &Secrets::new(),
        )
    }

    #[test]
    fn mattermost_app_errors_are_classified() {
        for (status, id) in [
            (400, "web.incoming_webhook.invalid.app_error"),
            (501, "web.incoming_webhook.disabled.app_error"),
            (404, "web.incoming_webhook.channel.app_error"),
            (403, "web.incoming_webhook.channel_locked.app_error"),
            (403, "web.incoming_webhook.permissions.app_error"),
            (400, "web.incoming_webhook.user.app_error"),
            (501, "some.other.app_error"),
        ] {
            let e = app_error(status, id, &[]).unwrap_err();
            assert_eq!(e.class, FailureClass::Dead, "{status} {id}");
            assert!(e.message.contains(id), "{}", e.message);
        }
        let e = app_error(400, "web.incoming_webhook.invalid.app_error", &[]).unwrap_err();
        assert_eq!(
            e.message,
            "HTTP 400 Bad Request: web.incoming_webhook.invalid.app_error (Something went \
             wrong.): the webhook does not exist (deleted, or a wrong URL); create one under \
             Integrations > Incoming Webhooks and set url"
        );
        for id in [
            "web.incoming_webhook.parse.app_error",
            "web.incoming_webhook.text.app_error",
            "model.incoming_hook.parse_data.app_error",
        ] {
            let e = app_error(400, id, &[]).unwrap_err();
            assert_eq!(e.class, FailureClass::Rejected, "{id}");
            assert!(
                e.message.ends_with("the payload was refused"),
                "{}",
                e.message
            );
        }
        let e =
            app_error(429, "api.context.rate_limit", &[("x-ratelimit-reset", "3")]).unwrap_err();
        assert_eq!(
            (e.class, e.after),
            (FailureClass::Retryable, Some(Duration::from_secs(3)))
        );
        let e = app_error(
            429,
            "x",
            &[("retry-after", "1"), ("x-ratelimit-reset", "3")],
        )
        .unwrap_err();
        assert_eq!(e.after, Some(Duration::from_secs(1)));
        assert_eq!(
            app_error(503, "x", &[]).unwrap_err().class,
            FailureClass::Retryable
        );
        // Not JSON at all (a proxy in front): the generic classes.
        let r = Reply {
            status: 502,
            headers: HeaderMap::new(),
            body: b"<html>bad gateway</html>".to_vec(),
        };
        assert_eq!(
            classify(&r, &Secrets::new()).unwrap_err().class,
            FailureClass::Retryable
        );
    }
}
