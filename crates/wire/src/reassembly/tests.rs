use super::*;
use etherparse::PacketBuilder;
use proptest::prelude::*;

/// An IPv4 TCP segment from 10.0.0.1 to 10.0.0.2 with `payload` bytes, DF clear.
fn tcp_v4(payload: usize, ident: u16) -> Vec<u8> {
    let data: Vec<u8> = (0..payload).map(|i| (i % 251) as u8).collect();
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1000, 64240)
        .write(&mut out, &data)
        .unwrap_or_else(|e| panic!("{e}"));
    out[4..6].copy_from_slice(&ident.to_be_bytes());
    out[6] = 0;
    let mut ip = ipv4::Packet::new_unchecked(&mut out[..]);
    ip.fill_checksum();
    out
}

/// `packet` cut into IPv4 fragments of at most `size` data bytes (a multiple of 8).
fn fragments_v4(packet: &[u8], size: usize) -> Vec<Vec<u8>> {
    let header = &packet[..20];
    let data = &packet[20..];
    data.chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i * size;
            let more = offset + chunk.len() < data.len();
            let mut f = header.to_vec();
            f.extend_from_slice(chunk);
            let mut ip = ipv4::Packet::new_unchecked(&mut f[..]);
            ip.set_total_len((20 + chunk.len()) as u16);
            let flags = ((offset / 8) as u16) | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&flags.to_be_bytes());
            ipv4::Packet::new_unchecked(&mut f[..]).fill_checksum();
            f
        })
        .collect()
}

/// An IPv6 TCP segment with a hop-by-hop header (8 bytes) before the TCP header.
fn tcp_v6(payload: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..payload).map(|i| (i % 241) as u8).collect();
    let mut plain = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 61)
        .tcp(40000, 443, 7, 64800)
        .write(&mut plain, &data)
        .unwrap_or_else(|e| panic!("{e}"));
    // Put a hop-by-hop header (next: TCP, a PadN option) in front of the TCP header.
    let mut out = plain[..40].to_vec();
    out[6] = 0;
    out.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    out.extend_from_slice(&plain[40..]);
    let len = (out.len() - 40) as u16;
    out[4..6].copy_from_slice(&len.to_be_bytes());
    out
}

/// `packet` (IPv6 with `unfragmentable` bytes of extension headers, whose last
/// `next` byte is at `named_at`) cut into fragments of `size` data bytes.
fn fragments_v6(
    packet: &[u8],
    unfragmentable: usize,
    named_at: usize,
    size: usize,
) -> Vec<Vec<u8>> {
    let head = &packet[..40 + unfragmentable];
    let next = packet[named_at];
    let data = &packet[40 + unfragmentable..];
    data.chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i * size;
            let more = offset + chunk.len() < data.len();
            let mut f = head.to_vec();
            f[named_at] = 44;
            let offset_flags = (offset as u16) | u16::from(more);
            f.extend_from_slice(&[next, 0]);
            f.extend_from_slice(&offset_flags.to_be_bytes());
            f.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
            f.extend_from_slice(chunk);
            let len = (f.len() - 40) as u16;
            f[4..6].copy_from_slice(&len.to_be_bytes());
            f
        })
        .collect()
}

fn complete(pushed: Push<u8>) -> Reassembled<u8> {
    match pushed {
        Push::Complete(r) => r,
        other => panic!("not complete: {other:?}"),
    }
}

#[test]
fn three_ipv4_fragments_in_order_make_the_segment_again() {
    let segment = tcp_v4(3000, 7);
    let pieces = fragments_v4(&segment, 1480);
    assert_eq!(pieces.len(), 3);
    let mut r = Reassembler::default();
    assert_eq!(r.push(1, 0, &pieces[0], 1u8), Push::Held);
    assert_eq!(r.push(2, 0, &pieces[1], 2), Push::Held);
    let done = complete(r.push(3, 0, &pieces[2], 3));
    assert_eq!(done.packet, segment);
    assert_eq!((done.fragments, done.tag, done.first_ns), (3, 1, 1));
    assert!(r.is_empty());
    assert_eq!(r.held_bytes(), 0);
}

#[test]
fn out_of_order_and_duplicated_fragments_still_make_it() {
    let segment = tcp_v4(3980, 9);
    let pieces = fragments_v4(&segment, 1000);
    let mut r = Reassembler::default();
    assert_eq!(r.push(1, 0, &pieces[3], 0u8), Push::Held);
    assert_eq!(r.push(2, 0, &pieces[1], 0), Push::Held);
    assert_eq!(r.push(3, 0, &pieces[1], 0), Push::Duplicate);
    assert_eq!(r.push(4, 0, &pieces[0], 0), Push::Held);
    assert_eq!(r.push(5, 0, &pieces[3], 0), Push::Duplicate);
    let done = complete(r.push(6, 0, &pieces[2], 0));
    assert_eq!(done.packet, segment);
    assert_eq!(done.fragments, 4);
}

#[test]
fn overlapping_fragments_discard_the_datagram() {
    let segment = tcp_v4(3000, 11);
    let pieces = fragments_v4(&segment, 1480);
    // A fragment at offset 8 overlapping the first: its data is the first's, shifted.
    let mut overlap = pieces[0].clone();
    overlap[6..8].copy_from_slice(&(0x2000u16 | 1).to_be_bytes());
    let mut r = Reassembler::default();
    assert_eq!(r.push(1, 0, &pieces[0], 0u8), Push::Held);
    assert_eq!(
        r.push(2, 0, &overlap, 0),
        Push::Discarded(Discarded {
            reason: DiscardReason::Overlap,
            fragments: 2
        })
    );
    assert!(r.is_empty());
    // What comes after starts over, and never completes.
    assert_eq!(r.push(3, 0, &pieces[1], 0), Push::Held);
    assert_eq!(r.push(4, 0, &pieces[2], 0), Push::Held);
    r.finish();
    let given_up = r.take_given_up();
    assert_eq!(given_up.len(), 1);
    assert_eq!(given_up[0].reason, GaveUp::EndOfInput);
    assert_eq!((given_up[0].fragments, given_up[0].bytes), (2, 1540));
    assert!(given_up[0].last_seen);
    assert_eq!(given_up[0].first, None);
}

#[test]
fn a_last_fragment_with_another_end_discards_the_datagram() {
    let segment = tcp_v4(3000, 12);
    let pieces = fragments_v4(&segment, 1480);
    let mut short_last = pieces[2].clone();
    short_last.truncate(short_last.len() - 8);
    let len = short_last.len() as u16;
    short_last[2..4].copy_from_slice(&len.to_be_bytes());
    let mut r = Reassembler::default();
    assert_eq!(r.push(1, 0, &pieces[2], 0u8), Push::Held);
    assert!(matches!(
        r.push(2, 0, &short_last, 0),
        Push::Discarded(Discarded {
            reason: DiscardReason::BadEnd,
            ..
        })
    ));
}

#[test]
fn a_missing_fragment_is_given_up_after_the_timeout_with_what_is_known() {
    let segment = tcp_v4(3000, 13);
    let pieces = fragments_v4(&segment, 1480);
    let mut r = Reassembler::default();
    let t0 = 1_000_000_000;
    assert_eq!(r.push(t0, 0, &pieces[0], 5u8), Push::Held);
    assert_eq!(r.push(t0 + 1, 0, &pieces[2], 6), Push::Held);
    r.expire(t0 + IPV4_TIMEOUT_NS - 1);
    assert!(!r.has_given_up());
    r.expire(t0 + IPV4_TIMEOUT_NS);
    let given_up = r.take_given_up();
    assert_eq!(given_up.len(), 1);
    let train = &given_up[0];
    assert_eq!(train.reason, GaveUp::Timeout);
    assert_eq!((train.tag, train.fragments, train.bytes), (5, 2, 1480 + 60));
    assert_eq!((train.len, train.last_seen), (3020, true));
    assert_eq!(train.first.as_deref(), Some(&pieces[0][..]));
    assert!(r.is_empty());
    assert_eq!(r.held_bytes(), 0);
}

#[test]
fn the_same_fragment_in_two_contexts_is_two_datagrams() {
    let segment = tcp_v4(3000, 14);
    let pieces = fragments_v4(&segment, 1480);
    let mut r = Reassembler::default();
    for piece in &pieces[..2] {
        assert_eq!(r.push(1, 0, piece, 0u8), Push::Held);
        assert_eq!(r.push(1, 1, piece, 1), Push::Held);
    }
    assert_eq!(complete(r.push(2, 1, &pieces[2], 1)).tag, 1);
    assert_eq!(complete(r.push(2, 0, &pieces[2], 0)).tag, 0);
}

#[test]
fn a_capture_cut_by_its_snaplen_reassembles_to_what_was_captured() {
    let segment = tcp_v4(3000, 15);
    let pieces: Vec<Vec<u8>> = fragments_v4(&segment, 1480)
        .into_iter()
        .map(|mut p| {
            p.truncate(80);
            p
        })
        .collect();
    let mut r = Reassembler::default();
    r.push(1, 0, &pieces[0], 0u8);
    r.push(2, 0, &pieces[1], 0);
    let done = complete(r.push(3, 0, &pieces[2], 0));
    // The header and the first fragment's 60 captured data bytes; the lengths of the
    // whole.
    assert_eq!(done.packet.len(), 80);
    let ip = ipv4::Packet::new_unchecked(&done.packet[..]);
    assert_eq!(usize::from(ip.total_len()), segment.len());
    assert!(!ip.is_fragment());
    assert!(ip.verify_checksum());
    assert_eq!(done.packet[20..], segment[20..80]);
}

#[test]
fn ipv6_fragments_lose_their_fragment_header_and_keep_the_hop_by_hop_one() {
    let segment = tcp_v6(3000);
    // The hop-by-hop header is unfragmentable; its first byte names what follows.
    let pieces = fragments_v6(&segment, 8, 40, 1232);
    assert_eq!(pieces.len(), 3);
    let mut r = Reassembler::default();
    assert_eq!(r.push(1, 0, &pieces[1], 0u8), Push::Held);
    assert_eq!(r.push(2, 0, &pieces[2], 0), Push::Held);
    let done = complete(r.push(3, 0, &pieces[0], 0));
    assert_eq!(done.packet, segment);
}

#[test]
fn ipv6_atomic_fragments_and_whole_packets_pass() {
    let segment = tcp_v6(100);
    let atomic = fragments_v6(&segment, 8, 40, 4096);
    assert_eq!(atomic.len(), 1);
    let mut r: Reassembler<()> = Reassembler::default();
    assert_eq!(r.push(1, 0, &atomic[0], ()), Push::Whole);
    assert_eq!(r.push(1, 0, &segment, ()), Push::Whole);
    assert_eq!(r.push(1, 0, &tcp_v4(100, 1), ()), Push::Whole);
    assert_eq!(r.push(1, 0, &[0x45, 0], ()), Push::Whole);
    assert!(r.is_empty());
}

#[test]
fn an_ipv6_fragment_not_a_multiple_of_8_is_dropped_alone() {
    let segment = tcp_v6(3000);
    let pieces = fragments_v6(&segment, 8, 40, 1236);
    let mut r: Reassembler<()> = Reassembler::default();
    assert_eq!(
        r.push(1, 0, &pieces[0], ()),
        Push::Discarded(Discarded {
            reason: DiscardReason::Unaligned,
            fragments: 1
        })
    );
    assert!(r.is_empty());
}

#[test]
fn beyond_the_memory_bound_the_oldest_datagram_is_given_up() {
    let limits = Limits {
        max_bytes: 4000,
        ..Limits::default()
    };
    let mut r = Reassembler::new(limits);
    let a = fragments_v4(&tcp_v4(6000, 1), 1480);
    let b = fragments_v4(&tcp_v4(6000, 2), 1480);
    assert_eq!(r.push(1, 0, &a[0], 'a'), Push::Held);
    assert_eq!(r.push(2, 0, &a[1], 'a'), Push::Held);
    assert_eq!(r.push(3, 0, &b[0], 'b'), Push::Held);
    let given_up = r.take_given_up();
    assert_eq!(given_up.len(), 1);
    assert_eq!(
        (given_up[0].tag, given_up[0].reason),
        ('a', GaveUp::Evicted)
    );
    assert!(r.held_bytes() <= 4000);
    assert_eq!(r.len(), 1);
}

proptest! {
    /// Any order, with repeats, gives back the segment; the memory count returns
    /// to zero.
    #[test]
    fn any_order_with_repeats_reassembles(
        payload in 1usize..6000,
        size in 1usize..200,
        order in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
    ) {
        let segment = tcp_v4(payload, 3);
        let pieces = fragments_v4(&segment, size * 8);
        let mut r = Reassembler::default();
        let mut done = None;
        let mut pushes: Vec<&Vec<u8>> = order.iter().map(|i| i.get(&pieces)).collect();
        pushes.extend(pieces.iter());
        for piece in pushes {
            if done.is_some() {
                break;
            }
            match r.push(1, 0, piece, ()) {
                Push::Complete(c) => done = Some(c),
                Push::Held | Push::Duplicate => {}
                Push::Whole if pieces.len() == 1 => done = Some(Reassembled {
                    tag: (), packet: piece.clone(), fragments: 1, first_ns: 1,
                }),
                other => prop_assert!(false, "{other:?}"),
            }
        }
        prop_assert_eq!(done.map(|d| d.packet), Some(segment));
        prop_assert_eq!(r.held_bytes(), 0);
    }

    /// Arbitrary bytes never panic, and the bound holds.
    #[test]
    fn arbitrary_packets_never_panic(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..40),
    ) {
        let limits = Limits { max_bytes: 2000, ..Limits::default() };
        let mut r = Reassembler::new(limits);
        for (i, mut p) in packets.into_iter().enumerate() {
            // Mostly IPv4 and IPv6 headers that claim to be fragments.
            if let Some(first) = p.first_mut() {
                *first = if i % 2 == 0 { 0x45 } else { 0x60 };
            }
            let _ = r.push(i as u64 * 1_000_000_000, 0, &p, ());
            prop_assert!(r.held_bytes() <= 2000);
        }
        r.finish();
        prop_assert!(r.is_empty());
        prop_assert_eq!(r.held_bytes(), 0);
    }
}
