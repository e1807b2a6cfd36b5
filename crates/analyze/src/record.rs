//! The `connection` record of `mss analyze --json` (docs/json.md) as a type: a
//! [`ConnectionReport`] with what a reader of the record needs beside it (the
//! capture points' names, each finding's explanation, times as RFC 3339). It
//! serializes with serde to exactly the record the binary writes (its hand-written
//! writer is faster and is tested against this, record by record), and reads back
//! with serde, so consumers (`mss lab`, renderers) work with types, not JSON
//! values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Summary;
use crate::explain::explain;
use crate::report::{
    ConnectionReport, Ending, EndpointReport, Finding, Handshake, OversizeCause, Position, Role,
    RoleEvidence,
};

/// The record's `type`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// A connection.
    Connection,
    /// The summary that ends the output.
    Summary,
    /// A finding as `mss watch --json` writes it, when it is first seen.
    Finding,
}

/// A finding of a connection, as `mss watch` writes it the moment it is first seen
/// (the connection may still be open).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingEvent {
    /// Always `finding`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// When it was seen: the time of the connection's last packet so far (RFC 3339).
    pub time: String,
    /// The connection's id (the same in its later records).
    pub connection: u64,
    /// 4 or 6.
    pub ip_version: u8,
    /// The client, `address:port` (`[address]:port` for IPv6).
    pub client: String,
    /// The server.
    pub server: String,
    /// The capture point nearest the client that saw the connection.
    pub interface: String,
    /// What was found, explained.
    #[serde(flatten)]
    pub finding: FindingRecord,
}

impl FindingEvent {
    /// The event of `finding`, one of `report`'s, seen at `interface`.
    pub fn new(
        finding: &Finding,
        report: &ConnectionReport,
        names: &[String],
        interface: &str,
    ) -> FindingEvent {
        let mut time = Vec::with_capacity(27);
        rfc3339_into(&mut time, report.last_ns);
        let end = |e: &EndpointReport| std::net::SocketAddr::new(e.addr, e.port).to_string();
        FindingEvent {
            record_type: RecordType::Finding,
            time: String::from_utf8_lossy(&time).into_owned(),
            connection: report.id,
            ip_version: report.ip_version.number(),
            client: end(&report.client),
            server: end(&report.server),
            interface: interface.to_string(),
            finding: FindingRecord::new(finding, report, names),
        }
    }
}

/// One connection, as `mss analyze --json` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Always `connection`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// Sequential id in the order connections were first seen.
    pub id: u64,
    /// 4 or 6.
    pub ip_version: u8,
    /// The endpoint that opened the connection.
    pub client: EndpointReport,
    /// The endpoint that accepted it.
    pub server: EndpointReport,
    /// How the roles were decided.
    pub roles: RoleEvidence,
    /// Handshake state.
    pub handshake: Handshake,
    /// How it ended.
    pub ending: Ending,
    /// First packet's time, RFC 3339 UTC with microseconds.
    pub first_time: String,
    /// Last packet's time.
    pub last_time: String,
    /// Seconds between them.
    pub duration_s: f64,
    /// Packet number (in its capture) of the first packet.
    pub first_packet: u64,
    /// Capture points that saw it.
    pub points: Vec<PointRecord>,
    /// A tunnel it was carried in.
    pub tunnel: Option<TunnelKind>,
    /// What is worth explaining.
    pub findings: Vec<FindingRecord>,
    /// Its segment sizes over time per capture point and direction (`mss analyze
    /// --json --segments`); absent without that flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<crate::series::Trace>>,
}

/// A capture point that saw the connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointRecord {
    /// The capture's name.
    pub input: Option<String>,
    /// Its interface, when the capture names it (a pcapng interface's name, the
    /// interface index of a `tcpdump -i any` capture).
    #[serde(default)]
    pub interface: Option<String>,
    /// The capture point's index (an input's index for its first interface).
    pub index: usize,
    /// Where on the path it is.
    pub position: Position,
    /// Packets of the connection it holds.
    pub packets: u64,
}

/// A tunnel, by name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TunnelKind {
    /// GRE.
    #[serde(rename = "gre")]
    Gre,
    /// IP in IP.
    #[serde(rename = "ipinip")]
    IpInIp,
    /// VXLAN.
    #[serde(rename = "vxlan")]
    Vxlan,
    /// Geneve.
    #[serde(rename = "geneve")]
    Geneve,
    /// ERSPAN (types I to III).
    #[serde(rename = "erspan")]
    Erspan,
    /// GRE in UDP.
    #[serde(rename = "gre_in_udp")]
    GreInUdp,
    /// GTP-U.
    #[serde(rename = "gtpu")]
    Gtpu,
    /// Teredo.
    #[serde(rename = "teredo")]
    Teredo,
    /// L2TPv2.
    #[serde(rename = "l2tp")]
    L2tp,
    /// AYIYA.
    #[serde(rename = "ayiya")]
    Ayiya,
}

impl From<mss_wire::packet::Tunnel> for TunnelKind {
    fn from(tunnel: mss_wire::packet::Tunnel) -> TunnelKind {
        use mss_wire::packet::Tunnel;
        match tunnel {
            Tunnel::Gre => TunnelKind::Gre,
            Tunnel::IpInIp => TunnelKind::IpInIp,
            Tunnel::Vxlan => TunnelKind::Vxlan,
            Tunnel::Geneve => TunnelKind::Geneve,
            Tunnel::Erspan => TunnelKind::Erspan,
            Tunnel::GreInUdp => TunnelKind::GreInUdp,
            Tunnel::Gtpu => TunnelKind::Gtpu,
            Tunnel::Teredo => TunnelKind::Teredo,
            Tunnel::L2tp => TunnelKind::L2tp,
            Tunnel::Ayiya => TunnelKind::Ayiya,
        }
    }
}

/// A finding with its explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The kind (`kind`) and its numbers.
    #[serde(flatten)]
    pub finding: FindingFields,
    /// One line.
    pub title: String,
    /// What it means, in words.
    pub explanation: String,
    /// What to do, if anything.
    pub fix: Option<String>,
    /// Where the rule comes from.
    pub source: String,
}

/// The finding kinds and their numbers, tagged by `kind` (docs/json.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum FindingFields {
    /// No MSS option: the peer assumes `default`.
    MssMissing {
        endpoint: Option<Role>,
        default: u16,
    },
    /// An MSS option below Linux's 88.
    MssBelowLinuxMin { endpoint: Option<Role>, mss: u16 },
    /// The SYN's options were cut off.
    MssCutOff { endpoint: Option<Role> },
    /// Segments above the MSS, and why.
    SegmentsExceedMss {
        endpoint: Option<Role>,
        cause: OversizeCause,
        count: u64,
        largest: u32,
        mss: u32,
    },
    /// The MSS changed between two capture points.
    MssRewritten {
        endpoint: Option<Role>,
        from: u16,
        to: u16,
        between: [Option<String>; 2],
        between_index: [usize; 2],
    },
    /// ICMP too big for the flow.
    IcmpTooBig {
        endpoint: Option<Role>,
        mtu: u32,
        size: u32,
        count: u32,
        shrank: Option<bool>,
    },
    /// Full-size segments vanish without ICMP.
    PmtudBlackholeSuspected {
        endpoint: Option<Role>,
        size: u32,
        segment: u32,
        transmissions: u32,
        recovered_with: Option<u32>,
    },
    /// TCP in IP fragments.
    IpFragments {
        endpoint: Option<Role>,
        count: u32,
        #[serde(default)]
        incomplete: u32,
        #[serde(default)]
        incomplete_len: u32,
    },
    /// The directions send with different MSS.
    AsymmetricMss {
        endpoint: Option<Role>,
        client: u32,
        server: u32,
    },
}

impl FindingRecord {
    /// The record of `finding`, one of `report`'s, whose capture points are named
    /// `names` (by input index).
    pub fn new(finding: &Finding, report: &ConnectionReport, names: &[String]) -> FindingRecord {
        let explained = explain(finding, report);
        FindingRecord {
            finding: FindingFields::new(finding, |p| report.point_name(p, names)),
            title: explained.title,
            explanation: explained.text,
            fix: explained.fix,
            source: explained.source.to_string(),
        }
    }
}

impl FindingFields {
    /// The kind's name, `kind` in the record: the same as [`Finding::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            FindingFields::MssMissing { .. } => "mss_missing",
            FindingFields::MssBelowLinuxMin { .. } => "mss_below_linux_min",
            FindingFields::MssCutOff { .. } => "mss_cut_off",
            FindingFields::SegmentsExceedMss { .. } => "segments_exceed_mss",
            FindingFields::MssRewritten { .. } => "mss_rewritten",
            FindingFields::IcmpTooBig { .. } => "icmp_too_big",
            FindingFields::PmtudBlackholeSuspected { .. } => "pmtud_blackhole_suspected",
            FindingFields::IpFragments { .. } => "ip_fragments",
            FindingFields::AsymmetricMss { .. } => "asymmetric_mss",
        }
    }

    /// The endpoint it is about, `endpoint` in the record: the same as
    /// [`Finding::endpoint`].
    pub fn endpoint(&self) -> Option<Role> {
        match *self {
            FindingFields::MssMissing { endpoint, .. }
            | FindingFields::MssBelowLinuxMin { endpoint, .. }
            | FindingFields::MssCutOff { endpoint }
            | FindingFields::SegmentsExceedMss { endpoint, .. }
            | FindingFields::MssRewritten { endpoint, .. }
            | FindingFields::IcmpTooBig { endpoint, .. }
            | FindingFields::PmtudBlackholeSuspected { endpoint, .. }
            | FindingFields::IpFragments { endpoint, .. }
            | FindingFields::AsymmetricMss { endpoint, .. } => endpoint,
        }
    }

    /// The fields of `finding`; `point_name` names a capture point.
    fn new(finding: &Finding, point_name: impl Fn(usize) -> Option<String>) -> FindingFields {
        let endpoint = finding.endpoint();
        match *finding {
            Finding::MssMissing { default, .. } => FindingFields::MssMissing { endpoint, default },
            Finding::MssBelowLinuxMin { mss, .. } => {
                FindingFields::MssBelowLinuxMin { endpoint, mss }
            }
            Finding::MssCutOff { .. } => FindingFields::MssCutOff { endpoint },
            Finding::SegmentsExceedMss {
                cause,
                count,
                largest,
                mss,
                ..
            } => FindingFields::SegmentsExceedMss {
                endpoint,
                cause,
                count,
                largest,
                mss,
            },
            Finding::MssRewritten {
                from,
                to,
                before,
                after,
                ..
            } => FindingFields::MssRewritten {
                endpoint,
                from,
                to,
                between: [point_name(before), point_name(after)],
                between_index: [before, after],
            },
            Finding::IcmpTooBig {
                mtu,
                size,
                count,
                shrank,
                ..
            } => FindingFields::IcmpTooBig {
                endpoint,
                mtu,
                size,
                count,
                shrank,
            },
            Finding::PmtudBlackholeSuspected {
                size,
                segment,
                transmissions,
                recovered_with,
                ..
            } => FindingFields::PmtudBlackholeSuspected {
                endpoint,
                size,
                segment,
                transmissions,
                recovered_with,
            },
            Finding::IpFragments {
                count,
                incomplete,
                incomplete_len,
                ..
            } => FindingFields::IpFragments {
                endpoint,
                count,
                incomplete,
                incomplete_len,
            },
            Finding::AsymmetricMss { client, server } => FindingFields::AsymmetricMss {
                endpoint,
                client,
                server,
            },
        }
    }
}

impl ConnectionRecord {
    /// The endpoint with a role.
    pub fn endpoint(&self, role: Role) -> &EndpointReport {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }

    /// The record of `report`, whose capture points are named `names` (by input
    /// index).
    pub fn new(report: &ConnectionReport, names: &[String]) -> ConnectionRecord {
        let time = |ns: u64| {
            let mut text = Vec::with_capacity(27);
            rfc3339_into(&mut text, ns);
            String::from_utf8_lossy(&text).into_owned()
        };
        #[allow(clippy::cast_precision_loss)]
        let duration_s = report.last_ns.saturating_sub(report.first_ns) as f64 / 1e9;
        ConnectionRecord {
            record_type: RecordType::Connection,
            id: report.id,
            ip_version: report.ip_version.number(),
            client: report.client.clone(),
            server: report.server.clone(),
            roles: report.roles,
            handshake: report.handshake,
            ending: report.ending,
            first_time: time(report.first_ns),
            last_time: time(report.last_ns),
            duration_s,
            first_packet: report.first_packet,
            points: report
                .points
                .iter()
                .map(|p| PointRecord {
                    input: names.get(p.input).cloned(),
                    interface: p.interface.as_deref().map(str::to_string),
                    index: p.point,
                    position: p.position,
                    packets: p.packets,
                })
                .collect(),
            tunnel: report.tunnel.map(TunnelKind::from),
            findings: report
                .findings
                .iter()
                .map(|f| FindingRecord::new(f, report, names))
                .collect(),
            segments: None,
        }
    }

    /// The record of `report` with its time series (`--segments`).
    pub fn with_segments(report: &ConnectionReport, names: &[String]) -> ConnectionRecord {
        ConnectionRecord {
            segments: Some(report.segments.clone()),
            ..ConnectionRecord::new(report, names)
        }
    }
}

/// Appends `ns` (since the Unix epoch) as RFC 3339 UTC with microseconds,
/// `2026-12-06T10:09:17.123456Z` (proleptic Gregorian, days from the epoch by
/// Howard Hinnant's `civil_from_days`).
pub fn rfc3339_into(out: &mut Vec<u8>, ns: u64) {
    let seconds = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let unsigned = |v: i64| u64::try_from(v).unwrap_or(0);
    // Filled right to left into a fixed buffer, then appended at once: this runs
    // twice per connection record.
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (mut value, end, width) in [
        (unsigned(year), 4, 4),
        (unsigned(month), 7, 2),
        (unsigned(day), 10, 2),
        (rem / 3600, 13, 2),
        ((rem / 60) % 60, 16, 2),
        (rem % 60, 19, 2),
        (micros, 26, 6),
    ] {
        for digit in text.iter_mut().take(end).skip(end - width).rev() {
            *digit = b'0' + u8::try_from(value % 10).unwrap_or(0);
            value /= 10;
        }
    }
    out.extend_from_slice(&text);
}

/// The `summary` record that ends `mss analyze --json`: the totals of the whole
/// analysis and what each input held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// Always `summary`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// Each input, in the order given.
    pub inputs: Vec<InputRecord>,
    /// Packets seen.
    pub packets: u64,
    /// Packets with an IP header.
    pub ip_packets: u64,
    /// TCP segments (first fragments included).
    pub tcp_packets: u64,
    /// Connections reported.
    pub connections: u64,
    /// Findings by kind.
    pub findings: BTreeMap<String, u64>,
    /// SYNs and SYN-ACKs by MSS option value (at the point nearest the sender).
    pub syn_mss: BTreeMap<u16, u64>,
    /// Frames that carry no IP.
    pub not_ip: u64,
    /// Frames that could not be decoded.
    pub undecodable: u64,
    /// TCP packets whose header the snaplen cut.
    pub tcp_header_cut: u64,
    /// Frames of link types that are not decoded, by the link type's name.
    pub unsupported_link_types: BTreeMap<String, u64>,
    /// Connections reported early to bound memory.
    pub evicted: u64,
    /// ICMP too-big messages for flows not in the capture.
    pub unmatched_icmp: u64,
    /// IP fragments captured.
    pub fragments: u64,
    /// Datagrams put together from fragments.
    pub reassembled: u64,
    /// Datagrams given up with fragments missing.
    pub incomplete_datagrams: u64,
    /// Fragments dropped as Linux drops them, by reason.
    pub fragments_discarded: BTreeMap<String, u64>,
    /// Packets whose IP length is more than their frame had on the wire.
    pub length_beyond_frame: u64,
    /// Warnings (a truncated input, say).
    pub warnings: Vec<String>,
}

/// One input in the [`SummaryRecord`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    /// Its name: the path as given, or "standard input".
    pub name: String,
    /// `pcap` or `pcapng`.
    pub format: String,
    /// `gzip` or `zstd` for a compressed file (read decompressed), else `null`.
    pub compression: Option<String>,
    /// How far its clock is ahead of the first capture's (negative: behind), in
    /// seconds, as found from shared SYNs or given; `null` when not known.
    pub clock_offset_s: Option<f64>,
    /// Whether its times were corrected by that offset.
    pub clock_corrected: bool,
    /// The names of its link types.
    pub link_types: Vec<String>,
    /// Packets read from it.
    pub packets: u64,
    /// Why reading it stopped early, if it did.
    pub error: Option<String>,
}

impl SummaryRecord {
    /// The record of `summary`; `link_name` names a link type number.
    pub fn new(
        summary: &Summary,
        inputs: Vec<InputRecord>,
        link_name: impl Fn(u16) -> String,
        warnings: Vec<String>,
    ) -> SummaryRecord {
        SummaryRecord {
            record_type: RecordType::Summary,
            inputs,
            packets: summary.packets,
            ip_packets: summary.ip_packets,
            tcp_packets: summary.tcp_packets,
            connections: summary.connections,
            findings: summary
                .findings
                .iter()
                .map(|(kind, n)| ((*kind).to_string(), *n))
                .collect(),
            syn_mss: summary.syn_mss.clone(),
            not_ip: summary.not_ip,
            undecodable: summary.undecodable,
            tcp_header_cut: summary.tcp_header_cut,
            unsupported_link_types: summary
                .unsupported_links
                .iter()
                .map(|(link, n)| (link_name(*link), *n))
                .collect(),
            evicted: summary.evicted,
            unmatched_icmp: summary.unmatched_icmp,
            fragments: summary.fragments,
            reassembled: summary.reassembled,
            incomplete_datagrams: summary.incomplete_datagrams,
            fragments_discarded: summary
                .fragments_discarded
                .iter()
                .map(|(reason, n)| ((*reason).to_string(), *n))
                .collect(),
            length_beyond_frame: summary.length_beyond_frame,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One finding of every kind.
    fn every_kind() -> Vec<Finding> {
        let endpoint = Role::Server;
        vec![
            Finding::MssMissing {
                endpoint,
                default: 536,
            },
            Finding::MssBelowLinuxMin { endpoint, mss: 40 },
            Finding::MssCutOff { endpoint },
            Finding::SegmentsExceedMss {
                endpoint,
                cause: OversizeCause::GroLro,
                count: 3,
                largest: 2896,
                mss: 1448,
            },
            Finding::MssRewritten {
                endpoint,
                from: 1460,
                to: 1360,
                before: 0,
                after: 1,
            },
            Finding::IcmpTooBig {
                endpoint,
                mtu: 1400,
                size: 1500,
                count: 1,
                shrank: Some(true),
            },
            Finding::PmtudBlackholeSuspected {
                endpoint,
                size: 1500,
                segment: 1448,
                transmissions: 6,
                recovered_with: None,
            },
            Finding::IpFragments {
                endpoint,
                count: 2,
                incomplete: 0,
                incomplete_len: 0,
            },
            Finding::AsymmetricMss {
                client: 1448,
                server: 1348,
            },
        ]
    }

    #[test]
    fn finding_fields_name_their_kind_and_endpoint_as_the_finding_does() {
        let findings = every_kind();
        let kinds: Vec<&str> = findings.iter().map(Finding::kind).collect();
        assert_eq!(kinds, Finding::KINDS, "one finding of every kind, in order");
        let names = ["a.pcap".to_string(), "b.pcap".to_string()];
        for finding in &findings {
            let fields = FindingFields::new(finding, |p| names.get(p).cloned());
            assert_eq!(fields.kind(), finding.kind());
            assert_eq!(fields.endpoint(), finding.endpoint());
            // And as the record writes them.
            let written = serde_json::to_value(&fields).unwrap_or_default();
            assert_eq!(written["kind"], fields.kind());
            let endpoint = fields.endpoint().map(Role::name);
            assert_eq!(written["endpoint"].as_str(), endpoint);
        }
    }
}
