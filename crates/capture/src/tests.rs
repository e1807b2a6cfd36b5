use super::*;
use proptest::prelude::*;

/// A pcap file: header and records (seconds, fraction, data, original length).
fn pcap(
    big_endian: bool,
    nanosecond: bool,
    link: u32,
    records: &[(u32, u32, &[u8], u32)],
) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(65535));
    out.extend_from_slice(&w32(link));
    for (seconds, fraction, data, original) in records {
        out.extend_from_slice(&w32(*seconds));
        out.extend_from_slice(&w32(*fraction));
        out.extend_from_slice(&w32(u32::try_from(data.len()).unwrap_or(0)));
        out.extend_from_slice(&w32(*original));
        out.extend_from_slice(data);
    }
    out
}

/// A record as owned values: number, offset, timestamp, link type, data, original length.
type Owned = (u64, u64, u64, LinkType, Vec<u8>, u32);

fn read_all(bytes: &[u8]) -> (Vec<Owned>, Option<Error>) {
    let mut out = Vec::new();
    let mut reader = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match reader.next_record() {
            Ok(Some(r)) => out.push((
                r.number,
                r.offset,
                r.timestamp_ns,
                r.link_type,
                r.data.to_vec(),
                r.original_len,
            )),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn pcap_all_variants() {
    for big_endian in [false, true] {
        for nanosecond in [false, true] {
            let file = pcap(
                big_endian,
                nanosecond,
                1,
                &[(10, 5, b"abcd", 60), (11, 0, b"", 0)],
            );
            let (records, error) = read_all(&file);
            assert_eq!(error, None);
            let scale = if nanosecond { 1 } else { 1000 };
            assert_eq!(
                records,
                vec![
                    (
                        1,
                        24,
                        10_000_000_000 + 5 * scale,
                        LinkType(1),
                        b"abcd".to_vec(),
                        60
                    ),
                    (2, 44, 11_000_000_000, LinkType(1), vec![], 0),
                ]
            );
        }
    }
}

#[test]
fn pcap_cut_anywhere_keeps_what_came_before() {
    let file = pcap(
        false,
        false,
        101,
        &[
            (1, 0, &[7; 40], 40),
            (2, 0, &[8; 30], 30),
            (3, 0, &[9; 20], 20),
        ],
    );
    let boundaries = [24usize, 24 + 56, 24 + 56 + 46, file.len()];
    for cut in 0..file.len() {
        let (records, error) = read_all(&file[..cut]);
        let complete = boundaries[1..].iter().filter(|&&b| b <= cut).count();
        assert_eq!(
            records.len(),
            if cut < 24 { 0 } else { complete },
            "cut {cut}"
        );
        match cut {
            0 => assert_eq!(error.map(|e| e.kind), Some(ErrorKind::Empty)),
            1..=3 => assert!(matches!(
                error.map(|e| e.kind),
                Some(ErrorKind::NotACapture { .. })
            )),
            4..=23 => assert!(matches!(
                error.map(|e| e.kind),
                Some(ErrorKind::TruncatedHeader { .. })
            )),
            _ if boundaries.contains(&cut) => assert_eq!(error, None, "cut {cut}"),
            _ => {
                let e = error.unwrap_or_else(|| panic!("cut {cut}: no error"));
                assert!(e.is_truncation(), "cut {cut}: {e}");
                assert_eq!(e.offset, boundaries[complete] as u64);
                assert_eq!(e.packet, Some(complete as u64 + 1));
            }
        }
    }
}

#[test]
fn corrupt_record_length_is_an_error_not_an_allocation() {
    let mut file = pcap(false, false, 1, &[(1, 0, b"ok", 2), (2, 0, b"xx", 2)]);
    // Second record's captured length: 0xfffffff0.
    let at = 24 + 16 + 2 + 8;
    file[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let (records, error) = read_all(&file);
    assert_eq!(records.len(), 1);
    let error = error.unwrap_or_else(|| panic!("no error"));
    assert_eq!(error.offset, 42);
    assert_eq!(error.packet, Some(2));
    assert!(matches!(
        error.kind,
        ErrorKind::BadLength {
            length: 0xffff_fff0,
            ..
        }
    ));
    let text = error.to_string();
    assert!(
        text.contains("byte 42") && text.contains("packet 2"),
        "{text}"
    );
}

#[test]
fn not_a_capture() {
    let (_, error) = read_all(b"GET / HTTP/1.1\r\n");
    let text = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        text.contains("47 45 54 20") && text.contains("pcapng"),
        "{text}"
    );
}

/// pcapng block builder.
struct Ng {
    big_endian: bool,
    out: Vec<u8>,
}

impl Ng {
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn w16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, kind: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = u32::try_from(body.len() + 12).unwrap_or(0);
        let (k, l) = (self.w32(kind), self.w32(len));
        self.out.extend_from_slice(&k);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
    }
    fn shb(&mut self) {
        let mut body = self.w32(0x1a2b_3c4d).to_vec();
        body.extend_from_slice(&self.w16(1));
        body.extend_from_slice(&self.w16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body);
    }
    fn idb(&mut self, link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) {
        let mut body = self.w16(link).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.w32(0));
        if let Some(r) = tsresol {
            body.extend_from_slice(&self.w16(9));
            body.extend_from_slice(&self.w16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend_from_slice(&self.w16(14));
            body.extend_from_slice(&self.w16(8));
            body.extend_from_slice(&if self.big_endian {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            });
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &body);
    }
    fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) {
        let mut body = self.w32(iface).to_vec();
        body.extend_from_slice(&self.w32(u32::try_from(ts >> 32).unwrap_or(0)));
        body.extend_from_slice(&self.w32(u32::try_from(ts & 0xffff_ffff).unwrap_or(0)));
        body.extend_from_slice(&self.w32(u32::try_from(data.len()).unwrap_or(0)));
        body.extend_from_slice(&self.w32(u32::try_from(data.len()).unwrap_or(0) + 100));
        body.extend_from_slice(data);
        self.block(6, &body);
    }
    fn spb(&mut self, data: &[u8]) {
        let mut body = self.w32(u32::try_from(data.len()).unwrap_or(0)).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body);
    }
    fn opb(&mut self, iface: u16, ts: u64, data: &[u8]) {
        let mut body = self.w16(iface).to_vec();
        body.extend_from_slice(&self.w16(0));
        body.extend_from_slice(&self.w32(u32::try_from(ts >> 32).unwrap_or(0)));
        body.extend_from_slice(&self.w32(u32::try_from(ts & 0xffff_ffff).unwrap_or(0)));
        body.extend_from_slice(&self.w32(u32::try_from(data.len()).unwrap_or(0)));
        body.extend_from_slice(&self.w32(u32::try_from(data.len()).unwrap_or(0)));
        body.extend_from_slice(data);
        self.block(2, &body);
    }
}

fn two_sections() -> Vec<u8> {
    let mut ng = Ng {
        big_endian: false,
        out: Vec::new(),
    };
    ng.shb();
    ng.idb(1, None, None); // Ethernet, microseconds
    ng.idb(113, Some(9), Some(10)); // SLL, nanoseconds, +10 s
    ng.epb(0, 1_500_000, b"first");
    ng.block(0x0000_0bad, b"custom block, skipped");
    ng.epb(1, 2_000_000_000, b"second!");
    ng.spb(b"simple");
    ng.opb(1, 7, b"old");
    let mut be = Ng {
        big_endian: true,
        out: ng.out,
    };
    be.shb();
    be.idb(101, Some(0x80 | 10), None); // raw IP, 2^-10 s
    be.epb(0, 2048, b"third section");
    be.out
}

#[test]
fn pcapng_sections_interfaces_and_blocks() {
    let (records, error) = read_all(&two_sections());
    assert_eq!(error, None);
    let summary: Vec<(u64, LinkType, &[u8])> =
        records.iter().map(|r| (r.2, r.3, r.4.as_slice())).collect();
    assert_eq!(
        summary,
        vec![
            (1_500_000_000, LinkType(1), &b"first"[..]),
            (12_000_000_000, LinkType(113), &b"second!"[..]),
            (0, LinkType(1), &b"simple"[..]),
            (10_000_000_007, LinkType(113), &b"old"[..]),
            (2_000_000_000, LinkType(101), &b"third section"[..]),
        ]
    );
    assert_eq!(
        records.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn pcapng_cut_anywhere_never_panics_and_keeps_earlier_packets() {
    let file = two_sections();
    let (all, _) = read_all(&file);
    let mut previous = 0;
    for cut in 0..file.len() {
        let (records, error) = read_all(&file[..cut]);
        assert!(
            records.len() >= previous,
            "cut {cut}: fewer packets than a shorter cut"
        );
        previous = records.len();
        assert_eq!(records[..], all[..records.len()], "cut {cut}");
        if let Some(e) = error {
            assert!(
                e.offset <= cut as u64,
                "cut {cut}: error offset {} past the end",
                e.offset
            );
        }
    }
}

#[test]
fn pcapng_mismatched_trailing_length() {
    let mut file = two_sections();
    // Corrupt the trailing length of the first EPB: after the SHB and two IDBs.
    let mut epb = 0;
    for _ in 0..3 {
        epb += u32_at(&file, epb + 4, false) as usize;
    }
    let len = u32_at(&file, epb + 4, false) as usize;
    let trailer = epb + len - 4;
    file[trailer] ^= 0x40;
    let (records, error) = read_all(&file);
    assert!(records.is_empty());
    let error = error.unwrap_or_else(|| panic!("no error"));
    assert_eq!(error.offset, epb as u64);
    assert!(matches!(error.kind, ErrorKind::BadLength { .. }));
}

#[test]
fn pcapng_unknown_interface_is_a_warning() {
    let mut ng = Ng {
        big_endian: false,
        out: Vec::new(),
    };
    ng.shb();
    ng.idb(1, None, None);
    ng.epb(5, 0, b"lost");
    ng.epb(0, 0, b"kept");
    let mut reader = Reader::new(&ng.out[..]).unwrap_or_else(|e| panic!("{e}"));
    let first = reader.next_record().ok().flatten().map(|r| r.data.to_vec());
    assert_eq!(first.as_deref(), Some(&b"kept"[..]));
    assert_eq!(reader.warnings().0.len(), 1);
    assert!(reader.warnings().0[0].message.contains("interface 5"));
}

proptest! {
    /// Arbitrary bytes after a valid header: the reader ends (every record consumes
    /// bytes), never panics, and never reports an offset past the input.
    #[test]
    fn arbitrary_tails(tail in proptest::collection::vec(any::<u8>(), 0..400), ng in any::<bool>()) {
        let mut bytes = if ng {
            let mut n = Ng { big_endian: false, out: Vec::new() };
            n.shb();
            n.out
        } else {
            pcap(false, false, 1, &[])
        };
        bytes.extend_from_slice(&tail);
        let mut reader = Reader::new(&bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut count = 0;
        loop {
            match reader.next_record() {
                Ok(Some(r)) => {
                    prop_assert!(r.data_offset + r.data.len() as u64 <= bytes.len() as u64);
                    count += 1;
                    prop_assert!(count <= bytes.len());
                }
                Ok(None) => break,
                Err(e) => {
                    prop_assert!(e.offset <= bytes.len() as u64);
                    break;
                }
            }
        }
    }
}

#[test]
fn reader_thread_gives_the_same_records() {
    let mut big = Vec::new();
    for i in 0..20_000u32 {
        big.push((
            i,
            i % 1000,
            vec![u8::try_from(i % 256).unwrap_or(0); usize::try_from(i % 1500).unwrap_or(0)],
            i % 1500,
        ));
    }
    let records: Vec<(u32, u32, &[u8], u32)> = big
        .iter()
        .map(|(a, b, d, o)| (*a, *b, d.as_slice(), *o))
        .collect();
    let file = pcap(false, false, 1, &records);
    let collect = |mut reader: Reader<std::io::Cursor<Vec<u8>>>| {
        let mut out = Vec::new();
        while let Ok(Some(r)) = reader.next_record() {
            out.push((r.number, r.offset, r.timestamp_ns, r.data.to_vec()));
        }
        out
    };
    let direct = Reader::new(std::io::Cursor::new(file.clone())).map(collect);
    let threaded = Reader::with_reader_thread(std::io::Cursor::new(file)).map(collect);
    assert_eq!(direct.as_ref().map(Vec::len), Ok(20_000));
    assert_eq!(direct, threaded);
}

/// Bytes that come as they are sent, like a pipe from `tcpdump -U -w -`: a read
/// waits for the next piece; the end when the sender is gone.
struct Pipe {
    pieces: std::sync::mpsc::Receiver<Vec<u8>>,
    left: Vec<u8>,
}

impl io::Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.left.is_empty() {
            match self.pieces.recv() {
                Ok(piece) => self.left = piece,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.left.len());
        out[..n].copy_from_slice(&self.left[..n]);
        self.left.drain(..n);
        Ok(n)
    }
}

/// Waits (at most 5 s) for `ready` to say yes.
fn eventually(mut ready: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if ready() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// A streaming reader hands each record over as soon as it is whole, and says
/// without waiting whether the next one is there.
#[test]
fn a_streaming_reader_has_each_record_as_soon_as_it_is_whole() {
    for file in [
        pcap(
            false,
            false,
            1,
            &[(1, 0, &[7; 60], 60), (2, 0, &[8; 60], 60)],
        ),
        two_sections(),
    ] {
        let (send, pieces) = std::sync::mpsc::channel();
        // Where the second and third records start.
        let mut whole = Reader::new(&file[..]).unwrap_or_else(|e| panic!("{e}"));
        let mut starts = Vec::new();
        for _ in 0..3 {
            let _ = whole.next_record();
            starts.push(usize::try_from(whole.offset()).unwrap_or(0));
        }
        // The header and first record, then half of the second, then the rest.
        let (head, rest) = file.split_at(starts[1]);
        let (half, other_half) = rest.split_at((starts[2] - starts[1]) / 2);
        send.send(head.to_vec()).unwrap_or_default();
        let mut reader = Reader::streaming(Pipe {
            pieces,
            left: Vec::new(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(eventually(|| reader.record_ready()));
        let first = reader.next_record().map(|r| r.map(|r| r.number));
        assert_eq!(first, Ok(Some(1)));
        send.send(half.to_vec()).unwrap_or_default();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !reader.record_ready(),
            "half a record is not ready: {:?} {starts:?} {}",
            reader.source,
            file.len()
        );
        send.send(other_half.to_vec()).unwrap_or_default();
        assert!(eventually(|| reader.record_ready()));
        let mut numbers = Vec::new();
        while reader.record_ready() {
            match reader.next_record() {
                Ok(Some(record)) => numbers.push(record.number),
                _ => break,
            }
            if numbers.len() > 10 {
                break;
            }
        }
        assert!(!numbers.is_empty());
        drop(send);
        assert!(eventually(|| reader.record_ready()), "the end is ready");
        while let Ok(Some(_)) = reader.next_record() {}
    }
}
