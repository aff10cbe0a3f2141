//! Fixture tests for the vzdump, Bacula/Bareos, Xen Orchestra and pgBackRest parsers: every file
//! under `tests/fixtures/<tool>/` (see the README there for where each came from) is parsed and
//! its status, job, host, times, bytes and per-item results are checked.

use nagbridge::formats::{self, detect, FileMeta, Format, Input, Options, Parsed};
use nagbridge::outcome::{Outcome, Status};

fn fixture(tool: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{tool}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parse `bytes` as `format`, with the file shown as `path`.
fn run_with(format: Format, path: &str, bytes: &[u8], options: &Options, complete: bool) -> Parsed {
    let meta = FileMeta::for_path(path);
    let mut options = options.clone();
    if options.job.is_empty() {
        options.job = meta.file_stem.clone();
    }
    formats::parse(
        format,
        &Input {
            bytes,
            meta: &meta,
            exit_code: None,
            options: &options,
            complete,
        },
    )
}

/// [`run_with`] with the default options, on a file that may still grow.
fn growing(format: Format, path: &str, bytes: &[u8]) -> Parsed {
    run_with(format, path, bytes, &Options::default(), false)
}

/// [`run_with`] with the default options, on a complete file.
fn complete(format: Format, path: &str, bytes: &[u8]) -> Parsed {
    run_with(format, path, bytes, &Options::default(), true)
}

fn run(format: Format, tool: &str, name: &str) -> Vec<Outcome> {
    let bytes = fixture(tool, name);
    let path = format!("/var/log/{tool}/{name}");
    let p = run_with(format, &path, &bytes, &Options::default(), true);
    assert_eq!(p.consumed, bytes.len(), "{name}");
    // Auto detection picks the same format.
    let meta = FileMeta::for_path(&path);
    let options = Options::default();
    let input = Input {
        bytes: &bytes,
        meta: &meta,
        exit_code: None,
        options: &options,
        complete: true,
    };
    assert_eq!(detect::detect(&input), Some(format), "detect {name}");
    p.outcomes
}

fn one(format: Format, tool: &str, name: &str) -> Outcome {
    let mut o = run(format, tool, name);
    assert_eq!(o.len(), 1, "{name}: {o:#?}");
    o.remove(0)
}

fn t(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    Some(s.parse().unwrap())
}

/// (job, status) of each outcome.
fn jobs(o: &[Outcome]) -> Vec<(&str, Status)> {
    o.iter().map(|o| (o.job.as_str(), o.status)).collect()
}

/// (job, host, status) of each outcome.
fn jobs_hosts(o: &[Outcome]) -> Vec<(&str, Option<&str>, Status)> {
    o.iter()
        .map(|o| (o.job.as_str(), o.host.as_deref(), o.status))
        .collect()
}

fn items(o: &Outcome) -> Vec<(&str, Status, Option<u64>)> {
    o.items
        .iter()
        .map(|i| (i.name.as_str(), i.status, i.bytes))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// vzdump

const GB231: u64 = 2_480_343_613; // 2.31 * 1024^3, as vzdump computes "GB"

#[test]
fn vzdump_task_ok() {
    let o = one(Format::Vzdump, "vzdump", "task-ok.log");
    assert_eq!((o.job.as_str(), o.status), ("task-ok", Status::Success));
    assert_eq!(o.tool.as_deref(), Some("vzdump"));
    assert_eq!(
        items(&o),
        [
            ("web01", Status::Success, Some(GB231)),
            ("mail01", Status::Success, Some(187 << 20)),
        ]
    );
    assert_eq!(o.bytes, Some(GB231 + (187 << 20)));
    assert_eq!(o.started, t("2026-11-24T02:00:01Z"));
    assert_eq!(o.finished, t("2026-11-24T02:00:55Z"));
    assert!(o.errors.is_empty() && o.warnings.is_empty());
    assert_eq!(o.source.as_deref(), Some("/var/log/vzdump/task-ok.log"));
}

#[test]
fn vzdump_task_log_named_by_its_upid() {
    let bytes = fixture("vzdump", "task-ok.log");
    let path = "/var/log/pve/tasks/1/UPID:pve1:000F4A21:05B1C3D2:6742A8F1:vzdump::root@pam:";
    let p = complete(Format::Auto, path, &bytes);
    assert_eq!(p.format, Some(Format::Vzdump));
    let o = &p.outcomes[0];
    assert_eq!(o.job, "vzdump");
    assert_eq!(o.host.as_deref(), Some("pve1"));
    assert_eq!(o.started.unwrap().timestamp(), 0x6742A8F1);
}

#[test]
fn vzdump_warnings() {
    let o = one(Format::Vzdump, "vzdump", "task-warnings.log");
    assert_eq!(o.status, Status::Warning);
    assert_eq!(
        o.warnings,
        ["no efidisk configured! Using temporary efivars disk."]
    );
    assert_eq!(
        items(&o),
        [("files01", Status::Success, Some(11_295_763_988))]
    );
}

#[test]
fn vzdump_guest_failure() {
    let o = one(Format::Vzdump, "vzdump", "task-error.log");
    assert_eq!(o.status, Status::Failure);
    assert_eq!(
        items(&o),
        [
            ("web01", Status::Success, Some(GB231)),
            ("db01", Status::Failure, None),
        ]
    );
    assert_eq!(
        o.items[1].message.as_deref(),
        Some("job failed with err -5 - Input/output error")
    );
    assert!(o
        .errors
        .contains(&"VM 101: job failed with err -5 - Input/output error".to_string()));
    assert!(o
        .summary
        .as_deref()
        .unwrap()
        .starts_with("1 of 2 guests backed up"));
}

#[test]
fn vzdump_canceled_maps_through_options() {
    let o = one(Format::Vzdump, "vzdump", "task-canceled.log");
    assert_eq!(o.status, Status::Failure);
    assert_eq!(items(&o), [("build01", Status::Failure, None)]);
    let bytes = fixture("vzdump", "task-canceled.log");
    let options = Options {
        canceled: Some(Status::Warning),
        ..Options::default()
    };
    let p = run_with(Format::Vzdump, "/x/c.log", &bytes, &options, true);
    assert_eq!(p.outcomes[0].status, Status::Warning);
    assert_eq!(p.outcomes[0].items[0].status, Status::Warning);
}

#[test]
fn vzdump_pbs_sizes() {
    let o = one(Format::Vzdump, "vzdump", "task-pbs.log");
    assert_eq!(o.status, Status::Success);
    let mib113 = (1.13f64 * (1u64 << 20) as f64) as u64;
    assert_eq!(
        items(&o),
        [
            (
                "web01",
                Status::Success,
                Some((1.2f64 * (1u64 << 30) as f64) as u64)
            ),
            ("dns01", Status::Success, Some(mib113)),
        ]
    );
}

#[test]
fn vzdump_notification_error_is_a_warning() {
    let o = one(Format::Vzdump, "vzdump", "task-notify-error.log");
    assert_eq!(o.status, Status::Warning);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert!(o.warnings[0].starts_with("could not notify via target"));
}

#[test]
fn vzdump_job_failed_before_any_guest() {
    let o = one(Format::Vzdump, "vzdump", "task-job-failed.log");
    assert_eq!(o.status, Status::Failure);
    assert!(o.items.is_empty());
    assert_eq!(o.errors, ["storage 'nas' is not online"]);
}

#[test]
fn vzdump_running_task_is_left_unconsumed() {
    let bytes = fixture("vzdump", "task-running.log");
    let p = growing(Format::Vzdump, "/x/r.log", &bytes);
    assert!(p.outcomes.is_empty());
    assert_eq!(p.consumed, 0);
    // Two runs appended, the second unfinished: only the first is used.
    let mut two = fixture("vzdump", "task-ok.log");
    let first = two.len();
    two.extend_from_slice(&bytes);
    let p = growing(Format::Vzdump, "/x/r.log", &two);
    assert_eq!((p.outcomes.len(), p.consumed), (1, first));
    // Once the file is complete, the guest it ends in is unknown: no end line, no error.
    let p = complete(Format::Vzdump, "/x/r.log", &bytes);
    let o = &p.outcomes[0];
    assert_eq!(o.status, Status::Unknown);
    assert_eq!(
        items(o),
        [
            ("web01", Status::Success, Some(GB231)),
            ("db01", Status::Unknown, None)
        ]
    );
    assert!(o
        .summary
        .as_deref()
        .unwrap_or_default()
        .contains("no end line"));
}

#[test]
fn vzdump_task_index() {
    let o = run(Format::Vzdump, "vzdump", "index");
    let got = jobs_hosts(&o);
    assert_eq!(
        got,
        [
            ("vzdump", Some("pve1"), Status::Success),
            ("vzdump-102", Some("pve1"), Status::Warning),
            ("vzdump", Some("pve1"), Status::Failure),
            ("vzdump-103", Some("pve1"), Status::Failure),
        ]
    );
    assert_eq!(o[0].started.unwrap().timestamp(), 0x6742A8F1);
    assert_eq!(o[0].finished.unwrap().timestamp(), 0x6742AA3B);
    assert_eq!(o[2].errors, ["job errors"]);
    // An index still being appended to: the last line without a newline waits.
    let bytes = fixture("vzdump", "index");
    let cut = &bytes[..bytes.len() - 3];
    let p = growing(Format::Vzdump, "/var/log/pve/tasks/index", cut);
    assert_eq!(p.outcomes.len(), 3);
    assert_eq!(&cut[..p.consumed], &bytes[..p.consumed]);
    assert_eq!(cut[p.consumed - 1], b'\n');
}

#[test]
fn vzdump_guest_log() {
    let o = one(Format::Vzdump, "vzdump", "guest-qemu-100.log");
    assert_eq!(o.status, Status::Success);
    assert_eq!(items(&o), [("web01", Status::Success, Some(GB231))]);
    assert_eq!(o.started, t("2026-11-24T02:00:01Z"));
    assert_eq!(o.finished, t("2026-11-24T02:00:24Z"));
}

#[test]
fn vzdump_legacy_mail() {
    let o = one(Format::Vzdump, "vzdump", "mail-legacy.txt");
    assert_eq!(o.status, Status::Failure);
    assert_eq!(o.host.as_deref(), Some("pve1.example.com"));
    assert_eq!(
        items(&o),
        [
            ("web01", Status::Success, Some(GB231)),
            ("db01", Status::Failure, None)
        ]
    );
    assert_eq!(o.started, t("2026-11-24T02:00:01Z"));
}

#[test]
fn vzdump_pve8_mail_and_split_items() {
    let bytes = fixture("vzdump", "mail-pve8.txt");
    let options = Options {
        split_items: true,
        ..Options::default()
    };
    let p = run_with(Format::Vzdump, "/m/mail-pve8.txt", &bytes, &options, true);
    let got = jobs_hosts(&p.outcomes);
    assert_eq!(
        got,
        [
            ("mail-pve8", Some("pve2.example.com"), Status::Success),
            ("mail-pve8", Some("web01"), Status::Success),
            ("mail-pve8", Some("dns01"), Status::Success),
        ]
    );
    assert_eq!(
        p.outcomes[1].bytes,
        Some((1.2f64 * (1u64 << 30) as f64) as u64)
    );
}

// ---------------------------------------------------------------------------------------------
// Bacula / Bareos

#[test]
fn bacula_log_with_several_reports() {
    let o = run(Format::Bacula, "bacula", "bacula.log");
    let got = jobs_hosts(&o);
    assert_eq!(
        got,
        [
            ("web01-files", Some("web01"), Status::Success),
            ("web01-missing", Some("web01"), Status::Warning),
            ("db01-dump", Some("db01"), Status::Failure),
            ("web01-files", Some("web01"), Status::Failure),
            // Job 5 started and the finished file holds no report for it: unknown.
            ("web01-files", None, Status::Unknown),
        ]
    );
    assert!(o[4]
        .summary
        .as_deref()
        .unwrap_or_default()
        .contains("JobId 5 started"));
    let ok = &o[0];
    assert_eq!(ok.tool.as_deref(), Some("bacula"));
    assert_eq!(ok.started, t("2026-11-24T08:10:10Z"));
    assert_eq!(ok.finished, t("2026-11-24T08:10:11Z"));
    assert_eq!(ok.duration_s, Some(1.0));
    assert_eq!((ok.bytes, ok.files), (Some(1_200_581), Some(4)));
    assert_eq!(
        ok.summary.as_deref(),
        Some("Backup OK (Full (upgraded from Incremental))")
    );
    assert!(ok.errors.is_empty() && ok.warnings.is_empty());
    assert_eq!(
        o[1].errors,
        ["Could not stat \"/srv/does-not-exist\": ERR=No such file or directory"]
    );
    assert_eq!(
        o[1].summary.as_deref(),
        Some("Backup OK -- with warnings (Incremental)")
    );
    assert_eq!(
        o[2].errors,
        [
            "Runscript: ClientRunBeforeJob returned non-zero status=2. ERR=Child exited with code 2",
            "Bad response to ClientRunBeforeJob command: wanted 2000 OK RunBefore , got 2905 Bad RunBeforeJob command."
        ]
    );
    assert_eq!(o[3].errors, ["Job 4 canceled by user."]);
}

#[test]
fn bacula_canceled_and_zero_files_options() {
    let bytes = fixture("bacula", "bacula.log");
    let options = Options {
        canceled: Some(Status::Warning),
        ..Options::default()
    };
    let p = run_with(Format::Bacula, "/b/bacula.log", &bytes, &options, true);
    assert_eq!(p.outcomes[3].status, Status::Warning);
    assert_eq!(p.outcomes[2].status, Status::Failure);
}

#[test]
fn bacula_growing_log_stops_after_the_last_report() {
    let bytes = fixture("bacula", "bacula.log");
    let text = std::str::from_utf8(&bytes).unwrap();
    let p = growing(Format::Bacula, "/b/bacula.log", &bytes);
    assert_eq!(p.outcomes.len(), 4);
    let last = text
        .rfind("Termination:            Backup Canceled\n")
        .unwrap();
    assert_eq!(
        p.consumed,
        last + "Termination:            Backup Canceled\n".len()
    );
    // The rest (job 5, still running) gives nothing yet, and is not consumed.
    let rest = &bytes[p.consumed..];
    let p2 = growing(Format::Bacula, "/b/bacula.log", rest);
    assert_eq!((p2.outcomes.len(), p2.consumed), (0, 0));
    // A report cut in the middle is not used either.
    let cut = text.find("  Termination:            Backup OK\n").unwrap();
    let p3 = growing(Format::Bacula, "/b/bacula.log", &bytes[..cut]);
    assert_eq!((p3.outcomes.len(), p3.consumed), (0, 0));
    // When the file is complete a cut report is unknown, not lost.
    let p4 = complete(Format::Bacula, "/b/bacula.log", &bytes[..cut]);
    assert_eq!(p4.outcomes.len(), 1);
    assert_eq!(p4.outcomes[0].status, Status::Unknown);
    assert_eq!(p4.outcomes[0].job, "web01-files");
}

#[test]
fn bacula_mail() {
    let o = one(Format::Bacula, "bacula", "mail-ok.txt");
    assert_eq!(
        (o.job.as_str(), o.host.as_deref(), o.status),
        ("FileServer", Some("fileserver"), Status::Success)
    );
    assert_eq!((o.bytes, o.files), (Some(45_690_123_456), Some(123_456)));
    assert_eq!(o.duration_s, Some(2823.0));
    assert_eq!(o.started, t("2026-11-24T02:00:02Z"));
    assert_eq!(o.finished, t("2026-11-24T02:47:05Z"));
}

#[test]
fn bareos_22_iso_dates() {
    let o = run(Format::Bacula, "bacula", "bareos-22.log");
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].tool.as_deref(), Some("bareos"));
    assert_eq!(
        (o[0].job.as_str(), o[0].host.as_deref(), o[0].status),
        ("client1-linux", Some("client1"), Status::Warning)
    );
    assert_eq!(
        o[0].warnings,
        ["/var/lib/docker is a different filesystem. Will not descend from / into it."]
    );
    assert_eq!(o[0].started, t("2024-07-31T16:30:04Z"));
    assert_eq!(o[0].finished, t("2024-07-31T16:33:09Z"));
    assert_eq!((o[0].bytes, o[0].files), (Some(734_870_202), Some(1812)));
    assert_eq!(o[1].status, Status::Failure);
    assert_eq!(o[1].errors, ["No Job status returned from FD."]);
}

#[test]
fn bareos_old_localised_months() {
    let o = one(Format::Bacula, "bacula", "bareos-old-zh.txt");
    assert_eq!(
        (o.job.as_str(), o.host.as_deref(), o.status),
        ("BackupClient1", Some("bareos"), Status::Success)
    );
    assert_eq!(o.tool.as_deref(), Some("bareos"));
    assert_eq!(o.started, t("2019-05-19T03:00:02Z"));
    assert_eq!(o.finished, t("2019-05-19T03:05:12Z"));
    assert_eq!(o.duration_s, Some(310.0));
}

// ---------------------------------------------------------------------------------------------
// Xen Orchestra

fn ms(n: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(n)
}

#[test]
fn xo_success() {
    let o = one(Format::Xo, "xo", "success-full.json");
    assert_eq!((o.job.as_str(), o.status), ("nightly-vms", Status::Success));
    assert_eq!(o.tool.as_deref(), Some("xo"));
    assert_eq!(items(&o), [("web01", Status::Success, Some(4_294_967_296))]);
    assert_eq!(o.bytes, Some(4_294_967_296));
    assert_eq!(
        (o.started, o.finished),
        (ms(1795500000000), ms(1795500062800))
    );
    assert_eq!(o.duration_s, Some(62.8));
    assert!(o.errors.is_empty() && o.warnings.is_empty(), "{o:?}");
    assert_eq!(o.summary.as_deref(), Some("full backup, 1 of 1 VMs ok"));
}

#[test]
fn xo_failure_with_retry_and_skip() {
    let o = one(Format::Xo, "xo", "failure-retry-skip.json");
    assert_eq!(o.status, Status::Failure);
    assert_eq!(
        items(&o),
        [
            ("web01", Status::Warning, Some(536_870_912)),
            ("db01", Status::Failure, None),
            ("tmpl-builder", Status::Warning, None),
        ]
    );
    assert_eq!(
        o.items[0].message.as_deref(),
        Some("Retry the VM backup due to an error (SR_BACKEND_FAILURE_44(, There is insufficient space, ))")
    );
    assert_eq!(
        o.items[1].message.as_deref(),
        Some("VM_BAD_POWER_STATE(OpaqueRef:5a6b7c8d, running, halted)")
    );
    assert_eq!(o.items[2].message.as_deref(), Some("no disks found"));
    assert_eq!(
        o.errors,
        ["db01: VM_BAD_POWER_STATE(OpaqueRef:5a6b7c8d, running, halted)"]
    );
    assert!(o
        .warnings
        .contains(&"tmpl-builder: no disks found".to_string()));
    assert_eq!(o.bytes, Some(536_870_912));
}

#[test]
fn xo_split_items() {
    let bytes = fixture("xo", "failure-retry-skip.json");
    let options = Options {
        split_items: true,
        ..Options::default()
    };
    let p = run_with(Format::Xo, "/xo/f.json", &bytes, &options, true);
    let got: Vec<_> = p
        .outcomes
        .iter()
        .map(|o| {
            (
                o.job.as_str(),
                o.host.as_deref(),
                o.status,
                o.summary.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got[1..],
        [
            ("nightly-vms", Some("web01"), Status::Warning, Some("Retry the VM backup due to an error (SR_BACKEND_FAILURE_44(, There is insufficient space, ))")),
            ("nightly-vms", Some("db01"), Status::Failure, Some("VM_BAD_POWER_STATE(OpaqueRef:5a6b7c8d, running, halted)")),
            ("nightly-vms", Some("tmpl-builder"), Status::Warning, Some("no disks found")),
        ]
    );
}

#[test]
fn xo_warning_deep_in_the_tree() {
    let o = one(Format::Xo, "xo", "warnings.json");
    assert_eq!(o.status, Status::Warning);
    assert_eq!(items(&o), [("web01", Status::Warning, Some(268_435_456))]);
    assert_eq!(o.warnings, ["web01: unused VHD"]);
}

#[test]
fn xo_job_skipped_and_interrupted() {
    let o = one(Format::Xo, "xo", "job-skipped.json");
    assert_eq!((o.job.as_str(), o.status), ("tagged-vms", Status::Warning));
    assert_eq!(o.warnings, ["no VMs match this pattern"]);
    let o = one(Format::Xo, "xo", "interrupted.json");
    assert_eq!(o.status, Status::Failure);
    assert_eq!(items(&o), [("web01", Status::Failure, None)]);
    assert_eq!(o.finished, None);
    assert_eq!(o.errors, ["web01: interrupted"]);
}

#[test]
fn xo_get_logs_array() {
    let o = run(Format::Xo, "xo", "getLogs.json");
    let got = jobs(&o);
    // The pending run gives no outcome yet.
    assert_eq!(
        got,
        [
            ("nightly-vms", Status::Success),
            ("xo-config", Status::Failure),
            ("nightly-vms", Status::Failure),
            ("nightly-vms", Status::Unknown),
        ]
    );
    assert_eq!(
        items(&o[1]),
        [
            ("xo", Status::Success, None),
            ("pool-a", Status::Failure, None)
        ]
    );
    assert_eq!(
        o[1].errors,
        ["pool-a: ENOSPC: no space left on device, write"]
    );
    assert!(o[3].errors[0].contains("someNewStatus"));
    // The aborted run is a canceled one.
    let bytes = fixture("xo", "getLogs.json");
    let options = Options {
        canceled: Some(Status::Warning),
        ..Options::default()
    };
    let p = run_with(Format::Xo, "/xo/getLogs.json", &bytes, &options, true);
    assert_eq!(p.outcomes[2].status, Status::Warning);
    assert_eq!(p.outcomes[1].status, Status::Failure);
}

#[test]
fn xo_get_all_logs_ndjson_and_map() {
    let o = run(Format::Xo, "xo", "getAllLogs.ndjson");
    let got = jobs(&o);
    assert_eq!(
        got,
        [
            ("nightly-vms", Status::Success),
            ("nightly-vms", Status::Failure),
            ("tagged-vms", Status::Warning),
        ]
    );
    // A dump still being written: the unfinished line waits.
    let bytes = fixture("xo", "getAllLogs.ndjson");
    let cut = bytes.len() - 20;
    let p = growing(Format::Xo, "/xo/a.ndjson", &bytes[..cut]);
    assert_eq!(p.outcomes.len(), 2);
    assert_eq!(bytes[p.consumed - 1], b'\n');
    // A pretty-printed document still being written gives nothing yet.
    let doc = fixture("xo", "success-full.json");
    let p = growing(Format::Xo, "/xo/s.json", &doc[..doc.len() / 2]);
    assert_eq!((p.outcomes.len(), p.consumed), (0, 0));
    let o = run(Format::Xo, "xo", "getAllLogs-map.json");
    let got = jobs(&o);
    assert_eq!(
        got,
        [
            ("nightly-vms", Status::Success),
            ("tagged-vms", Status::Warning)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// pgBackRest

#[test]
fn pgbackrest_log_runs() {
    let o = run(Format::Pgbackrest, "pgbackrest", "demo-backup.log");
    let got = jobs(&o);
    assert_eq!(
        got,
        [
            ("demo", Status::Success),
            ("demo", Status::Warning),
            ("demo", Status::Failure),
            ("demo", Status::Failure),
            ("demo", Status::Unknown),
        ]
    );
    let full = &o[0];
    assert_eq!(full.tool.as_deref(), Some("pgbackrest"));
    assert_eq!(full.started, t("2026-11-24T08:11:59.707Z"));
    // The automatic expire belongs to the backup run: it ends the run.
    assert_eq!(full.finished, t("2026-11-24T08:12:03.689Z"));
    assert_eq!(full.duration_s, Some(3.969));
    assert_eq!((full.bytes, full.files), (Some(23_173_529), Some(964)));
    assert_eq!(items(full), [("demo", Status::Success, Some(23_173_529))]);
    assert_eq!(
        full.items[0].message.as_deref(),
        Some("backup 20261124-081200F")
    );
    assert_eq!(
        full.summary.as_deref(),
        Some("full backup 20261124-081200F completed")
    );
    assert_eq!(
        o[1].warnings,
        ["a timeline switch has occurred since the 20261124-081200F backup, enabling delta checksum HINT: this is normal after restoring from backup or promoting a standby."]
    );
    assert_eq!((o[1].bytes, o[1].files), (Some(1_572_864), Some(964)));
    assert_eq!(
        o[2].errors,
        ["[056]: unable to find primary cluster - cannot proceed HINT: are all available clusters in recovery?"]
    );
    assert_eq!(o[3].errors, ["[063]: terminated on signal [SIGTERM]"]);
    // The last run shows no end and no error: unknown, and the summary says why.
    assert!(o[4].errors.is_empty());
    assert!(o[4]
        .summary
        .as_deref()
        .unwrap()
        .contains("no `command end` line and no error"));
}

#[test]
fn pgbackrest_growing_log_and_signal() {
    let bytes = fixture("pgbackrest", "demo-backup.log");
    let text = std::str::from_utf8(&bytes).unwrap();
    let options = Options {
        canceled: Some(Status::Warning),
        ..Options::default()
    };
    let p = run_with(
        Format::Pgbackrest,
        "/l/demo-backup.log",
        &bytes,
        &options,
        false,
    );
    assert_eq!(p.outcomes.len(), 4);
    let last_end = text.rfind("aborted with exception [063]\n").unwrap();
    assert_eq!(
        p.consumed,
        last_end + "aborted with exception [063]\n".len()
    );
    assert_eq!(p.outcomes[3].status, Status::Warning, "canceled maps");
    assert_eq!(p.outcomes[2].status, Status::Failure);
}

#[test]
fn pgbackrest_console_and_exit_code() {
    let o = run(Format::Pgbackrest, "pgbackrest", "console.txt");
    // backup + its automatic expire: one run.
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].job.as_str(), o[0].status), ("app", Status::Success));
    assert_eq!((o[0].bytes, o[0].files), (Some(8499), Some(1011)));
    assert_eq!(o[0].duration_s, Some(1.812));
    assert_eq!(o[0].started, None);
    // Under `wrap` a non-zero exit (= the error code) fails the run.
    let bytes = fixture("pgbackrest", "console.txt");
    let meta = FileMeta::for_path("wrap");
    let options = Options {
        job: "pg".into(),
        ..Options::default()
    };
    let p = formats::parse(
        Format::Pgbackrest,
        &Input {
            bytes: &bytes,
            meta: &meta,
            exit_code: Some(56),
            options: &options,
            complete: true,
        },
    );
    assert_eq!(p.outcomes[0].status, Status::Failure);
}

#[test]
fn pgbackrest_info_json() {
    let o = one(Format::Pgbackrest, "pgbackrest", "info.json");
    assert_eq!((o.job.as_str(), o.status), ("info", Status::Failure));
    assert_eq!(
        items(&o),
        [
            ("demo", Status::Success, Some(3_014_912)),
            ("app", Status::Warning, Some(2048)),
            ("reports", Status::Failure, None),
        ]
    );
    assert_eq!(
        o.items[0].message.as_deref(),
        Some("last full backup 20261124-081200F at 2026-11-24 08:12:03Z")
    );
    assert_eq!(
        o.items[1].message.as_deref(),
        Some("last incr backup 20261124-081500F_20261125-020000I at 2026-11-25 02:00:02Z has errors (page checksums); backup running")
    );
    assert_eq!(
        o.errors,
        ["reports: status 2: no valid backups; repo1: no valid backups"]
    );
    assert_eq!(o.finished.unwrap().timestamp(), 1795507923);
    assert_eq!(o.started.unwrap().timestamp(), 1795507920);
    assert_eq!(o.bytes, Some(3_014_912 + 2048));
    // Half-written (the file has no trailing newline): wait.
    let bytes = fixture("pgbackrest", "info.json");
    let p = growing(Format::Pgbackrest, "/i/info.json", &bytes[..100]);
    assert_eq!((p.outcomes.len(), p.consumed), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// Robustness: every prefix of every fixture, and large inputs in linear time.

#[test]
fn prefixes_of_fixtures_never_panic() {
    type Fuzz = fn(&[u8]);
    let tools: [(&str, Fuzz); 4] = [
        ("vzdump", nagbridge::fuzzing::vzdump),
        ("bacula", nagbridge::fuzzing::bacula),
        ("xo", nagbridge::fuzzing::xo),
        ("pgbackrest", nagbridge::fuzzing::pgbackrest),
    ];
    for (tool, fuzz) in tools {
        let dir = format!("{}/tests/fixtures/{tool}", env!("CARGO_MANIFEST_DIR"));
        // The fixtures and the real corpus (`real/`).
        let mut paths: Vec<std::path::PathBuf> = Vec::new();
        for d in [dir.clone(), format!("{dir}/real")] {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            paths.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
        }
        for path in paths {
            let bytes = std::fs::read(path).unwrap();
            for cut in (0..bytes.len()).step_by(97) {
                fuzz(&bytes[..cut]);
            }
            fuzz(&bytes);
        }
    }
}

#[test]
fn large_inputs_are_linear() {
    let started = std::time::Instant::now();
    let mut log = String::new();
    for i in 0..20_000 {
        log.push_str(&format!(
            "INFO: Starting Backup of VM {i} (qemu)\nINFO: archive file size: 1.5GB\nERROR: Backup of VM {i} failed - x\n"
        ));
    }
    nagbridge::fuzzing::vzdump(log.as_bytes());
    let mut bac = String::new();
    for i in 0..20_000 {
        bac.push_str(&format!(
            "24-Nov 08:10 vm-fd JobId {i}: Error: boom\n  JobId: {i}\n  Termination: Backup OK\n"
        ));
    }
    nagbridge::fuzzing::bacula(bac.as_bytes());
    let mut pg = String::new();
    for _ in 0..20_000 {
        pg.push_str("P00  ERROR: [056]: x\n    more\n");
    }
    nagbridge::fuzzing::pgbackrest(pg.as_bytes());
    let mut xo = String::from("[");
    for i in 0..5_000 {
        xo.push_str(&format!(
            "{{\"jobId\":\"j\",\"status\":\"failure\",\"tasks\":[{{\"data\":{{\"type\":\"VM\",\"id\":\"{i}\"}},\"status\":\"failure\",\"result\":{{\"message\":\"m\"}}}}]}},"
        ));
    }
    xo.push_str("{}]");
    nagbridge::fuzzing::xo(xo.as_bytes());
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}
