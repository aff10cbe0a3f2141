//! Hostile numbers: every number in every parser fixture (hand-written and the real-world
//! corpus) is replaced, one at a time, by huge, negative and odd values, and the file is parsed
//! with its tool's format and with `auto`, as a finished file and as a log still growing. No
//! parser may panic (the sweep drives the parsers without the agent's panic guard) and what
//! comes out must be sane: durations finite and not negative, times between 1970 and 2200,
//! plugin output within NSCA's limit.

use std::path::{Path, PathBuf};

use nagbridge::formats::{self, FileMeta, Format, Input, Options};
use nagbridge::outcome::{plugin_output, Outcome, MAX_OUTPUT};

/// What each number is replaced with.
const HOSTILE: &[&str] = &[
    "99999999999999999999999999",
    "18446744073709551616",
    "18446744073709551615",
    "9223372036854775808",
    "9223372036854775807",
    "4294967296",
    "3000000000",
    "-9223372036854775808",
    "-1",
    "1e308",
    "0",
];

/// Numbers replaced per file at most (spread evenly over the file), to bound the run time.
const MAX_SITES: usize = 150;

fn fixtures() -> Vec<(Format, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for (tool, format) in [
        ("restic", Format::Restic),
        ("borg", Format::Borg),
        ("rsnapshot", Format::Rsnapshot),
        ("vzdump", Format::Vzdump),
        ("bacula", Format::Bacula),
        ("xo", Format::Xo),
        ("pgbackrest", Format::Pgbackrest),
        ("duplicity", Format::Duplicity),
    ] {
        let mut stack = vec![root.join(tool)];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n != "README.md") {
                    out.push((format, p));
                }
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Byte ranges of the runs of ASCII digits in `b`.
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Why an outcome is not sane, if it is not.
fn insane(o: &Outcome) -> Option<String> {
    if let Some(d) = o.duration_s {
        if !d.is_finite() || d < 0.0 {
            return Some(format!("duration_s {d}"));
        }
    }
    for t in [o.started, o.finished].into_iter().flatten() {
        let y = chrono::Datelike::year(&t);
        if !(1970..=2200).contains(&y) {
            return Some(format!("time {t}"));
        }
    }
    if plugin_output(o, None, MAX_OUTPUT).len() > MAX_OUTPUT {
        return Some("plugin output over the limit".into());
    }
    let _ = o.to_json_line();
    None
}

/// Parse `bytes` every way; the problems found.
fn check(format: Format, path: &str, bytes: &[u8]) -> Vec<String> {
    let meta = FileMeta::for_path(path);
    let options = Options {
        job: meta.file_stem.clone(),
        split_items: true,
        ..Options::default()
    };
    let mut problems = Vec::new();
    for f in [format, Format::Auto] {
        for complete in [true, false] {
            let input = Input {
                bytes,
                meta: &meta,
                exit_code: None,
                options: &options,
                complete,
            };
            match std::panic::catch_unwind(|| formats::parse_unguarded(f, &input)) {
                Err(e) => {
                    let what = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    problems.push(format!("{f} complete={complete}: panic: {what}"));
                }
                Ok(p) => {
                    if p.consumed > bytes.len() {
                        problems.push(format!("{f}: consumed past the end"));
                    }
                    for o in &p.outcomes {
                        if let Some(why) = insane(o) {
                            problems.push(format!("{f} complete={complete}: {why}"));
                        }
                    }
                }
            }
        }
    }
    problems
}

/// Every hostile variant of `files`: (problems, cases).
fn sweep<'a>(files: impl Iterator<Item = &'a (Format, PathBuf)>) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut cases = 0usize;
    for (format, path) in files {
        let bytes = std::fs::read(path).unwrap();
        let shown = path.display().to_string();
        let sites = numbers(&bytes);
        let step = sites.len().div_ceil(MAX_SITES).max(1);
        for &(start, end) in sites.iter().step_by(step) {
            for value in HOSTILE {
                let mut b = Vec::with_capacity(bytes.len() + value.len());
                b.extend_from_slice(&bytes[..start]);
                b.extend_from_slice(value.as_bytes());
                b.extend_from_slice(&bytes[end..]);
                cases += 1;
                for p in check(*format, &shown, &b) {
                    problems.push(format!("{shown} @{start} = {value}: {p}"));
                }
            }
        }
    }
    (problems, cases)
}

#[test]
fn no_panic_and_sane_output_when_any_number_is_hostile() {
    // Panics are expected to be caught and counted here, not printed per case.
    std::panic::set_hook(Box::new(|_| {}));
    // The files are shared out over the cores (each case is independent).
    let files = fixtures();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let (problems, cases): (Vec<Vec<String>>, Vec<usize>) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let files = &files;
                scope.spawn(move || sweep(files.iter().skip(t).step_by(threads)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).unzip()
    });
    let mut problems: Vec<String> = problems.into_iter().flatten().collect();
    let cases: usize = cases.into_iter().sum();
    let _ = std::panic::take_hook();
    println!(
        "number sweep: {cases} mutated files, {} problems",
        problems.len()
    );
    assert!(cases > 1000, "the sweep found too few numbers ({cases})");
    problems.sort();
    problems.dedup();
    // One line per (file, kind of problem) with its count, then examples.
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for p in &problems {
        let file = p.split(" @").next().unwrap_or_default();
        let kind = p
            .rsplit(": ")
            .next()
            .unwrap_or_default()
            .split([' ', '('])
            .next()
            .unwrap_or_default();
        *kinds.entry(format!("{file}: {kind}")).or_default() += 1;
    }
    for (k, n) in &kinds {
        println!("{n:>6} {k}");
    }
    assert!(
        problems.is_empty(),
        "{} problems (first 60):\n{}",
        problems.len(),
        problems
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
