//! The Nagios harness works: Debian's `send_nsca` -> Debian's `nsca` daemon -> real Nagios Core 4
//! (states, exact output, long output), freshness checks turn a silent passive service CRITICAL,
//! and `Nagios::verify` tells valid object files from invalid ones.
mod common;
use common::nagios::{Nagios, NAGIOS};
use common::*;
use std::time::{Duration, Instant};

const HOST: &str = "backup01";
const SVC: &str = "restic-nightly";

fn objects() -> String {
    format!(
        "define host {{\n  use generic-host\n  host_name {HOST}\n  address 127.0.0.1\n}}\n\
         define service {{\n  use generic-service\n  host_name {HOST}\n  service_description {SVC}\n}}\n"
    )
}

/// Send one send_nsca record (ETB-terminated) through the daemon; asserts send_nsca exit 0.
fn send(d: &NscaDaemon, record: &str) {
    let (rc, out, err) = run_send_nsca(
        "password=secret\nencryption_method=1\n",
        &["-H", "127.0.0.1", "-p", &d.port.to_string()],
        format!("{record}\x17").as_bytes(),
    );
    assert_eq!(rc, 0, "send_nsca: {out}{err}");
}

#[test]
fn send_nsca_through_nsca_daemon_sets_nagios_state() {
    if !have_peer(NAGIOS) || !have_peer(NSCA_DAEMON) || !have_peer(SEND_NSCA) {
        return;
    }
    let nagios = Nagios::start(&objects());
    let fresh = nagios
        .service_state(HOST, SVC)
        .expect("service in status.dat");
    assert!(!fresh.has_been_checked, "{fresh:#?}");
    let d = NscaDaemon::start_for(1, Some("secret"), &nagios.command_file());
    let t = Duration::from_secs(10);

    send(
        &d,
        &format!("{HOST}\t{SVC}\t2\tCRITICAL: restic exited 1: repository is locked|duration=12s"),
    );
    let s = nagios.wait_service(HOST, SVC, |s| s.current_state == 2, t);
    assert_eq!(
        s.plugin_output,
        "CRITICAL: restic exited 1: repository is locked"
    );
    assert_eq!(s.performance_data, "duration=12s");
    assert_eq!(s.long_plugin_output, "");
    assert_eq!((s.check_type, s.state_type, s.current_attempt), (1, 1, 1));
    assert!(s.has_been_checked && !s.is_flapping, "{s:#?}");

    send(
        &d,
        &format!("{HOST}\t{SVC}\t0\tOK: snapshot 4f2a9c1e saved, 3 files"),
    );
    let s = nagios.wait_service(HOST, SVC, |s| s.current_state == 0, t);
    assert_eq!(s.plugin_output, "OK: snapshot 4f2a9c1e saved, 3 files");
    assert_eq!(s.performance_data, "");

    // Raw newlines: nsca 2.10.2 escapes them (and `\`) in the command line, Nagios splits the
    // first line off as plugin_output and keeps the rest as long output (escaped in status.dat).
    let multi =
        "WARNING: 1 of 3 repos stale|age=90000s\nrepo a: ok\nrepo b: C:\\backup stale\nrepo c: ok";
    send(&d, &format!("{HOST}\t{SVC}\t1\t{multi}"));
    let s = nagios.wait_service(HOST, SVC, |s| s.current_state == 1, t);
    assert_eq!(s.plugin_output, "WARNING: 1 of 3 repos stale");
    assert_eq!(s.performance_data, "age=90000s");
    assert_eq!(
        s.long_plugin_output,
        "repo a: ok\\nrepo b: C:\\\\backup stale\\nrepo c: ok"
    );
    assert_eq!(
        s.long_output(),
        "repo a: ok\nrepo b: C:\\backup stale\nrepo c: ok"
    );

    // A host result (3 fields) reaches the host.
    send(&d, &format!("{HOST}\t1\tDOWN: backup target unreachable"));
    let h = nagios.wait_host(HOST, |h| h.current_state == 1, t);
    assert_eq!(h.plugin_output, "DOWN: backup target unreachable");
    assert_eq!((h.check_type, h.state_type), (1, 1));

    let log = nagios.log();
    assert!(
        log.contains(&format!(
            "SERVICE ALERT: {HOST};{SVC};CRITICAL;HARD;1;CRITICAL: restic exited 1: repository is locked"
        )),
        "{log}"
    );
}

#[test]
fn submit_writes_the_command_file_directly() {
    if !have_peer(NAGIOS) {
        return;
    }
    let nagios = Nagios::start(&objects());
    let ts = common::nagios::now() - 30;
    nagios.submit_at(
        ts,
        &format!("PROCESS_SERVICE_CHECK_RESULT;{HOST};{SVC};3;UNKNOWN: no repo\\nline \\\\2|x=1"),
    );
    let s = nagios.wait_service(HOST, SVC, |s| s.has_been_checked, Duration::from_secs(10));
    assert_eq!(s.current_state, 3);
    assert_eq!(s.plugin_output, "UNKNOWN: no repo");
    assert_eq!(s.long_output(), "line \\2");
    assert_eq!(s.performance_data, "x=1");
    // The passive check time is the command's [timestamp].
    assert_eq!(s.last_check, ts);
}

/// A passive service with `check_freshness`: without results, Nagios runs its `check_command`
/// itself once `freshness_threshold` seconds have passed since the last result.
#[test]
fn freshness_turns_silent_service_critical() {
    if !have_peer(NAGIOS) || !have_peer(NSCA_DAEMON) || !have_peer(SEND_NSCA) {
        return;
    }
    const THRESHOLD: i64 = 3;
    let objects = format!(
        "define command {{\n  command_name nagbridge-stale\n  \
         command_line /bin/sh -c 'printf \"CRITICAL: no result since %s\\\\n\" \"$LASTSERVICECHECK$\"\\; exit 2'\n}}\n\
         {}define service {{\n  use generic-service\n  host_name {HOST}\n  service_description stale-svc\n  \
         check_command nagbridge-stale\n  check_freshness 1\n  freshness_threshold {THRESHOLD}\n}}\n",
        objects()
    );
    let nagios = Nagios::start(&objects);
    let d = NscaDaemon::start_for(1, Some("secret"), &nagios.command_file());
    send(&d, &format!("{HOST}\tstale-svc\t0\tOK: backup done"));
    let ok = nagios.wait_service(
        HOST,
        "stale-svc",
        |s| s.has_been_checked,
        Duration::from_secs(10),
    );
    let seen_ok = Instant::now();
    assert_eq!((ok.current_state, ok.check_type), (0, 1));
    assert_eq!(ok.plugin_output, "OK: backup done");

    // Still OK within the threshold.
    while seen_ok.elapsed() < Duration::from_millis(1500) {
        let s = nagios.service_state(HOST, "stale-svc").unwrap();
        assert_eq!(s.current_state, 0, "stale too early: {s:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let s = nagios.wait_service(
        HOST,
        "stale-svc",
        |s| s.current_state == 2,
        Duration::from_secs(10),
    );
    assert_eq!(
        s.plugin_output,
        format!("CRITICAL: no result since {}", ok.last_check)
    );
    assert_eq!((s.check_type, s.state_type), (0, 1));
    assert!(
        s.last_check > ok.last_check + THRESHOLD,
        "freshness check at {} for a result at {}",
        s.last_check,
        ok.last_check
    );
    let log = nagios.log();
    assert!(
        log.contains(&format!(
            "Warning: The results of service 'stale-svc' on host '{HOST}' are stale by"
        )),
        "{log}"
    );

    // A new passive result makes it OK again.
    send(&d, &format!("{HOST}\tstale-svc\t0\tOK: backup done again"));
    let s = nagios.wait_service(
        HOST,
        "stale-svc",
        |s| s.current_state == 0,
        Duration::from_secs(10),
    );
    assert_eq!(s.plugin_output, "OK: backup done again");
    assert_eq!(s.check_type, 1);

    // The service without check_freshness was never checked by Nagios.
    let other = nagios.service_state(HOST, SVC).unwrap();
    assert!(!other.has_been_checked, "{other:#?}");
}

#[test]
fn verify_reports_invalid_objects() {
    if !have_peer(NAGIOS) {
        return;
    }
    assert_eq!(Nagios::verify(&objects()), Ok(()));
    assert_eq!(Nagios::verify_no_warnings(&objects()), Ok(()));

    let unknown_host = "define service {\n  use generic-service\n  host_name nosuchhost\n  \
                        service_description x\n}\n";
    let err = Nagios::verify(unknown_host).unwrap_err();
    assert!(
        err.contains("Error: Could not find any host matching 'nosuchhost'"),
        "{err}"
    );

    // A warning only: a service whose notification interval is shorter than its check interval.
    let warn = format!(
        "{}define service {{\n  use generic-service\n  host_name {HOST}\n  \
         service_description w\n  notification_interval 1\n}}\n",
        objects()
    );
    assert_eq!(Nagios::verify(&warn), Ok(()));
    let err = Nagios::verify_no_warnings(&warn).unwrap_err();
    assert!(
        err.contains("notification interval less than its check interval"),
        "{err}"
    );
}
