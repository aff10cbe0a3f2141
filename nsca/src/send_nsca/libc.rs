//! The two C library number parsers send_nsca relies on, as glibc implements them in the C
//! locale: `strtol` (with base 0 = auto-detect `0x`/`0` prefixes) and `atoi`.

/// Result of [`strtol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strtol {
    /// The value, clamped to `i64::MIN..=i64::MAX` on overflow (like `LONG_MIN`/`LONG_MAX`).
    pub value: i64,
    /// True when the number did not fit (`errno == ERANGE`).
    pub overflow: bool,
    /// Bytes consumed (0 when no digits were found: `endptr == nptr`).
    pub consumed: usize,
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// glibc `strtol(s, &end, base)` for base 0, 8, 10 or 16: skips leading C whitespace, takes an
/// optional sign, then (base 0) `0x`/`0X` + hex digit = hexadecimal, a leading `0` = octal,
/// else decimal; stops at the first byte that is not a digit. Parsing stops at a NUL byte.
pub fn strtol(s: &[u8], base: u32) -> Strtol {
    let none = Strtol {
        value: 0,
        overflow: false,
        consumed: 0,
    };
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = |i: usize| {
        i + 2 < s.len()
            && s[i] == b'0'
            && (s[i + 1] | 0x20) == b'x'
            && (s[i + 2] as char).is_ascii_hexdigit()
    };
    if (base == 0 || base == 16) && hex_prefix(i) {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if i < s.len() && s[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    // Accumulate the magnitude as u128 so that i64::MIN's magnitude fits.
    let mut magnitude: u128 = 0;
    let mut overflow = false;
    while i < s.len() {
        let Some(d) = (s[i] as char).to_digit(base) else {
            break;
        };
        magnitude = magnitude * u128::from(base) + u128::from(d);
        if magnitude > u128::from(i64::MAX.unsigned_abs()) + 1 {
            overflow = true;
            magnitude = u128::from(i64::MAX.unsigned_abs()) + 1;
        }
        i += 1;
    }
    if i == start {
        return none;
    }
    let value = if negative {
        if magnitude > u128::from(i64::MIN.unsigned_abs()) {
            overflow = true;
            i64::MIN
        } else {
            (magnitude as i128).wrapping_neg() as i64
        }
    } else if magnitude > i64::MAX as u128 {
        overflow = true;
        i64::MAX
    } else {
        magnitude as i64
    };
    Strtol {
        value,
        overflow,
        consumed: i,
    }
}

/// glibc `atoi(s)`: `(int) strtol(s, NULL, 10)` (an out-of-range value wraps when cast).
pub fn atoi(s: &[u8]) -> i32 {
    strtol(s, 10).value as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_glibc() {
        for (s, v) in [
            (&b"3"[..], 3),
            (b" 3x", 3),
            (b"abc", 0),
            (b"", 0),
            (b"-1", -1),
            (b"+7", 7),
            (b"\t\n 12", 12),
            (b"0x10", 0),
            (b"010", 10),
            (b"65537", 65537),
            // 99999999999 fits a long; the cast to int keeps the low 32 bits.
            (b"99999999999", 1_215_752_191),
            // LONG_MAX after clamping; (int)LONG_MAX == -1.
            (b"99999999999999999999999", -1),
            (b"- 1", 0),
            (b"1\x002", 1),
        ] {
            assert_eq!(atoi(s), v, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn strtol_base_0() {
        let v = |s: &[u8]| strtol(s, 0);
        assert_eq!(v(b"0x0a").value, 10);
        assert_eq!(v(b"0X1F").value, 31);
        assert_eq!(v(b"011").value, 9);
        assert_eq!(v(b"09").value, 0); // octal stops at 9
        assert_eq!(v(b"9\n").value, 9);
        assert_eq!(v(b"-0x10").value, -16);
        assert_eq!(v(b"0x").value, 0);
        assert_eq!(v(b"0x").consumed, 1);
        assert_eq!(v(b"0xg").value, 0);
        assert_eq!(v(b"+").consumed, 0);
        assert!(!v(b"9223372036854775807").overflow);
        assert!(v(b"9223372036854775808").overflow);
        assert_eq!(v(b"9223372036854775808").value, i64::MAX);
        assert!(!v(b"-9223372036854775808").overflow);
        assert_eq!(v(b"-9223372036854775808").value, i64::MIN);
        assert!(v(b"-9223372036854775809").overflow);
        assert!(v(b"0xffffffffffffffffffff").overflow);
    }
}
