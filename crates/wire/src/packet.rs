//! From a captured frame to the IP packet and what it carries. Lax: a frame cut by the
//! snaplen still yields every layer that was captured.
//!
//! - Link layers ([`LINK_TYPES`]): Ethernet (802.1Q and 802.1ad tags, MPLS, PPPoE,
//!   802.2 LLC/SNAP, 802.1ah provider backbone bridging, VN-Tag, Cisco FabricPath),
//!   Linux cooked v1 and v2, raw IP, BSD and OpenBSD loopback, PPP, Cisco HDLC, Linux
//!   NFLOG, FDDI, and IEEE 802.11 data frames, bare, behind radiotap or behind PPI.
//! - IPv4 and IPv6 with extension headers, and ICMP errors with the packet they
//!   quote.
//! - Tunnels ([`Tunnel`]): GRE (IP, Ethernet, WCCP, ERSPAN types I to III),
//!   IP-in-IP, and over UDP VXLAN, Geneve, GRE-in-UDP, GTP-U, Teredo, L2TPv2 and
//!   AYIYA. UDP is a tunnel only when its port says so and the tunnel header checks
//!   out; a tunnel whose inner packet cannot be decoded is the outer packet itself,
//!   never an error.

use core::net::IpAddr;

use crate::error::{Error, Layer};
use crate::{icmp, ipv4, ipv6, slice, tail, tcp};

mod link;
mod tunnel;

pub(crate) use link::{ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD, ETHERTYPE_VLAN, declares_fcs};

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
    /// Linux netfilter log messages, `tcpdump -i nflog:N` (239).
    Nflog,
    /// FDDI with 802.2 LLC (10).
    Fddi,
    /// IEEE 802.11 frames (105).
    Ieee80211,
    /// IEEE 802.11 frames behind a radiotap header (127).
    Ieee80211Radiotap,
    /// A Per-Packet Information header, then a frame of the link type it names
    /// (192).
    Ppi,
    /// ARCNET as Linux captures it, RFC 1201 and RFC 1051 framing (129).
    ArcnetLinux,
    /// Juniper's capture header, then Ethernet (178).
    JuniperEthernet,
    /// IP over InfiniBand (242).
    Ipoib,
}

/// Every tcpdump.org LINKTYPE_ value mss decodes, with its decoder and a name for
/// messages: the one table (capture names link types from it, the fuzz targets
/// pick from it). Ethernet first: the common case is found at the first compare.
pub const LINK_TYPES: [(u16, Link, &str); 21] = [
    (1, Link::Ethernet, "Ethernet"),
    (0, Link::Null, "BSD loopback"),
    (9, Link::Ppp, "PPP"),
    (10, Link::Fddi, "FDDI"),
    (12, Link::Raw, "raw IP"),
    (14, Link::Raw, "raw IP"),
    (50, Link::Ppp, "PPP in HDLC framing"),
    (101, Link::Raw, "raw IP"),
    (104, Link::CiscoHdlc, "Cisco HDLC"),
    (105, Link::Ieee80211, "IEEE 802.11"),
    (108, Link::Loop, "OpenBSD loopback"),
    (113, Link::LinuxSll, "Linux cooked (SLL)"),
    (127, Link::Ieee80211Radiotap, "IEEE 802.11 with radiotap"),
    (129, Link::ArcnetLinux, "ARCNET (Linux)"),
    (178, Link::JuniperEthernet, "Juniper Ethernet"),
    (192, Link::Ppi, "PPI (per-packet information)"),
    (228, Link::Ipv4, "raw IPv4"),
    (229, Link::Ipv6, "raw IPv6"),
    (239, Link::Nflog, "Linux netfilter log (NFLOG)"),
    (242, Link::Ipoib, "IP over InfiniBand"),
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

const PROTO_ICMP: u8 = 1;
const PROTO_IPIP: u8 = 4;
pub(crate) const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6: u8 = 41;
const PROTO_GRE: u8 = 47;
const PROTO_ICMPV6: u8 = 58;

/// Tunnels crossed before the innermost IP packet; deeper nesting is not followed.
const MAX_DEPTH: u8 = 4;

/// A tunnel the packet was carried in: an IP packet inside another IP packet, so
/// that the outer one's lengths and checksums cover it. (Link-layer tags and
/// headers, VLAN to FabricPath, are not tunnels: they carry no IP of their own.)
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
    /// ERSPAN types I, II and III: mirrored frames in GRE (protocol types 0x88BE
    /// and 0x22EB, draft-foschiano-erspan-03).
    Erspan,
    /// GRE in UDP (RFC 8086, UDP 4754).
    GreInUdp,
    /// GTP-U, the GPRS/LTE/5G user plane (3GPP TS 29.281, UDP 2152).
    Gtpu,
    /// Teredo: IPv6 in UDP over IPv4 (RFC 4380, UDP 3544).
    Teredo,
    /// L2TPv2 data messages: PPP in UDP (RFC 2661, UDP 1701).
    L2tp,
    /// AYIYA, "anything in anything" (draft-massar-v6ops-ayiya-02, UDP 5072).
    Ayiya,
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
    let start = match link::link_payload(link, frame, 0) {
        Ok(Some(start)) => start,
        Ok(None) => return Ok(None),
        Err(e) => return Err((0, e)),
    };
    ip(frame, start, None, 0)
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
            return tunnel::tunnelled(frame, payload, payload_at, depth, packet);
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

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
