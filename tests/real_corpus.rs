//! The real-world corpus: outputs that users pasted into public issue trackers, forums, docs and
//! blog posts, saved verbatim under `tests/fixtures/<tool>/real/`. Each directory's README has
//! a table, one row per file:
//!
//! ```text
//! | file | expected | source |
//! |---|---|---|
//! | `0.9-text-permission-denied.txt` | warning | https://github.com/restic/restic/issues/1234 |
//! | `syslog-4-runs.log` | success, success, warning, failure | https://... |
//! ```
//!
//! `expected` lists the status a backup admin would expect for each run in the file, in order
//! (`job=status` also checks the job name). Every file is parsed as a finished file twice: with
//! the tool's format named and with `format = "auto"` (which must detect that tool), and the
//! statuses must match exactly. Every mismatch of the whole corpus is reported at once.

use std::path::{Path, PathBuf};

use nagbridge::formats::{self, FileMeta, Format, Input, Options};

/// The tool directories and the format each one is parsed with.
const TOOLS: &[(&str, Format)] = &[
    ("restic", Format::Restic),
    ("borg", Format::Borg),
    ("rsnapshot", Format::Rsnapshot),
    ("vzdump", Format::Vzdump),
    ("bacula", Format::Bacula),
    ("xo", Format::Xo),
    ("pgbackrest", Format::Pgbackrest),
    ("duplicity", Format::Duplicity),
];

/// One row of a README table.
struct Case {
    file: PathBuf,
    /// (job, status) per expected run; job empty when not checked.
    expected: Vec<(String, String)>,
    source: String,
}

/// The rows of `dir/README.md`; a row naming a missing file, or a file without a row, is an
/// error (pushed to `problems`).
fn cases(dir: &Path, problems: &mut Vec<String>) -> Vec<Case> {
    let readme = dir.join("README.md");
    let Ok(text) = std::fs::read_to_string(&readme) else {
        problems.push(format!("{}: missing", readme.display()));
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `file` | expected | source |" splits into ["", file, expected, source, ..., ""].
        if cells.len() < 5 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`');
        let expected = cells[2]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.split_once('=') {
                Some((job, st)) => (job.trim().to_string(), st.trim().to_string()),
                None => (String::new(), s.to_string()),
            })
            .collect();
        let file = dir.join(name);
        if !file.is_file() {
            problems.push(format!(
                "{}: row names a missing file {name}",
                readme.display()
            ));
            continue;
        }
        out.push(Case {
            file,
            expected,
            source: cells[3].to_string(),
        });
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let listed = out.iter().any(|c| c.file == f);
        if !listed && f.file_name().is_some_and(|n| n != "README.md") {
            problems.push(format!("{}: no row in README.md", f.display()));
        }
    }
    out
}

/// (job, status) of every outcome of `bytes` parsed as `format`, and the format used.
fn parse(format: Format, path: &str, bytes: &[u8]) -> (Vec<(String, String)>, Option<Format>) {
    let meta = FileMeta::for_path(path);
    let options = Options {
        job: meta.file_stem.clone(),
        ..Options::default()
    };
    let parsed = formats::parse(
        format,
        &Input {
            bytes,
            meta: &meta,
            exit_code: None,
            options: &options,
            complete: true,
        },
    );
    let got = parsed
        .outcomes
        .iter()
        .map(|o| (o.job.clone(), o.status.as_str().to_string()))
        .collect();
    (got, parsed.format)
}

fn matches(expected: &[(String, String)], got: &[(String, String)]) -> bool {
    expected.len() == got.len()
        && expected
            .iter()
            .zip(got)
            .all(|((ej, es), (gj, gs))| es == gs && (ej.is_empty() || ej == gj))
}

fn show(v: &[(String, String)]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|(j, s)| {
            if j.is_empty() {
                s.clone()
            } else {
                format!("{j}={s}")
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[test]
fn every_real_run_has_the_expected_status_named_and_auto() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut problems = Vec::new();
    let mut table = Vec::new();
    for &(tool, format) in TOOLS {
        let dir = root.join(tool).join("real");
        let cases = cases(&dir, &mut problems);
        let (mut runs, mut named_ok, mut auto_ok) = (0, 0, 0);
        for case in &cases {
            if case.expected.is_empty() || !case.source.starts_with("http") {
                problems.push(format!(
                    "{}: a row needs expected statuses and a source URL",
                    case.file.display()
                ));
            }
            let bytes = std::fs::read(&case.file).unwrap();
            let path = format!(
                "/var/log/{tool}/{}",
                case.file.file_name().unwrap().to_string_lossy()
            );
            let (named, _) = parse(format, &path, &bytes);
            let (auto, detected) = parse(Format::Auto, &path, &bytes);
            runs += case.expected.len();
            let ex = show(&case.expected);
            if matches(&case.expected, &named) {
                named_ok += case.expected.len();
            } else {
                problems.push(format!(
                    "{tool}/real/{}: format {tool}: expected {ex}, got {}",
                    case.file.file_name().unwrap().to_string_lossy(),
                    show(&named)
                ));
            }
            if detected == Some(format) && matches(&case.expected, &auto) {
                auto_ok += case.expected.len();
            } else {
                problems.push(format!(
                    "{tool}/real/{}: auto detected {:?}: expected {ex}, got {}",
                    case.file.file_name().unwrap().to_string_lossy(),
                    detected.map(|f| f.name()),
                    show(&auto)
                ));
            }
        }
        table.push(format!(
            "{tool:<11} files {:>3}  runs {runs:>4}  right named {named_ok:>4}  right auto {auto_ok:>4}",
            cases.len()
        ));
    }
    println!("real corpus:\n{}", table.join("\n"));
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
