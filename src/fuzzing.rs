//! Entry points for the fuzz targets in `fuzz/fuzz_targets/` (one line each there), in the
//! style of rustls' `pub mod fuzzing`.
//!
//! Owns: the properties each target checks. Must not do I/O.

use crate::spool::entry;

/// Feed arbitrary bytes to the spool entry decoder: it must never panic, and whatever it
/// accepts must encode and decode back to the same entry.
pub fn spool_entry(data: &[u8]) {
    if let Ok(e) = entry::decode(data) {
        let bytes = entry::encode(&e).expect("a decoded entry encodes");
        let again = entry::decode(&bytes).expect("an encoded entry decodes");
        assert_eq!(again, e, "spool entry round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzing_spool_entry_survives_damage() {
        let o = crate::outcome::Outcome::new("j", crate::outcome::Status::Success);
        let e = entry::Entry {
            id: entry::EntryId::new(1, 2, 3),
            spooled_at: chrono::Utc::now(),
            outcome: o,
        };
        let good = entry::encode(&e).unwrap();
        spool_entry(&good);
        for cut in 0..good.len() {
            spool_entry(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xff;
            spool_entry(&b);
        }
    }
}
