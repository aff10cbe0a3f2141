//! The keys of a `[[channel]] type = "matrix"` (SPEC section 6): `homeserver` (the client-server
//! API's base URL), `access_token`* (of the account that posts) and `room` (a room id
//! `!abc:example.org`, or an alias `#backups:example.org` resolved through the room directory).
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their values
//! ([`Room::parse`], [`validate_homeserver`]). The token is resolved once while reading, only
//! to check it; `Debug` never shows it.

use std::fmt;

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::webhook::config::{cleartext_to_remote, validate_url};

/// Where to post: a room id, or an alias to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Room {
    /// `!opaque:server`.
    Id(String),
    /// `#name:server`.
    Alias(String),
}

impl Room {
    /// `!id:server` or `#alias:server`.
    pub fn parse(s: &str) -> Result<Room, String> {
        let s = s.trim();
        let valid_rest = |rest: &str| {
            rest.split_once(':').is_some_and(|(local, server)| {
                !local.is_empty()
                    && !server.is_empty()
                    && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
            })
        };
        // Room ids of room version 12 have no server part (`!<hash>`).
        let opaque = |rest: &str| {
            !rest.is_empty() && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        match s.chars().next() {
            Some('!') if opaque(&s[1..]) => Ok(Room::Id(s.to_string())),
            Some('#') if valid_rest(&s[1..]) => Ok(Room::Alias(s.to_string())),
            _ => Err(format!(
                "{s:?} is not a room id (\"!abc123:example.org\") or alias \
                 (\"#backups:example.org\"); in Element: Room settings, Advanced, \"Internal room \
                 ID\""
            )),
        }
    }

    /// The id or alias as written.
    pub fn as_str(&self) -> &str {
        match self {
            Room::Id(s) | Room::Alias(s) => s,
        }
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `matrix` channel's settings. `Debug` redacts the token.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// The homeserver's client-server API base (`https://matrix.example.org`).
    pub homeserver: String,
    /// The access token of the posting account.
    pub access_token: Secret,
    /// The room.
    pub room: Room,
}

/// `homeserver`: http(s) with a host, no query; the API paths are added to it.
pub fn validate_homeserver(url: &str) -> Result<reqwest::Url, String> {
    let u = validate_url(url)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!(
            "{url:?}: give the homeserver's base URL without a query (e.g. https://matrix.example.org)"
        ));
    }
    Ok(u)
}

/// Read the keys of a `matrix` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<MatrixConfig> {
    let homeserver = s.required(p, "homeserver", |v| {
        let text = r::non_empty_string(v)?;
        validate_homeserver(&text)?;
        Ok(text)
    });
    if let Some(url) = &homeserver {
        if validate_url(url).is_ok_and(|u| cleartext_to_remote(&u)) {
            p.warn(
                s.key("homeserver"),
                format!(
                    "{url} is plain http to another machine: the access token and every outcome \
                     travel unencrypted; use https"
                ),
            );
        }
    }
    let access_token = s.required_secret(p, "access_token");
    if let Some(t) = &access_token {
        if let Ok(text) = t.resolve_string() {
            if text.trim().bytes().any(|b| !b.is_ascii_graphic()) {
                p.error(
                    s.key("access_token"),
                    format!(
                        "the token from {} holds a space or a control character (an access \
                         token is one word, e.g. syt_...)",
                        t.origin()
                    ),
                );
            }
        }
    }
    let room = s.required(p, "room", |v| Room::parse(&r::non_empty_string(v)?));
    Some(MatrixConfig {
        homeserver: homeserver?,
        access_token: access_token?,
        room: room?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"mx\"\ntype = \"matrix\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    #[test]
    fn matrix_config_reads_every_key() {
        let c = load(
            "homeserver = \"https://matrix.example.org\"\naccess_token = \"syt_c2VjcmV0_T0KEN\"\nroom = \"#backups:example.org\"",
        )
        .unwrap();
        let m = match &c.channels[0].options {
            crate::sinks::ChannelOptions::Matrix(m) => m,
            #[allow(unreachable_patterns)]
            _ => panic!("not matrix"),
        };
        assert_eq!(m.room, Room::Alias("#backups:example.org".into()));
        assert_eq!(m.homeserver, "https://matrix.example.org");
        assert!(!format!("{c:?}").contains("syt_c2VjcmV0_T0KEN"));
        assert_eq!(
            Room::parse("!AbC:example.org:8448"),
            Ok(Room::Id("!AbC:example.org:8448".into()))
        );
        // Room version 12: no server part (seen from Synapse here).
        let v12 = "!i_5jA0kkLphJAiVXsImyWbf-TaplTkl1LOYUdg9xLa0";
        assert_eq!(Room::parse(v12), Ok(Room::Id(v12.into())));
        assert!(Room::parse("#nohost").is_err());
        assert!(Room::parse("! x").is_err());
    }

    #[test]
    fn matrix_config_problems_have_key_paths() {
        let e = load("homeserver = \"matrix.example.org\"\nroom = \"backups\"\naccess_token = \"a b\"\ntoken = 1")
            .unwrap_err();
        let all = e.join("\n");
        for want in [
            "t: channel[0].homeserver: not a valid URL",
            "t: channel[0].room: \"backups\" is not a room id",
            "t: channel[0].access_token: the token from an inline value holds a space",
            "t: channel[0].token: unknown key",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        assert!(!all.contains("a b\""), "{all}");
        let e = load("room = \"!x:y\"").unwrap_err();
        assert!(e
            .iter()
            .any(|l| l.contains("homeserver: missing required key")));
        assert!(e
            .iter()
            .any(|l| l.contains("access_token: missing required key")));
        let c = load(
            "homeserver = \"http://matrix.example.org\"\naccess_token = \"t0ken\"\nroom = \"!x:y\"",
        )
        .unwrap();
        assert!(c.warnings[0].to_string().contains("plain http"));
    }
}
