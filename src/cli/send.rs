//! `nagbridge send` (and `send_nsca` when the binary has that name): read results from stdin
//! and send them to an NSCA server, with send_nsca 2.10.2's output and exit codes.
//!
//! Owns: wiring the `send_nsca` parsers of the `nsca` crate to its client, the global `-to`
//! deadline, and the operator-facing messages. Parsing rules live in `nsca::send_nsca`.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use nsca::client::{ClientConfig, ClientError, Connection};
use nsca::crypto::Method;
use nsca::packet::{PacketSize, PassiveCheck, HOST_FIELD, SERVICE_FIELD};
use nsca::send_nsca::{
    self, parse_record, Delimiters, Record, RecordSplitter, RecordTooLong, Split,
};
use tokio::io::AsyncReadExt;

use super::send_args::{self, Action, SendArgs};

/// Exit status: at least one packet sent.
pub const EXIT_OK: i32 = 0;
/// Exit status: nothing sent, or a config/connect/init/crypto/timeout error.
pub const EXIT_CRITICAL: i32 = 2;
/// Exit status: bad arguments, help, version, or a send error.
pub const EXIT_UNKNOWN: i32 = 3;
/// Exit status: a record longer than 5119 bytes (send_nsca's `return ERROR` from main).
pub const EXIT_TOO_LONG: i32 = 255;

/// Run with the arguments that follow `send` (or `send_nsca`); returns the exit status.
pub fn main(args: &[OsString]) -> i32 {
    match send_args::parse(args) {
        Err(e) => {
            eprintln!("nagbridge send: {e}\nTry 'nagbridge send --help'.");
            EXIT_UNKNOWN
        }
        Ok(Action::Help) => {
            print!("{}", send_args::HELP);
            EXIT_UNKNOWN
        }
        Ok(Action::Version) => {
            println!(
                "nagbridge send {} (compatible with send_nsca 2.10.2)",
                env!("CARGO_PKG_VERSION")
            );
            EXIT_UNKNOWN
        }
        Ok(Action::License) => {
            println!("nagbridge is licensed under the MIT license.");
            EXIT_UNKNOWN
        }
        Ok(Action::Send(a)) => run(&a),
    }
}

fn run(a: &SendArgs) -> i32 {
    let config = match load_config(&a.config, a.config_given) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("error: {msg}");
            return EXIT_CRITICAL;
        }
    };
    let method = match &a.encryption {
        Some(name) => match name.parse::<Method>() {
            Ok(m) => m,
            Err(e) => {
                eprintln!("nagbridge send: --encryption {name}: {e}");
                return EXIT_UNKNOWN;
            }
        },
        None => match Method::from_number(i64::from(config.method_number())) {
            Ok(m) => m,
            Err(e) => {
                eprintln!(
                    "error: config file '{}': {e}; set encryption_method to the server's decryption_method",
                    a.config.display()
                );
                return EXIT_CRITICAL;
            }
        },
    };
    let password = match &a.password_file {
        Some(path) => match read_password_file(path) {
            Ok(p) => p,
            Err(msg) => {
                eprintln!("error: {msg}");
                return EXIT_CRITICAL;
            }
        },
        None => config.password.clone().unwrap_or_default(),
    };
    let legacy = config.legacy_2_7_mode.unwrap_or(a.legacy);
    let server = if a.host.contains(':') && !a.host.starts_with('[') {
        format!("[{}]:{}", a.host, a.port)
    } else {
        format!("{}:{}", a.host, a.port)
    };
    let deadline = Duration::from_secs(u64::from(a.timeout_secs));
    let mut client = ClientConfig::new(server, method, password);
    client.packet = if legacy {
        PacketSize::Legacy
    } else {
        PacketSize::V3
    };
    // The -to deadline below covers everything; the client's own timeouts only back it up.
    client.connect_timeout = deadline + Duration::from_secs(1);
    client.io_timeout = deadline + Duration::from_secs(1);
    client.escape_newlines = !a.server_escapes;
    let delimiters = Delimiters {
        field: a.delimiter,
        set: a.set_delimiter,
    };

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return EXIT_CRITICAL;
        }
    };
    let result =
        rt.block_on(async { tokio::time::timeout(deadline, session(&client, delimiters)).await });
    // Reading stdin runs on a blocking thread that cannot be cancelled: do not wait for it.
    rt.shutdown_background();
    let (sent, end) = match result {
        Ok(r) => r,
        Err(_) => {
            eprintln!(
                "Error: Timeout after {} seconds (connecting, reading standard input and \
                 sending must all finish within -to; raise -to if the producer is slow)",
                a.timeout_secs
            );
            return EXIT_CRITICAL;
        }
    };
    match end {
        End::Eof => {
            if sent == 0 || !a.quiet {
                println!("{sent} data packet(s) sent to host successfully.");
            }
            if sent == 0 {
                EXIT_CRITICAL
            } else {
                EXIT_OK
            }
        }
        End::TooLong(e) => {
            // send_nsca prints this line on stdout; keep it there for scripts that read it.
            println!("Error: Input set is longer than max allowed.");
            eprintln!("error: {e}; split the result or shorten its output");
            EXIT_TOO_LONG
        }
        End::Client(e) => {
            if e.is_send_error() {
                eprintln!("Error: Could not send data to host: {e}");
                EXIT_UNKNOWN
            } else {
                eprintln!("error: {e}{}", hint(&e));
                EXIT_CRITICAL
            }
        }
    }
}

fn hint(e: &ClientError) -> &'static str {
    match e {
        ClientError::Connect { .. } => {
            "; is the nsca daemon running and listening on that address and port (-H, -p)?"
        }
        _ => "",
    }
}

/// Read and parse the send_nsca.cfg at `path` (`given`: from `-c`, else the default). Every
/// error names the path tried (and the directory a relative one is relative to), why it could
/// not be used, and what to do.
fn load_config(path: &Path, given: bool) -> Result<send_nsca::Config, String> {
    let data = std::fs::read(path).map_err(|e| unreadable_config(path, given, &e))?;
    let (config, warnings) = send_nsca::parse_config(&data)
        .map_err(|e| format!("config file '{}': {e}", path.display()))?;
    for w in warnings {
        eprintln!("warning: config file '{}': {w}", path.display());
    }
    Ok(config)
}

/// The message for a config file that cannot be read.
fn unreadable_config(path: &Path, given: bool, e: &std::io::Error) -> String {
    let mut msg = format!("could not open config file '{}'", path.display());
    if path.is_relative() {
        match std::env::current_dir() {
            Ok(cwd) => msg.push_str(&format!(" (in the current directory {})", cwd.display())),
            Err(_) => msg.push_str(" (relative to the current directory)"),
        }
    }
    if !given {
        msg.push_str(" (the default: no -c given)");
    }
    msg.push_str(&format!(" for reading: {e}"));
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound if !given => {
            "; without -c, nagbridge send reads /etc/send_nsca.cfg, as Debian's send_nsca does: \
             create it (password=..., encryption_method=<the server's decryption_method>; \
             package nsca-client installs one) or pass -c FILE"
        }
        std::io::ErrorKind::NotFound => "; check the path given to -c",
        std::io::ErrorKind::PermissionDenied => {
            "; it holds the NSCA password: run as a user allowed to read it (e.g. in its group)"
        }
        std::io::ErrorKind::IsADirectory => "; -c takes the path of a file",
        _ => "",
    };
    msg.push_str(hint);
    msg
}

fn read_password_file(path: &Path) -> Result<Vec<u8>, String> {
    let mut data = std::fs::read(path)
        .map_err(|e| format!("could not read password file '{}': {e}", path.display()))?;
    if data.ends_with(b"\n") {
        data.pop();
        if data.ends_with(b"\r") {
            data.pop();
        }
    }
    if data.contains(&b'\n') {
        return Err(format!(
            "password file '{}' holds more than one line: put only the password in it",
            path.display()
        ));
    }
    Ok(data)
}

enum End {
    Eof,
    TooLong(RecordTooLong),
    Client(ClientError),
}

/// Queued bytes that trigger a write before the chunk of input is done.
const FLUSH_BYTES: usize = 256 * 1024;

/// Connect (before reading stdin, like send_nsca), then send each result as soon as its set
/// delimiter arrives: the packets of one chunk of standard input go out in one write. Returns
/// the packets written and how it ended.
async fn session(client: &ClientConfig, delimiters: Delimiters) -> (usize, End) {
    let legacy = client.packet == PacketSize::Legacy;
    let mut sent = 0;
    let mut conn = match Connection::open(client).await {
        Ok(c) => Some(c),
        Err(e) => return (0, End::Client(e)),
    };
    let mut stdin = tokio::io::stdin();
    let mut splitter = RecordSplitter::new(delimiters.set);
    let mut buf = vec![0u8; 64 * 1024];
    let mut eof = false;
    while !eof {
        let splits = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => {
                // send_nsca's getc() treats a read error as the end of input, too.
                eof = true;
                splitter.finish().map(Split::Record).into_iter().collect()
            }
            Ok(n) => splitter.push(&buf[..n]),
        };
        for split in splits {
            let bytes = match split {
                Split::Record(b) => b,
                Split::TooLong(e) => {
                    if let Some(c) = conn.take() {
                        let _ = c.close().await;
                    }
                    return (sent, End::TooLong(e));
                }
            };
            let index = splitter.records_seen();
            let Some(record) = parse_record(&bytes, delimiters.field) else {
                continue;
            };
            let check = match to_check(&record, index) {
                Ok(c) => c,
                Err(why) => {
                    eprintln!("warning: skipped result {index}: {why}");
                    continue;
                }
            };
            if conn.is_none() {
                match Connection::open(client).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => return (sent, End::Client(e)),
                }
            }
            let c = conn.as_mut().expect("connection is open");
            // Queue, and write once per chunk of input (or every 256 KiB): one system call for
            // many packets instead of one each.
            if let Err(e) = c.queue(&check) {
                return (sent, End::Client(e));
            }
            if c.queued_bytes() >= FLUSH_BYTES {
                if let Err(e) = c.flush().await {
                    return (sent, End::Client(e));
                }
            }
            sent += 1;
            if legacy {
                // NSCA 2.9.1+ keeps only the first 720-byte packet of a connection.
                if let Err(e) = conn.take().expect("open").close().await {
                    return (sent, End::Client(e));
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            if let Err(e) = c.flush().await {
                return (sent, End::Client(e));
            }
        }
    }
    if let Some(c) = conn {
        if let Err(e) = c.close().await {
            return (sent, End::Client(e));
        }
    }
    (sent, End::Eof)
}

/// A record as a check: bytes that are not UTF-8 are replaced, line breaks at the start of the
/// host or service (a `\n` after the set delimiter) are dropped, and names that would corrupt
/// the command file are refused (send_nsca sends them anyway).
fn to_check(record: &Record<'_>, index: usize) -> Result<PassiveCheck, String> {
    let name = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .trim_start_matches(['\r', '\n'])
            .to_string()
    };
    let host = name(record.host);
    let service = name(record.service);
    if host.is_empty() {
        return Err("the host name is only line breaks".into());
    }
    for (what, value, max) in [
        ("host name", &host, HOST_FIELD - 1),
        ("service description", &service, SERVICE_FIELD - 1),
    ] {
        if value.len() > max {
            eprintln!(
                "warning: result {index}: the {what} is {} bytes long; only the first {max} are sent (as send_nsca does)",
                value.len()
            );
        }
    }
    let check = PassiveCheck {
        host,
        service,
        return_code: record.return_code,
        output: String::from_utf8_lossy(record.output).into_owned(),
    };
    check.validate().map_err(|e| e.to_string())?;
    Ok(check)
}
