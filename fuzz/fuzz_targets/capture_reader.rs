//! The capture reader over arbitrary bytes: no panic, no endless loop, and every
//! record's bytes lie inside the input at the offset it reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_capture::Reader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new(data) else {
        return;
    };
    let input_len = data.len() as u64;
    let mut last = 0u64;
    // Every record takes at least its 8-byte pcapng block header (16 bytes for a pcap
    // record header), so there cannot be more records than that.
    let limit = input_len / 8 + 1;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                let end = record.data_offset + record.data.len() as u64;
                assert!(
                    end <= input_len,
                    "record {} ends at {end}, past the input's {input_len} bytes",
                    record.number
                );
                assert!(record.data_offset >= record.offset);
                assert_eq!(record.number, last + 1, "records are numbered 1, 2, ...");
                // The bytes handed out are the input's bytes at data_offset.
                let at = usize::try_from(record.data_offset).expect("offset fits");
                assert_eq!(record.data, &data[at..at + record.data.len()]);
                last = record.number;
                assert!(last <= limit, "more records than the input can hold");
            }
            Ok(None) | Err(_) => break,
        }
    }
});
