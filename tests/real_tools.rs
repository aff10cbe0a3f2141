//! The restic, borg, rsnapshot and duplicity parsers against the real tools: each test runs
//! the Debian package's binary in a temp dir (local repositories, passwords from the
//! environment), captures stdout and stderr into one file as `> log 2>&1` would, and parses
//! that with the real exit code. Auto detection must pick the same format.
//!
//! The tests run as root in CI, where `chmod 000` stops nothing, so the warning cases use
//! tricks that work as root:
//! * restic and borg: back up `/proc/self/mem` next to the real source; reading it at offset 0
//!   fails with EIO for every user (restic exit 3, borg rc 1 with a WARNING log line);
//! * rsnapshot: a stale lockfile (a pid that does not exist) makes it warn and exit 2;
//! * duplicity: a `chmod 000` file, with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from
//!   the bounding set by util-linux `setpriv` when running as root (duplicity then reports
//!   `Errors 1` and still exits 0).
//!
//! Interruptions: restic and borg back up stdin from a pipe that the test keeps open, then get
//! SIGINT / SIGTERM; rsnapshot gets SIGTERM during a slow `backup_script`; duplicity gets
//! SIGINT while reading a large sparse file.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::have_peer;
use common::tool_run::{code_of, parse_detected, run_logged, spawn_logged};
use nagbridge::formats::{parse, FileMeta, Format, Input, Options};
use nagbridge::outcome::{Outcome, Status};

const RESTIC: &str = "/usr/bin/restic";
const BORG: &str = "/usr/bin/borg";
const RSNAPSHOT: &str = "/usr/bin/rsnapshot";
const DUPLICITY: &str = "/usr/bin/duplicity";

/// Wait until the log contains `needle` (or 30 s) and `settle` more, then send `signal` to the
/// child by its pid.
fn interrupt(
    child: &mut Child,
    log: &Path,
    needle: &str,
    settle: Duration,
    signal: &str,
) -> (Vec<u8>, i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let out = std::fs::read_to_string(log).unwrap_or_default();
        if out.contains(needle) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(settle);
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {signal} failed");
    let status = child.wait().unwrap();
    (std::fs::read(log).unwrap(), code_of(status))
}

/// Parse with `format` and check that auto detection agrees.
fn parse_as(format: Format, bytes: &[u8], code: Option<i32>, complete: bool) -> Vec<Outcome> {
    let path = "/var/log/nagbridge/nightly.log";
    parse_detected(format, path, "nightly", bytes, code, complete)
}

fn one(format: Format, bytes: &[u8], code: i32) -> Outcome {
    let mut o = parse_as(format, bytes, Some(code), true);
    assert_eq!(o.len(), 1, "{o:#?}");
    o.remove(0)
}

/// A source tree: two regular files in two directories.
fn source(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), vec![b'a'; 50_000]).unwrap();
    std::fs::write(src.join("sub/b.txt"), b"bee\n").unwrap();
    src
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn restic_backup_outcomes() {
    if !have_peer(RESTIC) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let repo = dir.path().join("repo");
    let log = dir.path().join("restic.log");
    let restic = || {
        let mut c = Command::new(RESTIC);
        c.env("RESTIC_PASSWORD", "pw")
            .env("RESTIC_CACHE_DIR", dir.path().join("cache"))
            .env("RESTIC_PROGRESS_FPS", "1");
        c
    };
    let (_, code) = run_logged(restic().arg("init").arg("-r").arg(&repo), &log);
    assert_eq!(code, 0);

    // success
    let (out, code) = run_logged(
        restic()
            .args(["backup", "--json", "-r"])
            .arg(&repo)
            .arg(&src),
        &log,
    );
    let o = one(Format::Restic, &out, code);
    assert_eq!((code, o.status), (0, Status::Success), "{o:#?}");
    assert_eq!(o.files, Some(2));
    assert!(o.bytes.unwrap() > 50_000);
    assert!(o.summary.as_deref().unwrap().contains("snapshot "), "{o:?}");

    // warning: /proc/self/mem cannot be read, even by root (EIO)
    let (out, code) = run_logged(
        restic()
            .args(["backup", "--json", "-r"])
            .arg(&repo)
            .arg(&src)
            .arg("/proc/self/mem"),
        &log,
    );
    let o = one(Format::Restic, &out, code);
    assert_eq!((code, o.status), (3, Status::Warning), "{o:#?}");
    assert!(
        o.errors.iter().any(|e| e.contains("/proc/self/mem")),
        "{o:?}"
    );
    // The same file without the exit code (a watched log) is a warning too.
    assert_eq!(
        parse_as(Format::Restic, &out, None, true)[0].status,
        Status::Warning
    );

    // failure: no repository
    let (out, code) = run_logged(
        restic()
            .args(["backup", "--json", "-r"])
            .arg(dir.path().join("missing"))
            .arg(&src),
        &log,
    );
    let o = one(Format::Restic, &out, code);
    assert_eq!(o.status, Status::Failure, "{o:#?}");
    assert_ne!(code, 0);
    assert!(o.errors.iter().any(|e| e.starts_with("fatal: ")), "{o:?}");

    // interrupted: backing up a pipe that never ends, then SIGINT
    let mut child = spawn_logged(
        restic()
            .args([
                "backup",
                "--json",
                "--stdin",
                "--stdin-filename",
                "big",
                "-r",
            ])
            .arg(&repo),
        &log,
        Stdio::piped(),
    );
    let stdin = child.stdin.take();
    let (out, code) = interrupt(
        &mut child,
        &log,
        "message_type",
        Duration::from_millis(500),
        "-INT",
    );
    drop(stdin);
    let o = one(Format::Restic, &out, code);
    assert_eq!((code, o.status), (130, Status::Failure), "{o:#?}");
    assert!(
        o.summary.as_deref().unwrap().starts_with("interrupted"),
        "{o:?}"
    );

    // check
    let (out, code) = run_logged(restic().arg("check").arg("-r").arg(&repo), &log);
    let o = one(Format::Restic, &out, code);
    assert_eq!((code, o.status), (0, Status::Success), "{o:#?}");
    assert_eq!(o.summary.as_deref(), Some("check: no errors were found"));
}

#[test]
fn borg_create_outcomes() {
    if !have_peer(BORG) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let repo = dir.path().join("repo");
    let log = dir.path().join("borg.log");
    let borg = || {
        let mut c = Command::new(BORG);
        c.env("BORG_PASSPHRASE", "pw")
            .env("BORG_BASE_DIR", dir.path().join("base"))
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes");
        c
    };
    let (_, code) = run_logged(borg().args(["init", "-e", "none"]).arg(&repo), &log);
    assert_eq!(code, 0);
    let archive = |name: &str| format!("{}::{name}", repo.display());
    let create = || {
        let mut c = borg();
        c.args(["create", "--json", "--log-json", "--show-rc"]);
        c
    };

    // success: the archive name's {now} part is not the job
    let (out, code) = run_logged(create().arg(archive("web01-{now}")).arg(&src), &log);
    let o = one(Format::Borg, &out, code);
    assert_eq!((code, o.status), (0, Status::Success), "{o:#?}");
    assert_eq!((o.job.as_str(), o.files), ("web01", Some(2)));
    assert!(o.bytes.is_some() && o.duration_s.is_some());

    // warning: /proc/self/mem (EIO for root too), rc 1
    let (out, code) = run_logged(
        create()
            .arg(archive("web01-warn-{now}"))
            .arg(&src)
            .arg("/proc/self/mem"),
        &log,
    );
    let o = one(Format::Borg, &out, code);
    assert_eq!((code, o.status), (1, Status::Warning), "{o:#?}");
    assert!(
        o.warnings.iter().any(|w| w.contains("/proc/self/mem")),
        "{o:?}"
    );
    // From the file alone (no wrap): the --show-rc line gives the rc.
    assert_eq!(
        parse_as(Format::Borg, &out, None, true)[0].status,
        Status::Warning
    );

    // failure: no repository
    let missing = format!("{}::x", dir.path().join("missing").display());
    let (out, code) = run_logged(create().arg(missing).arg(&src), &log);
    let o = one(Format::Borg, &out, code);
    assert_eq!((code, o.status), (2, Status::Failure), "{o:#?}");
    assert!(
        o.errors
            .iter()
            .any(|e| e.contains("Repository.DoesNotExist")),
        "{o:?}"
    );

    // interrupted: SIGTERM while reading a pipe that never ends
    let mut child = spawn_logged(
        create().arg(archive("web01-stdin")).arg("-"),
        &log,
        Stdio::piped(),
    );
    let stdin = child.stdin.take();
    // borg prints nothing until it ends: give it time to open the repository.
    let (out, code) = interrupt(&mut child, &log, "", Duration::from_secs(3), "-TERM");
    drop(stdin);
    let o = one(Format::Borg, &out, code);
    assert_eq!(o.status, Status::Failure, "{o:#?}");
    assert!(
        o.summary.as_deref().unwrap().starts_with("interrupted") || code >= 128,
        "{code} {o:?}"
    );
}

fn rsnapshot_conf(dir: &Path, name: &str, extra: &str) -> std::path::PathBuf {
    let d = dir.display();
    let conf = format!(
        "config_version\t1.2\nsnapshot_root\t{d}/snap/\ncmd_rsync\t/usr/bin/rsync\n\
         cmd_cp\t/bin/cp\ncmd_rm\t/bin/rm\nretain\tdaily\t3\nverbose\t2\nloglevel\t3\n\
         logfile\t{d}/rsnapshot.log\nlockfile\t{d}/rsnapshot.pid\n\
         rsync_long_args\t--delete --numeric-ids --relative --delete-excluded --stats\n\
         backup\t{d}/src/\tlocalhost/\n{extra}"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf).unwrap();
    path
}

#[test]
fn rsnapshot_log_outcomes() {
    if !have_peer(RSNAPSHOT) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    source(dir.path());
    let d = dir.path();
    let out_log = d.join("stdout.log");
    let rsnapshot = |conf: &Path| {
        let mut c = Command::new(RSNAPSHOT);
        c.arg("-c").arg(conf).arg("daily");
        c
    };
    let plain = rsnapshot_conf(d, "plain", "");
    let log = d.join("rsnapshot.log");
    let read_log = || std::fs::read(&log).unwrap();

    // success
    let (_, code) = run_logged(&mut rsnapshot(&plain), &out_log);
    assert_eq!(code, 0);
    let first_run = read_log().len();

    // warning: a stale lockfile (its pid does not exist) is removed with a warning, exit 2
    std::fs::write(d.join("rsnapshot.pid"), "999999999\n").unwrap();
    let (_, code) = run_logged(&mut rsnapshot(&plain), &out_log);
    assert_eq!(code, 2);

    // failure: the snapshot root (the "repository") is missing and may not be created
    let missing = rsnapshot_conf(d, "missing", "no_create_root\t1\n");
    let text = std::fs::read_to_string(&missing).unwrap().replace(
        &format!("{}/snap/", d.display()),
        &format!("{}/nosnap/", d.display()),
    );
    std::fs::write(&missing, text).unwrap();
    let (_, code) = run_logged(&mut rsnapshot(&missing), &out_log);
    assert_eq!(code, 1);

    // the pitfall: cmd_postexec fails after the sync, no final line; the next run follows
    let post = rsnapshot_conf(d, "plain", "cmd_postexec\t/bin/false\n");
    let (_, code) = run_logged(&mut rsnapshot(&post), &out_log);
    assert_eq!(code, 1);
    let plain = rsnapshot_conf(d, "plain", "");
    let (_, code) = run_logged(&mut rsnapshot(&plain), &out_log);
    assert_eq!(code, 0);

    // interrupted: SIGTERM during a slow backup_script
    let slow = rsnapshot_conf(d, "plain", "backup_script\t/bin/sleep 3\tslept/\n");
    let mut child = spawn_logged(&mut rsnapshot(&slow), &out_log, Stdio::null());
    let (_, code) = interrupt(
        &mut child,
        &log,
        "/bin/sleep 3",
        Duration::from_millis(500),
        "-TERM",
    );
    assert_eq!(code, 1);

    let bytes = read_log();
    // While the log may grow, the last run (interrupted, no final line) is left unconsumed.
    let meta = FileMeta::for_path(&log.display().to_string());
    let options = Options {
        job: "rsnapshot".into(),
        ..Options::default()
    };
    let growing = Input {
        bytes: &bytes,
        meta: &meta,
        exit_code: None,
        options: &options,
        complete: false,
    };
    let p = parse(Format::Rsnapshot, &growing);
    let last_start = String::from_utf8_lossy(&bytes)
        .rfind("/bin/sleep 3")
        .unwrap();
    assert!(p.consumed < last_start, "{} {last_start}", p.consumed);
    let got: Vec<_> = p
        .outcomes
        .iter()
        .map(|o| (o.job.as_str(), o.status))
        .collect();
    assert_eq!(
        got,
        [
            ("plain-daily", Status::Success),
            ("plain-daily", Status::Warning),
            ("missing-daily", Status::Failure),
            ("plain-daily", Status::Failure),
            ("plain-daily", Status::Success),
        ],
        "{:#?}",
        p.outcomes
    );
    assert_eq!(p.outcomes[0].files, Some(6)); // 2 files, 4 directories (with --relative)
    assert!(p.outcomes[1].warnings[0].starts_with("Removing stale lockfile"));
    assert!(
        p.outcomes[2].errors[0].contains("nosnap does not exist"),
        "{:?}",
        p.outcomes[2]
    );
    assert_eq!(
        p.outcomes[3].errors,
        ["cmd_postexec \"/bin/false\" returned 1"]
    );

    // The rest, once complete: the interrupted run.
    let rest = Input {
        bytes: &bytes[p.consumed..],
        complete: true,
        ..growing.clone()
    };
    let tail = parse_as(Format::Rsnapshot, rest.bytes, None, true);
    assert_eq!(tail.len(), 1, "{tail:#?}");
    assert_eq!(tail[0].status, Status::Failure);
    assert!(
        tail[0]
            .summary
            .as_deref()
            .unwrap()
            .starts_with("interrupted"),
        "{tail:?}"
    );

    // The first run alone is detected and read the same way.
    let first = parse_as(Format::Rsnapshot, &bytes[..first_run], None, false);
    assert_eq!(first[0].status, Status::Success);
}

#[test]
fn duplicity_outcomes() {
    if !have_peer(DUPLICITY) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let log = dir.path().join("duplicity.log");
    let dup = |target: &str| {
        // SIGINT back to its default: a test run started in the background by a
        // non-interactive shell inherits it ignored, and Python then never sees the interrupt.
        let mut c = Command::new("env");
        c.args(["--default-signal=INT", DUPLICITY]);
        c.args(["--no-encryption", "--num-retries", "1", "--archive-dir"])
            .arg(dir.path().join("cache"))
            .env("HOME", dir.path())
            // Python buffers stdout into a file: without this, the line the interrupt waits
            // for may only reach the log when duplicity is done (seen under load in CI).
            .env("PYTHONUNBUFFERED", "1");
        (c, format!("file://{}/{target}", dir.path().display()))
    };

    // success
    let (mut c, url) = dup("dest");
    let (out, code) = run_logged(c.arg(&src).arg(url), &log);
    let o = one(Format::Duplicity, &out, code);
    assert_eq!((code, o.status), (0, Status::Success), "{o:#?}");
    assert_eq!(o.files, Some(4)); // src, sub and the two files
    assert!(o.started.is_some() && o.duration_s.is_some());

    // warning: an unreadable file; root gets CAP_DAC_* dropped so chmod 000 holds
    let locked = src.join("sub/locked");
    std::fs::write(&locked, b"secret").unwrap();
    Command::new("chmod")
        .arg("000")
        .arg(&locked)
        .status()
        .unwrap();
    let (c, url) = dup("dest2");
    let mut cmd = if is_root() {
        let mut s = Command::new("setpriv");
        s.args(["--bounding-set=-dac_override,-dac_read_search", "--"])
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                s.env(k, v);
            }
        }
        s
    } else {
        c
    };
    let (out, code) = run_logged(cmd.arg(&src).arg(url), &log);
    let o = one(Format::Duplicity, &out, code);
    assert_eq!((code, o.status), (0, Status::Warning), "{o:#?}");
    assert!(o.warnings[0].contains("sub/locked"), "{o:?}");
    std::fs::remove_file(&locked).unwrap();

    // failure: the target is below a regular file
    std::fs::write(dir.path().join("afile"), b"x").unwrap();
    let (mut c, url) = dup("afile/dest");
    let (out, code) = run_logged(c.arg(&src).arg(url), &log);
    let o = one(Format::Duplicity, &out, code);
    assert_ne!(code, 0);
    assert_eq!(o.status, Status::Failure, "{o:#?}");
    assert!(
        o.errors.iter().any(|e| e.contains("Not a directory")),
        "{o:?}"
    );

    // interrupted: SIGINT while reading a 2 GB sparse file (duplicity exits 4, silently)
    let big = dir.path().join("big");
    std::fs::create_dir(&big).unwrap();
    File::create(big.join("zeros"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let (mut c, url) = dup("dest3");
    let mut child = spawn_logged(c.arg(&big).arg(url), &log, Stdio::null());
    let (out, code) = interrupt(
        &mut child,
        &log,
        "switching to full backup",
        Duration::from_secs(1),
        "-INT",
    );
    let o = one(Format::Duplicity, &out, code);
    assert_ne!(code, 0, "{}", String::from_utf8_lossy(&out));
    assert_eq!(o.status, Status::Failure, "{o:#?}");
}
