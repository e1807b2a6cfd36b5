//! The pipeline over hand-made sources: order, merging, and a failing thread.

use super::*;
use mss_analyze::{Analyzer, Config};

/// A pcap file in memory: Ethernet, packets of `n` bytes each at 1 s steps.
fn pcap(packets: usize) -> Vec<u8> {
    let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    file.extend([0u8; 8]);
    file.extend(65535u32.to_le_bytes());
    file.extend(1u32.to_le_bytes());
    for i in 0..packets {
        let frame = [0u8; 60];
        file.extend(u32::try_from(i).unwrap_or(0).to_le_bytes());
        file.extend(0u32.to_le_bytes());
        file.extend(60u32.to_le_bytes());
        file.extend(60u32.to_le_bytes());
        file.extend(frame);
    }
    file
}

fn run(inputs: &mut [Input]) -> Result<u64, ReadError> {
    let mut analyzer = Analyzer::new(Config::default());
    read_all(inputs, &mut analyzer, &mut |_| {}, &mut |_| Ok(()))?;
    Ok(analyzer.finish().packets)
}

#[test]
fn every_record_of_every_input_is_counted() {
    let one = || {
        let reader = Reader::new(io::Cursor::new(pcap(1500))).expect("pcap");
        let format = reader.format();
        Input::start("mem".into(), reader, format, None).expect("start")
    };
    let mut single = vec![one()];
    assert_eq!(run(&mut single).expect("read"), 1500);
    assert_eq!(single[0].packets, 1500);
    let mut two = vec![one(), one()];
    assert_eq!(run(&mut two).expect("read"), 3000);
}

/// A source that yields some records and then panics, as a broken reader or a
/// bug in a live source would.
struct Breaks {
    inner: Reader<io::Cursor<Vec<u8>>>,
    left: usize,
}

impl Source for Breaks {
    fn next_record(&mut self) -> Result<Option<Record<'_>>, mss_capture::Error> {
        if self.left == 0 {
            panic!("the source broke");
        }
        self.left -= 1;
        self.inner.next_record()
    }
    fn offset(&self) -> u64 {
        self.inner.offset()
    }
    fn warnings(&self) -> (&[Warning], u64) {
        self.inner.warnings()
    }
}

/// Regression: a panicking decode thread was taken for the end of the input, and
/// `mss analyze` exited 0 with results cut short.
#[test]
fn a_failing_thread_is_an_error_naming_the_input() {
    let broken = || {
        let inner = Reader::new(io::Cursor::new(pcap(2000))).expect("pcap");
        let format = inner.format();
        Input::start(
            "broken.pcap".into(),
            Breaks { inner, left: 700 },
            format,
            None,
        )
        .expect("start")
    };
    for count in [1, 2] {
        let mut inputs: Vec<Input> = (0..count).map(|_| broken()).collect();
        let err = run(&mut inputs).expect_err("the thread panicked");
        let text = err.to_string();
        assert!(
            text.contains("broken.pcap") && text.contains("panicked: the source broke"),
            "{text}"
        );
    }
}
