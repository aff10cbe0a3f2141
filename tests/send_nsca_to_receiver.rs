//! Debian's real `send_nsca` (2.10.2) sends to our `nsca::server::Receiver`, for every method in
//! `Method::all()`, in v3 and legacy (720-byte) mode; we must decode exactly what it sent.
mod common;
use common::*;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nsca::crypto::Method;
use nsca::packet::{PacketSize, PassiveCheck};
use nsca::server::{Receiver, ReceiverConfig};

const PASSWORD: &str = "s3cret-Pässwörd-€-0123456789-abcdefghijklmnopqrstuvwxyz-\
                        ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-the-tail-beyond-128-bytes-is-cut";

/// stdin for send_nsca (ETB-separated records) and what each record must decode to.
fn records(legacy: bool) -> (Vec<u8>, Vec<PassiveCheck>) {
    let long = "L".repeat(300) + &"M".repeat(300);
    let mut input = String::new();
    let mut want = Vec::new();
    let mut add = |record: &str, check: PassiveCheck| {
        input.push_str(record);
        input.push('\x17');
        want.push(check);
    };
    add(
        "web01\tbackup-nightly\t2\tBACKUP CRITICAL: repo locked",
        PassiveCheck::service("web01", "backup-nightly", 2, "BACKUP CRITICAL: repo locked")
            .unwrap(),
    );
    add(
        "web01\t1\tDOWN: no route",
        PassiveCheck::host("web01", 1, "DOWN: no route").unwrap(),
    );
    add(
        "db-01\tréplication\t3\tUNKNOWN: état €\nline two with \\ backslash",
        PassiveCheck::service(
            "db-01",
            "réplication",
            3,
            "UNKNOWN: état €\nline two with \\ backslash",
        )
        .unwrap(),
    );
    // The fourth field is the rest of the record, tabs included.
    add(
        "web01\tdisk\t0\tOK\tused=42%",
        PassiveCheck::service("web01", "disk", 0, "OK\tused=42%").unwrap(),
    );
    let cut = if legacy { 511 } else { 600 };
    add(
        &format!("web01\tlong\t1\t{long}"),
        PassiveCheck::service("web01", "long", 1, &long[..cut]).unwrap(),
    );
    (input.into_bytes(), want)
}

async fn check_method(method: Method, size: PacketSize) -> Result<(), String> {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = ReceiverConfig::new(addr, method, PASSWORD.as_bytes().to_vec());
    config.packet = size;
    let mut receiver = Receiver::bind(config)
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let port = receiver.local_addr().port().to_string();
    let legacy = size == PacketSize::Legacy;
    let (input, want) = records(legacy);
    let cfg = format!(
        "password={PASSWORD}\nencryption_method={}\n",
        method.number()
    );
    let (rc, out, err) = tokio::task::spawn_blocking(move || {
        let mut args = vec!["-H", "127.0.0.1", "-p", &port, "-to", "10"];
        if legacy {
            args.push("--legacy-2-7-mode");
        }
        run_send_nsca(&cfg, &args, &input)
    })
    .await
    .unwrap();
    if rc != 0 {
        return Err(format!("send_nsca exited {rc}: {out}{err}"));
    }
    let got = receiver.collect(want.len(), Duration::from_secs(5)).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for r in &got {
        if u64::from(r.timestamp).abs_diff(now) > 5 {
            return Err(format!("timestamp {} is not now ({now})", r.timestamp));
        }
        if !r.peer.ip().is_loopback() {
            return Err(format!("peer {}", r.peer));
        }
    }
    let got: Vec<PassiveCheck> = got.into_iter().map(|r| r.check).collect();
    if got != want {
        return Err(format!(
            "received {} checks, expected {}:\n got {got:?}\nwant {want:?}",
            got.len(),
            want.len()
        ));
    }
    let stats = receiver.stats();
    if stats.rejected != 0 {
        return Err(format!("receiver rejected packets: {stats:?}"));
    }
    receiver.shutdown().await;
    Ok(())
}

async fn every_method(size: PacketSize) {
    if !have_peer(SEND_NSCA) {
        return;
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    for method in Method::all() {
        match check_method(method, size).await {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{method}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{size:?}: {passed} method(s) passed, {} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_nsca_v3_every_method() {
    every_method(PacketSize::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_nsca_legacy_every_method() {
    every_method(PacketSize::Legacy).await;
}
