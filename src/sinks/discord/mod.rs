//! The `discord` channel: each outcome as one message with one embed to a Discord webhook
//! ([`render`]), sent with `?wait=true` so that a message Discord does not save is an error
//! rather than a silent 204.
//!
//! Owns: the request, Discord's rate-limit headers and what its answer means. Discord's errors
//! are JSON (`{"message": "...", "code": N, ...}`): 429 waits exactly the body's
//! `retry_after` (float seconds; the `Retry-After` header only when the body has none); 404
//! (10015 Unknown Webhook) and 401 (50027 Invalid Webhook Token) and 403 stop the channel at
//! once: Discord asks never to use a webhook again after a 404, and bans addresses that make
//! many invalid requests; 400 (50035 Invalid Form Body, with the path of the refused field) is
//! a refused payload, sent once more as plain `content`; 5xx and 130000 (API overloaded) are
//! retried. When an answer says the bucket is empty (`X-RateLimit-Remaining: 0`), the next
//! request waits for `X-RateLimit-Reset-After` before it is sent (up to [`MAX_WAIT`]; longer,
//! the delivery loop waits). Must not retry otherwise or touch the spool, and never shows the
//! URL (its last segment is the webhook's token).

pub mod config;
pub mod render;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::content::Notice;
use super::hook::{self, Hook};
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::DiscordConfig;
use render::Overrides;

/// Longest wait for an empty rate-limit bucket inside one delivery; a longer one is handed to
/// the delivery loop as a retryable failure with that delay.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// A Discord webhook, ready to send.
pub struct DiscordSink {
    name: String,
    hook: Hook,
    overrides: Overrides,
    agent: String,
    /// When the rate-limit bucket has room again (after an answer with `Remaining: 0`).
    bucket_free_at: Mutex<Option<Instant>>,
}

/// `embeds.0.fields.6.value: Must be 1024 or fewer in length.` for each refused field of a
/// 50035 answer (at most 5).
fn form_errors(errors: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        let Some(m) = v.as_object() else { return };
        if let Some(list) = m.get("_errors").and_then(|e| e.as_array()) {
            for e in list {
                let what = e["message"]
                    .as_str()
                    .or(e["code"].as_str())
                    .unwrap_or("refused");
                out.push(format!("{}: {what}", path.join(".")));
            }
        }
        for (k, x) in m {
            if k != "_errors" && out.len() < 5 {
                path.push(k.clone());
                walk(x, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    walk(errors, &mut Vec::new(), &mut out);
    out.truncate(5);
    out
}

/// The failure class of Discord's answer (see the module doc).
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    let generic = reply.classify(secrets);
    let Err(e) = generic else {
        return Ok(());
    };
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let code = body["code"].as_u64();
    let said = match (body["message"].as_str(), code) {
        (Some(m), Some(c)) => format!("{} (code {c})", hook::cut(&hook::one_line(m), 200)),
        (Some(m), None) => hook::cut(&hook::one_line(m), 200),
        _ => String::new(),
    };
    let status = reply.status;
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let head = if said.is_empty() {
        e.message.clone()
    } else {
        format!("HTTP {status} {reason}: {said}")
    };
    let e = match status {
        429 => {
            let after = body["retry_after"]
                .as_f64()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .or(e.after);
            let scope = match (
                body["global"].as_bool(),
                reply.headers.get("x-ratelimit-scope"),
            ) {
                (Some(true), _) => " (global limit)".to_string(),
                (_, Some(s)) => format!(" ({} limit)", s.to_str().unwrap_or("?")),
                _ => String::new(),
            };
            match after {
                Some(d) => SinkError::retryable(format!(
                    "{head}{scope}: Discord asks to retry after {:.3}s",
                    d.as_secs_f64()
                ))
                .with_after(d),
                None => SinkError::retryable(format!("{head}{scope}")),
            }
        }
        404 => SinkError::dead(format!(
            "{head}: the webhook was deleted (or the URL is wrong); Discord must not be sent \
             to it again: create a new webhook and set url"
        )),
        401 => SinkError::dead(format!(
            "{head}: the URL's token is wrong or was regenerated; copy the webhook URL again"
        )),
        403 => SinkError::dead(format!(
            "{head}: Discord refuses this webhook (missing access)"
        )),
        400 => {
            let fields = form_errors(&body["errors"]);
            let detail = if fields.is_empty() {
                String::new()
            } else {
                format!(": {}", fields.join("; "))
            };
            SinkError::rejected(format!("{head}{detail}: the payload was refused"))
        }
        _ if e.is_retryable() => match e.after {
            Some(d) => SinkError::retryable(head).with_after(d),
            None => SinkError::retryable(head),
        },
        _ => {
            let mut e = e;
            if !said.is_empty() {
                e.message = format!("{head}: {}", e.message);
            }
            e
        }
    };
    Err(secrets.scrub_error(e))
}

/// How long until the bucket has room, from an answer's rate-limit headers: `Some` only when
/// `X-RateLimit-Remaining` is 0.
pub fn bucket_wait(reply: &Reply) -> Option<Duration> {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if header("x-ratelimit-remaining")? != "0" {
        return None;
    }
    let secs: f64 = header("x-ratelimit-reset-after")?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

impl DiscordSink {
    /// The sink of channel `channel` with `config` (the URL resolved now), reporting as
    /// `agent`. The error never holds the URL.
    pub fn build(
        channel: &str,
        config: &DiscordConfig,
        agent: &str,
    ) -> Result<DiscordSink, String> {
        let hook = Hook::build(&config.url, None, http::DEFAULT_TIMEOUT, |u| {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| k != "wait")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("wait", "true");
        })?;
        Ok(DiscordSink {
            name: format!("discord {channel} ({})", hook.shown),
            hook,
            overrides: Overrides {
                username: config.username.clone(),
                avatar_url: config.avatar_url.clone(),
            },
            agent: agent.to_string(),
            bucket_free_at: Mutex::new(None),
        })
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let free_at = *self
            .bucket_free_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(at) = free_at {
            let wait = at.saturating_duration_since(Instant::now());
            if wait > MAX_WAIT {
                return Err(SinkError::retryable(
                    "Discord's rate limit for this webhook is used up (X-RateLimit-Remaining: 0)",
                )
                .with_after(wait));
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let reply = self.hook.post(body).await?;
        *self
            .bucket_free_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = bucket_wait(&reply).map(|d| Instant::now() + d);
        classify(&reply, &self.hook.secrets)
    }
}

impl Sink for DiscordSink {
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
    use crate::retry::FailureClass;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    fn reply(status: u16, body: serde_json::Value, headers: &[(&str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Reply {
            status,
            headers: h,
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn discord_answers_are_classified() {
        let s = Secrets::new();
        assert_eq!(
            classify(&reply(200, serde_json::json!({"id": "1"}), &[]), &s),
            Ok(())
        );
        assert_eq!(
            classify(&reply(204, serde_json::json!(null), &[]), &s),
            Ok(())
        );
        // 429: exactly the body's float, not the header's rounded seconds.
        let r = reply(
            429,
            serde_json::json!({"message": "You are being rate limited.", "retry_after": 1.234, "global": false}),
            &[("retry-after", "2"), ("x-ratelimit-scope", "user")],
        );
        let e = classify(&r, &s).unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable);
        assert_eq!(e.after, Some(Duration::from_secs_f64(1.234)));
        assert_eq!(
            e.message,
            "HTTP 429 Too Many Requests: You are being rate limited. (user limit): Discord asks \
             to retry after 1.234s"
        );
        let e = classify(
            &reply(
                404,
                serde_json::json!({"message": "Unknown Webhook", "code": 10015}),
                &[],
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Dead);
        assert!(e.message.starts_with(
            "HTTP 404 Not Found: Unknown Webhook (code 10015): the webhook was deleted"
        ));
        let e = classify(
            &reply(
                401,
                serde_json::json!({"message": "Invalid Webhook Token", "code": 50027}),
                &[],
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Dead);
        assert!(e.message.contains("code 50027"));
        let body = serde_json::json!({"code": 50035, "errors": {"embeds": {"0": {"fields": {"6": {"value": {"_errors": [{"code":
            "BASE_TYPE_MAX_LENGTH", "message": "Must be 1024 or fewer in length."}]}}}}}}, "message": "Invalid Form Body"});
        let e = classify(&reply(400, body, &[]), &s).unwrap_err();
        assert_eq!(e.class, FailureClass::Rejected);
        assert_eq!(
            e.message,
            "HTTP 400 Bad Request: Invalid Form Body (code 50035): embeds.0.fields.6.value: Must \
             be 1024 or fewer in length.: the payload was refused"
        );
        let e = classify(
            &reply(
                503,
                serde_json::json!({"message": "API overloaded", "code": 130000}),
                &[],
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable);
        let e = classify(&reply(502, serde_json::json!(null), &[]), &s).unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable);
    }

    #[test]
    fn discord_an_empty_bucket_delays_the_next_request() {
        let r = reply(
            200,
            serde_json::json!({}),
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "0.75"),
            ],
        );
        assert_eq!(bucket_wait(&r), Some(Duration::from_millis(750)));
        let r = reply(
            200,
            serde_json::json!({}),
            &[
                ("x-ratelimit-remaining", "3"),
                ("x-ratelimit-reset-after", "0.75"),
            ],
        );
        assert_eq!(bucket_wait(&r), None);
        assert_eq!(bucket_wait(&reply(200, serde_json::json!({}), &[])), None);
    }
}
