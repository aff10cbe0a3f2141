//! The async NSCA client: resolve, connect, read the init packet, send checks, close.
//!
//! Owns: parsing the server address, connection handling, timeouts and operator-facing error
//! messages. Packet layout lives in `packet`, ciphers in `crypto`, framing in `codec`.
//!
//! NSCA never acknowledges anything: success here means "written to the socket", not
//! "accepted by the server".

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Encoder;

use crate::codec::{CodecError, PacketEncoder};
use crate::crypto::{Cipher, CryptoError, Method};
use crate::packet::{InitPacket, PacketError, PacketSize, PassiveCheck, INIT_PACKET_LEN};

/// Default NSCA port.
pub const DEFAULT_PORT: u16 = 5667;

/// Where and how to send.
#[derive(Clone)]
pub struct ClientConfig {
    /// `host`, `host:port`, `[v6]:port` or a bare IPv6 literal; the default port is 5667.
    pub server: String,
    /// Encryption method (must equal the server's `decryption_method`).
    pub method: Method,
    /// Password bytes (secret: never printed).
    pub password: Vec<u8>,
    /// Packet layout.
    pub packet: PacketSize,
    /// Timeout for resolving and for connecting to each address.
    pub connect_timeout: Duration,
    /// Timeout for reading the init packet and for each packet write.
    pub io_timeout: Duration,
    /// Escape the output on the client (`\` to `\\`, newline to `\n`), as send_nsca 2.9 did.
    /// Needed for servers older than 2.10.1, which write the output verbatim (a raw newline
    /// would split the command). Leave false for 2.10.1+, which escape themselves.
    pub escape_newlines: bool,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("method", &self.method)
            .field("password", &"<redacted>")
            .field("packet", &self.packet)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("escape_newlines", &self.escape_newlines)
            .finish()
    }
}

impl ClientConfig {
    /// A config with 10 s timeouts, v3 packets and no client-side escaping.
    pub fn new(server: impl Into<String>, method: Method, password: Vec<u8>) -> ClientConfig {
        ClientConfig {
            server: server.into(),
            method,
            password,
            packet: PacketSize::V3,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
            escape_newlines: false,
        }
    }
}

/// The step at which a client operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Checking the check itself (nothing was sent).
    Validate,
    /// Parsing or resolving the server address.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// Reading the server's 132-byte init packet.
    Init,
    /// Setting up the cipher.
    Crypto,
    /// Writing data packets.
    Send,
    /// Flushing and closing the connection.
    Close,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Validate => "checking the result",
            Stage::Resolve => "resolving the server address",
            Stage::Connect => "connecting",
            Stage::Init => "waiting for the server's init packet",
            Stage::Crypto => "setting up encryption",
            Stage::Send => "sending",
            Stage::Close => "closing the connection",
        })
    }
}

/// What went wrong, in operator terms.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server address is malformed (bad port, unbalanced brackets).
    #[error("invalid server address {server:?}: {reason}")]
    InvalidServer {
        /// As configured.
        server: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Name resolution failed.
    #[error("could not resolve {server}: {source}")]
    Resolve {
        /// As configured.
        server: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// Name resolution returned no address.
    #[error("{server} resolved to no address")]
    NoAddress {
        /// As configured.
        server: String,
    },
    /// Every resolved address refused or was unreachable; this is the last one tried.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// Address tried last.
        addr: SocketAddr,
        /// Why (connection refused, network unreachable, ...).
        source: io::Error,
    },
    /// A step took longer than its timeout.
    #[error("timed out after {} while {stage} ({target})", humanize(*.after))]
    Timeout {
        /// Which step.
        stage: Stage,
        /// Server name or address.
        target: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server closed the connection before sending all 132 bytes of its init packet. The
    /// NSCA daemon does this when it cannot open its own `decryption_method` and when the
    /// client's address is not allowed (tcpwrappers / `allowed_hosts`).
    #[error(
        "server {addr} closed the connection before sending its init packet \
         ({got} of 132 bytes received): is the server's decryption_method one it can open, \
         and is this client's address allowed?"
    )]
    ClosedBeforeInit {
        /// Server address.
        addr: SocketAddr,
        /// Bytes of the init packet received.
        got: usize,
    },
    /// Reading the init packet failed for another reason.
    #[error("could not read the init packet from {addr}: {source}")]
    InitRead {
        /// Server address.
        addr: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The cipher could not be set up (method not usable).
    #[error("could not set up encryption: {0}")]
    Crypto(#[from] CryptoError),
    /// A check that cannot be sent (nothing was written for it).
    #[error("invalid check: {0}")]
    Packet(#[from] PacketError),
    /// Writing a packet failed. The daemon closes the connection after a packet it cannot
    /// decrypt or verify, so this often means an earlier packet was refused (wrong password,
    /// method or packet size).
    #[error("could not send to {addr} after {sent} packet(s) on this connection: {source}")]
    Write {
        /// Server address.
        addr: SocketAddr,
        /// Packets written on this connection before the failure.
        sent: usize,
        /// The socket error.
        source: io::Error,
    },
    /// The server closed the connection after its init packet, before or between our packets.
    /// The daemon does this after a packet it refuses (wrong password, method or packet size).
    #[error(
        "server {addr} closed the connection after {sent} packet(s) on this connection \
         (the NSCA daemon does this when it refuses a packet: wrong password, encryption \
         method or packet size?)"
    )]
    ServerClosed {
        /// Server address.
        addr: SocketAddr,
        /// Packets written on this connection before the close was noticed.
        sent: usize,
    },
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

impl ClientError {
    /// The step that failed.
    pub fn stage(&self) -> Stage {
        match self {
            ClientError::InvalidServer { .. }
            | ClientError::Resolve { .. }
            | ClientError::NoAddress { .. } => Stage::Resolve,
            ClientError::Connect { .. } => Stage::Connect,
            ClientError::Timeout { stage, .. } => *stage,
            ClientError::ClosedBeforeInit { .. } | ClientError::InitRead { .. } => Stage::Init,
            ClientError::Crypto(_) => Stage::Crypto,
            ClientError::Packet(_) => Stage::Validate,
            ClientError::Write { .. } | ClientError::ServerClosed { .. } => Stage::Send,
        }
    }

    /// True when the connection was up and writing data failed (send_nsca: "Could not send
    /// data to host", exit 3). False for everything before that (resolve, connect, init
    /// packet, encryption, any timeout: send_nsca exits 2) and for an invalid check.
    pub fn is_send_error(&self) -> bool {
        matches!(
            self,
            ClientError::Write { .. } | ClientError::ServerClosed { .. }
        )
    }

    /// True for any timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout { .. })
    }
}

/// Client-side escaping for servers older than 2.10.1: `\` to `\\`, newline to `\n`.
pub fn escape_newlines(output: &str) -> Cow<'_, str> {
    if !output.contains(['\\', '\n']) {
        return Cow::Borrowed(output);
    }
    let mut s = String::with_capacity(output.len() + 16);
    for c in output.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    Cow::Owned(s)
}

/// Split a configured server into host and port: `host`, `host:port`, `[v6]`, `[v6]:port` or a
/// bare IPv6 literal (port 5667 unless given).
pub fn parse_server(server: &str) -> Result<(String, u16), ClientError> {
    let invalid = |reason| ClientError::InvalidServer {
        server: server.to_string(),
        reason,
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))
    };
    let s = server.trim();
    if s.is_empty() {
        return Err(invalid("it is empty"));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("'[' without ']'"))?;
        if host.is_empty() {
            return Err(invalid("empty address between brackets"));
        }
        return match after {
            "" => Ok((host.to_string(), DEFAULT_PORT)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host.to_string(), port(p)?)),
                None => Err(invalid("expected ':port' after ']'")),
            },
        };
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_string(), DEFAULT_PORT));
    }
    match s.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Err(invalid(
            "an IPv6 address with a port must be written [address]:port",
        )),
        Some(("", _)) => Err(invalid("the host is empty")),
        Some((host, p)) => Ok((host.to_string(), port(p)?)),
        None => Ok((s.to_string(), DEFAULT_PORT)),
    }
}

async fn within<T>(
    after: Duration,
    stage: Stage,
    target: impl fmt::Display,
    fut: impl Future<Output = T>,
) -> Result<T, ClientError> {
    tokio::time::timeout(after, fut)
        .await
        .map_err(|_| ClientError::Timeout {
            stage,
            target: target.to_string(),
            after,
        })
}

/// Resolve `config.server` into socket addresses (no DNS for IP literals).
pub async fn resolve(config: &ClientConfig) -> Result<Vec<SocketAddr>, ClientError> {
    let (host, port) = parse_server(&config.server)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = within(
        config.connect_timeout,
        Stage::Resolve,
        &config.server,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await?
    .map_err(|source| ClientError::Resolve {
        server: config.server.clone(),
        source,
    })?
    .collect();
    if addrs.is_empty() {
        return Err(ClientError::NoAddress {
            server: config.server.clone(),
        });
    }
    Ok(addrs)
}

/// One connection to an NSCA server, after the init packet: send checks, then [`close`].
///
/// [`close`]: Connection::close
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    encoder: PacketEncoder,
    buf: BytesMut,
    io_timeout: Duration,
    escape: bool,
    sent: usize,
    /// Packets encoded into `buf` and not yet written.
    queued: usize,
}

impl Connection {
    /// Resolve, connect (trying each address in turn), read the 132-byte init packet and set
    /// up the cipher.
    pub async fn open(config: &ClientConfig) -> Result<Connection, ClientError> {
        let addrs = resolve(config).await?;
        let mut last = None;
        for addr in addrs {
            match within(
                config.connect_timeout,
                Stage::Connect,
                addr,
                TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(stream)) => return Connection::handshake(config, stream, addr).await,
                Ok(Err(source)) => last = Some(ClientError::Connect { addr, source }),
                Err(timeout) => last = Some(timeout),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    async fn handshake(
        config: &ClientConfig,
        mut stream: TcpStream,
        peer: SocketAddr,
    ) -> Result<Connection, ClientError> {
        let _ = stream.set_nodelay(true);
        let mut init = [0u8; INIT_PACKET_LEN];
        let mut got = 0;
        within(config.io_timeout, Stage::Init, peer, async {
            while got < INIT_PACKET_LEN {
                match stream.read(&mut init[got..]).await {
                    Ok(0) => return Err(ClientError::ClosedBeforeInit { addr: peer, got }),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        return Err(ClientError::ClosedBeforeInit { addr: peer, got })
                    }
                    Err(source) => return Err(ClientError::InitRead { addr: peer, source }),
                }
            }
            Ok(())
        })
        .await??;
        let init = InitPacket::decode(&init)?;
        let cipher = Cipher::new(config.method, &init.iv, &config.password)?;
        Ok(Connection {
            stream,
            peer,
            encoder: PacketEncoder::new(cipher, config.packet, init.timestamp),
            buf: BytesMut::with_capacity(config.packet.packet_len()),
            io_timeout: config.io_timeout,
            escape: config.escape_newlines,
            sent: 0,
            queued: 0,
        })
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The server's clock from the init packet (echoed in every packet).
    pub fn server_timestamp(&self) -> u32 {
        self.encoder.timestamp()
    }

    /// Packets written on this connection so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Validate, encode, encrypt and write one check with a single `write_all` (anything
    /// queued before it goes in the same write).
    pub async fn send(&mut self, check: &PassiveCheck) -> Result<(), ClientError> {
        self.queue(check)?;
        self.flush().await
    }

    /// Validate, encode and encrypt one check into the connection's buffer without writing it:
    /// [`Connection::flush`] (or `send`, `close`, `finish`) writes everything queued in one
    /// system call. Encryption state advances now, so checks go out in queue order.
    pub fn queue(&mut self, check: &PassiveCheck) -> Result<(), ClientError> {
        let escaped;
        let check = if self.escape && check.output.contains(['\\', '\n']) {
            escaped = PassiveCheck {
                output: escape_newlines(&check.output).into_owned(),
                ..check.clone()
            };
            &escaped
        } else {
            check
        };
        self.encoder
            .encode(check, &mut self.buf)
            .map_err(|e| match e {
                CodecError::Packet(p) => ClientError::Packet(p),
                other => unreachable!("the encoder does no i/o: {other}"),
            })?;
        self.queued += 1;
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Write everything queued with one `write_all`.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.check_still_open()?;
        let (peer, sent) = (self.peer, self.sent);
        within(
            self.io_timeout,
            Stage::Send,
            peer,
            self.stream.write_all(&self.buf),
        )
        .await?
        .map_err(|source| ClientError::Write {
            addr: peer,
            sent,
            source,
        })?;
        self.sent += self.queued;
        self.queued = 0;
        self.buf.clear();
        Ok(())
    }

    /// The server never sends anything after its init packet, so anything readable now is its
    /// close (or reset): report it instead of writing into a dead connection.
    fn check_still_open(&mut self) -> Result<(), ClientError> {
        let mut probe = [0u8; 1];
        match self.stream.try_read(&mut probe) {
            Ok(0) => Err(ClientError::ServerClosed {
                addr: self.peer,
                sent: self.sent,
            }),
            Ok(_) => Ok(()), // unexpected bytes: ignore, as send_nsca does
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(source) => Err(ClientError::Write {
                addr: self.peer,
                sent: self.sent,
                source,
            }),
        }
    }

    /// Flush and shut down the write side (an orderly FIN, which makes the daemon process a
    /// lone legacy packet at once). Returns the number of packets written.
    pub async fn close(mut self) -> Result<usize, ClientError> {
        self.flush().await?;
        let (peer, sent) = (self.peer, self.sent);
        let result = within(self.io_timeout, Stage::Close, peer, async {
            self.stream.flush().await?;
            self.stream.shutdown().await
        })
        .await?;
        match result {
            Ok(()) => Ok(sent),
            // The peer is already gone; everything was handed to the kernel before.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(sent),
            Err(source) => Err(ClientError::Write {
                addr: peer,
                sent,
                source,
            }),
        }
    }
}

impl Connection {
    /// [`close`], then wait (within the I/O timeout) for the server to close its side.
    ///
    /// NSCA sends no acknowledgement, but the daemon (and [`crate::server::Receiver`]) close
    /// the connection only after reading up to our FIN, so their EOF is the strongest signal
    /// available that every packet was read. A server that stopped reading never sends it
    /// (a [`ClientError::Timeout`] at [`Stage::Close`]); one that closed with our data unread
    /// resets the connection (a [`ClientError::Write`]). Returns the number of packets written.
    ///
    /// [`close`]: Connection::close
    pub async fn finish(mut self) -> Result<usize, ClientError> {
        self.flush().await?;
        let (peer, sent) = (self.peer, self.sent);
        let result = within(self.io_timeout, Stage::Close, peer, async {
            self.stream.flush().await?;
            self.stream.shutdown().await?;
            let mut buf = [0u8; 256];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    Ok(_) => {} // unexpected bytes: ignore, as send_nsca does
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        })
        .await?;
        result.map(|()| sent).map_err(|source| ClientError::Write {
            addr: peer,
            sent,
            source,
        })
    }
}

/// Send `checks` on one connection (v3) or one connection per check (legacy: NSCA 2.9.1+
/// keeps only the first 720-byte packet of a connection); returns how many packets were
/// written. Every check is validated before anything is sent.
pub async fn send_batch(
    config: &ClientConfig,
    checks: &[PassiveCheck],
) -> Result<usize, ClientError> {
    for check in checks {
        check.validate()?;
    }
    if checks.is_empty() {
        return Ok(0);
    }
    match config.packet {
        PacketSize::Legacy => {
            let mut sent = 0;
            for check in checks {
                let mut conn = Connection::open(config).await?;
                conn.send(check).await?;
                sent += conn.close().await?;
            }
            Ok(sent)
        }
        PacketSize::V3 => {
            let mut conn = Connection::open(config).await?;
            for check in checks {
                conn.send(check).await?;
            }
            conn.close().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        let ok = |s: &str| parse_server(s).unwrap();
        assert_eq!(ok("nagios"), ("nagios".into(), 5667));
        assert_eq!(ok("nagios:5668"), ("nagios".into(), 5668));
        assert_eq!(ok("127.0.0.1"), ("127.0.0.1".into(), 5667));
        assert_eq!(ok("127.0.0.1:1"), ("127.0.0.1".into(), 1));
        assert_eq!(ok("::1"), ("::1".into(), 5667));
        assert_eq!(ok("fe80::1:2"), ("fe80::1:2".into(), 5667));
        assert_eq!(ok("[::1]"), ("::1".into(), 5667));
        assert_eq!(ok("[::1]:15667"), ("::1".into(), 15667));
        for bad in [
            "",
            "h:",
            "h:0",
            "h:70000",
            "h:x",
            "[::1",
            "[::1]x",
            "[]:1",
            ":5667",
            "fe80::zz:1",
        ] {
            let e = parse_server(bad).unwrap_err();
            assert!(matches!(e, ClientError::InvalidServer { .. }), "{bad}: {e}");
            assert_eq!(e.stage(), Stage::Resolve);
        }
    }

    #[test]
    fn escaping() {
        assert!(matches!(escape_newlines("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_newlines("a\\b\nc\n"), "a\\\\b\\nc\\n");
    }

    #[test]
    fn debug_hides_password() {
        let c = ClientConfig::new("h", Method::Xor, b"hunter2".to_vec());
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("redacted"));
    }

    #[test]
    fn timeout_message_names_stage_and_duration() {
        let e = ClientError::Timeout {
            stage: Stage::Init,
            target: "127.0.0.1:5667".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            e.to_string(),
            "timed out after 1500 ms while waiting for the server's init packet (127.0.0.1:5667)"
        );
        assert!(!e.is_send_error());
    }
}
