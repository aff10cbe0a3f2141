//! The encryption methods of NSCA: what `encryption_method` numbers mean, and the per-connection
//! cipher state that encrypts (client) or decrypts (server) data packets.
//!
//! Owns: the method table (numbers, names, key and block sizes), XOR, and libmcrypt-compatible
//! CFB-8 over every block cipher the Debian `nsca` 2.10 daemon can open. Pure: no I/O.
//!
//! One [`Cipher`] lives for one TCP connection. For the mcrypt methods the CFB-8 shift register
//! carries over from one packet to the next (the daemon keeps one `MCRYPT` handle per
//! connection); XOR restarts at index 0 for every packet.

#[cfg(test)]
mod bench;
pub mod block;
pub mod cfb8;
pub mod des;
pub(crate) mod gost;
pub(crate) mod loki97;
pub mod rijndael;
pub mod rustcrypto;
pub(crate) mod saferplus;
pub(crate) mod twofish;
#[cfg(test)]
mod vectors;

use std::fmt;
use std::str::FromStr;

use block::BlockEncrypt;
use cfb8::{Cfb8, Cfb8Stream};

/// Size of the IV in the init packet.
pub const IV_LEN: usize = 128;

/// An encryption method the real NSCA daemon can use (`encryption_method` / `decryption_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// 0: cleartext.
    None,
    /// 1: XOR with the IV and the password (obfuscation only).
    Xor,
    /// 2: DES (8-byte key).
    Des,
    /// 3: 3DES EDE (24-byte key).
    TripleDes,
    /// 4: CAST-128 (16-byte key).
    Cast128,
    /// 5: CAST-256 (32-byte key).
    Cast256,
    /// 6: xTEA (16-byte key).
    Xtea,
    /// 8: Blowfish (56-byte key).
    Blowfish,
    /// 9: Twofish (32-byte key).
    Twofish,
    /// 10: LOKI97 (32-byte key).
    Loki97,
    /// 11: RC2 (128-byte key).
    Rc2,
    /// 14: Rijndael with a 16-byte block and 32-byte key (that is AES-256).
    Rijndael128,
    /// 15: Rijndael with a 24-byte block and 32-byte key (not AES).
    Rijndael192,
    /// 16: Rijndael with a 32-byte block and 32-byte key (not AES).
    Rijndael256,
    /// 20: Serpent (32-byte key).
    Serpent,
    /// 23: GOST 28147-89 with libmcrypt's S-boxes (32-byte key).
    Gost,
    /// 26: SAFER+ (32-byte key).
    SaferPlus,
}

/// Facts about one method: number, canonical name, aliases, key and block size.
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    /// The method.
    pub method: Method,
    /// `encryption_method` number in `send_nsca.cfg` / `nsca.cfg`.
    pub number: u8,
    /// Canonical name (libmcrypt's algorithm name where there is one).
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// Key size in bytes: the password is zero-padded or cut to this length (0 = no key).
    pub key_len: usize,
    /// Block size in bytes = bytes of the IV used (0 = not a block cipher).
    pub block_len: usize,
}

/// The method table, in method-number order.
#[rustfmt::skip]
pub const METHODS: &[MethodInfo] = &[
    MethodInfo { method: Method::None, number: 0, name: "none", aliases: &["cleartext", "plain"], key_len: 0, block_len: 0 },
    MethodInfo { method: Method::Xor, number: 1, name: "xor", aliases: &[], key_len: 0, block_len: 0 },
    MethodInfo { method: Method::Des, number: 2, name: "des", aliases: &[], key_len: 8, block_len: 8 },
    MethodInfo { method: Method::TripleDes, number: 3, name: "3des", aliases: &["tripledes", "des3", "des-ede3"], key_len: 24, block_len: 8 },
    MethodInfo { method: Method::Cast128, number: 4, name: "cast-128", aliases: &["cast128", "cast5"], key_len: 16, block_len: 8 },
    MethodInfo { method: Method::Cast256, number: 5, name: "cast-256", aliases: &["cast256", "cast6"], key_len: 32, block_len: 16 },
    MethodInfo { method: Method::Xtea, number: 6, name: "xtea", aliases: &[], key_len: 16, block_len: 8 },
    MethodInfo { method: Method::Blowfish, number: 8, name: "blowfish", aliases: &[], key_len: 56, block_len: 8 },
    MethodInfo { method: Method::Twofish, number: 9, name: "twofish", aliases: &[], key_len: 32, block_len: 16 },
    MethodInfo { method: Method::Loki97, number: 10, name: "loki97", aliases: &[], key_len: 32, block_len: 16 },
    MethodInfo { method: Method::Rc2, number: 11, name: "rc2", aliases: &[], key_len: 128, block_len: 8 },
    MethodInfo { method: Method::Rijndael128, number: 14, name: "rijndael-128", aliases: &["aes", "aes256", "aes-256", "rijndael128"], key_len: 32, block_len: 16 },
    MethodInfo { method: Method::Rijndael192, number: 15, name: "rijndael-192", aliases: &["rijndael192"], key_len: 32, block_len: 24 },
    MethodInfo { method: Method::Rijndael256, number: 16, name: "rijndael-256", aliases: &["rijndael256"], key_len: 32, block_len: 32 },
    MethodInfo { method: Method::Serpent, number: 20, name: "serpent", aliases: &[], key_len: 32, block_len: 16 },
    MethodInfo { method: Method::Gost, number: 23, name: "gost", aliases: &[], key_len: 32, block_len: 8 },
    MethodInfo { method: Method::SaferPlus, number: 26, name: "saferplus", aliases: &["safer+", "safer-plus"], key_len: 32, block_len: 16 },
];

/// Method numbers that exist in NSCA's headers but that no NSCA server can use, with the reason.
#[rustfmt::skip]
pub const UNUSABLE: &[(u8, &str, &str)] = &[
    (7, "3way", "libmcrypt 2.5.8 does not build its 3-WAY module (the source file is misnamed), so the daemon cannot open it"),
    (12, "arcfour", "ARCFOUR is a stream cipher and NSCA opens every algorithm in CFB mode, which libmcrypt refuses for stream ciphers"),
    (19, "wake", "WAKE is a stream cipher and NSCA opens every algorithm in CFB mode, which libmcrypt refuses for stream ciphers"),
    (22, "enigma", "ENIGMA is a stream cipher and NSCA opens every algorithm in CFB mode, which libmcrypt refuses for stream ciphers"),
    (24, "safer-sk64", "libmcrypt 2.5.8 does not build its SAFER-SK64 module (the source file is misnamed), so the daemon cannot open it"),
    (25, "safer-sk128", "libmcrypt 2.5.8 does not build its SAFER-SK128 module (the source file is misnamed), so the daemon cannot open it"),
];

/// Why a method or key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A method number or name that NSCA defines but no NSCA server can use.
    #[error("encryption method {number} ({name}) cannot work with any NSCA server: {reason}")]
    Unusable {
        /// Method number.
        number: u8,
        /// Method name.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Not a method number or name at all.
    #[error("unknown encryption method {0:?}: use a number (0-26) or a name such as none, xor, des, 3des, aes256, blowfish (see the cipher table in the README)")]
    Unknown(String),
    /// A method NSCA servers accept but this library cannot run yet.
    #[error("encryption method {number} ({name}) is not implemented yet in this library")]
    NotImplemented {
        /// Method number.
        number: u8,
        /// Method name.
        name: &'static str,
    },
    /// The IV given was shorter than the block size.
    #[error("IV of {got} bytes is too short for {method} (needs {need})")]
    ShortIv {
        /// Method name.
        method: &'static str,
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
}

impl Method {
    /// Every usable method, in number order.
    pub fn all() -> impl Iterator<Item = Method> {
        METHODS.iter().map(|m| m.method)
    }

    /// The table entry of this method.
    pub fn info(self) -> &'static MethodInfo {
        METHODS
            .iter()
            .find(|m| m.method == self)
            .expect("every Method has a METHODS entry")
    }

    /// `encryption_method` number.
    pub fn number(self) -> u8 {
        self.info().number
    }

    /// Canonical name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The method with this `encryption_method` number.
    pub fn from_number(number: i64) -> Result<Method, CryptoError> {
        if let Some(m) = METHODS.iter().find(|m| i64::from(m.number) == number) {
            return Ok(m.method);
        }
        if let Some(&(number, name, reason)) = UNUSABLE.iter().find(|u| i64::from(u.0) == number) {
            return Err(CryptoError::Unusable {
                number,
                name,
                reason,
            });
        }
        Err(CryptoError::Unknown(number.to_string()))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.number())
    }
}

impl FromStr for Method {
    type Err = CryptoError;

    /// Accepts a number (`3`) or a name (`3des`, `tripledes`, `aes256`, `rijndael-128`, ...),
    /// case-insensitively.
    fn from_str(s: &str) -> Result<Method, CryptoError> {
        let t = s.trim();
        if let Ok(n) = t.parse::<i64>() {
            return Method::from_number(n);
        }
        let lower = t.to_ascii_lowercase();
        let norm = |x: &str| x.replace(['-', '_'], "");
        if let Some(m) = METHODS.iter().find(|m| {
            norm(m.name) == norm(&lower) || m.aliases.iter().any(|a| norm(a) == norm(&lower))
        }) {
            return Ok(m.method);
        }
        if let Some(&(number, name, reason)) = UNUSABLE.iter().find(|u| norm(u.1) == norm(&lower)) {
            return Err(CryptoError::Unusable {
                number,
                name,
                reason,
            });
        }
        Err(CryptoError::Unknown(t.to_string()))
    }
}

/// The cipher state of one connection.
pub struct Cipher {
    method: Method,
    state: State,
}

enum State {
    None,
    /// XOR restarts at index 0 for every packet, so IV and password combine into one fixed
    /// keystream, built once per connection for the longest packet (grown if ever needed).
    Xor(XorKeystream),
    Cfb8(Box<dyn Cfb8Stream>),
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Cipher")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Cipher {
    /// Set up the state for one connection from the init packet's IV and the password.
    pub fn new(method: Method, iv: &[u8; IV_LEN], password: &[u8]) -> Result<Cipher, CryptoError> {
        let state = match method {
            Method::None => State::None,
            Method::Xor => State::Xor(XorKeystream::new(iv, password)),
            block => State::Cfb8(cfb8_stream(block, iv, &mcrypt_key(block, password))?),
        };
        Ok(Cipher { method, state })
    }

    /// The method of this state.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Encrypt one packet in place (client side).
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        match &mut self.state {
            State::None => {}
            State::Xor(ks) => ks.apply(buf),
            State::Cfb8(s) => s.encrypt(buf),
        }
    }

    /// Decrypt one packet in place (server side).
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        match &mut self.state {
            State::None => {}
            State::Xor(ks) => ks.apply(buf),
            State::Cfb8(s) => s.decrypt(buf),
        }
    }
}

/// The password up to its first NUL, as C's `strlen` sees it.
fn c_string(password: &[u8]) -> &[u8] {
    let len = password
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(password.len());
    &password[..len]
}

/// The key NSCA hands to libmcrypt: the password (up to its first NUL) copied into a zeroed
/// buffer of the method's key size, cut off if longer.
fn mcrypt_key(method: Method, password: &[u8]) -> Vec<u8> {
    let mut key = vec![0u8; method.info().key_len];
    let pw = c_string(password);
    let n = pw.len().min(key.len());
    key[..n].copy_from_slice(&pw[..n]);
    key
}

fn key32(key: &[u8]) -> &[u8; 32] {
    key.try_into().expect("32-byte key")
}

/// The CFB-8 stream of a block-cipher method, keyed and with the IV loaded.
fn cfb8_stream(
    method: Method,
    iv: &[u8; IV_LEN],
    key: &[u8],
) -> Result<Box<dyn Cfb8Stream>, CryptoError> {
    fn boxed<C: BlockEncrypt + 'static>(c: C, iv: &[u8]) -> Box<dyn Cfb8Stream> {
        Box::new(Cfb8::new(c, iv))
    }
    fn backend<C>(c: rustcrypto::Plain<C>, iv: &[u8]) -> Box<dyn Cfb8Stream>
    where
        C: cipher::BlockCipherEncrypt + Send + Sync + 'static,
    {
        Box::new(rustcrypto::BackendCfb8::new(c, iv))
    }
    let stream = match method {
        Method::Des => des::des_cfb8(
            key.try_into().expect("8-byte key"),
            iv[..8].try_into().expect("8-byte IV"),
        ),
        Method::TripleDes => des::TripleDes::new(key.try_into().expect("24-byte key"))
            .cfb8(iv[..8].try_into().expect("8-byte IV")),
        Method::Cast128 => backend(rustcrypto::cast128(key), iv),
        Method::Cast256 => boxed(rustcrypto::cast256(key), iv),
        Method::Xtea => boxed(rustcrypto::xtea(key), iv),
        Method::Blowfish => backend(rustcrypto::blowfish(key), iv),
        Method::Twofish => boxed(twofish::Twofish::new(key), iv),
        Method::Rc2 => backend(rustcrypto::rc2(key), iv),
        Method::Rijndael128 => backend(rustcrypto::aes256(key), iv),
        Method::Serpent => backend(rustcrypto::serpent(key), iv),
        Method::Rijndael192 => boxed(rijndael::Rijndael::<6>::new(key32(key)), iv),
        Method::Rijndael256 => boxed(rijndael::Rijndael::<8>::new(key32(key)), iv),
        Method::Loki97 => boxed(loki97::Loki97::new(key), iv),
        Method::Gost => boxed(gost::Gost::new(key), iv),
        Method::SaferPlus => boxed(saferplus::SaferPlus::new(key), iv),
        other => {
            return Err(CryptoError::NotImplemented {
                number: other.number(),
                name: other.name(),
            })
        }
    };
    Ok(stream)
}

/// NSCA's XOR: every byte XORed with the IV (`iv[i % 128]`), then with the password
/// (`pw[i % strlen(pw)]`), both indices starting at 0 in every packet. The two passes are folded
/// into one keystream so a packet costs one vectorisable pass.
struct XorKeystream {
    iv: [u8; IV_LEN],
    password: Vec<u8>,
    keystream: Vec<u8>,
}

impl XorKeystream {
    /// Longest packet of the protocol (v3).
    const PACKET: usize = 4304;

    fn new(iv: &[u8; IV_LEN], password: &[u8]) -> XorKeystream {
        let mut ks = XorKeystream {
            iv: *iv,
            password: c_string(password).to_vec(),
            keystream: Vec::new(),
        };
        ks.grow(Self::PACKET);
        ks
    }

    fn grow(&mut self, len: usize) {
        let start = self.keystream.len();
        self.keystream.extend((start..len).map(|i| {
            let p = if self.password.is_empty() {
                0
            } else {
                self.password[i % self.password.len()]
            };
            self.iv[i % IV_LEN] ^ p
        }));
    }

    fn apply(&mut self, buf: &mut [u8]) {
        if buf.len() > self.keystream.len() {
            self.grow(buf.len());
        }
        for (b, k) in buf.iter_mut().zip(&self.keystream) {
            *b ^= k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{encode_data_packet, PacketSize, PassiveCheck};

    fn test_iv() -> [u8; IV_LEN] {
        let mut iv = [0u8; IV_LEN];
        for (i, b) in iv.iter_mut().enumerate() {
            *b = ((7 * i + 3) & 0xff) as u8;
        }
        iv
    }

    #[test]
    fn xor_matches_research_vector() {
        let check = PassiveCheck::service("web01", "backup-nightly", 2, "BACKUP CRITICAL").unwrap();
        let mut p = encode_data_packet(&check, 0x6500_0000, PacketSize::V3);
        let mut c = Cipher::new(Method::Xor, &test_iv(), b"secret").unwrap();
        c.encrypt(&mut p);
        assert_eq!(
            hex::encode(&p[..32]),
            "706c726a2d5ffeed3d302c242439717b743ec3edece4f8d0d8d7dab2a2baa6b9"
        );
        assert_eq!(hex::encode(&p[p.len() - 8..]), "88676a62726a5649");
        // XOR restarts for each packet: decrypting gives the plaintext back
        c.decrypt(&mut p);
        assert_eq!(p, encode_data_packet(&check, 0x6500_0000, PacketSize::V3));
        let mut l = encode_data_packet(&check, 0x6500_0000, PacketSize::Legacy);
        c.encrypt(&mut l);
        assert_eq!(
            hex::encode(&l[..32]),
            "706c726a4ee5a5c13d302c242439717b743ec3edece4f8d0d8d7dab2a2baa6b9"
        );
    }

    #[test]
    fn xor_keystream_equals_the_two_pass_definition_at_any_length() {
        let iv = test_iv();
        for pw in [&b""[..], b"secret", b"pw\0ignored", &[7u8; 200]] {
            let mut c = Cipher::new(Method::Xor, &iv, pw).unwrap();
            for len in [0, 1, 720, 4304, 5000] {
                let mut buf: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
                let mut want = buf.clone();
                let pw = c_string(pw);
                for (i, b) in want.iter_mut().enumerate() {
                    *b ^= iv[i % IV_LEN];
                    if !pw.is_empty() {
                        *b ^= pw[i % pw.len()];
                    }
                }
                c.encrypt(&mut buf);
                assert_eq!(buf, want, "password {pw:?}, length {len}");
            }
        }
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!("3".parse::<Method>().unwrap(), Method::TripleDes);
        assert_eq!("3DES".parse::<Method>().unwrap(), Method::TripleDes);
        assert_eq!("aes256".parse::<Method>().unwrap(), Method::Rijndael128);
        assert_eq!(
            "rijndael-128".parse::<Method>().unwrap(),
            Method::Rijndael128
        );
        assert_eq!("xor".parse::<Method>().unwrap(), Method::Xor);
        for m in Method::all() {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
            assert_eq!(m.number().to_string().parse::<Method>().unwrap(), m);
        }
        for n in [7, 12, 19, 22, 24, 25] {
            let e = n.to_string().parse::<Method>().unwrap_err();
            assert!(matches!(e, CryptoError::Unusable { .. }), "{n}: {e}");
            assert!(e.to_string().contains("cannot work with any NSCA server"));
        }
        assert!(matches!(
            "arcfour".parse::<Method>(),
            Err(CryptoError::Unusable { number: 12, .. })
        ));
        assert!(matches!(
            "rot13".parse::<Method>(),
            Err(CryptoError::Unknown(_))
        ));
        assert!(matches!(
            "99".parse::<Method>(),
            Err(CryptoError::Unknown(_))
        ));
    }
}
