//! What `mss calc` says Linux advertises is what the kernel puts in its SYN and
//! SYN-ACK, and what it says Linux sends (with timestamps, the kernel default) is what
//! `getsockopt(TCP_MAXSEG)` returns, for real connections between network namespaces
//! at several MTUs, IPv4 and IPv6. The SYNs are decoded by tshark, independently of
//! mss's own parser.

mod support;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::TcpMaxSeg};
use support::{Capture, Netns, TempDir, mss_json, netns_available, tshark_syn_mss, veth};

/// Filter for SYNs of both families (IPv6 without extension headers).
const SYN_FILTER: &str =
    "(ip and tcp[tcpflags] & tcp-syn != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)";

/// The calc numbers for one family: (linux_advertised_mss, linux_effective_mss).
fn calc_linux(mtu: u32, version: u8) -> Option<(u64, u64)> {
    let json = mss_json(&[
        "calc",
        "--mtu",
        &mtu.to_string(),
        "--options",
        "ts",
        "--json",
    ]);
    let family = json["families"]
        .as_array()?
        .iter()
        .find(|f| f["ip_version"] == version)?;
    if family["possible"] != true {
        return None;
    }
    Some((
        family["linux_advertised_mss"].as_u64()?,
        family["linux_effective_mss"].as_u64()?,
    ))
}

/// Connects client (in `a`) to server (in `b`) at `server`, returns the TCP_MAXSEG
/// both sockets report once established.
fn connect(a: &Netns, b: &Netns, server: IpAddr) -> (u32, u32) {
    let (port_tx, port_rx) = mpsc::channel();
    let listener = b.enter(move || {
        let listener = TcpListener::bind(SocketAddr::new(server, 0)).expect("bind");
        port_tx
            .send(listener.local_addr().expect("local addr").port())
            .expect("send port");
        let (stream, _) = listener.accept().expect("accept");
        getsockopt(&stream.as_fd(), TcpMaxSeg).expect("TCP_MAXSEG")
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server port");
    let client = a.enter(move || {
        let stream =
            TcpStream::connect_timeout(&SocketAddr::new(server, port), Duration::from_secs(10))
                .expect("connect");
        getsockopt(&stream.as_fd(), TcpMaxSeg).expect("TCP_MAXSEG")
    });
    let client_mss = client.join().expect("client thread");
    let server_mss = listener.join().expect("server thread");
    (client_mss, server_mss)
}

/// Waits for the capture to end and compares the SYN and SYN-ACK MSS options tshark
/// decodes, as (IP version, is SYN-ACK, value), with `expected`.
fn check_syns(capture: Capture, expected: &[(u8, bool, u64)], what: &str) {
    let file = capture.file.clone();
    assert!(
        capture.finish(Duration::from_secs(10)),
        "{what}: tcpdump did not see every SYN"
    );
    let seen: Vec<(u8, bool, u64)> = tshark_syn_mss(&file)
        .into_iter()
        .map(|(v, ack, mss)| (v, ack, u64::from(mss)))
        .collect();
    assert_eq!(
        seen, expected,
        "{what}: SYN MSS (version, SYN-ACK, value) as tshark decodes them"
    );
}

#[test]
fn calc_matches_the_kernel_over_veth() {
    if !netns_available("calc_matches_the_kernel_over_veth") {
        return;
    }
    for mtu in [576u32, 1280, 1400, 1500, 9000] {
        let dir = TempDir::new("calc-veth");
        let a = Netns::new("calc-a");
        let b = Netns::new("calc-b");
        veth(&a, "va", &b, "vb", mtu);
        a.ip(&["addr", "add", "10.77.0.1/24", "dev", "va"]);
        b.ip(&["addr", "add", "10.77.0.2/24", "dev", "vb"]);
        let v6 = calc_linux(mtu, 6).is_some();
        if v6 {
            a.ip(&["addr", "add", "fd00:6d73::1/64", "dev", "va", "nodad"]);
            b.ip(&["addr", "add", "fd00:6d73::2/64", "dev", "vb", "nodad"]);
        } else {
            // calc says IPv6 is not possible below 1280; the kernel agrees by
            // refusing IPv6 addresses on such a link.
            let refused = a
                .command("ip")
                .args(["addr", "add", "fd00:6d73::1/64", "dev", "va", "nodad"])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(false);
            assert!(refused, "MTU {mtu}: the kernel accepted IPv6 below 1280");
        }
        let file = dir.0.join("syn.pcap");
        let capture = Capture::start(&a, "va", if v6 { 4 } else { 2 }, SYN_FILTER, &file);
        let mut expected = Vec::new();
        let mut servers: Vec<(u8, IpAddr)> = vec![(4, "10.77.0.2".parse().expect("addr"))];
        if v6 {
            servers.push((6, "fd00:6d73::2".parse().expect("addr")));
        }
        for (version, server) in servers {
            let (advertised, effective) = calc_linux(mtu, version).expect("calc numbers");
            let (client_mss, server_mss) = connect(&a, &b, server);
            assert_eq!(
                (u64::from(client_mss), u64::from(server_mss)),
                (effective, effective),
                "MTU {mtu} IPv{version}: TCP_MAXSEG (client, server) vs calc's linux_effective_mss"
            );
            expected.push((version, false, advertised));
            expected.push((version, true, advertised));
        }
        check_syns(capture, &expected, &format!("veth MTU {mtu}"));
    }
}

#[test]
fn calc_matches_the_kernel_on_loopback() {
    if !netns_available("calc_matches_the_kernel_on_loopback") {
        return;
    }
    // lo at 280 (IPv4 only: IPv6 leaves an interface below 1280): route.min_adv_mss
    // makes the SYN say 256. lo at 65536: 65495 / 65476. Above 65575, IPv6 says 65534.
    for (mtu, versions) in [
        (280u32, &[4u8][..]),
        (65_536, &[4, 6][..]),
        (70_000, &[6][..]),
    ] {
        let dir = TempDir::new("calc-lo");
        let ns = Netns::new("calc-lo");
        ns.ip(&["link", "set", "lo", "mtu", &mtu.to_string()]);
        let file = dir.0.join("syn.pcap");
        let capture = Capture::start(&ns, "lo", 2 * versions.len(), SYN_FILTER, &file);
        let mut expected = Vec::new();
        for &version in versions {
            let (advertised, _) = calc_linux(mtu, version).expect("calc numbers");
            let addr: IpAddr = if version == 4 { "127.0.0.1" } else { "::1" }
                .parse()
                .expect("addr");
            connect(&ns, &ns, addr);
            expected.push((version, false, advertised));
            expected.push((version, true, advertised));
        }
        check_syns(capture, &expected, &format!("lo MTU {mtu}"));
    }
}
