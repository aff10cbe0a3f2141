//! The harness itself works: Debian's send_nsca delivers to Debian's nsca daemon.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn send_nsca_reaches_nsca_daemon() {
    if !have_peer(NSCA_DAEMON) || !have_peer(SEND_NSCA) {
        return;
    }
    let d = NscaDaemon::start(1, Some("secret"));
    let (rc, out, err) = run_send_nsca(
        "password=secret\nencryption_method=1\n",
        &["-H", "127.0.0.1", "-p", &d.port.to_string()],
        b"h1\tsvc\t2\thello\x17h1\t0\tup\n",
    );
    assert_eq!(rc, 0, "{out}{err}");
    let lines = d.wait_lines(2, Duration::from_secs(5));
    assert_eq!(
        lines,
        [
            "PROCESS_SERVICE_CHECK_RESULT;h1;svc;2;hello",
            "PROCESS_HOST_CHECK_RESULT;h1;0;up"
        ]
    );
}
