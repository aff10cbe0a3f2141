//! `nagbridge check-config`: exit 0 with a summary for a valid file; exit 2 with every problem
//! (`path: key: message`, one a line) for an invalid or unreadable one; secrets never printed.
use std::path::Path;
use std::process::{Command, Output};

fn check_config(args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nagbridge"));
    cmd.arg("check-config")
        .args(args)
        .env_remove("NAGBRIDGE_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A valid config; `WATCHED` is replaced by an existing directory.
const GOOD: &str = r#"
[agent]
host_name = "backup01"
[nsca]
server = "127.0.0.1"
encryption = "aes256"
password = "correct-horse-7f3a"
[[watch]]
path = "WATCHED"
[[job]]
name = "nightly-*"
every = "24h"
[[job]]
name = "weekly-*"
every = "7d"
[[channel]]
name = "chat"
type = "webhook"
url = "https://hooks.example.com/secret-token-0c9b"
"#;

/// GOOD with its watch in `dir`.
fn good(dir: &Path) -> String {
    GOOD.replace("WATCHED", dir.to_str().unwrap())
}

#[test]
fn valid_file_exits_0_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "good.toml", &good(dir.path()));
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        format!("config OK: {path} (1 watches, 2 jobs, 1 channels; passive checks to nsca)\n")
    );
    assert!(!out.contains("correct-horse-7f3a") && !out.contains("secret-token-0c9b"));
    // --config is the long spelling.
    assert_eq!(check_config(&["--config", &path], &[]).0, 0);
}

#[test]
fn config_file_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "env.toml", &good(dir.path()));
    let (code, out) = check_config(&[], &[("NAGBRIDGE_CONFIG", &path)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with(&format!("config OK: {path} ")), "{out}");
    // -c wins over the environment.
    let other = write(dir.path(), "other.toml", &good(dir.path()));
    let (_, out) = check_config(&["-c", &other], &[("NAGBRIDGE_CONFIG", &path)]);
    assert!(out.contains("other.toml"), "{out}");
}

#[test]
fn invalid_file_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.toml",
        &r#"
[agent]
heartbeat = "5"
[nsca]
server = "nagios"
encryption = 12
password = "correct-horse-7f3a"
pasword = "correct-horse-7f3a"
[[watch]]
path = "WATCHED"
format = "resti"
[[watch]]
path = "WATCHED"
[[job]]
name = "nightly-*"
every = "24h"
grce = "2h"
[[channel]]
name = "chat"
type = "slak"
"#
        .replace("WATCHED", dir.path().to_str().unwrap()),
    );
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 2, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let expected = [
        "agent.heartbeat: missing unit after 5",
        "nsca.encryption: encryption method 12 (arcfour) cannot work with any NSCA server",
        "nsca.pasword: unknown key; did you mean `password`?",
        "watch[0].format: unknown format \"resti\"; did you mean `restic`?",
        "job[0].grce: unknown key; did you mean `grace`?",
        "channel[0].type: unknown channel type \"slak\"; did you mean `slack`?",
    ];
    for e in expected {
        let want = format!("{path}: {e}");
        assert!(
            lines.iter().any(|l| l.starts_with(&want)),
            "missing {want:?} in\n{out}"
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some(format!("config INVALID: {path} (6 problems)").as_str()),
        "{out}"
    );
    assert_eq!(lines.len(), 7, "{out}");
    assert!(!out.contains("correct-horse-7f3a"), "{out}");
}

#[test]
fn duplicate_watch_reported_when_the_rest_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "dup.toml",
        &format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[watch]]\npath = \"{0}\"\n[[watch]]\npath = \"{0}/\"\n",
            dir.path().display()
        ),
    );
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 2);
    assert!(
        out.contains(&format!(
            "{path}: watch[1].path: {}/ is already watched by watch[0]",
            dir.path().display()
        )),
        "{out}"
    );
}

#[test]
fn secrets_from_env_and_file_are_checked_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write(dir.path(), "pw", "file-secret-31e4\n");
    let text = format!(
        "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = {{ file = {pw:?} }}\n\
         [[channel]]\nname = \"c\"\ntype = \"webhook\"\nurl = {{ env = \"NAGBRIDGE_IT_HOOK\" }}\n"
    );
    let path = write(dir.path(), "s.toml", &text);
    // The variable is missing: a problem naming it.
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("channel[0].url: environment variable NAGBRIDGE_IT_HOOK is not set"),
        "{out}"
    );
    // With it set, valid; the file is world-readable (tempfile default 0644): a warning only.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = check_config(
        &["-c", &path],
        &[(
            "NAGBRIDGE_IT_HOOK",
            "https://hooks.example.com/env-secret-88d0",
        )],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: ") && out.contains("readable by group or others"),
        "{out}"
    );
    for secret in ["file-secret-31e4", "env-secret-88d0"] {
        assert!(!out.contains(secret), "{out}");
    }
}

#[test]
fn syntax_error_has_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "syntax.toml",
        "[nsca]\nserver = \"n\"\npassword = \"leak-me-not\nx = 1\n",
    );
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with(&format!("{path}: line 3, column ")),
        "{out}"
    );
    assert!(out.contains("invalid TOML"), "{out}");
}

#[test]
fn unreadable_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let (code, out) = check_config(&["-c", missing.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        out.contains("missing.toml: cannot read the config file: No such file"),
        "{out}"
    );
    let (code, out) = check_config(&["-c", dir.path().to_str().unwrap()], &[]);
    assert_eq!(code, 2, "a directory: {out}");
}

/// The example, with its watch paths and state_dir moved to temp dirs that exist (on a real
/// host they are the admin's to create).
#[test]
fn the_shipped_example_passes() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/nagios-examples/nagbridge.toml"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut text = example.clone();
    for from in [
        "/var/log/backup-results",
        "/var/log/restic",
        "/var/lib/nagbridge",
    ] {
        assert!(
            text.contains(&format!("\"{from}\"")),
            "{from} not in the example"
        );
        let to = dir
            .path()
            .join(from.trim_start_matches('/').replace('/', "-"));
        std::fs::create_dir(&to).unwrap();
        text = text.replace(
            &format!("\"{from}\""),
            &format!("{:?}", to.to_str().unwrap()),
        );
    }
    let example = write(dir.path(), "example.toml", &text);
    let (code, out) = check_config(
        &["-c", &example],
        &[
            ("NSCA_PASSWORD", "example-password"),
            ("BACKUP_HOOK_URL", "https://hooks.example.com/x"),
            ("SMTP_PASSWORD", "example-smtp-password"),
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/x",
            ),
            ("MATTERMOST_WEBHOOK_URL", "https://chat.example.com/hooks/x"),
            (
                "DISCORD_WEBHOOK_URL",
                "https://discord.com/api/webhooks/1/x",
            ),
            (
                "TEAMS_WORKFLOW_URL",
                "https://prod-00.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=y",
            ),
            (
                "GCHAT_WEBHOOK_URL",
                "https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t",
            ),
            ("TELEGRAM_BOT_TOKEN", "123456789:AAHexampleexampleexample"),
            ("NTFY_TOKEN", "tk_example"),
            ("GOTIFY_TOKEN", "AexampleToken"),
            ("PAGERDUTY_ROUTING_KEY", "0123456789abcdef0123456789abcdef"),
            ("MATRIX_ACCESS_TOKEN", "syt_example_token"),
            ("XMPP_PASSWORD", "example-xmpp-password"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("config OK: "), "{out}");
    assert!(
        !out.contains("warning"),
        "the example should be warning-free: {out}"
    );
}

/// Watch paths are checked (issue 8): one that does not exist, a file, and one inside
/// state_dir (also through a symbolic link) are problems with the key path and the reason;
/// `run` starts anyway (it reports them through the heartbeat).
#[test]
fn watch_paths_that_cannot_work_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("state")).unwrap();
    std::fs::create_dir(d.join("state/in")).unwrap();
    std::os::unix::fs::symlink(d.join("state/in"), d.join("link")).unwrap();
    let file = write(d, "a-file", "x");
    let text = format!(
        "[agent]\nhost_name = \"h\"\nstate_dir = \"{0}/state\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
         [[watch]]\npath = \"{0}/typo\"\n[[watch]]\npath = \"{file}\"\n[[watch]]\npath = \"{0}/link\"\n[[watch]]\npath = \"{0}\"\n",
        d.display()
    );
    let path = write(d, "w.toml", &text);
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 2, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let want = [
        format!("{path}: watch[0].path: {}/typo does not exist; create it (an empty directory is fine) or fix the path", d.display()),
        format!("{path}: watch[1].path: {file}: not a directory"),
        format!(
            "{path}: watch[2].path: {0}/link is {1}/state/in, inside state_dir {1}/state, whose files are never read",
            d.display(),
            std::fs::canonicalize(d).unwrap().display()
        ),
        format!("config INVALID: {path} (3 problems)"),
    ];
    assert_eq!(lines, want, "{out}");
    // Written inside state_dir directly: refused by `run` too (a config error, not a path
    // that may appear later).
    let text = text.replace("/link\"", "/state/in\"");
    let path = write(d, "w2.toml", &text);
    let (code, out) = check_config(&["-c", &path], &[]);
    assert_eq!(code, 2);
    assert!(
        out.contains("watch[2].path: ") && out.contains("/state/in is inside state_dir "),
        "{out}"
    );
}

/// A directory the user cannot read is a problem naming the uid. Run as an unprivileged user
/// (uid 65534) when the tests run as root, so it is checked either way.
#[test]
fn unreadable_watch_path_names_the_uid() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = d.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let text = format!(
        "[agent]\nhost_name = \"h\"\nstate_dir = \"{0}/state\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
         [[watch]]\npath = \"{0}/locked\"\n",
        d.display()
    );
    let path = write(d, "u.toml", &text);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = std::fs::metadata("/proc/self").map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nagbridge"));
    cmd.args(["check-config", "-c", &path])
        .env_remove("NAGBRIDGE_CONFIG");
    let uid = if root.unwrap_or(false) {
        cmd.uid(65534).gid(65534);
        65534
    } else {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::metadata("/proc/self")
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid()
            })
            .unwrap()
    };
    let out = cmd.output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "watch[0].path: {}/locked: not readable by this user (uid {uid}): Permission denied",
            d.display()
        )),
        "{text}"
    );
}
