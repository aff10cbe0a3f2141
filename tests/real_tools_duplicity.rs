//! duplicity (the Debian package) run for real in a temp dir, in the shapes users feed us: the
//! console and `--log-file` written into one file (the same run's statistics twice: one
//! outcome), the `--log-fd` machine format alone, `collection-status`, `verify`, and a second
//! run refused because another one holds the archive directory's lock. Each output is parsed
//! named and with `auto`. Skipped without `/usr/bin/duplicity` unless NAGBRIDGE_REQUIRE_PEERS.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::have_peer;
use common::tool_run::parse_detected;
use nagbridge::formats::Format;
use nagbridge::outcome::{Outcome, Status};

const DUPLICITY: &str = "/usr/bin/duplicity";

fn outcomes(bytes: &[u8], code: Option<i32>) -> Vec<Outcome> {
    parse_detected(
        Format::Duplicity,
        "/var/log/nagbridge/duplicity.log",
        "home",
        bytes,
        code,
        true,
    )
}

fn one(bytes: &[u8], code: Option<i32>) -> Outcome {
    let mut o = outcomes(bytes, code);
    assert_eq!(o.len(), 1, "{}\n{o:#?}", String::from_utf8_lossy(bytes));
    o.remove(0)
}

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.txt"), vec![b'a'; 50_000]).unwrap();
        std::fs::write(src.join("sub/b.txt"), b"bee\n").unwrap();
        Lab { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self, target: &str) -> String {
        format!("file://{}/{target}", self.dir.path().display())
    }

    /// `duplicity ARGS` through `sh -c` (for redirections), output appended to `out`.
    fn sh(&self, args: &str, out: &Path) -> (Vec<u8>, i32) {
        let script = format!(
            "LANG=C {DUPLICITY} --no-encryption --num-retries 1 --archive-dir {} {args} >> {} 2>&1",
            self.path("cache").display(),
            out.display()
        );
        let status = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .status()
            .unwrap();
        (
            std::fs::read(out).unwrap_or_default(),
            status.code().unwrap_or(128),
        )
    }
}

#[test]
fn log_file_and_console_in_one_file_is_one_run() {
    if !have_peer(DUPLICITY) {
        return;
    }
    let lab = Lab::new();
    let log = lab.path("both.log");
    let (out, code) = lab.sh(
        &format!(
            "--log-file {} {} {}",
            log.display(),
            lab.path("src").display(),
            lab.url("dest")
        ),
        &log,
    );
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("NOTICE 1") && text.contains(". StartTime"),
        "{text}"
    );
    let o = one(&out, None);
    assert_eq!(o.status, Status::Success, "{o:#?}");
    assert_eq!(o.files, Some(4));

    // A second (incremental) run appended: two runs.
    let (out, code) = lab.sh(
        &format!(
            "--log-file {} {} {}",
            log.display(),
            lab.path("src").display(),
            lab.url("dest")
        ),
        &log,
    );
    assert_eq!(code, 0);
    let o = outcomes(&out, None);
    assert_eq!(o.len(), 2, "{o:#?}");
    assert!(o.iter().all(|o| o.status == Status::Success));

    // --log-fd alone: the machine format only.
    let fd = lab.path("fd.log");
    let (out, code) = lab.sh(
        &format!(
            "--log-fd 3 {} {} 3>>{} >/dev/null",
            lab.path("src").display(),
            lab.url("dest2"),
            fd.display()
        ),
        &lab.path("ignored.log"),
    );
    let _ = out;
    assert_eq!(code, 0);
    let machine = std::fs::read(&fd).unwrap();
    let o = one(&machine, None);
    assert_eq!((o.status, o.files), (Status::Success, Some(4)), "{o:#?}");
}

#[test]
fn collection_status_and_verify() {
    if !have_peer(DUPLICITY) {
        return;
    }
    let lab = Lab::new();
    let (_, code) = lab.sh(
        &format!("{} {}", lab.path("src").display(), lab.url("dest")),
        &lab.path("backup.log"),
    );
    assert_eq!(code, 0);

    let (out, code) = lab.sh(
        &format!("collection-status {}", lab.url("dest")),
        &lab.path("status.log"),
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let o = one(&out, None);
    assert_eq!(o.status, Status::Success, "{o:#?}");
    assert!(o.summary.as_deref().unwrap().contains("collection-status"));

    let (out, code) = lab.sh(
        &format!("verify {} {}", lab.url("dest"), lab.path("src").display()),
        &lab.path("verify.log"),
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let o = one(&out, None);
    assert_eq!(o.status, Status::Success, "{o:#?}");
    assert!(o.summary.as_deref().unwrap().contains("verify"));

    // remove-older-than prints no statistics: the exit code decides.
    let (out, code) = lab.sh(
        &format!("remove-older-than 1Y --force {}", lab.url("dest")),
        &lab.path("remove.log"),
    );
    assert_eq!(code, 0);
    assert_eq!(one(&out, Some(code)).status, Status::Success);
}

#[test]
fn second_run_is_refused_by_the_lock() {
    if !have_peer(DUPLICITY) {
        return;
    }
    let lab = Lab::new();
    let big = lab.path("big");
    std::fs::create_dir(&big).unwrap();
    File::create(big.join("zeros"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let first_log = lab.path("first.log");
    let mut first = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec {DUPLICITY} --no-encryption --archive-dir {} --name same {} {} > {} 2>&1",
            lab.path("cache").display(),
            big.display(),
            lab.url("dest"),
            first_log.display()
        ))
        .env("HOME", lab.dir.path())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let t = std::fs::read_to_string(&first_log).unwrap_or_default();
        if t.contains("full backup") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (out, code) = lab.sh(
        &format!(
            "--name same {} {}",
            lab.path("src").display(),
            lab.url("dest2")
        ),
        &lab.path("second.log"),
    );
    let _ = Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status();
    let _ = first.wait();
    let text = String::from_utf8_lossy(&out);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("Another duplicity instance"), "{text}");
    let o = one(&out, None);
    assert_eq!(o.status, Status::Failure, "{o:#?}");
    assert!(o.errors[0].contains("Another duplicity instance"), "{o:?}");
}
