//! From the parsed TOML tree to the typed sections, key by key: every value is checked on its
//! own and every mistake recorded with its key path.
//!
//! Owns: the schema (which keys each section has, which are required, their defaults). Checks
//! that involve several keys or the outside world (secrets, duplicates) are in `validate.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nsca::crypto::Method;
use nsca::packet::PacketSize;
use toml::{Table, Value};

use super::keywords::{self, ChannelType, History, Items, When};
use super::problem::{suggestion, Problems};
use super::reader::{self as r, Section};
use super::sections::*;
use super::template::{Template, CHECK_VARIABLES, WATCH_JOB_VARIABLES};
use super::validate;
use crate::outcome::Status;

/// The sections read from one file (before cross-checks).
pub(crate) struct Parts {
    pub agent: Agent,
    pub nsca: Option<Nsca>,
    pub icinga2: Option<crate::sinks::icinga2::config::Icinga2Config>,
    pub nagios: Option<crate::sinks::nagios::config::NagiosConfig>,
    /// With the index of their `[[watch]]` (entries with errors are left out).
    pub watches: Vec<(usize, Watch)>,
    pub jobs: Vec<(usize, JobRule)>,
    pub channels: Vec<(usize, Channel)>,
}

fn indexed<T>(
    items: Vec<(String, &Table)>,
    p: &mut Problems,
    read: impl Fn(String, &Table, &mut Problems) -> Option<T>,
) -> Vec<(usize, T)> {
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, (path, t))| {
            // An entry with a problem is left out of the cross-checks: its defaults would
            // only cause follow-on problems.
            let before = p.errors.len();
            let item = read(path, t, p)?;
            (p.errors.len() == before).then_some((i, item))
        })
        .collect()
}

/// Read the whole file.
pub(crate) fn read_root(root: &Table, p: &mut Problems) -> Parts {
    let mut s = Section::new("", root);
    let agent = agent(s.raw("agent"), p);
    let nsca = nsca(s.raw("nsca"), p);
    let icinga2 = single_table(s.raw("icinga2"), "icinga2", p)
        .and_then(|t| crate::sinks::icinga2::config::read(t, p));
    let nagios = single_table(s.raw("nagios"), "nagios", p)
        .and_then(|t| crate::sinks::nagios::config::read(t, p));
    let watches = array_of_tables(s.raw("watch"), "watch", p);
    let watches = indexed(watches, p, watch);
    let jobs = array_of_tables(s.raw("job"), "job", p);
    let jobs = indexed(jobs, p, job);
    let channels = array_of_tables(s.raw("channel"), "channel", p);
    let channels = indexed(channels, p, channel);
    let destinations = [
        ("nsca", root.contains_key("nsca")),
        ("icinga2", root.contains_key("icinga2")),
        ("nagios", root.contains_key("nagios")),
    ];
    if !destinations.iter().any(|(_, present)| *present) && !root.contains_key("channel") {
        p.error(
            "nsca",
            "nothing to deliver to: add a passive-check destination ([nsca] with the NSCA \
             server, e.g. server = \"nagios.example.com\"; [icinga2]; or [nagios] on the Nagios \
             host) or a [[channel]]",
        );
    }
    s.finish(p);
    Parts {
        agent,
        nsca,
        icinga2,
        nagios,
        watches,
        jobs,
        channels,
    }
}

fn single_table<'a>(v: Option<&'a Value>, key: &str, p: &mut Problems) -> Option<&'a Table> {
    let v = v?;
    let t = v.as_table();
    if t.is_none() {
        p.error(
            key,
            format!("expected a table ([{key}]), found {}", v.type_str()),
        );
    }
    t
}

fn array_of_tables<'a>(
    v: Option<&'a Value>,
    key: &str,
    p: &mut Problems,
) -> Vec<(String, &'a Table)> {
    let Some(v) = v else { return Vec::new() };
    let Some(items) = v.as_array() else {
        p.error(
            key,
            format!(
                "expected an array of tables ([[{key}]]), found {}; write [[{key}]] for each {key}",
                v.type_str()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{key}[{i}]");
        match item.as_table() {
            Some(t) => out.push((path, t)),
            None => p.error(path, format!("expected a table, found {}", item.type_str())),
        }
    }
    out
}

/// A Nagios host name: no `;`, control characters, at most 63 bytes (the NSCA field).
pub(crate) fn check_nagios_name(name: &str, limit: usize) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| *c == ';' || c.is_control()) {
        return Err(format!(
            "{name:?} contains {c:?}, which cannot go into the Nagios command file"
        ));
    }
    if name.len() > limit {
        return Err(format!(
            "{name:?} is {} bytes long; NSCA carries at most {limit}",
            name.len()
        ));
    }
    Ok(())
}

fn agent(v: Option<&Value>, p: &mut Problems) -> Agent {
    let empty = Table::new();
    let t = single_table(v, "agent", p).unwrap_or(&empty);
    let mut s = Section::new("agent", t);
    let host_name = s.read(p, "host_name", |v| {
        let n = r::non_empty_string(v)?;
        check_nagios_name(&n, 63)?;
        Ok(n)
    });
    let host_name = host_name.or_else(|| {
        if t.contains_key("host_name") {
            return Some(String::new()); // already reported
        }
        match hostname::get().map(|h| h.into_string()) {
            Ok(Ok(h)) if !h.is_empty() => Some(h),
            _ => {
                p.error(
                    "agent.host_name",
                    "not set, and the system hostname cannot be read; set it",
                );
                None
            }
        }
    });
    let state_dir = s.read(p, "state_dir", absolute_path);
    let heartbeat = s.read(p, "heartbeat", r::duration_or_off);
    let max_file_size = s.read(p, "max_file_size", |v| {
        let n = r::size(v)?;
        if n == 0 {
            return Err("must be more than 0 bytes".into());
        }
        if n > MAX_MAX_FILE_SIZE {
            return Err(format!(
                "must be at most 256MiB: a file is parsed in memory, so this is also the agent's                  memory bound (got {n} bytes)"
            ));
        }
        Ok(n)
    });
    let rescan = s.read(p, "rescan", r::duration);
    let quiet_period = s.read(p, "quiet_period", r::duration);
    let settle_period = s.read(p, "settle_period", r::duration);
    let shutdown_timeout = s.read(p, "shutdown_timeout", r::duration);
    s.finish(p);
    Agent {
        host_name: host_name.unwrap_or_default(),
        state_dir: state_dir.unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
        heartbeat: heartbeat.unwrap_or(Some(DEFAULT_HEARTBEAT)),
        max_file_size: max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
        rescan: rescan.unwrap_or(DEFAULT_RESCAN),
        quiet_period: quiet_period.unwrap_or(DEFAULT_QUIET_PERIOD),
        settle_period: settle_period.unwrap_or(DEFAULT_SETTLE_PERIOD),
        shutdown_timeout: shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
    }
}

fn absolute_path(v: &Value) -> Result<PathBuf, String> {
    let s = r::non_empty_string(v)?;
    let path = PathBuf::from(&s);
    if !path.is_absolute() {
        return Err(format!("{s:?} must be an absolute path"));
    }
    Ok(path)
}

fn server(v: &Value) -> Result<Server, String> {
    let (host, port) = nsca::client::parse_server(r::string(v)?).map_err(|e| e.to_string())?;
    Ok(Server { host, port })
}

fn encryption(v: &Value) -> Result<Method, String> {
    match v {
        Value::Integer(n) => Method::from_number(*n),
        Value::String(s) => s.parse(),
        other => {
            return Err(format!(
                "expected a method name such as \"aes256\" or send_nsca's number, found {}",
                other.type_str()
            ))
        }
    }
    .map_err(|e| e.to_string())
}

fn packet(v: &Value) -> Result<PacketSize, String> {
    match r::string(v)? {
        "v3" => Ok(PacketSize::V3),
        "legacy" => Ok(PacketSize::Legacy),
        other => Err(format!(
            "unknown packet {other:?}{}; expected \"v3\" (NSCA 2.9+, 4304 bytes) or \"legacy\" (NSCA 2.7, 720 bytes)",
            suggestion(other, &["v3", "legacy"])
        )),
    }
}

fn nsca(v: Option<&Value>, p: &mut Problems) -> Option<Nsca> {
    let t = single_table(v, "nsca", p)?;
    let mut s = Section::new("nsca", t);
    let server = s.required(p, "server", server);
    let encryption = s.read(p, "encryption", encryption);
    let password = s.secret(p, "password");
    if let Some(method) = encryption.or((!t.contains_key("encryption")).then_some(Method::Xor)) {
        validate::encryption(method, password.is_some(), p);
    }
    let packet = s.read(p, "packet", packet).unwrap_or_default();
    let timeout = s.read(p, "timeout", r::duration);
    let host = s.read(p, "host", name_template(HOST_LIMIT));
    let service = s.read(p, "service", name_template(SERVICE_LIMIT));
    let escapes = s.read(p, "server_escapes", r::boolean);
    if packet == PacketSize::Legacy && escapes == Some(true) {
        p.error(
            "nsca.server_escapes",
            "NSCA 2.7 servers (packet = \"legacy\") write newlines verbatim, so the client must escape them; remove server_escapes or set it to false",
        );
    }
    s.finish(p);
    Some(Nsca {
        server: server?,
        encryption: encryption.unwrap_or(Method::Xor),
        password,
        packet,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        host: host.unwrap_or_else(|| default_template(DEFAULT_HOST_TEMPLATE)),
        service: service.unwrap_or_else(|| default_template(DEFAULT_SERVICE_TEMPLATE)),
        server_escapes: escapes.unwrap_or(packet != PacketSize::Legacy),
    })
}

/// Longest host name NSCA carries.
pub(crate) const HOST_LIMIT: usize = 63;
/// Longest service description NSCA carries.
pub(crate) const SERVICE_LIMIT: usize = 127;

/// A host or service template; without variables it is a fixed name, checked now.
pub(crate) fn name_template(limit: usize) -> impl Fn(&Value) -> Result<Template, String> {
    move |v| {
        let t = r::template(CHECK_VARIABLES)(v)?;
        if let Some(name) = t.as_static() {
            if name.trim().is_empty() {
                return Err("renders an empty name".into());
            }
            check_nagios_name(&name, limit)?;
        }
        Ok(t)
    }
}

pub(crate) fn default_template(text: &str) -> Template {
    Template::parse(text, CHECK_VARIABLES).expect("default templates are valid")
}

fn file_glob(v: &Value) -> Result<glob::Pattern, String> {
    let s = r::non_empty_string(v)?;
    if s.contains('/') {
        return Err(format!(
            "glob {s:?} matches file names only, not paths; use recursive = true for subdirectories"
        ));
    }
    glob::Pattern::new(&s).map_err(|e| format!("invalid glob {s:?}: {}", e.msg))
}

fn poll(v: &Value) -> Result<Option<std::time::Duration>, String> {
    match v {
        Value::Boolean(true) => Ok(Some(DEFAULT_POLL)),
        other => r::duration_or_off(other),
    }
}

fn exit_codes(path: &str, v: &Value, p: &mut Problems) -> BTreeMap<i32, Status> {
    let mut out = BTreeMap::new();
    let t = match r::table(v) {
        Ok(t) => t,
        Err(e) => {
            p.error(
                path,
                format!("{e}; write e.g. exit_codes = {{ 1 = \"warning\" }}"),
            );
            return out;
        }
    };
    for (code, status) in t {
        let key = r::join(path, code);
        let n = code.parse::<i32>().ok().filter(|n| (0..=255).contains(n));
        let status = r::string(status).and_then(keywords::status);
        match (n, status) {
            (Some(n), Ok(st)) => {
                out.insert(n, st);
            }
            (None, _) => p.error(key, "an exit code must be a number from 0 to 255"),
            (_, Err(e)) => p.error(key, e),
        }
    }
    out
}

fn watch(path: String, t: &Table, p: &mut Problems) -> Option<Watch> {
    let mut s = Section::new(path, t);
    let dir = s.required(p, "path", absolute_path);
    let glob = s.read(p, "glob", file_glob);
    let format = s.read(p, "format", |v| r::string(v).and_then(keywords::format));
    let job = s.read(p, "job", r::template(WATCH_JOB_VARIABLES));
    let recursive = s.read(p, "recursive", r::boolean);
    let poll = s.read(p, "poll", poll);
    let items = s.read(p, "items", r::keyword::<Items>);
    let codes = s
        .raw("exit_codes")
        .map(|v| exit_codes(&s.key("exit_codes"), v, p));
    let zero_files = s.read(p, "zero_files", |v| r::string(v).and_then(keywords::status));
    let canceled = s.read(p, "canceled", |v| r::string(v).and_then(keywords::status));
    let history = s.read(p, "history", r::keyword::<History>);
    s.finish(p);
    Some(Watch {
        path: dir?,
        glob: glob.unwrap_or_else(|| glob::Pattern::new(DEFAULT_GLOB).expect("valid glob")),
        format: format.unwrap_or(crate::formats::Format::Auto),
        job: job.unwrap_or_else(|| {
            Template::parse(DEFAULT_WATCH_JOB, WATCH_JOB_VARIABLES).expect("valid template")
        }),
        recursive: recursive.unwrap_or(false),
        poll: poll.flatten(),
        items: items.unwrap_or(Items::Job),
        exit_codes: codes.unwrap_or_default(),
        zero_files: zero_files.unwrap_or(Status::Warning),
        canceled: canceled.unwrap_or(Status::Failure),
        history: history.unwrap_or(History::Last),
    })
}

fn job_glob(v: &Value) -> Result<(String, glob::Pattern), String> {
    let s = r::non_empty_string(v)?;
    let pattern = glob::Pattern::new(&s).map_err(|e| format!("invalid glob {s:?}: {}", e.msg))?;
    Ok((s, pattern))
}

/// The default grace for a cadence: a tenth of it, at least [`MIN_DEFAULT_GRACE`].
pub(crate) fn default_grace(every: std::time::Duration) -> std::time::Duration {
    (every / 10).max(MIN_DEFAULT_GRACE)
}

fn job(path: String, t: &Table, p: &mut Problems) -> Option<JobRule> {
    let mut s = Section::new(path, t);
    let name = s.required(p, "name", job_glob);
    let every = s.read(p, "every", r::duration);
    let grace = s.read(p, "grace", r::duration);
    if grace.is_some() && every.is_none() && !t.contains_key("every") {
        p.error(
            s.key("grace"),
            "grace only applies with every (the expected cadence); add every or remove grace",
        );
    }
    let service = s.read(p, "service", name_template(SERVICE_LIMIT));
    let host = s.read(p, "host", name_template(HOST_LIMIT));
    s.finish(p);
    let (name, pattern) = name?;
    Some(JobRule {
        name,
        pattern,
        every,
        grace: grace.or(every.map(default_grace)).unwrap_or_default(),
        service,
        host,
    })
}

fn channel(path: String, t: &Table, p: &mut Problems) -> Option<Channel> {
    let mut s = Section::new(path, t);
    let name = s.required(p, "name", |v| {
        let n = r::non_empty_string(v)?;
        if n.len() > 64
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "{n:?}: use 1 to 64 letters, digits, '-' and '_' (it names the channel's spool \
                 directory)"
            ));
        }
        if RESERVED_CHANNEL_NAMES.contains(&n.as_str()) {
            return Err(format!(
                "{n:?} is the spool of another destination; choose another name"
            ));
        }
        Ok(n)
    });
    let kind = s.required(p, "type", r::keyword::<ChannelType>);
    let when = s.read(p, "when", r::keyword::<When>);
    let jobs = s.read(p, "jobs", |v| {
        let list = v
            .as_array()
            .ok_or_else(|| "expected a list of job name globs, e.g. [\"nightly-*\"]".to_string())?;
        list.iter()
            .map(|g| {
                let g = r::non_empty_string(g)?;
                glob::Pattern::new(&g).map_err(|e| format!("invalid glob {g:?}: {}", e.msg))
            })
            .collect::<Result<Vec<_>, String>>()
    });
    // The type's own keys: read by its sink's config (unknown keys are reported by `finish`).
    let options = kind.and_then(|k| crate::sinks::read_channel_options(k, &mut s, p));
    s.finish(p);
    Some(Channel {
        name: name?,
        kind: kind?,
        when: when.unwrap_or(When::Problems),
        jobs: jobs.unwrap_or_default(),
        options: options?,
    })
}
