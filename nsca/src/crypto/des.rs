//! DES and 3DES-EDE (methods 2 and 3), written for speed in CFB-8, where every byte costs one
//! full block encryption and each block depends on the previous one (so latency, not
//! throughput, is what counts).
//!
//! Owns: the DES tables (FIPS 46-3), the key schedule, the encrypt direction of DES and EDE3
//! ([`Des`], [`TripleDes`]) and a DES-specific CFB-8 stream ([`DesCfb8`]). Block decryption is
//! not needed by CFB-8 and is not provided.
//!
//! How a round stays short:
//! * The E expansion is never built: the six input bits of S-box `i` are bits of `R` rotated
//!   left by `4i + 5`, so the odd-numbered boxes read bytes of `rotr(R, 3)` and the even-numbered
//!   ones bytes of `rotl(R, 1)`. Each half is kept all the time in that "EO" form, one `u64`
//!   `rotr(h, 3) << 32 | rotl(h, 1)`, already XORed with the round key of the round that next
//!   reads it; the S-boxes merged with P are stored in EO form too, so a round is eight byte
//!   extractions, eight loads and an XOR tree, with no rotation or key XOR on the critical path.
//!   The eight S-box outputs occupy disjoint bits, so the tree mixes `|`, `+` and `^` (equal
//!   here) to keep the compiler from turning it back into a serial XOR chain.
//! * In EDE3 the FP of one stage and the IP of the next cancel, so only one IP and one FP run;
//!   when two adjacent keys are equal (every password of 8 bytes or less) EDE3 is exactly one
//!   DES, which [`TripleDes`] detects.
//! * In CFB-8 the register only shifts by a byte, and IP moves each input byte into one bit
//!   column, so IP of the next register is the previous IP shifted by one bit plus a table entry
//!   for the new byte; and only the first byte of FP is needed, gathered with a multiply.

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
#[cfg(test)]
const fn inverse_ip() -> [u8; 64] {
    let mut fp = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        fp[IP[i] as usize - 1] = (i + 1) as u8;
        i += 1;
    }
    fp
}

#[cfg(test)]
const FP: [u8; 64] = inverse_ip();

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

/// A 32-bit half in EO form: `rotr(h, 3)` in the high word (its bytes 3..0 hold the inputs of
/// S-boxes 1, 3, 5, 7), `rotl(h, 1)` in the low word (S-boxes 2, 4, 6, 8).
#[inline(always)]
const fn eo(h: u32) -> u64 {
    ((h.rotate_right(3) as u64) << 32) | h.rotate_left(1) as u64
}

/// The half back from its EO form.
#[inline(always)]
const fn from_eo(w: u64) -> u32 {
    ((w >> 32) as u32).rotate_left(3)
}

const fn eo_sp_tables() -> [[u64; 64]; 8] {
    let sp = sp_tables();
    let mut t = [[0u64; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut x = 0;
        while x < 64 {
            t[i][x] = eo(sp[i][x]);
            x += 1;
        }
        i += 1;
    }
    t
}

/// S-box `i` merged with P, output in EO form.
static EO_SP: [[u64; 64]; 8] = eo_sp_tables();

/// f(R, K) in EO form, from `w` = EO(R) ^ EO-form round key.
#[inline(always)]
fn f_eo(w: u64) -> u64 {
    let t = &EO_SP;
    let x = |shift: u32| (w >> shift) as usize & 0x3f;
    let p0 = t[0][x(56)] | t[2][x(48)];
    let p1 = t[4][x(40)] | t[6][x(32)];
    let p2 = t[1][x(24)] | t[3][x(16)];
    let p3 = t[5][x(8)] | t[7][x(0)];
    p0.wrapping_add(p1) ^ p2.wrapping_add(p3)
}

/// The 16 round keys of one DES key, in encryption order, each in EO layout: the 6-bit chunks
/// of S-boxes 1, 3, 5, 7 in bytes 7..4 and of S-boxes 2, 4, 6, 8 in bytes 3..0.
type Schedule = [u64; 16];

fn key_schedule(key: &[u8; 8]) -> Schedule {
    let k = u64::from_be_bytes(*key);
    let cd = permute(k, &PC1, 64);
    let mut c = (cd >> 28) as u32;
    let mut d = (cd & 0x0fff_ffff) as u32;
    let mut out = [0u64; 16];
    for (round, rk) in out.iter_mut().enumerate() {
        let s = SHIFTS[round];
        c = ((c << s) | (c >> (28 - s))) & 0x0fff_ffff;
        d = ((d << s) | (d >> (28 - s))) & 0x0fff_ffff;
        let k48 = permute((u64::from(c) << 28) | u64::from(d), &PC2, 56);
        // chunk i = the 6 bits for S-box i+1, chunk 0 most significant
        let chunk = |i: u32| (k48 >> (42 - 6 * i)) & 0x3f;
        let odd_boxes = (chunk(0) << 24) | (chunk(2) << 16) | (chunk(4) << 8) | chunk(6);
        let even_boxes = (chunk(1) << 24) | (chunk(3) << 16) | (chunk(5) << 8) | chunk(7);
        *rk = (odd_boxes << 32) | even_boxes;
    }
    out
}

/// DES (N = 16) or EDE3 (N = 48) rounds on two halves A (starts as L) and B (starts as R) in
/// keyed EO form.
///
/// Round `i` XORs f(input half) into the target half. A half's EO word always carries the key
/// of the next round that reads it: `init` for the first, and after round `i` reads a half it
/// is XORed with `delta[i]` = (key of round `i`) ^ (key of its next reading round, or 0).
#[derive(Clone)]
pub struct Rounds<const N: usize> {
    init: [u64; 2],
    delta: [u64; N],
}

impl<const N: usize> Rounds<N> {
    /// From the round keys of each stage (already reversed for a decrypting stage).
    fn new(stages: &[Schedule]) -> Rounds<N> {
        assert_eq!(stages.len() * 16, N, "16 rounds per stage");
        // input[i]: 0 = A, 1 = B. Stages alternate which half the first round writes, because
        // the halves swap at the end of each stage.
        let mut input = [0usize; N];
        let mut key = [0u64; N];
        for (s, ks) in stages.iter().enumerate() {
            for (i, k) in ks.iter().enumerate() {
                input[16 * s + i] = usize::from((s % 2 == 0) == (i % 2 == 0));
                key[16 * s + i] = *k;
            }
        }
        let next_key = |half: usize, from: usize| -> u64 {
            (from..N).find(|&j| input[j] == half).map_or(0, |j| key[j])
        };
        let mut delta = [0u64; N];
        for (i, d) in delta.iter_mut().enumerate() {
            *d = key[i] ^ next_key(input[i], i + 1);
        }
        Rounds {
            init: [next_key(0, 0), next_key(1, 0)],
            delta,
        }
    }

    /// 16 rounds where `x` is written by the even rounds and `y` by the odd ones.
    #[inline(always)]
    fn stage(x: &mut u64, y: &mut u64, delta: &[u64]) {
        for d in delta.chunks_exact(2) {
            *x ^= f_eo(*y);
            *y ^= d[0];
            *y ^= f_eo(*x);
            *x ^= d[1];
        }
    }

    /// All rounds on EO(L), EO(R) after IP; returns the unkeyed EO forms of (A, B). The
    /// pre-output block for FP is (B, A).
    #[inline(always)]
    fn run(&self, l: u64, r: u64) -> (u64, u64) {
        let mut a = l ^ self.init[0];
        let mut b = r ^ self.init[1];
        Self::stage(&mut a, &mut b, &self.delta[..16]);
        if N == 48 {
            Self::stage(&mut b, &mut a, &self.delta[16..32]);
            Self::stage(&mut a, &mut b, &self.delta[32..48]);
        }
        (a, b)
    }

    /// Encrypt one block given as a big-endian `u64`.
    #[inline(always)]
    pub fn encrypt_u64(&self, block: u64) -> u64 {
        let (l, r) = ip(block);
        let (a, b) = self.run(eo(l), eo(r));
        fp(from_eo(b), from_eo(a))
    }
}

/// Exchange the bits of `b` selected by `mask` with the bits of `a` that are `shift` places
/// higher. Applying it twice restores the input.
#[inline(always)]
fn swap_bits(a: &mut u32, b: &mut u32, shift: u32, mask: u32) {
    let t = ((*a >> shift) ^ *b) & mask;
    *b ^= t;
    *a ^= t << shift;
}

/// IP as five bit-block exchanges (a transpose of the 8x8 bit matrix with reordering);
/// the test `ip_and_fp_match_the_tables` checks it against the table.
#[inline(always)]
fn ip(block: u64) -> (u32, u32) {
    let mut l = (block >> 32) as u32;
    let mut r = block as u32;
    swap_bits(&mut l, &mut r, 4, 0x0f0f_0f0f);
    swap_bits(&mut l, &mut r, 16, 0x0000_ffff);
    swap_bits(&mut r, &mut l, 2, 0x3333_3333);
    swap_bits(&mut r, &mut l, 8, 0x00ff_00ff);
    swap_bits(&mut l, &mut r, 1, 0x5555_5555);
    (l, r)
}

/// FP = IP⁻¹: the same exchanges in reverse order.
#[inline(always)]
fn fp(mut l: u32, mut r: u32) -> u64 {
    swap_bits(&mut l, &mut r, 1, 0x5555_5555);
    swap_bits(&mut r, &mut l, 8, 0x00ff_00ff);
    swap_bits(&mut r, &mut l, 2, 0x3333_3333);
    swap_bits(&mut l, &mut r, 16, 0x0000_ffff);
    swap_bits(&mut l, &mut r, 4, 0x0f0f_0f0f);
    (u64::from(l) << 32) | u64::from(r)
}

/// Single DES, encrypt direction.
#[derive(Clone)]
pub struct Des(Rounds<16>);

impl Des {
    /// DES with an 8-byte key (parity bits ignored).
    pub fn new(key: &[u8; 8]) -> Des {
        Des(Rounds::new(&[key_schedule(key)]))
    }

    /// Encrypt one block given as a big-endian `u64`.
    pub fn encrypt_u64(&self, block: u64) -> u64 {
        self.0.encrypt_u64(block)
    }
}

/// 3DES-EDE with three keys: `E_K3(D_K2(E_K1(x)))`.
#[derive(Clone)]
pub enum TripleDes {
    /// Three stages.
    Ede3(Box<Rounds<48>>),
    /// K1 = K2 or K2 = K3 (same round keys): two stages cancel and one DES is left.
    Single(Rounds<16>),
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
            TripleDes::Single(Rounds::new(&[k3]))
        } else if k2 == k3 {
            // E_K3(D_K3(y)) = y
            TripleDes::Single(Rounds::new(&[k1]))
        } else {
            let mut k2 = k2;
            k2.reverse();
            TripleDes::Ede3(Box::new(Rounds::new(&[k1, k2, k3])))
        }
    }

    /// Encrypt one block given as a big-endian `u64`.
    pub fn encrypt_u64(&self, block: u64) -> u64 {
        match self {
            TripleDes::Single(r) => r.encrypt_u64(block),
            TripleDes::Ede3(r) => r.encrypt_u64(block),
        }
    }

    /// The CFB-8 stream of this key, starting from the register `iv`.
    pub fn cfb8(self, iv: &[u8; 8]) -> Box<dyn super::cfb8::Cfb8Stream> {
        match self {
            TripleDes::Single(r) => Box::new(DesCfb8::new(r, iv)),
            TripleDes::Ede3(r) => Box::new(DesCfb8::new(*r, iv)),
        }
    }
}

fn load(block: &[u8]) -> u64 {
    u64::from_be_bytes(block.try_into().expect("8-byte block"))
}

impl BlockEncrypt for Des {
    fn block_len(&self) -> usize {
        8
    }

    fn encrypt_block(&self, block: &mut [u8]) {
        let out = self.encrypt_u64(load(block));
        block.copy_from_slice(&out.to_be_bytes());
    }
}

impl BlockEncrypt for TripleDes {
    fn block_len(&self) -> usize {
        8
    }

    fn encrypt_block(&self, block: &mut [u8]) {
        let out = self.encrypt_u64(load(block));
        block.copy_from_slice(&out.to_be_bytes());
    }
}

/// IP of a block whose only non-zero byte is the last one: where a byte entering the CFB-8
/// register lands (the most significant bit of each byte of the IP output).
const fn ip_of_last_byte() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = permute(c as u64, &IP, 64);
        c += 1;
    }
    t
}

static IP_LAST_BYTE: [u64; 256] = ip_of_last_byte();

/// [`IP_LAST_BYTE`] with each half in EO form: `[EO(L), EO(R)]`.
const fn eo_ip_of_last_byte() -> [[u64; 2]; 256] {
    let ip = ip_of_last_byte();
    let mut t = [[0u64; 2]; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = [eo((ip[c] >> 32) as u32), eo(ip[c] as u32)];
        c += 1;
    }
    t
}

static EO_IP_LAST_BYTE: [[u64; 2]; 256] = eo_ip_of_last_byte();

/// The first byte of `FP(B ‖ A)` from the low (rotl 1) words of A and B in EO form.
///
/// FP's first output byte collects bit 0 of every byte of its input, in the order
/// A3 B3 A2 B2 A1 B1 A0 B0 (byte 3 = most significant byte of a half): pair them up in each
/// byte, then one multiply moves the four pairs next to each other.
#[inline(always)]
fn first_fp_byte(a_low: u32, b_low: u32) -> u8 {
    let pairs = (a_low & 0x0202_0202) | ((b_low & 0x0202_0202) >> 1);
    ((u64::from(pairs) * 0x0004_1041) >> 18) as u8
}

/// libmcrypt CFB-8 over DES or EDE3, with the register kept in IP form between bytes.
pub struct DesCfb8<const N: usize> {
    rounds: Rounds<N>,
    /// IP of the register.
    ip: u64,
    /// The same, each half in EO form.
    eo: [u64; 2],
}

impl<const N: usize> DesCfb8<N> {
    fn new(rounds: Rounds<N>, iv: &[u8; 8]) -> DesCfb8<N> {
        let (l, r) = ip(u64::from_be_bytes(*iv));
        DesCfb8 {
            rounds,
            ip: (u64::from(l) << 32) | u64::from(r),
            eo: [eo(l), eo(r)],
        }
    }

    #[inline(always)]
    fn keystream_byte(&self) -> u8 {
        let (a, b) = self.rounds.run(self.eo[0], self.eo[1]);
        first_fp_byte(a as u32, b as u32)
    }

    /// Shift the register by one byte and append `c`: in IP form every byte moves one bit
    /// column, and `c` fills the freed top bits. The part without `c` is ready early.
    #[inline(always)]
    fn feed(&mut self, c: u8) {
        let kept = (self.ip >> 1) & 0x7f7f_7f7f_7f7f_7f7f;
        let new = &EO_IP_LAST_BYTE[usize::from(c)];
        self.eo = [eo((kept >> 32) as u32) | new[0], eo(kept as u32) | new[1]];
        self.ip = kept | IP_LAST_BYTE[usize::from(c)];
    }
}

impl<const N: usize> super::cfb8::Cfb8Stream for DesCfb8<N> {
    fn encrypt(&mut self, buf: &mut [u8]) {
        for b in buf {
            let c = *b ^ self.keystream_byte();
            *b = c;
            self.feed(c);
        }
    }

    fn decrypt(&mut self, buf: &mut [u8]) {
        for b in buf {
            let c = *b;
            *b = c ^ self.keystream_byte();
            self.feed(c);
        }
    }
}

/// The CFB-8 stream of single DES.
pub fn des_cfb8(key: &[u8; 8], iv: &[u8; 8]) -> Box<dyn super::cfb8::Cfb8Stream> {
    Box::new(DesCfb8::new(Des::new(key).0, iv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::cfb8::Cfb8;
    use cipher::{BlockCipherEncrypt, KeyInit};
    use rand::{Rng, SeedableRng};

    fn ecb(c: &dyn BlockEncrypt, input: &[u8]) -> String {
        let mut b = input.to_vec();
        c.encrypt_block(&mut b);
        hex::encode(b)
    }

    #[test]
    fn ip_and_fp_match_the_tables() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let singles = (0..64).map(|i| 1u64 << i);
        let randoms = (0..1000).map(|_| rng.random::<u64>());
        for x in singles.chain(randoms) {
            let (l, r) = ip(x);
            assert_eq!((u64::from(l) << 32) | u64::from(r), permute(x, &IP, 64));
            assert_eq!(fp(l, r), x);
            assert_eq!(fp((x >> 32) as u32, x as u32), permute(x, &FP, 64));
            // the CFB-8 shortcuts
            let (h, lo) = ((x >> 32) as u32, x as u32);
            let fp_first = (fp(h, lo) >> 56) as u8;
            assert_eq!(first_fp_byte(eo(lo) as u32, eo(h) as u32), fp_first);
            let c = x as u8;
            let next = (x << 8) | u64::from(c);
            let kept = (permute(x, &IP, 64) >> 1) & 0x7f7f_7f7f_7f7f_7f7f;
            assert_eq!(kept | IP_LAST_BYTE[usize::from(c)], permute(next, &IP, 64));
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
        assert!(matches!(tdes, TripleDes::Ede3(_)));
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

    /// The IP-form stream equals generic CFB-8 over the block function.
    #[test]
    fn fast_cfb8_equals_generic_cfb8() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let key: [u8; 24] = rng.random();
            let iv: [u8; 8] = rng.random();
            let data: Vec<u8> = (0..300).map(|_| rng.random()).collect();
            let mut want = data.clone();
            Cfb8::new(TripleDes::new(&key), &iv).encrypt(&mut want);
            let mut got = data.clone();
            let mut s = TripleDes::new(&key).cfb8(&iv);
            let (x, y) = got.split_at_mut(123);
            s.encrypt(x);
            s.encrypt(y);
            assert_eq!(got, want);
            let mut s = TripleDes::new(&key).cfb8(&iv);
            s.decrypt(&mut got);
            assert_eq!(got, data);

            let k8: [u8; 8] = key[..8].try_into().unwrap();
            let mut want = data.clone();
            Cfb8::new(Des::new(&k8), &iv).encrypt(&mut want);
            let mut got = data.clone();
            des_cfb8(&k8, &iv).encrypt(&mut got);
            assert_eq!(got, want);
        }
    }
}
