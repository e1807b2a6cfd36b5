//! A monitor's rolling state (`mss watch`): what the connections of a long
//! capture add up to, from their reports as they come (interim ones of open
//! connections, then the final one), with memory bounded by the open connections.
//!
//! Every count here only grows, as Prometheus counters must: a finding is counted
//! once per connection (and endpoint) however many reports repeat it; ICMP
//! too-big messages and oversize segments by the increase since the connection's
//! last report. Label values are bounded: interfaces are the capture points, kinds
//! and directions fixed sets, and MSS or MTU values at most [`VALUES_PER_LABEL`]
//! distinct ones per metric, beyond which they count as `other`.
//!
//! Pure: times are capture times from the reports, no clock, no I/O.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::report::{ConnectionReport, Finding, MssSeen, PointSeen, Role};

/// The histogram buckets for MSS values (upper bounds, bytes): the values real
/// links, clamps and options produce, so a bucket tells a cause (1460 Ethernet,
/// 1448 and 1428 with timestamps, 1452 PPPoE, 1380 and 1360 common clamps, 1348
/// and 1288 them with timestamps, 1220 and 536 the IPv6 and IPv4 minimums, 8960
/// jumbo frames, 65495 loopback).
pub const MSS_BUCKETS: [u32; 24] = [
    536, 1024, 1220, 1240, 1280, 1288, 1300, 1320, 1340, 1348, 1360, 1380, 1400, 1420, 1428, 1440,
    1448, 1452, 1460, 1500, 4000, 8960, 9000, 65495,
];

/// Distinct MSS or MTU values a metric labels by; later ones are `other`.
pub const VALUES_PER_LABEL: usize = 64;

/// Minutes of connection counts kept for the rate view.
pub const MINUTES_KEPT: usize = 60;

/// Recent findings kept for the live view.
pub const RECENT_KEPT: usize = 200;

/// Which SYN of the handshake.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// The client's SYN.
    Syn,
    /// The server's SYN-ACK.
    SynAck,
}

impl Direction {
    /// The label value: `syn` or `syn_ack`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Syn => "syn",
            Direction::SynAck => "syn_ack",
        }
    }

    /// The direction of the SYN an endpoint sends.
    pub fn of(role: Role) -> Direction {
        match role {
            Role::Client => Direction::Syn,
            Role::Server => Direction::SynAck,
        }
    }
}

/// A value as a label: itself, or `other` once a metric has too many.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// The value.
    Is(u32),
    /// One of the values beyond the first [`VALUES_PER_LABEL`].
    Other,
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Is(v) => write!(f, "{v}"),
            Value::Other => f.write_str("other"),
        }
    }
}

/// The values a metric has labelled by, at most [`VALUES_PER_LABEL`].
#[derive(Clone, Debug, Default)]
struct Admitted(BTreeSet<u32>);

impl Admitted {
    fn label(&mut self, value: u32) -> Value {
        if self.0.contains(&value) {
            return Value::Is(value);
        }
        if self.0.len() < VALUES_PER_LABEL {
            self.0.insert(value);
            return Value::Is(value);
        }
        Value::Other
    }
}

/// A histogram over [`MSS_BUCKETS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last is above every bound.
    pub counts: [u64; MSS_BUCKETS.len() + 1],
    /// The sum of the values.
    pub sum: u64,
    /// Observations.
    pub count: u64,
}

impl Histogram {
    /// Counts `value`.
    pub fn observe(&mut self, value: u32) {
        let bucket = MSS_BUCKETS.partition_point(|&bound| bound < value);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
        self.sum += u64::from(value);
        self.count += 1;
    }

    /// The count of each bucket by its upper bound, ending with `+Inf` (not
    /// cumulative: Prometheus's `le` series add them up).
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        MSS_BUCKETS
            .iter()
            .map(|&bound| f64::from(bound))
            .chain([f64::INFINITY])
            .zip(self.counts)
            .collect()
    }
}

/// An MSS rewrite between two capture points, as a metric labels it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rewrite {
    /// Where the SYN still had `from`.
    pub from_interface: Arc<str>,
    /// Where it had `to`.
    pub to_interface: Arc<str>,
    /// The SYN or the SYN-ACK.
    pub direction: Direction,
    /// The value before.
    pub from: Value,
    /// The value after.
    pub to: Value,
}

/// The counters, each keyed by its labels.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Connections seen, by interface and IP version (4 or 6).
    pub connections: BTreeMap<(Arc<str>, u8), u64>,
    /// Connections whose final report came.
    pub ended: u64,
    /// MSS options of SYNs and SYN-ACKs, by interface and direction.
    pub syn_mss: BTreeMap<(Arc<str>, Direction), Histogram>,
    /// Effective send MSS at the end, by interface and role.
    pub effective_send_mss: BTreeMap<(Arc<str>, Role), Histogram>,
    /// Findings by interface (the first capture point of the connection) and kind.
    pub findings: BTreeMap<(Arc<str>, &'static str), u64>,
    /// MSS rewrites.
    pub rewrites: BTreeMap<Rewrite, u64>,
    /// ICMP too-big messages by interface and the MTU they report.
    pub icmp_too_big: BTreeMap<(Arc<str>, Value), u64>,
    /// Segments above the MSS by interface and cause.
    pub oversize_segments: BTreeMap<(Arc<str>, &'static str), u64>,
}

/// A finding the moment it is first seen, for the live view and JSON Lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The finding.
    pub finding: Finding,
    /// The capture point nearest the client that saw the connection.
    pub interface: Arc<str>,
    /// Its connection's id.
    pub connection: u64,
    /// When: the connection's latest packet so far, ns since the epoch.
    pub time_ns: u64,
    /// The client and the server.
    pub ends: [SocketAddr; 2],
    /// The finding's one-line title ([`crate::explain::explain`]).
    pub title: String,
}

/// Distinct (interface, direction, value) SYN MSS values counted exactly for the
/// live view; the histograms count every value.
pub const EXACT_VALUES_KEPT: usize = 1024;

/// What has been counted of an open connection, so its next report adds only the
/// news.
#[derive(Clone, Debug, Default)]
struct Counted {
    /// (capture point, direction) whose SYN MSS was observed.
    syns: Vec<(usize, Direction)>,
    /// Findings counted: kind, endpoint, and what tells two of a kind apart.
    findings: Vec<(&'static str, Option<Role>, u64)>,
    /// ICMP too-big messages counted, per endpoint and MTU.
    too_big: Vec<(Role, u32, u32)>,
    /// Oversize segments counted, per endpoint and cause.
    oversize: Vec<(Role, &'static str, u64)>,
}

/// The rolling state.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    /// Input names, to name capture points without an interface.
    names: Vec<String>,
    open: FxHashMap<u64, Counted>,
    /// The counters.
    pub totals: Totals,
    /// Connections first seen per minute of capture time (minute since the epoch,
    /// count), the last [`MINUTES_KEPT`].
    minutes: VecDeque<(u64, u64)>,
    /// The most recent findings, newest last.
    recent: VecDeque<Event>,
    /// SYN MSS values counted exactly, up to [`EXACT_VALUES_KEPT`] of them.
    exact: BTreeMap<(Arc<str>, Direction, u16), u64>,
    /// The distinct values each labelled metric has used.
    rewrite_values: Admitted,
    mtu_values: Admitted,
    /// The latest capture time seen.
    now_ns: u64,
}

impl Watch {
    /// A watch over inputs named `names` (by input index).
    pub fn new(names: Vec<String>) -> Watch {
        Watch {
            names,
            ..Watch::default()
        }
    }

    /// The label of a capture point: its interface, else its input's name.
    fn label(&self, point: &PointSeen) -> Arc<str> {
        match &point.interface {
            Some(interface) => Arc::clone(interface),
            None => Arc::from(self.names.get(point.input).map_or("?", String::as_str)),
        }
    }

    /// The label of capture point `index` as `report` saw it.
    fn label_of(&self, report: &ConnectionReport, index: usize) -> Arc<str> {
        match report.points.iter().find(|p| p.point == index) {
            Some(point) => self.label(point),
            None => Arc::from(self.names.get(index).map_or("?", String::as_str)),
        }
    }

    /// Takes a report of connection `report.id`: an interim one of an open
    /// connection (`last` false) or its final one. Returns the findings seen for
    /// the first time, in the report's order.
    pub fn observe(&mut self, report: &ConnectionReport, last: bool) -> Vec<Event> {
        self.now_ns = self.now_ns.max(report.last_ns);
        let mut counted = match self.open.remove(&report.id) {
            Some(counted) => counted,
            None => {
                self.first_seen(report);
                Counted::default()
            }
        };
        let first_point = report
            .points
            .first()
            .map_or_else(|| Arc::from("?"), |p| self.label(p));
        for point in &report.points {
            for (i, direction) in [Direction::Syn, Direction::SynAck].into_iter().enumerate() {
                let Some(MssSeen::Value(mss)) = point.syn_mss.get(i).copied() else {
                    continue;
                };
                if counted.syns.contains(&(point.point, direction)) {
                    continue;
                }
                counted.syns.push((point.point, direction));
                let label = self.label(point);
                let key = (Arc::clone(&label), direction, mss);
                if let Some(count) = self.exact.get_mut(&key) {
                    *count += 1;
                } else if self.exact.len() < EXACT_VALUES_KEPT {
                    self.exact.insert(key, 1);
                }
                self.totals
                    .syn_mss
                    .entry((label, direction))
                    .or_default()
                    .observe(u32::from(mss));
            }
        }
        let mut events = Vec::new();
        for finding in &report.findings {
            self.grow(finding, &first_point, &mut counted);
            let key = (finding.kind(), finding.endpoint(), discriminator(finding));
            if counted.findings.contains(&key) {
                continue;
            }
            counted.findings.push(key);
            *self
                .totals
                .findings
                .entry((Arc::clone(&first_point), finding.kind()))
                .or_default() += 1;
            if let Finding::MssRewritten {
                endpoint,
                from,
                to,
                before,
                after,
            } = *finding
            {
                let rewrite = Rewrite {
                    from_interface: self.label_of(report, before),
                    to_interface: self.label_of(report, after),
                    direction: Direction::of(endpoint),
                    from: self.rewrite_values.label(u32::from(from)),
                    to: self.rewrite_values.label(u32::from(to)),
                };
                *self.totals.rewrites.entry(rewrite).or_default() += 1;
            }
            let end = |e: &crate::report::EndpointReport| SocketAddr::new(e.addr, e.port);
            let event = Event {
                finding: finding.clone(),
                interface: Arc::clone(&first_point),
                connection: report.id,
                time_ns: report.last_ns,
                ends: [end(&report.client), end(&report.server)],
                title: crate::explain::explain(finding, report).title,
            };
            if self.recent.len() == RECENT_KEPT {
                self.recent.pop_front();
            }
            self.recent.push_back(event.clone());
            events.push(event);
        }
        if last {
            self.totals.ended += 1;
            for point in &report.points {
                let label = self.label(point);
                for role in [Role::Client, Role::Server] {
                    if let Some(mss) = report.endpoint(role).effective_send_mss {
                        self.totals
                            .effective_send_mss
                            .entry((Arc::clone(&label), role))
                            .or_default()
                            .observe(mss);
                    }
                }
            }
        } else {
            self.open.insert(report.id, counted);
        }
        events
    }

    /// Counts a connection seen for the first time.
    fn first_seen(&mut self, report: &ConnectionReport) {
        for point in &report.points {
            let label = self.label(point);
            *self
                .totals
                .connections
                .entry((label, report.ip_version.number()))
                .or_default() += 1;
        }
        let minute = report.first_ns / 60_000_000_000;
        match self.minutes.iter_mut().rev().find(|(m, _)| *m == minute) {
            Some((_, count)) => *count += 1,
            None => {
                // Minutes come in order but for a straggler; keep them sorted.
                let at = self.minutes.partition_point(|&(m, _)| m < minute);
                self.minutes.insert(at, (minute, 1));
                while self.minutes.len() > MINUTES_KEPT {
                    self.minutes.pop_front();
                }
            }
        }
    }

    /// Adds what a repeated finding grew by since the last report: ICMP too-big
    /// messages and oversize segments.
    fn grow(&mut self, finding: &Finding, interface: &Arc<str>, counted: &mut Counted) {
        match *finding {
            Finding::IcmpTooBig {
                endpoint,
                mtu,
                count,
                ..
            } => {
                let before = match counted
                    .too_big
                    .iter_mut()
                    .find(|(e, m, _)| *e == endpoint && *m == mtu)
                {
                    Some((_, _, seen)) => std::mem::replace(seen, count),
                    None => {
                        counted.too_big.push((endpoint, mtu, count));
                        0
                    }
                };
                if count > before {
                    let label = self.mtu_values.label(mtu);
                    *self
                        .totals
                        .icmp_too_big
                        .entry((Arc::clone(interface), label))
                        .or_default() += u64::from(count - before);
                }
            }
            Finding::SegmentsExceedMss {
                endpoint,
                cause,
                count,
                ..
            } => {
                let before = match counted
                    .oversize
                    .iter_mut()
                    .find(|(e, c, _)| *e == endpoint && *c == cause.name())
                {
                    Some((_, _, seen)) => std::mem::replace(seen, count),
                    None => {
                        counted.oversize.push((endpoint, cause.name(), count));
                        0
                    }
                };
                if count > before {
                    *self
                        .totals
                        .oversize_segments
                        .entry((Arc::clone(interface), cause.name()))
                        .or_default() += count - before;
                }
            }
            _ => {}
        }
    }

    /// Connections open that have been reported (handshake seen, or a second old).
    pub fn open_connections(&self) -> usize {
        self.open.len()
    }

    /// Connections first seen per minute, the last [`MINUTES_KEPT`] minutes up to
    /// the latest capture time (minutes without any count 0), oldest first.
    pub fn per_minute(&self) -> Vec<(u64, u64)> {
        let Some(&(first, _)) = self.minutes.front() else {
            return Vec::new();
        };
        let now = (self.now_ns / 60_000_000_000).max(first);
        let start = now.saturating_sub(MINUTES_KEPT as u64 - 1).max(first);
        (start..=now)
            .map(|minute| {
                let count = self
                    .minutes
                    .iter()
                    .find(|(m, _)| *m == minute)
                    .map_or(0, |&(_, c)| c);
                (minute, count)
            })
            .collect()
    }

    /// The latest findings, newest last.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.recent.iter()
    }

    /// SYN MSS values by interface and direction with their counts, counted
    /// exactly (the first [`EXACT_VALUES_KEPT`] distinct ones).
    pub fn syn_values(&self) -> &BTreeMap<(Arc<str>, Direction, u16), u64> {
        &self.exact
    }

    /// The latest capture time seen, ns since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }
}

/// What tells two findings of one kind and endpoint of a connection apart: the
/// capture points of a rewrite, the MTU of an ICMP too-big, an oversize cause.
fn discriminator(finding: &Finding) -> u64 {
    match *finding {
        Finding::MssRewritten { before, after, .. } => {
            (u64::try_from(before).unwrap_or(u64::MAX) << 32)
                | u64::try_from(after).unwrap_or(u64::MAX)
        }
        Finding::IcmpTooBig { mtu, .. } => u64::from(mtu),
        Finding::SegmentsExceedMss { cause, .. } => cause as u64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Ending, EndpointReport, Handshake, OversizeCause, Position, RoleEvidence};
    use mss_rules::IpVersion;

    fn endpoint(port: u16, mss: u16, effective: Option<u32>) -> EndpointReport {
        EndpointReport {
            addr: [10, 0, 0, u8::try_from(port % 200).unwrap_or(1)].into(),
            port,
            syn_mss: MssSeen::Value(mss),
            syn_options: None,
            ttl: Some(64),
            handshake_send_mss: effective,
            effective_send_mss: effective,
            effective_basis: None,
            data_option_bytes: 0,
            max_segment: None,
            typical_segment: None,
            data_segments: 0,
            data_bytes: 0,
            retransmissions: 0,
        }
    }

    fn point(index: usize, interface: &str, syn: MssSeen, syn_ack: MssSeen) -> PointSeen {
        PointSeen {
            point: index,
            input: index,
            host: 0,
            interface: Some(Arc::from(interface)),
            position: Position::Between,
            packets: 3,
            syn_mss: [syn, syn_ack],
        }
    }

    /// A connection through a router capturing on vr1 and vr2, whose SYN is
    /// clamped from 1460 to `to` between them.
    fn clamped(id: u64, to: u16, findings: Vec<Finding>) -> ConnectionReport {
        ConnectionReport {
            id,
            ip_version: IpVersion::V4,
            client: endpoint(40000, 1460, Some(1448)),
            server: endpoint(80, 1460, Some(u32::from(to) - 12)),
            roles: RoleEvidence::Syn,
            handshake: Handshake::Complete,
            ending: Ending::Open,
            first_ns: 120 * 1_000_000_000,
            last_ns: 121 * 1_000_000_000,
            first_packet: 1,
            points: vec![
                point(0, "vr1", MssSeen::Value(1460), MssSeen::Value(1460)),
                point(1, "vr2", MssSeen::Value(to), MssSeen::Value(1460)),
            ],
            tunnel: None,
            findings,
            segments: Vec::new(),
        }
    }

    fn rewrite(to: u16) -> Finding {
        Finding::MssRewritten {
            endpoint: Role::Client,
            from: 1460,
            to,
            before: 0,
            after: 1,
        }
    }

    fn too_big(count: u32) -> Finding {
        Finding::IcmpTooBig {
            endpoint: Role::Server,
            mtu: 1400,
            size: 1500,
            count,
            shrank: None,
        }
    }

    #[test]
    fn a_connection_counts_once_however_often_it_is_reported() {
        let mut watch = Watch::new(vec!["vr1".into(), "vr2".into()]);
        let first = watch.observe(&clamped(7, 1300, vec![rewrite(1300)]), false);
        assert_eq!(first.len(), 1, "the rewrite is news");
        assert_eq!(first[0].interface.as_ref(), "vr1");
        let again = watch.observe(&clamped(7, 1300, vec![rewrite(1300), too_big(2)]), false);
        assert_eq!(again.len(), 1, "only the ICMP message is news: {again:?}");
        let last = watch.observe(&clamped(7, 1300, vec![rewrite(1300), too_big(5)]), true);
        assert!(last.is_empty());
        let totals = &watch.totals;
        assert_eq!(totals.connections.get(&(Arc::from("vr1"), 4)), Some(&1));
        assert_eq!(totals.connections.get(&(Arc::from("vr2"), 4)), Some(&1));
        assert_eq!(totals.ended, 1);
        let syn_vr2 = &totals.syn_mss[&(Arc::from("vr2"), Direction::Syn)];
        assert_eq!((syn_vr2.count, syn_vr2.sum), (1, 1300));
        assert_eq!(
            totals.syn_mss[&(Arc::from("vr1"), Direction::SynAck)].count,
            1
        );
        assert_eq!(totals.findings[&(Arc::from("vr1"), "mss_rewritten")], 1);
        assert_eq!(totals.findings[&(Arc::from("vr1"), "icmp_too_big")], 1);
        // Every message, counted by its increase: 2, then 3 more.
        assert_eq!(totals.icmp_too_big[&(Arc::from("vr1"), Value::Is(1400))], 5);
        let rewrite = totals.rewrites.iter().next().map(|(r, n)| (r.clone(), *n));
        assert_eq!(
            rewrite,
            Some((
                Rewrite {
                    from_interface: Arc::from("vr1"),
                    to_interface: Arc::from("vr2"),
                    direction: Direction::Syn,
                    from: Value::Is(1460),
                    to: Value::Is(1300),
                },
                1
            ))
        );
        // Effective MSS at the end, per interface that saw it.
        assert_eq!(
            totals.effective_send_mss[&(Arc::from("vr2"), Role::Server)].sum,
            1288
        );
        // Nothing of the connection is kept once it ended.
        assert_eq!(watch.open_connections(), 0);
        assert_eq!(watch.recent().count(), 2);
    }

    #[test]
    fn oversize_segments_count_by_their_increase() {
        let mut watch = Watch::new(vec!["lo".into()]);
        let oversize = |count| Finding::SegmentsExceedMss {
            endpoint: Role::Client,
            cause: OversizeCause::TsoGso,
            count,
            largest: 65483,
            mss: 32741,
        };
        watch.observe(&clamped(1, 1460, vec![oversize(10)]), false);
        watch.observe(&clamped(1, 1460, vec![oversize(10)]), false);
        watch.observe(&clamped(1, 1460, vec![oversize(25)]), true);
        assert_eq!(
            watch.totals.oversize_segments[&(Arc::from("vr1"), "tso_gso")],
            25
        );
        assert_eq!(
            watch.totals.findings[&(Arc::from("vr1"), "segments_exceed_mss")],
            1
        );
    }

    #[test]
    fn mss_values_as_labels_are_bounded() {
        let mut watch = Watch::new(vec![]);
        for i in 0..200u16 {
            let to = 600 + i;
            watch.observe(&clamped(u64::from(i), to, vec![rewrite(to)]), true);
        }
        let rewrites = &watch.totals.rewrites;
        // 1460 takes one of the values; 63 targets keep theirs.
        assert_eq!(rewrites.len(), VALUES_PER_LABEL);
        let other: u64 = rewrites
            .iter()
            .filter(|(r, _)| r.to == Value::Other)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(other, 200 - (VALUES_PER_LABEL as u64 - 1));
        assert_eq!(rewrites.values().sum::<u64>(), 200);
    }

    #[test]
    fn histogram_buckets_are_upper_bounds() {
        let mut histogram = Histogram::default();
        for value in [536, 537, 1460, 1461, 65495, 65535] {
            histogram.observe(value);
        }
        let buckets = histogram.buckets();
        let at = |bound: f64| buckets.iter().find(|(b, _)| *b == bound).map(|&(_, n)| n);
        assert_eq!(at(536.0), Some(1));
        assert_eq!(at(1024.0), Some(1));
        assert_eq!(at(1460.0), Some(1));
        assert_eq!(at(1500.0), Some(1));
        assert_eq!(at(1448.0), Some(0));
        assert_eq!(at(65495.0), Some(1));
        assert_eq!(at(f64::INFINITY), Some(1));
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 6);
        assert_eq!(histogram.count, 6);
    }

    #[test]
    fn connections_per_minute_fill_the_quiet_minutes() {
        let mut watch = Watch::new(vec![]);
        let at = |watch: &mut Watch, id: u64, minute: u64| {
            let mut report = clamped(id, 1460, vec![]);
            report.first_ns = minute * 60_000_000_000 + 5;
            report.last_ns = report.first_ns;
            watch.observe(&report, true);
        };
        at(&mut watch, 1, 100);
        at(&mut watch, 2, 100);
        at(&mut watch, 3, 103);
        assert_eq!(
            watch.per_minute(),
            vec![(100, 2), (101, 0), (102, 0), (103, 1)]
        );
        for minute in 104..300 {
            at(&mut watch, minute, minute);
        }
        let minutes = watch.per_minute();
        assert_eq!(minutes.len(), MINUTES_KEPT);
        assert_eq!(minutes.last(), Some(&(299, 1)));
    }
}
