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
