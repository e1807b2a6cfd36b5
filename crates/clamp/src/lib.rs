//! The MSS clamp: lowers the MSS option of a TCP SYN or SYN-ACK in place, the way a
//! router in front of a tunnel must, and says what it did.
//!
//! The contract, which the property tests and the fuzz target check:
//! - Only SYN segments (SYN set, RST clear; SYN-ACKs included) are touched.
//! - The MSS is only ever lowered, to the target of the packet's IP version: IPv4
//!   and IPv6 have separate targets (IPv6 headers are 20 bytes longer).
//! - The MSS option is found wherever it sits in the option list, after unknown
//!   kinds too (walked by their length byte). A malformed list, a later fragment
//!   (or a first one that does not hold the whole TCP header), a truncated packet
//!   or a length field that disagrees with the bytes is left untouched, with the
//!   reason. A first fragment that holds the whole header is clamped (as
//!   `xt_TCPMSS` and nftables do), never grown; an IPv6 atomic fragment (RFC 6946)
//!   is a whole packet.
//! - The TCP checksum is updated incrementally (RFC 1624 equation 3) for the bytes
//!   that changed, so a checksum that was right stays right, and one that was
//!   wrong (or left partial by checksum offload, in a capture taken at the sender)
//!   is not silently "fixed".
//! - Apart from the MSS bytes and the checksum nothing changes — except when
//!   inserting, which is opt-in.
//! - Inserting a missing MSS option follows Linux `xt_TCPMSS`: only into a SYN
//!   without payload whose header has room, with the value min(target, 536) for
//!   IPv4 and min(target, 1220) for IPv6 (never above what the peer would assume
//!   without an option), at the start of the option list; the data offset, the IP
//!   total length (and IPv4 header checksum) or IPv6 payload length, and the TCP
//!   checksum (pseudo-header length included) are updated.
//! - Nothing allocates; every index is checked, so no input panics.
//!
//! The policy lives here, the bytes in the wire crate: [`mss_wire::strict`] finds
//! the IP packet in a frame and checks it down to the TCP header (or says why
//! not), [`mss_wire::strict::TcpLayout::mss_options`] walks the option list
//! strictly, [`mss_wire::tcp::Packet::set_mss`] rewrites a value with the
//! incremental checksum update, and
//! [`mss_wire::strict::TcpLayout::insert_mss_option`] inserts an option. No library
//! offers an allocation-free clamp that reports why it did nothing.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

use mss_rules::clamp::inserted_value;
use mss_rules::{IpVersion, Mss};
use mss_wire::packet::Link;
use mss_wire::strict::{self, InsertRefusal, Refusal, TcpLayout};
use mss_wire::tcp::Flags;

/// The MSS targets, per IP version, and whether to insert a missing option.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// IPv4 target; IPv4 SYNs are left alone when absent.
    pub ipv4: Option<u16>,
    /// IPv6 target; IPv6 SYNs are left alone when absent.
    pub ipv6: Option<u16>,
    /// Insert an MSS option into SYNs that have none (as `xt_TCPMSS` does).
    pub insert: bool,
}

/// Bytes an insertion needs after the packet.
pub const INSERT_ROOM: usize = strict::INSERT_ROOM;

/// What the clamp did to one packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The MSS option was above the target and now equals it.
    Lowered {
        /// IP version of the packet.
        version: IpVersion,
        /// The value before (the largest, if the segment carried several).
        from: u16,
        /// The value after.
        to: u16,
    },
    /// An MSS option was inserted.
    Inserted {
        /// IP version of the packet.
        version: IpVersion,
        /// The value written.
        value: u16,
    },
    /// Nothing changed, and why.
    Unchanged(Skip),
}

/// Why a packet was left as it was.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not IPv4 or IPv6.
    NotIp,
    /// Not TCP (or encrypted, or no next header).
    NotTcp,
    /// A TCP segment without SYN (or with RST).
    NotSyn,
    /// No target for this IP version.
    NoTarget,
    /// The option is at or below the target: a clamp never raises.
    AlreadyLow {
        /// The value found.
        mss: u16,
    },
    /// The SYN has no MSS option (and inserting was not asked for).
    NoMssOption,
    /// An IP fragment: the TCP header is incomplete or elsewhere.
    Fragment,
    /// Fewer bytes than the headers need (a short capture).
    Truncated,
    /// A length or offset field is impossible (IPv4 header length below 20, total
    /// length below the header, TCP data offset below 5 or past the packet,
    /// IPv6 jumbogram or broken extension header).
    Malformed,
    /// The TCP option list is malformed (a length below 2 or past the header, an
    /// MSS option whose length is not 4); changing it could make things worse.
    BadOptions,
    /// Inserting needs a SYN without payload.
    HasPayload,
    /// Inserting needs room: the header is at its 60-byte maximum, or the buffer
    /// has fewer than [`INSERT_ROOM`] spare bytes, or the link layer carries a
    /// length that would go stale.
    NoRoom,
    /// Inside a tunnel: clamping the inner packet would leave outer checksums or
    /// lengths wrong.
    Tunneled,
    /// The frame ends in a frame check sequence its headers declare (802.11 with
    /// radiotap's or PPI's FCS flag, FabricPath): clamping would leave it wrong.
    FrameCheck,
    /// The link type is not one the clamp can find the IP header in.
    UnsupportedLink,
}

impl Skip {
    /// A short name for summaries and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Skip::NotIp => "not_ip",
            Skip::NotTcp => "not_tcp",
            Skip::NotSyn => "not_syn",
            Skip::NoTarget => "no_target",
            Skip::AlreadyLow { .. } => "already_low",
            Skip::NoMssOption => "no_mss_option",
            Skip::Fragment => "fragment",
            Skip::Truncated => "truncated",
            Skip::Malformed => "malformed",
            Skip::BadOptions => "bad_options",
            Skip::HasPayload => "has_payload",
            Skip::NoRoom => "no_room",
            Skip::Tunneled => "tunneled",
            Skip::FrameCheck => "frame_check",
            Skip::UnsupportedLink => "unsupported_link",
        }
    }
}

/// The outcome and the packet's length afterwards (longer by [`INSERT_ROOM`] after
/// an insertion).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Clamped {
    /// What happened.
    pub outcome: Outcome,
    /// Bytes of the packet (or frame) now.
    pub len: usize,
}

impl From<Refusal> for Skip {
    fn from(refusal: Refusal) -> Skip {
        match refusal {
            Refusal::NotIp => Skip::NotIp,
            Refusal::NotTcp => Skip::NotTcp,
            Refusal::Fragment => Skip::Fragment,
            Refusal::Truncated => Skip::Truncated,
            Refusal::Malformed => Skip::Malformed,
            Refusal::Tunneled => Skip::Tunneled,
            Refusal::FrameCheck => Skip::FrameCheck,
        }
    }
}

impl From<InsertRefusal> for Skip {
    fn from(refusal: InsertRefusal) -> Skip {
        match refusal {
            InsertRefusal::Fragment => Skip::Fragment,
            InsertRefusal::HasPayload => Skip::HasPayload,
            InsertRefusal::NoRoom => Skip::NoRoom,
        }
    }
}

fn version(layout: &TcpLayout) -> IpVersion {
    match layout.version {
        mss_wire::IpVersion::V4 => IpVersion::V4,
        mss_wire::IpVersion::V6 => IpVersion::V6,
    }
}

/// Clamps a raw IP packet (as a TUN device or NFQUEUE delivers it): `buf[..len]`
/// is the packet; bytes after it are room for an insertion.
pub fn clamp_ip(buf: &mut [u8], len: usize, targets: &Targets) -> Clamped {
    let unchanged = |skip| Clamped {
        outcome: Outcome::Unchanged(skip),
        len,
    };
    let Some(packet) = buf.get_mut(..len) else {
        return unchanged(Skip::Truncated);
    };
    // The common case first: a plain IPv4 (no options, not a fragment) or IPv6 (no
    // extension header) TCP segment without SYN, answered from its flags.
    if strict::plain_tcp_flags(packet).is_some_and(|flags| !flags.contains(Flags::SYN)) {
        return unchanged(Skip::NotSyn);
    }
    let layout = match strict::tcp_layout(packet) {
        Ok(layout) => layout,
        Err(refusal) => return unchanged(refusal.into()),
    };
    let flags = layout.segment(packet).flags();
    if !flags.contains(Flags::SYN) || flags.contains(Flags::RST) {
        return unchanged(Skip::NotSyn);
    }
    let version = version(&layout);
    let target = match version {
        IpVersion::V4 => targets.ipv4,
        IpVersion::V6 => targets.ipv6,
    };
    let Some(target) = target else {
        return unchanged(Skip::NoTarget);
    };
    // The whole list is walked before anything changes.
    let Ok(found) = layout.mss_options(packet) else {
        return unchanged(Skip::BadOptions);
    };
    let segment = layout.segment(packet);
    let Some(largest) = found.iter().map(|field| segment.mss_value(field)).max() else {
        if !targets.insert {
            return unchanged(Skip::NoMssOption);
        }
        let value = inserted_value(version, Mss(target)).0;
        return match layout.insert_mss_option(buf, len, value) {
            Ok(len) => Clamped {
                outcome: Outcome::Inserted { version, value },
                len,
            },
            Err(refusal) => unchanged(refusal.into()),
        };
    };
    if largest <= target {
        return unchanged(Skip::AlreadyLow { mss: largest });
    }
    let mut segment = layout.segment_mut(packet);
    for field in found.iter() {
        if segment.mss_value(field) > target {
            segment.set_mss(field, target);
        }
    }
    Clamped {
        outcome: Outcome::Lowered {
            version,
            from: largest,
            to: target,
        },
        len,
    }
}

/// Clamps a captured frame of link type `link`: finds the IP header (Ethernet with
/// VLAN tags, Linux cooked, raw IP, loopback, PPP, ...), then [`clamp_ip`].
/// Packets inside tunnels are left alone. Insertion is refused when a layer below
/// IP carries a length (802.3, PPPoE) that would go stale.
pub fn clamp_frame(buf: &mut [u8], len: usize, link: Link, targets: &Targets) -> Clamped {
    let unchanged = |skip| Clamped {
        outcome: Outcome::Unchanged(skip),
        len,
    };
    let Some(frame) = buf.get(..len) else {
        return unchanged(Skip::Truncated);
    };
    let link_layout = match strict::link_layout(link, frame) {
        Ok(layout) => layout,
        Err(refusal) => return unchanged(refusal.into()),
    };
    let offset = link_layout.ip_offset;
    let room = targets.insert && link_layout.may_grow;
    let inner = Targets {
        insert: room,
        ..*targets
    };
    let Some(ip) = buf.get_mut(offset..) else {
        return unchanged(Skip::Truncated);
    };
    let clamped = clamp_ip(ip, len - offset, &inner);
    let outcome = match clamped.outcome {
        Outcome::Unchanged(Skip::NoMssOption) if targets.insert && !room => {
            Outcome::Unchanged(Skip::NoRoom)
        }
        other => other,
    };
    Clamped {
        outcome,
        len: offset + clamped.len,
    }
}
