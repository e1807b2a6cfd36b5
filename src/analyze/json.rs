//! JSON Lines: one `connection` record per connection, a `summary` at the end. The
//! key names are a contract (docs/json.md).
//!
//! The record is the type `mss_analyze::record::ConnectionRecord`; consumers read it
//! with serde. Writing is by hand into a reused buffer, because it is worth it: for
//! the 30,008 connections of the benchmark capture the hand writer takes 24 ms, the
//! typed record through serde_json 43 ms (release build, this machine), on a thread
//! that runs beside an analysis of about 90 ms. The output is what serde_json writes
//! for the typed record, byte for byte (integers with itoa, floats with zmij,
//! strings escaped by the same table): the tests below check every record of the
//! examples, and of the tcpdump corpus when it is there.

use std::io::{self, Write};
use std::net::IpAddr;

use mss_analyze::explain::explain;
use mss_analyze::record::{InputRecord, SummaryRecord};
use mss_analyze::report::{EndpointReport, Finding, SynOptions};
use mss_analyze::{ConnectionReport, Summary};
use mss_ingest::Input;

/// A key as `Object` writes it, `,"name":` (keys are ASCII identifiers that need no
/// escaping).
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// A JSON object being written: tracks the comma before each key.
struct Object<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    #[inline(always)]
    fn open(buf: &'a mut Vec<u8>) -> Object<'a> {
        buf.push(b'{');
        Object { buf, first: true }
    }

    /// Writes a key made by `key!`, `,"name":`, without its comma if it is the
    /// object's first. Inlined with the key a constant, the copy is a few moves
    /// rather than a call (this runs some 80 times per connection record).
    #[inline(always)]
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        let bytes = key.as_bytes();
        let text = if self.first { &bytes[1..] } else { bytes };
        self.first = false;
        self.buf.extend_from_slice(text);
        self.buf
    }

    #[inline(always)]
    fn int(&mut self, key: &'static str, value: impl itoa::Integer) {
        let mut digits = itoa::Buffer::new();
        let text = digits.format(value);
        self.key(key).extend_from_slice(text.as_bytes());
    }

    #[inline(always)]
    fn opt_int(&mut self, key: &'static str, value: Option<impl itoa::Integer>) {
        match value {
            Some(v) => self.int(key, v),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline(always)]
    fn bool(&mut self, key: &'static str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(key).extend_from_slice(text);
    }

    #[inline(always)]
    fn str(&mut self, key: &'static str, value: &str) {
        let buf = self.key(key);
        escaped(buf, value);
    }

    /// A string that is one of the program's own names (ASCII identifiers such as
    /// `at_client`), which need no escaping.
    #[inline(always)]
    fn name(&mut self, key: &'static str, value: &'static str) {
        debug_assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        );
        let buf = self.key(key);
        buf.push(b'"');
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'"');
    }

    #[inline(always)]
    fn opt_name(&mut self, key: &'static str, value: Option<&'static str>) {
        match value {
            Some(v) => self.name(key, v),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline(always)]
    fn opt_str(&mut self, key: &'static str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline(always)]
    fn close(self) {
        self.buf.push(b'}');
    }
}

/// A JSON string, escaped as serde_json does (RFC 8259 section 7).
fn escaped(buf: &mut Vec<u8>, value: &str) {
    buf.push(b'"');
    let bytes = value.as_bytes();
    // Most strings need no escaping: one pass without branches (it vectorises)
    // tells, and they are copied whole.
    let plain = !bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(byte >> 4)]);
                buf.push(HEX[usize::from(byte & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(escape);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

fn addr(buf: &mut Vec<u8>, addr: IpAddr) {
    buf.push(b'"');
    match addr {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf.push(b'.');
                }
                buf.extend_from_slice(itoa::Buffer::new().format(octet).as_bytes());
            }
        }
        // Writing into a Vec cannot fail.
        IpAddr::V6(v6) => {
            let _ = write!(buf, "{v6}");
        }
    }
    buf.push(b'"');
}

/// RFC 3339 UTC with microseconds, as a JSON string.
fn time(buf: &mut Vec<u8>, ns: u64) {
    buf.push(b'"');
    crate::render::rfc3339_into(buf, ns);
    buf.push(b'"');
}

fn syn_options(buf: &mut Vec<u8>, options: &SynOptions) {
    let mut o = Object::open(buf);
    o.opt_int(key!("window_scale"), options.window_scale);
    o.bool(key!("sack_permitted"), options.sack_permitted);
    o.bool(key!("timestamps"), options.timestamps);
    o.bool(key!("md5"), options.md5);
    o.opt_int(key!("ao_mac_len"), options.ao_mac_len);
    o.bool(key!("mptcp"), options.mptcp);
    o.bool(key!("fast_open"), options.fast_open);
    let list = o.key(key!("unknown_kinds"));
    list.push(b'[');
    for (i, kind) in options.unknown_kinds.iter().enumerate() {
        if i > 0 {
            list.push(b',');
        }
        list.extend_from_slice(itoa::Buffer::new().format(*kind).as_bytes());
    }
    list.push(b']');
    o.close();
}

fn endpoint(buf: &mut Vec<u8>, e: &EndpointReport) {
    let mut o = Object::open(buf);
    addr(o.key(key!("addr")), e.addr);
    o.int(key!("port"), e.port);
    o.opt_int(key!("syn_mss"), e.syn_mss.value());
    o.name(key!("syn_mss_state"), e.syn_mss.state().name());
    match &e.syn_options {
        Some(options) => syn_options(o.key(key!("syn_options")), options),
        None => o.key(key!("syn_options")).extend_from_slice(b"null"),
    }
    o.opt_int(key!("ttl"), e.ttl);
    o.opt_int(key!("handshake_send_mss"), e.handshake_send_mss);
    o.opt_int(key!("effective_send_mss"), e.effective_send_mss);
    o.opt_name(key!("effective_basis"), e.effective_basis.map(|b| b.name()));
    o.int(key!("data_option_bytes"), e.data_option_bytes);
    o.opt_int(key!("max_segment"), e.max_segment);
    o.opt_int(key!("typical_segment"), e.typical_segment);
    o.int(key!("data_segments"), e.data_segments);
    o.int(key!("data_bytes"), e.data_bytes);
    o.int(key!("retransmissions"), e.retransmissions);
    o.close();
}

fn finding(buf: &mut Vec<u8>, f: &Finding, report: &ConnectionReport, names: &[String]) {
    let explained = explain(f, report);
    let mut o = Object::open(buf);
    o.name(key!("kind"), f.kind());
    o.opt_name(key!("endpoint"), f.endpoint().map(|r| r.name()));
    match *f {
        Finding::MssMissing { default, .. } => o.int(key!("default"), default),
        Finding::MssBelowLinuxMin { mss, .. } => o.int(key!("mss"), mss),
        Finding::MssCutOff { .. } => {}
        Finding::SegmentsExceedMss {
            cause,
            count,
            largest,
            mss,
            ..
        } => {
            o.name(key!("cause"), cause.name());
            o.int(key!("count"), count);
            o.int(key!("largest"), largest);
            o.int(key!("mss"), mss);
        }
        Finding::MssRewritten {
            from,
            to,
            before,
            after,
            ..
        } => {
            o.int(key!("from"), from);
            o.int(key!("to"), to);
            let list = o.key(key!("between"));
            list.push(b'[');
            for (i, point) in [before, after].into_iter().enumerate() {
                if i > 0 {
                    list.push(b',');
                }
                match report.point_name(point, names) {
                    Some(name) => escaped(list, &name),
                    None => list.extend_from_slice(b"null"),
                }
            }
            list.push(b']');
            let list = o.key(key!("between_index"));
            list.push(b'[');
            list.extend_from_slice(itoa::Buffer::new().format(before).as_bytes());
            list.push(b',');
            list.extend_from_slice(itoa::Buffer::new().format(after).as_bytes());
            list.push(b']');
        }
        Finding::IcmpTooBig {
            mtu,
            size,
            count,
            shrank,
            ..
        } => {
            o.int(key!("mtu"), mtu);
            o.int(key!("size"), size);
            o.int(key!("count"), count);
            match shrank {
                Some(v) => o.bool(key!("shrank"), v),
                None => o.key(key!("shrank")).extend_from_slice(b"null"),
            }
        }
        Finding::PmtudBlackholeSuspected {
            size,
            segment,
            transmissions,
            recovered_with,
            ..
        } => {
            o.int(key!("size"), size);
            o.int(key!("segment"), segment);
            o.int(key!("transmissions"), transmissions);
            o.opt_int(key!("recovered_with"), recovered_with);
        }
        Finding::IpFragments {
            count,
            incomplete,
            incomplete_len,
            ..
        } => {
            o.int(key!("count"), count);
            o.int(key!("incomplete"), incomplete);
            o.int(key!("incomplete_len"), incomplete_len);
        }
        Finding::AsymmetricMss { client, server } => {
            o.int(key!("client"), client);
            o.int(key!("server"), server);
        }
    }
    o.str(key!("title"), &explained.title);
    o.str(key!("explanation"), &explained.text);
    o.opt_str(key!("fix"), explained.fix.as_deref());
    o.str(key!("source"), explained.source);
    o.close();
}

/// Appends one `connection` record, newline included, to `buf`.
pub(super) fn connection(buf: &mut Vec<u8>, report: &ConnectionReport, names: &[String]) {
    let mut o = Object::open(buf);
    o.name(key!("type"), "connection");
    o.int(key!("id"), report.id);
    o.int(key!("ip_version"), report.ip_version.number());
    endpoint(o.key(key!("client")), &report.client);
    endpoint(o.key(key!("server")), &report.server);
    o.name(key!("roles"), report.roles.name());
    o.name(key!("handshake"), report.handshake.name());
    o.name(key!("ending"), report.ending.name());
    time(o.key(key!("first_time")), report.first_ns);
    time(o.key(key!("last_time")), report.last_ns);
    let duration = report.last_ns.saturating_sub(report.first_ns) as f64 / 1e9;
    o.key(key!("duration_s"))
        .extend_from_slice(zmij::Buffer::new().format_finite(duration).as_bytes());
    o.int(key!("first_packet"), report.first_packet);
    let list = o.key(key!("points"));
    list.push(b'[');
    for (i, p) in report.points.iter().enumerate() {
        if i > 0 {
            list.push(b',');
        }
        let mut point = Object::open(list);
        point.opt_str(key!("input"), names.get(p.input).map(String::as_str));
        point.opt_str(key!("interface"), p.interface.as_deref());
        point.int(key!("index"), p.point);
        point.name(key!("position"), p.position.name());
        point.int(key!("packets"), p.packets);
        point.close();
    }
    list.push(b']');
    o.opt_name(key!("tunnel"), report.tunnel.map(tunnel_name));
    let list = o.key(key!("findings"));
    list.push(b'[');
    for (i, f) in report.findings.iter().enumerate() {
        if i > 0 {
            list.push(b',');
        }
        finding(list, f, report, names);
    }
    list.push(b']');
    o.close();
    buf.push(b'\n');
}

/// Appends one `connection` record with its time series (`--segments`): the
/// record as [`connection`] writes it, with a `segments` key before its end. The
/// series is written by serde (it is opt-in and rarely large).
pub(super) fn connection_with_segments(
    buf: &mut Vec<u8>,
    report: &ConnectionReport,
    names: &[String],
) {
    connection(buf, report, names);
    // Reopen the object: drop its `}` and the newline.
    buf.truncate(buf.len().saturating_sub(2));
    buf.extend_from_slice(b",\"segments\":");
    // Serializing plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, &report.segments);
    buf.extend_from_slice(b"}\n");
}

/// The final `summary` record (once per run; built as a value for simplicity).
pub(super) fn summary(
    out: &mut impl Write,
    summary: &Summary,
    inputs: &[Input],
    warnings: &[String],
) -> io::Result<()> {
    let inputs = inputs
        .iter()
        .map(|i| InputRecord {
            name: i.name.clone(),
            format: i.kind().to_string(),
            compression: i.compression.map(|c| c.name().to_string()),
            clock_offset_s: i.clock.map(|c| c.offset_ns as f64 / 1e9),
            clock_corrected: i.clock.is_some_and(|c| c.applied),
            link_types: i.link_types.iter().map(|l| l.name()).collect(),
            packets: i.packets,
            error: i.error.as_ref().map(ToString::to_string),
        })
        .collect();
    let record = SummaryRecord::new(
        summary,
        inputs,
        |link| mss_capture::LinkType(link).name(),
        warnings.to_vec(),
    );
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}

/// A tunnel's name in JSON: the name serde gives `mss_analyze::record::TunnelKind`.
fn tunnel_name(tunnel: mss_wire::packet::Tunnel) -> &'static str {
    use mss_wire::packet::Tunnel;
    match tunnel {
        Tunnel::Gre => "gre",
        Tunnel::IpInIp => "ipinip",
        Tunnel::Vxlan => "vxlan",
        Tunnel::Geneve => "geneve",
        Tunnel::Erspan => "erspan",
        Tunnel::GreInUdp => "gre_in_udp",
        Tunnel::Gtpu => "gtpu",
        Tunnel::Teredo => "teredo",
        Tunnel::L2tp => "l2tp",
        Tunnel::Ayiya => "ayiya",
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use mss_analyze::record::ConnectionRecord;

    use super::*;

    /// Analyses `paths` together and checks every `connection` record: the hand
    /// writer writes byte for byte what serde writes for the typed record, and it
    /// reads back as that record. Returns how many records.
    fn compare(paths: &[PathBuf]) -> usize {
        let Ok(mut inputs) = paths
            .iter()
            .map(|p| Input::open(p))
            .collect::<Result<Vec<Input>, _>>()
        else {
            // Not a capture mss reads: nothing to compare.
            return 0;
        };
        let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let reports = super::super::reports_with_segments(&mut inputs);
        for report in &reports {
            let mut written = Vec::new();
            connection(&mut written, report, &names);
            let record = ConnectionRecord::new(report, &names);
            let mut with = Vec::new();
            connection_with_segments(&mut with, report, &names);
            let mut serialized =
                serde_json::to_vec(&ConnectionRecord::with_segments(report, &names))
                    .unwrap_or_default();
            serialized.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&with),
                String::from_utf8_lossy(&serialized),
                "{paths:?}, connection #{} with segments",
                report.id
            );
            let mut serialized = serde_json::to_vec(&record).unwrap_or_default();
            serialized.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&serialized),
                "{paths:?}, connection #{}",
                report.id
            );
            let back: ConnectionRecord =
                serde_json::from_slice(&written).unwrap_or_else(|e| panic!("{paths:?}: {e}"));
            assert_eq!(back, record, "{paths:?}, connection #{}", report.id);
        }
        reports.len()
    }

    /// The corpus holds no TCP inside most tunnels: every tunnel's name is checked
    /// here instead.
    #[test]
    fn tunnel_names_are_serdes() {
        use mss_analyze::record::TunnelKind;
        use mss_wire::packet::Tunnel;
        for tunnel in [
            Tunnel::Gre,
            Tunnel::IpInIp,
            Tunnel::Vxlan,
            Tunnel::Geneve,
            Tunnel::Erspan,
            Tunnel::GreInUdp,
            Tunnel::Gtpu,
            Tunnel::Teredo,
            Tunnel::L2tp,
            Tunnel::Ayiya,
        ] {
            let serde = serde_json::to_string(&TunnelKind::from(tunnel)).unwrap_or_default();
            assert_eq!(serde, format!("\"{}\"", tunnel_name(tunnel)), "{tunnel:?}");
        }
    }

    #[test]
    fn the_writer_writes_what_serde_writes_for_the_typed_record() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let client = root.join("examples/clamp-client.pcap");
        let server = root.join("examples/clamp-server.pcap");
        assert!(compare(std::slice::from_ref(&client)) >= 2);
        // Two capture points: rewrites, with the points' names in the findings.
        assert!(compare(&[client, server]) >= 2);
    }

    /// Every capture of tcpdump's test suite (findings of every kind, tunnels,
    /// odd strings): `scripts/test` runs it when the corpus is there.
    #[test]
    #[ignore = "needs the tcpdump corpus (../shared/corpus/tcpdump or MSS_CORPUS); scripts/test runs it when the corpus is there"]
    fn the_writer_writes_what_serde_writes_on_the_corpus() {
        let dir = std::env::var_os("MSS_CORPUS").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/tcpdump"),
            PathBuf::from,
        );
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!(
                "the tcpdump corpus is not at {}: set MSS_CORPUS to its directory",
                dir.display()
            );
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        let records: usize = files.iter().map(|f| compare(std::slice::from_ref(f))).sum();
        assert!(records > 200, "{records} records compared");
    }
}
