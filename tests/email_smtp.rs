//! The email channel against Debian's aiosmtpd (real SMTP, started here): STARTTLS required,
//! implicit TLS, AUTH PLAIN and LOGIN, XOAUTH2 with a local token endpoint (including Gmail's
//! 334 challenge for a rejected token), and every failure class: wrong password and disabled
//! basic auth are dead, a missing STARTTLS or AUTH mechanism is a config problem, a refused
//! message is retried once as plain text, then rejected, 4xx is retryable.

mod email_support;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use email_support::*;
use mail_parser::{MessageParser, MimeHeaders};
use nagbridge::config::Config;
use nagbridge::outcome::Outcome;
use nagbridge::retry::FailureClass;
use nagbridge::sinks::{ChannelSink, Sink, SinkError};
use nagbridge::spool::{Entry, EntryId};

/// The sink of a one-channel config whose `[[channel]]` has `keys` besides name/type/from/to.
fn sink(keys: &str) -> ChannelSink {
    let text = format!(
        "[agent]\nhost_name = \"backup01\"\n[nsca]\nserver = \"n\"\n\
         [[channel]]\nname = \"admins\"\ntype = \"email\"\n\
         from = \"nagbridge <nagbridge@example.com>\"\nto = [\"ops@example.com\"]\ntimeout = \"10s\"\n{keys}\n"
    );
    let c = Config::from_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    ChannelSink::build(&c.channels[0], "backup01").unwrap()
}

fn entry(n: u64, job: &str, status: &str) -> Entry {
    let outcome: Outcome = serde_json::from_str(&format!(
        r#"{{"job":"{job}","host":"db01","status":"{status}","tool":"restic",
        "started":"2026-11-24T02:00:00Z","finished":"2026-11-24T02:03:10Z","bytes":1234567,
        "items":[{{"name":"vm-101","status":"success"}},{{"name":"vm-102","status":"failure","message":"I/O error"}}],
        "summary":"disk full","errors":["open /srv/x: permission denied"]}}"#
    ))
    .unwrap();
    Entry {
        id: EntryId::new(1_795_000_000_000_000 + n, n, 4242),
        spooled_at: Utc.with_ymd_and_hms(2026, 11, 24, 2, 3, 11).unwrap(),
        outcome,
    }
}

async fn deliver(s: &ChannelSink, entries: &[Entry]) -> Result<usize, SinkError> {
    s.deliver_batch(entries).await
}

fn starttls_keys(ca: &TestCa, port: u16) -> String {
    format!(
        "server = \"localhost:{port}\"\nca_file = \"{}\"\n",
        ca.ca.display()
    )
}

#[tokio::test]
async fn email_starttls_required_auth_plain_and_a_message_a_mail_client_reads() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(
        &ca,
        &[
            "--tls",
            "starttls",
            "--require-starttls",
            "--user",
            "alice:s3cret",
        ],
    );
    let s = sink(&format!(
        "{}username = \"alice\"\npassword = \"s3cret\"\n",
        starttls_keys(&ca, smtpd.port)
    ));
    assert_eq!(s.name(), format!("email localhost:{}", smtpd.port));
    let entries = [
        entry(1, "nightly-db", "failure"),
        entry(2, "nightly-db", "success"),
    ];
    assert_eq!(deliver(&s, &entries).await, Ok(2), "both in one session");
    let msgs = smtpd.messages();
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(m["tls"], true, "{m}");
        assert_eq!(m["login"], "alice");
        assert_eq!(m["mail_from"], "nagbridge@example.com");
        assert_eq!(m["rcpt_tos"][0], "ops@example.com");
    }
    let auths = smtpd.auths();
    assert_eq!(auths.len(), 1, "one login for the batch: {auths:?}");
    assert_eq!(auths[0]["mech"], "PLAIN");

    // Parsed as a mail client would.
    let raw = smtpd.raw(msgs[0]["file"].as_str().unwrap());
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("[CRITICAL] nightly-db on db01"));
    assert_eq!(
        m.message_id(),
        Some(format!("{}.admins@backup01", entries[0].id).as_str())
    );
    let ct = m.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(m.text_body_count(), 1);
    assert_eq!(m.html_body_count(), 1);
    // Lines end in CRLF on the wire.
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("❌ nightly-db FAILED on db01\n"), "{text}");
    for needle in [
        "Status:    FAILED (CRITICAL)",
        "Finished:  2026-11-24 02:03:10 UTC",
        "Duration:  3m 10s",
        "Size:      1.2 MiB",
        "  vm-102: failure, I/O error\n  vm-101: success",
        "Errors (1):\n  open /srv/x: permission denied",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("FAILED (CRITICAL)") && html.contains("#E01E5A"),
        "{html}"
    );
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    let thread = m.in_reply_to().as_text().unwrap().to_string();
    assert!(
        thread.starts_with("job.") && thread.ends_with(".admins@backup01"),
        "{thread}"
    );
    let raw2 = smtpd.raw(msgs[1]["file"].as_str().unwrap());
    let second = MessageParser::default().parse(&raw2).unwrap();
    assert_eq!(second.subject(), Some("[OK] nightly-db on db01"));
    assert_eq!(
        second.in_reply_to().as_text(),
        Some(thread.as_str()),
        "the runs of one job share a thread"
    );
    assert_eq!(
        m.date().unwrap().to_rfc3339(),
        "2026-11-24T02:03:11Z",
        "Date is when the outcome was spooled"
    );

    // A retry of the same entry is the same message (same Message-ID).
    assert_eq!(deliver(&s, &entries[..1]).await, Ok(1));
    let raw3 = smtpd.raw(smtpd.messages()[2]["file"].as_str().unwrap());
    let again = MessageParser::default().parse(&raw3).unwrap();
    assert_eq!(again.message_id(), m.message_id());
}

#[tokio::test]
async fn email_auth_login_when_plain_is_not_offered() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--user", "bob:pw", "--no-plain"]);
    let s = sink(&format!(
        "{}username = \"bob\"\npassword = \"pw\"\n",
        starttls_keys(&ca, smtpd.port)
    ));
    assert_eq!(deliver(&s, &[entry(1, "j", "failure")]).await, Ok(1));
    assert_eq!(smtpd.auths()[0]["mech"], "LOGIN");
    assert_eq!(smtpd.messages()[0]["login"], "bob");
}

#[tokio::test]
async fn email_implicit_tls() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--tls", "implicit", "--user", "carol:pw"]);
    std::env::set_var("NAGBRIDGE_TEST_SMTP_PW", "pw");
    let s = sink(&format!(
        "{}security = \"tls\"\nusername = \"carol\"\npassword = {{ env = \"NAGBRIDGE_TEST_SMTP_PW\" }}\n",
        starttls_keys(&ca, smtpd.port)
    ));
    assert_eq!(deliver(&s, &[entry(1, "j", "warning")]).await, Ok(1));
    assert_eq!(smtpd.messages()[0]["tls"], true);
    assert_eq!(smtpd.messages()[0]["login"], "carol");
    // The certificate is checked on this path too.
    let untrusted = sink(&format!(
        "server = \"localhost:{}\"\nsecurity = \"tls\"\nusername = \"carol\"\npassword = \"pw\"\n",
        smtpd.port
    ));
    let e = deliver(&untrusted, &[entry(2, "j", "warning")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Config, "{e}");
    assert!(
        e.message.contains("invalid peer certificate") && e.message.contains("ca_file"),
        "{e}"
    );
    assert_eq!(smtpd.auths().len(), 1);

    // Implicit TLS against a STARTTLS port.
    let plain = Smtpd::start(&ca, &["--user", "carol:pw"]);
    let wrong = sink(&format!(
        "{}security = \"tls\"\nusername = \"carol\"\npassword = \"pw\"\n",
        starttls_keys(&ca, plain.port)
    ));
    let e = deliver(&wrong, &[entry(3, "j", "warning")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Config, "{e}");
    assert!(
        e.message.contains("does not speak TLS from the first byte"),
        "{e}"
    );
}

#[tokio::test]
async fn email_wrong_password_is_dead_and_basic_auth_disabled_says_why() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--user", "alice:right"]);
    let s = sink(&format!(
        "{}username = \"alice\"\npassword = \"wrong\"\n",
        starttls_keys(&ca, smtpd.port)
    ));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Dead, "{e}");
    assert!(
        e.message
            .contains("refused the login of \"alice\": 535 5.7.8"),
        "{e}"
    );
    assert!(!e.message.contains("wrong"), "no secret in {e}");
    assert!(smtpd.messages().is_empty());

    // Microsoft 365 once basic authentication is off.
    let m365 = Smtpd::start(
        &ca,
        &[
            "--user",
            "alice:right",
            "--login-fail",
            "550 5.7.30 Basic authentication is not supported for Client Submission.",
        ],
    );
    let s = sink(&format!(
        "{}username = \"alice\"\npassword = \"right-but-basic\"\n",
        starttls_keys(&ca, m365.port)
    ));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Dead, "{e}");
    assert!(
        e.message
            .contains("550 5.7.30 Basic authentication is not supported"),
        "{e}"
    );
    assert!(e.message.contains("use an oauth2 table"), "{e}");

    // No login configured where the server wants one.
    let strict = Smtpd::start(&ca, &["--user", "alice:right", "--auth-required"]);
    let s = sink(&starttls_keys(&ca, strict.port));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Dead, "{e}");
    assert!(
        e.message
            .contains("refused the sender <nagbridge@example.com>: 530 5.7.0"),
        "{e}"
    );
    assert!(e.message.contains("the server wants a login"), "{e}");
}

#[tokio::test]
async fn email_starttls_is_required_never_downgraded() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    // A server (or a man in the middle) without STARTTLS.
    let smtpd = Smtpd::start(&ca, &["--tls", "none", "--auth-anytime", "--user", "a:pw"]);
    let s = sink(&format!(
        "{}username = \"a\"\npassword = \"pw\"\n",
        starttls_keys(&ca, smtpd.port)
    ));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Config, "{e}");
    assert!(e.message.contains("does not offer STARTTLS"), "{e}");
    assert!(smtpd.auths().is_empty(), "the password was never sent");
    assert!(smtpd.messages().is_empty(), "nothing sent in clear text");
}

#[tokio::test]
async fn email_untrusted_certificate_is_a_config_problem() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--user", "a:pw"]);
    // No ca_file: the test CA is not among the public roots.
    let s = sink(&format!(
        "server = \"localhost:{}\"\nusername = \"a\"\npassword = \"pw\"\n",
        smtpd.port
    ));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Config, "{e}");
    assert!(e.message.contains("ca_file"), "{e}");
    assert!(smtpd.auths().is_empty());
}

#[tokio::test]
async fn email_auth_offered_only_after_starttls_is_a_clear_config_problem() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    // aiosmtpd's default: AUTH only once the session is encrypted.
    let smtpd = Smtpd::start(&ca, &["--user", "a:pw"]);
    let s = sink(&format!(
        "server = \"localhost:{}\"\nsecurity = \"none\"\ndangerous_no_tls = true\nusername = \"a\"\npassword = \"pw\"\n",
        smtpd.port
    ));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Config, "{e}");
    assert!(
        e.message
            .contains("offers neither AUTH PLAIN nor AUTH LOGIN on an unencrypted connection"),
        "{e}"
    );
    assert!(e.message.contains("use security = \"starttls\""), "{e}");
    assert!(e.message.contains("it offers no AUTH at all"), "{e}");

    // Without a login, `none` works against a relay that needs none.
    let s = sink(&format!(
        "server = \"127.0.0.1:{}\"\nsecurity = \"none\"\ndangerous_no_tls = true\n",
        smtpd.port
    ));
    assert_eq!(deliver(&s, &[entry(1, "j", "failure")]).await, Ok(1));
    assert_eq!(smtpd.messages()[0]["tls"], false);
}

#[tokio::test]
async fn email_xoauth2_token_refreshed_once_after_gmail_334_challenge_then_cached() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let tokens = TokenServer::start(vec![
        TokenReply::Token("tok-1", 3600),
        TokenReply::Token("tok-2", 3600),
    ]);
    // tok-1 is rejected the Gmail way (334 JSON, then 535), tok-2 accepted.
    let smtpd = Smtpd::start(&ca, &["--xoauth2", "tok-2"]);
    let s = sink(&format!(
        "{}oauth2 = {{ provider = \"google\", token_url = \"{}\", client_id = \"cid\", \
         client_secret = \"csecret\", refresh_token = \"rtoken\" }}\n",
        starttls_keys(&ca, smtpd.port),
        tokens.url()
    ));
    assert_eq!(deliver(&s, &[entry(1, "j", "failure")]).await, Ok(1));
    let auths = smtpd.auths();
    assert_eq!(auths.len(), 2, "{auths:?}");
    assert_eq!(
        (auths[0]["token"].as_str(), auths[0]["ok"].as_bool()),
        (Some("tok-1"), Some(false))
    );
    assert_eq!(
        auths[0]["answered"], "b''",
        "the challenge was answered with an empty line"
    );
    assert_eq!(
        (auths[1]["token"].as_str(), auths[1]["ok"].as_bool()),
        (Some("tok-2"), Some(true))
    );
    assert_eq!(
        auths[1]["login"], "nagbridge@example.com",
        "user = the from address"
    );
    let requests = tokens.requests();
    assert_eq!(requests.len(), 2);
    for field in [
        "grant_type=refresh_token",
        "client_id=cid",
        "client_secret=csecret",
        "refresh_token=rtoken",
    ] {
        assert!(requests[0].contains(field), "{field} in {}", requests[0]);
    }
    // The token is cached: the next delivery asks the endpoint nothing.
    assert_eq!(deliver(&s, &[entry(2, "j", "failure")]).await, Ok(1));
    assert_eq!(tokens.requests().len(), 2);
    assert_eq!(smtpd.messages().len(), 2);
}

#[tokio::test]
async fn email_xoauth2_rejected_after_refresh_is_dead() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let tokens = TokenServer::start(vec![TokenReply::Token("stale", 3600)]);
    let smtpd = Smtpd::start(&ca, &["--xoauth2", "never-issued"]);
    let s = sink(&format!(
        "{}username = \"svc@example.com\"\noauth2 = {{ provider = \"microsoft\", tenant = \"t\", \
         token_url = \"{}\", client_id = \"app\", client_secret = \"csecret\" }}\n",
        starttls_keys(&ca, smtpd.port),
        tokens.url()
    ));
    let e = deliver(&s, &[entry(1, "j", "failure")]).await.unwrap_err();
    assert_eq!(e.class, FailureClass::Dead, "{e}");
    assert!(
        e.message
            .contains("rejected a freshly fetched OAuth2 token for \"svc@example.com\""),
        "{e}"
    );
    assert!(e.message.contains("\"status\":\"401\""), "{e}");
    assert!(
        !e.message.contains("stale") && !e.message.contains("csecret"),
        "{e}"
    );
    assert_eq!(tokens.requests().len(), 2, "refreshed exactly once");
    let r = &tokens.requests()[0];
    assert!(r.contains("grant_type=client_credentials"), "{r}");
    assert!(
        r.contains("scope=https%3A%2F%2Foutlook.office365.com%2F.default"),
        "{r}"
    );
    assert_eq!(smtpd.auths().len(), 2);
    assert_eq!(smtpd.auths()[0]["login"], "svc@example.com");
}

#[tokio::test]
async fn email_token_endpoint_failures_are_classified() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(&ca, &["--xoauth2", "good"]);
    let keys = |url: String| {
        format!(
            "{}oauth2 = {{ provider = \"google\", token_url = \"{url}\", client_id = \"c\", \
             client_secret = \"s\", refresh_token = \"r\" }}\n",
            starttls_keys(&ca, smtpd.port)
        )
    };
    let revoked = TokenServer::start(vec![TokenReply::Error(
        400,
        r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        None,
    )]);
    let e = deliver(&sink(&keys(revoked.url())), &[entry(1, "j", "failure")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Dead, "{e}");
    assert!(
        e.message
            .contains("invalid_grant: Token has been expired or revoked."),
        "{e}"
    );
    assert!(e.message.contains("expire after 7 days"), "{e}");

    let busy = TokenServer::start(vec![TokenReply::Error(503, r#"{"error":"busy"}"#, Some(7))]);
    let e = deliver(&sink(&keys(busy.url())), &[entry(1, "j", "failure")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Retryable, "{e}");
    assert_eq!(e.after, Some(Duration::from_secs(7)));

    let down = format!("http://127.0.0.1:{}/token", free_port());
    let e = deliver(&sink(&keys(down)), &[entry(1, "j", "failure")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Retryable, "{e}");
    assert!(smtpd.auths().is_empty());
}

#[tokio::test]
async fn email_refused_message_is_sent_once_as_plain_text_then_rejected() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(
        &ca,
        &[
            "--user",
            "a:pw",
            "--reject-html",
            "554 5.6.0 HTML is not accepted here",
        ],
    );
    let keys = format!(
        "{}username = \"a\"\npassword = \"pw\"\n",
        starttls_keys(&ca, smtpd.port)
    );
    assert_eq!(
        deliver(&sink(&keys), &[entry(1, "j", "failure")]).await,
        Ok(1)
    );
    let raw = smtpd.raw(smtpd.messages()[0]["file"].as_str().unwrap());
    let m = MessageParser::default().parse(&raw).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert!(m.body_text(0).unwrap().contains("FAILED (CRITICAL)"));

    let strict = Smtpd::start(
        &ca,
        &[
            "--user",
            "a:pw",
            "--reject-data",
            "550 5.7.1 Message refused by policy",
        ],
    );
    let keys = format!(
        "{}username = \"a\"\npassword = \"pw\"\n",
        starttls_keys(&ca, strict.port)
    );
    let s = sink(&keys);
    // Two entries: the first is refused in both forms; nothing of the batch was sent.
    let e = deliver(&s, &[entry(1, "j", "failure"), entry(2, "j", "failure")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Rejected, "{e}");
    assert!(
        e.message.contains("550 5.7.1 Message refused by policy"),
        "{e}"
    );
    assert!(e.message.contains("plain-text form"), "{e}");
}

#[tokio::test]
async fn email_temporary_failures_are_retryable() {
    if !have_aiosmtpd() {
        return;
    }
    let ca = TestCa::new();
    let smtpd = Smtpd::start(
        &ca,
        &[
            "--user",
            "a:pw",
            "--rcpt-reply",
            "451 4.3.0 Try again later",
        ],
    );
    let keys = format!(
        "{}username = \"a\"\npassword = \"pw\"\n",
        starttls_keys(&ca, smtpd.port)
    );
    let e = deliver(&sink(&keys), &[entry(1, "j", "failure")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Retryable, "{e}");
    assert!(e.message.contains("451 4.3.0 Try again later"), "{e}");

    let refused = Smtpd::start(
        &ca,
        &["--user", "a:pw", "--rcpt-reply", "550 5.1.1 No such user"],
    );
    let keys = format!(
        "{}username = \"a\"\npassword = \"pw\"\n",
        starttls_keys(&ca, refused.port)
    );
    let e = deliver(&sink(&keys), &[entry(1, "j", "failure")])
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Dead, "{e}");
    assert!(
        e.message
            .contains("refused the recipient <ops@example.com>: 550 5.1.1"),
        "{e}"
    );

    // Nothing listens.
    let e = deliver(
        &sink(&format!("server = \"127.0.0.1:{}\"\n", free_port())),
        &[entry(1, "j", "failure")],
    )
    .await
    .unwrap_err();
    assert_eq!(e.class, FailureClass::Retryable, "{e}");
    assert!(e.message.starts_with("connecting to 127.0.0.1:"), "{e}");
}
