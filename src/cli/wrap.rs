//! `nagbridge wrap [-c FILE] --job NAME [--format NAME] -- CMD [ARGS...]`: run a backup command,
//! derive its outcome from exit code, duration and output (with the format's parser when
//! given), spool it and try to deliver it at once like `run` would; exits with the command's
//! exit code. The command runs even when the config cannot be loaded (monitoring must never
//! stop a backup); the problem is then reported on stderr.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::agent::run::nsca_sink_config;
use crate::agent::wrap;
use crate::config::{self, Config};
use crate::delivery::{Delivery, DeliveryConfig};
use crate::formats::{Format, Options};
use crate::sinks::nsca::NscaSink;
use crate::spool::Spool;

/// Arguments of `wrap`.
#[derive(Debug, clap::Args)]
pub struct WrapArgs {
    /// Config file [default: $NAGBRIDGE_CONFIG, else /etc/nagbridge/nagbridge.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Job name (the Nagios service is made from it, e.g. "backup NAME")
    #[arg(long)]
    pub job: String,
    /// Parse the command's output with this format (restic, borg, ...); without it, exit code 0
    /// is OK and anything else CRITICAL with the last output lines
    #[arg(long, short = 'f')]
    pub format: Option<Format>,
    /// The command and its arguments, after `--`
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Run the command; returns its exit code (128 + signal when it was killed, 127 when it could
/// not be started).
pub fn main(args: &WrapArgs) -> i32 {
    let path = config::locate(args.config.as_deref());
    let config = Config::load(&path);
    if let Err(e) = &config {
        for line in e.lines() {
            eprintln!("nagbridge wrap: {line}");
        }
        eprintln!("nagbridge wrap: the command runs, but its result cannot be reported");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nagbridge wrap: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async {
        let tail_limit = config
            .as_ref()
            .map(|c| c.agent.max_file_size)
            .unwrap_or(16 << 20)
            .min(usize::MAX as u64) as usize;
        let (program, rest) = args.command.split_first().expect("clap requires a command");
        let run = match wrap::run(program, rest, tail_limit).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("nagbridge wrap: {e}");
                if let Ok(c) = &config {
                    let o = crate::outcome::Outcome::unknown(&args.job, "wrap", e.to_string());
                    report(c, vec![o]).await;
                }
                return 127;
            }
        };
        let code = run
            .exit_code
            .unwrap_or_else(|| 128 + run.signal.unwrap_or(0));
        if let Ok(c) = &config {
            let shown = args
                .command
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ");
            let options = Options {
                job: args.job.clone(),
                ..Options::default()
            };
            let outcomes = wrap::outcomes(&run, &args.job, &shown, args.format, &options);
            report(c, outcomes).await;
        }
        code
    })
}

/// Spool the outcomes, then deliver what is pending for up to the NSCA timeout plus 5 s; what
/// is not delivered stays spooled for `nagbridge run` (or the next `wrap`).
async fn report(config: &Config, outcomes: Vec<crate::outcome::Outcome>) {
    let spool = match Spool::open(&config.agent.state_dir, "nsca") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nagbridge wrap: cannot open the spool: {e}; the result is lost");
            return;
        }
    };
    for o in &outcomes {
        match spool.enqueue(o) {
            Ok(_) => eprintln!("nagbridge wrap: {} {} spooled", o.job, o.status),
            Err(e) => eprintln!("nagbridge wrap: cannot spool the result of {}: {e}", o.job),
        }
    }
    let sink = match nsca_sink_config(config).and_then(|c| Ok(NscaSink::new(c)?)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nagbridge wrap: {e:#}; the result stays spooled");
            return;
        }
    };
    let delivery = Delivery::new(spool.clone(), sink, DeliveryConfig::default());
    let stats = delivery.stats();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(delivery.run(stopped));
    let deadline = tokio::time::Instant::now() + config.nsca.timeout + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline && spool.len().unwrap_or(0) > 0 {
        if stats.snapshot().failing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    match spool.len() {
        Ok(0) => eprintln!("nagbridge wrap: delivered to {}", config.nsca.server),
        Ok(n) => eprintln!(
            "nagbridge wrap: {n} result(s) not delivered yet ({}); they stay spooled in {} for `nagbridge run`",
            stats.snapshot().last_error.unwrap_or_else(|| "timeout".into()),
            config.agent.state_dir.display()
        ),
        Err(e) => eprintln!("nagbridge wrap: {e}"),
    }
}
