//! A scenario file as written: the types serde reads its TOML into. Serde checks
//! their shape (the keys each table takes and their types, each expectation by
//! its `what`); [`crate::scenario`] checks what needs the whole file (names,
//! links, routes, capture points) and makes a [`crate::Scenario`] of it.
//!
//! The format is documented in `docs/lab.md`; the built-in scenarios in
//! `crates/lab/scenarios/` are examples of every field.

mod expect;

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub use expect::{Expect, FINDING_KINDS, FindingKind, FindingName, Place};

/// A scenario file as read, each table with its place in the text (errors name
/// its line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    /// Short name (`clamp`), used in file and namespace names.
    pub(crate) name: String,
    /// One line saying what the scenario shows.
    pub(crate) title: String,
    /// Longer explanation, printed by `mss lab show`.
    #[serde(default)]
    pub(crate) description: String,
    /// Address families the traffic uses (both are always configured).
    #[serde(default = "default_families")]
    pub(crate) families: Vec<Family>,
    /// Hosts and routers.
    #[serde(rename = "node")]
    pub(crate) nodes: Vec<Spanned<Node>>,
    /// veth pairs between two nodes.
    #[serde(rename = "link")]
    pub(crate) links: Vec<Spanned<Link>>,
    /// Routes that override the shortest-path ones (asymmetric routing).
    #[serde(rename = "route", default)]
    pub(crate) routes: Vec<Spanned<Route>>,
    /// What TCP traffic to run.
    pub(crate) traffic: Spanned<Traffic>,
    /// Capture points `NODE-IFACE`; every interface when absent.
    #[serde(default)]
    pub(crate) capture: Option<Spanned<Vec<String>>>,
    /// What must hold after the run.
    #[serde(rename = "expect", default)]
    pub(crate) expects: Vec<Spanned<expect::Declared>>,
}

fn default_families() -> Vec<Family> {
    vec![Family::Ipv4]
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// `ipv4` / `ipv6`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// A host or a router, each its own network namespace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Lowercase letters, digits and `-`, at most [`crate::scenario::MAX_NODE_NAME`] characters.
    pub name: String,
    /// Forwards packets (IPv4 and IPv6).
    #[serde(default)]
    pub router: bool,
    /// `net.ipv4.tcp_timestamps` (also governs IPv6).
    pub tcp_timestamps: Option<bool>,
    /// `net.ipv4.tcp_mtu_probing`: 0 off, 1 after a black hole is detected, 2 always.
    pub tcp_mtu_probing: Option<u8>,
    /// Leave TSO/GSO/GRO on (off by default, so captures show wire sizes).
    #[serde(default)]
    pub offloads: bool,
    /// Other `net.*` sysctls, set inside the node's namespace only.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// An MSS clamp on forwarded SYNs (routers only).
    pub clamp: Option<Clamp>,
    /// Drop the ICMP "fragmentation needed" / "packet too big" messages this router
    /// sends or forwards: a PMTUD black hole.
    #[serde(default)]
    pub drop_icmp_too_big: bool,
}

/// How a router clamps the MSS option of forwarded SYN and SYN-ACK segments. Every
/// method only lowers the value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clamp {
    /// `nft` (`tcp option maxseg size set N`), `nft-rtmtu` (`... set rt mtu`, the
    /// route's MTU minus 40/60), `iptables` (`-j TCPMSS --set-mss N`) or `mss`
    /// (`mss clamp --nfqueue`).
    pub method: ClampMethod,
    /// IPv4 target (`nft`, `iptables`).
    pub mss: Option<u16>,
    /// IPv6 target (`nft`, `iptables`); IPv6 headers are 20 bytes longer.
    pub mss6: Option<u16>,
    /// Only SYNs entering or leaving the interface toward this neighbour, as a
    /// router's per-interface `ip tcp adjust-mss` does; every forwarded SYN when
    /// absent.
    pub toward: Option<String>,
}

/// See [`Clamp::method`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClampMethod {
    /// nftables `tcp option maxseg size set N`, guarded by `size > N`.
    Nft,
    /// nftables `tcp option maxseg size set rt mtu`.
    NftRtmtu,
    /// iptables/ip6tables `-t mangle -j TCPMSS --set-mss N`.
    Iptables,
    /// mss's own clamp: `mss clamp --nfqueue` on the router, fed by iptables
    /// `-j NFQUEUE` rules it installs.
    Mss,
}

impl ClampMethod {
    /// As written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            ClampMethod::Nft => "nft",
            ClampMethod::NftRtmtu => "nft-rtmtu",
            ClampMethod::Iptables => "iptables",
            ClampMethod::Mss => "mss",
        }
    }
}

/// A veth pair joining two nodes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Link {
    /// The two nodes.
    pub(crate) between: [String; 2],
    /// MTU of both interfaces (default 1500).
    pub(crate) mtu: Option<u32>,
    /// MTU of each interface, in the order of `between`.
    pub(crate) mtus: Option<[u32; 2]>,
    /// A transmit-only limit: the node sends at most `mtu` bytes into this link (a
    /// locked route MTU, like a router's `ip mtu`), and answers bigger packets that
    /// may not be fragmented with ICMP too-big.
    pub(crate) tx_mtu: Option<TxMtu>,
    /// IPv4 subnet (a /24 given as `A.B.C.0/24`); automatic when absent.
    pub(crate) subnet4: Option<String>,
    /// IPv6 subnet (a /64 given as `PREFIX::/64`); automatic when absent.
    pub(crate) subnet6: Option<String>,
}

/// A transmit-only limit on one end of a link.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TxMtu {
    /// The sending node.
    pub(crate) from: String,
    /// The largest packet it sends into the link.
    pub(crate) mtu: u32,
}

/// A route that replaces the shortest-path one: at `node`, traffic to every subnet
/// of `to` goes via the neighbour `via`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Where the route is installed.
    pub node: String,
    /// The destination node (all its subnets).
    pub to: String,
    /// The next hop, a neighbour of `node`.
    pub via: String,
}

/// The TCP traffic: connections from `client` to `server`, once per family.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Traffic {
    /// The connecting host (default: the first host).
    pub(crate) client: Option<String>,
    /// The listening host (default: the last host).
    pub(crate) server: Option<String>,
    /// One connection: `up` bytes from client to server, then `down` bytes back.
    pub(crate) bulk: Option<Transfer>,
    /// `count` connections of `up` / `down` bytes each, one after the other.
    pub(crate) short: Option<Short>,
    /// Many connections at once, of mixed sizes, with bulk transfers alongside.
    pub(crate) mix: Option<Mix>,
    /// `setsockopt(TCP_MAXSEG)` on the client's socket before it connects.
    pub(crate) client_mss: Option<u32>,
    /// Seconds a connection may take before it counts as stalled (default 10).
    pub(crate) timeout_s: Option<u64>,
}

/// One connection's transfer ([`crate::scenario::Load::Bulk`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Bytes from client to server.
    pub up: u64,
    /// Bytes from server to client, sent once `up` has arrived.
    pub down: u64,
}

/// Short connections one after the other ([`crate::scenario::Load::Short`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Short {
    /// Number of connections.
    pub count: u32,
    /// Bytes from client to server in each.
    pub up: u64,
    /// Bytes back in each.
    pub down: u64,
}

/// Many short connections at once, of mixed sizes, some with a lowered MSS, bulk
/// transfers alongside, and bulk transfers topping the capture up to a size
/// ([`crate::scenario::Load::Mix`]): traffic to measure analyzers on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Short connections in all, over the families.
    pub count: u32,
    /// Short connections at once (default 1).
    #[serde(default = "one")]
    pub concurrency: u32,
    /// Request bytes of each short connection, `[min, max]`, uniformly spread.
    pub up: [u64; 2],
    /// Response bytes of the short connections, `[bytes, weight]` pairs.
    pub down: Vec<[u64; 2]>,
    /// Percentage of the connections over IPv6 (needs both families; default:
    /// half when both are given).
    pub ipv6_percent: Option<u8>,
    /// A share of the short connections with a lowered client MSS.
    pub lowered_mss: Option<LoweredMss>,
    /// Bulk transfers alongside the short connections.
    pub bulk: Option<MixBulk>,
    /// Top the capture up with bulk transfers to this size, in MB (10^6 bytes).
    pub fill_mb: Option<u64>,
    /// Cap on each bulk transfer's sending rate, in MB/s (SO_MAX_PACING_RATE).
    pub pace_mb_s: Option<u64>,
}

fn one() -> u32 {
    1
}

/// [`Mix::lowered_mss`]: `percent` of the short connections set TCP_MAXSEG to one
/// of `values` before connecting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoweredMss {
    /// Share of the short connections, in percent.
    pub percent: u8,
    /// The MSS values, chosen evenly.
    pub values: Vec<u32>,
}

/// [`Mix::bulk`]: `count` transfers of `down` bytes from the server, two at a
/// time, while the short connections run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixBulk {
    /// Number of transfers.
    pub count: u32,
    /// Bytes from the server in each.
    pub down: u64,
}
