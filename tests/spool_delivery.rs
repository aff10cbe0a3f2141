//! The spool, the delivery loop and the NSCA sink together, against the in-process
//! `nsca::server::Receiver` with its faults, and once against Debian's real `nsca` daemon:
//! nothing spooled is ever lost, whatever the receiver or the spool directory does.
mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nagbridge::delivery::{Delivery, DeliveryConfig, DeliveryStats};
use nagbridge::outcome::{Outcome, Status};
use nagbridge::retry::RetryPolicy;
use nagbridge::sinks::nsca::{NscaSink, NscaSinkConfig};
use nagbridge::spool::{Spool, SpoolError};
use nsca::crypto::Method;
use nsca::server::{Fault, Receiver, ReceiverConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const PASSWORD: &[u8] = b"s3cret";

async fn receiver_on(addr: SocketAddr) -> Receiver {
    let mut c = ReceiverConfig::new(addr, Method::Xor, PASSWORD.to_vec());
    c.read_timeout = Duration::from_secs(2);
    Receiver::bind(c).await.unwrap()
}

async fn receiver() -> Receiver {
    receiver_on("127.0.0.1:0".parse().unwrap()).await
}

fn sink(server: &str) -> NscaSink {
    let mut c = NscaSinkConfig::new(server, Method::Xor, PASSWORD.to_vec(), "backup01");
    c.timeout = Duration::from_millis(300);
    NscaSink::new(c).unwrap()
}

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        batch_size: 64,
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            max_after: Duration::from_secs(1),
        },
        poll_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_millis(500),
        log_interval: Duration::from_secs(60),
        pace: Duration::ZERO,
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    stats: Arc<DeliveryStats>,
}

impl Running {
    async fn stop(self) -> Duration {
        let start = Instant::now();
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the loop stops")
            .unwrap();
        start.elapsed()
    }

    async fn wait_for(&self, what: &str, f: impl Fn(&DeliveryStats) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f(&self.stats) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.stats.snapshot()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn start(spool: &Spool, server: &str, config: DeliveryConfig) -> Running {
    let delivery = Delivery::new(spool.clone(), sink(server), config);
    let stats = delivery.stats();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(delivery.run(stopped));
    Running { stop, task, stats }
}

fn outcome(i: usize) -> Outcome {
    let mut o = Outcome::new(format!("job-{i}"), Status::Success);
    o.summary = Some(format!("evid={i}"));
    o
}

fn enqueue_all(spool: &Spool, range: std::ops::Range<usize>) {
    for i in range {
        spool.enqueue(&outcome(i)).unwrap();
    }
}

/// Receive until every `backup job-<i>` for i in 0..n arrived at least once; returns the
/// services in order of first arrival, and the number of packets received.
async fn receive_all(r: &mut Receiver, n: usize) -> (Vec<String>, usize) {
    let want: HashSet<String> = (0..n).map(|i| format!("backup job-{i}")).collect();
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut packets = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < n {
        let got = tokio::time::timeout_at(deadline, r.recv()).await;
        let Ok(Some(p)) = got else {
            let missing: Vec<_> = want.difference(&seen).take(5).collect();
            panic!("{} of {n} arrived; missing e.g. {missing:?}", seen.len());
        };
        packets += 1;
        assert!(want.contains(&p.check.service), "unknown {:?}", p.check);
        assert_eq!(p.check.host, "backup01");
        if seen.insert(p.check.service.clone()) {
            order.push(p.check.service);
        }
    }
    (order, packets)
}

async fn spool_len(spool: &Spool) -> usize {
    let s = spool.clone();
    tokio::task::spawn_blocking(move || s.len().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_in_order_empties_the_spool_and_quarantines_the_undeliverable() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let mut r = receiver().await;
    let run = start(&spool, &r.local_addr().to_string(), fast());
    // A damaged entry can never be sent: quarantined, not retried, and it blocks nothing.
    let damaged = spool
        .dir()
        .join("new")
        .join("00000000000000001-0000000000-1");
    std::fs::write(&damaged, b"NBSP\0\x01 torn").unwrap();
    enqueue_all(&spool, 0..200);
    let (order, _) = receive_all(&mut r, 200).await;
    let expected: Vec<String> = (0..200).map(|i| format!("backup job-{i}")).collect();
    assert_eq!(order, expected, "oldest first");
    run.wait_for("acks", |s| s.snapshot().delivered == 200)
        .await;
    let snap = run.stats.snapshot();
    assert_eq!((snap.rejected, snap.failures, snap.pending), (0, 0, 0));
    assert_eq!(spool.quarantined(), 1);
    assert_eq!(spool_len(&spool).await, 0);
    assert_eq!(
        std::fs::read_dir(spool.quarantine_dir())
            .unwrap()
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".why"))
            .count(),
        1
    );
    // Idle: a new entry wakes the loop at once (well before the 200 ms poll).
    let t = Instant::now();
    spool.enqueue(&outcome(0)).unwrap();
    r.collect(1, Duration::from_secs(5)).await;
    eprintln!("idle wake-up to receipt: {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    let took = run.stop().await;
    assert!(took < Duration::from_millis(100), "idle stop took {took:?}");
}

/// R16 refuse + R18 (scaled): 1,000 outcomes spooled while the receiver refuses, then healed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_receiver_then_healed_delivers_all_1000() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let mut r = receiver().await;
    r.set_fault(Fault::Refuse);
    let run = start(&spool, &r.local_addr().to_string(), fast());
    let t = Instant::now();
    enqueue_all(&spool, 0..1000);
    eprintln!(
        "1000 enqueues (fsync + rename + dir fsync): {:?}",
        t.elapsed()
    );
    run.wait_for("failures", |s| s.snapshot().failures >= 3)
        .await;
    assert_eq!(r.stats().packets, 0);
    assert!(run.stats.snapshot().failing);
    r.set_fault(Fault::None);
    let t = Instant::now();
    let (_, packets) = receive_all(&mut r, 1000).await;
    run.wait_for("acks", |s| s.snapshot().delivered == 1000)
        .await;
    eprintln!(
        "healed: 1000 delivered in {:?} ({packets} packets)",
        t.elapsed()
    );
    assert_eq!(spool_len(&spool).await, 0);
    let snap = run.stats.snapshot();
    assert!(!snap.failing && snap.pending == 0, "{snap:?}");
    assert!(snap
        .last_error
        .unwrap()
        .contains("closed the connection before"));
    run.stop().await;
}

/// Nothing listening at all while 1,000 are spooled, then a receiver on that port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_then_listening_delivers_all_1000() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let port = common::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let run = start(&spool, &addr.to_string(), fast());
    enqueue_all(&spool, 0..1000);
    run.wait_for("failures", |s| s.snapshot().failures >= 3)
        .await;
    assert!(run
        .stats
        .snapshot()
        .last_error
        .unwrap()
        .contains("could not connect"));
    let mut r = receiver_on(addr).await;
    receive_all(&mut r, 1000).await;
    run.wait_for("acks", |s| s.snapshot().delivered == 1000)
        .await;
    assert_eq!(spool_len(&spool).await, 0);
    run.stop().await;
}

/// Each receiver fault: everything spooled during it arrives at least once after it heals.
async fn fault_heals(fault: Fault) {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let mut r = receiver().await;
    r.set_fault(fault);
    enqueue_all(&spool, 0..150);
    let run = start(&spool, &r.local_addr().to_string(), fast());
    run.wait_for("failures", |s| s.snapshot().failures >= 2)
        .await;
    assert_eq!(
        run.stats.snapshot().delivered,
        0,
        "{fault:?}: nothing is delivered"
    );
    let failed_with = run.stats.snapshot().last_error.unwrap();
    r.set_fault(Fault::None);
    let (_, packets) = receive_all(&mut r, 150).await;
    run.wait_for("acks", |s| s.snapshot().delivered == 150)
        .await;
    assert_eq!(spool_len(&spool).await, 0);
    eprintln!("{fault:?}: failed with {failed_with:?}; {packets} packets for 150 entries");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_no_init_heals() {
    fault_heals(Fault::NoInit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_close_after_init_heals() {
    fault_heals(Fault::CloseAfterInit).await;
}

/// The stalled server never reads: every byte may sit in socket buffers and the write side
/// closes cleanly, so only waiting for the server's close tells that it was not delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_stall_heals() {
    fault_heals(Fault::Stall).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_reset_mid_packet_heals() {
    fault_heals(Fault::ResetMidPacket).await;
}

/// R3: shutdown while the receiver stalls ends within the grace period and leaves every
/// undelivered entry in the spool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_and_leaves_entries_spooled() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let r = receiver().await;
    r.set_fault(Fault::Stall);
    enqueue_all(&spool, 0..50);
    let mut config = fast();
    config.shutdown_grace = Duration::from_millis(100);
    // A timeout longer than the grace: the batch is abandoned, not waited for.
    let mut c = NscaSinkConfig::new(
        r.local_addr().to_string(),
        Method::Xor,
        PASSWORD.to_vec(),
        "backup01",
    );
    c.timeout = Duration::from_secs(30);
    let delivery = Delivery::new(spool.clone(), NscaSink::new(c).unwrap(), config);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(delivery.run(stopped));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .unwrap();
    eprintln!("shutdown with a batch in flight: {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_millis(100 + 1000));
    assert_eq!(spool_len(&spool).await, 50);
}

/// R4 / R19: the spool cannot commit (as root too: `new/` is a regular file, so rename(2)
/// fails with ENOTDIR; chmod 0500 would not stop root). Enqueue fails with a clear error, so
/// the caller keeps its checkpoint and offers the outcome again; after healing nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_spool_dir_fails_enqueue_and_loses_nothing_after_healing() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let mut r = receiver().await;
    let run = start(&spool, &r.local_addr().to_string(), fast());
    enqueue_all(&spool, 0..10);
    run.wait_for("acks", |s| s.snapshot().delivered == 10).await;

    let new = spool.dir().join("new");
    std::fs::remove_dir(&new).unwrap();
    std::fs::write(&new, b"").unwrap();
    // The source side: a checkpoint that advances only on Ok.
    let mut checkpoint = 10;
    for i in 10..20 {
        match spool.enqueue(&outcome(i)) {
            Ok(_) => checkpoint = i + 1,
            Err(e) => {
                assert!(matches!(e, SpoolError::Commit { .. }), "{e}");
                assert!(
                    e.to_string().starts_with("cannot commit spool entry to ")
                        && e.to_string().contains("nagios/new/"),
                    "{e}"
                );
                break;
            }
        }
    }
    assert_eq!(checkpoint, 10, "the checkpoint did not move");
    // The loop notices too (listing fails) and backs off instead of spinning.
    run.wait_for("spool failures", |s| s.snapshot().failures >= 2)
        .await;
    let err = run.stats.snapshot().last_error.unwrap();
    assert!(err.starts_with("spool: cannot access spool "), "{err}");

    std::fs::remove_file(&new).unwrap();
    std::fs::create_dir(&new).unwrap();
    for i in checkpoint..20 {
        spool.enqueue(&outcome(i)).unwrap();
    }
    let (_, _) = receive_all(&mut r, 20).await;
    run.wait_for("acks", |s| s.snapshot().delivered == 20).await;
    assert_eq!(spool_len(&spool).await, 0);
    assert!(std::fs::read_dir(spool.dir().join("tmp"))
        .unwrap()
        .next()
        .is_none());
    run.stop().await;
}

fn two_hours_ago() -> (DateTime<Utc>, Outcome) {
    let spooled = Utc::now() - chrono::Duration::hours(2);
    let mut o = outcome(0);
    o.finished = Some(spooled - chrono::Duration::minutes(3));
    (spooled, o)
}

/// R17: an entry spooled 2 h ago goes out with the server's fresh timestamp and its own time
/// in the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hour_old_entry_gets_the_fresh_server_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let (spooled, o) = two_hours_ago();
    spool.enqueue_at(&o, spooled).unwrap();
    let mut r = receiver().await;
    let run = start(&spool, &r.local_addr().to_string(), fast());
    let got = r.collect(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let now = Utc::now().timestamp();
    let ts = i64::from(got[0].timestamp);
    assert!((now - ts).abs() <= 5, "stamped {ts}, now {now}");
    let at = o.finished.unwrap().format("%Y-%m-%d %H:%M:%SZ").to_string();
    assert!(
        got[0]
            .check
            .output
            .starts_with(&format!("OK: job-0 evid=0 (at {at}) | ")),
        "{}",
        got[0].check.output
    );
    run.stop().await;
}

/// The same against Debian's real daemon, which drops packets older than max_packet_age (30 s
/// here): entries spooled 2 h ago reach its command file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_daemon_accepts_entries_spooled_two_hours_ago() {
    if !common::have_peer(common::NSCA_DAEMON) {
        return;
    }
    let daemon = common::NscaDaemon::start(1, Some("s3cret"));
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let (spooled, o) = two_hours_ago();
    for i in 0..5 {
        let mut o = o.clone();
        o.job = format!("job-{i}");
        o.summary = Some(format!("evid={i}"));
        spool.enqueue_at(&o, spooled).unwrap();
    }
    let mut config = fast();
    config.batch_size = 3; // two connections
    let mut c = NscaSinkConfig::new(daemon.addr(), Method::Xor, PASSWORD.to_vec(), "backup01");
    c.timeout = Duration::from_secs(5);
    let delivery = Delivery::new(spool.clone(), NscaSink::new(c).unwrap(), config);
    let stats = delivery.stats();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(delivery.run(stopped));
    let lines = tokio::task::spawn_blocking(move || {
        (daemon.wait_lines(5, Duration::from_secs(20)), daemon)
    })
    .await
    .unwrap()
    .0;
    let at = o.finished.unwrap().format("%Y-%m-%d %H:%M:%SZ").to_string();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (i, line) in lines.iter().enumerate() {
        let want = format!(
            "PROCESS_SERVICE_CHECK_RESULT;backup01;backup job-{i};0;OK: job-{i} evid={i} (at {at}) | errors=0"
        );
        assert_eq!(line, &want);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.snapshot().delivered < 5 {
        assert!(Instant::now() < deadline, "{:?}", stats.snapshot());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats.snapshot().failures, 0);
    assert_eq!(spool_len(&spool).await, 0);
    stop.send(true).unwrap();
    task.await.unwrap();
}

/// One spool entry that cannot be read (here a directory where an entry file should be: read(2)
/// fails with EISDIR even for root, like a root-owned 0600 entry does for the agent's user)
/// blocks nothing: every entry behind it is delivered, it is counted as unreadable with the
/// reason, and it is forgotten once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_entry_never_blocks_the_entries_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let bad = spool
        .dir()
        .join("new")
        .join("00000000000000001-0000000000-1");
    std::fs::create_dir(&bad).unwrap();
    enqueue_all(&spool, 0..100);
    let mut r = receiver().await;
    let run = start(&spool, &r.local_addr().to_string(), fast());
    let (order, _) = receive_all(&mut r, 100).await;
    assert_eq!(order.len(), 100);
    run.wait_for("acks", |s| s.snapshot().delivered == 100)
        .await;
    let snap = run.stats.snapshot();
    assert_eq!(snap.unreadable.len(), 1, "{snap:?}");
    let (name, why) = snap.unreadable.iter().next().unwrap();
    assert_eq!(name, "00000000000000001-0000000000-1");
    assert!(why.contains("Is a directory"), "{why}");
    assert!(
        !snap.failing,
        "an unreadable entry is not a delivery failure"
    );
    std::fs::remove_dir(&bad).unwrap();
    spool.enqueue(&outcome(100)).unwrap();
    r.collect(1, Duration::from_secs(5)).await;
    run.wait_for("forgotten", |s| s.snapshot().unreadable.is_empty())
        .await;
    run.stop().await;
}
