//! One connection as seen at every capture point, updated packet by packet.

use core::net::IpAddr;

use mss_rules::rfc::{self, SendMssInputs};
use mss_rules::{IpVersion, Mss, Mtu};
use mss_wire::icmp;
use mss_wire::packet::{IpPacket, Tunnel};
use mss_wire::tcp;

use crate::report::{MssSeen, RoleEvidence};
use crate::side::{Pair, Segment, Sent, Side, SynSeen};

/// An endpoint.
pub(crate) type Endpoint = (IpAddr, u16);

/// An address as 128 bits (IPv4 in its low 32) with its family: cheap to compare and
/// to hash, which happens for every packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    addr: u128,
    port: u16,
}

impl Key {
    fn new((addr, port): Endpoint) -> Key {
        let addr = match addr {
            IpAddr::V4(v4) => u128::from(v4.to_bits()),
            IpAddr::V6(v6) => v6.to_bits(),
        };
        Key { addr, port }
    }
}

/// A connection's endpoints in canonical order (`a < b`), so both directions find
/// the same entry. The addresses are kept as two `u64` halves (high, low) rather
/// than `u128`: the key is 8-byte aligned, 40 bytes instead of 80, which halves the
/// table's entries (copied whenever it grows) and each connection's copy of it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    a: [u64; 2],
    b: [u64; 2],
    ports: [u16; 2],
    v6: bool,
}

/// A 128-bit address as (high, low) halves.
#[inline]
fn halves(addr: u128) -> [u64; 2] {
    let bytes = addr.to_be_bytes();
    let mut high = [0u8; 8];
    let mut low = [0u8; 8];
    high.copy_from_slice(&bytes[..8]);
    low.copy_from_slice(&bytes[8..]);
    [u64::from_be_bytes(high), u64::from_be_bytes(low)]
}

#[inline]
fn whole([high, low]: [u64; 2]) -> u128 {
    (u128::from(high) << 64) | u128::from(low)
}

/// Hashed by hand for speed: the derived `Hash` writes each array's length before
/// its elements (three more writes per lookup, once per packet; measured with
/// callgrind at +2.5% instructions for a whole analysis). Iteration order does not
/// matter: swept connections are reported in id order.
impl core::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.a[0]);
        state.write_u64(self.a[1]);
        state.write_u64(self.b[0]);
        state.write_u64(self.b[1]);
        state.write_u32((u32::from(self.ports[0]) << 16) | u32::from(self.ports[1]));
        state.write_u8(u8::from(self.v6));
    }
}

impl FlowKey {
    /// The key and the sender's side (`A` for `a`, `B` for `b`).
    #[inline]
    pub(crate) fn of(src: Endpoint, dst: Endpoint) -> (FlowKey, Side) {
        let v6 = src.0.is_ipv6();
        let (s, d) = (Key::new(src), Key::new(dst));
        let (a, b, side) = if s <= d {
            (s, d, Side::A)
        } else {
            (d, s, Side::B)
        };
        let key = FlowKey {
            a: halves(a.addr),
            b: halves(b.addr),
            ports: [a.port, b.port],
            v6,
        };
        (key, side)
    }

    pub(crate) fn endpoint(&self, side: Side) -> Endpoint {
        let (addr, port) = if side == Side::A {
            (whole(self.a), self.ports[0])
        } else {
            (whole(self.b), self.ports[1])
        };
        let addr = if self.v6 {
            IpAddr::V6(core::net::Ipv6Addr::from_bits(addr))
        } else {
            // IPv4 keys only hold 32 bits.
            IpAddr::V4(core::net::Ipv4Addr::from_bits(
                u32::try_from(addr).unwrap_or(0),
            ))
        };
        (addr, port)
    }
}

/// What one capture point saw of a connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct PointState {
    pub(crate) sides: Pair<Sent>,
    pub(crate) packets: u64,
    pub(crate) syn_ts: Option<u64>,
    pub(crate) syn_ack_ts: Option<u64>,
    pub(crate) ack_ts: Option<u64>,
}

/// A connection's state per capture point. The first point's state is kept inline:
/// most analyses have one capture, and every packet reaches its state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Points {
    first: Option<PointState>,
    rest: Vec<Option<PointState>>,
}

impl Points {
    /// The state at `point`, created if it is not there yet.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, point: usize) -> &mut PointState {
        if point == 0 {
            return self.first.get_or_insert_with(PointState::default);
        }
        self.other(point)
    }

    /// A capture point other than the first (several captures merged).
    #[inline(never)]
    fn other(&mut self, point: usize) -> &mut PointState {
        let i = point - 1;
        if i >= self.rest.len() {
            self.rest.resize(i + 1, None);
        }
        self.rest[i].get_or_insert_with(PointState::default)
    }

    /// The state at `point`, if it saw the connection.
    pub(crate) fn get(&self, point: usize) -> Option<&PointState> {
        match point.checked_sub(1) {
            None => self.first.as_ref(),
            Some(i) => self.rest.get(i).and_then(Option::as_ref),
        }
    }

    /// Every point that saw the connection, with its index.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &PointState)> {
        core::iter::once(self.first.as_ref())
            .chain(self.rest.iter().map(Option::as_ref))
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p)))
    }
}

/// A connection across capture points.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) key: FlowKey,
    pub(crate) version: IpVersion,
    pub(crate) points: Points,
    pub(crate) first_ns: u64,
    pub(crate) last_ns: u64,
    pub(crate) first_packet: u64,
    /// The client's side, once known, and how.
    pub(crate) client: Option<(Side, RoleEvidence)>,
    /// The side that sent the first packet seen.
    pub(crate) first_sender: Side,
    pub(crate) tunnel: Option<Tunnel>,
    /// When the connection closed (both FINs, or a RST).
    pub(crate) closed_ns: Option<u64>,
    pub(crate) reset: bool,
    /// The client's initial sequence number, to tell a reused port pair.
    pub(crate) client_isn: Option<u32>,
    /// When its last interim report was made (capture time), if one was.
    pub(crate) interim_ns: Option<u64>,
    /// Whether segment sizes over time are collected ([`crate::Config::segments`]).
    pub(crate) series: bool,
}

/// Whether a TCP packet starts a new connection on a key whose current entry is a
/// different one (a new SYN after the old one closed, or with another ISN).
pub(crate) fn is_new_connection(
    conn: &Connection,
    segment: &tcp::Packet<&[u8]>,
    side: Side,
) -> bool {
    let flags = segment.flags();
    if !flags.is_syn() {
        return false;
    }
    match conn.client {
        Some((client, RoleEvidence::Syn)) if client == side => conn
            .client_isn
            .is_some_and(|isn| isn != segment.seq_number()),
        _ => conn.closed_ns.is_some(),
    }
}

impl Connection {
    pub(crate) fn new(
        id: u64,
        key: FlowKey,
        version: IpVersion,
        ts: u64,
        number: u64,
        sender: Side,
    ) -> Connection {
        Connection {
            id,
            key,
            version,
            points: Points::default(),
            first_ns: ts,
            last_ns: ts,
            first_packet: number,
            client: None,
            first_sender: sender,
            tunnel: None,
            closed_ns: None,
            reset: false,
            client_isn: None,
            interim_ns: None,
            series: false,
        }
    }

    #[inline]
    fn point(&mut self, point: usize) -> &mut PointState {
        self.points.get_or_insert(point)
    }

    /// A TCP segment from side `side` captured at `point`.
    pub(crate) fn on_tcp(
        &mut self,
        point: usize,
        ts: u64,
        ip: &IpPacket<'_>,
        segment: &tcp::Packet<&[u8]>,
        side: Side,
    ) {
        self.last_ns = self.last_ns.max(ts);
        if ip.tunnel.is_some() {
            self.tunnel = ip.tunnel;
        }
        let flags = segment.flags();
        self.note_role(segment, side);
        let client = self.client.map(|(c, _)| c);
        let version = self.version;
        let t_ns = ts.saturating_sub(self.first_ns);
        let series = self.series;
        let state = self.point(point);
        state.packets += 1;
        if series && state.sides[side].series.is_none() {
            state.sides[side].series = Some(Box::default());
        }
        let ip_extra = ip.header_len.saturating_sub(version_header(version));
        let tcp_header = u32::try_from(segment.header_len()).unwrap_or(60);
        // The payload as sent, from the IP length (the capture may hold less).
        let payload = if ip.ip_len == 0 {
            u32::try_from(segment.payload().len()).unwrap_or(u32::MAX)
        } else {
            ip.ip_len.saturating_sub(ip.header_len + tcp_header)
        };
        let ip_id = match ip.src {
            IpAddr::V4(_) if ip.ident != 0 => u16::try_from(ip.ident).ok(),
            _ => None,
        };
        if flags.contains(tcp::Flags::SYN) {
            state.sides[side].on_syn(SynSeen::read(ip.ttl, segment));
            if flags.is_syn() {
                state.syn_ts.get_or_insert(ts);
            } else {
                state.syn_ack_ts.get_or_insert(ts);
            }
        } else {
            state.sides[side].on_options(segment);
            if state.syn_ack_ts.is_some() && state.ack_ts.is_none() && client == Some(side) {
                state.ack_ts = Some(ts);
            }
        }
        // Only data segments are judged against the send MSS.
        let limit = if payload > 0 {
            send_limit(version, state, side, tcp_header, ip_extra)
        } else {
            None
        };
        let record = Segment {
            t_ns,
            ttl: ip.ttl,
            ip_id,
            ip_len: if ip.ip_len == 0 {
                ip.header_len + tcp_header + payload
            } else {
                ip.ip_len
            },
            ip_extra,
            seq: segment.seq_number(),
            payload,
            ack: flags
                .contains(tcp::Flags::ACK)
                .then(|| segment.ack_number()),
            syn: flags.contains(tcp::Flags::SYN),
            fin: flags.contains(tcp::Flags::FIN),
            rst: flags.contains(tcp::Flags::RST),
            psh: flags.contains(tcp::Flags::PSH),
        };
        // A first fragment not put together first: its segment's size is not known.
        if ip.fragment.is_none() {
            state.sides[side].on_segment(&record, limit);
        }
        if let Some(ack) = record.ack {
            let own = &mut state.sides[side];
            if own.max_ack.is_none_or(|m| crate::side::seq_lt(m, ack)) {
                own.max_ack = Some(ack);
            }
            state.sides[side.peer()].on_peer_ack(ack);
        }
        if ip.fragment.is_some() {
            state.sides[side].on_fragments(1);
        } else if ip.fragments > 0 {
            state.sides[side].on_fragments(ip.fragments);
        }
        if record.rst || record.fin {
            self.note_close(record.rst, ts);
        }
    }

    /// Who is the client: the sender of a SYN, else the receiver of a SYN-ACK.
    #[inline]
    fn note_role(&mut self, segment: &tcp::Packet<&[u8]>, side: Side) {
        let flags = segment.flags();
        if flags.is_syn() {
            if self
                .client
                .is_none_or(|(_, evidence)| evidence != RoleEvidence::Syn)
            {
                self.client = Some((side, RoleEvidence::Syn));
                self.client_isn = Some(segment.seq_number());
            }
        } else if flags.is_syn_ack() && self.client.is_none() {
            self.client = Some((side.peer(), RoleEvidence::SynAck));
        }
    }

    /// A RST closes the connection; a FIN does once both sides have sent one.
    #[cold]
    fn note_close(&mut self, rst: bool, ts: u64) {
        if rst {
            self.reset = true;
            self.closed_ns.get_or_insert(ts);
        } else if self.closed_ns.is_none() {
            let both_fin = self
                .points
                .iter()
                .any(|(_, p)| p.sides[Side::A].fin && p.sides[Side::B].fin);
            if both_fin {
                self.closed_ns = Some(ts);
            }
        }
    }

    /// An ICMP too-big message for side `side`'s packet, captured at `point`.
    pub(crate) fn on_too_big(
        &mut self,
        point: usize,
        ts: u64,
        message: &icmp::ErrorMessage,
        size: u32,
        side: Side,
    ) {
        self.last_ns = self.last_ns.max(ts);
        let t_ns = ts.saturating_sub(self.first_ns);
        let series = self.series;
        let sent = &mut self.point(point).sides[side];
        if series && sent.series.is_none() {
            sent.series = Some(Box::default());
        }
        sent.on_too_big(t_ns, message, size);
    }

    /// A datagram of side `side`'s, captured at `point`, given up with fragments
    /// missing.
    pub(crate) fn on_incomplete(
        &mut self,
        point: usize,
        ts: u64,
        side: Side,
        train: crate::FragmentTrain,
    ) {
        self.last_ns = self.last_ns.max(ts);
        self.point(point).sides[side].on_incomplete(train);
    }

    /// Whether nothing but SYNs was seen (a half-open connection).
    pub(crate) fn is_half_open(&self) -> bool {
        self.points
            .iter()
            .all(|(_, p)| p.sides.iter().all(|s| s.data_segments == 0) && p.syn_ack_ts.is_none())
    }
}

pub(crate) fn version_header(version: IpVersion) -> u32 {
    version.header_len()
}

/// RFC 9293 section 3.7.1 (MUST-16) for one segment: what the peer's MSS option (as
/// captured here; the default without one) allows a segment with these headers to
/// carry ([`rfc::effective_send_mss`] without a path MTU bound). `None` until the
/// peer's SYN has been seen. The sender's own option is not a bound here: it only
/// hints at the sender's MTU, and some stacks announce a fixed value below what they
/// can send (tcpdump's of10_s4810.pcap: MSS 1380 announced, 1500-byte packets sent
/// whole, within the peer's 1460).
fn send_limit(
    version: IpVersion,
    state: &PointState,
    side: Side,
    tcp_header: u32,
    ip_extra: u32,
) -> Option<u32> {
    let peer = state.sides[side.peer()].syn.as_ref()?;
    let peer_mss = match peer.mss {
        // Linux ignores an MSS of 0 (tcp_parse_options()): the default applies.
        MssSeen::Value(0) | MssSeen::Absent => None,
        MssSeen::Value(v) => Some(Mss(v)),
        MssSeen::Unknown | MssSeen::NotCaptured => return None,
    };
    Some(rfc::effective_send_mss(SendMssInputs {
        version,
        peer_mss,
        path_mtu: Mtu(u32::MAX),
        tcp_option_bytes: tcp_header.saturating_sub(mss_rules::TCP_HEADER_LEN),
        ip_option_bytes: ip_extra,
    }))
}
