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
    "clamp-any",
    "clamp-chain",
    "short-connections",
    "pmtud",
    "blackhole",
    "blackhole-probing",
    "fragments",
    "gso",
    "ipv6",
    "no-timestamps",
    "min-mss",
    "below-min-mss",
    "bench",
];

/// The TOML text of a built-in scenario.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The built-in `bench` scenario scaled to another capture size, as the
/// benchmark recorded before it was a scenario: `connections` short connections
/// (default 100 per MB), `max(2, MB / 40)` bulk transfers alongside carrying
/// about a third of the capture, topped up to `size_mb`. At 300 MB with the
/// default it is the built-in text itself.
pub fn bench_scenario(size_mb: u64, connections: Option<u32>) -> String {
    let text = builtin("bench").unwrap_or_default();
    let count = connections.map_or(size_mb.saturating_mul(100), u64::from);
    let bulk = (size_mb / 40).max(2);
    // Capture bytes per payload byte of a bulk transfer (1448-byte segments in
    // 1514-byte frames, 16-byte record headers, an ACK every two segments), and
    // the bulk share rounded to 100 kB.
    let overhead = (1514.0 + 16.0 + (66.0 + 16.0) / 2.0) / 1448.0;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let down = ((size_mb as f64 * 1e6 / 3.0 / overhead / bulk as f64 / 1e5).round() as u64).max(1)
        * 100_000;
    text.lines()
        .map(|line| match line.split_once(" = ") {
            Some(("count", _)) => format!("count = {count}"),
            Some(("bulk", _)) => format!("bulk = {{ count = {bulk}, down = {down} }}"),
            Some(("fill_mb", _)) => format!("fill_mb = {size_mb}"),
            _ => line.to_string(),
        })
        .map(|line| line + "\n")
        .collect()
}
