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
