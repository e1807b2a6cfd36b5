//! `mss host`: gathers what decides the MSS on this host (netlink, /proc/sys, nft,
//! iptables-save) into [`mss_host::Facts`] and prints what [`mss_host::report`]
//! makes of them.

use std::io::Write;
use std::process::{Command, ExitCode};

use mss_host::{Facts, Interface, Item, LearnedPmtu, Level, Offloads, Route, clamps, sysctl};

use crate::Failure;
use crate::cli::HostArgs;

pub(crate) fn run(args: &HostArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let facts = crate::netns::run_in(args.netns.as_deref(), gather)?;
    let items = mss_host::report(&facts);
    if args.json {
        for item in &items {
            let mut value = serde_json::to_value(item).map_err(std::io::Error::other)?;
            if let Some(map) = value.as_object_mut() {
                map.insert("type".into(), "host_item".into());
            }
            serde_json::to_writer(&mut *out, &value).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
    } else {
        human(out, &items)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything there is to read, in the calling thread's namespace. What cannot be
/// read is said in `unknown`, not an error: the rest of the report stands.
fn gather() -> Result<Facts, Failure> {
    let mut facts = Facts::default();
    let links = mss_net::route::links()
        .map_err(|e| Failure::Input(format!("cannot list the interfaces (netlink): {e}")))?;
    for link in links {
        let offloads = match mss_net::ethtool::offloads(&link.name) {
            Ok(o) => Some(Offloads {
                tso: o.tso,
                gso: o.gso,
                gro: o.gro,
                lro: o.lro,
                tx_checksum: o.tx_checksum,
            }),
            Err(e) => {
                facts.unknown.push(format!(
                    "{}: offloads not read (ethtool netlink): {e}",
                    link.name
                ));
                None
            }
        };
        facts.interfaces.push(Interface {
            index: link.index,
            name: link.name,
            mtu: link.mtu,
            up: link.up,
            oper_state: link.oper_state,
            kind: link.kind,
            parent: link.parent,
            offloads,
        });
    }
    match mss_net::route::routes() {
        Ok(routes) => facts.routes = routes.into_iter().map(route).collect(),
        Err(e) => facts
            .unknown
            .push(format!("routes not read (netlink): {e}")),
    }
    match mss_net::route::pmtu_exceptions() {
        Ok(learned) => {
            facts.learned = learned
                .into_iter()
                .map(|p| LearnedPmtu {
                    family: p.family,
                    destination: p.destination,
                    gateway: p.gateway,
                    device: p.device,
                    mtu: p.mtu,
                    expires_s: p.expires_s,
                    mtu_locked: p.mtu_locked,
                })
                .collect();
        }
        Err(e) => facts
            .unknown
            .push(format!("learned path MTUs not read (netlink): {e}")),
    }
    for name in sysctl::names() {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        if let Ok(value) = std::fs::read_to_string(&path) {
            facts
                .sysctls
                .push((name.to_string(), value.trim().to_string()));
        }
    }
    match tool_output("nft", &["-j", "list", "ruleset"], "nftables") {
        Ok(json) => match clamps::nft_clamps(&json) {
            Ok(found) => facts.clamps.extend(found),
            Err(e) => facts.unknown.push(e),
        },
        Err(e) => facts.unknown.push(e),
    }
    for tool in ["iptables", "ip6tables"] {
        let save = format!("{tool}-save");
        match tool_output(&save, &[], "iptables") {
            Ok(text) => {
                let rules = mss_host::iptables::parse_save(tool, &text);
                let (found, queues) = clamps::iptables_clamps(&rules);
                facts.clamps.extend(found);
                facts.queue_rules.extend(queues);
            }
            Err(e) => facts.unknown.push(e),
        }
    }
    facts.bound_queues = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue")
        .map(|text| {
            text.lines()
                .filter_map(|l| l.split_whitespace().next()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    Ok(facts)
}

fn route(r: mss_net::route::Route) -> Route {
    Route {
        family: r.family,
        destination: r.destination,
        gateway: r.gateway,
        device: r.device,
        table: r.table,
        mtu: r.mtu,
        mtu_locked: r.mtu_locked,
        advmss: r.advmss,
    }
}

/// A tool's standard output, or why it could not be had (for `unknown`).
fn tool_output(tool: &str, args: &[&str], package: &str) -> Result<String, String> {
    let output = Command::new(tool).args(args).output().map_err(|e| {
        format!("{tool} not run ({e}): its clamps are not known (apt-get install {package})")
    })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let hint = if said.contains("ermission") || said.contains("not permitted") {
        " (reading firewall rules needs root, CAP_NET_ADMIN)"
    } else {
        ""
    };
    Err(format!("{tool} failed: {}{hint}", said.trim()))
}

/// The headings of the areas, in the report's order.
const AREAS: [(&str, &str); 9] = [
    ("interface", "Interfaces"),
    ("offloads", "Offloads"),
    ("route", "Routes with an MTU or advmss"),
    ("learned_pmtu", "Path MTUs learned from ICMP"),
    ("clamp", "MSS clamps"),
    ("queue", "NFQUEUE rules"),
    ("tunnel", "Tunnels"),
    ("sysctl", "Sysctls"),
    ("unknown", "Not read"),
];

fn human(out: &mut impl Write, items: &[Item]) -> std::io::Result<()> {
    let mut first = true;
    for (area, heading) in AREAS {
        let of_area: Vec<&Item> = items.iter().filter(|i| i.area == area).collect();
        if of_area.is_empty() {
            continue;
        }
        if !first {
            writeln!(out)?;
        }
        first = false;
        writeln!(out, "{heading}")?;
        for item in of_area {
            // A sysctl at its default: one line.
            if area == "sysctl" && item.level == Level::Info {
                writeln!(out, "  {}  {}", item.subject, item.value)?;
                continue;
            }
            let mark = match item.level {
                Level::Warning => "  [warning]",
                _ => "",
            };
            writeln!(out, "  {}  {}{mark}", item.subject, item.value)?;
            for line in crate::render::wrap(&item.meaning, "      ", "      ") {
                writeln!(out, "{line}")?;
            }
            if let Some(fix) = &item.fix {
                for line in crate::render::wrap(fix, "      fix: ", "           ") {
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    Ok(())
}
