//! The `matrix` channel against a real homeserver: Matrix Synapse from PyPI (in a venv:
//! `$NAGBRIDGE_SYNAPSE_PYTHON`, else `~/.cache/nagbridge/synapse-venv/bin/python`, which
//! scripts/test makes), started by the test in a temp dir with its own config (SQLite, loopback,
//! a free port, registration open for the test's users, a tight message rate limit so that
//! Synapse itself answers 429 `M_LIMIT_EXCEEDED` with `retry_after_ms`), stopped by its process
//! id. Bob creates the room `#backups:localhost`; the bot joins it; the real agent posts.
//! Checked in the room's timeline (read as bob): every message once, with body, HTML and
//! `m.mentions`, through Synapse's own 429s; a retry with the same transaction id posts
//! nothing new; a bad token and a room the bot is not in are dead.
mod agent_support;
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent_support::*;
use base64::Engine;
use serde_json::{json, Value};

fn synapse_python() -> Option<PathBuf> {
    let p = std::env::var_os("NAGBRIDGE_SYNAPSE_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/nagbridge/synapse-venv/bin/python"))
        })?;
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("NAGBRIDGE_REQUIRE_PEERS").is_some() {
        panic!(
            "{} is missing: scripts/test makes the Synapse venv",
            p.display()
        );
    }
    eprintln!(
        "skipping: no Synapse ({} is missing; scripts/test makes it)",
        p.display()
    );
    None
}

/// A Synapse homeserver in a temp dir, and a client for its API.
struct Synapse {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Synapse {
    fn start(python: &PathBuf, per_second: f64, burst: u32) -> Synapse {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = common::free_port();
        let seed: [u8; 32] = rand::random();
        std::fs::write(
            dir.path().join("signing.key"),
            format!(
                "ed25519 a_test {}\n",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed)
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("hs.yaml"),
            format!(
                r#"server_name: "localhost"
pid_file: {d}/hs.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {d}/hs.db
media_store_path: {d}/media
signing_key_path: {d}/signing.key
report_stats: false
macaroon_secret_key: "macaroon-test-secret"
form_secret: "form-test-secret"
trusted_key_servers: []
suppress_key_server_warning: true
enable_registration: true
enable_registration_without_verification: true
rc_message:
  per_second: {per_second}
  burst_count: {burst}
rc_registration:
  per_second: 100
  burst_count: 100
rc_login:
  address: {{per_second: 100, burst_count: 100}}
  account: {{per_second: 100, burst_count: 100}}
  failed_attempts: {{per_second: 100, burst_count: 100}}
rc_joins:
  local: {{per_second: 100, burst_count: 100}}
"#
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("synapse.log")).unwrap();
        let child = Command::new(python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(dir.path().join("hs.yaml"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut s = Synapse {
            dir,
            port,
            child,
            rt,
            http: reqwest::Client::new(),
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(120) {
            if s.call("GET", "/_matrix/client/versions", None, None).0 == 200 {
                eprintln!("synapse up in {:?}", t0.elapsed());
                return s;
            }
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("synapse exited {st}:\n{}", s.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("synapse did not start:\n{}", s.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("synapse.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.url());
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        self.rt.block_on(async {
            match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let bytes = r.bytes().await.unwrap_or_default();
                    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    (status, v)
                }
                Err(_) => (0, Value::Null),
            }
        })
    }

    /// Register `user` and return its access token.
    fn register(&self, user: &str) -> String {
        let (st, v) = self.call(
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(
                json!({"username": user, "password": format!("{user}-pw-123"),
                        "auth": {"type": "m.login.dummy"}}),
            ),
        );
        assert_eq!(st, 200, "register {user}: {v}");
        v["access_token"].as_str().unwrap().to_string()
    }

    /// Messages of `room` (as `token`), oldest first.
    fn messages(&self, room: &str, token: &str) -> Vec<Value> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=200",
            room.replace('!', "%21").replace(':', "%3A")
        );
        let (st, v) = self.call("GET", &path, Some(token), None);
        assert_eq!(st, 200, "{v}");
        let mut out: Vec<Value> = v["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .cloned()
            .collect();
        out.reverse();
        out
    }

    fn wait_messages(&self, room: &str, token: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages(room, token);
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bob's room `#backups:localhost` with the bot in it: (room id, bot token, bob token).
fn room_with_bot(hs: &Synapse) -> (String, String, String) {
    let bob = hs.register("bob");
    let bot = hs.register("bot");
    let (st, v) = hs.call(
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&bob),
        Some(json!({"room_alias_name": "backups", "preset": "public_chat", "name": "Backups"})),
    );
    assert_eq!(st, 200, "{v}");
    let room = v["room_id"].as_str().unwrap().to_string();
    let (st, v) = hs.call(
        "POST",
        "/_matrix/client/v3/join/%23backups%3Alocalhost",
        Some(&bot),
        Some(json!({})),
    );
    assert_eq!(st, 200, "{v}");
    (room, bot, bob)
}

fn write_config(s: &Setup, nsca: u16, hs: &Synapse, room: &str, extra: &str) {
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

[[channel]]
name = "mx"
type = "matrix"
homeserver = "{}"
access_token = {{ env = "NB_TEST_MATRIX_TOKEN" }}
room = "{room}"
{extra}
"#,
        hs.url()
    ));
}

/// The agent posts 8 outcomes at once into a room whose homeserver allows a burst of 3, then
/// one message every 2 s: Synapse answers 429 `M_LIMIT_EXCEEDED` with `retry_after_ms`, the
/// agent waits exactly that, and every message is in the timeline once, in order, with the
/// status in words, the HTML form, `m.mentions: {}`, and a hostile line escaped and inert.
#[test]
fn matrix_messages_arrive_once_through_synapse_rate_limits() {
    let Some(python) = synapse_python() else {
        return;
    };
    let hs = Synapse::start(&python, 0.5, 3);
    let (room, bot, bob) = room_with_bot(&hs);
    let s = Setup::new();
    let peer = Peer::start(0);
    write_config(
        &s,
        peer.port(),
        &hs,
        "#backups:localhost",
        "when = \"always\"",
    );
    let mut agent = Agent::start_with(&s.config, s.tmp.path(), |c| {
        c.env("NB_TEST_MATRIX_TOKEN", &bot);
    });
    agent.wait_started(Duration::from_secs(10));
    let hostile = format!(
        "@room @everyone </code></pre><img src=x onerror=alert(1)> <a href=\"https://evil\">x</a> **b** {}",
        "<&>\"'*_`#".repeat(560)
    );
    assert!(hostile.chars().count() >= 5000);
    let first = json!({"job": "nightly-db", "host": "db01", "status": "failure",
        "finished": "2026-11-24T02:03:10Z", "duration_s": 190.0, "bytes": 1234567,
        "summary": "id=00000", "errors": [hostile]});
    let mut lines = format!("{first}\n");
    for i in 1..8 {
        lines.push_str(&result_json(&format!("job{i}"), "failure", i));
    }
    let t0 = Instant::now();
    s.drop_file("r.json", &lines);
    let got = hs.wait_messages(&room, &bob, 8, Duration::from_secs(90));
    let took = t0.elapsed();
    assert_eq!(got.len(), 8, "{}", agent.log_text());
    std::thread::sleep(Duration::from_secs(2));
    let got = hs.messages(&room, &bob);
    assert_eq!(got.len(), 8, "duplicates: {got:#?}");
    let ids: Vec<usize> = got
        .iter()
        .map(|e| id_of(e["content"]["body"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(ids, (0..8).collect::<Vec<_>>());
    let c = &got[0]["content"];
    assert_eq!(got[0]["sender"], "@bot:localhost");
    assert_eq!(c["msgtype"], "m.text");
    assert_eq!(c["format"], "org.matrix.custom.html");
    assert_eq!(c["m.mentions"], json!({}));
    let body = c["body"].as_str().unwrap();
    assert!(
        body.starts_with("❌ nightly-db FAILED on db01\nid=00000\nStatus: FAILED (CRITICAL)"),
        "{body}"
    );
    assert!(body.contains("Duration: 3m 10s") && body.contains("Size: 1.2 MiB"));
    let html = c["formatted_body"].as_str().unwrap();
    assert!(
        html.contains("<font color=\"#E01E5A\">FAILED</font>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<img") && !html.contains("<a href"),
        "{html}"
    );
    for text in [body, html] {
        assert!(!text.contains("@room"), "{text}");
    }
    let log = agent.log_text();
    let limited = log.matches("M_LIMIT_EXCEEDED").count();
    eprintln!(
        "matrix: 8 messages through Synapse's rate limit in {took:?}, {limited} 429s honoured"
    );
    assert!(limited >= 1, "Synapse never said 429:\n{log}");
    assert!(log.contains("(the homeserver asks to retry after"), "{log}");
    assert!(!log.contains(&bot), "the token shows in the log");
    drop(peer);
}

/// The same spool entry delivered twice (a retry after a lost answer) posts once: the
/// transaction id is the entry's. A bad token and a room without the bot are dead.
#[test]
fn matrix_a_retry_reuses_the_transaction_and_dead_rooms_are_named() {
    let Some(python) = synapse_python() else {
        return;
    };
    let hs = Synapse::start(&python, 100.0, 100);
    let (room, bot, bob) = room_with_bot(&hs);
    let text = format!(
        "[agent]\nhost_name = \"backup01\"\n[nsca]\nserver = \"127.0.0.1:9\"\nencryption = \"aes256\"\npassword = \"p\"\n\
         [[channel]]\nname = \"mx\"\ntype = \"matrix\"\nhomeserver = \"{}\"\naccess_token = \"{bot}\"\nroom = \"{room}\"\n",
        hs.url()
    );
    let config = nagbridge::config::Config::from_str(&text, "t").unwrap();
    let sink = nagbridge::sinks::ChannelSink::build(&config.channels[0], "backup01").unwrap();
    let entry = nagbridge::spool::Entry {
        id: nagbridge::spool::EntryId::new(1_764_000_000_000_000, 7, 4242),
        spooled_at: chrono::Utc::now(),
        outcome: serde_json::from_value(
            json!({"job": "retried", "status": "failure", "summary": "id=00042"}),
        )
        .unwrap(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    use nagbridge::sinks::Sink;
    for _ in 0..3 {
        let n = rt
            .block_on(sink.deliver_batch(std::slice::from_ref(&entry)))
            .unwrap();
        assert_eq!(n, 1);
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = hs.messages(&room, &bob);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0]["content"]["body"]
        .as_str()
        .unwrap()
        .contains("id=00042"));

    // `nagbridge test`: a bad token, then a room the bot is not in.
    let s = Setup::new();
    write_config(&s, 9, &hs, &room, "");
    let run = |token: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
            .args(["test", "--channel", "mx", "-c"])
            .arg(&s.config)
            .env("NB_TEST_MATRIX_TOKEN", token)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let all = run("syt_not_a_real_token_0000");
    assert!(
        all.contains("FAILED mx (matrix): HTTP 401 Unauthorized: M_UNKNOWN_TOKEN"),
        "{all}"
    );
    assert!(all.contains("the access token is not valid"), "{all}");
    assert!(!all.contains("syt_not_a_real_token_0000"), "{all}");
    let (st, v) = hs.call(
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&bob),
        Some(json!({"preset": "private_chat"})),
    );
    assert_eq!(st, 200, "{v}");
    let private = v["room_id"].as_str().unwrap();
    write_config(&s, 9, &hs, private, "");
    let all = run(&bot);
    assert!(
        all.contains("FAILED mx (matrix): HTTP 403 Forbidden: M_FORBIDDEN"),
        "{all}"
    );
    assert!(
        all.contains(&format!("the account may not post in {private}")),
        "{all}"
    );
    assert!(all.contains("the destination refuses us"), "{all}");
    write_config(&s, 9, &hs, "#nowhere:localhost", "");
    let all = run(&bot);
    assert!(
        all.contains(
            "FAILED mx (matrix): resolving #nowhere:localhost: HTTP 404 Not Found: M_NOT_FOUND"
        ),
        "{all}"
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Outcome-to-homeserver latency: result files renamed into the watched directory 1.2 s apart
/// (above the pace of 1 s; Synapse's rate limit set high); from each rename (wall clock) to the
/// event's `origin_server_ts` (the same machine's clock, milliseconds).
#[test]
#[ignore = "measurement"]
fn measure_outcome_to_matrix_latency() {
    let Some(python) = synapse_python() else {
        return;
    };
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let hs = Synapse::start(&python, 100.0, 100);
    let (room, bot, bob) = room_with_bot(&hs);
    let s = Setup::new();
    let peer = Peer::start(0);
    write_config(&s, peer.port(), &hs, &room, "when = \"always\"");
    let mut agent = Agent::start_with(&s.config, s.tmp.path(), |c| {
        c.env("NB_TEST_MATRIX_TOKEN", &bot);
    });
    agent.wait_started(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let mut renamed = Vec::with_capacity(n);
    for i in 0..n {
        let tmp = s.watched.join(format!(".l{i:05}.tmp"));
        std::fs::write(&tmp, result_json(&format!("lat{i}"), "failure", i)).unwrap();
        std::fs::rename(&tmp, s.watched.join(format!("l{i:05}.json"))).unwrap();
        renamed.push(std::time::SystemTime::now());
        std::thread::sleep(Duration::from_millis(1200));
    }
    let got = hs.wait_messages(&room, &bob, n, Duration::from_secs(60));
    assert_eq!(got.len(), n, "{}", agent.log_text());
    let mut lat: Vec<Duration> = got
        .iter()
        .map(|e| {
            let id = id_of(e["content"]["body"].as_str().unwrap()).unwrap();
            let ts = std::time::UNIX_EPOCH
                + Duration::from_millis(e["origin_server_ts"].as_u64().unwrap());
            ts.duration_since(renamed[id]).unwrap_or_default()
        })
        .collect();
    lat.sort_unstable();
    println!(
        "BENCH matrix latency n={n} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat[n - 1].as_secs_f64() * 1e3
    );
    drop(peer);
}
