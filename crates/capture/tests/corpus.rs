//! Differential test: every capture of tcpdump's own test suite (many deliberately
//! malformed) read by this crate and by `pcap-parser`. Where `pcap-parser` reads a
//! file to its end, this crate must return exactly the same packets; where either
//! stops early, the packets both read must be identical. Nothing may panic.

use std::fs::File;
use std::path::{Path, PathBuf};

use mss_capture::Reader;
use pcap_parser::{Block, PcapBlockOwned, PcapError, create_reader};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("MSS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/tcpdump")
        });
    dir.is_dir().then_some(dir)
}

/// Packets as (captured bytes, original length), and whether the reader reached the
/// end without an error.
fn ours(path: &Path) -> (Vec<(Vec<u8>, u32)>, bool) {
    let Ok(file) = File::open(path) else {
        return (Vec::new(), false);
    };
    let Ok(mut reader) = Reader::new(file) else {
        return (Vec::new(), false);
    };
    let mut packets = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => packets.push((r.data.to_vec(), r.original_len)),
            Ok(None) => return (packets, true),
            Err(_) => return (packets, false),
        }
    }
}

fn theirs(path: &Path) -> (Vec<(Vec<u8>, u32)>, bool) {
    let Ok(file) = File::open(path) else {
        return (Vec::new(), false);
    };
    let Ok(mut reader) = create_reader(1 << 20, file) else {
        return (Vec::new(), false);
    };
    let mut packets = Vec::new();
    let mut snaplens: Vec<u32> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::Legacy(b) => {
                        packets.push((b.data[..b.caplen as usize].to_vec(), b.origlen));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => snaplens.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        snaplens.push(idb.snaplen)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let len = (epb.caplen as usize).min(epb.data.len());
                        packets.push((epb.data[..len].to_vec(), epb.origlen));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let mut len = (spb.origlen as usize).min(spb.data.len());
                        if let Some(&snap) = snaplens.first().filter(|&&s| s > 0) {
                            len = len.min(snap as usize);
                        }
                        packets.push((spb.data[..len].to_vec(), spb.origlen));
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => return (packets, true),
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    return (packets, false);
                }
            }
            Err(_) => return (packets, false),
        }
    }
}

/// `#[ignore]`d in a plain `cargo test`: the corpus is not in the repository.
/// `scripts/test` runs it with `--ignored` whenever the corpus is there.
#[test]
#[ignore = "needs the tcpdump corpus (../shared/corpus/tcpdump or MSS_CORPUS); scripts/test runs it when the corpus is there"]
fn corpus_agrees_with_pcap_parser() {
    let Some(dir) = corpus() else {
        panic!(
            "the tcpdump corpus is not at ../shared/corpus/tcpdump: set MSS_CORPUS to its \
             directory"
        );
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    assert!(
        files.len() > 800,
        "expected the whole corpus in {}",
        dir.display()
    );
    let (mut same, mut we_read_more, mut they_read_more) = (0, Vec::new(), Vec::new());
    for path in &files {
        let (a, a_complete) = ours(path);
        let (b, b_complete) = theirs(path);
        let common = a.len().min(b.len());
        assert_eq!(
            a[..common],
            b[..common],
            "{}: packets differ",
            path.display()
        );
        if b_complete && !a_complete {
            they_read_more.push(path.display().to_string());
        } else if a.len() == b.len() {
            same += 1;
        } else if a.len() > b.len() {
            we_read_more.push(path.display().to_string());
        } else {
            they_read_more.push(path.display().to_string());
        }
    }
    assert!(
        they_read_more.is_empty(),
        "pcap-parser reads further than mss in: {they_read_more:#?}"
    );
    println!(
        "{same} files identical; mss reads further in {}: {we_read_more:?}",
        we_read_more.len()
    );
}
