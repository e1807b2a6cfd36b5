//! The commands a scenario becomes: pure data, printed by `--dry-run` and checked
//! by snapshot tests, executed by [`crate::run`].
//!
//! Everything happens inside namespaces named `PREFIX-NODE`: links are created with
//! `ip -n`, so no interface ever appears in the host's own namespace, and deleting
//! the namespaces removes every interface, address, route and rule with them.

use std::fmt;

use crate::scenario::{Load, Scenario};
use crate::spec::{Clamp, ClampMethod, Node};
use crate::topology::{self, Topology};

/// One command: an argument vector and, for `nft -f -`, its standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Fed to standard input.
    pub stdin: Option<String>,
}

impl Cmd {
    fn new<S: AsRef<str>>(argv: impl IntoIterator<Item = S>) -> Cmd {
        Cmd {
            argv: argv.into_iter().map(|s| s.as_ref().to_string()).collect(),
            stdin: None,
        }
    }

    /// The program name (`ip`, `nft`, ...) after any `ip netns exec NS`.
    pub fn program(&self) -> &str {
        match self.argv.as_slice() {
            [ip, netns, exec, _, program, ..]
                if ip == "ip" && netns == "netns" && exec == "exec" =>
            {
                program
            }
            [program, ..] => program,
            [] => "",
        }
    }
}

/// Shell quoting for display: plain words stay as they are.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.argv.iter().map(|w| quote(w)).collect();
        f.write_str(&words.join(" "))?;
        if let Some(stdin) = &self.stdin {
            write!(f, " <<'EOF'\n{}EOF", stdin)?;
        }
        Ok(())
    }
}

/// A tcpdump to start before the traffic and stop after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturePlan {
    /// `NODE-IFACE`.
    pub point: String,
    /// File name inside the output directory: `NODE-IFACE.pcap`.
    pub file: String,
    /// The tcpdump command, writing to `file` in the output directory.
    pub cmd: Cmd,
}

/// A process that runs on a node for the whole run (mss's own clamp), started
/// after the setup and before the captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    /// The node it runs on.
    pub node: String,
    /// The command; the program `mss` means the running mss itself.
    pub cmd: Cmd,
    /// A line it prints on standard output once it is ready.
    pub ready: String,
}

/// The NFQUEUE queue number the lab's `mss clamp` uses.
pub const CLAMP_QUEUE: u16 = 7;

/// What a run executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Namespace of each node, in scenario order.
    pub namespaces: Vec<String>,
    /// Builds the topology, in order.
    pub setup: Vec<Cmd>,
    /// Long-running processes on nodes.
    pub daemons: Vec<Daemon>,
    /// Capture processes.
    pub captures: Vec<CapturePlan>,
    /// Removes it all.
    pub teardown: Vec<Cmd>,
}

/// tcpdump's buffer (`-B`, KiB) at the capture points of a mix.
pub const MIX_CAPTURE_BUFFER_KIB: &str = "131072";

/// The capture filter: TCP and the ICMP errors that matter to it.
pub const CAPTURE_FILTER: &str = "tcp or icmp or icmp6";

/// The namespace prefix every lab namespace starts with (`mss lab clean` looks for
/// it).
pub const NAMESPACE_PREFIX: &str = "mss-lab-";

impl Plan {
    /// The plan for a checked scenario. `prefix` starts every namespace name
    /// (`mss-lab-PID`); capture files are written under `out_dir`.
    pub fn new(scenario: &Scenario, prefix: &str, out_dir: &str) -> Plan {
        let namespaces: Vec<String> = scenario
            .topology
            .nodes
            .iter()
            .map(|n| format!("{prefix}-{}", n.name))
            .collect();
        let steps = Steps {
            scenario,
            topology: &scenario.topology,
            namespaces: &namespaces,
        };
        let mut setup = steps.namespaces();
        setup.extend(steps.sysctls());
        setup.extend(steps.links());
        setup.extend(steps.interfaces());
        setup.extend(steps.transmit_limits());
        setup.extend(steps.routes());
        setup.extend(steps.filters());
        let daemons = steps.daemons();
        let captures = steps.captures(out_dir);
        let teardown = namespaces
            .iter()
            .rev()
            .map(|ns| Cmd::new(["ip", "netns", "del", ns]))
            .collect();
        Plan {
            namespaces,
            setup,
            daemons,
            captures,
            teardown,
        }
    }

    /// Every program the plan runs, each once, in first use order.
    pub fn programs(&self) -> Vec<&str> {
        let mut programs: Vec<&str> = Vec::new();
        for cmd in self
            .setup
            .iter()
            .chain(self.daemons.iter().map(|d| &d.cmd))
            .chain(self.captures.iter().map(|c| &c.cmd))
            .chain(&self.teardown)
        {
            let program = cmd.program();
            if !programs.contains(&program) {
                programs.push(program);
            }
        }
        if !self.daemons.is_empty() {
            // `mss clamp --install-rules` runs them.
            for tool in ["iptables", "ip6tables"] {
                if !programs.contains(&tool) {
                    programs.push(tool);
                }
            }
        }
        programs.retain(|p| *p != "mss");
        programs
    }
}

/// `ip netns exec NS ...`.
fn exec(ns: &str, rest: &[&str]) -> Cmd {
    let mut argv = vec!["ip", "netns", "exec", ns];
    argv.extend_from_slice(rest);
    Cmd::new(argv)
}

/// The parts of a plan, each from the scenario and the namespace of each node.
struct Steps<'a> {
    scenario: &'a Scenario,
    topology: &'a Topology,
    /// By node, in topology order.
    namespaces: &'a [String],
}

impl Steps<'_> {
    /// Each node of the topology with its namespace.
    fn nodes(&self) -> impl Iterator<Item = (&topology::Node, &str)> {
        self.topology
            .nodes
            .iter()
            .zip(self.namespaces.iter().map(String::as_str))
    }

    /// The namespaces, each with its loopback up.
    fn namespaces(&self) -> Vec<Cmd> {
        self.namespaces
            .iter()
            .flat_map(|ns| {
                [
                    Cmd::new(["ip", "netns", "add", ns]),
                    Cmd::new(["ip", "-n", ns, "link", "set", "lo", "up"]),
                ]
            })
            .collect()
    }

    /// sysctls: reverse-path filtering off (asymmetric routes are allowed),
    /// forwarding on routers, then the node's TCP settings.
    fn sysctls(&self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for (node, ns) in self.nodes() {
            let Some(spec) = self.scenario.node(&node.name) else {
                continue;
            };
            let mut sysctls: Vec<(String, String)> = vec![
                ("net.ipv4.conf.all.rp_filter".into(), "0".into()),
                ("net.ipv4.conf.default.rp_filter".into(), "0".into()),
            ];
            if node.router {
                sysctls.push(("net.ipv4.ip_forward".into(), "1".into()));
                sysctls.push(("net.ipv6.conf.all.forwarding".into(), "1".into()));
            }
            if let Some(on) = spec.tcp_timestamps {
                sysctls.push(("net.ipv4.tcp_timestamps".into(), u8::from(on).to_string()));
            }
            if let Some(mode) = spec.tcp_mtu_probing {
                sysctls.push(("net.ipv4.tcp_mtu_probing".into(), mode.to_string()));
            }
            sysctls.extend(spec.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())));
            for (key, value) in sysctls {
                cmds.push(exec(ns, &["sysctl", "-qw", &format!("{key}={value}")]));
            }
        }
        cmds
    }

    /// Links: each veth pair is created inside the first node's namespace with its
    /// peer moved straight into the second's.
    fn links(&self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for (link, subnet) in self.topology.subnets.iter().enumerate() {
            let [a, b] = subnet.nodes;
            let nodes = &self.topology.nodes;
            let (Some(ia), Some(ib)) = (
                nodes[a].ifaces.iter().find(|i| i.link == link),
                nodes[b].ifaces.iter().find(|i| i.link == link),
            ) else {
                continue;
            };
            cmds.push(Cmd::new([
                "ip",
                "-n",
                &self.namespaces[a],
                "link",
                "add",
                &ia.name,
                "type",
                "veth",
                "peer",
                "name",
                &ib.name,
                "netns",
                &self.namespaces[b],
            ]));
        }
        cmds
    }

    /// Each interface: its MTU, offloads off (unless the node asks), its addresses,
    /// up.
    fn interfaces(&self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for (node, ns) in self.nodes() {
            // Offloads off unless asked: segmentation (captures show wire sizes) and
            // checksumming (captures show final checksums, and a receiver checks
            // them in software: a bad checksum is dropped, not passed by veth).
            let offloads = self.scenario.node(&node.name).is_some_and(|n| n.offloads);
            for iface in &node.ifaces {
                let name = iface.name.as_str();
                let mtu = iface.mtu.to_string();
                cmds.push(Cmd::new(["ip", "-n", ns, "link", "set", name, "mtu", &mtu]));
                if !offloads {
                    cmds.push(exec(
                        ns,
                        &[
                            "ethtool", "-K", name, "tso", "off", "gso", "off", "gro", "off", "tx",
                            "off", "rx", "off",
                        ],
                    ));
                }
                let v4 = format!("{}/24", iface.v4);
                cmds.push(Cmd::new(["ip", "-n", ns, "addr", "add", &v4, "dev", name]));
                let v6 = format!("{}/64", iface.v6);
                cmds.push(Cmd::new([
                    "ip", "-n", ns, "-6", "addr", "add", &v6, "dev", name, "nodad",
                ]));
                cmds.push(Cmd::new(["ip", "-n", ns, "link", "set", name, "up"]));
            }
        }
        cmds
    }

    /// A transmit limit replaces the connected routes of that interface with
    /// locked-MTU ones. IPv6: the connected route itself (proto kernel, metric
    /// 256), or the kernel's copy keeps winning over one with metric 1024.
    fn transmit_limits(&self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for (node, ns) in self.nodes() {
            for iface in &node.ifaces {
                let Some(mtu) = iface.tx_mtu else { continue };
                let subnet = &self.topology.subnets[iface.link];
                let (mtu, dev) = (mtu.to_string(), iface.name.as_str());
                let v4 = format!("{}/24", subnet.v4);
                cmds.push(Cmd::new([
                    "ip", "-n", ns, "route", "replace", &v4, "dev", dev, "mtu", "lock", &mtu,
                ]));
                let v6 = format!("{}/64", subnet.v6);
                cmds.push(Cmd::new([
                    "ip", "-n", ns, "-6", "route", "replace", &v6, "dev", dev, "proto", "kernel",
                    "metric", "256", "mtu", "lock", &mtu,
                ]));
            }
        }
        cmds
    }

    /// The routes toward every subnet a node is not on, both families.
    fn routes(&self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for route in &self.topology.routes {
            let ns = &self.namespaces[route.node];
            let subnet = &self.topology.subnets[route.link];
            for (family, dest, via) in [
                ("-4", format!("{}/24", subnet.v4), route.via4.to_string()),
                ("-6", format!("{}/64", subnet.v6), route.via6.to_string()),
            ] {
                let mut argv = vec![
                    "ip".to_string(),
                    "-n".into(),
                    ns.clone(),
                    family.into(),
                    "route".into(),
                    "add".into(),
                    dest,
                    "via".into(),
                    via,
                    "dev".into(),
                    route.dev.clone(),
                ];
                if let Some(mtu) = route.mtu_lock {
                    argv.extend(["mtu".into(), "lock".into(), mtu.to_string()]);
                }
                cmds.push(Cmd::new(argv));
            }
        }
        cmds
    }

    /// Each node's nftables ruleset (an nft clamp, dropped ICMP) and iptables
    /// TCPMSS rules.
    fn filters(&self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for (node, ns) in self.nodes() {
            let Some(spec) = self.scenario.node(&node.name) else {
                continue;
            };
            let toward = spec
                .clamp
                .as_ref()
                .and_then(|c| c.toward.as_deref())
                .and_then(|peer| self.topology.index(peer))
                .and_then(|peer| node.ifaces.iter().find(|i| i.peer == peer))
                .map(|i| i.name.as_str());
            if let Some(rules) = nft_rules(spec, toward) {
                let mut cmd = exec(ns, &["nft", "-f", "-"]);
                cmd.stdin = Some(rules);
                cmds.push(cmd);
            }
            if let Some(clamp) = spec
                .clamp
                .as_ref()
                .filter(|c| c.method == ClampMethod::Iptables)
            {
                cmds.extend(iptables_clamp(ns, clamp, toward));
            }
        }
        cmds
    }

    /// mss's own clamp on each router that asks for it.
    fn daemons(&self) -> Vec<Daemon> {
        let mut daemons = Vec::new();
        for (node, ns) in self.nodes() {
            let Some(clamp) = self
                .scenario
                .node(&node.name)
                .and_then(|n| n.clamp.as_ref())
                .filter(|c| c.method == ClampMethod::Mss)
            else {
                continue;
            };
            let queue = CLAMP_QUEUE.to_string();
            let (mss, mss6) = (
                clamp.mss.unwrap_or(0).to_string(),
                clamp.mss6.unwrap_or(0).to_string(),
            );
            daemons.push(Daemon {
                node: node.name.clone(),
                cmd: exec(
                    ns,
                    &[
                        "mss",
                        "clamp",
                        "--nfqueue",
                        &queue,
                        "--mss",
                        &mss,
                        "--mss6",
                        &mss6,
                        "--install-rules",
                        "--stats-every",
                        "0",
                    ],
                ),
                ready: format!("mss clamp: queue {queue}:"),
            });
        }
        daemons
    }

    /// A tcpdump at each capture point, writing under `out_dir`.
    fn captures(&self, out_dir: &str) -> Vec<CapturePlan> {
        let points = &self.scenario.capture_points;
        let mut captures = Vec::new();
        for (node, ns) in self.nodes() {
            // Each interface, then `any` (`tcpdump -i any`: Linux cooked v2, every
            // packet with its interface index).
            let ifaces = node
                .ifaces
                .iter()
                .map(|i| i.name.as_str())
                .chain(std::iter::once("any"));
            for iface in ifaces {
                let point = format!("{}-{}", node.name, iface);
                if !points.contains(&point) {
                    continue;
                }
                let file = format!("{point}.pcap");
                let path = format!("{}/{file}", out_dir.trim_end_matches('/'));
                let mut argv = vec!["tcpdump", "-i", iface, "-nn"];
                if matches!(self.scenario.traffic.load, Load::Mix(_)) {
                    // Tens of thousands of packets a second: a 128 MiB buffer, and
                    // blocks handed over when full or after tcpdump's 1 s timeout
                    // (the run waits that long before stopping it).
                    argv.extend(["-B", MIX_CAPTURE_BUFFER_KIB]);
                } else {
                    // Every packet straight to the file: without it the last
                    // ring-buffer block is lost when tcpdump stops.
                    argv.push("--immediate-mode");
                    if iface == "any" {
                        // Every interface's packets in one ring: the default 2 MiB
                        // buffer overflows during a burst.
                        argv.extend(["-B", MIX_CAPTURE_BUFFER_KIB]);
                    }
                }
                argv.extend(["-U", "-s", "0", "-Z", "root", "-w", &path, CAPTURE_FILTER]);
                captures.push(CapturePlan {
                    point,
                    file,
                    cmd: exec(ns, &argv),
                });
            }
        }
        captures
    }
}

/// iptables/ip6tables TCPMSS rules for a clamp, on both directions of the
/// interface `toward` a neighbour, or on every forwarded SYN.
fn iptables_clamp(ns: &str, clamp: &Clamp, toward: Option<&str>) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for (tool, mss) in [("iptables", clamp.mss), ("ip6tables", clamp.mss6)] {
        let Some(mss) = mss else { continue };
        let mss = mss.to_string();
        let matches: Vec<Vec<&str>> = match toward {
            Some(dev) => vec![vec!["-i", dev], vec!["-o", dev]],
            None => vec![vec![]],
        };
        for m in matches {
            let mut argv = vec![tool, "-t", "mangle", "-A", "FORWARD"];
            argv.extend(m);
            argv.extend([
                "-p",
                "tcp",
                "--tcp-flags",
                "SYN,RST",
                "SYN",
                "-j",
                "TCPMSS",
                "--set-mss",
                &mss,
            ]);
            cmds.push(exec(ns, &argv));
        }
    }
    cmds
}

/// The nftables ruleset of one node, if it needs one: a clamp (`nft`, `nft-rtmtu`)
/// and dropped ICMP too-big messages. The table is `inet mss_lab`; chain names
/// avoid nft keywords (`fwd`, `out`).
fn nft_rules(node: &Node, toward: Option<&str>) -> Option<String> {
    let clamp = node
        .clamp
        .as_ref()
        .filter(|c| matches!(c.method, ClampMethod::Nft | ClampMethod::NftRtmtu));
    if clamp.is_none() && !node.drop_icmp_too_big {
        return None;
    }
    let mut rules = String::from("table inet mss_lab {\n");
    if let Some(clamp) = clamp {
        rules.push_str("  chain clamp {\n    type filter hook forward priority mangle;\n");
        let interfaces: Vec<String> = match toward {
            Some(dev) => vec![format!("iifname \"{dev}\" "), format!("oifname \"{dev}\" ")],
            None => vec![String::new()],
        };
        for on in &interfaces {
            match clamp.method {
                ClampMethod::Iptables | ClampMethod::Mss => {}
                ClampMethod::NftRtmtu => rules.push_str(&format!(
                    "    {on}tcp flags syn tcp option maxseg size set rt mtu\n"
                )),
                _ => {
                    for (family, mss) in [("ipv4", clamp.mss), ("ipv6", clamp.mss6)] {
                        if let Some(mss) = mss {
                            // Current kernels refuse to raise the MSS in `set`
                            // (since 4.14); the guard says so explicitly and
                            // keeps older ones safe.
                            rules.push_str(&format!(
                                "    {on}meta nfproto {family} tcp flags syn tcp option maxseg \
                                 size > {mss} tcp option maxseg size set {mss}\n"
                            ));
                        }
                    }
                }
            }
        }
        rules.push_str("  }\n");
    }
    if node.drop_icmp_too_big {
        for (chain, hook) in [("noicmp_local", "output"), ("noicmp_forward", "forward")] {
            rules.push_str(&format!(
                "  chain {chain} {{\n    type filter hook {hook} priority filter;\n    \
                 icmp type destination-unreachable icmp code frag-needed drop\n    \
                 icmpv6 type packet-too-big drop\n  }}\n"
            ));
        }
    }
    rules.push_str("}\n");
    Some(rules)
}
