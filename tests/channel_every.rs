//! The agent with every channel type configured at once: its memory (a measurement, ignored by
//! default: `cargo test --release --test channel_every -- --ignored --nocapture`).
//!
//! NSCA at the in-process receiver; the eleven HTTP channels (webhook, Slack, Mattermost,
//! Discord, Teams, Google Chat, Telegram, ntfy, Gotify, PagerDuty, Matrix) at local doubles
//! answering as the platform does; email and XMPP at a closed port, so that their outcomes pile
//! up in their spools while they retry (the worst case for memory).

mod agent_support;
mod common;

use std::time::Duration;

use agent_support::*;
use common::http_double::{HttpDouble, Reply};
use serde_json::json;

const TOKEN: &str = "TESTTOKEN0123456789";

fn channel(name: &str, keys: &str) -> String {
    format!("\n[[channel]]\nname = \"{name}\"\nwhen = \"always\"\n{keys}\n")
}

#[test]
#[ignore = "measurement"]
fn measure_agent_memory_with_every_channel_type() {
    let n_files = 10;
    let per_file = 100;
    let s = Setup::new();
    let peer = Peer::start(0);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // the listener is dropped: nothing answers on this port
    let double = |reply: Reply| {
        let d = HttpDouble::start();
        d.set_default(reply);
        d
    };
    let doubles = [
        ("hook", double(Reply::ok())),
        ("slack", double(Reply::ok().body("ok"))),
        ("mattermost", double(Reply::ok().body("ok"))),
        ("discord", double(Reply::json(200, json!({"id": "1"})))),
        ("teams", double(Reply::status(202))),
        (
            "googlechat",
            double(Reply::json(200, json!({"name": "spaces/S/messages/M"}))),
        ),
        (
            "telegram",
            double(Reply::json(
                200,
                json!({"ok": true, "result": {"message_id": 1}}),
            )),
        ),
        (
            "ntfy",
            double(Reply::json(
                200,
                json!({"id": "x", "time": 1, "event": "message", "topic": "t"}),
            )),
        ),
        (
            "gotify",
            double(Reply::json(200, json!({"id": 1, "appid": 1}))),
        ),
        (
            "pagerduty",
            double(Reply::json(
                202,
                json!({"status": "success", "message": "Event processed"}),
            )),
        ),
        (
            "matrix",
            double(Reply::json(200, json!({"event_id": "$e1"}))),
        ),
    ];
    let url = |name: &str, path: &str| {
        doubles
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.url(path))
            .unwrap()
    };
    let channels = [
        channel("hook", &format!("type = \"webhook\"\nurl = \"{}\"", url("hook", "/h"))),
        channel(
            "slack",
            &format!(
                "type = \"slack\"\nurl = \"{}\"",
                url("slack", &format!("/services/T/B/{TOKEN}"))
            ),
        ),
        channel(
            "mattermost",
            &format!(
                "type = \"mattermost\"\nurl = \"{}\"",
                url("mattermost", &format!("/hooks/{TOKEN}"))
            ),
        ),
        channel(
            "discord",
            &format!(
                "type = \"discord\"\nurl = \"{}\"",
                url("discord", &format!("/api/webhooks/1/{TOKEN}"))
            ),
        ),
        channel(
            "teams",
            &format!(
                "type = \"teams\"\nurl = \"{}\"",
                url(
                    "teams",
                    "/workflows/w/triggers/manual/paths/invoke?api-version=1&sig=SIG"
                )
            ),
        ),
        channel(
            "googlechat",
            &format!(
                "type = \"googlechat\"\nurl = \"{}\"",
                url("googlechat", "/v1/spaces/S/messages?key=K&token=T")
            ),
        ),
        channel(
            "telegram",
            &format!(
                "type = \"telegram\"\ntoken = \"123456789:AAH-t3legram-5ecret_T0KEN-xyz\"\nchat_id = 42\napi_url = \"{}\"",
                url("telegram", "")
            ),
        ),
        channel(
            "ntfy",
            &format!(
                "type = \"ntfy\"\nurl = \"{}\"\ntoken = \"tk_{TOKEN}\"",
                url("ntfy", "/backups")
            ),
        ),
        channel(
            "gotify",
            &format!(
                "type = \"gotify\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"",
                url("gotify", "")
            ),
        ),
        channel(
            "pagerduty",
            &format!(
                "type = \"pagerduty\"\nrouting_key = \"0123456789abcdef0123456789abcdef\"\napi_url = \"{}\"",
                url("pagerduty", "/v2/enqueue")
            ),
        ),
        channel(
            "matrix",
            &format!(
                "type = \"matrix\"\nhomeserver = \"{}\"\naccess_token = \"syt_{TOKEN}\"\nroom = \"!room:localhost\"",
                url("matrix", "")
            ),
        ),
        channel(
            "email",
            &format!(
                "type = \"email\"\nserver = \"127.0.0.1:{closed}\"\nsecurity = \"none\"\ndangerous_no_tls = true\nfrom = \"a@localhost\"\nto = [\"b@localhost\"]"
            ),
        ),
        channel(
            "xmpp",
            &format!(
                "type = \"xmpp\"\njid = \"bot@localhost\"\npassword = \"pw\"\nserver = \"127.0.0.1:{closed}\"\nto = [\"ops@localhost\"]\ntimeout = \"2s\""
            ),
        ),
    ]
    .concat();
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
timeout = "3s"

[[watch]]
path = "WATCHED"
format = "native"
{channels}"#,
        peer.port()
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .args(["check-config", "-c"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let agent = s.start_agent();
    let mb = |field: &str| agent.proc_status_kb(field) as f64 / 1048576.0;
    std::thread::sleep(Duration::from_secs(2));
    let idle = mb("VmRSS");
    for f in 0..n_files {
        let lines: String = (0..per_file)
            .map(|i| result_json(&format!("job{}", i % 20), "failure", f * per_file + i) + "\n")
            .collect();
        s.drop_file(&format!("r{f:03}.json"), &lines);
    }
    let n = n_files * per_file;
    let got = peer.wait_ids(n, Duration::from_secs(120));
    assert_eq!(distinct_ids(&got, n), n, "{}", agent.log_text());
    // Let the fast channels work through their share for a while.
    std::thread::sleep(Duration::from_secs(20));
    let counts: Vec<String> = doubles
        .iter()
        .map(|(name, d)| format!("{name}={}", d.count()))
        .collect();
    println!(
        "BENCH every_channel idle_rss_mb={idle:.1} rss_mb={:.1} hwm_mb={:.1} outcomes={n} \
         delivered_after_20s: {}",
        mb("VmRSS"),
        mb("VmHWM"),
        counts.join(" ")
    );
    for (name, d) in &doubles {
        assert!(
            d.count() > 0,
            "{name} received nothing\n{}",
            agent.log_text()
        );
    }
}
