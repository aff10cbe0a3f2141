//! The Nagios objects `nagbridge nagios-config` prints for nagbridge's passive
//! checks: the stale-result command, host and service templates, the hosts, and one passive
//! service per job (the agent's heartbeat, every exact `[[job]]` name, and every job the agent
//! has already seen, from its cadence state), with freshness from the job's cadence
//! (`every + grace`).
//!
//! Owns: what the generated objects contain. The output loads in Debian's stock Nagios 4
//! (`/etc/nagios4/nagios.cfg` and its object files as the package installs them), where
//! `generic-host` lacks `max_check_attempts`, `check_period` and contacts: the templates
//! `nagbridge-host-defaults` / `nagbridge-service-defaults` supply them, listed after the site's
//! template so that a template that has them wins. Nothing the stock config defines is defined
//! again. Tested with `nagios4 -v` on a copy of the stock config (tests/nagios_config.rs).
//! Must not: read anything but the config and the cadence file; it writes only the record of
//! the jobs it defined services for ([`record_generated`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{self, Config, JobRule};
use crate::outcome::{Outcome, Status};

/// How the objects are built (the command's options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectOptions {
    /// Existing service template `nagbridge-service` is built on.
    pub service_template: String,
    /// Existing host template `nagbridge-host` is built on.
    pub host_template: String,
    /// Contact groups for `nagbridge-*-defaults`.
    pub contact_groups: String,
    /// Time period for `nagbridge-*-defaults`.
    pub timeperiod: String,
    /// Define no hosts.
    pub no_hosts: bool,
    /// Leave out the jobs the agent has seen.
    pub no_seen_jobs: bool,
}

impl ObjectOptions {
    /// Every default.
    pub fn defaults() -> ObjectOptions {
        ObjectOptions {
            service_template: "generic-service".into(),
            host_template: "generic-host".into(),
            contact_groups: "admins".into(),
            timeperiod: "24x7".into(),
            no_hosts: false,
            no_seen_jobs: false,
        }
    }

    /// The options that differ from the defaults, as a command line would give them.
    pub fn options(&self) -> String {
        let d = ObjectOptions::defaults();
        let mut s = String::new();
        for (flag, value, default) in [
            ("--host-template", &self.host_template, &d.host_template),
            (
                "--service-template",
                &self.service_template,
                &d.service_template,
            ),
            ("--contact-groups", &self.contact_groups, &d.contact_groups),
            ("--timeperiod", &self.timeperiod, &d.timeperiod),
        ] {
            if value != default {
                let _ = write!(s, " {flag} {value}");
            }
        }
        if self.no_hosts {
            s.push_str(" --no-hosts");
        }
        if self.no_seen_jobs {
            s.push_str(" --no-seen-jobs");
        }
        s
    }

    /// A problem with an object name given on the command line.
    pub fn problem(&self) -> Option<String> {
        [
            ("--host-template", &self.host_template),
            ("--service-template", &self.service_template),
            ("--contact-groups", &self.contact_groups),
            ("--timeperiod", &self.timeperiod),
        ]
        .into_iter()
        .find_map(|(flag, v)| {
            let bad = v.trim().is_empty()
                || v.chars()
                    .any(|c| c.is_control() || c == ';' || c.is_whitespace());
            bad.then(|| format!("{flag} {v:?}: not a Nagios object name"))
        })
    }
}

/// The name of the generated stale-result command.
pub const STALE_COMMAND: &str = "nagbridge-stale";

/// The jobs the agent has seen, as read from its state (or why they are not there).
#[derive(Debug, Clone, PartialEq)]
pub enum SeenJobs {
    /// `--no-seen-jobs`.
    Skipped,
    /// The cadence file could not be read: `missing` when it does not exist (the agent has
    /// not saved one here), else `reason` says why.
    Unavailable {
        file: PathBuf,
        missing: bool,
        reason: String,
    },
    /// The job names in the cadence file.
    Read { file: PathBuf, jobs: Vec<String> },
}

impl SeenJobs {
    /// Read the cadence file of `config`'s state_dir (unless `skip`).
    pub fn load(config: &Config, skip: bool) -> SeenJobs {
        if skip {
            return SeenJobs::Skipped;
        }
        let file = crate::agent::cadence::state_file(&config.agent.state_dir);
        match crate::agent::cadence::seen_jobs(&config.agent.state_dir) {
            Ok(jobs) => SeenJobs::Read { file, jobs },
            Err(e) => {
                let missing = e.kind() == std::io::ErrorKind::NotFound;
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        "not there yet (the agent has not run here, or has seen no result)"
                            .to_string()
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "permission denied (run as the agent's user or root)".to_string()
                    }
                    std::io::ErrorKind::InvalidData => format!("not valid agent state ({e})"),
                    _ => e.to_string(),
                };
                SeenJobs::Unavailable {
                    file,
                    missing,
                    reason,
                }
            }
        }
    }
}

/// Seconds, rounded up, as Nagios wants them.
fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A job name is exact when it has no glob characters: only then can a service be defined.
fn is_exact(name: &str) -> bool {
    !name.contains(['*', '?', '['])
}

/// Characters Nagios refuses in host names and service descriptions: the stock
/// `illegal_object_name_chars` of Debian's nagios.cfg (and Nagios' sample config).
const ILLEGAL_NAME_CHARS: &str = "`~!$%^&*|'\"<>?,()=";

/// Why Nagios would refuse `name` as a host name or service description, if it would.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    name.chars()
        .find(|c| ILLEGAL_NAME_CHARS.contains(*c))
        .map(|c| format!("`{c}` is in Nagios' illegal_object_name_chars"))
}

/// The `[[job]]` whose cadence applies to `job`: the first one with `every` that matches it
/// (as the agent's own stale-job check picks it).
fn cadence_rule<'a>(config: &'a Config, job: &str) -> Option<&'a JobRule> {
    config
        .jobs
        .iter()
        .find(|r| r.every.is_some() && r.matches(job))
}

/// When a generated service is stale.
#[derive(Clone, Copy)]
pub(crate) enum Freshness {
    /// The heartbeat: three missed heartbeats.
    Heartbeat(Duration),
    /// A job with a cadence: `every + grace`.
    Cadence { every: Duration, grace: Duration },
    /// No cadence configured: never stale.
    None,
}

/// One passive service to define.
pub(crate) struct Service {
    /// The job it is for (None: the heartbeat).
    pub job: Option<String>,
    pub host: String,
    pub name: String,
    /// The comment line above the definition: where the job comes from.
    pub origin: String,
    pub freshness: Freshness,
}

/// What [`render`] made.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The object definitions.
    pub text: String,
    /// The jobs a passive service was defined for.
    pub jobs: Vec<String>,
}

/// The services to define for `config` and the jobs the agent has `seen`, named by `naming`;
/// `problem` says why a host or service name cannot be defined. Returns them and the notes
/// (what was left out, and why).
pub(crate) fn collect(
    config: &Config,
    seen: &SeenJobs,
    naming: &crate::sinks::nsca::Naming,
    problem: fn(&str) -> Option<String>,
) -> (Vec<Service>, Vec<String>) {
    let agent_host = &config.agent.host_name;
    let fmt = config::duration::format_duration;
    let mut services: Vec<Service> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if let Some(hb) = config.agent.heartbeat {
        services.push(Service {
            job: None,
            host: agent_host.clone(),
            name: crate::agent::run::HEARTBEAT_SERVICE.into(),
            origin: format!(
                "the agent's heartbeat (every {}; stale after 3 missed)",
                fmt(hb)
            ),
            freshness: Freshness::Heartbeat(hb),
        });
    }
    // Exact [[job]] names first, in config order, then the seen jobs (sorted).
    let mut jobs: Vec<(String, String)> = Vec::new();
    for rule in config.jobs.iter().filter(|r| is_exact(&r.name)) {
        jobs.push((rule.name.clone(), format!("[[job]] {}", rule.name)));
    }
    let seen_jobs: &[String] = match seen {
        SeenJobs::Read { jobs, .. } => jobs,
        _ => &[],
    };
    for job in seen_jobs {
        let origin = match config.job_rule(job) {
            Some(r) if !is_exact(&r.name) => format!("seen by the agent, [[job]] {}", r.name),
            _ => "seen by the agent".to_string(),
        };
        jobs.push((job.clone(), origin));
    }
    let mut listed = BTreeSet::new();
    for (job, origin) in jobs {
        if !listed.insert(job.clone()) {
            continue;
        }
        let (host, name) = naming(&Outcome::new(job.clone(), Status::Success));
        let freshness = match cadence_rule(config, &job) {
            Some(JobRule {
                every: Some(every),
                grace,
                ..
            }) => Freshness::Cadence {
                every: *every,
                grace: *grace,
            },
            _ => Freshness::None,
        };
        let origin = format!("job {job}: {origin}");
        services.push(Service {
            job: Some(job.clone()),
            host,
            name,
            origin,
            freshness,
        });
    }

    // Services Nagios would refuse or see twice are left out, with the reason.
    let mut defined = BTreeSet::new();
    services.retain(|s| {
        let problem = problem(&s.host)
            .map(|p| format!("host name {:?}: {p}", s.host))
            .or_else(|| problem(&s.name).map(|p| format!("service name {:?}: {p}", s.name)));
        if let Some(p) = problem {
            notes.push(format!(
                "{}: no service generated, {p}; give the job a [[job]] whose \
                 `service`/`host` avoids it",
                s.origin
            ));
            return false;
        }
        if !defined.insert((s.host.clone(), s.name.clone())) {
            notes.push(format!(
                "{}: shares service {:?} on host {} with a job above: defined once",
                s.origin, s.name, s.host
            ));
            return false;
        }
        true
    });
    for rule in config.jobs.iter().filter(|r| !is_exact(&r.name)) {
        let n = seen_jobs.iter().filter(|j| rule.matches(j)).count();
        if n == 0 {
            notes.push(format!(
                "[[job]] {}: a glob, and no job matching it has been seen{}: no service yet; \
                 run nagios-config again after its first results (or add an exact [[job]])",
                rule.name,
                match seen {
                    SeenJobs::Skipped => " (--no-seen-jobs)",
                    SeenJobs::Unavailable { .. } => " (agent state unreadable)",
                    SeenJobs::Read { .. } => "",
                }
            ));
        }
    }

    (services, notes)
}

/// The object definitions for `config` (read from `path`) and the jobs the agent has `seen`.
pub fn render(config: &Config, path: &Path, args: &ObjectOptions, seen: &SeenJobs) -> Rendered {
    let naming = crate::agent::run::naming(config);
    let fmt = config::duration::format_duration;
    let (services, notes) = collect(config, seen, &naming, name_problem);
    let hosts: BTreeSet<&str> = if args.no_hosts {
        BTreeSet::new()
    } else {
        services.iter().map(|s| s.host.as_str()).collect()
    };
    let stock_localhost = hosts.contains("localhost");
    let hosts: Vec<&str> = hosts.into_iter().filter(|h| *h != "localhost").collect();

    let mut out = String::new();
    header(&mut out, path, args, seen, hosts.len(), services.len());
    let _ = writeln!(
        out,
        "define command {{\n    command_name    {STALE_COMMAND}\n    command_line    \
         /bin/sh -c 'l=$LASTSERVICECHECK$\\; if [ \"$$l\" -gt 0 ] 2>/dev/null\\; then \
         s=$$(date -d \"@$$l\" \"+%Y-%m-%d %H:%M\")\\; else s=never\\; fi\\; \
         echo \"CRITICAL: no backup result since $$s (expected every $ARG1$)\"\\; exit 2'\n}}\n"
    );
    let (period, groups) = (&args.timeperiod, &args.contact_groups);
    if !hosts.is_empty() {
        let _ = writeln!(
            out,
            "# What Nagios requires of a host and Debian's generic-host lacks; used only where\n\
             # {} does not set it.\n\
             define host {{\n    name                    nagbridge-host-defaults\n    \
             register                0\n    max_check_attempts      1\n    \
             check_period            {period}\n    notification_period     {period}\n    \
             contact_groups          {groups}\n}}\n\n\
             define host {{\n    name                    nagbridge-host\n    \
             use                     {},nagbridge-host-defaults\n    \
             register                0\n}}\n",
            args.host_template, args.host_template
        );
    }
    let _ = writeln!(
        out,
        "# What Nagios requires of a service; used only where {} does not set it.\n\
         define service {{\n    name                    nagbridge-service-defaults\n    \
         register                0\n    check_period            {period}\n    \
         notification_period     {period}\n    contact_groups          {groups}\n}}\n\n\
         # Passive: HARD at the first result; the stale command runs only through freshness.\n\
         define service {{\n    name                    nagbridge-service\n    \
         use                     {},nagbridge-service-defaults\n    \
         register                0\n    active_checks_enabled   0\n    \
         passive_checks_enabled  1\n    check_freshness         1\n    \
         max_check_attempts      1\n    flap_detection_enabled  0\n    \
         check_command           {STALE_COMMAND}!the configured interval\n}}\n",
        args.service_template, args.service_template
    );
    if stock_localhost {
        let _ = writeln!(
            out,
            "# host localhost: not defined here (Debian's objects/localhost.cfg defines it)\n"
        );
    }
    for h in &hosts {
        let _ = writeln!(
            out,
            "define host {{\n    use                     nagbridge-host\n    \
             host_name               {h}\n    \
             alias                   {h} (backups reported by nagbridge)\n    \
             address                 {h}\n}}\n"
        );
    }
    for s in &services {
        let _ = writeln!(out, "# {}", s.origin);
        if matches!(s.freshness, Freshness::None) {
            out.push_str(
                "# No freshness: no [[job]] with `every` matches this job (add one to the \
                 nagbridge config\n# for a CRITICAL when its results stop).\n",
            );
        }
        let _ = write!(
            out,
            "define service {{\n    use                     nagbridge-service\n    \
             host_name               {}\n    service_description     {}\n",
            s.host, s.name
        );
        match s.freshness {
            Freshness::Heartbeat(hb) => {
                let _ = write!(
                    out,
                    "    freshness_threshold     {}   ; 3 heartbeats\n    \
                     check_command           {STALE_COMMAND}!{}\n",
                    secs(hb) * 3,
                    fmt(hb)
                );
            }
            Freshness::Cadence { every, grace } => {
                let _ = write!(
                    out,
                    "    freshness_threshold     {}   ; every {} + grace {}\n    \
                     check_command           {STALE_COMMAND}!{}\n",
                    secs(every) + secs(grace),
                    fmt(every),
                    fmt(grace),
                    fmt(every)
                );
            }
            Freshness::None => {
                out.push_str("    check_freshness         0   ; no cadence (see above)\n")
            }
        }
        out.push_str("}\n\n");
    }
    for n in notes {
        let _ = writeln!(out, "# {n}");
    }
    Rendered {
        text: out,
        jobs: services.iter().filter_map(|s| s.job.clone()).collect(),
    }
}

/// The file in the state directory that records the jobs `nagios-config` last defined
/// services for: the agent's heartbeat warns about a job with results but no service.
pub const GENERATED_FILE: &str = "nagios-services.json";

/// What [`GENERATED_FILE`] holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generated {
    /// When the objects were generated.
    pub generated: chrono::DateTime<chrono::Utc>,
    /// The jobs a service was defined for.
    pub jobs: Vec<String>,
}

/// Record in `state_dir` the jobs a service was defined for (owned like the state directory).
pub fn record_generated(state_dir: &Path, jobs: &[String]) -> std::io::Result<()> {
    let g = Generated {
        generated: chrono::Utc::now(),
        jobs: jobs.to_vec(),
    };
    let json = serde_json::to_vec_pretty(&g).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(&state_dir.join(GENERATED_FILE), &json)
}

/// The jobs the last `nagios-config` defined services for (empty when it never ran here).
pub fn generated_jobs(state_dir: &Path) -> Vec<String> {
    std::fs::read(state_dir.join(GENERATED_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Generated>(&b).ok())
        .map(|g| g.jobs)
        .unwrap_or_default()
}

/// The comment block that opens the output: what it is, from what, how to regenerate it.
fn header(
    out: &mut String,
    path: &Path,
    args: &ObjectOptions,
    seen: &SeenJobs,
    hosts: usize,
    services: usize,
) {
    let source = match seen {
        SeenJobs::Skipped => "# Jobs the agent has seen: not included (--no-seen-jobs).".into(),
        SeenJobs::Unavailable { file, reason, .. } => format!(
            "# Jobs the agent has seen: none included, {}: {reason}.",
            file.display()
        ),
        SeenJobs::Read { file, jobs } => format!(
            "# Jobs the agent has seen: {} in {} when this was generated.",
            jobs.len(),
            file.display()
        ),
    };
    let _ = writeln!(
        out,
        "# Nagios objects for nagbridge (passive checks for backup results), generated by\n\
         # `nagbridge nagios-config` from {path}.\n\
         {source}\n\
         # Regenerate (it is overwritten; edit the nagbridge config instead), check and load:\n\
         #   nagbridge nagios-config -c {path}{opts} > /etc/nagios4/conf.d/nagbridge.cfg\n\
         #   nagios4 -v /etc/nagios4/nagios.cfg && systemctl reload nagios4\n\
         #\n\
         # Contents:\n\
         # * the command {STALE_COMMAND}: what a service reports when its result is late;\n\
         # * templates (what Nagios requires and your template lacks comes from\n\
         #   nagbridge-*-defaults: max_check_attempts 1, check_period {tp}, contact_groups {cg}):\n\
         {templates}\
         # * {hosts};\n\
         # * {services}: the agent's heartbeat `nagbridge`, each exact [[job]]\n\
         #   and each job the agent has seen. A service turns CRITICAL by itself when no result\n\
         #   arrives within its freshness_threshold (the job's `every` plus `grace`).\n",
        path = path.display(),
        opts = args.options(),
        tp = args.timeperiod,
        cg = args.contact_groups,
        templates = if hosts > 0 {
            format!(
                "#   nagbridge-host on {}, nagbridge-service on {};\n",
                args.host_template, args.service_template
            )
        } else {
            format!("#   nagbridge-service on {};\n", args.service_template)
        },
        services = match services {
            1 => "1 passive service".to_string(),
            n => format!("{n} passive services"),
        },
        hosts = match (hosts, args.no_hosts) {
            (_, true) => "no hosts (--no-hosts: they must exist in your Nagios config)".to_string(),
            (1, false) => "1 host".to_string(),
            (n, false) => format!("{n} hosts"),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_nagios_refuses_are_caught() {
        assert_eq!(name_problem("backup nightly-db"), None);
        assert_eq!(name_problem("backup ünïcode.job_1"), None);
        assert!(name_problem("").is_some());
        for bad in ["db (prod)", "a,b", "x=y", "it's", "50%", "a|b"] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn regenerate_line_repeats_the_non_default_options() {
        let mut a = ObjectOptions::defaults();
        assert_eq!(a.options(), "");
        a.host_template = "linux-server".into();
        a.no_hosts = true;
        a.no_seen_jobs = true;
        assert_eq!(
            a.options(),
            " --host-template linux-server --no-hosts --no-seen-jobs"
        );
        assert_eq!(a.problem(), None);
        a.contact_groups = "admins\ndefine".into();
        assert!(a.problem().unwrap().starts_with("--contact-groups"));
    }
}
