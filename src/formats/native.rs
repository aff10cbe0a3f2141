//! The native result format (SPEC section 5): the `Outcome` JSON written by any script, one
//! object per file or one per line. `status` accepts the aliases of [`Status::parse`]; `job`
//! may be left out (the watch's job template is used); unknown keys are ignored.

use serde_json::Value;

use super::{Format, Input, Parsed};
use crate::outcome::{Outcome, Status};

/// Parse native JSON: a whole-file object, or JSON lines. A bad line gives an `unknown`
/// outcome for that line and the other lines still count.
pub fn parse(input: &Input<'_>) -> Parsed {
    let text = input.bytes;
    let trimmed = trim(text);
    if trimmed.is_empty() {
        return Parsed::whole(
            input,
            vec![Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                "the file is empty",
            )],
            Format::Native,
        );
    }
    // One object for the whole file (possibly pretty-printed over many lines).
    if let Ok(value) = serde_json::from_slice::<Value>(trimmed) {
        if value.is_object() {
            return Parsed::whole(input, vec![outcome(value, input, None)], Format::Native);
        }
        if let Value::Array(values) = value {
            if values.is_empty() {
                let o = Outcome::unknown(
                    &input.options.job,
                    &input.meta.path,
                    "the file holds an empty JSON array: no result in it",
                );
                return Parsed::whole(input, vec![o], Format::Native);
            }
            let outcomes = values
                .into_iter()
                .map(|v| outcome(v, input, None))
                .collect();
            return Parsed::whole(input, outcomes, Format::Native);
        }
    }
    // JSON lines. Without the final newline the last line may still be being written.
    let end = if input.complete {
        text.len()
    } else {
        text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
    };
    let mut outcomes = Vec::new();
    for (n, line) in text[..end].split(|&b| b == b'\n').enumerate() {
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => outcomes.push(outcome(v, input, Some(n + 1))),
            Err(e) => outcomes.push(Outcome::unknown(
                &input.options.job,
                &input.meta.path,
                format!("line {}: not JSON: {e}", n + 1),
            )),
        }
    }
    Parsed {
        outcomes,
        consumed: end,
        format: Some(Format::Native),
    }
}

/// True when the bytes look like native JSON (an object with a `status` key we understand).
pub fn looks_native(bytes: &[u8]) -> bool {
    let first = trim(bytes)
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let candidate = if let Ok(v) = serde_json::from_slice::<Value>(trim(bytes)) {
        Some(v)
    } else {
        serde_json::from_slice::<Value>(trim(first)).ok()
    };
    let obj = match candidate {
        Some(Value::Array(a)) => a.into_iter().next(),
        other => other,
    };
    obj.and_then(|v| v.get("status").and_then(|s| s.as_str().map(str::to_string)))
        .is_some_and(|s| Status::parse(&s).is_some())
}

fn outcome(mut value: Value, input: &Input<'_>, line: Option<usize>) -> Outcome {
    let at = line.map(|n| format!("line {n}: ")).unwrap_or_default();
    let Some(obj) = value.as_object_mut() else {
        return Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            format!("{at}expected a JSON object with at least \"status\""),
        );
    };
    let has_job = obj
        .get("job")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty());
    if !has_job {
        obj.insert("job".into(), Value::String(input.options.job.clone()));
    }
    if !obj.contains_key("status") {
        return Outcome::unknown(
            &input.options.job,
            &input.meta.path,
            format!("{at}no \"status\" key"),
        );
    }
    obj.entry("tool")
        .or_insert_with(|| Value::String("native".into()));
    match serde_json::from_value::<Outcome>(value) {
        Ok(o) => o,
        Err(e) => Outcome::unknown(&input.options.job, &input.meta.path, format!("{at}{e}")),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    let b = &b[start..end];
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b) // UTF-8 BOM written by some Windows tools
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{job, jobs};
    use crate::formats::FileMeta;

    /// Through this parser alone, not [`crate::formats::parse`].
    fn run(body: &str, complete: bool) -> Parsed {
        let meta = FileMeta::for_path("/results/nightly.json");
        parse(&Input {
            bytes: body.as_bytes(),
            meta: &meta,
            exit_code: None,
            options: &job("nightly"),
            complete,
        })
    }

    #[test]
    fn one_object_pretty_printed() {
        let p = run(
            "{\n  \"status\": \"ok\",\n  \"bytes\": 5,\n  \"extra\": 1\n}\n",
            true,
        );
        assert_eq!(p.outcomes.len(), 1);
        let o = &p.outcomes[0];
        assert_eq!(
            (o.job.as_str(), o.status, o.bytes, o.tool.as_deref()),
            ("nightly", Status::Success, Some(5), Some("native"))
        );
    }

    #[test]
    fn json_lines_with_a_bad_line() {
        let p = run("{\"job\":\"a\",\"status\":\"partial\"}\nnot json\n{\"job\":\"b\",\"status\":\"failed\"}\n", true);
        let got = jobs(&p.outcomes);
        assert_eq!(
            got,
            [
                ("a", Status::Warning),
                ("nightly", Status::Unknown),
                ("b", Status::Failure)
            ]
        );
        assert!(p.outcomes[1].errors[0].starts_with("line 2: not JSON"));
    }

    #[test]
    fn incomplete_last_line_is_left_for_later() {
        let body = "{\"status\":\"ok\"}\n{\"status\":\"fai";
        let p = run(body, false);
        assert_eq!(p.outcomes.len(), 1);
        assert_eq!(p.consumed, body.find('\n').unwrap() + 1);
    }

    #[test]
    fn bad_documents_are_unknown_with_a_reason() {
        for (body, why) in [
            ("", "empty"),
            ("{\"job\":\"x\"}", "no \"status\""),
            ("{\"status\":\"great\"}", "unknown status"),
            ("{\"status\":\"ok\",\"started\":\"yesterday\"}", "RFC 3339"),
            ("[1]", "expected a JSON object"),
        ] {
            let p = run(body, true);
            assert_eq!(p.outcomes.len(), 1, "{body}");
            assert_eq!(p.outcomes[0].status, Status::Unknown, "{body}");
            assert!(
                p.outcomes[0].errors[0].contains(why),
                "{body}: {:?}",
                p.outcomes[0].errors
            );
            assert_eq!(
                p.outcomes[0].source.as_deref(),
                Some("/results/nightly.json")
            );
        }
    }

    #[test]
    fn empty_json_array_is_unknown_not_silence() {
        // found by the parse_native fuzz target: `[\n]` gave no outcome at all
        let p = run("[\n]", true);
        assert_eq!(p.outcomes.len(), 1);
        assert_eq!(p.outcomes[0].status, Status::Unknown);
        assert!(p.outcomes[0].errors[0].contains("empty JSON array"));
    }

    #[test]
    fn detection() {
        assert!(looks_native(b"{\"status\":\"ok\"}"));
        assert!(looks_native(
            b"{\"status\":\"ok\"}\n{\"status\":\"error\"}\n"
        ));
        assert!(!looks_native(b"{\"message_type\":\"summary\"}"));
        assert!(!looks_native(b"hello"));
    }
}
