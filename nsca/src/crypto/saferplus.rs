//! SAFER+ (Massey, Khachatrian, Kuregian; AES candidate) as libmcrypt 2.5.8 implements it
//! (NSCA method 26), encryption only.
//!
//! 16-byte block. NSCA always keys it with 32 bytes (the password zero-padded), so 16 rounds.
//! Written from the algorithm specification:
//!
//! * `exp(x) = 45^x mod 257` (with 256 stored as 0) and `log` its inverse;
//! * the key register is the key plus one parity byte (XOR of the key bytes); subkey 1 is the
//!   first 16 key bytes; for subkey `i = 2..=2r+1` every register byte is rotated left 3 bits and
//!   subkey `i` is the 16 register bytes starting at index `i-1` (cyclically) plus, byte-wise mod
//!   256, the bias `B[i][j] = exp(exp(17i + j))` for `i <= 17` and `exp(17i + j)` for `i >= 18`
//!   (only 24- and 32-byte keys get that far), `j = 1..=16`;
//! * a round: XOR/add/add/XOR... with subkey `2i-1`, `exp`/`log`/`log`/`exp`... on the bytes,
//!   add/XOR/XOR/add... with subkey `2i`, then the linear layer (four layers of 2-point
//!   pseudo-Hadamard transforms with the "Armenian shuffle" between them);
//! * after the last round the output transform XOR/add/add/XOR... with subkey `2r+1`.
//!
//! libmcrypt's implementation (Brian Gladman's) reads key and block as native (little-endian)
//! 32-bit words in reversed word order, so relative to the specification the order of the 4-byte
//! groups of the key, of the input block and of the output block is reversed (the bytes inside
//! each group keep their order). [`SaferPlus`] does that around the plain algorithm.

use super::block::BlockEncrypt;

/// Key size in bytes that NSCA uses (libmcrypt's maximum).
pub(crate) const KEY_LEN: usize = 32;
/// Block size in bytes.
pub(crate) const BLOCK_LEN: usize = 16;
/// Rounds for a 32-byte key.
const ROUNDS: usize = 16;
/// Subkeys: two per round plus the output transform.
const SUBKEYS: usize = 2 * ROUNDS + 1;

/// Byte positions (0-based) that are XORed in the first key layer and exponentiated; the other
/// positions are added and take the logarithm.
const XOR_FIRST: [bool; 16] = [
    true, false, false, true, true, false, false, true, true, false, false, true, true, false,
    false, true,
];

/// Armenian shuffle: output byte `i` is input byte `SHUFFLE[i]`.
const SHUFFLE: [usize; 16] = [8, 11, 12, 15, 2, 1, 6, 5, 10, 9, 14, 13, 0, 7, 4, 3];

/// `45^x mod 257` for `x` in 0..256, with 256 represented as 0.
const fn exp_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut v: u32 = 1;
    let mut i = 0;
    while i < 256 {
        t[i] = (v & 0xff) as u8;
        v = v * 45 % 257;
        i += 1;
    }
    t
}

/// Inverse of [`EXP`].
const fn log_table() -> [u8; 256] {
    let e = exp_table();
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[e[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const EXP: [u8; 256] = exp_table();
const LOG: [u8; 256] = log_table();

/// A keyed libmcrypt-compatible SAFER+ (encryption direction).
pub(crate) struct SaferPlus {
    k: [[u8; 16]; SUBKEYS],
}

impl SaferPlus {
    /// Key with exactly [`KEY_LEN`] bytes, in libmcrypt's byte order.
    pub(crate) fn new(key: &[u8]) -> SaferPlus {
        assert_eq!(key.len(), KEY_LEN, "SAFER+ key must be {KEY_LEN} bytes");
        let mut k = [0u8; KEY_LEN];
        reverse_words(key, &mut k);
        SaferPlus::new_spec(&k)
    }

    /// Key schedule of the specification (key bytes in specification order).
    fn new_spec(key: &[u8; KEY_LEN]) -> SaferPlus {
        let mut reg = [0u8; KEY_LEN + 1];
        reg[..KEY_LEN].copy_from_slice(key);
        reg[KEY_LEN] = key.iter().fold(0, |a, &b| a ^ b);
        let mut k = [[0u8; 16]; SUBKEYS];
        k[0].copy_from_slice(&key[..16]);
        for i in 2..=SUBKEYS {
            for b in reg.iter_mut() {
                *b = b.rotate_left(3);
            }
            for (j, out) in k[i - 1].iter_mut().enumerate() {
                let e = EXP[(17 * i + j + 1) % 256];
                let bias = if i <= 17 { EXP[usize::from(e)] } else { e };
                *out = reg[(i - 1 + j) % (KEY_LEN + 1)].wrapping_add(bias);
            }
        }
        SaferPlus { k }
    }
}

/// Copy `src` to `dst` with the order of the 4-byte groups reversed.
#[inline(always)]
fn reverse_words(src: &[u8], dst: &mut [u8]) {
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4).rev()) {
        d.copy_from_slice(s);
    }
}

/// One layer of 2-point pseudo-Hadamard transforms on neighbouring byte pairs.
#[inline(always)]
fn pht(b: &mut [u8; 16]) {
    for pair in b.chunks_exact_mut(2) {
        let (x, y) = (pair[0], pair[1]);
        pair[0] = x.wrapping_mul(2).wrapping_add(y);
        pair[1] = x.wrapping_add(y);
    }
}

#[inline(always)]
fn shuffle(b: &mut [u8; 16]) {
    let s = *b;
    for (o, &i) in b.iter_mut().zip(SHUFFLE.iter()) {
        *o = s[i];
    }
}

impl BlockEncrypt for SaferPlus {
    fn block_len(&self) -> usize {
        BLOCK_LEN
    }

    fn encrypt_block(&self, block: &mut [u8]) {
        debug_assert_eq!(block.len(), BLOCK_LEN);
        let mut b = [0u8; 16];
        reverse_words(block, &mut b);
        self.encrypt_spec(&mut b);
        reverse_words(&b, block);
    }
}

impl SaferPlus {
    /// The cipher of the specification on a block in specification byte order.
    fn encrypt_spec(&self, b: &mut [u8; 16]) {
        for r in 0..ROUNDS {
            let (k1, k2) = (&self.k[2 * r], &self.k[2 * r + 1]);
            for j in 0..16 {
                b[j] = if XOR_FIRST[j] {
                    EXP[usize::from(b[j] ^ k1[j])].wrapping_add(k2[j])
                } else {
                    LOG[usize::from(b[j].wrapping_add(k1[j]))] ^ k2[j]
                };
            }
            pht(b);
            shuffle(b);
            pht(b);
            shuffle(b);
            pht(b);
            shuffle(b);
            pht(b);
        }
        let k = &self.k[SUBKEYS - 1];
        for j in 0..16 {
            b[j] = if XOR_FIRST[j] {
                b[j] ^ k[j]
            } else {
                b[j].wrapping_add(k[j])
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::crypto::vectors::{cfb8_hex, ecb_hex, LONG_PASSWORD};

    #[test]
    fn ecb_matches_libmcrypt() {
        assert_eq!(
            ecb_hex(KEY_LEN, BLOCK_LEN, SaferPlus::new),
            "fe2e80334b21676b5b7ecdcbc581a52e"
        );
    }

    /// The 256-bit known-answer test of the SAFER+ submission (also LibTomCrypt's self-test
    /// vector): checks the plain algorithm, without libmcrypt's word order.
    #[test]
    fn specification_kat() {
        let key = [
            243, 168, 141, 254, 190, 242, 235, 113, 255, 160, 208, 59, 117, 6, 140, 126, 135, 120,
            115, 77, 208, 190, 130, 190, 219, 194, 70, 65, 43, 140, 250, 48,
        ];
        let mut b = [
            127, 112, 240, 167, 84, 134, 50, 149, 170, 91, 104, 19, 11, 230, 252, 245,
        ];
        SaferPlus::new_spec(&key).encrypt_spec(&mut b);
        assert_eq!(
            b,
            [88, 11, 25, 36, 172, 229, 202, 213, 170, 65, 105, 153, 220, 104, 153, 138]
        );
    }

    #[test]
    fn cfb8_matches_libmcrypt() {
        assert_eq!(
            cfb8_hex(KEY_LEN, b"secret", SaferPlus::new),
            "d8466acc738e6cb3660bdda3f7b599d609d4c5018b96e6204581bbba2c024da8623a2f246834d6c498d6704a7cc5781b"
        );
        assert_eq!(
            cfb8_hex(KEY_LEN, LONG_PASSWORD.as_bytes(), SaferPlus::new),
            "172d62fac18d12125bad98ca2a8ef328b0e73cfd4c9c589a28fcb9da4ffe27ef8f5bf6b1d5511a80fa97eb27221686dd"
        );
    }
}
