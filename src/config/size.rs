//! Byte sizes: `16MiB`, `1GB`, `512KiB`, `4096` (plain bytes, as an integer or a string).
//!
//! Owns: parsing of size strings and a serde helper. `KB`/`MB`/`GB`/`TB` are powers of 1000,
//! `KiB`/`MiB`/`GiB`/`TiB` powers of 1024; units are case-insensitive and always mean bytes.

/// Why a size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// Nothing to parse.
    #[error("empty size; write e.g. \"16MiB\", \"1GB\" or a number of bytes")]
    Empty,
    /// A unit we do not know.
    #[error("unknown size unit {unit:?} in {text:?}; use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)")]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit found.
        unit: String,
    },
    /// Not a whole number followed by a unit.
    #[error("{text:?} is not a size; write a whole number and a unit, e.g. \"16MiB\", \"1GB\" or \"4096\"")]
    Invalid {
        /// The whole text.
        text: String,
    },
    /// Above 2^64 - 1 bytes.
    #[error("size {text:?} is too large")]
    TooLarge {
        /// The whole text.
        text: String,
    },
}

const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Parse a size in bytes: a whole number, optionally followed (with or without a space) by a
/// unit.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(SizeError::Empty);
    }
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let unit = unit.trim_start();
    if number.is_empty() || !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(SizeError::Invalid { text: text.into() });
    }
    let lower = unit.to_ascii_lowercase();
    let factor = UNITS
        .iter()
        .find(|(u, _)| *u == lower)
        .map(|(_, f)| *f)
        .ok_or_else(|| SizeError::UnknownUnit {
            text: text.into(),
            unit: unit.into(),
        })?;
    let too_large = || SizeError::TooLarge { text: text.into() };
    let n: u64 = number.parse().map_err(|_| too_large())?;
    n.checked_mul(factor).ok_or_else(too_large)
}

/// serde helper: `#[serde(deserialize_with = "nagbridge::config::size::deserialize")]` reads a
/// size string or a non-negative integer (bytes).
pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match <Raw as serde::Deserialize>::deserialize(d)? {
        Raw::Bytes(n) => Ok(n),
        Raw::Text(s) => parse_size(&s).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1gb"), Ok(1_000_000_000));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10B"), Ok(10));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn clear_errors() {
        assert_eq!(parse_size(" "), Err(SizeError::Empty));
        let e = parse_size("16M").unwrap_err();
        assert!(matches!(e, SizeError::UnknownUnit { .. }));
        assert!(e.to_string().contains("KiB, MiB"), "{e}");
        assert!(matches!(
            parse_size("1.5GB"),
            Err(SizeError::Invalid { .. })
        ));
        assert!(matches!(parse_size("MiB"), Err(SizeError::Invalid { .. })));
        assert!(matches!(parse_size("-1"), Err(SizeError::Invalid { .. })));
        assert!(matches!(
            parse_size("20000000TiB"),
            Err(SizeError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_size("99999999999999999999"),
            Err(SizeError::TooLarge { .. })
        ));
    }

    #[test]
    fn serde_helper() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(deserialize_with = "deserialize")]
            max: u64,
        }
        assert_eq!(toml::from_str::<T>("max = \"1KiB\"").unwrap().max, 1024);
        assert_eq!(toml::from_str::<T>("max = 77").unwrap().max, 77);
        assert!(toml::from_str::<T>("max = \"1XB\"").is_err());
    }
}
