//! The agent's config file (SPEC section 4): key-by-key reading of the parsed TOML tree into
//! typed sections, validation that reports every problem at once with its key path, and
//! secrets that cannot be printed.
//!
//! Owns: finding the file ([`locate`]), reading it ([`Config::load`], [`Config::from_str`]),
//! the types other modules read ([`Agent`], [`Nsca`], [`Watch`], [`JobRule`], [`Channel`]),
//! humane [`duration`]s and [`size`]s, [`Secret`] and name [`Template`]s. Must not: start
//! anything, touch the network, or print (the `check-config` command prints).
//!
//! ```
//! let text = r#"
//! [agent]
//! host_name = "backup01"
//! [nsca]
//! server = "nagios.example.com:5667"
//! encryption = "aes256"
//! password = "s3cret"
//! [[job]]
//! name = "nightly-*"
//! every = "24h"
//! "#;
//! let config = nagbridge::config::Config::from_str(text, "example.toml").unwrap();
//! assert_eq!(config.nsca.as_ref().unwrap().server.to_string(), "nagios.example.com:5667");
//! let job = config.job_settings("nightly-db");
//! assert_eq!(job.every, Some(std::time::Duration::from_secs(86400)));
//! assert_eq!(job.service.render(&[("job", "nightly-db")]), "backup nightly-db");
//! assert!(!format!("{config:?}").contains("s3cret"));
//! ```

pub(crate) mod build;
pub mod duration;
mod keywords;
pub(crate) mod problem;
pub(crate) mod reader;
mod secret;
mod sections;
pub mod size;
mod template;
pub(crate) mod validate;

use std::path::{Path, PathBuf};

pub use crate::formats::Format;
pub use crate::outcome::Status;
pub use keywords::{ChannelType, History, Items, When};
pub use problem::{did_you_mean, ConfigErrors, Problem};
pub use secret::{Secret, SecretError, REDACTED};
pub use sections::*;
pub use template::{Template, CHECK_VARIABLES, WATCH_JOB_VARIABLES};

/// Where the config is when neither `-c` nor [`ENV_VAR`] says.
pub const DEFAULT_PATH: &str = "/etc/nagbridge/nagbridge.toml";
/// Environment variable naming the config file.
pub const ENV_VAR: &str = "NAGBRIDGE_CONFIG";

/// The config file to use: `explicit` (`-c FILE`), else `$NAGBRIDGE_CONFIG` (when set and not
/// empty), else [`DEFAULT_PATH`].
pub fn locate(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os(ENV_VAR) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

/// A loaded and validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from (a path, or what the caller of `from_str` said).
    pub origin: String,
    /// `[agent]` (all defaults when absent).
    pub agent: Agent,
    /// `[nsca]`. A config has at least one passive-check destination (`[nsca]`, `[icinga2]`,
    /// `[nagios]`) or one `[[channel]]`.
    pub nsca: Option<Nsca>,
    /// `[icinga2]`: the Icinga 2 REST API.
    pub icinga2: Option<crate::sinks::icinga2::config::Icinga2Config>,
    /// `[nagios]`: the command FIFO or check result directory of a Nagios on this host.
    pub nagios: Option<crate::sinks::nagios::config::NagiosConfig>,
    /// Every `[[watch]]`, in file order.
    pub watches: Vec<Watch>,
    /// Every `[[job]]`, in file order (the first match applies).
    pub jobs: Vec<JobRule>,
    /// Every `[[channel]]`, in file order.
    pub channels: Vec<Channel>,
    /// Things that work but probably should not be so (weak encryption, a secret file others
    /// can read). `check-config` prints them.
    pub warnings: Vec<Problem>,
}

impl Config {
    /// Read and validate the file at `path`. Secrets are resolved once to check them (and read
    /// again by [`Secret::resolve`] when used).
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let origin = path.display().to_string();
        let text = read_text(path, &origin)?;
        Config::from_str(&text, &origin)
    }

    /// [`Config::load`], plus the checks of the outside world that `check-config` makes and
    /// `run` tolerates (reporting them at run time): each watch path must be a directory this
    /// user can read, outside `state_dir`.
    pub fn check(path: &Path) -> Result<Config, ConfigErrors> {
        let origin = path.display().to_string();
        let text = read_text(path, &origin)?;
        Config::parse(&text, &origin, true)
    }

    /// Parse and validate config text; `origin` names it in messages.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
        Config::parse(text, origin, false)
    }

    fn parse(text: &str, origin: &str, outside: bool) -> Result<Config, ConfigErrors> {
        let mut p = problem::Problems::default();
        let root = match text.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                let key = e
                    .span()
                    .map(|s| {
                        let (line, column) = line_column(text, s.start);
                        format!("line {line}, column {column}")
                    })
                    .unwrap_or_default();
                p.error(key, format!("invalid TOML: {}", e.message().trim()));
                return Err(errors(origin, p));
            }
        };
        let parts = build::read_root(&root, &mut p);
        validate::validate(&parts, &mut p);
        if outside {
            validate::watch_paths(&parts, &mut p);
        }
        if !p.errors.is_empty() {
            return Err(errors(origin, p));
        }
        Ok(Config {
            origin: origin.to_string(),
            agent: parts.agent,
            nsca: parts.nsca,
            icinga2: parts.icinga2,
            nagios: parts.nagios,
            watches: parts.watches.into_iter().map(|(_, w)| w).collect(),
            jobs: parts.jobs.into_iter().map(|(_, j)| j).collect(),
            channels: parts.channels.into_iter().map(|(_, c)| c).collect(),
            warnings: p.warnings,
        })
    }

    /// The first `[[job]]` whose name glob matches `job`.
    pub fn job_rule(&self, job: &str) -> Option<&JobRule> {
        self.jobs.iter().find(|r| r.matches(job))
    }

    /// The cadence and templates in force for `job`: its rule's, else those of the first
    /// passive-check destination ([`Config::templates`]).
    pub fn job_settings(&self, job: &str) -> JobSettings<'_> {
        let (host, service) = self.templates();
        self.job_settings_with(job, host, service)
    }

    /// [`Config::job_settings`] with `host` and `service` as the destination's own templates.
    pub fn job_settings_with<'a>(
        &'a self,
        job: &str,
        host: &'a Template,
        service: &'a Template,
    ) -> JobSettings<'a> {
        let rule = self.job_rule(job);
        JobSettings {
            rule,
            every: rule.and_then(|r| r.every),
            grace: rule.map(|r| r.grace).unwrap_or_default(),
            service: rule.and_then(|r| r.service.as_ref()).unwrap_or(service),
            host: rule.and_then(|r| r.host.as_ref()).unwrap_or(host),
        }
    }

    /// The host and service templates of the first passive-check destination configured
    /// (`[nsca]`, then `[nagios]`, then `[icinga2]`), else the defaults (`{host}`,
    /// `backup {job}`).
    pub fn templates(&self) -> (&Template, &Template) {
        if let Some(n) = &self.nsca {
            (&n.host, &n.service)
        } else if let Some(n) = &self.nagios {
            (&n.host, &n.service)
        } else if let Some(i) = &self.icinga2 {
            (&i.host, &i.service)
        } else {
            (&DEFAULT_TEMPLATES.0, &DEFAULT_TEMPLATES.1)
        }
    }

    /// The longest a delivery attempt of a passive-check destination may take (its timeout):
    /// how long `wrap` and the lock wait for one.
    pub fn delivery_timeout(&self) -> std::time::Duration {
        [
            self.nsca.as_ref().map(|n| n.timeout),
            self.icinga2
                .as_ref()
                .map(|i| i.timeout * i.endpoints.len().max(1) as u32),
            self.nagios.as_ref().map(|n| n.timeout),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// A channel by name.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }
}

static DEFAULT_TEMPLATES: std::sync::LazyLock<(Template, Template)> =
    std::sync::LazyLock::new(|| {
        (
            build::default_template(DEFAULT_HOST_TEMPLATE),
            build::default_template(DEFAULT_SERVICE_TEMPLATE),
        )
    });

/// The config file's text, or the problem of reading it.
fn read_text(path: &Path, origin: &str) -> Result<String, ConfigErrors> {
    let fail = |message: String| ConfigErrors {
        origin: origin.to_string(),
        problems: vec![Problem::new("", message)],
        warnings: Vec::new(),
    };
    let bytes =
        std::fs::read(path).map_err(|e| fail(format!("cannot read the config file: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "the config file is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn errors(origin: &str, p: problem::Problems) -> ConfigErrors {
    ConfigErrors {
        origin: origin.to_string(),
        problems: p.errors,
        warnings: p.warnings,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
