//! The email channel in the running agent (`nagbridge run` as a child process): a failure
//! result file becomes an email at a real SMTP server (Debian's aiosmtpd, STARTTLS + AUTH)
//! while NSCA still gets every result; `when = "failure"` keeps successes and warnings out of
//! the mailbox. The ignored test `email_latency` measures outcome-to-email latency:
//!
//! `cargo test --release --test email_agent -- --ignored --nocapture email_latency`
mod agent_support;
mod common;
mod email_support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent_support::*;
use email_support::*;

fn config(s: &Setup, nsca_port: u16, smtp_port: u16, ca: &TestCa, when: &str, subject: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
quiet_period = "1s"

[nsca]
server = "127.0.0.1:{nsca_port}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "5s"

[[watch]]
path = "WATCHED"
format = "native"

[[channel]]
name = "admins"
type = "email"
when = "{when}"
server = "localhost:{smtp_port}"
ca_file = "{ca}"
username = "alice"
password = "s3cret"
from = "nagbridge <nagbridge@example.com>"
to = ["ops@example.com"]
subject = "{subject}"
"#,
        ca = ca.ca.display()
    ));
}

#[test]
fn email_agent_sends_failures_by_mail_while_nsca_gets_everything() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--require-starttls", "--user", "alice:s3cret"]);
    let peer = Peer::start(0);
    let s = Setup::new();
    config(
        &s,
        peer.port(),
        smtpd.port,
        &ca,
        "failure",
        "[{state}] {job} on {host}",
    );
    let agent = s.start_agent();
    s.drop_file("ok.json", &result_json("nightly-ok", "success", 0));
    s.drop_file("warn.json", &result_json("nightly-warn", "warning", 1));
    s.drop_file("bad.json", &result_json("nightly-db", "failure", 2));

    let got = peer.wait_ids(3, Duration::from_secs(20));
    assert_eq!(distinct_ids(&got, 3), 3, "NSCA gets every result: {got:?}");
    let mails = smtpd.wait_messages(1, Duration::from_secs(20));
    assert_eq!(mails.len(), 1, "{mails:?}\n{}", agent.log_text());
    assert_eq!(mails[0]["subject"], "[CRITICAL] nightly-db on backup01");
    assert_eq!(mails[0]["tls"], true);
    let raw = String::from_utf8(smtpd.raw(mails[0]["file"].as_str().unwrap())).unwrap();
    assert!(raw.contains("multipart/alternative"), "{raw}");
    // Nothing else arrives: the success and the warning are filtered by `when`.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(smtpd.messages().len(), 1);
    let log = agent.log_text();
    assert!(
        log.contains("delivered nightly-db CRITICAL to email localhost:"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_dir(s.state.join("spool/admins/new"))
            .unwrap()
            .count(),
        0,
        "the email spool is empty"
    );
    drop(agent);
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Outcome-to-email latency: result files renamed into the watched directory one every
/// `EMAIL_LAT_GAP_MS` (default 50) ms, `EMAIL_LAT_FILES` (default 200) of them; latency is
/// from the rename to aiosmtpd's receipt of the message (STARTTLS + AUTH PLAIN, one session
/// per batch). Prints p50 / p99 / max.
#[test]
#[ignore]
fn email_latency() {
    if !have_aiosmtpd() {
        return;
    }
    let n: usize = std::env::var("EMAIL_LAT_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let gap: u64 = std::env::var("EMAIL_LAT_GAP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--require-starttls", "--user", "alice:s3cret"]);
    let peer = Peer::start(0);
    let s = Setup::new();
    config(&s, peer.port(), smtpd.port, &ca, "always", "{job}");
    let agent = s.start_agent();
    let mut sent = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        s.drop_file(
            &format!("r{i:05}.json"),
            &result_json(&format!("lat-{i:05}"), "failure", i),
        );
        sent.push(at.as_secs_f64());
        let next = start + Duration::from_millis(gap * (i as u64 + 1));
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    let mails = smtpd.wait_messages(n, Duration::from_secs(120));
    assert_eq!(mails.len(), n, "{}", agent.log_text());
    let mut lat: Vec<f64> = mails
        .iter()
        .map(|m| {
            let job = m["subject"].as_str().unwrap();
            let i: usize = job.trim_start_matches("lat-").parse().unwrap();
            (m["time"].as_f64().unwrap() - sent[i]) * 1000.0
        })
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "email latency over {n} outcomes, one every {gap} ms: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
    drop(agent);
}

/// Agent CPU to take 1,000 outcomes (10 files of 100) and deliver them to NSCA alone, and to
/// NSCA plus an email channel (aiosmtpd, STARTTLS + AUTH) and a webhook channel (the local
/// HTTP double), both `when = "always"` so every outcome is a mail and a request. Prints a
/// `BENCH` line per case for `scripts/bench-channels`.
#[test]
#[ignore]
fn measure_agent_cpu_nsca_and_two_channels() {
    if !have_aiosmtpd() {
        return;
    }
    let n: usize = 1000;
    let tick_ms = 10.0; // USER_HZ = 100 on Linux
    for channels in [false, true] {
        let ca = TestCa::new();
        let smtpd = Smtpd::start(&ca, &["--require-starttls", "--user", "alice:s3cret"]);
        let hook = common::http_double::HttpDouble::start();
        let peer = Peer::start(0);
        let s = Setup::new();
        let when = if channels { "always" } else { "never" };
        config(&s, peer.port(), smtpd.port, &ca, when, "{job}");
        let mut text = std::fs::read_to_string(&s.config).unwrap();
        text.push_str(&format!(
            "\n[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nwhen = \"{when}\"\nurl = \"{}\"\n",
            hook.url("/hooks/bench")
        ));
        std::fs::write(&s.config, text).unwrap();
        let agent = s.start_agent();
        let before = agent.cpu_ticks();
        let t0 = Instant::now();
        for f in 0..10 {
            let lines: String = (0..100)
                .map(|i| result_json("cpu", "failure", f * 100 + i))
                .collect();
            s.drop_file(&format!("c{f:02}.json"), &lines);
        }
        let got = peer.wait_ids(n, Duration::from_secs(120));
        assert_eq!(distinct_ids(&got, n), n);
        if channels {
            assert_eq!(smtpd.wait_messages(n, Duration::from_secs(300)).len(), n);
            assert_eq!(hook.wait_count(n, Duration::from_secs(120)).len(), n);
        }
        let wall = t0.elapsed();
        std::thread::sleep(Duration::from_millis(300));
        let used = (agent.cpu_ticks() - before) as f64 * tick_ms;
        println!(
            "BENCH cpu destinations={} outcomes={n} cpu_ms={used:.0} wall_ms={:.0}",
            if channels {
                "nsca+email+webhook"
            } else {
                "nsca"
            },
            wall.as_secs_f64() * 1e3
        );
    }
}
