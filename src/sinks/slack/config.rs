//! The keys of a `[[channel]]` of type `slack` (SPEC section 6): `url`* (the incoming
//! webhook's URL, a secret as a whole), `channel`, `username`, `icon_emoji` (honoured only by
//! legacy custom-integration webhooks; an app's webhook posts as the app, in its channel).
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their
//! values. `Debug` never shows the URL.

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::hook;

/// A `slack` channel's settings.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// The incoming webhook (`https://hooks.slack.com/services/T…/B…/…`).
    pub url: Secret,
    /// `#channel` or `@user` (legacy webhooks only).
    pub channel: Option<String>,
    /// The name shown as the sender (legacy webhooks only).
    pub username: Option<String>,
    /// `:floppy_disk:` (legacy webhooks only).
    pub icon_emoji: Option<String>,
}

/// An emoji name as Slack takes it, `:name:` (letters, digits, `_`, `-`, `+`, `'`); a name
/// without colons gets them.
pub fn validate_icon_emoji(s: &str) -> Result<String, String> {
    let name = s.trim().trim_matches(':');
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '\''));
    if ok {
        Ok(format!(":{name}:"))
    } else {
        Err(format!(
            "{s:?} is not an emoji name; write it as Slack does, e.g. \":floppy_disk:\""
        ))
    }
}

/// Read the keys of a `slack` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<SlackConfig> {
    let url = hook::read_url(s, p, |_| Ok(()));
    let channel = hook::read_text(s, p, "channel");
    let username = hook::read_text(s, p, "username");
    let icon_emoji = s.read(p, "icon_emoji", |v| validate_icon_emoji(r::string(v)?));
    Some(SlackConfig {
        url: url?,
        channel,
        username,
        icon_emoji,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"chat\"\ntype = \"slack\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn slack_config_reads_every_key() {
        let c = load(
            "url = \"https://hooks.slack.com/services/T0/B0/S3CR3T-slack\"\nchannel = \"#ops\"\n\
             username = \"Backups\"\nicon_emoji = \"floppy_disk\"",
        )
        .unwrap();
        let crate::sinks::ChannelOptions::Slack(s) = &c.channels[0].options else {
            panic!("not slack")
        };
        assert_eq!(s.channel.as_deref(), Some("#ops"));
        assert_eq!(s.username.as_deref(), Some("Backups"));
        assert_eq!(s.icon_emoji.as_deref(), Some(":floppy_disk:"));
        assert!(!format!("{c:?}").contains("S3CR3T"));
    }

    #[test]
    fn slack_config_problems_have_key_paths() {
        let e = load(
            "url = \"hooks.slack.com/services/S3CR3T-slack\"\nicon_emoji = \"no spaces\"\n\
             channel = \"\"\nicon_url = \"https://x.example/i.png\"",
        )
        .unwrap_err();
        let want = [
            "t: channel[0].url: the URL from an inline value: not a valid URL",
            "t: channel[0].icon_emoji: \"no spaces\" is not an emoji name",
            "t: channel[0].channel: ",
            "t: channel[0].icon_url: unknown key",
        ];
        for w in want {
            assert!(
                e.iter().any(|l| l.starts_with(w)),
                "missing {w:?} in\n{}",
                e.join("\n")
            );
        }
        assert!(!e.join("\n").contains("S3CR3T"), "{e:?}");
        let e = load("channel = \"#ops\"").unwrap_err();
        assert!(e[0].starts_with("t: channel[0].url: missing required key"));
    }
}
