//! The keys of `[nagios]` (SPEC section 7), for an agent on the Nagios/Naemon host itself:
//! `command_file` (the external command FIFO) or `check_result_path` (the check result
//! spool directory), `host`, `service`, `timeout`.
//!
//! Owns: reading those keys with their key paths ([`read`]). Nothing here opens the FIFO: it
//! exists only while Nagios runs.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::build::{default_template, name_template, HOST_LIMIT, SERVICE_LIMIT};
use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::{Template, DEFAULT_HOST_TEMPLATE, DEFAULT_SERVICE_TEMPLATE};

/// Default `timeout`: the longest wait for room in a full command FIFO.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `command_file`: `PROCESS_*_CHECK_RESULT` lines into Nagios' external command FIFO.
    CommandFile(PathBuf),
    /// `check_result_path`: one result file per check plus its `.ok` marker, which Nagios'
    /// check result reaper reads.
    CheckResultPath(PathBuf),
}

impl Target {
    /// The path.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Target::CommandFile(p) | Target::CheckResultPath(p) => p,
        }
    }
}

/// `[nagios]`'s settings.
#[derive(Debug, Clone)]
pub struct NagiosConfig {
    /// The command FIFO or the check result directory.
    pub target: Target,
    /// Host name template; default `{host}`.
    pub host: Template,
    /// Service description template; default `backup {job}`.
    pub service: Template,
    /// Longest wait for room in the FIFO; default 10s.
    pub timeout: Duration,
}

fn absolute(v: &toml::Value) -> Result<PathBuf, String> {
    let s = r::non_empty_string(v)?;
    let p = PathBuf::from(&s);
    if !p.is_absolute() {
        return Err(format!("{s:?} must be an absolute path"));
    }
    Ok(p)
}

/// Read `[nagios]` from `t`.
pub(crate) fn read(t: &toml::Table, p: &mut Problems) -> Option<NagiosConfig> {
    let mut s = Section::new("nagios", t);
    let command_file = s.read(p, "command_file", absolute);
    let result_path = s.read(p, "check_result_path", |v| {
        let path = absolute(v)?;
        if path.exists() && !path.is_dir() {
            return Err(format!("{} is not a directory", path.display()));
        }
        Ok(path)
    });
    let host = s.read(p, "host", name_template(HOST_LIMIT));
    let service = s.read(p, "service", name_template(SERVICE_LIMIT));
    let timeout = s.read(p, "timeout", r::duration);
    let both = t.contains_key("command_file") && t.contains_key("check_result_path");
    let neither = !t.contains_key("command_file") && !t.contains_key("check_result_path");
    if both {
        p.error(
            s.key("check_result_path"),
            "give command_file or check_result_path, not both",
        );
    } else if neither {
        p.error(
            s.key("command_file"),
            "missing: command_file (Nagios' external command FIFO, e.g. \
             /var/lib/nagios4/rw/nagios.cmd) or check_result_path (e.g. \
             /var/lib/nagios4/spool/checkresults)",
        );
    }
    if let Some(dir) = &result_path {
        if !dir.exists() {
            p.warn(
                s.key("check_result_path"),
                format!(
                    "{} does not exist (yet): results wait in the spool until it does",
                    dir.display()
                ),
            );
        }
    }
    s.finish(p);
    if both {
        return None;
    }
    let target = match (command_file, result_path) {
        (Some(f), None) => Target::CommandFile(f),
        (None, Some(d)) => Target::CheckResultPath(d),
        _ => return None,
    };
    Some(NagiosConfig {
        target,
        host: host.unwrap_or_else(|| default_template(DEFAULT_HOST_TEMPLATE)),
        service: service.unwrap_or_else(|| default_template(DEFAULT_SERVICE_TEMPLATE)),
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    })
}
