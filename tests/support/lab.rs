//! A three-node topology for end-to-end tests: client — router — server, each a
//! network namespace, joined by veth pairs. The router can clamp the MSS
//! (nftables), lower its transmit MTU toward the server (a locked route MTU, so it
//! answers with ICMP "fragmentation needed"), and drop those ICMP messages (a black
//! hole). Real kernel TCP runs across it; tcpdump captures at the client's and the
//! server's interface.
//!
//! This is the seed of `mss lab` (planned): its scenarios (scenario as data, runner,
//! cleanup on signals) should replace this module, and tests/netns_analyze.rs then
//! run through it. Lessons learnt here: nft chain names must avoid keywords (`fwd`,
//! `out`); an IPv6 route MTU must replace the connected route itself (`proto kernel
//! metric 256`), or the metric-1024 copy loses; tcpdump needs `-Z root` to write into
//! a root-owned directory; a black hole with `tcp_mtu_probing=1` needs several MB of
//! data for the search to settle before the end.
//!
//! Addresses (only inside these namespaces): client 10.81.1.2 / fd00:81:1::2,
//! router 10.81.1.1 + 10.81.2.1 / fd00:81:1::1 + fd00:81:2::1, server 10.81.2.2 /
//! fd00:81:2::2.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage, sockopt};

use super::{Capture, Netns, TempDir, run, veth};

/// What to build.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// MTU of the client-router link.
    pub(crate) client_mtu: u32,
    /// MTU of the router-server link.
    pub(crate) server_mtu: u32,
    /// A transmit-only MTU on the router toward the server (locked route MTU).
    pub(crate) router_mtu_to_server: Option<u32>,
    /// MSS clamp on the router: IPv4 and IPv6 targets.
    pub(crate) clamp: Option<(u16, u16)>,
    /// The router drops the ICMP too-big messages it would send.
    pub(crate) drop_icmp: bool,
    /// sysctls set in the client namespace (`net.ipv4.tcp_timestamps=0`, ...).
    pub(crate) client_sysctls: Vec<&'static str>,
    /// Segmentation offloads left on (off by default, so captures show wire sizes).
    pub(crate) offloads: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            client_mtu: 1500,
            server_mtu: 1500,
            router_mtu_to_server: None,
            clamp: None,
            drop_icmp: false,
            client_sysctls: Vec::new(),
            offloads: false,
        }
    }
}

/// The built topology; everything is removed on drop.
pub(crate) struct Lab {
    pub(crate) client: Netns,
    pub(crate) router: Netns,
    pub(crate) server: Netns,
    pub(crate) dir: TempDir,
}

/// Server address for a family.
pub(crate) fn server_addr(v6: bool) -> IpAddr {
    if v6 {
        "fd00:81:2::2".parse().expect("addr")
    } else {
        "10.81.2.2".parse().expect("addr")
    }
}

impl Lab {
    pub(crate) fn build(tag: &str, spec: &Spec) -> Lab {
        let client = Netns::new(&format!("{tag}-c"));
        let router = Netns::new(&format!("{tag}-r"));
        let server = Netns::new(&format!("{tag}-s"));
        veth(&client, "c0", &router, "rc", spec.client_mtu);
        veth(&router, "rs", &server, "s0", spec.server_mtu);
        for (ns, dev, v4, v6) in [
            (&client, "c0", "10.81.1.2/24", "fd00:81:1::2/64"),
            (&router, "rc", "10.81.1.1/24", "fd00:81:1::1/64"),
            (&router, "rs", "10.81.2.1/24", "fd00:81:2::1/64"),
            (&server, "s0", "10.81.2.2/24", "fd00:81:2::2/64"),
        ] {
            ns.ip(&["addr", "add", v4, "dev", dev]);
            ns.ip(&["addr", "add", v6, "dev", dev, "nodad"]);
            if !spec.offloads {
                run(
                    "ip",
                    &[
                        "netns", "exec", &ns.name, "ethtool", "-K", dev, "tso", "off", "gso",
                        "off", "gro", "off",
                    ],
                );
            }
        }
        client.ip(&["route", "add", "default", "via", "10.81.1.1"]);
        client.ip(&["-6", "route", "add", "default", "via", "fd00:81:1::1"]);
        server.ip(&["route", "add", "default", "via", "10.81.2.1"]);
        server.ip(&["-6", "route", "add", "default", "via", "fd00:81:2::1"]);
        router.sysctl("net.ipv4.ip_forward=1");
        router.sysctl("net.ipv6.conf.all.forwarding=1");
        if let Some(mtu) = spec.router_mtu_to_server {
            let mtu = mtu.to_string();
            router.ip(&[
                "route",
                "replace",
                "10.81.2.0/24",
                "dev",
                "rs",
                "mtu",
                "lock",
                &mtu,
            ]);
            // IPv6 routes added by hand get metric 1024: replace the connected route
            // (proto kernel, metric 256) itself, or it keeps winning.
            router.ip(&[
                "-6",
                "route",
                "replace",
                "fd00:81:2::/64",
                "dev",
                "rs",
                "proto",
                "kernel",
                "metric",
                "256",
                "mtu",
                "lock",
                &mtu,
            ]);
        }
        let mut rules = String::from("table inet mss_test {\n");
        if let Some((v4, v6)) = spec.clamp {
            rules.push_str(&format!(
                "chain clamp {{ type filter hook forward priority mangle;\n\
                 meta nfproto ipv4 tcp flags syn tcp option maxseg size > {v4} tcp option maxseg size set {v4}\n\
                 meta nfproto ipv6 tcp flags syn tcp option maxseg size > {v6} tcp option maxseg size set {v6}\n}}\n"
            ));
        }
        if spec.drop_icmp {
            rules.push_str(
                "chain noicmp { type filter hook output priority 0;\n\
                 icmp type destination-unreachable icmp code frag-needed drop\n\
                 icmpv6 type packet-too-big drop\n}\n",
            );
        }
        rules.push_str("}\n");
        if spec.clamp.is_some() || spec.drop_icmp {
            let mut nft = router
                .command("nft")
                .args(["-f", "-"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("nft");
            nft.stdin
                .take()
                .expect("stdin")
                .write_all(rules.as_bytes())
                .expect("write rules");
            assert!(
                nft.wait().expect("nft").success(),
                "nft rules failed:\n{rules}"
            );
        }
        for sysctl in &spec.client_sysctls {
            client.sysctl(sysctl);
        }
        // Let IPv6 routes settle (no DAD, but the neighbour entries come with traffic).
        std::thread::sleep(Duration::from_millis(200));
        Lab {
            client,
            router,
            server,
            dir: TempDir::new(tag),
        }
    }

    /// Starts tcpdump on the client's and the server's interface.
    pub(crate) fn capture(&self) -> (Capture, Capture) {
        let client = Capture::start(
            &self.client,
            "c0",
            1_000_000,
            "tcp or icmp or icmp6",
            &self.dir.0.join("client.pcap"),
        );
        let server = Capture::start(
            &self.server,
            "s0",
            1_000_000,
            "tcp or icmp or icmp6",
            &self.dir.0.join("server.pcap"),
        );
        (client, server)
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }
}

/// What the two sockets reported.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub(crate) client_port: u16,
    /// getsockopt(TCP_MAXSEG) right after connect / accept.
    pub(crate) client_mss_start: u32,
    pub(crate) server_mss_start: u32,
    /// getsockopt(TCP_MAXSEG) after the transfer.
    pub(crate) client_mss_end: u32,
    pub(crate) server_mss_end: u32,
    /// Whether the client's data all got through before the timeout.
    pub(crate) completed: bool,
}

/// A TCP socket with an optional TCP_MAXSEG, connected to `to` with a timeout.
fn connect(to: SocketAddr, maxseg: Option<u32>) -> TcpStream {
    let family = if to.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd: OwnedFd =
        socket::socket(family, SockType::Stream, SockFlag::empty(), None).expect("socket");
    if let Some(mss) = maxseg {
        socket::setsockopt(&fd, sockopt::TcpMaxSeg, &mss).expect("TCP_MAXSEG");
    }
    socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(to)).expect("connect");
    let stream = TcpStream::from(fd);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

fn maxseg(stream: &TcpStream) -> u32 {
    socket::getsockopt(&stream.as_fd(), sockopt::TcpMaxSeg).expect("TCP_MAXSEG")
}

/// The client sends `up` bytes, the server answers with `down` bytes; each side's
/// TCP_MAXSEG is read at the start and the end. The client gives up writing after
/// `write_timeout` (a black hole stalls it).
pub(crate) fn transfer(
    lab: &Lab,
    v6: bool,
    up: usize,
    down: usize,
    client_maxseg: Option<u32>,
    write_timeout: Duration,
) -> Transfer {
    let server = server_addr(v6);
    let (port_tx, port_rx) = mpsc::channel();
    let listener = lab.server.enter(move || {
        let listener = TcpListener::bind(SocketAddr::new(server, 0)).expect("bind");
        port_tx
            .send(listener.local_addr().expect("addr").port())
            .expect("port");
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(write_timeout + Duration::from_secs(2)))
            .expect("timeout");
        let start = maxseg(&stream);
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        while got < up {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        if got >= up {
            let _ = stream.write_all(&vec![0x62; down]);
        }
        let end = maxseg(&stream);
        (start, end)
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server port");
    let client = lab.client.enter(move || {
        let mut stream = connect(SocketAddr::new(server, port), client_maxseg);
        stream
            .set_write_timeout(Some(write_timeout))
            .expect("timeout");
        let client_port = stream.local_addr().expect("addr").port();
        let start = maxseg(&stream);
        let completed = stream.write_all(&vec![0x61; up]).is_ok();
        let mut got = 0;
        if completed {
            let mut buf = vec![0u8; 65536];
            while got < down {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
        }
        let end = maxseg(&stream);
        (client_port, start, end, completed && got >= down)
    });
    let (client_port, client_mss_start, client_mss_end, completed) = client.join().expect("client");
    let (server_mss_start, server_mss_end) = listener.join().expect("server");
    Transfer {
        client_port,
        client_mss_start,
        server_mss_start,
        client_mss_end,
        server_mss_end,
        completed,
    }
}

/// Runs `mss analyze --json` on captures and returns the connection record whose
/// client port is `port`, and the summary.
pub(crate) fn analyze(files: &[PathBuf], port: u16) -> (serde_json::Value, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .arg("analyze")
        .arg("--json")
        .args(files)
        .output()
        .expect("run mss analyze");
    assert!(
        out.status.success(),
        "mss analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let connection = lines
        .iter()
        .find(|l| l["type"] == "connection" && l["client"]["port"] == port)
        .cloned()
        .unwrap_or_else(|| panic!("no connection with client port {port} in {lines:#?}"));
    let summary = lines.last().cloned().expect("summary");
    (connection, summary)
}

/// The finding kinds of a connection record, with their endpoint: `kind:endpoint`.
pub(crate) fn finding_kinds(connection: &serde_json::Value) -> Vec<String> {
    connection["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| match f["endpoint"].as_str() {
                    Some(e) => format!("{}:{e}", f["kind"].as_str().unwrap_or("?")),
                    None => f["kind"].as_str().unwrap_or("?").to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}
