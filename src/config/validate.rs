//! Checks across entries and against the outside world: duplicate watches, job rules and
//! channel names (run after every section was read), secrets that cannot be read and weak
//! encryption (called while reading).
//!
//! Owns: the semantic rules. Reports problems; never changes the config.

use nsca::crypto::Method;
use toml::Value;

use super::build::Parts;
use super::problem::Problems;
use super::reader::join;
use super::secret::Secret;

/// Every cross-check.
pub(crate) fn validate(parts: &Parts, p: &mut Problems) {
    duplicate_watches(parts, p);
    duplicate_jobs(parts, p);
    duplicate_channels(parts, p);
}

fn duplicate_watches(parts: &Parts, p: &mut Problems) {
    for (n, (j, b)) in parts.watches.iter().enumerate() {
        let same = parts.watches[..n].iter().find(|(_, a)| {
            a.path == b.path
                && (a.glob == b.glob || a.glob.as_str() == "*" || b.glob.as_str() == "*")
        });
        if let Some((i, _)) = same {
            p.error(
                format!("watch[{j}].path"),
                format!(
                    "{} is already watched by watch[{i}] with an overlapping glob; every file would be read twice (give each [[watch]] of a directory its own glob)",
                    b.path.display()
                ),
            );
        }
    }
}

fn duplicate_jobs(parts: &Parts, p: &mut Problems) {
    for (n, (j, b)) in parts.jobs.iter().enumerate() {
        if let Some((i, _)) = parts.jobs[..n].iter().find(|(_, a)| a.name == b.name) {
            p.error(
                format!("job[{j}].name"),
                format!(
                    "{:?} is also the name of job[{i}], which wins (the first matching [[job]] applies); merge the two",
                    b.name
                ),
            );
        }
    }
}

fn duplicate_channels(parts: &Parts, p: &mut Problems) {
    for (n, (j, b)) in parts.channels.iter().enumerate() {
        if let Some((i, _)) = parts.channels[..n].iter().find(|(_, a)| a.name == b.name) {
            p.error(
                format!("channel[{j}].name"),
                format!(
                    "{:?} is already the name of channel[{i}]; channel names must be unique",
                    b.name
                ),
            );
        }
    }
}

/// A warning for methods that do not protect the checks.
pub(crate) fn encryption(method: Method, has_password: bool, p: &mut Problems) {
    match method {
        Method::None | Method::Xor => p.warn(
            "nsca.encryption",
            format!(
                "{method} only obfuscates the checks; use aes256 (14) on both sides, or a tunnel"
            ),
        ),
        _ if !has_password => p.warn(
            "nsca.password",
            format!("not set: {method} with an empty password protects nothing"),
        ),
        _ => {}
    }
}

/// Resolve a secret now, so that a missing variable or unreadable file is a config problem.
pub(crate) fn check_secret(key: &str, secret: &Secret, p: &mut Problems) {
    match secret.resolve() {
        Ok(v) if v.is_empty() => {
            p.error(key, format!("the secret from {} is empty", secret.origin()))
        }
        Ok(_) => {}
        Err(e) => p.error(key, e.to_string()),
    }
    if let Some(w) = secret.permission_warning() {
        p.warn(key, w);
    }
}

/// In a channel's raw options, a table that is `{ env = "..." }` or `{ file = "..." }` is a
/// secret reference: check that it can be read.
pub(crate) fn secret_refs(key: &str, value: &Value, p: &mut Problems) {
    match value {
        Value::Table(t) => {
            let is_ref = t.len() == 1
                && t.iter()
                    .all(|(k, v)| (k == "env" || k == "file") && v.is_str());
            if is_ref {
                if let Ok(secret) = Secret::from_toml(value) {
                    check_secret(key, &secret, p);
                }
            } else {
                for (k, v) in t {
                    secret_refs(&join(key, k), v, p);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                secret_refs(&format!("{key}[{i}]"), v, p);
            }
        }
        _ => {}
    }
}
