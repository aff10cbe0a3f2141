use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::outcome::Status;

fn outcome(i: usize) -> Outcome {
    let mut o = Outcome::new(format!("job-{i}"), Status::Success);
    o.summary = Some(format!("run {i}"));
    o
}

/// Run `f` with a tracing subscriber that records every event; returns f's result and the
/// number of WARN events.
fn count_warnings<T>(f: impl FnOnce() -> T) -> (T, usize, String) {
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || Capture(sink.clone()))
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    let warns = text.lines().filter(|l| l.contains(" WARN ")).count();
    (out, warns, text)
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn spool_enqueue_load_ack_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    assert!(spool.is_empty().unwrap());
    let ids: Vec<EntryId> = (0..50)
        .map(|i| spool.enqueue(&outcome(i)).unwrap())
        .collect();
    assert_eq!(spool.pending().unwrap(), ids, "oldest first, stable");
    assert_eq!(spool.len().unwrap(), 50);
    let e = spool.load(&ids[3]).unwrap().unwrap();
    assert_eq!(e.id, ids[3]);
    assert_eq!(e.outcome, outcome(3));
    for id in &ids[..10] {
        spool.ack(id).unwrap();
    }
    spool.ack(&ids[0]).unwrap(); // twice is fine
    assert_eq!(spool.pending().unwrap(), ids[10..]);
    assert_eq!(spool.load(&ids[0]).unwrap(), None);
    // A second open (a restart) sees the same queue.
    drop(spool);
    let again = Spool::open(dir.path(), "nagios").unwrap();
    assert_eq!(again.pending().unwrap(), ids[10..]);
    assert_eq!(again.quarantined(), 0);
}

#[test]
fn spool_order_survives_a_clock_going_back() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "d").unwrap();
    let now = Utc::now();
    let a = spool.enqueue_at(&outcome(0), now).unwrap();
    let b = spool
        .enqueue_at(&outcome(1), now - chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(spool.pending().unwrap(), [a, b]);
}

#[test]
fn spool_modes_are_0700_and_0600() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let id = spool.enqueue(&outcome(1)).unwrap();
    for d in [
        "spool",
        "spool/nagios",
        "spool/nagios/tmp",
        "spool/nagios/new",
    ] {
        assert_eq!(mode(&dir.path().join(d)), 0o700, "{d}");
    }
    assert_eq!(mode(spool.quarantine_dir()), 0o700);
    assert_eq!(mode(&spool.dir().join("new").join(id.as_str())), 0o600);
    // An existing directory with a loose mode is tightened.
    fs::set_permissions(spool.dir().join("new"), fs::Permissions::from_mode(0o755)).unwrap();
    Spool::open(dir.path(), "nagios").unwrap();
    assert_eq!(mode(&spool.dir().join("new")), 0o700);
}

#[test]
fn spool_rejects_bad_destination_names() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(101)] {
        let e = Spool::open(dir.path(), bad).unwrap_err();
        assert!(matches!(e, SpoolError::InvalidDest(_)), "{bad}: {e}");
    }
}

/// Every crash-state fixture: exactly one warning and one quarantine (or removal) each, no
/// panic, and every good entry still pending.
#[test]
fn spool_crash_state_fixtures_are_quarantined_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let good: Vec<EntryId> = (0..3)
        .map(|i| spool.enqueue(&outcome(i)).unwrap())
        .collect();
    let bytes = fs::read(spool.dir().join("new").join(good[0].as_str())).unwrap();
    let n = bytes.len();
    let new = spool.dir().join("new");
    let fixture = |micros: u64, data: &[u8]| {
        let id = EntryId::new(micros, 0, 1);
        fs::write(new.join(id.as_str()), data).unwrap();
        id
    };
    let truncated = fixture(1, &bytes[..n / 2]);
    let mut crc = bytes.clone();
    crc[entry::HEADER_LEN + 5] ^= 1;
    let bad_crc = fixture(2, &crc);
    let empty = fixture(3, b"");
    let no_end = fixture(4, &bytes[..n - 4]);
    let mut v9 = bytes.clone();
    v9[4..6].copy_from_slice(&9u16.to_be_bytes());
    let unknown_version = fixture(5, &v9);
    fs::write(new.join("stray.json"), b"{}").unwrap();
    // An abandoned tmp file (old) goes; a fresh one may be another process writing: it stays.
    let abandoned = spool.dir().join("tmp").join(good[0].as_str());
    fs::write(&abandoned, &bytes[..10]).unwrap();
    fs::File::options()
        .write(true)
        .open(&abandoned)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - super::STALE_TMP * 2)
        .unwrap();
    let live = spool
        .dir()
        .join("tmp")
        .join("99999999999999999-0000000000-1");
    fs::write(&live, &bytes[..10]).unwrap();
    drop(spool);

    let ((spool, loaded), warns, log) = count_warnings(|| {
        let spool = Spool::open(dir.path(), "nagios").unwrap();
        let mut loaded = Vec::new();
        // Two passes: the second must not warn again.
        for _ in 0..2 {
            for id in spool.pending().unwrap() {
                if let Some(e) = spool.load(&id).unwrap() {
                    loaded.push(e.id);
                }
            }
        }
        (spool, loaded)
    });
    assert_eq!(warns, 7, "one per fixture:\n{log}");
    assert_eq!(loaded.len(), 6);
    assert_eq!(loaded[..3], good[..]);
    assert_eq!(spool.quarantined(), 6);
    assert_eq!(
        files(&spool.dir().join("tmp")),
        ["99999999999999999-0000000000-1"],
        "only the abandoned tmp file is removed"
    );
    let mut expect: Vec<String> = [truncated, bad_crc, empty, no_end, unknown_version]
        .iter()
        .map(|i| i.to_string())
        .collect();
    expect.push("stray.json".into());
    expect.sort();
    let quarantined = files(spool.quarantine_dir());
    let (entries, why): (Vec<String>, Vec<String>) = quarantined
        .into_iter()
        .partition(|f| !f.ends_with(WHY_SUFFIX));
    assert_eq!(entries, expect);
    // Each one says when and why, beside it.
    assert_eq!(why.len(), expect.len());
    let reason = fs::read_to_string(
        spool
            .quarantine_dir()
            .join(format!("{}{WHY_SUFFIX}", expect[0])),
    )
    .unwrap();
    assert!(reason.contains("entry is truncated"), "{reason}");
    assert_eq!(spool.pending().unwrap(), good);
    for (needle, what) in [
        ("entry is truncated", "truncated"),
        ("CRC-32 mismatch", "crc"),
        ("entry is empty", "empty"),
        ("no END marker", "end"),
        ("unknown format version 9", "version"),
        ("not a spool entry name", "stray"),
        ("uncommitted spool file", "tmp"),
    ] {
        assert_eq!(log.matches(needle).count(), 1, "{what}:\n{log}");
    }
}

/// A spool whose `new/` cannot take the entry. chmod does not stop root (CI runs as root), so
/// the fault is a regular file where `new/` should be: rename(2) then fails with ENOTDIR for
/// every user. Nothing is left behind in tmp/ and, once healed, enqueue works again.
#[test]
fn spool_enqueue_fails_cleanly_when_new_is_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let first = spool.enqueue(&outcome(0)).unwrap();
    let new = spool.dir().join("new");
    let parked = spool.dir().join("parked");
    fs::rename(&new, &parked).unwrap();
    fs::write(&new, b"").unwrap();
    let err = spool.enqueue(&outcome(1)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SpoolError::Commit { .. }), "{msg}");
    assert!(msg.starts_with("cannot commit spool entry to "), "{msg}");
    assert!(msg.contains("spool/nagios/new/"), "{msg}");
    assert!(err.io_error().is_some());
    assert!(!err.is_full());
    assert!(files(&spool.dir().join("tmp")).is_empty(), "tmp cleaned");
    assert!(spool.pending().is_err(), "listing reports the fault too");
    // tmp/ unusable: the write step fails.
    fs::remove_file(&new).unwrap();
    fs::rename(&parked, &new).unwrap();
    let tmp = spool.dir().join("tmp");
    fs::remove_dir(&tmp).unwrap();
    fs::write(&tmp, b"").unwrap();
    let err = spool.enqueue(&outcome(2)).unwrap_err();
    assert!(matches!(err, SpoolError::Write { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot write spool entry "));
    // Healed: nothing lost, and new entries go in.
    fs::remove_file(&tmp).unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let second = spool.enqueue(&outcome(1)).unwrap();
    assert_eq!(spool.pending().unwrap(), [first, second]);
}

#[test]
fn spool_unquarantinable_entry_warns_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let id = EntryId::new(1, 0, 1);
    fs::write(spool.dir().join("new").join(id.as_str()), b"").unwrap();
    // quarantine/ replaced by a file: the move fails, even for root.
    fs::remove_dir(spool.quarantine_dir()).unwrap();
    fs::write(spool.quarantine_dir(), b"").unwrap();
    let (_, warns, log) = count_warnings(|| {
        for _ in 0..3 {
            for id in spool.pending().unwrap() {
                assert_eq!(spool.load(&id).unwrap(), None);
            }
        }
    });
    assert_eq!(warns, 1, "{log}");
    assert!(log.contains("skipped until restart"), "{log}");
    assert!(spool.pending().unwrap().is_empty());
}

#[tokio::test]
async fn spool_enqueue_wakes_a_waiter() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let waiter = {
        let spool = spool.clone();
        tokio::spawn(async move { spool.wait_for_entries().await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    spool.enqueue(&outcome(1)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .unwrap();
    // A wake-up with nobody waiting is kept for the next wait.
    spool.enqueue(&outcome(2)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), spool.wait_for_entries())
        .await
        .expect("permit kept");
}

/// Bulk entries wait behind every normal one, whenever they were spooled; only a normal
/// enqueue raises the urgent flag, once.
#[test]
fn spool_lists_the_normal_lane_before_the_bulk_lane() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), "nagios").unwrap();
    let t0 = chrono::Utc::now();
    let bulk = spool
        .enqueue_many(&[outcome(0), outcome(1)], t0, Lane::Bulk)
        .unwrap();
    assert!(!spool.take_urgent(), "bulk entries are not urgent");
    let late = spool
        .enqueue_at(&outcome(2), t0 + chrono::Duration::seconds(60))
        .unwrap();
    assert!(spool.take_urgent());
    assert!(!spool.take_urgent(), "the flag is taken once");
    assert!(bulk
        .iter()
        .all(|id| id.lane() == Lane::Bulk && id.as_str().ends_with("-b")));
    assert_eq!(late.lane(), Lane::Normal);
    assert_eq!(
        spool.pending().unwrap(),
        [late, bulk[0].clone(), bulk[1].clone()]
    );
    for (i, id) in bulk.iter().enumerate() {
        assert_eq!(EntryId::parse(id.as_str()).as_ref(), Some(id));
        assert_eq!(spool.load(id).unwrap().unwrap().outcome, outcome(i));
    }
    assert_eq!(EntryId::parse("00000000000000001-0000000000-1-c"), None);
    assert_eq!(EntryId::parse("00000000000000001-0000000000-1-b-b"), None);
}
