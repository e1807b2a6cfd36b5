//! `mss sockets` against `ss -ti` and the kernel, in network namespaces: a client
//! and a server through a router whose nftables rule clamps the client's SYNs to
//! port 5201 (so the two directions differ), a connection whose client set
//! TCP_MAXSEG, one without timestamps, and a path MTU that drops on a running
//! connection (`--watch`).

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::socket::{setsockopt, sockopt::TcpMaxSeg};
use support::{Netns, Routed, netns_available};

const MSS: &str = env!("CARGO_BIN_EXE_mss");

/// `mss sockets --netns NS --json`, as records keyed by (local, peer).
fn mss_sockets(ns: &Netns) -> HashMap<(String, String), serde_json::Value> {
    support::mss_json_lines(&["sockets", "--netns", &ns.name, "--json"])
        .into_iter()
        .map(|v| {
            (
                (
                    v["local"].as_str().unwrap_or("").to_string(),
                    v["peer"].as_str().unwrap_or("").to_string(),
                ),
                v,
            )
        })
        .collect()
}

/// `ss -tinH` in `ns`: per (local, peer), the fields mss, pmtu, rcvmss, advmss.
fn ss(ns: &Netns) -> HashMap<(String, String), HashMap<String, u64>> {
    let out = ns.command("ss").args(["-tinH"]).output().expect("run ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sockets = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            current = match fields.as_slice() {
                [_, _, _, local, peer, ..] => Some((local.to_string(), peer.to_string())),
                _ => None,
            };
            continue;
        }
        let Some(key) = current.take() else { continue };
        let values: HashMap<String, u64> = line
            .split_whitespace()
            .filter_map(|item| item.split_once(':'))
            .filter(|(k, _)| ["mss", "pmtu", "rcvmss", "advmss"].contains(k))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect();
        sockets.insert(key, values);
    }
    sockets
}

/// Every socket of `ns` that ss shows is in mss's list with the same numbers.
fn agree_with_ss(ns: &Netns) -> usize {
    let ours = mss_sockets(ns);
    let theirs = ss(ns);
    let mut compared = 0;
    for (key, fields) in &theirs {
        let Some(record) = ours.get(key) else {
            panic!("{key:?} is in ss but not in mss sockets: {ours:?}");
        };
        for (ss_name, ours_name) in [
            ("mss", "send_mss"),
            ("pmtu", "pmtu"),
            ("rcvmss", "recv_mss"),
            ("advmss", "advmss"),
        ] {
            if let Some(value) = fields.get(ss_name) {
                assert_eq!(
                    record[ours_name].as_u64(),
                    Some(*value),
                    "{key:?}: {ours_name} against ss's {ss_name}: {record}"
                );
            }
        }
        compared += 1;
    }
    compared
}

/// A connection from `client` to `at`, open until the returned sender is dropped;
/// each number sent on it is a write of that many bytes.
fn hold(
    client: &Netns,
    server: &Netns,
    at: SocketAddr,
    maxseg: Option<u32>,
    bytes: usize,
) -> (
    SocketAddr,
    mpsc::Sender<usize>,
    Vec<std::thread::JoinHandle<()>>,
) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let accept = server.enter(move || {
        let listener = TcpListener::bind(at).expect("bind");
        ready_tx.send(()).expect("ready");
        let (mut stream, _) = listener.accept().expect("accept");
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listening");
    let (local_tx, local_rx) = mpsc::channel();
    let (more_tx, more_rx) = mpsc::channel::<usize>();
    let connect = client.enter(move || {
        let family = if at.is_ipv4() {
            nix::sys::socket::AddressFamily::Inet
        } else {
            nix::sys::socket::AddressFamily::Inet6
        };
        let socket = nix::sys::socket::socket(
            family,
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::empty(),
            None,
        )
        .expect("socket");
        if let Some(mss) = maxseg {
            setsockopt(&socket.as_fd(), TcpMaxSeg, &mss).expect("TCP_MAXSEG");
        }
        let addr = nix::sys::socket::SockaddrStorage::from(at);
        nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&socket), &addr)
            .expect("connect");
        let mut stream = TcpStream::from(socket);
        stream.write_all(&vec![0x42; bytes]).expect("write");
        local_tx
            .send(stream.local_addr().expect("local"))
            .expect("local");
        while let Ok(more) = more_rx.recv_timeout(Duration::from_secs(120)) {
            stream.write_all(&vec![0x43; more]).expect("write more");
        }
    });
    let local = local_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("connected");
    (local, more_tx, vec![accept, connect])
}

#[test]
fn sockets_match_ss_and_explain_each_send_mss() {
    if !netns_available("sockets_match_ss_and_explain_each_send_mss") {
        return;
    }
    let lab = Routed::new("sock", 87, 1500);
    let (client, router, server) = (&lab.client, &lab.router, &lab.server);
    // Only the client's SYNs to 5201: the server's SYN-ACK passes unchanged.
    lab.nft(
        "add table inet mss_sock; add chain inet mss_sock forward { type filter hook \
         forward priority mangle; }; add rule inet mss_sock forward tcp dport 5201 tcp \
         flags syn tcp option maxseg size set 1300",
    );
    let server_ip: IpAddr = "10.87.2.1".parse().expect("address");

    let (clamped, stop_a, a) = hold(
        client,
        server,
        SocketAddr::new(server_ip, 5201),
        None,
        50_000,
    );
    let (maxseg, stop_b, b) = hold(
        client,
        server,
        SocketAddr::new(server_ip, 5202),
        Some(1000),
        50_000,
    );
    client.sysctl("net.ipv4.tcp_timestamps=0");
    let (plain, stop_c, c) = hold(
        client,
        server,
        SocketAddr::new(server_ip, 5203),
        None,
        50_000,
    );

    let on_client = mss_sockets(client);
    let on_server = mss_sockets(server);
    let get = |map: &HashMap<(String, String), serde_json::Value>, local: String, peer: String| {
        map.get(&(local.clone(), peer.clone()))
            .unwrap_or_else(|| panic!("{local} > {peer} not in {map:?}"))
            .clone()
    };
    let server_end = |port: u16| SocketAddr::new(server_ip, port).to_string();

    // The clamped connection: the client sends with the server's 1460 (1448 with
    // timestamps), the server with the clamped 1300 (1288).
    let c1 = get(&on_client, clamped.to_string(), server_end(5201));
    assert_eq!(c1["send_mss"], 1448, "{c1}");
    assert_eq!(c1["send_mss_bound"], "path_mtu", "{c1}");
    assert_eq!(c1["announced_mss"], 1460, "{c1}");
    let s1 = get(&on_server, server_end(5201), clamped.to_string());
    assert_eq!(s1["send_mss"], 1288, "{s1}");
    assert_eq!(s1["send_mss_bound"], "peer_mss", "{s1}");
    let why = s1["explanation"].as_str().unwrap_or("");
    assert!(
        why.contains("the peer announced 1300") && why.contains("clamps"),
        "{why}"
    );

    // TCP_MAXSEG 1000 at the client: it announced 1000, the server sends 988.
    let c2 = get(&on_client, maxseg.to_string(), server_end(5202));
    assert_eq!(c2["announced_mss"], 1000, "{c2}");
    assert!(
        c2["explanation"]
            .as_str()
            .unwrap_or("")
            .contains("TCP_MAXSEG"),
        "{c2}"
    );
    let s2 = get(&on_server, server_end(5202), maxseg.to_string());
    assert_eq!(s2["send_mss"], 988, "{s2}");
    assert_eq!(s2["send_mss_bound"], "peer_mss", "{s2}");

    // Without timestamps: the whole 1460.
    let c3 = get(&on_client, plain.to_string(), server_end(5203));
    assert_eq!(c3["timestamps"], false, "{c3}");
    assert_eq!(c3["send_mss"], 1460, "{c3}");
    assert_eq!(c3["send_mss_bound"], "path_mtu", "{c3}");

    // Field by field with ss, on both hosts.
    assert!(agree_with_ss(client) >= 3);
    assert!(agree_with_ss(server) >= 3);

    // --watch: the path's MTU drops under a running connection.
    let mut watching = Command::new(MSS)
        .args([
            "sockets",
            "--netns",
            &client.name,
            "--watch",
            "0.2",
            "--json",
            "--port",
            "5203",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mss sockets --watch");
    let lines = support::lines_of(watching.stdout.take().expect("stdout"));
    let first = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the first look");
    assert!(first.contains("\"change\":\"open\""), "{first}");
    router.ip(&["link", "set", "vr2", "mtu", "1400"]);
    // More data on the open connection: the router answers its full-size segments
    // with ICMP too-big, and the client's path MTU drops.
    stop_c.send(200_000).expect("write more");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    let changed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            panic!("no change to path MTU 1400 seen: {seen:?}");
        };
        if line.contains("\"pmtu\":1400") {
            break line;
        }
        seen.push(line);
    };
    let _ = watching.kill();
    let _ = watching.wait();
    drop(stop_c);
    for handle in c {
        let _ = handle.join();
    }
    let change: serde_json::Value = serde_json::from_str(&changed).expect("JSON");
    assert_eq!(change["type"], "change", "{change}");
    assert_eq!(change["send_mss"], 1360, "{change}");
    assert!(
        change["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("the path MTU 1400 was learned from an ICMP too-big")),
        "{change}"
    );

    drop(stop_a);
    drop(stop_b);
    for handle in a.into_iter().chain(b) {
        let _ = handle.join();
    }
}
