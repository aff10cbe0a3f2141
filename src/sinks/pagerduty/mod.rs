//! The `pagerduty` channel: each outcome as one PagerDuty Events API v2 event (`POST
//! <api_url>/v2/enqueue`): problems trigger the alert of their job, a success resolves it
//! (SPEC section 6).
//!
//! Owns: the request of one outcome (the event from [`render`]) and what PagerDuty's answers
//! mean: 202 accepted; 429 and 5xx retryable (PagerDuty gives no delay field: `Retry-After` is
//! honoured when present, else the usual backoff); 400 is never retried as is: when its
//! `errors` name the routing key the channel is dead (every event would be refused), otherwise
//! the plain form (no `custom_details`) is sent once and, refused again, the entry is
//! rejected; 401/403/404 (a wrong `api_url`) dead. Pacing: 2 events a second at most (PagerDuty
//! allows about 120 a minute per routing key). Must not retry otherwise, sleep or touch the
//! spool; never shows the routing key.

pub mod config;
pub mod render;

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};

use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::spool::Entry;
use config::PagerDutyConfig;
use render::Action;

/// Least time between two events (120 a minute).
pub const PACE: Duration = Duration::from_millis(500);

/// A PagerDuty destination, ready to send.
pub struct PagerDutySink {
    name: String,
    client: reqwest::Client,
    endpoint: reqwest::Url,
    routing_key: String,
    agent: String,
    secrets: Secrets,
}

/// The events endpoint under `api_url`.
pub fn endpoint(api_url: &str) -> Result<reqwest::Url, String> {
    let base = config::validate_api_url(api_url)?;
    let mut u = base.clone();
    {
        let mut segments = u
            .path_segments_mut()
            .map_err(|_| format!("{api_url:?} cannot be a base URL"))?;
        segments.pop_if_empty().push("v2").push("enqueue");
    }
    Ok(u)
}

/// The failure class of a PagerDuty answer (see the module doc), the message scrubbed.
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    let base = reply.classify(secrets);
    match base {
        Err(e) if reply.status == 400 && names_routing_key(&reply.body) => {
            Err(SinkError::dead(format!(
                "{}; PagerDuty refuses the routing key: copy the Integration Key of the \
                 service's Events API v2 integration into routing_key",
                e.message
            )))
        }
        other => other,
    }
}

/// True when a 400's `errors` (or message) are about the routing key.
fn names_routing_key(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.contains("routing_key") || text.contains("routing key")
}

impl PagerDutySink {
    /// The sink of channel `channel` with `config` (the key resolved now), reporting as
    /// `agent`. The error never holds the key.
    pub fn build(
        channel: &str,
        config: &PagerDutyConfig,
        agent: &str,
    ) -> Result<PagerDutySink, String> {
        let routing_key = config
            .routing_key
            .resolve_string()
            .map_err(|e| format!("routing_key: {e}"))?
            .trim()
            .to_string();
        config::validate_routing_key(&routing_key).map_err(|e| format!("routing_key {e}"))?;
        let mut secrets = Secrets::new();
        secrets.add(&routing_key);
        let endpoint = endpoint(&config.api_url).map_err(|e| format!("api_url: {e}"))?;
        let client = http::client(http::DEFAULT_TIMEOUT, None)?;
        Ok(PagerDutySink {
            name: format!("pagerduty {channel} ({endpoint})"),
            client,
            endpoint,
            routing_key,
            agent: agent.to_string(),
            secrets,
        })
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let request = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let reply = http::send(request, &self.secrets).await?;
        classify(&reply, &self.secrets)
    }
}

impl Sink for PagerDutySink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, entry: &Entry) -> String {
        let n = crate::sinks::content::Notice::from_outcome(&entry.outcome, &self.agent);
        let (action, severity) = render::action(entry.outcome.status);
        let key = render::dedup_key(&n.key);
        match action {
            Action::Trigger => format!("trigger {severity} dedup_key {key:?}"),
            Action::Resolve => format!("resolve dedup_key {key:?}"),
        }
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
        let o = &entry.outcome;
        crate::sinks::hook::send_or_plain(
            render::event(&self.routing_key, o, &self.agent, false),
            || render::event(&self.routing_key, o, &self.agent, true),
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
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn pagerduty_endpoint_is_under_api_url() {
        assert_eq!(
            endpoint("https://events.pagerduty.com").unwrap().as_str(),
            "https://events.pagerduty.com/v2/enqueue"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:9/pd/").unwrap().as_str(),
            "http://127.0.0.1:9/pd/v2/enqueue"
        );
    }

    #[test]
    fn pagerduty_answers_are_classified() {
        let mut s = Secrets::new();
        s.add("R0UT1NGk3yR0UT1NGk3yR0UT1NGk3y12");
        assert_eq!(classify(&reply(202, "{}"), &s), Ok(()));
        let e = classify(
            &reply(
                400,
                r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Dead, "{e}");
        assert!(e.message.contains("Integration Key"), "{e}");
        let e = classify(
            &reply(
                400,
                r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Rejected);
        for status in [429, 500, 502, 503] {
            assert_eq!(
                classify(&reply(status, ""), &s).unwrap_err().class,
                FailureClass::Retryable
            );
        }
        for status in [401, 403, 404] {
            assert_eq!(
                classify(&reply(status, ""), &s).unwrap_err().class,
                FailureClass::Dead
            );
        }
        // The key never shows, even when the server quotes it.
        let e = classify(
            &reply(
                400,
                "bad key R0UT1NGk3yR0UT1NGk3yR0UT1NGk3y12 for routing_key",
            ),
            &s,
        )
        .unwrap_err();
        assert!(!e.message.contains("R0UT1NG"), "{e}");
    }
}
