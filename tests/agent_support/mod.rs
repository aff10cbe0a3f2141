//! Helpers for the tests that run the built `nagbridge run` binary as a child process: a temp
//! dir with a watched directory, a state dir and a config; the agent process (killed by its
//! process id on drop); an in-process NSCA receiver collecting what arrives; and small file
//! helpers. Every wait is bounded.
#![allow(dead_code)]

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nsca::crypto::Method;
use nsca::packet::PassiveCheck;
use nsca::server::{Receiver, ReceiverConfig};

/// The password both sides use (aes256).
pub const PASSWORD: &str = "e2e-secret-password";

/// A temp dir holding `in/` (watched), `state/` and `nagbridge.toml`.
pub struct Setup {
    pub tmp: tempfile::TempDir,
    pub watched: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
}

impl Setup {
    pub fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let watched = tmp.path().join("in");
        let state = tmp.path().join("state");
        fs::create_dir(&watched).unwrap();
        let config = tmp.path().join("nagbridge.toml");
        Setup {
            tmp,
            watched,
            state,
            config,
        }
    }

    /// Write the config: `WATCHED` and `STATE` in `toml` are replaced by the paths.
    pub fn write_config(&self, toml: &str) {
        let text = toml
            .replace("WATCHED", &self.watched.display().to_string())
            .replace("STATE", &self.state.display().to_string());
        fs::write(&self.config, text).unwrap();
    }

    /// A config for an aes256 NSCA server at `port`, watching `in/` in native format, with
    /// quiet period `quiet` and `extra_agent` lines in `[agent]`.
    pub fn write_agent_config(&self, port: u16, quiet: &str, extra_agent: &str) {
        self.write_config(&format!(
            r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
quiet_period = "{quiet}"
{extra_agent}

[nsca]
server = "127.0.0.1:{port}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "5s"

[[watch]]
path = "WATCHED"
format = "native"
"#
        ));
    }

    /// Entries waiting in the NSCA spool (`state/spool/nsca/new`).
    pub fn spool_len(&self) -> usize {
        match fs::read_dir(self.state.join("spool/nsca/new")) {
            Ok(rd) => rd.count(),
            Err(_) => 0,
        }
    }

    /// Entries in the spool's quarantine (not their `.why` files).
    pub fn quarantined(&self) -> usize {
        match fs::read_dir(self.state.join("spool/nsca/quarantine")) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".why"))
                .count(),
            Err(_) => 0,
        }
    }

    /// Write `content` to `in/.<name>.tmp`, then rename it to `in/<name>` (how a careful tool
    /// publishes a result).
    pub fn drop_file(&self, name: &str, content: &str) -> PathBuf {
        let tmp = self.watched.join(format!(".{name}.tmp"));
        let path = self.watched.join(name);
        fs::write(&tmp, content).unwrap();
        fs::rename(&tmp, &path).unwrap();
        path
    }

    /// Start `nagbridge run -c <config>` (its stderr goes to `agent-<n>.log` in the temp dir)
    /// and wait until it watches (logged "nagbridge agent started").
    pub fn start_agent(&self) -> Agent {
        let mut a = self.spawn_agent();
        a.wait_started(Duration::from_secs(10));
        a
    }

    /// Start `nagbridge run -c <config>` without waiting.
    pub fn spawn_agent(&self) -> Agent {
        Agent::start(&self.config, self.tmp.path())
    }
}

/// A native result whose summary carries `id=<id>`.
pub fn result_json(job: &str, status: &str, id: usize) -> String {
    format!("{{\"job\":\"{job}\",\"status\":\"{status}\",\"summary\":\"id={id:05}\"}}\n")
}

/// The `id=NNNNN` a plugin output carries, if any.
pub fn id_of(output: &str) -> Option<usize> {
    let at = output.find("id=")?;
    let digits: String = output[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `nagbridge run` as a child process. Dropping it sends SIGKILL (by process id) and reaps it.
pub struct Agent {
    child: Child,
    pub log: PathBuf,
}

static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Agent {
    pub fn start(config: &Path, logdir: &Path) -> Agent {
        Agent::start_with(config, logdir, |_| {})
    }

    /// [`Agent::start`] with a change to the command first (e.g. `uid`/`gid` to run it as an
    /// unprivileged user).
    pub fn start_with(config: &Path, logdir: &Path, adjust: impl FnOnce(&mut Command)) -> Agent {
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = logdir.join(format!("agent-{n}.log"));
        let err = fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nagbridge"));
        cmd.args(["run", "-c"])
            .arg(config)
            .env_remove("NAGBRIDGE_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(err.try_clone().unwrap())
            .stderr(err);
        adjust(&mut cmd);
        let child = cmd.spawn().expect("start nagbridge run");
        Agent { child, log }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The agent's log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// SIGKILL and reap.
    pub fn kill9(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit within `timeout` (panics with the log if it hangs).
    pub fn terminate(mut self, timeout: Duration) -> (ExitStatus, Duration, String) {
        let t0 = Instant::now();
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(timeout).unwrap_or_else(|| {
            panic!(
                "agent did not exit within {timeout:?} after SIGTERM:\n{}",
                self.log_text()
            )
        });
        (status, t0.elapsed(), self.log_text())
    }

    /// Wait up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until the log says the agent started (its watches are set up).
    pub fn wait_started(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log_text().contains("nagbridge agent started") {
            if !self.running() || Instant::now() >= deadline {
                panic!(
                    "agent did not start within {timeout:?}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// CPU time used so far (user + system), in clock ticks (1/100 s on Linux).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the comm.
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// A `kB` field of `/proc/<pid>/status` (VmHWM, VmRSS, ...) in bytes.
    pub fn proc_status_kb(&self, field: &str) -> u64 {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status:\n{text}"));
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("cannot read {line:?}"));
        kb * 1024
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: as in `signal`.
            unsafe { libc::kill(self.pid(), libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

/// What receives the agent's checks: an in-process NSCA receiver (aes256, `PASSWORD`) on its
/// own runtime, or Debian's real `nsca` daemon (method 14, `PASSWORD`) writing its command
/// file, whose lines are read back as checks.
pub struct Peer {
    backend: Backend,
    pub addr: SocketAddr,
}

enum Backend {
    InProcess {
        _rt: tokio::runtime::Runtime,
        got: Arc<Mutex<Vec<PassiveCheck>>>,
    },
    Daemon(crate::common::NscaDaemon),
}

/// A command-file line `PROCESS_SERVICE_CHECK_RESULT;host;service;code;output` (the daemon
/// escapes newlines in the output as `\n`: they are turned back).
fn parse_command_line(line: &str) -> Option<PassiveCheck> {
    let rest = line.strip_prefix("PROCESS_SERVICE_CHECK_RESULT;")?;
    let mut f = rest.splitn(4, ';');
    let (host, service, code, output) = (f.next()?, f.next()?, f.next()?, f.next()?);
    Some(PassiveCheck {
        host: host.into(),
        service: service.into(),
        return_code: code.parse().ok()?,
        output: output.replace("\\n", "\n"),
    })
}

impl Peer {
    /// The in-process receiver on 127.0.0.1:`port` (0: any free port).
    pub fn start(port: u16) -> Peer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let got: Arc<Mutex<Vec<PassiveCheck>>> = Arc::default();
        let config = ReceiverConfig::new(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Method::Rijndael128,
            PASSWORD.as_bytes().to_vec(),
        );
        let mut receiver = rt.block_on(Receiver::bind(config)).expect("bind receiver");
        let addr = receiver.local_addr();
        let sink = got.clone();
        // The task owns the receiver: dropping the runtime drops both (stops listening).
        rt.spawn(async move {
            while let Some(r) = receiver.recv().await {
                sink.lock().unwrap().push(r.check);
            }
        });
        Peer {
            backend: Backend::InProcess { _rt: rt, got },
            addr,
        }
    }

    /// Debian's real `nsca` daemon on 127.0.0.1:`port` (0: a free one). Panics (with
    /// NAGBRIDGE_REQUIRE_PEERS) or returns the in-process receiver when it is not installed.
    pub fn real(port: u16) -> Peer {
        if !crate::common::have_peer(crate::common::NSCA_DAEMON) {
            return Peer::start(port);
        }
        let d = crate::common::NscaDaemon::start_on(14, Some(PASSWORD), port);
        let addr = SocketAddr::from(([127, 0, 0, 1], d.port));
        Peer {
            backend: Backend::Daemon(d),
            addr,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<PassiveCheck> {
        match &self.backend {
            Backend::InProcess { got, .. } => got.lock().unwrap().clone(),
            Backend::Daemon(d) => d
                .lines()
                .iter()
                .filter_map(|l| parse_command_line(l))
                .collect(),
        }
    }

    pub fn count(&self) -> usize {
        self.received().len()
    }

    /// Wait until `pred(received)` holds or `timeout` passes; returns what was received.
    pub fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[PassiveCheck]) -> bool,
    ) -> Vec<PassiveCheck> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if pred(&got) || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Wait until every id in `0..n` was received at least once (or `timeout`).
    pub fn wait_ids(&self, n: usize, timeout: Duration) -> Vec<PassiveCheck> {
        self.wait_until(timeout, |got| distinct_ids(got, n) == n)
    }
}

/// How many distinct ids below `n` appear in `got`.
pub fn distinct_ids(got: &[PassiveCheck], n: usize) -> usize {
    let mut seen = vec![false; n];
    for c in got {
        if let Some(i) = id_of(&c.output).filter(|i| *i < n) {
            seen[i] = true;
        }
    }
    seen.iter().filter(|s| **s).count()
}

/// Per id in `0..n`: how often it arrived; panics on an id outside `0..n` or a check
/// without an id.
pub fn arrivals(got: &[PassiveCheck], n: usize) -> Vec<usize> {
    let mut count = vec![0usize; n];
    for c in got {
        match id_of(&c.output) {
            Some(i) if i < n => count[i] += 1,
            _ => panic!("unexpected check: {c:?}"),
        }
    }
    count
}

/// Wait until `cond()` or `timeout`; returns whether it held.
/// The ids (indexes into `counts`, as from [`arrivals`]) that never arrived.
pub fn missing(counts: &[usize]) -> Vec<usize> {
    (0..counts.len()).filter(|i| counts[*i] == 0).collect()
}

/// Wait up to 10 s for the agent's spool to be empty; panics with its size otherwise.
#[track_caller]
pub fn assert_spool_drains(s: &Setup) {
    assert!(
        wait_for(Duration::from_secs(10), || s.spool_len() == 0),
        "spool not empty: {}",
        s.spool_len()
    );
}

pub fn wait_for(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `output` with the ` (at YYYY-MM-DD HH:MM:SSZ)` check time the sink adds to the first line
/// removed (panics when the first line has none), for exact comparisons.
pub fn without_check_time(output: &str) -> String {
    let first = output.lines().next().unwrap_or_default();
    let at = first
        .find(" (at ")
        .unwrap_or_else(|| panic!("no check time in {first:?}"));
    let stamp = &first[at + 5..];
    let end = stamp
        .find(')')
        .unwrap_or_else(|| panic!("no check time in {first:?}"));
    let t = &stamp[..end];
    assert!(
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "bad check time {t:?} in {first:?}"
    );
    format!("{}{}", &output[..at], &output[at + 5 + end + 1..])
}
