//! `nagbridge nagios-config [-c FILE]`: print the Nagios objects for nagbridge's passive checks
//! (see `crate::nagios_objects` for what they contain and why they load in Debian's stock
//! Nagios). Wiring only.

use crate::config::{self, Config};
use crate::nagios_objects::{self, ObjectOptions, SeenJobs};

/// What `nagios-config --help` prints after the options.
const AFTER_HELP: &str = "\
What it prints (Nagios object definitions; the first lines of the output repeat this):
  * command `nagbridge-stale`: run by Nagios when a service gets no result in time
    (freshness); it reports CRITICAL \"no backup result since <time>\";
  * templates `nagbridge-host` and `nagbridge-service` (passive, HARD at the first result),
    built on --host-template and --service-template;
  * one host per host name the services use (none with --no-hosts; `localhost` never, Debian's
    objects/localhost.cfg defines it);
  * one passive service per job, named as the agent names it ([nsca] host/service, or the
    matching [[job]]'s host/service): the heartbeat `nagbridge`, every [[job]] with an exact
    name, and every job the agent has already delivered (read from <state_dir>/cadence.json:
    jobs named by result files or matched by a glob [[job]]; --no-seen-jobs leaves them out).
    Freshness (freshness_threshold = every + grace) comes from the first [[job]] with `every`
    that matches the job; a job that no such [[job]] matches gets no freshness.

Templates assumed: `generic-host`, `generic-service`, contact group `admins` and time period
`24x7`, as Debian's nagios4 package defines them (/etc/nagios4/objects/templates.cfg,
contacts.cfg, timeperiods.cfg). Debian's generic-host has no max_check_attempts, check_period or
contacts, which Nagios requires: the output adds them in `nagbridge-host-defaults` and
`nagbridge-service-defaults` (max_check_attempts 1, check_period and notification_period from
--timeperiod, contact_groups from --contact-groups), listed after your template, so a directive
your template sets wins. Your own templates: --host-template NAME --service-template NAME (and
--contact-groups / --timeperiod when `admins` or `24x7` do not exist in your config). Hosts that
already exist in your Nagios config: --no-hosts.

--icinga2 prints Icinga 2 objects instead: template Service \"nagbridge-service\" (check_command
\"passive\", max_check_attempts 1, CRITICAL \"no backup result\" when results stop), template Host
\"nagbridge-host\" and the hosts (none with --no-hosts), one service per job as above, named by
[icinga2]'s host/service (or the matching [[job]]'s), check_interval = every + grace. Install:
  nagbridge nagios-config --icinga2 > /etc/icinga2/conf.d/nagbridge.conf
  icinga2 daemon -C && systemctl reload icinga2
(in a cluster, on the master, in /etc/icinga2/zones.d/<zone of the backup hosts>/).

Install (Debian's nagios4 reads every *.cfg file in /etc/nagios4/conf.d):
  nagbridge nagios-config -c /etc/nagbridge/nagbridge.toml > /etc/nagios4/conf.d/nagbridge.cfg
  nagios4 -v /etc/nagios4/nagios.cfg     # must report \"Total Errors: 0\"
  systemctl reload nagios4
Run it where the config and the agent's state_dir are (the backup host); when that is not the
Nagios server, copy the output there as /etc/nagios4/conf.d/nagbridge.cfg. Run it again when
jobs are added or first seen. Edit the nagbridge config, not the output.";

/// Arguments of `nagios-config`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct NagiosConfigArgs {
    /// Config file [default: $NAGBRIDGE_CONFIG, else /etc/nagbridge/nagbridge.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Existing service template that `nagbridge-service` is built on (Debian's stock
    /// objects/templates.cfg defines `generic-service`)
    #[arg(long, value_name = "NAME", default_value = "generic-service")]
    pub service_template: String,
    /// Existing host template that `nagbridge-host` is built on (Debian's stock
    /// objects/templates.cfg defines `generic-host`)
    #[arg(long, value_name = "NAME", default_value = "generic-host")]
    pub host_template: String,
    /// Contact groups notified when the templates do not name contacts (Debian's stock
    /// objects/contacts.cfg defines `admins`)
    #[arg(long, value_name = "GROUP[,GROUP...]", default_value = "admins")]
    pub contact_groups: String,
    /// Time period for check_period and notification_period when the templates do not set
    /// them (Debian's stock objects/timeperiods.cfg defines `24x7`)
    #[arg(long, value_name = "NAME", default_value = "24x7")]
    pub timeperiod: String,
    /// Do not define hosts (they already exist in your Nagios config)
    #[arg(long)]
    pub no_hosts: bool,
    /// Only the configured jobs: leave out the jobs the agent has seen (its state_dir's
    /// cadence.json), for output that depends on the config alone
    #[arg(long)]
    pub no_seen_jobs: bool,
    /// Print Icinga 2 objects instead (they pass `icinga2 daemon -C`): passive services with
    /// check_command "passive", HARD at the first result, CRITICAL when results stop
    #[arg(long)]
    pub icinga2: bool,
}

impl NagiosConfigArgs {
    /// The object options these arguments give.
    pub fn object_options(&self) -> ObjectOptions {
        ObjectOptions {
            service_template: self.service_template.clone(),
            host_template: self.host_template.clone(),
            contact_groups: self.contact_groups.clone(),
            timeperiod: self.timeperiod.clone(),
            no_hosts: self.no_hosts,
            no_seen_jobs: self.no_seen_jobs,
        }
    }
}

/// Run the command; returns the exit code.
pub fn main(args: &NagiosConfigArgs) -> i32 {
    let options = args.object_options();
    if let Some(p) = options.problem() {
        eprintln!("nagbridge nagios-config: {p}");
        return crate::cli::check_config::EXIT_CONFIG;
    }
    let path = config::locate(args.config.as_deref());
    match Config::load(&path) {
        Ok(c) => {
            let seen = SeenJobs::load(&c, args.no_seen_jobs);
            if let SeenJobs::Unavailable {
                file,
                missing: false,
                reason,
            } = &seen
            {
                eprintln!(
                    "nagbridge nagios-config: warning: {}: {reason}; only the configured jobs \
                     are printed",
                    file.display()
                );
            }
            let rendered = if args.icinga2 {
                crate::icinga2_objects::render(&c, &path, &options, &seen)
            } else {
                nagios_objects::render(&c, &path, &options, &seen)
            };
            print!("{}", rendered.text);
            // The agent's heartbeat warns about jobs with results but no service; what was
            // just defined is no longer one of them.
            if c.agent.state_dir.is_dir() {
                if let Err(e) = nagios_objects::record_generated(&c.agent.state_dir, &rendered.jobs)
                {
                    eprintln!(
                        "nagbridge nagios-config: note: cannot record the generated services in \
                         {} ({e}); the agent's heartbeat keeps naming the jobs without a [[job]] \
                         section until it can (run as the agent's user or root)",
                        c.agent.state_dir.display()
                    );
                }
            }
            0
        }
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            eprintln!("nagbridge: fix the config first (nagbridge check-config)");
            crate::cli::check_config::EXIT_CONFIG
        }
    }
}
