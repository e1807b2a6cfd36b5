//! The clamp over arbitrary bytes, raw IP and every supported link type, with
//! arbitrary targets: no panic; nothing changes unless it says so; a lowered packet
//! only changed in its MSS bytes and TCP checksum and never rose; a second pass
//! lowers nothing; lengths grow by exactly 4 on insertion and never otherwise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_clamp::{INSERT_ROOM, Outcome, Targets, clamp_frame, clamp_ip};
use mss_wire::packet::LINK_TYPES;

fuzz_target!(|data: &[u8]| {
    let [pick, t4a, t4b, t6a, t6b, flags, rest @ ..] = data else {
        return;
    };
    let targets = Targets {
        ipv4: (flags & 1 != 0).then(|| u16::from_be_bytes([*t4a, *t4b])),
        ipv6: (flags & 2 != 0).then(|| u16::from_be_bytes([*t6a, *t6b])),
        insert: flags & 4 != 0,
    };
    let mut buf = rest.to_vec();
    let len = buf.len();
    buf.extend_from_slice(&[0; INSERT_ROOM]);
    let original = buf.clone();
    let clamped = if flags & 8 != 0 {
        clamp_ip(&mut buf, len, &targets)
    } else {
        let (_, link, _) = LINK_TYPES[usize::from(*pick) % LINK_TYPES.len()];
        clamp_frame(&mut buf, len, link, &targets)
    };
    match clamped.outcome {
        Outcome::Unchanged(_) => {
            assert_eq!(buf, original, "unchanged but bytes differ");
            assert_eq!(clamped.len, len);
        }
        Outcome::Inserted { .. } => assert_eq!(clamped.len, len + INSERT_ROOM),
        Outcome::Lowered { from, to, .. } => {
            assert!(to < from, "a clamp never raises");
            assert_eq!(clamped.len, len);
            let changed = buf.iter().zip(&original).filter(|(a, b)| a != b).count();
            // At most four MSS options (two bytes each) and the checksum.
            assert!(changed <= 10, "{changed} bytes changed");
            let mut again = buf.clone();
            let second = if flags & 8 != 0 {
                clamp_ip(&mut again, len, &targets)
            } else {
                let (_, link, _) = LINK_TYPES[usize::from(*pick) % LINK_TYPES.len()];
                clamp_frame(&mut again, len, link, &targets)
            };
            assert!(
                !matches!(second.outcome, Outcome::Lowered { .. }),
                "not idempotent"
            );
        }
    }
});
