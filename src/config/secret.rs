//! Secrets in the config: `"literal"`, `{ env = "VAR" }` or `{ file = "/path" }`.
//!
//! Owns: the [`Secret`] type, which remembers where a secret comes from and reads it only when
//! asked ([`Secret::resolve`]). Its `Debug` and `Display` print `<redacted>`, so a secret never
//! reaches a log line or a `{:?}` of the config. A file's trailing whitespace (the newline of
//! `echo pw > file`, systemd credentials, Docker secrets) is trimmed.

use std::fmt;
use std::path::{Path, PathBuf};

/// What `Debug` and `Display` print for every secret.
pub const REDACTED: &str = "<redacted>";

/// A secret value and where it comes from; printing it shows only [`REDACTED`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Source);

#[derive(Clone, PartialEq, Eq)]
enum Source {
    Literal(Vec<u8>),
    Env(String),
    File(PathBuf),
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// `{ env = "VAR" }` and `VAR` is not set.
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    /// `{ env = "VAR" }` and `VAR` is not valid UTF-8 (only checked by `resolve_string`).
    #[error("environment variable {0} is not valid UTF-8")]
    EnvNotUnicode(String),
    /// `{ file = "/path" }` could not be read.
    #[error("cannot read secret file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret is not UTF-8 but text was needed (a URL or a token).
    #[error("secret from {0} is not valid UTF-8")]
    NotUtf8(String),
}

impl Secret {
    /// A secret written in the config itself.
    pub fn literal(value: impl Into<Vec<u8>>) -> Secret {
        Secret(Source::Literal(value.into()))
    }

    /// A secret read from an environment variable.
    pub fn env(name: impl Into<String>) -> Secret {
        Secret(Source::Env(name.into()))
    }

    /// A secret read from a file (trailing whitespace trimmed).
    pub fn file(path: impl Into<PathBuf>) -> Secret {
        Secret(Source::File(path.into()))
    }

    /// Read a secret from its TOML form: a string, `{ env = "VAR" }` or `{ file = "/path" }`.
    /// The error message never contains the secret.
    pub fn from_toml(value: &toml::Value) -> Result<Secret, String> {
        const FORMS: &str = "write a string, { env = \"VAR\" } or { file = \"/path\" }";
        let table = match value {
            toml::Value::String(s) => return Ok(Secret::literal(s.as_bytes())),
            toml::Value::Table(t) => t,
            other => {
                return Err(format!(
                    "expected a secret, found {}; {FORMS}",
                    other.type_str()
                ))
            }
        };
        let mut keys = table.keys();
        let (Some(key), None) = (keys.next(), keys.next()) else {
            return Err(format!(
                "a secret table needs exactly one key, env or file; {FORMS}"
            ));
        };
        let Some(arg) = table[key].as_str() else {
            return Err(format!(
                "{key} must be a string, found {}",
                table[key].type_str()
            ));
        };
        match key.as_str() {
            "env" if arg.is_empty() => Err("env: empty variable name".into()),
            "env" => Ok(Secret::env(arg)),
            "file" if arg.is_empty() => Err("file: empty path".into()),
            "file" => Ok(Secret::file(arg)),
            other => Err(format!(
                "unknown key `{other}` in a secret{}; {FORMS}",
                super::problem::suggestion(other, &["env", "file"])
            )),
        }
    }

    /// Where the secret comes from, safe to print: `an inline value`,
    /// `environment variable NSCA_PASSWORD` or `file /run/credentials/nsca`.
    pub fn origin(&self) -> String {
        match &self.0 {
            Source::Literal(_) => "an inline value".into(),
            Source::Env(name) => format!("environment variable {name}"),
            Source::File(path) => format!("file {}", path.display()),
        }
    }

    /// The file this secret is read from, if any.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Source::File(p) => Some(p),
            _ => None,
        }
    }

    /// Read the secret now: the literal bytes, the variable's bytes, or the file's bytes with
    /// trailing whitespace removed.
    pub fn resolve(&self) -> Result<Vec<u8>, SecretError> {
        match &self.0 {
            Source::Literal(v) => Ok(v.clone()),
            Source::Env(name) => {
                use std::os::unix::ffi::OsStringExt;
                std::env::var_os(name)
                    .map(|v| v.into_vec())
                    .ok_or_else(|| SecretError::EnvMissing(name.clone()))
            }
            Source::File(path) => {
                let mut bytes = std::fs::read(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                let keep = bytes
                    .iter()
                    .rposition(|b| !b.is_ascii_whitespace())
                    .map_or(0, |i| i + 1);
                bytes.truncate(keep);
                Ok(bytes)
            }
        }
    }

    /// [`Secret::resolve`] for secrets that must be text (URLs, tokens).
    pub fn resolve_string(&self) -> Result<String, SecretError> {
        String::from_utf8(self.resolve()?).map_err(|_| match &self.0 {
            Source::Env(name) => SecretError::EnvNotUnicode(name.clone()),
            _ => SecretError::NotUtf8(self.origin()),
        })
    }

    /// A warning when the secret's file can be read by group or others (`chmod 600` it).
    pub fn permission_warning(&self) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path()?;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o044 != 0).then(|| {
            format!(
                "secret file {} is readable by group or others (mode {mode:04o}); run chmod 600 on it",
                path.display()
            )
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    /// Reads the same three forms as [`Secret::from_toml`] (for channel configs).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        let value = toml::Value::deserialize(d)?;
        Secret::from_toml(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn parse(text: &str) -> Result<Secret, String> {
        let t: toml::Table = toml::from_str(&format!("s = {text}")).unwrap();
        Secret::from_toml(&t["s"])
    }

    #[test]
    fn literal_env_file() {
        assert_eq!(parse("\"hunter2\"").unwrap().resolve().unwrap(), b"hunter2");

        std::env::set_var("NAGBRIDGE_TEST_SECRET_ENV", "from-env");
        let s = parse("{ env = \"NAGBRIDGE_TEST_SECRET_ENV\" }").unwrap();
        assert_eq!(s.resolve().unwrap(), b"from-env");
        assert_eq!(s.origin(), "environment variable NAGBRIDGE_TEST_SECRET_ENV");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-file \r\n\n").unwrap();
        let s = parse(&format!("{{ file = {:?} }}", path.to_str().unwrap())).unwrap();
        assert_eq!(s.resolve().unwrap(), b"from-file");
        assert_eq!(s.resolve_string().unwrap(), "from-file");
    }

    #[test]
    fn resolution_errors() {
        let e = Secret::env("NAGBRIDGE_TEST_SURELY_UNSET")
            .resolve()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable NAGBRIDGE_TEST_SURELY_UNSET is not set"
        );
        let e = Secret::file("/nonexistent/nagbridge/pw")
            .resolve()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read secret file /nonexistent/nagbridge/pw: "),
            "{e}"
        );
        let e = Secret::literal(vec![0xff]).resolve_string().unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret from an inline value is not valid UTF-8"
        );
    }

    #[test]
    fn bad_forms() {
        assert!(parse("5")
            .unwrap_err()
            .starts_with("expected a secret, found integer"));
        assert!(parse("{}").unwrap_err().contains("exactly one key"));
        assert!(parse("{ env = \"A\", file = \"/b\" }")
            .unwrap_err()
            .contains("exactly one key"));
        assert_eq!(
            parse("{ evn = \"A\" }").unwrap_err(),
            "unknown key `evn` in a secret; did you mean `env`?; write a string, { env = \"VAR\" } or { file = \"/path\" }"
        );
        assert!(parse("{ env = 5 }")
            .unwrap_err()
            .contains("must be a string"));
        assert!(parse("{ env = \"\" }").unwrap_err().contains("empty"));
    }

    #[test]
    fn never_printed() {
        let s = Secret::literal("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    <redacted>,\n)");
    }

    #[test]
    fn warns_about_readable_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = Secret::file(&path);
        assert_eq!(s.permission_warning(), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let w = s.permission_warning().unwrap();
        assert!(w.contains("readable by group or others (mode 0640)"), "{w}");
        assert_eq!(Secret::literal("x").permission_warning(), None);
    }

    #[test]
    fn deserializes() {
        #[derive(serde::Deserialize)]
        struct T {
            url: Secret,
        }
        let t: T = toml::from_str("url = { env = \"X\" }").unwrap();
        assert_eq!(t.url, Secret::env("X"));
        assert!(toml::from_str::<T>("url = { nope = \"X\" }").is_err());
    }
}
