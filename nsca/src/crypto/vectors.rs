//! Test-only: libmcrypt 2.5.8 CFB-8 vectors for every method (research notes, section 3.4),
//! run through the public [`Cipher`] API exactly as NSCA uses it.
//!
//! Owns nothing at run time; each vector is a 32-byte "packet" then a 16-byte "packet" on one
//! `Cipher`, IV byte i = `(7*i+3) & 0xff`, plaintext bytes `00..2f`. Also owns the helpers the
//! per-cipher tests (gost, loki97, saferplus, twofish) share to check one [`BlockEncrypt`]
//! against the same libmcrypt vectors without going through `Cipher`: [`cfb8_hex`] and
//! [`ecb_hex`].

use super::block::BlockEncrypt;
use super::*;

/// The 144-byte password of the second ciphertext of every vector.
pub(super) const LONG_PASSWORD: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?0123456789abcdef";

/// (method, ciphertext with password `secret`, ciphertext with [`LONG_PASSWORD`]).
#[rustfmt::skip]
const VECTORS: &[(Method, &str, &str)] = &[
    (Method::Des, "384ef1f6b8345cf4f56e344be1e3b1e2c489f54525cb69a73a282a7f511f77395049a17f957529f39034f8735afdb78f", "67dd0419d2cde99a647d41c8973b84bbf1c1af1ff8ba8c0a927ed09fcb18a6c12976d138317f6613c0906cbe43f234c1"),
    (Method::TripleDes, "384ef1f6b8345cf4f56e344be1e3b1e2c489f54525cb69a73a282a7f511f77395049a17f957529f39034f8735afdb78f", "352ee864f43a0259f06ea486cd6076de246869d0739eca64838c210e24c0494554b8bb8721be2277b2f79f5811b5e441"),
    (Method::Cast128, "a9548a5dbcfd887a2a04ae6b43acabab08dddb1890462aeccaee10b2c8ec23220effac1c16860cce8e1993505e23647f", "345b76ab3911c7d57c956943a7ca15da0388b93f60633359bca4699e17a41f647e0b8817966183154994106eb61e81e9"),
    (Method::Cast256, "ccb4b7ed588aa36cba0012759c5479f1a0d520bf8315a0c0cdc82d726f4398733c8750aab991e9c7a2cd0bf5f9752a1b", "2c77c43e38f7f71714bcaec8ff3482f15f5665ac241a904cbab7117f6d5298ca5c932007b550d5a204f907e0e410f709"),
    (Method::Xtea, "c282dc602a31ec9062dbafcba7e626174e341f62358cda272c585efa291588514e30d211fb270f3f70dcdd5ad5a0982c", "7aa71551365db0666cee0ad256720f40ec1dc6518fac93c22ad2ab5958dc2de78a44f980bca91c5be2c1bba5c05c5a5d"),
    (Method::Blowfish, "f5ea3b0502ed669daabdc12fa621d1a00efc1ebc0dfc5d48a4a0a281768bc4e43e517e0cd867abd17933ca6fc354151b", "416facf2a9ae0e9979887b71a8d3e13ad81436bf4f6f15f51845c0f5ee90d0a796e7150ed0f2f25b93128a9a6a77e553"),
    (Method::Twofish, "31544488bfcefa042c9b69724f382f9abebfe0f163d491327c632e649c6b275f14208cad0caf139bf2d08b47465760cf", "60f388384d3eec54f0f2dad0dfd4448780ebafd656aacffad2653346773411a4b39701ae38938e98beb6cbf2d8d363cd"),
    (Method::Loki97, "211fca24d3249815056b8530f84dbac069542fa5801b94c5ab5eb2412292840044c4f38a910660e108112c3b95582442", "a74e1661cc7371e9fbb5f2f8880d2aefb085505d73dab08502876480be6fab7667573f0983a8b94893213b5e3b1fea36"),
    (Method::Rc2, "7c51e2f3c6ab18e4bf7df27dce5975a8fd43c1e54d74af1f30e162b2d38c55ca9eff465113aed75c615bee163b3017a3", "3a951ae9321377789afc9945805a5be9439d43749cd98b1b71b2d2c9d223d69a236ad974006806e15c6b43df3f317c2d"),
    (Method::Rijndael128, "fe42eb814664673410871c40d1a6f8de95bcf1359d37e7a756a9bb43a87c2b32b64449fdf7e8e74c54a0e1f80545a788", "bc77ce0de1f57201571d9130222f4a4d212f324defdf537ecc41a36c35ca9468611a731e72fbbc58208223b052d40a6d"),
    (Method::Rijndael192, "8b8dcbc2f7dcbf7fb4a900924d43220b916e8d623d7e0f3c7edaa8885254b450801a1e1b33267a4541e3216767653109", "bdfe68a60348dcf3ef49b8624a294ce37b89492e369d6c1d7175030d29c4f2dfcfb6bc65b6e0cd7e0166b22082fa6431"),
    (Method::Rijndael256, "aaccd62be51ad50da5441252085e4251d009e8c2a125aab3a37974fe35161592c5dc0a73e6426cea76e8297848959000", "a38c0bd9e2755cf4bd6bf295924413af31964a7131d220bf81188377c51cb21517d084f5f7e573bbfb707cdae144900e"),
    (Method::Serpent, "cb54a59cb1862459b36e57d0fa338dd2c5d534d01b3dc15da787fb699512a14ffe991a2457c7f39719aa8bfff4e97e2c", "ebb8c1e12ddc229313df25d2fec061e28b7fdbb9d93ac98a44e258e7018f46339e2387af7110a93ea1234cd633fe745c"),
    (Method::Gost, "6485b25ebaec1d6c35e57acba0d16eb58eed871a7dd54ace1ba58a016c84c06af903dda793f891e3170c254e48f54990", "baf3a0415385def440a83bbe00fffbaece59c8b764fa46c5dc461dd2e896f9d299f903415696808ddc7adeb541ad7d4d"),
    (Method::SaferPlus, "d8466acc738e6cb3660bdda3f7b599d609d4c5018b96e6204581bbba2c024da8623a2f246834d6c498d6704a7cc5781b", "172d62fac18d12125bad98ca2a8ef328b0e73cfd4c9c589a28fcb9da4ffe27ef8f5bf6b1d5511a80fa97eb27221686dd"),
];

/// NSCA's CFB-8 over 48 plaintext bytes 00..2f with IV byte i = (7i+3) & 0xff, computed here
/// byte by byte on the cipher `new` makes from `password` cut or zero-padded to `key_len` bytes
/// (independently of [`super::cfb8`]); the ciphertext in hex.
pub(super) fn cfb8_hex<C: BlockEncrypt>(
    key_len: usize,
    password: &[u8],
    new: impl FnOnce(&[u8]) -> C,
) -> String {
    let mut key = vec![0u8; key_len];
    let n = password.len().min(key_len);
    key[..n].copy_from_slice(&password[..n]);
    let c = new(&key);
    let mut reg: Vec<u8> = (0..c.block_len()).map(|i| (7 * i + 3) as u8).collect();
    let mut out = Vec::new();
    for p in 0u8..48 {
        let mut e = reg.clone();
        c.encrypt_block(&mut e);
        let ct = p ^ e[0];
        reg.remove(0);
        reg.push(ct);
        out.push(ct);
    }
    hex::encode(out)
}

/// libmcrypt's single-block ECB vector: the cipher `new` makes from key bytes `00..` (`key_len`
/// of them) encrypts the block `00..` (`block_len` bytes); the ciphertext in hex.
pub(super) fn ecb_hex<C: BlockEncrypt>(
    key_len: usize,
    block_len: usize,
    new: impl FnOnce(&[u8]) -> C,
) -> String {
    let key: Vec<u8> = (0..key_len as u8).collect();
    let mut block: Vec<u8> = (0..block_len as u8).collect();
    new(&key).encrypt_block(&mut block);
    hex::encode(block)
}

fn test_iv() -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    for (i, b) in iv.iter_mut().enumerate() {
        *b = ((7 * i + 3) & 0xff) as u8;
    }
    iv
}

/// Encrypt 32 then 16 bytes on one `Cipher`; check the ciphertext, then decrypt the same way.
fn check(method: Method, password: &str, expected: &str) -> Result<(), String> {
    let plain: Vec<u8> = (0..48).collect();
    let mut enc = Cipher::new(method, &test_iv(), password.as_bytes())
        .map_err(|e| format!("{method}: {e}"))?;
    let mut buf = plain.clone();
    let (a, b) = buf.split_at_mut(32);
    enc.encrypt(a);
    enc.encrypt(b);
    if hex::encode(&buf) != expected {
        return Err(format!(
            "{method} with {}-byte password: got {} want {expected}",
            password.len(),
            hex::encode(&buf)
        ));
    }
    let mut dec = Cipher::new(method, &test_iv(), password.as_bytes()).unwrap();
    let (a, b) = buf.split_at_mut(32);
    dec.decrypt(a);
    dec.decrypt(b);
    if buf != plain {
        return Err(format!("{method}: decryption does not round-trip"));
    }
    Ok(())
}

#[test]
fn every_method_has_a_vector() {
    for m in Method::all() {
        if matches!(m, Method::None | Method::Xor) {
            continue;
        }
        assert!(VECTORS.iter().any(|v| v.0 == m), "{m} has no vector");
    }
}

#[test]
fn cfb8_vectors_secret() {
    let failures: Vec<String> = VECTORS
        .iter()
        .filter_map(|&(m, secret, _)| check(m, "secret", secret).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cfb8_vectors_long_password() {
    assert_eq!(LONG_PASSWORD.len(), 144);
    let failures: Vec<String> = VECTORS
        .iter()
        .filter_map(|&(m, _, long)| check(m, LONG_PASSWORD, long).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn password_stops_at_first_nul() {
    for &(m, secret, _) in VECTORS {
        check(m, "secret\0ignored", secret).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn debug_never_shows_key_material() {
    let password = "hunter2-very-secret";
    for m in Method::all() {
        let c = Cipher::new(m, &test_iv(), password.as_bytes()).unwrap();
        let dbg = format!("{c:?} {c:#?}");
        assert!(!dbg.contains("hunter2"), "{m}: {dbg}");
        assert!(!dbg.contains(&hex::encode("hunter2")), "{m}: {dbg}");
        assert!(!dbg.contains("104, 117, 110"), "{m}: {dbg}");
        assert!(dbg.contains("Cipher"), "{m}: {dbg}");
    }
}
