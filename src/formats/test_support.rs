//! Test-only helpers the parsers' unit tests share: fixture files, options for a job, parsing a
//! body through [`super::parse`] as the watcher would, and detection on a bare body.
//!
//! Owns nothing at run time; each parser's tests keep their own paths, jobs and expectations.

use super::{FileMeta, Format, Input, Options, Parsed};
use crate::outcome::{Outcome, Status};

/// The bytes of `tests/fixtures/<tool>/<name>`.
pub(super) fn fixture(tool: &str, name: &str) -> Vec<u8> {
    let path = fixture_path(tool, name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of `tests/fixtures/<tool>/<name>`.
pub(super) fn fixture_text(tool: &str, name: &str) -> String {
    let path = fixture_path(tool, name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_path(tool: &str, name: &str) -> String {
    format!(
        "{}/tests/fixtures/{tool}/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The default options with this job name.
pub(super) fn job(name: &str) -> Options {
    Options {
        job: name.into(),
        ..Options::default()
    }
}

/// Parse `body` as `format` through [`super::parse`] (job, source, exit code and split items
/// applied as for a watch).
pub(super) fn parse_as(
    format: Format,
    meta: &FileMeta,
    body: &[u8],
    code: Option<i32>,
    options: &Options,
    complete: bool,
) -> Parsed {
    super::parse(
        format,
        &Input {
            bytes: body,
            meta,
            exit_code: code,
            options,
            complete,
        },
    )
}

/// The one outcome of the complete file `body` at `path`, which must be consumed whole.
pub(super) fn single(
    format: Format,
    path: &str,
    body: &[u8],
    code: Option<i32>,
    options: &Options,
) -> Outcome {
    let p = parse_as(format, &FileMeta::for_path(path), body, code, options, true);
    assert_eq!(p.outcomes.len(), 1, "{:#?}", p.outcomes);
    assert_eq!(p.consumed, body.len());
    p.outcomes.into_iter().next().unwrap()
}

/// A detector on a complete `body` with no metadata, options or exit code.
pub(super) fn looks(looks_like: fn(&Input<'_>) -> bool, body: &[u8]) -> bool {
    looks_like(&Input {
        bytes: body,
        meta: &FileMeta::default(),
        exit_code: None,
        options: &Options::default(),
        complete: true,
    })
}

/// (job, status) of each outcome, in order.
pub(super) fn jobs(outcomes: &[Outcome]) -> Vec<(&str, Status)> {
    outcomes
        .iter()
        .map(|o| (o.job.as_str(), o.status))
        .collect()
}
