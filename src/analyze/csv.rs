//! The connection table as CSV (RFC 4180), one row per connection.

use std::io::{self, Write};

use mss_analyze::ConnectionReport;
use mss_analyze::report::{EndpointReport, Finding};

/// Column names, a contract (docs/json.md).
const COLUMNS: [&str; 21] = [
    "id",
    "ip_version",
    "client_addr",
    "client_port",
    "server_addr",
    "server_port",
    "handshake",
    "ending",
    "client_syn_mss",
    "server_syn_mss",
    "client_handshake_send_mss",
    "server_handshake_send_mss",
    "client_effective_send_mss",
    "server_effective_send_mss",
    "client_max_segment",
    "server_max_segment",
    "client_data_segments",
    "server_data_segments",
    "first_packet",
    "roles",
    "findings",
];

pub(super) fn header(out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", COLUMNS.join(","))
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Quotes a field if it needs it (RFC 4180 section 2).
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

pub(super) fn row(out: &mut impl Write, r: &ConnectionReport) -> io::Result<()> {
    let both = |f: fn(&EndpointReport) -> String| [f(&r.client), f(&r.server)];
    let [client_syn, server_syn] = both(|e| opt(e.syn_mss.value()));
    let [client_hs, server_hs] = both(|e| opt(e.handshake_send_mss));
    let [client_eff, server_eff] = both(|e| opt(e.effective_send_mss));
    let [client_max, server_max] = both(|e| opt(e.max_segment));
    let [client_segs, server_segs] = both(|e| e.data_segments.to_string());
    let findings: Vec<String> = r
        .findings
        .iter()
        .map(|f: &Finding| match f.endpoint() {
            Some(role) => format!("{}:{}", f.kind(), role.name()),
            None => f.kind().to_string(),
        })
        .collect();
    let cells = [
        r.id.to_string(),
        r.ip_version.number().to_string(),
        r.client.addr.to_string(),
        r.client.port.to_string(),
        r.server.addr.to_string(),
        r.server.port.to_string(),
        r.handshake.name().to_string(),
        r.ending.name().to_string(),
        client_syn,
        server_syn,
        client_hs,
        server_hs,
        client_eff,
        server_eff,
        client_max,
        server_max,
        client_segs,
        server_segs,
        r.first_packet.to_string(),
        r.roles.name().to_string(),
        findings.join(";"),
    ];
    let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
    writeln!(out, "{}", line.join(","))
}
