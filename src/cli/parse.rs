//! `nagbridge parse [--format NAME] FILE...`: print the outcomes derived from each file as JSON
//! lines (SPEC section 5), and on stderr which format was used. No network.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::formats::{self, FileMeta, Format, Input, Options};
use crate::outcome::Outcome;

/// Files larger than this are not read: one `unknown` outcome says so.
pub const DEFAULT_MAX_FILE: u64 = 16 * 1024 * 1024;

/// Arguments of `parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Format of the files (auto detects it): auto, native, restic, borg, rsnapshot, vzdump,
    /// bacula, xo, pgbackrest, duplicity
    #[arg(long, short = 'f', default_value = "auto")]
    pub format: Format,
    /// Job name for files that do not name their job (default: the file name without extension)
    #[arg(long)]
    pub job: Option<String>,
    /// Treat the command that wrote the file as having exited with this code
    #[arg(long, allow_negative_numbers = true)]
    pub exit_code: Option<i32>,
    /// Print the passive check each outcome becomes (`host;service;code;plugin output`, with
    /// the default templates) instead of JSON
    #[arg(long)]
    pub nagios: bool,
    /// Files to parse
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

impl clap::builder::ValueParserFactory for Format {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Format>())
    }
}

/// Run `parse`; returns the exit code (0, or 1 when a file could not be read).
pub fn run(args: &ParseArgs) -> i32 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut code = 0;
    for path in &args.files {
        let shown = path.display().to_string();
        let meta = FileMeta {
            modified: std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .map(chrono::DateTime::<chrono::Utc>::from),
            ..FileMeta::for_path(&shown)
        };
        let options = Options {
            job: args.job.clone().unwrap_or_else(|| meta.file_stem.clone()),
            ..Options::default()
        };
        let outcomes = match read_bounded(path, DEFAULT_MAX_FILE) {
            Ok(bytes) => {
                let input = Input {
                    bytes: &bytes,
                    meta: &meta,
                    exit_code: args.exit_code,
                    options: &options,
                    complete: true,
                };
                let parsed = formats::parse(args.format, &input);
                match parsed.format {
                    Some(f) if args.format == Format::Auto => {
                        eprintln!("{shown}: detected format {f}")
                    }
                    Some(f) => eprintln!("{shown}: format {f}"),
                    None => eprintln!("{shown}: format not detected"),
                }
                parsed.outcomes
            }
            Err(reason) => {
                code = 1;
                eprintln!("{shown}: {reason}");
                vec![Outcome::unknown(&options.job, &shown, reason)]
            }
        };
        for o in outcomes {
            let line = if args.nagios {
                let host = crate::outcome::fill_template("{host}", &o, "localhost", 63);
                let service = crate::outcome::fill_template("backup {job}", &o, "localhost", 127);
                let text = crate::outcome::plugin_output(&o, None, crate::outcome::MAX_OUTPUT);
                format!("{host};{service};{};{text}", o.status.nagios_code())
            } else {
                o.to_json_line()
            };
            if writeln!(out, "{line}").is_err() {
                return 1; // stdout closed (e.g. piped into head)
            }
        }
    }
    code
}

/// Read a regular file of at most `max` bytes.
fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!(
            "the file is {} bytes, over the {max}-byte limit; it was not read",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "the file grew over the {max}-byte limit while being read"
        ));
    }
    Ok(bytes)
}
