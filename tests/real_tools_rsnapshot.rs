//! rsnapshot (the Debian package) run for real in a temp dir, in the shapes users feed us:
//! the console at `verbose` 3 and 4 (with and without the exit code), syslog lines written by
//! `cmd_logger` (a stand-in `logger` that writes syslog's line format to a file: one process
//! per run, several runs in one file), a partial rsync transfer (rsync exit 23: rsnapshot warns
//! and exits 2; the root
//! test drops CAP_DAC_* with util-linux `setpriv` so `chmod 000` holds), a lock held by a live
//! run, and a failing `cmd_preexec`. Each output is parsed named and with `auto`.
//! Skipped without `/usr/bin/rsnapshot` unless NAGBRIDGE_REQUIRE_PEERS is set.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::have_peer;
use common::tool_run::parse_detected;
use nagbridge::formats::{parse, FileMeta, Format, Input, Options};
use nagbridge::outcome::{Outcome, Status};

const RSNAPSHOT: &str = "/usr/bin/rsnapshot";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Parse complete `bytes` as rsnapshot, checking that auto detection agrees.
fn outcomes(bytes: &[u8], code: Option<i32>) -> Vec<Outcome> {
    parse_detected(
        Format::Rsnapshot,
        "/var/log/nagbridge/rsnapshot.log",
        "fallback",
        bytes,
        code,
        true,
    )
}

fn statuses(o: &[Outcome]) -> Vec<(&str, Status)> {
    o.iter().map(|o| (o.job.as_str(), o.status)).collect()
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
        // A stand-in for logger(1): syslog's line format, appended to a file.
        let logger = dir.path().join("logger");
        std::fs::write(
            &logger,
            format!(
                "#!/bin/sh\nwhile getopts ip:t: o; do case $o in t) tag=$OPTARG;; esac; done\n\
                 shift $((OPTIND-1))\n\
                 echo \"$(LC_ALL=C date '+%b %e %H:%M:%S') backup01 $tag: $*\" >> {}/syslog\n",
                dir.path().display()
            ),
        )
        .unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&logger)
            .status()
            .unwrap();
        Lab { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A config named `name` with `verbose`/`loglevel` and extra lines.
    fn conf(&self, name: &str, verbose: u8, extra: &str) -> PathBuf {
        let d = self.dir.path().display();
        let conf = format!(
            "config_version\t1.2\nsnapshot_root\t{d}/snap/\ncmd_rsync\t/usr/bin/rsync\n\
             cmd_cp\t/bin/cp\ncmd_rm\t/bin/rm\ncmd_logger\t{d}/logger\nretain\tdaily\t3\n\
             verbose\t{verbose}\nloglevel\t3\nlogfile\t{d}/rsnapshot.log\nlockfile\t{d}/rsnapshot.pid\n\
             rsync_long_args\t--delete --numeric-ids --relative --delete-excluded --stats\n\
             backup\t{d}/src/\tlocalhost/\n{extra}"
        );
        let path = self.path(&format!("{name}.conf"));
        std::fs::write(&path, conf).unwrap();
        path
    }

    fn cmd(&self, conf: &Path) -> Command {
        let mut c = Command::new(RSNAPSHOT);
        c.arg("-c").arg(conf).arg("daily");
        c
    }

    /// Run with stdout+stderr in one buffer; (output, exit code).
    fn run(&self, mut c: Command) -> (Vec<u8>, i32) {
        let out = self.path("console.out");
        let f = File::create(&out).unwrap();
        let status = c
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .status()
            .unwrap();
        (std::fs::read(&out).unwrap(), status.code().unwrap_or(128))
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_default()
    }
}

#[test]
fn console_modes_and_syslog() {
    if !have_peer(RSNAPSHOT) {
        return;
    }
    let lab = Lab::new();

    // verbose 3 (-v): commands only. The exit code decides; without it, nothing can be said.
    let (out, code) = lab.run(lab.cmd(&lab.conf("v3", 3, "")));
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let o = outcomes(&out, Some(code));
    assert_eq!(statuses(&o), [("fallback", Status::Success)]);
    let o = outcomes(&out, None);
    assert_eq!(o[0].status, Status::Unknown, "{o:#?}");
    assert!(o[0].summary.as_deref().unwrap().contains("no exit code"));

    // verbose 4 (-V): the logger echo is the final line, so no exit code is needed.
    let (out, code) = lab.run(lab.cmd(&lab.conf("v4", 4, "")));
    assert_eq!(code, 0);
    let o = outcomes(&out, None);
    assert_eq!(statuses(&o), [("v4-daily", Status::Success)], "{o:#?}");

    // cmd_preexec fails: ERROR on the console and in the log, no final line, exit 1.
    let (out, code) = lab.run(lab.cmd(&lab.conf("pre", 2, "cmd_preexec\t/bin/false\n")));
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    let o = outcomes(&out, None);
    assert_eq!(o[0].status, Status::Failure, "{o:#?}");
    assert!(
        o[0].errors.iter().any(|e| e.contains("cmd_preexec")),
        "{o:?}"
    );

    // Syslog: one line per run end (plus the errors), keyed by the process id.
    let log = lab.read("syslog");
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.lines().filter(|l| l.contains("rsnapshot[")).count() >= 3,
        "{text}"
    );
    let o = outcomes(&log, None);
    assert_eq!(
        statuses(&o),
        [
            ("v3-daily", Status::Success),
            ("v4-daily", Status::Success),
            ("pre-daily", Status::Failure)
        ],
        "{text}\n{o:#?}"
    );

    // The log file of the same three runs.
    let o = outcomes(&lab.read("rsnapshot.log"), None);
    assert_eq!(
        statuses(&o),
        [
            ("v3-daily", Status::Success),
            ("v4-daily", Status::Success),
            ("pre-daily", Status::Failure)
        ],
        "{o:#?}"
    );
    assert_eq!(o[0].files, Some(6), "{o:#?}"); // 2 files, 4 directories (with --relative)
}

#[test]
fn partial_transfer_is_a_warning() {
    if !have_peer(RSNAPSHOT) {
        return;
    }
    let lab = Lab::new();
    let locked = lab.path("src/sub/locked");
    std::fs::write(&locked, b"secret").unwrap();
    Command::new("chmod")
        .arg("000")
        .arg(&locked)
        .status()
        .unwrap();
    let c = lab.cmd(&lab.conf("partial", 2, ""));
    let c = if is_root() {
        let mut s = Command::new("setpriv");
        s.args(["--bounding-set=-dac_override,-dac_read_search", "--"])
            .arg(c.get_program())
            .args(c.get_args());
        s
    } else {
        c
    };
    let (out, code) = lab.run(c);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 2, "{text}");
    // The console alone (verbose 2): rsync's error and rsnapshot's WARNING line.
    let o = outcomes(&out, None);
    assert_eq!(o[0].status, Status::Warning, "{text}\n{o:#?}");
    assert!(
        o[0].warnings.iter().any(|w| w.contains("partially")),
        "{o:?}"
    );
    // With the exit code too.
    assert_eq!(outcomes(&out, Some(code))[0].status, Status::Warning);
    // The log file.
    let o = outcomes(&lab.read("rsnapshot.log"), None);
    assert_eq!(statuses(&o), [("partial-daily", Status::Warning)], "{o:#?}");
}

#[test]
fn lock_held_by_a_live_run() {
    if !have_peer(RSNAPSHOT) {
        return;
    }
    let lab = Lab::new();
    let slow = lab.conf("plain", 2, "backup_script\t/bin/sleep 3\tslept/\n");
    let mut first = lab.cmd(&slow);
    let f = File::create(lab.path("first.out")).unwrap();
    let mut child = first
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lab.path("rsnapshot.pid").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (out, code) = lab.run(lab.cmd(&slow));
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("exists and so does its process"), "{text}");
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // The second run's console: failure.
    let o = outcomes(&out, None);
    assert_eq!(o[0].status, Status::Failure, "{o:#?}");
    // The log: the first run (started first) succeeded although a second run started while it
    // was going; the second one failed on the lock.
    let log = lab.read("rsnapshot.log");
    let o = outcomes(&log, None);
    assert_eq!(
        statuses(&o),
        [
            ("plain-daily", Status::Success),
            ("plain-daily", Status::Failure)
        ],
        "{}\n{o:#?}",
        String::from_utf8_lossy(&log)
    );
    assert!(
        o[1].summary.as_deref().unwrap().contains("holds the lock"),
        "{o:?}"
    );
    // While the log may still grow, the cut just after the second run's lock error keeps the
    // first run open and emits nothing after it.
    let text = String::from_utf8_lossy(&log);
    let cut = text.find("can not continue").unwrap();
    let cut = cut + text[cut..].find('\n').unwrap() + 1;
    let meta = FileMeta::for_path("/var/log/rsnapshot.log");
    let options = Options::default();
    let p = parse(
        Format::Rsnapshot,
        &Input {
            bytes: &log[..cut],
            meta: &meta,
            exit_code: None,
            options: &options,
            complete: false,
        },
    );
    assert!(p.outcomes.is_empty(), "{:#?}", p.outcomes);
    assert_eq!(p.consumed, 0);
}
