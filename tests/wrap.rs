//! `nagbridge wrap` runs the command, keeps its exit code, and delivers the outcome to the real
//! NSCA daemon (or leaves it spooled when the daemon is down).
mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("nagbridge.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nhost_name = \"backup01\"\nstate_dir = \"{}/state\"\nheartbeat = \"off\"\n\
             [nsca]\nserver = \"127.0.0.1:{port}\"\nencryption = \"aes256\"\npassword = \"wrap-secret-42\"\ntimeout = \"2s\"\n",
            dir.display()
        ),
    )
    .unwrap();
    path
}

fn wrap(cfg: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .arg("wrap")
        .arg("-c")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_code_is_kept_and_the_outcome_reaches_the_daemon() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    let d = NscaDaemon::start(14, Some("wrap-secret-42"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), d.port);
    let (code, err) = wrap(
        &cfg,
        &[
            "--job",
            "nightly",
            "--",
            "sh",
            "-c",
            "echo disk full >&2; exit 3",
        ],
    );
    assert_eq!(code, 3, "{err}");
    let (code, err) = wrap(
        &cfg,
        &[
            "--job",
            "db",
            "--format",
            "native",
            "--",
            "sh",
            "-c",
            r#"echo '{"status":"ok","bytes":42}'"#,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines = d.wait_lines(2, Duration::from_secs(10));
    assert_eq!(lines.len(), 2, "{lines:?}\n{err}");
    assert!(
        lines[0].starts_with("PROCESS_SERVICE_CHECK_RESULT;backup01;backup nightly;2;CRITICAL: nightly disk full (exited with code 3 after 0s)"),
        "the reason comes first: {}",
        lines[0]
    );
    assert!(lines[0].contains("\\nerror: disk full\\n"), "{}", lines[0]);
    // The command's arguments (which may carry a password) never reach Nagios.
    assert!(
        !lines[0].contains("exit 3") && !lines[0].contains(">&2"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(
            "PROCESS_SERVICE_CHECK_RESULT;backup01;backup db;0;OK: db succeeded, 42 B"
        ),
        "{}",
        lines[1]
    );
}

#[test]
fn daemon_down_leaves_the_result_spooled_until_the_next_delivery() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = config(dir.path(), port);
    let (code, err) = wrap(&cfg, &["--job", "first", "--", "false"]);
    assert_eq!(code, 1);
    assert!(err.contains("stay spooled"), "{err}");
    // now the daemon is there: the next wrap delivers both
    let d = NscaDaemon::start_with(14, Some("wrap-secret-42"), "");
    let cfg = config(dir.path(), d.port);
    let (code, err) = wrap(&cfg, &["--job", "second", "--", "true"]);
    assert_eq!(code, 0, "{err}");
    let lines = d.wait_lines(2, Duration::from_secs(10));
    let jobs: Vec<&str> = lines
        .iter()
        .map(|l| l.split(';').nth(2).unwrap_or(""))
        .collect();
    assert_eq!(jobs, ["backup first", "backup second"], "{lines:?}");
}

#[test]
fn a_broken_config_does_not_stop_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nagbridge.toml");
    std::fs::write(&cfg, "[agent]\nstate_dri = \"/x\"\n").unwrap();
    let marker = dir.path().join("ran");
    let (code, err) = wrap(
        &cfg,
        &[
            "--job",
            "j",
            "--",
            "sh",
            "-c",
            &format!("touch {}; exit 5", marker.display()),
        ],
    );
    assert_eq!(code, 5, "{err}");
    assert!(marker.exists());
    assert!(err.contains("did you mean"), "{err}");
    assert!(err.contains("cannot be reported"), "{err}");
}
