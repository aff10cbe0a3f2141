//! `nagbridge wrap`'s source: run a backup command, pass its output through, keep a bounded
//! tail of stdout and stderr (interleaved as they arrive, like `2>&1`), and turn exit code,
//! duration and output into an outcome (with the format's parser when one is given).
//!
//! Owns: process spawning and output capture. It does not deliver: the caller spools.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::process::Stdio;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::formats::{self, FileMeta, Format, Input, Options};
use crate::outcome::{Outcome, Status};

/// What a wrapped command did.
#[derive(Debug)]
pub struct Run {
    /// Exit code; None when killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// Start time.
    pub started: DateTime<Utc>,
    /// End time.
    pub finished: DateTime<Utc>,
    /// Seconds it ran.
    pub duration_s: f64,
    /// The last `tail_limit` bytes of its output (stdout and stderr interleaved).
    pub tail: Vec<u8>,
    /// Bytes of output in all.
    pub total: u64,
}

/// Why the command could not be run at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot run {program:?}: {source}")]
pub struct SpawnError {
    program: String,
    #[source]
    source: std::io::Error,
}

impl SpawnError {
    /// The OS error.
    pub fn io_error(&self) -> &std::io::Error {
        &self.source
    }
}

/// Run `program args`, teeing its stdout/stderr to ours, keeping the last `tail_limit` bytes.
pub async fn run(
    program: &OsString,
    args: &[OsString],
    tail_limit: usize,
) -> Result<Run, SpawnError> {
    let started = Utc::now();
    let clock = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SpawnError {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let out = child
        .stdout
        .take()
        .map(|s| tokio::spawn(pump(s, tokio::io::stdout(), tx.clone())));
    let err = child
        .stderr
        .take()
        .map(|s| tokio::spawn(pump(s, tokio::io::stderr(), tx.clone())));
    drop(tx);
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut total = 0u64;
    while let Some(chunk) = rx.recv().await {
        total += chunk.len() as u64;
        tail.extend(chunk);
        let excess = tail.len().saturating_sub(tail_limit);
        tail.drain(..excess);
    }
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    let status = child.wait().await.map_err(|source| SpawnError {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    use std::os::unix::process::ExitStatusExt;
    Ok(Run {
        exit_code: status.code(),
        signal: status.signal(),
        started,
        finished: Utc::now(),
        duration_s: clock.elapsed().as_secs_f64(),
        tail: tail.into(),
        total,
    })
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
    tx: mpsc::Sender<Vec<u8>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = to.write_all(&buf[..n]).await;
                let _ = to.flush().await;
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// The outcome(s) of a wrapped run: parsed with `format` when given (exit code included), else
/// success for exit 0 and failure otherwise, with the reason first and the last lines of output
/// as errors. `program` is what the outcome names as its source: the program only, never its
/// arguments (they may carry a password).
pub fn outcomes(
    run: &Run,
    job: &str,
    program: &str,
    format: Option<Format>,
    options: &Options,
) -> Vec<Outcome> {
    let meta = FileMeta {
        path: format!("wrap: {program}"),
        file_stem: job.to_string(),
        modified: Some(run.finished),
    };
    // a killed command counts as exit code 128 + signal, as shells report it
    let code = run.exit_code.or(run.signal.map(|s| 128 + s));
    let mut list = match format {
        Some(f) => {
            let input = Input {
                bytes: &run.tail,
                meta: &meta,
                exit_code: code,
                options,
                complete: true,
            };
            formats::parse(f, &input).outcomes
        }
        None => vec![plain(run, job, code, options)],
    };
    for o in &mut list {
        o.started = o.started.or(Some(run.started));
        o.finished = o.finished.or(Some(run.finished));
        o.duration_s = o.duration_s.or(Some(run.duration_s));
        o.source = Some(meta.path.clone());
        if o.job.is_empty() {
            o.job = job.to_string();
        }
    }
    list
}

/// The outcome of a command that could not be started at all: a failure (CRITICAL), since
/// the backup did not run; UNKNOWN is ignored by many setups.
pub fn not_started(job: &str, program: &str, error: &SpawnError) -> Outcome {
    let mut o = Outcome::new(job, Status::Failure);
    o.tool = Some("command".into());
    o.source = Some(format!("wrap: {program}"));
    o.summary = Some(format!(
        "the backup command did not start: {}",
        error.source
    ));
    o.errors.push(error.to_string());
    o.finished = Some(Utc::now());
    o
}

/// Words that make an output line the likely reason of a failure.
const REASON_WORDS: &[&str] = &[
    "error",
    "fatal",
    "failed",
    "failure",
    "denied",
    "cannot",
    "can't",
    "could not",
    "unable",
    "not found",
    "no such",
    "refused",
    "timed out",
    "timeout",
    "abort",
    "killed",
    "exception",
    "panic",
    "no space left",
    "disk full",
];

/// The line of `lines` that most likely says why the command failed: the last one with an
/// error word, else the last one.
fn reason<'a>(lines: &[&'a str]) -> Option<&'a str> {
    let has_word = |l: &str| {
        let l = l.to_ascii_lowercase();
        REASON_WORDS.iter().any(|w| l.contains(w))
    };
    lines
        .iter()
        .rev()
        .find(|l| has_word(l))
        .or(lines.last())
        .map(|l| l.trim())
}

fn plain(run: &Run, job: &str, code: Option<i32>, options: &Options) -> Outcome {
    let status = match code {
        Some(c) => options.exit_codes.get(&c).copied().unwrap_or(if c == 0 {
            Status::Success
        } else {
            Status::Failure
        }),
        None => Status::Unknown,
    };
    let mut o = Outcome::new(job, status);
    o.tool = Some("command".into());
    let took = crate::config::duration::format_duration(std::time::Duration::from_secs_f64(
        run.duration_s.max(0.0).round(),
    ));
    let how = match (run.exit_code, run.signal) {
        (Some(c), _) => format!("exited with code {c} after {took}"),
        (None, Some(s)) => format!("was killed by signal {s} after {took}"),
        (None, None) => format!("ended after {took}"),
    };
    if status == Status::Success {
        o.summary = Some(how);
        return o;
    }
    let text = String::from_utf8_lossy(&run.tail);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    o.summary = Some(match reason(&lines) {
        Some(why) => format!("{} ({how})", nsca::packet::truncate_utf8(why, 300)),
        None => format!("{how}, no output"),
    });
    let start = lines.len().saturating_sub(10);
    o.errors = lines[start..].iter().map(|l| l.to_string()).collect();
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_code_duration_and_tail() {
        let sh = OsString::from("/bin/sh");
        let args = [
            "-c",
            "echo start; echo oops >&2; sleep 0.3; seq 1 2000; exit 3",
        ]
        .map(OsString::from);
        let r = run(&sh, &args, 100).await.unwrap();
        assert_eq!(r.exit_code, Some(3));
        assert_eq!(r.tail.len(), 100);
        assert!(r.total > 8000);
        assert!(String::from_utf8_lossy(&r.tail).ends_with("1999\n2000\n"));
        let o = &outcomes(&r, "job", "sh", None, &Options::default())[0];
        assert_eq!(o.status, Status::Failure);
        // The reason first: "oops" has no error word, so the last line is the reason.
        assert!(
            o.summary
                .as_deref()
                .unwrap()
                .starts_with("2000 (exited with code 3 after"),
            "{:?}",
            o.summary
        );
        assert_eq!(o.errors.last().map(String::as_str), Some("2000"));
        let mut options = Options::default();
        options.exit_codes.insert(3, Status::Warning);
        assert_eq!(
            outcomes(&r, "job", "sh", None, &options)[0].status,
            Status::Warning
        );
    }

    #[tokio::test]
    async fn native_output_is_parsed_with_the_exit_code() {
        let sh = OsString::from("/bin/sh");
        let args = ["-c", r#"echo '{"status":"ok","bytes":7}'"#].map(OsString::from);
        let r = run(&sh, &args, 1 << 20).await.unwrap();
        let o = &outcomes(
            &r,
            "j",
            "sh",
            Some(Format::Native),
            &Options {
                job: "j".into(),
                ..Options::default()
            },
        )[0];
        assert_eq!(
            (o.status, o.bytes, o.job.as_str()),
            (Status::Success, Some(7), "j")
        );
        assert!(o.duration_s.is_some());
    }

    #[test]
    fn the_reason_is_the_last_error_line() {
        let lines = [
            "repository opened",
            "Fatal: unable to open config file: permission denied",
            "done",
        ];
        assert_eq!(
            reason(&lines),
            Some("Fatal: unable to open config file: permission denied")
        );
        assert_eq!(reason(&["a", "b"]), Some("b"));
        assert_eq!(reason(&[]), None);
    }

    #[tokio::test]
    async fn missing_program_is_a_clear_error() {
        let e = run(&OsString::from("/nonexistent/backup"), &[], 10)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("cannot run \"/nonexistent/backup\""),
            "{e}"
        );
        let o = not_started("nightly", "backup", &e);
        assert_eq!(
            o.status,
            Status::Failure,
            "a backup that did not start is CRITICAL"
        );
        assert!(
            o.summary
                .as_deref()
                .unwrap()
                .starts_with("the backup command did not start: No such file or directory"),
            "{:?}",
            o.summary
        );
    }
}
