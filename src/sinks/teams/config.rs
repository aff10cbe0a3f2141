//! The keys of a `[[channel]]` of type `teams` (SPEC section 6): `url`*, the URL of a Teams
//! Workflows webhook (Power Automate "When a Teams webhook request is received"); its `sig=`
//! query value is its credential, so the URL is a secret as a whole.
//!
//! Owns: reading the key ([`read`]) and the pure check of the URL ([`validate_url`]): http(s)
//! with a host, and never a legacy Office 365 connector URL (`*.webhook.office.com`,
//! `outlook.office.com/webhook`), which Microsoft retired: refused with the reason and how to
//! migrate. `Debug` shows no URL.

use crate::config::problem::Problems;
use crate::config::reader::Section;
use crate::config::Secret;
use crate::sinks::http;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url as http_url};

/// Where Microsoft announced the retirement of Office 365 connectors in Teams.
pub const RETIREMENT_NOTICE: &str =
    "https://devblogs.microsoft.com/microsoft365dev/retirement-of-office-365-connectors-within-microsoft-teams/";

/// A `teams` channel's settings. `Debug` redacts the URL.
#[derive(Debug, Clone)]
pub struct TeamsConfig {
    /// The Workflows webhook URL (a secret).
    pub url: Secret,
}

/// True for the URL of a legacy Office 365 connector ("Incoming Webhook" connector):
/// `https://<tenant>.webhook.office.com/webhookb2/...` or `https://outlook.office.com/webhook/...`.
pub fn legacy_connector(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    host == "webhook.office.com"
        || host.ends_with(".webhook.office.com")
        || (matches!(host, "outlook.office.com" | "outlook.office365.com")
            && u.path().to_ascii_lowercase().starts_with("/webhook"))
}

/// Why a legacy connector URL is refused, and what to do (the URL shown redacted).
pub fn legacy_message(url: &str) -> String {
    format!(
        "{} is a legacy Office 365 connector URL: Microsoft retired Office 365 connectors in \
         Teams ({RETIREMENT_NOTICE}), so nothing sent there arrives. Create a Workflows webhook \
         instead: in the Teams channel, ⋯ (More options) → Workflows → \"Post to a channel when \
         a webhook request is received\", pick the team and channel, and set url to the URL the \
         workflow shows (https://...logic.azure.com/workflows/... or \
         https://...powerplatform.com/...); nagbridge sends it an Adaptive Card",
        http::redact_secret_url(url)
    )
}

/// A Workflows webhook URL: http(s) with a host, not a legacy connector. The message never
/// holds the URL's path or query.
pub fn validate_url(url: &str) -> Result<reqwest::Url, String> {
    let u = http_url(url)?;
    if legacy_connector(&u) {
        return Err(legacy_message(url));
    }
    Ok(u)
}

/// Read the keys of a `teams` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<TeamsConfig> {
    let url = s.required_secret(p, "url")?;
    if let Ok(text) = url.resolve_string() {
        match validate_url(&text) {
            Ok(u) if cleartext_to_remote(&u) => p.warn(
                s.key("url"),
                format!(
                    "{} is plain http to another machine: the workflow's signature and every \
                     outcome travel unencrypted; use https",
                    http::redact_secret_url(&text)
                ),
            ),
            Ok(_) => {}
            Err(e) => p.error(s.key("url"), format!("the URL from {}: {e}", url.origin())),
        }
    }
    Some(TeamsConfig { url })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"team\"\ntype = \"teams\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    const WORKFLOW: &str = "https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c3d4e5f/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S1GNATURE-secret-value";

    #[test]
    fn teams_config_reads_a_workflows_url_and_hides_it() {
        let c = load(&format!("url = \"{WORKFLOW}\"")).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("S1GNATURE"), "{debug}");
        assert!(!debug.contains("0a1b2c3d4e5f"), "{debug}");
        // The newer Power Platform shapes are accepted too.
        for ok in [
            "https://default0a1b.2c.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=x",
            "https://prod-00.uksouth.logic.azure.com/workflows/abc/triggers/manual/paths/invoke",
        ] {
            assert!(validate_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn teams_legacy_connector_urls_are_refused_with_the_way_out() {
        for legacy in [
            "https://contoso.webhook.office.com/webhookb2/1111@2222/IncomingWebhook/T0KEN33/4444",
            "https://outlook.office.com/webhook/1111@2222/IncomingWebhook/T0KEN33/4444",
            "https://WEBHOOK.office.com/webhookb2/T0KEN33",
        ] {
            let e = load(&format!("url = \"{legacy}\"")).unwrap_err();
            let all = e.join("\n");
            assert!(
                all.starts_with("t: channel[0].url: the URL from an inline value: https://"),
                "{all}"
            );
            for want in [
                "legacy Office 365 connector URL",
                RETIREMENT_NOTICE,
                "Workflows",
                "Post to a channel when a webhook request is received",
            ] {
                assert!(all.contains(want), "{want} not in {all}");
            }
            assert!(!all.contains("T0KEN33"), "{all}");
        }
        // Not legacy: another path on outlook.office.com, a look-alike host.
        for fine in [
            "https://outlook.office.com/mail",
            "https://webhook.office.com.example.net/x",
        ] {
            assert!(
                !legacy_connector(&reqwest::Url::parse(fine).unwrap()),
                "{fine}"
            );
        }
    }

    #[test]
    fn teams_config_problems() {
        let e = load("").unwrap_err();
        assert!(
            e[0].starts_with("t: channel[0].url: missing required key"),
            "{e:?}"
        );
        let e = load("url = \"ftp://x.example/S3CRET\"\nchannel = \"x\"").unwrap_err();
        let all = e.join("\n");
        assert!(all.contains("scheme \"ftp\" is not http or https"), "{all}");
        assert!(all.contains("channel[0].channel: unknown key"), "{all}");
        assert!(!all.contains("S3CRET"));
        let c = load("url = \"http://teams.example.com/x?sig=S3CRET\"").unwrap();
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert!(w.iter().any(|w| w.contains("plain http")), "{w:?}");
        assert!(!w.join("").contains("S3CRET"));
    }
}
