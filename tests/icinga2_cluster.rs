//! `[icinga2]` against a real Icinga 2 master + satellite (Debian's `icinga2`, both started
//! here, config synced from the master's zones.d): results posted to the satellite show on the
//! master, the second endpoint takes over when the first is down or hangs, and results posted
//! while the master is down reach it when it is back. Prints the delays it measures.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::icinga2::{output, Node, Pki, ICINGA2};
use nagbridge::config::Config;
use nagbridge::outcome::{Outcome, Status};
use nagbridge::pipeline::passive::{passive_sinks, PassiveSink};
use nagbridge::sinks::Sink;
use nagbridge::spool::{Entry, EntryId};

fn entry(job: &str, status: Status, note: &str) -> Entry {
    let now = Utc::now();
    let mut o = Outcome::new(job, status);
    o.finished = Some(now);
    o.summary = Some(note.to_string());
    Entry {
        id: EntryId::new(now.timestamp_micros() as u64, 0, std::process::id()),
        spooled_at: now,
        outcome: o,
    }
}

fn sink(dir: &Path, sat: &Node, master: &Node, timeout: &str) -> PassiveSink {
    let text = format!(
        "[agent]\nhost_name = \"backup09\"\nstate_dir = \"{}\"\nheartbeat = \"off\"\n\
         [icinga2]\nendpoints = [{{ address = \"127.0.0.1:{}\", server_name = \"sat1\" }}, \
         {{ address = \"127.0.0.1:{}\", server_name = \"master1\" }}]\nca_file = \"{}\"\n\
         username = \"nagbridge\"\npassword = \"nb-pw\"\ntimeout = \"{timeout}\"\n\
         [[job]]\nname = \"nightly\"\nevery = \"24h\"\n",
        dir.join("state").display(),
        sat.port,
        master.port,
        sat.ca_file.display()
    );
    let c = Config::from_str(&text, "cluster.toml").unwrap();
    passive_sinks(&c).unwrap().into_iter().next().unwrap().1
}

fn deliver(rt: &tokio::runtime::Runtime, s: &PassiveSink, e: &Entry) -> Duration {
    let t = Instant::now();
    let n = rt
        .block_on(s.deliver_batch(std::slice::from_ref(e)))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(n, 1);
    t.elapsed()
}

fn shows(node: &Node, note: &str, timeout: Duration) -> Duration {
    let t = Instant::now();
    node.wait_service("backup09", "backup nightly", timeout, |a| {
        output(a).contains(note)
    });
    t.elapsed()
}

#[test]
fn icinga2_cluster_satellite_master_failover_and_outages() {
    if !common::have_peer(ICINGA2) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let (pm, ps) = (common::free_port(), common::free_port());
    let zones = format!(
        "object Endpoint \"master1\" {{ host = \"127.0.0.1\"; port = {pm} }}\n\
         object Endpoint \"sat1\" {{ host = \"127.0.0.1\"; port = {ps} }}\n\
         object Zone \"master\" {{ endpoints = [ \"master1\" ] }}\n\
         object Zone \"sat\" {{ endpoints = [ \"sat1\" ]; parent = \"master\" }}\n"
    );
    let users = "object ApiUser \"nagbridge\" { password = \"nb-pw\"; permissions = [ \"actions/process-check-result\" ] }\n";
    let mut master = Node::prepare(tmp.path(), &pki, "master1", "master", pm, &zones, users);
    let mut sat = Node::prepare(tmp.path(), &pki, "sat1", "sat", ps, &zones, users);
    // The objects, as `nagios-config --icinga2` prints them, in the satellite zone on the master.
    let cfg = tmp.path().join("nb.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nhost_name = \"backup09\"\nstate_dir = \"{}\"\nheartbeat = \"off\"\n\
             [icinga2]\nendpoints = [\"sat1\"]\nusername = \"u\"\npassword = \"p\"\n\
             [[job]]\nname = \"nightly\"\nevery = \"24h\"\n",
            tmp.path().join("state").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["nagios-config", "--icinga2", "--no-seen-jobs", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::create_dir_all(master.dir.join("etc/zones.d/sat")).unwrap();
    std::fs::write(
        master.dir.join("etc/zones.d/sat/nagbridge.conf"),
        &out.stdout,
    )
    .unwrap();
    master.start();
    sat.start();
    // The satellite has the synced objects.
    let synced = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sat.service("backup09", "backup nightly").is_none() {
        assert!(
            Instant::now() < deadline,
            "config not synced\n{}",
            sat.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "measure: config sync to the satellite {:?}",
        synced.elapsed()
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = sink(tmp.path(), &sat, &master, "3s");

    // Posted to the satellite, shown on the master.
    let took = deliver(
        &rt,
        &s,
        &entry("nightly", Status::Failure, "via the satellite"),
    );
    shows(&sat, "via the satellite", Duration::from_secs(5));
    let seen = shows(&master, "via the satellite", Duration::from_secs(10));
    eprintln!("measure: post to the satellite {took:?}, on the master {seen:?} later");

    // The master down: the satellite still takes results; the master has them when back.
    master.stop();
    let took = deliver(
        &rt,
        &s,
        &entry("nightly", Status::Warning, "while the master was down"),
    );
    let restarted = Instant::now();
    master.start();
    let seen = shows(
        &master,
        "while the master was down",
        Duration::from_secs(30),
    );
    let total = restarted.elapsed();
    eprintln!(
        "measure: master outage: post to the satellite {took:?}; on the master {total:?} after \
         its restart began ({seen:?} after its API answered)"
    );

    // The satellite down (connections refused): the master takes the result at once.
    sat.stop();
    let took = deliver(
        &rt,
        &s,
        &entry("nightly", Status::Success, "satellite down"),
    );
    shows(&master, "satellite down", Duration::from_secs(5));
    eprintln!("measure: satellite down (refused): delivered through the master in {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // The satellite hangs (SIGSTOP: connections are accepted, nothing answers): the master
    // takes the result after the timeout (3s).
    sat.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sat.service("backup09", "backup nightly").is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    let fresh = sink(tmp.path(), &sat, &master, "3s");
    sat.signal("STOP");
    let took = deliver(
        &rt,
        &fresh,
        &entry("nightly", Status::Failure, "satellite hangs"),
    );
    sat.signal("CONT");
    shows(&master, "satellite hangs", Duration::from_secs(5));
    eprintln!("measure: satellite hung: delivered through the master in {took:?} (timeout 3s)");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "{took:?}"
    );
}
