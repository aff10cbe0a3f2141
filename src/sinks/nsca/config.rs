//! The NSCA destination's settings: server, cipher and password, packet size, timeouts,
//! templates and naming; a pure `validate()` (no I/O) and the client settings they give.

use std::fmt;
use std::time::Duration;

use nsca::client::{parse_server, ClientConfig, ClientError};
use nsca::crypto::{Cipher, CryptoError, Method, IV_LEN};
use nsca::packet::PacketSize;

/// Host name template used when none is configured.
pub const DEFAULT_HOST_TEMPLATE: &str = "{host}";
/// Service description template used when none is configured.
pub const DEFAULT_SERVICE_TEMPLATE: &str = "backup {job}";

/// Plain settings for one NSCA destination (the TOML config module builds this).
#[derive(Clone)]
pub struct NscaSinkConfig {
    /// `host`, `host:port`, `[v6]:port` (port 5667 unless given).
    pub server: String,
    /// Encryption method (must equal the daemon's `decryption_method`).
    pub method: Method,
    /// Password bytes (secret: never printed).
    pub password: Vec<u8>,
    /// Packet layout: v3 (NSCA 2.9+) or legacy 2.7.
    pub packet: PacketSize,
    /// Timeout for connecting, for the init packet, for each write and for the server's close.
    pub timeout: Duration,
    /// Escape `\` and newlines on the client (servers older than 2.10.1).
    pub escape_newlines: bool,
    /// Host name template (`{host} {job} {tool} {source} {status}`).
    pub host_template: String,
    /// Service description template; empty for host checks.
    pub service_template: String,
    /// `{host}` when the outcome names none.
    pub default_host: String,
    /// Host and service per outcome, overriding the two templates (the agent passes its
    /// `[[job]]` overrides and the heartbeat's fixed service this way). The result is
    /// sanitised and cut like the templates' output.
    pub naming: Option<Naming>,
}

/// Host and service for an outcome.
pub type Naming =
    std::sync::Arc<dyn Fn(&crate::outcome::Outcome) -> (String, String) + Send + Sync>;

impl fmt::Debug for NscaSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NscaSinkConfig")
            .field("server", &self.server)
            .field("method", &self.method)
            .field("password", &"<redacted>")
            .field("packet", &self.packet)
            .field("timeout", &self.timeout)
            .field("escape_newlines", &self.escape_newlines)
            .field("host_template", &self.host_template)
            .field("service_template", &self.service_template)
            .field("default_host", &self.default_host)
            .finish()
    }
}

/// Why an NSCA sink configuration cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NscaConfigError {
    /// The server address is malformed.
    #[error(transparent)]
    Server(ClientError),
    /// The method cannot be used with this password.
    #[error("encryption method {method}: {source}")]
    Crypto {
        /// The method.
        method: &'static str,
        /// Why.
        source: CryptoError,
    },
    /// The host template is empty.
    #[error("host template is empty")]
    EmptyHostTemplate,
    /// The default host name would corrupt the command file or is empty.
    #[error("default host name {0:?} is empty or holds ';', a newline or NUL")]
    DefaultHost(String),
}

impl NscaSinkConfig {
    /// Settings with v3 packets, a 10 s timeout, no client-side escaping and the default
    /// templates.
    pub fn new(
        server: impl Into<String>,
        method: Method,
        password: Vec<u8>,
        default_host: impl Into<String>,
    ) -> NscaSinkConfig {
        NscaSinkConfig {
            server: server.into(),
            method,
            password,
            packet: PacketSize::V3,
            timeout: Duration::from_secs(10),
            escape_newlines: false,
            host_template: DEFAULT_HOST_TEMPLATE.into(),
            service_template: DEFAULT_SERVICE_TEMPLATE.into(),
            default_host: default_host.into(),
            naming: None,
        }
    }

    /// Check the settings without I/O.
    pub fn validate(&self) -> Result<(), NscaConfigError> {
        parse_server(&self.server).map_err(NscaConfigError::Server)?;
        Cipher::new(self.method, &[0; IV_LEN], &self.password).map_err(|source| {
            NscaConfigError::Crypto {
                method: self.method.name(),
                source,
            }
        })?;
        if self.host_template.trim().is_empty() {
            return Err(NscaConfigError::EmptyHostTemplate);
        }
        let h = &self.default_host;
        if h.trim().is_empty() || h.contains([';', '\n', '\r', '\0']) {
            return Err(NscaConfigError::DefaultHost(h.clone()));
        }
        Ok(())
    }

    pub(super) fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.server.clone(), self.method, self.password.clone());
        c.packet = self.packet;
        c.connect_timeout = self.timeout;
        c.io_timeout = self.timeout;
        c.escape_newlines = self.escape_newlines;
        c
    }
}
