//! Parser throughput: for each format, generate a ~100 MB log from the committed fixtures
//! (repeating runs or lines the way a long-lived log grows), parse it once, and print MB/s,
//! the outcomes found, and the peak memory of a process that did only that.
//!
//! ```text
//! cargo run --release --example bench_parse            # all formats, a table
//! cargo run --release --example bench_parse -- restic  # one format (used by the table)
//! ```

use std::process::Command;
use std::time::Instant;

use nagbridge::formats::{self, FileMeta, Format, Input, Options};

const TARGET: usize = 100 * 1024 * 1024;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// `head` once, then `body` repeated up to ~100 MB, then `tail`.
fn grow(head: &[u8], body: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(TARGET + body.len() + tail.len() + head.len());
    v.extend_from_slice(head);
    while v.len() + tail.len() < TARGET {
        v.extend_from_slice(body);
    }
    v.extend_from_slice(tail);
    v
}

fn generate(format: Format) -> Vec<u8> {
    match format {
        Format::Native => grow(
            b"",
            br#"{"job":"nightly-db","status":"ok","bytes":1234567,"files":42,"summary":"dump done"}
"#,
            b"",
        ),
        // one long run: a status line per second for days, an error now and then, one summary
        Format::Restic => {
            let f = fixture("restic/0.18-backup-warning.jsonl");
            let lines: Vec<&[u8]> = f.split(|&b| b == b'\n').collect();
            let mut body = Vec::new();
            for _ in 0..50 {
                body.extend_from_slice(lines[0]);
                body.push(b'\n');
            }
            body.extend_from_slice(lines[1]);
            body.push(b'\n');
            let tail = [lines[2], b"\n", lines[3], b"\n"].concat();
            grow(b"", &body, &tail)
        }
        Format::Borg => {
            let f = fixture("borg/1.4-modern-permission.log");
            let line = br#"{"type": "log_message", "time": 1795510000.0, "message": "processing /srv/data/file.bin", "levelname": "INFO", "name": "borg.archiver"}
"#;
            grow(b"", line, &f)
        }
        Format::Rsnapshot => grow(b"", &fixture("rsnapshot/postexec-then-next-run.log"), b""),
        Format::Duplicity => grow(b"", &fixture("duplicity/0.8-log-file.log"), b""),
        Format::Vzdump => grow(b"", &fixture("vzdump/index"), b""),
        Format::Bacula => grow(b"", &fixture("bacula/bacula.log"), b""),
        Format::Xo => grow(b"", &fixture("xo/getAllLogs.ndjson"), b""),
        Format::Pgbackrest => grow(b"", &fixture("pgbackrest/demo-backup.log"), b""),
        Format::Auto => Vec::new(),
    }
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Parse one generated log; prints `name size_mb seconds outcomes input_kb peak_kb`.
fn one(format: Format) {
    let data = generate(format);
    let before = peak_rss_kb();
    let meta = FileMeta::for_path("/bench/input.log");
    let options = Options {
        job: "bench".into(),
        ..Options::default()
    };
    let input = Input {
        bytes: &data,
        meta: &meta,
        exit_code: None,
        options: &options,
        complete: true,
    };
    let start = Instant::now();
    let parsed = formats::parse(format, &input);
    let secs = start.elapsed().as_secs_f64();
    let after = peak_rss_kb();
    println!(
        "{} {} {secs} {} {before} {after}",
        format.name(),
        data.len(),
        parsed.outcomes.len()
    );
}

fn main() {
    let formats = [
        Format::Native,
        Format::Restic,
        Format::Borg,
        Format::Rsnapshot,
        Format::Duplicity,
        Format::Vzdump,
        Format::Bacula,
        Format::Xo,
        Format::Pgbackrest,
    ];
    if let Some(name) = std::env::args().nth(1) {
        one(name.parse().unwrap_or_else(|e| panic!("{e}")));
        return;
    }
    println!(
        "{:<11} {:>8} {:>8} {:>9} {:>14} {:>16}",
        "format", "MB", "MB/s", "outcomes", "input RSS MB", "parse peak +MB"
    );
    let me = std::env::current_exe().expect("own path");
    for f in formats {
        let out = Command::new(&me)
            .arg(f.name())
            .output()
            .expect("run one format");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<&str> = text.split_whitespace().collect();
        if v.len() != 6 {
            println!(
                "{:<11} failed: {}",
                f.name(),
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let mb = v[1].parse::<f64>().unwrap_or(0.0) / 1e6;
        let secs: f64 = v[2].parse().unwrap_or(f64::NAN);
        let before: f64 = v[4].parse().unwrap_or(0.0);
        let after: f64 = v[5].parse().unwrap_or(0.0);
        println!(
            "{:<11} {:>8.1} {:>8.1} {:>9} {:>14.1} {:>16.1}",
            v[0],
            mb,
            mb / secs,
            v[3],
            before / 1024.0,
            (after - before) / 1024.0
        );
    }
}
