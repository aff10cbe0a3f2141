//! Problems found in a config file: one [`Problem`] per mistake, with the key path it is about,
//! collected into [`ConfigErrors`] so that `check-config` can list every one at once.
//!
//! Owns: the problem and error types, and the "did you mean" spelling suggestions. Knows nothing
//! about the schema.

use std::fmt;

/// One mistake (or, in [`crate::config::Config::warnings`], one warning) in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a key path such as `watch[2].format` or `nsca.encryption` (arrays of tables count
    /// from 0), `line 3, column 7` for a TOML syntax error, or empty for the file as a whole.
    pub key: String,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl Problem {
    /// A problem at `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `key: message`, or only the message when the key is empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Why a config could not be loaded: every problem found, in file order where possible.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{origin}: {} problem(s), first: {}", problems.len(), first(problems))]
pub struct ConfigErrors {
    /// The file (or other origin) the text came from.
    pub origin: String,
    /// Every problem found; never empty.
    pub problems: Vec<Problem>,
    /// Warnings found along the way (they alone would not have stopped the load).
    pub warnings: Vec<Problem>,
}

fn first(problems: &[Problem]) -> String {
    problems.first().map(|p| p.to_string()).unwrap_or_default()
}

impl ConfigErrors {
    /// One line per problem: `origin: key: message`.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.problems
            .iter()
            .map(move |p| format!("{}: {p}", self.origin))
    }
}

/// Collects problems and warnings while a config is read.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Problems {
    pub fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem::new(key, message));
    }

    pub fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem::new(key, message));
    }
}

/// Edit distance over chars where a swap of two neighbours counts as one edit (optimal string
/// alignment), so `evrey` is one edit from `every`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word` when it is close enough to be a likely misspelling
/// (case, `-`/`_` and up to a third of the letters may differ).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let w = norm(word);
    let limit = match w.chars().count() {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| (edit_distance(&w, &norm(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean `x`?` or nothing.
pub(crate) fn suggestion(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("grace", "grace"), 0);
        assert_eq!(edit_distance("grce", "grace"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("evrey", "every"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }

    #[test]
    fn suggestions() {
        let keys = ["name", "every", "grace", "service", "host"];
        assert_eq!(did_you_mean("grce", &keys), Some("grace"));
        assert_eq!(did_you_mean("Grace", &keys), Some("grace"));
        assert_eq!(did_you_mean("servce", &keys), Some("service"));
        assert_eq!(did_you_mean("interval", &keys), None);
        assert_eq!(did_you_mean("xy", &keys), None);
        assert_eq!(
            did_you_mean("host-name", &["host_name", "state_dir"]),
            Some("host_name")
        );
        assert_eq!(suggestion("evrey", &keys), "; did you mean `every`?");
        assert_eq!(suggestion("zzzzzz", &keys), "");
    }

    #[test]
    fn display() {
        assert_eq!(Problem::new("a.b", "bad").to_string(), "a.b: bad");
        assert_eq!(Problem::new("", "bad").to_string(), "bad");
        let e = ConfigErrors {
            origin: "f.toml".into(),
            problems: vec![Problem::new("x", "one"), Problem::new("y", "two")],
            warnings: vec![],
        };
        assert_eq!(
            e.lines().collect::<Vec<_>>(),
            ["f.toml: x: one", "f.toml: y: two"]
        );
        assert_eq!(e.to_string(), "f.toml: 2 problem(s), first: x: one");
    }
}
