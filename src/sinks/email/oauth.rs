//! Access tokens for SMTP XOAUTH2: fetched from the token endpoint of the `oauth2` table
//! (Microsoft 365 client credentials, a Google refresh token, or any endpoint), cached until
//! shortly before they expire, and forgotten when the SMTP server rejects one.
//!
//! Owns: the token request (form POST, no redirects), the cache, and the classification of
//! the endpoint's failures (network, 429, 5xx: retryable; refused credentials: dead). Must not
//! retry by itself or print a secret (client secret, refresh token, access token).

use std::path::Path;
use std::time::{Duration, Instant};

use super::config::{OAuth2Config, Provider};
use crate::retry::SinkError;

/// A token is used until this long before it expires (or half its lifetime, if shorter).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime assumed when the endpoint does not say (`expires_in` missing).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A token from the endpoint.
#[derive(Clone)]
pub struct Token {
    /// The access token (secret).
    pub secret: String,
    /// When it stops being used.
    pub use_until: Instant,
    /// True when fetched by this call (not from the cache).
    pub fresh: bool,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("secret", &crate::config::REDACTED)
            .field("fresh", &self.fresh)
            .finish()
    }
}

/// Where XOAUTH2 tokens come from, with the cached one.
pub struct TokenSource {
    config: OAuth2Config,
    endpoint: String,
    client: reqwest::Client,
    cached: tokio::sync::Mutex<Option<Token>>,
}

/// How long a token of lifetime `lifetime` is used.
pub fn usable_for(lifetime: Duration) -> Duration {
    lifetime.saturating_sub(EXPIRY_MARGIN.min(lifetime / 2))
}

fn cut(s: &str, limit: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= limit {
        return s.to_string();
    }
    let mut out: String = s.chars().take(limit).collect();
    out.push('…');
    out
}

/// Seconds of a `Retry-After` header (the HTTP-date form is not used by token endpoints).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl TokenSource {
    /// A source for `config`; `ca_file` adds trusted CAs (PEM) to the public roots.
    pub fn new(
        config: OAuth2Config,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<TokenSource, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirect would carry the client secret somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nagbridge/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("ca_file: cannot read {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for the token endpoint: {e}"))?;
        Ok(TokenSource {
            endpoint: config.endpoint(),
            config,
            client,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A usable token: the cached one, else a new one from the endpoint.
    pub async fn token(&self) -> Result<Token, SinkError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.use_until) {
            return Ok(Token {
                fresh: false,
                ..t.clone()
            });
        }
        let token = self.fetch().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forget the cached token (the server rejected it) and fetch a new one.
    pub async fn refresh(&self) -> Result<Token, SinkError> {
        let mut cached = self.cached.lock().await;
        *cached = None;
        let token = self.fetch().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Ask the endpoint for a token.
    async fn fetch(&self) -> Result<Token, SinkError> {
        let c = &self.config;
        let secret = |s: &crate::config::Secret, what: &str| {
            s.resolve_string()
                .map_err(|e| SinkError::permanent(format!("oauth2 {what}: {e}")))
        };
        let mut form: Vec<(&str, String)> = vec![("client_id", c.client_id.clone())];
        if let Some(s) = &c.client_secret {
            form.push(("client_secret", secret(s, "client_secret")?));
        }
        match (&c.refresh_token, c.provider) {
            (Some(r), _) => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", secret(r, "refresh_token")?));
            }
            (None, Provider::Microsoft | Provider::Generic) => {
                form.push(("grant_type", "client_credentials".into()));
            }
            (None, Provider::Google) => {
                return Err(SinkError::permanent("oauth2: google needs a refresh_token"))
            }
        }
        if let Some(scope) = c.scope() {
            form.push(("scope", scope.to_string()));
        }
        let at = &self.endpoint;
        let response = self
            .client
            .post(at)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    // Without the URL: reqwest's text repeats it, and ours is shown already.
                    e.without_url().to_string()
                };
                SinkError::retryable(format!("token endpoint {at}: {what}"))
            })?;
        let status = response.status();
        let after = retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| {
            SinkError::retryable(format!(
                "token endpoint {at}: reading the answer: {}",
                e.without_url()
            ))
        })?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let field = |k: &str| -> Option<String> {
            json.as_ref()?.get(k).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        if status.is_success() {
            let Some(secret) = field("access_token").filter(|t| !t.is_empty()) else {
                return Err(SinkError::permanent(format!(
                    "token endpoint {at} answered {status} without an access_token"
                )));
            };
            let lifetime = field("expires_in")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_LIFETIME);
            return Ok(Token {
                secret,
                use_until: Instant::now() + usable_for(lifetime),
                fresh: true,
            });
        }
        let detail = match (field("error"), field("error_description")) {
            (Some(e), Some(d)) => format!("{e}: {}", cut(&d, 300)),
            (Some(e), None) => e,
            (None, _) => cut(&String::from_utf8_lossy(&body), 200),
        };
        let message = format!("token endpoint {at} answered {status}: {detail}");
        let code = status.as_u16();
        Err(match code {
            408 | 425 | 429 | 500..=599 => {
                let e = SinkError::retryable(message);
                match after {
                    Some(a) => e.with_after(a),
                    None => e,
                }
            }
            _ => {
                let hint = match field("error").as_deref() {
                    Some("invalid_grant") if c.provider == Provider::Google => {
                        " (the refresh token was revoked or expired: an OAuth app still in \
                         \"Testing\" gets refresh tokens that expire after 7 days; publish it \
                         and make a new token)"
                    }
                    Some("invalid_client") | Some("unauthorized_client") => {
                        " (check client_id and client_secret)"
                    }
                    _ => "",
                };
                SinkError::dead(format!("{message}{hint}"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_tokens_are_used_until_shortly_before_they_expire() {
        assert_eq!(
            usable_for(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(usable_for(Duration::from_secs(60)), Duration::from_secs(30));
        assert_eq!(usable_for(Duration::ZERO), Duration::ZERO);
        assert_eq!(cut(" abc ", 2), "ab…");
    }
}
