//! IPv6 header view (RFC 8200 section 3) and the extension-header walk
//! (RFC 8200 section 4).

use core::net::Ipv6Addr;

use crate::checksum;
use crate::error::{Error, Layer};
use crate::{be16, be32, byte, set_be16, set_byte, slice, slice_mut};

mod field {
    use core::ops::Range;
    pub(crate) const VER_TC_FLOW: Range<usize> = 0..4;
    pub(crate) const PAYLOAD_LEN: Range<usize> = 4..6;
    pub(crate) const NEXT_HEADER: usize = 6;
    pub(crate) const HOP_LIMIT: usize = 7;
    pub(crate) const SRC: Range<usize> = 8..24;
    pub(crate) const DST: Range<usize> = 24..40;
}

/// The fixed IPv6 header length.
pub const HEADER_LEN: usize = 40;

/// Protocol numbers of the headers the walk understands.
pub mod protocol {
    /// Hop-by-Hop Options (RFC 8200 section 4.3).
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing (RFC 8200 section 4.4).
    pub const ROUTING: u8 = 43;
    /// Fragment (RFC 8200 section 4.5).
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// Encapsulating Security Payload (RFC 4303): opaque, the walk stops.
    pub const ESP: u8 = 50;
    /// Authentication Header (RFC 4302).
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// No Next Header.
    pub const NO_NEXT: u8 = 59;
    /// Destination Options (RFC 8200 section 4.6).
    pub const DESTINATION: u8 = 60;
    /// Mobility (RFC 6275).
    pub const MOBILITY: u8 = 135;
    /// Host Identity Protocol (RFC 7401).
    pub const HIP: u8 = 139;
    /// Shim6 (RFC 5533).
    pub const SHIM6: u8 = 140;
    /// Experimentation and testing (RFC 3692).
    pub const EXPERIMENT_1: u8 = 253;
    /// Experimentation and testing (RFC 3692).
    pub const EXPERIMENT_2: u8 = 254;
}

/// A read (and, with mutable bytes, write) view of an IPv6 packet.
///
/// After [`Packet::new_checked`] succeeds every field reads what the bytes hold: the
/// 40-byte header is present; the payload may be shorter than the payload length says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps bytes without checking them; accessors read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps bytes after [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the fixed header is present and the version is 6.
    pub fn check_len(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated {
                layer: Layer::Ipv6,
                needed: HEADER_LEN,
                available: data.len(),
            });
        }
        if byte(data, field::VER_TC_FLOW.start) >> 4 != 6 {
            return Err(Error::Malformed {
                layer: Layer::Ipv6,
                offset: 0,
                what: "version is not 6",
            });
        }
        Ok(())
    }

    /// The underlying bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        let data = self.buffer.as_ref();
        (byte(data, 0) << 4) | (byte(data, 1) >> 4)
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }

    /// Payload length: everything after the fixed header, extension headers
    /// included. 0 with a Jumbo Payload option (RFC 2675).
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PAYLOAD_LEN.start)
    }

    /// The first next-header value.
    pub fn next_header(&self) -> u8 {
        byte(self.buffer.as_ref(), field::NEXT_HEADER)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        byte(self.buffer.as_ref(), field::HOP_LIMIT)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.addr_bytes(field::SRC.start))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.addr_bytes(field::DST.start))
    }

    fn addr_bytes(&self, at: usize) -> [u8; 16] {
        crate::array(self.buffer.as_ref(), at)
            .copied()
            .unwrap_or_default()
    }

    /// The payload bytes present: up to the payload length, or fewer when cut short.
    /// A payload length of 0 (jumbogram or empty) yields what follows the header.
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let declared = usize::from(self.payload_len());
        let end = if declared == 0 {
            data.len()
        } else {
            (HEADER_LEN + declared).min(data.len())
        };
        slice(data, HEADER_LEN..end)
    }

    /// Whether fewer bytes are present than the payload length says.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < HEADER_LEN + usize::from(self.payload_len())
    }

    /// Walks the extension headers to the upper layer.
    pub fn extensions(&self) -> ExtensionChain {
        walk_extensions(
            self.next_header(),
            self.payload(),
            usize::from(self.payload_len()),
        )
    }

    /// The pseudo-header sum for an upper-layer checksum of `length` bytes.
    pub fn pseudo_header(&self, next_header: u8, length: u32) -> u64 {
        checksum::pseudo_header_v6(
            self.addr_bytes(field::SRC.start),
            self.addr_bytes(field::DST.start),
            next_header,
            length,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        set_byte(self.buffer.as_mut(), field::HOP_LIMIT, value);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        set_be16(self.buffer.as_mut(), field::PAYLOAD_LEN.start, len);
    }

    /// The payload bytes present, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = self.payload().len();
        slice_mut(self.buffer.as_mut(), HEADER_LEN..HEADER_LEN + len)
    }
}

/// What the Fragment header says (RFC 8200 section 4.5).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Offset of this fragment's data in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
    /// Where the Fragment header starts, from the start of the IPv6 payload: the
    /// headers before it are the unfragmentable part (RFC 8200 section 4.5).
    pub header_at: usize,
    /// Where the byte that names the Fragment header is, from the start of the IPv6
    /// packet: the fixed header's Next Header (6) or the previous extension
    /// header's first byte.
    pub named_at: usize,
}

/// How an extension-header walk ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// At an upper-layer header (or an unknown protocol): `protocol` at `offset`.
    Upper,
    /// A non-first fragment: the upper-layer header is in another packet.
    LaterFragment,
    /// ESP: the rest is encrypted.
    Encrypted,
    /// No Next Header (59).
    NoNext,
    /// The captured bytes end inside an extension header.
    Truncated,
    /// An extension header runs past the payload length.
    Malformed,
}

/// The result of walking IPv6 extension headers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ExtensionChain {
    /// The protocol after the last extension header walked.
    pub protocol: u8,
    /// Where that protocol's header starts, from the start of the IPv6 payload; also
    /// the number of extension-header bytes.
    pub offset: usize,
    /// The Fragment header, if one was seen.
    pub fragment: Option<Fragment>,
    /// How the walk ended.
    pub end: ChainEnd,
    /// Number of extension headers walked.
    pub count: usize,
}

/// Walks extension headers starting with `first` over `payload` (the captured part of
/// an IPv6 payload whose declared length is `declared_len`, 0 if unknown). Never
/// loops: each step advances by at least 8 bytes and the walk stops at the end of the
/// captured bytes.
pub fn walk_extensions(first: u8, payload: &[u8], declared_len: usize) -> ExtensionChain {
    let limit = if declared_len == 0 {
        payload.len()
    } else {
        declared_len
    };
    let mut chain = ExtensionChain {
        protocol: first,
        offset: 0,
        fragment: None,
        end: ChainEnd::Upper,
        count: 0,
    };
    // The byte that names the header at `chain.offset`, from the packet's start.
    let mut named_at = 6;
    loop {
        let at = chain.offset;
        let length = match chain.protocol {
            protocol::HOP_BY_HOP
            | protocol::ROUTING
            | protocol::DESTINATION
            | protocol::MOBILITY
            | protocol::HIP
            | protocol::SHIM6
            | protocol::EXPERIMENT_1
            | protocol::EXPERIMENT_2 => payload.get(at + 1).map(|&n| (usize::from(n) + 1) * 8),
            protocol::FRAGMENT => Some(8),
            // RFC 4302 section 2.2: length in 4-byte words, minus 2.
            protocol::AH => payload.get(at + 1).map(|&n| (usize::from(n) + 2) * 4),
            protocol::ESP => {
                chain.end = ChainEnd::Encrypted;
                return chain;
            }
            protocol::NO_NEXT => {
                chain.end = ChainEnd::NoNext;
                return chain;
            }
            _ => return chain,
        };
        let Some(length) = length else {
            chain.end = if at + 2 > limit {
                ChainEnd::Malformed
            } else {
                ChainEnd::Truncated
            };
            return chain;
        };
        if at + length > limit {
            chain.end = ChainEnd::Malformed;
            return chain;
        }
        if at + length > payload.len() {
            chain.end = ChainEnd::Truncated;
            return chain;
        }
        let next = byte(payload, at);
        if chain.protocol == protocol::FRAGMENT {
            let offset_flags = be16(payload, at + 2);
            let fragment = Fragment {
                offset: offset_flags & 0xfff8,
                more: offset_flags & 1 != 0,
                ident: be32(payload, at + 4),
                header_at: at,
                named_at,
            };
            chain.fragment = Some(fragment);
            if fragment.offset != 0 {
                chain.protocol = next;
                chain.offset = at + length;
                chain.count += 1;
                chain.end = ChainEnd::LaterFragment;
                return chain;
            }
        }
        chain.protocol = next;
        chain.offset = at + length;
        chain.count += 1;
        named_at = HEADER_LEN + at;
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&payload_len.to_be_bytes());
        h.push(next);
        h.push(64);
        h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h
    }

    #[test]
    fn walks_hop_by_hop_routing_and_fragment() {
        let mut p = header(protocol::HOP_BY_HOP, 8 + 24 + 8 + 20);
        p.extend_from_slice(&[protocol::ROUTING, 0, 1, 4, 0, 0, 0, 0]);
        let mut routing = vec![protocol::FRAGMENT, 2, 0, 0, 0, 0, 0, 0];
        routing.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&routing);
        p.extend_from_slice(&[protocol::TCP, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(&[0; 20]);
        let packet = Packet::new_checked(&p[..]);
        let chain = packet.map(|p| p.extensions()).ok();
        assert_eq!(
            chain.map(|c| (c.protocol, c.offset, c.count, c.end)),
            Some((protocol::TCP, 40, 3, ChainEnd::Upper))
        );
        assert_eq!(
            chain.and_then(|c| c.fragment),
            Some(Fragment {
                offset: 0,
                more: true,
                ident: 0xdead_beef,
                header_at: 32,
                named_at: 48,
            })
        );
    }

    #[test]
    fn later_fragment_and_truncation() {
        let mut p = header(protocol::FRAGMENT, 8 + 100);
        p.extend_from_slice(&[protocol::TCP, 0, 0x05, 0x00, 0, 0, 0, 1]);
        let chain = Packet::new_checked(&p[..]).map(|p| p.extensions());
        assert_eq!(chain.map(|c| c.end), Ok(ChainEnd::LaterFragment));
        let cut = &p[..44];
        let chain = Packet::new_checked(cut).map(|p| p.extensions());
        assert_eq!(chain.map(|c| c.end), Ok(ChainEnd::Truncated));
    }

    #[test]
    fn extension_past_payload_length_is_malformed() {
        let mut p = header(protocol::DESTINATION, 8);
        p.extend_from_slice(&[protocol::TCP, 1, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[0; 16]);
        let chain = Packet::new_checked(&p[..]).map(|p| p.extensions());
        assert_eq!(chain.map(|c| c.end), Ok(ChainEnd::Malformed));
    }

    #[test]
    fn every_prefix_has_the_exact_error() {
        let p = header(protocol::TCP, 0);
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&p[..len]).err(),
                Some(Error::Truncated {
                    layer: Layer::Ipv6,
                    needed: HEADER_LEN,
                    available: len
                })
            );
        }
    }
}
