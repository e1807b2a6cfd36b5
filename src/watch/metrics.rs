//! `mss watch --metrics`: the counters and histograms for Prometheus, served on
//! `/metrics` in the OpenMetrics text format (or Prometheus's older text format
//! for a scraper that does not ask for OpenMetrics). Names and labels are in
//! docs/watch.md; deploy/ has the alert rules and the dashboard that use them.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::State;

/// Labels of one series.
type Labels = Vec<(&'static str, String)>;

/// Reads the watch's state at each scrape.
#[derive(Debug)]
struct Snapshot {
    state: Arc<Mutex<State>>,
}

/// Writes one counter family: name (without `_total`), help, series.
fn counters(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one histogram family over the MSS buckets.
fn histograms<'h>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, &'h mss_analyze::watch::Histogram)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, histogram) in series {
        // Sums of MSS values stay far below 2^53: exact as f64.
        #[allow(clippy::cast_precision_loss)]
        let sum = histogram.sum as f64;
        metric.encode_family(&labels)?.encode_histogram::<Labels>(
            sum,
            histogram.count,
            &histogram.buckets(),
            None,
        )?;
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Ok(state) = self.state.lock() else {
            return Err(std::fmt::Error);
        };
        let totals = &state.watch.totals;
        let s = |v: &str| v.to_string();
        {
            let mut info =
                encoder.encode_descriptor("mss_build", "mss's version", None, MetricType::Info)?;
            info.encode_info(&vec![("version", s(env!("CARGO_PKG_VERSION")))])?;
        }
        counters(
            &mut encoder,
            "mss_capture_received_packets",
            "Packets the capture received on the interface (after its filter)",
            state
                .captures
                .iter()
                .map(|(name, c)| (vec![("interface", name.clone())], c.received())),
        )?;
        counters(
            &mut encoder,
            "mss_capture_dropped_packets",
            "Packets dropped before mss read them: the capture buffer was full, or the \
             interface dropped them",
            state
                .captures
                .iter()
                .map(|(name, c)| (vec![("interface", name.clone())], c.dropped())),
        )?;
        {
            let open = i64::try_from(state.watch.open_connections()).unwrap_or(i64::MAX);
            let metric = encoder.encode_descriptor(
                "mss_open_connections",
                "Connections open now (handshake answered, or a second old)",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(open).encode(metric)?;
        }
        counters(
            &mut encoder,
            "mss_connections",
            "TCP connections seen on the interface",
            totals.connections.iter().map(|((interface, version), n)| {
                (
                    vec![
                        ("interface", s(interface)),
                        ("ip_version", version.to_string()),
                    ],
                    *n,
                )
            }),
        )?;
        histograms(
            &mut encoder,
            "mss_syn_mss_bytes",
            "The MSS option of SYNs (direction syn) and SYN-ACKs (syn_ack) as seen on \
             the interface",
            totals.syn_mss.iter().map(|((interface, direction), h)| {
                (
                    vec![
                        ("interface", s(interface)),
                        ("direction", s(direction.name())),
                    ],
                    h,
                )
            }),
        )?;
        histograms(
            &mut encoder,
            "mss_effective_send_mss_bytes",
            "Each endpoint's effective send MSS when its connection ended",
            totals
                .effective_send_mss
                .iter()
                .map(|((interface, role), h)| {
                    (
                        vec![("interface", s(interface)), ("role", s(role.name()))],
                        h,
                    )
                }),
        )?;
        counters(
            &mut encoder,
            "mss_findings",
            "Findings, once per connection and kind, by the first interface that saw \
             the connection",
            // Every kind from 0 on each interface known, so a first finding is an
            // increase that rate() and increase() see.
            interfaces(&state).into_iter().flat_map(|interface| {
                mss_analyze::report::Finding::KINDS.iter().map(move |kind| {
                    let n = totals
                        .findings
                        .get(&(Arc::clone(&interface), *kind))
                        .copied()
                        .unwrap_or(0);
                    (vec![("interface", s(&interface)), ("kind", s(kind))], n)
                })
            }),
        )?;
        counters(
            &mut encoder,
            "mss_rewrites",
            "SYNs whose MSS option changed between two interfaces (a clamp), from and \
             to the values",
            totals.rewrites.iter().map(|(r, n)| {
                (
                    vec![
                        ("from_interface", s(&r.from_interface)),
                        ("to_interface", s(&r.to_interface)),
                        ("direction", s(r.direction.name())),
                        ("from", r.from.to_string()),
                        ("to", r.to.to_string()),
                    ],
                    *n,
                )
            }),
        )?;
        counters(
            &mut encoder,
            "mss_icmp_too_big",
            "ICMP fragmentation-needed and ICMPv6 packet-too-big messages for watched \
             connections, by the MTU they report",
            totals.icmp_too_big.iter().map(|((interface, mtu), n)| {
                (
                    vec![("interface", s(interface)), ("mtu", mtu.to_string())],
                    *n,
                )
            }),
        )?;
        counters(
            &mut encoder,
            "mss_oversize_segments",
            "Segments larger than the MSS, by cause (tso_gso and gro_lro are offloads, \
             violation is not)",
            totals
                .oversize_segments
                .iter()
                .map(|((interface, cause), n)| {
                    (vec![("interface", s(interface)), ("cause", s(cause))], *n)
                }),
        )?;
        Ok(())
    }
}

/// The interfaces known: those capturing, and those connections were seen on.
fn interfaces(state: &State) -> std::collections::BTreeSet<Arc<str>> {
    let totals = &state.watch.totals;
    state
        .captures
        .iter()
        .map(|(name, _)| Arc::from(name.as_str()))
        .chain(totals.connections.keys().map(|(i, _)| Arc::clone(i)))
        .chain(totals.findings.keys().map(|(i, _)| Arc::clone(i)))
        .collect()
}

/// The registry of a watch.
pub(super) fn registry(state: Arc<Mutex<State>>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot { state }));
    registry
}

/// The OpenMetrics text of `registry`, or Prometheus's text format 0.0.4 when
/// `openmetrics` is false; with the content type to send it with.
pub(super) fn render(registry: &Registry, openmetrics: bool) -> (String, &'static str) {
    let mut text = String::with_capacity(16 * 1024);
    if openmetrics {
        // Writing into a String cannot fail but for our own encoder's error.
        let _ = prometheus_client::encoding::text::encode(&mut text, registry);
        (
            text,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, registry);
        (text, "text/plain; version=0.0.4; charset=utf-8")
    }
}

/// Serves `/metrics` on `server` until it is unblocked: each request is answered
/// at once, from the state as it is.
pub(super) fn serve(server: &tiny_http::Server, registry: &Registry) {
    const TEXT: &str = "text/plain; charset=utf-8";
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let (status, content_type, body) = match (request.method(), path) {
            (tiny_http::Method::Get | tiny_http::Method::Head, "/metrics") => {
                let openmetrics = request.headers().iter().any(|h| {
                    h.field.equiv("Accept")
                        && h.value.as_str().contains("application/openmetrics-text")
                });
                let (text, content_type) = render(registry, openmetrics);
                (200, content_type, text)
            }
            (tiny_http::Method::Get, "/") => (
                200,
                TEXT,
                "mss watch: the metrics are at /metrics\n".to_string(),
            ),
            _ => (
                404,
                TEXT,
                "not found: the metrics are at /metrics\n".to_string(),
            ),
        };
        let mut response = tiny_http::Response::from_string(body).with_status_code(status);
        if let Ok(header) = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type) {
            response.add_header(header);
        }
        // A scraper that hung up is its own business.
        let _ = request.respond(response);
    }
}
