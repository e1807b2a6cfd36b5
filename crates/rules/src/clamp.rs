//! MSS clamping as middleboxes do it (and should do it): only ever lower, separate
//! targets per IP version, and Linux `xt_TCPMSS`'s rules for a missing option.

use crate::rfc;
use crate::units::{IpVersion, Mss, Mtu};

/// What a clamp does to the MSS option of one SYN or SYN-ACK.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClampAction {
    /// The option was above the target and is lowered to it.
    Lowered {
        /// The value before.
        from: Mss,
        /// The value after (the target).
        to: Mss,
    },
    /// The option is at or below the target and stays: a clamp never raises (a host
    /// on a smaller link announcing 1260 under a 1360 clamp keeps 1260).
    Unchanged(Mss),
}

/// Applies a clamp target to an MSS option value: lower only, never raise
/// (`tcpmss_mangle_packet()`: `if (oldmss <= newmss) return 0`; nftables `maxseg size
/// set` lowers only as well).
pub fn apply(value: Mss, target: Mss) -> ClampAction {
    if value > target {
        ClampAction::Lowered {
            from: value,
            to: target,
        }
    } else {
        ClampAction::Unchanged(value)
    }
}

/// The clamp target for an MTU: `MTU - 40` for IPv4, `MTU - 60` for IPv6, the same
/// arithmetic as the advertised MSS (RFC 6691). IPv6 needs a target 20 bytes lower
/// than IPv4 for the same MTU; using the IPv4 value for both is a classic mistake.
pub fn target_for_mtu(version: IpVersion, mtu: Mtu) -> Result<Mss, rfc::MtuTooSmall> {
    rfc::advertised_mss(version, mtu)
}

/// `--clamp-mss-to-pmtu`: the smaller of the forward route's MTU and the MTU of the
/// interface the packet came in on, minus the fixed headers (`tcpmss_mangle_packet()`
/// with `XT_TCPMSS_CLAMP_PMTU`). `None` when that MTU does not exceed the headers
/// (the kernel logs "unknown or invalid path-MTU" and drops the packet).
pub fn clamp_to_pmtu_target(
    version: IpVersion,
    forward_mtu: Mtu,
    incoming_mtu: Mtu,
) -> Option<Mss> {
    let mtu = forward_mtu.get().min(incoming_mtu.get());
    let fixed = version.fixed_overhead();
    (mtu > fixed).then(|| Mss::saturating_from(mtu - fixed))
}

/// The value `xt_TCPMSS` writes when it *inserts* an MSS option into a SYN that has
/// none: the target, but at most the default the peer would otherwise assume, 536
/// (IPv4) or 1220 (IPv6), so that inserting never raises the effective MSS
/// (`tcpmss_mangle_packet()`, citing RFC 1122 and RFC 2460). It inserts only when the
/// SYN has no payload and the header has room (data offset below 15 words); nftables
/// never inserts.
pub fn inserted_value(version: IpVersion, target: Mss) -> Mss {
    target.min(version.default_mss())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_only() {
        assert_eq!(
            apply(Mss(1460), Mss(1360)),
            ClampAction::Lowered {
                from: Mss(1460),
                to: Mss(1360)
            }
        );
        // Seed 003: the host at MTU 1300 announces 1260 and keeps it.
        assert_eq!(
            apply(Mss(1260), Mss(1360)),
            ClampAction::Unchanged(Mss(1260))
        );
        assert_eq!(
            apply(Mss(1360), Mss(1360)),
            ClampAction::Unchanged(Mss(1360))
        );
    }

    #[test]
    fn targets_per_family() {
        assert_eq!(target_for_mtu(IpVersion::V4, Mtu(1400)), Ok(Mss(1360)));
        assert_eq!(target_for_mtu(IpVersion::V6, Mtu(1400)), Ok(Mss(1340)));
        assert_eq!(
            clamp_to_pmtu_target(IpVersion::V4, Mtu(1500), Mtu(1400)),
            Some(Mss(1360))
        );
        assert_eq!(
            clamp_to_pmtu_target(IpVersion::V6, Mtu(60), Mtu(1500)),
            None
        );
    }

    #[test]
    fn insertion_never_raises_the_default() {
        assert_eq!(inserted_value(IpVersion::V4, Mss(1360)), Mss(536));
        assert_eq!(inserted_value(IpVersion::V4, Mss(500)), Mss(500));
        assert_eq!(inserted_value(IpVersion::V6, Mss(1360)), Mss(1220));
    }
}
