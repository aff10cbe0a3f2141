//! Name templates such as `"backup {job}"`: literal text with `{variable}` placeholders;
//! `{{` and `}}` stand for literal braces.
//!
//! Owns: parsing a template against the variables its key allows, and rendering it. Escaping
//! the result for Nagios (`;`, newlines) is the sender's job, not this module's.

use std::fmt;

/// Variables of `nsca.host`, `nsca.service` and `[[job]]` `host`/`service`.
pub const CHECK_VARIABLES: &[&str] = &["host", "job", "tool", "source", "status"];

/// Variables of `[[watch]]` `job`: the result file's name without its last extension, its
/// whole name, the name of the directory it is in, and the agent's `host_name`.
pub const WATCH_JOB_VARIABLES: &[&str] = &["file_stem", "file_name", "dir", "host"];

/// A parsed template.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

impl Template {
    /// Parse `text`, allowing only the variables in `allowed`.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Template, String> {
        let list = || {
            allowed
                .iter()
                .map(|v| format!("{{{v}}}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "unclosed `{{` in template {text:?}; write `{{{{` for a literal brace"
                        ));
                    };
                    let name = &rest[..end];
                    if !allowed.contains(&name) {
                        let hint = super::problem::did_you_mean(name, allowed)
                            .map(|s| format!("did you mean `{{{s}}}`? "))
                            .unwrap_or_default();
                        return Err(format!(
                            "unknown variable `{{{name}}}` in template {text:?}; {hint}variables here: {}",
                            list()
                        ));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(name.to_string()));
                    for _ in 0..=name.chars().count() {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                        "unmatched `}}` in template {text:?}; write `}}}}` for a literal brace"
                    ))
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The variables used, in order of appearance (with repeats).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text when the template uses no variable.
    pub fn as_static(&self) -> Option<String> {
        self.variables().next().is_none().then(|| self.render(&[]))
    }

    /// Fill in the variables; a variable missing from `vars` renders as the empty string.
    pub fn render(&self, vars: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => {
                    if let Some((_, value)) = vars.iter().find(|(k, _)| k == v) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.text)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let t = Template::parse("backup {job} on {host}", CHECK_VARIABLES).unwrap();
        assert_eq!(
            t.render(&[("job", "nightly"), ("host", "db1")]),
            "backup nightly on db1"
        );
        assert_eq!(t.render(&[("job", "x")]), "backup x on ");
        assert_eq!(t.variables().collect::<Vec<_>>(), ["job", "host"]);
        assert_eq!(t.as_static(), None);
        let t = Template::parse("{{literal}} }}", CHECK_VARIABLES).unwrap();
        assert_eq!(t.as_static().as_deref(), Some("{literal} }"));
        let t = Template::parse("{file_stem}", WATCH_JOB_VARIABLES).unwrap();
        assert_eq!(t.render(&[("file_stem", "nightly-db")]), "nightly-db");
        let t = Template::parse("é{job}ü", CHECK_VARIABLES).unwrap();
        assert_eq!(t.render(&[("job", "ß")]), "éßü");
        assert_eq!(format!("{t:?}"), "Template(\"é{job}ü\")");
    }

    #[test]
    fn refuses_unknown_variables_and_stray_braces() {
        let e = Template::parse("backup {jbo}", CHECK_VARIABLES).unwrap_err();
        assert_eq!(
            e,
            "unknown variable `{jbo}` in template \"backup {jbo}\"; did you mean `{job}`? variables here: {host} {job} {tool} {source} {status}"
        );
        let e = Template::parse("{file_stem}", CHECK_VARIABLES).unwrap_err();
        assert!(e.starts_with("unknown variable `{file_stem}`"), "{e}");
        assert!(Template::parse("a {job", CHECK_VARIABLES)
            .unwrap_err()
            .starts_with("unclosed"));
        assert!(Template::parse("a }", CHECK_VARIABLES)
            .unwrap_err()
            .starts_with("unmatched"));
        assert!(Template::parse("{}", CHECK_VARIABLES)
            .unwrap_err()
            .starts_with("unknown variable `{}`"));
    }
}
