//! The one operation CFB-8 needs from a block cipher: encrypt one block in place.

/// A keyed block cipher, encryption direction only (CFB-8 decrypts with the encrypt function).
pub trait BlockEncrypt: Send + Sync {
    /// Block length in bytes (8, 12, 16, 24 or 32).
    fn block_len(&self) -> usize;
    /// Encrypt `block` (exactly `block_len()` bytes) in place.
    fn encrypt_block(&self, block: &mut [u8]);
}
