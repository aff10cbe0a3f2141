//! An async NSCA receiver for tests, the demo and fuzzing, with switchable faults.
//!
//! Owns: accepting connections, sending the init packet (random IV, current time), decrypting
//! and verifying packets through [`PacketDecoder`], and the fault injection that lets tests
//! reproduce what real servers and networks do wrong. It behaves like the NSCA daemon where
//! that matters to a client: a packet it cannot verify closes the connection, and a method it
//! cannot set up closes every connection before the init packet. It does not write command
//! files; results come out of [`Receiver::recv`]. A misbehaving peer must never panic it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::codec::FramedRead;

use crate::codec::{CodecError, PacketDecoder};
use crate::crypto::{Cipher, Method, IV_LEN};
use crate::packet::{InitPacket, PacketSize, PassiveCheck};

/// How to listen.
#[derive(Clone)]
pub struct ReceiverConfig {
    /// Address to bind (port 0 picks a free one; see [`Receiver::local_addr`]).
    pub addr: SocketAddr,
    /// Decryption method.
    pub method: Method,
    /// Password bytes (secret: never printed).
    pub password: Vec<u8>,
    /// Packet layout expected from clients. Any number of packets per connection is accepted
    /// in both layouts (like a 2.7 server for legacy); the 2.9.1+ daemon's "one 720-byte packet
    /// then EOF" fallback inside v3 mode is not emulated.
    pub packet: PacketSize,
    /// Idle time after which a connection that sends nothing is closed (the daemon: 10 s).
    pub read_timeout: Duration,
}

impl ReceiverConfig {
    /// A receiver for v3 packets with the daemon's 10 s read timeout.
    pub fn new(addr: SocketAddr, method: Method, password: Vec<u8>) -> ReceiverConfig {
        ReceiverConfig {
            addr,
            method,
            password,
            packet: PacketSize::V3,
            read_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for ReceiverConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverConfig")
            .field("addr", &self.addr)
            .field("method", &self.method)
            .field("password", &"<redacted>")
            .field("packet", &self.packet)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// One verified data packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The check as decoded.
    pub check: PassiveCheck,
    /// The timestamp the client echoed.
    pub timestamp: u32,
    /// The client's address.
    pub peer: SocketAddr,
}

/// A misbehaviour applied to each connection accepted while it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Fault {
    /// Behave like the daemon.
    #[default]
    None,
    /// Accept and close at once, before the init packet (what the daemon does when it cannot
    /// open its decryption method).
    Refuse,
    /// Accept and never send the init packet (keep the connection open).
    NoInit,
    /// Send the init packet, then close.
    CloseAfterInit,
    /// Send the init packet, then never read (the client's writes eventually block).
    Stall,
    /// Send the init packet, read half a data packet, then reset the connection (RST).
    ResetMidPacket,
}

/// Counters, for tests and fuzzing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted.
    pub connections: usize,
    /// Packets verified and delivered.
    pub packets: usize,
    /// Connections closed because of a packet that failed decryption or verification (or a
    /// connection that ended mid-packet).
    pub rejected: usize,
}

#[derive(Default)]
struct Counters {
    connections: AtomicUsize,
    packets: AtomicUsize,
    rejected: AtomicUsize,
}

struct Shared {
    config: ReceiverConfig,
    fault: Mutex<Fault>,
    counters: Counters,
}

impl Shared {
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A listening receiver. Dropping it stops accepting and closes every connection.
pub struct Receiver {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    results: mpsc::Receiver<Received>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("local_addr", &self.local_addr)
            .field("config", &self.shared.config)
            .field("fault", &self.shared.fault())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Bind and start accepting (on the current tokio runtime).
    ///
    /// Fails (`InvalidInput`) when the method cannot be set up with this password, rather than
    /// closing every connection before the init packet as the daemon does; use
    /// [`Fault::Refuse`] to reproduce the daemon's behaviour.
    pub async fn bind(config: ReceiverConfig) -> io::Result<Receiver> {
        Cipher::new(config.method, &[0; IV_LEN], &config.password)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(config.addr).await?;
        let local_addr = listener.local_addr()?;
        let (tx, results) = mpsc::channel(1024);
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            fault: Mutex::new(Fault::None),
            counters: Counters::default(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone(), tx, stopped));
        Ok(Receiver {
            local_addr,
            shared,
            results,
            stop,
            task: Some(task),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Apply `fault` to connections accepted from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// The next verified packet (None after shutdown, once everything was read).
    pub async fn recv(&mut self) -> Option<Received> {
        self.results.recv().await
    }

    /// Up to `n` packets, waiting at most `timeout` in total.
    pub async fn collect(&mut self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut out = Vec::with_capacity(n);
        let deadline = tokio::time::Instant::now() + timeout;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.results.recv()).await {
                Ok(Some(r)) => out.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        out
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            connections: c.connections.load(Ordering::Relaxed),
            packets: c.packets.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
        }
    }

    /// Stop accepting, close every connection and wait for the tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Received>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A send or the Receiver being dropped: either way, stop.
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    shared.counters.connections.fetch_add(1, Ordering::Relaxed);
                    let fault = shared.fault();
                    connections.spawn(serve(stream, peer, fault, shared.clone(), tx.clone()));
                }
                // EMFILE and friends: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Dropping the set aborts every connection task, which closes their sockets.
    connections.shutdown().await;
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    fault: Fault,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Received>,
) {
    let config = &shared.config;
    let mut iv = [0u8; IV_LEN];
    rand::rng().fill(&mut iv[..]);
    let init = InitPacket {
        iv,
        timestamp: now(),
    };
    // Like the daemon: a method that cannot be set up closes before the init packet.
    let cipher = match Cipher::new(config.method, &init.iv, &config.password) {
        Ok(c) => c,
        Err(_) => return,
    };
    match fault {
        Fault::Refuse => return,
        Fault::NoInit => {
            // Hold the connection until the peer leaves (or shutdown aborts this task).
            let mut sink = [0u8; 4096];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
            return;
        }
        _ => {}
    }
    match tokio::time::timeout(config.read_timeout, stream.write_all(&init.encode())).await {
        Ok(Ok(())) => {}
        _ => return,
    }
    match fault {
        Fault::CloseAfterInit => return,
        Fault::Stall => {
            // Never read; keep the socket open until shutdown aborts this task.
            std::future::pending::<()>().await;
        }
        Fault::ResetMidPacket => {
            let mut half = vec![0u8; config.packet.packet_len() / 2];
            let _ = tokio::time::timeout(config.read_timeout, stream.read_exact(&mut half)).await;
            // Linger 0: close() sends RST instead of FIN. (Deprecated because a non-zero linger
            // blocks the thread in drop; a zero linger never blocks.)
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            return;
        }
        _ => {}
    }
    let mut frames = FramedRead::new(stream, PacketDecoder::new(cipher, config.packet));
    loop {
        let next = match tokio::time::timeout(config.read_timeout, frames.next()).await {
            Ok(Some(next)) => next,
            // EOF or idle: the daemon gives up after its socket timeout too.
            Ok(None) | Err(_) => return,
        };
        match next {
            Ok(packet) => {
                shared.counters.packets.fetch_add(1, Ordering::Relaxed);
                let received = Received {
                    check: packet.check,
                    timestamp: packet.timestamp,
                    peer,
                };
                // Nobody listening any more is not this connection's problem.
                let _ = tx.send(received).await;
            }
            // The peer reset the connection: nothing to verify.
            Err(CodecError::Io(_)) => return,
            Err(_) => {
                // Bad version/CRC or truncated: drop the packet and the connection.
                shared.counters.rejected.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}
