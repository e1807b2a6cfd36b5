//! Scenario tests with hand-built packets: each checks the numbers and that the
//! expected findings appear and no others.

use super::*;
use crate::report::{Finding, OversizeCause, Position, Role};
use etherparse::{PacketBuilder, TcpOptionElement as Opt};
use mss_wire::packet::{Link, decode};

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
const SERVER: ([u8; 4], u16) = ([10, 0, 1, 2], 5201);

/// A segment: direction, TTL, IP id, seq, ack, flags ("S", "SA", "A", "FA", "R"),
/// options, payload length.
struct Seg {
    from_client: bool,
    ttl: u8,
    id: u16,
    seq: u32,
    ack: u32,
    flags: &'static str,
    options: Vec<Opt>,
    payload: usize,
}

fn seg(from_client: bool, flags: &'static str, seq: u32, ack: u32, payload: usize) -> Seg {
    Seg {
        from_client,
        ttl: 64,
        id: 0,
        seq,
        ack,
        flags,
        options: Vec::new(),
        payload,
    }
}

impl Seg {
    fn ttl(mut self, ttl: u8) -> Seg {
        self.ttl = ttl;
        self
    }
    fn id(mut self, id: u16) -> Seg {
        self.id = id;
        self
    }
    fn opts(mut self, options: Vec<Opt>) -> Seg {
        self.options = options;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let (src, dst) = if self.from_client {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        let mut step =
            PacketBuilder::ipv4(src.0, dst.0, self.ttl).tcp(src.1, dst.1, self.seq, 65000);
        if self.flags.contains('S') {
            step = step.syn();
        }
        if self.flags.contains('A') {
            step = step.ack(self.ack);
        }
        if self.flags.contains('F') {
            step = step.fin();
        }
        if self.flags.contains('R') {
            step = step.rst();
        }
        let step = step
            .options(&self.options)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        step.write(&mut out, &vec![0x61; self.payload])
            .unwrap_or_else(|e| panic!("{e}"));
        out[4..6].copy_from_slice(&self.id.to_be_bytes());
        out
    }
}

fn syn_opts(mss: u16) -> Vec<Opt> {
    vec![
        Opt::MaximumSegmentSize(mss),
        Opt::SelectiveAcknowledgementPermitted,
        Opt::Timestamp(1, 0),
        Opt::Noop,
        Opt::WindowScale(7),
    ]
}

fn ts() -> Vec<Opt> {
    vec![Opt::Noop, Opt::Noop, Opt::Timestamp(2, 1)]
}

/// Runs packets through the analyzer: (capture point, segment), 1 ms apart.
fn analyze(packets: &[(usize, Seg)]) -> (Vec<ConnectionReport>, Summary) {
    analyze_raw(
        &packets
            .iter()
            .map(|(p, s)| (*p, s.bytes()))
            .collect::<Vec<_>>(),
    )
}

fn analyze_raw(packets: &[(usize, Vec<u8>)]) -> (Vec<ConnectionReport>, Summary) {
    let mut analyzer = Analyzer::new(Config::default());
    for (i, (point, bytes)) in packets.iter().enumerate() {
        let n = i as u64 + 1;
        match decode(Link::Raw, bytes) {
            Ok(Some(packet)) => analyzer.on_packet(*point, n, n * 1_000_000, &packet),
            other => panic!("packet {n} does not decode: {other:?}"),
        }
    }
    let summary = analyzer.finish();
    let mut reports = Vec::new();
    while let Some(r) = analyzer.poll_finished() {
        reports.push(r);
    }
    (reports, summary)
}

/// A handshake with the given MSS options, both with timestamps.
fn handshake(client_mss: u16, server_mss: u16) -> Vec<(usize, Seg)> {
    vec![
        (0, seg(true, "S", 1000, 0, 0).opts(syn_opts(client_mss))),
        (
            0,
            seg(false, "SA", 5000, 1001, 0).opts(syn_opts(server_mss)),
        ),
        (0, seg(true, "A", 1001, 5001, 0).opts(ts())),
    ]
}

fn kinds(report: &ConnectionReport) -> Vec<&'static str> {
    report.findings.iter().map(Finding::kind).collect()
}

#[test]
fn plain_ethernet_with_timestamps_is_1448_and_quiet() {
    let mut packets = handshake(1460, 1460);
    packets.push((0, seg(true, "A", 1001, 5001, 1448).id(10).opts(ts())));
    packets.push((0, seg(false, "A", 5001, 2449, 0).opts(ts())));
    packets.push((0, seg(true, "FA", 2449, 5001, 0).opts(ts())));
    packets.push((0, seg(false, "FA", 5001, 2450, 0).opts(ts())));
    let (reports, summary) = analyze(&packets);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.client.syn_mss, MssSeen::Value(1460));
    assert_eq!(r.client.handshake_send_mss, Some(1448));
    assert_eq!(r.server.effective_send_mss, Some(1448));
    assert_eq!(r.client.max_segment, Some(1448));
    assert_eq!(r.client.data_option_bytes, 12);
    assert_eq!(r.ending, Ending::Closed);
    assert_eq!(r.handshake, report::Handshake::Complete);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(summary.syn_mss.get(&1460), Some(&2));
}

#[test]
fn smaller_mtu_wins_both_ways() {
    // Seed 003: the client at MTU 1400 announces 1360; both send 1348.
    let (reports, _) = analyze(&handshake(1360, 1460));
    let r = &reports[0];
    assert_eq!(
        (r.client.effective_send_mss, r.server.effective_send_mss),
        (Some(1348), Some(1348))
    );
}

#[test]
fn tso_at_the_sender() {
    let mut packets = handshake(1460, 1460);
    // Two GSO super-segments of 3 x 1448 captured at the client: IP ids jump by 3.
    packets.push((0, seg(true, "A", 1001, 5001, 4344).id(100).opts(ts())));
    packets.push((0, seg(true, "A", 5345, 5001, 4344).id(103).opts(ts())));
    packets.push((0, seg(true, "A", 9689, 5001, 100).id(106).opts(ts())));
    packets.push((0, seg(false, "A", 5001, 9789, 0).ttl(63).opts(ts())));
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    assert_eq!(r.points[0].position, Position::AtClient);
    assert_eq!(
        r.findings,
        [Finding::SegmentsExceedMss {
            endpoint: Role::Client,
            cause: OversizeCause::TsoGso,
            count: 2,
            largest: 4344,
            mss: 1448
        }]
    );
}

#[test]
fn one_oversize_packet_on_the_wire_is_a_violation() {
    let mut packets = handshake(1360, 1460);
    // The server received MSS 1360 but sends 1448-byte packets, one IP id each.
    packets.push((0, seg(false, "A", 5001, 1001, 1448).id(7).opts(ts())));
    packets.push((0, seg(false, "A", 6449, 1001, 1448).id(8).opts(ts())));
    packets.push((0, seg(false, "A", 7897, 1001, 10).id(9).opts(ts())));
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    assert_eq!(kinds(r), ["segments_exceed_mss"]);
    assert!(matches!(
        r.findings[0],
        Finding::SegmentsExceedMss {
            cause: OversizeCause::Violation,
            endpoint: Role::Server,
            mss: 1348,
            ..
        }
    ));
}

fn frag_needed(mtu: u16, quoted: &[u8]) -> Vec<u8> {
    let mut icmp = vec![3, 4, 0, 0, 0, 0];
    icmp.extend_from_slice(&mtu.to_be_bytes());
    icmp.extend_from_slice(&quoted[..28.min(quoted.len())]);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 255, 1, 0, 0, 10, 0, 0, 254, 10, 0, 0, 1,
    ];
    let total = u16::try_from(20 + icmp.len()).unwrap_or(0);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    [ip, icmp].concat()
}

#[test]
fn icmp_frag_needed_lowers_the_effective_mss() {
    let mut packets: Vec<(usize, Vec<u8>)> = handshake(1460, 1460)
        .iter()
        .map(|(p, s)| (*p, s.bytes()))
        .collect();
    let big = seg(true, "A", 1001, 5001, 1448).id(1).opts(ts()).bytes();
    packets.push((0, big.clone()));
    packets.push((0, frag_needed(1400, &big)));
    packets.push((0, seg(true, "A", 1001, 5001, 1348).id(2).opts(ts()).bytes()));
    packets.push((0, seg(true, "A", 2349, 5001, 100).id(3).opts(ts()).bytes()));
    let (reports, _) = analyze_raw(&packets);
    let r = &reports[0];
    assert_eq!(r.client.handshake_send_mss, Some(1448));
    assert_eq!(r.client.effective_send_mss, Some(1348));
    assert!(
        r.findings.contains(&Finding::IcmpTooBig {
            endpoint: Role::Client,
            mtu: 1400,
            size: 1500,
            count: 1,
            shrank: Some(true)
        }),
        "{:?}",
        r.findings
    );
    assert!(!kinds(r).contains(&"pmtud_blackhole_suspected"));
}

#[test]
fn black_hole_then_recovery_by_probing() {
    let mut packets = handshake(1460, 1460);
    for id in 1..=4 {
        packets.push((0, seg(true, "A", 1001, 5001, 1448).id(id).opts(ts())));
    }
    // tcp_mtu_probing: the same data in smaller segments gets through.
    packets.push((0, seg(true, "A", 1001, 5001, 1024).id(5).opts(ts())));
    packets.push((0, seg(false, "A", 5001, 2025, 0).opts(ts())));
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    assert_eq!(
        r.findings,
        [Finding::PmtudBlackholeSuspected {
            endpoint: Role::Client,
            size: 1500,
            segment: 1448,
            transmissions: 4,
            recovered_with: Some(1024)
        }]
    );
}

#[test]
fn ordinary_loss_is_not_a_black_hole() {
    let mut packets = handshake(1460, 1460);
    packets.push((0, seg(true, "A", 1001, 5001, 1448).id(1).opts(ts())));
    packets.push((0, seg(true, "A", 1001, 5001, 1448).id(2).opts(ts())));
    packets.push((0, seg(false, "A", 5001, 2449, 0).opts(ts())));
    let (reports, _) = analyze(&packets);
    assert!(reports[0].findings.is_empty(), "{:?}", reports[0].findings);
    assert_eq!(reports[0].client.retransmissions, 1);
}

#[test]
fn missing_mss_means_the_default() {
    let packets = vec![
        (
            0,
            seg(true, "S", 1000, 0, 0).opts(vec![Opt::SelectiveAcknowledgementPermitted]),
        ),
        (
            0,
            seg(false, "SA", 5000, 1001, 0).opts(vec![Opt::MaximumSegmentSize(1460)]),
        ),
        (0, seg(true, "A", 1001, 5001, 0)),
    ];
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    assert_eq!(r.client.syn_mss, MssSeen::Absent);
    assert_eq!(r.server.effective_send_mss, Some(536));
    assert_eq!(r.client.effective_send_mss, Some(1460));
    assert_eq!(kinds(r), ["mss_missing"]);
}

#[test]
fn tiny_mss_is_flagged_and_floored() {
    let (reports, _) = analyze(&handshake(40, 1460));
    let r = &reports[0];
    assert_eq!(kinds(r), ["mss_below_linux_min"]);
    // Linux floors at 48 before the 12 bytes of timestamps.
    assert_eq!(r.server.effective_send_mss, Some(36));
}

#[test]
fn snaplen_cut_syn_is_unknown() {
    let mut syn = seg(true, "S", 1000, 0, 0).opts(syn_opts(1460)).bytes();
    syn.truncate(20 + 21);
    let packets = vec![
        (0, syn),
        (
            0,
            seg(false, "SA", 5000, 1001, 0).opts(syn_opts(1460)).bytes(),
        ),
    ];
    let (reports, _) = analyze_raw(&packets);
    let r = &reports[0];
    assert_eq!(r.client.syn_mss, MssSeen::Unknown);
    assert_eq!(r.server.effective_send_mss, None);
    assert_eq!(kinds(r), ["mss_cut_off"]);
}

#[test]
fn clamp_between_two_capture_points() {
    // Point 0 at the client (TTL 64), point 1 behind a router (client TTL 63).
    // The router clamps the client's SYN to 1360 and the server's SYN-ACK too.
    let packets = vec![
        (0, seg(true, "S", 1000, 0, 0).opts(syn_opts(1460))),
        (1, seg(true, "S", 1000, 0, 0).ttl(63).opts(syn_opts(1360))),
        (1, seg(false, "SA", 5000, 1001, 0).opts(syn_opts(1460))),
        (
            0,
            seg(false, "SA", 5000, 1001, 0).ttl(63).opts(syn_opts(1360)),
        ),
        (0, seg(true, "A", 1001, 5001, 0).opts(ts())),
        (1, seg(true, "A", 1001, 5001, 0).ttl(63).opts(ts())),
    ];
    let (reports, _) = analyze(&packets);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.client.syn_mss, MssSeen::Value(1460));
    assert_eq!(r.server.syn_mss, MssSeen::Value(1460));
    assert_eq!(
        (r.client.effective_send_mss, r.server.effective_send_mss),
        (Some(1348), Some(1348))
    );
    assert_eq!(
        r.findings,
        [
            Finding::MssRewritten {
                endpoint: Role::Client,
                from: 1460,
                to: 1360,
                before: 0,
                after: 1
            },
            Finding::MssRewritten {
                endpoint: Role::Server,
                from: 1460,
                to: 1360,
                before: 1,
                after: 0
            },
        ]
    );
    assert_eq!(r.points.iter().map(|p| p.point).collect::<Vec<_>>(), [0, 1]);
}

/// Regression (lab scenario asymmetric-clamp with little data): every point saw
/// only one direction. The server's own packets pass points 2 and 3, so it was
/// judged by the client's SYN as first captured (1460 at point 0), not as it
/// reached the server (clamped to 1360 at point 1).
#[test]
fn the_peer_syn_as_received_is_the_one_with_the_lowest_ttl() {
    let packets = vec![
        // Client -> server: at the client (0), then behind the clamp (1).
        (0, seg(true, "S", 1000, 0, 0).opts(syn_opts(1460))),
        (1, seg(true, "S", 1000, 0, 0).ttl(63).opts(syn_opts(1360))),
        // Server -> client, another path: at the server (2), at the client (3).
        (2, seg(false, "SA", 5000, 1001, 0).opts(syn_opts(1460))),
        (
            3,
            seg(false, "SA", 5000, 1001, 0).ttl(63).opts(syn_opts(1460)),
        ),
        (0, seg(true, "A", 1001, 5001, 100).id(5).opts(ts())),
        (1, seg(true, "A", 1001, 5001, 100).id(5).ttl(63).opts(ts())),
        (2, seg(false, "A", 5001, 1101, 100).id(6).opts(ts())),
        (3, seg(false, "A", 5001, 1101, 100).id(6).ttl(63).opts(ts())),
    ];
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    assert_eq!(
        (r.client.handshake_send_mss, r.server.handshake_send_mss),
        (Some(1448), Some(1348))
    );
}

#[test]
fn asymmetric_clamp_shows_one_rewrite_and_different_mss() {
    // Only the client's SYN is clamped; the server's SYN-ACK takes another path.
    let packets = vec![
        (0, seg(true, "S", 1000, 0, 0).opts(syn_opts(1460))),
        (1, seg(true, "S", 1000, 0, 0).ttl(63).opts(syn_opts(1360))),
        (1, seg(false, "SA", 5000, 1001, 0).opts(syn_opts(1460))),
        (
            0,
            seg(false, "SA", 5000, 1001, 0).ttl(63).opts(syn_opts(1460)),
        ),
        (0, seg(true, "A", 1001, 5001, 100).id(5).opts(ts())),
        (1, seg(false, "A", 5001, 1101, 100).id(6).opts(ts())),
    ];
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    assert_eq!(
        (r.client.effective_send_mss, r.server.effective_send_mss),
        (Some(1448), Some(1348))
    );
    assert_eq!(kinds(r), ["asymmetric_mss", "mss_rewritten"]);
}

#[test]
fn port_reuse_starts_a_new_connection() {
    let mut packets = handshake(1460, 1460);
    packets.push((0, seg(true, "R", 1001, 0, 0)));
    packets.push((0, seg(true, "S", 9000, 0, 0).opts(syn_opts(1400))));
    let (reports, summary) = analyze(&packets);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].ending, Ending::Reset);
    assert_eq!(reports[1].client.syn_mss, MssSeen::Value(1400));
    assert_eq!(summary.connections, 2);
}

#[test]
fn roles_without_handshake() {
    let packets = vec![
        (0, seg(true, "A", 1001, 5001, 100)),
        (0, seg(false, "A", 5001, 1101, 0)),
    ];
    let (reports, _) = analyze(&packets);
    let r = &reports[0];
    // Neither port is below 1024: the first packet's sender is the client.
    assert_eq!(r.roles, report::RoleEvidence::FirstPacket);
    assert_eq!(r.client.port, 40000);
    assert_eq!(r.handshake, report::Handshake::NotCaptured);
    assert_eq!(r.client.effective_send_mss, None);
}

#[test]
fn memory_is_bounded_by_live_connections() {
    let config = Config {
        max_connections: 100,
        ..Config::default()
    };
    let mut analyzer = Analyzer::new(config);
    let mut reported = 0;
    for i in 0..10_000u32 {
        let port = u16::try_from(1024 + i % 60_000).unwrap_or(0);
        let mut step = PacketBuilder::ipv4(
            [10, 0, i.to_be_bytes()[2], i.to_be_bytes()[3]],
            [10, 9, 9, 9],
            64,
        )
        .tcp(port, 80, i, 100)
        .syn();
        step = step
            .options(&[Opt::MaximumSegmentSize(1460)])
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = Vec::new();
        step.write(&mut bytes, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        if let Ok(Some(p)) = decode(Link::Raw, &bytes) {
            analyzer.on_packet(0, u64::from(i), u64::from(i) * 1000, &p);
        }
        assert!(analyzer.live_connections() <= 100);
        while analyzer.poll_finished().is_some() {
            reported += 1;
        }
    }
    let summary = analyzer.finish();
    while analyzer.poll_finished().is_some() {
        reported += 1;
    }
    assert_eq!(reported, 10_000);
    assert!(summary.evicted > 9_000);
}

/// Fragments given to the analyzer as they are (mss_ingest puts them together
/// first): counted, and a first fragment is never taken for a segment of its size.
#[test]
fn ip_fragments_not_put_together_are_counted_and_never_taken_for_segments() {
    let mut packets: Vec<(usize, Vec<u8>)> = handshake(1460, 1460)
        .iter()
        .map(|(p, s)| (*p, s.bytes()))
        .collect();
    // A 1448-byte segment fragmented: first fragment (MF, offset 0) with the TCP
    // header, then a later fragment with the same IP id.
    let mut first = seg(true, "A", 1001, 5001, 1000).id(77).opts(ts()).bytes();
    first[6] = 0x20; // MF
    let mut later = first[..20].to_vec();
    later.extend_from_slice(&[0x61; 480]);
    later[2..4].copy_from_slice(&500u16.to_be_bytes());
    later[6] = 0x00;
    later[7] = 0x7d; // offset 1000 / 8 = 125
    packets.push((0, first));
    packets.push((0, later));
    let (reports, summary) = analyze_raw(&packets);
    assert_eq!(kinds(&reports[0]), ["ip_fragments"]);
    assert_eq!(
        reports[0].findings[0],
        Finding::IpFragments {
            endpoint: Role::Client,
            count: 1,
            incomplete: 0,
            incomplete_len: 0,
        }
    );
    assert_eq!(reports[0].client.max_segment, None);
    assert_eq!(summary.fragments, 2);
    assert_eq!(summary.reassembled, 0);
}

/// A segment put together from fragments counts at its whole size, its fragments
/// in the finding; a datagram given up tells its connection.
#[test]
fn reassembled_segments_count_whole_and_incomplete_ones_are_told() {
    use mss_wire::reassembly::{Push, Reassembler};
    let mut analyzer = Analyzer::new(Config::default());
    let mut n = 0;
    let mut feed = |analyzer: &mut Analyzer, bytes: &[u8], fragments: u16| {
        n += 1;
        let mut packet = decode(Link::Raw, bytes)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("packet {n} does not decode"));
        packet.fragments = fragments;
        analyzer.on_packet(0, n, n * 1_000_000, &packet);
    };
    for (_, s) in handshake(1460, 1460) {
        feed(&mut analyzer, &s.bytes(), 0);
    }
    // A 2900-byte segment (above the MSS) in two fragments.
    let whole = seg(true, "A", 1001, 5001, 2900).id(78).opts(ts()).bytes();
    let header = &whole[..20];
    let cut: u16 = 20 + 1480;
    let cut_at = usize::from(cut);
    let mut one = whole[..cut_at].to_vec();
    one[2..4].copy_from_slice(&cut.to_be_bytes());
    one[6] = 0x20;
    let mut two = header.to_vec();
    two.extend_from_slice(&whole[cut_at..]);
    let len = u16::try_from(two.len()).unwrap_or(u16::MAX);
    two[2..4].copy_from_slice(&len.to_be_bytes());
    two[6..8].copy_from_slice(&(1480u16 / 8).to_be_bytes());
    let mut reassembler: Reassembler<()> = Reassembler::default();
    assert_eq!(reassembler.push(1, 0, &one, ()), Push::Held);
    analyzer.on_fragment_held();
    let Push::Complete(done) = reassembler.push(2, 0, &two, ()) else {
        panic!("not complete");
    };
    feed(&mut analyzer, &done.packet, done.fragments);
    // Then a datagram whose second fragment never comes.
    let next = seg(true, "A", 3901, 5001, 2900).id(79).opts(ts()).bytes();
    let mut first = next[..cut_at].to_vec();
    first[2..4].copy_from_slice(&cut.to_be_bytes());
    first[6] = 0x20;
    assert_eq!(reassembler.push(3, 0, &first, ()), Push::Held);
    analyzer.on_fragment_held();
    reassembler.finish();
    for given_up in reassembler.take_given_up() {
        let first = given_up
            .first
            .as_deref()
            .and_then(|b| decode(Link::Raw, b).ok().flatten());
        let train = crate::FragmentTrain {
            fragments: given_up.fragments,
            len: given_up.len,
            first_ns: given_up.first_ns,
        };
        analyzer.on_incomplete_datagram(0, 9, 3_000_000, first.as_ref(), train);
    }
    let summary = analyzer.finish();
    let report = analyzer
        .poll_finished()
        .unwrap_or_else(|| panic!("no report"));
    assert_eq!(report.client.max_segment, Some(2900));
    assert!(
        report.findings.contains(&Finding::IpFragments {
            endpoint: Role::Client,
            count: 3,
            incomplete: 1,
            incomplete_len: 1480,
        }),
        "{:?}",
        report.findings
    );
    assert!(kinds(&report).contains(&"segments_exceed_mss"));
    assert_eq!(
        (
            summary.fragments,
            summary.reassembled,
            summary.incomplete_datagrams
        ),
        (3, 1, 1)
    );
}

/// Per-connection state is what bounds memory: keep it small (it was 888 bytes per
/// capture point before it was measured; 408 after).
#[test]
fn connection_state_stays_small() {
    let point = std::mem::size_of::<conn::PointState>();
    assert!(point <= 448, "PointState is {point} bytes");
}

/// tcpdump's bgp-shutdown-msg-variations.pcap: three SYNs with 41, 22 and 32 bytes of
/// data from the same sequence number were reported as a black hole.
#[test]
fn small_syns_with_data_are_not_a_black_hole() {
    let packets: Vec<(usize, Seg)> = [41, 22, 32, 22]
        .into_iter()
        .map(|payload| (0, seg(true, "S", 0, 0, payload)))
        .collect();
    let (reports, _) = analyze(&packets);
    assert!(
        !kinds(&reports[0]).contains(&"pmtud_blackhole_suspected"),
        "{:?}",
        reports[0].findings
    );
}

/// Small data segments retransmitted again and again are lost, not too big.
#[test]
fn small_segments_lost_are_not_a_black_hole() {
    let mut packets = handshake(1460, 1460);
    for id in 1..=5 {
        packets.push((0, seg(true, "A", 1001, 5001, 300).id(id).opts(ts())));
    }
    let (reports, _) = analyze(&packets);
    assert!(reports[0].findings.is_empty(), "{:?}", reports[0].findings);
}

/// tcpdump's of10_s4810.pcap: a client announcing MSS 1380 sends 1448-byte
/// segments whole, within the server's 1460: not a violation of any MSS.
#[test]
fn own_low_mss_option_does_not_bound_what_a_sender_may_send() {
    let mut packets = handshake(1380, 1460);
    packets.push((0, seg(true, "A", 1001, 5001, 1448).id(10).opts(ts())));
    packets.push((0, seg(true, "A", 2449, 5001, 1448).id(11).opts(ts())));
    packets.push((0, seg(true, "A", 3897, 5001, 100).id(12).opts(ts())));
    let (reports, _) = analyze(&packets);
    assert!(
        !kinds(&reports[0]).contains(&"segments_exceed_mss"),
        "{:?}",
        reports[0].findings
    );
}

/// Regression (found by the analyze fuzz target): an IPv6 peer's MSS of 65535 means
/// "no limit" (RFC 2675 section 5). Where this endpoint's own SYN says no MSS, its
/// send MSS rests on its own MTU, which the capture does not show: unknown, not
/// 4294967295.
#[test]
fn an_unlimited_ipv6_peer_mss_without_an_own_mss_is_unknown() {
    let c = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let s = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let build = |from_client: bool, syn: bool, ack: Option<u32>, seq: u32, options: &[Opt]| {
        let (src, dst, sport, dport) = if from_client {
            (c, s, 40000, 443)
        } else {
            (s, c, 443, 40000)
        };
        let mut step = PacketBuilder::ipv6(src, dst, 64).tcp(sport, dport, seq, 65000);
        if syn {
            step = step.syn();
        }
        if let Some(ack) = ack {
            step = step.ack(ack);
        }
        let step = step.options(options).unwrap_or_else(|e| panic!("{e}"));
        // Data on the segments after the handshake.
        let payload = if syn { 0 } else { 100 };
        let mut out = Vec::new();
        step.write(&mut out, &vec![0x61; payload])
            .unwrap_or_else(|e| panic!("{e}"));
        out
    };
    let (reports, _) = analyze_raw(&[
        (0, build(true, true, None, 1000, &[])),
        (
            0,
            build(
                false,
                true,
                Some(1001),
                5000,
                &[Opt::MaximumSegmentSize(65535)],
            ),
        ),
        (0, build(true, false, Some(5001), 1001, &[])),
    ]);
    let r = &reports[0];
    assert_eq!(r.server.syn_mss, MssSeen::Value(65535));
    assert_eq!(r.client.handshake_send_mss, None, "{:?}", r.client);
    assert_eq!(r.client.effective_send_mss, None);
    // The server's side: the client sent no option, so IPv6's default 1220 binds it.
    assert_eq!(r.server.handshake_send_mss, Some(1220));
}

#[test]
fn interim_reports_show_an_open_connection_and_its_rewrite() {
    let config = Config {
        interim_every_ns: Some(10_000_000_000),
        linger_ns: 500_000_000,
        ..Config::default()
    };
    let mut analyzer = Analyzer::new(config);
    let feed = |analyzer: &mut Analyzer, n: u64, ms: u64, point: usize, seg: Seg| {
        let bytes = seg.bytes();
        match decode(Link::Raw, &bytes) {
            Ok(Some(packet)) => analyzer.on_packet(point, n, ms * 1_000_000, &packet),
            other => panic!("packet {n} does not decode: {other:?}"),
        }
    };
    // A router's two sides: the SYN leaves clamped to 1300.
    feed(
        &mut analyzer,
        1,
        1,
        0,
        seg(true, "S", 1000, 0, 0).opts(syn_opts(1460)),
    );
    feed(
        &mut analyzer,
        2,
        1,
        1,
        seg(true, "S", 1000, 0, 0).ttl(63).opts(syn_opts(1300)),
    );
    assert!(
        analyzer.poll_interim().is_none(),
        "no answer yet, and not a second old"
    );
    feed(
        &mut analyzer,
        3,
        2,
        1,
        seg(false, "SA", 5000, 1001, 0).opts(syn_opts(1460)),
    );
    feed(
        &mut analyzer,
        4,
        2,
        0,
        seg(false, "SA", 5000, 1001, 0).ttl(63).opts(syn_opts(1460)),
    );
    analyzer.advance(1_500_000_000);
    let first = analyzer
        .poll_interim()
        .expect("an interim report after the handshake");
    assert_eq!(first.ending, Ending::Open);
    assert_eq!(kinds(&first), ["mss_rewritten"]);
    assert_eq!(
        first.points[1].syn_mss,
        [MssSeen::Value(1300), MssSeen::Value(1460)]
    );
    assert!(
        analyzer.poll_interim().is_none(),
        "one report, then one per period"
    );
    assert!(analyzer.poll_finished().is_none(), "still open");
    // Quiet for the period: no new report; with packets: one.
    analyzer.advance(12_000_000_000);
    assert!(
        analyzer.poll_interim().is_none(),
        "no packets since the last report"
    );
    feed(
        &mut analyzer,
        5,
        12_100,
        0,
        seg(true, "A", 1001, 5001, 100).opts(ts()),
    );
    analyzer.advance(12_500_000_000);
    assert!(analyzer.poll_interim().is_some(), "packets came: a report");
    // The final report has the same id.
    let summary = analyzer.finish();
    let last = analyzer.poll_finished().expect("the final report");
    assert_eq!(last.id, first.id);
    assert_eq!(
        summary.connections, 1,
        "interim reports are not connections counted"
    );
}
