//! Tunnels: the packet a GRE or UDP packet carries, if it carries one.

use super::link::{ethernet, ethertype_payload};
use super::{IpPacket, PROTO_GRE, PROTO_UDP, Transport, Tunnel, inner_or};
use crate::error::Error;
use crate::{be16, byte, tail};

/// Transparent Ethernet bridging: GRE and Geneve carrying Ethernet frames.
const ETHERTYPE_TEB: u16 = 0x6558;

/// GRE flags (RFC 2784 section 2.1, RFC 2890 section 2).
const GRE_CHECKSUM: u8 = 0x80;
const GRE_KEY: u8 = 0x20;
const GRE_SEQUENCE: u8 = 0x10;

const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;

/// A GRE or UDP packet: the packet it carries, if it is one; else the packet
/// itself, carrying "other".
pub(super) fn tunnelled<'a>(
    frame: &'a [u8],
    payload: &'a [u8],
    payload_at: usize,
    depth: u8,
    mut packet: IpPacket<'a>,
) -> Result<Option<IpPacket<'a>>, (usize, Error)> {
    let inner = match packet.protocol {
        PROTO_GRE => {
            gre_payload(frame, payload, payload_at).map(|inner_at| (Tunnel::Gre, inner_at))
        }
        PROTO_UDP => udp_payload(frame, payload, payload_at),
        _ => None,
    };
    match inner {
        Some((kind, inner_at)) => inner_or(frame, inner_at, kind, depth, packet),
        None => {
            packet.transport = Transport::Other;
            Ok(Some(packet))
        }
    }
}

/// A GRE header (RFC 2784, RFC 2890): its flags, the protocol type and the
/// header's length.
fn gre(bytes: &[u8]) -> Option<(u8, u16, usize)> {
    let &[flags, version, protocol_high, protocol_low] = bytes.first_chunk::<4>()?;
    if version & 0x07 != 0 {
        return None;
    }
    let mut len = 4;
    for bit in [GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE] {
        // Checksum (+reserved), key, sequence number: 4 bytes each.
        if flags & bit != 0 {
            len += 4;
        }
    }
    (bytes.len() >= len).then(|| {
        (
            flags,
            u16::from_be_bytes([protocol_high, protocol_low]),
            len,
        )
    })
}

/// The IP header inside the GRE packet `bytes` (at `at` in the frame).
fn gre_payload(frame: &[u8], bytes: &[u8], at: usize) -> Option<usize> {
    let (_, protocol, len) = gre(bytes)?;
    let inner_at = at + len;
    let inner = if protocol == ETHERTYPE_TEB {
        ethernet(frame, inner_at)
    } else {
        ethertype_payload(frame, protocol, inner_at)
    };
    inner.ok().flatten()
}

/// A UDP datagram that is a tunnel: the kind and the inner IP header's offset.
/// VXLAN and Geneve are known by their destination port: the source port is a
/// flow hash.
fn udp_payload(frame: &[u8], udp: &[u8], at: usize) -> Option<(Tunnel, usize)> {
    let &[_, _, dst_0, dst_1, _, _, _, _] = udp.first_chunk::<8>()?;
    let datagram = Datagram {
        frame,
        data: tail(udp, 8),
        at: at + 8,
    };
    datagram.tunnel(u16::from_be_bytes([dst_0, dst_1]))
}

/// A UDP datagram's data.
struct Datagram<'a> {
    frame: &'a [u8],
    /// The data captured, bounded by the IP packet's length.
    data: &'a [u8],
    /// Its offset in the frame.
    at: usize,
}

impl Datagram<'_> {
    /// The tunnel known by the destination port `port`, if the data is one: the
    /// kind and the inner IP header's offset.
    fn tunnel(&self, port: u16) -> Option<(Tunnel, usize)> {
        let (kind, inner) = match port {
            VXLAN_PORT if self.data.len() >= 8 => {
                // Flags, reserved, VNI, reserved: 8 bytes, then Ethernet (RFC 7348
                // section 5).
                (
                    Tunnel::Vxlan,
                    ethernet(self.frame, self.at + 8).ok().flatten(),
                )
            }
            GENEVE_PORT if self.data.len() >= 8 => {
                // RFC 8926 section 3.4: options length in 4-byte words, protocol type.
                let options = usize::from(byte(self.data, 0) & 0x3f) * 4;
                let protocol = be16(self.data, 2);
                let inner_at = self.at + 8 + options;
                let inner = if protocol == ETHERTYPE_TEB {
                    ethernet(self.frame, inner_at)
                } else {
                    ethertype_payload(self.frame, protocol, inner_at)
                };
                (Tunnel::Geneve, inner.ok().flatten())
            }
            _ => return None,
        };
        Some((kind, inner?))
    }
}
