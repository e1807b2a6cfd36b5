//! The checks of [`Scenario::parse`] beyond serde's, in the order they run (the
//! first mistake is the one reported): the name, the nodes, the links, the
//! topology they make, the routes, the traffic, the capture points and the
//! expectations. Each error names the line of the table that holds the mistake.

use std::ops::Range;

use toml::Spanned;

use super::{
    Load, MAX_MIX_CONCURRENCY, MAX_MIX_CONNECTIONS, MAX_NODE_NAME, Scenario, ScenarioError,
    Traffic, line_of,
};
use crate::spec::{ClampMethod, Expect, Family, Mix, Node, Place, ScenarioFile};
use crate::topology::{Topology, parse_subnet4, parse_subnet6};

/// The text of the file, to say where a mistake is.
struct Source<'a> {
    text: &'a str,
}

impl Source<'_> {
    /// An error at the line where `span` starts.
    fn error(&self, span: Range<usize>, message: String) -> ScenarioError {
        ScenarioError {
            line: Some(line_of(self.text, span.start)),
            message,
        }
    }

    /// An error about a spanned table, at its line.
    fn at<T>(&self, table: &Spanned<T>, message: String) -> ScenarioError {
        self.error(table.span(), message)
    }
}

/// Checks a file read from `text` and makes the scenario of it.
pub(super) fn check(file: ScenarioFile, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source { text };
    check_name(&file.name, text)?;
    if file.families.is_empty() {
        return Err(ScenarioError {
            line: None,
            message: "families is empty: give [\"ipv4\"], [\"ipv6\"] or both".into(),
        });
    }
    if file.nodes.is_empty() {
        return Err(ScenarioError {
            line: None,
            message: "no [[node]]: a scenario needs hosts (and routers) to run".into(),
        });
    }
    check_nodes(&file, &source)?;
    check_links(&file, &source)?;
    let topology = Topology::new(&file);
    check_subnets(&file, &topology, &source)?;
    check_node_links(&file, &source)?;
    check_routes(&file, &source)?;
    let traffic = check_traffic(&file, &source)?;
    let capture_points = check_capture(&file, &topology, &source)?;
    let expects = file
        .expects
        .iter()
        .map(|declared| {
            let expect = &declared.get_ref().0;
            check_expect(expect, &capture_points)
                .map(|()| expect.clone())
                .map_err(|message| source.at(declared, format!("expect: {message}")))
        })
        .collect::<Result<Vec<Expect>, ScenarioError>>()?;
    Ok(Scenario {
        name: file.name,
        title: file.title,
        description: file.description,
        families: file.families,
        nodes: file.nodes.into_iter().map(Spanned::into_inner).collect(),
        routes: file.routes.into_iter().map(Spanned::into_inner).collect(),
        traffic,
        capture_points,
        expects,
        topology,
    })
}

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The scenario's own name; a mistake is placed at the top-level `name = ...` line
/// (before the first table).
fn check_name(name: &str, text: &str) -> Result<(), ScenarioError> {
    if valid_name(name, 40) {
        return Ok(());
    }
    let line = text
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| {
            l.trim_start()
                .strip_prefix("name")
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1);
    Err(ScenarioError {
        line: Some(line),
        message: format!("name {name:?}: use lowercase letters, digits and '-' (at most 40)"),
    })
}

/// Each node's name (valid, unique) and settings, node by node.
fn check_nodes(file: &ScenarioFile, source: &Source<'_>) -> Result<(), ScenarioError> {
    let mut names: Vec<&str> = Vec::new();
    for node in &file.nodes {
        let n = node.get_ref();
        if !valid_name(&n.name, MAX_NODE_NAME) {
            return Err(source.at(
                node,
                format!(
                    "node name {:?}: use lowercase letters, digits and '-', starting with a \
                     letter, at most {MAX_NODE_NAME} characters",
                    n.name
                ),
            ));
        }
        if names.contains(&n.name.as_str()) {
            return Err(source.at(node, format!("node {:?} is defined twice", n.name)));
        }
        names.push(&n.name);
        check_node_settings(n).map_err(|message| source.at(node, message))?;
    }
    Ok(())
}

/// A node's sysctls, clamp and ICMP filter.
fn check_node_settings(n: &Node) -> Result<(), String> {
    if let Some(mode) = n.tcp_mtu_probing {
        if mode > 2 {
            return Err(format!(
                "node {}: tcp_mtu_probing is 0, 1 or 2, not {mode}",
                n.name
            ));
        }
    }
    for key in n.sysctls.keys() {
        if !(key.starts_with("net.ipv4.") || key.starts_with("net.ipv6.")) {
            return Err(format!(
                "node {}: sysctl {key:?}: only net.ipv4.* and net.ipv6.* are set (they \
                 belong to the node's namespace; others would change the host)",
                n.name
            ));
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(format!("node {}: bad sysctl name {key:?}", n.name));
        }
    }
    check_clamp(n)?;
    if n.drop_icmp_too_big && !n.router {
        return Err(format!(
            "node {}: drop_icmp_too_big needs `router = true`",
            n.name
        ));
    }
    Ok(())
}

/// A node's clamp: on a router, with the values its method needs and no others.
/// (`toward` is checked once the links are known.)
fn check_clamp(n: &Node) -> Result<(), String> {
    let Some(clamp) = &n.clamp else {
        return Ok(());
    };
    if !n.router {
        return Err(format!(
            "node {}: a clamp acts on forwarded SYNs; add `router = true`",
            n.name
        ));
    }
    let needs_values = clamp.method != ClampMethod::NftRtmtu;
    if needs_values && (clamp.mss.is_none() || clamp.mss6.is_none()) {
        return Err(format!(
            "node {}: clamp method \"{}\" needs both `mss` (IPv4) and `mss6` (IPv6; usually \
             20 less)",
            n.name,
            clamp.method.name()
        ));
    }
    if clamp.method == ClampMethod::Mss && clamp.toward.is_some() {
        return Err(format!(
            "node {}: clamp method \"mss\" clamps every forwarded SYN; remove `toward`",
            n.name
        ));
    }
    if !needs_values && (clamp.mss.is_some() || clamp.mss6.is_some()) {
        return Err(format!(
            "node {}: clamp method nft-rtmtu takes its value from the route MTU; remove \
             `mss`/`mss6`",
            n.name
        ));
    }
    for value in [clamp.mss, clamp.mss6].into_iter().flatten() {
        if value < 20 {
            return Err(format!(
                "node {}: clamp value {value} is not a usable MSS",
                n.name
            ));
        }
    }
    Ok(())
}

/// Each link: between two different known nodes, with MTUs veth takes and subnets
/// of the right size.
fn check_links(file: &ScenarioFile, source: &Source<'_>) -> Result<(), ScenarioError> {
    let known = |name: &str| file.nodes.iter().any(|n| n.get_ref().name == name);
    for link in &file.links {
        let l = link.get_ref();
        let fail = |message: String| Err(source.at(link, message));
        for end in &l.between {
            if !known(end) {
                return fail(format!("link: no node called {end:?}"));
            }
        }
        if l.between[0] == l.between[1] {
            return fail("link: a node cannot link to itself".into());
        }
        if l.mtu.is_some() && l.mtus.is_some() {
            return fail("link: give `mtu` or `mtus`, not both".into());
        }
        for mtu in l.mtus.into_iter().flatten().chain(l.mtu) {
            if !(68..=65535).contains(&mtu) {
                return fail(format!(
                    "link: MTU {mtu} is outside 68..=65535 (veth's range)"
                ));
            }
        }
        if let Some(tx) = &l.tx_mtu {
            if !l.between.contains(&tx.from) {
                return fail(format!(
                    "link: tx_mtu.from {:?} is not an end of this link",
                    tx.from
                ));
            }
            if !(68..=65535).contains(&tx.mtu) {
                return fail(format!("link: tx_mtu {} is not an MTU", tx.mtu));
            }
        }
        if let Some(s) = l.subnet4.as_ref().filter(|s| parse_subnet4(s).is_none()) {
            return fail(format!(
                "link: subnet4 {s:?}: give a /24 such as \"10.81.7.0/24\""
            ));
        }
        if let Some(s) = l.subnet6.as_ref().filter(|s| parse_subnet6(s).is_none()) {
            return fail(format!(
                "link: subnet6 {s:?}: give a /64 such as \"fd00:81:7::/64\""
            ));
        }
    }
    Ok(())
}

/// No two links on the same subnet (given, or given and automatic).
fn check_subnets(
    file: &ScenarioFile,
    topology: &Topology,
    source: &Source<'_>,
) -> Result<(), ScenarioError> {
    for (i, subnet) in topology.subnets.iter().enumerate() {
        let earlier = topology.subnets[..i]
            .iter()
            .find(|s| s.v4 == subnet.v4 || s.v6 == subnet.v6);
        if let (Some(earlier), Some(link)) = (earlier, file.links.get(i)) {
            let (what, net) = if earlier.v4 == subnet.v4 {
                ("subnet4", format!("{}/24", subnet.v4))
            } else {
                ("subnet6", format!("{}/64", subnet.v6))
            };
            return Err(source.at(
                link,
                format!(
                    "link: {what} {net} is already another link's (link i gets \
                     10.81.i.0/24 and fd00:81:i::/64 unless given); choose another"
                ),
            ));
        }
    }
    Ok(())
}

/// The neighbours of a node, in link order.
fn neighbours<'a>(file: &'a ScenarioFile, node: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    file.links.iter().filter_map(move |l| {
        let [a, b] = &l.get_ref().between;
        if a == node {
            Some(b.as_str())
        } else if b == node {
            Some(a.as_str())
        } else {
            None
        }
    })
}

/// Every node has a link, and a clamp `toward` names a neighbour.
fn check_node_links(file: &ScenarioFile, source: &Source<'_>) -> Result<(), ScenarioError> {
    for node in &file.nodes {
        let n = node.get_ref();
        if neighbours(file, &n.name).next().is_none() {
            return Err(source.at(node, format!("node {} has no link", n.name)));
        }
        if let Some(toward) = n.clamp.as_ref().and_then(|c| c.toward.as_ref()) {
            if !neighbours(file, &n.name).any(|x| x == toward) {
                return Err(source.at(
                    node,
                    format!(
                        "node {}: clamp.toward {toward:?} is not a neighbour",
                        n.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Each route: known nodes, via a neighbour that forwards (or is the destination).
fn check_routes(file: &ScenarioFile, source: &Source<'_>) -> Result<(), ScenarioError> {
    let node = |name: &str| {
        file.nodes
            .iter()
            .map(Spanned::get_ref)
            .find(|n| n.name == name)
    };
    for route in &file.routes {
        let r = route.get_ref();
        for name in [&r.node, &r.to, &r.via] {
            if node(name).is_none() {
                return Err(source.at(route, format!("route: no node called {name:?}")));
            }
        }
        if !neighbours(file, &r.node).any(|x| x == r.via) {
            return Err(source.at(
                route,
                format!("route: {} is not a neighbour of {}", r.via, r.node),
            ));
        }
        if node(&r.via).is_some_and(|v| !v.router) && r.via != r.to {
            return Err(source.at(
                route,
                format!(
                    "route: {} is a host and does not forward; make it a router",
                    r.via
                ),
            ));
        }
    }
    Ok(())
}

/// The traffic: between two different hosts, one kind of load, numbers in range.
fn check_traffic(file: &ScenarioFile, source: &Source<'_>) -> Result<Traffic, ScenarioError> {
    let traffic = file.traffic.get_ref();
    let fail = |message: &str| Err(source.at(&file.traffic, message.to_string()));
    let hosts = || {
        file.nodes
            .iter()
            .map(Spanned::get_ref)
            .filter(|n| !n.router)
            .map(|n| n.name.as_str())
    };
    let client = traffic.client.as_deref().or_else(|| hosts().next());
    let server = traffic.server.as_deref().or_else(|| hosts().next_back());
    let (client, server) = (client.unwrap_or("client"), server.unwrap_or("server"));
    for (role, name) in [("client", client), ("server", server)] {
        match file.nodes.iter().find(|n| n.get_ref().name == name) {
            None => return fail(&format!("traffic.{role}: no node called {name:?}")),
            Some(n) if n.get_ref().router => {
                return fail(&format!(
                    "traffic.{role}: {name} is a router; traffic runs between hosts"
                ));
            }
            Some(_) => {}
        }
    }
    if client == server {
        return fail("traffic: client and server are the same node");
    }
    let load = match (traffic.bulk, traffic.short, &traffic.mix) {
        (Some(bulk), None, None) => Load::Bulk(bulk),
        (None, Some(short), None) if (1..=1000).contains(&short.count) => Load::Short(short),
        (None, Some(_), None) => return fail("traffic.short.count: between 1 and 1000"),
        (None, None, Some(mix)) => {
            check_mix(mix, &file.families).map_err(|m| source.at(&file.traffic, m))?;
            Load::Mix(mix.clone())
        }
        _ => {
            return fail(
                "traffic: give exactly one of `bulk = { up = .., down = .. }`, `short = \
                 { count = .., up = .., down = .. }` and `mix = { .. }`",
            );
        }
    };
    if let Some(mss) = traffic.client_mss.filter(|mss| !(1..=65535).contains(mss)) {
        return fail(&format!("traffic.client_mss {mss} is not an MSS"));
    }
    if traffic.timeout_s.is_some_and(|t| !(1..=600).contains(&t)) {
        return fail("traffic.timeout_s: between 1 and 600");
    }
    Ok(Traffic {
        client: client.to_string(),
        server: server.to_string(),
        load,
        client_mss: traffic.client_mss,
        timeout_s: traffic.timeout_s.unwrap_or(10),
    })
}

/// A mix's numbers, each in range; its IPv6 share only with both families.
fn check_mix(mix: &Mix, families: &[Family]) -> Result<(), String> {
    if !(1..=MAX_MIX_CONNECTIONS).contains(&mix.count) {
        return Err(format!(
            "traffic.mix.count: between 1 and {MAX_MIX_CONNECTIONS}"
        ));
    }
    if !(1..=MAX_MIX_CONCURRENCY).contains(&mix.concurrency) {
        return Err(format!(
            "traffic.mix.concurrency: between 1 and {MAX_MIX_CONCURRENCY}"
        ));
    }
    let [min, max] = mix.up;
    if min < 32 || min > max || max > 1 << 20 {
        return Err(format!(
            "traffic.mix.up = [{min}, {max}]: give [min, max] with 32 <= min <= max <= \
             1048576 (each request starts with a 32-byte header)"
        ));
    }
    if mix.down.is_empty() || mix.down.iter().all(|[_, weight]| *weight == 0) {
        return Err(
            "traffic.mix.down: give [bytes, weight] pairs such as [[512, 3], [4096, 1]], \
             with some weight above 0"
                .into(),
        );
    }
    if let Some([bytes, _]) = mix.down.iter().find(|[bytes, _]| *bytes > 1 << 30) {
        return Err(format!(
            "traffic.mix.down: {bytes} bytes is more than a short connection carries \
             (1 GiB at most; use mix.bulk)"
        ));
    }
    let both = families.contains(&Family::Ipv4) && families.contains(&Family::Ipv6);
    match mix.ipv6_percent {
        Some(p) if p > 100 => return Err(format!("traffic.mix.ipv6_percent {p}: 0 to 100")),
        Some(_) if !both => {
            return Err("traffic.mix.ipv6_percent needs families = [\"ipv4\", \"ipv6\"]".into());
        }
        _ => {}
    }
    if let Some(lowered) = &mix.lowered_mss {
        if lowered.percent > 100 {
            return Err(format!(
                "traffic.mix.lowered_mss.percent {}: 0 to 100",
                lowered.percent
            ));
        }
        if lowered.values.is_empty() {
            return Err("traffic.mix.lowered_mss.values: give at least one MSS".into());
        }
        if let Some(mss) = lowered.values.iter().find(|m| !(1..=65535).contains(*m)) {
            return Err(format!(
                "traffic.mix.lowered_mss.values: {mss} is not an MSS"
            ));
        }
    }
    if let Some(bulk) = mix.bulk {
        if !(1..=1000).contains(&bulk.count) || bulk.down == 0 {
            return Err("traffic.mix.bulk: count between 1 and 1000, down at least 1 byte".into());
        }
    }
    if mix.fill_mb.is_some_and(|mb| !(1..=100_000).contains(&mb)) {
        return Err("traffic.mix.fill_mb: between 1 and 100000".into());
    }
    if mix
        .pace_mb_s
        .is_some_and(|rate| !(1..=2000).contains(&rate))
    {
        return Err("traffic.mix.pace_mb_s: between 1 and 2000".into());
    }
    Ok(())
}

/// The capture points of the run: the ones written, each an interface of the
/// topology, or every interface.
fn check_capture(
    file: &ScenarioFile,
    topology: &Topology,
    source: &Source<'_>,
) -> Result<Vec<String>, ScenarioError> {
    let all = topology.capture_points_all();
    let Some(capture) = &file.capture else {
        return Ok(all);
    };
    // `NODE-any`: one capture of every interface of a node (`tcpdump -i any`),
    // taken only when asked for.
    let any: Vec<String> = topology
        .nodes
        .iter()
        .map(|n| format!("{}-any", n.name))
        .collect();
    if let Some(point) = capture
        .get_ref()
        .iter()
        .find(|p| !all.contains(p) && !any.contains(p))
    {
        return Err(source.at(
            capture,
            format!(
                "capture point {point:?} does not exist; the points are {} (and NODE-any \
                 for all of a node's interfaces)",
                all.join(", ")
            ),
        ));
    }
    Ok(capture.get_ref().clone())
}

/// What serde cannot check of an expectation: its capture point is one of the run.
fn check_expect(e: &Expect, points: &[String]) -> Result<(), String> {
    match e.at() {
        Some(Place::Point(at)) if !points.contains(at) => Err(format!(
            "at = {at:?} is not a capture point of this run; use \"all\" or one of {}",
            points.join(", ")
        )),
        _ => Ok(()),
    }
}
