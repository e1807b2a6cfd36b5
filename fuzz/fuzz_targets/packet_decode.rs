//! The frame decoder over arbitrary bytes on every supported link type: no panic, no
//! endless loop, offsets inside the frame, and whatever TCP it finds walks its options
//! within the option area.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_wire::packet::{LINK_TYPES, Transport, decode};
use mss_wire::tcp::{MssOption, TcpOption};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let (_, link, _) = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
    match decode(link, frame) {
        Ok(Some(packet)) => {
            assert!(
                (packet.offset as usize) < frame.len(),
                "the IP header starts inside the frame"
            );
            if let Transport::Tcp(segment) = packet.transport {
                let declared = segment.header_len() - 20;
                let mut last = None;
                let mut mss = None;
                for item in segment.options() {
                    // Offsets strictly increase (the walk advances) and stay inside
                    // the option area the data offset declares.
                    assert!(last.is_none_or(|l| item.offset > l));
                    assert!(item.offset < declared);
                    last = Some(item.offset);
                    if let TcpOption::Mss(v) = item.option {
                        mss.get_or_insert(v);
                    }
                }
                // A value is the first MSS option the walk found.
                if let MssOption::Known(Some(v)) = segment.mss_option() {
                    assert_eq!(Some(v), mss);
                }
                let _ = (segment.payload(), segment.flags(), segment.option_bytes());
            }
        }
        Ok(None) => {}
        Err((offset, _)) => assert!(
            offset <= frame.len(),
            "error offset {offset} past the frame"
        ),
    }
});
