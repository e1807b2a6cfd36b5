//! The pictures of the HTML report as SVG text: a connection's segment sizes over
//! time, the SYN MSS histogram and the path diagram. Plain string building, no
//! dependency: a plot is a few paths (one `M x,y V y` per segment or time bucket,
//! so a bucket's minimum and maximum are both drawn), lines and labels.

use std::collections::BTreeMap;
use std::fmt::Write;

use mss_analyze::ConnectionReport;
use mss_analyze::report::{Finding, Role};
use mss_analyze::series::{SeriesEvent, Trace};

/// Text escaped for SVG and HTML (element content and quoted attributes).
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" step for about `count` ticks over `span` (1, 2 or 5 times a power of 10).
fn nice_step(span: f64, count: f64) -> f64 {
    let raw = (span / count).max(f64::MIN_POSITIVE);
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A time in seconds for an axis: ms below a second.
fn seconds_label(s: f64, step: f64) -> String {
    if step < 1.0 {
        // As many decimals of a millisecond as the step needs: 0.1 ms, 0.05 ms.
        let (mut step_ms, mut decimals) = (step * 1000.0, 0);
        while step_ms < 0.999 && decimals < 6 {
            step_ms *= 10.0;
            decimals += 1;
        }
        format!("{:.*} ms", decimals, s * 1000.0)
    } else {
        // Steps of a second or more are whole seconds.
        format!("{s:.0} s")
    }
}

/// The plot's frame.
const WIDTH: f64 = 840.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 14.0;
const PLOT_HEIGHT: f64 = 260.0;

/// Where labels already are, so that a new one moves down instead of writing over
/// them (11-pixel text: 12 pixels a line, about 6 a character).
#[derive(Default)]
struct Labels {
    /// (left, right, baseline) of each label placed.
    placed: Vec<(f64, f64, f64)>,
}

impl Labels {
    /// Where `text` goes beside the mark at `at` (baseline `y`): starting `gap`
    /// to its right, or ending `gap` to its left if it would cross `right_edge`,
    /// and moved down past the labels it would overlap. Returns (x, baseline,
    /// text-anchor).
    fn place(
        &mut self,
        (at, gap): (f64, f64),
        y: f64,
        text: &str,
        right_edge: f64,
    ) -> (f64, f64, &'static str) {
        let width = 6.0 * text.chars().count() as f64;
        let (x, left, anchor) = if at + gap + width > right_edge {
            (at - gap, at - gap - width, "end")
        } else {
            (at + gap, at + gap, "start")
        };
        let mut y = y;
        while self
            .placed
            .iter()
            .any(|&(l, r, b)| l < left + width && left < r && (b - y).abs() < 12.0)
        {
            y += 12.0;
        }
        self.placed.push((left, left + width, y));
        (x, y, anchor)
    }
}
const LEGEND_LINE: f64 = 16.0;

/// The colours of the two directions, and lighter ones for further capture points.
fn colour(sender: Role, rank: usize) -> &'static str {
    const CLIENT: [&str; 4] = ["#1f5fbf", "#6a9be0", "#0f8fa0", "#8cc4d0"];
    const SERVER: [&str; 4] = ["#c8641e", "#e8a060", "#a03070", "#d890b8"];
    match sender {
        Role::Client => CLIENT[rank % CLIENT.len()],
        Role::Server => SERVER[rank % SERVER.len()],
    }
}

/// The plot of a connection's segment sizes over time: one trace per capture point
/// and direction, the announced MSS and the effective send MSS of each side as
/// horizontal lines, retransmissions, super-segments and events marked. Each
/// trace's `data-*` attributes say what it draws (segments or buckets,
/// super-segments, retransmission marks, events), for the tests.
pub(super) fn connection_plot(report: &ConnectionReport, names: &[String]) -> String {
    let traces = &report.segments;
    // The time axis ends a little after the last data segment or event, not at the
    // connection's last packet: a connection that idles before it closes would
    // squeeze its segments into the left of the plot.
    let data_end = traces
        .iter()
        .flat_map(|t| {
            t.points
                .iter()
                .map(|p| p.t_ns + t.bucket_ns)
                .chain(t.events.iter().map(SeriesEvent::t_ns))
        })
        .max()
        .filter(|&end| end > 0);
    let span_ns = data_end
        .map_or(report.last_ns.saturating_sub(report.first_ns), |end| {
            end + end / 20
        })
        .max(1_000);
    let span = span_ns as f64 / 1e9;
    let mut levels: Vec<(f64, String, &'static str, &'static str)> = Vec::new();
    for (i, role) in [Role::Client, Role::Server].into_iter().enumerate() {
        let e = report.endpoint(role);
        // The option as each capture point saw it: a clamp between two shows as
        // two lines.
        let mut seen: Vec<(u16, usize)> = Vec::new();
        for p in &report.points {
            if let Some(v) = p.syn_mss[i].value() {
                if !seen.iter().any(|&(s, _)| s == v) {
                    seen.push((v, p.point));
                }
            }
        }
        if seen.len() > 1 {
            for (v, point) in seen {
                let at = report.point_name(point, names).unwrap_or_default();
                let at = at.rsplit('/').next().unwrap_or(&at).to_string();
                levels.push((
                    f64::from(v),
                    format!("{} MSS {v} at {at}", role.name()),
                    colour(role, 0),
                    "6 4",
                ));
            }
        } else if let Some(v) = e.syn_mss.value() {
            levels.push((
                f64::from(v),
                format!("{} MSS {v}", role.name()),
                colour(role, 0),
                "6 4",
            ));
        }
        if let Some(v) = e.effective_send_mss {
            levels.push((
                f64::from(v),
                format!("{} sends {v}", role.name()),
                colour(role, 0),
                "",
            ));
        }
    }
    let blackholes: Vec<(Role, u32, u32)> = report
        .findings
        .iter()
        .filter_map(|f| match *f {
            Finding::PmtudBlackholeSuspected {
                endpoint,
                segment,
                transmissions,
                ..
            } => Some((endpoint, segment, transmissions)),
            _ => None,
        })
        .collect();
    let top = traces
        .iter()
        .flat_map(|t| t.points.iter().map(|p| f64::from(p.max)))
        .chain(levels.iter().map(|l| l.0))
        .chain(blackholes.iter().map(|b| f64::from(b.1)))
        .fold(100.0f64, f64::max)
        * 1.08;
    let x = |t_ns: u64| LEFT + (t_ns as f64 / 1e9) / span * (WIDTH - LEFT - RIGHT);
    let y = |bytes: f64| TOP + PLOT_HEIGHT - bytes / top * PLOT_HEIGHT;
    let legend_top = TOP + PLOT_HEIGHT + 50.0;
    let oversize: u64 = traces
        .iter()
        .flat_map(|t| &t.points)
        .map(|p| u64::from(p.oversize))
        .sum();
    let retransmissions: u64 = traces
        .iter()
        .flat_map(|t| &t.points)
        .map(|p| u64::from(p.retransmissions))
        .sum();
    let marks = usize::from(oversize > 0) + usize::from(retransmissions > 0);
    let height = legend_top + LEGEND_LINE * (traces.len().max(1) + marks) as f64 + 6.0;
    let mut svg = String::with_capacity(4096 + traces.len() * 16 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" data-connection="{}" data-traces="{}" data-left="{LEFT}" data-top="{TOP}" data-plot-width="{:.1}" data-plot-height="{PLOT_HEIGHT}" data-span="{span}" role="img"><title>Segment sizes of connection #{} over time</title><defs><clipPath id="plot-area-{}"><rect x="{LEFT}" y="0" width="{:.1}" height="{:.1}"/></clipPath></defs>"#,
        report.id,
        traces.len(),
        WIDTH - LEFT - RIGHT,
        report.id,
        report.id,
        WIDTH - LEFT - RIGHT,
        TOP + PLOT_HEIGHT + 1.0,
    );
    // Axes and grid.
    let y_step = nice_step(top, 5.0);
    let mut v = 0.0;
    while v <= top {
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{v}</text>"##,
            WIDTH - RIGHT,
            y(v),
            y(v),
            LEFT - 4.0,
            y(v) + 4.0
        );
        v += y_step;
    }
    // The time axis, redrawn by the page when the plot is zoomed.
    svg.push_str(r#"<g class="xaxis">"#);
    let x_step = nice_step(span, 6.0);
    let mut tick = 0u32;
    loop {
        let s = f64::from(tick) * x_step;
        if s > span * 1.0001 {
            break;
        }
        tick += 1;
        let px = LEFT + s / span * (WIDTH - LEFT - RIGHT);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{:.1}" stroke="#f0f0f0"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            TOP + PLOT_HEIGHT,
            TOP + PLOT_HEIGHT + 14.0,
            seconds_label(s, x_step)
        );
    }
    svg.push_str("</g>");
    let _ = write!(
        svg,
        r##"<text x="12" y="{:.1}" font-size="11" transform="rotate(-90 12 {:.1})" text-anchor="middle">TCP payload (bytes)</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">time since the first packet</text><rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{PLOT_HEIGHT}" fill="none" stroke="#888"/>"##,
        TOP + PLOT_HEIGHT / 2.0,
        TOP + PLOT_HEIGHT / 2.0,
        (LEFT + WIDTH - RIGHT) / 2.0,
        TOP + PLOT_HEIGHT + 30.0,
        WIDTH - LEFT - RIGHT
    );
    // MSS levels, labelled at the right; labels that would overlap move down.
    let mut labels = Labels::default();
    let mut sorted = levels.clone();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (value, label, stroke, dash) in &sorted {
        let ly = y(*value);
        let (text_x, text_y, _) = labels.place((WIDTH - RIGHT, 4.0), ly + 4.0, label, f64::MAX);
        let _ = write!(
            svg,
            r#"<line class="level" x1="{LEFT}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{stroke}" stroke-width="1" stroke-dasharray="{dash}"/><text x="{text_x:.1}" y="{text_y:.1}" font-size="11" fill="{stroke}">{}</text>"#,
            WIDTH - RIGHT,
            esc(label)
        );
    }
    for (role, segment, transmissions) in &blackholes {
        let ly = y(f64::from(*segment));
        let _ = write!(
            svg,
            r##"<line class="blackhole" x1="{LEFT}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="#d00" stroke-width="3" stroke-opacity="0.35"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#d00">black hole? {} sent {segment} x{transmissions}</text>"##,
            WIDTH - RIGHT,
            LEFT + 6.0,
            ly - 5.0,
            role.name()
        );
    }
    // The traces: the client's direction at each point, then the server's.
    let mut ranks: BTreeMap<Role, usize> = BTreeMap::new();
    // An event seen at several points (or repeated) is labelled once.
    let mut labelled = std::collections::BTreeSet::new();
    // The marks in time go in a group clipped to the plot area, which the page
    // redraws at another time range when the plot is zoomed; the legend after it.
    let mut legend = String::new();
    let _ = write!(
        svg,
        r#"<g class="zoomable" clip-path="url(#plot-area-{})">"#,
        report.id
    );
    for (i, trace) in traces.iter().enumerate() {
        let rank = ranks.entry(trace.sender).or_default();
        let stroke = colour(trace.sender, *rank);
        *rank += 1;
        draw_trace(
            &mut svg,
            trace,
            stroke,
            (&x, &y),
            (&mut labelled, &mut labels),
        );
        let ly = legend_top + LEGEND_LINE * i as f64;
        let segments: u64 = trace.points.iter().map(|p| u64::from(p.count)).sum();
        let at = report
            .point_name(trace.point, names)
            .unwrap_or_else(|| format!("point {}", trace.point));
        let how = if trace.bucket_ns > 0 {
            format!(
                ", smallest and largest per {} bucket",
                seconds_label(trace.bucket_ns as f64 / 1e9, trace.bucket_ns as f64 / 1e10)
            )
        } else {
            String::new()
        };
        let _ = write!(
            legend,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="4"/><text x="{:.1}" y="{:.1}" font-size="11">{} sent {segments} data segments, captured at {}{how}</text>"#,
            LEFT + 18.0,
            ly - 4.0,
            ly - 4.0,
            LEFT + 24.0,
            ly,
            trace.sender.name(),
            esc(&at)
        );
    }
    svg.push_str("</g>");
    svg.push_str(&legend);
    let mut line = traces.len();
    if oversize > 0 {
        let ly = legend_top + LEGEND_LINE * line as f64;
        line += 1;
        let _ = write!(
            svg,
            r##"<path d="M{:.1},{:.1}v0" stroke="#7a0080" stroke-width="8" stroke-linecap="square" stroke-opacity="0.55"/><text x="{:.1}" y="{ly:.1}" font-size="11">{oversize} super-segments larger than the send MSS (TSO/GSO at the sender, GRO/LRO at the receiver, or a violation: see the findings)</text>"##,
            LEFT + 9.0,
            ly - 4.0,
            LEFT + 24.0
        );
    }
    if retransmissions > 0 {
        let ly = legend_top + LEGEND_LINE * line as f64;
        let _ = write!(
            svg,
            r##"<path d="M{:.1},{:.1}l6,6m0,-6l-6,6" stroke="#d00" stroke-width="1.5" fill="none"/><text x="{:.1}" y="{ly:.1}" font-size="11">{retransmissions} retransmissions (each capture point's counted)</text>"##,
            LEFT + 6.0,
            ly - 7.0,
            LEFT + 24.0
        );
    }
    if traces.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle">no data segments captured</text>"#,
            (LEFT + WIDTH - RIGHT) / 2.0,
            TOP + PLOT_HEIGHT / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One trace: its segments (or buckets) as vertical strokes from the smallest to
/// the largest payload (a dot for one segment), super-segments and retransmissions
/// marked on top, events as labelled marks.
fn draw_trace(
    svg: &mut String,
    trace: &Trace,
    stroke: &str,
    (x, y): (&impl Fn(u64) -> f64, &impl Fn(f64) -> f64),
    (labelled, labels): (
        &mut std::collections::BTreeSet<(bool, u32, u32)>,
        &mut Labels,
    ),
) {
    let mut segments = String::with_capacity(trace.points.len() * 18);
    let mut oversize = String::new();
    let mut retransmitted = String::new();
    let (mut n_over, mut n_retrans) = (0, 0);
    for p in &trace.points {
        let px = x(p.t_ns);
        let _ = write!(
            segments,
            "M{px:.1},{:.1}V{:.1}",
            y(f64::from(p.min)),
            y(f64::from(p.max))
        );
        if p.oversize > 0 {
            n_over += 1;
            let _ = write!(oversize, "M{px:.1},{:.1}v0", y(f64::from(p.max)));
        }
        if p.retransmissions > 0 {
            n_retrans += 1;
            let py = y(f64::from(p.max));
            // Anchored at the point itself (the page moves each M when zooming).
            let _ = write!(retransmitted, "M{px:.1},{py:.1}m-3,-3l6,6m0,-6l-6,6");
        }
    }
    let _ = write!(
        svg,
        r#"<g class="trace" data-point="{}" data-sender="{}" data-n="{}" data-oversize="{n_over}" data-retransmissions="{n_retrans}" data-events="{}"><path class="segments" d="{segments}" stroke="{stroke}" stroke-width="3" stroke-linecap="round" fill="none"/>"#,
        trace.point,
        trace.sender.name(),
        trace.points.len(),
        trace.events.len()
    );
    if !oversize.is_empty() {
        let _ = write!(
            svg,
            r##"<path class="oversize" d="{oversize}" stroke="#7a0080" stroke-width="8" stroke-linecap="square" stroke-opacity="0.55" fill="none"><title>super-segments: larger than the send MSS (TSO/GSO at the sender, GRO/LRO at the receiver; see the findings)</title></path>"##
        );
    }
    if !retransmitted.is_empty() {
        let _ = write!(
            svg,
            r##"<path class="retransmission" d="{retransmitted}" stroke="#d00" stroke-width="1.5" fill="none"><title>retransmission</title></path>"##
        );
    }
    for event in &trace.events {
        let px = x(event.t_ns());
        match *event {
            SeriesEvent::IcmpTooBig { mtu, size, .. } => {
                let label = if labelled.insert((true, mtu, size)) {
                    let text = format!("ICMP too big: MTU {mtu} ({size} sent)");
                    let (tx, ty, anchor) =
                        labels.place((px, 3.0), TOP + 12.0, &text, WIDTH - RIGHT);
                    format!(
                        r##"<text x="{tx:.1}" y="{ty:.1}" data-at="{px:.1}" data-dx="{:.1}" font-size="11" fill="#d00" text-anchor="{anchor}">{text}</text>"##,
                        tx - px
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    svg,
                    r##"<g class="event icmp"><line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{:.1}" stroke="#d00" stroke-dasharray="3 3"/>{label}</g>"##,
                    TOP + PLOT_HEIGHT,
                );
            }
            SeriesEvent::SizeStep { from, to, .. } => {
                let py = y(f64::from(to));
                let label = if labelled.insert((false, from, to)) {
                    let text = format!("{from} \u{2192} {to}");
                    let (tx, ty, anchor) = labels.place((px, 6.0), py - 8.0, &text, WIDTH - RIGHT);
                    format!(
                        r##"<text x="{tx:.1}" y="{ty:.1}" data-at="{px:.1}" data-dx="{:.1}" font-size="11" fill="{stroke}" text-anchor="{anchor}">{text}</text>"##,
                        tx - px
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    svg,
                    r##"<g class="event step"><path d="M{:.1},{:.1}l5,-9h-10z" fill="{stroke}"/>{label}</g>"##,
                    px,
                    py - 4.0,
                );
            }
        }
    }
    svg.push_str("</g>");
}

/// The SYN MSS values of the capture as a histogram (the most common values, in
/// value order).
pub(super) fn histogram(values: &BTreeMap<u16, u64>) -> String {
    const MOST: usize = 24;
    let mut common: Vec<(u16, u64)> = values.iter().map(|(&v, &n)| (v, n)).collect();
    common.sort_by_key(|&(v, n)| (std::cmp::Reverse(n), v));
    let rest: u64 = common.iter().skip(MOST).map(|&(_, n)| n).sum();
    common.truncate(MOST);
    common.sort_by_key(|&(v, _)| v);
    let most = common.iter().map(|&(_, n)| n).max().unwrap_or(1).max(1) as f64;
    let bar = 30.0;
    let width = 40.0 + bar * common.len().max(1) as f64;
    let height = 170.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="histogram" viewBox="0 0 {width} {height}" width="{width}" height="{height}" data-bars="{}" role="img"><title>MSS options in SYNs and SYN-ACKs</title>"#,
        common.len()
    );
    for (i, (value, count)) in common.iter().enumerate() {
        let h = (*count as f64 / most * 110.0).max(1.0);
        let bx = 20.0 + bar * i as f64;
        let _ = write!(
            svg,
            r##"<g class="bar"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#1f5fbf"><title>MSS {value}: {count} SYNs</title></rect><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{count}</text><text x="{:.1}" y="150" font-size="10" text-anchor="middle">{value}</text></g>"##,
            bx + 3.0,
            130.0 - h,
            bar - 6.0,
            bx + bar / 2.0,
            126.0 - h,
            bx + bar / 2.0,
        );
    }
    if rest > 0 {
        let _ = write!(
            svg,
            r#"<text x="20" y="166" font-size="10">and {rest} SYNs with other values</text>"#
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A rewrite of the MSS option seen between two capture points.
pub(super) struct Rewrite {
    pub(super) endpoint: Role,
    pub(super) from: u16,
    pub(super) to: u16,
    pub(super) before: usize,
    pub(super) after: usize,
    pub(super) connections: u64,
}

/// The path: client, the capture points in the order inferred, server; each
/// rewrite drawn between the points where it happened.
pub(super) fn path_diagram(order: &[(usize, String)], rewrites: &[Rewrite]) -> String {
    let boxes = order.len() + 2;
    let step = 180.0;
    let width = 20.0 + step * boxes as f64;
    let height = 90.0 + 16.0 * rewrites.len() as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="path" viewBox="0 0 {width} {height}" width="{width}" height="{height}" data-points="{}" data-rewrites="{}" role="img"><title>Capture points in path order</title>"#,
        order.len(),
        rewrites.len()
    );
    let centre = |i: usize| 20.0 + step * i as f64 + 70.0;
    let _ = write!(
        svg,
        r##"<line x1="{:.1}" x2="{:.1}" y1="30" y2="30" stroke="#555" stroke-width="2"/>"##,
        centre(0),
        centre(boxes - 1)
    );
    let labels = std::iter::once("client".to_string())
        .chain(order.iter().map(|(_, name)| name.clone()))
        .chain(std::iter::once("server".to_string()));
    for (i, label) in labels.enumerate() {
        let end = i == 0 || i == boxes - 1;
        let fill = if end { "#eee" } else { "#dbe8fb" };
        // A capture's file name without its directory; long ones cut.
        let base = label.rsplit('/').next().unwrap_or(&label);
        let shown: String = base.chars().take(22).collect();
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="14" width="140" height="32" rx="5" fill="{fill}" stroke="#555"/><text x="{:.1}" y="34" font-size="11" text-anchor="middle">{}</text>"##,
            centre(i) - 70.0,
            centre(i),
            esc(&shown)
        );
    }
    let slot = |point: usize| order.iter().position(|(p, _)| *p == point).map(|i| i + 1);
    for (i, r) in rewrites.iter().enumerate() {
        let (Some(a), Some(b)) = (slot(r.before), slot(r.after)) else {
            continue;
        };
        let mid = (centre(a) + centre(b)) / 2.0;
        let ry = 66.0 + 16.0 * i as f64;
        let syn = if r.endpoint == Role::Client {
            "SYN"
        } else {
            "SYN-ACK"
        };
        let _ = write!(
            svg,
            r##"<g class="rewrite"><path d="M{mid:.1},48V{:.1}" stroke="#d00"/><text x="{:.1}" y="{ry:.1}" font-size="11" fill="#d00">{syn} MSS {} &#8594; {} ({} conn.)</text></g>"##,
            ry - 4.0,
            mid + 4.0,
            r.from,
            r.to,
            r.connections
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice() {
        assert!((nice_step(1460.0, 5.0) - 500.0).abs() < 1e-9);
        assert!((nice_step(0.0123, 6.0) - 0.005).abs() < 1e-12);
        assert!((nice_step(10.0, 5.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn labels_do_not_write_over_each_other_or_past_the_plot() {
        let mut labels = Labels::default();
        // A level label, then a step label at the plot's right edge: it ends left
        // of its mark.
        assert_eq!(
            labels.place((100.0, 4.0), 50.0, "client MSS 1460", f64::MAX),
            (104.0, 50.0, "start")
        );
        assert_eq!(
            labels.place((600.0, 6.0), 50.0, "1448 -> 1024", 610.0),
            (594.0, 50.0, "end")
        );
        // Two labels at the same spot: the second moves down a line.
        let (_, first, _) = labels.place((300.0, 6.0), 80.0, "1024 -> 1236", 610.0);
        let (_, second, _) = labels.place((300.0, 6.0), 80.0, "1236 -> 1342", 610.0);
        assert_eq!((first, second), (80.0, 92.0));
        // Beside each other horizontally: no move.
        assert_eq!(labels.place((10.0, 0.0), 80.0, "ab", 610.0).1, 80.0);
    }

    #[test]
    fn time_labels_have_the_decimals_their_step_needs() {
        assert_eq!(seconds_label(0.0001, 0.0001), "0.1 ms");
        assert_eq!(seconds_label(0.00015, 0.00005), "0.15 ms");
        assert_eq!(seconds_label(0.0, 0.0001), "0.0 ms");
        assert_eq!(seconds_label(0.02, 0.01), "20 ms");
        assert_eq!(seconds_label(4.0, 2.0), "4 s");
        // A 34 µs bucket keeps its digits.
        assert_eq!(seconds_label(0.000034, 0.0000034), "0.034 ms");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a&\"b'>"), "&lt;a&amp;&quot;b&#39;&gt;");
    }
}
