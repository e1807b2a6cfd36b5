//! From a captured frame to the IP packet and what it carries: link layers (Ethernet
//! with VLAN, MPLS and PPPoE, Linux cooked v1/v2, raw IP, BSD loopback, PPP, Cisco
//! HDLC), IPv4 and IPv6 with extension headers, tunnels (GRE, IP-in-IP, VXLAN,
//! Geneve), and ICMP errors. Lax: a frame cut by the snaplen still yields every layer
//! that was captured.

use core::net::IpAddr;

use crate::error::{Error, Layer};
use crate::{be16, byte, icmp, ipv4, ipv6, slice, tail, tcp};

/// How a capture frames its packets (a subset of tcpdump.org LINKTYPE_ values).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// Ethernet II / 802.3 (1).
    Ethernet,
    /// BSD loopback: address family in host byte order (0).
    Null,
    /// OpenBSD loopback: address family in network byte order (108).
    Loop,
    /// Raw IPv4 or IPv6, by version nibble (101, 12, 14).
    Raw,
    /// Raw IPv4 (228).
    Ipv4,
    /// Raw IPv6 (229).
    Ipv6,
    /// Linux cooked capture (113).
    LinuxSll,
    /// Linux cooked capture v2 (276).
    LinuxSll2,
    /// PPP, with or without address/control bytes (9, 50).
    Ppp,
    /// Cisco HDLC (104).
    CiscoHdlc,
}

/// Every tcpdump.org LINKTYPE_ value mss decodes, with its decoder and a name for
/// messages: the one table (capture names link types from it, the fuzz targets
/// pick from it). Ethernet first: the common case is found at the first compare.
pub const LINK_TYPES: [(u16, Link, &str); 13] = [
    (1, Link::Ethernet, "Ethernet"),
    (0, Link::Null, "BSD loopback"),
    (9, Link::Ppp, "PPP"),
    (12, Link::Raw, "raw IP"),
    (14, Link::Raw, "raw IP"),
    (50, Link::Ppp, "PPP in HDLC framing"),
    (101, Link::Raw, "raw IP"),
    (104, Link::CiscoHdlc, "Cisco HDLC"),
    (108, Link::Loop, "OpenBSD loopback"),
    (113, Link::LinuxSll, "Linux cooked (SLL)"),
    (228, Link::Ipv4, "raw IPv4"),
    (229, Link::Ipv6, "raw IPv6"),
    (276, Link::LinuxSll2, "Linux cooked v2 (SLL2)"),
];

impl Link {
    /// The decoder for a LINKTYPE_ value, if supported ([`LINK_TYPES`]).
    pub fn from_link_type(link_type: u16) -> Option<Link> {
        LINK_TYPES
            .iter()
            .find(|(value, _, _)| *value == link_type)
            .map(|(_, link, _)| *link)
    }
}

/// A LINKTYPE_ value's name for messages, if mss decodes it ([`LINK_TYPES`]).
pub fn link_type_name(link_type: u16) -> Option<&'static str> {
    LINK_TYPES
        .iter()
        .find(|(value, _, _)| *value == link_type)
        .map(|(_, _, name)| *name)
}

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(crate) const ETHERTYPE_VLAN: u16 = 0x8100;
pub(crate) const ETHERTYPE_QINQ: u16 = 0x88a8;
pub(crate) const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_TEB: u16 = 0x6558;
/// Cisco WCCP redirection inside GRE.
const ETHERTYPE_WCCP: u16 = 0x883e;
/// PPP protocol numbers (RFC 1661, RFC 3032 section 4.3).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

const PROTO_ICMP: u8 = 1;
const PROTO_IPIP: u8 = 4;
pub(crate) const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6: u8 = 41;
const PROTO_GRE: u8 = 47;
const PROTO_ICMPV6: u8 = 58;

const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;

/// Tunnels crossed before the innermost IP packet; deeper nesting is not followed.
const MAX_DEPTH: u8 = 4;
/// VLAN tags or MPLS labels followed before giving up.
const MAX_TAGS: usize = 8;

/// A tunnel the packet was carried in.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// GRE (RFC 2784).
    Gre,
    /// IPv4 or IPv6 directly in IP (protocols 4, 41).
    IpInIp,
    /// VXLAN (UDP 4789).
    Vxlan,
    /// Geneve (UDP 6081).
    Geneve,
}

/// An IP fragment's position.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Offset of this fragment's data in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// What the IP packet carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A TCP segment whose fixed header was captured (options may be cut).
    Tcp(tcp::Packet<&'a [u8]>),
    /// TCP, but fewer than 20 header bytes were captured.
    TcpTruncated,
    /// An ICMP or ICMPv6 error.
    IcmpError(icmp::ErrorMessage),
    /// A non-first fragment: the transport header is in another packet.
    LaterFragment,
    /// Anything else (other ICMP messages, UDP that is not a tunnel, ...).
    Other,
}

/// The innermost IP packet of a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Offset of the IP header in the frame (frames are far below 4 GiB; a u32
    /// keeps this struct small enough to move without a call to memcpy).
    pub offset: u32,
    /// The tunnel it was found in (innermost), if any.
    pub tunnel: Option<Tunnel>,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// The packet's length as sent: IPv4 total length, IPv6 40 + payload length (0
    /// when that is 0, a jumbogram).
    pub ip_len: u32,
    /// IP header bytes, options and extension headers included.
    pub header_len: u32,
    /// IPv4 identification or IPv6 fragment identification.
    pub ident: u32,
    /// Don't Fragment (IPv4; always true for IPv6, which routers never fragment).
    pub dont_fragment: bool,
    /// Fragment position, if this is a fragment.
    pub fragment: Option<Fragment>,
    /// The IP fragments it was put together from ([`crate::reassembly`]); 0 when it
    /// arrived whole (the decoder never reassembles).
    pub fragments: u16,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Whether fewer bytes were captured than the packet has.
    pub truncated: bool,
    /// What it carries.
    pub transport: Transport<'a>,
}

impl IpPacket<'_> {
    /// IP version.
    pub fn is_ipv6(&self) -> bool {
        self.src.is_ipv6()
    }
}

fn truncated(layer: Layer, needed: usize, available: usize) -> Error {
    Error::Truncated {
        layer,
        needed,
        available,
    }
}

/// Decodes a captured frame to its innermost IP packet. `Ok(None)` for frames that
/// carry no IP (ARP, LLDP, ...). Errors name the layer and offset where decoding
/// stopped.
pub fn decode(link: Link, frame: &[u8]) -> Result<Option<IpPacket<'_>>, (usize, Error)> {
    // The common case first: IPv4 or IPv6 straight in Ethernet.
    if link == Link::Ethernet {
        if let Some(&[hi, lo]) = frame.get(12..14) {
            if matches!(
                u16::from_be_bytes([hi, lo]),
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6
            ) {
                return ip(frame, 14, None, 0);
            }
        }
    }
    let start = match link_payload(link, frame) {
        Ok(Some(start)) => start,
        Ok(None) => return Ok(None),
        Err(e) => return Err((0, e)),
    };
    ip(frame, start, None, 0)
}

/// The offset of the IP header after the link layer, or `None` if not IP.
fn link_payload(link: Link, frame: &[u8]) -> Result<Option<usize>, Error> {
    let ethertype_at = |at: usize| -> Result<Option<usize>, Error> {
        let ethertype = frame
            .get(at..at + 2)
            .map(|b| be16(b, 0))
            .ok_or_else(|| truncated(Layer::Link, at + 2, frame.len()))?;
        ethertype_payload(frame, ethertype, at + 2)
    };
    match link {
        Link::Ethernet => ethernet(frame, 0),
        Link::Raw | Link::Ipv4 | Link::Ipv6 => Ok(Some(0)),
        Link::Null | Link::Loop => {
            let &family = frame
                .first_chunk::<4>()
                .ok_or_else(|| truncated(Layer::Link, 4, frame.len()))?;
            let value = if link == Link::Loop || family[..2] == [0, 0] {
                u32::from_be_bytes(family)
            } else {
                u32::from_le_bytes(family)
            };
            // AF_INET 2; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD),
            // 30 (macOS).
            Ok(matches!(value, 2 | 10 | 24 | 28 | 30).then_some(4))
        }
        Link::LinuxSll => ethertype_at(14),
        Link::LinuxSll2 => {
            let protocol = frame
                .get(0..2)
                .map(|b| be16(b, 0))
                .ok_or_else(|| truncated(Layer::Link, 20, frame.len()))?;
            if frame.len() < 20 {
                return Err(truncated(Layer::Link, 20, frame.len()));
            }
            ethertype_payload(frame, protocol, 20)
        }
        Link::Ppp => {
            let at = if frame.starts_with(&[0xff, 0x03]) {
                2
            } else {
                0
            };
            ppp(frame, at)
        }
        Link::CiscoHdlc => ethertype_at(2),
    }
}

fn ethernet(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    if frame.len() < at + 14 {
        return Err(truncated(Layer::Link, at + 14, frame.len()));
    }
    let ethertype = be16(frame, at + 12);
    if ethertype < 0x0600 {
        // 802.3 length: LLC; only SNAP (AA AA 03, OUI, EtherType) carries IP.
        return match frame.get(at + 14..at + 22) {
            Some([0xaa, 0xaa, 0x03, _, _, _, hi, lo]) => {
                ethertype_payload(frame, u16::from_be_bytes([*hi, *lo]), at + 22)
            }
            _ => Ok(None),
        };
    }
    ethertype_payload(frame, ethertype, at + 14)
}

/// Follows VLAN tags, MPLS labels and PPPoE from an EtherType to the IP header.
fn ethertype_payload(
    frame: &[u8],
    mut ethertype: u16,
    mut at: usize,
) -> Result<Option<usize>, Error> {
    for _ in 0..MAX_TAGS {
        match ethertype {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(Some(at)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                let tag = frame
                    .get(at..at + 4)
                    .ok_or_else(|| truncated(Layer::Link, at + 4, frame.len()))?;
                ethertype = be16(tag, 2);
                at += 4;
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => return mpls(frame, at),
            ETHERTYPE_WCCP => {
                // WCCPv2 puts a 4-byte redirect header before the IP packet, WCCPv1
                // none; the version nibble tells.
                return Ok(match frame.get(at).map(|b| b >> 4) {
                    Some(4) => Some(at),
                    Some(_) if frame.get(at + 4).is_some_and(|b| matches!(b >> 4, 4 | 6)) => {
                        Some(at + 4)
                    }
                    _ => None,
                });
            }
            ETHERTYPE_PPPOE_SESSION => {
                if frame.len() < at + 8 {
                    return Err(truncated(Layer::Link, at + 8, frame.len()));
                }
                return ppp(frame, at + 6);
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// An MPLS label stack: IP follows the bottom-of-stack label, told by its version
/// nibble (RFC 4928 explains why that heuristic is the common one).
fn mpls(frame: &[u8], mut at: usize) -> Result<Option<usize>, Error> {
    for _ in 0..MAX_TAGS {
        let &[_, _, bottom, _] = frame
            .get(at..)
            .and_then(<[u8]>::first_chunk::<4>)
            .ok_or_else(|| truncated(Layer::Link, at + 4, frame.len()))?;
        at += 4;
        if bottom & 0x01 != 0 {
            return Ok(match frame.get(at).map(|b| b >> 4) {
                Some(4 | 6) => Some(at),
                _ => None,
            });
        }
    }
    Ok(None)
}

/// A PPP protocol field (1 byte if compressed, RFC 1661 section 6.5).
fn ppp(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    let first = *frame
        .get(at)
        .ok_or_else(|| truncated(Layer::Link, at + 1, frame.len()))?;
    let (protocol, len) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        let second = *frame
            .get(at + 1)
            .ok_or_else(|| truncated(Layer::Link, at + 2, frame.len()))?;
        (u16::from_be_bytes([first, second]), 2)
    };
    match protocol {
        PPP_IPV4 | PPP_IPV6 => Ok(Some(at + len)),
        PPP_MPLS | PPP_MPLS_MULTICAST => mpls(frame, at + len),
        _ => Ok(None),
    }
}

/// Decodes the IP packet at `at`, descending into tunnels.
fn ip(
    frame: &[u8],
    at: usize,
    tunnel: Option<Tunnel>,
    depth: u8,
) -> Result<Option<IpPacket<'_>>, (usize, Error)> {
    let bytes = tail(frame, at);
    let version = bytes.first().map(|b| b >> 4);
    let mut packet = match version {
        Some(4) => ipv4_packet(bytes, at, tunnel)?,
        Some(6) => ipv6_packet(bytes, at, tunnel)?,
        Some(_) => {
            return Err((
                at,
                Error::Malformed {
                    layer: Layer::Ipv4,
                    offset: 0,
                    what: "IP version is neither 4 nor 6",
                },
            ));
        }
        None => return Err((at, truncated(Layer::Ipv4, 1, 0))),
    };
    // The transport bytes captured, bounded by the packet's own length (Ethernet
    // pads short frames).
    let header_len = usize::try_from(packet.header_len).unwrap_or(usize::MAX);
    let end = if packet.ip_len == 0 {
        bytes.len()
    } else {
        bytes
            .len()
            .min(usize::try_from(packet.ip_len).unwrap_or(usize::MAX))
    };
    let payload = slice(bytes, header_len..end);
    let payload_at = at + header_len;
    if packet.fragment.is_some_and(|f| f.offset != 0) {
        packet.transport = Transport::LaterFragment;
        return Ok(Some(packet));
    }
    if packet.truncated && payload.is_empty() && packet.protocol == PROTO_TCP {
        packet.transport = Transport::TcpTruncated;
        return Ok(Some(packet));
    }
    let nested = depth < MAX_DEPTH && packet.fragment.is_none();
    packet.transport = match packet.protocol {
        PROTO_TCP => match tcp::Packet::new_lax(payload) {
            Ok(segment) => Transport::Tcp(segment),
            Err(Error::Truncated { .. }) => Transport::TcpTruncated,
            Err(e) => return Err((payload_at, e)),
        },
        PROTO_ICMP if !packet.is_ipv6() => {
            icmp::parse_v4(payload).map_or(Transport::Other, Transport::IcmpError)
        }
        PROTO_ICMPV6 if packet.is_ipv6() => {
            icmp::parse_v6(payload).map_or(Transport::Other, Transport::IcmpError)
        }
        PROTO_IPIP | PROTO_IPV6 if nested => {
            return inner_or(frame, payload_at, Tunnel::IpInIp, depth, packet);
        }
        PROTO_GRE | PROTO_UDP if nested => {
            return tunnelled(frame, payload, payload_at, depth, packet);
        }
        _ => Transport::Other,
    };
    Ok(Some(packet))
}

/// The IPv4 header's facts (the transport is filled in by [`ip`]).
#[inline]
fn ipv4_packet(
    bytes: &[u8],
    at: usize,
    tunnel: Option<Tunnel>,
) -> Result<IpPacket<'_>, (usize, Error)> {
    let ip = ipv4::Packet::new_checked(bytes).map_err(|e| (at, e))?;
    let fragment = ip.is_fragment().then(|| Fragment {
        offset: ip.frag_offset(),
        more: ip.more_frags(),
    });
    Ok(IpPacket {
        offset: u32::try_from(at).unwrap_or(u32::MAX),
        tunnel,
        src: IpAddr::V4(ip.src_addr()),
        dst: IpAddr::V4(ip.dst_addr()),
        ttl: ip.ttl(),
        ip_len: u32::from(ip.total_len()),
        header_len: u32::try_from(ip.header_len()).unwrap_or(60),
        ident: u32::from(ip.ident()),
        dont_fragment: ip.dont_frag(),
        fragment,
        fragments: 0,
        protocol: ip.protocol(),
        truncated: ip.is_truncated(),
        transport: Transport::Other,
    })
}

/// The IPv6 header's facts, its extension headers walked.
#[inline]
fn ipv6_packet(
    bytes: &[u8],
    at: usize,
    tunnel: Option<Tunnel>,
) -> Result<IpPacket<'_>, (usize, Error)> {
    let ip = ipv6::Packet::new_checked(bytes).map_err(|e| (at, e))?;
    let chain = ip.extensions();
    if chain.end == ipv6::ChainEnd::Malformed {
        return Err((
            at + ipv6::HEADER_LEN + chain.offset,
            Error::Malformed {
                layer: Layer::Ipv6Extension,
                offset: ipv6::HEADER_LEN + chain.offset,
                what: "extension header runs past the payload length",
            },
        ));
    }
    let payload_len = u32::from(ip.payload_len());
    Ok(IpPacket {
        offset: u32::try_from(at).unwrap_or(u32::MAX),
        tunnel,
        src: IpAddr::V6(ip.src_addr()),
        dst: IpAddr::V6(ip.dst_addr()),
        ttl: ip.hop_limit(),
        ip_len: if payload_len == 0 {
            0
        } else {
            40 + payload_len
        },
        header_len: 40 + u32::try_from(chain.offset).unwrap_or(0),
        ident: chain.fragment.map_or(0, |f| f.ident),
        dont_fragment: true,
        fragment: chain.fragment.map(|f| Fragment {
            offset: f.offset,
            more: f.more,
        }),
        fragments: 0,
        protocol: chain.protocol,
        truncated: ip.is_truncated() || chain.end == ipv6::ChainEnd::Truncated,
        transport: Transport::Other,
    })
}

/// A GRE or UDP (VXLAN, Geneve) packet: the packet it carries, if it is one.
fn tunnelled<'a>(
    frame: &'a [u8],
    payload: &'a [u8],
    payload_at: usize,
    depth: u8,
    mut packet: IpPacket<'a>,
) -> Result<Option<IpPacket<'a>>, (usize, Error)> {
    packet.transport = match packet.protocol {
        PROTO_GRE => {
            if let Some((ethertype, gre_len)) = gre(payload) {
                let inner_at = payload_at + gre_len;
                let inner = if ethertype == ETHERTYPE_TEB {
                    ethernet(frame, inner_at).ok().flatten()
                } else {
                    ethertype_payload(frame, ethertype, inner_at).ok().flatten()
                };
                if let Some(inner_at) = inner {
                    return inner_or(frame, inner_at, Tunnel::Gre, depth, packet);
                }
            }
            Transport::Other
        }
        PROTO_UDP if payload.len() >= 16 => {
            let dst_port = be16(payload, 2);
            let (kind, inner) = match dst_port {
                VXLAN_PORT => (
                    Tunnel::Vxlan,
                    ethernet(frame, payload_at + 16).ok().flatten(),
                ),
                GENEVE_PORT => {
                    let options = usize::from(byte(payload, 8) & 0x3f) * 4;
                    let protocol = be16(payload, 10);
                    let inner_at = payload_at + 16 + options;
                    let inner = if protocol == ETHERTYPE_TEB {
                        ethernet(frame, inner_at).ok().flatten()
                    } else {
                        ethertype_payload(frame, protocol, inner_at).ok().flatten()
                    };
                    (Tunnel::Geneve, inner)
                }
                _ => (Tunnel::Vxlan, None),
            };
            match inner {
                Some(inner_at) => return inner_or(frame, inner_at, kind, depth, packet),
                None => Transport::Other,
            }
        }
        _ => Transport::Other,
    };
    Ok(Some(packet))
}

/// The packet inside a tunnel, or the tunnel packet itself if the inner one cannot
/// be decoded (a tunnel is skipped cleanly, never an error).
fn inner_or<'a>(
    frame: &'a [u8],
    inner_at: usize,
    kind: Tunnel,
    depth: u8,
    outer: IpPacket<'a>,
) -> Result<Option<IpPacket<'a>>, (usize, Error)> {
    match ip(frame, inner_at, Some(kind), depth + 1) {
        Ok(Some(inner)) => Ok(Some(inner)),
        _ => Ok(Some(outer)),
    }
}

/// A GRE header (RFC 2784, RFC 2890): the protocol type and the header length.
fn gre(bytes: &[u8]) -> Option<(u16, usize)> {
    let &[flags, version, protocol_high, protocol_low] = bytes.first_chunk::<4>()?;
    if version & 0x07 != 0 {
        return None;
    }
    let mut len = 4;
    for bit in [0x80u8, 0x20, 0x10] {
        // Checksum (+reserved), key, sequence number: 4 bytes each.
        if flags & bit != 0 {
            len += 4;
        }
    }
    (bytes.len() >= len).then(|| (u16::from_be_bytes([protocol_high, protocol_low]), len))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
