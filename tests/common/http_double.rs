//! A local HTTP server for the tests of HTTP channels (web hooks, Slack, Discord, Teams, ...):
//! HTTP/1.1 on 127.0.0.1 with std threads, keep-alive, no dependencies.
//!
//! It records every request (method, path with query, headers, body, arrival time), checks
//! each against the test's validator (a failure is answered 400 with the reason and kept in
//! [`HttpDouble::violations`]), and answers with the scripted replies in order, then the
//! default one (200 `ok`). It can be stopped and started again on the same port (an outage:
//! connections are refused meanwhile) and a reply can hang (the client's timeout fires).
//! Every wait is bounded.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query (`/hook/abc?x=1`).
    pub path: String,
    /// Names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the whole request was read.
    pub at: Instant,
    pub wall: SystemTime,
    /// Which connection it came on (0, 1, ...).
    pub connection: u64,
}

impl Request {
    /// The first header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Never answer (until the double stops, at most 120 s).
    pub hang: bool,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            hang: false,
        }
    }

    /// 200 `ok` (text/plain), as Slack and Mattermost answer.
    pub fn ok() -> Reply {
        Reply::status(200)
            .header("content-type", "text/plain")
            .body("ok")
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(v.to_string())
    }

    /// 429 with `Retry-After: <value>`.
    pub fn too_many(retry_after: &str) -> Reply {
        Reply::status(429)
            .header("retry-after", retry_after)
            .body("rate limited")
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Read the request, never answer.
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::ok()
        }
    }
}

type Validator = Box<dyn Fn(&Request) -> Result<(), String> + Send + Sync>;

struct Inner {
    requests: Mutex<Vec<Request>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    validator: Mutex<Option<Validator>>,
    violations: Mutex<Vec<String>>,
    /// Bumped by every stop: connections of an older generation close.
    generation: AtomicU64,
    running: AtomicBool,
    connections: AtomicU64,
    open: Mutex<Vec<TcpStream>>,
}

/// The server. Dropping it stops it.
pub struct HttpDouble {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl HttpDouble {
    /// Listen on a free port of 127.0.0.1.
    pub fn start() -> HttpDouble {
        HttpDouble::start_on(0)
    }

    /// Listen on 127.0.0.1:`port` (0: any free port).
    pub fn start_on(port: u16) -> HttpDouble {
        let inner = Arc::new(Inner {
            requests: Mutex::default(),
            script: Mutex::default(),
            default: Mutex::new(Reply::ok()),
            validator: Mutex::default(),
            violations: Mutex::default(),
            generation: AtomicU64::new(0),
            running: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            open: Mutex::default(),
        });
        let mut d = HttpDouble {
            inner,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            accept: None,
        };
        d.listen();
        d
    }

    fn listen(&mut self) {
        // std sets SO_REUSEADDR on Unix: the same port binds again right after a stop. A
        // port just freed may still be taken by a client's connection in rare cases: retry.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("bind {}: {e}", self.addr),
            }
        };
        self.addr = listener.local_addr().unwrap();
        self.inner.running.store(true, Ordering::SeqCst);
        let inner = self.inner.clone();
        let generation = inner.generation.load(Ordering::SeqCst);
        self.accept = Some(std::thread::spawn(move || {
            for stream in listener.incoming() {
                if inner.generation.load(Ordering::SeqCst) != generation {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let inner = inner.clone();
                if let Ok(clone) = stream.try_clone() {
                    inner.open.lock().unwrap().push(clone);
                }
                let n = inner.connections.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve(stream, &inner, generation, n));
            }
        }));
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer the next requests with `replies`, in order (after those already scripted).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().unwrap().extend(replies);
    }

    /// The answer once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        *self.inner.default.lock().unwrap() = reply;
    }

    /// Check every request with `f`; an `Err` is answered 400 with the reason and recorded.
    pub fn validate(&self, f: impl Fn(&Request) -> Result<(), String> + Send + Sync + 'static) {
        *self.inner.validator.lock().unwrap() = Some(Box::new(f));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }

    /// Forget the requests so far.
    pub fn clear(&self) {
        self.inner.requests.lock().unwrap().clear();
    }

    /// What the validator refused so far.
    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// Wait until `pred(requests)` holds or `timeout` passes; returns the requests.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&[Request]) -> bool) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests();
            if pred(&got) || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until at least `n` requests arrived (or `timeout`).
    pub fn wait_count(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.wait_until(timeout, |r| r.len() >= n)
    }

    /// Stop listening and close every connection (requests are kept). Connecting is refused
    /// until [`HttpDouble::restart`].
    pub fn stop(&mut self) {
        if !self.inner.running.swap(false, Ordering::SeqCst) {
            return;
        }
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        // Wake the accept loop so that it sees the new generation and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in self.inner.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Listen again on the same port.
    pub fn restart(&mut self) {
        if !self.inner.running.load(Ordering::SeqCst) {
            self.listen();
        }
    }
}

impl Drop for HttpDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(stream: TcpStream, inner: &Inner, generation: u64, connection: u64) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let alive = || inner.generation.load(Ordering::SeqCst) == generation;
    // A connection idle for 60 s is closed (the client reconnects).
    let idle_limit = Duration::from_secs(60);
    let mut idle_since = Instant::now();
    // Kept across reads: a read that times out may leave part of a line in it.
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !alive() || idle_since.elapsed() > idle_limit {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        if !alive() {
            return;
        }
        if !line.ends_with('\n') {
            continue;
        }
        let request_line = std::mem::take(&mut line).trim_end().to_string();
        if request_line.is_empty() {
            continue;
        }
        let Some(request) = read_request(&mut reader, &request_line, connection, &alive) else {
            return;
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let verdict = match &*inner.validator.lock().unwrap() {
            Some(v) => v(&request),
            None => Ok(()),
        };
        inner.requests.lock().unwrap().push(request);
        let reply = match verdict {
            Err(why) => {
                inner.violations.lock().unwrap().push(why.clone());
                Reply::status(400).body(why)
            }
            Ok(()) => inner
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| inner.default.lock().unwrap().clone()),
        };
        if reply.hang {
            let until = Instant::now() + Duration::from_secs(120);
            while alive() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        if !reply.delay.is_zero() {
            std::thread::sleep(reply.delay);
        }
        if !alive() || write_reply(&mut writer, &reply).is_err() || close {
            return;
        }
        idle_since = Instant::now();
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    request_line: &str,
    connection: u64,
    alive: &dyn Fn() -> bool,
) -> Option<Request> {
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(_) if alive() && Instant::now() < deadline => continue,
            Err(_) => return None,
        }
        if !line.ends_with('\n') {
            continue;
        }
        let text = std::mem::take(&mut line);
        let text = text.trim_end();
        if text.is_empty() {
            break;
        }
        let (name, value) = text.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match reader.read(&mut body[got..]) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(_) if alive() && Instant::now() < deadline => continue,
            Err(_) => return None,
        }
    }
    Some(Request {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
        wall: SystemTime::now(),
        connection,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_reply(w: &mut TcpStream, r: &Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (n, v) in &r.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", r.body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(&r.body);
    w.write_all(&out)?;
    w.flush()
}
