//! The `gotify` channel (issue 10) against a strict Gotify double (tests/chat_support):
//! `POST /message` with `X-Gotify-Key`, title, Markdown message, priority by status, the
//! display extra, a hostile 5,000-character error line, Gotify's error JSON (400, 401, 403,
//! 5xx), and the real agent through a 503 and an outage. The token never shows.
mod agent_support;
mod chat_support;
mod common;

use std::time::Duration;

use chat_support::*;
use common::http_double::{HttpDouble, Reply};
use nagbridge::retry::FailureClass;
use nagbridge::sinks::Sink;

const TOKEN: &str = "AppT0ken5ecret.x";

fn block(d: &HttpDouble) -> String {
    format!(
        "type = \"gotify\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"",
        d.url("/")
    )
}

fn double() -> HttpDouble {
    let d = HttpDouble::start();
    d.validate(gotify_validator(TOKEN));
    d.set_default(Reply::json(200, serde_json::json!({"id": 1, "appid": 1})));
    d
}

#[tokio::test]
async fn gotify_message_is_markdown_with_priority_by_status() {
    let d = double();
    let s = sink(&block(&d));
    assert_eq!(
        s.name(),
        format!("gotify chat (http://127.0.0.1:{}/message)", d.port())
    );
    assert_eq!(s.deliver_batch(&[entry(1, failure())]).await, Ok(1));
    assert!(d.violations().is_empty(), "{:?}", d.violations());
    let v = d.requests()[0].json();
    assert_eq!(v["title"], "❌ nightly-db FAILED on db01");
    assert_eq!(v["priority"], 8);
    assert_eq!(
        v["extras"]["client::display"]["contentType"],
        "text/markdown"
    );
    let m = v["message"].as_str().unwrap();
    for want in [
        "- **Status:** FAILED (CRITICAL)",
        "**Errors (1)**\n\n```text\nopen /srv/x: permission denied\n```",
        "- vm-102: failure, I/O error",
    ] {
        assert!(m.contains(want), "{want:?} not in {m}");
    }
}

#[tokio::test]
async fn gotify_hostile_5000_char_error_line_is_valid_and_harmless() {
    let d = double();
    let s = sink(&block(&d));
    assert_eq!(s.deliver_batch(&[entry(1, hostile())]).await, Ok(1));
    assert!(d.violations().is_empty(), "{:?}", d.violations());
    let m = d.requests()[0].json()["message"]
        .as_str()
        .unwrap()
        .to_string();
    // The summary (first paragraph) is escaped text; the errors sit in a fence longer than
    // any backtick run in them.
    assert!(
        m.starts_with("@here \\*\\*disk\\*\\* \\<i\\>full\\</i\\>"),
        "{}",
        &m[..60]
    );
    let errors = m.split("**Errors (3)**\n\n").nth(1).unwrap();
    let fence: String = errors.chars().take_while(|c| *c == '`').collect();
    assert!(fence.len() >= 4, "{fence}");
    let inner = &errors[fence.len()..];
    let close = inner.find(&format!("\n{fence}\n")).unwrap();
    assert!(!inner[..close].contains(&fence));
}

#[tokio::test]
async fn gotify_documented_answers_are_classified() {
    let d = double();
    let s = sink(&block(&d));
    let e = || entry(2, failure());
    d.script([gotify_error(
        400,
        "Bad Request",
        "Field 'extras' is invalid",
    )]);
    assert_eq!(s.deliver_batch(&[e()]).await, Ok(1));
    let got = d.requests();
    assert_eq!(got.len(), 2);
    assert!(
        got[1].json().get("extras").is_none(),
        "plain text, no Markdown"
    );
    for status in [401, 403] {
        d.clear();
        d.script([gotify_error(
            status,
            "Unauthorized",
            "you need to provide a valid access token or user credentials to access this api",
        )]);
        let err = s.deliver_batch(&[e()]).await.unwrap_err();
        assert_eq!(err.class, FailureClass::Dead, "{err}");
        assert_eq!(d.count(), 1);
        assert!(!err.message.contains("5ecret"));
    }
    d.script([Reply::status(503)]);
    assert_eq!(
        s.deliver_batch(&[e()]).await.unwrap_err().class,
        FailureClass::Retryable
    );
}

#[test]
fn gotify_agent_503_then_each_outcome_exactly_once() {
    let d = double();
    exactly_once_through_a_429(
        &d,
        &block(&d),
        Reply::status(503).body("upstream down"),
        10,
        Duration::ZERO,
    );
}

#[test]
fn gotify_agent_outage_then_each_outcome_exactly_once() {
    let mut d = double();
    let b = block(&d);
    let (nsca, recovery) = exactly_once_through_an_outage(&mut d, &b, 20);
    eprintln!("gotify outage: NSCA all in {nsca:?}; gotify all {recovery:?} after the restart");
}

#[test]
#[ignore = "measurement: outcome-to-double latency"]
fn measure_gotify_latency() {
    let d = double();
    measure_latency("gotify", &d, &block(&d), 100, Duration::from_millis(100));
}
