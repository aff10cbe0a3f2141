//! `send_nsca.cfg`, read exactly as send_nsca 2.10.2 reads it, plus warnings for the values
//! that send_nsca silently gets wrong.
//!
//! send_nsca's rules (all reproduced): lines are read with `fgets` in chunks of at most 5118
//! bytes; a line starting with `#`, a newline or NUL is skipped; the name is
//! `strtok(line, "=")` (leading `=` skipped) and the value `strtok(NULL, "\n")`, with no trimming
//! at all; options are matched by substring, in the order `password`, `encryption_method`,
//! `legacy_2_7_mode`; any other name is an error, and so is a line without a value (which
//! includes `password=` and a blank line holding spaces or a carriage return);
//! `encryption_method` is read with `atoi` and must be 0-12, 14-16, 19, 20 or 22-26;
//! `legacy_2_7_mode` is true when the value contains `true` or `yes`, else false when it
//! contains `false` or `no`, else left alone. Later lines override earlier ones.

use std::fmt;

use super::libc::atoi;

/// `encryption_method` numbers send_nsca's config parser accepts (those compiled into Debian's
/// send_nsca). 7, 12, 19, 22, 24 and 25 pass the parser but fail when the connection starts.
pub const ACCEPTED_METHOD_NUMBERS: &[i32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 19, 20, 22, 23, 24, 25, 26,
];

/// `fgets(buf, MAX_INPUT_BUFFER - 1, fp)` reads at most this many bytes per line.
const FGETS_CHUNK: usize = 5118;

/// The settings a `send_nsca.cfg` holds; `None` where the file does not set them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `password`: bytes exactly as send_nsca uses them (secret: never printed).
    pub password: Option<Vec<u8>>,
    /// `encryption_method` as `atoi` read it (send_nsca's default is 1, XOR).
    pub encryption_method: Option<i32>,
    /// `legacy_2_7_mode`; when set it overrides `--legacy-2-7-mode` on the command line.
    pub legacy_2_7_mode: Option<bool>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("encryption_method", &self.encryption_method)
            .field("legacy_2_7_mode", &self.legacy_2_7_mode)
            .finish()
    }
}

impl Config {
    /// The method number send_nsca would use: the configured one, else 1 (XOR).
    pub fn method_number(&self) -> i32 {
        self.encryption_method.unwrap_or(1)
    }
}

/// Something send_nsca accepts silently but that is probably not what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// 1-based line (as send_nsca counts them).
    pub line: usize,
    /// What is wrong and what to do; never contains the password.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A file send_nsca refuses (it exits 2). Nothing after the offending line is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A line made only of `=` (send_nsca: "No variable name specified").
    #[error("line {line}: no option name: write name=value (password, encryption_method or legacy_2_7_mode)")]
    NoName {
        /// 1-based line.
        line: usize,
    },
    /// A line without a value (send_nsca: "No variable value specified").
    #[error("line {line}: {reason}")]
    NoValue {
        /// 1-based line.
        line: usize,
        /// What the line looks like and how to fix it.
        reason: &'static str,
    },
    /// An option send_nsca does not know (send_nsca: "Unknown option specified").
    #[error("line {line}: unknown option {name:?}: send_nsca.cfg knows only password, encryption_method and legacy_2_7_mode")]
    UnknownOption {
        /// 1-based line.
        line: usize,
        /// The name as written (before the `=`).
        name: String,
    },
    /// An `encryption_method` number send_nsca does not know (send_nsca: "Invalid encryption
    /// method").
    #[error("line {line}: invalid encryption_method {number}: use 0 (none), 1 (xor) or an mcrypt method such as 3 (3des) or 14 (rijndael-128, that is AES-256), and the same number as the server's decryption_method")]
    InvalidMethod {
        /// 1-based line.
        line: usize,
        /// The number `atoi` read.
        number: i32,
    },
}

impl ConfigError {
    /// The line send_nsca stopped at.
    pub fn line(&self) -> usize {
        match self {
            ConfigError::NoName { line }
            | ConfigError::NoValue { line, .. }
            | ConfigError::UnknownOption { line, .. }
            | ConfigError::InvalidMethod { line, .. } => *line,
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// Parse the bytes of a `send_nsca.cfg` like send_nsca 2.10.2; the warnings say which values
/// send_nsca would keep with stray whitespace or carriage returns (they make every packet fail
/// the server's CRC check) and which options it would read differently than they look.
pub fn parse_config(data: &[u8]) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    let mut crlf_warned = false;
    let mut rest = data;
    let mut line = 0;
    while !rest.is_empty() {
        let window = &rest[..rest.len().min(FGETS_CHUNK)];
        let take = window
            .iter()
            .position(|&b| b == b'\n')
            .map_or(window.len(), |i| i + 1);
        let chunk = &rest[..take];
        rest = &rest[take..];
        line += 1;
        let s = &chunk[..chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len())];
        if matches!(s.first(), None | Some(b'#' | b'\n')) {
            continue;
        }
        if !crlf_warned && s.ends_with(b"\r\n") {
            crlf_warned = true;
            warnings.push(ConfigWarning {
                line,
                message: "the file has Windows (CRLF) line endings: send_nsca keeps the carriage \
                          return as the last character of each value; convert the file with \
                          dos2unix or sed -i 's/\\r$//'"
                    .into(),
            });
        }
        // name = strtok(line, "=")
        let Some(name_start) = s.iter().position(|&b| b != b'=') else {
            return Err(ConfigError::NoName { line });
        };
        let name_end = s[name_start..]
            .iter()
            .position(|&b| b == b'=')
            .map(|i| name_start + i);
        let name = &s[name_start..name_end.unwrap_or(s.len())];
        // value = strtok(NULL, "\n")
        let value = name_end.and_then(|e| {
            let mut v = e + 1;
            while v < s.len() && s[v] == b'\n' {
                v += 1;
            }
            (v < s.len()).then(|| {
                let end = s[v..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(s.len(), |i| v + i);
                &s[v..end]
            })
        });
        let Some(value) = value else {
            let reason = if trim_ascii(name).is_empty() {
                "a blank line that holds spaces, tabs or a carriage return: send_nsca refuses \
                 it (\"No variable value specified\"); delete the whitespace, and convert a \
                 Windows (CRLF) file with dos2unix"
            } else if name_end.is_none() {
                "no '=' on this line: write name=value"
            } else if contains(name, b"password") {
                "empty password: send_nsca refuses password= with nothing after it; leave the \
                 password line out for an empty password"
            } else {
                "no value after '=': write name=value"
            };
            return Err(ConfigError::NoValue { line, reason });
        };
        let key: &str = if contains(name, b"password") {
            check_password(value, line, &mut warnings);
            config.password = Some(value.to_vec());
            "password"
        } else if contains(name, b"encryption_method") {
            let number = atoi(value);
            if !ACCEPTED_METHOD_NUMBERS.contains(&number) {
                return Err(ConfigError::InvalidMethod { line, number });
            }
            let t = trim_ascii(value);
            if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
                warnings.push(ConfigWarning {
                    line,
                    message: format!(
                        "encryption_method {:?} is not a plain number: send_nsca reads it as \
                         {number} ({}); write the method number, e.g. encryption_method=14",
                        String::from_utf8_lossy(t),
                        method_label(number)
                    ),
                });
            }
            config.encryption_method = Some(number);
            "encryption_method"
        } else if contains(name, b"legacy_2_7_mode") {
            if contains(value, b"true") || contains(value, b"yes") {
                config.legacy_2_7_mode = Some(true);
            } else if contains(value, b"false") || contains(value, b"no") {
                config.legacy_2_7_mode = Some(false);
            } else {
                warnings.push(ConfigWarning {
                    line,
                    message: format!(
                        "legacy_2_7_mode value {:?} is neither true/yes nor false/no: send_nsca \
                         ignores the line",
                        String::from_utf8_lossy(trim_ascii(value))
                    ),
                });
            }
            "legacy_2_7_mode"
        } else {
            return Err(ConfigError::UnknownOption {
                line,
                name: String::from_utf8_lossy(trim_ascii(name)).into_owned(),
            });
        };
        if trim_ascii(name) != key.as_bytes() {
            warnings.push(ConfigWarning {
                line,
                message: format!(
                    "option {:?} is read as {key} (send_nsca matches option names by substring)",
                    String::from_utf8_lossy(trim_ascii(name))
                ),
            });
        }
    }
    Ok((config, warnings))
}

fn check_password(value: &[u8], line: usize, warnings: &mut Vec<ConfigWarning>) {
    let consequence = "send_nsca keeps it as part of the password, so unless the server's \
                       password has it too every packet fails the server's CRC check and is \
                       dropped without any error on this side";
    if matches!(value.first(), Some(b' ' | b'\t')) {
        warnings.push(ConfigWarning {
            line,
            message: format!(
                "the password starts with whitespace: {consequence}; write password=VALUE \
                 with nothing between '=' and the password"
            ),
        });
    }
    if value.ends_with(b"\r") {
        warnings.push(ConfigWarning {
            line,
            message: format!(
                "the password ends with a carriage return (Windows line ending): {consequence}; \
                 convert the file with dos2unix"
            ),
        });
    } else if matches!(value.last(), Some(b' ' | b'\t')) {
        warnings.push(ConfigWarning {
            line,
            message: format!(
                "the password ends with whitespace: {consequence}; remove the trailing spaces"
            ),
        });
    }
}

fn method_label(number: i32) -> &'static str {
    crate::crypto::Method::from_number(i64::from(number))
        .map(|m| m.name())
        .unwrap_or("a method no server can use")
}
