//! The watcher on the first day of a real server (issue 8): a line written in pieces, a file
//! that grows without a newline, a single object without a newline, history present at
//! install, and watch paths that are missing, files, unreadable or inside the state dir.
//! Temp dirs only; every wait is bounded and waits for observable state.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nagbridge::watch::{PathState, Readiness, ReadyFile, WatchConfig, WatchSpec, Watcher};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let state = tmp.path().join("state");
    fs::create_dir(&dir).unwrap();
    Env {
        dir,
        state,
        _tmp: tmp,
    }
}

fn config(e: &Env) -> WatchConfig {
    let mut c = WatchConfig::new(&e.state);
    c.watches.push(WatchSpec::new(&e.dir));
    c.quiet_period = Duration::from_millis(400);
    c.settle_period = Duration::from_secs(3);
    c.rescan_interval = Duration::from_millis(300);
    c
}

async fn next(w: &mut Watcher, secs: f64) -> Option<ReadyFile> {
    tokio::time::timeout(Duration::from_secs_f64(secs), w.next())
        .await
        .ok()
        .map(|r| r.unwrap())
}

async fn drain(w: &mut Watcher, secs: f64) -> Vec<ReadyFile> {
    let mut out = Vec::new();
    while let Some(f) = next(w, secs).await {
        w.commit(f.key, f.bytes.len()).await.unwrap();
        out.push(f);
    }
    out
}

/// Wait until the first scan is done (files written after it are new, not history).
async fn scanned(w: &Watcher) {
    let t0 = Instant::now();
    while w.health().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "no first scan");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Wait until the health of watch 0 satisfies `pred`; returns it.
async fn health_until(w: &Watcher, pred: impl Fn(&PathState) -> bool) -> PathState {
    let t0 = Instant::now();
    loop {
        if let Some(h) = w.health().into_iter().find(|h| h.index == 0) {
            if pred(&h.state) {
                return h.state;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "health still {:?}",
                h.state
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Open for appending, write, close (one `IN_CLOSE_WRITE` per call).
fn append(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// A JSON line written in two pieces, each closing the file (a script that `printf`s a line
/// in parts) is handed out once, whole.
#[tokio::test]
async fn line_written_in_pieces_is_handed_out_whole() {
    let e = env();
    let mut w = Watcher::start(config(&e)).unwrap();
    scanned(&w).await;
    let log = e.dir.join("pieces.json");
    append(&log, b"{\"job\":\"pieces\",");
    // Asked for a file meanwhile: the half line is not handed out.
    let early = next(&mut w, 0.2).await;
    assert!(early.is_none(), "{early:?}");
    append(&log, b"\"status\":\"failed\"}\n");
    let got = drain(&mut w, 1.5).await;
    let bodies: Vec<&[u8]> = got.iter().map(|f| f.bytes.as_slice()).collect();
    assert_eq!(
        bodies,
        [&b"{\"job\":\"pieces\",\"status\":\"failed\"}\n"[..]],
        "{got:?}"
    );
    // Two more lines, the second one in pieces too: each complete line once.
    append(&log, b"{\"job\":\"a\",\"status\":\"ok\"}\n{\"job\":\"b\",");
    let mut got = Vec::new();
    if let Some(f) = next(&mut w, 0.2).await {
        w.commit(f.key, f.bytes.len()).await.unwrap();
        got.push(f);
    }
    append(&log, b"\"status\":\"ok\"}\n");
    got.extend(drain(&mut w, 1.5).await);
    let text: String = got
        .iter()
        .map(|f| String::from_utf8(f.bytes.clone()).unwrap())
        .collect();
    assert_eq!(
        text,
        "{\"job\":\"a\",\"status\":\"ok\"}\n{\"job\":\"b\",\"status\":\"ok\"}\n"
    );
}

/// `printf '{...}' > f` (no newline) is read once the quiet period after its close has passed,
/// as the final part of the file; renamed into place it is read at once, complete.
#[tokio::test]
async fn object_without_newline_waits_the_quiet_period_or_nothing_when_renamed() {
    let e = env();
    let c = config(&e);
    let quiet = c.quiet_period;
    let mut w = Watcher::start(c).unwrap();
    scanned(&w).await;
    let t0 = Instant::now();
    fs::write(e.dir.join("one.json"), b"{\"status\":\"ok\"}").unwrap();
    let f = next(&mut w, 5.0).await.expect("handed out");
    let took = t0.elapsed();
    println!("no newline, closed: handed out after {took:?} (quiet {quiet:?})");
    assert!(took >= quiet, "read before the quiet period: {took:?}");
    assert_eq!(
        (f.bytes.as_slice(), f.ready, f.complete),
        (&b"{\"status\":\"ok\"}"[..], Readiness::ClosedQuiet, false)
    );
    w.commit(f.key, f.bytes.len()).await.unwrap();
    let tmp = e.dir.join(".two.json.tmp");
    fs::write(&tmp, b"{\"status\":\"ok\"}").unwrap();
    let t0 = Instant::now();
    fs::rename(&tmp, e.dir.join("two.json")).unwrap();
    let f = next(&mut w, 5.0).await.expect("handed out");
    println!("no newline, renamed: handed out after {:?}", t0.elapsed());
    assert_eq!((f.ready, f.complete), (Readiness::Complete, true));
    w.commit(f.key, f.bytes.len()).await.unwrap();
    assert!(next(&mut w, 1.0).await.is_none());
}

/// A file appended to every 20 ms without a newline (each append closing it) is not handed
/// out per append: it waits, and once its new bytes pass max_file_size it is reported once as
/// oversize; the rest of that over-long line is skipped, and the next line is read as usual.
#[tokio::test]
async fn growing_without_newline_is_one_oversize_report_not_one_per_append() {
    let e = env();
    let mut c = config(&e);
    c.max_file_size = 4096;
    let mut w = Watcher::start(c).unwrap();
    scanned(&w).await;
    let log = e.dir.join("grow.log");
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for _ in 0..150 {
                append(&log, &[b'x'; 50]);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut got = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(8) {
        if let Some(f) = next(&mut w, 0.2).await {
            w.commit(f.key, f.bytes.len()).await.unwrap();
            got.push(f);
        }
        if writer.is_finished() && got.len() == 1 {
            break;
        }
    }
    writer.join().unwrap();
    let sizes: Vec<_> = got.iter().map(|f| (f.oversize, f.bytes.len())).collect();
    assert_eq!(got.len(), 1, "{sizes:?}");
    assert!(got[0].oversize.is_some_and(|s| s > 4096), "{sizes:?}");
    // The line goes on, then ends; the next line is read as usual.
    append(&log, b"xxx still the same line\n{\"status\":\"ok\"}\n");
    let got = drain(&mut w, 1.5).await;
    let bodies: Vec<&[u8]> = got.iter().map(|f| f.bytes.as_slice()).collect();
    assert_eq!(bodies, [&b"{\"status\":\"ok\"}\n"[..]]);
}

/// Files present at a watch's first scan are history (their bytes up to the size then);
/// files written later, and a watch's later scans (also after a restart), are not.
#[tokio::test]
async fn history_is_what_the_first_scan_of_a_watch_found() {
    let e = env();
    let old = e.dir.join("old.log");
    fs::write(&old, "run 1\nrun 2\n").unwrap();
    {
        let mut w = Watcher::start(config(&e)).unwrap();
        let f = next(&mut w, 5.0).await.expect("old file");
        assert!(f.history, "{f:?}");
        // The parser keeps the last line for later: it is still history.
        w.commit(f.key, 6).await.unwrap();
    }
    fs::write(e.dir.join("new.log"), "run 3\n").unwrap();
    let mut w = Watcher::start(config(&e)).unwrap();
    let mut got = drain(&mut w, 4.0).await;
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let seen: Vec<_> = got
        .iter()
        .map(|f| (f.path.file_name().unwrap().to_str().unwrap(), f.history))
        .collect();
    assert_eq!(seen, [("new.log", false), ("old.log", true)], "{got:?}");
    // Appended after the history was read: new.
    fs::OpenOptions::new()
        .append(true)
        .open(&old)
        .unwrap()
        .write_all(b"run 4\n")
        .unwrap();
    let got = drain(&mut w, 1.5).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].bytes.as_slice(), got[0].history),
        (&b"run 4\n"[..], false)
    );
    // A second watch added later: its existing files are history, others' are not.
    drop(w);
    let other = e.dir.parent().unwrap().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("x.log"), "old x\n").unwrap();
    let mut c = config(&e);
    c.watches.push(WatchSpec::new(&other));
    let mut w = Watcher::start(c).unwrap();
    let got = drain(&mut w, 1.5).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].history && got[0].path == other.join("x.log"));
}

/// A watch path that does not exist is reported by `health` until it appears; then it is
/// watched without a restart (a file closed in it is seen by inotify).
#[tokio::test]
async fn missing_directory_is_unhealthy_until_it_appears_then_watched() {
    let e = env();
    let late = e.dir.parent().unwrap().join("late");
    let mut c = config(&e);
    c.watches[0] = WatchSpec::new(&late);
    c.rescan_interval = Duration::from_millis(200);
    let mut w = Watcher::start(c).unwrap();
    let s = health_until(&w, |_| true).await;
    assert_eq!(s, PathState::Missing);
    assert_eq!(
        w.unhealthy()[0].to_string(),
        format!("{}: does not exist", late.display())
    );
    fs::create_dir(&late).unwrap();
    health_until(&w, PathState::is_ok).await;
    assert!(w.unhealthy().is_empty());
    fs::write(late.join("r.json"), b"{}\n").unwrap();
    let f = next(&mut w, 5.0).await.expect("file in the new directory");
    assert_eq!(
        (f.bytes.as_slice(), f.ready),
        (&b"{}\n"[..], Readiness::Closed)
    );
    w.commit(f.key, 3).await.unwrap();
    // Removed again: unhealthy again.
    fs::remove_file(late.join("r.json")).unwrap();
    fs::remove_dir(&late).unwrap();
    assert_eq!(health_until(&w, |s| !s.is_ok()).await, PathState::Missing);
}

/// A file as a watch path, and a watch inside the state dir, are reported as such.
#[tokio::test]
async fn file_and_state_dir_watch_paths_are_reported() {
    let e = env();
    let file = e.dir.join("a-file");
    fs::write(&file, b"x").unwrap();
    let mut c = config(&e);
    c.watches[0] = WatchSpec::new(&file);
    let w = Watcher::start(c).unwrap();
    assert_eq!(health_until(&w, |_| true).await, PathState::NotADirectory);
    drop(w);
    let inside = e.state.join("spool");
    fs::create_dir_all(&inside).unwrap();
    let mut c = config(&e);
    c.watches[0] = WatchSpec::new(&inside);
    let w = Watcher::start(c).unwrap();
    let s = health_until(&w, |_| true).await;
    assert!(matches!(s, PathState::InsideStateDir(_)), "{s:?}");
    assert!(s.to_string().starts_with("inside state_dir "), "{s}");
}

/// A directory the user cannot read is reported with the uid and the OS error, and recovers
/// when it is made readable. (Skipped as root, who reads everything.)
#[tokio::test]
async fn unreadable_directory_is_reported_and_recovers() {
    use std::os::unix::fs::PermissionsExt;
    if nagbridge::watch::health::effective_uid() == Some(0) {
        println!("skipped: running as root");
        return;
    }
    let e = env();
    fs::set_permissions(&e.dir, fs::Permissions::from_mode(0o000)).unwrap();
    let mut w = Watcher::start(config(&e)).unwrap();
    let s = health_until(&w, |_| true).await;
    let text = s.to_string();
    fs::set_permissions(&e.dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        text.starts_with("not readable by this user (uid ") && text.contains("Permission denied"),
        "{text}"
    );
    health_until(&w, PathState::is_ok).await;
    fs::write(e.dir.join("r.json"), b"{}\n").unwrap();
    assert!(next(&mut w, 5.0).await.is_some());
}
