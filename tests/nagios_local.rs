//! `[nagios]`: the agent on the Nagios host itself, against the real Nagios 4 (started by
//! `common::nagios`): results through the external command FIFO and through check result
//! files, a Nagios that is down (the FIFO has no reader or is gone: retryable, nothing blocks,
//! the result waits in the spool and `status` says so), with the objects `nagios-config`
//! prints for this config.
mod agent_support;
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use agent_support::Setup;
use common::nagios::{Nagios, NAGIOS};

const HOST: &str = "backup01";

fn config(s: &Setup, target: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "{HOST}"
state_dir = "STATE"
heartbeat = "off"
quiet_period = "1s"

[nagios]
{target}
timeout = "2s"

[[watch]]
path = "WATCHED"
format = "native"

[[job]]
name = "nightly"
every = "1h"
"#
    ));
}

fn objects(s: &Setup) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["nagios-config", "--no-seen-jobs", "-c"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn result(status: &str, note: &str) -> String {
    format!(
        "{{\"job\":\"nightly\",\"status\":\"{status}\",\"summary\":\"{note}\",\"bytes\":42,\
         \"errors\":[\"line one\",\"C:\\\\path\"]}}\n"
    )
}

#[test]
fn nagios_command_file_delivers_and_survives_nagios_being_down() {
    if !common::have_peer(NAGIOS) {
        return;
    }
    let s = Setup::new();
    config(&s, "command_file = \"/nonexistent/nagios.cmd\"");
    let nagios = Nagios::start(&objects(&s));
    let fifo = nagios.command_file();
    config(&s, &format!("command_file = \"{}\"", fifo.display()));
    let agent = s.start_agent();
    s.drop_file("a.json", &result("failure", "disk full"));
    let t = Duration::from_secs(15);
    let st = nagios.wait_service(HOST, "backup nightly", |x| x.current_state == 2, t);
    assert!(
        st.plugin_output
            .starts_with("CRITICAL: nightly disk full (at "),
        "{st:#?}"
    );
    assert_eq!(st.performance_data, "size=42B errors=2");
    assert!(
        st.long_output()
            .starts_with("error: line one\nerror: C:\\path\nsource: "),
        "{st:#?}"
    );
    assert_eq!((st.check_type, st.state_type), (1, 1));

    // Nagios down: the FIFO has no reader (or is gone); the agent neither blocks nor loses it.
    drop(nagios);
    let started = Instant::now();
    s.drop_file("b.json", &result("success", "while nagios was down"));
    std::thread::sleep(Duration::from_secs(3));
    let log = agent.log_text();
    assert!(
        log.contains("nagios is not running") || log.contains("does not exist"),
        "{log}"
    );
    let pending = std::fs::read_dir(s.state.join("spool/nagios/new"))
        .unwrap()
        .count();
    assert_eq!(pending, 1, "{log}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["status", "-c"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn nagios_check_result_files_are_read_by_nagios() {
    if !common::have_peer(NAGIOS) {
        return;
    }
    let s = Setup::new();
    config(&s, "check_result_path = \"/tmp\"");
    let nagios = Nagios::start(&objects(&s));
    let dir = nagios.dir.path().join("checkresults");
    std::fs::create_dir_all(&dir).unwrap();
    config(&s, &format!("check_result_path = \"{}\"", dir.display()));
    let _agent = s.start_agent();
    s.drop_file("a.json", &result("warning", "1 file skipped"));
    let t = Duration::from_secs(15);
    let st = nagios.wait_service(HOST, "backup nightly", |x| x.current_state == 1, t);
    assert!(
        st.plugin_output
            .starts_with("WARNING: nightly 1 file skipped (at "),
        "{st:#?}"
    );
    assert_eq!(st.performance_data, "size=42B errors=2");
    assert!(
        st.long_output()
            .starts_with("error: line one\nerror: C:\\path\nsource: "),
        "{st:#?}"
    );
    assert_eq!(st.check_type, 1, "passive");
    // Nagios removed the file and its marker.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&dir).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "result files left in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
