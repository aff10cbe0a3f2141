//! Unit tests for the config and input parsers; the expected values were checked against
//! Debian's send_nsca 2.10.2 and nsca 2.10.2 (see also `tests/send_compat.rs`).

use super::*;

fn rec<'a>(host: &'a str, service: &'a str, rc: i16, output: &'a str) -> Record<'a> {
    Record {
        host: host.as_bytes(),
        service: service.as_bytes(),
        return_code: rc,
        output: output.as_bytes(),
    }
}

fn parse(input: &[u8]) -> Vec<Record<'_>> {
    parse_input(input, Delimiters::default()).records
}

fn with(input: &[u8], field: u8, set: u8) -> Vec<Record<'_>> {
    parse_input(input, Delimiters { field, set }).records
}

#[test]
fn service_and_host_checks_separated_by_etb() {
    assert_eq!(
        parse(b"h1\tsvc\t2\thello\x17h1\t0\tup\n"),
        [rec("h1", "svc", 2, "hello"), rec("h1", "", 0, "up")]
    );
}

#[test]
fn without_etb_all_of_stdin_is_one_record_with_newlines_in_the_output() {
    assert_eq!(
        parse(b"h\ts\t1\tline1\nline2\nh2\ts\t0\tx\n"),
        [rec("h", "s", 1, "line1\nline2\nh2\ts\t0\tx")]
    );
}

#[test]
fn one_per_line_with_set_delimiter_newline() {
    assert_eq!(
        with(b"h\ts\t1\tone\r\nh\t0\ttwo\n\n", b'\t', b'\n'),
        [rec("h", "s", 1, "one"), rec("h", "", 0, "two")]
    );
}

#[test]
fn runs_of_delimiters_collapse_and_output_keeps_the_rest() {
    // Verified: h2;svc2;3;out\twith\ttabs and a leading tab is skipped.
    assert_eq!(
        parse(b"\th2\t\tsvc2\t\t3x\tout\twith\ttabs"),
        [rec("h2", "svc2", 3, "out\twith\ttabs")]
    );
    // Only the one delimiter after the return code is consumed.
    assert_eq!(
        with(b"h2,,s2,,1,,out,x", b',', 0x17),
        [rec("h2", "s2", 1, ",out,x")]
    );
}

#[test]
fn leading_whitespace_is_kept_trailing_is_stripped() {
    // Verified: "  h1;svc;2;  hello" and " ;h3;0;0\tok3".
    assert_eq!(
        parse(b"  h1\tsvc\t2\t  hello  \n\t \r"),
        [rec("  h1", "svc", 2, "  hello")]
    );
    assert_eq!(parse(b" \th3\ts\t0\tok3"), [rec(" ", "h3", 0, "0\tok3")]);
    // A leading newline stays in the host name (the 2.10.1+ server then cuts it there).
    assert_eq!(parse(b"\nh2\ts\t0\tok"), [rec("\nh2", "s", 0, "ok")]);
}

#[test]
fn trailing_delimiter_after_the_third_field_makes_a_host_check() {
    // Verified with -d ,: "h,s,0," is a host check: host h, rc atoi("s") = 0, output "0".
    assert_eq!(with(b"h,s,0,", b',', 0x17), [rec("h", "", 0, "0")]);
}

#[test]
fn space_delimiter() {
    assert_eq!(with(b"a b  c d  e", b' ', 0x17), [rec("a", "b", 0, "d  e")]);
    assert_eq!(
        with(b"web01 backup 2 CRITICAL: disk full", b' ', 0x17),
        [rec("web01", "backup", 2, "CRITICAL: disk full")]
    );
}

#[test]
fn fewer_than_three_fields_and_empty_records_are_skipped() {
    let p = parse_input(b"a\tb\x17\x17   \x17h3\t1\tup\x17", Delimiters::default());
    assert_eq!(p.records, [rec("h3", "", 1, "up")]);
    assert_eq!(p.skipped, 4); // "a\tb", "", "   ", and the empty one after the last ETB
    assert_eq!(p.too_long, None);
}

#[test]
fn return_code_is_atoi_cut_to_16_bits() {
    // Verified: 65537 -> 1, -1 -> -1, 99999999999 -> -6145.
    let p = parse(b"h\t65537\tx\x17h\t-1\tx\x17h\t99999999999\tx\x17h\tabc\tx\x17h\t 3x\tx");
    let rcs: Vec<i16> = p.iter().map(|r| r.return_code).collect();
    assert_eq!(rcs, [1, -1, -6145, 0, 3]);
}

#[test]
fn nul_ends_a_record() {
    // Verified: only h;s;0;before is written.
    let p = parse_input(
        b"h\ts\t0\tbefore\x00after\x17h2\x00x\t0\tout\x17\x00h3\t0\tx",
        Delimiters::default(),
    );
    assert_eq!(p.records, [rec("h", "s", 0, "before")]);
}

#[test]
fn set_delimiter_above_0x7f_never_matches() {
    // Verified with -ds 0xff: one record, rc atoi("c\x17x") = 0.
    assert_eq!(
        with(b"a\tb\tc\x17x\ty\tz\xffq", b'\t', 0xff),
        [Record {
            host: b"a",
            service: b"b",
            return_code: 0,
            output: b"y\tz\xffq",
        }]
    );
}

#[test]
fn zero_field_delimiter_splits_nothing() {
    assert!(with(b"a\tb\tc\td", 0, 0x17).is_empty());
}

#[test]
fn zero_set_delimiter_splits_on_nul() {
    assert_eq!(
        with(b"a\t0\tx\x00b\t1\ty", b'\t', 0),
        [rec("a", "", 0, "x"), rec("b", "", 1, "y")]
    );
}

fn filler(n: usize) -> Vec<u8> {
    let mut r = b"h\ts\t0\t".to_vec();
    r.resize(n, b'x');
    r
}

#[test]
fn record_length_limit_matches_send_nsca() {
    // Verified: 5119 bytes + ETB ok; 5120 + ETB -> error (exit 255); 5120 at EOF ok; 5121 at
    // EOF -> error. The first record is sent in every case.
    let case = |body: Vec<u8>, tail: &[u8]| {
        let mut input = b"a\t0\tfirst\x17".to_vec();
        input.extend(body);
        input.extend_from_slice(tail);
        input
    };
    let ok = |input: &[u8]| {
        let p = parse_input(input, Delimiters::default());
        assert_eq!(p.too_long, None);
        assert_eq!(p.records.len(), 2);
    };
    let too_long = |input: &[u8]| {
        let p = parse_input(input, Delimiters::default());
        assert_eq!(p.too_long, Some(RecordTooLong { index: 2 }));
        assert_eq!(p.records, [rec("a", "", 0, "first")]);
    };
    ok(&case(filler(5119), b"\x17"));
    too_long(&case(filler(5120), b"\x17b\t0\tafter"));
    ok(&case(filler(5120), b""));
    too_long(&case(filler(5121), b""));
}

#[test]
fn splitter_gives_the_same_records_in_any_chunking() {
    let mut inputs: Vec<Vec<u8>> = vec![
        b"h1\tsvc\t2\thello\x17h1\t0\tup\n\x17\x17a\tb".to_vec(),
        b"\x17\x17\x17".to_vec(),
        b"".to_vec(),
    ];
    for (n, tail) in [
        (5119, &b"\x17x\t0\ty"[..]),
        (5120, b"\x17"),
        (5120, b""),
        (6000, b""),
    ] {
        let mut v = filler(n);
        v.extend_from_slice(tail);
        inputs.push(v);
    }
    for input in &inputs {
        let whole = parse_input(input, Delimiters::default());
        for chunk in [1, 2, 7, 4096, 100_000] {
            let mut s = RecordSplitter::new(0x17);
            let mut raw = Vec::new();
            for c in input.chunks(chunk) {
                raw.extend(s.push(c));
            }
            if let Some(last) = s.finish() {
                raw.push(Split::Record(last));
            }
            let mut records = Vec::new();
            let mut too_long = None;
            let mut skipped = 0;
            for r in &raw {
                match r {
                    Split::Record(b) => match parse_record(b, b'\t') {
                        Some(r) => records.push(r),
                        None => skipped += 1,
                    },
                    Split::TooLong(t) => too_long = Some(*t),
                }
            }
            assert_eq!(records, whole.records, "chunk {chunk}");
            assert_eq!(too_long, whole.too_long, "chunk {chunk}");
            assert_eq!(skipped, whole.skipped, "chunk {chunk}");
        }
    }
}

// ---- config ----

fn cfg(s: &str) -> (Config, Vec<ConfigWarning>) {
    parse_config(s.as_bytes()).unwrap()
}

#[test]
fn plain_config() {
    let (c, w) = cfg("# comment\n\npassword=secret\nencryption_method=14\n");
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
    assert_eq!(c.encryption_method, Some(14));
    assert_eq!(c.legacy_2_7_mode, None);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(Config::default().method_number(), 1);
}

#[test]
fn no_trimming_but_warnings() {
    let (c, w) = cfg("password = secret\n");
    assert_eq!(c.password.as_deref(), Some(&b" secret"[..]));
    assert!(
        w.iter()
            .any(|w| w.message.contains("starts with whitespace")),
        "{w:?}"
    );
    let (c, w) = cfg("password=secret\r\nencryption_method=1\r\n");
    assert_eq!(c.password.as_deref(), Some(&b"secret\r"[..]));
    assert_eq!(c.encryption_method, Some(1));
    assert!(w.iter().any(|w| w.message.contains("CRLF")), "{w:?}");
    assert!(
        w.iter().any(|w| w.message.contains("carriage return")),
        "{w:?}"
    );
    let (_, w) = cfg("password=secret  \n");
    assert!(
        w.iter().any(|w| w.message.contains("ends with whitespace")),
        "{w:?}"
    );
    for w in &w {
        assert!(!w.to_string().contains("secret"), "password leaked: {w}");
    }
}

#[test]
fn substring_matching_in_order() {
    let (c, w) = cfg("my_password_encryption_method=x\n");
    assert_eq!(c.password.as_deref(), Some(&b"x"[..]));
    assert!(w.iter().any(|w| w.message.contains("read as password")));
    let (c, _) = cfg("old_encryption_method=3\n");
    assert_eq!(c.encryption_method, Some(3));
    let (c, w) = cfg("password =x\n");
    assert_eq!(c.password.as_deref(), Some(&b"x"[..]));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn values_may_contain_equals_and_leading_equals_are_skipped() {
    let (c, _) = cfg("password=a=b==\n");
    assert_eq!(c.password.as_deref(), Some(&b"a=b=="[..]));
    let (c, _) = cfg("==password=x\n");
    assert_eq!(c.password.as_deref(), Some(&b"x"[..]));
    let (c, _) = cfg("password==x\n");
    assert_eq!(c.password.as_deref(), Some(&b"=x"[..]));
}

#[test]
fn last_line_without_newline_counts() {
    let (c, _) = cfg("password=secret");
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
}

#[test]
fn errors() {
    let err = |s: &str| parse_config(s.as_bytes()).unwrap_err();
    assert!(matches!(
        err("password=\n"),
        ConfigError::NoValue { line: 1, .. }
    ));
    assert!(err("password=\n").to_string().contains("empty password"));
    assert!(matches!(
        err("x=1\npassword\n"),
        ConfigError::UnknownOption { line: 1, .. }
    ));
    assert!(matches!(
        err("password=a\npassword\n"),
        ConfigError::NoValue { line: 2, .. }
    ));
    assert!(matches!(
        err("password=a\r\n\r\n"),
        ConfigError::NoValue { line: 2, .. }
    ));
    assert!(err("  \n").to_string().contains("blank line"));
    assert!(matches!(err("==="), ConfigError::NoName { line: 1 }));
    assert!(matches!(
        err("server=nagios\n"),
        ConfigError::UnknownOption { ref name, .. } if name == "server"
    ));
    for bad in ["13", "17", "18", "21", "27", "-1", "99"] {
        let e = err(&format!("encryption_method={bad}\n"));
        assert!(matches!(e, ConfigError::InvalidMethod { .. }), "{bad}: {e}");
    }
}

#[test]
fn encryption_method_is_atoi() {
    let (c, w) = cfg("encryption_method= 14\n");
    assert_eq!(c.encryption_method, Some(14));
    assert!(w.is_empty());
    let (c, w) = cfg("encryption_method=aes\n");
    assert_eq!(c.encryption_method, Some(0));
    assert!(w[0].message.contains("reads it as 0 (none)"), "{w:?}");
    // 7 passes the parser (and fails later, like send_nsca).
    assert_eq!(cfg("encryption_method=7\n").0.encryption_method, Some(7));
}

#[test]
fn legacy_mode_values() {
    let v = |s: &str| cfg(&format!("legacy_2_7_mode={s}\n"));
    assert_eq!(v("true").0.legacy_2_7_mode, Some(true));
    assert_eq!(v("yes").0.legacy_2_7_mode, Some(true));
    assert_eq!(v("false").0.legacy_2_7_mode, Some(false));
    assert_eq!(v("no").0.legacy_2_7_mode, Some(false));
    assert_eq!(v("1").0.legacy_2_7_mode, None);
    assert!(!v("1").1.is_empty());
    let (c, _) = cfg("legacy_2_7_mode=yes\nlegacy_2_7_mode=no\n");
    assert_eq!(c.legacy_2_7_mode, Some(false));
}

#[test]
fn long_lines_are_split_like_fgets() {
    // Verified: a 6009-byte password line is read as "password=" + 5109 bytes and a second
    // line without '=' ("No variable value specified ... Line 2"); a 6000-byte comment is
    // two comment lines.
    let mut s = "password=".to_string() + &"x".repeat(6000);
    s.push('\n');
    let e = parse_config(s.as_bytes()).unwrap_err();
    assert!(matches!(e, ConfigError::NoValue { line: 2, .. }), "{e}");
    let mut s = "#".repeat(6000);
    s.push('\n');
    assert_eq!(parse_config(s.as_bytes()).unwrap().0, Config::default());
}

#[test]
fn nul_ends_a_line() {
    let (c, _) = parse_config(b"password=ab\0cd\n").unwrap();
    assert_eq!(c.password.as_deref(), Some(&b"ab"[..]));
    let (c, _) = parse_config(b"\0garbage\npassword=x\n").unwrap();
    assert_eq!(c.password.as_deref(), Some(&b"x"[..]));
}

#[test]
fn debug_hides_password() {
    let (c, _) = cfg("password=hunter2\n");
    assert!(!format!("{c:?}").contains("hunter2"));
}
