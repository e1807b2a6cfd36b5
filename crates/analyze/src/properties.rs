//! Property tests: generated TCP connections (both families, any MSS option or
//! none, timestamps or not, data both ways, FIN, RST or left open, spread over
//! seconds so that closed connections are swept while others go on) and what must
//! hold for any of them.
//!
//! - A connection is judged on its own packets: analysed among others (interleaved
//!   by time) it gets the same report as analysed alone, but for its id and first
//!   packet number.
//! - A second capture point that saw exactly the same packets changes no figure
//!   and finds no rewrite.
//! - No report claims a send MSS above what the peer announced (or Linux's floor of
//!   48, `tcp_min_snd_mss`, where the peer announced less; an announced 0 counts as
//!   absent, as Linux ignores it), nor above the default (536 / 1220) when the
//!   peer's SYN carried no option.

use etherparse::{PacketBuilder, TcpOptionElement as Opt};
use mss_wire::packet::{Link, decode};
use proptest::prelude::*;

use crate::report::{Finding, MssSeen, Role};
use crate::{Analyzer, Config, ConnectionReport};

/// How a generated connection ends.
#[derive(Clone, Copy, Debug)]
enum End {
    Open,
    Fin,
    Rst,
}

/// One generated connection.
#[derive(Clone, Debug)]
struct Spec {
    v6: bool,
    /// With the SYN and SYN-ACK, or picked up mid-stream.
    handshake: bool,
    client_mss: Option<u16>,
    server_mss: Option<u16>,
    timestamps: bool,
    client_ttl: u8,
    server_ttl: u8,
    /// Capture time of its first packet, in ms.
    start_ms: u64,
    /// Data segments: (from the client, payload bytes, ms since the previous packet).
    data: Vec<(bool, u16, u16)>,
    /// A bulk run after them: (from the client, segment size, segments), all the
    /// same size and without PSH, as a bulk sender fills its MSS.
    bulk: Option<(bool, u16, u8)>,
    end: End,
}

fn mss_option() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        (1u16..=100).prop_map(Some),
        (500u16..=9000).prop_map(Some),
        Just(Some(65_535)),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (any::<bool>(), prop::bool::weighted(0.85)),
        (mss_option(), mss_option(), any::<bool>()),
        (
            prop_oneof![Just(64u8), 40u8..=64],
            prop_oneof![Just(64u8), 40u8..=64],
        ),
        0u64..20_000,
        (
            prop::collection::vec((any::<bool>(), 0u16..=3000, 1u16..=1500), 0..24),
            prop::option::weighted(0.5, (any::<bool>(), 1u16..=9000, 6u8..=12)),
        ),
        prop_oneof![Just(End::Open), Just(End::Fin), Just(End::Rst)],
    )
        .prop_map(
            |(
                (v6, handshake),
                (client_mss, server_mss, timestamps),
                ttls,
                start_ms,
                (data, bulk),
                end,
            )| {
                Spec {
                    v6,
                    handshake,
                    client_mss,
                    server_mss,
                    timestamps,
                    client_ttl: ttls.0,
                    server_ttl: ttls.1,
                    start_ms,
                    data,
                    bulk,
                    end,
                }
            },
        )
}

/// One segment of a generated connection.
struct Segment {
    from_client: bool,
    syn: bool,
    ack: Option<u32>,
    fin: bool,
    rst: bool,
    psh: bool,
    seq: u32,
    options: Vec<Opt>,
    payload: usize,
}

impl Spec {
    /// Its packets with their capture times (ns); `port` tells it from the others.
    fn packets(&self, port: u16) -> Vec<(u64, Vec<u8>)> {
        let mut segments = Vec::new();
        let (mut client_seq, mut server_seq) = (1_000u32, 50_000u32);
        let ts = |on: bool| {
            if on {
                vec![Opt::Noop, Opt::Noop, Opt::Timestamp(7, 7)]
            } else {
                Vec::new()
            }
        };
        if self.handshake {
            for (from_client, mss) in [(true, self.client_mss), (false, self.server_mss)] {
                let mut options: Vec<Opt> = mss.map(Opt::MaximumSegmentSize).into_iter().collect();
                options.extend(ts(self.timestamps));
                segments.push(Segment {
                    from_client,
                    syn: true,
                    ack: (!from_client).then_some(client_seq + 1),
                    fin: false,
                    rst: false,
                    psh: false,
                    seq: if from_client { client_seq } else { server_seq },
                    options,
                    payload: 0,
                });
            }
            client_seq += 1;
            server_seq += 1;
            segments.push(self.plain(true, client_seq, server_seq, 0));
        }
        // An application's writes end with PSH; a bulk run's segments do not.
        let writes = self
            .data
            .iter()
            .map(|&(from_client, size, _)| (from_client, size, true));
        let bulk = self
            .bulk
            .into_iter()
            .flat_map(|(from_client, size, count)| {
                core::iter::repeat_n((from_client, size, false), usize::from(count))
            });
        for (from_client, payload, psh) in writes.chain(bulk) {
            let (seq, ack) = if from_client {
                (client_seq, server_seq)
            } else {
                (server_seq, client_seq)
            };
            let mut segment = self.plain(from_client, seq, ack, usize::from(payload));
            segment.psh = psh && payload > 0;
            segments.push(segment);
            let advanced = if from_client {
                &mut client_seq
            } else {
                &mut server_seq
            };
            *advanced = advanced.wrapping_add(u32::from(payload));
        }
        match self.end {
            End::Open => {}
            End::Fin => {
                let mut fin = self.plain(true, client_seq, server_seq, 0);
                fin.fin = true;
                segments.push(fin);
                let mut fin_ack = self.plain(false, server_seq, client_seq + 1, 0);
                fin_ack.fin = true;
                segments.push(fin_ack);
                segments.push(self.plain(true, client_seq + 1, server_seq + 1, 0));
            }
            End::Rst => {
                let mut rst = self.plain(true, client_seq, server_seq, 0);
                rst.rst = true;
                rst.ack = None;
                rst.options.clear();
                segments.push(rst);
            }
        }
        let mut at_ms = self.start_ms;
        let mut gaps = self.data.iter().map(|&(_, _, gap)| u64::from(gap));
        segments
            .iter()
            .map(|s| {
                at_ms += gaps.next().unwrap_or(1);
                (at_ms * 1_000_000, self.bytes(s, port))
            })
            .collect()
    }

    /// A segment after the handshake: ACK, timestamps if negotiated.
    fn plain(&self, from_client: bool, seq: u32, ack: u32, payload: usize) -> Segment {
        Segment {
            from_client,
            syn: false,
            ack: Some(ack),
            fin: false,
            rst: false,
            psh: false,
            seq,
            options: if self.timestamps {
                vec![Opt::Noop, Opt::Noop, Opt::Timestamp(8, 8)]
            } else {
                Vec::new()
            },
            payload,
        }
    }

    fn bytes(&self, s: &Segment, port: u16) -> Vec<u8> {
        let (ports, ttl) = if s.from_client {
            ((port, 443), self.client_ttl)
        } else {
            ((443, port), self.server_ttl)
        };
        let builder = if self.v6 {
            let (client, server) = (
                [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            );
            let (src, dst) = if s.from_client {
                (client, server)
            } else {
                (server, client)
            };
            PacketBuilder::ipv6(src, dst, ttl)
        } else {
            let (client, server) = ([10, 0, 0, 1], [10, 0, 1, 2]);
            let (src, dst) = if s.from_client {
                (client, server)
            } else {
                (server, client)
            };
            PacketBuilder::ipv4(src, dst, ttl)
        };
        let mut step = builder.tcp(ports.0, ports.1, s.seq, 64_000);
        if s.syn {
            step = step.syn();
        }
        if let Some(ack) = s.ack {
            step = step.ack(ack);
        }
        if s.fin {
            step = step.fin();
        }
        if s.rst {
            step = step.rst();
        }
        if s.psh {
            step = step.psh();
        }
        let step = step.options(&s.options).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        step.write(&mut out, &vec![0x61; s.payload])
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }
}

/// Feeds packets (capture point, time, bytes) in this order; every report.
fn analyze(packets: &[(usize, u64, &[u8])]) -> Vec<ConnectionReport> {
    analyze_with(Config::default(), packets)
}

fn analyze_with(config: Config, packets: &[(usize, u64, &[u8])]) -> Vec<ConnectionReport> {
    let mut analyzer = Analyzer::new(config);
    let mut reports = Vec::new();
    for (i, &(point, ts, bytes)) in packets.iter().enumerate() {
        let packet = decode(Link::Raw, bytes)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!("packet {i} is not IP"));
        analyzer.on_packet(point, i as u64 + 1, ts, &packet);
        // As `mss analyze` does: take what finished as it goes.
        while let Some(report) = analyzer.poll_finished() {
            reports.push(report);
        }
    }
    analyzer.finish();
    while let Some(report) = analyzer.poll_finished() {
        reports.push(report);
    }
    reports
}

/// The connections' packets merged by capture time (ties in connection order),
/// tagged with the client port that tells them apart.
fn merged(specs: &[Spec]) -> Vec<(u16, u64, Vec<u8>)> {
    let mut all: Vec<(u16, u64, Vec<u8>)> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let port = 40_000 + u16::try_from(i).unwrap_or(0);
        all.extend(
            spec.packets(port)
                .into_iter()
                .map(|(ts, bytes)| (port, ts, bytes)),
        );
    }
    // Stable: a connection's own packets keep their order.
    all.sort_by_key(|&(port, ts, _)| (ts, port));
    all
}

/// The report without what depends on the other connections in the capture.
fn own(report: &ConnectionReport) -> ConnectionReport {
    ConnectionReport {
        id: 0,
        first_packet: 0,
        ..report.clone()
    }
}

/// The client port of a report (the generated client is the higher port).
fn port_of(report: &ConnectionReport) -> u16 {
    report.client.port.max(report.server.port)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_connection_is_judged_on_its_own_packets(specs in prop::collection::vec(spec(), 1..6)) {
        let all = merged(&specs);
        let together = analyze(
            &all.iter().map(|(_, ts, b)| (0, *ts, b.as_slice())).collect::<Vec<_>>(),
        );
        for (i, _) in specs.iter().enumerate() {
            let port = 40_000 + u16::try_from(i).unwrap_or(0);
            let mine: Vec<(usize, u64, &[u8])> = all
                .iter()
                .filter(|(p, ..)| *p == port)
                .map(|(_, ts, b)| (0, *ts, b.as_slice()))
                .collect();
            let alone: Vec<ConnectionReport> = analyze(&mine).iter().map(own).collect();
            let among: Vec<ConnectionReport> = together
                .iter()
                .filter(|r| port_of(r) == port)
                .map(own)
                .collect();
            prop_assert_eq!(alone, among, "connection {}", i);
        }
    }

    #[test]
    fn a_second_point_with_the_same_packets_changes_nothing(
        specs in prop::collection::vec(spec(), 1..4),
    ) {
        let all = merged(&specs);
        let once = analyze(
            &all.iter().map(|(_, ts, b)| (0, *ts, b.as_slice())).collect::<Vec<_>>(),
        );
        let twice = analyze(
            &all.iter()
                .flat_map(|(_, ts, b)| [(0, *ts, b.as_slice()), (1, *ts, b.as_slice())])
                .collect::<Vec<_>>(),
        );
        prop_assert_eq!(once.len(), twice.len());
        for one in &once {
            let two = twice
                .iter()
                .find(|r| port_of(r) == port_of(one) && r.first_ns == one.first_ns);
            prop_assert!(two.is_some(), "{:#?} not reported with two points", one);
            let two = two.unwrap_or(one);
            prop_assert_eq!(&one.client, &two.client);
            prop_assert_eq!(&one.server, &two.server);
            prop_assert_eq!(&one.findings, &two.findings);
            let rewritten = two.findings.iter().any(|f| matches!(f, Finding::MssRewritten { .. }));
            prop_assert!(!rewritten, "a rewrite between identical points: {:#?}", two);
            prop_assert_eq!((one.roles, one.handshake, one.ending), (two.roles, two.handshake, two.ending));
            prop_assert_eq!(two.points.len(), 2);
            for point in &two.points {
                prop_assert_eq!(point.packets, one.points[0].packets);
            }
        }
    }

    #[test]
    fn no_send_mss_above_what_the_peer_announced(specs in prop::collection::vec(spec(), 1..4)) {
        let all = merged(&specs);
        let reports = analyze(
            &all.iter().map(|(_, ts, b)| (0, *ts, b.as_slice())).collect::<Vec<_>>(),
        );
        for report in &reports {
            for (me, peer) in [(&report.client, &report.server), (&report.server, &report.client)] {
                let announced = match peer.syn_mss {
                    MssSeen::Value(v) if v != 0 => u32::from(v),
                    MssSeen::Value(_) | MssSeen::Absent => {
                        u32::from(report.ip_version.default_mss().get())
                    }
                    MssSeen::Unknown | MssSeen::NotCaptured => continue,
                };
                for send in [me.handshake_send_mss, me.effective_send_mss].into_iter().flatten() {
                    prop_assert!(
                        send <= announced.max(48),
                        "send MSS {} above the peer's {}: {:#?}", send, announced, report
                    );
                }
            }
        }
    }

    #[test]
    fn the_time_series_changes_nothing_else_and_counts_every_data_segment(
        specs in prop::collection::vec(spec(), 1..4),
    ) {
        let all = merged(&specs);
        let packets: Vec<(usize, u64, &[u8])> =
            all.iter().map(|(_, ts, b)| (0, *ts, b.as_slice())).collect();
        let plain = analyze(&packets);
        let with = analyze_with(Config { segments: true, ..Config::default() }, &packets);
        prop_assert_eq!(plain.len(), with.len());
        for (p, w) in plain.iter().zip(&with) {
            prop_assert!(p.segments.is_empty());
            let without = ConnectionReport { segments: Vec::new(), ..w.clone() };
            prop_assert_eq!(p, &without);
            for role in [Role::Client, Role::Server] {
                let counted: u64 = w
                    .segments
                    .iter()
                    .filter(|t| t.sender == role)
                    .flat_map(|t| &t.points)
                    .map(|point| u64::from(point.count))
                    .sum();
                prop_assert_eq!(counted, w.endpoint(role).data_segments, "{:?}", role);
                let retransmitted: u64 = w
                    .segments
                    .iter()
                    .filter(|t| t.sender == role)
                    .flat_map(|t| &t.points)
                    .map(|point| u64::from(point.retransmissions))
                    .sum();
                prop_assert_eq!(retransmitted, w.endpoint(role).retransmissions);
            }
        }
    }
}
