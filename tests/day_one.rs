//! Day one on a real server (issue 8): one agent per state directory, `wrap` beside a running
//! agent (also as root beside an agent running as an unprivileged user), nothing quarantined
//! or skipped silently, `nagbridge status`, and fair ingestion of a huge file. The agent is the
//! built binary as a child process; results go to an in-process NSCA receiver (aes256).
mod agent_support;
mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use agent_support::*;

fn nagbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(args)
        .env_remove("NAGBRIDGE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A config with a heartbeat every `heartbeat`, a `[[job]]` "nightly" and `extra` appended.
fn config(s: &Setup, port: u16, heartbeat: &str, extra: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "{heartbeat}"
quiet_period = "1s"

[nsca]
server = "127.0.0.1:{port}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "3s"

[[watch]]
path = "WATCHED"
format = "native"

[[job]]
name = "nightly"
every = "1h"
{extra}
"#
    ));
}

fn status_json(s: &Setup) -> (i32, serde_json::Value) {
    let out = nagbridge(&["status", "--json", "-c", s.config.to_str().unwrap()]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn a_second_agent_on_the_same_state_dir_exits_2_naming_the_first() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "off", "");
    let first = s.start_agent();
    let t = Instant::now();
    let out = nagbridge(&["run", "-c", s.config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "nagbridge run (pid {}) already uses state_dir",
            first.pid()
        )),
        "{err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "it does not wait for an agent"
    );
    // The first one still works.
    s.drop_file("a.json", &result_json("nightly", "ok", 1));
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(got.len(), 1, "{}", first.log_text());
}

#[test]
fn wrap_hands_its_outcome_to_the_running_agent_and_counts_for_the_cadence() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "off", "");
    let agent = s.start_agent();
    let cfg = s.config.to_str().unwrap();
    let out = nagbridge(&["wrap", "-c", cfg, "--job", "nightly", "--", "true"]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "handed to the running agent, nagbridge run (pid {})",
            agent.pid()
        )),
        "{err}"
    );
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(got.len(), 1, "{}", agent.log_text());
    assert_eq!(got[0].service, "backup nightly");
    assert_eq!(got[0].return_code, 0);
    // wrap never touched the agent's spool; the inbox is empty again.
    assert!(wait_for(Duration::from_secs(5), || std::fs::read_dir(
        s.state.join("spool/inbox/new")
    )
    .unwrap()
    .count()
        == 0));
    // The job counts for its cadence: status shows its last result, not late.
    let ok = wait_for(Duration::from_secs(5), || {
        let (_, v) = status_json(&s);
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["job"] == "nightly" && j["status"] == "success" && j["late"] == false)
    });
    assert!(ok, "{}", status_json(&s).1);
    // -q: nothing of ours on stderr.
    let out = nagbridge(&["wrap", "-q", "-c", cfg, "--job", "nightly", "--", "true"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        "",
        "wrap -q must be silent when all is well"
    );
}

#[test]
fn wrap_reports_a_command_that_does_not_start_as_critical() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "off", "");
    let cfg = s.config.to_str().unwrap();
    let out = nagbridge(&[
        "wrap",
        "-c",
        cfg,
        "--job",
        "nightly",
        "--",
        "/nonexistent/backup-tool",
        "--password=hunter2",
    ]);
    assert_eq!(out.status.code(), Some(127));
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(got.len(), 1, "{}", text(&out.stderr));
    assert_eq!(got[0].return_code, 2, "CRITICAL, not UNKNOWN: {:?}", got[0]);
    assert!(
        got[0]
            .output
            .starts_with("CRITICAL: nightly the backup command did not start: No such file"),
        "{}",
        got[0].output
    );
    assert!(!got[0].output.contains("hunter2"), "{}", got[0].output);
    // Delivered by wrap itself (no agent): the cadence knows the job.
    let cadence = std::fs::read_to_string(s.state.join("cadence.json")).unwrap();
    assert!(cadence.contains("\"nightly\""), "{cadence}");
}

/// Every path under `dir` (and `dir`) with an owner other than `uid`.
fn not_owned_by(dir: &Path, uid: u32) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.uid() != uid {
            bad.push(format!("{} (uid {})", p.display(), m.uid()));
        }
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    bad
}

/// `nagbridge run` as user nobody (65534), with setpriv.
fn spawn_agent_as_nobody(s: &Setup) -> std::process::Child {
    let log = std::fs::File::create(s.tmp.path().join("nobody-agent.log")).unwrap();
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["run", "-c"])
        .arg(&s.config)
        .env_remove("NAGBRIDGE_CONFIG")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn nobody_log(s: &Setup) -> String {
    std::fs::read_to_string(s.tmp.path().join("nobody-agent.log")).unwrap_or_default()
}

fn stop(mut child: std::process::Child) {
    // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

/// `wrap` run as root beside an agent running as an unprivileged user: whatever wrap creates in
/// the state directory is owned like it, so the agent reads it; and when no agent runs, what
/// wrap leaves spooled does not stop the unprivileged agent from starting and delivering it.
#[test]
fn wrap_as_root_beside_an_agent_running_as_nobody() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("NAGBRIDGE_REQUIRE_PEERS").is_none(),
            "this test needs root (CI runs as root)"
        );
        eprintln!("skipped: needs root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    std::fs::set_permissions(s.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(&s.state).unwrap();
    std::os::unix::fs::chown(&s.state, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&s.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let port = common::free_port();
    config(&s, port, "off", "");
    let cfg = s.config.to_str().unwrap().to_string();
    let peer = Peer::real(port);
    let agent = spawn_agent_as_nobody(&s);
    assert!(
        wait_for(Duration::from_secs(10), || nobody_log(&s)
            .contains("nagbridge agent started")),
        "{}",
        nobody_log(&s)
    );
    // Handed over while the agent runs.
    let out = nagbridge(&["wrap", "-c", &cfg, "--job", "nightly", "--", "true"]);
    assert!(
        text(&out.stderr).contains("handed to the running agent"),
        "{}",
        text(&out.stderr)
    );
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(got.len(), 1, "{}", nobody_log(&s));
    stop(agent);
    drop(peer);
    // No agent and no server: wrap (root) spools for later.
    let out = nagbridge(&["wrap", "-c", &cfg, "--job", "nightly", "--", "false"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("stay"), "{}", text(&out.stderr));
    assert_eq!(s.spool_len(), 1);
    let bad = not_owned_by(&s.state, 65534);
    assert!(
        bad.is_empty(),
        "left for the agent's user to trip over: {bad:?}"
    );
    // The unprivileged agent starts and delivers what root's wrap left.
    let peer = Peer::real(port);
    let agent = spawn_agent_as_nobody(&s);
    let got = peer.wait_until(Duration::from_secs(20), |g| !g.is_empty());
    assert_eq!(got.len(), 1, "{}", nobody_log(&s));
    assert_eq!(got[0].return_code, 2);
    stop(agent);
    let bad = not_owned_by(&s.state, 65534);
    assert!(bad.is_empty(), "{bad:?}");
}

/// The heartbeat of the service `nagbridge` that arrived last.
fn last_heartbeat(got: &[nsca::packet::PassiveCheck]) -> Option<nsca::packet::PassiveCheck> {
    got.iter().rev().find(|c| c.service == "nagbridge").cloned()
}

#[test]
fn quarantined_skipped_and_serviceless_results_turn_the_heartbeat_warning() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "2s", "");
    // A damaged spool entry from an earlier crash, a symlink in the watched directory, a
    // result with an empty host and one for a job without a [[job]] (no Nagios service).
    let new = s.state.join("spool/nsca/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(new.join("00000000000000001-0000000000-1"), b"NBSP torn").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", s.watched.join("link.json")).unwrap();
    let agent = s.start_agent();
    s.drop_file(
        "empty-host.json",
        r#"{"job":"nightly","host":"","status":"failure","summary":"disk full"}"#,
    );
    s.drop_file("adhoc.json", &result_json("adhoc-export", "ok", 1));
    let got = peer.wait_until(Duration::from_secs(20), |g| {
        last_heartbeat(g).is_some_and(|h| {
            h.return_code == 1
                && h.output.contains("quarantined")
                && h.output.contains("adhoc-export")
                && h.output.contains("skipped")
        })
    });
    let hb = last_heartbeat(&got).unwrap_or_else(|| panic!("no heartbeat:\n{}", agent.log_text()));
    assert_eq!(hb.return_code, 1, "{}\n{}", hb.output, agent.log_text());
    for needle in [
        "1 outcome quarantined in spool/nsca/quarantine",
        "1 job without a Nagios service",
        "adhoc-export",
        "1 file skipped:",
        "link.json",
    ] {
        assert!(hb.output.contains(needle), "{needle}:\n{}", hb.output);
    }
    // The empty host went to the agent's host, as CRITICAL, not into the quarantine.
    let nightly: Vec<_> = got
        .iter()
        .filter(|c| c.service == "backup nightly")
        .collect();
    assert_eq!(nightly.len(), 1, "{got:?}");
    assert_eq!(
        (nightly[0].host.as_str(), nightly[0].return_code),
        ("backup01", 2)
    );
    assert_eq!(s.quarantined(), 1);
    // Each problem was logged as a WARN.
    let log = agent.log_text();
    assert!(log.contains("WARN") && log.contains("quarantined"), "{log}");
    // status: exit 1 and the same problems.
    let (code, v) = status_json(&s);
    assert_eq!(code, 1, "{v}");
    let problems = v["problems"].to_string();
    assert!(
        problems.contains("quarantined") && problems.contains("adhoc-export"),
        "{problems}"
    );
}

#[test]
fn a_resolved_problem_turns_the_heartbeat_ok_again() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "2s", "");
    std::os::unix::fs::symlink("/etc/hostname", s.watched.join("link.json")).unwrap();
    let agent = s.start_agent();
    s.drop_file("adhoc.json", &result_json("adhoc-export", "ok", 1));
    let got = peer.wait_until(Duration::from_secs(15), |g| {
        last_heartbeat(g).is_some_and(|h| h.return_code == 1 && h.output.contains("adhoc-export"))
    });
    let hb = last_heartbeat(&got).unwrap_or_else(|| panic!("{}", agent.log_text()));
    assert!(hb.output.contains("link.json"), "{}", hb.output);
    // Resolved: the symlink goes, and nagios-config (re)defines a service for the new job.
    std::fs::remove_file(s.watched.join("link.json")).unwrap();
    // nagios-config reads the jobs the agent saved (within a second of seeing them).
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(s.state.join("cadence.json"))
            .is_ok_and(|c| c.contains("adhoc-export"))
    }));
    let out = nagbridge(&["nagios-config", "-c", s.config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("service_description     backup adhoc-export"));
    let got = peer.wait_until(Duration::from_secs(30), |g| {
        last_heartbeat(g).is_some_and(|h| h.return_code == 0)
    });
    let hb = last_heartbeat(&got).unwrap();
    assert_eq!(hb.return_code, 0, "{}\n{}", hb.output, agent.log_text());
    assert!(
        hb.output.starts_with("OK: nagbridge agent running"),
        "{}",
        hb.output
    );
    let (code, v) = status_json(&s);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn status_shows_what_is_pending_and_failing() {
    let s = Setup::new();
    let port = common::free_port();
    config(&s, port, "off", "");
    let out = nagbridge(&["status", "-c", s.config.to_str().unwrap()]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "nothing there yet:\n{t}");
    assert!(t.contains("agent: not running"), "{t}");
    let agent = s.start_agent();
    s.drop_file("a.json", &result_json("nightly", "failure", 1));
    let failing = wait_for(Duration::from_secs(15), || {
        let (code, v) = status_json(&s);
        code == 1 && v["destinations"][0]["failing"] == true && v["destinations"][0]["pending"] == 1
    });
    assert!(failing, "{}\n{}", status_json(&s).1, agent.log_text());
    let out = nagbridge(&["status", "-c", s.config.to_str().unwrap()]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        t.contains(&format!("agent: running, pid {}", agent.pid())),
        "{t}"
    );
    assert!(t.contains("FAILING, 1 pending"), "{t}");
    assert!(t.contains("last error"), "{t}");
    assert!(t.contains("nightly: CRITICAL"), "{t}");
    assert!(!t.contains(PASSWORD), "secrets never reach status");
    // Stopped with the result still spooled: status says nobody will send it.
    agent.terminate(Duration::from_secs(15));
    let out = nagbridge(&["status", "-c", s.config.to_str().unwrap()]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        t.contains("no agent is running and 1 result(s) wait"),
        "{t}"
    );
}

/// A huge JSON-lines file is spooled in the bulk lane a chunk at a time: delivery starts
/// while it is being spooled, a fresh failure dropped meanwhile overtakes the backlog, and
/// SIGTERM keeps its limit.
#[test]
fn a_huge_file_does_not_starve_a_fresh_result_and_sigterm_keeps_its_limit() {
    const N: usize = 20_000;
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "off", "");
    let agent = s.start_agent();
    let mut body = String::with_capacity(N * 64);
    for i in 0..N {
        body.push_str(&result_json(&format!("bulk-{}", i % 50), "ok", i));
    }
    s.drop_file("history.json", &body);
    // Delivery starts while the file is still being spooled.
    let started = peer.wait_until(Duration::from_secs(30), |g| g.len() >= 200);
    assert!(started.len() >= 200, "{}", agent.log_text());
    let t = Instant::now();
    s.drop_file("urgent.json", &result_json("nightly", "failure", 99_999));
    let got = peer.wait_until(Duration::from_secs(20), |g| {
        g.iter().any(|c| c.service == "backup nightly")
    });
    let waited = t.elapsed();
    let before = got
        .iter()
        .position(|c| c.service == "backup nightly")
        .unwrap_or_else(|| panic!("the fresh result never arrived:\n{}", agent.log_text()));
    eprintln!("fresh result arrived after {waited:?}, behind {before} of {N} bulk results");
    assert!(before < N, "it waited behind the whole backlog");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    // SIGTERM keeps shutdown_timeout (default 10 s), backlog or not.
    let (status, took, log) = agent.terminate(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    assert!(took < Duration::from_secs(12), "{took:?}\n{log}");
}
