//! The TCP Maximum Segment Size rules, as pure arithmetic.
//!
//! - [`rfc`]: what the standards say a host advertises (RFC 6691) and may send
//!   (RFC 9293 section 3.7.1).
//! - [`linux`]: what the Linux kernel does instead, where it differs, with the
//!   kernel function behind each number.
//! - [`options`]: the bytes TCP options take on data segments.
//! - [`clamp`]: what an MSS clamp may do: lower only, per-family targets, Linux's
//!   rules for inserting a missing option.
//! - [`encap`]: the exact overhead of tunnels, tags and VPNs, ESP padding included.
//! - [`calc`]: all of the above combined into the answer `mss calc` shows.
//!
//! No I/O, no clock, no dependencies: every function maps numbers to numbers.
//!
//! ```
//! use mss_rules::{rfc, IpVersion, Mtu};
//! let mss = rfc::advertised_mss(IpVersion::V4, Mtu(1500)).map(|m| m.get());
//! assert_eq!(mss, Ok(1460));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod calc;
pub mod clamp;
pub mod encap;
pub mod linux;
pub mod options;
pub mod plpmtud;
pub mod rfc;
mod units;

pub use encap::{Encap, EncapStack};
pub use options::SegmentOptions;
pub use units::{IpVersion, Mss, Mtu};

/// The fixed TCP header, without options (RFC 9293 section 3.1).
pub const TCP_HEADER_LEN: u32 = 20;

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn version() -> impl Strategy<Value = IpVersion> {
        prop_oneof![Just(IpVersion::V4), Just(IpVersion::V6)]
    }

    proptest! {
        /// The advertised MSS never decreases as the MTU grows.
        #[test]
        fn advertised_is_monotone(v in version(), mtu in 68u32..200_000) {
            let a = rfc::advertised_mss(v, Mtu(mtu)).ok();
            let b = rfc::advertised_mss(v, Mtu(mtu + 1)).ok();
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!(a <= b);
            }
            let t = linux::LinuxTunables::default();
            prop_assert!(linux::advertised_mss(v, Mtu(mtu), None, &t)
                <= linux::advertised_mss(v, Mtu(mtu + 1), None, &t));
        }

        /// It is never above MTU - 40 / MTU - 60 (RFC 6691), except the IPv6 jumbo
        /// "infinity" of RFC 2675.
        #[test]
        fn advertised_within_mtu(v in version(), mtu in 68u32..200_000) {
            if let Ok(mss) = rfc::advertised_mss(v, Mtu(mtu)) {
                if mss != rfc::IPV6_JUMBO_MSS {
                    prop_assert!(u32::from(mss.get()) + v.fixed_overhead() <= mtu);
                }
            }
        }

        /// The effective MSS never exceeds the advertised one, and more options
        /// never make it larger.
        #[test]
        fn effective_within_advertised(
            v in version(),
            mtu in 1280u32..70_000,
            peer in 1u16..=65_535,
            opts in 0u32..=40,
            more in 0u32..=8,
        ) {
            let inputs = rfc::SendMssInputs {
                version: v,
                peer_mss: Some(Mss(peer)),
                path_mtu: Mtu(mtu),
                tcp_option_bytes: opts,
                ip_option_bytes: 0,
            };
            let e = rfc::effective_send_mss(inputs);
            if !(v == IpVersion::V6 && peer == u16::MAX) {
                prop_assert!(e <= u32::from(peer));
            }
            prop_assert!(e + v.fixed_overhead() + opts <= mtu);
            let fewer = rfc::effective_send_mss(rfc::SendMssInputs {
                tcp_option_bytes: opts + more,
                ..inputs
            });
            prop_assert!(fewer <= e);
        }

        /// A clamp never raises and always ends at or below its target.
        #[test]
        fn clamp_never_raises(value: u16, target: u16) {
            let after = match clamp::apply(Mss(value), Mss(target)) {
                clamp::ClampAction::Lowered { to, .. } => to,
                clamp::ClampAction::Unchanged(v) => v,
            };
            prop_assert!(after.get() <= value);
            prop_assert_eq!(after.get(), value.min(target));
        }

        /// Every option combination the parser accepts fits in 40 bytes.
        #[test]
        fn option_budget(ts: bool, sack in 0u8..=4, md5: bool, ao in proptest::option::of(1u8..=36)) {
            let options = SegmentOptions { timestamps: ts, sack_blocks: sack, md5, ao_mac_len: ao };
            if options.check().is_ok() {
                prop_assert!(options.total_bytes() <= options::MAX_OPTION_BYTES);
                prop_assert!(options.sack_blocks <= options.max_sack_blocks());
                let again: Result<SegmentOptions, _> = options.to_string().parse();
                prop_assert_eq!(again, Ok(options));
            }
        }

        /// Calc's numbers agree with each other for any MTU and options.
        #[test]
        fn calc_is_consistent(mtu in 68u32..20_000, which in 0usize..4, ts: bool) {
            let encaps = ["", "pppoe", "esp:aes-cbc:sha1:natt", "vlan,gre:key"][which];
            let request = calc::CalcRequest {
                link_mtu: mtu,
                encaps: encaps.parse().unwrap_or_default(),
                options: SegmentOptions { timestamps: ts, ..SegmentOptions::default() },
                ipv4_option_bytes: 0,
                ipv6_ext_bytes: 0,
                families: IpVersion::ALL.to_vec(),
                tunables: linux::LinuxTunables::default(),
            };
            let report = calc::calculate(&request).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for family in &report.families {
                if let Ok(n) = &family.outcome {
                    prop_assert!(n.ip_mtu <= mtu);
                    prop_assert!(n.effective_mss <= u32::from(n.advertised_mss.get()));
                    let link_part = n.frame.on_wire - calc::ETHERNET_HEADER - calc::ETHERNET_FCS;
                    let tags = if which == 3 { 4 } else { 0 };
                    prop_assert!(link_part <= mtu + tags);
                }
            }
        }
    }
}
