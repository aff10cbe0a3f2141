//! Unit tests of the XO parser: hostile numbers, cut logs, pending runs, text shapes.

use super::*;
use crate::formats::test_support::{job, looks, single};

#[test]
fn hostile_numbers() {
    let body = br#"{"jobId":"j","jobName":"n","status":"success","start":-9223372036854775808,"end":9223372036854775807,"tasks":[{"data":{"type":"VM","id":"a"},"status":"success","tasks":[{"message":"transfer","status":"success","result":{"size":18446744073709551615}},{"message":"transfer","status":"success","result":{"size":18446744073709551615}}]},{"data":{"type":"VM","id":"b"},"status":"success","start":1e308,"end":-1e308,"tasks":[{"message":"transfer","status":"success","result":{"size":1e308}}]}]}"#;
    let o = single(Format::Xo, "/x.json", body, None, &job("x"));
    assert_eq!(o.status, Status::Success);
    assert_eq!(o.bytes, Some(u64::MAX));
    assert_eq!((o.started, o.finished, o.duration_s), (None, None, None));
    let body = br#"{"jobId":"j","status":"failure","start":"99999999999999999999","end":3000000000000000}"#;
    let o = single(Format::Xo, "/x.json", body, None, &job("x"));
    assert_eq!((o.started, o.finished), (None, None));
    // Cut logs with hostile numbers.
    let cut =
        br#"{"jobId":"j","status":"failure","start":99999999999999999999999,"end":-1,"tasks":[{"#;
    let o = single(Format::Xo, "/x.json", cut, None, &job("x"));
    assert_eq!(
        (o.status, o.started, o.finished),
        (Status::Failure, None, None)
    );
}

#[test]
fn cut_log_reads_the_root() {
    let cut = b"{\n  \"jobId\": \"j1\",\n  \"jobName\": \"nightly\",\n  \"status\": \"failure\",\n  \"start\": 1698410552375,\n  \"tasks\": [\n    {\n      \"status\": \"success\",\n      \"result\": {\n        \"code\": \"MESSAGE_METHOD_UNKNOWN\",\n        \"params\": [\n          \"OpaqueRef:8";
    let o = single(Format::Xo, "/x.json", cut, None, &job("x"));
    assert_eq!((o.job.as_str(), o.status), ("nightly", Status::Failure));
    assert!(o.summary.unwrap().contains("log cut before its end"));
    // Cut before the status: unknown.
    let o = single(
        Format::Xo,
        "/x.json",
        b"{\"jobId\": \"j1\", \"sta",
        None,
        &job("x"),
    );
    assert_eq!(o.status, Status::Unknown);
}

#[test]
fn only_pending_runs_are_unknown_once() {
    let body = br#"[{"jobId":"j","jobName":"n","status":"pending","start":1,"tasks":[]}]"#;
    let o = single(Format::Xo, "/x.json", body, None, &job("x"));
    assert_eq!((o.job.as_str(), o.status), ("n", Status::Unknown));
    assert!(o.summary.unwrap().contains("pending"));
}

#[test]
fn backup_report_markdown() {
    let md = "\
[Xen Orchestra] Failure − Backup report for nightly-vms
## Global status: failure 🚨

- **Job ID**: 53015352-3016-4d46-9e0f-d256b2a2723f
- **Run ID**: 1635906129824
- **Mode**: delta
- **Start time**: Wednesday, November 3rd 2021, 3:22:09 am
- **Successes**: 1 / 2

---

## 1 Failure

### db01

- **UUID**: f16b791e-554f-9916-22c1-fb99840a553b
- **Error**: all targets have failed, step: writer.beforeBackup()

## 1 Success

### web01

- **UUID**: 7c238b30-0d55-6c68-fdba-95a18e35eaba
";
    assert!(looks(looks_like, md.as_bytes()));
    let o = single(Format::Xo, "/r.txt", md.as_bytes(), None, &job("x"));
    assert_eq!((o.job.as_str(), o.status), ("nightly-vms", Status::Failure));
    assert_eq!(
        o.errors,
        ["db01: all targets have failed, step: writer.beforeBackup()"]
    );
    let items: Vec<_> = o
        .items
        .iter()
        .map(|i| (i.name.as_str(), i.status))
        .collect();
    assert_eq!(
        items,
        [("db01", Status::Failure), ("web01", Status::Success)]
    );
    let ok = md
        .replace("failure 🚨", "success")
        .replace("1 / 2", "2 / 2");
    let ok = ok.replace(
        "- **Error**: all targets have failed, step: writer.beforeBackup()\n",
        "",
    );
    assert_eq!(
        single(Format::Xo, "/r.txt", ok.as_bytes(), None, &job("x")).status,
        Status::Success
    );
    let skipped = "Global status: skipped\nmode: delta\n";
    assert_eq!(
        single(Format::Xo, "/r.txt", skipped.as_bytes(), None, &job("x")).status,
        Status::Warning
    );
}

#[test]
fn fragments_of_reports_and_logs() {
    // Steps of a report without its header.
    let steps =
        "transfer \u{2714}\n    Start time: Sunday\n    End time: Sunday\n\nmerge \u{1F6A8}\n    \
                 Start time: Sunday\n    Error: operation timed out\n";
    let o = single(Format::Xo, "/r.txt", steps.as_bytes(), None, &job("x"));
    assert_eq!(o.status, Status::Failure);
    assert!(looks(looks_like, steps.as_bytes()));
    let ok = "snapshot \u{2714}\nStart time: a\ntransfer \u{2714}\nStart time: b\n";
    let o = single(Format::Xo, "/r.txt", ok.as_bytes(), None, &job("x"));
    assert_eq!(o.status, Status::Success);
    // A call log after the user's own lines; a XAPI error's `code`, not a nested `status`.
    let call =
        "LOGS for failed backup\n/snip\nbackupNg.importVmBackup\n{\n  \"sr\": \"a\"\n}\n{\n  \
                \"code\": \"VDI_IO_ERROR\",\n  \"task\": {\n    \"message\": \"nested\",\n";
    let o = single(Format::Xo, "/r.txt", call.as_bytes(), None, &job("x"));
    assert_eq!(
        (o.status, o.errors[0].as_str()),
        (Status::Failure, "VDI_IO_ERROR")
    );
    // A row of the logs view, and a task's `result` pasted alone.
    let row = "admin@x | VDI_IO_ERROR(Device I/O errors)This is a XenServer/XCP-ng error\n";
    let o = single(Format::Xo, "/r.txt", row.as_bytes(), None, &job("x"));
    assert_eq!(o.status, Status::Failure);
    let result =
        "\"result\": {\n  \"message\": \"VDI must be free\",\n  \"stack\": \"AssertionError \
                  at (/opt/xo/@xen-orchestra/backups/x.mjs:1:1)\"\n";
    let o = single(Format::Xo, "/r.txt", result.as_bytes(), None, &job("x"));
    assert_eq!(
        (o.status, o.errors[0].as_str()),
        (Status::Failure, "VDI must be free")
    );
    assert!(!looks(
        looks_like,
        b"\"result\": {\n  \"stack\": \"at foo\"\n"
    ));
}

#[test]
fn text_detection_is_specific() {
    for other in [
        "INFO: starting new backup job: vzdump 100\nINFO: Finished Backup of VM 100 (00:00:10)\n",
        "status: ok\nStart: yesterday\n",
        "Snapshot\n",
        "vm.rollingBackup\nnot json\n",
        "2026-11-24 08:12:03.676 P00   INFO: backup command begin 2.45: --stanza=demo\n",
        "",
    ] {
        assert!(!looks(looks_like, other.as_bytes()), "{other:?}");
    }
    let o = single(Format::Xo, "/x.txt", b"hello", None, &job("x"));
    assert_eq!(o.status, Status::Unknown);
}

#[test]
fn call_logs_server_log_lines_and_task_fragments() {
    let all = |body: &str| {
        crate::formats::test_support::parse_as(
            Format::Xo,
            &crate::formats::FileMeta::for_path("/x.txt"),
            body.as_bytes(),
            None,
            &job("x"),
            true,
        )
        .outcomes
    };
    // Two failed calls of XO's logs view, user text between them; the second error object cut.
    let body = "remote.test\n{\n  \"id\": \"r1\"\n}\n{\n  \"errno\": -112,\n  \"code\": \"EHOSTDOWN\",\n  \"message\": \"EHOSTDOWN: host is down\",\n  \"name\": \"Error\"\n}\n\nremote(same LAN) SR\n\nsr.scan\n{\n  \"id\": \"s1\"\n}\n{\n  \"code";
    let o = all(body);
    assert_eq!(
        o.iter().map(|o| o.status).collect::<Vec<_>>(),
        [Status::Failure, Status::Failure]
    );
    assert_eq!(o[0].errors, ["EHOSTDOWN: host is down"]);
    assert!(looks(looks_like, body.as_bytes()));
    // A call whose log shows no error block stays unknown.
    let o = all("sr.scan\n{\n  \"id\": \"s1\"\n}\n");
    assert_eq!(o[0].status, Status::Unknown);
    // An XO proxy's log lines in syslog: a VM backup failure fails the run.
    let body = "Jul 17 12:40:09 proxy01: 2020-07-17T10:40:09.778Z xo:proxy:backups:Backup WARN VM backup failure {\nJul 17 12:40:09 proxy01:   error: Error: connect ETIMEDOUT 192.168.1.2:443\n";
    let o = all(body);
    assert_eq!(o[0].status, Status::Failure);
    assert!(o[0].summary.as_deref().unwrap().contains("ETIMEDOUT"));
    assert!(looks(looks_like, body.as_bytes()));
    // Other xo-server lines are no backup log.
    assert!(!looks(
        looks_like,
        b"Jun 14 04:41:53 xoce xo-server[576]: 2022-06-14T04:41:53.070Z xo:main INFO - Console proxy\n"
    ));
    // One VM task of a log pasted alone, cut: its status.
    let body = "    {\n      \"data\": {\n        \"type\": \"VM\",\n        \"id\": \"a\"\n      },\n      \"message\": \"backup VM\",\n      \"start\": 1725806118787,\n      \"status\": \"failure\",\n      \"result\": {\n        \"code\": \"ELOCKED\",";
    assert!(looks(looks_like, body.as_bytes()));
    assert_eq!(all(body)[0].status, Status::Failure);
}
