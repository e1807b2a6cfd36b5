//! The expectations a scenario declares (`[[expect]]`), as serde reads them: one
//! variant per `what`, each taking exactly its own keys, with the roles, capture
//! points and finding kinds typed. What serde cannot know (the capture points of
//! the run) [`crate::scenario`] checks.

use std::collections::BTreeMap;
use std::fmt;

use mss_analyze::report::Role;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::Family;

/// The finding kinds `mss analyze` reports (docs/json.md), as expectations name
/// them.
pub const FINDING_KINDS: &[&str] = &mss_analyze::report::Finding::KINDS;

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
pub(crate) struct Declared(pub(crate) Expect);

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
