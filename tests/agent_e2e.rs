//! End to end: `nagbridge run` (the built binary) watches a temp dir and sends through the real
//! Debian nsca daemon (aes256) into a real Nagios Core 4, whose objects come from
//! `nagbridge nagios-config` on the same config. A result file's outcome shows up in
//! status.dat with our exact plugin output; a success turns the service OK; silence turns it
//! CRITICAL through the generated freshness check. `items = "split"` gives one service per item.
mod agent_support;
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use agent_support::*;
use common::nagios::{Nagios, StockConfig, STOCK_DIR};
use common::*;

const HOST: &str = "backup01";
const SVC: &str = "backup nightly-db";

fn config(nsca_port: u16) -> String {
    format!(
        r#"
[agent]
host_name = "{HOST}"
state_dir = "STATE"
heartbeat = "1m"
quiet_period = "1s"

[nsca]
server = "127.0.0.1:{nsca_port}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "5s"

[[watch]]
path = "WATCHED"
glob = "*.json"
format = "native"

[[watch]]
path = "WATCHED"
glob = "*.vms"
format = "native"
items = "split"

[[job]]
name = "nightly-db"
every = "5s"
grace = "3s"

[[job]]
name = "vms"
every = "1h"
"#
    )
}

/// `nagbridge nagios-config -c FILE`.
fn nagios_objects(setup: &Setup) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["nagios-config", "-c"])
        .arg(&setup.config)
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

/// Items are reported on a host named after the item: those hosts and services are not in
/// the generated objects (nagios-config cannot know item names), so an admin adds them.
const ITEM_OBJECTS: &str = r#"
define host {
    use                     generic-host
    host_name               web01
    address                 web01
}
define host {
    use                     generic-host
    host_name               db01
    address                 db01
}
define service {
    use                     nagbridge-service
    host_name               web01,db01
    service_description     backup vms
    freshness_threshold     3960
    check_command           nagbridge-stale!1h
}
"#;

#[test]
fn result_files_reach_nagios_and_silence_turns_critical() {
    if !have_peer(NSCA_DAEMON) || !have_peer(common::nagios::NAGIOS) {
        return;
    }
    let s = Setup::new();
    // The daemon's port must be in the config before Nagios (whose FIFO the daemon writes)
    // starts: write it with a placeholder port first, generate the objects, then the real one.
    s.write_config(&config(5667));
    let objects = nagios_objects(&s);
    assert!(
        objects.contains("service_description     backup nightly-db")
            && objects.contains("freshness_threshold     8   ; every 5s + grace 3s"),
        "{objects}"
    );
    let nagios = Nagios::start(&format!("{objects}\n{ITEM_OBJECTS}"));
    let daemon = NscaDaemon::start_for(14, Some(PASSWORD), &nagios.command_file());
    s.write_config(&config(daemon.port));
    assert_eq!(nagios_objects(&s), objects, "objects depend on the port");
    let t = Duration::from_secs(15);
    let agent = s.start_agent();

    // The heartbeat arrives at start.
    let hb = nagios.wait_service(HOST, "nagbridge", |s| s.has_been_checked, t);
    assert_eq!((hb.current_state, hb.check_type), (0, 1), "{hb:#?}");
    assert!(
        hb.plugin_output
            .starts_with("OK: nagbridge agent running, "),
        "{}",
        hb.plugin_output
    );

    // A job no [[job]] names: Nagios has no service for it yet (nagios-config adds it below,
    // once the agent has seen it).
    s.drop_file(
        "adhoc.json",
        "{\"job\":\"adhoc-export\",\"status\":\"ok\",\"summary\":\"exported\"}\n",
    );

    // Split items: one outcome for the job and one per item, on a host named after the item.
    // (Before the nightly-db results: the agent is stopped right after those.)
    let vms = s.drop_file(
        "weekly.vms",
        "{\"job\":\"vms\",\"status\":\"warning\",\"summary\":\"1 of 2 VMs failed\",\
         \"items\":[{\"name\":\"web01\",\"status\":\"success\",\"bytes\":5000000,\"message\":\"snapshot 7 kept\"},\
         {\"name\":\"db01\",\"status\":\"failure\",\"message\":\"disk locked\"}]}\n",
    );
    let web = nagios.wait_service("web01", "backup vms", |s| s.has_been_checked, t);
    assert_eq!(web.current_state, 0, "{web:#?}");
    assert!(
        web.plugin_output
            .starts_with("OK: vms snapshot 7 kept (at "),
        "{}",
        web.plugin_output
    );
    assert_eq!(web.performance_data, "size=5000000B errors=0");
    assert_eq!(web.long_output(), format!("source: {}", vms.display()));
    let db = nagios.wait_service("db01", "backup vms", |s| s.has_been_checked, t);
    assert_eq!(db.current_state, 2, "{db:#?}");
    assert!(
        db.plugin_output
            .starts_with("CRITICAL: vms disk locked (at "),
        "{}",
        db.plugin_output
    );
    let job = nagios.wait_service(HOST, "backup vms", |s| s.has_been_checked, t);
    assert_eq!(job.current_state, 1, "{job:#?}");
    assert!(
        job.plugin_output
            .starts_with("WARNING: vms 1 of 2 VMs failed (at "),
        "{}",
        job.plugin_output
    );
    assert_eq!(
        job.long_output(),
        format!(
            "web01: success, 5.0 MB, snapshot 7 kept\ndb01: failure, disk locked\nsource: {}",
            vms.display()
        )
    );

    // A failure result: CRITICAL with our exact output, first line and long output.
    let failure = r#"{"job":"nightly-db","status":"failed","tool":"pg_dump",
        "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z",
        "bytes":1234567,"files":42,
        "items":[{"name":"db1","status":"success","bytes":1000,"message":null},
                 {"name":"db2","status":"failure","message":"connection refused"}],
        "summary":"1 of 2 databases failed",
        "errors":["pg_dump db2: connection refused"],"warnings":["db1: slow"]}"#
        .replace('\n', " ");
    let failure_path = s.drop_file("nightly-db.json", &format!("{failure}\n"));
    // (A freshness result of a slow start would be CRITICAL too: wait for ours.)
    let crit = nagios.wait_service(
        HOST,
        SVC,
        |s| s.plugin_output.starts_with("CRITICAL: nightly-db 1 of 2"),
        t,
    );
    assert_eq!(
        crit.plugin_output,
        "CRITICAL: nightly-db 1 of 2 databases failed (at 2026-11-24 02:03:10Z)"
    );
    assert_eq!(
        crit.performance_data,
        "duration=190s size=1234567B files=42 errors=1 warnings=1"
    );
    assert_eq!(
        crit.long_output(),
        format!(
            "db1: success, 1.0 kB\ndb2: failure, connection refused\n\
             error: pg_dump db2: connection refused\nwarning: db1: slow\nsource: {}",
            failure_path.display()
        )
    );
    assert_eq!((crit.check_type, crit.state_type), (1, 1), "{crit:#?}");

    // A success result (a new file: the job's next run) turns it OK.
    let ok_path = s.drop_file(
        "nightly-db-2.json",
        "{\"job\":\"nightly-db\",\"status\":\"ok\",\"summary\":\"all 2 databases dumped\",\
         \"finished\":\"2026-11-24T03:00:00Z\",\"bytes\":2048}\n",
    );
    let ok = nagios.wait_service(HOST, SVC, |s| s.current_state == 0, t);
    let ok_at = Instant::now();
    // No further result: stop the agent (so its own cadence alert cannot come first) and let
    // Nagios' freshness check (every + grace = 8 s) turn the service CRITICAL.
    let (status, _, log) = agent.terminate(Duration::from_secs(15));
    assert!(status.success(), "{log}");
    assert_eq!(
        ok.plugin_output,
        "OK: nightly-db all 2 databases dumped (at 2026-11-24 03:00:00Z)"
    );
    assert_eq!(ok.performance_data, "size=2048B errors=0");
    assert_eq!(ok.long_output(), format!("source: {}", ok_path.display()));

    let stale = nagios.wait_service(HOST, SVC, |s| s.current_state == 2, Duration::from_secs(25));
    let after = ok_at.elapsed();
    eprintln!("freshness CRITICAL {after:?} after the OK (threshold 8 s)");
    assert_eq!(stale.check_type, 0, "not the freshness check: {stale:#?}");
    assert!(
        stale
            .plugin_output
            .starts_with("CRITICAL: no backup result since 20")
            && stale.plugin_output.ends_with(" (expected every 5s)"),
        "{}",
        stale.plugin_output
    );
    assert!(
        after >= Duration::from_secs(6),
        "stale after {after:?}, before the 8 s threshold"
    );
    drop(daemon);

    // The agent's state now lists the jobs it has seen: nagios-config adds a service for the
    // one no [[job]] names, and the result loads in Debian's stock Nagios.
    let again = nagios_objects(&s);
    assert!(
        again.contains("# job adhoc-export: seen by the agent\n")
            && again.contains("service_description     backup adhoc-export\n")
            && again
                .matches("service_description     backup nightly-db\n")
                .count()
                == 1,
        "{again}"
    );
    if have_peer(&format!("{STOCK_DIR}/nagios.cfg")) {
        let v = StockConfig::verify(&again);
        assert_eq!((v.errors, v.warnings), (0, 0), "{}\n{again}", v.output);
    }
}
