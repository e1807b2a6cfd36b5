//! What on a host decides the TCP MSS, and what each thing means: interface MTUs
//! and offloads, routes with an MTU or advmss, path MTUs learned from ICMP, MSS
//! clamps, the sysctls that matter, and tunnels' MTUs against what their
//! encapsulation leaves. `mss host` gathers the [`Facts`] (netlink, /proc/sys, nft,
//! iptables-save); this crate explains them, without I/O.

pub mod clamps;
pub mod iptables;
pub mod sysctl;

use std::net::IpAddr;

use mss_rules::IpVersion;
use serde::Serialize;

use clamps::{Clamp, QueueRule, Target};

/// Offloads of an interface that change what a capture shows.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Offloads {
    pub tso: bool,
    pub gso: bool,
    pub gro: bool,
    pub lro: bool,
    pub tx_checksum: bool,
}

/// A network interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    pub mtu: u32,
    pub up: bool,
    pub oper_state: String,
    /// The link kind (`veth`, `wireguard`, `gre`, ...), none for NICs and lo.
    pub kind: Option<String>,
    /// The interface it sits on, by index.
    pub parent: Option<u32>,
    /// Its offloads, when they could be read.
    pub offloads: Option<Offloads>,
}

/// A route with an MTU or advmss metric.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub family: u8,
    pub destination: String,
    pub gateway: Option<IpAddr>,
    pub device: Option<String>,
    pub table: u32,
    pub mtu: Option<u32>,
    pub mtu_locked: bool,
    pub advmss: Option<u32>,
}

/// A path MTU the kernel learned from ICMP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LearnedPmtu {
    pub family: u8,
    pub destination: IpAddr,
    pub gateway: Option<IpAddr>,
    pub device: Option<String>,
    pub mtu: u32,
    pub expires_s: Option<u32>,
    pub mtu_locked: bool,
}

/// Everything gathered about a host.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub learned: Vec<LearnedPmtu>,
    /// Sysctl values by name (`net.ipv4.tcp_mtu_probing`), as read.
    pub sysctls: Vec<(String, String)>,
    pub clamps: Vec<Clamp>,
    pub queue_rules: Vec<QueueRule>,
    /// NFQUEUE queues a process is bound to (`/proc/net/netfilter/nfnetlink_queue`).
    pub bound_queues: Vec<u16>,
    /// What could not be read, said as such (a missing tool, no permission).
    pub unknown: Vec<String>,
}

/// How much an item matters.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// As it should be, or the kernel's default.
    Info,
    /// Changes the MSS or what captures show: worth knowing.
    Note,
    /// Likely wrong.
    Warning,
}

/// One thing that decides the MSS here, explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// `interface`, `offloads`, `route`, `learned_pmtu`, `clamp`, `queue`,
    /// `sysctl`, `tunnel`, `unknown`.
    pub area: &'static str,
    /// What it is about: an interface, a route, a sysctl name.
    pub subject: String,
    /// Its value, as shown.
    pub value: String,
    pub level: Level,
    /// What it means for the MSS.
    pub meaning: String,
    /// What to do, if anything.
    pub fix: Option<String>,
    /// Where the rule comes from.
    pub source: &'static str,
}

/// The MSS Linux advertises for an MTU ([`mss_rules::linux::advertised_mss`]:
/// MTU - 40 / - 60 with its floors and caps, 65495 / 65476 on loopback).
fn advertised(mtu: u32, version: IpVersion) -> u32 {
    let tunables = mss_rules::linux::LinuxTunables::default();
    u32::from(mss_rules::linux::advertised_mss(version, mss_rules::Mtu(mtu), None, &tunables).get())
}

/// Everything in `facts`, explained: interfaces first, then routes, learned
/// PMTUs, clamps, sysctls, tunnels, and what could not be read.
pub fn report(facts: &Facts) -> Vec<Item> {
    let mut items = Vec::new();
    interfaces(facts, &mut items);
    routes(facts, &mut items);
    learned(facts, &mut items);
    clamp_items(facts, &mut items);
    items.extend(sysctl::items(&facts.sysctls));
    tunnels(facts, &mut items);
    for unknown in &facts.unknown {
        items.push(Item {
            area: "unknown",
            subject: "not read".into(),
            value: String::new(),
            level: Level::Note,
            meaning: unknown.clone(),
            fix: None,
            source: "",
        });
    }
    items
}

fn interfaces(facts: &Facts, items: &mut Vec<Item>) {
    for link in &facts.interfaces {
        let state = if link.up {
            link.oper_state.to_lowercase()
        } else {
            "down".into()
        };
        let v4 = advertised(link.mtu, IpVersion::V4);
        let v6 = advertised(link.mtu, IpVersion::V6);
        items.push(Item {
            area: "interface",
            subject: link.name.clone(),
            value: format!("MTU {} ({state}{})", link.mtu, kind(link)),
            level: if link.up { Level::Info } else { Level::Note },
            meaning: format!(
                "TCP over it advertises MSS {v4} (IPv4) and {v6} (IPv6), and sends at most \
                 {} / {} with timestamps",
                v4.saturating_sub(12),
                v6.saturating_sub(12)
            ),
            fix: None,
            source: "RFC 9293 section 3.7.1; Linux tcp_mss_clamp(), ipv4_default_advmss()",
        });
        let Some(offloads) = link.offloads else {
            continue;
        };
        let splits = offloads.tso || offloads.gso;
        let merges = offloads.gro || offloads.lro;
        if !(splits || merges || offloads.tx_checksum) {
            continue;
        }
        let features = [
            (offloads.tso, "tso"),
            (offloads.gso, "gso"),
            (offloads.gro, "gro"),
            (offloads.lro, "lro"),
            (offloads.tx_checksum, "tx"),
        ];
        let on: Vec<&str> = features
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| if *name == "tx" { "tx-checksum" } else { name })
            .collect();
        let mut meaning = Vec::new();
        if splits {
            meaning.push(format!(
                "captures on {} show segments up to 64 KB from this host's TCP: \
                 super-segments the NIC or GSO cuts to the MSS after the capture",
                link.name
            ));
        }
        if merges {
            meaning.push(
                "segments it receives are merged before the capture, so they look larger \
                 than the MSS too"
                    .to_string(),
            );
        }
        if offloads.tx_checksum {
            meaning.push(
                "packets it sends are captured before their checksum is filled in (tcpdump \
                 and tshark call it incorrect; the wire has it right)"
                    .to_string(),
            );
        }
        let off: Vec<String> = features
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| format!("{name} off"))
            .collect();
        items.push(Item {
            area: "offloads",
            subject: link.name.clone(),
            value: format!("{} on", on.join(", ")),
            level: Level::Note,
            meaning: format!(
                "{}. SYNs, and their MSS option, are not changed by it",
                meaning.join("; ")
            ),
            fix: Some(format!(
                "to see what the wire carries: ethtool -K {} {}",
                link.name,
                off.join(" ")
            )),
            source: "Linux Documentation/networking/segmentation-offloads.rst, \
                     checksum-offloads.rst",
        });
    }
}

fn kind(link: &Interface) -> String {
    link.kind
        .as_deref()
        .map(|k| format!(", {k}"))
        .unwrap_or_default()
}

fn version_of(family: u8) -> IpVersion {
    if family == 6 {
        IpVersion::V6
    } else {
        IpVersion::V4
    }
}

fn routes(facts: &Facts, items: &mut Vec<Item>) {
    for route in &facts.routes {
        let version = version_of(route.family);
        let mut subject = route.destination.clone();
        if let Some(gateway) = route.gateway {
            subject.push_str(&format!(" via {gateway}"));
        }
        if let Some(device) = &route.device {
            subject.push_str(&format!(" dev {device}"));
        }
        if route.table != 254 {
            subject.push_str(&format!(" table {}", route.table));
        }
        let mut value = Vec::new();
        let mut meaning = Vec::new();
        if let Some(mtu) = route.mtu {
            value.push(format!(
                "mtu {}{mtu}",
                if route.mtu_locked { "lock " } else { "" }
            ));
            meaning.push(format!(
                "TCP to it advertises {} and sends at most {} (with timestamps); {}",
                advertised(mtu, version),
                advertised(mtu, version).saturating_sub(12),
                if route.mtu_locked && version == IpVersion::V4 {
                    "locked: ICMP fragmentation-needed never lowers it (PMTUD off for these \
                     destinations: packets go without Don't Fragment, ip_dont_fragment())"
                } else if route.mtu_locked {
                    "locked: ICMPv6 packet-too-big never lowers it"
                } else {
                    "ICMP too-big may still lower it"
                }
            ));
        }
        if let Some(advmss) = route.advmss {
            value.push(format!("advmss {advmss}"));
            meaning.push(format!(
                "SYNs to it announce MSS {advmss} whatever the MTU: the peer sends at most \
                 that"
            ));
        }
        items.push(Item {
            area: "route",
            subject,
            value: value.join(" "),
            level: Level::Note,
            meaning: meaning.join("; "),
            fix: None,
            source: "ip-route(8) mtu, advmss; Linux tcp_mss_clamp(), dst_metric_advmss()",
        });
    }
}

fn learned(facts: &Facts, items: &mut Vec<Item>) {
    for pmtu in &facts.learned {
        let version = version_of(pmtu.family);
        let mut subject = pmtu.destination.to_string();
        if let Some(device) = &pmtu.device {
            subject.push_str(&format!(" dev {device}"));
        }
        let expires = pmtu
            .expires_s
            .map(|s| format!(", expires in {s} s"))
            .unwrap_or_default();
        let floor = if pmtu.mtu_locked && version == IpVersion::V4 {
            "; locked: an ICMP message reported less than net.ipv4.route.min_pmtu, so \
             Linux uses min_pmtu and sends without Don't Fragment"
        } else {
            ""
        };
        items.push(Item {
            area: "learned_pmtu",
            subject,
            value: format!("mtu {}{expires}", pmtu.mtu),
            level: Level::Note,
            meaning: format!(
                "learned from an ICMP {}: TCP to it sends at most {} ({} with timestamps) \
                 until it expires{floor}",
                if version == IpVersion::V4 {
                    "fragmentation-needed"
                } else {
                    "packet-too-big"
                },
                advertised(pmtu.mtu, version),
                advertised(pmtu.mtu, version).saturating_sub(12)
            ),
            fix: Some(
                "ip route flush cache (IPv6: ip -6 route flush cache) forgets it; a clamp \
                 in front of the small link avoids relearning"
                    .into(),
            ),
            source: "RFC 1191, RFC 8201; Linux net.ipv4.route.mtu_expires (600 s)",
        });
    }
}

fn clamp_items(facts: &Facts, items: &mut Vec<Item>) {
    for clamp in &facts.clamps {
        let mut meaning = match clamp.target {
            Target::Fixed(v) => format!(
                "SYNs {} with an MSS above {v} leave with {v} (never raised); {}",
                clamp
                    .hook
                    .as_deref()
                    .map_or("it sees".to_string(), |h| format!("through the {h} hook")),
                match clamp.family.as_str() {
                    "inet" => format!(
                        "the same {v} for IPv6, whose headers take 20 more: IPv6 packets can \
                         be up to {} bytes",
                        u32::from(v) + 60
                    ),
                    _ => String::new(),
                }
            ),
            Target::RouteMtu => "SYNs get at most the route's MTU - 40 (IPv6 - 60), the \
                                 smaller of both directions' routes for iptables"
                .to_string(),
        };
        let mut level = Level::Info;
        let mut fix = None;
        // A clamp limited to SYNs leaving through an interface misses the replies
        // coming in through it, unless a mirror rule takes them.
        for out in &clamp.out_interfaces {
            let mirrored = facts.clamps.iter().any(|other| {
                other.in_interfaces.contains(out)
                    || (other.out_interfaces.is_empty() && other.in_interfaces.is_empty())
            });
            if !mirrored {
                level = Level::Warning;
                meaning.push_str(&format!(
                    "; only SYNs leaving through {out} are clamped: SYN-ACKs (and SYNs) \
                     coming in through {out} keep the far side's MSS, so hosts on this side \
                     send segments sized for that, and rely on PMTUD across {out}"
                ));
                fix = Some(format!(
                    "clamp the other direction too: a rule with iifname {out} (iptables: -i \
                     {out}), or none limited to an interface"
                ));
            }
        }
        // What it gives the SYNs it takes, interface by interface.
        let through: Vec<String> = facts
            .interfaces
            .iter()
            .filter(|l| l.up && l.name != "lo")
            .filter(|l| clamp.out_interfaces.is_empty() || clamp.out_interfaces.contains(&l.name))
            .map(|l| {
                let (v4, v6) = match clamp.target {
                    Target::Fixed(v) => (u32::from(v), u32::from(v)),
                    Target::RouteMtu => (
                        advertised(l.mtu, IpVersion::V4),
                        advertised(l.mtu, IpVersion::V6),
                    ),
                };
                let v6 = if clamp.family == "ip" {
                    String::new()
                } else {
                    format!(" / {v6}")
                };
                let v4 = if clamp.family == "ip6" {
                    String::new()
                } else {
                    v4.to_string()
                };
                format!("{} (MTU {}): {v4}{v6}", l.name, l.mtu)
            })
            .collect();
        if !through.is_empty() {
            meaning.push_str(&format!(
                "; SYNs leaving through {} at most (a lower MSS stays lower)",
                through.join(", ")
            ));
        }
        if let Target::Fixed(v) = clamp.target {
            let limited = |name: &str| {
                clamp.out_interfaces.is_empty() || clamp.out_interfaces.iter().any(|o| o == name)
            };
            let mut small: Vec<String> = facts
                .interfaces
                .iter()
                .filter(|l| limited(&l.name))
                .filter(|l| {
                    l.up && l.name != "lo" && advertised(l.mtu, IpVersion::V4) < u32::from(v)
                })
                .map(|l| {
                    format!(
                        "{} (MTU {}: {})",
                        l.name,
                        l.mtu,
                        advertised(l.mtu, IpVersion::V4)
                    )
                })
                .collect();
            // Routes with a smaller MTU through those interfaces.
            small.extend(
                facts
                    .routes
                    .iter()
                    .filter(|r| r.family == 4 && r.device.as_deref().is_none_or(limited))
                    .filter_map(|r| {
                        let mtu = r.mtu?;
                        (advertised(mtu, IpVersion::V4) < u32::from(v)).then(|| {
                            format!(
                                "the route to {} (MTU {mtu}: {})",
                                r.destination,
                                advertised(mtu, IpVersion::V4)
                            )
                        })
                    }),
            );
            if !small.is_empty() {
                level = Level::Warning;
                meaning.push_str(&format!(
                    "; {v} is more than these carry: {}",
                    small.join(", ")
                ));
            }
        }
        items.push(Item {
            area: "clamp",
            subject: clamp.rule.clone(),
            value: match clamp.target {
                Target::Fixed(v) => v.to_string(),
                Target::RouteMtu => "route MTU".into(),
            },
            level,
            meaning,
            fix,
            source: "Linux xt_TCPMSS, nft tcp option maxseg; RFC 4459",
        });
    }
    for queue in &facts.queue_rules {
        let (first, last) = queue.queues;
        let unbound: Vec<u16> = (first..=last)
            .filter(|q| !facts.bound_queues.contains(q))
            .collect();
        let nobody = !unbound.is_empty();
        items.push(Item {
            area: "queue",
            subject: queue.rule.clone(),
            value: if first == last {
                format!("queue {first}")
            } else {
                format!("queues {first}-{last}")
            },
            level: if nobody { Level::Warning } else { Level::Info },
            meaning: if nobody {
                format!(
                    "no process reads queue {}: {}",
                    unbound
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if queue.bypass {
                        "the packets pass unclamped (--queue-bypass)"
                    } else {
                        "the packets are dropped: new connections through it fail"
                    }
                )
            } else {
                "a process reads it (an NFQUEUE clamp such as mss clamp --nfqueue)".into()
            },
            fix: nobody.then(|| {
                "start the process (mss clamp --nfqueue N ...), or remove the rules (mss \
                 clamp --remove-rules for mss's own)"
                    .into()
            }),
            source: "Linux nfnetlink_queue",
        });
    }
}

/// Link kinds whose overhead depends on what they were set up with (IPsec's SA,
/// PPP's framing): said, not computed.
fn encap_unknown(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "xfrm" | "vti" | "vti6" => {
            "IPsec: the overhead depends on the SA (ESP cipher, integrity, NAT-T); \
             mss calc --encap esp:CIPHER:INTEGRITY[:natt] gives the MTU that fits"
        }
        "ppp" => "PPP: PPPoE takes 8 bytes of an Ethernet frame (MTU 1492, MSS 1452)",
        _ => return None,
    })
}

/// The link kinds that are encapsulations, as `mss calc --encap` names them.
fn encap_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "wireguard" => "wireguard",
        "gre" => "gre",
        "gretap" => "gretap",
        "ipip" => "ipip",
        "sit" => "6in4",
        "vxlan" => "vxlan",
        "geneve" => "geneve",
        _ => return None,
    })
}

fn tunnels(facts: &Facts, items: &mut Vec<Item>) {
    for link in &facts.interfaces {
        if let Some(what) = link.kind.as_deref().and_then(encap_unknown) {
            items.push(Item {
                area: "tunnel",
                subject: link.name.clone(),
                value: format!("MTU {}{}", link.mtu, kind(link)),
                level: Level::Info,
                meaning: format!(
                    "TCP through it advertises {} (IPv4) / {} (IPv6); {what}",
                    advertised(link.mtu, IpVersion::V4),
                    advertised(link.mtu, IpVersion::V6)
                ),
                fix: None,
                source: "mss calc (the encapsulation catalogue)",
            });
            continue;
        }
        let Some(name) = link.kind.as_deref().and_then(encap_name) else {
            continue;
        };
        let Ok(stack) = name.parse::<mss_rules::EncapStack>() else {
            continue;
        };
        // The underlay: the parent if the kernel names one, else the largest MTU
        // of the interfaces that are not tunnels (where its packets go out).
        let underlay = link
            .parent
            .and_then(|p| facts.interfaces.iter().find(|l| l.index == p))
            .or_else(|| {
                facts
                    .interfaces
                    .iter()
                    .filter(|l| {
                        l.up && l.name != "lo" && l.kind.as_deref().and_then(encap_name).is_none()
                    })
                    .max_by_key(|l| l.mtu)
            });
        let Some(underlay) = underlay else { continue };
        let Ok(fits) = stack.inner_mtu(underlay.mtu, IpVersion::V4) else {
            continue;
        };
        let level = if link.mtu > fits {
            Level::Warning
        } else {
            Level::Info
        };
        items.push(Item {
            area: "tunnel",
            subject: link.name.clone(),
            value: format!(
                "MTU {} ({name} over {} MTU {})",
                link.mtu, underlay.name, underlay.mtu
            ),
            level,
            meaning: if link.mtu > fits {
                format!(
                    "{name} over a {} MTU leaves {fits} (mss calc --mtu {} --encap {name}): \
                     full-size packets into {} are fragmented or dropped, and TCP through it \
                     advertises {} where {} fits",
                    underlay.mtu,
                    underlay.mtu,
                    link.name,
                    advertised(link.mtu, IpVersion::V4),
                    advertised(fits, IpVersion::V4)
                )
            } else {
                format!(
                    "fits: {name} over a {} MTU leaves {fits}; TCP through {} advertises {} \
                     (IPv4) / {} (IPv6)",
                    underlay.mtu,
                    link.name,
                    advertised(link.mtu, IpVersion::V4),
                    advertised(link.mtu, IpVersion::V6)
                )
            },
            fix: (link.mtu > fits).then(|| format!("ip link set {} mtu {fits}", link.name)),
            source: "mss calc (the encapsulation catalogue)",
        });
    }
}

#[cfg(test)]
mod tests;
