//! Every view and walk of the wire crate over arbitrary bytes: no panic, no endless
//! loop, walks bounded by the input; the strict decoder's offsets lie inside the
//! bytes and agree with the views.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_wire::packet::LINK_TYPES;
use mss_wire::{checksum, icmp, ipv4, ipv6, strict, syn, tcp};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = (
            p.payload(),
            p.options(),
            p.verify_checksum(),
            p.is_fragment(),
        );
        if let Ok(t) = tcp::Packet::new_lax(p.payload()) {
            assert!(t.options().count() <= 40);
            let _ = (
                t.mss_option(),
                t.payload(),
                t.verify_checksum(p.pseudo_header(0)),
            );
        }
    }
    if let Ok(p) = ipv6::Packet::new_checked(data) {
        let chain = p.extensions();
        assert!(chain.offset <= p.payload().len().max(usize::from(p.payload_len())));
        if chain.end == ipv6::ChainEnd::Upper && chain.protocol == 6 {
            if let Some(segment) = p.payload().get(chain.offset..) {
                if let Ok(t) = tcp::Packet::new_lax(segment) {
                    let _ = t.mss_option();
                }
            }
        }
    }
    if let Ok(t) = tcp::Packet::new_lax(data) {
        let mut last = None;
        for item in t.options() {
            // Offsets strictly increase: the walk always advances.
            assert!(last.is_none_or(|l| item.offset > l));
            last = Some(item.offset);
        }
    }
    if let Ok(layout) = strict::tcp_layout(data) {
        // The whole TCP header lies inside the IP packet, the packet inside the bytes.
        assert!(layout.tcp_header_len >= tcp::HEADER_LEN);
        assert!(layout.tcp_offset + layout.tcp_header_len <= layout.ip_len);
        assert!(layout.ip_len <= data.len());
        let segment = layout.segment(data);
        assert_eq!(segment.header_len(), layout.tcp_header_len);
        if let Ok(found) = layout.mss_options(data) {
            assert_eq!(segment.mss_options(), Ok(found));
            for field in found.iter() {
                assert!(field.offset() + 2 <= layout.tcp_header_len);
            }
        }
    }
    let _ = strict::plain_tcp_flags(data);
    if let Some(described) = syn::describe(data) {
        assert!(described.option_kinds().len() <= 21);
    }
    let _ = icmp::quote(data).and_then(syn::describe);
    for (_, link, _) in LINK_TYPES {
        if let Ok(found) = strict::link_layout(link, data) {
            assert!(found.ip_offset < data.len());
        }
    }
    let _ = checksum::checksum(data);
});
