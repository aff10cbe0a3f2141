//! `nagbridge demo` runs with no outside server and shows what Nagios would receive.
use std::process::Command;

#[test]
fn demo_delivers_every_sample_over_both_packet_sizes() {
    let out = Command::new(env!("CARGO_BIN_EXE_nagbridge"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout
            .matches("the receiver decrypted and verified 4.")
            .count(),
        2,
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("PROCESS_SERVICE_CHECK_RESULT;backup01;backup borg-vms;2;CRITICAL")
            .count(),
        2
    );
    assert_eq!(
        stdout
            .matches("PROCESS_HOST_CHECK_RESULT;backup01;0;")
            .count(),
        2
    );
}
