//! Backup result formats: one parser per tool, each a pure function from a file's bytes (plus
//! its metadata and, for `wrap`, the command's exit code) to outcomes. No I/O, no clock, no
//! globals: this is what the fuzzers and fixture tests drive.
//!
//! Owns: the [`Format`] names of SPEC section 4, the parser interface ([`Input`] ->
//! [`Parsed`]), dispatch, and `auto` detection. Each tool lives in its own file.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::outcome::{Outcome, Status};

pub mod bacula;
pub mod borg;
mod common;
pub mod detect;
pub mod duplicity;
pub mod native;
pub mod pgbackrest;
pub mod restic;
pub mod rsnapshot;
#[cfg(test)]
mod test_support;
pub mod vzdump;
pub mod xo;

/// A result format name (`[[watch]] format = ...`, `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Detect from content (and file name where reliable).
    Auto,
    /// nagbridge's own JSON (SPEC section 5).
    Native,
    /// `restic backup --json` (and check, forget).
    Restic,
    /// `borg create --json` / `--log-json`.
    Borg,
    /// rsnapshot's log file.
    Rsnapshot,
    /// Proxmox vzdump task logs.
    Vzdump,
    /// Bacula and Bareos job reports.
    Bacula,
    /// Xen Orchestra backup logs.
    Xo,
    /// pgBackRest logs and `info --output=json`.
    Pgbackrest,
    /// duplicity's statistics block.
    Duplicity,
}

/// Every format, `auto` first.
pub const FORMATS: &[(Format, &str)] = &[
    (Format::Auto, "auto"),
    (Format::Native, "native"),
    (Format::Restic, "restic"),
    (Format::Borg, "borg"),
    (Format::Rsnapshot, "rsnapshot"),
    (Format::Vzdump, "vzdump"),
    (Format::Bacula, "bacula"),
    (Format::Xo, "xo"),
    (Format::Pgbackrest, "pgbackrest"),
    (Format::Duplicity, "duplicity"),
];

impl Format {
    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        FORMATS
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| *n)
            .unwrap_or("auto")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        let l = s.trim().to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|(_, n)| {
                *n == l || (l == "bareos" && *n == "bacula") || (l == "json" && *n == "native")
            })
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = FORMATS.iter().map(|(_, n)| *n).collect();
                format!("unknown format {s:?}: expected one of {}", names.join(", "))
            })
    }
}

/// What a parser knows about the file besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct FileMeta {
    /// Path as shown to users (the outcome's `source`).
    pub path: String,
    /// File name without directory and last extension (`nightly-db` for `nightly-db.log`).
    pub file_stem: String,
    /// Modification time, used as `finished` when the content has no time.
    pub modified: Option<DateTime<Utc>>,
}

impl FileMeta {
    /// Meta for a path (stem derived from it), without a modification time.
    pub fn for_path(path: &str) -> FileMeta {
        let name = path.rsplit('/').next().unwrap_or(path);
        let stem = match name.rfind('.') {
            Some(i) if i > 0 => &name[..i],
            _ => name,
        };
        FileMeta {
            path: path.to_string(),
            file_stem: stem.to_string(),
            modified: None,
        }
    }
}

/// Per-watch parser options (SPEC section 4 and the parsers issue).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Job name when the content does not name one (already filled from the watch's `job`
    /// template, e.g. the file stem).
    pub job: String,
    /// One outcome per item in addition to the job's (`items = "split"`).
    pub split_items: bool,
    /// Exit code overrides: exit code -> status (e.g. borg 105 -> failure, rsync 24 -> success).
    pub exit_codes: BTreeMap<i32, Status>,
    /// Status for a run that processed zero files (None: the parser's default).
    pub zero_files: Option<Status>,
    /// Status for a canceled run (None: the parser's default).
    pub canceled: Option<Status>,
}

/// The input of a parser: bytes, what is known about them, and the exit code under `wrap`.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The content (for append-only logs: from the checkpoint on).
    pub bytes: &'a [u8],
    /// The file's metadata.
    pub meta: &'a FileMeta,
    /// The command's exit code, when `wrap` ran it.
    pub exit_code: Option<i32>,
    /// Options of the watch.
    pub options: &'a Options,
    /// True when `bytes` is the whole file has been written and closed (or renamed into place,
    /// or quiet); false for a log that may still grow, where an incomplete trailing run must be
    /// left for later.
    pub complete: bool,
}

/// What a parser found.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Outcomes of the finished runs, in order.
    pub outcomes: Vec<Outcome>,
    /// How many bytes of the input were fully used. For a whole-file format this is the
    /// length; for an append-only log, the end of the last complete run, so the watcher can
    /// give the rest again with more bytes later.
    pub consumed: usize,
    /// The format that was used (the detected one under `auto`).
    pub format: Option<Format>,
}

impl Parsed {
    /// Everything consumed, these outcomes.
    pub fn whole(input: &Input<'_>, outcomes: Vec<Outcome>, format: Format) -> Parsed {
        Parsed {
            outcomes,
            consumed: input.bytes.len(),
            format: Some(format),
        }
    }
}

/// Parse `input` as `format`. Never panics; an input that cannot be understood gives one
/// `unknown` outcome that names the file and the reason.
///
/// A parser bug that panics (a parser must not rely on this) is caught here and becomes one
/// `unknown` outcome naming the file, with the whole input consumed: the watcher's checkpoint
/// advances, so a hostile file cannot crash the agent in a loop.
pub fn parse(format: Format, input: &Input<'_>) -> Parsed {
    guarded(format, input, || parse_unguarded(format, input))
}

/// Run `parse`, turning a panic into one `unknown` outcome that consumes the whole input.
fn guarded(format: Format, input: &Input<'_>, parse: impl FnOnce() -> Parsed) -> Parsed {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)) {
        Ok(parsed) => parsed,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let mut o = Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                format!(
                    "the {format} parser failed on this file ({what}); this is a nagbridge bug, \
                     please report it with the file; the file is skipped"
                ),
            );
            o.tool = (format != Format::Auto).then(|| format.name().to_string());
            Parsed {
                outcomes: vec![o],
                consumed: input.bytes.len(),
                format: Some(format),
            }
        }
    }
}

/// [`parse`] without the panic guard: what the fuzz targets and the number sweep drive, so
/// that a panic is found instead of hidden.
#[doc(hidden)]
pub fn parse_unguarded(format: Format, input: &Input<'_>) -> Parsed {
    let mut parsed = match format {
        // The detected format's parse does the common steps below once.
        Format::Auto => match detect::detect(input) {
            Some(detected) => return parse_unguarded(detected, input),
            None => detect::undetected(input),
        },
        Format::Native => native::parse(input),
        Format::Vzdump => vzdump::parse(input),
        Format::Bacula => bacula::parse(input),
        Format::Xo => xo::parse(input),
        Format::Pgbackrest => pgbackrest::parse(input),
        Format::Restic => restic::parse(input),
        Format::Borg => borg::parse(input),
        Format::Rsnapshot => rsnapshot::parse(input),
        Format::Duplicity => duplicity::parse(input),
    };
    for o in &mut parsed.outcomes {
        if o.source.is_none() {
            o.source = Some(input.meta.path.clone());
        }
        if o.job.trim().is_empty() {
            o.job = input.options.job.clone();
        }
    }
    apply_exit_code(input, &mut parsed.outcomes);
    if input.options.split_items {
        split_items(&mut parsed.outcomes);
    }
    parsed
}

/// Under `wrap`, a non-zero exit code makes a successful-looking outcome a failure unless the
/// watch maps that code; a mapped code sets the status.
fn apply_exit_code(input: &Input<'_>, outcomes: &mut [Outcome]) {
    let Some(code) = input.exit_code else { return };
    for o in outcomes {
        if let Some(&status) = input.options.exit_codes.get(&code) {
            o.status = status;
        } else if code != 0 && o.status == Status::Success {
            o.status = Status::Failure;
            o.errors.push(format!("command exited with code {code}"));
        }
    }
}

/// `items = "split"`: one extra outcome per item, host = the item's name.
fn split_items(outcomes: &mut Vec<Outcome>) {
    let mut extra = Vec::new();
    for o in outcomes.iter() {
        for item in &o.items {
            let mut x = Outcome::new(o.job.clone(), item.status);
            x.host = Some(item.name.clone());
            x.tool = o.tool.clone();
            x.started = o.started;
            x.finished = o.finished;
            x.bytes = item.bytes;
            x.summary = item.message.clone();
            x.source = o.source.clone();
            extra.push(x);
        }
    }
    outcomes.extend(extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (f, n) in FORMATS {
            assert_eq!(n.parse::<Format>().unwrap(), *f);
            assert_eq!(f.name(), *n);
        }
        assert_eq!("Bareos".parse::<Format>().unwrap(), Format::Bacula);
        assert!("tar"
            .parse::<Format>()
            .unwrap_err()
            .contains("expected one of auto, native"));
    }

    #[test]
    fn stem() {
        assert_eq!(
            FileMeta::for_path("/var/log/x/nightly-db.log").file_stem,
            "nightly-db"
        );
        assert_eq!(FileMeta::for_path(".hidden").file_stem, ".hidden");
    }

    #[test]
    fn a_parser_panic_is_one_unknown_outcome_consuming_the_file() {
        let meta = FileMeta::for_path("/r/hostile.log");
        let options = Options {
            job: "hostile".into(),
            ..Options::default()
        };
        let input = Input {
            bytes: b"Finished Backup of VM 100 (3000000000:00:00)\n",
            meta: &meta,
            exit_code: None,
            options: &options,
            complete: false,
        };
        let p = guarded(Format::Vzdump, &input, || panic!("overflow in {}", 1 + 1));
        assert_eq!(p.consumed, input.bytes.len(), "the checkpoint must advance");
        assert_eq!(p.outcomes.len(), 1);
        let o = &p.outcomes[0];
        assert_eq!((o.status, o.job.as_str()), (Status::Unknown, "hostile"));
        let summary = o.summary.as_deref().unwrap();
        assert!(
            summary.contains("/r/hostile.log") && summary.contains("overflow in 2"),
            "{summary}"
        );
        // A parser that does not panic is passed through.
        let q = guarded(Format::Vzdump, &input, || {
            Parsed::whole(&input, vec![], Format::Vzdump)
        });
        assert!(q.outcomes.is_empty());
    }

    #[test]
    fn exit_codes_and_split() {
        let meta = FileMeta::for_path("/r/j.json");
        let body = br#"{"job":"j","status":"success","items":[{"name":"vm1","status":"failure"}]}"#;
        let run = |options: &Options| {
            let input = Input {
                bytes: body,
                meta: &meta,
                exit_code: Some(1),
                options,
                complete: true,
            };
            parse(Format::Native, &input).outcomes
        };
        let mut options = Options {
            job: "j".into(),
            split_items: true,
            ..Options::default()
        };
        let o = run(&options);
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].status, Status::Failure);
        assert!(o[0]
            .errors
            .contains(&"command exited with code 1".to_string()));
        assert_eq!(
            (o[1].host.as_deref(), o[1].status),
            (Some("vm1"), Status::Failure)
        );
        options.exit_codes.insert(1, Status::Warning);
        assert_eq!(run(&options)[0].status, Status::Warning);
    }

    #[test]
    fn auto_splits_items_once() {
        // Regression: auto used to run the common steps twice (detected parse, then auto),
        // which split every item into two extra outcomes.
        let meta = FileMeta::for_path("/r/j.json");
        let body = br#"{"job":"j","status":"success","items":[{"name":"vm1","status":"failure"}]}"#;
        let options = Options {
            job: "j".into(),
            split_items: true,
            ..Options::default()
        };
        let input = Input {
            bytes: body,
            meta: &meta,
            exit_code: Some(1),
            options: &options,
            complete: true,
        };
        let o = parse(Format::Auto, &input).outcomes;
        assert_eq!(o.len(), 2, "{o:#?}");
        assert_eq!(
            o[0].errors,
            ["command exited with code 1".to_string()],
            "the exit code is applied once"
        );
    }
}
