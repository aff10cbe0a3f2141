//! `nagbridge send` arguments: send_nsca's options exactly as send_nsca 2.10.2 spells them
//! (single-dash long options `-to`, `-ds`; the first argument may be the host), plus our
//! `--`-long options. Hand-written because clap cannot express `-to`.
//!
//! Owns: parsing and the help text; running is `cli::send`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nsca::send_nsca::{self, atoi, parse_delimiter};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send what stdin holds.
    Send(SendArgs),
    /// `-h`/`--help` (send_nsca exits 3 after it).
    Help,
    /// `-V`/`--version` (exit 3).
    Version,
    /// `-l`/`--license` (exit 3).
    License,
}

/// The options of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendArgs {
    /// `-H` (or the first argument): NSCA server name or address.
    pub host: String,
    /// `-p` (default 5667).
    pub port: u16,
    /// `-to` in seconds (default 10): one deadline for connect, init, reading stdin and sending.
    pub timeout_secs: u32,
    /// `-d` (default tab).
    pub delimiter: u8,
    /// `-ds` (default ETB).
    pub set_delimiter: u8,
    /// `-c` (default `/etc/send_nsca.cfg`, the file Debian's send_nsca reads without `-c`).
    pub config: PathBuf,
    /// True when `-c` was given (false: `config` is the default).
    pub config_given: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--legacy-2-7-mode` (the config file's `legacy_2_7_mode`, when set, wins).
    pub legacy: bool,
    /// `--encryption NAME|N`: overrides the config's `encryption_method`.
    pub encryption: Option<String>,
    /// `--password-file FILE`: overrides the config's `password`.
    pub password_file: Option<PathBuf>,
    /// `--server-escapes yes|no` (default yes: the server is NSCA 2.10.1 or later).
    pub server_escapes: bool,
}

/// Bad command line (send_nsca: "Incorrect command line arguments supplied", exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgsError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ArgsError> {
    Err(ArgsError(msg.into()))
}

/// Parse the arguments after `send` (or after `send_nsca`).
pub fn parse(args: &[OsString]) -> Result<Action, ArgsError> {
    if args.is_empty() {
        return Ok(Action::Help);
    }
    let mut host: Option<String> = None;
    let mut a = SendArgs {
        host: String::new(),
        port: nsca::client::DEFAULT_PORT,
        timeout_secs: 10,
        delimiter: send_nsca::DEFAULT_DELIMITER,
        set_delimiter: send_nsca::DEFAULT_SET_DELIMITER,
        config: PathBuf::from(send_nsca::DEFAULT_CONFIG_FILE),
        config_given: false,
        quiet: false,
        legacy: false,
        encryption: None,
        password_file: None,
        server_escapes: true,
    };
    let (mut help, mut version, mut license) = (false, false, false);
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        // `--name=value` for our long options.
        let (name, inline) = match arg.iter().position(|&b| b == b'=') {
            Some(eq) if arg.starts_with(b"--") => (&arg[..eq], Some(&arg[eq + 1..])),
            _ => (arg, None),
        };
        match name {
            b"-h" | b"--help" => help = true,
            b"-V" | b"--version" => version = true,
            b"-l" | b"--license" => license = true,
            b"--quiet" => a.quiet = true,
            b"--legacy-2-7-mode" => a.legacy = true,
            b"-H" => host = Some(text(take(args, &mut i, inline, name, "the NSCA server's name or address")?)?),
            b"-p" => {
                let v = take(args, &mut i, inline, name, "a port number")?;
                let p = atoi(v);
                a.port = u16::try_from(p).ok().filter(|&p| p != 0).ok_or_else(|| {
                    ArgsError(format!(
                        "-p {}: the port must be a number from 1 to 65535",
                        show(v)
                    ))
                })?;
            }
            b"-to" => {
                let v = take(args, &mut i, inline, name, "a timeout in seconds")?;
                let t = atoi(v);
                if t <= 0 {
                    return err(format!(
                        "-to {}: the timeout must be a whole number of seconds above 0",
                        show(v)
                    ));
                }
                a.timeout_secs = t as u32;
            }
            b"-d" | b"-ds" => {
                let v = take(args, &mut i, inline, name, "one character (',') or a character code (0x0a, 9)")?;
                let d = parse_delimiter(v).map_err(|e| ArgsError(format!("{}: {e}", show(name))))?;
                if name == b"-d" {
                    a.delimiter = d;
                } else {
                    a.set_delimiter = d;
                }
            }
            b"-c" => {
                a.config = PathBuf::from(OsString::from(std::ffi::OsStr::from_bytes(take(
                    args, &mut i, inline, name, "the path of a send_nsca.cfg",
                )?)));
                a.config_given = true;
            }
            b"--encryption" => {
                a.encryption = Some(text(take(args, &mut i, inline, name, "a method name or number, e.g. aes256 or 14")?)?)
            }
            b"--password-file" => {
                a.password_file = Some(PathBuf::from(std::ffi::OsStr::from_bytes(take(args, &mut i, inline, name,
                    "a file holding the password",
                )?)))
            }
            b"--server-escapes" => {
                a.server_escapes = match take(args, &mut i, inline, name, "yes or no")? {
                    b"yes" | b"true" => true,
                    b"no" | b"false" => false,
                    v => {
                        return err(format!(
                            "--server-escapes {}: use yes (NSCA server 2.10.1 or later) or no (older servers)",
                            show(v)
                        ))
                    }
                }
            }
            // Old syntax: the host as the first argument.
            _ if i == 0 && !arg.starts_with(b"-") => host = Some(text(arg)?),
            _ if arg.starts_with(b"-") => {
                return err(format!("unknown option {}", show(arg)));
            }
            _ => return err(format!("unexpected argument {}", show(arg))),
        }
        if inline.is_some()
            && !matches!(
                name,
                b"--encryption" | b"--password-file" | b"--server-escapes"
            )
        {
            return err(format!("{} takes no '=value'", show(name)));
        }
        i += 1;
    }
    if help {
        return Ok(Action::Help);
    }
    if license {
        return Ok(Action::License);
    }
    if version {
        return Ok(Action::Version);
    }
    match host {
        Some(h) if !h.is_empty() => a.host = h,
        _ => return err("no NSCA server given: use -H <host_address>"),
    }
    Ok(Action::Send(a))
}

fn take<'a>(
    args: &'a [OsString],
    i: &mut usize,
    inline: Option<&'a [u8]>,
    name: &[u8],
    what: &str,
) -> Result<&'a [u8], ArgsError> {
    if let Some(v) = inline {
        return Ok(v);
    }
    *i += 1;
    match args.get(*i) {
        Some(v) => Ok(v.as_bytes()),
        None => err(format!("{} needs a value: {what}", show(name))),
    }
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
        .trim_matches('"')
        .to_string()
}

fn text(b: &[u8]) -> Result<String, ArgsError> {
    String::from_utf8(b.to_vec()).map_err(|_| ArgsError(format!("{} is not valid UTF-8", show(b))))
}

/// `--help`.
pub const HELP: &str = "\
nagbridge send: send passive check results to an NSCA server (a drop-in for send_nsca 2.10)

Usage: nagbridge send [--quiet] -H <host_address> [-p port] [-to to_sec] [-d delim]
                      [-ds set_delim] [-c config_file] [--legacy-2-7-mode]
                      [--encryption NAME|N] [--password-file FILE] [--server-escapes yes|no]
       send_nsca ...   (the same, when this binary is installed or linked as send_nsca)

Options (spelled as send_nsca spells them):
  -H <host_address>   NSCA server name or address (required; may also be the first argument)
  -p <port>           server port (default 5667)
  -to <to_sec>        one deadline, in seconds, for connecting, reading the init packet,
                      reading standard input and sending (default 10)
  -d <delim>          field delimiter (default tab)
  -ds <set_delim>     delimiter between results (default ETB, 0x17, ^W)
                      A delimiter of one character is taken literally (-d 9 is the character
                      9); a longer one starting with a digit, + or - is a character code,
                      decimal, 0x hex or 0 octal (-ds 0x0a = newline, -d 0x09 = tab).
  -c <config_file>    send_nsca.cfg to read (default: /etc/send_nsca.cfg, the file Debian's
                      send_nsca reads without -c; a relative path is relative to the current
                      directory). It must exist and be readable, as for send_nsca.
  --quiet             print nothing on success
  --legacy-2-7-mode   720-byte packets for NSCA 2.7 servers (legacy_2_7_mode in the config
                      file, when present, takes precedence)
  -h, --help          this help (exit 3, as send_nsca)
  -V, --version       version (exit 3, as send_nsca)
Options of nagbridge only:
  --encryption NAME|N       cipher, overriding encryption_method: a number or a name such as
                            none, xor, 3des, blowfish, aes256 (= 14); must equal the server's
                            decryption_method
  --password-file FILE      read the password from FILE (one line; the line ending is not
                            part of it), overriding the config's password
  --server-escapes yes|no   yes (default): the server is NSCA 2.10.1 or later and escapes
                            newlines and backslashes itself; no: escape them here (\\ -> \\\\,
                            newline -> \\n), for older servers

Standard input: results separated by the set delimiter (ETB by default), fields by the field
delimiter (tab by default):
  service check:  <host>[tab]<service>[tab]<return code>[tab]<plugin output>
  host check:     <host>[tab]<return code>[tab]<plugin output>
Runs of delimiters count as one; the output keeps everything after the return code (tabs and
newlines included: without ETB all of stdin is one result, which is how multi-line output is
sent). Trailing spaces, tabs, CR and LF of a result are removed, leading ones kept. Results with
fewer than 3 fields are skipped. Return codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. At most
63 / 127 / 4095 (legacy 511) bytes of host / service / output are sent.

Examples:
  printf 'web01\\tbackup\\t2\\tCRITICAL: repo locked\\n' | nagbridge send -H nagios   # /etc/send_nsca.cfg
  printf 'web01\\t0\\tUP\\n' | nagbridge send -H nagios -c /etc/nagios/send_nsca.cfg    # host check
  printf 'web01\\tdisk\\t0\\tOK\\x17web01\\tload\\t1\\tWARNING: 5.2\\n' | nagbridge send -H nagios ...
  printf 'web01 disk 0 OK\\nweb01 load 1 WARNING\\n' | nagbridge send -H nagios -d ' ' -ds 0x0a ...

send_nsca.cfg (-c FILE; without -c /etc/send_nsca.cfg, the file Debian's send_nsca reads):
  password=<the server's password>    no spaces around '=': everything after it is the password
  encryption_method=<N>               the server's decryption_method (default 1, xor)
  legacy_2_7_mode=yes|no
  Lines starting with # are comments. Values with stray spaces or carriage returns (Windows
  line endings) get a warning: send_nsca keeps them, and every packet then fails the server's
  CRC check without any error here.

Exit codes (as send_nsca 2.10.2):
  0    at least one result was written to the server (NSCA never confirms more than that)
  2    nothing was sent, or a config, connection, init packet, encryption or timeout error
  3    bad arguments (also after -h and -V), or sending failed after connecting
  255  a result longer than 5119 bytes (the results before it were sent)

Migrating from send_nsca: the options, input, config file, output and exit codes are the same;
replace send_nsca with nagbridge send, or link send_nsca to the nagbridge binary. Differences:
errors go to standard error and say what to do; host or service names holding ';' or a newline
are skipped with a warning instead of corrupting Nagios' command file; fields are cut at a UTF-8
character boundary; --legacy-2-7-mode opens one connection per result, so several results
reach NSCA 2.9.1+ servers (send_nsca's are silently lost there).
";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Action, ArgsError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&args)
    }

    fn send(args: &[&str]) -> SendArgs {
        match p(args) {
            Ok(Action::Send(a)) => a,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let a = send(&["-H", "nagios"]);
        assert_eq!(a.host, "nagios");
        assert_eq!(a.port, 5667);
        assert_eq!(a.timeout_secs, 10);
        assert_eq!(a.delimiter, b'\t');
        assert_eq!(a.set_delimiter, 0x17);
        assert_eq!(a.config, PathBuf::from("/etc/send_nsca.cfg"));
        assert!(!a.config_given);
        assert!(!a.quiet && !a.legacy && a.server_escapes);
        assert_eq!(a.encryption, None);
    }

    #[test]
    fn send_nsca_spellings() {
        let a = send(&[
            "--quiet",
            "-H",
            "n",
            "-p",
            "15667",
            "-to",
            "3",
            "-d",
            ",",
            "-ds",
            "0x0a",
            "-c",
            "/etc/send_nsca.cfg",
            "--legacy-2-7-mode",
        ]);
        assert_eq!(
            (a.port, a.timeout_secs, a.delimiter, a.set_delimiter),
            (15667, 3, b',', b'\n')
        );
        assert!(a.quiet && a.legacy);
        assert_eq!(a.config, PathBuf::from("/etc/send_nsca.cfg"));
        assert!(a.config_given);
        // atoi, like send_nsca.
        assert_eq!(send(&["-H", "n", "-to", "5s"]).timeout_secs, 5);
    }

    #[test]
    fn old_syntax_host_first() {
        assert_eq!(send(&["nagios", "-p", "1"]).host, "nagios");
        assert_eq!(send(&["nagios", "-H", "other"]).host, "other");
    }

    #[test]
    fn our_long_options() {
        let a = send(&[
            "-H",
            "n",
            "--encryption",
            "aes256",
            "--password-file=/run/pw",
            "--server-escapes",
            "no",
        ]);
        assert_eq!(a.encryption.as_deref(), Some("aes256"));
        assert_eq!(a.password_file, Some(PathBuf::from("/run/pw")));
        assert!(!a.server_escapes);
        assert_eq!(
            send(&["-H", "n", "--encryption=14"]).encryption.as_deref(),
            Some("14")
        );
    }

    #[test]
    fn help_version_license() {
        assert_eq!(p(&[]), Ok(Action::Help));
        assert_eq!(p(&["-h"]), Ok(Action::Help));
        assert_eq!(p(&["-H", "x", "--help"]), Ok(Action::Help));
        assert_eq!(p(&["-V"]), Ok(Action::Version));
        assert_eq!(p(&["--license"]), Ok(Action::License));
    }

    #[test]
    fn bad_arguments() {
        for args in [
            &["-H", "n", "-to", "0"][..],
            &["-H", "n", "-to", "-5"],
            &["-H", "n", "-to", "abc"],
            &["-H", "n", "-p", "0"],
            &["-H", "n", "-p", "70000"],
            &["-H"],
            &["-H", "n", "-d"],
            &["-H", "n", "-ds"],
            &["-H", "n", "-x"],
            &["-H", "n", "extra"],
            &["-p", "1"],
            &["-H", "n", "--server-escapes", "maybe"],
            &["-H", "n", "--quiet=yes"],
            &["-H", "n", "-d", "99999999999999999999"],
        ] {
            assert!(p(args).is_err(), "{args:?} was accepted");
        }
    }
}
