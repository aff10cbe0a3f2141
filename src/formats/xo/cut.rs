//! An XO log cut before its end (a paste that stops mid-way, a dump still truncated when the
//! file was closed): the root object's own fields (`status`, `jobName`, `start`, `end`,
//! `data.mode` aside) come before its `tasks`, so a byte scan that tracks nesting reads them.
//!
//! Owns: that scan and the outcome it gives (the status of the root, the summary saying the log
//! is incomplete). Must not do I/O.

use super::{millis, Input, Outcome, Status, Value, XoStatus, TOOL};

/// Scalars of the root object of a (cut) JSON document: `(key, raw value)`, strings unquoted.
fn root_scalars(b: &[u8]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let mut key: Option<String> = None;
    let mut expect_value = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if j >= b.len() {
                    break; // cut inside a string
                }
                let raw = &b[start..j];
                if depth == 1 {
                    let s: Option<String> = serde_json::from_slice(&b[start - 1..=j]).ok();
                    let s = s.unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
                    if expect_value {
                        if let Some(k) = key.take() {
                            out.push((k, Value::String(s)));
                        }
                        expect_value = false;
                    } else {
                        key = Some(s);
                    }
                }
                i = j + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 2 {
                    key = None;
                    expect_value = false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' if depth == 1 => expect_value = true,
            b',' if depth == 1 => {
                key = None;
                expect_value = false;
            }
            c if depth == 1 && expect_value && (c == b'-' || c.is_ascii_digit()) => {
                let start = i;
                while i < b.len() && !matches!(b[i], b',' | b'}' | b'\n' | b'\r' | b' ') {
                    i += 1;
                }
                if i >= b.len() {
                    break; // cut inside a number
                }
                if let (Some(k), Ok(v)) =
                    (key.take(), serde_json::from_slice::<Value>(&b[start..i]))
                {
                    out.push((k, v));
                }
                expect_value = false;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The outcome of a cut log.
pub(super) fn outcome(input: &Input<'_>, b: &[u8]) -> Outcome {
    let fields = root_scalars(b);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let Some(raw) = get("status").and_then(|v| super::text(Some(v))) else {
        return Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            "not an xo backup log: the JSON ends before its status",
        );
    };
    let st: XoStatus = serde_json::from_value(Value::String(raw.clone())).unwrap_or_default();
    let status = match st {
        XoStatus::Success => Status::Success,
        XoStatus::Skipped => Status::Warning,
        XoStatus::Failure | XoStatus::Interrupted => Status::Failure,
        XoStatus::Pending | XoStatus::Other => Status::Unknown,
    };
    let job = get("jobName")
        .or_else(|| get("jobId"))
        .and_then(|v| super::text(Some(v)))
        .unwrap_or_else(|| input.options.job.clone());
    let mut o = Outcome::new(job, status);
    o.tool = Some(TOOL.into());
    o.started = millis(get("start"));
    o.finished = millis(get("end"));
    let note = format!("log cut before its end: job status {raw}, details not known");
    match status {
        Status::Failure => o.errors.push(note.clone()),
        Status::Success => {}
        _ => o.warnings.push(note.clone()),
    }
    o.summary = Some(note);
    o
}
