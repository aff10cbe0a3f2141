//! `nagbridge check-config [-c FILE]`: validate the config offline, and check each watch path
//! as the user it runs as (a readable directory outside `state_dir`). Prints
//! `config OK: <path> (N watches, M jobs, K channels; passive checks to nsca, icinga2)` and
//! exits 0, or one line per problem
//! (`path: key: message`) and exits 2. Warnings (`warning: path: key: message`) do not change
//! the exit code. Everything goes to stdout: the report is the command's output.

use std::path::Path;

use crate::config::{self, Config};

/// Exit code for a config that cannot be used (SPEC section 2).
pub const EXIT_CONFIG: i32 = 2;

/// Run the command; returns the exit code.
pub fn main(explicit: Option<&Path>) -> i32 {
    let path = config::locate(explicit);
    let shown = path.display().to_string();
    match Config::check(&path) {
        Ok(c) => {
            for w in &c.warnings {
                println!("warning: {shown}: {w}");
            }
            let passive: Vec<String> = crate::pipeline::passive::passive_names(&c)
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            println!(
                "config OK: {shown} ({} watches, {} jobs, {} channels; passive checks to {})",
                c.watches.len(),
                c.jobs.len(),
                c.channels.len(),
                if passive.is_empty() {
                    "none, channels only".to_string()
                } else {
                    passive.join(", ")
                }
            );
            0
        }
        Err(e) => {
            for w in &e.warnings {
                println!("warning: {shown}: {w}");
            }
            for line in e.lines() {
                println!("{line}");
            }
            println!(
                "config INVALID: {shown} ({} problem{})",
                e.problems.len(),
                if e.problems.len() == 1 { "" } else { "s" }
            );
            EXIT_CONFIG
        }
    }
}
