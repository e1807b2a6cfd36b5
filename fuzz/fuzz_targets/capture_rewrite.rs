//! The streaming rewriter over arbitrary bytes: no panic; replacing every record
//! with its own bytes gives the input back byte for byte (also after an error or a
//! truncated tail); growing every growable record by 4 bytes gives a capture whose
//! records read back as the grown data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_capture::{Reader, Rewriter};

fuzz_target!(|data: &[u8]| {
    let Ok(mut rewriter) = Rewriter::new(data, Vec::new()) else {
        return;
    };
    let mut clean = true;
    loop {
        match rewriter.next_record() {
            Ok(Some(record)) => {
                let spot = record.spot();
                let same = record.data.to_vec();
                rewriter
                    .replace(spot, &same)
                    .expect("same-length replacement");
            }
            Ok(None) => break,
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    let out = rewriter.finish().expect("finish");
    assert_eq!(out, data, "an identity rewrite changes nothing");
    if !clean {
        return;
    }
    // Grow what can grow; the reader must see exactly the grown packets.
    let mut rewriter = Rewriter::new(data, Vec::new()).expect("header read before");
    let mut expected = Vec::new();
    while let Ok(Some(record)) = rewriter.next_record() {
        let spot = record.spot();
        let mut grown = record.data.to_vec();
        if rewriter.can_grow(spot, 4) && grown.len() < 60_000 {
            grown.extend_from_slice(&[0xab; 4]);
            rewriter.replace(spot, &grown).expect("growable");
        }
        expected.push(grown);
    }
    let out = rewriter.finish().expect("finish");
    let mut reader = Reader::new(&out[..]).expect("the output has the input's header");
    for want in &expected {
        match reader.next_record() {
            Ok(Some(record)) => assert_eq!(record.data, &want[..]),
            other => panic!("record missing after growing: {other:?}"),
        }
    }
});
