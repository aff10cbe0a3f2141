//! `send_nsca` compatibility: the `send_nsca.cfg` parser, the `-d`/`-ds` delimiter parser and
//! the stdin record parser, each reproducing send_nsca 2.10.2 byte for byte (quirks included),
//! so that every tool of ours reads what send_nsca reads and nothing else.
//!
//! Owns: the meaning of send_nsca's input bytes. Pure: no I/O, no clock, no encryption; every
//! parser is a function over `&[u8]` (see [`crate::fuzzing`]). Turning a [`Record`] into a
//! [`crate::packet::PassiveCheck`] (field limits, forbidden characters) is the caller's job.
//!
//! ```
//! use nsca::send_nsca::{parse_input, Delimiters};
//! let input = b"web01\tbackup\t2\tCRITICAL: repo locked\x17web01\t0\tUP";
//! let parsed = parse_input(input, Delimiters::default());
//! assert_eq!(parsed.records.len(), 2);
//! assert_eq!(parsed.records[1].service, b"");
//! ```

mod config;
mod delimiter;
mod input;
mod libc;

pub use config::{parse_config, Config, ConfigError, ConfigWarning, ACCEPTED_METHOD_NUMBERS};
pub use delimiter::{parse_delimiter, DelimiterError};
pub use input::{
    parse_input, parse_record, Delimiters, ParsedInput, Record, RecordSplitter, RecordTooLong,
    Split, MAX_RECORD_LEN,
};
pub use libc::{atoi, strtol};

/// send_nsca's default field delimiter: tab.
pub const DEFAULT_DELIMITER: u8 = b'\t';
/// send_nsca's default set (record) delimiter: ETB, 0x17 (`^W`).
pub const DEFAULT_SET_DELIMITER: u8 = 0x17;
/// The config file send_nsca reads without `-c`: Debian's `nsca-client` builds it with
/// `/etc/send_nsca.cfg` (`strings /usr/sbin/send_nsca`; upstream's default is
/// `<sysconfdir>/send_nsca.cfg`), so a cron line without `-c` reads this file.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/send_nsca.cfg";

#[cfg(test)]
mod tests;
