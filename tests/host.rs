//! `mss host` in network namespaces: each thing that decides the MSS is set up for
//! real (offloads on and off, a locked route MTU with advmss, a path MTU learned
//! from a real ICMP too-big, nftables and iptables clamps limited to one
//! direction, an NFQUEUE rule nobody reads, changed sysctls, a tunnel where the
//! kernel has one) and `mss host --netns` must name each with the right value.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::{Netns, Routed, netns_available};

/// `mss host --netns NS --json` as records.
fn host(ns: &Netns) -> Vec<serde_json::Value> {
    support::mss_json_lines(&["host", "--netns", &ns.name, "--json"])
}

/// The record of `area` whose subject starts with `subject`.
fn find<'a>(items: &'a [serde_json::Value], area: &str, subject: &str) -> &'a serde_json::Value {
    items
        .iter()
        .find(|i| {
            i["area"] == area
                && i["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(subject))
        })
        .unwrap_or_else(|| panic!("no {area} item for {subject:?} in {items:#?}"))
}

fn run_ok(ns: &Netns, program: &str, args: &[&str]) {
    let out = ns.command(program).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn host_names_everything_that_decides_the_mss() {
    if !netns_available("host_names_everything_that_decides_the_mss") {
        return;
    }
    let lab = Routed::new("host", 88, 1400);
    let (client, router, server) = (&lab.client, &lab.router, &lab.server);
    // The server's end at 1500: it announces 1460, and the client's full-size
    // segments meet the router's 1400-byte link.
    server.ip(&["link", "set", "vs", "mtu", "1500"]);

    // A real ICMP too-big: the client's full-size segments meet the router's
    // 1400-byte link.
    let listener = server.enter(|| {
        let listener = TcpListener::bind("10.88.2.1:5201").expect("bind");
        let (mut stream, _) = listener.accept().expect("accept");
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut sink);
    });
    std::thread::sleep(Duration::from_millis(200));
    client
        .enter(|| {
            let to: SocketAddr = "10.88.2.1:5201".parse().expect("address");
            let mut stream =
                TcpStream::connect_timeout(&to, Duration::from_secs(10)).expect("connect");
            stream.write_all(&[0x42; 200_000]).expect("write");
        })
        .join()
        .expect("client");
    listener.join().expect("server");

    // The client's own settings.
    client.ip(&[
        "route",
        "add",
        "10.88.9.0/24",
        "via",
        "10.88.1.2",
        "mtu",
        "lock",
        "1400",
        "advmss",
        "1300",
    ]);
    client.sysctl("net.ipv4.tcp_mtu_probing=1");
    client.sysctl("net.ipv4.tcp_timestamps=0");
    run_ok(
        client,
        "ethtool",
        &[
            "-K", "vc", "tso", "off", "gso", "off", "gro", "off", "tx", "off",
        ],
    );
    run_ok(client, "ethtool", &["-K", "lo", "tso", "on", "gso", "on"]);

    let items = host(client);
    let learned = find(&items, "learned_pmtu", "10.88.2.1");
    assert!(
        learned["value"]
            .as_str()
            .is_some_and(|v| v.starts_with("mtu 1400, expires in ")),
        "{learned}"
    );
    assert!(
        learned["meaning"]
            .as_str()
            .unwrap_or("")
            .contains("sends at most 1360"),
        "{learned}"
    );
    let route = find(&items, "route", "10.88.9.0/24 via 10.88.1.2 dev vc");
    assert_eq!(route["value"], "mtu lock 1400 advmss 1300", "{route}");
    let probing = find(&items, "sysctl", "net.ipv4.tcp_mtu_probing");
    assert_eq!(probing["value"], "1 (default 0)");
    assert_eq!(probing["level"], "note");
    assert_eq!(
        find(&items, "sysctl", "net.ipv4.tcp_timestamps")["value"],
        "0 (default 1)"
    );
    assert_eq!(
        find(&items, "sysctl", "net.ipv4.tcp_min_snd_mss")["value"],
        "48 (default)"
    );
    let lo = find(&items, "offloads", "lo");
    assert!(
        lo["value"].as_str().unwrap_or("").contains("tso, gso"),
        "{lo}"
    );
    assert!(
        lo["fix"]
            .as_str()
            .unwrap_or("")
            .starts_with("to see what the wire carries: ethtool -K lo tso off gso off")
    );
    assert!(
        !items
            .iter()
            .any(|i| i["area"] == "offloads" && i["subject"] == "vc"),
        "offloads off on vc: nothing to say"
    );
    let vc = find(&items, "interface", "vc");
    assert_eq!(vc["value"], "MTU 1500 (up, veth)", "{vc}");

    // The router: one-way clamps in nftables and iptables, and a queue nobody reads.
    lab.nft(
        "add table inet mss_host; add chain inet mss_host forward { type filter hook \
         forward priority mangle; }; add rule inet mss_host forward oifname \"vr2\" tcp \
         flags syn tcp option maxseg size set 1380",
    );
    run_ok(
        router,
        "iptables",
        &[
            "-t",
            "mangle",
            "-A",
            "FORWARD",
            "-o",
            "vr2",
            "-p",
            "tcp",
            "--tcp-flags",
            "SYN,RST",
            "SYN",
            "-j",
            "TCPMSS",
            "--set-mss",
            "1360",
        ],
    );
    run_ok(
        router,
        "iptables",
        &[
            "-t",
            "mangle",
            "-A",
            "PREROUTING",
            "-p",
            "tcp",
            "--dport",
            "9",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "9",
        ],
    );
    let items = host(router);
    let nft_clamp = find(&items, "clamp", "nft inet mss_host forward");
    assert_eq!(nft_clamp["value"], "1380");
    assert_eq!(nft_clamp["level"], "warning", "{nft_clamp}");
    let meaning = nft_clamp["meaning"].as_str().unwrap_or("");
    assert!(
        meaning.contains("only SYNs leaving through vr2"),
        "{meaning}"
    );
    // vr2 carries 1360 at most (MTU 1400): 1380 is too high for it.
    assert!(meaning.contains("vr2 (MTU 1400: 1360)"), "{meaning}");
    let ipt = find(&items, "clamp", "iptables -t mangle -A FORWARD");
    assert_eq!(ipt["value"], "1360", "{ipt}");
    assert_eq!(ipt["level"], "warning", "{ipt}");
    let queue = find(&items, "queue", "iptables -t mangle -A PREROUTING");
    assert_eq!(queue["level"], "warning");
    assert!(
        queue["meaning"]
            .as_str()
            .unwrap_or("")
            .contains("no process reads queue 9")
    );
    let vr2 = find(&items, "interface", "vr2");
    assert_eq!(vr2["value"], "MTU 1400 (up, veth)");

    // A tunnel, where the kernel has one.
    let made = ["wireguard", "ipip", "gre"].iter().find_map(|kind| {
        let args: Vec<&str> = match *kind {
            "wireguard" => vec!["link", "add", "tun0", "mtu", "1500", "type", "wireguard"],
            _ => vec![
                "link",
                "add",
                "tun0",
                "mtu",
                "1500",
                "type",
                kind,
                "remote",
                "10.88.2.1",
                "local",
                "10.88.1.2",
            ],
        };
        let mut full = vec!["-n", router.name.as_str()];
        full.extend_from_slice(&args);
        Command::new("ip")
            .args(&full)
            .output()
            .is_ok_and(|o| o.status.success())
            .then_some(*kind)
    });
    match made {
        Some(kind) => {
            router.ip(&["link", "set", "tun0", "up"]);
            let items = host(router);
            let tunnel = find(&items, "tunnel", "tun0");
            assert_eq!(tunnel["level"], "warning", "{kind}: {tunnel}");
            assert!(
                tunnel["fix"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("ip link set tun0 mtu ")
            );
        }
        None => eprintln!(
            "NOTE host_names_everything_that_decides_the_mss: this kernel has no \
             wireguard, ipip or gre links: the tunnel check ran on hand-made facts only \
             (crates/host unit tests)"
        ),
    }
}
