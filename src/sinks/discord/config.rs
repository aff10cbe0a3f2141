//! The keys of a `[[channel]]` of type `discord` (SPEC section 6): `url`* (the webhook,
//! `https://discord.com/api/webhooks/<id>/<token>`, a secret as a whole), `username`,
//! `avatar_url`.
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their
//! values (Discord refuses a name with "clyde" or "discord" in it, or longer than 80).
//! `Debug` never shows the URL.

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::hook;

/// A `discord` channel's settings.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// The webhook.
    pub url: Secret,
    /// Sender name instead of the webhook's.
    pub username: Option<String>,
    /// Sender picture instead of the webhook's.
    pub avatar_url: Option<String>,
}

/// A webhook name Discord takes: 1 to 80 characters, without "clyde" or "discord".
pub fn validate_username(s: &str) -> Result<String, String> {
    let t = s.trim();
    let lower = t.to_lowercase();
    if t.is_empty() || t.chars().count() > 80 {
        return Err(format!("{s:?} must be 1 to 80 characters long"));
    }
    for word in ["clyde", "discord"] {
        if lower.contains(word) {
            return Err(format!(
                "{s:?} contains {word:?}, which Discord refuses in a webhook's name"
            ));
        }
    }
    Ok(t.to_string())
}

/// A Discord webhook URL: `/api/webhooks/<id>/<token>` on discord.com (or its old and canary
/// hosts); another host is taken as is (a proxy, or a test double).
pub fn validate_discord_url(u: &reqwest::Url) -> Result<(), String> {
    let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
    let discord = [
        "discord.com",
        "discordapp.com",
        "canary.discord.com",
        "ptb.discord.com",
    ]
    .contains(&host.as_str());
    let segments: Vec<&str> = u.path_segments().map(|s| s.collect()).unwrap_or_default();
    let shaped = segments.len() >= 4
        && segments[0] == "api"
        && segments.contains(&"webhooks")
        && segments.last().is_some_and(|s| !s.is_empty());
    if discord && !shaped {
        return Err(
            "a Discord webhook URL looks like https://discord.com/api/webhooks/<id>/<token> \
                    (Server Settings > Integrations > Webhooks > Copy Webhook URL)"
                .into(),
        );
    }
    Ok(())
}

/// Read the keys of a `discord` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<DiscordConfig> {
    let url = hook::read_url(s, p, validate_discord_url);
    let username = s.read(p, "username", |v| validate_username(r::string(v)?));
    let avatar_url = hook::read_link(s, p, "avatar_url");
    Some(DiscordConfig {
        url: url?,
        username,
        avatar_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"chat\"\ntype = \"discord\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn discord_config_reads_every_key() {
        let c = load(
            "url = \"https://discord.com/api/webhooks/123/S3CR3T-dc\"\nusername = \"Backups\"\n\
             avatar_url = \"https://example.com/a.png\"",
        )
        .unwrap();
        let crate::sinks::ChannelOptions::Discord(d) = &c.channels[0].options else {
            panic!("not discord")
        };
        assert_eq!(d.username.as_deref(), Some("Backups"));
        assert_eq!(d.avatar_url.as_deref(), Some("https://example.com/a.png"));
        assert!(!format!("{c:?}").contains("S3CR3T"));
    }

    #[test]
    fn discord_config_problems_have_key_paths() {
        let e = load(
            "url = \"https://discord.com/webhooks/S3CR3T-dc\"\nusername = \"Discord Bot\"\n\
             avatar_url = \"ftp://x\"\nchannel = \"#x\"",
        )
        .unwrap_err();
        let want = [
            "t: channel[0].url: the URL from an inline value: a Discord webhook URL looks like",
            "t: channel[0].username: \"Discord Bot\" contains \"discord\"",
            "t: channel[0].avatar_url: scheme \"ftp\" is not http or https",
            "t: channel[0].channel: unknown key",
        ];
        for w in want {
            assert!(
                e.iter().any(|l| l.starts_with(w)),
                "missing {w:?} in\n{}",
                e.join("\n")
            );
        }
        assert!(!e.join("\n").contains("S3CR3T"), "{e:?}");
        assert!(validate_username("clyde's helper").is_err());
        assert!(validate_username(&"x".repeat(81)).is_err());
    }
}
