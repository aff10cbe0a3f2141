//! The email channel through a real MTA: Debian's Postfix, run with its own config directory
//! in a temp dir (STARTTLS required with the test CA's certificate), delivers into a Maildir;
//! the test reads the delivered files back and parses them as a mail client would.

mod email_support;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use email_support::*;
use mail_parser::{MessageParser, MimeHeaders};
use nagbridge::config::Config;
use nagbridge::outcome::Outcome;
use nagbridge::retry::FailureClass;
use nagbridge::sinks::{ChannelSink, Sink};
use nagbridge::spool::{Entry, EntryId};

fn sink(port: u16, ca: &TestCa, to: &str) -> ChannelSink {
    let text = format!(
        "[agent]\nhost_name = \"backup01.example.net\"\n[nsca]\nserver = \"n\"\n\
         [[channel]]\nname = \"admins\"\ntype = \"email\"\nserver = \"localhost:{port}\"\n\
         ca_file = \"{}\"\nfrom = \"Backups <nagbridge@example.net>\"\nto = [\"{to}\"]\n\
         cc = [\"cc@example.test\"]\nsubject = \"[{{state}}] {{job}} on {{host}} ({{status}})\"\n",
        ca.ca.display()
    );
    let c = Config::from_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    ChannelSink::build(&c.channels[0], &c.agent.host_name).unwrap()
}

fn entry() -> Entry {
    let outcome: Outcome = serde_json::from_str(
        r#"{"job":"vzdump-nightly","host":"pve1","status":"warning","tool":"vzdump",
        "started":"2026-11-24T01:00:00Z","finished":"2026-11-24T01:42:05Z","bytes":44237000000,
        "items":[{"name":"100 (web)","status":"success","bytes":20000000000},
                 {"name":"101 (db & <cache>)","status":"warning","message":"guest agent not running"}],
        "summary":"2 guests, 1 with warnings","warnings":["101: guest agent not running, backup without freeze"]}"#,
    )
    .unwrap();
    Entry {
        id: EntryId::new(1_795_000_000_000_001, 7, 99),
        spooled_at: Utc.with_ymd_and_hms(2026, 11, 24, 1, 42, 6).unwrap(),
        outcome,
    }
}

#[tokio::test]
async fn email_through_postfix_lands_in_a_maildir_and_parses_like_a_mail_client() {
    if !have_postfix() {
        return;
    }
    let ca = TestCa::new();
    let postfix = Postfix::start(&ca);
    let s = sink(postfix.port, &ca, "Ops Team <ops@example.test>");
    let e = entry();
    assert_eq!(s.deliver_batch(std::slice::from_ref(&e)).await, Ok(1));

    let ops = postfix.wait_delivered("ops", 1, Duration::from_secs(30));
    let cc = postfix.wait_delivered("cc", 1, Duration::from_secs(30));
    assert_eq!(
        (ops.len(), cc.len()),
        (1, 1),
        "maillog:\n{}",
        postfix.maillog()
    );
    let raw = std::fs::read(&ops[0]).unwrap();
    let m = MessageParser::default().parse(&raw).unwrap();

    // Headers as the client shows them.
    assert_eq!(
        m.subject(),
        Some("[WARNING] vzdump-nightly on pve1 (warning)")
    );
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Backups"), Some("nagbridge@example.net"))
    );
    let to = m.to().unwrap().first().unwrap();
    assert_eq!(
        (to.name(), to.address()),
        (Some("Ops Team"), Some("ops@example.test"))
    );
    assert_eq!(
        m.cc().unwrap().first().unwrap().address(),
        Some("cc@example.test")
    );
    assert_eq!(
        m.message_id(),
        Some(format!("{}.admins@backup01.example.net", e.id).as_str())
    );
    assert_eq!(m.date().unwrap().to_rfc3339(), "2026-11-24T01:42:06Z");
    assert!(m
        .in_reply_to()
        .as_text()
        .is_some_and(|t| t.starts_with("job.")));
    // Postfix received it over TLS and delivered it.
    let received = m.header_raw("Received").unwrap_or_default();
    assert!(received.contains("using TLS"), "{received}");
    assert!(m.header_raw("Delivered-To").is_some());

    // multipart/alternative with both parts.
    let ct = m.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!((m.text_body_count(), m.html_body_count()), (1, 1));
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.starts_with("⚠️ vzdump-nightly finished with warnings on pve1\n"),
        "{text}"
    );
    for needle in [
        "Status:    finished with warnings (WARNING)",
        "Finished:  2026-11-24 01:42:05 UTC",
        "Duration:  42m 05s",
        "Size:      41.2 GiB",
        "Items (2, problems first):\n  101 (db & <cache>): warning, guest agent not running\n  100 (web): success, 18.6 GiB",
        "Warnings (1):",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("101 (db &amp; &lt;cache&gt;): warning"),
        "escaped in HTML: {html}"
    );
    assert!(html.contains("finished with warnings (WARNING)"));

    // A recipient the MTA does not know: every message would bounce, so the channel is dead.
    let s = sink(postfix.port, &ca, "nobody-here@example.test");
    let err = s.deliver_batch(&[entry()]).await.unwrap_err();
    assert_eq!(err.class, FailureClass::Dead, "{err}");
    assert!(
        err.message
            .contains("refused the recipient <nobody-here@example.test>: 550 5.1.1"),
        "{err}"
    );
}
