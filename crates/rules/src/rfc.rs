//! The standards' rules: what a host advertises, what a sender may put in a segment.

use crate::TCP_HEADER_LEN;
use crate::units::{IpVersion, Mss, Mtu};

/// The MSS option value that means "infinity, rely on path MTU discovery" for IPv6
/// jumbograms (RFC 2675 section 5).
pub const IPV6_JUMBO_MSS: Mss = Mss(65_535);

/// An MTU below what the IP version requires.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MtuTooSmall {
    /// The IP version.
    pub version: IpVersion,
    /// The MTU that was given.
    pub mtu: Mtu,
}

impl core::fmt::Display for MtuTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "an MTU of {} is below the {} minimum of {}",
            self.mtu,
            self.version,
            self.version.min_mtu()
        )
    }
}

impl std::error::Error for MtuTooSmall {}

/// The MSS a host announces for an interface MTU, per the standards.
///
/// RFC 6691 section 2 (and RFC 9293 section 3.7.1, RFC 1122 section 4.2.2.6): the
/// value is the MTU minus the *fixed* IP and TCP headers, IPv4 `MTU - 40` and IPv6
/// `MTU - 60`; options are never subtracted here, the sender subtracts the ones it
/// actually carries. IPv4 packets cannot exceed 65535 bytes (16-bit total length).
/// IPv6: when `MTU - 60 >= 65535` the option is 65535, meaning "infinity" (RFC 2675
/// section 5).
pub fn advertised_mss(version: IpVersion, mtu: Mtu) -> Result<Mss, MtuTooSmall> {
    if mtu.get() < version.min_mtu() {
        return Err(MtuTooSmall { version, mtu });
    }
    let value = match version {
        IpVersion::V4 => mtu.get().min(IpVersion::V4.max_packet()) - version.fixed_overhead(),
        IpVersion::V6 => mtu.get() - version.fixed_overhead(),
    };
    Ok(Mss::saturating_from(value))
}

/// The inputs of RFC 9293's effective send MSS.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SendMssInputs {
    /// IP version of the connection.
    pub version: IpVersion,
    /// The MSS option the peer sent, or `None` when its SYN carried none (then the
    /// default of [`IpVersion::default_mss`] applies).
    pub peer_mss: Option<Mss>,
    /// The MTU this sender's IP layer may use towards the peer (link or path MTU).
    pub path_mtu: Mtu,
    /// TCP option bytes carried on the data segment (beyond the fixed 20).
    pub tcp_option_bytes: u32,
    /// IPv4 option bytes or IPv6 extension-header bytes on the data segment.
    pub ip_option_bytes: u32,
}

/// The largest payload a sender may put in one segment, RFC 9293 section 3.7.1
/// (MUST-16):
///
/// `Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize - IPoptionsize`
///
/// where `MMS_S` is the largest transport message the IP layer can send (path MTU
/// minus the fixed IP header), `TCPhdrsize` is 20 plus the options in the segment.
/// An IPv6 peer MSS of 65535 means "infinity" (RFC 2675 section 5), so only `MMS_S`
/// limits. Returns 0 where the headers alone exceed the limit.
pub fn effective_send_mss(inputs: SendMssInputs) -> u32 {
    let send_mss = inputs.peer_mss.unwrap_or(inputs.version.default_mss());
    let peer_limit = if inputs.version == IpVersion::V6 && send_mss == IPV6_JUMBO_MSS {
        u32::MAX
    } else {
        u32::from(send_mss.get()) + TCP_HEADER_LEN
    };
    let mms_s = inputs
        .path_mtu
        .get()
        .saturating_sub(inputs.version.header_len());
    peer_limit
        .min(mms_s)
        .saturating_sub(TCP_HEADER_LEN + inputs.tcp_option_bytes)
        .saturating_sub(inputs.ip_option_bytes)
}

/// The smallest link MTU on which a host advertises `mss` (the reverse of
/// [`advertised_mss`]): `mss + 40` for IPv4, `mss + 60` for IPv6, never below the
/// version's minimum MTU.
pub fn mtu_for_mss(version: IpVersion, mss: Mss) -> Mtu {
    Mtu((u32::from(mss.get()) + version.fixed_overhead()).max(version.min_mtu()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(version: IpVersion, mtu: u32) -> u16 {
        advertised_mss(version, Mtu(mtu)).map(Mss::get).unwrap_or(0)
    }

    #[test]
    fn rfc6691_examples() {
        // RFC 6691 section 2 and the Ethernet arithmetic of seed 003.
        assert_eq!(adv(IpVersion::V4, 1500), 1460);
        assert_eq!(adv(IpVersion::V6, 1500), 1440);
        // RFC 879: the 576-byte default datagram gives 536.
        assert_eq!(adv(IpVersion::V4, 576), 536);
        // RFC 8200 minimum link MTU gives IPv6's 1220.
        assert_eq!(adv(IpVersion::V6, 1280), 1220);
        // Jumbo frames.
        assert_eq!(adv(IpVersion::V4, 9000), 8960);
    }

    #[test]
    fn below_minimum_mtu_is_an_error() {
        assert!(advertised_mss(IpVersion::V4, Mtu(67)).is_err());
        assert_eq!(adv(IpVersion::V4, 68), 28);
        assert!(advertised_mss(IpVersion::V6, Mtu(1279)).is_err());
    }

    #[test]
    fn ipv6_jumbo_is_infinity() {
        // RFC 2675 section 5: MTU - 60 >= 65535 -> 65535.
        assert_eq!(adv(IpVersion::V6, 65_595), 65_535);
        assert_eq!(adv(IpVersion::V6, 1_000_000), 65_535);
        assert_eq!(adv(IpVersion::V6, 65_594), 65_534);
        // IPv4 cannot exceed a 65535-byte datagram.
        assert_eq!(adv(IpVersion::V4, 65_536), 65_495);
    }

    #[test]
    fn effective_with_timestamps_is_1448() {
        // RFC 9293 3.7.1 with the 12 bytes of aligned timestamps (seed 003).
        let e = effective_send_mss(SendMssInputs {
            version: IpVersion::V4,
            peer_mss: Some(Mss(1460)),
            path_mtu: Mtu(1500),
            tcp_option_bytes: 12,
            ip_option_bytes: 0,
        });
        assert_eq!(e, 1448);
    }

    #[test]
    fn smaller_mtu_wins_on_both_sides() {
        // Seed 003: host A at MTU 1400 advertises 1360, host B at 1500 advertises 1460;
        // both send 1348 with timestamps.
        let a_sends = effective_send_mss(SendMssInputs {
            version: IpVersion::V4,
            peer_mss: Some(Mss(1460)),
            path_mtu: Mtu(1400),
            tcp_option_bytes: 12,
            ip_option_bytes: 0,
        });
        let b_sends = effective_send_mss(SendMssInputs {
            version: IpVersion::V4,
            peer_mss: Some(Mss(1360)),
            path_mtu: Mtu(1500),
            tcp_option_bytes: 12,
            ip_option_bytes: 0,
        });
        assert_eq!((a_sends, b_sends), (1348, 1348));
    }

    #[test]
    fn no_option_means_default() {
        let e = |version| {
            effective_send_mss(SendMssInputs {
                version,
                peer_mss: None,
                path_mtu: Mtu(1500),
                tcp_option_bytes: 0,
                ip_option_bytes: 0,
            })
        };
        assert_eq!(e(IpVersion::V4), 536);
        assert_eq!(e(IpVersion::V6), 1220);
    }

    #[test]
    fn ipv6_infinite_mss_leaves_the_path() {
        let e = effective_send_mss(SendMssInputs {
            version: IpVersion::V6,
            peer_mss: Some(IPV6_JUMBO_MSS),
            path_mtu: Mtu(9000),
            tcp_option_bytes: 0,
            ip_option_bytes: 8,
        });
        assert_eq!(e, 9000 - 60 - 8);
    }

    #[test]
    fn reverse() {
        assert_eq!(mtu_for_mss(IpVersion::V4, Mss(1360)), Mtu(1400));
        assert_eq!(mtu_for_mss(IpVersion::V6, Mss(1360)), Mtu(1420));
        assert_eq!(mtu_for_mss(IpVersion::V6, Mss(536)), Mtu(1280));
    }
}
