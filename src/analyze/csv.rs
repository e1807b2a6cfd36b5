//! The connection table as CSV (RFC 4180), one row per connection, written straight
//! to the output (no cell is quoted: none can hold a comma, quote or newline).

use std::fmt::Display;
use std::io::{self, Write};

use mss_analyze::ConnectionReport;

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

/// A cell followed by a comma; empty for unknown values.
fn cell(out: &mut impl Write, value: Option<impl Display>) -> io::Result<()> {
    match value {
        Some(v) => write!(out, "{v},"),
        None => out.write_all(b","),
    }
}

pub(super) fn row(out: &mut impl Write, r: &ConnectionReport) -> io::Result<()> {
    let (c, s) = (&r.client, &r.server);
    write!(
        out,
        "{},{},{},{},{},{},{},{},",
        r.id,
        r.ip_version.number(),
        c.addr,
        c.port,
        s.addr,
        s.port,
        r.handshake.name(),
        r.ending.name()
    )?;
    cell(out, c.syn_mss.value())?;
    cell(out, s.syn_mss.value())?;
    cell(out, c.handshake_send_mss)?;
    cell(out, s.handshake_send_mss)?;
    cell(out, c.effective_send_mss)?;
    cell(out, s.effective_send_mss)?;
    cell(out, c.max_segment)?;
    cell(out, s.max_segment)?;
    write!(
        out,
        "{},{},{},{},",
        c.data_segments,
        s.data_segments,
        r.first_packet,
        r.roles.name()
    )?;
    // Kinds and roles are fixed lowercase words joined by ':' and ';'.
    for (i, f) in r.findings.iter().enumerate() {
        if i > 0 {
            out.write_all(b";")?;
        }
        out.write_all(f.kind().as_bytes())?;
        if let Some(role) = f.endpoint() {
            write!(out, ":{}", role.name())?;
        }
    }
    out.write_all(b"\n")
}
