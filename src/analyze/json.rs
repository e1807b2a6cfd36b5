//! JSON Lines: one `connection` record per connection, a `summary` at the end. The
//! key names are a contract (docs/json.md).
//!
//! Connection records are serialized straight from structs that borrow the report
//! (no intermediate `serde_json::Value`): a capture can hold millions of
//! connections, and building maps for each cost more than the whole analysis.

use std::io::{self, Write};
use std::net::IpAddr;

use mss_analyze::explain::explain;
use mss_analyze::report::{EndpointReport, Finding, MssSeen, SynOptions};
use mss_analyze::{ConnectionReport, Summary};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::input::Input;
use crate::render::rfc3339;

#[derive(Serialize)]
struct ConnectionRecord<'a> {
    #[serde(rename = "type")]
    record: &'static str,
    id: u64,
    ip_version: u8,
    client: EndpointRecord<'a>,
    server: EndpointRecord<'a>,
    roles: &'static str,
    handshake: &'static str,
    ending: &'static str,
    first_time: String,
    last_time: String,
    duration_s: f64,
    first_packet: u64,
    points: Vec<PointRecord<'a>>,
    tunnel: Option<&'static str>,
    findings: Vec<FindingRecord<'a>>,
}

#[derive(Serialize)]
struct EndpointRecord<'a> {
    addr: IpAddr,
    port: u16,
    syn_mss: Option<u16>,
    syn_mss_state: &'static str,
    syn_options: Option<SynOptionsRecord<'a>>,
    ttl: Option<u8>,
    handshake_send_mss: Option<u32>,
    effective_send_mss: Option<u32>,
    effective_basis: Option<&'static str>,
    data_option_bytes: u32,
    max_segment: Option<u32>,
    typical_segment: Option<u32>,
    data_segments: u64,
    data_bytes: u64,
    retransmissions: u64,
}

#[derive(Serialize)]
struct SynOptionsRecord<'a> {
    window_scale: Option<u8>,
    sack_permitted: bool,
    timestamps: bool,
    md5: bool,
    ao_mac_len: Option<u8>,
    mptcp: bool,
    fast_open: bool,
    unknown_kinds: &'a [u8],
}

#[derive(Serialize)]
struct PointRecord<'a> {
    input: Option<&'a str>,
    index: usize,
    position: &'static str,
    packets: u64,
}

/// A finding: kind and endpoint, the fields of its kind (absent for other kinds;
/// `Some(None)` is an explicit null), and its explanation.
#[derive(Serialize, Default)]
struct FindingRecord<'a> {
    kind: &'static str,
    endpoint: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mss: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    largest: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    between: Option<[Option<&'a str>; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    between_index: Option<[usize; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shrank: Option<Option<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmissions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered_with: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<u32>,
    title: String,
    explanation: String,
    fix: Option<String>,
    source: &'static str,
}

fn mss_state(seen: MssSeen) -> &'static str {
    match seen {
        MssSeen::Value(_) => "present",
        MssSeen::Absent => "absent",
        MssSeen::Unknown => "unknown",
        MssSeen::NotCaptured => "not_captured",
    }
}

fn syn_options(options: &SynOptions) -> SynOptionsRecord<'_> {
    SynOptionsRecord {
        window_scale: options.window_scale,
        sack_permitted: options.sack_permitted,
        timestamps: options.timestamps,
        md5: options.md5,
        ao_mac_len: options.ao_mac_len,
        mptcp: options.mptcp,
        fast_open: options.fast_open,
        unknown_kinds: &options.unknown_kinds,
    }
}

fn endpoint(e: &EndpointReport) -> EndpointRecord<'_> {
    EndpointRecord {
        addr: e.addr,
        port: e.port,
        syn_mss: e.syn_mss.value(),
        syn_mss_state: mss_state(e.syn_mss),
        syn_options: e.syn_options.as_ref().map(syn_options),
        ttl: e.ttl,
        handshake_send_mss: e.handshake_send_mss,
        effective_send_mss: e.effective_send_mss,
        effective_basis: e.effective_basis.map(|b| b.name()),
        data_option_bytes: e.data_option_bytes,
        max_segment: e.max_segment,
        typical_segment: e.typical_segment,
        data_segments: e.data_segments,
        data_bytes: e.data_bytes,
        retransmissions: e.retransmissions,
    }
}

fn finding<'a>(f: &Finding, report: &ConnectionReport, names: &'a [String]) -> FindingRecord<'a> {
    let explained = explain(f, report);
    let mut record = FindingRecord {
        kind: f.kind(),
        endpoint: f.endpoint().map(|r| r.name()),
        title: explained.title,
        explanation: explained.text,
        fix: explained.fix,
        source: explained.source,
        ..FindingRecord::default()
    };
    match *f {
        Finding::MssMissing { default, .. } => record.default = Some(default),
        Finding::MssBelowLinuxMin { mss, .. } => record.mss = Some(u32::from(mss)),
        Finding::MssCutOff { .. } => {}
        Finding::SegmentsExceedMss {
            cause,
            count,
            largest,
            mss,
            ..
        } => {
            record.cause = Some(cause.name());
            record.count = Some(count);
            record.largest = Some(largest);
            record.mss = Some(mss);
        }
        Finding::MssRewritten {
            from,
            to,
            before,
            after,
            ..
        } => {
            record.from = Some(from);
            record.to = Some(to);
            record.between = Some([
                names.get(before).map(String::as_str),
                names.get(after).map(String::as_str),
            ]);
            record.between_index = Some([before, after]);
        }
        Finding::IcmpTooBig {
            mtu,
            size,
            count,
            shrank,
            ..
        } => {
            record.mtu = Some(mtu);
            record.size = Some(size);
            record.count = Some(u64::from(count));
            record.shrank = Some(shrank);
        }
        Finding::PmtudBlackholeSuspected {
            size,
            segment,
            transmissions,
            recovered_with,
            ..
        } => {
            record.size = Some(size);
            record.segment = Some(segment);
            record.transmissions = Some(transmissions);
            record.recovered_with = Some(recovered_with);
        }
        Finding::IpFragments { count, .. } => record.count = Some(u64::from(count)),
        Finding::AsymmetricMss { client, server } => {
            record.client = Some(client);
            record.server = Some(server);
        }
    }
    record
}

/// One `connection` record.
pub(super) fn connection(
    out: &mut impl Write,
    report: &ConnectionReport,
    names: &[String],
) -> io::Result<()> {
    let record = ConnectionRecord {
        record: "connection",
        id: report.id,
        ip_version: report.ip_version.number(),
        client: endpoint(&report.client),
        server: endpoint(&report.server),
        roles: report.roles.name(),
        handshake: report.handshake.name(),
        ending: report.ending.name(),
        first_time: rfc3339(report.first_ns),
        last_time: rfc3339(report.last_ns),
        duration_s: report.last_ns.saturating_sub(report.first_ns) as f64 / 1e9,
        first_packet: report.first_packet,
        points: report
            .points
            .iter()
            .map(|p| PointRecord {
                input: names.get(p.point).map(String::as_str),
                index: p.point,
                position: p.position.name(),
                packets: p.packets,
            })
            .collect(),
        tunnel: report.tunnel.map(|t| match t {
            mss_wire::packet::Tunnel::Gre => "gre",
            mss_wire::packet::Tunnel::IpInIp => "ipinip",
            mss_wire::packet::Tunnel::Vxlan => "vxlan",
            mss_wire::packet::Tunnel::Geneve => "geneve",
        }),
        findings: report
            .findings
            .iter()
            .map(|f| finding(f, report, names))
            .collect(),
    };
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}

/// The final `summary` record (once per run; built as a value for simplicity).
pub(super) fn summary(
    out: &mut impl Write,
    summary: &Summary,
    inputs: &[Input],
    warnings: &[String],
) -> io::Result<()> {
    let inputs: Vec<Value> = inputs
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "format": match i.format {
                    mss_capture::Format::PcapNg => "pcapng",
                    mss_capture::Format::Pcap { .. } => "pcap",
                },
                "link_types": i.link_types.iter().map(|l| l.name()).collect::<Vec<_>>(),
                "packets": i.packets,
                "error": i.error.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    let syn_mss: Map<String, Value> = summary
        .syn_mss
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let unsupported: Map<String, Value> = summary
        .unsupported_links
        .iter()
        .map(|(k, v)| (mss_capture::LinkType(*k).name(), json!(v)))
        .collect();
    let record = json!({
        "type": "summary",
        "inputs": inputs,
        "packets": summary.packets,
        "ip_packets": summary.ip_packets,
        "tcp_packets": summary.tcp_packets,
        "connections": summary.connections,
        "findings": summary.findings,
        "syn_mss": syn_mss,
        "not_ip": summary.not_ip,
        "undecodable": summary.undecodable,
        "tcp_header_cut": summary.tcp_header_cut,
        "unsupported_link_types": unsupported,
        "evicted": summary.evicted,
        "unmatched_icmp": summary.unmatched_icmp,
        "unmatched_fragments": summary.unmatched_fragments,
        "warnings": warnings,
    });
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}
