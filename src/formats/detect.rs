//! `format = "auto"`: pick the format from the content (and the file name where that is
//! reliable). An input no detector recognises becomes an `unknown` outcome that names the
//! formats tried.

use super::{bacula, native, pgbackrest, vzdump, xo, Format, Input, Parsed};
use crate::outcome::Outcome;

/// A detector: does this input look like that format?
type Detector = fn(&Input<'_>) -> bool;

/// Detectors in the order they are tried (most specific first).
const DETECTORS: &[(Format, Detector)] = &[
    (Format::Xo, xo::looks_like),
    (Format::Native, |i| native::looks_native(i.bytes)),
    (Format::Restic, super::restic::looks_like),
    (Format::Borg, super::borg::looks_like),
    (Format::Rsnapshot, super::rsnapshot::looks_like),
    (Format::Duplicity, super::duplicity::looks_like),
    (Format::Vzdump, vzdump::looks_like),
    (Format::Bacula, bacula::looks_like),
    (Format::Pgbackrest, pgbackrest::looks_like),
];

/// The detected format, if any.
pub fn detect(input: &Input<'_>) -> Option<Format> {
    DETECTORS
        .iter()
        .find(|(_, looks)| looks(input))
        .map(|(f, _)| *f)
}

/// The one `unknown` outcome of an input no detector recognises (it names the formats tried).
pub fn undetected(input: &Input<'_>) -> Parsed {
    let tried: Vec<&str> = DETECTORS.iter().map(|(f, _)| f.name()).collect();
    Parsed {
        outcomes: vec![Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            format!(
                "could not detect the format (tried {}); set format in the [[watch]] section",
                tried.join(", ")
            ),
        )],
        consumed: input.bytes.len(),
        format: None,
    }
}
