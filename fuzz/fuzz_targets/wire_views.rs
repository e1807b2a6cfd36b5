//! Every view and walk of the wire crate over arbitrary bytes: no panic, no endless
//! loop, walks bounded by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_wire::{checksum, ipv4, ipv6, tcp};

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
    let _ = checksum::checksum(data);
});
