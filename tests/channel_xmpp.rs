//! The `xmpp` channel against a real server: Debian's Prosody, started by the test in a temp
//! dir (its own config, loopback only, a free port, STARTTLS required with a certificate of a
//! test CA made now, users registered with prosodyctl, a MUC component), run as the prosody
//! user with runuser and stopped by its process id. A receiving client (bob, logged in over
//! STARTTLS with the same CA) sits in the room and checks what arrives: the chat message and
//! the groupchat message of the real agent (`nagbridge run` as a child process), each once,
//! with a hostile error line shown as written. `nagbridge test` shows the failure classes: a
//! refused password (dead), an untrusted certificate (config: set ca_file), a server that never
//! answers ("could not log in within 2s"), a room on a service that does not exist and an
//! unknown recipient (dead). Prosody needs root here (its data dir belongs to the prosody
//! user); without root or without Prosody the tests are skipped (scripts/test installs it and
//! runs as root).
mod agent_support;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_support::*;
use nagbridge::sinks::xmpp::config::parse_room;
use nagbridge::sinks::xmpp::session::{Login, Progress, Session};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::Stanza;

const PROSODY: &str = "/usr/bin/prosody";
const PROSODYCTL: &str = "/usr/bin/prosodyctl";
const BOT_PASSWORD: &str = "b0t-xmpp-pa55";
const BOB_PASSWORD: &str = "b0b-xmpp-pa55";
const ROOM: &str = "backups@conference.localhost";

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

fn have_prosody() -> bool {
    if !common::have_peer(PROSODY) {
        return false;
    }
    if !is_root() {
        eprintln!("skipping: Prosody's data dir must belong to the prosody user (needs root)");
        return false;
    }
    true
}

/// A Prosody instance in a temp dir.
struct Prosody {
    dir: tempfile::TempDir,
    port: u16,
    ca: PathBuf,
    child: Child,
}

impl Prosody {
    fn start() -> Prosody {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(root.join("certs")).unwrap();
        // A test CA and a certificate for localhost and its MUC service.
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "nagbridge xmpp test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let mut leaf = CertificateParams::new(vec![
            "localhost".to_string(),
            "conference.localhost".to_string(),
        ])
        .unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf_key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let ca_path = root.join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        for host in ["localhost", "conference.localhost"] {
            std::fs::write(root.join(format!("certs/{host}.crt")), cert.pem()).unwrap();
            std::fs::write(
                root.join(format!("certs/{host}.key")),
                leaf_key.serialize_pem(),
            )
            .unwrap();
        }
        let port = common::free_port();
        let cfg = root.join("prosody.cfg.lua");
        let r = root.display();
        std::fs::write(
            &cfg,
            format!(
                r#"
pidfile = "{r}/prosody.pid"
data_path = "{r}/data"
certificates = "{r}/certs"
daemonize = false
log = {{ info = "{r}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_require_encryption = true
s2s_ports = {{ }}
modules_enabled = {{ "tls"; "roster"; "saslauth"; "disco"; "ping"; }}
modules_disabled = {{ "s2s"; "offline"; }}
authentication = "internal_hashed"
VirtualHost "localhost"
Component "conference.localhost" "muc"
    muc_room_locking = false
"#
            ),
        )
        .unwrap();
        let chown = Command::new("chown")
            .args(["-R", "prosody:prosody"])
            .arg(root)
            .status()
            .unwrap();
        assert!(chown.success());
        for (user, pw) in [("bot", BOT_PASSWORD), ("bob", BOB_PASSWORD)] {
            let out = Command::new(PROSODYCTL)
                .arg("--config")
                .arg(&cfg)
                .args(["register", user, "localhost", pw])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "prosodyctl register {user}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let child = Command::new("runuser")
            .args(["-u", "prosody", "--", PROSODY, "--config"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Prosody {
            dir,
            port,
            ca: ca_path,
            child,
        };
        let up = wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "prosody did not listen:\n{}", p.log());
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prosody.log")).unwrap_or_default()
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        // runuser's child is prosody: stop it by its pid file, then runuser.
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("prosody.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bob, logged in over STARTTLS (the test CA), available, in the room: every message he gets is
/// collected.
struct Bob {
    got: Arc<Mutex<Vec<Message>>>,
    at: Arc<Mutex<Vec<Instant>>>,
    _rt: tokio::runtime::Runtime,
}

impl Bob {
    fn start(server: &Prosody) -> Bob {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let login = Login {
            jid: BareJid::new("bob@localhost").unwrap(),
            password: BOB_PASSWORD.into(),
            host: "127.0.0.1".into(),
            port: server.port,
            tls: nagbridge::sinks::xmpp::tls_config(Some(&server.ca)).unwrap(),
        };
        let got: Arc<Mutex<Vec<Message>>> = Arc::default();
        let at: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = got.clone();
        let times = at.clone();
        rt.spawn(async move {
            let progress = Progress::default();
            let mut s = match Session::open(&login, &progress).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.message));
                    return;
                }
            };
            let room = parse_room(&format!("{ROOM}/bob"), "bob").unwrap();
            let joined = async {
                s.available().await?;
                s.join(&[room]).await
            }
            .await;
            let _ = ready_tx.send(joined.map(|_| ()).map_err(|e| e.message));
            while let Ok(stanza) = s.next_stanza("receiving").await {
                if let Stanza::Message(m) = stanza {
                    if !m.bodies.is_empty() {
                        times.lock().unwrap().push(Instant::now());
                        sink.lock().unwrap().push(m);
                    }
                }
            }
        });
        let ready = ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("bob logs in");
        if let Err(e) = ready {
            panic!("bob could not log in or join: {e}");
        }
        Bob { got, at, _rt: rt }
    }

    fn messages(&self) -> Vec<Message> {
        self.got.lock().unwrap().clone()
    }

    fn wait(&self, timeout: Duration, pred: impl Fn(&[Message]) -> bool) -> Vec<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if pred(&got) || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn body(m: &Message) -> String {
    m.bodies.values().next().cloned().unwrap_or_default()
}

fn kind(m: &Message, k: MessageType) -> bool {
    m.type_ == k
}

fn channel(server: &Prosody, extra: &str) -> String {
    format!(
        r#"
[[channel]]
name = "im"
type = "xmpp"
jid = "bot@localhost"
password = {{ env = "NB_TEST_XMPP_PASSWORD" }}
server = "127.0.0.1:{}"
{extra}
"#,
        server.port
    )
}

fn write_config(s: &Setup, nsca: u16, channels: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
quiet_period = "1s"

[nsca]
server = "127.0.0.1:{nsca}"
encryption = "aes256"
password = "{PASSWORD}"
timeout = "3s"

[[watch]]
path = "WATCHED"
format = "native"
{channels}
"#
    ));
}

fn nagbridge_test(config: &Path, password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["test", "--channel", "im", "--status", "failure", "-c"])
        .arg(config)
        .env("NB_TEST_XMPP_PASSWORD", password)
        .env_remove("NAGBRIDGE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The real agent sends one failure with a hostile error line: bob gets the chat message and
/// the room's groupchat message, each once, over STARTTLS, with every fact and the line as
/// written (XML specials intact, control characters replaced, `*` not styled).
#[test]
fn xmpp_chat_and_room_messages_arrive_once_over_starttls() {
    if !have_prosody() {
        return;
    }
    let server = Prosody::start();
    let bob = Bob::start(&server);
    let s = Setup::new();
    let peer = Peer::start(0);
    write_config(
        &s,
        peer.port(),
        &channel(
            &server,
            &format!(
                "when = \"always\"\nto = [\"bob@localhost\"]\nrooms = [\"{ROOM}\"]\nca_file = \"{}\"",
                server.ca.display()
            ),
        ),
    );
    let agent = Agent::start_with(&s.config, s.tmp.path(), |c| {
        c.env("NB_TEST_XMPP_PASSWORD", BOT_PASSWORD);
    });
    let mut a = agent;
    a.wait_started(Duration::from_secs(10));
    let hostile = format!(
        "@everyone </body><x xmlns='jabber:client'/> & *bold* `code` \u{7} {}",
        "<&>'\"*_~".repeat(630)
    );
    assert!(hostile.chars().count() >= 5000);
    let result = serde_json::json!({
        "job": "nightly-db", "host": "db01", "status": "failure", "tool": "restic",
        "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
        "bytes": 1234567, "summary": "disk full",
        "errors": [hostile, "second error"]
    });
    s.drop_file("r.json", &format!("{result}\n"));
    let got = bob.wait(Duration::from_secs(20), |m| {
        m.iter().any(|m| kind(m, MessageType::Chat))
            && m.iter().any(|m| kind(m, MessageType::Groupchat))
    });
    let chats: Vec<&Message> = got.iter().filter(|m| kind(m, MessageType::Chat)).collect();
    let rooms: Vec<&Message> = got
        .iter()
        .filter(|m| kind(m, MessageType::Groupchat))
        .collect();
    assert_eq!(chats.len(), 1, "{got:?}\n{}", a.log_text());
    assert_eq!(rooms.len(), 1, "{got:?}\n{}", a.log_text());
    let chat = body(chats[0]);
    assert_eq!(chat, body(rooms[0]));
    assert!(chats[0]
        .from
        .as_ref()
        .is_some_and(|f| f.to_string().starts_with("bot@localhost/")));
    assert_eq!(
        rooms[0].from.as_ref().map(|f| f.to_string()).as_deref(),
        Some("backups@conference.localhost/bot")
    );
    for want in [
        "❌ nightly-db FAILED on db01\ndisk full\nStatus: FAILED (CRITICAL)\nHost: db01\n",
        "Finished: 2026-11-24 02:03:10 UTC",
        "Duration: 3m 10s",
        "Size: 1.2 MiB",
        "Errors:\n• @everyone </body><x xmlns='jabber:client'/> & *bold* `code` \u{FFFD} <&>'\"*_~",
        "• second error\nreported by backup01",
    ] {
        assert!(chat.contains(want), "{want:?} not in\n{chat}");
    }
    // XEP-0393: shown as written.
    assert!(chats[0]
        .payloads
        .iter()
        .any(|p| p.is("unstyled", "urn:xmpp:styling:0")));
    // Nothing more arrives; the spool is empty; the log names the channel, not the password.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(bob.messages().len(), 2);
    assert!(wait_for(Duration::from_secs(5), || std::fs::read_dir(
        s.state.join("spool/im/new")
    )
    .map(|d| d.count() == 0)
    .unwrap_or(false)));
    let log = a.log_text();
    assert!(
        log.contains(&format!(
            "to xmpp im (bot@localhost via 127.0.0.1:{}): chat to bob@localhost; groupchat to {ROOM}",
            server.port
        )),
        "{log}"
    );
    assert!(!log.contains(BOT_PASSWORD));
    drop(peer);
}

/// `nagbridge test`: the sample reaches bob; a wrong password is dead (not a retry loop) and
/// never shown; without ca_file the test CA is not trusted (a config problem naming ca_file).
#[test]
fn xmpp_test_command_sends_and_names_each_failure() {
    if !have_prosody() {
        return;
    }
    let server = Prosody::start();
    let bob = Bob::start(&server);
    let s = Setup::new();
    let ca = format!("ca_file = \"{}\"", server.ca.display());
    write_config(
        &s,
        9,
        &channel(&server, &format!("to = [\"bob@localhost\"]\n{ca}")),
    );
    let t0 = Instant::now();
    let out = nagbridge_test(&s.config, BOT_PASSWORD);
    let took = t0.elapsed();
    let all = text(&out);
    assert!(
        all.contains("OK   im (xmpp) sent: chat to bob@localhost"),
        "{all}"
    );
    eprintln!("nagbridge test to Prosody (login + send + receipt): {took:?}");
    let got = bob.wait(Duration::from_secs(10), |m| !m.is_empty());
    assert!(
        body(&got[0]).contains("nagbridge-test FAILED on backup01"),
        "{got:?}"
    );

    let out = nagbridge_test(&s.config, "wrong-pa55word");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(
            "FAILED im (xmpp): the server refused the login of bot@localhost: not-authorized \
             (check jid and password) (the destination refuses us: fix the config)"
        ),
        "{all}"
    );
    assert!(!all.contains("wrong-pa55word"));

    write_config(&s, 9, &channel(&server, "to = [\"bob@localhost\"]"));
    let out = nagbridge_test(&s.config, BOT_PASSWORD);
    let all = text(&out);
    assert!(all.contains("FAILED im (xmpp): TLS failed"), "{all}");
    assert!(all.contains("set ca_file"), "{all}");
    assert!(all.contains("(a configuration problem)"), "{all}");

    // A room on a service that does not exist, and a recipient that does not exist: dead.
    write_config(
        &s,
        9,
        &channel(&server, &format!("rooms = [\"x@nomuc.localhost\"]\n{ca}")),
    );
    let all = text(&nagbridge_test(&s.config, BOT_PASSWORD));
    assert!(
        all.contains(
            "FAILED im (xmpp): joining room x@nomuc.localhost: x@nomuc.localhost answered"
        ),
        "{all}"
    );
    assert!(all.contains("the destination refuses us"), "{all}");
    write_config(
        &s,
        9,
        &channel(&server, &format!("to = [\"nobody@localhost\"]\n{ca}")),
    );
    let all = text(&nagbridge_test(&s.config, BOT_PASSWORD));
    assert!(
        all.contains("FAILED im (xmpp): delivering the message: nobody@localhost answered service-unavailable"),
        "{all}"
    );
}

/// A server that accepts the connection and never says a word: the session gives up after
/// `timeout` with "could not log in within 2s" (tokio-xmpp's client would wait forever).
#[test]
fn xmpp_a_silent_server_is_reported_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = Setup::new();
    write_config(
        &s,
        9,
        &format!(
            "[[channel]]\nname = \"im\"\ntype = \"xmpp\"\njid = \"bot@localhost\"\npassword = {{ env = \"NB_TEST_XMPP_PASSWORD\" }}\nserver = \"127.0.0.1:{port}\"\nto = [\"bob@localhost\"]\ntimeout = \"2s\"\n"
        ),
    );
    let t0 = Instant::now();
    let out = nagbridge_test(&s.config, BOT_PASSWORD);
    let took = t0.elapsed();
    let all = text(&out);
    assert!(
        all.contains(
            "FAILED im (xmpp): could not log in within 2s (stuck starting TLS at 127.0.0.1:"
        ),
        "{all}"
    );
    assert!(all.contains("temporary: the agent would retry"), "{all}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(listener);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Outcome-to-recipient latency through Prosody: result files renamed into the watched
/// directory 1 s apart; from each rename to bob's receipt of its chat message (a whole session
/// each: connect, STARTTLS, SCRAM, bind, send, receipt).
#[test]
#[ignore = "measurement"]
fn measure_outcome_to_xmpp_latency() {
    if !have_prosody() {
        return;
    }
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let server = Prosody::start();
    let bob = Bob::start(&server);
    let s = Setup::new();
    let peer = Peer::start(0);
    write_config(
        &s,
        peer.port(),
        &channel(
            &server,
            &format!(
                "when = \"always\"\nto = [\"bob@localhost\"]\nca_file = \"{}\"",
                server.ca.display()
            ),
        ),
    );
    let mut a = Agent::start_with(&s.config, s.tmp.path(), |c| {
        c.env("NB_TEST_XMPP_PASSWORD", BOT_PASSWORD);
    });
    a.wait_started(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let mut renamed = Vec::with_capacity(n);
    for i in 0..n {
        let tmp = s.watched.join(format!(".l{i:05}.tmp"));
        std::fs::write(&tmp, result_json(&format!("lat{i}"), "failure", i)).unwrap();
        std::fs::rename(&tmp, s.watched.join(format!("l{i:05}.json"))).unwrap();
        renamed.push(Instant::now());
        std::thread::sleep(Duration::from_millis(1000));
    }
    let got = bob.wait(Duration::from_secs(60), |m| m.len() >= n);
    assert_eq!(got.len(), n, "{}", a.log_text());
    let at = bob.at.lock().unwrap().clone();
    let mut lat: Vec<Duration> = got
        .iter()
        .zip(at)
        .map(|(m, t)| t - renamed[id_of(&body(m)).unwrap()])
        .collect();
    lat.sort_unstable();
    println!(
        "BENCH xmpp latency n={n} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat[n - 1].as_secs_f64() * 1e3
    );
    drop(peer);
}
