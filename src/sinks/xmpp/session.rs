//! One XMPP client session, built from tokio-xmpp's stream pieces (not its auto-reconnecting
//! `Client`, which retries a refused login or a bad certificate silently forever): connect,
//! STARTTLS (required; our rustls roots: the public ones and `ca_file`, checked against the
//! JID's domain), SASL (SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN, never ANONYMOUS), resource
//! binding, joining MUC rooms, sending stanzas, a ping as the server's receipt, and closing.
//!
//! Owns: every step's failure class: a refused login (`not-authorized`, `account-disabled`,
//! ...) and a refused room (banned, members-only, wrong password, unknown service) are dead;
//! no STARTTLS, an untrusted certificate or no usable mechanism are config problems; a dropped
//! connection, a timeout or a `wait` error are retryable. Must not retry, sleep or log; the
//! caller bounds the whole session with its timeout.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use sasl::common::{ChannelBinding, Credentials};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::bind::{BindQuery, BindResponse};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Lang, Message, MessageType};
use tokio_xmpp::parsers::muc::muc::{History, Muc};
use tokio_xmpp::parsers::muc::user::{MucUser, Status as MucStatus};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::stanza_error::{ErrorType, StanzaError};
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::xmlstream::{
    initiate_stream, FallibleStreamElement, ReadError, StreamHeader, Timeouts, XmppStream,
    XmppStreamElement,
};
use tokio_xmpp::{client_login, Stanza};

use super::config::RoomJid;
use crate::sinks::SinkError;

/// Where a session got to (for the timeout's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Step {
    /// Opening the TCP connection.
    Connecting = 0,
    /// STARTTLS and the TLS handshake.
    Tls = 1,
    /// SASL.
    Login = 2,
    /// Binding a resource.
    Binding = 3,
    /// Logged in: joining rooms.
    Joining = 4,
    /// Sending and waiting for the server's receipt.
    Sending = 5,
}

impl Step {
    fn from_u8(v: u8) -> Step {
        match v {
            0 => Step::Connecting,
            1 => Step::Tls,
            2 => Step::Login,
            3 => Step::Binding,
            4 => Step::Joining,
            _ => Step::Sending,
        }
    }

    /// What was going on, in words.
    pub fn words(self) -> &'static str {
        match self {
            Step::Connecting => "connecting",
            Step::Tls => "starting TLS",
            Step::Login => "logging in",
            Step::Binding => "binding a resource",
            Step::Joining => "joining the rooms",
            Step::Sending => "sending",
        }
    }

    /// True once the account is logged in.
    pub fn logged_in(self) -> bool {
        self >= Step::Joining
    }
}

/// The progress of a session, readable after its future was dropped by a timeout.
#[derive(Debug, Default)]
pub struct Progress(AtomicU8);

impl Progress {
    pub(crate) fn set(&self, s: Step) {
        self.0.store(s as u8, Ordering::SeqCst);
    }

    /// The step reached.
    pub fn get(&self) -> Step {
        Step::from_u8(self.0.load(Ordering::SeqCst))
    }
}

/// How to log in.
#[derive(Clone)]
pub struct Login {
    /// The account.
    pub jid: BareJid,
    /// Its password.
    pub password: String,
    /// Where to connect.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The TLS settings (roots).
    pub tls: Arc<ClientConfig>,
}

type Io = BufStream<TlsStream<TcpStream>>;

/// How long echoes of groupchat messages are awaited after the server's receipt.
pub const REFLECTION_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A logged-in session.
pub struct Session {
    stream: XmppStream<Io>,
    /// The JID the server bound.
    pub bound: FullJid,
    domain: String,
    next_id: u64,
}

/// What the server bounced after a send.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounce {
    /// Who refused (a recipient or a room).
    pub from: String,
    /// The error.
    pub error: StanzaError,
}

/// `service-unavailable (text)`.
pub fn describe_error(e: &StanzaError) -> String {
    let condition = condition_name(e);
    match e.texts.values().next() {
        Some(t) if !t.is_empty() => {
            format!("{condition} ({})", t.chars().take(200).collect::<String>())
        }
        _ => condition,
    }
}

/// The defined condition's XML name (`item-not-found`).
fn condition_name(e: &StanzaError) -> String {
    let debug = format!("{:?}", e.defined_condition);
    let name = debug.split([' ', '(', '{']).next().unwrap_or_default();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The failure class of a stanza error from `from` while doing `what`: `wait` is retryable, the
/// others (auth, cancel, modify) dead.
pub fn stanza_failure(what: &str, from: &str, e: &StanzaError) -> SinkError {
    let text = format!("{what}: {from} answered {}", describe_error(e));
    match e.type_ {
        ErrorType::Wait => SinkError::retryable(text),
        _ => SinkError::dead(text),
    }
}

fn io_failure(step: &str, e: &io::Error) -> SinkError {
    SinkError::retryable(format!("{step}: {e}"))
}

fn tls_failure(e: &io::Error) -> SinkError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("handshake")
    {
        SinkError::permanent(format!(
            "TLS failed: {text} (is the server's certificate valid for the JID's domain? set \
             ca_file for a private CA)"
        ))
    } else {
        SinkError::retryable(format!("TLS failed: {text}"))
    }
}

fn read_failure(step: &str, e: ReadError) -> SinkError {
    match e {
        ReadError::HardError(e) => io_failure(step, &e),
        ReadError::ParseError(e) => SinkError::retryable(format!("{step}: unreadable XML: {e}")),
        ReadError::StreamFooterReceived => {
            SinkError::retryable(format!("{step}: the server closed the stream"))
        }
        ReadError::SoftTimeout => SinkError::retryable(format!("{step}: no answer")),
    }
}

/// A stream error: the server ends the session.
fn stream_failure(step: &str, e: &dyn std::fmt::Display) -> SinkError {
    let text = e.to_string();
    let dead = [
        "host-unknown",
        "host-gone",
        "not-authorized",
        "improper-addressing",
    ];
    let message = format!("{step}: the server ended the stream: {text}");
    if dead.iter().any(|d| text.contains(d)) {
        SinkError::dead(message)
    } else {
        SinkError::retryable(message)
    }
}

fn login_failure(jid: &BareJid, e: tokio_xmpp::Error) -> SinkError {
    use tokio_xmpp::error::AuthError;
    use tokio_xmpp::parsers::sasl::DefinedCondition as C;
    match e {
        tokio_xmpp::Error::Auth(AuthError::Fail(C::TemporaryAuthFailure)) => {
            SinkError::retryable(format!("logging in as {jid}: temporary-auth-failure"))
        }
        tokio_xmpp::Error::Auth(AuthError::Fail(c)) => SinkError::dead(format!(
            "the server refused the login of {jid}: {} (check jid and password)",
            format!("{c:?}")
                .chars()
                .flat_map(|ch| {
                    if ch.is_ascii_uppercase() {
                        vec!['-', ch.to_ascii_lowercase()]
                    } else {
                        vec![ch]
                    }
                })
                .collect::<String>()
                .trim_start_matches('-')
        )),
        tokio_xmpp::Error::Auth(AuthError::NoMechanism) => SinkError::permanent(format!(
            "logging in as {jid}: the server offers no mechanism nagbridge uses (SCRAM-SHA-256, \
             SCRAM-SHA-1, PLAIN)"
        )),
        tokio_xmpp::Error::Auth(e) => SinkError::dead(format!("logging in as {jid}: {e}")),
        tokio_xmpp::Error::Io(e) => io_failure("logging in", &e),
        tokio_xmpp::Error::StreamError(e) => stream_failure("logging in", &e),
        tokio_xmpp::Error::Disconnected => {
            SinkError::retryable("logging in: the server closed the connection")
        }
        other => SinkError::retryable(format!("logging in as {jid}: {other}")),
    }
}

fn header(domain: &str) -> StreamHeader<'static> {
    StreamHeader {
        to: Some(Cow::Owned(domain.to_string())),
        from: None,
        id: None,
    }
}

fn timeouts() -> Timeouts {
    // The caller's timeout bounds the session; these only turn silence into soft timeouts.
    Timeouts::tight()
}

/// The next stream element, soft timeouts and unparsable stanzas skipped.
async fn next_element<S>(
    stream: &mut XmppStream<S>,
    step: &str,
) -> Result<XmppStreamElement, SinkError>
where
    S: tokio::io::AsyncBufRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
                return Err(stream_failure(step, &e))
            }
            Some(Ok(FallibleStreamElement::Ok(el))) => return Ok(el),
            // A stanza we cannot parse is not ours to answer: skip it.
            Some(Ok(FallibleStreamElement::Err(_))) => continue,
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(e)) => return Err(read_failure(step, e)),
            None => {
                return Err(SinkError::retryable(format!(
                    "{step}: the connection closed"
                )))
            }
        }
    }
}

impl Session {
    /// Connect, STARTTLS, log in and bind a resource, recording the step in `progress`.
    pub async fn open(login: &Login, progress: &Progress) -> Result<Session, SinkError> {
        let domain = login.jid.domain().to_string();
        let address = if login.host.contains(':') {
            format!("[{}]:{}", login.host, login.port)
        } else {
            format!("{}:{}", login.host, login.port)
        };
        progress.set(Step::Connecting);
        let tcp = TcpStream::connect((login.host.as_str(), login.port))
            .await
            .map_err(|e| io_failure(&format!("cannot connect to {address}"), &e))?;
        let _ = tcp.set_nodelay(true);
        progress.set(Step::Tls);
        let pending = initiate_stream(
            BufStream::new(tcp),
            ns::JABBER_CLIENT,
            header(&domain),
            timeouts(),
        )
        .await
        .map_err(|e| io_failure("opening the stream", &e))?;
        let (features, mut stream) = pending.recv_features().await.map_err(|e| match e {
            tokio_xmpp::xmlstream::RecvFeaturesError::Io(e) => io_failure("opening the stream", &e),
            tokio_xmpp::xmlstream::RecvFeaturesError::StreamError(e) => {
                stream_failure("opening the stream", &e)
            }
        })?;
        if !features.can_starttls() {
            return Err(SinkError::permanent(format!(
                "{address} offers no STARTTLS: nagbridge never logs in without TLS (enable TLS \
                 for client connections on the server)"
            )));
        }
        stream
            .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
                starttls::Request,
            )))
            .await
            .map_err(|e| io_failure("STARTTLS", &e))?;
        loop {
            match next_element(&mut stream, "STARTTLS").await? {
                XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)) => break,
                XmppStreamElement::Starttls(_) => {
                    return Err(SinkError::permanent(format!(
                        "{address} refused STARTTLS (check its TLS certificate and key)"
                    )))
                }
                _ => continue,
            }
        }
        let tcp = stream.into_inner().into_inner();
        let name = ServerName::try_from(domain.clone()).map_err(|e| {
            SinkError::permanent(format!(
                "{domain:?} cannot be checked against a certificate: {e}"
            ))
        })?;
        let tls = TlsConnector::from(login.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| tls_failure(&e))?;
        let pending = initiate_stream(
            BufStream::new(tls),
            ns::JABBER_CLIENT,
            header(&domain),
            timeouts(),
        )
        .await
        .map_err(|e| io_failure("opening the stream over TLS", &e))?;
        let (features, stream) = pending
            .recv_features()
            .await
            .map_err(|e| login_failure(&login.jid, e.into()))?;
        progress.set(Step::Login);
        let mechanisms: BTreeSet<String> = features
            .sasl_mechanisms
            .iter()
            .filter(|m| m.as_str() != "ANONYMOUS")
            .cloned()
            .collect();
        let node = login.jid.node().map(|n| n.to_string()).unwrap_or_default();
        let credentials = Credentials::default()
            .with_username(node)
            .with_password(login.password.clone())
            .with_channel_binding(ChannelBinding::None);
        let authed = client_login(stream, mechanisms, credentials)
            .await
            .map_err(|e| login_failure(&login.jid, e))?;
        progress.set(Step::Binding);
        let pending = authed
            .send_header(header(&domain))
            .await
            .map_err(|e| io_failure("restarting the stream", &e))?;
        let (features, stream) = pending
            .recv_features()
            .await
            .map_err(|e| login_failure(&login.jid, e.into()))?;
        if !features.can_bind() {
            return Err(SinkError::retryable(
                "the server offers no resource binding",
            ));
        }
        let mut session = Session {
            stream,
            bound: login
                .jid
                .with_resource_str("nagbridge")
                .map_err(|e| SinkError::permanent(format!("{e}")))?,
            domain,
            next_id: 0,
        };
        let id = session.id("bind");
        session
            .send(&Iq::from_set(id.clone(), BindQuery::new(None)).into())
            .await?;
        loop {
            if let Stanza::Iq(iq) = session.next_stanza("binding a resource").await? {
                if iq.id() != id {
                    continue;
                }
                match iq {
                    Iq::Result {
                        payload: Some(p), ..
                    } => {
                        let bound = BindResponse::try_from(p).map_err(|e| {
                            SinkError::retryable(format!("binding a resource: {e}"))
                        })?;
                        session.bound = bound.jid;
                        break;
                    }
                    Iq::Error { error, .. } => {
                        return Err(stanza_failure("binding a resource", "the server", &error))
                    }
                    _ => return Err(SinkError::retryable("binding a resource: an empty answer")),
                }
            }
        }
        progress.set(Step::Joining);
        Ok(session)
    }

    fn id(&mut self, what: &str) -> String {
        self.next_id += 1;
        format!("nagbridge-{what}-{}", self.next_id)
    }

    /// Send one stanza.
    pub async fn send(&mut self, stanza: &Stanza) -> Result<(), SinkError> {
        self.stream
            .send(stanza)
            .await
            .map_err(|e| io_failure("sending", &e))
    }

    /// The next stanza (stream-level elements other than errors are skipped).
    pub async fn next_stanza(&mut self, step: &str) -> Result<Stanza, SinkError> {
        loop {
            if let XmppStreamElement::Stanza(s) = next_element(&mut self.stream, step).await? {
                return Ok(s);
            }
        }
    }

    /// Announce availability (so that chat messages to the bare JID reach this session: the
    /// test's receiving client uses it).
    pub async fn available(&mut self) -> Result<(), SinkError> {
        self.send(&Presence::available().into()).await
    }

    /// Join `rooms` (no history), each with its nickname; a conflicting nickname is retried
    /// once with a suffix. Returns the occupant JID used in each room.
    pub async fn join(&mut self, rooms: &[RoomJid]) -> Result<Vec<FullJid>, SinkError> {
        let mut joined = Vec::with_capacity(rooms.len());
        for r in rooms {
            let mut occupant = r.occupant.clone();
            let mut tries = 0;
            loop {
                match self.join_one(&r.room, &occupant).await? {
                    Ok(nick) => {
                        joined.push(nick);
                        break;
                    }
                    Err(e) if tries == 0 && condition_name(&e) == "conflict" => {
                        tries += 1;
                        let nick = format!("{}-{:04x}", occupant.resource(), rand::random::<u16>());
                        occupant = r.room.with_resource_str(&nick).map_err(|e| {
                            SinkError::permanent(format!("joining {}: {e}", r.room))
                        })?;
                    }
                    Err(e) => {
                        return Err(stanza_failure(
                            &format!("joining room {}", r.room),
                            r.room.as_str(),
                            &e,
                        ))
                    }
                }
            }
        }
        Ok(joined)
    }

    /// One join: `Ok(Ok(occupant))` when the room sent our self-presence (status 110), `Ok(Err)`
    /// with its error when it refused.
    async fn join_one(
        &mut self,
        room: &BareJid,
        occupant: &FullJid,
    ) -> Result<Result<FullJid, StanzaError>, SinkError> {
        let muc = Muc::new().with_history(History::new().with_maxstanzas(0));
        let presence = Presence::available()
            .with_to(occupant.clone())
            .with_payload(muc);
        self.send(&presence.into()).await?;
        let step = format!("joining room {room}");
        loop {
            let Stanza::Presence(p) = self.next_stanza(&step).await? else {
                continue;
            };
            let Some(from) = p.from.as_ref() else {
                continue;
            };
            if from.to_bare() != *room {
                continue;
            }
            if p.type_ == PresenceType::Error {
                let error = p
                    .payloads
                    .iter()
                    .find(|e| e.name() == "error")
                    .and_then(|e| StanzaError::try_from(e.clone()).ok());
                return Ok(Err(error.unwrap_or_else(|| {
                    StanzaError::new(
                        ErrorType::Cancel,
                        tokio_xmpp::parsers::stanza_error::DefinedCondition::UndefinedCondition,
                        "en",
                        "an error without a condition",
                    )
                })));
            }
            let own = p
                .payloads
                .iter()
                .filter(|e| e.is("x", ns::MUC_USER))
                .filter_map(|e| MucUser::try_from(e.clone()).ok())
                .any(|u| u.status.contains(&MucStatus::SelfPresence));
            if own {
                let nick = match from.clone().try_into_full() {
                    Ok(full) => full,
                    Err(_) => occupant.clone(),
                };
                return Ok(Ok(nick));
            }
        }
    }

    /// A message of `kind` to `to` with `body`, carrying XEP-0393's `<unstyled/>` hint (the
    /// text is shown as written). Returns its id.
    pub async fn message(
        &mut self,
        kind: MessageType,
        to: Jid,
        body: &str,
    ) -> Result<String, SinkError> {
        let id = self.id("msg");
        let mut m = Message::new_with_type(kind, Some(to));
        m.id = Some(Id(id.clone()));
        m = m.with_body(Lang::new(), body.to_string());
        m.payloads
            .push(Element::builder("unstyled", "urn:xmpp:styling:0").build());
        self.send(&m.into()).await?;
        Ok(id)
    }

    /// Ping the server and wait for its answer: the server has handled everything sent before
    /// it. Message errors that came back meanwhile are returned; `reflections` are the
    /// groupchat messages (by id) that the rooms echo when they took them: this also waits for
    /// those, at most [`REFLECTION_GRACE`] after the server's answer (a local room echoes
    /// before it).
    pub async fn receipt(
        &mut self,
        mut reflections: Vec<String>,
    ) -> Result<Vec<Bounce>, SinkError> {
        let id = self.id("ping");
        let domain: Jid = Jid::new(&self.domain)
            .map_err(|e| SinkError::permanent(format!("{}: {e}", self.domain)))?;
        self.send(&Iq::from_get(id.clone(), Ping).with_to(domain).into())
            .await?;
        let mut bounces = Vec::new();
        let mut answered = false;
        loop {
            if answered && reflections.is_empty() {
                break;
            }
            let step = "waiting for the server's receipt";
            let stanza = if answered {
                // The server took everything; a remote room may echo late, or not at all.
                match tokio::time::timeout(REFLECTION_GRACE, self.next_stanza(step)).await {
                    Ok(s) => s?,
                    Err(_) => break,
                }
            } else {
                self.next_stanza(step).await?
            };
            match stanza {
                Stanza::Iq(iq) if iq.id() == id => answered = true,
                Stanza::Message(m) if m.type_ == MessageType::Error => {
                    let from = m.from.as_ref().map(|f| f.to_string()).unwrap_or_default();
                    if let Some(own) = m.id.as_ref() {
                        reflections.retain(|r| *r != own.0);
                    }
                    let error = m
                        .payloads
                        .iter()
                        .find(|e| e.name() == "error")
                        .and_then(|e| StanzaError::try_from(e.clone()).ok());
                    if let Some(error) = error {
                        bounces.push(Bounce { from, error });
                    }
                }
                Stanza::Message(m) if m.type_ == MessageType::Groupchat => {
                    if let Some(own) = m.id.as_ref() {
                        reflections.retain(|r| *r != own.0);
                    }
                }
                _ => {}
            }
        }
        Ok(bounces)
    }

    /// End the stream politely (errors ignored: everything was delivered or reported).
    pub async fn close(mut self) {
        let _ = <XmppStream<Io> as SinkExt<&Stanza>>::close(&mut self.stream).await;
    }
}
