//! The history rule: what is reported of the old results in a file that was already there the
//! first time its watch was scanned (`[[watch]] history`), and what appended bytes that hold no
//! result make.
//!
//! Owns: keeping the last outcome per (host, job) of a history read (`history = "last"`), and
//! the rule that blank appended bytes are no result. Pure functions of the outcomes.
//! Must not: parse, spool or decide what history is (the watcher marks it).

use std::collections::HashMap;

use crate::outcome::Outcome;

/// Keep the last outcome of each (host, job), in their original order; returns how many were
/// dropped. "Last" is the file's order: logs and JSON lines are written oldest first.
pub fn keep_last_per_job(outcomes: &mut Vec<Outcome>) -> usize {
    let before = outcomes.len();
    let mut last: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        last.insert((o.host.as_deref(), o.job.as_str()), i);
    }
    let keep: Vec<bool> = (0..outcomes.len())
        .map(|i| {
            let o = &outcomes[i];
            last.get(&(o.host.as_deref(), o.job.as_str())) == Some(&i)
        })
        .collect();
    let mut i = 0;
    outcomes.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    before - outcomes.len()
}

/// True when bytes appended to a file (from an offset past 0) hold nothing but whitespace: a
/// newline that ended a line read before, or blank lines. They make no outcome (a whole file
/// that is blank is still reported as empty by its parser).
pub fn blank_append(offset: u64, bytes: &[u8]) -> bool {
    offset > 0 && bytes.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;

    fn o(job: &str, host: Option<&str>, status: Status) -> Outcome {
        let mut o = Outcome::new(job, status);
        o.host = host.map(str::to_string);
        o
    }

    #[test]
    fn last_per_host_and_job_in_file_order() {
        let mut v = vec![
            o("a", None, Status::Failure),
            o("b", None, Status::Success),
            o("a", None, Status::Success),
            o("a", Some("vm1"), Status::Failure),
            o("b", None, Status::Warning),
        ];
        assert_eq!(keep_last_per_job(&mut v), 2);
        let got: Vec<_> = v
            .iter()
            .map(|o| (o.job.as_str(), o.host.as_deref(), o.status))
            .collect();
        assert_eq!(
            got,
            [
                ("a", None, Status::Success),
                ("a", Some("vm1"), Status::Failure),
                ("b", None, Status::Warning)
            ]
        );
    }

    #[test]
    fn blank_appends() {
        assert!(blank_append(10, b"\n"));
        assert!(blank_append(10, b" \r\n\n"));
        assert!(
            !blank_append(0, b"\n"),
            "a blank file is its parser's to report"
        );
        assert!(!blank_append(10, b"{}\n"));
    }
}
