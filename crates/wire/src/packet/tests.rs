use super::*;
use etherparse::{PacketBuilder, TcpOptionElement};

/// An IPv4 SYN from 10.0.0.1:40000 to 10.0.0.2:80 with MSS 1460, as raw IP.
fn syn_v4() -> Vec<u8> {
    let mut out = Vec::new();
    let builder = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1000, 64240)
        .syn()
        .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
        .unwrap_or_else(|e| panic!("{e}"));
    builder
        .write(&mut out, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    out
}

fn syn_v6() -> Vec<u8> {
    let mut out = Vec::new();
    let builder = PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 61)
        .tcp(40000, 443, 7, 64800)
        .syn()
        .options(&[TcpOptionElement::MaximumSegmentSize(1440)])
        .unwrap_or_else(|e| panic!("{e}"));
    builder
        .write(&mut out, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    out
}

fn mss_of(link: Link, frame: &[u8]) -> Option<(u16, u16)> {
    match decode(link, frame) {
        Ok(Some(IpPacket {
            transport: Transport::Tcp(t),
            ..
        })) => match t.mss_option() {
            tcp::MssOption::Known(Some(mss)) => Some((t.dst_port(), mss)),
            _ => None,
        },
        _ => None,
    }
}

fn ethernet_header(ethertype: u16) -> Vec<u8> {
    let mut h = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    h.extend_from_slice(&ethertype.to_be_bytes());
    h
}

#[test]
fn every_link_type() {
    let v4 = syn_v4();
    let v6 = syn_v6();
    let with = |prefix: Vec<u8>, ip: &[u8]| [prefix, ip.to_vec()].concat();
    // (link, frame, (destination port, MSS) expected)
    type Case = (Link, Vec<u8>, Option<(u16, u16)>);
    let cases: Vec<Case> = vec![
        (Link::Raw, v4.clone(), Some((80, 1460))),
        (Link::Raw, v6.clone(), Some((443, 1440))),
        (Link::Ipv4, v4.clone(), Some((80, 1460))),
        (Link::Ipv6, v6.clone(), Some((443, 1440))),
        (
            Link::Ethernet,
            with(ethernet_header(0x0800), &v4),
            Some((80, 1460)),
        ),
        (
            Link::Ethernet,
            with(ethernet_header(0x86dd), &v6),
            Some((443, 1440)),
        ),
        // 802.1Q, then 802.1ad + 802.1Q (QinQ).
        (
            Link::Ethernet,
            with(
                [ethernet_header(0x8100), vec![0, 5, 0x08, 0x00]].concat(),
                &v4,
            ),
            Some((80, 1460)),
        ),
        (
            Link::Ethernet,
            with(
                [
                    ethernet_header(0x88a8),
                    vec![0, 5, 0x81, 0x00, 0, 6, 0x86, 0xdd],
                ]
                .concat(),
                &v6,
            ),
            Some((443, 1440)),
        ),
        // MPLS, two labels, bottom of stack on the second.
        (
            Link::Ethernet,
            with(
                [ethernet_header(0x8847), vec![0, 1, 0, 64, 0, 2, 1, 64]].concat(),
                &v4,
            ),
            Some((80, 1460)),
        ),
        // PPPoE session with PPP protocol 0x0021.
        (
            Link::Ethernet,
            with(
                [ethernet_header(0x8864), vec![0x11, 0, 0, 1, 0, 0, 0, 0x21]].concat(),
                &v4,
            ),
            Some((80, 1460)),
        ),
        // 802.3 with LLC/SNAP.
        (
            Link::Ethernet,
            with(
                [
                    ethernet_header(0x0040),
                    vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00],
                ]
                .concat(),
                &v4,
            ),
            Some((80, 1460)),
        ),
        (
            Link::LinuxSll,
            with(
                [vec![0, 0, 0, 1, 0, 6], vec![0; 8], vec![0x08, 0x00]].concat(),
                &v4,
            ),
            Some((80, 1460)),
        ),
        (
            Link::LinuxSll2,
            with(
                [vec![0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6], vec![0; 8]].concat(),
                &v6,
            ),
            Some((443, 1440)),
        ),
        (Link::Null, with(vec![2, 0, 0, 0], &v4), Some((80, 1460))),
        (Link::Null, with(vec![0, 0, 0, 30], &v6), Some((443, 1440))),
        (Link::Loop, with(vec![0, 0, 0, 24], &v6), Some((443, 1440))),
        (
            Link::Ppp,
            with(vec![0xff, 0x03, 0x00, 0x21], &v4),
            Some((80, 1460)),
        ),
        (Link::Ppp, with(vec![0x57], &v6), Some((443, 1440))),
        (
            Link::CiscoHdlc,
            with(vec![0x0f, 0x00, 0x08, 0x00], &v4),
            Some((80, 1460)),
        ),
    ];
    for (link, frame, expected) in cases {
        assert_eq!(mss_of(link, &frame), expected, "{link:?} {frame:02x?}");
    }
    // Not IP: ARP.
    assert_eq!(
        decode(
            Link::Ethernet,
            &[ethernet_header(0x0806), vec![0; 28]].concat()
        )
        .ok(),
        Some(None)
    );
}

#[test]
fn tunnels_are_decoded() {
    let inner = syn_v4();
    let outer_ip = |protocol: u8, payload: &[u8]| {
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 63, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        let total = u16::try_from(20 + payload.len()).unwrap_or(0);
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        [ip, payload.to_vec()].concat()
    };
    // GRE with a key carrying IPv4.
    let gre = [vec![0x20, 0, 0x08, 0x00, 0, 0, 0, 9], inner.clone()].concat();
    let frame = outer_ip(47, &gre);
    let packet = decode(Link::Raw, &frame).ok().flatten();
    assert_eq!(
        packet.map(|p| (p.tunnel, p.ttl)),
        Some((Some(Tunnel::Gre), 64))
    );
    // IPv4 in IPv4.
    let frame = outer_ip(4, &inner);
    let packet = decode(Link::Raw, &frame).ok().flatten();
    assert_eq!(packet.map(|p| p.tunnel), Some(Some(Tunnel::IpInIp)));
    // VXLAN: UDP to 4789, VXLAN header, inner Ethernet.
    let mut udp = vec![0x30, 0x39, 0x12, 0xb5, 0, 0, 0, 0];
    udp.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 1, 0]);
    udp.extend_from_slice(&ethernet_header(0x0800));
    udp.extend_from_slice(&inner);
    let frame = outer_ip(17, &udp);
    assert_eq!(mss_of(Link::Raw, &frame), Some((80, 1460)));
    // A GRE packet whose inner packet is garbage is the GRE packet, not an error.
    let bad = [vec![0, 0, 0x08, 0x00], vec![0x99; 10]].concat();
    let frame = outer_ip(47, &bad);
    let packet = decode(Link::Raw, &frame).ok().flatten();
    assert_eq!(packet.map(|p| (p.protocol, p.tunnel)), Some((47, None)));
}

#[test]
fn icmp_error_quotes_the_flow() {
    let mut quoted = syn_v4();
    quoted.truncate(28);
    let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0x78];
    icmp.extend_from_slice(&quoted);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 255, 1, 0, 0, 10, 0, 0, 254, 10, 0, 0, 1,
    ];
    let total = u16::try_from(20 + icmp.len()).unwrap_or(0);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let frame = [ip, icmp].concat();
    match decode(Link::Raw, &frame) {
        Ok(Some(IpPacket {
            transport: Transport::IcmpError(e),
            ..
        })) => {
            assert_eq!(e.mtu, Some(1400));
            let q = e.quoted.unwrap_or_else(|| panic!("no quote"));
            assert_eq!(
                (q.src_port, q.dst_port, q.tcp_seq),
                (Some(40000), Some(80), Some(1000))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn fragments() {
    let mut frame = syn_v4();
    // Later fragment: offset 185 words.
    frame[6] = 0x00;
    frame[7] = 185;
    let packet = decode(Link::Raw, &frame).ok().flatten();
    assert_eq!(
        packet.map(|p| (p.transport, p.fragment)),
        Some((
            Transport::LaterFragment,
            Some(Fragment {
                offset: 1480,
                more: false
            })
        ))
    );
}

#[test]
fn every_prefix_decodes_or_errs_without_panic() {
    let frames: Vec<(Link, Vec<u8>)> = vec![
        (
            Link::Ethernet,
            [ethernet_header(0x8100), vec![0, 5, 0x86, 0xdd], syn_v6()].concat(),
        ),
        (
            Link::LinuxSll2,
            [
                vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6],
                vec![0; 8],
                syn_v4(),
            ]
            .concat(),
        ),
    ];
    for (link, frame) in frames {
        let full = mss_of(link, &frame);
        assert!(full.is_some());
        for cut in 0..frame.len() {
            let prefix = &frame[..cut];
            match decode(link, prefix) {
                Ok(Some(p)) => {
                    if let Transport::Tcp(t) = p.transport {
                        // Cut inside the options: the MSS is unknown, never absent.
                        assert_ne!(t.mss_option(), tcp::MssOption::Known(None), "cut {cut}");
                    }
                }
                Ok(None) => panic!("cut {cut}: an IP frame decoded as not IP"),
                Err((offset, _)) => assert!(offset <= cut.max(1) + 60, "cut {cut}"),
            }
        }
    }
}

#[test]
fn ipv4_total_length_zero_is_a_super_segment() {
    // Linux writes total length 0 in GSO super-segments above 64 KiB (BIG TCP).
    let mut frame = syn_v4();
    frame[2] = 0;
    frame[3] = 0;
    frame.extend_from_slice(&[0x61; 70_000]);
    let packet = decode(Link::Raw, &frame).ok().flatten();
    assert_eq!(packet.map(|p| p.ip_len), Some(0));
    match packet.map(|p| p.transport) {
        Some(Transport::Tcp(t)) => assert_eq!(t.payload().len(), 70_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mpls_over_ppp_and_wccp_in_gre() {
    let v4 = syn_v4();
    // PPP protocol 0x0281 (MPLS), one label with bottom of stack.
    let ppp = [vec![0xff, 0x03, 0x02, 0x81, 0, 1, 1, 64], v4.clone()].concat();
    assert_eq!(mss_of(Link::Ppp, &ppp), Some((80, 1460)));
    // GRE protocol 0x883e with a WCCPv2 redirect header.
    let gre = [vec![0, 0, 0x88, 0x3e, 0, 0, 0, 0], v4.clone()].concat();
    let mut outer = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 63, 47, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let total = u16::try_from(20 + gre.len()).unwrap_or(0);
    outer[2..4].copy_from_slice(&total.to_be_bytes());
    let frame = [outer, gre].concat();
    assert_eq!(mss_of(Link::Raw, &frame), Some((80, 1460)));
}

/// ARCNET as Linux captures it, both framings (tcpdump's arcnet-rfc1051 and
/// arcnet-rfc1201 captures have these headers), Juniper's header with extensions
/// before Ethernet (bgp-aigp.pcap), and IP over InfiniBand with the RFC 4391 header
/// alone and behind Linux's 40-byte pseudo-header (ipoib.pcap).
#[test]
fn arcnet_juniper_and_ipoib() {
    let v4 = syn_v4();
    let with = |header: &[u8]| {
        let mut frame = header.to_vec();
        frame.extend_from_slice(&v4);
        frame
    };
    assert_eq!(
        mss_of(Link::ArcnetLinux, &with(&[0xbe, 0x50, 0xc3, 0x00, 0xf0])),
        Some((80, 1460))
    );
    assert_eq!(
        mss_of(
            Link::ArcnetLinux,
            &with(&[0xbe, 0x50, 0xc0, 0x00, 0xd4, 0x00, 0x01, 0x6b])
        ),
        Some((80, 1460))
    );
    // An ARCNET ARP (RFC 1201 0xd5) is not IP.
    assert_eq!(
        decode(
            Link::ArcnetLinux,
            &with(&[0xbe, 0x50, 0xc0, 0x00, 0xd5, 0, 0, 1])
        ),
        Ok(None)
    );
    let mut juniper = b"MGC\x80".to_vec();
    juniper.extend_from_slice(&16u16.to_be_bytes());
    juniper.extend_from_slice(&[0x03, 1, 1, 6, 1, 0x0e, 1, 2, 0x8c, 0, 4, 4, 0x4c, 1, 0, 0]);
    juniper.extend_from_slice(&ethernet_header(0x0800));
    assert_eq!(
        mss_of(Link::JuniperEthernet, &with(&juniper)),
        Some((80, 1460))
    );
    assert_eq!(
        mss_of(Link::JuniperEthernet, &with(b"MGC\x02\0\0\0\x02")),
        Some((80, 1460))
    );
    assert_eq!(decode(Link::JuniperEthernet, &with(b"XYZ\x00")), Ok(None));
    assert_eq!(
        mss_of(Link::Ipoib, &with(&[0x08, 0x00, 0, 0])),
        Some((80, 1460))
    );
    let mut linux = vec![0u8; 40];
    linux.extend_from_slice(&[0x08, 0x00, 0, 0]);
    assert_eq!(mss_of(Link::Ipoib, &with(&linux)), Some((80, 1460)));
}

mod fixtures;

use fixtures::{hex, ipv4, udp};

/// Frames of tcpdump's test captures (`tests/*.pcap` in its source), and what
/// tshark 4.0 makes of them.
#[test]
fn frames_from_tcpdumps_captures() {
    let innermost = |link, frame: &[u8]| {
        decode(link, frame)
            .ok()
            .flatten()
            .map(|p| (p.src.to_string(), p.dst.to_string(), p.protocol, p.tunnel))
    };
    let found = |src: &str, dst: &str, protocol, tunnel| {
        Some((src.to_string(), dst.to_string(), protocol, tunnel))
    };
    // nflog.pcap frame 1: family 2, TLVs little-endian, a DNS answer in the payload.
    let nflog = hex(
        "02000014080001000800012705000a00000000000800040000000002100008000006ffffb8a386b9\
         c3d6000006000f000001000006001100000e0000120010000811961c10c8b8a386b9c3d6080000001400\
         030000000000522a1f9e00000000000960fc4d00090045000049000040003711c5144a522a2a0a000014\
         0035a65900356ddf437181800001000100000000076578616d706c6503636f6d0000010001c00c000100\
         0100002f9600045db8d877000000",
    );
    assert_eq!(
        innermost(Link::Nflog, &nflog),
        found("74.82.42.42", "10.0.0.20", 17, None)
    );
    // ieee802.11_htc.pcap frame 1, cut after the UDP header: radiotap (60 bytes,
    // TSFT then Flags 0x04), QoS data with +HTC, SNAP, a DHCP request.
    let htc = hex(
        "00003c006b08804086b2ae390000000004003c144001d3950000fcc3fe00e5690f008021027f00037f00\
         1000cb050204feff000000000000e06e8e2788813000368094c0228bb0be835b4b40ffffffffffff7005\
         161bffffffffaaaa030000000800450001485b000000ff115fa500000000ffffffff0044004301349560",
    );
    assert_eq!(
        innermost(Link::Ieee80211Radiotap, &htc),
        found("0.0.0.0", "255.255.255.255", 17, None)
    );
    // ieee802.11_rx-stbc.pcap frame 1, cut: QoS data with the Protected bit (tshark
    // shows "data" too).
    let protected = hex(
        "000025002b480800641c00000000000010009e098004cd010000272507000000000000000088422c0068\
         a3c40346da207c8f503f3a207c8f503f3a200100001100002000000000aaaa0300000008004500005\
         4bcd2000040013a7cc0a80106c0a80104",
    );
    assert_eq!(decode(Link::Ieee80211Radiotap, &protected), Ok(None));
    // erspan-type-i-1.pcap frame 1: GRE 0x88BE without a sequence number, then the
    // mirrored frame (802.1Q, an ICMP echo).
    let type_1 = hex(
        "00e0009b6d8100259e81b354080045fc007e00000000202fd7a501010101c0a8ff05000088be00115c3d\
         de0000259e81b3548100c0650800450000549f430000ff01062a0a3480e90a3480ea0800042aac520003\
         fda18a280d0b1600504e4700fda18a28000102030405060708090a0b0c0d0e0f10111213141516171819\
         1a1b1c1d1e1f2021222324252627",
    );
    assert_eq!(
        innermost(Link::Ethernet, &type_1),
        found("10.52.128.233", "10.52.128.234", 1, Some(Tunnel::Erspan))
    );
    // erspan-type-ii-2.pcap frame 1: GRE with a sequence number, ERSPAN version 1.
    let type_2 = hex(
        "000c29f1581e005056c0000108004500006201284000fc2f74ebc0a8c343c0a8c3c4100088be00109528\
         1065c0010008406501005e00000200000c07acfe080045c0003000000000011169310ac86502e0000002\
         07c107c1001cd965000010010369fe00636973636f0000000ac86501",
    );
    assert_eq!(
        innermost(Link::Ethernet, &type_2),
        found("10.200.101.2", "224.0.0.2", 17, Some(Tunnel::Erspan))
    );
    // erspan-type-iii-ft-0.pcap frame 1: GRE 0x22EB (no sequence number), ERSPAN
    // version 2, frame type 0.
    let type_3 = hex(
        "005056acc80cf8c28890d27b08004500008a000000003f2f3d970a1d1e680a1d0b0d000022eb20140000\
         a3595bff00000006005056ac18a0f8c28890d27b810000140800450000549d1240003f016b470a1d0b01\
         0a1d14150800269c3fcb00e22264905d0000000015220a0000000000101112131415161718191a1b1c1d\
         1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
    );
    assert_eq!(
        innermost(Link::Ethernet, &type_3),
        found("10.29.11.1", "10.29.20.21", 1, Some(Tunnel::Erspan))
    );
}

/// NFLOG's TLV headers are in the capturing host's byte order: a big-endian host's
/// capture reads the same.
#[test]
fn nflog_in_either_byte_order() {
    let v4 = syn_v4();
    let tlv = |little: bool, kind: u16, value: &[u8]| {
        let len = u16::try_from(4 + value.len()).unwrap_or(0);
        let (len, kind) = if little {
            (len.to_le_bytes(), kind.to_le_bytes())
        } else {
            (len.to_be_bytes(), kind.to_be_bytes())
        };
        let mut out = [&len[..], &kind[..], value].concat();
        out.resize(out.len().next_multiple_of(4), 0);
        out
    };
    for little in [true, false] {
        let frame = [
            vec![2, 0, 0, 5],
            // NFULA_PACKET_HDR (EtherType, hook), a prefix, then the payload.
            tlv(little, 1, &[0x08, 0x00, 3, 0]),
            tlv(little, 10, b"drop\0"),
            tlv(little, 9, &v4),
        ]
        .concat();
        assert_eq!(mss_of(Link::Nflog, &frame), Some((80, 1460)), "{little}");
    }
    // Family 7 (bridge) is not read; a TLV shorter than its header is malformed.
    let bridge = [vec![7, 0, 0, 5], tlv(true, 9, &v4)].concat();
    assert_eq!(decode(Link::Nflog, &bridge), Ok(None));
    let broken = [vec![2, 0, 0, 5], vec![2, 0, 1, 0], tlv(true, 9, &v4)].concat();
    assert!(matches!(
        decode(Link::Nflog, &broken),
        Err((0, Error::Malformed { offset: 4, .. }))
    ));
}

/// Each new header before an IP SYN, cut at every length: the decoder errs or
/// finds the packet, never calls it "not IP", never panics.
#[test]
fn every_prefix_of_the_new_headers() {
    for f in fixtures::all().into_iter().filter(|f| f.syn.is_some()) {
        let Some(link) = Link::from_link_type(f.link_type) else {
            continue;
        };
        for cut in 0..f.frame.len() {
            match decode(link, &f.frame[..cut]) {
                Ok(Some(p)) => assert!((p.offset as usize) < cut, "{}: cut {cut}", f.what),
                Ok(None) => panic!("{}: cut {cut}: an IP frame decoded as not IP", f.what),
                Err((offset, _)) => assert!(offset <= cut.max(1) + 60, "{}: cut {cut}", f.what),
            }
        }
    }
}

/// UDP to or from a tunnel's port carrying what is not that tunnel: the UDP packet
/// itself.
#[test]
fn udp_that_is_no_tunnel_is_udp() {
    let v4 = syn_v4();
    for port in [4789, 6081, 4754, 2152, 3544, 1701, 5072] {
        for (src, dst) in [(port, 40000), (40000, port)] {
            // A DNS query: no tunnel header checks out.
            let dns = hex("abcd01000001000000000000076578616d706c6503636f6d0000010001");
            let frame = ipv4(17, &udp(src, dst, &dns));
            let packet = decode(Link::Raw, &frame).ok().flatten();
            assert_eq!(
                packet.map(|p| (p.protocol, p.tunnel, p.transport)),
                Some((17, None, Transport::Other)),
                "{src} -> {dst}"
            );
            // Too short for any tunnel header.
            let frame = ipv4(17, &udp(src, dst, &v4[..3]));
            assert_eq!(
                decode(Link::Raw, &frame).ok().flatten().map(|p| p.tunnel),
                Some(None)
            );
        }
    }
}

/// Regression (found by the packet_decode fuzz target): a PPI header whose length
/// ran past the frame, before raw IP, gave an error at an offset past the frame.
#[test]
fn ppi_length_past_the_frame_is_truncated() {
    let frame = [0, 32, 0, 140, 14, 0, 0, 0, 7, 247, 35, 7, 0];
    assert_eq!(
        decode(Link::Ppi, &frame),
        Err((
            0,
            Error::Truncated {
                layer: Layer::Link,
                needed: 35840,
                available: 13
            }
        ))
    );
}

proptest::proptest! {
    /// Arbitrary bytes after each new link-layer header and tunnel header: no panic,
    /// the IP header inside the frame, errors at offsets inside it.
    #[test]
    fn arbitrary_bytes_after_new_headers(
        which in 0usize..16,
        port in proptest::sample::select(vec![4789u16, 6081, 4754, 2152, 3544, 1701, 5072]),
        rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160),
    ) {
        let (link, head): (Link, Vec<u8>) = match which {
            0 => (Link::Nflog, vec![2, 0, 0, 1]),
            1 => (Link::Nflog, vec![10, 0, 0, 1, 8, 0, 1, 0, 0x86, 0xdd, 3, 0]),
            2 => (Link::Fddi, [&[0x50][..], &[0; 12], &[0xaa, 0xaa, 3, 0, 0, 0]].concat()),
            3 => (Link::Ieee80211, vec![0x88, 0x83]),
            4 => (Link::Ieee80211, vec![0x08, 0x02]),
            5 => (Link::Ieee80211Radiotap, vec![0, 0, 18, 0, 0x07, 0, 0, 0x80]),
            6 => (Link::Ieee80211Radiotap, vec![0, 0, 8, 0, 0, 0, 0, 0, 0x88, 0x02]),
            7 => (Link::Ppi, vec![0, 0, 8, 0, 127, 0, 0, 0]),
            8 => (Link::Ppi, vec![0, 0, 8, 0, 239, 0, 0, 0]),
            9 => (Link::Ethernet, ethernet_header(0x88e7)),
            10 => (Link::Ethernet, ethernet_header(0x8926)),
            11 => (Link::Ethernet, ethernet_header(0x8903)),
            12 => (Link::Raw, ipv4(47, &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1])[..28].to_vec()),
            13 => (Link::Raw, ipv4(47, &[0x00, 0, 0x22, 0xeb])[..24].to_vec()),
            _ => (Link::Raw, ipv4(17, &udp(40000, port, &[]))[..28].to_vec()),
        };
        let mut frame = [head, rest].concat();
        if link == Link::Raw {
            // The outer IPv4 total length covers whatever follows.
            let total = u16::try_from(frame.len()).unwrap_or(u16::MAX);
            frame[2..4].copy_from_slice(&total.to_be_bytes());
            if which > 13 {
                let udp_len = u16::try_from(frame.len() - 20).unwrap_or(u16::MAX);
                frame[24..26].copy_from_slice(&udp_len.to_be_bytes());
            }
        }
        // The strict layout (and its FCS check) over the same bytes: no panic.
        let _ = crate::strict::link_layout(link, &frame);
        match decode(link, &frame) {
            Ok(Some(p)) => {
                proptest::prop_assert!((p.offset as usize) < frame.len());
                if link == Link::Raw {
                    // A tunnel is crossed, or the outer packet itself is found.
                    proptest::prop_assert!(p.tunnel.is_some() || p.offset == 0);
                }
            }
            Ok(None) => {}
            Err((offset, _)) => proptest::prop_assert!(offset <= frame.len()),
        }
    }
}
