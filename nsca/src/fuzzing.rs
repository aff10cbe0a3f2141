//! Entry points for the fuzz targets in `fuzz/`: each takes arbitrary bytes and must never
//! panic; round-trip properties are asserted here so each target is one line.

use crate::packet::{decode_data_packet, InitPacket, PacketSize};

/// Decode arbitrary bytes as an init packet; re-encoding must give the same 132 bytes.
pub fn init_packet(data: &[u8]) {
    if let Ok(p) = InitPacket::decode(data) {
        assert_eq!(&p.encode()[..], &data[..crate::packet::INIT_PACKET_LEN]);
    }
}

/// Decode arbitrary bytes as a plaintext data packet of either size.
pub fn data_packet(data: &[u8]) {
    for size in [PacketSize::V3, PacketSize::Legacy] {
        let _ = decode_data_packet(data, size);
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

/// Parse arbitrary bytes as a `send_nsca.cfg`; warnings must never contain the password.
pub fn send_nsca_config(data: &[u8]) {
    if let Ok((config, warnings)) = crate::send_nsca::parse_config(data) {
        if let Some(pw) = config.password.filter(|p| p.len() >= 4) {
            let pw = String::from_utf8_lossy(&pw).into_owned();
            for w in warnings {
                assert!(!w.message.contains(&pw));
            }
        }
    }
}

/// Parse arbitrary bytes as a `-d`/`-ds` argument.
pub fn send_nsca_delimiter(data: &[u8]) {
    let _ = crate::send_nsca::parse_delimiter(data);
}
