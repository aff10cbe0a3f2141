//! A throwaway Icinga 2 (Debian's `icinga2`) for the tests, without systemd: each node runs
//! `icinga2 daemon` with every directory (`-DConfigDir`, `-DDataDir`, ...) in a temp dir, on a
//! free loopback port, and is stopped by its process id. Certificates come from a test CA made
//! here (ECDSA, so no key generation wait; each names its node in CN and subjectAltName, as
//! `icinga2 pki` does). State is read back through the API with `curl` as ApiUser `root`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

pub const ICINGA2: &str = "/usr/sbin/icinga2";
/// The password of ApiUser `root` (every permission), which the tests read state with.
pub const ROOT_PASSWORD: &str = "root-test-pw";

/// A CA that signs node and client certificates.
pub struct Pki {
    ca: rcgen::Certificate,
    key: KeyPair,
    /// Its certificate (PEM).
    pub ca_file: PathBuf,
}

impl Pki {
    /// A new CA, its certificate written into `dir`.
    pub fn new(dir: &Path) -> Pki {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "Icinga CA");
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let ca = p.self_signed(&key).unwrap();
        let ca_file = dir.join("ca.crt");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        Pki { ca, key, ca_file }
    }

    /// A certificate for `cn` (CN and DNS subjectAltName), written as `dir/<cn>.crt` and
    /// `dir/<cn>.key`.
    pub fn issue(&self, cn: &str, dir: &Path) -> (PathBuf, PathBuf) {
        let mut p = CertificateParams::new(vec![cn.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.ca, &self.key).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let (c, k) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// One Icinga 2 node.
pub struct Node {
    pub name: String,
    pub port: u16,
    pub dir: PathBuf,
    pub ca_file: PathBuf,
    child: Option<Child>,
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Node {
    /// Lay out node `name` under `root/<name>`: certificates from `pki`, zone `zone`,
    /// `zones_conf` (Endpoint and Zone objects), `local_conf` (hosts, services, ApiUsers;
    /// ApiUser `root` is added). Not started.
    pub fn prepare(
        root: &Path,
        pki: &Pki,
        name: &str,
        zone: &str,
        port: u16,
        zones_conf: &str,
        local_conf: &str,
    ) -> Node {
        let dir = root.join(name);
        for d in [
            "etc/zones.d",
            "lib/certs",
            "log",
            "cache",
            "spool",
            "initrun",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        pki.issue(name, &dir.join("lib/certs"));
        std::fs::copy(&pki.ca_file, dir.join("lib/certs/ca.crt")).unwrap();
        let main = format!(
            r#"const NodeName = "{name}"
const ZoneName = "{zone}"
const TicketSalt = ""
const PluginDir = "/usr/lib/nagios/plugins"
include <itl>
include "zones.conf"
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
  accept_config = true
  accept_commands = true
}}
object CheckerComponent "checker" {{ }}
object FileLogger "main-log" {{
  severity = "information"
  path = LogDir + "/icinga2.log"
}}
object ApiUser "root" {{
  password = "{ROOT_PASSWORD}"
  permissions = [ "*" ]
}}
include "local.conf"
"#
        );
        std::fs::write(dir.join("etc/icinga2.conf"), main).unwrap();
        std::fs::write(dir.join("etc/zones.conf"), zones_conf).unwrap();
        std::fs::write(dir.join("etc/local.conf"), local_conf).unwrap();
        Node {
            name: name.to_string(),
            port,
            ca_file: pki.ca_file.clone(),
            dir,
            child: None,
        }
    }

    /// A single node (zone `master`) with `local_conf`, started, its API ready.
    pub fn single(root: &Path, pki: &Pki, name: &str, local_conf: &str) -> Node {
        let zones = format!("object Endpoint \"{name}\" {{ }}\nobject Zone \"master\" {{ endpoints = [ \"{name}\" ] }}\n");
        let mut n = Node::prepare(
            root,
            pki,
            name,
            "master",
            super::free_port(),
            &zones,
            local_conf,
        );
        n.start();
        n
    }

    fn defines(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("-DConfigDir={d}/etc"),
            format!("-DDataDir={d}/lib"),
            format!("-DLogDir={d}/log"),
            format!("-DCacheDir={d}/cache"),
            format!("-DSpoolDir={d}/spool"),
            format!("-DInitRunDir={d}/initrun"),
            format!("-DZonesDir={d}/etc/zones.d"),
            format!("-DRunAsUser={}", id("-un")),
            format!("-DRunAsGroup={}", id("-gn")),
        ]
    }

    /// `icinga2 daemon -C` on this node's config: Ok, or the errors.
    pub fn validate(&self) -> Result<String, String> {
        let out = Command::new(ICINGA2)
            .arg("daemon")
            .args(self.defines())
            .arg("-c")
            .arg(self.dir.join("etc/icinga2.conf"))
            .arg("-C")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// Start the daemon and wait (at most 30 s) until its API answers.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        let log = std::fs::File::create(self.dir.join("daemon.out")).unwrap();
        use std::os::unix::process::CommandExt;
        let child = Command::new(ICINGA2)
            .arg("daemon")
            .args(self.defines())
            .arg("-c")
            .arg(self.dir.join("etc/icinga2.conf"))
            .process_group(0) // its own group: `signal` reaches its worker process too
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.http_code("/v1/status/IcingaApplication") == "200" {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("icinga2 {} exited: {status}\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "icinga2 {} API not ready in 30 s\n{}",
            self.name,
            self.log()
        );
    }

    /// SIGTERM, and wait (then SIGKILL after 20 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Its process id (running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send `signal` (`STOP`, `CONT`) to the daemon's processes (its process group).
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .arg(format!("-{}", self.pid()))
            .status();
    }

    pub fn log(&self) -> String {
        let a = std::fs::read_to_string(self.dir.join("daemon.out")).unwrap_or_default();
        let b = std::fs::read_to_string(self.dir.join("log/icinga2.log")).unwrap_or_default();
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!("{}\n{}", tail(&a), tail(&b))
    }

    fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-sS", "--max-time", "5", "--resolve"])
            .arg(format!("{}:{}:127.0.0.1", self.name, self.port))
            .arg("--cacert")
            .arg(&self.ca_file)
            .args(["-u", &format!("root:{ROOT_PASSWORD}")])
            .args(["-H", "Accept: application/json"]);
        c
    }

    /// The URL of `path` at this node.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{}{path}", self.name, self.port)
    }

    fn http_code(&self, path: &str) -> String {
        let out = self
            .curl()
            .args(["-o", "/dev/null", "-w", "%{http_code}"])
            .arg(self.url(path))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// GET `path` as root: the JSON answer.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let out = self.curl().arg(self.url(path)).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// The attributes of service `host!service` (None when it does not exist).
    pub fn service(&self, host: &str, service: &str) -> Option<serde_json::Value> {
        let name = format!("{host}!{service}")
            .replace('%', "%25")
            .replace(' ', "%20")
            .replace('!', "%21");
        let v = self.get(&format!("/v1/objects/services/{name}"));
        v.get("results")?.get(0)?.get("attrs").cloned()
    }

    /// The attributes of host `host`.
    pub fn host(&self, host: &str) -> Option<serde_json::Value> {
        let v = self.get(&format!("/v1/objects/hosts/{}", host.replace(' ', "%20")));
        v.get("results")?.get(0)?.get("attrs").cloned()
    }

    /// Wait (at most `timeout`) until service `host!service` satisfies `ok`; its attributes.
    pub fn wait_service(
        &self,
        host: &str,
        service: &str,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(a) = self.service(host, service) {
                if ok(&a) {
                    return a;
                }
                last = Some(a);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{}: service {host}!{service} not as expected in {timeout:?}; last: {}\n{}",
            self.name,
            last.map(|a| serde_json::json!({"state": a["state"], "last_check_result": a["last_check_result"]}).to_string()).unwrap_or_default(),
            self.log()
        );
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(c.id().to_string())
                .status();
        }
        self.stop();
    }
}

/// The output of a service's last result.
pub fn output(attrs: &serde_json::Value) -> String {
    attrs["last_check_result"]["output"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A service's state (0-3).
pub fn state(attrs: &serde_json::Value) -> i64 {
    attrs["state"].as_f64().unwrap_or(-1.0) as i64
}
