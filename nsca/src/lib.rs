//! # nsca: the NSCA 2.x passive-check protocol
//!
//! This crate owns the NSCA wire protocol as spoken by the Nagios `nsca` daemon 2.7 to 2.10:
//! the 132-byte init packet, the 4304-byte (v3) and 720-byte (legacy) data packets with their
//! CRC-32, every cipher the real daemon can use (XOR and libmcrypt's CFB-8 block ciphers), an
//! async client, an async receiver for tests and demos, and the `send_nsca` input and config
//! parsers. It knows nothing about backups.
//!
//! `packet` and `crypto` are pure (no I/O, no clock); `codec`, `client` and `server` add tokio.
//!
//! ```no_run
//! # async fn f() -> Result<(), nsca::client::ClientError> {
//! use nsca::{client::ClientConfig, crypto::Method, packet::PassiveCheck};
//! let config = ClientConfig::new("127.0.0.1:5667", Method::Xor, b"secret".to_vec());
//! let check = PassiveCheck::service("web01", "backup nightly", 2, "CRITICAL: repo locked")?;
//! nsca::client::send_batch(&config, &[check]).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod crypto;
pub mod fuzzing;
pub mod nagios;
pub mod packet;
pub mod send_nsca;
pub mod server;
