//! `mss lab`: MSS and path-MTU scenarios reproduced on the real Linux kernel.
//!
//! A [`Scenario`] is data (TOML): hosts and routers, links with their MTUs,
//! clamps, ICMP filters, TCP settings, traffic, capture points and expectations.
//! [`Topology`] resolves it into interfaces, addresses and routes, and [`Plan`]
//! into the exact commands (`ip`, `nft`, `iptables`, `ethtool`, `tcpdump`) — pure
//! data, printed by `--dry-run` and snapshot-tested. [`run`] executes a plan in
//! network namespaces and runs real kernel TCP through it; [`expect::evaluate`]
//! judges what the kernels reported and what `mss analyze` inferred from the
//! captures.
//!
//! Layers: `scenario`, `topology`, `plan`, `draw` and `expect` are pure; only
//! `run` spawns processes, enters namespaces and opens sockets.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod draw;
pub mod expect;
pub mod plan;
pub mod run;
pub mod scenario;
pub mod topology;

pub use plan::Plan;
pub use scenario::{Scenario, ScenarioError};
pub use topology::Topology;

/// The built-in scenarios: name and TOML text, in the order `mss lab list` shows.
pub const BUILTIN: &[(&str, &str)] = &[
    ("baseline", include_str!("../scenarios/baseline.toml")),
    ("host-mtu", include_str!("../scenarios/host-mtu.toml")),
    ("clamp", include_str!("../scenarios/clamp.toml")),
    (
        "clamp-lower-host",
        include_str!("../scenarios/clamp-lower-host.toml"),
    ),
    (
        "asymmetric-clamp",
        include_str!("../scenarios/asymmetric-clamp.toml"),
    ),
    ("pmtud", include_str!("../scenarios/pmtud.toml")),
    ("blackhole", include_str!("../scenarios/blackhole.toml")),
    (
        "blackhole-probing",
        include_str!("../scenarios/blackhole-probing.toml"),
    ),
    ("gso", include_str!("../scenarios/gso.toml")),
    ("ipv6", include_str!("../scenarios/ipv6.toml")),
    (
        "no-timestamps",
        include_str!("../scenarios/no-timestamps.toml"),
    ),
    ("min-mss", include_str!("../scenarios/min-mss.toml")),
];

/// The TOML text of a built-in scenario.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
