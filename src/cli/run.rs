//! `nagbridge run [-c FILE]`: the agent. Runs until SIGTERM or SIGINT (then drains delivery
//! within `shutdown_timeout` and leaves the rest spooled); SIGHUP reloads the config (a config
//! that does not load is reported and the running one is kept). One agent per `state_dir`: a
//! second one exits 2 naming the first one's pid.

use std::path::PathBuf;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::agent::run::{lock_state_dir, run_once, Ending, Signal};
use crate::config::{self, Config};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Config file [default: $NAGBRIDGE_CONFIG, else /etc/nagbridge/nagbridge.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Run the agent; returns the exit code (0 after a signal, 1 on a runtime failure, 2 when the
/// config cannot be used).
pub fn main(args: &RunArgs) -> i32 {
    let path = config::locate(args.config.as_deref());
    let mut config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            eprintln!("nagbridge: the config has problems; nothing was started");
            return crate::cli::check_config::EXIT_CONFIG;
        }
    };
    for w in &config.warnings {
        tracing::warn!("{}: {w}", path.display());
    }
    // Held until the process ends, across reloads.
    let _lock = match lock_state_dir(&config) {
        Ok(lock) => lock,
        Err(e @ crate::state::LockError::Held { .. }) => {
            eprintln!("nagbridge: {e}; nothing was started");
            return crate::cli::check_config::EXIT_CONFIG;
        }
        Err(e) => {
            eprintln!("nagbridge: {e}");
            return 1;
        }
    };
    crate::memory::tune_allocator();
    // Blocking-pool threads (spool writes) leave soon after a burst, so an idle agent keeps
    // no thread (and no malloc arena) it does not need.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nagbridge: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let (tx, mut rx) = watch::channel(Signal::None);
        if let Err(e) = spawn_signal_handlers(tx) {
            eprintln!("nagbridge: cannot install signal handlers: {e}");
            return 1;
        }
        loop {
            match run_once(&config, &mut rx).await {
                Ok(Ending::Stop) => return 0,
                Ok(Ending::Reload) => match Config::load(&path) {
                    Ok(c) if c.agent.state_dir != config.agent.state_dir => {
                        tracing::error!(
                            "the new config moves state_dir to {}: restart the agent for that; \
                             keeping the running config",
                            c.agent.state_dir.display()
                        );
                    }
                    Ok(c) => {
                        tracing::info!(config = %path.display(), "config reloaded");
                        config = c;
                    }
                    Err(e) => {
                        for line in e.lines() {
                            tracing::error!("{line}");
                        }
                        tracing::error!("the new config has problems; keeping the running one");
                    }
                },
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("nagbridge: {e:#}");
                    return 1;
                }
            }
        }
    })
}

fn spawn_signal_handlers(tx: watch::Sender<Signal>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let s = tokio::select! {
                _ = term.recv() => Signal::Stop,
                _ = int.recv() => Signal::Stop,
                _ = hup.recv() => Signal::Reload,
            };
            tracing::info!(?s, "signal received");
            tx.send_replace(Signal::None);
            if tx.send(s).is_err() {
                break;
            }
        }
    });
    Ok(())
}
