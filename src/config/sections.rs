//! The typed config: one struct per TOML section, with the defaults documented on each field.
//!
//! Owns: the shapes other modules read (`Agent`, `Nsca`, `Watch`, `JobRule`, `Channel`) and the
//! default values. Reading TOML into them is `build.rs`; cross-checks are `validate.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use nsca::crypto::Method;
use nsca::packet::PacketSize;

use super::keywords::{ChannelType, History, Items, When};
use super::secret::{Secret, SecretError};
use super::template::Template;
use crate::formats::Format;
use crate::outcome::Status;

/// Default `agent.state_dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/nagbridge";
/// Default `agent.heartbeat`.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5 * 60);
/// Largest allowed `agent.max_file_size`: 256 MiB (files are parsed in memory).
pub const MAX_MAX_FILE_SIZE: u64 = 256 << 20;
/// Default `agent.max_file_size`: 16 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 << 20;
/// Default `agent.rescan`.
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(60);
/// Default `agent.quiet_period`.
pub const DEFAULT_QUIET_PERIOD: Duration = Duration::from_secs(5);
/// Default `agent.settle_period`: a log that stops in the middle of a run is taken to be
/// finished (the run is reported UNKNOWN) only after this long without a change. Long, because
/// many backups write nothing for long stretches (restic's text output, Bacula between the
/// start of a job and its report) and an early UNKNOWN would be a false alarm.
pub const DEFAULT_SETTLE_PERIOD: Duration = Duration::from_secs(60 * 60);
/// Default `agent.shutdown_timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `nsca.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `nsca.host` template.
pub const DEFAULT_HOST_TEMPLATE: &str = "{host}";
/// Default `nsca.service` template.
pub const DEFAULT_SERVICE_TEMPLATE: &str = "backup {job}";
/// Default `[[watch]] glob`.
pub const DEFAULT_GLOB: &str = "*";
/// Default `[[watch]] job` template.
pub const DEFAULT_WATCH_JOB: &str = "{file_stem}";
/// Polling interval of `[[watch]] poll = true`.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// Shortest default `[[job]] grace` (otherwise a tenth of `every`).
pub const MIN_DEFAULT_GRACE: Duration = Duration::from_secs(5 * 60);

/// `[agent]`: the agent itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Nagios `host_name` for `{host}`; default: the system hostname.
    pub host_name: String,
    /// Spool and checkpoints; default `/var/lib/nagbridge`.
    pub state_dir: PathBuf,
    /// Interval of the agent's own passive check (service `nagbridge`); `None` = `"off"`.
    /// Default 5m.
    pub heartbeat: Option<Duration>,
    /// Larger result files are not parsed (an `unknown` outcome says so); default 16 MiB.
    pub max_file_size: u64,
    /// Full rescan of every watched directory, to catch missed events; default 60s.
    pub rescan: Duration,
    /// A file unchanged this long is read (whole lines), even without close-after-write;
    /// default 5s.
    pub quiet_period: Duration,
    /// A file unchanged this long is finished: a run without its end line is reported
    /// (UNKNOWN); default 1h.
    pub settle_period: Duration,
    /// On SIGTERM, time left to finish deliveries in flight before exiting; default 10s.
    pub shutdown_timeout: Duration,
}

/// `nsca.server`: where the NSCA daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port; default 5667.
    pub port: u16,
}

impl fmt::Display for Server {
    /// `host:port`, `[v6]:port`: the form `nsca::client::ClientConfig::server` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `[nsca]`: the passive-check destination.
#[derive(Debug, Clone)]
pub struct Nsca {
    /// Required.
    pub server: Server,
    /// Must equal the daemon's `decryption_method`; default `xor` (the daemon's default, which
    /// only obfuscates: `check-config` warns about it).
    pub encryption: Method,
    /// Default: no password.
    pub password: Option<Secret>,
    /// `"v3"` (default, 4304-byte packets) or `"legacy"` (720 bytes, NSCA 2.7).
    pub packet: PacketSize,
    /// Connect and I/O timeout; default 10s.
    pub timeout: Duration,
    /// Host name template; default `{host}`.
    pub host: Template,
    /// Service description template; default `backup {job}`.
    pub service: Template,
    /// The daemon escapes newlines itself (NSCA 2.10.1+); when false the client escapes them.
    /// Default true, but false with `packet = "legacy"` (NSCA 2.7 does not escape).
    pub server_escapes: bool,
}

impl Nsca {
    /// The client settings for `nsca::client`, with the password read now.
    pub fn client_config(&self) -> Result<nsca::client::ClientConfig, SecretError> {
        let password = match &self.password {
            Some(s) => s.resolve()?,
            None => Vec::new(),
        };
        let mut c =
            nsca::client::ClientConfig::new(self.server.to_string(), self.encryption, password);
        c.packet = self.packet;
        c.connect_timeout = self.timeout;
        c.io_timeout = self.timeout;
        c.escape_newlines = !self.server_escapes;
        Ok(c)
    }
}

/// `[[watch]]`: a directory of result files.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The directory (absolute). Required.
    pub path: PathBuf,
    /// Which file names to read; default `*`.
    pub glob: glob::Pattern,
    /// Which parser; default `auto`.
    pub format: Format,
    /// Job name when the file does not name its job; variables `{file_stem}` `{file_name}`
    /// `{dir}` `{host}`; default `{file_stem}`.
    pub job: Template,
    /// Also watch subdirectories; default false.
    pub recursive: bool,
    /// `Some(interval)`: poll instead of inotify (for NFS/CIFS). `poll = true` polls every 10s.
    /// Default `None` (`false`).
    pub poll: Option<Duration>,
    /// One outcome per job (default) or per item.
    pub items: Items,
    /// Exit code -> status overrides for the tool's documented exit codes. Default empty.
    pub exit_codes: BTreeMap<i32, Status>,
    /// Status of a run that saved zero files; default `warning`.
    pub zero_files: Status,
    /// Status of a run that was canceled or interrupted; default `failure`.
    pub canceled: Status,
    /// What to report of the results already in a file when the watch is first scanned:
    /// `last` (default: the last per job, so an install on a host with years of logs does not
    /// send thousands of old notifications) or `all`.
    pub history: History,
}

/// `[[job]]`: expectations and overrides for the jobs whose name matches a glob.
#[derive(Debug, Clone)]
pub struct JobRule {
    /// The glob as written (`nightly-*`).
    pub name: String,
    pub(crate) pattern: glob::Pattern,
    /// Expected cadence: no outcome within `every + grace` means CRITICAL. Default none.
    pub every: Option<Duration>,
    /// Slack after `every`; default a tenth of `every`, at least 5m (zero when `every` is
    /// unset).
    pub grace: Duration,
    /// Service template for these jobs instead of `nsca.service`.
    pub service: Option<Template>,
    /// Host template for these jobs instead of `nsca.host`.
    pub host: Option<Template>,
}

impl JobRule {
    /// Whether this rule applies to `job` (a glob match on the whole name).
    pub fn matches(&self, job: &str) -> bool {
        self.pattern.matches(job)
    }
}

/// Everything the agent needs to know about one job, from its rule and `[nsca]`.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings<'a> {
    /// The first matching `[[job]]`, if any.
    pub rule: Option<&'a JobRule>,
    /// Expected cadence, if any.
    pub every: Option<Duration>,
    /// Slack after `every`.
    pub grace: Duration,
    /// Service template in force.
    pub service: &'a Template,
    /// Host template in force.
    pub host: &'a Template,
}

/// `[[channel]]`: a secondary output (email, chat, web hook): SPEC section 6.
#[derive(Clone, Debug)]
pub struct Channel {
    /// Unique name: letters, digits, `-` and `_` (it names the channel's spool directory).
    pub name: String,
    /// Required.
    pub kind: ChannelType,
    /// Default `problems`.
    pub when: When,
    /// Only outcomes of jobs matching one of these globs; empty: every job.
    pub jobs: Vec<glob::Pattern>,
    /// The channel type's own keys, typed (their `Debug` redacts secrets).
    pub options: crate::sinks::ChannelOptions,
}

impl Channel {
    /// Does this channel take outcomes of `job` (its `jobs` filter)?
    pub fn takes_job(&self, job: &str) -> bool {
        self.jobs.is_empty() || self.jobs.iter().any(|g| g.matches(job))
    }
}

/// Names a channel cannot have: the spool directories of the other destinations.
pub const RESERVED_CHANNEL_NAMES: &[&str] = &["nsca", "inbox", "icinga2", "nagios"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_display() {
        let s = |h: &str, p| {
            Server {
                host: h.into(),
                port: p,
            }
            .to_string()
        };
        assert_eq!(s("nagios", 5667), "nagios:5667");
        assert_eq!(s("::1", 15667), "[::1]:15667");
    }
}
