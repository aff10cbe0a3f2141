//! `nagbridge nagios-config` output is accepted by real Nagios Core 4: on Debian's stock
//! `/etc/nagios4` (nagios.cfg, templates, contacts, time periods exactly as the package installs
//! them) with 0 errors and 0 warnings, for every kind of config; stock Nagios takes passive
//! results for the generated services; and the freshness settings turn a silent passive service
//! CRITICAL by themselves.
mod common;
use common::nagios::{Nagios, StockConfig, Verified, STOCK_DIR, TEMPLATES};
use common::*;
use std::process::Command;
use std::time::Duration;

fn generate(toml: &str) -> String {
    generate_with(toml, &[], &[])
}

/// `nagbridge nagios-config -c FILE ARGS`, with an agent state whose cadence file lists `seen`
/// (the file `nagbridge run` keeps in state_dir: `{"since":..., "jobs":{name:{...}}}`).
fn generate_with(toml: &str, args: &[&str], seen: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nagbridge.toml");
    std::fs::write(
        &cfg,
        toml.replace("STATE", &dir.path().display().to_string()),
    )
    .unwrap();
    if !seen.is_empty() {
        let jobs: serde_json::Map<String, serde_json::Value> = seen
            .iter()
            .map(|j| {
                (
                    j.to_string(),
                    serde_json::json!({"last": "2026-11-24T02:03:10Z", "alerted": null}),
                )
            })
            .collect();
        let state = serde_json::json!({"since": "2026-11-20T00:00:00Z", "jobs": jobs});
        std::fs::write(dir.path().join("cadence.json"), state.to_string()).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["nagios-config", "-c"])
        .arg(&cfg)
        .args(args)
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
        objects.contains("# [[job]] restic-*: a glob, and no job matching it has been seen"),
        "{objects}"
    );
    Nagios::verify_no_warnings(&objects).unwrap_or_else(|e| panic!("{e}\n{objects}"));
    let _ = TEMPLATES; // the harness adds generic-host, generic-service and admins
}

/// True when Debian's Nagios and its stock config are here (else skipped, or a failure with
/// NAGBRIDGE_REQUIRE_PEERS).
fn have_stock_nagios() -> bool {
    have_peer(common::nagios::NAGIOS) && have_peer(&format!("{STOCK_DIR}/nagios.cfg"))
}

/// `nagios4 -v` on the stock config with `objects`: 0 errors, 0 warnings, and exactly
/// `services`/`hosts` more than the stock config alone (so the objects were really read).
#[track_caller]
fn assert_stock_accepts(objects: &str, services: u32, hosts: u32) -> Verified {
    let base = StockConfig::verify("");
    assert_eq!(
        (base.errors, base.warnings),
        (0, 0),
        "the stock config alone fails:\n{}",
        base.output
    );
    let v = StockConfig::verify(objects);
    assert_eq!(
        (v.errors, v.warnings, v.services, v.hosts),
        (0, 0, base.services + services, base.hosts + hosts),
        "(errors, warnings, services, hosts); stock alone has {} services, {} hosts\n{}\n--- objects ---\n{objects}",
        base.services,
        base.hosts,
        v.output
    );
    v
}

#[test]
fn stock_debian_nagios_accepts_jobs_with_cadence_globs_and_job_hosts() {
    if !have_stock_nagios() {
        return;
    }
    // heartbeat, nightly-db, vm-images; hosts backup01, hypervisor01; restic-* unseen
    let v = assert_stock_accepts(&generate(CONFIG), 3, 2);
    eprintln!("{}", v.output);
}

#[test]
fn stock_debian_nagios_accepts_configs_without_jobs() {
    if !have_stock_nagios() {
        return;
    }
    let no_jobs = r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
[nsca]
server = "127.0.0.1"
encryption = "none"
"#;
    // the default heartbeat: one service on one host
    let objects = generate(no_jobs);
    assert!(objects.contains("freshness_threshold     900   ; 3 heartbeats"));
    assert_stock_accepts(&objects, 1, 1);
    // nothing at all: the command and the service templates only
    let objects = generate(&no_jobs.replace("[nsca]", "heartbeat = \"off\"\n[nsca]"));
    assert!(!objects.contains("define host"), "{objects}");
    assert_stock_accepts(&objects, 0, 0);
}

#[test]
fn stock_debian_nagios_accepts_the_jobs_the_agent_has_seen() {
    if !have_stock_nagios() {
        return;
    }
    let toml = r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
[nsca]
server = "127.0.0.1"
encryption = "none"
service = "backup {job}"
[[job]]
name = "restic-*"
every = "1d"
grace = "2h"
[[job]]
name = "pve-*"
host = "pve1"
service = "vzdump {job}"
[[job]]
name = "nightly-db"
every = "24h"
"#;
    // nightly-db is both configured and seen (the agent records exact [[job]] names too): once.
    // "db (prod)" cannot be a Nagios name; "odd,name" neither.
    let seen = [
        "restic-home",
        "restic-etc",
        "pve-100",
        "nightly-db",
        "orphan",
        "db (prod)",
        "odd,name",
    ];
    let objects = generate_with(toml, &[], &seen);
    for (comment, service) in [
        (
            "# job restic-home: seen by the agent, [[job]] restic-*",
            "freshness_threshold     93600   ; every 1d + grace 2h",
        ),
        (
            "# job pve-100: seen by the agent, [[job]] pve-*",
            "service_description     vzdump pve-100",
        ),
        (
            "# job orphan: seen by the agent",
            "service_description     backup orphan",
        ),
    ] {
        assert!(
            objects.contains(comment) && objects.contains(service),
            "{comment}\n{objects}"
        );
    }
    assert_eq!(
        objects
            .matches("service_description     backup nightly-db")
            .count(),
        1,
        "{objects}"
    );
    assert!(
        objects.contains("# No freshness: no [[job]] with `every` matches this job"),
        "{objects}"
    );
    assert!(
        objects.contains("# job db (prod): seen by the agent: no service generated, service name \"backup db (prod)\""),
        "{objects}"
    );
    assert!(
        objects.contains("# Jobs the agent has seen: 7 in "),
        "{objects}"
    );
    // nightly-db, restic-home, restic-etc, pve-100, orphan; hosts backup01, pve1
    assert_stock_accepts(&objects, 5, 2);

    // --no-seen-jobs: the config alone
    let objects = generate_with(toml, &["--no-seen-jobs"], &seen);
    assert!(objects.contains("# Jobs the agent has seen: not included (--no-seen-jobs)."));
    assert!(
        objects.contains(
            "# [[job]] restic-*: a glob, and no job matching it has been seen (--no-seen-jobs)"
        ),
        "{objects}"
    );
    assert_stock_accepts(&objects, 1, 1);
}

#[test]
fn stock_debian_nagios_accepts_existing_hosts_and_site_templates() {
    if !have_stock_nagios() {
        return;
    }
    // The agent on the Nagios server itself: Debian's localhost.cfg defines `localhost`, which
    // must not be defined twice, with or without --no-hosts.
    let local = CONFIG.replace("\"backup01\"", "\"localhost\"");
    let objects = generate(&local);
    assert!(
        objects.contains("# host localhost: not defined here"),
        "{objects}"
    );
    assert_stock_accepts(&objects, 3, 1); // hypervisor01 only
                                          // --no-hosts: every host must exist; only localhost does in the stock config
    let toml = r#"
[agent]
host_name = "localhost"
state_dir = "STATE"
[nsca]
server = "127.0.0.1"
encryption = "none"
[[job]]
name = "nightly-db"
every = "1d"
"#;
    let objects = generate_with(toml, &["--no-hosts"], &["weekly"]);
    assert!(!objects.contains("define host"), "{objects}");
    assert_stock_accepts(&objects, 3, 0);
    // The site's own templates (here Debian's linux-server and local-service): theirs first.
    let objects = generate_with(
        CONFIG,
        &[
            "--host-template",
            "linux-server",
            "--service-template",
            "local-service",
        ],
        &[],
    );
    assert!(
        objects.contains("use                     linux-server,nagbridge-host-defaults")
            && objects.contains("use                     local-service,nagbridge-service-defaults")
            && objects.contains("--host-template linux-server --service-template local-service > /etc/nagios4/conf.d/nagbridge.cfg"),
        "{objects}"
    );
    assert_stock_accepts(&objects, 3, 2);
}

/// Regression (issue 8): hosts on Debian's bare `generic-host` (no max_check_attempts), as
/// nagios-config printed them before, break a stock Nagios; this is what the tests above guard.
#[test]
fn stock_generic_host_alone_is_rejected() {
    if !have_stock_nagios() {
        return;
    }
    let v = StockConfig::verify(
        "define host {\n    use generic-host\n    host_name backup01\n    address backup01\n}\n",
    );
    assert!(
        v.output
            .contains("Invalid max_check_attempts value for host 'backup01'"),
        "{}",
        v.output
    );
}

#[test]
fn stock_debian_nagios_takes_passive_results_for_generated_services() {
    if !have_stock_nagios() {
        return;
    }
    let toml = r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "5m"
[nsca]
server = "127.0.0.1"
encryption = "none"
[[job]]
name = "nightly-db"
every = "24h"
[[job]]
name = "restic-*"
every = "1d"
"#;
    let objects = generate_with(toml, &[], &["restic-home", "orphan"]);
    let nagios = Nagios::start_stock(&objects);
    // Stock timing: results are reaped and status.dat written every 10 s.
    let t = Duration::from_secs(40);
    let results = [
        ("nagbridge", 0, "OK: nagbridge agent running"),
        ("backup nightly-db", 2, "CRITICAL: nightly-db failed"),
        (
            "backup restic-home",
            1,
            "WARNING: restic-home 1 file could not be read",
        ),
        ("backup orphan", 0, "OK: orphan succeeded"),
    ];
    for (svc, rc, output) in results {
        nagios.submit(&format!(
            "PROCESS_SERVICE_CHECK_RESULT;backup01;{svc};{rc};{output}"
        ));
    }
    for (svc, rc, output) in results {
        let s = nagios.wait_service(
            "backup01",
            svc,
            |s| s.has_been_checked && s.plugin_output == output,
            t,
        );
        // passive, HARD at the first result
        assert_eq!(
            (s.current_state, s.state_type, s.check_type),
            (rc, 1, 1),
            "{svc}: {s:#?}"
        );
    }
    assert!(
        !nagios.log().contains("could not be found"),
        "{}",
        nagios.diagnostics()
    );
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
    if have_peer(&format!("{STOCK_DIR}/nagios.cfg")) {
        // 5 services (heartbeat, 2 configured jobs, 2 seen), hosts backup01 and pve1
        assert_stock_accepts(&text, 5, 2);
    }
}
