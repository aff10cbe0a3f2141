//! The keys of a `[[channel]]` of type `webhook` (SPEC section 6): `url`* (a secret as a
//! whole), `method` (POST | PUT), `headers` (each value may be a secret), `hmac_secret`*,
//! `body` (a JSON template), `ca_file`, `timeout`.
//!
//! Owns: reading those keys with their key paths ([`read`]) and the pure checks of their
//! values ([`validate_url`], [`validate_header_name`]). Secrets are resolved once while
//! reading, only to check them; `Debug` shows none of them (nor the URL).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::render::BodyTemplate;
use crate::config::problem::Problems;
use crate::config::reader::{self as r, Section};
use crate::config::Secret;
use crate::sinks::http;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-nagbridge-signature-256";
/// The header carrying the spool entry's id: the same on every attempt of one outcome, so a
/// receiver can drop the duplicates that at-least-once delivery may bring.
pub const DELIVERY_HEADER: &str = "x-nagbridge-delivery";

/// The HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `POST` (the default).
    Post,
    /// `PUT`.
    Put,
}

impl Method {
    /// `POST` or `PUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }

    fn parse(v: &toml::Value) -> Result<Method, String> {
        let s = r::string(v)?;
        match s.trim().to_ascii_uppercase().as_str() {
            "POST" => Ok(Method::Post),
            "PUT" => Ok(Method::Put),
            "GET" | "HEAD" | "DELETE" => Err(format!(
                "method {s:?} sends no body; use \"POST\" (the default) or \"PUT\""
            )),
            _ => Err(format!(
                "unknown method {s:?}; use \"POST\" (the default) or \"PUT\""
            )),
        }
    }
}

/// A `webhook` channel's settings. `Debug` redacts the URL and every header value.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Where to send (a secret: its path and query are the hook's credentials).
    pub url: Secret,
    /// POST or PUT.
    pub method: Method,
    /// Extra headers, in file order; every value is treated as a secret.
    pub headers: Vec<(String, Secret)>,
    /// Key of the `X-Nagbridge-Signature-256` HMAC-SHA256 signature.
    pub hmac_secret: Option<Secret>,
    /// The body template; `None`: the default body.
    pub body: Option<BodyTemplate>,
    /// A PEM CA certificate file added to the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Whole request timeout.
    pub timeout: Duration,
}

/// A web hook URL: `http` or `https`, with a host. The message never holds the URL.
pub fn validate_url(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url.trim())
        .map_err(|e| format!("not a valid URL ({e}); expected https://host/path"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {:?} is not http or https",
            u.scheme().chars().take(10).collect::<String>()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(u)
}

/// True when `url` sends in clear text to another machine (http to a host that is not a
/// loopback address).
pub fn cleartext_to_remote(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    u.scheme() == "http" && !loopback
}

/// A header name the config may set: valid, and not one that nagbridge or HTTP itself owns.
pub fn validate_header_name(name: &str) -> Result<HeaderName, String> {
    let h = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid HTTP header name"))?;
    match h.as_str() {
        "content-length" | "host" | "transfer-encoding" | "connection" | "te" | "upgrade"
        | "expect" | "keep-alive" | "trailer" => Err(format!(
            "{name} is set by HTTP itself and cannot be configured"
        )),
        SIGNATURE_HEADER | DELIVERY_HEADER => Err(format!(
            "{name} is set by nagbridge (see hmac_secret) and cannot be configured"
        )),
        _ => Ok(h),
    }
}

/// Read the keys of a `webhook` channel from `s`.
pub(crate) fn read(s: &mut Section<'_>, p: &mut Problems) -> Option<WebhookConfig> {
    let url = s.required_secret(p, "url");
    if let Some(url) = &url {
        // The secret was checked (and reported) by `required_secret`; check its shape too.
        if let Ok(text) = url.resolve_string() {
            match validate_url(&text) {
                Ok(u) if cleartext_to_remote(&u) => p.warn(
                    s.key("url"),
                    format!(
                        "{} is plain http to another machine: the hook's token and every outcome \
                         travel unencrypted; use https",
                        http::redact_secret_url(&text)
                    ),
                ),
                Ok(_) => {}
                Err(e) => p.error(s.key("url"), format!("the URL from {}: {e}", url.origin())),
            }
        }
    }
    let method = s.read(p, "method", Method::parse);
    let headers = read_headers(s, p);
    let hmac_secret = s.secret(p, "hmac_secret");
    let body = s.read(p, "body", |v| {
        let text = r::string(v).map_err(|e| {
            format!("{e}; write the JSON document as a TOML string, e.g. body = '''{{\"text\": \"{{headline}}\"}}'''")
        })?;
        BodyTemplate::parse(text)
    });
    let ca_file = s.read(p, "ca_file", |v| {
        let path = PathBuf::from(r::non_empty_string(v)?);
        http::load_ca(&path)?;
        Ok(path)
    });
    let timeout = s.read(p, "timeout", r::duration);
    Some(WebhookConfig {
        url: url?,
        method: method.unwrap_or(Method::Post),
        headers: headers.unwrap_or_default(),
        hmac_secret,
        body,
        ca_file,
        timeout: timeout.unwrap_or(http::DEFAULT_TIMEOUT),
    })
}

fn read_headers(s: &mut Section<'_>, p: &mut Problems) -> Option<Vec<(String, Secret)>> {
    let table = s.read(p, "headers", |v| {
        r::table(v).map_err(|e| {
            format!("{e}; write headers = {{ Authorization = {{ env = \"HOOK_AUTH\" }} }}")
        })
    })?;
    let base = s.key("headers");
    let mut out: Vec<(String, Secret)> = Vec::new();
    for (name, value) in table {
        let key = r::join(&base, name);
        let header = match validate_header_name(name) {
            Ok(h) => h,
            Err(e) => {
                p.error(key, e);
                continue;
            }
        };
        if out
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(header.as_str()))
        {
            p.error(
                key,
                format!("header {name} is set twice (names ignore case)"),
            );
            continue;
        }
        let secret = match Secret::from_toml(value) {
            Ok(s) => s,
            Err(e) => {
                p.error(key, e);
                continue;
            }
        };
        crate::config::validate::check_secret(&key, &secret, p);
        if let Ok(bytes) = secret.resolve() {
            if !bytes.is_empty() && HeaderValue::from_bytes(&bytes).is_err() {
                p.error(
                    key.clone(),
                    format!(
                        "the value from {} is not a valid header value (a newline or another \
                         control character?)",
                        secret.origin()
                    ),
                );
            }
        }
        out.push((name.clone(), secret));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(channel: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"hook\"\ntype = \"webhook\"\n{channel}\n"
        );
        Config::from_str(&text, "t").map_err(|e| e.lines().collect())
    }

    fn webhook(c: &Config) -> &WebhookConfig {
        match &c.channels[0].options {
            crate::sinks::ChannelOptions::Webhook(w) => w,
            #[allow(unreachable_patterns)]
            _ => panic!("not a webhook"),
        }
    }

    #[test]
    fn webhook_config_reads_every_key() {
        std::env::set_var("NAGBRIDGE_TEST_WEBHOOK_AUTH", "Bearer abc-123-secret");
        let c = load(
            r#"url = "https://hooks.example.com/T0KEN-9f2"
method = "put"
headers = { Authorization = { env = "NAGBRIDGE_TEST_WEBHOOK_AUTH" }, "X-Source" = "nagbridge" }
hmac_secret = "hmac-key-77aa"
body = '''{"text": "{headline}", "bytes": "{bytes}"}'''
timeout = "5s"
"#,
        )
        .unwrap();
        let w = webhook(&c);
        assert_eq!(w.method, Method::Put);
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert_eq!(w.headers.len(), 2);
        assert_eq!(w.headers[0].0, "Authorization");
        assert!(w.body.is_some());
        let debug = format!("{c:?}");
        for leak in ["T0KEN-9f2", "abc-123-secret", "hmac-key-77aa"] {
            assert!(!debug.contains(leak), "{leak} in {debug}");
        }
        // Defaults.
        let c = load("url = \"https://h.example/x\"").unwrap();
        let w = webhook(&c);
        assert_eq!((w.method, w.timeout), (Method::Post, http::DEFAULT_TIMEOUT));
        assert!(w.headers.is_empty() && w.body.is_none() && w.hmac_secret.is_none());
    }

    #[test]
    fn webhook_config_problems_have_key_paths() {
        let e = load(
            r#"url = "ftp://hooks.example.com/T0KEN-9f2"
method = "GET"
headers = { "Content-Length" = "1", "X-Nagbridge-Signature-256" = "x", "bad name" = "v", "X-A" = "line\nbreak" }
body = '{"text": "{jbo}"}'
timeout = "0s"
ca_file = "/nonexistent/ca.pem"
hmac_secret = ""
metod = "PUT"
"#,
        )
        .unwrap_err();
        let want = [
            "t: channel[0].url: the URL from an inline value: scheme \"ftp\" is not http or https",
            "t: channel[0].method: method \"GET\" sends no body",
            "t: channel[0].headers.Content-Length: Content-Length is set by HTTP itself",
            "t: channel[0].headers.X-Nagbridge-Signature-256: X-Nagbridge-Signature-256 is set by nagbridge",
            "t: channel[0].headers.\"bad name\": \"bad name\" is not a valid HTTP header name",
            "t: channel[0].headers.X-A: the value from an inline value is not a valid header value",
            "t: channel[0].hmac_secret: the secret from an inline value is empty",
            "t: channel[0].body: at /text: unknown variable `{jbo}`",
            "t: channel[0].ca_file: cannot read CA file /nonexistent/ca.pem",
            "t: channel[0].timeout: must be longer than 0s",
            "t: channel[0].metod: unknown key; did you mean `method`?",
        ];
        for w in want {
            assert!(
                e.iter().any(|l| l.starts_with(w)),
                "missing {w:?} in\n{}",
                e.join("\n")
            );
        }
        assert!(!e.join("\n").contains("T0KEN-9f2"), "{e:?}");
        let e = load("url = \"https://h.example/x\"\nbody = '{\"a\": 1,}'").unwrap_err();
        assert!(
            e[0].starts_with("t: channel[0].body: not valid JSON: trailing comma at line 1"),
            "{e:?}"
        );
        let e = load("method = \"POST\"").unwrap_err();
        assert!(
            e[0].starts_with("t: channel[0].url: missing required key"),
            "{e:?}"
        );
        // A URL that is not one: the message does not show it.
        let e = load("url = \"hooks.example.com/T0KEN-9f2\"").unwrap_err();
        assert!(e[0].contains("not a valid URL"), "{e:?}");
        assert!(!e.join("\n").contains("T0KEN-9f2"), "{e:?}");
    }

    #[test]
    fn webhook_config_warns_about_cleartext_to_another_host() {
        let text = "[agent]\nhost_name = \"h\"\n[nsca]\nserver = \"n\"\nencryption = \"aes256\"\npassword = \"p\"\n\
             [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://hooks.example.com/T0KEN-9f2\"\n";
        let c = Config::from_str(text, "t").unwrap();
        let warnings: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("http://hooks.example.com/<redacted> is plain http")),
            "{warnings:?}"
        );
        assert!(!warnings.join("").contains("T0KEN"));
        for local in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]/x",
        ] {
            let u = validate_url(local).unwrap();
            assert!(!cleartext_to_remote(&u), "{local}");
        }
    }
}
