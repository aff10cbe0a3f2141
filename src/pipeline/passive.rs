//! The passive-check destinations of a config (`[nsca]`, `[icinga2]`, `[nagios]`): each takes
//! every outcome, named by its own host/service templates (or the job's `[[job]]` overrides),
//! through its own spool and delivery loop.
//!
//! Owns: building their sinks from the config ([`passive_sinks`]), the ttl of each Icinga 2
//! result ([`ttl_of`]), and [`PassiveSink`], the one type the pipeline runs for all three.

use std::sync::Arc;
use std::time::Duration;

use crate::agent::health::{AGENT_TOOL, HEARTBEAT_SERVICE};
use crate::agent::run::{naming_with, nsca_sink_config};
use crate::config::Config;
use crate::outcome::Outcome;
use crate::sinks::icinga2::config::Ttl;
use crate::sinks::icinga2::{Icinga2Sink, TtlOf};
use crate::sinks::nagios::NagiosSink;
use crate::sinks::nsca::NscaSink;
use crate::sinks::{Sink, SinkError};
use crate::spool::Entry;

/// The sink of one passive-check destination.
#[non_exhaustive]
pub enum PassiveSink {
    /// `[nsca]`.
    Nsca(NscaSink),
    /// `[icinga2]`.
    Icinga2(Box<Icinga2Sink>),
    /// `[nagios]`.
    Nagios(NagiosSink),
}

/// The ttl of each outcome's Icinga 2 result under `ttl`: `auto` is the heartbeat's three
/// intervals for the heartbeat and `every + grace` of the first `[[job]]` with `every` that
/// matches a job (none without one).
pub fn ttl_of(config: &Config, ttl: Ttl) -> TtlOf {
    let config = config.clone();
    Arc::new(move |o: &Outcome| match ttl {
        Ttl::Off => None,
        Ttl::Fixed(d) => Some(d),
        Ttl::Auto => {
            if o.tool.as_deref() == Some(AGENT_TOOL) && o.job == HEARTBEAT_SERVICE {
                return config.agent.heartbeat.map(|h| h * 3);
            }
            cadence(&config, &o.job)
        }
    })
}

/// `every + grace` of the first `[[job]]` with `every` that matches `job`.
pub fn cadence(config: &Config, job: &str) -> Option<Duration> {
    config
        .jobs
        .iter()
        .find(|r| r.every.is_some() && r.matches(job))
        .and_then(|r| r.every.map(|e| e + r.grace))
}

/// The passive-check destinations of `config`, in the order nsca, icinga2, nagios: (the
/// name of its spool, its sink). `Err((name, why))` when one cannot be built.
pub fn passive_sinks(
    config: &Config,
) -> Result<Vec<(&'static str, PassiveSink)>, (String, String)> {
    build_each(config)
        .into_iter()
        .map(|(name, built)| match built {
            Ok(sink) => Ok((name, sink)),
            Err(why) => Err((name.to_string(), why)),
        })
        .collect()
}

/// Each passive-check destination of `config` built on its own (`nagbridge test` reports the
/// ones that cannot be built and goes on).
pub fn build_each(config: &Config) -> Vec<(&'static str, Result<PassiveSink, String>)> {
    let agent = &config.agent.host_name;
    let mut out = Vec::new();
    if let Some(n) = &config.nsca {
        let sink = nsca_sink_config(config, n)
            .and_then(|c| Ok(NscaSink::new(c)?))
            .map(PassiveSink::Nsca)
            .map_err(|e| format!("{e:#}"));
        out.push(("nsca", sink));
    }
    if let Some(i) = &config.icinga2 {
        let sink = Icinga2Sink::new(
            i,
            naming_with(config, &i.host, &i.service),
            ttl_of(config, i.ttl),
            agent,
        )
        .map(|s| PassiveSink::Icinga2(Box::new(s)));
        out.push(("icinga2", sink));
    }
    if let Some(n) = &config.nagios {
        let sink = NagiosSink::new(n.clone(), naming_with(config, &n.host, &n.service), agent);
        out.push(("nagios", Ok(PassiveSink::Nagios(sink))));
    }
    out
}

/// (spool name, description) of every passive-check destination, without building them.
pub fn passive_names(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(n) = &config.nsca {
        out.push(("nsca".to_string(), format!("nsca {}", n.server)));
    }
    if let Some(i) = &config.icinga2 {
        let first = &i.endpoints[0];
        let d = match i.endpoints.len() {
            1 => format!("icinga2 {first}"),
            n => format!("icinga2 {first} (+{} more)", n - 1),
        };
        out.push(("icinga2".to_string(), d));
    }
    if let Some(n) = &config.nagios {
        out.push((
            "nagios".to_string(),
            format!("nagios {}", n.target.path().display()),
        ));
    }
    out
}

impl Sink for PassiveSink {
    fn name(&self) -> String {
        match self {
            PassiveSink::Nsca(s) => s.name(),
            PassiveSink::Icinga2(s) => s.name(),
            PassiveSink::Nagios(s) => s.name(),
        }
    }

    fn validate(&self, entry: &Entry) -> Result<(), SinkError> {
        match self {
            PassiveSink::Nsca(s) => s.validate(entry),
            PassiveSink::Icinga2(s) => s.validate(entry),
            PassiveSink::Nagios(s) => s.validate(entry),
        }
    }

    fn describe(&self, entry: &Entry) -> String {
        match self {
            PassiveSink::Nsca(s) => s.describe(entry),
            PassiveSink::Icinga2(s) => s.describe(entry),
            PassiveSink::Nagios(s) => s.describe(entry),
        }
    }

    fn batch_size(&self) -> usize {
        match self {
            PassiveSink::Nsca(s) => s.batch_size(),
            PassiveSink::Icinga2(s) => s.batch_size(),
            PassiveSink::Nagios(s) => s.batch_size(),
        }
    }

    fn pace(&self) -> Duration {
        match self {
            PassiveSink::Nsca(s) => s.pace(),
            PassiveSink::Icinga2(s) => s.pace(),
            PassiveSink::Nagios(s) => s.pace(),
        }
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        match self {
            PassiveSink::Nsca(s) => s.deliver_batch(entries).await,
            PassiveSink::Icinga2(s) => s.deliver_batch(entries).await,
            PassiveSink::Nagios(s) => s.deliver_batch(entries).await,
        }
    }
}
