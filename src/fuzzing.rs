//! Entry points for the fuzz targets in `fuzz/` (the rustls `pub mod fuzzing` pattern): each
//! function drives one parser over arbitrary bytes, as a finished file and as a log still being
//! written, and checks the interface's promises (no panic, `consumed` within the input, a whole
//! file fully consumed). Not part of the stable API.

use crate::formats::{self, FileMeta, Format, Input, Options};

/// Parse `data` as `format` both ways and check the invariants every parser keeps.
fn drive(format: Format, data: &[u8]) {
    let meta = FileMeta::for_path("/fuzz/input.log");
    let options = Options {
        job: "fuzz".into(),
        split_items: true,
        ..Options::default()
    };
    for complete in [true, false] {
        let input = Input {
            bytes: data,
            meta: &meta,
            exit_code: None,
            options: &options,
            complete,
        };
        let parsed = formats::parse(format, &input);
        assert!(parsed.consumed <= data.len(), "consumed past the end");
        if complete {
            assert_eq!(
                parsed.consumed,
                data.len(),
                "a complete file is consumed whole"
            );
        }
        for o in &parsed.outcomes {
            let _ = o.to_json_line();
        }
    }
}

/// Proxmox vzdump task logs, index lines, guest logs and mails.
pub fn vzdump(data: &[u8]) {
    drive(Format::Vzdump, data);
}

/// Bacula and Bareos job reports and logs.
pub fn bacula(data: &[u8]) {
    drive(Format::Bacula, data);
}

/// Xen Orchestra backup logs (JSON and JSON lines).
pub fn xo(data: &[u8]) {
    drive(Format::Xo, data);
}

/// pgBackRest logs and `info --output=json`.
pub fn pgbackrest(data: &[u8]) {
    drive(Format::Pgbackrest, data);
}
