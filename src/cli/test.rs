//! `nagbridge test [-c FILE] [--channel NAME]... [--status success|warning|failure]`: send one
//! sample outcome to every passive-check destination and every channel (or the named ones),
//! directly, and
//! print one line per destination; exit 0 when every one worked, 1 otherwise, 2 on a config
//! error. Wiring only: the work is `crate::pipeline::probe`.

use std::path::PathBuf;

use crate::config::{self, Config};
use crate::outcome::Status;
use crate::pipeline::probe;

/// The statuses the sample can have.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SampleStatus {
    /// OK.
    Success,
    /// WARNING.
    Warning,
    /// CRITICAL.
    Failure,
}

/// Arguments of `test`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The sample outcome is job `nagbridge-test` on the agent's host_name, with two items, and is sent
directly (not through the spool), whatever the channels' `when` and `jobs` say. `--channel nsca`,
`--channel icinga2` and `--channel nagios` name the passive-check destinations. NSCA never
confirms receipt: OK there means the server read every byte; look for the service (\"backup
nagbridge-test\" with the default template) in Nagios, which drops results for services it does
not know. Icinga 2 confirms each result (a service it does not know is a FAILED line, unless
create_services is on). [nagios] writes into Nagios' command file or result directory, which
Nagios reads without confirming.")]
pub struct TestArgs {
    /// Config file [default: $NAGBRIDGE_CONFIG, else /etc/nagbridge/nagbridge.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only this destination (repeatable: nsca, icinga2, nagios or a channel's name); default:
    /// every destination
    #[arg(long = "channel", value_name = "NAME")]
    pub channels: Vec<String>,
    /// The sample's status
    #[arg(long, value_enum, default_value = "warning")]
    pub status: SampleStatus,
}

/// Run the command; returns the exit code.
pub fn main(args: &TestArgs) -> i32 {
    let path = config::locate(args.config.as_deref());
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            return crate::cli::check_config::EXIT_CONFIG;
        }
    };
    let status = match args.status {
        SampleStatus::Success => Status::Success,
        SampleStatus::Warning => Status::Warning,
        SampleStatus::Failure => Status::Failure,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nagbridge test: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(probe::probe(&config, &args.channels, status)) {
        Ok(results) => {
            for r in &results {
                println!("{r}");
            }
            i32::from(results.iter().any(|r| r.result.is_err()))
        }
        Err(e) => {
            eprintln!("nagbridge test: {e}");
            crate::cli::check_config::EXIT_CONFIG
        }
    }
}
