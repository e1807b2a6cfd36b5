//! The report a person reads: a table of connections (beyond `--limit`, a summary
//! of the rest), each finding explained once per kind, totals and warnings. Fits 80
//! columns; colour only where asked.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mss_analyze::explain::{Explanation, explain};
use mss_analyze::report::{EndpointReport, Finding, Handshake, MssSeen, Role};
use mss_analyze::{ConnectionReport, Summary};

use crate::cli::SortKey;
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
const ENDPOINTS: &str = "client > server";
/// Between two columns of the table.
const GAP: &str = "  ";
/// Rows of the table on a terminal when `--limit` is not given.
pub(super) const TERMINAL_ROWS: usize = 50;

/// How the table is laid out: its order, and how many rows it lists at most (none:
/// all of them).
pub(super) struct View {
    pub(super) sort: SortKey,
    pub(super) limit: Option<usize>,
}

/// Puts the connections in the table's order (ties by id).
fn sort(reports: &mut [ConnectionReport], key: SortKey) {
    match key {
        SortKey::Id => reports.sort_unstable_by_key(|r| r.id),
        SortKey::Time => reports.sort_unstable_by_key(|r| (r.first_ns, r.id)),
        SortKey::MaxSegment => reports.sort_unstable_by_key(|r| (Reverse(max_segment(r)), r.id)),
        SortKey::Findings => reports.sort_unstable_by_key(|r| (Reverse(r.findings.len()), r.id)),
    }
}

/// The largest segment of either side.
fn max_segment(r: &ConnectionReport) -> Option<u32> {
    r.client.max_segment.max(r.server.max_segment)
}

/// Which connections the table lists: with a limit, those with findings first (up
/// to the limit), then the others up to it, each kept in the table's order.
#[derive(Copy, Clone)]
struct Rows {
    findings_left: usize,
    others_left: usize,
}

impl Rows {
    fn new(reports: &[ConnectionReport], limit: Option<usize>) -> Rows {
        match limit {
            None => Rows {
                findings_left: usize::MAX,
                others_left: usize::MAX,
            },
            Some(limit) => {
                let with = reports
                    .iter()
                    .filter(|r| !r.findings.is_empty())
                    .count()
                    .min(limit);
                Rows {
                    findings_left: with,
                    others_left: limit - with,
                }
            }
        }
    }

    /// Whether `r`, the next connection in order, is listed.
    fn take(&mut self, r: &ConnectionReport) -> bool {
        let left = if r.findings.is_empty() {
            &mut self.others_left
        } else {
            &mut self.findings_left
        };
        if *left == 0 {
            return false;
        }
        *left -= 1;
        true
    }

    /// The listed connections, in order.
    fn of(self, reports: &[ConnectionReport]) -> impl Iterator<Item = &ConnectionReport> {
        let mut rows = self;
        reports.iter().filter(move |r| rows.take(r))
    }
}

fn endpoints(r: &ConnectionReport) -> String {
    format!(
        "{} > {}",
        endpoint_text(&r.client),
        endpoint_text(&r.server)
    )
}

/// The three pairs of the table: MSS options, effective MSS, largest segments.
fn numbers(r: &ConnectionReport) -> [String; 3] {
    [
        pair(r.client.syn_mss.value(), r.server.syn_mss.value()),
        pair(r.client.effective_send_mss, r.server.effective_send_mss),
        pair(r.client.max_segment, r.server.max_segment),
    ]
}

/// The table of the listed connections; returns how many it listed. Each column is
/// as wide as its widest value (or header), columns two spaces apart; endpoints too
/// wide for 80 columns get a line of their own.
fn table(
    out: &mut impl Write,
    reports: &[ConnectionReport],
    rows: Rows,
    style: &Style,
) -> io::Result<usize> {
    let mut listed = 0;
    let mut id_width = 2;
    let mut ends_width = ENDPOINTS.len();
    let mut widths = NUMBERS.map(str::len);
    for r in rows.of(reports) {
        listed += 1;
        id_width = id_width.max(r.id.to_string().len() + 1);
        ends_width = ends_width.max(endpoints(r).len());
        for (width, value) in widths.iter_mut().zip(numbers(r)) {
            *width = (*width).max(value.len());
        }
    }
    let numbers_width: usize = widths.iter().map(|w| GAP.len() + w).sum();
    let room = WIDTH.saturating_sub(id_width + GAP.len() + numbers_width);
    let ends_col = if ends_width <= room {
        ends_width
    } else {
        room.max(ENDPOINTS.len())
    };
    let columns = |values: [&str; 3]| -> String {
        values
            .iter()
            .zip(widths)
            .map(|(v, w)| format!("{GAP}{v:>w$}"))
            .collect()
    };
    let header = format!(
        "{:>id_width$}{GAP}{ENDPOINTS:<ends_col$}{}",
        "#",
        columns(NUMBERS)
    );
    writeln!(out, "{}", style.bold(header.trim_end()))?;
    for r in rows.of(reports) {
        let ends = endpoints(r);
        let [mss, eff, max] = numbers(r);
        let numbers = columns([&mss, &eff, &max]);
        let id = format!("#{}", r.id);
        if ends.len() <= ends_col {
            writeln!(out, "{id:>id_width$}{GAP}{ends:<ends_col$}{numbers}")?;
        } else {
            writeln!(out, "{id:>id_width$}{GAP}{ends}")?;
            writeln!(out, "{:>id_width$}{GAP}{:<ends_col$}{numbers}", "", "")?;
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
    Ok(listed)
}

/// `n` with a comma between groups of three digits.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(c);
    }
    text
}

/// What a client's SYN said of its MSS, as the summary counts it.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Announced {
    Value(u16),
    Absent,
    Unknown,
    NoSyn,
}

impl Announced {
    fn of(seen: MssSeen) -> Announced {
        match seen {
            MssSeen::Value(v) => Announced::Value(v),
            MssSeen::Absent => Announced::Absent,
            MssSeen::Unknown => Announced::Unknown,
            MssSeen::NotCaptured => Announced::NoSyn,
        }
    }

    fn text(self) -> String {
        match self {
            Announced::Value(v) => v.to_string(),
            Announced::Absent => "none".to_string(),
            Announced::Unknown => "unknown".to_string(),
            Announced::NoSyn => "no SYN".to_string(),
        }
    }
}

/// Groups (server ports, server networks) shown in the summary, and MSS values
/// shown per group, at most.
const SUMMARY_GROUPS: usize = 10;
const SUMMARY_VALUES: usize = 6;
/// Connection ids named per finding kind, and connections in the largest
/// segments, at most.
const SUMMARY_IDS: usize = 3;
const SUMMARY_LARGEST: usize = 5;

/// The client SYNs' MSS values per group, the groups with the most connections
/// first, each a line: the group, its connections, its values with their counts.
fn distribution<K: Ord + std::fmt::Display>(
    out: &mut impl Write,
    title: &str,
    counts: BTreeMap<K, BTreeMap<Announced, usize>>,
) -> io::Result<()> {
    let mut groups: Vec<(K, usize, BTreeMap<Announced, usize>)> = counts
        .into_iter()
        .map(|(k, values)| (k, values.values().sum(), values))
        .collect();
    let all = groups.len();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    groups.truncate(SUMMARY_GROUPS);
    let shown = if all > groups.len() {
        format!(" (the {} of {all} with the most connections)", groups.len())
    } else {
        String::new()
    };
    writeln!(out, "  {title}{shown}")?;
    let keys: Vec<String> = groups.iter().map(|(k, ..)| k.to_string()).collect();
    let key_width = keys.iter().map(String::len).max().unwrap_or(0);
    let total_width = groups
        .iter()
        .map(|(_, n, _)| grouped(*n).len())
        .max()
        .unwrap_or(0);
    for (key, (_, n, values)) in keys.iter().zip(&groups) {
        let mut values: Vec<(&Announced, &usize)> = values.iter().collect();
        values.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let more = values.len().saturating_sub(SUMMARY_VALUES);
        let mut listed: Vec<String> = values
            .iter()
            .take(SUMMARY_VALUES)
            .map(|(mss, count)| format!("{} x{count},", mss.text()))
            .collect();
        if more > 0 {
            listed.push(format!("{more} other values"));
        } else if let Some(last) = listed.last_mut() {
            last.pop();
        }
        let head = format!("    {key:<key_width$}  {:>total_width$}: ", grouped(*n));
        let indent = " ".repeat(head.len());
        for line in wrap(&listed.join(" "), &head, &indent) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// In place of the connections the table left out: the client SYNs' MSS by server
/// port and by server network, the findings by kind with their first connections,
/// and the connections with the largest segments.
fn overview(out: &mut impl Write, reports: &[ConnectionReport], style: &Style) -> io::Result<()> {
    let mut ports: BTreeMap<u16, BTreeMap<Announced, usize>> = BTreeMap::new();
    let mut networks: BTreeMap<Network, BTreeMap<Announced, usize>> = BTreeMap::new();
    // Per kind: connections, and the lowest ids.
    let mut kinds: BTreeMap<&'static str, (usize, Vec<u64>)> = BTreeMap::new();
    let mut largest: Vec<&ConnectionReport> = Vec::with_capacity(SUMMARY_LARGEST + 1);
    let larger = |a: &ConnectionReport, b: &ConnectionReport| {
        (Reverse(max_segment(a)), a.id) < (Reverse(max_segment(b)), b.id)
    };
    for r in reports {
        let announced = Announced::of(r.client.syn_mss);
        *ports
            .entry(r.server.port)
            .or_default()
            .entry(announced)
            .or_default() += 1;
        *networks
            .entry(Network::of(r.server.addr))
            .or_default()
            .entry(announced)
            .or_default() += 1;
        let mut seen: Vec<&'static str> = r.findings.iter().map(Finding::kind).collect();
        seen.sort_unstable();
        seen.dedup();
        for kind in seen {
            let (n, ids) = kinds.entry(kind).or_default();
            *n += 1;
            ids.push(r.id);
            ids.sort_unstable();
            ids.truncate(SUMMARY_IDS);
        }
        if max_segment(r).is_some() {
            let at = largest.partition_point(|l| larger(l, r));
            if at < SUMMARY_LARGEST {
                largest.insert(at, r);
                largest.truncate(SUMMARY_LARGEST);
            }
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        style.bold(&format!(
            "Summary of all {} connections",
            grouped(reports.len())
        ))
    )?;
    distribution(out, "client SYN MSS by server port", ports)?;
    distribution(out, "client SYN MSS by server network", networks)?;
    if !kinds.is_empty() {
        let mut kinds: Vec<(&'static str, (usize, Vec<u64>))> = kinds.into_iter().collect();
        kinds.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
        writeln!(out, "  findings by kind (connections, the first of them)")?;
        let kind_width = kinds.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let count_width = kinds
            .iter()
            .map(|(_, (n, _))| grouped(*n).len())
            .max()
            .unwrap_or(0);
        for (kind, (n, ids)) in &kinds {
            let mut ids: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
            if *n > ids.len() {
                ids.push("...".to_string());
            }
            writeln!(
                out,
                "    {kind:<kind_width$}  {:>count_width$}: {}",
                grouped(*n),
                ids.join(" ")
            )?;
        }
    }
    if !largest.is_empty() {
        writeln!(out, "  largest segments (max and eff c/s)")?;
        let rows: Vec<(String, String, [String; 3])> = largest
            .iter()
            .map(|r| (format!("#{}", r.id), endpoints(r), numbers(r)))
            .collect();
        let id_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let ends_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let max_width = rows.iter().map(|r| r.2[2].len()).max().unwrap_or(0);
        for (id, ends, [_, eff, max]) in &rows {
            let head = format!("    {id:>id_width$}{GAP}{ends:<ends_width$}");
            let tail = format!("max {max:>max_width$}{GAP}eff {eff}");
            if head.len() + GAP.len() + tail.len() <= WIDTH {
                writeln!(out, "{head}{GAP}{tail}")?;
            } else {
                writeln!(out, "{}", head.trim_end())?;
                writeln!(out, "{}{tail}", " ".repeat(4 + id_width + GAP.len()))?;
            }
        }
    }
    Ok(())
}

/// A server's network as the summary names it: its /24 (IPv4) or /64 (IPv6).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Network(IpAddr);

impl Network {
    fn of(addr: IpAddr) -> Network {
        Network(match addr {
            IpAddr::V4(a) => {
                let [a, b, c, _] = a.octets();
                IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
            }
            IpAddr::V6(a) => {
                let s = a.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}/24"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
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
/// cause or value (the text report and the HTML page group alike).
pub(super) fn group_key(f: &Finding) -> String {
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

/// The report: the inputs, the table (in `view`'s order, and if more connections
/// than its limit, a summary of them all), the findings explained, the totals and
/// the warnings. Sorts `reports`.
pub(super) fn report(
    out: &mut impl Write,
    reports: &mut [ConnectionReport],
    summary: &Summary,
    inputs: &[Input],
    warnings: &[String],
    color: bool,
    view: &View,
) -> io::Result<()> {
    let style = Style(color);
    sort(reports, view.sort);
    let reports = &*reports;
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
        let listed = table(out, reports, Rows::new(reports, view.limit), &style)?;
        if listed < reports.len() {
            let more = reports.len() - listed;
            writeln!(
                out,
                "... {} more connection{}: --limit 0 lists them all, --json has every one",
                grouped(more),
                if more == 1 { "" } else { "s" }
            )?;
            overview(out, reports, &style)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(19_955), "19,955");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn networks_are_the_servers_24_and_64() {
        let v4 = Network::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77)));
        assert_eq!(v4.to_string(), "192.0.2.0/24");
        let v6 = Network::of(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)));
        assert_eq!(v6.to_string(), "2001:db8:1:2::/64");
    }
}
