//! The keys of a `[[channel]]` of type `telegram` (SPEC section 6): `token`* (the bot token
//! from @BotFather, `<bot id>:<secret>`), `chat_id` (a number such as `123456789` or
//! `-1001234567890`, or `@channelusername`), `api_url` (default `https://api.telegram.org`, or
//! a local Bot API server).
//!
//! Owns: reading those keys ([`read`]) and their pure checks ([`validate_token`],
//! [`parse_chat_id`], [`validate_api_url`]). `Debug` shows no token.

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url};

/// The public Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// A `telegram` channel's settings. `Debug` redacts the token.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// The bot token (a secret).
    pub token: Secret,
    /// The chat: a number (as text) or `@channelusername`.
    pub chat_id: ChatId,
    /// The Bot API server (no trailing slash).
    pub api_url: String,
}

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatId {
    /// A numeric chat id (negative for groups, supergroups and channels).
    Number(i64),
    /// `@channelusername` (public channels and supergroups).
    Username(String),
}

impl ChatId {
    /// The JSON value of `chat_id`.
    pub fn json(&self) -> serde_json::Value {
        match self {
            ChatId::Number(n) => serde_json::json!(n),
            ChatId::Username(u) => serde_json::json!(u),
        }
    }

    /// True for a group or channel (a negative id, or a username).
    pub fn is_group(&self) -> bool {
        match self {
            ChatId::Number(n) => *n < 0,
            ChatId::Username(_) => true,
        }
    }
}

impl std::fmt::Display for ChatId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatId::Number(n) => write!(f, "{n}"),
            ChatId::Username(u) => f.write_str(u),
        }
    }
}

/// A bot token as @BotFather gives it: digits, `:`, then letters, digits, `_` or `-`. The
/// message never holds the token.
pub fn validate_token(token: &str) -> Result<(), String> {
    let t = token.trim();
    let ok = t.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && secret.len() >= 20
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(
            "not a bot token (expected <bot id>:<secret> as @BotFather gives it, e.g. \
             123456789:AAH...; the whole token, nothing around it)"
                .into(),
        )
    }
}

/// A `chat_id`: an integer (TOML number or text), or `@username`.
pub fn parse_chat_id(v: &toml::Value) -> Result<ChatId, String> {
    const HINT: &str = "expected a chat id such as 123456789 or -1001234567890 (send the bot a \
                        message, then open https://api.telegram.org/bot<token>/getUpdates and \
                        read message.chat.id), or @channelusername";
    if let toml::Value::Integer(n) = v {
        return Ok(ChatId::Number(*n));
    }
    let s = r::string(v).map_err(|e| format!("{e}; {HINT}"))?.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(ChatId::Number(n));
    }
    let name = s.strip_prefix('@').unwrap_or_default();
    if (4..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Ok(ChatId::Username(s.to_string()));
    }
    Err(format!("{s:?} is not a chat id; {HINT}"))
}

/// The Bot API server: http(s) with a host, without a trailing slash.
pub fn validate_api_url(url: &str) -> Result<String, String> {
    let u = validate_url(url)?;
    if u.query().is_some() {
        return Err("api_url takes no query (the token goes into the path by itself)".into());
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

/// Read the keys of a `telegram` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<TelegramConfig> {
    let token = s.required_secret(p, "token");
    if let Some(Ok(text)) = token.as_ref().map(Secret::resolve_string) {
        if let Err(e) = validate_token(&text) {
            p.error(s.key("token"), e);
        }
    }
    let chat_id = s.required(p, "chat_id", parse_chat_id);
    let api_url = s.read(p, "api_url", |v| validate_api_url(r::string(v)?));
    if let Some(u) = api_url.as_deref().and_then(|u| validate_url(u).ok()) {
        if cleartext_to_remote(&u) {
            p.warn(
                s.key("api_url"),
                "plain http to another machine: the bot token (in every request's path) and \
                 every outcome travel unencrypted; use https",
            );
        }
    }
    Some(TelegramConfig {
        token: token?,
        chat_id: chat_id?,
        api_url: api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const TOKEN: &str = "123456789:AAHsecret-T0KEN_value0123456789";

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"tg\"\ntype = \"telegram\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    fn tg(c: &Config) -> &TelegramConfig {
        match &c.channels[0].options {
            crate::sinks::ChannelOptions::Telegram(t) => t,
            #[allow(unreachable_patterns)]
            _ => panic!("not telegram"),
        }
    }

    #[test]
    fn telegram_config_reads_every_key() {
        let c = load(&format!("token = \"{TOKEN}\"\nchat_id = -1001234567890")).unwrap();
        let t = tg(&c);
        assert_eq!(t.chat_id, ChatId::Number(-1_001_234_567_890));
        assert!(t.chat_id.is_group());
        assert_eq!(t.api_url, DEFAULT_API_URL);
        assert!(!format!("{c:?}").contains("AAHsecret"));
        let c = load(&format!(
            "token = \"{TOKEN}\"\nchat_id = \"@backup_alerts\"\napi_url = \"http://127.0.0.1:8081/\""
        ))
        .unwrap();
        let t = tg(&c);
        assert_eq!(t.chat_id, ChatId::Username("@backup_alerts".into()));
        assert_eq!(t.api_url, "http://127.0.0.1:8081");
        let c = load(&format!("token = \"{TOKEN}\"\nchat_id = \"42\"")).unwrap();
        assert_eq!(tg(&c).chat_id, ChatId::Number(42));
        assert!(!tg(&c).chat_id.is_group());
    }

    #[test]
    fn telegram_config_problems() {
        let e = load("token = \"bot123:AAH-wrong\"\nchat_id = \"general\"\napi_url = \"ftp://x\"")
            .unwrap_err();
        let all = e.join("\n");
        for want in [
            "t: channel[0].token: not a bot token",
            "t: channel[0].chat_id: \"general\" is not a chat id",
            "t: channel[0].api_url: scheme \"ftp\" is not http or https",
        ] {
            assert!(all.contains(want), "{want} not in\n{all}");
        }
        assert!(!all.contains("AAH-wrong"), "{all}");
        let e = load("").unwrap_err().join("\n");
        assert!(e.contains("channel[0].token: missing required key"), "{e}");
        assert!(
            e.contains("channel[0].chat_id: missing required key"),
            "{e}"
        );
        let c = load(&format!(
            "token = \"{TOKEN}\"\nchat_id = 1\napi_url = \"http://bot-api.example.com\""
        ))
        .unwrap();
        assert!(c
            .warnings
            .iter()
            .any(|w| w.to_string().contains("plain http")));
    }
}
