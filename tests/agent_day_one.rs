//! The agent (`nagbridge run`, the built binary as a child process, against an in-process NSCA
//! receiver) on the first day of a real server (issue 8, bullets 3 and 5): watch paths that
//! are missing or unreadable by the service user turn the heartbeat WARNING until they are
//! usable, and are then watched without a restart; a JSON line written in pieces is one
//! result; a file growing without a newline is one UNKNOWN; a log with a history of old runs
//! present at install reports the last run per job (or all, with `history = "all"`). Every
//! wait is bounded and waits for something observable.
mod agent_support;
mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use agent_support::*;
use nsca::packet::PassiveCheck;

/// A config with a 1 s heartbeat (unless `agent_extra` sets it), quiet period and rescan, watching `in/` (auto format) and
/// the `extra` watches.
fn config(s: &Setup, port: u16, agent_extra: &str, extra: &str) {
    let heartbeat = if agent_extra.contains("heartbeat") {
        ""
    } else {
        "heartbeat = \"1s\""
    };
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
{heartbeat}
quiet_period = "1s"
rescan = "1s"
{agent_extra}

[nsca]
server = "127.0.0.1:{port}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "5s"

[[watch]]
path = "WATCHED"
{extra}
"#
    ));
}

fn heartbeats(got: &[PassiveCheck]) -> Vec<&PassiveCheck> {
    got.iter().filter(|c| c.service == "nagbridge").collect()
}

fn results(got: &[PassiveCheck]) -> Vec<&PassiveCheck> {
    got.iter().filter(|c| c.service != "nagbridge").collect()
}

/// Drop a marker file (renamed into place) and wait for its result: anything that an earlier
/// file would still make (e.g. a stray UNKNOWN) has had the time to arrive; returns what
/// arrived.
fn after_marker(s: &Setup, peer: &Peer, n: usize) -> Vec<PassiveCheck> {
    s.drop_file(
        &format!("marker{n}.json"),
        &result_json(&format!("marker{n}"), "ok", 90_000 + n),
    );
    let want = format!("backup marker{n}");
    let got = peer.wait_until(Duration::from_secs(15), |g| {
        g.iter().any(|c| c.service == want)
    });
    assert!(
        got.iter().any(|c| c.service == want),
        "marker {n} not delivered"
    );
    got
}

fn append(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// A watch path that does not exist turns the heartbeat WARNING naming it and the reason
/// (and logs one WARN); once the directory is created the heartbeat is OK again (one INFO),
/// and a file written into it is delivered, without a restart.
#[test]
fn missing_watch_turns_the_heartbeat_warning_until_it_appears() {
    let s = Setup::new();
    let peer = Peer::real(0);
    let late = s.tmp.path().join("late");
    config(
        &s,
        peer.port(),
        "",
        &format!("[[watch]]\npath = \"{}\"\n", late.display()),
    );
    let agent = s.start_agent();
    let got = peer.wait_until(Duration::from_secs(10), |g| !heartbeats(g).is_empty());
    let hb = heartbeats(&got)[0].clone();
    let reason = format!("watch {}: does not exist", late.display());
    assert_eq!(hb.return_code, 1, "{hb:?}\n{}", agent.log_text());
    // The reason is the summary: the first line says what is wrong.
    assert!(
        hb.output
            .starts_with(&format!("WARNING: nagbridge {reason}")),
        "{}",
        hb.output
    );
    let warned = format!("watched directory {}: does not exist", late.display());
    assert_eq!(
        agent.log_text().matches(&warned).count(),
        1,
        "{}",
        agent.log_text()
    );

    fs::create_dir(&late).unwrap();
    let seen = got.len();
    let got = peer.wait_until(Duration::from_secs(10), |g| {
        heartbeats(&g[seen..]).iter().any(|c| c.return_code == 0)
    });
    let ok = heartbeats(&got[seen..])
        .into_iter()
        .find(|c| c.return_code == 0)
        .unwrap_or_else(|| panic!("no OK heartbeat: {got:?}\n{}", agent.log_text()))
        .clone();
    assert!(!ok.output.contains("watch "), "{}", ok.output);
    let log = agent.log_text();
    assert!(log.contains("is readable and watched again"), "{log}");
    assert_eq!(log.matches(&warned).count(), 1, "WARN logged again:\n{log}");

    fs::write(late.join("late1.json"), result_json("late1", "failure", 1)).unwrap();
    let got = peer.wait_until(Duration::from_secs(10), |g| {
        g.iter().any(|c| c.service == "backup late1")
    });
    let r = results(&got);
    assert_eq!(r.len(), 1, "{got:?}\n{}", agent.log_text());
    assert_eq!(r[0].return_code, 2);
}

/// The service user cannot read a watched directory (the agent runs as uid 65534 when the
/// tests run as root; else the directory is made unreadable): the heartbeat is WARNING with
/// the uid and the OS error until it is readable; then its files are delivered.
#[test]
fn unreadable_watch_turns_the_heartbeat_warning_until_readable() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let s = Setup::new();
    let peer = Peer::real(0);
    let root = fs::metadata("/proc/self").unwrap().uid() == 0;
    let locked = s.tmp.path().join("locked");
    fs::create_dir(&locked).unwrap();
    config(
        &s,
        peer.port(),
        "",
        &format!("[[watch]]\npath = \"{}\"\n", locked.display()),
    );
    let uid = if root {
        fs::set_permissions(s.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(&s.state).unwrap();
        std::os::unix::fs::chown(&s.state, Some(65534), Some(65534)).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
        65534
    } else {
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        fs::metadata("/proc/self").unwrap().uid()
    };
    let mut agent = Agent::start_with(&s.config, s.tmp.path(), |cmd| {
        if root {
            cmd.uid(65534).gid(65534);
        }
    });
    agent.wait_started(Duration::from_secs(10));
    let got = peer.wait_until(Duration::from_secs(10), |g| !heartbeats(g).is_empty());
    let hb = heartbeats(&got)
        .first()
        .map(|c| (*c).clone())
        .unwrap_or_else(|| panic!("no heartbeat:\n{}", agent.log_text()));
    let reason = format!(
        "watch {}: not readable by this user (uid {uid}): Permission denied",
        locked.display()
    );
    assert_eq!(hb.return_code, 1, "{hb:?}");
    assert!(hb.output.contains(&reason), "{}", hb.output);

    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    let seen = got.len();
    let got = peer.wait_until(Duration::from_secs(10), |g| {
        heartbeats(&g[seen..]).iter().any(|c| c.return_code == 0)
    });
    assert!(
        heartbeats(&got[seen..]).iter().any(|c| c.return_code == 0),
        "still not OK: {got:?}\n{}",
        agent.log_text()
    );
    fs::write(locked.join("open.json"), result_json("open", "ok", 2)).unwrap();
    let got = peer.wait_until(Duration::from_secs(10), |g| {
        g.iter().any(|c| c.service == "backup open")
    });
    assert_eq!(results(&got).len(), 1, "{got:?}\n{}", agent.log_text());
}

/// A JSON line appended in two writes, each closing the file (format auto, the default), is
/// one result under its own job: not two UNKNOWNs under the file's name.
#[test]
fn line_written_in_two_pieces_is_one_result() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "heartbeat = \"off\"", "");
    let agent = s.start_agent();
    let log = s.watched.join("nightly.json");
    let line = result_json("pieces", "failed", 1);
    let (a, b) = line.split_at(20);
    append(&log, a.as_bytes());
    // The first piece is seen (closed) before the second comes.
    std::thread::sleep(Duration::from_millis(300));
    append(&log, b.as_bytes());
    peer.wait_until(Duration::from_secs(10), |g| {
        g.iter().any(|c| c.service == "backup pieces")
    });
    let got = after_marker(&s, &peer, 1);
    let r: Vec<_> = results(&got)
        .into_iter()
        .filter(|c| !c.service.starts_with("backup marker"))
        .collect();
    assert_eq!(r.len(), 1, "{r:?}\n{}", agent.log_text());
    assert_eq!(
        (r[0].service.as_str(), r[0].return_code),
        ("backup pieces", 2)
    );
    assert!(
        r[0].output.starts_with("CRITICAL: pieces id=00001"),
        "{}",
        r[0].output
    );
}

/// A file appended to every 20 ms without a newline (150 appends, past a 4 KiB
/// max_file_size) gives one UNKNOWN "over max_file_size", not one per append.
#[test]
fn file_growing_without_newline_is_one_unknown() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(
        &s,
        peer.port(),
        "heartbeat = \"off\"\nmax_file_size = \"4KiB\"",
        "format = \"native\"",
    );
    let agent = s.start_agent();
    let log = s.watched.join("grow.json");
    for _ in 0..150 {
        append(&log, &[b'x'; 50]);
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert!(!got.is_empty(), "nothing:\n{}", agent.log_text());
    let got = after_marker(&s, &peer, 2);
    let grow: Vec<_> = got.iter().filter(|c| c.service == "backup grow").collect();
    println!("150 appends without a newline: {} check(s)", grow.len());
    assert_eq!(grow.len(), 1, "{grow:?}");
    assert_eq!(grow[0].return_code, 3);
    assert!(
        grow[0].output.contains("over max_file_size (4096 bytes)"),
        "{}",
        grow[0].output
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

/// 300 old runs of three jobs in a JSON-lines file present before the first start: with the
/// default `history = "last"`, the last run of each job is reported (3 checks), then what is
/// appended later, and every run of a file written while the agent runs.
#[test]
fn history_present_at_install_reports_the_last_run_per_job() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "heartbeat = \"off\"", "");
    let runs = s.watched.join("runs.json");
    let jobs = ["alpha", "beta", "gamma"];
    let old: String = (0..300)
        .map(|i| result_json(jobs[i % 3], if i % 7 == 0 { "failed" } else { "ok" }, i))
        .collect();
    fs::write(&runs, old).unwrap();
    let agent = s.start_agent();
    let got = peer.wait_until(Duration::from_secs(10), |g| g.len() >= 3);
    let mut ids: Vec<_> = got.iter().filter_map(|c| id_of(&c.output)).collect();
    ids.sort();
    assert_eq!(ids, [297, 298, 299], "{got:?}\n{}", agent.log_text());
    assert!(
        agent.log_text().contains("reporting the last per job"),
        "{}",
        agent.log_text()
    );
    append(&runs, result_json("alpha", "ok", 300).as_bytes());
    let fresh: String = (301..306).map(|i| result_json("delta", "ok", i)).collect();
    s.drop_file("fresh.json", &fresh);
    let got = peer.wait_until(Duration::from_secs(10), |g| g.len() >= 9);
    let mut ids: Vec<_> = got.iter().filter_map(|c| id_of(&c.output)).collect();
    ids.sort();
    assert_eq!(
        ids,
        [297, 298, 299, 300, 301, 302, 303, 304, 305],
        "{got:?}"
    );
    let got = after_marker(&s, &peer, 3);
    assert_eq!(got.len(), 10, "{got:?}");
}

/// The same history with `history = "all"`: every old run is reported.
#[test]
fn history_all_reports_every_old_run() {
    let s = Setup::new();
    let peer = Peer::real(0);
    config(&s, peer.port(), "heartbeat = \"off\"", "history = \"all\"");
    let old: String = (0..300).map(|i| result_json("alpha", "ok", i)).collect();
    fs::write(s.watched.join("runs.json"), old).unwrap();
    let agent = s.start_agent();
    let got = peer.wait_ids(300, Duration::from_secs(20));
    assert_eq!(distinct_ids(&got, 300), 300, "{}", agent.log_text());
}
