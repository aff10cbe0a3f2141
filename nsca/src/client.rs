//! The async NSCA client: resolve, connect, read the init packet, send checks, close.
//!
//! Owns: connection handling, timeouts and operator-facing error messages. Packet layout lives
//! in `packet`, ciphers in `crypto`.

use std::time::Duration;

use crate::crypto::Method;
use crate::packet::{PacketSize, PassiveCheck};

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
    /// Timeout for resolving and connecting.
    pub connect_timeout: Duration,
    /// Timeout for each read or write.
    pub io_timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("method", &self.method)
            .field("password", &"<redacted>")
            .field("packet", &self.packet)
            .finish()
    }
}

impl ClientConfig {
    /// A config with 10 s timeouts and v3 packets.
    pub fn new(server: impl Into<String>, method: Method, password: Vec<u8>) -> ClientConfig {
        ClientConfig {
            server: server.into(),
            method,
            password,
            packet: PacketSize::V3,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
        }
    }
}

/// What went wrong, in operator terms.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Placeholder until the client lands.
    #[error("not implemented")]
    NotImplemented,
    /// A check that cannot be sent.
    #[error(transparent)]
    Packet(#[from] crate::packet::PacketError),
}

/// Send `checks` on one connection (v3) or one connection per check (legacy); returns how many
/// packets were written.
pub async fn send_batch(
    _config: &ClientConfig,
    _checks: &[PassiveCheck],
) -> Result<usize, ClientError> {
    Err(ClientError::NotImplemented)
}
