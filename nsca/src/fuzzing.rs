//! Entry points for the fuzz targets in `fuzz/`: each takes arbitrary bytes and must never
//! panic; round-trip properties are asserted here so each target is one line.

use crate::crypto::{Cipher, IV_LEN, METHODS};
use crate::packet::{
    decode_data_packet, encode_data_packet, truncate_utf8, InitPacket, PacketSize, PassiveCheck,
    INIT_PACKET_LEN,
};

/// Decode arbitrary bytes as an init packet; re-encoding must give the same 132 bytes.
pub fn init_packet(data: &[u8]) {
    if let Ok(p) = InitPacket::decode(data) {
        assert_eq!(&p.encode()[..], &data[..INIT_PACKET_LEN]);
    }
}

/// Decode arbitrary bytes as a plaintext data packet of either size.
pub fn data_packet(data: &[u8]) {
    for size in [PacketSize::V3, PacketSize::Legacy] {
        let _ = decode_data_packet(data, size);
        if data.len() >= size.packet_len() {
            let _ = decode_data_packet(&data[..size.packet_len()], size);
        }
    }
}

/// Pick a method, password and IV from the input, then decrypt and decode the rest as the
/// server would, for every cipher: never panics whatever the bytes.
pub fn encrypted_packet(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(sel) % METHODS.len()].method;
    let (pw_len, rest) = match rest.split_first() {
        Some((&n, r)) => (usize::from(n % 64).min(r.len()), r),
        None => return,
    };
    let (password, rest) = rest.split_at(pw_len);
    let mut iv = [0u8; IV_LEN];
    let take = rest.len().min(IV_LEN);
    iv[..take].copy_from_slice(&rest[..take]);
    let body = &rest[take..];
    let mut cipher = match Cipher::new(method, &iv, password) {
        Ok(c) => c,
        Err(_) => return,
    };
    for size in [PacketSize::Legacy, PacketSize::V3] {
        let mut buf = vec![0u8; size.packet_len()];
        let n = body.len().min(buf.len());
        buf[..n].copy_from_slice(&body[..n]);
        cipher.decrypt(&mut buf);
        let _ = decode_data_packet(&buf, size);
    }
}

/// decode(decrypt(encrypt(encode(x)))) == x for a check built from the input, for every
/// cipher and both packet sizes (with the fields cut the way the encoder cuts them).
pub fn round_trip(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(sel) % METHODS.len()].method;
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(4, '\u{1}');
    let host = parts.next().unwrap_or_default().to_string();
    let service = parts.next().unwrap_or_default().to_string();
    let output = parts.next().unwrap_or_default().to_string();
    let rc = i16::from_le_bytes([sel, rest.first().copied().unwrap_or(0)]);
    let Ok(check) = PassiveCheck::service(host, service, rc, output) else {
        return;
    };
    let mut iv = [0u8; IV_LEN];
    for (i, b) in iv.iter_mut().enumerate() {
        *b = rest.get(i).copied().unwrap_or(i as u8);
    }
    let password = &rest[..rest.len().min(40)];
    let (Ok(mut enc), Ok(mut dec)) = (
        Cipher::new(method, &iv, password),
        Cipher::new(method, &iv, password),
    ) else {
        return;
    };
    // Two packets on one connection: the cipher state must stay in step.
    for size in [PacketSize::V3, PacketSize::V3, PacketSize::Legacy] {
        let mut buf = encode_data_packet(&check, 0x6500_0000, size);
        enc.encrypt(&mut buf);
        dec.decrypt(&mut buf);
        let got = decode_data_packet(&buf, size).expect("own packet must decode");
        let expect = |s: &str, max: usize| {
            let t = truncate_utf8(s, max);
            t[..t.find('\0').unwrap_or(t.len())].to_string()
        };
        assert_eq!(got.timestamp, 0x6500_0000);
        assert_eq!(got.check.host, expect(&check.host, 63));
        assert_eq!(got.check.service, expect(&check.service, 127));
        assert_eq!(got.check.output, expect(&check.output, size.max_output()));
        assert_eq!(got.check.return_code, rc);
    }
}

/// Parse arbitrary bytes as send_nsca's stdin with the default and two other delimiter pairs;
/// the streaming splitter must agree with the whole-input parser.
pub fn send_nsca_input(data: &[u8]) {
    use crate::send_nsca::{parse_input, parse_record, Delimiters, RecordSplitter, Split};
    for d in [
        Delimiters::default(),
        Delimiters {
            field: b' ',
            set: b'\n',
        },
        Delimiters { field: 0, set: 0 },
    ] {
        let whole = parse_input(data, d);
        let mut splitter = RecordSplitter::new(d.set);
        let mut splits = splitter.push(data);
        splits.extend(splitter.finish().map(Split::Record));
        let streamed: Vec<_> = splits
            .iter()
            .filter_map(|s| match s {
                Split::Record(r) => parse_record(r, d.field).map(|r| r.host.to_vec()),
                Split::TooLong(_) => None,
            })
            .collect();
        let hosts: Vec<_> = whole.records.iter().map(|r| r.host.to_vec()).collect();
        assert_eq!(streamed, hosts);
        for r in &whole.records {
            assert!(!r.host.is_empty() && !r.output.is_empty());
        }
    }
}

/// Parse arbitrary bytes as a `send_nsca.cfg`; warnings must never depend on the password's
/// content (so they cannot leak it): replacing every non-blank byte of the password with
/// another must give the same warnings. Skipped when the password's bytes also appear
/// elsewhere in the file (a warning may quote a key name).
pub fn send_nsca_config(data: &[u8]) {
    let Ok((config, warnings)) = crate::send_nsca::parse_config(data) else {
        return;
    };
    let Some(pw) = config.password.filter(|p| !p.is_empty()) else {
        return;
    };
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    // The password's own line: `name=value` with "password" in the name (send_nsca matches
    // by substring) and the value equal to the password.
    let own = |line: &&[u8]| match line.iter().position(|&b| b == b'=') {
        Some(eq) => line[eq + 1..] == pw[..] && line[..eq].windows(8).any(|w| w == b"password"),
        None => false,
    };
    let elsewhere = lines
        .iter()
        .map(|l| if own(l) { &l[..l.len() - pw.len()] } else { *l })
        .any(|l| l.windows(pw.len()).any(|w| w == &pw[..]));
    if elsewhere {
        return;
    }
    let other: Vec<u8> = pw
        .iter()
        .map(|&b| match b {
            b' ' | b'\t' | b'\r' | b'\n' | 0 => b,
            b'Z' => b'Y',
            _ => b'Z',
        })
        .collect();
    let replaced: Vec<u8> = lines
        .iter()
        .map(|l| {
            if own(l) {
                [&l[..l.len() - pw.len()], &other[..]].concat()
            } else {
                l.to_vec()
            }
        })
        .collect::<Vec<_>>()
        .join(&b'\n');
    let Ok((config2, warnings2)) = crate::send_nsca::parse_config(&replaced) else {
        return;
    };
    if config2.password.as_deref() != Some(&other[..]) {
        return; // the replacement changed how the file parses: nothing to compare
    }
    let texts = |ws: &[crate::send_nsca::ConfigWarning]| -> Vec<String> {
        ws.iter().map(|w| w.message.clone()).collect()
    };
    assert_eq!(
        texts(&warnings),
        texts(&warnings2),
        "a warning depends on the password"
    );
}

/// Parse arbitrary bytes as a `-d`/`-ds` argument.
pub fn send_nsca_delimiter(data: &[u8]) {
    let _ = crate::send_nsca::parse_delimiter(data);
}
