//! tokio-util codecs for NSCA data packets: an encrypting [`PacketEncoder`] for clients and a
//! decrypting [`PacketDecoder`] for receivers.
//!
//! Owns: framing (exactly one `packet_len` per item) and the per-connection cipher state, which
//! each codec holds so that CFB-8 continues from one packet to the next as the daemon expects.
//! Does not own sockets, timeouts or the init packet exchange (`client`, `server`).

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::crypto::Cipher;
use crate::packet::{
    decode_data_packet, encode_data_packet_into, DataPacket, PacketError, PacketSize, PassiveCheck,
};

/// Why a codec failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Reading or writing the underlying stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A check that cannot be encoded, or a received packet that does not decode (after
    /// decryption: wrong password, method or packet size).
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// The peer closed the connection in the middle of a packet.
    #[error("connection closed after {got} of {expected} bytes of a data packet")]
    Truncated {
        /// Bytes of the partial packet.
        got: usize,
        /// Bytes of a whole packet.
        expected: usize,
    },
}

/// Client side: validates, encodes (with the server's init-packet timestamp) and encrypts each
/// [`PassiveCheck`] into exactly one packet. One encoder per connection.
#[derive(Debug)]
pub struct PacketEncoder {
    cipher: Cipher,
    size: PacketSize,
    timestamp: u32,
}

impl PacketEncoder {
    /// An encoder for one connection: `cipher` built from that connection's init packet,
    /// `timestamp` the init packet's timestamp (echoed in every packet).
    pub fn new(cipher: Cipher, size: PacketSize, timestamp: u32) -> PacketEncoder {
        PacketEncoder {
            cipher,
            size,
            timestamp,
        }
    }

    /// The packet layout.
    pub fn packet_size(&self) -> PacketSize {
        self.size
    }

    /// The timestamp echoed in every packet.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }
}

impl Encoder<&PassiveCheck> for PacketEncoder {
    type Error = CodecError;

    fn encode(&mut self, check: &PassiveCheck, dst: &mut BytesMut) -> Result<(), CodecError> {
        // Validate before touching the cipher: a refused check must not advance CFB state.
        check.validate()?;
        let len = self.size.packet_len();
        let start = dst.len();
        dst.put_bytes(0, len);
        let packet = &mut dst[start..start + len];
        encode_data_packet_into(check, self.timestamp, self.size, packet);
        self.cipher.encrypt(packet);
        Ok(())
    }
}

/// Receiver side: takes exactly one `packet_len` at a time, decrypts it with the connection's
/// cipher and checks version and CRC like the daemon. Returns `Ok(None)` until a whole packet
/// is buffered.
#[derive(Debug)]
pub struct PacketDecoder {
    cipher: Cipher,
    size: PacketSize,
}

impl PacketDecoder {
    /// A decoder for one connection; `cipher` built from the IV this side sent.
    pub fn new(cipher: Cipher, size: PacketSize) -> PacketDecoder {
        PacketDecoder { cipher, size }
    }

    /// The packet layout.
    pub fn packet_size(&self) -> PacketSize {
        self.size
    }
}

impl Decoder for PacketDecoder {
    type Item = DataPacket;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<DataPacket>, CodecError> {
        let len = self.size.packet_len();
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let mut packet = src.split_to(len);
        self.cipher.decrypt(&mut packet);
        Ok(Some(decode_data_packet(&packet, self.size)?))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<DataPacket>, CodecError> {
        match self.decode(src)? {
            Some(packet) => Ok(Some(packet)),
            None if src.is_empty() => Ok(None),
            None => {
                let got = src.len();
                src.clear();
                Err(CodecError::Truncated {
                    got,
                    expected: self.size.packet_len(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Method, IV_LEN};

    fn iv() -> [u8; IV_LEN] {
        let mut iv = [0u8; IV_LEN];
        for (i, b) in iv.iter_mut().enumerate() {
            *b = (i * 13 + 5) as u8;
        }
        iv
    }

    fn checks() -> Vec<PassiveCheck> {
        vec![
            PassiveCheck::service("web01", "backup", 2, "CRITICAL: repo locked").unwrap(),
            PassiveCheck::host("web01", 1, "DOWN\nsecond line").unwrap(),
            PassiveCheck::service("db", "disk", 0, "é€".repeat(700)).unwrap(),
        ]
    }

    /// Encode every check with one encoder (one connection), return the wire bytes.
    fn wire(method: Method, size: PacketSize) -> Vec<u8> {
        let cipher = Cipher::new(method, &iv(), b"secret").unwrap();
        let mut enc = PacketEncoder::new(cipher, size, 0x6500_0000);
        let mut buf = BytesMut::new();
        for c in &checks() {
            enc.encode(c, &mut buf).unwrap();
        }
        assert_eq!(buf.len(), 3 * size.packet_len());
        buf.to_vec()
    }

    fn decoder(method: Method, size: PacketSize) -> PacketDecoder {
        PacketDecoder::new(Cipher::new(method, &iv(), b"secret").unwrap(), size)
    }

    /// Feed `data` in chunks of the given sizes (cycled), collecting decoded packets; after
    /// each partial chunk the decoder must say `Ok(None)`.
    fn feed(dec: &mut PacketDecoder, data: &[u8], chunks: &[usize]) -> Vec<DataPacket> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut pos = 0;
        for &n in chunks.iter().cycle() {
            if pos == data.len() {
                break;
            }
            let end = (pos + n).min(data.len());
            buf.extend_from_slice(&data[pos..end]);
            pos = end;
            while let Some(p) = dec.decode(&mut buf).unwrap() {
                out.push(p);
            }
            assert!(buf.len() < dec.packet_size().packet_len());
        }
        assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
        out
    }

    fn usable_methods() -> Vec<Method> {
        Method::all()
            .filter(|&m| Cipher::new(m, &iv(), b"secret").is_ok())
            .collect()
    }

    #[test]
    fn round_trip_in_one_piece_and_split_reads() {
        for method in usable_methods() {
            for size in [PacketSize::V3, PacketSize::Legacy] {
                let data = wire(method, size);
                let expected: Vec<PassiveCheck> = checks()
                    .into_iter()
                    .map(|mut c| {
                        c.output =
                            crate::packet::truncate_utf8(&c.output, size.max_output()).to_string();
                        c
                    })
                    .collect();
                for chunks in [
                    &[data.len()][..],
                    &[1],
                    &[7, 3, 1000],
                    &[size.packet_len() - 1],
                    &[size.packet_len() + 1],
                    &[131, 4096, 2],
                ] {
                    let got = feed(&mut decoder(method, size), &data, chunks);
                    let got: Vec<PassiveCheck> = got
                        .into_iter()
                        .map(|p| {
                            assert_eq!(p.timestamp, 0x6500_0000);
                            p.check
                        })
                        .collect();
                    assert_eq!(got, expected, "{method} {size:?} chunks {chunks:?}");
                }
            }
        }
    }

    #[test]
    fn short_input_is_incomplete_not_an_error() {
        let data = wire(Method::Xor, PacketSize::V3);
        let mut dec = decoder(Method::Xor, PacketSize::V3);
        let mut buf = BytesMut::from(&data[..4303]);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 4303, "a partial packet must stay buffered");
        buf.extend_from_slice(&data[4303..4304]);
        assert!(dec.decode(&mut buf).unwrap().is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn eof_mid_packet_is_truncated() {
        let data = wire(Method::None, PacketSize::Legacy);
        let mut dec = decoder(Method::None, PacketSize::Legacy);
        let mut buf = BytesMut::from(&data[..1000]);
        assert!(dec.decode(&mut buf).unwrap().is_some());
        let e = dec.decode_eof(&mut buf).unwrap_err();
        assert!(
            matches!(
                e,
                CodecError::Truncated {
                    got: 280,
                    expected: 720
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn wrong_password_is_a_packet_error() {
        let data = wire(Method::Xor, PacketSize::V3);
        let mut dec = PacketDecoder::new(
            Cipher::new(Method::Xor, &iv(), b"other").unwrap(),
            PacketSize::V3,
        );
        let mut buf = BytesMut::from(&data[..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(CodecError::Packet(
                PacketError::Version(_) | PacketError::Crc { .. }
            ))
        ));
    }

    #[test]
    fn size_mismatch_is_a_packet_error() {
        // Six legacy packets (4320 bytes) read as one v3 packet (4304 bytes).
        let data = [
            wire(Method::None, PacketSize::Legacy),
            wire(Method::None, PacketSize::Legacy),
        ]
        .concat();
        let mut dec = decoder(Method::None, PacketSize::V3);
        let mut buf = BytesMut::from(&data[..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(CodecError::Packet(PacketError::Crc { .. }))
        ));
    }

    #[test]
    fn invalid_check_is_refused_without_output() {
        let cipher = Cipher::new(Method::Xor, &iv(), b"secret").unwrap();
        let mut enc = PacketEncoder::new(cipher, PacketSize::V3, 1);
        let bad = PassiveCheck {
            host: "a;b".into(),
            service: String::new(),
            return_code: 0,
            output: String::new(),
        };
        let mut buf = BytesMut::new();
        assert!(matches!(
            enc.encode(&bad, &mut buf),
            Err(CodecError::Packet(PacketError::Forbidden { .. }))
        ));
        assert!(buf.is_empty());
    }
}
