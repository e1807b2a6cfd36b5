//! The plan of every built-in scenario, compared with a checked-in snapshot
//! (`tests/snapshots/NAME.txt`), plus explicit assertions on the properties the
//! snapshots must have: clamps only lower, locked route MTUs, asymmetric routes,
//! and no command outside the lab's own namespaces.
//!
//! Regenerate the snapshots after an intended change with
//! `MSS_UPDATE_SNAPSHOTS=1 cargo test -p mss-lab --test plan_snapshot`, then read
//! the diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mss_lab::plan::{CAPTURE_FILTER, Cmd, Plan};
use mss_lab::{BUILTIN, Scenario};

const PREFIX: &str = "mss-lab-1";
const OUT: &str = "OUT";

fn scenario(name: &str) -> Scenario {
    let text = mss_lab::builtin(name).unwrap_or_else(|| panic!("no built-in scenario {name}"));
    Scenario::parse(text).unwrap_or_else(|e| panic!("built-in {name}: {e}"))
}

fn plan_of(scenario: &Scenario) -> Plan {
    Plan::new(scenario, PREFIX, OUT)
}

fn plan(name: &str) -> Plan {
    plan_of(&scenario(name))
}

fn ns(node: &str) -> String {
    format!("{PREFIX}-{node}")
}

/// Every command of a plan: setup, then captures, then teardown.
fn all_cmds(plan: &Plan) -> impl Iterator<Item = &Cmd> {
    plan.setup
        .iter()
        .chain(plan.captures.iter().map(|c| &c.cmd))
        .chain(&plan.teardown)
}

/// The setup commands as displayed.
fn setup_lines(plan: &Plan) -> Vec<String> {
    plan.setup.iter().map(ToString::to_string).collect()
}

fn has_line(plan: &Plan, line: &str) -> bool {
    setup_lines(plan).iter().any(|l| l == line)
}

#[track_caller]
fn assert_line(plan: &Plan, line: &str) {
    assert!(
        has_line(plan, line),
        "missing setup command:\n  {line}\nsetup:\n{}",
        setup_lines(plan).join("\n")
    );
}

/// The nftables ruleset loaded in a node's namespace, if any.
fn nft_ruleset(plan: &Plan, node: &str) -> Option<String> {
    let rulesets: Vec<&Cmd> = plan
        .setup
        .iter()
        .filter(|c| {
            c.argv
                == [
                    "ip".to_string(),
                    "netns".into(),
                    "exec".into(),
                    ns(node),
                    "nft".into(),
                    "-f".into(),
                    "-".into(),
                ]
        })
        .collect();
    assert!(rulesets.len() <= 1, "{node}: more than one nft -f -");
    rulesets.first().map(|c| {
        c.stdin
            .clone()
            .unwrap_or_else(|| panic!("{node}: nft -f - without a ruleset on stdin"))
    })
}

fn render(name: &str, plan: &Plan) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# mss lab plan: {name}, prefix {PREFIX}, output {OUT}");
    let _ = writeln!(out, "# namespaces: {}", plan.namespaces.join(" "));
    out.push_str("\n## setup\n");
    for cmd in &plan.setup {
        let _ = writeln!(out, "{cmd}");
    }
    if !plan.daemons.is_empty() {
        out.push_str("\n## daemons\n");
        for daemon in &plan.daemons {
            let _ = writeln!(out, "# on {} until \"{}\"", daemon.node, daemon.ready);
            let _ = writeln!(out, "{}", daemon.cmd);
        }
    }
    out.push_str("\n## captures\n");
    for capture in &plan.captures {
        let _ = writeln!(out, "# {} -> {}", capture.point, capture.file);
        let _ = writeln!(out, "{}", capture.cmd);
    }
    out.push_str("\n## teardown\n");
    for cmd in &plan.teardown {
        let _ = writeln!(out, "{cmd}");
    }
    out
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
}

/// The first line where two texts differ, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut e = expected.lines();
    let mut a = actual.lines();
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (None, None) => return "only line endings differ".into(),
            (x, y) => {
                return format!(
                    "first difference at line {line}:\n  snapshot: {}\n  plan:     {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                );
            }
        }
    }
}

#[test]
fn every_builtin_matches_its_snapshot() {
    let update = std::env::var("MSS_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let dir = snapshot_dir();
    let mut failures = Vec::new();
    for (name, _) in BUILTIN {
        let actual = render(name, &plan(name));
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).expect("create tests/snapshots");
            std::fs::write(&path, &actual)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            eprintln!("wrote {}", path.display());
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}: the plan differs from {}; {}\n\
                 If the change is intended, rerun with MSS_UPDATE_SNAPSHOTS=1 and review \
                 the diff.\nThe plan now is:\n{actual}",
                path.display(),
                first_difference(&expected, &actual)
            )),
            Err(e) => failures.push(format!(
                "{name}: snapshot {} cannot be read ({e}); create it with \
                 `MSS_UPDATE_SNAPSHOTS=1 cargo test -p mss-lab --test plan_snapshot`, \
                 then read it and check it in",
                path.display()
            )),
        }
    }
    // A snapshot whose scenario is gone is stale.
    if !update {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some(stem) = file.strip_suffix(".txt") else {
                    continue;
                };
                if !BUILTIN.iter().any(|(n, _)| *n == stem) {
                    failures.push(format!(
                        "snapshot {file} belongs to no built-in scenario; delete it"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The namespaces a command acts in, or why it would touch the host's.
fn namespaces_of(cmd: &Cmd) -> Result<Vec<&str>, String> {
    let argv: Vec<&str> = cmd.argv.iter().map(String::as_str).collect();
    match argv.as_slice() {
        ["ip", "netns", "add" | "del", ns] => Ok(vec![*ns]),
        ["ip", "netns", "exec", ns, program, rest @ ..] => {
            // The program must not leave the namespace again.
            if ["ip", "nsenter", "unshare"].contains(program) {
                return Err(format!("{program} inside ip netns exec"));
            }
            if rest.iter().any(|w| w.starts_with("/proc/1/")) {
                return Err("refers to /proc/1".into());
            }
            Ok(vec![*ns])
        }
        ["ip", "-n", ns, rest @ ..] => {
            let mut namespaces = vec![*ns];
            // `link add ... peer name X netns NS2` puts the peer straight into NS2.
            if let Some(i) = rest.iter().position(|w| *w == "netns") {
                let is_veth_peer = rest.starts_with(&["link", "add"]) && rest.contains(&"veth");
                if !is_veth_peer {
                    return Err("netns outside a veth peer".into());
                }
                let other = rest
                    .get(i + 1)
                    .ok_or_else(|| "netns without a name".to_string())?;
                namespaces.push(other);
            }
            if rest.iter().any(|w| w.starts_with("-all") || *w == "-a") {
                return Err("-all acts on every namespace".into());
            }
            Ok(namespaces)
        }
        _ => Err("runs in the host's namespace".into()),
    }
}

#[test]
fn every_command_stays_inside_the_lab_namespaces() {
    for (name, _) in BUILTIN {
        let plan = plan(name);
        for n in &plan.namespaces {
            assert!(
                n.starts_with(&format!("{PREFIX}-")),
                "{name}: namespace {n} does not start with {PREFIX}-"
            );
        }
        assert_eq!(
            plan.namespaces.len(),
            scenario(name).nodes.len(),
            "{name}: one namespace per node"
        );
        let mut added: Vec<&str> = Vec::new();
        for (i, cmd) in plan.setup.iter().enumerate() {
            let used = namespaces_of(cmd).unwrap_or_else(|why| panic!("{name}: `{cmd}`: {why}"));
            if cmd.argv[..3] == ["ip", "netns", "add"] {
                assert!(
                    i < plan.namespaces.len() * 2,
                    "{name}: `{cmd}` comes after namespaces are in use"
                );
                added.push(used[0]);
                continue;
            }
            for n in used {
                assert!(
                    plan.namespaces.iter().any(|p| p == n),
                    "{name}: `{cmd}` uses {n}, not a namespace of this plan"
                );
                assert!(
                    added.contains(&n),
                    "{name}: `{cmd}` uses {n} before `ip netns add {n}`"
                );
            }
        }
        assert_eq!(
            added,
            plan.namespaces
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "{name}: every namespace added once, in node order"
        );
        for capture in &plan.captures {
            let used = namespaces_of(&capture.cmd)
                .unwrap_or_else(|why| panic!("{name}: `{}`: {why}", capture.cmd));
            assert!(
                capture.cmd.argv[..3] == ["ip", "netns", "exec"],
                "{name}: capture `{}` not run through ip netns exec",
                capture.cmd
            );
            assert!(plan.namespaces.iter().any(|p| p == used[0]));
        }
        for cmd in &plan.teardown {
            namespaces_of(cmd).unwrap_or_else(|why| panic!("{name}: `{cmd}`: {why}"));
            assert_eq!(cmd.argv[..3], ["ip", "netns", "del"], "{name}: `{cmd}`");
        }
        // Only nft reads a script from standard input.
        for cmd in all_cmds(&plan) {
            if cmd.stdin.is_some() {
                assert_eq!(cmd.program(), "nft", "{name}: `{cmd}` has stdin");
            }
        }
    }
}

#[test]
fn namespace_check_rejects_host_commands() {
    // The checker itself: commands that would touch the host must be caught.
    let cmd = |argv: &[&str]| Cmd {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdin: None,
    };
    assert!(namespaces_of(&cmd(&["ip", "link", "add", "eth0", "type", "veth"])).is_err());
    assert!(namespaces_of(&cmd(&["sysctl", "-w", "net.ipv4.ip_forward=1"])).is_err());
    assert!(namespaces_of(&cmd(&["nft", "-f", "-"])).is_err());
    assert!(namespaces_of(&cmd(&["ip", "-all", "netns", "exec", "ip", "a"])).is_err());
    assert!(
        namespaces_of(&cmd(&[
            "ip", "-n", "x", "link", "set", "eth0", "netns", "1"
        ]))
        .is_err()
    );
    assert_eq!(
        namespaces_of(&cmd(&[
            "ip", "-n", "a", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", "b"
        ])),
        Ok(vec!["a", "b"])
    );
}

#[test]
fn teardown_deletes_every_namespace_in_reverse() {
    for (name, _) in BUILTIN {
        let plan = plan(name);
        let deleted: Vec<String> = plan
            .teardown
            .iter()
            .map(|c| {
                assert_eq!(c.argv.len(), 4, "{name}: `{c}`");
                c.argv[3].clone()
            })
            .collect();
        let mut expected = plan.namespaces.clone();
        expected.reverse();
        assert_eq!(deleted, expected, "{name}");
    }
}

#[test]
fn every_veth_pair_is_created_once_between_its_nodes() {
    for (name, _) in BUILTIN {
        let s = scenario(name);
        let t = s.topology.clone();
        let plan = plan_of(&s);
        let adds: Vec<&Cmd> = plan
            .setup
            .iter()
            .filter(|c| c.argv.len() > 4 && c.argv[3..5] == ["link", "add"])
            .collect();
        assert_eq!(
            adds.len(),
            t.subnets.len(),
            "{name}: one veth pair per link"
        );
        for (i, subnet) in t.subnets.iter().enumerate() {
            let [ia, ib] = subnet.nodes;
            let (a, b) = (&t.nodes[ia].name, &t.nodes[ib].name);
            let name_a = &t.nodes[ia]
                .ifaces
                .iter()
                .find(|f| f.link == i)
                .expect("a")
                .name;
            let name_b = &t.nodes[ib]
                .ifaces
                .iter()
                .find(|f| f.link == i)
                .expect("b")
                .name;
            let expected = format!(
                "ip -n {} link add {name_a} type veth peer name {name_b} netns {}",
                ns(a),
                ns(b)
            );
            assert_eq!(adds[i].to_string(), expected, "{name}: link {i}");
        }
    }
}

#[test]
fn every_interface_gets_mtu_addresses_and_comes_up() {
    for (name, _) in BUILTIN {
        let s = scenario(name);
        let t = s.topology.clone();
        let plan = plan_of(&s);
        for node in &t.nodes {
            let n = ns(&node.name);
            let offloads = s.node(&node.name).expect("node").offloads;
            for iface in &node.ifaces {
                let dev = &iface.name;
                assert_line(
                    &plan,
                    &format!("ip -n {n} link set {dev} mtu {}", iface.mtu),
                );
                assert_line(
                    &plan,
                    &format!("ip -n {n} addr add {}/24 dev {dev}", iface.v4),
                );
                assert_line(
                    &plan,
                    &format!("ip -n {n} -6 addr add {}/64 dev {dev} nodad", iface.v6),
                );
                assert_line(&plan, &format!("ip -n {n} link set {dev} up"));
                let ethtool = format!(
                    "ip netns exec {n} ethtool -K {dev} tso off gso off gro off tx off rx off"
                );
                assert_eq!(
                    has_line(&plan, &ethtool),
                    !offloads,
                    "{name}: {ethtool} (offloads = {offloads})"
                );
            }
        }
    }
}

#[test]
fn sysctls_rp_filter_off_forwarding_only_on_routers() {
    for (name, _) in BUILTIN {
        let s = scenario(name);
        let plan = plan_of(&s);
        for node in &s.nodes {
            let n = ns(&node.name);
            let sysctl = |kv: &str| format!("ip netns exec {n} sysctl -qw {kv}");
            assert_line(&plan, &sysctl("net.ipv4.conf.all.rp_filter=0"));
            assert_line(&plan, &sysctl("net.ipv4.conf.default.rp_filter=0"));
            for kv in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
                assert_eq!(
                    has_line(&plan, &sysctl(kv)),
                    node.router,
                    "{name}: {} {kv}",
                    node.name
                );
            }
            // Every sysctl is a net.* one (per namespace), never kernel.* or vm.*.
            for cmd in plan.setup.iter().filter(|c| c.program() == "sysctl") {
                let kv = cmd.argv.last().expect("sysctl argument");
                assert!(
                    kv.starts_with("net.ipv4.") || kv.starts_with("net.ipv6."),
                    "{name}: `{cmd}`"
                );
            }
        }
    }
    let plan_nt = plan("no-timestamps");
    assert_line(
        &plan_nt,
        "ip netns exec mss-lab-1-client sysctl -qw net.ipv4.tcp_timestamps=0",
    );
    assert!(!has_line(
        &plan_nt,
        "ip netns exec mss-lab-1-server sysctl -qw net.ipv4.tcp_timestamps=0"
    ));
    assert_line(
        &plan("blackhole-probing"),
        "ip netns exec mss-lab-1-client sysctl -qw net.ipv4.tcp_mtu_probing=1",
    );
}

/// For the `nft` method: every `set N` is guarded by `size > N` (so the clamp only
/// lowers), for each family present.
fn assert_nft_lowers_only(scenario_name: &str, node: &str, mss: u16, mss6: u16) {
    let rules = nft_ruleset(&plan(scenario_name), node)
        .unwrap_or_else(|| panic!("{scenario_name}: no nft ruleset on {node}"));
    assert!(rules.starts_with("table inet mss_lab {\n"), "{rules}");
    assert!(
        rules.contains("type filter hook forward priority mangle;"),
        "{scenario_name}: clamp must be on the forward hook:\n{rules}"
    );
    for (family, value) in [("ipv4", mss), ("ipv6", mss6)] {
        let line = format!(
            "    meta nfproto {family} tcp flags syn tcp option maxseg size > {value} tcp option \
             maxseg size set {value}\n"
        );
        assert!(
            rules.contains(&line),
            "{scenario_name}: missing\n{line}in\n{rules}"
        );
    }
    for line in rules.lines().filter(|l| l.contains("maxseg size set")) {
        let set = line
            .rsplit("maxseg size set ")
            .next()
            .expect("set value")
            .trim();
        assert!(
            line.contains(&format!("maxseg size > {set} ")),
            "{scenario_name}: `{line}` can raise the MSS"
        );
    }
}

#[test]
fn clamp_lowers_only_in_both_families() {
    assert_nft_lowers_only("clamp", "router", 1360, 1340);
    assert_nft_lowers_only("ipv6", "router", 1360, 1340);
    assert_nft_lowers_only("clamp-lower-host", "router", 1360, 1340);
    assert_nft_lowers_only("below-min-mss", "router", 40, 40);
    assert_nft_lowers_only("asymmetric-clamp", "r1", 1360, 1340);
    assert_eq!(
        nft_ruleset(&plan("clamp"), "router").expect("ruleset"),
        "table inet mss_lab {\n  chain clamp {\n    type filter hook forward priority \
         mangle;\n    meta nfproto ipv4 tcp flags syn tcp option maxseg size > 1360 tcp \
         option maxseg size set 1360\n    meta nfproto ipv6 tcp flags syn tcp option maxseg \
         size > 1340 tcp option maxseg size set 1340\n  }\n}\n"
    );
    // The clamp is only on the clamping router.
    let p = plan("clamp");
    assert_eq!(nft_ruleset(&p, "client"), None);
    assert_eq!(nft_ruleset(&p, "server"), None);
    assert_eq!(nft_ruleset(&plan("asymmetric-clamp"), "r2"), None);
}

#[test]
fn nft_rules_never_raise_the_mss_in_any_builtin() {
    for (name, _) in BUILTIN {
        let plan = plan(name);
        for cmd in plan.setup.iter().filter(|c| c.program() == "nft") {
            let rules = cmd.stdin.as_deref().expect("ruleset");
            for line in rules.lines().filter(|l| l.contains("maxseg size set")) {
                let set = line
                    .rsplit("maxseg size set ")
                    .next()
                    .expect("value")
                    .trim();
                if set == "rt mtu" {
                    // The kernel's `rt mtu` only ever lowers.
                    continue;
                }
                assert!(
                    line.contains(&format!("maxseg size > {set} ")),
                    "{name}: `{line}` can raise the MSS"
                );
            }
        }
    }
}

#[test]
fn clamp_to_pmtu_uses_the_route_mtu() {
    let p = plan("clamp-to-pmtu");
    let rules = nft_ruleset(&p, "router").expect("ruleset");
    assert!(
        rules.contains("    tcp flags syn tcp option maxseg size set rt mtu\n"),
        "{rules}"
    );
    assert!(!rules.contains("size >"), "{rules}");
    // The route that `rt mtu` reads: locked at 1400 toward the server.
    assert_line(
        &p,
        "ip -n mss-lab-1-router route replace 10.81.2.0/24 dev eth1 mtu lock 1400",
    );
}

#[test]
fn pmtud_router_locks_the_route_mtu_toward_the_server() {
    for name in ["pmtud", "blackhole", "blackhole-probing", "clamp-to-pmtu"] {
        let p = plan(name);
        assert_line(
            &p,
            "ip -n mss-lab-1-router route replace 10.81.2.0/24 dev eth1 mtu lock 1400",
        );
        assert_line(
            &p,
            "ip -n mss-lab-1-router -6 route replace fd00:81:2::/64 dev eth1 proto kernel \
             metric 256 mtu lock 1400",
        );
        // Only the router's transmit side is limited: nothing else is locked, and
        // the hosts' routes through the router carry no MTU.
        let locked: Vec<String> = setup_lines(&p)
            .into_iter()
            .filter(|l| l.contains("mtu lock"))
            .collect();
        assert_eq!(locked.len(), 2, "{name}: {locked:#?}");
        assert_line(
            &p,
            "ip -n mss-lab-1-client -4 route add 10.81.2.0/24 via 10.81.1.2 dev eth0",
        );
        assert_line(
            &p,
            "ip -n mss-lab-1-client -6 route add fd00:81:2::/64 via fd00:81:1::2 dev eth0",
        );
        assert_line(
            &p,
            "ip -n mss-lab-1-server -4 route add 10.81.1.0/24 via 10.81.2.1 dev eth0",
        );
        assert_line(
            &p,
            "ip -n mss-lab-1-server -6 route add fd00:81:1::/64 via fd00:81:2::1 dev eth0",
        );
        // Interfaces stay at 1500: the limit is the route's, not the link's.
        assert_line(&p, "ip -n mss-lab-1-router link set eth1 mtu 1500");
        // The locked routes come after the addresses (they replace the kernel's
        // connected routes, which only exist once the address is there).
        let lines = setup_lines(&p);
        let pos = |l: &str| lines.iter().position(|x| x == l).expect(l);
        assert!(
            pos("ip -n mss-lab-1-router route replace 10.81.2.0/24 dev eth1 mtu lock 1400")
                > pos("ip -n mss-lab-1-router addr add 10.81.2.1/24 dev eth1")
        );
        assert!(
            pos("ip -n mss-lab-1-router route replace 10.81.2.0/24 dev eth1 mtu lock 1400")
                > pos("ip -n mss-lab-1-router link set eth1 up")
        );
    }
}

#[test]
fn blackhole_drops_icmp_too_big_sent_and_forwarded() {
    for name in ["blackhole", "blackhole-probing"] {
        let rules = nft_ruleset(&plan(name), "router").expect("ruleset");
        for (chain, hook) in [("noicmp_local", "output"), ("noicmp_forward", "forward")] {
            let block = format!(
                "  chain {chain} {{\n    type filter hook {hook} priority filter;\n    icmp \
                 type destination-unreachable icmp code frag-needed drop\n    icmpv6 type \
                 packet-too-big drop\n  }}\n"
            );
            assert!(
                rules.contains(&block),
                "{name}: missing\n{block}in\n{rules}"
            );
        }
        assert!(!rules.contains("chain clamp"), "{name}: no clamp\n{rules}");
    }
    // pmtud must not drop them.
    assert_eq!(nft_ruleset(&plan("pmtud"), "router"), None);
}

#[test]
fn asymmetric_clamp_server_answers_through_r2() {
    let p = plan("asymmetric-clamp");
    // Links: 0 client-r1 10.81.1, 1 r1-server 10.81.2, 2 client-r2 10.81.3,
    // 3 r2-server 10.81.4. The server's eth1 faces r2 (10.81.4.1).
    for line in [
        "ip -n mss-lab-1-server -4 route add 10.81.1.0/24 via 10.81.4.1 dev eth1",
        "ip -n mss-lab-1-server -6 route add fd00:81:1::/64 via fd00:81:4::1 dev eth1",
        "ip -n mss-lab-1-server -4 route add 10.81.3.0/24 via 10.81.4.1 dev eth1",
        "ip -n mss-lab-1-server -6 route add fd00:81:3::/64 via fd00:81:4::1 dev eth1",
        // The client reaches the server's primary address (eth0, 10.81.2.2)
        // through r1, which clamps.
        "ip -n mss-lab-1-client -4 route add 10.81.2.0/24 via 10.81.1.2 dev eth0",
        "ip -n mss-lab-1-client -6 route add fd00:81:2::/64 via fd00:81:1::2 dev eth0",
    ] {
        assert_line(&p, line);
    }
    let server_routes: Vec<String> = setup_lines(&p)
        .into_iter()
        .filter(|l| l.starts_with("ip -n mss-lab-1-server") && l.contains(" route "))
        .collect();
    assert_eq!(server_routes.len(), 4, "{server_routes:#?}");
    assert!(
        server_routes.iter().all(|l| l.contains("dev eth1")),
        "no server route toward r1: {server_routes:#?}"
    );
}

#[test]
fn short_connections_clamp_with_iptables_in_both_families() {
    let p = plan("short-connections");
    assert_line(
        &p,
        "ip netns exec mss-lab-1-router iptables -t mangle -A FORWARD -p tcp --tcp-flags \
         SYN,RST SYN -j TCPMSS --set-mss 1360",
    );
    assert_line(
        &p,
        "ip netns exec mss-lab-1-router ip6tables -t mangle -A FORWARD -p tcp --tcp-flags \
         SYN,RST SYN -j TCPMSS --set-mss 1340",
    );
    assert_eq!(
        p.setup
            .iter()
            .filter(|c| matches!(c.program(), "iptables" | "ip6tables"))
            .count(),
        2
    );
    assert_eq!(nft_ruleset(&p, "router"), None);
}

#[test]
fn gso_leaves_offloads_on_everywhere() {
    let p = plan("gso");
    assert!(!p.setup.iter().any(|c| c.program() == "ethtool"));
    assert!(!p.programs().contains(&"ethtool"));
}

#[test]
fn captures_every_interface_into_the_output_directory() {
    for (name, _) in BUILTIN {
        let s = scenario(name);
        let t = s.topology.clone();
        let p = plan_of(&s);
        let points: Vec<String> = p.captures.iter().map(|c| c.point.clone()).collect();
        // Every interface, unless the scenario names its points (bench; clamp-any,
        // which captures the router with `tcpdump -i any`).
        if *name == "bench" {
            assert_eq!(points, ["client-eth0"]);
        } else if *name == "clamp-any" {
            assert_eq!(points, ["client-eth0", "router-any", "server-eth0"]);
            let any = p.captures.iter().find(|c| c.point == "router-any");
            let argv = any.map(|c| c.cmd.to_string()).unwrap_or_default();
            assert!(argv.contains("tcpdump -i any"), "{argv}");
            assert!(argv.contains("-B 131072"), "{argv}");
        } else {
            assert_eq!(points, t.capture_points_all(), "{name}");
        }
        // A mix's captures buffer (tens of thousands of packets a second); the
        // others write every packet at once.
        let mode = if matches!(s.traffic.load, mss_lab::scenario::Load::Mix(_)) {
            "-B 131072"
        } else {
            "--immediate-mode"
        };
        for c in &p.captures {
            assert_eq!(c.file, format!("{}.pcap", c.point));
            let (node, dev) = c.point.rsplit_once('-').expect("NODE-IFACE");
            // `any` takes every interface's packets into one ring: a bigger buffer.
            let mode = if dev == "any" {
                "--immediate-mode -B 131072"
            } else {
                mode
            };
            let expected = format!(
                "ip netns exec {} tcpdump -i {dev} -nn {mode} -U -s 0 -Z root -w \
                 {OUT}/{}.pcap 'tcp or icmp or icmp6'",
                ns(node),
                c.point
            );
            assert_eq!(c.cmd.to_string(), expected, "{name}");
            assert_eq!(c.cmd.argv.last().map(String::as_str), Some(CAPTURE_FILTER));
        }
    }
}

#[test]
fn out_dir_trailing_slash_is_not_doubled() {
    let s = scenario("baseline");
    let p = Plan::new(&s, PREFIX, "/tmp/out/");
    assert!(
        p.captures[0]
            .cmd
            .argv
            .contains(&"/tmp/out/client-eth0.pcap".to_string()),
        "{}",
        p.captures[0].cmd
    );
}

#[test]
fn programs_in_first_use_order() {
    assert_eq!(
        plan("clamp").programs(),
        ["ip", "sysctl", "ethtool", "nft", "tcpdump"]
    );
    assert_eq!(
        plan("short-connections").programs(),
        [
            "ip",
            "sysctl",
            "ethtool",
            "iptables",
            "ip6tables",
            "tcpdump",
        ]
    );
    assert_eq!(plan("gso").programs(), ["ip", "sysctl", "tcpdump"]);
}

#[test]
fn cmd_display_quotes_only_what_needs_it() {
    let cmd = Cmd {
        argv: [
            "echo",
            "plain-word_1.2:3=4,5+6@7%8/9",
            "two words",
            "it's",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        stdin: None,
    };
    assert_eq!(
        cmd.to_string(),
        r"echo plain-word_1.2:3=4,5+6@7%8/9 'two words' 'it'\''s' ''"
    );
    let nft = Cmd {
        argv: vec!["nft".into(), "-f".into(), "-".into()],
        stdin: Some("table inet t {\n}\n".into()),
    };
    assert_eq!(nft.to_string(), "nft -f - <<'EOF'\ntable inet t {\n}\nEOF");
    assert_eq!(nft.program(), "nft");
    let exec = Cmd {
        argv: ["ip", "netns", "exec", "ns", "tcpdump", "-i", "eth0"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        stdin: None,
    };
    assert_eq!(exec.program(), "tcpdump");
    let empty = Cmd {
        argv: Vec::new(),
        stdin: None,
    };
    assert_eq!(empty.program(), "");
}

const CUSTOM: &str = r#"
name = "custom"
title = "Per-interface clamps, sysctls, a capture subset, a locked middle hop"
families = ["ipv4", "ipv6"]
capture = ["client-eth0", "server-eth0"]

[[node]]
name = "client"
sysctls = { "net.ipv4.tcp_ecn" = "1" }

[[node]]
name = "r1"
router = true
clamp = { method = "iptables", mss = 1300, mss6 = 1280, toward = "r2" }

[[node]]
name = "r2"
router = true
clamp = { method = "nft", mss = 1200, mss6 = 1180, toward = "server" }

[[node]]
name = "server"

[[link]]
between = ["client", "r1"]

[[link]]
between = ["r1", "r2"]
tx_mtu = { from = "r1", mtu = 1400 }

[[link]]
between = ["r2", "server"]
mtus = [1500, 9000]

[traffic]
bulk = { up = 1, down = 1 }
"#;

#[test]
fn custom_scenario_toward_sysctls_capture_subset_and_locked_route() {
    let s = Scenario::parse(CUSTOM).expect("custom scenario parses");
    let p = plan_of(&s);
    // iptables clamp on r1's interface toward r2 (eth1), both directions.
    for tool_mss in ["iptables", "ip6tables"] {
        let mss = if tool_mss == "iptables" { 1300 } else { 1280 };
        for dir in ["-i", "-o"] {
            assert_line(
                &p,
                &format!(
                    "ip netns exec mss-lab-1-r1 {tool_mss} -t mangle -A FORWARD {dir} eth1 -p \
                     tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss {mss}"
                ),
            );
        }
    }
    // nft clamp on r2's interface toward the server (eth1), both directions.
    let rules = nft_ruleset(&p, "r2").expect("r2 ruleset");
    for on in ["iifname \"eth1\" ", "oifname \"eth1\" "] {
        for (family, mss) in [("ipv4", 1200), ("ipv6", 1180)] {
            let line = format!(
                "    {on}meta nfproto {family} tcp flags syn tcp option maxseg size > {mss} tcp \
                 option maxseg size set {mss}\n"
            );
            assert!(rules.contains(&line), "missing\n{line}in\n{rules}");
        }
    }
    assert_eq!(
        rules
            .lines()
            .filter(|l| l.contains("maxseg size set"))
            .count(),
        4
    );
    // The node's own sysctls, in its namespace only.
    assert_line(
        &p,
        "ip netns exec mss-lab-1-client sysctl -qw net.ipv4.tcp_ecn=1",
    );
    assert!(!has_line(
        &p,
        "ip netns exec mss-lab-1-server sysctl -qw net.ipv4.tcp_ecn=1"
    ));
    // Per-end MTUs.
    assert_line(&p, "ip -n mss-lab-1-r2 link set eth1 mtu 1500");
    assert_line(&p, "ip -n mss-lab-1-server link set eth0 mtu 9000");
    // r1 sends at most 1400 toward r2: its connected routes on that link and its
    // route beyond r2 are locked; r2's are not.
    assert_line(
        &p,
        "ip -n mss-lab-1-r1 route replace 10.81.2.0/24 dev eth1 mtu lock 1400",
    );
    assert_line(
        &p,
        "ip -n mss-lab-1-r1 -4 route add 10.81.3.0/24 via 10.81.2.2 dev eth1 mtu lock 1400",
    );
    assert_line(
        &p,
        "ip -n mss-lab-1-r1 -6 route add fd00:81:3::/64 via fd00:81:2::2 dev eth1 mtu lock 1400",
    );
    assert_line(
        &p,
        "ip -n mss-lab-1-r2 -4 route add 10.81.1.0/24 via 10.81.2.1 dev eth0",
    );
    // Only the listed capture points.
    assert_eq!(
        p.captures
            .iter()
            .map(|c| c.point.as_str())
            .collect::<Vec<_>>(),
        ["client-eth0", "server-eth0"]
    );
    for cmd in all_cmds(&p) {
        namespaces_of(cmd).unwrap_or_else(|why| panic!("`{cmd}`: {why}"));
    }
}
