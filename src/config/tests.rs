//! Whole-file tests of `Config::from_str`: defaults, every key, and every rule of the
//! validation, each checked by the exact key path it reports.

use std::time::Duration;

use nsca::crypto::Method;
use nsca::packet::PacketSize;

use super::*;

const MINIMAL: &str = "[agent]\nhost_name = \"backup01\"\n[nsca]\nserver = \"nagios\"\n";

fn load(text: &str) -> Config {
    Config::from_str(text, "test.toml").unwrap_or_else(|e| panic!("{:#?}", e.problems))
}

/// The problems of a file that must fail, as `key: message` strings.
fn problems(text: &str) -> Vec<String> {
    match Config::from_str(text, "test.toml") {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

/// The one problem at `key`.
fn problem_at(text: &str, key: &str) -> String {
    let all = problems(text);
    let at: Vec<&String> = all
        .iter()
        .filter(|p| p.starts_with(&format!("{key}: ")))
        .collect();
    assert_eq!(at.len(), 1, "expected one problem at {key}, got {all:#?}");
    at[0].clone()
}

fn with(section: &str) -> String {
    format!("{MINIMAL}{section}\n")
}

#[test]
fn defaults() {
    let c = load("[nsca]\nserver = \"nagios\"\n");
    assert!(!c.agent.host_name.is_empty(), "system hostname");
    assert_eq!(
        c.agent.state_dir,
        std::path::Path::new("/var/lib/nagbridge")
    );
    assert_eq!(c.agent.heartbeat, Some(Duration::from_secs(300)));
    assert_eq!(c.agent.max_file_size, 16 << 20);
    assert_eq!(c.agent.rescan, Duration::from_secs(60));
    assert_eq!(c.agent.quiet_period, Duration::from_secs(5));
    assert_eq!(c.agent.shutdown_timeout, Duration::from_secs(10));
    assert_eq!(c.nsca.as_ref().unwrap().server.to_string(), "nagios:5667");
    assert_eq!(c.nsca.as_ref().unwrap().encryption, Method::Xor);
    assert!(c.nsca.as_ref().unwrap().password.is_none());
    assert_eq!(c.nsca.as_ref().unwrap().packet, PacketSize::V3);
    assert_eq!(c.nsca.as_ref().unwrap().timeout, Duration::from_secs(10));
    assert_eq!(c.nsca.as_ref().unwrap().host.as_str(), "{host}");
    assert_eq!(c.nsca.as_ref().unwrap().service.as_str(), "backup {job}");
    assert!(c.nsca.as_ref().unwrap().server_escapes);
    assert!(c.watches.is_empty() && c.jobs.is_empty() && c.channels.is_empty());
    // xor is the default and only obfuscates: a warning, not a problem.
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].key, "nsca.encryption");
}

#[test]
fn every_key() {
    std::env::set_var("NAGBRIDGE_TEST_EVERY_KEY_PW", "pw");
    let c = load(
        r#"
[agent]
host_name = "backup01"
state_dir = "/srv/nagbridge"
heartbeat = "off"
max_file_size = "200MB"
rescan = "2m"
quiet_period = "10s"
shutdown_timeout = "30s"

[nsca]
server = "[::1]:15667"
encryption = 14
password = { env = "NAGBRIDGE_TEST_EVERY_KEY_PW" }
packet = "legacy"
timeout = "3s"
host = "{host}-backup"
service = "{tool} {job}"

[[watch]]
path = "/var/log/backup"
glob = "*.json"
format = "native"
job = "{dir}-{file_stem}"
recursive = true
poll = "30s"
items = "split"
exit_codes = { 1 = "warning", 3 = "success" }
zero_files = "failure"
canceled = "warning"
history = "all"

[[watch]]
path = "/mnt/nfs/results"
poll = true

[[job]]
name = "nightly-*"
every = "24h"
grace = "2h"
service = "Backup {job}"
host = "db01"

[[job]]
name = "hourly-?"
every = "1h"
"#,
    );
    assert_eq!(c.agent.state_dir, std::path::Path::new("/srv/nagbridge"));
    assert_eq!(c.agent.heartbeat, None);
    assert_eq!(c.agent.max_file_size, 200_000_000);
    assert_eq!(c.agent.rescan, Duration::from_secs(120));
    assert_eq!(c.agent.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(c.nsca.as_ref().unwrap().server.host, "::1");
    assert_eq!(c.nsca.as_ref().unwrap().server.port, 15667);
    assert_eq!(c.nsca.as_ref().unwrap().server.to_string(), "[::1]:15667");
    assert_eq!(c.nsca.as_ref().unwrap().encryption, Method::Rijndael128);
    assert_eq!(c.nsca.as_ref().unwrap().packet, PacketSize::Legacy);
    assert!(
        !c.nsca.as_ref().unwrap().server_escapes,
        "legacy defaults to client-side escaping"
    );
    assert_eq!(c.nsca.as_ref().unwrap().timeout, Duration::from_secs(3));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let w = &c.watches[0];
    assert!(w.glob.matches("x.json") && !w.glob.matches("x.log"));
    assert_eq!(w.format, Format::Native);
    assert_eq!(
        w.job.render(&[("dir", "backup"), ("file_stem", "db")]),
        "backup-db"
    );
    assert!(w.recursive);
    assert_eq!(w.poll, Some(Duration::from_secs(30)));
    assert_eq!(w.items, Items::Split);
    assert_eq!(w.exit_codes.get(&1), Some(&Status::Warning));
    assert_eq!(w.exit_codes.get(&3), Some(&Status::Success));
    assert_eq!(w.zero_files, Status::Failure);
    assert_eq!(w.canceled, Status::Warning);
    assert_eq!(w.history, History::All);
    let w = &c.watches[1];
    assert_eq!(w.poll, Some(DEFAULT_POLL));
    assert_eq!(w.glob.as_str(), "*");
    assert_eq!(w.format, Format::Auto);
    assert_eq!(w.job.as_str(), "{file_stem}");
    assert_eq!(w.items, Items::Job);
    assert_eq!(w.zero_files, Status::Warning);
    assert_eq!(w.canceled, Status::Failure);
    assert_eq!(w.history, History::Last, "default");

    let client = c.nsca.as_ref().unwrap().client_config().unwrap();
    assert_eq!(client.server, "[::1]:15667");
    assert_eq!(client.password, b"pw");
    assert!(client.escape_newlines);
    assert_eq!(client.packet, PacketSize::Legacy);
}

#[test]
fn job_rules_match_by_glob_first_wins() {
    let c = load(&with(
        "[[job]]\nname = \"nightly-db\"\nevery = \"12h\"\n\
         [[job]]\nname = \"nightly-*\"\nevery = \"24h\"\nservice = \"Backup {job}\"\n\
         [[job]]\nname = \"*\"\nhost = \"elsewhere\"\n",
    ));
    let s = c.job_settings("nightly-db");
    assert_eq!(s.every, Some(Duration::from_secs(12 * 3600)));
    assert_eq!(s.grace, Duration::from_secs(72 * 60), "a tenth of every");
    assert_eq!(s.service.as_str(), "backup {job}", "[nsca] default");
    let s = c.job_settings("nightly-web");
    assert_eq!(s.every, Some(Duration::from_secs(24 * 3600)));
    assert_eq!(
        s.service.render(&[("job", "nightly-web")]),
        "Backup nightly-web"
    );
    assert_eq!(s.rule.unwrap().name, "nightly-*");
    let s = c.job_settings("weekly");
    assert_eq!(s.every, None);
    assert_eq!(s.grace, Duration::ZERO);
    assert_eq!(s.host.as_str(), "elsewhere");
    assert!(c.job_rule("x").unwrap().matches("x"));

    let c = load(MINIMAL);
    let s = c.job_settings("anything");
    assert!(s.rule.is_none());
    assert_eq!(s.host.as_str(), "{host}");
    // The default grace has a floor.
    let c = load(&with("[[job]]\nname = \"often\"\nevery = \"10m\"\n"));
    assert_eq!(c.jobs[0].grace, Duration::from_secs(300));
}

#[test]
fn reports_every_problem_with_its_key_path() {
    let all = problems(
        r#"
[agent]
heartbeat = "5"
[nsca]
server = "nagios"
encryption = "blowfsh"
[[watch]]
path = "/a"
format = "resti"
[[watch]]
path = "/b"
recursive = "yes"
[[job]]
name = "x"
every = "0s"
"#,
    );
    assert_eq!(all.len(), 5, "{all:#?}");
    assert!(
        all[0].starts_with("agent.heartbeat: missing unit"),
        "{all:#?}"
    );
    assert!(all[1].starts_with("nsca.encryption: unknown encryption method"));
    assert!(all[2].starts_with("watch[0].format: unknown format \"resti\"; did you mean `restic`?"));
    assert_eq!(
        all[3],
        "watch[1].recursive: expected true or false, found string"
    );
    assert_eq!(all[4], "job[0].every: must be longer than 0s");
}

#[test]
fn unknown_keys_everywhere_with_suggestions() {
    let all = problems(
        r#"
colour = 1
[agent]
hostname = "x"
[nsca]
server = "nagios"
pasword = "x"
[[watch]]
path = "/a"
recursve = true
[[job]]
name = "x"
every = "1h"
grce = "1h"
[[jobs]]
name = "y"
"#,
    );
    assert_eq!(
        all,
        [
            "agent.hostname: unknown key; did you mean `host_name`?",
            "nsca.pasword: unknown key; did you mean `password`?",
            "watch[0].recursve: unknown key; did you mean `recursive`?",
            "job[0].grce: unknown key; did you mean `grace`?",
            "colour: unknown key",
            "jobs: unknown key; did you mean `job`?",
        ]
    );
}

#[test]
fn channel_rules() {
    assert!(problem_at(
        &with("[[channel]]\nname = \"a\"\ntype = \"slak\"\n"),
        "channel[0].type"
    )
    .contains("did you mean `slack`?"));
    assert!(problem_at(
        &with("[[channel]]\nname = \"a\"\ntype = \"slack\"\nwhen = \"problem\"\n"),
        "channel[0].when"
    )
    .contains("did you mean `problems`?"));
    assert_eq!(
        problem_at(&with("[[channel]]\ntype = \"slack\"\n"), "channel[0].name"),
        "channel[0].name: missing required key in [channel[0]]"
    );
    for bad in ["a b", "x/y", "..", "ünï"] {
        assert!(
            problem_at(
                &with(&format!("[[channel]]\nname = {bad:?}\ntype = \"slack\"\n")),
                "channel[0].name"
            )
            .contains("letters, digits"),
            "{bad}"
        );
    }
    assert!(problem_at(
        &with("[[channel]]\nname = \"inbox\"\ntype = \"slack\"\n"),
        "channel[0].name"
    )
    .contains("spool of another destination"));
    assert!(problem_at(
        &with("[[channel]]\nname = \"a\"\ntype = \"slack\"\njobs = [\"[\"]\n"),
        "channel[0].jobs"
    )
    .contains("invalid glob"));
}

#[test]
fn section_shapes() {
    assert_eq!(
        problem_at(&with("[watch]\npath = \"/a\"\n"), "watch"),
        "watch: expected an array of tables ([[watch]]), found table; write [[watch]] for each watch"
    );
    assert_eq!(
        problem_at("agent = 5\n[nsca]\nserver = \"n\"\n", "agent"),
        "agent: expected a table ([agent]), found integer"
    );
    assert!(problem_at("[agent]\nhost_name = \"x\"\n", "nsca")
        .starts_with("nsca: nothing to deliver to: add a passive-check destination ([nsca]"));
    assert_eq!(
        problem_at("[nsca]\nencryption = \"aes\"\n", "nsca.server"),
        "nsca.server: missing required key in [nsca]"
    );
    assert_eq!(
        problem_at(&format!("watch = [1]\n{MINIMAL}"), "watch[0]"),
        "watch[0]: expected a table, found integer"
    );
}

#[test]
fn encryption_names_numbers_and_refusals() {
    for (text, method) in [
        ("\"aes256\"", Method::Rijndael128),
        ("\"AES\"", Method::Rijndael128),
        ("14", Method::Rijndael128),
        ("\"3\"", Method::TripleDes),
        ("\"blowfish\"", Method::Blowfish),
        ("0", Method::None),
    ] {
        let c = load(&format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\npassword = \"pw\"\nencryption = {text}\n"
        ));
        assert_eq!(c.nsca.as_ref().unwrap().encryption, method, "{text}");
    }
    for n in [7, 12, 19, 22, 24, 25] {
        let p = problem_at(
            &format!("[nsca]\nserver = \"n\"\nencryption = {n}\n"),
            "nsca.encryption",
        );
        assert!(p.contains("cannot work with any NSCA server"), "{p}");
    }
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\nencryption = \"arcfour\"\n",
        "nsca.encryption"
    )
    .contains("stream cipher"));
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\nencryption = 99\n",
        "nsca.encryption"
    )
    .contains("unknown encryption method"));
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\nencryption = 1.5\n",
        "nsca.encryption"
    )
    .contains("found float"));
    // Weak choices are warnings.
    let c = load("[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"none\"\n");
    assert!(c.warnings[0].message.contains("only obfuscates"));
    let c = load("[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\n");
    assert_eq!(c.warnings[0].key, "nsca.password");
}

#[test]
fn servers_and_packets() {
    for (s, shown) in [
        ("nagios", "nagios:5667"),
        ("nagios:15667", "nagios:15667"),
        ("10.0.0.1", "10.0.0.1:5667"),
        ("[fe80::1]:5668", "[fe80::1]:5668"),
        ("::1", "[::1]:5667"),
    ] {
        let c = load(&format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"{s}\"\n"
        ));
        assert_eq!(c.nsca.as_ref().unwrap().server.to_string(), shown);
    }
    for bad in ["nagios:0", "nagios:x", "[::1", ""] {
        problem_at(&format!("[nsca]\nserver = \"{bad}\"\n"), "nsca.server");
    }
    assert!(
        problem_at("[nsca]\nserver = \"n\"\npacket = \"v2\"\n", "nsca.packet")
            .contains("did you mean `v3`?")
    );
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\npacket = \"legacy\"\nserver_escapes = true\n",
        "nsca.server_escapes"
    )
    .contains("NSCA 2.7"));
    let c = load("[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\npacket = \"legacy\"\nserver_escapes = false\n");
    assert!(!c.nsca.as_ref().unwrap().server_escapes);
    let c = load("[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nserver_escapes = false\n");
    assert!(!c.nsca.as_ref().unwrap().server_escapes);
}

#[test]
fn templates_only_use_known_variables() {
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\nservice = \"backup {jbo}\"\n",
        "nsca.service"
    )
    .contains("did you mean `{job}`?"));
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\nhost = \"{file_stem}\"\n",
        "nsca.host"
    )
    .contains("unknown variable `{file_stem}`"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\njob = \"{job}\"\n"),
        "watch[0].job"
    )
    .contains("variables here: {file_stem} {file_name} {dir} {host}"));
    assert!(problem_at(
        &with("[[job]]\nname = \"a\"\nservice = \"{x\"\n"),
        "job[0].service"
    )
    .contains("unclosed"));
    // Fixed names are checked against Nagios and the NSCA field sizes now.
    assert!(problem_at("[nsca]\nserver = \"n\"\nhost = \"a;b\"\n", "nsca.host").contains("';'"));
    assert!(problem_at(
        &format!("[nsca]\nserver = \"n\"\nhost = \"{}\"\n", "h".repeat(64)),
        "nsca.host"
    )
    .contains("at most 63"));
    assert!(problem_at(
        &with(&format!(
            "[[job]]\nname = \"a\"\nservice = \"{}\"\n",
            "s".repeat(128)
        )),
        "job[0].service"
    )
    .contains("at most 127"));
    assert!(
        problem_at("[nsca]\nserver = \"n\"\nservice = \"  \"\n", "nsca.service").contains("empty")
    );
    assert!(problem_at(
        "[agent]\nhost_name = \"a\\nb\"\n[nsca]\nserver = \"n\"\n",
        "agent.host_name"
    )
    .contains("command file"));
}

#[test]
fn durations_and_sizes_in_place() {
    assert!(problem_at(
        "[agent]\nrescan = \"0s\"\n[nsca]\nserver = \"n\"\n",
        "agent.rescan"
    )
    .contains("longer than 0s"));
    assert!(problem_at(
        "[agent]\nquiet_period = 5\n[nsca]\nserver = \"n\"\n",
        "agent.quiet_period"
    )
    .contains("\"5s\""));
    assert!(problem_at(
        "[agent]\nheartbeat = true\n[nsca]\nserver = \"n\"\n",
        "agent.heartbeat"
    )
    .contains("\"off\""));
    assert!(problem_at(
        "[agent]\nmax_file_size = 0\n[nsca]\nserver = \"n\"\n",
        "agent.max_file_size"
    )
    .contains("more than 0"));
    assert!(problem_at(
        "[agent]\nmax_file_size = \"1GiB\"\n[nsca]\nserver = \"n\"\n",
        "agent.max_file_size"
    )
    .contains("at most 256MiB"));
    assert!(problem_at(
        "[agent]\nmax_file_size = \"16 M\"\n[nsca]\nserver = \"n\"\n",
        "agent.max_file_size"
    )
    .contains("MiB"));
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\ntimeout = \"10 sec\"\n",
        "nsca.timeout"
    )
    .contains("unknown unit"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\npoll = \"0s\"\n"),
        "watch[0].poll"
    )
    .contains("longer than 0s"));
    assert!(problem_at(
        &with("[[job]]\nname = \"a\"\nevery = \"1d\"\ngrace = \"0s\"\n"),
        "job[0].grace"
    )
    .contains("longer than 0s"));
    let c = load("[agent]\nhost_name = \"h\"\nmax_file_size = 1024\n[nsca]\nserver = \"n\"\n");
    assert_eq!(c.agent.max_file_size, 1024);
}

#[test]
fn watch_rules() {
    assert!(problem_at(&with("[[watch]]\npath = \"rel\"\n"), "watch[0].path").contains("absolute"));
    assert!(
        problem_at(&with("[[watch]]\nglob = \"*\"\n"), "watch[0].path")
            .contains("missing required key")
    );
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\nglob = \"[x\"\n"),
        "watch[0].glob"
    )
    .contains("invalid glob"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\nglob = \"x/*.log\"\n"),
        "watch[0].glob"
    )
    .contains("recursive"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\nitems = \"splitt\"\n"),
        "watch[0].items"
    )
    .contains("`split`"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\nzero_files = \"ok\"\n"),
        "watch[0].zero_files"
    )
    .contains("unknown status"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\ncanceled = 2\n"),
        "watch[0].canceled"
    )
    .contains("found integer"));
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\nexit_codes = 1\n"),
        "watch[0].exit_codes"
    )
    .contains("expected a table"));
    let all = problems(&with("[[watch]]\npath = \"/a\"\nexit_codes = { 256 = \"warning\", x = \"failure\", 2 = \"bad\" }\n"));
    assert_eq!(
        all,
        [
            "watch[0].exit_codes.256: an exit code must be a number from 0 to 255",
            "watch[0].exit_codes.x: an exit code must be a number from 0 to 255",
            "watch[0].exit_codes.2: unknown status \"bad\"; expected one of: success, warning, failure, unknown",
        ]
    );
}

#[test]
fn duplicate_watch_paths() {
    let p = problem_at(
        &with("[[watch]]\npath = \"/a\"\n[[watch]]\npath = \"/b\"\n[[watch]]\npath = \"/a/\"\nglob = \"*.log\"\n"),
        "watch[2].path",
    );
    assert!(p.contains("already watched by watch[0]"), "{p}");
    // One directory, two tools, two globs: fine.
    let c = load(&with(
        "[[watch]]\npath = \"/a\"\nglob = \"*.restic\"\nformat = \"restic\"\n\
         [[watch]]\npath = \"/a\"\nglob = \"*.borg\"\nformat = \"borg\"\n",
    ));
    assert_eq!(c.watches.len(), 2);
    // The same glob twice is not.
    problem_at(
        &with(
            "[[watch]]\npath = \"/a\"\nglob = \"*.x\"\n[[watch]]\npath = \"/a\"\nglob = \"*.x\"\n",
        ),
        "watch[1].path",
    );
}

#[test]
fn job_rule_checks() {
    assert!(problem_at(&with("[[job]]\nname = \"a[\"\n"), "job[0].name").contains("invalid glob"));
    assert!(
        problem_at(&with("[[job]]\nevery = \"1h\"\n"), "job[0].name")
            .contains("missing required key")
    );
    assert!(problem_at(
        &with("[[job]]\nname = \"a\"\ngrace = \"1h\"\n"),
        "job[0].grace"
    )
    .contains("add every"));
    assert!(problem_at(
        &with("[[job]]\nname = \"a*\"\nevery = \"1h\"\n[[job]]\nname = \"a*\"\nevery = \"2h\"\n"),
        "job[1].name"
    )
    .contains("also the name of job[0]"));
}

#[test]
fn secrets_are_resolved_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = {{ file = {:?} }}\n",
        file.to_str().unwrap()
    );
    let c = load(&text);
    assert_eq!(
        c.nsca
            .as_ref()
            .unwrap()
            .password
            .as_ref()
            .unwrap()
            .resolve()
            .unwrap(),
        b"from-file"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = load(&text);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0]
        .message
        .contains("readable by group or others"));

    assert_eq!(
        problem_at(
            "[nsca]\nserver = \"n\"\npassword = { env = \"NAGBRIDGE_TEST_UNSET_2\" }\n",
            "nsca.password"
        ),
        "nsca.password: environment variable NAGBRIDGE_TEST_UNSET_2 is not set"
    );
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\npassword = { file = \"/nonexistent/pw\" }\n",
        "nsca.password"
    )
    .contains("cannot read secret file /nonexistent/pw"));
    std::fs::write(&file, "\n").unwrap();
    assert!(problem_at(&text, "nsca.password").contains("is empty"));
    assert!(problem_at(
        "[nsca]\nserver = \"n\"\npassword = { enf = \"X\" }\n",
        "nsca.password"
    )
    .contains("did you mean `env`?"));
}

#[test]
fn debug_of_a_whole_config_never_shows_a_secret() {
    std::env::set_var("NAGBRIDGE_TEST_DEBUG_SECRET", "env-secret-5b1f");
    let c = load(
        r##"
[agent]
host_name = "h"
[nsca]
server = "n"
encryption = "aes256"
password = "inline-secret-9d2e"
[icinga2]
endpoints = ["m1"]
username = "nb"
password = "icinga-secret-2b8d"

[[channel]]
name = "hook"
type = "webhook"
url = "https://hooks.example.com/hook-token-41c7?sig=hook-sig-0e2a"
headers = { Authorization = "Bearer header-secret-6d1b", "X-Env" = { env = "NAGBRIDGE_TEST_DEBUG_SECRET" } }
hmac_secret = "hmac-secret-3f9c"
[[channel]]
name = "mail"
type = "email"
server = "smtp.example.com"
username = "u"
password = "smtp-secret-61aa"
from = "a@example.com"
to = ["b@example.com"]
[[channel]]
name = "mail-oauth"
type = "email"
server = "smtp.gmail.com"
from = "a@example.com"
to = ["b@example.com"]
oauth2 = { provider = "google", client_id = "cid", client_secret = "oauth-secret-40c7", refresh_token = { env = "NAGBRIDGE_TEST_DEBUG_SECRET" } }
[[channel]]
name = "slack"
type = "slack"
url = "https://hooks.slack.com/services/T0/B0/slack-secret-7e3d"
[[channel]]
name = "mm"
type = "mattermost"
url = "https://chat.example.com/hooks/mm-secret-2b8f"
[[channel]]
name = "dc"
type = "discord"
url = "https://discord.com/api/webhooks/123/discord-secret-9a4c"
[[channel]]
name = "team"
type = "teams"
url = "https://prod-01.westeurope.logic.azure.com/workflows/teams-flow-5a1e/triggers/manual/paths/invoke?sig=teams-sig-77c2"
[[channel]]
name = "gchat"
type = "googlechat"
url = "https://chat.googleapis.com/v1/spaces/gchat-space-19ab/messages?key=gchat-key-2b8d&token=gchat-token-c3e1"
[[channel]]
name = "tg"
type = "telegram"
token = "123456:telegram-token-secret-9e4f"
chat_id = -100123
[[channel]]
name = "push"
type = "ntfy"
url = "https://ntfy.sh/ntfy-topic-6d2a"
token = "tk_ntfy-token-0f3b"
[[channel]]
name = "push2"
type = "ntfy"
url = "https://ntfy.sh/backups"
username = "u"
password = "ntfy-password-8a7c"
[[channel]]
name = "phone"
type = "gotify"
url = "https://gotify.example.com"
token = "gotify-token-4c5d"
[[channel]]
name = "pd"
type = "pagerduty"
routing_key = "pdkey0secret0000000000000000a1b2"
[[channel]]
name = "mx"
type = "matrix"
homeserver = "https://matrix.example.org"
access_token = "syt_matrix_secret_77f1"
room = "#backups:example.org"
[[channel]]
name = "im"
type = "xmpp"
jid = "bot@example.org"
password = "xmpp-secret-2c9d"
rooms = ["backups@conference.example.org"]
"##,
    );
    // Each channel type adds its secrets here (its config's Debug must redact them).
    let debug = format!("{c:?} {c:#?}");
    let secrets: &[&str] = &[
        "inline-secret-9d2e",
        "icinga-secret-2b8d",
        "hook-token-41c7",
        "hook-sig-0e2a",
        "header-secret-6d1b",
        "env-secret-5b1f",
        "hmac-secret-3f9c",
        "smtp-secret-61aa",
        "oauth-secret-40c7",
        "slack-secret-7e3d",
        "mm-secret-2b8f",
        "discord-secret-9a4c",
        "teams-flow-5a1e",
        "teams-sig-77c2",
        "gchat-space-19ab",
        "gchat-key-2b8d",
        "gchat-token-c3e1",
        "telegram-token-secret-9e4f",
        "ntfy-topic-6d2a",
        "ntfy-token-0f3b",
        "ntfy-password-8a7c",
        "gotify-token-4c5d",
        "pdkey0secret0000000000000000a1b2",
        "syt_matrix_secret_77f1",
        "xmpp-secret-2c9d",
    ];
    for secret in secrets {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("<redacted>"));
    let e = Config::from_str(
        "[nsca]\nserver = \"n\"\npassword = \"inline-secret-9d2e\"\nbogus = 1\n",
        "t",
    )
    .unwrap_err();
    assert!(!format!("{e:?} {e}").contains("inline-secret-9d2e"));
}

#[test]
fn toml_syntax_errors_have_line_and_column() {
    let all = problems("[nsca]\nserver = \"n\"\nfoo = \n");
    assert_eq!(all.len(), 1);
    assert!(
        all[0].starts_with("line 3, column 7: invalid TOML: "),
        "{all:?}"
    );
    let all = problems("[nsca]\nserver = \"n\"\n[nsca]\n");
    assert!(
        all[0].starts_with("line 3, column 2: invalid TOML: duplicate key"),
        "{all:?}"
    );
}

#[test]
fn load_from_files_and_locate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.origin, path.display().to_string());
    let e = Config::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(e.problems[0]
        .message
        .starts_with("cannot read the config file: "));
    assert!(e
        .lines()
        .next()
        .unwrap()
        .contains("missing.toml: cannot read"));
    std::fs::write(&path, b"[nsca]\nserver = \"\xff\"\n").unwrap();
    let e = Config::load(&path).unwrap_err();
    assert_eq!(
        e.problems[0].message,
        "the config file is not valid UTF-8 (at byte 17)"
    );

    assert_eq!(locate(Some(&path)), path);
}

#[test]
fn line_columns() {
    assert_eq!(line_column("ab\ncd", 0), (1, 1));
    assert_eq!(line_column("ab\ncd", 4), (2, 2));
    assert_eq!(line_column("é\nx", 3), (2, 1));
    assert_eq!(line_column("ab", 99), (1, 3));
}

#[test]
fn watch_history_and_state_dir_rules() {
    assert!(problem_at(
        &with("[[watch]]\npath = \"/a\"\nhistory = \"latest\"\n"),
        "watch[0].history"
    )
    .contains("expected one of: all, last"));
    // Inside state_dir (or state_dir itself): nothing there is ever read.
    for path in [
        "/var/lib/nagbridge",
        "/var/lib/nagbridge/in",
        "/var/lib/nagbridge/",
    ] {
        let p = problem_at(
            &with(&format!("[[watch]]\npath = \"{path}\"\n")),
            "watch[0].path",
        );
        assert!(p.contains("is inside state_dir /var/lib/nagbridge"), "{p}");
    }
    // A parent of it is fine (the state dir is skipped), and so is a sibling.
    for path in ["/var/lib", "/var/lib/nagbridge-in"] {
        load(&with(&format!("[[watch]]\npath = \"{path}\"\n")));
    }
}

#[test]
fn nsca_is_optional_beside_another_destination_or_a_channel() {
    let icinga = "[agent]\nhost_name = \"b1\"\n[icinga2]\nendpoints = [\"m1\"]\nusername = \"nb\"\npassword = \"pw-icinga-77\"\n";
    let c = Config::from_str(icinga, "t").unwrap();
    assert!(c.nsca.is_none());
    let i = c.icinga2.as_ref().unwrap();
    assert_eq!(i.endpoints[0].port, 5665);
    assert_eq!(c.templates().1.as_str(), "backup {job}");
    let nagios = "[agent]\nhost_name = \"b1\"\n[nagios]\ncommand_file = \"/var/lib/nagios4/rw/nagios.cmd\"\nservice = \"Backup {job}\"\n";
    let c = Config::from_str(nagios, "t").unwrap();
    assert_eq!(c.templates().1.as_str(), "Backup {job}");
    let channel = "[agent]\nhost_name = \"b1\"\n[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://h.example/x\"\n";
    let c = Config::from_str(channel, "t").unwrap();
    assert!(c.nsca.is_none() && c.icinga2.is_none() && c.nagios.is_none());
}

#[test]
fn icinga2_section_reads_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    let cert = rcgen::generate_simple_self_signed(vec!["nagbridge".into()]).unwrap();
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let key = dir.path().join("nb.key");
    std::fs::write(&key, cert.key_pair.serialize_pem()).unwrap();
    let text = format!(
        "[agent]\nhost_name = \"b1\"\n[[job]]\nname = \"nightly\"\nevery = \"24h\"\n\
         [icinga2]\nendpoints = [\"m1.example.com:15665\", {{ address = \"10.0.0.12\", server_name = \"sat2\" }}]\n\
         ca_file = \"{ca}\"\ncert_file = \"{ca}\"\nkey_file = \"{key}\"\nhost = \"{{host}}\"\n\
         service = \"Backup {{job}}\"\nttl = \"auto\"\ncreate_services = true\ntimeout = \"3s\"\n",
        ca = ca.display(),
        key = key.display()
    );
    let c = Config::from_str(&text, "t").unwrap();
    let i = c.icinga2.as_ref().unwrap();
    assert_eq!(i.endpoints.len(), 2);
    assert_eq!(i.endpoints[1].to_string(), "10.0.0.12:5665 (as sat2)");
    assert!(matches!(
        i.auth,
        crate::sinks::icinga2::config::Auth::Certificate { .. }
    ));
    assert!(i.create_services);
    assert_eq!(i.timeout, Duration::from_secs(3));
    assert_eq!(i.ttl, crate::sinks::icinga2::config::Ttl::Auto);
    let ttl = crate::pipeline::passive::ttl_of(&c, i.ttl);
    let o = crate::outcome::Outcome::new("nightly", crate::outcome::Status::Success);
    // every 24h + the default grace (a tenth): 26h24m.
    assert_eq!(ttl(&o), Some(Duration::from_secs(24 * 3600 + 8640)));
    let o = crate::outcome::Outcome::new("other", crate::outcome::Status::Success);
    assert_eq!(ttl(&o), None);
}

#[test]
fn icinga2_and_nagios_problems_have_key_paths() {
    let bad = "[agent]\nhost_name = \"b1\"\n[icinga2]\nendpoints = [\"m1:0\", { address = \"m2\", server_nam = \"x\" }, { server_name = \"a b\" }]\n\
               username = \"nb\"\ncert_file = \"/nonexistent.crt\"\nttl = \"sometimes\"\ntimout = \"1s\"\n\
               [nagios]\ncommand_file = \"relative.cmd\"\ncheck_result_path = \"/tmp\"\n";
    let all = problems(bad);
    for want in [
        "icinga2.endpoints[0]: invalid server address",
        "icinga2.endpoints[1]: unknown key \"server_nam\" (did you mean `server_name`?)",
        "icinga2.endpoints[2]: missing address",
        "icinga2.cert_file: cannot read certificate file /nonexistent.crt",
        "icinga2.password: give either username and password or cert_file and key_file, not both",
        "icinga2.ttl: ",
        "icinga2.timout: unknown key; did you mean `timeout`?",
        "nagios.command_file: \"relative.cmd\" must be an absolute path",
        "nagios.check_result_path: give command_file or check_result_path, not both",
    ] {
        assert!(
            all.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {all:#?}"
        );
    }
    let none = "[agent]\nhost_name = \"b1\"\n[icinga2]\nendpoints = []\n[nagios]\n";
    let all = problems(none);
    for want in [
        "icinga2.endpoints: the list is empty",
        "icinga2.username: missing credentials",
        "nagios.command_file: missing: command_file",
    ] {
        assert!(
            all.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {all:#?}"
        );
    }
}
