//! Property tests: no panics on any input, exact errors on every truncated prefix,
//! and agreement with an independent decoder (etherparse) on the packets it builds.

use etherparse::{PacketBuilder, TcpOptionElement};
use mss_wire::syn::{Syn, describe};
use mss_wire::tcp::{MssOption, TcpOption};
use mss_wire::{Error, checksum, ipv4, ipv6, tcp};
use proptest::prelude::*;

fn option_element() -> impl Strategy<Value = TcpOptionElement> {
    prop_oneof![
        Just(TcpOptionElement::Noop),
        any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
        (0u8..15).prop_map(TcpOptionElement::WindowScale),
        Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| TcpOptionElement::Timestamp(a, b)),
        (any::<(u32, u32)>(), any::<(u32, u32)>()).prop_map(|(a, b)| {
            TcpOptionElement::SelectiveAcknowledgement(a, [Some(b), None, None])
        }),
    ]
}

#[derive(Debug, Clone)]
struct Built {
    bytes: Vec<u8>,
    v6: bool,
    options: Vec<TcpOptionElement>,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    window: u16,
    ttl: u8,
    payload_len: usize,
}

fn built() -> impl Strategy<Value = Built> {
    (
        any::<bool>(),
        proptest::collection::vec(option_element(), 0..5),
        any::<(u16, u16, u32, u32, u16, u8)>(),
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    )
        .prop_filter_map(
            "options must fit in 40 bytes",
            |(v6, options, (src_port, dst_port, seq, ack, window, ttl), payload, syn)| {
                let builder = if v6 {
                    PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], ttl)
                } else {
                    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], ttl)
                };
                let mut step = builder.tcp(src_port, dst_port, seq, window).ack(ack);
                if syn {
                    step = step.syn();
                }
                let step = step.options(&options).ok()?;
                let mut bytes = Vec::new();
                step.write(&mut bytes, &payload).ok()?;
                Some(Built {
                    bytes,
                    v6,
                    options,
                    src_port,
                    dst_port,
                    seq,
                    ack,
                    window,
                    ttl,
                    payload_len: payload.len(),
                })
            },
        )
}

/// Splits a built packet into (ip header length, pseudo-header sum).
fn ip_of(b: &Built) -> (usize, u64) {
    if b.v6 {
        let ip = ipv6::Packet::new_unchecked(&b.bytes[..]);
        let len = u32::from(ip.payload_len());
        (40, ip.pseudo_header(6, len))
    } else {
        let ip = ipv4::Packet::new_unchecked(&b.bytes[..]);
        let len = ip.total_len() - u16::try_from(ip.header_len()).unwrap_or(0);
        (ip.header_len(), ip.pseudo_header(len))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Differential: every field we read matches what etherparse wrote and reads.
    #[test]
    fn agrees_with_etherparse(b in built()) {
        let (ip_len, pseudo) = ip_of(&b);
        if b.v6 {
            let ours = ipv6::Packet::new_checked(&b.bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let theirs = etherparse::Ipv6HeaderSlice::from_slice(&b.bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ours.hop_limit(), b.ttl);
            prop_assert_eq!(ours.payload_len(), theirs.payload_length());
            prop_assert_eq!(ours.src_addr(), theirs.source_addr());
            prop_assert_eq!(ours.extensions().protocol, 6);
        } else {
            let ours = ipv4::Packet::new_checked(&b.bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let theirs = etherparse::Ipv4HeaderSlice::from_slice(&b.bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ours.ttl(), b.ttl);
            prop_assert_eq!(ours.total_len(), theirs.total_len());
            prop_assert_eq!(ours.header_checksum(), theirs.header_checksum());
            prop_assert!(ours.verify_checksum());
            prop_assert_eq!(ours.dst_addr(), theirs.destination_addr());
        }
        let segment = &b.bytes[ip_len..];
        let ours = tcp::Packet::new_checked(segment).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let theirs = etherparse::TcpHeaderSlice::from_slice(segment).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ours.src_port(), b.src_port);
        prop_assert_eq!(ours.dst_port(), b.dst_port);
        prop_assert_eq!(ours.seq_number(), b.seq);
        prop_assert_eq!(ours.ack_number(), b.ack);
        prop_assert_eq!(ours.window(), b.window);
        prop_assert_eq!(ours.header_len(), usize::from(theirs.data_offset()) * 4);
        prop_assert_eq!(ours.flags().is_syn(), theirs.syn() && !theirs.ack());
        prop_assert_eq!(ours.checksum(), theirs.checksum());
        prop_assert_eq!(ours.payload().len(), b.payload_len);
        prop_assert!(ours.verify_checksum(pseudo), "checksum written by etherparse must verify");

        // Options: the same sequence (etherparse pads with END/NOP; compare the
        // meaningful ones).
        let expected_mss = b.options.iter().find_map(|o| match o {
            TcpOptionElement::MaximumSegmentSize(v) => Some(*v),
            _ => None,
        });
        prop_assert_eq!(ours.mss_option(), MssOption::Known(expected_mss));
        let walked: Vec<TcpOption<'_>> = ours
            .options()
            .map(|i| i.option)
            .filter(|o| !matches!(o, TcpOption::Nop | TcpOption::EndOfList))
            .collect();
        let expected: Vec<TcpOption<'_>> = b.options.iter().filter_map(|o| match *o {
            TcpOptionElement::Noop => None,
            TcpOptionElement::MaximumSegmentSize(v) => Some(TcpOption::Mss(v)),
            TcpOptionElement::WindowScale(s) => Some(TcpOption::WindowScale(s)),
            TcpOptionElement::SelectiveAcknowledgementPermitted => Some(TcpOption::SackPermitted),
            TcpOptionElement::Timestamp(a, b) => Some(TcpOption::Timestamps { tsval: a, tsecr: b }),
            // Compared by size only: the blocks are raw bytes (two blocks here).
            TcpOptionElement::SelectiveAcknowledgement(..) => Some(TcpOption::Sack(&[])),
        }).collect();
        prop_assert_eq!(walked.len(), expected.len());
        for (w, e) in walked.iter().zip(&expected) {
            match (w, e) {
                (TcpOption::Sack(blocks), TcpOption::Sack(_)) => prop_assert_eq!(blocks.len(), 16),
                _ => prop_assert_eq!(w, e),
            }
        }
    }

    /// Every truncated prefix: the strict TCP view fails with exactly the needed and
    /// available lengths, the lax one succeeds from 20 bytes on, and nothing panics.
    #[test]
    fn every_prefix(b in built()) {
        let (ip_len, _) = ip_of(&b);
        let segment = &b.bytes[ip_len..];
        let header_len = usize::from(segment[12] >> 4) * 4;
        for cut in 0..=segment.len() {
            let prefix = &segment[..cut];
            let strict = tcp::Packet::new_checked(prefix);
            let lax = tcp::Packet::new_lax(prefix);
            if cut < 20 {
                prop_assert_eq!(lax.err(), Some(Error::Truncated { layer: mss_wire::Layer::Tcp, needed: 20, available: cut }));
            } else {
                let lax = lax.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let _ = lax.options().count();
                let _ = lax.mss_option();
            }
            if cut < header_len {
                prop_assert_eq!(strict.err().map(|e| match e {
                    Error::Truncated { available, .. } => available,
                    Error::Malformed { .. } => usize::MAX,
                }), Some(cut));
            } else {
                prop_assert!(strict.is_ok());
            }
        }
        for cut in 0..=b.bytes.len() {
            let prefix = &b.bytes[..cut];
            if b.v6 {
                if let Ok(p) = ipv6::Packet::new_checked(prefix) {
                    let _ = (p.payload(), p.extensions(), p.is_truncated());
                }
            } else if let Ok(p) = ipv4::Packet::new_checked(prefix) {
                let _ = (p.payload(), p.options(), p.is_truncated(), p.verify_checksum());
                prop_assert_eq!(p.is_truncated(), cut < b.bytes.len());
            }
        }
    }

    /// Arbitrary bytes: constructors and every accessor and walk return without
    /// panicking, and walks end within the input's length.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120), first in any::<u8>()) {
        if let Ok(p) = tcp::Packet::new_lax(&data[..]) {
            let steps = p.options().count();
            prop_assert!(steps <= 40);
            let _ = (p.mss_option(), p.payload(), p.flags(), p.is_header_complete());
            let _ = p.verify_checksum(0);
        }
        if let Ok(p) = ipv4::Packet::new_checked(&data[..]) {
            let _ = (p.payload(), p.options(), p.frag_offset(), p.verify_checksum(), p.payload_len());
        }
        if let Ok(p) = ipv6::Packet::new_checked(&data[..]) {
            let chain = p.extensions();
            prop_assert!(chain.offset <= data.len().max(usize::from(p.payload_len())));
            let _ = (p.payload(), p.flow_label(), p.traffic_class());
        }
        let chain = ipv6::walk_extensions(first, &data, 0);
        prop_assert!(chain.offset <= data.len());
        prop_assert!(chain.count <= data.len() / 8 + 1);
        let _ = checksum::checksum(&data);
    }

    /// Unchecked views over any bytes, too short ones included: every accessor and
    /// setter returns (missing bytes read as zero, writes past the end are dropped).
    #[test]
    fn unchecked_views_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..70)) {
        let t = tcp::Packet::new_unchecked(&data[..]);
        let read = (t.src_port(), t.dst_port(), t.seq_number(), t.ack_number(), t.window(), t.urgent());
        if data.len() < 20 {
            prop_assert_eq!(read, (0, 0, 0, 0, 0, 0));
        }
        let _ = (t.header_len(), t.flags(), t.option_bytes(), t.options().count(), t.mss_option(), t.payload());
        let v4 = ipv4::Packet::new_unchecked(&data[..]);
        let _ = (v4.header_len(), v4.total_len(), v4.src_addr(), v4.options(), v4.payload(), v4.payload_len(), v4.is_truncated(), v4.pseudo_header(0));
        let v6 = ipv6::Packet::new_unchecked(&data[..]);
        let _ = (v6.flow_label(), v6.traffic_class(), v6.dst_addr(), v6.payload(), v6.extensions(), v6.pseudo_header(6, 0));
        let mut t = tcp::Packet::new_unchecked(&mut data[..]);
        t.set_seq_number(1);
        t.set_header_len(60);
        t.set_flags(tcp::Flags::SYN);
        let _ = t.option_bytes_mut();
        let mut v4 = ipv4::Packet::new_unchecked(&mut data[..]);
        v4.set_total_len(1);
        v4.fill_checksum();
        let _ = v4.payload_mut();
        let mut v6 = ipv6::Packet::new_unchecked(&mut data[..]);
        v6.set_payload_len(9);
        let _ = v6.payload_mut();
    }

    /// A built SYN reads back as built: the same options in order (then End of
    /// Option List padding), a checksum that verifies, and a description that
    /// agrees.
    #[test]
    fn built_syns_read_back(
        kinds in proptest::collection::vec(0u8..6, 0..8),
        values in any::<(u16, u8, u32, u32)>(),
        unknown in proptest::collection::vec(any::<u8>(), 0..4),
        ports in any::<(u16, u16, u32)>(),
        payload_len in 0usize..40,
        v6 in any::<bool>(),
    ) {
        let (mss, shift, tsval, tsecr) = values;
        let options: Vec<TcpOption<'_>> = kinds.iter().map(|k| match k {
            0 => TcpOption::Nop,
            1 => TcpOption::Mss(mss),
            2 => TcpOption::WindowScale(shift),
            3 => TcpOption::SackPermitted,
            4 => TcpOption::Timestamps { tsval, tsecr },
            _ => TcpOption::Unknown { kind: 99, data: &unknown },
        }).collect();
        let (src, dst): (core::net::IpAddr, core::net::IpAddr) = if v6 {
            ([0xfd; 16].into(), [0xfe; 16].into())
        } else {
            ([10, 0, 0, 1].into(), [10, 0, 0, 2].into())
        };
        let syn = Syn { options: &options, payload_len, ..Syn::new(ports.0, ports.1, ports.2) };
        let Ok(bytes) = syn.build(src, dst) else {
            // Only too many options fail.
            return Ok(());
        };
        let segment = tcp::Packet::new_checked(&bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(segment.flags(), tcp::Flags::SYN);
        prop_assert_eq!((segment.src_port(), segment.dst_port(), segment.seq_number()), ports);
        prop_assert_eq!(segment.payload().len(), payload_len);
        let read: Vec<TcpOption<'_>> = segment.options().map(|i| i.option).filter(|o| *o != TcpOption::EndOfList).collect();
        prop_assert_eq!(&read, &options);
        let length = bytes.len();
        let pseudo = match (src, dst) {
            (core::net::IpAddr::V4(s), core::net::IpAddr::V4(d)) => checksum::pseudo_header_v4(s.octets(), d.octets(), 6, u16::try_from(length).unwrap_or(0)),
            (core::net::IpAddr::V6(s), core::net::IpAddr::V6(d)) => checksum::pseudo_header_v6(s.octets(), d.octets(), 6, u32::try_from(length).unwrap_or(0)),
            _ => 0,
        };
        prop_assert!(segment.verify_checksum(pseudo));
        let mut packet = if v6 {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend(u16::try_from(length).unwrap_or(0).to_be_bytes());
            h.extend([6, 64]);
            h.extend([0xfd; 16]);
            h.extend([0xfe; 16]);
            h
        } else {
            let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
            h[2..4].copy_from_slice(&u16::try_from(20 + length).unwrap_or(0).to_be_bytes());
            h
        };
        packet.extend(&bytes);
        let described = describe(&packet).ok_or_else(|| TestCaseError::fail("not described"))?;
        prop_assert_eq!(described.mss, options.iter().rev().find_map(|o| match o { TcpOption::Mss(v) => Some(*v), _ => None }));
        prop_assert_eq!(described.sack_permitted, options.contains(&TcpOption::SackPermitted));
        let kinds: Vec<u8> = options.iter().filter(|o| **o != TcpOption::Nop).map(|o| match o {
            TcpOption::Mss(_) => 2,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 4,
            TcpOption::Timestamps { .. } => 8,
            _ => 99,
        }).collect();
        prop_assert_eq!(described.option_kinds(), &kinds[..]);
    }

    /// Writing through a view keeps the checksum consistent when refreshed.
    #[test]
    fn write_then_verify(b in built(), new_port in any::<u16>()) {
        let mut bytes = b.bytes.clone();
        let (ip_len, pseudo) = ip_of(&b);
        let mut segment = tcp::Packet::new_checked(&mut bytes[ip_len..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let old_checksum = segment.checksum();
        let old_port = segment.src_port();
        segment.set_src_port(new_port);
        segment.set_checksum(checksum::update(old_checksum, old_port, new_port));
        prop_assert!(segment.verify_checksum(pseudo));
        segment.fill_checksum(pseudo);
        prop_assert!(segment.verify_checksum(pseudo));
    }
}
