//! The verdict on each expectation of a scenario, given what the run observed
//! ([`crate::observed`]). Pure: the runner and `mss analyze` supply the
//! observations.
//!
//! Besides the scenario's own `[[expect]]` lines, every run checks that the kernel
//! and the analysis agree: for each connection, each capture point that saw it and
//! all points together, `effective_send_mss` of both endpoints must equal the
//! sending socket's `getsockopt(TCP_MAXSEG)` at the end.

use std::collections::BTreeMap;

use mss_analyze::record::{ConnectionRecord, FindingRecord};
use mss_analyze::report::Role;

use crate::observed::{Analysis, Connection};
use crate::scenario::Scenario;
use crate::spec::{Expect, Family, FindingKind, FindingName, Place};

/// [`Outcome::seen`] of an agreement check where the capture point saw nothing
/// the endpoint sent, so the analysis could not tell.
pub const UNKNOWN: &str = "unknown at this point";

/// The failures an [`Outcome`] names one by one; the rest are counted.
pub const MAX_FAILURES_SHOWN: usize = 10;

/// The verdict on one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The check in words (`effective_mss of client = 1348`).
    pub check: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen, when it failed (or always, briefly).
    pub seen: String,
    /// A scenario `[[expect]]` line (true) or the kernel/analysis agreement (false).
    pub declared: bool,
}

/// An expectation in words (`effective_mss of client = 1348`).
pub fn describe(e: &Expect) -> String {
    match e {
        Expect::SynMss {
            of,
            at,
            family,
            value,
        } => format!(
            "syn_mss{} = {value}",
            qualifiers(Some(*of), Some(at), *family)
        ),
        Expect::HandshakeMss {
            of,
            at,
            family,
            value,
        }
        | Expect::EffectiveMss {
            of,
            at,
            family,
            value,
        } => format!(
            "{}{} = {value}",
            e.what(),
            qualifiers(Some(*of), at.as_ref(), *family)
        ),
        Expect::Finding {
            kind,
            of,
            at,
            family,
            present,
            fields,
        } => {
            let mut text = format!("finding {kind}{}", qualifiers(*of, at.as_ref(), *family));
            if let Some(fields) = fields {
                let list: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", toml_text(v)))
                    .collect();
                text.push_str(&format!(" with {}", list.join(", ")));
            }
            if !present {
                text.push_str(" is absent");
            }
            text
        }
        Expect::Findings { at, family, kinds } => {
            let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
            format!(
                "findings{} = [{}]",
                qualifiers(None, at.as_ref(), *family),
                kinds.join(", ")
            )
        }
        Expect::Completed { family, completed } => {
            format!("completed{} = {completed}", qualifiers(None, None, *family))
        }
        Expect::Checksums { at } => format!("checksums{}", qualifiers(None, at.as_ref(), None)),
    }
}

/// ` of client at r1-eth0 (ipv6)`, each part only when given.
fn qualifiers(of: Option<Role>, at: Option<&Place>, family: Option<Family>) -> String {
    let mut text = String::new();
    if let Some(of) = of {
        text.push_str(&format!(" of {}", of.name()));
    }
    if let Some(at) = at {
        text.push_str(&format!(" at {at}"));
    }
    if let Some(family) = family {
        text.push_str(&format!(" ({})", family.name()));
    }
    text
}

/// A TOML value as it is written in a scenario file.
fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_text).collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// `kind` or `kind:endpoint` of each finding of a record.
pub fn finding_names(record: &ConnectionRecord) -> Vec<String> {
    record.findings.iter().map(finding_name).collect()
}

/// `kind` or `kind:endpoint`.
fn finding_name(finding: &FindingRecord) -> String {
    let kind = finding.finding.kind();
    match finding.finding.endpoint() {
        Some(endpoint) => format!("{kind}:{}", endpoint.name()),
        None => kind.to_string(),
    }
}

/// Whether a finding carries every one of `fields` with that value. The finding
/// is compared as its JSON object (docs/json.md), turned into a TOML table: a key
/// that is null there is absent here, and equal to nothing a scenario can write.
fn carries(finding: &FindingRecord, fields: &BTreeMap<String, toml::Value>) -> bool {
    let Ok(table) = toml::Table::try_from(finding) else {
        return false;
    };
    fields.iter().all(|(key, want)| same(want, table.get(key)))
}

/// A value written in a scenario equal to a finding's (numbers, strings, booleans,
/// arrays of them); an integer field equals the same number written as a float.
fn same(want: &toml::Value, got: Option<&toml::Value>) -> bool {
    use toml::Value::{Array, Boolean, Float, Integer, String};
    match (want, got) {
        (Integer(w), Some(Integer(g))) => w == g,
        #[allow(clippy::cast_precision_loss)]
        (Float(w), Some(Integer(g))) => *g as f64 == *w,
        (Float(w), Some(Float(g))) => w == g,
        (String(w), Some(String(g))) => w == g,
        (Boolean(w), Some(Boolean(g))) => w == g,
        (Array(w), Some(Array(g))) => {
            w.len() == g.len() && w.iter().zip(g).all(|(w, g)| same(w, Some(g)))
        }
        _ => false,
    }
}

/// A number the analysis may not know: `none` then.
fn brief(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// Judges every expectation of `scenario` and the kernel/analysis agreement.
pub fn evaluate(
    scenario: &Scenario,
    connections: &[Connection],
    analyses: &[Analysis],
) -> Vec<Outcome> {
    let mut outcomes = agreement(connections, analyses);
    for expect in &scenario.expects {
        outcomes.push(judge(expect, connections, analyses));
    }
    outcomes
}

/// For each connection, each analysis that saw it and both endpoints: the
/// kernel's TCP_MAXSEG at the end equals `mss analyze`'s effective send MSS.
fn agreement(connections: &[Connection], analyses: &[Analysis]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for connection in connections {
        for analysis in analyses {
            let Some(record) = analysis.record(connection) else {
                continue;
            };
            for role in [Role::Client, Role::Server] {
                let kernel = connection.socket(role).maxseg_end;
                let inferred = record.endpoint(role).effective_send_mss;
                // A capture point that saw too little to tell is not a
                // disagreement; it is shown as unknown.
                let passed = inferred.is_none_or(|mss| mss == kernel);
                outcomes.push(Outcome {
                    check: format!(
                        "{} {} effective MSS: kernel {kernel}, mss analyze at {} {}",
                        connection.family.name(),
                        role.name(),
                        analysis.at,
                        brief(inferred)
                    ),
                    passed,
                    seen: if inferred.is_none() {
                        UNKNOWN.to_string()
                    } else if passed {
                        String::new()
                    } else {
                        format!("analysis says {}, kernel {kernel}", brief(inferred))
                    },
                    declared: false,
                });
            }
        }
    }
    outcomes
}

/// The verdict on one declared expectation.
fn judge(e: &Expect, connections: &[Connection], analyses: &[Analysis]) -> Outcome {
    if let Expect::Checksums { at } = e {
        return checksums(describe(e), at.as_ref(), analyses);
    }
    let mut verdict = Verdict::default();
    let chosen: Vec<&Connection> = connections
        .iter()
        .filter(|c| e.family().is_none_or(|f| f == c.family))
        .collect();
    if chosen.is_empty() {
        verdict.fail("no connection of that family ran".into());
    }
    let at = e.at().unwrap_or(&Place::All);
    let analysis = analyses.iter().find(|a| a.at == *at);
    for connection in chosen {
        verdict.connection(e, connection, analysis, at);
    }
    verdict.seen.dedup();
    let passed = verdict.failures.is_empty();
    verdict.outcome(describe(e), passed)
}

/// `checksums`: every TCP checksum right at the point (or at every point), and
/// some checked.
fn checksums(check: String, at: Option<&Place>, analyses: &[Analysis]) -> Outcome {
    let mut verdict = Verdict::default();
    let points: Vec<&Analysis> = analyses
        .iter()
        .filter(|a| a.at != Place::All && at.is_none_or(|at| *at == Place::All || a.at == *at))
        .collect();
    for point in &points {
        match point.checksums {
            Some((good, 0)) if good > 0 => verdict.saw(format!("{}: {good} right", point.at)),
            Some((0, 0)) | None => verdict.fail(format!("{}: no TCP segment checked", point.at)),
            Some((good, bad)) => verdict.fail(format!("{}: {bad} wrong, {good} right", point.at)),
        }
    }
    let passed = verdict.failures.is_empty() && !points.is_empty();
    verdict.outcome(check, passed)
}

/// What an expectation found, connection by connection.
#[derive(Debug, Default)]
struct Verdict {
    /// What was seen (shown when it held).
    seen: Vec<String>,
    /// Why it failed, if it did.
    failures: Vec<String>,
}

impl Verdict {
    /// Each thing seen once: with thousands of connections the same values recur.
    fn saw(&mut self, what: String) {
        if !self.seen.contains(&what) {
            self.seen.push(what);
        }
    }

    fn fail(&mut self, why: String) {
        self.failures.push(why);
    }

    fn outcome(self, check: String, passed: bool) -> Outcome {
        let seen = if self.failures.is_empty() {
            self.seen.join("; ")
        } else if self.failures.len() > MAX_FAILURES_SHOWN {
            format!(
                "{}; and {} more",
                self.failures[..MAX_FAILURES_SHOWN].join("; "),
                self.failures.len() - MAX_FAILURES_SHOWN
            )
        } else {
            self.failures.join("; ")
        };
        Outcome {
            check,
            passed,
            seen,
            declared: true,
        }
    }

    /// Judges one connection against `e` (any but `checksums`), with the record
    /// of the analysis at `at`.
    fn connection(
        &mut self,
        e: &Expect,
        connection: &Connection,
        analysis: Option<&Analysis>,
        at: &Place,
    ) {
        let port = connection.client_port;
        if let Expect::Completed { completed, .. } = e {
            if connection.completed != *completed {
                let what = if connection.completed {
                    "completed"
                } else {
                    "stalled"
                };
                self.fail(format!("port {port}: {what}"));
            }
            return;
        }
        let Some(record) = analysis.and_then(|a| a.record(connection)) else {
            self.fail(format!("connection from port {port} not seen at {at}"));
            return;
        };
        match e {
            Expect::SynMss { of, value, .. } => {
                let got = record.endpoint(*of).syn_mss.value();
                self.saw(brief(got));
                if got.map(u32::from) != Some(*value) {
                    self.fail(format!("port {port}: syn_mss {}", brief(got)));
                }
            }
            Expect::HandshakeMss { of, value, .. } => {
                let kernel = connection.socket(*of).maxseg_start;
                let inferred = record.endpoint(*of).handshake_send_mss;
                self.send_mss(port, kernel, ("handshake_send_mss", inferred), *value);
            }
            Expect::EffectiveMss { of, value, .. } => {
                let kernel = connection.socket(*of).maxseg_end;
                let inferred = record.endpoint(*of).effective_send_mss;
                self.send_mss(port, kernel, ("effective_send_mss", inferred), *value);
            }
            Expect::Finding {
                kind,
                of,
                present,
                fields,
                ..
            } => self.finding(port, record, (*kind, *of, fields.as_ref()), *present),
            Expect::Findings { kinds, .. } => self.findings(port, record, kinds),
            // Judged above.
            Expect::Completed { .. } | Expect::Checksums { .. } => {}
        }
    }

    /// The kernel's send MSS and the analysis's (`key` in the record) both equal
    /// `value`.
    fn send_mss(
        &mut self,
        port: u16,
        kernel: u32,
        (key, inferred): (&str, Option<u32>),
        value: u32,
    ) {
        self.saw(format!("kernel {kernel}, analysis {}", brief(inferred)));
        if kernel != value {
            self.fail(format!("port {port}: kernel TCP_MAXSEG {kernel}"));
        }
        if inferred != Some(value) {
            self.fail(format!(
                "port {port}: mss analyze {key} {}",
                brief(inferred)
            ));
        }
    }

    /// A finding of `kind` (about `of`, carrying `fields`) is there, or, with
    /// `present` false, is not.
    fn finding(
        &mut self,
        port: u16,
        record: &ConnectionRecord,
        (kind, of, fields): (
            FindingKind,
            Option<Role>,
            Option<&BTreeMap<String, toml::Value>>,
        ),
        present: bool,
    ) {
        let of_kind = || {
            record
                .findings
                .iter()
                .filter(move |f| f.finding.kind() == kind.name())
        };
        let matching = of_kind()
            .filter(|f| of.is_none_or(|of| f.finding.endpoint() == Some(of)))
            .filter(|f| fields.is_none_or(|fields| carries(f, fields)))
            .count();
        if (matching == 0) != present {
            return;
        }
        let mut failure = format!(
            "port {port}: findings [{}]",
            finding_names(record).join(", ")
        );
        if present && fields.is_some() {
            // The findings of that kind in full, to show which field differs.
            let shown: Vec<String> = of_kind()
                .map(|f| serde_json::to_string(f).unwrap_or_default())
                .collect();
            failure.push_str(&format!(" ({})", shown.join("; ")));
        }
        self.fail(failure);
    }

    /// The record's findings are exactly `kinds`, in any order.
    fn findings(&mut self, port: u16, record: &ConnectionRecord, kinds: &[FindingName]) {
        let mut got = finding_names(record);
        got.sort();
        let mut want: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        want.sort();
        if got != want {
            self.fail(format!("port {port}: findings [{}]", got.join(", ")));
        }
    }
}
