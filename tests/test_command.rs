//! `nagbridge test` sends one sample outcome to every destination directly (not through the
//! spool) and says per destination whether it worked (SPEC section 6).
mod agent_support;
mod common;

use std::process::Command;
use std::time::Duration;

use agent_support::*;

fn test_cmd(s: &Setup, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .arg("test")
        .arg("-c")
        .arg(&s.config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_sample_reaches_nsca_directly_and_each_failure_is_named() {
    let s = Setup::new();
    let peer = Peer::real(0);
    s.write_agent_config(peer.port(), "1s", "");
    let (code, out, err) = test_cmd(&s, &["--status", "failure"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(
            "OK   nsca (nsca) sent: host \"backup01\" service \"backup nagbridge-test\""
        ),
        "{out}"
    );
    let got = peer.wait_until(Duration::from_secs(5), |g| !g.is_empty());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].return_code, 2);
    assert!(
        got[0]
            .output
            .starts_with("CRITICAL: nagbridge-test a test message"),
        "{}",
        got[0].output
    );
    // Not through the spool: nothing is left in it, and no agent is needed.
    assert_eq!(s.spool_len(), 0);
    // Server down: FAILED with the reason, exit 1.
    drop(peer);
    let (code, out, _) = test_cmd(&s, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED nsca (nsca): nsca: "), "{out}");
    assert!(out.contains("temporary: the agent would retry"), "{out}");
    assert!(!out.contains(PASSWORD));
    // An unknown channel is a usage error naming the configured ones.
    let (code, _, err) = test_cmd(&s, &["--channel", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no channel named \"nope\" (configured: nsca)"),
        "{err}"
    );
}

#[test]
fn every_channel_is_tried_and_a_dead_one_says_why() {
    use common::http_double::{HttpDouble, Reply};
    let s = Setup::new();
    let peer = Peer::real(0);
    let good = HttpDouble::start();
    let gone = HttpDouble::start();
    gone.set_default(Reply::status(404));
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
[nsca]
server = "127.0.0.1:{}"
encryption = "aes256"
password = "{PASSWORD}"
[[channel]]
name = "hook"
type = "webhook"
when = "never"
url = "{}"
[[channel]]
name = "old-hook"
type = "webhook"
jobs = ["only-this-job"]
url = "{}"
"#,
        peer.port(),
        good.url("/hooks/secret-token-3f9a"),
        gone.url("/hooks/gone-token-77b1")
    ));
    // `when = "never"` and `jobs` do not stop the test message.
    let (code, out, err) = test_cmd(&s, &[]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("OK   nsca (nsca) sent"), "{out}");
    assert!(
        lines[1].starts_with("OK   hook (webhook) sent: POST http://127.0.0.1:"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("FAILED old-hook (webhook): ")
            && lines[2].contains("the destination refuses us: fix the config"),
        "{out}"
    );
    assert!(
        !out.contains("secret-token-3f9a") && !out.contains("gone-token-77b1"),
        "{out}"
    );
    let got = good.wait_count(1, Duration::from_secs(5));
    assert_eq!(got[0].json()["job"], "nagbridge-test");
    assert_eq!(
        got[0].json()["state"],
        "WARNING",
        "the default sample is a warning"
    );
    // Only the named channel.
    let (code, out, _) = test_cmd(&s, &["--channel", "hook", "--status", "success"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(
        good.wait_count(2, Duration::from_secs(5))[1].json()["state"],
        "OK"
    );
}
