//! The `xmpp` channel: each outcome as a chat message to every `to` JID and a groupchat message
//! to every room in `rooms`, over one client session per outcome (SPEC section 6).
//!
//! Owns: the delivery of one outcome: a [`session::Session`] (STARTTLS required, login, the
//! rooms joined before anything is sent), the messages (body from [`render`]), the server's
//! receipt (a ping answered after the messages, and the rooms' echoes), and the whole of it
//! bounded by `timeout`: tokio-xmpp's own client would retry a refused login or an untrusted
//! certificate silently forever, so a session that does not finish in time is reported as
//! "could not log in within N s" (or "could not send"), retryable. Failure classes are the
//! session's; a message the server bounces (an unknown recipient, a room that refuses it) is
//! dead when the error is final, retryable when it says `wait`: the other recipients got the
//! message, so a retry may repeat it to them. Must not retry otherwise, sleep or touch the
//! spool; never shows the password.

pub mod config;
pub mod render;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::ClientConfig;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::MessageType;

use super::{Sink, SinkError};
use crate::spool::Entry;
use config::XmppConfig;
use session::{stanza_failure, Login, Progress, Session, Step};

/// The TLS settings of a channel: the public roots and those of `ca_file` (ring).
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, String> {
    let pem = match ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| format!("ca_file: cannot read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    crate::sinks::email::rustls_config(pem.as_deref())
}

/// An XMPP destination, ready to send.
pub struct XmppSink {
    name: String,
    config: XmppConfig,
    login: Login,
    agent: String,
}

impl XmppSink {
    /// The sink of channel `channel` with `config` (the password resolved now), reporting as
    /// `agent`. The error never holds the password.
    pub fn build(channel: &str, config: &XmppConfig, agent: &str) -> Result<XmppSink, String> {
        let password = config
            .password
            .resolve_string()
            .map_err(|e| format!("password: {e}"))?;
        let login = Login {
            jid: config.jid.clone(),
            password,
            host: config.host.clone(),
            port: config.port,
            tls: tls_config(config.ca_file.as_deref())?,
        };
        Ok(XmppSink {
            name: format!("xmpp {channel} ({} via {})", config.jid, config.address()),
            config: config.clone(),
            login,
            agent: agent.to_string(),
        })
    }

    /// Log in, join, send `body` everywhere, wait for the receipt.
    async fn session(&self, body: &str, progress: &Progress) -> Result<(), SinkError> {
        let mut s = Session::open(&self.login, progress).await?;
        s.join(&self.config.rooms).await?;
        progress.set(Step::Sending);
        for to in &self.config.to {
            s.message(MessageType::Chat, to.clone(), body).await?;
        }
        let mut echoes = Vec::with_capacity(self.config.rooms.len());
        for r in &self.config.rooms {
            let id = s
                .message(MessageType::Groupchat, Jid::from(r.room.clone()), body)
                .await?;
            echoes.push(id);
        }
        let bounces = s.receipt(echoes).await?;
        // Closing is a courtesy: everything was taken already.
        let _ = tokio::time::timeout(Duration::from_secs(2), s.close()).await;
        match bounces.first() {
            None => Ok(()),
            Some(b) => {
                let mut e = stanza_failure("delivering the message", &b.from, &b.error);
                if bounces.len() > 1 {
                    e.message
                        .push_str(&format!(" (and {} more refusals)", bounces.len() - 1));
                }
                Err(e)
            }
        }
    }
}

impl Sink for XmppSink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, _entry: &Entry) -> String {
        let mut parts = Vec::new();
        if !self.config.to.is_empty() {
            let to: Vec<String> = self.config.to.iter().map(|j| j.to_string()).collect();
            parts.push(format!("chat to {}", to.join(", ")));
        }
        if !self.config.rooms.is_empty() {
            let rooms: Vec<String> = self
                .config
                .rooms
                .iter()
                .map(|r| r.room.to_string())
                .collect();
            parts.push(format!("groupchat to {}", rooms.join(", ")));
        }
        parts.join("; ")
    }

    fn batch_size(&self) -> usize {
        1
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let Some(entry) = entries.first() else {
            return Ok(0);
        };
        let body = render::body(&entry.outcome, &self.agent, false);
        let progress = Progress::default();
        let limit = self.config.timeout;
        match tokio::time::timeout(limit, self.session(&body, &progress)).await {
            Ok(Ok(())) => Ok(1),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let step = progress.get();
                let secs = crate::sinks::content::human_duration(limit.as_secs_f64());
                let what = if step.logged_in() {
                    format!(
                        "logged in as {} but could not send within {secs}",
                        self.config.jid
                    )
                } else {
                    format!("could not log in within {secs}")
                };
                Err(SinkError::retryable(format!(
                    "{what} (stuck {} at {}; a wrong server or port, a firewall, or a \
                     server that never answers)",
                    step.words(),
                    self.config.address()
                )))
            }
        }
    }
}
