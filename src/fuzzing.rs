//! Fuzzing entry points: each takes arbitrary bytes, drives one parser through the public
//! interface and checks the properties every parser must keep (no panic, `consumed` within
//! the input, at least one outcome for complete input). The fuzz targets in `fuzz/` are one
//! line each and call these.

use crate::formats::{parse, FileMeta, Format, Input, Options, Parsed};
use crate::outcome::Status;

/// Run `format` over `data` as complete and as still-growing input, with and without an exit
/// code, and check the common properties.
fn check_format(format: Format, data: &[u8]) {
    let meta = FileMeta::for_path("/fuzz/input.log");
    let options = Options {
        job: "fuzz".into(),
        zero_files: Some(Status::Warning),
        ..Options::default()
    };
    let code = data.first().map(|&b| i32::from(b) - 1);
    for (complete, exit_code) in [(true, None), (false, None), (true, code)] {
        let input = Input {
            bytes: data,
            meta: &meta,
            exit_code,
            options: &options,
            complete,
        };
        let p: Parsed = parse(format, &input);
        assert!(p.consumed <= data.len(), "consumed beyond the input");
        if complete {
            assert!(!p.outcomes.is_empty(), "complete input gave no outcome");
        }
        for o in &p.outcomes {
            let _ = crate::outcome::plugin_output(o, None, crate::outcome::MAX_OUTPUT);
        }
    }
}

// --- parsers1: restic, borg, rsnapshot, duplicity ---

/// The restic parser on arbitrary bytes.
pub fn restic(data: &[u8]) {
    check_format(Format::Restic, data);
}

/// The borg parser on arbitrary bytes.
pub fn borg(data: &[u8]) {
    check_format(Format::Borg, data);
}

/// The rsnapshot parser on arbitrary bytes (complete input need not give an outcome: a log
/// chunk without runs has none, so only the common bounds are checked).
pub fn rsnapshot(data: &[u8]) {
    let meta = FileMeta::for_path("/fuzz/rsnapshot.log");
    let options = Options::default();
    for complete in [true, false] {
        let input = Input {
            bytes: data,
            meta: &meta,
            exit_code: None,
            options: &options,
            complete,
        };
        let p = parse(Format::Rsnapshot, &input);
        assert!(p.consumed <= data.len(), "consumed beyond the input");
        if complete {
            assert_eq!(p.consumed, data.len(), "complete input not consumed");
        }
    }
}

/// The duplicity parser on arbitrary bytes.
pub fn duplicity(data: &[u8]) {
    check_format(Format::Duplicity, data);
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_take_odd_input() {
        for data in [
            &b""[..],
            b"\x00\xff",
            b"{\n",
            b"[2026-11-24T09:28:09] x: started\n\xff",
            b"--------------[ Backup Statistics ]--------------\n",
        ] {
            super::restic(data);
            super::borg(data);
            super::rsnapshot(data);
            super::duplicity(data);
        }
    }
}
