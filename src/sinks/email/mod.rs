//! The email channel: each outcome as a multipart/alternative message (text + HTML) over SMTP,
//! with STARTTLS required by default, implicit TLS, or no TLS only when named dangerous; AUTH
//! PLAIN/LOGIN with a password, or XOAUTH2 with a token from [`oauth`].
//!
//! Owns: the SMTP session (one per batch: connect, TLS, login, one transaction per entry,
//! QUIT) and the classification of every failure. Must not retry, sleep or touch the spool
//! (the delivery loop does); the words of the message are [`render`]'s.
//!
//! # Failure classes
//!
//! * retryable: cannot connect, timeouts, a dropped connection, any 4xx reply, a token
//!   endpoint that is down;
//! * dead (the channel stops until a reload): the login refused (535, 530, 5.7.x such as
//!   Microsoft's `550 5.7.30` once basic authentication is disabled), a refused sender or
//!   recipient, an OAuth2 token rejected again after one refresh, a token endpoint that
//!   refuses the client;
//! * rejected (the entry is quarantined): a 5xx reply to the message itself, after the
//!   text-only form was tried once;
//! * config: no STARTTLS where it is required, an untrusted certificate, no usable AUTH
//!   mechanism (e.g. a server that offers AUTH only after STARTTLS while `security = "none"`).
//!
//! # XOAUTH2
//!
//! lettre 0.11 answers any server challenge during XOAUTH2 with a client error ("This
//! mechanism does not expect a challenge") and drops the connection, but Gmail and Microsoft
//! 365 reject a bad token exactly that way: `334 <base64 JSON {"status":"401",...}>`, then
//! they wait for an empty line before the final `535`. So this module speaks XOAUTH2 itself
//! over lettre's connection: a challenge, or a 535, means "token rejected"; the token is
//! refreshed once and the login retried on a new connection; a second rejection is dead.
//!
//! # What "delivered" means
//!
//! The server answered 250 to the end of the message. A connection lost after the message was
//! sent but before that answer is retried (at-least-once): the retry carries the same
//! `Message-ID` (from the spool entry id), so it is recognisable as the same message.

pub mod config;
pub mod oauth;
pub mod render;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailParameter};
use lettre::Message;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::{Sink, SinkError};
use crate::sinks::content::Notice;
use crate::spool::Entry;
use config::{EmailConfig, Security};
use oauth::TokenSource;

/// Outcomes sent in one SMTP session.
pub const BATCH_SIZE: usize = 10;

/// The sink of one email channel.
pub struct EmailSink {
    config: EmailConfig,
    channel: String,
    agent: String,
    /// STARTTLS (lettre's upgrade).
    tls: Option<TlsParameters>,
    /// Implicit TLS.
    implicit: Option<TlsConnector>,
    hello: ClientId,
    tokens: Option<TokenSource>,
}

impl fmt::Debug for EmailSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailSink")
            .field("channel", &self.channel)
            .field("config", &self.config)
            .finish()
    }
}

/// One SMTP command line as written (lettre's `Auth` cannot send XOAUTH2 the way servers
/// expect, see the module doc).
struct Line(String);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

/// The server's answer that is not a transport failure: a rejected token (XOAUTH2), or a
/// refused message (5xx after DATA), with the reply.
type Refusal = Result<(), String>;

/// A reply as `535 5.7.8 text` (lettre shows `permanent error (535): 5.7.8 text`).
fn reply(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    let detail = text.split_once("): ").map(|(_, d)| d.trim()).unwrap_or("");
    match e.status() {
        Some(code) if detail.is_empty() => code.to_string(),
        Some(code) => format!("{code} {detail}"),
        None => text,
    }
}

/// True for replies that say the login is refused: 530 and 535, or an enhanced code 5.7.x
/// about authentication (5.7.0 required, 5.7.3, 5.7.8, 5.7.30 basic auth disabled, 5.7.57,
/// 5.7.139 SMTP AUTH disabled), and Exchange's SendAs denial.
fn is_auth_refusal(code: Option<u16>, text: &str) -> bool {
    const AUTH_CODES: &[&str] = &[
        "5.7.0 ", "5.7.3 ", "5.7.8 ", "5.7.9 ", "5.7.11 ", "5.7.30 ", "5.7.57 ", "5.7.139 ",
    ];
    let padded = format!("{text} ");
    matches!(code, Some(530) | Some(535))
        || AUTH_CODES.iter().any(|c| padded.contains(c))
        || text.contains("SendAsDenied")
        || text.contains("Authentication required")
}

fn code_of(e: &lettre::transport::smtp::Error) -> Option<u16> {
    e.status().map(u16::from)
}

/// A login refusal, with a hint when it is Microsoft's basic-auth switch-off.
fn auth_dead(what: &str, text: &str) -> SinkError {
    let hint = if text.contains("5.7.30") || text.contains("5.7.139") {
        " (basic authentication is disabled for SMTP: Microsoft 365 turns it off by default \
         from the end of December 2026; use an oauth2 table, see the README)"
    } else {
        ""
    };
    SinkError::dead(format!("{what}: {text}{hint}"))
}

/// A failed TLS handshake: an untrusted or mismatched certificate is a config problem, the
/// rest (a reset in the middle) may go away.
fn tls_error(step: &str, text: &str) -> SinkError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("corrupt message") || lower.contains("invalidcontenttype") {
        return SinkError::permanent(format!(
            "{step}: the server does not speak TLS from the first byte: {text} (port 587 and 25 \
             want security = \"starttls\"; \"tls\" is for port 465)"
        ));
    }
    if lower.contains("certificate") || lower.contains("handshake") || lower.contains("dns name") {
        return SinkError::permanent(format!(
            "{step}: TLS failed: {text} (is the certificate valid for this server name? set \
             ca_file for a private CA)"
        ));
    }
    SinkError::retryable(format!("{step}: {text}"))
}

/// A TLS connection from the first byte (`security = "tls"`), as lettre's connection wants it.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for ImplicitTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// The roots every TLS connection trusts: the public ones (webpki-roots, the same as lettre's)
/// and those of `ca_file`.
pub(crate) fn rustls_config(ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("ca_file: {e}"))?;
            roots.add(cert).map_err(|e| format!("ca_file: {e}"))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Classify an error of a step that is not about the message (connect, TLS, EHLO).
fn transport_error(step: &str, e: &lettre::transport::smtp::Error) -> SinkError {
    let text = reply(e);
    if e.is_transient() {
        return SinkError::retryable(format!("{step}: {text}"));
    }
    if e.is_permanent() {
        if is_auth_refusal(code_of(e), &text) {
            return auth_dead(step, &text);
        }
        // A server that refuses the session (554 at the greeting) or a command we need.
        return SinkError::dead(format!("{step}: {text}"));
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("handshake") || lower.contains("dns name") {
        return SinkError::permanent(format!(
            "{step}: TLS failed: {text} (is the certificate valid for this server name? set \
             ca_file for a private CA)"
        ));
    }
    if e.is_client() {
        return SinkError::permanent(format!("{step}: {text}"));
    }
    SinkError::retryable(format!("{step}: {text}"))
}

impl EmailSink {
    /// The sink of channel `channel` (its name) reporting as `agent`.
    pub fn new(config: EmailConfig, channel: &str, agent: &str) -> Result<EmailSink, String> {
        config.validate().map_err(|p| {
            p.into_iter()
                .map(|(k, m)| format!("{k}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let ca_pem = match &config.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("ca_file: cannot read {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let (tls, implicit) = match config.security {
            Security::None => (None, None),
            Security::Starttls => {
                let mut b = TlsParameters::builder(config.host.clone());
                if let Some(pem) = &ca_pem {
                    let cert = Certificate::from_pem(pem).map_err(|e| format!("ca_file: {e}"))?;
                    b = b.add_root_certificate(cert);
                }
                let tls = b.build_rustls().map_err(|e| format!("TLS settings: {e}"))?;
                (Some(tls), None)
            }
            Security::Tls => (
                None,
                Some(TlsConnector::from(rustls_config(ca_pem.as_deref())?)),
            ),
        };
        let tokens = match &config.oauth2 {
            Some(o) => Some(TokenSource::new(
                o.clone(),
                config.ca_file.as_deref(),
                config.timeout,
            )?),
            None => None,
        };
        Ok(EmailSink {
            channel: channel.to_string(),
            agent: agent.to_string(),
            tls,
            implicit,
            hello: ClientId::default(),
            tokens,
            config,
        })
    }

    /// Its settings.
    pub fn config(&self) -> &EmailConfig {
        &self.config
    }

    /// `step` within the timeout.
    async fn timed<T>(
        &self,
        step: &str,
        f: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SinkError> {
        match tokio::time::timeout(self.config.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(transport_error(step, &e)),
            Err(_) => Err(SinkError::retryable(format!(
                "{step}: timed out after {}",
                crate::config::duration::format_duration(self.config.timeout)
            ))),
        }
    }

    /// A TCP connection to the server with Nagle's algorithm off: lettre writes the end of a
    /// message (`CRLF.CRLF`) apart from its body, and with Nagle on that small write waits for
    /// the server's delayed ACK (40 ms on Linux) for every message.
    async fn tcp(&self, step: &str) -> Result<TcpStream, SinkError> {
        let t = self.config.timeout;
        let target = (self.config.host.as_str(), self.config.port);
        let addrs = match tokio::time::timeout(t, tokio::net::lookup_host(target)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return Err(SinkError::retryable(format!("{step}: {e}"))),
            Err(_) => {
                return Err(SinkError::retryable(format!(
                    "{step}: name lookup timed out"
                )))
            }
        };
        let mut last = "the name has no address".to_string();
        for addr in addrs {
            match tokio::time::timeout(t, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("{addr}: {e}"),
                Err(_) => last = format!("{addr}: timed out"),
            }
        }
        Err(SinkError::retryable(format!("{step}: {last}")))
    }

    /// Connect and protect the connection as configured (nothing is sent before TLS unless
    /// `security = "none"`).
    async fn connect(&self) -> Result<AsyncSmtpConnection, SinkError> {
        let addr = self.config.address();
        let step = format!("connecting to {addr}");
        let tcp = self.tcp(&step).await?;
        let stream: Box<dyn AsyncTokioStream> = match (&self.config.security, &self.implicit) {
            (Security::Tls, Some(tls)) => {
                let name = ServerName::try_from(self.config.host.clone()).map_err(|_| {
                    SinkError::permanent(format!(
                        "{:?} is not a valid TLS server name",
                        self.config.host
                    ))
                })?;
                match tokio::time::timeout(self.config.timeout, tls.connect(name, tcp)).await {
                    Ok(Ok(s)) => Box::new(ImplicitTls(s)),
                    Ok(Err(e)) => {
                        return Err(tls_error(&format!("TLS with {addr}"), &e.to_string()))
                    }
                    Err(_) => {
                        return Err(SinkError::retryable(format!("TLS with {addr}: timed out")))
                    }
                }
            }
            _ => Box::new(tcp),
        };
        let mut conn = self
            .timed(
                &step,
                AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
            )
            .await?;
        if self.config.security == Security::Starttls {
            let Some(tls) = self.tls.clone() else {
                return Err(SinkError::permanent("no TLS settings for STARTTLS"));
            };
            if !conn.server_info().supports_feature(Extension::StartTls) {
                conn.abort().await;
                return Err(SinkError::permanent(format!(
                    "{addr} does not offer STARTTLS, and security = \"starttls\" never sends \
                     without it (use security = \"tls\" for port 465; something between us and \
                     the server may also strip STARTTLS)"
                )));
            }
            self.timed(
                &format!("STARTTLS with {addr}"),
                conn.starttls(tls, &self.hello),
            )
            .await?;
        }
        Ok(conn)
    }

    /// What the server offers after `AUTH` in its EHLO reply (for the error message).
    async fn offered_auth(&self, conn: &mut AsyncSmtpConnection) -> String {
        let offered = match tokio::time::timeout(
            self.config.timeout,
            conn.command(Ehlo::new(self.hello.clone())),
        )
        .await
        {
            Ok(Ok(r)) => r
                .message()
                .find_map(|l| l.strip_prefix("AUTH").map(|m| m.trim().to_string())),
            _ => None,
        };
        match offered {
            Some(m) if !m.is_empty() => format!("it offers AUTH {m}"),
            _ => "it offers no AUTH at all".to_string(),
        }
    }

    fn where_(&self) -> &'static str {
        match self.config.security {
            Security::Starttls => " after STARTTLS",
            Security::Tls => " over TLS",
            Security::None => {
                " on an unencrypted connection (most servers offer AUTH only after STARTTLS: \
                 use security = \"starttls\")"
            }
        }
    }

    /// Connect and log in as configured.
    async fn open(&self) -> Result<AsyncSmtpConnection, SinkError> {
        let mut conn = self.connect().await?;
        if let Some(password) = &self.config.password {
            let user = self.config.username.clone().unwrap_or_default();
            let info = conn.server_info();
            if info
                .get_auth_mechanism(&[Mechanism::Plain, Mechanism::Login])
                .is_none()
            {
                let offered = self.offered_auth(&mut conn).await;
                conn.abort().await;
                return Err(SinkError::permanent(format!(
                    "{} offers neither AUTH PLAIN nor AUTH LOGIN{} ({offered}); a password \
                     cannot be used there",
                    self.config.address(),
                    self.where_()
                )));
            }
            let password = password
                .resolve_string()
                .map_err(|e| SinkError::permanent(format!("password: {e}")))?;
            let creds = Credentials::new(user.clone(), password);
            match tokio::time::timeout(
                self.config.timeout,
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
            )
            .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.is_permanent() => {
                    conn.abort().await;
                    return Err(auth_dead(
                        &format!("{} refused the login of {user:?}", self.config.address()),
                        &reply(&e),
                    ));
                }
                Ok(Err(e)) => return Err(transport_error(&format!("logging in as {user:?}"), &e)),
                Err(_) => {
                    return Err(SinkError::retryable(format!(
                        "logging in as {user:?}: timed out"
                    )))
                }
            }
        } else if let Some(tokens) = &self.tokens {
            let user = self.config.oauth2_user();
            if !conn
                .server_info()
                .supports_auth_mechanism(Mechanism::Xoauth2)
            {
                let offered = self.offered_auth(&mut conn).await;
                conn.abort().await;
                return Err(SinkError::permanent(format!(
                    "{} does not offer AUTH XOAUTH2{} ({offered}); an oauth2 token cannot be \
                     used there",
                    self.config.address(),
                    self.where_()
                )));
            }
            let token = tokens.token().await?;
            if let Err(first) = self.xoauth2(&mut conn, &user, &token.secret).await? {
                conn.abort().await;
                tracing::info!(
                    channel = %self.channel,
                    "the SMTP server rejected the OAuth2 token ({first}); fetching a new one"
                );
                let token = tokens.refresh().await?;
                conn = self.connect().await?;
                if let Err(again) = self.xoauth2(&mut conn, &user, &token.secret).await? {
                    conn.abort().await;
                    return Err(auth_dead(
                        &format!(
                            "{} rejected a freshly fetched OAuth2 token for {user:?} (from {})",
                            self.config.address(),
                            tokens.endpoint()
                        ),
                        &again,
                    ));
                }
            }
        }
        Ok(conn)
    }

    /// AUTH XOAUTH2 with `token`, answering a challenge the way Gmail and Exchange expect.
    async fn xoauth2(
        &self,
        conn: &mut AsyncSmtpConnection,
        user: &str,
        token: &str,
    ) -> Result<Refusal, SinkError> {
        let ir = base64::engine::general_purpose::STANDARD
            .encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"));
        let step = format!("AUTH XOAUTH2 as {user:?}");
        let first = tokio::time::timeout(
            self.config.timeout,
            conn.command(Line(format!("AUTH XOAUTH2 {ir}"))),
        )
        .await
        .map_err(|_| SinkError::retryable(format!("{step}: timed out")))?;
        match first {
            Ok(r) if r.has_code(235) => Ok(Ok(())),
            Ok(r) if r.has_code(334) => {
                // The error details, base64 JSON: {"status":"401","schemes":"Bearer",...}.
                let detail = r
                    .first_line()
                    .and_then(|l| {
                        base64::engine::general_purpose::STANDARD
                            .decode(l.trim())
                            .ok()
                    })
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                // An empty line ends the exchange; the server then says 535.
                let last =
                    tokio::time::timeout(self.config.timeout, conn.command(Line(String::new())))
                        .await
                        .ok()
                        .map(|r| match r {
                            Ok(r) => format!("{}", r.code()),
                            Err(e) => reply(&e),
                        })
                        .unwrap_or_default();
                Ok(Err(format!("334 {detail} then {last}").trim().to_string()))
            }
            Ok(r) => Err(SinkError::retryable(format!(
                "{step}: unexpected reply {}",
                r.code()
            ))),
            Err(e) if e.is_permanent() && is_auth_refusal(code_of(&e), &reply(&e)) => {
                Ok(Err(reply(&e)))
            }
            Err(e) => Err(transport_error(&step, &e)),
        }
    }

    /// One MAIL/RCPT/DATA transaction: `Ok(Err(reply))` when the server refused the message
    /// itself (5xx after DATA).
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        message: &Message,
    ) -> Result<Refusal, SinkError> {
        let envelope = message.envelope();
        let bytes = message.formatted();
        let addr = self.config.address();
        let mut options = Vec::new();
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(SinkError::permanent(format!(
                    "an address is not ASCII and {addr} does not offer SMTPUTF8"
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        let t = self.config.timeout;
        let logged_in = self.config.password.is_some() || self.tokens.is_some();
        let timeout = |step: &str| {
            SinkError::retryable(format!(
                "{step}: timed out after {}",
                crate::config::duration::format_duration(t)
            ))
        };
        let from = envelope.from().cloned();
        let sender = from.as_ref().map(|a| a.to_string()).unwrap_or_default();
        match tokio::time::timeout(t, conn.command(Mail::new(from, options))).await {
            Err(_) => return Err(timeout("MAIL FROM")),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let what = format!("{addr} refused the sender <{sender}>");
                return Err(refused(&what, &e, logged_in));
            }
        }
        for to in envelope.to() {
            match tokio::time::timeout(t, conn.command(Rcpt::new(to.clone(), vec![]))).await {
                Err(_) => return Err(timeout("RCPT TO")),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    let what = format!("{addr} refused the recipient <{to}>");
                    return Err(refused(&what, &e, logged_in));
                }
            }
        }
        match tokio::time::timeout(t, conn.command(Data)).await {
            Err(_) => return Err(timeout("DATA")),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(refused(&format!("{addr} refused DATA"), &e, logged_in)),
        }
        match tokio::time::timeout(t, conn.message(&bytes)).await {
            Err(_) => Err(timeout("sending the message")),
            Ok(Ok(_)) => Ok(Ok(())),
            Ok(Err(e)) if e.is_permanent() => {
                let text = reply(&e);
                if is_auth_refusal(code_of(&e), &text) {
                    Err(auth_dead(&format!("{addr} refused the message"), &text))
                } else {
                    Ok(Err(text))
                }
            }
            Ok(Err(e)) => Err(transport_error("sending the message", &e)),
        }
    }

    /// Send one entry on `conn`: the full message, else (refused) its text-only form once.
    async fn send_one(
        &self,
        conn: &mut AsyncSmtpConnection,
        entry: &Entry,
    ) -> Result<(), SinkError> {
        let o = &entry.outcome;
        let notice = Notice::from_outcome(o, &self.agent);
        let ids = render::ids(entry.id.as_str(), &self.channel, &notice.key, &self.agent);
        let env = render::Envelope {
            from: &self.config.from,
            to: &self.config.to,
            cc: &self.config.cc,
            subject: &self.config.subject,
            channel: &self.channel,
        };
        let build = |text_only| {
            render::message(&env, &notice, o, &ids, entry.spooled_at, text_only)
                .map_err(|e| SinkError::permanent(format!("cannot build the message: {e}")))
        };
        let full = match self.transaction(conn, &build(false)?).await? {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        tracing::warn!(
            channel = %self.channel,
            job = %o.job,
            "the SMTP server refused the message ({full}); sending it once more as plain text"
        );
        // The refused transaction is over; RSET makes sure the next one starts clean.
        let _ = tokio::time::timeout(self.config.timeout, conn.command(Rset)).await;
        match self.transaction(conn, &build(true)?).await? {
            Ok(()) => Ok(()),
            Err(why) => Err(SinkError::rejected(format!(
                "{} refused the message ({full}) and its plain-text form ({why})",
                self.config.address()
            ))),
        }
    }
}

/// A refused MAIL, RCPT or DATA: 4xx retryable, a login refusal dead, other 5xx dead (every
/// message would be refused the same way).
fn refused(what: &str, e: &lettre::transport::smtp::Error, logged_in: bool) -> SinkError {
    let text = reply(e);
    if e.is_transient() {
        SinkError::retryable(format!("{what}: {text}"))
    } else if e.is_permanent() {
        if is_auth_refusal(code_of(e), &text) {
            let hint = if logged_in {
                ""
            } else {
                " (the server wants a login: set username and password, or oauth2)"
            };
            auth_dead(what, &format!("{text}{hint}"))
        } else {
            SinkError::dead(format!("{what}: {text}"))
        }
    } else {
        transport_error(what, e)
    }
}

impl Sink for EmailSink {
    fn name(&self) -> String {
        format!("email {}", self.config.address())
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, entry: &Entry) -> String {
        let to: Vec<String> = self.config.to.iter().map(|m| m.email.to_string()).collect();
        format!("job {:?} to {}", entry.outcome.job, to.join(", "))
    }

    fn batch_size(&self) -> usize {
        BATCH_SIZE
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut conn = self.open().await?;
        let mut done = 0;
        for entry in entries {
            if let Err(e) = self.send_one(&mut conn, entry).await {
                conn.abort().await;
                // What was sent stays sent; the rest is offered again (and fails alone).
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            done += 1;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_login_refusals_are_recognised() {
        for (code, text) in [
            (Some(535), "535 5.7.8 Authentication credentials invalid"),
            (
                Some(550),
                "550 5.7.30 Basic authentication is not supported for Client Submission.",
            ),
            (
                Some(535),
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
            ),
            (Some(530), "530 5.7.0 Authentication required"),
            (
                Some(554),
                "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied",
            ),
        ] {
            assert!(is_auth_refusal(code, text), "{text}");
        }
        for (code, text) in [
            (Some(550), "550 5.7.1 Message rejected as spam"),
            (Some(554), "554 5.6.0 Message content refused"),
            (Some(552), "552 5.3.4 Message too big"),
        ] {
            assert!(!is_auth_refusal(code, text), "{text}");
        }
        let e = auth_dead(
            "x refused the login",
            "550 5.7.30 Basic authentication is not supported",
        );
        assert_eq!(e.class, crate::retry::FailureClass::Dead);
        assert!(e.message.contains("December 2026"), "{e}");
        assert_eq!(
            tls_error("s", "invalid peer certificate: UnknownIssuer").class,
            crate::retry::FailureClass::Config
        );
        assert!(tls_error("s", "connection reset by peer").is_retryable());
    }
}
