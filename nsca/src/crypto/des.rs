//! DES and 3DES-EDE (methods 2 and 3), written for speed in CFB-8 where every byte costs one
//! full block encryption.
//!
//! Owns: the DES tables (FIPS 46-3), the key schedule, and the encrypt direction of DES and
//! EDE3. Decryption of single blocks is not needed by CFB-8 and is not provided.
//!
//! Speed comes from work done once per key or at compile time:
//! * the eight S-boxes are merged with the P permutation into eight 64-entry `u32` tables, so a
//!   round is two rotations, two key XORs and eight lookups;
//! * the E expansion is never built: the six input bits of S-box `i` are bits of `R` rotated
//!   left by `4i + 5`, so even boxes read bytes of `R.rotate_right(3)` and odd boxes bytes of
//!   `R.rotate_left(1)`; round keys are stored in that same byte layout;
//! * IP and FP are linear bit permutations, applied as eight byte-indexed table lookups;
//! * in EDE3 the FP of one stage and the IP of the next cancel, so only one IP and one FP run,
//!   and when two adjacent keys are equal (every password of 8 bytes or less) EDE3 is exactly
//!   one DES, which [`TripleDes`] detects and uses.

use super::block::BlockEncrypt;

/// Initial permutation: output bit i (1 = most significant) is input bit `IP[i - 1]`.
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61,
    53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];

/// Permuted choice 1: 56 key bits out of 64 (the parity bits are dropped).
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];

/// Permuted choice 2: 48 round-key bits out of C‖D (56 bits).
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

/// Left rotations of C and D before each round.
const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// The permutation P applied to the S-box outputs.
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];

/// S-boxes S1..S8, each 4 rows of 16.
#[rustfmt::skip]
const S: [[u8; 64]; 8] = [
    [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
     0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
     15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
    [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
     3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
     13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
    [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
     13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
     1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
    [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
     13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
     3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
    [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
     14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
     11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
    [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
     10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
     4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
    [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
     13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
     6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
    [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
     1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
     2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

/// Apply a bit permutation table (1-based, most significant bit first) to the low `in_bits`
/// bits of `x`.
const fn permute(x: u64, table: &[u8], in_bits: u32) -> u64 {
    let out_bits = table.len();
    let mut out = 0u64;
    let mut i = 0;
    while i < out_bits {
        let bit = (x >> (in_bits - table[i] as u32)) & 1;
        out |= bit << (out_bits - 1 - i);
        i += 1;
    }
    out
}

/// The inverse of [`IP`] (FP).
const fn inverse_ip() -> [u8; 64] {
    let mut fp = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        fp[IP[i] as usize - 1] = (i + 1) as u8;
        i += 1;
    }
    fp
}

const FP: [u8; 64] = inverse_ip();

/// A 64-bit permutation as eight tables, one per input byte (byte 0 = most significant).
const fn byte_tables(table: &[u8; 64]) -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut byte = 0;
    while byte < 8 {
        let mut v = 0;
        while v < 256 {
            t[byte][v] = permute((v as u64) << (56 - 8 * byte), table, 64);
            v += 1;
        }
        byte += 1;
    }
    t
}

static IP_TABLES: [[u64; 256]; 8] = byte_tables(&IP);
static FP_TABLES: [[u64; 256]; 8] = byte_tables(&FP);

/// S-box `i` followed by P, indexed by the six input bits (most significant first, as in E).
const fn sp_tables() -> [[u32; 64]; 8] {
    let mut t = [[0u32; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut x = 0;
        while x < 64 {
            let row = ((x >> 4) & 2) | (x & 1);
            let col = (x >> 1) & 0xf;
            let s = S[i][row * 16 + col] as u64;
            t[i][x] = permute(s << (28 - 4 * i), &P, 32) as u32;
            x += 1;
        }
        i += 1;
    }
    t
}

static SP: [[u32; 64]; 8] = sp_tables();

#[inline(always)]
fn permute64(x: u64, t: &[[u64; 256]; 8]) -> u64 {
    let b = x.to_be_bytes();
    t[0][b[0] as usize]
        ^ t[1][b[1] as usize]
        ^ t[2][b[2] as usize]
        ^ t[3][b[3] as usize]
        ^ t[4][b[4] as usize]
        ^ t[5][b[5] as usize]
        ^ t[6][b[6] as usize]
        ^ t[7][b[7] as usize]
}

/// One round key in the layout of [`f`]: `[even, odd]`, where `even` holds the 6-bit key
/// chunks of S-boxes 1, 3, 5, 7 in bytes 3..0 and `odd` those of S-boxes 2, 4, 6, 8.
type RoundKey = [u32; 2];

/// The 16 round keys of one DES key, in encryption order.
type Schedule = [RoundKey; 16];

fn key_schedule(key: &[u8; 8]) -> Schedule {
    let k = u64::from_be_bytes(*key);
    let cd = permute(k, &PC1, 64);
    let mut c = (cd >> 28) as u32;
    let mut d = (cd & 0x0fff_ffff) as u32;
    let mut out = [[0u32; 2]; 16];
    for (round, rk) in out.iter_mut().enumerate() {
        let s = SHIFTS[round];
        c = ((c << s) | (c >> (28 - s))) & 0x0fff_ffff;
        d = ((d << s) | (d >> (28 - s))) & 0x0fff_ffff;
        let k48 = permute((u64::from(c) << 28) | u64::from(d), &PC2, 56);
        // chunk i = the 6 bits for S-box i+1, chunk 0 most significant
        let chunk = |i: u32| ((k48 >> (42 - 6 * i)) & 0x3f) as u32;
        rk[0] = (chunk(0) << 24) | (chunk(2) << 16) | (chunk(4) << 8) | chunk(6);
        rk[1] = (chunk(1) << 24) | (chunk(3) << 16) | (chunk(5) << 8) | chunk(7);
    }
    out
}

/// The round function f(R, K).
#[inline(always)]
fn f(r: u32, k: &RoundKey) -> u32 {
    let even = r.rotate_right(3) ^ k[0];
    let odd = r.rotate_left(1) ^ k[1];
    SP[0][(even >> 24) as usize & 0x3f]
        ^ SP[2][(even >> 16) as usize & 0x3f]
        ^ SP[4][(even >> 8) as usize & 0x3f]
        ^ SP[6][even as usize & 0x3f]
        ^ SP[1][(odd >> 24) as usize & 0x3f]
        ^ SP[3][(odd >> 16) as usize & 0x3f]
        ^ SP[5][(odd >> 8) as usize & 0x3f]
        ^ SP[7][odd as usize & 0x3f]
}

/// 16 rounds on (L, R) after IP; returns the pre-output (R16, L16), ready for FP or for the
/// next stage of EDE3.
#[inline(always)]
fn rounds(mut l: u32, mut r: u32, keys: &Schedule) -> (u32, u32) {
    for pair in keys.chunks_exact(2) {
        l ^= f(r, &pair[0]);
        r ^= f(l, &pair[1]);
    }
    (r, l)
}

#[inline(always)]
fn ip(block: u64) -> (u32, u32) {
    let x = permute64(block, &IP_TABLES);
    ((x >> 32) as u32, x as u32)
}

#[inline(always)]
fn fp(l: u32, r: u32) -> u64 {
    permute64((u64::from(l) << 32) | u64::from(r), &FP_TABLES)
}

fn reversed(s: &Schedule) -> Schedule {
    let mut r = *s;
    r.reverse();
    r
}

/// Single DES, encrypt direction.
#[derive(Clone)]
pub struct Des {
    keys: Schedule,
}

impl Des {
    /// DES with an 8-byte key (parity bits ignored).
    pub fn new(key: &[u8; 8]) -> Des {
        Des {
            keys: key_schedule(key),
        }
    }

    /// Encrypt one block given as a big-endian `u64`.
    #[inline(always)]
    pub fn encrypt_u64(&self, block: u64) -> u64 {
        let (l, r) = ip(block);
        let (l, r) = rounds(l, r, &self.keys);
        fp(l, r)
    }
}

/// 3DES-EDE with three keys: `E_K3(D_K2(E_K1(x)))`.
#[derive(Clone)]
pub enum TripleDes {
    /// Three stages.
    Ede3 {
        /// K1 forward, K2 reversed (decryption), K3 forward.
        keys: [Schedule; 3],
    },
    /// K1 = K2 or K2 = K3: two stages cancel and one DES is left.
    Single(Des),
}

impl TripleDes {
    /// EDE3 with a 24-byte key K1‖K2‖K3.
    pub fn new(key: &[u8; 24]) -> TripleDes {
        let k = |i: usize| -> Schedule {
            let mut b = [0u8; 8];
            b.copy_from_slice(&key[8 * i..8 * i + 8]);
            key_schedule(&b)
        };
        let (k1, k2, k3) = (k(0), k(1), k(2));
        if k1 == k2 {
            // D_K1(E_K1(x)) = x
            TripleDes::Single(Des { keys: k3 })
        } else if k2 == k3 {
            // E_K3(D_K3(y)) = y
            TripleDes::Single(Des { keys: k1 })
        } else {
            TripleDes::Ede3 {
                keys: [k1, reversed(&k2), k3],
            }
        }
    }

    /// Encrypt one block given as a big-endian `u64`.
    #[inline(always)]
    pub fn encrypt_u64(&self, block: u64) -> u64 {
        match self {
            TripleDes::Single(des) => des.encrypt_u64(block),
            TripleDes::Ede3 { keys } => {
                let (l, r) = ip(block);
                let (l, r) = rounds(l, r, &keys[0]);
                let (l, r) = rounds(l, r, &keys[1]);
                let (l, r) = rounds(l, r, &keys[2]);
                fp(l, r)
            }
        }
    }
}

fn load(block: &[u8]) -> u64 {
    u64::from_be_bytes(block.try_into().expect("8-byte block"))
}

impl BlockEncrypt for Des {
    #[inline(always)]
    fn block_len(&self) -> usize {
        8
    }

    #[inline(always)]
    fn encrypt_block(&self, block: &mut [u8]) {
        let out = self.encrypt_u64(load(block));
        block.copy_from_slice(&out.to_be_bytes());
    }
}

impl BlockEncrypt for TripleDes {
    #[inline(always)]
    fn block_len(&self) -> usize {
        8
    }

    #[inline(always)]
    fn encrypt_block(&self, block: &mut [u8]) {
        let out = self.encrypt_u64(load(block));
        block.copy_from_slice(&out.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipher::{BlockCipherEncrypt, KeyInit};
    use rand::{Rng, SeedableRng};

    fn ecb(c: &dyn BlockEncrypt, input: &[u8]) -> String {
        let mut b = input.to_vec();
        c.encrypt_block(&mut b);
        hex::encode(b)
    }

    #[test]
    fn fp_undoes_ip() {
        for x in [
            0u64,
            1,
            0x0123_4567_89ab_cdef,
            u64::MAX,
            0x8000_0000_0000_0000,
        ] {
            let (l, r) = ip(x);
            assert_eq!(fp(l, r), x);
            assert_eq!(permute64(x, &IP_TABLES), permute(x, &IP, 64), "{x:016x}");
        }
    }

    #[test]
    fn textbook_vector() {
        // FIPS 81 / the classic worked example
        let des = Des::new(&[0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]);
        assert_eq!(
            des.encrypt_u64(0x0123_4567_89ab_cdef),
            0x85e8_1354_0f0a_b405
        );
    }

    /// Single-block ECB vectors from libmcrypt 2.5.8 (research notes, section 3.4).
    #[test]
    fn libmcrypt_ecb_vectors() {
        let k: Vec<u8> = (0..24).collect();
        let des = Des::new(k[..8].try_into().unwrap());
        assert_eq!(ecb(&des, &k[..8]), "e1b246e5a7c74cbc");
        let tdes = TripleDes::new(k[..24].try_into().unwrap());
        assert!(matches!(tdes, TripleDes::Ede3 { .. }));
        assert_eq!(ecb(&tdes, &k[..8]), "58ed248f77f6b19e");
    }

    #[test]
    fn matches_des_crate_on_random_inputs() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x4e53_4341);
        for _ in 0..2000 {
            let key: [u8; 24] = rng.random();
            let mut block: [u8; 8] = rng.random();
            let ours = Des::new(key[..8].try_into().unwrap());
            let theirs = des::Des::new_from_slice(&key[..8]).unwrap();
            let mut b = block.into();
            theirs.encrypt_block(&mut b);
            assert_eq!(ecb(&ours, &block), hex::encode(b));

            let ours = TripleDes::new(&key);
            let theirs = des::TdesEde3::new_from_slice(&key).unwrap();
            let mut b = block.into();
            theirs.encrypt_block(&mut b);
            ours.encrypt_block(&mut block);
            assert_eq!(block, b.as_slice());
        }
    }

    #[test]
    fn ede3_with_equal_adjacent_keys_is_single_des() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for case in 0..3 {
            let mut key: [u8; 24] = rng.random();
            match case {
                0 => key.copy_within(0..8, 8),   // K1 = K2
                1 => key.copy_within(8..16, 16), // K2 = K3
                _ => key[8..24].fill(0),         // short password: K2 = K3 = 0
            }
            let ours = TripleDes::new(&key);
            assert!(matches!(ours, TripleDes::Single(_)));
            let theirs = des::TdesEde3::new_from_slice(&key).unwrap();
            for _ in 0..100 {
                let mut block: [u8; 8] = rng.random();
                let mut b = block.into();
                theirs.encrypt_block(&mut b);
                ours.encrypt_block(&mut block);
                assert_eq!(block, b.as_slice());
            }
        }
    }
}
