//! Topology resolution: interface names, addresses, subnets, routes and chains.

use std::net::{Ipv4Addr, Ipv6Addr};

use mss_lab::topology::{Route, Topology, parse_subnet4, parse_subnet6};
use mss_lab::{BUILTIN, Scenario};

fn parse(text: &str) -> Scenario {
    Scenario::parse(text).unwrap_or_else(|e| panic!("scenario does not parse: {e}\n{text}"))
}

/// A scenario text: `nodes` as `(name, router)`, `links` as `[[link]]` bodies.
fn scenario_text(nodes: &[(&str, bool)], links: &[&str], extra: &str) -> String {
    let mut text = String::from("name = \"t\"\ntitle = \"t\"\n");
    for (name, router) in nodes {
        text.push_str(&format!(
            "\n[[node]]\nname = \"{name}\"\nrouter = {router}\n"
        ));
    }
    for link in links {
        text.push_str(&format!("\n[[link]]\n{link}\n"));
    }
    text.push_str(extra);
    if !extra.contains("[traffic]") {
        text.push_str("\n[traffic]\nbulk = { up = 1, down = 1 }\n");
    }
    text
}

/// The route of node `node` toward the subnet of link `link`.
fn route<'a>(t: &'a Topology, node: &str, link: usize) -> Option<&'a Route> {
    let n = t.index(node).expect("node exists");
    t.routes.iter().find(|r| r.node == n && r.link == link)
}

/// The name of the node a route's gateway address belongs to.
fn gateway_node(t: &Topology, route: &Route) -> String {
    t.nodes
        .iter()
        .find(|n| n.ifaces.iter().any(|i| i.v4 == route.via4))
        .map(|n| n.name.clone())
        .expect("gateway address belongs to a node")
}

/// The node reached first on the way from `node` toward link `link`'s subnet.
#[track_caller]
fn next_hop(t: &Topology, node: &str, link: usize) -> String {
    let r = route(t, node, link).unwrap_or_else(|| panic!("{node} has no route to link {link}"));
    gateway_node(t, r)
}

fn chain4() -> (Scenario, Topology) {
    // client - r1 - r2 - r3 - server
    let s = parse(&scenario_text(
        &[
            ("client", false),
            ("r1", true),
            ("r2", true),
            ("r3", true),
            ("server", false),
        ],
        &[
            "between = [\"client\", \"r1\"]",
            "between = [\"r1\", \"r2\"]",
            "between = [\"r2\", \"r3\"]",
            "between = [\"r3\", \"server\"]",
        ],
        "",
    ));
    let t = s.topology.clone();
    (s, t)
}

#[test]
fn automatic_addresses_per_link() {
    let (_, t) = chain4();
    assert_eq!(t.subnets.len(), 4);
    for (i, subnet) in t.subnets.iter().enumerate() {
        let n = u8::try_from(i + 1).expect("small");
        assert_eq!(subnet.v4, Ipv4Addr::new(10, 81, n, 0));
        assert_eq!(
            subnet.v6,
            Ipv6Addr::new(0xfd00, 0x81, u16::from(n), 0, 0, 0, 0, 0)
        );
    }
    // The first node of `between` takes .1 / ::1, the second .2 / ::2.
    let expected: &[(&str, &str, &str, &str)] = &[
        ("client", "eth0", "10.81.1.1", "fd00:81:1::1"),
        ("r1", "eth0", "10.81.1.2", "fd00:81:1::2"),
        ("r1", "eth1", "10.81.2.1", "fd00:81:2::1"),
        ("r2", "eth0", "10.81.2.2", "fd00:81:2::2"),
        ("r2", "eth1", "10.81.3.1", "fd00:81:3::1"),
        ("r3", "eth0", "10.81.3.2", "fd00:81:3::2"),
        ("r3", "eth1", "10.81.4.1", "fd00:81:4::1"),
        ("server", "eth0", "10.81.4.2", "fd00:81:4::2"),
    ];
    for (node, iface, v4, v6) in expected {
        let n = &t.nodes[t.index(node).expect("node")];
        let i = n
            .ifaces
            .iter()
            .find(|i| i.name == *iface)
            .unwrap_or_else(|| panic!("{node} has no {iface}"));
        assert_eq!(i.v4.to_string(), *v4, "{node} {iface}");
        assert_eq!(i.v6.to_string(), *v6, "{node} {iface}");
        assert_eq!(i.mtu, 1500);
        assert_eq!(i.tx_mtu, None);
    }
}

#[test]
fn second_end_takes_dot_two_even_when_listed_first_in_nodes() {
    // `between` order, not node order, decides .1 and .2.
    let s = parse(&scenario_text(
        &[("client", false), ("router", true), ("server", false)],
        &[
            "between = [\"router\", \"client\"]",
            "between = [\"server\", \"router\"]",
        ],
        "",
    ));
    let t = s.topology.clone();
    let client = &t.nodes[t.index("client").expect("client")];
    assert_eq!(client.ifaces[0].v4, Ipv4Addr::new(10, 81, 1, 2));
    let server = &t.nodes[t.index("server").expect("server")];
    assert_eq!(server.ifaces[0].v4, Ipv4Addr::new(10, 81, 2, 1));
    assert_eq!(server.ifaces[0].v6.to_string(), "fd00:81:2::1");
    let router = &t.nodes[t.index("router").expect("router")];
    assert_eq!(router.ifaces[1].v4, Ipv4Addr::new(10, 81, 2, 2));
}

#[test]
fn interfaces_are_named_in_link_order() {
    // The hub appears in links 0, 2, 3: eth0, eth1, eth2 in that order, and the
    // peers' names are consistent.
    let s = parse(&scenario_text(
        &[("a", false), ("hub", true), ("b", false), ("c", false)],
        &[
            "between = [\"a\", \"hub\"]",
            "between = [\"a\", \"b\"]",
            "between = [\"hub\", \"b\"]",
            "between = [\"c\", \"hub\"]",
        ],
        "\n[traffic]\nclient = \"a\"\nserver = \"c\"\nbulk = { up = 1, down = 1 }\n",
    ));
    let t = s.topology.clone();
    let hub = &t.nodes[t.index("hub").expect("hub")];
    let names: Vec<(&str, usize, &str)> = hub
        .ifaces
        .iter()
        .map(|i| (i.name.as_str(), i.link, t.nodes[i.peer].name.as_str()))
        .collect();
    assert_eq!(
        names,
        [("eth0", 0, "a"), ("eth1", 2, "b"), ("eth2", 3, "c")]
    );
    let a = &t.nodes[t.index("a").expect("a")];
    assert_eq!(
        a.ifaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["eth0", "eth1"]
    );
    for node in &t.nodes {
        for iface in &node.ifaces {
            let peer = &t.nodes[iface.peer];
            let back = peer
                .ifaces
                .iter()
                .find(|p| p.name == iface.peer_iface)
                .expect("peer interface exists");
            assert_eq!(back.link, iface.link);
            assert_eq!(t.nodes[back.peer].name, node.name);
            assert_eq!(back.peer_iface, iface.name);
        }
    }
    assert_eq!(
        t.capture_points_all(),
        [
            "a-eth0", "a-eth1", "hub-eth0", "hub-eth1", "hub-eth2", "b-eth0", "b-eth1", "c-eth0"
        ]
    );
    // iface_toward: the interface facing a neighbour; none for a non-neighbour.
    let (ia, ic) = (t.index("a").expect("a"), t.index("c").expect("c"));
    let ihub = t.index("hub").expect("hub");
    assert_eq!(
        t.iface_toward(ihub, ic).map(|i| i.name.as_str()),
        Some("eth2")
    );
    assert_eq!(t.iface_toward(ia, ic), None);
    assert_eq!(t.primary(ia).map(|i| i.name.as_str()), Some("eth0"));
}

#[test]
fn explicit_subnets_and_mtus() {
    let s = parse(&scenario_text(
        &[("client", false), ("router", true), ("server", false)],
        &[
            "between = [\"client\", \"router\"]\nsubnet4 = \"192.168.7.0/24\"\nsubnet6 = \"2001:db8:7::/64\"\nmtus = [1400, 1500]",
            "between = [\"router\", \"server\"]\nmtu = 9000\ntx_mtu = { from = \"server\", mtu = 1280 }",
        ],
        "",
    ));
    let t = s.topology.clone();
    assert_eq!(t.subnets[0].v4, Ipv4Addr::new(192, 168, 7, 0));
    assert_eq!(t.subnets[0].v6.to_string(), "2001:db8:7::");
    // The other link keeps its automatic numbers (by position, not by count of
    // automatic links).
    assert_eq!(t.subnets[1].v4, Ipv4Addr::new(10, 81, 2, 0));
    assert_eq!(t.subnets[1].v6.to_string(), "fd00:81:2::");
    let client = &t.nodes[0].ifaces[0];
    assert_eq!(client.v4, Ipv4Addr::new(192, 168, 7, 1));
    assert_eq!(client.v6.to_string(), "2001:db8:7::1");
    assert_eq!(client.mtu, 1400);
    let router = &t.nodes[1];
    assert_eq!(router.ifaces[0].v4, Ipv4Addr::new(192, 168, 7, 2));
    assert_eq!(router.ifaces[0].v6.to_string(), "2001:db8:7::2");
    assert_eq!(router.ifaces[0].mtu, 1500);
    assert_eq!(router.ifaces[1].mtu, 9000);
    assert_eq!(router.ifaces[1].tx_mtu, None);
    let server = &t.nodes[2].ifaces[0];
    assert_eq!(server.mtu, 9000);
    assert_eq!(server.tx_mtu, Some(1280));
    // The server's route out of its limited interface is locked; the client's
    // is not.
    let r = route(&t, "server", 0).expect("server route to link 0");
    assert_eq!(r.mtu_lock, Some(1280));
    assert_eq!(r.via4, Ipv4Addr::new(10, 81, 2, 1));
    assert_eq!(r.via6.to_string(), "fd00:81:2::1");
    assert_eq!(route(&t, "client", 1).expect("client route").mtu_lock, None);
    assert_eq!(
        route(&t, "client", 1).expect("client route").via4,
        Ipv4Addr::new(192, 168, 7, 2)
    );
}

#[test]
fn subnet_parsers() {
    assert_eq!(
        parse_subnet4("10.1.2.0/24"),
        Some(Ipv4Addr::new(10, 1, 2, 0))
    );
    assert_eq!(parse_subnet4("10.1.2.1/24"), None);
    assert_eq!(parse_subnet4("10.1.0.0/16"), None);
    assert_eq!(parse_subnet4("10.1.2.0"), None);
    assert_eq!(parse_subnet4("fd00::/24"), None);
    assert_eq!(
        parse_subnet6("fd00:1:2::/64"),
        Some(Ipv6Addr::new(0xfd00, 1, 2, 0, 0, 0, 0, 0))
    );
    assert_eq!(
        parse_subnet6("fd00:1:2:3::/64"),
        Some(Ipv6Addr::new(0xfd00, 1, 2, 3, 0, 0, 0, 0))
    );
    assert_eq!(parse_subnet6("fd00::1/64"), None);
    assert_eq!(parse_subnet6("fd00::/48"), None);
    assert_eq!(parse_subnet6("10.0.0.0/64"), None);
}

#[test]
fn routes_in_a_four_router_chain_every_node_every_subnet() {
    // client - r1 - r2 - r3 - server; links 0..3 between consecutive nodes.
    let s = parse(&scenario_text(
        &[
            ("client", false),
            ("r1", true),
            ("r2", true),
            ("r3", true),
            ("r4", true),
            ("server", false),
        ],
        &[
            "between = [\"client\", \"r1\"]",
            "between = [\"r1\", \"r2\"]",
            "between = [\"r2\", \"r3\"]",
            "between = [\"r3\", \"r4\"]",
            "between = [\"r4\", \"server\"]",
        ],
        "",
    ));
    let t = s.topology.clone();
    let order = ["client", "r1", "r2", "r3", "r4", "server"];
    for (position, node) in order.iter().enumerate() {
        for link in 0..t.subnets.len() {
            // Link `link` joins order[link] and order[link + 1].
            let attached = link == position || link + 1 == position;
            let r = route(&t, node, link);
            if attached {
                assert!(r.is_none(), "{node} is attached to link {link}: {r:?}");
                continue;
            }
            let expected = if link > position {
                order[position + 1]
            } else {
                order[position - 1]
            };
            assert_eq!(next_hop(&t, node, link), expected, "{node} -> link {link}");
            let r = r.expect("route");
            let me = &t.nodes[t.index(node).expect("node")];
            let out = me
                .ifaces
                .iter()
                .find(|i| i.name == r.dev)
                .expect("dev exists");
            assert_eq!(t.nodes[out.peer].name, expected, "dev faces the gateway");
            // The IPv6 gateway is the same node's address on the same link.
            let gw = &t.nodes[out.peer]
                .ifaces
                .iter()
                .find(|i| i.link == out.link)
                .expect("gateway iface");
            assert_eq!((r.via4, r.via6), (gw.v4, gw.v6));
            assert_eq!(r.mtu_lock, None);
        }
    }
    // Each node has a route to every subnet it is not on: 5 links, 6 nodes.
    assert_eq!(t.routes.len(), 2 * 4 + 4 * 3);
}

#[test]
fn next_hops_in_the_client_r1_r2_r3_server_chain() {
    // The 4-router chain of the brief, written as client-r1-r2-r3-server.
    let (_, t) = chain4();
    assert_eq!(next_hop(&t, "client", 3), "r1");
    assert_eq!(next_hop(&t, "r1", 3), "r2");
    assert_eq!(next_hop(&t, "r2", 3), "r3");
    assert_eq!(next_hop(&t, "server", 0), "r3");
    assert_eq!(next_hop(&t, "r3", 0), "r2");
    assert_eq!(next_hop(&t, "r2", 0), "r1");
    assert_eq!(next_hop(&t, "r1", 2), "r2");
    assert_eq!(next_hop(&t, "r3", 1), "r2");
    assert_eq!(t.chain().map(|c| c.len()), Some(5));
}

#[test]
fn a_host_in_the_middle_does_not_forward() {
    // client - r1 - mid (host) - r2 - server
    let s = parse(&scenario_text(
        &[
            ("client", false),
            ("r1", true),
            ("mid", false),
            ("r2", true),
            ("server", false),
        ],
        &[
            "between = [\"client\", \"r1\"]",
            "between = [\"r1\", \"mid\"]",
            "between = [\"mid\", \"r2\"]",
            "between = [\"r2\", \"server\"]",
        ],
        "\n[traffic]\nclient = \"client\"\nserver = \"server\"\nbulk = { up = 1, down = 1 }\n",
    ));
    let t = s.topology.clone();
    // Nothing beyond the host is reachable: no route to the far side's subnets.
    assert!(
        route(&t, "client", 3).is_none(),
        "client must not route past mid"
    );
    assert!(route(&t, "r1", 3).is_none());
    assert!(route(&t, "server", 0).is_none());
    assert!(route(&t, "r2", 0).is_none());
    // The subnets that touch `mid` are reachable up to `mid`'s own address.
    assert_eq!(next_hop(&t, "client", 1), "r1");
    assert_eq!(next_hop(&t, "client", 2), "r1");
    assert_eq!(next_hop(&t, "r1", 2), "mid");
    // Invariant: a gateway is either a router or sits on the destination subnet
    // (so it is the destination itself, never a transit hop).
    for r in &t.routes {
        let gw = gateway_node(&t, r);
        let gi = t.index(&gw).expect("gateway");
        assert!(
            t.nodes[gi].router || t.subnets[r.link].nodes.contains(&gi),
            "{} routes link {} through host {gw}",
            t.nodes[r.node].name,
            r.link
        );
    }
    // mid itself (a host) still has routes, through its router neighbours.
    assert_eq!(next_hop(&t, "mid", 0), "r1");
    assert_eq!(next_hop(&t, "mid", 3), "r2");
    // Not a chain of routers, but still drawn as a chain.
    assert_eq!(t.chain().map(|c| c.len()), Some(5));
}

#[test]
fn no_route_ever_transits_a_host_in_any_builtin() {
    for (name, text) in BUILTIN {
        let s = parse(text);
        let t = s.topology.clone();
        for r in &t.routes {
            let gw = gateway_node(&t, r);
            let gi = t.index(&gw).expect("gateway");
            assert!(
                t.nodes[gi].router || t.subnets[r.link].nodes.contains(&gi),
                "{name}: {} routes link {} through host {gw}",
                t.nodes[r.node].name,
                r.link
            );
            // Never a route to a subnet the node is on.
            assert!(!t.subnets[r.link].nodes.contains(&r.node), "{name}: {r:?}");
        }
    }
}

fn square() -> (Scenario, Topology) {
    let s = parse(mss_lab::builtin("asymmetric-clamp").expect("built-in"));
    let t = s.topology.clone();
    (s, t)
}

#[test]
fn asymmetric_clamp_route_override() {
    let (_, t) = square();
    // Links: 0 client-r1, 1 r1-server, 2 client-r2, 3 r2-server.
    // Shortest paths: the client reaches the server's subnets through r1 (link 1)
    // and r2 (link 3), each its own neighbour on it.
    assert_eq!(next_hop(&t, "client", 1), "r1");
    assert_eq!(next_hop(&t, "client", 3), "r2");
    // Without the override the server would answer toward link 0 through r1;
    // [[route]] server -> client via r2 covers both of the client's subnets.
    assert_eq!(next_hop(&t, "server", 0), "r2");
    assert_eq!(next_hop(&t, "server", 2), "r2");
    let r = route(&t, "server", 0).expect("route");
    assert_eq!(r.dev, "eth1");
    assert_eq!(r.via4, Ipv4Addr::new(10, 81, 4, 1));
    assert_eq!(r.via6.to_string(), "fd00:81:4::1");
    // The primary addresses traffic uses are eth0's.
    let server = t.index("server").expect("server");
    assert_eq!(
        t.primary(server).map(|i| i.v4),
        Some(Ipv4Addr::new(10, 81, 2, 2))
    );
}

#[test]
fn route_override_changes_only_its_node_and_destination() {
    let text = mss_lab::builtin("asymmetric-clamp").expect("built-in");
    let without = text.replace(
        "[[route]]\nnode = \"server\"\nto = \"client\"\nvia = \"r2\"\n",
        "",
    );
    assert_ne!(without, text, "the override was removed");
    let t0 = parse(&without).topology;
    let (_, t1) = square();
    // Shortest path (ties to the link listed first): through r1.
    assert_eq!(next_hop(&t0, "server", 0), "r1");
    assert_eq!(next_hop(&t0, "server", 2), "r2");
    let changed: Vec<(&str, usize)> = t1
        .routes
        .iter()
        .filter(|r| !t0.routes.contains(r))
        .map(|r| (t1.nodes[r.node].name.as_str(), r.link))
        .collect();
    assert_eq!(changed, [("server", 0)]);
    assert_eq!(t0.routes.len(), t1.routes.len());
}

#[test]
fn ties_go_to_the_link_listed_first() {
    // Two equal paths from client to the r3-server link: through r1 or r2.
    let diamond = |first: &str, second: &str| {
        parse(&scenario_text(
            &[
                ("client", false),
                ("r1", true),
                ("r2", true),
                ("r3", true),
                ("server", false),
            ],
            &[
                &format!("between = [\"client\", \"{first}\"]"),
                &format!("between = [\"client\", \"{second}\"]"),
                "between = [\"r1\", \"r3\"]",
                "between = [\"r2\", \"r3\"]",
                "between = [\"r3\", \"server\"]",
            ],
            "",
        ))
    };
    let t = diamond("r1", "r2").topology;
    assert_eq!(next_hop(&t, "client", 4), "r1");
    let t = diamond("r2", "r1").topology;
    assert_eq!(next_hop(&t, "client", 4), "r2");
    // The way back ties too: r3 reaches the client's links through the attached
    // router; link 0 is r2's side in this second layout.
    assert_eq!(next_hop(&t, "r3", 0), "r2");
    assert_eq!(next_hop(&t, "r3", 1), "r1");
    // The server's route to both client links goes to r3.
    assert_eq!(next_hop(&t, "server", 0), "r3");
    assert_eq!(next_hop(&t, "server", 1), "r3");
}

#[test]
fn chain_order_and_none_for_the_square() {
    let (_, t) = chain4();
    let names = |order: Vec<usize>| -> Vec<String> {
        order.into_iter().map(|i| t.nodes[i].name.clone()).collect()
    };
    assert_eq!(
        t.chain().map(names),
        Some(
            ["client", "r1", "r2", "r3", "server"]
                .map(String::from)
                .to_vec()
        )
    );
    let (_, sq) = square();
    assert_eq!(sq.chain(), None);
    // A chain listed out of order is still found, from an end.
    let s = parse(&scenario_text(
        &[("r1", true), ("server", false), ("client", false)],
        &[
            "between = [\"server\", \"r1\"]",
            "between = [\"r1\", \"client\"]",
        ],
        "\n[traffic]\nclient = \"client\"\nserver = \"server\"\nbulk = { up = 1, down = 1 }\n",
    ));
    let t2 = s.topology.clone();
    let order: Vec<&str> = t2
        .chain()
        .expect("a chain")
        .into_iter()
        .map(|i| t2.nodes[i].name.as_str())
        .collect();
    assert_eq!(order, ["server", "r1", "client"]);
    // A star is not a chain.
    let star = parse(&scenario_text(
        &[("a", false), ("hub", true), ("b", false), ("c", false)],
        &[
            "between = [\"a\", \"hub\"]",
            "between = [\"b\", \"hub\"]",
            "between = [\"c\", \"hub\"]",
        ],
        "",
    ));
    assert_eq!(star.topology.chain(), None);
    // Two parallel links between the same nodes: not a chain either.
    let parallel = parse(&scenario_text(
        &[("a", false), ("b", false)],
        &["between = [\"a\", \"b\"]", "between = [\"b\", \"a\"]"],
        "",
    ));
    assert_eq!(parallel.topology.chain(), None);
}

#[test]
fn every_builtin_but_the_square_is_a_chain() {
    for (name, text) in BUILTIN {
        let t = parse(text).topology;
        if *name == "asymmetric-clamp" {
            assert_eq!(t.chain(), None, "{name}");
        } else {
            let order: Vec<&str> = t
                .chain()
                .unwrap_or_else(|| panic!("{name} is a chain"))
                .into_iter()
                .map(|i| t.nodes[i].name.as_str())
                .collect();
            let want: &[&str] = if *name == "clamp-chain" {
                &["client", "r1", "r2", "server"]
            } else if *name == "bench" {
                &["client", "server"]
            } else {
                &["client", "router", "server"]
            };
            assert_eq!(order, want, "{name}");
        }
    }
}

#[test]
fn pmtud_tx_mtu_belongs_to_the_router_side_only() {
    let t = parse(mss_lab::builtin("pmtud").expect("built-in")).topology;
    let router = &t.nodes[t.index("router").expect("router")];
    assert_eq!(router.ifaces[1].tx_mtu, Some(1400));
    assert_eq!(router.ifaces[1].mtu, 1500);
    assert_eq!(router.ifaces[0].tx_mtu, None);
    let server = &t.nodes[t.index("server").expect("server")];
    assert_eq!(server.ifaces[0].tx_mtu, None);
    // The router is on both subnets: it has no routes, so the limit lives only in
    // the connected-route replacement of the plan.
    assert!(t.routes.iter().all(|r| t.nodes[r.node].name != "router"));
    assert!(t.routes.iter().all(|r| r.mtu_lock.is_none()));
}
