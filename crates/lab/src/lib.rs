//! `mss lab`: MSS and path-MTU scenarios reproduced on the real Linux kernel.
//!
//! A scenario is data (TOML): hosts and routers, links with their MTUs, clamps,
//! ICMP filters, TCP settings, traffic, capture points and expectations. The file
//! is read into [`spec`]'s types, whose shape serde checks; [`Scenario::parse`]
//! checks the rest and resolves the [`Topology`] (interfaces, addresses, routes),
//! which the scenario owns. [`Plan`] turns it into the exact commands (`ip`,
//! `nft`, `iptables`, `ethtool`, `tcpdump`) — pure data, printed by `--dry-run`
//! and snapshot-tested. [`run`] executes a plan in network namespaces and runs
//! real kernel TCP through it; [`expect::evaluate`] judges what the kernels
//! reported and what `mss analyze` found in the captures ([`observed`]).
//!
//! Layers, each using only those before it: `spec`, `topology`, `scenario`, then
//! `plan`, `draw`, `observed` and `expect`, all pure; only `run` spawns processes,
//! enters namespaces and opens sockets.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod draw;
pub mod expect;
pub mod observed;
pub mod plan;
pub mod run;
pub mod scenario;
pub mod spec;
pub mod topology;

pub use plan::Plan;
pub use scenario::{Scenario, ScenarioError};
pub use topology::Topology;

/// `(name, include_str!("../scenarios/NAME.toml"))` for each name.
macro_rules! scenarios {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../scenarios/", $name, ".toml")))),*]
    };
}

/// The built-in scenarios: name and TOML text, in the order `mss lab list` shows.
pub const BUILTIN: &[(&str, &str)] = scenarios![
    "baseline",
    "host-mtu",
    "clamp",
    "clamp-lower-host",
    "asymmetric-clamp",
    "clamp-to-pmtu",
    "clamp-mss",
    "clamp-chain",
    "short-connections",
    "pmtud",
    "blackhole",
    "blackhole-probing",
    "gso",
    "ipv6",
    "no-timestamps",
    "min-mss",
    "below-min-mss",
];

/// The TOML text of a built-in scenario.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
