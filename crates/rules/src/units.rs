//! Units as types: an MTU, an MSS and an IP version are not interchangeable integers.

use core::fmt;

/// The IP version a TCP segment travels in.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpVersion {
    /// IPv4 (RFC 791).
    V4,
    /// IPv6 (RFC 8200).
    V6,
}

impl IpVersion {
    /// Both versions, IPv4 first.
    pub const ALL: [IpVersion; 2] = [IpVersion::V4, IpVersion::V6];

    /// Size of the fixed IP header: 20 for IPv4 (RFC 791 section 3.1), 40 for IPv6
    /// (RFC 8200 section 3).
    pub const fn header_len(self) -> u32 {
        match self {
            IpVersion::V4 => 20,
            IpVersion::V6 => 40,
        }
    }

    /// The smallest MTU a link may have for this version: 68 for IPv4 (RFC 791 section
    /// 3.2, "every internet module must be able to forward a datagram of 68 octets"),
    /// 1280 for IPv6 (RFC 8200 section 5).
    pub const fn min_mtu(self) -> u32 {
        match self {
            IpVersion::V4 => 68,
            IpVersion::V6 => 1280,
        }
    }

    /// The largest IP packet without jumbograms: the 16-bit IPv4 total length covers
    /// the header (65535), the 16-bit IPv6 payload length does not (40 + 65535).
    pub const fn max_packet(self) -> u32 {
        match self {
            IpVersion::V4 => 65_535,
            IpVersion::V6 => 65_575,
        }
    }

    /// The send MSS to assume when the peer's SYN carries no MSS option: 536 for IPv4,
    /// 1220 for IPv6 (RFC 9293 section 3.7.1, MUST-15; Linux `TCP_MSS_DEFAULT` in
    /// `tcp_v4_connect()` and `IPV6_MIN_MTU - 60` in `tcp_v6_connect()`).
    pub const fn default_mss(self) -> Mss {
        match self {
            IpVersion::V4 => Mss(536),
            IpVersion::V6 => Mss(1220),
        }
    }

    /// Bytes of fixed IP and TCP header: what separates an MTU from an MSS.
    pub const fn fixed_overhead(self) -> u32 {
        self.header_len() + crate::TCP_HEADER_LEN
    }

    /// 4 or 6.
    pub const fn number(self) -> u8 {
        match self {
            IpVersion::V4 => 4,
            IpVersion::V6 => 6,
        }
    }
}

impl fmt::Display for IpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpVersion::V4 => f.write_str("IPv4"),
            IpVersion::V6 => f.write_str("IPv6"),
        }
    }
}

/// A maximum transmission unit in bytes: the largest IP packet a link (or a tunnel)
/// carries, IP header included, link-layer framing excluded.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mtu(pub u32);

impl Mtu {
    /// The value in bytes.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Mtu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A TCP maximum segment size in bytes: payload only, no headers. The MSS option is a
/// 16-bit field (RFC 9293 section 3.2), so an `Mss` always fits in `u16`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mss(pub u16);

impl Mss {
    /// The value in bytes.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Converts a computed size, saturating at the 16-bit field's maximum.
    pub fn saturating_from(value: u32) -> Mss {
        Mss(u16::try_from(value).unwrap_or(u16::MAX))
    }
}

impl fmt::Display for Mss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
