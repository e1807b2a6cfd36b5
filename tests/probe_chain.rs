//! `mss probe path` on a chain of four routers, against the truth of the topology:
//! client - r1 - r2 - r3 - r4 - target, the routers' next-hop links carrying
//! 1500, 1480, 1400 and 1280 bytes (or 1000 on the last link). Each case puts a
//! PMTUD black hole (a router that sends no ICMP too big) at one position, a silent
//! hop, or a firewall in front of the target that drops UDP or ICMP echo, on fresh
//! namespaces with the kernel's default ICMP rate limits, IPv4 and IPv6. Checked:
//! the path MTU (or that the target is reported as not reached, never with a floor
//! MTU), every hop's MTU and the hop that reported it in `--json`, the black-holed
//! link, the number of probes and the time.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Netns, netns_available, veth};

/// The next-hop MTUs of r1..r4.
const MTUS: [u32; 4] = [1500, 1480, 1400, 1280];

/// The chain, built fresh for one test (no traffic has crossed it: the first
/// probes meet neighbour discovery and full ICMP rate-limit buckets).
struct Chain {
    /// client, r1, r2, r3, r4, target.
    nodes: Vec<Netns>,
    /// The test's own subnet byte: 10.N.k.0/24 and fd00:N:k::/64 on link k.
    net: u8,
    /// Link k's MTU (link 0: client to r1; link k: r_k to the next node).
    links: [u32; 5],
}

impl Chain {
    fn new(tag: &str, net: u8, mtus: [u32; 4]) -> Chain {
        let names = ["c", "r1", "r2", "r3", "r4", "t"];
        let nodes: Vec<Netns> = names
            .iter()
            .map(|n| Netns::new(&format!("{tag}-{n}")))
            .collect();
        let links = [1500, mtus[0], mtus[1], mtus[2], mtus[3]];
        // IPv6 needs 1280 on every link (RFC 8200 section 5).
        let v6 = links.iter().all(|&mtu| mtu >= 1280);
        // `ip` in a node, for IPv4 and (where the chain has it) IPv6: `{}` in the
        // arguments is the address prefix of the family.
        let both = |node: &Netns, args: &[&str]| {
            let with = |prefix: &str| -> Vec<String> {
                args.iter().map(|a| a.replace("{}", prefix)).collect()
            };
            let v4: Vec<String> = with(&format!("10.{net}."));
            node.ip(&v4.iter().map(String::as_str).collect::<Vec<_>>());
            if v6 {
                let mut v6 = vec!["-6".to_string()];
                v6.extend(with(&format!("fd00:{net}:")));
                // 10.N.k.1/24 becomes fd00:N:k.1/24: make it fd00:N:k::1/64.
                let v6: Vec<String> = v6
                    .into_iter()
                    .map(|a| {
                        a.replace(".0/24", "::/64")
                            .replace("/24", "/64")
                            .replace('.', "::")
                    })
                    .collect();
                node.ip(&v6.iter().map(String::as_str).collect::<Vec<_>>());
            }
        };
        // IPv6 addresses without duplicate address detection (usable at once).
        let addr = |node: &Netns, a: String, dev: &str| {
            node.ip(&[
                "addr",
                "add",
                &a.replace("{}", &format!("10.{net}.")),
                "dev",
                dev,
            ]);
            if v6 {
                let a6 = a
                    .replace("{}", &format!("fd00:{net}:"))
                    .replace("/24", "/64")
                    .replace('.', "::");
                node.ip(&["-6", "addr", "add", &a6, "dev", dev, "nodad"]);
            }
        };
        for k in 0..5 {
            let (left, right) = (&nodes[k], &nodes[k + 1]);
            let (l, r) = (format!("l{k}a"), format!("l{k}b"));
            veth(left, &l, right, &r, links[k]);
            addr(left, format!("{{}}{k}.1/24"), &l);
            addr(right, format!("{{}}{k}.2/24"), &r);
        }
        // Toward the target: default routes down the chain; back: the client-side
        // networks through the previous node.
        for (i, node) in nodes.iter().enumerate() {
            if i < 5 {
                both(
                    node,
                    &["route", "add", "default", "via", &format!("{{}}{i}.2")],
                );
            } else {
                both(node, &["route", "add", "default", "via", "{}4.1"]);
            }
            if (1..5).contains(&i) {
                node.sysctl("net.ipv4.ip_forward=1");
                node.sysctl("net.ipv6.conf.all.forwarding=1");
                let back = format!("{{}}{}.1", i - 1);
                for k in 0..i - 1 {
                    both(
                        node,
                        &["route", "add", &format!("{{}}{k}.0/24"), "via", &back],
                    );
                }
            }
        }
        Chain { nodes, net, links }
    }

    /// The target's address.
    fn target(&self, v6: bool) -> String {
        if v6 {
            format!("fd00:{}:4::2", self.net)
        } else {
            format!("10.{}.4.2", self.net)
        }
    }

    /// The address hop `hop` answers from (router r_hop's client-side address).
    fn hop_addr(&self, hop: usize, v6: bool) -> String {
        let k = hop - 1;
        let addr = if v6 {
            format!("fd00:{}:{k}::2", self.net)
        } else {
            format!("10.{}.{k}.2", self.net)
        };
        // As mss prints it (fd00:N:0::2 is fd00:N::2).
        addr.parse::<std::net::IpAddr>()
            .expect("address")
            .to_string()
    }

    /// The MTU of the path up to hop `hop` (the smallest link before it).
    fn mtu_to(&self, hop: usize) -> u32 {
        self.links[..hop].iter().copied().min().unwrap_or(1500)
    }

    /// An nft ruleset in a node (inet family).
    fn nft(&self, node: usize, rules: &str) {
        use std::io::Write;
        let mut nft = self.nodes[node]
            .command("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nft");
        let mut stdin = nft.stdin.take().expect("stdin");
        stdin.write_all(rules.as_bytes()).expect("nft input");
        drop(stdin);
        let out = nft.wait_with_output().expect("nft");
        assert!(out.status.success(), "nft {rules}: {out:?}");
    }

    /// Router `r` sends no ICMP too big (a PMTUD black hole); it forwards those of
    /// others.
    fn black_hole(&self, r: usize) {
        self.nft(
            r,
            "add table inet bh\n\
             add chain inet bh out { type filter hook output priority 0; }\n\
             add rule inet bh out icmp type destination-unreachable icmp code frag-needed drop\n\
             add rule inet bh out icmpv6 type packet-too-big drop\n",
        );
    }

    /// Router `r` sends no ICMP time exceeded (a silent hop).
    fn silent(&self, r: usize) {
        self.nft(
            r,
            "add table inet quiet\n\
             add chain inet quiet out { type filter hook output priority 0; }\n\
             add rule inet quiet out icmp type time-exceeded drop\n\
             add rule inet quiet out icmpv6 type time-exceeded drop\n",
        );
    }

    /// r4 drops what `what` matches on its way to the target (a firewall in front
    /// of it).
    fn firewall(&self, what: &str) {
        self.nft(
            4,
            &format!(
                "add table inet fw\n\
                 add chain inet fw toward {{ type filter hook forward priority 0; }}\n\
                 add rule inet fw toward oifname \"l4a\" {what} drop\n"
            ),
        );
    }

    /// `mss probe path TARGET --json ARGS` from the client: the result, and how
    /// long it took.
    fn probe(&self, v6: bool, args: &[&str]) -> (Value, Duration) {
        let started = Instant::now();
        let target = self.target(v6);
        let out = self.nodes[0]
            .command(env!("CARGO_BIN_EXE_mss"))
            .args(["probe", "path", &target, "--json"])
            .args(args)
            .output()
            .expect("mss");
        let took = started.elapsed();
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let reached = value["reached"] == true;
        eprintln!(
            "{target} {args:?}: reached {reached}, path MTU {}, {} probes ({} searching), {took:.1?}",
            value["path_mtu"], value["probes"], value["search_probes"]
        );
        assert_eq!(
            out.status.code(),
            Some(if reached { 0 } else { 2 }),
            "{value:#}"
        );
        (value, took)
    }

    /// Checks a reached target: the path MTU, each hop's address and MTU, which hop
    /// reported which MTU, and the black holes named.
    fn check_reached(&self, v6: bool, result: &Value, took: Duration, black_hole: Option<usize>) {
        let truth = self.mtu_to(5);
        let hops = result["hops"].as_array().expect("hops");
        assert_eq!(result["reached"], true, "{result:#}");
        assert_eq!(result["path_mtu"], truth, "{result:#}");
        assert_eq!(hops.len(), 5, "{result:#}");
        for (i, hop) in hops.iter().enumerate() {
            let n = i + 1;
            let addr = if n == 5 {
                self.target(v6)
            } else {
                self.hop_addr(n, v6)
            };
            assert_eq!(hop["addr"], addr, "hop {n}: {result:#}");
            assert_eq!(hop["mtu"], self.mtu_to(n), "hop {n}'s MTU: {result:#}");
            if n < 5 {
                // Router r_n reports its next link when it is smaller than what
                // reaches it, unless it is the black hole.
                let reports = self.links[n] < self.mtu_to(n) && black_hole != Some(n);
                let expected = if reports {
                    Value::from(self.links[n])
                } else {
                    Value::Null
                };
                assert_eq!(
                    hop["reported_mtu"], expected,
                    "hop {n}'s report: {result:#}"
                );
            }
        }
        let holes = result["black_holes"].as_array().expect("black_holes");
        match black_hole {
            Some(r) if self.links[r] < self.mtu_to(r) => {
                assert_eq!(holes.len(), 1, "{result:#}");
                assert_eq!(holes[0]["after_hop"], r, "{result:#}");
                assert_eq!(holes[0]["after_addr"], self.hop_addr(r, v6), "{result:#}");
                assert_eq!(holes[0]["before_hop"], r + 1, "{result:#}");
                assert_eq!(holes[0]["mtu"], self.links[r], "{result:#}");
                assert_eq!(result["icmp_dropped_after_hop"], r, "{result:#}");
                let by = if r == 4 { "search" } else { "icmp" };
                assert_eq!(result["method"], by, "{result:#}");
                let probes = result["search_probes"].as_u64().expect("search_probes");
                if v6 {
                    assert!(probes <= 40, "{probes} search probes: {result:#}");
                }
            }
            _ => {
                assert_eq!(holes.len(), 0, "{result:#}");
                assert_eq!(result["method"], "icmp", "{result:#}");
            }
        }
        assert!(took < Duration::from_secs(30), "{took:?}: {result:#}");
    }

    /// Checks an unreached target: no path MTU, and what is known up to the last
    /// hop that answered.
    fn check_not_reached(&self, v6: bool, result: &Value, last_hop: usize) {
        assert_eq!(result["reached"], false, "{result:#}");
        assert_eq!(
            result["path_mtu"],
            Value::Null,
            "no MTU from silence: {result:#}"
        );
        assert_eq!(result["method"], Value::Null, "{result:#}");
        assert_eq!(result["last_answering_hop"], last_hop, "{result:#}");
        assert_eq!(
            result["last_answering_addr"],
            self.hop_addr(last_hop, v6),
            "{result:#}"
        );
        assert_eq!(
            result["mtu_to_last_answering_hop"],
            self.mtu_to(last_hop),
            "{result:#}"
        );
    }
}

/// Runs `case` for IPv4 and IPv6 at once (the kernel limits ICMP errors per
/// family, so the two do not slow each other down).
fn both_families(case: impl Fn(bool) + Sync) {
    std::thread::scope(|s| {
        for v6 in [false, true] {
            let case = &case;
            s.spawn(move || case(v6));
        }
    });
}

#[test]
fn chain_with_icmp_everywhere() {
    if !netns_available("chain_with_icmp_everywhere") {
        return;
    }
    let chain = Chain::new("ch-icmp", 161, MTUS);
    both_families(|v6| {
        let (result, took) = chain.probe(v6, &[]);
        chain.check_reached(v6, &result, took, None);
        assert_eq!(
            result["too_big"].as_array().map(Vec::len),
            Some(3),
            "{result:#}"
        );
    });
}

/// A black hole at r`r`, each family, with the given probe methods.
fn black_hole_at(r: usize, net: u8, methods: &[&str]) {
    let chain = Chain::new(&format!("ch-bh{r}"), net, MTUS);
    chain.black_hole(r);
    both_families(|v6| {
        for &method in methods {
            let (result, took) = chain.probe(v6, &["--method", method]);
            chain.check_reached(v6, &result, took, Some(r));
        }
    });
}

#[test]
fn chain_black_hole_at_r2() {
    if netns_available("chain_black_hole_at_r2") {
        black_hole_at(2, 162, &["udp", "icmp"]);
    }
}

/// The words: every hop with its size as it is found, the black hole between the
/// hops it lies between, and the too-bigs after it.
#[test]
fn chain_black_hole_in_words() {
    if !netns_available("chain_black_hole_in_words") {
        return;
    }
    let chain = Chain::new("ch-words", 170, MTUS);
    chain.black_hole(2);
    let out = chain.nodes[0]
        .command(env!("CARGO_BIN_EXE_mss"))
        .args(["probe", "path", &chain.target(false)])
        .output()
        .expect("mss");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    let said = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(out.status.success(), "{text}");
    let (r2, r3, r4) = (
        chain.hop_addr(2, false),
        chain.hop_addr(3, false),
        chain.hop_addr(4, false),
    );
    for expected in [
        format!("2 {r2} probes of 1500"),
        format!("probes above 1480 vanish after hop 2 ({r2}), and no ICMP too big comes back"),
        format!("3 {r3} probes of 1480"),
        format!("{r3} says too big for probes of 1480: its next hop carries 1400"),
        format!("{r4} says too big for probes of 1400: its next hop carries 1280"),
        format!("path MTU 1280: from ICMP too big, sent by hop 4 ({r4})"),
        format!("Probes above 1480 vanish between hop 2 ({r2}) and hop 3 ({r3})"),
        "hop 2 sends none (a PMTUD black hole)".to_string(),
    ] {
        assert!(said.contains(&expected), "{expected:?} in:\n{text}");
    }
}

#[test]
fn chain_black_hole_at_r3() {
    if netns_available("chain_black_hole_at_r3") {
        black_hole_at(3, 163, &["udp", "tcp"]);
    }
}

#[test]
fn chain_black_hole_at_r4() {
    if netns_available("chain_black_hole_at_r4") {
        black_hole_at(4, 164, &["icmp", "tcp"]);
    }
}

/// The black hole at r2 and UDP dropped in front of the target: no probe reaches
/// it, so no path MTU; what is known goes to hop 4, with every hop's MTU and r4's
/// too-big. ICMP echo gets through: 1280.
#[test]
fn chain_black_hole_at_r2_and_udp_dropped() {
    if !netns_available("chain_black_hole_at_r2_and_udp_dropped") {
        return;
    }
    let chain = Chain::new("ch-bh2u", 165, MTUS);
    chain.black_hole(2);
    chain.firewall("meta l4proto udp");
    both_families(|v6| {
        let (result, _) = chain.probe(v6, &[]);
        chain.check_not_reached(v6, &result, 4);
        let hops = result["hops"].as_array().expect("hops");
        assert_eq!(hops[2]["mtu"], 1480, "{result:#}");
        assert_eq!(hops[3]["mtu"], 1400, "{result:#}");
        assert_eq!(hops[3]["reported_mtu"], 1280, "{result:#}");
        let holes = result["black_holes"].as_array().expect("black_holes");
        assert_eq!(holes.len(), 1, "{result:#}");
        assert_eq!(
            (holes[0]["after_hop"].clone(), holes[0]["mtu"].clone()),
            (Value::from(2), Value::from(1480)),
            "{result:#}"
        );

        let (result, took) = chain.probe(v6, &["--method", "icmp"]);
        chain.check_reached(v6, &result, took, Some(2));
    });
}

/// The black hole at r4 and UDP dropped: the probes stop at r4 (1400 known to
/// there); ICMP echo finds 1280 by search.
#[test]
fn chain_black_hole_at_r4_and_udp_dropped() {
    if !netns_available("chain_black_hole_at_r4_and_udp_dropped") {
        return;
    }
    let chain = Chain::new("ch-bh4u", 166, MTUS);
    chain.black_hole(4);
    chain.firewall("meta l4proto udp");
    both_families(|v6| {
        let (result, _) = chain.probe(v6, &[]);
        chain.check_not_reached(v6, &result, 4);
        assert_eq!(result["hops"][3]["reported_mtu"], Value::Null, "{result:#}");
        let (result, took) = chain.probe(v6, &["--method", "icmp"]);
        chain.check_reached(v6, &result, took, Some(4));
    });
}

/// ICMP echo dropped in front of the target: the default UDP probes still find
/// it, and echo probes report it as not reached.
#[test]
fn chain_echo_dropped() {
    if !netns_available("chain_echo_dropped") {
        return;
    }
    let chain = Chain::new("ch-echo", 167, MTUS);
    chain.black_hole(3);
    chain.firewall("icmp type echo-request");
    chain.firewall("icmpv6 type echo-request");
    both_families(|v6| {
        let (result, took) = chain.probe(v6, &[]);
        chain.check_reached(v6, &result, took, Some(3));
        let (result, _) = chain.probe(v6, &["--method", "icmp"]);
        chain.check_not_reached(v6, &result, 4);
    });
}

/// r3 sends no time exceeded: hop 3 shows as silent, the walk goes on, and r3's
/// too-big still sets the path MTU.
#[test]
fn chain_with_a_silent_hop() {
    if !netns_available("chain_with_a_silent_hop") {
        return;
    }
    let chain = Chain::new("ch-quiet", 168, MTUS);
    chain.silent(3);
    both_families(|v6| {
        let (result, took) = chain.probe(v6, &[]);
        let hops = result["hops"].as_array().expect("hops");
        assert_eq!(result["path_mtu"], 1280, "{result:#}");
        assert_eq!(hops.len(), 5, "{result:#}");
        assert_eq!(hops[2]["addr"], Value::Null, "{result:#}");
        assert_eq!(hops[3]["addr"], chain.hop_addr(4, v6), "{result:#}");
        assert_eq!(hops[4]["mtu"], 1280, "{result:#}");
        assert!(took < Duration::from_secs(30), "{took:?}: {result:#}");
    });
}

/// A 1000-byte last link behind a black hole (IPv4: below the IPv6 minimum).
#[test]
fn chain_black_hole_before_a_1000_byte_link() {
    if !netns_available("chain_black_hole_before_a_1000_byte_link") {
        return;
    }
    let chain = Chain::new("ch-1000", 169, [1500, 1480, 1400, 1000]);
    chain.black_hole(4);
    let (result, took) = chain.probe(false, &[]);
    chain.check_reached(false, &result, took, Some(4));
}

/// A client whose IPv6 address was just added (duplicate address detection still
/// running): the probe waits for it and measures the path, every hop answering.
#[test]
fn chain_from_a_tentative_ipv6_address() {
    if !netns_available("chain_from_a_tentative_ipv6_address") {
        return;
    }
    let chain = Chain::new("ch-dad", 171, MTUS);
    let client = &chain.nodes[0];
    client.ip(&["-6", "addr", "del", "fd00:171::1/64", "dev", "l0a"]);
    client.ip(&["-6", "addr", "add", "fd00:171::1/64", "dev", "l0a"]);
    client.ip(&["-6", "route", "replace", "default", "via", "fd00:171::2"]);
    let (result, took) = chain.probe(true, &[]);
    chain.check_reached(true, &result, took, None);

    // probe hops picks its source the same way.
    client.ip(&["-6", "addr", "del", "fd00:171::1/64", "dev", "l0a"]);
    client.ip(&["-6", "addr", "add", "fd00:171::1/64", "dev", "l0a"]);
    client.ip(&["-6", "route", "replace", "default", "via", "fd00:171::2"]);
    let target = format!("[{}]:80", chain.target(true));
    let out = client
        .command(env!("CARGO_BIN_EXE_mss"))
        .args(["probe", "hops", &target, "--json"])
        .output()
        .expect("mss");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("tentative"), "{said}");
    let hops: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(hops["reached"], true, "{hops:#} {said}");
}
