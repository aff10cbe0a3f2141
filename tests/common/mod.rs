//! Test harness shared by the integration tests: starts real peers (Debian's `nsca` daemon and
//! `send_nsca`) on free loopback ports in temp dirs, and stops them by process id on drop.
#![allow(dead_code)]

pub mod http_double;
pub mod icinga2;
pub mod nagios;
pub mod tool_run;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NSCA_DAEMON: &str = "/usr/sbin/nsca";
pub const SEND_NSCA: &str = "/usr/sbin/send_nsca";

/// True when `path` exists. When it does not: panic if `NAGBRIDGE_REQUIRE_PEERS` is set (CI and
/// scripts/test set it, so no test is silently skipped there), else print why and return false.
pub fn have_peer(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    if std::env::var_os("NAGBRIDGE_REQUIRE_PEERS").is_some() {
        panic!("{path} is missing: install its Debian package (scripts/test does)");
    }
    eprintln!("skipping: {path} is missing (install its Debian package, or run scripts/test)");
    false
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Debian `nsca` daemon writing to a command file in its own temp dir.
pub struct NscaDaemon {
    pub port: u16,
    pub dir: tempfile::TempDir,
    command_file: PathBuf,
    child: Child,
}

impl NscaDaemon {
    /// Start `nsca -f --single` on 127.0.0.1 with `decryption_method=method` and `password`.
    /// `password` None leaves the line out (empty password).
    pub fn start(method: u8, password: Option<&str>) -> NscaDaemon {
        Self::start_with(method, password, "")
    }

    /// As `start`, with extra `nsca.cfg` lines.
    pub fn start_with(method: u8, password: Option<&str>, extra: &str) -> NscaDaemon {
        Self::spawn(method, password, extra, None, 0)
    }

    /// As `start`, on `port` (0: a free one), e.g. to bring a daemon back where one was.
    pub fn start_on(method: u8, password: Option<&str>, port: u16) -> NscaDaemon {
        Self::spawn(method, password, "", None, port)
    }

    /// As `start`, writing to `command_file` (e.g. a running Nagios' FIFO, see
    /// `nagios::Nagios::command_file`) instead of a plain file in its temp dir. `lines()` and
    /// `wait_lines()` read only that plain file: use Nagios' state instead.
    pub fn start_for(method: u8, password: Option<&str>, command_file: &Path) -> NscaDaemon {
        Self::spawn(method, password, "", Some(command_file), 0)
    }

    fn spawn(
        method: u8,
        password: Option<&str>,
        extra: &str,
        command_file: Option<&Path>,
        port: u16,
    ) -> NscaDaemon {
        let dir = tempfile::tempdir().unwrap();
        let port = if port == 0 { free_port() } else { port };
        let d = dir.path().display();
        let command_file = match command_file {
            Some(path) => path.to_path_buf(),
            None => {
                let path = dir.path().join("cmd");
                std::fs::File::create(&path).unwrap();
                path
            }
        };
        let c = command_file.display();
        let mut cfg = format!(
            "pid_file={d}/nsca.pid\nserver_port={port}\nserver_address=127.0.0.1\n\
             nsca_user=root\nnsca_group=root\ndebug=1\ncommand_file={c}\n\
             alternate_dump_file={d}/dump\naggregate_writes=0\nappend_to_file=1\n\
             max_packet_age=30\ndecryption_method={method}\n{extra}\n"
        );
        if let Some(pw) = password {
            cfg.push_str(&format!("password={pw}\n"));
        }
        let cfg_path = dir.path().join("nsca.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        let child = Command::new(NSCA_DAEMON)
            .args(["-f", "--single", "-c"])
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nsca");
        let daemon = NscaDaemon {
            port,
            dir,
            command_file,
            child,
        };
        daemon.wait_listening();
        daemon
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Probing with connect() makes --single mode serve one empty connection: harmless.
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nsca did not listen on port {} within 10 s", self.port);
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn command_file(&self) -> PathBuf {
        self.command_file.clone()
    }

    /// The command-file lines so far, with the `[timestamp] ` prefix removed.
    pub fn lines(&self) -> Vec<String> {
        assert!(
            !self.command_file.metadata().is_ok_and(|m| !m.is_file()),
            "lines(): {} is not a plain file (started with start_for?)",
            self.command_file.display()
        );
        let raw = std::fs::read(self.command_file()).unwrap_or_default();
        String::from_utf8_lossy(&raw)
            .lines()
            .map(|l| match l.find("] ") {
                Some(i) if l.starts_with('[') => l[i + 2..].to_string(),
                _ => l.to_string(),
            })
            .collect()
    }

    /// Wait until at least `n` lines are in the command file (or `timeout`), then return them.
    pub fn wait_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if lines.len() >= n || Instant::now() >= deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NscaDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run Debian's `send_nsca` with `args`, a config holding `cfg`, and `stdin`; returns
/// (exit code, stdout, stderr).
pub fn run_send_nsca(cfg: &str, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("send_nsca.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mut child = Command::new(SEND_NSCA)
        .args(args)
        .arg("-c")
        .arg(&cfg_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start send_nsca");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// True when the tests run as root (the owner of /proc/self is the effective user).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A system file (e.g. `/etc/send_nsca.cfg`) that a test run as root replaces for a while: the
/// original is renamed aside (owner, mode and content kept) and renamed back on drop, also when
/// the test panics. A backup left by a run that was killed is restored first.
pub struct SystemFile {
    path: PathBuf,
    backup: PathBuf,
    had_original: bool,
}

impl SystemFile {
    /// Take over `path`; None (the test skips, saying why) when not running as root.
    pub fn take(path: &str) -> Option<SystemFile> {
        if !is_root() {
            eprintln!("skipping: replacing {path} needs root (CI runs the suite as root)");
            return None;
        }
        let path = PathBuf::from(path);
        let backup = PathBuf::from(format!("{}.nagbridge-test-original", path.display()));
        if backup.exists() {
            std::fs::rename(&backup, &path).unwrap();
        }
        let had_original = path.exists();
        if had_original {
            std::fs::rename(&path, &backup).unwrap();
        }
        Some(SystemFile {
            path,
            backup,
            had_original,
        })
    }

    /// Write the test's content (mode 0644).
    pub fn write(&self, text: &str) {
        std::fs::write(&self.path, text).unwrap();
    }

    /// Remove the test's content: the file is missing until `write` or drop.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for SystemFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if self.had_original {
            if let Err(e) = std::fs::rename(&self.backup, &self.path) {
                eprintln!(
                    "could not restore {} from {}: {e}",
                    self.path.display(),
                    self.backup.display()
                );
            }
        }
    }
}
