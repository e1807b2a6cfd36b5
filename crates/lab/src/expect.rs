//! What a run observed, and the verdict on each expectation. Pure: the runner and
//! `mss analyze` supply the observations.
//!
//! Besides the scenario's own `[[expect]]` lines, every run checks that the kernel
//! and the analysis agree: for each connection, each capture point that saw it and
//! all points together, `effective_send_mss` of both endpoints must equal the
//! sending socket's `getsockopt(TCP_MAXSEG)` at the end.

use serde_json::Value;

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

/// `mss analyze --json` connection records of one analysis: one capture point
/// (`NODE-IFACE`) or `all` of them together.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// `NODE-IFACE` or `all`.
    pub at: String,
    /// Connection records (docs/json.md).
    pub records: Vec<Value>,
    /// TCP checksums verified in this capture: (right, wrong); `None` for `all`.
    pub checksums: Option<(u64, u64)>,
}

impl Analysis {
    /// The record of a connection, matched by ports and IP version.
    pub fn record(&self, connection: &Connection) -> Option<&Value> {
        let version = match connection.family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 6,
        };
        self.records.iter().find(|r| {
            r["type"] == "connection"
                && r["ip_version"] == version
                && r["client"]["port"] == connection.client_port
                && r["server"]["port"] == connection.server_port
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

fn role_view(connection: &Connection, role: &str) -> SocketView {
    if role == "server" {
        connection.server
    } else {
        connection.client
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
pub fn finding_names(record: &Value) -> Vec<String> {
    record["findings"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|f| {
                    let kind = f["kind"].as_str().unwrap_or("?");
                    match f["endpoint"].as_str() {
                        Some(endpoint) => format!("{kind}:{endpoint}"),
                        None => kind.to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A TOML value equal to a JSON one (numbers, strings, booleans, arrays of them).
fn same(toml: &toml::Value, json: &Value) -> bool {
    match toml {
        toml::Value::Integer(i) => json.as_i64() == Some(*i),
        toml::Value::Float(f) => json.as_f64() == Some(*f),
        toml::Value::String(s) => json.as_str() == Some(s.as_str()),
        toml::Value::Boolean(b) => json.as_bool() == Some(*b),
        toml::Value::Array(items) => json.as_array().is_some_and(|j| {
            j.len() == items.len() && items.iter().zip(j).all(|(t, j)| same(t, j))
        }),
        _ => false,
    }
}

fn brief(value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        other => other.to_string(),
    }
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
            for role in ["client", "server"] {
                let kernel = role_view(connection, role).maxseg_end;
                let inferred = &record[role]["effective_send_mss"];
                // A capture point that saw too little to tell is not a
                // disagreement; it is shown as unknown.
                let passed = inferred.is_null() || inferred.as_u64() == Some(u64::from(kernel));
                outcomes.push(Outcome {
                    check: format!(
                        "{} {role} effective MSS: kernel {kernel}, mss analyze at {} {}",
                        connection.family.name(),
                        analysis.at,
                        brief(inferred)
                    ),
                    passed,
                    seen: if inferred.is_null() {
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
        let role = e.of.as_deref().unwrap_or("client");
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
            if e.what != "completed" && record.is_none() {
                failures.push(format!("connection from port {port} not seen at {at}"));
                continue;
            }
            let record = record.unwrap_or(&Value::Null);
            let value = e.value.map(u64::from);
            match e.what.as_str() {
                "syn_mss" => {
                    let got = &record[role]["syn_mss"];
                    seen.push(brief(got));
                    if got.as_u64() != value {
                        failures.push(format!("port {port}: syn_mss {}", brief(got)));
                    }
                }
                "handshake_mss" | "effective_mss" => {
                    let view = role_view(connection, role);
                    let (kernel, key) = if e.what == "handshake_mss" {
                        (view.maxseg_start, "handshake_send_mss")
                    } else {
                        (view.maxseg_end, "effective_send_mss")
                    };
                    let got = &record[role][key];
                    seen.push(format!("kernel {kernel}, analysis {}", brief(got)));
                    if Some(u64::from(kernel)) != value {
                        failures.push(format!("port {port}: kernel TCP_MAXSEG {kernel}"));
                    }
                    if got.as_u64() != value {
                        failures.push(format!("port {port}: mss analyze {key} {}", brief(got)));
                    }
                }
                "finding" => {
                    let kind = e.kind.as_deref().unwrap_or("");
                    let matching: Vec<&Value> = record["findings"]
                        .as_array()
                        .map(|list| {
                            list.iter()
                                .filter(|f| f["kind"] == kind)
                                .filter(|f| e.of.is_none() || f["endpoint"] == role)
                                .filter(|f| {
                                    e.fields.as_ref().is_none_or(|fields| {
                                        fields.iter().all(|(k, v)| same(v, &f[k.as_str()]))
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let want = e.present.unwrap_or(true);
                    if matching.is_empty() == want {
                        let all = finding_names(record);
                        failures.push(format!(
                            "port {port}: findings [{}]{}",
                            all.join(", "),
                            if want && e.fields.is_some() {
                                format!(
                                    " ({})",
                                    record["findings"]
                                        .as_array()
                                        .map(|l| {
                                            l.iter()
                                                .filter(|f| f["kind"] == kind)
                                                .map(Value::to_string)
                                                .collect::<Vec<_>>()
                                                .join("; ")
                                        })
                                        .unwrap_or_default()
                                )
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
                "completed" => {
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
