//! The sysctls that decide the MSS, with the kernel's defaults and what a changed
//! value does (Documentation/networking/ip-sysctl.rst).

use crate::{Item, Level};

/// A sysctl mss reads: its name, the kernel's default, and what it does.
struct Known {
    name: &'static str,
    default: &'static str,
    what: &'static str,
    /// What a value other than the default means, when that is worth saying.
    changed: fn(&str) -> String,
}

const KNOWN: [Known; 11] = [
    Known {
        name: "net.ipv4.tcp_mtu_probing",
        default: "0",
        what: "packetization-layer PMTU discovery (RFC 4821): 0 off, 1 after a black \
               hole is detected, 2 always",
        changed: |v| match v {
            "1" => "on after a black hole: repeated timeouts of full-size segments make \
                    TCP probe down from tcp_base_mss, so connections survive filtered ICMP"
                .into(),
            "2" => "always on: every connection searches its path MTU with probes".into(),
            _ => format!("value {v}"),
        },
    },
    Known {
        name: "net.ipv4.tcp_base_mss",
        default: "1024",
        what: "the MSS MTU probing starts from after a black hole",
        changed: |v| format!("MTU probing restarts at {v} instead of 1024"),
    },
    Known {
        name: "net.ipv4.tcp_mtu_probe_floor",
        default: "48",
        what: "the lowest MSS MTU probing goes down to",
        changed: |v| format!("MTU probing stops at {v}"),
    },
    Known {
        name: "net.ipv4.tcp_min_snd_mss",
        default: "48",
        what: "the smallest send MSS Linux accepts from a peer (CVE-2019-11479): a \
               peer announcing less still gets this much per segment",
        changed: |v| format!("a peer announcing less than {v} still gets {v}-byte segments"),
    },
    Known {
        name: "net.ipv4.ip_no_pmtu_disc",
        default: "0",
        what: "IPv4 path MTU discovery: 0 on (Don't Fragment set)",
        changed: |v| {
            format!(
                "{v}: PMTU discovery off (mode {v}): packets leave without Don't Fragment and \
             routers fragment them instead of sending ICMP"
            )
        },
    },
    Known {
        name: "net.ipv4.route.min_pmtu",
        default: "552",
        what: "the lowest path MTU an ICMP fragmentation-needed can set; below it Linux \
               uses this value and clears Don't Fragment",
        changed: |v| format!("ICMP messages cannot lower a path MTU below {v}"),
    },
    Known {
        name: "net.ipv4.route.mtu_expires",
        default: "600",
        what: "seconds a learned IPv4 path MTU is kept",
        changed: |v| format!("learned path MTUs are forgotten after {v} s"),
    },
    Known {
        name: "net.ipv6.route.mtu_expires",
        default: "600",
        what: "seconds a learned IPv6 path MTU is kept",
        changed: |v| format!("learned IPv6 path MTUs are forgotten after {v} s"),
    },
    Known {
        name: "net.ipv4.route.min_adv_mss",
        default: "256",
        what: "the smallest MSS a SYN announces, whatever the MTU",
        changed: |v| format!("SYNs announce at least {v}"),
    },
    Known {
        name: "net.ipv4.tcp_timestamps",
        default: "1",
        what: "TCP timestamps: 12 bytes of every segment once agreed (1460 becomes 1448)",
        changed: |v| match v {
            "0" => "off: segments carry the whole MSS (1460 on Ethernet, not 1448), \
                    without RTT measurement per segment or PAWS"
                .into(),
            _ => format!("mode {v}: timestamps on (12 bytes of every segment)"),
        },
    },
    Known {
        name: "net.ipv4.tcp_syncookies",
        default: "1",
        what: "SYN cookies under a SYN flood: the peer's MSS is then rounded down to one \
               of 536, 1300, 1440, 1460 (IPv6 1220, 1420, 1440, 8940)",
        changed: |v| format!("mode {v}"),
    },
];

/// The sysctls mss reads, by name.
pub fn names() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|k| k.name)
}

/// The sysctls in `values` explained: a changed one is a note with what it does.
pub fn items(values: &[(String, String)]) -> Vec<Item> {
    KNOWN
        .iter()
        .filter_map(|known| {
            let value = values
                .iter()
                .find(|(name, _)| name == known.name)
                .map(|(_, v)| v.trim())?;
            let changed = value != known.default;
            Some(Item {
                area: "sysctl",
                subject: known.name.to_string(),
                value: if changed {
                    format!("{value} (default {})", known.default)
                } else {
                    format!("{value} (default)")
                },
                level: if changed { Level::Note } else { Level::Info },
                meaning: if changed {
                    format!("{}: {}", known.what, (known.changed)(value))
                } else {
                    known.what.to_string()
                },
                fix: None,
                source: "Linux Documentation/networking/ip-sysctl.rst",
            })
        })
        .collect()
}
