//! The keys of a `[[channel]] type = "pagerduty"` (SPEC section 6): `routing_key`* (the
//! integration key of an Events API v2 integration) and `api_url` (default
//! `https://events.pagerduty.com`; tests point it at a local double).
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their values
//! ([`validate_routing_key`], [`validate_api_url`]). The key is resolved once while reading,
//! only to check it; `Debug` never shows it.

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url};

/// PagerDuty's Events API.
pub const DEFAULT_API_URL: &str = "https://events.pagerduty.com";
/// The length of an integration key.
pub const ROUTING_KEY_LEN: usize = 32;

/// A `pagerduty` channel's settings. `Debug` redacts the routing key.
#[derive(Debug, Clone)]
pub struct PagerDutyConfig {
    /// The integration key (`routing_key` of every event).
    pub routing_key: Secret,
    /// Where the API is (`<api_url>/v2/enqueue` receives the events).
    pub api_url: String,
}

/// A routing key: printable ASCII without spaces. `Ok(Some(warning))` when it does not have the
/// documented 32 characters (kept: PagerDuty decides).
pub fn validate_routing_key(key: &str) -> Result<Option<String>, String> {
    if key.is_empty() {
        return Err("is empty".into());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "holds a space, a control character or a non-ASCII character; an integration key \
             is 32 letters and digits"
                .into(),
        );
    }
    if key.len() != ROUTING_KEY_LEN {
        return Ok(Some(format!(
            "has {} characters; PagerDuty's integration keys have {ROUTING_KEY_LEN} (copy the \
             \"Integration Key\" of the service's Events API v2 integration)",
            key.len()
        )));
    }
    Ok(None)
}

/// `api_url`: http(s) with a host and no query; the path of the events endpoint is added to it.
pub fn validate_api_url(url: &str) -> Result<reqwest::Url, String> {
    let u = validate_url(url)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!(
            "{url:?}: give the API's base URL without a query (e.g. {DEFAULT_API_URL})"
        ));
    }
    Ok(u)
}

/// Read the keys of a `pagerduty` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<PagerDutyConfig> {
    let routing_key = s.required_secret(p, "routing_key");
    if let Some(key) = &routing_key {
        // Empty or unreadable: already reported by `required_secret`.
        if let Ok(text) = key.resolve_string() {
            if !text.is_empty() {
                match validate_routing_key(&text) {
                    Ok(None) => {}
                    Ok(Some(w)) => p.warn(
                        s.key("routing_key"),
                        format!("the key from {} {w}", key.origin()),
                    ),
                    Err(e) => p.error(
                        s.key("routing_key"),
                        format!("the key from {} {e}", key.origin()),
                    ),
                }
            }
        }
    }
    let api_url = s.read(p, "api_url", |v| {
        let text = r::non_empty_string(v)?;
        validate_api_url(&text)?;
        Ok(text)
    });
    if let Some(url) = &api_url {
        if validate_url(url).is_ok_and(|u| cleartext_to_remote(&u)) {
            p.warn(
                s.key("api_url"),
                format!(
                    "{url} is plain http to another machine: the routing key and every outcome \
                     travel unencrypted; use https"
                ),
            );
        }
    }
    Some(PagerDutyConfig {
        routing_key: routing_key?,
        api_url: api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"pd\"\ntype = \"pagerduty\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    fn pagerduty(c: &Config) -> &PagerDutyConfig {
        match &c.channels[0].options {
            crate::sinks::ChannelOptions::Pagerduty(x) => x,
            #[allow(unreachable_patterns)]
            _ => panic!("not pagerduty"),
        }
    }

    const KEY: &str = "R0UT1NGk3yR0UT1NGk3yR0UT1NGk3y12";

    #[test]
    fn pagerduty_config_reads_every_key() {
        let c = load(&format!(
            "routing_key = \"{KEY}\"\napi_url = \"http://127.0.0.1:9/\""
        ))
        .unwrap();
        let pd = pagerduty(&c);
        assert_eq!(pd.api_url, "http://127.0.0.1:9/");
        assert_eq!(pd.routing_key.resolve_string().unwrap(), KEY);
        assert!(!format!("{c:?}").contains(KEY));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = load(&format!("routing_key = \"{KEY}\"")).unwrap();
        assert_eq!(pagerduty(&c).api_url, DEFAULT_API_URL);
    }

    #[test]
    fn pagerduty_config_problems_have_key_paths() {
        let e = load("api_url = \"ftp://x/\"\nrouting_kye = 1").unwrap_err();
        let all = e.join("\n");
        for want in [
            "t: channel[0].routing_key: missing required key",
            "t: channel[0].api_url: scheme \"ftp\" is not http or https",
            "t: channel[0].routing_kye: unknown key; did you mean `routing_key`?",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        let e = load("routing_key = \"abc def\"").unwrap_err();
        assert!(e[0].contains("holds a space"), "{e:?}");
        assert!(!e[0].contains("abc def"), "{e:?}");
        let e = load(&format!(
            "routing_key = \"{KEY}\"\napi_url = \"https://x/?k=1\""
        ))
        .unwrap_err();
        assert!(e[0].contains("without a query"), "{e:?}");
        // A key of another length is kept, with a warning that does not show it.
        let c = load("routing_key = \"short-key-1234\"").unwrap();
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert!(w[0].contains("has 14 characters"), "{w:?}");
        assert!(!w[0].contains("short-key-1234"), "{w:?}");
        let c = load(&format!(
            "routing_key = \"{KEY}\"\napi_url = \"http://pd.example.com\""
        ))
        .unwrap();
        assert!(c.warnings[0].to_string().contains("plain http"));
    }
}
