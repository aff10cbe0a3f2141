//! send_nsca's standard input: records separated by the set delimiter (ETB by default), each
//! record split into fields on the field delimiter (tab by default).
//!
//! What send_nsca 2.10.2 does, verified against the Debian binary and reproduced here:
//!
//! * stdin is cut into records at every set-delimiter byte; a record may hold at most
//!   [`MAX_RECORD_LEN`] + 1 bytes, more is an error (send_nsca: "Input set is longer than max
//!   allowed.", exit 255), precisely: 5120 bytes without a delimiter followed by any further
//!   byte; exactly 5120 bytes at the end of input are accepted;
//! * a record ends at its first NUL byte (C string);
//! * trailing space, tab, CR and LF are stripped; **leading whitespace is kept** (a leading
//!   space becomes part of the host name; a leading tab is a delimiter and collapses);
//! * an empty record is skipped; fields are taken with `strtok`: runs of delimiters collapse
//!   and leading delimiters are skipped, so there are no empty fields;
//! * fewer than 3 fields: skipped silently; 3 fields: host check `host rc output`; more:
//!   service check `host service rc output`, where the output is everything after the single
//!   delimiter that ends the third field (delimiters in it are kept, even leading ones);
//! * the return code is `atoi` cut to 16 bits (`3x` is 3, `abc` is 0, 65537 is 1).
//!
//! Fields are not truncated here: send_nsca cuts host, service and output at 63, 127 and 4095
//! (legacy 511) bytes when it fills the packet.

use super::libc::atoi;
use super::{DEFAULT_DELIMITER, DEFAULT_SET_DELIMITER};

/// Longest record send_nsca reads (`MAX_INPUT_BUFFER - 1`); see the module doc for the exact
/// rule at the boundary.
pub const MAX_RECORD_LEN: usize = 5119;

/// The field and set delimiters (`-d`, `-ds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Between fields (`-d`, default tab). 0 splits nothing.
    pub field: u8,
    /// Between records (`-ds`, default ETB 0x17). 0x80 and above never match.
    pub set: u8,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: DEFAULT_DELIMITER,
            set: DEFAULT_SET_DELIMITER,
        }
    }
}

/// One result as send_nsca reads it: byte strings, not yet truncated or checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record<'a> {
    /// Host name (never empty).
    pub host: &'a [u8],
    /// Service description; empty for a host check.
    pub service: &'a [u8],
    /// Return code, as send_nsca's `int16_t`.
    pub return_code: i16,
    /// Plugin output (never empty: `strtok` yields no empty fields).
    pub output: &'a [u8],
}

impl Record<'_> {
    /// True for a host check (3 fields).
    pub fn is_host_check(&self) -> bool {
        self.service.is_empty()
    }
}

/// A record longer than send_nsca accepts; nothing after it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("result number {index} is longer than {max} bytes (send_nsca: \"Input set is longer than max allowed.\"); the results before it were read, nothing after it", max = MAX_RECORD_LEN)]
pub struct RecordTooLong {
    /// 1-based position of the record in the input, counting skipped records too.
    pub index: usize,
}

/// What a [`RecordSplitter`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// The bytes of one record (without its delimiter; not yet stripped).
    Record(Vec<u8>),
    /// The current record is too long: stop reading.
    TooLong(RecordTooLong),
}

/// Cuts a byte stream into records as send_nsca's `getc` loop does, chunk by chunk (so a caller
/// can send each result as soon as its delimiter arrives, like send_nsca).
#[derive(Debug, Clone)]
pub struct RecordSplitter {
    set: Option<u8>,
    buf: Vec<u8>,
    index: usize,
    done: bool,
}

impl RecordSplitter {
    /// A splitter for set delimiter `set` (bytes of 0x80 and above never match, as in send_nsca).
    pub fn new(set: u8) -> RecordSplitter {
        RecordSplitter {
            set: (set < 0x80).then_some(set),
            buf: Vec::new(),
            index: 0,
            done: false,
        }
    }

    /// Feed the next bytes of input; returns the records completed by them, ending with
    /// [`Split::TooLong`] if a record overflowed (later calls then return nothing).
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Split> {
        let mut out = Vec::new();
        while !self.done && !data.is_empty() {
            // send_nsca checks the length before looking at the byte it just read.
            if self.buf.len() > MAX_RECORD_LEN {
                self.done = true;
                out.push(Split::TooLong(RecordTooLong {
                    index: self.index + 1,
                }));
                break;
            }
            let room = MAX_RECORD_LEN + 1 - self.buf.len();
            let window = &data[..data.len().min(room)];
            match self.set.and_then(|d| window.iter().position(|&b| b == d)) {
                Some(i) => {
                    self.buf.extend_from_slice(&window[..i]);
                    self.index += 1;
                    out.push(Split::Record(std::mem::take(&mut self.buf)));
                    data = &data[i + 1..];
                }
                None => {
                    self.buf.extend_from_slice(window);
                    data = &data[window.len()..];
                }
            }
        }
        out
    }

    /// End of input: the last record (possibly empty), unless reading already stopped.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        self.done = true;
        self.index += 1;
        Some(std::mem::take(&mut self.buf))
    }

    /// Records completed so far (1-based index of the last one).
    pub fn records_seen(&self) -> usize {
        self.index
    }
}

/// Parse one record (the bytes between two set delimiters) like send_nsca: cut at NUL, strip
/// trailing whitespace, split with `strtok`. `None` when send_nsca skips it (empty, or fewer
/// than 3 fields).
pub fn parse_record(record: &[u8], field_delimiter: u8) -> Option<Record<'_>> {
    let mut s = &record[..record.iter().position(|&b| b == 0).unwrap_or(record.len())];
    while let [rest @ .., b' ' | b'\r' | b'\n' | b'\t'] = s {
        s = rest;
    }
    if s.is_empty() {
        return None;
    }
    let mut pos = 0;
    let p1 = strtok(s, &mut pos, field_delimiter)?;
    let p2 = strtok(s, &mut pos, field_delimiter)?;
    let p3 = strtok(s, &mut pos, field_delimiter)?;
    // strtok(NULL, "") returns the rest of the string, if any.
    let p4 = (pos < s.len()).then(|| &s[pos..]);
    Some(match p4 {
        None => Record {
            host: p1,
            service: b"",
            return_code: atoi(p2) as i16,
            output: p3,
        },
        Some(rest) => Record {
            host: p1,
            service: p2,
            return_code: atoi(p3) as i16,
            output: rest,
        },
    })
}

/// C `strtok` with a one-byte delimiter set (0 = the empty set), continuing at `*pos`.
fn strtok<'a>(s: &'a [u8], pos: &mut usize, delimiter: u8) -> Option<&'a [u8]> {
    let is_delim = |b: u8| delimiter != 0 && b == delimiter;
    let mut start = *pos;
    while start < s.len() && is_delim(s[start]) {
        start += 1;
    }
    if start >= s.len() {
        *pos = s.len();
        return None;
    }
    match s[start..].iter().position(|&b| is_delim(b)) {
        Some(i) => {
            *pos = start + i + 1;
            Some(&s[start..start + i])
        }
        None => {
            *pos = s.len();
            Some(&s[start..])
        }
    }
}

/// Everything send_nsca would read from `input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedInput<'a> {
    /// The results, in order.
    pub records: Vec<Record<'a>>,
    /// Records that were skipped (empty or fewer than 3 fields), counting the empty one at
    /// the end of input after a final delimiter.
    pub skipped: usize,
    /// Set when reading stopped at an over-long record (send_nsca sends `records` and then
    /// exits 255).
    pub too_long: Option<RecordTooLong>,
}

/// Parse a whole input at once (what the fuzzers and tests use; the `send` command streams with
/// [`RecordSplitter`] and [`parse_record`], which give the same results).
pub fn parse_input(input: &[u8], delimiters: Delimiters) -> ParsedInput<'_> {
    let set = (delimiters.set < 0x80).then_some(delimiters.set);
    let mut out = ParsedInput {
        records: Vec::new(),
        skipped: 0,
        too_long: None,
    };
    let mut rest = input;
    let mut index = 0;
    loop {
        index += 1;
        let window = &rest[..rest.len().min(MAX_RECORD_LEN + 1)];
        let (record, next) = match set.and_then(|d| window.iter().position(|&b| b == d)) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None if rest.len() > MAX_RECORD_LEN + 1 => {
                out.too_long = Some(RecordTooLong { index });
                return out;
            }
            None => (rest, None),
        };
        match parse_record(record, delimiters.field) {
            Some(r) => out.records.push(r),
            None => out.skipped += 1,
        }
        match next {
            Some(n) => rest = n,
            None => return out,
        }
    }
}
