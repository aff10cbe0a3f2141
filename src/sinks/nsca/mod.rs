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

mod config;
mod render;

pub use config::{
    Naming, NscaConfigError, NscaSinkConfig, DEFAULT_HOST_TEMPLATE, DEFAULT_SERVICE_TEMPLATE,
};

use nsca::client::{ClientConfig, ClientError, Connection};
use nsca::packet::{PacketSize, PassiveCheck};

use super::{Sink, SinkError};
use crate::spool::Entry;

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

    /// The passive check for `entry` (see [`render::check`]).
    pub fn check_for(&self, entry: &Entry) -> Result<PassiveCheck, SinkError> {
        render::check(&self.config, entry)
    }

    /// Host and service of an outcome (see [`render::names`]).
    pub fn names(&self, o: &crate::outcome::Outcome) -> (String, String) {
        render::names(&self.config, o)
    }

    async fn send_v3(&self, checks: &[PassiveCheck]) -> Result<usize, ClientError> {
        let started = std::time::Instant::now();
        let mut conn = Connection::open(&self.client).await?;
        tracing::debug!(server = %self.config.server, checks = checks.len(), "nsca: connected, init packet read");
        for check in checks {
            conn.queue(check)?;
        }
        let n = conn.finish().await?;
        tracing::debug!(server = %self.config.server, checks = n, ms = started.elapsed().as_millis() as u64, "nsca: batch written, server closed");
        Ok(n)
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
    use nsca::crypto::Method;

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
