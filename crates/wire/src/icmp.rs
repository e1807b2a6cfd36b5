//! ICMP and ICMPv6 error messages: what they say and the packet they quote.
//!
//! RFC 792 (ICMP), RFC 1191 (the next-hop MTU in "fragmentation needed"), RFC 4443
//! (ICMPv6, "packet too big"), RFC 4884 (extended quotes). The quoted packet starts 8
//! bytes into the message and holds at least the IP header and 8 bytes of what
//! followed it: for TCP, the ports and the sequence number.

use core::net::IpAddr;

use crate::{be16, be32, ipv4, ipv6, tail};

/// The kinds of error message that matter for MSS and path MTU.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// ICMPv4 type 3 code 4 (RFC 1191): the packet was too big and had DF set.
    FragmentationNeeded,
    /// ICMPv6 type 2 (RFC 4443 section 3.2).
    PacketTooBig,
    /// ICMPv4 type 3 with another code, or ICMPv6 type 1.
    Unreachable {
        /// The code.
        code: u8,
    },
    /// ICMPv4 type 11 or ICMPv6 type 3.
    TimeExceeded,
    /// ICMPv4 type 12 or ICMPv6 type 4.
    ParameterProblem,
}

/// An ICMP or ICMPv6 error and the packet it quotes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorMessage {
    /// What the error says.
    pub kind: ErrorKind,
    /// The MTU the error announces: next-hop MTU of a "fragmentation needed" (0 from
    /// routers that predate RFC 1191), or the MTU of a "packet too big".
    pub mtu: Option<u32>,
    /// The quoted packet, as far as it could be read.
    pub quoted: Option<Quoted>,
}

/// What an error message quotes of the packet that caused it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Quoted {
    /// Source of the quoted packet (the sender the error is for).
    pub src: IpAddr,
    /// Its destination.
    pub dst: IpAddr,
    /// Its upper-layer protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// Its length as sent (IPv4 total length, IPv6 40 + payload length): the size that
    /// did not fit.
    pub ip_len: u32,
    /// Its TTL or hop limit when the router saw it.
    pub ttl: u8,
    /// TCP/UDP source port, if quoted.
    pub src_port: Option<u16>,
    /// TCP/UDP destination port, if quoted.
    pub dst_port: Option<u16>,
    /// TCP sequence number, if quoted.
    pub tcp_seq: Option<u32>,
}

/// Reads an ICMPv4 message; `None` for types that are not errors or bytes too short.
pub fn parse_v4(message: &[u8]) -> Option<ErrorMessage> {
    let (&kind, &code) = (message.first()?, message.get(1)?);
    let kind = match (kind, code) {
        (3, 4) => ErrorKind::FragmentationNeeded,
        (3, code) => ErrorKind::Unreachable { code },
        (11, _) => ErrorKind::TimeExceeded,
        (12, _) => ErrorKind::ParameterProblem,
        _ => return None,
    };
    let mtu = if kind == ErrorKind::FragmentationNeeded {
        message.get(6..8).map(|b| u32::from(be16(b, 0)))
    } else {
        None
    };
    Some(error_message(kind, mtu, message))
}

/// The bytes an ICMP or ICMPv6 error message quotes of the packet that caused it:
/// both versions put them from byte 8 on (RFC 792, RFC 4443 section 3). `None`
/// when the message is shorter.
pub fn quote(message: &[u8]) -> Option<&[u8]> {
    message.get(QUOTE_AT..)
}

/// Where the quote starts: after type, code, checksum and 4 bytes of unused space,
/// next-hop MTU or pointer.
const QUOTE_AT: usize = 8;

fn error_message(kind: ErrorKind, mtu: Option<u32>, message: &[u8]) -> ErrorMessage {
    ErrorMessage {
        kind,
        mtu,
        quoted: quote(message).and_then(quoted),
    }
}

/// Reads an ICMPv6 message; `None` for types that are not errors or bytes too short.
pub fn parse_v6(message: &[u8]) -> Option<ErrorMessage> {
    let (&kind, &code) = (message.first()?, message.get(1)?);
    let kind = match kind {
        1 => ErrorKind::Unreachable { code },
        2 => ErrorKind::PacketTooBig,
        3 => ErrorKind::TimeExceeded,
        4 => ErrorKind::ParameterProblem,
        _ => return None,
    };
    let mtu = if kind == ErrorKind::PacketTooBig {
        message.get(4..8).map(|b| be32(b, 0))
    } else {
        None
    };
    Some(error_message(kind, mtu, message))
}

/// Reads a quoted IP packet (IPv4 or IPv6) and the start of its TCP or UDP header.
fn quoted(bytes: &[u8]) -> Option<Quoted> {
    let (src, dst, protocol, ip_len, ttl, upper) = match bytes.first()? >> 4 {
        4 => {
            let ip = ipv4::Packet::new_checked(bytes).ok()?;
            let header_len = ip.header_len();
            // A later fragment quotes no transport header.
            let upper = if ip.frag_offset() == 0 {
                tail(bytes, header_len)
            } else {
                &[]
            };
            (
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                ip.protocol(),
                u32::from(ip.total_len()),
                ip.ttl(),
                upper,
            )
        }
        6 => {
            let ip = ipv6::Packet::new_checked(bytes).ok()?;
            // Quotes are cut short: walk the extensions over what is there.
            let rest = tail(bytes, ipv6::HEADER_LEN);
            let chain = ipv6::walk_extensions(ip.next_header(), rest, 0);
            let upper = if chain.end == ipv6::ChainEnd::Upper {
                tail(rest, chain.offset)
            } else {
                &[]
            };
            (
                IpAddr::V6(ip.src_addr()),
                IpAddr::V6(ip.dst_addr()),
                chain.protocol,
                40 + u32::from(ip.payload_len()),
                ip.hop_limit(),
                upper,
            )
        }
        _ => return None,
    };
    let has_ports = matches!(protocol, 6 | 17) && upper.len() >= 4;
    Some(Quoted {
        src,
        dst,
        protocol,
        ip_len,
        ttl,
        src_port: has_ports.then(|| be16(upper, 0)),
        dst_port: has_ports.then(|| be16(upper, 2)),
        tcp_seq: (protocol == 6 && upper.len() >= 8).then(|| be32(upper, 4)),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Seed 003 frame 16: "fragmentation needed, MTU of next hop 1400" quoting a UDP
    /// packet from 10.0.0.10:59335 to 10.0.1.10:44446.
    #[test]
    fn frag_needed_from_the_seed() {
        let mut message = vec![3, 4, 0x6c, 0xbb, 0, 0, 0x05, 0x78];
        message.extend_from_slice(&[
            0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 1, 17, 0x5e, 0xfe, 10, 0, 0, 10, 10, 0, 1, 10,
        ]);
        message.extend_from_slice(&[0xe7, 0xc7, 0xad, 0x9e, 0x05, 0xc8, 0, 0]);
        let error = parse_v4(&message);
        assert_eq!(
            error.map(|e| (e.kind, e.mtu)),
            Some((ErrorKind::FragmentationNeeded, Some(1400)))
        );
        let quoted = error.and_then(|e| e.quoted);
        assert_eq!(
            quoted.map(|q| (q.ip_len, q.protocol, q.src_port, q.dst_port)),
            Some((1500, 17, Some(59335), Some(44446)))
        );
        assert_eq!(
            quoted.map(|q| q.src),
            Some("10.0.0.10".parse().unwrap_or(IpAddr::V4([0; 4].into())))
        );
    }

    #[test]
    fn packet_too_big_and_non_errors() {
        let mut message = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        let mut ip6 = vec![0x60, 0, 0, 0, 0x05, 0x8c, 6, 64];
        ip6.extend_from_slice(&[0xfd; 16]);
        ip6.extend_from_slice(&[0xfe; 16]);
        ip6.extend_from_slice(&[0x13, 0x88, 0x00, 0x50, 0, 0, 0, 42]);
        message.extend_from_slice(&ip6);
        let error = parse_v6(&message);
        assert_eq!(
            error.map(|e| (e.kind, e.mtu)),
            Some((ErrorKind::PacketTooBig, Some(1280)))
        );
        let quoted = error.and_then(|e| e.quoted);
        assert_eq!(
            quoted.map(|q| (q.ip_len, q.src_port, q.tcp_seq)),
            Some((1460, Some(5000), Some(42)))
        );
        assert_eq!(parse_v6(&[128, 0, 0, 0]), None);
        assert_eq!(parse_v4(&[8, 0, 0, 0]), None);
        assert_eq!(parse_v4(&[3]), None);
    }

    #[test]
    fn echo_requests_and_replies() {
        let request = Echo::request(false, 0x1234, 5, 100);
        assert_eq!(request.len(), 108);
        assert_eq!(crate::checksum::checksum(&request), 0, "sums to zero");
        let parsed = Echo::parse(&request, false).expect("an echo");
        assert_eq!((parsed.reply, parsed.ident, parsed.seq), (false, 0x1234, 5));
        assert_eq!(parsed.token(), 0x1234_0005);
        // ICMPv6: type 128, the checksum left to the kernel.
        let v6 = Echo::request(true, 7, 9, 0);
        assert_eq!((v6[0], v6[2], v6[3]), (128, 0, 0));
        assert_eq!(Echo::parse(&v6, false), None, "not an ICMPv4 type");
        let mut reply = v6.clone();
        reply[0] = 129;
        assert_eq!(Echo::parse(&reply, true).map(|e| e.reply), Some(true));
        reply[1] = 1;
        assert_eq!(Echo::parse(&reply, true), None, "code 1");
        assert_eq!(Echo::parse(&reply[..7], true), None, "short");
    }
}

/// An ICMP (RFC 792) or ICMPv6 (RFC 4443 section 4.1 and 4.2) echo message: the
/// probe `mss probe path --method icmp` sends and the answer it waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Echo {
    /// A reply (else a request).
    pub reply: bool,
    /// The identifier.
    pub ident: u16,
    /// The sequence number.
    pub seq: u16,
}

impl Echo {
    /// Echo request and reply types: (ICMPv4, ICMPv6).
    const REQUEST: (u8, u8) = (8, 128);
    const REPLY: (u8, u8) = (0, 129);

    /// The echo message at the start of `message` (ICMPv6 when `v6`): `None` for
    /// another type, a code other than 0, or fewer than 8 bytes.
    pub fn parse(message: &[u8], v6: bool) -> Option<Echo> {
        let header = message.first_chunk::<8>()?;
        let pick = |(v4_type, v6_type): (u8, u8)| if v6 { v6_type } else { v4_type };
        let reply = match header[0] {
            t if t == pick(Self::REPLY) => true,
            t if t == pick(Self::REQUEST) => false,
            _ => return None,
        };
        (header[1] == 0).then(|| Echo {
            reply,
            ident: be16(header, 4),
            seq: be16(header, 6),
        })
    }

    /// A request with `payload` zero bytes after the header. The ICMPv4 checksum is
    /// filled in (RFC 1071); the ICMPv6 one is left 0 for the kernel, which fills
    /// it on raw ICMPv6 sockets (RFC 3542 section 3.1) as it needs the addresses.
    pub fn request(v6: bool, ident: u16, seq: u16, payload: usize) -> Vec<u8> {
        let mut message = vec![0u8; 8 + payload];
        crate::set_byte(
            &mut message,
            0,
            if v6 { Self::REQUEST.1 } else { Self::REQUEST.0 },
        );
        crate::set_be16(&mut message, 4, ident);
        crate::set_be16(&mut message, 6, seq);
        if !v6 {
            let sum = crate::checksum::checksum(&message);
            crate::set_be16(&mut message, 2, sum);
        }
        message
    }

    /// Identifier and sequence as one number (the probe's token).
    pub fn token(self) -> u32 {
        (u32::from(self.ident) << 16) | u32::from(self.seq)
    }
}
