//! `mss clamp --tc` on a router in network namespaces: the in-kernel clamp
//! against the offline one, byte for byte, and real kernel TCP through it.
//!
//! The differential test sends crafted frames from the client (AF_PACKET, so
//! the client's stack changes nothing) through the router, whose `vr1` carries
//! the tc clamp, and captures them at the server. Every frame is also written to
//! a capture that `mss clamp` clamps offline; what reached the server must equal
//! what the offline clamp made of it, byte for byte from the IP header on, but
//! for what forwarding changes (TTL and the IPv4 header checksum, the hop
//! limit). Checksums are checked explicitly: veth accepts wrong ones.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::{Capture, Netns, Routed, TempDir, netns_available};

const TARGET_V4: u16 = 1300;
const TARGET_V6: u16 = 1280;

/// The IPv6 half of a routed lab: fd17:N:1::/64 client side, fd17:N:2::/64
/// server side, the router forwarding.
fn add_ipv6(lab: &Routed, subnet: u8) {
    let net = |side: u8, host: u8| format!("fd17:{subnet}:{side}::{host}");
    for (ns, dev, side, host) in [
        (&lab.client, "vc", 1, 1),
        (&lab.router, "vr1", 1, 2),
        (&lab.router, "vr2", 2, 2),
        (&lab.server, "vs", 2, 1),
    ] {
        ns.ip(&[
            "addr",
            "add",
            &format!("{}/64", net(side, host)),
            "dev",
            dev,
            "nodad",
        ]);
    }
    lab.client
        .ip(&["-6", "route", "add", "default", "via", &net(1, 2)]);
    lab.server
        .ip(&["-6", "route", "add", "default", "via", &net(2, 2)]);
    lab.router.sysctl("net.ipv6.conf.all.forwarding=1");
}

/// `mss ARGS` run inside `ns` (the process inherits the thread's namespace; the
/// mount namespace stays the host's, so the pinned maps are where a later run
/// finds them).
fn mss_in(ns: &Netns, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    ns.enter(move || {
        Command::new(env!("CARGO_BIN_EXE_mss"))
            .args(&args)
            .output()
            .expect("run mss")
    })
    .join()
    .expect("mss thread")
}

/// Attaches the clamp; false (with the reason printed) when this build has no
/// tc program and MSS_REQUIRE_BPF=1 (as CI sets it) does not demand one.
fn attach(ns: &Netns, interface: &str, args: &[&str]) -> bool {
    let mut all = vec!["clamp", "--tc", interface];
    all.extend_from_slice(args);
    let out = mss_in(ns, &all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("built without the tc clamp") {
        assert!(
            std::env::var_os("MSS_REQUIRE_BPF").is_none(),
            "MSS_REQUIRE_BPF is set but mss has no tc clamp: {stderr}"
        );
        eprintln!("SKIPPED: {stderr}");
        return false;
    }
    assert!(out.status.success(), "mss {all:?}: {stderr}");
    true
}

/// Detaches the clamp from `interface` when dropped, also when a test fails:
/// its pins would outlive the namespace.
struct Detach<'a>(&'a Netns, &'static str);

impl Drop for Detach<'_> {
    fn drop(&mut self) {
        let _ = mss_in(self.0, &["clamp", "--tc", self.1, "--detach"]);
    }
}

fn status(ns: &Netns, interface: &str) -> serde_json::Value {
    let out = mss_in(ns, &["clamp", "--tc", interface, "--status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

fn mac(ns: &Netns, dev: &str) -> [u8; 6] {
    let out = ns.ip(&["-j", "link", "show", dev]);
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j");
    let text = links[0]["address"].as_str().expect("address");
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(text.split(':')) {
        *byte = u8::from_str_radix(part, 16).expect("hex");
    }
    mac
}

fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    u16::try_from(sum).expect("folded")
}

/// The TCP checksum of `segment` (its checksum field included) with the
/// pseudo-header: 0xffff when right.
fn tcp_sum(src: &[u8], dst: &[u8], segment: &[u8]) -> u16 {
    let len = u32::try_from(segment.len()).expect("length");
    fold(sum16(src) + sum16(dst) + 6 + (len >> 16) + (len & 0xffff) + sum16(segment))
}

/// A TCP header with `options` (padded with zeros to whole words).
fn tcp(sport: u16, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut opts = options.to_vec();
    while opts.len() % 4 != 0 {
        opts.push(0);
    }
    let words = u8::try_from((20 + opts.len()) / 4).expect("header length");
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&6000u16.to_be_bytes());
    h.extend_from_slice(&1u32.to_be_bytes());
    h.extend_from_slice(&u32::from(flags & 0x10 != 0).to_be_bytes());
    h.push(words << 4);
    h.push(flags);
    h.extend_from_slice(&64240u16.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h.extend_from_slice(&opts);
    h.extend_from_slice(payload);
    h
}

fn fill_checksum(src: &[u8], dst: &[u8], segment: &mut [u8]) {
    segment[16] = 0;
    segment[17] = 0;
    let sum = !tcp_sum(src, dst, segment);
    segment[16..18].copy_from_slice(&sum.to_be_bytes());
}

struct Lab {
    v4: ([u8; 4], [u8; 4]),
    v6: ([u8; 16], [u8; 16]),
    eth: [u8; 14],
}

impl Lab {
    /// An IPv4 frame: `id` names the case; `ip_options` after the fixed header;
    /// `fragment` = (more fragments, offset in 8-byte units, bytes of the
    /// segment this fragment carries from that offset).
    fn v4(
        &self,
        id: u16,
        ip_options: &[u8],
        mut segment: Vec<u8>,
        fragment: Option<(bool, u16, usize)>,
    ) -> Vec<u8> {
        let (src, dst) = self.v4;
        fill_checksum(&src, &dst, &mut segment);
        let (flags_offset, carried) = match fragment {
            Some((more, offset, len)) => {
                let at = usize::from(offset) * 8;
                (
                    (u16::from(more) << 13) | offset,
                    segment[at..at + len].to_vec(),
                )
            }
            None => (0x4000, segment),
        };
        let header_len = 20 + ip_options.len();
        let total = u16::try_from(header_len + carried.len()).expect("length");
        let mut ip = vec![0x40 | u8::try_from(header_len / 4).expect("ihl"), 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&id.to_be_bytes());
        ip.extend_from_slice(&flags_offset.to_be_bytes());
        ip.extend_from_slice(&[64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(ip_options);
        let sum = !fold(sum16(&ip));
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut frame = self.eth.to_vec();
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&carried);
        frame
    }

    /// An IPv6 frame: `id` names the case (the flow label); `extensions` are
    /// (protocol number, header bytes after its next-header byte), in order;
    /// `cut` keeps only that many bytes of the segment (a first fragment).
    fn v6(
        &self,
        id: u16,
        extensions: &[(u8, Vec<u8>)],
        mut segment: Vec<u8>,
        cut: Option<usize>,
    ) -> Vec<u8> {
        let (src, dst) = self.v6;
        fill_checksum(&src, &dst, &mut segment);
        if let Some(len) = cut {
            segment.truncate(len);
        }
        let mut chain = Vec::new();
        let first = extensions.first().map_or(6, |(kind, _)| *kind);
        for (i, (_, body)) in extensions.iter().enumerate() {
            chain.push(extensions.get(i + 1).map_or(6, |(kind, _)| *kind));
            chain.extend_from_slice(body);
        }
        let payload = u16::try_from(chain.len() + segment.len()).expect("length");
        let mut ip = vec![0x60, 0, id.to_be_bytes()[0], id.to_be_bytes()[1]];
        ip.extend_from_slice(&payload.to_be_bytes());
        ip.extend_from_slice(&[first, 64]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let mut frame = self.eth.to_vec();
        frame[12..14].copy_from_slice(&[0x86, 0xdd]);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&chain);
        frame.extend_from_slice(&segment);
        frame
    }
}

const SYN: u8 = 0x02;
const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];
const MSS_1440: [u8; 4] = [2, 4, 0x05, 0xa0];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// IPv6 extension headers: (protocol number, bytes after the next-header byte).
type Extensions = Vec<(u8, Vec<u8>)>;

/// The crafted set: (what it is, frame).
fn crafted(lab: &Lab) -> Vec<(String, Vec<u8>)> {
    let sack_ws: &[u8] = &[1, 1, 4, 2, 1, 3, 3, 7];
    let unknown: &[u8] = &[0xfd, 6, 1, 2, 3, 4, 30, 4, 0x10, 0];
    let mss_1200: &[u8] = &[2, 4, 0x04, 0xb0];
    let mut v4_options: Vec<(&str, Vec<u8>)> = vec![
        ("MSS first", cat(&[&MSS_1460, sack_ws])),
        ("MSS last", cat(&[sack_ws, &MSS_1460])),
        ("MSS after NOPs", cat(&[&[1, 1, 1, 1], &MSS_1460])),
        ("MSS after unknown kinds", cat(&[unknown, &MSS_1460])),
        ("MSS at an odd offset", cat(&[&[1, 1, 1], &MSS_1460])),
        ("two MSS options", cat(&[&MSS_1460, &MSS_1460])),
        (
            "three MSS options, one below",
            cat(&[&MSS_1460, mss_1200, &[1], &MSS_1460]),
        ),
        ("no MSS option", sack_ws.to_vec()),
        ("MSS already low", cat(&[mss_1200, sack_ws])),
        ("option length 0", cat(&[&MSS_1460, &[0xfe, 0]])),
        ("option past the header", cat(&[&MSS_1460, &[0xfe, 9]])),
        ("MSS length 3", vec![2, 3, 5, 1, 1, 1, 1, 1]),
        ("MSS length 5", vec![2, 5, 5, 0xb4, 0, 1, 1, 1]),
        ("five MSS options", MSS_1460.repeat(5)),
    ];
    v4_options.push(("END before MSS", cat(&[&[0, 1, 1, 1], &MSS_1460])));
    let mut frames = Vec::new();
    let mut id = 0x1700u16;
    let mut next_id = || {
        id += 1;
        id
    };
    for (name, options) in &v4_options {
        let n = next_id();
        let segment = tcp(n, SYN, options, &[]);
        frames.push((format!("IPv4 {name}"), lab.v4(n, &[], segment, None)));
    }
    let n = next_id();
    frames.push((
        "IPv4 SYN-ACK".into(),
        lab.v4(n, &[], tcp(n, 0x12, &MSS_1460, &[]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv4 SYN+RST".into(),
        lab.v4(n, &[], tcp(n, 0x06, &MSS_1460, &[]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv4 ACK with an MSS option".into(),
        lab.v4(n, &[], tcp(n, 0x10, &MSS_1460, &[]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv4 with IP options".into(),
        lab.v4(n, &[1, 1, 1, 0], tcp(n, SYN, &MSS_1460, &[]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv4 SYN with payload".into(),
        lab.v4(n, &[], tcp(n, SYN, &MSS_1460, &[0x42; 32]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv4 SYN with payload, no MSS option".into(),
        lab.v4(n, &[], tcp(n, SYN, sack_ws, &[0x42; 32]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv4 TCP data offset 4".into(),
        lab.v4(
            n,
            &[],
            {
                let mut s = tcp(n, SYN, &MSS_1460, &[]);
                s[12] = 4 << 4;
                s
            },
            None,
        ),
    ));
    // A first fragment that holds the whole header (and 16 bytes of data), and a
    // later fragment whose bytes look like a SYN.
    let n = next_id();
    frames.push((
        "IPv4 first fragment".into(),
        lab.v4(
            n,
            &[],
            tcp(n, SYN, &MSS_1460, &[0x42; 40]),
            Some((true, 0, 40)),
        ),
    ));
    let n = next_id();
    frames.push((
        "IPv4 first fragment cut inside the options".into(),
        lab.v4(
            n,
            &[],
            tcp(
                n,
                SYN,
                &cat(&[sack_ws, &[1, 1, 1, 1], &MSS_1460]),
                &[0x42; 40],
            ),
            Some((true, 0, 24)),
        ),
    ));
    let n = next_id();
    frames.push((
        "IPv4 later fragment".into(),
        lab.v4(
            n,
            &[],
            cat(&[&[0; 8], &tcp(n, SYN, &MSS_1460, &[])]),
            Some((false, 1, 24)),
        ),
    ));

    let pad_n = vec![0, 1, 4, 0, 0, 0, 0];
    let atomic = vec![0, 0, 0, 0, 0, 0, 0x17];
    let v6_cases: Vec<(&str, Extensions, Vec<u8>)> = vec![
        ("MSS first", vec![], cat(&[&MSS_1440, sack_ws])),
        (
            "MSS at an odd offset",
            vec![],
            cat(&[&[1, 1, 1], &MSS_1440]),
        ),
        ("two MSS options", vec![], cat(&[&MSS_1440, &MSS_1440])),
        (
            "MSS after unknown kinds",
            vec![],
            cat(&[unknown, &MSS_1440]),
        ),
        ("no MSS option", vec![], sack_ws.to_vec()),
        ("option length 1", vec![], cat(&[&MSS_1440, &[0xfe, 1]])),
        (
            "after a hop-by-hop header",
            vec![(0, pad_n.clone())],
            MSS_1440.to_vec(),
        ),
        (
            "after a destination options header",
            vec![(60, pad_n.clone())],
            MSS_1440.to_vec(),
        ),
        (
            "atomic fragment",
            vec![(44, atomic.clone())],
            MSS_1440.to_vec(),
        ),
        (
            "hop-by-hop, destination options, atomic fragment",
            vec![(0, pad_n.clone()), (60, pad_n.clone()), (44, atomic)],
            cat(&[&[1], &MSS_1440]),
        ),
    ];
    for (name, extensions, options) in &v6_cases {
        let n = next_id();
        let segment = tcp(n, SYN, options, &[]);
        frames.push((format!("IPv6 {name}"), lab.v6(n, extensions, segment, None)));
    }
    let n = next_id();
    frames.push((
        "IPv6 SYN-ACK".into(),
        lab.v6(n, &[], tcp(n, 0x12, &MSS_1440, &[]), None),
    ));
    let n = next_id();
    frames.push((
        "IPv6 first fragment".into(),
        lab.v6(
            n,
            &[(44, vec![0, 0, 1, 0, 0, 0, 0x18])],
            tcp(n, SYN, &MSS_1440, &[0x42; 40]),
            Some(40),
        ),
    ));
    let n = next_id();
    frames.push((
        "IPv6 later fragment".into(),
        lab.v6(
            n,
            &[(44, vec![0, 0, 0x18, 0, 0, 0, 0x19])],
            tcp(n, SYN, &MSS_1440, &[]),
            None,
        ),
    ));
    frames
}

/// A small deterministic generator (xorshift64*), so a failing frame can be
/// made again from its seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An option byte, mostly the ones that matter to the walk.
    fn option_byte(&mut self) -> u8 {
        const BYTES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 8, 10, 0x05, 0xb4, 0xfe];
        match self.below(4) {
            0 => u8::try_from(self.below(256)).expect("byte"),
            _ => BYTES[usize::try_from(self.below(12)).expect("index")],
        }
    }
}

/// Option lists built from pieces (MSS options of random values, NOPs, ENDs,
/// unknown kinds of random length, broken lengths) and raw random bytes, in
/// SYNs and SYN-ACKs of both families, some IPv6 ones after extension headers.
fn random_cases(lab: &Lab, seed: u64, count: u16) -> Vec<(String, Vec<u8>)> {
    let mut random = Random(seed);
    let mut cases = Vec::new();
    for i in 0..count {
        let id = 0x2000 + i;
        let mut options = Vec::new();
        let target_len = usize::try_from(random.below(11) * 4).expect("length");
        while options.len() < target_len {
            match random.below(6) {
                0 => {
                    let value = u16::try_from(random.below(65536)).expect("value");
                    options.extend_from_slice(&[2, 4]);
                    options.extend_from_slice(&value.to_be_bytes());
                }
                1 => options.push(1),
                2 => options.extend_from_slice(&[2, 4, 0x05, 0xb4]),
                3 => {
                    let len = random.below(8) + 2;
                    options.push(0xfd);
                    options.push(u8::try_from(len).expect("length"));
                    for _ in 2..len {
                        options.push(random.option_byte());
                    }
                }
                _ => options.push(random.option_byte()),
            }
        }
        options.truncate(40);
        let flags = if random.below(4) == 0 { 0x12 } else { SYN };
        let segment = tcp(id, flags, &options, &[]);
        let (name, frame) = if random.below(2) == 0 {
            ("IPv4", lab.v4(id, &[], segment, None))
        } else if random.below(3) == 0 {
            let pad_n = vec![0, 1, 4, 0, 0, 0, 0];
            (
                "IPv6 after hop-by-hop",
                lab.v6(id, &[(0, pad_n)], segment, None),
            )
        } else {
            ("IPv6", lab.v6(id, &[], segment, None))
        };
        cases.push((
            format!("random {i} (seed {seed:#x}) {name} options {options:02x?}"),
            frame,
        ));
    }
    cases
}

fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        let len = u32::try_from(frame.len()).expect("length");
        out.extend_from_slice(&u32::try_from(i).expect("index").to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(frame);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// The frames of a little-endian microsecond pcap (what tcpdump and mss write).
fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("read pcap");
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let len = u32::from_le_bytes(data[at + 8..at + 12].try_into().expect("4 bytes"));
        let len = usize::try_from(len).expect("length");
        at += 16;
        frames.push(data[at..at + len].to_vec());
        at += len;
    }
    frames
}

/// The case a frame belongs to: the IPv4 identification or the IPv6 flow label.
fn case_id(frame: &[u8]) -> Option<u16> {
    match frame.get(14)? >> 4 {
        4 => Some(u16::from_be_bytes([frame[18], frame[19]])),
        6 => Some(u16::from_be_bytes([frame[16], frame[17]])),
        _ => None,
    }
}

/// The IP packet of a frame with what forwarding changes zeroed.
fn forwarded_view(frame: &[u8]) -> Vec<u8> {
    let mut ip = frame[14..].to_vec();
    match ip[0] >> 4 {
        4 => {
            ip[8] = 0;
            ip[10] = 0;
            ip[11] = 0;
        }
        _ => ip[7] = 0,
    }
    ip
}

/// Whether a whole (unfragmented) TCP segment's checksum is right; `None` where
/// the frame is not one.
fn checksum_right(frame: &[u8]) -> Option<bool> {
    let ip = &frame[14..];
    let layout = mss_wire::strict::tcp_layout(ip).ok()?;
    if layout.first_fragment {
        return None;
    }
    let segment = &ip[layout.tcp_offset..layout.ip_len];
    let (src, dst) = match ip[0] >> 4 {
        4 => (&ip[12..16], &ip[16..20]),
        _ => (&ip[8..24], &ip[24..40]),
    };
    Some(tcp_sum(src, dst, segment) == 0xffff)
}

/// Sends frames out of `dev` in `ns` with AF_PACKET: the stack adds nothing.
fn send_frames(ns: &Netns, dev: &str, frames: &[Vec<u8>]) {
    let hex: Vec<String> = frames
        .iter()
        .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
         s.bind(({dev:?}, 0))\n\
         for f in {hex:?}:\n\
         \x20   s.send(bytes.fromhex(f))\n\
         \x20   time.sleep(0.002)\n"
    );
    let out = ns
        .command("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One pass: the crafted frames through the router, whose `interface` carries
/// the clamp, compared with `mss clamp OFFLINE_ARGS` on the same frames.
fn differential_pass(
    routed: &Routed,
    cases: &[(String, Vec<u8>)],
    dir: &Path,
    (tag, interface): (&str, &str),
    offline_args: &[&str],
) -> serde_json::Value {
    let frames: Vec<Vec<u8>> = cases.iter().map(|(_, f)| f.clone()).collect();
    let sent = dir.join(format!("{tag}-sent.pcap"));
    let offline = dir.join(format!("{tag}-offline.pcap"));
    write_pcap(&sent, &frames);
    let mut args = vec!["clamp"];
    args.extend_from_slice(offline_args);
    let sent_text = sent.to_string_lossy().into_owned();
    let offline_text = offline.to_string_lossy().into_owned();
    args.extend_from_slice(&[&sent_text, "-o", &offline_text, "--force"]);
    let out = support::mss(&args);
    assert!(
        out.status.success(),
        "offline clamp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = read_pcap(&offline);
    assert_eq!(expected.len(), frames.len());

    let file = dir.join(format!("{tag}-server.pcap"));
    let capture = Capture::start(
        &routed.server,
        "vs",
        100_000,
        "src host 10.91.1.1 or src host fd17:91:1::1",
        &file,
    );
    send_frames(&routed.client, "vc", &frames);
    // tcpdump hands packets over a block of its ring at a time (up to a second
    // late without --immediate-mode); a stop before then loses them.
    std::thread::sleep(Duration::from_millis(1500));
    let file = capture.stop();
    let received = read_pcap(&file);

    let mut failures = Vec::new();
    for ((name, _), want) in cases.iter().zip(&expected) {
        let id = case_id(want).expect("case id");
        let got: Vec<&Vec<u8>> = received.iter().filter(|f| case_id(f) == Some(id)).collect();
        let [got] = got.as_slice() else {
            failures.push(format!("{name}: {} copies at the server", got.len()));
            continue;
        };
        if forwarded_view(got) != forwarded_view(want) {
            failures.push(format!(
                "{name}: differs from the offline clamp\n  tc:      {:02x?}\n  offline: {:02x?}",
                &got[14..],
                &want[14..]
            ));
        }
        if checksum_right(got) == Some(false) {
            failures.push(format!("{name}: wrong TCP checksum at the server"));
        }
    }
    if !failures.is_empty() {
        let nstat = routed
            .router
            .command("nstat")
            .args(["-az"])
            .output()
            .expect("nstat");
        panic!(
            "{tag}: {} of {} crafted frames:\n{}\nrouter: {}\nclamp: {}",
            failures.len(),
            cases.len(),
            failures.join("\n"),
            String::from_utf8_lossy(&nstat.stdout)
                .lines()
                .filter(|l| !l.contains(" 0 "))
                .collect::<Vec<_>>()
                .join("; "),
            status(&routed.router, interface)
        );
    }
    eprintln!(
        "{tag}: {} crafted frames equal to the offline clamp's",
        cases.len()
    );
    status(&routed.router, interface)
}

fn mac_of(lab: &Routed) -> ([u8; 6], [u8; 6]) {
    (mac(&lab.router, "vr1"), mac(&lab.client, "vc"))
}

/// Static neighbour entries on the router for the server (no ping here), so no
/// crafted frame waits for, or is dropped by, address resolution.
fn warm_neighbours(routed: &Routed) {
    let server_mac: Vec<String> = mac(&routed.server, "vs")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let server_mac = server_mac.join(":");
    for target in ["10.91.2.1", "fd17:91:2::1"] {
        routed.router.ip(&[
            "neigh",
            "replace",
            target,
            "lladdr",
            &server_mac,
            "dev",
            "vr2",
            "nud",
            "permanent",
        ]);
    }
}

/// Every crafted SYN that reaches the server through `--tc` equals what
/// `mss clamp` offline makes of it, checksum right, first without and then with
/// --insert (the second attach replaces the first: one filter per hook).
#[test]
fn tc_clamp_equals_the_offline_clamp_byte_for_byte() {
    if !netns_available("tc_clamp_equals_the_offline_clamp_byte_for_byte") {
        return;
    }
    let routed = Routed::new("tcd", 91, 1500);
    let _detach = (Detach(&routed.router, "vr1"), Detach(&routed.router, "vr2"));
    add_ipv6(&routed, 91);
    warm_neighbours(&routed);
    let dir = TempDir::new("tc-diff");
    let (router_mac, client_mac) = mac_of(&routed);
    let mut eth = [0u8; 14];
    eth[..6].copy_from_slice(&router_mac);
    eth[6..12].copy_from_slice(&client_mac);
    let v6 = |s: &str| match s.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => a.octets(),
        _ => unreachable!(),
    };
    let lab = Lab {
        v4: ([10, 91, 1, 1], [10, 91, 2, 1]),
        v6: (v6("fd17:91:1::1"), v6("fd17:91:2::1")),
        eth,
    };
    let targets = ["--mss", "1300", "--mss6", "1280"];
    if !attach(
        &routed.router,
        "vr1",
        &[&targets[..], &["--direction", "in"]].concat(),
    ) {
        return;
    }
    let plain = differential_pass(&routed, &crafted(&lab), &dir.0, ("plain", "vr1"), &targets);
    let counters = &plain["counters"];
    eprintln!("counters: {counters}");
    assert!(counters["lowered_v4"].as_u64() >= Some(8), "{counters}");
    assert!(counters["lowered_v6"].as_u64() >= Some(6), "{counters}");
    assert!(counters["bad_options"].as_u64() >= Some(5), "{counters}");
    // What the hosts announced, before the clamp: the kernel's histogram.
    let seen = |version: u64, direction: &str, le: serde_json::Value| {
        plain["syn_mss"]
            .as_array()
            .expect("syn_mss")
            .iter()
            .find(|row| {
                row["ip_version"] == version && row["direction"] == direction && row["le"] == le
            })
            .and_then(|row| row["count"].as_u64())
            .unwrap_or(0)
    };
    assert!(seen(4, "syn", 1460.into()) >= 8, "{}", plain["syn_mss"]);
    assert_eq!(seen(4, "syn_ack", 1460.into()), 1, "{}", plain["syn_mss"]);
    assert!(seen(6, "syn", 1440.into()) >= 8, "{}", plain["syn_mss"]);
    assert!(seen(4, "syn", "none".into()) >= 2, "{}", plain["syn_mss"]);

    let with_insert = [&targets[..], &["--insert"]].concat();
    assert!(attach(
        &routed.router,
        "vr1",
        &[&with_insert[..], &["--direction", "in"]].concat()
    ));
    let filters = routed
        .router
        .command("tc")
        .args(["filter", "show", "dev", "vr1", "ingress"])
        .output()
        .expect("tc");
    let text = String::from_utf8_lossy(&filters.stdout);
    assert_eq!(text.matches("mss_clamp").count(), 2, "{text}");
    let inserting = differential_pass(
        &routed,
        &crafted(&lab),
        &dir.0,
        ("insert", "vr1"),
        &with_insert,
    );
    let counters = &inserting["counters"];
    assert!(counters["inserted_v4"].as_u64() >= Some(1), "{counters}");
    assert!(counters["inserted_v6"].as_u64() >= Some(1), "{counters}");

    let out = mss_in(&routed.router, &["clamp", "--tc", "vr1", "--detach"]);
    assert!(out.status.success());
    let filters = routed
        .router
        .command("tc")
        .args(["filter", "show", "dev", "vr1", "ingress"])
        .output()
        .expect("tc");
    assert!(
        !String::from_utf8_lossy(&filters.stdout).contains("mss_clamp"),
        "detached"
    );

    // Generated option lists, through the same router.
    assert!(attach(
        &routed.router,
        "vr1",
        &[&targets[..], &["--direction", "in"]].concat()
    ));
    // MSS_TC_SEED=N tries other frames.
    let seed = std::env::var("MSS_TC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x17_4d53_c1a9);
    let random = differential_pass(
        &routed,
        &random_cases(&lab, seed, 400),
        &dir.0,
        ("random", "vr1"),
        &targets,
    );
    eprintln!("random frames: {}", random["counters"]);
    let out = mss_in(&routed.router, &["clamp", "--tc", "vr1", "--detach"]);
    assert!(out.status.success());

    // The same on the way out: the clamp on the server side's egress.
    assert!(attach(
        &routed.router,
        "vr2",
        &[&targets[..], &["--direction", "out"]].concat()
    ));
    let egress = differential_pass(&routed, &crafted(&lab), &dir.0, ("egress", "vr2"), &targets);
    assert_eq!(egress["direction"], "out");
    assert!(
        egress["counters"]["lowered_v4"].as_u64() >= Some(8),
        "{egress}"
    );
    let out = mss_in(&routed.router, &["clamp", "--tc", "vr2", "--detach"]);
    assert!(out.status.success());
}

/// Real kernel TCP through the clamp (both directions on the client's side of
/// the router: the client's SYN on ingress, the server's SYN-ACK on egress):
/// both ends send at the clamped MSS less the 12 bytes of timestamps.
#[test]
fn kernel_tcp_through_the_tc_clamp_ends_at_the_clamped_mss() {
    if !netns_available("kernel_tcp_through_the_tc_clamp_ends_at_the_clamped_mss") {
        return;
    }
    let routed = Routed::new("tck", 92, 1500);
    let _detach = Detach(&routed.router, "vr1");
    add_ipv6(&routed, 92);
    let v4 = TARGET_V4.to_string();
    let v6 = TARGET_V6.to_string();
    if !attach(&routed.router, "vr1", &["--mss", &v4, "--mss6", &v6]) {
        return;
    }
    let at_v4: IpAddr = "10.92.2.1".parse().expect("address");
    let at_v6: IpAddr = "fd17:92:2::1".parse().expect("address");
    let (client, server) = routed.transfer(at_v4, 200_000, || {});
    assert_eq!(
        (client, server),
        (u32::from(TARGET_V4) - 12, u32::from(TARGET_V4) - 12),
        "IPv4 TCP_MAXSEG (client, server)"
    );
    let (client, server) = routed.transfer(at_v6, 200_000, || {});
    assert_eq!(
        (client, server),
        (u32::from(TARGET_V6) - 12, u32::from(TARGET_V6) - 12),
        "IPv6 TCP_MAXSEG (client, server)"
    );
    let counters = &status(&routed.router, "vr1")["counters"];
    // A SYN and a SYN-ACK each (more where one was sent again).
    assert!(counters["lowered_v4"].as_u64() >= Some(2), "{counters}");
    assert!(counters["lowered_v6"].as_u64() >= Some(2), "{counters}");

    // A new target reaches the next connection with no reload.
    let out = mss_in(
        &routed.router,
        &["clamp", "--tc", "vr1", "--mss", "1200", "--mss6", "1240"],
    );
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no reload"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (client, server) = routed.transfer(at_v4, 50_000, || {});
    assert_eq!((client, server), (1188, 1188), "after the change");
    let _ = mss_in(&routed.router, &["clamp", "--tc", "vr1", "--detach"]);
}

/// Refusals name what to do: an interface that is not there, a status where
/// nothing is attached.
#[test]
fn tc_refusals_say_what_to_do() {
    if !netns_available("tc_refusals_say_what_to_do") {
        return;
    }
    let ns = Netns::new("tcr");
    let out = mss_in(&ns, &["clamp", "--tc", "nosuch0", "--mss", "1300"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("built without the tc clamp") {
        assert!(std::env::var_os("MSS_REQUIRE_BPF").is_none(), "{stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("no interface \"nosuch0\""), "{stderr}");
    let out = mss_in(&ns, &["clamp", "--tc", "lo", "--status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("attach one with"), "{stderr}");
    // Without privileges (as nobody): what it needs, not an errno.
    let out = ns
        .command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_mss"))
        .args(["clamp", "--tc", "lo", "--mss", "1300"])
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs CAP_BPF and CAP_NET_ADMIN"),
        "{stderr}"
    );
}

/// Under an `hping3 -S --flood` through the router, every SYN that reaches the
/// server is clamped: the server's kernel counts (`iptables -m tcpmss`) those
/// above the target, and there are none. (Counts, not rates: the benchmark,
/// scripts/bench-clamp, measures those.)
#[test]
fn a_syn_flood_through_the_tc_clamp_leaves_no_syn_unclamped() {
    if !netns_available("a_syn_flood_through_the_tc_clamp_leaves_no_syn_unclamped") {
        return;
    }
    assert!(
        support::which("hping3").is_some(),
        "needs hping3 (apt-get install hping3, or run scripts/test, which installs it)"
    );
    let routed = Routed::new("tcf", 93, 1500);
    let _detach = Detach(&routed.router, "vr1");
    if !attach(
        &routed.router,
        "vr1",
        &["--mss", "1300", "--direction", "in"],
    ) {
        return;
    }
    for rule in [
        &[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--syn",
            "-m",
            "tcpmss",
            "--mss",
            "1301:65535",
            "-j",
            "DROP",
        ][..],
        &["-A", "INPUT", "-p", "tcp", "--syn", "-j", "DROP"][..],
    ] {
        let out = routed
            .server
            .command("iptables")
            .args(rule)
            .output()
            .expect("iptables");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = routed
        .client
        .command("timeout")
        .args([
            "2",
            "hping3",
            "-S",
            "--flood",
            "--tcp-mss",
            "1460",
            "-p",
            "5201",
            "10.93.2.1",
        ])
        .output()
        .expect("hping3");
    std::thread::sleep(Duration::from_millis(500));
    let out = routed
        .server
        .command("iptables")
        .args(["-L", "INPUT", "-v", "-x", "-n"])
        .output()
        .expect("iptables");
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("DROP"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{text}");
    let (above, clamped) = (counts[0], counts[1]);
    let lowered = status(&routed.router, "vr1")["counters"]["lowered_v4"]
        .as_u64()
        .unwrap_or(0);
    eprintln!(
        "flood: {clamped} SYNs at the server, {above} above 1300; the clamp lowered {lowered}"
    );
    assert_eq!(above, 0, "unclamped SYNs reached the server");
    assert!(clamped > 1000, "the flood reached the server: {clamped}");
    assert!(lowered >= clamped, "lowered {lowered}, arrived {clamped}");
    let _ = mss_in(&routed.router, &["clamp", "--tc", "vr1", "--detach"]);
}
