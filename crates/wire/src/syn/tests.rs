use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};

const V4: (IpAddr, IpAddr) = (
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
);

fn v6() -> (IpAddr, IpAddr) {
    (
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
    )
}

fn pseudo(src: IpAddr, dst: IpAddr, len: usize) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            checksum::pseudo_header_v4(s.octets(), d.octets(), 6, u16::try_from(len).unwrap_or(0))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            checksum::pseudo_header_v6(s.octets(), d.octets(), 6, u32::try_from(len).unwrap_or(0))
        }
        _ => 0,
    }
}

/// A Linux client's SYN options, as `mss probe hops` sends them: MSS, SACK
/// permitted, timestamps, NOP, window scale; 20 bytes, no padding.
#[test]
fn a_linux_like_syn_byte_for_byte() {
    let options = [
        TcpOption::Mss(1460),
        TcpOption::SackPermitted,
        TcpOption::Timestamps { tsval: 1, tsecr: 0 },
        TcpOption::Nop,
        TcpOption::WindowScale(7),
    ];
    for (src, dst) in [V4, v6()] {
        let syn = Syn {
            options: &options,
            ..Syn::new(40_123, 5201, 0x6d73_7304)
        };
        let bytes = syn.build(src, dst).unwrap_or_default();
        let mut expected = vec![
            0x9c, 0xbb, 0x14, 0x51, 0x6d, 0x73, 0x73, 0x04, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0,
            0, 0, 0,
        ];
        expected.extend([
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]);
        assert_eq!(bytes[..16], expected[..16]);
        assert_eq!(bytes[18..], expected[18..]);
        assert!(checksum::verify(pseudo(src, dst, 40), &bytes));
    }
}

/// `mss probe path --method tcp`: an MSS option and a zero payload that gives the
/// probe its size.
#[test]
fn a_padded_syn_has_a_valid_checksum_and_its_size() {
    let options = [TcpOption::Mss(1460)];
    let syn = Syn {
        options: &options,
        payload_len: 1000,
        ..Syn::new(40_000, 80, 7)
    };
    let bytes = syn.build(V4.0, V4.1).unwrap_or_default();
    assert_eq!(bytes.len(), 1024);
    assert_eq!(bytes[12] >> 4, 6, "data offset: 24 bytes");
    assert_eq!(bytes[13], 0x02, "SYN only");
    assert!(checksum::verify(pseudo(V4.0, V4.1, 1024), &bytes));
}

#[test]
fn options_are_padded_and_bounded() {
    let options = [TcpOption::WindowScale(7)];
    let bytes = Syn {
        options: &options,
        ..Syn::new(1, 2, 3)
    }
    .build(V4.0, V4.1)
    .unwrap_or_default();
    assert_eq!(&bytes[20..], &[3, 3, 7, 0]);
    let many = [TcpOption::Timestamps { tsval: 0, tsecr: 0 }; 5];
    assert_eq!(
        Syn {
            options: &many,
            ..Syn::new(1, 2, 3)
        }
        .build(V4.0, V4.1),
        Err(BuildError::OptionsTooLong { len: 52 })
    );
    let cut = [TcpOption::Cut { kind: Some(2) }];
    assert_eq!(
        Syn {
            options: &cut,
            ..Syn::new(1, 2, 3)
        }
        .build(V4.0, V4.1),
        Err(BuildError::NotSendable { kind: Some(2) })
    );
    assert_eq!(
        Syn::new(1, 2, 3).build(V4.0, v6().1),
        Err(BuildError::MixedVersions)
    );
    let long = Syn {
        payload_len: 65_516,
        ..Syn::new(1, 2, 3)
    };
    assert_eq!(
        long.build(V4.0, V4.1),
        Err(BuildError::SegmentTooLong { len: 65_536 })
    );
    assert!(long.build(v6().0, v6().1).is_ok());
}

#[test]
fn describes_an_ipv4_syn() {
    let mut syn = vec![
        0x45, 0, 0, 52, 0, 0, 0x40, 0, 63, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    syn.extend([
        0x9c, 0x40, 0x1b, 0xfb, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
    ]);
    syn.extend([2, 4, 0x05, 0x50, 1, 3, 3, 7, 4, 2, 0, 0]);
    let d = describe(&syn);
    assert_eq!(d.map(|d| (d.version, d.ttl)), Some((IpVersion::V4, 63)));
    assert_eq!(d.map(|d| d.mss), Some(Some(1360)));
    assert_eq!(d.map(|d| d.window_scale), Some(Some(7)));
    assert_eq!(
        d.map(|d| (d.sack_permitted, d.timestamps)),
        Some((true, false))
    );
    assert_eq!(
        d.as_ref().map(SynDescription::option_kinds),
        Some(&[2, 3, 4][..])
    );
    assert!(describe(&[0x45, 0]).is_none());
    assert!(describe(&[]).is_none());
    // An ICMP quote of the IP header and 8 bytes: no TCP header to describe.
    assert!(describe(&syn[..28]).is_none());
}

#[test]
fn describes_an_ipv6_syn_after_an_extension_header_and_a_cut_quote() {
    let options = [
        TcpOption::Mss(1440),
        TcpOption::SackPermitted,
        TcpOption::Timestamps { tsval: 9, tsecr: 0 },
        TcpOption::Nop,
        TcpOption::WindowScale(10),
        TcpOption::FastOpen(&[]),
    ];
    let (src, dst) = v6();
    let segment = Syn {
        options: &options,
        ..Syn::new(1, 2, 3)
    }
    .build(src, dst)
    .unwrap_or_default();
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend(u16::try_from(8 + segment.len()).unwrap_or(0).to_be_bytes());
    packet.extend([0, 58]);
    packet.extend([0xfd; 32]);
    packet.extend([6, 0, 1, 4, 0, 0, 0, 0]);
    packet.extend(&segment);
    let d = describe(&packet);
    assert_eq!(
        d.map(|d| (d.version, d.ttl, d.mss)),
        Some((IpVersion::V6, 58, Some(1440)))
    );
    assert_eq!(
        d.as_ref().map(SynDescription::option_kinds),
        Some(&[2, 4, 8, 3, 34][..])
    );
    // Cut inside the timestamps: what was captured, the cut option's kind.
    let d = describe(&packet[..48 + 20 + 8]);
    assert_eq!(d.map(|d| (d.mss, d.timestamps)), Some((Some(1440), false)));
    assert_eq!(
        d.as_ref().map(SynDescription::option_kinds),
        Some(&[2, 4, 8][..])
    );
    // Not TCP after the extension header.
    let mut udp = packet.clone();
    udp[40] = 17;
    assert!(describe(&udp).is_none());
}
