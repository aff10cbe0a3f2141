//! The Icinga 2 sink: spooled outcomes as passive check results through the REST API
//! (`POST /v1/actions/process-check-result`), one request per result, oldest first, over a
//! kept-alive HTTPS connection (`crate::sinks::http`, rustls).
//!
//! Owns: the endpoint order and failover (the first endpoint that answers takes the result; an
//! endpoint that failed is skipped for [`PREFERRED_AGAIN`] before the first is tried again),
//! authentication (an ApiUser's password, or a client certificate signed by Icinga's CA), the
//! classification of every answer, and creating a missing service (`create_services`). Must
//! not retry, sleep or touch the spool (see `crate::delivery`).
//!
//! | answer | what happens |
//! |---|---|
//! | 200 | delivered (Icinga acknowledges each result, unlike NSCA) |
//! | 404 (no such object, or the ApiUser lacks the permission), 500 `{"results":[]}` | with `create_services`: the passive service is created on its (existing) host and the result posted again; else this result is quarantined with the reason (rejected) |
//! | 401, 403 | dead: delivery stops until a reload |
//! | 400 and other 4xx | this result is refused (rejected) |
//! | 5xx, 408, 429, network errors, timeouts | the next endpoint; when every endpoint failed, retryable (backoff) |

pub mod config;
pub mod render;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use self::config::{Auth, Endpoint, Icinga2Config};
use self::render::Check;
use super::http::{self, Reply, Secrets};
use super::nsca::Naming;
use super::{FailureClass, Sink, SinkError};
use crate::outcome::Outcome;
use crate::spool::Entry;

/// After a failover, how long the endpoints before the one that answered are skipped.
pub const PREFERRED_AGAIN: Duration = Duration::from_secs(60);

/// The ttl of an outcome's result (None: send none).
pub type TtlOf = Arc<dyn Fn(&Outcome) -> Option<Duration> + Send + Sync>;

/// Delivers entries to Icinga 2's API.
pub struct Icinga2Sink {
    endpoints: Vec<Endpoint>,
    client: reqwest::Client,
    basic: Option<(String, String)>,
    secrets: Secrets,
    naming: Naming,
    ttl_of: TtlOf,
    agent: String,
    create_services: bool,
    /// The endpoint that answered last, and since when it is used instead of the first.
    current: Mutex<(usize, Instant)>,
}

/// What one answer means for one result.
enum Answer {
    Delivered,
    /// The object does not exist (or we may not see it).
    Missing(String),
    /// Try the next endpoint.
    Next(SinkError),
    /// Dead or rejected: final for this result.
    Final(SinkError),
}

impl Icinga2Sink {
    /// Build the sink: its HTTPS client (Icinga's CA as the only root when `ca_file` is
    /// set, the client certificate, each `server_name` resolved to its address), the naming of
    /// checks, the ttl of each result and the agent's name (`check_source`).
    pub fn new(
        config: &Icinga2Config,
        naming: Naming,
        ttl_of: TtlOf,
        agent: &str,
    ) -> Result<Icinga2Sink, String> {
        let mut connect_to: Vec<(String, String)> = Vec::new();
        for e in &config.endpoints {
            if let Some(name) = &e.server_name {
                if let Some((_, other)) = connect_to
                    .iter()
                    .find(|(n, a)| n.eq_ignore_ascii_case(name) && a != &e.host)
                {
                    return Err(format!(
                        "server_name {name:?} is given to two addresses ({other} and {}); each \
                         node name can lead to one address",
                        e.host
                    ));
                }
                connect_to.push((name.clone(), e.host.clone()));
            }
        }
        let identity = match &config.auth {
            Auth::Certificate {
                cert_file,
                key_file,
            } => Some((cert_file.as_path(), key_file.as_path())),
            Auth::Password { .. } => None,
        };
        let client = http::client_with(
            config.timeout,
            &http::Tls {
                ca_file: config.ca_file.as_deref(),
                only_ca_file: true,
                identity,
                connect_to,
            },
        )?;
        let mut secrets = Secrets::new();
        let basic = match &config.auth {
            Auth::Password { username, password } => {
                let pw = password
                    .resolve_string()
                    .map_err(|e| format!("password: {e}"))?;
                secrets.add(&pw);
                Some((username.clone(), pw))
            }
            Auth::Certificate { .. } => None,
        };
        Ok(Icinga2Sink {
            endpoints: config.endpoints.clone(),
            client,
            basic,
            secrets,
            naming,
            ttl_of,
            agent: agent.to_string(),
            create_services: config.create_services,
            current: Mutex::new((0, Instant::now())),
        })
    }

    /// The request for `entry` delivered now.
    pub fn check_for(&self, entry: &Entry) -> Check {
        let (host, service) = (self.naming)(&entry.outcome);
        let host = if host.trim().is_empty() {
            self.agent.clone()
        } else {
            host
        };
        let ttl = (self.ttl_of)(&entry.outcome);
        render::check(entry, &host, &service, ttl, &self.agent, Utc::now())
    }

    fn url(&self, at: usize, path: &str, query: Option<(&str, &str)>) -> String {
        let e = &self.endpoints[at];
        let name = e.tls_name();
        let host = if name.contains(':') {
            format!("[{name}]")
        } else {
            name.to_string()
        };
        let mut url = format!("https://{host}:{}{path}", e.port);
        if let Some((k, v)) = query {
            url.push('?');
            url.push_str(k);
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        url
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self
            .client
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        match &self.basic {
            Some((user, pw)) => r.basic_auth(user, Some(pw)),
            None => r,
        }
    }

    /// The endpoint to start with: the one that answered last, but the first again once
    /// [`PREFERRED_AGAIN`] has passed since the failover.
    fn first(&self) -> usize {
        let mut c = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != 0 && c.1.elapsed() >= PREFERRED_AGAIN {
            *c = (0, Instant::now());
        }
        c.0.min(self.endpoints.len() - 1)
    }

    fn answered(&self, at: usize) {
        let mut c = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != at {
            *c = (at, Instant::now());
        }
    }

    async fn post(&self, at: usize, check: &Check) -> Result<Reply, SinkError> {
        let (k, v) = check.query();
        let url = self.url(at, "/v1/actions/process-check-result", Some((k, &v)));
        let body = serde_json::to_vec(&check.body).map_err(SinkError::permanent)?;
        http::send(
            self.request(reqwest::Method::POST, &url).body(body),
            &self.secrets,
        )
        .await
    }

    /// Create the passive service of `check` at endpoint `at`. `Ok` when it exists now.
    async fn create(&self, at: usize, check: &Check) -> Result<(), Answer> {
        let Some(service) = &check.service else {
            return Err(Answer::Final(SinkError::rejected(format!(
                "host {:?} does not exist in Icinga 2 (create_services creates services, not \
                 hosts)",
                check.host
            ))));
        };
        let url = self.url(
            at,
            &format!(
                "/v1/objects/services/{}",
                percent_encode(&format!("{}!{service}", check.host))
            ),
            None,
        );
        let body = render::service_attrs(check.ttl, &self.agent).to_string();
        let reply = http::send(
            self.request(reqwest::Method::PUT, &url).body(body),
            &self.secrets,
        )
        .await
        .map_err(|e| Answer::Next(self.at(at, e)))?;
        let text = String::from_utf8_lossy(&reply.body);
        match reply.status {
            200..=299 => Ok(()),
            500 if text.contains("already exists") => Ok(()),
            404 | 403 => Err(Answer::Final(SinkError::rejected(format!(
                "service {:?} does not exist in Icinga 2 and creating it was refused (HTTP {}: \
                 the ApiUser needs objects/create/Service)",
                check.object(),
                reply.status
            )))),
            500 => Err(Answer::Final(SinkError::rejected(format!(
                "service {:?} does not exist in Icinga 2 and cannot be created: {}",
                check.object(),
                icinga_error(&reply.body)
            )))),
            _ => match reply.classify(&self.secrets) {
                Ok(()) => Ok(()),
                Err(e) if e.is_retryable() => Err(Answer::Next(self.at(at, e))),
                Err(e) => Err(Answer::Final(self.at(at, e))),
            },
        }
    }

    /// What an answer to a process-check-result means.
    fn answer(&self, at: usize, check: &Check, reply: &Reply) -> Answer {
        let empty = reply.status == 500
            && serde_json::from_slice::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("results")?.as_array().map(|a| a.is_empty()))
                .unwrap_or(false);
        match reply.status {
            200..=299 => Answer::Delivered,
            404 => Answer::Missing(format!(
                "Icinga 2 has no {} {:?}, or the ApiUser may not see it (HTTP 404; it needs \
                 actions/process-check-result; create the service, e.g. with nagbridge \
                 nagios-config --icinga2, or set create_services = true)",
                if check.service.is_some() {
                    "service"
                } else {
                    "host"
                },
                check.object()
            )),
            500 if empty => Answer::Missing(format!(
                "Icinga 2 found no object {:?} (HTTP 500 with no results)",
                check.object()
            )),
            401 => Answer::Final(self.at(
                at,
                SinkError::dead(
                    "HTTP 401 Unauthorized: Icinga 2 refuses the credentials (check username and \
                     password, or the client certificate's CN against the ApiUser's client_cn)",
                ),
            )),
            _ => match reply.classify(&self.secrets) {
                Ok(()) => Answer::Delivered,
                Err(e) if e.is_retryable() => Answer::Next(self.at(at, e)),
                Err(mut e) => {
                    if e.class == FailureClass::Rejected {
                        e.message = format!(
                            "HTTP {}: Icinga 2 refused the result for {:?}: {}",
                            reply.status,
                            check.object(),
                            icinga_error(&reply.body)
                        );
                    }
                    Answer::Final(self.at(at, e))
                }
            },
        }
    }

    /// `e` with the endpoint named.
    fn at(&self, at: usize, mut e: SinkError) -> SinkError {
        e.message = format!("{}: {}", self.endpoints[at], e.message);
        e
    }

    /// Deliver one result: endpoints in order from [`Icinga2Sink::first`] until one answers.
    async fn deliver_one(&self, check: &Check) -> Result<(), SinkError> {
        let n = self.endpoints.len();
        let start = self.first();
        let mut failures: Vec<String> = Vec::new();
        let mut last: Option<SinkError> = None;
        for i in 0..n {
            let at = (start + i) % n;
            let answer = match self.post(at, check).await {
                Ok(reply) => self.answer(at, check, &reply),
                Err(e) if e.is_retryable() => Answer::Next(self.at(at, e)),
                Err(e) => Answer::Final(self.at(at, e)),
            };
            let answer = match answer {
                Answer::Missing(why) if self.create_services => {
                    self.answered(at);
                    match self.create(at, check).await {
                        Ok(()) => match self.post(at, check).await {
                            Ok(reply) => match self.answer(at, check, &reply) {
                                Answer::Missing(why) => Answer::Final(SinkError::rejected(
                                    format!("{why}, although it was just created"),
                                )),
                                other => other,
                            },
                            Err(e) => Answer::Next(self.at(at, e)),
                        },
                        Err(a) => {
                            let _ = why;
                            a
                        }
                    }
                }
                other => other,
            };
            match answer {
                Answer::Delivered => {
                    self.answered(at);
                    return Ok(());
                }
                Answer::Missing(why) => {
                    self.answered(at);
                    return Err(SinkError::rejected(why));
                }
                Answer::Final(e) => {
                    self.answered(at);
                    return Err(e);
                }
                Answer::Next(e) => {
                    failures.push(e.message.clone());
                    last = Some(e);
                }
            }
        }
        let mut e = last.unwrap_or_else(|| SinkError::retryable("no endpoint"));
        if failures.len() > 1 {
            e.message = format!("no endpoint answered: {}", failures.join("; "));
        }
        Err(e)
    }
}

/// The `error`/`status` of an Icinga 2 error body, one line (or its start).
fn icinga_error(body: &[u8]) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let found = v.as_ref().and_then(|v| {
        let r = v.get("results").and_then(|r| r.get(0)).unwrap_or(v);
        r.get("errors")
            .and_then(|e| e.get(0))
            .or_else(|| r.get("status"))
            .and_then(|s| s.as_str())
            .map(str::to_string)
    });
    let text = found.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(300).collect()
}

/// Percent-encode everything but the unreserved characters (a space is `%20`, never `+`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Sink for Icinga2Sink {
    fn name(&self) -> String {
        let first = &self.endpoints[0];
        match self.endpoints.len() {
            1 => format!("icinga2 {first}"),
            n => format!("icinga2 {first} (+{} more)", n - 1),
        }
    }

    fn validate(&self, _entry: &Entry) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self, entry: &Entry) -> String {
        let c = self.check_for(entry);
        match &c.service {
            Some(_) => format!("service {:?}", c.object()),
            None => format!("host {:?}", c.host),
        }
    }

    /// One request per result, in order: `Ok(n)` when the `n+1`th could not be delivered
    /// (it is offered again first, and then fails alone).
    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        let mut done = 0;
        for e in entries {
            let check = self.check_for(e);
            match self.deliver_one(&check).await {
                Ok(()) => done += 1,
                Err(err) if done == 0 => return Err(err),
                Err(_) => break,
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icinga2_names_are_percent_encoded_without_plus() {
        assert_eq!(
            percent_encode("db01!backup nightly-db"),
            "db01%21backup%20nightly-db"
        );
        assert_eq!(percent_encode("ü+/"), "%C3%BC%2B%2F");
    }

    #[test]
    fn icinga2_error_bodies_are_quoted_in_one_line() {
        let b = br#"{"results":[{"code":500,"errors":["Validation failed for object 'x!y' of type 'Service';\n Attribute 'host_name': Object 'x' of type 'Host' does not exist."],"status":"Object could not be created."}]}"#;
        assert!(icinga_error(b)
            .starts_with("Validation failed for object 'x!y' of type 'Service'; Attribute"));
        assert_eq!(
            icinga_error(br#"{"error":404,"status":"No objects found."}"#),
            "No objects found."
        );
        assert_eq!(icinga_error(b"<html>\n x"), "<html> x");
    }
}
