//! The `nagbridge` binary: dispatches on the program name (`send_nsca` behaves as
//! `nagbridge send`) and on the subcommand. No logic beyond wiring.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nagbridge",
    version,
    about = "Backup results to Nagios passive checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: nagbridge::logging::LogFormat,
    /// More log output (-v debug, -vv trace)
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less log output (-q warnings only, -qq errors only); `wrap -q` also drops its status
    /// lines (cron mails only when a result could not be reported); `send` keeps send_nsca's
    /// --quiet
    #[arg(short = 'q', long = "log-quiet", global = true, action = clap::ArgAction::Count)]
    quiet: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Send passive checks read from stdin (a drop-in for send_nsca; see `nagbridge send --help`)
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Send {
        /// send_nsca's options, e.g. -H nagios (config: -c FILE, default /etc/send_nsca.cfg)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
    /// A self-contained tour: an in-process NSCA receiver gets sample backup results over the
    /// real protocol (AES and XOR), and you see what Nagios would receive. No outside server.
    Demo,
    /// Print the outcome(s) derived from each file as JSON lines; no network
    Parse(nagbridge::cli::parse::ParseArgs),
    /// The agent: watch the configured directories, parse each finished backup result and
    /// deliver it as a passive check, durably, until SIGTERM/SIGINT; SIGHUP reloads the config
    Run(nagbridge::cli::run::RunArgs),
    /// Run a backup command, turn its exit code, duration and output into an outcome and
    /// deliver it like `run` would; exits with the command's exit code
    Wrap(nagbridge::cli::wrap::WrapArgs),
    /// Print Nagios object definitions (hosts, passive services with freshness) for the
    /// configured jobs and the jobs the agent has seen; they load in Debian's stock Nagios
    NagiosConfig(nagbridge::cli::nagios_config::NagiosConfigArgs),
    /// Send a sample outcome to the NSCA server and to each channel (or the named ones),
    /// directly, and say per destination whether it worked; exit 1 when one did not
    Test(nagbridge::cli::test::TestArgs),
    /// What is pending, failing and last delivered, per destination, job and watch; exit 1
    /// when something is failing (read-only, safe beside a running agent)
    Status(nagbridge::cli::status::StatusArgs),
    /// Validate the config file offline: exit 0 when valid, else print every problem with its
    /// key path and exit 2
    CheckConfig {
        /// Config file [default: $NAGBRIDGE_CONFIG, else /etc/nagbridge/nagbridge.toml]
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn main() {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_os_string());
    if invoked_as.as_deref() == Some("send_nsca".as_ref()) {
        std::process::exit(nagbridge::cli::send::main(&argv.split_off(1)));
    }
    let cli = Cli::parse();
    nagbridge::logging::init(
        cli.log_format,
        cli.verbose.min(3) as i8 - cli.quiet.min(3) as i8,
    );
    let code = match cli.command {
        Command::Send { args } => nagbridge::cli::send::main(&args),
        Command::Demo => run_async(nagbridge::cli::demo::run()),
        Command::Parse(args) => nagbridge::cli::parse::run(&args),
        Command::Run(args) => nagbridge::cli::run::main(&args),
        Command::Wrap(args) => nagbridge::cli::wrap::main(&args, cli.quiet > 0),
        Command::NagiosConfig(args) => nagbridge::cli::nagios_config::main(&args),
        Command::Status(args) => nagbridge::cli::status::main(&args),
        Command::Test(args) => nagbridge::cli::test::main(&args),
        Command::CheckConfig { config } => nagbridge::cli::check_config::main(config.as_deref()),
    };
    std::process::exit(code);
}

/// Run an async command on a small runtime; errors print as a readable chain and exit 1.
fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nagbridge: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("nagbridge: {e:#}");
            1
        }
    }
}
