//! LOKI97 (Brown, Pieprzyk; AES candidate) as libmcrypt 2.5.8 implements it (NSCA method 10),
//! encryption only.
//!
//! 16-byte block; NSCA always keys it with 32 bytes (the password zero-padded). Written from the
//! algorithm specification:
//!
//! * a 16-round balanced Feistel network on two 64-bit halves, round `i` using subkeys
//!   `SK[3i-2..=3i]`: `R' = L ^ f(R + SK1, SK2)`, `L' = R + SK1 + SK3`, output `R16 ‖ L16`;
//! * `f(A, B) = Sb(P(Sa(E(KP(A, B)))), B)`: `KP` swaps the bits of the two 32-bit halves of `A`
//!   where the low half of `B` has a 1; `E` expands 64 to 96 bits in 13/11-bit groups; `Sa` and
//!   `Sb` are rows of the S-boxes `S1(x) = (x ^ 0x1fff)^3 mod 0x2911` over GF(2^13) and
//!   `S2(x) = (x ^ 0x7ff)^3 mod 0xaa7` over GF(2^11) (low 8 bits kept), `Sb` taking its top bits
//!   from the high half of `B`; `P` is a bit transposition;
//! * the key schedule runs the 256-bit key `[K4 ‖ K3 ‖ K2 ‖ K1]` through 48 rounds of
//!   `SK = K4 ^ f(K1 + K3 + i·δ, K2)` with `δ = ⌊(√5 − 1)·2^63⌋`, shifting the registers.
//!
//! libmcrypt's implementation (Brian Gladman's) reads key and block as native little-endian
//! 32-bit words where the specification has big-endian ones (word order unchanged), so every
//! 4-byte group of key, input and output is byte-reversed relative to the specification: for key
//! 00..1f and plaintext 00..0f libmcrypt gives `5014420d…`, the specification's KAT `75080e35…`.
//!
//! The S-box and permutation tables are built at compile time.

use super::block::BlockEncrypt;

/// Key size in bytes that NSCA uses (libmcrypt's maximum).
pub(crate) const KEY_LEN: usize = 32;
/// Block size in bytes.
pub(crate) const BLOCK_LEN: usize = 16;
/// Rounds.
const ROUNDS: usize = 16;
/// The key schedule constant δ.
const DELTA: u64 = 0x9E37_79B9_7F4A_7C15;

/// `(x ^ mask)^3` reduced modulo `poly` in GF(2^bits), low 8 bits kept.
const fn cube_sbox_entry(x: u32, mask: u32, poly: u32, bits: u32) -> u8 {
    let a = x ^ mask;
    let sq = gf_mul(a, a, poly, bits);
    (gf_mul(sq, a, poly, bits) & 0xff) as u8
}

/// Multiplication in GF(2^bits) modulo `poly` (which has bit `bits` set).
const fn gf_mul(a: u32, b: u32, poly: u32, bits: u32) -> u32 {
    let mut r = 0;
    let mut a = a;
    let mut b = b;
    while b != 0 {
        if b & 1 != 0 {
            r ^= a;
        }
        b >>= 1;
        a <<= 1;
        if a & (1 << bits) != 0 {
            a ^= poly;
        }
    }
    r
}

const fn s1_table() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        t[i] = cube_sbox_entry(i as u32, 0x1fff, 0x2911, 13);
        i += 1;
    }
    t
}

const fn s2_table() -> [u8; 2048] {
    let mut t = [0u8; 2048];
    let mut i = 0;
    while i < 2048 {
        t[i] = cube_sbox_entry(i as u32, 0x7ff, 0xaa7, 11);
        i += 1;
    }
    t
}

/// `PT[j][v]`: the permutation P applied to byte `v` placed at byte `j` (0 = most significant)
/// of the 64-bit input. P sends input bit `8a + b` (`a` = byte number from the least
/// significant byte, `b` = bit in the byte) to output bit `8b + 7 - a`.
const fn p_table() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut j = 0;
    while j < 8 {
        let a = 7 - j;
        let mut v = 0;
        while v < 256 {
            let mut out = 0u64;
            let mut b = 0;
            while b < 8 {
                if v & (1 << b) != 0 {
                    out |= 1u64 << (8 * b + 7 - a);
                }
                b += 1;
            }
            t[j][v] = out;
            v += 1;
        }
        j += 1;
    }
    t
}

static S1: [u8; 8192] = s1_table();
static S2: [u8; 2048] = s2_table();
static PT: [[u64; 256]; 8] = p_table();

#[inline(always)]
fn s1(x: u64) -> usize {
    usize::from(S1[(x & 0x1fff) as usize])
}

#[inline(always)]
fn s2(x: u64) -> usize {
    usize::from(S2[(x & 0x7ff) as usize])
}

/// The LOKI97 round function `f(A, B)`.
#[inline(always)]
fn f(a: u64, b: u64) -> u64 {
    // KP: swap the bits of the halves of A selected by the low half of B.
    let sk = b & 0xffff_ffff;
    let d = ((a >> 32) ^ a) & sk;
    let x = a ^ d ^ (d << 32);
    // E, Sa and P.
    let p = PT[0][s1(x.rotate_left(8))]
        ^ PT[1][s2(x >> 48)]
        ^ PT[2][s1(x >> 40)]
        ^ PT[3][s2(x >> 32)]
        ^ PT[4][s2(x >> 24)]
        ^ PT[5][s1(x >> 16)]
        ^ PT[6][s2(x >> 8)]
        ^ PT[7][s1(x)];
    // Sb: each input is [bits of the high half of B | one byte of P].
    let bh = b >> 32;
    let byte = |n: u32| (p >> n) & 0xff;
    let o = [
        s2(((bh >> 29) & 0x7) << 8 | byte(56)),
        s2(((bh >> 26) & 0x7) << 8 | byte(48)),
        s1(((bh >> 21) & 0x1f) << 8 | byte(40)),
        s1(((bh >> 16) & 0x1f) << 8 | byte(32)),
        s2(((bh >> 13) & 0x7) << 8 | byte(24)),
        s2(((bh >> 10) & 0x7) << 8 | byte(16)),
        s1(((bh >> 5) & 0x1f) << 8 | byte(8)),
        s1((bh & 0x1f) << 8 | byte(0)),
    ];
    o.iter().fold(0u64, |acc, &v| acc << 8 | v as u64)
}

/// libmcrypt's reading of 8 bytes as a 64-bit value: two little-endian 32-bit words, the first
/// one being the high half.
#[inline(always)]
fn load64(b: &[u8]) -> u64 {
    let hi = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let lo = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    u64::from(hi) << 32 | u64::from(lo)
}

/// Inverse of [`load64`].
#[inline(always)]
fn store64(v: u64, out: &mut [u8]) {
    out[..4].copy_from_slice(&((v >> 32) as u32).to_le_bytes());
    out[4..8].copy_from_slice(&(v as u32).to_le_bytes());
}

/// A keyed libmcrypt-compatible LOKI97 (encryption direction).
pub(crate) struct Loki97 {
    sk: [u64; 3 * ROUNDS],
}

impl Loki97 {
    /// Key with exactly [`KEY_LEN`] bytes, in libmcrypt's byte order.
    pub(crate) fn new(key: &[u8]) -> Loki97 {
        assert_eq!(key.len(), KEY_LEN, "LOKI97 key must be {KEY_LEN} bytes");
        let w = |i: usize| load64(&key[8 * i..8 * i + 8]);
        Loki97::new_spec([w(0), w(1), w(2), w(3)])
    }

    /// Key schedule of the specification; `key` = `[K4, K3, K2, K1]`.
    fn new_spec(key: [u64; 4]) -> Loki97 {
        let [mut k4, mut k3, mut k2, mut k1] = key;
        let mut sk = [0u64; 3 * ROUNDS];
        for (i, s) in sk.iter_mut().enumerate() {
            let g = f(
                k1.wrapping_add(k3)
                    .wrapping_add(DELTA.wrapping_mul(i as u64 + 1)),
                k2,
            );
            let new = k4 ^ g;
            k4 = k3;
            k3 = k2;
            k2 = k1;
            k1 = new;
            *s = new;
        }
        Loki97 { sk }
    }

    /// The cipher of the specification on `[L, R]`, returning `[R16, L16]`.
    fn encrypt_spec(&self, mut l: u64, mut r: u64) -> (u64, u64) {
        for k in self.sk.chunks_exact(3) {
            let t = r.wrapping_add(k[0]);
            let nr = l ^ f(t, k[1]);
            l = t.wrapping_add(k[2]);
            r = nr;
        }
        (r, l)
    }
}

impl BlockEncrypt for Loki97 {
    fn block_len(&self) -> usize {
        BLOCK_LEN
    }

    fn encrypt_block(&self, block: &mut [u8]) {
        debug_assert_eq!(block.len(), BLOCK_LEN);
        let (a, b) = self.encrypt_spec(load64(&block[..8]), load64(&block[8..]));
        store64(a, &mut block[..8]);
        store64(b, &mut block[8..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::crypto::vectors::{cfb8_hex, ecb_hex, LONG_PASSWORD};

    #[test]
    fn ecb_matches_libmcrypt() {
        assert_eq!(
            ecb_hex(KEY_LEN, BLOCK_LEN, Loki97::new),
            "5014420d7cdda0f42cb9b9b8f56f8d7a"
        );
    }

    /// The specification's known-answer test (key 00..1f, plaintext 00..0f, big-endian words).
    #[test]
    fn specification_kat() {
        let c = Loki97::new_spec([
            0x0001_0203_0405_0607,
            0x0809_0a0b_0c0d_0e0f,
            0x1011_1213_1415_1617,
            0x1819_1a1b_1c1d_1e1f,
        ]);
        let (a, b) = c.encrypt_spec(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f);
        assert_eq!((a, b), (0x7508_0e35_9f10_fe64, 0x0144_b35c_5712_8dad));
    }

    #[test]
    fn cfb8_matches_libmcrypt() {
        assert_eq!(
            cfb8_hex(KEY_LEN, b"secret", Loki97::new),
            "211fca24d3249815056b8530f84dbac069542fa5801b94c5ab5eb2412292840044c4f38a910660e108112c3b95582442"
        );
        assert_eq!(
            cfb8_hex(KEY_LEN, LONG_PASSWORD.as_bytes(), Loki97::new),
            "a74e1661cc7371e9fbb5f2f8880d2aefb085505d73dab08502876480be6fab7667573f0983a8b94893213b5e3b1fea36"
        );
    }
}
