//! The keys of `[icinga2]` (SPEC section 7): `endpoints`* (tried in order; each
//! `"host[:port]"` or `{ address, server_name }`), `ca_file`, `username` + `password` or
//! `cert_file` + `key_file`, `host`, `service`, `ttl`, `create_services`, `timeout`.
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their
//! values ([`parse_endpoint`], [`validate_server_name`]). Files (CA, certificate, key) are
//! read once while reading the config, only to check them; `Debug` never shows the password.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use crate::config::build::{default_template, name_template, HOST_LIMIT, SERVICE_LIMIT};
use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::{Secret, Template, DEFAULT_HOST_TEMPLATE, DEFAULT_SERVICE_TEMPLATE};
use crate::sinks::http;

/// The port of Icinga 2's API when an endpoint names none.
pub const DEFAULT_PORT: u16 = 5665;
/// Default `timeout` (per request, connect included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One API endpoint: where to connect and the name its certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port; default 5665.
    pub port: u16,
    /// The node name in its certificate when it differs from `host` (Icinga's certificates
    /// name nodes, not addresses).
    pub server_name: Option<String>,
}

impl Endpoint {
    /// The name TLS checks the certificate against (and the URL's host).
    pub fn tls_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }
}

impl fmt::Display for Endpoint {
    /// `host:port`, `[v6]:port`, then ` (server_name name)` when one is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        match &self.server_name {
            Some(n) => write!(f, " (as {n})"),
            None => Ok(()),
        }
    }
}

/// How nagbridge proves who it is to the API.
#[derive(Clone)]
pub enum Auth {
    /// An ApiUser's name and password (HTTP basic authentication).
    Password {
        /// The ApiUser.
        username: String,
        /// Its password (a secret).
        password: Secret,
    },
    /// A client certificate signed by Icinga's CA; the ApiUser names its CN in `client_cn`.
    Certificate {
        /// PEM certificate (chain).
        cert_file: PathBuf,
        /// PEM private key.
        key_file: PathBuf,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Password { username, password } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", password)
                .finish(),
            Auth::Certificate {
                cert_file,
                key_file,
            } => f
                .debug_struct("Certificate")
                .field("cert_file", cert_file)
                .field("key_file", key_file)
                .finish(),
        }
    }
}

/// `ttl`: when Icinga 2 expects the next result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// `every + grace` of the job's `[[job]]` (no ttl without one). The default.
    Auto,
    /// The same for every job.
    Fixed(Duration),
    /// Never send a ttl.
    Off,
}

/// `[icinga2]`: the settings of the Icinga 2 REST API destination.
#[derive(Debug, Clone)]
pub struct Icinga2Config {
    /// Tried in order; the first that answers takes the batch.
    pub endpoints: Vec<Endpoint>,
    /// Icinga's CA (PEM); when set, the only trusted root.
    pub ca_file: Option<PathBuf>,
    /// Password or client certificate.
    pub auth: Auth,
    /// Host name template; default `{host}`.
    pub host: Template,
    /// Service name template; default `backup {job}`.
    pub service: Template,
    /// Default `auto`.
    pub ttl: Ttl,
    /// Create a missing passive service on an existing host, then post again. Default false.
    pub create_services: bool,
    /// Per request (connect included); default 10s.
    pub timeout: Duration,
}

/// `host[:port]` (`[v6]:port`), default port 5665.
pub fn parse_endpoint(text: &str) -> Result<(String, u16), String> {
    let s = text.trim();
    let (host, port) = nsca::client::parse_server(s).map_err(|e| e.to_string())?;
    let explicit = match s.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => s.parse::<std::net::IpAddr>().is_err() && s.contains(':'),
    };
    Ok((host, if explicit { port } else { DEFAULT_PORT }))
}

/// A TLS server name: a DNS name as Icinga's node certificates carry (letters, digits, `-`,
/// `.`, `_`), not an address.
pub fn validate_server_name(name: &str) -> Result<(), String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("server_name must not be empty".into());
    }
    if n.parse::<std::net::IpAddr>().is_ok() {
        return Ok(()); // certificates may carry an IP address too
    }
    if n.len() > 253
        || !n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(format!(
            "{n:?} is not a DNS name (the node name in the Icinga certificate, e.g. \
             \"icinga-master1\")"
        ));
    }
    Ok(())
}

fn endpoint(v: &Value) -> Result<Endpoint, String> {
    match v {
        Value::String(s) => {
            let (host, port) = parse_endpoint(s)?;
            Ok(Endpoint {
                host,
                port,
                server_name: None,
            })
        }
        Value::Table(t) => {
            for k in t.keys() {
                if k != "address" && k != "server_name" {
                    return Err(format!(
                        "unknown key {k:?}{}; an endpoint is \"host:port\" or {{ address = \
                         \"host:port\", server_name = \"node name\" }}",
                        crate::config::did_you_mean(k, &["address", "server_name"])
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default()
                    ));
                }
            }
            let address = t.get("address").ok_or("missing address (\"host:port\")")?;
            let (host, port) = parse_endpoint(r::string(address)?)?;
            let server_name = match t.get("server_name") {
                Some(n) => {
                    let n = r::string(n)?.trim().to_string();
                    validate_server_name(&n)?;
                    Some(n)
                }
                None => None,
            };
            Ok(Endpoint {
                host,
                port,
                server_name,
            })
        }
        other => Err(format!(
            "expected \"host:port\" or {{ address = \"host:port\", server_name = \"node\" }}, \
             found {}",
            other.type_str()
        )),
    }
}

fn ttl(v: &Value) -> Result<Ttl, String> {
    match v {
        Value::String(s) if s.trim().eq_ignore_ascii_case("auto") => Ok(Ttl::Auto),
        other => match r::duration_or_off(other) {
            Ok(Some(d)) => Ok(Ttl::Fixed(d)),
            Ok(None) => Ok(Ttl::Off),
            Err(e) => Err(format!(
                "{e} (or \"auto\": every + grace of the job's [[job]])"
            )),
        },
    }
}

fn readable_file(what: &'static str) -> impl Fn(&Value) -> Result<PathBuf, String> {
    move |v| {
        let path = PathBuf::from(r::non_empty_string(v)?);
        let text = std::fs::read(&path)
            .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
        if !text.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err(format!("{what} {} is not PEM", path.display()));
        }
        Ok(path)
    }
}

/// Read `[icinga2]` from `t` (its path is `icinga2`).
pub(crate) fn read(t: &toml::Table, p: &mut Problems) -> Option<Icinga2Config> {
    let mut s = Section::new("icinga2", t);
    let endpoints = s.required(p, "endpoints", |v| {
        v.as_array()
            .ok_or_else(|| {
                "expected a list, e.g. [\"icinga-master1.example.com:5665\"]".to_string()
            })
            .map(|a| a.to_vec())
    });
    let mut list = Vec::new();
    if let Some(items) = &endpoints {
        if items.is_empty() {
            p.error(
                s.key("endpoints"),
                "the list is empty; name at least one endpoint",
            );
        }
        for (i, v) in items.iter().enumerate() {
            match endpoint(v) {
                Ok(e) => list.push(e),
                Err(e) => p.error(format!("{}[{i}]", s.key("endpoints")), e),
            }
        }
    }
    let ca_file = s.read(p, "ca_file", |v| {
        let path = PathBuf::from(r::non_empty_string(v)?);
        http::load_ca(&path)?;
        Ok(path)
    });
    let username = s.read(p, "username", r::non_empty_string);
    let password = s.secret(p, "password");
    let cert_file = s.read(p, "cert_file", readable_file("certificate file"));
    let key_file = s.read(p, "key_file", readable_file("key file"));
    let has = |k: &str| t.contains_key(k);
    let auth = match (
        has("username") || has("password"),
        has("cert_file") || has("key_file"),
    ) {
        (true, true) => {
            p.error(
                s.key("password"),
                "give either username and password or cert_file and key_file, not both",
            );
            None
        }
        (false, false) => {
            p.error(
                s.key("username"),
                "missing credentials: username and password of an ApiUser, or cert_file and \
                 key_file of a client certificate signed by Icinga's CA",
            );
            None
        }
        (true, false) => {
            for (k, missing) in [
                ("username", !has("username")),
                ("password", !has("password")),
            ] {
                if missing {
                    p.error(s.key(k), "missing: username and password go together");
                }
            }
            match (username, password) {
                (Some(username), Some(password)) => Some(Auth::Password { username, password }),
                _ => None,
            }
        }
        (false, true) => {
            for (k, missing) in [
                ("cert_file", !has("cert_file")),
                ("key_file", !has("key_file")),
            ] {
                if missing {
                    p.error(s.key(k), "missing: cert_file and key_file go together");
                }
            }
            match (cert_file, key_file) {
                (Some(cert_file), Some(key_file)) => Some(Auth::Certificate {
                    cert_file,
                    key_file,
                }),
                _ => None,
            }
        }
    };
    let host = s.read(p, "host", name_template(HOST_LIMIT));
    let service = s.read(p, "service", name_template(SERVICE_LIMIT));
    let ttl = s.read(p, "ttl", ttl);
    let create_services = s.read(p, "create_services", r::boolean);
    let timeout = s.read(p, "timeout", r::duration);
    s.finish(p);
    if list.is_empty() {
        return None;
    }
    Some(Icinga2Config {
        endpoints: list,
        ca_file,
        auth: auth?,
        host: host.unwrap_or_else(|| default_template(DEFAULT_HOST_TEMPLATE)),
        service: service.unwrap_or_else(|| default_template(DEFAULT_SERVICE_TEMPLATE)),
        ttl: ttl.unwrap_or(Ttl::Auto),
        create_services: create_services.unwrap_or(false),
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icinga2_endpoints_default_to_port_5665() {
        assert_eq!(parse_endpoint("m1").unwrap(), ("m1".into(), 5665));
        assert_eq!(parse_endpoint("m1:15665").unwrap(), ("m1".into(), 15665));
        assert_eq!(
            parse_endpoint("10.0.0.1").unwrap(),
            ("10.0.0.1".into(), 5665)
        );
        assert_eq!(parse_endpoint("::1").unwrap(), ("::1".into(), 5665));
        assert_eq!(parse_endpoint("[::1]").unwrap(), ("::1".into(), 5665));
        assert_eq!(parse_endpoint("[::1]:7").unwrap(), ("::1".into(), 7));
        assert!(parse_endpoint("m1:0").is_err());
        assert!(parse_endpoint("").is_err());
        assert!(validate_server_name("icinga-sat2").is_ok());
        assert!(validate_server_name("a b").is_err());
        let e = Endpoint {
            host: "10.0.0.12".into(),
            port: 5665,
            server_name: Some("sat2".into()),
        };
        assert_eq!(e.to_string(), "10.0.0.12:5665 (as sat2)");
        assert_eq!(e.tls_name(), "sat2");
    }
}
