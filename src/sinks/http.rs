//! The HTTP layer every HTTP channel shares (webhook, and the chat platforms after it): one
//! client per sink, the failure class of every answer, and the redaction of secrets in URLs.
//!
//! Owns: [`client`] (reqwest over rustls, no OpenSSL; an optional PEM CA file added to the
//! built-in roots; connect timeout 10 s, total timeout per channel, default 30 s; keep-alive;
//! redirects are not followed), [`send`] (one request, its network failures classified, at
//! most [`MAX_BODY`] of the answer read), [`classify`] (2xx delivered; 408/425/429/5xx
//! retryable with exactly the server's `Retry-After`; 400/413/415/422 and other 4xx a rejected
//! payload; 401/403/404/405/410 and redirects a dead destination), and [`redact_url`] /
//! [`redact_secret_url`] / [`Secrets`], so that no error, log or status line ever shows a
//! token. Must not retry, sleep or log: the delivery loop does that.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::Url;

use crate::config::REDACTED;
use crate::retry::SinkError;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take (connect, send, answer) unless the channel says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of an answer read (the rest is dropped: only its start goes into a message).
pub const MAX_BODY: usize = 64 * 1024;
/// Most characters of an answer quoted in an error message.
const QUOTED: usize = 200;

/// The `User-Agent` of every request.
pub fn user_agent() -> String {
    format!("nagbridge/{}", env!("CARGO_PKG_VERSION"))
}

/// The client of one sink: rustls with the built-in (Mozilla) roots plus the certificates of
/// `ca_file` (PEM), connect timeout [`CONNECT_TIMEOUT`], total `timeout`, idle connections kept
/// for reuse, no redirects followed (a moved hook is a config problem: [`classify`]).
pub fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    client_with(
        timeout,
        &Tls {
            ca_file,
            ..Tls::default()
        },
    )
}

/// TLS settings of a client beyond the defaults.
#[derive(Debug, Default, Clone)]
pub struct Tls<'a> {
    /// PEM CA certificates added to the roots.
    pub ca_file: Option<&'a Path>,
    /// Trust only `ca_file`, not the built-in roots (a private CA such as Icinga's).
    pub only_ca_file: bool,
    /// A client certificate (PEM certificate chain, PEM private key).
    pub identity: Option<(&'a Path, &'a Path)>,
    /// Names connected to at another address: (the name in the URL and the certificate, the
    /// host name or address to connect to). The URL's port is used.
    pub connect_to: Vec<(String, String)>,
}

/// [`client`] with the TLS settings of `tls`.
pub fn client_with(timeout: Duration, tls: &Tls<'_>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(2)
        .tcp_keepalive(Duration::from_secs(60))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent());
    if let Some(path) = tls.ca_file {
        for cert in load_ca(path)? {
            builder = builder.add_root_certificate(cert);
        }
        if tls.only_ca_file {
            builder = builder.tls_built_in_root_certs(false);
        }
    }
    if let Some((cert, key)) = tls.identity {
        builder = builder.identity(load_identity(cert, key)?);
    }
    if !tls.connect_to.is_empty() {
        builder = builder.dns_resolver(std::sync::Arc::new(ConnectTo(tls.connect_to.clone())));
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

/// A client certificate and its key (PEM files; the key PKCS#8, PKCS#1 or SEC1).
pub fn load_identity(cert: &Path, key: &Path) -> Result<reqwest::Identity, String> {
    let mut pem = std::fs::read(cert)
        .map_err(|e| format!("cannot read certificate file {}: {e}", cert.display()))?;
    let key_pem =
        std::fs::read(key).map_err(|e| format!("cannot read key file {}: {e}", key.display()))?;
    pem.push(b'\n');
    pem.extend_from_slice(&key_pem);
    reqwest::Identity::from_pem(&pem).map_err(|e| {
        format!(
            "certificate {} with key {}: {}",
            cert.display(),
            key.display(),
            chain(&e)
        )
    })
}

/// Resolves each configured name to its address (the system resolver for the rest): TLS then
/// checks the certificate against the name while the connection goes to the address.
struct ConnectTo(Vec<(String, String)>);

impl reqwest::dns::Resolve for ConnectTo {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let wanted = name.as_str().to_ascii_lowercase();
        let host = self
            .0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&wanted))
            .map(|(_, a)| a.clone())
            .unwrap_or(wanted);
        Box::pin(async move {
            // The port is the URL's: hyper sets it on every address.
            let addrs: Vec<std::net::SocketAddr> = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => vec![std::net::SocketAddr::new(ip, 0)],
                Err(_) => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The certificates of a PEM file (an error when it cannot be read or holds none).
pub fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {shown}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("CA file {shown} is not PEM: {}", chain(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file {shown} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// What a server answered: status, headers, and at most [`MAX_BODY`] bytes of the body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The start of the body.
    pub body: Vec<u8>,
}

impl Reply {
    /// [`classify`] this answer, every message scrubbed of `secrets`.
    pub fn classify(&self, secrets: &Secrets) -> Result<(), SinkError> {
        classify(self.status, &self.headers, &self.body).map_err(|e| secrets.scrub_error(e))
    }
}

/// Send `request` and read the answer (at most [`MAX_BODY`] bytes of its body). Network
/// failures and timeouts are retryable; a request that cannot be built is a config problem.
/// Messages never hold the URL or any of `secrets`.
pub async fn send(request: reqwest::RequestBuilder, secrets: &Secrets) -> Result<Reply, SinkError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| secrets.scrub_error(network_error(&e)))?;
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            // The status is known: a broken body does not change what it says, except for a
            // success, which is not proven when the answer was cut.
            Err(e) if (200..300).contains(&status) => {
                return Err(secrets.scrub_error(network_error(&e)))
            }
            Err(_) => break,
        }
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// [`send`] and [`Reply::classify`].
pub async fn deliver(request: reqwest::RequestBuilder, secrets: &Secrets) -> Result<(), SinkError> {
    send(request, secrets).await?.classify(secrets)
}

/// The failure class of a network-level error: a timeout or connection problem is retryable;
/// a request that cannot even be built is ours to fix.
pub fn network_error(e: &reqwest::Error) -> SinkError {
    let detail = chain(e);
    if e.is_builder() {
        SinkError::permanent(format!("cannot build the request: {detail}"))
    } else if e.is_timeout() {
        SinkError::retryable(format!("timed out: {detail}"))
    } else if e.is_connect() && detail.contains("UnknownIssuer") {
        SinkError::retryable(format!(
            "cannot connect: {detail} (is the hook's certificate signed by a private CA? set \
             ca_file to it)"
        ))
    } else if e.is_connect() {
        SinkError::retryable(format!("cannot connect: {detail}"))
    } else {
        SinkError::retryable(format!("request failed: {detail}"))
    }
}

/// An error and its causes as one line, without any URL (reqwest puts the whole URL, token
/// included, in its own message): `operation timed out`, `tcp connect error: Connection
/// refused (os error 111)`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut first = true;
    while let Some(err) = next {
        let text = if first {
            // reqwest's own level: "error sending request for url (...)"; keep only its kind.
            let t = err.to_string();
            match t.find(" for url (") {
                Some(at) => t[..at].to_string(),
                None => t,
            }
        } else {
            err.to_string()
        };
        first = false;
        let text = redact_urls_in(&text);
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    // The innermost causes say the most; the outer "error sending request" says little.
    if parts.len() > 2 {
        parts.drain(..parts.len() - 2);
    }
    parts.join(": ")
}

/// The failure class of an HTTP answer (SPEC section 6):
///
/// | status | class |
/// |---|---|
/// | 2xx | delivered |
/// | 408, 425, 429, 5xx (and 1xx) | retryable, after exactly `Retry-After` when given |
/// | 401, 403, 404, 405, 410, 3xx | dead: the channel stops until a reload |
/// | 400, 413, 415, 422, any other 4xx | rejected: this payload is refused |
///
/// The message quotes the start of the answer (one line, at most 200 characters, URLs
/// redacted).
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Result<(), SinkError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let quoted = quote(body);
    let what = format!("HTTP {status}{reason}{quoted}");
    match status {
        408 | 425 | 429 | 500..=599 | 100..=199 => {
            let after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, SystemTime::now()));
            match after {
                Some(d) => Err(SinkError::retryable(format!(
                    "{what} (the server asks to retry after {})",
                    show_delay(d)
                ))
                .with_after(d)),
                None => Err(SinkError::retryable(what)),
            }
        }
        401 | 403 => Err(SinkError::dead(format!(
            "{what}: the destination refuses our credentials or the hook was revoked"
        ))),
        404 | 410 => Err(SinkError::dead(format!(
            "{what}: the hook does not exist (deleted, or a wrong URL)"
        ))),
        405 => Err(SinkError::dead(format!(
            "{what}: the hook does not take this method (check method)"
        ))),
        300..=399 => Err(SinkError::dead(format!(
            "{what}: the hook redirects elsewhere (redirects are not followed); set the URL to \
             where it moved"
        ))),
        _ => Err(SinkError::rejected(format!(
            "{what}: the payload was refused"
        ))),
    }
}

/// `2s`, `1.5s`.
fn show_delay(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        let n = format!("{:.3}", d.as_secs_f64());
        format!("{}s", n.trim_end_matches('0'))
    }
}

/// `: <first line of the body>` (at most [`QUOTED`] characters, URLs redacted), or nothing.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.is_empty() {
        return String::new();
    }
    let mut cut: String = one.chars().take(QUOTED).collect();
    if cut.len() < one.len() {
        cut.push('…');
    }
    format!(": {}", redact_urls_in(&cut))
}

/// The delay a `Retry-After` value asks for at `now`: delay-seconds (`120`; a fraction such
/// as `1.5` is accepted too) or an HTTP date (IMF-fixdate, and the obsolete RFC 850 and asctime
/// forms); a date in the past is zero. `None` when it is neither.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = v.parse().ok()?;
        return Duration::try_from_secs_f64(secs).ok();
    }
    use chrono::{DateTime, NaiveDateTime, Utc};
    let when: DateTime<Utc> = DateTime::parse_from_rfc2822(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
                .map(|t| t.and_utc())
        })?;
    let now: DateTime<Utc> = now.into();
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// `scheme://host[:port]/` followed by the path with every segment that may be a token
/// replaced by `<redacted>` (a segment is kept only when it is a plain lowercase word such as
/// `api`, `hooks` or `v2`) and every query value replaced; user info and fragment dropped. Not
/// a URL: `<redacted URL>`. For URLs whose path is a token as a whole (every web hook URL), use
/// [`redact_secret_url`].
pub fn redact_url(url: &str) -> String {
    let Ok(u) = Url::parse(url.trim()) else {
        return format!("{REDACTED} URL");
    };
    let mut out = origin(&u);
    if let Some(segments) = u.path_segments() {
        let shown: Vec<&str> = segments
            .map(|s| if plain_word(s) { s } else { REDACTED })
            .collect();
        out.push_str(&shown.join("/"));
    }
    if u.query().is_some() {
        let keys: Vec<String> = u
            .query_pairs()
            .map(|(k, _)| {
                let k = if plain_word(&k) {
                    k.into_owned()
                } else {
                    REDACTED.into()
                };
                format!("{k}={REDACTED}")
            })
            .collect();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

/// `scheme://host[:port]/<redacted>`: a URL that is a secret as a whole (SPEC section 4: a web
/// hook's path and query are its credentials), or `scheme://host[:port]/` when it has neither.
/// Not a URL: `<redacted URL>`.
pub fn redact_secret_url(url: &str) -> String {
    let Ok(u) = Url::parse(url.trim()) else {
        return format!("{REDACTED} URL");
    };
    let mut out = origin(&u);
    if u.path() != "/" && !u.path().is_empty() || u.query().is_some() {
        out.push_str(REDACTED);
    }
    out
}

/// `scheme://host[:port]/` (IPv6 hosts in brackets; no user info).
fn origin(u: &Url) -> String {
    // `host_str` puts IPv6 addresses in brackets.
    let host = u.host_str().unwrap_or_default();
    match u.port() {
        Some(p) => format!("{}://{host}:{p}/", u.scheme()),
        None => format!("{}://{host}/", u.scheme()),
    }
}

/// A path segment or query key that cannot be a token: a short lowercase word (`api`,
/// `webhooks`, `v2`, `send-message`).
fn plain_word(s: &str) -> bool {
    let version = s.len() <= 3
        && s.starts_with('v')
        && s.len() > 1
        && s[1..].bytes().all(|b| b.is_ascii_digit());
    version
        || (!s.is_empty()
            && s.len() <= 24
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_' || b == b'.'))
}

/// Every `http://` or `https://` URL in `text` replaced by [`redact_secret_url`] of it.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let at = match (rest.find("http://"), rest.find("https://")) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '`'))
            .unwrap_or(tail.len());
        out.push_str(&redact_secret_url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Strings that must never appear in a message: a sink's URL (whole, and each of its path
/// segments, query values and user info) and its other secrets. [`Secrets::scrub`] replaces
/// each by `<redacted>` and redacts every URL left in the text. Pieces shorter than 4 bytes
/// are not listed (they would garble every message and protect nothing).
#[derive(Clone, Default)]
pub struct Secrets(Vec<String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} {REDACTED})", self.0.len())
    }
}

impl Secrets {
    /// Nothing known to hide (URLs in messages are still redacted).
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Hide `secret`.
    pub fn add(&mut self, secret: &str) {
        let s = secret.trim();
        if s.len() >= 4 && !self.0.iter().any(|k| k == s) {
            self.0.push(s.to_string());
            // Longest first, so a piece never leaves part of a longer secret behind.
            self.0.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }

    /// Hide the URL `url`, its path segments (but plain words such as `api`), query values and
    /// user info, raw and percent-decoded.
    pub fn add_url(&mut self, url: &str) {
        self.add(url);
        let Ok(u) = Url::parse(url.trim()) else {
            return;
        };
        self.add(u.as_str());
        if let Some(segments) = u.path_segments() {
            for s in segments.filter(|s| !plain_word(s)) {
                self.add(s);
                if let Ok(d) = percent_decode(s) {
                    self.add(&d);
                }
            }
        }
        if let Some(q) = u.query() {
            self.add(q);
        }
        for (_, v) in u.query_pairs() {
            self.add(&v);
        }
        self.add(u.username());
        if let Some(p) = u.password() {
            self.add(p);
        }
    }

    /// `text` with every secret and every URL redacted.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        redact_urls_in(&out)
    }

    /// `e` with its message scrubbed.
    pub fn scrub_error(&self, mut e: SinkError) -> SinkError {
        e.message = self.scrub(&e.message);
        e
    }
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    std::str::from_utf8(&out).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::FailureClass;
    use reqwest::header::HeaderValue;

    fn class(status: u16, retry: Option<&str>, body: &str) -> Result<(), SinkError> {
        let mut h = HeaderMap::new();
        if let Some(r) = retry {
            h.insert(RETRY_AFTER, HeaderValue::from_str(r).unwrap());
        }
        classify(status, &h, body.as_bytes())
    }

    #[test]
    fn http_2xx_is_delivered() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(class(s, None, "ok"), Ok(()), "{s}");
        }
    }

    #[test]
    fn http_408_429_5xx_are_retryable_with_exactly_the_server_delay() {
        for s in [408, 425, 429, 500, 502, 503, 504, 599] {
            let e = class(s, None, "busy").unwrap_err();
            assert_eq!(e.class, FailureClass::Retryable, "{s}");
            assert_eq!(e.after, None, "{s}");
        }
        let e = class(429, Some("2"), "slow down").unwrap_err();
        assert_eq!(
            (e.class, e.after),
            (FailureClass::Retryable, Some(Duration::from_secs(2)))
        );
        assert_eq!(
            e.message,
            "HTTP 429 Too Many Requests: slow down (the server asks to retry after 2s)"
        );
        let e = class(503, Some("1.5"), "").unwrap_err();
        assert_eq!(e.after, Some(Duration::from_millis(1500)));
        assert!(e.message.ends_with("after 1.5s)"), "{}", e.message);
        // An HTTP date 90 s from now.
        let later = chrono::Utc::now() + chrono::Duration::seconds(90);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let e = class(503, Some(&date), "").unwrap_err();
        let after = e.after.unwrap();
        assert!(
            after <= Duration::from_secs(90) && after >= Duration::from_secs(88),
            "{after:?}"
        );
        // Garbage: backoff as usual.
        assert_eq!(class(429, Some("soon"), "").unwrap_err().after, None);
    }

    #[test]
    fn http_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37Z
        let want = Some(Duration::from_secs(60));
        assert_eq!(retry_after("60", now), want);
        assert_eq!(retry_after(" 60 ", now), want);
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), want);
        assert_eq!(retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now), want);
        assert_eq!(retry_after("Sun Nov  6 08:50:37 1994", now), want);
        // In the past: now.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("0", now), Some(Duration::ZERO));
        for bad in [
            "",
            "-1",
            "1e9999",
            "1.2.3",
            "tomorrow",
            "99999999999999999999999",
        ] {
            let got = retry_after(bad, now);
            assert!(
                got.is_none() || bad == "99999999999999999999999",
                "{bad}: {got:?}"
            );
        }
    }

    #[test]
    fn http_401_403_404_410_405_and_redirects_are_dead() {
        for s in [401, 403, 404, 405, 410, 301, 302, 307, 308] {
            let e = class(s, None, "no_service").unwrap_err();
            assert_eq!(e.class, FailureClass::Dead, "{s}");
        }
        let e = class(404, None, "no_service").unwrap_err();
        assert_eq!(
            e.message,
            "HTTP 404 Not Found: no_service: the hook does not exist (deleted, or a wrong URL)"
        );
    }

    #[test]
    fn http_400_413_422_and_other_4xx_are_a_rejected_payload() {
        for s in [400, 413, 415, 422, 409, 418] {
            let e = class(s, Some("5"), "invalid_payload").unwrap_err();
            assert_eq!(e.class, FailureClass::Rejected, "{s}");
        }
        let e = class(400, None, "").unwrap_err();
        assert_eq!(e.message, "HTTP 400 Bad Request: the payload was refused");
    }

    #[test]
    fn http_quoted_answers_are_one_short_line_without_urls() {
        let body = format!(
            "line one\n\tsee https://hooks.example.com/services/T0/B0/XyZsecret for help {}",
            "x".repeat(1000)
        );
        let e = class(500, None, &body).unwrap_err();
        assert!(!e.message.contains("XyZsecret"), "{}", e.message);
        assert!(
            e.message.contains("https://hooks.example.com/<redacted>"),
            "{}",
            e.message
        );
        assert!(!e.message.contains('\n'));
        assert!(e.message.chars().count() < 300, "{}", e.message);
    }

    #[test]
    fn http_redact_url_keeps_origin_and_plain_words() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0001/B0002/XXXXsecret"),
            "https://hooks.slack.com/services/<redacted>/<redacted>/<redacted>"
        );
        assert_eq!(
            redact_url("https://discord.com/api/webhooks/123456/tok-EN_x"),
            "https://discord.com/api/webhooks/<redacted>/<redacted>"
        );
        assert_eq!(
            redact_url("https://api.telegram.org/bot123:ABC/sendMessage"),
            "https://api.telegram.org/<redacted>/<redacted>"
        );
        assert_eq!(
            redact_url("https://chat.googleapis.com/v1/spaces/AAAA/messages?key=k1&token=t2"),
            "https://chat.googleapis.com/v1/spaces/<redacted>/messages?key=<redacted>&token=<redacted>"
        );
        assert_eq!(
            redact_url("http://user:pw@[::1]:8080/hook#frag"),
            "http://[::1]:8080/hook"
        );
        assert_eq!(redact_url("not a url with secret"), "<redacted> URL");
    }

    #[test]
    fn http_a_secret_url_is_redacted_whole() {
        assert_eq!(
            redact_secret_url("https://hooks.example.com/api/hook/abc?sig=1"),
            "https://hooks.example.com/<redacted>"
        );
        assert_eq!(
            redact_secret_url("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(
            redact_secret_url("http://127.0.0.1:9000?x=1"),
            "http://127.0.0.1:9000/<redacted>"
        );
        assert_eq!(
            redact_urls_in("a (https://h.example/x/y?t=2) b http://h2:1/z c"),
            "a (https://h.example/<redacted>) b http://h2:1/<redacted> c"
        );
    }

    #[test]
    fn http_secrets_are_scrubbed_from_any_text() {
        let mut s = Secrets::new();
        s.add_url("https://hooks.example.com/api/T0KEN-one/p%40ss?sig=S1GNATURE");
        s.add("hdr-secret-value");
        s.add("ab"); // too short to list
        let text = "T0KEN-one and p@ss and S1GNATURE and hdr-secret-value and ab and \
                    https://hooks.example.com/api/T0KEN-one";
        let got = s.scrub(text);
        for leak in ["T0KEN-one", "p@ss", "S1GNATURE", "hdr-secret-value"] {
            assert!(!got.contains(leak), "{leak} in {got}");
        }
        assert!(got.contains(" ab "));
        assert!(!format!("{s:?}").contains("T0KEN"));
        let e = s.scrub_error(SinkError::retryable("x T0KEN-one"));
        assert_eq!(e.message, "x <redacted>");
    }

    #[tokio::test]
    async fn http_network_failures_are_retryable_without_the_url() {
        // A port nobody listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/hook/s3cr3t-token-value");
        let mut secrets = Secrets::new();
        secrets.add_url(&url);
        let c = client(Duration::from_secs(5), None).unwrap();
        let e = deliver(c.post(&url).body("{}"), &secrets)
            .await
            .unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable, "{e}");
        assert!(e.message.starts_with("cannot connect"), "{}", e.message);
        assert!(!e.message.contains("s3cr3t"), "{}", e.message);
        // A server that accepts and never answers: a timeout, retryable.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hook/s3cr3t-token-value",
            listener.local_addr().unwrap()
        );
        let c = client(Duration::from_millis(300), None).unwrap();
        let e = deliver(c.post(&url).body("{}"), &secrets)
            .await
            .unwrap_err();
        assert_eq!(e.class, FailureClass::Retryable, "{e}");
        assert!(e.message.starts_with("timed out"), "{}", e.message);
        assert!(!e.message.contains("s3cr3t"), "{}", e.message);
        drop(listener);
    }

    #[test]
    fn http_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        assert!(load_ca(&missing)
            .unwrap_err()
            .starts_with("cannot read CA file"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello\n").unwrap();
        assert!(load_ca(&empty)
            .unwrap_err()
            .contains("holds no certificate"));
        assert!(client(Duration::from_secs(1), Some(&empty)).is_err());
    }
}
