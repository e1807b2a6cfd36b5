//! `mss probe` in the lab: the path MTU of a 1400-byte router link found from ICMP
//! and, with ICMP dropped, by search; the reflector showing a clamp rewrite; and
//! `probe tcp` matching the kernel numbers the lab itself reports.

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::kept::KeptLab;
use support::{Netns, mss, netns_available, veth};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A path built for one test and never used before: client -- router -- server,
/// IPv4 10.99.1.0/24 and 10.99.2.0/24, IPv6 fd00:99:1::/64 and fd00:99:2::/64,
/// the router's link toward the server at `mtu`. No traffic has crossed it: the
/// first probes meet neighbour discovery and fresh ICMP rate limits, as on a path
/// nobody used lately. Namespaces go on drop.
struct FreshPath {
    client: Netns,
    router: Netns,
    server: Netns,
}

impl FreshPath {
    fn new(tag: &str, mtu: u32) -> FreshPath {
        let (client, router, server) = (Netns::new(tag), Netns::new(tag), Netns::new(tag));
        veth(&client, "c0", &router, "r0", 1500);
        veth(&router, "r1", &server, "s0", 1500);
        router.ip(&["link", "set", "r1", "mtu", &mtu.to_string()]);
        router.sysctl("net.ipv4.ip_forward=1");
        router.sysctl("net.ipv6.conf.all.forwarding=1");
        for (ns, dev, v4, v6) in [
            (&client, "c0", "10.99.1.1/24", "fd00:99:1::1/64"),
            (&router, "r0", "10.99.1.2/24", "fd00:99:1::2/64"),
            (&router, "r1", "10.99.2.1/24", "fd00:99:2::1/64"),
            (&server, "s0", "10.99.2.2/24", "fd00:99:2::2/64"),
        ] {
            ns.ip(&["addr", "add", v4, "dev", dev]);
            ns.ip(&["addr", "add", v6, "dev", dev, "nodad"]);
        }
        for (ns, v4, v6) in [
            (&client, "10.99.1.2", "fd00:99:1::2"),
            (&server, "10.99.2.1", "fd00:99:2::1"),
        ] {
            ns.ip(&["route", "add", "default", "via", v4]);
            ns.ip(&["-6", "route", "add", "default", "via", v6]);
        }
        FreshPath {
            client,
            router,
            server,
        }
    }

    /// The server drops what the rule matches (nft, inet family), silently.
    fn server_drops(&self, what: &str) {
        let nft = |rule: &str| {
            let out = self.server.command("nft").arg(rule).output().expect("nft");
            assert!(out.status.success(), "nft {rule}: {out:?}");
        };
        nft("add table inet silent");
        nft("add chain inet silent input { type filter hook input priority 0; policy accept; }");
        nft(&format!("add rule inet silent input {what} drop"));
    }

    /// `mss ARGS` in the client's namespace.
    fn mss(&self, args: &[&str]) -> std::process::Output {
        self.client
            .command(env!("CARGO_BIN_EXE_mss"))
            .args(args)
            .output()
            .expect("ip netns exec mss")
    }
}

/// Standard output then standard error, white space runs made one space (the
/// summaries wrap at 80 columns).
fn text(out: &std::process::Output) -> String {
    format!(
        "{} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ")
}

#[test]
fn path_mtu_from_icmp_at_the_right_hop() {
    if !netns_available("path_mtu_from_icmp_at_the_right_hop") {
        return;
    }
    let lab = KeptLab::start("pmtud");
    for (target, router) in [("10.81.2.2", "10.81.1.2"), ("fd00:81:2::2", "fd00:81:1::2")] {
        let result = json(&lab.mss("client", &["probe", "path", target, "--json"]));
        assert_eq!(result["path_mtu"], 1400, "{result:#}");
        assert_eq!(result["method"], "icmp", "{result:#}");
        assert_eq!(result["reached"], true);
        let hops = result["hops"].as_array().expect("hops");
        assert_eq!(hops[0]["addr"], router, "{result:#}");
        assert_eq!(hops[0]["reported_mtu"], 1400, "the router at hop 1 said so");
        assert_eq!(hops.last().expect("a hop")["addr"], target);
    }
}

#[test]
fn path_mtu_through_a_black_hole_by_search() {
    if !netns_available("path_mtu_through_a_black_hole_by_search") {
        return;
    }
    let lab = KeptLab::start("blackhole");
    for (target, router) in [("10.81.2.2", "10.81.1.2"), ("fd00:81:2::2", "fd00:81:1::2")] {
        let started = Instant::now();
        let result = json(&lab.mss("client", &["probe", "path", target, "--json"]));
        assert_eq!(result["path_mtu"], 1400, "{result:#}");
        assert_eq!(result["method"], "search", "{result:#}");
        assert_eq!(result["icmp_dropped_after_hop"], 1, "{result:#}");
        assert_eq!(result["icmp_dropped_after_addr"], router, "{result:#}");
        // Seconds, not minutes.
        assert!(started.elapsed() < Duration::from_secs(30), "{result:#}");
    }
}

#[test]
fn reflector_shows_the_clamp_and_probe_tcp_the_kernel_view() {
    if !netns_available("reflector_shows_the_clamp_and_probe_tcp_the_kernel_view") {
        return;
    }
    let lab = KeptLab::start("clamp");
    for (listen, target, sent, received, snd) in [
        ("10.81.2.2:7171", "10.81.2.2:7171", 1460, 1360, 1348),
        (
            "[fd00:81:2::2]:7171",
            "[fd00:81:2::2]:7171",
            1440,
            1340,
            1328,
        ),
    ] {
        let mut reflector = lab.spawn(
            "server",
            &["probe", "reflect", "--listen", listen, "--count", "1"],
        );
        // Wait for its "listening" line.
        let mut line = String::new();
        let stdout = reflector.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
        assert!(line.contains("listening"), "{line}");
        let result = json(&lab.mss("client", &["probe", "tcp", target, "--reflector", "--json"]));
        assert_eq!(result["syn_mss_sent"], sent, "{result:#}");
        assert_eq!(result["syn_mss_received"], received, "{result:#}");
        assert_eq!(result["snd_mss"], snd, "{result:#}");
        assert_eq!(result["maxseg"], snd, "{result:#}");
        assert_eq!(result["pmtu"], 1500, "{result:#}");
        let status = reflector.wait().expect("reflector ends after --count 1");
        assert!(status.success());
    }
    // The human report says it in words.
    let mut reflector = lab.spawn(
        "server",
        &[
            "probe",
            "reflect",
            "--listen",
            "10.81.2.2:7172",
            "--count",
            "1",
        ],
    );
    let mut line = String::new();
    let stdout = reflector.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let out = lab.mss("client", &["probe", "tcp", "10.81.2.2:7172", "--reflector"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("clamped on the path from 1460 to 1360"),
        "{text}"
    );
    let _ = reflector.wait();
    // Without root in the reflector's way: a plain port is refused cleanly.
    let refused = mss(&["probe", "tcp", "127.0.0.1:1", "--timeout", "1"]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn hops_names_where_the_mss_is_rewritten() {
    if !netns_available("hops_names_where_the_mss_is_rewritten") {
        return;
    }
    let lab = KeptLab::start("clamp-chain");
    for (target, r2, sent, clamped) in [
        ("10.81.3.2:5201", "10.81.2.2", 1460, 1360),
        ("[fd00:81:3::2]:5201", "fd00:81:2::2", 1440, 1340),
    ] {
        let result = json(&lab.mss("client", &["probe", "hops", target, "--json"]));
        assert_eq!(result["reached"], true, "{result:#}");
        let rewrites = result["rewrites"].as_array().expect("rewrites");
        assert_eq!(rewrites.len(), 1, "{result:#}");
        // r1 clamps; r2 (hop 2) is the first to quote the new value.
        assert_eq!(rewrites[0]["hop"], 2, "{result:#}");
        assert_eq!(rewrites[0]["after_hop"], 1, "{result:#}");
        assert_eq!(rewrites[0]["addr"], r2, "{result:#}");
        assert_eq!(rewrites[0]["from"], sent);
        assert_eq!(rewrites[0]["to"], clamped);
        assert_eq!(result["hops"][0]["mss"], sent, "hop 1 saw it unchanged");
    }
}

#[test]
fn hops_without_cap_net_raw_says_so() {
    if !nix::unistd::geteuid().is_root() {
        let out = mss(&["probe", "hops", "127.0.0.1:9"]);
        assert_eq!(out.status.code(), Some(2));
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_mss"))
        .args(["probe", "hops", "127.0.0.1:9"])
        .output()
        .expect("setpriv");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CAP_NET_RAW"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: `probe path` and `probe hops` printed nothing until the end (92 s
/// of silence for 30 silent hops). Each hop must show as soon as it is known.
#[test]
fn path_prints_each_hop_as_it_is_known() {
    if !netns_available("path_prints_each_hop_as_it_is_known") {
        return;
    }
    let path = FreshPath::new("stream", 1500);
    path.server_drops("meta l4proto != icmpv6");
    for args in [
        &["probe", "path", "10.99.2.2", "--max-hops", "3"][..],
        &["probe", "hops", "10.99.2.2:80", "--max-hops", "3"][..],
    ] {
        let started = Instant::now();
        let mut child = path
            .client
            .command(env!("CARGO_BIN_EXE_mss"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            lines.push((started.elapsed(), line.expect("line")));
        }
        let status = child.wait().expect("wait");
        let ended = started.elapsed();
        let hop1 = lines
            .iter()
            .find(|(_, l)| l.contains("10.99.1.2"))
            .unwrap_or_else(|| panic!("{args:?}: hop 1 shown: {lines:?}"));
        // Two silent hops follow, each retried for seconds: hop 1 must not wait
        // for them.
        assert!(
            ended.saturating_sub(hop1.0) > Duration::from_secs(3),
            "{args:?}: hop 1 at {:?}, end at {ended:?}: {lines:?}",
            hop1.0
        );
        assert_eq!(status.code(), Some(2), "{args:?}: {lines:?}");
    }
}

/// Regression: a target that answers nothing gave "path MTU 1500 ... TCP MSS 1460"
/// and exit 0; `probe hops` said no hop rewrote the MSS, exit 0.
#[test]
fn a_silent_target_is_not_reached_and_no_mtu_is_concluded() {
    if !netns_available("a_silent_target_is_not_reached_and_no_mtu_is_concluded") {
        return;
    }
    let path = FreshPath::new("silent", 1400);
    path.server_drops("meta l4proto != icmpv6");
    let out = path.mss(&["probe", "path", "10.99.2.2", "--max-hops", "3"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("target 10.99.2.2 not reached"), "{said}");
    assert!(
        !said.contains("path MTU 1"),
        "no path MTU from silence: {said}"
    );
    assert!(!said.contains("TCP MSS"), "{said}");
    assert!(said.contains("reach hop 1 (10.99.1.2)"), "{said}");
    assert!(said.contains("next link carries 1400"), "{said}");

    let out = path.mss(&["probe", "path", "fd00:99:2::2", "--max-hops", "3", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let result = json(&out);
    assert_eq!(result["reached"], false, "{result:#}");
    assert_eq!(result["path_mtu"], serde_json::Value::Null, "{result:#}");
    assert_eq!(result["last_answering_hop"], 1, "{result:#}");
    assert_eq!(result["last_answering_addr"], "fd00:99:1::2", "{result:#}");
    assert_eq!(result["mtu_to_last_answering_hop"], 1500, "{result:#}");

    let out = path.mss(&["probe", "hops", "10.99.2.2:80", "--max-hops", "3"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("not reached"), "{said}");
    assert!(!said.contains("saw the MSS changed"), "{said}");
    let out = path.mss(&["probe", "hops", "10.99.2.2:80", "--max-hops", "2", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(json(&out)["reached"], false);

    // probe tcp: a timeout in words, not errno's.
    let out = path.mss(&["probe", "tcp", "10.99.2.2:80", "--timeout", "1"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("no answer within 1 s"), "{said}");
    assert!(!said.contains("EINPROGRESS"), "{said}");
}

/// Regression: on a fresh IPv6 path the first `probe path` printed hops 2 and 3 as
/// `*` and reached the 2-hop destination at hop 4 (the first answers wait for
/// neighbour discovery on the way back). A slow hop is retried, not skipped.
#[test]
fn a_fresh_ipv6_path_has_the_right_hop_count() {
    if !netns_available("a_fresh_ipv6_path_has_the_right_hop_count") {
        return;
    }
    for round in 0..3 {
        let path = FreshPath::new("fresh6", 1500);
        let out = path.mss(&["probe", "path", "fd00:99:2::2", "--json"]);
        let result = json(&out);
        let hops = result["hops"].as_array().expect("hops");
        assert_eq!(hops.len(), 2, "round {round}: {result:#}");
        assert_eq!(hops[0]["addr"], "fd00:99:1::2", "round {round}: {result:#}");
        assert_eq!(hops[1]["addr"], "fd00:99:2::2", "round {round}: {result:#}");
        assert_eq!(result["reached"], true, "round {round}: {result:#}");
        assert_eq!(result["path_mtu"], 1500, "round {round}: {result:#}");
    }
}

/// A probe right after an IPv6 address was added (duplicate address detection
/// still running: the address is tentative) waits for it, says so, and measures
/// the path, instead of sending from ::1 into nowhere.
#[test]
fn a_tentative_ipv6_source_is_waited_for() {
    if !netns_available("a_tentative_ipv6_source_is_waited_for") {
        return;
    }
    let a = Netns::new("dad-a");
    let b = Netns::new("dad-b");
    veth(&a, "va", &b, "vb", 1500);
    b.ip(&["addr", "add", "fd00:98::2/64", "dev", "vb", "nodad"]);
    // With DAD: tentative for about a second.
    a.ip(&["addr", "add", "fd00:98::1/64", "dev", "va"]);
    let out = a
        .command(env!("CARGO_BIN_EXE_mss"))
        .args(["probe", "path", "fd00:98::2", "--json"])
        .output()
        .expect("run mss");
    let said = String::from_utf8_lossy(&out.stderr);
    let result = json(&out);
    assert_eq!(result["reached"], true, "{result:#}\n{said}");
    assert_eq!(result["path_mtu"], 1500, "{result:#}");
    assert!(said.contains("tentative"), "{said}");
}

/// Where UDP is filtered, TCP SYN and ICMP echo probes find the path MTU: from
/// ICMP too-big, and through a black hole by search (the SYN-ACK, reset or echo
/// reply acknowledging each size).
#[test]
fn path_mtu_with_tcp_and_icmp_probes() {
    if !netns_available("path_mtu_with_tcp_and_icmp_probes") {
        return;
    }
    let path = FreshPath::new("methods", 1400);
    path.server_drops("meta l4proto udp");
    // UDP gets nowhere: said so, with the way out.
    let out = path.mss(&["probe", "path", "10.99.2.2", "--max-hops", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--method tcp or icmp"),
        "{}",
        text(&out)
    );
    for (target, method) in [
        ("10.99.2.2", "tcp"),
        ("10.99.2.2:22", "tcp"),
        ("10.99.2.2", "icmp"),
        ("fd00:99:2::2", "tcp"),
        ("fd00:99:2::2", "icmp"),
    ] {
        let out = path.mss(&["probe", "path", target, "--method", method, "--json"]);
        let result = json(&out);
        assert_eq!(result["path_mtu"], 1400, "{method} {target}: {result:#}");
        assert_eq!(result["method"], "icmp", "{method} {target}: {result:#}");
        assert_eq!(result["reached"], true, "{method} {target}: {result:#}");
        assert_eq!(result["probe_method"], method, "{result:#}");
        assert_eq!(result["hops"][0]["reported_mtu"], 1400, "{result:#}");
        assert_eq!(out.status.code(), Some(0));
    }

    // The same path as a black hole: the router's too-big never leaves it.
    for table in [
        "add table inet blackhole",
        "add chain inet blackhole output { type filter hook output priority 0; policy accept; }",
        "add rule inet blackhole output icmp type destination-unreachable icmp code frag-needed drop",
        "add rule inet blackhole output icmpv6 type packet-too-big drop",
    ] {
        let out = path.router.command("nft").arg(table).output().expect("nft");
        assert!(out.status.success(), "nft {table}: {out:?}");
    }
    for (target, method) in [("10.99.2.2", "tcp"), ("fd00:99:2::2", "icmp")] {
        let result = json(&path.mss(&["probe", "path", target, "--method", method, "--json"]));
        assert_eq!(result["path_mtu"], 1400, "{method} {target}: {result:#}");
        assert_eq!(result["method"], "search", "{method} {target}: {result:#}");
        assert_eq!(result["icmp_dropped_after_hop"], 1, "{result:#}");
    }
}

#[test]
fn raw_probe_methods_without_cap_net_raw_say_so() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    for method in ["tcp", "icmp"] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_mss"))
            .args(["probe", "path", "127.0.0.1", "--method", method])
            .output()
            .expect("setpriv");
        assert_eq!(out.status.code(), Some(2));
        let said = text(&out);
        assert!(said.contains("CAP_NET_RAW"), "{said}");
        assert!(said.contains("--method udp"), "{said}");
    }
}

/// Regression: `probe path 127.0.0.1 -6` quietly used IPv4.
#[test]
fn family_flags_refuse_the_other_family() {
    for (args, expected) in [
        (
            &["probe", "path", "127.0.0.1", "-6"][..],
            "127.0.0.1 is an IPv4 address; -6 asks for IPv6",
        ),
        (
            &["probe", "path", "::1", "-4"][..],
            "::1 is an IPv6 address; -4 asks for IPv4",
        ),
        (
            &["probe", "tcp", "127.0.0.1:9", "-6"][..],
            "127.0.0.1 is an IPv4 address; -6 asks for IPv6",
        ),
        (
            &["probe", "hops", "[::1]:9", "-4"][..],
            "::1 is an IPv6 address; -4 asks for IPv4",
        ),
    ] {
        let out = mss(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
}

/// Regression: inputs that were accepted and then misbehaved, or were refused with
/// a message that did not fit.
#[test]
fn probe_inputs_are_checked_with_messages_that_fit() {
    let refused = |args: &[&str], expected: &str| {
        let started = Instant::now();
        let out = mss(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
        // Refused, not run: `reflect --count 0` used to serve forever.
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?}");
    };
    refused(
        &["probe", "path", "127.0.0.1", "--max-hops", "0"],
        "--max-hops",
    );
    refused(
        &["probe", "hops", "127.0.0.1:9", "--max-hops", "0"],
        "--max-hops",
    );
    refused(
        &[
            "probe",
            "reflect",
            "--listen",
            "127.0.0.1:0",
            "--count",
            "0",
        ],
        "1 or more",
    );
    refused(
        &["probe", "tcp", "127.0.0.1:0"],
        "\"127.0.0.1:0\": port \"0\"",
    );
    refused(
        &["probe", "tcp", "127.0.0.1"],
        "has no port; give HOST:PORT",
    );
    // `probe path` takes a host: its message must not ask for HOST:PORT first.
    let out = mss(&["probe", "path", "nosuch.invalid"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(said.contains("cannot resolve \"nosuch.invalid\""), "{said}");
    assert!(said.contains("give a host name or address"), "{said}");
    let out = mss(&["probe", "tcp", "nosuch.invalid:80"]);
    assert!(text(&out).contains("give HOST:PORT"), "{}", text(&out));
    refused(
        &[
            "probe",
            "path",
            "127.0.0.1",
            "--method",
            "icmp",
            "--port",
            "7",
        ],
        "ICMP echo probes have no port",
    );
}

/// "1 probes": a target one hop away takes one probe.
#[test]
fn one_probe_is_one_probe() {
    if !netns_available("one_probe_is_one_probe") {
        return;
    }
    let path = FreshPath::new("plural", 1500);
    let out = path.mss(&["probe", "path", "10.99.1.2"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains(" 1 probe, "), "{said}");
}

/// Regression: `probe tcp` on loopback explained a send MSS of 32741 with a
/// formula that gives 65483. Linux bounds it by half the peer's largest window.
#[test]
fn probe_tcp_explains_the_half_window_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = listener.local_addr().expect("addr").to_string();
    let result = support::mss_json(&["probe", "tcp", &target, "--json"]);
    let (snd_mss, snd_wnd) = (
        result["snd_mss"].as_u64().expect("snd_mss"),
        result["snd_wnd"].as_u64().expect("snd_wnd"),
    );
    assert!(snd_mss < 65_000, "loopback: {result:#}");
    assert_eq!(snd_wnd / 2, snd_mss, "{result:#}");
    assert_eq!(result["snd_mss_bound"], "half_window", "{result:#}");
    let out = mss(&["probe", "tcp", &target]);
    let said = text(&out);
    assert!(said.contains("tcp_bound_to_half_wnd()"), "{said}");
    assert!(
        said.contains(&format!("its window is {snd_wnd} bytes")),
        "{said}"
    );
}

/// `probe reflect --json` logs JSON Lines: where it listens, then each answer.
#[test]
fn reflect_logs_json_lines() {
    let mut reflector = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args([
            "probe",
            "reflect",
            "--listen",
            "127.0.0.1:0",
            "--count",
            "1",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("reflector");
    let mut lines = std::io::BufReader::new(reflector.stdout.take().expect("stdout")).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next().expect("a line").expect("read")).expect("JSON");
    assert_eq!(first["type"], "reflect_listening", "{first}");
    let listen = first["listen"].as_str().expect("listen").to_string();
    let result = support::mss_json(&["probe", "tcp", &listen, "--reflector", "--json"]);
    assert_eq!(result["syn_mss_received"], 65_495, "{result:#}");
    let answer: serde_json::Value =
        serde_json::from_str(&lines.next().expect("a line").expect("read")).expect("JSON");
    assert_eq!(answer["type"], "reflect", "{answer}");
    assert_eq!(answer["syn_mss"], 65_495, "{answer}");
    assert!(reflector.wait().expect("ends after --count 1").success());
}

/// Regression: `probe hops` cannot see a clamp on the last router before the
/// target (no router after it quotes the rewritten SYN) and said nothing about it.
#[test]
fn hops_says_what_it_cannot_see() {
    if !netns_available("hops_says_what_it_cannot_see") {
        return;
    }
    let lab = KeptLab::start("clamp");
    let out = lab.mss("client", &["probe", "hops", "10.81.2.2:5201"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("a rewrite after hop 1"), "{said}");
    assert!(
        said.contains("`mss probe tcp 10.81.2.2:5201 --reflector`"),
        "{said}"
    );
    let result = json(&lab.mss("client", &["probe", "hops", "10.81.2.2:5201", "--json"]));
    assert_eq!(result["last_hop_checked"], 1, "{result:#}");
}
