//! `nagbridge demo`: a self-contained tour that needs no outside server (SPEC section 2). It
//! starts an in-process NSCA receiver (the same protocol and checks as Debian's nsca 2.10
//! daemon, AES-256), runs the real agent on a temp directory with a temp state dir, drops
//! sample backup results into the directory (restic JSON, a Proxmox vzdump task log, the native
//! format, and a malformed file), and prints what Nagios would receive.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use nsca::crypto::Method;
use nsca::server::{Receiver, ReceiverConfig};
use tokio::sync::watch;

use crate::agent::run::{run_once, Signal};
use crate::config::Config;

/// The sample result files, as the tools write them.
const SAMPLES: &[(&str, &str)] = &[
    (
        "restic-home.json",
        concat!(
            r#"{"message_type":"status","seconds_elapsed":1,"percent_done":0.2,"total_files":3,"files_done":1,"error_count":1}"#, "\n",
            r#"{"message_type":"error","error":{"message":"open /home/alice/.cache/locked: permission denied"},"during":"archival","item":"/home/alice/.cache/locked"}"#, "\n",
            r#"{"message_type":"summary","files_new":12,"files_changed":3,"files_unmodified":4180,"dirs_new":1,"dirs_changed":2,"dirs_unmodified":400,"data_blobs":20,"tree_blobs":3,"data_added":52000000,"total_files_processed":4195,"total_bytes_processed":1200000000,"total_duration":62.0,"snapshot_id":"1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"}"#, "\n",
            r#"{"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}"#, "\n",
        ),
    ),
    (
        "vzdump-nightly.log",
        "INFO: starting new backup job: vzdump 100 101 --storage nas --mode snapshot --node pve1\n\
         INFO: Starting Backup of VM 100 (qemu)\nINFO: Backup started at 2026-11-24 02:00:01\n\
         INFO: VM Name: web01\nINFO: archive file size: 2.31GB\n\
         INFO: Finished Backup of VM 100 (00:00:23)\nINFO: Backup finished at 2026-11-24 02:00:24\n\
         INFO: Starting Backup of VM 101 (qemu)\nINFO: Backup started at 2026-11-24 02:00:24\n\
         INFO: VM Name: db01\nERROR: Backup of VM 101 failed - job failed with err -5 - Input/output error\n\
         INFO: Failed at 2026-11-24 02:00:31\nINFO: Backup job finished with errors\nTASK ERROR: job errors\n",
    ),
    (
        "nightly-db.json",
        r#"{"job":"nightly-db","status":"ok","tool":"pg_dump","bytes":1234567890,"files":1,"duration_s":190.2,"summary":"1.2 GB dumped"}"#,
    ),
    ("garbage.log", "this is not a backup report\n"),
];

/// Run the tour; prints to stdout.
pub async fn run() -> Result<()> {
    println!("nagbridge demo: everything below runs in this process, on 127.0.0.1 only.\n");
    let dir = tempfile::tempdir().context("creating a temp directory")?;
    let inbox = dir.path().join("results");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&inbox)?;
    let password = b"demo-secret-0123456789".to_vec();
    let mut receiver = Receiver::bind(ReceiverConfig::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        Method::Rijndael128,
        password.clone(),
    ))
    .await
    .context("starting the in-process NSCA receiver")?;
    let addr = receiver.local_addr();
    println!("1. An NSCA receiver listens on {addr} (decryption_method=14, AES-256, as nsca.cfg would say).");
    let toml = format!(
        "[agent]\nhost_name = \"backup01\"\nstate_dir = \"{}\"\nheartbeat = \"off\"\nquiet_period = \"1s\"\n\n\
         [nsca]\nserver = \"{addr}\"\nencryption = \"aes256\"\npassword = \"{}\"\n\n\
         [[watch]]\npath = \"{}\"\n\n[[job]]\nname = \"nightly-db\"\nevery = \"24h\"\ngrace = \"2h\"\n",
        state.display(),
        String::from_utf8_lossy(&password),
        inbox.display()
    );
    let config = Config::from_str(&toml, "demo")
        .map_err(|e| anyhow::anyhow!("{}", e.lines().collect::<Vec<_>>().join("\n")))?;
    println!(
        "2. The agent watches {} with this config:\n",
        inbox.display()
    );
    for line in toml.lines() {
        println!("     {line}");
    }
    let (tx, mut rx) = watch::channel(Signal::None);
    let agent = tokio::spawn(async move { run_once(&config, &mut rx).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    println!(
        "\n3. Backup tools drop their results (written to a temp name, then renamed into place):"
    );
    let started = Instant::now();
    for (name, body) in SAMPLES {
        let tmp = inbox.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, inbox.join(name))?;
        println!("     {name} ({} bytes)", body.len());
    }
    let got = receiver
        .collect(SAMPLES.len(), Duration::from_secs(15))
        .await;
    println!(
        "\n4. {} passive checks reached the receiver in {:.0} ms (decrypted, CRC-checked). \
         What Nagios would find in its command file:\n",
        got.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for r in &got {
        println!("  {}", nsca::nagios::command_line(&r.check, now));
    }
    tx.send_replace(Signal::Stop);
    let _ = agent.await;
    receiver.shutdown().await;
    anyhow::ensure!(
        got.len() == SAMPLES.len(),
        "the receiver got {} of {} results",
        got.len(),
        SAMPLES.len()
    );
    // What the channels would receive (rendered here, nothing is sent).
    let failed = SAMPLES
        .iter()
        .find(|(name, _)| name.starts_with("vzdump"))
        .map(|(name, body)| {
            let meta = crate::formats::FileMeta::for_path(&format!("/var/log/nagbridge/{name}"));
            let options = crate::formats::Options {
                job: meta.file_stem.clone(),
                ..Default::default()
            };
            crate::formats::parse(
                crate::formats::Format::Auto,
                &crate::formats::Input {
                    bytes: body.as_bytes(),
                    meta: &meta,
                    exit_code: None,
                    options: &options,
                    complete: true,
                },
            )
            .outcomes
        })
        .and_then(|mut o| (!o.is_empty()).then(|| o.remove(0)));
    if let Some(o) = failed {
        println!(
            "\n5. The same outcomes go to each [[channel]] whose `when` rule takes them. What each \
             kind of channel would receive for the vzdump failure (rendered here, nothing sent):"
        );
        for (what, payload) in crate::sinks::previews(&o, "backup01") {
            println!("\n   {what}:\n");
            for line in payload.lines() {
                println!("     {line}");
            }
        }
        // An [icinga2] destination would post this (rendered here, nothing sent).
        let entry = crate::spool::Entry {
            id: crate::spool::EntryId::new(0, 0, 0),
            spooled_at: chrono::Utc::now(),
            outcome: o.clone(),
        };
        let host = o.host.clone().unwrap_or_else(|| "backup01".into());
        let check = crate::sinks::icinga2::render::check(
            &entry,
            &host,
            &format!("backup {}", o.job),
            None,
            "backup01",
            chrono::Utc::now(),
        );
        let body = serde_json::to_string_pretty(&check.body).unwrap_or_default();
        println!(
            "\n6. With an [icinga2] destination, the same failure goes to Icinga 2's REST API \
             (Icinga acknowledges each result):\n\n     POST /v1/actions/process-check-result?service={}\n",
            crate::sinks::icinga2::percent_encode(&check.object())
        );
        for line in body.lines() {
            println!("     {line}");
        }
    }
    println!("\nNext steps:");
    println!("  nagbridge check-config -c /etc/nagbridge/nagbridge.toml   # validate your config (see nagios-examples/)");
    println!("  nagbridge nagios-config -c /etc/nagbridge/nagbridge.toml  # Nagios services with freshness for your jobs");
    println!("  nagbridge nagios-config --icinga2 -c ...                  # the same as Icinga 2 objects");
    println!("  nagbridge run -c /etc/nagbridge/nagbridge.toml            # the agent");
    println!("  nagbridge test -c /etc/nagbridge/nagbridge.toml           # a sample result to every destination");
    println!(
        "  nagbridge status -c /etc/nagbridge/nagbridge.toml         # what is pending or failing"
    );
    println!("  nagbridge send --help                                     # drop-in for send_nsca");
    Ok(())
}
