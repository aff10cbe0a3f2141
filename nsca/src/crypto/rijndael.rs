//! Rijndael with 24- and 32-byte blocks (methods 15 and 16), as in the original Rijndael
//! specification that libmcrypt implements; AES is only the 16-byte-block member.
//!
//! Owns: the S-box and round tables (computed at compile time), the key expansion for a
//! 32-byte key (Nk = 8, Nr = 14) and block encryption for Nb = 4, 6 or 8 columns. Method 14
//! uses the `aes` crate instead (hardware AES where the CPU has it); Nb = 4 here exists so
//! the tests can check this code against it.

use super::block::BlockEncrypt;

/// Rounds for a 32-byte key with any of the block sizes: max(Nb, Nk) + 6.
const ROUNDS: usize = 14;

/// Key words (Nk).
const KEY_WORDS: usize = 8;

/// Multiply by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
const fn xtime(a: u8) -> u8 {
    (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 }
}

const fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = xtime(a);
        b >>= 1;
    }
    p
}

/// The S-box: multiplicative inverse (a^254), then the affine map.
const fn sbox() -> [u8; 256] {
    let mut s = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        let a = x as u8;
        // a^254 by square-and-multiply (0 maps to 0)
        let mut inv = 1u8;
        let mut base = a;
        let mut e = 254u32;
        while e != 0 {
            if e & 1 != 0 {
                inv = gf_mul(inv, base);
            }
            base = gf_mul(base, base);
            e >>= 1;
        }
        if a == 0 {
            inv = 0;
        }
        s[x] = inv
            ^ inv.rotate_left(1)
            ^ inv.rotate_left(2)
            ^ inv.rotate_left(3)
            ^ inv.rotate_left(4)
            ^ 0x63;
        x += 1;
    }
    s
}

static SBOX: [u8; 256] = sbox();

/// SubBytes and MixColumns for a byte in row 0, as a big-endian column word (2s, s, s, 3s);
/// rows 1..3 use it rotated right by 8, 16, 24 bits.
const fn round_table() -> [u32; 256] {
    let s = sbox();
    let mut t = [0u32; 256];
    let mut x = 0;
    while x < 256 {
        let v = s[x];
        t[x] = u32::from_be_bytes([xtime(v), v, v, xtime(v) ^ v]);
        x += 1;
    }
    t
}

const fn rotated(t: &[u32; 256], bits: u32) -> [u32; 256] {
    let mut r = [0u32; 256];
    let mut x = 0;
    while x < 256 {
        r[x] = t[x].rotate_right(bits);
        x += 1;
    }
    r
}

static T0: [u32; 256] = round_table();
static T1: [u32; 256] = rotated(&round_table(), 8);
static T2: [u32; 256] = rotated(&round_table(), 16);
static T3: [u32; 256] = rotated(&round_table(), 24);

fn sub_word(w: u32) -> u32 {
    let b = w.to_be_bytes();
    u32::from_be_bytes(b.map(|x| SBOX[usize::from(x)]))
}

/// Rijndael with an `NB`-column block (NB = 4, 6 or 8) and a 32-byte key.
#[derive(Clone)]
pub struct Rijndael<const NB: usize> {
    round_keys: [[u32; NB]; ROUNDS + 1],
}

impl<const NB: usize> Rijndael<NB> {
    /// ShiftRows: row r of output column c comes from input column c + offset[r].
    const OFFSETS: [usize; 4] = if NB == 8 { [0, 1, 3, 4] } else { [0, 1, 2, 3] };

    /// Expand a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Rijndael<NB> {
        assert!(matches!(NB, 4 | 6 | 8), "Rijndael block of {NB} columns");
        let total = NB * (ROUNDS + 1);
        let mut w = vec![0u32; total];
        for (i, chunk) in key.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes(chunk.try_into().expect("4 bytes"));
        }
        let mut rcon = 1u8;
        for i in KEY_WORDS..total {
            let mut t = w[i - 1];
            if i % KEY_WORDS == 0 {
                t = sub_word(t.rotate_left(8)) ^ (u32::from(rcon) << 24);
                rcon = xtime(rcon);
            } else if i % KEY_WORDS == 4 {
                t = sub_word(t);
            }
            w[i] = w[i - KEY_WORDS] ^ t;
        }
        let mut round_keys = [[0u32; NB]; ROUNDS + 1];
        for (r, rk) in round_keys.iter_mut().enumerate() {
            rk.copy_from_slice(&w[r * NB..(r + 1) * NB]);
        }
        Rijndael { round_keys }
    }

    /// Encrypt one block of `4 * NB` bytes in place.
    pub fn encrypt(&self, block: &mut [u8]) {
        let [_, o1, o2, o3] = Self::OFFSETS;
        let mut s = [0u32; NB];
        for (c, (word, bytes)) in s.iter_mut().zip(block.chunks_exact(4)).enumerate() {
            *word = u32::from_be_bytes(bytes.try_into().expect("4 bytes")) ^ self.round_keys[0][c];
        }
        let byte = |w: u32, row: usize| (w >> (24 - 8 * row)) as u8 as usize;
        for rk in &self.round_keys[1..ROUNDS] {
            let mut t = [0u32; NB];
            for (c, out) in t.iter_mut().enumerate() {
                *out = T0[byte(s[c], 0)]
                    ^ T1[byte(s[(c + o1) % NB], 1)]
                    ^ T2[byte(s[(c + o2) % NB], 2)]
                    ^ T3[byte(s[(c + o3) % NB], 3)]
                    ^ rk[c];
            }
            s = t;
        }
        let last = &self.round_keys[ROUNDS];
        for (c, bytes) in block.chunks_exact_mut(4).enumerate() {
            let w = u32::from_be_bytes([
                SBOX[byte(s[c], 0)],
                SBOX[byte(s[(c + o1) % NB], 1)],
                SBOX[byte(s[(c + o2) % NB], 2)],
                SBOX[byte(s[(c + o3) % NB], 3)],
            ]) ^ last[c];
            bytes.copy_from_slice(&w.to_be_bytes());
        }
    }
}

impl<const NB: usize> BlockEncrypt for Rijndael<NB> {
    #[inline(always)]
    fn block_len(&self) -> usize {
        4 * NB
    }

    #[inline(always)]
    fn encrypt_block(&self, block: &mut [u8]) {
        self.encrypt(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipher::{BlockCipherEncrypt, KeyInit};
    use rand::{Rng, SeedableRng};

    fn ecb<const NB: usize>() -> String {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let mut b: Vec<u8> = (0..(4 * NB) as u8).collect();
        Rijndael::<NB>::new(&key).encrypt(&mut b);
        hex::encode(b)
    }

    /// Single-block ECB vectors from libmcrypt 2.5.8 (research notes, section 3.4).
    #[test]
    fn libmcrypt_ecb_vectors() {
        assert_eq!(ecb::<4>(), "5a6e045708fb7196f02e553d02c3a692");
        assert_eq!(
            ecb::<6>(),
            "b5e5bb698a33a80e4daed256760f1a5f08cc6f181e67b5bc"
        );
        assert_eq!(
            ecb::<8>(),
            "623d2bd4ca3796dc3d02ecf2f37fb637fd3da58509cebb67ab9265b04db51e7d"
        );
    }

    #[test]
    fn sbox_spot_checks() {
        assert_eq!(SBOX[0x00], 0x63);
        assert_eq!(SBOX[0x01], 0x7c);
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(SBOX[0xff], 0x16);
    }

    #[test]
    fn four_columns_is_aes256() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        for _ in 0..200 {
            let key: [u8; 32] = rng.random();
            let mut block: [u8; 16] = rng.random();
            let aes = aes::Aes256::new_from_slice(&key).unwrap();
            let mut want = block.into();
            aes.encrypt_block(&mut want);
            Rijndael::<4>::new(&key).encrypt(&mut block);
            assert_eq!(block, want.as_slice());
        }
    }
}
