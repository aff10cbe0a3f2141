//! The keys of a `[[channel]] type = "email"`: the SMTP server and how to reach it safely
//! (`security`, `ca_file`), how to log in (`username` + `password`, or an `oauth2` table), and
//! the message's envelope (`from`, `to`, `cc`, `subject`).
//!
//! Owns: reading those keys with their key paths ([`read`]) and the checks that involve several
//! keys ([`EmailConfig::validate`], pure). Must not connect anywhere. Its `Debug` never shows
//! a secret (every secret is a [`Secret`]).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use toml::Value;

use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::{Secret, Template};

/// Default `subject`.
pub const DEFAULT_SUBJECT: &str = "[{state}] {job} on {host}";
/// Variables of `subject`.
pub const SUBJECT_VARIABLES: &[&str] = &["state", "status", "job", "host", "agent", "tool"];
/// Default `timeout` (each SMTP step and the token request).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Scope of a Microsoft 365 client-credentials token for SMTP.
pub const MICROSOFT_SCOPE: &str = "https://outlook.office365.com/.default";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// `security`: how the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte, "implicit TLS" (port 465).
    Tls,
    /// No encryption at all (only with `dangerous_no_tls = true`; port 25).
    None,
}

impl Security {
    /// The spellings.
    pub const NAMES: &'static [&'static str] = &["starttls", "tls", "none"];

    /// The port used when `server` names none.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }

    /// The spelling in the config.
    pub fn name(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }
}

impl FromStr for Security {
    type Err = String;

    fn from_str(s: &str) -> Result<Security, String> {
        match s {
            "starttls" => Ok(Security::Starttls),
            "tls" => Ok(Security::Tls),
            "none" => Ok(Security::None),
            _ => Err(format!(
                "unknown security {s:?}{}; expected one of: {}",
                crate::config::problem::suggestion(s, Security::NAMES),
                Security::NAMES.join(", ")
            )),
        }
    }
}

/// `oauth2.provider`: whose token endpoint and which grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Microsoft 365: client credentials of an app registration (`tenant`, `client_id`,
    /// `client_secret`), scope `https://outlook.office365.com/.default`.
    Microsoft,
    /// Google: a refresh token of an OAuth client (`client_id`, `client_secret`,
    /// `refresh_token`).
    Google,
    /// Any other: `token_url`, and a refresh token or client credentials.
    Generic,
}

impl Provider {
    const NAMES: &'static [&'static str] = &["microsoft", "google"];
}

/// The `oauth2` table: where an access token for XOAUTH2 comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth2Config {
    /// Whose endpoint.
    pub provider: Provider,
    /// Microsoft: the directory (tenant) id or a verified domain.
    pub tenant: Option<String>,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Option<Secret>,
    /// Google and generic: the refresh token.
    pub refresh_token: Option<Secret>,
    /// Overrides the provider's token endpoint (required without a provider).
    pub token_url: Option<String>,
    /// The scope asked for (Microsoft's default: `https://outlook.office365.com/.default`).
    pub scope: Option<String>,
}

impl OAuth2Config {
    /// The token endpoint.
    pub fn endpoint(&self) -> String {
        if let Some(url) = &self.token_url {
            return url.clone();
        }
        match self.provider {
            Provider::Microsoft => format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                self.tenant.as_deref().unwrap_or("common")
            ),
            Provider::Google => GOOGLE_TOKEN_URL.to_string(),
            Provider::Generic => String::new(),
        }
    }

    /// The scope to ask for, if any.
    pub fn scope(&self) -> Option<&str> {
        match (&self.scope, self.provider) {
            (Some(s), _) => Some(s),
            (None, Provider::Microsoft) => Some(MICROSOFT_SCOPE),
            (None, _) => None,
        }
    }
}

/// A `[[channel]] type = "email"`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    /// `server` as written.
    pub server: String,
    /// Its host (a name checked against the certificate, or an address).
    pub host: String,
    /// Its port (from `server`, else by `security`).
    pub port: u16,
    /// How the connection is protected.
    pub security: Security,
    /// `dangerous_no_tls`: the operator's word that `security = "none"` is meant.
    pub dangerous_no_tls: bool,
    /// Login for AUTH PLAIN/LOGIN, or the XOAUTH2 user (default: the `from` address).
    pub username: Option<String>,
    /// Password for AUTH PLAIN/LOGIN.
    pub password: Option<Secret>,
    /// XOAUTH2 token source.
    pub oauth2: Option<OAuth2Config>,
    /// The sender.
    pub from: Mailbox,
    /// The recipients (at least one).
    pub to: Vec<Mailbox>,
    /// Copies.
    pub cc: Vec<Mailbox>,
    /// The subject template.
    pub subject: Template,
    /// Extra trusted CA certificates (PEM), for a private CA.
    pub ca_file: Option<PathBuf>,
    /// Limit of each SMTP step and of the token request.
    pub timeout: Duration,
}

impl EmailConfig {
    /// Check what involves several keys, without I/O (messages keyed by the key at fault,
    /// relative to the channel).
    pub fn validate(&self) -> Result<(), Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if self.security == Security::None && !self.dangerous_no_tls {
            problems.push((
                "security",
                "\"none\" sends the message (and any password) in clear text over the network; \
                 use \"starttls\" or \"tls\", or add dangerous_no_tls = true if this is really \
                 meant (a relay on the same host)"
                    .to_string(),
            ));
        }
        if self.dangerous_no_tls && self.security != Security::None {
            problems.push((
                "dangerous_no_tls",
                format!(
                    "only means something with security = \"none\" (security is {:?})",
                    self.security.name()
                ),
            ));
        }
        if self.security == Security::None && self.ca_file.is_some() {
            problems.push((
                "ca_file",
                "security = \"none\" uses no TLS, so no certificate is checked".to_string(),
            ));
        }
        match (&self.password, &self.oauth2) {
            (Some(_), Some(_)) => problems.push((
                "oauth2",
                "use either password (AUTH PLAIN/LOGIN) or oauth2 (XOAUTH2), not both".to_string(),
            )),
            (Some(_), None) if self.username.is_none() => problems.push((
                "username",
                "missing: password is set, so the login name is needed too".to_string(),
            )),
            (None, None) if self.username.is_some() => problems.push((
                "password",
                "missing: username is set; add password (or oauth2 for XOAUTH2)".to_string(),
            )),
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The XOAUTH2 user: `username`, else the `from` address.
    pub fn oauth2_user(&self) -> String {
        self.username
            .clone()
            .unwrap_or_else(|| self.from.email.to_string())
    }

    /// `host:port`, for logs.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Split `server` into host and optional port: `host`, `host:port`, `[v6]`, `[v6]:port`.
pub fn parse_server(s: &str) -> Result<(String, Option<u16>), String> {
    let s = s.trim();
    let port = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("invalid port {p:?} in {s:?}")),
            Ok(n) => Ok(n),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: missing `]` after an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(port(p.strip_prefix(':').ok_or_else(|| {
                format!("{s:?}: expected `:port` after the address")
            })?)?),
        };
        if host.is_empty() {
            return Err(format!("{s:?}: empty address"));
        }
        return Ok((host.to_string(), port));
    }
    let (host, p) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(port(p)?)),
        Some(_) => {
            return Err(format!(
                "{s:?}: write an IPv6 address in brackets, e.g. \"[::1]:587\""
            ))
        }
        None => (s, None),
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    {
        return Err(format!(
            "{s:?}: expected a host name or address, with an optional :port"
        ));
    }
    Ok((host.to_string(), p))
}

fn mailbox(v: &Value) -> Result<Mailbox, String> {
    let s = r::string(v)?;
    if s.chars().any(char::is_control) {
        return Err(format!("{s:?} holds a control character (a newline?)"));
    }
    s.parse::<Mailbox>().map_err(|e| {
        format!(
            "{s:?} is not an email address (\"ops@example.com\" or \"Ops <ops@example.com>\"): {e}"
        )
    })
}

fn mailboxes(v: &Value) -> Result<Vec<Mailbox>, String> {
    match v {
        Value::String(_) => Ok(vec![mailbox(v)?]),
        Value::Array(list) => list.iter().map(mailbox).collect(),
        other => Err(format!(
            "expected a list of addresses such as [\"ops@example.com\"], found {}",
            other.type_str()
        )),
    }
}

fn subject(v: &Value) -> Result<Template, String> {
    let s = r::string(v)?;
    if s.chars().any(char::is_control) {
        return Err(format!(
            "{s:?} holds a control character; a subject is one line"
        ));
    }
    Template::parse(s, SUBJECT_VARIABLES)
}

fn token_url(v: &Value) -> Result<String, String> {
    let s = r::non_empty_string(v)?;
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            s.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    if !(s.starts_with("https://") || loopback) {
        return Err(format!(
            "{s:?}: the client secret is sent there, so it must be an https:// URL \
             (http:// only on the loopback address)"
        ));
    }
    Ok(s)
}

fn read_oauth2(path: String, v: &Value, p: &mut Problems) -> Option<OAuth2Config> {
    let Some(t) = v.as_table() else {
        p.error(
            path,
            format!(
                "expected a table such as {{ provider = \"microsoft\", tenant = \"...\", \
                 client_id = \"...\", client_secret = {{ env = \"VAR\" }} }}, found {}",
                v.type_str()
            ),
        );
        return None;
    };
    let mut s = Section::new(path, t);
    let before = p.errors.len();
    let provider = s.read(p, "provider", |v| {
        let name = r::string(v)?;
        match name {
            "microsoft" => Ok(Provider::Microsoft),
            "google" => Ok(Provider::Google),
            other => Err(format!(
                "unknown provider {other:?}{}; expected microsoft or google, or leave it out \
                 and set token_url",
                crate::config::problem::suggestion(other, Provider::NAMES)
            )),
        }
    });
    let tenant = s.read(p, "tenant", r::non_empty_string);
    let client_id = s.required(p, "client_id", r::non_empty_string);
    let client_secret = s.secret(p, "client_secret");
    let refresh_token = s.secret(p, "refresh_token");
    let token_url = s.read(p, "token_url", token_url);
    let scope = s.read(p, "scope", r::non_empty_string);
    let provider = provider.unwrap_or(Provider::Generic);
    // A key that is present but wrong has its own problem already.
    let mut need = |key: &'static str, why: &str| {
        if !t.contains_key(key) {
            p.error(s.key(key), format!("missing: {why}"));
        }
    };
    match provider {
        Provider::Microsoft => {
            need(
                "tenant",
                "the directory (tenant) id of the app registration",
            );
            need("client_secret", "a client secret of the app registration");
        }
        Provider::Google => {
            need("client_secret", "the OAuth client's secret");
            need(
                "refresh_token",
                "a refresh token for the scope https://mail.google.com/",
            );
        }
        Provider::Generic => need(
            "token_url",
            "the token endpoint (or set provider = \"microsoft\" or \"google\")",
        ),
    }
    if provider == Provider::Microsoft && refresh_token.is_some() {
        p.error(
            s.key("refresh_token"),
            "not used: Microsoft 365 tokens come from the client credentials (tenant, \
             client_id, client_secret)",
        );
    }
    if provider != Provider::Microsoft && tenant.is_some() {
        p.error(s.key("tenant"), "only used with provider = \"microsoft\"");
    }
    s.finish(p);
    if p.errors.len() != before {
        return None;
    }
    Some(OAuth2Config {
        provider,
        tenant,
        client_id: client_id?,
        client_secret,
        refresh_token,
        token_url,
        scope,
    })
}

/// Read the keys of an email channel (unknown keys are left to the caller's `finish`).
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<EmailConfig> {
    let before = p.errors.len();
    let server = s.required(p, "server", |v| {
        let text = r::non_empty_string(v)?;
        let (host, port) = parse_server(&text)?;
        Ok((text, host, port))
    });
    let security = s.read(p, "security", r::keyword::<Security>);
    let dangerous_no_tls = s.read(p, "dangerous_no_tls", r::boolean);
    let username = s.read(p, "username", r::non_empty_string);
    let password = s.secret(p, "password");
    let oauth2 = s.raw("oauth2").map(|v| read_oauth2(s.key("oauth2"), v, p));
    let from = s.required(p, "from", mailbox);
    let to = s.required(p, "to", |v| {
        let list = mailboxes(v)?;
        if list.is_empty() {
            return Err("must name at least one recipient".into());
        }
        Ok(list)
    });
    let cc = s.read(p, "cc", mailboxes);
    let subject = s.read(p, "subject", subject);
    let ca_file = s.read(p, "ca_file", |v| {
        let path = PathBuf::from(r::non_empty_string(v)?);
        let pem =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        Ok(path)
    });
    let timeout = s.read(p, "timeout", r::duration);
    if p.errors.len() != before {
        return None;
    }
    let (server, host, port) = server?;
    let security = security.unwrap_or(Security::Starttls);
    let config = EmailConfig {
        server,
        host,
        port: port.unwrap_or(security.default_port()),
        security,
        dangerous_no_tls: dangerous_no_tls.unwrap_or(false),
        username,
        password,
        oauth2: oauth2.flatten(),
        from: from?,
        to: to?,
        cc: cc.unwrap_or_default(),
        subject: subject.unwrap_or_else(|| {
            Template::parse(DEFAULT_SUBJECT, SUBJECT_VARIABLES).expect("the default is valid")
        }),
        ca_file,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    };
    // The usual mix-up: the port of one kind of TLS with the other (a connection that would
    // just time out, each side waiting for the other to speak first).
    match (config.security, config.port) {
        (Security::Starttls, 465) => p.warn(
            s.key("server"),
            "port 465 is TLS from the first byte: use security = \"tls\" there",
        ),
        (Security::Tls, 587 | 25) => p.warn(
            s.key("server"),
            format!(
                "port {} normally wants STARTTLS: use security = \"starttls\" there",
                config.port
            ),
        ),
        _ => {}
    }
    if let Err(problems) = config.validate() {
        for (key, message) in problems {
            p.error(s.key(key), message);
        }
        return None;
    }
    Some(config)
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> (Option<EmailConfig>, Vec<String>) {
        let t: toml::Table = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let mut s = Section::new("channel[0]", &t);
        let c = read(&mut s, &mut p);
        s.finish(&mut p);
        (c, p.errors.iter().map(|e| e.to_string()).collect())
    }

    const BASE: &str = "server = \"smtp.example.com\"\nfrom = \"nagbridge@example.com\"\nto = [\"ops@example.com\"]\n";

    #[test]
    fn email_config_defaults() {
        let (c, e) = read_text(BASE);
        assert!(e.is_empty(), "{e:?}");
        let c = c.unwrap();
        assert_eq!(c.security, Security::Starttls);
        assert_eq!((c.host.as_str(), c.port), ("smtp.example.com", 587));
        assert_eq!(c.subject.as_str(), DEFAULT_SUBJECT);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.to[0].email.to_string(), "ops@example.com");
        let (c, _) = read_text(&format!("{BASE}security = \"tls\"\n"));
        assert_eq!(c.unwrap().port, 465);
        let t: toml::Table =
            toml::from_str(&BASE.replace("smtp.example.com", "smtp.example.com:465")).unwrap();
        let mut p = Problems::default();
        let mut s = Section::new("channel[0]", &t);
        assert!(read(&mut s, &mut p).is_some());
        assert!(p.errors.is_empty());
        assert_eq!(
            p.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            ["channel[0].server: port 465 is TLS from the first byte: use security = \"tls\" there"]
        );
        let (c, _) = read_text(
            "server = \"[::1]:2525\"\nfrom = \"A <a@b.c>\"\nto = \"x@y.z\"\ncc = [\"c@d.e\"]\n",
        );
        let c = c.unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 2525));
        assert_eq!(c.address(), "[::1]:2525");
        assert_eq!(c.cc.len(), 1);
        assert_eq!(c.from.name.as_deref(), Some("A"));
    }

    #[test]
    fn email_config_refuses_no_tls_unless_dangerous() {
        let (c, e) = read_text(&format!("{BASE}security = \"none\"\n"));
        assert!(c.is_none());
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "channel[0].security: \"none\" sends the message (and any password) in clear text"
            ),
            "{e:?}"
        );
        assert!(e[0].contains("dangerous_no_tls = true"));
        let (c, e) = read_text(&format!(
            "{BASE}security = \"none\"\ndangerous_no_tls = true\n"
        ));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(c.unwrap().port, 25);
        let (_, e) = read_text(&format!("{BASE}dangerous_no_tls = true\n"));
        assert!(
            e[0].starts_with("channel[0].dangerous_no_tls: only means"),
            "{e:?}"
        );
        let (_, e) = read_text(&format!("{BASE}security = \"ssl\"\n"));
        assert!(e[0].contains("unknown security \"ssl\""), "{e:?}");
    }

    #[test]
    fn email_config_checks_addresses_subject_and_login() {
        let (_, e) = read_text("server = \"s\"\nfrom = \"not an address\"\nto = []\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("channel[0].from: \"not an address\" is not an email address"));
        assert_eq!(e[1], "channel[0].to: must name at least one recipient");
        let (_, e) = read_text("server = \"s\"\n");
        assert_eq!(
            e,
            [
                "channel[0].from: missing required key in [channel[0]]",
                "channel[0].to: missing required key in [channel[0]]"
            ]
        );
        let (_, e) = read_text(&format!(
            "{BASE}subject = \"x\\r\\nBcc: evil@example.com\"\n"
        ));
        assert!(e[0].contains("control character"), "{e:?}");
        let (_, e) = read_text(&format!("{BASE}subject = \"{{jbo}}\"\n"));
        assert!(e[0].contains("did you mean `{job}`"), "{e:?}");
        let (_, e) = read_text(&format!("{BASE}cc = [\"a@b.c\\nBcc: x@y.z\"]\n"));
        assert!(e[0].contains("control character"), "{e:?}");
        let (_, e) = read_text(&format!("{BASE}password = \"pw\"\n"));
        assert_eq!(
            e,
            ["channel[0].username: missing: password is set, so the login name is needed too"]
        );
        let (_, e) = read_text(&format!("{BASE}username = \"u\"\n"));
        assert!(e[0].starts_with("channel[0].password: missing"), "{e:?}");
        let (_, e) = read_text(&format!("{BASE}server = \"a b\"\n").replacen(
            "server = \"smtp.example.com\"\n",
            "",
            1,
        ));
        assert!(e[0].starts_with("channel[0].server: \"a b\""), "{e:?}");
        let (_, e) = read_text(&format!("{BASE}ca_file = \"/nonexistent/ca.pem\"\n"));
        assert!(
            e[0].starts_with("channel[0].ca_file: cannot read /nonexistent/ca.pem"),
            "{e:?}"
        );
    }

    #[test]
    fn email_config_oauth2_per_provider() {
        let (c, e) = read_text(&format!(
            "{BASE}oauth2 = {{ provider = \"microsoft\", tenant = \"t1\", client_id = \"c\", client_secret = \"s\" }}\n"
        ));
        assert!(e.is_empty(), "{e:?}");
        let o = c.unwrap().oauth2.unwrap();
        assert_eq!(
            o.endpoint(),
            "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
        );
        assert_eq!(o.scope(), Some(MICROSOFT_SCOPE));
        let (c, e) = read_text(&format!(
            "{BASE}oauth2 = {{ provider = \"google\", client_id = \"c\", client_secret = \"s\", refresh_token = \"r\" }}\n"
        ));
        assert!(e.is_empty(), "{e:?}");
        let o = c.unwrap().oauth2.unwrap();
        assert_eq!(o.endpoint(), GOOGLE_TOKEN_URL);
        assert_eq!(o.scope(), None);
        let (_, e) = read_text(&format!(
            "{BASE}oauth2 = {{ provider = \"microsoft\", client_id = \"c\", refresh_token = \"r\" }}\n"
        ));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("channel[0].oauth2.tenant: missing"));
        assert!(e[1].starts_with("channel[0].oauth2.client_secret: missing"));
        assert!(e[2].starts_with("channel[0].oauth2.refresh_token: not used"));
        let (_, e) = read_text(&format!("{BASE}oauth2 = {{ client_id = \"c\" }}\n"));
        assert!(
            e[0].starts_with("channel[0].oauth2.token_url: missing"),
            "{e:?}"
        );
        let (_, e) = read_text(&format!(
            "{BASE}oauth2 = {{ provider = \"gogle\", client_id = \"c\" }}\n"
        ));
        assert!(e[0].contains("did you mean `google`"), "{e:?}");
        let (_, e) = read_text(&format!(
            "{BASE}oauth2 = {{ token_url = \"http://login.example.com/t\", client_id = \"c\", scop = 1 }}\n"
        ));
        assert!(e[0].contains("must be an https:// URL"), "{e:?}");
        assert!(e[1].contains("did you mean `scope`"), "{e:?}");
        let (c, e) = read_text(&format!(
            "{BASE}oauth2 = {{ token_url = \"http://127.0.0.1:8080/token\", client_id = \"c\", refresh_token = \"r\" }}\n"
        ));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(c.unwrap().oauth2.unwrap().provider, Provider::Generic);
        let (_, e) = read_text(&format!(
            "{BASE}username = \"u\"\npassword = \"p\"\noauth2 = {{ token_url = \"https://x/t\", client_id = \"c\" }}\n"
        ));
        assert!(e[0].starts_with("channel[0].oauth2: use either"), "{e:?}");
    }

    #[test]
    fn email_config_server_forms() {
        assert_eq!(parse_server("h"), Ok(("h".into(), None)));
        assert_eq!(parse_server("h:25"), Ok(("h".into(), Some(25))));
        assert_eq!(parse_server("[::1]"), Ok(("::1".into(), None)));
        assert!(parse_server("::1").unwrap_err().contains("brackets"));
        assert!(parse_server("h:0").is_err());
        assert!(parse_server("h:x").is_err());
        assert!(parse_server("[::1]x").is_err());
    }
}
