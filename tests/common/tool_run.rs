//! Helpers of the tests that run the real backup tools (`tests/real_tools*.rs`): a tool's
//! stdout and stderr into one log file as `> log 2>&1` would, its exit code as a shell reports
//! it, signals by pid, and parsing the log with the tool's format while `auto` must detect it.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nagbridge::formats::{detect, parse, FileMeta, Format, Input, Options};
use nagbridge::outcome::Outcome;

/// Exit code as a shell reports it: the code, or 128 + the signal.
pub fn code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Start `cmd` with stdout and stderr going to `log` (one file, like `> log 2>&1`).
pub fn spawn_logged(cmd: &mut Command, log: &Path, stdin: Stdio) -> Child {
    let f = File::create(log).unwrap();
    cmd.stdin(stdin)
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// Run to the end; (output, exit code).
pub fn run_logged(cmd: &mut Command, log: &Path) -> (Vec<u8>, i32) {
    let mut child = spawn_logged(cmd, log, Stdio::null());
    let status = child.wait().unwrap();
    (std::fs::read(log).unwrap(), code_of(status))
}

/// Send `sig` (`-INT`, `-TERM`, ...) to the child by its pid.
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} failed");
}

/// `bytes` (the file `path`, job `job` when the content names none) parsed as `format`, with
/// the exit code when given; auto detection must pick `format` and give as many outcomes.
pub fn parse_detected(
    format: Format,
    path: &str,
    job: &str,
    bytes: &[u8],
    code: Option<i32>,
    complete: bool,
) -> Vec<Outcome> {
    let meta = FileMeta::for_path(path);
    let options = Options {
        job: job.into(),
        ..Options::default()
    };
    let input = Input {
        bytes,
        meta: &meta,
        exit_code: code,
        options: &options,
        complete,
    };
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(
        detect::detect(&input),
        Some(format),
        "auto detection of:\n{text}"
    );
    let named = parse(format, &input).outcomes;
    let auto = parse(Format::Auto, &input).outcomes;
    assert_eq!(named.len(), auto.len(), "named and auto differ:\n{text}");
    named
}
