//! The `-d` (field) and `-ds` (set) delimiter arguments, as send_nsca 2.10.1+ parses them
//! (`parse_delimiter`).

use super::libc::strtol;

/// A delimiter argument send_nsca refuses (it exits 3, "incorrect command line arguments").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DelimiterError {
    /// A numeric argument out of the range of a C `long`.
    #[error("delimiter {0:?} is out of range: give one character (',') or a character code such as 0x0a or 9")]
    OutOfRange(String),
}

/// One delimiter byte from a `-d`/`-ds` argument, as send_nsca 2.10.2 computes it:
///
/// * a single byte is taken literally (`-d 9` is the character `9`, `-d ,` a comma);
/// * a longer argument starting with a digit, `+` or `-` is `strtol(arg, NULL, 0)` cut to a
///   byte: `0x0a` (hex), `011` (octal), `9` followed by anything (`"9\n"`), `300` = `,` (300 &
///   0xff); trailing junk is ignored and no digits at all (`-x`) gives 0;
/// * any other longer argument uses its first byte (`-d tab` is `t`);
/// * an empty argument gives 0.
///
/// A field delimiter of 0 splits nothing (every record is one field, so every record is
/// skipped). A set delimiter of 0 makes NUL bytes separate records; one of 0x80 or more never
/// matches (send_nsca compares a signed `char` with `getc()`), so all of stdin is one record.
pub fn parse_delimiter(arg: &[u8]) -> Result<u8, DelimiterError> {
    match arg {
        [] => Ok(0),
        [b] => Ok(*b),
        [first, ..] if first.is_ascii_digit() || *first == b'+' || *first == b'-' => {
            let r = strtol(arg, 0);
            if r.overflow {
                return Err(DelimiterError::OutOfRange(
                    String::from_utf8_lossy(arg).into_owned(),
                ));
            }
            Ok(r.value as u8)
        }
        [first, ..] => Ok(*first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_send_nsca_2_10_2() {
        for (arg, want) in [
            (&b","[..], b','),
            (b" ", b' '),
            (b"9", b'9'),
            (b"0", b'0'),
            (b"0x09", b'\t'),
            (b"0x0a", b'\n'),
            (b"0x0A", b'\n'),
            (b"0x17", 0x17),
            (b"011", 9),
            (b"10", b'\n'),
            (b"9\n", 9),
            (b"0x117", 0x17),
            (b"300", b','),
            (b"-1", 0xff),
            (b"+9", 9),
            (b"-x", 0),
            (b"0x", 0),
            (b"tab", b't'),
            (b"\\t", b'\\'),
            (b"", 0),
        ] {
            assert_eq!(
                parse_delimiter(arg),
                Ok(want),
                "{:?}",
                String::from_utf8_lossy(arg)
            );
        }
    }

    #[test]
    fn out_of_range_is_an_error() {
        let e = parse_delimiter(b"99999999999999999999").unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
}
