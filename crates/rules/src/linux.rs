//! What the Linux kernel does, which is what a capture of a Linux host shows.
//!
//! Read in the kernel source (6.12, 6.1 for comparison) and measured on 6.18 in
//! network namespaces; each item names the kernel function or constant.

use crate::units::{IpVersion, Mss, Mtu};

/// `TCP_MIN_MSS` (include/net/tcp.h): the smallest value `setsockopt(TCP_MAXSEG)`
/// accepts. `(60 + 60 + 8) - (20 + 20)`: a host must handle a maximal IP header and a
/// maximal TCP header plus the 8 bytes every IP fragment carries (RFC 791, RFC 1122
/// section 3.3.2), minus the fixed headers that are not sent.
pub const TCP_MIN_MSS: u16 = 88;

/// `MAX_TCP_WINDOW` (include/net/tcp.h), the largest `TCP_MAXSEG` accepted by
/// `do_tcp_setsockopt()`.
pub const TCP_MAXSEG_MAX: u16 = 32_767;

/// `TCP_MSS_DEFAULT` (include/net/tcp.h): what `getsockopt(TCP_MAXSEG)` returns on a
/// fresh socket, and the IPv4 default peer MSS.
pub const TCP_MSS_DEFAULT: u16 = 536;

/// `net.ipv4.tcp_min_snd_mss` default, `TCP_MIN_SND_MSS` (include/net/tcp.h, added for
/// CVE-2019-11479): the send MSS never goes below this, applied *before* the fixed
/// options are subtracted (`__tcp_mtu_to_mss()`), so with timestamps the smallest
/// payload is 36.
pub const TCP_MIN_SND_MSS: u16 = 48;

/// `net.ipv4.route.min_adv_mss` default (`ip_rt_min_advmss` in net/ipv4/route.c).
pub const IPV4_MIN_ADV_MSS: u16 = 256;

/// `net.ipv6.route.min_adv_mss` default: `IPV6_MIN_MTU - 20 - 40` (net/ipv6/route.c).
pub const IPV6_MIN_ADV_MSS: u16 = 1220;

/// `IPV4_MAX_PMTU - 40` (65535 - 40), the cap in `ipv4_default_advmss()`.
pub const IPV4_MAX_ADV_MSS: u16 = 65_495;

/// Above this `ip6_default_advmss()` returns `IPV6_MAXPLEN` ("any MSS, rely on PMTU
/// discovery"): `IPV6_MAXPLEN - sizeof(struct tcphdr)`.
pub const IPV6_MAX_PLAIN_ADV_MSS: u16 = 65_515;

/// What the SYN of a Linux 6.x host carries when [`IPV6_MAX_PLAIN_ADV_MSS`] is
/// exceeded (MTU above 65575): measured 65534 on 6.18 for every MTU from 65576 to
/// 70000; older kernels sent 65535.
pub const IPV6_JUMBO_ADV_MSS: u16 = 65_534;

/// `net.ipv4.route.min_pmtu` default (net/ipv4/route.c `ip_rt_min_pmtu`): a learned
/// path MTU below this is raised to it and locked.
pub const IPV4_MIN_PMTU: u32 = 552;

/// The path MTU Linux learns from an ICMP "too big" that reports `reported`: an IPv4
/// value below `route.min_pmtu` (552) is raised to it (`__ip_rt_update_pmtu()`); an
/// IPv6 path never goes below the IPv6 minimum MTU, 1280 (RFC 8200 section 5,
/// `__ip6_rt_update_pmtu()`).
pub fn learned_pmtu(version: IpVersion, reported: u32) -> Mtu {
    let floor = match version {
        IpVersion::V4 => IPV4_MIN_PMTU,
        IpVersion::V6 => IpVersion::V6.min_mtu(),
    };
    Mtu(reported.max(floor))
}

/// `net.ipv4.tcp_base_mss` default: where `tcp_mtu_probing` starts its search.
pub const TCP_BASE_MSS: u16 = 1024;

/// The peer MSS values a SYN cookie can encode (`msstab` in net/ipv4/syncookies.c and
/// net/ipv6/syncookies.c): a connection accepted by cookie sends with the largest
/// entry not above the peer's MSS.
pub const fn syncookie_table(version: IpVersion) -> [u16; 4] {
    match version {
        IpVersion::V4 => [536, 1300, 1440, 1460],
        IpVersion::V6 => [1220, 1420, 1440, 8940],
    }
}

/// The MSS a SYN-cookie connection remembers for a peer MSS
/// (`__cookie_v4_init_sequence()`): the largest table entry not above it, or the
/// smallest entry when the peer's value is below all of them.
pub fn syncookie_mss(version: IpVersion, peer_mss: Mss) -> Mss {
    let table = syncookie_table(version);
    let chosen = table
        .iter()
        .rev()
        .find(|&&entry| peer_mss.get() >= entry)
        .unwrap_or(&table[0]);
    Mss(*chosen)
}

/// The per-namespace settings that change the numbers; defaults are the kernel's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LinuxTunables {
    /// `net.ipv4.route.min_adv_mss`.
    pub ipv4_min_adv_mss: u16,
    /// `net.ipv6.route.min_adv_mss`.
    pub ipv6_min_adv_mss: u16,
    /// `net.ipv4.tcp_min_snd_mss`.
    pub tcp_min_snd_mss: u16,
}

impl Default for LinuxTunables {
    fn default() -> Self {
        LinuxTunables {
            ipv4_min_adv_mss: IPV4_MIN_ADV_MSS,
            ipv6_min_adv_mss: IPV6_MIN_ADV_MSS,
            tcp_min_snd_mss: TCP_MIN_SND_MSS,
        }
    }
}

/// The MSS option a Linux host puts in its SYN or SYN-ACK for a route MTU.
///
/// - IPv4, `ipv4_default_advmss()`: `min(max(MTU - 40, route.min_adv_mss),
///   65495)`, the MTU first capped at 65535 (`ipv4_mtu()`). With the default floor of
///   256, an MTU of 280 advertises 256, more than `MTU - 40`. No further floor applies:
///   with `min_adv_mss = 0` an MTU of 68 advertises 28 (measured, 6.18).
/// - IPv6, `ip6_default_advmss()`: `max(MTU - 60, route.min_adv_mss = 1220)`; above
///   65515 the SYN says [`IPV6_JUMBO_ADV_MSS`].
/// - `tcp_mss_clamp()`: a `TCP_MAXSEG` user value below that replaces it.
pub fn advertised_mss(
    version: IpVersion,
    mtu: Mtu,
    user_mss: Option<u16>,
    tunables: &LinuxTunables,
) -> Mss {
    let from_route = match version {
        IpVersion::V4 => {
            let mtu = mtu.get().min(IpVersion::V4.max_packet());
            let mss = mtu
                .saturating_sub(version.fixed_overhead())
                .max(u32::from(tunables.ipv4_min_adv_mss));
            Mss::saturating_from(mss.min(u32::from(IPV4_MAX_ADV_MSS)))
        }
        IpVersion::V6 => {
            let mss = mtu
                .get()
                .saturating_sub(version.fixed_overhead())
                .max(u32::from(tunables.ipv6_min_adv_mss));
            if mss > u32::from(IPV6_MAX_PLAIN_ADV_MSS) {
                Mss(IPV6_JUMBO_ADV_MSS)
            } else {
                Mss::saturating_from(mss)
            }
        }
    };
    match user_mss {
        Some(user) if user != 0 && user < from_route.get() => Mss(user),
        _ => from_route,
    }
}

/// Inputs of the Linux send MSS (`mss_cache`, what `getsockopt(TCP_MAXSEG)` and
/// `ss -ti`'s `mss:` show once connected).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SendInputs {
    /// IP version.
    pub version: IpVersion,
    /// The MSS option in the peer's SYN or SYN-ACK; `None` when absent. Linux ignores
    /// an option of 0 (`tcp_parse_options()`), so `Some(Mss(0))` counts as absent.
    pub peer_mss: Option<Mss>,
    /// The route's path MTU.
    pub path_mtu: Mtu,
    /// `TCP_MAXSEG` set by the application, if any.
    pub user_mss: Option<u16>,
    /// Option bytes on every data segment: 12 with timestamps, 20 with TCP-MD5
    /// (`tp->tcp_header_len - sizeof(struct tcphdr)`).
    pub fixed_option_bytes: u32,
    /// IP options or IPv6 extension headers set on the socket (`icsk_ext_hdr_len`).
    pub ext_header_bytes: u32,
}

/// The peer MSS Linux holds as `rx_opt.mss_clamp`: the peer's nonzero option, lowered
/// to `TCP_MAXSEG` if that is smaller (`tcp_parse_options()`); without an option the
/// user value if set (`tcp_connect_init()`), else 536 / 1220 (`tcp_v4_connect()`,
/// `tcp_v6_connect()`).
pub fn peer_mss_clamp(version: IpVersion, peer_mss: Option<Mss>, user_mss: Option<u16>) -> u32 {
    let user = user_mss.filter(|&u| u != 0).map(u32::from);
    match peer_mss.filter(|m| m.get() != 0) {
        Some(peer) => {
            let peer = u32::from(peer.get());
            user.map_or(peer, |u| u.min(peer))
        }
        None => user.unwrap_or(u32::from(version.default_mss().get())),
    }
}

/// Linux's send MSS from the handshake (`tcp_sync_mss()` -> `tcp_mtu_to_mss()`):
///
/// 1. `path MTU - IP header - 20`, clamped to [`peer_mss_clamp`];
/// 2. minus IP options / extension headers;
/// 3. at least `tcp_min_snd_mss` (48);
/// 4. minus the options every segment carries (timestamps 12, MD5 20).
///
/// SACK blocks are taken off per segment when they are sent (`tcp_current_mss()`);
/// the result is further bounded by half the peer's largest window
/// ([`bound_to_half_window`]).
pub fn send_mss(inputs: SendInputs, tunables: &LinuxTunables) -> u32 {
    let from_mtu = inputs
        .path_mtu
        .get()
        .saturating_sub(inputs.version.fixed_overhead());
    let clamp = peer_mss_clamp(inputs.version, inputs.peer_mss, inputs.user_mss);
    from_mtu
        .min(clamp)
        .saturating_sub(inputs.ext_header_bytes)
        .max(u32::from(tunables.tcp_min_snd_mss))
        .saturating_sub(inputs.fixed_option_bytes)
}

/// What keeps a connected socket's send MSS (`mss_cache`, `tcpi_snd_mss`) where it
/// is. Linux sets it in `tcp_sync_mss()`: the path MTU minus headers and options, at
/// most the peer's MSS (`tcp_mtu_to_mss()`), then at most half the largest window
/// the peer advertised (`tcp_bound_to_half_wnd()`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SendMssBound {
    /// The path MTU (the peer's MSS is no smaller).
    Path,
    /// The peer's MSS (or the socket's own TCP_MAXSEG) is smaller than the path
    /// allows.
    Peer,
    /// Half the peer's window: loopback's 65483-byte window gives 32741.
    HalfWindow,
}

impl SendMssBound {
    /// The name used in JSON: `path_mtu`, `peer_mss`, `half_window`.
    pub fn name(self) -> &'static str {
        match self {
            SendMssBound::Path => "path_mtu",
            SendMssBound::Peer => "peer_mss",
            SendMssBound::HalfWindow => "half_window",
        }
    }
}

/// Which bound holds a socket's send MSS, from its TCP_INFO: `pmtu`, `snd_mss`
/// and `snd_wnd` (the peer's window now, 0 where the kernel does not say),
/// `headers` the IP and TCP headers (40, IPv6 60), `options_bytes` the options on
/// every segment (12 with timestamps), `user_mss` a TCP_MAXSEG the caller set.
pub fn send_mss_bound(
    pmtu: u32,
    snd_mss: u32,
    snd_wnd: u32,
    headers: u32,
    options_bytes: u32,
    user_mss: Option<u32>,
) -> SendMssBound {
    let path_allows = pmtu.saturating_sub(headers + options_bytes);
    if snd_mss >= path_allows {
        SendMssBound::Path
    } else if snd_wnd > 0 && snd_wnd / 2 == snd_mss && user_mss.is_none_or(|m| m > snd_mss) {
        // The window now is at most the largest one; when half of it is exactly
        // the send MSS, the bound is the window's.
        SendMssBound::HalfWindow
    } else {
        SendMssBound::Peer
    }
}

/// `tcp_bound_to_half_wnd()`: a segment never exceeds half the largest window the
/// peer has advertised (the whole window if that is at most 536), but never below
/// `68 - tcp_header_len`. This is why an idle loopback connection (MTU 65536) shows
/// `mss:32741`, not 65483. `max_window` 0 (nothing seen yet) leaves `mss` alone.
pub fn bound_to_half_window(mss: u32, max_window: u32, tcp_header_len: u32) -> u32 {
    let cutoff = if max_window > u32::from(TCP_MSS_DEFAULT) {
        max_window / 2
    } else {
        max_window
    };
    if cutoff != 0 && mss > cutoff {
        cutoff.max(68u32.saturating_sub(tcp_header_len))
    } else {
        mss
    }
}

/// Why `setsockopt(TCP_MAXSEG)` would fail with `EINVAL`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InvalidMaxseg(pub u32);

impl core::fmt::Display for InvalidMaxseg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "TCP_MAXSEG {} is rejected by Linux (EINVAL): it accepts 0 (clear) or \
             {TCP_MIN_MSS}..={TCP_MAXSEG_MAX}",
            self.0
        )
    }
}

impl std::error::Error for InvalidMaxseg {}

/// Checks a `TCP_MAXSEG` value the way `do_tcp_setsockopt()` does: 0 clears it,
/// otherwise it must be within `TCP_MIN_MSS..=MAX_TCP_WINDOW`.
pub fn check_tcp_maxseg(value: u32) -> Result<Option<u16>, InvalidMaxseg> {
    match value {
        0 => Ok(None),
        v if (u32::from(TCP_MIN_MSS)..=u32::from(TCP_MAXSEG_MAX)).contains(&v) => {
            Ok(u16::try_from(v).ok())
        }
        v => Err(InvalidMaxseg(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(version: IpVersion, mtu: u32) -> u16 {
        advertised_mss(version, Mtu(mtu), None, &LinuxTunables::default()).get()
    }

    #[test]
    fn a_learned_pmtu_never_goes_below_the_floor() {
        assert_eq!(learned_pmtu(IpVersion::V4, 1400), Mtu(1400));
        assert_eq!(learned_pmtu(IpVersion::V4, 68), Mtu(552));
        assert_eq!(learned_pmtu(IpVersion::V6, 1280), Mtu(1280));
        assert_eq!(learned_pmtu(IpVersion::V6, 1000), Mtu(1280));
    }

    #[test]
    fn advertised_matches_the_kernel() {
        // Measured on 6.18 over veth and lo in network namespaces.
        assert_eq!(adv(IpVersion::V4, 1500), 1460);
        assert_eq!(adv(IpVersion::V6, 1500), 1440);
        assert_eq!(adv(IpVersion::V4, 576), 536);
        assert_eq!(adv(IpVersion::V6, 1280), 1220);
        assert_eq!(adv(IpVersion::V4, 9000), 8960);
        // route.min_adv_mss: lo at MTU 280 advertises 256 (> 240).
        assert_eq!(adv(IpVersion::V4, 280), 256);
        // Loopback MTU 65536: 65495 (IPv4), 65476 (IPv6).
        assert_eq!(adv(IpVersion::V4, 65_536), 65_495);
        assert_eq!(adv(IpVersion::V6, 65_536), 65_476);
        assert_eq!(adv(IpVersion::V6, 65_575), 65_515);
        assert_eq!(adv(IpVersion::V6, 65_576), 65_534);
        assert_eq!(adv(IpVersion::V6, 70_000), 65_534);
    }

    #[test]
    fn no_floor_beyond_min_adv_mss() {
        let tunables = LinuxTunables {
            ipv4_min_adv_mss: 0,
            ..LinuxTunables::default()
        };
        // Measured: min_adv_mss=0, lo MTU 68 -> SYN carries 28, TCP_MAXSEG 36.
        let adv = advertised_mss(IpVersion::V4, Mtu(68), None, &tunables);
        assert_eq!(adv, Mss(28));
        let send = send_mss(
            SendInputs {
                version: IpVersion::V4,
                peer_mss: Some(adv),
                path_mtu: Mtu(68),
                user_mss: None,
                fixed_option_bytes: 12,
                ext_header_bytes: 0,
            },
            &tunables,
        );
        assert_eq!(send, 36);
    }

    #[test]
    fn user_mss_only_lowers() {
        let t = LinuxTunables::default();
        assert_eq!(
            advertised_mss(IpVersion::V4, Mtu(1500), Some(88), &t),
            Mss(88)
        );
        assert_eq!(
            advertised_mss(IpVersion::V4, Mtu(1500), Some(9000), &t),
            Mss(1460)
        );
    }

    #[test]
    fn send_mss_examples() {
        let t = LinuxTunables::default();
        let base = SendInputs {
            version: IpVersion::V4,
            peer_mss: Some(Mss(1460)),
            path_mtu: Mtu(1500),
            user_mss: None,
            fixed_option_bytes: 12,
            ext_header_bytes: 0,
        };
        assert_eq!(send_mss(base, &t), 1448);
        // MTU 280 on lo: advertised 256, but the route allows 240 - 12 = 228 (measured).
        let lo280 = SendInputs {
            peer_mss: Some(Mss(256)),
            path_mtu: Mtu(280),
            ..base
        };
        assert_eq!(send_mss(lo280, &t), 228);
        // Zero MSS option is ignored: the default 536 applies.
        let zero = SendInputs {
            peer_mss: Some(Mss(0)),
            ..base
        };
        assert_eq!(send_mss(zero, &t), 524);
        // TCP_MAXSEG 88 with timestamps sends 76.
        let tiny = SendInputs {
            user_mss: Some(88),
            ..base
        };
        assert_eq!(send_mss(tiny, &t), 76);
        // A peer announcing 1 byte: floored at 48 before the options, 36 with TS.
        let one = SendInputs {
            peer_mss: Some(Mss(1)),
            ..base
        };
        assert_eq!(send_mss(one, &t), 36);
    }

    #[test]
    fn half_window_bound() {
        // Loopback: peer window 65483 -> 32741 (the `ss -ti` value in DOMAIN.md).
        assert_eq!(bound_to_half_window(65_483, 65_483, 32), 32_741);
        assert_eq!(bound_to_half_window(1448, 64_240, 32), 1448);
        assert_eq!(bound_to_half_window(1448, 0, 32), 1448);
        assert_eq!(bound_to_half_window(1448, 100, 32), 100);
        assert_eq!(bound_to_half_window(1448, 20, 32), 36);
    }

    #[test]
    fn maxseg_bounds() {
        assert_eq!(check_tcp_maxseg(0), Ok(None));
        assert_eq!(check_tcp_maxseg(88), Ok(Some(88)));
        assert_eq!(check_tcp_maxseg(32_767), Ok(Some(32_767)));
        assert!(check_tcp_maxseg(87).is_err());
        assert!(check_tcp_maxseg(32_768).is_err());
    }

    #[test]
    fn syncookies_round_down() {
        assert_eq!(syncookie_mss(IpVersion::V4, Mss(1460)), Mss(1460));
        assert_eq!(syncookie_mss(IpVersion::V4, Mss(1400)), Mss(1300));
        assert_eq!(syncookie_mss(IpVersion::V4, Mss(100)), Mss(536));
        assert_eq!(syncookie_mss(IpVersion::V6, Mss(1440)), Mss(1440));
        assert_eq!(syncookie_mss(IpVersion::V6, Mss(9000)), Mss(8940));
    }
}
