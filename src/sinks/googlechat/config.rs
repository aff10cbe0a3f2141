//! The keys of a `[[channel]]` of type `googlechat` (SPEC section 6): `url`*, the space's
//! incoming webhook URL (`https://chat.googleapis.com/v1/spaces/<space>/messages?key=...&token=...`);
//! its `key` and `token` query values are its credentials, so the URL is a secret as a whole.
//!
//! Owns: reading the key ([`read`]) and the pure check of the URL ([`validate_url`]). `Debug`
//! shows no URL.

use crate::config::problem::Problems;
use crate::config::reader::Section;
use crate::config::Secret;
use crate::sinks::http;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url as http_url};

/// A `googlechat` channel's settings. `Debug` redacts the URL.
#[derive(Debug, Clone)]
pub struct GoogleChatConfig {
    /// The incoming webhook URL (a secret).
    pub url: Secret,
}

/// An incoming webhook URL: http(s) with a host; on Google's own host it must carry `key` and
/// `token` (a URL copied without its query cannot work). The message never holds the URL.
pub fn validate_url(url: &str) -> Result<reqwest::Url, String> {
    let u = http_url(url)?;
    if u.host_str() == Some("chat.googleapis.com") {
        let has = |k: &str| u.query_pairs().any(|(name, v)| name == k && !v.is_empty());
        if !has("key") || !has("token") {
            return Err(format!(
                "{} lacks its key= and token= query values: copy the whole URL from the space's \
                 Apps & integrations → Webhooks",
                http::redact_secret_url(url)
            ));
        }
    }
    Ok(u)
}

/// Read the keys of a `googlechat` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<GoogleChatConfig> {
    let url = s.required_secret(p, "url")?;
    if let Ok(text) = url.resolve_string() {
        match validate_url(&text) {
            Ok(u) if cleartext_to_remote(&u) => p.warn(
                s.key("url"),
                format!(
                    "{} is plain http to another machine: the webhook's key and token and every \
                     outcome travel unencrypted; use https",
                    http::redact_secret_url(&text)
                ),
            ),
            Ok(_) => {}
            Err(e) => p.error(s.key("url"), format!("the URL from {}: {e}", url.origin())),
        }
    }
    Some(GoogleChatConfig { url })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"gchat\"\ntype = \"googlechat\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn googlechat_config_reads_the_url_and_hides_it() {
        let c = load(
            "url = \"https://chat.googleapis.com/v1/spaces/AAAAsp4ce/messages?key=K3Y-secret&token=T0KEN-secret\"",
        )
        .unwrap();
        let debug = format!("{c:?}");
        for leak in ["AAAAsp4ce", "K3Y-secret", "T0KEN-secret"] {
            assert!(!debug.contains(leak), "{leak} in {debug}");
        }
        let e =
            load("url = \"https://chat.googleapis.com/v1/spaces/AAAAsp4ce/messages\"").unwrap_err();
        assert!(e[0].contains("lacks its key= and token="), "{e:?}");
        assert!(!e[0].contains("AAAAsp4ce"), "{e:?}");
        let e = load("").unwrap_err();
        assert!(
            e[0].contains("channel[0].url: missing required key"),
            "{e:?}"
        );
        let e = load("url = \"https://h.example/x\"\ntoken = \"x\"").unwrap_err();
        assert!(e[0].contains("channel[0].token: unknown key"), "{e:?}");
    }
}
