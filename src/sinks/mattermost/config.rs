//! The keys of a `[[channel]]` of type `mattermost` (SPEC section 6): `url`* (the incoming
//! webhook, `https://chat.example.com/hooks/<id>`, a secret as a whole), `channel`,
//! `username`, `icon_url` (the last two only when the server lets integrations override
//! them), `ca_file` (a self-hosted server's private CA).
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their
//! values. `Debug` never shows the URL.

use std::path::PathBuf;

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::{hook, http};

/// A `mattermost` channel's settings.
#[derive(Debug, Clone)]
pub struct MattermostConfig {
    /// The incoming webhook.
    pub url: Secret,
    /// A channel name (`town-square`) or `@user` for a direct message.
    pub channel: Option<String>,
    /// Sender name (when the server allows overriding it).
    pub username: Option<String>,
    /// Sender picture (when the server allows overriding it).
    pub icon_url: Option<String>,
    /// A PEM CA certificate file added to the built-in roots.
    pub ca_file: Option<PathBuf>,
}

/// A channel as Mattermost takes it: its name (`town-square`; a leading `#` is dropped) or
/// `@user`.
pub fn validate_channel(s: &str) -> Result<String, String> {
    let t = s.trim();
    let t = t.strip_prefix('#').unwrap_or(t);
    if t.is_empty() || t == "@" || t.chars().any(char::is_whitespace) {
        return Err(format!(
            "{s:?} is not a channel; write its name as in its URL (\"town-square\") or \"@user\""
        ));
    }
    Ok(t.to_string())
}

/// Read the keys of a `mattermost` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<MattermostConfig> {
    let url = hook::read_url(s, p, |u| {
        if u.path_segments()
            .is_some_and(|mut x| x.any(|seg| seg == "hooks"))
        {
            Ok(())
        } else {
            Err(
                "a Mattermost incoming webhook URL ends in /hooks/<id> (Integrations > \
                 Incoming Webhooks)"
                    .into(),
            )
        }
    });
    let channel = s.read(p, "channel", |v| validate_channel(r::string(v)?));
    let username = hook::read_text(s, p, "username");
    let icon_url = hook::read_link(s, p, "icon_url");
    let ca_file = s.read(p, "ca_file", |v| {
        let path = PathBuf::from(r::non_empty_string(v)?);
        http::load_ca(&path)?;
        Ok(path)
    });
    Some(MattermostConfig {
        url: url?,
        channel,
        username,
        icon_url,
        ca_file,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"chat\"\ntype = \"mattermost\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn mattermost_config_reads_every_key() {
        let c = load(
            "url = \"https://chat.example.com/hooks/S3CR3Tmm\"\nchannel = \"#backups\"\n\
             username = \"Backups\"\nicon_url = \"https://chat.example.com/i.png\"",
        )
        .unwrap();
        let crate::sinks::ChannelOptions::Mattermost(m) = &c.channels[0].options else {
            panic!("not mattermost")
        };
        assert_eq!(m.channel.as_deref(), Some("backups"));
        assert_eq!(m.username.as_deref(), Some("Backups"));
        assert_eq!(
            m.icon_url.as_deref(),
            Some("https://chat.example.com/i.png")
        );
        assert!(!format!("{c:?}").contains("S3CR3Tmm"));
    }

    #[test]
    fn mattermost_config_problems_have_key_paths() {
        let e = load(
            "url = \"https://chat.example.com/S3CR3Tmm\"\nchannel = \"two words\"\n\
             icon_url = \"not a url\"\nca_file = \"/nonexistent/ca.pem\"\nicon_emoji = \":x:\"",
        )
        .unwrap_err();
        let want = [
            "t: channel[0].url: the URL from an inline value: a Mattermost incoming webhook URL ends in /hooks/<id>",
            "t: channel[0].channel: \"two words\" is not a channel",
            "t: channel[0].icon_url: not a valid URL",
            "t: channel[0].ca_file: cannot read CA file /nonexistent/ca.pem",
            "t: channel[0].icon_emoji: unknown key",
        ];
        for w in want {
            assert!(
                e.iter().any(|l| l.starts_with(w)),
                "missing {w:?} in\n{}",
                e.join("\n")
            );
        }
        assert!(!e.join("\n").contains("S3CR3Tmm"), "{e:?}");
    }
}
