//! Encapsulation and option lists from arbitrary text: parse or a clean error, and
//! whatever parses computes without panicking and round-trips through its name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_rules::{EncapStack, IpVersion, SegmentOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (encap, rest) = text.split_once('|').unwrap_or((text, ""));
    if let Ok(stack) = encap.parse::<EncapStack>() {
        let again: EncapStack = stack.to_string().parse().expect("canonical names parse");
        assert_eq!(again, stack);
        for mtu in [68u32, 576, 1280, 1500, 9000, 65_536] {
            for v in IpVersion::ALL {
                if let Ok(inner) = stack.inner_mtu(mtu, v) {
                    assert!(stack.link_mtu_for(inner, v) <= mtu);
                }
            }
        }
    }
    if let Ok(options) = rest.parse::<SegmentOptions>() {
        assert!(options.total_bytes() <= 40);
    }
});
