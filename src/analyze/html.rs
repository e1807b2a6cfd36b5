//! `mss analyze --html FILE`: one self-contained page (no network access, works
//! from a file:// URL) for a person: an overview of the captures, their capture
//! points and the findings, a connection table that sorts and filters and draws
//! only the rows in view (fast with 100,000 connections), and per connection a plot
//! of its segment sizes over time (SVG made here, in `svg`).
//!
//! The size is bounded: every connection is a compact row of the table (about 100
//! bytes), but full plots are included for at most `plots` connections: those with
//! findings first, then the others in id order. Each plot holds at most
//! `mss_analyze::series::MAX_POINTS` entries per capture point and direction
//! (beyond, the smallest and largest segment per time bucket). The page says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use mss_analyze::explain::{Explanation, explain};
use mss_analyze::report::{Finding, Role};
use mss_analyze::{ConnectionReport, Summary};

use super::svg::{self, esc};

/// Plots included by default.
pub(crate) const DEFAULT_PLOTS: usize = 200;

/// What the page says about one capture.
pub(crate) struct Capture {
    pub(crate) name: String,
    pub(crate) format: String,
    pub(crate) links: Vec<String>,
    pub(crate) packets: u64,
    /// Its clock's offset from the first capture's, in seconds, if estimated or given.
    pub(crate) clock_offset_s: Option<f64>,
    /// Whether its times were corrected by it.
    pub(crate) clock_corrected: bool,
}

impl Capture {
    pub(crate) fn of(input: &mss_ingest::Input) -> Capture {
        Capture {
            name: input.name.clone(),
            format: input.kind().to_string(),
            links: input.link_types.iter().map(|l| l.name()).collect(),
            packets: input.packets,
            clock_offset_s: input.clock.map(|c| c.offset_ns as f64 / 1e9),
            clock_corrected: input.clock.is_some_and(|c| c.applied),
        }
    }
}

/// Which connections get a full plot: those with findings first, then the others,
/// each in id order, `budget` at most.
pub(crate) fn plotted(reports: &[ConnectionReport], budget: usize) -> Vec<u64> {
    let mut with: Vec<u64> = reports
        .iter()
        .filter(|r| !r.findings.is_empty())
        .map(|r| r.id)
        .collect();
    with.sort_unstable();
    with.truncate(budget);
    let mut without: Vec<u64> = reports
        .iter()
        .filter(|r| r.findings.is_empty())
        .map(|r| r.id)
        .collect();
    without.sort_unstable();
    without.truncate(budget - with.len());
    with.extend(without);
    with.sort_unstable();
    with
}

/// Collects the reports for the page, keeping the time series only of those that
/// may get a plot, so memory stays bounded: the `budget` lowest ids with findings
/// and the `budget` lowest without, whatever order they end in; [`plotted`] picks
/// among them.
pub(crate) struct Keeper {
    budget: usize,
    /// (id, index in `reports`) of the kept series, the highest id on top: with
    /// findings, without.
    kept: [std::collections::BinaryHeap<(u64, usize)>; 2],
    pub(crate) reports: Vec<ConnectionReport>,
}

impl Keeper {
    pub(crate) fn new(budget: usize) -> Keeper {
        Keeper {
            budget,
            kept: Default::default(),
            reports: Vec::new(),
        }
    }

    /// Adds `report`, dropping the series that can no longer be plotted.
    pub(crate) fn push(&mut self, report: ConnectionReport) {
        let heap = &mut self.kept[usize::from(report.findings.is_empty())];
        heap.push((report.id, self.reports.len()));
        self.reports.push(report);
        if heap.len() > self.budget {
            if let Some((_, index)) = heap.pop() {
                if let Some(dropped) = self.reports.get_mut(index) {
                    dropped.segments = Vec::new();
                }
            }
        }
    }
}

/// A JSON string (for the page's data block).
fn json_str(out: &mut String, text: &str) {
    // A string always serializes.
    let quoted = serde_json::to_string(text).unwrap_or_default();
    // Inside <script>: no "</" may appear.
    out.push_str(&quoted.replace("</", "<\\/"));
}

fn json_opt(out: &mut String, value: Option<impl std::fmt::Display>) {
    match value {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("null"),
    }
}

/// The capture points in the order mss inferred (nearest the client first), from
/// the connections seen at several: the most common order of the longest.
fn path_order(reports: &[ConnectionReport], names: &[String]) -> Vec<(usize, String)> {
    let mut orders: BTreeMap<Vec<usize>, u64> = BTreeMap::new();
    for r in reports.iter().filter(|r| r.points.len() > 1) {
        *orders
            .entry(r.points.iter().map(|p| p.point).collect())
            .or_default() += 1;
    }
    let best = orders
        .iter()
        .max_by_key(|(order, n)| (order.len(), **n))
        .map(|(order, _)| order.clone())
        .unwrap_or_default();
    best.iter()
        .map(|&point| {
            let name = reports
                .iter()
                .find_map(|r| {
                    r.points
                        .iter()
                        .any(|p| p.point == point)
                        .then(|| r.point_name(point, names))
                        .flatten()
                })
                .unwrap_or_else(|| format!("point {point}"));
            (point, name)
        })
        .collect()
}

fn rewrites(reports: &[ConnectionReport]) -> Vec<svg::Rewrite> {
    let mut counts: BTreeMap<(Role, u16, u16, usize, usize), u64> = BTreeMap::new();
    for r in reports {
        for f in &r.findings {
            if let Finding::MssRewritten {
                endpoint,
                from,
                to,
                before,
                after,
            } = *f
            {
                *counts
                    .entry((endpoint, from, to, before, after))
                    .or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(
            |((endpoint, from, to, before, after), connections)| svg::Rewrite {
                endpoint,
                from,
                to,
                before,
                after,
                connections,
            },
        )
        .collect()
}

/// Writes the page.
pub(crate) fn write(
    out: &mut impl Write,
    reports: &[ConnectionReport],
    summary: &Summary,
    captures: &[Capture],
    warnings: &[String],
    budget: usize,
) -> io::Result<()> {
    let names: Vec<String> = captures.iter().map(|c| c.name.clone()).collect();
    let plots = plotted(reports, budget);
    let mut order: Vec<&ConnectionReport> = reports.iter().collect();
    order.sort_unstable_by_key(|r| r.id);
    let start_ns = order.iter().map(|r| r.first_ns).min().unwrap_or(0);

    // Findings grouped, each group explained once.
    let mut group_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<(&'static str, Explanation, Vec<u64>)> = Vec::new();
    for r in &order {
        for f in &r.findings {
            let at = *group_index
                .entry(super::human::group_key(f))
                .or_insert_with(|| {
                    groups.push((f.kind(), explain(f, r), Vec::new()));
                    groups.len() - 1
                });
            groups[at].2.push(r.id);
        }
    }

    let mut page = String::with_capacity(64 * 1024 + reports.len() * 160);
    let title = match captures {
        [one] => format!("mss analyze: {}", one.name),
        _ => format!("mss analyze: {} captures", captures.len()),
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );

    // Captures and capture points.
    page.push_str("<section id=\"captures\"><h2>Captures</h2><table class=\"kv\"><tr><th>#</th><th>capture</th><th>format</th><th>link</th><th>packets</th><th>clock</th></tr>");
    for (i, c) in captures.iter().enumerate() {
        let clock = match c.clock_offset_s {
            Some(s) if c.clock_corrected => format!("{s:+.3} s, corrected"),
            Some(s) => format!("{s:+.3} s"),
            None => "-".to_string(),
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(&c.name),
            esc(&c.format),
            esc(&c.links.join(" + ")),
            c.packets,
            esc(&clock)
        );
    }
    page.push_str("</table>");
    let path = path_order(reports, &names);
    if path.len() > 1 {
        let shown: Vec<String> = path.iter().map(|(_, n)| esc(n)).collect();
        let _ = write!(
            page,
            "<p>Path order mss inferred (from the TTLs and the handshake's timing): client &#8594; {} &#8594; server</p><div id=\"path-diagram\">{}</div>",
            shown.join(" &#8594; "),
            svg::path_diagram(&path, &rewrites(reports))
        );
    }
    page.push_str("</section>\n");

    // Totals, the histogram, the findings.
    let complete = reports
        .iter()
        .filter(|r| r.handshake == mss_analyze::report::Handshake::Complete)
        .count();
    let _ = write!(
        page,
        "<section id=\"totals\"><h2>Totals</h2><p>{} connections shown ({} in the captures, {complete} with a complete handshake), {} packets ({} TCP), {} ICMP too-big messages for flows not captured, {} connections evicted to bound memory.</p>",
        reports.len(),
        summary.connections,
        summary.packets,
        summary.tcp_packets,
        summary.unmatched_icmp,
        summary.evicted
    );
    if !summary.syn_mss.is_empty() {
        let _ = write!(
            page,
            "<h3>MSS options in SYNs and SYN-ACKs</h3>{}",
            svg::histogram(&summary.syn_mss)
        );
    }
    page.push_str("</section>\n<section id=\"findings\"><h2>Findings</h2>");
    if groups.is_empty() {
        page.push_str("<p>None.</p>");
    }
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for (kind, _, ids) in &groups {
        *by_kind.entry(kind).or_default() += ids.len() as u64;
    }
    if !by_kind.is_empty() {
        page.push_str("<p class=\"kinds\">");
        for (kind, n) in &by_kind {
            let _ = write!(
                page,
                "<button class=\"kind\" data-kind=\"{kind}\">{kind} <b>{n}</b></button> "
            );
        }
        page.push_str("</p>");
    }
    for (kind, explanation, ids) in &groups {
        let _ = write!(
            page,
            "<div class=\"group\" data-kind=\"{kind}\"><h3>{} <span class=\"count\">({} connection{})</span></h3><p>{}</p>",
            esc(&explanation.title),
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            esc(&explanation.text)
        );
        if let Some(fix) = &explanation.fix {
            let _ = write!(page, "<p><b>Fix:</b> {}</p>", esc(fix));
        }
        let _ = write!(
            page,
            "<p class=\"source\">Source: {}</p><p>",
            esc(explanation.source)
        );
        for id in ids.iter().take(20) {
            let _ = write!(page, "<a href=\"#open:{id}\" data-open=\"{id}\">#{id}</a> ");
        }
        if ids.len() > 20 {
            let _ = write!(page, "and {} more", ids.len() - 20);
        }
        page.push_str("</p></div>");
    }
    if !warnings.is_empty() {
        page.push_str("<h2>Warnings</h2><ul>");
        for w in warnings {
            let _ = write!(page, "<li>{}</li>", esc(w));
        }
        page.push_str("</ul>");
    }
    page.push_str("</section>\n");

    // The table and the connection view.
    let _ = write!(
        page,
        "<section id=\"connections\"><h2>Connections</h2><p class=\"note\">Connections with findings first. Filter by address or port (a number is a port or a connection id; several words must all match), or by finding. Click a row for its plot. This report holds full plots for {} of the {} connections (those with findings first, then in id order, at most {budget}: <code>mss analyze --html FILE --plots N</code> sets it, <code>--connection ID</code> picks one); each plot draws every data segment, or beyond {} per direction and capture point the smallest and largest per time bucket.</p>\
<div class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"address or port\" size=\"30\"> <select id=\"kind\"><option value=\"\">all connections</option><option value=\"*\">with findings</option><option value=\"-\">without findings</option>",
        plots.len(),
        reports.len(),
        mss_analyze::series::MAX_POINTS
    );
    for kind in Finding::KINDS {
        let _ = write!(page, "<option value=\"{kind}\">{kind}</option>");
    }
    page.push_str("</select> <span id=\"shown\"></span></div>\
<div class=\"grid head\" id=\"head\"><span data-col=\"id\">#</span><span data-col=\"client\">client</span><span data-col=\"server\">server</span><span data-col=\"mss\">MSS c/s</span><span data-col=\"eff\">eff c/s</span><span data-col=\"max\">max c/s</span><span data-col=\"start\">start</span><span data-col=\"findings\">findings</span></div>\
<div id=\"viewport\"><div id=\"spacer\"></div><div id=\"rows\"></div></div></section>\n\
<section id=\"detail\" hidden><h2 id=\"detail-title\"></h2><div id=\"detail-body\"></div><div id=\"plot\"></div></section>\n<pre id=\"test-result\" hidden></pre>\n");

    // The data: one compact row per connection.
    page.push_str("<script type=\"application/json\" id=\"data\">{\"kinds\":[");
    for (i, kind) in Finding::KINDS.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        json_str(&mut page, kind);
    }
    page.push_str("],\"groups\":[");
    for (i, (kind, explanation, _)) in groups.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        page.push('[');
        json_str(&mut page, kind);
        page.push(',');
        json_str(&mut page, &explanation.title);
        page.push(']');
    }
    page.push_str("],\"rows\":[");
    let with_plot: std::collections::HashSet<u64> = plots.iter().copied().collect();
    for (i, r) in order.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        row(
            &mut page,
            r,
            start_ns,
            with_plot.contains(&r.id),
            &group_index,
        );
    }
    page.push_str("]}</script>\n");
    // Plots, parsed only when opened.
    for r in order.iter().filter(|r| with_plot.contains(&r.id)) {
        let plot = svg::connection_plot(r, &names);
        let _ = writeln!(page, "<template id=\"plot-{}\">{plot}</template>", r.id);
    }
    let _ = writeln!(page, "<script>{SCRIPT}</script>\n</body></html>");
    out.write_all(page.as_bytes())
}

/// `[id, ip version, client, client port, server, server port, SYN MSS c, s,
/// effective c, s, max c, s, start s, duration s, [[group, finding title]...],
/// plotted, data segments c, s, retransmissions c, s, handshake, ending]`.
fn row(
    page: &mut String,
    r: &ConnectionReport,
    start_ns: u64,
    plotted: bool,
    groups: &BTreeMap<String, usize>,
) {
    let _ = write!(
        page,
        "[{},{},\"{}\",{},\"{}\",{},",
        r.id,
        r.ip_version.number(),
        r.client.addr,
        r.client.port,
        r.server.addr,
        r.server.port
    );
    for v in [r.client.syn_mss.value(), r.server.syn_mss.value()] {
        json_opt(page, v);
        page.push(',');
    }
    for v in [
        r.client.effective_send_mss,
        r.server.effective_send_mss,
        r.client.max_segment,
        r.server.max_segment,
    ] {
        json_opt(page, v);
        page.push(',');
    }
    let _ = write!(
        page,
        "{:.6},{:.6},[",
        r.first_ns.saturating_sub(start_ns) as f64 / 1e9,
        r.last_ns.saturating_sub(r.first_ns) as f64 / 1e9
    );
    for (i, f) in r.findings.iter().enumerate() {
        if i > 0 {
            page.push(',');
        }
        let group = groups
            .get(&super::human::group_key(f))
            .copied()
            .unwrap_or(0);
        let _ = write!(page, "[{group},");
        json_str(page, &explain(f, r).title);
        page.push(']');
    }
    let _ = write!(
        page,
        "],{},{},{},{},{},\"{}\",\"{}\"]",
        u8::from(plotted),
        r.client.data_segments,
        r.server.data_segments,
        r.client.retransmissions,
        r.server.retransmissions,
        r.handshake.name(),
        r.ending.name()
    );
}

const STYLE: &str = r###"
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.4em;border-bottom:1px solid #ddd}h3{font-size:1em;margin-bottom:.2em}
table.kv{border-collapse:collapse}table.kv td,table.kv th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.count{font-weight:normal;color:#666}.source{color:#666;font-size:.9em}.note{color:#555}
.group{border-left:3px solid #c8641e;padding-left:.8em;margin:.8em 0}
button.kind{font:inherit;border:1px solid #bbb;background:#f6f6f6;border-radius:4px;cursor:pointer}
.grid{display:grid;grid-template-columns:5em 15em 15em 7em 7em 9em 6em 1fr;gap:0 .6em;align-items:center;white-space:nowrap}
.grid>span{overflow:hidden;text-overflow:ellipsis}
.head{font-weight:bold;border-bottom:2px solid #888;cursor:pointer;user-select:none}
.head span.sorted::after{content:" \25BE"}.head span.sorted.up::after{content:" \25B4"}
#viewport{max-height:440px;min-height:66px;overflow-y:auto;position:relative;border:1px solid #ddd}
#rows{position:absolute;left:0;right:0;top:0}
.row{height:22px;border-bottom:1px solid #f0f0f0;cursor:pointer}.row:hover{background:#eef4ff}
.row.found{color:#a03000}.row.open{background:#dbe8fb}
.controls{margin:.5em 0}
svg{font-family:system-ui,sans-serif;max-width:100%;height:auto}
#detail table.kv{margin:.5em 0}
"###;

const SCRIPT: &str = r###"
"use strict";
const errors=[];
window.addEventListener("error",e=>errors.push(String(e.message)));
const data=JSON.parse(document.getElementById("data").textContent);
const ROW=22;
const C={id:0,ver:1,ca:2,cp:3,sa:4,sp:5,cm:6,sm:7,ce:8,se:9,cx:10,sx:11,start:12,dur:13,f:14,plot:15,cn:16,sn:17,cr:18,sr:19,hs:20,end:21};
const rows=data.rows;
const byId=new Map(rows.map(r=>[r[C.id],r]));
const kindOf=g=>data.groups[g][0];
let view=rows.slice();
let sortKey="findings",sortUp=false,openId=null;
const ep=(a,p)=>(a.indexOf(":")>=0?"["+a+"]":a)+":"+p;
const pair=(a,b)=>(a==null?"-":a)+"/"+(b==null?"-":b);
const keys={
 id:r=>r[C.id],client:r=>r[C.ca]+":"+r[C.cp],server:r=>r[C.sa]+":"+r[C.sp],
 mss:r=>r[C.cm]==null?-1:r[C.cm],eff:r=>r[C.ce]==null?-1:r[C.ce],
 max:r=>Math.max(r[C.cx]||0,r[C.sx]||0),start:r=>r[C.start],
 findings:r=>r[C.f].length};
function applyView(){
 const q=document.getElementById("filter").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
 const k=document.getElementById("kind").value;
 view=rows.filter(r=>{
  for(const w of q){
   if(/^\d+$/.test(w)){if(String(r[C.cp])!==w&&String(r[C.sp])!==w&&String(r[C.id])!==w)return false;}
   else if((r[C.ca]+" "+r[C.sa]).toLowerCase().indexOf(w)<0&&(ep(r[C.ca],r[C.cp])+" "+ep(r[C.sa],r[C.sp])).toLowerCase().indexOf(w)<0)return false;
  }
  if(k==="*")return r[C.f].length>0;
  if(k==="-")return r[C.f].length===0;
  if(k)return r[C.f].some(f=>kindOf(f[0])===k);
  return true;});
 const key=keys[sortKey],dir=sortUp?1:-1;
 view.sort((a,b)=>{const x=key(a),y=key(b);
  if(x<y)return -dir;if(x>y)return dir;return a[C.id]-b[C.id];});
 if(sortKey==="findings"&&!sortUp){view.sort((a,b)=>(b[C.f].length>0)-(a[C.f].length>0)||a[C.id]-b[C.id]);}
 document.getElementById("spacer").style.height=(view.length*ROW)+"px";
 document.getElementById("viewport").style.height=Math.min(440,view.length*ROW+2)+"px";
 document.getElementById("shown").textContent=view.length+" of "+rows.length+" connections";
 for(const s of document.querySelectorAll("#head span")){
  s.classList.toggle("sorted",s.dataset.col===sortKey);s.classList.toggle("up",sortUp);}
 draw();}
function draw(){
 const vp=document.getElementById("viewport");
 const first=Math.max(0,Math.floor(vp.scrollTop/ROW)-5);
 const last=Math.min(view.length,first+Math.ceil(vp.clientHeight/ROW)+10);
 const box=document.getElementById("rows");
 box.style.top=(first*ROW)+"px";
 const out=[];
 for(let i=first;i<last;i++){const r=view[i];
  const f=r[C.f].map(x=>kindOf(x[0])).join(" ");
  out.push('<div class="grid row'+(r[C.f].length?" found":"")+(r[C.id]===openId?" open":"")+'" data-id="'+r[C.id]+'"><span>'+r[C.id]+"</span><span>"+ep(r[C.ca],r[C.cp])+"</span><span>"+ep(r[C.sa],r[C.sp])+"</span><span>"+pair(r[C.cm],r[C.sm])+"</span><span>"+pair(r[C.ce],r[C.se])+"</span><span>"+pair(r[C.cx],r[C.sx])+"</span><span>"+r[C.start].toFixed(3)+"</span><span>"+f+"</span></div>");}
 box.innerHTML=out.join("");}
function text(s){const d=document.createElement("div");d.textContent=String(s);return d.innerHTML;}
function open(id){
 const r=byId.get(id);if(!r)return false;
 openId=id;
 const sec=document.getElementById("detail");sec.hidden=false;
 document.getElementById("detail-title").textContent="Connection #"+id+": "+ep(r[C.ca],r[C.cp])+" \u2192 "+ep(r[C.sa],r[C.sp]);
 let h='<table class="kv"><tr><th></th><th>client</th><th>server</th></tr>'+
  "<tr><td>SYN MSS</td><td>"+pair(r[C.cm],null).split("/")[0]+"</td><td>"+pair(r[C.sm],null).split("/")[0]+"</td></tr>"+
  "<tr><td>effective send MSS</td><td>"+pair(r[C.ce],null).split("/")[0]+"</td><td>"+pair(r[C.se],null).split("/")[0]+"</td></tr>"+
  "<tr><td>largest segment</td><td>"+pair(r[C.cx],null).split("/")[0]+"</td><td>"+pair(r[C.sx],null).split("/")[0]+"</td></tr>"+
  "<tr><td>data segments</td><td>"+r[C.cn]+"</td><td>"+r[C.sn]+"</td></tr>"+
  "<tr><td>retransmissions</td><td>"+r[C.cr]+"</td><td>"+r[C.sr]+"</td></tr></table>"+
  "<p>IPv"+r[C.ver]+", handshake "+r[C.hs]+", ending "+r[C.end]+", "+r[C.dur].toFixed(6)+" s from "+r[C.start].toFixed(6)+" s</p>";
 if(r[C.f].length){h+="<ul>"+r[C.f].map(f=>"<li><b>"+text(kindOf(f[0]))+"</b>: "+text(f[1])+"</li>").join("")+"</ul><p class=\"note\">The explanations are under Findings above.</p>";}
 document.getElementById("detail-body").innerHTML=h;
 const plot=document.getElementById("plot");plot.textContent="";
 const t=document.getElementById("plot-"+id);
 if(t){plot.appendChild(t.content.cloneNode(true));const s=plot.querySelector("svg.plot");
  if(s){attachZoom(s);const n=document.createElement("p");n.className="note";
   n.textContent="Drag across the plot to see that time range; double-click to see all of it.";plot.appendChild(n);}}
 else{plot.innerHTML='<p class="note">No plot of this connection in this report (plots are included for the connections with findings, then the first in id order). <code>mss analyze --html FILE --connection '+id+"</code> draws it.</p>";}
 draw();
 return true;}
/* Zoom: the marks in time (g.zoomable) are redrawn for the time range t0..t1
   (seconds) and the time axis rebuilt; the marks keep their size. */
function niceStep(span,count){
 const raw=Math.max(span/count,Number.MIN_VALUE),p=Math.pow(10,Math.floor(Math.log10(raw))),f=raw/p;
 return (f<=1?1:f<=2?2:f<=5?5:10)*p;}
function secLabel(s,step){
 if(step<1){let m=step*1000,d=0;while(m<0.999&&d<6){m*=10;d++;}return (s*1000).toFixed(d)+" ms";}
 return s.toFixed(0)+" s";}
function zoom(svgEl,t0,t1){
 const L=+svgEl.dataset.left,W=+svgEl.dataset.plotWidth,span=+svgEl.dataset.span,T=+svgEl.dataset.top,H=+svgEl.dataset.plotHeight;
 t0=Math.max(0,t0);t1=Math.min(span,t1);
 if(!(t1-t0>span*1e-6)){t0=0;t1=span;}
 svgEl.dataset.t0=t0;svgEl.dataset.t1=t1;
 const map=x=>L+((x-L)/W*span-t0)/(t1-t0)*W;
 const g=svgEl.querySelector("g.zoomable");
 for(const p of g.querySelectorAll("path")){
  if(p.dataset.d0===undefined)p.dataset.d0=p.getAttribute("d");
  p.setAttribute("d",p.dataset.d0.replace(/M(-?[\d.]+),/g,(m,x)=>"M"+map(+x).toFixed(1)+","));}
 for(const l of g.querySelectorAll("line")){
  if(l.dataset.x0===undefined)l.dataset.x0=l.getAttribute("x1");
  const v=map(+l.dataset.x0).toFixed(1);l.setAttribute("x1",v);l.setAttribute("x2",v);}
 for(const t of g.querySelectorAll("text[data-at]"))t.setAttribute("x",(map(+t.dataset.at)+(+t.dataset.dx)).toFixed(1));
 const step=niceStep(t1-t0,6),out=[];
 for(let i=Math.ceil(t0/step-1e-9);i*step<=t1*1.0001;i++){const s=i*step,px=(L+(s-t0)/(t1-t0)*W).toFixed(1);
  out.push('<line x1="'+px+'" x2="'+px+'" y1="'+T+'" y2="'+(T+H)+'" stroke="#f0f0f0"/><text x="'+px+'" y="'+(T+H+14)+'" font-size="11" text-anchor="middle">'+secLabel(s,step)+"</text>");}
 svgEl.querySelector("g.xaxis").innerHTML=out.join("");}
function attachZoom(svgEl){
 const L=+svgEl.dataset.left,W=+svgEl.dataset.plotWidth,span=+svgEl.dataset.span,T=+svgEl.dataset.top,H=+svgEl.dataset.plotHeight;
 const toX=e=>{const r=svgEl.getBoundingClientRect();return (e.clientX-r.left)*svgEl.viewBox.baseVal.width/r.width;};
 const clamp=x=>Math.min(Math.max(x,L),L+W);
 const toT=x=>{const t0=+(svgEl.dataset.t0||0),t1=+(svgEl.dataset.t1||span);return t0+(clamp(x)-L)/W*(t1-t0);};
 let start=null,band=null;
 svgEl.addEventListener("mousedown",e=>{const x=toX(e);if(x<L||x>L+W)return;e.preventDefault();start=x;
  band=document.createElementNS("http://www.w3.org/2000/svg","rect");
  for(const [k,v] of [["x",x],["y",T],["width",0],["height",H],["fill","#3060c0"],["fill-opacity","0.15"]])band.setAttribute(k,v);
  svgEl.appendChild(band);});
 svgEl.addEventListener("mousemove",e=>{if(start===null)return;const x=clamp(toX(e));
  band.setAttribute("x",Math.min(start,x));band.setAttribute("width",Math.abs(x-start));});
 const stop=e=>{if(start===null)return;const a=Math.min(start,clamp(toX(e))),b=Math.max(start,clamp(toX(e)));
  band.remove();start=null;if(b-a>4)zoom(svgEl,toT(a),toT(b));};
 svgEl.addEventListener("mouseup",stop);svgEl.addEventListener("mouseleave",stop);
 svgEl.addEventListener("dblclick",()=>zoom(svgEl,0,span));}
document.getElementById("viewport").addEventListener("scroll",draw);
document.getElementById("filter").addEventListener("input",applyView);
document.getElementById("kind").addEventListener("change",applyView);
function sortBy(c){
 if(!keys[c])return;
 if(c===sortKey)sortUp=!sortUp;else{sortKey=c;sortUp=c!=="findings"&&c!=="max";}
 applyView();}
document.getElementById("head").addEventListener("click",e=>{
 const c=e.target.dataset&&e.target.dataset.col;if(c)sortBy(c);});
document.getElementById("rows").addEventListener("click",e=>{
 const d=e.target.closest(".row");if(d){open(Number(d.dataset.id));document.getElementById("detail").scrollIntoView();}});
document.addEventListener("click",e=>{
 const a=e.target.closest("[data-open]");if(a){e.preventDefault();open(Number(a.dataset.open));document.getElementById("detail").scrollIntoView();}
 const b=e.target.closest("button.kind");if(b){document.getElementById("kind").value=b.dataset.kind;applyView();document.getElementById("connections").scrollIntoView();}});
applyView();
/* #open:ID opens a connection; #show:ID opens it at the top of the page (for a
   screenshot); #test=filter:WORDS;kind:KIND;sort:COLUMN;open:ID;zoom:A-B (a
   fraction of the time axis) performs
   those steps and writes what the page then shows into #test-result (for the
   tests in a headless browser). */
function hashActions(){
 const h=decodeURIComponent(location.hash.slice(1));
 if(h.startsWith("open:")){if(open(Number(h.slice(5))))document.getElementById("detail").scrollIntoView();return;}
 if(h.startsWith("show:")){if(open(Number(h.slice(5))))document.querySelector("h1").after(document.getElementById("detail"));return;}
 if(!h.startsWith("test="))return;
 const result={};
 for(const step of h.slice(5).split(";")){
  const i=step.indexOf(":");const what=step.slice(0,i),arg=step.slice(i+1);
  if(what==="filter"){document.getElementById("filter").value=arg;applyView();}
  if(what==="kind"){document.getElementById("kind").value=arg;applyView();}
  if(what==="sort"){sortBy(arg);}
  if(what==="open"){result.opened=open(Number(arg));}
  if(what==="zoom"){const z=document.querySelector("#plot svg.plot");if(z){const [a,b]=arg.split("-").map(Number),sp=+z.dataset.span;zoom(z,a*sp,b*sp);}}}
 result.matching=view.length;
 result.rows_in_dom=document.querySelectorAll("#rows .row").length;
 result.first_ids=view.slice(0,5).map(r=>r[C.id]);
 const svgEl=document.querySelector("#plot svg.plot");
 if(svgEl){
  result.plot={connection:Number(svgEl.dataset.connection),traces:[...svgEl.querySelectorAll("g.trace")].map(g=>({point:Number(g.dataset.point),sender:g.dataset.sender,n:Number(g.dataset.n),drawn:(g.querySelector("path.segments").getAttribute("d").match(/M/g)||[]).length,oversize:Number(g.dataset.oversize),retransmissions:Number(g.dataset.retransmissions),events:Number(g.dataset.events)})),levels:svgEl.querySelectorAll("line.level").length,width:svgEl.getBoundingClientRect().width};
  const L=+svgEl.dataset.left,W=+svgEl.dataset.plotWidth,xs=[...svgEl.querySelectorAll("g.trace path.segments")].flatMap(p=>[...p.getAttribute("d").matchAll(/M(-?[\d.]+),/g)].map(m=>+m[1]));
  result.plot.segments_in_view=xs.filter(x=>x>=L-0.05&&x<=L+W+0.05).length;
  result.plot.ticks=[...svgEl.querySelectorAll("g.xaxis text")].map(t=>t.textContent);}
 result.errors=errors;
 const pre=document.getElementById("test-result");pre.textContent=JSON.stringify(result);pre.hidden=false;}
hashActions();
window.addEventListener("hashchange",hashActions);
"###;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mss_ingest::Input;

    use super::*;

    /// The clamp example's two connections, with their time series.
    fn clamp_reports() -> Vec<ConnectionReport> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut inputs: Vec<Input> = ["examples/clamp-client.pcap", "examples/clamp-server.pcap"]
            .iter()
            .filter_map(|p| Input::open(&root.join(p)).ok())
            .collect();
        super::super::reports_with_segments(&mut inputs)
    }

    #[test]
    fn the_lowest_ids_keep_their_series_whatever_order_they_end_in() {
        let mut reports = clamp_reports();
        assert_eq!(reports.len(), 2);
        assert!(reports.iter().all(|r| !r.segments.is_empty()));
        reports.sort_by_key(|r| std::cmp::Reverse(r.id));
        let mut keeper = Keeper::new(1);
        for report in reports {
            keeper.push(report);
        }
        let by_id = |id: u64| keeper.reports.iter().find(|r| r.id == id);
        assert!(by_id(1).is_some_and(|r| !r.segments.is_empty()));
        assert!(by_id(2).is_some_and(|r| r.segments.is_empty()));
        assert_eq!(plotted(&keeper.reports, 1), vec![1]);
    }

    #[test]
    fn the_page_holds_the_rows_and_the_plots_asked_for() {
        let reports = clamp_reports();
        let mut page = Vec::new();
        let written = write(&mut page, &reports, &Summary::default(), &[], &[], 1);
        assert!(written.is_ok());
        let page = String::from_utf8_lossy(&page);
        assert_eq!(page.matches("<template id=\"plot-").count(), 1);
        assert!(page.contains("<template id=\"plot-1\">"));
        assert!(page.contains("\"rows\":[[1,4,\"10.81.1.1\","));
        // Nothing in the data block ends the script early.
        let data = &page[page.find("id=\"data\">").unwrap_or(0)..];
        let data = &data[..data.find("</script>").unwrap_or(0)];
        assert!(!data.contains("</"));
    }
}
