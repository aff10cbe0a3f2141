//! The `ntfy` channel: each outcome as one push notification published to an ntfy topic (SPEC
//! section 6).
//!
//! Owns: the request (JSON publishing: `POST` to the server's root with `topic`, `title`,
//! `message`, `priority`, `tags` from [`render`]; `Authorization: Bearer <token>` or Basic)
//! and what an answer means ([`classify`], from ntfy's `{"code", "http", "error", "link"}`):
//! 401 (40101) and 403 (40301) are dead; 429 (42901 too many requests, 42908 daily quota) is
//! retried after `Retry-After` when the server gives one, else with backoff; 413 and other 4xx
//! are a refused message, sent once more as [`render::plain`] before it is reported rejected.
//! Pace: one message every 5 seconds (ntfy's default visitor limit refills one request per
//! 5 s). Must not retry otherwise, sleep or touch the spool; never shows the topic or a secret.

pub mod config;
pub mod render;

use std::time::Duration;

use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use super::content::Notice;
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::{Auth, NtfyConfig};

/// Least time between two messages (ntfy's default: a burst of 60, then one per 5 s).
pub const PACE: Duration = Duration::from_secs(5);

/// An ntfy topic, ready to publish to.
pub struct NtfySink {
    name: String,
    shown: String,
    client: reqwest::Client,
    root: reqwest::Url,
    topic: String,
    auth: Option<HeaderValue>,
    agent: String,
    secrets: Secrets,
}

/// The failure class of an ntfy answer (see the module doc).
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let (code, error) = (v["code"].as_i64(), v["error"].as_str());
    let what = match (code, error) {
        (Some(c), Some(e)) => format!("HTTP {} (ntfy {c}: {e})", reply.status),
        _ => return reply.classify(secrets),
    };
    let e = match reply.status {
        401 | 403 => SinkError::dead(format!(
            "{what}: the server refuses the login or the topic (check token, or username and \
             password, and the user's access to the topic)"
        )),
        413 => SinkError::rejected(format!("{what}: the message is too large")),
        429 | 500..=599 | 408 => {
            return reply.classify(secrets).map_err(|mut x| {
                x.message = match x.after {
                    Some(a) => format!(
                        "{what} (the server asks to retry after {}s)",
                        a.as_secs_f64()
                    ),
                    None => what.clone(),
                };
                secrets.scrub_error(x)
            })
        }
        _ => return reply.classify(secrets),
    };
    Err(secrets.scrub_error(e))
}

impl NtfySink {
    /// The sink of channel `channel` with `config` (secrets resolved now), reporting as
    /// `agent`. The error never holds a secret.
    pub fn build(channel: &str, config: &NtfyConfig, agent: &str) -> Result<NtfySink, String> {
        let text = config
            .url
            .resolve_string()
            .map_err(|e| format!("url: {e}"))?;
        let (root, topic) = config::split_url(&text).map_err(|e| format!("url: {e}"))?;
        let mut secrets = Secrets::new();
        secrets.add_url(&text);
        secrets.add(&topic);
        let auth = match &config.auth {
            Auth::None => None,
            Auth::Token(t) => {
                let t = t.resolve_string().map_err(|e| format!("token: {e}"))?;
                secrets.add(&t);
                Some(format!("Bearer {}", t.trim()))
            }
            Auth::Basic(user, pw) => {
                let pw = pw.resolve_string().map_err(|e| format!("password: {e}"))?;
                secrets.add(&pw);
                let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
                secrets.add(&pair);
                Some(format!("Basic {pair}"))
            }
        };
        let auth = match auth {
            Some(a) => {
                let mut v = HeaderValue::from_str(&a)
                    .map_err(|_| "token or password: not a valid header value".to_string())?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let shown = http::redact_secret_url(&text);
        Ok(NtfySink {
            name: format!("ntfy {channel} ({shown})"),
            shown,
            client: http::client(http::DEFAULT_TIMEOUT, None)?,
            root,
            topic,
            auth,
            agent: agent.to_string(),
            secrets,
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let mut request = self
            .client
            .post(self.root.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        if let Some(a) = &self.auth {
            request = request.header(AUTHORIZATION, a.clone());
        }
        let reply = http::send(request, &self.secrets).await?;
        classify(&reply, &self.secrets)
    }
}

impl Sink for NtfySink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, _entry: &Entry) -> String {
        format!("publish to {}", self.shown)
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
            render::publish(&self.topic, &notice),
            || render::plain(&self.topic, &notice),
            |b, _| self.post(b),
        )
        .await?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::FailureClass;
    use reqwest::header::{HeaderMap, RETRY_AFTER};

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn ntfy_answers_are_classified() {
        let s = Secrets::new();
        let e = classify(
            &reply(429, r#"{"code":42901,"http":429,"error":"limit reached: too many requests","link":"https://ntfy.sh/docs/publish/#limitations"}"#),
            &s,
        )
        .unwrap_err();
        assert_eq!((e.class, e.after), (FailureClass::Retryable, None));
        assert_eq!(
            e.message,
            "HTTP 429 (ntfy 42901: limit reached: too many requests)"
        );
        let mut r = reply(
            429,
            r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#,
        );
        r.headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let e = classify(&r, &s).unwrap_err();
        assert_eq!(e.after, Some(Duration::from_secs(7)));
        for (st, body) in [
            (401, r#"{"code":40101,"http":401,"error":"unauthorized"}"#),
            (403, r#"{"code":40301,"http":403,"error":"forbidden"}"#),
        ] {
            assert_eq!(
                classify(&reply(st, body), &s).unwrap_err().class,
                FailureClass::Dead
            );
        }
        let e = classify(
            &reply(
                413,
                r#"{"code":41301,"http":413,"error":"message too large"}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Rejected);
        assert_eq!(classify(&reply(200, r#"{"id":"x"}"#), &s), Ok(()));
        assert_eq!(
            classify(&reply(503, ""), &s).unwrap_err().class,
            FailureClass::Retryable
        );
    }
}
