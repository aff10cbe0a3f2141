//! The keys of a `[[channel]]` of type `ntfy` (SPEC section 6): `url` (the server and topic,
//! `https://ntfy.sh/backups-7f3a`; on a public server the topic name is what keeps others from
//! reading it, so the URL may be a secret too and is shown redacted), and either `token`* (an
//! access token, sent as `Authorization: Bearer`) or `username` and `password`* (Basic).
//!
//! Owns: reading those keys ([`read`]) and the pure check of the URL ([`split_url`]: the
//! server's root and the topic). `Debug` shows no secret.

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::http;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url};

/// How nagbridge logs in to the ntfy server.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No login (a public or open topic).
    None,
    /// `Authorization: Bearer <token>`.
    Token(Secret),
    /// `Authorization: Basic` with this user and password.
    Basic(String, Secret),
}

/// An `ntfy` channel's settings. `Debug` redacts the URL and the secrets.
#[derive(Debug, Clone)]
pub struct NtfyConfig {
    /// `https://server[/base]/topic` (may be a secret).
    pub url: Secret,
    /// The login.
    pub auth: Auth,
}

/// `https://server[/base]/topic` as (the server's root `https://server[/base]/`, the topic).
/// Topics are letters, digits, `_` and `-`, at most 64 (ntfy's rule).
pub fn split_url(url: &str) -> Result<(reqwest::Url, String), String> {
    let u = validate_url(url)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err("the URL takes no query: write https://server/topic".into());
    }
    let mut segments: Vec<String> = u
        .path_segments()
        .map(|s| s.map(str::to_string).collect())
        .unwrap_or_default();
    while segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    let Some(topic) = segments.pop() else {
        return Err("the URL names no topic: write https://server/topic".into());
    };
    if topic.is_empty()
        || topic.len() > 64
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(
            "the topic (the URL's last path segment) must be 1 to 64 letters, digits, _ or -"
                .into(),
        );
    }
    let mut root = u.clone();
    root.set_path(&format!("{}/", segments.join("/")));
    Ok((root, topic))
}

/// Read the keys of an `ntfy` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<NtfyConfig> {
    let url = s.required_secret(p, "url");
    if let Some(Ok(text)) = url.as_ref().map(Secret::resolve_string) {
        match split_url(&text) {
            Ok((root, _)) if cleartext_to_remote(&root) => p.warn(
                s.key("url"),
                format!(
                    "{} is plain http to another machine: the topic, any login and every \
                     outcome travel unencrypted; use https",
                    http::redact_secret_url(&text)
                ),
            ),
            Ok(_) => {}
            Err(e) => p.error(
                s.key("url"),
                format!(
                    "the URL from {}: {e}",
                    url.as_ref().map(Secret::origin).unwrap_or_default()
                ),
            ),
        }
    }
    let token = s.secret(p, "token");
    let username = s.read(p, "username", r::non_empty_string);
    let password = s.secret(p, "password");
    let auth = match (token, username, password) {
        (None, None, None) => Auth::None,
        (Some(t), None, None) => Auth::Token(t),
        (None, Some(u), Some(pw)) => Auth::Basic(u, pw),
        (Some(_), _, _) => {
            p.error(
                s.key("token"),
                "set either token or username and password, not both",
            );
            return None;
        }
        (None, Some(_), None) => {
            p.error(
                s.key("password"),
                "username is set: password is required too",
            );
            return None;
        }
        (None, None, Some(_)) => {
            p.error(
                s.key("username"),
                "password is set: username is required too",
            );
            return None;
        }
    };
    Some(NtfyConfig { url: url?, auth })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"push\"\ntype = \"ntfy\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn ntfy_url_is_the_server_root_and_the_topic() {
        let (root, topic) = split_url("https://ntfy.sh/backups-7f3a").unwrap();
        assert_eq!(
            (root.as_str(), topic.as_str()),
            ("https://ntfy.sh/", "backups-7f3a")
        );
        let (root, topic) = split_url("https://push.example.com/ntfy/alerts/").unwrap();
        assert_eq!(
            (root.as_str(), topic.as_str()),
            ("https://push.example.com/ntfy/", "alerts")
        );
        assert!(split_url("https://ntfy.sh/")
            .unwrap_err()
            .contains("names no topic"));
        assert!(split_url("https://ntfy.sh/a b")
            .unwrap_err()
            .contains("topic"));
        assert!(split_url("https://ntfy.sh/t?x=1")
            .unwrap_err()
            .contains("no query"));
    }

    #[test]
    fn ntfy_config_auth_forms() {
        let c = load("url = \"https://ntfy.sh/backups\"\ntoken = \"tk_S3CRETtoken\"").unwrap();
        assert!(!format!("{c:?}").contains("S3CRET"));
        let c =
            load("url = \"https://ntfy.sh/backups\"\nusername = \"u\"\npassword = \"pw-S3CRET\"")
                .unwrap();
        assert!(!format!("{c:?}").contains("S3CRET"));
        assert!(!format!("{c:?}").contains("ntfy.sh/backups"));
        let e =
            load("url = \"https://ntfy.sh/b\"\ntoken = \"t\"\nusername = \"u\"\npassword = \"p\"")
                .unwrap_err();
        assert!(
            e[0].contains("channel[0].token: set either token or username"),
            "{e:?}"
        );
        let e = load("url = \"https://ntfy.sh/b\"\nusername = \"u\"").unwrap_err();
        assert!(
            e[0].contains("channel[0].password: username is set"),
            "{e:?}"
        );
        let e = load("url = \"https://ntfy.sh/\"").unwrap_err();
        assert!(e[0].contains("names no topic"), "{e:?}");
        let c = load("url = \"http://ntfy.example.com/b\"").unwrap();
        assert!(c
            .warnings
            .iter()
            .any(|w| w.to_string().contains("plain http")));
    }
}
