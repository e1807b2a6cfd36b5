//! `mss analyze --json` against tshark on every capture of a directory (tcpdump's own
//! test suite by default): per TCP connection and direction, the largest segment
//! (`max_segment`, payload bytes) and the SYN's MSS (`syn_mss`) must be tshark's.
//!
//! 1. The real binary runs `analyze --json --no-progress FILE` on every file, and
//!    tshark (keeping its defaults, so IP fragments are reassembled and `tcp.len` is
//!    the reassembled segment's) lists every TCP frame with the display filter
//!    `tcp && !icmp && !icmpv6 && !sflow`: tshark dissects the TCP header quoted in
//!    an ICMP error, and the sampled packet header an sFlow datagram carries, as
//!    `tcp` too, where neither is a segment anybody sent (mss reports the ICMP error,
//!    and reads no sFlow). tshark runs on every file, not only those in which mss
//!    found TCP: what mss does not see at all (a link type or a tunnel it does not
//!    decode) is a difference too. Both run on 2 threads.
//! 2. A tunnelled frame has its fields repeated, outermost first; the innermost TCP
//!    header is the last value, and its addresses those of the last IPv4 or IPv6
//!    layer before it (`frame.protocols` tells which, and which occurrence).
//! 3. tshark's frames are mapped to mss's connections by addresses and ports (in
//!    either order) and frame number: a frame belongs to the latest connection on
//!    its address pair whose `first_packet` is not after it. mss and tshark split a
//!    reused address pair into connections by different rules (mss: a new SYN after
//!    a close or with another ISN, and an hour of capture time without a packet;
//!    tshark: `tcp.stream`, by its own conversation rules), so the split is compared
//!    too, and reported where it differs ("grouping").
//! 4. For each mss connection and each endpoint: the largest `tcp.len` among the
//!    mapped frames it sent must be its `max_segment` (null when none carried
//!    payload), and its first SYN (or SYN-ACK) among them must carry the MSS of its
//!    `syn_mss` (`absent`: none; `unknown`, options cut by the snaplen: tshark reads
//!    none either; `not_captured`: no SYN). A connection of an address and port with
//!    itself (both ends the same) is compared as one endpoint.
//! 5. tshark frames no mss connection claims ("tshark only"), and mss connections
//!    no tshark frame falls in ("mss only"), are differences too.
//!
//! Every difference is printed in one table (file, kind, connection, direction,
//! frame, mss, tshark, note) with a count per kind; the test fails on any that
//! [`ALLOWED`] does not list with a reason checked against the bytes, and, on the
//! whole tcpdump corpus, on any entry of [`ALLOWED`] that no longer matches.
//!
//! The corpus is not in the repository: it is `../shared/corpus/tcpdump` next to the
//! workspace, or `MSS_CORPUS`. So the test is `#[ignore]`d in a plain `cargo test`,
//! and `scripts/test` runs it with `--ignored` whenever the corpus is there (always
//! in CI); run explicitly without it, it fails and says where to put it. With
//! `MSS_CORPUS_ANY=1` any directory of captures will do (`scripts/corpus-diff DIR`
//! runs this test that way, on held-out captures): then the directory need not be
//! the whole tcpdump corpus and stale [`ALLOWED`] entries are not an error. It needs
//! tshark (checked with 4.0.17), as `scripts/test` installs it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Whether the directory may be any set of captures, not the whole tcpdump corpus.
fn any_directory() -> bool {
    std::env::var_os("MSS_CORPUS_ANY").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Differences that are not mss's to fix: (file name, kind, frame, reason), where
/// kind and frame are those of the table's row. Each reason was checked against the
/// bytes of that frame. Differences that code of mss is to fix are not listed here:
/// they fail the test until fixed.
const ALLOWED: &[(&str, Kind, u64, &str)] = &[
    (
        "bigtcp-ipv4-geneve-ipv4.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V4,
    ),
    (
        "bigtcp-ipv4-geneve-ipv6.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V4,
    ),
    (
        "bigtcp-ipv4-vxlan-ipv4.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V4,
    ),
    (
        "bigtcp-ipv4-vxlan-ipv6.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V4,
    ),
    (
        "bigtcp-ipv6-geneve-ipv4.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V6,
    ),
    (
        "bigtcp-ipv6-geneve-ipv6.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V6,
    ),
    (
        "bigtcp-ipv6-vxlan-ipv4.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V6,
    ),
    (
        "bigtcp-ipv6-vxlan-ipv6.pcap",
        Kind::MssOnly,
        1,
        BIG_TCP_IN_UDP_V6,
    ),
    (
        "bigtcp-ipv6.pcap",
        Kind::MssOnly,
        1,
        "tshark: Linux BIG TCP over IPv6 as tcpdump sees it, payload length 0 with no jumbo \
         option and next header TCP: tshark 4.0.17 gives TCP no bytes (\"Malformed Packet\"). \
         The 80054-byte frame is 14 + 40 + 32 bytes of headers and mss's 79968 of payload",
    ),
    ("kday3.pcap", Kind::Grouping, 7, CLOCK_JUMP),
    ("kday3.pcap", Kind::Grouping, 8, CLOCK_JUMP),
    ("kday3.pcap", Kind::Grouping, 9, CLOCK_JUMP),
    ("kday4.pcap", Kind::Grouping, 9, CLOCK_JUMP),
    ("kday7.pcap", Kind::Grouping, 9, CLOCK_JUMP),
];

const BIG_TCP_IN_UDP_V4: &str = "tshark: Linux BIG TCP in a UDP tunnel, a datagram over 64 KiB \
    with outer IPv4 total length 0 and UDP length 0: tshark 4.0.17 takes the IPv4 length 0 for \
    TSO but stops at the UDP length (\"Bad length value 0 < 8\") before the tunnel. mss's \
    largest segment is the frame's length less its headers (Ethernet, outer IP, UDP 8, \
    Geneve or VXLAN 8, inner Ethernet, inner IP, TCP 32), checked for each file";

const BIG_TCP_IN_UDP_V6: &str = "tshark: Linux BIG TCP in a UDP tunnel, a datagram over 64 KiB \
    with outer IPv6 payload length 0 (no jumbo option) and UDP length 0: tshark 4.0.17 gives \
    UDP no bytes (\"Malformed Packet\") and never reaches the tunnel. mss's largest segment is \
    the frame's length less its headers (Ethernet, outer IP, UDP 8, Geneve or VXLAN 8, inner \
    Ethernet, inner IP, TCP 32), checked for each file";

const CLOCK_JUMP: &str = "by design: the capture's clock jumps 24 days ahead at frame 6 \
    (1418946725 s after 1416849573 s) and back at frame 7, so mss ends the connections idle \
    for an hour of capture time and this frame starts a new one on the same ports; tshark has \
    no idle timeout. Per connection the two still agree";

/// What differs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The largest segment of one endpoint.
    MaxSegment,
    /// The MSS option of one endpoint's first SYN.
    SynMss,
    /// A tshark stream's frames that no mss connection claims.
    TsharkOnly,
    /// An mss connection in which tshark has no frame.
    MssOnly,
    /// One tshark stream is several mss connections, or one mss connection several
    /// tshark streams.
    Grouping,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::MaxSegment => "max_segment",
            Kind::SynMss => "syn_mss",
            Kind::TsharkOnly => "tshark_only",
            Kind::MssOnly => "mss_only",
            Kind::Grouping => "grouping",
        })
    }
}

type Endpoint = (IpAddr, u16);

fn show(e: &Endpoint) -> String {
    match e.0 {
        IpAddr::V4(a) => format!("{a}:{}", e.1),
        IpAddr::V6(a) => format!("[{a}]:{}", e.1),
    }
}

/// One frame with TCP as tshark dissects it: its innermost TCP header.
#[derive(Clone, Debug)]
struct TsharkFrame {
    number: u64,
    protocols: String,
    stream: u64,
    src: Endpoint,
    dst: Endpoint,
    /// `tcp.len`; tshark gives none for an IP fragment it could not reassemble.
    len: Option<u32>,
    syn: bool,
    /// The MSS option's value, on a SYN.
    mss: Option<u16>,
    /// The payload the IP length claims (IPv6: without extension headers only), to
    /// tell where it claims more than the frame holds.
    ip_claim: Option<u32>,
}

/// tshark's reading of one file.
#[derive(Debug, Default)]
struct Tshark {
    frames: Vec<TsharkFrame>,
    /// Frames with a TCP header too short for tshark to give it a stream.
    cut: usize,
}

/// The fields asked of tshark, in this order.
const TSHARK_FIELDS: [&str; 16] = [
    "frame.number",
    "frame.protocols",
    "tcp.stream",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.len",
    "tcp.flags.syn",
    "tcp.options.mss_val",
    "ip.len",
    "ip.hdr_len",
    "ipv6.plen",
    "tcp.hdr_len",
];

fn tshark(path: &Path) -> Tshark {
    let mut command = Command::new("tshark");
    command.arg("-n").arg("-r").arg(path).args([
        "-Y",
        "tcp && !icmp && !icmpv6 && !sflow",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
    ]);
    for field in TSHARK_FIELDS {
        command.args(["-e", field]);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    // tshark exits non-zero for files cut short or that it cannot read; what it
    // decoded before that is still on stdout.
    let mut result = Tshark::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            fields.len(),
            TSHARK_FIELDS.len(),
            "{}: tshark line {line:?}",
            path.display()
        );
        match tshark_frame(&fields) {
            Some(frame) => result.frames.push(frame),
            None => result.cut += 1,
        }
    }
    result
}

/// The values of a repeated field, outermost first.
fn values(field: &str) -> Vec<&str> {
    field.split(',').filter(|v| !v.is_empty()).collect()
}

fn last<T: std::str::FromStr>(field: &str) -> Option<T> {
    values(field).last().and_then(|v| v.parse().ok())
}

/// One line of tshark's fields; `None` for a TCP header without stream or ports.
fn tshark_frame(f: &[&str]) -> Option<TsharkFrame> {
    let number = f[0].parse().ok()?;
    let protocols = f[1].to_string();
    let stream = last(f[2])?;
    // The IP layer of the innermost TCP header: the last IPv4 or IPv6 layer before
    // the last `tcp`, and which occurrence of its fields that is.
    let layers: Vec<&str> = protocols.split(':').collect();
    let tcp = layers.iter().rposition(|&l| l == "tcp")?;
    let ip = layers[..tcp]
        .iter()
        .rposition(|&l| l == "ip" || l == "ipv6")?;
    let occurrence = layers[..ip].iter().filter(|&&l| l == layers[ip]).count();
    let (src, dst) = if layers[ip] == "ip" {
        (f[3], f[4])
    } else {
        (f[5], f[6])
    };
    let nth = |field: &str| -> Option<u32> { values(field).get(occurrence)?.parse().ok() };
    let address = |field: &str| -> Option<IpAddr> { values(field).get(occurrence)?.parse().ok() };
    let tcp_header: Option<u32> = last(f[15]);
    let ip_claim = if layers[ip] == "ip" {
        nth(f[12])
            .zip(nth(f[13]))
            .zip(tcp_header)
            .map(|((t, h), th)| t.saturating_sub(h + th))
    } else if ip + 1 == tcp {
        nth(f[14])
            .zip(tcp_header)
            .map(|(p, th)| p.saturating_sub(th))
    } else {
        None
    };
    Some(TsharkFrame {
        number,
        stream,
        src: (address(src)?, last(f[7])?),
        dst: (address(dst)?, last(f[8])?),
        len: last(f[9]),
        syn: last::<u8>(f[10]) == Some(1),
        mss: last(f[11]),
        ip_claim,
        protocols,
    })
}

/// One endpoint of an mss connection record.
#[derive(Clone, Debug)]
struct Side {
    endpoint: Endpoint,
    syn_mss: Option<u64>,
    syn_mss_state: String,
    max_segment: Option<u64>,
}

/// One mss connection record.
#[derive(Clone, Debug)]
struct Connection {
    id: u64,
    first_packet: u64,
    client: Side,
    server: Side,
}

/// mss's reading of one file.
#[derive(Debug, Default)]
struct Mss {
    connections: Vec<Connection>,
    /// Link types mss does not decode, by name, with their frame counts.
    unsupported: BTreeMap<String, u64>,
    /// The error that stopped reading, or mss's own failure.
    error: Option<String>,
    tcp_packets: u64,
}

fn mss(path: &Path) -> Mss {
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "--json", "--no-progress"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mss: {e}"));
    let mut result = Mss::default();
    if !out.status.success() {
        result.error = Some(format!(
            "mss analyze: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let record: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: mss line {line:?}: {e}", path.display()));
        match record["type"].as_str() {
            Some("connection") => result.connections.push(Connection {
                id: number(&record["id"], path),
                first_packet: number(&record["first_packet"], path),
                client: side(&record["client"], path),
                server: side(&record["server"], path),
            }),
            Some("summary") => {
                result.tcp_packets = number(&record["tcp_packets"], path);
                if let Some(types) = record["unsupported_link_types"].as_object() {
                    for (name, count) in types {
                        result
                            .unsupported
                            .insert(name.clone(), count.as_u64().unwrap_or(0));
                    }
                }
                if let Some(error) = record["inputs"][0]["error"].as_str() {
                    result.error.get_or_insert_with(|| error.to_string());
                }
            }
            other => panic!("{}: mss record type {other:?}", path.display()),
        }
    }
    result
}

fn number(value: &Value, path: &Path) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{}: mss: {value} is not a number", path.display()))
}

fn side(value: &Value, path: &Path) -> Side {
    let addr = value["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{}: mss: endpoint {value}", path.display()));
    let port = u16::try_from(number(&value["port"], path)).unwrap_or(0);
    Side {
        endpoint: (addr, port),
        syn_mss: value["syn_mss"].as_u64(),
        syn_mss_state: value["syn_mss_state"].as_str().unwrap_or("").to_string(),
        max_segment: value["max_segment"].as_u64(),
    }
}

/// One row of the table.
#[derive(Debug)]
struct Difference {
    file: String,
    kind: Kind,
    /// `#id` for an mss connection, `stream N` for a tshark one.
    connection: String,
    direction: String,
    /// The frame the row is about (an allow-list entry names it).
    frame: u64,
    mss: String,
    tshark: String,
    note: String,
}

#[derive(Default)]
struct Tally {
    files: usize,
    files_compared: usize,
    connections: usize,
    /// Endpoints whose largest segment agrees: with data, and without.
    max_segments: usize,
    no_data: usize,
    /// Endpoints whose SYN MSS agrees: with the option, and without (absent or
    /// cut).
    syns: usize,
    syns_without_mss: usize,
    tshark_frames: usize,
    tshark_cut: usize,
    /// tshark streams (or their parts) that no mss connection claims, and their
    /// SYNs (with an MSS option).
    tshark_only: usize,
    tshark_only_syns: usize,
    tshark_only_syns_mss: usize,
    /// mss connections in which tshark has no frame, and their endpoints' SYNs
    /// (with an MSS option).
    mss_only: usize,
    mss_only_syns: usize,
    mss_only_syns_mss: usize,
    mss_time: Duration,
    tshark_time: Duration,
    differences: Vec<Difference>,
}

fn opt<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// What mss's `syn_mss` says, as tshark would show it: `None` for no SYN captured,
/// `Some(None)` for a SYN without a readable MSS.
fn mss_syn(side: &Side) -> Option<Option<u64>> {
    match side.syn_mss_state.as_str() {
        "present" => Some(side.syn_mss),
        "absent" | "unknown" => Some(None),
        _ => None,
    }
}

fn show_syn(syn: Option<Option<u64>>) -> String {
    match syn {
        None => "no SYN".to_string(),
        Some(None) => "no MSS".to_string(),
        Some(Some(v)) => v.to_string(),
    }
}

fn compare(path: &Path, ours: &Mss, theirs: &Tshark, tally: &mut Tally) {
    let file = file_name(path);
    let mut differences = Vec::new();
    let mut row = |kind, connection: String, direction: String, frame, mss, tshark, note| {
        differences.push(Difference {
            file: file.clone(),
            kind,
            connection,
            direction,
            frame,
            mss,
            tshark,
            note,
        });
    };
    // The mss connections of each address pair, by first packet.
    let pair = |a: Endpoint, b: Endpoint| if a <= b { (a, b) } else { (b, a) };
    let mut by_pair: BTreeMap<(Endpoint, Endpoint), Vec<(u64, usize)>> = BTreeMap::new();
    for (i, c) in ours.connections.iter().enumerate() {
        by_pair
            .entry(pair(c.client.endpoint, c.server.endpoint))
            .or_default()
            .push((c.first_packet, i));
    }
    for list in by_pair.values_mut() {
        list.sort_unstable();
    }
    let mut mapped: Vec<Vec<&TsharkFrame>> = vec![Vec::new(); ours.connections.len()];
    let mut unmapped: BTreeMap<u64, Vec<&TsharkFrame>> = BTreeMap::new();
    for frame in &theirs.frames {
        let owner = by_pair
            .get(&pair(frame.src, frame.dst))
            .and_then(|list| list.iter().rev().find(|&&(first, _)| first <= frame.number));
        match owner {
            Some(&(_, i)) => mapped[i].push(frame),
            None => unmapped.entry(frame.stream).or_default().push(frame),
        }
    }

    let unsupported = if ours.unsupported.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = ours
            .unsupported
            .iter()
            .map(|(name, count)| format!("{name} ({count} frames)"))
            .collect();
        format!("; mss does not decode {}", names.join(", "))
    };
    let mss_error = ours
        .error
        .as_ref()
        .map(|e| format!("; mss stopped: {e}"))
        .unwrap_or_default();

    for (c, frames) in ours.connections.iter().zip(&mapped) {
        tally.connections += 1;
        let id = format!("#{}", c.id);
        if frames.is_empty() {
            tally.mss_only += 1;
            for side in [&c.client, &c.server] {
                match mss_syn(side) {
                    Some(Some(_)) => {
                        tally.mss_only_syns += 1;
                        tally.mss_only_syns_mss += 1;
                    }
                    Some(None) => tally.mss_only_syns += 1,
                    None => {}
                }
            }
            row(
                Kind::MssOnly,
                id,
                format!(
                    "{} - {}",
                    show(&c.client.endpoint),
                    show(&c.server.endpoint)
                ),
                c.first_packet,
                format!(
                    "max {}/{}",
                    opt(c.client.max_segment),
                    opt(c.server.max_segment)
                ),
                "no TCP frame".to_string(),
                String::new(),
            );
            continue;
        }
        let sides: Vec<(&str, &Side, &Side)> = if c.client.endpoint == c.server.endpoint {
            vec![("both", &c.client, &c.server)]
        } else {
            vec![
                ("client", &c.client, &c.server),
                ("server", &c.server, &c.client),
            ]
        };
        for (role, side, peer) in sides {
            let direction = if role == "both" {
                format!("both {}", show(&side.endpoint))
            } else {
                format!("{role} {} > {}", show(&side.endpoint), show(&peer.endpoint))
            };
            let sent: Vec<&TsharkFrame> = frames
                .iter()
                .copied()
                .filter(|f| f.src == side.endpoint)
                .collect();
            // The largest segment.
            let largest = sent
                .iter()
                .filter(|f| f.len.is_some_and(|l| l > 0))
                .max_by_key(|f| (f.len, std::cmp::Reverse(f.number)));
            let theirs_max = largest.and_then(|f| f.len).map(u64::from);
            let ours_max = if role == "both" {
                side.max_segment.max(peer.max_segment)
            } else {
                side.max_segment
            };
            if ours_max == theirs_max {
                if ours_max.is_some() {
                    tally.max_segments += 1;
                } else {
                    tally.no_data += 1;
                }
            } else {
                let no_len: Vec<String> = sent
                    .iter()
                    .filter(|f| f.len.is_none())
                    .map(|f| f.number.to_string())
                    .collect();
                // Frames whose IP length claims more than tshark's tcp.len.
                let claims: Vec<(u64, u32)> = sent
                    .iter()
                    .filter_map(|f| {
                        let claim = f.ip_claim?;
                        (claim > f.len.unwrap_or(0)).then_some((f.number, claim))
                    })
                    .collect();
                let mut note = match largest {
                    Some(f) => format!("tshark's largest in frame {} ({})", f.number, f.protocols),
                    None => "tshark: no segment with payload".to_string(),
                };
                if !no_len.is_empty() {
                    note.push_str(&format!(
                        "; tshark gives no tcp.len in frames {} (IP fragments it did not \
                         reassemble)",
                        no_len.join(",")
                    ));
                }
                if !claims.is_empty() {
                    let claims: Vec<String> =
                        claims.iter().map(|(n, c)| format!("{n} ({c})")).collect();
                    note.push_str(&format!(
                        "; the IP length claims more payload than tcp.len in frames {}",
                        claims.join(",")
                    ));
                }
                // The frame that explains mss's value where tshark's is smaller.
                let frame = sent
                    .iter()
                    .find(|f| ours_max.is_some_and(|m| f.ip_claim.map(u64::from) == Some(m)))
                    .filter(|_| ours_max > theirs_max)
                    .or(largest)
                    .map_or(c.first_packet, |f| f.number);
                row(
                    Kind::MaxSegment,
                    id.clone(),
                    direction.clone(),
                    frame,
                    opt(ours_max),
                    opt(theirs_max),
                    note,
                );
            }
            // The first SYN's MSS.
            let first_syn = sent.iter().find(|f| f.syn);
            let theirs_syn = first_syn.map(|f| f.mss.map(u64::from));
            let ours_syn = mss_syn(side);
            if ours_syn == theirs_syn {
                match ours_syn {
                    Some(Some(_)) => tally.syns += 1,
                    Some(None) => tally.syns_without_mss += 1,
                    None => {}
                }
            } else {
                row(
                    Kind::SynMss,
                    id.clone(),
                    direction,
                    first_syn.map_or(c.first_packet, |f| f.number),
                    format!("{} ({})", show_syn(ours_syn), side.syn_mss_state),
                    show_syn(theirs_syn),
                    first_syn.map_or_else(String::new, |f| f.protocols.clone()),
                );
            }
        }
        // One mss connection, several tshark streams: where each later one starts.
        let mut seen = BTreeSet::new();
        for f in frames {
            if seen.insert(f.stream) && seen.len() > 1 {
                row(
                    Kind::Grouping,
                    id.clone(),
                    format!("{} > {}", show(&f.src), show(&f.dst)),
                    f.number,
                    format!("in #{} since frame {}", c.id, c.first_packet),
                    format!("new stream {}", f.stream),
                    "tshark starts a new stream within one mss connection".to_string(),
                );
            }
        }
    }
    // One tshark stream, several mss connections: where each later one starts.
    let mut stream_of: BTreeMap<u64, Vec<(u64, usize)>> = BTreeMap::new();
    for (i, frames) in mapped.iter().enumerate() {
        for f in frames {
            let list = stream_of.entry(f.stream).or_default();
            if !list.iter().any(|&(_, j)| j == i) {
                list.push((f.number, i));
            }
        }
    }
    for (stream, list) in &stream_of {
        for &(number, i) in list.iter().skip(1) {
            let c = &ours.connections[i];
            row(
                Kind::Grouping,
                format!("stream {stream}"),
                format!(
                    "{} - {}",
                    show(&c.client.endpoint),
                    show(&c.server.endpoint)
                ),
                number,
                format!("new #{} from frame {}", c.id, c.first_packet),
                format!("stream {stream} goes on"),
                "mss starts a new connection within one tshark stream".to_string(),
            );
        }
    }
    for (stream, frames) in &unmapped {
        tally.tshark_only += 1;
        tally.tshark_only_syns += frames.iter().filter(|f| f.syn).count();
        tally.tshark_only_syns_mss += frames.iter().filter(|f| f.syn && f.mss.is_some()).count();
        let first = frames[0];
        let largest = frames.iter().filter_map(|f| f.len).max();
        let syns: Vec<String> = frames
            .iter()
            .filter(|f| f.syn)
            .map(|f| format!("{}:{}", f.number, opt(f.mss)))
            .collect();
        let ours_part = match stream_of.get(stream) {
            Some(list) => {
                let c = &ours.connections[list[0].1];
                format!("not in #{} (from frame {})", c.id, c.first_packet)
            }
            None => "no connection".to_string(),
        };
        row(
            Kind::TsharkOnly,
            format!("stream {stream}"),
            format!("{} > {}", show(&first.src), show(&first.dst)),
            first.number,
            ours_part,
            format!(
                "{} frames, max {}{}",
                frames.len(),
                opt(largest),
                if syns.is_empty() {
                    String::new()
                } else {
                    format!(", SYNs (frame:MSS) {}", syns.join(" "))
                }
            ),
            format!("{}{unsupported}{mss_error}", first.protocols),
        );
    }
    tally.differences.extend(differences);
}

#[test]
#[ignore = "needs the tcpdump corpus (../shared/corpus/tcpdump or MSS_CORPUS); scripts/test runs it when the corpus is there"]
fn segments_agree_with_tshark() {
    let start = Instant::now();
    let (dir, files) = support::corpus_files();
    let whole_corpus = !any_directory();
    if whole_corpus {
        assert!(
            files.len() > 800,
            "expected the whole tcpdump corpus in {} (MSS_CORPUS_ANY=1 takes any directory)",
            dir.display()
        );
    } else {
        assert!(!files.is_empty(), "no files in {}", dir.display());
    }

    // mss and tshark on every file, on 2 threads.
    let next = AtomicUsize::new(0);
    type Result = (Mss, Duration, Tshark, Duration);
    let results: Mutex<Vec<Option<Result>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(files.len()).collect());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let t = Instant::now();
                    let ours = mss(path);
                    let mss_time = t.elapsed();
                    let t = Instant::now();
                    let theirs = tshark(path);
                    let result = (ours, mss_time, theirs, t.elapsed());
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());

    let mut tally = Tally::default();
    for (path, result) in files.iter().zip(results) {
        let Some((ours, mss_time, theirs, tshark_time)) = result else {
            panic!("{}: no result", path.display())
        };
        tally.files += 1;
        tally.mss_time += mss_time;
        tally.tshark_time += tshark_time;
        tally.tshark_frames += theirs.frames.len();
        tally.tshark_cut += theirs.cut;
        if ours.connections.is_empty() && theirs.frames.is_empty() {
            continue;
        }
        tally.files_compared += 1;
        compare(path, &ours, &theirs, &mut tally);
    }

    // The table, allowed rows marked.
    let allowed = |d: &Difference| {
        ALLOWED
            .iter()
            .find(|&&(file, kind, frame, _)| file == d.file && kind == d.kind && frame == d.frame)
    };
    let headers = [
        "file",
        "kind",
        "conn",
        "direction",
        "frame",
        "mss",
        "tshark",
        "note",
    ];
    // Allowed rows say which reason, printed once below the table.
    let mut reasons: Vec<&str> = Vec::new();
    let rows: Vec<[String; 8]> = tally
        .differences
        .iter()
        .map(|d| {
            let note = match allowed(d) {
                Some(&(_, _, _, reason)) => {
                    let n = match reasons.iter().position(|&r| r == reason) {
                        Some(i) => i + 1,
                        None => {
                            reasons.push(reason);
                            reasons.len()
                        }
                    };
                    format!("allowed [{n}]")
                }
                None => format!("FAILS: {}", d.note),
            };
            [
                d.file.clone(),
                d.kind.to_string(),
                d.connection.clone(),
                d.direction.clone(),
                d.frame.to_string(),
                d.mss.clone(),
                d.tshark.clone(),
                note,
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row).take(7) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 7 {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.trim_end().to_string()
    };
    println!(
        "mss analyze --json and tshark on {} files in {}",
        tally.files,
        dir.display()
    );
    println!(
        "compared: {} files with TCP, {} mss connections; largest segment agrees for {} \
         endpoints (and {} without data on both sides); SYN MSS agrees for {} endpoints \
         (and {} SYNs without a readable MSS on both sides); tshark: {} TCP frames, {} more \
         with a TCP header too short for a stream",
        tally.files_compared,
        tally.connections,
        tally.max_segments,
        tally.no_data,
        tally.syns,
        tally.syns_without_mss,
        tally.tshark_frames,
        tally.tshark_cut
    );
    println!(
        "not reported by mss: {} tshark streams (or parts), with {} SYNs ({} with an MSS \
         option); not seen by tshark: {} mss connections, with {} SYNs ({} with an MSS option)",
        tally.tshark_only,
        tally.tshark_only_syns,
        tally.tshark_only_syns_mss,
        tally.mss_only,
        tally.mss_only_syns,
        tally.mss_only_syns_mss
    );
    if rows.is_empty() {
        println!("no differences");
    } else {
        println!("differences:");
        println!("{}", line(&headers));
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            println!("{}", line(&cells));
        }
    }
    let mut counts: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    for d in &tally.differences {
        let count = counts.entry(d.kind).or_default();
        if allowed(d).is_some() {
            count.1 += 1;
        } else {
            count.0 += 1;
        }
    }
    for (i, reason) in reasons.iter().enumerate() {
        println!("[{}] {reason}", i + 1);
    }
    for (kind, (failing, allowed)) in &counts {
        println!("  {kind}: {failing} failing, {allowed} allowed");
    }
    let stale: Vec<String> = ALLOWED
        .iter()
        .filter(|&&(file, kind, frame, _)| {
            !tally
                .differences
                .iter()
                .any(|d| d.file == file && d.kind == kind && d.frame == frame)
        })
        .map(|(file, kind, frame, _)| format!("{file} {kind} frame {frame}"))
        .collect();
    // On other captures most of the list cannot occur.
    if whole_corpus && !stale.is_empty() {
        println!(
            "allowed differences that did not occur: {}",
            stale.join("; ")
        );
    }
    println!(
        "time: {:.1?} (mss {:.1?}, tshark {:.1?}, summed over 2 threads)",
        start.elapsed(),
        tally.mss_time,
        tally.tshark_time
    );
    let failing: usize = counts.values().map(|c| c.0).sum();
    assert!(
        failing == 0,
        "{failing} differences between mss and tshark are not in ALLOWED (the table above)"
    );
    assert!(
        !whole_corpus || stale.is_empty(),
        "ALLOWED lists differences that no longer occur: {}",
        stale.join("; ")
    );
}
