//! IP fragments as `mss analyze` reads them, against tshark (which reassembles them
//! too): TCP inside GRE whose outer IPv4 packets were fragmented (what a tunnel
//! with path MTU discovery off sends over a link smaller than its packets), and
//! TCP over IPv6 fragmented at its source. The captures are built here byte by
//! byte (etherparse for the headers), as no kernel on the test machines need have
//! GRE; the kernel's own IPv4 fragments are in tests/captures/fragments.

mod support;

use std::path::Path;
use std::process::Command;

use etherparse::{PacketBuilder, TcpOptionElement};
use support::{TempDir, mss, which};

const CLIENT: [u8; 4] = [10, 79, 0, 1];
const SERVER: [u8; 4] = [10, 79, 0, 2];

/// A pcap file (Ethernet) of these frames, one every millisecond.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        let len = u32::try_from(frame.len()).expect("frame length");
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&(u32::try_from(i).expect("count") * 1000).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A packet built by etherparse, as bytes.
fn build(builder: etherparse::PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    builder.write(&mut out, payload).expect("write packet");
    out
}

/// An IPv4 SYN from CLIENT:`port` to SERVER:80 and its SYN-ACK, both with `mss`.
fn handshake_v4(port: u16, mss: u16) -> Vec<Vec<u8>> {
    let option = [TcpOptionElement::MaximumSegmentSize(mss)];
    vec![
        build(
            PacketBuilder::ipv4(CLIENT, SERVER, 64)
                .tcp(port, 80, 1000, 64240)
                .syn()
                .options(&option)
                .expect("options"),
            &[],
        ),
        build(
            PacketBuilder::ipv4(SERVER, CLIENT, 64)
                .tcp(80, port, 5000, 64240)
                .syn()
                .ack(1001)
                .options(&option)
                .expect("options"),
            &[],
        ),
    ]
}

/// The inner connection's packets as raw IPv4: handshake with MSS 1460, then
/// `segments` full-size segments from the client, then the server's ACK.
fn inner_connection(segments: u32) -> Vec<Vec<u8>> {
    let mut packets = handshake_v4(40000, 1460);
    let mut push = |builder: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
                    payload: &[u8]| packets.push(build(builder, payload));
    push(
        PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .tcp(40000, 80, 1001, 64240)
            .ack(5001),
        &[],
    );
    for i in 0..segments {
        push(
            PacketBuilder::ipv4(CLIENT, SERVER, 64)
                .tcp(40000, 80, 1001 + i * 1460, 64240)
                .ack(5001),
            &[0x5a; 1460],
        );
    }
    push(
        PacketBuilder::ipv4(SERVER, CLIENT, 64)
            .tcp(80, 40000, 5001, 64240)
            .ack(1001 + segments * 1460),
        &[],
    );
    packets
}

/// `inner` in GRE in IPv4 from 10.78.0.1 to 10.78.0.2 (DF clear, identification
/// `ident`), cut into fragments that fit a 1500-byte link.
fn gre_fragments(inner: &[u8], ident: u16) -> Vec<Vec<u8>> {
    let mut gre = vec![0, 0, 0x08, 0x00];
    gre.extend_from_slice(inner);
    let mut outer = Vec::new();
    let mut header = etherparse::Ipv4Header::new(
        u16::try_from(gre.len()).expect("length"),
        64,
        etherparse::IpNumber::GRE,
        [10, 78, 0, 1],
        [10, 78, 0, 2],
    )
    .expect("header");
    header.identification = ident;
    header.dont_fragment = false;
    header.write(&mut outer).expect("write");
    outer.extend_from_slice(&gre);
    fragment_v4(&outer, 1480)
}

/// An IPv4 packet cut into fragments of `size` data bytes (a multiple of 8).
fn fragment_v4(packet: &[u8], size: usize) -> Vec<Vec<u8>> {
    let header = &packet[..20];
    let data = &packet[20..];
    if data.len() <= size {
        return vec![packet.to_vec()];
    }
    data.chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i * size;
            let more = offset + chunk.len() < data.len();
            let mut f = header.to_vec();
            f.extend_from_slice(chunk);
            let total = u16::try_from(f.len()).expect("length");
            f[2..4].copy_from_slice(&total.to_be_bytes());
            let flags = u16::try_from(offset / 8).expect("offset") | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&flags.to_be_bytes());
            f[10..12].copy_from_slice(&[0, 0]);
            let sum = checksum(&f[..20]);
            f[10..12].copy_from_slice(&sum.to_be_bytes());
            f
        })
        .collect()
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).expect("folded")
}

/// `packets` (raw IPv4) each in GRE over fragmented IPv4 (identifications from
/// `first_ident` on), written to `file` as an Ethernet capture; mss's JSON Lines
/// for it.
fn analyze_in_gre(packets: &[Vec<u8>], first_ident: u16, file: &Path) -> Vec<serde_json::Value> {
    let mut frames = Vec::new();
    for (i, packet) in packets.iter().enumerate() {
        let ident = first_ident + u16::try_from(i).expect("ident");
        for fragment in gre_fragments(packet, ident) {
            frames.push(ethernet(0x0800, &fragment));
        }
    }
    std::fs::write(file, pcap(&frames)).expect("write capture");
    analyze(file)
}

/// mss's JSON Lines for `file`.
fn analyze(file: &Path) -> Vec<serde_json::Value> {
    let path = file.to_string_lossy().to_string();
    let out = mss(&["analyze", "--json", "--no-progress", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// tshark's largest TCP payload and SYN MSS per source address of the innermost
/// TCP (it reassembles IP fragments, then opens the tunnel).
fn tshark(file: &Path) -> Vec<(String, u64, Option<u64>)> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", "tcp", "-T", "fields", "-E", "occurrence=l"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.len"])
        .args(["-e", "tcp.options.mss_val"])
        .output()
        .expect("run tshark");
    let mut seen: Vec<(String, u64, Option<u64>)> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [v4, v6, len, mss] = fields[..] else {
            panic!("tshark printed {line:?}");
        };
        let src = if v4.is_empty() { v6 } else { v4 };
        let len: u64 = len.parse().unwrap_or(0);
        let mss: Option<u64> = mss.parse().ok();
        match seen.iter_mut().find(|(s, _, _)| s == src) {
            Some((_, max, syn)) => {
                *max = (*max).max(len);
                *syn = syn.or(mss);
            }
            None => seen.push((src.to_string(), len, mss)),
        }
    }
    seen.sort();
    seen
}

fn kinds(conn: &serde_json::Value) -> Vec<&str> {
    conn["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["kind"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn tcp_in_gre_whose_outer_packets_were_fragmented() {
    assert!(
        which("tshark").is_some(),
        "this test compares with tshark: apt-get install tshark (scripts/test installs it)"
    );
    let dir = TempDir::new("gre-fragments");
    let file = dir.0.join("gre-fragments.pcap");
    let lines = analyze_in_gre(&inner_connection(6), 100, &file);
    let conn = lines
        .iter()
        .find(|l| l["type"] == "connection")
        .expect("the connection inside the tunnel");
    assert_eq!(conn["tunnel"], "gre", "{conn}");
    assert_eq!(conn["client"]["addr"], "10.79.0.1");
    assert_eq!(conn["client"]["max_segment"], 1460);
    assert_eq!(conn["client"]["data_segments"], 6);
    assert_eq!(conn["client"]["syn_mss"], 1460);
    assert_eq!(conn["server"]["syn_mss"], 1460);
    let kinds = kinds(conn);
    assert!(kinds.contains(&"ip_fragments"), "{kinds:?}");
    assert!(!kinds.contains(&"segments_exceed_mss"), "{kinds:?}");
    let summary = lines.last().expect("summary");
    assert_eq!(summary["reassembled"], 6, "{summary}");
    assert_eq!(summary["fragments"], 12, "{summary}");
    assert_eq!(summary["incomplete_datagrams"], 0, "{summary}");

    let theirs = tshark(&file);
    let client = theirs.iter().find(|(s, _, _)| s == "10.79.0.1");
    assert_eq!(
        client.map(|c| (c.1, c.2)),
        Some((1460, Some(1460))),
        "{theirs:?}"
    );
}

#[test]
fn tcp_over_ipv6_fragmented_at_its_source() {
    assert!(
        which("tshark").is_some(),
        "this test compares with tshark: apt-get install tshark (scripts/test installs it)"
    );
    let dir = TempDir::new("v6-fragments");
    let (client, server) = (
        [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    );
    let mss = [TcpOptionElement::MaximumSegmentSize(4000)];
    let mut packets = Vec::new();
    packets.push(build(
        PacketBuilder::ipv6(client, server, 64)
            .tcp(40001, 443, 1, 64800)
            .syn()
            .options(&mss)
            .expect("options"),
        &[],
    ));
    packets.push(build(
        PacketBuilder::ipv6(server, client, 64)
            .tcp(443, 40001, 7, 64800)
            .syn()
            .ack(2)
            .options(&mss)
            .expect("options"),
        &[],
    ));
    // A 3000-byte segment, fragmented at its source into 1232-byte pieces.
    let whole = build(
        PacketBuilder::ipv6(client, server, 64)
            .tcp(40001, 443, 2, 64800)
            .ack(8),
        &[0x33; 3000],
    );
    let data = &whole[40..];
    for (i, chunk) in data.chunks(1232).enumerate() {
        let offset = i * 1232;
        let more = offset + chunk.len() < data.len();
        let mut f = whole[..40].to_vec();
        f[6] = 44;
        let offset_flags = u16::try_from(offset).expect("offset") | u16::from(more);
        f.extend_from_slice(&[6, 0]);
        f.extend_from_slice(&offset_flags.to_be_bytes());
        f.extend_from_slice(&0x1234_5678_u32.to_be_bytes());
        f.extend_from_slice(chunk);
        let len = u16::try_from(f.len() - 40).expect("length");
        f[4..6].copy_from_slice(&len.to_be_bytes());
        packets.push(f);
    }
    let frames: Vec<Vec<u8>> = packets.iter().map(|p| ethernet(0x86dd, p)).collect();
    let file = dir.0.join("v6-fragments.pcap");
    std::fs::write(&file, pcap(&frames)).expect("write capture");

    let lines = analyze(&file);
    let conn = lines
        .iter()
        .find(|l| l["type"] == "connection")
        .expect("the connection");
    assert_eq!(conn["client"]["max_segment"], 3000, "{conn}");
    assert!(kinds(conn).contains(&"ip_fragments"), "{conn}");
    let summary = lines.last().expect("summary");
    assert_eq!(
        (
            summary["fragments"].as_u64(),
            summary["reassembled"].as_u64()
        ),
        (Some(3), Some(1))
    );

    let theirs = tshark(&file);
    let client = theirs.iter().find(|(s, _, _)| s == "fd00::1");
    assert_eq!(client.map(|c| c.1), Some(3000), "{theirs:?}");
}

/// Both levels fragmented: a 2920-byte segment whose inner IPv4 packet was
/// fragmented (to fit the tunnel) and whose GRE packets were fragmented again (to
/// fit the link). The outer datagrams are put together, then the inner one.
#[test]
fn fragments_inside_fragmented_gre() {
    assert!(
        which("tshark").is_some(),
        "this test compares with tshark: apt-get install tshark (scripts/test installs it)"
    );
    let dir = TempDir::new("gre-both-fragmented");
    let mut inner = handshake_v4(40002, 8960);
    let mut segment = build(
        PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .tcp(40002, 80, 1001, 64240)
            .ack(5001),
        &[0x77; 2920],
    );
    segment[4..6].copy_from_slice(&77u16.to_be_bytes());
    segment[6] = 0;
    inner.extend(fragment_v4(&segment, 1480));
    let file = dir.0.join("both.pcap");
    let lines = analyze_in_gre(&inner, 200, &file);
    let conn = lines
        .iter()
        .find(|l| l["type"] == "connection")
        .expect("the connection");
    assert_eq!(conn["tunnel"], "gre", "{conn}");
    assert_eq!(conn["client"]["max_segment"], 2920, "{conn}");
    let summary = lines.last().expect("summary");
    // Four frames, all fragments; the two outer datagrams put together are the
    // inner fragments, which make the one datagram analysed.
    assert_eq!(summary["fragments"], 4, "{summary}");
    assert_eq!(summary["reassembled"], 1, "{summary}");
    assert_eq!(summary["incomplete_datagrams"], 0, "{summary}");
    let theirs = tshark(&file);
    let client = theirs.iter().find(|(s, _, _)| s == "10.79.0.1");
    assert_eq!(client.map(|c| c.1), Some(2920), "{theirs:?}");
}
