//! TCP SYNs: building one to send through a raw socket, and describing one that
//! arrived (as `TCP_SAVED_SYN` hands it over, or as an ICMP error quotes it).
//!
//! ```
//! use core::net::{IpAddr, Ipv4Addr};
//! use mss_wire::syn::{Syn, describe};
//! use mss_wire::tcp::TcpOption;
//! let (src, dst) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
//! let options = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::WindowScale(7)];
//! let segment = Syn { options: &options, ..Syn::new(40000, 443, 1) }.build(src, dst);
//! assert_eq!(segment.as_ref().map(Vec::len), Ok(32));
//! // With an IPv4 header in front, the SYN describes itself.
//! let mut packet = vec![0x45, 0, 0, 52, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! packet.extend(segment.unwrap_or_default());
//! let described = describe(&packet).expect("a SYN");
//! assert_eq!((described.mss, described.window_scale, described.option_kinds()), (Some(1460), Some(7), &[2, 4, 3][..]));
//! ```

use core::fmt;
use core::net::IpAddr;

use crate::tcp::{self, Flags, TcpOption, kind};
use crate::{IpVersion, checksum, ipv4, ipv6};

/// The window a built SYN announces: what Linux sends with the default receive
/// buffer on an Ethernet path (tcp_select_initial_window()).
const WINDOW: u16 = 64_240;

/// A TCP SYN to build: the kernel of a raw socket writes the IP header, this the
/// TCP segment. Options are written in order and padded with End of Option List to
/// a multiple of 4 bytes; the payload is zeros (a SYN may carry data, RFC 9293
/// section 3.10.7.3, and a probe of a given size does).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Syn<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Window (unscaled).
    pub window: u16,
    /// The options.
    pub options: &'a [TcpOption<'a>],
    /// Zero bytes after the header.
    pub payload_len: usize,
}

/// Why a SYN could not be built.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// The options take more than the 40 bytes a header has room for.
    OptionsTooLong {
        /// Bytes they take, padding included.
        len: usize,
    },
    /// An option that is a reading of received bytes (cut, malformed or of a
    /// length its kind cannot have), not one that can be sent.
    NotSendable {
        /// Its kind, where known.
        kind: Option<u8>,
    },
    /// An option whose data is longer than its length byte can say.
    OptionTooLong {
        /// Its kind.
        kind: u8,
    },
    /// The segment is longer than the IPv4 pseudo-header's 16-bit length.
    SegmentTooLong {
        /// Its length.
        len: usize,
    },
    /// Source and destination are of different IP versions.
    MixedVersions,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BuildError::OptionsTooLong { len } => {
                write!(f, "TCP options of {len} bytes: a header holds at most 40")
            }
            BuildError::NotSendable { kind: Some(kind) } => {
                write!(
                    f,
                    "TCP option kind {kind} as read from a packet cannot be sent"
                )
            }
            BuildError::NotSendable { kind: None } => {
                write!(f, "a TCP option cut off in a capture cannot be sent")
            }
            BuildError::OptionTooLong { kind } => {
                write!(f, "TCP option kind {kind}: data longer than 253 bytes")
            }
            BuildError::SegmentTooLong { len } => {
                write!(
                    f,
                    "a TCP segment of {len} bytes: IPv4 carries at most 65515"
                )
            }
            BuildError::MixedVersions => {
                write!(f, "source and destination of different IP versions")
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl<'a> Syn<'a> {
    /// A SYN from `src_port` to `dst_port` with sequence number `seq`, the window
    /// Linux announces (64240), no options and no payload.
    pub fn new(src_port: u16, dst_port: u16, seq: u32) -> Syn<'a> {
        Syn {
            src_port,
            dst_port,
            seq,
            window: WINDOW,
            options: &[],
            payload_len: 0,
        }
    }

    /// The segment's bytes, its checksum computed over the pseudo-header of a
    /// packet from `src` to `dst` (RFC 9293 section 3.1; RFC 8200 section 8.1).
    pub fn build(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, BuildError> {
        let mut options = Vec::with_capacity(tcp::MAX_HEADER_LEN - tcp::HEADER_LEN);
        for option in self.options {
            encode(option, &mut options)?;
        }
        options.resize(options.len().div_ceil(4) * 4, kind::END);
        if options.len() > tcp::MAX_HEADER_LEN - tcp::HEADER_LEN {
            return Err(BuildError::OptionsTooLong { len: options.len() });
        }
        let header_len = tcp::HEADER_LEN + options.len();
        let len = header_len + self.payload_len;
        let mut segment = vec![0u8; len];
        let mut view = tcp::Packet::new_unchecked(&mut segment[..]);
        view.set_src_port(self.src_port);
        view.set_dst_port(self.dst_port);
        view.set_seq_number(self.seq);
        view.set_header_len(header_len);
        view.set_flags(Flags::SYN);
        view.set_window(self.window);
        for (slot, byte) in view.option_bytes_mut().iter_mut().zip(&options) {
            *slot = *byte;
        }
        let pseudo = match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let length = u16::try_from(len).map_err(|_| BuildError::SegmentTooLong { len })?;
                checksum::pseudo_header_v4(src.octets(), dst.octets(), ipv6::protocol::TCP, length)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let length = u32::try_from(len).map_err(|_| BuildError::SegmentTooLong { len })?;
                checksum::pseudo_header_v6(src.octets(), dst.octets(), ipv6::protocol::TCP, length)
            }
            _ => return Err(BuildError::MixedVersions),
        };
        view.fill_checksum(pseudo);
        Ok(segment)
    }
}

/// Appends one option as sent: kind, length and data (End of Option List and
/// No-Operation are one byte).
fn encode(option: &TcpOption<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
    match *option {
        TcpOption::EndOfList => out.push(kind::END),
        TcpOption::Nop => out.push(kind::NOP),
        TcpOption::Mss(value) => put(out, kind::MSS, &[&value.to_be_bytes()])?,
        TcpOption::WindowScale(shift) => put(out, kind::WINDOW_SCALE, &[&[shift]])?,
        TcpOption::SackPermitted => put(out, kind::SACK_PERMITTED, &[])?,
        TcpOption::Sack(blocks) => put(out, kind::SACK, &[blocks])?,
        TcpOption::Timestamps { tsval, tsecr } => put(
            out,
            kind::TIMESTAMPS,
            &[&tsval.to_be_bytes(), &tsecr.to_be_bytes()],
        )?,
        TcpOption::Md5(digest) => put(out, kind::MD5, &[digest])?,
        TcpOption::Ao {
            key_id,
            rnext_key_id,
            mac,
        } => put(out, kind::AO, &[&[key_id, rnext_key_id], mac])?,
        TcpOption::Mptcp(data) => put(out, kind::MPTCP, &[data])?,
        TcpOption::FastOpen(cookie) => put(out, kind::FAST_OPEN, &[cookie])?,
        TcpOption::Unknown { kind, data } => put(out, kind, &[data])?,
        TcpOption::BadLength { kind, .. } | TcpOption::Malformed { kind, .. } => {
            return Err(BuildError::NotSendable { kind: Some(kind) });
        }
        TcpOption::Cut { kind } => return Err(BuildError::NotSendable { kind }),
    }
    Ok(())
}

/// Appends kind, length and the data in its parts.
fn put(out: &mut Vec<u8>, kind: u8, data: &[&[u8]]) -> Result<(), BuildError> {
    let data_len: usize = data.iter().map(|part| part.len()).sum();
    let length = u8::try_from(2 + data_len).map_err(|_| BuildError::OptionTooLong { kind })?;
    out.extend_from_slice(&[kind, length]);
    for part in data {
        out.extend_from_slice(part);
    }
    Ok(())
}

/// The most option kinds a description keeps: every option but the last takes two
/// bytes at least, so 40 bytes of options hold no more than 21.
const MAX_KINDS: usize = 21;

/// What a SYN carried, read from its IP and TCP headers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SynDescription {
    /// IP version.
    pub version: IpVersion,
    /// TTL or hop limit as it arrived.
    pub ttl: u8,
    /// The MSS option (the last one, if there are several).
    pub mss: Option<u16>,
    /// The window scale shift.
    pub window_scale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps.
    pub timestamps: bool,
    kinds: [u8; MAX_KINDS],
    kind_count: u8,
}

impl SynDescription {
    /// The kind of every option in order, No-Operation and End of Option List left
    /// out; an option cut off before its kind byte counts as kind 0.
    pub fn option_kinds(&self) -> &[u8] {
        self.kinds
            .get(..usize::from(self.kind_count))
            .unwrap_or_default()
    }
}

/// Describes the SYN in `packet`, an IPv4 or IPv6 packet whose TCP header is
/// (at least in its fixed 20 bytes) present: the options are walked as far as they
/// were captured (ICMP errors quote only the start of a packet). `None` when the
/// bytes are not an IP packet carrying such a header.
pub fn describe(packet: &[u8]) -> Option<SynDescription> {
    let (version, ttl, tcp_at) = match packet.first()? >> 4 {
        4 => {
            let ip = ipv4::Packet::new_checked(packet).ok()?;
            if ip.protocol() != ipv6::protocol::TCP {
                return None;
            }
            (IpVersion::V4, ip.ttl(), ip.header_len())
        }
        6 => {
            let ip = ipv6::Packet::new_checked(packet).ok()?;
            // Quotes are cut short: walk the extensions over what is there.
            let rest = packet.get(ipv6::HEADER_LEN..)?;
            let chain = ipv6::walk_extensions(ip.next_header(), rest, 0);
            if chain.end != ipv6::ChainEnd::Upper || chain.protocol != ipv6::protocol::TCP {
                return None;
            }
            (
                IpVersion::V6,
                ip.hop_limit(),
                ipv6::HEADER_LEN + chain.offset,
            )
        }
        _ => return None,
    };
    let segment = tcp::Packet::new_lax(packet.get(tcp_at..)?).ok()?;
    let mut described = SynDescription {
        version,
        ttl,
        mss: None,
        window_scale: None,
        sack_permitted: false,
        timestamps: false,
        kinds: [0; MAX_KINDS],
        kind_count: 0,
    };
    let option_bytes = segment.option_bytes();
    for item in segment.options() {
        match item.option {
            TcpOption::EndOfList | TcpOption::Nop => continue,
            TcpOption::Mss(value) => described.mss = Some(value),
            TcpOption::WindowScale(shift) => described.window_scale = Some(shift),
            TcpOption::SackPermitted => described.sack_permitted = true,
            TcpOption::Timestamps { .. } => described.timestamps = true,
            _ => {}
        }
        if let Some(slot) = described.kinds.get_mut(usize::from(described.kind_count)) {
            // The kind byte as sent (Fast Open may be kind 34 or 254).
            *slot = option_bytes.get(item.offset).copied().unwrap_or(0);
            described.kind_count += 1;
        }
    }
    Some(described)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
