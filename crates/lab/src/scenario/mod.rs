//! A scenario checked and resolved, what the rest of the lab works from.
//! [`Scenario::parse`] reads a file's text into [`crate::spec`]'s types, checks
//! everything a run relies on (naming the line of each mistake) and resolves the
//! topology, which the scenario then owns.

mod check;

use std::fmt;

use crate::spec::{self, Expect, Family, Mix, Short, Transfer};
use crate::topology::Topology;

/// The longest node name: namespace names (`mss-lab-PID-NODE`) and capture file
/// names are built from it.
pub const MAX_NODE_NAME: usize = 12;

/// A scenario file, checked, with its topology resolved.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (`clamp`), used in file and namespace names.
    pub name: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Longer explanation, printed by `mss lab show`.
    pub description: String,
    /// Address families the traffic uses (both are always configured), at least
    /// one.
    pub families: Vec<Family>,
    /// Hosts and routers as written, in file order (the order of
    /// [`Topology::nodes`]), with unique valid names.
    pub nodes: Vec<spec::Node>,
    /// The routes written to replace shortest-path ones (already in
    /// [`Topology::routes`]; listed by `mss lab show`).
    pub routes: Vec<spec::Route>,
    /// The TCP traffic.
    pub traffic: Traffic,
    /// The capture points of the run, `NODE-IFACE`: as written, or every
    /// interface.
    pub capture_points: Vec<String>,
    /// What must hold after the run.
    pub expects: Vec<Expect>,
    /// Interfaces, addresses and routes.
    pub topology: Topology,
}

/// The TCP traffic: connections from `client` to `server`, once per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traffic {
    /// The connecting host (as written, or the first host).
    pub client: String,
    /// The listening host (as written, or the last host).
    pub server: String,
    /// How much, in how many connections.
    pub load: Load,
    /// `setsockopt(TCP_MAXSEG)` on the client's socket before it connects.
    pub client_mss: Option<u32>,
    /// Seconds a connection may take before it counts as stalled (default 10).
    pub timeout_s: u64,
}

/// How many connections carry how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    /// One connection: `up` bytes from client to server, then `down` bytes back.
    Bulk(Transfer),
    /// `count` connections of `up` / `down` bytes each, one after the other
    /// (1 to 1000 of them).
    Short(Short),
    /// Many connections at once ([`MAX_MIX_CONNECTIONS`] at most), mixed sizes,
    /// bulk transfers alongside, topped up to a capture size.
    Mix(Mix),
}

/// The most short connections of a [`Load::Mix`]: each connection has a
/// four-tuple of its own (client ports 1024 to 65535 toward up to four server
/// ports), so the analysis of every one is found without ambiguity.
pub const MAX_MIX_CONNECTIONS: u32 = 250_000;

/// The most connections of a [`Load::Mix`] at once.
pub const MAX_MIX_CONCURRENCY: u32 = 256;

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

impl Scenario {
    /// Parses and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let file: spec::ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim_end().to_string(),
        })?;
        check::check(file, text)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&spec::Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}
