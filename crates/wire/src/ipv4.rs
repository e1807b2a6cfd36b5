//! IPv4 header view (RFC 791 section 3.1).

use core::net::Ipv4Addr;

use crate::checksum;
use crate::error::{Error, Layer};
use crate::{be16, byte, set_be16, set_byte, slice, slice_mut};

mod field {
    use core::ops::Range;
    pub(crate) const VER_IHL: usize = 0;
    pub(crate) const DSCP_ECN: usize = 1;
    pub(crate) const TOTAL_LEN: Range<usize> = 2..4;
    pub(crate) const IDENT: Range<usize> = 4..6;
    pub(crate) const FLAGS_FRAG: Range<usize> = 6..8;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: Range<usize> = 10..12;
    pub(crate) const SRC: Range<usize> = 12..16;
    pub(crate) const DST: Range<usize> = 16..20;
}

/// The fixed IPv4 header length.
pub const HEADER_LEN: usize = 20;

/// A read (and, with mutable bytes, write) view of an IPv4 packet.
///
/// After [`Packet::new_checked`] succeeds every field reads what the bytes hold: the
/// whole header, options included, is present. The payload may be shorter than the total length
/// says (a capture cut by its snaplen): [`Packet::payload`] returns what is there and
/// [`Packet::is_truncated`] tells.
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

    /// Checks that the header (with options) is present and its lengths consistent:
    /// version 4, IHL of at least 5 words, total length not below the header.
    pub fn check_len(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated {
                layer: Layer::Ipv4,
                needed: HEADER_LEN,
                available: data.len(),
            });
        }
        if byte(data, field::VER_IHL) >> 4 != 4 {
            return Err(Error::Malformed {
                layer: Layer::Ipv4,
                offset: field::VER_IHL,
                what: "version is not 4",
            });
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::Malformed {
                layer: Layer::Ipv4,
                offset: field::VER_IHL,
                what: "header length below 20 bytes",
            });
        }
        if data.len() < header_len {
            return Err(Error::Truncated {
                layer: Layer::Ipv4,
                needed: header_len,
                available: data.len(),
            });
        }
        // A total length of 0 is allowed: Linux writes 0 in TSO/GSO super-segments
        // above 64 KiB (BIG TCP), which a capture at the sender shows; the captured
        // bytes are then the packet.
        if self.total_len() != 0 && usize::from(self.total_len()) < header_len {
            return Err(Error::Malformed {
                layer: Layer::Ipv4,
                offset: field::TOTAL_LEN.start,
                what: "total length below the header length",
            });
        }
        Ok(())
    }

    /// The underlying bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IP version field (4 for a checked packet).
    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// Header length in bytes, options included (IHL x 4).
    pub fn header_len(&self) -> usize {
        usize::from(byte(self.buffer.as_ref(), field::VER_IHL) & 0x0f) * 4
    }

    /// DSCP and ECN byte.
    pub fn dscp_ecn(&self) -> u8 {
        byte(self.buffer.as_ref(), field::DSCP_ECN)
    }

    /// Total length: header and payload as sent.
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TOTAL_LEN.start)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        byte(self.buffer.as_ref(), field::FLAGS_FRAG.start) & 0x40 != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        byte(self.buffer.as_ref(), field::FLAGS_FRAG.start) & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLAGS_FRAG.start) & 0x1fff) << 3
    }

    /// Whether this is a fragment (first or later) of a larger datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        byte(self.buffer.as_ref(), field::TTL)
    }

    /// Protocol of the payload (6 for TCP).
    pub fn protocol(&self) -> u8 {
        byte(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// Header checksum as stored.
    pub fn header_checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr_bytes(field::SRC.start))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr_bytes(field::DST.start))
    }

    fn addr_bytes(&self, at: usize) -> [u8; 4] {
        crate::array(self.buffer.as_ref(), at)
            .copied()
            .unwrap_or_default()
    }

    /// The option bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        slice(self.buffer.as_ref(), HEADER_LEN..self.header_len())
    }

    /// The header bytes, options included.
    fn header(&self) -> &[u8] {
        slice(self.buffer.as_ref(), 0..self.header_len())
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(0, self.header())
    }

    /// The packet's length: the total length, or the captured bytes when it is 0
    /// (a TSO/GSO or BIG TCP super-segment).
    fn packet_len(&self) -> usize {
        match self.total_len() {
            0 => self.buffer.as_ref().len(),
            len => usize::from(len),
        }
    }

    /// The payload bytes present: up to the total length, or fewer when the capture
    /// is cut short.
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let end = self.packet_len().min(data.len());
        slice(data, self.header_len()..end)
    }

    /// Payload length according to the header (the captured payload when the total
    /// length is 0).
    pub fn payload_len(&self) -> usize {
        self.packet_len().saturating_sub(self.header_len())
    }

    /// Whether fewer bytes are present than the total length says.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < self.packet_len()
    }

    /// The pseudo-header sum for an upper-layer checksum of `length` bytes.
    pub fn pseudo_header(&self, length: u16) -> u64 {
        checksum::pseudo_header_v4(
            self.addr_bytes(field::SRC.start),
            self.addr_bytes(field::DST.start),
            self.protocol(),
            length,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        set_byte(self.buffer.as_mut(), field::TTL, ttl);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        set_be16(self.buffer.as_mut(), field::TOTAL_LEN.start, len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        set_be16(self.buffer.as_mut(), field::IDENT.start, ident);
    }

    /// Marks the packet whole: More Fragments and the fragment offset cleared, Don't
    /// Fragment kept (a reassembled datagram).
    pub fn set_whole(&mut self) {
        let flags = be16(self.buffer.as_ref(), field::FLAGS_FRAG.start) & 0x4000;
        set_be16(self.buffer.as_mut(), field::FLAGS_FRAG.start, flags);
    }

    /// Sets the stored header checksum.
    pub fn set_header_checksum(&mut self, value: u16) {
        set_be16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Recomputes the header checksum over the header.
    pub fn fill_checksum(&mut self) {
        self.set_header_checksum(0);
        let value = checksum::checksum(self.header());
        self.set_header_checksum(value);
    }

    /// The payload bytes present, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = self.packet_len().min(self.buffer.as_ref().len());
        slice_mut(self.buffer.as_mut(), start..end)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Seed 003 frame 16's IPv4 header: ICMP from 10.0.0.1 to 10.0.0.10.
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0xa7, 0xba, 10, 0, 0, 1, 10, 0,
        0, 10,
    ];

    #[test]
    fn reads_fields() {
        let p = Packet::new_checked(&HEADER[..]);
        let p = p.as_ref().ok();
        assert_eq!(p.map(Packet::total_len), Some(56));
        assert_eq!(p.map(Packet::ttl), Some(255));
        assert_eq!(p.map(Packet::protocol), Some(1));
        assert_eq!(p.map(Packet::src_addr), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(p.map(Packet::dst_addr), Some(Ipv4Addr::new(10, 0, 0, 10)));
        assert_eq!(p.map(Packet::verify_checksum), Some(true));
        assert_eq!(p.map(Packet::is_truncated), Some(true));
        assert_eq!(p.map(|p| p.payload().len()), Some(0));
    }

    #[test]
    fn every_prefix_has_the_exact_error() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&HEADER[..len]).err(),
                Some(Error::Truncated {
                    layer: Layer::Ipv4,
                    needed: HEADER_LEN,
                    available: len
                })
            );
        }
        let mut with_options = HEADER.to_vec();
        with_options[0] = 0x46;
        with_options.extend_from_slice(&[1, 1, 1, 0]);
        assert_eq!(
            Packet::new_checked(&with_options[..22]).err(),
            Some(Error::Truncated {
                layer: Layer::Ipv4,
                needed: 24,
                available: 22
            })
        );
        assert_eq!(
            Packet::new_checked(&with_options[..]).map(|p| p.options().len()),
            Ok(4)
        );
    }

    #[test]
    fn bad_values() {
        let mut bad = HEADER;
        bad[0] = 0x65;
        assert!(matches!(
            Packet::new_checked(&bad[..]),
            Err(Error::Malformed { offset: 0, .. })
        ));
        bad[0] = 0x44;
        assert!(matches!(
            Packet::new_checked(&bad[..]),
            Err(Error::Malformed { .. })
        ));
        let mut short_total = HEADER;
        short_total[3] = 19;
        assert!(matches!(
            Packet::new_checked(&short_total[..]),
            Err(Error::Malformed { offset: 2, .. })
        ));
    }

    #[test]
    fn writes_in_place() {
        let mut bytes = HEADER;
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_ttl(64);
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.ttl(), 64);
    }
}
