//! libmcrypt's "cfb" mode: 8-bit CFB over any [`BlockEncrypt`], with a shift register that
//! lives as long as the connection.
//!
//! Owns: the shift register and the per-byte feedback rule. It does not know how keys are
//! derived or which cipher runs underneath; [`super::Cipher`] wires those in.
//!
//! Per byte: `c = p ^ E(register)[0]`, then the register shifts left by one byte and the
//! *ciphertext* byte enters on the right. Decryption feeds back the same ciphertext byte, so
//! both directions only ever use the encrypt function of the block cipher.

use super::block::BlockEncrypt;

/// Largest block length any method uses (Rijndael-256).
pub const MAX_BLOCK_LEN: usize = 32;

/// CFB-8 state over one block cipher. Generic, so the per-byte loop is compiled for each
/// cipher with the block encryption inlined.
pub struct Cfb8<C> {
    cipher: C,
    register: [u8; MAX_BLOCK_LEN],
}

impl<C: BlockEncrypt> Cfb8<C> {
    /// Start with the first `block_len` bytes of `iv` in the register.
    ///
    /// # Panics
    /// If `iv` is shorter than the block or the block is longer than [`MAX_BLOCK_LEN`]; the
    /// caller checks both.
    pub fn new(cipher: C, iv: &[u8]) -> Cfb8<C> {
        let n = cipher.block_len();
        assert!(n > 0 && n <= MAX_BLOCK_LEN, "unsupported block length {n}");
        let mut register = [0u8; MAX_BLOCK_LEN];
        register[..n].copy_from_slice(&iv[..n]);
        Cfb8 { cipher, register }
    }

    /// The first keystream byte for the current register.
    #[inline(always)]
    fn keystream_byte(&self) -> u8 {
        let n = self.cipher.block_len();
        let mut block = [0u8; MAX_BLOCK_LEN];
        block[..n].copy_from_slice(&self.register[..n]);
        self.cipher.encrypt_block(&mut block[..n]);
        block[0]
    }

    /// Shift the register left by one byte and append `c`.
    #[inline(always)]
    fn feed(&mut self, c: u8) {
        let n = self.cipher.block_len();
        self.register.copy_within(1..n, 0);
        self.register[n - 1] = c;
    }

    /// Encrypt `buf` in place, continuing from the state left by earlier calls.
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        for b in buf {
            let c = *b ^ self.keystream_byte();
            *b = c;
            self.feed(c);
        }
    }

    /// Decrypt `buf` in place, continuing from the state left by earlier calls.
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        for b in buf {
            let c = *b;
            *b = c ^ self.keystream_byte();
            self.feed(c);
        }
    }
}

/// A CFB-8 state with its cipher type erased: one virtual call per packet, not per byte.
pub trait Cfb8Stream: Send + Sync {
    /// Encrypt in place, continuing the stream.
    fn encrypt(&mut self, buf: &mut [u8]);
    /// Decrypt in place, continuing the stream.
    fn decrypt(&mut self, buf: &mut [u8]);
}

impl<C: BlockEncrypt> Cfb8Stream for Cfb8<C> {
    fn encrypt(&mut self, buf: &mut [u8]) {
        Cfb8::encrypt(self, buf);
    }

    fn decrypt(&mut self, buf: &mut [u8]) {
        Cfb8::decrypt(self, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy "cipher" whose output byte 0 is the sum of the register bytes, to check the
    /// feedback rule independently of any real cipher.
    struct Sum(usize);

    impl BlockEncrypt for Sum {
        fn block_len(&self) -> usize {
            self.0
        }
        fn encrypt_block(&self, block: &mut [u8]) {
            let s = block.iter().fold(0u8, |a, &b| a.wrapping_add(b));
            block[0] = s;
        }
    }

    #[test]
    fn feedback_is_the_ciphertext_byte() {
        let iv = [1u8, 2, 3, 4];
        let mut c = Cfb8::new(Sum(4), &iv);
        let mut buf = [10u8, 20];
        c.encrypt(&mut buf);
        // byte 0: keystream 1+2+3+4 = 10, c0 = 10 ^ 10 = 0; register 2,3,4,0
        // byte 1: keystream 9, c1 = 20 ^ 9 = 29
        assert_eq!(buf, [0, 29]);
        let mut d = Cfb8::new(Sum(4), &iv);
        d.decrypt(&mut buf);
        assert_eq!(buf, [10, 20]);
    }

    #[test]
    fn state_continues_across_calls() {
        let iv: Vec<u8> = (0..32).collect();
        for n in [8, 12, 16, 24, 32] {
            let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
            let mut whole = data.clone();
            Cfb8::new(Sum(n), &iv).encrypt(&mut whole);
            let mut parts = data.clone();
            let mut c = Cfb8::new(Sum(n), &iv);
            let (a, b) = parts.split_at_mut(33);
            c.encrypt(a);
            c.encrypt(b);
            assert_eq!(whole, parts);
            let mut d = Cfb8::new(Sum(n), &iv);
            let (a, b) = parts.split_at_mut(7);
            d.decrypt(a);
            d.decrypt(b);
            assert_eq!(parts, data);
        }
    }
}
