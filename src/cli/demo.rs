//! `nagbridge demo`: a self-contained tour that needs no outside server. It starts an
//! in-process NSCA receiver (the same protocol and checks as Debian's nsca 2.10 daemon), sends
//! sample backup results to it with the real client, and prints what Nagios would receive.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use nsca::client::{send_batch, ClientConfig};
use nsca::crypto::Method;
use nsca::packet::{PacketSize, PassiveCheck};
use nsca::server::{Receiver, ReceiverConfig};

/// Sample results of a night of backups on host `backup01`.
fn samples() -> Result<Vec<PassiveCheck>> {
    Ok(vec![
        PassiveCheck::service(
            "backup01",
            "backup nightly-db",
            0,
            "OK: nightly-db 1.2 GB added, 4200 files | duration=190.2s size=1234567890B files=4200 errors=0",
        )?,
        PassiveCheck::service(
            "backup01",
            "backup restic-home",
            1,
            "WARNING: restic-home 1 file could not be read | duration=62.0s size=52000000B files=913 errors=1\n\
             open /home/alice/.cache/locked: permission denied",
        )?,
        PassiveCheck::service(
            "backup01",
            "backup borg-vms",
            2,
            "CRITICAL: borg-vms repository locked by another process | duration=0.4s errors=1",
        )?,
        PassiveCheck::host("backup01", 0, "OK: nagbridge agent alive")?,
    ])
}

/// Run the tour; prints to stdout.
pub async fn run() -> Result<()> {
    println!("nagbridge demo: everything below runs in this process, on 127.0.0.1 only.\n");
    let password = b"demo-secret".to_vec();
    for (method, packet) in [
        (Method::Rijndael128, PacketSize::V3),
        (Method::Xor, PacketSize::Legacy),
    ] {
        let mut config = ReceiverConfig::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            method,
            password.clone(),
        );
        config.packet = packet;
        let mut receiver = Receiver::bind(config)
            .await
            .context("starting the in-process NSCA receiver")?;
        let addr = receiver.local_addr();
        let (label, note) = match packet {
            PacketSize::V3 => ("v3 (4304-byte packets, one connection for all)", ""),
            PacketSize::Legacy => (
                "legacy (720-byte packets, one connection each)",
                " as an NSCA 2.7 server would need",
            ),
        };
        println!(
            "NSCA receiver on {addr}: decryption_method={} ({}), packets {label}{note}",
            method.number(),
            method.name()
        );
        let checks = samples()?;
        let mut client = ClientConfig::new(addr.to_string(), method, password.clone());
        client.packet = packet;
        let started = Instant::now();
        let sent = send_batch(&client, &checks)
            .await
            .context("sending to the in-process receiver")?;
        let elapsed = started.elapsed();
        let got = receiver.collect(sent, Duration::from_secs(5)).await;
        println!(
            "sent {sent} passive checks in {:.1} ms; the receiver decrypted and verified {}.",
            elapsed.as_secs_f64() * 1000.0,
            got.len()
        );
        println!("What Nagios would find in its command file:");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for r in &got {
            println!("  {}", nsca::nagios::command_line(&r.check, now));
        }
        println!();
        anyhow::ensure!(
            got.len() == checks.len(),
            "the receiver got {} of {} checks",
            got.len(),
            checks.len()
        );
        receiver.shutdown().await;
    }
    println!("Next steps:");
    println!("  nagbridge send -H nagios.example.com -c /etc/send_nsca.cfg < results   # send_nsca drop-in");
    println!("  nagbridge send --help                                                   # input format and options");
    Ok(())
}
