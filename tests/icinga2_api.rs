//! The `[icinga2]` destination against the real Icinga 2 (Debian's `icinga2`, started here in a
//! temp dir): every answer class (delivered, unknown object, missing permission, wrong
//! password, creating a missing service, an unknown host, every endpoint down, failover),
//! client certificates, perfdata as an array, the job's own times, ttl freshness turning the
//! service CRITICAL, a late result after it, the objects `nagios-config --icinga2` prints
//! (loaded by the node, and checked with `icinga2 daemon -C` against Debian's stock
//! /etc/icinga2), and the real agent delivering to it.
mod agent_support;
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use chrono::Utc;
use common::icinga2::{output, state, Node, Pki, ICINGA2};
use nagbridge::config::Config;
use nagbridge::outcome::{Outcome, Status};
use nagbridge::pipeline::passive::{passive_sinks, PassiveSink};
use nagbridge::sinks::{FailureClass, Sink};
use nagbridge::spool::{Entry, EntryId};

const NODE: &str = "icinga-node1";

const OBJECTS: &str = r#"
object Host "backup01" { check_command = "dummy"; enable_active_checks = false }
object Service "backup nightly" {
  host_name = "backup01"
  check_command = "passive"
  enable_active_checks = true
  check_interval = 1d
  max_check_attempts = 1
}
object ApiUser "nagbridge" { password = "nb-pw"; permissions = [ "actions/process-check-result" ] }
object ApiUser "creator" {
  password = "cr-pw"
  permissions = [ "actions/process-check-result", "objects/create/Service" ]
}
object ApiUser "nobody" { password = "no-pw"; permissions = [ "objects/query/Host" ] }
object ApiUser "certuser" { client_cn = "nagbridge-agent"; permissions = [ "actions/process-check-result" ] }
"#;

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

/// A config with `[icinga2]` keys `icinga` (endpoints etc.) and `extra` sections.
fn config(dir: &Path, icinga: &str, extra: &str) -> Config {
    let text = format!(
        "[agent]\nhost_name = \"backup01\"\nstate_dir = \"{}\"\nheartbeat = \"off\"\n\n\
         [icinga2]\n{icinga}\n\n{extra}\n",
        dir.join("state").display()
    );
    Config::from_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn sink(c: &Config) -> PassiveSink {
    passive_sinks(c).unwrap().into_iter().next().unwrap().1
}

fn endpoint(n: &Node) -> String {
    format!(
        "endpoints = [{{ address = \"127.0.0.1:{}\", server_name = \"{}\" }}]\nca_file = \"{}\"",
        n.port,
        n.name,
        n.ca_file.display()
    )
}

fn entry(job: &str, status: Status, finished_ago: i64) -> Entry {
    let now = Utc::now();
    let mut o = Outcome::new(job, status);
    o.tool = Some("restic".into());
    o.started = Some(now - chrono::Duration::seconds(finished_ago + 12));
    o.finished = Some(now - chrono::Duration::seconds(finished_ago));
    o.bytes = Some(1_234_567);
    o.files = Some(4200);
    o.summary = Some(format!("{job} done | not perfdata"));
    o.errors = vec!["open /srv/x: permission denied".into()];
    Entry {
        id: EntryId::new(now.timestamp_micros() as u64, 0, std::process::id()),
        spooled_at: now,
        outcome: o,
    }
}

fn deliver(s: &PassiveSink, e: &Entry) -> Result<usize, nagbridge::sinks::SinkError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(s.deliver_batch(std::slice::from_ref(e)))
}

#[test]
fn icinga2_every_answer_class_against_the_real_icinga() {
    if !common::have_peer(ICINGA2) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let node = Node::single(tmp.path(), &pki, NODE, OBJECTS);
    let ep = endpoint(&node);
    let user = |u: &str, pw: &str| format!("{ep}\nusername = \"{u}\"\npassword = \"{pw}\"");

    // 200: delivered, with perfdata as an array, the job's own times and the agent as source.
    let c = config(
        tmp.path(),
        &user("nagbridge", "nb-pw"),
        "[[job]]\nname = \"nightly\"\nevery = \"24h\"\ngrace = \"1h\"\n",
    );
    let s = sink(&c);
    assert_eq!(s.name(), format!("icinga2 127.0.0.1:{} (as {NODE})", node.port));
    let e = entry("nightly", Status::Warning, 30);
    assert_eq!(deliver(&s, &e).unwrap(), 1);
    let a = node.wait_service("backup01", "backup nightly", Duration::from_secs(5), |a| {
        state(a) == 1
    });
    let r = &a["last_check_result"];
    assert!(
        output(&a).starts_with("WARNING: nightly nightly done | not perfdata\nerror: open /srv/x"),
        "{a}"
    );
    assert_eq!(
        r["performance_data"],
        serde_json::json!(["duration=12s", "size=1234567B", "files=4200", "errors=1"])
    );
    assert_eq!(r["check_source"], "backup01");
    assert_eq!(r["ttl"], 90000.0);
    let end = e.outcome.finished.unwrap().timestamp() as f64;
    assert!((r["execution_end"].as_f64().unwrap() - end).abs() < 1.0, "{r}");
    assert!((r["execution_start"].as_f64().unwrap() - (end - 12.0)).abs() < 1.0, "{r}");
    assert_eq!(a["state_type"], 1.0, "HARD at the first result");

    // Icinga keeps the newest: an older result answered 200 is dropped.
    let older = entry("nightly", Status::Failure, 600);
    assert_eq!(deliver(&s, &older).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state(&node.service("backup01", "backup nightly").unwrap()), 1);

    // 404, unknown service: this result is refused (quarantined by the delivery loop).
    let err = deliver(&s, &entry("ghost", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");
    assert!(err.message.contains("\"backup01!backup ghost\"") && err.message.contains("404"), "{err}");

    // 404, a missing permission looks the same.
    let s_nobody = sink(&config(tmp.path(), &user("nobody", "no-pw"), ""));
    let err = deliver(&s_nobody, &entry("nightly", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");

    // 401: the destination is dead, and the password never shows.
    let s_bad = sink(&config(tmp.path(), &user("nagbridge", "wrong-pw-123"), ""));
    let err = deliver(&s_bad, &entry("nightly", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Dead, "{err}");
    assert!(err.message.contains("401") && !err.message.contains("wrong-pw-123"), "{err}");

    // A client certificate signed by Icinga's CA instead of a password.
    let certs = tmp.path().join("client");
    let (crt, key) = pki.issue("nagbridge-agent", &certs);
    let s_cert = sink(&config(
        tmp.path(),
        &format!("{ep}\ncert_file = \"{}\"\nkey_file = \"{}\"", crt.display(), key.display()),
        "",
    ));
    assert_eq!(deliver(&s_cert, &entry("nightly", Status::Success, 0)).unwrap(), 1);
    node.wait_service("backup01", "backup nightly", Duration::from_secs(5), |a| state(a) == 0);

    // create_services: the missing passive service is created on the existing host.
    let s_create = sink(&config(
        tmp.path(),
        &format!("{}\ncreate_services = true", user("creator", "cr-pw")),
        "[[job]]\nname = \"fresh\"\nevery = \"2h\"\ngrace = \"10m\"\n",
    ));
    assert_eq!(deliver(&s_create, &entry("fresh", Status::Failure, 2)).unwrap(), 1);
    let a = node.wait_service("backup01", "backup fresh", Duration::from_secs(5), |a| state(a) == 2);
    assert_eq!(a["check_command"], "passive");
    assert_eq!(a["max_check_attempts"], 1.0);
    assert_eq!(a["enable_active_checks"], true);
    assert_eq!(a["check_interval"], 7800.0);
    // Again: it exists now, a plain delivery.
    assert_eq!(deliver(&s_create, &entry("fresh", Status::Success, 1)).unwrap(), 1);
    // An unknown host is not created.
    let mut e = entry("fresh", Status::Success, 1);
    e.outcome.host = Some("nohost".into());
    let err = deliver(&s_create, &e).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");
    assert!(err.message.contains("cannot be created"), "{err}");
    assert!(err.message.contains("'nohost' of type 'Host' does not exist"), "{err}");
    // Without objects/create/Service, creating is refused.
    let s_nocreate = sink(&config(
        tmp.path(),
        &format!("{}\ncreate_services = true", user("nagbridge", "nb-pw")),
        "",
    ));
    let err = deliver(&s_nocreate, &entry("other", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");
    assert!(err.message.contains("objects/create/Service"), "{err}");

    // Failover: the first endpoint refuses connections, the second takes the result.
    let dead = common::free_port();
    let two = format!(
        "endpoints = [\"127.0.0.1:{dead}\", {{ address = \"127.0.0.1:{}\", server_name = \"{NODE}\" }}]\n\
         ca_file = \"{}\"\nusername = \"nagbridge\"\npassword = \"nb-pw\"",
        node.port,
        node.ca_file.display()
    );
    let s_two = sink(&config(tmp.path(), &two, ""));
    assert_eq!(deliver(&s_two, &entry("nightly", Status::Failure, 0)).unwrap(), 1);
    node.wait_service("backup01", "backup nightly", Duration::from_secs(5), |a| state(a) == 2);

    // Every endpoint down: retryable, naming each.
    let none = format!(
        "endpoints = [\"127.0.0.1:{dead}\", \"127.0.0.1:{}\"]\nusername = \"nagbridge\"\npassword = \"nb-pw\"",
        common::free_port()
    );
    let err = deliver(&sink(&config(tmp.path(), &none, "")), &entry("nightly", Status::Success, 0))
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Retryable, "{err}");
    assert!(err.message.starts_with("no endpoint answered: 127.0.0.1:"), "{err}");
}
