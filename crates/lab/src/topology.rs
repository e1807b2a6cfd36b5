//! A scenario resolved into interfaces, addresses and routes. Pure: no I/O.
//!
//! Interfaces are named `eth0`, `eth1`, ... on each node in the order of the links
//! that mention it. Link `i` (0-based) gets `10.81.(i+1).0/24` and
//! `fd00:81:(i+1)::/64` unless the scenario gives subnets; the first node of
//! `between` takes `.1`/`::1`, the second `.2`/`::2`. These ranges are private
//! (RFC 1918, RFC 4193) and only ever exist inside the lab's namespaces.
//!
//! Routes: every node gets a route to every subnet it is not attached to, via the
//! first hop of a shortest path that only passes through routers (ties go to the
//! link listed first); `[[route]]` entries replace those for one destination node.
//! A host can be the next hop toward a subnet it sits on: that reaches the host's
//! own address there (asymmetric routing needs it), not the rest of the subnet.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::spec::ScenarioFile;

/// An interface of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// `eth0`, `eth1`, ...
    pub name: String,
    /// Index of its link.
    pub link: usize,
    /// The node at the other end.
    pub peer: usize,
    /// The peer's interface name.
    pub peer_iface: String,
    /// Interface MTU.
    pub mtu: u32,
    /// Transmit-only limit (locked route MTU) on this interface.
    pub tx_mtu: Option<u32>,
    /// IPv4 address (/24).
    pub v4: Ipv4Addr,
    /// IPv6 address (/64).
    pub v6: Ipv6Addr,
}

/// A node with its interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Scenario name.
    pub name: String,
    /// Forwards packets.
    pub router: bool,
    /// In link order.
    pub ifaces: Vec<Iface>,
}

/// A subnet of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// IPv4 network address (/24).
    pub v4: Ipv4Addr,
    /// IPv6 prefix (/64).
    pub v6: Ipv6Addr,
    /// The two nodes on it.
    pub nodes: [usize; 2],
}

/// A route at one node toward one link's subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The node it is installed on.
    pub node: usize,
    /// The destination link (its subnet).
    pub link: usize,
    /// The outgoing interface.
    pub dev: String,
    /// Next hop addresses.
    pub via4: Ipv4Addr,
    /// Next hop IPv6 address.
    pub via6: Ipv6Addr,
    /// `mtu lock` when the outgoing interface has a transmit limit.
    pub mtu_lock: Option<u32>,
}

/// The resolved topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// In scenario order.
    pub nodes: Vec<Node>,
    /// One per link, in scenario order.
    pub subnets: Vec<Subnet>,
    /// Every route, by node then destination link.
    pub routes: Vec<Route>,
}

/// Parses `A.B.C.0/24`.
pub fn parse_subnet4(text: &str) -> Option<Ipv4Addr> {
    let (addr, len) = text.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    (len == "24" && addr.octets()[3] == 0).then_some(addr)
}

/// Parses `PREFIX::/64` (the last 64 bits zero).
pub fn parse_subnet6(text: &str) -> Option<Ipv6Addr> {
    let (addr, len) = text.split_once('/')?;
    let addr: Ipv6Addr = addr.parse().ok()?;
    (len == "64" && addr.segments()[4..].iter().all(|&s| s == 0)).then_some(addr)
}

impl Topology {
    /// Resolves a scenario file. Its names are checked as far as links go (by
    /// [`crate::Scenario::parse`], which keeps the result); unknown names are
    /// skipped.
    pub(crate) fn new(file: &ScenarioFile) -> Topology {
        let index = |name: &str| file.nodes.iter().position(|n| n.get_ref().name == name);
        let mut nodes: Vec<Node> = file
            .nodes
            .iter()
            .map(|n| Node {
                name: n.get_ref().name.clone(),
                router: n.get_ref().router,
                ifaces: Vec::new(),
            })
            .collect();
        let mut subnets = Vec::new();
        for (i, link) in file.links.iter().enumerate() {
            let link = link.get_ref();
            let (Some(a), Some(b)) = (index(&link.between[0]), index(&link.between[1])) else {
                continue;
            };
            let number = u8::try_from(i + 1).unwrap_or(u8::MAX);
            let v4 = link
                .subnet4
                .as_deref()
                .and_then(parse_subnet4)
                .unwrap_or(Ipv4Addr::new(10, 81, number, 0));
            let v6 = link
                .subnet6
                .as_deref()
                .and_then(parse_subnet6)
                .unwrap_or(Ipv6Addr::new(
                    0xfd00,
                    0x81,
                    u16::from(number),
                    0,
                    0,
                    0,
                    0,
                    0,
                ));
            let mtus = link.mtus.unwrap_or([link.mtu.unwrap_or(1500); 2]);
            let names = [
                format!("eth{}", nodes[a].ifaces.len()),
                format!("eth{}", nodes[b].ifaces.len()),
            ];
            for (end, (node, peer)) in [(a, b), (b, a)].into_iter().enumerate() {
                let host = u8::try_from(end + 1).unwrap_or(1);
                let [o0, o1, o2, _] = v4.octets();
                let mut s = v6.segments();
                s[7] = u16::from(host);
                nodes[node].ifaces.push(Iface {
                    name: names[end].clone(),
                    link: i,
                    peer,
                    peer_iface: names[1 - end].clone(),
                    mtu: mtus[end],
                    tx_mtu: link
                        .tx_mtu
                        .as_ref()
                        .filter(|t| t.from == link.between[end])
                        .map(|t| t.mtu),
                    v4: Ipv4Addr::new(o0, o1, o2, host),
                    v6: Ipv6Addr::from(s),
                });
            }
            subnets.push(Subnet {
                v4,
                v6,
                nodes: [a, b],
            });
        }
        let mut topology = Topology {
            nodes,
            subnets,
            routes: Vec::new(),
        };
        topology.routes = topology.compute_routes(file);
        topology
    }

    /// The interface of `node` facing `peer` (the first such link).
    pub fn iface_toward(&self, node: usize, peer: usize) -> Option<&Iface> {
        self.nodes.get(node)?.ifaces.iter().find(|i| i.peer == peer)
    }

    /// Index of a node by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// `NODE-IFACE` for every interface, node by node.
    pub fn capture_points_all(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.ifaces
                    .iter()
                    .map(move |i| format!("{}-{}", n.name, i.name))
            })
            .collect()
    }

    /// The address of a host that traffic uses: its first interface's.
    pub fn primary(&self, node: usize) -> Option<&Iface> {
        self.nodes.get(node)?.ifaces.first()
    }

    fn compute_routes(&self, file: &ScenarioFile) -> Vec<Route> {
        let mut routes = Vec::new();
        for node in 0..self.nodes.len() {
            // Breadth first from `node`: the order nodes are reached in (nearest
            // first) and the first hop toward each. Only routers pass packets on.
            let mut first_hop: Vec<Option<usize>> = vec![None; self.nodes.len()];
            let mut order: Vec<usize> = Vec::new();
            let mut seen = vec![false; self.nodes.len()];
            seen[node] = true;
            let mut queue = std::collections::VecDeque::new();
            for iface in &self.nodes[node].ifaces {
                if !seen[iface.peer] {
                    seen[iface.peer] = true;
                    first_hop[iface.peer] = Some(iface.peer);
                    queue.push_back(iface.peer);
                }
            }
            while let Some(current) = queue.pop_front() {
                order.push(current);
                if !self.nodes[current].router {
                    continue;
                }
                for iface in &self.nodes[current].ifaces {
                    if !seen[iface.peer] {
                        seen[iface.peer] = true;
                        first_hop[iface.peer] = first_hop[current];
                        queue.push_back(iface.peer);
                    }
                }
            }
            for (link, subnet) in self.subnets.iter().enumerate() {
                if subnet.nodes.contains(&node) {
                    continue;
                }
                let override_via = file.routes.iter().map(|r| r.get_ref()).find_map(|r| {
                    let to = self.index(&r.to)?;
                    (self.index(&r.node) == Some(node) && subnet.nodes.contains(&to))
                        .then(|| self.index(&r.via))
                        .flatten()
                });
                let hop = override_via.or_else(|| {
                    order
                        .iter()
                        .find(|n| subnet.nodes.contains(n))
                        .and_then(|&n| first_hop[n])
                });
                let Some(hop) = hop else { continue };
                let Some(out) = self.iface_toward(node, hop) else {
                    continue;
                };
                let Some(gateway) = self.iface_toward(hop, node) else {
                    continue;
                };
                routes.push(Route {
                    node,
                    link,
                    dev: out.name.clone(),
                    via4: gateway.v4,
                    via6: gateway.v6,
                    mtu_lock: out.tx_mtu,
                });
            }
        }
        routes
    }

    /// Whether the nodes form one chain (each node has at most two links, no
    /// cycle), listed end to end; `None` otherwise.
    pub fn chain(&self) -> Option<Vec<usize>> {
        if self.nodes.is_empty() || self.nodes.iter().any(|n| n.ifaces.len() > 2) {
            return None;
        }
        if self.subnets.len() + 1 != self.nodes.len() {
            return None;
        }
        let start = self.nodes.iter().position(|n| n.ifaces.len() <= 1)?;
        let mut order = vec![start];
        let mut previous = None;
        let mut current = start;
        loop {
            let next = self.nodes[current]
                .ifaces
                .iter()
                .map(|i| i.peer)
                .find(|&p| Some(p) != previous);
            match next {
                Some(next) if !order.contains(&next) => {
                    order.push(next);
                    previous = Some(current);
                    current = next;
                }
                Some(_) => return None,
                None => break,
            }
        }
        (order.len() == self.nodes.len()).then_some(order)
    }
}
