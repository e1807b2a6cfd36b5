//! Link layers: from the start of a frame to its IP header.

use super::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, Link, truncated};
use crate::error::{Error, Layer};
use crate::{be16, byte, fixed, slice, tail};

pub(crate) const ETHERTYPE_VLAN: u16 = 0x8100;
pub(crate) const ETHERTYPE_QINQ: u16 = 0x88a8;
pub(crate) const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Cisco WCCP redirection inside GRE.
const ETHERTYPE_WCCP: u16 = 0x883e;
/// IEEE 802.1ah provider backbone bridging: the I-TAG.
const ETHERTYPE_PBB: u16 = 0x88e7;
/// Cisco VN-Tag (IEEE 802.1Qbh draft, the Nexus fabric extenders).
const ETHERTYPE_VNTAG: u16 = 0x8926;
/// Cisco FabricPath (the "DCE" EtherType).
const ETHERTYPE_FABRICPATH: u16 = 0x8903;
/// The smallest EtherType: below it the field is an IEEE 802.3 length, and 802.2
/// LLC follows (IEEE 802.3 clause 3.2.6).
const ETHERTYPE_MIN: u16 = 0x0600;

/// PPP protocol numbers (RFC 1661, RFC 3032 section 4.3).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// Link-layer tags and headers (VLAN, I-TAG, LLC, ...) or MPLS labels followed
/// before giving up.
const MAX_TAGS: usize = 8;

/// The offset of the IP header after the link layer of type `link` that starts at
/// `at`, or `None` if the frame carries no IP.
pub(super) fn link_payload(link: Link, frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    match link {
        Link::Ethernet => ethernet(frame, at),
        Link::Raw | Link::Ipv4 | Link::Ipv6 => Ok(Some(at)),
        Link::Null | Link::Loop => {
            let &family = tail(frame, at)
                .first_chunk::<4>()
                .ok_or_else(|| truncated(Layer::Link, at + 4, frame.len()))?;
            let value = if link == Link::Loop || family[..2] == [0, 0] {
                u32::from_be_bytes(family)
            } else {
                u32::from_le_bytes(family)
            };
            // AF_INET 2; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD),
            // 30 (macOS).
            Ok(matches!(value, 2 | 10 | 24 | 28 | 30).then_some(at + 4))
        }
        Link::LinuxSll => ethertype_at(frame, at + 14),
        Link::LinuxSll2 => {
            if frame.len() < at + 20 {
                return Err(truncated(Layer::Link, at + 20, frame.len()));
            }
            ethertype_payload(frame, be16(frame, at), at + 20)
        }
        Link::Ppp => {
            let at = if tail(frame, at).starts_with(&[0xff, 0x03]) {
                at + 2
            } else {
                at
            };
            ppp(frame, at)
        }
        Link::CiscoHdlc => ethertype_at(frame, at + 2),
        Link::Nflog => nflog(frame, at),
        Link::Fddi => fddi(frame, at),
        Link::Ieee80211 => ieee80211(frame, at, false),
        Link::Ieee80211Radiotap => radiotap(frame, at),
        Link::Ppi => ppi(frame, at),
        Link::ArcnetLinux => arcnet(frame, at),
        Link::JuniperEthernet => juniper(frame, at),
        Link::Ipoib => ipoib(frame, at),
    }
}

/// ARCNET as Linux captures it (tcpdump.org LINKTYPE_ARCNET_LINUX; tcpdump's
/// print-arcnet.c): source and destination ids, two bytes of offset, the protocol
/// id; RFC 1201 framing then has a split flag and a sequence number (and four more
/// bytes in an exception packet, flag 0xff), RFC 1051 framing nothing.
fn arcnet(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    /// RFC 1051 IPv4; RFC 1201 IPv4; RFC 2497 IPv6.
    const IP_RFC1051: u8 = 0xf0;
    const IP_RFC1201: u8 = 0xd4;
    const IPV6_RFC2497: u8 = 0xc4;
    let protocol = *frame
        .get(at + 4)
        .ok_or_else(|| truncated(Layer::Link, at + 5, frame.len()))?;
    let header = match protocol {
        IP_RFC1051 => 5,
        IP_RFC1201 | IPV6_RFC2497 => {
            let flag = *frame
                .get(at + 5)
                .ok_or_else(|| truncated(Layer::Link, at + 6, frame.len()))?;
            if flag == 0xff { 12 } else { 8 }
        }
        _ => return Ok(None),
    };
    if frame.len() < at + header {
        return Err(truncated(Layer::Link, at + header, frame.len()));
    }
    Ok(Some(at + header))
}

/// Juniper's capture header (tcpdump.org LINKTYPE_JUNIPER_ETHER; tcpdump's
/// print-juniper.c `juniper_parse_header`): the magic "MGC", a flags byte, and when
/// flag 0x80 is set a 2-byte length and that many bytes of extensions. Then
/// Ethernet, unless flag 0x02 says the layer-2 header was stripped: then IP, after
/// a 4-byte protocol field where the version nibble says so.
fn juniper(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    const EXTENSIONS: u8 = 0x80;
    const NO_L2: u8 = 0x02;
    let &[m, g, c, flags] = tail(frame, at)
        .first_chunk::<4>()
        .ok_or_else(|| truncated(Layer::Link, at + 4, frame.len()))?;
    if [m, g, c] != *b"MGC" {
        return Ok(None);
    }
    let mut start = at + 4;
    if flags & EXTENSIONS != 0 {
        let len = frame
            .get(start..start + 2)
            .map(|b| usize::from(be16(b, 0)))
            .ok_or_else(|| truncated(Layer::Link, start + 2, frame.len()))?;
        start += 2 + len;
    }
    if flags & NO_L2 == 0 {
        return ethernet(frame, start);
    }
    let is_ip = |at: usize| matches!(frame.get(at).map(|b| b >> 4), Some(4 | 6));
    Ok(if is_ip(start + 4) {
        Some(start + 4)
    } else {
        is_ip(start).then_some(start)
    })
}

/// IP over InfiniBand (tcpdump.org LINKTYPE_IPOIB): the 4-byte header of RFC 4391
/// section 6 (an EtherType and two reserved bytes), which Linux captures behind a
/// 40-byte pseudo-header (the two 20-byte hardware addresses) when the EtherType
/// is not at the start.
fn ipoib(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    for header in [at, at + 40] {
        let ethertype = be16(frame, header);
        if matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6) {
            if frame.len() < header + 4 {
                return Err(truncated(Layer::Link, header + 4, frame.len()));
            }
            return Ok(Some(header + 4));
        }
    }
    if frame.len() < at + 4 {
        return Err(truncated(Layer::Link, at + 4, frame.len()));
    }
    Ok(None)
}

/// The EtherType at `at`, and what follows it.
fn ethertype_at(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    let ethertype = frame
        .get(at..at + 2)
        .map(|b| be16(b, 0))
        .ok_or_else(|| truncated(Layer::Link, at + 2, frame.len()))?;
    ethertype_payload(frame, ethertype, at + 2)
}

/// An Ethernet header (destination, source, EtherType or 802.3 length) at `at`.
pub(super) fn ethernet(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    if frame.len() < at + 14 {
        return Err(truncated(Layer::Link, at + 14, frame.len()));
    }
    ethertype_payload(frame, be16(frame, at + 12), at + 14)
}

/// Follows the link layer from an EtherType whose bytes end at `at` to the IP
/// header: VLAN tags, 802.1ah I-TAGs, VN-Tags and FabricPath headers, LLC/SNAP
/// where the EtherType's place holds an 802.3 length, then MPLS, PPPoE or WCCP.
pub(super) fn ethertype_payload(
    frame: &[u8],
    mut ethertype: u16,
    mut at: usize,
) -> Result<Option<usize>, Error> {
    for _ in 0..MAX_TAGS {
        // The bytes from `at` to the next EtherType's end.
        let header_len = match ethertype {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(Some(at)),
            // 802.1Q / 802.1ad: the tag control information, then the EtherType.
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => 4,
            // 802.1ah (IEEE 802.1Q-2018 clause 9.7): the 4-byte I-TAG, then the
            // customer's own destination, source and EtherType.
            ETHERTYPE_PBB => 18,
            // VN-Tag: direction, pointer, destination and source virtual interfaces
            // in 4 bytes, then the EtherType.
            ETHERTYPE_VNTAG => 6,
            // FabricPath: the outer destination and source (switch addresses) and
            // this EtherType stand where the classic header was; FTag and TTL (2
            // bytes) follow, then the whole classic Ethernet frame (and at the end
            // FabricPath's own FCS, past the IP packet's length).
            ETHERTYPE_FABRICPATH => 16,
            length if length < ETHERTYPE_MIN => match snap(frame, at)? {
                Some((next, next_at)) => {
                    (ethertype, at) = (next, next_at);
                    continue;
                }
                None => return Ok(None),
            },
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
        };
        let end = at + header_len;
        ethertype = frame
            .get(end - 2..end)
            .map(|b| be16(b, 0))
            .ok_or_else(|| truncated(Layer::Link, end, frame.len()))?;
        at = end;
    }
    Ok(None)
}

/// The 802.2 LLC header at `at` (IEEE 802.2 clause 3.2): IP is carried only
/// behind SNAP (DSAP and SSAP 0xAA, control 0x03) with an EtherType, that is with
/// the OUI 00-00-00 (RFC 1042) or 00-00-F8 (IEEE 802.1H bridge tunnelling). The
/// EtherType and the offset after it, `None` for any other LLC; cut short where
/// what is there could still be SNAP.
fn snap(frame: &[u8], at: usize) -> Result<Option<(u16, usize)>, Error> {
    let header = tail(frame, at);
    match header.first_chunk::<8>() {
        Some(&[0xaa, 0xaa, 0x03, 0, 0, 0x00 | 0xf8, high, low]) => {
            Ok(Some((u16::from_be_bytes([high, low]), at + 8)))
        }
        Some(_) => Ok(None),
        None => {
            let could_be = header
                .iter()
                .zip([0xaa, 0xaa, 0x03, 0, 0])
                .all(|(&got, snap)| got == snap)
                && header.get(5).is_none_or(|&oui| matches!(oui, 0x00 | 0xf8));
            if could_be {
                Err(truncated(Layer::Link, at + 8, frame.len()))
            } else {
                Ok(None)
            }
        }
    }
}

/// 802.2 LLC at `at`, and what its SNAP header's EtherType carries.
fn llc(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    match snap(frame, at)? {
        Some((ethertype, next)) => ethertype_payload(frame, ethertype, next),
        None => Ok(None),
    }
}

/// An MPLS label stack: IP follows the bottom-of-stack label, told by its version
/// nibble (RFC 4928 explains why that heuristic is the common one).
fn mpls(frame: &[u8], mut at: usize) -> Result<Option<usize>, Error> {
    for _ in 0..MAX_TAGS {
        let &[_, _, bottom, _] = tail(frame, at)
            .first_chunk::<4>()
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
pub(super) fn ppp(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
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

/// NFULA_PAYLOAD: the TLV that holds the packet (linux/netfilter/nfnetlink_log.h).
const NFULA_PAYLOAD: u16 = 9;

/// Linux NFLOG (LINKTYPE_NFLOG): address family (1 byte), version 0 (1), resource
/// id (2, big-endian), then TLVs: length (the 4-byte TLV header included) and type
/// in the byte order of the host that captured, each TLV padded to 4 bytes
/// (tcpdump.org's LINKTYPE_NFLOG page). The packet is the NFULA_PAYLOAD TLV's
/// value: IPv4 for family 2 (NFPROTO_IPV4), IPv6 for 10 (NFPROTO_IPV6).
fn nflog(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    let &[family, version, _, _] = tail(frame, at)
        .first_chunk::<4>()
        .ok_or_else(|| truncated(Layer::Link, at + 4, frame.len()))?;
    if version != 0 || !matches!(family, 2 | 10) {
        return Ok(None);
    }
    let first = at + 4;
    // Little-endian (Linux on x86 and ARM) unless only big-endian reads sensibly.
    let big_endian = !nflog_tlvs_read(frame, first, u16::from_le_bytes)
        && nflog_tlvs_read(frame, first, u16::from_be_bytes);
    let read: fn([u8; 2]) -> u16 = if big_endian {
        u16::from_be_bytes
    } else {
        u16::from_le_bytes
    };
    let mut tlv = first;
    // Every TLV advances at least its 4-byte header; the end of the frame ends the
    // walk.
    while let Some(&[len_0, len_1, type_0, type_1]) = tail(frame, tlv).first_chunk::<4>() {
        let len = usize::from(read([len_0, len_1]));
        if len < 4 {
            return Err(Error::Malformed {
                layer: Layer::Link,
                offset: tlv,
                what: "NFLOG TLV length below its 4-byte header",
            });
        }
        // The top bits flag nested and network-byte-order attributes.
        if read([type_0, type_1]) & 0x3fff == NFULA_PAYLOAD {
            return Ok(Some(tlv + 4));
        }
        tlv += len.next_multiple_of(4);
    }
    // No payload among the TLVs captured: cut by the snaplen (a log message without
    // the packet is no evidence either).
    Err(truncated(Layer::Link, tlv + 4, frame.len()))
}

/// Whether NFLOG's TLVs at `at` read sensibly in a byte order: the first TLV with
/// a type has a length of at least 4 and a type below 256 (NFULA_ types end near
/// 20; read in the other order, a small type is a multiple of 256). Wireshark's
/// NFLOG dissector guessed the same way before it read the capture's own order.
fn nflog_tlvs_read(frame: &[u8], mut at: usize, read: fn([u8; 2]) -> u16) -> bool {
    while let Some(&[len_0, len_1, type_0, type_1]) = tail(frame, at).first_chunk::<4>() {
        let len = usize::from(read([len_0, len_1]));
        let kind = read([type_0, type_1]) & 0x3fff;
        if len < 4 || kind >= 0x100 {
            return false;
        }
        if kind != 0 {
            return true;
        }
        at += len.next_multiple_of(4);
    }
    false
}

/// FDDI (LINKTYPE_FDDI; ANSI X3.139): frame control (1 byte), destination (6),
/// source (6), then 802.2 LLC. Only asynchronous LLC frames (frame control
/// 0101 xxxx, as tcpdump's `fddi_print` tests) carry data.
fn fddi(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    if frame.len() < at + 13 {
        return Err(truncated(Layer::Link, at + 13, frame.len()));
    }
    if byte(frame, at) & 0xf0 != 0x50 {
        return Ok(None);
    }
    llc(frame, at + 13)
}

/// An IEEE 802.11 frame at `at` (IEEE 802.11-2020 section 9.2.4.1, the frame
/// control field; 9.3.2.1, data frames). Only data frames that carry data and are
/// not protected hold IP we can read, behind LLC/SNAP. `padded`: radiotap says the
/// MAC header is padded to a multiple of 4 bytes.
fn ieee80211(frame: &[u8], at: usize, padded: bool) -> Result<Option<usize>, Error> {
    let &[control, flags] = tail(frame, at)
        .first_chunk::<2>()
        .ok_or_else(|| truncated(Layer::Link, at + 2, frame.len()))?;
    let (version, kind, subtype) = (control & 0x03, (control >> 2) & 0x03, control >> 4);
    // Protocol version 0, type 2 (data); subtypes with bit 2 set carry no data
    // (Null, CF-Ack, CF-Poll, QoS Null, ...).
    if version != 0 || kind != 2 || subtype & 0x04 != 0 {
        return Ok(None);
    }
    // Protected: the payload is encrypted (WEP, TKIP, CCMP, GCMP).
    if flags & 0x40 != 0 {
        return Ok(None);
    }
    // Frame control, duration, three addresses, sequence control.
    let mut len = 24;
    // To DS and From DS both set: a fourth address.
    if flags & 0x03 == 0x03 {
        len += 6;
    }
    let mut aggregate = false;
    if subtype & 0x08 != 0 {
        // QoS data: QoS Control (2 bytes), whose bit 7 says the payload is an
        // A-MSDU (9.2.4.5); with the Order bit set, HT Control follows (4 bytes,
        // 9.2.4.1.10: "+HTC").
        let qos = *frame
            .get(at + len)
            .ok_or_else(|| truncated(Layer::Link, at + len + 2, frame.len()))?;
        aggregate = qos & 0x80 != 0;
        len += 2;
        if flags & 0x80 != 0 {
            len += 4;
        }
    }
    if padded {
        len = len.next_multiple_of(4);
    }
    if aggregate {
        // The first A-MSDU subframe's header: destination, source, length
        // (9.3.2.2.2). Only the first subframe is read.
        len += 14;
    }
    if frame.len() < at + len {
        return Err(truncated(Layer::Link, at + len, frame.len()));
    }
    llc(frame, at + len)
}

/// Radiotap's Flags: the 802.11 frame ends in a frame check sequence.
const RADIOTAP_FCS: u8 = 0x10;
/// Radiotap's Flags: the 802.11 header is padded to a multiple of 4 bytes.
const RADIOTAP_DATA_PAD: u8 = 0x20;

/// A radiotap header at `at` (LINKTYPE_IEEE802_11_RADIOTAP; radiotap.org), then
/// the 802.11 frame.
fn radiotap(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    match radiotap_header(frame, at)? {
        Some((len, flags)) => ieee80211(frame, at + len, flags & RADIOTAP_DATA_PAD != 0),
        None => Ok(None),
    }
}

/// A radiotap header's length and Flags field (0 when absent); `None` for a
/// version other than 0. The header: version 0, a pad byte, the length
/// (little-endian u16), presence bitmaps (little-endian u32 each, bit 31 saying
/// another follows), then the fields, each aligned to its size from the header's
/// start. The Flags field is bit 1, after the 8-byte TSFT of bit 0.
fn radiotap_header(frame: &[u8], at: usize) -> Result<Option<(usize, u8)>, Error> {
    let &[version, _, len_0, len_1, p_0, p_1, p_2, p_3] = tail(frame, at)
        .first_chunk::<8>()
        .ok_or_else(|| truncated(Layer::Link, at + 8, frame.len()))?;
    if version != 0 {
        return Ok(None);
    }
    let len = usize::from(u16::from_le_bytes([len_0, len_1]));
    let malformed = |what| Error::Malformed {
        layer: Layer::Link,
        offset: at + 2,
        what,
    };
    if len < 8 {
        return Err(malformed("radiotap length below its 8-byte header"));
    }
    if frame.len() < at + len {
        return Err(truncated(Layer::Link, at + len, frame.len()));
    }
    let header = slice(frame, at..at + len);
    let present = u32::from_le_bytes([p_0, p_1, p_2, p_3]);
    // The fields start after the last presence bitmap.
    let mut fields = 8;
    let mut bitmap = present;
    while bitmap & 0x8000_0000 != 0 {
        let &next = tail(header, fields)
            .first_chunk::<4>()
            .ok_or_else(|| malformed("radiotap presence bitmaps run past its length"))?;
        bitmap = u32::from_le_bytes(next);
        fields += 4;
    }
    let mut flags = 0;
    if present & 0x02 != 0 {
        let at_flags = if present & 0x01 != 0 {
            fields.next_multiple_of(8) + 8
        } else {
            fields
        };
        flags = byte(header, at_flags);
    }
    Ok(Some((len, flags)))
}

/// PPI's 802.11-Common field (type 2): TSF timer (8 bytes), then flags whose bit 0
/// says the frame ends in a frame check sequence.
const PPI_80211_COMMON: u16 = 2;

/// A Per-Packet Information header at `at` (LINKTYPE_PPI; CACE Technologies' PPI
/// specification 1.0.10): version 0, flags, the header's length
/// (little-endian u16) and the link type of the frame after it (little-endian
/// u32), then fields. The frame is decoded as its own link type (one PPI header;
/// a second inside is not followed).
fn ppi(frame: &[u8], at: usize) -> Result<Option<usize>, Error> {
    let &[version, _, len_0, len_1, dlt_0, dlt_1, dlt_2, dlt_3] = tail(frame, at)
        .first_chunk::<8>()
        .ok_or_else(|| truncated(Layer::Link, at + 8, frame.len()))?;
    if version != 0 {
        return Ok(None);
    }
    let len = usize::from(u16::from_le_bytes([len_0, len_1]));
    if len < 8 {
        return Err(Error::Malformed {
            layer: Layer::Link,
            offset: at + 2,
            what: "PPI length below its 8-byte header",
        });
    }
    if frame.len() < at + len {
        return Err(truncated(Layer::Link, at + len, frame.len()));
    }
    let inner = u16::try_from(u32::from_le_bytes([dlt_0, dlt_1, dlt_2, dlt_3]))
        .ok()
        .and_then(Link::from_link_type);
    match inner {
        Some(Link::Ppi) | None => Ok(None),
        Some(inner) => link_payload(inner, frame, at + len),
    }
}

/// Whether the frame ends in a frame check sequence its own headers declare, which
/// an edit in place would leave wrong: radiotap's FCS flag, PPI's 802.11-Common
/// FCS flag (or its radiotap's), a FabricPath header (whose FCS covers the whole
/// frame). Other frames may carry one unannounced (LINKTYPE_ETHERNET and
/// LINKTYPE_IEEE802_11 allow it); nothing in them tells.
pub(crate) fn declares_fcs(link: Link, frame: &[u8]) -> bool {
    match link {
        Link::Ieee80211Radiotap => radiotap_declares_fcs(frame, 0),
        Link::Ppi => ppi_declares_fcs(frame),
        Link::Ethernet => {
            // FabricPath replaces the Ethernet header, behind VLAN tags at most.
            let mut at = 12;
            for _ in 0..MAX_TAGS {
                match be16(frame, at) {
                    ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => at += 4,
                    ethertype => return ethertype == ETHERTYPE_FABRICPATH,
                }
            }
            false
        }
        _ => false,
    }
}

fn radiotap_declares_fcs(frame: &[u8], at: usize) -> bool {
    matches!(radiotap_header(frame, at), Ok(Some((_, flags))) if flags & RADIOTAP_FCS != 0)
}

fn ppi_declares_fcs(frame: &[u8]) -> bool {
    let &[_, _, len_0, len_1, dlt_0, dlt_1, dlt_2, dlt_3] = fixed::<8>(frame);
    let len = usize::from(u16::from_le_bytes([len_0, len_1]));
    if u32::from_le_bytes([dlt_0, dlt_1, dlt_2, dlt_3]) == 127 {
        return radiotap_declares_fcs(frame, len);
    }
    // The fields: type and length (little-endian u16 each), then the data. Every
    // field advances at least its 4-byte header; the header's length ends the walk.
    let fields = slice(frame, 8.min(len)..len.min(frame.len()));
    let mut at = 0;
    while let Some(&[type_0, type_1, field_len_0, field_len_1]) =
        tail(fields, at).first_chunk::<4>()
    {
        let data = at + 4;
        if u16::from_le_bytes([type_0, type_1]) == PPI_80211_COMMON {
            return byte(fields, data + 8) & 0x01 != 0;
        }
        at = data + usize::from(u16::from_le_bytes([field_len_0, field_len_1]));
    }
    false
}
