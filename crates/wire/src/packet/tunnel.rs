//! Tunnels: the packet a GRE or UDP packet carries, if it carries one.

use super::link::{ethernet, ethertype_payload, ppp};
use super::{IpPacket, PROTO_GRE, PROTO_UDP, Transport, Tunnel, inner_or};
use crate::error::Error;
use crate::{be16, byte, tail};

/// Transparent Ethernet bridging: GRE and Geneve carrying Ethernet frames.
const ETHERTYPE_TEB: u16 = 0x6558;
/// ERSPAN types I and II (draft-foschiano-erspan-03; Linux `include/net/erspan.h`).
const ETHERTYPE_ERSPAN_II: u16 = 0x88be;
/// ERSPAN type III (the same sources).
const ETHERTYPE_ERSPAN_III: u16 = 0x22eb;

/// GRE flags (RFC 2784 section 2.1, RFC 2890 section 2).
const GRE_CHECKSUM: u8 = 0x80;
const GRE_KEY: u8 = 0x20;
const GRE_SEQUENCE: u8 = 0x10;

const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
/// RFC 8086 section 3.
const GRE_IN_UDP_PORT: u16 = 4754;
/// 3GPP TS 29.281 section 4.4.2.
const GTPU_PORT: u16 = 2152;
/// The Teredo UDP port, RFC 4380 section 2.7.
const TEREDO_PORT: u16 = 3544;
/// RFC 2661 section 8.1.
const L2TP_PORT: u16 = 1701;
/// draft-massar-v6ops-ayiya-02 (IANA's "ayiya" port).
const AYIYA_PORT: u16 = 5072;

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
        PROTO_GRE => gre_payload(frame, payload, payload_at).map(|(erspan, inner_at)| {
            let kind = if erspan { Tunnel::Erspan } else { Tunnel::Gre };
            (kind, inner_at)
        }),
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

/// The IP header inside the GRE packet `bytes` (at `at` in the frame), and whether
/// it came through ERSPAN.
fn gre_payload(frame: &[u8], bytes: &[u8], at: usize) -> Option<(bool, usize)> {
    let (flags, protocol, len) = gre(bytes)?;
    let inner_at = at + len;
    let (erspan, inner) = match protocol {
        ETHERTYPE_TEB => (false, ethernet(frame, inner_at)),
        ETHERTYPE_ERSPAN_II | ETHERTYPE_ERSPAN_III => {
            let sequenced = flags & GRE_SEQUENCE != 0;
            let header = erspan(tail(bytes, len), protocol, sequenced)?;
            let inner = match header {
                Erspan::Ethernet(header_len) => ethernet(frame, inner_at + header_len),
                Erspan::Ip(header_len) => Ok(Some(inner_at + header_len)),
            };
            (true, inner)
        }
        _ => (false, ethertype_payload(frame, protocol, inner_at)),
    };
    Some((erspan, inner.ok().flatten()?))
}

/// What an ERSPAN header is followed by, after how many bytes.
enum Erspan {
    Ethernet(usize),
    Ip(usize),
}

/// An ERSPAN header (draft-foschiano-erspan-03, Linux `include/net/erspan.h`;
/// Wireshark's `packet-erspan.c` reads the same): behind protocol type 0x88BE none when GRE carries no sequence number
/// (type I), else the header its version field names: 1, type II, 8 bytes; 2, type
/// III, 12 bytes and 8 more when its O bit says a platform-specific subheader
/// follows. Type III's frame type says Ethernet (0) or IP (2) follows.
fn erspan(bytes: &[u8], protocol: u16, sequenced: bool) -> Option<Erspan> {
    if protocol == ETHERTYPE_ERSPAN_II && !sequenced {
        return Some(Erspan::Ethernet(0));
    }
    match bytes.first()? >> 4 {
        1 => Some(Erspan::Ethernet(8)),
        2 => {
            // Bytes 10 and 11: P (1 bit), frame type (5), hardware id (6),
            // direction (1), timestamp granularity (2), O (1).
            let word = be16(bytes.first_chunk::<12>()?, 10);
            let len = if word & 0x0001 != 0 { 20 } else { 12 };
            match (word >> 10) & 0x1f {
                0 => Some(Erspan::Ethernet(len)),
                2 => Some(Erspan::Ip(len)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A UDP datagram that is a tunnel: the kind and the inner IP header's offset.
/// Tunnels whose source port is a flow hash (VXLAN, Geneve, GRE-in-UDP) are known
/// by their destination port only; the others by either, since replies come from
/// the well-known port (an L2TP, Teredo or AYIYA server's, a GTP-U peer's).
fn udp_payload(frame: &[u8], udp: &[u8], at: usize) -> Option<(Tunnel, usize)> {
    let &[src_0, src_1, dst_0, dst_1, len_0, len_1, _, _] = udp.first_chunk::<8>()?;
    let datagram = Datagram {
        frame,
        data: tail(udp, 8),
        at: at + 8,
        declared: usize::from(u16::from_be_bytes([len_0, len_1])).saturating_sub(8),
    };
    datagram
        .tunnel(u16::from_be_bytes([dst_0, dst_1]), true)
        .or_else(|| datagram.tunnel(u16::from_be_bytes([src_0, src_1]), false))
}

/// A UDP datagram's data.
struct Datagram<'a> {
    frame: &'a [u8],
    /// The data captured, bounded by the IP packet's length.
    data: &'a [u8],
    /// Its offset in the frame.
    at: usize,
    /// Its length as the UDP header declares it.
    declared: usize,
}

impl Datagram<'_> {
    /// The tunnel known by `port`, if the data is one: the kind and the inner IP
    /// header's offset. `destination`: `port` is the destination port.
    fn tunnel(&self, port: u16, destination: bool) -> Option<(Tunnel, usize)> {
        let (kind, inner) = match port {
            VXLAN_PORT if destination && self.data.len() >= 8 => {
                // Flags, reserved, VNI, reserved: 8 bytes, then Ethernet (RFC 7348
                // section 5).
                (
                    Tunnel::Vxlan,
                    ethernet(self.frame, self.at + 8).ok().flatten(),
                )
            }
            GENEVE_PORT if destination && self.data.len() >= 8 => {
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
            GRE_IN_UDP_PORT if destination => {
                let (erspan, inner_at) = gre_payload(self.frame, self.data, self.at)?;
                let kind = if erspan {
                    Tunnel::Erspan
                } else {
                    Tunnel::GreInUdp
                };
                (kind, Some(inner_at))
            }
            GTPU_PORT => (Tunnel::Gtpu, gtpu(self.data).map(|len| self.at + len)),
            TEREDO_PORT => (
                Tunnel::Teredo,
                teredo(self.data, self.declared).map(|len| self.at + len),
            ),
            L2TP_PORT => (Tunnel::L2tp, self.l2tp()),
            AYIYA_PORT => (Tunnel::Ayiya, ayiya(self.data).map(|len| self.at + len)),
            _ => return None,
        };
        Some((kind, inner?))
    }

    /// An L2TPv2 data message (RFC 2661 section 3.1): flags and version (2 bytes),
    /// length if L, tunnel and session ids, Ns and Nr if S, offset size and padding
    /// if O, then PPP, with or without address and control (0xFF 0x03). Control
    /// messages (T) carry no IP; version 3 (RFC 3931) is another header.
    fn l2tp(&self) -> Option<usize> {
        let flags = u16::from_be_bytes(*self.data.first_chunk::<2>()?);
        if flags & 0x000f != 2 || flags & 0x8000 != 0 {
            return None;
        }
        let mut len = 2;
        if flags & 0x4000 != 0 {
            len += 2;
        }
        len += 4;
        if flags & 0x0800 != 0 {
            len += 4;
        }
        if flags & 0x0200 != 0 {
            let &offset = tail(self.data, len).first_chunk::<2>()?;
            len += 2 + usize::from(u16::from_be_bytes(offset));
        }
        if tail(self.data, len).starts_with(&[0xff, 0x03]) {
            len += 2;
        }
        ppp(self.frame, self.at + len).ok().flatten()
    }
}

/// A GTP-U header (3GPP TS 29.281 section 5.1): flags (version 1 in the top three
/// bits, protocol type 1 for GTP), message type, length, TEID: 8 bytes; sequence
/// number, N-PDU number and next extension header type (4 bytes) when any of the
/// E, S or PN flags is set; then, when E is set, extension headers (5.2.1: the
/// first byte is the length in 4-byte units, the last the next type, 0 ending the
/// chain). A G-PDU (message type 255) carries the user's IP packet. The header's
/// length, if the packet after it is one.
fn gtpu(data: &[u8]) -> Option<usize> {
    let &[flags, message_type, ..] = data.first_chunk::<8>()?;
    if flags & 0xf0 != 0x30 || message_type != 0xff {
        return None;
    }
    let mut len = 8;
    if flags & 0x07 != 0 {
        len = 12;
        if flags & 0x04 != 0 {
            let mut next = *data.get(11)?;
            // Each extension header advances at least 4 bytes; the data's end ends
            // the walk.
            while next != 0 {
                let units = usize::from(*data.get(len)?);
                if units == 0 {
                    return None;
                }
                len += 4 * units;
                next = *data.get(len - 1)?;
            }
        }
    }
    matches!(data.get(len).map(|b| b >> 4), Some(4 | 6)).then_some(len)
}

/// Teredo (RFC 4380 section 5.1.1): an IPv6 packet in UDP, behind an optional
/// authentication indicator (0x0001, client identifier length, authentication
/// value length, the two values, an 8-byte nonce, a confirmation byte) and an
/// optional origin indication (0x0000, port, address: 8 bytes). Other traffic on
/// port 3544 is told apart as Wireshark's Teredo heuristic does: the IPv6 packet
/// must fill the UDP datagram exactly (`declared` bytes). The offset of the IPv6
/// header.
fn teredo(data: &[u8], declared: usize) -> Option<usize> {
    let mut len = 0;
    if let Some(&[0, 1, id_len, auth_len]) = data.first_chunk::<4>() {
        len = 13 + usize::from(id_len) + usize::from(auth_len);
    }
    if tail(data, len).starts_with(&[0, 0]) {
        len += 8;
    }
    let &[version, _, _, _, payload_0, payload_1] = tail(data, len).first_chunk::<6>()?;
    let ipv6_len = 40 + usize::from(u16::from_be_bytes([payload_0, payload_1]));
    (version >> 4 == 6 && len + ipv6_len == declared).then_some(len)
}

/// An AYIYA header (draft-massar-v6ops-ayiya-02): identity length (a
/// power of two, in the top nibble) and type, signature length (in 4-byte words)
/// and hash method, authentication method and operation code, next header (1 byte
/// each); the epoch (4 bytes); then the identity and the signature. A "forward"
/// operation (1) carries a packet of the next header's protocol: IPv4 (4) or IPv6
/// (41). The header's length, if the packet after it is one.
fn ayiya(data: &[u8]) -> Option<usize> {
    let &[identity, signature, operation, next_header, ..] = data.first_chunk::<8>()?;
    if operation & 0x0f != 1 {
        return None;
    }
    let len = 8 + (1usize << (identity >> 4)) + 4 * usize::from(signature >> 4);
    match (next_header, data.get(len)? >> 4) {
        (4, 4) | (41, 6) => Some(len),
        _ => None,
    }
}
