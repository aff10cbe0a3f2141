//! Entry points for the fuzz targets in `fuzz/` (the rustls `pub mod fuzzing` pattern): each
//! function drives one parser over arbitrary bytes, as a finished file and as a log still being
//! written, with and without an exit code, and checks the promises of the parser interface: no
//! panic, `consumed` within the input, a complete input consumed whole, an outcome for every
//! complete whole-file input, and plugin output within NSCA's limit. Not a stable API.

use crate::formats::{self, FileMeta, Format, Input, Options};
use crate::outcome::{plugin_output, Status, MAX_OUTPUT};
use crate::spool::entry;

/// Parse `data` as `format` every way and check the invariants. `whole_file` formats must give
/// at least one outcome for complete input (logs may hold no finished run).
fn drive(format: Format, data: &[u8], whole_file: bool) {
    let meta = FileMeta::for_path("/fuzz/input.log");
    let options = Options {
        job: "fuzz".into(),
        split_items: true,
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
        let parsed = formats::parse_unguarded(format, &input);
        assert!(parsed.consumed <= data.len(), "consumed past the end");
        if complete {
            assert_eq!(
                parsed.consumed,
                data.len(),
                "a complete file is consumed whole"
            );
            if whole_file {
                assert!(
                    !parsed.outcomes.is_empty(),
                    "complete input gave no outcome"
                );
            }
        }
        for o in &parsed.outcomes {
            let _ = o.to_json_line();
            assert!(plugin_output(o, None, MAX_OUTPUT).len() <= MAX_OUTPUT);
        }
    }
}

/// The native JSON format.
pub fn native(data: &[u8]) {
    drive(Format::Native, data, true);
}

/// Format detection followed by the detected parser.
pub fn auto(data: &[u8]) {
    drive(Format::Auto, data, false);
}

/// restic backup/check/forget output.
pub fn restic(data: &[u8]) {
    drive(Format::Restic, data, true);
}

/// borg create/check output and --log-json lines.
pub fn borg(data: &[u8]) {
    drive(Format::Borg, data, true);
}

/// rsnapshot's log (a chunk without runs has no outcome).
pub fn rsnapshot(data: &[u8]) {
    drive(Format::Rsnapshot, data, false);
}

/// duplicity's statistics block.
pub fn duplicity(data: &[u8]) {
    drive(Format::Duplicity, data, true);
}

/// Proxmox vzdump task logs, index lines, guest logs and mails.
pub fn vzdump(data: &[u8]) {
    drive(Format::Vzdump, data, false);
}

/// Bacula and Bareos job reports and logs.
pub fn bacula(data: &[u8]) {
    drive(Format::Bacula, data, false);
}

/// Xen Orchestra backup logs (JSON and JSON lines).
pub fn xo(data: &[u8]) {
    drive(Format::Xo, data, false);
}

/// pgBackRest logs and `info --output=json`.
pub fn pgbackrest(data: &[u8]) {
    drive(Format::Pgbackrest, data, false);
}

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
    #[test]
    fn entry_points_take_odd_input() {
        for data in [
            &b""[..],
            b"\x00\xff",
            b"{\n",
            b"[2026-11-24T09:28:09] x: started\n\xff",
            b"--------------[ Backup Statistics ]--------------\n",
            b"TASK ERROR: x\n",
            b"Termination:  *** Backup Error ***\n",
        ] {
            for f in [
                super::native,
                super::auto,
                super::restic,
                super::borg,
                super::rsnapshot,
                super::duplicity,
                super::vzdump,
                super::bacula,
                super::xo,
                super::pgbackrest,
            ] {
                f(data);
            }
        }
    }

    #[test]
    fn fuzzing_spool_entry_survives_damage() {
        let o = crate::outcome::Outcome::new("j", crate::outcome::Status::Success);
        let e = crate::spool::entry::Entry {
            id: crate::spool::entry::EntryId::new(1, 2, 3),
            spooled_at: chrono::Utc::now(),
            outcome: o,
        };
        let good = crate::spool::entry::encode(&e).unwrap();
        super::spool_entry(&good);
        for cut in 0..good.len() {
            super::spool_entry(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xff;
            super::spool_entry(&b);
        }
    }
}
