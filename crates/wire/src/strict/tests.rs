use super::*;
use crate::tcp::MssField;
use etherparse::{PacketBuilder, TcpOptionElement};

/// A SYN from etherparse (correct checksums): IPv4 10.0.0.1 -> 10.0.0.2 or IPv6,
/// with `options` and `payload`.
fn syn(v6: bool, options: &[TcpOptionElement], payload: &[u8]) -> Vec<u8> {
    let builder = if v6 {
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
    } else {
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
    };
    let builder = builder
        .tcp(40000, 443, 7, 64240)
        .syn()
        .options(options)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    builder
        .write(&mut out, payload)
        .unwrap_or_else(|e| panic!("{e}"));
    out
}

fn mss(value: u16) -> [TcpOptionElement; 1] {
    [TcpOptionElement::MaximumSegmentSize(value)]
}

/// The TCP checksum residual over pseudo-header and segment: 0xffff when right.
fn residual(packet: &[u8]) -> u16 {
    let layout = tcp_layout(packet).unwrap_or_else(|e| panic!("{e:?}"));
    let segment = &packet[layout.tcp_offset..layout.ip_len];
    let length = segment.len();
    let pseudo = match layout.version {
        IpVersion::V4 => checksum::pseudo_header_v4(
            packet[12..16].try_into().unwrap_or_default(),
            packet[16..20].try_into().unwrap_or_default(),
            6,
            u16::try_from(length).unwrap_or(0),
        ),
        IpVersion::V6 => checksum::pseudo_header_v6(
            packet[8..24].try_into().unwrap_or_default(),
            packet[24..40].try_into().unwrap_or_default(),
            6,
            u32::try_from(length).unwrap_or(0),
        ),
    };
    checksum::fold(pseudo + checksum::sum(segment))
}

#[test]
fn layouts_of_plain_syns() {
    let v4 = syn(false, &mss(1460), &[]);
    assert_eq!(
        tcp_layout(&v4),
        Ok(TcpLayout {
            version: IpVersion::V4,
            tcp_offset: 20,
            tcp_header_len: 24,
            ip_len: 44,
            first_fragment: false,
        })
    );
    let v6 = syn(true, &mss(1440), &[1, 2, 3]);
    assert_eq!(
        tcp_layout(&v6),
        Ok(TcpLayout {
            version: IpVersion::V6,
            tcp_offset: 40,
            tcp_header_len: 24,
            ip_len: 67,
            first_fragment: false,
        })
    );
    // Ethernet padding after the packet is not part of it.
    let padded = [v4.clone(), vec![0; 16]].concat();
    assert_eq!(tcp_layout(&padded).map(|l| l.ip_len), Ok(44));
}

#[test]
fn every_prefix_is_truncated() {
    for v6 in [false, true] {
        let packet = syn(v6, &mss(1460), &[9; 5]);
        for cut in 0..packet.len() {
            assert_eq!(
                tcp_layout(&packet[..cut]),
                Err(Refusal::Truncated),
                "v6 {v6} cut {cut}"
            );
        }
    }
}

#[test]
fn impossible_lengths_are_malformed() {
    let good = syn(false, &mss(1460), &[]);
    let with = |at: usize, value: u8| {
        let mut p = good.clone();
        p[at] = value;
        p
    };
    // IHL 4 words; total length below the header; data offset 4 words; data
    // offset past the packet.
    for bad in [with(0, 0x44), with(3, 19), with(32, 0x40), with(32, 0xf0)] {
        assert_eq!(tcp_layout(&bad), Err(Refusal::Malformed));
    }
    // An IPv6 payload length of 0: a jumbogram.
    let mut jumbo = syn(true, &mss(1440), &[]);
    jumbo[4..6].copy_from_slice(&[0, 0]);
    assert_eq!(tcp_layout(&jumbo), Err(Refusal::Malformed));
    // Total length leaves no room for the fixed TCP header that the bytes hold.
    let mut short_total = good.clone();
    short_total[3] = 30;
    assert_eq!(tcp_layout(&short_total), Err(Refusal::Malformed));
}

#[test]
fn other_protocols_and_versions() {
    let mut udp = syn(false, &mss(1460), &[]);
    udp[9] = 17;
    assert_eq!(tcp_layout(&udp), Err(Refusal::NotTcp));
    let mut esp = syn(true, &mss(1440), &[]);
    esp[6] = 50;
    assert_eq!(tcp_layout(&esp), Err(Refusal::NotTcp));
    let mut v5 = syn(false, &mss(1460), &[]);
    v5[0] = 0x55;
    assert_eq!(tcp_layout(&v5), Err(Refusal::NotIp));
}

#[test]
fn fragments() {
    let packet = syn(false, &mss(1460), &[7; 100]);
    let mut later = packet.clone();
    later[6] = 0x20;
    later[7] = 0x10;
    assert_eq!(tcp_layout(&later), Err(Refusal::Fragment));
    // A first fragment holding the whole header: editable in place.
    let mut first = packet.clone();
    first[6] = 0x20;
    assert_eq!(tcp_layout(&first).map(|l| l.first_fragment), Ok(true));
    // A first fragment that ends inside the options.
    let mut cut = syn(false, &vec![TcpOptionElement::Noop; 8], &[]);
    cut[6] = 0x20;
    cut[2..4].copy_from_slice(&42u16.to_be_bytes());
    assert_eq!(tcp_layout(&cut), Err(Refusal::Fragment));
    // IPv6: an atomic fragment is a whole packet; a first fragment is not.
    for (more, first_fragment) in [(0u8, false), (1, true)] {
        let mut v6 = syn(true, &mss(1440), &[]);
        let payload = u16::from_be_bytes([v6[4], v6[5]]) + 8;
        v6[4..6].copy_from_slice(&payload.to_be_bytes());
        v6[6] = 44;
        v6.splice(40..40, [6, 0, 0, more, 0, 0, 0x12, 0x34]);
        let layout = tcp_layout(&v6);
        assert_eq!(
            layout.map(|l| (l.tcp_offset, l.first_fragment)),
            Ok((48, first_fragment))
        );
    }
}

#[test]
fn plain_flags_need_a_plain_header() {
    let v4 = syn(false, &mss(1460), &[]);
    assert_eq!(plain_tcp_flags(&v4), Some(tcp::Flags::SYN));
    let v6 = syn(true, &mss(1440), &[]);
    assert_eq!(plain_tcp_flags(&v6), Some(tcp::Flags::SYN));
    // IPv4 options, a fragment, UDP, too few bytes: not answered.
    let mut options = v4.clone();
    options[0] = 0x46;
    let mut fragment = v4.clone();
    fragment[6] = 0x20;
    let mut udp = v4.clone();
    udp[9] = 17;
    for p in [&options[..], &fragment[..], &udp[..], &v4[..39], &v6[..59]] {
        assert_eq!(plain_tcp_flags(p), None);
    }
}

#[test]
fn link_layouts() {
    let ip = syn(false, &mss(1460), &[]);
    let ethernet = |ethertype: &[u8]| [vec![2; 12], ethertype.to_vec(), ip.clone()].concat();
    let plain = |ip_offset| {
        Ok(LinkLayout {
            ip_offset,
            may_grow: true,
        })
    };
    assert_eq!(link_layout(Link::Raw, &ip), plain(0));
    assert_eq!(link_layout(Link::Ethernet, &ethernet(&[8, 0])), plain(14));
    assert_eq!(
        link_layout(Link::Ethernet, &ethernet(&[0x81, 0, 0, 5, 8, 0])),
        plain(18)
    );
    // PPPoE carries a length: found, but may not grow.
    let pppoe = ethernet(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 46, 0, 0x21]);
    assert_eq!(
        link_layout(Link::Ethernet, &pppoe),
        Ok(LinkLayout {
            ip_offset: 22,
            may_grow: false
        })
    );
    // ARP carries no IP; a packet in GRE is refused.
    assert_eq!(
        link_layout(Link::Ethernet, &ethernet(&[8, 6])),
        Err(Refusal::NotIp)
    );
    let mut gre = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 63, 47, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let total = u16::try_from(20 + 4 + ip.len()).unwrap_or(0);
    gre[2..4].copy_from_slice(&total.to_be_bytes());
    gre.extend_from_slice(&[0, 0, 8, 0]);
    gre.extend_from_slice(&ip);
    assert_eq!(link_layout(Link::Raw, &gre), Err(Refusal::Tunneled));
    // An empty frame, and a link header with nothing after it.
    assert_eq!(link_layout(Link::Raw, &[]), Err(Refusal::Truncated));
    assert_eq!(
        link_layout(Link::Ethernet, &ethernet(&[8, 0])[..14]),
        Err(Refusal::Truncated)
    );
}

/// A frame check sequence the frame's headers declare would go stale: refused.
/// The same frames without one are found as usual (not growable: their link
/// headers are not plain).
#[test]
fn frames_that_declare_a_frame_check_sequence() {
    let ip = syn(false, &mss(1460), &[]);
    let fcs = [0xde, 0xad, 0xbe, 0xef];
    // 802.11 data: frame control, duration, three addresses, sequence control;
    // then LLC/SNAP.
    let wifi = [
        &[0x08, 0x02, 0, 0][..],
        &[2; 18],
        &[0x10, 0],
        &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00],
        &ip,
        &fcs,
    ]
    .concat();
    let found = |ip_offset| {
        Ok(LinkLayout {
            ip_offset,
            may_grow: false,
        })
    };
    // Radiotap with the Flags field alone.
    let radiotap = |flags: u8| [&[0, 0, 9, 0, 0x02, 0, 0, 0, flags][..], &wifi].concat();
    assert_eq!(
        link_layout(Link::Ieee80211Radiotap, &radiotap(0x10)),
        Err(Refusal::FrameCheck)
    );
    assert_eq!(
        link_layout(Link::Ieee80211Radiotap, &radiotap(0)),
        found(41)
    );
    // PPI with an 802.11-Common field: its flags' bit 0 is the FCS.
    let ppi = |flags: u8| {
        [
            &[0, 0, 32, 0, 105, 0, 0, 0, 2, 0, 20, 0][..],
            &[0; 8],
            &[flags, 0],
            &[0; 10],
            &wifi,
        ]
        .concat()
    };
    assert_eq!(link_layout(Link::Ppi, &ppi(0x01)), Err(Refusal::FrameCheck));
    assert_eq!(link_layout(Link::Ppi, &ppi(0)), found(64));
    // PPI carrying radiotap.
    let ppi_radiotap = [&[0, 0, 8, 0, 127, 0, 0, 0][..], &radiotap(0x10)].concat();
    assert_eq!(
        link_layout(Link::Ppi, &ppi_radiotap),
        Err(Refusal::FrameCheck)
    );
    // FabricPath: its FCS covers the whole frame.
    let fabricpath = [
        &[2; 12][..],
        &[0x89, 0x03, 0x00, 0x5f],
        &[2; 12],
        &[0x08, 0x00],
        &ip,
        &fcs,
    ]
    .concat();
    assert_eq!(
        link_layout(Link::Ethernet, &fabricpath),
        Err(Refusal::FrameCheck)
    );
}

#[test]
fn mss_options_and_set_mss() {
    // Kind 253 of 3 bytes first: the MSS value then straddles two words.
    let mut packet = syn(
        false,
        &[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
        ],
        &[],
    );
    packet[40..44].copy_from_slice(&[1, 1, 1, 1]);
    packet.splice(40..40, [253, 3, 0xaa, 2, 4, 0x05, 0xb4, 0]);
    packet[3] += 8;
    packet[32] = 0x80;
    let mut ip = ipv4::Packet::new_unchecked(&mut packet[..]);
    ip.fill_checksum();
    let mut segment = tcp::Packet::new_unchecked(&mut packet[20..]);
    let pseudo = checksum::pseudo_header_v4([10, 0, 0, 1], [10, 0, 0, 2], 6, 32);
    segment.fill_checksum(pseudo);
    assert_eq!(residual(&packet), 0xffff);
    let layout = tcp_layout(&packet).unwrap_or_else(|e| panic!("{e:?}"));
    let mut segment = layout.segment_mut(&mut packet);
    let found = segment.mss_options().unwrap_or_default();
    let fields: Vec<(usize, u16)> = found
        .iter()
        .map(|f| (f.offset(), segment.mss_value(f)))
        .collect();
    assert_eq!(fields, [(25, 1460)]);
    let first = found
        .iter()
        .next()
        .unwrap_or_else(|| panic!("an MSS option"));
    segment.set_mss(first, 1360);
    assert_eq!(&packet[45..47], &1360u16.to_be_bytes());
    assert_eq!(residual(&packet), 0xffff);
}

#[test]
fn mss_options_refuse_a_broken_list() {
    let with = |options: &[u8]| {
        let mut packet = syn(false, &[], &[]);
        packet[32] = u8::try_from(((20 + options.len()) / 4) << 4).unwrap_or(0);
        packet.extend_from_slice(options);
        let total = u16::try_from(packet.len()).unwrap_or(0);
        packet[2..4].copy_from_slice(&total.to_be_bytes());
        let layout = tcp_layout(&packet).unwrap_or_else(|e| panic!("{e:?}"));
        let segment = layout.segment_mut(&mut packet);
        segment
            .mss_options()
            .map(|found| found.iter().map(|f| segment.mss_value(f)).collect())
    };
    let malformed = |offset, what| {
        Err::<Vec<u16>, _>(crate::Error::Malformed {
            layer: crate::Layer::Tcp,
            offset,
            what,
        })
    };
    assert_eq!(with(&[1, 1, 2, 4, 5, 180, 0, 0]), Ok(vec![1460]));
    // After End of Option List nothing counts.
    assert_eq!(with(&[0, 0, 2, 4, 5, 180, 0, 0]), Ok(vec![]));
    // Unknown kinds are stepped over; two MSS options are both found.
    assert_eq!(
        with(&[30, 4, 0, 0x81, 2, 4, 5, 180, 2, 4, 5, 120, 0, 0, 0, 0]),
        Ok(vec![1460, 1400])
    );
    assert_eq!(
        with(&[30, 9, 0, 0, 2, 4, 5, 180]),
        malformed(21, "option length below 2 or past the header")
    );
    assert_eq!(
        with(&[77, 1, 2, 4]),
        malformed(21, "option length below 2 or past the header")
    );
    assert_eq!(
        with(&[2, 3, 5, 1]),
        malformed(21, "MSS option length is not 4")
    );
    assert_eq!(
        with(&[1, 1, 1, 3]),
        malformed(23, "option kind without its length")
    );
    assert_eq!(
        with(&[2, 4, 5, 180].repeat(5)),
        malformed(36, "more MSS options than a stack sends")
    );
}

#[test]
fn insertion_as_xt_tcpmss() {
    for v6 in [false, true] {
        let options = [TcpOptionElement::WindowScale(7), TcpOptionElement::Noop];
        let original = syn(v6, &options, &[]);
        let len = original.len();
        let mut buf = [original.clone(), vec![0; INSERT_ROOM]].concat();
        let layout = tcp_layout(&buf[..len]).unwrap_or_else(|e| panic!("{e:?}"));
        let value = if v6 { 1220 } else { 536 };
        assert_eq!(
            layout.insert_mss_option(&mut buf, len, value),
            Ok(len + INSERT_ROOM)
        );
        assert_eq!(residual(&buf), 0xffff, "v6 {v6}");
        if !v6 {
            assert!(ipv4::Packet::new_unchecked(&buf[..]).verify_checksum());
        }
        let parsed = etherparse::SlicedPacket::from_ip(&buf).unwrap_or_else(|e| panic!("{e}"));
        let Some(etherparse::TransportSlice::Tcp(tcp)) = parsed.transport else {
            panic!("no TCP");
        };
        let read: Vec<TcpOptionElement> = tcp.options_iterator().filter_map(Result::ok).collect();
        assert_eq!(
            read,
            [
                TcpOptionElement::MaximumSegmentSize(value),
                TcpOptionElement::WindowScale(7),
                TcpOptionElement::Noop
            ]
        );
        // No room after the packet, a payload, a first fragment: refused.
        let mut tight = original.clone();
        assert_eq!(
            layout.insert_mss_option(&mut tight, len, value),
            Err(InsertRefusal::NoRoom)
        );
    }
    let with_payload = syn(false, &[], &[1]);
    let len = with_payload.len();
    let layout = tcp_layout(&with_payload).unwrap_or_else(|e| panic!("{e:?}"));
    let mut buf = [with_payload, vec![0; 4]].concat();
    assert_eq!(
        layout.insert_mss_option(&mut buf, len, 536),
        Err(InsertRefusal::HasPayload)
    );
    let first = TcpLayout {
        first_fragment: true,
        ..layout
    };
    assert_eq!(
        first.insert_mss_option(&mut buf, len, 536),
        Err(InsertRefusal::Fragment)
    );
    let full = syn(false, &vec![TcpOptionElement::Noop; 40], &[]);
    let len = full.len();
    let layout = tcp_layout(&full).unwrap_or_else(|e| panic!("{e:?}"));
    let mut buf = [full, vec![0; 4]].concat();
    assert_eq!(
        layout.insert_mss_option(&mut buf, len, 536),
        Err(InsertRefusal::NoRoom)
    );
}

#[test]
fn a_field_from_elsewhere_writes_nothing_out_of_bounds() {
    let mut packet = syn(false, &mss(1460), &[]);
    let layout = tcp_layout(&packet).unwrap_or_else(|e| panic!("{e:?}"));
    let found = layout
        .segment_mut(&mut packet)
        .mss_options()
        .unwrap_or_default();
    let mut short = [0u8; 10];
    let field: MssField = found
        .iter()
        .next()
        .unwrap_or_else(|| panic!("an MSS option"));
    let mut view = tcp::Packet::new_unchecked(&mut short[..]);
    view.set_mss(field, 1);
    assert_eq!(short, [0; 10]);
}
