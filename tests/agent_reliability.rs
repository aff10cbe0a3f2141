//! Reliability of the agent (`nagbridge run`, the built binary as a child process) against an
//! in-process NSCA receiver (aes256): outages, SIGKILL at random moments, SIGTERM, half-written,
//! malformed and huge files. Every result carries a unique `id=NNNNN` in its summary, so what
//! arrives can be matched to what was written. Every wait is bounded; the agent is killed when
//! a test fails (the guard's drop).
mod agent_support;
mod common;

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::time::{Duration, Instant};

use agent_support::*;
use rand::{Rng, SeedableRng};

const HOST: &str = "backup01";

/// The NSCA daemon is down while 1,000 results arrive; once it is up, all of them are
/// delivered (each exactly once) and the spool is empty.
#[test]
fn outage_then_recovery_delivers_all_1000() {
    const N: usize = 1000;
    let s = Setup::new();
    let port = common::free_port();
    s.write_agent_config(port, "1s", "");
    let _agent = s.start_agent();
    let t0 = Instant::now();
    for i in 0..N {
        s.drop_file(
            &format!("r{i:05}.json"),
            &result_json("outage", "failure", i),
        );
    }
    let spooled = wait_for(Duration::from_secs(40), || s.spool_len() == N);
    assert!(
        spooled,
        "{} of {N} spooled within 40 s:\n{}",
        s.spool_len(),
        _agent.log_text()
    );
    let spool_time = t0.elapsed();
    // Up again: on the same port.
    let peer = Peer::start(port);
    let t1 = Instant::now();
    // The retry backoff is full jitter in [0, min(5 min, 2^attempt s)]: after an outage of
    // 5-15 s the next attempt comes within 16-64 s (typically 5-20 s).
    let got = peer.wait_ids(N, Duration::from_secs(70));
    let recovery = t1.elapsed();
    let counts = arrivals(&got, N);
    let missing = missing(&counts);
    assert!(
        missing.is_empty(),
        "{} missing, e.g. {:?}:\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        _agent.log_text()
    );
    assert_spool_drains(&s);
    // Nothing more comes (no duplicates from the retries).
    std::thread::sleep(Duration::from_millis(500));
    let got = peer.received();
    let dups = got.len() - N;
    eprintln!(
        "outage: {N} spooled in {spool_time:?}, all delivered {recovery:?} after the server \
         came up, duplicates: {dups}"
    );
    assert_eq!(dups, 0, "duplicates after an outage");
    assert_payloads(&s, &got, "outage", "CRITICAL", 'r');
}

/// Every check is exactly what result `id` (file `<prefix><id>.json`) must give.
fn assert_payloads(
    s: &Setup,
    got: &[nsca::packet::PassiveCheck],
    job: &str,
    state: &str,
    prefix: char,
) {
    let code = if state == "OK" { 0 } else { 2 };
    for c in got {
        let id = id_of(&c.output).unwrap();
        assert_eq!(
            (c.host.as_str(), c.service.as_str(), c.return_code),
            (HOST, format!("backup {job}").as_str(), code)
        );
        assert_eq!(
            without_check_time(&c.output),
            format!(
                "{state}: {job} id={id:05} | errors=0\nsource: {}",
                s.watched.join(format!("{prefix}{id:05}.json")).display()
            )
        );
    }
}

/// SIGKILL at random moments (0.2 to 1.5 s apart) while 2,000 results are being written and
/// delivered, restarting the agent each time: every result arrives at least once, and the
/// duplicates stay below kills x the delivery batch (64).
#[test]
fn sigkill_during_delivery_loses_nothing() {
    const N: usize = 2000;
    const KILLS: usize = 8;
    let seed: u64 = std::env::var("NAGBRIDGE_TEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("seed: {seed} (NAGBRIDGE_TEST_SEED={seed} repeats this run)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let s = Setup::new();
    let peer = Peer::start(0);
    s.write_agent_config(peer.port(), "1s", "");
    let writer = {
        let watched = s.watched.clone();
        std::thread::spawn(move || {
            for i in 0..N {
                let tmp = watched.join(format!(".k{i:05}.tmp"));
                fs::write(&tmp, result_json("killed", "success", i)).unwrap();
                fs::rename(&tmp, watched.join(format!("k{i:05}.json"))).unwrap();
                if i % 100 == 99 {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    let t0 = Instant::now();
    let mut agent = s.start_agent();
    let mut at_kill = Vec::new();
    for _ in 0..KILLS {
        let wait = rng.random_range(200..=1500);
        std::thread::sleep(Duration::from_millis(wait));
        agent.kill9();
        let cps = fs::read_to_string(s.state.join("watch-checkpoints")).unwrap_or_default();
        at_kill.push((
            wait,
            peer.count(),
            s.spool_len(),
            cps.matches("\"ino\"").count(),
        ));
        agent = s.start_agent();
    }
    writer.join().unwrap();
    // Usually 10-20 s; on a busy shared disk creating files (spool, state) gets slow.
    let got = peer.wait_ids(N, Duration::from_secs(90));
    let elapsed = t0.elapsed();
    let counts = arrivals(&got, N);
    let missing = missing(&counts);
    assert!(
        missing.is_empty(),
        "{} missing, e.g. {:?}; kills (ms, received, spooled, checkpoints): {at_kill:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        agent.log_text()
    );
    assert_spool_drains(&s);
    std::thread::sleep(Duration::from_millis(500));
    let got = peer.received();
    let counts = arrivals(&got, N);
    let dups: usize = counts.iter().map(|c| c - 1).sum();
    eprintln!("kills (ms, received, spooled, checkpoints): {at_kill:?}");
    eprintln!("duplicates: {dups} of {N} ({KILLS} kills, all delivered after {elapsed:?})");
    assert!(
        dups < KILLS * 64,
        "duplicates: {dups} of {N}, more than {KILLS} kills x 64"
    );
    assert_eq!(s.quarantined(), 0, "damaged spool entries after SIGKILL");
    assert_payloads(&s, &got, "killed", "OK", 'k');
}

/// SIGTERM right after 200 results were dropped, with the server up: the agent exits 0 within
/// `shutdown_timeout`, everything it spooled is delivered or still spooled, and a restart
/// delivers the rest: each result exactly once.
#[test]
fn sigterm_drains_and_restart_delivers_the_rest_once() {
    const N: usize = 200;
    let s = Setup::new();
    let peer = Peer::start(0);
    s.write_agent_config(peer.port(), "1s", "shutdown_timeout = \"5s\"");
    let agent = s.start_agent();
    std::thread::sleep(Duration::from_millis(300)); // started and watching
    for i in 0..N {
        s.drop_file(&format!("t{i:05}.json"), &result_json("term", "success", i));
    }
    // Stop in the middle: some results delivered or spooled, most not yet read.
    assert!(
        wait_for(Duration::from_secs(20), || peer.count() + s.spool_len()
            >= 20),
        "nothing spooled:\n{}",
        agent.log_text()
    );
    let (status, took, log) = agent.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit {status}:\n{log}");
    let first = peer.received();
    let spooled = s.spool_len();
    let firsts = distinct_ids(&first, N);
    eprintln!(
        "SIGTERM after {N} files: exited in {took:?}, {firsts} delivered, {spooled} left spooled"
    );
    assert!(
        took < Duration::from_secs(6),
        "exit took {took:?} (shutdown_timeout 5s)"
    );
    assert_eq!(first.len(), firsts, "duplicates before the restart");
    // The server was up and fast: the drain left nothing spooled.
    assert_eq!(
        spooled, 0,
        "entries left spooled with the server up:\n{log}"
    );
    let _agent = s.start_agent();
    let got = peer.wait_ids(N, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(1500));
    let got_after = peer.received();
    let counts = arrivals(&got_after, N);
    let missing = missing(&counts);
    assert!(missing.is_empty(), "missing after restart: {missing:?}");
    let dups: usize = counts.iter().map(|c| c - 1).sum();
    eprintln!(
        "after restart: {} more delivered, duplicates: {dups}",
        got.len() - first.len()
    );
    assert_eq!(dups, 0, "duplicates across a graceful restart");
}

/// SIGTERM with the server down: the agent exits within shutdown_timeout + 1 s, everything
/// stays spooled, and a restart with the server up delivers each result once.
#[test]
fn sigterm_with_server_down_keeps_everything_spooled() {
    const N: usize = 50;
    let s = Setup::new();
    let port = common::free_port();
    s.write_agent_config(port, "1s", "shutdown_timeout = \"3s\"");
    let agent = s.start_agent();
    for i in 0..N {
        s.drop_file(&format!("d{i:05}.json"), &result_json("down", "failure", i));
    }
    assert!(
        wait_for(Duration::from_secs(20), || s.spool_len() == N),
        "{} of {N} spooled:\n{}",
        s.spool_len(),
        agent.log_text()
    );
    let (status, took, log) = agent.terminate(Duration::from_secs(10));
    eprintln!("SIGTERM with the server down: exited in {took:?}");
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(took < Duration::from_secs(4), "exit took {took:?}");
    assert_eq!(s.spool_len(), N);
    let peer = Peer::start(port);
    let _agent = s.start_agent();
    peer.wait_ids(N, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    let counts = arrivals(&peer.received(), N);
    assert!(counts.iter().all(|c| *c == 1), "{counts:?}");
    assert!(wait_for(Duration::from_secs(5), || s.spool_len() == 0));
}

/// A file written one byte every 50 ms for about 3 s (kept open, quiet_period 1 s) is parsed
/// once, complete.
#[test]
fn half_written_file_is_parsed_once_complete() {
    let s = Setup::new();
    let peer = Peer::start(0);
    s.write_agent_config(peer.port(), "1s", "");
    let agent = s.start_agent();
    let content =
        "{\"job\":\"slow\",\"status\":\"warning\",\"summary\":\"id=00007 written slowly\"}\n";
    assert!(content.len() >= 60, "{}", content.len());
    let path = s.watched.join("slow.json");
    let mut f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .unwrap();
    let t0 = Instant::now();
    for b in content.as_bytes() {
        f.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            peer.count(),
            0,
            "parsed before complete: {:?}",
            peer.received()
        );
    }
    drop(f);
    let writing = t0.elapsed();
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    // Anything more would come within the quiet period: wait well past it.
    std::thread::sleep(Duration::from_secs(2));
    let got_after = peer.received();
    eprintln!(
        "slow writer: {writing:?} of writing, outcomes: {}",
        got_after.len()
    );
    assert_eq!(got.len(), 1, "{got:?}\n{}", agent.log_text());
    assert_eq!(got_after, got);
    assert_eq!(got[0].return_code, 1);
    assert_eq!(got[0].service, "backup slow");
    assert_eq!(
        without_check_time(&got[0].output),
        format!(
            "WARNING: slow id=00007 written slowly | errors=0\nsource: {}",
            path.display()
        )
    );
}

/// A malformed file gives one UNKNOWN naming the file and the reason; the agent goes on (the
/// good file after it arrives).
#[test]
fn malformed_file_gives_one_unknown_and_the_agent_goes_on() {
    let s = Setup::new();
    let peer = Peer::start(0);
    s.write_agent_config(peer.port(), "1s", "");
    let mut agent = s.start_agent();
    let bad = s.drop_file("broken.json", "{\"job\":\"broken\",\"status\":");
    let got = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(got.len(), 1, "{got:?}\n{}", agent.log_text());
    let c = &got[0];
    assert_eq!(c.return_code, 3, "{c:?}");
    assert_eq!(c.service, "backup broken");
    let reason = "line 1: not JSON: EOF while parsing a value at line 1 column 25";
    assert_eq!(
        without_check_time(&c.output),
        format!(
            "UNKNOWN: broken cannot read {0}: {reason} | errors=1\nerror: {reason}\nsource: {0}",
            bad.display()
        )
    );
    assert!(agent.running(), "agent died:\n{}", agent.log_text());
    s.drop_file("good.json", &result_json("good", "success", 1));
    let got = peer.wait_until(Duration::from_secs(10), |g| g.len() >= 2);
    assert_eq!(got.len(), 2, "{got:?}\n{}", agent.log_text());
    assert_eq!(got[1].return_code, 0);
    assert_eq!(
        without_check_time(&got[1].output),
        format!(
            "OK: good id=00001 | errors=0\nsource: {}",
            s.watched.join("good.json").display()
        )
    );
}

/// A sparse 1 GB file under the default max_file_size (16 MiB) is never read: the agent's peak
/// memory stays below 64 MB, it yields one UNKNOWN "over max_file_size", and a restart does not
/// alert again. The following file still arrives.
#[test]
fn huge_file_is_not_read_and_memory_stays_bounded() {
    const GB: u64 = 1_000_000_000;
    let s = Setup::new();
    let peer = Peer::start(0);
    s.write_agent_config(peer.port(), "1s", "");
    let agent = s.start_agent();
    std::thread::sleep(Duration::from_millis(300));
    let before = agent.proc_status_kb("VmHWM");
    let tmp = s.watched.join(".huge.tmp");
    let f = fs::File::create(&tmp).unwrap();
    f.write_all_at_start(b"{\"job\":\"huge\",\"status\":\"success\"}\n");
    f.set_len(GB).unwrap();
    drop(f);
    fs::rename(&tmp, s.watched.join("huge.json")).unwrap();
    let got = peer.wait_until(Duration::from_secs(15), |g| !g.is_empty());
    let hwm = agent.proc_status_kb("VmHWM");
    eprintln!(
        "1 GB file: VmHWM {:.1} MB before, {:.1} MB after",
        before as f64 / 1e6,
        hwm as f64 / 1e6
    );
    assert_eq!(got.len(), 1, "{got:?}\n{}", agent.log_text());
    assert_eq!(got[0].return_code, 3);
    let huge = s.watched.join("huge.json");
    let reason = format!(
        "the file is {GB} bytes, over max_file_size (16777216 bytes); it was not read \
         (raise [agent] max_file_size or have the tool write less)"
    );
    assert_eq!(
        without_check_time(&got[0].output),
        format!(
            "UNKNOWN: huge cannot read {0}: {reason} | errors=1\nerror: {reason}\nsource: {0}",
            huge.display()
        )
    );
    assert!(hwm < 64 << 20, "VmHWM {hwm} bytes");
    s.drop_file("after.json", &result_json("after", "success", 2));
    let got = peer.wait_until(Duration::from_secs(10), |g| g.len() >= 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[1].output.starts_with("OK: after id=00002"),
        "{}",
        got[1].output
    );
    // A restart neither reads the file nor alerts again.
    let (status, _, log) = agent.terminate(Duration::from_secs(15));
    assert!(status.success(), "{log}");
    let agent = s.start_agent();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        peer.count(),
        2,
        "{:?}\n{}",
        peer.received(),
        agent.log_text()
    );
    let hwm = agent.proc_status_kb("VmHWM");
    assert!(hwm < 64 << 20, "VmHWM {hwm} bytes after restart");
    let seen: HashSet<_> = peer.received().into_iter().map(|c| c.service).collect();
    assert_eq!(seen.len(), 2);
}

trait WriteAtStart {
    fn write_all_at_start(&self, bytes: &[u8]);
}

impl WriteAtStart for fs::File {
    fn write_all_at_start(&self, bytes: &[u8]) {
        use std::os::unix::fs::FileExt;
        self.write_all_at(bytes, 0).unwrap();
    }
}
