//! `nagbridge test`: one sample outcome sent to each passive-check destination (NSCA, Icinga 2,
//! Nagios on this host) and to each channel directly,
//! not through the spool, ignoring `when` and `jobs`, with one line per destination saying
//! whether it worked and why not.
//!
//! Owns: the sample outcome and the per-destination result. Sends only through the sinks (the
//! same code that delivers for real); never touches the spools or the change state.

use chrono::Utc;

use crate::config::Config;
use crate::outcome::{Item, Outcome, Status};
use crate::pipeline::passive::{build_each, PassiveSink};
use crate::sinks::{ChannelSink, Sink};
use crate::spool::{Entry, EntryId};

/// The job name of the sample outcome.
pub const TEST_JOB: &str = "nagbridge-test";

/// What happened at one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Its name (`nsca`, `icinga2`, `nagios`, or the channel's).
    pub name: String,
    /// Its type (`nsca`, `icinga2`, `nagios`, `email`, `webhook`, ...).
    pub kind: String,
    /// Ok(detail) or Err(reason).
    pub result: Result<String, String>,
}

impl std::fmt::Display for ProbeResult {
    /// `OK   <name> (<type>) <detail>` or `FAILED <name> (<type>): <reason>` (SPEC section 6).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Ok(detail) => write!(f, "OK   {} ({}) {detail}", self.name, self.kind),
            Err(reason) => write!(f, "FAILED {} ({}): {reason}", self.name, self.kind),
        }
    }
}

/// The sample outcome: job `nagbridge-test` on the agent's host with `status`, one item per
/// status so every part of a message shows.
pub fn sample(config: &Config, status: Status) -> Outcome {
    let mut o = Outcome::new(TEST_JOB, status);
    let now = Utc::now();
    o.tool = Some("nagbridge".into());
    o.started = Some(now - chrono::Duration::seconds(83));
    o.finished = Some(now);
    o.duration_s = Some(83.0);
    o.bytes = Some(1_288_490_189);
    o.files = Some(4200);
    o.summary = Some(format!(
        "a test message from nagbridge test on {}: if you read this, this destination works",
        config.agent.host_name
    ));
    o.items = vec![
        Item {
            name: "vm-web01".into(),
            status: Status::Success,
            bytes: Some(1_073_741_824),
            message: None,
        },
        Item {
            name: "vm-db01".into(),
            status,
            bytes: Some(214_748_365),
            message: (status != Status::Success).then(|| "example problem".to_string()),
        },
    ];
    if status == Status::Failure {
        o.errors = vec!["example error: this is a test".into()];
    }
    if status == Status::Warning {
        o.warnings = vec!["example warning: this is a test".into()];
    }
    o.source = Some("nagbridge test".into());
    o
}

fn entry(o: &Outcome) -> Entry {
    let now = Utc::now();
    Entry {
        id: EntryId::new(now.timestamp_micros().max(0) as u64, 0, std::process::id()),
        spooled_at: now,
        outcome: o.clone(),
    }
}

async fn send<S: Sink>(sink: &S, e: &Entry) -> Result<String, String> {
    sink.validate(e).map_err(|x| x.message)?;
    match sink.deliver_batch(std::slice::from_ref(e)).await {
        Ok(n) if n >= 1 => Ok(format!("sent: {}", sink.describe(e))),
        Ok(_) => Err("the destination took nothing and said nothing".into()),
        Err(x) => Err(format!("{} ({})", x.message, class_words(&x))),
    }
}

fn class_words(e: &crate::sinks::SinkError) -> &'static str {
    use crate::sinks::FailureClass as C;
    match e.class {
        C::Retryable => "temporary: the agent would retry",
        C::Rejected => "the destination refused the message",
        C::Dead => "the destination refuses us: fix the config",
        C::Config => "a configuration problem",
    }
}

/// Send the sample to every passive-check destination and every channel, or only to those
/// `channels` names (`nsca`, `icinga2` and `nagios` name the passive-check destinations). `Err`
/// names an unknown one.
pub async fn probe(
    config: &Config,
    channels: &[String],
    status: Status,
) -> Result<Vec<ProbeResult>, String> {
    for name in channels {
        let passive: Vec<String> = crate::pipeline::passive::passive_names(config)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        if config.channel(name).is_none() && !passive.contains(name) {
            let known: Vec<&str> = passive
                .iter()
                .map(String::as_str)
                .chain(config.channels.iter().map(|c| c.name.as_str()))
                .collect();
            return Err(format!(
                "no channel named {name:?} (configured: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    let o = sample(config, status);
    let e = entry(&o);
    let mut out = Vec::new();
    for (name, built) in build_each(config) {
        if !channels.is_empty() && !channels.iter().any(|c| c == name) {
            continue;
        }
        let result = match built {
            Ok(sink) => {
                let note = match &sink {
                    PassiveSink::Nsca(_) => {
                        " (NSCA never confirms: check the service in Nagios; a wrong password or \
                         method is silently dropped by the daemon)"
                    }
                    PassiveSink::Icinga2(_) => " (Icinga 2 accepted it)",
                    _ => " (Nagios does not confirm: check the service in Nagios)",
                };
                send(&sink, &e).await.map(|d| format!("{d}{note}"))
            }
            Err(x) => Err(x),
        };
        out.push(ProbeResult {
            name: name.into(),
            kind: name.into(),
            result,
        });
    }
    for c in &config.channels {
        if !channels.is_empty() && !channels.contains(&c.name) {
            continue;
        }
        let result = match ChannelSink::build(c, &config.agent.host_name) {
            Ok(sink) => send(&sink, &e).await,
            Err(x) => Err(x),
        };
        out.push(ProbeResult {
            name: c.name.clone(),
            kind: c.kind.name().into(),
            result,
        });
    }
    Ok(out)
}
