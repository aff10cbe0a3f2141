//! `nagbridge demo` runs with no outside server: the agent watches a temp dir, parses the
//! samples and delivers them to the in-process receiver, which shows what Nagios would get.
use std::process::Command;

#[test]
fn demo_delivers_every_sample_through_the_agent() {
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("4 passive checks reached the receiver"),
        "{stdout}"
    );
    for expected in [
        "PROCESS_SERVICE_CHECK_RESULT;backup01;backup restic-home;1;WARNING: restic-home 1 file could not be read",
        "PROCESS_SERVICE_CHECK_RESULT;backup01;backup vzdump-nightly;2;CRITICAL: vzdump-nightly 1 of 2 guests backed up",
        "PROCESS_SERVICE_CHECK_RESULT;backup01;backup nightly-db;0;OK: nightly-db 1.2 GB dumped",
        "PROCESS_SERVICE_CHECK_RESULT;backup01;backup garbage;3;UNKNOWN: garbage cannot read",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
    // The chat channels' payloads, rendered, not sent.
    for expected in [
        "slack: the JSON POSTed to the incoming webhook",
        "\"color\": \"#E01E5A\"",
        "mattermost: the JSON POSTed to the incoming webhook",
        "discord: the JSON POSTed to the webhook (?wait=true)",
        "\"allowed_mentions\": {",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
}
