//! `nagbridge nagios-config` output is accepted by real Nagios Core 4 (`nagios4 -v` with no
//! warnings), and its freshness settings turn a silent passive service CRITICAL by themselves.
mod common;
use common::nagios::{Nagios, TEMPLATES};
use common::*;
use std::process::Command;
use std::time::Duration;

fn generate(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nagbridge.toml");
    std::fs::write(
        &cfg,
        toml.replace("STATE", &dir.path().display().to_string()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["nagios-config", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

const CONFIG: &str = r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "1m"

[nsca]
server = "127.0.0.1"
encryption = "none"

[[job]]
name = "nightly-db"
every = "24h"
grace = "2h"

[[job]]
name = "vm-images"
every = "7d"
host = "hypervisor01"
service = "Backup {job}"

[[job]]
name = "restic-*"
every = "1d"
"#;

#[test]
fn generated_objects_pass_nagios_verify_without_warnings() {
    if !have_peer("/usr/sbin/nagios4") {
        return;
    }
    let objects = generate(CONFIG);
    assert!(
        objects.contains("service_description     backup nightly-db"),
        "{objects}"
    );
    assert!(
        objects.contains("freshness_threshold     93600"),
        "{objects}"
    );
    assert!(
        objects.contains("host_name               hypervisor01"),
        "{objects}"
    );
    assert!(
        objects.contains("service_description     Backup vm-images"),
        "{objects}"
    );
    assert!(
        objects.contains("service_description     nagbridge"),
        "{objects}"
    );
    assert!(
        objects.contains("freshness_threshold     180   ; 3 heartbeats"),
        "{objects}"
    );
    assert!(
        objects.contains("# [[job]] restic-*: no service generated"),
        "{objects}"
    );
    Nagios::verify_no_warnings(&objects).unwrap_or_else(|e| panic!("{e}\n{objects}"));
    let _ = TEMPLATES; // the harness adds generic-host and generic-service, as Debian ships them
}

#[test]
fn generated_freshness_turns_a_silent_job_critical() {
    if !have_peer("/usr/sbin/nagios4") {
        return;
    }
    let objects = generate(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
[nsca]
server = "127.0.0.1"
encryption = "none"
[[job]]
name = "nightly-db"
every = "2s"
grace = "1s"
"#,
    );
    let nagios = Nagios::start(&objects);
    nagios.submit(
        "PROCESS_SERVICE_CHECK_RESULT;backup01;backup nightly-db;0;OK: nightly-db succeeded",
    );
    nagios.wait_service(
        "backup01",
        "backup nightly-db",
        |s| s.current_state == 0 && s.plugin_output.starts_with("OK: nightly-db"),
        Duration::from_secs(10),
    );
    let stale = nagios.wait_service(
        "backup01",
        "backup nightly-db",
        |s| s.current_state == 2,
        Duration::from_secs(20),
    );
    assert!(
        stale
            .plugin_output
            .starts_with("CRITICAL: no backup result since 20")
            && stale.plugin_output.ends_with("(expected every 2s)"),
        "{}",
        stale.plugin_output
    );
}

#[test]
fn shipped_example_objects_pass_nagios_verify() {
    if !have_peer("/usr/sbin/nagios4") {
        return;
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/nagios-examples/nagbridge-objects.cfg"
    ))
    .unwrap();
    Nagios::verify_no_warnings(&text).unwrap_or_else(|e| panic!("{e}"));
}
