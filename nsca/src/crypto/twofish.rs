//! Twofish with a 256-bit key (NSCA method 9), encryption direction only, written from the
//! Twofish paper (Schneier, Kelsey, Whiting, Wagner, Hall, Ferguson, 1998).
//!
//! Owns: the fixed permutations `q0`/`q1` (built at compile time from their 4-bit tables), the
//! MDS and RS matrices, the key schedule for a 32-byte key, and the block encryption. libmcrypt's
//! Twofish is the standard one (key and block read as little-endian words), so no byte swaps are
//! needed.
//!
//! Speed: CFB-8 encrypts one whole block per byte, so everything key-dependent is computed once
//! in [`Twofish::new`] ("full keying" in the paper, section 7.3): the 40 round subkeys, and the
//! function `g` as four 256-entry `u32` tables, each one key-dependent S-box already multiplied
//! by its MDS column. A round then costs eight table lookups and a few additions and rotations.

use super::block::BlockEncrypt;

/// Key size in bytes (NSCA always hands libmcrypt a 32-byte Twofish key).
pub(crate) const KEY_LEN: usize = 32;
/// Block size in bytes.
pub(crate) const BLOCK_LEN: usize = 16;

/// Number of 64-bit key words for a 256-bit key (`k` in the paper).
const K: usize = KEY_LEN / 8;
/// Number of rounds.
const ROUNDS: usize = 16;

/// The 4-bit permutations `t0..t3` of `q0` (paper, section 4.3.5).
const Q0_T: [[u8; 16]; 4] = [
    [
        0x8, 0x1, 0x7, 0xD, 0x6, 0xF, 0x3, 0x2, 0x0, 0xB, 0x5, 0x9, 0xE, 0xC, 0xA, 0x4,
    ],
    [
        0xE, 0xC, 0xB, 0x8, 0x1, 0x2, 0x3, 0x5, 0xF, 0x4, 0xA, 0x6, 0x7, 0x0, 0x9, 0xD,
    ],
    [
        0xB, 0xA, 0x5, 0xE, 0x6, 0xD, 0x9, 0x0, 0xC, 0x8, 0xF, 0x3, 0x2, 0x4, 0x7, 0x1,
    ],
    [
        0xD, 0x7, 0xF, 0x4, 0x1, 0x2, 0x6, 0xE, 0x9, 0xB, 0x3, 0x0, 0x8, 0x5, 0xC, 0xA,
    ],
];

/// The 4-bit permutations `t0..t3` of `q1` (paper, section 4.3.5).
const Q1_T: [[u8; 16]; 4] = [
    [
        0x2, 0x8, 0xB, 0xD, 0xF, 0x7, 0x6, 0xE, 0x3, 0x1, 0x9, 0x4, 0x0, 0xA, 0xC, 0x5,
    ],
    [
        0x1, 0xE, 0x2, 0xB, 0x4, 0xC, 0x3, 0x7, 0x6, 0xD, 0xA, 0x5, 0xF, 0x9, 0x0, 0x8,
    ],
    [
        0x4, 0xC, 0x7, 0x5, 0x1, 0x6, 0x9, 0xA, 0x0, 0xE, 0xD, 0x8, 0x2, 0xB, 0x3, 0xF,
    ],
    [
        0xB, 0x9, 0x5, 0x1, 0xC, 0x3, 0xD, 0xE, 0x6, 0x4, 0x7, 0xF, 0x2, 0x0, 0x8, 0xA,
    ],
];

/// Rotate a 4-bit value right by one.
const fn ror4(x: u8) -> u8 {
    ((x >> 1) | (x << 3)) & 0xF
}

/// One of the fixed byte permutations `q0`/`q1` from its four 4-bit tables (paper, 4.3.5).
const fn q_table(t: &[[u8; 16]; 4]) -> [u8; 256] {
    let mut q = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        let a0 = (x >> 4) as u8;
        let b0 = (x & 0xF) as u8;
        let a1 = a0 ^ b0;
        let b1 = a0 ^ ror4(b0) ^ ((a0 << 3) & 0xF);
        let a2 = t[0][a1 as usize];
        let b2 = t[1][b1 as usize];
        let a3 = a2 ^ b2;
        let b3 = a2 ^ ror4(b2) ^ ((a2 << 3) & 0xF);
        let a4 = t[2][a3 as usize];
        let b4 = t[3][b3 as usize];
        q[x] = (b4 << 4) | a4;
        x += 1;
    }
    q
}

static Q0: [u8; 256] = q_table(&Q0_T);
static Q1: [u8; 256] = q_table(&Q1_T);

/// Primitive polynomial of GF(2^8) for the MDS matrix: x^8 + x^6 + x^5 + x^3 + 1.
const MDS_POLY: u16 = 0x169;
/// Primitive polynomial of GF(2^8) for the RS code: x^8 + x^6 + x^3 + x^2 + 1.
const RS_POLY: u16 = 0x14D;

/// The MDS matrix (paper, section 4.3.2).
const MDS: [[u8; 4]; 4] = [
    [0x01, 0xEF, 0x5B, 0x5B],
    [0x5B, 0xEF, 0xEF, 0x01],
    [0xEF, 0x5B, 0x01, 0xEF],
    [0xEF, 0x01, 0xEF, 0x5B],
];

/// The Reed-Solomon matrix of the key schedule (paper, section 4.3).
const RS: [[u8; 8]; 4] = [
    [0x01, 0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E],
    [0xA4, 0x56, 0x82, 0xF3, 0x1E, 0xC6, 0x68, 0xE5],
    [0x02, 0xA1, 0xFC, 0xC1, 0x47, 0xAE, 0x3D, 0x19],
    [0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E, 0x03],
];

/// Multiply `a` by `b` in GF(2^8) modulo `poly`.
const fn gf_mul(a: u8, b: u8, poly: u16) -> u8 {
    let mut a = a as u16;
    let mut b = b;
    let mut r: u16 = 0;
    while b != 0 {
        if b & 1 != 0 {
            r ^= a;
        }
        a <<= 1;
        if a & 0x100 != 0 {
            a ^= poly;
        }
        b >>= 1;
    }
    r as u8
}

/// The 32-bit word whose byte `i` (0 = least significant) is `MDS[i][col] * y`.
fn mds_column(col: usize, y: u8) -> u32 {
    let mut z = 0u32;
    for (i, row) in MDS.iter().enumerate() {
        z |= u32::from(gf_mul(row[col], y, MDS_POLY)) << (8 * i);
    }
    z
}

/// The key-dependent S-box of byte position `j` of `h` (paper, 4.3.5, case k = 4): byte `x`
/// through the chain of `q` permutations, XORed with byte `j` of each of `l[3]`, `l[2]`,
/// `l[1]`, `l[0]` in turn. The MDS multiplication is left to the caller.
fn sbox(j: usize, x: u8, l: &[u32; K]) -> u8 {
    let b = |w: u32| w.to_le_bytes()[j];
    // q permutations applied at each stage, outermost last; columns are byte positions 0..3.
    const STAGES: [[bool; 4]; 5] = [
        // true = q1, false = q0
        [true, false, false, true], // before XOR with l[3]
        [true, true, false, false], // before XOR with l[2]
        [false, true, false, true], // before XOR with l[1]
        [false, false, true, true], // before XOR with l[0]
        [true, false, true, false], // last
    ];
    let q = |one: bool, v: u8| {
        if one {
            Q1[usize::from(v)]
        } else {
            Q0[usize::from(v)]
        }
    };
    let mut y = x;
    y = q(STAGES[0][j], y) ^ b(l[3]);
    y = q(STAGES[1][j], y) ^ b(l[2]);
    y = q(STAGES[2][j], y) ^ b(l[1]);
    y = q(STAGES[3][j], y) ^ b(l[0]);
    q(STAGES[4][j], y)
}

/// The function `h` of the paper for a 256-bit key: key-dependent S-boxes then MDS.
fn h(x: u32, l: &[u32; K]) -> u32 {
    x.to_le_bytes()
        .iter()
        .enumerate()
        .fold(0, |z, (j, &y)| z ^ mds_column(j, sbox(j, y, l)))
}

/// RS code of 8 key bytes: the S-box key word `S_i` (paper, 4.3).
fn rs(m: &[u8]) -> u32 {
    let mut s = 0u32;
    for (i, row) in RS.iter().enumerate() {
        let v = row
            .iter()
            .zip(m)
            .fold(0u8, |acc, (&r, &x)| acc ^ gf_mul(r, x, RS_POLY));
        s |= u32::from(v) << (8 * i);
    }
    s
}

/// A keyed Twofish-256 (encryption direction).
pub(crate) struct Twofish {
    /// Round subkeys `K0..K39`.
    subkeys: [u32; 40],
    /// `g(X) = T[0][x0] ^ T[1][x1] ^ T[2][x2] ^ T[3][x3]` for `X = x0 + 2^8 x1 + ...`.
    tables: Box<[[u32; 256]; 4]>,
}

impl Twofish {
    /// Key with exactly [`KEY_LEN`] bytes; computes every subkey and the `g` tables.
    pub(crate) fn new(key: &[u8]) -> Twofish {
        assert_eq!(key.len(), KEY_LEN, "Twofish key must be {KEY_LEN} bytes");
        let m: Vec<u32> = key
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let me: [u32; K] = std::array::from_fn(|i| m[2 * i]);
        let mo: [u32; K] = std::array::from_fn(|i| m[2 * i + 1]);
        // S = (S_{k-1}, ..., S_0): the list handed to h is reversed.
        let s: [u32; K] = std::array::from_fn(|i| rs(&key[8 * (K - 1 - i)..8 * (K - i)]));

        const RHO: u32 = 0x0101_0101;
        let mut subkeys = [0u32; 40];
        for (i, pair) in subkeys.chunks_exact_mut(2).enumerate() {
            let i = i as u32;
            let a = h(2 * i * RHO, &me);
            let b = h((2 * i + 1) * RHO, &mo).rotate_left(8);
            pair[0] = a.wrapping_add(b);
            pair[1] = a.wrapping_add(b.wrapping_mul(2)).rotate_left(9);
        }

        let mut tables = Box::new([[0u32; 256]; 4]);
        for (j, t) in tables.iter_mut().enumerate() {
            for (x, e) in t.iter_mut().enumerate() {
                *e = mds_column(j, sbox(j, x as u8, &s));
            }
        }
        Twofish { subkeys, tables }
    }

    #[inline(always)]
    fn g(&self, x: u32) -> u32 {
        let [b0, b1, b2, b3] = x.to_le_bytes();
        let t = &*self.tables;
        t[0][usize::from(b0)]
            ^ t[1][usize::from(b1)]
            ^ t[2][usize::from(b2)]
            ^ t[3][usize::from(b3)]
    }
}

impl BlockEncrypt for Twofish {
    #[inline(always)]
    fn block_len(&self) -> usize {
        BLOCK_LEN
    }

    #[inline(always)]
    fn encrypt_block(&self, block: &mut [u8]) {
        let block: &mut [u8; BLOCK_LEN] = block.try_into().expect("16-byte Twofish block");
        let k = &self.subkeys;
        let word = |i: usize| {
            u32::from_le_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]) ^ k[i]
        };
        let (mut r0, mut r1, mut r2, mut r3) = (word(0), word(1), word(2), word(3));
        // Two rounds per step, so the halves swap back without moving data.
        for rk in k[8..8 + 2 * ROUNDS].chunks_exact(4) {
            let t0 = self.g(r0);
            let t1 = self.g(r1.rotate_left(8));
            r2 = (r2 ^ t0.wrapping_add(t1).wrapping_add(rk[0])).rotate_right(1);
            r3 = r3.rotate_left(1) ^ t0.wrapping_add(t1.wrapping_mul(2)).wrapping_add(rk[1]);
            let t0 = self.g(r2);
            let t1 = self.g(r3.rotate_left(8));
            r0 = (r0 ^ t0.wrapping_add(t1).wrapping_add(rk[2])).rotate_right(1);
            r1 = r1.rotate_left(1) ^ t0.wrapping_add(t1.wrapping_mul(2)).wrapping_add(rk[3]);
        }
        // Undo the last swap: output is (R2, R3, R0, R1) whitened with K4..K7.
        for (i, w) in [r2 ^ k[4], r3 ^ k[5], r0 ^ k[6], r1 ^ k[7]]
            .iter()
            .enumerate()
        {
            block[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::vectors::ecb_hex;
    use ::twofish as reference;
    use cipher::{BlockCipherEncrypt, KeyInit};
    use rand::{Rng, SeedableRng};

    fn encrypt(key: &[u8], plain: &[u8]) -> String {
        let mut b = plain.to_vec();
        Twofish::new(key).encrypt_block(&mut b);
        hex::encode(b)
    }

    #[test]
    fn q_permutations_match_the_paper() {
        // First entries of q0 and q1 as tabulated in the paper's reference code.
        assert_eq!(&Q0[..4], &[0xA9, 0x67, 0xB3, 0xE8]);
        assert_eq!(&Q1[..4], &[0x75, 0xF3, 0xC6, 0xF4]);
    }

    /// The paper's known-answer test for a 256-bit key (all-zero key and plaintext).
    #[test]
    fn paper_known_answer_256() {
        assert_eq!(
            encrypt(&[0u8; 32], &[0u8; 16]),
            "57ff739d4dc92c1bd7fc01700cc8216f"
        );
    }

    /// The paper's 256-bit test with a non-trivial key (ecb_ival.txt, KEYSIZE=256).
    #[test]
    fn paper_intermediate_value_256() {
        let key = hex::decode("0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff")
            .unwrap();
        assert_eq!(
            encrypt(&key, &[0u8; 16]),
            "37527be0052334b89f0cfccae87cfa20"
        );
    }

    /// libmcrypt 2.5.8's single-block ECB vector (research notes, section 3.4).
    #[test]
    fn ecb_matches_libmcrypt() {
        assert_eq!(
            ecb_hex(KEY_LEN, BLOCK_LEN, Twofish::new),
            "8ef0272c42db838bcf7b07af0ec30f38"
        );
    }

    /// Same output as the `twofish` crate on random keys and blocks.
    #[test]
    fn matches_twofish_crate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x7f15_0009);
        for _ in 0..300 {
            let key: [u8; KEY_LEN] = rng.random();
            let ours = Twofish::new(&key);
            let theirs = reference::Twofish::new_from_slice(&key).unwrap();
            for _ in 0..4 {
                let plain: [u8; BLOCK_LEN] = rng.random();
                let mut a = plain;
                ours.encrypt_block(&mut a);
                let mut b = plain.into();
                theirs.encrypt_block(&mut b);
                assert_eq!(a[..], b[..], "key {}", hex::encode(key));
            }
        }
    }
}
