//! The report a person reads: a table of connections, each finding explained once
//! per kind, totals and warnings. Fits 80 columns; colour only where asked.

use std::collections::BTreeMap;
use std::io::{self, Write};

use mss_analyze::explain::{Explanation, explain};
use mss_analyze::report::{EndpointReport, Finding, Handshake, Role};
use mss_analyze::{ConnectionReport, Summary};

use crate::render::{WIDTH, wrap};
use mss_ingest::Input;

/// ANSI styling, or none.
struct Style(bool);

impl Style {
    fn bold(&self, text: &str) -> String {
        if self.0 {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn warn(&self, text: &str) -> String {
        if self.0 {
            format!("\x1b[33m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn endpoint_text(e: &EndpointReport) -> String {
    match e.addr {
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", e.port),
        std::net::IpAddr::V4(a) => format!("{a}:{}", e.port),
    }
}

fn pair<T: std::fmt::Display>(a: Option<T>, b: Option<T>) -> String {
    let show = |v: Option<T>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    format!("{}/{}", show(a), show(b))
}

/// A short label for a finding in the table.
fn short(f: &Finding) -> String {
    let who = |r: Role| match r {
        Role::Client => "c",
        Role::Server => "s",
    };
    match f {
        Finding::SegmentsExceedMss {
            endpoint, cause, ..
        } => format!("exceeds({}:{})", who(*endpoint), cause.name()),
        Finding::MssRewritten {
            endpoint, from, to, ..
        } => format!("rewritten({}:{from}>{to})", who(*endpoint)),
        Finding::IcmpTooBig { endpoint, mtu, .. } => format!("icmp({}:{mtu})", who(*endpoint)),
        Finding::PmtudBlackholeSuspected { endpoint, size, .. } => {
            format!("blackhole({}:{size})", who(*endpoint))
        }
        other => match other.endpoint() {
            Some(role) => format!("{}({})", other.kind(), who(role)),
            None => other.kind().to_string(),
        },
    }
}

/// One line for a connection that just ended (a stream or a live capture): its
/// endpoints, the three pairs of the table, and its findings in short.
pub(super) fn as_it_ends(out: &mut impl Write, r: &ConnectionReport) -> io::Result<()> {
    let line = format!(
        "#{}  {} > {}  MSS {}  eff {}  max {}",
        r.id,
        endpoint_text(&r.client),
        endpoint_text(&r.server),
        pair(r.client.syn_mss.value(), r.server.syn_mss.value()),
        pair(r.client.effective_send_mss, r.server.effective_send_mss),
        pair(r.client.max_segment, r.server.max_segment),
    );
    let notes: Vec<String> = r.findings.iter().map(short).collect();
    let joined = notes.join("  ");
    if notes.is_empty() {
        writeln!(out, "{line}")?;
    } else if line.len() + 2 + joined.len() <= WIDTH {
        writeln!(out, "{line}  {joined}")?;
    } else {
        writeln!(out, "{line}")?;
        for l in wrap(&notes.join(" "), "    ", "    ") {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()
}

const NUMBERS: [&str; 3] = ["MSS c/s", "eff c/s", "max c/s"];
const NUMBER_WIDTH: usize = 11;

fn table(out: &mut impl Write, reports: &[ConnectionReport], style: &Style) -> io::Result<()> {
    let id_width = reports
        .iter()
        .map(|r| r.id.to_string().len() + 1)
        .max()
        .unwrap_or(2)
        .max(2);
    let endpoints: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "{} > {}",
                endpoint_text(&r.client),
                endpoint_text(&r.server)
            )
        })
        .collect();
    let numbers_width = NUMBER_WIDTH * NUMBERS.len();
    let room = WIDTH.saturating_sub(id_width + 2 + numbers_width);
    let ends_width = endpoints.iter().map(String::len).max().unwrap_or(0).max(16);
    let one_line = ends_width <= room;
    let ends_col = if one_line { ends_width } else { room };
    let header = format!(
        "{:>id_width$}  {:<ends_col$}{}",
        "#",
        "client > server",
        NUMBERS
            .iter()
            .map(|n| format!("{n:>NUMBER_WIDTH$}"))
            .collect::<String>()
    );
    writeln!(out, "{}", style.bold(header.trim_end()))?;
    for (r, ends) in reports.iter().zip(&endpoints) {
        let numbers = format!(
            "{:>w$}{:>w$}{:>w$}",
            pair(r.client.syn_mss.value(), r.server.syn_mss.value()),
            pair(r.client.effective_send_mss, r.server.effective_send_mss),
            pair(r.client.max_segment, r.server.max_segment),
            w = NUMBER_WIDTH
        );
        let id = format!("#{}", r.id);
        if one_line || ends.len() <= ends_col {
            writeln!(out, "{id:>id_width$}  {ends:<ends_col$}{numbers}")?;
        } else {
            writeln!(out, "{id:>id_width$}  {ends}")?;
            writeln!(out, "{:>id_width$}  {:<ends_col$}{numbers}", "", "")?;
        }
        let mut notes: Vec<String> = r.findings.iter().map(short).collect();
        if r.handshake != Handshake::Complete && r.handshake != Handshake::SynAck {
            notes.insert(
                0,
                format!("handshake {}", r.handshake.name().replace('_', " ")),
            );
        }
        if !notes.is_empty() {
            let indent = " ".repeat(id_width + 2);
            for line in wrap(&notes.join(" "), &indent, &indent) {
                writeln!(out, "{}", style.warn(&line))?;
            }
        }
    }
    Ok(())
}

/// Findings grouped by what they say, each explained once with the connections
/// it applies to.
fn findings(out: &mut impl Write, reports: &[ConnectionReport], style: &Style) -> io::Result<()> {
    // In the order first met (connection order), each group explained once.
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<(Explanation, Vec<u64>)> = Vec::new();
    for r in reports {
        for f in &r.findings {
            let at = *index.entry(group_key(f)).or_insert_with(|| {
                groups.push((explain(f, r), Vec::new()));
                groups.len() - 1
            });
            groups[at].1.push(r.id);
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", style.bold("Findings"))?;
    for (explanation, ids) in &groups {
        writeln!(out)?;
        let shown: Vec<String> = ids.iter().take(8).map(|id| format!("#{id}")).collect();
        let more = if ids.len() > 8 {
            format!(" and {} more", ids.len() - 8)
        } else {
            String::new()
        };
        let title = format!("{} ({}{more})", explanation.title, shown.join(" "));
        for line in wrap(&title, "", "  ") {
            writeln!(out, "{}", style.warn(&line))?;
        }
        for line in wrap(&explanation.text, "  ", "  ") {
            writeln!(out, "{line}")?;
        }
        if let Some(fix) = &explanation.fix {
            for line in wrap(&format!("Fix: {fix}"), "  ", "       ") {
                writeln!(out, "{line}")?;
            }
        }
        for line in wrap(
            &format!("Source: {}", explanation.source),
            "  ",
            "          ",
        ) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Findings that say the same thing share one explanation: same kind, endpoint and
/// cause or value.
fn group_key(f: &Finding) -> String {
    let role = f.endpoint().map_or("", Role::name);
    match f {
        Finding::SegmentsExceedMss { cause, .. } => format!("{} {role} {}", f.kind(), cause.name()),
        Finding::MssRewritten {
            from,
            to,
            before,
            after,
            ..
        } => {
            format!("{} {role} {from} {to} {before} {after}", f.kind())
        }
        Finding::IcmpTooBig { mtu, shrank, .. } => format!("{} {role} {mtu} {shrank:?}", f.kind()),
        Finding::MssBelowLinuxMin { mss, .. } => format!("{} {role} {mss}", f.kind()),
        Finding::AsymmetricMss { client, server } => format!("{} {client} {server}", f.kind()),
        _ => format!("{} {role}", f.kind()),
    }
}

fn totals(
    out: &mut impl Write,
    reports: &[ConnectionReport],
    summary: &Summary,
    inputs: &[Input],
    style: &Style,
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{}", style.bold("Totals"))?;
    let complete = reports
        .iter()
        .filter(|r| r.handshake == Handshake::Complete)
        .count();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let shown = if reports.len() as u64 == summary.connections {
        plural(reports.len(), "connection")
    } else {
        format!("{} of {} connections", reports.len(), summary.connections)
    };
    let mut lines = vec![format!(
        "{shown} ({complete} with a complete handshake), {} packets ({} TCP)",
        summary.packets, summary.tcp_packets
    )];
    if !summary.syn_mss.is_empty() {
        let values: Vec<String> = summary
            .syn_mss
            .iter()
            .map(|(mss, n)| format!("{mss} x{n}"))
            .collect();
        lines.push(format!("MSS options in the capture: {}", values.join(", ")));
    }
    if !summary.findings.is_empty() {
        let counts: Vec<String> = summary
            .findings
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        lines.push(format!("findings: {}", counts.join(", ")));
    }
    if summary.fragments > 0 {
        let mut parts = vec![format!("{} datagrams put together", summary.reassembled)];
        if summary.incomplete_datagrams > 0 {
            parts.push(format!(
                "{} incomplete (a fragment missing)",
                summary.incomplete_datagrams
            ));
        }
        for (reason, n) in &summary.fragments_discarded {
            parts.push(format!("{n} discarded ({})", reason.replace('_', " ")));
        }
        lines.push(format!(
            "IP fragments: {} ({})",
            summary.fragments,
            parts.join(", ")
        ));
    }
    let skipped: Vec<String> = [
        (summary.not_ip, "not IP"),
        (
            summary.length_beyond_frame,
            "with an IP length beyond the frame",
        ),
        (summary.undecodable, "undecodable"),
        (summary.tcp_header_cut, "TCP header cut by the snaplen"),
        (
            summary.unsupported_links.values().sum(),
            "of unsupported link types",
        ),
        (
            summary.unmatched_icmp,
            "ICMP too-big for flows not captured",
        ),
        (summary.evicted, "connections evicted to bound memory"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if !skipped.is_empty() {
        lines.push(format!("also: {}", skipped.join(", ")));
    }
    for line in lines {
        for l in wrap(&line, "  ", "    ") {
            writeln!(out, "{l}")?;
        }
    }
    for (input, number, offset, what) in &summary.undecodable_examples {
        let name = inputs.get(*input).map_or("?", |i| i.name.as_str());
        for l in wrap(
            &format!("undecodable: {name} packet {number}, byte {offset} of the frame: {what}"),
            "  ",
            "    ",
        ) {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

pub(super) fn report(
    out: &mut impl Write,
    reports: &[ConnectionReport],
    summary: &Summary,
    inputs: &[Input],
    warnings: &[String],
    color: bool,
) -> io::Result<()> {
    let style = Style(color);
    for (i, input) in inputs.iter().enumerate() {
        let links: Vec<String> = input.link_types.iter().map(|l| l.name()).collect();
        let format = input.kind();
        let prefix = if inputs.len() > 1 {
            format!("capture {}: ", i + 1)
        } else {
            String::new()
        };
        let what = format!("{format}, {}, {} packets", links.join(" + "), input.packets);
        let line = format!("{prefix}{}: {what}", input.name);
        if line.len() <= WIDTH {
            writeln!(out, "{line}")?;
        } else {
            // A long path gets a line of its own.
            writeln!(out, "{prefix}{}", input.name)?;
            writeln!(out, "{}{what}", " ".repeat(prefix.len().max(2)))?;
        }
    }
    writeln!(out)?;
    if reports.is_empty() && summary.connections > 0 {
        writeln!(out, "No TCP connections (after filters).")?;
    } else if reports.is_empty() {
        writeln!(out, "No TCP connections in the capture.")?;
    } else {
        table(out, reports, &style)?;
        findings(out, reports, &style)?;
    }
    totals(out, reports, summary, inputs, &style)?;
    if !warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.bold("Warnings"))?;
        for warning in warnings {
            for l in wrap(warning, "  ", "    ") {
                writeln!(out, "{}", style.warn(&l))?;
            }
        }
    }
    Ok(())
}
