//! The `webhook` channel end to end (issue 9): the real agent (`nagbridge run`, the built
//! binary as a child process) delivers to the local HTTP double (tests/common/http_double.rs)
//! and to an in-process NSCA receiver. Signatures are checked by the double with the secret
//! (and once by Python's hmac module); bodies are parsed as JSON; failures are scripted (429
//! with Retry-After, 5xx, 404, 400); the hook's URL token must never show in the agent's log,
//! `nagbridge status` or the heartbeat. Reliability: an outage of the hook during 1,000
//! outcomes, SIGKILL during hook delivery, and `when = "change"` across a restart.
//!
//! Measurements (`#[ignore]`, run by scripts/bench-channels): outcome-to-hook latency and agent
//! CPU per 1,000 outcomes with and without a web hook channel.
mod agent_support;
mod common;

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use agent_support::*;
use common::http_double::{HttpDouble, Reply, Request};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

/// The secret part of the hook's URL: it must never show anywhere.
const TOKEN: &str = "T0KEN-5ecr3t-7a1b";
const HMAC_KEY: &str = "hmac-k3y-90fe";
const AUTH: &str = "Bearer auth-v4lue-c0de";

fn hook_path() -> String {
    format!("/hooks/{TOKEN}")
}

fn nagbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(args)
        .env("NB_TEST_HOOK_AUTH", AUTH)
        .env_remove("NAGBRIDGE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The agent's config: NSCA at `nsca`, heartbeat `heartbeat`, a webhook channel "hook" at
/// `hook` (a full URL) with `extra` keys.
fn config(s: &Setup, nsca: u16, heartbeat: &str, hook: &str, extra: &str) {
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "{heartbeat}"
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
name = "hook"
type = "webhook"
url = "{hook}"
{extra}
"#
    ));
}

fn status(s: &Setup) -> (i32, String, Value) {
    let c = s.config.to_str().unwrap();
    let plain = nagbridge(&["status", "-c", c]);
    let out = nagbridge(&["status", "--json", "-c", c]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&plain.stdout), text(&plain.stderr)),
        v,
    )
}

/// Entries in `spool/hook/<dir>` (a quarantined entry's `.why` file not counted).
fn hook_spool(s: &Setup, dir: &str) -> usize {
    std::fs::read_dir(s.state.join("spool/hook").join(dir))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".why"))
                .count()
        })
        .unwrap_or(0)
}

/// The heartbeat of the service `nagbridge` that arrived last.
fn last_heartbeat(got: &[nsca::packet::PassiveCheck]) -> Option<nsca::packet::PassiveCheck> {
    got.iter().rev().find(|c| c.service == "nagbridge").cloned()
}

#[track_caller]
fn assert_no_token(what: &str, haystack: &str) {
    for secret in [TOKEN, HMAC_KEY, "auth-v4lue-c0de"] {
        assert!(
            !haystack.contains(secret),
            "{secret} shows in {what}:\n{haystack}"
        );
    }
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The double's check of every request of a signed hook.
fn signed_validator(method: &'static str) -> impl Fn(&Request) -> Result<(), String> {
    move |r: &Request| {
        if r.method != method {
            return Err(format!("method {} (want {method})", r.method));
        }
        if r.path != hook_path() {
            return Err(format!("path {}", r.path));
        }
        if r.header("content-type") != Some("application/json") {
            return Err(format!("content-type {:?}", r.header("content-type")));
        }
        let want = format!("sha256={}", hmac_hex(HMAC_KEY.as_bytes(), &r.body));
        if r.header("x-nagbridge-signature-256") != Some(want.as_str()) {
            return Err(format!(
                "bad signature {:?}",
                r.header("x-nagbridge-signature-256")
            ));
        }
        serde_json::from_slice::<Value>(&r.body).map_err(|e| format!("not JSON: {e}"))?;
        Ok(())
    }
}

fn id_in(r: &Request) -> Option<usize> {
    id_of(&r.text())
}

/// The signed default body: every field of the outcome, `state` and `agent`, the configured
/// headers, delivered once; NSCA gets it too; the token shows nowhere.
#[test]
fn signed_default_body_arrives_once_with_the_configured_headers() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.validate(signed_validator("PUT"));
    let key_file = s.tmp.path().join("hmac.key");
    std::fs::write(&key_file, format!("{HMAC_KEY}\n")).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        &format!(
            "when = \"always\"\nmethod = \"PUT\"\nhmac_secret = {{ file = {:?} }}\n\
             headers = {{ Authorization = {{ env = \"NB_TEST_HOOK_AUTH\" }}, \"X-Team\" = \"ops\" }}",
            key_file.display().to_string()
        ),
    );
    let mut agent = Agent::start_with(&s.config, s.tmp.path(), |c| {
        c.env("NB_TEST_HOOK_AUTH", AUTH);
    });
    agent.wait_started(Duration::from_secs(10));
    let result = json!({
        "job": "nightly-db", "host": "db01", "status": "warning", "tool": "restic",
        "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
        "bytes": 1234567, "files": 4200,
        "items": [{"name": "db1", "status": "success", "bytes": 1000, "message": null},
                  {"name": "db2", "status": "warning", "message": "1 file unreadable"}],
        "summary": "1 file could not be read, 1.2 MB added",
        "errors": ["open /srv/x: permission denied"]
    });
    s.drop_file("nightly.json", &format!("{result}\n"));
    let got = hook.wait_count(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "{}", agent.log_text());
    assert!(hook.violations().is_empty(), "{:?}", hook.violations());
    let r = &got[0];
    assert_eq!(r.header("authorization"), Some(AUTH));
    assert_eq!(r.header("x-team"), Some("ops"));
    assert!(r
        .header("user-agent")
        .is_some_and(|u| u.starts_with("nagbridge/")));
    let delivery = r.header("x-nagbridge-delivery").unwrap_or_default();
    assert!(delivery.len() > 20, "{delivery:?}");
    let v = r.json();
    assert_eq!(v["job"], "nightly-db");
    assert_eq!(v["host"], "db01");
    assert_eq!(v["status"], "warning");
    assert_eq!(v["state"], "WARNING");
    assert_eq!(v["agent"], "backup01");
    assert_eq!(v["duration_s"], Value::Null);
    assert_eq!(v["bytes"], 1234567);
    assert_eq!(v["items"][1]["message"], "1 file unreadable");
    assert_eq!(v["errors"], json!(["open /srv/x: permission denied"]));
    assert!(v["source"].as_str().unwrap().ends_with("nightly.json"));
    // An implementation we did not write agrees on the signature.
    let py = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys;print('sha256='+hmac.new(sys.argv[1].encode(),sys.stdin.buffer.read(),hashlib.sha256).hexdigest())",
            HMAC_KEY,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    if let Ok(mut py) = py {
        use std::io::Write;
        py.stdin.take().unwrap().write_all(&r.body).unwrap();
        let out = py.wait_with_output().unwrap();
        assert_eq!(
            text(&out.stdout).trim(),
            r.header("x-nagbridge-signature-256").unwrap()
        );
    }
    // NSCA too; then nothing more arrives at the hook.
    let checks = peer.wait_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(checks.len(), 1);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(hook.count(), 1);
    assert_eq!(hook_spool(&s, "new"), 0);
    let mut st = status(&s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while st.2["destinations"][1]["delivered"] != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        st = status(&s);
    }
    let (_, plain, json) = st;
    // (exit 1: the job has no Nagios service, which is not the channel's business)
    assert!(!json["problems"].to_string().contains("hook"), "{plain}");
    let d = &json["destinations"][1];
    assert_eq!(d["name"], "hook");
    assert_eq!(d["delivered"], 1, "{json}");
    let shown = format!("webhook hook (http://127.0.0.1:{}/<redacted>)", hook.port());
    assert_eq!(d["describe"], shown.as_str(), "{json}");
    assert!(plain.contains(&shown), "{plain}");
    let log = agent.log_text();
    assert!(
        log.contains(&format!(
            "delivered nightly-db WARNING to {shown}: PUT http://127.0.0.1:{}/<redacted>",
            hook.port()
        )),
        "{log}"
    );
    assert_no_token("the log", &log);
    assert_no_token("status", &format!("{plain}{json}"));
}

/// A body template: values escaped as JSON, so an error line full of quotes, backslashes,
/// newlines and braces stays one string and adds no key; `"{bytes}"` alone is a number.
#[test]
fn body_template_escapes_a_hostile_error_line() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        r#"body = '''{"text": "{state}: {job} on {host}\n{errors}", "size": "{bytes}", "list": "{errors}", "agent": "{agent}"}'''"#,
    );
    let _agent = s.start_agent();
    let hostile = "it said \"}, \"admin\": true, \"x\": \"\\\\ back\\slash\nnew line\r\ttab {job} {{ }} \u{7}";
    let result = json!({"job": "db \"main\"", "status": "failure", "bytes": 42,
                        "errors": [hostile, "second"]});
    s.drop_file("r.json", &format!("{result}\n"));
    let got = hook.wait_count(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1);
    let v = got[0].json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{v}");
    assert!(v.get("admin").is_none());
    assert_eq!(
        v["text"],
        format!("CRITICAL: db \"main\" on backup01\n{hostile}\nsecond")
    );
    assert_eq!(v["list"], json!([hostile, "second"]));
    assert_eq!(v["size"], 42);
    assert_eq!(v["agent"], "backup01");
    // Key order as written.
    assert!(got[0].text().starts_with("{\"text\":"), "{}", got[0].text());
}

/// 429 with `Retry-After: 2`: the next attempt comes 2 s later (not earlier, not much later),
/// and the outcome is delivered once.
#[test]
fn retry_after_is_honoured_exactly_and_the_outcome_delivered_once() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.script([Reply::too_many("2")]);
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let agent = s.start_agent();
    s.drop_file("r.json", &result_json("nightly", "success", 7));
    let got = hook.wait_count(2, Duration::from_secs(15));
    assert_eq!(got.len(), 2, "{}", agent.log_text());
    let gap = got[1].at - got[0].at;
    eprintln!("429 Retry-After: 2 -> next attempt after {gap:?}");
    assert!(
        gap >= Duration::from_secs(2) && gap < Duration::from_millis(2600),
        "gap {gap:?}"
    );
    assert_eq!(
        got[0].header("x-nagbridge-delivery"),
        got[1].header("x-nagbridge-delivery"),
        "the same delivery id on every attempt"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(hook.count(), 2);
    assert_eq!(hook_spool(&s, "new") + hook_spool(&s, "quarantine"), 0);
    let log = agent.log_text();
    assert!(
        log.contains(
            "HTTP 429 Too Many Requests: rate limited (the server asks to retry after 2s)"
        ),
        "{log}"
    );
    assert_no_token("the log", &log);
}

/// 500, 503, 502, then success: retried with backoff and delivered once.
#[test]
fn server_errors_are_retried_until_delivered() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.script([
        Reply::status(500).body("boom"),
        Reply::status(503),
        Reply::status(502),
    ]);
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let agent = s.start_agent();
    s.drop_file("r.json", &result_json("nightly", "success", 1));
    let got = hook.wait_count(4, Duration::from_secs(30));
    assert_eq!(got.len(), 4, "{}", agent.log_text());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(hook.count(), 4);
    assert_eq!(hook_spool(&s, "new") + hook_spool(&s, "quarantine"), 0);
    assert!(agent
        .log_text()
        .contains("HTTP 500 Internal Server Error: boom"));
}

/// 404: the channel is dead. It sends nothing more, the heartbeat turns WARNING naming it,
/// `status --json` says why, and NSCA goes on delivering. The token shows nowhere.
#[test]
fn a_missing_hook_stops_the_channel_and_nsca_goes_on() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.set_default(Reply::status(404).body("no_service"));
    config(
        &s,
        peer.port(),
        "1s",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let agent = s.start_agent();
    s.drop_file("a.json", &result_json("nightly", "failure", 1));
    assert_eq!(hook.wait_count(1, Duration::from_secs(15)).len(), 1);
    for i in 2..=4 {
        s.drop_file(&format!("r{i}.json"), &result_json("nightly", "failure", i));
    }
    let got = peer.wait_until(Duration::from_secs(20), |g| {
        (1..=4).all(|i| g.iter().any(|c| id_of(&c.output) == Some(i)))
            && last_heartbeat(g).is_some_and(|h| h.return_code == 1 && h.output.contains("is dead"))
    });
    let hb = last_heartbeat(&got).unwrap_or_else(|| panic!("no heartbeat:\n{}", agent.log_text()));
    assert_eq!(hb.return_code, 1, "{}", hb.output);
    let name = format!("webhook hook (http://127.0.0.1:{}/<redacted>)", hook.port());
    assert!(
        hb.output
            .contains(&format!("{name} is dead, delivery stopped")),
        "{}",
        hb.output
    );
    assert!(hb.output.contains("HTTP 404 Not Found"), "{}", hb.output);
    // Nothing more was sent to the dead hook; its outcomes stay spooled.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hook.count(), 1);
    assert_eq!(hook_spool(&s, "new"), 4);
    let (code, plain, v) = status(&s);
    assert_eq!(code, 1, "{plain}");
    let d = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "hook")
        .unwrap()
        .clone();
    assert!(
        d["dead"].as_str().is_some_and(|w| w.contains("HTTP 404")),
        "{v}"
    );
    assert!(plain.contains("DEAD"), "{plain}");
    let heartbeats: String = got.iter().map(|c| c.output.clone()).collect();
    assert_no_token("the heartbeat", &heartbeats);
    assert_no_token("status", &format!("{plain}{v}"));
    assert_no_token("the log", &agent.log_text());
}

/// 400: the sink sends the plain form once (no lists); refused again, the entry is
/// quarantined with the reason, the heartbeat says "quarantined", and the next outcome goes
/// on. A refusal of the full form only is delivered in its plain form.
#[test]
fn a_refused_payload_is_sent_plain_once_then_quarantined() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.script([
        Reply::status(400).body("invalid_payload"),
        Reply::status(400).body("still invalid"),
    ]);
    config(
        &s,
        peer.port(),
        "1s",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let agent = s.start_agent();
    let result = json!({"job": "nightly", "status": "failure", "summary": "id=00001",
                        "errors": ["disk full"], "items": [{"name": "vm1", "status": "failure"}]});
    s.drop_file("a.json", &format!("{result}\n"));
    let got = hook.wait_count(2, Duration::from_secs(15));
    assert_eq!(got.len(), 2);
    let (full, plain) = (got[0].json(), got[1].json());
    assert_eq!(full["errors"], json!(["disk full"]));
    for k in ["errors", "items", "warnings"] {
        assert!(plain.get(k).is_none(), "{k} in {plain}");
    }
    assert_eq!(plain["text"], "[CRITICAL] nightly on backup01: id=00001");
    assert_eq!(plain["error_count"], 1);
    assert!(wait_for(Duration::from_secs(5), || hook_spool(
        &s,
        "quarantine"
    ) == 1));
    // The next one goes on; one refused in full but taken plain is delivered.
    hook.script([Reply::status(422)]);
    s.drop_file("b.json", &result_json("nightly", "failure", 2));
    let got = hook.wait_count(4, Duration::from_secs(15));
    assert_eq!(got.len(), 4);
    assert!(got[3].json().get("errors").is_none());
    let got = peer.wait_until(Duration::from_secs(15), |g| {
        last_heartbeat(g).is_some_and(|h| h.return_code == 1 && h.output.contains("quarantined"))
    });
    let hb = last_heartbeat(&got).unwrap();
    assert!(
        hb.output
            .contains("1 outcome quarantined in spool/hook/quarantine"),
        "{}",
        hb.output
    );
    assert_eq!(hook_spool(&s, "quarantine"), 1);
    assert_eq!(hook_spool(&s, "new"), 0);
    let log = agent.log_text();
    assert!(
        log.contains("HTTP 400 Bad Request: invalid_payload: the payload was refused; the plain form too: HTTP 400 Bad Request: still invalid"),
        "{log}"
    );
    assert_no_token("the log", &log);
    let heartbeats: String = got.iter().map(|c| c.output.clone()).collect();
    assert_no_token("the heartbeat", &heartbeats);
}

/// The hook is down while 1,000 outcomes arrive: NSCA delivers them all meanwhile; once the
/// hook is up (same port), every outcome reaches it exactly once.
#[test]
fn hook_down_while_1000_outcomes_arrive_then_all_delivered_once() {
    const N: usize = 1000;
    let s = Setup::new();
    let peer = Peer::start(0);
    let mut hook = HttpDouble::start();
    hook.stop();
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let agent = s.start_agent();
    let t0 = Instant::now();
    for f in 0..10 {
        let lines: String = (0..100)
            .map(|i| result_json("outage", "failure", f * 100 + i))
            .collect();
        s.drop_file(&format!("r{f:02}.json"), &lines);
    }
    let got = peer.wait_ids(N, Duration::from_secs(60));
    let nsca_time = t0.elapsed();
    assert_eq!(distinct_ids(&got, N), N, "{}", agent.log_text());
    assert!(wait_for(Duration::from_secs(20), || hook_spool(&s, "new") == N));
    eprintln!("hook down: NSCA delivered all {N} in {nsca_time:?}");
    hook.restart();
    let t1 = Instant::now();
    let got = hook.wait_until(Duration::from_secs(90), |r| {
        let mut ids: Vec<usize> = r.iter().filter_map(id_in).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() == N
    });
    let recovery = t1.elapsed();
    let mut per_id: HashMap<usize, usize> = HashMap::new();
    for r in &got {
        *per_id
            .entry(id_in(r).expect("an id in every body"))
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), N, "{}", agent.log_text());
    assert!(wait_for(Duration::from_secs(10), || hook_spool(&s, "new") == 0));
    std::thread::sleep(Duration::from_millis(500));
    let total = hook.count();
    eprintln!("hook up: all {N} delivered {recovery:?} later, {total} requests");
    assert_eq!(total, N, "duplicates");
    // NSCA was not held up and got each once.
    assert_eq!(peer.count(), N);
}

/// SIGKILL four times while the hook (answering in 20 ms) receives 300 spooled outcomes,
/// restarting the agent each time: every outcome arrives at least once, and at most two
/// duplicates per kill (the request in flight).
#[test]
fn kill_9_during_hook_delivery_loses_nothing() {
    const N: usize = 300;
    const KILLS: usize = 4;
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.set_default(Reply::ok().after(Duration::from_millis(20)));
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let mut agent = s.start_agent();
    for f in 0..3 {
        let lines: String = (0..100)
            .map(|i| result_json("killed", "success", f * 100 + i))
            .collect();
        s.drop_file(&format!("k{f:02}.json"), &lines);
    }
    // Every outcome is spooled for both destinations once NSCA (fast) has them all: from
    // then on the kills hit the hook's delivery (about 7 s for 300 at 20 ms each).
    let got = peer.wait_ids(N, Duration::from_secs(30));
    assert_eq!(distinct_ids(&got, N), N, "{}", agent.log_text());
    let mut at_kill = Vec::new();
    for k in 0..KILLS {
        std::thread::sleep(Duration::from_millis(300 + 250 * k as u64));
        agent.kill9();
        at_kill.push((hook.count(), hook_spool(&s, "new")));
        agent = s.start_agent();
    }
    let got = hook.wait_until(Duration::from_secs(60), |r| {
        let mut ids: Vec<usize> = r.iter().filter_map(id_in).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() == N
    });
    let mut per_id: HashMap<usize, usize> = HashMap::new();
    let mut delivery_ids: HashMap<usize, String> = HashMap::new();
    for r in &got {
        let id = id_in(r).unwrap();
        *per_id.entry(id).or_default() += 1;
        // A duplicate carries the same X-Nagbridge-Delivery: the receiver can drop it.
        let d = r.header("x-nagbridge-delivery").unwrap().to_string();
        assert_eq!(delivery_ids.entry(id).or_insert_with(|| d.clone()), &d);
    }
    let missing: Vec<usize> = (0..N).filter(|i| !per_id.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} missing, e.g. {:?}; at kills (requests, spooled): {at_kill:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        agent.log_text()
    );
    assert!(wait_for(Duration::from_secs(10), || hook_spool(&s, "new") == 0));
    let dups: usize = per_id.values().map(|c| c - 1).sum();
    eprintln!("kill -9 x{KILLS} during hook delivery: at kills {at_kill:?}, {dups} duplicates");
    assert!(dups <= KILLS * 2, "{dups} duplicates");
    assert_eq!(hook_spool(&s, "quarantine"), 0);
    drop(peer);
}

/// `when = "change"`: the first outcome of a job is sent; after a restart, a repeat of the
/// same status is not, a changed one is.
#[test]
fn change_state_survives_a_restart() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"change\"",
    );
    let agent = s.start_agent();
    s.drop_file("a.json", &result_json("nightly", "failure", 1));
    assert_eq!(hook.wait_count(1, Duration::from_secs(15)).len(), 1);
    peer.wait_until(Duration::from_secs(10), |g| g.len() == 1);
    let (status, _, log) = agent.terminate(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    let agent = s.start_agent();
    // A repeat: NSCA gets it, the channel does not.
    s.drop_file("b.json", &result_json("nightly", "failure", 2));
    let got = peer.wait_until(Duration::from_secs(15), |g| g.len() == 2);
    assert_eq!(got.len(), 2, "{}", agent.log_text());
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(hook.count(), 1);
    // A change: sent.
    s.drop_file("c.json", &result_json("nightly", "success", 3));
    let got = hook.wait_count(2, Duration::from_secs(15));
    assert_eq!(got.len(), 2);
    assert_eq!(id_in(&got[1]), Some(3));
    assert_eq!(got[1].json()["state"], "OK");
}

// ---- measurements (scripts/bench-channels) ----

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Outcome-to-hook latency: 200 result files renamed into the watched directory 20 ms apart;
/// from each rename to the arrival of its request at the double. Prints p50/p99/max.
#[test]
#[ignore = "measurement: scripts/bench-channels"]
fn measure_outcome_to_hook_latency() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"always\"",
    );
    let _agent = s.start_agent();
    std::thread::sleep(Duration::from_millis(500));
    let mut renamed = Vec::with_capacity(n);
    for i in 0..n {
        let tmp = s.watched.join(format!(".l{i:05}.tmp"));
        std::fs::write(&tmp, result_json("latency", "failure", i)).unwrap();
        let path = s.watched.join(format!("l{i:05}.json"));
        std::fs::rename(&tmp, &path).unwrap();
        renamed.push(Instant::now());
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = hook.wait_count(n, Duration::from_secs(60));
    assert_eq!(got.len(), n);
    let mut lat: Vec<Duration> = got
        .iter()
        .map(|r| r.at - renamed[id_in(r).unwrap()])
        .collect();
    lat.sort_unstable();
    println!(
        "BENCH latency n={n} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat[n - 1].as_secs_f64() * 1e3
    );
}

/// Agent CPU (utime + stime) to take 1,000 outcomes (10 files of 100) and deliver them: to
/// NSCA alone, and to NSCA and a web hook channel (`when = "always"`, every outcome).
#[test]
#[ignore = "measurement: scripts/bench-channels"]
fn measure_agent_cpu_per_1000_outcomes() {
    let n: usize = 1000;
    let tick = 1000.0 / 100.0; // ms per clock tick (USER_HZ = 100 on Linux)
    for with_hook in [false, true] {
        let s = Setup::new();
        let peer = Peer::start(0);
        let hook = HttpDouble::start();
        let url = hook.url(&hook_path());
        if with_hook {
            config(&s, peer.port(), "off", &url, "when = \"always\"");
        } else {
            // The same config without the channel.
            config(&s, peer.port(), "off", &url, "when = \"never\"");
        }
        let agent = s.start_agent();
        std::thread::sleep(Duration::from_secs(1));
        let before = agent.cpu_ticks();
        let t0 = Instant::now();
        for f in 0..10 {
            let lines: String = (0..100)
                .map(|i| result_json("cpu", "failure", f * 100 + i))
                .collect();
            s.drop_file(&format!("c{f:02}.json"), &lines);
        }
        let got = peer.wait_ids(n, Duration::from_secs(60));
        assert_eq!(distinct_ids(&got, n), n);
        if with_hook {
            assert_eq!(hook.wait_count(n, Duration::from_secs(60)).len(), n);
        }
        let wall = t0.elapsed();
        // Let the last acks and checkpoint writes finish.
        std::thread::sleep(Duration::from_millis(300));
        let used = (agent.cpu_ticks() - before) as f64 * tick;
        println!(
            "BENCH cpu destinations={} outcomes={n} cpu_ms={used:.0} wall_ms={:.0} \
             hook_connections={}",
            if with_hook { "nsca+webhook" } else { "nsca" },
            wall.as_secs_f64() * 1e3,
            hook.connections()
        );
    }
}

/// A slow hook: the request times out (`timeout = "1s"`), is retryable, and is sent again.
#[test]
fn a_hanging_hook_times_out_and_is_tried_again() {
    let s = Setup::new();
    let peer = Peer::start(0);
    let hook = HttpDouble::start();
    hook.script([Reply::hang()]);
    config(
        &s,
        peer.port(),
        "off",
        &hook.url(&hook_path()),
        "when = \"always\"\ntimeout = \"1s\"",
    );
    let agent = s.start_agent();
    s.drop_file("r.json", &result_json("nightly", "failure", 1));
    let got = hook.wait_count(2, Duration::from_secs(20));
    assert_eq!(got.len(), 2, "{}", agent.log_text());
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_secs(1), "{gap:?}");
    assert!(wait_for(Duration::from_secs(5), || hook_spool(&s, "new") == 0));
    let log = agent.log_text();
    assert!(
        log.contains("delivery failed, will retry: timed out"),
        "{log}"
    );
    assert_no_token("the log", &log);
}

/// https with a private CA: `ca_file` makes the hook's certificate trusted (rustls); without
/// it the same hook fails as an unknown issuer, retryable, token not shown. The server is
/// Python's http.server with its ssl module, the certificates made by the openssl command.
#[test]
fn https_hook_with_a_private_ca_file() {
    if !common::have_peer("/usr/bin/openssl") || !common::have_peer("/usr/bin/python3") {
        return;
    }
    let s = Setup::new();
    let dir = s.tmp.path();
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    };
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -days 2 -subj /CN=nagbridge-test-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null");
    sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
        -out srv.csr -subj /CN=127.0.0.1 2>/dev/null && \
        printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext && \
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
        -days 2 -extfile ext 2>/dev/null");
    let server = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length', 0)))
        sys.stdout.write(self.path + ' ' + body.decode() + '\n'); sys.stdout.flush()
        self.send_response(200); self.send_header('content-length', '2'); self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('srv.pem', 'srv.key')
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let out_path = dir.join("server.out");
    let mut py = Command::new("/usr/bin/python3")
        .args(["-c", server])
        .current_dir(dir)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _ = &mut py;
    let py = Kill(py);
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&out_path).is_ok_and(|t| t.ends_with('\n'))
    }));
    let port: u16 = std::fs::read_to_string(&out_path)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let peer = Peer::start(0);
    let url = format!("https://127.0.0.1:{port}/hooks/{TOKEN}");
    s.write_config(&format!(
        r#"
[agent]
host_name = "backup01"
state_dir = "STATE"
heartbeat = "off"
quiet_period = "1s"
[nsca]
server = "127.0.0.1:{}"
encryption = "aes256"
password = "{PASSWORD}"
[[watch]]
path = "WATCHED"
format = "native"
[[channel]]
name = "tls"
type = "webhook"
when = "always"
url = "{url}"
ca_file = "{}"
[[channel]]
name = "tls-noca"
type = "webhook"
when = "always"
url = "{url}"
"#,
        peer.port(),
        dir.join("ca.pem").display()
    ));
    let agent = s.start_agent();
    s.drop_file("r.json", &result_json("nightly", "failure", 1));
    assert!(
        wait_for(Duration::from_secs(15), || std::fs::read_to_string(
            &out_path
        )
        .is_ok_and(|t| t.lines().count() >= 2)),
        "{}",
        agent.log_text()
    );
    assert!(wait_for(Duration::from_secs(10), || agent
        .log_text()
        .contains("delivery failed, will retry")));
    std::thread::sleep(Duration::from_millis(300));
    let got = std::fs::read_to_string(&out_path).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 2, "{got}");
    assert!(lines[1].starts_with(&format!("/hooks/{TOKEN} {{\"job\":\"nightly\"")));
    let log = agent.log_text();
    let failure = log
        .lines()
        .find(|l| l.contains("delivery failed, will retry"))
        .unwrap();
    eprintln!("without ca_file: {failure}");
    assert!(
        failure.contains("tls-noca") && failure.to_lowercase().contains("certificate"),
        "{failure}"
    );
    assert_no_token("the log", &log);
    drop(py);
}
