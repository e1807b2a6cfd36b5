//! Per-connection MSS analysis of captured packets, without I/O.
//!
//! Feed decoded packets in capture order with [`Analyzer::on_packet`] (several
//! capture points of the same traffic may be interleaved by time, each with its own
//! point index); take finished connections out with [`Analyzer::poll_finished`] as
//! they close, and the rest with [`Analyzer::finish`]. Memory is bounded by the live
//! connections, not by the capture: a connection is reported and dropped once it
//! has closed (plus a linger for late packets and other capture points), once idle
//! past a timeout, or, beyond a cap on live connections, half-open ones first.
//!
//! The rules are those of [`mss_rules`]: RFC 9293 section 3.7.1 for the effective
//! send MSS, Linux's floors where they differ. See [`report::Finding`] for what is
//! detected and [`explain`] for what each finding means.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod conn;
pub mod explain;
mod finalize;
pub mod record;
pub mod report;
pub mod series;
mod side;
pub mod watch;

use std::collections::{BTreeMap, VecDeque};

use mss_rules::IpVersion;
use mss_wire::packet::{IpPacket, Transport};
use mss_wire::{icmp, tcp};
use rustc_hash::FxHashMap;

use conn::{Connection, FlowKey, is_new_connection};
pub use report::ConnectionReport;
use report::{Ending, MssSeen};

/// Limits that keep memory bounded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Live connections kept at most; beyond, half-open ones (then the oldest) are
    /// reported early as evicted.
    pub max_connections: usize,
    /// A connection without packets for this long (capture time) is reported.
    pub idle_timeout_ns: u64,
    /// A closed connection is kept this long for late packets and for the same
    /// connection at other capture points.
    pub linger_ns: u64,
    /// For a monitor: report open connections before they end, with
    /// [`Analyzer::poll_interim`]: once when their handshake is seen (or a second
    /// after their first packet), then again after each period of this length in
    /// which they had packets. `None`: only finished connections are reported.
    pub interim_every_ns: Option<u64>,
    /// Collect each connection's segment sizes over time, per capture point and
    /// direction ([`ConnectionReport::segments`], for plots), in memory bounded per
    /// connection ([`series::MAX_POINTS`]). Off: the reports' `segments` are empty
    /// and the analysis does no extra work.
    pub segments: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_connections: 500_000,
            idle_timeout_ns: 3600 * 1_000_000_000,
            linger_ns: 5 * 1_000_000_000,
            interim_every_ns: None,
            segments: false,
        }
    }
}

/// Counts over the whole input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets seen.
    pub packets: u64,
    /// Packets with an IP header.
    pub ip_packets: u64,
    /// TCP segments (first fragments included).
    pub tcp_packets: u64,
    /// Frames that carry no IP (ARP, LLDP, ...).
    pub not_ip: u64,
    /// Frames of a link type that is not decoded, by link type.
    pub unsupported_links: BTreeMap<u16, u64>,
    /// Frames that could not be decoded.
    pub undecodable: u64,
    /// The first few of them: (input index, packet number, byte offset in the
    /// frame, what was wrong).
    pub undecodable_examples: Vec<(usize, u64, usize, String)>,
    /// TCP packets whose header was cut by the capture's snaplen.
    pub tcp_header_cut: u64,
    /// Connections reported.
    pub connections: u64,
    /// Connections reported early to bound memory.
    pub evicted: u64,
    /// MSS option values in SYNs and SYN-ACKs (at the point nearest the sender).
    pub syn_mss: BTreeMap<u16, u64>,
    /// Findings by kind.
    pub findings: BTreeMap<&'static str, u64>,
    /// ICMP too-big messages for flows not in the capture.
    pub unmatched_icmp: u64,
    /// IP fragments captured (of any protocol).
    pub fragments: u64,
    /// Datagrams put together from them.
    pub reassembled: u64,
    /// Datagrams given up with fragments missing.
    pub incomplete_datagrams: u64,
    /// Fragments dropped as Linux drops them, by reason (`overlap`, `bad_end`,
    /// `empty`, `oversized`, `unaligned`).
    pub fragments_discarded: BTreeMap<&'static str, u64>,
    /// Packets whose IP length is more than their frame had on the wire (malformed:
    /// what the frame holds is used instead).
    pub length_beyond_frame: u64,
    /// The first few of them: (input index, packet number, offset of the IP header
    /// in the frame, the IP length claimed, the bytes there).
    pub length_beyond_frame_examples: Vec<(usize, u64, usize, u32, u32)>,
}

/// A datagram given up with fragments missing: what is known of it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FragmentTrain {
    /// Fragments that arrived.
    pub fragments: u16,
    /// The datagram's data length if its last fragment arrived, else the end of the
    /// data known.
    pub len: u32,
    /// When the first of its fragments arrived.
    pub first_ns: u64,
}

/// What a capture point is: an input, and which of its interfaces when it has
/// several (a pcapng file with several interfaces, `tcpdump -i any`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PointName {
    /// The input's index.
    pub input: usize,
    /// Which host captured it: the input's index, or for the interfaces of one
    /// live capture (one host, several inputs) the first of them.
    pub host: usize,
    /// The interface's name or index, if the capture tells.
    pub interface: Option<std::sync::Arc<str>>,
}
/// An open connection without an answered handshake gets its first interim report
/// this long after its first packet.
const INTERIM_FIRST_NS: u64 = 1_000_000_000;

/// Sweep for closed and idle connections at most this often (capture time).
const SWEEP_EVERY_NS: u64 = 1_000_000_000;

/// The analysis state.
#[derive(Debug)]
pub struct Analyzer {
    config: Config,
    /// Boxed: the table stays small and cheap to grow; each connection moves once.
    live: FxHashMap<FlowKey, Box<Connection>>,
    finished: VecDeque<ConnectionReport>,
    /// Reports of open connections ([`Config::interim_every_ns`]).
    interim: VecDeque<ConnectionReport>,
    /// Connections left at the end of the input, in the order first seen, whose
    /// reports are built as they are polled (see [`Analyzer::end`]).
    ending: VecDeque<Box<Connection>>,
    /// Names of capture points given by [`Analyzer::name_point`].
    points: Vec<Option<PointName>>,
    next_id: u64,
    now: u64,
    last_sweep: u64,
    /// How often closed and idle connections are looked for: every second of
    /// capture time, or more often when they linger less.
    sweep_every: u64,
    summary: Summary,
}

impl Analyzer {
    /// An analyzer; packets of any number of capture points may be fed to it.
    pub fn new(config: Config) -> Analyzer {
        Analyzer {
            config,
            live: FxHashMap::default(),
            finished: VecDeque::new(),
            interim: VecDeque::new(),
            ending: VecDeque::new(),
            points: Vec::new(),
            next_id: 1,
            now: 0,
            last_sweep: 0,
            sweep_every: SWEEP_EVERY_NS.min(config.linger_ns / 2).max(1),
            summary: Summary::default(),
        }
    }

    /// The input a capture point is in.
    fn input_of(&self, point: usize) -> usize {
        self.points
            .get(point)
            .and_then(Option::as_ref)
            .map_or(point, |name| name.input)
    }

    /// Names capture point `point` (without a name, point `i` is input `i`).
    pub fn name_point(&mut self, point: usize, name: PointName) {
        if self.points.len() <= point {
            self.points.resize(point + 1, None);
        }
        if let Some(slot) = self.points.get_mut(point) {
            *slot = Some(name);
        }
    }

    /// An IP fragment held for reassembly.
    pub fn on_fragment_held(&mut self) {
        self.summary.packets += 1;
        self.summary.ip_packets += 1;
        self.summary.fragments += 1;
    }

    /// A fragment dropped, with `count` fragments in all (its datagram's held ones).
    pub fn on_fragments_discarded(&mut self, reason: &'static str, count: u16) {
        self.summary.packets += 1;
        self.summary.ip_packets += 1;
        self.summary.fragments += 1;
        *self.summary.fragments_discarded.entry(reason).or_default() += u64::from(count);
    }

    /// A datagram given up with fragments missing (not a packet of its own: its
    /// fragments were counted as they came), with its first fragment if that
    /// arrived (packet `number`, at `ts`). A TCP header in the first fragment is
    /// evidence like any other (flags, options; a connection it opens), but the
    /// segment's size is not known: it is never counted as a segment.
    pub fn on_incomplete_datagram(
        &mut self,
        point: usize,
        number: u64,
        ts: u64,
        first: Option<&IpPacket<'_>>,
        train: FragmentTrain,
    ) {
        self.summary.incomplete_datagrams += 1;
        let Some((packet, Transport::Tcp(segment))) = first.map(|p| (p, p.transport)) else {
            return;
        };
        if packet.fragment.is_none() {
            return;
        }
        self.summary.tcp_packets += 1;
        self.on_tcp(point, number, ts, packet, &segment);
        let (key, side) = FlowKey::of(
            (packet.src, segment.src_port()),
            (packet.dst, segment.dst_port()),
        );
        if let Some(conn) = self.live.get_mut(&key) {
            conn.on_incomplete(point, ts, side, train);
        }
    }

    /// A packet whose IP length (`claimed`) is more than its frame had on the wire
    /// (`there` bytes from its IP header): counted, with the first few kept.
    pub fn on_length_beyond_frame(
        &mut self,
        point: usize,
        number: u64,
        offset: usize,
        claimed: u32,
        there: u32,
    ) {
        self.summary.length_beyond_frame += 1;
        if self.summary.length_beyond_frame_examples.len() < 10 {
            let input = self.input_of(point);
            self.summary
                .length_beyond_frame_examples
                .push((input, number, offset, claimed, there));
        }
    }

    /// Moves the analysis's clock on to `now_ns` without a packet (a live input that
    /// is silent): connections closed or idle long enough by then are finished.
    pub fn advance(&mut self, now_ns: u64) {
        if now_ns > self.now {
            self.now = now_ns;
        }
        if self.now.saturating_sub(self.last_sweep) >= self.sweep_every {
            self.last_sweep = self.now;
            self.sweep();
        }
    }

    /// Counts a frame that carries no IP.
    pub fn on_not_ip(&mut self) {
        self.summary.packets += 1;
        self.summary.not_ip += 1;
    }

    /// Counts a frame of a link type that is not decoded.
    pub fn on_unsupported_link(&mut self, link_type: u16) {
        self.summary.packets += 1;
        *self.summary.unsupported_links.entry(link_type).or_default() += 1;
    }

    /// Counts a frame that could not be decoded, keeping the first few reasons.
    pub fn on_undecodable(
        &mut self,
        point: usize,
        number: u64,
        offset: usize,
        error: &mss_wire::Error,
    ) {
        self.summary.packets += 1;
        self.summary.undecodable += 1;
        if self.summary.undecodable_examples.len() < 10 {
            let input = self.input_of(point);
            self.summary
                .undecodable_examples
                .push((input, number, offset, error.to_string()));
        }
    }

    /// One decoded IP packet, captured at `point` (input index) as packet `number`
    /// at `ts` (ns since the epoch).
    pub fn on_packet(&mut self, point: usize, number: u64, ts: u64, packet: &IpPacket<'_>) {
        self.summary.packets += 1;
        self.summary.ip_packets += 1;
        if ts > self.now {
            self.now = ts;
        }
        match packet.transport {
            Transport::Tcp(segment) => {
                self.summary.tcp_packets += 1;
                if packet.fragment.is_some() {
                    // A first fragment not put together first (by a caller
                    // without reassembly).
                    self.summary.fragments += 1;
                }
                self.on_tcp(point, number, ts, packet, &segment);
            }
            Transport::TcpTruncated => self.summary.tcp_header_cut += 1,
            Transport::IcmpError(message) => self.on_icmp(point, ts, &message),
            // A fragment not put together first (by a caller without
            // reassembly): counted, never taken for a segment.
            Transport::LaterFragment => self.summary.fragments += 1,
            _ => {}
        }
        if packet.fragments > 0 {
            self.summary.fragments += 1;
            self.summary.reassembled += 1;
        }
        if self.now.saturating_sub(self.last_sweep) >= self.sweep_every {
            self.last_sweep = self.now;
            self.sweep();
        }
    }

    fn on_tcp(
        &mut self,
        point: usize,
        number: u64,
        ts: u64,
        packet: &IpPacket<'_>,
        segment: &tcp::Packet<&[u8]>,
    ) {
        let (key, side) = FlowKey::of(
            (packet.src, segment.src_port()),
            (packet.dst, segment.dst_port()),
        );
        if packet.fragment.is_none() {
            // The common case, one lookup: a packet of a connection already open.
            if let Some(conn) = self.live.get_mut(&key) {
                if !is_new_connection(conn, segment, side) {
                    conn.on_tcp(point, ts, packet, segment, side);
                    return;
                }
            }
        }
        let replace = self
            .live
            .get(&key)
            .is_some_and(|c| is_new_connection(c, segment, side));
        if replace {
            if let Some(old) = self.live.remove(&key) {
                self.report(&old, Ending::Open);
            }
        }
        if !self.live.contains_key(&key) {
            if self.live.len() >= self.config.max_connections {
                self.evict();
            }
            let version = if packet.is_ipv6() {
                IpVersion::V6
            } else {
                IpVersion::V4
            };
            let id = self.next_id;
            self.next_id += 1;
            let mut conn = Box::new(Connection::new(id, key, version, ts, number, side));
            conn.series = self.config.segments;
            self.live.insert(key, conn);
        }
        if let Some(conn) = self.live.get_mut(&key) {
            conn.on_tcp(point, ts, packet, segment, side);
        }
    }

    fn on_icmp(&mut self, point: usize, ts: u64, message: &icmp::ErrorMessage) {
        let too_big = matches!(
            message.kind,
            icmp::ErrorKind::FragmentationNeeded | icmp::ErrorKind::PacketTooBig
        );
        let Some(quoted) = message.quoted.filter(|q| too_big && q.protocol == 6) else {
            return;
        };
        let (Some(src_port), Some(dst_port)) = (quoted.src_port, quoted.dst_port) else {
            self.summary.unmatched_icmp += 1;
            return;
        };
        let (key, side) = FlowKey::of((quoted.src, src_port), (quoted.dst, dst_port));
        match self.live.get_mut(&key) {
            Some(conn) => conn.on_too_big(point, ts, message, quoted.ip_len, side),
            None => self.summary.unmatched_icmp += 1,
        }
    }

    /// Reports connections closed longer than the linger and idle ones, in id order.
    fn sweep(&mut self) {
        let now = self.now;
        let config = self.config;
        let mut done: Vec<(u64, FlowKey)> = self
            .live
            .iter()
            .filter(|(_, c)| {
                c.closed_ns
                    .is_some_and(|closed| now.saturating_sub(closed) >= config.linger_ns)
                    || now.saturating_sub(c.last_ns) >= config.idle_timeout_ns
            })
            .map(|(k, c)| (c.id, *k))
            .collect();
        // In the order first seen, whatever the table's order.
        done.sort_unstable_by_key(|&(id, _)| id);
        for (_, key) in done {
            if let Some(conn) = self.live.remove(&key) {
                self.report(&conn, Ending::Open);
            }
        }
        if let Some(every) = config.interim_every_ns {
            self.interim_reports(every);
        }
    }

    /// Reports open connections that are due one: a first report once the
    /// handshake is answered (every capture point's copy of the SYN is in by then,
    /// so a rewrite shows) or a second after the first packet, then one per
    /// `every` of capture time in which packets came.
    fn interim_reports(&mut self, every: u64) {
        let now = self.now;
        let mut due: Vec<(u64, FlowKey)> = self
            .live
            .iter()
            .filter(|(_, c)| match c.interim_ns {
                None => {
                    c.points.iter().any(|(_, p)| p.syn_ack_ts.is_some())
                        || now.saturating_sub(c.first_ns) >= INTERIM_FIRST_NS
                }
                Some(at) => c.last_ns > at && now.saturating_sub(at) >= every,
            })
            .map(|(k, c)| (c.id, *k))
            .collect();
        due.sort_unstable_by_key(|&(id, _)| id);
        for (_, key) in due {
            if let Some(conn) = self.live.get_mut(&key) {
                conn.interim_ns = Some(now);
                let report = finalize::report(conn, Ending::Open, &self.points);
                self.interim.push_back(report);
            }
        }
    }

    /// Makes room: half-open connections first, then the least recently active,
    /// down to 90% of the cap.
    fn evict(&mut self) {
        let target = self.config.max_connections - self.config.max_connections / 10;
        let mut candidates: Vec<(bool, u64, FlowKey)> = self
            .live
            .iter()
            .map(|(k, c)| (!c.is_half_open(), c.last_ns, *k))
            .collect();
        candidates.sort_unstable_by_key(|&(full, last, _)| (full, last));
        let excess = self.live.len().saturating_sub(target);
        for (_, _, key) in candidates.into_iter().take(excess) {
            if let Some(conn) = self.live.remove(&key) {
                self.summary.evicted += 1;
                self.report(&conn, Ending::Evicted);
            }
        }
    }

    fn report(&mut self, conn: &Connection, ending: Ending) {
        let report = finalize::report(conn, ending, &self.points);
        self.summary.connections += 1;
        for endpoint in [&report.client, &report.server] {
            if let MssSeen::Value(v) = endpoint.syn_mss {
                *self.summary.syn_mss.entry(v).or_default() += 1;
            }
        }
        for finding in &report.findings {
            *self.summary.findings.entry(finding.kind()).or_default() += 1;
        }
        self.finished.push_back(report);
    }

    /// The next connection that is finished, if any.
    pub fn poll_finished(&mut self) -> Option<ConnectionReport> {
        if let Some(report) = self.finished.pop_front() {
            return Some(report);
        }
        let conn = self.ending.pop_front()?;
        self.report(&conn, Ending::Open);
        self.finished.pop_front()
    }

    /// The next report of a connection still open ([`Config::interim_every_ns`]),
    /// if any: its state so far, with the same id as its final report.
    pub fn poll_interim(&mut self) -> Option<ConnectionReport> {
        self.interim.pop_front()
    }

    /// Ends the input: every live connection is finished (in the order first seen)
    /// and can be taken with [`Analyzer::poll_finished`]. Returns the counts.
    pub fn finish(&mut self) -> Summary {
        self.end();
        while let Some(conn) = self.ending.pop_front() {
            self.report(&conn, Ending::Open);
        }
        self.summary.clone()
    }

    /// Ends the input like [`Analyzer::finish`], but builds each report only when
    /// [`Analyzer::poll_finished`] takes it, so a caller can hand the first reports
    /// on while the rest are built. [`Analyzer::summary`] has the final counts once
    /// `poll_finished` has returned `None`.
    pub fn end(&mut self) {
        // Sorted with the ids beside the boxes: comparing through the boxes would
        // reach into every connection again and again.
        let mut rest: Vec<(u64, Box<Connection>)> =
            self.live.drain().map(|(_, c)| (c.id, c)).collect();
        rest.sort_unstable_by_key(|&(id, _)| id);
        self.ending.extend(rest.into_iter().map(|(_, c)| c));
    }

    /// The counts so far; final once the input has ended and every finished
    /// connection has been polled.
    pub fn summary(&self) -> Summary {
        self.summary.clone()
    }

    /// Live connections now.
    pub fn live_connections(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
