//! Test-only micro-measurement of CFB-8 speed per method; not a timed test.
//!
//! Run with `cargo test --release -p nsca crypto::bench -- --ignored --nocapture`.

use std::time::Instant;

use super::*;

/// Bytes of one v3 data packet.
const PACKET: usize = 4304;

#[test]
#[ignore = "measurement, run by hand in release mode"]
fn cfb8_ns_per_byte() {
    let iv = [0x5au8; IV_LEN];
    let long = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
    for m in Method::all() {
        for (label, pw) in [("long", &long[..]), ("short", &b"secret"[..])] {
            if m == Method::None || (label == "short" && m != Method::TripleDes) {
                continue;
            }
            let Ok(mut c) = Cipher::new(m, &iv, pw) else {
                println!("{:<14} {label:<5} not available", m.name());
                continue;
            };
            let mut buf = vec![0u8; PACKET];
            c.encrypt(&mut buf); // warm up
            let mut best = f64::MAX;
            for _ in 0..15 {
                let t = Instant::now();
                for _ in 0..4 {
                    c.encrypt(&mut buf);
                }
                best = best.min(t.elapsed().as_secs_f64() / 4.0);
            }
            println!(
                "{:<14} {label:<5} {:>7.1} ns/byte  {:>7.3} ms/packet",
                m.name(),
                best * 1e9 / PACKET as f64,
                best * 1e3
            );
        }
    }
}
