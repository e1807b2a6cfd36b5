//! Per-core throughput of each stage of `mss analyze` on an in-memory capture:
//! reading records, decoding them to TCP, and the whole analysis. `cargo bench
//! --bench compare` measures the command end to end against tcptrace and tshark;
//! this isolates the stages (run: `cargo bench --bench parse`).
//!
//! The capture: 200,000 Ethernet/IPv4/TCP packets over 2,000 connections (a
//! handshake with MSS and timestamps, then data segments of 1448 bytes, or 64-byte
//! ones for the small-packet case), as tcpdump would write them.

use std::hint::black_box;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use etherparse::{PacketBuilder, TcpOptionElement};
use mss_analyze::{Analyzer, Config};
use mss_capture::Reader;
use mss_wire::packet::{Link, Transport, decode};

fn main() {
    divan::main();
}

const CONNECTIONS: u32 = 2_000;
const PACKETS_PER_CONNECTION: u32 = 100;

/// A pcap file with `CONNECTIONS` connections of `PACKETS_PER_CONNECTION` packets,
/// data segments carrying `payload` bytes.
fn capture(payload: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    let data = vec![0x61u8; payload];
    for c in 0..CONNECTIONS {
        let ts = 1_700_000_000 + c;
        let [_, _, hi, lo] = c.to_be_bytes();
        let client = [10, 1, hi, lo];
        let port = 10_000 + u16::try_from(c % 50_000).unwrap_or(0);
        for i in 0..PACKETS_PER_CONNECTION {
            let from_client = i % 2 == 0;
            let (src, dst, sport, dport) = if from_client {
                (client, [10, 2, 0, 1], port, 443)
            } else {
                ([10, 2, 0, 1], client, 443, port)
            };
            let seq = 1000 + i * 1448;
            let mut step = PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 502);
            let syn = i < 2;
            if syn {
                step = step.syn();
            }
            if i > 0 {
                step = step.ack(seq);
            }
            let options: Vec<TcpOptionElement> = if syn {
                vec![
                    TcpOptionElement::MaximumSegmentSize(1460),
                    TcpOptionElement::Timestamp(i, 0),
                ]
            } else {
                vec![
                    TcpOptionElement::Noop,
                    TcpOptionElement::Noop,
                    TcpOptionElement::Timestamp(i, i),
                ]
            };
            let step = step.options(&options).unwrap_or_else(|e| panic!("{e}"));
            let body: &[u8] = if syn || !from_client { &[] } else { &data };
            let mut packet = Vec::new();
            step.write(&mut packet, body)
                .unwrap_or_else(|e| panic!("{e}"));
            let len = u32::try_from(packet.len()).unwrap_or(0);
            for field in [ts, i, len, len] {
                out.extend_from_slice(&field.to_le_bytes());
            }
            out.extend_from_slice(&packet);
        }
    }
    out
}

fn packets() -> usize {
    usize::try_from(CONNECTIONS * PACKETS_PER_CONNECTION).unwrap_or(0)
}

/// Runs `stage` over every record of a capture with `payload`-byte data segments,
/// counting bytes and packets.
fn per_record(bencher: Bencher<'_, '_>, payload: usize, stage: impl Fn(&[u8]) -> usize + Sync) {
    let file = capture(payload);
    bencher
        .counter(BytesCount::new(file.len()))
        .counter(ItemsCount::new(packets()))
        .bench(|| {
            let mut reader = Reader::new(&file[..]).unwrap_or_else(|e| panic!("{e}"));
            let mut total = 0usize;
            while let Ok(Some(record)) = reader.next_record() {
                total += stage(record.data);
            }
            black_box(total)
        });
}

#[divan::bench(args = [1448, 64])]
fn read_records(bencher: Bencher<'_, '_>, payload: usize) {
    per_record(bencher, payload, <[u8]>::len);
}

#[divan::bench(args = [1448, 64])]
fn read_and_decode(bencher: Bencher<'_, '_>, payload: usize) {
    per_record(bencher, payload, |frame| {
        match decode(Link::Ethernet, frame) {
            Ok(Some(packet)) => match packet.transport {
                Transport::Tcp(segment) => usize::from(segment.flags().0 & 2 != 0),
                _ => 0,
            },
            _ => 0,
        }
    });
}

#[divan::bench(args = [1448, 64])]
fn analyze(bencher: Bencher<'_, '_>, payload: usize) {
    let file = capture(payload);
    bencher
        .counter(BytesCount::new(file.len()))
        .counter(ItemsCount::new(packets()))
        .bench(|| {
            let mut reader = Reader::new(&file[..]).unwrap_or_else(|e| panic!("{e}"));
            let mut analyzer = Analyzer::new(Config::default());
            let mut connections = 0usize;
            while let Ok(Some(record)) = reader.next_record() {
                if let Ok(Some(packet)) = decode(Link::Ethernet, record.data) {
                    analyzer.on_packet(0, record.number, record.timestamp_ns, &packet);
                }
                while analyzer.poll_finished().is_some() {
                    connections += 1;
                }
            }
            analyzer.finish();
            while analyzer.poll_finished().is_some() {
                connections += 1;
            }
            black_box(connections)
        });
}
