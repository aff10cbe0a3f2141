//! Humane durations: `90s`, `5m`, `26h`, `1d`, `1h30m`, `500ms`, `2w`.
//!
//! Owns: parsing and formatting of duration strings, and a serde helper for other modules'
//! config types. Whether zero is allowed is the caller's business.

use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing to parse.
    #[error(
        "empty duration; write a number and a unit, e.g. \"90s\", \"5m\", \"26h\" or \"1h30m\""
    )]
    Empty,
    /// A number without a unit.
    #[error("missing unit after {number} in {text:?}; write e.g. \"{number}s\" or \"{number}m\" (units: ms, s, m, h, d, w)")]
    MissingUnit {
        /// The whole text.
        text: String,
        /// The number without a unit.
        number: String,
    },
    /// A unit we do not know.
    #[error("unknown unit {unit:?} in {text:?}; units are ms, s, m, h, d, w")]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit found.
        unit: String,
    },
    /// Something that is not a number where one was expected.
    #[error("{text:?} is not a duration; write a number and a unit, e.g. \"90s\", \"5m\", \"26h\" or \"1h30m\"")]
    Invalid {
        /// The whole text.
        text: String,
    },
    /// More than about 584 million years.
    #[error("duration {text:?} is too large")]
    TooLarge {
        /// The whole text.
        text: String,
    },
}

const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// Parse a duration: one or more `<integer><unit>` parts (spaces allowed between them),
/// with units `ms`, `s`, `m`, `h`, `d` (24 h) and `w` (7 d). `0s` gives zero.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let invalid = || DurationError::Invalid { text: text.into() };
    let too_large = || DurationError::TooLarge { text: text.into() };
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let (number, after) = rest.split_at(digits);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            if after.is_empty() || after.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(DurationError::MissingUnit {
                    text: text.into(),
                    number: number.into(),
                });
            }
            return Err(invalid());
        }
        let millis = UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
            .map(|(_, m)| *m)
            .ok_or_else(|| DurationError::UnknownUnit {
                text: text.into(),
                unit: unit.into(),
            })?;
        let n: u64 = number.parse().map_err(|_| too_large())?;
        let part = n.checked_mul(millis).ok_or_else(too_large)?;
        total = total.checked_add(part).ok_or_else(too_large)?;
        rest = after.trim_start();
    }
    Ok(Duration::from_millis(total))
}

/// Format a duration the way [`parse_duration`] reads it: `1h30m`, `90s` stays `1m30s`,
/// `0s` for zero; sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS.iter().rev().filter(|(u, _)| *u != "w") {
        if ms >= *size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// serde helper: `#[serde(deserialize_with = "nagbridge::config::duration::deserialize")]`
/// reads a humane duration string into a [`Duration`].
pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> u64 {
        parse_duration(s).unwrap().as_secs()
    }

    #[test]
    fn parses_humane_durations() {
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("5m"), 300);
        assert_eq!(secs("26h"), 26 * 3600);
        assert_eq!(secs("1d"), 86400);
        assert_eq!(secs("2w"), 14 * 86400);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1h 30m 15s"), 5415);
        assert_eq!(secs(" 10S "), 10);
        assert_eq!(secs("0s"), 0);
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(
            parse_duration("1s500ms").unwrap(),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn clear_errors() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("  "), Err(DurationError::Empty));
        let e = parse_duration("90").unwrap_err();
        assert!(matches!(e, DurationError::MissingUnit { .. }));
        assert_eq!(
            e.to_string(),
            "missing unit after 90 in \"90\"; write e.g. \"90s\" or \"90m\" (units: ms, s, m, h, d, w)"
        );
        assert!(matches!(
            parse_duration("1h30").unwrap_err(),
            DurationError::MissingUnit { .. }
        ));
        let e = parse_duration("5 minutes").unwrap_err();
        assert!(matches!(e, DurationError::UnknownUnit { .. }), "{e}");
        assert!(matches!(
            parse_duration("5 10s").unwrap_err(),
            DurationError::MissingUnit { .. }
        ));
        assert_eq!(secs("1 h 30 m"), 5400);
        let e = parse_duration("5min").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown unit \"min\" in \"5min\"; units are ms, s, m, h, d, w"
        );
        assert!(matches!(
            parse_duration("h").unwrap_err(),
            DurationError::Invalid { .. }
        ));
        assert!(matches!(
            parse_duration("-5s").unwrap_err(),
            DurationError::Invalid { .. }
        ));
        assert!(matches!(
            parse_duration("1.5h").unwrap_err(),
            DurationError::Invalid { .. }
        ));
        assert!(matches!(
            parse_duration("99999999999999999999s").unwrap_err(),
            DurationError::TooLarge { .. }
        ));
        assert!(matches!(
            parse_duration("999999999999999w").unwrap_err(),
            DurationError::TooLarge { .. }
        ));
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1h30m", "5m", "1d2h", "500ms", "1m30s", "0s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn serde_helper() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(deserialize_with = "deserialize")]
            every: Duration,
        }
        let t: T = toml::from_str("every = \"26h\"").unwrap();
        assert_eq!(t.every, Duration::from_secs(26 * 3600));
        let e = toml::from_str::<T>("every = \"26\"").err().unwrap();
        assert!(e.message().contains("missing unit"), "{e}");
    }
}
