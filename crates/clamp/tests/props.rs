//! Property tests of the clamp's contract on generated SYNs (IPv4 and IPv6, option
//! lists in any order with unknown kinds, MSS at odd offsets, payloads, wrong
//! checksums), on arbitrary bytes, and with etherparse as an independent reader.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use mss_clamp::{Outcome, Skip, Targets, clamp_frame, clamp_ip};
use mss_wire::checksum;
use mss_wire::packet::Link;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Opt {
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Timestamps(u32, u32),
    Unknown(u8, Vec<u8>),
}

fn opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        Just(Opt::Nop),
        any::<u16>().prop_map(Opt::Mss),
        any::<u8>().prop_map(Opt::WindowScale),
        Just(Opt::SackPermitted),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Opt::Timestamps(a, b)),
        (
            prop_oneof![Just(30u8), Just(34u8), Just(253u8), 9u8..=29],
            prop::collection::vec(any::<u8>(), 0..6)
        )
            .prop_map(|(k, d)| Opt::Unknown(k, d)),
    ]
}

fn encode(opts: &[Opt]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for o in opts {
        match o {
            Opt::Nop => out.push(1),
            Opt::Mss(v) => out.extend([2, 4, (v >> 8) as u8, *v as u8]),
            Opt::WindowScale(s) => out.extend([3, 3, *s]),
            Opt::SackPermitted => out.extend([4, 2]),
            Opt::Timestamps(a, b) => {
                out.extend([8, 10]);
                out.extend(a.to_be_bytes());
                out.extend(b.to_be_bytes());
            }
            Opt::Unknown(k, d) => {
                out.extend([*k, 2 + d.len() as u8]);
                out.extend(d);
            }
        }
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    (out.len() <= 40).then_some(out)
}

/// An IPv4 or IPv6 TCP segment with correct checksums, plus `spare` zero bytes.
fn packet(v6: bool, flags: u8, options: &[u8], payload: &[u8], spare: usize) -> Vec<u8> {
    let tcp_len = 20 + options.len() + payload.len();
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp[12] = (((20 + options.len()) / 4) as u8) << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    tcp.extend_from_slice(options);
    tcp.extend_from_slice(payload);
    let mut ip = if v6 {
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        h[6] = 6;
        h[7] = 64;
        h[8..24].copy_from_slice(&[0xfd, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h[24..40].copy_from_slice(&[0xfd, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h
    } else {
        let mut h = vec![0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        h[6] = 0x40;
        h[8] = 64;
        h[9] = 6;
        h[12..16].copy_from_slice(&[10, 81, 1, 1]);
        h[16..20].copy_from_slice(&[10, 81, 2, 2]);
        let hc = checksum::checksum(&h);
        h[10..12].copy_from_slice(&hc.to_be_bytes());
        h
    };
    let pseudo = pseudo(&ip, tcp_len);
    let cs = checksum::fold(pseudo + checksum::sum(&tcp));
    tcp[16..18].copy_from_slice(&(!cs).to_be_bytes());
    ip.extend(tcp);
    ip.extend(std::iter::repeat_n(0u8, spare));
    ip
}

fn pseudo(ip: &[u8], tcp_len: usize) -> u64 {
    if ip[0] >> 4 == 6 {
        checksum::pseudo_header_v6(
            ip[8..24].try_into().unwrap(),
            ip[24..40].try_into().unwrap(),
            6,
            tcp_len as u32,
        )
    } else {
        checksum::pseudo_header_v4(
            ip[12..16].try_into().unwrap(),
            ip[16..20].try_into().unwrap(),
            6,
            tcp_len as u16,
        )
    }
}

fn ip_header_len(p: &[u8]) -> usize {
    if p[0] >> 4 == 6 {
        40
    } else {
        usize::from(p[0] & 0xf) * 4
    }
}

fn ip_total(p: &[u8]) -> usize {
    if p[0] >> 4 == 6 {
        40 + usize::from(u16::from_be_bytes([p[4], p[5]]))
    } else {
        usize::from(u16::from_be_bytes([p[2], p[3]]))
    }
}

/// The one's-complement residual of the TCP checksum over pseudo-header and
/// segment: 0xffff when the checksum is right.
fn residual(p: &[u8]) -> u16 {
    let h = ip_header_len(p);
    let end = ip_total(p);
    checksum::fold(pseudo(p, end - h) + checksum::sum(&p[h..end]))
}

/// Offsets (from the packet start) of the MSS option values.
fn mss_positions(p: &[u8]) -> Vec<usize> {
    let h = ip_header_len(p);
    let doff = usize::from(p[h + 12] >> 4) * 4;
    let mut out = Vec::new();
    let mut i = h + 20;
    while i < h + doff {
        match p[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = usize::from(p[i + 1]);
                if kind == 2 {
                    out.push(i + 2);
                }
                i += len.max(2);
            }
        }
    }
    out
}

fn targets() -> impl Strategy<Value = Targets> {
    (0u16..=1600, 0u16..=1600, any::<bool>()).prop_map(|(a, b, insert)| Targets {
        ipv4: Some(a.max(1)),
        ipv6: Some(b.max(1)),
        insert,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Lowering: checksum stays right, nothing rises, only the MSS values and the
    /// checksum change, and a second pass changes nothing.
    #[test]
    fn lowering_keeps_the_contract(
        v6 in any::<bool>(),
        opts in prop::collection::vec(opt(), 0..8),
        payload in prop::collection::vec(any::<u8>(), 0..40),
        ack in any::<bool>(),
        targets in targets(),
    ) {
        let Some(options) = encode(&opts) else { return Ok(()) };
        let flags = if ack { 0x12 } else { 0x02 };
        let original = packet(v6, flags, &options, &payload, 0);
        let mut p = original.clone();
        let len = p.len();
        let targets = Targets { insert: false, ..targets };
        let target = if v6 { targets.ipv6 } else { targets.ipv4 }.unwrap();
        let clamped = clamp_ip(&mut p, len, &targets);
        prop_assert_eq!(clamped.len, len);
        prop_assert_eq!(residual(&p), 0xffff, "checksum broken: {:?}", clamped);
        let positions = mss_positions(&original);
        let h = ip_header_len(&original);
        for (i, (a, b)) in original.iter().zip(&p).enumerate() {
            if a != b {
                prop_assert!(
                    positions.iter().any(|&m| i == m || i == m + 1) || i == h + 16 || i == h + 17,
                    "byte {} changed", i
                );
            }
        }
        for &m in positions.iter().filter(|_| clamped.outcome != Outcome::Unchanged(Skip::BadOptions)) {
            let before = u16::from_be_bytes([original[m], original[m + 1]]);
            let after = u16::from_be_bytes([p[m], p[m + 1]]);
            prop_assert!(after <= before);
            prop_assert_eq!(after, before.min(target));
        }
        match clamped.outcome {
            Outcome::Lowered { from, to, .. } => {
                prop_assert!(from > to);
                prop_assert_eq!(to, target);
            }
            Outcome::Unchanged(Skip::NoMssOption) => prop_assert!(positions.is_empty()),
            Outcome::Unchanged(Skip::AlreadyLow { mss }) => prop_assert!(mss <= target),
            // More than four MSS options is no SYN a stack sends: left alone.
            Outcome::Unchanged(Skip::BadOptions) => {
                prop_assert!(positions.len() > 4);
                prop_assert_eq!(&p, &original);
            }
            Outcome::Unchanged(_) | Outcome::Inserted { .. } => {
                prop_assert!(false, "unexpected {:?}", clamped.outcome)
            }
        }
        let again = clamp_ip(&mut p.clone(), len, &targets);
        let lowered_again = matches!(again.outcome, Outcome::Lowered { .. });
        prop_assert!(!lowered_again, "second pass: {:?}", again.outcome);
    }

    /// A wrong checksum stays wrong by exactly as much: the clamp never "fixes" or
    /// further breaks it (captures at a sender hold partial checksums).
    #[test]
    fn a_wrong_checksum_stays_as_wrong(
        v6 in any::<bool>(),
        mss in 1000u16..=9000,
        skew in 1u16..=0xfffe,
        target in 500u16..1000,
    ) {
        let options = encode(&[Opt::Nop, Opt::Mss(mss), Opt::Nop, Opt::Nop, Opt::Nop]).unwrap();
        let mut p = packet(v6, 0x02, &options, &[], 0);
        let h = ip_header_len(&p);
        let cs = u16::from_be_bytes([p[h + 16], p[h + 17]]).wrapping_add(skew);
        p[h + 16..h + 18].copy_from_slice(&cs.to_be_bytes());
        let before = residual(&p);
        let len = p.len();
        let clamped = clamp_ip(&mut p, len, &Targets { ipv4: Some(target), ipv6: Some(target), insert: false });
        let lowered = matches!(clamped.outcome, Outcome::Lowered { .. });
        prop_assert!(lowered, "{:?}", clamped.outcome);
        prop_assert_eq!(residual(&p), before);
    }

    /// Insertion as xt_TCPMSS: lengths, data offset and checksums follow, the other
    /// options keep their order, and etherparse reads the result.
    #[test]
    fn insertion_is_well_formed(
        v6 in any::<bool>(),
        opts in prop::collection::vec(opt(), 0..6),
        target in 1u16..=9000,
        spare in 0usize..8,
    ) {
        let opts: Vec<Opt> = opts.into_iter().filter(|o| !matches!(o, Opt::Mss(_))).collect();
        let Some(options) = encode(&opts) else { return Ok(()) };
        let original = packet(v6, 0x02, &options, &[], spare);
        let mut p = original.clone();
        let len = original.len() - spare;
        let clamped = clamp_ip(&mut p, len, &Targets { ipv4: Some(target), ipv6: Some(target), insert: true });
        if spare < 4 || options.len() + 4 > 40 {
            prop_assert_eq!(clamped.outcome, Outcome::Unchanged(Skip::NoRoom));
            prop_assert_eq!(&p, &original);
            return Ok(());
        }
        let value = target.min(if v6 { 1220 } else { 536 });
        let inserted = matches!(clamped.outcome, Outcome::Inserted { value: v, .. } if v == value);
        prop_assert!(inserted, "{:?}", clamped.outcome);
        prop_assert_eq!(clamped.len, len + 4);
        let p = &p[..clamped.len];
        prop_assert_eq!(ip_total(p), clamped.len);
        prop_assert_eq!(residual(p), 0xffff);
        if !v6 {
            prop_assert_eq!(checksum::checksum(&p[..20]), 0);
        }
        let h = ip_header_len(p);
        prop_assert_eq!(&p[h + 20..h + 24], &[2, 4, (value >> 8) as u8, value as u8][..]);
        prop_assert_eq!(&p[h + 24..h + 24 + options.len()], &options[..]);
        let parsed = etherparse::SlicedPacket::from_ip(p).unwrap();
        let Some(etherparse::TransportSlice::Tcp(tcp)) = parsed.transport else {
            panic!("etherparse finds no TCP");
        };
        prop_assert_eq!(tcp.data_offset() as usize * 4, 20 + options.len() + 4);
        let first = tcp.options_iterator().next().unwrap().unwrap();
        prop_assert_eq!(first, etherparse::TcpOptionElement::MaximumSegmentSize(value));
    }

    /// Any bytes: no panic, and when nothing was done nothing changed.
    #[test]
    fn arbitrary_bytes(
        mut bytes in prop::collection::vec(any::<u8>(), 0..200),
        cut in 0usize..200,
        targets in targets(),
        link in prop_oneof![Just(Link::Ethernet), Just(Link::Raw), Just(Link::LinuxSll2)],
    ) {
        let len = cut.min(bytes.len());
        let original = bytes.clone();
        let clamped = clamp_ip(&mut bytes, len, &targets);
        prop_assert!(clamped.len <= original.len());
        if let Outcome::Unchanged(_) = clamped.outcome {
            prop_assert_eq!(&bytes, &original);
        }
        let mut frame = original.clone();
        let framed = clamp_frame(&mut frame, len, link, &targets);
        prop_assert!(framed.len <= original.len());
        if let Outcome::Unchanged(_) = framed.outcome {
            prop_assert_eq!(&frame, &original);
        }
    }

    /// Truncated SYNs are left alone (every prefix).
    #[test]
    fn every_prefix_of_a_syn(v6 in any::<bool>(), mss in 1400u16..=1460) {
        let options = encode(&[Opt::Mss(mss), Opt::SackPermitted, Opt::Timestamps(1, 0), Opt::Nop, Opt::WindowScale(7)]).unwrap();
        let original = packet(v6, 0x02, &options, &[], 0);
        for cut in 0..original.len() {
            let mut p = original.clone();
            let clamped = clamp_ip(&mut p, cut, &Targets { ipv4: Some(1360), ipv6: Some(1340), insert: true });
            prop_assert!(matches!(clamped.outcome, Outcome::Unchanged(Skip::Truncated)), "cut {}: {:?}", cut, clamped.outcome);
            prop_assert_eq!(&p, &original);
        }
    }
}

#[test]
fn ethernet_vlan_frame_is_clamped_in_place() {
    let options = encode(&[
        Opt::Mss(1460),
        Opt::SackPermitted,
        Opt::Timestamps(7, 0),
        Opt::Nop,
        Opt::WindowScale(7),
    ])
    .unwrap();
    let ip = packet(false, 0x02, &options, &[], 0);
    let mut frame = vec![0u8; 12];
    frame.extend([0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
    frame.extend(&ip);
    let len = frame.len();
    let clamped = clamp_frame(
        &mut frame,
        len,
        Link::Ethernet,
        &Targets {
            ipv4: Some(1360),
            ipv6: Some(1340),
            insert: false,
        },
    );
    assert!(matches!(
        clamped.outcome,
        Outcome::Lowered {
            from: 1460,
            to: 1360,
            ..
        }
    ));
    assert_eq!(residual(&frame[18..]), 0xffff);
    assert_eq!(&frame[18 + 20 + 22..18 + 20 + 24], &1360u16.to_be_bytes());
}

#[test]
fn fragments_rst_and_other_protocols_are_skipped() {
    let options = encode(&[Opt::Mss(1460)]).unwrap();
    let t = Targets {
        ipv4: Some(1360),
        ipv6: Some(1340),
        insert: false,
    };
    let mut frag = packet(false, 0x02, &options, &[], 0);
    frag[6] = 0x20; // more fragments
    frag[7] = 0x10; // at offset 128: a later fragment
    let len = frag.len();
    assert_eq!(
        clamp_ip(&mut frag, len, &t).outcome,
        Outcome::Unchanged(Skip::Fragment)
    );
    let mut rst = packet(false, 0x06, &options, &[], 0);
    assert_eq!(
        clamp_ip(&mut rst, len, &t).outcome,
        Outcome::Unchanged(Skip::NotSyn)
    );
    let mut ack = packet(true, 0x10, &options, &[], 0);
    let len6 = ack.len();
    assert_eq!(
        clamp_ip(&mut ack, len6, &t).outcome,
        Outcome::Unchanged(Skip::NotSyn)
    );
    let mut udp = packet(false, 0x02, &options, &[], 0);
    udp[9] = 17;
    assert_eq!(
        clamp_ip(&mut udp, len, &t).outcome,
        Outcome::Unchanged(Skip::NotTcp)
    );
    let mut v6 = packet(true, 0x02, &options, &[], 0);
    assert_eq!(
        clamp_ip(&mut v6, len6, &Targets { ipv6: None, ..t }).outcome,
        Outcome::Unchanged(Skip::NoTarget)
    );
    // A broken option length stops the clamp before it changes anything.
    let mut bad = packet(false, 0x02, &[30, 9, 0, 0, 2, 4, 5, 180], &[], 0);
    let original = bad.clone();
    let len = bad.len();
    assert_eq!(
        clamp_ip(&mut bad, len, &t).outcome,
        Outcome::Unchanged(Skip::BadOptions)
    );
    assert_eq!(bad, original);
}

#[test]
fn mss_after_an_unknown_option_at_an_odd_offset() {
    // kind 253 (experimental, 3 bytes), then MSS at TCP offset 23: its value
    // straddles two checksum words.
    let options = [253, 3, 0xaa, 2, 4, 0x05, 0xb4, 0];
    let mut p = packet(false, 0x12, &options, &[], 0);
    let len = p.len();
    let clamped = clamp_ip(
        &mut p,
        len,
        &Targets {
            ipv4: Some(1360),
            ipv6: Some(1340),
            insert: false,
        },
    );
    assert_eq!(
        clamped.outcome,
        Outcome::Lowered {
            version: mss_rules::IpVersion::V4,
            from: 1460,
            to: 1360
        }
    );
    assert_eq!(&p[20 + 25..20 + 27], &1360u16.to_be_bytes());
    assert_eq!(residual(&p), 0xffff);
}

/// An IPv6 packet with a fragment header (offset 0, `more` as given) before TCP.
fn with_fragment_header(mut p: Vec<u8>, more: bool) -> Vec<u8> {
    let payload = u16::from_be_bytes([p[4], p[5]]) + 8;
    p[4..6].copy_from_slice(&payload.to_be_bytes());
    p[6] = 44;
    let header = [6, 0, 0, u8::from(more), 0, 0, 0x12, 0x34];
    p.splice(40..40, header);
    p
}

/// Regression: a first fragment holding the whole TCP header, and an IPv6 atomic
/// fragment (RFC 6946), were left alone, though xt_TCPMSS and nft clamp them.
#[test]
fn first_and_atomic_fragments_are_clamped_like_the_kernel_does() {
    let options = encode(&[Opt::Mss(1460)]).unwrap();
    let t = Targets {
        ipv4: Some(1360),
        ipv6: Some(1340),
        insert: false,
    };
    let lowered = |version, from, to| Outcome::Lowered { version, from, to };
    // IPv4 first fragment (more fragments, offset 0), carrying some data.
    let mut first = packet(false, 0x02, &options, &[7u8; 100], 0);
    first[6] = 0x20;
    let len = first.len();
    assert_eq!(
        clamp_ip(&mut first, len, &t).outcome,
        lowered(mss_rules::IpVersion::V4, 1460, 1360)
    );
    assert_eq!(&first[20 + 22..20 + 24], &1360u16.to_be_bytes());
    assert_eq!(residual(&first), 0xffff, "checksum over the whole segment");
    // ... but never grown, and not when the header does not fit in it.
    let mut bare = packet(false, 0x02, &[], &[], 4);
    bare[6] = 0x20;
    let len = bare.len() - 4;
    let insert = Targets { insert: true, ..t };
    assert_eq!(
        clamp_ip(&mut bare, len, &insert).outcome,
        Outcome::Unchanged(Skip::Fragment)
    );
    let mut cut = packet(false, 0x02, &[1, 1, 1, 1, 2, 4, 5, 180], &[], 0);
    cut[6] = 0x20;
    cut[2..4].copy_from_slice(&(20u16 + 22).to_be_bytes());
    let len = cut.len();
    let before = cut.clone();
    assert_eq!(
        clamp_ip(&mut cut, len, &t).outcome,
        Outcome::Unchanged(Skip::Fragment)
    );
    assert_eq!(cut, before);
    // IPv6: an atomic fragment is a whole packet, insertion included.
    let mut atomic = with_fragment_header(packet(true, 0x02, &options, &[], 0), false);
    let len = atomic.len();
    assert_eq!(
        clamp_ip(&mut atomic, len, &t).outcome,
        lowered(mss_rules::IpVersion::V6, 1460, 1340)
    );
    assert_eq!(&atomic[48 + 22..48 + 24], &1340u16.to_be_bytes());
    let mut atomic_bare = with_fragment_header(packet(true, 0x02, &[], &[], 4), false);
    let len = atomic_bare.len() - 4;
    assert!(matches!(
        clamp_ip(&mut atomic_bare, len, &insert).outcome,
        Outcome::Inserted { .. }
    ));
    // An IPv6 first fragment: lowered, never grown.
    let mut first6 = with_fragment_header(packet(true, 0x02, &options, &[9u8; 64], 0), true);
    let len = first6.len();
    assert_eq!(
        clamp_ip(&mut first6, len, &t).outcome,
        lowered(mss_rules::IpVersion::V6, 1460, 1340)
    );
    let mut first6_bare = with_fragment_header(packet(true, 0x02, &[], &[], 4), true);
    let len = first6_bare.len() - 4;
    assert_eq!(
        clamp_ip(&mut first6_bare, len, &insert).outcome,
        Outcome::Unchanged(Skip::Fragment)
    );
}

/// Captures too: an Ethernet frame with an IPv6 atomic fragment, and one with an
/// IPv4 first fragment, are clamped in place (`mss clamp IN -o OUT`).
#[test]
fn fragments_in_captured_frames_are_clamped_too() {
    let options = encode(&[Opt::Mss(1460)]).unwrap();
    let t = Targets {
        ipv4: Some(1360),
        ipv6: Some(1340),
        insert: false,
    };
    let mut v4 = packet(false, 0x02, &options, &[5u8; 40], 0);
    v4[6] = 0x20;
    for (ip, ethertype, mss_at, to) in [
        (
            with_fragment_header(packet(true, 0x02, &options, &[], 0), false),
            [0x86, 0xdd],
            48 + 22,
            1340u16,
        ),
        (v4, [0x08, 0x00], 20 + 22, 1360),
    ] {
        let mut frame = vec![0u8; 12];
        frame.extend(ethertype);
        frame.extend(&ip);
        let len = frame.len();
        let clamped = clamp_frame(&mut frame, len, Link::Ethernet, &t);
        assert!(
            matches!(clamped.outcome, Outcome::Lowered { to: got, .. } if got == to),
            "{:?}",
            clamped.outcome
        );
        assert_eq!(&frame[14 + mss_at..14 + mss_at + 2], &to.to_be_bytes());
    }
}
