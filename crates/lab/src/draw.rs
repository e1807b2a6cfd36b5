//! The ASCII drawing `mss lab show` prints: nodes as boxes with their settings,
//! interfaces with addresses and MTUs. A chain is drawn top to bottom with each
//! link between its two interfaces; any other shape lists its links after the
//! boxes. Fits 80 columns.

use crate::scenario::Scenario;
use crate::spec::{ClampMethod, Node};
use crate::topology::Iface;

/// The lines in a node's box: its name and role, then its settings.
fn node_lines(scenario: &Scenario, index: usize) -> Vec<String> {
    let node = &scenario.topology.nodes[index];
    let traffic = &scenario.traffic;
    let mut role = if node.router { "router" } else { "host" }.to_string();
    if traffic.client == node.name {
        role.push_str(", traffic client");
    }
    if traffic.server == node.name {
        role.push_str(", traffic server");
    }
    let mut lines = vec![format!("{}  ({role})", node.name)];
    let Some(spec) = scenario.node(&node.name) else {
        return lines;
    };
    lines.extend(clamp_lines(spec));
    if spec.drop_icmp_too_big {
        lines.push("drops ICMP frag-needed / packet-too-big (black hole)".into());
    }
    if let Some(on) = spec.tcp_timestamps {
        lines.push(format!("tcp_timestamps={}", u8::from(on)));
    }
    if let Some(mode) = spec.tcp_mtu_probing {
        lines.push(format!("tcp_mtu_probing={mode}"));
    }
    if spec.offloads {
        lines.push("offloads on (TSO/GSO/GRO)".into());
    }
    for (key, value) in &spec.sysctls {
        lines.push(format!("{key}={value}"));
    }
    if traffic.client == node.name {
        if let Some(mss) = traffic.client_mss {
            lines.push(format!("client socket TCP_MAXSEG {mss}"));
        }
    }
    lines
}

/// The lines that describe a node's clamp (none without one).
fn clamp_lines(spec: &Node) -> Vec<String> {
    let Some(clamp) = &spec.clamp else {
        return Vec::new();
    };
    let toward = clamp
        .toward
        .as_ref()
        .map(|t| format!(", only on the interface toward {t}"))
        .unwrap_or_default();
    let tool = match clamp.method {
        ClampMethod::NftRtmtu => {
            return vec![format!(
                "clamp (nft rt mtu): SYN MSS to route MTU - 40/60{toward}"
            )];
        }
        ClampMethod::Iptables => "iptables TCPMSS",
        ClampMethod::Mss => "mss clamp --nfqueue",
        ClampMethod::Nft => "nft",
    };
    let (mss, mss6) = (clamp.mss.unwrap_or(0), clamp.mss6.unwrap_or(0));
    let mut lines = vec![format!(
        "clamp ({tool}): SYN MSS > {mss} -> {mss}, IPv6 > {mss6} -> {mss6}"
    )];
    if !toward.is_empty() {
        lines.push(toward.trim_start_matches(", ").to_string());
    }
    lines
}

fn boxed(out: &mut String, lines: &[String], width: usize) {
    let rule = format!("  +{}+\n", "-".repeat(width + 2));
    out.push_str(&rule);
    for line in lines {
        out.push_str(&format!("  | {line:<width$} |\n"));
    }
    out.push_str(&rule);
}

fn iface_line(iface: &Iface) -> String {
    let mut line = format!(
        "     {:<5} {:<13} {:<18} mtu {}",
        iface.name,
        iface.v4.to_string(),
        iface.v6.to_string(),
        iface.mtu
    );
    if let Some(tx) = iface.tx_mtu {
        line.push_str(&format!(", sends <= {tx}"));
    }
    line
}

/// The drawing, ending with a newline.
pub fn draw(scenario: &Scenario) -> String {
    let topology = &scenario.topology;
    let all: Vec<Vec<String>> = (0..topology.nodes.len())
        .map(|i| node_lines(scenario, i))
        .collect();
    let width = all
        .iter()
        .flatten()
        .map(String::len)
        .max()
        .unwrap_or(20)
        .clamp(30, 72);
    let mut out = String::new();
    if let Some(order) = topology.chain() {
        for (step, &node) in order.iter().enumerate() {
            boxed(&mut out, &all[node], width);
            let Some(&next) = order.get(step + 1) else {
                break;
            };
            if let (Some(a), Some(b)) = (
                topology.iface_toward(node, next),
                topology.iface_toward(next, node),
            ) {
                out.push_str(&iface_line(a));
                out.push('\n');
                out.push_str("       |\n");
                out.push_str(&iface_line(b));
                out.push('\n');
            }
        }
    } else {
        for (i, lines) in all.iter().enumerate() {
            boxed(&mut out, lines, width);
            for iface in &topology.nodes[i].ifaces {
                out.push_str(&iface_line(iface));
                out.push_str(&format!(
                    "  -> {} {}\n",
                    topology.nodes[iface.peer].name, iface.peer_iface
                ));
            }
        }
    }
    let explicit: Vec<String> = scenario
        .routes
        .iter()
        .map(|r| format!("  route: {} reaches {} via {}", r.node, r.to, r.via))
        .collect();
    if !explicit.is_empty() {
        out.push('\n');
        for line in explicit {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
