//! `nagbridge status [-c FILE] [--json]`: what is pending, failing and last delivered, per
//! destination, job and watch (SPEC section 8); exit 0 when nothing is failing, 1 otherwise,
//! 2 when the config cannot be loaded. Read-only: safe beside a running agent.

use std::path::PathBuf;

use chrono::Utc;

use crate::config::{self, Config};
use crate::status_report;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Config file [default: $NAGBRIDGE_CONFIG, else /etc/nagbridge/nagbridge.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON (one object) instead of text
    #[arg(long)]
    pub json: bool,
}

/// Run the command; returns the exit code.
pub fn main(args: &StatusArgs) -> i32 {
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
    let now = Utc::now();
    let report = status_report::gather(&config, now);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("nagbridge status: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", report.render(now));
    }
    i32::from(report.failing())
}
