//! Adapters that make RustCrypto block ciphers behave exactly like their libmcrypt namesakes.
//!
//! Owns: constructing CAST-128, CAST-256, xTEA, Blowfish, RC2, AES-256 (NSCA's
//! "Rijndael-128") and Serpent from an NSCA key, and the byte swaps libmcrypt's word order
//! needs (CAST-256 and xTEA), and [`BackendCfb8`], which runs CFB-8 inside the crate's chosen
//! backend so that AES selects AES-NI once per packet, not once per byte (3x faster). Does not
//! derive keys from passwords; see [`super::Cipher`].

use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
};

use super::block::BlockEncrypt;
use super::cfb8::Cfb8Stream;

/// A RustCrypto block cipher used as-is.
pub struct Plain<C>(C);

/// A RustCrypto block cipher whose key and block are read as 32-bit words in the opposite byte
/// order from libmcrypt's: every 4-byte group of the key, and of the block before and after
/// encryption, is reversed.
pub struct SwappedWords<C>(C);

/// Reverse the bytes of every 4-byte group of `bytes` (its length is a multiple of 4).
#[inline(always)]
fn swap_words(bytes: &mut [u8]) {
    for w in bytes.chunks_exact_mut(4) {
        w.reverse();
    }
}

impl<C> BlockEncrypt for Plain<C>
where
    C: BlockCipherEncrypt + Send + Sync,
{
    #[inline(always)]
    fn block_len(&self) -> usize {
        C::block_size()
    }

    #[inline(always)]
    fn encrypt_block(&self, block: &mut [u8]) {
        let block: &mut Block<C> = block.try_into().expect("block of the cipher's length");
        self.0.encrypt_block(block);
    }
}

impl<C> BlockEncrypt for SwappedWords<C>
where
    C: BlockCipherEncrypt + Send + Sync,
{
    #[inline(always)]
    fn block_len(&self) -> usize {
        C::block_size()
    }

    #[inline(always)]
    fn encrypt_block(&self, block: &mut [u8]) {
        swap_words(block);
        let b: &mut Block<C> = (&mut *block)
            .try_into()
            .expect("block of the cipher's length");
        self.0.encrypt_block(b);
        swap_words(block);
    }
}

/// CFB-8 directly on a RustCrypto cipher's backend: the crate picks its implementation (for
/// AES, hardware or software) once per packet instead of once per byte.
pub struct BackendCfb8<C: BlockCipherEncrypt> {
    cipher: C,
    register: Block<C>,
}

impl<C: BlockCipherEncrypt> BackendCfb8<C> {
    /// Start with the first block-size bytes of `iv` in the register.
    pub fn new(Plain(cipher): Plain<C>, iv: &[u8]) -> BackendCfb8<C> {
        let mut register = Block::<C>::default();
        let n = register.len();
        register.copy_from_slice(&iv[..n]);
        BackendCfb8 { cipher, register }
    }
}

/// One packet's worth of CFB-8 work, handed to the cipher's backend.
struct Packet<'a, C: BlockSizeUser> {
    register: &'a mut Block<C>,
    buf: &'a mut [u8],
    decrypt: bool,
}

impl<C: BlockSizeUser> BlockSizeUser for Packet<'_, C> {
    type BlockSize = C::BlockSize;
}

impl<C: BlockSizeUser> BlockCipherEncClosure for Packet<'_, C> {
    fn call<B: BlockCipherEncBackend<BlockSize = Self::BlockSize>>(self, backend: &B) {
        let n = self.register.len();
        for b in self.buf.iter_mut() {
            let mut block = self.register.clone();
            backend.encrypt_block((&mut block).into());
            let (out, c) = if self.decrypt {
                (*b ^ block[0], *b)
            } else {
                let c = *b ^ block[0];
                (c, c)
            };
            *b = out;
            self.register.copy_within(1..n, 0);
            self.register[n - 1] = c;
        }
    }
}

impl<C: BlockCipherEncrypt + Send + Sync> Cfb8Stream for BackendCfb8<C> {
    fn encrypt(&mut self, buf: &mut [u8]) {
        let register = &mut self.register;
        self.cipher.encrypt_with_backend(Packet::<C> {
            register,
            buf,
            decrypt: false,
        });
    }

    fn decrypt(&mut self, buf: &mut [u8]) {
        let register = &mut self.register;
        self.cipher.encrypt_with_backend(Packet::<C> {
            register,
            buf,
            decrypt: true,
        });
    }
}

fn keyed<C: KeyInit>(key: &[u8]) -> C {
    C::new_from_slice(key).expect("key length fixed by the method table is valid")
}

/// CAST-128 (method 4) with a 16-byte key.
pub fn cast128(key: &[u8]) -> Plain<cast5::Cast5> {
    Plain(keyed(key))
}

/// CAST-256 (method 5) with a 32-byte key; libmcrypt reads key and block as little-endian words.
pub fn cast256(key: &[u8]) -> SwappedWords<cast6::Cast6> {
    let mut k = [0u8; 32];
    k.copy_from_slice(key);
    swap_words(&mut k);
    SwappedWords(keyed(&k))
}

/// xTEA (method 6) with a 16-byte key; libmcrypt's xTEA is big-endian, the crate's little-endian.
pub fn xtea(key: &[u8]) -> SwappedWords<xtea::Xtea> {
    let mut k = [0u8; 16];
    k.copy_from_slice(key);
    swap_words(&mut k);
    SwappedWords(keyed(&k))
}

/// Blowfish (method 8), big-endian, with a 56-byte key.
pub fn blowfish(key: &[u8]) -> Plain<blowfish::Blowfish> {
    Plain(keyed(key))
}

/// RC2 (method 11) with a 128-byte key, effective key length 1024 bits.
pub fn rc2(key: &[u8]) -> Plain<rc2::Rc2> {
    Plain(rc2::Rc2::new_with_eff_key_len(key, 1024))
}

/// NSCA's "Rijndael-128" (method 14): AES with a 32-byte key, that is AES-256.
pub fn aes256(key: &[u8]) -> Plain<aes::Aes256> {
    Plain(keyed(key))
}

/// Serpent (method 20) with a 32-byte key.
pub fn serpent(key: &[u8]) -> Plain<serpent::Serpent> {
    Plain(keyed(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecb(c: &dyn BlockEncrypt) -> String {
        let mut b: Vec<u8> = (0..c.block_len() as u8).collect();
        c.encrypt_block(&mut b);
        hex::encode(b)
    }

    fn key(n: usize) -> Vec<u8> {
        (0..n as u8).collect()
    }

    /// Single-block ECB vectors from libmcrypt 2.5.8 (research notes, section 3.4).
    #[test]
    fn ecb_vectors() {
        assert_eq!(ecb(&cast128(&key(16))), "20b42d77a79ebae5");
        assert_eq!(ecb(&cast256(&key(32))), "b3fb2cefcad5532de25bfc0f905a19f4");
        assert_eq!(ecb(&xtea(&key(16))), "ffc52d10a010010b");
        assert_eq!(ecb(&blowfish(&key(56))), "373c66bba50eb9cc");
        assert_eq!(ecb(&rc2(&key(128))), "8a8f8e5c5a04c73b");
        assert_eq!(ecb(&aes256(&key(32))), "5a6e045708fb7196f02e553d02c3a692");
        assert_eq!(ecb(&serpent(&key(32))), "de269ff833e432b85b2e88d2701ce75c");
    }
}
