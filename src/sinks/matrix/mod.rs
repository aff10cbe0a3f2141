//! The `matrix` channel: each outcome as one `m.room.message` (text and HTML) sent with the
//! client-server API, `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`, as the
//! account of `access_token` (SPEC section 6).
//!
//! Owns: resolving a room alias once (`GET /_matrix/client/v3/directory/room/{alias}`, cached),
//! the transaction id (`nagbridge-<spool entry id>`: the same on every attempt at one outcome,
//! so the homeserver answers a retry with the event it already made instead of posting twice;
//! the plain form has its own, `...-plain`), and what the answers mean: 200 sent; 429
//! `M_LIMIT_EXCEEDED` retryable after exactly its `retry_after_ms` (else `Retry-After`); 5xx
//! retryable; 401 (`M_UNKNOWN_TOKEN`, `M_MISSING_TOKEN`) and 403 (`M_FORBIDDEN`: not in the
//! room, or not allowed to post) dead, and 404 (an unknown alias, or not a Matrix API) dead;
//! 400/413 (`M_BAD_JSON`, `M_TOO_LARGE`) rejected after the plain form was tried once. Must
//! not retry otherwise, sleep or touch the spool; never shows the token.

pub mod config;
pub mod render;

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;

use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::retry::FailureClass;
use crate::spool::Entry;
use config::{MatrixConfig, Room};

/// Least time between two messages (Synapse's default allows a burst of 10, then one message
/// every 5 s per account; a 429 says exactly how long to wait).
pub const PACE: Duration = Duration::from_millis(1000);

/// A Matrix error body (`{"errcode": "M_FORBIDDEN", "error": "...", "retry_after_ms": 2000}`).
#[derive(Debug, Default, Deserialize)]
pub struct MatrixError {
    /// `M_...`.
    #[serde(default)]
    pub errcode: String,
    /// The text.
    #[serde(default)]
    pub error: String,
    /// How long to wait (429).
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

/// The failure class of a homeserver's answer (see the module doc), scrubbed. `room` names the
/// room in the messages.
pub fn classify(reply: &Reply, secrets: &Secrets, room: &str) -> Result<(), SinkError> {
    let base = match reply.classify(secrets) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let m: MatrixError = serde_json::from_slice(&reply.body).unwrap_or_default();
    let reason = reqwest::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let said = if m.errcode.is_empty() {
        // Not a Matrix answer (a proxy?): the generic message quotes it.
        return Err(base);
    } else {
        let text: String = m.error.chars().take(200).collect();
        secrets.scrub(&format!(
            "HTTP {}{reason}: {} {}",
            reply.status, m.errcode, text
        ))
    };
    let said = said.trim_end().to_string();
    let e = match (reply.status, m.errcode.as_str()) {
        (429, _) | (_, "M_LIMIT_EXCEEDED") => {
            let after = m.retry_after_ms.map(Duration::from_millis).or(base.after);
            match after {
                Some(d) => SinkError::retryable(format!(
                    "{said} (the homeserver asks to retry after {:.1}s)",
                    d.as_secs_f64()
                ))
                .with_after(d),
                None => SinkError::retryable(said),
            }
        }
        (401, _) | (_, "M_UNKNOWN_TOKEN") | (_, "M_MISSING_TOKEN") => SinkError::dead(format!(
            "{said}: the access token is not valid (logged out or expired); make a new one"
        )),
        (403, _) | (_, "M_FORBIDDEN") => SinkError::dead(format!(
            "{said}: the account may not post in {room} (invite it and let it join, or give it \
             the power level to send messages)"
        )),
        (404, "M_NOT_FOUND") => SinkError::dead(format!(
            "{said}: room {room} does not exist on this homeserver"
        )),
        (404, _) => SinkError::dead(format!(
            "{said}: not a Matrix client API (check homeserver: the base URL, e.g. \
             https://matrix.example.org)"
        )),
        _ if base.class == FailureClass::Rejected => {
            SinkError::rejected(format!("{said}: the message was refused"))
        }
        _ => SinkError {
            message: said,
            ..base
        },
    };
    Err(e)
}

/// A Matrix room, ready to post to.
pub struct MatrixSink {
    name: String,
    client: reqwest::Client,
    homeserver: reqwest::Url,
    room: Room,
    /// The room id, once known (an alias is resolved at the first delivery).
    room_id: Mutex<Option<String>>,
    auth: HeaderValue,
    agent: String,
    secrets: Secrets,
}

impl MatrixSink {
    /// The sink of channel `channel` with `config` (the token resolved now), reporting as
    /// `agent`. The error never holds the token.
    pub fn build(channel: &str, config: &MatrixConfig, agent: &str) -> Result<MatrixSink, String> {
        let token = config
            .access_token
            .resolve_string()
            .map_err(|e| format!("access_token: {e}"))?
            .trim()
            .to_string();
        let mut secrets = Secrets::new();
        secrets.add(&token);
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "access_token: not a valid header value".to_string())?;
        auth.set_sensitive(true);
        let homeserver = config::validate_homeserver(&config.homeserver)
            .map_err(|e| format!("homeserver: {e}"))?;
        let room_id = match &config.room {
            Room::Id(id) => Some(id.clone()),
            Room::Alias(_) => None,
        };
        Ok(MatrixSink {
            name: format!(
                "matrix {channel} ({} {})",
                http::redact_url(homeserver.as_str()),
                config.room
            ),
            client: http::client(http::DEFAULT_TIMEOUT, None)?,
            homeserver,
            room: config.room.clone(),
            room_id: Mutex::new(room_id),
            auth,
            agent: agent.to_string(),
            secrets,
        })
    }

    /// `<homeserver>/_matrix/client/v3/<segments...>` (each segment percent-encoded).
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, SinkError> {
        let mut u = self.homeserver.clone();
        {
            let mut path = u
                .path_segments_mut()
                .map_err(|_| SinkError::permanent("homeserver cannot be a base URL"))?;
            path.pop_if_empty().extend(["_matrix", "client", "v3"]);
            path.extend(segments);
        }
        Ok(u)
    }

    /// The room id: configured, cached, or resolved from the alias now.
    async fn room_id(&self) -> Result<String, SinkError> {
        if let Some(id) = self.room_id.lock().ok().and_then(|g| g.clone()) {
            return Ok(id);
        }
        let alias = self.room.as_str();
        let url = self.url(&["directory", "room", alias])?;
        let reply = http::send(
            self.client
                .get(url)
                .header(AUTHORIZATION, self.auth.clone()),
            &self.secrets,
        )
        .await?;
        classify(&reply, &self.secrets, alias).map_err(|e| SinkError {
            message: format!("resolving {alias}: {}", e.message),
            ..e
        })?;
        #[derive(Deserialize)]
        struct Resolved {
            room_id: String,
        }
        let r: Resolved = serde_json::from_slice(&reply.body).map_err(|e| {
            SinkError::retryable(format!("resolving {alias}: the answer has no room_id: {e}"))
        })?;
        if let Ok(mut g) = self.room_id.lock() {
            *g = Some(r.room_id.clone());
        }
        Ok(r.room_id)
    }

    async fn send(&self, room_id: &str, txn: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let url = self.url(&["rooms", room_id, "send", "m.room.message", txn])?;
        let request = self
            .client
            .put(url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let reply = http::send(request, &self.secrets).await?;
        classify(&reply, &self.secrets, self.room.as_str())
    }
}

/// The transaction id of an entry's message (letters, digits, `-`): the same on every attempt.
pub fn txn_id(entry: &Entry) -> String {
    format!("nagbridge-{}", entry.id)
}

impl Sink for MatrixSink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, entry: &Entry) -> String {
        format!("m.room.message to {} (txn {})", self.room, txn_id(entry))
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
        let room_id = self.room_id().await?;
        let txn = txn_id(entry);
        crate::sinks::hook::send_or_plain(
            render::render(&entry.outcome, &self.agent, false),
            || render::render(&entry.outcome, &self.agent, true),
            |b, plain| {
                let txn = if plain {
                    format!("{txn}-plain")
                } else {
                    txn.clone()
                };
                let room_id = &room_id;
                async move { self.send(room_id, &txn, b).await }
            },
        )
        .await?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn class(status: u16, body: &str) -> SinkError {
        let mut s = Secrets::new();
        s.add("syt_c2VjcmV0_T0KEN");
        classify(&reply(status, body), &s, "#backups:example.org").unwrap_err()
    }

    #[test]
    fn matrix_answers_are_classified() {
        let s = Secrets::new();
        assert_eq!(
            classify(&reply(200, r#"{"event_id":"$x"}"#), &s, "r"),
            Ok(())
        );
        let e = class(
            429,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2500}"#,
        );
        assert_eq!(
            (e.class, e.after),
            (FailureClass::Retryable, Some(Duration::from_millis(2500)))
        );
        assert_eq!(
            e.message,
            "HTTP 429 Too Many Requests: M_LIMIT_EXCEEDED Too Many Requests (the homeserver asks to retry after 2.5s)"
        );
        let e = class(
            401,
            r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed.","soft_logout":false}"#,
        );
        assert_eq!(e.class, FailureClass::Dead);
        assert!(e.message.contains("access token is not valid"), "{e}");
        let e = class(
            403,
            r#"{"errcode":"M_FORBIDDEN","error":"User @bot:x not in room !r:x"}"#,
        );
        assert_eq!(e.class, FailureClass::Dead);
        assert!(
            e.message.contains("may not post in #backups:example.org"),
            "{e}"
        );
        let e = class(
            404,
            r#"{"errcode":"M_NOT_FOUND","error":"Room alias not found"}"#,
        );
        assert_eq!(e.class, FailureClass::Dead);
        let e = class(404, "<html>nginx</html>");
        assert_eq!(e.class, FailureClass::Dead);
        let e = class(
            413,
            r#"{"errcode":"M_TOO_LARGE","error":"event too large"}"#,
        );
        assert_eq!(e.class, FailureClass::Rejected);
        let e = class(400, r#"{"errcode":"M_BAD_JSON","error":"bad"}"#);
        assert_eq!(e.class, FailureClass::Rejected);
        let e = class(502, "");
        assert_eq!(e.class, FailureClass::Retryable);
        let e = class(
            401,
            r#"{"errcode":"M_UNKNOWN_TOKEN","error":"token syt_c2VjcmV0_T0KEN is unknown"}"#,
        );
        assert!(!e.message.contains("syt_c2VjcmV0"), "{e}");
    }
}
