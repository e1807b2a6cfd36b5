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
//! Written by hand on top of the wire crate's checksum helpers: the operation is a
//! few dozen bytes of parsing with exact rules, and no library offers an
//! allocation-free clamp that reports why it did nothing.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use mss_rules::clamp::inserted_value;
use mss_rules::{IpVersion, Mss};
use mss_wire::checksum;
use mss_wire::ipv6::{ChainEnd, walk_extensions};
use mss_wire::packet::Link;

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
pub const INSERT_ROOM: usize = 4;

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

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const TCP: u8 = 6;
/// At most this many MSS options are handled in one segment (more: bad options).
const MAX_MSS_OPTIONS: usize = 4;

/// Where the IP packet's pieces are, once checked.
#[derive(Copy, Clone)]
struct Layout {
    version: IpVersion,
    /// TCP header start.
    tcp: usize,
    /// End of the IP packet (its declared length).
    end: usize,
    /// The first fragment of a fragmented packet: the TCP header is clamped when it
    /// is all here, but nothing may change length.
    first_fragment: bool,
}

fn layout(buf: &[u8], len: usize) -> Result<Layout, Skip> {
    let data = buf.get(..len).ok_or(Skip::Truncated)?;
    let first = *data.first().ok_or(Skip::Truncated)?;
    match first >> 4 {
        4 => {
            if data.len() < 20 {
                return Err(Skip::Truncated);
            }
            let ihl = usize::from(first & 0x0f) * 4;
            let total = usize::from(be16(data, 2).ok_or(Skip::Truncated)?);
            if ihl < 20 || total < ihl {
                return Err(Skip::Malformed);
            }
            if data.len() < total {
                return Err(Skip::Truncated);
            }
            // A fragment offset: a later fragment, no TCP header here. The
            // more-fragments flag with offset 0: the first fragment, which holds the
            // TCP header (if it is all there); xt_TCPMSS and nft clamp it too (they
            // skip only fragment offsets other than 0). The checksum covers the
            // whole segment, and its incremental update needs only the bytes that
            // change, which are here.
            let fragment = be16(data, 6).ok_or(Skip::Truncated)?;
            if fragment & 0x1fff != 0 {
                return Err(Skip::Fragment);
            }
            if data[9] != TCP {
                return Err(Skip::NotTcp);
            }
            Ok(Layout {
                version: IpVersion::V4,
                tcp: ihl,
                end: total,
                first_fragment: fragment & 0x2000 != 0,
            })
        }
        6 => {
            if data.len() < 40 {
                return Err(Skip::Truncated);
            }
            let payload = usize::from(be16(data, 4).ok_or(Skip::Truncated)?);
            if payload == 0 {
                // A jumbogram (RFC 2675) or nothing at all.
                return Err(Skip::Malformed);
            }
            let end = 40 + payload;
            if data.len() < end {
                return Err(Skip::Truncated);
            }
            let chain = walk_extensions(data[6], &data[40..end], payload);
            match chain.end {
                ChainEnd::Upper => {}
                ChainEnd::LaterFragment => return Err(Skip::Fragment),
                ChainEnd::Encrypted | ChainEnd::NoNext => return Err(Skip::NotTcp),
                ChainEnd::Truncated | ChainEnd::Malformed => return Err(Skip::Malformed),
            }
            // A fragment header with offset 0 (later ones ended the walk above):
            // without more fragments it is an atomic fragment, a whole packet
            // (RFC 6946 section 4); with more, the first fragment.
            let first_fragment = chain.fragment.is_some_and(|f| f.more);
            if chain.protocol != TCP {
                return Err(Skip::NotTcp);
            }
            Ok(Layout {
                version: IpVersion::V6,
                tcp: 40 + chain.offset,
                end,
                first_fragment,
            })
        }
        _ => Err(Skip::NotIp),
    }
}

/// Writes `value` at `pos` (a TCP header offset; `seg` starts at the TCP header)
/// and updates the checksum at offset 16 for the 16-bit words that changed. Words
/// are aligned to the TCP header's start: the pseudo-header before it has an even
/// length.
fn write_u16(seg: &mut [u8], pos: usize, value: u16) {
    let Some(old_cs) = be16(seg, 16) else { return };
    let mut cs = old_cs;
    let bytes = value.to_be_bytes();
    let first_word = pos & !1;
    let last_word = (pos + 1) & !1;
    let mut old_words = [0u16; 2];
    for (slot, word) in [first_word, last_word].into_iter().enumerate() {
        old_words[slot] = be16(seg, word).unwrap_or(0);
    }
    seg[pos] = bytes[0];
    seg[pos + 1] = bytes[1];
    for (slot, word) in [first_word, last_word].into_iter().enumerate() {
        if slot == 1 && word == first_word {
            break;
        }
        let new = be16(seg, word).unwrap_or(0);
        cs = checksum::update(cs, old_words[slot], new);
    }
    seg[16..18].copy_from_slice(&cs.to_be_bytes());
}

/// Clamps a raw IP packet (as a TUN device or NFQUEUE delivers it): `buf[..len]`
/// is the packet; bytes after it are room for an insertion.
pub fn clamp_ip(buf: &mut [u8], len: usize, targets: &Targets) -> Clamped {
    let unchanged = |skip| Clamped {
        outcome: Outcome::Unchanged(skip),
        len,
    };
    // The common case first: a plain IPv4 (no options, not a fragment) or IPv6 (no
    // extension header) TCP segment without SYN, answered from four bytes.
    if let Some(head) = buf.get(..len.min(60)) {
        let plain_v4 = head.len() >= 40
            && head[0] == 0x45
            && head[9] == TCP
            && (head[6] & 0x3f) | head[7] == 0;
        let plain_v6 = head.len() >= 60 && head[0] >> 4 == 6 && head[6] == TCP;
        let flags = if plain_v4 {
            head.get(33)
        } else if plain_v6 {
            head.get(53)
        } else {
            None
        };
        if flags.is_some_and(|&f| f & SYN == 0) {
            return unchanged(Skip::NotSyn);
        }
    }
    let layout = match layout(buf, len) {
        Ok(layout) => layout,
        Err(skip) => return unchanged(skip),
    };
    let Layout {
        version,
        tcp,
        end,
        first_fragment,
    } = layout;
    if end < tcp + 20 {
        return unchanged(if first_fragment {
            Skip::Fragment
        } else if len < tcp + 20 {
            Skip::Truncated
        } else {
            Skip::Malformed
        });
    }
    let doff = usize::from(buf[tcp + 12] >> 4) * 4;
    if doff < 20 {
        return unchanged(Skip::Malformed);
    }
    if tcp + doff > end {
        // A first fragment that ends inside the options cannot be clamped whole.
        return unchanged(if first_fragment {
            Skip::Fragment
        } else {
            Skip::Malformed
        });
    }
    let flags = buf[tcp + 13];
    if flags & SYN == 0 || flags & RST != 0 {
        return unchanged(Skip::NotSyn);
    }
    let target = match version {
        IpVersion::V4 => targets.ipv4,
        IpVersion::V6 => targets.ipv6,
    };
    let Some(target) = target else {
        return unchanged(Skip::NoTarget);
    };
    // Walk the whole list before changing anything.
    let options = &buf[tcp + 20..tcp + doff];
    let mut found = [0usize; MAX_MSS_OPTIONS];
    let mut count = 0;
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&length) = options.get(i + 1) else {
                    return unchanged(Skip::BadOptions);
                };
                let length = usize::from(length);
                if length < 2 || i + length > options.len() {
                    return unchanged(Skip::BadOptions);
                }
                if kind == 2 {
                    if length != 4 || count == MAX_MSS_OPTIONS {
                        return unchanged(Skip::BadOptions);
                    }
                    found[count] = 20 + i + 2;
                    count += 1;
                }
                i += length;
            }
        }
    }
    if count == 0 {
        if !targets.insert {
            return unchanged(Skip::NoMssOption);
        }
        return insert(buf, len, layout, doff, target);
    }
    let seg = &mut buf[tcp..];
    let mut largest = 0;
    for &pos in &found[..count] {
        largest = largest.max(be16(seg, pos).unwrap_or(0));
    }
    if largest <= target {
        return unchanged(Skip::AlreadyLow { mss: largest });
    }
    for &pos in &found[..count] {
        if be16(seg, pos).is_some_and(|v| v > target) {
            write_u16(seg, pos, target);
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

/// Inserts an MSS option at the start of the option list, as `xt_TCPMSS` does.
fn insert(buf: &mut [u8], len: usize, layout: Layout, doff: usize, target: u16) -> Clamped {
    let Layout {
        version,
        tcp,
        end,
        first_fragment,
    } = layout;
    let unchanged = |skip| Clamped {
        outcome: Outcome::Unchanged(skip),
        len,
    };
    if first_fragment {
        // Growing the first fragment would move every later fragment's data.
        return unchanged(Skip::Fragment);
    }
    if end > tcp + doff {
        return unchanged(Skip::HasPayload);
    }
    if doff + INSERT_ROOM > 60 || buf.len() < len + INSERT_ROOM {
        return unchanged(Skip::NoRoom);
    }
    let value = inserted_value(version, Mss(target)).0;
    let options_at = tcp + 20;
    // Everything after the fixed TCP header (options, then anything past the IP
    // packet such as Ethernet padding) moves 4 bytes on: 4-byte moves keep the
    // 16-bit word alignment, so the checksum over the moved words is unchanged.
    buf.copy_within(options_at..len, options_at + INSERT_ROOM);
    let [high, low] = value.to_be_bytes();
    buf[options_at..options_at + 4].copy_from_slice(&[2, 4, high, low]);
    let seg_len_old = end - tcp;
    let seg_len_new = seg_len_old + INSERT_ROOM;
    let seg = &mut buf[tcp..];
    let mut cs = be16(seg, 16).unwrap_or(0);
    // The option's two words (they were not summed before)...
    cs = checksum::update(cs, 0, 0x0204);
    cs = checksum::update(cs, 0, value);
    // ...the data offset word...
    let old_word = be16(seg, 12).unwrap_or(0);
    let new_doff = u8::try_from((doff + INSERT_ROOM) / 4).unwrap_or(15);
    seg[12] = (new_doff << 4) | (seg[12] & 0x0f);
    let new_word = be16(seg, 12).unwrap_or(0);
    cs = checksum::update(cs, old_word, new_word);
    // ...and the pseudo-header's TCP length (32 bits for IPv6, RFC 8200 8.1).
    cs = checksum::update_u32(
        cs,
        u32::try_from(seg_len_old).unwrap_or(0),
        u32::try_from(seg_len_new).unwrap_or(0),
    );
    seg[16..18].copy_from_slice(&cs.to_be_bytes());
    match version {
        IpVersion::V4 => {
            let old_total = be16(buf, 2).unwrap_or(0);
            let new_total = old_total.saturating_add(4);
            buf[2..4].copy_from_slice(&new_total.to_be_bytes());
            let hc = be16(buf, 10).unwrap_or(0);
            let hc = checksum::update(hc, old_total, new_total);
            buf[10..12].copy_from_slice(&hc.to_be_bytes());
        }
        IpVersion::V6 => {
            let payload = be16(buf, 4).unwrap_or(0).saturating_add(4);
            buf[4..6].copy_from_slice(&payload.to_be_bytes());
        }
    }
    Clamped {
        outcome: Outcome::Inserted { version, value },
        len: len + INSERT_ROOM,
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
    // Plain link headers first (Ethernet with VLAN tags, raw IP, Linux cooked): no
    // full decode on the hot path. Anything else (PPPoE, MPLS, tunnels, ...) goes
    // through the decoder, which also recognises tunnels.
    let fast = plain_ip_offset(link, frame).filter(|&at| {
        frame
            .get(at)
            .is_some_and(|b| matches!(b >> 4, 4 | 6) && !carries_tunnel(frame, at))
    });
    let offset = match fast {
        Some(offset) => offset,
        None => match mss_wire::packet::decode(link, frame) {
            Ok(Some(packet)) => {
                if packet.tunnel.is_some() {
                    return unchanged(Skip::Tunneled);
                }
                packet.offset
            }
            Ok(None) => return unchanged(Skip::NotIp),
            // The IP or TCP layer is cut short or broken: let clamp_ip say which,
            // if the IP header can be found at all.
            Err(_) => match plain_ip_offset(link, frame) {
                Some(offset) => offset,
                None => return unchanged(Skip::Truncated),
            },
        },
    };
    if offset >= len {
        return unchanged(Skip::Truncated);
    }
    let mut room = targets.insert;
    if room && !length_free_link(link, frame, offset) {
        room = false;
    }
    let inner = Targets {
        insert: room,
        ..*targets
    };
    let clamped = clamp_ip(&mut buf[offset..], len - offset, &inner);
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

/// The IP header offset for the link layers whose IP starts at a fixed place after
/// plain headers: Ethernet (VLAN tags skipped), raw IP, Linux cooked.
fn plain_ip_offset(link: Link, frame: &[u8]) -> Option<usize> {
    match link {
        Link::Ethernet => {
            let mut at = 12;
            loop {
                match be16(frame, at)? {
                    0x8100 | 0x88a8 | 0x9100 => at += 4,
                    0x0800 | 0x86dd => return Some(at + 2),
                    _ => return None,
                }
            }
        }
        Link::Raw | Link::Ipv4 | Link::Ipv6 => Some(0),
        Link::LinuxSll => Some(16),
        Link::LinuxSll2 => Some(20),
        _ => None,
    }
}

/// Whether the IP packet at `at` carries another packet (GRE, IP-in-IP, or UDP,
/// which may be VXLAN or Geneve): then the decoder decides, so tunnels are
/// recognised and left alone.
fn carries_tunnel(frame: &[u8], at: usize) -> bool {
    let protocol = match frame.get(at).map(|b| b >> 4) {
        Some(4) => frame.get(at + 9),
        Some(6) => frame.get(at + 6),
        _ => None,
    };
    // Only a plain TCP header next is the fast path's business.
    protocol != Some(&TCP)
}

/// Whether the headers before the IP packet at `offset` carry no length, so the
/// frame may grow: Ethernet II with only VLAN tags, raw IP, Linux cooked.
fn length_free_link(link: Link, frame: &[u8], offset: usize) -> bool {
    plain_ip_offset(link, frame) == Some(offset)
}
