//! A counting NSCA receiver for benchmarks and manual tests: decrypts, CRC-checks and counts
//! every packet, and exits 0 once `--expect N` checks arrived (1 when it times out first).
//! With `--arrivals`, it also prints one line per packet as it arrives:
//! `arrival <unix time in ns>\t<return code>\t<host>\t<service>\t<first line of output>`
//! (for latency benchmarks; the summary line then goes to stderr).
//!
//! ```text
//! cargo run --release --example receiver -p nsca -- --port 5667 --method 14 --password secret --expect 1000
//! ```

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nsca::crypto::Method;
use nsca::packet::PacketSize;
use nsca::server::{Receiver, ReceiverConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut port = 5667u16;
    let mut method = Method::Xor;
    let mut password = Vec::new();
    let mut expect = usize::MAX;
    let mut legacy = false;
    let mut arrivals = false;
    let mut wait = Duration::from_secs(600);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage("bad --port")),
            "--method" => method = value().parse().unwrap_or_else(|e| usage(&format!("{e}"))),
            "--password" => password = value().into_bytes(),
            "--expect" => expect = value().parse().unwrap_or_else(|_| usage("bad --expect")),
            "--timeout" => {
                wait =
                    Duration::from_secs(value().parse().unwrap_or_else(|_| usage("bad --timeout")))
            }
            "--legacy" => legacy = true,
            "--arrivals" => arrivals = true,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let mut config = ReceiverConfig::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        method,
        password,
    );
    if legacy {
        config.packet = PacketSize::Legacy;
    }
    let mut receiver = match Receiver::bind(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("receiver: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut got = 0usize;
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while got < expect {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(r)) => {
                got += 1;
                if arrivals {
                    let ns = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos());
                    let c = &r.check;
                    let first = c.output.lines().next().unwrap_or("");
                    let _ = writeln!(
                        out,
                        "arrival {ns}\t{}\t{}\t{}\t{first}",
                        c.return_code, c.host, c.service
                    );
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = out.flush();
    drop(out);
    let stats = receiver.stats();
    let summary = format!(
        "received {got} checks in {:.3} s ({} connections, {} rejected)",
        started.elapsed().as_secs_f64(),
        stats.connections,
        stats.rejected
    );
    if arrivals {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    if got >= expect || expect == usize::MAX {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("receiver: {msg}\nusage: receiver [--port P] [--method NAME|N] [--password PW] [--expect N] [--timeout SECS] [--legacy] [--arrivals]");
    std::process::exit(2)
}
