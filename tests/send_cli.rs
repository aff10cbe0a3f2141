//! `nagbridge send` as a process: argument errors, help, exit codes, config warnings, a missing
//! config, the global -to deadline and send errors. Servers here are plain std sockets on
//! 127.0.0.1 (the real daemon is used in `send_compat.rs`).
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nagbridge");

struct Out {
    code: i32,
    /// From spawn to exit.
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

/// Run `nagbridge send args` in `cwd` with `stdin`; a `delay` before stdin is written.
fn run_in(cwd: &Path, args: &[&str], stdin: &[u8], delay: Duration) -> Out {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .arg("send")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(delay);
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    let elapsed = start.elapsed();
    let _ = writer.join();
    Out {
        elapsed,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str], stdin: &[u8]) -> Out {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args, stdin, Duration::ZERO)
}

fn cfg_file(dir: &Path, text: &str) -> String {
    let p = dir.join("send_nsca.cfg");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A port on 127.0.0.1 nobody listens on.
fn closed_port() -> String {
    common::free_port().to_string()
}

#[test]
fn no_arguments_prints_help_and_exits_3() {
    let o = run(&[], b"");
    assert_eq!(o.code, 3);
    assert!(o.stdout.contains("Usage: nagbridge send"), "{}", o.stdout);
}

#[test]
fn help_documents_options_input_config_and_exit_codes() {
    for flag in ["-h", "--help"] {
        let o = run(&[flag], b"");
        assert_eq!(o.code, 3, "send_nsca exits 3 after --help");
        for needle in [
            "-to <to_sec>",
            "-ds <set_delim>",
            "--legacy-2-7-mode",
            "--encryption",
            "--password-file",
            "--server-escapes",
            "-ds 0x0a",
            "<host>[tab]<return code>[tab]<plugin output>",
            "\\x17",
            "encryption_method",
            "255",
            "Migrating from send_nsca",
        ] {
            assert!(o.stdout.contains(needle), "help lacks {needle:?}");
        }
    }
}

#[test]
fn version_exits_3() {
    let o = run(&["-V"], b"");
    assert_eq!(o.code, 3);
    assert!(o.stdout.contains("nagbridge send"));
}

#[test]
fn bad_arguments_exit_3_with_a_hint() {
    for args in [
        &["-H", "127.0.0.1", "-to", "0"][..],
        &["-H", "127.0.0.1", "-to", "-1"],
        &["-H", "127.0.0.1", "-d"],
        &["-H", "127.0.0.1", "--bogus"],
        &["-p", "5667"],
        &[
            "-H",
            "127.0.0.1",
            "--encryption",
            "rot13",
            "-c",
            "/dev/null",
        ],
    ] {
        let o = run(args, b"");
        assert_eq!(o.code, 3, "{args:?}: {}", o.stderr);
        assert!(!o.stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn unreadable_config_names_the_path_tried_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let o = run_in(
        &cwd,
        &["-H", "127.0.0.1", "-c", "nosuch.cfg"],
        b"h\t0\tx",
        Duration::ZERO,
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains(&format!(
            "could not open config file 'nosuch.cfg' (in the current directory {}) for reading: \
             No such file or directory",
            cwd.display()
        )) && o.stderr.contains("check the path given to -c"),
        "{}",
        o.stderr
    );
    let o = run(&["-H", "127.0.0.1", "-c", "/"], b"h\t0\tx");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("could not open config file '/' for reading: Is a directory"),
        "{}",
        o.stderr
    );
}

/// Regression (issue 8): the default is /etc/send_nsca.cfg, as Debian builds send_nsca, not
/// `send_nsca.cfg` in the current directory. (tests/send_compat.rs runs both clients without
/// -c against a /etc/send_nsca.cfg it writes, as root.)
#[test]
fn default_config_is_etc_send_nsca_cfg_not_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    cfg_file(dir.path(), "bogus=1\n");
    let o = run_in(
        dir.path(),
        &["-H", "127.0.0.1", "-p", &closed_port()],
        b"h\t0\tx",
        Duration::ZERO,
    );
    assert_eq!(o.code, 2);
    assert!(!o.stderr.contains("bogus"), "{}", o.stderr);
    if !Path::new("/etc/send_nsca.cfg").exists() {
        assert!(
            o.stderr.contains(
                "could not open config file '/etc/send_nsca.cfg' (the default: no -c given) \
                 for reading: No such file or directory"
            ) && o.stderr.contains("as Debian's send_nsca does"),
            "{}",
            o.stderr
        );
    }
}

#[test]
fn config_errors_exit_2() {
    for (text, needle) in [
        ("password=\n", "empty password"),
        ("encryption_method=13\n", "invalid encryption_method 13"),
        ("encryption_method=7\n", "3way"),
        ("password=x\r\n\r\n", "blank line"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg_file(dir.path(), text);
        let o = run(&["-H", "127.0.0.1", "-p", &closed_port(), "-c", &c], b"");
        assert_eq!(o.code, 2, "{text:?}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{text:?}: {}", o.stderr);
    }
}

#[test]
fn config_warnings_never_show_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg_file(dir.path(), "password = hunter2 \r\nencryption_method=1\r\n");
    let o = run(&["-H", "127.0.0.1", "-p", &closed_port(), "-c", &c], b"");
    assert_eq!(o.code, 2, "nobody listens: {}", o.stderr);
    assert!(o.stderr.contains("warning:"), "{}", o.stderr);
    assert!(o.stderr.contains("starts with whitespace"), "{}", o.stderr);
    assert!(o.stderr.contains("carriage return"), "{}", o.stderr);
    assert!(!o.stderr.contains("hunter2") && !o.stdout.contains("hunter2"));
}

#[test]
fn connection_refused_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg_file(dir.path(), "password=x\n");
    let o = run(
        &["-H", "127.0.0.1", "-p", &closed_port(), "-c", &c],
        b"h\t0\tx",
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("could not connect"), "{}", o.stderr);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
}

/// A server that accepts one connection and runs `f` on it.
fn fake_server(f: impl FnOnce(std::net::TcpStream) + Send + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            f(s);
        }
    });
    port.to_string()
}

#[test]
fn timeout_covers_the_init_packet() {
    let port = fake_server(|s| {
        std::thread::sleep(Duration::from_secs(5));
        drop(s);
    });
    let dir = tempfile::tempdir().unwrap();
    let c = cfg_file(dir.path(), "password=x\n");
    let o = run(
        &["-H", "127.0.0.1", "-p", &port, "-to", "1", "-c", &c],
        b"h\t0\tx",
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("Error: Timeout after 1 seconds"),
        "{}",
        o.stderr
    );
    assert!(o.elapsed < Duration::from_secs(4), "{:?}", o.elapsed);
}

#[test]
fn timeout_covers_reading_stdin() {
    // The server sends its init packet; stdin arrives after the deadline (send_nsca's alarm()
    // covers reading stdin too).
    let port = fake_server(|mut s| {
        s.write_all(&[0u8; 132]).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    let dir = tempfile::tempdir().unwrap();
    let c = cfg_file(dir.path(), "password=x\n");
    let o = run_in(
        dir.path(),
        &["-H", "127.0.0.1", "-p", &port, "-to", "1", "-c", &c],
        b"h\t0\tx",
        Duration::from_secs(3),
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("Timeout after 1 seconds"), "{}", o.stderr);
    assert!(o.elapsed < Duration::from_millis(2900), "{:?}", o.elapsed);
}

#[test]
fn server_closing_after_init_is_a_send_error_exit_3() {
    let port = fake_server(|mut s| {
        s.write_all(&[0u8; 132]).unwrap();
        drop(s);
    });
    let dir = tempfile::tempdir().unwrap();
    let c = cfg_file(dir.path(), "password=x\n");
    let o = run_in(
        dir.path(),
        &["-H", "127.0.0.1", "-p", &port, "-c", &c],
        b"h\t0\tx\x17h\t0\ty",
        Duration::from_millis(300),
    );
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("Could not send data to host"),
        "{}",
        o.stderr
    );
}

#[test]
fn nothing_to_send_exits_2_and_says_so_even_when_quiet() {
    let port = fake_server(|mut s| {
        s.write_all(&[0u8; 132]).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    let dir = tempfile::tempdir().unwrap();
    let c = cfg_file(dir.path(), "password=x\n");
    let o = run(
        &["-H", "127.0.0.1", "-p", &port, "-c", &c, "--quiet"],
        b"only\ttwo\x17\x17",
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert_eq!(o.stdout, "0 data packet(s) sent to host successfully.\n");
}

#[test]
fn symlink_named_send_nsca_behaves_as_send() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("send_nsca");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let o = Command::new(&link).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage: nagbridge send"));
    let o = Command::new(&link)
        .args(["-H", "127.0.0.1", "-to", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}
