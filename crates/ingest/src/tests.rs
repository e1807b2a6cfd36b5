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
        Input::start("mem".into(), reader, format, None, false).expect("start")
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
            false,
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

/// Writes `bytes` to a new file in the temporary directory (its name says nothing
/// about its contents) and opens it as an input.
fn open_bytes(tag: &str, bytes: &[u8]) -> (Input, PathBuf) {
    let path = std::env::temp_dir().join(format!("mss-ingest-{}-{tag}", std::process::id()));
    std::fs::write(&path, bytes).expect("write");
    (Input::open(&path).expect("open"), path)
}

fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    for part in parts {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(part).expect("gzip");
        out.extend(encoder.finish().expect("gzip"));
    }
    out
}

fn zstd(parts: &[&[u8]]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|part| zstd::stream::encode_all(*part, 3).expect("zstd"))
        .collect()
}

#[test]
fn compressed_captures_are_read_as_they_are() {
    let plain = pcap(3000);
    let (head, tail) = plain.split_at(70_001);
    let cases = [
        ("gzip", gzip(&[&plain]), Compression::Gzip),
        ("gzip-members", gzip(&[head, tail]), Compression::Gzip),
        ("zstd", zstd(&[&plain]), Compression::Zstd),
        ("zstd-frames", zstd(&[head, tail]), Compression::Zstd),
    ];
    for (tag, bytes, compression) in cases {
        let (input, path) = open_bytes(tag, &bytes);
        assert_eq!(input.compression, Some(compression), "{tag}");
        let mut inputs = vec![input];
        assert_eq!(run(&mut inputs).expect(tag), 3000, "{tag}");
        let [input] = &inputs[..] else { panic!() };
        assert!(input.error.is_none(), "{tag}: {:?}", input.error);
        // Progress counts the file's own (compressed) bytes.
        assert_eq!(input.offset(), bytes.len() as u64, "{tag}");
        let _ = std::fs::remove_file(path);
    }
    let (input, path) = open_bytes("plain", &plain);
    assert_eq!(input.compression, None);
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_compressed_capture_cut_short_gives_the_packets_before_the_cut() {
    let plain = pcap(20_000);
    for (tag, bytes) in [("gzip-cut", gzip(&[&plain])), ("zstd-cut", zstd(&[&plain]))] {
        let cut = &bytes[..bytes.len() * 2 / 3];
        let (input, path) = open_bytes(tag, cut);
        let mut inputs = vec![input];
        let packets = run(&mut inputs).expect(tag);
        let [input] = &inputs[..] else { panic!() };
        let error = input.error.as_ref().expect("an error");
        assert!(error.is_truncation(), "{tag}: {error}");
        // Everything decoded before the cut, not the last chunk or window lost.
        assert!(packets > 10_000, "{tag}: {packets} packets");
        let warning = input.warnings().join("\n");
        assert!(
            warning.contains("data ends early") && warning.contains("decompressed"),
            "{tag}: {warning}"
        );
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn a_corrupt_compressed_capture_is_an_error() {
    let plain = pcap(20_000);
    let mut bytes = gzip(&[&plain]);
    let middle = bytes.len() / 2;
    bytes[middle..middle + 64].fill(0xff);
    let (input, path) = open_bytes("gzip-corrupt", &bytes);
    let mut inputs = vec![input];
    let _ = run(&mut inputs);
    let [input] = &inputs[..] else { panic!() };
    let error = input.error.as_ref().expect("an error");
    assert!(!error.is_truncation(), "{error}");
    let _ = std::fs::remove_file(path);
}

/// A pcapng block: type, body padded to 4 bytes, lengths around it.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = u32::try_from(12 + padded).unwrap_or(0);
    let mut out = kind.to_le_bytes().to_vec();
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.resize(8 + padded, 0);
    out.extend(len.to_le_bytes());
    out
}

/// An Ethernet frame with an IPv4 SYN (or SYN-ACK) carrying an MSS option.
fn syn_frame(ttl: u8, from_client: bool, mss: u16) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let (src, dst, sport, dport, flags) = if from_client {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 80u16, 0x02)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000, 0x12)
    };
    frame.extend([0x45, 0, 0, 44, 0, 1, 0x40, 0, ttl, 6, 0, 0]);
    frame.extend(src);
    frame.extend(dst);
    frame.extend(sport.to_be_bytes());
    frame.extend(dport.to_be_bytes());
    frame.extend(if from_client { 1000u32 } else { 5000 }.to_be_bytes());
    frame.extend(if from_client { 0u32 } else { 1001 }.to_be_bytes());
    frame.extend([0x60, flags, 0xff, 0xff, 0, 0, 0, 0, 2, 4]);
    frame.extend(mss.to_be_bytes());
    frame
}

/// A router's capture of two interfaces (dumpcap -i eth1 -i eth2), the client's SYN
/// clamped between them: each interface is a capture point, named, and the
/// rewrite is found between the two.
#[test]
fn each_pcapng_interface_is_a_capture_point_of_its_own() {
    let mut file = block(0x0a0d_0d0a, &{
        let mut b = 0x1a2b_3c4d_u32.to_le_bytes().to_vec();
        b.extend([1, 0, 0, 0]);
        b.extend((-1i64).to_le_bytes());
        b
    });
    for name in ["eth1", "eth2"] {
        let mut idb = vec![1, 0, 0, 0];
        idb.extend(0u32.to_le_bytes());
        idb.extend(2u16.to_le_bytes());
        idb.extend(u16::try_from(name.len()).unwrap_or(0).to_le_bytes());
        idb.extend(name.as_bytes());
        idb.resize(idb.len().div_ceil(4) * 4, 0);
        idb.extend([0, 0, 0, 0]);
        file.extend(block(1, &idb));
    }
    let packets = [
        (0u32, syn_frame(64, true, 1460)),
        (1, syn_frame(63, true, 1300)),
        (1, syn_frame(64, false, 1460)),
        (0, syn_frame(63, false, 1460)),
    ];
    for (i, (interface, frame)) in packets.iter().enumerate() {
        let mut epb = interface.to_le_bytes().to_vec();
        epb.extend(0u32.to_le_bytes());
        epb.extend(u32::try_from(i).unwrap_or(0).to_le_bytes());
        let len = u32::try_from(frame.len()).unwrap_or(0);
        epb.extend(len.to_le_bytes());
        epb.extend(len.to_le_bytes());
        epb.extend(frame);
        file.extend(block(6, &epb));
    }
    let reader = Reader::new(io::Cursor::new(file)).expect("pcapng");
    let format = reader.format();
    let mut inputs =
        vec![Input::start("router.pcapng".into(), reader, format, None, false).expect("start")];
    let mut analyzer = Analyzer::new(Config::default());
    let mut reports = Vec::new();
    read_all(&mut inputs, &mut analyzer, &mut |_| {}, &mut |r| {
        reports.push(r);
        Ok(())
    })
    .expect("read");
    analyzer.finish();
    while let Some(r) = analyzer.poll_finished() {
        reports.push(r);
    }
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    let points: Vec<(usize, usize, Option<&str>)> = report
        .points
        .iter()
        .map(|p| (p.point, p.input, p.interface.as_deref()))
        .collect();
    assert_eq!(points, [(0, 0, Some("eth1")), (1, 0, Some("eth2"))]);
    let names = vec!["router.pcapng".to_string()];
    let rewritten: Vec<(u16, u16, Option<String>, Option<String>)> = report
        .findings
        .iter()
        .filter_map(|f| match *f {
            mss_analyze::report::Finding::MssRewritten {
                from,
                to,
                before,
                after,
                ..
            } => Some((
                from,
                to,
                report.point_name(before, &names),
                report.point_name(after, &names),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        rewritten,
        [(
            1460,
            1300,
            Some("router.pcapng (eth1)".to_string()),
            Some("router.pcapng (eth2)".to_string())
        )]
    );
    assert_eq!(
        report.client.syn_mss,
        mss_analyze::report::MssSeen::Value(1460)
    );
}
