//! JSON Lines: one `connection` record per connection, a `summary` at the end. The
//! key names are a contract (docs/json.md).

use std::io::{self, Write};

use mss_analyze::explain::explain;
use mss_analyze::report::{EndpointReport, Finding, MssSeen, SynOptions};
use mss_analyze::{ConnectionReport, Summary};
use serde_json::{Map, Value, json};

use super::input::Input;
use crate::render::rfc3339;

fn line(out: &mut impl Write, value: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

fn syn_options(options: &SynOptions) -> Value {
    json!({
        "window_scale": options.window_scale,
        "sack_permitted": options.sack_permitted,
        "timestamps": options.timestamps,
        "md5": options.md5,
        "ao_mac_len": options.ao_mac_len,
        "mptcp": options.mptcp,
        "fast_open": options.fast_open,
        "unknown_kinds": options.unknown_kinds,
    })
}

fn mss_state(seen: MssSeen) -> &'static str {
    match seen {
        MssSeen::Value(_) => "present",
        MssSeen::Absent => "absent",
        MssSeen::Unknown => "unknown",
        MssSeen::NotCaptured => "not_captured",
    }
}

fn endpoint(e: &EndpointReport) -> Value {
    json!({
        "addr": e.addr.to_string(),
        "port": e.port,
        "syn_mss": e.syn_mss.value(),
        "syn_mss_state": mss_state(e.syn_mss),
        "syn_options": e.syn_options.as_ref().map(syn_options),
        "ttl": e.ttl,
        "handshake_send_mss": e.handshake_send_mss,
        "effective_send_mss": e.effective_send_mss,
        "effective_basis": e.effective_basis.map(|b| b.name()),
        "data_option_bytes": e.data_option_bytes,
        "max_segment": e.max_segment,
        "typical_segment": e.typical_segment,
        "data_segments": e.data_segments,
        "data_bytes": e.data_bytes,
        "retransmissions": e.retransmissions,
    })
}

/// The finding's own fields (beyond kind and endpoint).
fn finding_fields(finding: &Finding, names: &[String]) -> Map<String, Value> {
    let value = match *finding {
        Finding::MssMissing { default, .. } => json!({"default": default}),
        Finding::MssBelowLinuxMin { mss, .. } => json!({"mss": mss}),
        Finding::MssCutOff { .. } => json!({}),
        Finding::SegmentsExceedMss {
            cause,
            count,
            largest,
            mss,
            ..
        } => json!({"cause": cause.name(), "count": count, "largest": largest, "mss": mss}),
        Finding::MssRewritten {
            from,
            to,
            before,
            after,
            ..
        } => json!({
            "from": from,
            "to": to,
            "between": [names.get(before), names.get(after)],
            "between_index": [before, after],
        }),
        Finding::IcmpTooBig {
            mtu,
            size,
            count,
            shrank,
            ..
        } => json!({"mtu": mtu, "size": size, "count": count, "shrank": shrank}),
        Finding::PmtudBlackholeSuspected {
            size,
            segment,
            transmissions,
            recovered_with,
            ..
        } => json!({
            "size": size,
            "segment": segment,
            "transmissions": transmissions,
            "recovered_with": recovered_with,
        }),
        Finding::IpFragments { count, .. } => json!({"count": count}),
        Finding::AsymmetricMss { client, server } => json!({"client": client, "server": server}),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One `connection` record.
pub(super) fn connection(
    out: &mut impl Write,
    report: &ConnectionReport,
    names: &[String],
) -> io::Result<()> {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let explained = explain(f, report);
            let mut map = Map::new();
            map.insert("kind".into(), json!(f.kind()));
            map.insert("endpoint".into(), json!(f.endpoint().map(|r| r.name())));
            map.extend(finding_fields(f, names));
            map.insert("title".into(), json!(explained.title));
            map.insert("explanation".into(), json!(explained.text));
            map.insert("fix".into(), json!(explained.fix));
            map.insert("source".into(), json!(explained.source));
            Value::Object(map)
        })
        .collect();
    let points: Vec<Value> = report
        .points
        .iter()
        .map(|p| {
            json!({
                "input": names.get(p.point),
                "index": p.point,
                "position": p.position.name(),
                "packets": p.packets,
            })
        })
        .collect();
    let record = json!({
        "type": "connection",
        "id": report.id,
        "ip_version": report.ip_version.number(),
        "client": endpoint(&report.client),
        "server": endpoint(&report.server),
        "roles": report.roles.name(),
        "handshake": report.handshake.name(),
        "ending": report.ending.name(),
        "first_time": rfc3339(report.first_ns),
        "last_time": rfc3339(report.last_ns),
        "duration_s": (report.last_ns.saturating_sub(report.first_ns)) as f64 / 1e9,
        "first_packet": report.first_packet,
        "points": points,
        "tunnel": report.tunnel.map(|t| format!("{t:?}").to_lowercase()),
        "findings": findings,
    });
    line(out, &record)
}

/// The final `summary` record.
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
    line(out, &record)
}
