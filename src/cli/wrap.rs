//! `nagbridge wrap [-c FILE] --job NAME [--format NAME] -- CMD [ARGS...]`: run a backup command,
//! derive its outcome from exit code, duration and output (with the format's parser when
//! given), and hand it to the running agent, or, when none runs, deliver it at once like `run`
//! would; exits with the command's exit code. The command runs even when the config cannot be
//! loaded (monitoring must never stop a backup); the problem is then reported on stderr.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;

use crate::agent::cadence::Cadence;
use crate::agent::wrap;
use crate::config::{self, Config};
use crate::delivery::DeliveryConfig;
use crate::formats::{Format, Options};
use crate::outcome::Outcome;
use crate::pipeline::{self, Pipeline};
use crate::state::{LockError, Role, StateLock};

/// Arguments of `wrap`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The command runs even when the config is broken; wrap exits with its exit code (128+N when
killed by signal N, 127 when it could not be started, which is also reported as CRITICAL).
While `nagbridge run` uses the same state_dir, the result is handed to it; otherwise wrap
delivers it (and leaves it spooled for `nagbridge run` when the server is unreachable). Either
way the job counts for its [[job]] cadence. A failure's first output line says why: the last
output line with an error word, then the exit code. Only the program's name reaches Nagios,
never its arguments. -q: no status lines on stderr, only problems (for cron).

Example (crontab):
  0 2 * * * nagbridge wrap -q --job nightly --format restic -- restic backup --json /srv")]
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
/// not be started). `quiet` (the global `-q`) keeps the status lines off stderr; problems that
/// delay or lose the result are always printed.
pub fn main(args: &WrapArgs, quiet: bool) -> i32 {
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
    let say = |line: String| {
        if !quiet {
            eprintln!("nagbridge wrap: {line}");
        }
    };
    runtime.block_on(async {
        let tail_limit = config
            .as_ref()
            .map(|c| c.agent.max_file_size)
            .unwrap_or(16 << 20)
            .min(usize::MAX as u64) as usize;
        let (program, rest) = args.command.split_first().expect("clap requires a command");
        // The program only: arguments may carry a password and must not reach Nagios.
        let shown = std::path::Path::new(program)
            .file_name()
            .unwrap_or(program)
            .to_string_lossy()
            .into_owned();
        let (outcomes, code) = match wrap::run(program, rest, tail_limit).await {
            Ok(run) => {
                let code = run
                    .exit_code
                    .unwrap_or_else(|| 128 + run.signal.unwrap_or(0));
                let options = Options {
                    job: args.job.clone(),
                    ..Options::default()
                };
                (
                    wrap::outcomes(&run, &args.job, &shown, args.format, &options),
                    code,
                )
            }
            Err(e) => {
                eprintln!("nagbridge wrap: {e}");
                (vec![wrap::not_started(&args.job, &shown, &e)], 127)
            }
        };
        if let Ok(c) = &config {
            for o in &outcomes {
                say(format!(
                    "{} {}: {}",
                    o.job,
                    o.status.nagios_label(),
                    o.summary.as_deref().unwrap_or("")
                ));
            }
            report(c, outcomes, &say).await;
        }
        code
    })
}

/// Hand the outcomes to the agent through the inbox (durable once there). When no agent holds
/// the state directory, take its lock, move the inbox into the destination spools, count the
/// jobs for the cadence and deliver for up to the NSCA timeout plus 5 s; what is not delivered
/// stays spooled for `nagbridge run` (or the next `wrap`).
async fn report(config: &Config, outcomes: Vec<Outcome>, say: &dyn Fn(String)) {
    let state_dir = &config.agent.state_dir;
    let handed = std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("cannot create state_dir {}: {e}", state_dir.display()))
        .and_then(|()| pipeline::open_inbox(state_dir).map_err(|e| e.to_string()))
        .and_then(|inbox| {
            outcomes
                .iter()
                .try_for_each(|o| pipeline::hand_over(&inbox, o).map(drop))
                .map_err(|e| e.to_string())
        });
    if let Err(e) = handed {
        eprintln!("nagbridge wrap: {e}; the result is lost (run wrap as the agent's user or root)");
        return;
    }
    let wait = config.delivery_timeout() + Duration::from_secs(5);
    let lock = {
        let state_dir = state_dir.clone();
        tokio::task::spawn_blocking(move || {
            StateLock::acquire_waiting(&state_dir, Role::Wrap, wait, |h| h.role == Some(Role::Wrap))
        })
        .await
    };
    let lock = match lock {
        Ok(Ok(lock)) => lock,
        Ok(Err(LockError::Held { holder, .. })) => {
            say(format!("handed to the running agent, {holder}"));
            return;
        }
        Ok(Err(e)) => {
            eprintln!(
                "nagbridge wrap: {e}; the result waits in {} for `nagbridge run`",
                state_dir.display()
            );
            return;
        }
        Err(e) => {
            eprintln!("nagbridge wrap: {e}; the result waits for `nagbridge run`");
            return;
        }
    };
    deliver(config, say).await;
    drop(lock);
}

/// With the lock held: inbox -> destination spools -> delivery, bounded in time.
async fn deliver(config: &Config, say: &dyn Fn(String)) {
    let state_dir = &config.agent.state_dir;
    let pipeline = match Pipeline::start(config, DeliveryConfig::default().poll_interval) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("nagbridge wrap: {e}; the result stays spooled for `nagbridge run`");
            return;
        }
    };
    let moved =
        pipeline::open_inbox(state_dir).and_then(|inbox| pipeline::drain_inbox(&inbox, &pipeline));
    match moved {
        Ok(moved) => {
            // wrap results count for the [[job]] cadence like the agent's own.
            let mut cadence = Cadence::load(state_dir, Utc::now());
            let now = Utc::now();
            for o in &moved {
                cadence.observe_outcome(o, now);
            }
            if let Err(e) = cadence.save() {
                eprintln!("nagbridge wrap: cannot save the job cadence: {e}");
            }
        }
        Err(e) => {
            eprintln!("nagbridge wrap: {e}; the result waits in the inbox for `nagbridge run`")
        }
    }
    let deadline = tokio::time::Instant::now() + config.delivery_timeout() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline && pipeline.pending() > 0 && !pipeline.failing() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left: Vec<(String, usize, Option<String>)> = pipeline
        .destinations()
        .iter()
        .map(|d| {
            (
                d.describe().to_string(),
                d.spool().len().unwrap_or(0),
                d.stats().last_error,
            )
        })
        .collect();
    pipeline.shutdown(tokio::time::Instant::now()).await;
    for (describe, n, error) in left {
        if n == 0 {
            say(format!("delivered to {describe}"));
        } else {
            eprintln!(
                "nagbridge wrap: {n} result(s) not delivered to {describe} yet ({}); they stay \
                 spooled in {} for `nagbridge run` or the next wrap",
                error.unwrap_or_else(|| "timeout".into()),
                state_dir.display()
            );
        }
    }
}
