//! What a run observed, and the verdict on each expectation. Pure: the runner and
//! `mss analyze` supply the observations.
//!
//! Besides the scenario's own `[[expect]]` lines, every run checks that the kernel
//! and the analysis agree: for each connection, each capture point that saw it and
//! all points together, `effective_send_mss` of both endpoints must equal the
//! sending socket's `getsockopt(TCP_MAXSEG)` at the end.

use mss_analyze::record::{ConnectionRecord, FindingRecord};
use mss_analyze::report::Role;

use crate::scenario::{Expect, Family, Scenario};

/// TCP_INFO fields as `ss -ti` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TcpInfo {
    /// `mss:` (tcpi_snd_mss).
    pub snd_mss: Option<u32>,
    /// `rcvmss:` (tcpi_rcv_mss).
    pub rcv_mss: Option<u32>,
    /// `advmss:` (tcpi_advmss).
    pub advmss: Option<u32>,
    /// `pmtu:` (tcpi_pmtu).
    pub pmtu: Option<u32>,
    /// `rtt:` smoothed RTT in milliseconds.
    pub rtt_ms: Option<f64>,
}

impl TcpInfo {
    /// Reads the fields from `ss -tin` output (the first socket in it: its state
    /// line and the indented lines after it).
    pub fn from_ss(text: &str) -> TcpInfo {
        let mut info = TcpInfo::default();
        let first: Vec<&str> = text
            .lines()
            .enumerate()
            .take_while(|(i, line)| *i == 0 || line.starts_with(char::is_whitespace))
            .map(|(_, line)| line)
            .collect();
        for word in first.iter().flat_map(|line| line.split_whitespace()) {
            let Some((key, value)) = word.split_once(':') else {
                continue;
            };
            let number = || value.parse::<u32>().ok();
            match key {
                "mss" if info.snd_mss.is_none() => info.snd_mss = number(),
                "rcvmss" if info.rcv_mss.is_none() => info.rcv_mss = number(),
                "advmss" if info.advmss.is_none() => info.advmss = number(),
                "pmtu" if info.pmtu.is_none() => info.pmtu = number(),
                "rtt" if info.rtt_ms.is_none() => {
                    info.rtt_ms = value.split('/').next().and_then(|v| v.parse().ok());
                }
                _ => {}
            }
        }
        info
    }
}

/// What one socket reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SocketView {
    /// `getsockopt(TCP_MAXSEG)` right after connect / accept.
    pub maxseg_start: u32,
    /// `getsockopt(TCP_MAXSEG)` at the end.
    pub maxseg_end: u32,
    /// TCP_INFO at the end, when `ss` found the socket.
    pub info: Option<TcpInfo>,
}

/// One connection of the traffic, as the kernels saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Its family.
    pub family: Family,
    /// Client's port.
    pub client_port: u16,
    /// Server's port.
    pub server_port: u16,
    /// Client address.
    pub client_addr: String,
    /// Server address.
    pub server_addr: String,
    /// Whether all data got through in time.
    pub completed: bool,
    /// The client's socket.
    pub client: SocketView,
    /// The server's socket.
    pub server: SocketView,
}

/// The connections `mss analyze` found in one analysis: of one capture point
/// (`NODE-IFACE`) or of `all` of them together.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// `NODE-IFACE` or `all`.
    pub at: String,
    /// Its connections, as `mss analyze --json` records them (docs/json.md).
    pub records: Vec<ConnectionRecord>,
    /// TCP checksums verified in this capture: (right, wrong); `None` for `all`.
    pub checksums: Option<(u64, u64)>,
}

impl Analysis {
    /// The record of a connection, matched by ports and IP version.
    pub fn record(&self, connection: &Connection) -> Option<&ConnectionRecord> {
        let version = match connection.family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 6,
        };
        self.records.iter().find(|r| {
            r.ip_version == version
                && r.client.port == connection.client_port
                && r.server.port == connection.server_port
        })
    }
}

/// [`Outcome::seen`] of an agreement check where the capture point saw nothing
/// the endpoint sent, so the analysis could not tell.
pub const UNKNOWN: &str = "unknown at this point";

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

impl Connection {
    /// The socket of one end.
    pub fn socket(&self, role: Role) -> &SocketView {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }
}

/// An expectation in words (`effective_mss of client = 1348`).
pub fn describe(e: &Expect) -> String {
    let mut text = e.what.clone();
    if let Some(kind) = &e.kind {
        text.push_str(&format!(" {kind}"));
    }
    if let Some(of) = &e.of {
        text.push_str(&format!(" of {of}"));
    }
    if let Some(at) = &e.at {
        text.push_str(&format!(" at {at}"));
    }
    if let Some(family) = e.family {
        text.push_str(&format!(" ({})", family.name()));
    }
    if let Some(value) = e.value {
        text.push_str(&format!(" = {value}"));
    }
    if let Some(fields) = &e.fields {
        let list: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", toml_text(v)))
            .collect();
        text.push_str(&format!(" with {}", list.join(", ")));
    }
    if e.present == Some(false) {
        text.push_str(" is absent");
    }
    if let Some(kinds) = &e.kinds {
        text.push_str(&format!(" = [{}]", kinds.join(", ")));
    }
    if let Some(completed) = e.completed {
        text.push_str(&format!(" = {completed}"));
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
fn carries(
    finding: &FindingRecord,
    fields: &std::collections::BTreeMap<String, toml::Value>,
) -> bool {
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
    for expect in &scenario.expects {
        let e = expect.get_ref();
        let chosen: Vec<&Connection> = connections
            .iter()
            .filter(|c| e.family.is_none_or(|f| f == c.family))
            .collect();
        let at = e.at.as_deref().unwrap_or("all");
        let analysis = analyses.iter().find(|a| a.at == at);
        let role = match e.of.as_deref() {
            Some("server") => Role::Server,
            _ => Role::Client,
        };
        let mut failures: Vec<String> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        if e.what == "checksums" {
            let points: Vec<&Analysis> = analyses
                .iter()
                .filter(|a| a.at != "all" && (at == "all" || a.at == at))
                .collect();
            for point in &points {
                match point.checksums {
                    Some((good, 0)) if good > 0 => seen.push(format!("{}: {good} right", point.at)),
                    Some((0, 0)) | None => {
                        failures.push(format!("{}: no TCP segment checked", point.at))
                    }
                    Some((good, bad)) => {
                        failures.push(format!("{}: {bad} wrong, {good} right", point.at))
                    }
                }
            }
            outcomes.push(Outcome {
                check: describe(e),
                passed: failures.is_empty() && !points.is_empty(),
                seen: if failures.is_empty() {
                    seen.join("; ")
                } else {
                    failures.join("; ")
                },
                declared: true,
            });
            continue;
        }
        if chosen.is_empty() {
            failures.push("no connection of that family ran".into());
        }
        for connection in &chosen {
            let port = connection.client_port;
            let record = analysis.and_then(|a| a.record(connection));
            if e.what == "completed" {
                if Some(connection.completed) != e.completed {
                    failures.push(format!(
                        "port {port}: {}",
                        if connection.completed {
                            "completed"
                        } else {
                            "stalled"
                        }
                    ));
                }
                continue;
            }
            let Some(record) = record else {
                failures.push(format!("connection from port {port} not seen at {at}"));
                continue;
            };
            let value = e.value;
            match e.what.as_str() {
                "syn_mss" => {
                    let got = record.endpoint(role).syn_mss.value();
                    seen.push(brief(got));
                    if got.map(u32::from) != value {
                        failures.push(format!("port {port}: syn_mss {}", brief(got)));
                    }
                }
                "handshake_mss" | "effective_mss" => {
                    let view = connection.socket(role);
                    let end = record.endpoint(role);
                    let (kernel, key, got) = if e.what == "handshake_mss" {
                        (
                            view.maxseg_start,
                            "handshake_send_mss",
                            end.handshake_send_mss,
                        )
                    } else {
                        (
                            view.maxseg_end,
                            "effective_send_mss",
                            end.effective_send_mss,
                        )
                    };
                    seen.push(format!("kernel {kernel}, analysis {}", brief(got)));
                    if Some(kernel) != value {
                        failures.push(format!("port {port}: kernel TCP_MAXSEG {kernel}"));
                    }
                    if got != value {
                        failures.push(format!("port {port}: mss analyze {key} {}", brief(got)));
                    }
                }
                "finding" => {
                    let kind = e.kind.as_deref().unwrap_or("");
                    let of_kind = || record.findings.iter().filter(|f| f.finding.kind() == kind);
                    let matching = of_kind()
                        .filter(|f| e.of.is_none() || f.finding.endpoint() == Some(role))
                        .filter(|f| e.fields.as_ref().is_none_or(|fields| carries(f, fields)))
                        .count();
                    let want = e.present.unwrap_or(true);
                    if (matching == 0) == want {
                        let all = finding_names(record);
                        failures.push(format!(
                            "port {port}: findings [{}]{}",
                            all.join(", "),
                            if want && e.fields.is_some() {
                                let shown: Vec<String> = of_kind()
                                    .map(|f| serde_json::to_string(f).unwrap_or_default())
                                    .collect();
                                format!(" ({})", shown.join("; "))
                            } else {
                                String::new()
                            }
                        ));
                    }
                }
                "findings" => {
                    let mut got = finding_names(record);
                    got.sort();
                    let mut want = e.kinds.clone().unwrap_or_default();
                    want.sort();
                    if got != want {
                        failures.push(format!("port {port}: findings [{}]", got.join(", ")));
                    }
                }
                _ => failures.push(format!("unknown check {:?}", e.what)),
            }
        }
        seen.dedup();
        outcomes.push(Outcome {
            check: describe(e),
            passed: failures.is_empty(),
            seen: if failures.is_empty() {
                seen.join("; ")
            } else {
                failures.join("; ")
            },
            declared: true,
        });
    }
    outcomes
}
