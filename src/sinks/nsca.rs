//! The NSCA sink: spooled outcomes as passive check results for a Nagios NSCA daemon.
//!
//! Owns: the host/service/output of each check (from the templates and `plugin_output`), one
//! connection per batch (v3) or per packet (legacy), and the classification of NSCA client
//! errors. Must not retry or touch the spool (see `crate::delivery`); the wire protocol is the
//! `nsca` crate's.
//!
//! # What "delivered" means
//!
//! NSCA has no acknowledgement: the daemon validates each packet and silently drops what it
//! cannot decrypt or verify (a wrong password or method, a stale timestamp). Delivered here
//! therefore means *all bytes were written, the write side was closed cleanly and the server
//! then closed its side* ([`nsca::client::Connection::finish`]), which shows the server read
//! everything, not that it accepted it. A wrong password is invisible from this side.
//!
//! # Timestamps
//!
//! The daemon drops packets whose timestamp is older than its `max_packet_age` (30 s by
//! default) and records the time it received them as the check time. Each packet is therefore
//! stamped with the server's own timestamp from the init packet of the connection it is sent on
//! (the client does this), the connection is opened right before sending, and the original
//! check time (the job's end, else the spool time) is put in the plugin output:
//! `OK: nightly succeeded (at 2026-11-24 02:03:10Z) | ...`.

use std::fmt;
use std::time::Duration;

use nsca::client::{parse_server, ClientConfig, ClientError, Connection};
use nsca::crypto::{Cipher, CryptoError, Method, IV_LEN};
use nsca::packet::{PacketSize, PassiveCheck, HOST_FIELD, SERVICE_FIELD};

use super::{Sink, SinkError};
use crate::outcome::{fill_template, plugin_output, sanitize_name};
use crate::spool::Entry;

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

    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.server.clone(), self.method, self.password.clone());
        c.packet = self.packet;
        c.connect_timeout = self.timeout;
        c.io_timeout = self.timeout;
        c.escape_newlines = self.escape_newlines;
        c
    }
}

/// Delivers entries to one NSCA server.
#[derive(Debug, Clone)]
pub struct NscaSink {
    config: NscaSinkConfig,
    client: ClientConfig,
}

impl NscaSink {
    /// Validate `config` and build the sink.
    pub fn new(config: NscaSinkConfig) -> Result<NscaSink, NscaConfigError> {
        config.validate()?;
        Ok(NscaSink {
            client: config.client(),
            config,
        })
    }

    /// The passive check for `entry`: host and service from the templates, the Nagios code of
    /// its status, and the plugin output with the original check time, within the packet's
    /// output limit (after client-side escaping, when that is on).
    pub fn check_for(&self, entry: &Entry) -> Result<PassiveCheck, SinkError> {
        let o = &entry.outcome;
        let c = &self.config;
        let (host, service) = self.names(o);
        let limit = c.packet.max_output();
        let checked = Some(entry.check_time());
        let mut output = plugin_output(o, checked, limit);
        if c.escape_newlines {
            // Escaping lengthens the text: shrink until the escaped form fits, so the server
            // never sees an escape sequence cut in half.
            let mut max = limit;
            loop {
                let grown = nsca::client::escape_newlines(&output).len();
                if grown <= limit || max == 0 {
                    break;
                }
                max = max.saturating_sub(grown - limit);
                output = plugin_output(o, checked, max);
            }
        }
        PassiveCheck::service(host, service, o.status.nagios_code(), output)
            .map_err(|e| SinkError::permanent(format!("spool entry {}: {e}", entry.id)))
    }

    /// Host and service of an outcome: the naming function or the templates, sanitised and
    /// cut; a host that comes out empty (a result with `"host": ""` under a `{host}`-only
    /// template, say) is the agent's own host, never a check Nagios would drop.
    pub fn names(&self, o: &crate::outcome::Outcome) -> (String, String) {
        let c = &self.config;
        let (host, service) = match &c.naming {
            Some(naming) => {
                let (h, s) = naming(o);
                (
                    sanitize_name(&h, HOST_FIELD - 1),
                    sanitize_name(&s, SERVICE_FIELD - 1),
                )
            }
            None => (
                fill_template(&c.host_template, o, &c.default_host, HOST_FIELD - 1),
                fill_template(&c.service_template, o, &c.default_host, SERVICE_FIELD - 1),
            ),
        };
        let host = if host.is_empty() {
            sanitize_name(&c.default_host, HOST_FIELD - 1)
        } else {
            host
        };
        (host, service)
    }

    async fn send_v3(&self, checks: &[PassiveCheck]) -> Result<usize, ClientError> {
        let mut conn = Connection::open(&self.client).await?;
        for check in checks {
            conn.queue(check)?;
        }
        conn.finish().await
    }

    async fn send_one(&self, check: &PassiveCheck) -> Result<usize, ClientError> {
        let mut conn = Connection::open(&self.client).await?;
        conn.send(check).await?;
        conn.finish().await
    }
}

/// Invalid checks and configuration problems are permanent; everything else (resolve,
/// connect, init packet, timeouts, writes, the server's close) may heal and is retryable.
pub fn classify(e: &ClientError) -> SinkError {
    let message = format!("nsca: {e}");
    match e {
        ClientError::Packet(_) | ClientError::Crypto(_) | ClientError::InvalidServer { .. } => {
            SinkError::permanent(message)
        }
        _ => SinkError::retryable(message),
    }
}

impl Sink for NscaSink {
    fn name(&self) -> String {
        format!("nsca {}", self.config.server)
    }

    fn validate(&self, entry: &Entry) -> Result<(), SinkError> {
        self.check_for(entry).map(|_| ())
    }

    fn describe(&self, entry: &Entry) -> String {
        let (host, service) = self.names(&entry.outcome);
        format!("host {host:?} service {service:?}")
    }

    /// One connection for the whole batch (v3), or one per entry (legacy: NSCA 2.9.1+ keeps
    /// only the first 720-byte packet of a connection). Every error before the server's close
    /// is retryable; a legacy batch that fails part way reports the entries sent before.
    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let checks = entries
            .iter()
            .map(|e| self.check_for(e))
            .collect::<Result<Vec<_>, _>>()?;
        if checks.is_empty() {
            return Ok(0);
        }
        match self.config.packet {
            PacketSize::V3 => self.send_v3(&checks).await.map_err(|e| classify(&e)),
            PacketSize::Legacy => {
                let mut done = 0;
                for check in &checks {
                    match self.send_one(check).await {
                        Ok(_) => done += 1,
                        Err(e) if done == 0 => return Err(classify(&e)),
                        Err(_) => break,
                    }
                }
                Ok(done)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Outcome, Status};
    use crate::spool::EntryId;
    use chrono::{DateTime, Utc};

    fn entry(o: Outcome) -> Entry {
        Entry {
            id: EntryId::new(1, 2, 3),
            spooled_at: DateTime::parse_from_rfc3339("2026-11-24T04:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            outcome: o,
        }
    }

    fn sink(f: impl FnOnce(&mut NscaSinkConfig)) -> NscaSink {
        let mut c = NscaSinkConfig::new("127.0.0.1:5667", Method::Xor, b"pw".to_vec(), "backup01");
        f(&mut c);
        NscaSink::new(c).unwrap()
    }

    #[test]
    fn nsca_sink_builds_checks_from_templates() {
        let s = sink(|_| {});
        let mut o = Outcome::new("nightly", Status::Failure);
        o.finished = Some(
            DateTime::parse_from_rfc3339("2026-11-24T02:03:10Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        let c = s.check_for(&entry(o.clone())).unwrap();
        assert_eq!(c.host, "backup01");
        assert_eq!(c.service, "backup nightly");
        assert_eq!(c.return_code, 2);
        assert!(
            c.output
                .starts_with("CRITICAL: nightly failed (at 2026-11-24 02:03:10Z) | "),
            "{}",
            c.output
        );
        // Without a finish time, the spool time is the check time.
        o.finished = None;
        o.host = Some("db01".into());
        let c = s.check_for(&entry(o)).unwrap();
        assert_eq!(c.host, "db01");
        assert!(
            c.output.contains("(at 2026-11-24 04:00:00Z)"),
            "{}",
            c.output
        );
    }

    #[test]
    fn nsca_sink_fits_escaped_output_and_legacy_limits() {
        let mut o = Outcome::new("j", Status::Warning);
        o.errors = (0..500).map(|i| format!("error {i} in C:\\x")).collect();
        let s = sink(|c| c.escape_newlines = true);
        let out = s.check_for(&entry(o.clone())).unwrap().output;
        assert!(nsca::client::escape_newlines(&out).len() <= 4095);
        let s = sink(|c| c.packet = PacketSize::Legacy);
        assert!(s.check_for(&entry(o)).unwrap().output.len() <= 511);
    }

    #[test]
    fn nsca_sink_empty_host_is_the_agent_host() {
        // A template that fills to nothing (or a result with "host": "") would be dropped by
        // Nagios: the agent's own host is used instead, never a quarantine.
        let s = sink(|c| c.host_template = "{source}".into());
        let e = entry(Outcome::new("j", Status::Success));
        s.validate(&e).unwrap();
        assert_eq!(s.check_for(&e).unwrap().host, s.config.default_host);
        let s = sink(|_| {});
        let mut o = Outcome::new("j", Status::Failure);
        o.host = Some(String::new());
        assert_eq!(s.check_for(&entry(o)).unwrap().host, s.config.default_host);
    }

    #[test]
    fn nsca_sink_config_is_checked() {
        let base = NscaSinkConfig::new("nagios", Method::Xor, vec![], "h");
        assert!(base.validate().is_ok());
        let bad = |f: &dyn Fn(&mut NscaSinkConfig)| {
            let mut c = base.clone();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(&|c| c.server = "h:0".into()).contains("invalid server address"));
        assert_eq!(
            bad(&|c| c.host_template = " ".into()),
            "host template is empty"
        );
        assert!(bad(&|c| c.default_host = "a;b".into()).starts_with("default host name"));
        let dbg = format!(
            "{:?}",
            NscaSinkConfig::new("h", Method::Xor, b"hunter2".to_vec(), "x")
        );
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn nsca_errors_are_classified() {
        let refused = ClientError::Connect {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        };
        let r = classify(&refused);
        assert!(r.is_retryable() && r.after.is_none());
        assert!(
            r.message.starts_with("nsca: could not connect"),
            "{}",
            r.message
        );
        let invalid = ClientError::Packet(nsca::packet::PacketError::EmptyHost);
        assert!(!classify(&invalid).is_retryable());
    }
}
