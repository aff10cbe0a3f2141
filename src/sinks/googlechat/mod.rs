//! The `googlechat` channel: each outcome as one message (text + a card) posted to a Google
//! Chat space's incoming webhook (SPEC section 6).
//!
//! Owns: the request (POST, JSON, `requestId=<spool entry id>` added to the URL so that
//! Google creates one message however often an attempt is repeated: a retry after a timeout
//! whose message did arrive returns the existing message instead of posting it twice) and
//! what an answer means ([`classify`]): Google's error JSON (`{"error": {"code", "message",
//! "status", "details"}}`); 429 `RESOURCE_EXHAUSTED` is retried after exactly the
//! `RetryInfo.retryDelay` it carries (else `Retry-After`, else backoff); an invalid API key
//! (400 `API_KEY_INVALID`), 401, 403 and 404 are dead; another 400 is a refused payload, sent
//! once more as [`render::plain`] (with its own request id) before it is reported rejected.
//! Pace: one message a second (Google's per-space write quota). Must not retry otherwise,
//! sleep or touch the spool; never shows the URL (`key` and `token` are credentials).

pub mod config;
pub mod render;

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::Value;

use super::content::Notice;
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::GoogleChatConfig;

/// Least time between two messages (about one write a second per space).
pub const PACE: Duration = Duration::from_secs(1);

/// A Google Chat space, ready to send.
pub struct GoogleChatSink {
    name: String,
    shown: String,
    client: reqwest::Client,
    url: reqwest::Url,
    agent: String,
    secrets: Secrets,
    /// Told apart from other channels' request ids (two channels may post to one space).
    tag: String,
}

/// `30s`, `1.5s` (protobuf Duration JSON) as a delay.
fn proto_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// The failure class of a Google Chat answer (see the module doc).
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let e = &v["error"];
    let status = e["status"].as_str().unwrap_or_default();
    let message = e["message"].as_str().unwrap_or_default();
    let details = e["details"].as_array().cloned().unwrap_or_default();
    let reason = details
        .iter()
        .find_map(|d| d["reason"].as_str())
        .unwrap_or_default();
    let what = if status.is_empty() {
        format!("HTTP {}", reply.status)
    } else {
        format!("HTTP {} {status}: {message}", reply.status)
    };
    let scrub = |e: SinkError| secrets.scrub_error(e);
    if reply.status == 400 && (reason == "API_KEY_INVALID" || message.contains("API key not valid"))
    {
        return Err(scrub(SinkError::dead(format!(
            "{what}: the webhook's key is not valid (copy the URL again from the space)"
        ))));
    }
    if reply.status == 429 || status == "RESOURCE_EXHAUSTED" {
        let delay = details
            .iter()
            .find_map(|d| d["retryDelay"].as_str().and_then(proto_duration));
        if let Some(d) = delay {
            return Err(scrub(
                SinkError::retryable(format!(
                    "{what} (Google asks to retry after {:.1}s)",
                    d.as_secs_f64()
                ))
                .with_after(d),
            ));
        }
    }
    match (reply.status, status.is_empty()) {
        (401 | 403, false) => Err(scrub(SinkError::dead(format!(
            "{what}: the webhook was removed, or its key or token is wrong"
        )))),
        (404, false) => Err(scrub(SinkError::dead(format!(
            "{what}: the space or the webhook does not exist"
        )))),
        _ => reply.classify(secrets),
    }
}

impl GoogleChatSink {
    /// The sink of channel `channel` with `config` (the URL resolved now), reporting as
    /// `agent`. The error never holds the URL.
    pub fn build(
        channel: &str,
        config: &GoogleChatConfig,
        agent: &str,
    ) -> Result<GoogleChatSink, String> {
        let text = config
            .url
            .resolve_string()
            .map_err(|e| format!("url: {e}"))?;
        let mut secrets = Secrets::new();
        secrets.add_url(&text);
        let url = config::validate_url(&text).map_err(|e| format!("url: {e}"))?;
        let shown = http::redact_secret_url(&text);
        Ok(GoogleChatSink {
            name: format!("googlechat {channel} ({shown})"),
            shown,
            client: http::client(http::DEFAULT_TIMEOUT, None)?,
            url,
            agent: agent.to_string(),
            secrets,
            tag: channel_tag(channel),
        })
    }

    /// The URL with `requestId=<id>`: the same id on every attempt of one message.
    fn url_for(&self, request_id: &str) -> reqwest::Url {
        let mut u = self.url.clone();
        u.query_pairs_mut().append_pair("requestId", request_id);
        u
    }

    async fn post(&self, request_id: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let request = self
            .client
            .post(self.url_for(request_id))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=UTF-8"),
            )
            .body(body);
        let reply = http::send(request, &self.secrets).await?;
        classify(&reply, &self.secrets)
    }
}

/// 8 hex digits of FNV-1a over the channel's name.
fn channel_tag(channel: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in channel.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// The request id of an entry's message in the channel tagged `tag`
/// (`nagbridge-<tag>-<entry id>`), and of its plain form (`...-plain`).
pub fn request_id(tag: &str, entry: &Entry, plain: bool) -> String {
    let id = format!("nagbridge-{tag}-{}", entry.id.as_str());
    if plain {
        format!("{id}-plain")
    } else {
        id
    }
}

impl Sink for GoogleChatSink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, _entry: &Entry) -> String {
        format!("POST {}", self.shown)
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
            render::message(&notice),
            || render::plain(&notice),
            |b, plain| async move { self.post(&request_id(&self.tag, entry, plain), b).await },
        )
        .await?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::FailureClass;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn googlechat_errors_are_classified() {
        let s = Secrets::new();
        let e = classify(
            &reply(
                429,
                r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED",
                "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.5s"}]}}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable);
        assert_eq!(e.after, Some(Duration::from_millis(2500)));
        assert!(e.message.contains("RESOURCE_EXHAUSTED"), "{}", e.message);
        let e = classify(
            &reply(
                429,
                r#"{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED"}}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!((e.class, e.after), (FailureClass::Retryable, None));
        let e = classify(
            &reply(
                400,
                r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
                "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Dead);
        for (code, status) in [
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
        ] {
            let body =
                format!(r#"{{"error":{{"code":{code},"message":"m","status":"{status}"}}}}"#);
            let e = classify(&reply(code, &body), &s).unwrap_err();
            assert_eq!(e.class, FailureClass::Dead, "{code}");
            assert!(e.message.contains(status), "{}", e.message);
        }
        let e = classify(
            &reply(
                400,
                r#"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"x\"","status":"INVALID_ARGUMENT"}}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Rejected);
        assert_eq!(
            classify(&reply(503, ""), &s).unwrap_err().class,
            FailureClass::Retryable
        );
        assert_eq!(proto_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(proto_duration("x"), None);
    }
}
