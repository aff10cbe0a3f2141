//! Unit tests of the pgBackRest parser: grammar, runs, info, hostile numbers.

use super::log::line;
use super::*;
use crate::formats::test_support::{jobs, looks, single};
use crate::formats::{Format, Options};
use crate::outcome::Status;

fn job(name: &str) -> Options {
    Options {
        job: name.into(),
        ..Options::default()
    }
}

#[test]
fn grammar() {
    let l = line(
        "2026-11-24 08:12:03.676 P00   INFO: backup command end: completed successfully (3969ms)",
    )
    .unwrap();
    assert_eq!(
        l.time.unwrap().to_rfc3339(),
        "2026-11-24T08:12:03.676+00:00"
    );
    assert_eq!(l.level, "INFO");
    let l = line("P00  ERROR: [056]: unable to find primary cluster").unwrap();
    assert_eq!(
        (l.level, l.code, l.msg),
        ("ERROR", Some(56), "unable to find primary cluster")
    );
    let l = line("ERROR [050]: : unable to acquire pgBackRest advisory lock").unwrap();
    assert_eq!((l.level, l.code, l.full), ("ERROR", Some(50), false));
    let l = line("    2015-06-22 08:10:59.523 T00 ASSERT: manifest section").unwrap();
    assert_eq!((l.level, l.full), ("ASSERT", true));
    let l = line("Jun 21 17:42:58  patroni[17801]: 2021-06-21 17:42:58.656 P00   INFO: restore command end: completed successfully (2509331ms)").unwrap();
    assert!(l.msg.starts_with("restore command end"));
    assert!(line("-------------------PROCESS START-------------------").is_none());
    assert!(line("ERROR: plain postgres error").is_none());
    assert!(line("HINT: does this stanza exist?").is_none());
}

#[test]
fn hostile_numbers() {
    for l in [
        "9999-99-99 99:99:99.999 P00   INFO: backup command end: completed successfully (99999999999999999999999ms)",
        "3000-01-01 00:00:00.000 P00   INFO: full backup size = 1e308PB, file total = 99999999999999999999999",
        "2026-01-01 00:00:00.000 P99999999999999999999   INFO: incr backup size = -9223372036854775808B",
        "ERROR [99999999999999999999]: : x",
        "P00  ERROR: [4294967296]: x",
    ] {
        let o = single(Format::Pgbackrest, "/l/x.log", format!("{l}\n").as_bytes(), None, &job("x"));
        assert!(o.finished.is_none_or(|t| t.timestamp() < 7_258_118_400), "{o:?}");
    }
    let json = br#"[{"name":"a","status":{"code":-9223372036854775808,"message":"x"},"backup":[{"label":"l","timestamp":{"start":-9223372036854775808,"stop":9223372036854775807},"info":{"size":18446744073709551615,"delta":18446744073709551615}}]},{"name":"b","status":{"code":0},"backup":[{"info":{"size":18446744073709551615}}]}]"#;
    let o = single(Format::Pgbackrest, "/i.json", json, None, &job("i"));
    assert_eq!(o.bytes, Some(u64::MAX));
    assert_eq!((o.started, o.finished), (None, None));
    let text = b"stanza: s\n    status: ok\n        full backup: x\n            timestamp start/stop: 9999-12-31 23:59:59+00 / 3000000000-01-01 00:00:00+00\n";
    let o = single(Format::Pgbackrest, "/i.txt", text, None, &job("i"));
    assert_eq!((o.status, o.finished), (Status::Success, None));
}

#[test]
fn expire_belongs_to_its_backup() {
    let log = "\
2018-07-16 11:31:51.330 P00   INFO: new backup label = 20180716-113101F
2018-07-16 11:31:51.401 P00   INFO: backup command end: completed successfully (50357ms)
2018-07-16 11:31:51.401 P00   INFO: expire command begin
2018-07-16 11:32:57.145 P00   INFO: expire command end: aborted with exception [061]
";
    let o = single(
        Format::Pgbackrest,
        "/l/x.log",
        log.as_bytes(),
        None,
        &job("db"),
    );
    assert_eq!(o.status, Status::Warning);
    assert_eq!(o.warnings, ["expire failed: aborted with exception [061]"]);
    assert_eq!(
        o.summary.as_deref(),
        Some("backup 20180716-113101F completed; expire failed")
    );
}

#[test]
fn console_and_exit_codes() {
    let err = b"ERROR: [037]: backup command requires option: stanza\n";
    let o = single(Format::Pgbackrest, "wrap", err, None, &job("pg"));
    assert_eq!(o.status, Status::Failure);
    assert_eq!(o.errors, ["[037]: backup command requires option: stanza"]);
    // Default console level prints nothing on success: the exit code decides.
    let o = single(Format::Pgbackrest, "wrap", b"", Some(0), &job("pg"));
    assert_eq!(o.status, Status::Success);
    let o = single(Format::Pgbackrest, "wrap", b"", Some(82), &job("pg"));
    assert_eq!(o.status, Status::Failure);
    let warn = b"WARN: no prior backup exists, incr backup has been changed to full\n";
    assert_eq!(
        single(Format::Pgbackrest, "wrap", warn, Some(0), &job("pg")).status,
        Status::Warning
    );
    assert_eq!(
        single(Format::Pgbackrest, "x", warn, None, &job("pg")).status,
        Status::Unknown
    );
    assert!(looks(looks_like, err));
    assert!(!looks(looks_like, warn));
}

#[test]
fn archive_runs_are_one_outcome() {
    let log = "\
2021-02-25 13:47:53.607 P00   INFO: archive-push command begin 2.27: [pg_wal/A7] --stanza=demo
2021-02-25 13:47:53.700 P00  ERROR: [082]: unable to push
2021-02-25 13:47:53.800 P00   INFO: archive-push command end: aborted with exception [082]
2021-02-25 13:47:54.501 P00   INFO: archive-push command begin 2.27: [pg_wal/A7] --stanza=demo
2021-02-25 13:47:55.312 P00   INFO: archive-push command end: completed successfully (812ms)
";
    let o = single(
        Format::Pgbackrest,
        "/l/a.log",
        log.as_bytes(),
        None,
        &job("x"),
    );
    assert_eq!(
        (o.job.as_str(), o.status),
        ("demo-archive-push", Status::Warning)
    );
    let p = crate::formats::test_support::parse_as(
        Format::Pgbackrest,
        &crate::formats::FileMeta::for_path("/l/a.log"),
        log.as_bytes(),
        None,
        &job("x"),
        false,
    );
    assert_eq!(jobs(&p.outcomes), [("demo-archive-push", Status::Warning)]);
    assert_eq!(p.consumed, log.len());
}

#[test]
fn prompt_line_is_not_json_and_silent_preambles_are_no_run() {
    // A shell prompt in brackets starts the paste: log lines, not `info` JSON.
    let body = "[postgres@db pgbackrest]$ pgbackrest --stanza=data check\n\
                2017-01-04 14:42:54.569 P00   INFO: check command begin 1.13dev: --stanza=data\n\
                ERROR [157]: could not find WAL segment\n";
    let o = single(
        Format::Pgbackrest,
        "/p.txt",
        body.as_bytes(),
        None,
        &job("x"),
    );
    assert_eq!((o.job.as_str(), o.status), ("data-check", Status::Failure));
    assert!(looks(looks_like, body.as_bytes()));
    assert!(starts_json(b"[\n  {\"name\": \"demo\"}]"));
    assert!(starts_json(b"[]"));
    assert!(!starts_json(b"[postgres@db ~]$ pgbackrest info"));
    // Debug lines logged before the `begin` line (or a paste starting mid-way) that say nothing
    // are no run of their own.
    let body = "> 2022-03-09 17:36:08.671 P00  DEBUG:     common/io/socket/common::sckInit: => void\n\
                > 2022-03-09 17:36:08.671 P00   INFO: stanza-create command begin 2.38: --stanza=c\n\
                > 2022-03-09 17:36:08.672 P00  DEBUG:     common/lock::lockAcquire: => true\n";
    let o = single(
        Format::Pgbackrest,
        "/p.txt",
        body.as_bytes(),
        None,
        &job("x"),
    );
    assert_eq!(
        (o.job.as_str(), o.status),
        ("c-stanza-create", Status::Unknown)
    );
    // With an error, lines before a `begin` are still a run (a failed one).
    let body = "2022-03-09 17:36:08.671 P00  ERROR: [041]: unable to open file\n\
                2022-03-09 17:37:08.671 P00   INFO: backup command begin 2.38: --stanza=c\n\
                2022-03-09 17:37:09.671 P00   INFO: backup command end: completed successfully\n";
    let p = crate::formats::test_support::parse_as(
        Format::Pgbackrest,
        &crate::formats::FileMeta::for_path("/l/p.txt"),
        body.as_bytes(),
        None,
        &job("x"),
        true,
    );
    assert_eq!(
        jobs(&p.outcomes),
        [("x", Status::Failure), ("c", Status::Success)]
    );
}

/// Found by `scripts/fuzz 600` (parse_pgbackrest): a `stanza: ` line with nothing after it was
/// trimmed, then cut at the length of the untrimmed prefix (a panic). It is no stanza line.
#[test]
fn stanza_line_with_only_a_space_after_the_colon_does_not_panic() {
    let body = b"stanza: \n0000000100000A26000000DB\n\n   \xf9wal archl backup: 20250130-232707F\n : timestamp start/stop:    wal start/stop: 00000001\n";
    let meta = crate::formats::FileMeta::for_path("/x/pgbackrest.log");
    let p = crate::formats::parse_unguarded(
        Format::Pgbackrest,
        &crate::formats::Input {
            bytes: body,
            meta: &meta,
            exit_code: None,
            options: &job("x"),
            complete: true,
        },
    );
    assert_eq!(p.consumed, body.len());
    assert!(!super::info::looks_like_text(b"stanza: \n    status: ok\n"));
}
