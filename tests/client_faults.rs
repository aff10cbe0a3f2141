//! Each receiver fault yields the intended `ClientError` within a bounded time, error messages
//! name what an operator needs (address, stage, the "closed before init packet" hint), our
//! client round-trips with our receiver for every method, and garbage never takes the receiver
//! down.
mod common;
use common::*;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nsca::client::{send_batch, ClientConfig, ClientError, Connection, Stage};
use nsca::crypto::Method;
use nsca::packet::{PacketSize, PassiveCheck};
use nsca::server::{Fault, Receiver, ReceiverConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SHORT: Duration = Duration::from_millis(500);

async fn receiver(method: Method, size: PacketSize) -> Receiver {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = ReceiverConfig::new(addr, method, b"secret".to_vec());
    config.packet = size;
    Receiver::bind(config).await.unwrap()
}

fn client(r: &Receiver, method: Method) -> ClientConfig {
    let mut c = ClientConfig::new(r.local_addr().to_string(), method, b"secret".to_vec());
    c.connect_timeout = SHORT;
    c.io_timeout = SHORT;
    c
}

fn check() -> PassiveCheck {
    PassiveCheck::service("web01", "backup", 2, "CRITICAL").unwrap()
}

#[tokio::test]
async fn refuse_is_closed_before_init() {
    let r = receiver(Method::Xor, PacketSize::V3).await;
    r.set_fault(Fault::Refuse);
    let e = send_batch(&client(&r, Method::Xor), &[check()])
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::ClosedBeforeInit { got: 0, .. }),
        "{e:?}"
    );
    assert_eq!(e.stage(), Stage::Init);
    assert!(!e.is_send_error());
}

#[tokio::test]
async fn no_init_times_out_at_init_stage() {
    let r = receiver(Method::Xor, PacketSize::V3).await;
    r.set_fault(Fault::NoInit);
    let start = Instant::now();
    let e = send_batch(&client(&r, Method::Xor), &[check()])
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            e,
            ClientError::Timeout {
                stage: Stage::Init,
                after: SHORT,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "timed out after 500 ms while waiting for the server's init packet ({})",
            r.local_addr()
        )
    );
    assert!(!e.is_send_error());
}

#[tokio::test]
async fn close_after_init_is_a_send_error() {
    let r = receiver(Method::Xor, PacketSize::V3).await;
    r.set_fault(Fault::CloseAfterInit);
    let mut conn = Connection::open(&client(&r, Method::Xor)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await; // let the FIN arrive
    let e = conn.send(&check()).await.unwrap_err();
    assert!(
        matches!(e, ClientError::ServerClosed { sent: 0, .. }),
        "{e:?}"
    );
    assert!(e.is_send_error());
    assert!(e
        .to_string()
        .contains("closed the connection after 0 packet(s)"));
}

#[tokio::test]
async fn stall_times_out_while_sending() {
    let r = receiver(Method::Xor, PacketSize::V3).await;
    r.set_fault(Fault::Stall);
    let start = Instant::now();
    let mut conn = Connection::open(&client(&r, Method::Xor)).await.unwrap();
    // The kernel buffers a few MB before write blocks; 20000 packets is 86 MB.
    let mut result = Ok(());
    for _ in 0..20_000 {
        result = conn.send(&check()).await;
        if result.is_err() {
            break;
        }
    }
    let e = result.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Timeout {
                stage: Stage::Send,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_send_error(), "send_nsca reports timeouts with exit 2");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn reset_mid_packet_is_a_send_error() {
    let r = receiver(Method::Xor, PacketSize::V3).await;
    r.set_fault(Fault::ResetMidPacket);
    let mut conn = Connection::open(&client(&r, Method::Xor)).await.unwrap();
    conn.send(&check()).await.unwrap(); // handed to the kernel
    tokio::time::sleep(Duration::from_millis(200)).await; // let the RST arrive
    let e = conn.send(&check()).await.unwrap_err();
    assert!(matches!(e, ClientError::Write { sent: 1, .. }), "{e:?}");
    assert!(e.is_send_error());
    assert!(e.to_string().contains("after 1 packet(s)"), "{e}");
}

#[tokio::test]
async fn faults_switch_back_at_runtime() {
    let mut r = receiver(Method::Xor, PacketSize::V3).await;
    let c = client(&r, Method::Xor);
    r.set_fault(Fault::Refuse);
    assert!(send_batch(&c, &[check()]).await.is_err());
    r.set_fault(Fault::None);
    assert_eq!(send_batch(&c, &[check(), check()]).await.unwrap(), 2);
    let got = r.collect(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].check, check());
    r.shutdown().await;
}

#[tokio::test]
async fn closed_port_names_the_address() {
    let port = free_port();
    let mut c = ClientConfig::new(format!("127.0.0.1:{port}"), Method::Xor, vec![]);
    c.connect_timeout = SHORT;
    let e = send_batch(&c, &[check()]).await.unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    assert_eq!(e.stage(), Stage::Connect);
    assert!(!e.is_send_error());
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("could not connect to 127.0.0.1:{port}: ")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn bracketed_ipv6_and_bare_ipv6() {
    // Only when ::1 is usable here.
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("skipping: no IPv6 loopback");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut config = ReceiverConfig::new(
        format!("[::1]:{port}").parse().unwrap(),
        Method::Xor,
        b"secret".to_vec(),
    );
    config.read_timeout = SHORT;
    let mut r = Receiver::bind(config).await.unwrap();
    let mut c = ClientConfig::new(format!("[::1]:{port}"), Method::Xor, b"secret".to_vec());
    c.connect_timeout = SHORT;
    assert_eq!(send_batch(&c, &[check()]).await.unwrap(), 1);
    let got = r.collect(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].peer.is_ipv6());
    // A bare literal uses port 5667, where nothing listens (or something that is not us).
    let c = ClientConfig::new("::1", Method::Xor, vec![]);
    assert_eq!(
        nsca::client::resolve(&c).await.unwrap(),
        ["[::1]:5667".parse::<SocketAddr>().unwrap()]
    );
}

#[tokio::test]
async fn daemon_that_cannot_open_its_method_closes_before_init() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    // 12 = ARCFOUR: a stream cipher, which the daemon cannot open in CFB mode.
    let d = NscaDaemon::start(12, Some("secret"));
    let mut c = ClientConfig::new(d.addr(), Method::Xor, b"secret".to_vec());
    c.io_timeout = Duration::from_secs(5);
    let e = send_batch(&c, &[check()]).await.unwrap_err();
    assert!(matches!(e, ClientError::ClosedBeforeInit { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "server {} closed the connection before sending its init packet (0 of 132 bytes \
             received): is the server's decryption_method one it can open, and is this \
             client's address allowed?",
            d.addr()
        )
    );
}

#[tokio::test]
async fn wrong_password_against_the_daemon_is_noticed_on_the_next_packet() {
    if !have_peer(NSCA_DAEMON) {
        return;
    }
    let d = NscaDaemon::start(1, Some("secret"));
    let mut c = ClientConfig::new(d.addr(), Method::Xor, b"wrong".to_vec());
    c.io_timeout = Duration::from_secs(5);
    let mut conn = Connection::open(&c).await.unwrap();
    conn.send(&check()).await.unwrap();
    // The daemon drops the connection after the bad packet.
    let deadline = Instant::now() + Duration::from_secs(5);
    let e = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(e) = conn.send(&check()).await {
            break e;
        }
        assert!(Instant::now() < deadline, "daemon kept the connection open");
    };
    assert!(e.is_send_error(), "{e:?}");
    assert!(d.lines().is_empty());
}

#[tokio::test]
async fn our_client_to_our_receiver_every_method() {
    let mut failures = Vec::new();
    for method in Method::all() {
        for size in [PacketSize::V3, PacketSize::Legacy] {
            let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let mut config = ReceiverConfig::new(addr, method, b"secret".to_vec());
            config.packet = size;
            let mut r = match Receiver::bind(config).await {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{method} {size:?}: bind: {e}"));
                    continue;
                }
            };
            let mut c = client(&r, method);
            c.packet = size;
            let checks = [
                check(),
                PassiveCheck::host("h", 0, "UP\nmore").unwrap(),
                PassiveCheck::service("h", "s", -1, "é".repeat(300)).unwrap(),
            ];
            let result = send_batch(&c, &checks).await;
            let got = match result {
                Ok(_) => r.collect(3, Duration::from_secs(5)).await,
                Err(_) => Vec::new(),
            };
            let got: Vec<_> = got.into_iter().map(|x| x.check).collect();
            let mut want = checks.to_vec();
            if size == PacketSize::Legacy {
                want[2].output = "é".repeat(255); // 511 bytes would split a character
            }
            if result.is_err() || got != want {
                failures.push(format!("{method} {size:?}: {result:?}, got {got:?}"));
            }
            r.shutdown().await;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn garbage_peers_do_not_hurt_the_receiver() {
    let mut r = receiver(Method::Xor, PacketSize::V3).await;
    let addr = r.local_addr();
    // 1. garbage after the init packet: one rejected packet, connection closed.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut init = [0u8; 132];
    s.read_exact(&mut init).await.unwrap();
    let garbage: Vec<u8> = (0..9000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = s.write_all(&garbage).await;
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .expect("receiver closes after a bad packet");
    assert!(n.is_err() || rest.is_empty());
    // 2. a partial packet then EOF; 3. connect and leave at once; 4. write without reading.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(&garbage[..100]).await;
    drop(s);
    drop(tokio::net::TcpStream::connect(addr).await.unwrap());
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(&garbage).await;
    drop(s);
    // Still serving.
    let c = client(&r, Method::Xor);
    assert_eq!(send_batch(&c, &[check()]).await.unwrap(), 1);
    let got = r.collect(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].check, check());
    assert!(r.stats().rejected >= 1, "{:?}", r.stats());
    r.shutdown().await;
}

#[tokio::test]
async fn queued_checks_go_out_in_order_on_flush_and_nothing_before() {
    let mut r = receiver(Method::Rijndael128, PacketSize::V3).await;
    let mut conn = Connection::open(&client(&r, Method::Rijndael128))
        .await
        .unwrap();
    for i in 0..50 {
        let c = PassiveCheck::service("web01", format!("svc {i}"), (i % 4) as i16, "x").unwrap();
        conn.queue(&c).unwrap();
    }
    assert_eq!(conn.queued_bytes(), 50 * 4304);
    assert_eq!(conn.sent(), 0);
    assert!(
        r.collect(1, SHORT).await.is_empty(),
        "nothing is written before flush"
    );
    conn.flush().await.unwrap();
    assert_eq!((conn.sent(), conn.queued_bytes()), (50, 0));
    // a queued check after the flush goes out with finish()
    conn.queue(&check()).unwrap();
    assert_eq!(conn.finish().await.unwrap(), 51);
    let got = r.collect(51, Duration::from_secs(5)).await;
    let services: Vec<String> = got.iter().map(|g| g.check.service.clone()).collect();
    let mut want: Vec<String> = (0..50).map(|i| format!("svc {i}")).collect();
    want.push("backup".into());
    assert_eq!(services, want);
}
