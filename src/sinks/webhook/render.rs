//! The web hook's payloads: the default body (the outcome JSON of SPEC section 5 plus `state`
//! and `agent`), its minimal plain form (sent once after a refusal), and JSON body templates.
//!
//! Owns: [`BodyTemplate`] (a JSON document whose string values may hold `{variable}`
//! placeholders; keys and order kept as written) and the rendering of all three. A variable is
//! substituted into a JSON string and escaped as JSON by the serializer, so an error line full
//! of quotes, backslashes, newlines or braces can never break the document or add to it; a
//! string that is exactly one placeholder (`"{bytes}"`) becomes that value with its JSON type
//! (a number, `null`, a list). Pure: no I/O, no clock.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;

use crate::config::Template;
use crate::outcome::{Outcome, Status};
use crate::sinks::content::{human_duration, human_size, iso_time, Notice};

/// The variables of a body template.
pub const VARIABLES: &[&str] = &[
    "job",
    "host",
    "agent",
    "status",
    "state",
    "status_words",
    "title",
    "headline",
    "summary",
    "tool",
    "source",
    "started",
    "finished",
    "duration_s",
    "duration",
    "bytes",
    "size",
    "files",
    "items",
    "errors",
    "warnings",
    "outcome",
];

/// The default body: the outcome as `nagbridge parse` prints it, then `state` and `agent`.
#[derive(Serialize)]
struct Full<'a> {
    #[serde(flatten)]
    outcome: &'a Outcome,
    state: &'static str,
    agent: &'a str,
}

/// The plain form: the default body without its lists (items, errors, warnings), with a
/// one-line `text` and the counts.
#[derive(Serialize)]
struct Plain<'a> {
    job: &'a str,
    host: Option<&'a str>,
    status: Status,
    tool: Option<&'a str>,
    started: Option<String>,
    finished: Option<String>,
    duration_s: Option<f64>,
    bytes: Option<u64>,
    files: Option<u64>,
    summary: Option<&'a str>,
    source: Option<&'a str>,
    state: &'static str,
    agent: &'a str,
    text: String,
    error_count: usize,
    warning_count: usize,
}

/// The default body of `o` reported by `agent`.
pub fn default_body(o: &Outcome, agent: &str) -> Vec<u8> {
    let full = Full {
        outcome: o,
        state: o.status.nagios_label(),
        agent,
    };
    serde_json::to_vec(&full).unwrap_or_else(|_| plain_body(o, agent))
}

/// The minimal plain form of `o` (see [`Plain`]).
pub fn plain_body(o: &Outcome, agent: &str) -> Vec<u8> {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let plain = Plain {
        job: &o.job,
        host: o.host.as_deref(),
        status: o.status,
        tool: o.tool.as_deref(),
        started: time(o.started),
        finished: time(o.finished),
        duration_s: o.duration_s.filter(|d| d.is_finite()),
        bytes: o.bytes,
        files: o.files,
        summary: o.summary.as_deref(),
        source: o.source.as_deref(),
        state: o.status.nagios_label(),
        agent,
        text: Notice::from_outcome(o, agent).headline,
        error_count: o.errors.len(),
        warning_count: o.warnings.len(),
    };
    // Only plain strings and numbers: serializing cannot fail.
    serde_json::to_vec(&plain).unwrap_or_else(|_| b"{}".to_vec())
}

/// A JSON body template, parsed and checked.
#[derive(Clone, PartialEq)]
pub struct BodyTemplate {
    text: String,
    root: Node,
}

impl fmt::Debug for BodyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyTemplate({:?})", self.text)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// `null`, `true`, `false` or a number, as written.
    Literal(serde_json::Value),
    /// A string with placeholders (or none).
    Text(Template),
    /// A string that is exactly one placeholder: the variable's value with its JSON type.
    Whole(&'static str),
    Array(Vec<Node>),
    /// Keys in the order written.
    Object(Vec<(String, Node)>),
}

/// A JSON value with its object keys in document order (serde_json's `Value` sorts them).
enum Raw {
    Literal(serde_json::Value),
    Str(String),
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Literal(serde_json::Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
                Ok(Raw::Literal(b.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Raw, E> {
                Ok(Raw::Literal(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Raw, E> {
                Ok(Raw::Literal(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Raw, E> {
                serde_json::Number::from_f64(n)
                    .map(|n| Raw::Literal(serde_json::Value::Number(n)))
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
                Ok(Raw::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Raw, E> {
                Ok(Raw::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Raw::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut out: Vec<(String, Raw)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Raw>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(Raw::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `/a/0/b` (RFC 6901) for error messages.
fn pointer(path: &[String]) -> String {
    if path.is_empty() {
        return "the top level".into();
    }
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn check(raw: Raw, path: &mut Vec<String>) -> Result<Node, String> {
    Ok(match raw {
        Raw::Literal(v) => Node::Literal(v),
        Raw::Str(s) => {
            let t =
                Template::parse(&s, VARIABLES).map_err(|e| format!("at {}: {e}", pointer(path)))?;
            let vars: Vec<&str> = t.variables().collect();
            let whole = match vars[..] {
                [v] if s.len() == v.len() + 2 => VARIABLES.iter().find(|n| **n == v).copied(),
                _ => None,
            };
            match whole {
                Some(name) => Node::Whole(name),
                None => Node::Text(t),
            }
        }
        Raw::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(i.to_string());
                out.push(check(item, path)?);
                path.pop();
            }
            Node::Array(out)
        }
        Raw::Object(fields) => {
            let mut out = Vec::with_capacity(fields.len());
            for (k, v) in fields {
                path.push(k.clone());
                out.push((k, check(v, path)?));
                path.pop();
            }
            Node::Object(out)
        }
    })
}

impl BodyTemplate {
    /// Parse `text` as JSON and every string in it as a template of [`VARIABLES`]. The error
    /// says where (JSON line and column, or the JSON pointer of the string).
    pub fn parse(text: &str) -> Result<BodyTemplate, String> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let root = check(raw, &mut Vec::new())?;
        Ok(BodyTemplate {
            text: text.to_string(),
            root,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The body for `o` reported by `agent`: always valid JSON.
    pub fn render(&self, o: &Outcome, agent: &str) -> Vec<u8> {
        let vars = Vars {
            o,
            n: Notice::from_outcome(o, agent),
        };
        let mut out = Vec::with_capacity(self.text.len() + 256);
        write_node(&self.root, &vars, &mut out);
        out
    }
}

/// What the variables stand for.
struct Vars<'a> {
    o: &'a Outcome,
    n: Notice,
}

fn opt(s: Option<&str>) -> String {
    s.unwrap_or_default().to_string()
}

impl Vars<'_> {
    /// The variable as text (inside a longer string).
    fn text(&self, name: &str) -> String {
        let (o, n) = (self.o, &self.n);
        match name {
            "job" => o.job.clone(),
            "host" => n.host.clone(),
            "agent" => n.agent.clone(),
            "status" => o.status.as_str().to_string(),
            "state" => n.state.to_string(),
            "status_words" => n.status_words.to_string(),
            "title" => n.title.clone(),
            "headline" => n.headline.clone(),
            "summary" => opt(o.summary.as_deref()),
            "tool" => opt(o.tool.as_deref()),
            "source" => opt(o.source.as_deref()),
            "started" => o.started.map(iso_time).unwrap_or_default(),
            "finished" => o.finished.map(iso_time).unwrap_or_default(),
            "duration_s" => o
                .duration()
                .filter(|d| d.is_finite())
                .map(|d| d.to_string())
                .unwrap_or_default(),
            "duration" => o.duration().map(human_duration).unwrap_or_default(),
            "bytes" => o.bytes.map(|b| b.to_string()).unwrap_or_default(),
            "size" => o.bytes.map(human_size).unwrap_or_default(),
            "files" => o.files.map(|f| f.to_string()).unwrap_or_default(),
            "items" => n.items.join("\n"),
            "errors" => o.errors.join("\n"),
            "warnings" => o.warnings.join("\n"),
            "outcome" => serde_json::to_string(o).unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The variable as a JSON value of its own type (a string that is exactly `{name}`).
    fn write_typed(&self, name: &str, out: &mut Vec<u8>) {
        let o = self.o;
        let r = match name {
            "summary" => serde_json::to_writer(&mut *out, &o.summary),
            "tool" => serde_json::to_writer(&mut *out, &o.tool),
            "source" => serde_json::to_writer(&mut *out, &o.source),
            "started" => serde_json::to_writer(&mut *out, &o.started.map(iso_time)),
            "finished" => serde_json::to_writer(&mut *out, &o.finished.map(iso_time)),
            "duration_s" => {
                serde_json::to_writer(&mut *out, &o.duration().filter(|d| d.is_finite()))
            }
            "bytes" => serde_json::to_writer(&mut *out, &o.bytes),
            "files" => serde_json::to_writer(&mut *out, &o.files),
            "items" => serde_json::to_writer(&mut *out, &o.items),
            "errors" => serde_json::to_writer(&mut *out, &o.errors),
            "warnings" => serde_json::to_writer(&mut *out, &o.warnings),
            "outcome" => serde_json::to_writer(&mut *out, o),
            other => serde_json::to_writer(&mut *out, &self.text(other)),
        };
        if r.is_err() {
            out.extend_from_slice(b"null");
        }
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Strings always serialize.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_node(node: &Node, vars: &Vars<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Literal(v) => {
            let _ = serde_json::to_writer(&mut *out, v);
        }
        Node::Text(t) => {
            let names: Vec<&str> = t.variables().collect();
            let values: Vec<(&str, String)> = names.iter().map(|n| (*n, vars.text(n))).collect();
            let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
            write_str(&t.render(&pairs), out);
        }
        Node::Whole(name) => vars.write_typed(name, out),
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_node(item, vars, out);
            }
            out.push(b']');
        }
        Node::Object(fields) => {
            out.push(b'{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write_node(v, vars, out);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn outcome() -> Outcome {
        serde_json::from_value(json!({
            "job": "nightly-db", "host": "db01", "status": "warning", "tool": "restic",
            "started": "2026-11-24T02:00:00Z", "finished": "2026-11-24T02:03:10Z",
            "duration_s": 190.2, "bytes": 1234567, "files": 4200,
            "items": [{"name": "db1", "status": "success", "bytes": 1000, "message": null}],
            "summary": "1 file could not be read, 1.2 MB added",
            "errors": ["open /srv/x: permission denied"], "warnings": [],
            "source": "/var/log/restic/nightly-db.log"
        }))
        .unwrap()
    }

    fn value(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    #[test]
    fn default_body_is_the_outcome_json_plus_state_and_agent() {
        let body = default_body(&outcome(), "backup01");
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"job":"nightly-db","host":"db01","status":"warning","tool":"restic","started":"2026-11-24T02:00:00Z""#),
            "{text}"
        );
        assert!(
            text.ends_with(r#","state":"WARNING","agent":"backup01"}"#),
            "{text}"
        );
        let v = value(&body);
        assert_eq!(v["items"][0]["name"], "db1");
        assert_eq!(v["errors"][0], "open /srv/x: permission denied");
        assert_eq!(v["duration_s"], 190.2);
        // Every field of SPEC section 5 is there, null when unknown.
        let bare = value(&default_body(&Outcome::new("j", Status::Failure), "a"));
        for k in [
            "host", "tool", "started", "finished", "bytes", "summary", "source",
        ] {
            assert_eq!(bare[k], Value::Null, "{k}");
        }
        assert_eq!(bare["state"], "CRITICAL");
    }

    #[test]
    fn plain_body_has_no_lists() {
        let v = value(&plain_body(&outcome(), "backup01"));
        for k in ["items", "errors", "warnings"] {
            assert!(v.get(k).is_none(), "{k}: {v}");
        }
        assert_eq!(v["state"], "WARNING");
        assert_eq!(v["error_count"], 1);
        assert_eq!(
            v["text"],
            "[WARNING] nightly-db on db01: 1 file could not be read, 1.2 MB added"
        );
        assert_eq!(v["finished"], "2026-11-24T02:03:10Z");
    }

    #[test]
    fn template_keeps_key_order_and_types() {
        let t = BodyTemplate::parse(
            r#"{"z": "{state}: {job} on {host}", "a": ["{bytes}", "{duration_s}", 1.5, null, true],
                "n": "{files} files", "errs": "{errors}", "missing": "{summary}",
                "literal": "{{not a variable}}"}"#,
        )
        .unwrap();
        let body = t.render(&outcome(), "backup01");
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.starts_with(
                r#"{"z":"WARNING: nightly-db on db01","a":[1234567,190.2,1.5,null,true]"#
            ),
            "{text}"
        );
        let v = value(&body);
        assert_eq!(v["n"], "4200 files");
        assert_eq!(v["errs"], json!(["open /srv/x: permission denied"]));
        assert_eq!(v["literal"], "{not a variable}");
        let mut bare = Outcome::new("j", Status::Success);
        bare.summary = None;
        let v = value(&t.render(&bare, "agent1"));
        assert_eq!(v["missing"], Value::Null);
        assert_eq!(v["a"][0], Value::Null);
        assert_eq!(v["z"], "OK: j on agent1");
    }

    /// An error line that tries to close the string and add keys, with backslashes, newlines,
    /// control characters and template braces, stays one string value.
    #[test]
    fn template_values_are_escaped_as_json_never_injected() {
        let hostile =
            "x\", \"admin\": true, \"y\": \"\\\n\r\t\u{0}\u{1b}[31m {job} {{ }} \u{2028} </script>";
        let mut o = outcome();
        o.errors = vec![hostile.to_string(), "second".into()];
        o.job = "job \"quoted\" {host}".into();
        o.summary = Some(hostile.into());
        let t = BodyTemplate::parse(
            r#"{"text": "{job}: {errors}", "summary": "{summary}", "list": "{errors}", "n": 1}"#,
        )
        .unwrap();
        let v = value(&t.render(&o, "a"));
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 4, "{v}");
        assert!(v.get("admin").is_none());
        assert_eq!(
            v["text"],
            format!("job \"quoted\" {{host}}: {hostile}\nsecond")
        );
        assert_eq!(v["summary"], hostile);
        assert_eq!(v["list"][0], hostile);
        // The default body too.
        let v = value(&default_body(&o, "a"));
        assert_eq!(v["errors"][0], hostile);
        assert!(v.get("admin").is_none());
    }

    #[test]
    fn template_errors_say_where() {
        let e = BodyTemplate::parse(r#"{"text": "{job}", }"#).unwrap_err();
        assert!(
            e.starts_with("not valid JSON: trailing comma at line 1 column"),
            "{e}"
        );
        let e = BodyTemplate::parse(r#"{"a": {"b/c": ["ok", "{jbo}"]}}"#).unwrap_err();
        assert!(
            e.starts_with("at /a/b~1c/1: unknown variable `{jbo}` in template \"{jbo}\"; did you mean `{job}`?"),
            "{e}"
        );
        let e = BodyTemplate::parse(r#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(e.contains("duplicate key \"a\""), "{e}");
        let e = BodyTemplate::parse("\"{job\"").unwrap_err();
        assert!(e.starts_with("at the top level: unclosed"), "{e}");
        assert!(BodyTemplate::parse("").is_err());
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(BodyTemplate::parse(&deep)
            .unwrap_err()
            .contains("recursion limit"));
        // Any JSON document is a template, a bare string too.
        let t = BodyTemplate::parse("\"{headline}\"").unwrap();
        assert_eq!(
            value(&t.render(&outcome(), "a")),
            "[WARNING] nightly-db on db01: 1 file could not be read, 1.2 MB added"
        );
    }
}
