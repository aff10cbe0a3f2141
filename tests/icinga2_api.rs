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
    assert_eq!(
        s.name(),
        format!("icinga2 127.0.0.1:{} (as {NODE})", node.port)
    );
    let e = entry("nightly", Status::Warning, 10);
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
    // The job's end (not its start: see sinks::icinga2::render).
    let end = e.outcome.finished.unwrap().timestamp() as f64;
    assert!(
        (r["execution_end"].as_f64().unwrap() - end).abs() < 1.0,
        "{r}"
    );
    assert!(
        (r["execution_start"].as_f64().unwrap() - end).abs() < 1.0,
        "{r}"
    );
    assert_eq!(a["state_type"], 1.0, "HARD at the first result");

    // Icinga keeps the newest: an older result answered 200 is dropped.
    let older = entry("nightly", Status::Failure, 20);
    assert_eq!(deliver(&s, &older).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        state(&node.service("backup01", "backup nightly").unwrap()),
        1
    );

    // 404, unknown service: this result is refused (quarantined by the delivery loop).
    let err = deliver(&s, &entry("ghost", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");
    assert!(
        err.message.contains("\"backup01!backup ghost\"") && err.message.contains("404"),
        "{err}"
    );

    // 404, a missing permission looks the same.
    let s_nobody = sink(&config(tmp.path(), &user("nobody", "no-pw"), ""));
    let err = deliver(&s_nobody, &entry("nightly", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");

    // 401: the destination is dead, and the password never shows.
    let s_bad = sink(&config(tmp.path(), &user("nagbridge", "wrong-pw-123"), ""));
    let err = deliver(&s_bad, &entry("nightly", Status::Success, 1)).unwrap_err();
    assert_eq!(err.class, FailureClass::Dead, "{err}");
    assert!(
        err.message.contains("401") && !err.message.contains("wrong-pw-123"),
        "{err}"
    );

    // A client certificate signed by Icinga's CA instead of a password.
    let certs = tmp.path().join("client");
    let (crt, key) = pki.issue("nagbridge-agent", &certs);
    let s_cert = sink(&config(
        tmp.path(),
        &format!(
            "{ep}\ncert_file = \"{}\"\nkey_file = \"{}\"",
            crt.display(),
            key.display()
        ),
        "",
    ));
    assert_eq!(
        deliver(&s_cert, &entry("nightly", Status::Success, 0)).unwrap(),
        1
    );
    node.wait_service("backup01", "backup nightly", Duration::from_secs(5), |a| {
        state(a) == 0
    });

    // create_services: the missing passive service is created on the existing host.
    let s_create = sink(&config(
        tmp.path(),
        &format!("{}\ncreate_services = true", user("creator", "cr-pw")),
        "[[job]]\nname = \"fresh\"\nevery = \"2h\"\ngrace = \"10m\"\n",
    ));
    assert_eq!(
        deliver(&s_create, &entry("fresh", Status::Failure, 2)).unwrap(),
        1
    );
    let a = node.wait_service("backup01", "backup fresh", Duration::from_secs(5), |a| {
        state(a) == 2
    });
    assert_eq!(a["check_command"], "passive");
    assert_eq!(a["max_check_attempts"], 1.0);
    assert_eq!(a["enable_active_checks"], true);
    assert_eq!(a["check_interval"], 7800.0);
    // Again: it exists now, a plain delivery.
    assert_eq!(
        deliver(&s_create, &entry("fresh", Status::Success, 1)).unwrap(),
        1
    );
    // An unknown host is not created.
    let mut e = entry("fresh", Status::Success, 1);
    e.outcome.host = Some("nohost".into());
    let err = deliver(&s_create, &e).unwrap_err();
    assert_eq!(err.class, FailureClass::Rejected, "{err}");
    assert!(err.message.contains("cannot be created"), "{err}");
    assert!(
        err.message
            .contains("'nohost' of type 'Host' does not exist"),
        "{err}"
    );
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
    assert_eq!(
        deliver(&s_two, &entry("nightly", Status::Failure, 0)).unwrap(),
        1
    );
    node.wait_service("backup01", "backup nightly", Duration::from_secs(5), |a| {
        state(a) == 2
    });

    // Every endpoint down: retryable, naming each.
    let none = format!(
        "endpoints = [\"127.0.0.1:{dead}\", \"127.0.0.1:{}\"]\nusername = \"nagbridge\"\npassword = \"nb-pw\"",
        common::free_port()
    );
    let err = deliver(
        &sink(&config(tmp.path(), &none, "")),
        &entry("nightly", Status::Success, 0),
    )
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Retryable, "{err}");
    assert!(
        err.message.starts_with("no endpoint answered: 127.0.0.1:"),
        "{err}"
    );
}

/// The agent's config: `[icinga2]` only (no `[nsca]`, `ttl = "3s"` for every result, so that
/// Icinga's freshness and not the agent's own cadence check turns a service CRITICAL), a watch,
/// and job `nightly`.
fn agent_config(s: &agent_support::Setup, node: &Node, extra_icinga: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
quiet_period = "1s"

[icinga2]
{}
username = "nagbridge"
password = "nb-pw"
timeout = "5s"
{extra_icinga}

[[watch]]
path = "WATCHED"
format = "native"

[[job]]
name = "quick"

[[job]]
name = "nightly"
every = "24h"
"#,
        endpoint(node)
    ));
}

fn result(job: &str, status: &str, finished_ago: i64, note: &str) -> String {
    let end = Utc::now() - chrono::Duration::seconds(finished_ago);
    let start = end - chrono::Duration::seconds(5);
    format!(
        "{{\"job\":\"{job}\",\"status\":\"{status}\",\"started\":\"{}\",\"finished\":\"{}\",\
         \"bytes\":42,\"summary\":\"{note}\"}}\n",
        start.to_rfc3339(),
        end.to_rfc3339()
    )
}

fn quarantined(s: &agent_support::Setup) -> usize {
    std::fs::read_dir(s.state.join("spool/icinga2/quarantine"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".why"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn icinga2_agent_end_to_end_with_generated_objects_ttl_freshness_and_a_late_result() {
    if !common::have_peer(ICINGA2) {
        return;
    }
    let s = agent_support::Setup::new();
    let pki = Pki::new(s.tmp.path());
    // The node's objects are what `nagios-config --icinga2` prints for the agent's config.
    let port = common::free_port();
    let placeholder = Node::prepare(s.tmp.path(), &pki, NODE, "master", port, "", "");
    agent_config(&s, &placeholder, "ttl = \"3s\"");
    drop(placeholder);
    let out = nagbridge(&[
        "nagios-config",
        "--icinga2",
        "--no-seen-jobs",
        "-c",
        s.config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let objects = text(&out.stdout);
    assert!(
        objects.contains("object Service \"backup quick\""),
        "{objects}"
    );
    assert!(objects.contains("check_interval = 3s"), "{objects}");
    let users = "object ApiUser \"nagbridge\" { password = \"nb-pw\"; permissions = [ \"actions/process-check-result\" ] }\n";
    let zones = format!(
        "object Endpoint \"{NODE}\" {{ }}\nobject Zone \"master\" {{ endpoints = [ \"{NODE}\" ] }}\n"
    );
    let mut node = Node::prepare(
        s.tmp.path(),
        &pki,
        NODE,
        "master",
        port,
        &zones,
        &format!("{objects}\n{users}"),
    );
    node.validate().unwrap_or_else(|e| panic!("{e}"));
    node.start();

    let out = nagbridge(&["check-config", "-c", s.config.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains("passive checks to icinga2)"),
        "{}",
        text(&out.stdout)
    );
    // `nagbridge test`: Icinga 2 confirms, and knows no service "backup nagbridge-test".
    let out = nagbridge(&["test", "-c", s.config.to_str().unwrap()]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with("FAILED icinga2 (icinga2): ")
            && said.contains("backup01!backup nagbridge-test"),
        "{said}"
    );

    let mut agent = s.start_agent();
    s.drop_file("quick-1.json", &result("quick", "success", 0, "first"));
    let a = node.wait_service("backup01", "backup quick", Duration::from_secs(10), |a| {
        state(a) == 0 && output(a).contains("first")
    });
    assert_eq!(a["last_check_result"]["ttl"], 3.0);
    assert_eq!(
        a["last_check_result"]["performance_data"],
        serde_json::json!(["duration=5s", "size=42B", "errors=0"])
    );
    // No result within the ttl: Icinga itself turns it CRITICAL.
    let a = node.wait_service("backup01", "backup quick", Duration::from_secs(15), |a| {
        state(a) == 2
    });
    assert_eq!(output(&a), "CRITICAL: no backup result within 3s");
    // A result that finished before that check, delivered now: Icinga would drop it by its
    // time, so it goes with the delivery time and says when it finished.
    s.drop_file("quick-2.json", &result("quick", "warning", 40, "late one"));
    let a = node.wait_service("backup01", "backup quick", Duration::from_secs(10), |a| {
        state(a) == 1
    });
    assert!(
        output(&a).contains("late one") && output(&a).contains("reported late"),
        "{a}"
    );

    // A result for a service Icinga does not know is quarantined; the next one goes on.
    s.drop_file("ghost.json", &result("ghost", "failure", 0, "nobody knows"));
    s.drop_file(
        "nightly.json",
        &result("nightly", "failure", 0, "disk full"),
    );
    node.wait_service("backup01", "backup nightly", Duration::from_secs(10), |a| {
        state(a) == 2
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while quarantined(&s) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(quarantined(&s), 1, "{}", agent.log_text());
    let out = nagbridge(&["status", "--json", "-c", s.config.to_str().unwrap()]);
    let status = text(&out.stdout);
    assert!(status.contains("\"icinga2\""), "{status}");
    let log = agent.log_text();
    assert!(
        log.contains("delivered nightly CRITICAL to icinga2"),
        "{log}"
    );
    let _ = &mut agent;
}

#[test]
fn icinga2_objects_pass_daemon_check_with_the_stock_config() {
    if !common::have_peer(ICINGA2) || !Path::new("/etc/icinga2/icinga2.conf").exists() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("nb.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost_name = \"backup01\"\nstate_dir = \"{}\"\nheartbeat = \"5m\"\n\
             [icinga2]\nendpoints = [\"m1\"]\nusername = \"u\"\npassword = \"p\"\n\
             [[job]]\nname = \"nightly\"\nevery = \"24h\"\n\
             [[job]]\nname = \"weird \\\"$job\\\\\"\nhost = \"db01\"\n",
            tmp.path().join("state").display()
        ),
    )
    .unwrap();
    let out = nagbridge(&["nagios-config", "--icinga2", "-c", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let b = tmp.path().join("b");
    for d in ["lib", "log", "cache", "spool", "initrun"] {
        std::fs::create_dir_all(b.join(d)).unwrap();
    }
    let st = Command::new("cp")
        .arg("-a")
        .arg("/etc/icinga2")
        .arg(b.join("etc"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(b.join("etc/conf.d/nagbridge.conf"), &out.stdout).unwrap();
    let d = b.display();
    let check = Command::new(ICINGA2)
        .arg("daemon")
        .arg("-C")
        .arg("-c")
        .arg(b.join("etc/icinga2.conf"))
        .args([
            format!("-DConfigDir={d}/etc"),
            format!("-DDataDir={d}/lib"),
            format!("-DLogDir={d}/log"),
            format!("-DCacheDir={d}/cache"),
            format!("-DSpoolDir={d}/spool"),
            format!("-DInitRunDir={d}/initrun"),
            "-DRunAsUser=root".into(),
            "-DRunAsGroup=root".into(),
        ])
        .output()
        .unwrap();
    let said = text(&check.stdout);
    assert!(check.status.success(), "{said}\n{}", text(&out.stdout));
    assert!(
        said.contains("Finished validating the configuration file(s)."),
        "{said}"
    );
    assert!(!said.contains("warning/"), "{said}");
}

/// Throughput and latency through one kept-alive connection (a measurement, not a check: run
/// with `cargo test --release --test icinga2_api -- --ignored --nocapture throughput`).
#[test]
#[ignore]
fn icinga2_throughput_one_keepalive_connection() {
    if !common::have_peer(ICINGA2) {
        return;
    }
    let n: usize = std::env::var("NAGBRIDGE_BENCH_RESULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let node = Node::single(tmp.path(), &pki, NODE, OBJECTS);
    let c = config(
        tmp.path(),
        &format!(
            "{}\nusername = \"nagbridge\"\npassword = \"nb-pw\"",
            endpoint(&node)
        ),
        "[[job]]\nname = \"nightly\"\nevery = \"24h\"\n",
    );
    let s = sink(&c);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Warm up (TLS handshake), then time batches of 64 as the delivery loop sends them.
    let statuses = [Status::Success, Status::Warning, Status::Failure];
    let warm: Vec<Entry> = (0..64)
        .map(|i| entry("nightly", statuses[i % 3], 0))
        .collect();
    rt.block_on(s.deliver_batch(&warm)).unwrap();
    let entries: Vec<Entry> = (0..n)
        .map(|i| entry("nightly", statuses[i % 3], 0))
        .collect();
    let mut latencies = Vec::with_capacity(n);
    let started = std::time::Instant::now();
    for e in &entries {
        let t = std::time::Instant::now();
        assert_eq!(
            rt.block_on(s.deliver_batch(std::slice::from_ref(e)))
                .unwrap(),
            1
        );
        latencies.push(t.elapsed());
    }
    let took = started.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((n as f64 * q) as usize).min(n - 1)];
    let log = std::fs::read_to_string(node.dir.join("log/icinga2.log")).unwrap_or_default();
    let connections = log
        .lines()
        .filter(|l| {
            l.contains("New client connection") && !l.contains("no client certificate)")
                || l.contains("New client connection from") && l.contains("127.0.0.1")
        })
        .count();
    eprintln!(
        "measure: {n} results in {took:?}: {:.0} results/s; per result p50 {:?} p99 {:?} max {:?}; \
         connections opened (incl. the harness's curl polls): {connections}",
        n as f64 / took.as_secs_f64(),
        p(0.5),
        p(0.99),
        latencies[n - 1]
    );
}
