//! Reading one TOML table against the schema, key by key, so that every mistake is reported
//! with its key path instead of stopping at the first one.
//!
//! Owns: [`Section`] (which keys a table may have; unknown ones become problems with a
//! suggestion) and the value readers (string, bool, duration, size, keyword, template, secret).

use std::str::FromStr;
use std::time::Duration;

use toml::{Table, Value};

use super::problem::{suggestion, Problems};
use super::secret::Secret;
use super::template::Template;
use super::{duration, size};

/// One table being read; remembers the keys asked for.
pub(crate) struct Section<'a> {
    path: String,
    table: &'a Table,
    known: Vec<&'static str>,
}

impl<'a> Section<'a> {
    pub fn new(path: impl Into<String>, table: &'a Table) -> Section<'a> {
        Section {
            path: path.into(),
            table,
            known: Vec::new(),
        }
    }

    /// The path of `key` in this table.
    pub fn key(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of a known key.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.table.get(key)
    }

    /// Read an optional key; a bad value is recorded and gives `None`.
    pub fn read<T>(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw(key)?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(message) => {
                p.error(self.key(key), message);
                None
            }
        }
    }

    /// Read a required key; absence is a problem too.
    pub fn required<T>(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        if !self.table.contains_key(key) {
            self.known.push(key);
            let at = if self.path.is_empty() {
                "the top level".to_string()
            } else {
                format!("[{}]", self.path)
            };
            p.error(self.key(key), format!("missing required key in {at}"));
            return None;
        }
        self.read(p, key, parse)
    }

    /// Read an optional secret (`"literal"`, `{ env = "VAR" }` or `{ file = "/path" }`),
    /// checking that it can be read and is not empty (never printing it).
    pub fn secret(&mut self, p: &mut Problems, key: &'static str) -> Option<Secret> {
        let secret = self.read(p, key, secret)?;
        super::validate::check_secret(&self.key(key), &secret, p);
        Some(secret)
    }

    /// Read a required secret (see [`Section::secret`]).
    pub fn required_secret(&mut self, p: &mut Problems, key: &'static str) -> Option<Secret> {
        let secret = self.required(p, key, secret)?;
        super::validate::check_secret(&self.key(key), &secret, p);
        Some(secret)
    }

    /// The keys not asked for so far, in file order.
    pub fn rest(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + '_ {
        self.table
            .iter()
            .filter(|(k, _)| !self.known.contains(&k.as_str()))
    }

    /// Report every key not asked for as unknown, with a suggestion when one is close.
    pub fn finish(self, p: &mut Problems) {
        for (key, _) in self.rest() {
            p.error(
                self.key(key),
                format!("unknown key{}", suggestion(key, &self.known)),
            );
        }
    }
}

/// `a.b`, or `b` at the top level; keys that are not bare TOML keys are quoted.
pub(crate) fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

fn found(v: &Value) -> String {
    format!("found {}", v.type_str())
}

pub(crate) fn string(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, {}", found(v)))
}

pub(crate) fn non_empty_string(v: &Value) -> Result<String, String> {
    let s = string(v)?;
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(s.to_string())
}

pub(crate) fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("expected true or false, {}", found(v)))
}

pub(crate) fn table(v: &Value) -> Result<&Table, String> {
    v.as_table()
        .ok_or_else(|| format!("expected a table, {}", found(v)))
}

/// A duration string, possibly zero.
pub(crate) fn any_duration(v: &Value) -> Result<Duration, String> {
    match v {
        Value::String(s) => duration::parse_duration(s).map_err(|e| e.to_string()),
        Value::Integer(n) if *n > 0 => Err(format!(
            "expected a duration string, found the bare number {n}; add a unit, e.g. \"{n}s\""
        )),
        other => Err(format!(
            "expected a duration string such as \"90s\" or \"5m\", {}",
            found(other)
        )),
    }
}

/// A duration string that must be more than zero.
pub(crate) fn duration(v: &Value) -> Result<Duration, String> {
    let d = any_duration(v)?;
    if d.is_zero() {
        return Err("must be longer than 0s".into());
    }
    Ok(d)
}

/// A duration, or `"off"` / `false` for none.
pub(crate) fn duration_or_off(v: &Value) -> Result<Option<Duration>, String> {
    match v {
        Value::Boolean(false) => Ok(None),
        Value::String(s) if s.trim().eq_ignore_ascii_case("off") => Ok(None),
        Value::Boolean(true) => {
            Err("expected a duration such as \"5m\", or \"off\"; true says neither".into())
        }
        other => duration(other).map(Some),
    }
}

/// A size: a non-negative integer (bytes) or a size string.
pub(crate) fn size(v: &Value) -> Result<u64, String> {
    match v {
        Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| format!("size must not be negative, found {n}"))
        }
        Value::String(s) => size::parse_size(s).map_err(|e| e.to_string()),
        other => Err(format!(
            "expected a size such as \"16MiB\" or a number of bytes, {}",
            found(other)
        )),
    }
}

/// One word of a closed list.
pub(crate) fn keyword<T: FromStr<Err = String>>(v: &Value) -> Result<T, String> {
    string(v)?.parse()
}

/// A template with the given variables.
pub(crate) fn template(
    allowed: &'static [&'static str],
) -> impl Fn(&Value) -> Result<Template, String> {
    move |v| Template::parse(string(v)?, allowed)
}

pub(crate) fn secret(v: &Value) -> Result<Secret, String> {
    Secret::from_toml(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        let t: Table = toml::from_str(&format!("v = {text}")).unwrap();
        t["v"].clone()
    }

    #[test]
    fn value_readers() {
        assert_eq!(
            string(&value("5")).unwrap_err(),
            "expected a string, found integer"
        );
        assert_eq!(
            boolean(&value("\"yes\"")).unwrap_err(),
            "expected true or false, found string"
        );
        assert_eq!(
            duration(&value("\"0s\"")).unwrap_err(),
            "must be longer than 0s"
        );
        assert_eq!(
            duration(&value("90")).unwrap_err(),
            "expected a duration string, found the bare number 90; add a unit, e.g. \"90s\""
        );
        assert_eq!(any_duration(&value("\"0s\"")), Ok(Duration::ZERO));
        assert_eq!(duration_or_off(&value("\"off\"")), Ok(None));
        assert_eq!(duration_or_off(&value("false")), Ok(None));
        assert_eq!(
            duration_or_off(&value("\"5m\"")),
            Ok(Some(Duration::from_secs(300)))
        );
        assert!(duration_or_off(&value("true")).is_err());
        assert_eq!(size(&value("1024")), Ok(1024));
        assert_eq!(size(&value("\"1KiB\"")), Ok(1024));
        assert!(size(&value("-1")).unwrap_err().contains("negative"));
        assert!(size(&value("1.5")).unwrap_err().contains("found float"));
        assert_eq!(
            non_empty_string(&value("\" \"")).unwrap_err(),
            "must not be empty"
        );
    }

    #[test]
    fn sections_report_unknown_and_missing_keys() {
        let t: Table = toml::from_str("name = \"x\"\ngrce = \"1h\"\nzzz = 1").unwrap();
        let mut p = Problems::default();
        let mut s = Section::new("job[0]", &t);
        assert_eq!(
            s.required(&mut p, "name", non_empty_string).as_deref(),
            Some("x")
        );
        assert_eq!(s.read(&mut p, "grace", duration), None);
        assert_eq!(s.required(&mut p, "every", duration), None);
        s.finish(&mut p);
        let got: Vec<String> = p.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            [
                "job[0].every: missing required key in [job[0]]",
                "job[0].grce: unknown key; did you mean `grace`?",
                "job[0].zzz: unknown key",
            ]
        );
    }

    #[test]
    fn key_paths() {
        assert_eq!(join("", "nsca"), "nsca");
        assert_eq!(join("nsca", "server"), "nsca.server");
        assert_eq!(join("watch[0].exit_codes", "3"), "watch[0].exit_codes.3");
        assert_eq!(join("a", "b c"), "a.\"b c\"");
    }
}
