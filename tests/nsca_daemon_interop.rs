//! Our client against Debian's real `nsca` daemon (2.10.2), for every encryption method in
//! `Method::all()`: v3 packets (many per connection) and legacy 720-byte packets (one
//! connection each), checked line by line in the daemon's command file.
mod common;
use common::*;

use std::time::Duration;

use nsca::client::{send_batch, ClientConfig, Connection};
use nsca::crypto::Method;
use nsca::packet::{PacketSize, PassiveCheck};

/// Long enough to exercise key truncation of every cipher (RC2 keeps 128 bytes), with
/// multi-byte UTF-8 characters.
const PASSWORD: &str = "s3cret-Pässwörd-€-0123456789-abcdefghijklmnopqrstuvwxyz-\
                        ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-the-tail-beyond-128-bytes-is-cut";

/// Exactly 4095 bytes: multi-byte characters, backslashes and newlines.
fn long_output() -> String {
    let mut s = String::from("WARNING: 3 snapshots older than 2 days\n");
    let mut i = 0;
    while s.len() < 4000 {
        s.push_str(&format!("snapshot {i}: C:\\backup\\été € ok\n"));
        i += 1;
    }
    while s.len() < 4095 {
        s.push('x');
    }
    assert_eq!(s.len(), 4095);
    s
}

/// What the 2.10.1+ daemon writes for the output: `\` doubled, newline as `\n`.
fn daemon_escaped(output: &str) -> String {
    output.replace('\\', "\\\\").replace('\n', "\\n")
}

fn v3_checks() -> Vec<PassiveCheck> {
    vec![
        PassiveCheck::service("web01", "backup-nightly", 2, "BACKUP CRITICAL: repo locked")
            .unwrap(),
        PassiveCheck::service(
            "web01",
            "disk /var",
            0,
            "OK: 42% used; inode 3% | used=42%;90;95",
        )
        .unwrap(),
        PassiveCheck::host("web01", 1, "DOWN: no route to host").unwrap(),
        PassiveCheck::service(
            "db-01.example.com",
            "réplication",
            3,
            "UNKNOWN: état € inconnu",
        )
        .unwrap(),
        PassiveCheck::service("web01", "long-output", 1, long_output()).unwrap(),
    ]
}

fn expected_lines(checks: &[PassiveCheck], max_output: usize) -> Vec<String> {
    checks
        .iter()
        .map(|c| {
            let out = daemon_escaped(nsca::packet::truncate_utf8(&c.output, max_output));
            if c.is_host_check() {
                format!(
                    "PROCESS_HOST_CHECK_RESULT;{};{};{}",
                    c.host, c.return_code, out
                )
            } else {
                format!(
                    "PROCESS_SERVICE_CHECK_RESULT;{};{};{};{}",
                    c.host, c.service, c.return_code, out
                )
            }
        })
        .collect()
}

fn legacy_checks() -> Vec<PassiveCheck> {
    vec![
        PassiveCheck::service("web01", "legacy-a", 0, "OK legacy one").unwrap(),
        PassiveCheck::host("web02", 0, "UP").unwrap(),
        // 600 ASCII bytes: the 720-byte packet keeps 511.
        PassiveCheck::service(
            "web01",
            "legacy-long",
            2,
            "L".repeat(300) + &"M".repeat(300),
        )
        .unwrap(),
    ]
}

/// First difference between two line lists, short enough to read in a test failure.
fn diff(got: &[String], want: &[String]) -> Option<String> {
    if got == want {
        return None;
    }
    let short = |s: &str| {
        if s.len() > 120 {
            format!(
                "{}... ({} bytes)",
                nsca::packet::truncate_utf8(s, 120),
                s.len()
            )
        } else {
            s.to_string()
        }
    };
    for i in 0..got.len().max(want.len()) {
        let (g, w) = (got.get(i), want.get(i));
        if g != w {
            return Some(format!(
                "{} lines, expected {}; line {i}: got {:?}, expected {:?}",
                got.len(),
                want.len(),
                g.map(|s| short(s)),
                w.map(|s| short(s))
            ));
        }
    }
    unreachable!()
}

async fn check_method(method: Method) -> Result<(), String> {
    let daemon = NscaDaemon::start(method.number(), Some(PASSWORD));
    let mut config = ClientConfig::new(daemon.addr(), method, PASSWORD.as_bytes().to_vec());
    config.connect_timeout = Duration::from_secs(5);
    config.io_timeout = Duration::from_secs(5);

    // v3: every check on ONE connection.
    let checks = v3_checks();
    let mut conn = Connection::open(&config)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts = u64::from(conn.server_timestamp());
    if ts.abs_diff(now) > 5 {
        return Err(format!("server timestamp {ts} is not now ({now})"));
    }
    for c in &checks {
        conn.send(c).await.map_err(|e| format!("send: {e}"))?;
    }
    let sent = conn.close().await.map_err(|e| format!("close: {e}"))?;
    if sent != checks.len() {
        return Err(format!("close reported {sent} packets"));
    }
    let mut want = expected_lines(&checks, 4095);
    let got = daemon.wait_lines(want.len(), Duration::from_secs(5));
    if let Some(d) = diff(&got, &want) {
        return Err(format!("v3: {d}"));
    }

    // Legacy: one connection per check, output cut to 511 bytes.
    config.packet = PacketSize::Legacy;
    let legacy = legacy_checks();
    let n = send_batch(&config, &legacy)
        .await
        .map_err(|e| format!("legacy send_batch: {e}"))?;
    if n != legacy.len() {
        return Err(format!("legacy send_batch reported {n}"));
    }
    want.extend(expected_lines(&legacy, 511));
    if !want
        .last()
        .unwrap()
        .ends_with(&("L".repeat(300) + &"M".repeat(211)))
    {
        return Err("test bug: legacy output not cut at 511".into());
    }
    let got = daemon.wait_lines(want.len(), Duration::from_secs(5));
    if let Some(d) = diff(&got, &want) {
        return Err(format!("legacy: {d}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_against_the_real_daemon() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    for method in Method::all() {
        match check_method(method).await {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{method}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{passed} method(s) passed, {} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn expected_lines_escape_like_the_daemon() {
    // Guard the oracle itself: one backslash becomes two, a newline becomes `\n`.
    assert_eq!(daemon_escaped("a\\b\nc"), "a\\\\b\\nc");
    assert_eq!(long_output().len(), 4095);
}
