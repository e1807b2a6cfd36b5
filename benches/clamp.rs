//! The clamp's hot path, per packet on one core (run: `cargo bench --bench clamp`):
//! a data segment (what a clamp sees most: it must get out of the way), a SYN whose
//! MSS is lowered, a SYN already low enough, and a SYN inside an Ethernet frame with
//! a VLAN tag. Each iteration gets a fresh copy of the packet, made outside the
//! timed part. Offline throughput of `mss clamp` on a capture is in the README.

use std::hint::black_box;

use divan::Bencher;
use etherparse::{PacketBuilder, TcpOptionElement};
use mss_clamp::{INSERT_ROOM, Targets, clamp_frame, clamp_ip};
use mss_wire::packet::Link;

fn main() {
    divan::main();
}

const TARGETS: Targets = Targets {
    ipv4: Some(1360),
    ipv6: Some(1340),
    insert: false,
};

fn syn(mss: u16, payload: usize, syn: bool) -> Vec<u8> {
    let mut builder =
        PacketBuilder::ipv4([10, 81, 1, 1], [10, 81, 2, 2], 64).tcp(40000, 5201, 1, 64240);
    if syn {
        builder = builder.syn();
        builder = builder
            .options(&[
                TcpOptionElement::MaximumSegmentSize(mss),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(1, 0),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap_or_else(|_| unreachable!("the options fit"));
    } else {
        builder = builder.ack(1);
    }
    let data = vec![0x61u8; payload];
    let mut out = Vec::with_capacity(builder.size(payload) + INSERT_ROOM);
    builder
        .write(&mut out, &data)
        .unwrap_or_else(|_| unreachable!("writing to a Vec"));
    out
}

fn run(bencher: Bencher<'_, '_>, packet: Vec<u8>) {
    let len = packet.len();
    bencher
        .with_inputs(|| {
            let mut p = packet.clone();
            p.resize(len + INSERT_ROOM, 0);
            p
        })
        .bench_local_refs(|p| black_box(clamp_ip(black_box(p), len, &TARGETS)));
}

/// The harness alone (a fresh 1500-byte input and a black box), to subtract from
/// the others.
#[divan::bench]
fn harness_floor(bencher: Bencher<'_, '_>) {
    let packet = syn(0, 1448, false);
    bencher
        .with_inputs(|| packet.clone())
        .bench_local_refs(|p| black_box(black_box(p).len()));
}

#[divan::bench]
fn data_segment_1448(bencher: Bencher<'_, '_>) {
    run(bencher, syn(0, 1448, false));
}

#[divan::bench]
fn syn_lowered(bencher: Bencher<'_, '_>) {
    run(bencher, syn(1460, 0, true));
}

#[divan::bench]
fn syn_already_low(bencher: Bencher<'_, '_>) {
    run(bencher, syn(1260, 0, true));
}

#[divan::bench]
fn syn_lowered_in_vlan_frame(bencher: Bencher<'_, '_>) {
    let mut frame = vec![
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00,
    ];
    frame.extend(syn(1460, 0, true));
    let len = frame.len();
    bencher
        .with_inputs(|| frame.clone())
        .bench_local_refs(|f| black_box(clamp_frame(black_box(f), len, Link::Ethernet, &TARGETS)));
}
