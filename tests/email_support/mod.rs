//! Peers for the email tests, started by the tests on free loopback ports in temp dirs and
//! stopped by process id: a test CA with a certificate for `localhost` (made now, with rcgen),
//! Debian's aiosmtpd driven by `tests/smtp/aiosmtpd_server.py`, Debian's Postfix with its own
//! config directory delivering into a Maildir, and a tiny OAuth2 token endpoint.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Debian's python, which has aiosmtpd (a pyenv python3 earlier in PATH may not).
pub const PYTHON: &str = "/usr/bin/python3";
pub const POSTFIX: &str = "/usr/sbin/postfix";

fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if std::env::var_os("NAGBRIDGE_REQUIRE_PEERS").is_some() {
        panic!("{what} is missing: install its Debian package (scripts/test does)");
    }
    eprintln!("skipping: {what} is missing (install its Debian package, or run scripts/test)");
    false
}

/// True when Debian's python3-aiosmtpd can be used (else skip, or fail under
/// NAGBRIDGE_REQUIRE_PEERS).
pub fn have_aiosmtpd() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    require(
        ok,
        "python3-aiosmtpd (/usr/bin/python3 -c 'import aiosmtpd')",
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate for `localhost` and 127.0.0.1 signed by it, as PEM files.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "nagbridge test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf_key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let write = |name: &str, text: String| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            p
        };
        TestCa {
            ca: write("ca.pem", ca.pem()),
            cert: write("cert.pem", cert.pem()),
            key: write("key.pem", leaf_key.serialize_pem()),
            dir,
        }
    }
}

/// `tests/smtp/aiosmtpd_server.py` running on a free port.
pub struct Smtpd {
    pub port: u16,
    pub out: tempfile::TempDir,
    child: Child,
}

impl Smtpd {
    /// Start it with `args` (see the script's doc) and the test CA's certificate; waits for
    /// its READY line.
    pub fn start(ca: &TestCa, args: &[&str]) -> Smtpd {
        let port = free_port();
        let out = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/aiosmtpd_server.py");
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--out")
            .arg(out.path())
            .arg("--cert")
            .arg(&ca.cert)
            .arg("--key")
            .arg(&ca.key)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd_server.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("aiosmtpd_server.py did not say READY");
        assert!(line.starts_with("READY"), "aiosmtpd_server.py: {line:?}");
        Smtpd { port, out, child }
    }

    fn jsonl(&self, name: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.out.path().join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// One record per accepted message: file, time, mail_from, rcpt_tos, tls, login.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        self.jsonl("messages.jsonl")
    }

    /// One record per AUTH attempt: mech, login, ok (and token for XOAUTH2).
    pub fn auths(&self) -> Vec<serde_json::Value> {
        self.jsonl("auth.jsonl")
    }

    /// The raw bytes of accepted message `file`.
    pub fn raw(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.out.path().join(file)).unwrap()
    }

    /// Wait until `n` messages were accepted (or `timeout`); returns the records.
    pub fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the token endpoint answers, in order (the last one repeats).
#[derive(Clone, Debug)]
pub enum TokenReply {
    /// 200 with this access token and lifetime in seconds.
    Token(&'static str, u64),
    /// This status with this JSON body (and `Retry-After` seconds).
    Error(u16, &'static str, Option<u64>),
}

/// A tiny HTTP/1.1 token endpoint on 127.0.0.1 (one thread, one request per connection),
/// recording each request's form body.
pub struct TokenServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl TokenServer {
    pub fn start(replies: Vec<TokenReply>) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let n = seen.lock().unwrap().len();
                        let reply = replies[n.min(replies.len() - 1)].clone();
                        if let Some(body) = serve(stream, &reply) {
                            seen.lock().unwrap().push(body);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TokenServer {
            port,
            requests,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn serve(mut stream: TcpStream, reply: &TokenReply) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (status, json, after) = match reply {
        TokenReply::Token(t, secs) => (
            200,
            format!("{{\"token_type\":\"Bearer\",\"expires_in\":{secs},\"access_token\":\"{t}\"}}"),
            None,
        ),
        TokenReply::Error(s, j, a) => (*s, j.to_string(), *a),
    };
    let extra = after
        .map(|a| format!("Retry-After: {a}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{json}",
        json.len()
    );
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// Debian's Postfix with its own config directory in a temp dir: smtpd on 127.0.0.1:`port`
/// (STARTTLS offered with the test CA's certificate), delivering mail for `example.test` into
/// the Maildir `mail/<user>/`. Needs root (its master runs as root and drops privileges);
/// stopped by its master's process id.
pub struct Postfix {
    pub port: u16,
    pub dir: tempfile::TempDir,
    master: Option<i32>,
}

/// True when Postfix can run here: installed (else skip, or fail under
/// NAGBRIDGE_REQUIRE_PEERS), and we are root (CI is; else skip with a note).
pub fn have_postfix() -> bool {
    if !require(Path::new(POSTFIX).exists(), "postfix") {
        return false;
    }
    if !is_root() {
        eprintln!("skipping: running Postfix needs root (its master drops privileges itself)");
        return false;
    }
    true
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn id_of(flag: &str, name: &str) -> String {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Postfix {
    pub fn start(ca: &TestCa) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // The postfix and nobody users must reach their directories inside.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["conf", "queue", "data", "mail"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        let chown = |user: &str, path: &Path| {
            let ok = Command::new("chown")
                .arg(user)
                .arg(path)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown {user} {}", path.display());
        };
        chown("postfix", &d.join("data"));
        chown("nobody:nogroup", &d.join("mail"));
        let port = free_port();
        let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {q}\n\
             data_directory = {data}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             inet_interfaces = loopback-only\n\
             inet_protocols = ipv4\n\
             myhostname = mx.nagbridge.test\n\
             mydomain = nagbridge.test\n\
             mydestination =\n\
             relay_domains =\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\n\
             virtual_mailbox_domains = example.test\n\
             virtual_mailbox_base = {mail}\n\
             virtual_mailbox_maps = inline:{{ ops@example.test=ops/, cc@example.test=cc/ }}\n\
             virtual_uid_maps = static:{uid}\n\
             virtual_gid_maps = static:{gid}\n\
             maillog_file_prefixes = {base}\n\
             maillog_file = {base}/maillog\n\
             smtpd_banner = $myhostname ESMTP\n\
             smtpd_tls_cert_file = {cert}\n\
             smtpd_tls_key_file = {key}\n\
             smtpd_tls_security_level = encrypt\n\
             smtpd_tls_received_header = yes\n\
             smtpd_tls_loglevel = 1\n\
             biff = no\n",
            q = d.join("queue").display(),
            data = d.join("data").display(),
            mail = d.join("mail").display(),
            base = d.display(),
            cert = ca.cert.display(),
            key = ca.key.display(),
        );
        std::fs::write(d.join("conf/main.cf"), main).unwrap();
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\n\
             pickup unix n - n 60 1 pickup\n\
             cleanup unix n - n - 0 cleanup\n\
             qmgr unix n - n 300 1 qmgr\n\
             rewrite unix - - n - - trivial-rewrite\n\
             bounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\n\
             trace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\n\
             flush unix n - n 1000? 0 flush\n\
             proxymap unix - - n - - proxymap\n\
             smtp unix - - n - - smtp\n\
             relay unix - - n - - smtp\n\
             showq unix n - n - - showq\n\
             error unix - - n - - error\n\
             retry unix - - n - - error\n\
             discard unix - - n - - discard\n\
             local unix - n n - - local\n\
             virtual unix - n n - - virtual\n\
             lmtp unix - - n - - lmtp\n\
             anvil unix - - n - 1 anvil\n\
             scache unix - - n - 1 scache\n\
             tlsmgr unix - - n 1000? 1 tlsmgr\n\
             postlog unix-dgram n - n - 1 postlogd\n"
        );
        std::fs::write(d.join("conf/master.cf"), master).unwrap();
        let out = Command::new(POSTFIX)
            .arg("-c")
            .arg(d.join("conf"))
            .arg("start")
            .output()
            .unwrap();
        let mut p = Postfix {
            port,
            dir,
            master: None,
        };
        let pid_file = p.dir.path().join("queue/pid/master.pid");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            if pid.is_some() && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                p.master = pid;
                return p;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "postfix did not start: {} {}\nmaillog:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            p.maillog()
        );
    }

    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Files delivered to `user`'s Maildir `new/`.
    pub fn delivered(&self, user: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(self.dir.path().join("mail").join(user).join("new"))
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
        files.sort();
        files
    }

    pub fn wait_delivered(&self, user: &str, n: usize, timeout: Duration) -> Vec<PathBuf> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.delivered(user);
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if let Some(pid) = self.master {
            // The master stops its children on SIGTERM (what `postfix stop` does).
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
