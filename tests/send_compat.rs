//! `nagbridge send` against Debian's `send_nsca` 2.10.2: the same stdin, arguments and config go
//! to both, each against the real `nsca` daemon, and the command-file lines, exit codes and
//! stdout must be identical. Known, deliberate differences have their own tests at the end.
mod common;
use common::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_nagbridge");
const PASSWORD: &str = "secret";

#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: i32,
    stdout: String,
    lines: Vec<String>,
}

/// Run `program prefix.. args.. -c cfg` with `stdin` (write errors ignored: a client may exit
/// before reading everything); returns (exit code, stdout, stderr).
fn run(
    program: &str,
    prefix: &[&str],
    cfg: &str,
    args: &[&str],
    stdin: &[u8],
) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("send_nsca.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mut child = Command::new(program)
        .args(prefix)
        .args(args)
        .arg("-c")
        .arg(&cfg_path)
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Lines written since `from`, up to a sentinel result sent with a known-good send_nsca (the
/// daemon runs --single, so everything before the sentinel has been written when it appears).
fn lines_until_sentinel(d: &NscaDaemon, method: u8, from: usize, tag: &str) -> Vec<String> {
    let cfg = format!("password={PASSWORD}\nencryption_method={method}\n");
    // The sentinel is only a barrier: send_nsca's own 10 s alarm can fire on a loaded machine
    // while the single-threaded daemon is still busy, so a timed-out sentinel is sent again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (rc, _, err) = run_send_nsca(
            &cfg,
            &["-H", "127.0.0.1", "-p", &d.port.to_string()],
            format!("sentinel\t0\t{tag}").as_bytes(),
        );
        if rc == 0 {
            break;
        }
        assert!(
            attempts < 3 && err.contains("Timeout"),
            "sentinel (attempt {attempts}): {err}"
        );
    }
    let want = format!("PROCESS_HOST_CHECK_RESULT;sentinel;0;{tag}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let lines = d.lines();
        if let Some(i) = lines.iter().position(|l| *l == want) {
            return lines[from..i].to_vec();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sentinel {tag} never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Send `stdin` with both clients (each against the same fresh daemon, one after the other).
fn both(cfg: &str, args: &[&str], stdin: &[u8]) -> Option<(Run, Run, String)> {
    both_with(1, cfg, args, stdin)
}

fn both_with(method: u8, cfg: &str, args: &[&str], stdin: &[u8]) -> Option<(Run, Run, String)> {
    if !have_peer(NSCA_DAEMON) || !have_peer(SEND_NSCA) {
        return None;
    }
    let d = NscaDaemon::start(method, Some(PASSWORD));
    let port = d.port.to_string();
    let mut full: Vec<&str> = vec!["-H", "127.0.0.1", "-p", &port];
    full.extend_from_slice(args);
    let (code, stdout, _) = run(SEND_NSCA, &[], cfg, &full, stdin);
    let theirs = Run {
        code,
        stdout,
        lines: lines_until_sentinel(&d, method, 0, "theirs"),
    };
    let from = d.lines().len();
    let (code, stdout, stderr) = run(BIN, &["send"], cfg, &full, stdin);
    let ours = Run {
        code,
        stdout,
        lines: lines_until_sentinel(&d, method, from, "ours"),
    };
    Some((theirs, ours, stderr))
}

fn same(cfg: &str, args: &[&str], stdin: &[u8]) -> Option<Run> {
    let (theirs, ours, stderr) = both(cfg, args, stdin)?;
    assert_eq!(
        ours, theirs,
        "nagbridge send differs from send_nsca; our stderr: {stderr}"
    );
    Some(ours)
}

fn cfg() -> String {
    format!("password={PASSWORD}\nencryption_method=1\n")
}

#[test]
fn etb_separated_service_and_host_checks() {
    let r = same(
        &cfg(),
        &[],
        b"h1\tsvc\t2\thello\x17h1\t0\tup\n\x17h2\tdisk\t1\tWARNING: 91%\n",
    );
    if let Some(r) = r {
        assert_eq!(r.lines.len(), 3, "{r:?}");
        assert_eq!(r.code, 0);
    }
}

#[test]
fn space_delimiter() {
    same(
        &cfg(),
        &["-d", " "],
        b"web01 backup 2 CRITICAL: disk full\x17a b  c d  e\x17h 0 up",
    );
}

#[test]
fn comma_delimiter() {
    same(
        &cfg(),
        &["-d", ","],
        b"h,s,0,\x17h2,,s2,,1,,out,x\x17h3,0,fine, really",
    );
}

#[test]
fn one_result_per_line_with_ds_0x0a() {
    same(
        &cfg(),
        &["-ds", "0x0a"],
        b"h\ts\t1\tone\r\nh\t0\ttwo\n\nh3\tx\nh4\tsvc\t3\tfour\n",
    );
}

#[test]
fn hex_and_octal_delimiters() {
    same(
        &cfg(),
        &["-d", "0x3b", "-ds", "012"],
        b"h;s;0;semi;colon\nh;1;host\n",
    );
}

#[test]
fn empty_records_and_fewer_than_three_fields_are_skipped() {
    same(&cfg(), &[], b"\x17\x17a\tb\x17   \x17\t\t\x17h3\t1\tup\x17");
}

#[test]
fn nothing_valid_exits_2() {
    let r = same(&cfg(), &[], b"a\tb\x17\x17");
    if let Some(r) = r {
        assert_eq!(r.code, 2);
    }
    same(&cfg(), &["--quiet"], b"");
}

#[test]
fn quiet_prints_nothing_on_success() {
    if let Some(r) = same(&cfg(), &["--quiet"], b"h\t0\tx") {
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn runs_of_delimiters_collapse() {
    same(
        &cfg(),
        &[],
        b"\th2\t\tsvc2\t\t3x\tout\twith\ttabs\x17h\t\t\t0\t\tx",
    );
}

#[test]
fn leading_and_trailing_whitespace() {
    same(
        &cfg(),
        &[],
        b"  h1\tsvc\t2\t  hello  \n\t \r\x17 \th3\ts\t0\tok3\x17h4\t0\tend \t\r\n",
    );
}

#[test]
fn over_long_ascii_fields_are_cut_like_send_nsca() {
    let mut input = Vec::new();
    input.extend(std::iter::repeat_n(b'h', 100));
    input.push(b'\t');
    input.extend(std::iter::repeat_n(b's', 200));
    input.extend_from_slice(b"\t2\t");
    input.extend(std::iter::repeat_n(b'o', 4500));
    if let Some(r) = same(&cfg(), &[], &input) {
        assert_eq!(r.lines.len(), 1);
        assert!(r.lines[0].contains(&format!(";{};", "h".repeat(63))));
    }
}

#[test]
fn multi_line_output_without_etb() {
    same(
        &cfg(),
        &[],
        b"h\ts\t1\tline1\nline2 with \\ backslash\nline3\n",
    );
}

#[test]
fn return_codes_are_atoi_cut_to_16_bits() {
    same(
        &cfg(),
        &[],
        b"h\t65537\tx\x17h\t-1\tx\x17h\t99999999999\tx\x17h\tabc\tx\x17h\ts\t 3x\tx",
    );
}

#[test]
fn utf8_fields() {
    same(
        &cfg(),
        &[],
        "hôst\tsérvice ✓\t0\tünïcödé output — 100 %\x17hôst\t1\tdown ⚠".as_bytes(),
    );
}

#[test]
fn nul_bytes_end_a_record() {
    same(
        &cfg(),
        &[],
        b"h\ts\t0\tbefore\x00after\x17h2\x00x\t0\tout\x17\x00h3\t0\tx",
    );
}

#[test]
fn set_delimiter_above_0x7f_never_matches() {
    same(&cfg(), &["-ds", "0xff"], b"a\tb\tc\x17x\ty\tz");
}

#[test]
fn record_longer_than_5119_bytes_exits_255_after_sending_the_earlier_ones() {
    let mut input = b"a\t0\tfirst\x17h\ts\t0\t".to_vec();
    input.resize(10 + 5120, b'x');
    input.extend_from_slice(b"\x17b\t0\tafter");
    if let Some(r) = same(&cfg(), &[], &input) {
        assert_eq!(r.code, 255);
        assert_eq!(r.lines, ["PROCESS_HOST_CHECK_RESULT;a;0;first"]);
    }
}

#[test]
fn crlf_config_sends_but_nothing_arrives() {
    // send_nsca keeps the \r in the password: every packet fails the server's CRC check, and
    // both clients still report success (NSCA never acknowledges). Ours also warns.
    let cfg = format!("password={PASSWORD}\r\nencryption_method=1\r\n");
    let Some((theirs, ours, stderr)) = both(&cfg, &[], b"h\t0\tx") else {
        return;
    };
    assert_eq!(ours, theirs);
    assert_eq!(ours.code, 0);
    assert!(ours.lines.is_empty(), "{ours:?}");
    assert!(stderr.contains("carriage return"), "{stderr}");
}

#[test]
fn legacy_mode_single_result() {
    same(&cfg(), &["--legacy-2-7-mode"], b"h\ts\t1\tlegacy");
}

#[test]
fn real_ciphers() {
    for method in [3u8, 8, 14] {
        let cfg = format!("password={PASSWORD}\nencryption_method={method}\n");
        let Some((theirs, ours, stderr)) =
            both_with(method, &cfg, &[], b"h\ts\t2\tone\x17h\t0\ttwo")
        else {
            return;
        };
        assert_eq!(ours, theirs, "method {method}: {stderr}");
        assert_eq!(ours.lines.len(), 2, "method {method}: {stderr}");
    }
}

// ---- our extra options, against the real daemon ----

#[test]
fn password_file_and_encryption_override_the_config() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    let d = NscaDaemon::start(14, Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let (code, out, err) = run(
        BIN,
        &["send"],
        "password=wrong\nencryption_method=1\n",
        &[
            "-H",
            "127.0.0.1",
            "-p",
            &d.port.to_string(),
            "--encryption",
            "aes256",
            "--password-file",
            pw.to_str().unwrap(),
        ],
        b"h\ts\t0\tvia password file",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        d.wait_lines(1, Duration::from_secs(5)),
        ["PROCESS_SERVICE_CHECK_RESULT;h;s;0;via password file"]
    );
}

#[test]
fn server_escapes_no_escapes_on_the_client() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    // The 2.10.2 daemon escapes too, so the client's backslash is doubled: proof that the
    // client escaped the newline.
    let d = NscaDaemon::start(1, Some(PASSWORD));
    let (code, _, err) = run(
        BIN,
        &["send"],
        &cfg(),
        &[
            "-H",
            "127.0.0.1",
            "-p",
            &d.port.to_string(),
            "--server-escapes",
            "no",
        ],
        b"h\ts\t0\tl1\nl2",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        d.wait_lines(1, Duration::from_secs(5)),
        ["PROCESS_SERVICE_CHECK_RESULT;h;s;0;l1\\\\nl2"]
    );
}

#[test]
fn symlink_named_send_nsca_sends() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    let d = NscaDaemon::start(1, Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("send_nsca");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let (code, out, err) = run(
        link.to_str().unwrap(),
        &[],
        &cfg(),
        &["-H", "127.0.0.1", "-p", &d.port.to_string()],
        b"h\ts\t0\tvia symlink",
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "1 data packet(s) sent to host successfully.\n"),
        "{err}"
    );
    assert_eq!(
        d.wait_lines(1, Duration::from_secs(5)),
        ["PROCESS_SERVICE_CHECK_RESULT;h;s;0;via symlink"]
    );
}

/// Run `program prefix.. args..` without -c in `cwd`; returns (exit code, stdout, stderr).
fn run_without_c(
    program: &Path,
    prefix: &[&str],
    cwd: &Path,
    args: &[&str],
    stdin: &[u8],
) -> (i32, String, String) {
    let mut child = Command::new(program)
        .args(prefix)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Regression (issue 8): without -c, Debian's send_nsca, `nagbridge send` and nagbridge linked
/// as `send_nsca` all read /etc/send_nsca.cfg (not ./send_nsca.cfg: a decoy there with the
/// wrong password would make the daemon drop the packet), deliver the same line, and all exit 2
/// naming /etc/send_nsca.cfg when it is missing. Replaces /etc/send_nsca.cfg while it runs
/// (root only; restored afterwards).
#[test]
fn without_c_both_read_etc_send_nsca_cfg() {
    if !have_peer(NSCA_DAEMON) || !have_peer(SEND_NSCA) {
        return;
    }
    let Some(etc) = SystemFile::take("/etc/send_nsca.cfg") else {
        return;
    };
    let d = NscaDaemon::start(1, Some(PASSWORD));
    let port = d.port.to_string();
    let args = ["-H", "127.0.0.1", "-p", port.as_str()];
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("send_nsca.cfg"),
        "password=the-wrong-one\nencryption_method=1\n",
    )
    .unwrap();
    let link = cwd.path().join("send_nsca");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let clients: [(&str, &Path, &[&str]); 3] = [
        ("send_nsca", Path::new(SEND_NSCA), &[]),
        ("nagbridge send", Path::new(BIN), &["send"]),
        ("nagbridge as send_nsca", &link, &[]),
    ];

    etc.write(&cfg());
    for (i, (name, program, prefix)) in clients.iter().enumerate() {
        let from = d.lines().len();
        let (code, stdout, stderr) = run_without_c(
            program,
            prefix,
            cwd.path(),
            &args,
            b"backup01\tbackup nightly\t0\tOK: read /etc/send_nsca.cfg",
        );
        assert_eq!(
            (code, stdout.as_str()),
            (0, "1 data packet(s) sent to host successfully.\n"),
            "{name}: {stderr}"
        );
        assert_eq!(
            lines_until_sentinel(&d, 1, from, &format!("etc-{i}")),
            ["PROCESS_SERVICE_CHECK_RESULT;backup01;backup nightly;0;OK: read /etc/send_nsca.cfg"],
            "{name}"
        );
    }

    etc.remove();
    for (name, program, prefix) in clients {
        let (code, stdout, stderr) = run_without_c(program, prefix, cwd.path(), &args, b"h\t0\tx");
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains("Could not open config file '/etc/send_nsca.cfg' for reading.")
                || said.contains(
                    "could not open config file '/etc/send_nsca.cfg' (the default: no -c \
                     given) for reading: No such file or directory"
                ),
            "{name}: {said}"
        );
        assert!(!said.contains("current directory"), "{name}: {said}");
    }
}

// ---- deliberate differences ----

#[test]
fn difference_utf8_fields_are_cut_at_a_character_boundary() {
    // send_nsca cuts the 80-byte host at byte 63, in the middle of an 'é'; we cut at 62.
    let host = "é".repeat(40);
    let input = format!("{host}\ts\t0\tx");
    let Some((theirs, ours, _)) = both(&cfg(), &[], input.as_bytes()) else {
        return;
    };
    assert_eq!((ours.code, &ours.stdout), (theirs.code, &theirs.stdout));
    let cut = "é".repeat(31);
    assert_eq!(
        ours.lines,
        [format!("PROCESS_SERVICE_CHECK_RESULT;{cut};s;0;x")]
    );
    assert_eq!(
        theirs.lines,
        [format!("PROCESS_SERVICE_CHECK_RESULT;{cut}\u{fffd};s;0;x")]
    );
}

#[test]
fn difference_semicolon_in_host_is_skipped_not_injected() {
    let Some((theirs, ours, stderr)) = both(&cfg(), &[], b"h;x\ts\t0\tinjected\x17h\ts\t0\tok")
    else {
        return;
    };
    assert_eq!(
        theirs.lines[0],
        "PROCESS_SERVICE_CHECK_RESULT;h;x;s;0;injected"
    );
    assert_eq!(ours.lines, ["PROCESS_SERVICE_CHECK_RESULT;h;s;0;ok"]);
    assert_eq!(ours.stdout, "1 data packet(s) sent to host successfully.\n");
    assert!(stderr.contains("skipped result 1"), "{stderr}");
}

#[test]
fn difference_line_break_after_the_set_delimiter_is_not_part_of_the_host() {
    // send_nsca sends "\nh2" and the daemon cuts the host at the newline: an empty host name.
    let Some((theirs, ours, _)) = both(&cfg(), &[], b"h1\ts\t0\tok\n\x17\nh2\ts\t0\tok2\n") else {
        return;
    };
    assert_eq!(theirs.lines[1], "PROCESS_SERVICE_CHECK_RESULT;;s;0;ok2");
    assert_eq!(ours.lines[1], "PROCESS_SERVICE_CHECK_RESULT;h2;s;0;ok2");
    assert_eq!((ours.code, &ours.stdout), (theirs.code, &theirs.stdout));
}

#[test]
fn difference_legacy_mode_delivers_several_results() {
    // send_nsca puts both 720-byte packets on one connection; the 2.10 daemon then loses both.
    let Some((theirs, ours, _)) = both(&cfg(), &["--legacy-2-7-mode"], b"h\t0\tone\x17h\t0\ttwo")
    else {
        return;
    };
    assert!(theirs.lines.is_empty(), "{theirs:?}");
    assert_eq!(ours.lines.len(), 2, "{ours:?}");
    assert_eq!((ours.code, &ours.stdout), (theirs.code, &theirs.stdout));
}
