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
