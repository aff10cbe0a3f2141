//! GOST 28147-89 exactly as libmcrypt 2.5.8 implements it (NSCA method 23), encryption only.
//!
//! libmcrypt's GOST differs from every standard parameter set, so no off-the-shelf S-box works:
//!
//! * the S-box rows k1..k8 are the GOST R 34.11-94 "test" parameters (the table printed in
//!   Schneier's *Applied Cryptography*) in reversed order, and k1 carries a typo (its last entry
//!   is 2 instead of 12); k1 substitutes the lowest nibble of the 32-bit word, k8 the highest;
//! * the round function is `rotl11(S(n + k))`, 32 rounds with the subkeys K0..K7 three times and
//!   then K7..K0;
//! * the key is read as eight little-endian 32-bit words, the block as two big-endian words
//!   `n1 = BE32(in[0..4])`, `n2 = BE32(in[4..8])`, and the output is `BE32(n2) ‖ BE32(n1)`.
//!
//! The S-boxes do not depend on the key: the four pairs of 4-bit S-boxes are folded, with the
//! rotation, into four 256-entry tables built at compile time.

use super::block::BlockEncrypt;

/// libmcrypt's S-box rows k1..k8 (k1 = lowest nibble), including the k1 typo (last entry 2).
const K: [[u8; 16]; 8] = [
    [1, 15, 13, 0, 5, 7, 10, 4, 9, 2, 3, 14, 6, 11, 8, 2],
    [13, 11, 4, 1, 3, 15, 5, 9, 0, 10, 14, 7, 6, 8, 2, 12],
    [4, 11, 10, 0, 7, 2, 1, 13, 3, 6, 8, 5, 9, 12, 15, 14],
    [6, 12, 7, 1, 5, 15, 13, 8, 4, 10, 9, 14, 0, 3, 11, 2],
    [7, 13, 10, 1, 0, 8, 9, 15, 14, 4, 6, 12, 11, 2, 5, 3],
    [5, 8, 1, 13, 10, 3, 4, 2, 14, 15, 12, 7, 6, 0, 9, 11],
    [14, 11, 4, 12, 6, 13, 15, 10, 2, 3, 8, 1, 0, 7, 5, 9],
    [4, 10, 9, 2, 13, 8, 0, 14, 6, 11, 1, 12, 7, 15, 5, 3],
];

/// Key size in bytes (the only one libmcrypt's GOST accepts).
pub(crate) const KEY_LEN: usize = 32;
/// Block size in bytes.
pub(crate) const BLOCK_LEN: usize = 8;

/// A keyed libmcrypt-compatible GOST 28147-89 (encryption direction).
pub(crate) struct Gost {
    key: [u32; 8],
}

/// `T[j][b]`: byte `b` at byte position `j` (0 = least significant) of the word, substituted by
/// rows `k(2j+1)` (low nibble) and `k(2j+2)` (high nibble) and rotated left 11.
static T: [[u32; 256]; 4] = tables();

const fn tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut j = 0;
    while j < 4 {
        let mut b = 0;
        while b < 256 {
            let s = (K[2 * j + 1][b >> 4] as u32) << 4 | K[2 * j][b & 15] as u32;
            t[j][b] = (s << (8 * j)).rotate_left(11);
            b += 1;
        }
        j += 1;
    }
    t
}

impl Gost {
    /// Key with exactly [`KEY_LEN`] bytes.
    pub(crate) fn new(key: &[u8]) -> Gost {
        assert_eq!(key.len(), KEY_LEN, "GOST key must be {KEY_LEN} bytes");
        let mut k = [0u32; 8];
        for (w, c) in k.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Gost { key: k }
    }

    #[inline(always)]
    fn f(x: u32) -> u32 {
        let [b0, b1, b2, b3] = x.to_le_bytes();
        T[0][usize::from(b0)]
            ^ T[1][usize::from(b1)]
            ^ T[2][usize::from(b2)]
            ^ T[3][usize::from(b3)]
    }
}

impl BlockEncrypt for Gost {
    fn block_len(&self) -> usize {
        BLOCK_LEN
    }

    fn encrypt_block(&self, block: &mut [u8]) {
        debug_assert_eq!(block.len(), BLOCK_LEN);
        let mut n1 = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
        let mut n2 = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
        let k = &self.key;
        for _ in 0..3 {
            for pair in k.chunks_exact(2) {
                n2 ^= Gost::f(n1.wrapping_add(pair[0]));
                n1 ^= Gost::f(n2.wrapping_add(pair[1]));
            }
        }
        for pair in k.rchunks_exact(2) {
            n2 ^= Gost::f(n1.wrapping_add(pair[1]));
            n1 ^= Gost::f(n2.wrapping_add(pair[0]));
        }
        block[..4].copy_from_slice(&n2.to_be_bytes());
        block[4..].copy_from_slice(&n1.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::crypto::vectors::{cfb8_hex, ecb_hex, LONG_PASSWORD};

    #[test]
    fn ecb_matches_libmcrypt() {
        assert_eq!(ecb_hex(KEY_LEN, BLOCK_LEN, Gost::new), "e8fe1fcf4ea4cd4a");
    }

    #[test]
    fn cfb8_matches_libmcrypt() {
        assert_eq!(
            cfb8_hex(KEY_LEN, b"secret", Gost::new),
            "6485b25ebaec1d6c35e57acba0d16eb58eed871a7dd54ace1ba58a016c84c06af903dda793f891e3170c254e48f54990"
        );
        assert_eq!(
            cfb8_hex(KEY_LEN, LONG_PASSWORD.as_bytes(), Gost::new),
            "baf3a0415385def440a83bbe00fffbaece59c8b764fa46c5dc461dd2e896f9d299f903415696808ddc7adeb541ad7d4d"
        );
    }
}
