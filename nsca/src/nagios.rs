//! What the NSCA 2.10.1+ daemon writes into Nagios' external command file for a received
//! check, so that receivers (tests, the demo) can show exactly what Nagios would get.
//!
//! Owns: the `PROCESS_SERVICE_CHECK_RESULT` / `PROCESS_HOST_CHECK_RESULT` line format and the
//! daemon's escaping (output `\` to `\\` and newline to `\n`; host and service cut at the first
//! newline). Pure: the caller passes the time.

use crate::packet::PassiveCheck;

/// The command-file line (without the trailing newline) that nsca 2.10.1+ writes for `check`
/// received at `now` (seconds since the epoch).
pub fn command_line(check: &PassiveCheck, now: u64) -> String {
    let cut = |s: &str| s.split('\n').next().unwrap_or_default().to_string();
    let mut output = String::with_capacity(check.output.len() + 8);
    for c in check.output.chars() {
        match c {
            '\\' => output.push_str("\\\\"),
            '\n' => output.push_str("\\n"),
            c => output.push(c),
        }
    }
    if check.is_host_check() {
        format!(
            "[{now}] PROCESS_HOST_CHECK_RESULT;{};{};{output}",
            cut(&check.host),
            check.return_code
        )
    } else {
        format!(
            "[{now}] PROCESS_SERVICE_CHECK_RESULT;{};{};{};{output}",
            cut(&check.host),
            cut(&check.service),
            check.return_code
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_and_host_lines() {
        let s = PassiveCheck::service("h", "backup db", 2, "CRITICAL: a\\b\nsecond").unwrap();
        assert_eq!(
            command_line(&s, 7),
            "[7] PROCESS_SERVICE_CHECK_RESULT;h;backup db;2;CRITICAL: a\\\\b\\nsecond"
        );
        let h = PassiveCheck::host("h", 0, "UP").unwrap();
        assert_eq!(command_line(&h, 7), "[7] PROCESS_HOST_CHECK_RESULT;h;0;UP");
    }
}
