//! The restic parser against Debian's real restic (0.14 on Debian 12): text mode (no `--json`)
//! and JSON mode, `check` (clean, locked, damaged), `forget --prune`, and errors (missing
//! repository, wrong password, unreadable file, interrupt). Each run writes stdout and stderr to
//! one file as `> log 2>&1` would; the file is parsed with the real exit code and again alone (a
//! watched log has no exit code), and auto detection must pick restic. Skipped when restic is
//! not installed, unless NAGBRIDGE_REQUIRE_PEERS is set.
//!
//! As root `chmod 000` stops nothing, so the unreadable file is `/proc/self/mem` (EIO for every
//! user); the interrupted run backs up a pipe the test keeps open, then gets SIGINT by pid.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::have_peer;
use common::tool_run::{code_of, parse_detected, signal, spawn_logged};
use nagbridge::formats::Format;
use nagbridge::outcome::{Outcome, Status};

const RESTIC: &str = "/usr/bin/restic";

/// A temp dir with a source tree (two files), an initialised repository and a cache.
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
        let log = dir.path().join("restic.log");
        let f = Fixture {
            dir,
            src,
            repo,
            log,
        };
        let (_, code) = f.run(f.restic("pw").arg("init").arg("-r").arg(&f.repo));
        assert_eq!(code, 0, "restic init");
        f
    }

    fn restic(&self, password: &str) -> Command {
        let mut c = Command::new(RESTIC);
        c.env("RESTIC_PASSWORD", password)
            .env("RESTIC_CACHE_DIR", self.dir.path().join("cache"))
            .env("RESTIC_PROGRESS_FPS", "1")
            .env_remove("RESTIC_REPOSITORY");
        c
    }

    /// `restic backup -r repo` plus `extra` arguments, text mode unless `--json` is among them.
    fn backup(&self, extra: &[&str]) -> (Vec<u8>, i32) {
        let mut c = self.restic("pw");
        c.arg("backup").arg("-r").arg(&self.repo).args(extra);
        self.run(&mut c)
    }

    fn run(&self, cmd: &mut Command) -> (Vec<u8>, i32) {
        let mut child = spawn_logged(cmd, &self.log, Stdio::null());
        let status = child.wait().unwrap();
        (std::fs::read(&self.log).unwrap(), code_of(status))
    }
}

/// The one outcome of `bytes` parsed as restic (auto detection must agree).
fn parse_one(bytes: &[u8], code: Option<i32>) -> Outcome {
    let path = "/var/log/nagbridge/nightly.log";
    let mut o = parse_detected(Format::Restic, path, "nightly", bytes, code, true);
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
    assert_eq!(o.status, want, "exit code {code}:\n{shown}\n{o:#?}");
    o
}

#[test]
fn restic_text_backup_outcomes() {
    if !have_peer(RESTIC) {
        return;
    }
    let f = Fixture::new();

    // success: `snapshot ... saved` and the summary lines
    let (out, code) = f.backup(&[f.src.to_str().unwrap()]);
    assert_eq!(code, 0);
    let o = both(&out, code, Status::Success);
    assert_eq!(o.files, Some(2));
    assert!(o.bytes.unwrap() > 1_000, "{o:?}");
    let summary = o.summary.unwrap();
    assert!(
        summary.contains(" saved") && summary.contains("2 files"),
        "{summary}"
    );

    // warning: an unreadable file, the snapshot is still saved (exit 3)
    let (out, code) = f.backup(&[f.src.to_str().unwrap(), "/proc/self/mem"]);
    assert_eq!(code, 3);
    let o = both(&out, code, Status::Warning);
    assert!(
        o.errors.iter().any(|e| e.contains("/proc/self/mem")),
        "{o:?}"
    );
    assert!(o.summary.unwrap().starts_with("1 file could not be read"));

    // failure: a wrong password
    let mut c = f.restic("wrong");
    c.arg("backup").arg("-r").arg(&f.repo).arg(&f.src);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 1);
    let o = both(&out, code, Status::Failure);
    assert!(
        o.errors.iter().any(|e| e.contains("wrong password")),
        "{o:?}"
    );

    // failure: no repository
    let mut c = f.restic("pw");
    c.arg("backup")
        .arg("-r")
        .arg(f.dir.path().join("missing"))
        .arg(&f.src);
    let (out, code) = f.run(&mut c);
    assert_ne!(code, 0);
    let o = both(&out, code, Status::Failure);
    assert!(o.errors.iter().any(|e| e.starts_with("fatal: ")), "{o:?}");

    // failure: SIGINT while it reads a pipe that never ends
    let mut c = f.restic("pw");
    c.arg("backup")
        .arg("-r")
        .arg(&f.repo)
        .args(["--stdin", "--stdin-filename", "big"]);
    let mut child = spawn_logged(&mut c, &f.log, Stdio::piped());
    let stdin = child.stdin.take();
    wait_for(&f.log, "[0:", 3);
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    drop(stdin);
    let (out, code) = (std::fs::read(&f.log).unwrap(), code_of(status));
    assert_eq!(code, 130, "{}", String::from_utf8_lossy(&out));
    let o = both(&out, code, Status::Failure);
    assert!(
        o.summary.as_deref().unwrap().starts_with("interrupted"),
        "{o:?}"
    );
}

#[test]
fn restic_json_backup_outcomes() {
    if !have_peer(RESTIC) {
        return;
    }
    let f = Fixture::new();
    let (out, code) = f.backup(&["--json", f.src.to_str().unwrap()]);
    let o = both(&out, code, Status::Success);
    assert_eq!(o.files, Some(2));
    assert!(o.duration_s.is_some());

    let (out, code) = f.backup(&["--json", f.src.to_str().unwrap(), "/proc/self/mem"]);
    assert_eq!(code, 3);
    let o = both(&out, code, Status::Warning);
    assert_eq!(o.errors.len(), 1, "{o:?}");

    // 0.14 prints its fatal errors as text even with --json.
    let mut c = f.restic("wrong");
    c.args(["backup", "--json", "-r"]).arg(&f.repo).arg(&f.src);
    let (out, code) = f.run(&mut c);
    let o = both(&out, code, Status::Failure);
    assert!(o.summary.unwrap().contains("wrong password"));
}

#[test]
fn restic_check_forget_prune_outcomes() {
    if !have_peer(RESTIC) {
        return;
    }
    let f = Fixture::new();
    for _ in 0..2 {
        let (_, code) = f.backup(&[f.src.to_str().unwrap()]);
        assert_eq!(code, 0);
    }

    // check of a clean repository
    let mut c = f.restic("pw");
    c.arg("check").arg("-r").arg(&f.repo);
    let (out, code) = f.run(&mut c);
    let o = both(&out, code, Status::Success);
    assert_eq!(o.summary.as_deref(), Some("check: no errors were found"));

    // forget --prune: policy, removal, then prune to its `done`
    let mut c = f.restic("pw");
    c.args(["forget", "--keep-last", "1", "--prune", "-r"])
        .arg(&f.repo);
    let (out, code) = f.run(&mut c);
    let o = both(&out, code, Status::Success);
    let summary = o.summary.unwrap();
    assert!(
        summary.contains("prune: done") && summary.contains("forget"),
        "{summary}"
    );

    // check while a backup holds the lock: `unable to create lock in backend` (no `Fatal:`)
    let mut c = f.restic("pw");
    c.arg("backup").arg("-r").arg(&f.repo).arg("--stdin");
    let backup_log = f.dir.path().join("holder.log");
    let mut holder = spawn_logged(&mut c, &backup_log, Stdio::piped());
    let stdin = holder.stdin.take();
    wait_for(&backup_log, "[0:", 3);
    let mut c = f.restic("pw");
    c.arg("check").arg("-r").arg(&f.repo);
    let (out, code) = f.run(&mut c);
    signal(&holder, "-INT");
    holder.wait().unwrap();
    drop(stdin);
    let o = both(&out, code, Status::Failure);
    assert!(
        o.errors.iter().any(|e| e.contains("unable to create lock")),
        "{o:?}"
    );
    let mut c = f.restic("pw");
    c.arg("unlock").arg("-r").arg(&f.repo);
    f.run(&mut c);

    // check of a damaged repository: one pack file removed
    let pack = std::fs::read_dir(f.repo.join("data"))
        .unwrap()
        .filter_map(|d| d.ok())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten())
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .next()
        .expect("a pack file");
    std::fs::remove_file(pack).unwrap();
    let mut c = f.restic("pw");
    c.arg("check").arg("-r").arg(&f.repo);
    let (out, code) = f.run(&mut c);
    assert_eq!(code, 1);
    let o = both(&out, code, Status::Failure);
    assert_eq!(
        o.summary
            .as_deref()
            .map(|s| s.starts_with("check: the repository has errors")),
        Some(true),
        "{o:?}"
    );
}

/// Wait until `log` holds one of the `\n`-separated needles (at most `secs`), then a little
/// more so the process reaches its read loop.
fn wait_for(log: &Path, needles: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs * 10);
    while Instant::now() < deadline {
        let out = std::fs::read_to_string(log).unwrap_or_default();
        if needles.split('\n').any(|n| out.contains(n)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
}
