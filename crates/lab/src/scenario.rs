//! A scenario as data: nodes, links, routes, traffic, capture points and
//! expectations, read from TOML. [`Scenario::parse`] checks everything a run relies
//! on and names the line of each mistake.
//!
//! The file format is documented in `docs/lab.md`; the built-in scenarios in
//! `crates/lab/scenarios/` are examples of every field.

use std::collections::BTreeMap;
use std::fmt;

use mss_analyze::report::Role;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// The longest node name: namespace names (`mss-lab-PID-NODE`) and capture file
/// names are built from it.
pub const MAX_NODE_NAME: usize = 12;

/// A scenario file, checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (`clamp`), used in file and namespace names.
    pub name: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Longer explanation, printed by `mss lab show`.
    #[serde(default)]
    pub description: String,
    /// Address families the traffic uses (both are always configured).
    #[serde(default = "default_families")]
    pub families: Vec<Family>,
    /// Hosts and routers.
    #[serde(rename = "node")]
    pub nodes: Vec<Spanned<Node>>,
    /// veth pairs between two nodes.
    #[serde(rename = "link")]
    pub links: Vec<Spanned<Link>>,
    /// Routes that override the shortest-path ones (asymmetric routing).
    #[serde(rename = "route", default)]
    pub routes: Vec<Spanned<Route>>,
    /// What TCP traffic to run.
    pub traffic: Spanned<Traffic>,
    /// Capture points `NODE-IFACE`; every interface when absent.
    #[serde(default)]
    pub capture: Option<Spanned<Vec<String>>>,
    /// What must hold after the run.
    #[serde(rename = "expect", default)]
    pub expects: Vec<Spanned<Declared>>,
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
    /// Lowercase letters, digits and `-`, at most [`MAX_NODE_NAME`] characters.
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
pub struct Link {
    /// The two nodes.
    pub between: [String; 2],
    /// MTU of both interfaces (default 1500).
    pub mtu: Option<u32>,
    /// MTU of each interface, in the order of `between`.
    pub mtus: Option<[u32; 2]>,
    /// A transmit-only limit: the node sends at most `mtu` bytes into this link (a
    /// locked route MTU, like a router's `ip mtu`), and answers bigger packets that
    /// may not be fragmented with ICMP too-big.
    pub tx_mtu: Option<TxMtu>,
    /// IPv4 subnet (a /24 given as `A.B.C.0/24`); automatic when absent.
    pub subnet4: Option<String>,
    /// IPv6 subnet (a /64 given as `PREFIX::/64`); automatic when absent.
    pub subnet6: Option<String>,
}

/// See [`Link::tx_mtu`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxMtu {
    /// The sending node.
    pub from: String,
    /// The largest packet it sends into the link.
    pub mtu: u32,
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
pub struct Traffic {
    /// The connecting host (default: the first host).
    pub client: Option<String>,
    /// The listening host (default: the last host).
    pub server: Option<String>,
    /// One connection: `up` bytes from client to server, then `down` bytes back.
    pub bulk: Option<Transfer>,
    /// `count` connections of `up` / `down` bytes each, one after the other.
    pub short: Option<Short>,
    /// `setsockopt(TCP_MAXSEG)` on the client's socket before it connects.
    pub client_mss: Option<u32>,
    /// Seconds a connection may take before it counts as stalled (default 10).
    pub timeout_s: Option<u64>,
}

/// See [`Traffic::bulk`].
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Bytes from client to server.
    pub up: u64,
    /// Bytes from server to client, sent once `up` has arrived.
    pub down: u64,
}

/// See [`Traffic::short`].
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Short {
    /// Number of connections.
    pub count: u32,
    /// Bytes from client to server in each.
    pub up: u64,
    /// Bytes back in each.
    pub down: u64,
}

/// One expectation (`[[expect]]`): `what` names the variant, and each variant
/// takes exactly its own keys. `of` is whose SYN (the client's SYN, the server's
/// SYN-ACK) or which sender; `at` a capture point or `all` (every capture analysed
/// together, the default); `family` limits it to connections of one family.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// The MSS option of `of`'s SYN as captured at `at` equals `value`.
    SynMss {
        /// Whose SYN.
        of: Role,
        /// Where it was captured.
        at: Place,
        /// Only connections of this family.
        family: Option<Family>,
        /// The MSS option's value.
        value: u32,
    },
    /// `of`'s TCP_MAXSEG right after the handshake and `mss analyze`'s
    /// `handshake_send_mss` both equal `value`.
    HandshakeMss {
        /// The sender.
        of: Role,
        /// Which analysis (default `all`).
        at: Option<Place>,
        /// Only connections of this family.
        family: Option<Family>,
        /// The send MSS.
        value: u32,
    },
    /// `of`'s TCP_MAXSEG at the end and `mss analyze`'s `effective_send_mss` both
    /// equal `value`.
    EffectiveMss {
        /// The sender.
        of: Role,
        /// Which analysis (default `all`).
        at: Option<Place>,
        /// Only connections of this family.
        family: Option<Family>,
        /// The send MSS.
        value: u32,
    },
    /// A finding of `kind` (about `of`, carrying `fields`) is present, or absent.
    Finding {
        /// Its kind.
        kind: FindingKind,
        /// The endpoint it is about (default: any).
        of: Option<Role>,
        /// Which analysis (default `all`).
        at: Option<Place>,
        /// Only connections of this family.
        family: Option<Family>,
        /// Whether it must appear (default) or must not.
        #[serde(default = "present")]
        present: bool,
        /// Fields of its JSON object (docs/json.md) and their values.
        fields: Option<BTreeMap<String, toml::Value>>,
    },
    /// The connection's findings are exactly `kinds`, in any order.
    Findings {
        /// Which analysis (default `all`).
        at: Option<Place>,
        /// Only connections of this family.
        family: Option<Family>,
        /// `kind` or `kind:endpoint` of each.
        kinds: Vec<FindingName>,
    },
    /// Every connection got all its data through in time (`true`), or none did.
    Completed {
        /// Only connections of this family.
        family: Option<Family>,
        /// Whether they completed.
        completed: bool,
    },
    /// Every TCP checksum in the capture at `at` (default: in every capture) is
    /// right, and at least one segment was checked.
    Checksums {
        /// One capture point, or `all`.
        at: Option<Place>,
    },
}

fn present() -> bool {
    true
}

impl Expect {
    /// Its `what`, as written.
    pub fn what(&self) -> &'static str {
        match self {
            Expect::SynMss { .. } => "syn_mss",
            Expect::HandshakeMss { .. } => "handshake_mss",
            Expect::EffectiveMss { .. } => "effective_mss",
            Expect::Finding { .. } => "finding",
            Expect::Findings { .. } => "findings",
            Expect::Completed { .. } => "completed",
            Expect::Checksums { .. } => "checksums",
        }
    }

    /// The analysis it reads, when it says (`None`: `all`, or none at all).
    pub fn at(&self) -> Option<&Place> {
        match self {
            Expect::SynMss { at, .. } => Some(at),
            Expect::HandshakeMss { at, .. }
            | Expect::EffectiveMss { at, .. }
            | Expect::Finding { at, .. }
            | Expect::Findings { at, .. }
            | Expect::Checksums { at } => at.as_ref(),
            Expect::Completed { .. } => None,
        }
    }

    /// The family it is limited to, if any.
    pub fn family(&self) -> Option<Family> {
        match *self {
            Expect::SynMss { family, .. }
            | Expect::HandshakeMss { family, .. }
            | Expect::EffectiveMss { family, .. }
            | Expect::Finding { family, .. }
            | Expect::Findings { family, .. }
            | Expect::Completed { family, .. } => family,
            Expect::Checksums { .. } => None,
        }
    }
}

/// An `[[expect]]` table as read: an [`Expect`], whose errors name it (`expect:
/// syn_mss: missing field `value``). The line is the table's `[[expect]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared(pub Expect);

impl<'de> Deserialize<'de> for Declared {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Declared, D::Error> {
        deserializer.deserialize_map(DeclaredVisitor)
    }
}

/// Reads the table, then the [`Expect`] in it. The error comes from inside the
/// table's own deserialization, so it is placed at the table (its `[[expect]]`
/// line), not at the array of all of them.
struct DeclaredVisitor;

impl<'de> Visitor<'de> for DeclaredVisitor {
    type Value = Declared;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an [[expect]] table")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Declared, A::Error> {
        let table = toml::Table::deserialize(MapAccessDeserializer::new(map))?;
        let what = match table.get("what") {
            Some(toml::Value::String(what)) => format!("{what}: "),
            _ => String::new(),
        };
        Expect::deserialize(toml::Value::Table(table))
            .map(Declared)
            .map_err(|e| A::Error::custom(format!("expect: {what}{}", e.message())))
    }
}

/// Which analysis an expectation reads: one capture point's, or all of them
/// together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Every capture analysed together (`all`).
    All,
    /// One capture point, `NODE-IFACE`.
    Point(String),
}

impl<'de> Deserialize<'de> for Place {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Place, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(if name == "all" {
            Place::All
        } else {
            Place::Point(name)
        })
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`: tables align it with `{:<width$}`.
        match self {
            Place::All => f.pad("all"),
            Place::Point(name) => f.pad(name),
        }
    }
}

/// A finding kind `mss analyze` reports (docs/json.md), by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingKind(&'static str);

impl FindingKind {
    /// The kind called `name`; the error lists the kinds.
    pub fn named(name: &str) -> Result<FindingKind, String> {
        FINDING_KINDS
            .iter()
            .find(|kind| **kind == name)
            .map(|kind| FindingKind(kind))
            .ok_or_else(|| {
                format!(
                    "unknown finding kind {name:?}; the kinds are {}",
                    FINDING_KINDS.join(", ")
                )
            })
    }

    /// Its name, as `kind` in the JSON record.
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl<'de> Deserialize<'de> for FindingKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FindingKind, D::Error> {
        let name = String::deserialize(deserializer)?;
        FindingKind::named(&name).map_err(D::Error::custom)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.0)
    }
}

/// A finding as the list of `findings` names it: `kind`, or `kind:endpoint` for a
/// finding about one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingName {
    /// Its kind.
    pub kind: FindingKind,
    /// The endpoint it is about, if one.
    pub endpoint: Option<Role>,
}

impl<'de> Deserialize<'de> for FindingName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FindingName, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (kind, endpoint) = match text.split_once(':') {
            None => (text.as_str(), None),
            Some((kind, "client")) => (kind, Some(Role::Client)),
            Some((kind, "server")) => (kind, Some(Role::Server)),
            Some((_, other)) => {
                return Err(D::Error::custom(format!(
                    "{text:?}: the endpoint after ':' is client or server, not {other:?}"
                )));
            }
        };
        Ok(FindingName {
            kind: FindingKind::named(kind).map_err(D::Error::custom)?,
            endpoint,
        })
    }
}

impl fmt::Display for FindingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.endpoint {
            Some(endpoint) => write!(f, "{}:{}", self.kind, endpoint.name()),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// A mistake in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The finding kinds `mss analyze` reports (docs/json.md), as expectations name
/// them.
pub const FINDING_KINDS: &[&str] = &mss_analyze::report::Finding::KINDS;

impl Scenario {
    /// Parses and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim_end().to_string(),
        })?;
        scenario.check(text)?;
        Ok(scenario)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .map(Spanned::get_ref)
            .find(|n| n.name == name)
    }

    /// The connecting host.
    pub fn client(&self) -> &str {
        self.traffic
            .get_ref()
            .client
            .as_deref()
            .or_else(|| self.hosts().next())
            .unwrap_or("client")
    }

    /// The listening host.
    pub fn server(&self) -> &str {
        self.traffic
            .get_ref()
            .server
            .as_deref()
            .or_else(|| self.hosts().last())
            .unwrap_or("server")
    }

    fn hosts(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.nodes
            .iter()
            .map(Spanned::get_ref)
            .filter(|n| !n.router)
            .map(|n| n.name.as_str())
    }

    /// Seconds a connection may take.
    pub fn timeout_s(&self) -> u64 {
        self.traffic.get_ref().timeout_s.unwrap_or(10)
    }

    fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let at = |span: std::ops::Range<usize>, message: String| ScenarioError {
            line: Some(line_of(text, span.start)),
            message,
        };
        if !valid_name(&self.name, 40) {
            // The top-level `name = ...` line (before the first table).
            let line = text
                .lines()
                .take_while(|l| !l.trim_start().starts_with('['))
                .position(|l| {
                    l.trim_start()
                        .strip_prefix("name")
                        .is_some_and(|r| r.trim_start().starts_with('='))
                })
                .map_or(1, |i| i + 1);
            return Err(ScenarioError {
                line: Some(line),
                message: format!(
                    "name {:?}: use lowercase letters, digits and '-' (at most 40)",
                    self.name
                ),
            });
        }
        if self.families.is_empty() {
            return Err(ScenarioError {
                line: None,
                message: "families is empty: give [\"ipv4\"], [\"ipv6\"] or both".into(),
            });
        }
        if self.nodes.is_empty() {
            return Err(ScenarioError {
                line: None,
                message: "no [[node]]: a scenario needs hosts (and routers) to run".into(),
            });
        }
        let mut names: Vec<&str> = Vec::new();
        for node in &self.nodes {
            let n = node.get_ref();
            if !valid_name(&n.name, MAX_NODE_NAME) {
                return Err(at(
                    node.span(),
                    format!(
                        "node name {:?}: use lowercase letters, digits and '-', starting with a \
                         letter, at most {MAX_NODE_NAME} characters",
                        n.name
                    ),
                ));
            }
            if names.contains(&n.name.as_str()) {
                return Err(at(
                    node.span(),
                    format!("node {:?} is defined twice", n.name),
                ));
            }
            names.push(&n.name);
            if let Some(mode) = n.tcp_mtu_probing {
                if mode > 2 {
                    return Err(at(
                        node.span(),
                        format!("node {}: tcp_mtu_probing is 0, 1 or 2, not {mode}", n.name),
                    ));
                }
            }
            for key in n.sysctls.keys() {
                if !(key.starts_with("net.ipv4.") || key.starts_with("net.ipv6.")) {
                    return Err(at(
                        node.span(),
                        format!(
                            "node {}: sysctl {key:?}: only net.ipv4.* and net.ipv6.* are set \
                             (they belong to the node's namespace; others would change the host)",
                            n.name
                        ),
                    ));
                }
                if !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    return Err(at(
                        node.span(),
                        format!("node {}: bad sysctl name {key:?}", n.name),
                    ));
                }
            }
            if let Some(clamp) = &n.clamp {
                if !n.router {
                    return Err(at(
                        node.span(),
                        format!(
                            "node {}: a clamp acts on forwarded SYNs; add `router = true`",
                            n.name
                        ),
                    ));
                }
                let needs_values = clamp.method != ClampMethod::NftRtmtu;
                if needs_values && (clamp.mss.is_none() || clamp.mss6.is_none()) {
                    return Err(at(
                        node.span(),
                        format!(
                            "node {}: clamp method \"{}\" needs both `mss` (IPv4) and `mss6` \
                             (IPv6; usually 20 less)",
                            n.name,
                            clamp.method.name()
                        ),
                    ));
                }
                if clamp.method == ClampMethod::Mss && clamp.toward.is_some() {
                    return Err(at(
                        node.span(),
                        format!(
                            "node {}: clamp method \"mss\" clamps every forwarded SYN; remove \
                             `toward`",
                            n.name
                        ),
                    ));
                }
                if !needs_values && (clamp.mss.is_some() || clamp.mss6.is_some()) {
                    return Err(at(
                        node.span(),
                        format!(
                            "node {}: clamp method nft-rtmtu takes its value from the route \
                             MTU; remove `mss`/`mss6`",
                            n.name
                        ),
                    ));
                }
                for value in [clamp.mss, clamp.mss6].into_iter().flatten() {
                    if !(1..=65535).contains(&value) || value < 20 {
                        return Err(at(
                            node.span(),
                            format!("node {}: clamp value {value} is not a usable MSS", n.name),
                        ));
                    }
                }
            }
            if n.drop_icmp_too_big && !n.router {
                return Err(at(
                    node.span(),
                    format!("node {}: drop_icmp_too_big needs `router = true`", n.name),
                ));
            }
        }
        let known = |name: &str| names.contains(&name);
        for link in &self.links {
            let l = link.get_ref();
            for end in &l.between {
                if !known(end) {
                    return Err(at(link.span(), format!("link: no node called {end:?}")));
                }
            }
            if l.between[0] == l.between[1] {
                return Err(at(link.span(), "link: a node cannot link to itself".into()));
            }
            if l.mtu.is_some() && l.mtus.is_some() {
                return Err(at(
                    link.span(),
                    "link: give `mtu` or `mtus`, not both".into(),
                ));
            }
            for mtu in l.mtus.into_iter().flatten().chain(l.mtu) {
                if !(68..=65535).contains(&mtu) {
                    return Err(at(
                        link.span(),
                        format!("link: MTU {mtu} is outside 68..=65535 (veth's range)"),
                    ));
                }
            }
            if let Some(tx) = &l.tx_mtu {
                if !l.between.contains(&tx.from) {
                    return Err(at(
                        link.span(),
                        format!("link: tx_mtu.from {:?} is not an end of this link", tx.from),
                    ));
                }
                if !(68..=65535).contains(&tx.mtu) {
                    return Err(at(
                        link.span(),
                        format!("link: tx_mtu {} is not an MTU", tx.mtu),
                    ));
                }
            }
            if let Some(s) = &l.subnet4 {
                if crate::topology::parse_subnet4(s).is_none() {
                    return Err(at(
                        link.span(),
                        format!("link: subnet4 {s:?}: give a /24 such as \"10.81.7.0/24\""),
                    ));
                }
            }
            if let Some(s) = &l.subnet6 {
                if crate::topology::parse_subnet6(s).is_none() {
                    return Err(at(
                        link.span(),
                        format!("link: subnet6 {s:?}: give a /64 such as \"fd00:81:7::/64\""),
                    ));
                }
            }
        }
        let topology = crate::topology::Topology::new(self);
        for (i, subnet) in topology.subnets.iter().enumerate() {
            let earlier = topology.subnets[..i]
                .iter()
                .find(|s| s.v4 == subnet.v4 || s.v6 == subnet.v6);
            if let (Some(earlier), Some(link)) = (earlier, self.links.get(i)) {
                let (what, net) = if earlier.v4 == subnet.v4 {
                    ("subnet4", format!("{}/24", subnet.v4))
                } else {
                    ("subnet6", format!("{}/64", subnet.v6))
                };
                return Err(at(
                    link.span(),
                    format!(
                        "link: {what} {net} is already another link's (link i gets \
                         10.81.i.0/24 and fd00:81:i::/64 unless given); choose another"
                    ),
                ));
            }
        }
        for node in &self.nodes {
            let n = node.get_ref();
            if !self
                .links
                .iter()
                .any(|l| l.get_ref().between.contains(&n.name))
            {
                return Err(at(node.span(), format!("node {} has no link", n.name)));
            }
            if let Some(toward) = n.clamp.as_ref().and_then(|c| c.toward.as_ref()) {
                if !self.neighbours(&n.name).any(|x| x == toward) {
                    return Err(at(
                        node.span(),
                        format!(
                            "node {}: clamp.toward {toward:?} is not a neighbour",
                            n.name
                        ),
                    ));
                }
            }
        }
        for route in &self.routes {
            let r = route.get_ref();
            for name in [&r.node, &r.to, &r.via] {
                if !known(name) {
                    return Err(at(route.span(), format!("route: no node called {name:?}")));
                }
            }
            if !self.neighbours(&r.node).any(|x| x == r.via) {
                return Err(at(
                    route.span(),
                    format!("route: {} is not a neighbour of {}", r.via, r.node),
                ));
            }
            if self.node(&r.via).is_some_and(|v| !v.router) && r.via != r.to {
                return Err(at(
                    route.span(),
                    format!(
                        "route: {} is a host and does not forward; make it a router",
                        r.via
                    ),
                ));
            }
        }
        let traffic = self.traffic.get_ref();
        for (role, name) in [("client", self.client()), ("server", self.server())] {
            match self.node(name) {
                None => {
                    return Err(at(
                        self.traffic.span(),
                        format!("traffic.{role}: no node called {name:?}"),
                    ));
                }
                Some(n) if n.router => {
                    return Err(at(
                        self.traffic.span(),
                        format!("traffic.{role}: {name} is a router; traffic runs between hosts"),
                    ));
                }
                Some(_) => {}
            }
        }
        if self.client() == self.server() {
            return Err(at(
                self.traffic.span(),
                "traffic: client and server are the same node".into(),
            ));
        }
        if traffic.bulk.is_some() == traffic.short.is_some() {
            return Err(at(
                self.traffic.span(),
                "traffic: give exactly one of `bulk = { up = .., down = .. }` and \
                 `short = { count = .., up = .., down = .. }`"
                    .into(),
            ));
        }
        if let Some(short) = traffic.short {
            if !(1..=1000).contains(&short.count) {
                return Err(at(
                    self.traffic.span(),
                    "traffic.short.count: between 1 and 1000".into(),
                ));
            }
        }
        if let Some(mss) = traffic.client_mss {
            if !(1..=65535).contains(&mss) {
                return Err(at(
                    self.traffic.span(),
                    format!("traffic.client_mss {mss} is not an MSS"),
                ));
            }
        }
        if traffic.timeout_s.is_some_and(|t| !(1..=600).contains(&t)) {
            return Err(at(
                self.traffic.span(),
                "traffic.timeout_s: between 1 and 600".into(),
            ));
        }
        let points = crate::topology::Topology::new(self).capture_points_all();
        if let Some(capture) = &self.capture {
            for point in capture.get_ref() {
                if !points.contains(point) {
                    return Err(at(
                        capture.span(),
                        format!(
                            "capture point {point:?} does not exist; the points are {}",
                            points.join(", ")
                        ),
                    ));
                }
            }
        }
        let captured = self.capture_points();
        for expect in &self.expects {
            check_expect(&expect.get_ref().0, &captured)
                .map_err(|message| at(expect.span(), format!("expect: {message}")))?;
        }
        Ok(())
    }

    /// The neighbours of a node, in link order.
    pub fn neighbours<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.links.iter().filter_map(move |l| {
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

    /// The capture points of the run.
    pub fn capture_points(&self) -> Vec<String> {
        match &self.capture {
            Some(points) => points.get_ref().clone(),
            None => crate::topology::Topology::new(self).capture_points_all(),
        }
    }
}

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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
