//! The borg parser against Debian's real BorgBackup (1.2 on Debian 12), in the text modes cron
//! mails and log files hold (no `--log-json`): `create --stats` with and without `--show-rc`,
//! `--log-json` without `--json`, `check` (clean and damaged), `prune --list --stats`, and
//! errors (missing repository, wrong passphrase, argument error, lock timeout, unreadable file,
//! SIGTERM). Each run writes stdout and stderr to one file as `> log 2>&1` would; the file is
//! parsed with the real exit code and alone (a watched log has no exit code), and auto
//! detection must pick borg. Skipped when borg is not installed, unless NAGBRIDGE_REQUIRE_PEERS
//! is set.
//!
//! As root `chmod 000` stops nothing, so the unreadable file is `/proc/self/mem` (EIO for every
//! user); the lock is held by `borg with-lock ... sleep`, stopped by pid.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::have_peer;
use common::tool_run::{code_of, parse_detected, signal, spawn_logged};
use nagbridge::formats::Format;
use nagbridge::outcome::{Outcome, Status};

const BORG: &str = "/usr/bin/borg";

/// A temp dir with a source tree (two files) and a `repokey` repository (passphrase `pw`).
struct Fixture {
    dir: tempfile::TempDir,
    src: PathBuf,
    repo: PathBuf,
    log: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.txt"), vec![b'a'; 50_000]).unwrap();
        std::fs::write(src.join("sub/b.txt"), b"bee\n").unwrap();
        let repo = dir.path().join("repo");
        let log = dir.path().join("borg.log");
        let f = Fixture {
            dir,
            src,
            repo,
            log,
        };
        let (_, code) = f.run(f.borg("pw").args(["init", "-e", "repokey"]).arg(&f.repo));
        assert_eq!(code, 0, "borg init");
        f
    }

    fn borg(&self, passphrase: &str) -> Command {
        let mut c = Command::new(BORG);
        c.env("BORG_PASSPHRASE", passphrase)
            .env("BORG_BASE_DIR", self.dir.path().join("base"))
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .env_remove("BORG_REPO");
        c
    }

    fn archive(&self, name: &str) -> String {
        format!("{}::{name}", self.repo.display())
    }

    fn run(&self, cmd: &mut Command) -> (Vec<u8>, i32) {
        let mut child = spawn_logged(cmd, &self.log, Stdio::null());
        let status = child.wait().unwrap();
        (std::fs::read(&self.log).unwrap(), code_of(status))
    }
}

/// The one outcome of `bytes` parsed as borg (auto detection must agree).
fn parse_one(bytes: &[u8], code: Option<i32>) -> Outcome {
    let path = "/var/log/nagbridge/nightly.log";
    let mut o = parse_detected(Format::Borg, path, "nightly", bytes, code, true);
    assert_eq!(o.len(), 1, "{o:#?}");
    o.remove(0)
}

/// Parsed with the exit code and without it: both must give `want`.
fn both(out: &[u8], code: i32, want: Status) -> Outcome {
    let shown = String::from_utf8_lossy(out);
    let alone = parse_one(out, None);
    assert_eq!(
        alone.status, want,
        "without exit code:\n{shown}\n{alone:#?}"
    );
    let o = parse_one(out, Some(code));
    assert_eq!(o.status, want, "rc {code}:\n{shown}\n{o:#?}");
    o
}

#[test]
fn borg_text_create_outcomes() {
    if !have_peer(BORG) {
        return;
    }
    let f = Fixture::new();
    let create = |extra: &[&str], archive: &str, paths: &[&Path]| {
        let mut c = f.borg("pw");
        c.arg("create")
            .args(extra)
            .arg(f.archive(archive))
            .args(paths);
        f.run(&mut c)
    };

    // success: the --stats block alone (no --show-rc): the archive was committed
    let (out, code) = create(&["--stats"], "web01-{now}", &[&f.src]);
    assert_eq!(code, 0);
    let o = both(&out, code, Status::Success);
    assert_eq!((o.job.as_str(), o.files), ("web01", Some(2)));
    assert!(o.bytes.is_some() && o.duration_s.is_some(), "{o:?}");

    // warning: /proc/self/mem cannot be read (rc 1), with --show-rc
    let mem = Path::new("/proc/self/mem");
    let (out, code) = create(
        &["--stats", "--show-rc"],
        "web01-warn-{now}",
        &[&f.src, mem],
    );
    assert_eq!(code, 1);
    let o = both(&out, code, Status::Warning);
    assert!(
        o.warnings.iter().any(|w| w.contains("/proc/self/mem")),
        "{o:?}"
    );
    assert_eq!(o.files, Some(2));

    // warning without --stats and --show-rc: quiet borg prints only the warning
    let (out, code) = create(&[], "quiet-warn-{now}", &[&f.src, mem]);
    assert_eq!(code, 1);
    both(&out, code, Status::Warning);

    // --log-json without --json: the stats block and the rc as log messages
    let (out, code) = create(
        &["--log-json", "--stats", "--show-rc"],
        "json-{now}",
        &[&f.src],
    );
    let o = both(&out, code, Status::Success);
    assert_eq!((o.job.as_str(), o.files), ("json", Some(2)));

    // failure: the repository does not exist
    let mut c = f.borg("pw");
    c.args(["create", "--stats"])
        .arg(format!("{}::x", f.dir.path().join("missing").display()))
        .arg(&f.src);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 2);
    let o = both(&out, code, Status::Failure);
    assert!(o.summary.unwrap().contains("no archive was created"));

    // failure: a wrong passphrase
    let mut c = f.borg("wrong");
    c.args(["create", "--show-rc"])
        .arg(f.archive("x"))
        .arg(&f.src);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 2);
    let o = both(&out, code, Status::Failure);
    assert!(o.errors.iter().any(|e| e.contains("passphrase")), "{o:?}");

    // failure: an argument error (usage block, `borg: error: ...`)
    let (out, code) = create(&["--no-such-option"], "x", &[&f.src]);
    assert_eq!(code, 2);
    let o = both(&out, code, Status::Failure);
    assert!(
        o.errors
            .iter()
            .any(|e| e.contains("unrecognized arguments")),
        "{o:?}"
    );
}

#[test]
fn borg_lock_timeout_and_sigterm() {
    if !have_peer(BORG) {
        return;
    }
    let f = Fixture::new();
    // Another borg holds the repository lock.
    let mut c = f.borg("pw");
    c.arg("with-lock").arg(&f.repo).args(["sleep", "60"]);
    let holder_log = f.dir.path().join("holder.log");
    let mut holder = spawn_logged(&mut c, &holder_log, Stdio::null());
    wait_until(|| f.repo.join("lock.exclusive").exists());
    let mut c = f.borg("pw");
    c.args(["create", "--lock-wait", "1", "--show-rc"])
        .arg(f.archive("locked"))
        .arg(&f.src);
    let (out, code) = f.run(&mut c);
    signal(&holder, "-TERM");
    holder.wait().unwrap();
    assert_eq!(code, 2);
    let o = both(&out, code, Status::Failure);
    assert!(
        o.errors
            .iter()
            .any(|e| e.starts_with("Failed to create/acquire the lock")),
        "{o:?}"
    );

    // SIGTERM while it reads a pipe that never ends
    let mut c = f.borg("pw");
    c.args(["create", "--show-rc"])
        .arg(f.archive("stdin"))
        .arg("-");
    let mut child = spawn_logged(&mut c, &f.log, Stdio::piped());
    let stdin = child.stdin.take();
    // borg prints nothing until it ends: give it time to open the repository.
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    drop(stdin);
    let (out, code) = (std::fs::read(&f.log).unwrap(), code_of(status));
    let shown = String::from_utf8_lossy(&out);
    assert!(code >= 128 || code == 2, "{code}: {shown}");
    let o = parse_one(&out, Some(code));
    assert_eq!(o.status, Status::Failure, "{o:?}");
    let alone = parse_one(&out, None);
    assert_eq!(alone.status, Status::Failure, "{shown}\n{alone:?}");
}

#[test]
fn borg_check_and_prune_outcomes() {
    if !have_peer(BORG) {
        return;
    }
    let f = Fixture::new();
    for name in ["a-2026-01-01", "a-2026-01-02", "a-2026-01-03"] {
        let mut c = f.borg("pw");
        c.arg("create").arg(f.archive(name)).arg(&f.src);
        assert_eq!(f.run(&mut c).1, 0);
    }

    // check -v of a clean repository
    let mut c = f.borg("pw");
    c.args(["check", "-v"]).arg(&f.repo);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 0);
    let o = both(&out, code, Status::Success);
    assert_eq!(o.summary.as_deref(), Some("check: no problems found"));

    // prune --list --stats --show-rc
    let mut c = f.borg("pw");
    c.args([
        "prune",
        "--list",
        "--stats",
        "--show-rc",
        "--keep-last",
        "1",
    ])
    .arg(&f.repo);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 0);
    let o = both(&out, code, Status::Success);
    assert!(o.summary.as_deref().unwrap().contains("prune"), "{o:?}");

    // check of a damaged repository: rc 1, which is still a failure for check
    let mut c = f.borg("pw");
    c.arg("compact").arg(&f.repo);
    f.run(&mut c);
    let segment = newest_segment(&f.repo.join("data"));
    let mut bytes = std::fs::read(&segment).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xff;
    }
    std::fs::write(&segment, bytes).unwrap();
    let mut c = f.borg("pw");
    c.args(["check", "-v", "--show-rc"]).arg(&f.repo);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    let o = both(&out, code, Status::Failure);
    assert!(
        o.summary
            .as_deref()
            .unwrap()
            .starts_with("check: errors found"),
        "{o:?}"
    );
}

/// The largest segment file of the repository (the one holding the file data).
fn newest_segment(data: &Path) -> PathBuf {
    let mut best: Option<(u64, PathBuf)> = None;
    for dir in std::fs::read_dir(data).unwrap().filter_map(|d| d.ok()) {
        for e in std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
        {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            if best.as_ref().is_none_or(|(l, _)| len > *l) {
                best = Some((len, e.path()));
            }
        }
    }
    best.expect("a segment file").1
}

fn wait_until(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(cond(), "timed out");
}
