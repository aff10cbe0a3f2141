//! NSCA packets on the wire: the 132-byte init packet and the data packet (v3 4304 bytes,
//! legacy 720 bytes), big-endian, with the CRC-32 computed over the whole packet with its
//! CRC field zeroed, before encryption.
//!
//! Owns: layouts, field limits, CRC, and the validation that keeps `;`, newline and NUL out of
//! host and service names (they would inject commands into Nagios' command file). Pure: no
//! I/O, no clock, no encryption.

use nom::bytes::complete::take;
use nom::number::complete::{be_i16, be_u16, be_u32};
use nom::IResult;
use nom::Parser;

use crate::crypto::IV_LEN;

/// Length of the init packet: 128-byte IV + 32-bit timestamp.
pub const INIT_PACKET_LEN: usize = IV_LEN + 4;
/// The only packet version NSCA servers accept.
pub const PACKET_VERSION: i16 = 3;
/// Host name field size (63 bytes + NUL).
pub const HOST_FIELD: usize = 64;
/// Service description field size (127 bytes + NUL).
pub const SERVICE_FIELD: usize = 128;
/// Offset of the host name field.
const HOST_OFFSET: usize = 14;
/// Offset of the service field.
const SERVICE_OFFSET: usize = HOST_OFFSET + HOST_FIELD;
/// Offset of the plugin output field.
const OUTPUT_OFFSET: usize = SERVICE_OFFSET + SERVICE_FIELD;

/// Which data packet layout to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PacketSize {
    /// NSCA 2.9+: 4096-byte output field, 4304-byte packet, many packets per connection.
    #[default]
    V3,
    /// NSCA 2.7 (`--legacy-2-7-mode`): 512-byte output field, 720-byte packet. NSCA 2.9.1+
    /// servers accept only one such packet per connection.
    Legacy,
}

impl PacketSize {
    /// Total packet length in bytes.
    pub const fn packet_len(self) -> usize {
        match self {
            PacketSize::V3 => 4304,
            PacketSize::Legacy => 720,
        }
    }

    /// Size of the plugin output field (including its NUL).
    pub const fn output_field(self) -> usize {
        match self {
            PacketSize::V3 => 4096,
            PacketSize::Legacy => 512,
        }
    }

    /// Longest plugin output the server keeps, in bytes.
    pub const fn max_output(self) -> usize {
        self.output_field() - 1
    }
}

/// Why a packet could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// A host or service name holds a byte that would corrupt Nagios' command file.
    #[error(
        "{field} {value:?} contains {what}, which would inject a command into Nagios' command file"
    )]
    Forbidden {
        /// `host name` or `service description`.
        field: &'static str,
        /// The offending value.
        value: String,
        /// Which character.
        what: &'static str,
    },
    /// An empty host name.
    #[error("host name is empty")]
    EmptyHost,
    /// Fewer bytes than a whole packet.
    #[error("packet is {got} bytes, expected {expected}")]
    Length {
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// Version field other than 3 (usually a wrong password or method).
    #[error("packet version is {0}, expected 3 (wrong password or encryption method?)")]
    Version(i16),
    /// CRC mismatch (usually a wrong password or method, or a packet-size mismatch).
    #[error("CRC-32 mismatch: packet says {stored:08x}, computed {computed:08x} (wrong password, encryption method or packet size?)")]
    Crc {
        /// CRC in the packet.
        stored: u32,
        /// CRC computed.
        computed: u32,
    },
}

/// The packet the server sends first: IV for the cipher, and its clock.
#[derive(Clone, PartialEq, Eq)]
pub struct InitPacket {
    /// 128 bytes of IV (only the first block-size bytes are used by mcrypt ciphers).
    pub iv: [u8; IV_LEN],
    /// Server time (seconds since the epoch); clients echo it in every data packet.
    pub timestamp: u32,
}

impl std::fmt::Debug for InitPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitPacket")
            .field("iv[..8]", &&self.iv[..8])
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl InitPacket {
    /// Wire form.
    pub fn encode(&self) -> [u8; INIT_PACKET_LEN] {
        let mut out = [0u8; INIT_PACKET_LEN];
        out[..IV_LEN].copy_from_slice(&self.iv);
        out[IV_LEN..].copy_from_slice(&self.timestamp.to_be_bytes());
        out
    }

    /// Read from the wire (needs at least 132 bytes; extra bytes are ignored).
    pub fn decode(buf: &[u8]) -> Result<InitPacket, PacketError> {
        let (_, (iv, timestamp)) = init_packet(buf).map_err(|_| PacketError::Length {
            got: buf.len(),
            expected: INIT_PACKET_LEN,
        })?;
        let mut packet = InitPacket {
            iv: [0; IV_LEN],
            timestamp,
        };
        packet.iv.copy_from_slice(iv);
        Ok(packet)
    }
}

fn init_packet(i: &[u8]) -> IResult<&[u8], (&[u8], u32)> {
    (take(IV_LEN), be_u32).parse(i)
}

/// One passive check result: a host check when `service` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PassiveCheck {
    /// Nagios host name (at most 63 bytes are sent).
    pub host: String,
    /// Service description; empty for a host check (at most 127 bytes are sent).
    pub service: String,
    /// Plugin return code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (any i16 is carried).
    pub return_code: i16,
    /// Plugin output, may hold newlines (at most 4095 bytes, legacy 511, are sent).
    pub output: String,
}

impl PassiveCheck {
    /// A service check result, validated.
    pub fn service(
        host: impl Into<String>,
        service: impl Into<String>,
        return_code: i16,
        output: impl Into<String>,
    ) -> Result<PassiveCheck, PacketError> {
        let c = PassiveCheck {
            host: host.into(),
            service: service.into(),
            return_code,
            output: output.into(),
        };
        c.validate()?;
        Ok(c)
    }

    /// A host check result, validated.
    pub fn host(
        host: impl Into<String>,
        return_code: i16,
        output: impl Into<String>,
    ) -> Result<PassiveCheck, PacketError> {
        PassiveCheck::service(host, String::new(), return_code, output)
    }

    /// True for a host check.
    pub fn is_host_check(&self) -> bool {
        self.service.is_empty()
    }

    /// Refuse names that would corrupt the command file: `;`, CR, LF and NUL in host or
    /// service, and an empty host.
    pub fn validate(&self) -> Result<(), PacketError> {
        if self.host.is_empty() {
            return Err(PacketError::EmptyHost);
        }
        check_name("host name", &self.host)?;
        check_name("service description", &self.service)
    }
}

fn check_name(field: &'static str, value: &str) -> Result<(), PacketError> {
    let what = if value.contains(';') {
        "';'"
    } else if value.contains('\n') {
        "a newline"
    } else if value.contains('\r') {
        "a carriage return"
    } else if value.contains('\0') {
        "a NUL byte"
    } else {
        return Ok(());
    };
    Err(PacketError::Forbidden {
        field,
        value: value.to_string(),
        what,
    })
}

/// The longest prefix of `s` that fits in `max` bytes without splitting a UTF-8 character.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Build a plaintext data packet (CRC filled in, padding zero). Fields longer than their limit
/// are cut at a UTF-8 boundary (63 / 127 / 4095 or 511 bytes). Call [`PassiveCheck::validate`]
/// first; this function does not re-check names.
pub fn encode_data_packet(check: &PassiveCheck, timestamp: u32, size: PacketSize) -> Vec<u8> {
    let mut buf = vec![0u8; size.packet_len()];
    encode_data_packet_into(check, timestamp, size, &mut buf);
    buf
}

/// As [`encode_data_packet`], into a caller's buffer of exactly `size.packet_len()` bytes (reused
/// between packets to avoid allocation). The whole buffer is overwritten.
pub fn encode_data_packet_into(
    check: &PassiveCheck,
    timestamp: u32,
    size: PacketSize,
    buf: &mut [u8],
) {
    assert_eq!(
        buf.len(),
        size.packet_len(),
        "buffer must be exactly one packet"
    );
    buf.fill(0);
    buf[0..2].copy_from_slice(&PACKET_VERSION.to_be_bytes());
    buf[8..12].copy_from_slice(&timestamp.to_be_bytes());
    buf[12..14].copy_from_slice(&check.return_code.to_be_bytes());
    put_str(&mut buf[HOST_OFFSET..SERVICE_OFFSET], &check.host);
    put_str(&mut buf[SERVICE_OFFSET..OUTPUT_OFFSET], &check.service);
    put_str(
        &mut buf[OUTPUT_OFFSET..OUTPUT_OFFSET + size.output_field()],
        &check.output,
    );
    let crc = crc32fast::hash(buf);
    buf[4..8].copy_from_slice(&crc.to_be_bytes());
}

fn put_str(field: &mut [u8], s: &str) {
    let s = truncate_utf8(s, field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
}

/// A decrypted data packet as read by a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPacket {
    /// Echoed init-packet timestamp.
    pub timestamp: u32,
    /// The check (strings read up to their NUL, invalid UTF-8 replaced).
    pub check: PassiveCheck,
}

/// Read and verify a decrypted data packet of exactly `size.packet_len()` bytes: version 3 and a
/// matching CRC-32, the way the NSCA daemon checks it.
pub fn decode_data_packet(buf: &[u8], size: PacketSize) -> Result<DataPacket, PacketError> {
    if buf.len() != size.packet_len() {
        return Err(PacketError::Length {
            got: buf.len(),
            expected: size.packet_len(),
        });
    }
    let (_, (version, _pad, stored, timestamp, return_code)) =
        header(buf).map_err(|_| PacketError::Length {
            got: buf.len(),
            expected: size.packet_len(),
        })?;
    if version != PACKET_VERSION {
        return Err(PacketError::Version(version));
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&buf[..4]);
    hasher.update(&[0; 4]);
    hasher.update(&buf[8..]);
    let computed = hasher.finalize();
    if computed != stored {
        return Err(PacketError::Crc { stored, computed });
    }
    let field = |r: std::ops::Range<usize>| {
        let f = &buf[r];
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len() - 1);
        String::from_utf8_lossy(&f[..end]).into_owned()
    };
    Ok(DataPacket {
        timestamp,
        check: PassiveCheck {
            host: field(HOST_OFFSET..SERVICE_OFFSET),
            service: field(SERVICE_OFFSET..OUTPUT_OFFSET),
            return_code,
            output: field(OUTPUT_OFFSET..OUTPUT_OFFSET + size.output_field()),
        },
    })
}

type Header = (i16, u16, u32, u32, i16);

fn header(i: &[u8]) -> IResult<&[u8], Header> {
    (be_i16, be_u16, be_u32, be_u32, be_i16).parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> PassiveCheck {
        PassiveCheck::service("web01", "backup-nightly", 2, "BACKUP CRITICAL").unwrap()
    }

    #[test]
    fn crc_matches_research_vector_v3() {
        let p = encode_data_packet(&example(), 0x6500_0000, PacketSize::V3);
        assert_eq!(p.len(), 4304);
        assert_eq!(hex::encode(&p[..16]), "00030000570da0bc6500000000027765");
    }

    #[test]
    fn crc_matches_research_vector_legacy() {
        let p = encode_data_packet(&example(), 0x6500_0000, PacketSize::Legacy);
        assert_eq!(p.len(), 720);
        assert_eq!(hex::encode(&p[4..8]), "34b7fb90");
    }

    #[test]
    fn round_trip_both_sizes() {
        for size in [PacketSize::V3, PacketSize::Legacy] {
            let p = encode_data_packet(&example(), 42, size);
            let d = decode_data_packet(&p, size).unwrap();
            assert_eq!(d.timestamp, 42);
            assert_eq!(d.check, example());
        }
    }

    #[test]
    fn host_check_has_empty_service() {
        let c = PassiveCheck::host("web01", 1, "DOWN").unwrap();
        let d =
            decode_data_packet(&encode_data_packet(&c, 1, PacketSize::V3), PacketSize::V3).unwrap();
        assert!(d.check.is_host_check());
    }

    #[test]
    fn fields_are_cut_at_utf8_boundary() {
        let host = "é".repeat(40); // 80 bytes, cut to 62 (31 chars)
        let out = "€".repeat(2000); // 6000 bytes
        let c = PassiveCheck::service(host, "s", 0, out).unwrap();
        let d =
            decode_data_packet(&encode_data_packet(&c, 0, PacketSize::V3), PacketSize::V3).unwrap();
        assert_eq!(d.check.host.len(), 62);
        assert_eq!(d.check.output.len(), 4095);
        let d = decode_data_packet(
            &encode_data_packet(&c, 0, PacketSize::Legacy),
            PacketSize::Legacy,
        )
        .unwrap();
        assert_eq!(d.check.output.len(), 510);
    }

    #[test]
    fn injection_is_refused() {
        for (h, s) in [
            ("a;b", "s"),
            ("a", "s;x"),
            ("a\nb", "s"),
            ("a", "s\0"),
            ("a", "s\r"),
        ] {
            let e = PassiveCheck::service(h, s, 0, "x").unwrap_err();
            assert!(e.to_string().contains("inject"), "{e}");
        }
        assert_eq!(
            PassiveCheck::host("", 0, "x").unwrap_err(),
            PacketError::EmptyHost
        );
        // output may hold ; and newlines
        PassiveCheck::service("h", "s", 0, "a;b\nc").unwrap();
    }

    #[test]
    fn corrupt_packets_are_refused() {
        let mut p = encode_data_packet(&example(), 0, PacketSize::V3);
        p[100] ^= 1;
        assert!(matches!(
            decode_data_packet(&p, PacketSize::V3),
            Err(PacketError::Crc { .. })
        ));
        p[1] = 2;
        assert_eq!(
            decode_data_packet(&p, PacketSize::V3),
            Err(PacketError::Version(2))
        );
        assert!(matches!(
            decode_data_packet(&p[..100], PacketSize::V3),
            Err(PacketError::Length { .. })
        ));
    }

    #[test]
    fn init_packet_round_trip() {
        let mut iv = [0u8; IV_LEN];
        iv.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let p = InitPacket {
            iv,
            timestamp: 0x0102_0304,
        };
        let e = p.encode();
        assert_eq!(&e[128..], &[1, 2, 3, 4]);
        assert_eq!(InitPacket::decode(&e).unwrap(), p);
        assert!(InitPacket::decode(&e[..131]).is_err());
    }
}
