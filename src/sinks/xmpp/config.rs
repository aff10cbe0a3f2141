//! The keys of a `[[channel]] type = "xmpp"` (SPEC section 6): `jid` (the account that sends,
//! a bare JID), `password`*, `to` (JIDs that get a chat message each), `rooms` (MUC rooms that
//! get a groupchat message each; `room@service/nick` sets the nickname, else the JID's local
//! part), `server` (host[:port]; default the JID's domain, port 5222), `ca_file` (a PEM CA
//! for a private server certificate) and `timeout` (login and sending together).
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their
//! values. Must not connect anywhere; `Debug` never shows the password.

use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::email::config::parse_server;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};

/// The client-to-server port.
pub const DEFAULT_PORT: u16 = 5222;
/// Default `timeout`: logging in and sending, together.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A room and the nickname to join it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomJid {
    /// `room@service`.
    pub room: BareJid,
    /// The occupant JID: `room@service/nick`.
    pub occupant: FullJid,
}

/// An `xmpp` channel's settings. `Debug` redacts the password.
#[derive(Debug, Clone, PartialEq)]
pub struct XmppConfig {
    /// The sending account.
    pub jid: BareJid,
    /// Its password.
    pub password: Secret,
    /// Chat recipients.
    pub to: Vec<Jid>,
    /// Rooms.
    pub rooms: Vec<RoomJid>,
    /// Where to connect.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Limit of logging in and sending, together.
    pub timeout: Duration,
}

impl XmppConfig {
    /// `host:port`, for logs.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The sending account: a bare JID with a local part (`nagbridge@example.org`).
pub fn parse_account(s: &str) -> Result<BareJid, String> {
    let jid = Jid::new(s.trim()).map_err(|e| format!("{s:?} is not a JID: {e}"))?;
    if jid.node().is_none() {
        return Err(format!(
            "{s:?} has no user part; write the account as user@domain, e.g. \
             \"nagbridge@example.org\""
        ));
    }
    if jid.resource().is_some() {
        return Err(format!(
            "{s:?} has a resource; give the bare JID (user@domain): nagbridge picks the resource"
        ));
    }
    Ok(jid.into_bare())
}

/// A chat recipient (`ops@example.org`).
pub fn parse_recipient(s: &str) -> Result<Jid, String> {
    let jid = Jid::new(s.trim()).map_err(|e| format!("{s:?} is not a JID: {e}"))?;
    if jid.node().is_none() {
        return Err(format!(
            "{s:?} has no user part; a recipient is user@domain"
        ));
    }
    Ok(jid)
}

/// A room (`backups@conference.example.org`, or `.../nick`), the nickname defaulting to
/// `default_nick`.
pub fn parse_room(s: &str, default_nick: &str) -> Result<RoomJid, String> {
    let jid = Jid::new(s.trim()).map_err(|e| format!("{s:?} is not a JID: {e}"))?;
    if jid.node().is_none() {
        return Err(format!(
            "{s:?} has no room name; a room is room@service, e.g. \
             \"backups@conference.example.org\""
        ));
    }
    let room = jid.to_bare();
    let occupant = match jid.try_into_full() {
        Ok(full) => full,
        Err(bare) => bare.with_resource_str(default_nick).map_err(|e| {
            format!("{s:?}: the nickname {default_nick:?} is not valid: {e}; add /nick")
        })?,
    };
    Ok(RoomJid { room, occupant })
}

fn strings(v: &Value) -> Result<Vec<&str>, String> {
    match v {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(list) => list.iter().map(r::string).collect(),
        other => Err(format!(
            "expected a list of JIDs such as [\"ops@example.org\"], found {}",
            other.type_str()
        )),
    }
}

/// Read the keys of an `xmpp` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<XmppConfig> {
    let jid = s.required(p, "jid", |v| parse_account(r::string(v)?));
    let password = s.required_secret(p, "password");
    let to = s.read(p, "to", |v| {
        strings(v)?
            .into_iter()
            .map(parse_recipient)
            .collect::<Result<Vec<_>, _>>()
    });
    let nick = jid
        .as_ref()
        .and_then(|j| j.node().map(|n| n.to_string()))
        .unwrap_or_else(|| "nagbridge".into());
    let rooms = s.read(p, "rooms", |v| {
        strings(v)?
            .into_iter()
            .map(|r| parse_room(r, &nick))
            .collect::<Result<Vec<_>, _>>()
    });
    let server = s.read(p, "server", |v| parse_server(r::string(v)?));
    let ca_file = s.read(p, "ca_file", |v| {
        let path = PathBuf::from(r::non_empty_string(v)?);
        crate::sinks::http::load_ca(&path)?;
        Ok(path)
    });
    let timeout = s.read(p, "timeout", r::duration);
    // A list that is present but wrong has its own problem already.
    let bad =
        |key: &'static str, parsed: bool, s: &mut Section<'_>| !parsed && s.raw(key).is_some();
    let (to_bad, rooms_bad) = (bad("to", to.is_some(), s), bad("rooms", rooms.is_some(), s));
    let (to, rooms) = (to.unwrap_or_default(), rooms.unwrap_or_default());
    if to.is_empty() && rooms.is_empty() && !to_bad && !rooms_bad {
        p.error(
            s.key("to"),
            "nothing to send to: set to (JIDs that get a chat message) and/or rooms (MUC \
             rooms that get a groupchat message)",
        );
    }
    let jid = jid?;
    let (host, port) = match server {
        Some((h, port)) => (h, port.unwrap_or(DEFAULT_PORT)),
        None => (jid.domain().to_string(), DEFAULT_PORT),
    };
    Some(XmppConfig {
        jid,
        password: password?,
        to,
        rooms,
        host,
        port,
        ca_file,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"im\"\ntype = \"xmpp\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    fn xmpp(c: &Config) -> &XmppConfig {
        match &c.channels[0].options {
            crate::sinks::ChannelOptions::Xmpp(x) => x,
            #[allow(unreachable_patterns)]
            _ => panic!("not xmpp"),
        }
    }

    #[test]
    fn xmpp_config_reads_every_key() {
        let c = load(
            r#"jid = "nagbridge@example.org"
password = "xmpp-pa55-word"
to = ["ops@example.org", "alice@example.net/phone"]
rooms = ["backups@conference.example.org", "noc@muc.example.org/bot"]
server = "xmpp.example.org:5223"
timeout = "10s"
"#,
        )
        .unwrap();
        let x = xmpp(&c);
        assert_eq!(x.jid.as_str(), "nagbridge@example.org");
        assert_eq!(x.to.len(), 2);
        assert_eq!(
            x.rooms[0].occupant.as_str(),
            "backups@conference.example.org/nagbridge"
        );
        assert_eq!(x.rooms[1].occupant.as_str(), "noc@muc.example.org/bot");
        assert_eq!(x.rooms[1].room.as_str(), "noc@muc.example.org");
        assert_eq!((x.host.as_str(), x.port), ("xmpp.example.org", 5223));
        assert_eq!(x.timeout, Duration::from_secs(10));
        assert!(!format!("{c:?}").contains("xmpp-pa55-word"));
        // Defaults: the JID's domain, port 5222; a single string is a list of one.
        let c = load(
            "jid = \"bot@example.org\"\npassword = \"p4ss\"\nrooms = \"r@conference.example.org\"",
        )
        .unwrap();
        let x = xmpp(&c);
        assert_eq!(x.address(), "example.org:5222");
        assert_eq!(x.timeout, DEFAULT_TIMEOUT);
        assert!(x.to.is_empty() && x.rooms.len() == 1);
    }

    #[test]
    fn xmpp_config_problems_have_key_paths() {
        let e = load(
            "jid = \"example.org\"\npassword = \"\"\nto = [\"@@\"]\nrooms = [\"conference.example.org\"]\nserver = \"a b\"\nroom = 1",
        )
        .unwrap_err();
        let all = e.join("\n");
        for want in [
            "t: channel[0].jid: \"example.org\" has no user part",
            "t: channel[0].password: the secret from an inline value is empty",
            "t: channel[0].to: \"@@\" is not a JID",
            "t: channel[0].rooms: \"conference.example.org\" has no room name",
            "t: channel[0].server: \"a b\": expected a host name",
            "t: channel[0].room: unknown key; did you mean `rooms`?",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        let e = load("jid = \"a@b/res\"\npassword = \"x\"").unwrap_err();
        let all = e.join("\n");
        assert!(all.contains("jid: \"a@b/res\" has a resource"), "{all}");
        assert!(all.contains("to: nothing to send to"), "{all}");
    }
}
