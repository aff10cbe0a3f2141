//! Real Nagios Core 4 (Debian's `nagios4-core`) for end-to-end tests: a minimal `nagios.cfg` in a
//! temp dir, the object definitions a test gives plus `TEMPLATES`, run in the foreground as the
//! current user, stopped by process id on drop. State is read back from `status.dat`.
//!
//! `StockConfig` is the other way: a copy of Debian's own `/etc/nagios4` exactly as the package
//! installed it (nagios.cfg, objects/, resource.cfg), with only the paths rewritten into a temp
//! dir, for checking generated objects against what a real Debian Nagios loads
//! (`StockConfig::verify`, `Nagios::start_stock`).
//!
//! Facts this relies on (Nagios 4.4.6, checked here):
//! * `interval_length=1`: `check_interval`/`retry_interval` are in seconds; `freshness_threshold`
//!   and `service_freshness_check_interval` are always seconds.
//! * In object files `;` starts a comment anywhere on a line: write `\;` in a `command_line`.
//! * `status.dat` is rewritten every `status_update_interval` (1 s here) via a temp file and a
//!   rename, so a read never sees half a file. `long_plugin_output` is stored escaped (`\n`,
//!   `\\`): `ServiceStatus::long_output` undoes that.
//! * A passive result's `last_check` is the `[timestamp]` of its command line (for NSCA: the
//!   daemon's receive time), not the time Nagios processed it.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const NAGIOS: &str = "/usr/sbin/nagios4";

/// `O_NONBLOCK` on Linux: opening a FIFO without a reader fails with ENXIO instead of blocking.
const O_NONBLOCK: i32 = 0o4000;
const ENXIO: i32 = 6;

/// Definitions every config gets: a `24x7` timeperiod, a contact that is never notified (in the
/// contact group `admins`, the name Debian's stock config uses),
/// passive-only `generic-host` and `generic-service` templates (HARD on the first result, no
/// freshness, no flap detection), and the commands they use. Nagios refuses a config without a
/// contact, and warns about services without contacts or time periods.
pub const TEMPLATES: &str = r#"
define timeperiod {
  timeperiod_name 24x7
  alias           always
  sunday          00:00-24:00
  monday          00:00-24:00
  tuesday         00:00-24:00
  wednesday       00:00-24:00
  thursday        00:00-24:00
  friday          00:00-24:00
  saturday        00:00-24:00
}
define command {
  command_name notify-none
  command_line /bin/true
}
define command {
  command_name check-passive-only
  command_line /bin/sh -c 'echo "UNKNOWN: active check of a passive-only object"\; exit 3'
}
define contact {
  contact_name                  nagbridge-admin
  host_notification_period      24x7
  service_notification_period   24x7
  host_notification_commands    notify-none
  service_notification_commands notify-none
}
define contactgroup {
  contactgroup_name             admins
  alias                         as Debian's stock contacts.cfg names it
  members                       nagbridge-admin
}
define host {
  name                   generic-host
  register               0
  max_check_attempts     1
  check_period           24x7
  notification_period    24x7
  notification_interval  0
  contacts               nagbridge-admin
  check_command          check-passive-only
  active_checks_enabled  0
  passive_checks_enabled 1
  check_freshness        0
  flap_detection_enabled 0
}
define service {
  name                   generic-service
  register               0
  max_check_attempts     1
  check_interval         60
  retry_interval         60
  check_period           24x7
  notification_period    24x7
  notification_interval  0
  contacts               nagbridge-admin
  check_command          check-passive-only
  active_checks_enabled  0
  passive_checks_enabled 1
  check_freshness        0
  flap_detection_enabled 0
}
"#;

/// A running Nagios Core 4 in its own temp dir.
pub struct Nagios {
    pub dir: tempfile::TempDir,
    child: Child,
    command_file: PathBuf,
    status_file: PathBuf,
    log_file: PathBuf,
}

/// One `hoststatus` or `servicestatus` block of `status.dat`. Values are as Nagios wrote them;
/// every field is also in `fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    /// 0 OK/UP, 1 WARNING/DOWN, 2 CRITICAL/UNREACHABLE, 3 UNKNOWN.
    pub current_state: i32,
    /// 0 SOFT, 1 HARD.
    pub state_type: i32,
    pub current_attempt: i32,
    /// 0 active (this includes freshness checks), 1 passive.
    pub check_type: i32,
    pub plugin_output: String,
    /// Escaped as in status.dat (`\n`, `\\`); see `long_output`.
    pub long_plugin_output: String,
    pub performance_data: String,
    pub last_check: i64,
    pub last_state_change: i64,
    pub has_been_checked: bool,
    pub is_flapping: bool,
    pub fields: HashMap<String, String>,
}

pub type HostStatus = ServiceStatus;

impl ServiceStatus {
    fn from_fields(fields: HashMap<String, String>) -> ServiceStatus {
        let s = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let n = |k: &str| {
            fields
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(-1)
        };
        ServiceStatus {
            current_state: n("current_state") as i32,
            state_type: n("state_type") as i32,
            current_attempt: n("current_attempt") as i32,
            check_type: n("check_type") as i32,
            plugin_output: s("plugin_output"),
            long_plugin_output: s("long_plugin_output"),
            performance_data: s("performance_data"),
            last_check: n("last_check"),
            last_state_change: n("last_state_change"),
            has_been_checked: n("has_been_checked") == 1,
            is_flapping: n("is_flapping") == 1,
            fields,
        }
    }

    /// `long_plugin_output` with Nagios' escaping undone: `\n` is a newline, `\\` a backslash.
    pub fn long_output(&self) -> String {
        let mut out = String::new();
        let mut chars = self.long_plugin_output.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some('n')) => {
                    out.push('\n');
                    chars.next();
                }
                ('\\', Some('\\')) => {
                    out.push('\\');
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        out
    }
}

/// The current effective user and group ids (those of a file this process creates).
fn current_ids(dir: &Path) -> (u32, u32) {
    let probe = dir.join(".ids");
    std::fs::write(&probe, b"").unwrap();
    let meta = std::fs::metadata(&probe).unwrap();
    std::fs::remove_file(&probe).unwrap();
    (meta.uid(), meta.gid())
}

/// `nagios.cfg` for a Nagios living in `dir`, reading `templates.cfg` and `objects.cfg` there.
fn main_cfg(dir: &Path) -> String {
    let (uid, gid) = current_ids(dir);
    let d = dir.display();
    // Numeric nagios_user/nagios_group: Nagios then neither looks up a name nor changes user
    // (root runs as root: Nagios 4.4.6 allows that without any option).
    format!(
        "\
log_file={d}/nagios.log
debug_file={d}/nagios.debug
debug_level=0
cfg_file={d}/templates.cfg
cfg_file={d}/objects.cfg
object_cache_file={d}/objects.cache
precached_object_file={d}/objects.precache
status_file={d}/status.dat
status_update_interval=1
temp_file={d}/nagios.tmp
temp_path={d}
lock_file={d}/nagios.lock
query_socket={d}/nagios.qh
command_file={d}/nagios.cmd
check_external_commands=1
check_result_path={d}/checkresults
check_result_reaper_frequency=1
max_check_result_reaper_time=1
nagios_user={uid}
nagios_group={gid}
check_workers=1
use_syslog=0
log_rotation_method=n
log_passive_checks=1
log_external_commands=1
log_initial_states=0
retain_state_information=0
check_for_updates=0
check_for_orphaned_services=0
check_for_orphaned_hosts=0
enable_notifications=0
enable_event_handlers=0
enable_flap_detection=0
execute_service_checks=1
execute_host_checks=1
accept_passive_service_checks=1
accept_passive_host_checks=1
passive_host_checks_are_soft=0
check_service_freshness=1
service_freshness_check_interval=1
check_host_freshness=1
host_freshness_check_interval=1
additional_freshness_latency=0
interval_length=1
illegal_macro_output_chars=`~$&|'\"<>
"
    )
}

/// Write a complete config for `objects` into `dir`; returns the path of `nagios.cfg`.
fn write_config(dir: &Path, objects: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("checkresults")).unwrap();
    std::fs::write(dir.join("templates.cfg"), TEMPLATES).unwrap();
    std::fs::write(dir.join("objects.cfg"), objects).unwrap();
    let cfg = dir.join("nagios.cfg");
    std::fs::write(&cfg, main_cfg(dir)).unwrap();
    cfg
}

/// `nagios4 -v cfg`: Ok(output) when it exits 0, else Err(output).
fn preflight(cfg: &Path) -> Result<String, String> {
    let out = Command::new(NAGIOS)
        .arg("-v")
        .arg(cfg)
        .stdin(Stdio::null())
        .output()
        .expect("run nagios4 -v");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Nagios {
    /// Check (`nagios4 -v`, panics with its output on errors) and start Nagios with `TEMPLATES`
    /// and `objects`; returns once the command FIFO accepts writers and status.dat exists.
    pub fn start(objects: &str) -> Nagios {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_config(dir.path(), objects);
        if let Err(out) = preflight(&cfg) {
            panic!("nagios4 -v rejected the config:\n{out}");
        }
        let d = dir.path().to_path_buf();
        Self::spawn(
            dir,
            &cfg,
            d.join("nagios.cmd"),
            d.join("status.dat"),
            d.join("nagios.log"),
        )
    }

    /// Start Nagios on a copy of Debian's stock config (see `StockConfig`) with `objects` in
    /// its `conf.d`. Only what keeps a test from touching the world is changed besides the
    /// paths: no notifications (they would mail nagios@localhost), no syslog, no update check
    /// over the network. The stock timing stays (status.dat every 10 s, results reaped every
    /// 10 s), so allow ~25 s per state change. Panics when `nagios4 -v` reports an error.
    pub fn start_stock(objects: &str) -> Nagios {
        let stock = StockConfig::new(
            objects,
            &[
                ("enable_notifications", "0"),
                ("use_syslog", "0"),
                ("check_for_updates", "0"),
            ],
        );
        if let Err(out) = preflight(&stock.main_cfg) {
            panic!("nagios4 -v rejected the stock config with our objects:\n{out}");
        }
        let StockConfig {
            dir,
            main_cfg,
            command_file,
            status_file,
            log_file,
            ..
        } = stock;
        Self::spawn(dir, &main_cfg, command_file, status_file, log_file)
    }

    fn spawn(
        dir: tempfile::TempDir,
        cfg: &Path,
        command_file: PathBuf,
        status_file: PathBuf,
        log_file: PathBuf,
    ) -> Nagios {
        let out = std::fs::File::create(dir.path().join("nagios.out")).unwrap();
        let child = Command::new(NAGIOS)
            .arg(cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start nagios4");
        let mut nagios = Nagios {
            dir,
            child,
            command_file,
            status_file,
            log_file,
        };
        nagios.wait_ready(Duration::from_secs(30));
        nagios
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "nagios4 exited ({status}) while starting:\n{}",
                    self.diagnostics()
                );
            }
            if self.status_file().exists() && self.open_fifo().is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "nagios4 not ready within {timeout:?}:\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The FIFO Nagios reads external commands from (give it to `NscaDaemon::start_for`).
    pub fn command_file(&self) -> PathBuf {
        self.command_file.clone()
    }

    pub fn status_file(&self) -> PathBuf {
        self.status_file.clone()
    }

    pub fn log_file(&self) -> PathBuf {
        self.log_file.clone()
    }

    /// nagios.log so far (external commands, passive checks, alerts, freshness warnings).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Nagios' stdout/stderr and log, for panic messages.
    pub fn diagnostics(&self) -> String {
        let out = std::fs::read_to_string(self.dir.path().join("nagios.out")).unwrap_or_default();
        format!(
            "--- nagios4 stdout/stderr ---\n{out}\n--- nagios.log ---\n{}",
            self.log()
        )
    }

    fn open_fifo(&self) -> std::io::Result<std::fs::File> {
        let path = self.command_file();
        if !std::fs::metadata(&path)?.file_type().is_fifo() {
            return Err(std::io::Error::other("not a FIFO"));
        }
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
    }

    /// Write `[now] line\n` to the command FIFO in one write(); returns the timestamp used.
    pub fn submit(&self, line: &str) -> i64 {
        let ts = now();
        self.submit_at(ts, line);
        ts
    }

    /// Write `[ts] line\n` to the command FIFO in one write().
    pub fn submit_at(&self, ts: i64, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut fifo = loop {
            match self.open_fifo() {
                Ok(f) => break f,
                Err(e) if e.raw_os_error() == Some(ENXIO) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("open {}: {e}", self.command_file().display()),
            }
        };
        fifo.write_all(format!("[{ts}] {line}\n").as_bytes())
            .unwrap();
    }

    /// All blocks of one kind (`servicestatus`, `hoststatus`, `programstatus`, ...) in
    /// status.dat, as key/value maps.
    pub fn status_blocks(&self, kind: &str) -> Vec<HashMap<String, String>> {
        let text = std::fs::read_to_string(self.status_file()).unwrap_or_default();
        let mut blocks = Vec::new();
        let mut current: Option<HashMap<String, String>> = None;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(name) = line.strip_suffix(" {") {
                current = (name == kind).then(HashMap::new);
            } else if trimmed == "}" {
                blocks.extend(current.take());
            } else if let (Some(block), Some((k, v))) = (current.as_mut(), trimmed.split_once('='))
            {
                block.insert(k.to_string(), v.to_string());
            }
        }
        blocks
    }

    /// The service's entry in status.dat (None until Nagios has written it).
    pub fn service_state(&self, host: &str, svc: &str) -> Option<ServiceStatus> {
        self.status_blocks("servicestatus")
            .into_iter()
            .find(|b| {
                b.get("host_name").map(String::as_str) == Some(host)
                    && b.get("service_description").map(String::as_str) == Some(svc)
            })
            .map(ServiceStatus::from_fields)
    }

    /// The host's entry in status.dat.
    pub fn host_state(&self, host: &str) -> Option<HostStatus> {
        self.status_blocks("hoststatus")
            .into_iter()
            .find(|b| b.get("host_name").map(String::as_str) == Some(host))
            .map(ServiceStatus::from_fields)
    }

    /// Poll status.dat until `pred` holds for the service; panics after `timeout` with the last
    /// state seen and the log.
    #[track_caller]
    pub fn wait_service(
        &self,
        host: &str,
        svc: &str,
        pred: impl Fn(&ServiceStatus) -> bool,
        timeout: Duration,
    ) -> ServiceStatus {
        self.wait_for(
            || self.service_state(host, svc),
            pred,
            timeout,
            &format!("{host};{svc}"),
        )
    }

    /// As `wait_service`, for a host.
    #[track_caller]
    pub fn wait_host(
        &self,
        host: &str,
        pred: impl Fn(&HostStatus) -> bool,
        timeout: Duration,
    ) -> HostStatus {
        self.wait_for(|| self.host_state(host), pred, timeout, host)
    }

    #[track_caller]
    fn wait_for(
        &self,
        get: impl Fn() -> Option<ServiceStatus>,
        pred: impl Fn(&ServiceStatus) -> bool,
        timeout: Duration,
        what: &str,
    ) -> ServiceStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let state = get();
            match state {
                Some(s) if pred(&s) => return s,
                _ if Instant::now() >= deadline => panic!(
                    "{what}: condition not met within {timeout:?}; last state: {state:#?}\n{}",
                    self.diagnostics()
                ),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `nagios4 -v` on a config made of `TEMPLATES` and `objects` (e.g. the output of
    /// `nagbridge nagios-config`). Ok when Nagios reports no errors (warnings allowed), else
    /// Err(its output).
    pub fn verify(objects: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        preflight(&write_config(dir.path(), objects)).map(|_| ())
    }

    /// As `verify`, and warnings count as failures too.
    pub fn verify_no_warnings(objects: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let out = preflight(&write_config(dir.path(), objects))?;
        if out.contains("Total Warnings: 0\n") {
            Ok(())
        } else {
            Err(out)
        }
    }
}

impl Drop for Nagios {
    fn drop(&mut self) {
        // SIGTERM lets Nagios stop its workers and remove the FIFO; kill if it hangs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's stock Nagios config dir, as `nagios4-common` / `nagios4-core` install it.
pub const STOCK_DIR: &str = "/etc/nagios4";

/// Path prefixes of Debian's `nagios.cfg` rewritten into the temp dir (everything else, e.g.
/// `cfg_dir=/etc/nagios-plugins/config` or `temp_path=/tmp`, is read or used as it is).
const STOCK_PREFIXES: [(&str, &str); 5] = [
    ("/etc/nagios4", "etc"),
    ("/var/lib/nagios4", "var/lib"),
    ("/var/log/nagios4", "var/log"),
    ("/var/run/nagios4", "run"),
    ("/run/nagios4", "run"),
];

/// A copy of Debian's stock `/etc/nagios4` in a temp dir: every file as installed, and in
/// `nagios.cfg` only the paths under `STOCK_PREFIXES` rewritten into the temp dir, plus
/// `nagios_user`/`nagios_group` set to the current ids (Nagios drops to them, and the temp dir
/// is ours). The objects under test go into the copy of `conf.d`, which Debian's nagios.cfg
/// reads with `cfg_dir`.
pub struct StockConfig {
    pub dir: tempfile::TempDir,
    pub main_cfg: PathBuf,
    /// Where the objects under test are: `<copy>/conf.d/nagbridge.cfg`.
    pub objects_file: PathBuf,
    pub command_file: PathBuf,
    pub status_file: PathBuf,
    pub log_file: PathBuf,
}

/// What `nagios4 -v` reported.
#[derive(Debug, Clone)]
pub struct Verified {
    pub errors: u32,
    pub warnings: u32,
    /// `Checked N services.` / `Checked N hosts.`
    pub services: u32,
    pub hosts: u32,
    pub output: String,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        // Follow symlinks: the copy must hold what Nagios would read.
        if std::fs::metadata(entry.path()).unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
            continue;
        }
        match std::fs::copy(entry.path(), &target) {
            Ok(_) => {}
            // Debian's resource.cfg is root:nagios 0640; a developer not running as root gets
            // its stock content (the only line that is not a comment).
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    && entry.file_name() == "resource.cfg" =>
            {
                eprintln!(
                    "note: {} is unreadable here ({e}); using its stock line instead",
                    entry.path().display()
                );
                std::fs::write(&target, "$USER1$=/usr/lib/nagios/plugins\n").unwrap();
            }
            Err(e) => panic!("copy {}: {e}", entry.path().display()),
        }
    }
}

/// The number after `prefix` on the first line that starts with it (trimmed).
fn count_after(output: &str, prefix: &str) -> Option<u32> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix)?.trim().parse().ok())
}

impl StockConfig {
    /// Copy the stock config, rewrite its paths, apply `overrides` (`key`, `value`: a line of
    /// nagios.cfg replaced; none for `nagios4 -v`), and put `objects` in `conf.d`.
    pub fn new(objects: &str, overrides: &[(&str, &str)]) -> StockConfig {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let etc = root.join("etc");
        copy_tree(Path::new(STOCK_DIR), &etc);
        let (uid, gid) = current_ids(root);
        let stock = std::fs::read_to_string(Path::new(STOCK_DIR).join("nagios.cfg")).unwrap();
        let mut cfg = String::new();
        let mut values = HashMap::new();
        for line in stock.lines() {
            let mut line = line.to_string();
            if let Some((key, value)) = line.split_once('=') {
                let key = key.trim().to_string();
                let mut value = value.to_string();
                if !key.starts_with('#') {
                    for (prefix, sub) in STOCK_PREFIXES {
                        if let Some(rest) = value.strip_prefix(prefix) {
                            value = format!("{}{rest}", root.join(sub).display());
                        }
                    }
                    match key.as_str() {
                        "nagios_user" => value = uid.to_string(),
                        "nagios_group" => value = gid.to_string(),
                        _ => {}
                    }
                    if let Some((_, v)) = overrides.iter().find(|(k, _)| *k == key) {
                        value = v.to_string();
                    }
                    line = format!("{key}={value}");
                    values.entry(key).or_insert(value);
                }
            }
            cfg.push_str(&line);
            cfg.push('\n');
        }
        let path = |key: &str| -> PathBuf {
            PathBuf::from(values.get(key).unwrap_or_else(|| {
                panic!("{STOCK_DIR}/nagios.cfg has no {key}: not Debian's stock config?")
            }))
        };
        let conf_d = etc.join("conf.d");
        let cfg_dirs: Vec<&str> = cfg
            .lines()
            .filter_map(|l| l.strip_prefix("cfg_dir="))
            .collect();
        assert!(
            cfg_dirs.iter().any(|d| Path::new(d) == conf_d),
            "{STOCK_DIR}/nagios.cfg does not read conf.d (cfg_dir lines: {cfg_dirs:?})"
        );
        for key in ["check_result_path", "log_archive_path"] {
            std::fs::create_dir_all(path(key)).unwrap();
        }
        for key in ["command_file", "lock_file", "status_file", "log_file"] {
            std::fs::create_dir_all(path(key).parent().unwrap()).unwrap();
        }
        std::fs::create_dir_all(&conf_d).unwrap();
        let objects_file = conf_d.join("nagbridge.cfg");
        std::fs::write(&objects_file, objects).unwrap();
        let main_cfg = etc.join("nagios.cfg");
        std::fs::write(&main_cfg, cfg).unwrap();
        StockConfig {
            main_cfg,
            objects_file,
            command_file: path("command_file"),
            status_file: path("status_file"),
            log_file: path("log_file"),
            dir,
        }
    }

    /// `nagios4 -v` on Debian's stock config with `objects` in `conf.d`.
    pub fn verify(objects: &str) -> Verified {
        let stock = StockConfig::new(objects, &[]);
        let output = match preflight(&stock.main_cfg) {
            Ok(o) | Err(o) => o,
        };
        let n = |prefix: &str| count_after(&output, prefix).unwrap_or(u32::MAX);
        let checked = |what: &str| {
            output
                .lines()
                .find_map(|l| {
                    let l = l.trim().strip_prefix("Checked ")?;
                    let (n, rest) = l.split_once(' ')?;
                    (rest == format!("{what}.")).then(|| n.parse().ok())?
                })
                .unwrap_or(u32::MAX)
        };
        Verified {
            errors: n("Total Errors:"),
            warnings: n("Total Warnings:"),
            services: checked("services"),
            hosts: checked("hosts"),
            output,
        }
    }
}
