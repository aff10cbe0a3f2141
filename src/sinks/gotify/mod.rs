//! The `gotify` channel: each outcome as one message to a Gotify server (SPEC section 6).
//!
//! Owns: the request (`POST <url>/message`, the application token in `X-Gotify-Key`, JSON
//! `title`, `message` (Markdown), `priority`, `extras` from [`render`]) and what an answer
//! means ([`classify`], from Gotify's `{"error", "errorCode", "errorDescription"}`): 401 and
//! 403 are dead (a wrong or deleted token, or a client token instead of an application
//! token); 400 is a refused message, sent once more as [`render::plain`] before it is
//! reported rejected; the classes of [`super::http`] otherwise. No pace (Gotify has no rate
//! limit). Must not retry otherwise, sleep or touch the spool; never shows the token.

pub mod config;
pub mod render;

use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::Value;

use super::content::Notice;
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::GotifyConfig;

/// The header carrying the application token.
pub const TOKEN_HEADER: &str = "x-gotify-key";

/// A Gotify server, ready to send.
pub struct GotifySink {
    name: String,
    shown: String,
    client: reqwest::Client,
    url: reqwest::Url,
    token: HeaderValue,
    agent: String,
    secrets: Secrets,
}

/// The failure class of a Gotify answer (see the module doc).
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let Some(error) = v["error"].as_str() else {
        return reply.classify(secrets);
    };
    let what = match v["errorDescription"].as_str() {
        Some(d) => format!("HTTP {} {error}: {d}", reply.status),
        None => format!("HTTP {} {error}", reply.status),
    };
    let e = match reply.status {
        401 | 403 => SinkError::dead(format!(
            "{what} (check token: an application token from Gotify's Apps page)"
        )),
        400 => SinkError::rejected(format!("{what}: the message was refused")),
        _ => return reply.classify(secrets),
    };
    Err(secrets.scrub_error(e))
}

impl GotifySink {
    /// The sink of channel `channel` with `config` (the token resolved now), reporting as
    /// `agent`. The error never holds the token.
    pub fn build(channel: &str, config: &GotifyConfig, agent: &str) -> Result<GotifySink, String> {
        let url = config::message_url(&config.url).map_err(|e| format!("url: {e}"))?;
        let token = config
            .token
            .resolve_string()
            .map_err(|e| format!("token: {e}"))?;
        let mut secrets = Secrets::new();
        secrets.add(&token);
        let mut value = HeaderValue::from_str(token.trim())
            .map_err(|_| "token: not a valid header value".to_string())?;
        value.set_sensitive(true);
        let shown = http::redact_url(url.as_str());
        Ok(GotifySink {
            name: format!("gotify {channel} ({shown})"),
            shown,
            client: http::client(http::DEFAULT_TIMEOUT, None)?,
            url,
            token: value,
            agent: agent.to_string(),
            secrets,
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(HeaderName::from_static(TOKEN_HEADER), self.token.clone())
            .body(body);
        let reply = http::send(request, &self.secrets).await?;
        classify(&reply, &self.secrets)
    }
}

impl Sink for GotifySink {
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

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let Some(entry) = entries.first() else {
            return Ok(0);
        };
        let notice = Notice::from_outcome(&entry.outcome, &self.agent);
        crate::sinks::hook::send_or_plain(
            render::message(&notice),
            || render::plain(&notice),
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
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn gotify_answers_are_classified() {
        let s = Secrets::new();
        let e = classify(
            &reply(401, r#"{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token or user credentials to access this api"}"#),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Dead);
        assert!(
            e.message.starts_with("HTTP 401 Unauthorized: you need"),
            "{}",
            e.message
        );
        let e = classify(
            &reply(400, r#"{"error":"Bad Request","errorCode":400,"errorDescription":"Field 'message' is required"}"#),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Rejected);
        assert_eq!(classify(&reply(200, r#"{"id":1}"#), &s), Ok(()));
        assert_eq!(
            classify(&reply(502, "x"), &s).unwrap_err().class,
            FailureClass::Retryable
        );
    }
}
