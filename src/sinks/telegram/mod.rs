//! The `telegram` channel: each outcome as one Bot API `sendMessage` to one chat, in HTML
//! parse mode (SPEC section 6).
//!
//! Owns: the request (`POST <api_url>/bot<token>/sendMessage`, JSON: `chat_id`, the text of
//! [`render::html`], `parse_mode: HTML`, link previews off, and silent notifications for
//! successes) and what an answer means ([`classify`], from Telegram's
//! `{"ok": false, "error_code", "description", "parameters"}`):
//!
//! * 429: retried after exactly `parameters.retry_after` seconds;
//! * dead (the channel stops): 401 (the token is wrong or revoked), 403 (the bot was blocked,
//!   kicked, or is not in the chat), 404, 400 `chat not found`, and 400 with
//!   `parameters.migrate_to_chat_id` (the group became a supergroup: the message names the new
//!   id to configure);
//! * any other 400 (notably `can't parse entities`): sent once more as plain text without
//!   `parse_mode`, then rejected.
//!
//! Pace: one message a second to a private chat, one every three seconds to a group or channel
//! (Telegram allows about 20 a minute in a group). Must not retry otherwise, sleep or touch
//! the spool; the token (in the URL's path) never shows: names and messages say
//! `chat <id>`, and every answer is scrubbed.

pub mod config;
pub mod render;

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::{json, Value};

use super::content::Notice;
use super::http::{self, Reply, Secrets};
use super::{Sink, SinkError};
use crate::outcome::Status;
use crate::spool::Entry;
use config::{ChatId, TelegramConfig};

/// Least time between two messages to a private chat.
pub const PACE: Duration = Duration::from_secs(1);
/// Least time between two messages to a group or channel (at most 20 a minute).
pub const GROUP_PACE: Duration = Duration::from_secs(3);

/// A Telegram chat, ready to send.
pub struct TelegramSink {
    name: String,
    client: reqwest::Client,
    url: reqwest::Url,
    chat_id: ChatId,
    agent: String,
    secrets: Secrets,
}

/// What Telegram says went wrong.
fn description(v: &Value) -> String {
    v["description"]
        .as_str()
        .map(|d| d.chars().take(200).collect())
        .unwrap_or_default()
}

/// The failure class of a Bot API answer (see the module doc). `Ok(())` for `"ok": true`.
pub fn classify(reply: &Reply, secrets: &Secrets) -> Result<(), SinkError> {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if (200..300).contains(&reply.status) && v["ok"] != json!(false) {
        return Ok(());
    }
    let what = match description(&v) {
        d if d.is_empty() => format!("HTTP {}", reply.status),
        d => format!("HTTP {}: {d}", reply.status),
    };
    let lower = what.to_ascii_lowercase();
    let scrub = |e: SinkError| secrets.scrub_error(e);
    let params = &v["parameters"];
    if let Some(to) = params["migrate_to_chat_id"].as_i64() {
        return Err(scrub(SinkError::dead(format!(
            "{what}: the group became a supergroup; set chat_id = {to}"
        ))));
    }
    match reply.status {
        429 => match params["retry_after"].as_f64() {
            Some(s) if s >= 0.0 && s.is_finite() => Err(scrub(
                SinkError::retryable(format!("{what} (Telegram asks to retry after {s}s)"))
                    .with_after(Duration::from_secs_f64(s.min(86_400.0))),
            )),
            _ => reply.classify(secrets),
        },
        401 => Err(scrub(SinkError::dead(format!(
            "{what}: Telegram refuses the bot token (revoked or wrong; get it again from \
             @BotFather)"
        )))),
        403 => Err(scrub(SinkError::dead(format!(
            "{what}: the bot may not write to this chat (blocked, removed, or not a member; \
             add it again or unblock it)"
        )))),
        404 => Err(scrub(SinkError::dead(format!(
            "{what}: no such bot or method (check token and api_url)"
        )))),
        400 if lower.contains("chat not found") => Err(scrub(SinkError::dead(format!(
            "{what}: no such chat for this bot (check chat_id; the bot must be a member of the \
             group or channel, or the user must have started a chat with it)"
        )))),
        400 => Err(scrub(SinkError::rejected(format!(
            "{what}: the message was refused"
        )))),
        _ => reply.classify(secrets),
    }
}

impl TelegramSink {
    /// The sink of channel `channel` with `config` (the token resolved now), reporting as
    /// `agent`. The error never holds the token.
    pub fn build(
        channel: &str,
        config: &TelegramConfig,
        agent: &str,
    ) -> Result<TelegramSink, String> {
        let token = config
            .token
            .resolve_string()
            .map_err(|e| format!("token: {e}"))?;
        let token = token.trim().to_string();
        config::validate_token(&token).map_err(|e| format!("token: {e}"))?;
        let api = config::validate_api_url(&config.api_url).map_err(|e| format!("api_url: {e}"))?;
        let mut secrets = Secrets::new();
        secrets.add(&token);
        if let Some((_, secret)) = token.split_once(':') {
            secrets.add(secret);
        }
        let url = reqwest::Url::parse(&format!("{api}/bot{token}/sendMessage"))
            .map_err(|_| "api_url: cannot form the sendMessage URL".to_string())?;
        Ok(TelegramSink {
            name: format!("telegram {channel} (chat {})", config.chat_id),
            client: http::client(http::DEFAULT_TIMEOUT, None)?,
            url,
            chat_id: config.chat_id.clone(),
            agent: agent.to_string(),
            secrets,
        })
    }

    /// The `sendMessage` body: `text` in HTML parse mode, or plain (no `parse_mode`).
    pub fn body(&self, notice: &Notice, html: bool) -> Vec<u8> {
        let mut v = json!({
            "chat_id": self.chat_id.json(),
            "text": if html { render::html(notice) } else { render::plain(notice) },
            "link_preview_options": {"is_disabled": true},
            "disable_notification": notice.status == Status::Success,
        });
        if html {
            v["parse_mode"] = json!("HTML");
        }
        serde_json::to_vec(&v).unwrap_or_default()
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), SinkError> {
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let reply = http::send(request, &self.secrets).await?;
        classify(&reply, &self.secrets)
    }
}

impl Sink for TelegramSink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, _entry: &Entry) -> String {
        format!("sendMessage to chat {}", self.chat_id)
    }

    fn batch_size(&self) -> usize {
        1
    }

    fn pace(&self) -> Duration {
        if self.chat_id.is_group() {
            GROUP_PACE
        } else {
            PACE
        }
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let Some(entry) = entries.first() else {
            return Ok(0);
        };
        let notice = Notice::from_outcome(&entry.outcome, &self.agent);
        crate::sinks::hook::send_or_plain(
            self.body(&notice, true),
            || self.body(&notice, false),
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
    fn telegram_answers_are_classified() {
        let s = Secrets::new();
        assert_eq!(
            classify(&reply(200, r#"{"ok":true,"result":{"message_id":1}}"#), &s),
            Ok(())
        );
        let e = classify(
            &reply(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(
            (e.class, e.after),
            (FailureClass::Retryable, Some(Duration::from_secs(35)))
        );
        for (status, body) in [
            (
                401,
                r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
            ),
            (
                403,
                r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
            ),
            (
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
            ),
            (
                404,
                r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
            ),
        ] {
            let e = classify(&reply(status, body), &s).unwrap_err();
            assert_eq!(e.class, FailureClass::Dead, "{body}");
        }
        let e = classify(
            &reply(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Dead);
        assert!(
            e.message.ends_with("set chat_id = -1001234567890"),
            "{}",
            e.message
        );
        let e = classify(
            &reply(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 3"}"#,
            ),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.class, FailureClass::Rejected);
        assert_eq!(
            classify(&reply(502, "<html>bad gateway</html>"), &s)
                .unwrap_err()
                .class,
            FailureClass::Retryable
        );
    }
}
