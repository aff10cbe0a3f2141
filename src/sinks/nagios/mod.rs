//! The `[nagios]` sink, for an agent on the Nagios/Naemon host itself: results go into Nagios'
//! external command FIFO (`command_file`) or its check result directory
//! (`check_result_path`), no network.
//!
//! Owns: opening the FIFO without ever blocking (non-blocking open: when Nagios is down nobody
//! reads it and the open fails at once, a retryable error; a full FIFO is waited on at most
//! `timeout`), one atomic write per command line (each at most `PIPE_BUF` bytes, so lines of
//! other writers never interleave with ours), and result files written atomically (a temporary
//! file, fsynced, linked to a fresh `cXXXXXX` name that Nagios reads, then its `.ok` marker).
//! Must not retry or touch the spool (see `crate::delivery`).
//!
//! Delivered means: the line is in the FIFO, or the file and its marker are in the directory.
//! Like NSCA's daemon, Nagios does not confirm; a line in the FIFO when Nagios stops is lost.

pub mod config;
pub mod render;

use std::io::Write as _;
use std::path::Path;

use chrono::Utc;
use tokio::io::AsyncWriteExt;

use self::config::{NagiosConfig, Target};
use super::nsca::Naming;
use super::{Sink, SinkError};
use crate::spool::Entry;

/// `open(2)` of a FIFO for writing, non-blocking, without a reader (Linux).
const ENXIO: i32 = 6;

/// Delivers entries to the Nagios on this host.
pub struct NagiosSink {
    config: NagiosConfig,
    naming: Naming,
    agent: String,
}

impl NagiosSink {
    /// The sink for `config`, naming checks with `naming` (`agent`: the host of a check whose
    /// host fills to nothing).
    pub fn new(config: NagiosConfig, naming: Naming, agent: &str) -> NagiosSink {
        NagiosSink {
            config,
            naming,
            agent: agent.to_string(),
        }
    }

    fn names(&self, entry: &Entry) -> (String, String) {
        let (h, s) = (self.naming)(&entry.outcome);
        if h.trim().is_empty() {
            (self.agent.clone(), s)
        } else {
            (h, s)
        }
    }

    async fn to_fifo(&self, path: &Path, entries: &[Entry]) -> Result<usize, SinkError> {
        let shown = path.display();
        let mut fifo = tokio::net::unix::pipe::OpenOptions::new()
            .open_sender(path)
            .map_err(|e| match e.raw_os_error() {
                Some(ENXIO) => SinkError::retryable(format!(
                    "nagios is not running: nobody reads the command file {shown}"
                )),
                _ => match e.kind() {
                    std::io::ErrorKind::NotFound => SinkError::retryable(format!(
                        "the command file {shown} does not exist (nagios is not running, or \
                         check_external_commands is off)"
                    )),
                    std::io::ErrorKind::PermissionDenied => SinkError::permanent(format!(
                        "cannot open the command file {shown}: permission denied (run the agent \
                         in the nagios group, as Debian's nagios4 makes the FIFO group-writable)"
                    )),
                    std::io::ErrorKind::InvalidInput => SinkError::permanent(format!(
                        "{shown} is not a FIFO: command_file must be Nagios' external command \
                         file"
                    )),
                    _ => SinkError::from_io(format!("cannot open the command file {shown}"), &e),
                },
            })?;
        let now = Utc::now();
        let mut done = 0;
        for e in entries {
            let (host, service) = self.names(e);
            let line = render::command_line(e, &host, &service, now);
            let wrote =
                tokio::time::timeout(self.config.timeout, fifo.write_all(line.as_bytes())).await;
            let failure = match wrote {
                Ok(Ok(())) => {
                    done += 1;
                    continue;
                }
                Ok(Err(err)) => SinkError::from_io(format!("writing to {shown}"), &err),
                Err(_) => SinkError::retryable(format!(
                    "the command file {shown} stayed full for {}: nagios reads no commands",
                    crate::config::duration::format_duration(self.config.timeout)
                )),
            };
            return if done > 0 { Ok(done) } else { Err(failure) };
        }
        Ok(done)
    }

    /// The check result file for `entries`, as of now.
    fn result_file(&self, entries: &[Entry]) -> String {
        let results: Vec<_> = entries
            .iter()
            .map(|e| {
                let (host, service) = self.names(e);
                render::result(e, &host, &service, render::MAX_OUTPUT)
            })
            .collect();
        render::result_file(&results, Utc::now())
    }
}

/// Write `data` as a new check result file in `dir`: a temporary file (a name Nagios
/// ignores), fsynced, linked to a fresh `cXXXXXX` (never replacing one), then `cXXXXXX.ok`;
/// the directory is fsynced. Returns the file's name.
pub fn write_result_file(dir: &Path, data: &[u8]) -> std::io::Result<String> {
    let tmp = dir.join(format!(".nagbridge.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        use rand::Rng;
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        for _ in 0..100 {
            let name: String = std::iter::once('c')
                .chain((0..6).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char))
                .collect();
            let path = dir.join(&name);
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => {
                    std::fs::File::create(dir.join(format!("{name}.ok")))?;
                    if let Ok(d) = std::fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                    return Ok(name);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free check result file name"))
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

impl Sink for NagiosSink {
    fn name(&self) -> String {
        match &self.config.target {
            Target::CommandFile(p) => format!("nagios {}", p.display()),
            Target::CheckResultPath(p) => format!("nagios {}", p.display()),
        }
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, entry: &Entry) -> String {
        let (host, service) = self.names(entry);
        format!("host {host:?} service {service:?}")
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        if entries.is_empty() {
            return Ok(0);
        }
        match &self.config.target {
            Target::CommandFile(p) => self.to_fifo(p, entries).await,
            Target::CheckResultPath(dir) => {
                let (dir, text) = (dir.clone(), self.result_file(entries));
                let n = entries.len();
                tokio::task::spawn_blocking(move || {
                    write_result_file(&dir, text.as_bytes()).map_err(|e| {
                        SinkError::from_io(format!("check_result_path {}", dir.display()), &e)
                    })
                })
                .await
                .map_err(|e| SinkError::retryable(format!("result file task failed: {e}")))??;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nagios_result_files_are_linked_under_fresh_names_with_markers() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_result_file(dir.path(), b"x\n").unwrap();
        let b = write_result_file(dir.path(), b"y\n").unwrap();
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert_eq!(n.len(), 7);
            assert!(n.starts_with('c'));
            assert!(dir.path().join(format!("{n}.ok")).exists());
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}"); // no temporary file left
    }

    #[tokio::test]
    async fn nagios_fifo_without_reader_fails_at_once_and_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("nagios.cmd");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let c = NagiosConfig {
            target: Target::CommandFile(fifo.clone()),
            host: crate::config::build::default_template("{host}"),
            service: crate::config::build::default_template("backup {job}"),
            timeout: std::time::Duration::from_secs(30),
        };
        let naming: Naming = std::sync::Arc::new(|o: &crate::outcome::Outcome| {
            ("h".to_string(), format!("backup {}", o.job))
        });
        let sink = NagiosSink::new(c, naming, "h");
        let e = Entry {
            id: crate::spool::EntryId::new(1, 2, 3),
            spooled_at: Utc::now(),
            outcome: crate::outcome::Outcome::new("j", crate::outcome::Status::Success),
        };
        let started = std::time::Instant::now();
        let err = sink
            .deliver_batch(std::slice::from_ref(&e))
            .await
            .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(err.is_retryable(), "{err}");
        assert!(err.message.starts_with("nagios is not running"), "{err}");
        // A missing FIFO: retryable too.
        std::fs::remove_file(&fifo).unwrap();
        let err = sink
            .deliver_batch(std::slice::from_ref(&e))
            .await
            .unwrap_err();
        assert!(
            err.is_retryable() && err.message.contains("does not exist"),
            "{err}"
        );
    }
}
