//! Strict decoding, for code that edits packets in place (the MSS clamp): where the
//! IP packet starts in a frame, where its TCP header is and how long each part is,
//! all checked against the bytes, or why the packet must be left as it is. And the
//! one edit that changes lengths: inserting an MSS option as Linux's `xt_TCPMSS`
//! does.
//!
//! [`crate::packet::decode`] is lax: it keeps every layer that was captured, for
//! analysis. This module refuses what it cannot fully understand (a truncated
//! packet, a length field that disagrees with the bytes, a later fragment or a
//! first one too short for the TCP header, an IPv6 jumbogram or a broken extension
//! header, a packet inside a tunnel), so that an edit at the offsets it hands back
//! changes only what it means to.
//!
//! A first fragment that holds the whole TCP header is accepted, as the kernel's
//! clamps (`xt_TCPMSS`, nftables) accept it: they skip only fragment offsets other
//! than 0. The TCP checksum covers the whole datagram, and an incremental update
//! needs only the bytes that change, which are here; nothing may change length.
//! An IPv6 atomic fragment (a Fragment header with offset 0 and no more fragments,
//! RFC 6946) is a whole packet.
//!
//! ```
//! use mss_wire::strict::{Refusal, tcp_layout};
//! // An IPv4 SYN with MSS 1460 (checksums not filled in: layouts do not need them).
//! let mut packet = [0u8; 44];
//! packet[..4].copy_from_slice(&[0x45, 0, 0, 44]);
//! packet[9] = 6; // TCP
//! packet[32..34].copy_from_slice(&[0x60, 0x02]); // data offset 6 words, SYN
//! packet[40..44].copy_from_slice(&[2, 4, 0x05, 0xb4]);
//! let layout = tcp_layout(&packet).expect("a whole TCP header");
//! assert_eq!((layout.tcp_offset, layout.tcp_header_len, layout.ip_len), (20, 24, 44));
//! let segment = layout.segment_mut(&mut packet);
//! let found = segment.mss_options().expect("a well-formed option list");
//! let values: Vec<u16> = found.iter().map(|field| segment.mss_value(field)).collect();
//! assert_eq!(values, [1460]);
//! assert_eq!(tcp_layout(&packet[..43]), Err(Refusal::Truncated));
//! ```

use crate::ipv6::{ChainEnd, walk_extensions};
use crate::packet::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD, ETHERTYPE_VLAN, Link,
    PROTO_TCP, declares_fcs, decode,
};
use crate::{IpVersion, array, checksum, ipv4, ipv6, slice, slice_mut, tail, tail_mut, tcp};

/// Why a packet cannot be edited in place.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Not an IPv4 or IPv6 packet (or a frame that carries none).
    NotIp,
    /// Not TCP (or encrypted by ESP, or no next header).
    NotTcp,
    /// An IP fragment whose TCP header is elsewhere or incomplete.
    Fragment,
    /// Fewer bytes than the headers need (a short capture).
    Truncated,
    /// A length or offset field that cannot be: an IPv4 header length below 20 or
    /// a total length below it, a TCP data offset below 5 words or past the packet,
    /// an IPv6 jumbogram (payload length 0) or a broken extension header.
    Malformed,
    /// Inside a tunnel: an edit of the inner packet would leave the outer
    /// checksums or lengths wrong.
    Tunneled,
    /// The frame ends in a frame check sequence its headers declare (radiotap's or
    /// PPI's FCS flag, FabricPath): an edit would leave it wrong.
    FrameCheck,
}

/// Where the IP packet starts in a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkLayout {
    /// The link-layer header's length: the IP header's offset in the frame.
    pub ip_offset: usize,
    /// Whether the headers before IP carry no length of their own (Ethernet II
    /// with only VLAN tags, raw IP, Linux cooked), so the packet may grow without
    /// one going stale (as 802.3's or PPPoE's would).
    pub may_grow: bool,
}

/// Finds the IP packet in a captured frame of link type `link`, for an edit in
/// place. Ethernet (VLAN tags skipped), raw IP and Linux cooked frames carrying
/// TCP are answered from the link header; anything else (PPPoE, MPLS, tunnels, ...)
/// goes through the lax decoder, which also recognises tunnels: a packet inside one
/// is refused. The IP packet itself is not checked here: [`tcp_layout`] does that.
pub fn link_layout(link: Link, frame: &[u8]) -> Result<LinkLayout, Refusal> {
    let plain = plain_ip_offset(link, frame);
    let ip_offset = match plain.filter(|&at| carries_tcp(frame, at)) {
        Some(at) => at,
        None if declares_fcs(link, frame) => return Err(Refusal::FrameCheck),
        None => match decode(link, frame) {
            Ok(Some(packet)) if packet.tunnel.is_some() => return Err(Refusal::Tunneled),
            Ok(Some(packet)) => packet.offset as usize,
            Ok(None) => return Err(Refusal::NotIp),
            // The IP or TCP layer is cut short or broken: where the plain link
            // header puts IP, tcp_layout says which; without one, nothing is known.
            Err(_) => plain.ok_or(Refusal::Truncated)?,
        },
    };
    if ip_offset >= frame.len() {
        return Err(Refusal::Truncated);
    }
    Ok(LinkLayout {
        ip_offset,
        may_grow: plain == Some(ip_offset),
    })
}

/// The IP header's offset for link layers that put it at a fixed place after plain
/// headers: Ethernet (any number of VLAN tags), raw IP, Linux cooked.
fn plain_ip_offset(link: Link, frame: &[u8]) -> Option<usize> {
    match link {
        Link::Ethernet => {
            // Every tag advances 4 bytes; the frame's end ends the walk.
            let mut at = 12;
            loop {
                match u16::from_be_bytes(*array(frame, at)?) {
                    ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => at += 4,
                    ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Some(at + 2),
                    _ => return None,
                }
            }
        }
        Link::Raw | Link::Ipv4 | Link::Ipv6 => Some(0),
        Link::LinuxSll => Some(16),
        Link::LinuxSll2 => Some(20),
        Link::Null
        | Link::Loop
        | Link::Ppp
        | Link::CiscoHdlc
        | Link::Nflog
        | Link::Fddi
        | Link::Ieee80211
        | Link::Ieee80211Radiotap
        | Link::Ppi
        | Link::ArcnetLinux
        | Link::JuniperEthernet
        | Link::Ipoib => None,
    }
}

/// Whether the IP header at `at` says TCP comes next, with no extension header or
/// tunnel between (anything else is the decoder's to judge).
fn carries_tcp(frame: &[u8], at: usize) -> bool {
    let ip = tail(frame, at);
    match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4::Packet::new_unchecked(ip).protocol() == PROTO_TCP,
        Some(6) => ipv6::Packet::new_unchecked(ip).next_header() == PROTO_TCP,
        _ => false,
    }
}

/// The TCP flags of a plain packet, from two bytes and no decode: an IPv4 packet
/// with a 20-byte header that is not a fragment, or an IPv6 packet whose first next
/// header is TCP, with its fixed TCP header captured; `None` for anything else.
/// Lengths are not checked, so this only serves to pass over packets that are left
/// alone whatever their lengths say (for the clamp, a segment without SYN).
#[inline]
pub fn plain_tcp_flags(packet: &[u8]) -> Option<tcp::Flags> {
    const V4: usize = ipv4::HEADER_LEN + tcp::HEADER_LEN;
    const V6: usize = ipv6::HEADER_LEN + tcp::HEADER_LEN;
    if let Some(head) = packet.first_chunk::<V4>() {
        let ip = ipv4::Packet::new_unchecked(head);
        if ip.version() == 4
            && ip.header_len() == ipv4::HEADER_LEN
            && ip.protocol() == PROTO_TCP
            && !ip.more_frags()
            && ip.frag_offset() == 0
        {
            let (_, segment) = head.split_at(ipv4::HEADER_LEN);
            return Some(tcp::Packet::new_unchecked(segment).flags());
        }
    }
    let head = packet.first_chunk::<V6>()?;
    let ip = ipv6::Packet::new_unchecked(head);
    if head.first().is_some_and(|b| b >> 4 == 6) && ip.next_header() == PROTO_TCP {
        let (_, segment) = head.split_at(ipv6::HEADER_LEN);
        return Some(tcp::Packet::new_unchecked(segment).flags());
    }
    None
}

/// Where a TCP segment's parts are in an IP packet, every one checked against the
/// bytes: the whole TCP header, options included, lies inside the IP packet, and
/// the IP packet inside the bytes given.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpLayout {
    /// IP version.
    pub version: IpVersion,
    /// Offset of the TCP header from the start of the IP header (IPv4 options and
    /// IPv6 extension headers included).
    pub tcp_offset: usize,
    /// TCP header length, options included: 20 to 60.
    pub tcp_header_len: usize,
    /// The IP packet's length by its own length field (IPv4 total length, IPv6 40 +
    /// payload length). Bytes after it (Ethernet padding) are not part of it.
    pub ip_len: usize,
    /// The first fragment of a fragmented datagram: the TCP header is all here and
    /// may be edited in place, but nothing may change length.
    pub first_fragment: bool,
}

/// Checks an IP packet (`packet` is all of it that is there) down to its TCP
/// header, for an edit in place.
pub fn tcp_layout(packet: &[u8]) -> Result<TcpLayout, Refusal> {
    let first = *packet.first().ok_or(Refusal::Truncated)?;
    let (version, tcp_offset, ip_len, first_fragment) = match first >> 4 {
        4 => {
            if packet.len() < ipv4::HEADER_LEN {
                return Err(Refusal::Truncated);
            }
            let ip = ipv4::Packet::new_unchecked(packet);
            let header_len = ip.header_len();
            let total = usize::from(ip.total_len());
            if header_len < ipv4::HEADER_LEN || total < header_len {
                return Err(Refusal::Malformed);
            }
            if packet.len() < total {
                return Err(Refusal::Truncated);
            }
            if ip.frag_offset() != 0 {
                return Err(Refusal::Fragment);
            }
            if ip.protocol() != PROTO_TCP {
                return Err(Refusal::NotTcp);
            }
            (IpVersion::V4, header_len, total, ip.more_frags())
        }
        6 => {
            if packet.len() < ipv6::HEADER_LEN {
                return Err(Refusal::Truncated);
            }
            let ip = ipv6::Packet::new_unchecked(packet);
            let payload_len = usize::from(ip.payload_len());
            if payload_len == 0 {
                // A jumbogram (RFC 2675) or nothing at all.
                return Err(Refusal::Malformed);
            }
            let end = ipv6::HEADER_LEN + payload_len;
            let Some(payload) = packet.get(ipv6::HEADER_LEN..end) else {
                return Err(Refusal::Truncated);
            };
            let chain = walk_extensions(ip.next_header(), payload, payload_len);
            match chain.end {
                ChainEnd::Upper => {}
                ChainEnd::LaterFragment => return Err(Refusal::Fragment),
                ChainEnd::Encrypted | ChainEnd::NoNext => return Err(Refusal::NotTcp),
                ChainEnd::Truncated | ChainEnd::Malformed => return Err(Refusal::Malformed),
            }
            if chain.protocol != PROTO_TCP {
                return Err(Refusal::NotTcp);
            }
            // A Fragment header with offset 0 (later ones ended the walk): without
            // more fragments an atomic fragment, with more the first one.
            let first_fragment = chain.fragment.is_some_and(|f| f.more);
            (
                IpVersion::V6,
                ipv6::HEADER_LEN + chain.offset,
                end,
                first_fragment,
            )
        }
        _ => return Err(Refusal::NotIp),
    };
    if ip_len < tcp_offset + tcp::HEADER_LEN {
        return Err(if first_fragment {
            Refusal::Fragment
        } else if packet.len() < tcp_offset + tcp::HEADER_LEN {
            Refusal::Truncated
        } else {
            Refusal::Malformed
        });
    }
    let segment = tail(packet, tcp_offset);
    let tcp_header_len = tcp::Packet::new_unchecked(segment).header_len();
    if tcp_header_len < tcp::HEADER_LEN {
        return Err(Refusal::Malformed);
    }
    if tcp_offset + tcp_header_len > ip_len {
        // A first fragment that ends inside the options cannot be edited whole.
        return Err(if first_fragment {
            Refusal::Fragment
        } else {
            Refusal::Malformed
        });
    }
    Ok(TcpLayout {
        version,
        tcp_offset,
        tcp_header_len,
        ip_len,
        first_fragment,
    })
}

/// Why an MSS option was not inserted.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum InsertRefusal {
    /// A first fragment: growing it would move every later fragment's data.
    Fragment,
    /// The segment carries data (`xt_TCPMSS` inserts only into a SYN without).
    HasPayload,
    /// The TCP header is at its 60-byte maximum, or the buffer has fewer than
    /// [`INSERT_ROOM`] spare bytes after the packet.
    NoRoom,
}

/// Bytes an inserted MSS option takes.
pub const INSERT_ROOM: usize = 4;

impl TcpLayout {
    /// The TCP segment (header, options and payload up to the IP packet's end) in
    /// `packet`, the packet this layout describes. Given other bytes, the view is
    /// as short as they are (and reads zeros past them).
    pub fn segment<'a>(&self, packet: &'a [u8]) -> tcp::Packet<&'a [u8]> {
        tcp::Packet::new_unchecked(slice(packet, self.tcp_offset..self.ip_len))
    }

    /// [`TcpLayout::segment`], writable: MSS options found with
    /// [`TcpLayout::mss_options`] are set with [`tcp::Packet::set_mss`].
    pub fn segment_mut<'a>(&self, packet: &'a mut [u8]) -> tcp::Packet<&'a mut [u8]> {
        tcp::Packet::new_unchecked(slice_mut(packet, self.tcp_offset..self.ip_len))
    }

    /// The MSS options of the segment in `packet`, the packet this layout
    /// describes, by the strict walk of [`tcp::Packet::mss_options`] over the option
    /// area the layout has found. Other bytes read as an empty or broken list.
    pub fn mss_options(&self, packet: &[u8]) -> Result<tcp::MssOptions, crate::Error> {
        let options_at = self.tcp_offset + tcp::HEADER_LEN;
        tcp::MssOptions::find(slice(
            packet,
            options_at..self.tcp_offset + self.tcp_header_len,
        ))
    }

    /// Inserts an MSS option of `value` at the start of the TCP option list, as
    /// Linux's `xt_TCPMSS` does (`tcpmss_mangle_packet()`): only into a segment
    /// without payload whose header has room, and never into a fragment.
    ///
    /// `buf[..len]` is the packet this layout describes; the bytes after `len` are
    /// room, of which [`INSERT_ROOM`] are taken: the options and everything after
    /// them (Ethernet padding too) move 4 bytes on. The data offset, the IPv4 total
    /// length and header checksum or the IPv6 payload length, and the TCP checksum
    /// (the new words, the data offset and the pseudo-header's length, updated
    /// incrementally per RFC 1624) follow. Returns the packet's new length.
    pub fn insert_mss_option(
        &self,
        buf: &mut [u8],
        len: usize,
        value: u16,
    ) -> Result<usize, InsertRefusal> {
        if self.first_fragment {
            return Err(InsertRefusal::Fragment);
        }
        let options_at = self.tcp_offset + tcp::HEADER_LEN;
        let options_end = self.tcp_offset + self.tcp_header_len;
        if self.ip_len > options_end {
            return Err(InsertRefusal::HasPayload);
        }
        if self.tcp_header_len + INSERT_ROOM > tcp::MAX_HEADER_LEN
            || buf.len() < len + INSERT_ROOM
            || len < options_at
        {
            return Err(InsertRefusal::NoRoom);
        }
        let [high, low] = value.to_be_bytes();
        let segment = tail_mut(buf, self.tcp_offset);
        tcp::Packet::new_unchecked(segment).insert_option(
            [tcp::kind::MSS, 4, high, low],
            len - self.tcp_offset,
            self.ip_len - self.tcp_offset,
        );
        match self.version {
            IpVersion::V4 => {
                let mut ip = ipv4::Packet::new_unchecked(&mut *buf);
                let old_total = ip.total_len();
                let new_total = old_total.saturating_add(4);
                ip.set_total_len(new_total);
                let sum = checksum::update(ip.header_checksum(), old_total, new_total);
                ip.set_header_checksum(sum);
            }
            IpVersion::V6 => {
                let mut ip = ipv6::Packet::new_unchecked(&mut *buf);
                let payload_len = ip.payload_len().saturating_add(4);
                ip.set_payload_len(payload_len);
            }
        }
        Ok(len + INSERT_ROOM)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
