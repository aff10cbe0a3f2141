//! Checks across entries and against the outside world: duplicate watches, watches inside
//! `state_dir`, job rules and channel names (run after every section was read), secrets that
//! cannot be read and weak encryption (called while reading), and, for `check-config` only,
//! whether each watch path is a directory this user can read ([`watch_paths`]).
//!
//! Owns: the semantic rules. Reports problems; never changes the config.

use nsca::crypto::Method;

use super::build::Parts;
use super::problem::Problems;
use super::secret::Secret;

/// Every cross-check.
pub(crate) fn validate(parts: &Parts, p: &mut Problems) {
    duplicate_watches(parts, p);
    watches_inside_state_dir(parts, p);
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

/// A watch of the state directory or of a directory inside it would never read anything (the
/// watcher skips the state directory). A watch of a parent of it is fine.
fn watches_inside_state_dir(parts: &Parts, p: &mut Problems) {
    let state = &parts.agent.state_dir;
    for (j, w) in &parts.watches {
        if w.path.starts_with(state) {
            p.error(
                format!("watch[{j}].path"),
                format!(
                    "{} is inside state_dir {}, whose files are never read; watch a directory outside it",
                    w.path.display(),
                    state.display()
                ),
            );
        }
    }
}

/// What `check-config` checks beyond the file: every watch path must be a directory that
/// this user can list and search, outside `state_dir` (symbolic links resolved). A path that
/// does not exist is an error too (a typo is the likely cause; create the directory, even
/// empty, before the agent starts). `run` does not refuse such a path: it reports it through
/// the heartbeat until it is usable.
pub(crate) fn watch_paths(parts: &Parts, p: &mut Problems) {
    use crate::watch::health::{effective_uid, probe, PathState};
    let state = std::fs::canonicalize(&parts.agent.state_dir).ok();
    for (j, w) in &parts.watches {
        let key = format!("watch[{j}].path");
        let shown = w.path.display();
        match probe(&w.path) {
            PathState::Ok => {}
            s @ PathState::Missing => p.error(
                key,
                format!("{shown} {s}; create it (an empty directory is fine) or fix the path"),
            ),
            s => p.error(key, format!("{shown}: {s}")),
        }
        let real = std::fs::canonicalize(&w.path).ok();
        if let (Some(real), Some(state)) = (real, &state) {
            if real.starts_with(state) && !w.path.starts_with(&parts.agent.state_dir) {
                p.error(
                    format!("watch[{j}].path"),
                    format!(
                        "{shown} is {}, inside state_dir {}, whose files are never read",
                        real.display(),
                        state.display()
                    ),
                );
            }
        }
    }
    // As root, every path is readable: when the state directory shows that the agent runs as
    // another user, say that this check did not speak for that user.
    let owner = std::fs::metadata(&parts.agent.state_dir).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    if let (false, Some(0), Ok(uid)) = (parts.watches.is_empty(), effective_uid(), owner) {
        if uid != 0 {
            p.warn(
                "agent.state_dir",
                format!(
                    "{} belongs to uid {uid}, so the agent probably runs as that user, but the \
                     watch paths were checked as root, who can read everything; run check-config \
                     as that user too (sudo -u '#{uid}' nagbridge check-config ...)",
                    parts.agent.state_dir.display()
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
