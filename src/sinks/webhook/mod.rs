//! The `webhook` channel: each outcome as one JSON request (POST or PUT) to a URL, signed with
//! HMAC-SHA256 when a key is configured (SPEC section 6).
//!
//! Owns: the request of one outcome (body from [`render`], `Content-Type: application/json`
//! unless configured, the configured headers, `X-Nagbridge-Signature-256: sha256=<hex>` over
//! the exact body bytes, `X-Nagbridge-Delivery: <spool entry id>` for receivers that drop
//! duplicates), and what a failure means: the classes of [`super::http`]; a refused payload is
//! sent once more in its plain form (the default body without its lists) before it is reported
//! rejected. Must not retry otherwise, sleep or touch the spool (`crate::delivery` does), and
//! never shows the URL or a header value: [`WebhookSink::name`] and every message carry the
//! URL redacted as a whole.

pub mod config;
pub mod render;

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use sha2::Sha256;

use super::http::{self, Secrets};
use super::{Sink, SinkError};
use crate::outcome::Outcome;
use crate::spool::Entry;
use config::{Method, WebhookConfig, DELIVERY_HEADER, SIGNATURE_HEADER};
use render::BodyTemplate;

/// A web hook destination, ready to send.
pub struct WebhookSink {
    name: String,
    shown: String,
    client: reqwest::Client,
    method: Method,
    url: reqwest::Url,
    headers: HeaderMap,
    hmac_key: Option<Vec<u8>>,
    body: Option<BodyTemplate>,
    agent: String,
    secrets: Secrets,
}

/// `sha256=<lowercase hex of HMAC-SHA256(key, body)>`: the value of `X-Nagbridge-Signature-256`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl WebhookSink {
    /// The sink of channel `channel` with `config` (secrets resolved now), reporting as
    /// `agent`. The error never holds a secret.
    pub fn build(
        channel: &str,
        config: &WebhookConfig,
        agent: &str,
    ) -> Result<WebhookSink, String> {
        let url_text = config
            .url
            .resolve_string()
            .map_err(|e| format!("url: {e}"))?;
        let mut secrets = Secrets::new();
        secrets.add_url(&url_text);
        let url = config::validate_url(&url_text).map_err(|e| format!("url: {e}"))?;
        let shown = http::redact_secret_url(&url_text);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &config.headers {
            let header: HeaderName =
                config::validate_header_name(name).map_err(|e| format!("headers.{name}: {e}"))?;
            let bytes = value
                .resolve()
                .map_err(|e| format!("headers.{name}: {e}"))?;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                secrets.add(text);
            }
            let mut v = HeaderValue::from_bytes(&bytes)
                .map_err(|_| format!("headers.{name}: not a valid header value"))?;
            v.set_sensitive(true);
            headers.insert(header, v);
        }
        let hmac_key = match &config.hmac_secret {
            Some(s) => {
                let key = s.resolve().map_err(|e| format!("hmac_secret: {e}"))?;
                if let Ok(text) = std::str::from_utf8(&key) {
                    secrets.add(text);
                }
                Some(key)
            }
            None => None,
        };
        let client = http::client(config.timeout, config.ca_file.as_deref())?;
        Ok(WebhookSink {
            name: format!("webhook {channel} ({shown})"),
            shown,
            client,
            method: config.method,
            url,
            headers,
            hmac_key,
            body: config.body.clone(),
            agent: agent.to_string(),
            secrets,
        })
    }

    /// The body of `o` (the template's, else the default).
    pub fn render(&self, o: &Outcome) -> Vec<u8> {
        match &self.body {
            Some(t) => t.render(o, &self.agent),
            None => render::default_body(o, &self.agent),
        }
    }

    /// The request for `entry` with `body`.
    fn request(&self, entry: &Entry, body: Vec<u8>) -> reqwest::RequestBuilder {
        let method = match self.method {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut headers = self.headers.clone();
        if let Some(key) = &self.hmac_key {
            if let Ok(v) = HeaderValue::from_str(&signature(key, &body)) {
                headers.insert(HeaderName::from_static(SIGNATURE_HEADER), v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(entry.id.as_str()) {
            headers.insert(HeaderName::from_static(DELIVERY_HEADER), v);
        }
        self.client
            .request(method, self.url.clone())
            .headers(headers)
            .body(body)
    }

    async fn send(&self, entry: &Entry, body: Vec<u8>) -> Result<(), SinkError> {
        http::deliver(self.request(entry, body), &self.secrets).await
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, _entry: &Entry) -> String {
        format!("{} {}", self.method.as_str(), self.shown)
    }

    fn batch_size(&self) -> usize {
        1
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let Some(entry) = entries.first() else {
            return Ok(0);
        };
        // Refused: once more in the plain form, then it is the entry's fault.
        crate::sinks::hook::send_or_plain(
            self.render(&entry.outcome),
            || render::plain_body(&entry.outcome, &self.agent),
            |b, _| self.send(entry, b),
        )
        .await?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (HMAC-SHA256).
    #[test]
    fn webhook_signature_is_hmac_sha256_hex() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Empty key and body are fine too.
        assert_eq!(signature(b"", b"").len(), 7 + 64);
    }
}
