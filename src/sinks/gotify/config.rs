//! The keys of a `[[channel]]` of type `gotify` (SPEC section 6): `url` (the server,
//! `https://gotify.example.com`, with its base path if it has one) and `token`* (an
//! application token: Gotify web UI → Apps → Create Application).
//!
//! Owns: reading those keys ([`read`]) and the pure check of the URL ([`message_url`]).
//! `Debug` shows no token.

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url};

/// A `gotify` channel's settings. `Debug` redacts the token.
#[derive(Debug, Clone)]
pub struct GotifyConfig {
    /// The server's base URL.
    pub url: String,
    /// The application token (a secret).
    pub token: Secret,
}

/// `<url>/message`: where messages are posted. The server URL takes no query.
pub fn message_url(url: &str) -> Result<reqwest::Url, String> {
    let u = validate_url(url)?;
    if u.query().is_some() {
        return Err(
            "the URL takes no query (the token goes into token, sent as X-Gotify-Key)".into(),
        );
    }
    let base = u.as_str().trim_end_matches('/');
    let base = base.strip_suffix("/message").unwrap_or(base);
    reqwest::Url::parse(&format!("{base}/message")).map_err(|e| format!("not a valid URL ({e})"))
}

/// Read the keys of a `gotify` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<GotifyConfig> {
    let url = s.required(p, "url", |v| {
        let text = r::non_empty_string(v)?;
        message_url(&text)?;
        Ok(text)
    });
    if let Some(u) = url.as_deref().and_then(|u| validate_url(u).ok()) {
        if cleartext_to_remote(&u) {
            p.warn(
                s.key("url"),
                "plain http to another machine: the application token and every outcome travel \
                 unencrypted; use https",
            );
        }
    }
    let token = s.required_secret(p, "token");
    Some(GotifyConfig {
        url: url?,
        token: token?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"phone\"\ntype = \"gotify\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn gotify_config_keys() {
        assert_eq!(
            message_url("https://g.example.com").unwrap().as_str(),
            "https://g.example.com/message"
        );
        assert_eq!(
            message_url("https://g.example.com/gotify/")
                .unwrap()
                .as_str(),
            "https://g.example.com/gotify/message"
        );
        assert_eq!(
            message_url("https://g.example.com/message")
                .unwrap()
                .as_str(),
            "https://g.example.com/message"
        );
        let c = load("url = \"https://g.example.com\"\ntoken = \"AppT0kenS3cret\"").unwrap();
        assert!(!format!("{c:?}").contains("AppT0kenS3cret"));
        let e = load("url = \"https://g.example.com/?token=x\"")
            .unwrap_err()
            .join("\n");
        assert!(e.contains("channel[0].url: the URL takes no query"), "{e}");
        assert!(e.contains("channel[0].token: missing required key"), "{e}");
        let c = load("url = \"http://g.example.com\"\ntoken = \"t\"").unwrap();
        assert!(c
            .warnings
            .iter()
            .any(|w| w.to_string().contains("plain http")));
    }
}
